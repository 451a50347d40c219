# SPDX-License-Identifier: LGPL-2.1-or-later
# S2: ioasidd --kernel=linux, attached mode: an unprivileged client receives the iommufd and
#     the bound+attached device fd, maps its own buffer into the daemon's IOAS and the edu
#     round-trips data through it.
# S3: unbound mode: the client binds and attaches by itself (its own IOAS), then the same.

scenario_S2() {
	local direct
	# Without the daemon the client cannot even open /dev/iommu: the lease is what grants it.
	direct=$(as_uid $UID_A vm-edu probe "$EDU_SINGLE" 2>&1)
	info S2 "uid $UID_A alone: $(echo "$direct" | grep error= | head -n1)"
	if ! echo "$direct" | grep -q 'error=open /dev/iommu errno=EACCES'; then
		result S2 FAIL "uid $UID_A could open /dev/iommu without the daemon (or failed otherwise): $direct"
		return
	fi
	daemon_start || { result S2 FAIL "ioasidd --kernel=linux did not start"; return; }
	out=$(ctl_as $UID_A run --device "$EDU_SINGLE" --mode attached -- \
		vm-edu dma '{iommufd}' "{fd:$EDU_SINGLE}" --ioas '{ioas}' 2>&1)
	edu_result S2 $? "$out" "uid $UID_A (EACCES on /dev/iommu alone) with an attached lease on $EDU_SINGLE: client MAP + edu DMA round trip"
	daemon_stop
}

scenario_S3() {
	daemon_start || { result S3 FAIL "ioasidd --kernel=linux did not start"; return; }
	out=$(ctl_as $UID_A run --device "$EDU_SINGLE" --mode unbound -- \
		vm-edu dma '{iommufd}' "{fd:$EDU_SINGLE}" --bind --attach 2>&1)
	edu_result S3 $? "$out" "uid $UID_A unbound lease on $EDU_SINGLE: client BIND/ATTACH/MAP + DMA round trip"
	daemon_stop
}

# B1 (extra): the edu behind the pcie-pci-bridge: its DMA reaches the IOMMU with the bridge's
#     requester id (the alias that puts bridge and both devices in one group). The kernel's
#     grouping is asserted (exactly the bridge and its two functions, nothing else), and a
#     lease on the edu round-trips, so the daemon's group handling covers aliased groups.
scenario_B1() {
	local g members want
	g=$(basename "$(readlink /sys/bus/pci/devices/$EDU_BR/iommu_group)")
	members=$(ls /sys/kernel/iommu_groups/$g/devices | sort | tr '\n' ' ')
	want=$(printf '%s\n' 0000:00:05.0 "$EDU_BR" "$TESTDEV_BR" | sort | tr '\n' ' ')
	info B1 "group $g: $members"
	if [ "$members" != "$want" ] ||
		[ "$(basename "$(readlink /sys/bus/pci/devices/$TESTDEV_BR/iommu_group)")" != "$g" ]; then
		result B1 FAIL "group $g of $EDU_BR is '$members', the bridge's alias implies '$want'"
		return
	fi
	daemon_start || { result B1 FAIL "ioasidd --kernel=linux did not start"; return; }
	out=$(ctl_as $UID_A run --device "$EDU_BR" --mode attached -- \
		vm-edu dma '{iommufd}' "{fd:$EDU_BR}" --ioas '{ioas}' 2>&1)
	edu_result B1 $? "$out" "group $g is exactly the pcie-pci-bridge + its two functions (DMA alias); uid $UID_A lease on $EDU_BR: DMA round trip"
	daemon_stop
}
