/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for doc_parse(), the strict JSON parser every Varlink message to ioasidd
 * goes through (tests/fuzz/run.sh builds and runs it).
 *
 * Besides "no crash, no leak, no UB" it checks, on every input:
 *   1. errors are only -EBADMSG or -ELOOP (no -ENOMEM at these sizes, nothing else);
 *   2. what doc_parse() accepts, json-c accepts too (doc_parse() is the stricter one);
 *   3. an accepted document prints (json_write_doc_mem) to text that parses again and
 *      prints the same bytes, and converting it to json-c and back changes nothing.
 * A violation aborts, so libFuzzer keeps the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/doc.h"
#include "common/json-write.h"

#define DEPTH 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *print(const DocNode *n) {
	char *text = NULL;
	if (json_write_doc_mem(n, JSON_C_TO_STRING_PLAIN, &text, NULL) < 0)
		abort();
	return text;
}

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
	json_object_put(o);
	json_tokener_free(tok);
	free(spaced);

	char *text = print(root);
	Doc *d2 = doc_new();
	DocNode *again = NULL;
	if (!d2 || doc_parse(d2, text, strlen(text), DEPTH, &again) < 0)
		abort();
	char *text2 = print(again);
	if (strcmp(text, text2) != 0)
		abort();

	json_object *j = NULL;
	DocNode *back = NULL;
	if (doc_to_json(root, &j) < 0 || json_to_doc(d2, j, &back) < 0)
		abort();
	char *text3 = print(back);
	if (strcmp(text, text3) != 0)
		abort();
	json_object_put(j);
	free(text);
	free(text2);
	free(text3);
	doc_free(d2);
	doc_free(d);
	return 0;
}
