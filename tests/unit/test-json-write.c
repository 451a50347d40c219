/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json_write() against json-c's own printer: the same tree, every flag combination the
 * CLI uses (and the others json_write() accepts), must give the same bytes.
 */
#include <stdint.h>
#include <stdio.h>

#include "common/json-write.h"
#include "common/macro.h"
#include "tests/unit/json-compare.h"
#include "tests/unit/test.h"

static void same_as_json_c(json_object *o) {
	for (size_t i = 0; i < ELEMENTSOF(json_flag_sets); i++) {
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		CU_ASSERT_FATAL(f != NULL);
		ASSERT_OK(json_write(f, o, json_flag_sets[i]));
		CU_ASSERT_FATAL(fclose(f) == 0);
		json_expect_json_c_bytes(o, json_flag_sets[i], text, len);
		free(text);
	}
}

static void test_leaves(void) {
	json_object *v[] = {
		NULL,
		json_object_new_boolean(true),
		json_object_new_boolean(false),
		json_object_new_int(0),
		json_object_new_int(-17),
		json_object_new_int64(INT64_MIN),
		json_object_new_int64(INT64_MAX),
		json_object_new_uint64(UINT64_MAX),
		json_object_new_double(1.5),
		json_object_new_double(-0.25e-10),
		json_object_new_double(3.0),
		json_object_new_string(""),
		json_object_new_string("plain 0000:01:00.0 [10de:2204]"),
		json_object_new_string("esc \" \\ / \b \f \n \r \t \x01 \x1f \x7f end"),
		json_object_new_string("utf-8 \xe2\x94\x9c\xe2\x94\x80 \xe2\x9c\x97"),
		json_object_new_string_len("nul\0inside", 10),
		/* escapes at every offset of the 8-byte scan, and bytes >= 0x80 next to them */
		json_object_new_string("abcdefg\"hijklmn\\opqrstu/vwxyzAB\x1f"
				       "CDEFGHI\x01"),
		json_object_new_string("0123456789abcdef0123456789abcdef\n"),
		json_object_new_string(
			"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\x7f\x80\xff/\xfe\x9f\xa0 !#$%&'()*+,-.0"),
		json_object_new_string("/////////\"\"\"\"\"\"\"\"\"\\\\\\\\\\\\\\\\\t"),
	};
	for (size_t i = 0; i < ELEMENTSOF(v); i++) {
		same_as_json_c(v[i]);
		json_object_put(v[i]);
	}
}

static void test_containers(void) {
	json_object *doc = json_object_new_object();
	json_object_object_add(doc, "empty_object", json_object_new_object());
	json_object_object_add(doc, "empty_array", json_object_new_array());
	json_object_object_add(doc, "null", NULL);
	json_object_object_add(doc, "key/with\"escapes\n", json_object_new_int(1));
	json_object *a = json_object_new_array();
	json_object_array_add(a, NULL);
	json_object_array_add(a, json_object_new_array());
	json_object_array_add(a, json_object_new_object());
	json_object *inner = json_object_new_object();
	json_object_object_add(inner, "s", json_object_new_string("x/y"));
	json_object *deep = json_object_new_array();
	json_object_array_add(deep, json_object_new_int(2));
	json_object_array_add(deep, json_object_new_boolean(true));
	json_object_object_add(inner, "deep", deep);
	json_object_array_add(a, inner);
	json_object_object_add(doc, "list", a);
	same_as_json_c(doc);

	/* Bigger than the writer's buffer, so it flushes midway. */
	json_object *big = json_object_new_array();
	for (int i = 0; i < 20000; i++) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "bdf", json_object_new_string("0000:3b:00.0"));
		json_object_object_add(d, "i", json_object_new_int(i));
		json_object_array_add(big, d);
	}
	json_object_object_add(doc, "big", big);
	same_as_json_c(doc);
	json_object_put(doc);
}

static void test_write_error(void) {
	FILE *f = fopen("/dev/full", "w");
	if (!f)
		return; /* no /dev/full: nothing to check */
	json_object *s = json_object_new_string("x");
	setvbuf(f, NULL, _IONBF, 0);
	ASSERT_ERR(json_write(f, s, JSON_C_TO_STRING_PLAIN), EIO);
	fclose(f);
	json_object_put(s);
}

static CU_TestInfo tests[] = {
	{ "leaves", test_leaves },
	{ "containers", test_containers },
	{ "write_error", test_write_error },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("json-write", tests);
