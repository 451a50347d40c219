/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The parser's output: a read-only document tree (null, booleans, integers, doubles,
 * strings, objects with keys in their order, arrays) whose nodes live in one arena.
 * doc_parse() fills it from untrusted text (the wire, snapshots, the daemon's stored
 * state), strictly; the readers take it into typed structs. It is the read side only:
 * everything the project writes is a json-c tree (common/json-out.h). The builders below
 * are what doc_parse() fills the tree with (and what tests build expected documents from).
 *
 * Contracts: a NULL DocNode * is JSON null wherever a value is expected. Object keys are
 * not copied: they must outlive the document (the callers pass string literals or static
 * tables), and each key is added once per object (no replacement, no lookup on add).
 * String contents are copied into the arena. A node may appear at several places (shared
 * leaves): nothing is ever freed node by node. Every constructor returns NULL and every
 * adder -ENOMEM on allocation failure.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"

typedef enum DocType {
	DOC_NULL, /* only as a NULL DocNode * */
	DOC_BOOL,
	DOC_INT,
	DOC_STRING,
	DOC_OBJECT,
	DOC_ARRAY,
	DOC_DOUBLE, /* a number with a fraction, an exponent, or beyond int64 (doc_parse()) */
} DocType;

typedef struct DocNode DocNode;
struct DocNode {
	DocType type;
	union {
		bool b;
		int64_t i;
		double d;
		struct {
			const char *s; /* NUL-terminated, in the arena */
			size_t len;
			/* No byte a JSON printer escapes (control characters, '"', '\\', '/'):
			 * printed as is between quotes. */
			bool plain;
		} str;
		struct {
			const char **keys; /* objects only */
			DocNode **items;
			size_t n, cap;
		} c;
	};
};

typedef struct Doc Doc;

Doc *doc_new(void);
Doc *doc_free(Doc *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(Doc *, doc_free)

DocNode *doc_object(Doc *d);
/* An object with room for n keys up front (more still fit): saves regrowing big objects. */
DocNode *doc_object_sized(Doc *d, size_t n);
DocNode *doc_array(Doc *d);
DocNode *doc_string(Doc *d, const char *s);
DocNode *doc_string_len(Doc *d, const char *s, size_t len);
DocNode *doc_int(Doc *d, int64_t v);
DocNode *doc_bool(Doc *d, bool b);
DocNode *doc_double(Doc *d, double v);

/* Appends key: v (v may be NULL: null) to object o. 0 or -ENOMEM. */
int doc_add(Doc *d, DocNode *o, const char *key, DocNode *v);
/* Appends v (may be NULL: null) to array a. 0 or -ENOMEM. */
int doc_append(Doc *d, DocNode *a, DocNode *v);

static inline DocType doc_type(const DocNode *n) {
	return n ? n->type : DOC_NULL;
}
/*
 * doc_parse: parses len bytes of JSON text (RFC 8259, strictly: no trailing commas, no
 * comments, no single quotes, no raw control characters, valid UTF-8 only, no lone
 * surrogates, no "\u0000" (strings are C strings), no duplicate keys in an object, no
 * number beyond a double's range) into
 * nodes of d. One value with optional surrounding whitespace; containers nested at most
 * max_depth deep, counting containers only (max_depth 1 admits "[]" and "[1]", not
 * "[[]]"; json-c also counts a scalar inside a container as a level). Integers that fit
 * int64 are DOC_INT; other numbers DOC_DOUBLE. Keys are copied into the arena. *ret is the
 * root (NULL for a JSON null). The root is also kept as doc_root(d).
 * Returns 0, -EBADMSG (not valid JSON under those rules), -ELOOP (too deep), -ENOMEM.
 */
int doc_parse(Doc *d, const char *text, size_t len, int max_depth, DocNode **ret);
/* The root doc_parse() found (NULL before a parse, or for a JSON null). */
DocNode *doc_root(const Doc *d);
/*
 * Where the last doc_parse() on d failed: the byte offset into its text of what it could not
 * take (for an input cut short, the text's length; for a duplicate key, the key, or the
 * closing brace of an object of more than 16 keys, whose keys are checked at its end), and a
 * short reason for a human ("unexpected end of input", "expected ':'", "nesting too deep",
 * "duplicate key 'a'", "trailing data after the document", ...; wording not a contract).
 * After a successful parse, or before any, 0 and NULL. The reason lives as long as d.
 */
size_t doc_error_offset(const Doc *d);
const char *doc_error_reason(const Doc *d);

/* The value of key in object o, or NULL when o is not an object, key is absent or null. */
DocNode *doc_get(const DocNode *o, const char *key);
/* Array length (0 for anything but an array) and element i (NULL past the end). */
size_t doc_len(const DocNode *a);
DocNode *doc_at(const DocNode *a, size_t i);
/* The string of a string node, else NULL. */
const char *doc_str(const DocNode *n);
/* Whether len bytes of s need no JSON escaping under any printer flags (see str.plain). */
bool doc_text_is_plain(const char *s, size_t len);
