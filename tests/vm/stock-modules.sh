#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# stock-modules.sh KV VERSION NAME MODULE...: print $VM_CACHE/VERSION/modules-NAME, the stock
# MODULEs and what they depend on, decompressed from the linux-image package fetch.sh
# downloaded, with their load order in `order`. A warm cache (.complete) does nothing. Kept
# apart from modules/ so that adding a set does not rebuild what build-modules.sh made.
# Sets: igb (scenario S12, igb-modules.sh), net (scenario NB: bonding, team, 8021q, bridge),
# sdblk (the systemd guest's root disk: virtio_blk, ext4; sd-initramfs.sh).
. "$(dirname "$0")/lib.sh"
set -eu

kv=$1 ver=$2 name=$3
shift 3
top=$VM_CACHE/$ver
out=$top/modules-$name
# The set's module list is part of what is cached: a changed list extracts the set again.
[ -e "$out/.complete" ] && [ "$(cat "$out/list" 2>/dev/null)" = "$*" ] && { echo "$out"; exit 0; }
img=$(ls "$top/debs/linux-image-${kv}_"*.deb 2>/dev/null | head -n1)
[ -n "$img" ] || vm_die "missing package linux-image-$kv in $top/debs (run fetch.sh)"
x=$(mktemp -d)
trap 'rm -rf "$x"' EXIT
dpkg-deb --fsys-tarfile "$img" | tar -x -C "$x" --wildcards '*/modules/*/kernel/*' \
	2>/dev/null || dpkg -x "$img" "$x"
moddir=$(find "$x" -type d -path "*/modules/$kv" | head -n1)
[ -n "$moddir" ] || vm_die "no modules of $kv in $img"
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
order=() mod_out=$out.tmp
for m in "$@"; do vm_mod_add "$m"; done
printf '%s\n' "${order[@]}" >"$out.tmp/order"
echo "$*" >"$out.tmp/list"
rm -rf "$out" && mv "$out.tmp" "$out"
touch "$out/.complete"
vm_log "$name modules ready in $out: ${order[*]}"
echo "$out"
