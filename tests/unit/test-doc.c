/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The DocNode tree (common/doc.h), the parser's output: a document and the equivalent json-c
 * tree, built side by side, must hold the same values in the same order, and the readers
 * must see what was added. Also json_out_print(), the one printer of what the project
 * writes.
 */
#include <stdint.h>
#include <stdio.h>

#include "common/doc.h"
#include "common/json-out.h"
#include "common/macro.h"
#include "tests/unit/json-compare.h"
#include "tests/unit/test.h"

static void same_as_json_c(const DocNode *doc, json_object *o) {
	CU_ASSERT_TRUE(json_same_tree(doc, o));
}

static const char *const strings[] = {
	"",
	"plain 0000:01:00.0 [10de:2204]",
	"esc \" \\ / \b \f \n \r \t \x01 \x1f \x7f end",
	"utf-8 \xe2\x94\x9c\xe2\x94\x80 \xe2\x9c\x97",
	"abcdefg\"hijklmn\\opqrstu/vwxyzAB\x1f"
	"CDEFGHI\x01",
	"/////////\"\"\"\"\"\"\"\"\"\\\\\\\\\\\\\\\\\t",
};

static void test_leaves(void) {
	_cleanup_(doc_freep) Doc *d = doc_new();
	CU_ASSERT_FATAL(d != NULL);
	int64_t ints[] = { 0, -17, 42, INT32_MAX, INT64_MIN, INT64_MAX };
	for (size_t i = 0; i < ELEMENTSOF(ints); i++) {
		json_object *o = json_object_new_int64(ints[i]);
		same_as_json_c(doc_int(d, ints[i]), o);
		json_object_put(o);
	}
	for (int b = 0; b < 2; b++) {
		json_object *o = json_object_new_boolean(b);
		same_as_json_c(doc_bool(d, b), o);
		json_object_put(o);
	}
	same_as_json_c(NULL, NULL);
	for (size_t i = 0; i < ELEMENTSOF(strings); i++) {
		json_object *o = json_object_new_string(strings[i]);
		DocNode *n = doc_string(d, strings[i]);
		CU_ASSERT_FATAL(n != NULL);
		CU_ASSERT_STRING_EQUAL(doc_str(n), strings[i]);
		same_as_json_c(n, o);
		json_object_put(o);
	}
}

static void test_containers(void) {
	_cleanup_(doc_freep) Doc *d = doc_new();
	CU_ASSERT_FATAL(d != NULL);
	DocNode *doc = doc_object(d);
	json_object *jdoc = json_object_new_object();

	ASSERT_OK(doc_add(d, doc, "empty_object", doc_object(d)));
	json_object_object_add(jdoc, "empty_object", json_object_new_object());
	ASSERT_OK(doc_add(d, doc, "empty_array", doc_array(d)));
	json_object_object_add(jdoc, "empty_array", json_object_new_array());
	ASSERT_OK(doc_add(d, doc, "null", NULL));
	json_object_object_add(jdoc, "null", NULL);
	ASSERT_OK(doc_add(d, doc, "key/with\"escapes\n", doc_int(d, 1)));
	json_object_object_add(jdoc, "key/with\"escapes\n", json_object_new_int(1));

	DocNode *a = doc_array(d), *inner = doc_object(d), *deep = doc_array(d);
	json_object *ja = json_object_new_array(), *jinner = json_object_new_object(),
		    *jdeep = json_object_new_array();
	ASSERT_OK(doc_append(d, a, NULL));
	json_object_array_add(ja, NULL);
	ASSERT_OK(doc_add(d, inner, "s", doc_string(d, "x/y")));
	json_object_object_add(jinner, "s", json_object_new_string("x/y"));
	ASSERT_OK(doc_append(d, deep, doc_int(d, 2)));
	json_object_array_add(jdeep, json_object_new_int(2));
	ASSERT_OK(doc_append(d, deep, doc_bool(d, true)));
	json_object_array_add(jdeep, json_object_new_boolean(true));
	ASSERT_OK(doc_add(d, inner, "deep", deep));
	json_object_object_add(jinner, "deep", jdeep);
	ASSERT_OK(doc_append(d, a, inner));
	json_object_array_add(ja, jinner);
	ASSERT_OK(doc_add(d, doc, "list", a));
	json_object_object_add(jdoc, "list", ja);
	same_as_json_c(doc, jdoc);

	/* Readers: keys in insertion order, absent and null read as NULL. */
	CU_ASSERT_EQUAL(doc_type(doc), DOC_OBJECT);
	CU_ASSERT_EQUAL(doc_len(doc), 0); /* not an array */
	CU_ASSERT_PTR_EQUAL(doc_get(doc, "list"), a);
	CU_ASSERT_PTR_NULL(doc_get(doc, "null"));
	CU_ASSERT_PTR_NULL(doc_get(doc, "absent"));
	CU_ASSERT_PTR_NULL(doc_get(a, "s"));
	CU_ASSERT_EQUAL(doc_len(a), 2);
	CU_ASSERT_PTR_EQUAL(doc_at(a, 1), inner);
	CU_ASSERT_PTR_NULL(doc_at(a, 2));
	CU_ASSERT_STRING_EQUAL(doc_str(doc_get(inner, "s")), "x/y");
	CU_ASSERT_PTR_NULL(doc_str(deep));
	CU_ASSERT_EQUAL(doc_add(d, a, "x", NULL), -ENOMEM); /* not an object */
	CU_ASSERT_EQUAL(doc_append(d, doc, NULL), -ENOMEM); /* not an array */

	/* A pre-sized object takes more keys than it was sized for. */
	DocNode *sized = doc_object_sized(d, 2);
	json_object *jsized = json_object_new_object();
	CU_ASSERT_FATAL(sized != NULL);
	static const char *const keys[] = { "a", "b", "c", "d", "e" };
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		ASSERT_OK(doc_add(d, sized, keys[i], doc_int(d, (int64_t)i)));
		json_object_object_add(jsized, keys[i], json_object_new_int((int)i));
	}
	CU_ASSERT_EQUAL(doc_get(sized, "e")->i, 4);
	same_as_json_c(sized, jsized);
	json_object_put(jsized);

	/* Many children (the arrays grow), a shared leaf, more than one arena chunk and more
	 * than the writer's buffer. */
	DocNode *big = doc_array(d), *shared = doc_string(d, "0000:3b:00.0");
	json_object *jbig = json_object_new_array();
	for (int i = 0; i < 20000; i++) {
		DocNode *o = doc_object(d);
		json_object *jo = json_object_new_object();
		ASSERT_OK(doc_add(d, o, "bdf", shared));
		json_object_object_add(jo, "bdf", json_object_new_string("0000:3b:00.0"));
		ASSERT_OK(doc_add(d, o, "i", doc_int(d, i)));
		json_object_object_add(jo, "i", json_object_new_int(i));
		ASSERT_OK(doc_append(d, big, o));
		json_object_array_add(jbig, jo);
	}
	ASSERT_OK(doc_add(d, doc, "big", big));
	json_object_object_add(jdoc, "big", jbig);
	CU_ASSERT_EQUAL(doc_len(big), 20000);
	CU_ASSERT_EQUAL(doc_get(doc_at(big, 19999), "i")->i, 19999);
	same_as_json_c(doc, jdoc);

	/* A string longer than an arena chunk gets a block of its own. */
	size_t n = 200 * 1024;
	_cleanup_free_ char *longs = malloc(n + 1);
	CU_ASSERT_FATAL(longs != NULL);
	memset(longs, 'a', n);
	longs[n] = '\0';
	DocNode *ls = doc_string(d, longs);
	CU_ASSERT_FATAL(ls != NULL);
	CU_ASSERT_EQUAL(ls->str.len, n);
	CU_ASSERT_STRING_EQUAL(doc_str(ls), longs);
	CU_ASSERT_STRING_EQUAL(doc_str(shared), "0000:3b:00.0"); /* still intact */
	json_object_put(jdoc);
}

/* json_out_print() prints json-c's bytes under every flag set, and says -EIO when the stream
 * fails. */
static void test_print(void) {
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	json_object_object_add(o, "s", json_object_new_string("a/b \"c\"\n"));
	json_object_object_add(o, "a", a);
	json_object_array_add(a, json_object_new_int(-3));
	json_object_array_add(a, NULL);
	json_object_object_add(o, "e", json_object_new_object());
	for (size_t i = 0; i < ELEMENTSOF(json_flag_sets); i++) {
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		CU_ASSERT_FATAL(f != NULL);
		ASSERT_OK(json_out_print(f, o, json_flag_sets[i]));
		CU_ASSERT_FATAL(fclose(f) == 0);
		json_expect_json_c_bytes(o, json_flag_sets[i], text, len);
		free(text);
	}
	FILE *f = fopen("/dev/full", "w");
	if (f) {
		setvbuf(f, NULL, _IONBF, 0);
		ASSERT_ERR(json_out_print(f, o, JSON_C_TO_STRING_PLAIN), EIO);
		fclose(f);
	}
	json_object_put(o);
}

static CU_TestInfo tests[] = {
	{ "leaves", test_leaves },
	{ "containers", test_containers },
	{ "print", test_print },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("doc", tests);
