/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kernel-probe: exercises the linux kernel backend on a real kernel (meant for the QEMU guest
 * of the real-kernel tier, see reference/vm-recipe.md). Every kernel call goes through the
 * kernel seam (common/kernel.h), so this tests the project's own code, not a copy of it.
 *
 *   kernel-probe                 open /dev/iommu, RLIMIT_MODE, allocate an IOAS, print its
 *                                IOVA ranges
 *   kernel-probe BDF...          also open + bind + attach each device to that IOAS, print
 *                                dev/hwpt ids, HW info and the ranges after attach, check
 *                                that a second bind of the same file fails EINVAL and that
 *                                the attached IOAS cannot be destroyed (EBUSY)
 *   kernel-probe --map BDF...    also map 2 MiB of anonymous memory (automatic IOVA), unmap
 *   kernel-probe --legacy BDF... the legacy container/group path instead
 *   kernel-probe --rules SINGLE MF_A MF_B
 *                                the documented rules with their errnos on real devices
 *                                (SINGLE alone in its group, MF_A + MF_B one group)
 *   kernel-probe --sim HOST.json ...  the same steps against the sim backend over a host
 *                                snapshot, so the two outputs can be diffed (no fd numbers
 *                                are printed for that reason)
 *
 * Output is one "key=value ..." record per line, for scripts to grep; a step that fails
 * prints "error=ENAME". Exit status: 0 when every step gave what the kernel documents,
 * 1 otherwise, 64 on usage errors. Device facts (cdev name, IOMMU group) are read from
 * sysfs here because the host model is not what is under test.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

#define K(op, ...) KERNEL_CALL(k, op, ##__VA_ARGS__)

static unsigned failures;

/* Reports a step that must succeed. */
static int step(const char *what, int r) {
	if (r < 0) {
		printf("%s error=%s\n", what, strna(errno_name(r)));
		failures++;
	}
	return r;
}

/* Reports a step that must fail with `expect`. */
static void expect(const char *what, int r, int err) {
	const char *got = r < 0 ? strna(errno_name(r)) : "success";
	printf("%s expect=%s got=%s %s\n", what, errno_name(err), got, r == -err ? "ok" : "FAIL");
	if (r != -err)
		failures++;
}

static void print_ranges(Kernel *k, int iommufd, uint32_t ioas, const char *when) {
	_cleanup_free_ IovaRange *r = NULL;
	size_t n = 0;
	uint64_t align = 0;
	char what[64];
	snprintf(what, sizeof(what), "iova_ranges when=%s", when);
	if (step(what, K(ioas_iova_ranges, iommufd, ioas, &r, &n, &align)) < 0)
		return;
	printf("iova_ranges when=%s ioas=%" PRIu32 " n=%zu alignment=0x%" PRIx64 "\n", when, ioas,
	       n, align);
	for (size_t i = 0; i < n; i++)
		printf("range when=%s start=0x%016" PRIx64 " last=0x%016" PRIx64 "\n", when,
		       r[i].start, r[i].last);
}

static Host *arg_sim_host;

/* Fills the Device fields the kernel seam needs from sysfs (or from the --sim host). */
static int device_from_sysfs(const char *arg, Device *d, char **ret_cdev) {
	char bdf[BDF_MAX], path[128];
	int r = bdf_parse(arg, bdf);
	if (r < 0)
		return r;
	if (arg_sim_host) {
		for (size_t i = 0; i < arg_sim_host->n_devices; i++)
			if (streq(arg_sim_host->devices[i].bdf, bdf)) {
				*d = arg_sim_host->devices[i];
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

static int probe_legacy(Kernel *k, char **bdfs, int n) {
	for (int i = 0; i < n; i++) {
		Device d;
		_cleanup_free_ char *cdev = NULL;
		char what[96];
		snprintf(what, sizeof(what), "sysfs bdf=%s", bdfs[i]);
		if (step(what, device_from_sysfs(bdfs[i], &d, &cdev)) < 0)
			continue;
		int c, g, fd;
		snprintf(what, sizeof(what), "legacy_open bdf=%s group=%d", d.bdf, d.iommu_group);
		if (step(what, K(legacy_open, &d, &c, &g, &fd)) < 0)
			continue;
		printf("legacy_open bdf=%s group=%d ok\n", d.bdf, d.iommu_group);
		int c2, g2, fd2;
		snprintf(what, sizeof(what), "legacy_open_again bdf=%s", d.bdf);
		expect(what, K(legacy_open, &d, &c2, &g2, &fd2), EBUSY);
		int r = K(device_reset, fd);
		printf("reset bdf=%s result=%s\n", d.bdf, r < 0 ? strna(errno_name(r)) : "ok");
		K(close, fd);
		K(close, g);
		K(close, c);
	}
	return 0;
}

static int probe_iommufd(Kernel *k, char **bdfs, int n, bool map) {
	int iommufd = -EBADF;
	if (step("iommufd_open", K(iommufd_open, &iommufd)) < 0)
		return -1;
	printf("iommufd_open ok\n");

	bool pp = false;
	if (step("rlimit_mode_get", K(iommufd_get_rlimit_mode, iommufd, &pp)) >= 0)
		printf("rlimit_mode_get per_process=%d\n", pp);
	int r = K(iommufd_set_rlimit_mode, iommufd, true);
	printf("rlimit_mode_set per_process=1 result=%s\n", r < 0 ? strna(errno_name(r)) : "ok");

	uint32_t ioas;
	if (step("ioas_alloc", K(ioas_alloc, iommufd, &ioas)) < 0)
		return -1;
	printf("ioas_alloc ioas=%" PRIu32 "\n", ioas);
	/* The kernel checks CAP_SYS_RESOURCE before emptiness. */
	expect("rlimit_mode_set_nonempty", K(iommufd_set_rlimit_mode, iommufd, true),
	       r == -EPERM ? EPERM : EBUSY);
	print_ranges(k, iommufd, ioas, "fresh");

	_cleanup_free_ int *fds = calloc(n > 0 ? n : 1, sizeof(int));
	_cleanup_free_ bool *bound = calloc(n > 0 ? n : 1, sizeof(bool));
	if (!fds || !bound)
		return -ENOMEM;
	int attached = 0;
	for (int i = 0; i < n; i++) {
		fds[i] = -EBADF;
		Device d;
		_cleanup_free_ char *cdev = NULL;
		char what[96];
		snprintf(what, sizeof(what), "sysfs bdf=%s", bdfs[i]);
		if (step(what, device_from_sysfs(bdfs[i], &d, &cdev)) < 0)
			continue;
		printf("device bdf=%s cdev=%s group=%d\n", d.bdf, strna(cdev), d.iommu_group);
		snprintf(what, sizeof(what), "device_open bdf=%s", d.bdf);
		if (step(what, K(device_open, &d, &fds[i])) < 0)
			continue;
		uint32_t dev_id, hwpt;
		snprintf(what, sizeof(what), "device_bind bdf=%s", d.bdf);
		if (step(what, K(device_bind, fds[i], iommufd, &dev_id)) < 0)
			continue;
		bound[i] = true;
		printf("device_bind bdf=%s dev_id=%" PRIu32 "\n", d.bdf, dev_id);
		snprintf(what, sizeof(what), "device_rebind bdf=%s", d.bdf);
		expect(what, K(device_bind, fds[i], iommufd, &dev_id), EINVAL);
		snprintf(what, sizeof(what), "device_attach bdf=%s", d.bdf);
		if (step(what, K(device_attach, fds[i], ioas, &hwpt)) < 0)
			continue;
		attached++;
		printf("device_attach bdf=%s ioas=%" PRIu32 " hwpt=%" PRIu32 "\n", d.bdf, ioas, hwpt);
		KernelHwInfo hw;
		snprintf(what, sizeof(what), "hw_info bdf=%s", d.bdf);
		if (step(what, K(hw_info, iommufd, dev_id, &hw)) >= 0)
			printf("hw_info bdf=%s type=%" PRIu32 " caps=0x%" PRIx64
			       " max_pasid_log2=%u\n",
			       d.bdf, hw.data_type, hw.capabilities, hw.max_pasid_log2);
	}
	if (attached > 0) {
		print_ranges(k, iommufd, ioas, "attached");
		expect("ioas_destroy_attached", K(ioas_destroy, iommufd, ioas), EBUSY);
	}

	if (map) {
		const size_t len = 2u << 20;
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			step("mmap", -errno);
		else {
			memset(p, 0x5a, len);
			uint64_t iova = 0, un = 0;
			if (step("ioas_map", K(ioas_map, iommufd, ioas,
					       IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
					       (uintptr_t)p, len, &iova)) >= 0) {
				printf("ioas_map iova=0x%" PRIx64 " length=0x%zx\n", iova, len);
				uint64_t again = iova;
				expect("ioas_map_overlap",
				       K(ioas_map, iommufd, ioas,
					 IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_FIXED_IOVA,
					 (uintptr_t)p, len, &again),
				       EEXIST);
				expect("ioas_unmap_partial",
				       K(ioas_unmap, iommufd, ioas, iova, len / 2, &un), ENOENT);
				if (step("ioas_unmap", K(ioas_unmap, iommufd, ioas, iova, len, &un)) >= 0)
					printf("ioas_unmap bytes=0x%" PRIx64 "\n", un);
			}
			munmap(p, len);
		}
	}

	for (int i = 0; i < n; i++)
		if (fds[i] >= 0) {
			char what[64];
			snprintf(what, sizeof(what), "device_detach index=%d", i);
			if (bound[i])
				step(what, K(device_detach, fds[i]));
			K(close, fds[i]);
		}
	if (attached > 0)
		print_ranges(k, iommufd, ioas, "detached");
	step("ioas_destroy", K(ioas_destroy, iommufd, ioas));
	K(close, iommufd);
	return 0;
}


/* Prints a value other runs (sim vs real kernel) can be diffed on. */
#define SHOW(fmt, ...) printf("rule " fmt "\n", ##__VA_ARGS__)

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
	step("rule ioas_alloc 1", K(ioas_alloc, a, &ioas1));
	step("rule ioas_alloc 2", K(ioas_alloc, a, &ioas2));
	SHOW("ioas1=%u ioas2=%u", ioas1, ioas2);

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
	step("rule map 2 pages", K(ioas_map, a, ioas1, rw | IOMMU_IOAS_MAP_FIXED_IOVA, va, 2 * pg,
				   &iova));
	iova = 0x101000;
	expect("rule map_overlap", K(ioas_map, a, ioas1, rw | IOMMU_IOAS_MAP_FIXED_IOVA, va, pg,
				     &iova), EEXIST);
	iova = 0x100800;
	expect("rule map_misaligned", K(ioas_map, a, ioas1, rw | IOMMU_IOAS_MAP_FIXED_IOVA, va, pg,
					&iova), EINVAL);
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
	K(close, b);
	munmap(buf, 4 * pg);
	return 0;
}

static void usage(FILE *f) {
	fprintf(f, "Usage: kernel-probe [--map] [--legacy] [--sim HOST.json] [BDF...]\n"
		   "       kernel-probe --rules [--sim HOST.json] SINGLE MF_A MF_B\n");
}

int main(int argc, char **argv) {
	static const struct option opts[] = {
		{ "map", no_argument, NULL, 'm' },
		{ "legacy", no_argument, NULL, 'l' },
		{ "sim", required_argument, NULL, 's' },
		{ "rules", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool map = false, legacy = false, rules = false;
	const char *sim = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "mls:rh", opts, NULL)) >= 0)
		switch (c) {
		case 'm':
			map = true;
			break;
		case 'l':
			legacy = true;
			break;
		case 'r':
			rules = true;
			break;
		case 's':
			sim = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;
		}

	_cleanup_host_free_ Host *host = NULL;
	if (sim) {
		_cleanup_free_ char *err = NULL;
		int r = host_load_json_file(sim, &host, &err);
		if (r < 0) {
			fprintf(stderr, "%s: %s\n", sim, err ? err : strerror(-r));
			return 1;
		}
		arg_sim_host = host;
	}
	_cleanup_kernel_free_ Kernel *k = NULL;
	int r = kernel_new(sim ? "sim" : "linux", host, &k);
	if (r < 0) {
		fprintf(stderr, "kernel_new: %s\n", strerror(-r));
		return 1;
	}
	KernelApi api = k->ops->api(k);
	printf("api=%s\n", kernel_api_to_string(api));
	if (rules) {
		if (probe_rules(k, argv + optind, argc - optind) == -EINVAL)
			return 64;
	} else if (legacy)
		probe_legacy(k, argv + optind, argc - optind);
	else
		probe_iommufd(k, argv + optind, argc - optind, map);
	printf("result=%s failures=%u\n", failures ? "FAIL" : "ok", failures);
	return failures ? 1 : 0;
}
