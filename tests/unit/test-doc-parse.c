/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * doc_parse() (common/doc.h), the parser every Varlink message goes through: what it
 * accepts reads back as json-c reads it (printed the same by both printers), what it refuses
 * is refused with the right errno, and the memory writers and converters agree with json-c.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "common/doc.h"
#include "tests/unit/json-compare.h"
#include "common/macro.h"
#include "tests/unit/test.h"

static int parse(Doc *d, const char *text, int depth, DocNode **ret) {
	return doc_parse(d, text, strlen(text), depth, ret);
}

/* Valid JSON: the document holds what json-c's own parse of the same text holds (values and
 * key order). */
static void test_accepts(void) {
	static const char *const good[] = {
		"{}",
		"[]",
		"  {\"a\" : 1 , \"b\":[true,false,null] }\n\t\r ",
		"{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":{\"devices\":"
		"[\"0000:01:00.0\"],\"mode\":\"attached\"},\"more\":true}",
		"[0,-0,1,-1,9223372036854775807,-9223372036854775808,123456789]",
		"[\"\",\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\",\"\\u00e9\\u20ac\\ud83d\\ude00\"]",
		"[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]",
		"{\"nested\":{\"deeper\":{\"deepest\":[[[]]]}}}",
		"\"a lone string\"",
		"42",
		"true",
	};
	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		_cleanup_(doc_freep) Doc *d = doc_new();
		DocNode *n = (DocNode *)1;
		CU_ASSERT_FATAL(d != NULL);
		int r = parse(d, good[i], 32, &n);
		if (r != 0)
			fprintf(stderr, "case %zu: %d\n", i, r);
		ASSERT_OK(r);
		CU_ASSERT_PTR_EQUAL(doc_root(d), n);

		json_object *want = json_tokener_parse(good[i]);
		CU_ASSERT_FATAL(want != NULL);
		CU_ASSERT_TRUE(json_same_tree(n, want));
		json_object_put(want);
	}
}

static void test_values(void) {
	_cleanup_(doc_freep) Doc *d = doc_new();
	DocNode *n = NULL;
	CU_ASSERT_FATAL(d != NULL);
	ASSERT_OK(parse(d,
			"{\"i\":-12,\"big\":9223372036854775808,\"f\":1.5e3,\"s\":\"x\\u00e9\","
			"\"n\":null,\"t\":true,\"a\":[1,\"2\"]}",
			8, &n));
	CU_ASSERT_EQUAL(doc_type(n), DOC_OBJECT);
	CU_ASSERT_EQUAL(doc_type(doc_get(n, "i")), DOC_INT);
	CU_ASSERT_EQUAL(doc_get(n, "i")->i, -12);
	/* Beyond int64 and with a fraction or exponent: doubles, which no integer reader
	 * accepts. */
	CU_ASSERT_EQUAL(doc_type(doc_get(n, "big")), DOC_DOUBLE);
	CU_ASSERT_TRUE(fabs(doc_get(n, "big")->d - 9223372036854775808.0) < 1);
	CU_ASSERT_EQUAL(doc_type(doc_get(n, "f")), DOC_DOUBLE);
	CU_ASSERT_TRUE(doc_get(n, "f")->d == 1500.0);
	ASSERT_STREQ(doc_str(doc_get(n, "s")), "x\xc3\xa9");
	CU_ASSERT_EQUAL(doc_get(n, "s")->str.len, 3);
	/* null reads as absent; the member is still there to iterate. */
	CU_ASSERT_PTR_NULL(doc_get(n, "n"));
	CU_ASSERT_EQUAL(n->c.n, 7);
	ASSERT_STREQ(n->c.keys[4], "n");
	CU_ASSERT_PTR_NULL(n->c.items[4]);
	CU_ASSERT_TRUE(doc_get(n, "t")->b);
	CU_ASSERT_EQUAL(doc_len(doc_get(n, "a")), 2);
	ASSERT_STREQ(doc_str(doc_at(doc_get(n, "a"), 1)), "2");

	/* A JSON null root. */
	_cleanup_(doc_freep) Doc *d2 = doc_new();
	n = (DocNode *)1;
	ASSERT_OK(parse(d2, " null ", 1, &n));
	CU_ASSERT_PTR_NULL(n);
}

static void test_rejects(void) {
	static const char *const bad[] = {
		"",
		"   ",
		"{",
		"{\"a\":1,}", /* trailing commas: json-c accepts them, RFC 8259 does not */
		"[1,]",
		"[1 2]",
		"{'a':1}",
		"{\"a\" 1}",
		"{a:1}",
		"{\"a\":1}x", /* trailing bytes */
		"{\"a\":1}{}",
		"01",
		"1.",
		".5",
		"-",
		"1e",
		"+1",
		"NaN",
		"Infinity",
		"tru",
		"nul",
		"\"unterminated",
		"\"tab\there\"", /* raw control characters */
		"\"nl\nhere\"",
		"\"bad escape \\x\"",
		"\"short \\u12\"",
		"\"not hex \\u12g4\"",
		"\"nul \\u0000 cuts C strings\"",
		"\"lone high \\ud800\"",
		"\"lone high then text \\ud800abcdef\"",
		"\"lone low \\udc00\"",
		"\"high then non-low \\ud800\\u0041\"",
		"\"\xff\"",             /* not UTF-8 */
		"\"\xc0\xaf\"",         /* overlong '/' */
		"\"\xe0\x80\xaf\"",     /* overlong */
		"\"\xed\xa0\x80\"",     /* an encoded surrogate */
		"\"\xf4\x90\x80\x80\"", /* above U+10FFFF */
		"\"\xe2\x82\"",         /* truncated sequence */
		"\"\xc3\"",             /* truncated before the quote */
		"1e400",                /* beyond a double */
		"[-1e999]",
		"{\"a\":1,\"a\":2}", /* duplicate keys: json-c keeps the last, we refuse */
		"{\"k\":{\"x\":1,\"y\":2,\"x\":3}}",
		/* A duplicate among many keys (the sorted check). */
		"{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,"
		"\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,\"k15\":15,"
		"\"k16\":16,\"k7\":17}",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_(doc_freep) Doc *d = doc_new();
		CU_ASSERT_FATAL(d != NULL);
		int r = parse(d, bad[i], 32, NULL);
		if (r != -EBADMSG)
			fprintf(stderr, "case %zu (%s): %d\n", i, bad[i], r);
		CU_ASSERT_EQUAL(r, -EBADMSG);
		CU_ASSERT_PTR_NULL(doc_root(d));
	}
	/* An embedded NUL is a byte like any other outside a string: refused. */
	_cleanup_(doc_freep) Doc *d = doc_new();
	ASSERT_ERR(doc_parse(d, "{}\0", 3, 32, NULL), EBADMSG);
	ASSERT_ERR(doc_parse(d, "[\"a\0b\"]", 7, 32, NULL), EBADMSG);
	ASSERT_ERR(doc_parse(d, "{}", 2, 0, NULL), EINVAL);
	/* Seventeen distinct keys pass the sorted check. */
	ASSERT_OK(parse(d,
			"{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,"
			"\"k8\":8,\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,"
			"\"k15\":15,\"k16\":16}",
			2, NULL));
}

/* Where and why a parse failed: doc_error_offset() is the byte of the fault (the length
 * for text cut short), doc_error_reason() says what it was; both reset by a good parse. */
static void test_error_offset(void) {
	static const struct {
		const char *text;
		size_t offset;
		const char *reason;
	} cases[] = {
		{ "", 0, "unexpected end of input" },
		{ "{", 1, "unexpected end of input" },
		{ "[1, 2", 5, "unexpected end of input" },
		{ "\"unterminated", 13, "unexpected end of input" },
		{ "{\"format\": }", 11, "unexpected character" },
		{ "{\n\"a\": 1,\n nope}", 11, "expected a string key" },
		{ "{\"a\" 1}", 5, "expected ':'" },
		{ "[1 2]", 3, "expected ',' or ']'" },
		{ "{\"a\":1 \"b\":2}", 7, "expected ',' or '}'" },
		{ "{} x", 3, "trailing data after the document" },
		{ "[1.]", 3, "invalid number" },
		{ "[1e400]", 1, "number beyond a double's range" },
		{ "[\"ab\\x\"]", 4, "invalid escape in a string" },
		{ "[\"ab\\u0000\"]", 4, "\\u0000 in a string" },
		{ "[\"a\\ud800\"]", 3, "lone surrogate in a string" },
		{ "[\"a\tb\"]", 3, "control character in a string" },
		{ "[\"a\xff\"]", 3, "invalid UTF-8 in a string" },
		{ "{\"a\":1,\"b\":2,\"a\":3}", 13, "duplicate key 'a'" },
		/* Many keys: checked at the end, reported at the closing brace. */
		{ "{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,"
		  "\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,\"k15\":15,"
		  "\"k16\":16,\"k7\":17}",
		  141, "duplicate key 'k7'" },
		{ "[[[[1]]]]", 3, "nesting too deep" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_(doc_freep) Doc *d = doc_new();
		CU_ASSERT_FATAL(d != NULL);
		int r = parse(d, cases[i].text, 3, NULL);
		const char *why = doc_error_reason(d);
		if (r >= 0 || doc_error_offset(d) != cases[i].offset || !why ||
		    !streq(why, cases[i].reason))
			fprintf(stderr, "case %zu: r=%d, offset %zu '%s', expected %zu '%s'\n", i,
				r, doc_error_offset(d), strna(why), cases[i].offset,
				cases[i].reason);
		CU_ASSERT_TRUE(r == -EBADMSG || r == -ELOOP);
		CU_ASSERT_EQUAL(doc_error_offset(d), cases[i].offset);
		CU_ASSERT_PTR_NOT_NULL_FATAL(why);
		ASSERT_STREQ(why, cases[i].reason);
		/* A later good parse clears it. */
		ASSERT_OK(parse(d, "[]", 3, NULL));
		CU_ASSERT_EQUAL(doc_error_offset(d), 0);
		CU_ASSERT_PTR_NULL(doc_error_reason(d));
	}
	CU_ASSERT_EQUAL(doc_error_offset(NULL), 0);
	CU_ASSERT_PTR_NULL(doc_error_reason(NULL));
}

/* The depth limit counts containers: max_depth of them nest, one more is -ELOOP. */
static void test_depth(void) {
	for (int max = 1; max <= 4; max++)
		for (int nest = 1; nest <= 6; nest++) {
			char buf[64] = "";
			for (int i = 0; i < nest; i++)
				strcat(buf, i % 2 ? "{\"k\":" : "[");
			strcat(buf, nest % 2 ? "1" : "\"v\""); /* a scalar leaf: not a level */
			for (int i = nest - 1; i >= 0; i--)
				strcat(buf, i % 2 ? "}" : "]");
			_cleanup_(doc_freep) Doc *d = doc_new();
			int r = parse(d, buf, max, NULL);
			if (r != (nest <= max ? 0 : -ELOOP))
				fprintf(stderr, "max %d, %s: %d\n", max, buf, r);
			CU_ASSERT_EQUAL(r, nest <= max ? 0 : -ELOOP);
		}
	/* Deep hostile nesting is refused before it can use the stack. */
	size_t n = 100000;
	_cleanup_free_ char *deep = malloc(n);
	CU_ASSERT_FATAL(deep != NULL);
	memset(deep, '[', n);
	_cleanup_(doc_freep) Doc *d = doc_new();
	ASSERT_ERR(doc_parse(d, deep, n, 32, NULL), ELOOP);
}

/* A document bigger than the arena's chunks, and strings longer than one. */
static void test_large(void) {
	size_t n_items = 20000;
	size_t cap = n_items * 24 + 100000;
	_cleanup_free_ char *text = malloc(cap);
	CU_ASSERT_FATAL(text != NULL);
	size_t len = 0;
	len += (size_t)snprintf(text + len, cap - len, "{\"long\":\"");
	for (int i = 0; i < 70000; i++)
		text[len++] = (char)('a' + i % 26);
	len += (size_t)snprintf(text + len, cap - len, "\",\"items\":[");
	for (size_t i = 0; i < n_items; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s{\"i\":%zu}", i ? "," : "", i);
	len += (size_t)snprintf(text + len, cap - len, "]}");
	_cleanup_(doc_freep) Doc *d = doc_new();
	DocNode *root = NULL;
	ASSERT_OK(doc_parse(d, text, len, 4, &root));
	CU_ASSERT_EQUAL(doc_get(root, "long")->str.len, 70000);
	const DocNode *items = doc_get(root, "items");
	CU_ASSERT_EQUAL(doc_len(items), n_items);
	CU_ASSERT_EQUAL(doc_get(doc_at(items, n_items - 1), "i")->i, (int64_t)n_items - 1);
	/* The same values as json-c's parse of the text. */
	json_object *want = json_tokener_parse(text);
	CU_ASSERT_FATAL(want != NULL);
	CU_ASSERT_TRUE(json_same_tree(root, want));
	json_object_put(want);
}

/* One test per line: clang-format 14 would pack this table into columns. */
/* clang-format off */
static CU_TestInfo tests[] = {
	{ "accepts", test_accepts },
	{ "values", test_values },
	{ "rejects", test_rejects },
	{ "error_offset", test_error_offset },
	{ "depth", test_depth },
	{ "large", test_large },
	CU_TEST_INFO_NULL,
};
/* clang-format on */
TEST_SUITE("doc_parse", tests);
