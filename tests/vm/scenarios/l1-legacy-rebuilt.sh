# SPDX-License-Identifier: LGPL-2.1-or-later
# L1 (rebuilt modules): loading the rebuilt iommufd + cdev modules keeps the legacy VFIO
# group/container path: /dev/iommu, the vfio cdevs and the /dev/vfio/N group nodes exist side
# by side, and the type1 container still maps a buffer, round-trips the edu and blocks it after
# unmap. Runs last in its boot: a group is used either through a cdev or through its group
# node, never both at once, so nothing else may hold the edu's group here.

scenario_L1() {
	if [ ! -e /dev/iommu ] || [ -z "$(ls /dev/vfio/devices 2>/dev/null)" ]; then
		result L1 FAIL "rebuilt boot lacks /dev/iommu or the vfio cdevs"
		return
	fi
	if [ ! -e /dev/vfio/vfio ]; then
		result L1 FAIL "rebuilt boot lacks the legacy container /dev/vfio/vfio"
		return
	fi
	out=$(vm-edu legacy "$EDU_SINGLE" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/VMINFO L1 /'
	if [ $rc = 0 ]; then
		result L1 PASS "with iommufd loaded: $EDU_SINGLE via $(echo "$out" | grep -o 'group=[^ ]*') type1v2 roundtrip+blocked"
	else
		result L1 FAIL "vm-edu legacy $EDU_SINGLE exit $rc: $(echo "$out" | grep error= | head -n1)"
	fi
}
