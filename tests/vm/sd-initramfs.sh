#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sd-initramfs.sh KV VERSION: print the path of the systemd guest's initramfs. It is small: a
# static busybox, the stock modules that mount the root image (virtio_blk, ext4 and what they
# depend on, from the linux-image package, cached in VERSION/modules-sdblk/), and /stage: the
# project as a packager installs it (`make install DESTDIR=`), the test tools and scenario
# scripts under /usr/local, and the test unit. Its /init (sd-preinit.sh) mounts the image
# (/dev/vda, opened by QEMU with snapshot=on), copies /stage over it and switch_roots to
# systemd. Cached by a hash of its inputs like mkinitramfs.sh.
. "$(dirname "$0")/lib.sh"
set -eu

kv=$1 ver=$2
top=$VM_CACHE/$ver

# 1. The block modules (once per kernel version). crc32c: ext4's metadata checksums (a soft
# dependency modinfo -F depends does not list).
blk=$("$VM_DIR/stock-modules.sh" "$kv" "$ver" sdblk crc32c_generic virtio_blk ext4) ||
	vm_die "no block modules for the systemd guest"

# 2. The project, installed as a packager does, and the test tools.
bb=$(command -v busybox || true)
case $( [ -n "$bb" ] && ldd "$bb" 2>&1) in
*"not a dynamic"*) ;;
*) vm_die "a static busybox is needed (busybox-static)" ;;
esac
s=$(mktemp -d)
trap 'rm -rf "$s"' EXIT
chmod 0755 "$s"
st=$s/stage
mkdir -p "$st"
make -s -C "$REPO" B="$B" DESTDIR="$st" install >"$s/install.log" 2>&1 ||
	{ cat "$s/install.log" >&2; vm_die "make install DESTDIR= failed"; }
# Test tools: not part of the package, under /usr/local.
lb=$st/usr/local/lib/ioasid-vm
mkdir -p "$lb/bin" "$lb/scenarios"
for b in vm-edu rawclient kernel-probe bench-acquire; do
	[ -x "$BDIR/$b" ] && cp "$BDIR/$b" "$lb/bin/"
done
cp "$VM_DIR/sd-init.sh" "$lb/sd-init.sh"
cp "$VM_DIR"/scenarios/*.sh "$lb/scenarios/"
mkdir -p "$st/etc/systemd/system/multi-user.target.wants"
cat >"$st/etc/systemd/system/ioasid-vm-test.service" <<'UNIT'
[Unit]
Description=ioasid real-kernel tier: the systemd guest's scenarios
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/lib/ioasid-vm/sd-init.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TTYReset=no
TTYVHangup=no
TTYVTDisallocate=no

[Install]
WantedBy=multi-user.target
UNIT
ln -s ../ioasid-vm-test.service "$st/etc/systemd/system/multi-user.target.wants/"
# The serial console carries the results: no getty on it. A lean boot under TCG: no other
# getty, no timers, no pseudo file systems nobody uses, none of the once-per-/usr-update
# jobs (hwdb, ldconfig, catalog: the image's /etc is never "updated"), a journal in /run.
for u in serial-getty@ttyS0.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer \
	dpkg-db-backup.timer fstrim.timer netavark-dhcp-proxy.service netavark-dhcp-proxy.socket \
	systemd-pstore.service dev-hugepages.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
	sys-kernel-config.mount proc-sys-fs-binfmt_misc.automount systemd-binfmt.service \
	ldconfig.service systemd-hwdb-update.service systemd-journal-catalog-update.service \
	systemd-update-done.service systemd-journal-flush.service modprobe@drm.service \
	systemd-random-seed.service; do
	ln -s /dev/null "$st/etc/systemd/system/$u"
done
mkdir -p "$st/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$st/etc/systemd/journald.conf.d/ioasid-vm.conf"
# A fixed machine id: not a first boot (no systemd-firstboot prompt on the console).
echo 5e1f0c0ffee0a11ce5e1f0c0ffee0a11 >"$st/etc/machine-id"

# 3. The initramfs.
mkdir -p "$s/root"/{bin,dev,proc,sys,newroot,lib/sdblk}
cp "$bb" "$s/root/bin/busybox"
ln -s busybox "$s/root/bin/sh"
cp "$blk"/*.ko "$blk/order" "$s/root/lib/sdblk/"
cp "$VM_DIR/sd-preinit.sh" "$s/root/init"
chmod 0755 "$s/root/init"
mv "$st" "$s/root/stage"
hash=$( (cd "$s/root" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
out=$top/initrd-systemd-$hash.gz
if [ -e "$out" ]; then
	touch "$out"
	echo "$out"
	exit 0
fi
find "$top" -maxdepth 1 -name 'initrd-systemd-*.gz' -mmin +1440 -delete 2>/dev/null || true
(cd "$s/root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R +0:+0) |
	gzip -1 >"$out.$$.tmp"
mv "$out.$$.tmp" "$out"
echo "$out"
