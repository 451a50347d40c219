#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# igb-modules.sh KV VERSION: print $VM_CACHE/VERSION/modules-igb, the stock igb.ko (the PF
# driver of QEMU's igb, an 82576 with SR-IOV) and what it depends on, decompressed, with
# their load order in `order` (scenario S12). Taken from the linux-image package fetch.sh
# downloaded; a warm cache (.complete) does nothing. Kept apart from modules/ so that adding
# it does not rebuild what build-modules.sh made.
. "$(dirname "$0")/lib.sh"
set -eu

kv=$1 ver=$2
top=$VM_CACHE/$ver
out=$top/modules-igb
[ -e "$out/.complete" ] && { echo "$out"; exit 0; }
img=$(ls "$top/debs/linux-image-${kv}_"*.deb 2>/dev/null | head -n1)
[ -n "$img" ] || vm_die "missing package linux-image-$kv in $top/debs (run fetch.sh)"
x=$(mktemp -d)
trap 'rm -rf "$x"' EXIT
dpkg-deb --fsys-tarfile "$img" | tar -x -C "$x" --wildcards '*/modules/*/kernel/drivers/*' \
	2>/dev/null || dpkg -x "$img" "$x"
moddir=$(find "$x" -type d -path "*/modules/$kv" | head -n1)
[ -n "$moddir" ] || vm_die "no modules of $kv in $img"
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
order=()
add() { # name: decompressed copy, its dependencies first
	local f d
	case " ${order[*]} " in *" $1 "*) return 0 ;; esac
	f=$(find "$moddir" -name "$1.ko*" | head -n1)
	[ -n "$f" ] || vm_die "module $1 not found in linux-image-$kv"
	case $f in
	*.xz) xz -dc "$f" >"$out.tmp/$1.ko" ;;
	*.zst) zstd -qdc "$f" >"$out.tmp/$1.ko" ;;
	*) cp "$f" "$out.tmp/$1.ko" ;;
	esac
	for d in $(modinfo -F depends "$out.tmp/$1.ko" | tr ',' ' '); do add "$d"; done
	order+=("$1")
}
add igb
printf '%s\n' "${order[@]}" >"$out.tmp/order"
rm -rf "$out" && mv "$out.tmp" "$out"
touch "$out/.complete"
vm_log "igb modules ready in $out: ${order[*]}"
echo "$out"
