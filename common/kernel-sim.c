/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim kernel backend: an in-process model of iommufd (/dev/iommu) and VFIO device cdevs
 * (plus the legacy container/group path) over a Host snapshot, reproducing the rules and
 * errnos of reference/uapi-facts.md so that everything above the kernel seam runs, and is
 * tested, without an IOMMU.
 *
 * What is modelled:
 *   - iommufd contexts with per-context object ids (lowest free id from 1, shared by IOAS,
 *     HWPT and device objects, like the kernel's xa_alloc), IOMMU_DESTROY rules, the
 *     RLIMIT_MODE option (checked against the calling process's real CAP_SYS_RESOURCE), the
 *     per-IOAS HUGE_PAGES option;
 *   - IOAS mappings (MAP with fixed or automatic IOVA, UNMAP incl. unmap-all), allowed
 *     IOVA ranges, the reserved-IOVA tree (device reserved regions except direct-relaxable,
 *     the domain aperture above the host's address width) and IOVA_RANGES reporting its
 *     holes; no memory is ever touched or pinned (a bogus user_va is accepted, as the kernel
 *     does while no domain exists; EFAULT/ENOMEM are never produced);
 *   - VFIO cdev files: bind to one context (one bound file per device), DMA ownership per
 *     (group, context) with the viability rule, group-wide attach to automatic HWPTs with
 *     replace, detach, reset, and "last close unbinds";
 *   - the legacy path: container, group and device files, viability (EPERM) and group
 *     exclusivity (EBUSY), and mutual exclusion between the group node and cdev binds;
 *   - vhost-vdpa char devices (drivers/vhost/vdpa.c): vhost_vdpa_open() is exclusive, EBUSY
 *     while a file of the device is open anywhere (its "opened" flag, cleared at the last
 *     close); a parent that leaves translation to the platform IOMMU (vp_vdpa) gets a domain
 *     of vhost-vdpa's own at open (vhost_vdpa_alloc_domain -> iommu_attach_device), EINVAL
 *     unless it is the only device of its group, bridges and non-PCI members counted. The
 *     other direction needs nothing new: the parent is on a host driver, so a VFIO BIND of
 *     a sibling is EPERM (iommu_device_claim_dma_owner) like any host-driver sibling.
 *     The device's virtio status byte (VHOST_VDPA_SET/GET_STATUS): open and the last close
 *     reset it to 0 (vhost_vdpa_reset), a status other than 0 may only add bits (EINVAL),
 *     0 resets. The IOTLB (mappings written to the file by its owner) is not modelled: the
 *     daemon never writes it (the kernel takes IOTLB messages only from the owner's mm).
 *   - the vdpa generic netlink family (drivers/vdpa/vdpa.c) over the snapshot's management
 *     devices and vDPA devices: dumps, dev add (GENL_ADMIN_PERM, the attribute checks, the
 *     management device lookup, the name check; the device bound to vhost_vdpa with the
 *     lowest free vhost-vdpa-N minor) and dev del, which waits, as vhost_vdpa_remove() does,
 *     for the last close of the device's char device (kernel.h has the rules). Checked
 *     against the real kernel by tests/tools/vdpa-rules.expected (tests/vm VDR).
 *
 * fds are real memfds named for what they stand for ("ioasid-sim:iommufd:3",
 * "ioasid-sim:vfio:0000:3b:00.0", "ioasid-sim:vfio-container:1", "ioasid-sim:vfio-group:17",
 * "ioasid-sim:vfio-legacy:0000:3b:00.0") so a receiver can tell what it got. The sim
 * recognises its files by inode (fstat), so dup()s and copies received over SCM_RIGHTS are
 * the same file to it. An fd the sim did not create gets ENOTTY (a wrong file type), a
 * closed fd EBADF, and BIND with a non-iommufd fd EBADFD, as the kernel answers.
 *
 * Last close, anywhere: like the kernel, the sim lets go of a file (unbinds a device,
 * releases group ownership, ends a context with its last reference, unsets a legacy
 * container) when the last reference to its open file description is released in any
 * process: copies sent over SCM_RIGHTS, inherited over fork/exec, kept in systemd's fdstore,
 * or dup()ed and closed with plain close() all count, as they do for the kernel's __fput().
 * Each file handed out is an O_RDWR open of the memfd through /proc/self/fd, a description
 * of its own (on recent kernels, 6.18 here, the memfd_create() description reports no
 * fsnotify events); the sim keeps the memfd_create() description to pin the inode (it is not
 * the handed-out file, so holding it does not count as holding that file, and it is closed
 * only after the watch is gone) and watches the inode with inotify: IN_CLOSE_WRITE is
 * reported by fsnotify_close() in __fput(), when the last reference to the handed-out
 * description goes. Every entry point first drains those events (non-blocking), so the
 * state seen by a call is the state after every close that finished before it;
 * kernel_close() is a plain close(). events_fd exposes the inotify fd for a caller that wants
 * to wake up when a file goes (the daemon does, so that the sim's pins of released files go
 * at once); sync drains it. The pins and the inotify fd are the sim's own fds: one per file
 * not yet released, plus one.
 *
 * What the sim cannot see: which process holds a file (the kernel does not say either);
 * a second writable open of a sim memfd made through /proc/PID/fd/N (its close looks like
 * the last one: nothing but a test would do that); events lost to an inotify queue
 * overflow (more than fs.inotify.max_queued_events closes between two calls: the files
 * concerned then stay held, which fails closed); and files of a previous sim (after a daemon
 * restart, say): they are ENOTTY to a new one, except a vhost-vdpa file that
 * kernel_vhost_vdpa_fd_check() accepted, which it adopts.
 *
 * SR-IOV and resets (drivers/vfio/pci/vfio_pci_core.c, drivers/vfio/device_cdev.c):
 *   - VF tokens: a VF whose PF is on vfio-pci opens only with the token the PF's user set
 *     (EACCES without it or with another); a PF whose VFs are open only with theirs; a PF
 *     whose VFs are not open takes the token given. The group path's GET_DEVICE_FD
 *     ("BDF vf_token=UUID", vfio_pci_core_match) has always checked this. The cdev path
 *     checks it at BIND from 6.17 (vfio_df_check_token -> vfio_pci_core_match_token_uuid,
 *     VFIO_DEVICE_BIND_FLAG_TOKEN); before 6.17 BIND checks no token at all and refuses any
 *     flag with EINVAL (seen on 6.12.117 in tests/vm S12: a VF of a PF held by another
 *     process binds without a token). The sim follows the snapshot's kernel release; an
 *     unknown release gets the 6.17 rule (the stricter one);
 *   - VFIO_DEVICE_RESET is EINVAL when the device has no working function reset
 *     (vfio_pci_core_enable's reset_works: a function-level reset_method, or "bus" while alone
 *     on the bus); the hot reset (kernel_sim_hot_reset) follows the dev_set rules of
 *     vfio_pci_core_register_device and vfio_pci_dev_set_hot_reset.
 *
 * Also not modelled: explicit IOMMU_HWPT_ALLOC, nesting, PASID, dirty tracking, slots,
 * COPY and MAP_FILE (not in the vtable), pinned-memory accounting (no ENOMEM),
 * the user-namespace subtlety of capable() (the sim reads the caller's effective set in its
 * own namespace), and noiommu devices, which the sim treats like any other device with a
 * group (the facts sheet does not cover noiommu binds; policy should refuse them).
 * The sim is not thread-safe: one Kernel per thread, or external locking.
 *
 * Checked against a real kernel: tests/unit/test-kernel-rules.c replays
 * tests/tools/kernel-probe --rules on the sim and compares with the output recorded in the
 * real-kernel guest (6.12.107); they are identical.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/depend.h"
#include "common/kernel-impl.h"
#include "common/kernel-sim.h"
#include "common/kernel.h"
#include "common/macro.h"
#include "common/uapi.h"

#define SIM_PAGE_SIZE 4096ULL
#define SIM_DEFAULT_ADDRESS_WIDTH 48
/* vhost_vdpa's char major when the snapshot shows no device of it: alloc_chrdev_region()
 * hands out a dynamic one, from the top of the range down; any value is as real. */
#define SIM_VHOST_VDPA_MAJOR 510

typedef struct SimFile SimFile;
typedef struct SimCtx SimCtx;
typedef struct SimObj SimObj;

typedef enum SimObjType { OBJ_IOAS, OBJ_HWPT, OBJ_DEVICE } SimObjType;

/* One reserved IOVA interval; owner is the device or HWPT object that put it there. */
typedef struct SimResv {
	uint64_t start, last;
	const SimObj *owner;
} SimResv;

struct SimObj {
	uint32_t id;
	SimObjType type;
	/* OBJ_IOAS */
	IovaRange *areas; /* mappings */
	size_t n_areas;
	IovaRange *allowed;
	size_t n_allowed;
	SimResv *resv;
	size_t n_resv;
	unsigned n_hwpts; /* HWPTs (domains) in this IOAS */
	bool no_huge_pages;
	/* OBJ_HWPT (automatic domains only) */
	SimObj *ioas;
	unsigned users; /* attached devices */
	/* OBJ_DEVICE */
	SimFile *file;
	SimObj *hwpt; /* attached domain or NULL */
};

struct SimCtx {
	SimObj **objs;
	size_t n_objs;
	bool fd_open;     /* an iommufd file of this context is still open */
	unsigned n_bound; /* bound device files: each keeps the context alive */
	bool per_process; /* RLIMIT_MODE */
};

typedef struct SimContainer {
	unsigned refs;     /* the container file + groups set on it */
	unsigned n_groups; /* groups set on it */
	bool iommu_set;    /* VFIO_SET_IOMMU done; undone when the last group leaves */
} SimContainer;

typedef struct SimDev {
	char bdf[BDF_MAX];
	int group; /* -1: none */
	char *driver;
	char *vfio_name;
	bool bridge;
	bool gone;
	SimFile *bound_file;
	/* Topology and reset, for the VF-token and reset rules. */
	char *parent;       /* the upstream device's BDF, NULL on a root bus */
	char *physfn;       /* a VF's PF */
	bool sriov_capable; /* a PF (is_physfn): vfio-pci gives it a VF token */
	bool reset_known, reset_function, reset_bus; /* reset_method: known, a function-level
						      * method, a bus-level one */
	/* A PF on vfio-pci: its VF token (vfio_pci_vf_token). The kernel starts it as a random
	 * UUID nobody knows (uuid_gen in vfio_pci_vf_init): token_set is false until a user
	 * sets one (VFIO_DEVICE_FEATURE_PCI_VF_TOKEN). vf_users counts its VFs' open devices. */
	bool token_set;
	uint8_t token[16];
	unsigned vf_users;
} SimDev;

typedef struct SimGroup {
	int number;
	ReservedRegion *regions;
	size_t n_regions;
	SimCtx *owner; /* iommufd context owning DMA (cdev path) */
	unsigned owner_count;
	bool node_open;          /* legacy /dev/vfio/N is open */
	unsigned legacy_devs;    /* open device files obtained through the group */
	SimContainer *container; /* legacy claim */
	SimDev **members;        /* index for the viability check; valid unless members_stale */
	size_t n_members;
	/* A member that is not a PCI function (a platform device) is a DMA API user: on a
	 * driver without driver_managed_dma, or one the host model does not know. */
	bool foreign_dma_user;
} SimGroup;

/* A vDPA management device (struct vdpa_mgmt_dev) as the host model last said. */
typedef struct SimMgmt {
	char *bus;  /* NULL: a software one (no bus) */
	char *name; /* the BDF on "pci" */
	uint64_t supported_classes;
	uint32_t vendor_id; /* what a device it creates reports: vp_vdpa, the PCI function's
			       subsystem vendor (virtio_pci_modern); vdpa_sim, 0 */
} SimMgmt;

/* A vDPA device with its vhost-vdpa char device, as the host model last said or as the
 * family's dev add made it. */
typedef struct SimVdpa {
	char *name;
	char *parent;   /* BDF of a PCI parent, NULL for a software device */
	char *mgmt_bus; /* its management device, as SimMgmt */
	char *mgmt_name;
	uint32_t device_id, vendor_id;
	char *driver;     /* NULL: none bound */
	char *vhost_name; /* NULL: not on vhost_vdpa (no char device) */
	unsigned vhost_major, vhost_minor;
	bool opened;    /* vhost_vdpa's v->opened: a file is open */
	uint8_t status; /* the virtio status byte (VHOST_VDPA_GET/SET_STATUS) */
	bool gone;
} SimVdpa;

/* Frees what sv says of its device (not its name: the record stays, as sim files name it). */
static void sim_vdpa_forget(SimVdpa *sv) {
	free(sv->parent);
	free(sv->mgmt_bus);
	free(sv->mgmt_name);
	free(sv->driver);
	free(sv->vhost_name);
	sv->parent = sv->mgmt_bus = sv->mgmt_name = sv->driver = sv->vhost_name = NULL;
}

typedef enum SimFileKind {
	FILE_IOMMUFD,
	FILE_VFIO,
	FILE_CONTAINER,
	FILE_GROUP,
	FILE_LEGACY_DEV,
	FILE_VHOST_VDPA,
} SimFileKind;

struct SimFile {
	SimFileKind kind;
	int pin_fd; /* the memfd_create() description: pins the inode, is not the file */
	int wd;     /* inotify watch on it: IN_CLOSE_WRITE = the last close, anywhere */
	dev_t st_dev;
	ino_t st_ino;
	SimCtx *ctx;             /* IOMMUFD: its context; VFIO: the context it is bound to */
	SimDev *dev;             /* VFIO, LEGACY_DEV */
	SimObj *devobj;          /* VFIO when bound */
	SimGroup *group;         /* GROUP, LEGACY_DEV */
	SimContainer *container; /* CONTAINER */
	SimDev *vf_of;           /* an open VF counted in this PF's vf_users (VFIO, LEGACY_DEV) */
	SimVdpa *vdpa;           /* VHOST_VDPA */
};

typedef struct Sim {
	Kernel kernel;
	KernelApi api;
	bool intel;
	bool vfio_legacy;
	bool cdev_vf_token; /* BIND checks VF tokens (6.17+, or the release is unknown) */
	Tristate interrupt_remapping;
	int address_width;
	SimDev **devs; /* pointers: files keep them across additions */
	size_t n_devs;
	SimGroup **groups;
	size_t n_groups;
	SimVdpa **vdpas;
	size_t n_vdpas;
	SimMgmt *mgmts;
	size_t n_mgmts;
	bool vdpa_family;           /* the vdpa genl family exists (the snapshot lists vDPA) */
	unsigned vhost_major;       /* vhost_vdpa's char major (alloc_chrdev_region: dynamic) */
	int cap_net_admin_override; /* -1: ask the process */
	SimFile **files;
	size_t n_files;
	bool members_stale; /* SimGroup.members need rebuilding (after a host sync) */
	unsigned iommufd_serial;
	unsigned container_serial;
	int cap_sys_resource_override; /* -1: ask the process */
	int inotify_fd;                /* IN_CLOSE_WRITE of every file handed out */
} Sim;

static const KernelOps sim_ops;
static int sim_close(Kernel *k, int fd);

static void sim_drain(Sim *s);

/* Every entry point gets its Sim through here: the closes that finished before the call
 * are taken in first. */
static Sim *SIM(Kernel *k) {
	Sim *s = k->userdata;
	sim_drain(s);
	return s;
}

bool kernel_is_sim(const Kernel *k) {
	return k && k->ops == &sim_ops;
}

/* ---- host copy ---------------------------------------------------------------------- */

static SimDev *sim_find_dev(Sim *s, const char *bdf) {
	for (size_t i = 0; i < s->n_devs; i++)
		if (streq(s->devs[i]->bdf, bdf))
			return s->devs[i];
	return NULL;
}

static SimGroup *sim_find_group(Sim *s, int number) {
	if (number < 0)
		return NULL;
	for (size_t i = 0; i < s->n_groups; i++)
		if (s->groups[i]->number == number)
			return s->groups[i];
	return NULL;
}

static bool sim_driver_is_vfio(const char *driver) {
	/* vfio-pci and its variant drivers (mlx5_vfio_pci, hisi_acc_vfio_pci, ...). */
	return driver && strstr(driver, "vfio");
}

/* A group member that does not block DMA ownership: no driver, a VFIO driver, pci-stub, or
 * a bridge/port (pcieport sets driver_managed_dma). Everything else is a DMA API user. */
static bool sim_dev_dma_safe(const SimDev *d) {
	return !d->driver || sim_driver_is_vfio(d->driver) || streq(d->driver, "pci-stub") ||
	       streq(d->driver, "pcieport") || d->bridge;
}

/* Rebuilds every group's member list from the devices' group numbers: once per host sync,
 * so a bind does not scan all devices (4096 on the benchmark host). */
static int group_cmp(const void *a, const void *b) {
	int x = (*(SimGroup *const *)a)->number, y = (*(SimGroup *const *)b)->number;
	return x < y ? -1 : x > y;
}

static int sim_index_members(Sim *s) {
	/* The groups sorted by number for the lookups below: a linear search per device made
	 * the first bind on a 4096-device host cost 50M instructions. */
	_cleanup_free_ SimGroup **sorted = malloc(MAX(s->n_groups, (size_t)1) * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, s->groups, s->n_groups * sizeof(*sorted));
	qsort(sorted, s->n_groups, sizeof(*sorted), group_cmp);
	for (size_t i = 0; i < s->n_groups; i++)
		s->groups[i]->n_members = 0;
	for (size_t i = 0; i < s->n_devs; i++) {
		SimGroup key = { .number = s->devs[i]->group }, *kp = &key;
		SimGroup **found = s->n_groups > 0 ? bsearch(&kp, sorted, s->n_groups,
							     sizeof(*sorted), group_cmp)
						   : NULL;
		SimGroup *g = found ? *found : NULL;
		if (!g)
			continue;
		SimDev **m = realloc(g->members, (g->n_members + 1) * sizeof(*m));
		if (!m)
			return -ENOMEM;
		g->members = m;
		g->members[g->n_members++] = s->devs[i];
	}
	s->members_stale = false;
	return 0;
}

static bool sim_group_viable(Sim *s, const SimGroup *g) {
	if (g->foreign_dma_user)
		return false;
	if ((!s->members_stale || sim_index_members(s) >= 0)) {
		for (size_t i = 0; i < g->n_members; i++)
			if (!g->members[i]->gone && !sim_dev_dma_safe(g->members[i]))
				return false;
		return true;
	}
	/* No memory for the index: the same answer the long way. */
	for (size_t i = 0; i < s->n_devs; i++)
		if (s->devs[i]->group == g->number && !s->devs[i]->gone &&
		    !sim_dev_dma_safe(s->devs[i]))
			return false;
	return true;
}

/* ---- SR-IOV VF tokens and resets ---------------------------------------------------- */

/* vfio_pci_vf_init(): vfio-pci gives a PF (is_physfn) a VF token when it binds it. */
static bool sim_has_vf_token(const SimDev *d) {
	return d->sriov_capable && !d->physfn && !d->gone && sim_driver_is_vfio(d->driver);
}

/* A VF's vdev->sriov_pf_core_dev: its PF when that is on vfio-pci (vfio-pci refuses a PF
 * whose VFs already exist, so they were created under it), else NULL. */
static SimDev *sim_token_pf(Sim *s, const SimDev *d) {
	SimDev *pf = d->physfn ? sim_find_dev(s, d->physfn) : NULL;
	return pf && sim_has_vf_token(pf) ? pf : NULL;
}

/*
 * vfio_pci_core_match_token_uuid() (6.17+ also on the cdev path, vfio_df_check_token() at
 * BIND; the group path through vfio_pci_core_match() at GET_DEVICE_FD). uuid NULL: no
 * token given. A VF of a PF on vfio-pci needs its PF's token (EACCES without it or with
 * another); a PF whose VFs are open needs theirs; a PF whose VFs are not open takes the one
 * given as its new token; a token given to anything else is EINVAL.
 */
static int sim_match_token(Sim *s, SimDev *d, const uint8_t *uuid) {
	if (d->physfn) {
		SimDev *pf = sim_token_pf(s, d);
		if (!pf)
			return uuid ? -EINVAL : 0; /* PF not on vfio-pci: no VF token */
		if (!uuid || !pf->token_set || memcmp(uuid, pf->token, sizeof(pf->token)) != 0)
			return -EACCES;
		return 0;
	}
	if (sim_has_vf_token(d)) {
		if (d->vf_users > 0) {
			if (!uuid || !d->token_set || memcmp(uuid, d->token, sizeof(d->token)) != 0)
				return -EACCES;
		} else if (uuid) {
			memcpy(d->token, uuid, sizeof(d->token));
			d->token_set = true;
		}
		return 0;
	}
	return uuid ? -EINVAL : 0;
}

/* vfio_pci_core_finish_enable() / vfio_pci_core_close_device(): an opened VF counts as a
 * user of its PF's token. */
static void sim_vf_opened(Sim *s, SimFile *f) {
	SimDev *pf = sim_token_pf(s, f->dev);
	if (pf) {
		pf->vf_users++;
		f->vf_of = pf;
	}
}

static void sim_vf_closed(SimFile *f) {
	if (f->vf_of) {
		assert(f->vf_of->vf_users > 0);
		f->vf_of->vf_users--;
		f->vf_of = NULL;
	}
}

/* The length of "dddd:bb", the bus part of a canonical BDF. */
static size_t bdf_bus_len(const char *bdf) {
	const char *c = strrchr(bdf, ':');
	return c ? (size_t)(c - bdf) : 0;
}

static bool sim_same_bus(const SimDev *a, const SimDev *b) {
	size_t n = bdf_bus_len(a->bdf);
	return a->parent && b->parent && streq(a->parent, b->parent) && n == bdf_bus_len(b->bdf) &&
	       strneq(a->bdf, b->bdf, n);
}

/* The bridge d sits behind, NULL on a root bus (pci_is_root_bus, or no bus->self). */
static SimDev *sim_parent_bridge(Sim *s, const SimDev *d) {
	SimDev *p = d->parent ? sim_find_dev(s, d->parent) : NULL;
	return p && p->bridge ? p : NULL;
}

/*
 * vfio_pci_core_enable(): reset_works is whether pci_try_reset_function() succeeded: a
 * function-level method, or the bus method while the device is alone on its bus
 * (pci_parent_bus_reset() refuses a device with a sibling: -ENOTTY). Methods not known
 * (an old snapshot) are assumed to work.
 */
static bool sim_reset_works(Sim *s, const SimDev *d) {
	if (!d->reset_known || d->reset_function)
		return true;
	if (!d->reset_bus || !sim_parent_bridge(s, d))
		return false;
	for (size_t i = 0; i < s->n_devs; i++)
		if (s->devs[i] != d && !s->devs[i]->gone && sim_same_bus(s->devs[i], d))
			return false;
	return true;
}

/* Is e below bridge b (on its secondary bus or further down)? */
static bool sim_below(Sim *s, const SimDev *e, const SimDev *b) {
	size_t steps = 0;
	for (const SimDev *p = e; p && p->parent && steps++ < s->n_devs;
	     p = sim_find_dev(s, p->parent))
		if (streq(p->parent, b->bdf))
			return true;
	return false;
}

/* vfio_pci_core_register_device(): the dev_set of d. A VF or a root-bus device is a set of
 * its own; the others share their bus's (slots are not modelled). Only VFIO devices. */
static bool sim_in_dev_set(Sim *s, const SimDev *d, const SimDev *e) {
	if (e == d)
		return true;
	if (d->physfn || e->physfn || e->gone || !sim_driver_is_vfio(e->driver) ||
	    !sim_parent_bridge(s, d))
		return false;
	return sim_same_bus(d, e);
}

/*
 * VFIO_DEVICE_PCI_HOT_RESET with an empty group array, from a cdev file bound to ctx
 * (vfio_pci_ioctl_pci_hot_reset): ENODEV when neither a slot nor a bus reset is possible
 * (a root bus); then vfio_pci_dev_set_hot_reset(): EINVAL unless every device the bus reset
 * takes down is in the dev_set (vfio_pci_dev_set_resettable: a host driver, a bridge or a VF
 * below the bridge spoils it), and EINVAL unless every device of the dev_set is bound to
 * ctx or, unbound, in a group ctx owns.
 */
static int sim_hot_reset(Sim *s, SimFile *f) {
	SimDev *d = f->dev;
	SimDev *bridge = sim_parent_bridge(s, d);
	if (!bridge)
		return -ENODEV;
	for (size_t i = 0; i < s->n_devs; i++) {
		SimDev *e = s->devs[i];
		if (e->gone || !sim_below(s, e, bridge))
			continue;
		if (!sim_in_dev_set(s, d, e))
			return -EINVAL;
		SimGroup *g = sim_find_group(s, e->group);
		bool owned = e->bound_file ? e->bound_file->ctx == f->ctx : g && g->owner == f->ctx;
		if (!owned)
			return -EINVAL;
	}
	return 0;
}

/* ---- files -------------------------------------------------------------------------- */

static int sim_file_lookup(Sim *s, int fd, SimFile **ret) {
	struct stat st;
	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st) < 0)
		return -errno;
	*ret = NULL;
	for (size_t i = 0; i < s->n_files; i++)
		if (s->files[i]->st_dev == st.st_dev && s->files[i]->st_ino == st.st_ino) {
			*ret = s->files[i];
			break;
		}
	return 0;
}

/* "/proc/self/fd/N" */
static void fd_path(int fd, char buf[static 32]) {
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

/* Records a file of kind whose inode st is (path: an fd of it) and watches its last close;
 * pin is taken on success. The record is appended to s->files. */
static int sim_file_watch(Sim *s, SimFileKind kind, int *pin, const char *path,
			  const struct stat *st, SimFile **ret_file) {
	SimFile **files = realloc(s->files, (s->n_files + 1) * sizeof(*files));
	if (!files)
		return -ENOMEM;
	s->files = files;
	int wd = inotify_add_watch(s->inotify_fd, path, IN_CLOSE_WRITE);
	if (wd < 0)
		return -errno;
	SimFile *f = calloc(1, sizeof(*f));
	if (!f) {
		(void)inotify_rm_watch(s->inotify_fd, wd);
		return -ENOMEM;
	}
	*f = (SimFile){ .kind = kind,
			.pin_fd = TAKE_FD(*pin),
			.wd = wd,
			.st_dev = st->st_dev,
			.st_ino = st->st_ino };
	s->files[s->n_files++] = f;
	*ret_file = f;
	return 0;
}

static int sim_file_new(Sim *s, SimFileKind kind, const char *name, SimFile **ret_file,
			int *ret_fd) {
	char path[32];
	/* The memfd_create() description is the pin: never closed while watched, so its own
	 * close (which older kernels report) is never taken for the handed-out file's. */
	_cleanup_close_ int pin = memfd_create(name, MFD_CLOEXEC);
	if (pin < 0)
		return -errno;
	if (pin < 3) {
		/* Not on 0-2 if a caller closed those. */
		int p = fcntl(pin, F_DUPFD_CLOEXEC, 3);
		if (p < 0)
			return -errno;
		safe_close(pin);
		pin = p;
	}
	fd_path(pin, path);
	/* The file handed out: a fresh open of the memfd, a description that reports its last
	 * close. */
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	int r = sim_file_watch(s, kind, &pin, path, &st, ret_file);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static void sim_file_forget(Sim *s, SimFile *f) {
	for (size_t i = 0; i < s->n_files; i++)
		if (s->files[i] == f) {
			memmove(&s->files[i], &s->files[i + 1],
				(s->n_files - i - 1) * sizeof(s->files[0]));
			s->n_files--;
			break;
		}
	(void)inotify_rm_watch(s->inotify_fd, f->wd);
	safe_close(f->pin_fd);
	free(f);
}

/* ---- contexts and objects ----------------------------------------------------------- */

static SimObj *ctx_find(SimCtx *c, uint32_t id) {
	if (id == 0)
		return NULL;
	for (size_t i = 0; i < c->n_objs; i++)
		if (c->objs[i]->id == id)
			return c->objs[i];
	return NULL;
}

static SimObj *ctx_find_type(SimCtx *c, uint32_t id, SimObjType type) {
	SimObj *o = ctx_find(c, id);
	return o && o->type == type ? o : NULL;
}

/* Lowest free id from 1, like xa_alloc() with XA_FLAGS_ALLOC1. */
static int ctx_add(SimCtx *c, SimObjType type, SimObj **ret) {
	uint32_t id = 1;
	while (ctx_find(c, id))
		id++;
	SimObj **objs = realloc(c->objs, (c->n_objs + 1) * sizeof(*objs));
	if (!objs)
		return -ENOMEM;
	c->objs = objs;
	SimObj *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->id = id;
	o->type = type;
	c->objs[c->n_objs++] = o;
	*ret = o;
	return 0;
}

static void obj_free(SimObj *o) {
	if (!o)
		return;
	free(o->areas);
	free(o->allowed);
	free(o->resv);
	free(o);
}

static void ctx_remove(SimCtx *c, SimObj *o) {
	for (size_t i = 0; i < c->n_objs; i++)
		if (c->objs[i] == o) {
			memmove(&c->objs[i], &c->objs[i + 1], (c->n_objs - i - 1) * sizeof(o));
			c->n_objs--;
			break;
		}
	obj_free(o);
}

static void ctx_free(SimCtx *c) {
	for (size_t i = 0; i < c->n_objs; i++)
		obj_free(c->objs[i]);
	free(c->objs);
	free(c);
}

static int sim_get_ctx(Sim *s, int iommufd, SimCtx **ret) {
	SimFile *f;
	int r = sim_file_lookup(s, iommufd, &f);
	if (r < 0)
		return r;
	if (!f || f->kind != FILE_IOMMUFD)
		return -ENOTTY; /* not /dev/iommu: the ioctl is unknown to that file */
	*ret = f->ctx;
	return 0;
}

static int sim_get_ioas(Sim *s, int iommufd, uint32_t ioas_id, SimCtx **ret_ctx, SimObj **ret) {
	SimCtx *c;
	int r = sim_get_ctx(s, iommufd, &c);
	if (r < 0)
		return r;
	SimObj *o = ctx_find_type(c, ioas_id, OBJ_IOAS);
	if (!o)
		return -ENOENT;
	if (ret_ctx)
		*ret_ctx = c;
	*ret = o;
	return 0;
}

/* ---- IOAS interval bookkeeping ------------------------------------------------------ */

static bool overlaps(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1) {
	return a0 <= b1 && b0 <= a1;
}

static const SimResv *ioas_resv_hit(const SimObj *ioas, uint64_t start, uint64_t last) {
	for (size_t i = 0; i < ioas->n_resv; i++)
		if (overlaps(start, last, ioas->resv[i].start, ioas->resv[i].last))
			return &ioas->resv[i];
	return NULL;
}

static const IovaRange *ranges_hit(const IovaRange *r, size_t n, uint64_t start, uint64_t last) {
	for (size_t i = 0; i < n; i++)
		if (overlaps(start, last, r[i].start, r[i].last))
			return &r[i];
	return NULL;
}

static uint64_t ioas_alignment(const SimObj *ioas) {
	/* A domain (or HUGE_PAGES=0) raises the alignment to the IOMMU page size. */
	return ioas->n_hwpts > 0 || ioas->no_huge_pages ? SIM_PAGE_SIZE : 1;
}

static int ioas_resv_add(SimObj *ioas, uint64_t start, uint64_t last, const SimObj *owner) {
	SimResv *r = realloc(ioas->resv, (ioas->n_resv + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	ioas->resv = r;
	ioas->resv[ioas->n_resv++] = (SimResv){ .start = start, .last = last, .owner = owner };
	return 0;
}

static void ioas_resv_remove_owner(SimObj *ioas, const SimObj *owner) {
	size_t j = 0;
	for (size_t i = 0; i < ioas->n_resv; i++)
		if (ioas->resv[i].owner != owner)
			ioas->resv[j++] = ioas->resv[i];
	ioas->n_resv = j;
}

static int cmp_range(const void *a, const void *b) {
	const IovaRange *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* The holes of the reserved tree, ascending. */
static int ioas_holes(const SimObj *ioas, IovaRange **ret, size_t *ret_n) {
	_cleanup_free_ IovaRange *r = calloc(ioas->n_resv + 1, sizeof(*r));
	_cleanup_free_ IovaRange *holes = calloc(ioas->n_resv + 1, sizeof(*holes));
	if (!r || !holes)
		return -ENOMEM;
	for (size_t i = 0; i < ioas->n_resv; i++)
		r[i] = (IovaRange){ ioas->resv[i].start, ioas->resv[i].last };
	qsort(r, ioas->n_resv, sizeof(*r), cmp_range);
	size_t n = 0;
	uint64_t next = 0; /* first IOVA not yet covered */
	bool done = false; /* the reserved tree reaches UINT64_MAX */
	for (size_t i = 0; i < ioas->n_resv && !done; i++) {
		if (r[i].last < next)
			continue;
		if (r[i].start > next)
			holes[n++] = (IovaRange){ next, r[i].start - 1 };
		if (r[i].last == UINT64_MAX)
			done = true;
		else
			next = MAX(next, r[i].last + 1);
	}
	if (!done)
		holes[n++] = (IovaRange){ next, UINT64_MAX };
	*ret = TAKE_PTR(holes);
	*ret_n = n;
	return 0;
}

/* ---- lifetimes ---------------------------------------------------------------------- */

static void hwpt_put(SimCtx *c, SimObj *hwpt) {
	assert(hwpt->users > 0);
	if (--hwpt->users > 0)
		return;
	/* Automatic domains go away with their last device; the aperture goes with them. */
	ioas_resv_remove_owner(hwpt->ioas, hwpt);
	hwpt->ioas->n_hwpts--;
	ctx_remove(c, hwpt);
}

static void device_detach_obj(SimCtx *c, SimObj *dobj) {
	SimObj *hwpt = dobj->hwpt;
	if (!hwpt)
		return;
	ioas_resv_remove_owner(hwpt->ioas, dobj);
	dobj->hwpt = NULL;
	hwpt_put(c, hwpt);
}

static void ctx_maybe_free(SimCtx *c) {
	if (!c->fd_open && c->n_bound == 0)
		ctx_free(c);
}

static void sim_unbind(Sim *s, SimFile *f) {
	SimCtx *c = f->ctx;
	if (!c)
		return;
	device_detach_obj(c, f->devobj);
	ctx_remove(c, f->devobj);
	SimGroup *g = sim_find_group(s, f->dev->group);
	if (g && g->owner == c && --g->owner_count == 0)
		g->owner = NULL; /* last device of the group in this context: ownership released */
	if (f->dev->bound_file == f)
		f->dev->bound_file = NULL;
	sim_vf_closed(f);
	f->ctx = NULL;
	f->devobj = NULL;
	c->n_bound--;
	ctx_maybe_free(c);
}

static void container_put(SimContainer *c) {
	if (c && --c->refs == 0)
		free(c);
}

static void legacy_group_maybe_release(SimGroup *g) {
	if (g->node_open || g->legacy_devs > 0 || !g->container)
		return;
	/* The last group leaving a container takes its IOMMU (and mappings) with it. */
	if (--g->container->n_groups == 0)
		g->container->iommu_set = false;
	container_put(g->container);
	g->container = NULL;
}

/* ---- vtable: iommufd ---------------------------------------------------------------- */

static KernelApi sim_api(Kernel *k) {
	return SIM(k)->api;
}

static int sim_iommufd_open(Kernel *k, int *ret_fd) {
	Sim *s = SIM(k);
	if (s->api != KERNEL_API_IOMMUFD)
		return -ENOENT; /* no /dev/iommu */
	SimCtx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	char name[64];
	snprintf(name, sizeof(name), "ioasid-sim:iommufd:%u", ++s->iommufd_serial);
	SimFile *f;
	int fd, r = sim_file_new(s, FILE_IOMMUFD, name, &f, &fd);
	if (r < 0) {
		free(c);
		return r;
	}
	c->fd_open = true;
	f->ctx = c;
	*ret_fd = fd;
	return 0;
}

static bool sim_capable_sys_resource(const Sim *s) {
	if (s->cap_sys_resource_override >= 0)
		return s->cap_sys_resource_override > 0;
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[CAP_TO_INDEX(CAP_SYS_RESOURCE)].effective & CAP_TO_MASK(CAP_SYS_RESOURCE);
}

static bool sim_capable_net_admin(const Sim *s) {
	if (s->cap_net_admin_override >= 0)
		return s->cap_net_admin_override > 0;
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[CAP_TO_INDEX(CAP_NET_ADMIN)].effective & CAP_TO_MASK(CAP_NET_ADMIN);
}

int kernel_sim_override_cap_net_admin(Kernel *k, int value) {
	if (!kernel_is_sim(k) || value < -1 || value > 1)
		return -EINVAL;
	SIM(k)->cap_net_admin_override = value;
	return 0;
}

int kernel_sim_override_cap_sys_resource(Kernel *k, int value) {
	if (!kernel_is_sim(k) || value < -1 || value > 1)
		return -EINVAL;
	SIM(k)->cap_sys_resource_override = value;
	return 0;
}

int kernel_sim_set_rlimit_mode_raw(Kernel *k, int iommufd, uint64_t val64) {
	if (!kernel_is_sim(k))
		return -EINVAL;
	SimCtx *c;
	int r = sim_get_ctx(SIM(k), iommufd, &c);
	if (r < 0)
		return r;
	/* Kernel order: capability, then an empty context, then the value. */
	if (!sim_capable_sys_resource(SIM(k)))
		return -EPERM;
	if (c->n_objs > 0)
		return -EBUSY;
	if (val64 > 1)
		return -EINVAL;
	c->per_process = val64 == 1;
	return 0;
}

static int sim_iommufd_set_rlimit_mode(Kernel *k, int iommufd, bool per_process) {
	return kernel_sim_set_rlimit_mode_raw(k, iommufd, per_process ? 1 : 0);
}

static int sim_iommufd_get_rlimit_mode(Kernel *k, int iommufd, bool *ret_per_process) {
	SimCtx *c;
	int r = sim_get_ctx(SIM(k), iommufd, &c);
	if (r < 0)
		return r;
	*ret_per_process = c->per_process;
	return 0;
}

static int sim_ioas_alloc(Kernel *k, int iommufd, uint32_t *ret_ioas_id) {
	SimCtx *c;
	int r = sim_get_ctx(SIM(k), iommufd, &c);
	if (r < 0)
		return r;
	SimObj *o;
	r = ctx_add(c, OBJ_IOAS, &o);
	if (r < 0)
		return r;
	*ret_ioas_id = o->id;
	return 0;
}

static int sim_ioas_destroy(Kernel *k, int iommufd, uint32_t id) {
	SimCtx *c;
	int r = sim_get_ctx(SIM(k), iommufd, &c);
	if (r < 0)
		return r;
	SimObj *o = ctx_find(c, id);
	if (!o)
		return -ENOENT;
	switch (o->type) {
	case OBJ_IOAS:
		/* Mappings do not matter; a domain with attached devices does. */
		if (o->n_hwpts > 0)
			return -EBUSY;
		break;
	case OBJ_HWPT:
		if (o->users > 0)
			return -EBUSY;
		break;
	case OBJ_DEVICE:
		return -EBUSY; /* the VFIO file holds it; it goes away on unbind */
	}
	ctx_remove(c, o);
	return 0;
}

static int sim_ioas_allow_iovas(Kernel *k, int iommufd, uint32_t ioas_id, const IovaRange *ranges,
				size_t n) {
	SimObj *ioas;
	int r = sim_get_ioas(SIM(k), iommufd, ioas_id, NULL, &ioas);
	if (r < 0)
		return r;
	if (n > UINT32_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (ranges[i].start >= ranges[i].last)
			return -EINVAL;
		if (ranges_hit(ranges, i, ranges[i].start, ranges[i].last))
			return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if (ioas_resv_hit(ioas, ranges[i].start, ranges[i].last))
			return -EADDRINUSE;
	IovaRange *copy = NULL;
	if (n > 0) {
		copy = malloc(n * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, ranges, n * sizeof(*copy));
		/* The kernel keeps them in an interval tree: automatic IOVA allocation walks them
		 * in address order, not in the order given (seen on 6.12). */
		qsort(copy, n, sizeof(*copy), cmp_range);
	}
	free(ioas->allowed);
	ioas->allowed = copy;
	ioas->n_allowed = n;
	return 0;
}

int kernel_sim_iova_ranges_raw(Kernel *k, int iommufd, uint32_t ioas_id, IovaRange *buf,
			       uint32_t *inout_num, uint64_t *ret_alignment) {
	if (!kernel_is_sim(k))
		return -EINVAL;
	SimObj *ioas;
	int r = sim_get_ioas(SIM(k), iommufd, ioas_id, NULL, &ioas);
	if (r < 0)
		return r;
	_cleanup_free_ IovaRange *holes = NULL;
	size_t n;
	r = ioas_holes(ioas, &holes, &n);
	if (r < 0)
		return r;
	uint32_t cap = *inout_num;
	for (size_t i = 0; i < n && i < cap; i++)
		buf[i] = holes[i];
	*inout_num = (uint32_t)n;
	if (ret_alignment)
		*ret_alignment = ioas_alignment(ioas);
	return n > cap ? -EMSGSIZE : 0;
}

static int sim_ioas_iova_ranges(Kernel *k, int iommufd, uint32_t ioas_id, IovaRange **ret,
				size_t *ret_n, uint64_t *ret_alignment) {
	/* Same EMSGSIZE-then-retry loop as the linux backend, starting small on purpose. */
	uint32_t cap = 2;
	for (;;) {
		_cleanup_free_ IovaRange *buf = calloc(cap, sizeof(*buf));
		if (!buf)
			return -ENOMEM;
		uint32_t num = cap;
		uint64_t align;
		int r = kernel_sim_iova_ranges_raw(k, iommufd, ioas_id, buf, &num, &align);
		if (r == -EMSGSIZE) {
			cap = num;
			continue;
		}
		if (r < 0)
			return r;
		*ret = TAKE_PTR(buf);
		*ret_n = num;
		if (ret_alignment)
			*ret_alignment = align;
		return 0;
	}
}

static uint64_t align_up(uint64_t v, uint64_t a, bool *overflow) {
	uint64_t r = (v + a - 1) & ~(a - 1);
	if (r < v)
		*overflow = true;
	return r;
}

/* Lowest free IOVA for length with alignment `align`, inside the allowed ranges if any.
 * Without allowed ranges the kernel searches [PAGE_SIZE, ULONG_MAX - PAGE_SIZE], so IOVA 0
 * is never handed out automatically (seen on 6.12: a 2 MiB map of a 2 MiB-aligned buffer
 * into an empty IOAS lands at 0x200000). */
static int ioas_alloc_iova(const SimObj *ioas, uint64_t length, uint64_t align, uint64_t *ret) {
	IovaRange all = { SIM_PAGE_SIZE, UINT64_MAX - SIM_PAGE_SIZE };
	const IovaRange *win = ioas->n_allowed > 0 ? ioas->allowed : &all;
	size_t n_win = ioas->n_allowed > 0 ? ioas->n_allowed : 1;
	for (size_t w = 0; w < n_win; w++) {
		bool ovf = false;
		uint64_t cand = align_up(win[w].start, align, &ovf);
		while (!ovf) {
			uint64_t last;
			if (__builtin_add_overflow(cand, length - 1, &last) || last > win[w].last)
				break;
			const SimResv *rv = ioas_resv_hit(ioas, cand, last);
			const IovaRange *ar = ranges_hit(ioas->areas, ioas->n_areas, cand, last);
			if (!rv && !ar) {
				*ret = cand;
				return 0;
			}
			uint64_t past = MAX(rv ? rv->last : 0, ar ? ar->last : 0);
			if (past == UINT64_MAX)
				break;
			cand = align_up(past + 1, align, &ovf);
		}
	}
	return -ENOSPC;
}

static int sim_ioas_map(Kernel *k, int iommufd, uint32_t ioas_id, uint32_t flags, uint64_t user_va,
			uint64_t length, uint64_t *inout_iova) {
	const uint32_t known = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE |
			       IOMMU_IOAS_MAP_READABLE;
	SimCtx *c;
	int r = sim_get_ctx(SIM(k), iommufd, &c);
	if (r < 0)
		return r;
	uint64_t iova = (flags & IOMMU_IOAS_MAP_FIXED_IOVA) ? *inout_iova : 0;
	if (flags & ~known)
		return -EOPNOTSUPP;
	if (iova >= UINT64_MAX || length >= UINT64_MAX)
		return -EOVERFLOW;
	if (!(flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)))
		return -EINVAL;
	SimObj *ioas = ctx_find_type(c, ioas_id, OBJ_IOAS);
	if (!ioas)
		return -ENOENT;
	uint64_t align = ioas_alignment(ioas);
	if (length == 0 || (length & (align - 1)))
		return -EINVAL;
	if (flags & IOMMU_IOAS_MAP_FIXED_IOVA) {
		uint64_t last;
		if (iova & (align - 1))
			return -EINVAL;
		if (__builtin_add_overflow(iova, length - 1, &last))
			return -EOVERFLOW;
		if (ioas_resv_hit(ioas, iova, last))
			return -EINVAL;
		if (ranges_hit(ioas->areas, ioas->n_areas, iova, last))
			return -EEXIST;
	} else {
		/* Automatic IOVA: aligned to the length's power of two, but no more than the
		 * alignment user_va already has (keeps huge-page alignment possible). */
		if (length > (UINT64_MAX >> 1))
			return -EOVERFLOW;
		uint64_t a = 1;
		while (a < length)
			a <<= 1;
		if (user_va)
			a = MIN(a, user_va & -user_va);
		if (a < align)
			return -EINVAL;
		r = ioas_alloc_iova(ioas, length, a, &iova);
		if (r < 0)
			return r;
	}
	IovaRange *areas = realloc(ioas->areas, (ioas->n_areas + 1) * sizeof(*areas));
	if (!areas)
		return -ENOMEM;
	ioas->areas = areas;
	ioas->areas[ioas->n_areas++] = (IovaRange){ iova, iova + length - 1 };
	*inout_iova = iova;
	return 0;
}

static int sim_ioas_unmap(Kernel *k, int iommufd, uint32_t ioas_id, uint64_t iova, uint64_t length,
			  uint64_t *ret_unmapped) {
	SimObj *ioas;
	int r = sim_get_ioas(SIM(k), iommufd, ioas_id, NULL, &ioas);
	if (r < 0)
		return r;
	uint64_t start = iova, last, total = 0;
	if (iova == 0 && length == UINT64_MAX)
		last = UINT64_MAX; /* the unmap-all form: succeeds even when empty */
	else {
		if (iova >= UINT64_MAX || length >= UINT64_MAX)
			return -EOVERFLOW;
		if (length == 0)
			return -EINVAL;
		if (__builtin_add_overflow(iova, length - 1, &last))
			return -EOVERFLOW;
		/* Every area touched must be fully covered; touching none is ENOENT too. */
		bool any = false;
		for (size_t i = 0; i < ioas->n_areas; i++) {
			const IovaRange *a = &ioas->areas[i];
			if (!overlaps(start, last, a->start, a->last))
				continue;
			if (a->start < start || a->last > last)
				return -ENOENT;
			any = true;
		}
		if (!any)
			return -ENOENT;
	}
	size_t j = 0;
	for (size_t i = 0; i < ioas->n_areas; i++) {
		const IovaRange *a = &ioas->areas[i];
		if (a->start >= start && a->last <= last)
			total += a->last - a->start + 1;
		else
			ioas->areas[j++] = *a;
	}
	ioas->n_areas = j;
	if (ret_unmapped)
		*ret_unmapped = total;
	return 0;
}

static int sim_ioas_set_huge_pages(Kernel *k, int iommufd, uint32_t ioas_id, bool enable) {
	SimObj *ioas;
	int r = sim_get_ioas(SIM(k), iommufd, ioas_id, NULL, &ioas);
	if (r < 0)
		return r;
	if (!enable)
		for (size_t i = 0; i < ioas->n_areas; i++)
			if ((ioas->areas[i].start | (ioas->areas[i].last + 1)) &
			    (SIM_PAGE_SIZE - 1))
				return -EADDRINUSE;
	ioas->no_huge_pages = !enable;
	return 0;
}

/* ---- vtable: devices ---------------------------------------------------------------- */

static int sim_device_open(Kernel *k, const Device *d, int *ret_fd) {
	Sim *s = SIM(k);
	if (!d || !d->vfio_name)
		return -ENODEV;
	/* Resolve like the linux backend: the cdev name leads to a device; it must be the
	 * one asked for. */
	SimDev *dev = NULL;
	for (size_t i = 0; i < s->n_devs; i++)
		if (!s->devs[i]->gone && s->devs[i]->vfio_name &&
		    streq(s->devs[i]->vfio_name, d->vfio_name)) {
			dev = s->devs[i];
			break;
		}
	if (!dev)
		return -ENODEV;
	if (!streq(dev->bdf, d->bdf))
		return -ESTALE;
	char name[64];
	snprintf(name, sizeof(name), "ioasid-sim:vfio:%s", dev->bdf);
	SimFile *f;
	int fd, r = sim_file_new(s, FILE_VFIO, name, &f, &fd);
	if (r < 0)
		return r;
	f->dev = dev;
	*ret_fd = fd;
	return 0;
}

/* The device called name: the present one, else a gone one (NULL when none). */
static SimVdpa *sim_find_vdpa(Sim *s, const char *name) {
	SimVdpa *gone = NULL;
	for (size_t i = 0; i < s->n_vdpas; i++)
		if (streq(s->vdpas[i]->name, name)) {
			if (!s->vdpas[i]->gone)
				return s->vdpas[i];
			gone = s->vdpas[i];
		}
	return gone;
}

/* Devices in group n as iommu_group->devices counts them: PCI functions (bridges too) and
 * non-PCI members. */
static size_t sim_group_devices(Sim *s, int n) {
	size_t count = 0;
	for (size_t i = 0; i < s->n_devs; i++)
		count += !s->devs[i]->gone && s->devs[i]->group == n;
	SimGroup *g = sim_find_group(s, n);
	return count + (g && g->foreign_dma_user ? 1 : 0);
}

static int sim_vhost_vdpa_open(Kernel *k, const VdpaDevice *v, int *ret_fd) {
	Sim *s = SIM(k);
	if (!v)
		return -EINVAL;
	SimVdpa *sv = sim_find_vdpa(s, v->name);
	if (!sv || sv->gone || !sv->vhost_name || !v->vhost_name) {
		/* The linux backend opens /dev/<vhost_name>: when another device has that char
		 * device now (its minor freed and taken again), the open reaches that device
		 * (EBUSY while it is open) and the identity check refuses the file (ESTALE). */
		for (size_t i = 0; v->vhost_name && i < s->n_vdpas; i++) {
			const SimVdpa *o = s->vdpas[i];
			if (!o->gone && o->vhost_name && streq(o->vhost_name, v->vhost_name))
				return o->opened ? -EBUSY : -ESTALE;
		}
		return -ENODEV;
	}
	if (!streq(sv->vhost_name, v->vhost_name) || sv->vhost_major != v->vhost_major ||
	    sv->vhost_minor != v->vhost_minor)
		return -ESTALE;
	/* vhost_vdpa_open(): atomic_cmpxchg(&v->opened, 0, 1), EBUSY when it was set. */
	if (sv->opened)
		return -EBUSY;
	/* vhost_vdpa_alloc_domain(): a parent without its own DMA translation (vp_vdpa)
	 * attaches vhost-vdpa's domain with iommu_attach_device(): EINVAL unless alone in the
	 * group. The module is vp_vdpa, its PCI driver (sysfs) "vp-vdpa": the VM tier's VD
	 * found the sim comparing "vp_vdpa", which no real parent is on. */
	SimDev *parent = sv->parent ? sim_find_dev(s, sv->parent) : NULL;
	if (parent && parent->driver && streq(parent->driver, "vp-vdpa") &&
	    (parent->group < 0 || sim_group_devices(s, parent->group) != 1))
		return parent->group < 0 ? -ENODEV : -EINVAL;
	char name[300];
	snprintf(name, sizeof(name), "ioasid-sim:vhost-vdpa:%s", sv->name);
	SimFile *f;
	int fd, r = sim_file_new(s, FILE_VHOST_VDPA, name, &f, &fd);
	if (r < 0)
		return r;
	f->vdpa = sv;
	sv->opened = true;
	sv->status = 0; /* vhost_vdpa_open() -> vhost_vdpa_reset() */
	*ret_fd = fd;
	return 0;
}

/* The vhost-vdpa file behind fd: ENOTTY for any other file (an ioctl it does not know). */
static int sim_get_vhost_file(Sim *s, int fd, SimFile **ret) {
	SimFile *f;
	int r = sim_file_lookup(s, fd, &f);
	if (r < 0)
		return r;
	if (!f || f->kind != FILE_VHOST_VDPA)
		return -ENOTTY;
	*ret = f;
	return 0;
}

/* vhost_vdpa_set_status(): a status other than 0 must keep every bit already set (EINVAL);
 * 0 is the reset (_compat_vdpa_reset), which the simulated parent never fails. */
static int sim_vhost_vdpa_set_status(Kernel *k, int fd, uint8_t status) {
	SimFile *f;
	int r = sim_get_vhost_file(SIM(k), fd, &f);
	if (r < 0)
		return r;
	if (status != 0 && (f->vdpa->status & ~status) != 0)
		return -EINVAL;
	f->vdpa->status = status;
	return 0;
}

static int sim_vhost_vdpa_get_status(Kernel *k, int fd, uint8_t *ret_status) {
	SimFile *f;
	int r = sim_get_vhost_file(SIM(k), fd, &f);
	if (r < 0)
		return r;
	*ret_status = f->vdpa->status;
	return 0;
}

/* ---- the vdpa generic netlink family ---- */

static int sim_vdpa_dump(Kernel *k, Host *h) {
	Sim *s = SIM(k);
	if (!h)
		return -EINVAL;
	if (!s->vdpa_family)
		return 0;
	if (s->n_mgmts > 0) {
		VdpaMgmtDev *l = reallocarray(h->vdpa_mgmtdevs, h->n_vdpa_mgmtdevs + s->n_mgmts,
					      sizeof(*l));
		if (!l)
			return -ENOMEM;
		h->vdpa_mgmtdevs = l;
	}
	for (size_t i = 0; i < s->n_mgmts; i++) {
		const SimMgmt *sm = &s->mgmts[i];
		VdpaMgmtDev *m = &h->vdpa_mgmtdevs[h->n_vdpa_mgmtdevs++];
		*m = (VdpaMgmtDev){ .name = strdup(sm->name),
				    .bus = sm->bus ? strdup(sm->bus) : NULL,
				    .supported_classes = sm->supported_classes };
		if (!m->name || (sm->bus && !m->bus))
			return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_vdpas; i++) {
		const SimVdpa *sv = s->vdpas[i];
		if (sv->gone)
			continue;
		VdpaDevice *l = reallocarray(h->vdpa_devices, h->n_vdpa_devices + 1, sizeof(*l));
		if (!l)
			return -ENOMEM;
		h->vdpa_devices = l;
		VdpaDevice *v = &l[h->n_vdpa_devices++];
		*v = (VdpaDevice){
			.name = strdup(sv->name),
			.mgmtdev_bus = sv->mgmt_bus ? strdup(sv->mgmt_bus) : NULL,
			.mgmtdev_name = sv->mgmt_name ? strdup(sv->mgmt_name) : NULL,
			.device_id = sv->device_id,
			.vendor_id = sv->vendor_id,
			.driver = sv->driver ? strdup(sv->driver) : NULL,
			.vhost_name = sv->vhost_name ? strdup(sv->vhost_name) : NULL,
			.vhost_major = sv->vhost_major,
			.vhost_minor = sv->vhost_minor,
		};
		if (!v->name || (sv->mgmt_bus && !v->mgmtdev_bus) ||
		    (sv->mgmt_name && !v->mgmtdev_name) || (sv->driver && !v->driver) ||
		    (sv->vhost_name && !v->vhost_name))
			return -ENOMEM;
	}
	return 1;
}

/* mgmtdev_handle_match(): a bus given matches only a management device on that bus, none
 * given only one without a bus. */
static const SimMgmt *sim_find_mgmt(const Sim *s, const char *bus, const char *name) {
	for (size_t i = 0; i < s->n_mgmts; i++) {
		const SimMgmt *m = &s->mgmts[i];
		if (!bus != !m->bus || !streq(m->name, name) || (bus && !streq(m->bus, bus)))
			continue;
		return m;
	}
	return NULL;
}

/* vhost_vdpa_probe(): ida_alloc_max(&vhost_vdpa_ida, ...), the lowest minor no present device
 * holds (a deleted device's minor is free again once its deletion finished). */
static unsigned sim_vhost_minor(const Sim *s) {
	for (unsigned m = 0;; m++) {
		bool taken = false;
		for (size_t i = 0; i < s->n_vdpas && !taken; i++)
			taken = !s->vdpas[i]->gone && s->vdpas[i]->vhost_name &&
				s->vdpas[i]->vhost_major == s->vhost_major &&
				s->vdpas[i]->vhost_minor == m;
		if (!taken)
			return m;
	}
}

/* vdpa_nl_cmd_dev_add_set_doit() with the management device's dev_add: the genetlink
 * GENL_ADMIN_PERM check, the name, the management device (vdpa_mgmtdev_get_from_attr), then
 * __vdpa_register_device()'s name check. No configuration attributes are sent by the seam,
 * so the MAC/MTU/features checks before the lookup do not apply. The new device is probed by
 * vhost_vdpa (the sim models a host where vhost_vdpa, not virtio_vdpa, is the vdpa bus's
 * driver, as in the VM tier), which gives it a char device. */
static int sim_vdpa_dev_add(Kernel *k, const char *bus, const char *mgmt_name, const char *name) {
	Sim *s = SIM(k);
	if (!s->vdpa_family)
		return -ENOENT;
	if (!sim_capable_net_admin(s))
		return -EPERM;
	if (!name || !mgmt_name)
		return -EINVAL;
	const SimMgmt *m = sim_find_mgmt(s, bus, mgmt_name);
	if (!m)
		return -ENODEV;
	SimVdpa *sv = sim_find_vdpa(s, name);
	if (sv && !sv->gone)
		return -EEXIST;
	/* A gone entry is reused unless a file still points at it (a device the host sync
	 * dropped while open): that one keeps its state for the file's close. */
	if (!sv || sv->opened) {
		SimVdpa **l = reallocarray(s->vdpas, s->n_vdpas + 1, sizeof(*l));
		if (!l)
			return -ENOMEM;
		s->vdpas = l;
		if (!(sv = calloc(1, sizeof(*sv))) || !(sv->name = strdup(name))) {
			free(sv);
			return -ENOMEM;
		}
		s->vdpas[s->n_vdpas++] = sv;
	}
	sim_vdpa_forget(sv);
	*sv = (SimVdpa){ .name = sv->name, .gone = true };
	/* The device's class: the management device's only one (vdpa_sim_net: net); with several
	 * the lowest, as a device add without a class attribute gets from the drivers here. */
	for (uint32_t c = 1; c < 64; c++)
		if (m->supported_classes & (1ULL << c)) {
			sv->device_id = c;
			break;
		}
	sv->vendor_id = m->vendor_id;
	if (!s->vhost_major)
		s->vhost_major = SIM_VHOST_VDPA_MAJOR;
	char vn[32];
	unsigned minor = sim_vhost_minor(s);
	snprintf(vn, sizeof(vn), "vhost-vdpa-%u", minor);
	if ((m->bus && streq(m->bus, "pci") && !(sv->parent = strdup(m->name))) ||
	    (m->bus && !(sv->mgmt_bus = strdup(m->bus))) || !(sv->mgmt_name = strdup(m->name)) ||
	    !(sv->driver = strdup("vhost_vdpa")) || !(sv->vhost_name = strdup(vn)))
		return -ENOMEM;
	sv->vhost_major = s->vhost_major;
	sv->vhost_minor = minor;
	sv->gone = false;
	return 0;
}

/* vdpa_nl_cmd_dev_del_set_doit(): the permission, the name, the device (ENODEV); every
 * device the sim has was made by a management device, so the "not user created" EINVAL never
 * applies. The management device's dev_del unregisters it: vhost_vdpa_remove() takes the char
 * device away and waits for its last file to be closed, anywhere (a close in another process
 * is seen through the inotify watch of sim_drain()); a caller holding the file itself waits
 * for ever, as it would in the kernel. */
static int sim_vdpa_dev_del(Kernel *k, const char *name) {
	Sim *s = SIM(k);
	if (!s->vdpa_family)
		return -ENOENT;
	if (!sim_capable_net_admin(s))
		return -EPERM;
	if (!name)
		return -EINVAL;
	SimVdpa *sv = sim_find_vdpa(s, name);
	if (!sv || sv->gone)
		return -ENODEV;
	while (sv->opened) {
		struct pollfd p = { .fd = s->inotify_fd, .events = POLLIN };
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return -errno;
		sim_drain(s);
	}
	sv->gone = true;
	return 0;
}

/* The device file behind devfd: ENOTTY for a file that is no VFIO device. */
static int sim_get_devfile(Sim *s, int devfd, SimFile **ret) {
	SimFile *f;
	int r = sim_file_lookup(s, devfd, &f);
	if (r < 0)
		return r;
	if (!f || (f->kind != FILE_VFIO && f->kind != FILE_LEGACY_DEV))
		return -ENOTTY;
	*ret = f;
	return 0;
}

/* BIND_IOMMUFD, with VFIO_DEVICE_BIND_FLAG_TOKEN when uuid is not NULL. */
static int sim_bind(Sim *s, int devfd, int iommufd, const uint8_t *uuid, uint32_t *ret_dev_id) {
	SimFile *f, *fi;
	int r = sim_get_devfile(s, devfd, &f);
	if (r < 0)
		return r;
	/* Order of vfio_df_ioctl_bind_iommufd() + iommufd_device_bind(), uapi-facts 2.4.
	 * Before 6.17 any flag, VFIO_DEVICE_BIND_FLAG_TOKEN too, is EINVAL. */
	if (iommufd < 0 || f->kind == FILE_LEGACY_DEV || (uuid && !s->cdev_vf_token))
		return -EINVAL;
	SimGroup *g = sim_find_group(s, f->dev->group);
	if (g && g->node_open)
		return -EBUSY; /* the legacy group node is open */
	if (f->ctx)
		return -EINVAL; /* this file is already bound */
	/* vfio_df_check_token() (6.17+): the VF token rule, before the iommufd is looked at. */
	r = s->cdev_vf_token ? sim_match_token(s, f->dev, uuid) : 0;
	if (r < 0)
		return r;
	r = sim_file_lookup(s, iommufd, &fi);
	if (r < 0)
		return r; /* EBADF */
	if (!fi || fi->kind != FILE_IOMMUFD)
		return -EBADFD;
	if (f->dev->bound_file)
		return -EINVAL; /* another open file of this device is bound */
	if (f->dev->gone || !g)
		return -ENODEV;
	if (s->interrupt_remapping == TRI_NO)
		return -EPERM; /* MSI not isolatable, allow_unsafe_interrupts not modelled */
	SimCtx *c = fi->ctx;
	if (g->container)
		return -EPERM; /* claimed by a legacy container: a different DMA owner */
	if (g->owner && g->owner != c)
		return -EPERM;
	if (!g->owner && !sim_group_viable(s, g))
		return -EPERM; /* a sibling on a host driver is a DMA API user */
	SimObj *o;
	r = ctx_add(c, OBJ_DEVICE, &o);
	if (r < 0)
		return r;
	o->file = f;
	g->owner = c;
	g->owner_count++;
	f->ctx = c;
	f->devobj = o;
	f->dev->bound_file = f;
	c->n_bound++;
	sim_vf_opened(s, f);
	if (ret_dev_id)
		*ret_dev_id = o->id;
	return 0;
}

static int sim_device_bind(Kernel *k, int devfd, int iommufd, uint32_t *ret_dev_id) {
	return sim_bind(SIM(k), devfd, iommufd, NULL, ret_dev_id);
}

int kernel_sim_bind_token(Kernel *k, int devfd, int iommufd, const uint8_t uuid[16],
			  uint32_t *ret_dev_id) {
	if (!kernel_is_sim(k))
		return -EINVAL;
	return sim_bind(SIM(k), devfd, iommufd, uuid, ret_dev_id);
}

int kernel_sim_set_vf_token(Kernel *k, int devfd, const uint8_t uuid[16]) {
	if (!kernel_is_sim(k) || !uuid)
		return -EINVAL;
	SimFile *f;
	int r = sim_get_devfile(SIM(k), devfd, &f);
	if (r < 0)
		return r;
	if (f->kind == FILE_VFIO && !f->ctx)
		return -EINVAL; /* every ioctl but BIND fails before bind */
	/* vfio_pci_core_feature_token(): only a PF vfio-pci gave a token knows the feature. */
	if (!sim_has_vf_token(f->dev))
		return -ENOTTY;
	memcpy(f->dev->token, uuid, sizeof(f->dev->token));
	f->dev->token_set = true;
	return 0;
}

int kernel_sim_hot_reset(Kernel *k, int devfd) {
	if (!kernel_is_sim(k))
		return -EINVAL;
	SimFile *f;
	int r = sim_get_devfile(SIM(k), devfd, &f);
	if (r < 0)
		return r;
	/* A group-path file needs the group fds (not modelled); a cdev file must be bound. */
	if (f->kind == FILE_LEGACY_DEV || !f->ctx)
		return -EINVAL;
	return sim_hot_reset(SIM(k), f);
}

/* The domain a sibling of dobj's group in the same context is attached to. */
static SimObj *group_sibling_hwpt(Sim *s, SimCtx *c, const SimObj *dobj) {
	int group = dobj->file->dev->group;
	for (size_t i = 0; i < c->n_objs; i++) {
		SimObj *o = c->objs[i];
		if (o->type == OBJ_DEVICE && o != dobj && o->hwpt && o->file->dev->group == group)
			return o->hwpt;
	}
	return NULL;
}

static int sim_device_attach(Kernel *k, int devfd, uint32_t pt_id, uint32_t *ret_hwpt_id) {
	Sim *s = SIM(k);
	SimFile *f;
	int r = sim_get_devfile(s, devfd, &f);
	if (r < 0)
		return r;
	if (f->kind == FILE_LEGACY_DEV)
		return -ENOTTY; /* falls through to vfio-pci, which does not know it */
	if (!f->ctx)
		return -EINVAL; /* not bound */
	SimCtx *c = f->ctx;
	SimObj *dobj = f->devobj;
	SimObj *pt = ctx_find(c, pt_id);
	if (!pt)
		return -ENOENT;
	if (pt->type == OBJ_DEVICE)
		return -EINVAL;
	SimObj *ioas = pt->type == OBJ_IOAS ? pt : pt->ioas;

	/* Attachment is group-wide (uapi-facts 2.5, 3.2). A device not yet attached joins the
	 * domain an attached sibling fixed, or fails EINVAL; an attached device replaces, and
	 * then the whole group moves with it. */
	SimGroup *g = sim_find_group(s, f->dev->group);
	SimObj *old = dobj->hwpt;
	SimObj *hwpt = NULL;
	if (!old) {
		SimObj *sib = group_sibling_hwpt(s, c, dobj);
		if (sib) {
			if (pt->type == OBJ_HWPT ? pt != sib : sib->ioas != pt)
				return -EINVAL;
			hwpt = sib;
		}
	}
	if (!hwpt) {
		if (pt->type == OBJ_HWPT)
			hwpt = pt;
		else if (old && old->ioas == pt)
			hwpt = old; /* the kernel tries the IOAS's domains, the current one first */
		else
			/* Reuse an automatic domain of this IOAS (all sim domains are
			 * compatible). */
			for (size_t i = 0; i < c->n_objs && !hwpt; i++)
				if (c->objs[i]->type == OBJ_HWPT && c->objs[i]->ioas == ioas)
					hwpt = c->objs[i];
	}
	if (hwpt && hwpt == old) {
		if (ret_hwpt_id)
			*ret_hwpt_id = hwpt->id;
		return 0;
	}

	/* What the attach will reserve in the IOAS must not collide with mappings or allowed
	 * ranges; a new domain also reserves everything above its aperture and needs
	 * page-aligned mappings. */
	bool move_resv = !old || old->ioas != ioas;
	for (size_t i = 0; g && move_resv && i < g->n_regions; i++) {
		const ReservedRegion *rr = &g->regions[i];
		if (rr->type == RESV_DIRECT_RELAXABLE)
			continue;
		if (ranges_hit(ioas->areas, ioas->n_areas, rr->start, rr->end) ||
		    ranges_hit(ioas->allowed, ioas->n_allowed, rr->start, rr->end))
			return -EADDRINUSE;
	}
	bool ap = s->address_width > 0 && s->address_width < 64;
	uint64_t ap_start = ap ? 1ULL << s->address_width : 0;
	if (!hwpt) {
		if (ap && (ranges_hit(ioas->areas, ioas->n_areas, ap_start, UINT64_MAX) ||
			   ranges_hit(ioas->allowed, ioas->n_allowed, ap_start, UINT64_MAX)))
			return -EADDRINUSE;
		for (size_t i = 0; i < ioas->n_areas; i++)
			if ((ioas->areas[i].start | (ioas->areas[i].last + 1)) &
			    (SIM_PAGE_SIZE - 1))
				return -EADDRINUSE;
	}

	/* The devices that move: this one, or on replace every device of the group attached
	 * in this context (they all share `old`). */
	_cleanup_free_ SimObj **movers = calloc(c->n_objs + 1, sizeof(*movers));
	if (!movers)
		return -ENOMEM;
	size_t n_movers = 0;
	if (old) {
		for (size_t i = 0; i < c->n_objs; i++)
			if (c->objs[i]->type == OBJ_DEVICE && c->objs[i]->hwpt == old)
				movers[n_movers++] = c->objs[i];
	} else
		movers[n_movers++] = dobj;

	/* Commit. Like the kernel's atomic replace, the new domain exists before the old one is
	 * left (so a new automatic HWPT never reuses the old one's id). */
	if (!hwpt) {
		r = ctx_add(c, OBJ_HWPT, &hwpt);
		if (r < 0)
			return r;
		hwpt->ioas = ioas;
		ioas->n_hwpts++;
		if (ap && ioas_resv_add(ioas, ap_start, UINT64_MAX, hwpt) < 0) {
			ioas->n_hwpts--;
			ctx_remove(c, hwpt);
			return -ENOMEM;
		}
	}
	for (size_t m = 0; m < n_movers; m++) {
		SimObj *mv = movers[m];
		for (size_t i = 0; g && move_resv && i < g->n_regions; i++)
			if (g->regions[i].type != RESV_DIRECT_RELAXABLE &&
			    ioas_resv_add(ioas, g->regions[i].start, g->regions[i].end, mv) < 0)
				return -ENOMEM; /* leaves extra reservations: fail-safe, not
						 * exact */
		if (old && move_resv)
			ioas_resv_remove_owner(old->ioas, mv);
		hwpt->users++;
		mv->hwpt = hwpt;
		if (old)
			hwpt_put(c, old); /* frees the old automatic domain with its last user */
	}
	if (ret_hwpt_id)
		*ret_hwpt_id = hwpt->id;
	return 0;
}

static int sim_device_detach(Kernel *k, int devfd) {
	SimFile *f;
	int r = sim_get_devfile(SIM(k), devfd, &f);
	if (r < 0)
		return r;
	if (f->kind == FILE_LEGACY_DEV)
		return -ENOTTY;
	if (!f->ctx)
		return -EINVAL;
	device_detach_obj(f->ctx, f->devobj);
	return 0;
}

static int sim_device_reset(Kernel *k, int devfd) {
	SimFile *f;
	int r = sim_get_devfile(SIM(k), devfd, &f);
	if (r < 0)
		return r;
	if (f->kind == FILE_VFIO && !f->ctx)
		return -EINVAL; /* every ioctl but BIND fails before bind */
	/* vfio_pci_ioctl_reset(): EINVAL when the device has no working function reset. */
	if (!sim_reset_works(SIM(k), f->dev))
		return -EINVAL;
	return 0;
}

static int sim_hw_info(Kernel *k, int iommufd, uint32_t dev_id, KernelHwInfo *ret) {
	Sim *s = SIM(k);
	SimCtx *c;
	int r = sim_get_ctx(s, iommufd, &c);
	if (r < 0)
		return r;
	if (!ctx_find_type(c, dev_id, OBJ_DEVICE))
		return -ENOENT;
	*ret = (KernelHwInfo){
		.data_type = s->intel ? IOMMU_HW_INFO_TYPE_INTEL_VTD : IOMMU_HW_INFO_TYPE_NONE,
		.capabilities = 0,
		.max_pasid_log2 = 0,
	};
	return 0;
}

/* ---- vtable: legacy path ------------------------------------------------------------ */

static int sim_legacy_container_open(Kernel *k, int *ret_container) {
	Sim *s = SIM(k);
	if (!s->vfio_legacy)
		return -ENOENT; /* no /dev/vfio/vfio */
	SimContainer *ct = calloc(1, sizeof(*ct));
	if (!ct)
		return -ENOMEM;
	char name[64];
	SimFile *f;
	int fd = -EBADF;
	snprintf(name, sizeof(name), "ioasid-sim:vfio-container:%u", ++s->container_serial);
	int r = sim_file_new(s, FILE_CONTAINER, name, &f, &fd);
	if (r < 0) {
		free(ct);
		return r;
	}
	f->container = ct;
	ct->refs = 1;
	*ret_container = fd;
	return 0;
}

static int sim_legacy_group_open(Kernel *k, int group, int container, int *ret_group) {
	Sim *s = SIM(k);
	SimGroup *g = s->vfio_legacy ? sim_find_group(s, group) : NULL;
	if (!g)
		return -ENODEV; /* no /dev/vfio/<group> */
	SimFile *fc;
	int r = sim_file_lookup(s, container, &fc);
	if (r < 0)
		return r;
	if (!fc || fc->kind != FILE_CONTAINER)
		return -EINVAL; /* SET_CONTAINER: not a container file */
	if (g->node_open || g->owner)
		return -EBUSY; /* group node open elsewhere, or a cdev of the group is bound */
	/* VFIO_GROUP_GET_STATUS without VIABLE: reported as EPERM, which is what
	 * VFIO_GROUP_SET_CONTAINER would return for a group with a DMA API user. */
	if (!sim_group_viable(s, g))
		return -EPERM;
	if (g->container)
		return -EBUSY; /* still set on another container through open device files */

	char name[64];
	SimFile *fg;
	int fd = -EBADF;
	snprintf(name, sizeof(name), "ioasid-sim:vfio-group:%d", g->number);
	r = sim_file_new(s, FILE_GROUP, name, &fg, &fd);
	if (r < 0)
		return r;
	fg->group = g;
	g->node_open = true;
	g->container = fc->container; /* SET_CONTAINER */
	fc->container->refs++;
	fc->container->n_groups++;
	*ret_group = fd;
	return 0;
}

static int sim_legacy_set_iommu(Kernel *k, int container) {
	Sim *s = SIM(k);
	SimFile *fc;
	int r = sim_file_lookup(s, container, &fc);
	if (r < 0)
		return r;
	if (!fc || fc->kind != FILE_CONTAINER)
		return -ENOTTY;
	/* vfio_ioctl_set_iommu: a container without groups, or with an IOMMU, is -EINVAL. */
	if (fc->container->n_groups == 0 || fc->container->iommu_set)
		return -EINVAL;
	fc->container->iommu_set = true;
	return 0;
}

/* VFIO_GROUP_GET_DEVICE_FD with "BDF" (uuid NULL) or "BDF vf_token=UUID". */
static int sim_legacy_device_open_token(Sim *s, int group_fd, const Device *d, const uint8_t *uuid,
					int *ret_device) {
	SimFile *fg;
	int r = sim_file_lookup(s, group_fd, &fg);
	if (r < 0)
		return r;
	if (!fg || fg->kind != FILE_GROUP)
		return -ENOTTY;
	SimGroup *g = fg->group;
	if (!g->container || !g->container->iommu_set)
		return -EINVAL; /* vfio_group_use_container: no IOMMU driver yet */
	SimDev *dev = d ? sim_find_dev(s, d->bdf) : NULL;
	if (!dev || dev->gone || dev->group != g->number || !sim_driver_is_vfio(dev->driver))
		return -ENODEV;
	/* vfio_device_get_from_name() -> vfio_pci_core_match(): the token rule, on every
	 * kernel (the vtable's open passes a bare name: a VF of a vfio-pci PF is refused). */
	r = sim_match_token(s, dev, uuid);
	if (r < 0)
		return r;
	char name[64];
	SimFile *f;
	int fd = -EBADF;
	snprintf(name, sizeof(name), "ioasid-sim:vfio-legacy:%s", dev->bdf);
	r = sim_file_new(s, FILE_LEGACY_DEV, name, &f, &fd);
	if (r < 0)
		return r;
	f->dev = dev;
	f->group = g;
	g->legacy_devs++;
	sim_vf_opened(s, f);
	*ret_device = fd;
	return 0;
}

static int sim_legacy_device_open(Kernel *k, int group_fd, const Device *d, int *ret_device) {
	return sim_legacy_device_open_token(SIM(k), group_fd, d, NULL, ret_device);
}

int kernel_sim_legacy_device_open_token(Kernel *k, int group_fd, const Device *d,
					const uint8_t uuid[16], int *ret_device) {
	if (!kernel_is_sim(k))
		return -EINVAL;
	return sim_legacy_device_open_token(SIM(k), group_fd, d, uuid, ret_device);
}

static int sim_legacy_open(Kernel *k, const Device *d, int *ret_container, int *ret_group,
			   int *ret_device) {
	Sim *s = SIM(k);
	if (!s->vfio_legacy)
		return -ENOENT; /* no /dev/vfio/vfio */
	SimDev *dev = d ? sim_find_dev(s, d->bdf) : NULL;
	if (!dev || dev->gone || !sim_driver_is_vfio(dev->driver))
		return -ENODEV;
	int cfd = -EBADF, gfd = -EBADF, dfd = -EBADF;
	int r = sim_legacy_container_open(k, &cfd);
	if (r < 0)
		return r;
	r = sim_legacy_group_open(k, dev->group, cfd, &gfd);
	if (r >= 0)
		r = sim_legacy_set_iommu(k, cfd);
	if (r >= 0)
		r = sim_legacy_device_open(k, gfd, d, &dfd);
	if (r < 0) {
		if (gfd >= 0)
			(void)sim_close(k, gfd);
		(void)sim_close(k, cfd);
		return r;
	}
	*ret_container = cfd;
	*ret_group = gfd;
	*ret_device = dfd;
	return 0;
}

/* ---- close ------------------------------------------------------------------------- */

/* The last reference to f's open file description went (in any process): what the kernel's
 * release of that file does. */
static void sim_file_released(Sim *s, SimFile *f) {
	switch (f->kind) {
	case FILE_IOMMUFD:
		/* The context outlives its last iommufd file while devices are bound. */
		f->ctx->fd_open = false;
		ctx_maybe_free(f->ctx);
		break;
	case FILE_VFIO:
		sim_unbind(s, f);
		break;
	case FILE_CONTAINER:
		container_put(f->container);
		break;
	case FILE_GROUP:
		f->group->node_open = false;
		legacy_group_maybe_release(f->group);
		break;
	case FILE_LEGACY_DEV:
		sim_vf_closed(f);
		f->group->legacy_devs--;
		legacy_group_maybe_release(f->group);
		break;
	case FILE_VHOST_VDPA:
		f->vdpa->opened = false; /* vhost_vdpa_release(), which resets the device */
		f->vdpa->status = 0;
		break;
	}
	sim_file_forget(s, f);
}

/* Takes in every last close reported so far. Events of watches already removed (IN_IGNORED,
 * a file forgotten) are skipped. */
static void sim_drain(Sim *s) {
	if (s->inotify_fd < 0)
		return;
	for (;;) {
		char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
		ssize_t n = read(s->inotify_fd, buf, sizeof(buf));
		if (n <= 0)
			return; /* EAGAIN: drained (EINTR: the next call continues) */
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			p += sizeof(*e) + e->len;
			if (!(e->mask & IN_CLOSE_WRITE))
				continue;
			for (size_t i = 0; i < s->n_files; i++)
				if (s->files[i]->wd == e->wd) {
					sim_file_released(s, s->files[i]);
					break;
				}
		}
	}
}

/* close(2) of the caller's fd: the file is released when its last reference goes, here or
 * in any other process (see the header). */
static int sim_close(Kernel *k, int fd) {
	if (fd < 0)
		return -EBADF;
	(void)SIM(k);
	return RET_NERRNO(close(fd));
}

static int sim_events_fd(Kernel *k) {
	Sim *s = k->userdata;
	return s->inotify_fd;
}

static int sim_sync(Kernel *k) {
	(void)SIM(k);
	return 0;
}

/* ---- checking fds handed back -------------------------------------------------------- */

/*
 * A file of this sim is known by its inode. A file of an earlier sim (the daemon before a
 * restart, its fds kept in the fdstore) is unknown to this one: it is recognised by what the
 * earlier sim named it, on a memfd (F_GET_SEALS answers only for memfds and other shmem
 * files), and the name must be exactly that of the file the record says.
 */
/* The name an earlier sim gave the memfd fd into buf (size 256): 0, -ESTALE for any other
 * file. */
static int sim_earlier_name(int fd, char *buf, const char **ret_name) {
	if (fcntl(fd, F_GET_SEALS) < 0)
		return -ESTALE;
	char link[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, buf, 255);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	static const char memfd[] = "/memfd:", deleted[] = " (deleted)";
	size_t ml = sizeof(memfd) - 1, dl = sizeof(deleted) - 1;
	if ((size_t)n <= ml + dl || !strneq(buf, memfd, ml) || !streq(buf + n - dl, deleted))
		return -ESTALE;
	buf[n - dl] = 0;
	*ret_name = buf + ml;
	return 0;
}

static int sim_fd_check(Kernel *k, int fd, const Device *d) {
	SimFile *f = NULL;
	int r = sim_file_lookup(SIM(k), fd, &f);
	if (r < 0)
		return r;
	if (f) {
		if (!d)
			return f->kind == FILE_IOMMUFD ? 0 : -ESTALE;
		return f->kind == FILE_VFIO && f->dev && streq(f->dev->bdf, d->bdf) ? 0 : -ESTALE;
	}
	char target[256];
	const char *name;
	if ((r = sim_earlier_name(fd, target, &name)) < 0)
		return r;
	if (d) {
		char want[64];
		snprintf(want, sizeof(want), "ioasid-sim:vfio:%s", d->bdf);
		return streq(name, want) ? 0 : -ESTALE;
	}
	static const char io[] = "ioasid-sim:iommufd:";
	const char *num = name + sizeof(io) - 1;
	if (!strneq(name, io, sizeof(io) - 1) || !*num || strspn(num, "0123456789") != strlen(num))
		return -ESTALE;
	return 0;
}

/* An earlier sim's vhost-vdpa file of sv becomes this sim's: the device is open (exclusive),
 * its status is this sim's (0: no call but the daemon's changes it), and its last close is
 * watched like a file this sim made. The pin is a read-only open of the same inode (its own
 * close reports no IN_CLOSE_WRITE). */
static int sim_adopt_vdpa(Sim *s, int fd, SimVdpa *sv) {
	char path[32];
	struct stat st;
	SimFile *f = NULL;
	if (fstat(fd, &st) < 0)
		return -errno;
	fd_path(fd, path);
	_cleanup_close_ int pin = open(path, O_RDONLY | O_CLOEXEC);
	if (pin < 0)
		return -errno;
	int r = sim_file_watch(s, FILE_VHOST_VDPA, &pin, path, &st, &f);
	if (r < 0)
		return r;
	f->vdpa = sv;
	sv->opened = true;
	sv->status = 0;
	return 0;
}

/* A vhost-vdpa file of v: this sim's, or an earlier sim's named for v (adopted: from then on
 * it is this sim's file of v). */
static int sim_vhost_vdpa_fd_check(Kernel *k, int fd, const VdpaDevice *v) {
	SimFile *f = NULL;
	int r = sim_file_lookup(SIM(k), fd, &f);
	if (r < 0)
		return r;
	if (!v)
		return -EINVAL;
	if (f)
		return f->kind == FILE_VHOST_VDPA && streq(f->vdpa->name, v->name) &&
				       !f->vdpa->gone && v->vhost_name
			       ? 0
			       : -ESTALE;
	char target[256], want[300];
	const char *name;
	if ((r = sim_earlier_name(fd, target, &name)) < 0)
		return r;
	snprintf(want, sizeof(want), "ioasid-sim:vhost-vdpa:%s", v->name);
	SimVdpa *sv = sim_find_vdpa(SIM(k), v->name);
	if (!v->vhost_name || !streq(name, want) || !sv || sv->gone)
		return -ESTALE;
	/* Another file of the device is open here: the kernel's exclusive open says there
	 * cannot be two. */
	if (sv->opened)
		return -EBUSY;
	return sim_adopt_vdpa(SIM(k), fd, sv);
}

/* ---- host changes ------------------------------------------------------------------- */

int kernel_sim_unplug(Kernel *k, const char *bdf) {
	if (!kernel_is_sim(k) || !bdf)
		return -EINVAL;
	SimDev *d = sim_find_dev(SIM(k), bdf);
	if (!d)
		return -ENOENT;
	d->gone = true;
	return 0;
}

int kernel_sim_set_driver(Kernel *k, const char *bdf, const char *driver, const char *vfio_name) {
	if (!kernel_is_sim(k) || !bdf)
		return -EINVAL;
	SimDev *d = sim_find_dev(SIM(k), bdf);
	if (!d)
		return -ENOENT;
	char *dr = NULL, *vn = NULL;
	if ((driver && !(dr = strdup(driver))) || (vfio_name && !(vn = strdup(vfio_name)))) {
		free(dr);
		return -ENOMEM;
	}
	free(d->driver);
	free(d->vfio_name);
	d->driver = dr;
	d->vfio_name = vn;
	return 0;
}

/* ---- lifetime ----------------------------------------------------------------------- */

static void sim_mgmts_free(Sim *s) {
	for (size_t i = 0; i < s->n_mgmts; i++) {
		free(s->mgmts[i].bus);
		free(s->mgmts[i].name);
	}
	free(s->mgmts);
	s->mgmts = NULL;
	s->n_mgmts = 0;
}

static void sim_free(Kernel *k) {
	Sim *s = SIM(k);
	/* Contexts are reachable only through files; collect them once. */
	for (size_t i = 0; i < s->n_files; i++) {
		SimFile *f = s->files[i];
		SimCtx *c = f->kind == FILE_IOMMUFD || f->kind == FILE_VFIO ? f->ctx : NULL;
		if (!c)
			continue;
		for (size_t j = i + 1; j < s->n_files; j++)
			if ((s->files[j]->kind == FILE_IOMMUFD || s->files[j]->kind == FILE_VFIO) &&
			    s->files[j]->ctx == c)
				s->files[j]->ctx = NULL;
		ctx_free(c);
	}
	/* Containers are shared by their file and the groups set on them: free each once. */
	_cleanup_free_ SimContainer **cts = calloc(s->n_files + s->n_groups + 1, sizeof(*cts));
	size_t n_cts = 0;
	for (size_t i = 0; i < s->n_files + s->n_groups; i++) {
		SimContainer *ct = i < s->n_files ? (s->files[i]->kind == FILE_CONTAINER
							     ? s->files[i]->container
							     : NULL)
						  : s->groups[i - s->n_files]->container;
		bool seen = !ct;
		for (size_t j = 0; j < n_cts && !seen; j++)
			seen = cts[j] == ct;
		if (seen)
			continue;
		if (!cts)
			break; /* out of memory: leak rather than risk a double free */
		cts[n_cts++] = ct;
		free(ct);
	}
	for (size_t i = 0; i < s->n_files; i++) {
		safe_close(s->files[i]->pin_fd);
		free(s->files[i]);
	}
	free(s->files);
	safe_close(s->inotify_fd);
	for (size_t i = 0; i < s->n_groups; i++) {
		free(s->groups[i]->regions);
		free(s->groups[i]->members);
		free(s->groups[i]);
	}
	for (size_t i = 0; i < s->n_devs; i++) {
		free(s->devs[i]->driver);
		free(s->devs[i]->vfio_name);
		free(s->devs[i]->parent);
		free(s->devs[i]->physfn);
		free(s->devs[i]);
	}
	free(s->devs);
	for (size_t i = 0; i < s->n_vdpas; i++) {
		sim_vdpa_forget(s->vdpas[i]);
		free(s->vdpas[i]->name);
		free(s->vdpas[i]);
	}
	free(s->vdpas);
	sim_mgmts_free(s);
	free(s->groups);
	free(s);
}

/* Updates (or adds) the sim's copy of one device from the host model. */
static int sim_sync_dev(Sim *s, const Device *d) {
	SimDev *sd = sim_find_dev(s, d->bdf);
	if (!sd) {
		SimDev **devs = realloc(s->devs, (s->n_devs + 1) * sizeof(*devs));
		if (!devs)
			return -ENOMEM;
		s->devs = devs;
		sd = calloc(1, sizeof(*sd));
		if (!sd)
			return -ENOMEM;
		snprintf(sd->bdf, sizeof(sd->bdf), "%s", d->bdf);
		sd->group = -1;
		s->devs[s->n_devs++] = sd;
	}
	char *dr = NULL, *vn = NULL, *pa = NULL, *pf = NULL;
	if ((d->driver && !(dr = strdup(d->driver))) ||
	    (d->vfio_name && !(vn = strdup(d->vfio_name))) ||
	    (d->parent && !(pa = strdup(d->parent))) || (d->physfn && !(pf = strdup(d->physfn)))) {
		free(dr);
		free(vn);
		free(pa);
		return -ENOMEM;
	}
	free(sd->driver);
	free(sd->vfio_name);
	free(sd->parent);
	free(sd->physfn);
	sd->driver = dr;
	sd->vfio_name = vn;
	sd->parent = pa;
	sd->physfn = pf;
	sd->gone = false;
	sd->bridge = (d->class >> 8) == 0x0604;
	sd->sriov_capable = d->sriov_totalvfs >= 0;
	sd->reset_known = d->reset_known;
	sd->reset_function = sd->reset_bus = false;
	for (char **m = d->reset_methods; m && *m; m++) {
		if (depend_method_is_function_level(*m))
			sd->reset_function = true;
		else
			sd->reset_bus = true; /* "bus", "cxl_bus", "slot" */
	}
	if (!sd->bound_file)
		sd->group = d->iommu_group; /* a bound device cannot change group */
	return 0;
}

/* Updates (or adds) a group; regions replaced. */
static int sim_sync_group(Sim *s, const Group *hg) {
	int number = hg->number;
	const ReservedRegion *regions = hg->regions;
	size_t n = hg->n_regions;
	SimGroup *sg = sim_find_group(s, number);
	if (!sg) {
		SimGroup **gs = realloc(s->groups, (s->n_groups + 1) * sizeof(*gs));
		if (!gs)
			return -ENOMEM;
		s->groups = gs;
		sg = calloc(1, sizeof(*sg));
		if (!sg)
			return -ENOMEM;
		sg->number = number;
		s->groups[s->n_groups++] = sg;
	}
	ReservedRegion *copy = NULL;
	if (n > 0) {
		copy = calloc(n, sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, regions, n * sizeof(*copy));
	}
	free(sg->regions);
	sg->regions = copy;
	sg->n_regions = n;
	sg->foreign_dma_user = false;
	for (size_t i = 0; i < hg->n_foreign_members; i++) {
		const ForeignMember *f = &hg->foreign_members[i];
		if (!f->driver_known || (f->driver && !sim_driver_is_vfio(f->driver)))
			sg->foreign_dma_user = true;
	}
	return 0;
}

/* Is the kernel release ("6.12.117+deb13-amd64") at least major.minor? true when unknown. */
/* Updates (or adds) a vDPA device; one the host no longer has is gone (an open file of it
 * stays open, as in the kernel, where deleting it waits for the close). */
static int sim_sync_vdpa(Sim *s, const VdpaDevice *v) {
	SimVdpa *sv = sim_find_vdpa(s, v->name);
	if (!sv) {
		SimVdpa **l = reallocarray(s->vdpas, s->n_vdpas + 1, sizeof(*l));
		if (!l)
			return -ENOMEM;
		s->vdpas = l;
		if (!(sv = calloc(1, sizeof(*sv))) || !(sv->name = strdup(v->name))) {
			free(sv);
			return -ENOMEM;
		}
		s->vdpas[s->n_vdpas++] = sv;
	}
	char *pa = NULL, *vn = NULL, *mb = NULL, *mn = NULL, *dr = NULL;
	if ((v->parent && !(pa = strdup(v->parent->bdf))) ||
	    (v->vhost_name && !(vn = strdup(v->vhost_name))) ||
	    (v->mgmtdev_bus && !(mb = strdup(v->mgmtdev_bus))) ||
	    (v->mgmtdev_name && !(mn = strdup(v->mgmtdev_name))) ||
	    (v->driver && !(dr = strdup(v->driver)))) {
		free(pa);
		free(vn);
		free(mb);
		free(mn);
		return -ENOMEM;
	}
	sim_vdpa_forget(sv);
	sv->parent = pa;
	sv->vhost_name = vn;
	sv->mgmt_bus = mb;
	sv->mgmt_name = mn;
	sv->driver = dr;
	sv->device_id = v->device_id;
	sv->vendor_id = v->vendor_id;
	if (vn && !s->vhost_major)
		s->vhost_major = v->vhost_major;
	sv->vhost_major = v->vhost_major;
	sv->vhost_minor = v->vhost_minor;
	sv->gone = false;
	return 0;
}

/* The management devices, replaced by the host's; a PCI one's devices report the function's
 * subsystem vendor (vp_vdpa: virtio_pci_modern's id.vendor). */
static int sim_sync_mgmts(Sim *s, const Host *h) {
	sim_mgmts_free(s);
	s->vdpa_family = h->n_vdpa_mgmtdevs > 0 || h->n_vdpa_devices > 0;
	if (h->n_vdpa_mgmtdevs == 0)
		return 0;
	if (!(s->mgmts = calloc(h->n_vdpa_mgmtdevs, sizeof(*s->mgmts))))
		return -ENOMEM;
	for (size_t i = 0; i < h->n_vdpa_mgmtdevs; i++) {
		const VdpaMgmtDev *m = &h->vdpa_mgmtdevs[i];
		SimMgmt *sm = &s->mgmts[s->n_mgmts++];
		sm->supported_classes = m->supported_classes;
		if (!(sm->name = strdup(m->name)) || (m->bus && !(sm->bus = strdup(m->bus))))
			return -ENOMEM;
		const Device *d = m->bus && streq(m->bus, "pci") ? host_find_device(h, m->name)
								 : NULL;
		sm->vendor_id = d ? d->subsystem_vendor : 0;
	}
	return 0;
}

static bool sim_release_at_least(const char *release, unsigned major, unsigned minor) {
	unsigned ma, mi;
	if (!release || sscanf(release, "%u.%u", &ma, &mi) != 2)
		return true;
	return ma > major || (ma == major && mi >= minor);
}

static int sim_copy_host(Sim *s, const Host *h) {
	int r;
	s->members_stale = true; /* devices may change group, groups may be added */
	/* Devices that left the host: their cdev is gone; bound files stay bound. */
	for (size_t i = 0; i < s->n_devs; i++) {
		bool present = false;
		for (size_t j = 0; j < h->n_devices && !present; j++)
			present = streq(h->devices[j].bdf, s->devs[i]->bdf);
		if (!present)
			s->devs[i]->gone = true;
	}
	for (size_t i = 0; i < h->n_devices; i++)
		if ((r = sim_sync_dev(s, &h->devices[i])) < 0)
			return r;
	for (size_t i = 0; i < h->n_groups; i++)
		if ((r = sim_sync_group(s, &h->groups[i])) < 0)
			return r;
	for (size_t i = 0; i < s->n_vdpas; i++)
		s->vdpas[i]->gone = !host_find_vdpa_device(h, s->vdpas[i]->name);
	for (size_t i = 0; i < h->n_vdpa_devices; i++)
		if ((r = sim_sync_vdpa(s, &h->vdpa_devices[i])) < 0)
			return r;
	if ((r = sim_sync_mgmts(s, h)) < 0)
		return r;
	/* Devices may name groups the snapshot does not list: model them without regions. */
	for (size_t i = 0; i < s->n_devs; i++) {
		int n = s->devs[i]->group;
		Group bare = { .number = n };
		if (n >= 0 && !sim_find_group(s, n) && (r = sim_sync_group(s, &bare)) < 0)
			return r;
	}
	const HostKernel *hk = &h->kernel;
	s->api = hk->iommufd == TRI_YES       ? KERNEL_API_IOMMUFD
		 : hk->vfio_legacy == TRI_YES ? KERNEL_API_LEGACY
					      : KERNEL_API_NONE;
	s->vfio_legacy = hk->vfio_legacy == TRI_YES;
	s->cdev_vf_token = sim_release_at_least(hk->release, 6, 17);
	s->intel = hk->iommu_vendor && streq(hk->iommu_vendor, "intel");
	s->interrupt_remapping = hk->interrupt_remapping;
	s->address_width = hk->address_width > 0 ? hk->address_width : SIM_DEFAULT_ADDRESS_WIDTH;
	return 0;
}

int kernel_sim_sync_host(Kernel *k, const Host *host) {
	if (!kernel_is_sim(k) || !host)
		return -EINVAL;
	return sim_copy_host(SIM(k), host);
}

int kernel_sim_new(const Host *host, Kernel **ret) {
	if (!host || !ret)
		return -EINVAL;
	Sim *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->kernel.ops = &sim_ops;
	s->kernel.userdata = s;
	s->cap_sys_resource_override = -1;
	s->cap_net_admin_override = -1;
	s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->inotify_fd < 0) {
		int r = -errno;
		free(s);
		return r;
	}
	int r = sim_copy_host(s, host);
	if (r < 0) {
		sim_free(&s->kernel);
		return r;
	}
	*ret = &s->kernel;
	return 0;
}

static const KernelOps sim_ops = {
	.name = "sim",
	.free = sim_free,
	.api = sim_api,
	.iommufd_open = sim_iommufd_open,
	.iommufd_set_rlimit_mode = sim_iommufd_set_rlimit_mode,
	.iommufd_get_rlimit_mode = sim_iommufd_get_rlimit_mode,
	.ioas_alloc = sim_ioas_alloc,
	.ioas_destroy = sim_ioas_destroy,
	.ioas_allow_iovas = sim_ioas_allow_iovas,
	.ioas_iova_ranges = sim_ioas_iova_ranges,
	.ioas_map = sim_ioas_map,
	.ioas_unmap = sim_ioas_unmap,
	.ioas_set_huge_pages = sim_ioas_set_huge_pages,
	.device_open = sim_device_open,
	.device_bind = sim_device_bind,
	.device_attach = sim_device_attach,
	.device_detach = sim_device_detach,
	.device_reset = sim_device_reset,
	.hw_info = sim_hw_info,
	.vhost_vdpa_open = sim_vhost_vdpa_open,
	.vhost_vdpa_set_status = sim_vhost_vdpa_set_status,
	.vhost_vdpa_get_status = sim_vhost_vdpa_get_status,
	.vhost_vdpa_fd_check = sim_vhost_vdpa_fd_check,
	.vdpa_dump = sim_vdpa_dump,
	.vdpa_dev_add = sim_vdpa_dev_add,
	.vdpa_dev_del = sim_vdpa_dev_del,
	.legacy_open = sim_legacy_open,
	.legacy_container_open = sim_legacy_container_open,
	.legacy_group_open = sim_legacy_group_open,
	.legacy_set_iommu = sim_legacy_set_iommu,
	.legacy_device_open = sim_legacy_device_open,
	.close = sim_close,
	.fd_check = sim_fd_check,
	.events_fd = sim_events_fd,
	.sync = sim_sync,
};
