/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "common/doc.h"

/* Chunks grow with the document, doubling from DOC_CHUNK_MIN to DOC_CHUNK (an inspection
 * document of thousands of devices); a request larger than a chunk gets a chunk of its own.
 * The first chunk is a 1 KiB block, which glibc serves from its per-thread cache: a Varlink
 * request fits in it, and a larger first block cost ~900 instructions per message. */
#define DOC_CHUNK_MIN (1024 - sizeof(DocChunk))
#define DOC_CHUNK (64 * 1024)

typedef struct DocChunk DocChunk;
struct DocChunk {
	DocChunk *prev;
	size_t used, size;
	alignas(max_align_t) unsigned char data[];
};

struct Doc {
	DocChunk *cur;
	size_t next_chunk; /* size of the next regular chunk (0: DOC_CHUNK_MIN) */
	DocNode *root;     /* what doc_parse() found */
	/* Where and why the last doc_parse() failed (doc_error_offset(), doc_error_reason()):
	 * the reason is a string literal or text in the arena. */
	size_t err_offset;
	const char *err_reason;
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
		size_t chunk = d->next_chunk ? d->next_chunk : DOC_CHUNK_MIN;
		size_t want = size > chunk ? size : chunk;
		DocChunk *n = malloc(sizeof(DocChunk) + want);
		if (!n)
			return NULL;
		n->used = 0;
		n->size = want;
		/* A big one-off block goes behind the current chunk, which keeps its free room. */
		if (c && size > chunk) {
			n->prev = c->prev;
			c->prev = n;
			n->used = size;
			return n->data;
		}
		n->prev = c;
		d->cur = c = n;
		if (want == chunk)
			d->next_chunk = chunk * 2 > DOC_CHUNK ? DOC_CHUNK : chunk * 2;
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

DocNode *doc_double(Doc *d, double v) {
	DocNode *n = doc_node(d, DOC_DOUBLE);
	if (n)
		n->d = v;
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
		if (o->c.keys[i][0] == key[0] && strcmp(o->c.keys[i], key) == 0)
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

DocNode *doc_root(const Doc *d) {
	return d ? d->root : NULL;
}

size_t doc_error_offset(const Doc *d) {
	return d ? d->err_offset : 0;
}

const char *doc_error_reason(const Doc *d) {
	return d ? d->err_reason : NULL;
}

/* ---- parsing ------------------------------------------------------------------------ */

/*
 * A recursive-descent parser over a byte range. Recursion is bounded by max_depth (checked
 * before descending), so a hostile message cannot exhaust the stack. Strings are decoded
 * straight into the arena (never longer than their source text).
 */
typedef struct Parser {
	Doc *d;
	const unsigned char *start, *p, *end;
	int depth, max_depth;
	int error;                   /* first error: -EBADMSG, -ELOOP or -ENOMEM */
	const unsigned char *err_at; /* where the first error was found */
	const char *why;             /* and what it was (a literal, or text in the arena) */
} Parser;

static inline void ps_skip_ws(Parser *ps) {
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
		ps->p++;
}

/* Records the first error: what, and the byte where it was found. Running out of text is
 * always "unexpected end of input", whatever the caller was looking for. */
static DocNode *ps_fail_at(Parser *ps, int error, const unsigned char *at, const char *why) {
	if (ps->error == 0) {
		ps->error = error;
		ps->err_at = at;
		ps->why = error == -EBADMSG && at >= ps->end ? "unexpected end of input" : why;
	}
	return NULL;
}

static DocNode *ps_fail(Parser *ps, int error, const char *why) {
	return ps_fail_at(ps, error, ps->p, why);
}

static DocNode *ps_oom(Parser *ps) {
	return ps_fail(ps, -ENOMEM, "out of memory");
}

static int ps_hex4(const unsigned char *s, uint32_t *ret) {
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -EBADMSG;
	}
	*ret = v;
	return 0;
}

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t ps_utf8_len(const unsigned char *s, const unsigned char *end) {
	size_t n;
	uint32_t min, cp;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, min = 0x80, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, min = 0x800, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, min = 0x10000, cp = s[0] & 0x07;
	else
		return 0;
	if ((size_t)(end - s) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static size_t ps_put_utf8(char *out, uint32_t cp) {
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at ps->p (the opening quote) decoded into the arena; its length in *ret_len. */
static char *ps_string_text(Parser *ps, size_t *ret_len) {
	/* Bytes that end the plain run: the quote, a backslash, control characters, and
	 * non-ASCII (validated as UTF-8 below). */
	static const bool special[256] = {
		[0x00 ... 0x1f] = true,
		['"'] = true,
		['\\'] = true,
		[0x80 ... 0xff] = true,
	};
	const unsigned char *s = ++ps->p; /* past the quote */
	/* Escapes only shrink text, so the source length bounds the decoded one. Find the
	 * closing quote first, skipping escaped characters; most strings have nothing to
	 * decode and are copied as they are. */
	const unsigned char *q = s;
	bool plain = true;
	for (;;) {
		while (q < ps->end && !special[*q])
			q++;
		if (q >= ps->end || *q == '"')
			break;
		plain = false;
		q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
	}
	if (q >= ps->end)
		return ps_fail_at(ps, -EBADMSG, ps->end, NULL), NULL; /* unterminated */
	char *out = doc_alloc(ps->d, (size_t)(q - s) + 1);
	if (!out)
		return ps_oom(ps), NULL;
	size_t n = 0;
	if (plain) {
		n = (size_t)(q - s);
		memcpy(out, s, n);
		s = q;
	}
	while (s < q) {
		unsigned char c = *s;
		if (c >= 0x20 && c < 0x80 && c != '\\') {
			out[n++] = (char)c;
			s++;
			continue;
		}
		if (c < 0x20)
			return ps_fail_at(ps, -EBADMSG, s, "control character in a string"), NULL;
		if (c >= 0x80) {
			size_t k = ps_utf8_len(s, q);
			if (k == 0)
				return ps_fail_at(ps, -EBADMSG, s, "invalid UTF-8 in a string"),
				       NULL;
			memcpy(out + n, s, k);
			n += k;
			s += k;
			continue;
		}
		/* An escape; the scan above guaranteed a byte after the backslash. */
		unsigned char e = s[1];
		s += 2;
		/* The two-character escapes, by the letter after the backslash. */
		static const char short_escape[128] = {
			['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
			['f'] = '\f', ['n'] = '\n',  ['r'] = '\r', ['t'] = '\t',
		};
		if (e < 128 && short_escape[e]) {
			out[n++] = short_escape[e];
			continue;
		}
		const unsigned char *esc = s - 2;
		if (e != 'u')
			return ps_fail_at(ps, -EBADMSG, esc, "invalid escape in a string"), NULL;
		uint32_t cp;
		if (q - s < 4 || ps_hex4(s, &cp) < 0)
			return ps_fail_at(ps, -EBADMSG, esc, "invalid escape in a string"), NULL;
		s += 4;
		if (cp >= 0xdc00 && cp <= 0xdfff) /* a low surrogate first */
			return ps_fail_at(ps, -EBADMSG, esc, "lone surrogate in a string"), NULL;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			uint32_t lo;
			if (q - s < 6 || s[0] != '\\' || s[1] != 'u' || ps_hex4(s + 2, &lo) < 0 ||
			    lo < 0xdc00 || lo > 0xdfff) /* a lone high surrogate */
				return ps_fail_at(ps, -EBADMSG, esc, "lone surrogate in a string"),
				       NULL;
			s += 6;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		if (cp == 0) /* would cut the C string */
			return ps_fail_at(ps, -EBADMSG, esc, "\\u0000 in a string"), NULL;
		/* \uXXXX is 6 bytes of source, at most 3 of UTF-8; a pair is 12 for 4. */
		n += ps_put_utf8(out + n, cp);
	}
	out[n] = '\0';
	ps->p = q + 1;
	*ret_len = n;
	return out;
}

static DocNode *ps_value(Parser *ps);

static locale_t c_locale;
static void c_locale_init(void) {
	c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* strtod() in the C locale whatever the process set (JSON's decimal point is '.'); a
 * process that cannot make the C locale object gets 0, which no parameter accepts anyway. */
static double doc_strtod_c(const char *s) {
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, c_locale_init);
	return c_locale ? strtod_l(s, NULL, c_locale) : 0;
}

static DocNode *ps_string(Parser *ps) {
	size_t len;
	char *s = ps_string_text(ps, &len);
	if (!s)
		return NULL;
	DocNode *n = doc_node(ps->d, DOC_STRING);
	if (!n)
		return ps_oom(ps);
	n->str.s = s;
	n->str.len = len;
	n->str.plain = doc_text_is_plain(s, len);
	return n;
}

static DocNode *ps_number(Parser *ps) {
	const unsigned char *start = ps->p, *s = ps->p;
	bool neg = false, integral = true;
	if (s < ps->end && *s == '-')
		neg = true, s++;
	if (s >= ps->end || *s < '0' || *s > '9')
		return ps_fail_at(ps, -EBADMSG, start, "unexpected character");
	/* int64 accumulated as the negative value, whose range is the larger one. */
	int64_t v = 0;
	bool overflow = false;
	if (*s == '0')
		s++;
	else
		for (; s < ps->end && *s >= '0' && *s <= '9'; s++) {
			int digit = *s - '0';
			if (v < (INT64_MIN + digit) / 10)
				overflow = true;
			else
				v = v * 10 - digit;
		}
	if (s < ps->end && *s == '.') {
		integral = false;
		if (++s >= ps->end || *s < '0' || *s > '9')
			return ps_fail_at(ps, -EBADMSG, s, "invalid number");
		while (s < ps->end && *s >= '0' && *s <= '9')
			s++;
	}
	if (s < ps->end && (*s == 'e' || *s == 'E')) {
		integral = false;
		if (++s < ps->end && (*s == '+' || *s == '-'))
			s++;
		if (s >= ps->end || *s < '0' || *s > '9')
			return ps_fail_at(ps, -EBADMSG, s, "invalid number");
		while (s < ps->end && *s >= '0' && *s <= '9')
			s++;
	}
	ps->p = s;
	if (integral && !overflow && (neg || v != INT64_MIN)) {
		DocNode *n = doc_node(ps->d, DOC_INT);
		if (!n)
			return ps_oom(ps);
		n->i = neg ? v : -v;
		return n;
	}
	/* Not an int64: kept as a double (nothing in the protocol uses one; a method meeting it
	 * where it wants an integer says the parameter is invalid). strtod() in the C locale:
	 * the text is copied because it is not NUL-terminated. */
	char buf[64];
	size_t len = (size_t)(s - start);
	char *copy = len < sizeof(buf) ? buf : doc_alloc(ps->d, len + 1);
	if (!copy)
		return ps_oom(ps);
	memcpy(copy, start, len);
	copy[len] = '\0';
	double dv = doc_strtod_c(copy);
	if (isinf(dv)) /* beyond a double: no printer could say it back */
		return ps_fail_at(ps, -EBADMSG, start, "number beyond a double's range");
	DocNode *n = doc_double(ps->d, dv);
	return n ? n : ps_oom(ps);
}

static int key_cmp(const void *a, const void *b) {
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys of an object held in a small array are checked as they come, by a signature (length,
 * first and last byte) and strcmp() only when that matches; a larger object is checked
 * once, sorted, at its end (a hostile message with thousands of keys must not cost a
 * quadratic number of comparisons). */
#define PS_SMALL_OBJECT 16

static uint32_t key_signature(const char *key, size_t len) {
	return (uint32_t)len ^ (uint32_t)(unsigned char)key[0] << 16 ^
	       (uint32_t)(unsigned char)key[len ? len - 1 : 0] << 24;
}

/* Whether the first n keys of o hold key (signatures in sig). */
static bool ps_key_seen(const DocNode *o, const uint32_t *sig, size_t n, const char *key,
			uint32_t s) {
	for (size_t i = 0; i < n; i++)
		if (sig[i] == s && strcmp(o->c.keys[i], key) == 0)
			return true;
	return false;
}

/* 0, -ENOMEM, or -EBADMSG with the repeated key in *ret_dup. */
static int ps_check_unique_sorted(Parser *ps, const DocNode *o, const char **ret_dup) {
	size_t n = o->c.n;
	const char **sorted = doc_alloc(ps->d, n * sizeof(char *));
	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, o->c.keys, n * sizeof(char *));
	qsort(sorted, n, sizeof(char *), key_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(sorted[i], sorted[i - 1]) == 0) {
			*ret_dup = sorted[i];
			return -EBADMSG;
		}
	return 0;
}

/* A duplicate key found at `at`: the reason names the key when it prints as it is and is
 * short (the reason is for a human reading an error line). */
static DocNode *ps_fail_duplicate(Parser *ps, const unsigned char *at, const char *key) {
	size_t len = strlen(key);
	char *why = NULL;
	if (len <= 64 && doc_text_is_plain(key, len) && (why = doc_alloc(ps->d, len + 20)))
		snprintf(why, len + 20, "duplicate key '%s'", key);
	return ps_fail_at(ps, -EBADMSG, at, why ? why : "duplicate key");
}

static DocNode *ps_container(Parser *ps, bool object) {
	if (ps->depth >= ps->max_depth)
		return ps_fail(ps, -ELOOP, "nesting too deep");
	ps->depth++;
	ps->p++; /* the bracket */
	DocNode *c = doc_node(ps->d, object ? DOC_OBJECT : DOC_ARRAY);
	if (!c)
		return ps_oom(ps);
	const unsigned char close = object ? '}' : ']';
	uint32_t sig[PS_SMALL_OBJECT];
	ps_skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		return c;
	}
	for (;;) {
		const char *key = NULL;
		if (object) {
			size_t len;
			const unsigned char *key_at = ps->p;
			if (ps->p >= ps->end || *ps->p != '"')
				return ps_fail(ps, -EBADMSG, "expected a string key");
			if (!(key = ps_string_text(ps, &len)))
				return NULL;
			if (c->c.n < PS_SMALL_OBJECT) {
				uint32_t ks = key_signature(key, len);
				if (ps_key_seen(c, sig, c->c.n, key, ks))
					return ps_fail_duplicate(ps, key_at, key);
				sig[c->c.n] = ks;
			}
			ps_skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return ps_fail(ps, -EBADMSG, "expected ':'");
			ps->p++;
			ps_skip_ws(ps);
		}
		DocNode *v = ps_value(ps);
		if (ps->error)
			return NULL;
		if ((object ? doc_add(ps->d, c, key, v) : doc_append(ps->d, c, v)) < 0)
			return ps_oom(ps);
		ps_skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			ps_skip_ws(ps);
			continue;
		}
		if (ps->p >= ps->end || *ps->p != close)
			return ps_fail(ps, -EBADMSG,
				       object ? "expected ',' or '}'" : "expected ',' or ']'");
		ps->p++;
		break;
	}
	if (object && c->c.n > PS_SMALL_OBJECT) {
		/* Found only now: the error points at the object's closing brace. */
		const char *dup = NULL;
		int r = ps_check_unique_sorted(ps, c, &dup);
		if (r == -EBADMSG)
			return ps_fail_duplicate(ps, ps->p - 1, dup);
		if (r < 0)
			return ps_oom(ps);
	}
	ps->depth--;
	return c;
}

static bool ps_literal(Parser *ps, const char *word, size_t len) {
	if ((size_t)(ps->end - ps->p) < len || memcmp(ps->p, word, len) != 0)
		return false;
	ps->p += len;
	return true;
}

/* One value at ps->p (whitespace already skipped). NULL with ps->error unset is a JSON
 * null. */
static DocNode *ps_value(Parser *ps) {
	if (ps->p >= ps->end)
		return ps_fail(ps, -EBADMSG, NULL);
	switch (*ps->p) {
	case '{':
		return ps_container(ps, true);
	case '[':
		return ps_container(ps, false);
	case '"':
		return ps_string(ps);
	case 't':
		if (!ps_literal(ps, "true", 4))
			return ps_fail(ps, -EBADMSG, "unexpected character");
		DocNode *t = doc_bool(ps->d, true);
		return t ? t : ps_oom(ps);
	case 'f':
		if (!ps_literal(ps, "false", 5))
			return ps_fail(ps, -EBADMSG, "unexpected character");
		DocNode *f = doc_bool(ps->d, false);
		return f ? f : ps_oom(ps);
	case 'n':
		if (!ps_literal(ps, "null", 4))
			return ps_fail(ps, -EBADMSG, "unexpected character");
		return NULL;
	default:
		return ps_number(ps);
	}
}

int doc_parse(Doc *d, const char *text, size_t len, int max_depth, DocNode **ret) {
	if (!d)
		return -EINVAL;
	d->err_offset = 0;
	d->err_reason = NULL;
	if ((!text && len > 0) || max_depth < 1) {
		d->err_reason = "invalid arguments";
		return -EINVAL;
	}
	Parser ps = {
		.d = d,
		.start = (const unsigned char *)text,
		.p = (const unsigned char *)text,
		.end = (const unsigned char *)text + len,
		.max_depth = max_depth,
	};
	ps_skip_ws(&ps);
	DocNode *root = ps_value(&ps);
	if (!ps.error) {
		ps_skip_ws(&ps);
		if (ps.p != ps.end)
			ps_fail(&ps, -EBADMSG, "trailing data after the document");
	}
	if (ps.error) {
		d->err_offset = (size_t)(ps.err_at - ps.start);
		d->err_reason = ps.why ? ps.why : "invalid JSON";
		return ps.error;
	}
	d->root = root;
	if (ret)
		*ret = root;
	return 0;
}
