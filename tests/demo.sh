#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The narrated demo (`make demo`): ioasidd with the sim kernel on the sample host, a temporary
# socket and a temporary policy allowing two unprivileged users, and what they see:
#   1) the IOMMU groups of the sample host,
#   2) user A acquires a device (attached) and prints the fds it received and the IOAS id,
#   3) user B asks for a device in the same IOMMU group and is refused with the reason,
#   4) A releases, and B succeeds.
# Then the daemon is stopped and its socket removed.
#
# The clients run as the bare uids 4801 and 4802 (no account needed: the kernel and the daemon
# only see numbers), so the demo touches nothing in /etc. IOASID_DEMO_USERADD=1 uses named
# system users ioasid-demo1 and ioasid-demo2 instead, created with useradd --system (no home,
# no login shell) when absent.

set -u
. "$(dirname "${BASH_SOURCE[0]}")/integration/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "demo: SKIPPED: needs root (it runs ioasidd and switches to the demo users)"
	exit 0
fi
for f in ioasidd ioasidctl rawclient; do
	[ -x "$B/$f" ] || { echo "demo: $B/$f is not built" >&2; exit 1; }
done
SAMPLE="$REPO/tests/hosts/sample.json"

bold= norm=
if [ -t 1 ]; then
	bold=$(tput bold 2>/dev/null || true)
	norm=$(tput sgr0 2>/dev/null || true)
fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$norm"; }
say() { printf '   %s\n' "$*"; }
show() { # show LABEL CMD...: prints "$ LABEL", then runs CMD with its output indented
	printf '   $ %s\n' "$1"
	shift
	"$@" 2>&1 | sed 's/^/     /'
	return "${PIPESTATUS[0]}"
}

# --- the two users -------------------------------------------------------------------
if [ "${IOASID_DEMO_USERADD:-0}" != 1 ]; then
	USER_A=4801 USER_B=4802 GID_A=4800 GID_B=4800
	RULE_A="uid $USER_A" RULE_B="uid $USER_B"
else
	for u in ioasid-demo1 ioasid-demo2; do
		if ! id "$u" >/dev/null 2>&1; then
			say "Creating the system user '$u' for the demo (useradd --system, no home, nologin)"
			useradd --system --no-create-home --shell /usr/sbin/nologin --user-group "$u" ||
				{ echo "demo: useradd $u failed (run without IOASID_DEMO_USERADD=1)" >&2; exit 1; }
		fi
	done
	USER_A=ioasid-demo1 USER_B=ioasid-demo2
	GID_A=$(id -g ioasid-demo1) GID_B=$(id -g ioasid-demo2)
	RULE_A="user $USER_A" RULE_B="user $USER_B"
fi

as() { # as USER GID CMD...
	local u=$1 g=$2
	shift 2
	setpriv --reuid="$u" --regid="$g" --clear-groups --inh-caps=-all env IOASID_SOCKET="$DAEMON_SOCK" "$@"
}

lib_init
POLICY="$WORK/ioasid.conf"
cat >"$POLICY" <<EOF
# Demo policy: two tenants may take any viable device, one device of a group at a time
# (the group's other members are reported at risk and stay unavailable to others).
admin uid 0
allow $RULE_A to any mode attached,unbound group implicit
allow $RULE_B to any mode attached,unbound group implicit
EOF

DEV_A=0000:01:01.0
DEV_B=0000:01:02.0

step "ioasidd: sim kernel, sample host, temporary socket and policy"
say "host:   tests/hosts/sample.json"
say "policy:"
sed 's/^/           /' "$POLICY"
if ! daemon_start demo "$SAMPLE" "$POLICY"; then
	echo "demo: ioasidd did not start:" >&2
	cat "$DAEMON_LOG" >&2
	exit 1
fi
say "ioasidd runs as pid $DAEMON_PID on $DAEMON_SOCK"

step "1) The IOMMU groups of the sample host"
show "ioasidctl --host tests/hosts/sample.json groups" "$B/ioasidctl" --host "$SAMPLE" groups
say "Group 5 holds a bridge and two vfio-pci devices: $DEV_A and $DEV_B."

step "2) $USER_A acquires $DEV_A (attached) and holds the lease"
fifo="$WORK/a.fifo"
mkfifo -m 0600 "$fifo"
printf '   $ ioasidctl acquire %s --mode attached     (as %s; stdin kept open)\n' "$DEV_A" "$USER_A"
as "$USER_A" "$GID_A" "$B/ioasidctl" acquire "$DEV_A" --mode attached <"$fifo" >"$WORK/a.out" 2>&1 &
holder=$!
exec {hold}>"$fifo"
for _ in $(seq 100); do
	[ -s "$WORK/a.out" ] && grep -q 'iommufd' "$WORK/a.out" && break
	kill -0 $holder 2>/dev/null || break
	sleep 0.05
done
sed 's/^/     /' "$WORK/a.out"
say "Each fd was checked in the receiving process: the sim kernel's fds are memfds whose"
say "names say what they stand for (on a real host: /dev/iommu and /dev/vfio/devices/vfioN)."

step "3) $USER_B asks for $DEV_B, in the same IOMMU group"
show "ioasidctl acquire $DEV_B     (as $USER_B)" as "$USER_B" "$GID_B" "$B/ioasidctl" acquire "$DEV_B" </dev/null
rc=$?
say "exit code $rc: refused, because one IOMMU group has one owner."

step "4) $USER_A releases; $USER_B asks again"
exec {hold}>&-
wait $holder
say "$USER_A's ioasidctl saw EOF on stdin, released the lease and exited ($?)."
show "ioasidctl acquire $DEV_B </dev/null     (as $USER_B)" as "$USER_B" "$GID_B" "$B/ioasidctl" acquire "$DEV_B" </dev/null
rc2=$?
say "exit code $rc2: granted; the lease ended when ioasidctl exited (stdin was /dev/null)."

step "Cleaning up"
sock=$DAEMON_SOCK
if daemon_stop; then
	say "ioasidd stopped, socket $(basename "$sock") removed"
else
	say "ioasidd did not stop cleanly"
	exit 1
fi
[ "$rc" = 2 ] && [ "$rc2" = 0 ] || { echo "demo: unexpected result (refusal $rc, grant $rc2)" >&2; exit 1; }
echo
echo "demo: done"
