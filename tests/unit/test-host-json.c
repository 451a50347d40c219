/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The snapshot reader's errors (field paths), and the fixtures' byte-identical round trip. */
#include <dirent.h>
#include <glob.h>
#include <stdarg.h>

#include "common/host.h"
#include "common/macro.h"
#include "tests/unit/test.h"

#define KERNEL_OK "{\"iommu_units\": [\"dmar0\"], \"iommu_vendor\": \"intel\"}"
#define GROUPS_OK                                                                                  \
	"[{\"group\": 1, \"type\": \"DMA\", \"reserved_regions\": [{\"start\": "                   \
	"\"0x00000000fee00000\", \"end\": \"0x00000000feefffff\", \"type\": \"msi\"}], "           \
	"\"devices\": [\"0000:01:00.0\"]}]"
#define DEV_PORT                                                                                   \
	"{\"bdf\": \"0000:00:01.0\", \"vendor\": \"8086\", \"device\": \"460d\", \"class\": \"060400\"}"
/* DEV_GPU(extra): the endpoint with extra members spliced in ("" for none). */
#define DEV_GPU(extra)                                                                             \
	"{\"bdf\": \"0000:01:00.0\", \"vendor\": \"10de\", \"device\": \"2204\", \"class\": "      \
	"\"030000\", \"iommu_group\": 1, \"parent\": \"0000:00:01.0\"" extra "}"
#define DOC(kernel, groups, devices)                                                               \
	"{\"format\": \"ioasid-host\", \"version\": 1, \"kernel\": " kernel                        \
	", \"groups\": " groups ", \"devices\": " devices "}"
#define DEVS(extra) "[" DEV_PORT ", " DEV_GPU(extra) "]"
#define DOC_DEV(extra) DOC(KERNEL_OK, GROUPS_OK, DEVS(extra))
/* DOC_VDPA(mgmtdevs, devices): the minimal host with vDPA arrays added. */
#define DOC_VDPA(mgmt, vdevs)                                                                      \
	"{\"format\": \"ioasid-host\", \"version\": 1, \"kernel\": " KERNEL_OK                     \
	", \"groups\": " GROUPS_OK                                                                 \
	", \"devices\": " DEVS("") ", \"vdpa_management_devices\": " mgmt                          \
				   ", \"vdpa_devices\": " vdevs "}"
#define MGMT_OK                                                                                    \
	"[{\"bus\": \"pci\", \"name\": \"0000:01:00.0\", \"supported_classes\": "                  \
	"\"0x0000000000000002\"}, {\"bus\": null, \"name\": \"vdpasim_net\", "                     \
	"\"supported_classes\": \"0x0000000000000002\"}]"
/* VDEV(name, mgmt, driver, vhost): one vDPA device. */
#define VDEV(name, mgmt, driver, vhost)                                                            \
	"{\"name\": \"" name "\", \"management_device\": \"" mgmt                                  \
	"\", \"device_id\": 1, \"vendor_id\": 6900, \"driver\": " driver ", \"vhost\": " vhost "}"
#define VHOST0 "{\"name\": \"vhost-vdpa-0\", \"dev\": \"506:0\"}"

static void test_minimal_ok(void) {
	_cleanup_host_free_ Host *h = NULL;
	_cleanup_free_ char *err = NULL;
	int r = host_load_json_string(DOC_DEV(""), &h, &err);
	if (r < 0)
		fprintf(stderr, "error: %s\n", strna(err));
	ASSERT_OK(r);
	CU_ASSERT_EQUAL(h->n_devices, 2);
	CU_ASSERT_EQUAL(h->n_groups, 1);
	CU_ASSERT_PTR_NULL(err);
	const Device *d = host_find_device(h, "0000:01:00.0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(d->vendor, 0x10de);
	CU_ASSERT_EQUAL(d->class, 0x030000);
	CU_ASSERT_EQUAL(d->numa_node, -1); /* defaults for optional fields */
	CU_ASSERT_EQUAL(d->sriov_totalvfs, -1);
	CU_ASSERT_PTR_NULL(d->driver);
	CU_ASSERT_PTR_EQUAL(d->group, &h->groups[0]);
	CU_ASSERT_EQUAL(h->kernel.iommufd, TRI_UNKNOWN);
	CU_ASSERT_EQUAL(h->groups[0].regions[0].type, RESV_MSI);
	CU_ASSERT_EQUAL(h->groups[0].regions[0].start, 0xfee00000ULL);
	CU_ASSERT_EQUAL(h->groups[0].regions[0].end, 0xfeefffffULL);
	CU_ASSERT_PTR_NULL(h->groups[0].member_bdfs);
}

/* reset_method: absent and null are "not known" (and stay absent when written), [] is a
 * known "no reset method", a list keeps its order. */
static void test_reset_method(void) {
	static const struct {
		const char *json;
		bool known;
		const char *methods; /* space-separated, "" for none */
		const char *written; /* what the writer emits, NULL: no reset_method key */
	} cases[] = {
		{ DOC_DEV(""), false, "", NULL },
		{ DOC_DEV(", \"reset_method\": null"), false, "", NULL },
		{ DOC_DEV(", \"reset_method\": []"), true, "", "\"reset_method\": [\n      ]" },
		{ DOC_DEV(", \"reset_method\": [\"pm\", \"bus\"]"), true, "pm bus",
		  "\"reset_method\": [\n        \"pm\",\n        \"bus\"\n      ]" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_host_free_ Host *h = NULL;
		_cleanup_free_ char *err = NULL, *out = NULL;
		const char *json = cases[i].json;
		ASSERT_OK(host_load_json_string(json, &h, &err));
		const Device *d = host_find_device(h, "0000:01:00.0");
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		CU_ASSERT_EQUAL(d->reset_known, cases[i].known);
		char got[128] = "";
		for (size_t j = 0; d->reset_methods && d->reset_methods[j]; j++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", j ? " " : "",
				 d->reset_methods[j]);
		ASSERT_STREQ(got, cases[i].methods);
		ASSERT_OK(host_to_json_string(h, &out));
		if (cases[i].written) {
			CU_ASSERT_PTR_NOT_NULL(strstr(out, cases[i].written));
		} else {
			CU_ASSERT_PTR_NULL(strstr(out, "reset_method"));
		}
	}
}

static void test_tab_in_property(void) {
	_cleanup_host_free_ Host *h = NULL;
	_cleanup_free_ char *err = NULL, *out = NULL;
	ASSERT_OK(host_load_json_string(DOC_DEV(", \"properties\": {\"ID_X\": \"a\\tb\"}"), &h,
					&err));
	const Device *d = host_find_device(h, "0000:01:00.0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	ASSERT_STREQ(d->properties[0], "ID_X=a\tb");
	ASSERT_OK(host_to_json_string(h, &out));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"ID_X\": \"a\\tb\""));
}

static const struct {
	const char *json;
	const char *message; /* expected prefix of the error */
} bad[] = {
	{ "", "snapshot: JSON syntax error at offset 0: unexpected end of input" },
	{ "{", "snapshot: JSON syntax error at offset 1: unexpected end of input" },
	{ "{\"format\": }", "snapshot: JSON syntax error at offset 11 (line 1, column 12)" },
	{ "{\n\"format\": \"ioasid-host\",\n nope}",
	  "snapshot: JSON syntax error at offset 28 (line 3, column 2)" },
	{ "{} x", "snapshot: JSON syntax error at offset 3 (line 1, column 4): trailing data" },
	{ "[]", "snapshot: expected a JSON object, got array" },
	{ "{\"version\": 1}", "format: missing required field" },
	{ "{\"format\": \"other\", \"version\": 1}",
	  "format: expected \"ioasid-host\", got \"other\"" },
	{ "{\"format\": \"ioasid-host\", \"version\": 2}", "version: integer out of range [1, 1]" },
	{ "{\"format\": \"ioasid-host\", \"version\": \"1\"}",
	  "version: expected an integer, got string" },
	{ "{\"format\": \"ioasid-host\", \"version\": 1, \"devices\": [], \"groups\": [], \"foo\": 1}",
	  "snapshot: unknown key 'foo'" },
	{ "{\"format\": \"ioasid-host\", \"version\": 1, \"groups\": []}",
	  "devices: missing required field" },
	{ DOC(KERNEL_OK, GROUPS_OK, "{}"), "devices: expected an array, got object" },
	{ DOC(KERNEL_OK, "[]", "[3]"), "devices[0]: expected an object, got int" },
	{ DOC_DEV(", \"colour\": \"red\""), "devices[1]: unknown key 'colour'" },
	{ DOC(KERNEL_OK, GROUPS_OK,
	      "[" DEV_PORT ", {\"bdf\": \"0000:01:00.0\", \"vendor\": \"10DE\"}]"),
	  "devices[1].vendor: expected a 4-digit hex string" },
	{ DOC(KERNEL_OK, GROUPS_OK,
	      "[" DEV_PORT ", {\"bdf\": \"0000:01:00.0\", \"vendor\": \"10de0\"}]"),
	  "devices[1].vendor: expected a 4-digit hex string" },
	{ DOC(KERNEL_OK, GROUPS_OK,
	      "[" DEV_PORT ", {\"bdf\": \"0000:01:00.0\", \"vendor\": 4318}]"),
	  "devices[1].vendor: expected a 4-digit hex string" },
	{ DOC(KERNEL_OK, GROUPS_OK,
	      "[" DEV_PORT ", {\"bdf\": \"0000:01:00.0\", \"vendor\": \"10de\"}]"),
	  "devices[1].device: missing required field" },
	{ DOC(KERNEL_OK, "[]",
	      "[{\"bdf\": \"0000:01:00.0\", \"vendor\": \"10de\", \"device\": \"2204\", \"class\": \"0300\"}]"),
	  "devices[0].class: expected a 6-digit hex string" },
	{ DOC(KERNEL_OK, "[]",
	      "[{\"bdf\": \"0000:01:00.0\", \"vendor\": \"10de\", \"device\": \"2204\"}]"),
	  "devices[0].class: missing required field" },
	{ DOC_DEV(", \"revision\": \"1\""), "devices[1].revision: expected a 2-digit hex string" },
	{ DOC_DEV(", \"subsystem_vendor\": \"\""),
	  "devices[1].subsystem_vendor: expected a 4-digit hex string" },
	{ DOC(KERNEL_OK, "[]", "[{\"bdf\": \"01:00.0\"}]"),
	  "devices[0].bdf: expected a canonical PCI address" },
	{ DOC(KERNEL_OK, "[]", "[{\"bdf\": \"0000:01:20.0\"}]"),
	  "devices[0].bdf: expected a canonical PCI address" },
	{ DOC(KERNEL_OK, "[]", "[{\"bdf\": \"0000:01:00.0 \"}]"),
	  "devices[0].bdf: expected a canonical PCI address" },
	{ DOC(KERNEL_OK, "[]", "[{\"bdf\": \"0000:0A:00.0\"}]"),
	  "devices[0].bdf: expected a canonical PCI address" },
	/* A long domain is canonical only as the kernel prints it: no padding beyond 4 digits. */
	{ DOC(KERNEL_OK, "[]", "[{\"bdf\": \"00010000:e1:00.0\"}]"),
	  "devices[0].bdf: expected a canonical PCI address" },
	{ DOC(KERNEL_OK, "[]", "[{\"bdf\": \"100000000:e1:00.0\"}]"),
	  "devices[0].bdf: expected a canonical PCI address" },
	{ DOC(KERNEL_OK, "[]", "[{\"vendor\": \"10de\"}]"),
	  "devices[0].bdf: missing required field" },
	{ DOC(KERNEL_OK, GROUPS_OK,
	      "[" DEV_PORT
	      ", {\"bdf\": \"0000:01:00.0\", \"vendor\": \"10de\", \"device\": \"2204\", \"class\": \"030000\", \"iommu_group\": \"1\"}]"),
	  "devices[1].iommu_group: expected an integer, got string" },
	{ DOC(KERNEL_OK, GROUPS_OK,
	      "[" DEV_PORT
	      ", {\"bdf\": \"0000:01:00.0\", \"vendor\": \"10de\", \"device\": \"2204\", \"class\": \"030000\", \"iommu_group\": -3}]"),
	  "devices[1].iommu_group: integer out of range" },
	{ DOC(KERNEL_OK, GROUPS_OK,
	      "[" DEV_PORT
	      ", {\"bdf\": \"0000:01:00.0\", \"vendor\": \"10de\", \"device\": \"2204\", \"class\": \"030000\", \"iommu_group\": 99999999999999999999}]"),
	  "devices[1].iommu_group: expected an integer, got double" }, /* beyond int64 */
	{ DOC_DEV(", \"numa_node\": -2"), "devices[1].numa_node: integer out of range" },
	{ DOC_DEV(", \"numa_node\": 1.5"),
	  "devices[1].numa_node: expected an integer, got double" },
	{ DOC_DEV(", \"vfio\": {\"name\": \"vfiox\", \"dev\": \"511:0\"}"),
	  "devices[1].vfio.name: expected \"vfioN\"" },
	{ DOC_DEV(", \"vfio\": {\"name\": \"vfio0\", \"dev\": \"511\"}"),
	  "devices[1].vfio.dev: expected \"MAJOR:MINOR\"" },
	{ DOC_DEV(", \"vfio\": {\"name\": \"vfio0\", \"dev\": \"511:-1\"}"),
	  "devices[1].vfio.dev: expected \"MAJOR:MINOR\"" },
	{ DOC_DEV(", \"vfio\": {\"name\": \"vfio0\"}"),
	  "devices[1].vfio.dev: missing required field" },
	{ DOC_DEV(", \"vfio\": {\"name\": \"vfio0\", \"dev\": \"511:0\", \"noiommu\": true}"),
	  "devices[1].vfio.noiommu: does not match the cdev name 'vfio0'" },
	{ DOC_DEV(", \"vfio\": \"vfio0\""),
	  "devices[1].vfio: expected an object or null, got string" },
	{ DOC_DEV(", \"driver\": \"\""), "devices[1].driver: must not be empty" },
	{ DOC_DEV(", \"driver\": \"../vfio-pci\""), "devices[1].driver: expected a file name" },
	{ DOC_DEV(", \"driver\": 7"), "devices[1].driver: expected a string, got int" },
	/* Refused by the JSON parser itself (strings are C strings), before any field is read. */
	{ DOC_DEV(", \"vendor_name\": \"NV\\u0000IDIA\""),
	  "snapshot: JSON syntax error at offset 505 (line 1, column 506): \\u0000 in a string" },
	{ DOC_DEV(", \"device_name\": \"a\\nb\""),
	  "devices[1].device_name: string contains a control character" },
	{ DOC_DEV(", \"netdevs\": \"eth0\""), "devices[1].netdevs: expected an array, got string" },
	{ DOC_DEV(", \"netdevs\": [\"a-very-long-interface\"]"),
	  "devices[1].netdevs[0]: interface name longer than 15" },
	{ DOC_DEV(", \"netdevs\": [\"eth0\", 1]"),
	  "devices[1].netdevs[1]: expected a string, got int" },
	{ DOC_DEV(", \"properties\": {\"ID_X\": 1}"),
	  "devices[1].properties.ID_X: expected a string, got int" },
	{ DOC_DEV(", \"properties\": []"), "devices[1].properties: expected an object, got array" },
	{ DOC_DEV(", \"sriov\": {\"totalvfs\": 2, \"numvfs\": 3, \"virtfn\": []}"),
	  "devices[1].sriov.numvfs: integer out of range [0, 2]" },
	{ DOC_DEV(", \"sriov\": {\"totalvfs\": 2, \"numvfs\": 1, \"virtfn\": []}"),
	  "devices[1].sriov.virtfn: has 0 entries but numvfs is 1" },
	{ DOC_DEV(", \"sriov\": {\"totalvfs\": 2, \"numvfs\": 1, \"virtfn\": [\"0000:01:00.9\"]}"),
	  "devices[1].sriov.virtfn[0]: expected a canonical PCI address" },
	{ DOC_DEV(", \"sriov\": {\"totalvfs\": 2, \"numvfs\": 1, \"virtfn\": [\"0000:01:00.2\"]}"),
	  "devices[1].sriov.virtfn[0]: no device '0000:01:00.2' on this host" },
	{ DOC_DEV(", \"physfn\": \"0000:09:00.0\""),
	  "devices[1].physfn: no device '0000:09:00.0' on this host" },
	{ DOC_DEV(", \"reset_method\": \"flr\""),
	  "devices[1].reset_method: expected an array, got string" },
	{ DOC_DEV(", \"reset_method\": [\"FLR\"]"),
	  "devices[1].reset_method[0]: expected a reset method name" },
	{ DOC_DEV(", \"reset_method\": [\"flr\", \"bus\", \"flr\"]"),
	  "devices[1].reset_method: 'flr' listed twice" },
	{ DOC(KERNEL_OK,
	      "[{\"group\": 1, \"reserved_regions\": [{\"start\": \"0x1000\", \"end\": \"0x1fff\", \"type\": \"bogus\"}], \"devices\": [\"0000:01:00.0\"]}]",
	      DEVS("")),
	  "groups[0].reserved_regions[0].type: unknown region type 'bogus'" },
	{ DOC(KERNEL_OK,
	      "[{\"group\": 1, \"reserved_regions\": [{\"start\": \"fee00000\", \"end\": \"0x1fff\", \"type\": \"msi\"}], \"devices\": [\"0000:01:00.0\"]}]",
	      DEVS("")),
	  "groups[0].reserved_regions[0].start: expected a hex address" },
	{ DOC(KERNEL_OK,
	      "[{\"group\": 1, \"reserved_regions\": [{\"start\": \"0x10000000000000000\", \"end\": \"0x1fff\", \"type\": \"msi\"}], \"devices\": [\"0000:01:00.0\"]}]",
	      DEVS("")),
	  "groups[0].reserved_regions[0].start: expected a hex address" },
	{ DOC(KERNEL_OK,
	      "[{\"group\": 1, \"reserved_regions\": [{\"start\": \"0x2000\", \"end\": \"0x1fff\", \"type\": \"msi\"}], \"devices\": [\"0000:01:00.0\"]}]",
	      DEVS("")),
	  "groups[0].reserved_regions[0].end: end is below start" },
	{ DOC(KERNEL_OK,
	      "[{\"group\": 1, \"reserved_regions\": [{\"start\": \"0x1000\", \"type\": \"msi\"}], \"devices\": [\"0000:01:00.0\"]}]",
	      DEVS("")),
	  "groups[0].reserved_regions[0].end: missing required field" },
	{ DOC(KERNEL_OK, "[{\"devices\": [\"0000:01:00.0\"]}]", DEVS("")),
	  "groups[0].group: missing required field" },
	/* The old name of "group" is read, but a group that gives both says it twice. */
	{ DOC(KERNEL_OK, "[{\"group\": 1, \"number\": 1, \"devices\": [\"0000:01:00.0\"]}]",
	      DEVS("")),
	  "groups[0]: both 'group' and 'number' (its name in older snapshots) given: keep one" },
	{ DOC(KERNEL_OK, "[{\"number\": 2, \"devices\": [\"0000:01:00.0\"], \"group\": 2}]",
	      DEVS("")),
	  "groups[0]: both 'group' and 'number'" },
	{ DOC(KERNEL_OK, "[{\"number\": -1, \"devices\": [\"0000:01:00.0\"]}]", DEVS("")),
	  "groups[0].number: integer out of range" },
	{ DOC(KERNEL_OK, "[{\"number\": null, \"devices\": [\"0000:01:00.0\"]}]", DEVS("")),
	  "groups[0].number: must not be null" },
	{ DOC(KERNEL_OK, "[{\"group\": 1}]", DEVS("")),
	  "groups[0].devices: missing required field" },
	{ DOC(KERNEL_OK, "[{\"group\": 1, \"type\": \"\"}]", DEVS("")),
	  "groups[0].type: must not be empty" },
	{ DOC(KERNEL_OK, "[{\"group\": 1, \"devices\": [\"0000:01:00.0\", \"0000:05:00.0\"]}]",
	      DEVS("")),
	  "groups[0].devices[1]: no device '0000:05:00.0' on this host" },
	{ DOC(KERNEL_OK, "[{\"group\": 1, \"devices\": [\"0000:01:00.0\", \"0000:01:00.0\"]}]",
	      DEVS("")),
	  "groups[0].devices[1]: '0000:01:00.0' listed twice" },
	{ DOC(KERNEL_OK, "[{\"group\": 1, \"devices\": [\"0000:01:00.0\", \"0000:00:01.0\"]}]",
	      DEVS("")),
	  "groups[0].devices[1]: device '0000:00:01.0' has iommu_group -1, not 1" },
	{ DOC(KERNEL_OK, "[{\"group\": 1, \"devices\": []}]", DEVS("")),
	  "devices[1].iommu_group: group 1 does not list '0000:01:00.0' in its devices" },
	{ DOC(KERNEL_OK, "[]", DEVS("")), "devices[1].iommu_group: no group 1 in 'groups'" },
	{ DOC(KERNEL_OK,
	      "[{\"group\": 1, \"devices\": [\"0000:01:00.0\"]}, {\"group\": 1, \"devices\": []}]",
	      DEVS("")),
	  "groups[1].group: duplicate of groups[0] (1)" },
	{ DOC(KERNEL_OK, GROUPS_OK, "[" DEV_GPU("") ", " DEV_PORT ", " DEV_PORT "]"),
	  "devices[2].bdf: duplicate of devices[1] ('0000:00:01.0')" },
	/* Finalize reports the index the device had in the input, not its sorted position. */
	{ DOC(KERNEL_OK, GROUPS_OK, "[" DEV_GPU("") "]"),
	  "devices[0].parent: no device '0000:00:01.0' on this host" },
	{ DOC(KERNEL_OK, "[]",
	      "[{\"bdf\": \"0000:00:01.0\", \"vendor\": \"8086\", \"device\": \"460d\", \"class\": \"060400\", \"parent\": \"0000:00:01.0\"}]"),
	  "devices[0].parent: '0000:00:01.0' refers to the device itself" },
	{ DOC(KERNEL_OK, "[]",
	      "[{\"bdf\": \"0000:00:01.0\", \"vendor\": \"8086\", \"device\": \"460d\", \"class\": \"060400\", \"parent\": \"0000:02:00.0\"},"
	      " {\"bdf\": \"0000:01:00.0\", \"vendor\": \"8086\", \"device\": \"460d\", \"class\": \"060400\", \"parent\": \"0000:00:01.0\"},"
	      " {\"bdf\": \"0000:02:00.0\", \"vendor\": \"8086\", \"device\": \"460d\", \"class\": \"060400\", \"parent\": \"0000:01:00.0\"}]"),
	  "devices[0].parent: the parent chain of '0000:00:01.0' loops" },
	{ DOC(KERNEL_OK,
	      "[{\"group\": 1, \"devices\": [\"0000:01:00.0\"], \"foreign_members\": [\"0000:01:00.1\"]}]",
	      DEVS("")),
	  "groups[0].foreign_members[0]: '0000:01:00.1' is a PCI address: list it in 'devices'" },
	{ DOC(KERNEL_OK,
	      "[{\"group\": 1, \"devices\": [\"0000:01:00.0\"], \"foreign_members\": [\"a/b\"]}]",
	      DEVS("")),
	  "groups[0].foreign_members[0]: expected a file name" },
	{ DOC(KERNEL_OK,
	      "[{\"group\": 1, \"devices\": [\"0000:01:00.0\"], \"foreign_members\": [\"x.usb\", \"x.usb\"]}]",
	      DEVS("")),
	  "groups[0].foreign_members: 'x.usb' listed twice" },
	{ DOC(KERNEL_OK,
	      "[{\"group\": 1, \"devices\": [\"0000:01:00.0\"], \"foreign_members\": [{\"bus\": \"platform\"}]}]",
	      DEVS("")),
	  "groups[0].foreign_members[0].name: missing required field" },
	{ DOC(KERNEL_OK,
	      "[{\"group\": 1, \"devices\": [\"0000:01:00.0\"], \"foreign_members\": [{\"name\": \"x.usb\", \"driver\": \"a/b\"}]}]",
	      DEVS("")),
	  "groups[0].foreign_members[0].driver: expected a file name" },
	{ DOC(KERNEL_OK,
	      "[{\"group\": 1, \"devices\": [\"0000:01:00.0\"], \"foreign_members\": [{\"name\": \"x.usb\", \"state\": 1}]}]",
	      DEVS("")),
	  "groups[0].foreign_members[0]: unknown key 'state'" },
	{ DOC(KERNEL_OK,
	      "[{\"group\": 1, \"devices\": [\"0000:01:00.0\"], \"foreign_members\": [5]}]",
	      DEVS("")),
	  "groups[0].foreign_members[0]: expected an object or a device name, got int" },
	{ DOC(KERNEL_OK,
	      "[{\"group\": 1, \"devices\": [\"0000:01:00.0\"], \"foreign_members\": [{\"name\": \"0000:01:00.1\"}]}]",
	      DEVS("")),
	  "groups[0].foreign_members[0].name: '0000:01:00.1' is a PCI address: list it in 'devices'" },
	{ DOC("{\"iommu_vendor\": \"via\"}", "[]", "[]"),
	  "kernel.iommu_vendor: unknown vendor 'via'" },
	{ DOC("{\"address_width\": 65}", "[]", "[]"),
	  "kernel.address_width: integer out of range [0, 64]" },
	{ DOC("{\"iommufd\": \"yes\"}", "[]", "[]"),
	  "kernel.iommufd: expected true, false or null, got string" },
	{ DOC("{\"iommu_units\": [\"../dmar0\"]}", "[]", "[]"),
	  "kernel.iommu_units[0]: expected a file name" },
	{ DOC("{\"colour\": 1}", "[]", "[]"), "kernel: unknown key 'colour'" },
	{ DOC("[]", "[]", "[]"), "kernel: expected an object, got array" },
	{ "{\"format\": \"ioasid-host\", \"version\": 1, \"hostname\": 5, \"groups\": [], \"devices\": []}",
	  "hostname: expected a string, got int" },
	{ DOC_VDPA(MGMT_OK, "[" VDEV("vdpa0", "pci/0000:02:00.0", "\"vhost_vdpa\"", VHOST0) "]"),
	  "vdpa_devices[0].management_device: 'pci/0000:02:00.0' is not in "
	  "vdpa_management_devices" },
	{ DOC_VDPA(
		  "[{\"bus\": \"pci\", \"name\": \"0000:02:00.0\", \"supported_classes\": \"0x0\"}]",
		  "[]"),
	  "vdpa_management_devices[0].name: no PCI function '0000:02:00.0' on this host" },
	{ DOC_VDPA("[{\"bus\": \"pci\", \"name\": \"01:00.0\", \"supported_classes\": \"0x0\"}]",
		   "[]"),
	  "vdpa_management_devices[0].name: '01:00.0' is not a canonical PCI address" },
	{ DOC_VDPA(MGMT_OK, "[" VDEV("vdpa0", "vdpasim_net", "\"virtio_vdpa\"", VHOST0) "]"),
	  "vdpa_devices[0].vhost: a vhost-vdpa char device but the driver is not vhost_vdpa" },
	{ DOC_VDPA(MGMT_OK, "[" VDEV("vdpa0", "vdpasim_net", "\"vhost_vdpa\"",
				     "{\"name\": \"vfio0\", \"dev\": \"506:0\"}") "]"),
	  "vdpa_devices[0].vhost.name: 'vfio0' is not a vhost-vdpa-N name" },
	{ DOC_VDPA(MGMT_OK, "[" VDEV("vdpa0", "vdpasim_net", "null",
				     "{\"name\": \"vhost-vdpa-0\", "
				     "\"dev\": \"506\"}") "]"),
	  "vdpa_devices[0].vhost.dev: expected \"MAJOR:MINOR\"" },
	{ DOC_VDPA(MGMT_OK, "[" VDEV("vdpa0", "pci/", "null", "null") "]"),
	  "vdpa_devices[0].management_device: expected \"BUS/NAME\" or \"NAME\"" },
	{ DOC_VDPA(MGMT_OK, "[" VDEV("a/b", "vdpasim_net", "null", "null") "]"),
	  "vdpa_devices[0].name: 'a/b' is not a device name" },
	{ DOC_VDPA(MGMT_OK, "[" VDEV("vdpa0", "vdpasim_net", "null",
				     "null") ", " VDEV("vdpa0", "vdpasim_net", "null", "null") "]"),
	  "vdpa_devices[1].name: duplicate of vdpa_devices[0] ('vdpa0')" },
	{ DOC_VDPA(MGMT_OK, "[{\"name\": \"vdpa0\"}]"),
	  "vdpa_devices[0].management_device: missing required field" },
};

/* vDPA: parents linked to their PCI function, sorted, looked up, written back the same. */
static void test_vdpa(void) {
	static const char json[] = DOC_VDPA(
		MGMT_OK, "[" VDEV("vdpa1", "vdpasim_net", "\"virtio_vdpa\"", "null") ", " VDEV(
				 "vdpa0", "pci/0000:01:00.0", "\"vhost_vdpa\"", VHOST0) "]");
	_cleanup_host_free_ Host *h = NULL, *h2 = NULL;
	_cleanup_free_ char *err = NULL, *out = NULL, *out2 = NULL;
	_cleanup_free_ const VdpaDevice **kids = NULL;
	int r = host_load_json_string(json, &h, &err);
	if (r < 0)
		fprintf(stderr, "error: %s\n", strna(err));
	ASSERT_OK(r);
	CU_ASSERT_EQUAL_FATAL(h->n_vdpa_devices, 2);
	CU_ASSERT_EQUAL_FATAL(h->n_vdpa_mgmtdevs, 2);
	/* Management devices: the software one (no bus) first; devices by name. */
	CU_ASSERT_PTR_NULL(h->vdpa_mgmtdevs[0].bus);
	ASSERT_STREQ(h->vdpa_mgmtdevs[1].name, "0000:01:00.0");
	CU_ASSERT_EQUAL(h->vdpa_mgmtdevs[1].supported_classes, 2);
	ASSERT_STREQ(h->vdpa_devices[0].name, "vdpa0");
	const Device *gpu = host_find_device(h, "0000:01:00.0");
	const VdpaDevice *v0 = host_find_vdpa_device(h, "vdpa0");
	const VdpaDevice *v1 = host_find_vdpa_device(h, "vdpa1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v1);
	CU_ASSERT_PTR_NULL(host_find_vdpa_device(h, "vdpa2"));
	CU_ASSERT_PTR_EQUAL(v0->parent, gpu);
	CU_ASSERT_PTR_NULL(v1->parent);
	CU_ASSERT_TRUE(vdpa_device_on_vhost(v0));
	CU_ASSERT_FALSE(vdpa_device_on_vhost(v1));
	ASSERT_STREQ(v0->vhost_name, "vhost-vdpa-0");
	CU_ASSERT_EQUAL(v0->vhost_major, 506);
	CU_ASSERT_EQUAL(v0->vendor_id, 0x1af4);
	CU_ASSERT_TRUE(device_is_vdpa_parent(h, gpu));
	CU_ASSERT_FALSE(device_is_vdpa_parent(h, host_find_device(h, "0000:00:01.0")));
	CU_ASSERT_EQUAL(host_vdpa_children(h, gpu, &kids), 1);
	CU_ASSERT_PTR_EQUAL(kids[0], v0);
	CU_ASSERT_PTR_NULL(kids[1]);
	ASSERT_OK(host_to_json_string(h, &out));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"management_device\": \"pci/0000:01:00.0\""));
	ASSERT_OK(host_load_json_string(out, &h2, &err));
	ASSERT_OK(host_to_json_string(h2, &out2));
	ASSERT_STREQ(out2, out);
	/* A host without vDPA writes no vDPA keys. */
	_cleanup_host_free_ Host *h3 = NULL;
	_cleanup_free_ char *out3 = NULL;
	ASSERT_OK(host_load_json_string(DOC_DEV(""), &h3, &err));
	ASSERT_OK(host_to_json_string(h3, &out3));
	CU_ASSERT_PTR_NULL(strstr(out3, "vdpa"));
}

/* Non-PCI members: the bare names an older snapshot wrote still load (driver not known, and
 * written back without one), the object form keeps bus and driver (null: none). */
static void test_foreign_members(void) {
	static const char json[] = DOC(
		KERNEL_OK,
		"[{\"group\": 1, \"devices\": [\"0000:01:00.0\"], \"foreign_members\": "
		"[\"b.mmc\", {\"name\": \"a.usb\", \"bus\": \"platform\", \"driver\": \"dwc3\"},"
		" {\"name\": \"c.mmc\", \"bus\": null, \"driver\": null}]}]",
		DEVS(""));
	_cleanup_host_free_ Host *h = NULL, *h2 = NULL;
	_cleanup_free_ char *err = NULL, *out = NULL, *out2 = NULL;
	ASSERT_OK(host_load_json_string(json, &h, &err));
	const Group *g = host_find_group(h, 1);
	CU_ASSERT_EQUAL_FATAL(g->n_foreign_members, 3);
	/* Sorted by name. */
	ASSERT_STREQ(g->foreign_members[0].name, "a.usb");
	ASSERT_STREQ(g->foreign_members[0].bus, "platform");
	ASSERT_STREQ(g->foreign_members[0].driver, "dwc3");
	CU_ASSERT_TRUE(g->foreign_members[0].driver_known);
	ASSERT_STREQ(g->foreign_members[1].name, "b.mmc");
	CU_ASSERT_PTR_NULL(g->foreign_members[1].bus);
	CU_ASSERT_PTR_NULL(g->foreign_members[1].driver);
	CU_ASSERT_FALSE(g->foreign_members[1].driver_known);
	ASSERT_STREQ(g->foreign_members[2].name, "c.mmc");
	CU_ASSERT_PTR_NULL(g->foreign_members[2].driver);
	CU_ASSERT_TRUE(g->foreign_members[2].driver_known);
	ASSERT_OK(host_to_json_string(h, &out));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"name\": \"a.usb\""));
	/* The unknown driver stays unknown through a write and a read. */
	ASSERT_OK(host_load_json_string(out, &h2, &err));
	const Group *g2 = host_find_group(h2, 1);
	CU_ASSERT_FALSE(g2->foreign_members[1].driver_known);
	CU_ASSERT_TRUE(g2->foreign_members[2].driver_known);
	ASSERT_OK(host_to_json_string(h2, &out2));
	ASSERT_STREQ(out2, out);
}

/* A snapshot written before the group's key was "group" called it "number": it loads as
 * the same host, each group object with either name, and is written back with "group". */
static void test_old_group_key(void) {
	static const char old[] = DOC(KERNEL_OK,
				      "[{\"number\": 1, \"devices\": [\"0000:01:00.0\"]}, "
				      "{\"group\": 7, \"devices\": []}]",
				      DEVS(""));
	static const char now[] = DOC(KERNEL_OK,
				      "[{\"group\": 1, \"devices\": [\"0000:01:00.0\"]}, "
				      "{\"group\": 7, \"devices\": []}]",
				      DEVS(""));
	_cleanup_host_free_ Host *a = NULL, *b = NULL;
	_cleanup_free_ char *err = NULL, *out_old = NULL, *out_now = NULL;
	int r = host_load_json_string(old, &a, &err);
	if (r < 0)
		fprintf(stderr, "error: %s\n", strna(err));
	ASSERT_OK(r);
	CU_ASSERT_EQUAL_FATAL(a->n_groups, 2);
	const Group *g = host_find_group(a, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_EQUAL(g->n_members, 1);
	CU_ASSERT_PTR_EQUAL(host_find_device(a, "0000:01:00.0")->group, g);
	CU_ASSERT_PTR_NOT_NULL(host_find_group(a, 7));
	ASSERT_OK(host_to_json_string(a, &out_old));
	CU_ASSERT_PTR_NULL(strstr(out_old, "\"number\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_old, "\"group\": 1"));
	ASSERT_OK(host_load_json_string(now, &b, &err));
	ASSERT_OK(host_to_json_string(b, &out_now));
	ASSERT_STREQ(out_old, out_now);
}

static void test_errors(void) {
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_host_free_ Host *h = NULL;
		_cleanup_free_ char *err = NULL;
		int r = host_load_json_string(bad[i].json, &h, &err);
		if (r != -EINVAL || !err || !strneq(err, bad[i].message, strlen(bad[i].message)))
			fprintf(stderr, "case %zu: r=%d, error '%s', expected '%s'\n", i, r,
				strna(err), bad[i].message);
		ASSERT_ERR(r, EINVAL);
		CU_ASSERT_PTR_NULL(h);
		CU_ASSERT_PTR_NOT_NULL_FATAL(err);
		CU_ASSERT_TRUE(strneq(err, bad[i].message, strlen(bad[i].message)));
	}
}

static void test_limits(void) {
	/* Nesting beyond the parser's depth is a syntax error, not a stack overflow. */
	char deep[2 * 4000 + 1];
	memset(deep, '[', 4000);
	memset(deep + 4000, ']', 4000);
	deep[8000] = '\0';
	_cleanup_host_free_ Host *h = NULL;
	_cleanup_free_ char *err = NULL;
	ASSERT_ERR(host_load_json_string(deep, &h, &err), EINVAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "JSON syntax error"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "nesting too deep"));

	/* A NUL inside a file is refused rather than silently truncating the document. */
	char path[PATH_MAX];
	const char *tmpdir = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/test-host-json-XXXXXX",
		 tmpdir && *tmpdir ? tmpdir : "/tmp");
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	static const char junk[] = "{\"format\": \"ioasid-host\"}\0garbage";
	CU_ASSERT_EQUAL(write(fd, junk, sizeof(junk) - 1), (ssize_t)sizeof(junk) - 1);
	close(fd);
	free(err);
	err = NULL;
	ASSERT_ERR(host_load_json_file(path, &h, &err), EINVAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "NUL byte at offset 25"));
	unlink(path);
	ASSERT_ERR(host_load_json_file(path, &h, NULL), ENOENT);
	ASSERT_ERR(host_load_json_string(NULL, &h, NULL), EINVAL);
}

/* Expects host_load_json_string(json) to fail with an error starting with prefix and
 * containing want. */
static void assert_refused(const char *json, const char *prefix, const char *want) {
	_cleanup_host_free_ Host *h = NULL;
	_cleanup_free_ char *err = NULL;
	int r = host_load_json_string(json, &h, &err);
	if (r != -EINVAL || !err || !strneq(err, prefix, strlen(prefix)) || !strstr(err, want))
		fprintf(stderr, "r=%d, error '%s', expected '%s...%s'\n", r, strna(err), prefix,
			want);
	ASSERT_ERR(r, EINVAL);
	CU_ASSERT_PTR_NULL(h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_TRUE(strneq(err, prefix, strlen(prefix)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
}

/* A key given twice is refused (json-c kept the last one): the snapshot is ambiguous. Small
 * objects are checked key by key, a full device object (more than 16 keys) at its end. */
static void test_duplicate_keys(void) {
	assert_refused(DOC_DEV(", \"vendor\": \"10de\""), "snapshot: JSON syntax error at offset",
		       "duplicate key 'vendor'");
	assert_refused("{\"format\": \"ioasid-host\", \"format\": \"ioasid-host\", \"version\": 1}",
		       "snapshot: JSON syntax error at offset 26 (line 1, column 27)",
		       "duplicate key 'format'");
	assert_refused(DOC_DEV(", \"properties\": {\"A\": \"1\", \"A\": \"2\"}"),
		       "snapshot: JSON syntax error at offset", "duplicate key 'A'");
	assert_refused(
		DOC_DEV(", \"subsystem_vendor\": \"0000\", \"subsystem_device\": \"0000\", "
			"\"revision\": \"a1\", \"vendor_name\": null, \"device_name\": null, "
			"\"driver\": null, \"vfio\": null, \"numa_node\": 0, \"netdevs\": [], "
			"\"properties\": {}, \"physfn\": \"0000:00:01.0\", \"class\": \"030000\""),
		"snapshot: JSON syntax error at offset", "duplicate key 'class'");

	/* The same documents without the repetition load. */
	_cleanup_host_free_ Host *h = NULL;
	ASSERT_OK(host_load_json_string(DOC_DEV(", \"properties\": {\"A\": \"1\", \"B\": \"2\"}"),
					&h, NULL));
}

/* Containers nest five deep in a valid snapshot (root, groups, a group, its
 * reserved_regions, a region; root, devices, a device, sriov, virtfn): that loads, and one
 * level more is a syntax error before any field is read. */
static void test_depth_boundary(void) {
	_cleanup_host_free_ Host *h = NULL;
	/* GROUPS_OK holds a region: five levels. */
	ASSERT_OK(host_load_json_string(DOC_DEV(""), &h, NULL));
	CU_ASSERT_EQUAL_FATAL(h->groups[0].n_regions, 1);
	/* Five levels hold a value of the wrong type: a field error, the parser took it. */
	assert_refused(DOC_DEV(", \"properties\": {\"A\": []}"),
		       "devices[1].properties.A: expected a string, got array", "");
	assert_refused(DOC_DEV(", \"sriov\": {\"totalvfs\": 2, \"numvfs\": 1, \"virtfn\": [7]}"),
		       "devices[1].sriov.virtfn[0]: expected a string, got int", "");
	/* Six: refused by the parser, at the sixth bracket. */
	assert_refused(DOC_DEV(", \"properties\": {\"A\": [[]]}"),
		       "snapshot: JSON syntax error at offset", "nesting too deep");
	assert_refused(
		DOC_DEV(", \"sriov\": {\"totalvfs\": 2, \"numvfs\": 1, \"virtfn\": [[\"x\"]]}"),
		"snapshot: JSON syntax error at offset", "nesting too deep");
	assert_refused(
		DOC(KERNEL_OK,
		    "[{\"group\": 1, \"reserved_regions\": [{\"start\": {}}], "
		    "\"devices\": []}]",
		    "[]"),
		"snapshot: JSON syntax error at offset 158 (line 1, column 159): nesting too deep",
		"");
}

static void test_fixture_round_trip(void) {
	char pattern[PATH_MAX];
	glob_t gl = {};
	snprintf(pattern, sizeof(pattern), "%s/hosts/*.json", test_dir());
	CU_ASSERT_EQUAL_FATAL(glob(pattern, 0, NULL, &gl), 0);
	CU_ASSERT_TRUE(gl.gl_pathc >= 7);
	for (size_t i = 0; i < gl.gl_pathc; i++) {
		_cleanup_host_free_ Host *a = NULL, *b = NULL;
		_cleanup_free_ char *err = NULL, *s1 = NULL, *s2 = NULL, *file = NULL;
		int r = host_load_json_file(gl.gl_pathv[i], &a, &err);
		if (r < 0)
			fprintf(stderr, "%s: %s\n", gl.gl_pathv[i], strna(err));
		ASSERT_OK(r);
		CU_ASSERT_TRUE(a->n_devices > 0);
		ASSERT_OK(host_to_json_string(a, &s1));
		ASSERT_OK(host_load_json_string(s1, &b, &err));
		ASSERT_OK(host_to_json_string(b, &s2));
		ASSERT_STREQ(s1, s2);
		CU_ASSERT_EQUAL(a->n_devices, b->n_devices);
		CU_ASSERT_EQUAL(a->n_groups, b->n_groups);
		/* The fixtures are stored in canonical form: the writer reproduces them exactly. */
		size_t size;
		ASSERT_OK(read_full_file(gl.gl_pathv[i], 64 << 20, &file, &size));
		if (size > 0 && file[size - 1] == '\n')
			file[size - 1] = '\0';
		if (!streq(file, s1))
			fprintf(stderr, "%s is not in canonical form\n", gl.gl_pathv[i]);
		CU_ASSERT_TRUE(streq(file, s1));
	}
	globfree(&gl);
}

/* Seeded byte mutations of every fixture: the reader returns 0 or -EINVAL with a message,
 * never anything else, and whatever it accepts re-serializes to a fixed point. */
static void test_mutations(void) {
	char pattern[PATH_MAX];
	glob_t gl = {};
	unsigned seed = 12345, accepted = 0, refused = 0;
	static const char *const inserts[] = { "{", "[",    "\"", "\\u0000", "99999999999999999999",
					       "-", "null", ",",  "\xff" };
	snprintf(pattern, sizeof(pattern), "%s/hosts/*.json", test_dir());
	CU_ASSERT_EQUAL_FATAL(glob(pattern, 0, NULL, &gl), 0);
	for (size_t f = 0; f < gl.gl_pathc; f++) {
		_cleanup_free_ char *orig = NULL;
		size_t len;
		ASSERT_OK(read_full_file(gl.gl_pathv[f], 64 << 20, &orig, &len));
		for (unsigned n = 0; n < 300; n++) {
			_cleanup_free_ char *buf = malloc(len + 64);
			CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
			memcpy(buf, orig, len + 1);
			size_t l = len;
			unsigned edits = 1 + rand_r(&seed) % 4;
			for (unsigned e = 0; e < edits && l > 0; e++) {
				size_t pos = (size_t)rand_r(&seed) % l;
				switch (rand_r(&seed) % 3) {
				case 0: /* flip a byte (never to NUL: that is tested separately) */
					buf[pos] = (char)(1 + rand_r(&seed) % 255);
					break;
				case 1: { /* delete a run */
					size_t want = 1 + (size_t)(rand_r(&seed) % 40);
					size_t k = MIN(l - pos, want); /* MIN evaluates twice */
					memmove(buf + pos, buf + pos + k, l - pos - k + 1);
					l -= k;
					break;
				}
				default: { /* insert a token */
					const char *t =
						inserts[rand_r(&seed) % ELEMENTSOF(inserts)];
					size_t k = strlen(t);
					if (l + k >= len + 64)
						break;
					memmove(buf + pos + k, buf + pos, l - pos + 1);
					memcpy(buf + pos, t, k);
					l += k;
				}
				}
			}
			_cleanup_host_free_ Host *h = NULL, *h2 = NULL;
			_cleanup_free_ char *err = NULL, *s1 = NULL, *s2 = NULL;
			int r = host_load_json_string(buf, &h, &err);
			CU_ASSERT_TRUE(r == 0 || r == -EINVAL);
			if (r < 0) {
				CU_ASSERT_PTR_NOT_NULL(err);
				CU_ASSERT_PTR_NULL(h);
				refused++;
				continue;
			}
			accepted++;
			ASSERT_OK(host_to_json_string(h, &s1));
			ASSERT_OK(host_load_json_string(s1, &h2, NULL));
			ASSERT_OK(host_to_json_string(h2, &s2));
			ASSERT_STREQ(s1, s2);
		}
	}
	globfree(&gl);
	/* Both paths were exercised. */
	CU_ASSERT_TRUE(refused > 0);
	CU_ASSERT_TRUE(accepted > 0);
}

static CU_TestInfo tests[] = {
	{ "reset_method", test_reset_method },
	{ "minimal_ok", test_minimal_ok },
	{ "tab_in_property", test_tab_in_property },
	{ "errors", test_errors },
	{ "old_group_key", test_old_group_key },
	{ "foreign_members", test_foreign_members },
	{ "vdpa", test_vdpa },
	{ "limits", test_limits },
	{ "duplicate_keys", test_duplicate_keys },
	{ "depth_boundary", test_depth_boundary },
	{ "fixture_round_trip", test_fixture_round_trip },
	{ "mutations", test_mutations },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("host-json", tests);
