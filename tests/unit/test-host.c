/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host model: finalize (sorting, linking, bridge_path), lookups, helpers, parsing edges. */
#include <limits.h>

#include "common/host.h"
#include "common/macro.h"
#include "tests/unit/test.h"

static void test_workstation(void) {
	_cleanup_host_free_ Host *h = test_load_fixture("workstation.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	const Device *gpu = host_find_device(h, "0000:01:00.0");
	const Device *audio = host_find_device(h, "0000:01:00.1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(gpu);
	CU_ASSERT_PTR_NOT_NULL_FATAL(audio);
	CU_ASSERT_PTR_NOT_NULL_FATAL(gpu->group);
	CU_ASSERT_PTR_EQUAL(gpu->group, audio->group);
	CU_ASSERT_PTR_EQUAL(gpu->group, host_find_group(h, gpu->iommu_group));
	/* The GPU's group holds its root port, itself and its HDMI audio function, sorted. */
	const Group *g = gpu->group;
	CU_ASSERT_EQUAL_FATAL(g->n_members, 3);
	ASSERT_STREQ(g->members[0]->bdf, "0000:00:01.0");
	ASSERT_STREQ(g->members[1]->bdf, "0000:01:00.0");
	ASSERT_STREQ(g->members[2]->bdf, "0000:01:00.1");
	CU_ASSERT_TRUE(device_is_bridge(g->members[0]));
	CU_ASSERT_FALSE(device_is_bridge(gpu));
	CU_ASSERT_TRUE(device_has_vfio(gpu));
	CU_ASSERT_FALSE(device_has_vfio(audio));
	ASSERT_STREQ(audio->driver, "snd_hda_intel");
	ASSERT_STREQ(gpu->vfio_name, "vfio0");
	CU_ASSERT_EQUAL(gpu->vendor, 0x10de);
	CU_ASSERT_EQUAL(gpu->device, 0x2204);
	CU_ASSERT_EQUAL(gpu->revision, 0xa1);
	CU_ASSERT_EQUAL(strv_length(gpu->bridge_path), 1);
	ASSERT_STREQ(gpu->bridge_path[0], "0000:00:01.0");
	CU_ASSERT_PTR_NULL(host_find_device(h, "0000:00:01.0")->bridge_path);
	/* The iGPU has an RMRR (direct) next to the MSI window. */
	const Group *igpu = host_find_device(h, "0000:00:02.0")->group;
	CU_ASSERT_EQUAL_FATAL(igpu->n_regions, 2);
	CU_ASSERT_EQUAL(igpu->regions[0].type, RESV_DIRECT);
	CU_ASSERT_EQUAL(igpu->regions[1].type, RESV_MSI);
	CU_ASSERT_EQUAL(h->kernel.interrupt_remapping, TRI_YES);
	CU_ASSERT_EQUAL(h->kernel.address_width, 39);
	/* Sorted arrays: lookups bisect. */
	for (size_t i = 1; i < h->n_devices; i++)
		CU_ASSERT_TRUE(strcmp(h->devices[i - 1].bdf, h->devices[i].bdf) < 0);
	for (size_t i = 1; i < h->n_groups; i++)
		CU_ASSERT_TRUE(h->groups[i - 1].number < h->groups[i].number);
	for (size_t i = 0; i < h->n_devices; i++)
		CU_ASSERT_PTR_EQUAL(host_find_device(h, h->devices[i].bdf), &h->devices[i]);
	CU_ASSERT_PTR_NULL(host_find_device(h, "0000:7f:00.0"));
	CU_ASSERT_PTR_NULL(host_find_device(h, "01:00.0")); /* not canonical */
	CU_ASSERT_PTR_NULL(host_find_group(h, 4242));
	CU_ASSERT_PTR_NULL(host_find_group(h, -1));
}

static void test_gpu_server(void) {
	_cleanup_host_free_ Host *h = test_load_fixture("gpu-server.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	const Device *gpu = host_find_device(h, "0000:83:00.0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(gpu);
	CU_ASSERT_EQUAL(gpu->numa_node, 1);
	/* Nearest first: downstream port, switch upstream port, root port. */
	CU_ASSERT_EQUAL_FATAL(strv_length(gpu->bridge_path), 3);
	ASSERT_STREQ(gpu->bridge_path[0], "0000:82:00.0");
	ASSERT_STREQ(gpu->bridge_path[1], "0000:81:00.0");
	ASSERT_STREQ(gpu->bridge_path[2], "0000:80:01.1");
	size_t vfio = 0, nodes[2] = {};
	for (size_t i = 0; i < h->n_devices; i++) {
		const Device *d = &h->devices[i];
		if (d->vendor == 0x10de) {
			CU_ASSERT_TRUE(device_has_vfio(d));
			CU_ASSERT_EQUAL(d->group->n_members, 1);
			vfio++;
			if (d->numa_node == 0 || d->numa_node == 1)
				nodes[d->numa_node]++;
		}
	}
	CU_ASSERT_EQUAL(vfio, 8);
	CU_ASSERT_EQUAL(nodes[0], 4);
	CU_ASSERT_EQUAL(nodes[1], 4);
	CU_ASSERT_EQUAL(h->kernel.interrupt_remapping, TRI_UNKNOWN); /* not in this snapshot */
}

static void test_sriov(void) {
	_cleanup_host_free_ Host *h = test_load_fixture("sriov-nic.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	const Device *pf = host_find_device(h, "0000:3b:00.0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pf);
	CU_ASSERT_EQUAL(pf->sriov_totalvfs, 64);
	CU_ASSERT_EQUAL(pf->sriov_numvfs, 4);
	CU_ASSERT_EQUAL_FATAL(strv_length(pf->virtfn), 4);
	CU_ASSERT_TRUE(strv_contains(pf->netdevs, "ens785f0"));
	CU_ASSERT_FALSE(device_has_vfio(pf));
	for (size_t i = 0; i < 4; i++) {
		const Device *vf = host_find_device(h, pf->virtfn[i]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(vf);
		ASSERT_STREQ(vf->physfn, pf->bdf);
		CU_ASSERT_TRUE(device_has_vfio(vf));
		CU_ASSERT_EQUAL(vf->sriov_totalvfs, -1);
		CU_ASSERT_EQUAL(vf->group->n_members, 1);
		CU_ASSERT_PTR_NOT_EQUAL(vf->group, pf->group);
	}
}

static void test_foreign_members(void) {
	_cleanup_host_free_ Host *h = test_load_fixture("arm-board.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	ASSERT_STREQ(h->kernel.iommu_vendor, "arm-smmu");
	const Group *mmc = host_find_group(h, 5);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mmc);
	CU_ASSERT_EQUAL(mmc->n_members, 0);
	CU_ASSERT_EQUAL_FATAL(mmc->n_foreign_members, 2);
	ASSERT_STREQ(mmc->foreign_members[0].name, "2140000.mmc");
	ASSERT_STREQ(mmc->foreign_members[0].bus, "platform");
	ASSERT_STREQ(mmc->foreign_members[0].driver, "sdhci-esdhc");
	CU_ASSERT_TRUE(mmc->foreign_members[0].driver_known);
	ASSERT_STREQ(mmc->foreign_members[1].name, "2150000.mmc");
	CU_ASSERT_PTR_NULL(mmc->foreign_members[1].driver);
	CU_ASSERT_TRUE(mmc->foreign_members[1].driver_known);
	/* Groups without foreign members keep NULL, so their JSON has no such key. */
	CU_ASSERT_PTR_NULL(host_find_group(h, 3)->foreign_members);
	CU_ASSERT_EQUAL(host_find_group(h, 3)->n_foreign_members, 0);
	/* The ARM software MSI window, not the x86 one. */
	CU_ASSERT_EQUAL(mmc->regions[0].start, 0x8000000ULL);
	CU_ASSERT_EQUAL(mmc->regions[0].type, RESV_MSI);
	_cleanup_free_ char *json = NULL;
	ASSERT_OK(host_to_json_string(h, &json));
	size_t keys = 0;
	for (const char *p = json; (p = strstr(p, "\"foreign_members\"")); p++)
		keys++;
	CU_ASSERT_EQUAL(keys, 2); /* groups 4 and 5 only */
}

static void test_other_fixtures(void) {
	_cleanup_host_free_ Host *off = test_load_fixture("iommu-off.json");
	_cleanup_host_free_ Host *noi = test_load_fixture("noiommu.json");
	_cleanup_host_free_ Host *con = test_load_fixture("consumer-board.json");
	_cleanup_host_free_ Host *sam = test_load_fixture("sample.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(off);
	CU_ASSERT_PTR_NOT_NULL_FATAL(noi);
	CU_ASSERT_PTR_NOT_NULL_FATAL(con);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sam);

	CU_ASSERT_EQUAL(off->n_groups, 0);
	CU_ASSERT_EQUAL(off->kernel.iommufd, TRI_NO);
	CU_ASSERT_PTR_NULL(off->kernel.iommu_units);
	CU_ASSERT_PTR_NULL(strstr(off->kernel.cmdline, "intel_iommu=on"));
	for (size_t i = 0; i < off->n_devices; i++) {
		CU_ASSERT_EQUAL(off->devices[i].iommu_group, -1);
		CU_ASSERT_PTR_NULL(off->devices[i].group);
	}

	CU_ASSERT_EQUAL(noi->kernel.noiommu_mode, TRI_YES);
	const Device *ena = host_find_device(noi, "0000:00:06.0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ena);
	CU_ASSERT_TRUE(ena->noiommu);
	ASSERT_STREQ(ena->vfio_name, "noiommu-vfio0");

	/* ACS missing: the chipset group holds many endpoints on host drivers. */
	const Device *gt710 = host_find_device(con, "0000:04:00.0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(gt710);
	CU_ASSERT_TRUE(gt710->group->n_members >= 8);
	size_t host_drivers = 0;
	for (size_t i = 0; i < gt710->group->n_members; i++) {
		const Device *m = gt710->group->members[i];
		if (m->driver && !device_is_bridge(m) && !device_has_vfio(m))
			host_drivers++;
	}
	CU_ASSERT_TRUE(host_drivers >= 3);

	/* Demo host: one group with two vfio-pci devices behind a conventional bridge. */
	const Device *e1 = host_find_device(sam, "0000:01:01.0");
	const Device *e2 = host_find_device(sam, "0000:01:02.0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e2);
	CU_ASSERT_PTR_EQUAL(e1->group, e2->group);
	CU_ASSERT_TRUE(device_has_vfio(e1) && device_has_vfio(e2));
	CU_ASSERT_EQUAL(sam->kernel.iommufd, TRI_YES);
}

/* A host built by hand (as other modules' tests do): finalize sorts and links it. */
static void test_finalize_by_hand(void) {
	_cleanup_host_free_ Host *h = calloc(1, sizeof(Host));
	_cleanup_free_ char *err = NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	h->devices = calloc(3, sizeof(Device));
	h->groups = calloc(2, sizeof(Group));
	CU_ASSERT_FATAL(h->devices && h->groups);
	h->n_devices = 3;
	h->n_groups = 2;
	static const char *const bdfs[] = { "0000:02:00.0", "0000:00:1c.0", "0000:01:00.0" };
	for (size_t i = 0; i < 3; i++) {
		strcpy(h->devices[i].bdf, bdfs[i]);
		h->devices[i].numa_node = -1;
		h->devices[i].sriov_totalvfs = -1;
	}
	h->devices[0].iommu_group = 9;
	h->devices[0].parent = strdup("0000:01:00.0");
	h->devices[1].iommu_group = 3;
	h->devices[1].class = 0x060400;
	h->devices[2].iommu_group = 9;
	h->devices[2].class = 0x060401; /* subtractive-decode bridge */
	h->devices[2].parent = strdup("0000:00:1c.0");
	h->groups[0].number = 9;
	h->groups[1].number = 3;
	ASSERT_OK(host_finalize(h, &err));
	CU_ASSERT_PTR_NULL(err);
	ASSERT_STREQ(h->devices[0].bdf, "0000:00:1c.0");
	ASSERT_STREQ(h->devices[2].bdf, "0000:02:00.0");
	CU_ASSERT_EQUAL(h->groups[0].number, 3);
	CU_ASSERT_EQUAL(h->groups[1].n_members, 2);
	ASSERT_STREQ(h->groups[1].members[0]->bdf, "0000:01:00.0");
	ASSERT_STREQ(h->groups[1].members[1]->bdf, "0000:02:00.0");
	CU_ASSERT_PTR_EQUAL(h->devices[2].group, &h->groups[1]);
	CU_ASSERT_EQUAL_FATAL(strv_length(h->devices[2].bridge_path), 2);
	ASSERT_STREQ(h->devices[2].bridge_path[0], "0000:01:00.0");
	ASSERT_STREQ(h->devices[2].bridge_path[1], "0000:00:1c.0");
	CU_ASSERT_TRUE(device_is_bridge(&h->devices[0]));
	CU_ASSERT_TRUE(device_is_bridge(&h->devices[1]));
	CU_ASSERT_FALSE(device_is_bridge(&h->devices[2]));
	/* Idempotent: finalizing again changes nothing. */
	ASSERT_OK(host_finalize(h, NULL));
	CU_ASSERT_EQUAL(h->groups[1].n_members, 2);
	CU_ASSERT_EQUAL(strv_length(h->devices[2].bridge_path), 2);

	/* Breaking it: a non-canonical BDF is refused with its field path. */
	strcpy(h->devices[1].bdf, "01:00.0");
	ASSERT_ERR(host_finalize(h, &err), EINVAL);
	ASSERT_STREQ(err, "devices[1].bdf: '01:00.0' is not a canonical PCI address");
}

/* Domains above ffff (VMD) sort numerically, after ffff, in the devices and in a group's
 * members, and bisecting finds every device: strcmp() order would put "10000:" before
 * "2000:" and break the lookups that assume bdf_cmp() order. */
static void test_finalize_long_domains(void) {
	_cleanup_host_free_ Host *h = calloc(1, sizeof(Host));
	_cleanup_free_ char *err = NULL;
	static const char *const in[] = { "10000:e1:00.0", "ffff:00:00.0",     "2000:00:00.0",
					  "0000:00:0e.0",  "ffffffff:00:00.0", "10000:00:00.0" };
	static const char *const want[] = { "0000:00:0e.0",  "2000:00:00.0",  "ffff:00:00.0",
					    "10000:00:00.0", "10000:e1:00.0", "ffffffff:00:00.0" };
	size_t n = ELEMENTSOF(in);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	h->devices = calloc(n, sizeof(Device));
	h->groups = calloc(1, sizeof(Group));
	CU_ASSERT_FATAL(h->devices && h->groups);
	h->n_devices = n;
	h->n_groups = 1;
	h->groups[0].number = 5;
	for (size_t i = 0; i < n; i++) {
		strcpy(h->devices[i].bdf, in[i]);
		h->devices[i].numa_node = -1;
		h->devices[i].sriov_totalvfs = -1;
		h->devices[i].iommu_group = -1;
	}
	h->devices[0].iommu_group = 5; /* 10000:e1:00.0 */
	h->devices[2].iommu_group = 5; /* 2000:00:00.0 */
	h->devices[0].parent = strdup("10000:00:00.0");
	ASSERT_OK(host_finalize(h, &err));
	CU_ASSERT_PTR_NULL(err);
	for (size_t i = 0; i < n; i++) {
		ASSERT_STREQ(h->devices[i].bdf, want[i]);
		CU_ASSERT_PTR_EQUAL(host_find_device(h, want[i]), &h->devices[i]);
	}
	CU_ASSERT_PTR_NULL(host_find_device(h, "1000:e1:00.0"));
	CU_ASSERT_EQUAL_FATAL(h->groups[0].n_members, 2);
	ASSERT_STREQ(h->groups[0].members[0]->bdf, "2000:00:00.0");
	ASSERT_STREQ(h->groups[0].members[1]->bdf, "10000:e1:00.0");
	const Device *nvme = host_find_device(h, "10000:e1:00.0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(nvme);
	CU_ASSERT_EQUAL_FATAL(strv_length(nvme->bridge_path), 1);
	ASSERT_STREQ(nvme->bridge_path[0], "10000:00:00.0");
}

/* The writer is deterministic even when the model was built unsorted. */
static void test_writer_sorts(void) {
	_cleanup_host_free_ Host *h = calloc(1, sizeof(Host));
	_cleanup_free_ char *json = NULL, *again = NULL;
	_cleanup_host_free_ Host *back = NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	h->kernel = (HostKernel){ .interrupt_remapping = TRI_UNKNOWN,
				  .iommufd = TRI_YES,
				  .vfio_cdev = TRI_NO,
				  .vfio_pci = TRI_UNKNOWN,
				  .vfio_legacy = TRI_UNKNOWN,
				  .noiommu_mode = TRI_UNKNOWN };
	h->devices = calloc(1, sizeof(Device));
	CU_ASSERT_PTR_NOT_NULL_FATAL(h->devices);
	h->n_devices = 1;
	Device *d = &h->devices[0];
	strcpy(d->bdf, "0000:3b:00.0");
	d->iommu_group = -1;
	d->numa_node = 1;
	d->sriov_totalvfs = -1;
	d->class = 0x020000;
	ASSERT_OK(strv_extend(&d->netdevs, "eth1"));
	ASSERT_OK(strv_extend(&d->netdevs, "eth0"));
	ASSERT_OK(strv_extend(&d->properties, "Z_KEY=z"));
	ASSERT_OK(strv_extend(&d->properties, "A_KEY=a=b"));
	ASSERT_OK(host_finalize(h, NULL));
	ASSERT_OK(host_to_json_string(h, &json));
	const char *e0 = strstr(json, "\"eth0\""), *e1 = strstr(json, "\"eth1\"");
	const char *a = strstr(json, "\"A_KEY\": \"a=b\""), *z = strstr(json, "\"Z_KEY\": \"z\"");
	CU_ASSERT_TRUE_FATAL(e0 && e1 && a && z);
	CU_ASSERT_TRUE(e0 < e1);
	CU_ASSERT_TRUE(a < z);
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"iommufd\": true"));
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"vfio_cdev\": false"));
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"vfio_pci\": null"));
	CU_ASSERT_PTR_NULL(strstr(json, "\"sriov\"")); /* only on SR-IOV PFs */
	CU_ASSERT_PTR_NULL(strstr(json, "\"hostname\""));
	ASSERT_OK(host_load_json_string(json, &back, NULL));
	ASSERT_OK(host_to_json_string(back, &again));
	ASSERT_STREQ(json, again);
}

static void test_region_types(void) {
	for (int t = 0; t < _RESV_TYPE_MAX; t++) {
		const char *s = reserved_region_type_to_string((ReservedRegionType)t);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT_EQUAL(reserved_region_type_from_string(s), t);
	}
	ASSERT_STREQ(reserved_region_type_to_string(RESV_DIRECT_RELAXABLE), "direct-relaxable");
	ASSERT_STREQ(reserved_region_type_to_string(RESV_MSI), "msi");
	CU_ASSERT_PTR_NULL(reserved_region_type_to_string(_RESV_TYPE_MAX));
	ASSERT_ERR(reserved_region_type_from_string("MSI"), EINVAL);
	ASSERT_ERR(reserved_region_type_from_string("direct-"), EINVAL);
	ASSERT_ERR(reserved_region_type_from_string(""), EINVAL);
	ASSERT_ERR(reserved_region_type_from_string(NULL), EINVAL);
	CU_ASSERT_FALSE(device_is_bridge(NULL));
	CU_ASSERT_FALSE(device_has_vfio(NULL));
	CU_ASSERT_PTR_NULL(host_free(NULL));
}

/* Parsing edges the host loaders rely on, beyond test-util.c. */
static void test_parse_edges(void) {
	char buf[BDF_MAX];
	uint16_t v, d;
	uint64_t x;
	ASSERT_ERR(bdf_parse(NULL, buf), EINVAL);
	ASSERT_OK(bdf_parse("ABCD:EF:1F.7", buf));
	ASSERT_STREQ(buf, "abcd:ef:1f.7");
	ASSERT_OK(bdf_parse("0a:1f.0", buf));
	ASSERT_STREQ(buf, "0000:0a:1f.0");
	ASSERT_ERR(bdf_parse("0000:00:00.0\n", buf), EINVAL);
	ASSERT_ERR(bdf_parse("+000:00:00.0", buf), EINVAL);
	ASSERT_ERR(bdf_parse("0000:00:0 .0", buf), EINVAL);
	ASSERT_ERR(bdf_parse("0000.00:00.0", buf), EINVAL);
	CU_ASSERT_FALSE(bdf_is_canonical(NULL));
	CU_ASSERT_FALSE(bdf_is_canonical("0000:00:00.0 "));
	CU_ASSERT_TRUE(bdf_is_canonical("ffff:ff:1f.7"));
	ASSERT_OK(pci_id_pair_parse("ABCD:ef01", &v, &d));
	CU_ASSERT_EQUAL(v, 0xabcd);
	CU_ASSERT_EQUAL(d, 0xef01);
	ASSERT_ERR(pci_id_pair_parse("10de:2204x", &v, &d), EINVAL);
	ASSERT_ERR(pci_id_pair_parse(NULL, &v, &d), EINVAL);
	ASSERT_OK(hex_parse_u64("0XfF", 0xff, &x));
	CU_ASSERT_EQUAL(x, 0xff);
	ASSERT_ERR(hex_parse_u64("0x100", 0xff, &x), ERANGE);
	ASSERT_ERR(hex_parse_u64("-1", UINT64_MAX, &x), EINVAL);
	ASSERT_OK(hex_parse_u64("0xffffffffffffffff", UINT64_MAX, &x));
	CU_ASSERT_EQUAL(x, UINT64_MAX);
	ASSERT_ERR(num_parse_u64("0x", UINT64_MAX, &x), EINVAL);
	ASSERT_ERR(num_parse_u64("-1", UINT64_MAX, &x), EINVAL);
	ASSERT_ERR(num_parse_u64(" 1", UINT64_MAX, &x), EINVAL);
}

static CU_TestInfo tests[] = {
	{ "workstation", test_workstation },
	{ "gpu_server", test_gpu_server },
	{ "sriov", test_sriov },
	{ "other_fixtures", test_other_fixtures },
	{ "foreign_members", test_foreign_members },
	{ "finalize_by_hand", test_finalize_by_hand },
	{ "finalize_long_domains", test_finalize_long_domains },
	{ "writer_sorts", test_writer_sorts },
	{ "region_types", test_region_types },
	{ "parse_edges", test_parse_edges },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("host", tests);
