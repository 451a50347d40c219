/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdint.h>
#include <sys/resource.h>

#include "common/macro.h"
#include "common/util.h"
#include "tests/unit/test.h"

static void test_bdf_parse(void) {
	static const struct {
		const char *in;
		const char *out; /* NULL = -EINVAL */
	} cases[] = {
		{ "0000:3b:00.0", "0000:3b:00.0" },
		{ "0000:3B:00.7", "0000:3b:00.7" },
		{ "3b:00.0", "0000:3b:00.0" },
		{ "ffff:ff:1f.7", "ffff:ff:1f.7" },
		{ "1a2B:c4:0d.6", "1a2b:c4:0d.6" }, /* every digit in its place */
		{ "0000:3b:20.0", NULL }, /* device > 0x1f */
		{ "0000:3b:00.8", NULL }, /* function > 7 */
		{ "0000:3b:00", NULL },
		{ "0000-3b:00.0", NULL },
		{ "00000:3b:00.0", NULL },
		{ "0000:3g:00.0", NULL },
		{ "", NULL },
		{ "0000:3b:00.0 ", NULL },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char buf[BDF_MAX];
		int r = bdf_parse(cases[i].in, buf);
		if (cases[i].out) {
			ASSERT_OK(r);
			ASSERT_STREQ(buf, cases[i].out);
		} else
			ASSERT_ERR(r, EINVAL);
	}
	CU_ASSERT_TRUE(bdf_is_canonical("0000:00:1f.3"));
	CU_ASSERT_FALSE(bdf_is_canonical("00:1f.3"));
	CU_ASSERT_FALSE(bdf_is_canonical("0000:00:1F.3"));
	/* Every case bdf_parse() rejects or rewrites is not canonical. */
	static const char *const not_canonical[] = {
		"0000:00:20.0", "0000:00:1f.8", "0000:00:1f",   "0000:00:1f.30", "0000:0g:00.0",
		"0000-00:00.0", "0000:00-00.0", "0000:00:00-0", "000A:00:00.0",  NULL,
		"",             "0000:00:00.",  "0000:00:00.0 ",
	};
	for (size_t i = 0; i < ELEMENTSOF(not_canonical); i++)
		CU_ASSERT_FALSE(bdf_is_canonical(not_canonical[i]));
	CU_ASSERT_TRUE(bdf_is_canonical("ffff:ff:1f.7"));
	CU_ASSERT_TRUE(bdf_is_canonical("1a2b:c4:0d.6"));
	CU_ASSERT_TRUE(bdf_is_canonical("0000:00:10.0"));
}

static void test_ids(void) {
	uint16_t v, d;
	uint64_t x;
	ASSERT_OK(pci_id_pair_parse("10de:2204", &v, &d));
	CU_ASSERT_EQUAL(v, 0x10de);
	CU_ASSERT_EQUAL(d, 0x2204);
	ASSERT_ERR(pci_id_pair_parse("10de:220", &v, &d), EINVAL);
	ASSERT_ERR(pci_id_pair_parse("10de-2204", &v, &d), EINVAL);
	ASSERT_OK(hex_parse_u64("0x030000", 0xffffff, &x));
	CU_ASSERT_EQUAL(x, 0x030000);
	ASSERT_ERR(hex_parse_u64("0x1000000", 0xffffff, &x), ERANGE);
	ASSERT_ERR(hex_parse_u64("0x", UINT64_MAX, &x), EINVAL);
	ASSERT_ERR(hex_parse_u64("12z", UINT64_MAX, &x), EINVAL);
	ASSERT_ERR(hex_parse_u64("0x10000000000000000", UINT64_MAX, &x), ERANGE);
	ASSERT_OK(num_parse_u64("18446744073709551615", UINT64_MAX, &x));
	CU_ASSERT_EQUAL(x, UINT64_MAX);
	ASSERT_ERR(num_parse_u64("18446744073709551616", UINT64_MAX, &x), ERANGE);
}

static void test_bytes(void) {
	uint64_t x;
	char buf[32];
	ASSERT_OK(parse_bytes("64G", &x));
	CU_ASSERT_EQUAL(x, 64ULL << 30);
	ASSERT_OK(parse_bytes("512MB", &x));
	CU_ASSERT_EQUAL(x, 512ULL << 20);
	ASSERT_OK(parse_bytes("4096", &x));
	CU_ASSERT_EQUAL(x, 4096);
	ASSERT_OK(parse_bytes("infinity", &x));
	CU_ASSERT_EQUAL(x, UINT64_MAX);
	ASSERT_ERR(parse_bytes("G", &x), EINVAL);
	ASSERT_ERR(parse_bytes("99999999999E", &x), ERANGE);
	ASSERT_STREQ(format_bytes(buf, sizeof(buf), 64ULL << 30), "64G");
	ASSERT_STREQ(format_bytes(buf, sizeof(buf), 1536ULL << 10), "1.5M");
	ASSERT_STREQ(format_bytes(buf, sizeof(buf), 100), "100B");
}

static void test_strv(void) {
	_cleanup_strv_free_ char **l = NULL;
	ASSERT_OK(strv_extend(&l, "b"));
	ASSERT_OK(strv_extend(&l, "a"));
	CU_ASSERT_EQUAL(strv_length(l), 2);
	strv_sort(l);
	ASSERT_STREQ(l[0], "a");
	CU_ASSERT_TRUE(strv_contains(l, "b"));
	CU_ASSERT_FALSE(strv_contains(l, "c"));
	_cleanup_strv_free_ char **c = strv_copy(l);
	CU_ASSERT_TRUE(strv_equal(l, c));
	ASSERT_STREQ(errno_name(-EADDRINUSE), "EADDRINUSE");
}

/* /proc/self/limits agrees with getrlimit(), before and after lowering the soft limit. */
static void test_proc_memlock(void) {
	struct rlimit rl, saved;
	uint64_t soft, hard;
	ASSERT_OK(getrlimit(RLIMIT_MEMLOCK, &saved));
	ASSERT_OK(proc_read_memlock(getpid(), &soft, &hard));
	CU_ASSERT_EQUAL(soft, saved.rlim_cur == RLIM_INFINITY ? UINT64_MAX : saved.rlim_cur);
	CU_ASSERT_EQUAL(hard, saved.rlim_max == RLIM_INFINITY ? UINT64_MAX : saved.rlim_max);
	rl = saved;
	rl.rlim_cur = 65536;
	if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < 65536)
		rl.rlim_cur = saved.rlim_max;
	ASSERT_OK(setrlimit(RLIMIT_MEMLOCK, &rl));
	ASSERT_OK(proc_read_memlock(getpid(), &soft, NULL));
	CU_ASSERT_EQUAL(soft, rl.rlim_cur);
	ASSERT_OK(setrlimit(RLIMIT_MEMLOCK, &saved));
	ASSERT_ERR(proc_read_memlock(-1, &soft, &hard), ENOENT);
}

static void test_strjoin(void) {
	_cleanup_free_ char *a = strjoin("0000:01:00.1", " (", "10de:1aef", ") is on ", "x", "");
	ASSERT_STREQ(a, "0000:01:00.1 (10de:1aef) is on x");
	_cleanup_free_ char *b = strjoin("");
	ASSERT_STREQ(b, "");
	_cleanup_free_ char *c = strjoin("", "only", "");
	ASSERT_STREQ(c, "only");
}

static CU_TestInfo tests[] = {
	{ "bdf_parse", test_bdf_parse },
	{ "ids", test_ids },
	{ "bytes", test_bytes },
	{ "strv", test_strv },
	{ "proc_memlock", test_proc_memlock },
	{ "strjoin", test_strjoin },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("util", tests);
