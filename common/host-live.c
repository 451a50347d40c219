/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The live host: libudev enumerates "pci" and "vfio-dev"; sysfs gives what libudev does
 * not (IOMMU groups, revision, NUMA node, SR-IOV, netdevs); /sys/class/iommu, /dev, /proc
 * and /sys/module give the host-wide facts.
 *
 * Cost model (the benchmark scans 4096 devices in 1024 groups): every IOMMU group
 * directory is read once and gives the device -> group map, so no per-device iommu_group
 * readlink; ids, class and driver come from the uevent libudev reads anyway for the
 * properties; other attributes are read relative to one directory fd per device; the hwdb
 * is consulted only for devices udev has not already named; physfn is derived from the
 * PFs' virtfn links. Only stat() is used on /dev nodes: this file never opens a device.
 *
 * Device.properties holds the udev properties minus the keys the kernel itself puts in
 * the uevent (DEVPATH, DRIVER, PCI_ID, MODALIAS, ...), which the structured fields
 * already carry: what is left is what udev rules and the hwdb added (ID_*, ...).
 */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libudev.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "common/host.h"
#include "common/macro.h"

#define SYSFS_IOMMU_GROUPS "/sys/kernel/iommu_groups"
#define LIVE_MAX_REGIONS 1024
#define LIVE_MAX_VFS 4096

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev *, udev_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_enumerate *, udev_enumerate_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_hwdb *, udev_hwdb_unref)

/* Keys of the kernel's own uevent (and libudev's bookkeeping): not kept in properties. */
static const char *const kernel_keys[] = {
	"ACTION",	 "DEVGID",	"DEVMODE",	 "DEVNAME",	 "DEVPATH", "DEVTYPE",
	"DEVUID",	 "DRIVER",	"IFINDEX",	 "INTERFACE",	 "MAJOR",   "MINOR",
	"MODALIAS",	 "PCI_CLASS",	"PCI_ID",	 "PCI_SLOT_NAME", "PCI_SUBSYS_ID",
	"SEQNUM",	 "SUBSYSTEM",	"SYNTH_UUID",	 "USEC_INITIALIZED", NULL,
};

static bool is_kernel_key(const char *k) {
	for (const char *const *i = kernel_keys; *i; i++)
		if (streq(*i, k))
			return true;
	return false;
}

/* Reads a small sysfs file relative to dirfd into buf (NUL-terminated, trailing newline
 * removed). Returns the length or -errno. */
static ssize_t read_attr_at(int dirfd, const char *name, char *buf, size_t size) {
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	ssize_t n;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	int saved = errno;
	close(fd);
	if (n < 0)
		return -saved;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return n;
}

static int parse_hex_attr(const char *s, uint64_t max, uint64_t *ret) {
	return hex_parse_u64(s, max, ret);
}

/* ---- IOMMU groups ---- */

typedef struct MemberRef {
	char bdf[BDF_MAX];
	int group;
} MemberRef;

static int cmp_member_ref(const void *a, const void *b) {
	return strcmp(((const MemberRef *)a)->bdf, ((const MemberRef *)b)->bdf);
}

static int parse_regions(char *text, Group *g) {
	size_t n = 0;
	for (char *p = text; *p; p++)
		if (*p == '\n')
			n++;
	n++;
	if (n > LIVE_MAX_REGIONS)
		return -E2BIG;
	g->regions = calloc(n, sizeof(ReservedRegion));
	if (!g->regions)
		return -ENOMEM;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char start[32], end[32], type[32];
		uint64_t s, e;
		if (sscanf(line, "%31s %31s %31s", start, end, type) != 3)
			continue;
		int t = reserved_region_type_from_string(type);
		/* A region type this code does not know is kept as "reserved": fail closed. */
		if (t < 0)
			t = RESV_RESERVED;
		if (hex_parse_u64(start, UINT64_MAX, &s) < 0 || hex_parse_u64(end, UINT64_MAX, &e) < 0 ||
		    e < s)
			return -EBADMSG;
		g->regions[g->n_regions++] = (ReservedRegion){ .start = s, .end = e, .type = t };
	}
	return 0;
}

/* Reads one /sys/kernel/iommu_groups/N directory. Appends its PCI members to *refs. */
static int read_group(int groupsfd, const char *name, Group *g, MemberRef **refs, size_t *n_refs,
		      size_t *cap_refs) {
	uint64_t num;
	char buf[64];
	int r;

	if (num_parse_u64(name, INT_MAX, &num) < 0)
		return -EBADMSG;
	g->number = (int)num;
	_cleanup_close_ int gfd = openat(groupsfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (gfd < 0)
		return -errno;
	if (read_attr_at(gfd, "type", buf, sizeof(buf)) > 0 && !(g->type = strdup(buf)))
		return -ENOMEM;

	_cleanup_close_ int rfd = openat(gfd, "reserved_regions", O_RDONLY | O_CLOEXEC);
	if (rfd >= 0) {
		char text[16384];
		size_t len = 0;
		ssize_t k;
		while (len < sizeof(text) - 1 &&
		       (k = read(rfd, text + len, sizeof(text) - 1 - len)) != 0) {
			if (k < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			len += (size_t)k;
		}
		text[len] = '\0';
		if ((r = parse_regions(text, g)) < 0)
			return r;
	}

	int dfd = openat(gfd, "devices", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (!d) {
		safe_close(dfd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		/* Non-PCI members (platform devices on some ARM hosts) are not modelled. */
		if (!bdf_is_canonical(de->d_name))
			continue;
		if (strv_extend(&g->member_bdfs, de->d_name) < 0)
			return -ENOMEM;
		if (*n_refs == *cap_refs) {
			size_t nc = MAX(*cap_refs * 2, (size_t)64);
			MemberRef *x = realloc(*refs, nc * sizeof(MemberRef));
			if (!x)
				return -ENOMEM;
			*refs = x;
			*cap_refs = nc;
		}
		MemberRef *m = &(*refs)[(*n_refs)++];
		strcpy(m->bdf, de->d_name);
		m->group = g->number;
	}
	if (!g->member_bdfs && !(g->member_bdfs = calloc(1, sizeof(char *))))
		return -ENOMEM;
	return 0;
}

static int read_groups(Host *h, MemberRef **ret_refs, size_t *ret_n_refs) {
	_cleanup_closedir_ DIR *d = opendir(SYSFS_IOMMU_GROUPS);
	_cleanup_free_ MemberRef *refs = NULL;
	size_t n_refs = 0, cap_refs = 0, cap = 0;
	int r;

	if (!d) {
		/* No IOMMU (or no sysfs support for groups): a valid, empty answer. */
		if (errno == ENOENT)
			return 0;
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		uint64_t num;
		if (num_parse_u64(de->d_name, INT_MAX, &num) < 0 ||
		    (de->d_name[0] == '0' && de->d_name[1]))
			continue; /* not a group directory */
		if (h->n_groups == cap) {
			size_t nc = MAX(cap * 2, (size_t)16);
			Group *x = realloc(h->groups, nc * sizeof(Group));
			if (!x)
				return -ENOMEM;
			h->groups = x;
			cap = nc;
		}
		Group *g = &h->groups[h->n_groups];
		*g = (Group){};
		h->n_groups++; /* owned from now on, even half-filled */
		r = read_group(dirfd(d), de->d_name, g, &refs, &n_refs, &cap_refs);
		if (r < 0)
			return r;
	}
	if (n_refs > 1)
		qsort(refs, n_refs, sizeof(MemberRef), cmp_member_ref);
	*ret_refs = TAKE_PTR(refs);
	*ret_n_refs = n_refs;
	return 0;
}

/* ---- devices ---- */

typedef struct VfioRef {
	char bdf[BDF_MAX];
	char *name;
	unsigned major, minor;
} VfioRef;

static int cmp_vfio_ref(const void *a, const void *b) {
	return strcmp(((const VfioRef *)a)->bdf, ((const VfioRef *)b)->bdf);
}

/* The BDF two levels up from .../BDF/vfio-dev/vfioN. */
static bool vfio_parent_bdf(const char *syspath, char ret[static BDF_MAX]) {
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", syspath);
	char *s1 = strrchr(buf, '/');
	if (!s1)
		return false;
	*s1 = '\0';
	char *s2 = strrchr(buf, '/');
	if (!s2 || !streq(s2 + 1, "vfio-dev"))
		return false;
	*s2 = '\0';
	char *s3 = strrchr(buf, '/');
	if (!s3 || !bdf_is_canonical(s3 + 1))
		return false;
	strcpy(ret, s3 + 1);
	return true;
}

static int scan_vfio(struct udev *udev, VfioRef **ret, size_t *ret_n) {
	_cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = udev_enumerate_new(udev);
	struct udev_list_entry *item;
	VfioRef *refs = NULL;
	size_t n = 0;
	int r;

	if (!e)
		return -ENOMEM;
	if ((r = udev_enumerate_add_match_subsystem(e, "vfio-dev")) < 0)
		return r;
	/* An absent class directory is not an error: no vfio cdevs. */
	(void)udev_enumerate_scan_devices(e);
	udev_list_entry_foreach(item, udev_enumerate_get_list_entry(e)) {
		const char *syspath = udev_list_entry_get_name(item);
		const char *name = strrchr(syspath, '/');
		char bdf[BDF_MAX], dev[32];
		unsigned maj, min;
		char c;
		if (!name || !vfio_parent_bdf(syspath, bdf))
			continue;
		name++;
		_cleanup_close_ int fd = open(syspath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || read_attr_at(fd, "dev", dev, sizeof(dev)) < 0 ||
		    sscanf(dev, "%u:%u%c", &maj, &min, &c) != 2)
			continue;
		VfioRef *x = realloc(refs, (n + 1) * sizeof(VfioRef));
		if (!x)
			goto oom;
		refs = x;
		strcpy(refs[n].bdf, bdf);
		refs[n].major = maj;
		refs[n].minor = min;
		if (!(refs[n].name = strdup(name)))
			goto oom;
		n++;
	}
	if (n > 1)
		qsort(refs, n, sizeof(VfioRef), cmp_vfio_ref);
	*ret = refs;
	*ret_n = n;
	return 0;
oom:
	for (size_t i = 0; i < n; i++)
		free(refs[i].name);
	free(refs);
	return -ENOMEM;
}

/* parent: the nearest ancestor in the sysfs path whose name is a PCI address (a bridge or
 * port); NULL under a root bus ("pci0000:00") or other non-PCI parents only. */
static int device_parent_from_path(const char *syspath, char **ret) {
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", syspath);
	*ret = NULL;
	char *slash = strrchr(buf, '/');
	if (!slash)
		return 0;
	*slash = '\0'; /* drop the device itself */
	while ((slash = strrchr(buf, '/'))) {
		if (bdf_is_canonical(slash + 1)) {
			*ret = strdup(slash + 1);
			return *ret ? 0 : -ENOMEM;
		}
		*slash = '\0';
	}
	return 0;
}

static int read_netdevs(int devfd, Device *d) {
	int fd = openat(devfd, "net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	_cleanup_closedir_ DIR *dir = fdopendir(fd);
	if (!dir) {
		safe_close(fd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.' && strv_extend(&d->netdevs, de->d_name) < 0)
			return -ENOMEM;
	strv_sort(d->netdevs);
	return 0;
}

static int read_sriov(int devfd, Device *d) {
	char buf[32];
	uint64_t total, num;
	d->sriov_totalvfs = -1;
	if (read_attr_at(devfd, "sriov_totalvfs", buf, sizeof(buf)) < 0 ||
	    num_parse_u64(buf, 65535, &total) < 0)
		return 0;
	if (read_attr_at(devfd, "sriov_numvfs", buf, sizeof(buf)) < 0 ||
	    num_parse_u64(buf, total, &num) < 0)
		num = 0;
	d->sriov_totalvfs = (int)total;
	d->sriov_numvfs = 0;
	for (uint64_t i = 0; i < num && i < LIVE_MAX_VFS; i++) {
		char link[32];
		_cleanup_free_ char *target = NULL;
		snprintf(link, sizeof(link), "virtfn%" PRIu64, i);
		if (readlink_basename_at(devfd, link, &target) < 0 || !bdf_is_canonical(target))
			break; /* VFs are being created or removed: report what is there */
		if (strv_push(&d->virtfn, TAKE_PTR(target)) < 0)
			return -ENOMEM;
		d->sriov_numvfs++;
	}
	return 0;
}

static int names_from_hwdb(struct udev_hwdb *hwdb, Device *d) {
	char modalias[96];
	struct udev_list_entry *e;
	snprintf(modalias, sizeof(modalias), "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X",
		 d->vendor, d->device, d->subsystem_vendor, d->subsystem_device,
		 (d->class >> 16) & 0xff, (d->class >> 8) & 0xff, d->class & 0xff);
	udev_list_entry_foreach(e, udev_hwdb_get_properties_list_entry(hwdb, modalias, 0)) {
		const char *k = udev_list_entry_get_name(e), *v = udev_list_entry_get_value(e);
		if (!v)
			continue;
		if (streq(k, "ID_VENDOR_FROM_DATABASE") && !d->vendor_name &&
		    !(d->vendor_name = strdup(v)))
			return -ENOMEM;
		if (streq(k, "ID_MODEL_FROM_DATABASE") && !d->device_name &&
		    !(d->device_name = strdup(v)))
			return -ENOMEM;
	}
	return 0;
}

/* Parses "10DE:2204" (as in PCI_ID / PCI_SUBSYS_ID). */
static bool id_pair(const char *s, uint16_t *a, uint16_t *b) {
	return s && pci_id_pair_parse(s, a, b) == 0;
}

static int read_device(struct udev *udev, struct udev_hwdb **hwdb, bool *hwdb_tried,
		       const char *syspath, const MemberRef *refs, size_t n_refs,
		       const VfioRef *vfio, size_t n_vfio, Device *d) {
	_cleanup_(udev_device_unrefp) struct udev_device *u = NULL;
	_cleanup_close_ int devfd = -EBADF;
	const char *id = NULL, *subsys = NULL, *cls = NULL, *drv = NULL;
	char buf[64];
	uint64_t x;
	int r;

	d->iommu_group = -1;
	d->numa_node = -1;
	d->sriov_totalvfs = -1;

	const char *sysname = strrchr(syspath, '/');
	if (!sysname || !bdf_is_canonical(sysname + 1))
		return 0; /* not a PCI function */
	strcpy(d->bdf, sysname + 1);

	u = udev_device_new_from_syspath(udev, syspath);
	if (!u)
		return errno == ENOMEM ? -ENOMEM : -ENODEV;
	devfd = open(syspath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (devfd < 0)
		return -errno;

	struct udev_list_entry *e;
	bool have_names = false;
	udev_list_entry_foreach(e, udev_device_get_properties_list_entry(u)) {
		const char *k = udev_list_entry_get_name(e), *v = udev_list_entry_get_value(e);
		if (!k || !v)
			continue;
		if (streq(k, "PCI_ID"))
			id = v;
		else if (streq(k, "PCI_SUBSYS_ID"))
			subsys = v;
		else if (streq(k, "PCI_CLASS"))
			cls = v;
		else if (streq(k, "DRIVER"))
			drv = v;
		if (is_kernel_key(k))
			continue;
		if (streq(k, "ID_VENDOR_FROM_DATABASE")) {
			have_names = true;
			if (!(d->vendor_name = strdup(v)))
				return -ENOMEM;
		} else if (streq(k, "ID_MODEL_FROM_DATABASE")) {
			have_names = true;
			if (!(d->device_name = strdup(v)))
				return -ENOMEM;
		}
		char *kv;
		if (asprintf(&kv, "%s=%s", k, v) < 0)
			return -ENOMEM;
		if (strv_push(&d->properties, kv) < 0) {
			free(kv);
			return -ENOMEM;
		}
	}
	strv_sort(d->properties);

	/* Ids: the uevent libudev already read; the attribute files when it lacks them. */
	if (!id_pair(id, &d->vendor, &d->device)) {
		if (read_attr_at(devfd, "vendor", buf, sizeof(buf)) < 0 ||
		    parse_hex_attr(buf, 0xffff, &x) < 0)
			return -EBADMSG;
		d->vendor = (uint16_t)x;
		if (read_attr_at(devfd, "device", buf, sizeof(buf)) < 0 ||
		    parse_hex_attr(buf, 0xffff, &x) < 0)
			return -EBADMSG;
		d->device = (uint16_t)x;
	}
	if (!id_pair(subsys, &d->subsystem_vendor, &d->subsystem_device)) {
		if (read_attr_at(devfd, "subsystem_vendor", buf, sizeof(buf)) >= 0 &&
		    parse_hex_attr(buf, 0xffff, &x) >= 0)
			d->subsystem_vendor = (uint16_t)x;
		if (read_attr_at(devfd, "subsystem_device", buf, sizeof(buf)) >= 0 &&
		    parse_hex_attr(buf, 0xffff, &x) >= 0)
			d->subsystem_device = (uint16_t)x;
	}
	if (cls && hex_parse_u64(cls, 0xffffff, &x) >= 0)
		d->class = (uint32_t)x;
	else if (read_attr_at(devfd, "class", buf, sizeof(buf)) >= 0 &&
		 parse_hex_attr(buf, 0xffffff, &x) >= 0)
		d->class = (uint32_t)x;
	else
		return -EBADMSG;
	if (read_attr_at(devfd, "revision", buf, sizeof(buf)) >= 0 &&
	    parse_hex_attr(buf, 0xff, &x) >= 0)
		d->revision = (uint8_t)x;
	if (read_attr_at(devfd, "numa_node", buf, sizeof(buf)) >= 0) {
		long v = strtol(buf, NULL, 10);
		d->numa_node = v >= 0 && v <= 65535 ? (int)v : -1;
	}

	if (drv) {
		if (!(d->driver = strdup(drv)))
			return -ENOMEM;
	} else if (readlink_basename_at(devfd, "driver", &d->driver) < 0)
		d->driver = NULL;

	if (!have_names) {
		/* udev has not named it (no udevd, or not processed yet): ask the hwdb once. */
		if (!*hwdb_tried) {
			*hwdb = udev_hwdb_new(udev);
			*hwdb_tried = true;
		}
		if (*hwdb && (r = names_from_hwdb(*hwdb, d)) < 0)
			return r;
	}

	MemberRef key = {};
	strcpy(key.bdf, d->bdf);
	const MemberRef *m = n_refs ? bsearch(&key, refs, n_refs, sizeof(MemberRef), cmp_member_ref)
				    : NULL;
	if (m)
		d->iommu_group = m->group;

	VfioRef vkey = {};
	strcpy(vkey.bdf, d->bdf);
	const VfioRef *v = n_vfio ? bsearch(&vkey, vfio, n_vfio, sizeof(VfioRef), cmp_vfio_ref)
				  : NULL;
	if (v) {
		if (!(d->vfio_name = strdup(v->name)))
			return -ENOMEM;
		d->vfio_major = v->major;
		d->vfio_minor = v->minor;
		d->noiommu = strneq(v->name, "noiommu-", 8);
	}

	if ((r = device_parent_from_path(syspath, &d->parent)) < 0 ||
	    (r = read_sriov(devfd, d)) < 0 || (r = read_netdevs(devfd, d)) < 0)
		return r;
	return 0;
}

static int cmp_device_bdf_sort(const void *a, const void *b) {
	return strcmp(((const Device *)a)->bdf, ((const Device *)b)->bdf);
}

/* physfn from the PFs' virtfn links: one lookup per VF instead of a readlink per device. */
static int link_physfn(Host *h) {
	if (h->n_devices > 1)
		qsort(h->devices, h->n_devices, sizeof(Device), cmp_device_bdf_sort);
	for (size_t i = 0; i < h->n_devices; i++) {
		const Device *pf = &h->devices[i];
		for (size_t k = 0; pf->virtfn && pf->virtfn[k]; k++) {
			Device *vf = (Device *)host_find_device(h, pf->virtfn[k]);
			if (!vf || vf->physfn)
				continue;
			if (!(vf->physfn = strdup(pf->bdf)))
				return -ENOMEM;
		}
	}
	return 0;
}

/* ---- host-wide facts ---- */

static Tristate path_exists(const char *path) {
	struct stat st;
	return stat(path, &st) == 0 ? TRI_YES : TRI_NO;
}

static bool cmdline_has(const char *cmdline, const char *word) {
	size_t n = strlen(word);
	for (const char *p = cmdline; p && (p = strstr(p, word)); p += n)
		if ((p == cmdline || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return true;
	return false;
}

static int read_iommu_units(HostKernel *k) {
	_cleanup_closedir_ DIR *d = opendir("/sys/class/iommu");
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strv_extend(&k->iommu_units, de->d_name) < 0)
			return -ENOMEM;
	strv_sort(k->iommu_units);
	if (!k->iommu_units)
		return 0;

	const char *first = k->iommu_units[0];
	const char *vendor = strneq(first, "dmar", 4)	   ? "intel"
			     : strneq(first, "ivhd", 4)	   ? "amd"
			     : strstr(first, "smmu")	   ? "arm-smmu"
			     : strstr(first, "virtio")	   ? "virtio"
							   : "other";
	if (!(k->iommu_vendor = strdup(vendor)))
		return -ENOMEM;
	if (!streq(vendor, "intel"))
		return 0; /* interrupt remapping and width are not visible in sysfs elsewhere */

	/* VT-d: ECAP.IR is bit 3; CAP.MGAW (bits 21:16) is the width minus one. Every unit
	 * must remap interrupts; the width is the smallest across units. */
	bool ir = true, ir_known = true;
	int width = 0;
	for (char **u = k->iommu_units; *u; u++) {
		char path[PATH_MAX], buf[64];
		uint64_t ecap, cap;
		snprintf(path, sizeof(path), "/sys/class/iommu/%s/intel-iommu", *u);
		_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0 && read_attr_at(fd, "ecap", buf, sizeof(buf)) >= 0 &&
		    hex_parse_u64(buf, UINT64_MAX, &ecap) >= 0)
			ir = ir && (ecap & (1u << 3));
		else
			ir_known = false;
		if (fd >= 0 && read_attr_at(fd, "cap", buf, sizeof(buf)) >= 0 &&
		    hex_parse_u64(buf, UINT64_MAX, &cap) >= 0) {
			int w = (int)((cap >> 16) & 0x3f) + 1;
			width = width == 0 ? w : MIN(width, w);
		}
	}
	if (ir_known)
		k->interrupt_remapping =
			ir && !cmdline_has(k->cmdline, "intremap=off") &&
					!cmdline_has(k->cmdline, "nointremap")
				? TRI_YES
				: TRI_NO;
	k->address_width = width;
	return 0;
}

static int read_kernel(Host *h) {
	HostKernel *k = &h->kernel;
	char buf[256];
	int r;

	*k = (HostKernel){ .interrupt_remapping = TRI_UNKNOWN, .noiommu_mode = TRI_UNKNOWN };
	/* /proc files rather than uname(2)/gethostname(2): a test bed can provide them. */
	if (read_one_line("/proc/sys/kernel/osrelease", &k->release) < 0) {
		struct utsname un;
		if (uname(&un) == 0 && !(k->release = strdup(un.release)))
			return -ENOMEM;
	}
	if (read_one_line("/proc/sys/kernel/hostname", &h->hostname) < 0)
		h->hostname = NULL;
	if (h->hostname && !*h->hostname) {
		free(h->hostname);
		h->hostname = NULL;
	}
	if (read_full_file("/proc/cmdline", 65536, &k->cmdline, NULL) >= 0) {
		size_t n = strlen(k->cmdline);
		while (n > 0 && (k->cmdline[n - 1] == '\n' || k->cmdline[n - 1] == ' '))
			k->cmdline[--n] = '\0';
	}
	if ((r = read_iommu_units(k)) < 0)
		return r;
	k->iommufd = path_exists("/dev/iommu");
	k->vfio_cdev = path_exists("/dev/vfio/devices");
	k->vfio_legacy = path_exists("/dev/vfio/vfio");
	k->vfio_pci = path_exists("/sys/bus/pci/drivers/vfio-pci");
	int fd = open("/sys/module/vfio/parameters", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (read_attr_at(fd, "enable_unsafe_noiommu_mode", buf, sizeof(buf)) > 0)
			k->noiommu_mode = (buf[0] == 'Y' || buf[0] == 'y' || buf[0] == '1') ? TRI_YES
											    : TRI_NO;
		close(fd);
	}
	return 0;
}

int host_load_live(Host **ret) {
	_cleanup_host_free_ Host *h = NULL;
	_cleanup_(udev_unrefp) struct udev *udev = NULL;
	_cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = NULL;
	_cleanup_(udev_hwdb_unrefp) struct udev_hwdb *hwdb = NULL;
	_cleanup_free_ MemberRef *refs = NULL;
	VfioRef *vfio = NULL;
	size_t n_refs = 0, n_vfio = 0, cap = 0;
	bool hwdb_tried = false;
	struct udev_list_entry *item;
	int r;

	assert(ret);
	h = calloc(1, sizeof(Host));
	if (!h)
		return -ENOMEM;
	if ((r = read_kernel(h)) < 0)
		return r;
	if ((r = read_groups(h, &refs, &n_refs)) < 0)
		return r;

	udev = udev_new();
	if (!udev)
		return -ENOMEM;
	if ((r = scan_vfio(udev, &vfio, &n_vfio)) < 0)
		return r;

	e = udev_enumerate_new(udev);
	if (!e) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = udev_enumerate_add_match_subsystem(e, "pci")) < 0)
		goto out;
	r = udev_enumerate_scan_devices(e);
	if (r < 0) {
		/* No /sys/bus/pci at all: a host without PCI is still a host. */
		if (r != -ENOENT)
			goto out;
	}
	udev_list_entry_foreach(item, udev_enumerate_get_list_entry(e)) {
		if (h->n_devices == cap) {
			size_t nc = MAX(cap * 2, (size_t)64);
			Device *x = realloc(h->devices, nc * sizeof(Device));
			if (!x) {
				r = -ENOMEM;
				goto out;
			}
			h->devices = x;
			cap = nc;
		}
		Device *d = &h->devices[h->n_devices];
		*d = (Device){};
		h->n_devices++;
		r = read_device(udev, &hwdb, &hwdb_tried, udev_list_entry_get_name(item), refs,
				n_refs, vfio, n_vfio, d);
		if (r == -ENODEV) {
			/* Removed while scanning (hot unplug): skip it. */
			h->n_devices--;
			continue;
		}
		if (r < 0)
			goto out;
		if (!d->bdf[0]) {
			h->n_devices--; /* not a PCI function (e.g. a slot directory) */
			continue;
		}
	}
	if ((r = link_physfn(h)) < 0)
		goto out;
	/* The group lists and the device scan were read at different instants: keep only
	 * listed members that were enumerated, so a device unplugged in between cannot make
	 * the whole scan fail. Devices never listed stay group-less. */
	for (size_t i = 0; i < h->n_groups; i++) {
		Group *g = &h->groups[i];
		size_t w = 0;
		for (size_t k = 0; g->member_bdfs && g->member_bdfs[k]; k++) {
			if (host_find_device(h, g->member_bdfs[k]))
				g->member_bdfs[w++] = g->member_bdfs[k];
			else
				free(g->member_bdfs[k]);
		}
		if (g->member_bdfs)
			g->member_bdfs[w] = NULL;
	}
	r = host_finalize(h, NULL);
	if (r < 0)
		goto out;
	*ret = TAKE_PTR(h);
	r = 0;
out:
	for (size_t i = 0; i < n_vfio; i++)
		free(vfio[i].name);
	free(vfio);
	return r;
}
