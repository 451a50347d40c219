/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vm-edu: drive QEMU's "edu" PCI device (1234:11e8) through a real iommufd + VFIO cdev,
 * inside the real-kernel test guest (tests/vm). It proves the kernel seam end to end: a
 * buffer mapped with IOMMU_IOAS_MAP round-trips through the device's DMA engine, and after
 * IOMMU_IOAS_UNMAP the same DMA is blocked by the IOMMU (DMAR fault, memory unchanged).
 *
 *   vm-edu probe BDF          open /dev/iommu and the cdev itself, ALLOC/BIND/ATTACH,
 *                             IOVA_RANGES, GET_HW_INFO, MAP, DMA round trip, UNMAP, blocked
 *   vm-edu dma IOMMUFD DEVFD  use inherited fds (from ioasidctl run / a lease): FD numbers,
 *        [--ioas ID] [--bind] [--attach]   optionally bind/attach first (unbound mode)
 *        [--expect-blocked]   DMA to the mapping must NOT land (after a revoke)
 *        [--then-wait FILE]   after a good round trip print "waiting", wait until FILE exists
 *                             (someone revoked the lease), then the same DMA must be blocked
 *        [--catch-term]       record a SIGTERM (Revoke's signal) instead of dying of it
 *   vm-edu legacy BDF         the same round trip and block through the VFIO group/container
 *                             path (/dev/vfio/N, /dev/vfio/vfio, VFIO_TYPE1v2_IOMMU)
 *   vm-edu dma-legacy CONTAINERFD DEVFD   round trip with inherited legacy fds
 *        [--then-wait FILE]   then wait for FILE and round-trip again (a legacy lease keeps
 *                             translating after a revoke)
 *   vm-edu memlock IOMMUFD IOAS DEVFD KIB [--fork]   map KIB of fresh memory (printing the
 *                             errno or VmPin/VmLck of /proc/self/status), round-trip through
 *                             it; --fork: a child maps as much again (who the kernel charges)
 *   vm-edu dma-each IOMMUFD IOAS DEVFD...  an attached lease of several edus on one IOAS:
 *                             a round trip through each, then UNMAP and each is blocked
 *   vm-edu vf-hold PF UUID FILE   SR-IOV (tests/vm S12): bind the PF's cdev to an iommufd,
 *                             set its VF token (VFIO_DEVICE_FEATURE_PCI_VF_TOKEN), print
 *                             "holding", keep it until FILE exists
 *   vm-edu vf-open BDF [--token UUID] [--legacy] [--hold FILE]   open BDF once as a second
 *                             user and print what the kernel answered ("result=ok" or the
 *                             errno name): the cdev path binds to a fresh iommufd, with
 *                             VFIO_DEVICE_BIND_FLAG_TOKEN when a token is given; --legacy
 *                             asks the group for "BDF" or "BDF vf_token=UUID"
 *                             (VFIO_GROUP_GET_DEVICE_FD); --hold keeps a success open until
 *                             FILE exists. Exit 0 whatever the answer, 2 on a setup failure
 *   vm-edu vhost-open NODE   (tests/vm VD) open a vhost-vdpa char device, and while that
 *                             file is open a second time: "first=ok|ERRNO second=ok|ERRNO"
 *                             (ENOTSUPP, the kernel's 524, by its name). Exit 0 whatever
 *                             the answers
 *   vm-edu vhost-hold FD READY GO   (tests/vm VD) the holder of a vhost-vdpa lease's FD:
 *                             VHOST_SET_OWNER, status ACKNOWLEDGE|DRIVER|FEATURES_OK|
 *                             DRIVER_OK, one IOTLB entry (a VHOST_IOTLB_UPDATE message of a
 *                             shared memfd mapping) at IOVA 1 MiB; prints "held status=...
 *                             map=...", creates READY and waits for GO (the admin revoked).
 *                             Then prints what it sees: "after status=0xNN" (GET_STATUS),
 *                             "remap=" (the same IOVA again: EFAULT while the entry is still
 *                             there, the kernel's EEXIST as vhost_chr_write_iter reports it),
 *                             "other=" (a fresh IOVA), "invalidate=", "remap-after=" and
 *                             "setup-again=" (status ACKNOWLEDGE). READY holds "PID FD".
 *                             Exit 0 when it could ask, 2 on a setup failure
 *   vm-edu vhost-foreign PID FD   another process (the daemon's position) with the holder's
 *                             vhost-vdpa file, the same open file taken with pidfd_getfd():
 *                             a VHOST_IOTLB_INVALIDATE of the whole IOVA space written to it
 *                             ("invalidate=ok|ERRNO") and VHOST_VDPA_GET_STATUS
 *   vm-edu vhost-ioctl FD    (tests/vm VD2) on an inherited vhost-vdpa fd (a lease's
 *                             {vhostfd}): VHOST_GET_FEATURES and VHOST_VDPA_GET_DEVICE_ID,
 *                             "features=0x... version_1=yes|no device_id=N"; exit 2 with the
 *                             errno when either ioctl fails
 *   vm-edu write FILE TEXT   (tests/vm VD3) one write(2) of TEXT to FILE (a sysfs attribute
 *                             such as drivers_probe or a driver's bind), printing
 *                             "result=ok" or the errno name. Exit 0 whatever the answer
 *
 * Every fact is printed as "vm-edu: key=value" for the guest's log; exit status 0 means
 * every check passed, 1 a check failed, 2 a setup step failed (errno printed).
 *
 * Data patterns differ per transfer: a 32-bit seed from $VM_EDU_TAG (the guest sets the
 * scenario's id), the pid and a counter drives a xorshift fill, printed as pattern=0x...
 * A device buffer left over from an earlier transfer, of this or another scenario, holds
 * another pattern, so it can neither pass for a round trip nor for a blocked transfer.
 *
 * edu registers (BAR0): 0x00 ident, 0x80 DMA source, 0x88 DMA destination, 0x90 count,
 * 0x98 command (bit 0 start, bit 1 direction, bit 2 irq). The direction follows QEMU's
 * hw/misc/edu.c: 0 = RAM (bus address) -> edu buffer, 1 = edu buffer -> RAM. The edu
 * buffer is 4 KiB at device address 0x40000 and the device clamps bus addresses to 28 bits,
 * so the IOVA used here stays below 256 MiB.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/uapi.h"

/*
 * Not (yet) in common/uapi.h; stable since Linux 3.x/5.4 (vfio-pci region indexes, the
 * type1 IOVA-range capability).
 */
#ifndef VFIO_PCI_BAR0_REGION_INDEX
#define VFIO_PCI_BAR0_REGION_INDEX 0
#define VFIO_PCI_CONFIG_REGION_INDEX 7
#endif
#ifndef VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE
#define VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE 1
struct vfio_iova_range {
	__u64 start;
	__u64 end;
};
struct vfio_iommu_type1_info_cap_iova_range {
	struct vfio_info_cap_header header;
	__u32 nr_iovas;
	__u32 reserved;
	struct vfio_iova_range iova_ranges[];
};
#endif

#define EDU_IDENT 0x00
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START 0x1
#define EDU_CMD_TO_RAM 0x2
#define EDU_BUF 0x40000
#define EDU_BUF_SIZE 4096
/*
 * Bytes per transfer. Less than the whole edu buffer: the range check of bookworm's QEMU 7.2
 * edu rejects a transfer that ends exactly at the buffer's end (and aborts QEMU).
 */
#define EDU_XFER 2048

#define VM_IOVA 0x1000000ULL /* 16 MiB: inside the 28-bit edu mask, outside the MSI window */
#define PAGE 4096

typedef struct Edu {
	int devfd;
	uint64_t bar0_off;
	uint64_t bar0_size;
	uint64_t cfg_off;
} Edu;

static void say(const char *fmt, ...) _printf_(1, 2);
static void say(const char *fmt, ...) {
	va_list ap;

	va_start(ap, fmt);
	fputs("vm-edu: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	fflush(stdout);
}

/* Polls every 10 ms, at most polls times, until file exists; whether it does. */
static bool wait_for(const char *file, int polls) {
	for (int i = 0; access(file, F_OK) < 0; i++) {
		if (i >= polls)
			return false;
		usleep(10000);
	}
	return true;
}

static int fail(const char *what, int r) {
	say("error=%s errno=%s(%d)", what, strerrorname_np(-r) ?: "?", -r);
	return r;
}

static int edu_setup(int devfd, Edu *ret) {
	struct vfio_region_info bar = { .argsz = sizeof(bar), .index = VFIO_PCI_BAR0_REGION_INDEX };
	struct vfio_region_info cfg = { .argsz = sizeof(cfg),
					.index = VFIO_PCI_CONFIG_REGION_INDEX };
	uint16_t cmd;
	uint32_t ident;

	if (ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &bar) < 0)
		return fail("VFIO_DEVICE_GET_REGION_INFO(BAR0)", -errno);
	if (ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &cfg) < 0)
		return fail("VFIO_DEVICE_GET_REGION_INFO(config)", -errno);
	if (bar.size < 0x100)
		return fail("BAR0 too small", -ENXIO);
	/* Memory space and bus master: vfio-pci leaves bus mastering to the user. */
	if (pread(devfd, &cmd, sizeof(cmd), (off_t)cfg.offset + 4) != sizeof(cmd))
		return fail("read PCI_COMMAND", -EIO);
	cmd |= 0x6;
	if (pwrite(devfd, &cmd, sizeof(cmd), (off_t)cfg.offset + 4) != sizeof(cmd))
		return fail("write PCI_COMMAND", -EIO);
	if (pread(devfd, &ident, sizeof(ident), (off_t)bar.offset + EDU_IDENT) != sizeof(ident))
		return fail("read edu ident", -EIO);
	say("edu_ident=0x%08x bar0_size=0x%" PRIx64, ident, (uint64_t)bar.size);
	if ((ident & 0xff) != 0xed)
		return fail("not an edu device", -ENODEV);
	*ret = (Edu){
		.devfd = devfd, .bar0_off = bar.offset, .bar0_size = bar.size, .cfg_off = cfg.offset
	};
	return 0;
}

static int edu_w64(const Edu *e, uint64_t reg, uint64_t v) {
	return pwrite(e->devfd, &v, sizeof(v), (off_t)(e->bar0_off + reg)) == sizeof(v) ? 0 : -EIO;
}

static int edu_r64(const Edu *e, uint64_t reg, uint64_t *v) {
	return pread(e->devfd, v, sizeof(*v), (off_t)(e->bar0_off + reg)) == sizeof(*v) ? 0 : -EIO;
}

/* Run one DMA and wait (the edu completes a transfer from a 100 ms timer). */
static int edu_dma(const Edu *e, uint64_t src, uint64_t dst, uint64_t cnt, bool to_ram) {
	uint64_t cmd = 0;

	if (edu_w64(e, EDU_DMA_SRC, src) < 0 || edu_w64(e, EDU_DMA_DST, dst) < 0 ||
	    edu_w64(e, EDU_DMA_CNT, cnt) < 0 ||
	    edu_w64(e, EDU_DMA_CMD, EDU_CMD_START | (to_ram ? EDU_CMD_TO_RAM : 0)) < 0)
		return -EIO;
	for (int i = 0; i < 500; i++) {
		if (edu_r64(e, EDU_DMA_CMD, &cmd) < 0)
			return -EIO;
		if (!(cmd & EDU_CMD_START))
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/* The seed of the next transfer: FNV-1a of $VM_EDU_TAG, mixed with the pid and a counter. */
static uint32_t next_seed(void) {
	static uint32_t n;
	const char *tag = getenv("VM_EDU_TAG");
	uint32_t h = 2166136261u;

	for (const char *c = tag ? tag : "untagged"; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	h ^= (uint32_t)getpid() * 2654435761u;
	h ^= ++n * 0x9e3779b9u;
	return h ? h : 1;
}

/* Fill len bytes from seed with xorshift32 (never a constant run). */
static void fill_pattern(uint8_t *p, size_t len, uint32_t seed) {
	uint32_t x = seed ? seed : 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

/* Count kernel log records that report an IOMMU (DMAR) fault, from the start of the log. */
static int count_dmar_faults(void) {
	_cleanup_close_ int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	char rec[2048];
	int n = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t l = read(fd, rec, sizeof(rec) - 1);

		if (l < 0) {
			if (errno == EPIPE) /* overwritten record: keep reading */
				continue;
			break;
		}
		rec[l] = 0;
		if (strstr(rec, "DMAR") && strstr(rec, "fault addr"))
			n++;
	}
	return n;
}

static int iommufd_ranges(int iommufd, uint32_t ioas, const char *tag) {
	struct iommu_iova_range r[8] = {};
	struct iommu_ioas_iova_ranges q = {
		.size = sizeof(q),
		.ioas_id = ioas,
		.num_iovas = ELEMENTSOF(r),
		.allowed_iovas = (uintptr_t)r,
	};
	char buf[512] = "";
	size_t off = 0;

	if (ioctl(iommufd, IOMMU_IOAS_IOVA_RANGES, &q) < 0)
		return fail("IOMMU_IOAS_IOVA_RANGES", -errno);
	for (uint32_t i = 0; i < q.num_iovas && i < ELEMENTSOF(r); i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s0x%llx-0x%llx", i ? "," : "",
				(unsigned long long)r[i].start, (unsigned long long)r[i].last);
	say("iova_ranges_%s=%s num=%u alignment=0x%llx", tag, buf, q.num_iovas,
	    (unsigned long long)q.out_iova_alignment);
	return (int)q.num_iovas;
}

static int iommufd_map(int iommufd, uint32_t ioas, void *va, uint64_t len, uint64_t iova) {
	struct iommu_ioas_map m = {
		.size = sizeof(m),
		.ioas_id = ioas,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = iova,
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
	};

	if (ioctl(iommufd, IOMMU_IOAS_MAP, &m) < 0)
		return fail("IOMMU_IOAS_MAP", -errno);
	say("mapped iova=0x%llx length=0x%llx", (unsigned long long)m.iova,
	    (unsigned long long)len);
	return 0;
}

static int iommufd_unmap(int iommufd, uint32_t ioas, uint64_t len, uint64_t iova) {
	struct iommu_ioas_unmap u = {
		.size = sizeof(u), .ioas_id = ioas, .iova = iova, .length = len
	};

	if (ioctl(iommufd, IOMMU_IOAS_UNMAP, &u) < 0)
		return fail("IOMMU_IOAS_UNMAP", -errno);
	say("unmapped iova=0x%llx length=0x%llx", (unsigned long long)iova,
	    (unsigned long long)u.length);
	return 0;
}

/*
 * RAM -> edu -> RAM through IOVA: page 0 of buf holds a pattern, page 1 must receive it.
 * Returns 1 if the data round-tripped, 0 if it did not, -errno on a setup failure.
 */
static int edu_roundtrip(const Edu *e, uint8_t *buf, uint64_t iova) {
	uint32_t seed = next_seed();
	int r;

	fill_pattern(buf, PAGE, seed);
	say("roundtrip_pattern=0x%08x", seed);
	memset(buf + PAGE, 0, PAGE);
	r = edu_dma(e, iova, EDU_BUF, EDU_XFER, false);
	if (r < 0)
		return fail("edu DMA RAM->device", r);
	r = edu_dma(e, EDU_BUF, iova + PAGE, EDU_XFER, true);
	if (r < 0)
		return fail("edu DMA device->RAM", r);
	/* The transferred part arrives, the rest of the destination page stays zero. */
	if (memcmp(buf, buf + PAGE, EDU_XFER) != 0)
		return 0;
	for (int i = EDU_XFER; i < PAGE; i++)
		if (buf[PAGE + i] != 0)
			return 0;
	return 1;
}

/* DMA into an IOVA that must not be mapped: memory stays as it was, the IOMMU logs a fault. */
static int edu_expect_blocked(const Edu *e, uint8_t *buf, uint64_t iova) {
	int before, after = 0, r;
	bool unchanged = true;

	uint32_t seed = next_seed();
	uint8_t *want = malloc(PAGE);

	if (!want)
		return fail("malloc", -ENOMEM);
	/* A pattern the device never received: a transfer that lands cannot leave it intact. */
	fill_pattern(want, PAGE, seed);
	memcpy(buf + PAGE, want, PAGE);
	say("blocked_pattern=0x%08x", seed);
	before = count_dmar_faults();
	r = edu_dma(e, EDU_BUF, iova + PAGE, EDU_XFER, true);
	if (r < 0) {
		free(want);
		return fail("edu DMA after unmap", r);
	}
	for (int i = 0; i < 200; i++) { /* the fault is reported from an interrupt */
		after = count_dmar_faults();
		if (after > before)
			break;
		usleep(10000);
	}
	unchanged = memcmp(buf + PAGE, want, PAGE) == 0;
	free(want);
	if (before < 0) {
		/* dmesg_restrict: an unprivileged client cannot read the kernel log; the caller
		 * (root) checks the DMAR fault itself. */
		say("blocked_dma memory_unchanged=%s dmar_faults=unreadable(%s)",
		    unchanged ? "yes" : "no", strerrorname_np(-before) ?: "?");
		return unchanged;
	}
	say("blocked_dma memory_unchanged=%s dmar_faults_before=%d after=%d",
	    unchanged ? "yes" : "no", before, after);
	return unchanged && after > before;
}

static void *dma_buffer(void) {
	void *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int cdev_for(const char *bdf, char *path, size_t len) {
	char d[256];
	_cleanup_closedir_ DIR *dir = NULL;
	struct dirent *de;

	snprintf(d, sizeof(d), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	dir = opendir(d);
	if (!dir)
		return -errno;
	while ((de = readdir(dir)))
		if (strneq(de->d_name, "vfio", 4)) {
			snprintf(path, len, "/dev/vfio/devices/%s", de->d_name);
			return 0;
		}
	return -ENOENT;
}

/*
 * A second IOAS whose allowed IOVAs cover the MSI window (0xfee00000): attaching the device
 * to it must fail with EADDRINUSE (the kernel enforces the group's reserved regions), which
 * the daemon reports as LayoutConflict (S8). Returns 1 when the kernel refused so.
 */
static int probe_allow_over_msi(int iommufd, int devfd) {
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	struct iommu_iova_range win = { .start = 0, .last = 0xffffffffULL };
	struct iommu_ioas_allow_iovas al = { .size = sizeof(al),
					     .num_iovas = 1,
					     .allowed_iovas = (uintptr_t)&win };
	struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };
	int r;

	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &a) < 0)
		return fail("IOMMU_IOAS_ALLOC(2)", -errno);
	al.ioas_id = a.out_ioas_id;
	if (ioctl(iommufd, IOMMU_IOAS_ALLOW_IOVAS, &al) < 0)
		return fail("IOMMU_IOAS_ALLOW_IOVAS", -errno);
	at.pt_id = a.out_ioas_id;
	r = ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0 ? -errno : 0;
	say("attach_to_ioas_allowing_msi_window ioas=%u result=%s", a.out_ioas_id,
	    r ? strerrorname_np(-r) : "ok");
	return r == -EADDRINUSE;
}

static int cmd_probe(const char *bdf) {
	_cleanup_close_ int iommufd = -EBADF, devfd = -EBADF;
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	struct vfio_device_bind_iommufd b = { .argsz = sizeof(b) };
	struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };
	struct iommu_hw_info_vtd vtd = {};
	struct iommu_hw_info hw = { .size = sizeof(hw),
				    .data_len = sizeof(vtd),
				    .data_uptr = (uintptr_t)&vtd };
	char path[300];
	struct stat st;
	uint8_t *buf;
	Edu e;
	int r, ok = 1;

	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (iommufd < 0)
		return fail("open /dev/iommu", -errno);
	if (fstat(iommufd, &st) == 0)
		say("iommu_dev=%u:%u", major(st.st_rdev), minor(st.st_rdev));
	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &a) < 0)
		return fail("IOMMU_IOAS_ALLOC", -errno);
	say("ioas_id=%u", a.out_ioas_id);
	if (iommufd_ranges(iommufd, a.out_ioas_id, "fresh") < 0)
		return -EIO;

	r = cdev_for(bdf, path, sizeof(path));
	if (r < 0)
		return fail("find vfio cdev", r);
	devfd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (devfd < 0)
		return fail("open vfio cdev", -errno);
	if (fstat(devfd, &st) == 0)
		say("cdev=%s dev=%u:%u", path, major(st.st_rdev), minor(st.st_rdev));
	b.iommufd = iommufd;
	if (ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &b) < 0)
		return fail("VFIO_DEVICE_BIND_IOMMUFD", -errno);
	say("dev_id=%u", b.out_devid);
	hw.dev_id = b.out_devid;
	if (ioctl(iommufd, IOMMU_GET_HW_INFO, &hw) < 0)
		return fail("IOMMU_GET_HW_INFO", -errno);
	say("hw_info type=%u cap_reg=0x%llx ecap_reg=0x%llx capabilities=0x%llx", hw.out_data_type,
	    (unsigned long long)vtd.cap_reg, (unsigned long long)vtd.ecap_reg,
	    (unsigned long long)hw.out_capabilities);
	at.pt_id = a.out_ioas_id;
	if (ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0)
		return fail("VFIO_DEVICE_ATTACH_IOMMUFD_PT", -errno);
	say("hwpt_id=%u", at.pt_id);
	if (iommufd_ranges(iommufd, a.out_ioas_id, "attached") < 0)
		return -EIO;

	r = edu_setup(devfd, &e);
	if (r < 0)
		return r;
	buf = dma_buffer();
	if (!buf)
		return fail("mmap", -errno);
	r = iommufd_map(iommufd, a.out_ioas_id, buf, 2 * PAGE, VM_IOVA);
	if (r < 0)
		return r;
	r = edu_roundtrip(&e, buf, VM_IOVA);
	if (r < 0)
		return r;
	say("roundtrip=%s", r ? "ok" : "MISMATCH");
	ok &= r;
	r = iommufd_unmap(iommufd, a.out_ioas_id, 2 * PAGE, VM_IOVA);
	if (r < 0)
		return r;
	r = edu_expect_blocked(&e, buf, VM_IOVA);
	if (r < 0)
		return r;
	say("blocked_after_unmap=%s", r ? "yes" : "NO");
	ok &= r;
	munmap(buf, 2 * PAGE);
	r = probe_allow_over_msi(iommufd, devfd);
	if (r < 0)
		return r;
	ok &= r;
	return ok ? 0 : 1;
}

static int parse_u32(const char *s, uint32_t *ret) {
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static volatile sig_atomic_t got_term;

static void on_term(int sig) {
	(void)sig;
	got_term = 1;
}

/* Work with fds someone else opened (a lease from ioasidd, or ioasidctl run). */
static int cmd_dma(int argc, char **argv) {
	uint32_t iommufd, devfd, ioas = 0;
	bool bind = false, attach = false, expect_blocked = false, catch_term = false;
	const char *wait_file = NULL, *again_file = NULL;
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	uint8_t *buf;
	Edu e;
	int r;

	if (argc < 2 || parse_u32(argv[0], &iommufd) < 0 || parse_u32(argv[1], &devfd) < 0)
		return fail(
			"usage: dma IOMMUFD DEVFD [--ioas ID] [--bind] [--attach] [--again FILE]",
			-EINVAL);
	for (int i = 2; i < argc; i++) {
		if (streq(argv[i], "--bind"))
			bind = true;
		else if (streq(argv[i], "--attach"))
			attach = true;
		else if (streq(argv[i], "--expect-blocked"))
			expect_blocked = true;
		else if (streq(argv[i], "--then-wait") && i + 1 < argc)
			wait_file = argv[++i];
		else if (streq(argv[i], "--again") && i + 1 < argc)
			again_file = argv[++i];
		else if (streq(argv[i], "--catch-term"))
			catch_term = true;
		else if (streq(argv[i], "--ioas") && i + 1 < argc) {
			if (parse_u32(argv[++i], &ioas) < 0)
				return fail("bad --ioas", -EINVAL);
		} else
			return fail("unknown option", -EINVAL);
	}
	/* --catch-term: a SIGTERM (Revoke's signal) is recorded, not fatal, so the holder can
	 * still show that its DMA is blocked. */
	if (catch_term && signal(SIGTERM, on_term) == SIG_ERR)
		return fail("signal", -errno);
	say("uid=%u euid=%u pid=%d", (unsigned)getuid(), (unsigned)geteuid(), (int)getpid());
	if (ioas == 0) {
		if (ioctl((int)iommufd, IOMMU_IOAS_ALLOC, &a) < 0)
			return fail("IOMMU_IOAS_ALLOC", -errno);
		ioas = a.out_ioas_id;
		say("ioas_id=%u (allocated)", ioas);
	}
	if (bind) {
		struct vfio_device_bind_iommufd b = { .argsz = sizeof(b), .iommufd = (int)iommufd };

		if (ioctl((int)devfd, VFIO_DEVICE_BIND_IOMMUFD, &b) < 0)
			return fail("VFIO_DEVICE_BIND_IOMMUFD", -errno);
		say("dev_id=%u", b.out_devid);
	}
	if (attach) {
		struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at), .pt_id = ioas };

		if (ioctl((int)devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0)
			return fail("VFIO_DEVICE_ATTACH_IOMMUFD_PT", -errno);
		say("hwpt_id=%u", at.pt_id);
	}
	r = iommufd_ranges((int)iommufd, ioas, "lease");
	if (r < 0)
		return r;
	{
		/* What the kernel says of the IOAS's huge pages (a layout's hugepages on|off). */
		struct iommu_option o = { .size = sizeof(o),
					  .option_id = IOMMU_OPTION_HUGE_PAGES,
					  .op = IOMMU_OPTION_OP_GET,
					  .object_id = ioas };

		if (ioctl((int)iommufd, IOMMU_OPTION, &o) < 0)
			return fail("IOMMU_OPTION(HUGE_PAGES, GET)", -errno);
		say("ioas_huge_pages=%llu", (unsigned long long)o.val64);
	}
	r = edu_setup((int)devfd, &e);
	if (r < 0)
		return r;
	buf = dma_buffer();
	if (!buf)
		return fail("mmap", -errno);
	r = iommufd_map((int)iommufd, ioas, buf, 2 * PAGE, VM_IOVA);
	if (r < 0)
		return r;
	if (expect_blocked) {
		r = edu_expect_blocked(&e, buf, VM_IOVA);
		if (r < 0)
			return r;
		say("blocked=%s", r ? "yes" : "NO");
		return r ? 0 : 1;
	}
	r = edu_roundtrip(&e, buf, VM_IOVA);
	if (r < 0)
		return r;
	say("roundtrip=%s", r ? "ok" : "MISMATCH");
	/* --again FILE: each time FILE appears, one more round trip (the lease must still work,
	 * e.g. after the daemon restarted), then FILE is removed; FILE.end ends the loop. */
	for (int n = 1; r && again_file; n++) {
		char end[512];

		snprintf(end, sizeof(end), "%s.end", again_file);
		say("waiting for %s", again_file);
		for (int i = 0; access(again_file, F_OK) < 0; i++) {
			if (access(end, F_OK) == 0)
				return 0;
			if (i > 30000)
				return fail("timeout waiting for --again", -ETIMEDOUT);
			usleep(10000);
		}
		r = edu_roundtrip(&e, buf, VM_IOVA);
		if (r < 0)
			return r;
		say("roundtrip_again_%d=%s", n, r ? "ok" : "MISMATCH");
		if (unlink(again_file) < 0)
			return fail("unlink --again file", -errno);
	}
	if (!r || !wait_file)
		return r ? 0 : 1;
	say("waiting for %s", wait_file);
	if (!wait_for(wait_file, 3000))
		return fail("timeout waiting for the revoke", -ETIMEDOUT);
	/* The mapping is still ours, but the device must no longer reach it. */
	r = edu_expect_blocked(&e, buf, VM_IOVA);
	if (r < 0)
		return r;
	say("blocked_after_revoke=%s", r ? "yes" : "NO");
	if (catch_term)
		say("sigterm_received=%s", got_term ? "yes" : "no");
	return r ? 0 : 1;
}

/* One line of /proc/self/status ("VmPin", "VmLck") in kB, -1 if absent. */
static long status_kb(const char *key) {
	_cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	size_t kl = strlen(key);
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strneq(line, key, kl) && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	return v;
}

/* Map len bytes of a fresh buffer at iova; prints the kernel's answer and this process's
 * pinned/locked counters. Returns the buffer (NULL after a failed map), *err the errno. */
static uint8_t *memlock_map(int iommufd, uint32_t ioas, uint64_t len, uint64_t iova,
			    const char *tag, int *err) {
	struct iommu_ioas_map m = {
		.size = sizeof(m),
		.ioas_id = ioas,
		.length = len,
		.iova = iova,
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
	};
	uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	*err = 0;
	if (buf == MAP_FAILED) {
		*err = errno;
		say("%s_map=mmap-failed", tag);
		return NULL;
	}
	m.user_va = (uintptr_t)buf;
	if (ioctl(iommufd, IOMMU_IOAS_MAP, &m) < 0) {
		*err = errno;
		munmap(buf, len);
		buf = NULL;
	}
	say("%s_map=%s pid=%d length=0x%llx VmPin=%ld VmLck=%ld", tag,
	    *err ? strerrorname_np(*err) ?: "?" : "ok", (int)getpid(), (unsigned long long)len,
	    status_kb("VmPin"), status_kb("VmLck"));
	return buf;
}

/*
 * memlock IOMMUFD IOAS DEVFD SIZE_KIB [--fork]: what the kernel charges for a client's map.
 * Maps SIZE_KIB of fresh memory at VM_IOVA (the edu round-trips through its first pages
 * when it is mapped); with --fork, a child (the same uid, its own mm and the same limit)
 * then maps as much again at the next IOVA: in the kernel's user accounting both are
 * charged to the uid and the child's map fails, in per-process accounting each process is
 * charged against its own limit.
 */
static int cmd_memlock(int argc, char **argv) {
	uint32_t iommufd, ioas, devfd, kib;
	struct rlimit rl;
	bool fork_second = argc > 4 && streq(argv[4], "--fork");
	uint8_t *buf;
	int err, r;
	Edu e;

	if (argc < 4 || parse_u32(argv[0], &iommufd) < 0 || parse_u32(argv[1], &ioas) < 0 ||
	    parse_u32(argv[2], &devfd) < 0 || parse_u32(argv[3], &kib) < 0 || kib < 8)
		return fail("usage: memlock IOMMUFD IOAS DEVFD SIZE_KIB [--fork]", -EINVAL);
	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		return fail("getrlimit", -errno);
	say("uid=%u rlimit_memlock_kib=%llu", (unsigned)getuid(),
	    (unsigned long long)(rl.rlim_cur == RLIM_INFINITY ? 0 : rl.rlim_cur >> 10));
	buf = memlock_map((int)iommufd, ioas, (uint64_t)kib << 10, VM_IOVA, "first", &err);
	if (!buf)
		return 1;
	r = edu_setup((int)devfd, &e);
	if (r < 0)
		return r;
	r = edu_roundtrip(&e, buf, VM_IOVA);
	if (r < 0)
		return r;
	say("roundtrip=%s", r ? "ok" : "MISMATCH");
	if (!r)
		return 1;
	if (fork_second) {
		int st;
		pid_t pid = fork();

		if (pid < 0)
			return fail("fork", -errno);
		if (pid == 0) {
			uint8_t *b2 = memlock_map((int)iommufd, ioas, (uint64_t)kib << 10,
						  VM_IOVA + ((uint64_t)kib << 10), "second", &err);
			_exit(b2 ? 0 : 1);
		}
		if (waitpid(pid, &st, 0) < 0)
			return fail("waitpid", -errno);
		/* The parent's charge is unchanged by the child's. */
		say("first_after VmPin=%ld VmLck=%ld", status_kb("VmPin"), status_kb("VmLck"));
	}
	return 0;
}

/*
 * An attached lease of several edus sharing one IOAS: map one buffer, round-trip through
 * each device (a pattern of its own each), unmap, and the DMA of each device must then be
 * blocked. Proves every device's DMA is translated by the lease's IOAS, not just the first.
 */
static int cmd_dma_each(int argc, char **argv) {
	uint32_t iommufd, ioas, devfd;
	Edu e[8];
	uint8_t *buf;
	int n = argc - 2, ok = 1, r;

	if (argc < 3 || n > (int)ELEMENTSOF(e) || parse_u32(argv[0], &iommufd) < 0 ||
	    parse_u32(argv[1], &ioas) < 0)
		return fail("usage: dma-each IOMMUFD IOAS DEVFD...", -EINVAL);
	say("uid=%u devices=%d", (unsigned)getuid(), n);
	for (int i = 0; i < n; i++) {
		if (parse_u32(argv[2 + i], &devfd) < 0)
			return fail("bad DEVFD", -EINVAL);
		r = edu_setup((int)devfd, &e[i]);
		if (r < 0)
			return r;
	}
	buf = dma_buffer();
	if (!buf)
		return fail("mmap", -errno);
	r = iommufd_map((int)iommufd, ioas, buf, 2 * PAGE, VM_IOVA);
	if (r < 0)
		return r;
	for (int i = 0; i < n; i++) {
		r = edu_roundtrip(&e[i], buf, VM_IOVA);
		if (r < 0)
			return r;
		say("roundtrip_dev%d=%s", i, r ? "ok" : "MISMATCH");
		ok &= r;
	}
	r = iommufd_unmap((int)iommufd, ioas, 2 * PAGE, VM_IOVA);
	if (r < 0)
		return r;
	for (int i = 0; i < n; i++) {
		r = edu_expect_blocked(&e[i], buf, VM_IOVA);
		if (r < 0)
			return r;
		say("blocked_after_unmap_dev%d=%s", i, r ? "yes" : "NO");
		ok &= r;
	}
	return ok ? 0 : 1;
}

static int type1_map(int container, void *va, uint64_t len, uint64_t iova) {
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)va,
		.iova = iova,
		.size = len,
	};

	if (ioctl(container, VFIO_IOMMU_MAP_DMA, &m) < 0)
		return fail("VFIO_IOMMU_MAP_DMA", -errno);
	say("mapped iova=0x%llx length=0x%llx (type1)", (unsigned long long)iova,
	    (unsigned long long)len);
	return 0;
}

static int type1_unmap(int container, uint64_t len, uint64_t iova) {
	struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = iova, .size = len };

	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u) < 0)
		return fail("VFIO_IOMMU_UNMAP_DMA", -errno);
	say("unmapped iova=0x%llx length=0x%llx (type1)", (unsigned long long)iova,
	    (unsigned long long)u.size);
	return 0;
}

static int type1_ranges(int container) {
	/* The info with its capability chain (IOVA ranges) fits easily in 4 KiB here. */
	union {
		struct vfio_iommu_type1_info info;
		uint8_t raw[4096];
	} u = { .info = { .argsz = sizeof(u) } };
	char buf[512] = "";
	size_t off = 0;
	uint32_t at;

	if (ioctl(container, VFIO_IOMMU_GET_INFO, &u) < 0)
		return fail("VFIO_IOMMU_GET_INFO", -errno);
	at = (u.info.flags & VFIO_IOMMU_INFO_CAPS) ? u.info.cap_offset : 0;
	while (at && at + sizeof(struct vfio_info_cap_header) <= sizeof(u)) {
		struct vfio_info_cap_header *h = (void *)(u.raw + at);

		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			struct vfio_iommu_type1_info_cap_iova_range *r = (void *)h;

			for (uint32_t i = 0; i < r->nr_iovas && i < 16; i++)
				off += snprintf(buf + off, sizeof(buf) - off, "%s0x%llx-0x%llx",
						i ? "," : "",
						(unsigned long long)r->iova_ranges[i].start,
						(unsigned long long)r->iova_ranges[i].end);
		}
		at = h->next;
	}
	say("type1_iova_ranges=%s pgsizes=0x%llx", buf, (unsigned long long)u.info.iova_pgsizes);
	return 0;
}

static int legacy_roundtrip(int container, int devfd) {
	uint8_t *buf;
	Edu e;
	int r, ok = 1;

	r = edu_setup(devfd, &e);
	if (r < 0)
		return r;
	(void)type1_ranges(container);
	buf = dma_buffer();
	if (!buf)
		return fail("mmap", -errno);
	r = type1_map(container, buf, 2 * PAGE, VM_IOVA);
	if (r < 0)
		return r;
	r = edu_roundtrip(&e, buf, VM_IOVA);
	if (r < 0)
		return r;
	say("roundtrip=%s", r ? "ok" : "MISMATCH");
	ok &= r;
	r = type1_unmap(container, 2 * PAGE, VM_IOVA);
	if (r < 0)
		return r;
	r = edu_expect_blocked(&e, buf, VM_IOVA);
	if (r < 0)
		return r;
	say("blocked_after_unmap=%s", r ? "yes" : "NO");
	ok &= r;
	munmap(buf, 2 * PAGE);
	return ok ? 0 : 1;
}

/* The legacy path with the stock modules: group, container, type1, device fd by name. */
static int cmd_legacy(const char *bdf) {
	_cleanup_close_ int container = -EBADF, group = -EBADF, devfd = -EBADF;
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	char link[300], target[300], path[320];
	const char *g;
	ssize_t l;
	int r;

	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	l = readlink(link, target, sizeof(target) - 1);
	if (l < 0)
		return fail("readlink iommu_group", -errno);
	target[l] = 0;
	g = strrchr(target, '/');
	g = g ? g + 1 : target;
	snprintf(path, sizeof(path), "/dev/vfio/%s", g);
	container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (container < 0)
		return fail("open /dev/vfio/vfio", -errno);
	say("vfio_api_version=%d type1v2=%d", ioctl(container, VFIO_GET_API_VERSION),
	    ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
	group = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (group < 0)
		return fail("open group node", -errno);
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &gs) < 0)
		return fail("VFIO_GROUP_GET_STATUS", -errno);
	say("group=%s viable=%s", path, (gs.flags & VFIO_GROUP_FLAGS_VIABLE) ? "yes" : "no");
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0)
		return fail("VFIO_GROUP_SET_CONTAINER", -errno);
	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
		return fail("VFIO_SET_IOMMU(TYPE1v2)", -errno);
	devfd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (devfd < 0)
		return fail("VFIO_GROUP_GET_DEVICE_FD", -errno);
	r = legacy_roundtrip(container, devfd);
	return r;
}

static int cmd_dma_legacy(int argc, char **argv) {
	uint32_t container, devfd;
	const char *wait_file = NULL;
	uint8_t *buf;
	Edu e;
	int r;

	if (argc < 2 || parse_u32(argv[0], &container) < 0 || parse_u32(argv[1], &devfd) < 0)
		return fail("usage: dma-legacy CONTAINERFD DEVFD [--then-wait FILE]", -EINVAL);
	if (argc >= 4 && streq(argv[2], "--then-wait"))
		wait_file = argv[3];
	r = edu_setup((int)devfd, &e);
	if (r < 0)
		return r;
	(void)type1_ranges((int)container);
	buf = dma_buffer();
	if (!buf)
		return fail("mmap", -errno);
	r = type1_map((int)container, buf, 2 * PAGE, VM_IOVA);
	if (r < 0)
		return r;
	r = edu_roundtrip(&e, buf, VM_IOVA);
	if (r < 0)
		return r;
	say("roundtrip=%s", r ? "ok" : "MISMATCH");
	if (!r || !wait_file)
		return r ? 0 : 1;
	/* Revoke cannot detach a legacy lease (ioasidd(8)): the container keeps translating. */
	say("waiting for %s", wait_file);
	(void)wait_for(wait_file, 3000);
	r = edu_roundtrip(&e, buf, VM_IOVA);
	if (r < 0)
		return r;
	say("roundtrip_after_revoke=%s", r ? "ok" : "MISMATCH");
	return r ? 0 : 1;
}

/* "bd8d9d2b-5a5f-4f5a-a211-f591514ba1f3" -> 16 bytes. */
static int parse_uuid(const char *s, uint8_t out[16]) {
	size_t n = 0;

	for (const char *p = s; *p && n < 32; p++) {
		unsigned v;

		if (*p == '-')
			continue;
		if (sscanf(p, "%1x", &v) != 1)
			return -EINVAL;
		out[n / 2] = (uint8_t)(n % 2 ? out[n / 2] | v : v << 4);
		n++;
	}
	return n == 32 && strlen(s) == 36 ? 0 : -EINVAL;
}

static int cmd_vf_hold(const char *bdf, const char *token, const char *file) {
	_cleanup_close_ int iommufd = -EBADF, devfd = -EBADF;
	struct vfio_device_bind_iommufd b = { .argsz = sizeof(b) };
	struct {
		struct vfio_device_feature f;
		uint8_t uuid[16];
	} ft = { .f = { .argsz = sizeof(ft),
			.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PCI_VF_TOKEN } };
	char path[300];
	int r;

	if (parse_uuid(token, ft.uuid) < 0)
		return fail("bad UUID", -EINVAL);
	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (iommufd < 0)
		return fail("open /dev/iommu", -errno);
	r = cdev_for(bdf, path, sizeof(path));
	if (r < 0)
		return fail("find vfio cdev", r);
	devfd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (devfd < 0)
		return fail("open vfio cdev", -errno);
	b.iommufd = iommufd;
	if (ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &b) < 0)
		return fail("VFIO_DEVICE_BIND_IOMMUFD (PF)", -errno);
	if (ioctl(devfd, VFIO_DEVICE_FEATURE, &ft) < 0)
		return fail("VFIO_DEVICE_FEATURE(SET, PCI_VF_TOKEN)", -errno);
	say("pf=%s cdev=%s dev_id=%u vf_token=set holding", bdf, path, b.out_devid);
	(void)wait_for(file, 12000);
	return 0;
}

static int cmd_vf_open(int argc, char **argv) {
	_cleanup_close_ int iommufd = -EBADF, devfd = -EBADF, container = -EBADF, group = -EBADF;
	const char *bdf = argv[0], *token = NULL, *hold = NULL;
	uint8_t uuid[16];
	bool legacy = false;
	char path[320], name[128];
	int r;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--token") && i + 1 < argc)
			token = argv[++i];
		else if (streq(argv[i], "--legacy"))
			legacy = true;
		else if (streq(argv[i], "--hold") && i + 1 < argc)
			hold = argv[++i];
		else
			return fail("unknown option", -EINVAL);
	}
	if (token && parse_uuid(token, uuid) < 0)
		return fail("bad UUID", -EINVAL);
	if (legacy) {
		char link[300], target[300];
		const char *g;
		ssize_t l;

		snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", bdf);
		l = readlink(link, target, sizeof(target) - 1);
		if (l < 0)
			return fail("readlink iommu_group", -errno);
		target[l] = 0;
		g = strrchr(target, '/');
		snprintf(path, sizeof(path), "/dev/vfio/%s", g ? g + 1 : target);
		container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
		if (container < 0)
			return fail("open /dev/vfio/vfio", -errno);
		group = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (group < 0)
			return fail("open group node", -errno);
		if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0)
			return fail("VFIO_GROUP_SET_CONTAINER", -errno);
		if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
			return fail("VFIO_SET_IOMMU(TYPE1v2)", -errno);
		if (token)
			snprintf(name, sizeof(name), "%s vf_token=%s", bdf, token);
		else
			snprintf(name, sizeof(name), "%s", bdf);
		devfd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, name);
		r = devfd < 0 ? -errno : 0;
	} else {
		struct vfio_device_bind_iommufd b = { .argsz = sizeof(b) };

		iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
		if (iommufd < 0)
			return fail("open /dev/iommu", -errno);
		r = cdev_for(bdf, path, sizeof(path));
		if (r < 0)
			return fail("find vfio cdev", r);
		devfd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (devfd < 0)
			return fail("open vfio cdev", -errno);
		b.iommufd = iommufd;
		if (token) {
			b.flags = VFIO_DEVICE_BIND_FLAG_TOKEN;
			b.token_uuid_ptr = (uintptr_t)uuid;
		}
		r = ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &b) < 0 ? -errno : 0;
	}
	say("open %s path=%s token=%s result=%s", bdf, legacy ? "legacy" : "cdev",
	    token ? "given" : "none", r ? strerrorname_np(-r) ?: "?" : "ok");
	if (r == 0 && hold) {
		say("holding");
		(void)wait_for(hold, 12000);
	}
	return 0;
}

static const char *open_errno_name(int err) {
	if (err == 0)
		return "ok";
	if (err == 524) /* the kernel's internal ENOTSUPP, which vhost_vdpa_alloc_domain returns */
		return "ENOTSUPP";
	return strerrorname_np(err) ?: "?";
}

static int cmd_vhost_open(const char *node) {
	int a = open(node, O_RDWR | O_CLOEXEC), ea = a < 0 ? errno : 0;
	int b = open(node, O_RDWR | O_CLOEXEC), eb = b < 0 ? errno : 0;
	say("vhost-open %s first=%s second=%s", node, open_errno_name(ea), open_errno_name(eb));
	if (b >= 0)
		close(b);
	if (a >= 0)
		close(a);
	return 0;
}

/* One IOTLB message (VHOST_IOTLB_MSG_V2, asid 0) written to a vhost-vdpa file: 0 or the
 * write's -errno (every failure of the message handler comes back as EFAULT). */
static int vhost_iotlb(int fd, uint8_t type, uint64_t iova, uint64_t size, uint64_t uaddr) {
	struct vhost_msg_v2 m = { .type = VHOST_IOTLB_MSG_V2 };
	m.iotlb = (struct vhost_iotlb_msg){
		.iova = iova, .size = size, .uaddr = uaddr, .perm = VHOST_ACCESS_RW, .type = type
	};
	ssize_t n = write(fd, &m, sizeof(m));
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(m) ? 0 : -EIO;
}

static const char *res_name(int r) {
	return r == 0 ? "ok" : strerrorname_np(-r) ?: "?";
}

static int vhost_get_status(int fd, uint8_t *ret) {
	return ioctl(fd, VHOST_VDPA_GET_STATUS, ret) < 0 ? -errno : 0;
}

static int vhost_set_status(int fd, uint8_t st) {
	return ioctl(fd, VHOST_VDPA_SET_STATUS, &st) < 0 ? -errno : 0;
}

static int cmd_vhost_hold(const char *fdarg, const char *ready, const char *go) {
	const uint64_t iova = 1u << 20, other = 2u << 20, len = 2 * 4096;
	const uint8_t up = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			   VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	uint32_t fd;
	uint8_t st = 0xff;
	int r;

	if (parse_u32(fdarg, &fd) < 0)
		return fail("usage: vhost-hold FD READY GO", -EINVAL);
	if (ioctl((int)fd, VHOST_SET_OWNER) < 0)
		return fail("VHOST_SET_OWNER", -errno);
	/* A shared file mapping: vdpa_sim (use_va) maps only those; a PA parent pins it. */
	int mfd = memfd_create("vm-edu-vhost", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, (off_t)(2 * len)) < 0)
		return fail("memfd", -errno);
	void *buf = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (buf == MAP_FAILED)
		return fail("mmap", -errno);
	if ((r = vhost_set_status((int)fd, up)) < 0)
		return fail("VHOST_VDPA_SET_STATUS", r);
	if ((r = vhost_get_status((int)fd, &st)) < 0)
		return fail("VHOST_VDPA_GET_STATUS", r);
	r = vhost_iotlb((int)fd, VHOST_IOTLB_UPDATE, iova, len, (uint64_t)(uintptr_t)buf);
	say("held status=0x%02x map=%s", st, res_name(r));
	if (r < 0)
		return r;
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
	FILE *rf = fopen(tmp, "we");
	if (!rf || fprintf(rf, "%d %u\n", (int)getpid(), (unsigned)fd) < 0 || fclose(rf) != 0 ||
	    rename(tmp, ready) < 0)
		return fail("writing READY", -errno);
	if (!wait_for(go, 12000))
		return fail("waiting for GO", -ETIMEDOUT);
	st = 0xff;
	int gs = vhost_get_status((int)fd, &st);
	int remap = vhost_iotlb((int)fd, VHOST_IOTLB_UPDATE, iova, len, (uint64_t)(uintptr_t)buf);
	int oth = vhost_iotlb((int)fd, VHOST_IOTLB_UPDATE, other, len,
			      (uint64_t)(uintptr_t)buf + len);
	int inv = vhost_iotlb((int)fd, VHOST_IOTLB_INVALIDATE, iova, len, 0);
	int after = vhost_iotlb((int)fd, VHOST_IOTLB_UPDATE, iova, len, (uint64_t)(uintptr_t)buf);
	int again = vhost_set_status((int)fd, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	say("after status=%s0x%02x remap=%s other=%s invalidate=%s remap-after=%s setup-again=%s",
	    gs < 0 ? "error:" : "", st, res_name(remap), res_name(oth), res_name(inv),
	    res_name(after), res_name(again));
	munmap(buf, 2 * len);
	close(mfd);
	return 0;
}

static int cmd_vhost_foreign(const char *pidarg, const char *fdarg) {
	uint32_t pid, fd;
	uint8_t st = 0xff;
	if (parse_u32(pidarg, &pid) < 0 || parse_u32(fdarg, &fd) < 0)
		return fail("usage: vhost-foreign PID FD", -EINVAL);
	int pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pfd < 0)
		return fail("pidfd_open", -errno);
	int f = (int)syscall(SYS_pidfd_getfd, pfd, (int)fd, 0);
	if (f < 0)
		return fail("pidfd_getfd", -errno);
	int inv = vhost_iotlb(f, VHOST_IOTLB_INVALIDATE, 0, UINT64_MAX, 0);
	int gs = vhost_get_status(f, &st);
	say("foreign invalidate=%s status=%s0x%02x", res_name(inv), gs < 0 ? "error:" : "", st);
	close(f);
	close(pfd);
	return 0;
}

/* A vhost-vdpa fd handed over by a lease: the holder can drive the device (the ioctls QEMU's
 * vhost-vdpa backend starts with). Bit 32 is VIRTIO_F_VERSION_1, which a modern-only
 * virtio-net (disable-legacy=on) offers. */
static int cmd_vhost_ioctl(const char *fdarg) {
	uint32_t fd, id = 0;
	uint64_t features = 0;

	if (parse_u32(fdarg, &fd) < 0)
		return fail("usage: vhost-ioctl FD", -EINVAL);
	if (ioctl((int)fd, VHOST_GET_FEATURES, &features) < 0)
		return fail("VHOST_GET_FEATURES", -errno);
	if (ioctl((int)fd, VHOST_VDPA_GET_DEVICE_ID, &id) < 0)
		return fail("VHOST_VDPA_GET_DEVICE_ID", -errno);
	say("vhost-ioctl fd=%u features=0x%" PRIx64 " version_1=%s device_id=%u", (unsigned)fd,
	    features, features & (1ULL << 32) ? "yes" : "no", (unsigned)id);
	return 0;
}

/* One write of text to file, as `echo` would do it, but with the errno named. */
static int cmd_write(const char *file, const char *text) {
	_cleanup_close_ int fd = open(file, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return fail("open", -errno);
	n = write(fd, text, strlen(text));
	say("write %s '%s' result=%s", file, text, n < 0 ? strerrorname_np(errno) ?: "?" : "ok");
	return 0;
}

/* The floor of a brokered acquire+release (SY9): the opens and ioctls of an attached lease
 * done directly, N times: open /dev/iommu, IOAS_ALLOC, open the cdev, BIND, ATTACH, close
 * both. Prints the per-iteration median and p99 in microseconds. */
static int cmp_u64(const void *a, const void *b) {
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmd_bench_direct(const char *bdf, const char *count) {
	char path[256];
	uint32_t n;
	uint64_t *t;
	int r;

	if (parse_u32(count, &n) < 0 || n == 0)
		return fail("usage: bench-direct BDF N", -EINVAL);
	r = cdev_for(bdf, path, sizeof(path));
	if (r < 0)
		return r;
	t = calloc(n, sizeof(*t));
	if (!t)
		return fail("calloc", -ENOMEM);
	for (uint32_t i = 0; i < n; i++) {
		struct timespec a, b;
		struct iommu_ioas_alloc al = { .size = sizeof(al) };
		struct vfio_device_bind_iommufd bi = { .argsz = sizeof(bi) };
		struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };
		int ifd, dfd;

		clock_gettime(CLOCK_MONOTONIC, &a);
		ifd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
		if (ifd < 0)
			return fail("open /dev/iommu", -errno);
		if (ioctl(ifd, IOMMU_IOAS_ALLOC, &al) < 0)
			return fail("IOMMU_IOAS_ALLOC", -errno);
		dfd = open(path, O_RDWR | O_CLOEXEC);
		if (dfd < 0)
			return fail("open cdev", -errno);
		bi.iommufd = ifd;
		if (ioctl(dfd, VFIO_DEVICE_BIND_IOMMUFD, &bi) < 0)
			return fail("VFIO_DEVICE_BIND_IOMMUFD", -errno);
		at.pt_id = al.out_ioas_id;
		if (ioctl(dfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0)
			return fail("VFIO_DEVICE_ATTACH_IOMMUFD_PT", -errno);
		close(dfd);
		close(ifd);
		clock_gettime(CLOCK_MONOTONIC, &b);
		t[i] = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull + (uint64_t)b.tv_nsec -
		       (uint64_t)a.tv_nsec;
	}
	qsort(t, n, sizeof(*t), cmp_u64);
	say("direct iterations=%u p50_us=%.1f p99_us=%.1f", (unsigned)n, t[n / 2] / 1000.0,
	    t[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000.0);
	free(t);
	return 0;
}

int main(int argc, char **argv) {
	int r;

	if (argc >= 3 && streq(argv[1], "probe"))
		r = cmd_probe(argv[2]);
	else if (argc >= 2 && streq(argv[1], "dma"))
		r = cmd_dma(argc - 2, argv + 2);
	else if (argc >= 3 && streq(argv[1], "legacy"))
		r = cmd_legacy(argv[2]);
	else if (argc >= 2 && streq(argv[1], "dma-each"))
		r = cmd_dma_each(argc - 2, argv + 2);
	else if (argc >= 2 && streq(argv[1], "memlock"))
		r = cmd_memlock(argc - 2, argv + 2);
	else if (argc >= 2 && streq(argv[1], "dma-legacy"))
		r = cmd_dma_legacy(argc - 2, argv + 2);
	else if (argc >= 5 && streq(argv[1], "vf-hold"))
		r = cmd_vf_hold(argv[2], argv[3], argv[4]);
	else if (argc >= 3 && streq(argv[1], "vf-open"))
		r = cmd_vf_open(argc - 2, argv + 2);
	else if (argc == 3 && streq(argv[1], "vhost-open"))
		r = cmd_vhost_open(argv[2]);
	else if (argc == 5 && streq(argv[1], "vhost-hold"))
		r = cmd_vhost_hold(argv[2], argv[3], argv[4]);
	else if (argc == 4 && streq(argv[1], "vhost-foreign"))
		r = cmd_vhost_foreign(argv[2], argv[3]);
	else if (argc == 3 && streq(argv[1], "vhost-ioctl"))
		r = cmd_vhost_ioctl(argv[2]);
	else if (argc == 4 && streq(argv[1], "write"))
		r = cmd_write(argv[2], argv[3]);
	else if (argc >= 4 && streq(argv[1], "bench-direct"))
		r = cmd_bench_direct(argv[2], argv[3]);
	else {
		fprintf(stderr,
			"usage: vm-edu probe BDF | dma IOMMUFD DEVFD [...] | legacy BDF | "
			"dma-legacy CFD DEVFD [--then-wait F] | "
			"memlock IOMMUFD IOAS DEVFD KIB [--fork] | "
			"dma-each IOMMUFD IOAS DEVFD... | vf-hold PF UUID FILE | "
			"vf-open BDF [--token UUID] [--legacy] [--hold FILE] | bench-direct BDF N | "
			"vhost-open NODE | vhost-ioctl FD | write FILE TEXT | "
			"vhost-hold FD READY GO | vhost-foreign PID FD\n");
		return 64;
	}
	return r < 0 ? 2 : r;
}
