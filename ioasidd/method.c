/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Layer: below the method tables (method-*.c) and the server, above nothing of the daemon
 * but refusal.c: parameter specs, Reply and the json-c helpers replies are built with. See
 * method.h.
 */
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/util.h"
#include "ioasidd/method.h"

static bool spec_names(const ParamSpec *spec, size_t n, const char *key) {
	for (size_t i = 0; i < n; i++)
		if (streq(spec[i].name, key))
			return true;
	return false;
}

/* One member against its spec entry: 0, or -EINVAL (refused by name). */
static int param_one(const ParamSpec *s, const DocNode *v, void *out, Refusal *rf) {
	char *at = (char *)out + s->offset;
	switch (s->type) {
	case PARAM_STRING: {
		const char *str = doc_str(v);
		if (!str ||
		    (s->max > 0 && (v->str.len < (size_t)s->min || v->str.len > (size_t)s->max)))
			return refusal_invalid(rf, s->name);
		*(const char **)at = str;
		break;
	}
	case PARAM_INT:
		if (doc_type(v) != DOC_INT || v->i < s->min || v->i > s->max)
			return refusal_invalid(rf, s->name);
		*(int64_t *)at = v->i;
		break;
	case PARAM_BOOL:
		if (doc_type(v) != DOC_BOOL)
			return refusal_invalid(rf, s->name);
		*(bool *)at = v->b;
		break;
	case PARAM_ENUM: {
		int e = doc_str(v) ? s->from_string(doc_str(v)) : -EINVAL;
		if (e < 0)
			return refusal_invalid(rf, s->name);
		*(int *)at = e;
		break;
	}
	case PARAM_LIST: {
		ParamList *l = (ParamList *)at;
		size_t n = doc_type(v) == DOC_ARRAY ? doc_len(v) : 0;
		if (doc_type(v) != DOC_ARRAY || (int64_t)n < s->min || (int64_t)n > s->max ||
		    n > PARAM_LIST_MAX)
			return refusal_invalid(rf, s->name);
		for (size_t i = 0; i < n; i++)
			if (!(l->items[i] = doc_str(doc_at(v, i))))
				return refusal_invalid(rf, s->name);
		l->n = n;
		break;
	}
	}
	if (s->present_offset)
		*(bool *)((char *)out + s->present_offset) = true;
	return 0;
}

int method_params_parse(const ParamSpec *spec, size_t n, const DocNode *params, void *out,
			Refusal *rf) {
	for (size_t i = 0; i < params->c.n; i++)
		if (!spec_names(spec, n, params->c.keys[i]))
			return refusal_invalid(rf, params->c.keys[i]);
	for (size_t i = 0; i < n; i++) {
		const DocNode *v = doc_get(params, spec[i].name);
		if (!v) { /* absent or null */
			if (spec[i].required)
				return refusal_invalid(rf, spec[i].name);
			continue;
		}
		int r = param_one(&spec[i], v, out, rf);
		if (r < 0)
			return r;
	}
	return 0;
}

void reply_done(Reply *r) {
	json_object_put(r->params);
	*r = (Reply){ 0 };
}

int reply_ok(Reply *r, json_object *params) {
	reply_done(r);
	r->params = params;
	return 0;
}

int reply_refusal(Reply *r, const Refusal *rf) {
	reply_done(r);
	if (rf->oom || !rf->error) {
		Refusal nomem = { 0 };
		refusal_system(&nomem, -ENOMEM, "reply", NULL);
		int k = nomem.oom ? -ENOMEM : reply_refusal(r, &nomem);
		refusal_done(&nomem);
		return k;
	}
	json_object *p = json_object_new_object();
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < rf->n_fields; i++) {
		const RefusalField *f = &rf->fields[i];
		json_object *v = NULL;
		switch (f->type) {
		case REFUSAL_STRING:
			v = json_object_new_string(f->s);
			break;
		case REFUSAL_INT:
			v = json_object_new_int64(f->i);
			break;
		case REFUSAL_NULL:
			break;
		case REFUSAL_STRV:
			v = json_strv(f->strv);
			break;
		}
		json_add(p, f->key, v);
	}
	r->error = rf->error;
	r->params = p;
	return 0;
}

int reply_error(Reply *r, const char *error, const char *key, const char *value) {
	reply_done(r);
	json_object *p = json_object_new_object();
	if (!p)
		return -ENOMEM;
	if (key)
		json_add_str(p, key, value);
	r->error = error;
	r->params = p;
	return 0;
}
