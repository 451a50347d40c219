#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# qemu-bundle.sh: print a directory holding trixie's qemu-system-x86_64 (QEMU >= 9 has
# -object iommufd; bookworm's 7.2 does not) with its own dynamic loader and libraries, ready
# to be copied into the guest under /opt/trixie (scenario S10). It is installed into the
# trixie build chroot once and cached in $VM_CACHE/qemu-trixie.
. "$(dirname "$0")/lib.sh"
set -eu

root=$VM_CACHE/chroot-$VM_SUITE
out=$VM_CACHE/qemu-trixie
[ -e "$out/.complete" ] && { echo "$out"; exit 0; }
"$VM_DIR/chroot.sh"
if [ ! -e "$root/usr/share/seabios/bios-256k.bin" ] || [ ! -x "$root/usr/bin/qemu-system-x86_64" ]; then
	vm_log "installing trixie's qemu-system-x86 into the build chroot (once)"
	chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q update >"$VM_CACHE/qemu-apt.log" 2>&1 &&
		chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q install -y \
			--no-install-recommends qemu-system-x86 seabios >>"$VM_CACHE/qemu-apt.log" 2>&1 ||
		{ tail -n 20 "$VM_CACHE/qemu-apt.log" >&2; vm_die "cannot install qemu-system-x86 from $VM_SUITE"; }
fi
rm -rf "$out.tmp" && mkdir -p "$out.tmp/lib" "$out.tmp/bin" "$out.tmp/share/qemu"
cp "$root/usr/bin/qemu-system-x86_64" "$out.tmp/bin/"
for l in $(chroot "$root" ldd /usr/bin/qemu-system-x86_64 | grep -o '/[^ ]*' | sort -u); do
	cp -L "$root$l" "$out.tmp/lib/"
done
[ -e "$out.tmp/lib/ld-linux-x86-64.so.2" ] || vm_die "no dynamic loader in the qemu bundle"
# Firmware for a paused q35 machine: SeaBIOS (Debian keeps it in /usr/share/seabios and
# builds QEMU with that in its firmware path; here both go into one -L directory).
for f in seabios/bios-256k.bin qemu/kvmvapic.bin qemu/linuxboot_dma.bin; do
	cp -L "$root/usr/share/$f" "$out.tmp/share/qemu/" || vm_die "no $f in the chroot"
done
chroot "$root" dpkg-query -W -f='${Version}\n' qemu-system-x86 >"$out.tmp/version"
rm -rf "$out" && mv "$out.tmp" "$out"
touch "$out/.complete"
echo "$out"
