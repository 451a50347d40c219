# SPDX-License-Identifier: LGPL-2.1-or-later
# S10: trixie's QEMU inside the guest, as an unprivileged uid, gets its iommufd and device fd
# from `ioasidctl run --mode unbound` and assigns the edu to a paused nested machine
# (-object iommufd,fd= / -device vfio-pci,fd=): QEMU binds, attaches and maps guest RAM
# itself; the monitor lists the device, then quits.

scenario_S10() {
	local rc
	[ -x /opt/trixie/bin/qemu-system-x86_64 ] || { result S10 FAIL "no trixie QEMU in the initramfs"; return; }
	daemon_start || { result S10 FAIL "ioasidd did not start"; return; }
	# QEMU pins its guest RAM through the iommufd: the client's RLIMIT_MEMLOCK must cover it.
	printf 'info pci\nquit\n' | (
		ulimit -l unlimited
		ctl_as $UID_A run --device "$EDU_SINGLE" --mode unbound -- \
			qemu-system-x86_64 -S -machine q35 -accel tcg -m 64 -nodefaults -display none \
			-monitor stdio -object iommufd,id=iommufd0,fd='{iommufd}' \
			-device vfio-pci,iommufd=iommufd0,fd="{fd:$EDU_SINGLE}",id=hostdev0
	) >/tmp/s10.out 2>&1
	rc=$?
	daemon_stop
	sed 's/^/VMINFO S10 /' /tmp/s10.out | head -n 40
	if [ $rc = 0 ] && grep -q 'PCI device 1234:11e8' /tmp/s10.out && grep -q 'id "hostdev0"' /tmp/s10.out; then
		result S10 PASS "QEMU $(cat /opt/trixie/version 2>/dev/null) as uid $UID_A: vfio-pci on the leased iommufd + cdev fd, edu visible in the nested machine, quit via the monitor"
	else
		result S10 FAIL "exit $rc: $(grep -iE 'error|qemu-system' /tmp/s10.out | head -n 2 | tr '\n' ' ')"
	fi
}
