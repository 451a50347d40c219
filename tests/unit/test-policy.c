/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy engine: parser errors, selectors, grants, ordering, explain, ownership. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "policy/policy-internal.h"
#include "policy/policy.h"
#include "tests/unit/policy-resolver.h"
#include "tests/unit/test.h"

/* ---- fixtures ------------------------------------------------------------------------ */

static char *gpu_props[] = { "ID_MODEL_FROM_DATABASE=GA102 [GeForce RTX 3090]",
			     "ID_PATH=pci-0000:01:00.0", NULL };

static Device dev_gpu = {
	.bdf = "0000:01:00.0",
	.vendor = 0x10de,
	.device = 0x2204,
	.subsystem_vendor = 0x1458,
	.subsystem_device = 0x403b,
	.class = 0x030000,
	.driver = "vfio-pci",
	.iommu_group = 17,
	.numa_node = 0,
	.properties = gpu_props,
};
static Device dev_gpu_audio = {
	.bdf = "0000:01:00.1",
	.vendor = 0x10de,
	.device = 0x1aef,
	.subsystem_vendor = 0x1458,
	.subsystem_device = 0x403b,
	.class = 0x040300,
	.driver = "vfio-pci",
	.iommu_group = 17,
	.numa_node = 0,
};
static Device dev_vga = {
	/* 3D controller, class 0302 */
	.bdf = "0000:02:00.0", .vendor = 0x10de,  .device = 0x20b0, .class = 0x030200,
	.driver = NULL,        .iommu_group = 18, .numa_node = 0,
};
static Device dev_nic = {
	.bdf = "0000:3b:00.0",
	.vendor = 0x8086,
	.device = 0x1572,
	.subsystem_vendor = 0x8086,
	.subsystem_device = 0x0001,
	.class = 0x020000,
	.driver = "i40e",
	.iommu_group = 30,
	.numa_node = 1,
};
/* A VF of that NIC (X710 VF): bob's split-sriov rule in the example is about these. */
static Device dev_vf = {
	.bdf = "0000:3b:02.0",
	.vendor = 0x8086,
	.device = 0x154c,
	.class = 0x020000,
	.driver = "vfio-pci",
	.iommu_group = 31,
	.numa_node = 1,
};
static Device dev_vmd_nvme = {
	/* behind an Intel VMD: PCI domain 10000 */
	.bdf = "10000:e1:00.0", .vendor = 0x144d,  .device = 0xa80a, .class = 0x010802,
	.driver = "nvme",       .iommu_group = 41, .numa_node = -1,
};
static Device dev_low_nvme = {
	/* what a 4-digit reading of the VMD domain would name */
	.bdf = "1000:e1:00.0", .vendor = 0x144d,  .device = 0xa80a, .class = 0x010802,
	.driver = "nvme",      .iommu_group = 42, .numa_node = -1,
};
static Device dev_noiommu = {
	.bdf = "0000:5e:00.0",
	.vendor = 0x144d,
	.device = 0xa808,
	.class = 0x010802,
	.driver = "vfio-pci",
	.iommu_group = 40,
	.numa_node = -1,
	.noiommu = true,
};

static const gid_t alice_groups[] = { 36 };      /* kvm */
static const gid_t carol_groups[] = { 10, 100 }; /* wheel, users */

static const PolicyPeer peer_alice = {
	.uid = 1000, .gid = 1000, .groups = alice_groups, .n_groups = 1, .pid = 42
};
static const PolicyPeer peer_bob = { .uid = 1001, .gid = 1001, .pid = 43 };
static const PolicyPeer peer_carol = {
	.uid = 1002, .gid = 1002, .groups = carol_groups, .n_groups = 2, .pid = 44
};
static const PolicyPeer peer_root = { .uid = 0, .gid = 0, .pid = 1 };
static const PolicyPeer peer_libvirtd = { .uid = 0,
					  .gid = 0,
					  .pid = 2,
					  .have_pidfd = true,
					  .unit = "libvirtd.service",
					  .cgroup = "/system.slice/libvirtd.service",
					  .label = "system_u:system_r:virtd_t:s0" };
/* A process of a user in bob's rootless container (a subordinate uid), and the container's
 * root (bob's own uid): units as the daemon derives them (cgroup_identity_from_path). */
static const PolicyPeer peer_podman = {
	.uid = 101000,
	.gid = 101000,
	.pid = 3,
	.have_pidfd = true,
	.unit = "user@1001.service",
	.user_unit = "libpod-abc.scope",
	.cgroup = "/user.slice/user-1001.slice/user@1001.service/user.slice/libpod-abc.scope",
	.label = "system_u:system_r:container_t:s0:c1,c2",
};
static const PolicyPeer peer_podman_root = {
	.uid = 1001,
	.gid = 1001,
	.pid = 5,
	.have_pidfd = true,
	.unit = "user@1001.service",
	.user_unit = "libpod-abc.scope",
	.cgroup = "/user.slice/user-1001.slice/user@1001.service/user.slice/libpod-abc.scope/"
		  "container",
};
/* alice runs `systemd-run --user --unit=libvirtd.service ...`: her manager names it. */
static const PolicyPeer peer_spoof = {
	.uid = 1000,
	.gid = 1000,
	.pid = 6,
	.have_pidfd = true,
	.unit = "user@1000.service",
	.user_unit = "libvirtd.service",
	.cgroup = "/user.slice/user-1000.slice/user@1000.service/app.slice/libvirtd.service",
};
static const PolicyPeer peer_podman_root_nopidfd = {
	.uid = 1001,
	.gid = 1001,
	.pid = 5,
	.unit = "user@1001.service",
	.user_unit = "libpod-abc.scope",
};
/* Unmapped: even in kvm, it never matches. */
static const PolicyPeer peer_nobody = {
	.uid = 65534, .gid = 65534, .groups = alice_groups, .n_groups = 1
};
static const PolicyPeer peer_unknown = { .uid = (uid_t)-1, .gid = (gid_t)-1 };
/* libvirtd's attributes, but no pidfd (kernel without SO_PEERPIDFD): unit and cgroup
 * cannot be trusted, the label (SO_PEERSEC) can. */
static const PolicyPeer peer_libvirtd_nopidfd = { .uid = 0,
						  .gid = 0,
						  .pid = 2,
						  .unit = "libvirtd.service",
						  .cgroup = "/system.slice/libvirtd.service",
						  .label = "system_u:system_r:virtd_t:s0" };

#define POLICY_TEST_NOBODY ((uid_t)65534)

static Policy *load_ok(const char *text) {
	PolicyLoadOptions o = { .resolver = &test_resolver, .generation = 7 };
	PolicyError e = {};
	Policy *p = NULL;
	int r = policy_load_string(text, "test.conf", &o, &p, &e);
	if (r < 0)
		fprintf(stderr, "\nload failed: %s:%u:%u: %s\n--\n%s\n--\n", strna(e.file), e.line,
			e.column, strna(e.message), text);
	policy_error_done(&e);
	CU_ASSERT_FATAL(r == 0 && p);
	return p;
}

static bool eval(const Policy *p, const PolicyPeer *peer, const Device *d, unsigned mode,
		 const char *layout, PolicyDecision *ret) {
	PolicyRequest req = { .peer = peer,
			      .device = d,
			      .mode = mode,
			      .layout = layout,
			      .method = "io.ioasid.Broker.Acquire" };
	PolicyDecision dec;
	if (!ret)
		ret = &dec;
	int r = policy_evaluate(p, &req, ret);
	CU_ASSERT(r >= 0);
	CU_ASSERT_EQUAL(ret->generation, 7);
	return ret->allow;
}

/* ---- parser errors ------------------------------------------------------------------- */

static void test_errors(void) {
	static const struct {
		const char *text;
		unsigned line, col;
		const char *msg; /* substring */
	} cases[] = {
		{ "frobnicate yes\n", 1, 1, "Unknown keyword 'frobnicate'" },
		{ "\n\n  allow user alice to any mode sideways\n", 3, 32,
		  "Unknown mode 'sideways'" },
		{ "allow user alice\n", 1, 17, "needs 'to'" },
		{ "allow user alice to vdpa \"*\" mode attached\n", 1, 1,
		  "A 'vdpa' rule grants mode vhost-vdpa only" },
		{ "allow user alice to any mode vhost-vdpa\n", 1, 1,
		  "Mode vhost-vdpa needs a 'vdpa' device selector" },
		{ "pool nics { vdpa \"*\" }\n", 1, 13, "'vdpa' belongs in a rule" },
		{ "allow to any\n", 1, 7, "identity selector" },
		{ "allow user alice to\n", 1, 20, "Expected a device selector" },
		{ "allow user mallory to any\n", 1, 12, "Unknown user 'mallory'" },
		{ "allow group wizards to any\n", 1, 13, "Unknown group 'wizards'" },
		{ "allow user alice user bob to any\n", 1, 18, "Duplicate 'user'" },
		{ "allow user alice to vendor 0x10de vendor 0x8086\n", 1, 35,
		  "Duplicate 'vendor'" },
		{ "allow user alice to any mode attached mode unbound\n", 1, 39,
		  "Duplicate 'mode'" },
		{ "allow user alice to any memlock 1G memlock 2G\n", 1, 36, "Duplicate 'memlock'" },
		{ "pool a { any }\npool a { vendor 0x10de }\n", 2, 6, "Duplicate pool 'a'" },
		{ "layout v { }\nlayout v { }\n", 2, 8, "Duplicate layout 'v'" },
		{ "allow user alice to pool gpus\n", 1, 26, "Unknown pool 'gpus'" },
		{ "layout a { }\nallow user alice to any layout a,vm\n", 2, 34,
		  "Unknown layout 'vm'" },
		{ "allow user nobody to any\n", 1, 12, "65534" },
		{ "allow user 65534 to any\n", 1, 12, "65534" },
		{ "allow group nogroup to any\n", 1, 13, "65534" },
		{ "allow uid 60000-70000 to any\n", 1, 11, "includes 65534" },
		{ "allow uid 5-3 to any\n", 1, 11, "Empty uid range" },
		{ "allow uid x to any\n", 1, 11, "Invalid uid range" },
		{ "allow user alice to bdf 0000:3b:00.9\n", 1, 25, "Invalid PCI address" },
		{ "allow user alice to bdf 100000000:e1:00.0\n", 1, 25, "4 to 8 domain digits" },
		{ "allow user alice to bdf 000:e1:00.0\n", 1, 25, "Invalid PCI address" },
		{ "allow user alice to vendor 10ded\n", 1, 28, "Invalid vendor id" },
		{ "allow user alice to class 0x030\n", 1, 27, "Invalid class" },
		{ "allow user alice to class 0x0302ff/0xff0000\n", 1, 27, "outside its mask" },
		{ "allow user alice to any memlock lots\n", 1, 33, "Invalid memlock" },
		{ "allow user alice to any group sometimes\n", 1, 31, "whole or implicit" },
		{ "allow user alice to any lifetime forever\n", 1, 34, "connection or process" },
		{ "allow user alice to any on-revoke explode\n", 1, 35, "detach" },
		{ "allow user alice to any share-reset maybe\n", 1, 37,
		  "Expected yes or no after 'share-reset'" },
		{ "allow user alice to any split-sriov 1\n", 1, 37,
		  "Expected yes or no after 'split-sriov'" },
		{ "allow user alice to any split-sriov yes split-sriov no\n", 1, 41,
		  "Duplicate 'split-sriov'" },
		{ "deny user bob to any share-reset yes\n", 1, 22, "only valid on allow" },
		{ "allow user alice to any max-devices -1\n", 1, 37, "Invalid max-devices" },
		{ "deny user bob to any mode attached\n", 1, 22, "only valid on allow" },
		{ "admin user alice to any\n", 1, 18, "no 'to' part" },
		{ "allow * user alice to any\n", 1, 9, "'*' cannot be combined" },
		{ "allow user alice to any bdf 0000:01:00.0\n", 1, 25, "'any' cannot be combined" },
		{ "allow user alice to any bogus\n", 1, 25, "Unknown word 'bogus'" },
		{ "allow user \"alice\n", 1, 12, "Unterminated string" },
		{ "allow user \"al\\ice\" to any\n", 1, 15, "Unknown escape" },
		{ "socket-group kvm\nsocket-group wheel\n", 2, 1,
		  "Duplicate setting 'socket-group'" },
		{ "socket-group wizards\n", 1, 14, "Unknown group 'wizards'" },
		{ "allow-noiommu maybe\n", 1, 15, "yes or no" },
		{ "idle-timeout 0\n", 1, 14, "Invalid idle-timeout" },
		{ "stage-timeout 0\n", 1, 15, "Invalid stage-timeout '0' (1..604800 seconds)" },
		{ "stage-timeout 604801\n", 1, 15, "Invalid stage-timeout" },
		{ "stage-timeout 60\nstage-timeout 60\n", 2, 1,
		  "Duplicate setting 'stage-timeout'" },
		{ "max-connections-per-uid 3 4\n", 1, 27, "Unexpected '4'" },
		{ "pool gpus vendor 0x10de\n", 1, 11, "Expected '{'" },
		{ "pool gpus {\n vendor 0x10de\n", 1, 1, "Unterminated 'pool' block" },
		{ "pool gpus { }\n", 1, 1, "has no selector" },
		{ "pool gpus { pool other }\n", 1, 13, "cannot refer to another pool" },
		{ "pool gpus { vendor 0x10de frob }\n", 1, 27, "Unknown device selector 'frob'" },
		{ "pool \"bad name\" { any }\n", 1, 6, "Invalid pool name" },
		{ "layout vm { iova 0x1000-0x0fff }\n", 1, 18, "Empty IOVA window" },
		{ "layout vm { iova 0x1001-0x1fff }\n", 1, 18, "not 4 KiB aligned" },
		{ "layout vm { iova 0x0-0x1fff 0x1000-0x2fff }\n", 1, 13, "overlap" },
		{ "layout vm { iova 0x0-0xfff\n iova 0x1000-0x1fff }\n", 2, 2, "Duplicate 'iova'" },
		{ "layout vm { iova auto max }\n", 1, 27,
		  "Expected an address after 'iova auto max'" },
		{ "layout vm { iova auto max 0x1000 }\n", 1, 27,
		  "not the last address of a 4 KiB page" },
		{ "layout vm { iova auto max zz }\n", 1, 27, "Expected an address" },
		{ "layout vm { iova auto 0x0-0xfff }\n", 1, 23,
		  "Unexpected '0x0-0xfff' after 'iova'" },
		{ "layout vm { iova auto\n iova auto }\n", 2, 2, "Duplicate 'iova'" },
		{ "layout vm { accounting everybody }\n", 1, 24, "user or process" },
		{ "layout vm { hugepages maybe }\n", 1, 23, "on or off" },
		{ "layout vm { require teleport }\n", 1, 21, "Unknown capability 'teleport'" },
		{ "layout vm { map 0x0-0xfff }\n", 1, 13, "Pre-mapped regions are not allowed" },
		{ "layout vm { colour blue }\n", 1, 13, "Unknown layout setting 'colour'" },
		{ "allow user alice to any\x01\n", 1, 24, "control character" },
		{ "}\n", 1, 1, "Unexpected '}'" },
		{ "allow user alice to any mode ,attached\n", 1, 30, "Empty element" },
		{ "allow user alice to vendor 10DE\ndeny *\nallow user alice to vendor 0x10de\n", 3,
		  1, "Duplicate rule: same as the rule on line 1" },
		{ "deny user bob\nadmin user bob\ndeny user bob to any\n", 3, 1,
		  "same as the rule on line 1" },
		/* A user unit is named by its owner: only with the uid that owns it. */
		{ "allow user-unit libvirtd.service to any\n", 1, 7,
		  "'user-unit' needs a 'user' or 'uid' selector" },
		{ "allow group kvm user-unit \"libpod-*.scope\" to any\n", 1, 17,
		  "'user-unit' needs a 'user' or 'uid' selector" },
		{ "\nadmin user-unit x.service\n", 2, 7, "'user-unit' needs a 'user' or 'uid'" },
		{ "deny label x user-unit x.service\n", 1, 14, "needs a 'user' or 'uid'" },
		{ "allow user alice user-unit a.service user-unit b.service to any\n", 1, 38,
		  "Duplicate 'user-unit'" },
		{ "allow * user-unit a.service to any\n", 1, 9, "'*' cannot be combined" },
		{ "allow user alice user-unit \"\" to any\n", 1, 28, "Empty pattern" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		PolicyLoadOptions o = { .resolver = &test_resolver };
		PolicyError e = {};
		Policy *p = NULL;
		int r = policy_load_string(cases[i].text, "t.conf", &o, &p, &e);
		bool ok = r == -EINVAL && !p && e.message && e.line == cases[i].line &&
			  e.column == cases[i].col && strstr(e.message, cases[i].msg) && e.file &&
			  streq(e.file, "t.conf");
		if (!ok)
			fprintf(stderr, "\ncase %zu: r=%d got %u:%u '%s', want %u:%u '%s'\n", i, r,
				e.line, e.column, strna(e.message), cases[i].line, cases[i].col,
				cases[i].msg);
		CU_ASSERT_TRUE(ok);
		policy_error_done(&e);
		policy_free(p);
	}
}

/* ---- E4: empty and comment-only policies deny everything --------------------------- */

static void test_empty(void) {
	static const char *texts[] = { "", "\n\n", "# nothing here\n   # still nothing\n",
				       "socket-group kvm\npool gpus { vendor 0x10de }\n" };
	const PolicyPeer *peers[] = { &peer_alice, &peer_root, &peer_libvirtd, &peer_podman };
	const Device *devs[] = { &dev_gpu, &dev_nic, &dev_vga };
	for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
		_cleanup_policy_free_ Policy *p = load_ok(texts[i]);
		CU_ASSERT_EQUAL(policy_n_rules(p), 0);
		for (size_t a = 0; a < ELEMENTSOF(peers); a++)
			for (size_t b = 0; b < ELEMENTSOF(devs); b++) {
				PolicyDecision d;
				CU_ASSERT_FALSE(
					eval(p, peers[a], devs[b], POLICY_MODE_ATTACHED, NULL, &d));
				CU_ASSERT_PTR_NULL(d.file);
				CU_ASSERT_EQUAL(d.line, 0);
				CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "no rule matched"));
			}
		CU_ASSERT_FALSE(policy_is_admin(p, &peer_root, NULL));
	}
}

/* ---- each selector ------------------------------------------------------------------- */

static void test_selectors(void) {
	static const struct {
		const char *rule;
		const PolicyPeer *peer;
		const Device *dev;
		bool allow;
	} cases[] = {
		{ "allow user alice to any", &peer_alice, &dev_gpu, true },
		{ "allow user alice to any", &peer_bob, &dev_gpu, false },
		{ "allow user 1001 to any", &peer_bob, &dev_gpu, true },
		{ "allow group kvm to any", &peer_alice, &dev_gpu, true }, /* supplementary */
		{ "allow group kvm to any", &peer_bob, &dev_gpu, false },
		{ "allow group 1001 to any", &peer_bob, &dev_gpu, true },    /* primary */
		{ "allow group users to any", &peer_carol, &dev_nic, true }, /* second suppl. */
		{ "allow uid 100000-165535 to any", &peer_podman, &dev_gpu, true },
		{ "allow uid 100000-165535 to any", &peer_alice, &dev_gpu, false },
		{ "allow uid 1000 to any", &peer_alice, &dev_gpu, true },
		{ "allow unit libvirtd.service to any", &peer_libvirtd, &dev_gpu, true },
		{ "allow unit libvirtd.service to any", &peer_root, &dev_gpu, false },
		{ "allow unit \"*.service\" to any", &peer_libvirtd, &dev_gpu, true },
		{ "allow unit libvirtd.service to any", &peer_libvirtd_nopidfd, &dev_gpu, false },
		{ "allow cgroup \"/system.slice/*\" to any", &peer_libvirtd, &dev_gpu, true },
		{ "allow cgroup \"/system.slice/*\" to any", &peer_libvirtd_nopidfd, &dev_gpu,
		  false },
		{ "allow label \"*:virtd_t:*\" to any", &peer_libvirtd_nopidfd, &dev_gpu, true },
		{ "allow cgroup \"*/libpod-*.scope\" to any", &peer_podman, &dev_gpu, true },
		{ "allow cgroup \"*/libpod-*.scope\" to any", &peer_libvirtd, &dev_gpu, false },
		/* unit: the system unit only; a user's manager cannot name one. */
		{ "allow unit libvirtd.service to any", &peer_spoof, &dev_gpu, false },
		{ "allow unit \"libvirtd.*\" to any", &peer_spoof, &dev_gpu, false },
		{ "allow unit \"user@*.service\" to any", &peer_spoof, &dev_gpu, true },
		{ "allow unit \"libpod-*.scope\" to any", &peer_podman_root, &dev_gpu, false },
		{ "allow unit user@1001.service to any", &peer_podman_root, &dev_gpu, true },
		/* user-unit: a claim of the uid named with it. */
		{ "allow user bob user-unit \"libpod-*.scope\" to any", &peer_podman_root, &dev_gpu,
		  true },
		{ "allow user bob user-unit \"libpod-*.scope\" to any", &peer_podman, &dev_gpu,
		  false }, /* a subordinate uid is not bob */
		{ "allow uid 100000-165535 user-unit \"libpod-*.scope\" to any", &peer_podman,
		  &dev_gpu, true },
		{ "allow user bob user-unit \"libpod-*.scope\" to any", &peer_podman_root_nopidfd,
		  &dev_gpu, false },
		{ "allow user bob user-unit \"libpod-*.scope\" to any", &peer_libvirtd, &dev_gpu,
		  false }, /* no user unit */
		{ "allow user alice user-unit \"libpod-*.scope\" to any", &peer_spoof, &dev_gpu,
		  false },
		{ "allow user alice user-unit libvirtd.service to any", &peer_spoof, &dev_gpu,
		  true },
		{ "allow user alice user-unit libvirtd.service to any", &peer_libvirtd, &dev_gpu,
		  false },
		{ "allow user bob unit user@1001.service user-unit \"libpod-*.scope\" to any",
		  &peer_podman_root, &dev_gpu, true },
		{ "allow label \"*:container_t:*\" to any", &peer_podman, &dev_gpu, true },
		{ "allow label \"*:container_t:*\" to any", &peer_libvirtd, &dev_gpu, false },
		{ "allow label \"*:container_t:*\" to any", &peer_alice, &dev_gpu, false },
		{ "allow * to any", &peer_bob, &dev_gpu, true },
		{ "allow * to any", &peer_nobody, &dev_gpu, false },
		{ "allow group kvm to any", &peer_nobody, &dev_gpu, false },
		{ "allow * to any", &peer_unknown, &dev_gpu, true },
		{ "allow user alice to any", &peer_unknown, &dev_gpu, false },
		{ "allow uid 0-1000 to any", &peer_unknown, &dev_gpu, false },
		{ "allow user alice group kvm to any", &peer_alice, &dev_gpu, true },
		{ "allow user bob group kvm to any", &peer_bob, &dev_gpu, false }, /* AND */
		/* devices */
		{ "allow * to bdf 0000:01:00.0", &peer_bob, &dev_gpu, true },
		{ "allow * to bdf 01:00.0", &peer_bob, &dev_gpu, true },
		{ "allow * to bdf 0000:01:00.0", &peer_bob, &dev_gpu_audio, false },
		{ "allow * to bdf 10000:e1:00.0", &peer_bob, &dev_vmd_nvme, true },
		{ "allow * to bdf 00010000:E1:00.0", &peer_bob, &dev_vmd_nvme, true },
		{ "allow * to bdf 10000:e1:00.0", &peer_bob, &dev_low_nvme, false },
		{ "allow * to bdf 1000:e1:00.0", &peer_bob, &dev_vmd_nvme, false },
		{ "allow * to bdf e1:00.0", &peer_bob, &dev_vmd_nvme, false },
		{ "allow * to vendor 0x10de", &peer_bob, &dev_gpu_audio, true },
		{ "allow * to vendor 10DE", &peer_bob, &dev_gpu_audio, true },
		{ "allow * to vendor 0x10de", &peer_bob, &dev_nic, false },
		{ "allow * to vendor 0x10de device 0x2204", &peer_bob, &dev_gpu, true },
		{ "allow * to vendor 0x10de device 0x2204", &peer_bob, &dev_gpu_audio, false },
		{ "allow * to subsystem-vendor 0x1458", &peer_bob, &dev_gpu, true },
		{ "allow * to subsystem-vendor 0x1458", &peer_bob, &dev_nic, false },
		{ "allow * to subsystem-device 0x403b", &peer_bob, &dev_gpu_audio, true },
		{ "allow * to subsystem-device 0x403b", &peer_bob, &dev_vga, false },
		{ "allow * to class 0x03", &peer_bob, &dev_gpu, true },
		{ "allow * to class 0x03", &peer_bob, &dev_vga, true },
		{ "allow * to class 0x0302", &peer_bob, &dev_vga, true },
		{ "allow * to class 0x0302", &peer_bob, &dev_gpu, false },
		{ "allow * to class 0x030000", &peer_bob, &dev_gpu, true },
		{ "allow * to class 0x030000/0xff0000", &peer_bob, &dev_vga, true },
		{ "allow * to class 0x020000/0xff0000", &peer_bob, &dev_vga, false },
		{ "allow * to driver vfio-pci", &peer_bob, &dev_gpu, true },
		{ "allow * to driver \"vfio-*\"", &peer_bob, &dev_gpu, true },
		{ "allow * to driver vfio-pci", &peer_bob, &dev_nic, false },
		{ "allow * to driver vfio-pci", &peer_bob, &dev_vga, false }, /* no driver */
		{ "allow * to iommu-group 17", &peer_bob, &dev_gpu_audio, true },
		{ "allow * to iommu-group 17", &peer_bob, &dev_nic, false },
		{ "allow * to numa 1", &peer_bob, &dev_nic, true },
		{ "allow * to numa 1", &peer_bob, &dev_gpu, false },
		{ "allow * to property \"ID_MODEL_FROM_DATABASE=GA102*\"", &peer_bob, &dev_gpu,
		  true },
		{ "allow * to property ID_PATH=pci-0000:3b:*", &peer_bob, &dev_gpu, false },
		{ "allow * to property ID_PATH=*", &peer_bob, &dev_nic, false }, /* absent */
		{ "pool gpus { vendor 0x10de class 0x03 }\nallow * to pool gpus", &peer_bob,
		  &dev_vga, true },
		{ "pool gpus { vendor 0x10de class 0x03 }\nallow * to pool gpus", &peer_bob,
		  &dev_gpu_audio, false },
		{ "allow * to pool gpus\npool gpus {\n vendor 0x10de\n class 0x03\n}", &peer_bob,
		  &dev_gpu, true }, /* forward reference */
		{ "allow * to vendor 0x10de class 0x04 iommu-group 17 driver vfio-pci", &peer_bob,
		  &dev_gpu_audio, true },
		{ "allow * to vendor 0x10de class 0x04 iommu-group 18", &peer_bob, &dev_gpu_audio,
		  false },
		/* noiommu devices are refused unless allow-noiommu is on */
		{ "allow * to any", &peer_bob, &dev_noiommu, false },
		{ "allow-noiommu yes\nallow * to any", &peer_bob, &dev_noiommu, true },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_policy_free_ Policy *p = load_ok(cases[i].rule);
		PolicyDecision d;
		bool a = eval(p, cases[i].peer, cases[i].dev, POLICY_MODE_ATTACHED, NULL, &d);
		if (a != cases[i].allow)
			fprintf(stderr, "\ncase %zu '%s': got %s (%s)\n", i, cases[i].rule,
				a ? "allow" : "deny", d.reason);
		CU_ASSERT_EQUAL(a, cases[i].allow);
	}
}

/* ---- grant attributes ---------------------------------------------------------------- */

static void test_grants(void) {
	_cleanup_policy_free_ Policy *p = load_ok(
		"layout vm { iova 0x0-0xfedfffff 0x100000000-0xffffffffffff; accounting process; "
		"hugepages off; require dirty-tracking }\n"
		"layout small { iova 0x100000-0x1fffff }\n"
		"allow user alice to vendor 0x10de mode unbound layout vm,small max-devices 2 "
		"max-leases 3 memlock 64G group implicit lifetime process on-revoke detach+reset "
		"share-reset yes split-sriov no\n"
		"allow user bob to any\n"
		"allow user carol to any on-revoke signal mode attached,unbound memlock infinity\n");
	PolicyDecision d;

	CU_ASSERT_TRUE(eval(p, &peer_alice, &dev_gpu, POLICY_MODE_UNBOUND, "vm", &d));
	CU_ASSERT_EQUAL(d.grant.modes, POLICY_MODE_UNBOUND);
	CU_ASSERT_TRUE(strv_contains(d.grant.layouts, "vm"));
	CU_ASSERT_TRUE(strv_contains(d.grant.layouts, "small"));
	CU_ASSERT_EQUAL(d.grant.max_devices, 2);
	CU_ASSERT_EQUAL(d.grant.max_leases, 3);
	CU_ASSERT_EQUAL(d.grant.memlock, 64ULL << 30);
	CU_ASSERT_EQUAL(d.grant.group_mode, POLICY_GROUP_IMPLICIT);
	CU_ASSERT_EQUAL(d.grant.lifetime, POLICY_LIFETIME_PROCESS);
	CU_ASSERT_EQUAL(d.grant.on_revoke, POLICY_REVOKE_DETACH_RESET);
	CU_ASSERT_TRUE(d.grant.share_reset);
	CU_ASSERT_FALSE(d.grant.split_sriov);
	ASSERT_STREQ(d.file, "test.conf");
	CU_ASSERT_EQUAL(d.line, 3);

	/* Mode not granted: the matching rule still decides (first match), with a reason. */
	CU_ASSERT_FALSE(eval(p, &peer_alice, &dev_gpu, POLICY_MODE_ATTACHED, NULL, &d));
	ASSERT_STREQ(d.reason, "mode 'attached' not granted by rule at test.conf:3");
	CU_ASSERT_EQUAL(d.line, 3);
	CU_ASSERT_FALSE(eval(p, &peer_alice, &dev_gpu, POLICY_MODE_UNBOUND, "big", &d));
	ASSERT_STREQ(d.reason, "layout 'big' not granted by rule at test.conf:3");
	/* No layout asked: fine. */
	CU_ASSERT_TRUE(eval(p, &peer_alice, &dev_gpu, POLICY_MODE_UNBOUND, NULL, &d));

	/* Defaults. */
	CU_ASSERT_TRUE(eval(p, &peer_bob, &dev_nic, POLICY_MODE_ATTACHED, NULL, &d));
	CU_ASSERT_EQUAL(d.grant.modes, POLICY_MODE_ATTACHED);
	CU_ASSERT_PTR_NULL(d.grant.layouts);
	CU_ASSERT_EQUAL(d.grant.max_devices, 0);
	CU_ASSERT_EQUAL(d.grant.max_leases, 0);
	CU_ASSERT_EQUAL(d.grant.memlock, 0);
	CU_ASSERT_EQUAL(d.grant.group_mode, POLICY_GROUP_WHOLE);
	CU_ASSERT_EQUAL(d.grant.lifetime, POLICY_LIFETIME_CONNECTION);
	CU_ASSERT_EQUAL(d.grant.on_revoke, POLICY_REVOKE_DETACH);
	CU_ASSERT_FALSE(d.grant.share_reset);
	CU_ASSERT_FALSE(d.grant.split_sriov);
	CU_ASSERT_FALSE(eval(p, &peer_bob, &dev_nic, POLICY_MODE_UNBOUND, NULL, &d));
	CU_ASSERT_FALSE(eval(p, &peer_bob, &dev_nic, POLICY_MODE_ATTACHED, "vm", &d));

	CU_ASSERT_TRUE(eval(p, &peer_carol, &dev_nic, POLICY_MODE_UNBOUND, NULL, &d));
	CU_ASSERT_EQUAL(d.grant.on_revoke, POLICY_REVOKE_SIGNAL);
	CU_ASSERT_EQUAL(d.grant.memlock, UINT64_MAX);

	/* Layouts. */
	CU_ASSERT_EQUAL(policy_n_layouts(p), 2);
	const PolicyLayout *l = policy_find_layout(p, "vm");
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL(l->n_windows, 2);
	CU_ASSERT_EQUAL(l->windows[0].start, 0);
	CU_ASSERT_EQUAL(l->windows[0].last, 0xfedfffffULL);
	CU_ASSERT_EQUAL(l->windows[1].start, 0x100000000ULL);
	CU_ASSERT_EQUAL(l->windows[1].last, 0xffffffffffffULL);
	CU_ASSERT_EQUAL(l->accounting, POLICY_ACCOUNTING_PROCESS);
	CU_ASSERT_FALSE(l->huge_pages);
	CU_ASSERT_TRUE(strv_contains(l->require, "dirty-tracking"));
	CU_ASSERT_EQUAL(l->line, 1);
	l = policy_find_layout(p, "small");
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL(l->accounting, POLICY_ACCOUNTING_USER);
	CU_ASSERT_TRUE(l->huge_pages);
	CU_ASSERT_PTR_NULL(l->require);
	CU_ASSERT_PTR_NULL(policy_find_layout(p, "nope"));
	CU_ASSERT_PTR_EQUAL(policy_layout_at(p, 1), l);
	CU_ASSERT_PTR_NULL(policy_layout_at(p, 2));
}

static void test_settings(void) {
	_cleanup_policy_free_ Policy *d = load_ok("");
	const PolicySettings *s = policy_settings(d);
	CU_ASSERT_PTR_NULL(s->socket_group);
	CU_ASSERT_FALSE(s->allow_noiommu);
	CU_ASSERT_EQUAL(s->max_connections_per_uid, 64);
	CU_ASSERT_EQUAL(s->idle_timeout_sec, 30);
	CU_ASSERT_EQUAL(s->stage_timeout_sec, 600);
	CU_ASSERT_EQUAL(policy_generation(d), 7);

	_cleanup_policy_free_ Policy *p = load_ok("socket-group kvm\nallow-noiommu yes\n"
						  "max-connections-per-uid 8; idle-timeout 120\n"
						  "stage-timeout 604800\n");
	s = policy_settings(p);
	ASSERT_STREQ(s->socket_group, "kvm");
	CU_ASSERT_TRUE(s->allow_noiommu);
	CU_ASSERT_EQUAL(s->max_connections_per_uid, 8);
	CU_ASSERT_EQUAL(s->idle_timeout_sec, 120);
	CU_ASSERT_EQUAL(s->stage_timeout_sec, 604800);
}

/* ---- E5: overlapping allow and deny rules, first match wins --------------------------- */

static void test_golden(void) {
	_cleanup_policy_free_ Policy *p = load_ok(
		"pool gpus { vendor 0x10de class 0x03 }\n"                   /* 1 */
		"deny user alice to bdf 0000:02:00.0\n"                      /* 2 */
		"allow user alice to pool gpus mode attached,unbound\n"      /* 3 */
		"allow group kvm to any\n"                                   /* 4 */
		"deny group kvm to vendor 0x8086\n"                          /* 5: shadowed */
		"allow user bob to vendor 0x8086 mode unbound\n"             /* 6 */
		"deny user bob\n"                                            /* 7 */
		"allow user bob to any\n"                                    /* 8: dead */
		"allow unit libvirtd.service to any mode attached,unbound\n" /* 9 */
		"allow cgroup \"*/libpod-*.scope\" uid 100000-165535 to vendor 0x10de "
		"group implicit\n"   /* 10 */
		"deny *\n"           /* 11 */
		"allow * to any\n"); /* 12: dead */
	static const struct {
		const PolicyPeer *peer;
		const Device *dev;
		unsigned mode;
		bool allow;
		unsigned line;
	} cases[] = {
		{ &peer_alice, &dev_vga, POLICY_MODE_ATTACHED, false, 2 },
		{ &peer_alice, &dev_gpu, POLICY_MODE_UNBOUND, true, 3 },
		{ &peer_alice, &dev_gpu_audio, POLICY_MODE_ATTACHED, true, 4 }, /* not class 03 */
		{ &peer_alice, &dev_nic, POLICY_MODE_ATTACHED, true, 4 },       /* 5 is shadowed */
		{ &peer_alice, &dev_nic, POLICY_MODE_UNBOUND, false, 4 },
		{ &peer_bob, &dev_nic, POLICY_MODE_UNBOUND, true, 6 },
		{ &peer_bob, &dev_nic, POLICY_MODE_ATTACHED, false, 6 },
		{ &peer_bob, &dev_gpu, POLICY_MODE_ATTACHED, false, 7 },
		{ &peer_libvirtd, &dev_gpu, POLICY_MODE_UNBOUND, true, 9 },
		{ &peer_root, &dev_gpu, POLICY_MODE_ATTACHED, false, 11 },
		{ &peer_podman, &dev_gpu, POLICY_MODE_ATTACHED, true, 10 },
		{ &peer_podman, &dev_nic, POLICY_MODE_ATTACHED, false, 11 },
		{ &peer_carol, &dev_gpu, POLICY_MODE_ATTACHED, false, 11 },
		{ &peer_nobody, &dev_gpu, POLICY_MODE_ATTACHED, false, 0 }, /* matches nothing */
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		PolicyDecision d;
		bool a = eval(p, cases[i].peer, cases[i].dev, cases[i].mode, NULL, &d);
		if (a != cases[i].allow || d.line != cases[i].line)
			fprintf(stderr, "\ngolden %zu: got %s line %u (%s)\n", i,
				a ? "allow" : "deny", d.line, d.reason);
		CU_ASSERT_EQUAL(a, cases[i].allow);
		CU_ASSERT_EQUAL(d.line, cases[i].line);
		if (cases[i].line)
			ASSERT_STREQ(d.file, "test.conf");
	}
	CU_ASSERT_EQUAL(policy_n_rules(p), 11);
	CU_ASSERT_EQUAL(policy_n_pools(p), 1);
	ASSERT_STREQ(policy_pool_name_at(p, 0), "gpus");
	CU_ASSERT_EQUAL(policy_pool_match(p, "gpus", NULL, &dev_vga), 1);
	CU_ASSERT_EQUAL(policy_pool_match(p, "gpus", NULL, &dev_nic), 0);
	ASSERT_ERR(policy_pool_match(p, "tpus", NULL, &dev_nic), ENOENT);
}

/* ---- admin ----------------------------------------------------------------------------- */

static void test_admin(void) {
	_cleanup_policy_free_ Policy *p = load_ok(
		"allow group wheel to any\nadmin group wheel\nadmin user root\n");
	PolicyDecision d;
	CU_ASSERT_TRUE(policy_is_admin(p, &peer_carol, &d));
	CU_ASSERT_EQUAL(d.line, 2);
	CU_ASSERT_TRUE(policy_is_admin(p, &peer_root, &d));
	CU_ASSERT_EQUAL(d.line, 3);
	CU_ASSERT_FALSE(policy_is_admin(p, &peer_alice, &d));
	CU_ASSERT_PTR_NULL(d.file);
	CU_ASSERT_FALSE(policy_is_admin(p, &peer_nobody, &d));
	CU_ASSERT_FALSE(eval(p, &peer_nobody, &dev_gpu, POLICY_MODE_ATTACHED, NULL, &d));
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "peer uid 65534"));
	CU_ASSERT_EQUAL(policy_n_admin(p), 2);
	CU_ASSERT_EQUAL(policy_n_rules(p), 1);
	/* admin rules do not grant devices */
	CU_ASSERT_FALSE(eval(p, &peer_root, &dev_gpu, POLICY_MODE_ATTACHED, NULL, NULL));
	CU_ASSERT_TRUE(eval(p, &peer_carol, &dev_gpu, POLICY_MODE_ATTACHED, NULL, NULL));

	/* admin unit: the system unit, never what a user's manager calls a process. */
	_cleanup_policy_free_ Policy *u = load_ok("admin unit libvirtd.service\n"
						  "admin user bob user-unit \"libpod-*.scope\"\n");
	CU_ASSERT_TRUE(policy_is_admin(u, &peer_libvirtd, &d));
	CU_ASSERT_FALSE(policy_is_admin(u, &peer_spoof, &d));
	CU_ASSERT_TRUE(policy_is_admin(u, &peer_podman_root, &d));
	CU_ASSERT_EQUAL(d.line, 2);
	CU_ASSERT_FALSE(policy_is_admin(u, &peer_podman, &d));
	CU_ASSERT_FALSE(policy_is_admin(u, &peer_podman_root_nopidfd, &d));
}

/* /proc hid the peer's cgroup from the daemon (hidepid): unit, user-unit and cgroup rules
 * cannot match, and the refusal says why. */
static void test_cgroup_hidden(void) {
	static const PolicyPeer hidden = {
		.uid = 1000, .gid = 1000, .pid = 9, .have_pidfd = true, .cgroup_hidden = true
	};
	_cleanup_policy_free_ Policy *p = load_ok("allow unit libvirtd.service to any\n"
						  "admin unit libvirtd.service\n");
	PolicyDecision d;
	CU_ASSERT_FALSE(eval(p, &hidden, &dev_gpu, POLICY_MODE_ATTACHED, NULL, &d));
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "hidden from the daemon by /proc hidepid"));
	CU_ASSERT_FALSE(policy_is_admin(p, &hidden, &d));
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "hidden from the daemon by /proc hidepid"));
	PolicyRequest req = { .peer = &hidden, .device = &dev_gpu, .mode = POLICY_MODE_ATTACHED };
	PolicyExplanation ex;
	ASSERT_OK(policy_explain(p, &req, &d, &ex));
	ASSERT_STREQ(ex.why, "unit: the peer's cgroup is hidden from the daemon (/proc hidepid)");
	/* Nothing to say when no rule needed the cgroup. */
	_cleanup_policy_free_ Policy *q = load_ok("allow user bob to any\n");
	CU_ASSERT_FALSE(eval(q, &hidden, &dev_gpu, POLICY_MODE_ATTACHED, NULL, &d));
	ASSERT_STREQ(d.reason, "no rule matched (default deny)");
	/* Other selectors are unaffected. */
	_cleanup_policy_free_ Policy *a = load_ok("allow user alice to any\n");
	CU_ASSERT_TRUE(eval(a, &hidden, &dev_gpu, POLICY_MODE_ATTACHED, NULL, &d));
}

/* ---- uid ranges: first, last and their neighbours ------------------------------------- */

/* `uid FIRST-LAST` matches FIRST..LAST inclusive, and neither FIRST-1 nor LAST+1, for allow
 * and deny rules (through the index and through explain) and for admin rules alike. */
static void test_uid_range_edges(void) {
	static const struct {
		const char *range;
		uid_t first, last;
	} ranges[] = {
		{ "1000-2000", 1000, 2000 },
		{ "5-5", 5, 5 },                              /* a single uid, written as a range */
		{ "1-65533", 1, 65533 },                      /* up to nobody's neighbour */
		{ "65535-70000", 65535, 70000 },              /* from nobody's other neighbour */
		{ "100000-4294967294", 100000, 4294967294u }, /* the largest uid a range takes */
	};
	for (size_t i = 0; i < ELEMENTSOF(ranges); i++) {
		uid_t first = ranges[i].first, last = ranges[i].last;
		const struct {
			uid_t uid;
			bool in;
		} probes[] = {
			{ first - 1, false },       { first, true }, { first + 1, first < last },
			{ last - 1, last > first }, { last, true },  { last + 1, false },
		};
		_cleanup_free_ char *allow = NULL, *deny = NULL, *admin = NULL;
		CU_ASSERT_FATAL(asprintf(&allow, "allow uid %s to any\n", ranges[i].range) > 0);
		CU_ASSERT_FATAL(asprintf(&deny, "deny uid %s\nallow * to any\n", ranges[i].range) >
				0);
		CU_ASSERT_FATAL(asprintf(&admin, "admin uid %s\n", ranges[i].range) > 0);
		_cleanup_policy_free_ Policy *pa = load_ok(allow), *pd = load_ok(deny),
					     *pm = load_ok(admin);
		for (size_t j = 0; j < ELEMENTSOF(probes); j++) {
			uid_t uid = probes[j].uid;
			bool in = probes[j].in;
			if (uid == POLICY_TEST_NOBODY || uid == (uid_t)-1)
				in = false; /* never matches, whatever the range */
			PolicyPeer peer = { .uid = uid, .gid = 4321, .pid = 77 };
			PolicyDecision d = {};
			PolicyExplanation x;
			bool a = eval(pa, &peer, &dev_gpu, POLICY_MODE_ATTACHED, NULL, NULL);
			bool dn = eval(pd, &peer, &dev_gpu, POLICY_MODE_ATTACHED, NULL, NULL);
			bool m = policy_is_admin(pm, &peer, &d);
			PolicyRequest req = { .peer = &peer,
					      .device = &dev_gpu,
					      .mode = POLICY_MODE_ATTACHED };
			CU_ASSERT(policy_explain(pa, &req, &d, &x) >= 0);
			if (a != in || dn != (uid == POLICY_TEST_NOBODY ? false : !in) || m != in ||
			    d.allow != in)
				fprintf(stderr,
					"\nuid %s, uid %u: allow %d deny-rule %d admin %d "
					"explain %d, expected %d\n",
					ranges[i].range, (unsigned)uid, a, !dn, m, d.allow, in);
			CU_ASSERT_EQUAL(a, in);
			/* The deny rule matches, else `allow *` does; nobody matches neither. */
			CU_ASSERT_EQUAL(dn, uid == POLICY_TEST_NOBODY ? false : !in);
			CU_ASSERT_EQUAL(m, in);
			CU_ASSERT_EQUAL(d.allow, in);
		}
	}

	/* What the parser takes at the edges: a range may end just below 65534 or start just
	 * above it, not touch it; the largest uid is 2^32-2 ((uid_t)-1 means unknown); first
	 * may equal last, not exceed it. */
	static const struct {
		const char *text;
		bool ok;
	} parse[] = {
		{ "allow uid 65533 to any\n", true },
		{ "allow uid 65534 to any\n", false },
		{ "allow uid 65535 to any\n", true },
		{ "allow uid 100-65533 to any\n", true },
		{ "allow uid 100-65534 to any\n", false },
		{ "allow uid 65534-65600 to any\n", false },
		{ "allow uid 65535-65600 to any\n", true },
		{ "allow uid 1-4294967294 to any\n", false }, /* holds 65534 */
		{ "allow uid 65535-4294967294 to any\n", true },
		{ "allow uid 65535-4294967295 to any\n", false },
		{ "allow uid 4294967295 to any\n", false },
		{ "allow uid 7-7 to any\n", true },
		{ "allow uid 8-7 to any\n", false },
		{ "admin uid 100-65534\n", false },
		{ "admin uid 8-7\n", false },
	};
	for (size_t i = 0; i < ELEMENTSOF(parse); i++) {
		PolicyLoadOptions o = { .resolver = &test_resolver };
		PolicyError e = {};
		Policy *p = NULL;
		int r = policy_load_string(parse[i].text, "t.conf", &o, &p, &e);
		if ((r >= 0) != parse[i].ok)
			fprintf(stderr, "\n'%s': %d %s\n", parse[i].text, r, strna(e.message));
		CU_ASSERT_EQUAL(r >= 0, parse[i].ok);
		policy_free(p);
		policy_error_done(&e);
	}
}

/* A device selector whose value is 0 (vendor 0x0000, iommu-group 0, ...) is a selector like
 * any other: it matches only a device with that value. "Unset" is -1 internally; a check
 * written `> 0` instead of `>= 0` would make these rules match every device (found by the
 * mutation run, tests/mutation). */
static void test_zero_valued_selectors(void) {
	static const char *const rules[] = {
		"allow * to vendor 0x0000\n",           "allow * to device 0x0000\n",
		"allow * to subsystem-vendor 0x0000\n", "allow * to subsystem-device 0x0000\n",
		"allow * to iommu-group 0\n",
	};
	Device zero = { .bdf = "0000:00:1f.0",
			.vendor = 0,
			.device = 0,
			.subsystem_vendor = 0,
			.subsystem_device = 0,
			.class = 0x060100,
			.driver = "vfio-pci",
			.iommu_group = 0 };
	for (size_t i = 0; i < ELEMENTSOF(rules); i++) {
		_cleanup_policy_free_ Policy *p = load_ok(rules[i]);
		if (eval(p, &peer_alice, &dev_gpu, POLICY_MODE_ATTACHED, NULL, NULL))
			fprintf(stderr, "\n'%.*s' matches %s\n", (int)strcspn(rules[i], "\n"),
				rules[i], dev_gpu.bdf);
		CU_ASSERT_FALSE(eval(p, &peer_alice, &dev_gpu, POLICY_MODE_ATTACHED, NULL, NULL));
		CU_ASSERT_TRUE(eval(p, &peer_alice, &zero, POLICY_MODE_ATTACHED, NULL, NULL));
		const Device *devs[] = { &dev_gpu, &zero };
		for (size_t j = 0; j < ELEMENTSOF(devs); j++) {
			PolicyRequest req = { .peer = &peer_alice,
					      .device = devs[j],
					      .mode = POLICY_MODE_ATTACHED };
			PolicyDecision d = {};
			PolicyExplanation x;
			CU_ASSERT(policy_explain(p, &req, &d, &x) >= 0);
			CU_ASSERT_EQUAL(d.allow, j == 1);
			/* The rule check alone (the scan that the index is tested against): the
			 * index only narrows the candidates, the selector itself must hold. */
			CU_ASSERT_EQUAL(policy_first_match_scan(p, &req), j == 1 ? 0 : -1);
		}
	}
}

/* uid 65534 (an unmapped user-namespace id) against every admin selector, each written so
 * that it matches the very same peer under any other uid: only the 65534 rule keeps nobody
 * out, not a rule it would never match anyway. */
static void test_admin_nobody(void) {
	static const char *const rules[] = {
		"admin group kvm\n",
		"admin unit libvirtd.service\n",
		"admin cgroup /system.slice/*\n",
		"admin label *:virtd_t:*\n",
		"admin group kvm unit libvirtd.service cgroup /system.slice/* label *:virtd_t:*\n",
	};
	static const gid_t kvm[] = { 36 };
	PolicyPeer peer = { .gid = 65534,
			    .groups = kvm,
			    .n_groups = 1,
			    .pid = 5,
			    .have_pidfd = true,
			    .unit = "libvirtd.service",
			    .cgroup = "/system.slice/libvirtd.service",
			    .label = "system_u:system_r:virtd_t:s0" };
	for (size_t i = 0; i < ELEMENTSOF(rules); i++) {
		_cleanup_policy_free_ Policy *p = load_ok(rules[i]);
		PolicyDecision d;
		peer.uid = 1000;
		if (!policy_is_admin(p, &peer, &d))
			fprintf(stderr, "\n'%.*s' does not match uid 1000: %s\n",
				(int)strcspn(rules[i], "\n"), rules[i], d.reason);
		CU_ASSERT_TRUE(policy_is_admin(p, &peer, &d));
		peer.uid = 65534;
		if (policy_is_admin(p, &peer, &d))
			fprintf(stderr, "\n'%.*s' matches uid 65534\n",
				(int)strcspn(rules[i], "\n"), rules[i]);
		CU_ASSERT_FALSE(policy_is_admin(p, &peer, &d));
		CU_ASSERT_PTR_NULL(d.file);
	}
}

/* ---- explain ---------------------------------------------------------------------------- */

static void test_explain(void) {
	_cleanup_policy_free_ Policy *p = load_ok(
		"allow user alice group kvm to vendor 0x10de mode unbound\n"
		"allow user bob to bdf 0000:3b:00.0\n"
		"deny user carol\n"
		"allow group wheel to any\n");
	PolicyRequest req = { .peer = &peer_bob, .device = &dev_gpu, .mode = POLICY_MODE_UNBOUND };
	PolicyDecision d;
	PolicyExplanation e;

	/* bob, gpu, attached: rule 1 fails user, group and mode; rule 2 only the bdf. */
	req.mode = POLICY_MODE_ATTACHED;
	ASSERT_OK(policy_explain(p, &req, &d, &e));
	CU_ASSERT_FALSE(d.allow);
	ASSERT_STREQ(e.decided_by, "");
	CU_ASSERT_TRUE(e.have_nearest);
	CU_ASSERT_EQUAL(e.nearest_line, 2);
	ASSERT_STREQ(e.why, "bdf: device is 0000:01:00.0, not 0000:3b:00.0");
	CU_ASSERT_EQUAL(e.nearest_failed, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.nearest_rule, "allow user bob to bdf 0000:3b:00.0"));
	/* unbound: rule 2 now fails bdf and mode (2), rule 1 user, group (2): the first wins */
	req.mode = POLICY_MODE_UNBOUND;
	ASSERT_OK(policy_explain(p, &req, &d, &e));
	CU_ASSERT_EQUAL(e.nearest_line, 1);
	CU_ASSERT_EQUAL(e.nearest_failed, 2);
	ASSERT_STREQ(e.why, "user: peer uid 1001 is not alice (1000)");

	/* carol is in wheel but rule 3 denies first: rule 4 is reported as shadowed. */
	req.peer = &peer_carol;
	req.mode = POLICY_MODE_ATTACHED;
	ASSERT_OK(policy_explain(p, &req, &d, &e));
	CU_ASSERT_FALSE(d.allow);
	CU_ASSERT_EQUAL(d.line, 3);
	ASSERT_STREQ(e.decided_by, "deny user carol");
	CU_ASSERT_EQUAL(e.nearest_line, 4);
	CU_ASSERT_EQUAL(e.nearest_failed, 0);
	ASSERT_STREQ(e.why, "shadowed by the rule at test.conf:3, which matches first");

	/* alice asks attached: rule 1 decides, nearest is itself with the mode reason. */
	req.peer = &peer_alice;
	ASSERT_OK(policy_explain(p, &req, &d, &e));
	CU_ASSERT_FALSE(d.allow);
	CU_ASSERT_EQUAL(d.line, 1);
	CU_ASSERT_EQUAL(e.nearest_line, 1);
	ASSERT_STREQ(e.why, "mode 'attached' not granted by rule at test.conf:1");

	/* allowed: decided_by is the canonical rule, no nearest. */
	req.mode = POLICY_MODE_UNBOUND;
	ASSERT_OK(policy_explain(p, &req, &d, &e));
	CU_ASSERT_TRUE(d.allow);
	CU_ASSERT_FALSE(e.have_nearest);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.decided_by, "allow user alice group kvm to vendor 0x10de "
						    "mode unbound"));

	/* device-side failure message */
	req.peer = &peer_bob;
	req.device = &dev_gpu_audio;
	req.mode = POLICY_MODE_ATTACHED;
	_cleanup_policy_free_ Policy *q = load_ok("allow user bob to bdf 0000:01:00.0\n");
	ASSERT_OK(policy_explain(q, &req, &d, &e));
	ASSERT_STREQ(e.why, "bdf: device is 0000:01:00.1, not 0000:01:00.0");

	/* iommu-group: a device in another group, in group 0 (a group like any other) and in
	 * none (no IOMMU) are told apart. */
	_cleanup_policy_free_ Policy *g = load_ok("allow user bob to iommu-group 5\n");
	Device other = dev_gpu_audio;
	req.device = &other;
	ASSERT_OK(policy_explain(g, &req, &d, &e));
	CU_ASSERT_FALSE(d.allow);
	ASSERT_STREQ(e.why, "iommu-group: device is in group 17, not 5");
	other.iommu_group = 0;
	ASSERT_OK(policy_explain(g, &req, &d, &e));
	ASSERT_STREQ(e.why, "iommu-group: device is in group 0, not 5");
	other.iommu_group = -1;
	ASSERT_OK(policy_explain(g, &req, &d, &e));
	CU_ASSERT_FALSE(d.allow);
	ASSERT_STREQ(e.why, "iommu-group: device has no IOMMU group");
}

/* policy check warns on a rule granting unbound with a layout that needs an IOAS the daemon
 * allocates; accounting-only and plain iova auto layouts are fine there. */
static void test_lint_layouts(void) {
	_cleanup_policy_free_ Policy *p = load_ok(
		"layout win { iova 0x0-0xfedfffff }\n"
		"layout capped { iova auto max 0xffffffffff }\n"
		"layout nohuge { hugepages off }\n"
		"layout acc { accounting process }\n"
		"layout auto { iova auto }\n"
		"allow user alice to any mode unbound layout win,acc\n"
		"allow user bob to any mode attached,unbound layout capped,nohuge,auto\n"
		"allow user carol to any mode attached layout win,capped,nohuge\n"
		"allow uid 4242 to any mode unbound layout acc,auto\n");
	_cleanup_free_ PolicyWarning *w = NULL;
	size_t n = 0;
	ASSERT_OK(policy_lint_layouts(p, &w, &n));
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_EQUAL(w[0].line, 6);
	CU_ASSERT_PTR_NOT_NULL(strstr(w[0].message, "Layout 'win' granted with 'unbound': its IOVA "
						    "windows cannot apply"));
	CU_ASSERT_EQUAL(w[1].line, 7);
	CU_ASSERT_PTR_NOT_NULL(strstr(w[1].message, "'capped'"));
	CU_ASSERT_EQUAL(w[2].line, 7);
	CU_ASSERT_PTR_NOT_NULL(strstr(w[2].message, "Layout 'nohuge' granted with 'unbound': its "
						    "'hugepages off' cannot"));
	CU_ASSERT_EQUAL(w[0].by_line, 0);
}

/* memlock sizes: IEC and bare letters are powers of 1024, SI (with B) of 1000; a bare number
 * is bytes and, below a page, warned about. */
static void test_memlock_sizes(void) {
	_cleanup_policy_free_ Policy *p = load_ok("allow user alice to any memlock 64GiB\n"
						  "allow user bob to any memlock 64GB\n"
						  "allow user carol to any memlock 64G\n"
						  "allow uid 2001 to any memlock 64\n"
						  "allow uid 2002 to any memlock 4096\n"
						  "allow uid 2003 to any memlock 1kB\n"
						  "allow uid 2004 to any memlock 0\n"
						  "allow uid 2005 to any memlock infinity\n");
	CU_ASSERT_EQUAL_FATAL(p->n_rules, 8);
	CU_ASSERT_EQUAL(p->rules[0].grant.memlock, 64ULL << 30);
	CU_ASSERT_EQUAL(p->rules[1].grant.memlock, 64000000000ULL);
	CU_ASSERT_EQUAL(p->rules[2].grant.memlock, 64ULL << 30);
	CU_ASSERT_EQUAL(p->rules[3].grant.memlock, 64);
	CU_ASSERT_EQUAL(p->rules[5].grant.memlock, 1000);
	_cleanup_free_ PolicyWarning *w = NULL;
	size_t n = 0;
	ASSERT_OK(policy_lint_sizes(p, &w, &n));
	CU_ASSERT_EQUAL_FATAL(n, 2); /* 64 and 1kB; not 4096, 0 (leave alone) or infinity */
	CU_ASSERT_EQUAL(w[0].line, 4);
	ASSERT_STREQ(w[0].message, "memlock 64 is 64 bytes, less than a page: a number without a "
				   "suffix counts bytes (write 64M, 64GiB or 64GB)");
	CU_ASSERT_EQUAL(w[0].by_line, 0);
	CU_ASSERT_EQUAL(w[1].line, 6);
	/* The canonical form keeps the value: 64GB is not 64G. */
	_cleanup_free_ char *text = NULL;
	ASSERT_OK(policy_to_string(p, &text));
	_cleanup_policy_free_ Policy *q = load_ok(text);
	CU_ASSERT_EQUAL(q->rules[1].grant.memlock, 64000000000ULL);
	CU_ASSERT_EQUAL(q->rules[0].grant.memlock, 64ULL << 30);
}

/* ---- canonical form round trip ------------------------------------------------------- */

static void test_to_string(void) {
	const char *text =
		"socket-group kvm\n"
		"pool gpus { vendor 0x10de class 0x0302 }\n"
		"pool odd { class 0x030000/0xff00ff property \"ID_X=a b\" driver \"vfio-*\" }\n"
		"layout vm { iova 0x100000000-0xffffffffffff 0x0-0xfedfffff; accounting process; "
		"hugepages on }\n"
		"layout autovm { iova auto max 0xffffffffff; accounting process }\n"
		"layout autoall { iova auto }\n"
		"allow user alice group kvm to pool gpus mode unbound layout vm max-devices 2 "
		"memlock 1536M lifetime process\n"
		"allow unit libvirtd.service to any mode attached,unbound split-sriov yes\n"
		"allow user bob to vendor 0x8086 share-reset yes split-sriov no\n"
		"allow cgroup \"*/libpod-*.scope\" user bob to bdf 0000:3b:00.0 group implicit\n"
		"allow user bob user-unit \"libpod-*.scope\" to bdf 0000:3b:00.0 max-leases 1\n"
		"allow uid 100000-165535 label \"*:container_t:*\" to numa 1 iommu-group 3 "
		"subsystem-vendor 0x1458 subsystem-device 0x403b device 0x2204\n"
		"admin group wheel\n"
		"deny user carol to vendor 0x8086\n"
		"deny *\n";
	_cleanup_policy_free_ Policy *p = load_ok(text);
	_cleanup_free_ char *s1 = NULL, *s2 = NULL;
	ASSERT_OK(policy_to_string(p, &s1));
	_cleanup_policy_free_ Policy *q = load_ok(s1);
	ASSERT_OK(policy_to_string(q, &s2));
	/* Line numbers differ (the trailing comments name them): compare without them. */
	CU_ASSERT_PTR_NOT_NULL(strstr(s1, "memlock 1536M"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s1, "class 0x030000/0xff00ff"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s1, "pool gpus { vendor 0x10de class 0x0302 }"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s1, "property \"ID_X=a b\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s1, "iova 0x0-0xfedfffff 0x100000000-0xffffffffffff"));
	CU_ASSERT_PTR_NOT_NULL(
		strstr(s1, "layout autovm { iova auto max 0xffffffffff; accounting process"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s1, "layout autoall { iova auto; accounting user"));
	CU_ASSERT_TRUE(policy_find_layout(q, "autovm")->iova_auto);
	CU_ASSERT_EQUAL(policy_find_layout(q, "autovm")->iova_max, 0xffffffffff);
	CU_ASSERT_EQUAL(policy_find_layout(q, "autoall")->iova_max, UINT64_MAX);
	CU_ASSERT_PTR_NOT_NULL(strstr(s1, "\ndeny *  #"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s1, "allow user bob user-unit libpod-*.scope to bdf"));
	/* Printed only when granted ("no" is the default). */
	CU_ASSERT_PTR_NOT_NULL(strstr(s1, "on-revoke detach split-sriov yes  #"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s1, "on-revoke detach share-reset yes  #"));
	CU_ASSERT_PTR_NULL(strstr(s1, "share-reset no"));
	CU_ASSERT_EQUAL(policy_n_rules(q), policy_n_rules(p));
	/* Same decisions on both. */
	const PolicyPeer *peers[] = { &peer_alice,  &peer_bob,         &peer_carol, &peer_libvirtd,
				      &peer_podman, &peer_podman_root, &peer_spoof };
	const Device *devs[] = { &dev_gpu, &dev_vga, &dev_nic, &dev_gpu_audio };
	for (size_t a = 0; a < ELEMENTSOF(peers); a++)
		for (size_t b = 0; b < ELEMENTSOF(devs); b++)
			for (unsigned m = 1; m <= 2; m++) {
				PolicyDecision d1, d2;
				eval(p, peers[a], devs[b], m, NULL, &d1);
				eval(q, peers[a], devs[b], m, NULL, &d2);
				CU_ASSERT_EQUAL(d1.allow, d2.allow);
				ASSERT_STREQ(d1.reason[0] ? "x" : "", d2.reason[0] ? "x" : "");
			}
	/* Strip the "  # file:line" comments and compare text. */
	for (char *c; (c = strstr(s1, "  # "));)
		memmove(c, strchr(c, '\n'), strlen(strchr(c, '\n')) + 1);
	for (char *c; (c = strstr(s2, "  # "));)
		memmove(c, strchr(c, '\n'), strlen(strchr(c, '\n')) + 1);
	ASSERT_STREQ(s1, s2);
}

/* ---- file loading: ownership and mode ------------------------------------------------ */

/* policy_load(path) in a child that an alarm ends: a load that blocks (a FIFO opened without
 * O_NONBLOCK waits for a writer forever) fails the test instead of hanging it. Returns the
 * load's result, or 1 when the child did not finish. */
static int load_in_child(const char *path, bool check_owner) {
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		PolicyLoadOptions o = { .resolver = &test_resolver, .check_owner = check_owner };
		PolicyError e = {};
		Policy *p = NULL;
		alarm(3);
		int r = policy_load(path, &o, &p, &e);
		_exit(r == -EINVAL && e.message && strstr(e.message, "FIFO") ? 0 : r >= 0 ? 2 : 3);
	}
	int status = 0;
	CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		return 1;
	return WEXITSTATUS(status) == 0 ? -EINVAL : -WEXITSTATUS(status);
}

static void test_owner(void) {
	char dir[] = "/tmp/ioasid-policy-XXXXXX";
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	_cleanup_free_ char *path = NULL;
	CU_ASSERT_FATAL(asprintf(&path, "%s/ioasid.conf", dir) > 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	const char *text = "allow user alice to any\n";
	CU_ASSERT_EQUAL(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);

	PolicyLoadOptions o = { .resolver = &test_resolver, .check_owner = true };
	PolicyError e = {};
	Policy *p = NULL;
	bool root = geteuid() == 0;

#define HAS_MSG(sub) CU_ASSERT_PTR_NOT_NULL(e.message &&strstr(e.message, sub) ? e.message : NULL)
	if (root) {
		ASSERT_OK(chown(path, 0, 0));
		ASSERT_OK(policy_load(path, &o, &p, &e));
		CU_ASSERT_EQUAL(policy_n_rules(p), 1);
		p = policy_free(p);

		ASSERT_OK(chmod(path, 0620));
		ASSERT_ERR(policy_load(path, &o, &p, &e), EPERM);
		HAS_MSG("writable by group or others (mode 0620)");
		policy_error_done(&e);
		ASSERT_OK(chmod(path, 0602));
		ASSERT_ERR(policy_load(path, &o, &p, &e), EPERM);
		policy_error_done(&e);
		ASSERT_OK(chmod(path, 0644));
		ASSERT_OK(policy_load(path, &o, &p, &e));
		p = policy_free(p);

		/* A directory others may write lets them replace the file... */
		ASSERT_OK(chmod(dir, 0777));
		ASSERT_ERR(policy_load(path, &o, &p, &e), EPERM);
		HAS_MSG("is a directory others than root can write (mode 0777)");
		policy_error_done(&e);
		/* ...unless it is sticky, like /tmp. */
		ASSERT_OK(chmod(dir, 01777));
		ASSERT_OK(policy_load(path, &o, &p, &e));
		p = policy_free(p);
		ASSERT_OK(chown(dir, 1000, 0));
		ASSERT_OK(chmod(dir, 0700));
		ASSERT_ERR(policy_load(path, &o, &p, &e), EPERM);
		HAS_MSG("is a directory owned by uid 1000, not root");
		policy_error_done(&e);
		ASSERT_OK(chown(dir, 0, 0));
		ASSERT_OK(chmod(dir, 0755));

		/* A root-owned symlink in a root-owned directory, into a directory a user owns
		 * (the file there root's): refused at that directory, the loader's old blind
		 * spot (it checked the symlink's directory only). */
		_cleanup_free_ char *udir = NULL, *target = NULL, *link = NULL;
		CU_ASSERT_FATAL(asprintf(&udir, "%s/user", dir) > 0);
		CU_ASSERT_FATAL(asprintf(&target, "%s/user/evil.conf", dir) > 0);
		CU_ASSERT_FATAL(asprintf(&link, "%s/link.conf", dir) > 0);
		ASSERT_OK(mkdir(udir, 0755));
		ASSERT_OK(chown(udir, 1000, 1000));
		fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_TRUNC, 0644);
		CU_ASSERT_FATAL(fd >= 0);
		CU_ASSERT_EQUAL(write(fd, text, strlen(text)), (ssize_t)strlen(text));
		close(fd);
		ASSERT_OK(symlink(target, link));
		ASSERT_ERR(policy_load(link, &o, &p, &e), EPERM);
		CU_ASSERT_PTR_NULL(p);
		HAS_MSG(udir);
		HAS_MSG("(reached through the symlink");
		ASSERT_STREQ(e.file, link);
		policy_error_done(&e);
		/* A draft (no owner check) follows it. */
		o.check_owner = false;
		ASSERT_OK(policy_load(link, &o, &p, &e));
		p = policy_free(p);
		o.check_owner = true;
		unlink(link);
		unlink(target);
		rmdir(udir);

		/* A FIFO is refused at once, under either mode, never opened for a blocking
		 * read; a device node too. */
		_cleanup_free_ char *fifo = NULL, *dev = NULL;
		CU_ASSERT_FATAL(asprintf(&fifo, "%s/fifo.conf", dir) > 0);
		CU_ASSERT_FATAL(asprintf(&dev, "%s/null.conf", dir) > 0);
		ASSERT_OK(mkfifo(fifo, 0644));
		CU_ASSERT_EQUAL(load_in_child(fifo, true), -EINVAL);
		CU_ASSERT_EQUAL(load_in_child(fifo, false), -EINVAL);
		ASSERT_OK(mknod(dev, S_IFCHR | 0644, makedev(1, 3)));
		ASSERT_ERR(policy_load(dev, &o, &p, &e), EINVAL);
		HAS_MSG("is a character device, not a regular file");
		policy_error_done(&e);
		o.check_owner = false;
		ASSERT_ERR(policy_load(dev, &o, &p, &e), EINVAL);
		HAS_MSG("Not a regular file: it is a character device");
		policy_error_done(&e);
		o.check_owner = true;
		unlink(fifo);
		unlink(dev);

		ASSERT_OK(chown(path, 1000, 0));
	}
	/* Not owned by root (as non-root every file we create is ours). */
	ASSERT_ERR(policy_load(path, &o, &p, &e), EPERM);
	HAS_MSG("not root");
	ASSERT_STREQ(e.file, path);
	CU_ASSERT_PTR_NULL(p);
	policy_error_done(&e);
	/* Without check_owner the same file loads. */
	o.check_owner = false;
	ASSERT_OK(policy_load(path, &o, &p, &e));
	p = policy_free(p);

	/* Missing file, directory. */
	ASSERT_ERR(policy_load("/nonexistent/ioasid.conf", &o, &p, &e), ENOENT);
	policy_error_done(&e);
	ASSERT_ERR(policy_load(dir, &o, &p, &e), EINVAL);
	policy_error_done(&e);
	o.check_owner = true;
	ASSERT_ERR(policy_load("/nonexistent/ioasid.conf", &o, &p, &e), ENOENT);
	HAS_MSG("'/nonexistent' cannot be opened");
	policy_error_done(&e);
	if (root) {
		ASSERT_ERR(policy_load(dir, &o, &p, &e), EINVAL);
		HAS_MSG("is a directory, not a regular file");
		policy_error_done(&e);
		ASSERT_OK(chown(path, 0, 0));
	}
	o.check_owner = false;
#undef HAS_MSG

	/* A parse error names the path. */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, "allow user alice to any\nbogus\n", 30), 30);
	close(fd);
	ASSERT_ERR(policy_load(path, &o, &p, &e), EINVAL);
	ASSERT_STREQ(e.file, path);
	CU_ASSERT_EQUAL(e.line, 2);
	CU_ASSERT_EQUAL(e.column, 1);
	policy_error_done(&e);

	unlink(path);
	rmdir(dir);
}

static void test_invalid_request(void) {
	_cleanup_policy_free_ Policy *p = load_ok("allow * to any mode attached,unbound\n");
	PolicyDecision d;
	PolicyRequest req = { .peer = NULL, .device = &dev_gpu, .mode = POLICY_MODE_ATTACHED };
	ASSERT_ERR(policy_evaluate(p, &req, &d), EINVAL);
	CU_ASSERT_FALSE(d.allow);
	req = (PolicyRequest){ .peer = &peer_bob, .device = NULL };
	ASSERT_ERR(policy_evaluate(p, &req, &d), EINVAL);
	CU_ASSERT_FALSE(d.allow);
	req = (PolicyRequest){ .peer = &peer_bob, .device = &dev_gpu, .mode = 4 };
	ASSERT_ERR(policy_evaluate(p, &req, &d), EINVAL);
	CU_ASSERT_FALSE(d.allow);
	ASSERT_ERR(policy_evaluate(NULL, &req, &d), EINVAL);
	CU_ASSERT_FALSE(d.allow);
	/* mode 0: no particular mode */
	req.mode = 0;
	ASSERT_OK(policy_evaluate(p, &req, &d));
	CU_ASSERT_TRUE(d.allow);
}

/* What the daemon, --check-config and `ioasidctl check` name when CAP_SYS_RESOURCE is
 * missing: each layout with `accounting process`, where it is, and the allow rules granting
 * it (deny and admin rules grant nothing). */
static void test_describe_process_accounting(void) {
	_cleanup_policy_free_ Policy *p = load_ok("layout vm { accounting process }\n"
						  "layout plain { accounting user }\n"
						  "layout lone { accounting process }\n"
						  "allow user alice to any layout vm,plain\n"
						  "deny user bob to any\n"
						  "admin uid 0\n"
						  "allow uid 0 to any layout vm\n"
						  "allow uid 1 to any layout plain\n");
	_cleanup_free_ char *s = NULL;
	CU_ASSERT_EQUAL(policy_describe_process_accounting(p, &s), 2);
	ASSERT_STREQ(s, "'vm' (test.conf:1; granted by the rules at lines 4, 7); "
			"'lone' (test.conf:3; granted by no rule)");
	_cleanup_policy_free_ Policy *q = load_ok("layout vm { accounting process }\n"
						  "allow uid 0 to any layout vm\n");
	_cleanup_free_ char *t = NULL;
	CU_ASSERT_EQUAL(policy_describe_process_accounting(q, &t), 1);
	ASSERT_STREQ(t, "'vm' (test.conf:1; granted by the rule at line 2)");
	_cleanup_policy_free_ Policy *r = load_ok("layout plain { accounting user }\n"
						  "allow uid 0 to any layout plain\n");
	char *u = (char *)"untouched";
	CU_ASSERT_EQUAL(policy_describe_process_accounting(r, &u), 0);
	CU_ASSERT_PTR_NULL(u);
}

/* vDPA: a 'vdpa' rule grants vhost-vdpa on matching vDPA devices only (its other selectors
 * on the parent PCI function; a software device has none), other rules never grant a vDPA
 * device, the mode defaults and is checked, and the canonical form round-trips. */
static void test_vdpa(void) {
	_cleanup_host_free_ Host *h = test_load_fixture("vdpa-guest.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	const VdpaDevice *v0 = host_find_vdpa_device(h, "vdpa0");
	const VdpaDevice *vs = host_find_vdpa_device(h, "vdpa-sim0");
	const Device *p0 = v0->parent;
	CU_ASSERT_PTR_NOT_NULL_FATAL(p0);
	static const struct {
		const char *rules;
		int which; /* 0: vdpa0 (parent 00:02.0), 1: vdpa-sim0 (software), 2: PCI 00:02.0 */
		unsigned mode;
		bool allow;
	} cases[] = {
		{ "allow user alice to vdpa \"vdpa*\"", 0, POLICY_MODE_VHOST_VDPA, true },
		{ "allow user alice to vdpa \"vdpa*\"", 1, POLICY_MODE_VHOST_VDPA, true },
		{ "allow user alice to vdpa vdpa1", 0, POLICY_MODE_VHOST_VDPA, false },
		{ "allow user alice to vdpa \"*\" vendor 0x1af4", 0, POLICY_MODE_VHOST_VDPA, true },
		{ "allow user alice to vdpa \"*\" vendor 0x1af4", 1, POLICY_MODE_VHOST_VDPA,
		  false },
		{ "allow user alice to vdpa \"*\" bdf 0000:00:02.0", 0, POLICY_MODE_VHOST_VDPA,
		  true },
		{ "allow user alice to vdpa \"*\" driver vfio-pci", 0, POLICY_MODE_VHOST_VDPA,
		  false },
		/* Every selector of a PCI function fails on a software vDPA device, 0 values too
		 * (vendor 0 and group 0 are values, not "unset"). */
		{ "allow user alice to vdpa \"*\" vendor 0x0000", 1, POLICY_MODE_VHOST_VDPA,
		  false },
		{ "allow user alice to vdpa \"*\" device 0x0000", 1, POLICY_MODE_VHOST_VDPA,
		  false },
		{ "allow user alice to vdpa \"*\" subsystem-vendor 0x0000", 1,
		  POLICY_MODE_VHOST_VDPA, false },
		{ "allow user alice to vdpa \"*\" subsystem-device 0x0000", 1,
		  POLICY_MODE_VHOST_VDPA, false },
		{ "allow user alice to vdpa \"*\" iommu-group 0", 1, POLICY_MODE_VHOST_VDPA,
		  false },
		{ "allow user alice to vdpa \"*\" numa 0", 1, POLICY_MODE_VHOST_VDPA, false },
		{ "allow user alice to vdpa \"*\" class 0x020000", 1, POLICY_MODE_VHOST_VDPA,
		  false },
		{ "allow user alice to vdpa \"*\" driver vp-vdpa", 1, POLICY_MODE_VHOST_VDPA,
		  false },
		/* Rules without 'vdpa' never grant a vDPA device, 'any' included ... */
		{ "allow user alice to any", 0, POLICY_MODE_VHOST_VDPA, false },
		{ "allow user alice to bdf 0000:00:02.0", 0, POLICY_MODE_VHOST_VDPA, false },
		/* ... and a 'vdpa' rule never grants the PCI function. */
		{ "allow user alice to vdpa \"*\"", 2, POLICY_MODE_ATTACHED, false },
		{ "allow user alice to vdpa \"*\" bdf 0000:00:02.0", 2, POLICY_MODE_ATTACHED,
		  false },
		{ "allow user bob to vdpa \"*\"", 0, POLICY_MODE_VHOST_VDPA, false },
		{ "deny user alice to vdpa vdpa0\nallow user alice to vdpa \"*\"", 0,
		  POLICY_MODE_VHOST_VDPA, false },
		{ "deny user alice to vdpa vdpa0\nallow user alice to vdpa \"*\"", 1,
		  POLICY_MODE_VHOST_VDPA, true },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_policy_free_ Policy *p = load_ok(cases[i].rules);
		PolicyRequest req = { .peer = &peer_alice,
				      .device = cases[i].which == 1 ? NULL : p0,
				      .vdpa = cases[i].which == 0   ? v0
					      : cases[i].which == 1 ? vs
								    : NULL,
				      .mode = cases[i].mode,
				      .method = "io.ioasid.Broker.Acquire" };
		PolicyDecision dec;
		ASSERT_OK(policy_evaluate(p, &req, &dec));
		if (dec.allow != cases[i].allow)
			fprintf(stderr, "case %zu: '%s': %s\n", i, cases[i].rules, dec.reason);
		CU_ASSERT_EQUAL(dec.allow, cases[i].allow);
		/* The index agrees with the plain scan. */
		CU_ASSERT_EQUAL(policy_first_match(p, &req), policy_first_match_scan(p, &req));
	}
	/* A vDPA request asks for vhost-vdpa, nothing else; a PCI request never for it. */
	_cleanup_policy_free_ Policy *p = load_ok("allow user alice to vdpa \"*\"");
	PolicyDecision dec;
	PolicyRequest bad = {
		.peer = &peer_alice, .device = p0, .vdpa = v0, .mode = POLICY_MODE_ATTACHED
	};
	ASSERT_ERR(policy_evaluate(p, &bad, &dec), EINVAL);
	CU_ASSERT_FALSE(dec.allow);
	bad = (PolicyRequest){ .peer = &peer_alice, .device = p0, .mode = POLICY_MODE_VHOST_VDPA };
	ASSERT_ERR(policy_evaluate(p, &bad, &dec), EINVAL);
	/* Canonical form: the default mode is written, and the rule reads back the same. */
	_cleanup_free_ char *text = NULL, *text2 = NULL;
	unsigned line;
	ASSERT_OK(policy_rule_to_string(p, 0, &line, &text));
	CU_ASSERT_TRUE(strneq(text, "allow user alice to vdpa * mode vhost-vdpa ", 43));
	_cleanup_policy_free_ Policy *p2 = load_ok(text);
	ASSERT_OK(policy_rule_to_string(p2, 0, &line, &text2));
	ASSERT_STREQ(text2, text);
}

static CU_TestInfo tests[] = {
	{ "vdpa", test_vdpa },
	{ "describe_process_accounting", test_describe_process_accounting },
	{ "uid_range_edges", test_uid_range_edges },
	{ "invalid_request", test_invalid_request },
	{ "errors", test_errors },
	{ "empty", test_empty },
	{ "selectors", test_selectors },
	{ "grants", test_grants },
	{ "settings", test_settings },
	{ "golden", test_golden },
	{ "admin", test_admin },
	{ "admin_nobody", test_admin_nobody },
	{ "zero_valued_selectors", test_zero_valued_selectors },
	{ "cgroup_hidden", test_cgroup_hidden },
	{ "explain", test_explain },
	{ "to_string", test_to_string },
	{ "lint_layouts", test_lint_layouts },
	{ "memlock_sizes", test_memlock_sizes },
	{ "owner", test_owner },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("policy", tests);

/* ---- the shipped example ------------------------------------------------------------- */

static char *read_example(void) {
	_cleanup_free_ char *path = NULL;
	char *text = NULL;
	CU_ASSERT_FATAL(asprintf(&path, "%s/../ioasid.conf.example", test_dir()) > 0);
	CU_ASSERT_FATAL(read_full_file(path, 1 << 20, &text, NULL) >= 0);
	return text;
}

static void test_example(void) {
	_cleanup_free_ char *text = read_example();

	/* As shipped: loads with this machine's user database (names only root). */
	PolicyLoadOptions o = { .generation = 7 };
	_cleanup_policy_free_ Policy *p = NULL;
	PolicyError e = {};
	int r = policy_load_string(text, "ioasid.conf.example", &o, &p, &e);
	if (r < 0)
		fprintf(stderr, "\n%u:%u: %s\n", e.line, e.column, strna(e.message));
	ASSERT_OK(r);
	policy_error_done(&e);
	CU_ASSERT_EQUAL(policy_n_rules(p), 1);
	CU_ASSERT_EQUAL(policy_n_admin(p), 1);
	CU_ASSERT_TRUE(policy_is_admin(p, &peer_root, NULL));
	CU_ASSERT_FALSE(eval(p, &peer_root, &dev_gpu, POLICY_MODE_ATTACHED, NULL, NULL));

	/* Every worked example ("#" directly followed by text) uncommented must load too. */
	_cleanup_free_ char *all = strdup(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(all);
	char *w = all;
	size_t uncommented = 0;
	for (const char *l = text; *l;) {
		const char *nl = strchrnul(l, '\n');
		if (l[0] == '#' && l + 1 < nl && l[1] != ' ') {
			l++;
			uncommented++;
		}
		memcpy(w, l, (size_t)(nl - l));
		w += nl - l;
		if (*nl)
			*w++ = '\n';
		l = *nl ? nl + 1 : nl;
	}
	*w = '\0';
	CU_ASSERT(uncommented > 20);
	_cleanup_policy_free_ Policy *q = load_ok(all);
	CU_ASSERT_EQUAL(policy_n_pools(q), 3);
	CU_ASSERT_EQUAL(policy_n_layouts(q), 3);
	/* No rule grants unbound with a layout that cannot apply there. */
	_cleanup_free_ PolicyWarning *lw = NULL;
	size_t n_lw = 1;
	ASSERT_OK(policy_lint_layouts(q, &lw, &n_lw));
	CU_ASSERT_EQUAL(n_lw, 0);
	CU_ASSERT_TRUE(policy_find_layout(q, "vm")->iova_auto);
	CU_ASSERT_EQUAL(policy_n_rules(q), 10);
	CU_ASSERT_EQUAL(policy_n_admin(q), 2);
	/* The vDPA example: alice's vp_vdpa virtio-net devices, not a software one. */
	_cleanup_host_free_ Host *vh = test_load_fixture("vdpa-guest.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(vh);
	const VdpaDevice *v0 = host_find_vdpa_device(vh, "vdpa0"),
			 *vs = host_find_vdpa_device(vh, "vdpa-sim0");
	PolicyRequest vr = { .peer = &peer_alice,
			     .device = v0->parent,
			     .vdpa = v0,
			     .mode = POLICY_MODE_VHOST_VDPA };
	PolicyDecision vd;
	ASSERT_OK(policy_evaluate(q, &vr, &vd));
	CU_ASSERT_TRUE(vd.allow);
	vr.device = NULL;
	vr.vdpa = vs;
	ASSERT_OK(policy_evaluate(q, &vr, &vd));
	CU_ASSERT_FALSE(vd.allow);
	ASSERT_STREQ(policy_settings(q)->socket_group, "kvm");
	/* The worked examples do what their comments say. */
	CU_ASSERT_TRUE(eval(q, &peer_alice, &dev_gpu, POLICY_MODE_UNBOUND, "qemu", NULL));
	CU_ASSERT_FALSE(eval(q, &peer_alice, &dev_gpu, POLICY_MODE_UNBOUND, "vm", NULL));
	CU_ASSERT_FALSE(eval(q, &peer_alice, &dev_gpu, POLICY_MODE_UNBOUND, "migratable", NULL));
	CU_ASSERT_TRUE(eval(q, &peer_libvirtd, &dev_nic, POLICY_MODE_UNBOUND, "migratable", NULL));
	/* The rootless container rules: a client inside bob's container is decided by the
	 * container rule, because of what a real container presents (the owner's uid in a libpod
	 * scope of its manager): lifetime process, attached only. bob's own process (ioasidctl
	 * run -- podman run) by the next rule, which grants unbound too. A subordinate uid is
	 * neither; without a pidfd the user unit is unknown, so only bob's uid rule can match. */
	PolicyDecision c, u;
	CU_ASSERT_TRUE(eval(q, &peer_podman_root, &dev_nic, POLICY_MODE_ATTACHED, NULL, &c));
	CU_ASSERT_EQUAL(c.grant.lifetime, POLICY_LIFETIME_PROCESS);
	CU_ASSERT_FALSE(eval(q, &peer_podman_root, &dev_nic, POLICY_MODE_UNBOUND, NULL, NULL));
	CU_ASSERT_TRUE(eval(q, &peer_bob, &dev_nic, POLICY_MODE_UNBOUND, NULL, &u));
	CU_ASSERT_EQUAL(u.line, c.line + 1);
	CU_ASSERT_EQUAL(u.grant.lifetime, POLICY_LIFETIME_CONNECTION);
	CU_ASSERT_FALSE(eval(q, &peer_podman, &dev_nic, POLICY_MODE_ATTACHED, NULL, NULL));
	CU_ASSERT_TRUE(
		eval(q, &peer_podman_root_nopidfd, &dev_nic, POLICY_MODE_ATTACHED, NULL, &u));
	CU_ASSERT_EQUAL(u.line, c.line + 1);
	CU_ASSERT_FALSE(eval(q, &peer_spoof, &dev_nic, POLICY_MODE_ATTACHED, NULL, NULL));
	CU_ASSERT_FALSE(eval(q, &peer_carol, &dev_nic, POLICY_MODE_ATTACHED, NULL, NULL));
	CU_ASSERT_TRUE(policy_is_admin(q, &peer_carol, NULL)); /* wheel */
	CU_ASSERT_FALSE(eval(q, &peer_bob, &dev_gpu, POLICY_MODE_ATTACHED, NULL, NULL));
	PolicyDecision d;
	CU_ASSERT_TRUE(eval(q, &peer_bob, &dev_vf, POLICY_MODE_UNBOUND, NULL, &d));
	CU_ASSERT_TRUE(d.grant.split_sriov);
	CU_ASSERT_FALSE(d.grant.share_reset);
}

/* The complete policy in ioasid.conf(5) EXAMPLES (its second .EX block) loads. */
static void test_man_example(void) {
	_cleanup_free_ char *path = NULL, *man = NULL;
	CU_ASSERT_FATAL(asprintf(&path, "%s/../man/ioasid.conf.5", test_dir()) > 0);
	CU_ASSERT_FATAL(read_full_file(path, 1 << 20, &man, NULL) >= 0);
	char *ex = strstr(man, "\n.EX\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ex);
	ex = strstr(ex + 1, "\n.EX\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ex);
	ex += 5;
	char *end = strstr(ex, "\n.EE\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(end);
	*end = '\0';
	/* roff escapes: \- is '-', \e is a backslash */
	char *w = ex;
	for (const char *r = ex; *r; r++) {
		if (r[0] == '\\' && (r[1] == '-' || r[1] == 'e')) {
			*w++ = r[1] == '-' ? '-' : '\\';
			r++;
		} else
			*w++ = *r;
	}
	*w = '\0';
	_cleanup_policy_free_ Policy *p = load_ok(ex);
	CU_ASSERT_EQUAL(policy_n_rules(p), 6);
	CU_ASSERT_EQUAL(policy_n_admin(p), 1);
	PolicyDecision d;
	CU_ASSERT_TRUE(eval(p, &peer_alice, &dev_vga, POLICY_MODE_UNBOUND, "qemu", &d));
	CU_ASSERT_EQUAL(d.grant.memlock, 64ULL << 30);
	CU_ASSERT_FALSE(eval(p, &peer_bob, &dev_gpu, POLICY_MODE_UNBOUND, NULL, &d));
	/* libvirt's rule is libvirtd's, not what a user's manager calls libvirtd.service. */
	CU_ASSERT_TRUE(eval(p, &peer_libvirtd, &dev_nic, POLICY_MODE_UNBOUND, "qemu", &d));
	CU_ASSERT_FALSE(eval(p, &peer_spoof, &dev_nic, POLICY_MODE_UNBOUND, "qemu", &d));
	_cleanup_free_ PolicyWarning *lw = NULL;
	size_t n_lw = 1;
	ASSERT_OK(policy_lint_layouts(p, &lw, &n_lw));
	CU_ASSERT_EQUAL(n_lw, 0);
	/* The rootless podman rule matches a real rootless container's root. */
	CU_ASSERT_TRUE(eval(p, &peer_podman_root, &dev_nic, POLICY_MODE_ATTACHED, NULL, &d));
	CU_ASSERT_EQUAL(d.grant.group_mode, POLICY_GROUP_IMPLICIT);
}

static CU_TestInfo example_tests[] = {
	{ "example", test_example },
	{ "man_example", test_man_example },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("policy-example", example_tests);

/* ---- lint: dead rules ----------------------------------------------------------------- */

static void test_lint(void) {
	static const struct {
		const char *text;
		unsigned dead_line; /* 0 = no warning */
		unsigned by_line;
	} cases[] = {
		{ "allow group kvm to any\ndeny group kvm to vendor 0x8086\n", 2, 1 },
		{ "deny group kvm to vendor 0x8086\nallow group kvm to any\n", 0, 0 },
		{ "deny *\nallow user alice to any\n", 2, 1 },
		{ "allow user alice to any\nallow user bob to any\n", 0, 0 },
		{ "allow uid 1000-2000 to any\nallow user alice to bdf 0000:01:00.0\n", 2, 1 },
		{ "allow uid 1000-2000 to any\nallow uid 1500-2500 to any\n", 0, 0 },
		{ "allow * to class 0x03\ndeny user bob to class 0x0302\n", 2, 1 },
		{ "allow * to class 0x0302\ndeny user bob to class 0x03\n", 0, 0 },
		{ "allow * to vendor 0x10de\ndeny user bob to vendor 0x10de device 0x2204\n", 2,
		  1 },
		{ "allow * to vendor 0x10de device 0x2204\ndeny user bob to vendor 0x10de\n", 0,
		  0 },
		{ "allow cgroup \"*\" to any\ndeny cgroup \"/a/*\" to any\n", 2, 1 },
		{ "allow cgroup \"/a/*\" to any\ndeny cgroup \"/b/*\" to any\n", 0, 0 },
		/* bob may have no unit */
		{ "allow unit \"*\" to any\ndeny user bob to any\n", 0, 0 },
		{ "allow * to driver \"*\"\ndeny user bob to vendor 0x10de\n", 0, 0 },
		{ "allow * to driver \"*\"\ndeny user bob to driver vfio-pci\n", 2, 1 },
		{ "deny *\nadmin user root\n", 0, 0 }, /* admin rules are their own list */
		{ "admin *\nadmin user root\n", 2, 1 },
		{ "allow * to pool p\ndeny user bob to pool p\npool p { any }\n", 2, 1 },
		{ "allow user bob user-unit \"*\" to any\n"
		  "allow user bob user-unit \"libpod-*.scope\" to any\n",
		  2, 1 },
		{ "allow user bob user-unit \"libpod-*.scope\" to any\n"
		  "allow user bob user-unit \"*\" to any\n",
		  0, 0 },
		{ "allow user bob to any\nallow user bob user-unit x.service to any\n", 2, 1 },
		{ "allow user bob user-unit x.service to any\nallow user bob to any\n", 0, 0 },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_policy_free_ Policy *p = load_ok(cases[i].text);
		_cleanup_free_ PolicyWarning *w = NULL;
		size_t n = 0;
		ASSERT_OK(policy_lint(p, &w, &n));
		bool ok = cases[i].dead_line ? (n == 1 && w[0].line == cases[i].dead_line &&
						w[0].by_line == cases[i].by_line &&
						strstr(w[0].message, "can never match"))
					     : n == 0;
		if (!ok)
			fprintf(stderr, "\nlint case %zu: %zu warnings, first line %u\n", i, n,
				n ? w[0].line : 0);
		CU_ASSERT_TRUE(ok);
	}
	/* Each dead rule is reported once, against the first rule covering it. */
	_cleanup_policy_free_ Policy *g = load_ok(
		"allow group kvm to any\ndeny group kvm to vendor 0x8086\n"
		"deny user bob\nallow user bob to any\n");
	_cleanup_free_ PolicyWarning *w = NULL;
	size_t n = 0;
	ASSERT_OK(policy_lint(g, &w, &n));
	CU_ASSERT_EQUAL(n, 2);
}

/* A cgroup glob without a uid is satisfied by any user who names a cgroup to match it
 * (below user@UID.service every name is theirs): policy check says so. */
static void test_lint_identity(void) {
	static const struct {
		const char *text;
		unsigned line; /* 0 = no warning */
	} cases[] = {
		{ "allow cgroup \"*/libpod-*.scope\" to any\n", 1 },
		{ "deny *\nadmin cgroup \"/system.slice/*\"\n", 2 },
		{ "allow group kvm cgroup \"*/qemu.scope\" to any\n", 1 },
		{ "allow label \"*\" cgroup \"*\" to any\n", 1 },
		{ "allow cgroup \"*/libpod-*.scope\" user bob to any\n", 0 },
		{ "allow cgroup \"*/libpod-*.scope\" uid 100000-165535 to any\n", 0 },
		{ "deny cgroup \"*/app.slice/*\"\n", 0 }, /* forging it only denies oneself */
		{ "allow unit libvirtd.service to any\n", 0 },
		{ "allow user bob user-unit \"libpod-*.scope\" to any\n", 0 },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_policy_free_ Policy *p = load_ok(cases[i].text);
		_cleanup_free_ PolicyWarning *w = NULL;
		size_t n = 0;
		ASSERT_OK(policy_lint_identity(p, &w, &n));
		bool ok = cases[i].line ? (n == 1 && w[0].line == cases[i].line &&
					   w[0].by_line == 0 && strstr(w[0].message, "spoofable"))
					: n == 0;
		if (!ok)
			fprintf(stderr, "\nlint-identity case %zu: %zu warnings, first line %u\n",
				i, n, n ? w[0].line : 0);
		CU_ASSERT_TRUE(ok);
	}
}

static CU_TestInfo lint_tests[] = {
	{ "lint", test_lint },
	{ "lint-identity", test_lint_identity },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("policy-lint", lint_tests);
