#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/check-units.sh: the packaging tier (`make check-units`).
#
#   install   `make install DESTDIR=<tmp>` puts every unit/config where systemd looks
#   G2        `systemd-analyze verify` on both units, inside that install root: no error and
#             no warning (an unknown or misspelled directive is only a warning there, so any
#             output fails); a deliberately misspelled copy must be caught (the check works)
#   sysusers  the sysusers.d and tmpfiles.d snippets apply cleanly to the install root, and
#             the socket group is the same in the socket unit, sysusers.d and the example
#             config
#   G1        `systemd-analyze security --offline=yes --threshold=25` (exposure <= 2.5) on the
#             service passes, and the same unit with its hardening block stripped fails
#   activation  the installed daemon, socket-activated under the unit's capability set,
#             serves, notifies READY=1 and WATCHDOG=1, reloads on SIGHUP, stops on SIGTERM
#   layout    ioasidctl layout list/show/check against a fixture host
#   G3        the installed ioasidctl/ioasidd carry no setuid/setgid bit, and
#             execve(ioasidctl, {NULL}, envp) exits with the usage code 64
#
# Nothing outside a temporary directory is touched. Prints "units: N passed, N failed".

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
B=${B:-build}
case $B in
/*) bdir=$B ;;
*) bdir=$repo/$B ;;
esac

# Threshold on systemd-analyze's 0..100 scale: 25 is an overall exposure of 2.5.
THRESHOLD=${UNITS_THRESHOLD:-25}

passed=0
failed=0
pass() {
	echo "PASS: $*"
	passed=$((passed + 1))
}
fail() {
	echo "FAIL: $*"
	failed=$((failed + 1))
}
skip() { echo "SKIPPED: $*"; }

finish() {
	echo "units: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
unitdir=/usr/lib/systemd/system

# ---------------------------------------------------------------------------
# install into a temporary root
if make -C "$repo" --no-print-directory B="$B" DESTDIR="$root" install >"$tmp/install.log" 2>&1; then
	pass "make install DESTDIR=<tmp>"
else
	fail "make install DESTDIR=<tmp>:"
	sed 's/^/    /' "$tmp/install.log"
	finish
fi

expect_file() { # path mode
	local f=$root$1 mode
	if [ ! -f "$f" ]; then
		fail "installed $1 is missing"
		return
	fi
	mode=$(stat -c %a "$f")
	if [ "$mode" = "$2" ]; then
		pass "installed $1 (mode $mode)"
	else
		fail "installed $1 has mode $mode, expected $2"
	fi
}
expect_file /usr/sbin/ioasidd 755
expect_file /usr/bin/ioasidctl 755
# bash completion: where bash-completion looks (its pkg-config completionsdir when present)
bashcompdir=$(pkg-config --variable=completionsdir bash-completion 2>/dev/null)
expect_file "${bashcompdir:-/usr/share/bash-completion/completions}/ioasidctl" 644
expect_file $unitdir/ioasidd.service 644
expect_file $unitdir/ioasidd.socket 644
expect_file /usr/lib/sysusers.d/ioasid.conf 644
expect_file /usr/lib/tmpfiles.d/ioasid.conf 644
expect_file /usr/lib/modules-load.d/ioasid.conf 644
# modules-load.d: module names only (never loaded here: that would change the host).
mods=$(grep -v -e '^#' -e '^[[:space:]]*$' "$root/usr/lib/modules-load.d/ioasid.conf" 2>/dev/null | paste -sd ' ')
if [ "$mods" = "iommufd vfio-pci" ]; then
	pass "modules-load.d loads '$mods' before the service resolves DeviceAllow="
else
	fail "modules-load.d lists '$mods', expected 'iommufd vfio-pci'"
fi

service=$root$unitdir/ioasidd.service
socket=$root$unitdir/ioasidd.socket

# ---------------------------------------------------------------------------
# G2: systemd-analyze verify, inside the install root
if ! command -v systemd-analyze >/dev/null; then
	skip "G1/G2: systemd-analyze not found (Debian package 'systemd')"
	have_analyze=false
else
	have_analyze=true
fi

if $have_analyze; then
	# verify resolves dependencies (sockets.target, sysinit.target, ...) and checks that
	# every Exec*= binary exists, all relative to --root: give the root this host's
	# stock units and the kill(1) that ExecReload= names.
	for f in /usr/lib/systemd/system/*; do
		[ -e "$root$unitdir/${f##*/}" ] || cp -a "$f" "$root$unitdir/"
	done
	kill_bin=$(sed -n 's/^ExecReload=\([^ ]*\).*/\1/p' "$service")
	if [ -n "$kill_bin" ] && [ -x "$kill_bin" ]; then
		install -D "$kill_bin" "$root$kill_bin"
	elif [ -n "$kill_bin" ]; then
		fail "ExecReload= names '$kill_bin', which does not exist on this host"
	fi

	# Documentation=man:... is checked only when the pages are installed.
	man_args=(--man=no)
	if [ -f "$root/usr/share/man/man8/ioasidd.8" ] && [ -f "$root/usr/share/man/man5/ioasid.conf.5" ]; then
		man_args=(--man=yes)
	else
		skip "G2: Documentation= pages not checked (man/ioasidd.8 or man/ioasid.conf.5 not in the tree yet)"
	fi

	verify() { # unit-name...; succeeds when verify is silent and exits 0
		(cd "$root$unitdir" && MANPATH=$root/usr/share/man \
			systemd-analyze verify --root="$root" "${man_args[@]}" "$@") >"$tmp/verify.log" 2>&1 &&
			[ ! -s "$tmp/verify.log" ]
	}
	for u in ioasidd.socket ioasidd.service; do
		if verify "$u"; then
			pass "G2: systemd-analyze verify $u"
		else
			fail "G2: systemd-analyze verify $u:"
			sed 's/^/    /' "$tmp/verify.log"
		fi
	done

	# The check must be able to fail: a misspelled directive is caught.
	cp "$service" "$tmp/ioasidd.service.orig"
	sed -i 's/^ProtectSystem=/ProtectSytsem=/' "$service"
	if verify ioasidd.service; then
		fail "G2: verify did not notice a misspelled directive (ProtectSytsem=)"
	else
		pass "G2: verify catches a misspelled directive"
	fi
	cp "$tmp/ioasidd.service.orig" "$service"
fi

# ---------------------------------------------------------------------------
# sysusers.d / tmpfiles.d apply to the root, and the socket group is consistent
sock_group=$(sed -n 's/^SocketGroup=//p' "$socket")
sock_mode=$(sed -n 's/^SocketMode=//p' "$socket")
listen=$(sed -n 's/^ListenStream=//p' "$socket")
if [ "$listen" = /run/ioasid/ioasidd.sock ] && [ "$sock_mode" = 0660 ] && [ -n "$sock_group" ]; then
	pass "socket: $listen root:$sock_group $sock_mode"
else
	fail "socket: ListenStream='$listen' SocketMode='$sock_mode' SocketGroup='$sock_group'"
fi
# The daemon's default path must be the one the socket unit listens on.
if grep -q "IOASID_SOCKET_PATH \"$listen\"" "$repo/common/proto.h"; then
	pass "socket: ListenStream= matches IOASID_SOCKET_PATH"
else
	fail "socket: ListenStream= '$listen' differs from IOASID_SOCKET_PATH in common/proto.h"
fi

if command -v systemd-sysusers >/dev/null; then
	mkdir -p "$root/etc"
	if systemd-sysusers --root="$root" "$root/usr/lib/sysusers.d/ioasid.conf" >"$tmp/sysusers.log" 2>&1 &&
		grep -q "^$sock_group:" "$root/etc/group"; then
		pass "sysusers.d creates the socket group '$sock_group'"
	else
		fail "sysusers.d does not create the socket group '$sock_group':"
		sed 's/^/    /' "$tmp/sysusers.log"
	fi
else
	skip "sysusers: systemd-sysusers not found"
fi
if command -v systemd-tmpfiles >/dev/null; then
	if systemd-tmpfiles --root="$root" --create "$root/usr/lib/tmpfiles.d/ioasid.conf" \
		>"$tmp/tmpfiles.log" 2>&1 && [ "$(stat -c '%a %U' "$root/run/ioasid" 2>/dev/null)" = "755 root" ]; then
		pass "tmpfiles.d creates /run/ioasid 0755 root"
	else
		fail "tmpfiles.d does not create /run/ioasid 0755 root:"
		sed 's/^/    /' "$tmp/tmpfiles.log"
	fi
else
	skip "tmpfiles: systemd-tmpfiles not found"
fi
if [ -f "$repo/ioasid.conf.example" ]; then
	# The example names the group the socket unit uses (or leaves the default, which is it).
	conf_group=$(sed -n 's/^[[:space:]]*socket-group[[:space:]]\+\([^[:space:]#]*\).*/\1/p' \
		"$repo/ioasid.conf.example" | head -n1)
	if [ -z "$conf_group" ]; then
		# Not a failure: systemd owns the socket when activated, and SocketGroup= wins.
		echo "NOTE: ioasid.conf.example leaves socket-group unset; ioasidd.socket uses '$sock_group'"
	elif [ "$conf_group" = "$sock_group" ]; then
		pass "ioasid.conf.example socket-group '$conf_group' matches SocketGroup=$sock_group"
	else
		fail "ioasid.conf.example socket-group '$conf_group' differs from SocketGroup=$sock_group"
	fi
else
	skip "socket-group: ioasid.conf.example not in the tree yet"
fi

# ---------------------------------------------------------------------------
# G1: exposure gate, and proof that the gate bites
if $have_analyze; then
	security() { # unit-file -> prints the overall exposure, returns the threshold verdict
		local out rc
		out=$(cd "$(dirname "$1")" && systemd-analyze security --offline=yes --no-pager \
			--threshold="$THRESHOLD" "$(basename "$1")" 2>&1)
		rc=$?
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out"
		return $rc
	}
	if exposure=$(security "$service") && [ -n "$exposure" ]; then
		pass "G1: ioasidd.service exposure $exposure <= $((THRESHOLD / 10)).$((THRESHOLD % 10))"
	else
		fail "G1: ioasidd.service exposure '${exposure:-?}' above $((THRESHOLD / 10)).$((THRESHOLD % 10))"
	fi

	mkdir -p "$tmp/stripped"
	if ! grep -q '^# --- hardening begin ---$' "$service" || ! grep -q '^# --- hardening end ---$' "$service"; then
		fail "G1: ioasidd.service has no '# --- hardening begin/end ---' block to strip"
	else
		sed '/^# --- hardening begin ---$/,/^# --- hardening end ---$/d' "$service" \
			>"$tmp/stripped/ioasidd.service"
		if exposure=$(security "$tmp/stripped/ioasidd.service") || [ -z "$exposure" ]; then
			fail "G1: the unit without its hardening block passes the gate (exposure '$exposure')"
		else
			pass "G1: the unit without its hardening block fails the gate (exposure $exposure)"
		fi
	fi

	# Directives the design requires, by value (a refactor must not drop them silently).
	want() { # directive=value
		if grep -qx -- "$1" "$service"; then
			pass "service: $1"
		else
			fail "service: missing '$1'"
		fi
	}
	want "Type=notify"
	want "ExecStart=/usr/sbin/ioasidd --kernel=linux"
	want "DevicePolicy=closed"
	want "ProtectProc=invisible"
	want "RestrictAddressFamilies=AF_UNIX AF_NETLINK"
	want "MemoryDenyWriteExecute=yes"
	want "NoNewPrivileges=yes"
	if grep -q '^PrivateUsers=\(yes\|true\|1\|on\|self\|identity\)' "$service"; then
		fail "service: PrivateUsers= must never be enabled"
	else
		pass "service: PrivateUsers= not enabled"
	fi
	# Only /dev/iommu and the VFIO nodes may be opened.
	bad=$(sed -n 's/^DeviceAllow=//p' "$service" |
		grep -v -x -e '/dev/iommu rw' -e 'char-vfio-dev rw' -e 'char-vfio rw' -e '/dev/vfio/vfio rw')
	if [ -z "$bad" ]; then
		pass "service: DeviceAllow= only /dev/iommu and VFIO nodes"
	else
		fail "service: unexpected DeviceAllow= $bad"
	fi
fi

# ---------------------------------------------------------------------------
# The service contract without systemd as PID 1: socket activation, the unit's capability
# set, Type=notify, WatchdogSec=, ExecReload= and stop, with the installed daemon and the
# installed default config (tests/units/activation.py says how each is emulated).
missing=
for t in python3 systemd-socket-activate setpriv; do
	command -v $t >/dev/null || missing="$missing $t"
done
if [ -n "$missing" ]; then
	skip "activation: missing$missing"
elif [ ! -f "$root/etc/ioasid/ioasid.conf" ]; then
	fail "activation: make install did not install /etc/ioasid/ioasid.conf"
else
	while IFS= read -r line; do
		case $line in
		PASS:*) pass "${line#PASS: }" ;;
		FAIL:*) fail "${line#FAIL: }" ;;
		*) echo "$line" ;;
		esac
	done < <(timeout 120 python3 "$here/units/activation.py" "$root/usr/sbin/ioasidd" \
		"$repo/tests/hosts/sample.json" "$root/etc/ioasid/ioasid.conf" 2>&1 ||
		echo "FAIL: activation.py exited $?")
fi

# ---------------------------------------------------------------------------
# ioasidctl layout: list/show/check against a fixture host and a temporary config
ctl=$root/usr/bin/ioasidctl
fixture=$repo/tests/hosts/workstation.json
if ! command -v jq >/dev/null; then
	skip "layout: jq not found (Debian package 'jq')"
elif [ ! -f "$fixture" ]; then
	fail "layout: fixture $fixture missing"
else
	cat >"$tmp/ioasid.conf" <<-'EOF'
		layout vm {
			iova 0x0-0xfedfffff 0x100000000-0xffffffffffff
			accounting process
		}
		layout high { iova 0x100000000-0x7fffffffff; hugepages off; require dirty-tracking }
		layout any { accounting user }
	EOF
	lay() { # expected-rc args... ; stdout in $tmp/out, stderr in $tmp/err
		local want=$1 rc
		shift
		# Only 'layout check' reads a host; list and show refuse --host.
		local host=()
		[ "$1" = check ] && host=(--host "$fixture")
		"$ctl" --config "$tmp/ioasid.conf" "${host[@]}" layout "$@" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ $rc -ne "$want" ]; then
			echo "    ioasidctl layout $*: exit $rc, expected $want"
			sed 's/^/    /' "$tmp/out" "$tmp/err"
			return 1
		fi
	}
	check() { # description command...
		local what=$1
		shift
		if "$@"; then pass "layout: $what"; else fail "layout: $what"; fi
	}
	check "list --json names every layout in file order" \
		eval 'lay 0 list --json=short && [ "$(jq -r "[.layouts[].name]|join(\",\")" "$tmp/out")" = vm,high,any ]'
	check "list prints a table" \
		eval 'lay 0 list && grep -q "^high .*0x100000000-0x7fffffffff .*user .*no .*dirty-tracking" "$tmp/out"'
	check "show --json gives windows as hex strings" \
		eval 'lay 0 show vm --json=short && [ "$(jq -c .windows "$tmp/out")" = "[{\"start\":\"0x0\",\"last\":\"0xfedfffff\"},{\"start\":\"0x100000000\",\"last\":\"0xffffffffffff\"}]" ] && [ "$(jq -r .accounting "$tmp/out")" = process ]'
	# 00:02.0 (group 2) has an RMRR 0x7c000000-0x803fffff; the host's VT-d is 39-bit.
	check "check finds the RMRR and the address width (exit 2)" \
		eval 'lay 2 check vm --device 00:02.0 --json=short && [ "$(jq -r "[.conflicts[].type]|join(\",\")" "$tmp/out")" = address-width,reserved ] && [ "$(jq -r ".conflicts[1].group, .conflicts[1].region.start, .conflicts[1].region.type, .conflicts[1].device" "$tmp/out" | paste -sd " ")" = "2 0x7c000000 direct 0000:00:02.0" ] && [ "$(jq .ok "$tmp/out")" = false ]'
	check "check names the window, region and group in the human form" \
		eval 'lay 2 check vm --device 00:02.0 && grep -qx "  window 0x0-0xfedfffff overlaps the direct region 0x7c000000-0x803fffff of group 2" "$tmp/out"'
	check "check passes a fitting layout (exit 0)" \
		eval 'lay 0 check high --device 01:00.0 --device 00:14.0 --json=short && [ "$(jq .ok "$tmp/out")" = true ] && [ "$(jq ".conflicts|length" "$tmp/out")" = 0 ]'
	check "an unknown layout is an error (exit 1, nothing on stdout)" \
		eval 'lay 1 check nope --device 00:02.0 && [ ! -s "$tmp/out" ] && grep -q "No layout .nope." "$tmp/err"'
	check "an unknown device is an error (exit 1)" \
		eval 'lay 1 check vm --device 0000:7f:00.0 && [ ! -s "$tmp/out" ]'
	check "check without --device is a usage error (exit 64)" eval 'lay 64 check vm'
	check "an unknown subcommand is a usage error (exit 64)" eval 'lay 64 frob'
	printf 'layout broken { iova 0x1000-0x1ffe }\n' >"$tmp/ioasid.conf"
	check "an invalid config is reported with file:line (exit 1)" \
		eval 'lay 1 list && grep -q "ioasid.conf:1:" "$tmp/err" && [ ! -s "$tmp/out" ]'
fi

# ---------------------------------------------------------------------------
# G3: no setuid/setgid, argc == 0 refused
for f in /usr/bin/ioasidctl /usr/sbin/ioasidd; do
	[ -f "$root$f" ] || continue
	mode=$(stat -c %a "$root$f")
	if [ $((8#$mode & 8#6000)) -eq 0 ]; then
		pass "G3: $f has no setuid/setgid bit (mode $mode)"
	else
		fail "G3: $f has mode $mode (setuid/setgid)"
	fi
done

noargv=$bdir/execve-noargv
if [ ! -x "$noargv" ]; then
	fail "G3: $noargv not built (make build-tests)"
else
	# The tool itself must work: an empty argv reaches /bin/true, which exits 0.
	"$noargv" /bin/true
	rc=$?
	if [ $rc -eq 0 ]; then
		pass "G3: execve-noargv runs its target (true exits 0)"
	else
		fail "G3: execve-noargv /bin/true exited $rc"
	fi
	# Usage error: exit 64, nothing on stdout (a message on stderr is allowed).
	"$noargv" "$root/usr/bin/ioasidctl" >"$tmp/noargv.out" 2>"$tmp/noargv.err"
	rc=$?
	if [ $rc -eq 64 ] && [ ! -s "$tmp/noargv.out" ]; then
		pass "G3: execve(ioasidctl, {NULL}) exits 64, nothing on stdout"
	else
		fail "G3: execve(ioasidctl, {NULL}) exited $rc (expected 64):"
		sed 's/^/    /' "$tmp/noargv.out" "$tmp/noargv.err"
	fi
fi

finish
