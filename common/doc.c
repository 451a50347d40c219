/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "common/doc.h"

/* Chunks grow with the document; a request larger than a chunk gets a chunk of its own. */
#define DOC_CHUNK (64 * 1024)

typedef struct DocChunk DocChunk;
struct DocChunk {
	DocChunk *prev;
	size_t used, size;
	alignas(max_align_t) unsigned char data[];
};

struct Doc {
	DocChunk *cur;
};

Doc *doc_new(void) {
	return calloc(1, sizeof(Doc));
}

Doc *doc_free(Doc *d) {
	if (!d)
		return NULL;
	for (DocChunk *c = d->cur, *p; c; c = p) {
		p = c->prev;
		free(c);
	}
	free(d);
	return NULL;
}

static void *doc_alloc(Doc *d, size_t size) {
	size = (size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
	DocChunk *c = d->cur;
	if (!c || c->size - c->used < size) {
		size_t want = size > DOC_CHUNK ? size : DOC_CHUNK;
		DocChunk *n = malloc(sizeof(DocChunk) + want);
		if (!n)
			return NULL;
		n->used = 0;
		n->size = want;
		/* A big one-off block goes behind the current chunk, which keeps its free room. */
		if (c && size > DOC_CHUNK) {
			n->prev = c->prev;
			c->prev = n;
			n->used = size;
			return n->data;
		}
		n->prev = c;
		d->cur = c = n;
	}
	void *p = c->data + c->used;
	c->used += size;
	return p;
}

bool doc_text_is_plain(const char *s, size_t len) {
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == '"' || c == '\\' || c == '/')
			return false;
	}
	return true;
}

static DocNode *doc_node(Doc *d, DocType t) {
	DocNode *n = doc_alloc(d, sizeof(DocNode));
	if (!n)
		return NULL;
	memset(n, 0, sizeof(*n));
	n->type = t;
	return n;
}

DocNode *doc_object(Doc *d) {
	return doc_node(d, DOC_OBJECT);
}

DocNode *doc_object_sized(Doc *d, size_t n) {
	DocNode *o = doc_node(d, DOC_OBJECT);
	if (!o || n == 0)
		return o;
	o->c.items = doc_alloc(d, n * sizeof(DocNode *));
	o->c.keys = doc_alloc(d, n * sizeof(char *));
	if (!o->c.items || !o->c.keys)
		return NULL;
	o->c.cap = n;
	return o;
}

DocNode *doc_array(Doc *d) {
	return doc_node(d, DOC_ARRAY);
}

DocNode *doc_string_len(Doc *d, const char *s, size_t len) {
	DocNode *n = doc_node(d, DOC_STRING);
	char *copy = n ? doc_alloc(d, len + 1) : NULL;
	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	n->str.s = copy;
	n->str.len = len;
	n->str.plain = doc_text_is_plain(s, len);
	return n;
}

DocNode *doc_string(Doc *d, const char *s) {
	return doc_string_len(d, s, strlen(s));
}

DocNode *doc_int(Doc *d, int64_t v) {
	DocNode *n = doc_node(d, DOC_INT);
	if (n)
		n->i = v;
	return n;
}

DocNode *doc_bool(Doc *d, bool b) {
	DocNode *n = doc_node(d, DOC_BOOL);
	if (n)
		n->b = b;
	return n;
}

/* Room for one more child; the old arrays stay in the arena (at most as much again). */
static int doc_grow(Doc *d, DocNode *c, bool keys) {
	if (c->c.n < c->c.cap)
		return 0;
	size_t cap = c->c.cap ? c->c.cap * 2 : 8;
	DocNode **items = doc_alloc(d, cap * sizeof(DocNode *));
	const char **k = keys ? doc_alloc(d, cap * sizeof(char *)) : NULL;
	if (!items || (keys && !k))
		return -ENOMEM;
	if (c->c.n > 0) {
		memcpy(items, c->c.items, c->c.n * sizeof(DocNode *));
		if (keys)
			memcpy(k, c->c.keys, c->c.n * sizeof(char *));
	}
	c->c.items = items;
	c->c.keys = k;
	c->c.cap = cap;
	return 0;
}

int doc_add(Doc *d, DocNode *o, const char *key, DocNode *v) {
	if (!o || o->type != DOC_OBJECT || doc_grow(d, o, true) < 0)
		return -ENOMEM;
	o->c.keys[o->c.n] = key;
	o->c.items[o->c.n++] = v;
	return 0;
}

int doc_append(Doc *d, DocNode *a, DocNode *v) {
	if (!a || a->type != DOC_ARRAY || doc_grow(d, a, false) < 0)
		return -ENOMEM;
	a->c.items[a->c.n++] = v;
	return 0;
}

DocNode *doc_get(const DocNode *o, const char *key) {
	if (doc_type(o) != DOC_OBJECT)
		return NULL;
	for (size_t i = 0; i < o->c.n; i++)
		if (strcmp(o->c.keys[i], key) == 0)
			return o->c.items[i];
	return NULL;
}

size_t doc_len(const DocNode *a) {
	return doc_type(a) == DOC_ARRAY ? a->c.n : 0;
}

DocNode *doc_at(const DocNode *a, size_t i) {
	return i < doc_len(a) ? a->c.items[i] : NULL;
}

const char *doc_str(const DocNode *n) {
	return doc_type(n) == DOC_STRING ? n->str.s : NULL;
}
