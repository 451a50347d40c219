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
 *   kernel-probe --vdpa-rules    the vdpa family's rules (tests/tools/vdpa-rules.h): prints
 *                                "<case> <answer>" lines for tests/tools/vdpa-rules.expected
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
#include "common/kernel-sim.h"
#include "common/kernel.h"
#include "common/macro.h"
#include "common/uapi.h"
#include "common/util.h"
#include "tests/tools/kernel-rules.h"
#include "tests/tools/vdpa-rules.h"

static void print_ranges(Kernel *k, int iommufd, uint32_t ioas, const char *when) {
	_cleanup_free_ IovaRange *r = NULL;
	size_t n = 0;
	uint64_t align = 0;
	char what[64];
	snprintf(what, sizeof(what), "iova_ranges when=%s", when);
	if (step(what, K(ioas_iova_ranges, iommufd, ioas, &r, &n, &align)) < 0)
		return;
	fprintf(kr_out, "iova_ranges when=%s ioas=%" PRIu32 " n=%zu alignment=0x%" PRIx64 "\n",
		when, ioas, n, align);
	for (size_t i = 0; i < n; i++)
		fprintf(kr_out, "range when=%s start=0x%016" PRIx64 " last=0x%016" PRIx64 "\n",
			when, r[i].start, r[i].last);
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
		fprintf(kr_out, "legacy_open bdf=%s group=%d ok\n", d.bdf, d.iommu_group);
		int c2, g2, fd2;
		snprintf(what, sizeof(what), "legacy_open_again bdf=%s", d.bdf);
		expect(what, K(legacy_open, &d, &c2, &g2, &fd2), EBUSY);
		int r = K(device_reset, fd);
		fprintf(kr_out, "reset bdf=%s result=%s\n", d.bdf,
			r < 0 ? strna(errno_name(r)) : "ok");
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
	fprintf(kr_out, "iommufd_open ok\n");

	bool pp = false;
	if (step("rlimit_mode_get", K(iommufd_get_rlimit_mode, iommufd, &pp)) >= 0)
		fprintf(kr_out, "rlimit_mode_get per_process=%d\n", pp);
	int r = K(iommufd_set_rlimit_mode, iommufd, true);
	fprintf(kr_out, "rlimit_mode_set per_process=1 result=%s\n",
		r < 0 ? strna(errno_name(r)) : "ok");

	uint32_t ioas;
	if (step("ioas_alloc", K(ioas_alloc, iommufd, &ioas)) < 0)
		return -1;
	fprintf(kr_out, "ioas_alloc ioas=%" PRIu32 "\n", ioas);
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
		fprintf(kr_out, "device bdf=%s cdev=%s group=%d\n", d.bdf, strna(cdev),
			d.iommu_group);
		snprintf(what, sizeof(what), "device_open bdf=%s", d.bdf);
		if (step(what, K(device_open, &d, &fds[i])) < 0)
			continue;
		uint32_t dev_id, hwpt;
		snprintf(what, sizeof(what), "device_bind bdf=%s", d.bdf);
		if (step(what, K(device_bind, fds[i], iommufd, &dev_id)) < 0)
			continue;
		bound[i] = true;
		fprintf(kr_out, "device_bind bdf=%s dev_id=%" PRIu32 "\n", d.bdf, dev_id);
		snprintf(what, sizeof(what), "device_rebind bdf=%s", d.bdf);
		expect(what, K(device_bind, fds[i], iommufd, &dev_id), EINVAL);
		snprintf(what, sizeof(what), "device_attach bdf=%s", d.bdf);
		if (step(what, K(device_attach, fds[i], ioas, &hwpt)) < 0)
			continue;
		attached++;
		fprintf(kr_out, "device_attach bdf=%s ioas=%" PRIu32 " hwpt=%" PRIu32 "\n", d.bdf,
			ioas, hwpt);
		KernelHwInfo hw;
		snprintf(what, sizeof(what), "hw_info bdf=%s", d.bdf);
		if (step(what, K(hw_info, iommufd, dev_id, &hw)) >= 0)
			fprintf(kr_out,
				"hw_info bdf=%s type=%" PRIu32 " caps=0x%" PRIx64
				" max_pasid_log2=%u\n",
				d.bdf, hw.data_type, hw.capabilities, hw.max_pasid_log2);
	}
	if (attached > 0) {
		print_ranges(k, iommufd, ioas, "attached");
		expect("ioas_destroy_attached", K(ioas_destroy, iommufd, ioas), EBUSY);
	}

	if (map) {
		const size_t len = 2u << 20;
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			       0);
		if (p == MAP_FAILED)
			step("mmap", -errno);
		else {
			memset(p, 0x5a, len);
			uint64_t iova = 0, un = 0;
			if (step("ioas_map", K(ioas_map, iommufd, ioas,
					       IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
					       (uintptr_t)p, len, &iova)) >= 0) {
				fprintf(kr_out, "ioas_map iova=0x%" PRIx64 " length=0x%zx\n", iova,
					len);
				uint64_t again = iova;
				expect("ioas_map_overlap",
				       K(ioas_map, iommufd, ioas,
					 IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_FIXED_IOVA,
					 (uintptr_t)p, len, &again),
				       EEXIST);
				expect("ioas_unmap_partial",
				       K(ioas_unmap, iommufd, ioas, iova, len / 2, &un), ENOENT);
				if (step("ioas_unmap",
					 K(ioas_unmap, iommufd, ioas, iova, len, &un)) >= 0)
					fprintf(kr_out, "ioas_unmap bytes=0x%" PRIx64 "\n", un);
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

static void usage(FILE *f) {
	fprintf(f, "Usage: kernel-probe [--map] [--legacy] [--sim HOST.json] [BDF...]\n"
		   "       kernel-probe --rules [--sim HOST.json] SINGLE MF_A MF_B\n"
		   "       kernel-probe --vdpa-rules [--sim HOST.json]\n");
}

int main(int argc, char **argv) {
	kr_out = stdout;
	static const struct option opts[] = {
		{ "map", no_argument, NULL, 'm' },
		{ "legacy", no_argument, NULL, 'l' },
		{ "sim", required_argument, NULL, 's' },
		{ "rules", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "vdpa-rules", no_argument, NULL, 'v' },
		{},
	};
	bool map = false, legacy = false, rules = false, vdpa = false;
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
		case 'v':
			vdpa = true;
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
		kr_sim_host = host;
	}
	_cleanup_kernel_free_ Kernel *k = NULL;
	int r = kernel_new(sim ? "sim" : "linux", host, &k);
	/* The real-kernel runs this is diffed against run as root in the guest: give the sim
	 * the same CAP_SYS_RESOURCE whatever this process has. */
	if (r >= 0 && sim)
		r = kernel_sim_override_cap_sys_resource(k, 1);
	if (r < 0) {
		fprintf(stderr, "kernel_new: %s\n", strerror(-r));
		return 1;
	}
	if (vdpa) {
		/* The recording is the output itself: no api line, no verdict. */
		if (sim)
			kernel_sim_override_cap_net_admin(k, 1);
		return vdpa_rules_run(k, stdout) < 0 ? 1 : 0;
	}
	KernelApi api = kernel_api(k);
	fprintf(kr_out, "api=%s\n", kernel_api_to_string(api));
	if (rules) {
		if (probe_rules(k, argv + optind, argc - optind) == -EINVAL)
			return 64;
	} else if (legacy)
		probe_legacy(k, argv + optind, argc - optind);
	else
		probe_iommufd(k, argv + optind, argc - optind, map);
	fprintf(kr_out, "result=%s failures=%u\n", kr_failures ? "FAIL" : "ok", kr_failures);
	return kr_failures ? 1 : 0;
}
