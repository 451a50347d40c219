/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Private copy of the few iommufd / VFIO cdev uAPI definitions the real-kernel probe
 * (vm-edu) needs, written from the facts sheet (sizes and ioctl numbers checked by
 * static_assert below). Debian 12's linux-libc-dev (6.1) has no linux/iommufd.h.
 * To be replaced by the project's common/uapi.h once that lands.
 */

#include <assert.h>
#include <linux/types.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>

#define VM_IOMMUFD_TYPE ';'

struct vm_iommu_destroy {
	__u32 size;
	__u32 id;
};

struct vm_iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};

struct vm_iommu_iova_range {
	__aligned_u64 start;
	__aligned_u64 last;
};

struct vm_iommu_ioas_iova_ranges {
	__u32 size;
	__u32 ioas_id;
	__u32 num_iovas;
	__u32 __reserved;
	__aligned_u64 allowed_iovas;
	__aligned_u64 out_iova_alignment;
};

#define VM_IOMMU_IOAS_MAP_FIXED_IOVA (1u << 0)
#define VM_IOMMU_IOAS_MAP_WRITEABLE (1u << 1)
#define VM_IOMMU_IOAS_MAP_READABLE (1u << 2)

struct vm_iommu_ioas_map {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 __reserved;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
};

struct vm_iommu_ioas_unmap {
	__u32 size;
	__u32 ioas_id;
	__aligned_u64 iova;
	__aligned_u64 length;
};

struct vm_iommu_hw_info {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 data_len;
	__aligned_u64 data_uptr;
	__u32 out_data_type;
	__u8 out_max_pasid_log2;
	__u8 __reserved[3];
	__aligned_u64 out_capabilities;
};

struct vm_iommu_hw_info_vtd {
	__u32 flags;
	__u32 __reserved;
	__aligned_u64 cap_reg;
	__aligned_u64 ecap_reg;
};

/* The 6.12 layouts (the 7.x kernels append token_uuid_ptr / pasid; argsz tells them apart). */
struct vm_vfio_device_bind_iommufd {
	__u32 argsz;
	__u32 flags;
	__s32 iommufd;
	__u32 out_devid;
};

struct vm_vfio_device_attach_iommufd_pt {
	__u32 argsz;
	__u32 flags;
	__u32 pt_id;
};

struct vm_vfio_device_detach_iommufd_pt {
	__u32 argsz;
	__u32 flags;
};

#define VM_IOMMU_DESTROY _IO(VM_IOMMUFD_TYPE, 0x80)
#define VM_IOMMU_IOAS_ALLOC _IO(VM_IOMMUFD_TYPE, 0x81)
#define VM_IOMMU_IOAS_IOVA_RANGES _IO(VM_IOMMUFD_TYPE, 0x84)
#define VM_IOMMU_IOAS_MAP _IO(VM_IOMMUFD_TYPE, 0x85)
#define VM_IOMMU_IOAS_UNMAP _IO(VM_IOMMUFD_TYPE, 0x86)
#define VM_IOMMU_GET_HW_INFO _IO(VM_IOMMUFD_TYPE, 0x8a)
#define VM_VFIO_DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)
#define VM_VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)
#define VM_VFIO_DEVICE_DETACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 20)

static_assert(sizeof(struct vm_iommu_ioas_alloc) == 12, "iommu_ioas_alloc");
static_assert(sizeof(struct vm_iommu_ioas_iova_ranges) == 32, "iommu_ioas_iova_ranges");
static_assert(sizeof(struct vm_iommu_ioas_map) == 40, "iommu_ioas_map");
static_assert(sizeof(struct vm_iommu_ioas_unmap) == 24, "iommu_ioas_unmap");
static_assert(sizeof(struct vm_iommu_hw_info) == 40, "iommu_hw_info");
static_assert(sizeof(struct vm_vfio_device_bind_iommufd) == 16, "vfio_device_bind_iommufd 6.12");
static_assert(VM_IOMMU_IOAS_MAP == 0x3b85, "IOMMU_IOAS_MAP");
static_assert(VM_VFIO_DEVICE_BIND_IOMMUFD == 0x3b76, "VFIO_DEVICE_BIND_IOMMUFD");
static_assert(VM_VFIO_DEVICE_ATTACH_IOMMUFD_PT == 0x3b77, "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
static_assert(VM_VFIO_DEVICE_DETACH_IOMMUFD_PT == 0x3b78, "VFIO_DEVICE_DETACH_IOMMUFD_PT");
