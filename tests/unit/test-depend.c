/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dependent devices (common/depend.h): reset scopes, reset sets, VFIO dev_sets and the
 * dependents list, table-driven over a hand-written host and the sriov-vfio fixture. The
 * expectations follow the kernel's rules as the header cites them, not the code.
 */
#include "common/depend.h"
#include "common/macro.h"
#include "tests/unit/test.h"

/*
 * The hand-written host:
 *   00:01.0 root port
 *     01:00.0 reset []        (no method: only the bus reset of 00:01.0)
 *     01:00.1 reset [flr]
 *     01:00.2 reset unknown
 *   00:1c.0 root port
 *     06:00.0 reset [bus]     (bus only: the enumeration-order artifact)
 *     06:00.1 a bridge        (a function of the same device)
 *       07:00.0 reset [flr]
 *   00:1d.0 root port
 *     08:00.0 reset [pm, bus] (pm resets the function alone)
 *     08:00.1 reset [cxl_bus]
 *   00:1f.0 reset []          (root bus, no method: never reset)
 *   00:1f.3 reset [acpi]      (root bus)
 *   00:0e.0 a VMD controller (RAID class, no bridge)
 *     10000:e0:06.0 root port in domain 10000 (parent 00:0e.0)
 *       10000:e1:00.0 reset [] (bus reset of 10000:e0:06.0)
 *     10000:e0:17.0 reset [] (on the VMD's root bus: never reset)
 */
#define D(bdf, cls, parent, extra)                                                                 \
	"{\"bdf\": \"" bdf "\", \"vendor\": \"8086\", \"device\": \"0001\", \"class\": \"" cls     \
	"\", \"parent\": " parent extra "}"
static const char
	host_json[] = "{\"format\": \"ioasid-host\", \"version\": 1, \"groups\": [], \"devices\": [" D("0000:00:01.0", "060400", "null", "") "," D("0000:01:00.0", "020000", "\"0000:00:01.0\"", ", \"reset_method\": []") "," D("0000:01:00.1", "020000", "\"0000:00:01.0\"", ", \"reset_method\": [\"flr\"]") "," D("0000:01:00.2", "020000", "\"0000:00:01.0\"", "") "," D("0000:00:1c.0",
																																													      "060400",
																																													      "null", "") "," D("0000:06:00.0",
																																																"020000",
																																																"\"0000:00:1c.0\"",
																																																", \"reset_method\": [\"bus\"]") "," D("0000:06:00.1",
																																																				       "060400",
																																																				       "\"0000:00:1c.0\"",
																																																				       "") "," D("0000:07:00.0",
																																																						 "020000",
																																																						 "\"0000:06:00.1\"", ", \"reset_method\": [\"flr\"]") "," D("0000:00:1d.0", "060400", "null", "") "," D("0000:08:00.0",
																																																																			"020000", "\"0000:00:1d.0\"", ", \"reset_method\": [\"pm\", \"bus\"]") "," D("0000:08:00.1",
																																																																												     "020000", "\"0000:00:1d.0\"", ", \"reset_method\": [\"cxl_bus\"]") "," D("0000:00:1f.0", "060100",
																																																																																					      "null", ", \"reset_method\": []") "," D("0000:00:1f.3",
																																																																																										      "040300", "null", ", \"reset_method\": [\"acpi\"]") "," D("0000:00:0e.0", "010400", "null", "") "," D("10000:e0:06.0",
																																																																																																							    "060400", "\"0000:00:0e.0\"", "") "," D("10000:e1:00.0",
																																																																																																												    "010802",
																																																																																																												    "\"10000:e0:06.0\"",
																																																																																																												    ", \"reset_method\": []") "," D("10000:e0:17.0",
																																																																																																																    "010601",
																																																																																																																    "\"0000:00:0e.0\"", ", \"reset_method\": []") "]}";

typedef struct ResetCase {
	const char *bdf;
	ResetScope scope;
	const char *set;        /* the reset set, space-separated, the device first */
	const char *dependents; /* "BDF:kind ...", host order */
} ResetCase;

static const ResetCase reset_cases[] = {
	{ "0000:01:00.0", RESET_SCOPE_BUS, "0000:01:00.0 0000:01:00.1 0000:01:00.2",
	  "0000:01:00.1:reset 0000:01:00.2:reset" },
	/* Its own FLR resets it alone, but 01:00.0's bus reset takes it down. */
	{ "0000:01:00.1", RESET_SCOPE_FUNCTION, "0000:01:00.1", "0000:01:00.0:reset" },
	{ "0000:01:00.2", RESET_SCOPE_UNKNOWN, "0000:01:00.2", "0000:01:00.0:reset" },
	/* Below the sibling bridge too; the bridge itself is nobody's device. */
	{ "0000:06:00.0", RESET_SCOPE_BUS, "0000:06:00.0 0000:07:00.0", "0000:07:00.0:reset" },
	{ "0000:07:00.0", RESET_SCOPE_FUNCTION, "0000:07:00.0", "0000:06:00.0:reset" },
	{ "0000:06:00.1", RESET_SCOPE_UNKNOWN, "0000:06:00.1", "" },
	/* pm is function-level whatever follows; cxl_bus is a bus reset. */
	{ "0000:08:00.0", RESET_SCOPE_FUNCTION, "0000:08:00.0", "0000:08:00.1:reset" },
	{ "0000:08:00.1", RESET_SCOPE_BUS, "0000:08:00.1 0000:08:00.0", "0000:08:00.0:reset" },
	{ "0000:00:1f.0", RESET_SCOPE_NONE, "0000:00:1f.0", "" },
	{ "0000:00:1f.3", RESET_SCOPE_FUNCTION, "0000:00:1f.3", "" },
	{ "10000:e1:00.0", RESET_SCOPE_BUS, "10000:e1:00.0", "" },
	{ "10000:e0:17.0", RESET_SCOPE_NONE, "10000:e0:17.0", "" },
};

static void list_devices(const Device **l, size_t n, char *buf, size_t size) {
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? " " : "", l[i]->bdf);
}

static void list_dependents(const Dependent *l, size_t n, char *buf, size_t size) {
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s:%s", i ? " " : "",
			 l[i].device->bdf, depend_kind_to_string(l[i].kind));
}

static void test_reset_sets(void) {
	_cleanup_host_free_ Host *h = NULL;
	_cleanup_free_ char *err = NULL;
	int r = host_load_json_string(host_json, &h, &err);
	if (r < 0)
		fprintf(stderr, "%s\n", strna(err));
	ASSERT_OK(r);
	for (size_t i = 0; i < ELEMENTSOF(reset_cases); i++) {
		const ResetCase *c = &reset_cases[i];
		const Device *d = host_find_device(h, c->bdf);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		if (depend_reset_scope(h, d) != c->scope)
			fprintf(stderr, "%s: scope %s, expected %s\n", c->bdf,
				reset_scope_to_string(depend_reset_scope(h, d)),
				reset_scope_to_string(c->scope));
		CU_ASSERT_EQUAL(depend_reset_scope(h, d), c->scope);
		_cleanup_free_ const Device **set = NULL;
		size_t n = 0;
		char buf[512];
		ASSERT_OK(depend_reset_set(h, d, &set, &n));
		list_devices(set, n, buf, sizeof(buf));
		ASSERT_STREQ(buf, c->set);
		_cleanup_free_ Dependent *deps = NULL;
		ASSERT_OK(depend_dependents(h, d, &deps, &n));
		list_dependents(deps, n, buf, sizeof(buf));
		ASSERT_STREQ(buf, c->dependents);
	}
}

static void test_method_names(void) {
	static const struct {
		const char *name;
		bool function_level;
	} names[] = {
		{ "device_specific", true }, { "acpi", true },  { "flr", true },
		{ "af_flr", true },          { "pm", true },    { "bus", false },
		{ "cxl_bus", false },        { "slot", false }, { "", false },
	};
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		CU_ASSERT_EQUAL(depend_method_is_function_level(names[i].name),
				names[i].function_level);
	CU_ASSERT_FALSE(depend_method_is_function_level(NULL));
	for (int s = 0; s < _RESET_SCOPE_MAX; s++)
		CU_ASSERT_PTR_NOT_NULL(reset_scope_to_string((ResetScope)s));
	CU_ASSERT_PTR_NULL(reset_scope_to_string(_RESET_SCOPE_MAX));
}

/* The fixture: a PF and two VFs on vfio-pci, a two-function device without FLR. */
static void test_sriov_fixture(void) {
	_cleanup_host_free_ Host *h = test_load_fixture("sriov-vfio.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	static const struct {
		const char *bdf;
		const char *dependents;
		const char *dev_set;
	} cases[] = {
		{ "0000:01:00.0", "0000:01:10.0:vf 0000:01:10.2:vf", "0000:01:00.0" },
		/* A VF depends on its PF, not on its sibling VFs; its dev_set is its own. */
		{ "0000:01:10.0", "0000:01:00.0:pf", "0000:01:10.0" },
		{ "0000:01:10.2", "0000:01:00.0:pf", "0000:01:10.2" },
		{ "0000:02:00.0", "0000:02:00.1:reset", "0000:02:00.0 0000:02:00.1" },
		{ "0000:02:00.1", "0000:02:00.0:reset", "0000:02:00.1 0000:02:00.0" },
		/* A bridge depends on nothing and is alone on the root bus. */
		{ "0000:00:02.0", "", "0000:00:02.0" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const Device *d = host_find_device(h, cases[i].bdf);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		_cleanup_free_ Dependent *deps = NULL;
		_cleanup_free_ const Device **set = NULL;
		size_t n = 0;
		char buf[512];
		ASSERT_OK(depend_dependents(h, d, &deps, &n));
		list_dependents(deps, n, buf, sizeof(buf));
		ASSERT_STREQ(buf, cases[i].dependents);
		ASSERT_OK(depend_dev_set(h, d, &set, &n));
		list_devices(set, n, buf, sizeof(buf));
		ASSERT_STREQ(buf, cases[i].dev_set);
	}
	CU_ASSERT_EQUAL(depend_reset_scope(h, host_find_device(h, "0000:02:00.1")),
			RESET_SCOPE_BUS);
	CU_ASSERT_EQUAL(depend_reset_scope(h, host_find_device(h, "0000:01:00.0")),
			RESET_SCOPE_FUNCTION);
}

/* Fixtures without reset_method (every other one) depend only through SR-IOV. */
static void test_unknown_fixture(void) {
	_cleanup_host_free_ Host *h = test_load_fixture("sriov-nic.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	const Device *pf = host_find_device(h, "0000:3b:00.0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pf);
	CU_ASSERT_EQUAL(depend_reset_scope(h, pf), RESET_SCOPE_UNKNOWN);
	_cleanup_free_ Dependent *deps = NULL;
	size_t n = 0;
	char buf[512];
	ASSERT_OK(depend_dependents(h, host_find_device(h, "0000:3b:00.1"), &deps, &n));
	CU_ASSERT_EQUAL(n, 0);
	free(deps);
	deps = NULL;
	ASSERT_OK(depend_dependents(h, pf, &deps, &n));
	list_dependents(deps, n, buf, sizeof(buf));
	ASSERT_STREQ(buf, "0000:3b:02.0:vf 0000:3b:02.1:vf 0000:3b:02.2:vf 0000:3b:02.3:vf");
}

static CU_TestInfo tests[] = {
	{ "reset_sets", test_reset_sets },
	{ "method_names", test_method_names },
	{ "sriov_fixture", test_sriov_fixture },
	{ "unknown_fixture", test_unknown_fixture },
	CU_TEST_INFO_NULL,
};

TEST_SUITE("depend", tests);
