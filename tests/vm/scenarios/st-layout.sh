# SPDX-License-Identifier: LGPL-2.1-or-later
# ST: a staged context (ioasidd(8) Staging) served to its owner on the real kernel. Root
#     stages the lone edu for uid A (attached); uid B's Acquire is refused ("staged for
#     another owner"); A's `ioasidctl run` is served the staged context (its lease id is the
#     staged id, the stage list is empty afterwards) and the edu round-trips through it.
# LT: `lifetime process`: A's program closes the lease's connection; the lease stays active
#     (root's list) and the program's DMA still round-trips; when it exits the lease is gone.
# HP: layouts against what the kernel and the virtual IOMMU say: the IOAS of an attached
#     lease has IOMMU_OPTION_HUGE_PAGES 1 by default and 0 with `hugepages off` (the
#     client asks the kernel), DMA round-trips through both; `require dirty-tracking` is
#     granted exactly when the IOMMU's GET_HW_INFO (vm-edu probe, as root) reports
#     IOMMU_HW_CAP_DIRTY_TRACKING, else refused with LayoutConflict naming the device.

scenario_ST() {
	local sid rc_b err_b out rc left
	daemon_start || { result ST FAIL "ioasidd did not start"; return; }
	sid=$(ctl_as 0 stage default --for "$UID_A" --device "$EDU_SINGLE" --mode attached \
		--json=short 2>/tmp/st.err | jq -r '.id // empty')
	info ST "staged ${sid:-nothing}: $(cat /tmp/st.err)"
	ctl_as $UID_B acquire "$EDU_SINGLE" --json=short </dev/null >/dev/null 2>/tmp/st-b.err
	rc_b=$?
	err_b=$(cat /tmp/st-b.err)
	out=$(ctl_as $UID_A run --device "$EDU_SINGLE" --mode attached -- sh -c \
		'echo "lease=$IOASID_LEASE"; exec vm-edu dma "$@"' sh '{iommufd}' "{fd:$EDU_SINGLE}" \
		--ioas '{ioas}' 2>&1)
	rc=$?
	left=$(ctl_as 0 stage list --json=short | jq 'length')
	daemon_stop
	echo "$out" | sed 's/^/VMINFO ST /'
	info ST "B exit $rc_b: $err_b; A exit $rc; staged contexts left: $left"
	if [ -n "$sid" ] && [ $rc_b = 2 ] && echo "$err_b" | grep -q 'staged for another owner' &&
		[ $rc = 0 ] && echo "$out" | grep -qx "lease=$sid" &&
		echo "$out" | grep -qx 'vm-edu: roundtrip=ok' && [ "$left" = 0 ]; then
		result ST PASS "context $sid staged for uid $UID_A: uid $UID_B refused (staged for another owner); uid $UID_A served it (lease id = staged id, none left) and DMA round-trips through it"
	else
		result ST FAIL "staged '${sid}'; B exit $rc_b ($err_b); A exit $rc, $(echo "$out" | grep -E '^lease=|roundtrip=|error=' | tr '\n' ' ') staged left ${left:-?}"
	fi
}

scenario_LT() {
	local pid lease st rc left i
	daemon_start || { result LT FAIL "ioasidd did not start"; return; }
	rm -f /tmp/lt-go /tmp/lt.out
	ctl_as $UID_A run --device "$EDU_SINGLE" --mode attached --lifetime process -- sh -c '
		eval "exec $IOASID_LEASE_FD>&-"
		echo closed
		while [ ! -e /tmp/lt-go ]; do sleep 0.1; done
		exec vm-edu dma "$@"' sh '{iommufd}' "{fd:$EDU_SINGLE}" --ioas '{ioas}' \
		>/tmp/lt.out 2>&1 &
	pid=$!
	i=0
	while ! grep -q closed /tmp/lt.out && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	sleep 0.5 # the daemon sees the connection's end at once; give it time to act on it
	st=$(ctl_as 0 leases --json=short | jq -r '.[0].state // empty')
	lease=$(ctl_as 0 leases --json=short | jq -r '.[0].id // empty')
	touch /tmp/lt-go
	wait $pid
	rc=$?
	i=0
	left=1
	while [ "$left" != 0 ] && [ $i -lt 50 ]; do
		left=$(ctl_as 0 leases --json=short | jq 'length')
		[ "$left" = 0 ] || sleep 0.1
		i=$((i + 1))
	done
	daemon_stop
	sed 's/^/VMINFO LT /' /tmp/lt.out
	info LT "after the connection closed: lease ${lease:-none} state '$st'; program exit $rc; leases after its exit: $left"
	if [ "$st" = active ] && [ $rc = 0 ] && grep -qx 'vm-edu: roundtrip=ok' /tmp/lt.out &&
		[ "$left" = 0 ]; then
		result LT PASS "lifetime process: the lease's connection closed, lease $lease still active and the program's DMA round-trips; gone after the program exited"
	else
		result LT FAIL "state after the connection closed '$st', program exit $rc ($(grep -E 'roundtrip=|error=' /tmp/lt.out | tr '\n' ' ')), leases after exit $left"
	fi
}

hp_run() { # layout-or-default -> vm-edu dma output in HP_OUT, exit in HP_RC
	if [ "$1" = default ]; then
		HP_OUT=$(ctl_as $UID_A run --device "$EDU_SINGLE" --mode attached -- \
			vm-edu dma '{iommufd}' "{fd:$EDU_SINGLE}" --ioas '{ioas}' 2>&1)
	else
		HP_OUT=$(ctl_as $UID_A run --device "$EDU_SINGLE" --mode attached --layout "$1" -- \
			vm-edu dma '{iommufd}' "{fd:$EDU_SINGLE}" --ioas '{ioas}' 2>&1)
	fi
	HP_RC=$?
	echo "$HP_OUT" | sed "s/^/VMINFO HP $1: /"
}

scenario_HP() {
	local ok=1 why= caps dt rc err hp_on hp_off what
	# The kernel's word on the IOMMU behind the edu (root, its own open + bind).
	caps=$(vm-edu probe "$EDU_SINGLE" 2>&1 | sed -n 's/.*hw_info .*capabilities=\(0x[0-9a-f]*\).*/\1/p')
	if [ -z "$caps" ]; then
		result HP FAIL "vm-edu probe printed no GET_HW_INFO capabilities"
		return
	fi
	dt=$((caps & 1))
	daemon_start || { result HP FAIL "ioasidd did not start"; return; }
	hp_run default
	daemon_stop
	hp_on=$(echo "$HP_OUT" | sed -n 's/^vm-edu: ioas_huge_pages=//p')
	if [ $HP_RC != 0 ] || [ "$hp_on" != 1 ]; then
		ok=0 why="$why; default layout: exit $HP_RC, huge pages '${hp_on}' (want 1)"
	fi
	DAEMON_POLICY_FIRST="layout nohuge { hugepages off }
layout dirty { require dirty-tracking }
allow uid $UID_A to any mode attached layout nohuge,dirty" daemon_start ||
		{ result HP FAIL "ioasidd did not start with the layouts"; return; }
	hp_run nohuge
	hp_off=$(echo "$HP_OUT" | sed -n 's/^vm-edu: ioas_huge_pages=//p')
	if [ $HP_RC != 0 ] || [ "$hp_off" != 0 ]; then
		ok=0 why="$why; hugepages off: exit $HP_RC, huge pages '${hp_off}' (want 0)"
	fi
	ctl_as $UID_A acquire "$EDU_SINGLE" --layout dirty --json=short </dev/null >/tmp/hp.out 2>/tmp/hp.err
	rc=$?
	err=$(cat /tmp/hp.err)
	info HP "IOMMU capabilities $caps (dirty tracking: $dt); acquire --layout dirty exit $rc: $err"
	daemon_stop
	if [ $dt = 1 ]; then
		[ $rc = 0 ] || { ok=0 why="$why; the IOMMU tracks dirty pages but require dirty-tracking was refused: $err"; }
		what="granted (the IOMMU reports dirty tracking)"
	else
		if [ $rc = 0 ] || ! echo "$err" | grep -q "no dirty tracking"; then
			ok=0 why="$why; no dirty tracking ($caps) but require dirty-tracking: exit $rc, $err"
		fi
		what="refused, naming $EDU_SINGLE (capabilities $caps: no dirty tracking)"
	fi
	if [ $ok = 1 ]; then
		result HP PASS "IOAS huge pages 1 by default, 0 with hugepages off (the kernel's IOMMU_OPTION), DMA through both; require dirty-tracking $what"
	else
		result HP FAIL "${why#; }"
	fi
}
