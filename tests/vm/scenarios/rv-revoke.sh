# SPDX-License-Identifier: LGPL-2.1-or-later
# RV: the revocations of ioasidd(8) (Revocation) against the real kernel. Each case: uid A's
#     holder round-trips through its lease on the lone edu and waits; the lease is revoked;
#     the holder's next DMA must be blocked (its page unchanged, a new DMAR fault) and root's
#     lease list must show the lease `revoked` while the holder lives.
#     reset:   `ioasidctl revoke --reset`: the kernel's pci_try_reset_function runs in an
#              ioasidd task called from the VFIO device ioctl (VFIO_DEVICE_RESET; function
#              tracer, filtered on it) and the daemon logs no
#              detach/reset failure;
#     signal:  `ioasidctl revoke --signal`: the holder receives SIGTERM;
#     unbound: an unbound lease the holder bound and attached itself: the daemon's detach
#              through its own reference (the same open file) blocks the holder's DMA;
#     reload:  a SIGHUP'd policy that no longer allows uid A revokes the lease.
# RVL (stock modules): the legacy path's documented limit: Revoke answers
#     `revoked-not-detached`, the lease is listed `revoked`, and the holder's DMA through its
#     container still round-trips after the revoke.

TRACE=/sys/kernel/tracing

rv_trace_start() { # trace pci_try_reset_function calls; 0 if tracing is on
	[ -e $TRACE/current_tracer ] || mount -t tracefs nodev $TRACE 2>/dev/null
	echo 0 >$TRACE/tracing_on &&
		echo pci_try_reset_function >$TRACE/set_ftrace_filter &&
		echo function >$TRACE/current_tracer && echo >$TRACE/trace &&
		echo 1 >$TRACE/tracing_on
}

rv_trace_stop() { # -> the trace's lines for pci_try_reset_function, on stdout
	echo 0 >$TRACE/tracing_on
	grep pci_try_reset_function $TRACE/trace
	echo nop >$TRACE/current_tracer
	echo >$TRACE/set_ftrace_filter
}

# rv_case tag mode revoke-action: a holder on $EDU_SINGLE, the action ("revoke [flags]" or
# "reload"), then the holder's DMA. Appends to RV_DETAIL, clears RV_OK on a failure.
rv_case() {
	local tag=$1 mode=$2 action=$3 pid lease rc i f0 f1 st extra= why= args
	rm -f /tmp/rv-go /tmp/rv.out
	if [ "$mode" = unbound ]; then
		args="--bind --attach"
	else
		args="--ioas {ioas}"
	fi
	ctl_as $UID_A run --device "$EDU_SINGLE" --mode "$mode" -- \
		vm-edu dma '{iommufd}' "{fd:$EDU_SINGLE}" $args --then-wait /tmp/rv-go --catch-term \
		>/tmp/rv.out 2>&1 &
	pid=$!
	i=0
	while ! grep -q waiting /tmp/rv.out && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	lease=$(ctl_as 0 leases --json=short | jq -r '.[0].id // empty')
	case $action in
	reload)
		# The same policy without uid A's rule.
		sed -i "/^allow uid $UID_A /d" /etc/ioasid/ioasid.conf
		kill -HUP "$DAEMON_PID"
		;;
	*)
		# shellcheck disable=SC2086 # the flags
		ctl_as 0 $action "$lease" --json=short >/tmp/rv-revoke.out 2>&1
		extra="revoke exit $?: $(cat /tmp/rv-revoke.out)"
		;;
	esac
	i=0
	st=
	while [ "$st" != revoked ] && [ $i -lt 50 ]; do
		st=$(ctl_as 0 leases --json=short | jq -r --arg id "$lease" '.[] | select(.id == $id) | .state')
		[ "$st" = revoked ] || sleep 0.1
		i=$((i + 1))
	done
	f0=$(dmesg | grep -c 'DMAR.*fault addr')
	touch /tmp/rv-go
	wait $pid
	rc=$?
	i=0
	while [ "$(dmesg | grep -c 'DMAR.*fault addr')" -le "$f0" ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
	f1=$(dmesg | grep -c 'DMAR.*fault addr')
	sed "s/^/VMINFO RV $tag: /" /tmp/rv.out
	info RV "$tag: lease ${lease:-none} state=$st; $extra; DMAR faults $f0 -> $f1; holder exit $rc"
	[ -n "$lease" ] || why="$why no lease;"
	[ "$st" = revoked ] || why="$why state '$st' not revoked;"
	grep -q '^vm-edu: roundtrip=ok' /tmp/rv.out || why="$why no round trip before;"
	grep -q 'blocked_after_revoke=yes' /tmp/rv.out || why="$why DMA not blocked after;"
	[ "$f1" -gt "$f0" ] || why="$why no DMAR fault;"
	RV_SIGTERM=$(sed -n 's/^vm-edu: sigterm_received=//p' /tmp/rv.out)
	if [ -n "$why" ]; then
		RV_OK=0 RV_DETAIL="$RV_DETAIL$tag:$why "
	else
		RV_DETAIL="$RV_DETAIL$tag: revoked, DMA blocked + DMAR fault; "
	fi
}

scenario_RV() {
	local tr
	RV_OK=1 RV_DETAIL=
	daemon_start || { result RV FAIL "ioasidd did not start"; return; }
	# reset
	if rv_trace_start; then
		rv_case reset attached "revoke --reset"
		tr=$(rv_trace_stop)
		echo "$tr" | sed 's/^/VMINFO RV reset trace: /'
		# The task column is comm-tid: any thread of the daemon. Opening the device for
		# the Acquire resets it too (from vfio_pci_core_enable): only VFIO_DEVICE_RESET's
		# reset counts.
		if ! echo "$tr" | grep -q 'ioasidd-[0-9]* .*pci_try_reset_function <-vfio_pci_core_ioctl'; then
			RV_OK=0 RV_DETAIL="${RV_DETAIL}reset: no pci_try_reset_function in ioasidd; "
		elif grep -q 'detach/reset failed' /tmp/ioasidd.log; then
			RV_OK=0 RV_DETAIL="${RV_DETAIL}reset: $(grep 'detach/reset failed' /tmp/ioasidd.log); "
		else
			RV_DETAIL="${RV_DETAIL}the kernel reset the device in ioasidd; "
		fi
	else
		RV_OK=0 RV_DETAIL="${RV_DETAIL}reset: no function tracer; "
	fi
	[ "$RV_SIGTERM" = no ] || { RV_OK=0 RV_DETAIL="${RV_DETAIL}reset: holder signalled ($RV_SIGTERM) without --signal; "; }
	# signal
	rv_case signal attached "revoke --signal"
	[ "$RV_SIGTERM" = yes ] || { RV_OK=0 RV_DETAIL="${RV_DETAIL}signal: holder got no SIGTERM ($RV_SIGTERM); "; }
	# unbound
	rv_case unbound unbound "revoke"
	# reload
	rv_case reload attached reload
	grep -q 'cause=reload\|reload' /tmp/ioasidd.log || info RV "no reload in the daemon's log"
	daemon_stop
	[ $RV_OK = 1 ] && result RV PASS "$RV_DETAIL" || result RV FAIL "$RV_DETAIL"
}

scenario_RVL() {
	local pid lease rc i st rep
	daemon_start || { result RVL FAIL "ioasidd did not start"; return; }
	rm -f /tmp/rvl-go /tmp/rvl.out
	ctl_as $UID_A run --device "$EDU_SINGLE" -- \
		vm-edu dma-legacy '{container}' "{fd:$EDU_SINGLE}" --then-wait /tmp/rvl-go \
		>/tmp/rvl.out 2>&1 &
	pid=$!
	i=0
	while ! grep -q waiting /tmp/rvl.out && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	lease=$(ctl_as 0 leases --json=short | jq -r '.[0].id // empty')
	rep=$(ctl_as 0 revoke "$lease" --json=short 2>&1)
	st=$(ctl_as 0 leases --json=short | jq -r --arg id "$lease" '.[] | select(.id == $id) | .state')
	touch /tmp/rvl-go
	wait $pid
	rc=$?
	daemon_stop
	sed 's/^/VMINFO RVL /' /tmp/rvl.out
	info RVL "lease ${lease:-none}: revoke answered $rep; listed $st; holder exit $rc"
	if [ -n "$lease" ] && [ "$(echo "$rep" | jq -r .state 2>/dev/null)" = revoked-not-detached ] &&
		[ "$st" = revoked ] && grep -q '^vm-edu: roundtrip=ok' /tmp/rvl.out &&
		grep -q '^vm-edu: roundtrip_after_revoke=ok' /tmp/rvl.out && [ $rc = 0 ]; then
		result RVL PASS "legacy lease on $EDU_SINGLE: Revoke answers revoked-not-detached, listed revoked, and the holder's DMA through its container still round-trips (the documented limit)"
	else
		result RVL FAIL "revoke: $rep; listed '$st'; $(grep -E 'roundtrip|error=' /tmp/rvl.out | tr '\n' ' ') exit $rc"
	fi
}

# RVU: "bound to a driver other than a VFIO one" meets the kernel. A leased device cannot
#      leave vfio-pci: the kernel's unbind waits for every file of the device to close, the
#      daemon's own references included, and asks the user through a device request
#      channel that no one registered (kernel log "No device request channel registered,
#      blocked until released by user"). No udevd runs here, so ioasidd hears nothing (with
#      one, it revokes on the vfio-dev removal: HOT). So the unbind
#      is still pending while the lease stays active, and completes only once an admin
#      revoked the lease (the daemon closes its references) and the holder exited (after
#      which its DMA was blocked). The device is then bound to vfio-pci again.
scenario_RVU() {
	local pid upid lease i k0 k1 pend st1 drv1 rep st2 drv2 done_after rc rebind
	daemon_start || { result RVU FAIL "ioasidd did not start"; return; }
	rm -f /tmp/rvu-go /tmp/rvu.out
	ctl_as $UID_A run --device "$EDU_SINGLE" --mode attached -- \
		vm-edu dma '{iommufd}' "{fd:$EDU_SINGLE}" --ioas '{ioas}' --then-wait /tmp/rvu-go \
		>/tmp/rvu.out 2>&1 &
	pid=$!
	i=0
	while ! grep -q waiting /tmp/rvu.out && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	lease=$(ctl_as 0 leases --json=short | jq -r '.[0].id // empty')
	k0=$(dmesg | grep -c "$EDU_SINGLE.*blocked until released by user")
	sh -c "echo $EDU_SINGLE >/sys/bus/pci/drivers/vfio-pci/unbind" &
	upid=$!
	i=0
	while [ "$(dmesg | grep -c "$EDU_SINGLE.*blocked until released by user")" -le "$k0" ] &&
		[ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	sleep 1
	k1=$(dmesg | grep -c "$EDU_SINGLE.*blocked until released by user")
	kill -0 $upid 2>/dev/null && pend=yes || pend=no
	st1=$(ctl_as 0 leases --json=short | jq -r --arg id "$lease" '.[] | select(.id == $id) | .state')
	drv1=$(basename "$(readlink /sys/bus/pci/devices/$EDU_SINGLE/driver 2>/dev/null)" 2>/dev/null)
	rep=$(ctl_as 0 revoke "$lease" --json=short 2>&1)
	touch /tmp/rvu-go
	wait $pid
	rc=$?
	i=0
	while kill -0 $upid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	kill -0 $upid 2>/dev/null && done_after=no || done_after=yes
	drv2=$(basename "$(readlink /sys/bus/pci/devices/$EDU_SINGLE/driver 2>/dev/null)" 2>/dev/null)
	st2=$(ctl_as 0 leases --json=short | jq -r 'length')
	# Stopping the daemon closes whatever it still holds: a pending unbind ends, and the
	# re-probe below cannot wait behind it.
	daemon_stop
	i=0
	while kill -0 $upid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 $upid 2>/dev/null; then
		rebind="no (the unbind still waits)"
	else
		bind_vfio "$EDU_SINGLE" && rebind=yes || rebind=no
	fi
	sed 's/^/VMINFO RVU /' /tmp/rvu.out
	info RVU "lease ${lease:-none}: unbind pending=$pend (kernel messages $k0 -> $k1), lease $st1, driver '${drv1:-none}'; revoke: $rep; holder exit $rc; unbind done=$done_after, driver '${drv2:-none}', leases left $st2; rebound to vfio-pci: $rebind"
	# (drv1: the kernel drops the driver link before it calls the driver's remove, so the
	# device shows no driver while the unbind waits.)
	if [ -n "$lease" ] && [ $pend = yes ] && [ "$k1" -gt "$k0" ] && [ "$st1" = active ] &&
		grep -q 'blocked_after_revoke=yes' /tmp/rvu.out &&
		[ $done_after = yes ] && [ -z "$drv2" ] && [ "$rebind" = yes ]; then
		result RVU PASS "unbind of leased $EDU_SINGLE from vfio-pci waits (no device request channel) with the lease active; after revoke + the holder's exit (its DMA blocked) it completes; rebound"
	else
		result RVU FAIL "pending=$pend messages $k0->$k1 lease=$st1 driver=$drv1 blocked=$(grep -o 'blocked_after_revoke=[A-Za-z]*' /tmp/rvu.out) done_after=$done_after driver_after='$drv2' rebind=$rebind"
	fi
}
