/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Duplicate keys in doc_parse() at every object size it treats differently. common/doc.c
 * checks the keys of an object as they come while it holds fewer than PS_SMALL_OBJECT (16)
 * keys (a signature of length, first and last byte, then strcmp()), and checks an object of
 * more than 16 keys once, sorted, at its closing brace; its key arrays grow from 8 by
 * doubling (8, 16, 32, ...). So: sizes 2, 8 and 9, 15 to 18, 31 to 33, 64 and 65, and two
 * large ones; a duplicate of the first, a middle, the last key, the pair straddling the
 * 16th/17th key, and the keys that sort first and last (the sorted scan's ends); keys that
 * all share one signature (only strcmp() tells them apart) and keys that do not; the empty
 * key. A duplicate must be refused with its name, at the key itself when it is one of the
 * first 16, else at the object's closing brace; the same keys without the duplicate parse,
 * every value where it belongs.
 */
#include <stdint.h>
#include <stdio.h>

#include "common/doc.h"
#include "common/macro.h"
#include "tests/unit/test.h"

#define SMALL 16 /* PS_SMALL_OBJECT in common/doc.c */

typedef enum KeyKind {
	KEYS_SAME_SIGNATURE, /* "k00000z", "k00001z", ...: one length, first and last byte */
	KEYS_DECIMAL,        /* "0", "1", ... "10", ...: mixed signatures */
	KEYS_DESCENDING,     /* KEYS_SAME_SIGNATURE inserted in reverse order */
	KEYS_EMPTY_FIRST,    /* "" then KEYS_SAME_SIGNATURE: "" sorts first */
} KeyKind;

static void key_name(KeyKind kind, size_t n, size_t i, char *buf, size_t size) {
	switch (kind) {
	case KEYS_SAME_SIGNATURE:
		snprintf(buf, size, "k%05zuz", i);
		break;
	case KEYS_DECIMAL:
		snprintf(buf, size, "%zu", i);
		break;
	case KEYS_DESCENDING:
		snprintf(buf, size, "k%05zuz", n - 1 - i);
		break;
	case KEYS_EMPTY_FIRST:
		if (i == 0)
			buf[0] = '\0';
		else
			snprintf(buf, size, "k%05zuz", i);
		break;
	}
}

/* An object of n keys; with dup_of < dup_at, key dup_at repeats key dup_of. Values are the
 * key's index. *ret_at: the byte offset of key dup_at's opening quote; *ret_close: of the
 * closing brace. */
static char *build(KeyKind kind, size_t n, size_t dup_of, size_t dup_at, size_t *ret_at,
		   size_t *ret_close) {
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CU_ASSERT_FATAL(f != NULL);
	fputc('{', f);
	for (size_t i = 0; i < n; i++) {
		char key[32];
		key_name(kind, n, i == dup_at ? dup_of : i, key, sizeof(key));
		if (i > 0)
			fputc(',', f);
		fflush(f);
		if (i == dup_at)
			*ret_at = len;
		fprintf(f, "\"%s\":%zu", key, i);
	}
	fflush(f);
	*ret_close = len;
	fputc('}', f);
	CU_ASSERT_FATAL(fclose(f) == 0);
	return text;
}

static bool failed_case(const char *what, KeyKind kind, size_t n, size_t i, size_t j) {
	fprintf(stderr, "\nkeys %d, %zu keys, key %zu repeating key %zu: %s\n", (int)kind, n, j, i,
		what);
	return false;
}

static void check_duplicate(KeyKind kind, size_t n, size_t i, size_t j) {
	size_t at = 0, close = 0;
	_cleanup_free_ char *text = build(kind, n, i, j, &at, &close);
	_cleanup_(doc_freep) Doc *d = doc_new();
	CU_ASSERT_FATAL(d != NULL);
	int r = doc_parse(d, text, strlen(text), 4, NULL);
	size_t want = j < SMALL ? at : close;
	char key[32], reason[64];
	key_name(kind, n, i, key, sizeof(key));
	snprintf(reason, sizeof(reason), "duplicate key '%s'", key);
	const char *why = doc_error_reason(d);
	if (r != -EBADMSG || doc_error_offset(d) != want || !why || !streq(why, reason))
		failed_case("not refused as it should be", kind, n, i, j),
			fprintf(stderr, "  r=%d offset %zu (want %zu) reason '%s' (want '%s')\n", r,
				doc_error_offset(d), want, strna(why), reason);
	CU_ASSERT_EQUAL(r, -EBADMSG);
	CU_ASSERT_EQUAL(doc_error_offset(d), want);
	CU_ASSERT_TRUE(why && streq(why, reason));
	CU_ASSERT_PTR_NULL(doc_root(d));
}

static void check_distinct(KeyKind kind, size_t n) {
	size_t at = 0, close = 0;
	_cleanup_free_ char *text = build(kind, n, SIZE_MAX, SIZE_MAX, &at, &close);
	_cleanup_(doc_freep) Doc *d = doc_new();
	CU_ASSERT_FATAL(d != NULL);
	DocNode *o = NULL;
	int r = doc_parse(d, text, strlen(text), 4, &o);
	if (r < 0)
		failed_case("distinct keys refused", kind, n, 0, 0);
	ASSERT_OK(r);
	CU_ASSERT_EQUAL_FATAL(doc_type(o), DOC_OBJECT);
	/* Every key of the small objects; in the large ones (doc_get() is a linear scan) a
	 * sample, the first and last included. */
	for (size_t i = 0; i < n; i = i + (n > 100 && i + 97 < n - 1 ? 97 : 1)) {
		char key[32];
		key_name(kind, n, i, key, sizeof(key));
		DocNode *v = doc_get(o, key);
		if (!v || doc_type(v) != DOC_INT || v->i != (int64_t)i) {
			failed_case("a value is not where it belongs", kind, n, i, i);
			CU_FAIL("value");
			return;
		}
	}
}

static void test_sizes(void) {
	static const size_t sizes[] = { 1,  2,  3,  8,  9,  15, 16,   17,
					18, 31, 32, 33, 64, 65, 1000, 4097 };
	static const KeyKind kinds[] = { KEYS_SAME_SIGNATURE, KEYS_DECIMAL, KEYS_DESCENDING,
					 KEYS_EMPTY_FIRST };
	for (size_t k = 0; k < ELEMENTSOF(kinds); k++)
		for (size_t s = 0; s < ELEMENTSOF(sizes); s++) {
			size_t n = sizes[s];
			check_distinct(kinds[k], n);
			if (n < 2)
				continue;
			/* (dup_of, dup_at) pairs, each kept when it fits n. */
			const size_t pairs[][2] = {
				{ 0, 1 },
				{ 0, n - 1 },
				{ n - 2, n - 1 },
				{ n / 2, n / 2 + 1 },
				{ 0, SMALL - 1 },
				{ SMALL - 2, SMALL - 1 },
				{ 0, SMALL },
				{ SMALL - 1, SMALL },
				{ SMALL, SMALL + 1 },
				{ 1, SMALL },
				{ SMALL - 1, n - 1 },
				{ 7, 8 },
				{ 0, 8 },
			};
			for (size_t p = 0; p < ELEMENTSOF(pairs); p++) {
				size_t i = pairs[p][0], j = pairs[p][1];
				if (i < j && j < n)
					check_duplicate(kinds[k], n, i, j);
			}
		}
}

/* Each object is checked on its own: an inner object of 16 or 17 keys may repeat its
 * parent's keys, and a duplicate inside it is found there, whatever the parent's size. */
static void test_nested(void) {
	for (size_t outer = 2; outer <= SMALL + 2; outer += SMALL) {
		for (size_t inner = SMALL - 1; inner <= SMALL + 2; inner++) {
			for (int dup = 0; dup <= 1; dup++) {
				char *text = NULL;
				size_t len = 0, want = 0;
				FILE *f = open_memstream(&text, &len);
				CU_ASSERT_FATAL(f != NULL);
				fputc('{', f);
				for (size_t i = 0; i < outer; i++) {
					fprintf(f, "%s\"k%05zuz\":", i ? "," : "", i);
					if (i != 1) {
						fprintf(f, "%zu", i);
						continue;
					}
					fputc('{', f);
					for (size_t k = 0; k < inner; k++) {
						size_t name = dup && k == inner - 1 ? 0 : k;
						fprintf(f, "%s", k ? "," : "");
						fflush(f);
						if (dup && k == inner - 1)
							want = len;
						fprintf(f, "\"k%05zuz\":%zu", name, k);
					}
					fflush(f);
					if (dup && inner - 1 >= SMALL)
						want = len;
					fputc('}', f);
				}
				fputc('}', f);
				CU_ASSERT_FATAL(fclose(f) == 0);
				_cleanup_(doc_freep) Doc *d = doc_new();
				int r = doc_parse(d, text, strlen(text), 4, NULL);
				if (dup) {
					CU_ASSERT_EQUAL(r, -EBADMSG);
					CU_ASSERT_EQUAL(doc_error_offset(d), want);
				} else
					ASSERT_OK(r);
				if ((dup && (r != -EBADMSG || doc_error_offset(d) != want)) ||
				    (!dup && r < 0))
					fprintf(stderr,
						"\nnested %zu/%zu dup %d: r=%d at %zu: %s\n", outer,
						inner, dup, r, doc_error_offset(d), text);
				free(text);
			}
		}
	}
}

static CU_TestInfo tests[] = {
	{ "sizes", test_sizes },
	{ "nested", test_nested },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("doc_parse-dupkeys", tests);
