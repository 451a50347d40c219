#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# mkinitramfs.sh KV VERSION MODE: print the path of a gzip'd initramfs for MODE (rebuilt:
# iommufd + cdev modules; stock: Debian's vfio only, legacy group/container path; sriov: the
# rebuilt modules with igb as the host driver instead of e1000e, IOASID_VM_HOST_MODULES).
# Contents: static busybox, the modules (decompressed, in dependency order), the project's
# binaries with their shared libraries, lspci, passwd/group with an unprivileged user, the
# test /init and the scenario scripts. Cached by a hash of every input, so a warm run with
# unchanged binaries builds nothing.
. "$(dirname "$0")/lib.sh"
set -eu

kv=$1 ver=$2 mode=$3
top=$VM_CACHE/$ver
case $mode in
sriov) mods=$top/modules/rebuilt ;;
*) mods=$top/modules/$mode ;;
esac
# Host drivers loaded before the binding: e1000e (modules/host), or igb for the SR-IOV boot.
hostmods=${IOASID_VM_HOST_MODULES:-$top/modules/host}
# The vDPA modules of scenario VD (tests/vm/vdpa-modules.sh), when run.sh asks for them; the
# scenario loads them itself, in their `order`.
vdpamods=${IOASID_VM_VDPA_MODULES:-}
# Stock network drivers NB loads itself (bonding, 8021q, bridge: stock-modules.sh), when asked.
netmods=${IOASID_VM_NET_MODULES:-}
[ -e "$top/modules/.complete" ] || vm_die "modules for $ver are not built"
bb=$(command -v busybox || true)
[ -n "$bb" ] && file_is_static=$(ldd "$bb" 2>&1 | grep -c 'not a dynamic' || true)
[ -n "$bb" ] && [ "${file_is_static:-0}" -ge 1 ] || vm_die "a static busybox is needed (busybox-static)"

# Project binaries the guest may run. Missing optional ones are simply not there, and the
# scenario that needs one reports FAIL with the reason.
bins=()
for b in vm-edu ioasidd ioasidctl kernel-probe rawclient; do
	[ -x "$BDIR/$b" ] && bins+=("$BDIR/$b")
done
[ -x "$BDIR/vm-edu" ] || vm_die "$BDIR/vm-edu is missing (make build-tests)"
extra=()
for b in lspci setpriv jq ip; do
	p=$(command -v "$b" || true)
	[ -n "$p" ] && extra+=("$p")
done
# udevadm, run as systemd-udevd by HOT (ioasidd's monitor hears udev's events, not the
# kernel's): in the rebuilt boot only, the others need not unpack it and its libraries.
if [ "$mode" = rebuilt ]; then
	p=$(command -v udevadm || true)
	[ -n "$p" ] && extra+=("$p")
fi
# trixie's QEMU for S10 (tests/vm/qemu-bundle.sh), when run.sh asks for it.
qb=${IOASID_VM_QEMU_BUNDLE:-}

hash=$( {
	echo "$kv $ver $mode ${qb:+qemu $(cat "$qb/version")} ${netmods:+net}"
	sha256sum "$bb" "${bins[@]}" "${extra[@]}" $(ls "$BDIR/bypass/ioasidd" 2>/dev/null) "$mods"/*.ko "$hostmods"/* \
		${netmods:+"$netmods"/*} ${vdpamods:+"$vdpamods"/*} \
		"$VM_DIR"/guest-init.sh "$VM_DIR"/mkinitramfs.sh \
		"$VM_DIR"/scenarios/*.sh "$REPO"/tests/tools/kernel-probe-rules.expected \
		"$REPO"/tests/tools/vf-token-rules.expected "$REPO"/tests/tools/vdpa-rules.expected 2>/dev/null
} | sha256sum | cut -c1-16)
out=$top/initrd-$mode-$hash.gz
if [ -e "$out" ]; then
	touch "$out"
	echo "$out"
	exit 0
fi
# Other checkouts may share the cache and boot their own initramfs right now: never remove
# another hash's file while it may be in use, only those unused for a day.
find "$top" -maxdepth 1 -name "initrd-$mode-*.gz" -mmin +1440 -delete 2>/dev/null || true

s=$(mktemp -d)
trap 'rm -rf "$s"' EXIT
chmod 0755 "$s" # mktemp made it 0700: it becomes the guest's /
mkdir -p "$s"/{bin,sbin,dev,proc,sys,tmp,run,etc,lib/ioasid-modules,scenarios,usr/bin,usr/sbin,home/tester}
cp "$bb" "$s/bin/busybox"
ln -s busybox "$s/bin/sh"

# Modules in dependency order (modinfo -F depends), one name per line in order.
declare -A done_mod=()
order=()
visit() {
	local m=$1 d
	[ -n "${done_mod[$m]:-}" ] && return 0
	done_mod[$m]=1
	[ -e "$mods/$m.ko" ] || vm_die "module $m needed but not in $mods"
	for d in $(modinfo -F depends "$mods/$m.ko" | tr ',' ' '); do
		visit "$d"
	done
	order+=("$m")
}
for f in "$mods"/*.ko; do visit "$(basename "$f" .ko)"; done
for m in "${order[@]}"; do
	cp "$mods/$m.ko" "$s/lib/ioasid-modules/"
	strip --strip-debug "$s/lib/ioasid-modules/$m.ko" 2>/dev/null || true
done
printf '%s\n' "${order[@]}" >"$s/lib/ioasid-modules/order"
# e1000e (a host driver) for the not-viable group scenario, or igb, with its dependencies.
if [ -d "$hostmods" ]; then
	mkdir -p "$s/lib/ioasid-modules/host"
	cp "$hostmods/"* "$s/lib/ioasid-modules/host/"
fi
if [ -n "$vdpamods" ]; then
	mkdir -p "$s/lib/ioasid-modules/vdpa"
	cp "$vdpamods/"* "$s/lib/ioasid-modules/vdpa/"
	strip --strip-debug "$s/lib/ioasid-modules/vdpa/"*.ko 2>/dev/null || true
fi
if [ -n "$netmods" ]; then
	mkdir -p "$s/lib/ioasid-modules/net"
	cp "$netmods/"* "$s/lib/ioasid-modules/net/"
fi

# Binaries and their libraries (ldd), at the same paths as on the host.
copy_with_libs() {
	local f=$1 dest=$2 l
	cp "$f" "$s/$dest"
	for l in $(ldd "$f" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
		[ -e "$s$l" ] && continue
		mkdir -p "$s$(dirname "$l")"
		cp -L "$l" "$s$l"
	done
}
for b in "${bins[@]}"; do copy_with_libs "$b" "usr/bin/$(basename "$b")"; done
# The TESTING_BYPASS=1 daemon (scenario S4), built by run.sh into its own build dir.
[ -x "$BDIR/bypass/ioasidd" ] && copy_with_libs "$BDIR/bypass/ioasidd" usr/bin/ioasidd-bypass
for b in "${extra[@]}"; do copy_with_libs "$b" "usr/bin/$(basename "$b")"; done
if [ -n "$qb" ]; then
	mkdir -p "$s/opt/trixie"
	cp -r "$qb/bin" "$qb/lib" "$qb/share" "$qb/version" "$s/opt/trixie/"
	# Its own loader and libraries (trixie's glibc), never the bookworm ones beside it.
	cat >"$s/usr/bin/qemu-system-x86_64" <<'QW'
#!/bin/sh
exec /opt/trixie/lib/ld-linux-x86-64.so.2 --library-path /opt/trixie/lib \
	/opt/trixie/bin/qemu-system-x86_64 -L /opt/trixie/share/qemu "$@"
QW
	chmod 0755 "$s/usr/bin/qemu-system-x86_64"
fi
if [ -e /usr/share/misc/pci.ids ]; then
	mkdir -p "$s/usr/share/misc" && cp /usr/share/misc/pci.ids "$s/usr/share/misc/"
fi

cat >"$s/etc/passwd" <<'PW'
root:x:0:0:root:/:/bin/sh
ioasid:x:990:990:ioasid daemon:/:/bin/false
tester:x:1000:1000:unprivileged test client:/home/tester:/bin/sh
other:x:1001:1001:second owner:/home/tester:/bin/sh
PW
cat >"$s/etc/group" <<'GR'
root:x:0:
ioasid:x:990:
tester:x:1000:
other:x:1001:
ioasid-clients:x:1500:tester,other
GR
chown 1000:1000 "$s/home/tester"
cp "$VM_DIR/guest-init.sh" "$s/init"
chmod 0755 "$s/init"
if compgen -G "$VM_DIR/scenarios/*.sh" >/dev/null; then cp "$VM_DIR"/scenarios/*.sh "$s/scenarios/"; fi
echo "$mode" >"$s/etc/ioasid-vm-mode"
# What the kernel branch recorded from a real kernel and replays on the sim (scenario K1).
[ -e "$REPO/tests/tools/kernel-probe-rules.expected" ] &&
	cp "$REPO/tests/tools/kernel-probe-rules.expected" "$s/scenarios/"
# The same for the VF-token rules (scenario S12).
[ -e "$REPO/tests/tools/vf-token-rules.expected" ] &&
	cp "$REPO/tests/tools/vf-token-rules.expected" "$s/scenarios/"
# And the vdpa family's (scenario VD, vd_rules).
[ -e "$REPO/tests/tools/vdpa-rules.expected" ] &&
	cp "$REPO/tests/tools/vdpa-rules.expected" "$s/scenarios/"

(cd "$s" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$out.$$.tmp"
mv "$out.$$.tmp" "$out"
echo "$out"
