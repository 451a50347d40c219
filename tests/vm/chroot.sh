#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Create (once) the trixie build chroot: the modules must be compiled by the kernel's own gcc
# (gcc-14), because bookworm's gcc-12 rejects flags baked into the kernel config.
. "$(dirname "$0")/lib.sh"
set -eu

root=$VM_CACHE/chroot-$VM_SUITE
[ -e "$root/.complete" ] && exit 0
command -v debootstrap >/dev/null || vm_die "debootstrap is not installed (make deps)"
[ "$(id -u)" = 0 ] || vm_die "creating the build chroot needs root"
vm_umount_below "$root"
rm -rf "$root"
mkdir -p "$root"
trap 'vm_umount_below "$root"' EXIT
trap 'exit 130' INT TERM HUP
vm_log "debootstrap --variant=minbase $VM_SUITE (once)"
pkgs=gcc,make,libc6-dev,libelf-dev,libssl-dev,bc,bison,flex,kmod,xz-utils,dwarves,ca-certificates
debootstrap --variant=minbase --include="$pkgs" --keyring="$VM_KEYRING" \
	"$VM_SUITE" "$root" "$VM_MIRROR" >"$VM_CACHE/debootstrap.log" 2>&1 ||
	{ tail -n 30 "$VM_CACHE/debootstrap.log" >&2; vm_die "debootstrap $VM_SUITE failed"; }
chroot "$root" gcc --version | head -n1 >&2
touch "$root/.complete"
