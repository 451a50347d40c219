/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Viability, table-driven: a hand-built host with one group per state or combination, and
 * for each group the expected verdict, every blocker's reason and fixes, and every note.
 */
#include "common/macro.h"
#include "common/pci-class.h"
#include "common/viability.h"
#include "tests/unit/test.h"

static char *netdevs_pf[] = { "enp59s0f0", NULL };
static char *netdevs_two[] = { "eth0", "eth1", NULL };

#define DEV(b, v, dv, cls, drv, grp)                                                               \
	.bdf = b, .vendor = v, .device = dv, .class = cls, .driver = drv, .iommu_group = grp,      \
	.numa_node = -1

/* Sorted by BDF, as host.h requires. */
static Device devices[] = {
	{ DEV("0000:00:01.0", 0x8086, 0x1901, 0x060400, "pcieport", 1) },
	{ DEV("0000:01:00.0", 0x10de, 0x2204, 0x030000, "vfio-pci", 17), .vfio_name = "vfio0" },
	{ DEV("0000:01:00.1", 0x10de, 0x1aef, 0x040300, "snd_hda_intel", 17) },
	{ DEV("0000:02:00.0", 0x1c5c, 0x174a, 0x010802, "pci-stub", 18) },
	{ DEV("0000:02:00.1", 0x1912, 0x0014, 0x0c0330, NULL, 18) },
	{ DEV("0000:03:00.0", 0x144d, 0xa808, 0x010802, "nvme", 19) },
	{ DEV("0000:03:00.1", 0x1022, 0x149c, 0x0c0330, "xhci_hcd", 19) },
	{ DEV("0000:04:00.0", 0x8086, 0x1533, 0x020000, NULL, 22) },
	{ DEV("0000:05:00.0", 0x8086, 0x10d3, 0x020000, "vfio-pci", 23), .vfio_name = "vfio2",
	  .noiommu = true },
	{ DEV("0000:06:00.0", 0x15b3, 0x101e, 0x020000, "mlx5_vfio_pci", 24) },
	{ DEV("0000:07:00.0", 0x8086, 0x1572, 0x020000, "i40e", 25), .netdevs = netdevs_two },
	{ DEV("0000:08:00.0", 0x1234, 0x11e8, 0x00ff00, NULL, -1) },
	{ DEV("0000:09:00.0", 0x1234, 0x11e9, 0x123456, "foo", 26) },
	{ DEV("0000:3b:00.0", 0x8086, 0x1528, 0x020000, "ixgbe", 20), .netdevs = netdevs_pf,
	  .sriov_numvfs = 1 },
	{ DEV("0000:3b:02.0", 0x8086, 0x1515, 0x020000, "vfio-pci", 21), .vfio_name = "vfio1",
	  .physfn = "0000:3b:00.0" },
	{ DEV("0000:3b:02.1", 0x8086, 0x1515, 0x020000, "ixgbevf", 27), .physfn = "0000:3b:00.0" },
};

static int group_numbers[] = { 1, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27 };
static Group groups[ELEMENTSOF(group_numbers)];
static Device *members[ELEMENTSOF(group_numbers)][ELEMENTSOF(devices)];
static Host host;

static void host_build(void) {
	memset(groups, 0, sizeof(groups));
	for (size_t i = 0; i < ELEMENTSOF(group_numbers); i++) {
		groups[i].number = group_numbers[i];
		groups[i].members = members[i];
		groups[i].type = group_numbers[i] == 22 ? "identity" : "DMA-FQ";
		for (size_t j = 0; j < ELEMENTSOF(devices); j++)
			if (devices[j].iommu_group == group_numbers[i]) {
				members[i][groups[i].n_members++] = &devices[j];
				devices[j].group = &groups[i];
			}
	}
	host = (Host){
		.kernel = { .iommu_vendor = "intel",
			    .interrupt_remapping = TRI_YES,
			    .iommufd = TRI_YES,
			    .vfio_cdev = TRI_YES,
			    .vfio_pci = TRI_YES,
			    .vfio_legacy = TRI_YES,
			    .noiommu_mode = TRI_NO },
		.devices = devices,
		.n_devices = ELEMENTSOF(devices),
		.groups = groups,
		.n_groups = ELEMENTSOF(groups),
	};
}

static const Group *group_get(int number) {
	for (size_t i = 0; i < ELEMENTSOF(groups); i++)
		if (groups[i].number == number)
			return &groups[i];
	return NULL;
}

static const Device *device_get(const char *bdf) {
	for (size_t i = 0; i < ELEMENTSOF(devices); i++)
		if (streq(devices[i].bdf, bdf))
			return &devices[i];
	return NULL;
}

#define FIX(b) "ioasidctl bind " b
#define FIX_SYSFS(b)                                                                               \
	"echo vfio-pci > /sys/bus/pci/devices/" b "/driver_override; echo " b                      \
	" > /sys/bus/pci/devices/" b "/driver/unbind; echo " b " > /sys/bus/pci/drivers_probe"

typedef struct Expect {
	int group;
	Verdict verdict;
	const char *reasons[3];
	const char *fixes[3];
	const char *fixes_sysfs[3];
	const char *notes[4];
} Expect;

/* A row per case, laid out by hand: clang-format 14 would give every field of a row that
 * holds a nested list its own line. */
/* clang-format off */
static const Expect expectations[] = {
	{ 1, VERDICT_VIABLE, {}, {}, {},
	  { "Group 1 holds only bridges: there is nothing to assign" } },
	{ 17, VERDICT_NOT_VIABLE,
	  { "0000:01:00.1 (10de:1aef Audio device) is on snd_hda_intel, a host driver" },
	  { FIX("0000:01:00.1") }, { FIX_SYSFS("0000:01:00.1") }, {} },
	{ 18, VERDICT_VIABLE, {}, {}, {}, {} },
	{ 19, VERDICT_NOT_VIABLE,
	  { "0000:03:00.0 (144d:a808 Non-Volatile memory controller) is on nvme, a host driver",
	    "0000:03:00.1 (1022:149c USB controller) is on xhci_hcd, a host driver" },
	  { FIX("0000:03:00.0"), FIX("0000:03:00.1") },
	  { FIX_SYSFS("0000:03:00.0"), FIX_SYSFS("0000:03:00.1") },
	  { "0000:03:00.0 is a storage controller on nvme: unbinding it detaches its disks; make "
	    "sure the host does not boot or run from them" } },
	{ 20, VERDICT_NOT_VIABLE,
	  { "0000:3b:00.0 (8086:1528 Ethernet controller) is on ixgbe, a host driver" },
	  { FIX("0000:3b:00.0") }, { FIX_SYSFS("0000:3b:00.0") },
	  { "0000:3b:00.0 carries the network interface enp59s0f0: unbinding it from ixgbe takes "
	    "it down; make sure the host does not depend on it (default route, management, "
	    "storage)" } },
	{ 21, VERDICT_VIABLE, {}, {}, {},
	  { "0000:3b:02.0 is an SR-IOV VF of 0000:3b:00.0, which is on ixgbe, a host driver: the "
	    "PF driver still controls the VF (MAC, VLAN, reset) and unbinding it removes the "
	    "VF" } },
	/* The identity domain is said once per host (viability_identity_note()), not here. */
	{ 22, VERDICT_VIABLE, {}, {}, {}, {} },
	{ 23, VERDICT_VIABLE, {}, {}, {},
	  { "0000:05:00.0 is a no-IOMMU VFIO device (vfio2): it has no DMA isolation, whoever "
	    "opens it can DMA to any host memory, and opening it needs CAP_SYS_RAWIO" } },
	{ 24, VERDICT_VIABLE, {}, {}, {}, {} },
	{ 25, VERDICT_NOT_VIABLE,
	  { "0000:07:00.0 (8086:1572 Ethernet controller) is on i40e, a host driver" },
	  { FIX("0000:07:00.0") }, { FIX_SYSFS("0000:07:00.0") },
	  { "0000:07:00.0 carries the network interfaces eth0, eth1: unbinding it from i40e "
	    "takes them down; make sure the host does not depend on them (default route, "
	    "management, storage)" } },
	{ 26, VERDICT_NOT_VIABLE,
	  { "0000:09:00.0 (1234:11e9 Processing accelerators) is on foo, a host driver" },
	  { FIX("0000:09:00.0") }, { FIX_SYSFS("0000:09:00.0") }, {} },
	/* A VF that is itself on a host driver: it blocks, and the PF note still applies. */
	{ 27, VERDICT_NOT_VIABLE,
	  { "0000:3b:02.1 (8086:1515 Ethernet controller) is on ixgbevf, a host driver" },
	  { FIX("0000:3b:02.1") }, { FIX_SYSFS("0000:3b:02.1") },
	  { "0000:3b:02.1 is an SR-IOV VF of 0000:3b:00.0, which is on ixgbe, a host driver: the "
	    "PF driver still controls the VF (MAC, VLAN, reset) and unbinding it removes the "
	    "VF" } },
};
/* clang-format on */

static void check_expect(const Expect *e, const Viability *v) {
	size_t n_reasons = 0, n_notes = 0;
	while (n_reasons < ELEMENTSOF(e->reasons) && e->reasons[n_reasons])
		n_reasons++;
	while (n_notes < ELEMENTSOF(e->notes) && e->notes[n_notes])
		n_notes++;
	if (v->verdict != e->verdict || v->n_blockers != n_reasons ||
	    strv_length(v->notes) != n_notes)
		fprintf(stderr, "group %d: verdict %s, %zu blockers, %zu notes\n", e->group,
			verdict_to_string(v->verdict), v->n_blockers, strv_length(v->notes));
	CU_ASSERT_EQUAL(v->verdict, e->verdict);
	CU_ASSERT_EQUAL_FATAL(v->n_blockers, n_reasons);
	for (size_t i = 0; i < n_reasons; i++) {
		ASSERT_STREQ(v->blockers[i].reason, e->reasons[i]);
		ASSERT_STREQ(v->blockers[i].fix, e->fixes[i]);
		ASSERT_STREQ(v->blockers[i].fix_sysfs, e->fixes_sysfs[i]);
		CU_ASSERT_PTR_NOT_NULL(v->blockers[i].device);
		CU_ASSERT_EQUAL(viability_member_state(v->blockers[i].device), MEMBER_HOST_DRIVER);
	}
	CU_ASSERT_EQUAL_FATAL(strv_length(v->notes), n_notes);
	for (size_t i = 0; i < n_notes; i++)
		ASSERT_STREQ(v->notes[i], e->notes[i]);
}

static void test_groups_table(void) {
	host_build();
	for (size_t i = 0; i < ELEMENTSOF(expectations); i++) {
		const Group *g = group_get(expectations[i].group);
		CU_ASSERT_PTR_NOT_NULL_FATAL(g);
		Viability v = {};
		ASSERT_OK(viability_group(&host, g, &v));
		check_expect(&expectations[i], &v);
		viability_done(&v);
		CU_ASSERT_PTR_NULL(v.blockers);
		CU_ASSERT_PTR_NULL(v.notes);
	}
}

static void test_member_states(void) {
	static const struct {
		const char *bdf;
		MemberState state;
		const char *name;
	} cases[] = {
		{ "0000:00:01.0", MEMBER_BRIDGE, "bridge" },
		{ "0000:01:00.0", MEMBER_VFIO, "vfio" },
		{ "0000:01:00.1", MEMBER_HOST_DRIVER, "host-driver" },
		{ "0000:02:00.0", MEMBER_PCI_STUB, "pci-stub" },
		{ "0000:02:00.1", MEMBER_NO_DRIVER, "no-driver" },
		{ "0000:05:00.0", MEMBER_VFIO, "vfio" },
		{ "0000:06:00.0", MEMBER_VFIO, "vfio" }, /* variant driver, no cdev */
		{ "0000:3b:00.0", MEMBER_HOST_DRIVER, "host-driver" },
	};
	host_build();
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const Device *d = device_get(cases[i].bdf);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		if (viability_member_state(d) != cases[i].state)
			fprintf(stderr, "%s: state %s\n", d->bdf,
				member_state_to_string(viability_member_state(d)));
		CU_ASSERT_EQUAL(viability_member_state(d), cases[i].state);
		ASSERT_STREQ(member_state_to_string(cases[i].state), cases[i].name);
	}
	/* An unbound bridge reads as a bridge; a bridge-class device on vfio-pci as vfio. */
	Device d = { DEV("0000:00:1c.0", 0x8086, 0xa110, 0x060400, NULL, 5) };
	CU_ASSERT_EQUAL(viability_member_state(&d), MEMBER_BRIDGE);
	d.driver = "vfio-pci";
	CU_ASSERT_EQUAL(viability_member_state(&d), MEMBER_VFIO);
	d.driver = "pci-stub";
	CU_ASSERT_EQUAL(viability_member_state(&d), MEMBER_PCI_STUB);
	ASSERT_STREQ(verdict_to_string(VERDICT_VIABLE), "viable");
	ASSERT_STREQ(verdict_to_string(VERDICT_NOT_VIABLE), "not-viable");
	ASSERT_STREQ(verdict_to_string(VERDICT_NO_IOMMU), "no-iommu");
}

static void test_device_no_iommu(void) {
	host_build();
	const Device *d = device_get("0000:08:00.0");
	Viability v = {};

	/* Intel host without groups: the VT-d hint. */
	ASSERT_OK(viability_device(&host, d, &v));
	CU_ASSERT_EQUAL(v.verdict, VERDICT_NO_IOMMU);
	CU_ASSERT_EQUAL(v.n_blockers, 0);
	CU_ASSERT_EQUAL_FATAL(strv_length(v.notes), 1);
	ASSERT_STREQ(v.notes[0], "0000:08:00.0 has no IOMMU group: the IOMMU is off or absent. "
				 "Enable VT-d in firmware and boot with intel_iommu=on");
	viability_done(&v);

	host.kernel.iommu_vendor = "amd";
	ASSERT_OK(viability_device(&host, d, &v));
	ASSERT_STREQ(v.notes[0], "0000:08:00.0 has no IOMMU group: the IOMMU is off or absent. "
				 "Enable AMD-Vi (IOMMU) in firmware and boot with amd_iommu=on");
	viability_done(&v);

	host.kernel.iommu_vendor = NULL;
	ASSERT_OK(viability_device(&host, d, &v));
	ASSERT_STREQ(v.notes[0], "0000:08:00.0 has no IOMMU group: the IOMMU is off or absent. "
				 "Enable VT-d/AMD-Vi in firmware and boot with intel_iommu=on "
				 "(Intel) or amd_iommu=on (AMD)");
	viability_done(&v);

	host.kernel.cmdline = "root=/dev/sda1 intel_iommu=off quiet";
	ASSERT_OK(viability_device(&host, d, &v));
	ASSERT_STREQ(v.notes[0], "0000:08:00.0 has no IOMMU group: the IOMMU is off or absent. "
				 "The kernel command line turns the IOMMU off: remove "
				 "intel_iommu=off, amd_iommu=off or iommu=off and reboot");
	viability_done(&v);
	host.kernel.cmdline = NULL;

	/* IOMMU units exist but the device is not covered. */
	char *units[] = { "dmar0", NULL };
	host.kernel.iommu_units = units;
	ASSERT_OK(viability_device(&host, d, &v));
	ASSERT_STREQ(v.notes[0], "0000:08:00.0 has no IOMMU group: the IOMMU (dmar0) does not "
				 "cover it or is not enabled for it; check dmesg for DMAR/AMD-Vi "
				 "errors");
	viability_done(&v);
	host.kernel.iommu_units = NULL;

	/* A device with a group gets its group's verdict. */
	ASSERT_OK(viability_device(&host, device_get("0000:01:00.0"), &v));
	CU_ASSERT_EQUAL(v.verdict, VERDICT_NOT_VIABLE);
	CU_ASSERT_EQUAL(v.n_blockers, 1);
	CU_ASSERT_PTR_EQUAL(v.blockers[0].device, device_get("0000:01:00.1"));
	viability_done(&v);
}

static void test_vendor_guess(void) {
	/* No IOMMU reported: the host bridge at 00:00.0 tells Intel from AMD. */
	Device d[] = {
		{ DEV("0000:00:00.0", 0x1022, 0x1480, 0x060000, NULL, -1) },
		{ DEV("0000:00:02.0", 0x1002, 0x73bf, 0x030000, "amdgpu", -1) },
	};
	Host h = { .devices = d, .n_devices = 2 };
	ASSERT_STREQ(viability_iommu_param(&h), "amd_iommu=on");
	ASSERT_STREQ(viability_iommu_hint(&h),
		     "Enable AMD-Vi (IOMMU) in firmware and boot with amd_iommu=on");
	d[0].vendor = 0x8086;
	ASSERT_STREQ(viability_iommu_param(&h), "intel_iommu=on");
	d[0].vendor = 0x1234;
	ASSERT_STREQ(viability_iommu_param(&h), "intel_iommu=on (Intel) or amd_iommu=on (AMD)");
	/* What the kernel reports wins over the guess. */
	h.kernel.iommu_vendor = "amd";
	d[0].vendor = 0x8086;
	ASSERT_STREQ(viability_iommu_param(&h), "amd_iommu=on");
	ASSERT_STREQ(viability_iommu_param(NULL), "intel_iommu=on (Intel) or amd_iommu=on (AMD)");

	/* A virtio device and no IOMMU reported: a VM, which needs a virtual IOMMU. */
	h.kernel.iommu_vendor = NULL;
	d[1].vendor = 0x1af4;
	ASSERT_STREQ(
		viability_iommu_hint(&h),
		"This looks like a virtual machine: give it a virtual IOMMU (QEMU: -device "
		"intel-iommu,intremap=on or virtio-iommu-pci) and boot it with intel_iommu=on");
	d[0].vendor = 0x1022;
	ASSERT_STREQ(viability_iommu_hint(&h),
		     "This looks like a virtual machine: give it a virtual IOMMU (QEMU: -device "
		     "amd-iommu or virtio-iommu-pci) and boot it with amd_iommu=on");
	/* A VM whose IOMMU the kernel reports gets the vendor's own hint. */
	h.kernel.iommu_vendor = "intel";
	ASSERT_STREQ(viability_iommu_hint(&h),
		     "Enable VT-d in firmware and boot with intel_iommu=on");
}

static void test_no_vfio_pci(void) {
	host_build();
	host.kernel.vfio_pci = TRI_NO;
	Viability v = {};
	ASSERT_OK(viability_group(&host, group_get(17), &v));
	CU_ASSERT_EQUAL_FATAL(v.n_blockers, 1);
	ASSERT_STREQ(v.blockers[0].fix, "modprobe vfio-pci && ioasidctl bind 0000:01:00.1");
	CU_ASSERT_TRUE(
		strneq(v.blockers[0].fix_sysfs, "modprobe vfio-pci && echo vfio-pci > ", 37));
	viability_done(&v);
	/* Unknown is not "no": no modprobe prefix then. */
	host.kernel.vfio_pci = TRI_UNKNOWN;
	ASSERT_OK(viability_group(&host, group_get(17), &v));
	ASSERT_STREQ(v.blockers[0].fix, FIX("0000:01:00.1"));
	viability_done(&v);
}

static void test_combination(void) {
	/* Identity domain + noiommu member + blocker with netdevs + VF of a host PF, all in one
	 * group: notes come per member in BDF order (the identity domain is not among them). */
	static char *ifs[] = { "ens1", NULL };
	Device d[] = {
		{ DEV("0000:10:00.0", 0x8086, 0x1528, 0x020000, "ixgbe", 40), .netdevs = ifs },
		{ DEV("0000:10:00.1", 0x8086, 0x10d3, 0x020000, "vfio-pci", 40),
		  .vfio_name = "vfio7", .noiommu = true },
		{ DEV("0000:10:10.0", 0x8086, 0x1515, 0x020000, NULL, 40),
		  .physfn = "0000:10:00.0" },
	};
	Device *m[] = { &d[0], &d[1], &d[2] };
	Group g = { .number = 40, .type = "identity", .members = m, .n_members = 3 };
	Host h = { .devices = d, .n_devices = 3, .groups = &g, .n_groups = 1 };
	Viability v = {};

	ASSERT_OK(viability_group(&h, &g, &v));
	CU_ASSERT_EQUAL(v.verdict, VERDICT_NOT_VIABLE);
	CU_ASSERT_EQUAL_FATAL(v.n_blockers, 1);
	ASSERT_STREQ(v.blockers[0].reason,
		     "0000:10:00.0 (8086:1528 Ethernet controller) is on ixgbe, a host driver");
	CU_ASSERT_EQUAL_FATAL(strv_length(v.notes), 3);
	CU_ASSERT_TRUE(strneq(v.notes[0], "0000:10:00.0 carries the network interface ens1:", 48));
	CU_ASSERT_TRUE(strneq(v.notes[1], "0000:10:00.1 is a no-IOMMU VFIO device (vfio7)", 46));
	CU_ASSERT_TRUE(strneq(v.notes[2], "0000:10:10.0 is an SR-IOV VF of 0000:10:00.0", 44));
	viability_done(&v);

	/* Fix the blocker: the same group becomes viable and keeps its notes but the unbind
	 * warning. */
	d[0].driver = "vfio-pci";
	d[0].vfio_name = "vfio8";
	ASSERT_OK(viability_group(&h, &g, &v));
	CU_ASSERT_EQUAL(v.verdict, VERDICT_VIABLE);
	CU_ASSERT_EQUAL(v.n_blockers, 0);
	CU_ASSERT_EQUAL(strv_length(v.notes), 1);
	viability_done(&v);

	/* An empty group is not "viable": it has its own verdict and says why. */
	Group empty = { .number = 41 };
	ASSERT_OK(viability_group(&h, &empty, &v));
	CU_ASSERT_EQUAL(v.verdict, VERDICT_EMPTY);
	ASSERT_STREQ(verdict_to_string(v.verdict), "empty");
	CU_ASSERT_EQUAL(v.n_blockers, 0);
	CU_ASSERT_EQUAL_FATAL(strv_length(v.notes), 1);
	CU_ASSERT_TRUE(strneq(v.notes[0], "Group 41 lists no devices: there is nothing in it", 49));
	viability_done(&v);
}

/* Members that are not PCI functions: judged like PCI ones, named by their sysfs name. */
static void test_foreign_members(void) {
	static const struct {
		ForeignMember f;
		MemberState state;
	} states[] = {
		{ { "a.usb", "platform", "dwc3", true }, MEMBER_HOST_DRIVER },
		{ { "a.usb", "platform", NULL, true }, MEMBER_NO_DRIVER },
		{ { "a.usb", "platform", "vfio-platform", true }, MEMBER_VFIO },
		{ { "a.dma", "amba", "vfio-amba", true }, MEMBER_VFIO },
		{ { "a.usb", NULL, NULL, false }, MEMBER_UNKNOWN },
	};
	for (size_t i = 0; i < ELEMENTSOF(states); i++)
		CU_ASSERT_EQUAL(viability_foreign_state(&states[i].f), states[i].state);
	ASSERT_STREQ(member_state_to_string(MEMBER_UNKNOWN), "unknown");

	/* A group of platform devices alone: one on a host driver blocks, the unbound one does
	 * not, and the group says ioasid has nothing to lease in it. */
	ForeignMember fm[] = { { "2140000.mmc", "platform", "sdhci-esdhc", true },
			       { "2150000.mmc", "platform", NULL, true } };
	Group g = { .number = 5, .type = "DMA", .foreign_members = fm, .n_foreign_members = 2 };
	Host h = { .groups = &g, .n_groups = 1 };
	Viability v = {};
	ASSERT_OK(viability_group(&h, &g, &v));
	CU_ASSERT_EQUAL(v.verdict, VERDICT_NOT_VIABLE);
	CU_ASSERT_FALSE(group_has_pci_function(&g));
	CU_ASSERT_EQUAL_FATAL(v.n_blockers, 1);
	CU_ASSERT_PTR_NULL(v.blockers[0].device);
	CU_ASSERT_PTR_EQUAL(v.blockers[0].foreign, &fm[0]);
	ASSERT_STREQ(v.blockers[0].name, "2140000.mmc");
	ASSERT_STREQ(v.blockers[0].reason,
		     "2140000.mmc (platform device, not PCI) is on sdhci-esdhc, a host driver");
	ASSERT_STREQ(v.blockers[0].fix,
		     "driverctl --bus platform set-override 2140000.mmc vfio-platform");
	ASSERT_STREQ(
		v.blockers[0].fix_sysfs,
		"echo 2140000.mmc > /sys/kernel/iommu_groups/5/devices/2140000.mmc/driver/unbind");
	CU_ASSERT_EQUAL_FATAL(strv_length(v.notes), 1);
	ASSERT_STREQ(v.notes[0],
		     "Group 5 holds no PCI function (2140000.mmc, 2150000.mmc are not "
		     "PCI): ioasid brokers PCI functions through vfio-pci and has nothing "
		     "to lease here");
	viability_done(&v);

	/* Unbound, the same group is viable and still says it has nothing to lease. */
	fm[0].driver = NULL;
	ASSERT_OK(viability_group(&h, &g, &v));
	CU_ASSERT_EQUAL(v.verdict, VERDICT_VIABLE);
	CU_ASSERT_EQUAL(v.n_blockers, 0);
	CU_ASSERT_EQUAL(strv_length(v.notes), 1);
	viability_done(&v);

	/* A PCI function on vfio-pci with a platform device on a host driver: the platform
	 * device blocks the PCI function's group (the kernel's DMA ownership is per group). A
	 * bus without a VFIO driver gets the unbind as its fix; an older snapshot that does
	 * not say the driver blocks too. */
	Device d = { DEV("0000:01:00.0", 0x8086, 0x10fb, 0x020000, "vfio-pci", 6),
		     .vfio_name = "vfio0" };
	Device *m[] = { &d };
	ForeignMember fm2[] = { { "1.gpu", "host1x", "tegra-drm", true },
				{ "x.usb", NULL, NULL, false } };
	Group g2 = { .number = 6,
		     .members = m,
		     .n_members = 1,
		     .foreign_members = fm2,
		     .n_foreign_members = 2 };
	Host h2 = { .devices = &d, .n_devices = 1, .groups = &g2, .n_groups = 1 };
	d.group = &g2;
	ASSERT_OK(viability_device(&h2, &d, &v));
	CU_ASSERT_EQUAL(v.verdict, VERDICT_NOT_VIABLE);
	CU_ASSERT_TRUE(group_has_pci_function(&g2));
	CU_ASSERT_EQUAL_FATAL(v.n_blockers, 2);
	ASSERT_STREQ(v.blockers[0].name, "1.gpu");
	ASSERT_STREQ(v.blockers[0].fix, v.blockers[0].fix_sysfs);
	ASSERT_STREQ(v.blockers[0].fix,
		     "echo 1.gpu > /sys/kernel/iommu_groups/6/devices/1.gpu/driver/unbind");
	ASSERT_STREQ(v.blockers[1].name, "x.usb");
	CU_ASSERT_PTR_NOT_NULL(strstr(v.blockers[1].reason, "does not say its driver"));
	CU_ASSERT_PTR_NULL(v.notes);
	viability_done(&v);
}

static void test_identity_note(void) {
	static const int one[] = { 35 }, many[] = { 0, 1, 35 };
	_cleanup_free_ char *n0 = NULL, *n1 = NULL, *n3 = NULL;
	n0 = (char *)"unchanged";
	ASSERT_OK(viability_identity_note(one, 0, &n0));
	CU_ASSERT_PTR_NULL(n0);
	ASSERT_OK(viability_identity_note(one, 1, &n1));
	ASSERT_STREQ(n1, "Group 35 has an identity default domain (passthrough, e.g. iommu=pt): "
			 "host drivers in it do DMA untranslated; VFIO switches a group to its own "
			 "domain when it is claimed");
	ASSERT_OK(viability_identity_note(many, 3, &n3));
	CU_ASSERT_TRUE(strneq(n3, "Groups 0, 1 and 35 have an identity default domain", 50));
	CU_ASSERT_PTR_NOT_NULL(strstr(n3, "host drivers in them do DMA untranslated"));
}

/* Property test: random groups of random members. The verdict is not-viable exactly when a
 * member is on a host driver; there is one blocker per such member, in member order, each
 * naming its device and driver; notes never appear for a plain DMA group of unremarkable
 * members. A fixed seed keeps failures reproducible. */
static void test_random_groups(void) {
	static char *const drivers[] = { NULL,   "vfio-pci",      "pci-stub",      "pcieport",
					 "nvme", "snd_hda_intel", "mlx5_vfio_pci", "e1000e" };
	static const uint32_t classes[] = { 0x060400, 0x030000, 0x040300,
					    0x020000, 0x0c0330, 0x010802 };
	unsigned seed = 12345;
	for (int round = 0; round < 500; round++) {
		Device d[8];
		Device *m[8];
		size_t n = 1 + (size_t)(rand_r(&seed) % 8), n_host = 0;
		memset(d, 0, sizeof(d));
		for (size_t i = 0; i < n; i++) {
			snprintf(d[i].bdf, sizeof(d[i].bdf), "0000:%02x:00.0",
				 (unsigned)(i + 1) & 0xffu);
			d[i].vendor = 0x8086;
			d[i].device = (uint16_t)rand_r(&seed);
			d[i].class = classes[rand_r(&seed) % ELEMENTSOF(classes)];
			d[i].driver = drivers[rand_r(&seed) % ELEMENTSOF(drivers)];
			d[i].iommu_group = 7;
			d[i].numa_node = -1;
			m[i] = &d[i];
			if (viability_member_state(&d[i]) == MEMBER_HOST_DRIVER)
				n_host++;
		}
		Group g = { .number = 7, .type = "DMA", .members = m, .n_members = n };
		Host h = { .devices = d, .n_devices = n, .groups = &g, .n_groups = 1 };
		Viability v = {};
		ASSERT_OK(viability_group(&h, &g, &v));
		CU_ASSERT_EQUAL(v.verdict, n_host ? VERDICT_NOT_VIABLE : VERDICT_VIABLE);
		CU_ASSERT_EQUAL_FATAL(v.n_blockers, n_host);
		const Device *prev = NULL;
		for (size_t i = 0; i < v.n_blockers; i++) {
			const Device *b = v.blockers[i].device;
			CU_ASSERT_TRUE(b >= d && b < d + n);
			CU_ASSERT_TRUE(!prev || b > prev);
			prev = b;
			CU_ASSERT_TRUE(strneq(v.blockers[i].reason, b->bdf, 12));
			CU_ASSERT_PTR_NOT_NULL(strstr(v.blockers[i].reason, b->driver));
			CU_ASSERT_PTR_NOT_NULL(strstr(v.blockers[i].fix, b->bdf));
			CU_ASSERT_PTR_NOT_NULL(strstr(v.blockers[i].fix_sysfs, b->bdf));
			/* Bridges and vfio/stub/unbound members never block. */
			CU_ASSERT_TRUE(b->driver && !streq(b->driver, "vfio-pci") &&
				       !streq(b->driver, "pci-stub") &&
				       !streq(b->driver, "pcieport") &&
				       ((b->class >> 8) & 0xffff) != 0x0604);
		}
		/* Only nvme blockers (storage) or an all-bridge group may add notes here. */
		size_t n_bridges = 0, n_storage = 0;
		for (size_t i = 0; i < n; i++) {
			n_bridges += viability_member_state(&d[i]) == MEMBER_BRIDGE;
			n_storage += viability_member_state(&d[i]) == MEMBER_HOST_DRIVER &&
				     (d[i].class >> 16) == 0x01;
		}
		CU_ASSERT_EQUAL(strv_length(v.notes), n_storage + (n_bridges == n));
		viability_done(&v);
	}
}

static void test_class_names(void) {
	ASSERT_STREQ(pci_class_name(0x040300), "Audio device");
	ASSERT_STREQ(pci_class_name(0x030000), "VGA compatible controller");
	ASSERT_STREQ(pci_class_name(0x060400), "PCI bridge");
	ASSERT_STREQ(pci_class_name(0x020000), "Ethernet controller");
	ASSERT_STREQ(pci_class_name(0x02ff00), "Network controller"); /* base fallback */
	ASSERT_STREQ(pci_class_name(0xfe0000), "Unclassified device");
	ASSERT_STREQ(pci_class_name(0x400000), "Coprocessor");
}

static CU_TestInfo tests[] = {
	{ "groups_table", test_groups_table },
	{ "member_states", test_member_states },
	{ "device_no_iommu", test_device_no_iommu },
	{ "no_vfio_pci", test_no_vfio_pci },
	{ "vendor_guess", test_vendor_guess },
	{ "combination", test_combination },
	{ "foreign_members", test_foreign_members },
	{ "identity_note", test_identity_note },
	{ "random_groups", test_random_groups },
	{ "class_names", test_class_names },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("viability", tests);
