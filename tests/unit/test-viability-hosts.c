/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Viability on the fixture hosts (the tests/hosts fixtures), loaded with the real snapshot
 * reader: for each chosen group the verdict, the blocking BDFs in order, and a note that
 * must (or must not) be there. The expectations come from the fixtures' drivers, by the
 * kernel's rule, not from running the code.
 */
#include <limits.h>

#include "common/macro.h"
#include "common/viability.h"
#include "tests/unit/test.h"

typedef struct HostCase {
	const char *fixture;
	int group;
	Verdict verdict;
	const char *blockers[5]; /* BDFs, in member order */
	const char *note_prefix; /* a note starting with this must exist (NULL: no notes) */
} HostCase;

/* A row per case, laid out by hand: clang-format 14 would give every field of a row that
 * holds a nested list its own line. */
/* clang-format off */
static const HostCase cases[] = {
	/* GPU on vfio-pci, its audio function on snd_hda_intel, behind a pcieport bridge. */
	{ "workstation", 1, VERDICT_NOT_VIABLE, { "0000:01:00.1" }, NULL },
	{ "workstation", 8, VERDICT_NOT_VIABLE, { "0000:03:00.0" },
	  "0000:03:00.0 carries the network interface enp3s0: unbinding it from igc" },
	{ "workstation", 3, VERDICT_VIABLE, {}, "Group 3 holds only bridges" },
	/* The AMD chipset group: the GPU is ready, four host devices are not, two of them
	 * carry network interfaces. Bridges on pcieport never block. */
	{ "consumer-board", 15, VERDICT_NOT_VIABLE,
	  { "0000:02:00.0", "0000:02:00.1", "0000:05:00.0", "0000:06:00.0" },
	  "0000:05:00.0 carries the network interface wlp5s0" },
	{ "consumer-board", 13, VERDICT_NOT_VIABLE, { "0000:00:14.0" }, NULL },
	{ "consumer-board", 16, VERDICT_EMPTY, {}, "Group 16 lists no devices" },
	{ "sriov-nic", 35, VERDICT_EMPTY, {}, "Group 35 lists no devices" },
	/* Platform devices of an SMMU host: on a host driver they block like PCI ones. */
	{ "arm-board", 4, VERDICT_NOT_VIABLE, { "3100000.usb" }, "Group 4 holds no PCI function" },
	{ "arm-board", 5, VERDICT_NOT_VIABLE, { "2140000.mmc" }, "Group 5 holds no PCI function" },
	{ "gpu-server", 14, VERDICT_VIABLE, {}, NULL },
	{ "gpu-server", 43, VERDICT_NOT_VIABLE, { "0000:c2:00.0" }, NULL },
	{ "sample", 5, VERDICT_VIABLE, {}, NULL }, /* unbound bridge + two vfio devices */
	{ "sample", 2, VERDICT_NOT_VIABLE, { "0000:00:02.0" },
	  "0000:00:02.0 carries the network interface enp0s2" },
	{ "sriov-nic", 40, VERDICT_VIABLE, {},
	  "0000:3b:02.0 is an SR-IOV VF of 0000:3b:00.0, which is on i40e" },
	{ "noiommu", 0, VERDICT_VIABLE, {}, "0000:00:06.0 is a no-IOMMU VFIO device" },
	/* Legacy kernel (no VFIO cdevs): vfio-pci without a cdev still counts as VFIO. */
	{ "legacy", 5, VERDICT_VIABLE, {}, NULL },
	{ "legacy", 4, VERDICT_VIABLE, {}, NULL },
	{ "legacy", 7, VERDICT_NOT_VIABLE, { "0000:00:06.1" }, NULL },
	/* Behind an Intel VMD (PCI domain 10000): the NVMe on nvme blocks its group, the VMD
	 * root port's group holds only a bridge. */
	{ "vmd-laptop", 7, VERDICT_NOT_VIABLE, { "10000:e1:00.0" },
	  "10000:e1:00.0 is a storage controller on nvme" },
	{ "vmd-laptop", 6, VERDICT_VIABLE, {}, "Group 6 holds only bridges" },
	{ "vmd-laptop", 2, VERDICT_NOT_VIABLE, { "0000:00:0e.0" },
	  "0000:00:0e.0 is a storage controller on vmd" },
};
/* clang-format on */

/* tests/hosts/FIXTURE.json. */
static Host *load(const char *fixture) {
	char name[128];
	snprintf(name, sizeof(name), "%s.json", fixture);
	return test_load_fixture(name);
}

static void test_fixture_groups(void) {
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const HostCase *c = &cases[i];
		_cleanup_host_free_ Host *h = load(c->fixture);
		CU_ASSERT_PTR_NOT_NULL_FATAL(h);
		const Group *g = host_find_group(h, c->group);
		CU_ASSERT_PTR_NOT_NULL_FATAL(g);
		_cleanup_(viability_done) Viability v = {};
		ASSERT_OK(viability_group(h, g, &v));
		size_t n = 0;
		while (n < ELEMENTSOF(c->blockers) && c->blockers[n])
			n++;
		if (v.verdict != c->verdict || v.n_blockers != n)
			fprintf(stderr, "%s group %d: %s with %zu blockers\n", c->fixture, c->group,
				verdict_to_string(v.verdict), v.n_blockers);
		CU_ASSERT_EQUAL(v.verdict, c->verdict);
		CU_ASSERT_EQUAL_FATAL(v.n_blockers, n);
		for (size_t j = 0; j < n; j++) {
			ASSERT_STREQ(v.blockers[j].name, c->blockers[j]);
			if (!v.blockers[j].device) { /* not PCI: named by its sysfs name */
				CU_ASSERT_PTR_NOT_NULL_FATAL(v.blockers[j].foreign);
				CU_ASSERT_TRUE(strneq(v.blockers[j].reason, c->blockers[j],
						      strlen(c->blockers[j])));
				CU_ASSERT_PTR_NOT_NULL(strstr(v.blockers[j].fix, c->blockers[j]));
				continue;
			}
			/* Every reason names the device and its driver; every fix is a command
			 * for that device. */
			CU_ASSERT_TRUE(strneq(v.blockers[j].reason, c->blockers[j], 12));
			CU_ASSERT_PTR_NOT_NULL(
				strstr(v.blockers[j].reason, v.blockers[j].device->driver));
			char fix[64];
			snprintf(fix, sizeof(fix), "ioasidctl bind %s", c->blockers[j]);
			ASSERT_STREQ(v.blockers[j].fix, fix);
		}
		bool found = false;
		for (char **x = v.notes; c->note_prefix && x && *x; x++)
			found = found || strneq(*x, c->note_prefix, strlen(c->note_prefix));
		if (c->note_prefix) {
			if (!found)
				fprintf(stderr, "%s group %d: no note '%s...'\n", c->fixture,
					c->group, c->note_prefix);
			CU_ASSERT_TRUE(found);
		} else
			CU_ASSERT_PTR_NULL(v.notes);
	}
}

/* The node a VFIO user opens: the cdev where there is one, the group node on a legacy-only
 * host, nothing for a device on a host driver or on vfio-pci without a cdev on a cdev host. */
static void test_fixture_vfio_node(void) {
	_cleanup_host_free_ Host *leg = load("legacy");
	_cleanup_host_free_ Host *smp = load("sample");
	char buf[64];
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(smp);
	CU_ASSERT_TRUE(host_vfio_legacy_only(leg));
	CU_ASSERT_FALSE(host_vfio_legacy_only(smp));

	const Device *d = host_find_device(leg, "0000:01:02.0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_PTR_NULL(d->vfio_name);
	CU_ASSERT_EQUAL(viability_member_state(d), MEMBER_VFIO);
	ASSERT_OK(device_vfio_node(leg, d, buf, sizeof(buf)));
	ASSERT_STREQ(buf, "/dev/vfio/5");
	CU_ASSERT_TRUE(device_vfio_usable(leg, d));
	ASSERT_ERR(device_vfio_node(leg, d, buf, 5), ENOBUFS);
	d = host_find_device(leg, "0000:00:06.1"); /* host driver */
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	ASSERT_ERR(device_vfio_node(leg, d, buf, sizeof(buf)), ENODEV);
	CU_ASSERT_FALSE(device_vfio_usable(leg, d));

	d = host_find_device(smp, "0000:01:02.0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	ASSERT_OK(device_vfio_node(smp, d, buf, sizeof(buf)));
	ASSERT_STREQ(buf, "/dev/vfio/devices/vfio3");
	/* On a cdev host, vfio-pci without a cdev is no usable VFIO device. */
	Device nocdev = *d;
	nocdev.vfio_name = NULL;
	CU_ASSERT_FALSE(device_vfio_usable(smp, &nocdev));
	CU_ASSERT_TRUE(device_vfio_usable(leg, &nocdev));
}

static void test_fixture_no_iommu(void) {
	/* IOMMU off on an Intel laptop: every device is no-iommu, with the VT-d hint. */
	_cleanup_host_free_ Host *h = load("iommu-off");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(h->n_groups, 0);
	CU_ASSERT_TRUE_FATAL(h->n_devices > 0);
	for (size_t i = 0; i < h->n_devices; i++) {
		_cleanup_(viability_done) Viability v = {};
		ASSERT_OK(viability_device(h, &h->devices[i], &v));
		CU_ASSERT_EQUAL(v.verdict, VERDICT_NO_IOMMU);
		CU_ASSERT_EQUAL(v.n_blockers, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(v.notes);
		CU_ASSERT_PTR_NOT_NULL(strstr(v.notes[0], "boot with intel_iommu=on"));
	}
}

/* vDPA parents: a PCI function whose vDPA device is on vhost_vdpa blocks VFIO with a reason
 * naming the vDPA device and a fix that deletes it first; vp_vdpa in a shared group gets the
 * kernel's EINVAL note (vhost-vdpa cannot attach its own domain), alone in its group it does
 * not; the software device has no parent. */
static void test_fixture_vdpa(void) {
	_cleanup_host_free_ Host *h = load("vdpa-guest");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(h->n_vdpa_devices, 3);
	CU_ASSERT_EQUAL(h->n_vdpa_mgmtdevs, 3);
	const VdpaDevice *sim = host_find_vdpa_device(h, "vdpa-sim0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sim);
	CU_ASSERT_PTR_NULL(sim->parent);
	const Device *edu = host_find_device(h, "0000:01:01.0");
	CU_ASSERT_FALSE(device_is_vdpa_parent(h, edu));

	static const struct {
		int group;
		const char *bdf, *vdpa, *fix;
		bool einval_note;
	} vcases[] = {
		{ 2, "0000:00:02.0", "vdpa0", "vdpa dev del vdpa0; ioasidctl bind 0000:00:02.0",
		  false },
		{ 5, "0000:01:02.0", "vdpa1", "vdpa dev del vdpa1; ioasidctl bind 0000:01:02.0",
		  true },
	};
	for (size_t i = 0; i < ELEMENTSOF(vcases); i++) {
		_cleanup_(viability_done) Viability v = {};
		const Group *g = host_find_group(h, vcases[i].group);
		CU_ASSERT_PTR_NOT_NULL_FATAL(g);
		ASSERT_OK(viability_group(h, g, &v));
		CU_ASSERT_EQUAL(v.verdict, VERDICT_NOT_VIABLE);
		CU_ASSERT_EQUAL_FATAL(v.n_blockers, 1);
		ASSERT_STREQ(v.blockers[0].name, vcases[i].bdf);
		CU_ASSERT_TRUE(device_is_vdpa_parent(h, v.blockers[0].device));
		CU_ASSERT_PTR_NOT_NULL(strstr(v.blockers[0].reason, vcases[i].vdpa));
		CU_ASSERT_PTR_NOT_NULL(strstr(v.blockers[0].reason, "belongs to vhost-vdpa"));
		ASSERT_STREQ(v.blockers[0].fix, vcases[i].fix);
		CU_ASSERT_TRUE(strneq(v.blockers[0].fix_sysfs, "vdpa dev del ", 13));
		bool einval = false;
		for (char **x = v.notes; x && *x; x++)
			einval = einval || strstr(*x, "fails with EINVAL");
		CU_ASSERT_EQUAL(einval, vcases[i].einval_note);
	}
}

static CU_TestInfo tests[] = {
	{ "fixture_vdpa", test_fixture_vdpa },
	{ "fixture_groups", test_fixture_groups },
	{ "fixture_no_iommu", test_fixture_no_iommu },
	{ "fixture_vfio_node", test_fixture_vfio_node },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("viability-hosts", tests);
