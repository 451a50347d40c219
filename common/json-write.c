/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A json-c tree written straight to a FILE, byte for byte what
 * json_object_to_json_string_ext() produces for the same flags, without building the whole
 * text in a printbuf first. For `ioasidctl groups --json` on 4096 devices (4.4 MB of text)
 * json-c's printer grew one buffer by doubling and formatted every key, indent and number
 * through its generic append paths; this writer fills a fixed 64 KiB buffer and hands it to
 * stdio.
 *
 * The unit tests compare both printers on the same trees (tests/unit/test-json-write.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/doc.h"
#include "common/json-write.h"

#define JW_BUF (64 * 1024)

/* Object keys of a DocNode tree are a few literals repeated at every object: their length
 * and plainness are looked up once per pointer. */
#define JW_KEYS 256

typedef struct JwKey {
	const char *key;
	size_t len;
	bool plain;
} JwKey;

/*
 * Two modes. FILE: buf is a fixed JW_BUF buffer handed to stdio when full, and keys caches
 * key lengths. Memory (f NULL, for a Varlink message of a few hundred bytes): buf is the
 * text itself, grown as needed, and no cache (a 64 KiB buffer and a key table set up per
 * message cost more than the message).
 */
typedef struct Writer {
	FILE *f;
	int flags;
	bool failed;
	char *buf;
	size_t n, cap;
	JwKey *keys; /* JW_KEYS entries in FILE mode, NULL in memory mode */
} Writer;

static void jw_flush(Writer *w) {
	if (!w->f)
		return; /* memory mode: the buffer is the result */
	if (w->n > 0 && !w->failed && fwrite(w->buf, 1, w->n, w->f) != w->n)
		w->failed = true;
	w->n = 0;
}

/* Room for len more bytes at buf + n: FILE mode flushes, memory mode grows (keeping one
 * byte for the final NUL). False when there is none: FILE mode with len above the buffer,
 * or memory mode out of memory (w->failed). */
static bool jw_make_room(Writer *w, size_t len) {
	if (w->f) {
		if (len > w->cap - w->n)
			jw_flush(w);
		return len <= w->cap;
	}
	size_t need = w->n + len + 1;
	if (need <= w->cap)
		return true;
	size_t cap = MAX(w->cap * 2, need);
	char *b = w->failed ? NULL : realloc(w->buf, cap);
	if (!b) {
		w->failed = true;
		return false;
	}
	w->buf = b;
	w->cap = cap;
	return true;
}

static void jw_put_slow(Writer *w, const char *s, size_t len) {
	if (jw_make_room(w, len)) {
		memcpy(w->buf + w->n, s, len);
		w->n += len;
	} else if (w->f && !w->failed && fwrite(s, 1, len, w->f) != len)
		w->failed = true; /* FILE mode, larger than the buffer: straight through */
}

static inline void jw_put(Writer *w, const char *s, size_t len) {
	if (len >= w->cap - w->n) { /* >=: memory mode keeps a byte for the NUL */
		jw_put_slow(w, s, len);
		return;
	}
	memcpy(w->buf + w->n, s, len);
	w->n += len;
}

#define jw_lit(w, s) jw_put(w, s, sizeof(s) - 1)

static void jw_indent(Writer *w, int level) {
	static const char spaces[] =
		"                                                                ";
	static const char tabs[] = "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t";
	if (!(w->flags & JSON_C_TO_STRING_PRETTY))
		return;
	bool tab = w->flags & JSON_C_TO_STRING_PRETTY_TAB;
	const char *fill = tab ? tabs : spaces;
	size_t per = tab ? 1 : 2, max = (tab ? sizeof(tabs) : sizeof(spaces)) - 1;
	size_t n = (size_t)level * per;
	for (; n > max; n -= max)
		jw_put(w, fill, max);
	jw_put(w, fill, n);
}

/* Bytes json_escape_str() rewrites: control characters, '"', '\\' and '/', the last one
 * unless NOSLASHESCAPE (then jw_special_noslash applies). */
static const bool jw_special[256] = {
	[0x00 ... 0x1f] = true,
	['"'] = true,
	['\\'] = true,
	['/'] = true,
};
static const bool jw_special_noslash[256] = {
	[0x00 ... 0x1f] = true,
	['"'] = true,
	['\\'] = true,
};

/* json-c's json_escape_str(): the short escapes, \u00XX (lower case) for other control
 * characters, '/' unless NOSLASHESCAPE; everything else, UTF-8 included, as is. */
static void jw_string(Writer *w, const char *s, size_t len) {
	static const char hex[] = "0123456789abcdef";
	const bool *special = (w->flags & JSON_C_TO_STRING_NOSLASHESCAPE) ? jw_special_noslash
									  : jw_special;
	const unsigned char *u8 = (const unsigned char *)s;
	size_t start = 0, i = 0;
	jw_lit(w, "\"");
	for (;;) {
		/* Plain bytes, four per test: most strings (3.9 MB of text for `groups --json` on
		 * 4096 devices) have nothing to escape. */
		while (i + 4 <= len && !(special[u8[i]] | special[u8[i + 1]] | special[u8[i + 2]] |
					 special[u8[i + 3]]))
			i += 4;
		while (i < len && !special[u8[i]])
			i++;
		if (i >= len)
			break;
		unsigned char c = u8[i];
		const char *esc;
		char u[7];
		switch (c) {
		case '\b':
			esc = "\\b";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\f':
			esc = "\\f";
			break;
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '/':
			esc = "\\/";
			break;
		default:
			memcpy(u, "\\u00", 4);
			u[4] = hex[c >> 4];
			u[5] = hex[c & 0xf];
			u[6] = '\0';
			esc = u;
		}
		jw_put(w, s + start, i - start);
		jw_put(w, esc, strlen(esc));
		start = ++i;
	}
	jw_put(w, s + start, len - start);
	jw_lit(w, "\"");
}

/* An int64 in decimal, as json-c prints it ("%" PRId64), without printf. */
static void jw_int(Writer *w, int64_t v) {
	char num[24];
	size_t k = sizeof(num);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	do {
		num[--k] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		num[--k] = '-';
	jw_put(w, num + k, sizeof(num) - k);
}

static void jw_value(Writer *w, json_object *o, int level) {
	char num[24];
	int k;

	switch (json_object_get_type(o)) {
	case json_type_null:
		jw_lit(w, "null");
		return;
	case json_type_boolean:
		if (json_object_get_boolean(o))
			jw_lit(w, "true");
		else
			jw_lit(w, "false");
		return;
	case json_type_int: {
		int64_t v = json_object_get_int64(o);
		if (v == INT64_MAX) { /* maybe a uint64 above INT64_MAX, clamped */
			k = snprintf(num, sizeof(num), "%" PRIu64, json_object_get_uint64(o));
			jw_put(w, num, (size_t)k);
		} else
			jw_int(w, v);
		return;
	}
	case json_type_string:
		jw_string(w, json_object_get_string(o), (size_t)json_object_get_string_len(o));
		return;
	case json_type_object: {
		bool had = false;
		jw_lit(w, "{");
		json_object_object_foreach(o, key, val) {
			if (had)
				jw_lit(w, ",");
			if (w->flags & JSON_C_TO_STRING_PRETTY)
				jw_lit(w, "\n");
			else if (w->flags & JSON_C_TO_STRING_SPACED)
				jw_lit(w, " ");
			had = true;
			jw_indent(w, level + 1);
			jw_string(w, key, strlen(key));
			if (w->flags & JSON_C_TO_STRING_SPACED)
				jw_lit(w, ": ");
			else
				jw_lit(w, ":");
			jw_value(w, val, level + 1);
		}
		/* Also for an empty object: json-c prints it as "{\n<indent>}". */
		if (w->flags & JSON_C_TO_STRING_PRETTY) {
			jw_lit(w, "\n");
			jw_indent(w, level);
		}
		if ((w->flags & JSON_C_TO_STRING_SPACED) && !(w->flags & JSON_C_TO_STRING_PRETTY))
			jw_lit(w, " }");
		else
			jw_lit(w, "}");
		return;
	}
	case json_type_array: {
		size_t n = json_object_array_length(o);
		jw_lit(w, "[");
		if (w->flags & JSON_C_TO_STRING_PRETTY)
			jw_lit(w, "\n");
		for (size_t i = 0; i < n; i++) {
			if (i > 0) {
				jw_lit(w, ",");
				if (w->flags & JSON_C_TO_STRING_PRETTY)
					jw_lit(w, "\n");
			}
			if ((w->flags & JSON_C_TO_STRING_SPACED) &&
			    !(w->flags & JSON_C_TO_STRING_PRETTY))
				jw_lit(w, " ");
			jw_indent(w, level + 1);
			jw_value(w, json_object_array_get_idx(o, i), level + 1);
		}
		if (w->flags & JSON_C_TO_STRING_PRETTY) {
			if (n > 0)
				jw_lit(w, "\n");
			jw_indent(w, level);
		}
		if ((w->flags & JSON_C_TO_STRING_SPACED) && !(w->flags & JSON_C_TO_STRING_PRETTY))
			jw_lit(w, " ]");
		else
			jw_lit(w, "]");
		return;
	}
	default: {
		/* Doubles (json-c's own formatting rules): a leaf, so json-c prints it alone. */
		size_t len = 0;
		const char *s = json_object_to_json_string_length(o, w->flags, &len);
		if (s)
			jw_put(w, s, len);
		else
			w->failed = true;
		return;
	}
	}
}

/* n bytes of room at the end of the buffer (n <= JW_BUF), flushing or growing first if
 * needed; the caller writes them and advances w->n. NULL only when memory mode ran out of
 * memory (w->failed: the text is dropped anyway). */
static inline char *jw_room(Writer *w, size_t n) {
	if (n >= w->cap - w->n && !jw_make_room(w, n))
		return NULL;
	return w->buf + w->n;
}

/* Length and plainness of an object key: cached per pointer in FILE mode (a few literals
 * repeated at every object of a big document), computed in memory mode. */
static JwKey jw_key(Writer *w, const char *key) {
	if (!w->keys) {
		size_t len = strlen(key);
		return (JwKey){ key, len, doc_text_is_plain(key, len) };
	}
	JwKey *k = &w->keys[((uintptr_t)key >> 3) % JW_KEYS];
	if (k->key != key) {
		k->key = key;
		k->len = strlen(key);
		k->plain = doc_text_is_plain(key, k->len);
	}
	return *k;
}

/* jw_value() for a DocNode tree: the same layout decisions, line for line, so a document
 * prints as the equivalent json-c tree would. */
static void jw_doc(Writer *w, const DocNode *o, int level) {
	bool pretty = w->flags & JSON_C_TO_STRING_PRETTY;
	bool spaced_only = (w->flags & JSON_C_TO_STRING_SPACED) && !pretty;
	bool tab = w->flags & JSON_C_TO_STRING_PRETTY_TAB;

	switch (doc_type(o)) {
	case DOC_NULL:
		jw_lit(w, "null");
		return;
	case DOC_BOOL:
		if (o->b)
			jw_lit(w, "true");
		else
			jw_lit(w, "false");
		return;
	case DOC_INT:
		jw_int(w, o->i);
		return;
	case DOC_DOUBLE: {
		/* Only parsed documents hold doubles: printed by json-c's rules, as jw_value()
		 * prints a json-c double. */
		json_object *dbl = json_object_new_double(o->d);
		if (!dbl) {
			w->failed = true;
			return;
		}
		jw_value(w, dbl, level);
		json_object_put(dbl);
		return;
	}
	case DOC_STRING:
		if (o->str.plain && o->str.len + 2 <= JW_BUF) {
			char *p = jw_room(w, o->str.len + 2);
			if (!p)
				return;
			*p++ = '"';
			memcpy(p, o->str.s, o->str.len);
			p[o->str.len] = '"';
			w->n += o->str.len + 2;
		} else
			jw_string(w, o->str.s, o->str.len);
		return;
	case DOC_OBJECT:
		jw_lit(w, "{");
		for (size_t i = 0; i < o->c.n; i++) {
			const JwKey key = jw_key(w, o->c.keys[i]), *k = &key;
			size_t ind = pretty ? (size_t)(level + 1) * (tab ? 1 : 2) : 0;
			if (k->plain && ind <= 256 && k->len + ind + 8 <= JW_BUF) {
				/* The common case in one reservation: ",\n", indent, "key": */
				char *start = jw_room(w, k->len + ind + 8), *p = start;
				if (!start)
					return;
				if (i > 0)
					*p++ = ',';
				if (pretty)
					*p++ = '\n';
				else if (w->flags & JSON_C_TO_STRING_SPACED)
					*p++ = ' ';
				memset(p, tab ? '\t' : ' ', ind);
				p += ind;
				*p++ = '"';
				memcpy(p, k->key, k->len);
				p += k->len;
				*p++ = '"';
				*p++ = ':';
				if (w->flags & JSON_C_TO_STRING_SPACED)
					*p++ = ' ';
				w->n += (size_t)(p - start);
			} else {
				if (i > 0)
					jw_lit(w, ",");
				if (pretty)
					jw_lit(w, "\n");
				else if (w->flags & JSON_C_TO_STRING_SPACED)
					jw_lit(w, " ");
				jw_indent(w, level + 1);
				jw_string(w, k->key, k->len);
				if (w->flags & JSON_C_TO_STRING_SPACED)
					jw_lit(w, ": ");
				else
					jw_lit(w, ":");
			}
			jw_doc(w, o->c.items[i], level + 1);
		}
		if (pretty) {
			jw_lit(w, "\n");
			jw_indent(w, level);
		}
		if (spaced_only)
			jw_lit(w, " }");
		else
			jw_lit(w, "}");
		return;
	case DOC_ARRAY:
		jw_lit(w, "[");
		if (pretty)
			jw_lit(w, "\n");
		for (size_t i = 0; i < o->c.n; i++) {
			if (i > 0) {
				jw_lit(w, ",");
				if (pretty)
					jw_lit(w, "\n");
			}
			if (spaced_only)
				jw_lit(w, " ");
			jw_indent(w, level + 1);
			jw_doc(w, o->c.items[i], level + 1);
		}
		if (pretty) {
			if (o->c.n > 0)
				jw_lit(w, "\n");
			jw_indent(w, level);
		}
		if (spaced_only)
			jw_lit(w, " ]");
		else
			jw_lit(w, "]");
		return;
	}
}

static Writer *jw_new(FILE *f, int flags) {
	/* FILE mode: one block for the writer, its key table and its buffer; neither is
	 * zeroed (the buffer is only written, the table is reset below). */
	size_t extra = f ? JW_KEYS * sizeof(JwKey) + JW_BUF : 0;
	Writer *w = malloc(sizeof(Writer) + extra);
	if (!w)
		return NULL;
	*w = (Writer){ .f = f, .flags = flags };
	if (f) {
		w->keys = (JwKey *)(w + 1);
		for (size_t i = 0; i < JW_KEYS; i++)
			w->keys[i].key = NULL;
		w->buf = (char *)(w->keys + JW_KEYS);
		w->cap = JW_BUF;
	} else {
		w->cap = 512;
		w->buf = malloc(w->cap);
		if (!w->buf) {
			free(w);
			return NULL;
		}
	}
	return w;
}

static int jw_finish(Writer *w) {
	jw_flush(w);
	bool failed = w->failed;
	free(w);
	return failed ? -EIO : 0;
}

/* The memory text of w, NUL-terminated, in *ret; frees w. */
static int jw_finish_mem(Writer *w, char **ret, size_t *ret_len) {
	if (w->failed || !jw_make_room(w, 0)) {
		free(w->buf);
		free(w);
		return -ENOMEM;
	}
	w->buf[w->n] = '\0';
	*ret = w->buf;
	if (ret_len)
		*ret_len = w->n;
	free(w);
	return 0;
}

int json_write(FILE *f, json_object *o, int flags) {
	Writer *w = jw_new(f, flags);
	if (!w)
		return -ENOMEM;
	jw_value(w, o, 0);
	return jw_finish(w);
}

int json_write_doc(FILE *f, const DocNode *o, int flags) {
	Writer *w = jw_new(f, flags);
	if (!w)
		return -ENOMEM;
	jw_doc(w, o, 0);
	return jw_finish(w);
}

int json_write_mem(json_object *o, int flags, char **ret, size_t *ret_len) {
	Writer *w = jw_new(NULL, flags);
	if (!w)
		return -ENOMEM;
	jw_value(w, o, 0);
	return jw_finish_mem(w, ret, ret_len);
}

int json_write_doc_mem(const DocNode *o, int flags, char **ret, size_t *ret_len) {
	Writer *w = jw_new(NULL, flags);
	if (!w)
		return -ENOMEM;
	jw_doc(w, o, 0);
	return jw_finish_mem(w, ret, ret_len);
}

int doc_to_json(const DocNode *n, json_object **ret) {
	json_object *o = NULL;
	switch (doc_type(n)) {
	case DOC_NULL:
		*ret = NULL;
		return 0;
	case DOC_BOOL:
		o = json_object_new_boolean(n->b);
		break;
	case DOC_INT:
		o = json_object_new_int64(n->i);
		break;
	case DOC_DOUBLE:
		o = json_object_new_double(n->d);
		break;
	case DOC_STRING:
		o = json_object_new_string_len(n->str.s, (int)n->str.len);
		break;
	case DOC_OBJECT:
	case DOC_ARRAY: {
		bool object = n->type == DOC_OBJECT;
		o = object ? json_object_new_object() : json_object_new_array_ext((int)n->c.n);
		if (!o)
			return -ENOMEM;
		for (size_t i = 0; i < n->c.n; i++) {
			json_object *v;
			int r = doc_to_json(n->c.items[i], &v);
			if (r >= 0)
				r = object ? json_object_object_add(o, n->c.keys[i], v)
					   : json_object_array_add(o, v);
			if (r < 0) {
				json_object_put(v);
				json_object_put(o);
				return -ENOMEM;
			}
		}
		break;
	}
	}
	if (!o)
		return -ENOMEM;
	*ret = o;
	return 0;
}

int json_to_doc(Doc *d, json_object *o, DocNode **ret) {
	DocNode *n = NULL;
	switch (json_object_get_type(o)) {
	case json_type_null:
		*ret = NULL;
		return 0;
	case json_type_boolean:
		n = doc_bool(d, json_object_get_boolean(o));
		break;
	case json_type_int:
		n = doc_int(d, json_object_get_int64(o));
		break;
	case json_type_double:
		n = doc_double(d, json_object_get_double(o));
		break;
	case json_type_string:
		n = doc_string_len(d, json_object_get_string(o),
				   (size_t)json_object_get_string_len(o));
		break;
	case json_type_object:
		n = doc_object(d);
		if (!n)
			return -ENOMEM;
		json_object_object_foreach(o, key, val) {
			DocNode *k = doc_string(d, key), *v;
			if (!k || json_to_doc(d, val, &v) < 0 || doc_add(d, n, k->str.s, v) < 0)
				return -ENOMEM;
		}
		break;
	case json_type_array:
		n = doc_array(d);
		if (!n)
			return -ENOMEM;
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			DocNode *v;
			if (json_to_doc(d, json_object_array_get_idx(o, i), &v) < 0 ||
			    doc_append(d, n, v) < 0)
				return -ENOMEM;
		}
		break;
	}
	if (!n)
		return -ENOMEM;
	*ret = n;
	return 0;
}
