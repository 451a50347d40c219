/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mktestbed: materializes a host snapshot (tests/hosts/NAME.json) or a synthetic host as a
 * umockdev test bed, so the real libudev/sysfs code (host_load_live) and tools like lspci
 * read it through libumockdev-preload.
 *
 *   mktestbed [--print-dir] HOST.json [DIR] [-- CMD ARGS...]
 *   mktestbed [--print-dir] --synthetic DEVICES:GROUPS [DIR] [-- CMD ARGS...]
 *   mktestbed --synthetic DEVICES:GROUPS --print-json      (the synthetic host as a snapshot)
 *
 * With DIR the bed is written there and kept (DIR is created if missing, must be empty);
 * without DIR a umockdev test bed directory is made and removed at the end. With CMD, CMD
 * runs under LD_PRELOAD=libumockdev-preload.so.0 UMOCKDEV_DIR=<bed> and its exit status is
 * returned (128+N when killed by signal N).
 *
 * What the bed holds:
 *   /sys/devices/pciDDDD:BB/.../BDF   PCI functions under their parents, with vendor, device,
 *       subsystem_*, class, revision, numa_node, config (64-byte header for lspci), uevent
 *       (kernel keys + the snapshot's udev properties), subsystem and driver links,
 *       iommu_group link, vfio-dev/vfioN/{dev,uevent,subsystem}, sriov_* files with
 *       virtfnN/physfn links, net/IFNAME/
 *   /sys/bus/pci/{devices,drivers/NAME}, /sys/class/vfio-dev, /sys/class/iommu/UNIT
 *       (VT-d: intel-iommu/{cap,ecap} encoding address_width and interrupt_remapping;
 *       AMD-Vi: amd-iommu/features encoding address_width in EFR.HATS, as "EFR" before
 *       Linux 6.0 and "EFR:EFR2" (EFR2 0) after, so written for a width of 48, 57 or 64)
 *   /sys/kernel/iommu_groups/N/{type,reserved_regions,devices/}
 *   /sys/module/vfio/parameters/enable_unsafe_noiommu_mode
 *   /dev/iommu, /dev/vfio/vfio, /dev/vfio/devices/NAME (plain files: stat() only)
 *   /proc/cmdline, /proc/sys/kernel/{osrelease,hostname}
 *   /proc/interrupts, always (the machine's own must not show through): IR-IO-APIC and
 *       IR-PCI-MSI chips for interrupt_remapping true, plain IO-APIC and PCI-MSI for false,
 *       and for unknown a GICv3 host's lines (arm-smmu, or an arm64 release) or else only
 *       the unnumbered lines (NMI, LOC): no chip that tells
 * The preload redirects all of /sys, and /dev and /proc paths that exist in the bed; a
 * /dev or /proc path absent from the bed falls through to the real machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/host.h"
#include "common/macro.h"

/* After macro.h: glib redefines MIN/MAX the same way (it #undefs them first). */
#include <umockdev.h>

#define PRELOAD "libumockdev-preload.so.0"

static const char *root;

_printf_(1, 2) static _noreturn_ void die(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	fputs("mktestbed: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* Formats a path; a path that does not fit is fatal rather than silently truncated. */
_printf_(2, 3) static void pathf(char buf[static PATH_MAX], const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX)
		die("Path too long");
}

/* Absolute bed path of a machine path ("/sys/..."). */
static const char *bed(const char *path, char buf[static PATH_MAX]) {
	if ((size_t)snprintf(buf, PATH_MAX, "%s%s", root, path) >= PATH_MAX)
		die("Path too long: %s", path);
	return buf;
}

static void mkdir_p(const char *path) {
	char buf[PATH_MAX], full[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", bed(path, full));
	for (char *p = buf + strlen(root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			die("mkdir %s: %m", buf);
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		die("mkdir %s: %m", buf);
}

_printf_(2, 3) static void write_file(const char *path, const char *fmt, ...) {
	char full[PATH_MAX];
	FILE *f = fopen(bed(path, full), "we");
	if (!f)
		die("Cannot create %s: %m", full);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) != 0)
		die("Cannot write %s: %m", full);
}

static void write_bytes(const char *path, const void *data, size_t n) {
	char full[PATH_MAX];
	FILE *f = fopen(bed(path, full), "we");
	if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0)
		die("Cannot write %s: %m", full);
}

/* A relative symlink at machine path `link` pointing to machine path `target`, as sysfs
 * has them ("../../../bus/pci/drivers/vfio-pci"), so a preload that rewrites absolute
 * paths resolves it inside the bed. */
static void symlink_rel(const char *link, const char *target) {
	char rel[PATH_MAX] = "", full[PATH_MAX];
	const char *l = link, *t = target;
	/* Skip the common leading components. */
	for (;;) {
		const char *ls = strchr(l + 1, '/'), *ts = strchr(t + 1, '/');
		if (!ls || !ts || ls - l != ts - t || !strneq(l, t, (size_t)(ls - l)))
			break;
		l = ls;
		t = ts;
	}
	for (const char *p = strchr(l + 1, '/'); p; p = strchr(p + 1, '/'))
		strcat(rel, "../");
	if (strlen(rel) + strlen(t + 1) >= sizeof(rel))
		die("Link too long: %s", link);
	strcat(rel, t + 1);
	char parent[PATH_MAX];
	pathf(parent, "%s", link);
	*strrchr(parent, '/') = '\0';
	mkdir_p(parent);
	if (symlink(rel, bed(link, full)) < 0 && errno != EEXIST)
		die("symlink %s -> %s: %m", full, rel);
}

/* The length of "DDDD:BB" at the start of a canonical BDF (the domain has 4 to 8 digits). */
static int bus_len(const char *bdf) {
	return (int)strlen(bdf) - 5; /* without ":dd.f" */
}

/* The machine sysfs path of a device: its parents' paths, down from pciDDDD:BB. A device in
 * another domain than its parent sits on a root bus that parent provides, as behind an
 * Intel VMD: .../0000:00:0e.0/pci10000:e0/10000:e0:06.0. */
static void device_path(const Host *h, const Device *d, char buf[static PATH_MAX], int depth) {
	if (depth > 64)
		die("Parent chain too deep at %s", d->bdf);
	const Device *p = d->parent ? host_find_device(h, d->parent) : NULL;
	int n = bus_len(d->bdf);
	if (p) {
		char pp[PATH_MAX];
		device_path(h, p, pp, depth + 1);
		int pd = bus_len(p->bdf) - 3, dd = n - 3; /* domain lengths */
		bool new_domain = pd != dd || strncmp(p->bdf, d->bdf, (size_t)dd) != 0;
		if ((new_domain ? snprintf(buf, PATH_MAX, "%s/pci%.*s/%s", pp, n, d->bdf, d->bdf)
				: snprintf(buf, PATH_MAX, "%s/%s", pp, d->bdf)) >= PATH_MAX)
			die("Path too long at %s", d->bdf);
	} else
		snprintf(buf, PATH_MAX, "/sys/devices/pci%.*s/%s", n, d->bdf, d->bdf);
}

static void write_config(const char *dir, const Device *d) {
	uint8_t cfg[64] = {};
	char path[PATH_MAX];
	cfg[0] = d->vendor & 0xff;
	cfg[1] = d->vendor >> 8;
	cfg[2] = d->device & 0xff;
	cfg[3] = d->device >> 8;
	cfg[6] = 0x10; /* status: capabilities list */
	cfg[8] = d->revision;
	cfg[9] = d->class & 0xff;
	cfg[10] = (d->class >> 8) & 0xff;
	cfg[11] = (d->class >> 16) & 0xff;
	if (device_is_bridge(d))
		cfg[14] = 0x01;
	else {
		cfg[0x2c] = d->subsystem_vendor & 0xff;
		cfg[0x2d] = d->subsystem_vendor >> 8;
		cfg[0x2e] = d->subsystem_device & 0xff;
		cfg[0x2f] = d->subsystem_device >> 8;
	}
	pathf(path, "%s/config", dir);
	write_bytes(path, cfg, sizeof(cfg));
}

static void write_device(const Host *h, const Device *d) {
	char dir[PATH_MAX], p[PATH_MAX], t[PATH_MAX];
	device_path(h, d, dir, 0);
	mkdir_p(dir);

#define ATTR(name, ...)                                                                            \
	do {                                                                                       \
		pathf(p, "%s/%s", dir, name);                                                      \
		write_file(p, __VA_ARGS__);                                                        \
	} while (0)
	ATTR("vendor", "0x%04x\n", d->vendor);
	ATTR("device", "0x%04x\n", d->device);
	ATTR("subsystem_vendor", "0x%04x\n", d->subsystem_vendor);
	ATTR("subsystem_device", "0x%04x\n", d->subsystem_device);
	ATTR("class", "0x%06x\n", d->class);
	ATTR("revision", "0x%02x\n", d->revision);
	ATTR("numa_node", "%d\n", d->numa_node);
	ATTR("irq", "0\n");
	ATTR("resource", "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
	write_config(dir, d);

	/* uevent: what the kernel puts there, then the udev properties of the snapshot. */
	pathf(p, "%s/uevent", dir);
	FILE *f = fopen(bed(p, t), "we");
	if (!f)
		die("Cannot create %s: %m", t);
	if (d->driver)
		fprintf(f, "DRIVER=%s\n", d->driver);
	fprintf(f, "PCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:%04X\nPCI_SLOT_NAME=%s\n",
		d->class, d->vendor, d->device, d->subsystem_vendor, d->subsystem_device, d->bdf);
	fprintf(f, "MODALIAS=pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n", d->vendor, d->device,
		d->subsystem_vendor, d->subsystem_device, (d->class >> 16) & 0xff,
		(d->class >> 8) & 0xff, d->class & 0xff);
	for (size_t i = 0; d->properties && d->properties[i]; i++)
		fprintf(f, "%s\n", d->properties[i]);
	if (fclose(f) != 0)
		die("Cannot write %s: %m", t);

	pathf(p, "%s/subsystem", dir);
	symlink_rel(p, "/sys/bus/pci");
	pathf(p, "/sys/bus/pci/devices/%s", d->bdf);
	symlink_rel(p, dir);

	if (d->driver) {
		pathf(t, "/sys/bus/pci/drivers/%s", d->driver);
		mkdir_p(t);
		pathf(p, "%s/driver", dir);
		symlink_rel(p, t);
		pathf(p, "/sys/bus/pci/drivers/%s/%s", d->driver, d->bdf);
		symlink_rel(p, dir);
	}
	if (d->iommu_group >= 0) {
		pathf(t, "/sys/kernel/iommu_groups/%d", d->iommu_group);
		pathf(p, "%s/iommu_group", dir);
		symlink_rel(p, t);
		pathf(p, "/sys/kernel/iommu_groups/%d/devices/%s", d->iommu_group, d->bdf);
		symlink_rel(p, dir);
	}
	if (d->vfio_name) {
		char vdir[PATH_MAX];
		pathf(vdir, "%s/vfio-dev/%s", dir, d->vfio_name);
		mkdir_p(vdir);
		pathf(p, "%s/dev", vdir);
		write_file(p, "%u:%u\n", d->vfio_major, d->vfio_minor);
		pathf(p, "%s/uevent", vdir);
		write_file(p, "MAJOR=%u\nMINOR=%u\nDEVNAME=vfio/devices/%s\n", d->vfio_major,
			   d->vfio_minor, d->vfio_name);
		pathf(p, "%s/subsystem", vdir);
		symlink_rel(p, "/sys/class/vfio-dev");
		pathf(p, "/sys/class/vfio-dev/%s", d->vfio_name);
		symlink_rel(p, vdir);
		if (h->kernel.vfio_cdev == TRI_YES) {
			mkdir_p("/dev/vfio/devices");
			pathf(p, "/dev/vfio/devices/%s", d->vfio_name);
			write_file(p, "%s", "");
		}
	}
	/* reset_method as the kernel shows it (absent with no method at all, and then "reset"
	 * too); a device whose methods are not known looks like a kernel before 5.15: "reset"
	 * without "reset_method". */
	if (d->reset_known && d->reset_methods) {
		char methods[256] = "";
		for (size_t i = 0; d->reset_methods[i]; i++)
			snprintf(methods + strlen(methods), sizeof(methods) - strlen(methods),
				 "%s%s", i ? " " : "", d->reset_methods[i]);
		ATTR("reset_method", "%s\n", methods);
	}
	if (!d->reset_known || d->reset_methods)
		ATTR("reset", "%s", "");
	if (d->sriov_totalvfs >= 0) {
		ATTR("sriov_totalvfs", "%d\n", d->sriov_totalvfs);
		ATTR("sriov_numvfs", "%d\n", d->sriov_numvfs);
	}
	for (size_t i = 0; d->virtfn && d->virtfn[i]; i++) {
		const Device *vf = host_find_device(h, d->virtfn[i]);
		if (!vf)
			die("%s: virtfn %s is not a device", d->bdf, d->virtfn[i]);
		device_path(h, vf, t, 0);
		pathf(p, "%s/virtfn%zu", dir, i);
		symlink_rel(p, t);
	}
	if (d->physfn) {
		const Device *pf = host_find_device(h, d->physfn);
		if (!pf)
			die("%s: physfn %s is not a device", d->bdf, d->physfn);
		device_path(h, pf, t, 0);
		pathf(p, "%s/physfn", dir);
		symlink_rel(p, t);
	}
	for (size_t i = 0; d->netdevs && d->netdevs[i]; i++) {
		pathf(p, "%s/net/%s", dir, d->netdevs[i]);
		mkdir_p(p);
		pathf(t, "%s/uevent", p);
		write_file(t, "INTERFACE=%s\n", d->netdevs[i]);
	}
#undef ATTR
}

/* AMD-Vi's amd-iommu/features for the fixture's width: EFR.HATS (bits 11:10) is the host
 * page table levels above 4 (48, 57, 64 bits). The other EFR bits are a Zen 2 EPYC's. */
static void write_amd_features(const HostKernel *k, const char *dir) {
	static const int widths[] = { 48, 57, 64 };
	unsigned hats = 0;
	char p[PATH_MAX];
	if (k->address_width == 0)
		return; /* unknown: no features file */
	while (hats < ELEMENTSOF(widths) && widths[hats] != k->address_width)
		hats++;
	if (hats == ELEMENTSOF(widths))
		die("An AMD IOMMU's address width is 48, 57 or 64, not %d", k->address_width);
	unsigned long long efr = (0x58f77ef22294a5aULL & ~(3ULL << 10)) | (hats << 10);
	pathf(p, "%s/amd-iommu", dir);
	mkdir_p(p);
	pathf(p, "%s/amd-iommu/features", dir);
	/* Linux 6.0 added EFR2 to the attribute; an unknown release gets today's form. */
	if (k->release && atoi(k->release) > 0 && atoi(k->release) < 6)
		write_file(p, "%llx\n", efr);
	else
		write_file(p, "%llx:0\n", efr);
}

/* /proc/interrupts consistent with kernel.interrupt_remapping (host_interrupts_remapping
 * reads the chip column): see the header. One MSI line names the first function that is
 * not a bridge. */
static void write_interrupts(const Host *h) {
	const HostKernel *k = &h->kernel;
	const char *bdf = NULL;
	for (size_t i = 0; i < h->n_devices && !bdf; i++)
		if ((h->devices[i].class >> 16) != 0x06) /* not a bridge of any kind */
			bdf = h->devices[i].bdf;
	char full[PATH_MAX];
	FILE *f = fopen(bed("/proc/interrupts", full), "we");
	if (!f)
		die("Cannot create %s: %m", full);
	fputs("           CPU0       CPU1       \n", f);
	if (k->interrupt_remapping != TRI_UNKNOWN) {
		const char *ir = k->interrupt_remapping == TRI_YES ? "IR-" : "";
		fprintf(f, "  0:         44          0   %sIO-APIC   2-edge      timer\n", ir);
		fprintf(f, "  9:          0          0   %sIO-APIC   9-fasteoi   acpi\n", ir);
		if (bdf)
			fprintf(f,
				" 40:       1045        208   %sPCI-MSIX-%s    0-edge      ioasid\n",
				ir, bdf);
	} else if ((k->iommu_vendor && streq(k->iommu_vendor, "arm-smmu")) ||
		   (k->release && strstr(k->release, "arm64"))) {
		fputs(" 11:     170321     168233     GICv3  30 Level     arch_timer\n", f);
		fputs(" 34:         12          0   ITS-MSI 524288 Edge      ioasid\n", f);
		fputs("IPI0:      1034       1212       Rescheduling interrupts\n", f);
		fputs("Err:          0\n", f);
		goto out;
	}
	fputs("NMI:          0          0   Non-maskable interrupts\n", f);
	fputs("LOC:    5131411    4721873   Local timer interrupts\n", f);
out:
	if (fclose(f) != 0)
		die("Cannot write %s: %m", full);
}

static void write_host(const Host *h) {
	char p[PATH_MAX], t[PATH_MAX];
	const HostKernel *k = &h->kernel;

	mkdir_p("/sys/bus/pci/devices");
	mkdir_p("/sys/bus/pci/drivers");
	mkdir_p("/sys/class");
	mkdir_p("/sys/devices");
	if (h->n_groups > 0)
		mkdir_p("/sys/kernel/iommu_groups");
	for (size_t i = 0; i < h->n_groups; i++) {
		const Group *g = &h->groups[i];
		pathf(p, "/sys/kernel/iommu_groups/%d/devices", g->number);
		mkdir_p(p);
		if (g->type) {
			pathf(p, "/sys/kernel/iommu_groups/%d/type", g->number);
			write_file(p, "%s\n", g->type);
		}
		pathf(p, "/sys/kernel/iommu_groups/%d/reserved_regions", g->number);
		FILE *f = fopen(bed(p, t), "we");
		if (!f)
			die("Cannot create %s: %m", t);
		for (size_t r = 0; r < g->n_regions; r++)
			fprintf(f, "0x%016" PRIx64 " 0x%016" PRIx64 " %s\n", g->regions[r].start,
				g->regions[r].end,
				reserved_region_type_to_string(g->regions[r].type));
		if (fclose(f) != 0)
			die("Cannot write %s: %m", t);
		for (size_t m = 0; m < g->n_foreign_members; m++) {
			const ForeignMember *fm = &g->foreign_members[m];
			/* Where the kernel puts them: /sys/devices/platform/NAME for platform
			 * devices; a bus of unknown kind gets the same shape. A member whose
			 * bus is not known has no subsystem link, as the reader then says. */
			char dev[PATH_MAX];
			pathf(dev, "/sys/devices/platform/%s", fm->name);
			mkdir_p(dev);
			pathf(p, "%s/uevent", dev);
			write_file(p, "OF_NAME=%s\n", fm->name);
			char gpath[PATH_MAX];
			pathf(gpath, "/sys/kernel/iommu_groups/%d", g->number);
			pathf(p, "%s/iommu_group", dev);
			symlink_rel(p, gpath);
			pathf(p, "/sys/kernel/iommu_groups/%d/devices/%s", g->number, fm->name);
			symlink_rel(p, dev);
			if (fm->bus) {
				char bus[PATH_MAX];
				pathf(bus, "/sys/bus/%s/devices", fm->bus);
				mkdir_p(bus);
				pathf(p, "%s/%s", bus, fm->name);
				symlink_rel(p, dev);
				pathf(bus, "/sys/bus/%s", fm->bus);
				pathf(p, "%s/subsystem", dev);
				symlink_rel(p, bus);
			}
			if (fm->bus && fm->driver) {
				char drv[PATH_MAX];
				pathf(drv, "/sys/bus/%s/drivers/%s", fm->bus, fm->driver);
				mkdir_p(drv);
				pathf(p, "%s/driver", dev);
				symlink_rel(p, drv);
				pathf(p, "%s/%s", drv, fm->name);
				symlink_rel(p, dev);
			}
		}
	}
	for (size_t i = 0; i < h->n_devices; i++)
		write_device(h, &h->devices[i]);

	for (size_t i = 0; k->iommu_units && k->iommu_units[i]; i++) {
		const char *u = k->iommu_units[i];
		char dir[PATH_MAX];
		pathf(dir, "/sys/devices/virtual/iommu/%s", u);
		mkdir_p(dir);
		pathf(p, "/sys/class/iommu/%s", u);
		mkdir_p("/sys/class/iommu");
		symlink_rel(p, dir);
		if (k->iommu_vendor && streq(k->iommu_vendor, "amd")) {
			write_amd_features(k, dir);
			continue;
		}
		if (!k->iommu_vendor || !streq(k->iommu_vendor, "intel"))
			continue;
		/* VT-d registers: ECAP.IR (bit 3); CAP.MGAW (bits 21:16) = width - 1. */
		pathf(p, "%s/intel-iommu", dir);
		mkdir_p(p);
		if (k->interrupt_remapping != TRI_UNKNOWN) {
			pathf(p, "%s/intel-iommu/ecap", dir);
			write_file(p, "%llx\n",
				   0xf0050aULL |
					   (k->interrupt_remapping == TRI_YES ? 1ULL << 3 : 0));
		}
		if (k->address_width > 0) {
			pathf(p, "%s/intel-iommu/cap", dir);
			write_file(p, "%llx\n",
				   (0xd2008c40660462ULL & ~(0x3fULL << 16)) |
					   (((unsigned long long)(k->address_width - 1) & 0x3f)
					    << 16));
		}
	}
	if (k->noiommu_mode != TRI_UNKNOWN) {
		mkdir_p("/sys/module/vfio/parameters");
		write_file("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "%c\n",
			   k->noiommu_mode == TRI_YES ? 'Y' : 'N');
	}
	if (k->vfio_pci == TRI_YES)
		mkdir_p("/sys/bus/pci/drivers/vfio-pci");
	mkdir_p("/dev");
	if (k->iommufd == TRI_YES)
		write_file("/dev/iommu", "%s", "");
	if (k->vfio_cdev == TRI_YES)
		mkdir_p("/dev/vfio/devices");
	if (k->vfio_legacy == TRI_YES) {
		mkdir_p("/dev/vfio");
		write_file("/dev/vfio/vfio", "%s", "");
	}
	mkdir_p("/proc/sys/kernel");
	write_interrupts(h);
	if (k->cmdline)
		write_file("/proc/cmdline", "%s\n", k->cmdline);
	if (k->release)
		write_file("/proc/sys/kernel/osrelease", "%s\n", k->release);
	if (h->hostname)
		write_file("/proc/sys/kernel/hostname", "%s\n", h->hostname);
}

/*
 * A synthetic host for the benchmark: `groups` IOMMU groups, `devices` PCI functions spread
 * over them as on a client platform without ACS on its root ports: each group is a root
 * port (domain = group / 255, bus 0) and a multi-function endpoint on the bus below it
 * (bus = group % 255 + 1), so parents and bridge paths are real. The endpoint's function 0
 * is on vfio-pci with a cdev, the others on i40e, so the verdicts are mixed; every device
 * carries the udev names, as on a host with udevd. A group of one device is a lone
 * endpoint on a root bus.
 */
static void synthetic_device(Device *d, const char *bdf, int group) {
	strcpy(d->bdf, bdf);
	d->iommu_group = group;
	d->numa_node = group % 2;
	d->sriov_totalvfs = -1;
	d->vendor = 0x8086;
	d->vendor_name = strdup("Intel Corporation");
	strv_extend(&d->properties, "ID_VENDOR_FROM_DATABASE=Intel Corporation");
}

static Host *synthetic_host(unsigned n_devices, unsigned n_groups) {
	Host *h = calloc(1, sizeof(Host));
	if (!h)
		die("Out of memory");
	h->hostname = strdup("synthetic");
	h->kernel = (HostKernel){ .release = strdup("6.12.57+deb13-amd64"),
				  .cmdline = strdup("BOOT_IMAGE=/boot/vmlinuz root=/dev/sda1 ro "
						    "intel_iommu=on"),
				  .iommu_vendor = strdup("intel"),
				  .interrupt_remapping = TRI_YES,
				  .address_width = 48,
				  .iommufd = TRI_YES,
				  .vfio_cdev = TRI_YES,
				  .vfio_pci = TRI_YES,
				  .vfio_legacy = TRI_YES,
				  .noiommu_mode = TRI_NO };
	strv_extend(&h->kernel.iommu_units, "dmar0");
	strv_extend(&h->kernel.iommu_units, "dmar1");
	h->devices = calloc(n_devices, sizeof(Device));
	h->groups = calloc(n_groups, sizeof(Group));
	if (!h->devices || !h->groups)
		die("Out of memory");
	h->n_devices = n_devices;
	h->n_groups = n_groups;
	unsigned vfio = 0;
	for (unsigned gi = 0, di = 0; gi < n_groups; gi++) {
		Group *g = &h->groups[gi];
		unsigned dom = gi / 255, i = gi % 255;
		char bdf[32], port[32] = "";
		g->number = (int)gi;
		g->type = strdup("DMA-FQ");
		g->regions = calloc(1, sizeof(ReservedRegion));
		g->regions[0] = (ReservedRegion){ 0xfee00000, 0xfeefffff, RESV_MSI };
		g->n_regions = 1;
		unsigned per = n_devices / n_groups + (gi < n_devices % n_groups);
		if (per >= 2) {
			Device *rp = &h->devices[di++];
			snprintf(port, sizeof(port), "%04x:00:%02x.%x", dom & 0xffff, i / 8, i % 8);
			synthetic_device(rp, port, (int)gi);
			rp->device = 0x2030;
			rp->class = 0x060400;
			rp->revision = 0x04;
			rp->driver = strdup("pcieport");
			rp->device_name = strdup("Sky Lake-E PCI Express Root Port A");
			strv_extend(&rp->properties,
				    "ID_MODEL_FROM_DATABASE=Sky Lake-E PCI Express Root Port A");
			per--;
		}
		for (unsigned f = 0; f < per; f++, di++) {
			Device *d = &h->devices[di];
			snprintf(bdf, sizeof(bdf), "%04x:%02x:%02x.%x", dom & 0xffff, i + 1,
				 (f / 8) & 0x1f, f % 8);
			synthetic_device(d, bdf, (int)gi);
			d->device = 0x1572;
			d->subsystem_vendor = 0x8086;
			d->subsystem_device = 0x0007;
			d->class = 0x020000;
			d->revision = 0x02;
			d->device_name = strdup("Ethernet Controller X710 for 10GbE SFP+");
			strv_extend(
				&d->properties,
				"ID_MODEL_FROM_DATABASE=Ethernet Controller X710 for 10GbE SFP+");
			if (*port)
				d->parent = strdup(port);
			if (f == 0) {
				d->driver = strdup("vfio-pci");
				char name[32];
				snprintf(name, sizeof(name), "vfio%u", vfio);
				d->vfio_name = strdup(name);
				d->vfio_major = 509;
				d->vfio_minor = vfio++;
			} else
				d->driver = strdup("i40e");
		}
	}
	_cleanup_free_ char *err = NULL;
	if (host_finalize(h, &err) < 0)
		die("Synthetic host is inconsistent: %s", strna(err));
	return h;
}

static int run(char **argv) {
	const char *old = getenv("LD_PRELOAD");
	_cleanup_free_ char *preload = NULL;
	if (asprintf(&preload, "%s%s%s", PRELOAD, old && *old ? ":" : "", old ? old : "") < 0)
		die("Out of memory");
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %m");
	if (pid == 0) {
		setenv("LD_PRELOAD", preload, 1);
		setenv("UMOCKDEV_DIR", root, 1);
		execvp(argv[0], argv);
		fprintf(stderr, "mktestbed: Cannot run '%s': %m\n", argv[0]);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %m");
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static void usage(void) {
	printf("Usage: mktestbed [--print-dir] HOST.json [DIR] [-- CMD ARGS...]\n"
	       "       mktestbed [--print-dir] --synthetic DEVICES:GROUPS [DIR] [-- CMD ARGS...]\n"
	       "       mktestbed --synthetic DEVICES:GROUPS --print-json\n");
}

int main(int argc, char **argv) {
	static const struct option options[] = { { "help", no_argument, NULL, 'h' },
						 { "synthetic", required_argument, NULL, 's' },
						 { "print-dir", no_argument, NULL, 'p' },
						 { "print-json", no_argument, NULL, 'j' },
						 { "keep", required_argument, NULL, 'k' },
						 {} };
	const char *synthetic = NULL, *keep = NULL;
	bool print_dir = false, print_json = false;
	int c;

	/* Split off "-- CMD ARGS..." first, so getopt never sees CMD's own options. */
	char **cmd = NULL;
	for (int i = 1; i < argc; i++)
		if (streq(argv[i], "--")) {
			cmd = argv + i + 1;
			argv[i] = NULL;
			argc = i;
			break;
		}
	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			usage();
			return 0;
		case 's':
			synthetic = optarg;
			break;
		case 'p':
			print_dir = true;
			break;
		case 'j':
			print_json = true;
			break;
		case 'k':
			keep = optarg;
			break;
		default:
			usage();
			return 64;
		}
	}
	const char *source = NULL;
	if (!synthetic) {
		if (optind >= argc)
			die("Need a HOST.json or --synthetic DEVICES:GROUPS");
		source = argv[optind++];
	}
	if (optind < argc)
		keep = argv[optind++];
	if (optind < argc)
		die("Unexpected argument '%s'", argv[optind]);
	if (cmd && !*cmd)
		die("Nothing to run after '--'");

	_cleanup_host_free_ Host *h = NULL;
	if (synthetic) {
		unsigned nd, ng;
		char tail;
		if (sscanf(synthetic, "%u:%u%c", &nd, &ng, &tail) != 2 || ng == 0 || nd < ng ||
		    nd > 65536 || nd > ng * 257)
			die("--synthetic wants DEVICES:GROUPS with 1 <= GROUPS <= DEVICES <= "
			    "257*GROUPS, DEVICES <= 65536");
		h = synthetic_host(nd, ng);
	} else {
		_cleanup_free_ char *err = NULL;
		int r = host_load_json_file(source, &h, &err);
		if (r < 0)
			die("Cannot load '%s': %s", source, err ? err : strerror(-r));
	}
	if (print_json) {
		_cleanup_free_ char *json = NULL;
		if (host_to_json_string(h, &json) < 0)
			die("Out of memory");
		puts(json);
		return 0;
	}

	UMockdevTestbed *tb = NULL;
	if (keep) {
		if (mkdir(keep, 0755) < 0 && errno != EEXIST)
			die("mkdir %s: %m", keep);
		root = realpath(keep, NULL);
		if (!root)
			die("realpath %s: %m", keep);
		char probe[PATH_MAX];
		pathf(probe, "%s/sys", root);
		if (access(probe, F_OK) == 0)
			die("'%s' already holds a test bed", keep);
	} else {
		/* umockdev makes (and on unref removes) the bed directory and sets UMOCKDEV_DIR. */
		tb = umockdev_testbed_new();
		root = umockdev_testbed_get_root_dir(tb);
	}
	write_host(h);
	if (print_dir)
		printf("%s\n", root);
	fflush(stdout);

	int ret = 0;
	if (cmd)
		ret = run(cmd);
	if (tb)
		g_object_unref(tb);
	return ret;
}
