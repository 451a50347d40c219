/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The project's own definitions of the iommufd (/dev/iommu) and VFIO (cdev, group,
 * container, type1) uAPI, written from reference/uapi-facts.md. Debian 12's headers predate
 * iommufd (no <linux/iommufd.h>, and <linux/vfio.h> from 6.1 has no cdev ioctls), so the
 * project carries its own. Names are the kernel's (struct iommu_ioas_map, IOMMU_IOAS_MAP,
 * VFIO_DEVICE_BIND_IOMMUFD, ...) so code reads like the kernel documentation.
 *
 * Contract:
 *   - never include <linux/iommufd.h> or <linux/vfio.h> where this header is visible. This
 *     header defines their include guards (_IOMMUFD_H, VFIO_H) so a later inclusion of
 *     either is a no-op instead of a redefinition error, and refuses to be included after
 *     them;
 *   - every struct is static_asserted (size, alignment, key offsets) against the numbers in
 *     common/uapi-abi.h; common/uapi-check.c asserts the system headers against the same
 *     numbers when a newer system has them;
 *   - structs carry the newest known layout; older kernels accept it (uapi-facts.md 1.1,
 *     2.2: iommufd zero-fills/ignores a zero tail, VFIO reads only argsz's minimum).
 *
 * Everything here is from the facts sheet except the legacy type1 container structs and
 * the VFIO region/irq flag values, which are stable since Linux 3.x and are checked against
 * Debian 12's own <linux/vfio.h> by common/uapi-check.c.
 */

#if defined(_IOMMUFD_H) || defined(VFIO_H) || defined(_UAPIVFIO_H) || defined(_UAPI_IOMMUFD_H) ||  \
	defined(_LINUX_VHOST_H) || defined(_LINUX_VHOST_TYPES_H)
#error "common/uapi.h must not be combined with <linux/iommufd.h>, <linux/vfio.h> or <linux/vhost.h>"
#endif
#define _IOMMUFD_H 1
#define _UAPI_IOMMUFD_H 1
#define VFIO_H 1
#define _UAPIVFIO_H 1
#define _LINUX_VHOST_H 1
#define _LINUX_VHOST_TYPES_H 1

#include <assert.h>
#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "common/uapi-abi.h"

/* ------------------------------------------------------------------------------------- */
/* iommufd                                                                                */

#define IOMMUFD_TYPE (';')
#define IOMMUFD_CMD_BASE 0x80

struct iommu_destroy {
	__u32 size;
	__u32 id;
};
#define IOMMU_DESTROY _IO(IOMMUFD_TYPE, 0x80)

struct iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};
#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, 0x81)

struct iommu_iova_range {
	__aligned_u64 start;
	__aligned_u64 last;
};

struct iommu_ioas_iova_ranges {
	__u32 size;
	__u32 ioas_id;
	__u32 num_iovas;
	__u32 __reserved;
	__aligned_u64 allowed_iovas;
	__aligned_u64 out_iova_alignment;
};
#define IOMMU_IOAS_IOVA_RANGES _IO(IOMMUFD_TYPE, 0x84)

struct iommu_ioas_allow_iovas {
	__u32 size;
	__u32 ioas_id;
	__u32 num_iovas;
	__u32 __reserved;
	__aligned_u64 allowed_iovas;
};
#define IOMMU_IOAS_ALLOW_IOVAS _IO(IOMMUFD_TYPE, 0x82)

enum iommufd_ioas_map_flags {
	IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0,
	IOMMU_IOAS_MAP_WRITEABLE = 1 << 1,
	IOMMU_IOAS_MAP_READABLE = 1 << 2,
};

struct iommu_ioas_map {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 __reserved;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
};
#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, 0x85)

struct iommu_ioas_map_file {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__s32 fd;
	__aligned_u64 start;
	__aligned_u64 length;
	__aligned_u64 iova;
};
#define IOMMU_IOAS_MAP_FILE _IO(IOMMUFD_TYPE, 0x8f)

struct iommu_ioas_copy {
	__u32 size;
	__u32 flags;
	__u32 dst_ioas_id;
	__u32 src_ioas_id;
	__aligned_u64 length;
	__aligned_u64 dst_iova;
	__aligned_u64 src_iova;
};
#define IOMMU_IOAS_COPY _IO(IOMMUFD_TYPE, 0x83)

struct iommu_ioas_unmap {
	__u32 size;
	__u32 ioas_id;
	__aligned_u64 iova;
	__aligned_u64 length;
};
#define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, 0x86)

enum iommufd_option {
	IOMMU_OPTION_RLIMIT_MODE = 0,
	IOMMU_OPTION_HUGE_PAGES = 1,
};

enum iommufd_option_ops {
	IOMMU_OPTION_OP_SET = 0,
	IOMMU_OPTION_OP_GET = 1,
};

struct iommu_option {
	__u32 size;
	__u32 option_id;
	__u16 op;
	__u16 __reserved;
	__u32 object_id;
	__aligned_u64 val64;
};
#define IOMMU_OPTION _IO(IOMMUFD_TYPE, 0x87)

enum iommufd_vfio_ioas_op {
	IOMMU_VFIO_IOAS_GET = 0,
	IOMMU_VFIO_IOAS_SET = 1,
	IOMMU_VFIO_IOAS_CLEAR = 2,
};

struct iommu_vfio_ioas {
	__u32 size;
	__u32 ioas_id;
	__u16 op;
	__u16 __reserved;
};
#define IOMMU_VFIO_IOAS _IO(IOMMUFD_TYPE, 0x88)

enum iommufd_hwpt_alloc_flags {
	IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0,
	IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1,
	IOMMU_HWPT_FAULT_ID_VALID = 1 << 2,
	IOMMU_HWPT_ALLOC_PASID = 1 << 3,
};

enum iommu_hwpt_data_type {
	IOMMU_HWPT_DATA_NONE = 0,
	IOMMU_HWPT_DATA_VTD_S1 = 1,
	IOMMU_HWPT_DATA_ARM_SMMUV3 = 2,
	IOMMU_HWPT_DATA_AMD_GUEST = 3,
};

struct iommu_hwpt_alloc {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 pt_id;
	__u32 out_hwpt_id;
	__u32 __reserved;
	__u32 data_type;
	__u32 data_len;
	__aligned_u64 data_uptr;
	__u32 fault_id;
	__u32 __reserved2;
};
#define IOMMU_HWPT_ALLOC _IO(IOMMUFD_TYPE, 0x89)

enum iommu_hw_info_type {
	IOMMU_HW_INFO_TYPE_NONE = 0,
	IOMMU_HW_INFO_TYPE_DEFAULT = 0,
	IOMMU_HW_INFO_TYPE_INTEL_VTD = 1,
	IOMMU_HW_INFO_TYPE_ARM_SMMUV3 = 2,
	IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV = 3,
	IOMMU_HW_INFO_TYPE_AMD = 4,
};

enum iommufd_hw_capabilities {
	IOMMU_HW_CAP_DIRTY_TRACKING = 1 << 0,
	IOMMU_HW_CAP_PCI_PASID_EXEC = 1 << 1,
	IOMMU_HW_CAP_PCI_PASID_PRIV = 1 << 2,
	IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED = 1 << 3,
};

enum iommufd_hw_info_flags {
	IOMMU_HW_INFO_FLAG_INPUT_TYPE = 1 << 0,
};

struct iommu_hw_info {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 data_len;
	__aligned_u64 data_uptr;
	union {
		__u32 in_data_type;
		__u32 out_data_type;
	};
	__u8 out_max_pasid_log2;
	__u8 __reserved[3];
	__aligned_u64 out_capabilities;
};
#define IOMMU_GET_HW_INFO _IO(IOMMUFD_TYPE, 0x8a)

enum iommu_hw_info_vtd_flags {
	IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 = 1 << 0,
};

struct iommu_hw_info_vtd {
	__u32 flags;
	__u32 __reserved;
	__aligned_u64 cap_reg;
	__aligned_u64 ecap_reg;
};

struct iommu_hwpt_set_dirty_tracking {
	__u32 size;
	__u32 flags;
	__u32 hwpt_id;
	__u32 __reserved;
};
#define IOMMU_HWPT_DIRTY_TRACKING_ENABLE 1
#define IOMMU_HWPT_SET_DIRTY_TRACKING _IO(IOMMUFD_TYPE, 0x8b)

struct iommu_hwpt_get_dirty_bitmap {
	__u32 size;
	__u32 hwpt_id;
	__u32 flags;
	__u32 __reserved;
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 page_size;
	__aligned_u64 data;
};
#define IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR 1
#define IOMMU_HWPT_GET_DIRTY_BITMAP _IO(IOMMUFD_TYPE, 0x8c)

struct iommu_hwpt_invalidate {
	__u32 size;
	__u32 hwpt_id;
	__aligned_u64 data_uptr;
	__u32 data_type;
	__u32 entry_len;
	__u32 entry_num;
	__u32 __reserved;
};
#define IOMMU_HWPT_INVALIDATE _IO(IOMMUFD_TYPE, 0x8d)

struct iommu_fault_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_fault_id;
	__u32 out_fault_fd;
};
#define IOMMU_FAULT_QUEUE_ALLOC _IO(IOMMUFD_TYPE, 0x8e)

struct iommu_hwpt_pgfault {
	__u32 flags;
	__u32 dev_id;
	__u32 pasid;
	__u32 grpid;
	__u32 perm;
	__u32 __reserved;
	__aligned_u64 addr;
	__u32 length;
	__u32 cookie;
};

struct iommu_hwpt_page_response {
	__u32 cookie;
	__u32 code;
};

struct iommu_viommu_alloc {
	__u32 size;
	__u32 flags;
	__u32 type;
	__u32 dev_id;
	__u32 hwpt_id;
	__u32 out_viommu_id;
	__u32 data_len;
	__u32 __reserved;
	__aligned_u64 data_uptr;
};
#define IOMMU_VIOMMU_ALLOC _IO(IOMMUFD_TYPE, 0x90)

struct iommu_vdevice_alloc {
	__u32 size;
	__u32 viommu_id;
	__u32 dev_id;
	__u32 out_vdevice_id;
	__aligned_u64 virt_id;
};
#define IOMMU_VDEVICE_ALLOC _IO(IOMMUFD_TYPE, 0x91)

struct iommu_ioas_change_process {
	__u32 size;
	__u32 __reserved;
};
#define IOMMU_IOAS_CHANGE_PROCESS _IO(IOMMUFD_TYPE, 0x92)

struct iommufd_vevent_header {
	__u32 flags;
	__u32 sequence;
};

struct iommu_veventq_alloc {
	__u32 size;
	__u32 flags;
	__u32 viommu_id;
	__u32 type;
	__u32 veventq_depth;
	__u32 out_veventq_id;
	__u32 out_veventq_fd;
	__u32 __reserved;
};
#define IOMMU_VEVENTQ_ALLOC _IO(IOMMUFD_TYPE, 0x93)

struct iommu_hw_queue_alloc {
	__u32 size;
	__u32 flags;
	__u32 viommu_id;
	__u32 type;
	__u32 index;
	__u32 out_hw_queue_id;
	__aligned_u64 nesting_parent_iova;
	__aligned_u64 length;
};
#define IOMMU_HW_QUEUE_ALLOC _IO(IOMMUFD_TYPE, 0x94)

/* ------------------------------------------------------------------------------------- */
/* VFIO                                                                                   */

#define VFIO_API_VERSION 0
#define VFIO_TYPE1_IOMMU 1
#define VFIO_SPAPR_TCE_IOMMU 2
#define VFIO_TYPE1v2_IOMMU 3
#define VFIO_TYPE (';')
#define VFIO_BASE 100

/* Container (/dev/vfio/vfio) and group (/dev/vfio/N): the legacy path. */
#define VFIO_GET_API_VERSION _IO(VFIO_TYPE, VFIO_BASE + 0)
#define VFIO_CHECK_EXTENSION _IO(VFIO_TYPE, VFIO_BASE + 1)
#define VFIO_SET_IOMMU _IO(VFIO_TYPE, VFIO_BASE + 2)

struct vfio_group_status {
	__u32 argsz;
	__u32 flags;
#define VFIO_GROUP_FLAGS_VIABLE (1 << 0)
#define VFIO_GROUP_FLAGS_CONTAINER_SET (1 << 1)
};
#define VFIO_GROUP_GET_STATUS _IO(VFIO_TYPE, VFIO_BASE + 3)
#define VFIO_GROUP_SET_CONTAINER _IO(VFIO_TYPE, VFIO_BASE + 4)
#define VFIO_GROUP_UNSET_CONTAINER _IO(VFIO_TYPE, VFIO_BASE + 5)
#define VFIO_GROUP_GET_DEVICE_FD _IO(VFIO_TYPE, VFIO_BASE + 6)

struct vfio_info_cap_header {
	__u16 id;
	__u16 version;
	__u32 next;
};

struct vfio_device_info {
	__u32 argsz;
	__u32 flags;
#define VFIO_DEVICE_FLAGS_RESET (1 << 0)
#define VFIO_DEVICE_FLAGS_PCI (1 << 1)
#define VFIO_DEVICE_FLAGS_PLATFORM (1 << 2)
#define VFIO_DEVICE_FLAGS_AMBA (1 << 3)
#define VFIO_DEVICE_FLAGS_CCW (1 << 4)
#define VFIO_DEVICE_FLAGS_AP (1 << 5)
#define VFIO_DEVICE_FLAGS_FSL_MC (1 << 6)
#define VFIO_DEVICE_FLAGS_CAPS (1 << 7)
#define VFIO_DEVICE_FLAGS_CDX (1 << 8)
	__u32 num_regions;
	__u32 num_irqs;
	__u32 cap_offset;
	__u32 pad;
};
#define VFIO_DEVICE_GET_INFO _IO(VFIO_TYPE, VFIO_BASE + 7)

struct vfio_region_info {
	__u32 argsz;
	__u32 flags;
#define VFIO_REGION_INFO_FLAG_READ (1 << 0)
#define VFIO_REGION_INFO_FLAG_WRITE (1 << 1)
#define VFIO_REGION_INFO_FLAG_MMAP (1 << 2)
#define VFIO_REGION_INFO_FLAG_CAPS (1 << 3)
	__u32 index;
	__u32 cap_offset;
	__aligned_u64 size;
	__aligned_u64 offset;
};
#define VFIO_DEVICE_GET_REGION_INFO _IO(VFIO_TYPE, VFIO_BASE + 8)

struct vfio_irq_info {
	__u32 argsz;
	__u32 flags;
	__u32 index;
	__u32 count;
};
#define VFIO_DEVICE_GET_IRQ_INFO _IO(VFIO_TYPE, VFIO_BASE + 9)

struct vfio_irq_set {
	__u32 argsz;
	__u32 flags;
	__u32 index;
	__u32 start;
	__u32 count;
	__u8 data[];
};
#define VFIO_DEVICE_SET_IRQS _IO(VFIO_TYPE, VFIO_BASE + 10)

#define VFIO_DEVICE_RESET _IO(VFIO_TYPE, VFIO_BASE + 11)

struct vfio_pci_dependent_device {
	union {
		__u32 group_id;
		__u32 devid;
#define VFIO_PCI_DEVID_OWNED 0
#define VFIO_PCI_DEVID_NOT_OWNED -1
	};
	__u16 segment;
	__u8 bus;
	__u8 devfn;
};

struct vfio_pci_hot_reset_info {
	__u32 argsz;
	__u32 flags;
#define VFIO_PCI_HOT_RESET_FLAG_DEV_ID (1 << 0)
#define VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED (1 << 1)
	__u32 count;
	struct vfio_pci_dependent_device devices[];
};
#define VFIO_DEVICE_GET_PCI_HOT_RESET_INFO _IO(VFIO_TYPE, VFIO_BASE + 12)

struct vfio_pci_hot_reset {
	__u32 argsz;
	__u32 flags;
	__u32 count;
	__s32 group_fds[];
};
#define VFIO_DEVICE_PCI_HOT_RESET _IO(VFIO_TYPE, VFIO_BASE + 13)

struct vfio_device_feature {
	__u32 argsz;
	__u32 flags;
#define VFIO_DEVICE_FEATURE_MASK (0xffff)
#define VFIO_DEVICE_FEATURE_GET (1 << 16)
#define VFIO_DEVICE_FEATURE_SET (1 << 17)
#define VFIO_DEVICE_FEATURE_PROBE (1 << 18)
	__u8 data[];
};
#define VFIO_DEVICE_FEATURE _IO(VFIO_TYPE, VFIO_BASE + 17)
#define VFIO_DEVICE_FEATURE_PCI_VF_TOKEN (0)
#define VFIO_DEVICE_FEATURE_BUS_MASTER 10

/* The cdev (/dev/vfio/devices/vfioN) ioctls, Linux 6.6+. */
struct vfio_device_bind_iommufd {
	__u32 argsz;
	__u32 flags;
#define VFIO_DEVICE_BIND_FLAG_TOKEN (1 << 0)
	__s32 iommufd;
	__u32 out_devid;
	__aligned_u64 token_uuid_ptr;
};
#define VFIO_DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)

struct vfio_device_attach_iommufd_pt {
	__u32 argsz;
	__u32 flags;
#define VFIO_DEVICE_ATTACH_PASID (1 << 0)
	__u32 pt_id;
	__u32 pasid;
};
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)

struct vfio_device_detach_iommufd_pt {
	__u32 argsz;
	__u32 flags;
#define VFIO_DEVICE_DETACH_PASID (1 << 0)
	__u32 pasid;
};
#define VFIO_DEVICE_DETACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 20)

/* The type1 IOMMU driver of a legacy container. Same nr as the hot-reset ioctls, on a
 * different fd. */
struct vfio_iommu_type1_info {
	__u32 argsz;
	__u32 flags;
#define VFIO_IOMMU_INFO_PGSIZES (1 << 0)
#define VFIO_IOMMU_INFO_CAPS (1 << 1)
	__aligned_u64 iova_pgsizes;
	__u32 cap_offset;
	__u32 pad;
};
#define VFIO_IOMMU_GET_INFO _IO(VFIO_TYPE, VFIO_BASE + 12)

struct vfio_iommu_type1_dma_map {
	__u32 argsz;
	__u32 flags;
#define VFIO_DMA_MAP_FLAG_READ (1 << 0)
#define VFIO_DMA_MAP_FLAG_WRITE (1 << 1)
#define VFIO_DMA_MAP_FLAG_VADDR (1 << 2)
	__aligned_u64 vaddr;
	__aligned_u64 iova;
	__aligned_u64 size;
};
#define VFIO_IOMMU_MAP_DMA _IO(VFIO_TYPE, VFIO_BASE + 13)

struct vfio_iommu_type1_dma_unmap {
	__u32 argsz;
	__u32 flags;
#define VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP (1 << 0)
#define VFIO_DMA_UNMAP_FLAG_ALL (1 << 1)
#define VFIO_DMA_UNMAP_FLAG_VADDR (1 << 2)
	__aligned_u64 iova;
	__aligned_u64 size;
	__u8 data[];
};
#define VFIO_IOMMU_UNMAP_DMA _IO(VFIO_TYPE, VFIO_BASE + 14)

/* ------------------------------------------------------------------------------------- */
/* vhost-vdpa (/dev/vhost-vdpa-N), from include/uapi/linux/vhost.h and vhost_types.h. Only  */
/* what the daemon's revocation and the VM tier's holder use.                            */

#define VHOST_VIRTIO 0xAF
#define VHOST_GET_FEATURES _IOR(VHOST_VIRTIO, 0x00, __u64)
#define VHOST_SET_OWNER _IO(VHOST_VIRTIO, 0x01)
#define VHOST_SET_BACKEND_FEATURES _IOW(VHOST_VIRTIO, 0x25, __u64)
#define VHOST_GET_BACKEND_FEATURES _IOR(VHOST_VIRTIO, 0x26, __u64)
/* The virtio device status byte (VIRTIO_CONFIG_S_*); 0 is a device reset. */
#define VHOST_VDPA_GET_DEVICE_ID _IOR(VHOST_VIRTIO, 0x70, __u32)
#define VHOST_VDPA_GET_STATUS _IOR(VHOST_VIRTIO, 0x71, __u8)
#define VHOST_VDPA_SET_STATUS _IOW(VHOST_VIRTIO, 0x72, __u8)

#define VIRTIO_CONFIG_S_ACKNOWLEDGE 1
#define VIRTIO_CONFIG_S_DRIVER 2
#define VIRTIO_CONFIG_S_DRIVER_OK 4
#define VIRTIO_CONFIG_S_FEATURES_OK 8

#define VHOST_BACKEND_F_IOTLB_MSG_V2 0x1
#define VHOST_BACKEND_F_IOTLB_PERSIST 0x8

/* IOTLB messages are write()n to the char device (vhost_chr_write_iter). */
struct vhost_iotlb_msg {
	__u64 iova;
	__u64 size;
	__u64 uaddr;
#define VHOST_ACCESS_RO 0x1
#define VHOST_ACCESS_WO 0x2
#define VHOST_ACCESS_RW 0x3
	__u8 perm;
#define VHOST_IOTLB_MISS 1
#define VHOST_IOTLB_UPDATE 2
#define VHOST_IOTLB_INVALIDATE 3
#define VHOST_IOTLB_ACCESS_FAIL 4
	__u8 type;
};

#define VHOST_IOTLB_MSG 0x1
#define VHOST_IOTLB_MSG_V2 0x2

struct vhost_msg_v2 {
	__u32 type;
	__u32 asid;
	union {
		struct vhost_iotlb_msg iotlb;
		__u8 padding[64];
	};
};

/* ------------------------------------------------------------------------------------- */
/* Compile-time checks against uapi-abi.h (uapi-facts.md section 7).                      */

#define UAPI_ASSERT_SIZE(s, n) static_assert(sizeof(struct s) == (n), "sizeof(struct " #s ")")
#define UAPI_ASSERT_ALIGN(s, n) static_assert(_Alignof(struct s) == (n), "alignof(struct " #s ")")
#define UAPI_ASSERT_OFF(s, f, n)                                                                   \
	static_assert(offsetof(struct s, f) == (n), "offsetof(struct " #s ", " #f ")")
#define UAPI_ASSERT_IOCTL(name, nr)                                                                \
	static_assert((name) == IOASID_IOCTL(nr), #name " value");                                 \
	static_assert(_IOC_TYPE(name) == ';' && _IOC_NR(name) == (nr) && _IOC_SIZE(name) == 0,     \
		      #name " encoding")

UAPI_ASSERT_SIZE(iommu_destroy, IOASID_SIZEOF_IOMMU_DESTROY);
UAPI_ASSERT_SIZE(iommu_ioas_alloc, IOASID_SIZEOF_IOMMU_IOAS_ALLOC);
UAPI_ASSERT_SIZE(iommu_iova_range, IOASID_SIZEOF_IOMMU_IOVA_RANGE);
UAPI_ASSERT_SIZE(iommu_ioas_iova_ranges, IOASID_SIZEOF_IOMMU_IOAS_IOVA_RANGES);
UAPI_ASSERT_SIZE(iommu_ioas_allow_iovas, IOASID_SIZEOF_IOMMU_IOAS_ALLOW_IOVAS);
UAPI_ASSERT_SIZE(iommu_ioas_map, IOASID_SIZEOF_IOMMU_IOAS_MAP);
UAPI_ASSERT_SIZE(iommu_ioas_map_file, IOASID_SIZEOF_IOMMU_IOAS_MAP_FILE);
UAPI_ASSERT_SIZE(iommu_ioas_copy, IOASID_SIZEOF_IOMMU_IOAS_COPY);
UAPI_ASSERT_SIZE(iommu_ioas_unmap, IOASID_SIZEOF_IOMMU_IOAS_UNMAP);
UAPI_ASSERT_SIZE(iommu_option, IOASID_SIZEOF_IOMMU_OPTION);
UAPI_ASSERT_SIZE(iommu_vfio_ioas, IOASID_SIZEOF_IOMMU_VFIO_IOAS);
UAPI_ASSERT_SIZE(iommu_hwpt_alloc, IOASID_SIZEOF_IOMMU_HWPT_ALLOC);
UAPI_ASSERT_SIZE(iommu_hw_info, IOASID_SIZEOF_IOMMU_HW_INFO);
UAPI_ASSERT_SIZE(iommu_hw_info_vtd, IOASID_SIZEOF_IOMMU_HW_INFO_VTD);
UAPI_ASSERT_SIZE(iommu_hwpt_set_dirty_tracking, IOASID_SIZEOF_IOMMU_HWPT_SET_DIRTY_TRACKING);
UAPI_ASSERT_SIZE(iommu_hwpt_get_dirty_bitmap, IOASID_SIZEOF_IOMMU_HWPT_GET_DIRTY_BITMAP);
UAPI_ASSERT_SIZE(iommu_hwpt_invalidate, IOASID_SIZEOF_IOMMU_HWPT_INVALIDATE);
UAPI_ASSERT_SIZE(iommu_fault_alloc, IOASID_SIZEOF_IOMMU_FAULT_ALLOC);
UAPI_ASSERT_SIZE(iommu_viommu_alloc, IOASID_SIZEOF_IOMMU_VIOMMU_ALLOC);
UAPI_ASSERT_SIZE(iommu_vdevice_alloc, IOASID_SIZEOF_IOMMU_VDEVICE_ALLOC);
UAPI_ASSERT_SIZE(iommu_ioas_change_process, IOASID_SIZEOF_IOMMU_IOAS_CHANGE_PROCESS);
UAPI_ASSERT_SIZE(iommu_veventq_alloc, IOASID_SIZEOF_IOMMU_VEVENTQ_ALLOC);
UAPI_ASSERT_SIZE(iommu_hw_queue_alloc, IOASID_SIZEOF_IOMMU_HW_QUEUE_ALLOC);
UAPI_ASSERT_SIZE(iommu_hwpt_pgfault, IOASID_SIZEOF_IOMMU_HWPT_PGFAULT);
UAPI_ASSERT_SIZE(iommu_hwpt_page_response, IOASID_SIZEOF_IOMMU_HWPT_PAGE_RESPONSE);
UAPI_ASSERT_SIZE(iommufd_vevent_header, IOASID_SIZEOF_IOMMUFD_VEVENT_HEADER);
UAPI_ASSERT_SIZE(vfio_device_bind_iommufd, IOASID_SIZEOF_VFIO_DEVICE_BIND_IOMMUFD);
UAPI_ASSERT_SIZE(vfio_device_attach_iommufd_pt, IOASID_SIZEOF_VFIO_DEVICE_ATTACH_IOMMUFD_PT);
UAPI_ASSERT_SIZE(vfio_device_detach_iommufd_pt, IOASID_SIZEOF_VFIO_DEVICE_DETACH_IOMMUFD_PT);
UAPI_ASSERT_SIZE(vfio_device_info, IOASID_SIZEOF_VFIO_DEVICE_INFO);
UAPI_ASSERT_SIZE(vfio_region_info, IOASID_SIZEOF_VFIO_REGION_INFO);
UAPI_ASSERT_SIZE(vfio_irq_info, IOASID_SIZEOF_VFIO_IRQ_INFO);
UAPI_ASSERT_SIZE(vfio_irq_set, IOASID_SIZEOF_VFIO_IRQ_SET);
UAPI_ASSERT_SIZE(vfio_device_feature, IOASID_SIZEOF_VFIO_DEVICE_FEATURE);
UAPI_ASSERT_SIZE(vfio_pci_hot_reset_info, IOASID_SIZEOF_VFIO_PCI_HOT_RESET_INFO);
UAPI_ASSERT_SIZE(vfio_pci_hot_reset, IOASID_SIZEOF_VFIO_PCI_HOT_RESET);
UAPI_ASSERT_SIZE(vfio_pci_dependent_device, IOASID_SIZEOF_VFIO_PCI_DEPENDENT_DEVICE);
UAPI_ASSERT_SIZE(vfio_info_cap_header, IOASID_SIZEOF_VFIO_INFO_CAP_HEADER);
UAPI_ASSERT_SIZE(vfio_group_status, IOASID_SIZEOF_VFIO_GROUP_STATUS);
UAPI_ASSERT_SIZE(vfio_iommu_type1_info, IOASID_SIZEOF_VFIO_IOMMU_TYPE1_INFO);
UAPI_ASSERT_SIZE(vfio_iommu_type1_dma_map, IOASID_SIZEOF_VFIO_IOMMU_TYPE1_DMA_MAP);
UAPI_ASSERT_SIZE(vfio_iommu_type1_dma_unmap, IOASID_SIZEOF_VFIO_IOMMU_TYPE1_DMA_UNMAP);

/* Alignment 4: the structs without a u64 member; 8: everything with one. */
UAPI_ASSERT_ALIGN(iommu_destroy, 4);
UAPI_ASSERT_ALIGN(iommu_ioas_alloc, 4);
UAPI_ASSERT_ALIGN(iommu_vfio_ioas, 4);
UAPI_ASSERT_ALIGN(iommu_hwpt_set_dirty_tracking, 4);
UAPI_ASSERT_ALIGN(iommu_fault_alloc, 4);
UAPI_ASSERT_ALIGN(iommu_ioas_change_process, 4);
UAPI_ASSERT_ALIGN(iommu_veventq_alloc, 4);
UAPI_ASSERT_ALIGN(vfio_device_attach_iommufd_pt, 4);
UAPI_ASSERT_ALIGN(vfio_device_detach_iommufd_pt, 4);
UAPI_ASSERT_ALIGN(vfio_device_info, 4);
UAPI_ASSERT_ALIGN(iommu_iova_range, 8);
UAPI_ASSERT_ALIGN(iommu_ioas_iova_ranges, 8);
UAPI_ASSERT_ALIGN(iommu_ioas_allow_iovas, 8);
UAPI_ASSERT_ALIGN(iommu_ioas_map, 8);
UAPI_ASSERT_ALIGN(iommu_ioas_map_file, 8);
UAPI_ASSERT_ALIGN(iommu_ioas_copy, 8);
UAPI_ASSERT_ALIGN(iommu_ioas_unmap, 8);
UAPI_ASSERT_ALIGN(iommu_option, 8);
UAPI_ASSERT_ALIGN(iommu_hwpt_alloc, 8);
UAPI_ASSERT_ALIGN(iommu_hw_info, 8);
UAPI_ASSERT_ALIGN(iommu_hw_info_vtd, 8);
UAPI_ASSERT_ALIGN(vfio_device_bind_iommufd, 8);
UAPI_ASSERT_ALIGN(vfio_region_info, 8);
UAPI_ASSERT_ALIGN(vfio_iommu_type1_dma_map, 8);
UAPI_ASSERT_ALIGN(vfio_iommu_type1_dma_unmap, 8);
UAPI_ASSERT_ALIGN(vfio_iommu_type1_info, 8);
UAPI_ASSERT_ALIGN(iommu_hwpt_get_dirty_bitmap, 8);
UAPI_ASSERT_ALIGN(iommu_hwpt_invalidate, 8);
UAPI_ASSERT_ALIGN(iommu_viommu_alloc, 8);
UAPI_ASSERT_ALIGN(iommu_vdevice_alloc, 8);
UAPI_ASSERT_ALIGN(iommu_hw_queue_alloc, 8);
UAPI_ASSERT_ALIGN(iommu_hwpt_pgfault, 8);
UAPI_ASSERT_ALIGN(iommu_hwpt_page_response, 4);
UAPI_ASSERT_ALIGN(iommufd_vevent_header, 4);
UAPI_ASSERT_ALIGN(vfio_irq_info, 4);
UAPI_ASSERT_ALIGN(vfio_irq_set, 4);
UAPI_ASSERT_ALIGN(vfio_device_feature, 4);
UAPI_ASSERT_ALIGN(vfio_pci_hot_reset_info, 4);
UAPI_ASSERT_ALIGN(vfio_pci_hot_reset, 4);
UAPI_ASSERT_ALIGN(vfio_pci_dependent_device, 4);
UAPI_ASSERT_ALIGN(vfio_info_cap_header, 4);
UAPI_ASSERT_ALIGN(vfio_group_status, 4);

UAPI_ASSERT_OFF(iommu_ioas_map, user_va, IOASID_OFFSETOF_IOMMU_IOAS_MAP_USER_VA);
UAPI_ASSERT_OFF(iommu_ioas_map, length, IOASID_OFFSETOF_IOMMU_IOAS_MAP_LENGTH);
UAPI_ASSERT_OFF(iommu_ioas_map, iova, IOASID_OFFSETOF_IOMMU_IOAS_MAP_IOVA);
UAPI_ASSERT_OFF(iommu_ioas_map_file, fd, IOASID_OFFSETOF_IOMMU_IOAS_MAP_FILE_FD);
UAPI_ASSERT_OFF(iommu_ioas_map_file, start, IOASID_OFFSETOF_IOMMU_IOAS_MAP_FILE_START);
UAPI_ASSERT_OFF(iommu_ioas_copy, length, IOASID_OFFSETOF_IOMMU_IOAS_COPY_LENGTH);
UAPI_ASSERT_OFF(iommu_ioas_copy, dst_iova, IOASID_OFFSETOF_IOMMU_IOAS_COPY_DST_IOVA);
UAPI_ASSERT_OFF(iommu_ioas_copy, src_iova, IOASID_OFFSETOF_IOMMU_IOAS_COPY_SRC_IOVA);
UAPI_ASSERT_OFF(iommu_ioas_unmap, iova, IOASID_OFFSETOF_IOMMU_IOAS_UNMAP_IOVA);
UAPI_ASSERT_OFF(iommu_ioas_unmap, length, IOASID_OFFSETOF_IOMMU_IOAS_UNMAP_LENGTH);
UAPI_ASSERT_OFF(iommu_option, op, IOASID_OFFSETOF_IOMMU_OPTION_OP);
UAPI_ASSERT_OFF(iommu_option, object_id, IOASID_OFFSETOF_IOMMU_OPTION_OBJECT_ID);
UAPI_ASSERT_OFF(iommu_option, val64, IOASID_OFFSETOF_IOMMU_OPTION_VAL64);
UAPI_ASSERT_OFF(iommu_ioas_iova_ranges, num_iovas,
		IOASID_OFFSETOF_IOMMU_IOAS_IOVA_RANGES_NUM_IOVAS);
UAPI_ASSERT_OFF(iommu_ioas_iova_ranges, allowed_iovas,
		IOASID_OFFSETOF_IOMMU_IOAS_IOVA_RANGES_ALLOWED_IOVAS);
UAPI_ASSERT_OFF(iommu_ioas_iova_ranges, out_iova_alignment,
		IOASID_OFFSETOF_IOMMU_IOAS_IOVA_RANGES_OUT_IOVA_ALIGNMENT);
UAPI_ASSERT_OFF(iommu_ioas_allow_iovas, allowed_iovas,
		IOASID_OFFSETOF_IOMMU_IOAS_ALLOW_IOVAS_ALLOWED_IOVAS);
UAPI_ASSERT_OFF(iommu_hwpt_alloc, pt_id, IOASID_OFFSETOF_IOMMU_HWPT_ALLOC_PT_ID);
UAPI_ASSERT_OFF(iommu_hwpt_alloc, out_hwpt_id, IOASID_OFFSETOF_IOMMU_HWPT_ALLOC_OUT_HWPT_ID);
UAPI_ASSERT_OFF(iommu_hwpt_alloc, data_type, IOASID_OFFSETOF_IOMMU_HWPT_ALLOC_DATA_TYPE);
UAPI_ASSERT_OFF(iommu_hwpt_alloc, data_uptr, IOASID_OFFSETOF_IOMMU_HWPT_ALLOC_DATA_UPTR);
UAPI_ASSERT_OFF(iommu_hwpt_alloc, fault_id, IOASID_OFFSETOF_IOMMU_HWPT_ALLOC_FAULT_ID);
UAPI_ASSERT_OFF(iommu_hw_info, data_uptr, IOASID_OFFSETOF_IOMMU_HW_INFO_DATA_UPTR);
UAPI_ASSERT_OFF(iommu_hw_info, out_data_type, IOASID_OFFSETOF_IOMMU_HW_INFO_OUT_DATA_TYPE);
UAPI_ASSERT_OFF(iommu_hw_info, out_max_pasid_log2,
		IOASID_OFFSETOF_IOMMU_HW_INFO_OUT_MAX_PASID_LOG2);
UAPI_ASSERT_OFF(iommu_hw_info, out_capabilities, IOASID_OFFSETOF_IOMMU_HW_INFO_OUT_CAPABILITIES);
UAPI_ASSERT_OFF(iommu_hw_info_vtd, cap_reg, IOASID_OFFSETOF_IOMMU_HW_INFO_VTD_CAP_REG);
UAPI_ASSERT_OFF(iommu_hw_info_vtd, ecap_reg, IOASID_OFFSETOF_IOMMU_HW_INFO_VTD_ECAP_REG);
UAPI_ASSERT_OFF(vfio_device_bind_iommufd, iommufd,
		IOASID_OFFSETOF_VFIO_DEVICE_BIND_IOMMUFD_IOMMUFD);
UAPI_ASSERT_OFF(vfio_device_bind_iommufd, out_devid,
		IOASID_OFFSETOF_VFIO_DEVICE_BIND_IOMMUFD_OUT_DEVID);
UAPI_ASSERT_OFF(vfio_device_bind_iommufd, token_uuid_ptr,
		IOASID_OFFSETOF_VFIO_DEVICE_BIND_IOMMUFD_TOKEN_UUID_PTR);
UAPI_ASSERT_OFF(vfio_device_attach_iommufd_pt, pt_id,
		IOASID_OFFSETOF_VFIO_DEVICE_ATTACH_IOMMUFD_PT_PT_ID);
UAPI_ASSERT_OFF(vfio_device_attach_iommufd_pt, pasid,
		IOASID_OFFSETOF_VFIO_DEVICE_ATTACH_IOMMUFD_PT_PASID);
UAPI_ASSERT_OFF(vfio_device_detach_iommufd_pt, pasid,
		IOASID_OFFSETOF_VFIO_DEVICE_DETACH_IOMMUFD_PT_PASID);
UAPI_ASSERT_OFF(vfio_region_info, size, IOASID_OFFSETOF_VFIO_REGION_INFO_SIZE);
UAPI_ASSERT_OFF(vfio_region_info, offset, IOASID_OFFSETOF_VFIO_REGION_INFO_OFFSET);
UAPI_ASSERT_OFF(vfio_device_info, cap_offset, IOASID_OFFSETOF_VFIO_DEVICE_INFO_CAP_OFFSET);
UAPI_ASSERT_OFF(vfio_iommu_type1_dma_map, vaddr, IOASID_OFFSETOF_VFIO_IOMMU_TYPE1_DMA_MAP_VADDR);
UAPI_ASSERT_OFF(vfio_iommu_type1_dma_map, iova, IOASID_OFFSETOF_VFIO_IOMMU_TYPE1_DMA_MAP_IOVA);
UAPI_ASSERT_OFF(vfio_iommu_type1_dma_map, size, IOASID_OFFSETOF_VFIO_IOMMU_TYPE1_DMA_MAP_SIZE);
UAPI_ASSERT_OFF(vfio_iommu_type1_dma_unmap, iova, IOASID_OFFSETOF_VFIO_IOMMU_TYPE1_DMA_UNMAP_IOVA);
UAPI_ASSERT_OFF(vfio_iommu_type1_dma_unmap, size, IOASID_OFFSETOF_VFIO_IOMMU_TYPE1_DMA_UNMAP_SIZE);

UAPI_ASSERT_IOCTL(IOMMU_DESTROY, IOASID_NR_IOMMU_DESTROY);
UAPI_ASSERT_IOCTL(IOMMU_IOAS_ALLOC, IOASID_NR_IOMMU_IOAS_ALLOC);
UAPI_ASSERT_IOCTL(IOMMU_IOAS_ALLOW_IOVAS, IOASID_NR_IOMMU_IOAS_ALLOW_IOVAS);
UAPI_ASSERT_IOCTL(IOMMU_IOAS_COPY, IOASID_NR_IOMMU_IOAS_COPY);
UAPI_ASSERT_IOCTL(IOMMU_IOAS_IOVA_RANGES, IOASID_NR_IOMMU_IOAS_IOVA_RANGES);
UAPI_ASSERT_IOCTL(IOMMU_IOAS_MAP, IOASID_NR_IOMMU_IOAS_MAP);
UAPI_ASSERT_IOCTL(IOMMU_IOAS_UNMAP, IOASID_NR_IOMMU_IOAS_UNMAP);
UAPI_ASSERT_IOCTL(IOMMU_OPTION, IOASID_NR_IOMMU_OPTION);
UAPI_ASSERT_IOCTL(IOMMU_VFIO_IOAS, IOASID_NR_IOMMU_VFIO_IOAS);
UAPI_ASSERT_IOCTL(IOMMU_HWPT_ALLOC, IOASID_NR_IOMMU_HWPT_ALLOC);
UAPI_ASSERT_IOCTL(IOMMU_GET_HW_INFO, IOASID_NR_IOMMU_GET_HW_INFO);
UAPI_ASSERT_IOCTL(IOMMU_HWPT_SET_DIRTY_TRACKING, IOASID_NR_IOMMU_HWPT_SET_DIRTY_TRACKING);
UAPI_ASSERT_IOCTL(IOMMU_HWPT_GET_DIRTY_BITMAP, IOASID_NR_IOMMU_HWPT_GET_DIRTY_BITMAP);
UAPI_ASSERT_IOCTL(IOMMU_HWPT_INVALIDATE, IOASID_NR_IOMMU_HWPT_INVALIDATE);
UAPI_ASSERT_IOCTL(IOMMU_FAULT_QUEUE_ALLOC, IOASID_NR_IOMMU_FAULT_QUEUE_ALLOC);
UAPI_ASSERT_IOCTL(IOMMU_IOAS_MAP_FILE, IOASID_NR_IOMMU_IOAS_MAP_FILE);
UAPI_ASSERT_IOCTL(IOMMU_VIOMMU_ALLOC, IOASID_NR_IOMMU_VIOMMU_ALLOC);
UAPI_ASSERT_IOCTL(IOMMU_VDEVICE_ALLOC, IOASID_NR_IOMMU_VDEVICE_ALLOC);
UAPI_ASSERT_IOCTL(IOMMU_IOAS_CHANGE_PROCESS, IOASID_NR_IOMMU_IOAS_CHANGE_PROCESS);
UAPI_ASSERT_IOCTL(IOMMU_VEVENTQ_ALLOC, IOASID_NR_IOMMU_VEVENTQ_ALLOC);
UAPI_ASSERT_IOCTL(IOMMU_HW_QUEUE_ALLOC, IOASID_NR_IOMMU_HW_QUEUE_ALLOC);
UAPI_ASSERT_IOCTL(VFIO_GET_API_VERSION, IOASID_NR_VFIO_GET_API_VERSION);
UAPI_ASSERT_IOCTL(VFIO_CHECK_EXTENSION, IOASID_NR_VFIO_CHECK_EXTENSION);
UAPI_ASSERT_IOCTL(VFIO_SET_IOMMU, IOASID_NR_VFIO_SET_IOMMU);
UAPI_ASSERT_IOCTL(VFIO_GROUP_GET_STATUS, IOASID_NR_VFIO_GROUP_GET_STATUS);
UAPI_ASSERT_IOCTL(VFIO_GROUP_SET_CONTAINER, IOASID_NR_VFIO_GROUP_SET_CONTAINER);
UAPI_ASSERT_IOCTL(VFIO_GROUP_UNSET_CONTAINER, IOASID_NR_VFIO_GROUP_UNSET_CONTAINER);
UAPI_ASSERT_IOCTL(VFIO_GROUP_GET_DEVICE_FD, IOASID_NR_VFIO_GROUP_GET_DEVICE_FD);
UAPI_ASSERT_IOCTL(VFIO_DEVICE_GET_INFO, IOASID_NR_VFIO_DEVICE_GET_INFO);
UAPI_ASSERT_IOCTL(VFIO_DEVICE_GET_REGION_INFO, IOASID_NR_VFIO_DEVICE_GET_REGION_INFO);
UAPI_ASSERT_IOCTL(VFIO_DEVICE_GET_IRQ_INFO, IOASID_NR_VFIO_DEVICE_GET_IRQ_INFO);
UAPI_ASSERT_IOCTL(VFIO_DEVICE_SET_IRQS, IOASID_NR_VFIO_DEVICE_SET_IRQS);
UAPI_ASSERT_IOCTL(VFIO_DEVICE_RESET, IOASID_NR_VFIO_DEVICE_RESET);
UAPI_ASSERT_IOCTL(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, IOASID_NR_VFIO_DEVICE_GET_PCI_HOT_RESET_INFO);
UAPI_ASSERT_IOCTL(VFIO_DEVICE_PCI_HOT_RESET, IOASID_NR_VFIO_DEVICE_PCI_HOT_RESET);
UAPI_ASSERT_IOCTL(VFIO_IOMMU_GET_INFO, IOASID_NR_VFIO_IOMMU_GET_INFO);
UAPI_ASSERT_IOCTL(VFIO_IOMMU_MAP_DMA, IOASID_NR_VFIO_IOMMU_MAP_DMA);
UAPI_ASSERT_IOCTL(VFIO_IOMMU_UNMAP_DMA, IOASID_NR_VFIO_IOMMU_UNMAP_DMA);
UAPI_ASSERT_IOCTL(VFIO_DEVICE_FEATURE, IOASID_NR_VFIO_DEVICE_FEATURE);
UAPI_ASSERT_IOCTL(VFIO_DEVICE_BIND_IOMMUFD, IOASID_NR_VFIO_DEVICE_BIND_IOMMUFD);
UAPI_ASSERT_IOCTL(VFIO_DEVICE_ATTACH_IOMMUFD_PT, IOASID_NR_VFIO_DEVICE_ATTACH_IOMMUFD_PT);
UAPI_ASSERT_IOCTL(VFIO_DEVICE_DETACH_IOMMUFD_PT, IOASID_NR_VFIO_DEVICE_DETACH_IOMMUFD_PT);

/* On asm-generic ioctl encodings (x86, arm64, riscv, s390, loongarch) _IOC_NONE is 0 and the
 * values are plain 0x3b00 | nr, as the facts sheet lists them. */
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || defined(__riscv) ||        \
	defined(__s390__) || defined(__loongarch__)
static_assert(IOMMU_DESTROY == 0x3b80, "IOMMU_DESTROY");
static_assert(IOMMU_IOAS_MAP == 0x3b85, "IOMMU_IOAS_MAP");
static_assert(IOMMU_HW_QUEUE_ALLOC == 0x3b94, "IOMMU_HW_QUEUE_ALLOC");
static_assert(VFIO_DEVICE_BIND_IOMMUFD == 0x3b76, "VFIO_DEVICE_BIND_IOMMUFD");
static_assert(VFIO_DEVICE_ATTACH_IOMMUFD_PT == 0x3b77, "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
static_assert(VFIO_DEVICE_DETACH_IOMMUFD_PT == 0x3b78, "VFIO_DEVICE_DETACH_IOMMUFD_PT");
static_assert(VFIO_DEVICE_GET_INFO == 0x3b6b, "VFIO_DEVICE_GET_INFO");
static_assert(VFIO_DEVICE_RESET == 0x3b6f, "VFIO_DEVICE_RESET");
static_assert(VFIO_DEVICE_FEATURE == 0x3b75, "VFIO_DEVICE_FEATURE");
static_assert(VFIO_IOMMU_UNMAP_DMA == 0x3b72, "VFIO_IOMMU_UNMAP_DMA");
#endif

static_assert(IOMMU_IOAS_MAP_FIXED_IOVA == IOASID_VAL_IOMMU_IOAS_MAP_FIXED_IOVA, "flag");
static_assert(IOMMU_IOAS_MAP_WRITEABLE == IOASID_VAL_IOMMU_IOAS_MAP_WRITEABLE, "flag");
static_assert(IOMMU_IOAS_MAP_READABLE == IOASID_VAL_IOMMU_IOAS_MAP_READABLE, "flag");
static_assert(IOMMU_OPTION_RLIMIT_MODE == IOASID_VAL_IOMMU_OPTION_RLIMIT_MODE, "option");
static_assert(IOMMU_OPTION_HUGE_PAGES == IOASID_VAL_IOMMU_OPTION_HUGE_PAGES, "option");
static_assert(IOMMU_HW_INFO_TYPE_INTEL_VTD == IOASID_VAL_IOMMU_HW_INFO_TYPE_INTEL_VTD, "type");
static_assert(VFIO_TYPE1v2_IOMMU == IOASID_VAL_VFIO_TYPE1v2_IOMMU, "type1v2");
static_assert(VFIO_API_VERSION == IOASID_VAL_VFIO_API_VERSION, "api");
static_assert(VFIO_GROUP_FLAGS_VIABLE == IOASID_VAL_VFIO_GROUP_FLAGS_VIABLE, "viable");

/* vhost-vdpa: _IOR/_IOW with the kernel's argument sizes, and the IOTLB message layout. */
#define UAPI_ASSERT_VHOST_IOCTL(name, dir, nr, sz)                                                 \
	static_assert(_IOC_TYPE(name) == IOASID_VHOST_VIRTIO && _IOC_NR(name) == (nr) &&           \
			      _IOC_DIR(name) == (dir) && _IOC_SIZE(name) == (sz),                  \
		      #name " encoding")
UAPI_ASSERT_VHOST_IOCTL(VHOST_GET_FEATURES, _IOC_READ, IOASID_NR_VHOST_GET_FEATURES, 8);
UAPI_ASSERT_VHOST_IOCTL(VHOST_SET_OWNER, _IOC_NONE, IOASID_NR_VHOST_SET_OWNER, 0);
UAPI_ASSERT_VHOST_IOCTL(VHOST_VDPA_GET_DEVICE_ID, _IOC_READ, IOASID_NR_VHOST_VDPA_GET_DEVICE_ID, 4);
UAPI_ASSERT_VHOST_IOCTL(VHOST_SET_BACKEND_FEATURES, _IOC_WRITE,
			IOASID_NR_VHOST_SET_BACKEND_FEATURES, 8);
UAPI_ASSERT_VHOST_IOCTL(VHOST_GET_BACKEND_FEATURES, _IOC_READ, IOASID_NR_VHOST_GET_BACKEND_FEATURES,
			8);
UAPI_ASSERT_VHOST_IOCTL(VHOST_VDPA_GET_STATUS, _IOC_READ, IOASID_NR_VHOST_VDPA_GET_STATUS, 1);
UAPI_ASSERT_VHOST_IOCTL(VHOST_VDPA_SET_STATUS, _IOC_WRITE, IOASID_NR_VHOST_VDPA_SET_STATUS, 1);
UAPI_ASSERT_SIZE(vhost_iotlb_msg, IOASID_SIZEOF_VHOST_IOTLB_MSG);
UAPI_ASSERT_SIZE(vhost_msg_v2, IOASID_SIZEOF_VHOST_MSG_V2);
UAPI_ASSERT_ALIGN(vhost_msg_v2, 8);
UAPI_ASSERT_OFF(vhost_iotlb_msg, perm, IOASID_OFFSETOF_VHOST_IOTLB_MSG_PERM);
UAPI_ASSERT_OFF(vhost_iotlb_msg, type, IOASID_OFFSETOF_VHOST_IOTLB_MSG_TYPE);
UAPI_ASSERT_OFF(vhost_msg_v2, iotlb, IOASID_OFFSETOF_VHOST_MSG_V2_IOTLB);
static_assert(VHOST_IOTLB_MSG_V2 == IOASID_VAL_VHOST_IOTLB_MSG_V2, "vhost msg type");
static_assert(VHOST_IOTLB_UPDATE == IOASID_VAL_VHOST_IOTLB_UPDATE, "vhost iotlb type");
static_assert(VHOST_IOTLB_INVALIDATE == IOASID_VAL_VHOST_IOTLB_INVALIDATE, "vhost iotlb type");
static_assert(VHOST_ACCESS_RW == IOASID_VAL_VHOST_ACCESS_RW, "vhost access");
static_assert(VHOST_BACKEND_F_IOTLB_MSG_V2 == IOASID_VAL_VHOST_BACKEND_F_IOTLB_MSG_V2, "bit");
static_assert(VHOST_BACKEND_F_IOTLB_PERSIST == IOASID_VAL_VHOST_BACKEND_F_IOTLB_PERSIST, "bit");
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || defined(__riscv)
static_assert(VHOST_VDPA_GET_STATUS == 0x8001af71, "VHOST_VDPA_GET_STATUS");
static_assert(VHOST_VDPA_SET_STATUS == 0x4001af72, "VHOST_VDPA_SET_STATUS");
#endif
