/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim against a recorded real kernel. tests/tools/kernel-probe --rules ran in the
 * real-kernel guest (Debian trixie 6.12.107 with iommufd/VFIO cdev modules rebuilt, virtual
 * Intel IOMMU; reference/vm-recipe.md) on an edu device alone in its group and an
 * edu + pci-testdev pair sharing one; its output is tests/tools/kernel-probe-rules.expected.
 * Here the same checks run on the sim over a snapshot of those groups
 * (tests/tools/kernel-probe-guest.json) and must print the same lines: every errno, object
 * id and HWPT id. The snapshot was written by hand from the guest's boot log: groups,
 * members, drivers, cdev names, the MSI window and the 39-bit address width are the
 * guest's; subsystem ids, revisions and cdev majors are placeholders the checks do not use.
 * To re-record: run "kernel-probe --rules SINGLE MF_A MF_B" in the guest and keep the
 * "rule " lines.
 */
#include <limits.h>

#include "common/host.h"
#include "common/kernel-sim.h"
#include "common/kernel.h"
#include "tests/tools/kernel-rules.h"
#include "tests/unit/test.h"

static void test_sim_matches_recorded_kernel(void) {
	char path[PATH_MAX];
	_cleanup_free_ char *err = NULL, *expected = NULL, *got = NULL;
	_cleanup_host_free_ Host *h = NULL;
	_cleanup_kernel_free_ Kernel *k = NULL;
	size_t n_expected, n_got = 0;

	snprintf(path, sizeof(path), "%s/tools/kernel-probe-guest.json", test_dir());
	int r = host_load_json_file(path, &h, &err);
	if (r < 0)
		fprintf(stderr, "%s: %s\n", path, strna(err));
	CU_ASSERT_FATAL(r >= 0);
	snprintf(path, sizeof(path), "%s/tools/kernel-probe-rules.expected", test_dir());
	ASSERT_OK(read_full_file(path, 1 << 20, &expected, &n_expected));

	ASSERT_OK(kernel_new("sim", h, &k));
	/* The recording ran as root with CAP_SYS_RESOURCE. */
	ASSERT_OK(kernel_sim_override_cap_sys_resource(k, 1));
	kr_sim_host = h;
	kr_failures = 0;
	kr_out = open_memstream(&got, &n_got);
	CU_ASSERT_FATAL(kr_out != NULL);
	char *args[] = { (char *)"0000:04:00.0", (char *)"0000:02:00.0", (char *)"0000:02:00.1" };
	ASSERT_OK(probe_rules(k, args, 3));
	fclose(kr_out);
	kr_out = NULL;
	kr_sim_host = NULL;

	CU_ASSERT_EQUAL(kr_failures, 0);
	if (!streq(got, expected)) {
		fprintf(stderr, "--- recorded kernel ---\n%s--- sim ---\n%s", expected, got);
		CU_FAIL("sim output differs from the recorded kernel");
	}
	/* Guard against a vacuous pass: the recording has the expected checks in it. */
	CU_ASSERT_PTR_NOT_NULL(
		strstr(expected, "rule bind_sibling_other_ctx expect=EPERM got=EPERM ok"));
	CU_ASSERT_PTR_NOT_NULL(strstr(expected, "rule replaced hwpt=7 sibling_hwpt=7 same=yes"));
	CU_ASSERT_PTR_NOT_NULL(strstr(expected, "rule auto iovas=0x100000,0x110000,0x10000"));
}

static CU_TestInfo tests[] = {
	{ "sim_matches_recorded_kernel", test_sim_matches_recorded_kernel },
	CU_TEST_INFO_NULL,
};

TEST_SUITE("kernel-rules", tests);
