/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The checks of tests/tools/kernel-probe, shared with the unit test that replays them on the
 * sim (tests/unit/test-kernel-rules.c) and compares the output with what a real kernel
 * printed (tests/tools/kernel-probe-rules.expected). Static functions: include this header
 * in exactly one translation unit per program.
 *
 * Output goes to kr_out, one "key=value ..." record per line, without fd numbers, so runs on
 * different backends can be diffed. kr_failures counts steps that did not give what the
 * kernel documents.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/host.h"
#include "common/kernel.h"
#include "common/macro.h"
#include "common/uapi.h"
#include "common/util.h"

#define K(op, ...) kernel_##op(k, ##__VA_ARGS__)

static FILE *kr_out;
static unsigned kr_failures;

/* Reports a step that must succeed. */
static int step(const char *what, int r) {
	if (r < 0) {
		fprintf(kr_out, "%s error=%s\n", what, strna(errno_name(r)));
		kr_failures++;
	}
	return r;
}

/* Reports a step that must fail with `expect`. */
static void expect(const char *what, int r, int err) {
	const char *got = r < 0 ? strna(errno_name(r)) : "success";
	fprintf(kr_out, "%s expect=%s got=%s %s\n", what, errno_name(err), got,
		r == -err ? "ok" : "FAIL");
	if (r != -err)
		kr_failures++;
}

/* When set, devices come from this host instead of sysfs (sim runs). */
static Host *kr_sim_host;

/* Fills the Device fields the kernel seam needs from sysfs (or from the --sim host). */
static int device_from_sysfs(const char *arg, Device *d, char **ret_cdev) {
	char bdf[BDF_MAX], path[128];
	int r = bdf_parse(arg, bdf);
	if (r < 0)
		return r;
	if (kr_sim_host) {
		for (size_t i = 0; i < kr_sim_host->n_devices; i++)
			if (streq(kr_sim_host->devices[i].bdf, bdf)) {
				*d = kr_sim_host->devices[i];
				*ret_cdev = d->vfio_name ? strdup(d->vfio_name) : NULL;
				if (d->vfio_name && !*ret_cdev)
					return -ENOMEM;
				d->vfio_name = *ret_cdev;
				return 0;
			}
		return -ENOENT;
	}
	*d = (Device){ .iommu_group = -1 };
	memcpy(d->bdf, bdf, sizeof(bdf));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	_cleanup_close_ int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	_cleanup_free_ char *group = NULL;
	if (readlink_basename_at(dfd, "iommu_group", &group) >= 0) {
		uint64_t g;
		if (num_parse_u64(group, INT32_MAX, &g) >= 0)
			d->iommu_group = (int)g;
	}
	*ret_cdev = NULL;
	int vfd = openat(dfd, "vfio-dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (vfd >= 0) {
		_cleanup_closedir_ DIR *dir = fdopendir(vfd);
		if (!dir) {
			close(vfd);
			return -errno;
		}
		struct dirent *de;
		while ((de = readdir(dir)))
			if (de->d_name[0] != '.') {
				*ret_cdev = strdup(de->d_name);
				if (!*ret_cdev)
					return -ENOMEM;
				break;
			}
	}
	d->vfio_name = *ret_cdev;
	return 0;
}

/* Prints a value other runs (sim vs real kernel) can be diffed on. */
#define SHOW(fmt, ...) fprintf(kr_out, "rule " fmt "\n", ##__VA_ARGS__)

static int open_dev(Kernel *k, const char *arg, Device *d, char **cdev, int *ret_fd) {
	char what[96];
	snprintf(what, sizeof(what), "rule sysfs bdf=%s", arg);
	if (step(what, device_from_sysfs(arg, d, cdev)) < 0)
		return -1;
	snprintf(what, sizeof(what), "rule device_open bdf=%s", d->bdf);
	return step(what, K(device_open, d, ret_fd));
}

/*
 * --rules SINGLE MF_A MF_B: the kernel's documented rules (uapi-facts.md 2.3-2.5, 3.1-3.3,
 * 1.5) on real devices. SINGLE is alone in its group; MF_A and MF_B share one group; all
 * three on vfio-pci. The output has no fd numbers, so a sim run over a snapshot of the same
 * host can be diffed against a real-kernel run.
 */
static int probe_rules(Kernel *k, char **args, int n) {
	if (n != 3) {
		fprintf(stderr, "--rules needs SINGLE MF_A MF_B\n");
		return -EINVAL;
	}
	const IovaRange msi_allow = { 0xfe000000, 0xfeffffff };
	const uint32_t rw = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
	const size_t pg = 4096;
	int a = -EBADF, b = -EBADF, fs = -EBADF, fs2 = -EBADF, fa = -EBADF, fb = -EBADF, x;
	uint32_t ioas1, ioas2, ioas3, ioas4, ds, da, db, hs, ha, hb, id;
	uint64_t iova, un;
	Device dS, dA, dB;
	_cleanup_free_ char *cs = NULL, *ca = NULL, *cb = NULL;

	void *buf = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return step("rule mmap", -errno);
	memset(buf, 1, 4 * pg);
	uintptr_t va = (uintptr_t)buf;

	if (step("rule iommufd_open a", K(iommufd_open, &a)) < 0 ||
	    step("rule iommufd_open b", K(iommufd_open, &b)) < 0)
		return -1;
	/* RLIMIT_MODE: set on an empty context only (the recordings come from root with
	 * CAP_SYS_RESOURCE; sim runs pretend to have it). */
	bool pp = true;
	step("rule rlimit get", K(iommufd_get_rlimit_mode, a, &pp));
	SHOW("rlimit per_process=%d", pp);
	step("rule rlimit set", K(iommufd_set_rlimit_mode, a, true));
	step("rule rlimit get again", K(iommufd_get_rlimit_mode, a, &pp));
	SHOW("rlimit per_process=%d", pp);
	step("rule ioas_alloc 1", K(ioas_alloc, a, &ioas1));
	step("rule ioas_alloc 2", K(ioas_alloc, a, &ioas2));
	SHOW("ioas1=%u ioas2=%u", ioas1, ioas2);
	expect("rule rlimit_set_nonempty", K(iommufd_set_rlimit_mode, a, true), EBUSY);

	/* Before bind: everything but BIND is EINVAL. */
	if (open_dev(k, args[0], &dS, &cs, &fs) < 0)
		return -1;
	expect("rule unbound_attach", K(device_attach, fs, ioas1, &id), EINVAL);
	expect("rule unbound_detach", K(device_detach, fs), EINVAL);
	expect("rule unbound_reset", K(device_reset, fs), EINVAL);

	/* Post-open identity check: a cdev name that leads to another device. */
	if (open_dev(k, args[1], &dA, &ca, &fa) < 0)
		return -1;
	Device stale = dS;
	stale.vfio_name = ca;
	expect("rule stale_cdev", K(device_open, &stale, &x), ESTALE);

	/* BIND's fd checks. */
	_cleanup_close_ int mfd = memfd_create("kernel-probe", MFD_CLOEXEC);
	int closed = memfd_create("kernel-probe-closed", MFD_CLOEXEC);
	close(closed);
	expect("rule bind_negative_fd", K(device_bind, fs, -1, &id), EINVAL);
	expect("rule bind_closed_fd", K(device_bind, fs, closed, &id), EBADF);
	expect("rule bind_not_iommufd", K(device_bind, fs, mfd, &id), EBADFD);

	/* One bound file per device. */
	step("rule bind single", K(device_bind, fs, a, &ds));
	SHOW("single dev_id=%u", ds);
	expect("rule rebind_same_file", K(device_bind, fs, a, &id), EINVAL);
	if (step("rule open second file", K(device_open, &dS, &fs2)) >= 0) {
		expect("rule bind_second_file", K(device_bind, fs2, b, &id), EINVAL);
		K(close, fs2);
	}
	KernelHwInfo hw;
	expect("rule hw_info_not_device", K(hw_info, a, ioas1, &hw), ENOENT);

	/* Group DMA ownership is per context. */
	step("rule bind mf_a", K(device_bind, fa, a, &da));
	if (open_dev(k, args[2], &dB, &cb, &fb) < 0)
		return -1;
	expect("rule bind_sibling_other_ctx", K(device_bind, fb, b, &id), EPERM);
	step("rule bind mf_b same ctx", K(device_bind, fb, a, &db));
	SHOW("mf dev_ids=%u,%u", da, db);

	/* Attachment is group-wide. */
	step("rule attach mf_a", K(device_attach, fa, ioas1, &ha));
	expect("rule attach_sibling_other_ioas", K(device_attach, fb, ioas2, &id), EINVAL);
	step("rule attach mf_b", K(device_attach, fb, ioas1, &hb));
	SHOW("mf hwpt=%u sibling_hwpt=%u same=%s", ha, hb, ha == hb ? "yes" : "no");
	/* Replace through one attached device moves the whole group; the old automatic
	 * domain goes away. Then move it back. */
	uint32_t h2, hb2;
	if (step("rule replace moves group", K(device_attach, fa, ioas2, &h2)) >= 0) {
		expect("rule old_auto_hwpt_gone", K(ioas_destroy, a, ha), ENOENT);
		step("rule sibling follows", K(device_attach, fb, ioas2, &hb2));
		SHOW("replaced hwpt=%u sibling_hwpt=%u same=%s", h2, hb2, h2 == hb2 ? "yes" : "no");
		step("rule replace back", K(device_attach, fa, ioas1, &ha));
		SHOW("back hwpt=%u", ha);
	}
	expect("rule attach_to_device_id", K(device_attach, fa, da, &id), EINVAL);
	expect("rule attach_to_missing_id", K(device_attach, fa, 999, &id), ENOENT);

	/* DESTROY. */
	expect("rule destroy_ioas_attached", K(ioas_destroy, a, ioas1), EBUSY);
	expect("rule destroy_hwpt_attached", K(ioas_destroy, a, ha), EBUSY);
	expect("rule destroy_device", K(ioas_destroy, a, da), EBUSY);
	expect("rule destroy_zero", K(ioas_destroy, a, 0), ENOENT);

	/* Reserved IOVA. */
	expect("rule allow_over_msi", K(ioas_allow_iovas, a, ioas1, &msi_allow, 1), EADDRINUSE);
	iova = 0xfee00000;
	expect("rule map_fixed_over_msi",
	       K(ioas_map, a, ioas1, rw | IOMMU_IOAS_MAP_FIXED_IOVA, va, pg, &iova), EINVAL);
	step("rule ioas_alloc 3", K(ioas_alloc, a, &ioas3));
	iova = 0xfee00000;
	step("rule map over msi before attach",
	     K(ioas_map, a, ioas3, rw | IOMMU_IOAS_MAP_FIXED_IOVA, va, pg, &iova));
	expect("rule attach_over_mapping", K(device_attach, fs, ioas3, &id), EADDRINUSE);
	step("rule ioas_alloc 4", K(ioas_alloc, a, &ioas4));
	step("rule allow over msi before attach", K(ioas_allow_iovas, a, ioas4, &msi_allow, 1));
	expect("rule attach_over_allowed", K(device_attach, fs, ioas4, &id), EADDRINUSE);
	step("rule attach single", K(device_attach, fs, ioas1, &hs));
	SHOW("single hwpt=%u shares_mf_hwpt=%s", hs, hs == ha ? "yes" : "no");

	/* MAP / UNMAP. */
	iova = 0x100000;
	step("rule map 2 pages",
	     K(ioas_map, a, ioas1, rw | IOMMU_IOAS_MAP_FIXED_IOVA, va, 2 * pg, &iova));
	iova = 0x101000;
	expect("rule map_overlap",
	       K(ioas_map, a, ioas1, rw | IOMMU_IOAS_MAP_FIXED_IOVA, va, pg, &iova), EEXIST);
	iova = 0x100800;
	expect("rule map_misaligned",
	       K(ioas_map, a, ioas1, rw | IOMMU_IOAS_MAP_FIXED_IOVA, va, pg, &iova), EINVAL);
	iova = 0x200000;
	expect("rule map_no_rw", K(ioas_map, a, ioas1, IOMMU_IOAS_MAP_FIXED_IOVA, va, pg, &iova),
	       EINVAL);
	expect("rule map_bad_flags", K(ioas_map, a, ioas1, rw | (1u << 3), va, pg, &iova),
	       EOPNOTSUPP);
	expect("rule unmap_nothing", K(ioas_unmap, a, ioas1, 0x300000, pg, &un), ENOENT);
	expect("rule unmap_partial", K(ioas_unmap, a, ioas1, 0x100000, pg, &un), ENOENT);
	if (step("rule unmap_all", K(ioas_unmap, a, ioas1, 0, UINT64_MAX, &un)) >= 0)
		SHOW("unmap_all bytes=0x%" PRIx64, un);
	if (step("rule unmap_all again", K(ioas_unmap, a, ioas1, 0, UINT64_MAX, &un)) >= 0)
		SHOW("unmap_all_again bytes=0x%" PRIx64, un);

	/* Above the 39/48-bit aperture of the attached domain: reserved. Overflow. */
	iova = 1ULL << 56;
	expect("rule map_above_aperture",
	       K(ioas_map, a, ioas1, rw | IOMMU_IOAS_MAP_FIXED_IOVA, va, pg, &iova), EINVAL);
	iova = UINT64_MAX;
	expect("rule map_overflow",
	       K(ioas_map, a, ioas1, rw | IOMMU_IOAS_MAP_FIXED_IOVA, va, pg, &iova), EOVERFLOW);
	expect("rule unmap_overflow", K(ioas_unmap, a, ioas1, UINT64_MAX, pg, &un), EOVERFLOW);

	/* ALLOW_IOVAS and automatic IOVA (no domain in this IOAS: alignment 1). The buffer is
	 * 2 MiB aligned so the IOVA alignment comes from the length alone. */
	uint32_t ioas5, ioas6;
	const size_t big = 4u << 20;
	void *buf2 = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf2 == MAP_FAILED)
		return step("rule mmap big", -errno);
	uintptr_t va2 = ((uintptr_t)buf2 + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
	step("rule ioas_alloc 5", K(ioas_alloc, a, &ioas5));
	const IovaRange one_byte = { 0x2000, 0x2000 };
	expect("rule allow_start_ge_last", K(ioas_allow_iovas, a, ioas5, &one_byte, 1), EINVAL);
	const IovaRange ovl[2] = { { 0x100000, 0x1fffff }, { 0x1ff000, 0x2fffff } };
	expect("rule allow_overlapping", K(ioas_allow_iovas, a, ioas5, ovl, 2), EINVAL);
	const IovaRange win[2] = { { 0x40000000, 0x4000ffff }, { 0x100000, 0x1fffff } };
	step("rule allow two windows", K(ioas_allow_iovas, a, ioas5, win, 2));
	uint64_t i1 = 0, i2 = 0, i3 = 0;
	step("rule auto map 1", K(ioas_map, a, ioas5, rw, va2, 0x10000, &i1));
	step("rule auto map 2", K(ioas_map, a, ioas5, rw, va2, 0x10000, &i2));
	step("rule allow clear", K(ioas_allow_iovas, a, ioas5, NULL, 0));
	step("rule auto map 3", K(ioas_map, a, ioas5, rw, va2, 0x10000, &i3));
	SHOW("auto iovas=0x%" PRIx64 ",0x%" PRIx64 ",0x%" PRIx64, i1, i2, i3);
	/* A window that is fully mapped already: nowhere to put it. */
	const IovaRange full = { i3, i3 + 0x10000 - 1 };
	step("rule allow full window", K(ioas_allow_iovas, a, ioas5, &full, 1));
	expect("rule auto_map_no_space", K(ioas_map, a, ioas5, rw, va2, 0x10000, &i1), ENOSPC);

	/* HUGE_PAGES=0 raises the alignment to PAGE_SIZE and refuses misaligned mappings. */
	step("rule ioas_alloc 6", K(ioas_alloc, a, &ioas6));
	iova = 0x800;
	step("rule map unaligned",
	     K(ioas_map, a, ioas6, rw | IOMMU_IOAS_MAP_FIXED_IOVA, va2, 0x800, &iova));
	expect("rule huge_pages_off_misaligned", K(ioas_set_huge_pages, a, ioas6, false),
	       EADDRINUSE);
	step("rule unmap unaligned", K(ioas_unmap, a, ioas6, 0, UINT64_MAX, &un));
	step("rule huge pages off", K(ioas_set_huge_pages, a, ioas6, false));
	iova = 0x800;
	expect("rule map_misaligned_after_huge_off",
	       K(ioas_map, a, ioas6, rw | IOMMU_IOAS_MAP_FIXED_IOVA, va2, 0x1000, &iova), EINVAL);
	step("rule huge pages on", K(ioas_set_huge_pages, a, ioas6, true));
	expect("rule huge_pages_no_ioas", K(ioas_set_huge_pages, a, 0, true), ENOENT);
	munmap(buf2, big);

	/* The group node cannot be opened while a cdev of the group is bound. */
	int lc, lg, ld;
	expect("rule legacy_open_while_bound", K(legacy_open, &dS, &lc, &lg, &ld), EBUSY);

	/* DETACH always succeeds; the automatic HWPT goes with its last device. */
	step("rule detach mf_b", K(device_detach, fb));
	step("rule detach mf_b again", K(device_detach, fb));
	step("rule detach mf_a", K(device_detach, fa));
	step("rule detach single", K(device_detach, fs));
	expect("rule destroy_auto_hwpt_gone", K(ioas_destroy, a, ha), ENOENT);

	/* The context outlives its iommufd while devices are bound. */
	K(close, a);
	step("rule attach after iommufd close", K(device_attach, fs, ioas1, &hs));
	/* Ownership stays while any device of the group is bound in the context, and is
	 * released with the last one. */
	K(close, fa);
	int fa2 = -EBADF;
	if (step("rule reopen mf_a", K(device_open, &dA, &fa2)) >= 0) {
		expect("rule bind_while_group_owned", K(device_bind, fa2, b, &id), EPERM);
		K(close, fb);
		step("rule bind after release", K(device_bind, fa2, b, &id));
		SHOW("ctx_b dev_id=%u", id);
		K(close, fa2);
	} else
		K(close, fb);
	K(close, fs);

	/* And the other way round: while the group node is open, BIND is EBUSY. */
	if (step("rule legacy_open mf", K(legacy_open, &dA, &lc, &lg, &ld)) >= 0) {
		int fb3 = -EBADF;
		if (step("rule reopen mf_b for bind", K(device_open, &dB, &fb3)) >= 0) {
			expect("rule bind_while_group_node_open", K(device_bind, fb3, b, &id),
			       EBUSY);
			K(close, fb3);
		}
		K(close, ld);
		K(close, lg);
		K(close, lc);
	}
	K(close, b);
	munmap(buf, 4 * pg);
	return 0;
}
