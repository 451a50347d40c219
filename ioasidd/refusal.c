/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Layer: a leaf of the daemon (used by broker, context, stage, dependents and the method
 * layer; uses only common/). See refusal.h.
 */
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/util.h"
#include "ioasidd/refusal.h"

void refusal_done(Refusal *rf) {
	for (size_t i = 0; i < rf->n_fields; i++) {
		free(rf->fields[i].s);
		strv_free(rf->fields[i].strv);
	}
	*rf = (Refusal){ 0 };
}

void refusal_set(Refusal *rf, const char *error) {
	refusal_done(rf);
	rf->error = error;
}

static RefusalField *field_add(Refusal *rf, const char *key, RefusalType type) {
	if (rf->n_fields >= REFUSAL_MAX_FIELDS) {
		rf->oom = true; /* a programming error: more fields than any IDL error has */
		return NULL;
	}
	RefusalField *f = &rf->fields[rf->n_fields++];
	*f = (RefusalField){ .key = key, .type = type };
	return f;
}

void refusal_str(Refusal *rf, const char *key, const char *v) {
	RefusalField *f = field_add(rf, key, v ? REFUSAL_STRING : REFUSAL_NULL);
	if (f && v && !(f->s = strdup(v)))
		rf->oom = true;
}

void refusal_int(Refusal *rf, const char *key, int64_t v) {
	RefusalField *f = field_add(rf, key, REFUSAL_INT);
	if (f)
		f->i = v;
}

void refusal_null(Refusal *rf, const char *key) {
	(void)field_add(rf, key, REFUSAL_NULL);
}

void refusal_strv(Refusal *rf, const char *key, char **strv) {
	RefusalField *f = field_add(rf, key, REFUSAL_STRV);
	if (f)
		f->strv = strv;
	else
		strv_free(strv);
}

const RefusalField *refusal_get(const Refusal *rf, const char *key) {
	for (size_t i = 0; i < rf->n_fields; i++)
		if (streq(rf->fields[i].key, key))
			return &rf->fields[i];
	return NULL;
}

int refusal_invalid(Refusal *rf, const char *parameter) {
	refusal_set(rf, VARLINK_ERROR_INVALID_PARAMETER);
	refusal_str(rf, "parameter", parameter);
	return -EINVAL;
}

int refusal_system(Refusal *rf, int err, const char *operation, const char *device) {
	err = -abs(err);
	refusal_set(rf, IOASID_ERROR_SYSTEM);
	refusal_int(rf, "errno", -err);
	refusal_str(rf, "errnoName", strna(errno_name(err)));
	refusal_str(rf, "operation", operation);
	refusal_str(rf, "device", device);
	return err;
}

const char *refusal_summary(const Refusal *rf, char *buf, size_t size, const char **ret_device) {
	const RefusalField *dev = refusal_get(rf, "device");
	*ret_device = dev && dev->type == REFUSAL_STRING ? dev->s : NULL;
	buf[0] = '\0';
	const RefusalField *reason = refusal_get(rf, "reason");
	if (reason && reason->type == REFUSAL_STRING) {
		snprintf(buf, size, "%s", reason->s);
		return buf;
	}
	size_t j = 0;
	for (size_t i = 0; i < rf->n_fields && j < size; i++) {
		const RefusalField *f = &rf->fields[i];
		char num[32];
		const char *v = NULL;
		if (f->type == REFUSAL_STRING)
			v = f->s;
		else if (f->type == REFUSAL_INT) {
			snprintf(num, sizeof(num), "%lld", (long long)f->i);
			v = num;
		} else if (f->type == REFUSAL_STRV)
			v = f->strv ? f->strv[0] : NULL;
		if (!v)
			continue;
		j += (size_t)snprintf(buf + j, size - j, "%s%s %s", j ? ", " : "", f->key, v);
	}
	return buf;
}
