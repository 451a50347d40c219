/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * For the suites of the JSON parser and its document (test-doc.c, test-doc-parse.c): every
 * flag combination the project prints with, the comparison of one printed text with what
 * json-c prints for a tree, and of a parsed document with a json-c tree (the same values,
 * keys in the same order). Static: include it in one translation unit per suite.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "tests/json-same-tree.h"
#include "tests/unit/test.h"

static const int json_flag_sets[] = {
	JSON_C_TO_STRING_PLAIN,
	JSON_C_TO_STRING_SPACED,
	JSON_C_TO_STRING_PRETTY,
	JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED,
	JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE,
	JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
	JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB,
};

/* Asserts that text (len bytes) is exactly what json-c prints for o with flags; prints both
 * on a mismatch. */
static inline void json_expect_json_c_bytes(json_object *o, int flags, const char *text,
					    size_t len) {
	size_t want_len = 0;
	const char *want = json_object_to_json_string_length(o, flags, &want_len);
	CU_ASSERT_EQUAL(len, want_len);
	CU_ASSERT_TRUE(len == want_len && memcmp(text, want, len) == 0);
	if (len != want_len || memcmp(text, want, len) != 0)
		fprintf(stderr, "flags 0x%x:\n want '%s'\n got  '%s'\n", flags, want, text);
}
