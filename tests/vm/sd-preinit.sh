#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# /init of the systemd guest's initramfs (busybox): mount the root image, copy the installed
# project (/stage: `make install DESTDIR=` plus the test unit and tools) over it, and hand
# the machine to systemd as PID 1. Any failure prints VMERROR and VMTEST-END and powers off,
# so run.sh reports it instead of waiting for its timeout.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
die() {
	echo "VMERROR systemd guest pre-init: $*"
	echo "VMTEST-END"
	poweroff -f
}
for m in $(cat /lib/sdblk/order); do insmod "/lib/sdblk/$m.ko" || die "insmod $m failed"; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] || die "no /dev/vda (the root image)"
mount -t ext4 -o rw /dev/vda /newroot || die "cannot mount /dev/vda"
# The package's files, as dpkg would unpack them (root-owned, modes from make install).
cp -a /stage/. /newroot/ || die "cannot copy the installed project into the root"
umount /proc /sys
umount /dev
exec switch_root /newroot /sbin/init
