# SPDX-License-Identifier: LGPL-2.1-or-later
# S9 (stock modules, no iommufd): the same acquire as S2 through the VFIO group/container
# path. The kernel side of that path is proven by L0. An unprivileged uid that cannot open
# the group node itself receives, from ioasidd --kernel=linux, a container with TYPE1v2 set,
# the group node and the device fd (each checked by ioasidctl against what it is), then maps
# its own buffer through the container (VFIO_IOMMU_MAP_DMA) and the edu round-trips data.

scenario_S9() {
	local rc out g direct
	g=$(basename "$(readlink /sys/bus/pci/devices/$EDU_SINGLE/iommu_group)")
	# Without the daemon the client cannot even open the group node.
	direct=$(as_uid $UID_A sh -c "exec 3<>/dev/vfio/$g" 2>&1)
	if [ -z "$direct" ] || ! echo "$direct" | grep -qi 'permission denied'; then
		result S9 FAIL "uid $UID_A could open /dev/vfio/$g without the daemon: $direct"
		return
	fi
	daemon_start || { result S9 FAIL "ioasidd --kernel=linux did not start without /dev/iommu"; return; }
	ctl_as $UID_A acquire "$EDU_SINGLE" --json=short </dev/null >/tmp/s9.out 2>/tmp/s9.err
	rc=$?
	out=$(cat /tmp/s9.out)
	info S9 "acquire exit $rc: $(cat /tmp/s9.err) $(head -c 900 /tmp/s9.out)"
	if [ $rc != 0 ]; then
		result S9 FAIL "acquire exit $rc: $(cat /tmp/s9.err)"
		daemon_stop
		return
	fi
	# ioasidctl checked each fd (fstat + /sys/dev/char) against what the reply says it is.
	for want in '"api":"legacy"' '"mode":"legacy"' '"iommufd":null' \
		'"kind":"vfio-container","name":"/dev/vfio/vfio"' \
		"\"kind\":\"vfio-group\",\"name\":\"/dev/vfio/$g\"" \
		'"kind":"vfio-legacy-device","name":"anon_inode:[vfio-device]"'; do
		if ! echo "$out" | grep -qF -- "$want"; then
			result S9 FAIL "acquire reply lacks $want"
			daemon_stop
			return
		fi
	done
	if echo "$out" | grep -qF '"verified":false'; then
		result S9 FAIL "ioasidctl could not verify every received fd"
		daemon_stop
		return
	fi
	out=$(ctl_as $UID_A run --device "$EDU_SINGLE" -- \
		vm-edu dma-legacy '{container}' "{fd:$EDU_SINGLE}" 2>&1)
	edu_result S9 $? "$out" "uid $UID_A (EACCES on /dev/vfio/$g alone) with a legacy lease on $EDU_SINGLE: container+group+device fds, type1 map + edu DMA round trip"
	daemon_stop
}
