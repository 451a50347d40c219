#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sd-rootfs.sh KV VERSION: print the path of the systemd guest's root file system image (ext4,
# raw), built once and cached:
#   $VM_CACHE/sdguest-trixie/rootfs-N/ debootstrap minbase trixie + systemd, systemd-sysv, dbus,
#                                      udev, podman and what the scenarios need, all from
#                                      Debian's packages; users tester (1000) and other (1001)
#   $VM_CACHE/VERSION/sdguest-HASH.ext4  that tree plus the kernel's own modules
#                                      (/usr/lib/modules/KV from the linux-image package) and
#                                      the rebuilt iommufd/VFIO modules in updates/, depmod'ed
# The image never holds the project: the boot's initramfs copies the `make install DESTDIR=`
# tree in (tests/vm/sd-initramfs.sh), and QEMU opens the image with snapshot=on, so the cached
# file is never written and several runs may boot it at once. Called by run.sh under the
# cache lock.
. "$(dirname "$0")/lib.sh"
set -eu

kv=$1 ver=$2
top=$VM_CACHE/$ver
base=$VM_CACHE/sdguest-$VM_SUITE
# Bump when the package list or the users change: the tree is rebuilt once. man-db: `systemd-analyze
# verify` runs man(1) for each Documentation= page (SY8), so the installed pages must resolve.
ROOTFS_FORMAT=2
# Bump when the image (not the tree) changes.
IMAGE_FORMAT=2
# One tree per format: checkouts of different formats sharing the cache never rebuild each
# other's tree.
root=$base/rootfs-$ROOTFS_FORMAT
PKGS="systemd systemd-sysv dbus dbus-user-session libpam-systemd udev kmod
libjson-c5 libnl-3-200 libnl-genl-3-200 libnl-route-3-200 libsystemd0 libudev1
util-linux procps psmisc jq pciutils iproute2 man-db
podman uidmap crun fuse-overlayfs passt catatonit containers-storage"

# Its own lock too: the tree and the images are built by whichever run comes first.
mkdir -p "$base"
exec {sdlock}>"$base/.lock"
flock "$sdlock" || vm_die "cannot lock $base/.lock"
# The image: the tree plus this kernel's modules, keyed by what goes in.
img_deb=$(ls "$top/debs/linux-image-${kv}_"*.deb 2>/dev/null | head -n1)
[ -n "$img_deb" ] || vm_die "missing package linux-image-$kv in $top/debs (run fetch.sh)"
hash=$( {
	echo "$kv $ver $ROOTFS_FORMAT $IMAGE_FORMAT"
	sha256sum "$img_deb" "$top/modules/rebuilt/"*.ko
} | sha256sum | cut -c1-16)
out=$top/sdguest-$hash.ext4
if [ -e "$out" ]; then
	echo "$out"
	exit 0
fi

if [ "$(cat "$root/.complete" 2>/dev/null)" != "$ROOTFS_FORMAT" ]; then
	command -v debootstrap >/dev/null || vm_die "debootstrap is not installed (make deps)"
	vm_umount_below "$root"
	rm -rf "$root"
	mkdir -p "$root"
	trap 'vm_umount_below "$root"' EXIT
	trap 'exit 130' INT TERM HUP
	vm_log "systemd guest: debootstrap --variant=minbase $VM_SUITE + systemd, podman (once)"
	debootstrap --variant=minbase --keyring="$VM_KEYRING" \
		"$VM_SUITE" "$root" "$VM_MIRROR" >"$base/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$base/debootstrap.log" >&2; vm_die "debootstrap $VM_SUITE (systemd guest) failed"; }
	# Nothing starts services in the chroot; packages are configured as on a fresh install.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 0755 "$root/usr/sbin/policy-rc.d"
	# shellcheck disable=SC2086
	chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q update >"$base/apt.log" 2>&1 &&
		chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q install -y \
			--no-install-recommends $PKGS >>"$base/apt.log" 2>&1 ||
		{ tail -n 30 "$base/apt.log" >&2; vm_die "cannot install the systemd guest's packages from $VM_SUITE"; }
	rm -f "$root/usr/sbin/policy-rc.d"
	chroot "$root" apt-get clean
	# The test users (the same uids as the initramfs guest); useradd gives them subordinate
	# id ranges (/etc/subuid, /etc/subgid) for rootless podman.
	chroot "$root" useradd -m -u 1000 -U -s /bin/sh tester
	chroot "$root" useradd -m -u 1001 -U -s /bin/sh other
	echo ioasid-guest >"$root/etc/hostname"
	# root without a password: only the serial console, and no getty runs there.
	chroot "$root" passwd -d root >/dev/null
	: >"$root/etc/machine-id"
	echo "$ROOTFS_FORMAT" >"$root/.complete"
	trap - EXIT
	vm_umount_below "$root"
fi

find "$top" -maxdepth 1 -name 'sdguest-*.ext4' -mmin +1440 -delete 2>/dev/null || true
command -v mkfs.ext4 >/dev/null || vm_die "mkfs.ext4 is not installed (e2fsprogs)"
vm_log "systemd guest: root image with the modules of $kv"
t=$(mktemp -d "$base/img.XXXXXX")
trap 'rm -rf "$t"' EXIT
# A copy of the tree (hard links: nothing below is written in place), plus the modules.
cp -al "$root" "$t/root"
rm -f "$t/root/.complete"
dpkg-deb --fsys-tarfile "$img_deb" | tar -x -C "$t" --wildcards '*lib/modules/*' 2>/dev/null ||
	vm_die "cannot unpack the modules of linux-image-$kv"
md=$(find "$t" -maxdepth 4 -type d -path "*/modules/$kv" ! -path "$t/root/*" | head -n1)
[ -n "$md" ] || vm_die "no modules of $kv in $img_deb"
# Only the modules the guest needs, decompressed: udev's coldplug under TCG would otherwise
# spend a minute loading drivers for every emulated chipset function. The ones that mount
# the root (the initramfs loads them), the NIC's host driver (the not-viable group), what
# rootless podman uses (overlay, tun for pasta, veth/bridge/nf_tables for its networks)
# and the rebuilt iommufd + vfio modules in updates/.
dst=$t/root/usr/lib/modules/$kv
mkdir -p "$dst/kernel" "$dst/updates/ioasid"
declare -A have=()
addmod() { # name: copy (decompressed) with what it depends on
	local f rel d n=${1//-/_}
	[ -n "${have[$n]:-}" ] && return 0
	have[$n]=1
	f=$(find "$md/kernel" \( -name "$n.ko*" -o -name "${n//_/-}.ko*" \) | head -n1)
	[ -n "$f" ] || vm_die "module $1 not found in linux-image-$kv"
	rel=${f#"$md/"}
	rel=${rel%.xz}
	rel=${rel%.zst}
	mkdir -p "$dst/$(dirname "$rel")"
	case $f in
	*.xz) xz -dc "$f" >"$dst/$rel" ;;
	*.zst) zstd -qdc "$f" >"$dst/$rel" ;;
	*) cp "$f" "$dst/$rel" ;;
	esac
	for d in $(modinfo -F depends "$dst/$rel" | tr ',' ' '); do addmod "$d"; done
}
for m in crc32c_generic virtio_blk ext4 e1000e overlay tun veth bridge nf_tables nft_chain_nat \
	nft_masq nft_ct nft_compat; do
	addmod "$m"
done
cp "$md"/modules.builtin* "$md"/modules.order "$dst/" 2>/dev/null || true
# The rebuilt iommufd + cdev modules win over the stock ones (depmod searches updates/ first).
cp "$top/modules/rebuilt/"*.ko "$dst/updates/ioasid/"
depmod -b "$t/root" "$kv" ||
	vm_die "depmod for the systemd guest failed"
size=$(($(du -sm "$t/root" | cut -f1) * 13 / 10 + 1024))
mkfs.ext4 -q -F -L ioasid-root -d "$t/root" "$t/img" "${size}M" >&2 ||
	vm_die "mkfs.ext4 -d for the systemd guest failed"
mv "$t/img" "$out.$$.tmp" && mv "$out.$$.tmp" "$out"
echo "$out"
