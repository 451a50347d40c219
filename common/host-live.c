/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The live host: PCI functions from /sys/bus/pci/devices and the vfio cdevs from
 * /sys/class/vfio-dev (the directories libudev's enumerator reads for subsystems "pci" and
 * "vfio-dev"), udev properties from the uevent file and, when udevd has a database entry
 * for the device, through libudev; names from those properties or else the udev hwdb
 * (libudev); IOMMU groups, revision, NUMA node, SR-IOV and netdevs from sysfs; host-wide
 * facts from /sys/class/iommu, /dev, /proc and /sys/module.
 *
 * Cost model (the benchmark scans 4096 devices in 1024 groups under the umockdev preload
 * and wants to beat lspci): every IOMMU group directory is read once and gives the device
 * -> group map, so no per-device iommu_group readlink; ids, class and driver come from the
 * uevent read for the properties; other attributes are read relative to one directory fd
 * per device; libudev's enumerator is not used because its per-device path resolution
 * alone costs about 3x all of lspci there (tests/bench/udevenum.sh measures it); the hwdb
 * is consulted only for devices udev has not named; physfn is derived from the PFs'
 * virtfn links. Only stat()/access() are used on /dev nodes: this file never opens a
 * device.
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
#include "common/kernel.h"

#define SYSFS_IOMMU_GROUPS "/sys/kernel/iommu_groups"
#define LIVE_MAX_REGIONS 1024
#define LIVE_MAX_VFS 4096

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev *, udev_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_hwdb *, udev_hwdb_unref)

/* Keys of the kernel's own uevent (and libudev's bookkeeping): not kept in properties. */
static const char *const kernel_keys[] = {
	"ACTION",           "DEVGID",    "DEVMODE",   "DEVNAME",
	"DEVPATH",          "DEVTYPE",   "DEVUID",    "DRIVER",
	"IFINDEX",          "INTERFACE", "MAJOR",     "MINOR",
	"MODALIAS",         "PCI_CLASS", "PCI_ID",    "PCI_SLOT_NAME",
	"PCI_SUBSYS_ID",    "SEQNUM",    "SUBSYSTEM", "SYNTH_UUID",
	"USEC_INITIALIZED", NULL,
};

static bool is_kernel_key(const char *k) {
	/* First letters first: two lookups per uevent line of 4096 devices add up. */
	for (const char *const *i = kernel_keys; *i; i++)
		if ((*i)[0] == k[0] && streq(*i, k))
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

/*
 * Directory listing straight from getdents64 into a stack buffer. A DIR per directory
 * costs a 32 KiB heap buffer and extra system calls, which dominates when thousands of
 * small sysfs directories are listed. The caller owns fd.
 */
typedef struct DirIter {
	int fd;
	ssize_t n, pos;
	char buf[8192] __attribute__((aligned(8)));
} DirIter;

/* Starts listing fd. Not `DirIter it = { .fd = fd }`: that zero-fills the 8 KiB buffer,
 * 32 MiB of stores for 4096 devices, for bytes getdents64() overwrites anyway. */
static void dir_iter_init(DirIter *it, int fd) {
	it->fd = fd;
	it->n = it->pos = 0;
}

/* Next entry name not starting with '.', or NULL at the end (errno set on error). */
static const char *dir_next(DirIter *it) {
	for (;;) {
		if (it->pos >= it->n) {
			errno = 0;
			it->n = getdents64(it->fd, it->buf, sizeof(it->buf));
			it->pos = 0;
			if (it->n <= 0)
				return NULL;
		}
		struct dirent64 *de = (struct dirent64 *)(it->buf + it->pos);
		it->pos += de->d_reclen;
		if (de->d_name[0] != '.')
			return de->d_name;
	}
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
	return bdf_cmp(((const MemberRef *)a)->bdf, ((const MemberRef *)b)->bdf);
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
		if (hex_parse_u64(start, UINT64_MAX, &s) < 0 ||
		    hex_parse_u64(end, UINT64_MAX, &e) < 0 || e < s)
			return -EBADMSG;
		g->regions[g->n_regions++] = (ReservedRegion){ .start = s, .end = e, .type = t };
	}
	return 0;
}

/* Appends the member name of the group's devices/ directory (dfd) to g->foreign_members,
 * with the last components of its "subsystem" and "driver" links (no driver link: none). */
static int read_foreign_member(int dfd, const char *name, Group *g) {
	char path[PATH_MAX];
	int r;

	ForeignMember *x = realloc(g->foreign_members,
				   (g->n_foreign_members + 1) * sizeof(ForeignMember));
	if (!x)
		return -ENOMEM;
	g->foreign_members = x;
	ForeignMember *f = &x[g->n_foreign_members];
	*f = (ForeignMember){ .driver_known = true };
	if (!(f->name = strdup(name)))
		return -ENOMEM;
	g->n_foreign_members++;
	snprintf(path, sizeof(path), "%s/subsystem", name);
	r = readlink_basename_at(dfd, path, &f->bus);
	if (r < 0 && r != -ENOENT)
		return r;
	snprintf(path, sizeof(path), "%s/driver", name);
	r = readlink_basename_at(dfd, path, &f->driver);
	if (r < 0 && r != -ENOENT)
		return r;
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

	/* "N/type" relative to the groups directory: no per-group directory fd to open and
	 * close (1024 groups in the benchmark). */
	char path[64];
	snprintf(path, sizeof(path), "%s/type", name);
	if (read_attr_at(groupsfd, path, buf, sizeof(buf)) > 0 && !(g->type = strdup(buf)))
		return -ENOMEM;

	snprintf(path, sizeof(path), "%s/reserved_regions", name);
	_cleanup_close_ int rfd = openat(groupsfd, path, O_RDONLY | O_CLOEXEC);
	if (rfd >= 0) {
		char text[16384];
		size_t len = 0;
		while (len < sizeof(text) - 1) {
			size_t asked = sizeof(text) - 1 - len;
			ssize_t k = read(rfd, text + len, asked);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return -errno;
			len += (size_t)k;
			/* sysfs hands the whole list out in one read: a short read is the end. */
			if ((size_t)k < asked)
				break;
		}
		text[len] = '\0';
		if ((r = parse_regions(text, g)) < 0)
			return r;
	}

	snprintf(path, sizeof(path), "%s/devices", name);
	_cleanup_close_ int dfd = openat(groupsfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	DirIter it;
	dir_iter_init(&it, dfd);
	const char *member;
	while ((member = dir_next(&it))) {
		/* Non-PCI members (platform devices on SMMU hosts) are kept with their bus and
		 * driver: they take part in the group's DMA ownership like PCI ones. */
		if (!bdf_is_canonical(member)) {
			if ((r = read_foreign_member(dfd, member, g)) < 0)
				return r;
			continue;
		}
		if (strv_extend(&g->member_bdfs, member) < 0)
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
		strcpy(m->bdf, member);
		m->group = g->number;
	}
	if (errno != 0)
		return -errno;
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
	return bdf_cmp(((const VfioRef *)a)->bdf, ((const VfioRef *)b)->bdf);
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

/* The vfio cdevs: /sys/class/vfio-dev/NAME -> .../BDF/vfio-dev/NAME, with a dev file. */
static int scan_vfio(VfioRef **ret, size_t *ret_n) {
	_cleanup_closedir_ DIR *d = opendir("/sys/class/vfio-dev");
	VfioRef *refs = NULL;
	size_t n = 0;

	*ret = NULL;
	*ret_n = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno; /* no vfio cdevs */
	struct dirent *de;
	while ((de = readdir(d))) {
		char target[PATH_MAX], bdf[BDF_MAX], dev[64], path[NAME_MAX + 8];
		unsigned maj, min;
		char c;
		if (de->d_name[0] == '.')
			continue;
		ssize_t k = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
		if (k < 0)
			continue;
		target[k] = '\0';
		snprintf(path, sizeof(path), "%s/dev", de->d_name);
		if (!vfio_parent_bdf(target, bdf) ||
		    read_attr_at(dirfd(d), path, dev, sizeof(dev)) < 0 ||
		    sscanf(dev, "%u:%u%c", &maj, &min, &c) != 2)
			continue;
		VfioRef *x = realloc(refs, (n + 1) * sizeof(VfioRef));
		if (!x)
			goto oom;
		refs = x;
		strcpy(refs[n].bdf, bdf);
		refs[n].major = maj;
		refs[n].minor = min;
		if (!(refs[n].name = strdup(de->d_name)))
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

/*
 * The reset methods: "reset_method" (5.15+) lists them, space-separated, in the order the
 * kernel tries them. The kernel hides both it and "reset" on a device with no reset method
 * (pci_dev_reset_method_attr_is_visible / pci_dev_reset_attr_is_visible: !pci_reset_supported),
 * so neither file is a known "none"; "reset" without "reset_method" is a kernel too old to
 * say which (not known).
 */
static int read_reset_methods(int devfd, bool has_reset, bool has_reset_method, Device *d) {
	char buf[256];
	d->reset_known = false;
	if (!has_reset_method) {
		d->reset_known = !has_reset;
		return 0;
	}
	if (read_attr_at(devfd, "reset_method", buf, sizeof(buf)) < 0)
		return 0; /* gone or unreadable: not known */
	for (char *save = NULL, *w = strtok_r(buf, " \t\n", &save); w;
	     w = strtok_r(NULL, " \t\n", &save))
		if (!strv_contains(d->reset_methods, w) && strv_extend(&d->reset_methods, w) < 0)
			return -ENOMEM;
	d->reset_known = true;
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

typedef struct Scan {
	struct udev *udev; /* made on first use */
	struct udev_hwdb *hwdb;
	bool hwdb_tried;
	const MemberRef *refs;
	size_t n_refs;
	const VfioRef *vfio;
	size_t n_vfio;
	bool udev_db; /* /run/udev/data exists: udevd runs here */
} Scan;

/* Adds one udev property; the structured fields come from the kernel's own keys. */
/* "KEY=VALUE" in a new string, or NULL. Not asprintf(): two properties per device made its
 * format parsing a visible part of a 4096-device scan. */
static char *kv_join(const char *k, size_t klen, const char *v) {
	size_t vlen = strlen(v);
	char *kv = malloc(klen + 1 + vlen + 1);
	if (!kv)
		return NULL;
	memcpy(kv, k, klen);
	kv[klen] = '=';
	memcpy(kv + klen + 1, v, vlen + 1);
	return kv;
}

static int take_property(Device *d, const char *k, const char *v, bool *have_names) {
	if (is_kernel_key(k))
		return 0;
	if (streq(k, "ID_VENDOR_FROM_DATABASE") || streq(k, "ID_MODEL_FROM_DATABASE")) {
		char **slot = streq(k, "ID_VENDOR_FROM_DATABASE") ? &d->vendor_name
								  : &d->device_name;
		char *x = strdup(v);
		if (!x)
			return -ENOMEM;
		free(*slot);
		*slot = x;
		*have_names = true;
	}
	/* The db repeats what the uevent said: keep one KEY=VALUE per key, the later wins. */
	size_t klen = strlen(k);
	for (size_t i = 0; d->properties && d->properties[i]; i++)
		if (strneq(d->properties[i], k, klen) && d->properties[i][klen] == '=') {
			char *kv = kv_join(k, klen, v);
			if (!kv)
				return -ENOMEM;
			free(d->properties[i]);
			d->properties[i] = kv;
			return 0;
		}
	char *kv = kv_join(k, klen, v);
	if (!kv)
		return -ENOMEM;
	if (strv_push(&d->properties, kv) < 0) {
		free(kv);
		return -ENOMEM;
	}
	return 0;
}

/*
 * One PCI function, from /sys/bus/pci/devices/BDF (busfd). The uevent file gives the ids,
 * class, driver and, in a test bed, the udev properties; when udev has a database entry
 * for the device, libudev reads it and its properties are merged in.
 */
static int read_device(Scan *s, int busfd, const char *bdf, Device *d) {
	_cleanup_close_ int devfd = -EBADF;
	char buf[64], target[PATH_MAX];
	uint64_t x;
	bool have_names = false, have_id = false, have_subsys = false, have_class = false;
	int r;

	d->iommu_group = -1;
	d->numa_node = -1;
	d->sriov_totalvfs = -1;
	strcpy(d->bdf, bdf);

	/* The bus link's target is the device's place in the hierarchy: its parent. */
	ssize_t k = readlinkat(busfd, bdf, target, sizeof(target) - 1);
	if (k < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	target[k] = '\0';
	if ((r = device_parent_from_path(target, &d->parent)) < 0)
		return r;
	devfd = openat(busfd, bdf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (devfd < 0)
		return errno == ENOENT ? -ENODEV : -errno;

	/* uevent: KEY=VALUE lines. */
	{
		_cleanup_close_ int fd = openat(devfd, "uevent", O_RDONLY | O_CLOEXEC | O_NOCTTY);
		char text[16384];
		size_t len = 0;
		if (fd < 0)
			return errno == ENOENT ? -ENODEV : -errno;
		while (len < sizeof(text) - 1) {
			ssize_t n = read(fd, text + len, sizeof(text) - 1 - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				break;
			size_t asked = sizeof(text) - 1 - len;
			len += (size_t)n;
			/* sysfs hands out a uevent in one read; a short read is the end. */
			if ((size_t)n < asked)
				break;
		}
		text[len] = '\0';
		char *save = NULL;
		for (char *line = strtok_r(text, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *eq = strchr(line, '=');
			if (!eq || eq == line)
				continue;
			*eq = '\0';
			const char *key = line, *val = eq + 1;
			if (streq(key, "PCI_ID"))
				have_id = id_pair(val, &d->vendor, &d->device);
			else if (streq(key, "PCI_SUBSYS_ID"))
				have_subsys = id_pair(val, &d->subsystem_vendor,
						      &d->subsystem_device);
			else if (streq(key, "PCI_CLASS")) {
				have_class = hex_parse_u64(val, 0xffffff, &x) >= 0;
				if (have_class)
					d->class = (uint32_t)x;
			} else if (streq(key, "DRIVER")) {
				if (*val && !(d->driver = strdup(val)))
					return -ENOMEM;
			} else if ((r = take_property(d, key, val, &have_names)) < 0)
				return r;
		}
	}

	/* The udev database, when udevd has processed the device (never in a test bed). */
	char dbpath[64];
	snprintf(dbpath, sizeof(dbpath), "/run/udev/data/+pci:%s", bdf);
	if (s->udev_db && access(dbpath, F_OK) == 0) {
		if (!s->udev && !(s->udev = udev_new()))
			return -ENOMEM;
		_cleanup_(udev_device_unrefp) struct udev_device *u =
			udev_device_new_from_subsystem_sysname(s->udev, "pci", bdf);
		struct udev_list_entry *e;
		if (u)
			udev_list_entry_foreach(e, udev_device_get_properties_list_entry(u)) {
				const char *key = udev_list_entry_get_name(e);
				const char *val = udev_list_entry_get_value(e);
				if (key && val && (r = take_property(d, key, val, &have_names)) < 0)
					return r;
			}
	}
	strv_sort(d->properties);

	/* Attribute files when the uevent lacked a key. */
	if (!have_id) {
		if (read_attr_at(devfd, "vendor", buf, sizeof(buf)) < 0 ||
		    parse_hex_attr(buf, 0xffff, &x) < 0)
			return -EBADMSG;
		d->vendor = (uint16_t)x;
		if (read_attr_at(devfd, "device", buf, sizeof(buf)) < 0 ||
		    parse_hex_attr(buf, 0xffff, &x) < 0)
			return -EBADMSG;
		d->device = (uint16_t)x;
	}
	if (!have_subsys) {
		if (read_attr_at(devfd, "subsystem_vendor", buf, sizeof(buf)) >= 0 &&
		    parse_hex_attr(buf, 0xffff, &x) >= 0)
			d->subsystem_vendor = (uint16_t)x;
		if (read_attr_at(devfd, "subsystem_device", buf, sizeof(buf)) >= 0 &&
		    parse_hex_attr(buf, 0xffff, &x) >= 0)
			d->subsystem_device = (uint16_t)x;
	}
	if (!have_class) {
		if (read_attr_at(devfd, "class", buf, sizeof(buf)) < 0 ||
		    parse_hex_attr(buf, 0xffffff, &x) < 0)
			return -EBADMSG;
		d->class = (uint32_t)x;
	}
	if (!d->driver && readlink_basename_at(devfd, "driver", &d->driver) < 0)
		d->driver = NULL;
	if (read_attr_at(devfd, "revision", buf, sizeof(buf)) >= 0 &&
	    parse_hex_attr(buf, 0xff, &x) >= 0)
		d->revision = (uint8_t)x;
	if (read_attr_at(devfd, "numa_node", buf, sizeof(buf)) >= 0) {
		long v = strtol(buf, NULL, 10);
		d->numa_node = v >= 0 && v <= 65535 ? (int)v : -1;
	}

	if (!have_names) {
		/* udev has not named it (no udevd, or not processed yet): ask the hwdb. */
		if (!s->hwdb_tried) {
			s->hwdb_tried = true;
			if (!s->udev && !(s->udev = udev_new()))
				return -ENOMEM;
			s->hwdb = udev_hwdb_new(s->udev);
		}
		if (s->hwdb && (r = names_from_hwdb(s->hwdb, d)) < 0)
			return r;
	}

	MemberRef key = {};
	strcpy(key.bdf, d->bdf);
	const MemberRef *m = s->n_refs ? bsearch(&key, s->refs, s->n_refs, sizeof(MemberRef),
						 cmp_member_ref)
				       : NULL;
	if (m)
		d->iommu_group = m->group;

	VfioRef vkey = {};
	strcpy(vkey.bdf, d->bdf);
	const VfioRef *v = s->n_vfio ? bsearch(&vkey, s->vfio, s->n_vfio, sizeof(VfioRef),
					       cmp_vfio_ref)
				     : NULL;
	if (v) {
		if (!(d->vfio_name = strdup(v->name)))
			return -ENOMEM;
		d->vfio_major = v->major;
		d->vfio_minor = v->minor;
		d->noiommu = strneq(v->name, "noiommu-", 8);
	}

	/* One listing of the device directory says whether it is an SR-IOV PF and has
	 * netdevs: cheaper than probing both names, since a failed open is a path walk (and
	 * several system calls under an LD_PRELOAD redirection such as umockdev's). */
	bool has_sriov = false, has_net = false, has_reset = false, has_reset_method = false;
	DirIter it;
	dir_iter_init(&it, devfd);
	const char *entry;
	while ((entry = dir_next(&it))) {
		/* First letters first: a device directory has ~25 entries, times 4096 devices. */
		if (entry[0] == 's' && streq(entry, "sriov_totalvfs"))
			has_sriov = true;
		else if (entry[0] == 'n' && streq(entry, "net"))
			has_net = true;
		else if (entry[0] == 'r' && streq(entry, "reset"))
			has_reset = true;
		else if (entry[0] == 'r' && streq(entry, "reset_method"))
			has_reset_method = true;
	}
	if (errno != 0)
		return -errno;
	if ((has_sriov && (r = read_sriov(devfd, d)) < 0) ||
	    (has_net && (r = read_netdevs(devfd, d)) < 0) ||
	    (r = read_reset_methods(devfd, has_reset, has_reset_method, d)) < 0)
		return r;
	return 0;
}

/* Frees what read_device() filled in before it found the device gone. */
static void device_clear(Device *d) {
	free(d->vendor_name);
	free(d->device_name);
	free(d->driver);
	free(d->vfio_name);
	free(d->parent);
	free(d->physfn);
	strv_free(d->virtfn);
	strv_free(d->netdevs);
	strv_free(d->properties);
	strv_free(d->reset_methods);
	*d = (Device){};
}

static int cmp_device_bdf_sort(const void *a, const void *b) {
	return bdf_cmp(((const Device *)a)->bdf, ((const Device *)b)->bdf);
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

/* /proc/interrupts is one line per IRQ with a column per CPU: a few MB on hosts with
 * hundreds of CPUs. Larger than this, it is not read and the answer stays with sysfs. */
#define PROC_INTERRUPTS_MAX (64u << 20)

static int amd_hats_width(uint64_t efr) {
	static const int width[4] = { 48, 57, 64, 0 }; /* 4, 5, 6 levels; 3 is reserved */
	return width[(efr >> 10) & 3];
}

int host_amd_features_width(const char *text) {
	char buf[64], *colon;
	uint64_t a, b;
	if (!text)
		return -EINVAL;
	size_t n = strcspn(text, "\n");
	if (n == 0 || n >= sizeof(buf) || text[n + (text[n] == '\n')] != '\0')
		return -EINVAL;
	memcpy(buf, text, n);
	buf[n] = '\0';
	if (!(colon = strchr(buf, ':')))
		return hex_parse_u64(buf, UINT64_MAX, &a) < 0 ? -EINVAL : amd_hats_width(a);
	*colon = '\0';
	if (hex_parse_u64(buf, UINT64_MAX, &a) < 0 || hex_parse_u64(colon + 1, UINT64_MAX, &b) < 0)
		return -EINVAL;
	/* Either may be EFR: use HATS only where the order cannot change it. */
	if (((a ^ b) & (3u << 10)) == 0 || b == 0)
		return amd_hats_width(a);
	if (a == 0)
		return amd_hats_width(b);
	return 0;
}

Tristate host_interrupts_remapping(const char *text) {
	bool ioapic = false;
	/* "  24:   12   0   IR-IO-APIC   2-edge   timer": numbered lines only ("NMI:", "LOC:"
	 * and the header have no chip). The per-CPU counts are digits and blanks, skipped in
	 * one strspn() (hundreds of columns on big hosts); the chip is the token after them
	 * when a blank precedes it (a chip named like "8259A" is not one looked for). One
	 * pass: the rest of each line is skipped with strchr(). */
	for (const char *p = text; p && *p;) {
		p += strspn(p, " \t");
		if (*p >= '0' && *p <= '9') {
			p += strspn(p, "0123456789");
			if (*p == ':') {
				p += 1 + strspn(p + 1, " \t0123456789");
				size_t len = strcspn(p, " \t\n");
				if (len > 0 && (p[-1] == ' ' || p[-1] == '\t')) {
					/* "vIR-": the MSI chips under a virtual IOMMU (caching
					 * mode), Linux 6.2 until PCI/IMS was reverted. */
					if ((len > 3 && strneq(p, "IR-", 3)) ||
					    (len > 4 && strneq(p, "vIR-", 4)))
						return TRI_YES;
					if (len == 7 && strneq(p, "IO-APIC", 7))
						ioapic = true;
				}
			}
		}
		if ((p = strchr(p, '\n')))
			p++;
	}
	return ioapic ? TRI_NO : TRI_UNKNOWN;
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
	const char *vendor = strneq(first, "dmar", 4)   ? "intel"
			     : strneq(first, "ivhd", 4) ? "amd"
			     : strstr(first, "smmu")    ? "arm-smmu"
			     : strstr(first, "virtio")  ? "virtio"
							: "other";
	if (!(k->iommu_vendor = strdup(vendor)))
		return -ENOMEM;
	bool intel = streq(vendor, "intel"), amd = streq(vendor, "amd");
	if (!intel && !amd)
		return 0; /* width and interrupt remapping are not in sysfs elsewhere */

	/* VT-d: ECAP.IR is bit 3; CAP.MGAW (bits 21:16) is the width minus one. AMD-Vi:
	 * EFR.HATS in amd-iommu/features (host_amd_features_width). Every unit must remap
	 * interrupts; the width is the smallest across units, 0 when any unit's is unknown. */
	bool ir = true, ir_known = intel, width_known = true;
	int width = 0;
	for (char **u = k->iommu_units; *u; u++) {
		char path[PATH_MAX], buf[64];
		uint64_t ecap, cap;
		int w = 0;
		snprintf(path, sizeof(path), "/sys/class/iommu/%s/%s", *u,
			 intel ? "intel-iommu" : "amd-iommu");
		_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (amd) {
			if (fd >= 0 && read_attr_at(fd, "features", buf, sizeof(buf)) >= 0)
				w = MAX(host_amd_features_width(buf), 0);
		} else {
			if (fd >= 0 && read_attr_at(fd, "ecap", buf, sizeof(buf)) >= 0 &&
			    hex_parse_u64(buf, UINT64_MAX, &ecap) >= 0)
				ir = ir && (ecap & (1u << 3));
			else
				ir_known = false;
			if (fd >= 0 && read_attr_at(fd, "cap", buf, sizeof(buf)) >= 0 &&
			    hex_parse_u64(buf, UINT64_MAX, &cap) >= 0)
				w = (int)((cap >> 16) & 0x3f) + 1;
		}
		if (w == 0)
			width_known = false;
		else
			width = width == 0 ? w : MIN(width, w);
	}
	/* The VT-d capability, vetoed by the command line. read_kernel() lets
	 * /proc/interrupts, what the kernel actually does, overrule it. */
	if (ir_known)
		k->interrupt_remapping = ir && !cmdline_has(k->cmdline, "intremap=off") &&
							 !cmdline_has(k->cmdline, "nointremap")
						 ? TRI_YES
						 : TRI_NO;
	k->address_width = width_known ? width : 0;
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
	/* Interrupt remapping, vendor-neutral: the chips in /proc/interrupts say what the
	 * kernel does (IR- chips: remapping; bare IO-APIC lines: none, whatever ECAP.IR
	 * says, e.g. after intremap=off or a firmware opt-out). Only when they say neither
	 * (no IO-APIC: not x86, or unreadable) does the VT-d rule above stand. */
	_cleanup_free_ char *interrupts = NULL;
	if (read_full_file("/proc/interrupts", PROC_INTERRUPTS_MAX, &interrupts, NULL) >= 0) {
		Tristate ir = host_interrupts_remapping(interrupts);
		if (ir != TRI_UNKNOWN)
			k->interrupt_remapping = ir;
	}
	k->iommufd = path_exists("/dev/iommu");
	k->vfio_cdev = path_exists("/dev/vfio/devices");
	k->vfio_legacy = path_exists("/dev/vfio/vfio");
	k->vfio_pci = path_exists("/sys/bus/pci/drivers/vfio-pci");
	int fd = open("/sys/module/vfio/parameters", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (read_attr_at(fd, "enable_unsafe_noiommu_mode", buf, sizeof(buf)) > 0)
			k->noiommu_mode = (buf[0] == 'Y' || buf[0] == 'y' || buf[0] == '1')
						  ? TRI_YES
						  : TRI_NO;
		close(fd);
	}
	return 0;
}

/* vDPA through the kernel seam's linux backend (the vdpa netlink family, bindings from
 * sysfs). Entries whose PCI function or management device was not seen (the scans ran at
 * different instants) are left out. */
static int read_vdpa(Host *h) {
	_cleanup_kernel_free_ Kernel *k = NULL;
	int r = kernel_new("linux", NULL, &k);
	if (r < 0)
		return r;
	if ((r = kernel_vdpa_dump(k, h)) <= 0)
		return r;
	size_t w = 0;
	for (size_t i = 0; i < h->n_vdpa_mgmtdevs; i++) {
		VdpaMgmtDev *m = &h->vdpa_mgmtdevs[i];
		if (m->bus && streq(m->bus, "pci") && !host_find_device(h, m->name)) {
			free(m->bus);
			free(m->name);
			continue;
		}
		h->vdpa_mgmtdevs[w++] = *m;
	}
	h->n_vdpa_mgmtdevs = w;
	w = 0;
	for (size_t i = 0; i < h->n_vdpa_devices; i++) {
		VdpaDevice *v = &h->vdpa_devices[i];
		bool listed = false;
		for (size_t j = 0; j < h->n_vdpa_mgmtdevs && !listed; j++)
			listed = streq(strempty(h->vdpa_mgmtdevs[j].bus),
				       strempty(v->mgmtdev_bus)) &&
				 streq(h->vdpa_mgmtdevs[j].name, v->mgmtdev_name);
		if (!listed) {
			vdpa_device_done(v);
			continue;
		}
		h->vdpa_devices[w++] = *v;
	}
	h->n_vdpa_devices = w;
	return 0;
}

int host_load_live(Host **ret) {
	_cleanup_host_free_ Host *h = NULL;
	_cleanup_free_ MemberRef *refs = NULL;
	_cleanup_closedir_ DIR *bus = NULL;
	Scan scan = {};
	VfioRef *vfio = NULL;
	size_t n_refs = 0, n_vfio = 0, cap = 0;
	int r;

	assert(ret);
	h = calloc(1, sizeof(Host));
	if (!h)
		return -ENOMEM;
	if ((r = read_kernel(h)) < 0)
		return r;
	if ((r = read_groups(h, &refs, &n_refs)) < 0)
		return r;
	if ((r = scan_vfio(&vfio, &n_vfio)) < 0)
		return r;
	scan.refs = refs;
	scan.n_refs = n_refs;
	scan.vfio = vfio;
	scan.n_vfio = n_vfio;
	scan.udev_db = access("/run/udev/data", F_OK) == 0;
	/* A vfio-dev device with a dev file is a cdev, even where /dev/vfio/devices is not
	 * visible (a container with a partial /dev). */
	if (n_vfio > 0)
		h->kernel.vfio_cdev = TRI_YES;

	/* The bus directory is what libudev's enumerator reads for subsystem "pci"; reading
	 * it directly saves the enumerator's per-device work: libudev (systemd 252) makes an
	 * sd_device per entry, resolving the bus symlink one path component at a time, then
	 * sorts the list. On 4096 devices that alone costs 2.4-3x lspci's whole run under the
	 * umockdev preload and 2.8-3.4x with the bed bind-mounted on /sys (no preload), and
	 * no match or libudev call skips it; systemd 254's libudev is no faster. The benchmark
	 * sections udevenum and udevenum-native measure it, so the choice can be revisited
	 * when libudev changes. */
	bus = opendir("/sys/bus/pci/devices");
	if (!bus && errno != ENOENT) {
		r = -errno;
		goto out;
	}
	struct dirent *de;
	while (bus && (de = readdir(bus))) {
		if (!bdf_is_canonical(de->d_name))
			continue;
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
		r = read_device(&scan, dirfd(bus), de->d_name, d);
		if (r == -ENODEV) {
			/* Removed while scanning (hot unplug): skip it. */
			h->n_devices--;
			device_clear(d);
			continue;
		}
		if (r < 0)
			goto out;
	}
	if ((r = link_physfn(h)) < 0)
		goto out;
	/* The group lists and the device scan were read at different instants: keep only
	 * listed members that were enumerated, so a device unplugged in between cannot make
	 * the whole scan fail. */
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
	if ((r = read_vdpa(h)) < 0)
		goto out;
	r = host_finalize(h, NULL);
	if (r < 0)
		goto out;
	*ret = TAKE_PTR(h);
	r = 0;
out:
	for (size_t i = 0; i < n_vfio; i++)
		free(vfio[i].name);
	free(vfio);
	udev_hwdb_unref(scan.hwdb);
	udev_unref(scan.udev);
	return r;
}
