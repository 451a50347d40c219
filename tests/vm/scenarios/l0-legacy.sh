# SPDX-License-Identifier: LGPL-2.1-or-later
# L0 (stock modules only): the legacy VFIO group/container path works on the same machine:
# /dev/vfio/N groups, no /dev/iommu, type1 maps a buffer, the edu round-trips and is
# blocked after unmap. This is the kernel baseline S9 builds on.

scenario_L0() {
	if [ -e /dev/iommu ] || [ -n "$(ls /dev/vfio/devices 2>/dev/null)" ]; then
		result L0 FAIL "stock boot unexpectedly has iommufd or vfio cdevs"
		return
	fi
	out=$(vm-edu legacy "$EDU_SINGLE" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/VMINFO L0 /'
	if [ $rc = 0 ]; then
		result L0 PASS "$EDU_SINGLE via $(echo "$out" | grep -o 'group=[^ ]*') type1v2 roundtrip+blocked"
	else
		result L0 FAIL "vm-edu legacy $EDU_SINGLE exit $rc: $(echo "$out" | grep error= | head -n1)"
	fi
}
