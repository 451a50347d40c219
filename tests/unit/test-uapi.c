/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * common/uapi.h at run time: the ioctl values and struct sizes the facts sheet lists
 * (reference/uapi-facts.md sections 1.2, 2.1, 7). The same facts are static_asserted at
 * compile time; this suite makes a wrong definition show up as a named failing test too.
 */
#include <stddef.h>

#include "common/macro.h"

#include "common/uapi.h"
#include "tests/unit/test.h"

static void test_iommufd_ioctls(void) {
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || defined(__riscv)
	static const struct {
		unsigned long value, expect;
	} t[] = {
		{ IOMMU_DESTROY, 0x3b80 },
		{ IOMMU_IOAS_ALLOC, 0x3b81 },
		{ IOMMU_IOAS_ALLOW_IOVAS, 0x3b82 },
		{ IOMMU_IOAS_COPY, 0x3b83 },
		{ IOMMU_IOAS_IOVA_RANGES, 0x3b84 },
		{ IOMMU_IOAS_MAP, 0x3b85 },
		{ IOMMU_IOAS_UNMAP, 0x3b86 },
		{ IOMMU_OPTION, 0x3b87 },
		{ IOMMU_VFIO_IOAS, 0x3b88 },
		{ IOMMU_HWPT_ALLOC, 0x3b89 },
		{ IOMMU_GET_HW_INFO, 0x3b8a },
		{ IOMMU_HWPT_SET_DIRTY_TRACKING, 0x3b8b },
		{ IOMMU_HWPT_GET_DIRTY_BITMAP, 0x3b8c },
		{ IOMMU_HWPT_INVALIDATE, 0x3b8d },
		{ IOMMU_FAULT_QUEUE_ALLOC, 0x3b8e },
		{ IOMMU_IOAS_MAP_FILE, 0x3b8f },
		{ IOMMU_VIOMMU_ALLOC, 0x3b90 },
		{ IOMMU_VDEVICE_ALLOC, 0x3b91 },
		{ IOMMU_IOAS_CHANGE_PROCESS, 0x3b92 },
		{ IOMMU_VEVENTQ_ALLOC, 0x3b93 },
		{ IOMMU_HW_QUEUE_ALLOC, 0x3b94 },
	};
	for (size_t i = 0; i < ELEMENTSOF(t); i++)
		CU_ASSERT_EQUAL(t[i].value, t[i].expect);
#endif
	CU_ASSERT_EQUAL(_IOC_TYPE(IOMMU_IOAS_MAP), ';');
	CU_ASSERT_EQUAL(_IOC_NR(IOMMU_IOAS_MAP), 0x85);
	CU_ASSERT_EQUAL(_IOC_SIZE(IOMMU_IOAS_MAP), 0);
	CU_ASSERT_EQUAL(_IOC_DIR(IOMMU_IOAS_MAP), _IOC_NONE);
}

static void test_vfio_ioctls(void) {
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || defined(__riscv)
	CU_ASSERT_EQUAL(VFIO_GET_API_VERSION, 0x3b64);
	CU_ASSERT_EQUAL(VFIO_CHECK_EXTENSION, 0x3b65);
	CU_ASSERT_EQUAL(VFIO_SET_IOMMU, 0x3b66);
	CU_ASSERT_EQUAL(VFIO_GROUP_GET_STATUS, 0x3b67);
	CU_ASSERT_EQUAL(VFIO_GROUP_SET_CONTAINER, 0x3b68);
	CU_ASSERT_EQUAL(VFIO_GROUP_UNSET_CONTAINER, 0x3b69);
	CU_ASSERT_EQUAL(VFIO_GROUP_GET_DEVICE_FD, 0x3b6a);
	CU_ASSERT_EQUAL(VFIO_DEVICE_GET_INFO, 0x3b6b);
	CU_ASSERT_EQUAL(VFIO_DEVICE_GET_REGION_INFO, 0x3b6c);
	CU_ASSERT_EQUAL(VFIO_DEVICE_GET_IRQ_INFO, 0x3b6d);
	CU_ASSERT_EQUAL(VFIO_DEVICE_SET_IRQS, 0x3b6e);
	CU_ASSERT_EQUAL(VFIO_DEVICE_RESET, 0x3b6f);
	CU_ASSERT_EQUAL(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, 0x3b70);
	CU_ASSERT_EQUAL(VFIO_DEVICE_PCI_HOT_RESET, 0x3b71);
	CU_ASSERT_EQUAL(VFIO_IOMMU_GET_INFO, 0x3b70);
	CU_ASSERT_EQUAL(VFIO_IOMMU_MAP_DMA, 0x3b71);
	CU_ASSERT_EQUAL(VFIO_IOMMU_UNMAP_DMA, 0x3b72);
	CU_ASSERT_EQUAL(VFIO_DEVICE_FEATURE, 0x3b75);
	CU_ASSERT_EQUAL(VFIO_DEVICE_BIND_IOMMUFD, 0x3b76);
	CU_ASSERT_EQUAL(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 0x3b77);
	CU_ASSERT_EQUAL(VFIO_DEVICE_DETACH_IOMMUFD_PT, 0x3b78);
#endif
	CU_ASSERT_EQUAL(VFIO_TYPE1v2_IOMMU, 3);
	CU_ASSERT_EQUAL(VFIO_API_VERSION, 0);
}

static void test_sizes(void) {
	static const struct {
		const char *name;
		size_t size, expect;
	} t[] = {
#define S(s, n) { #s, sizeof(struct s), n }
		S(iommu_destroy, 8),
		S(iommu_ioas_alloc, 12),
		S(iommu_iova_range, 16),
		S(iommu_ioas_iova_ranges, 32),
		S(iommu_ioas_allow_iovas, 24),
		S(iommu_ioas_map, 40),
		S(iommu_ioas_map_file, 40),
		S(iommu_ioas_copy, 40),
		S(iommu_ioas_unmap, 24),
		S(iommu_option, 24),
		S(iommu_vfio_ioas, 12),
		S(iommu_hwpt_alloc, 48),
		S(iommu_hw_info, 40),
		S(iommu_hw_info_vtd, 24),
		S(iommu_hwpt_set_dirty_tracking, 16),
		S(iommu_hwpt_get_dirty_bitmap, 48),
		S(iommu_hwpt_invalidate, 32),
		S(iommu_fault_alloc, 16),
		S(iommu_viommu_alloc, 40),
		S(iommu_vdevice_alloc, 24),
		S(iommu_ioas_change_process, 8),
		S(iommu_veventq_alloc, 32),
		S(iommu_hw_queue_alloc, 40),
		S(iommu_hwpt_pgfault, 40),
		S(iommu_hwpt_page_response, 8),
		S(iommufd_vevent_header, 8),
		S(vfio_device_bind_iommufd, 24),
		S(vfio_device_attach_iommufd_pt, 16),
		S(vfio_device_detach_iommufd_pt, 12),
		S(vfio_device_info, 24),
		S(vfio_region_info, 32),
		S(vfio_irq_info, 16),
		S(vfio_irq_set, 20),
		S(vfio_device_feature, 8),
		S(vfio_pci_hot_reset_info, 12),
		S(vfio_pci_hot_reset, 12),
		S(vfio_pci_dependent_device, 8),
		S(vfio_info_cap_header, 8),
		S(vfio_group_status, 8),
#undef S
	};
	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		if (t[i].size != t[i].expect)
			fprintf(stderr, "sizeof(struct %s) = %zu, expected %zu\n", t[i].name,
				t[i].size, t[i].expect);
		CU_ASSERT_EQUAL(t[i].size, t[i].expect);
	}
}

static void test_offsets(void) {
	CU_ASSERT_EQUAL(offsetof(struct iommu_ioas_map, user_va), 16);
	CU_ASSERT_EQUAL(offsetof(struct iommu_ioas_map, length), 24);
	CU_ASSERT_EQUAL(offsetof(struct iommu_ioas_map, iova), 32);
	CU_ASSERT_EQUAL(offsetof(struct iommu_ioas_map_file, fd), 12);
	CU_ASSERT_EQUAL(offsetof(struct iommu_option, op), 8);
	CU_ASSERT_EQUAL(offsetof(struct iommu_option, val64), 16);
	CU_ASSERT_EQUAL(offsetof(struct iommu_ioas_iova_ranges, out_iova_alignment), 24);
	CU_ASSERT_EQUAL(offsetof(struct iommu_hwpt_alloc, fault_id), 40);
	CU_ASSERT_EQUAL(offsetof(struct iommu_hw_info, out_max_pasid_log2), 28);
	CU_ASSERT_EQUAL(offsetof(struct iommu_hw_info, out_capabilities), 32);
	CU_ASSERT_EQUAL(offsetof(struct vfio_device_bind_iommufd, out_devid), 12);
	CU_ASSERT_EQUAL(offsetof(struct vfio_device_bind_iommufd, token_uuid_ptr), 16);
	CU_ASSERT_EQUAL(offsetof(struct vfio_device_attach_iommufd_pt, pasid), 12);
	CU_ASSERT_EQUAL(offsetof(struct vfio_device_detach_iommufd_pt, pasid), 8);
	CU_ASSERT_EQUAL(_Alignof(struct iommu_ioas_alloc), 4);
	CU_ASSERT_EQUAL(_Alignof(struct iommu_ioas_map), 8);
	CU_ASSERT_EQUAL(_Alignof(struct vfio_device_attach_iommufd_pt), 4);
	/* Debian 12 has no <linux/iommufd.h>; a newer build host cross-checks it. */
	int sys = uapi_check_system_iommufd();
	CU_ASSERT_TRUE(sys == 0 || sys == 1);
}

static CU_TestInfo tests[] = {
	{ "iommufd_ioctls", test_iommufd_ioctls },
	{ "vfio_ioctls", test_vfio_ioctls },
	{ "sizes", test_sizes },
	{ "offsets", test_offsets },
	CU_TEST_INFO_NULL,
};

TEST_SUITE("uapi", tests);
