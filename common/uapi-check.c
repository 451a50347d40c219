/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cross-check of common/uapi.h against the system's kernel headers, at compile time.
 *
 * common/uapi.h cannot be compiled together with <linux/iommufd.h> / <linux/vfio.h> (same
 * names), so this translation unit includes only the system headers and the plain numbers
 * of common/uapi-abi.h, which common/uapi.h asserts its own structs against. If both sides
 * agree with the numbers, they agree with each other.
 *
 * Coverage depends on the build host: Debian 12 has <linux/vfio.h> from 6.1 (group,
 * container, type1, device info/region/irq/reset/feature) and no <linux/iommufd.h>; a newer
 * system also checks every iommufd struct and the cdev ioctls. Structs that grew over
 * kernel releases (bind, attach, detach, hwpt_alloc, hw_info) are checked for the fields
 * every release has and for a size between the kernel minimum and our (newest) layout.
 */
#include <assert.h>
#include <stddef.h>

#include <linux/vfio.h>
#include <linux/vhost.h>
#if __has_include(<linux/iommufd.h>)
#include <linux/iommufd.h>
#define IOASID_HAVE_SYSTEM_IOMMUFD 1
#endif

#include "common/uapi-abi.h"

#define CHECK_SIZE(s, n) static_assert(sizeof(struct s) == (n), "system sizeof(struct " #s ")")
#define CHECK_SIZE_RANGE(s, min, max)                                                              \
	static_assert(sizeof(struct s) >= (min) && sizeof(struct s) <= (max),                      \
		      "system sizeof(struct " #s ")")
#define CHECK_OFF(s, f, n)                                                                         \
	static_assert(offsetof(struct s, f) == (n), "system offsetof(struct " #s ", " #f ")")
#define CHECK_IOCTL(name, nr) static_assert((name) == IOASID_IOCTL(nr), "system " #name)

/* Legacy container/group path and the device ioctls every VFIO kernel has. */
CHECK_SIZE(vfio_group_status, IOASID_SIZEOF_VFIO_GROUP_STATUS);
/* 20 bytes before the explicit pad member (6.1 headers), 24 after. */
CHECK_SIZE_RANGE(vfio_device_info, 20, IOASID_SIZEOF_VFIO_DEVICE_INFO);
CHECK_OFF(vfio_device_info, cap_offset, IOASID_OFFSETOF_VFIO_DEVICE_INFO_CAP_OFFSET);
CHECK_SIZE(vfio_region_info, IOASID_SIZEOF_VFIO_REGION_INFO);
CHECK_OFF(vfio_region_info, size, IOASID_OFFSETOF_VFIO_REGION_INFO_SIZE);
CHECK_OFF(vfio_region_info, offset, IOASID_OFFSETOF_VFIO_REGION_INFO_OFFSET);
CHECK_SIZE(vfio_irq_info, IOASID_SIZEOF_VFIO_IRQ_INFO);
CHECK_SIZE(vfio_irq_set, IOASID_SIZEOF_VFIO_IRQ_SET);
CHECK_SIZE(vfio_device_feature, IOASID_SIZEOF_VFIO_DEVICE_FEATURE);
CHECK_SIZE(vfio_pci_hot_reset_info, IOASID_SIZEOF_VFIO_PCI_HOT_RESET_INFO);
CHECK_SIZE(vfio_pci_hot_reset, IOASID_SIZEOF_VFIO_PCI_HOT_RESET);
CHECK_SIZE(vfio_info_cap_header, IOASID_SIZEOF_VFIO_INFO_CAP_HEADER);
CHECK_SIZE(vfio_iommu_type1_info, IOASID_SIZEOF_VFIO_IOMMU_TYPE1_INFO);
CHECK_SIZE(vfio_iommu_type1_dma_map, IOASID_SIZEOF_VFIO_IOMMU_TYPE1_DMA_MAP);
CHECK_OFF(vfio_iommu_type1_dma_map, vaddr, IOASID_OFFSETOF_VFIO_IOMMU_TYPE1_DMA_MAP_VADDR);
CHECK_OFF(vfio_iommu_type1_dma_map, iova, IOASID_OFFSETOF_VFIO_IOMMU_TYPE1_DMA_MAP_IOVA);
CHECK_OFF(vfio_iommu_type1_dma_map, size, IOASID_OFFSETOF_VFIO_IOMMU_TYPE1_DMA_MAP_SIZE);
CHECK_SIZE(vfio_iommu_type1_dma_unmap, IOASID_SIZEOF_VFIO_IOMMU_TYPE1_DMA_UNMAP);
CHECK_OFF(vfio_iommu_type1_dma_unmap, iova, IOASID_OFFSETOF_VFIO_IOMMU_TYPE1_DMA_UNMAP_IOVA);
CHECK_OFF(vfio_iommu_type1_dma_unmap, size, IOASID_OFFSETOF_VFIO_IOMMU_TYPE1_DMA_UNMAP_SIZE);

CHECK_IOCTL(VFIO_GET_API_VERSION, IOASID_NR_VFIO_GET_API_VERSION);
CHECK_IOCTL(VFIO_CHECK_EXTENSION, IOASID_NR_VFIO_CHECK_EXTENSION);
CHECK_IOCTL(VFIO_SET_IOMMU, IOASID_NR_VFIO_SET_IOMMU);
CHECK_IOCTL(VFIO_GROUP_GET_STATUS, IOASID_NR_VFIO_GROUP_GET_STATUS);
CHECK_IOCTL(VFIO_GROUP_SET_CONTAINER, IOASID_NR_VFIO_GROUP_SET_CONTAINER);
CHECK_IOCTL(VFIO_GROUP_UNSET_CONTAINER, IOASID_NR_VFIO_GROUP_UNSET_CONTAINER);
CHECK_IOCTL(VFIO_GROUP_GET_DEVICE_FD, IOASID_NR_VFIO_GROUP_GET_DEVICE_FD);
CHECK_IOCTL(VFIO_DEVICE_GET_INFO, IOASID_NR_VFIO_DEVICE_GET_INFO);
CHECK_IOCTL(VFIO_DEVICE_GET_REGION_INFO, IOASID_NR_VFIO_DEVICE_GET_REGION_INFO);
CHECK_IOCTL(VFIO_DEVICE_GET_IRQ_INFO, IOASID_NR_VFIO_DEVICE_GET_IRQ_INFO);
CHECK_IOCTL(VFIO_DEVICE_SET_IRQS, IOASID_NR_VFIO_DEVICE_SET_IRQS);
CHECK_IOCTL(VFIO_DEVICE_RESET, IOASID_NR_VFIO_DEVICE_RESET);
CHECK_IOCTL(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, IOASID_NR_VFIO_DEVICE_GET_PCI_HOT_RESET_INFO);
CHECK_IOCTL(VFIO_DEVICE_PCI_HOT_RESET, IOASID_NR_VFIO_DEVICE_PCI_HOT_RESET);
CHECK_IOCTL(VFIO_IOMMU_GET_INFO, IOASID_NR_VFIO_IOMMU_GET_INFO);
CHECK_IOCTL(VFIO_IOMMU_MAP_DMA, IOASID_NR_VFIO_IOMMU_MAP_DMA);
CHECK_IOCTL(VFIO_IOMMU_UNMAP_DMA, IOASID_NR_VFIO_IOMMU_UNMAP_DMA);
CHECK_IOCTL(VFIO_DEVICE_FEATURE, IOASID_NR_VFIO_DEVICE_FEATURE);
static_assert(VFIO_TYPE1v2_IOMMU == IOASID_VAL_VFIO_TYPE1v2_IOMMU, "system VFIO_TYPE1v2_IOMMU");
static_assert(VFIO_API_VERSION == IOASID_VAL_VFIO_API_VERSION, "system VFIO_API_VERSION");
static_assert(VFIO_GROUP_FLAGS_VIABLE == IOASID_VAL_VFIO_GROUP_FLAGS_VIABLE, "system VIABLE");

/* The cdev ioctls (6.6+ headers). The structs grew: check the stable fields. */
#ifdef VFIO_DEVICE_BIND_IOMMUFD
CHECK_IOCTL(VFIO_DEVICE_BIND_IOMMUFD, IOASID_NR_VFIO_DEVICE_BIND_IOMMUFD);
CHECK_IOCTL(VFIO_DEVICE_ATTACH_IOMMUFD_PT, IOASID_NR_VFIO_DEVICE_ATTACH_IOMMUFD_PT);
CHECK_IOCTL(VFIO_DEVICE_DETACH_IOMMUFD_PT, IOASID_NR_VFIO_DEVICE_DETACH_IOMMUFD_PT);
CHECK_SIZE_RANGE(vfio_device_bind_iommufd, 16, IOASID_SIZEOF_VFIO_DEVICE_BIND_IOMMUFD);
CHECK_OFF(vfio_device_bind_iommufd, iommufd, IOASID_OFFSETOF_VFIO_DEVICE_BIND_IOMMUFD_IOMMUFD);
CHECK_OFF(vfio_device_bind_iommufd, out_devid, IOASID_OFFSETOF_VFIO_DEVICE_BIND_IOMMUFD_OUT_DEVID);
CHECK_SIZE_RANGE(vfio_device_attach_iommufd_pt, 12, IOASID_SIZEOF_VFIO_DEVICE_ATTACH_IOMMUFD_PT);
CHECK_OFF(vfio_device_attach_iommufd_pt, pt_id,
	  IOASID_OFFSETOF_VFIO_DEVICE_ATTACH_IOMMUFD_PT_PT_ID);
CHECK_SIZE_RANGE(vfio_device_detach_iommufd_pt, 8, IOASID_SIZEOF_VFIO_DEVICE_DETACH_IOMMUFD_PT);
#endif

#ifdef IOASID_HAVE_SYSTEM_IOMMUFD
CHECK_SIZE(iommu_destroy, IOASID_SIZEOF_IOMMU_DESTROY);
CHECK_SIZE(iommu_ioas_alloc, IOASID_SIZEOF_IOMMU_IOAS_ALLOC);
CHECK_SIZE(iommu_iova_range, IOASID_SIZEOF_IOMMU_IOVA_RANGE);
CHECK_SIZE(iommu_ioas_iova_ranges, IOASID_SIZEOF_IOMMU_IOAS_IOVA_RANGES);
CHECK_OFF(iommu_ioas_iova_ranges, num_iovas, IOASID_OFFSETOF_IOMMU_IOAS_IOVA_RANGES_NUM_IOVAS);
CHECK_OFF(iommu_ioas_iova_ranges, allowed_iovas,
	  IOASID_OFFSETOF_IOMMU_IOAS_IOVA_RANGES_ALLOWED_IOVAS);
CHECK_OFF(iommu_ioas_iova_ranges, out_iova_alignment,
	  IOASID_OFFSETOF_IOMMU_IOAS_IOVA_RANGES_OUT_IOVA_ALIGNMENT);
CHECK_SIZE(iommu_ioas_allow_iovas, IOASID_SIZEOF_IOMMU_IOAS_ALLOW_IOVAS);
CHECK_OFF(iommu_ioas_allow_iovas, allowed_iovas,
	  IOASID_OFFSETOF_IOMMU_IOAS_ALLOW_IOVAS_ALLOWED_IOVAS);
CHECK_SIZE(iommu_ioas_map, IOASID_SIZEOF_IOMMU_IOAS_MAP);
CHECK_OFF(iommu_ioas_map, user_va, IOASID_OFFSETOF_IOMMU_IOAS_MAP_USER_VA);
CHECK_OFF(iommu_ioas_map, length, IOASID_OFFSETOF_IOMMU_IOAS_MAP_LENGTH);
CHECK_OFF(iommu_ioas_map, iova, IOASID_OFFSETOF_IOMMU_IOAS_MAP_IOVA);
CHECK_SIZE(iommu_ioas_copy, IOASID_SIZEOF_IOMMU_IOAS_COPY);
CHECK_OFF(iommu_ioas_copy, length, IOASID_OFFSETOF_IOMMU_IOAS_COPY_LENGTH);
CHECK_OFF(iommu_ioas_copy, dst_iova, IOASID_OFFSETOF_IOMMU_IOAS_COPY_DST_IOVA);
CHECK_OFF(iommu_ioas_copy, src_iova, IOASID_OFFSETOF_IOMMU_IOAS_COPY_SRC_IOVA);
CHECK_SIZE(iommu_ioas_unmap, IOASID_SIZEOF_IOMMU_IOAS_UNMAP);
CHECK_OFF(iommu_ioas_unmap, iova, IOASID_OFFSETOF_IOMMU_IOAS_UNMAP_IOVA);
CHECK_OFF(iommu_ioas_unmap, length, IOASID_OFFSETOF_IOMMU_IOAS_UNMAP_LENGTH);
CHECK_SIZE(iommu_option, IOASID_SIZEOF_IOMMU_OPTION);
CHECK_OFF(iommu_option, op, IOASID_OFFSETOF_IOMMU_OPTION_OP);
CHECK_OFF(iommu_option, object_id, IOASID_OFFSETOF_IOMMU_OPTION_OBJECT_ID);
CHECK_OFF(iommu_option, val64, IOASID_OFFSETOF_IOMMU_OPTION_VAL64);
CHECK_SIZE(iommu_vfio_ioas, IOASID_SIZEOF_IOMMU_VFIO_IOAS);
CHECK_SIZE_RANGE(iommu_hwpt_alloc, 24, IOASID_SIZEOF_IOMMU_HWPT_ALLOC);
CHECK_OFF(iommu_hwpt_alloc, pt_id, IOASID_OFFSETOF_IOMMU_HWPT_ALLOC_PT_ID);
CHECK_OFF(iommu_hwpt_alloc, out_hwpt_id, IOASID_OFFSETOF_IOMMU_HWPT_ALLOC_OUT_HWPT_ID);
CHECK_SIZE_RANGE(iommu_hw_info, 32, IOASID_SIZEOF_IOMMU_HW_INFO);
CHECK_OFF(iommu_hw_info, data_uptr, IOASID_OFFSETOF_IOMMU_HW_INFO_DATA_UPTR);
CHECK_OFF(iommu_hw_info, out_data_type, IOASID_OFFSETOF_IOMMU_HW_INFO_OUT_DATA_TYPE);
CHECK_OFF(iommu_hw_info, out_capabilities, IOASID_OFFSETOF_IOMMU_HW_INFO_OUT_CAPABILITIES);
CHECK_SIZE(iommu_hw_info_vtd, IOASID_SIZEOF_IOMMU_HW_INFO_VTD);
CHECK_OFF(iommu_hw_info_vtd, cap_reg, IOASID_OFFSETOF_IOMMU_HW_INFO_VTD_CAP_REG);
CHECK_OFF(iommu_hw_info_vtd, ecap_reg, IOASID_OFFSETOF_IOMMU_HW_INFO_VTD_ECAP_REG);

CHECK_IOCTL(IOMMU_DESTROY, IOASID_NR_IOMMU_DESTROY);
CHECK_IOCTL(IOMMU_IOAS_ALLOC, IOASID_NR_IOMMU_IOAS_ALLOC);
CHECK_IOCTL(IOMMU_IOAS_ALLOW_IOVAS, IOASID_NR_IOMMU_IOAS_ALLOW_IOVAS);
CHECK_IOCTL(IOMMU_IOAS_COPY, IOASID_NR_IOMMU_IOAS_COPY);
CHECK_IOCTL(IOMMU_IOAS_IOVA_RANGES, IOASID_NR_IOMMU_IOAS_IOVA_RANGES);
CHECK_IOCTL(IOMMU_IOAS_MAP, IOASID_NR_IOMMU_IOAS_MAP);
CHECK_IOCTL(IOMMU_IOAS_UNMAP, IOASID_NR_IOMMU_IOAS_UNMAP);
CHECK_IOCTL(IOMMU_OPTION, IOASID_NR_IOMMU_OPTION);
CHECK_IOCTL(IOMMU_VFIO_IOAS, IOASID_NR_IOMMU_VFIO_IOAS);
#ifdef IOMMU_HWPT_ALLOC
CHECK_IOCTL(IOMMU_HWPT_ALLOC, IOASID_NR_IOMMU_HWPT_ALLOC);
#endif
#ifdef IOMMU_GET_HW_INFO
CHECK_IOCTL(IOMMU_GET_HW_INFO, IOASID_NR_IOMMU_GET_HW_INFO);
#endif
static_assert(IOMMU_IOAS_MAP_FIXED_IOVA == IOASID_VAL_IOMMU_IOAS_MAP_FIXED_IOVA, "system flag");
static_assert(IOMMU_IOAS_MAP_WRITEABLE == IOASID_VAL_IOMMU_IOAS_MAP_WRITEABLE, "system flag");
static_assert(IOMMU_IOAS_MAP_READABLE == IOASID_VAL_IOMMU_IOAS_MAP_READABLE, "system flag");
static_assert(IOMMU_OPTION_RLIMIT_MODE == IOASID_VAL_IOMMU_OPTION_RLIMIT_MODE, "system option");
static_assert(IOMMU_OPTION_HUGE_PAGES == IOASID_VAL_IOMMU_OPTION_HUGE_PAGES, "system option");
#endif

/* vhost-vdpa: every kernel since 5.7 has these in <linux/vhost.h> (Debian 12's too). */
static_assert(VHOST_VDPA_GET_STATUS ==
		      _IOR(IOASID_VHOST_VIRTIO, IOASID_NR_VHOST_VDPA_GET_STATUS, __u8),
	      "system VHOST_VDPA_GET_STATUS");
static_assert(VHOST_VDPA_SET_STATUS ==
		      _IOW(IOASID_VHOST_VIRTIO, IOASID_NR_VHOST_VDPA_SET_STATUS, __u8),
	      "system VHOST_VDPA_SET_STATUS");
static_assert(VHOST_SET_OWNER == _IO(IOASID_VHOST_VIRTIO, IOASID_NR_VHOST_SET_OWNER),
	      "system VHOST_SET_OWNER");
static_assert(VHOST_GET_FEATURES == _IOR(IOASID_VHOST_VIRTIO, IOASID_NR_VHOST_GET_FEATURES, __u64),
	      "system VHOST_GET_FEATURES");
static_assert(VHOST_VDPA_GET_DEVICE_ID ==
		      _IOR(IOASID_VHOST_VIRTIO, IOASID_NR_VHOST_VDPA_GET_DEVICE_ID, __u32),
	      "system VHOST_VDPA_GET_DEVICE_ID");
CHECK_SIZE(vhost_iotlb_msg, IOASID_SIZEOF_VHOST_IOTLB_MSG);
CHECK_SIZE(vhost_msg_v2, IOASID_SIZEOF_VHOST_MSG_V2);
CHECK_OFF(vhost_msg_v2, iotlb, IOASID_OFFSETOF_VHOST_MSG_V2_IOTLB);
static_assert(VHOST_IOTLB_INVALIDATE == IOASID_VAL_VHOST_IOTLB_INVALIDATE, "system iotlb type");
static_assert(VHOST_BACKEND_F_IOTLB_MSG_V2 == IOASID_VAL_VHOST_BACKEND_F_IOTLB_MSG_V2, "system");
#ifdef VHOST_BACKEND_F_IOTLB_PERSIST
static_assert(VHOST_BACKEND_F_IOTLB_PERSIST == IOASID_VAL_VHOST_BACKEND_F_IOTLB_PERSIST, "system");
#endif

/* Lets tests (and `nm`) see which system headers this build was checked against. */
int uapi_check_system_iommufd(void) {
#ifdef IOASID_HAVE_SYSTEM_IOMMUFD
	return 1;
#else
	return 0;
#endif
}
