#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Resolve the kernel trixie's linux-image-amd64 points to and download its packages into the
# cache. Prints "KV VERSION" on stdout. A warm cache (lists younger than
# IOASID_VM_REFRESH_HOURS, default 24, and all .debs present) downloads nothing.
. "$(dirname "$0")/lib.sh"
set -eu

a=$VM_CACHE/apt
mkdir -p "$a/state/lists/partial" "$a/cache/archives/partial" "$a/sources.list.d" "$a/preferences.d"
: >"$a/state/status"
: >"$a/preferences"
echo "deb [signed-by=$VM_KEYRING] $VM_MIRROR $VM_SUITE main" >"$a/sources.list"

stamp=$a/state/updated
refresh=${IOASID_VM_REFRESH_HOURS:-24}
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +$((refresh * 60)) 2>/dev/null)" ]; then
	vm_log "apt-get update ($VM_SUITE, private state)"
	vm_apt apt-get -q update >"$a/update.log" 2>&1 ||
		{ cat "$a/update.log" >&2; vm_die "apt-get update for $VM_SUITE failed"; }
	touch "$stamp"
fi

# linux-image-amd64 depends on linux-image-<KV>; never hard-code KV.
img=$(vm_apt apt-cache depends linux-image-amd64 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
[ -n "$img" ] || vm_die "cannot resolve the kernel linux-image-amd64 depends on in $VM_SUITE"
kv=${img#linux-image-}
ver=$(vm_apt apt-cache show "$img" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
[ -n "$ver" ] || vm_die "no version for $img"
xy=$(echo "$kv" | sed -n 's/^\([0-9]*\.[0-9]*\)\..*/\1/p')

# Headers pull in -common and linux-kbuild-X.Y; take whatever they depend on by name.
hdr_deps=$(vm_apt apt-cache depends "linux-headers-$kv" 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-\(headers\|kbuild\)-[^ ]*\)$/\1/p' | sort -u)
pkgs="$img linux-headers-$kv $hdr_deps linux-source-$xy"

d=$VM_CACHE/$ver/debs
mkdir -p "$d"
for p in $pkgs; do
	if ! ls "$d/${p}_"*.deb >/dev/null 2>&1; then
		vm_log "downloading $p"
		(cd "$d" && vm_apt apt-get -q download "$p" >"$d/.download.log" 2>&1) ||
			{ cat "$d/.download.log" >&2; vm_die "cannot download $p from $VM_SUITE"; }
	fi
done
echo "$pkgs" | tr ' ' '\n' >"$VM_CACHE/$ver/packages"
echo "$kv $ver"
