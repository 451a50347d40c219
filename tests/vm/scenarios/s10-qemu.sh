# SPDX-License-Identifier: LGPL-2.1-or-later
# S10: trixie's QEMU inside the guest, as an unprivileged uid with no capabilities, gets its
# iommufd and device fd from `ioasidctl run --mode unbound` and assigns the edu to a paused
# nested machine (-object iommufd,fd= / -device vfio-pci,fd=): QEMU binds, attaches and maps
# its guest RAM through the iommufd itself, under the RLIMIT_MEMLOCK the daemon set from the
# grant (memlock 256M; the uid's own limit is the kernel's 8 MiB default, below the 64 MiB
# QEMU pins); the monitor lists the device, then quits. The nested machine never runs, so no
# DMA goes through the device: S10 proves the hand-over to QEMU, not DMA from a nested guest.

S10_MEMLOCK=268435456

scenario_S10() {
	local rc lim
	[ -x /opt/trixie/bin/qemu-system-x86_64 ] || { result S10 FAIL "no trixie QEMU in the initramfs"; return; }
	DAEMON_POLICY_FIRST="allow uid $UID_A to bdf $EDU_SINGLE mode unbound memlock 256M" daemon_start ||
		{ result S10 FAIL "ioasidd did not start"; return; }
	# The process ioasidctl run execs in place prints its own limit, then becomes QEMU.
	printf 'info pci\nquit\n' |
		ctl_as $UID_A run --device "$EDU_SINGLE" --mode unbound -- \
			sh -c 'grep "^Max locked memory" /proc/self/limits; exec "$@"' s10 \
			qemu-system-x86_64 -S -machine q35 -accel tcg -m 64 -nodefaults -display none \
			-monitor stdio -object iommufd,id=iommufd0,fd='{iommufd}' \
			-device vfio-pci,iommufd=iommufd0,fd="{fd:$EDU_SINGLE}",id=hostdev0 \
			>/tmp/s10.out 2>&1
	rc=$?
	daemon_stop
	sed 's/^/VMINFO S10 /' /tmp/s10.out | head -n 40
	lim=$(sed -n 's/^Max locked memory *\([0-9a-z]*\) .*/\1/p' /tmp/s10.out)
	if [ $rc = 0 ] && [ "$lim" = "$S10_MEMLOCK" ] && grep -q 'PCI device 1234:11e8' /tmp/s10.out &&
		grep -q 'id "hostdev0"' /tmp/s10.out; then
		result S10 PASS "QEMU $(cat /opt/trixie/version 2>/dev/null) as uid $UID_A (no capabilities) with RLIMIT_MEMLOCK $lim set by ioasidd from the grant: vfio-pci bound, attached and mapped guest RAM on the leased iommufd + unbound cdev, the edu is in the paused nested machine, quit via the monitor (no nested DMA)"
	else
		result S10 FAIL "exit $rc, RLIMIT_MEMLOCK '$lim' (want $S10_MEMLOCK from the grant): $(grep -iE 'error|qemu-system' /tmp/s10.out | head -n 2 | tr '\n' ' ')"
	fi
}
