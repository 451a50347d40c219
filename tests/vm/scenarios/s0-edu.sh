# SPDX-License-Identifier: LGPL-2.1-or-later
# S0: the rebuilt modules give /dev/iommu and VFIO cdevs; vm-edu maps a buffer through a
# real IOAS, the edu round-trips data by DMA, and after unmap the DMA is blocked.

scenario_S0() {
	if [ ! -c /dev/iommu ]; then
		result S0 FAIL "no /dev/iommu"
		return
	fi
	if [ -z "$(ls /dev/vfio/devices 2>/dev/null)" ]; then
		result S0 FAIL "no /dev/vfio/devices/vfioN"
		return
	fi
	if [ -z "$EDU_SINGLE" ]; then
		result S0 FAIL "no edu device found"
		return
	fi
	out=$(vm-edu probe "$EDU_SINGLE" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/VMINFO S0 /'
	if [ $rc = 0 ]; then
		result S0 PASS "$EDU_SINGLE $(echo "$out" | grep -o 'iova_ranges_attached=[^ ]*') roundtrip+blocked, attach to an IOAS allowing the MSI window: $(echo "$out" | grep -o "attach_to_ioas_allowing_msi_window.*result=[A-Z]*" | sed "s/.*result=//")"
	else
		result S0 FAIL "vm-edu probe $EDU_SINGLE exit $rc: $(echo "$out" | grep error= | head -n1)"
	fi
}
