# SPDX-License-Identifier: LGPL-2.1-or-later
# HOT: hotplug through QEMU's monitor while a lease exists. The edu behind the root port at
# 00:08.0 (QEMU id "hotedu") is leased to uid 1000, whose client has done DMA through it and
# keeps its fds; the guest asks the host for QMP device_del (a "VMHOTPLUG" line that
# tests/vm/qmp-hotplug.py turns into the command) and records what the kernel, ioasidd,
# `ioasidctl leases` and an admin's `ioasidctl monitor --json` say; then device_add, the
# device back on vfio-pci, a staged context dropped by a removal, and a new lease's DMA.
# ioasidd's monitor hears udev's broadcast (sd_device_monitor_new: the udev netlink group),
# not the kernel's uevents: without a udevd it hears nothing, so systemd-udevd (the host's
# udevadm, no rules) runs for this scenario.

HOT_QDEV=hotedu

hot_request() { echo "VMHOTPLUG $*"; }

# hot_poll TENTHS CMD...: until CMD succeeds, at most TENTHS tenths of a second.
hot_poll() {
	n=$1
	shift
	i=0
	while ! "$@" && [ $i -lt "$n" ]; do sleep 0.1; i=$((i + 1)); done
	"$@"
}
hot_present() { [ -e "/sys/bus/pci/devices/$EDU_HOT" ]; }
hot_absent() { [ ! -e "/sys/bus/pci/devices/$EDU_HOT" ]; }
hot_kmsg_count() { dmesg | grep -c "$EDU_HOT.*blocked until released by user"; }
hot_kmsg_more() { [ "$(hot_kmsg_count)" -gt "$1" ]; }
# hot_event JQ-FILTER: the admin's monitor has printed a matching event.
hot_event() { jq -e -s "any(.[]; $1)" /tmp/hot-mon.out >/dev/null 2>&1; }
hot_grep() { grep -q "$1" "$2" 2>/dev/null; }

udevd_start() {
	[ -x /usr/bin/udevadm ] || return 1
	mkdir -p /run/udev
	ln -sf /usr/bin/udevadm /run/systemd-udevd # udevadm runs udevd when called so
	SYSTEMD_LOG_LEVEL=warning /run/systemd-udevd --daemon --resolve-names=never \
		>/tmp/udevd.log 2>&1 || return 1
	hot_poll 100 test -S /run/udev/control
}
udevd_stop() { /usr/bin/udevadm control --exit 2>/dev/null; }

# hot_readd: device_add the edu back, wait for it, bind it to vfio-pci by hand (nothing in
# the guest matches an edu: it comes back with no driver). 0 when it is on vfio-pci.
hot_readd() {
	hot_request device_add "driver=edu,id=$HOT_QDEV,bus=rp5,addr=0.0"
	hot_poll 300 hot_present && bind_vfio "$EDU_HOT"
}

scenario_HOT() {
	local ok=1 why= pid mpid lease k0 kpend pend st_pend rc gone st_gone grp0 grp1 drv1 back
	local sid k1 spend sgone sleft back2 brc lease2 ev cause
	rm -f /tmp/hot-go /tmp/hot-a.out /tmp/hot-b.out /tmp/hot-mon.out /tmp/hot-mon.err
	if ! udevd_start; then
		result HOT FAIL "systemd-udevd did not start: $(head -c 200 /tmp/udevd.log)"
		return
	fi
	info HOT "systemd-udevd running ($(/usr/bin/udevadm --version))"
	daemon_start || { udevd_stop; result HOT FAIL "ioasidd did not start"; return; }
	ioasidctl --socket="$SOCK" monitor --json >/tmp/hot-mon.out 2>/tmp/hot-mon.err &
	mpid=$!
	hot_poll 100 hot_grep '^Monitoring' /tmp/hot-mon.err
	grp0=$(basename "$(readlink "/sys/bus/pci/devices/$EDU_HOT/iommu_group")")
	cause="$EDU_HOT leaving its VFIO driver (vfio-dev removed)"

	# 1. A lease on the edu, its holder has round-tripped DMA and keeps its fds.
	ctl_as $UID_A run --device "$EDU_HOT" --mode attached -- \
		vm-edu dma '{iommufd}' "{fd:$EDU_HOT}" --ioas '{ioas}' --then-wait /tmp/hot-go \
		>/tmp/hot-a.out 2>&1 &
	pid=$!
	hot_poll 300 hot_grep waiting /tmp/hot-a.out
	lease=$(ctl_as 0 leases --json=short | jq -r '.[0].id // empty')
	[ -n "$lease" ] && hot_grep 'roundtrip=ok' /tmp/hot-a.out ||
		{ ok=0 why="$why; no lease with a DMA round trip ($(tr '\n' ' ' </tmp/hot-a.out | tail -c 200))"; }

	# 2. device_del while leased. vfio-pci removes the device's vfio-dev file, then the
	# kernel waits for every open file of the device (no device request channel is
	# registered). ioasidd hears the vfio-dev removal (udev) and revokes the lease itself;
	# the PCI device stays while the holder keeps its fds.
	k0=$(hot_kmsg_count)
	hot_request device_del "$HOT_QDEV"
	hot_poll 300 hot_kmsg_more "$k0"
	kpend=$(hot_kmsg_count)
	hot_poll 300 hot_event "(.event == \"lease-revoked\" and .lease == \"$lease\")"
	hot_present && pend=yes || pend=no
	st_pend=$(ctl_as 0 leases --json=short | jq -r --arg id "$lease" '.[] | select(.id == $id) | .state')
	info HOT "device_del while leased: kernel messages $k0 -> $kpend, PCI device still there=$pend, lease ${lease:-none} $st_pend"
	[ "$kpend" -gt "$k0" ] && [ $pend = yes ] && [ "$st_pend" = revoked ] ||
		{ ok=0 why="$why; while pending: messages $k0->$kpend present=$pend lease=$st_pend"; }
	hot_event "(.event == \"lease-revoked\" and .lease == \"$lease\" and .cause == \"$cause\")" ||
		{ ok=0 why="$why; no lease-revoked event with cause '$cause'"; }
	grep -q "action=revoke method=- cause=\"device-gone\" .*lease=$lease reason=\"$cause\"" /tmp/ioasidd.log ||
		{ ok=0 why="$why; no device-gone revoke audit record for $lease"; }

	# 3. The holder's DMA is blocked (the daemon detached its device); once it exits the
	# removal completes and udev reports the PCI device gone.
	touch /tmp/hot-go
	wait $pid
	rc=$?
	hot_poll 300 hot_absent
	hot_absent && gone=yes || gone=no
	hot_poll 300 hot_event "(.event == \"group-viability-changed\" and .group == $grp0 and .verdict == \"no-iommu\")"
	st_gone=$(ctl_as 0 leases --json=short | jq -r 'length')
	info HOT "holder exit $rc; device gone=$gone; leases left $st_gone"
	hot_grep 'blocked_after_revoke=yes' /tmp/hot-a.out && [ $rc = 0 ] ||
		{ ok=0 why="$why; holder exit $rc $(grep -o 'blocked_after_revoke=[A-Za-z]*' /tmp/hot-a.out)"; }
	[ $gone = yes ] && [ "$st_gone" = 0 ] || { ok=0 why="$why; after the holder: gone=$gone leases=$st_gone"; }
	for ev in "(.event == \"device-remove\" and .bdf == \"$EDU_HOT\")" \
		"(.event == \"group-viability-changed\" and .group == $grp0 and .verdict == \"no-iommu\")"; do
		hot_event "$ev" || { ok=0 why="$why; no monitor event $ev"; }
	done

	# 4. device_add: back, on vfio-pci; the monitor shows it come and bind.
	back=no
	hot_absent && hot_readd && back=yes
	grp1=$(basename "$(readlink "/sys/bus/pci/devices/$EDU_HOT/iommu_group" 2>/dev/null)")
	drv1=$(basename "$(readlink "/sys/bus/pci/devices/$EDU_HOT/driver" 2>/dev/null)" 2>/dev/null)
	hot_poll 300 hot_event "(.event == \"device-bind\" and .bdf == \"$EDU_HOT\")"
	info HOT "device_add: on vfio-pci=$back (driver ${drv1:-none}, group $grp0 -> ${grp1:-none})"
	[ $back = yes ] || { ok=0 why="$why; device_add: back on vfio-pci=$back driver=$drv1"; }
	for ev in "(.event == \"device-add\" and .bdf == \"$EDU_HOT\")" \
		"(.event == \"device-bind\" and .bdf == \"$EDU_HOT\")" \
		"(.event == \"group-viability-changed\" and .group == ${grp1:-0} and .verdict == \"viable\")"; do
		hot_event "$ev" || { ok=0 why="$why; no monitor event $ev"; }
	done

	# 5. A context staged on it (attached: the daemon's own bound fds, no holder): device_del
	# completes with nothing else done, the daemon dropping the context.
	sid=$(ctl_as 0 stage default --for "$UID_A" --device "$EDU_HOT" --mode attached \
		--json=short 2>/tmp/hot-st.err | jq -r '.id // empty')
	k1=$(hot_kmsg_count)
	hot_request device_del "$HOT_QDEV"
	hot_poll 300 hot_absent
	hot_absent && sgone=yes || sgone=no
	sleft=$(ctl_as 0 stage list --json=short | jq 'length')
	info HOT "staged ${sid:-nothing} ($(head -c 200 /tmp/hot-st.err)); device_del: gone=$sgone, kernel messages $k1 -> $(hot_kmsg_count), staged left ${sleft:-?}"
	[ -n "$sid" ] && [ $sgone = yes ] && [ "$sleft" = 0 ] ||
		{ ok=0 why="$why; staged '$sid': gone=$sgone staged left=$sleft"; }
	grep -q "action=drop-staged method=- cause=\"device-gone\" .*reason=\"$cause\"" /tmp/ioasidd.log ||
		{ ok=0 why="$why; no device-gone drop-staged audit record"; }
	# A removal the daemon still holds: the admin drops the context, or nothing below could
	# go on (a bind would wait on the device's lock behind the pending removal).
	if [ $sgone = no ] && [ -n "$sid" ]; then
		ctl_as 0 stage drop "$sid" >/dev/null 2>&1
		hot_poll 300 hot_absent
	fi
	back2=no
	hot_absent && hot_readd && back2=yes
	[ $back2 = yes ] || { ok=0 why="$why; second device_add: not back on vfio-pci"; }

	# 6. A new lease on the device that came back: DMA round-trips.
	ctl_as $UID_B run --device "$EDU_HOT" --mode attached -- \
		vm-edu dma '{iommufd}' "{fd:$EDU_HOT}" --ioas '{ioas}' >/tmp/hot-b.out 2>&1
	brc=$?
	hot_grep 'roundtrip=ok' /tmp/hot-b.out && [ $brc = 0 ] ||
		{ ok=0 why="$why; new lease: exit $brc $(grep -E 'error=|ioasidctl:' /tmp/hot-b.out | head -n1)"; }
	lease2=$(jq -r -s --arg b "$EDU_HOT" '[.[] | select(.event == "lease-acquired" and .bdf == $b) | .lease] | last // empty' /tmp/hot-mon.out)
	[ -n "$lease2" ] && [ "$lease2" != "$lease" ] || { ok=0 why="$why; no lease-acquired for the new lease"; }

	kill -INT $mpid 2>/dev/null
	wait $mpid 2>/dev/null
	sed 's/^/VMINFO HOT holder: /' /tmp/hot-a.out
	sed 's/^/VMINFO HOT new: /' /tmp/hot-b.out
	sed 's/^/VMINFO HOT monitor: /' /tmp/hot-mon.out
	daemon_stop
	udevd_stop
	if [ $ok = 1 ]; then
		result HOT PASS "device_del of leased $EDU_HOT: the kernel waits for its files, ioasidd revokes on the vfio-dev removal (monitor, audit: device-gone) and the holder's DMA is blocked; removed once the holder exits (device-remove, group $grp0 no-iommu); device_add: device-add, device-bind, group $grp1 viable; a staged context does not hold a removal; a new lease round-trips"
	else
		result HOT FAIL "${why#; }"
	fi
}
