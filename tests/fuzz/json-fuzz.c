/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for doc_parse(), the strict JSON parser every Varlink message to ioasidd
 * goes through (tests/fuzz/run.sh builds and runs it).
 *
 * Besides "no crash, no leak, no UB" it checks, on every input:
 *   1. errors are only -EBADMSG or -ELOOP (no -ENOMEM at these sizes, nothing else);
 *   2. what doc_parse() accepts, json-c accepts too (doc_parse() is the stricter one);
 *   3. an accepted document holds what json-c's parse of the same text holds (the same
 *      values, object keys in the same order).
 * A violation aborts, so libFuzzer keeps the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/doc.h"
#include "tests/json-same-tree.h"

#define DEPTH 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	Doc *d = doc_new();
	if (!d)
		abort();
	DocNode *root = NULL;
	int r = doc_parse(d, (const char *)data, size, DEPTH, &root);
	if (r < 0) {
		if (r != -EBADMSG && r != -ELOOP)
			abort();
		doc_free(d);
		return 0;
	}

	/* Property 2. json-c is given a space after the text: it cannot know a number at the
	 * very end is complete. json-c counts a scalar inside the innermost container as a
	 * level and doc_parse() does not (common/doc.h), so json-c gets one level more: at
	 * equal depths DEPTH containers around a scalar (tests/fuzz/seeds/depth-limit.json)
	 * are doc_parse()'s to accept and json-c's to refuse. */
	char *spaced = malloc(size + 1);
	json_tokener *tok = json_tokener_new_ex(DEPTH + 1);
	if (!spaced || !tok)
		abort();
	memcpy(spaced, data, size);
	spaced[size] = ' ';
	json_object *o = json_tokener_parse_ex(tok, spaced, (int)size + 1);
	if (json_tokener_get_error(tok) != json_tokener_success)
		abort();
	/* Property 3. */
	if (!json_same_tree(root, o))
		abort();
	json_object_put(o);
	json_tokener_free(tok);
	free(spaced);

	doc_free(d);
	return 0;
}
