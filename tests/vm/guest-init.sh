#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# /init of the real-kernel test guest (busybox). Loads the vfio/iommufd modules, binds the
# test devices to vfio-pci, runs the scenarios and reports on the serial console:
#   VMTEST <id> PASS|FAIL|TODO <detail>  one line per scenario (parsed by tests/vm/run.sh)
#   VMINFO <id> <text>                   facts worth keeping in the log
#   VMSTEP <id> done|FAIL <detail>       a step that other checks build on (SD): never a PASS
#   VMERROR <text>                       a setup step failed (counted as a failure)
#   VMFATAL <text>                       the machine is not what the tier expects (a device
#                                        missing): no scenario runs, the tier fails at once
#   VMKMSG-BEGIN..VMKMSG-END             the whole kernel log, scenario markers included
#                                        ("ioasid-vm: scenario <id> begin|end"), scanned by
#                                        run.sh for WARN/BUG/oops and unexpected DMAR faults
#   VMTEST-END                           the guest finished (absent = crash or timeout)
# then powers off. The kernel command line may carry ioasid.scenarios=S0,S2 and
# mod.param=value items for the modules.

/bin/busybox --install -s
export PATH=/usr/bin:/usr/sbin:/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
MODE=$(cat /etc/ioasid-vm-mode)
CMDLINE=$(cat /proc/cmdline)
FAILED=0

. /scenarios/lib-guest.sh

# 1. Modules, in dependency order, with mod.param=val items from the command line.
for m in $(cat /lib/ioasid-modules/order); do
	params=
	mn=$(echo "$m" | tr - _)
	for w in $CMDLINE; do
		case $w in "$mn".*=*) params="$params ${w#"$mn".}" ;; esac
	done
	[ -n "$params" ] && echo "VMINFO boot insmod $m$params"
	if ! insmod "/lib/ioasid-modules/$m.ko" $params; then
		echo "VMERROR insmod $m failed"
		FAILED=1
	fi
done

# 2. Wait for the IOMMU.
i=0
while [ -z "$(ls /sys/class/iommu 2>/dev/null)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
info boot "mode=$MODE kernel=$(uname -r) iommu=$(ls /sys/class/iommu | tr '\n' ' ')"

# 3. The machine's devices, found by the port they sit under (tests/vm/run.sh builds it).
# The devices the scenarios use: variable, port, vendor:device. Each one must be there: a
# missing one fails the tier at once (VMFATAL) instead of being skipped as an empty name.
# Each boot's machine has its own list (run.sh builds the machines).
EDU=1234:11e8 TESTDEV=1b36:0005 E1000E=8086:10d3 IGB=8086:10c9
case $MODE in
sriov) GUEST_DEVICES="IGB_PF:0000:00:03.0:$IGB" ;;
*) GUEST_DEVICES="EDU_SINGLE:0000:00:06.0:$EDU EDU_MF:0000:00:04.0:$EDU TESTDEV_MF:0000:00:04.0:$TESTDEV
EDU_BR:0000:00:05.0:$EDU TESTDEV_BR:0000:00:05.0:$TESTDEV EDU_HOSTGRP:0000:00:07.0:$EDU
NIC_HOSTGRP:0000:00:07.0:$E1000E NIC:0000:00:03.0:$E1000E EDU_HOT:0000:00:08.0:$EDU
NIC_A:0000:00:10.0:$E1000E NIC_B:0000:00:11.0:$E1000E" ;;
esac
find_devices
info boot "edu_single=$EDU_SINGLE edu_mf=$EDU_MF edu_br=$EDU_BR edu_hostgrp=$EDU_HOSTGRP nic=$NIC nic_hostgrp=$NIC_HOSTGRP nic_a=${NIC_A:-} nic_b=${NIC_B:-} edu_hot=$EDU_HOT"
for d in /sys/kernel/iommu_groups/*; do
	info groups "group $(basename "$d"): $(ls "$d/devices" | tr '\n' ' ')"
done

# Host driver for the e1000e functions (the not-viable group), when the initramfs has it.
if [ -d /lib/ioasid-modules/host ]; then
	for m in $(cat /lib/ioasid-modules/host/order); do insmod "/lib/ioasid-modules/host/$m.ko"; done
fi
for b in $EDU_SINGLE $EDU_MF $TESTDEV_MF $EDU_BR $TESTDEV_BR $EDU_HOSTGRP $EDU_HOT; do
	bind_vfio "$b" || echo "VMERROR cannot bind $b to vfio-pci"
done
# The host driver must hold the NIC of the not-viable group (S5), or that group is viable.
drv=$(basename "$(readlink "/sys/bus/pci/devices/$NIC_HOSTGRP/driver" 2>/dev/null)" 2>/dev/null)
[ -z "$NIC_HOSTGRP" ] || [ "$drv" = e1000e ] || echo "VMERROR $NIC_HOSTGRP is on '${drv:-no driver}', not e1000e"
info boot "vfio: $(ls /dev/vfio /dev/vfio/devices 2>/dev/null | tr '\n' ' ')"
for d in /sys/bus/pci/devices/*; do
	drv=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)
	info drivers "$(basename "$d") $(cat "$d/vendor"):$(cat "$d/device") driver=${drv:-none}"
done

# 4. Scenarios: scenarios/*.sh define scenario_<ID>; run those named by ioasid.scenarios=
for f in /scenarios/*.sh; do [ -e "$f" ] && . "$f"; done
run_scenarios initramfs

if [ $FAILED != 0 ]; then
	echo "VMDMESG-BEGIN"
	dmesg | tail -n 80
	echo "VMDMESG-END"
fi
echo "VMKMSG-BEGIN"
dmesg
echo "VMKMSG-END"
echo "VMTEST-END"
sync
poweroff -f
