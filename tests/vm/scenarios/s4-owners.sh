# SPDX-License-Identifier: LGPL-2.1-or-later
# S4: one owner per IOMMU group. uid A holds the edu of the multifunction group; uid B asks
#     for its sibling: the daemon refuses (GroupOwned). Then with the daemon's bookkeeping
#     bypassed (a TESTING_BYPASS=1 build, --testing-bypass-ownership) the kernel refuses the
#     second owner's bind by itself; its errno is recorded.
# S5: the group whose sibling NIC sits on e1000e is not viable: ioasidctl groups says so and
#     acquiring the edu from it fails with GroupNotViable. With the daemon's model bypassed
#     the kernel refuses by itself: the client's own BIND of an unbound lease fails with
#     EPERM, and so does the daemon's BIND of an attached one. S5L: the legacy group path.
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

s4_group() { basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"; }

# A's hold is real: its acquire printed the lease for $EDU_MF with every fd verified, and
# root's lease list shows that lease active for uid A while B tries. Sets HOLD (empty = ok).
s4_check_holder() {
	HOLD=
	if ! jq -e --arg d "$EDU_MF" '.verified == true and ([.devices[].bdf] == [$d])' \
		/tmp/s4a.out >/dev/null 2>&1; then
		HOLD="A's acquire did not print a verified lease on $EDU_MF: $(head -c 300 /tmp/s4a.out) $(cat /tmp/s4a.err)"
		return
	fi
	ctl_as 0 leases --json=short >/tmp/s4-leases.json 2>&1
	jq -e --arg d "$EDU_MF" --argjson u $UID_A \
		'[.[] | select(.uid == $u and .state == "active" and .devices == [$d])] | length == 1' \
		/tmp/s4-leases.json >/dev/null 2>&1 ||
		HOLD="root's lease list lacks A's active lease on $EDU_MF: $(head -c 300 /tmp/s4-leases.json)"
}

s4_refusal() { # tag [mode]: B asks for the sibling while A holds the edu; sets RC, ERR, OUT, HOLD
	if ! hold_start s4a $UID_A "$EDU_MF" --mode attached; then
		RC=x ERR="A could not acquire $EDU_MF: $(cat /tmp/s4a.err)" OUT= HOLD="no holder"
		hold_stop s4a
		return
	fi
	if [ "${2:-attached}" = unbound ]; then
		# B's own BIND through the fds the daemon hands it: the kernel answers B directly.
		OUT=$(ctl_as $UID_B run --device "$TESTDEV_MF" --mode unbound -- \
			vm-edu dma '{iommufd}' "{fd:$TESTDEV_MF}" --bind --attach 2>&1)
		RC=$? ERR=
	else
		ctl_as $UID_B acquire "$TESTDEV_MF" --json=short </dev/null >/tmp/s4b.out 2>/tmp/s4b.err
		RC=$? ERR=$(cat /tmp/s4b.err) OUT=$(cat /tmp/s4b.out)
	fi
	s4_check_holder
	echo "VMINFO S4 $1: B ${2:-attached} $TESTDEV_MF exit $RC: $ERR $(echo "$OUT" | tr '\n' ' ')"
	hold_stop s4a
}

scenario_S4() {
	local ok=1 detail g want
	g=$(s4_group "$TESTDEV_MF")
	[ "$g" = "$(s4_group "$EDU_MF")" ] || { result S4 FAIL "$EDU_MF and $TESTDEV_MF are not in one group"; return; }
	daemon_start || { result S4 FAIL "ioasidd did not start"; return; }
	s4_refusal daemon
	daemon_stop
	want="ioasidctl: $TESTDEV_MF: IOMMU group $g is shared with another owner (another user)"
	if [ -n "$HOLD" ]; then
		ok=0 detail="daemon: $HOLD"
	elif [ "$RC" = 2 ] && [ "$ERR" = "$want" ] && [ -z "$OUT" ]; then
		detail="daemon: GroupOwned while A holds $EDU_MF"
	else
		ok=0 detail="daemon: want exit 2 '$want', got exit $RC '$ERR'"
	fi
	if [ ! -x /usr/bin/ioasidd-bypass ]; then
		result S4 FAIL "$detail; no TESTING_BYPASS=1 ioasidd in the initramfs"
		return
	fi
	IOASIDD=ioasidd-bypass daemon_start --testing-bypass-ownership ||
		{ result S4 FAIL "$detail; bypass daemon did not start"; return; }
	# Attached: the daemon's BIND for B fails and the reply names the call and its errno.
	s4_refusal bypass
	want="ioasidctl: $TESTDEV_MF (IOMMU group $g): device busy: device-bind failed with EPERM: still held by a previous holder"
	if [ -n "$HOLD" ]; then
		ok=0 detail="$detail; bypassed: $HOLD"
	elif [ "$RC" = 2 ] && [ "$ERR" = "$want" ]; then
		detail="$detail; bypassed, attached: B's device-bind refused by the kernel with EPERM"
	else
		ok=0 detail="$detail; bypassed, attached: want exit 2 '$want', got exit $RC '$ERR'"
	fi
	# Unbound: B gets the fds and calls VFIO_DEVICE_BIND_IOMMUFD itself.
	s4_refusal bypass-unbound unbound
	info S4 "kernel_errno=$(echo "$OUT" | sed -n 's/.*error=VFIO_DEVICE_BIND_IOMMUFD errno=\(E[A-Z]*\).*/\1/p')"
	if [ -n "$HOLD" ]; then
		ok=0 detail="$detail; bypassed, unbound: $HOLD"
	elif [ "$RC" != 0 ] && echo "$OUT" | grep -qx 'vm-edu: error=VFIO_DEVICE_BIND_IOMMUFD errno=EPERM(1)' &&
		! echo "$OUT" | grep -q 'dev_id='; then
		detail="$detail; bypassed, unbound: B's own VFIO_DEVICE_BIND_IOMMUFD fails with EPERM"
	else
		ok=0 detail="$detail; bypassed, unbound: want B's BIND to fail with EPERM, got exit $RC: $(echo "$OUT" | grep -E 'error=|dev_id=' | head -n 2 | tr '\n' ' ')"
	fi
	daemon_stop
	[ $ok = 1 ] && result S4 PASS "$detail" || result S4 FAIL "$detail"
}

s5_acquire() { # uid args...: acquire, release at once; sets RC, ERR
	u=$1
	shift
	ctl_as "$u" acquire "$@" --json=short </dev/null >/tmp/s5.out 2>/tmp/s5.err
	RC=$? ERR=$(cat /tmp/s5.err)
}

scenario_S5() {
	local g verdict ok=1 detail want
	g=$(basename "$(readlink /sys/bus/pci/devices/$EDU_HOSTGRP/iommu_group)")
	verdict=$(ioasidctl groups --json=short | jq -r --argjson g "$g" '.groups[] | select(.group == $g) | .verdict')
	want="ioasidctl: $NIC_HOSTGRP: IOMMU group $g is not viable: $NIC_HOSTGRP (8086:10d3 Ethernet controller) is on e1000e, a host driver"
	daemon_start || { result S5 FAIL "ioasidd did not start"; return; }
	s5_acquire $UID_A "$EDU_HOSTGRP"
	daemon_stop
	info S5 "group $g verdict=$verdict; acquire $EDU_HOSTGRP exit $RC: $ERR"
	if [ "$verdict" = not-viable ] && [ "$RC" = 2 ] && [ "$ERR" = "$want" ]; then
		detail="daemon: group $g not-viable, acquire refused with GroupNotViable naming $NIC_HOSTGRP on e1000e"
	else
		ok=0 detail="daemon: group $g verdict '$verdict' (want not-viable), acquire exit $RC '$ERR' (want 2 '$want')"
	fi
	# The daemon's model bypassed: what the kernel itself does with the group.
	IOASIDD=ioasidd-bypass daemon_start --testing-bypass-ownership ||
		{ result S5 FAIL "$detail; bypass daemon did not start"; return; }
	# Unbound: the client gets the fds and its own BIND meets the kernel's refusal.
	out=$(ctl_as $UID_A run --device "$EDU_HOSTGRP" --mode unbound -- \
		vm-edu dma '{iommufd}' "{fd:$EDU_HOSTGRP}" --bind --attach 2>&1)
	rc=$?
	echo "$out" | sed 's/^/VMINFO S5 bypass unbound: /'
	if [ $rc != 0 ] && echo "$out" | grep -qx 'vm-edu: error=VFIO_DEVICE_BIND_IOMMUFD errno=EPERM(1)' &&
		! echo "$out" | grep -q 'dev_id='; then
		detail="$detail; bypassed, unbound: the client's own VFIO_DEVICE_BIND_IOMMUFD fails with EPERM"
	else
		ok=0 detail="$detail; bypassed, unbound: want the client's BIND to fail with EPERM, got exit $rc: $(echo "$out" | grep -E 'error=|dev_id=|ioasidctl:' | head -n 2 | tr '\n' ' ')"
	fi
	# Attached: the bypass daemon skips its viability check, so only its own BIND's EPERM
	# (kernel_error() names the blockers) can refuse.
	s5_acquire $UID_A "$EDU_HOSTGRP" --mode attached
	info S5 "bypass attached acquire exit $RC: $ERR"
	if [ "$RC" = 2 ] && [ "$ERR" = "$want" ]; then
		detail="$detail; bypassed, attached: the daemon's BIND refused (EPERM, told as GroupNotViable)"
	else
		ok=0 detail="$detail; bypassed, attached: want exit 2 '$want', got exit $RC '$ERR'"
	fi
	daemon_stop
	[ $ok = 1 ] && result S5 PASS "$detail" || result S5 FAIL "$detail"
}

# S5L (stock modules, legacy group path): the group with the NIC on e1000e through the group
# node. The kernel's own answer: VFIO_GROUP_GET_STATUS without VIABLE and SET_CONTAINER
# refused with EPERM (vm-edu as root, no daemon); then the bypass daemon (its viability
# model skipped) refuses the acquire because its group open meets that answer.
scenario_S5L() {
	local out rc g ok=1 detail want
	g=$(basename "$(readlink /sys/bus/pci/devices/$EDU_HOSTGRP/iommu_group)")
	out=$(vm-edu legacy "$EDU_HOSTGRP" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/VMINFO S5L /'
	if [ $rc != 0 ] && echo "$out" | grep -qx "vm-edu: group=/dev/vfio/$g viable=no" &&
		echo "$out" | grep -qx 'vm-edu: error=VFIO_GROUP_SET_CONTAINER errno=EPERM(1)'; then
		detail="kernel: /dev/vfio/$g not viable (GET_STATUS), SET_CONTAINER fails with EPERM"
	else
		ok=0 detail="kernel: want viable=no and SET_CONTAINER EPERM, got exit $rc: $(echo "$out" | grep -E 'viable=|error=' | tr '\n' ' ')"
	fi
	IOASIDD=ioasidd-bypass daemon_start --testing-bypass-ownership ||
		{ result S5L FAIL "$detail; bypass daemon did not start"; return; }
	s5_acquire $UID_A "$EDU_HOSTGRP"
	daemon_stop
	want="ioasidctl: $NIC_HOSTGRP: IOMMU group $g is not viable: $NIC_HOSTGRP (8086:10d3 Ethernet controller) is on e1000e, a host driver"
	info S5L "bypass acquire exit $RC: $ERR"
	if [ "$RC" = 2 ] && [ "$ERR" = "$want" ]; then
		detail="$detail; bypassed daemon: group-open refused (EPERM from GET_STATUS, told as GroupNotViable)"
	else
		ok=0 detail="$detail; bypassed daemon: want exit 2 '$want', got exit $RC '$ERR'"
	fi
	[ $ok = 1 ] && result S5L PASS "$detail" || result S5L FAIL "$detail"
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
