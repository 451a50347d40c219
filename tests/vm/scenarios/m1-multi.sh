# SPDX-License-Identifier: LGPL-2.1-or-later
# M1: one attached lease of three edus in three IOMMU groups (the lone one, the multifunction
#     slot's, the one behind the pcie-pci-bridge): uid A's client maps one buffer into the
#     lease's IOAS and each device round-trips through it, each with its own data pattern;
#     after the client's UNMAP the DMA of each device is blocked (memory unchanged) and the
#     IOMMU logs a fault per device. So every device of a multi-device lease is translated by
#     the lease's IOAS, not only the first.

scenario_M1() {
	local out rc f0 f1 i ok=1 why=
	daemon_start || { result M1 FAIL "ioasidd --kernel=linux did not start"; return; }
	f0=$(dmesg | grep -c 'DMAR.*fault addr')
	out=$(ctl_as $UID_A run --device "$EDU_SINGLE" --device "$EDU_MF" --device "$EDU_BR" \
		--mode attached -- vm-edu dma-each '{iommufd}' '{ioas}' "{fd:$EDU_SINGLE}" \
		"{fd:$EDU_MF}" "{fd:$EDU_BR}" 2>&1)
	rc=$?
	i=0
	while [ "$(dmesg | grep -c 'DMAR.*fault addr')" -lt $((f0 + 3)) ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
	f1=$(dmesg | grep -c 'DMAR.*fault addr')
	daemon_stop
	echo "$out" | sed 's/^/VMINFO M1 /'
	info M1 "DMAR faults: $f0 before, $f1 after"
	[ $rc = 0 ] || { ok=0 why="$why; vm-edu exit $rc"; }
	for i in 0 1 2; do
		echo "$out" | grep -qx "vm-edu: roundtrip_dev$i=ok" || { ok=0 why="$why; no round trip through device $i"; }
		echo "$out" | grep -qx "vm-edu: blocked_after_unmap_dev$i=yes" || { ok=0 why="$why; device $i not blocked after UNMAP"; }
	done
	[ "$f1" -ge $((f0 + 3)) ] || { ok=0 why="$why; $((f1 - f0)) DMAR faults for 3 blocked devices"; }
	if [ $ok = 1 ]; then
		result M1 PASS "uid $UID_A attached lease of $EDU_SINGLE, $EDU_MF, $EDU_BR (three groups, one IOAS): a round trip through each, each blocked after the client's UNMAP ($((f1 - f0)) DMAR faults)"
	else
		result M1 FAIL "${why#; }"
	fi
}
