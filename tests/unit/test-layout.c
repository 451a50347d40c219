/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Layout validation, table-driven against hand-built hosts whose reserved regions are the
 * ones real machines report (x86 MSI window, an Intel RMRR, a relaxable RMRR, the AMD
 * HyperTransport hole). */
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>

#include "common/client/layout.h"
#include "common/macro.h"
#include "tests/unit/test.h"

/* ---- host "intel": 39-bit VT-d, group 17 with a GPU and its audio function ---- */
static ReservedRegion intel_g17_regions[] = {
	{ 0x80000000, 0x80ffffff, RESV_DIRECT_RELAXABLE },
	{ 0xbd000000, 0xbd0fffff, RESV_DIRECT },
	{ 0xfee00000, 0xfeefffff, RESV_MSI },
};
static Group intel_groups[] = {
	{ .number = 17, .regions = intel_g17_regions, .n_regions = ELEMENTSOF(intel_g17_regions) },
};
static Device intel_devices[] = {
	/* group pointer set, as host_finalize() links it */
	{ .bdf = "0000:01:00.0", .iommu_group = 17, .group = &intel_groups[0] },
	/* group pointer left NULL: found by number */
	{ .bdf = "0000:01:00.1", .iommu_group = 17 },
	{ .bdf = "0000:03:00.0", .iommu_group = -1 },
	{ .bdf = "0000:04:00.0", .iommu_group = 99 },
};
static Host intel_host = {
	.kernel = { .address_width = 39 },
	.devices = intel_devices,
	.n_devices = ELEMENTSOF(intel_devices),
	.groups = intel_groups,
	.n_groups = ELEMENTSOF(intel_groups),
};

/* ---- host "amd": width unknown (0), group 5 with the HyperTransport reserved hole ---- */
static ReservedRegion amd_g5_regions[] = {
	{ 0xfee00000, 0xfeefffff, RESV_MSI },
	{ 0xfd00000000, 0xffffffffff, RESV_RESERVED },
};
static Group amd_groups[] = {
	{ .number = 5, .regions = amd_g5_regions, .n_regions = ELEMENTSOF(amd_g5_regions) },
};
static Device amd_devices[] = {
	{ .bdf = "0000:41:00.0", .iommu_group = 5, .group = &amd_groups[0] },
};
static Host amd_host = {
	.kernel = { .address_width = 0 },
	.devices = amd_devices,
	.n_devices = ELEMENTSOF(amd_devices),
	.groups = amd_groups,
	.n_groups = ELEMENTSOF(amd_groups),
};

#define MAX_WINDOWS 4
#define MAX_DEVICES 4
#define MAX_CONFLICTS 4

typedef struct LayoutCase {
	const char *name;
	const Host *host;
	IovaRange windows[MAX_WINDOWS];
	size_t n_windows;
	const char *devices[MAX_DEVICES]; /* BDFs, NULL-terminated */
	uint64_t page_size;
	int expected; /* number of conflicts, or -errno */
	struct {
		LayoutConflictType type;
		const char *message;
	} conflicts[MAX_CONFLICTS];
} LayoutCase;

/* A row per case, laid out by hand: clang-format 14 would give every field of a row that
 * holds a nested list its own line. */
/* clang-format off */
static const LayoutCase cases[] = {
	{ "above-4g-clear", &intel_host, { { 0x100000000, 0x1ffffffff } }, 1,
	  { "0000:01:00.0" }, 4096, 0, {} },
	{ "no-windows", &intel_host, {}, 0, { "0000:01:00.0" }, 4096, 0, {} },
	{ "low-4g-hits-rmrr-and-msi", &intel_host, { { 0x0, 0xffffffff } }, 1,
	  { "0000:01:00.0" }, 4096, 2,
	  { { LAYOUT_CONFLICT_RESERVED, "window 0x0-0xffffffff overlaps the direct region "
					"0xbd000000-0xbd0fffff of group 17" },
	    { LAYOUT_CONFLICT_RESERVED, "window 0x0-0xffffffff overlaps the msi region "
					"0xfee00000-0xfeefffff of group 17" } } },
	{ "relaxable-rmrr-is-usable", &intel_host, { { 0x80000000, 0x80ffffff } }, 1,
	  { "0000:01:00.0" }, 4096, 0, {} },
	{ "group-reported-once", &intel_host, { { 0xfee00000, 0xfee00fff } }, 1,
	  { "0000:01:00.0", "0000:01:00.1" }, 4096, 1,
	  { { LAYOUT_CONFLICT_RESERVED, "window 0xfee00000-0xfee00fff overlaps the msi region "
					"0xfee00000-0xfeefffff of group 17" } } },
	{ "group-by-number", &intel_host, { { 0xfeeff000, 0xfeefffff } }, 1,
	  { "0000:01:00.1" }, 4096, 1,
	  { { LAYOUT_CONFLICT_RESERVED, "window 0xfeeff000-0xfeefffff overlaps the msi region "
					"0xfee00000-0xfeefffff of group 17" } } },
	{ "touching-msi-is-clear", &intel_host,
	  { { 0xfed00000, 0xfedfffff }, { 0xfef00000, 0xfeffffff } }, 2, { "0000:01:00.0" }, 4096,
	  0, {} },
	{ "address-width-top-ok", &intel_host, { { 0x7ffff00000, 0x7fffffffff } }, 1,
	  { "0000:01:00.0" }, 4096, 0, {} },
	{ "address-width-exceeded", &intel_host, { { 0x7ffff00000, 0x8000000fff } }, 1,
	  { "0000:01:00.0" }, 4096, 1,
	  { { LAYOUT_CONFLICT_ADDRESS_WIDTH,
	      "window 0x7ffff00000-0x8000000fff exceeds the IOMMU's 39-bit address width "
	      "(highest IOVA 0x7fffffffff)" } } },
	{ "unaligned-start", &intel_host, { { 0x100001000 + 1, 0x100001fff } }, 1, {}, 4096, 1,
	  { { LAYOUT_CONFLICT_UNALIGNED,
	      "window 0x100001001-0x100001fff does not start on a page boundary (0x100001001 is "
	      "not a multiple of the 4096-byte page)" } } },
	{ "unaligned-end", &intel_host, { { 0x100001000, 0x100001ffe } }, 1, {}, 4096, 1,
	  { { LAYOUT_CONFLICT_UNALIGNED,
	      "window 0x100001000-0x100001ffe does not end on a page boundary (last + 1 = "
	      "0x100001fff is not a multiple of the 4096-byte page)" } } },
	{ "64k-pages", &intel_host, { { 0x100010000, 0x10001ffff }, { 0x100021000, 0x100021fff } },
	  2, {}, 65536, 2,
	  { { LAYOUT_CONFLICT_UNALIGNED,
	      "window 0x100021000-0x100021fff does not start on a page boundary (0x100021000 is "
	      "not a multiple of the 65536-byte page)" },
	    { LAYOUT_CONFLICT_UNALIGNED,
	      "window 0x100021000-0x100021fff does not end on a page boundary (last + 1 = "
	      "0x100022000 is not a multiple of the 65536-byte page)" } } },
	{ "empty-window", &intel_host, { { 0x2000, 0x1fff } }, 1, { "0000:01:00.0" }, 4096, 1,
	  { { LAYOUT_CONFLICT_EMPTY,
	      "window 0x2000-0x1fff is empty: its start is above its last address" } } },
	{ "unsorted", &intel_host, { { 0x100200000, 0x1002fffff }, { 0x100100000, 0x1001fffff } },
	  2, {}, 4096, 1,
	  { { LAYOUT_CONFLICT_UNSORTED,
	      "window 0x100100000-0x1001fffff comes after window 0x100200000-0x1002fffff: windows "
	      "must be sorted by address" } } },
	{ "overlap", &intel_host, { { 0x100100000, 0x1002fffff }, { 0x100200000, 0x1003fffff } },
	  2, {}, 4096, 1,
	  { { LAYOUT_CONFLICT_OVERLAP,
	      "window 0x100100000-0x1002fffff overlaps window 0x100200000-0x1003fffff" } } },
	{ "no-group", &intel_host, { { 0x100000000, 0x1ffffffff } }, 1, { "0000:03:00.0" }, 4096,
	  1,
	  { { LAYOUT_CONFLICT_NO_GROUP,
	      "device 0000:03:00.0 has no IOMMU group: it cannot be attached to an IOAS" } } },
	{ "unknown-group", &intel_host, { { 0x100000000, 0x1ffffffff } }, 1, { "0000:04:00.0" },
	  4096, 1,
	  { { LAYOUT_CONFLICT_NO_GROUP,
	      "device 0000:04:00.0 is in group 99, which the host does not describe: its reserved "
	      "regions are unknown" } } },
	{ "amd-ht-hole", &amd_host, { { 0x100000000, 0xffffffffff } }, 1, { "0000:41:00.0" }, 4096,
	  1,
	  { { LAYOUT_CONFLICT_RESERVED,
	      "window 0x100000000-0xffffffffff overlaps the reserved region "
	      "0xfd00000000-0xffffffffff of group 5" } } },
	{ "top-of-64-bit-space", &amd_host, { { 0xfffffffffffff000, 0xffffffffffffffff } }, 1,
	  { "0000:41:00.0" }, 4096, 0, {} },
	{ "bad-page-size", &amd_host, { { 0x0, 0xfff } }, 1, {}, 3000, -EINVAL, {} },
	{ "zero-page-size", &amd_host, { { 0x0, 0xfff } }, 1, {}, 0, -EINVAL, {} },
};
/* clang-format on */

static const Device *find(const Host *h, const char *bdf) {
	for (size_t i = 0; i < h->n_devices; i++)
		if (streq(h->devices[i].bdf, bdf))
			return &h->devices[i];
	return NULL;
}

static void run_case(const LayoutCase *t) {
	const Device *devs[MAX_DEVICES];
	size_t n_devs = 0;
	for (; n_devs < MAX_DEVICES && t->devices[n_devs]; n_devs++) {
		devs[n_devs] = find(t->host, t->devices[n_devs]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(devs[n_devs]);
	}

	IovaRange windows[MAX_WINDOWS];
	memcpy(windows, t->windows, sizeof(windows));
	PolicyLayout l = { .name = (char *)t->name, .windows = windows, .n_windows = t->n_windows };

	LayoutConflict *c = NULL;
	size_t n = SIZE_MAX;
	int r = layout_check(&l, t->host, devs, n_devs, t->page_size, &c, &n);
	if (r != t->expected) {
		fprintf(stderr, "\n%s: expected %d, got %d\n", t->name, t->expected, r);
		for (size_t i = 0; r > 0 && i < n; i++)
			fprintf(stderr, "  %s\n", c[i].message);
	}
	CU_ASSERT_EQUAL(r, t->expected);
	if (t->expected < 0) {
		CU_ASSERT_PTR_NULL(c);
		CU_ASSERT_EQUAL(n, SIZE_MAX); /* not written on failure */
		return;
	}
	CU_ASSERT_EQUAL(n, (size_t)t->expected);
	CU_ASSERT_TRUE(t->expected == 0 ? c == NULL : c != NULL);
	for (size_t i = 0; i < n && i < (size_t)t->expected && i < MAX_CONFLICTS; i++) {
		CU_ASSERT_EQUAL(c[i].type, t->conflicts[i].type);
		ASSERT_STREQ(c[i].message, t->conflicts[i].message);
	}
	layout_conflicts_free(c, n);
}

static void test_table(void) {
	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		run_case(&cases[i]);
}

/* The structured fields are what --json prints: check them, not only the message. */
static void test_fields(void) {
	IovaRange w[] = { { 0x100000000, 0x1ffffffff }, { 0xfee00000, 0xfeefffff } };
	PolicyLayout l = { .name = (char *)"x", .windows = w, .n_windows = ELEMENTSOF(w) };
	const Device *devs[] = { &intel_devices[1], &intel_devices[2] };
	LayoutConflict *c = NULL;
	size_t n = 0;

	/* unsorted (window 1 after 0), reserved (msi of group 17), no group (03:00.0) */
	ASSERT_OK(layout_check(&l, &intel_host, devs, ELEMENTSOF(devs), 4096, &c, &n));
	CU_ASSERT_EQUAL_FATAL(n, 3);

	CU_ASSERT_EQUAL(c[0].type, LAYOUT_CONFLICT_UNSORTED);
	CU_ASSERT_EQUAL(c[0].window, 1);
	CU_ASSERT_EQUAL(c[0].other_window, 0);
	CU_ASSERT_EQUAL(c[0].group, -1);

	CU_ASSERT_EQUAL(c[1].type, LAYOUT_CONFLICT_RESERVED);
	CU_ASSERT_EQUAL(c[1].window, 1);
	CU_ASSERT_EQUAL(c[1].other_window, SIZE_MAX);
	CU_ASSERT_EQUAL(c[1].group, 17);
	ASSERT_STREQ(c[1].bdf, "0000:01:00.1");
	CU_ASSERT_EQUAL(c[1].region.start, 0xfee00000);
	CU_ASSERT_EQUAL(c[1].region.end, 0xfeefffff);
	CU_ASSERT_EQUAL(c[1].region.type, RESV_MSI);

	CU_ASSERT_EQUAL(c[2].type, LAYOUT_CONFLICT_NO_GROUP);
	CU_ASSERT_EQUAL(c[2].window, SIZE_MAX);
	CU_ASSERT_EQUAL(c[2].group, -1);
	ASSERT_STREQ(c[2].bdf, "0000:03:00.0");

	layout_conflicts_free(c, n);

	/* Without ret the count is still returned. */
	CU_ASSERT_EQUAL(layout_check(&l, &intel_host, devs, ELEMENTSOF(devs), 4096, NULL, NULL), 3);
}

static void test_type_names(void) {
	ASSERT_STREQ(layout_conflict_type_to_string(LAYOUT_CONFLICT_RESERVED), "reserved");
	ASSERT_STREQ(layout_conflict_type_to_string(LAYOUT_CONFLICT_ADDRESS_WIDTH),
		     "address-width");
	ASSERT_STREQ(layout_conflict_type_to_string(LAYOUT_CONFLICT_NO_GROUP), "no-group");
	for (int t = 0; t < _LAYOUT_CONFLICT_TYPE_MAX; t++)
		CU_ASSERT_PTR_NOT_NULL(layout_conflict_type_to_string(t));
	CU_ASSERT_PTR_NULL(layout_conflict_type_to_string(_LAYOUT_CONFLICT_TYPE_MAX));
}

/*
 * Against every fixture host (the JSON files in tests/hosts, regions real machines report): for
 * each group, a window covering the whole IOMMU address space (or the whole 64-bit space
 * when the width is unknown) conflicts exactly once with every region that is not
 * direct-relaxable, naming it; a window covering each region alone (rounded out to pages)
 * conflicts with that region unless it is relaxable.
 */
static bool has_region_conflict(const LayoutConflict *c, size_t n, const Group *g,
				const ReservedRegion *rr) {
	for (size_t i = 0; i < n; i++)
		if (c[i].type == LAYOUT_CONFLICT_RESERVED && c[i].group == g->number &&
		    c[i].region.start == rr->start && c[i].region.end == rr->end &&
		    c[i].region.type == rr->type)
			return true;
	return false;
}

static void test_fixtures(void) {
	char pattern[PATH_MAX];
	glob_t gl = {};
	size_t checked_regions = 0, relaxable = 0;

	snprintf(pattern, sizeof(pattern), "%s/hosts/*.json", test_dir());
	CU_ASSERT_EQUAL_FATAL(glob(pattern, 0, NULL, &gl), 0);
	for (size_t f = 0; f < gl.gl_pathc; f++) {
		_cleanup_host_free_ Host *h = NULL;
		_cleanup_free_ char *err = NULL;
		int r = host_load_json_file(gl.gl_pathv[f], &h, &err);
		if (r < 0)
			fprintf(stderr, "%s: %s\n", gl.gl_pathv[f], strna(err));
		ASSERT_OK(r);

		int aw = h->kernel.address_width;
		IovaRange all = { 0, aw > 0 && aw < 64 ? (UINT64_C(1) << aw) - 1 : UINT64_MAX };
		for (size_t gi = 0; gi < h->n_groups; gi++) {
			const Group *g = &h->groups[gi];
			if (g->n_members == 0)
				continue;
			const Device *dev[] = { g->members[0] };
			size_t want = 0;
			for (size_t k = 0; k < g->n_regions; k++)
				want += g->regions[k].type != RESV_DIRECT_RELAXABLE;

			PolicyLayout l = { .name = (char *)"all", .windows = &all, .n_windows = 1 };
			LayoutConflict *c = NULL;
			size_t n = 0;
			r = layout_check(&l, h, dev, 1, 4096, &c, &n);
			CU_ASSERT_EQUAL(r, (int)want);
			for (size_t k = 0; k < g->n_regions; k++)
				CU_ASSERT_EQUAL(has_region_conflict(c, n, g, &g->regions[k]),
						g->regions[k].type != RESV_DIRECT_RELAXABLE);
			for (size_t i = 0; i < n; i++) {
				CU_ASSERT_EQUAL(c[i].type, LAYOUT_CONFLICT_RESERVED);
				ASSERT_STREQ(c[i].bdf, g->members[0]->bdf);
				char group[32];
				snprintf(group, sizeof(group), " of group %d", g->number);
				CU_ASSERT_PTR_NOT_NULL(strstr(c[i].message, group));
			}
			layout_conflicts_free(c, n);

			for (size_t k = 0; k < g->n_regions; k++) {
				const ReservedRegion *rr = &g->regions[k];
				IovaRange w = { rr->start & ~UINT64_C(0xfff), rr->end | 0xfff };
				l.windows = &w;
				c = NULL;
				n = 0;
				ASSERT_OK(layout_check(&l, h, dev, 1, 4096, &c, &n));
				CU_ASSERT_EQUAL(has_region_conflict(c, n, g, rr),
						rr->type != RESV_DIRECT_RELAXABLE);
				layout_conflicts_free(c, n);
				checked_regions++;
				relaxable += rr->type == RESV_DIRECT_RELAXABLE;
			}
		}
	}
	globfree(&gl);
	/* The fixtures must actually exercise both sides. */
	CU_ASSERT_TRUE(checked_regions > 10);
	CU_ASSERT_TRUE(relaxable > 0);
}

/* iova auto: the windows resolved on the hand-built hosts, exactly. */
static void test_auto_windows(void) {
	PolicyLayout l = { .name = (char *)"auto", .iova_auto = true, .iova_max = UINT64_MAX };
	IovaRange *w = NULL;
	size_t n = 0;

	/* Intel, 39 bits: the relaxable RMRR stays usable, the direct one and MSI do not. */
	const Device *intel[] = { &intel_devices[0], &intel_devices[1] };
	ASSERT_OK(policy_layout_windows(&l, &intel_host, intel, 2, 4096, &w, &n));
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_EQUAL(w[0].start, 0);
	CU_ASSERT_EQUAL(w[0].last, 0xbcffffff);
	CU_ASSERT_EQUAL(w[1].start, 0xbd100000);
	CU_ASSERT_EQUAL(w[1].last, 0xfedfffff);
	CU_ASSERT_EQUAL(w[2].start, 0xfef00000);
	CU_ASSERT_EQUAL(w[2].last, (UINT64_C(1) << 39) - 1);
	free(w);

	/* AMD, width unknown, capped below the HyperTransport hole's end: the hole is cut. */
	l.iova_max = 0xffffffffffff;
	const Device *amd[] = { &amd_devices[0] };
	ASSERT_OK(policy_layout_windows(&l, &amd_host, amd, 1, 4096, &w, &n));
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_EQUAL(w[0].last, 0xfedfffff);
	CU_ASSERT_EQUAL(w[1].start, 0xfef00000);
	CU_ASSERT_EQUAL(w[1].last, 0xfcffffffff);
	CU_ASSERT_EQUAL(w[2].start, 0x10000000000);
	CU_ASSERT_EQUAL(w[2].last, 0xffffffffffff);
	free(w);

	/* A cap inside the MSI window ends the windows below it; a cap not at a page end is
	 * rounded down to one. */
	l.iova_max = 0xfee12345;
	ASSERT_OK(policy_layout_windows(&l, &amd_host, amd, 1, 4096, &w, &n));
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(w[0].last, 0xfedfffff);
	free(w);

	/* Reserved regions not on page boundaries are widened to whole pages. */
	ReservedRegion odd[] = { { 0x1800, 0x27ff, RESV_MSI } };
	Group og = { .number = 1, .regions = odd, .n_regions = 1 };
	Device od = { .bdf = "0000:05:00.0", .iommu_group = 1, .group = &og };
	Host oh = { .kernel = { .address_width = 20 },
		    .devices = &od,
		    .n_devices = 1,
		    .groups = &og,
		    .n_groups = 1 };
	const Device *odv[] = { &od };
	l.iova_max = UINT64_MAX;
	ASSERT_OK(policy_layout_windows(&l, &oh, odv, 1, 4096, &w, &n));
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(w[0].start, 0);
	CU_ASSERT_EQUAL(w[0].last, 0xfff);
	CU_ASSERT_EQUAL(w[1].start, 0x3000);
	CU_ASSERT_EQUAL(w[1].last, 0xfffff);
	free(w);

	/* Written windows come back as written; a bad page size is refused. */
	IovaRange written[] = { { 0x1000, 0x1fff } };
	PolicyLayout wl = { .name = (char *)"w", .windows = written, .n_windows = 1 };
	ASSERT_OK(policy_layout_windows(&wl, &oh, odv, 1, 4096, &w, &n));
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(w[0].start, 0x1000);
	free(w);
	ASSERT_ERR(policy_layout_windows(&l, &oh, odv, 1, 3000, &w, &n), EINVAL);

	/* Which settings need an IOAS the daemon allocates (attached mode). */
	PolicyLayout acc = { .name = (char *)"acc", .huge_pages = true };
	CU_ASSERT_FALSE(policy_layout_needs_attached(&acc));
	acc.iova_auto = true;
	acc.iova_max = UINT64_MAX;
	CU_ASSERT_FALSE(policy_layout_needs_attached(&acc));
	acc.iova_max = 0xffffffffff;
	CU_ASSERT_TRUE(policy_layout_needs_attached(&acc));
	acc.iova_auto = false;
	acc.huge_pages = false;
	CU_ASSERT_TRUE(policy_layout_needs_attached(&acc));
	CU_ASSERT_TRUE(policy_layout_needs_attached(&wl));
}

/* The documented `vm` layout (iova auto max 0xffffffffffff) fits every group of every example
 * host, and layout_check() resolves iova auto itself. */
static void test_auto_fixtures(void) {
	char pattern[PATH_MAX];
	glob_t gl = {};
	size_t groups = 0;
	PolicyLayout l = { .name = (char *)"vm",
			   .iova_auto = true,
			   .iova_max = 0xffffffffffff,
			   .huge_pages = true };

	snprintf(pattern, sizeof(pattern), "%s/hosts/*.json", test_dir());
	CU_ASSERT_EQUAL_FATAL(glob(pattern, 0, NULL, &gl), 0);
	for (size_t f = 0; f < gl.gl_pathc; f++) {
		_cleanup_host_free_ Host *h = NULL;
		ASSERT_OK(host_load_json_file(gl.gl_pathv[f], &h, NULL));
		for (size_t gi = 0; gi < h->n_groups; gi++) {
			const Group *g = &h->groups[gi];
			if (g->n_members == 0)
				continue;
			const Device *dev[] = { g->members[0] };
			LayoutConflict *c = NULL;
			size_t n = 0;
			int r = layout_check(&l, h, dev, 1, 4096, &c, &n);
			if (r != 0)
				fprintf(stderr, "%s group %d: %s\n", gl.gl_pathv[f], g->number,
					n ? c[0].message : "error");
			CU_ASSERT_EQUAL(r, 0);
			layout_conflicts_free(c, n);
			groups++;
		}
	}
	globfree(&gl);
	CU_ASSERT_TRUE(groups > 20);
}

/* One test per line: clang-format 14 would pack this table into columns. */
/* clang-format off */
static CU_TestInfo tests[] = {
	{ "auto-windows", test_auto_windows },
	{ "auto-fixtures", test_auto_fixtures },
	{ "table", test_table },
	{ "fields", test_fields },
	{ "fixtures", test_fixtures },
	{ "type-names", test_type_names },
	CU_TEST_INFO_NULL,
};
/* clang-format on */
TEST_SUITE("layout", tests);
