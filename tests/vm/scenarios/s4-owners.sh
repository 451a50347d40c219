# SPDX-License-Identifier: LGPL-2.1-or-later
# S4: one owner per IOMMU group. uid A holds the edu of the multifunction group; uid B asks
#     for its sibling: the daemon refuses (GroupOwned). Then with the daemon's bookkeeping
#     bypassed (a TESTING_BYPASS=1 build, --testing-bypass-ownership) the kernel refuses the
#     second owner's bind by itself; its errno is recorded.
# S5: the group whose sibling NIC sits on e1000e is not viable: ioasidctl groups says so and
#     acquiring the edu from it fails with GroupNotViable.
# S6: revoke: the daemon detaches through its own reference; the holder's DMA then faults.
# S7: release, then another owner acquires the same device and DMAs; afterwards nothing is
#     left bound (root can open, bind and attach the cdev itself).
# S8: a layout whose IOVA window covers the guest's MSI region is refused (LayoutConflict).

hold_start() { # name uid device...: background acquire holding the lease until released
	n=$1 u=$2
	shift 2
	rm -f /tmp/$n.fifo /tmp/$n.out /tmp/$n.err
	mkfifo -m 0666 /tmp/$n.fifo
	ctl_as "$u" acquire "$@" --json=short </tmp/$n.fifo >/tmp/$n.out 2>/tmp/$n.err &
	eval "${n}_pid=$!"
	exec 7>/tmp/$n.fifo # keeps the holder's stdin open
	i=0
	while [ ! -s /tmp/$n.out ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -s /tmp/$n.out ]
}

hold_stop() { # name: close the holder's stdin, wait for it
	exec 7>&-
	eval "wait \$${1}_pid"
}

s4_refusal() { # tag -> sets RC, ERR: B asks for the sibling while A holds the edu
	if ! hold_start s4a $UID_A "$EDU_MF"; then
		RC=x ERR="A could not acquire $EDU_MF: $(cat /tmp/s4a.err)"
		hold_stop s4a
		return
	fi
	ctl_as $UID_B acquire "$TESTDEV_MF" --json=short </dev/null >/tmp/s4b.out 2>/tmp/s4b.err
	RC=$?
	ERR=$(cat /tmp/s4b.err)
	echo "VMINFO S4 $1: B acquire $TESTDEV_MF exit $RC: $ERR"
	hold_stop s4a
}

scenario_S4() {
	local ok=1 detail
	daemon_start || { result S4 FAIL "ioasidd did not start"; return; }
	s4_refusal daemon
	daemon_stop
	case "$RC:$ERR" in
	2:*"shared with another owner"*) detail="daemon: GroupOwned" ;;
	*) ok=0 detail="daemon did not refuse with GroupOwned (exit $RC: $ERR)" ;;
	esac
	if [ ! -x /usr/bin/ioasidd-bypass ]; then
		ok=0 detail="$detail; no TESTING_BYPASS=1 ioasidd in the initramfs"
	else
		IOASIDD=ioasidd-bypass daemon_start --testing-bypass-ownership ||
			{ result S4 FAIL "$detail; bypass daemon did not start"; return; }
		s4_refusal bypass
		daemon_stop
		errno=$(echo "$ERR" | grep -o 'E[A-Z]\{2,\}' | head -n1)
		info S4 "kernel_errno=${errno:-none} ($ERR)"
		if [ "$RC" = 0 ] || [ -z "$errno" ]; then
			ok=0 detail="$detail; with the bypass the second owner was NOT refused by the kernel (exit $RC)"
		else
			detail="$detail; bypassed: kernel refused the second owner's bind with $errno"
		fi
	fi
	[ $ok = 1 ] && result S4 PASS "$detail" || result S4 FAIL "$detail"
}

scenario_S5() {
	local g verdict rc err
	g=$(basename "$(readlink /sys/bus/pci/devices/$EDU_HOSTGRP/iommu_group)")
	verdict=$(ioasidctl groups --json=short | jq -r --argjson g "$g" '.groups[] | select(.group == $g) | .verdict')
	daemon_start || { result S5 FAIL "ioasidd did not start"; return; }
	ctl_as $UID_A acquire "$EDU_HOSTGRP" --json=short </dev/null >/tmp/s5.out 2>/tmp/s5.err
	rc=$?
	err=$(cat /tmp/s5.err)
	daemon_stop
	info S5 "group $g verdict=$verdict; acquire $EDU_HOSTGRP exit $rc: $err"
	if [ "$verdict" != viable ] && [ "$rc" = 2 ] && echo "$err" | grep -q "is not viable"; then
		result S5 PASS "group $g ($EDU_HOSTGRP + $NIC_HOSTGRP on e1000e): $verdict, acquire refused with GroupNotViable"
	else
		result S5 FAIL "group $g verdict=$verdict, acquire exit $rc: $err"
	fi
}

scenario_S6() {
	local pid lease rc i faults0 faults1
	daemon_start || { result S6 FAIL "ioasidd did not start"; return; }
	rm -f /tmp/s6-go /tmp/s6.out
	ctl_as $UID_A run --device "$EDU_SINGLE" --mode attached -- \
		vm-edu dma '{iommufd}' "{fd:$EDU_SINGLE}" --ioas '{ioas}' --then-wait /tmp/s6-go \
		>/tmp/s6.out 2>&1 &
	pid=$!
	i=0
	while ! grep -q waiting /tmp/s6.out && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	lease=$(ctl_as 0 leases --json=short | jq -r '.[0].id // empty')
	ctl_as 0 revoke "$lease" >/tmp/s6-revoke.out 2>&1
	rc=$?
	info S6 "revoke $lease exit $rc: $(cat /tmp/s6-revoke.out)"
	faults0=$(dmesg | grep -c 'DMAR.*fault addr')
	touch /tmp/s6-go
	wait $pid
	rc=$?
	i=0
	while [ "$(dmesg | grep -c 'DMAR.*fault addr')" -le "$faults0" ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
	faults1=$(dmesg | grep -c 'DMAR.*fault addr')
	daemon_stop
	sed 's/^/VMINFO S6 /' /tmp/s6.out
	info S6 "DMAR faults in dmesg: $faults0 before the holder's DMA, $faults1 after; run exit $rc"
	if grep -q 'blocked_after_revoke=yes' /tmp/s6.out && [ "$faults1" -gt "$faults0" ]; then
		result S6 PASS "lease revoked by root: the holder's next DMA faults (DMAR fault logged), its memory unchanged"
	else
		result S6 FAIL "after revoke: $(grep -o 'blocked_after_revoke=[A-Za-z]*' /tmp/s6.out), DMAR faults $faults0 -> $faults1, run exit $rc"
	fi
}

scenario_S7() {
	local out rc1 rc2 rc3 n
	daemon_start || { result S7 FAIL "ioasidd did not start"; return; }
	out=$(ctl_as $UID_A run --device "$EDU_SINGLE" --mode attached -- \
		vm-edu dma '{iommufd}' "{fd:$EDU_SINGLE}" --ioas '{ioas}' 2>&1)
	rc1=$?
	echo "$out" | sed 's/^/VMINFO S7 A: /'
	out=$(ctl_as $UID_B run --device "$EDU_SINGLE" --mode attached -- \
		vm-edu dma '{iommufd}' "{fd:$EDU_SINGLE}" --ioas '{ioas}' 2>&1)
	rc2=$?
	echo "$out" | sed 's/^/VMINFO S7 B: /'
	n=$(ctl_as 0 leases --json=short | jq 'length')
	# Nothing left bound: a fresh open + BIND + ATTACH of the cdev by someone else works.
	out=$(vm-edu probe "$EDU_SINGLE" 2>&1)
	rc3=$?
	echo "$out" | sed 's/^/VMINFO S7 probe: /'
	daemon_stop
	if [ $rc1 = 0 ] && [ $rc2 = 0 ] && [ "$n" = 0 ] && [ $rc3 = 0 ]; then
		result S7 PASS "uid $UID_A then uid $UID_B DMA on $EDU_SINGLE; 0 leases after; cdev re-bindable"
	else
		result S7 FAIL "A exit $rc1, B exit $rc2, leases after=$n, re-bind probe exit $rc3"
	fi
}

scenario_S8() {
	local rc err
	DAEMON_POLICY_FIRST="layout msiwide { iova 0x0-0xffffffff }
allow uid $UID_A to any mode attached layout msiwide" daemon_start ||
		{ result S8 FAIL "ioasidd did not start"; return; }
	ctl_as $UID_A acquire "$EDU_SINGLE" --layout msiwide --json=short </dev/null >/tmp/s8.out 2>/tmp/s8.err
	rc=$?
	err=$(cat /tmp/s8.err)
	info S8 "acquire --layout msiwide exit $rc: $err"
	grep -i 'layout\|EADDRINUSE' /tmp/ioasidd.log | sed 's/^/VMINFO S8 ioasidd: /'
	daemon_stop
	if [ "$rc" != 0 ] && echo "$err" | grep -q "Layout 'msiwide' conflicts"; then
		result S8 PASS "window 0x0-0xffffffff over the MSI region: LayoutConflict ($err)"
	else
		result S8 FAIL "exit $rc: $err"
	fi
}
