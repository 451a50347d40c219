#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The systemd guest's test runner (ioasid-vm-test.service, after multi-user.target; systemd is
# PID 1). The project was installed by `make install DESTDIR=` (copied in before boot); here
# the packager's remaining steps run (systemd-sysusers, systemd-tmpfiles --create, systemctl
# enable --now ioasidd.socket), the edus are bound to vfio-pci, and the scenarios named by
# ioasid.scenarios= run: scenarios/sys-*.sh define scenario_<ID>. Output on the serial console
# as in guest-init.sh (VMTEST, VMINFO, VMERROR, VMFATAL, VMKMSG-BEGIN..END, VMTEST-END),
# then the machine powers off at once.
export PATH=/usr/local/lib/ioasid-vm/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export SYSTEMD_PAGER= SYSTEMD_COLORS=0 LC_ALL=C.UTF-8
MODE=systemd
CMDLINE=$(cat /proc/cmdline)
FAILED=0
LIB=/usr/local/lib/ioasid-vm

. "$LIB/scenarios/lib-guest.sh"
finish() {
	if [ $FAILED != 0 ]; then
		echo "VMDMESG-BEGIN"
		dmesg | tail -n 80
		journalctl -b --no-pager -n 80 -o short-monotonic 2>&1
		echo "VMDMESG-END"
	fi
	echo "VMKMSG-BEGIN"
	dmesg
	echo "VMKMSG-END"
	echo "VMTEST-END"
	sync
	systemctl poweroff --force --force
	exit 0
}

info boot "mode=$MODE kernel=$(uname -r) systemd=$(systemctl --version | head -n1) up=$(cut -d' ' -f1 /proc/uptime)s"
up() { cut -d' ' -f1 /proc/uptime; }
info boot "startup: $(systemd-analyze time 2>&1 | head -n1)"
systemd-analyze blame 2>&1 | head -n 8 | sed 's/^/VMINFO boot blame: /'

# 1. What systemd-modules-load did with the installed modules-load.d/ioasid.conf.
for m in iommufd vfio_pci; do
	[ -d "/sys/module/$m" ] || echo "VMERROR module $m not loaded at boot (modules-load.d/ioasid.conf)"
done
[ -c /dev/iommu ] || echo "VMERROR no /dev/iommu after boot"

# 2. The devices (the machine is the rebuilt boot's), bound to vfio-pci as in guest-init.sh.
EDU=1234:11e8 TESTDEV=1b36:0005 E1000E=8086:10d3
GUEST_DEVICES="EDU_SINGLE:0000:00:06.0:$EDU EDU_MF:0000:00:04.0:$EDU TESTDEV_MF:0000:00:04.0:$TESTDEV
EDU_BR:0000:00:05.0:$EDU TESTDEV_BR:0000:00:05.0:$TESTDEV EDU_HOSTGRP:0000:00:07.0:$EDU
NIC_HOSTGRP:0000:00:07.0:$E1000E NIC:0000:00:03.0:$E1000E"
find_devices
for b in $EDU_SINGLE $EDU_MF $TESTDEV_MF $EDU_BR $TESTDEV_BR; do
	bind_vfio "$b" || echo "VMERROR cannot bind $b to vfio-pci"
done
info boot "bound at $(up)s: edu_single=$EDU_SINGLE edu_mf=$EDU_MF edu_br=$EDU_BR vfio: $(ls /dev/vfio/devices 2>/dev/null | tr '\n' ' ')"

# 3. The packager's steps after `make install DESTDIR=`, then the clients' group: the commands
# of README's "Running ioasidd under systemd", as written there (check-docs compares them; its
# modprobe lines are the installed modules-load.d file's work at boot here).
SETUP_ERR=
: >/tmp/setup.log
setup_step() { "$@" >>/tmp/setup.log 2>&1 || SETUP_ERR="$SETUP_ERR [$*]"; }
setup_step systemd-sysusers /usr/lib/sysusers.d/ioasid.conf
setup_step systemd-tmpfiles --create /usr/lib/tmpfiles.d/ioasid.conf
setup_step systemctl daemon-reload
setup_step systemctl enable --now ioasidd.socket
setup_step usermod -aG ioasid tester
setup_step usermod -aG ioasid other
if [ -n "$SETUP_ERR" ]; then
	echo "VMERROR packager steps failed:$SETUP_ERR: $(tr '\n' ' ' </tmp/setup.log)"
else
	info boot "packager steps done at $(up)s: $(ls -l /run/ioasid/ioasidd.sock 2>&1); group $(getent group ioasid)"
fi

# 4. Scenarios.
. "$LIB/scenarios/lib-daemon.sh"
for f in "$LIB"/scenarios/sys-*.sh; do [ -e "$f" ] && . "$f"; done
run_scenarios guest
finish
