/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "common/macro.h"
#include "common/util.h"
#include "tests/unit/test.h"

static int cmp_bdf_ptr(const void *a, const void *b) {
	return bdf_cmp(*(const char *const *)a, *(const char *const *)b);
}

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
		{ "0000:3b:20.0", NULL },           /* device > 0x1f */
		{ "0000:3b:00.8", NULL },           /* function > 7 */
		{ "0000:3b:00", NULL },
		{ "0000-3b:00.0", NULL },
		/* Domains above ffff (Intel VMD: 10000 and up) as the kernel prints them,
		 * "%04x". */
		{ "10000:e1:00.0", "10000:e1:00.0" },
		{ "1D0000:E1:1f.7", "1d0000:e1:1f.7" },
		{ "ffffffff:ff:1f.7", "ffffffff:ff:1f.7" }, /* the largest: 8 digits */
		{ "FFFFFFFF:00:00.0", "ffffffff:00:00.0" },
		{ "8000000:01:02.3", "8000000:01:02.3" }, /* 7 digits */
		/* Leading zeros beyond 4 digits name the same domain: dropped down to 4. */
		{ "00000:3b:00.0", "0000:3b:00.0" },
		{ "00010000:e1:00.0", "10000:e1:00.0" },
		{ "00000000:00:1f.3", "0000:00:1f.3" },
		{ "0001ffff:00:00.0", "1ffff:00:00.0" },
		{ "100000000:00:00.0", NULL }, /* 9 digits: above 0xffffffff */
		{ "000000000:00:00.0", NULL }, /* 9 digits, even if the value fits */
		{ "fffffffff:ff:1f.7", NULL },
		{ "000:00:00.0", NULL }, /* 3 digits */
		{ "0:00:00.0", NULL },
		{ "10000:e1:20.0", NULL }, /* device > 0x1f behind a long domain too */
		{ "10000:e1:00.8", NULL },
		{ "1000g:e1:00.0", NULL },
		{ "10000-e1:00.0", NULL },
		{ "10000:e1:00.0 ", NULL },
		{ ":10000:e1:00.0", NULL },
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
		"0000:00:20.0",
		"0000:00:1f.8",
		"0000:00:1f",
		"0000:00:1f.30",
		"0000:0g:00.0",
		"0000-00:00.0",
		"0000:00-00.0",
		"0000:00:00-0",
		"000A:00:00.0",
		NULL,
		"",
		"0000:00:00.",
		"0000:00:00.0 ",
	};
	for (size_t i = 0; i < ELEMENTSOF(not_canonical); i++)
		CU_ASSERT_FALSE(bdf_is_canonical(not_canonical[i]));
	CU_ASSERT_TRUE(bdf_is_canonical("ffff:ff:1f.7"));
	CU_ASSERT_TRUE(bdf_is_canonical("1a2b:c4:0d.6"));
	CU_ASSERT_TRUE(bdf_is_canonical("0000:00:10.0"));
	CU_ASSERT_TRUE(bdf_is_canonical("10000:e1:00.0"));
	CU_ASSERT_TRUE(bdf_is_canonical("1d0000:e1:1f.7"));
	CU_ASSERT_TRUE(bdf_is_canonical("8000000:01:02.3"));
	CU_ASSERT_TRUE(bdf_is_canonical("ffffffff:ff:1f.7"));
	static const char *const not_canonical_long[] = {
		"00010000:e1:00.0", /* leading zeros beyond 4 digits */
		"00000:00:00.0",
		"0ffff:00:00.0",
		"10000:E1:00.0",
		"1D000:e1:00.0",
		"100000000:00:00.0",
		"ffffffff0:00:00.0",
		"000:00:00.0",
		"10000:e1:20.0",
		"10000:e1:00.8",
		"10000:e1:00.0 ",
		"10000:e1:00.",
		"10000:e1:00",
		"10000",
		"10000:",
		"ffffffff",
		"ffffffffffff:00:00.0",
	};
	for (size_t i = 0; i < ELEMENTSOF(not_canonical_long); i++) {
		if (bdf_is_canonical(not_canonical_long[i]))
			fprintf(stderr, "'%s' taken as canonical\n", not_canonical_long[i]);
		CU_ASSERT_FALSE(bdf_is_canonical(not_canonical_long[i]));
	}
}

/* bdf_is_canonical() accepts exactly what bdf_parse() prints: every domain length, the edges
 * of each field, and every input form (upper case, leading zeros, short) round-trip. */
static void test_bdf_canonical_roundtrip(void) {
	static const uint32_t domains[] = { 0,          1,          0xfff,      0x1000,
					    0xffff,     0x10000,    0x1ffff,    0xfffff,
					    0x100000,   0xffffff,   0x1000000,  0xfffffff,
					    0x10000000, 0x7fffffff, 0x80000000, 0xffffffff };
	static const unsigned buses[] = { 0, 0x0a, 0xe1, 0xff };
	static const unsigned devs[] = { 0, 0x0f, 0x10, 0x1f };
	for (size_t a = 0; a < ELEMENTSOF(domains); a++)
		for (size_t b = 0; b < ELEMENTSOF(buses); b++)
			for (size_t c = 0; c < ELEMENTSOF(devs); c++)
				for (unsigned fn = 0; fn < 8; fn += 7) {
					char want[32], in[32], out[BDF_MAX], out2[BDF_MAX];
					snprintf(want, sizeof(want), "%04x:%02x:%02x.%x",
						 domains[a], buses[b], devs[c], fn);
					CU_ASSERT_TRUE(bdf_is_canonical(want));
					ASSERT_OK(bdf_parse(want, out));
					ASSERT_STREQ(out, want);
					/* Upper case, 8-digit zero padding: same canonical form. */
					snprintf(in, sizeof(in), "%08X:%02X:%02X.%X", domains[a],
						 buses[b], devs[c], fn);
					ASSERT_OK(bdf_parse(in, out2));
					ASSERT_STREQ(out2, want);
					CU_ASSERT_EQUAL(bdf_is_canonical(in), streq(in, want));
				}
	/* A device above 1f or a function above 7 is rejected by both. */
	CU_ASSERT_FALSE(bdf_is_canonical("ffffffff:ff:20.0"));
	CU_ASSERT_FALSE(bdf_is_canonical("10000:00:00.8"));
}

static void test_bdf_cmp(void) {
	/* Numeric (domain, bus, device, function) order: 10000 after ffff, where strcmp() would
	 * put "10000:..." between "0000:..." and "ffff:...". */
	static const char *const sorted[] = {
		"0000:00:00.0",     "0000:00:1f.3",  "0000:01:00.0",   "0001:00:00.0",
		"ffff:ff:1f.7",     "10000:00:00.0", "10000:e1:00.0",  "10001:00:00.0",
		"1d000:00:00.0",    "fffff:ff:1f.7", "100000:00:00.0", "ffffffff:00:00.0",
		"ffffffff:ff:1f.7",
	};
	size_t n = ELEMENTSOF(sorted);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int c = bdf_cmp(sorted[i], sorted[j]);
			int want = i < j ? -1 : i > j;
			if ((c > 0) - (c < 0) != want)
				fprintf(stderr, "bdf_cmp('%s', '%s') = %d\n", sorted[i], sorted[j],
					c);
			CU_ASSERT_EQUAL((c > 0) - (c < 0), want);
		}
	/* qsort() with it puts a shuffled copy back in that order. */
	const char *l[ELEMENTSOF(sorted)];
	for (size_t i = 0; i < n; i++)
		l[i] = sorted[(i * 5 + 3) % n]; /* 5 is prime to 13: a permutation */
	qsort(l, n, sizeof(l[0]), cmp_bdf_ptr);
	for (size_t i = 0; i < n; i++)
		ASSERT_STREQ(l[i], sorted[i]);
	/* Keys that are not canonical still compare consistently (a bsearch miss, not UB). */
	CU_ASSERT_TRUE(bdf_cmp("00:1f.3", "0000:00:00.0") < 0);
	CU_ASSERT_TRUE(bdf_cmp("0000:00:00.0", "00:1f.3") > 0);
	CU_ASSERT_TRUE(bdf_cmp("", "0000:00:00.0") < 0);
	CU_ASSERT_EQUAL(bdf_cmp("garbage", "garbage"), 0);
	CU_ASSERT_TRUE(bdf_cmp("123456789a:00:00.0", "ffffffff:ff:1f.7") > 0);
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
	ASSERT_OK(parse_bytes("4096", &x));
	CU_ASSERT_EQUAL(x, 4096);
	ASSERT_OK(parse_bytes("infinity", &x));
	CU_ASSERT_EQUAL(x, UINT64_MAX);
	ASSERT_ERR(parse_bytes("G", &x), EINVAL);
	ASSERT_ERR(parse_bytes("99999999999E", &x), ERANGE);

	/* The suffixes: binary bare letters and IEC, SI with B, any case. */
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{ "0", 0 },
		{ "64", 64 },
		{ "64B", 64 },
		{ "64b", 64 },
		{ "1K", 1024 },
		{ "1k", 1024 },
		{ "1KiB", 1024 },
		{ "1kib", 1024 },
		{ "1kB", 1000 },
		{ "1KB", 1000 },
		{ "512M", 512ULL << 20 },
		{ "512MiB", 512ULL << 20 },
		{ "512MB", 512000000ULL },
		{ "64G", 64ULL << 30 },
		{ "64GiB", 64ULL << 30 },
		{ "64gib", 64ULL << 30 },
		{ "64GB", 64000000000ULL },
		{ "64gb", 64000000000ULL },
		{ "2T", 2ULL << 40 },
		{ "2TiB", 2ULL << 40 },
		{ "2TB", 2000000000000ULL },
		{ "1P", 1ULL << 50 },
		{ "1PB", 1000000000000000ULL },
		{ "15EiB", 15ULL << 60 },
		{ "18EB", 18000000000000000000ULL },
		{ "unlimited", UINT64_MAX },
	};
	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		x = 7;
		if (parse_bytes(ok[i].s, &x) < 0 || x != ok[i].v)
			fprintf(stderr, "parse_bytes(\"%s\"): %" PRIu64 "\n", ok[i].s, x);
		ASSERT_OK(parse_bytes(ok[i].s, &x));
		CU_ASSERT_EQUAL(x, ok[i].v);
	}
	static const struct {
		const char *s;
		int err;
	} bad[] = {
		{ "", EINVAL },
		{ "GiB", EINVAL },
		{ "64 G", EINVAL },
		{ "64Gi", EINVAL },
		{ "64iB", EINVAL },
		{ "64GiBs", EINVAL },
		{ "64X", EINVAL },
		{ "64XB", EINVAL },
		{ "-1", EINVAL },
		{ "+1", EINVAL },
		{ "1.5G", EINVAL },
		{ "64BB", EINVAL },
		{ "64GBi", EINVAL },
		{ "0x10", EINVAL },
		{ "16EiB", ERANGE },
		{ "19EB", ERANGE },
		{ "18446744073709551616", ERANGE },
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		x = 7;
		int r = parse_bytes(bad[i].s, &x);
		if (r != -bad[i].err)
			fprintf(stderr, "parse_bytes(\"%s\"): %d\n", bad[i].s, r);
		CU_ASSERT_EQUAL(r, -bad[i].err);
		CU_ASSERT_EQUAL(x, 7); /* untouched on failure */
	}
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
	{ "bdf_canonical_roundtrip", test_bdf_canonical_roundtrip },
	{ "bdf_cmp", test_bdf_cmp },
	{ "ids", test_ids },
	{ "bytes", test_bytes },
	{ "strv", test_strv },
	{ "proc_memlock", test_proc_memlock },
	{ "strjoin", test_strjoin },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("util", tests);
