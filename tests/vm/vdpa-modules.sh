#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vdpa-modules.sh KV VERSION: print $VM_CACHE/VERSION/modules-vdpa, the vDPA modules of
# scenario VD with their load order in `order`. Debian enables vdpa, vhost_vdpa and
# vhost_iotlb but not the vDPA simulator, vp_vdpa or vringh (CONFIG_VHOST_RING, which the
# simulator needs): vringh.ko, vdpa_sim.ko, vdpa_sim_net.ko and vp_vdpa.ko are rebuilt out of
# tree from the unmodified linux-source (as build-modules.sh does for iommufd/vfio), the rest
# are the stock modules, decompressed. Run under the cache lock (run.sh); a warm cache
# (.complete) does nothing. Kept apart from modules/ so that adding it rebuilds nothing else.
. "$(dirname "$0")/lib.sh"
set -eu

kv=$1 ver=$2
top=$VM_CACHE/$ver
out=$top/modules-vdpa
[ -e "$out/.complete" ] && { echo "$out"; exit 0; }
[ "$(id -u)" = 0 ] || vm_die "building the vDPA modules needs root (chroot)"
root=$VM_CACHE/chroot-$VM_SUITE
[ -d "$root/usr/src/linux-headers-$kv" ] || vm_die "headers for $kv not in the chroot (build-modules.sh)"
xy=$(echo "$kv" | sed -n 's/^\([0-9]*\.[0-9]*\)\..*/\1/p')
deb() { ls "$top/debs/$1"_*.deb 2>/dev/null | head -n1; }
src=$(deb "linux-source-$xy") img=$(deb "linux-image-$kv")
[ -n "$src" ] && [ -n "$img" ] || vm_die "missing linux-source-$xy or linux-image-$kv in $top/debs"

w=$root/build/vdpa-$ver
rm -rf "$w" "$out.tmp" && mkdir -p "$w/src" "$w/mod" "$out.tmp"
dpkg-deb --fsys-tarfile "$src" | tar -xO "./usr/src/linux-source-$xy.tar.xz" |
	tar -xJ -C "$w/src" --strip-components=1 \
		"linux-source-$xy/drivers/vdpa/vdpa_sim" "linux-source-$xy/drivers/vdpa/virtio_pci" \
		"linux-source-$xy/drivers/vhost/vringh.c"
# The source's own files, each directory with the one line of its Makefile that applies.
mkdir -p "$w/mod/vringh" "$w/mod/vdpa_sim" "$w/mod/vp_vdpa"
cp "$w/src/drivers/vhost/vringh.c" "$w/mod/vringh/"
cp "$w/src/drivers/vdpa/vdpa_sim/vdpa_sim.c" "$w/src/drivers/vdpa/vdpa_sim/vdpa_sim.h" \
	"$w/src/drivers/vdpa/vdpa_sim/vdpa_sim_net.c" "$w/mod/vdpa_sim/"
cp "$w/src/drivers/vdpa/virtio_pci/vp_vdpa.c" "$w/mod/vp_vdpa/"
echo 'obj-m += vringh.o' >"$w/mod/vringh/Kbuild"
echo 'obj-m += vdpa_sim.o vdpa_sim_net.o' >"$w/mod/vdpa_sim/Kbuild"
echo 'obj-m += vp_vdpa.o' >"$w/mod/vp_vdpa/Kbuild"
echo 'obj-m += vringh/ vdpa_sim/ vp_vdpa/' >"$w/mod/Kbuild"

mounted=
x=$(mktemp -d)
cleanup() {
	[ -n "$mounted" ] && umount "$root/proc" 2>/dev/null
	rm -rf "$x"
	true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
mount -t proc proc "$root/proc" && mounted=1 # objtool reads /proc
vm_log "building vringh/vdpa_sim/vdpa_sim_net/vp_vdpa for $kv"
if ! chroot "$root" make -C "/usr/src/linux-headers-$kv" M="/build/vdpa-$ver/mod" -j"$(nproc)" \
	CONFIG_VHOST_RING=m CONFIG_VDPA_SIM=m CONFIG_VDPA_SIM_NET=m CONFIG_VP_VDPA=m \
	modules >"$top/build-vdpa.log" 2>&1; then
	tail -n 40 "$top/build-vdpa.log" >&2
	vm_die "vDPA module build failed (log: $top/build-vdpa.log)"
fi
umount "$root/proc" && mounted=
for m in vringh/vringh vdpa_sim/vdpa_sim vdpa_sim/vdpa_sim_net vp_vdpa/vp_vdpa; do
	[ -e "$w/mod/$m.ko" ] || vm_die "module $m.ko was not built"
	cp "$w/mod/$m.ko" "$out.tmp/"
done
rm -rf "$w"

# The stock modules they and vhost_vdpa depend on, from the linux-image package.
dpkg-deb --fsys-tarfile "$img" | tar -x -C "$x" --wildcards '*/modules/*/kernel/*' \
	2>/dev/null || dpkg -x "$img" "$x"
moddir=$(find "$x" -type d -path "*/modules/$kv" | head -n1)
[ -n "$moddir" ] || vm_die "no modules of $kv in $img"
# Rebuilt modules are already in $out.tmp: vm_mod_add takes the stock one only for the rest.
order=() mod_out=$out.tmp
for m in vdpa_sim_net vp_vdpa vhost_vdpa; do vm_mod_add "$m"; done
printf '%s\n' "${order[@]}" >"$out.tmp/order"
rm -rf "$out" && mv "$out.tmp" "$out"
touch "$out/.complete"
vm_log "vDPA modules ready in $out: ${order[*]}"
echo "$out"
