/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The host model: PCI devices, IOMMU groups and the host-wide facts the CLI and the daemon
 * reason about. Two sources fill the same structs: the live system (libudev + sysfs,
 * host-live.c) and a JSON snapshot (host-json.c, written by `ioasidctl snapshot`).
 *
 * Ownership: a Host owns every Device and Group in it. Group.members points into
 * Host.devices; Device.group points into Host.groups. Both arrays are sorted (devices by
 * bdf_cmp(): numeric, domain 10000 after ffff; groups by number) so lookups can bisect.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

typedef struct Group Group;

/*
 * A member of an IOMMU group the model does not describe as a PCI function, as
 * /sys/kernel/iommu_groups/N/devices lists it. ioasid brokers PCI functions only, but such a
 * member takes part in the group's DMA ownership like any other: on a host driver it blocks.
 */
typedef struct ForeignMember {
	char *name;   /* the sysfs device name: "3100000.usb" */
	char *bus;    /* its subsystem ("platform", "amba"); NULL when unknown */
	char *driver; /* the bound driver; NULL when none, or when !driver_known */
	/* false when the source did not say (a snapshot from before drivers were recorded,
	 * which listed names alone): such a member cannot be judged and blocks. */
	bool driver_known;
} ForeignMember;

typedef enum ReservedRegionType {
	RESV_DIRECT,
	RESV_DIRECT_RELAXABLE,
	RESV_RESERVED,
	RESV_MSI,
	_RESV_TYPE_MAX,
} ReservedRegionType;

typedef struct ReservedRegion {
	uint64_t start;
	uint64_t end; /* inclusive, as sysfs prints it */
	ReservedRegionType type;
} ReservedRegion;

typedef struct Device {
	char bdf[BDF_MAX]; /* canonical "dddd:bb:dd.f" */
	uint16_t vendor, device;
	uint16_t subsystem_vendor, subsystem_device;
	uint32_t class; /* 24 bits: base, sub, prog-if */
	uint8_t revision;
	char *vendor_name;               /* udev hwdb; NULL when unknown */
	char *device_name;               /* udev hwdb; NULL when unknown */
	char *driver;                    /* bound driver name; NULL when none */
	int iommu_group;                 /* -1 when the device has no IOMMU group */
	Group *group;                    /* NULL when iommu_group < 0 */
	char *vfio_name;                 /* "vfio3" (cdev under vfio-dev/), or NULL */
	unsigned vfio_major, vfio_minor; /* dev_t of the cdev, valid when vfio_name */
	bool noiommu;                    /* the cdev is a noiommu one ("noiommu-vfioN") */
	int numa_node;                   /* -1 when unknown */
	char *parent;       /* BDF of the upstream PCI device (bridge/port), NULL on a root bus */
	char **bridge_path; /* upstream chain, nearest first (strv, may be NULL) */
	/* SR-IOV */
	int sriov_totalvfs; /* -1 when the device is not SR-IOV capable */
	int sriov_numvfs;
	char *physfn;   /* BDF of the PF when this is a VF, else NULL */
	char **virtfn;  /* BDFs of the VFs, in virtfnN order (strv, may be NULL) */
	char **netdevs; /* interface names under net/ (strv, may be NULL) */
	/* Reset: the methods sysfs reset_method lists, in the kernel's order of preference
	 * ("device_specific", "acpi", "flr", "af_flr", "pm", "bus", "cxl_bus"; strv, NULL when
	 * none). reset_known is false when the source did not say (a snapshot without the field,
	 * a kernel before 5.15 that has "reset" but no "reset_method"); the kernel hides both
	 * attributes on a device with no reset method at all, which is known and empty. See
	 * common/depend.h for what a reset takes down. */
	char **reset_methods;
	bool reset_known;
	char **properties; /* udev properties "KEY=VALUE", sorted (strv, may be NULL) */
} Device;

struct Group {
	int number;
	char *type; /* default domain type: "DMA", "DMA-FQ", "identity", ...; NULL if unknown */
	ReservedRegion *regions;
	size_t n_regions;
	Device **members; /* sorted by bdf_cmp() */
	size_t n_members;
	/* Input to host_finalize() only: the member BDFs as the source listed them (JSON
	 * "devices" array, /sys/kernel/iommu_groups/N/devices). When set, finalize checks that
	 * they are exactly the devices whose iommu_group is this group, then frees it; when NULL
	 * the members are derived from Device.iommu_group alone. Always NULL after finalize. */
	char **member_bdfs;
	/* Members that are not PCI functions of the model: platform (amba, fsl-mc, ...)
	 * devices on SMMU hosts, or PCI addresses sysfs spells in a way the model cannot
	 * parse; sorted by name. viability_group() judges them like PCI members. */
	ForeignMember *foreign_members;
	size_t n_foreign_members;
};

typedef enum Tristate { TRI_UNKNOWN = -1, TRI_NO = 0, TRI_YES = 1 } Tristate;

typedef struct HostKernel {
	char *release;      /* uname -r; NULL if unknown */
	char *cmdline;      /* /proc/cmdline; NULL if unknown */
	char **iommu_units; /* /sys/class/iommu entries ("dmar0", "ivhd0"); NULL when none */
	char *iommu_vendor; /* "intel", "amd", "arm-smmu", "virtio", "other"; NULL when none */
	Tristate interrupt_remapping;
	int address_width;     /* IOMMU address width in bits when the host shows it, else 0 */
	Tristate iommufd;      /* /dev/iommu present */
	Tristate vfio_cdev;    /* /dev/vfio/devices (CONFIG_VFIO_DEVICE_CDEV) */
	Tristate vfio_pci;     /* vfio-pci driver registered (module loaded or built in) */
	Tristate vfio_legacy;  /* /dev/vfio/vfio container present */
	Tristate noiommu_mode; /* vfio enable_unsafe_noiommu_mode=Y */
} HostKernel;

/*
 * vDPA, read through the kernel's "vdpa" generic netlink family (what iproute2's `vdpa`
 * reads; common/vdpa-netlink.c) and the vdpa bus in sysfs. A management device is what
 * creates vDPA devices: a PCI function (bus "pci", name its BDF: vp_vdpa, a VF of a
 * SmartNIC) or a software one without a bus ("vdpasim_net"). A vDPA device hands its user
 * control of DMA through its parent: bound to vhost_vdpa it is a char device
 * /dev/vhost-vdpa-N a user program drives (QEMU's -netdev vhost-vdpa), bound to virtio_vdpa
 * the host kernel uses it as a virtio device.
 */
typedef struct VdpaMgmtDev {
	char *bus;                  /* "pci"; NULL for a software management device */
	char *name;                 /* the BDF on "pci", else the device name ("vdpasim_net") */
	uint64_t supported_classes; /* bit N: virtio device id N
				       (VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES) */
} VdpaMgmtDev;

typedef struct VdpaDevice {
	char *name;         /* "vdpa0" */
	char *mgmtdev_bus;  /* as VdpaMgmtDev.bus */
	char *mgmtdev_name; /* as VdpaMgmtDev.name */
	uint32_t device_id; /* virtio device id: 1 net, 2 block */
	uint32_t vendor_id; /* virtio vendor id (0x1af4 for Red Hat's virtio-pci) */
	char *driver;       /* "vhost_vdpa", "virtio_vdpa"; NULL when none is bound */
	char *vhost_name;   /* "vhost-vdpa-0" when on vhost_vdpa and the char device is known */
	unsigned vhost_major, vhost_minor; /* dev_t of /dev/<vhost_name>, valid when vhost_name */
	const Device *parent; /* the PCI function of a "pci" management device (host_finalize) */
} VdpaDevice;

typedef struct Host {
	char *hostname; /* optional */
	HostKernel kernel;
	Device *devices;
	size_t n_devices;
	Group *groups;
	size_t n_groups;
	/* vDPA management devices (sorted by bus, then name) and devices (by name). None on a
	 * host without the vdpa family (the module not loaded) and in snapshots without them. */
	VdpaMgmtDev *vdpa_mgmtdevs;
	size_t n_vdpa_mgmtdevs;
	VdpaDevice *vdpa_devices;
	size_t n_vdpa_devices;
} Host;

Host *host_free(Host *h);
static inline void host_freep(Host **h) {
	host_free(*h);
}
#define _cleanup_host_free_ _cleanup_(host_freep)

/*
 * host_load_live: scans the running system (the "pci" and "vfio-dev" devices, the udev
 * properties and hwdb names through libudev, the sysfs attributes libudev does not give;
 * see host-live.c). Never fails because the host lacks an IOMMU or VFIO: that is a valid,
 * empty answer. Never opens a device node. Returns 0, -ENOMEM, -errno when sysfs itself
 * cannot be read, -EBADMSG for an unparsable id/class attribute, or -EINVAL when sysfs
 * contradicts itself (a device listed in two IOMMU groups).
 */
int host_load_live(Host **ret);

/*
 * host_amd_features_width: the IOMMU address width an AMD unit's
 * /sys/class/iommu/ivhdN/amd-iommu/features shows, from EFR.HATS (bits 11:10: the host page
 * table levels above 4; the kernel takes HATS + 4 levels, 12 + 9 * levels bits, all 64
 * from 6 levels on). Kernels before 6.0 print EFR alone ("%llx"); later ones two numbers,
 * "EFR2:EFR" when EFR2 was added (6.0) and "EFR:EFR2" since the attribute prints the
 * global EFR/EFR2; the order is not self-describing, so two numbers are read only when
 * either order gives the same HATS (equal fields, or one number 0: an EFR2 with nothing
 * set). Returns 48, 57 or 64; 0 when not determinable (the orders disagree, or HATS is the
 * reserved 3, for which the kernel disables host translation); -EINVAL when text is not
 * one or two hex numbers.
 */
int host_amd_features_width(const char *text);

/*
 * host_interrupts_remapping: whether /proc/interrupts (text, NUL-terminated) shows the
 * kernel remapping interrupts. The chip column of each numbered line is read: a chip
 * named "IR-..." (x86 IR-IO-APIC, IR-PCI-MSI, IR-PCI-MSIX-<BDF>, with VT-d and AMD-Vi
 * alike; "vIR-..." under a virtual IOMMU on some 6.x kernels) is TRI_YES; x86 IO-APIC
 * lines none of which is remapped are TRI_NO; anything else (no numbered lines, a GIC host
 * without IO-APIC) is TRI_UNKNOWN.
 */
Tristate host_interrupts_remapping(const char *text);

/*
 * host_load_json_file / host_load_json_string: parse a snapshot. On failure returns -EINVAL
 * (or -errno from reading the file) and, when ret_error is not NULL, a malloc'd message
 * naming the offending field, e.g. "devices[3].vendor: expected a 4-digit hex string".
 */
int host_load_json_file(const char *path, Host **ret, char **ret_error);
int host_load_json_string(const char *json, Host **ret, char **ret_error);

/* host_to_json_string: the snapshot as a pretty JSON string (malloc'd). */
int host_to_json_string(const Host *h, char **ret);

/* host_finalize: sorts, links Device.group/Group.members, derives bridge_path. Used by both
 * loaders; -EINVAL with *ret_error for inconsistent input (duplicate BDF, group member that
 * does not exist, a parent cycle). Any Group.members set on entry is discarded and rebuilt
 * from Device.iommu_group (checked against Group.member_bdfs when given). Field paths in
 * the message use the indices the arrays had on entry ("devices[3].parent: ..."). */
int host_finalize(Host *h, char **ret_error);

/* Lookups (bisect). NULL when absent. bdf must be canonical. */
const Device *host_find_device(const Host *h, const char *bdf);
const Group *host_find_group(const Host *h, int number);

/* host_find_vdpa_device: the vDPA device named name, NULL when absent. */
const VdpaDevice *host_find_vdpa_device(const Host *h, const char *name);
/*
 * host_vdpa_children: the vDPA devices whose parent is the PCI function d, in name order,
 * as a NULL-terminated malloc'd array of pointers into h (free() it; the elements belong to
 * h) in *ret, NULL when there are none. Returns their number or -ENOMEM.
 */
int host_vdpa_children(const Host *h, const Device *d, const VdpaDevice ***ret);
/* device_is_vdpa_parent: d is the PCI function of a vDPA management device. */
bool device_is_vdpa_parent(const Host *h, const Device *d);
/* vdpa_device_on_vhost: v is bound to vhost_vdpa (a user program can open it). */
bool vdpa_device_on_vhost(const VdpaDevice *v);
/* Frees what v holds (not v itself: it is an element of Host.vdpa_devices). */
void vdpa_device_done(VdpaDevice *v);
/* vdpa_mgmtdev_handle: "pci/0000:00:05.0" or "vdpasim_net", as iproute2 prints it, in buf. */
const char *vdpa_mgmtdev_handle(const char *bus, const char *name, char *buf, size_t size);
/* vdpa_device_class_name: "net", "block", ... for a virtio device id; NULL when unknown. */
const char *vdpa_device_class_name(uint32_t device_id);

/* Helpers on devices. */
bool device_is_bridge(const Device *d);      /* PCI class 0x0604 (incl. root/downstream ports) */
bool device_has_vfio(const Device *d);       /* bound to vfio-pci or a variant (has a cdev) */
bool device_driver_is_vfio(const Device *d); /* its driver is vfio-pci or a variant */
/* host_vfio_legacy_only: VFIO is reached through the legacy container (/dev/vfio/vfio) and
 * group nodes only: the host has no VFIO cdevs (a kernel without iommufd/cdev support). */
bool host_vfio_legacy_only(const Host *h);
/*
 * device_vfio_node: the node a VFIO user opens for d, written to buf: its cdev
 * "/dev/vfio/devices/vfio3" when it has one; on a legacy-only host, for a device on a VFIO
 * driver, its group's node "/dev/vfio/17" (which covers every device of the group). Returns
 * 0, -ENODEV when d has neither, -ENOBUFS when size is too small.
 */
int device_vfio_node(const Host *h, const Device *d, char *buf, size_t size);
/* device_vfio_usable: device_vfio_node() has an answer, i.e. d can be handed out through
 * VFIO on this host (viability of its group aside). */
bool device_vfio_usable(const Host *h, const Device *d);
const char *reserved_region_type_to_string(ReservedRegionType t);
int reserved_region_type_from_string(const char *s); /* -EINVAL when unknown */
