#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# simdiff.sh DIR [SCENARIOS]: the host half of "sim vs real". DIR holds what run.sh extracted
# from one boot's serial log: snapshot.json (`ioasidctl snapshot` of the guest's host), vars
# (the BDFs) and outcomes-real.txt (scenario SD, or S12 in the SR-IOV boot). SCENARIOS: the
# outcomes.sh scenarios to compare (default: SD's). Replays scenarios/outcomes.sh against
# `ioasidd --kernel=sim --host=snapshot.json` (same policy, same requests, clients as other
# uids via setpriv) into outcomes-sim.txt, normalizes both and diffs them per scenario:
#   vm: SIMDIFF PASS <id> <n> records identical
#   vm: SIMDIFF FAIL <id>: real <...> vs sim <...>   (then the diff)
# Exit 0 when every scenario is identical.
#
# A record that shows a failure (a daemon that did not start, {"started":false}; a command
# that printed nothing, null; a line that is not JSON) fails its scenario even when both sides
# agree: two daemons that both fail to start prove nothing.
#
# Both sides run alike (scenarios/outcomes.sh: daemons without CAP_SYS_RESOURCE, clients with
# one RLIMIT_MEMLOCK, stderr recorded), so what a user sees is compared: the memlock value and
# the daemon's CAP_SYS_RESOURCE warning stay in the records.
# Normalization (norm below), applied to both sides alike, removes only what legitimately
# differs between two runs or between a char device and the sim's memfd:
#   - lease ids (random), in "lease" / "id" keys and inside messages ("lease 0a1b...")
#   - fd numbers ("fd"), pids ("pid"), creation times ("created")
#   - what an fd is: /dev/iommu and the sim's "ioasid-sim:iommufd:N" memfd become
#     <iommufd>; /dev/vfio/devices/vfioN and "ioasid-sim:vfio:BDF" become <vfio-cdev>;
#     ioasidctl's per-fd "name" (the file's path), "dev" (its rdev) and "sim" (memfd or not)
#     are dropped ("kind" and "verified" stay)
#   - the policy file's directory (a scratch dir on each side) wherever a path to a .conf
#     appears ("rule", messages); the file name and line stay
#   - socket-group: the guest's policy names ioasid-clients, the host has no such group;
#     the host's socket is made 0666 instead (access to the socket is not under test)
. "$(dirname "$0")/lib.sh"
set -u

dir=${1:?usage: simdiff.sh DIR [SCENARIOS]}
only=${2:-}
[ -s "$dir/snapshot.json" ] || vm_die "simdiff: no guest snapshot in $dir"
for b in ioasidd ioasidctl rawclient; do
	[ -x "$BDIR/$b" ] || vm_die "simdiff: $BDIR/$b missing (make build-tests)"
done
[ -x "$BDIR/bypass/ioasidd" ] || vm_die "simdiff: $BDIR/bypass/ioasidd missing (run.sh builds it)"

# The BDFs, as the guest found them (only PCI addresses are accepted).
while IFS='=' read -r k v; do
	case $k in EDU_SINGLE | EDU_MF | TESTDEV_MF | EDU_BR | TESTDEV_BR | EDU_HOSTGRP) ;;
	IGB_PF | IGB_VF0 | IGB_VF1) ;;
	*) continue ;;
	esac
	[[ $v =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$ ]] || vm_die "simdiff: bad $k '$v'"
	printf -v "$k" '%s' "$v"
done <"$dir/vars"

OC_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ioasid-simdiff.XXXXXX")
chmod 0755 "$OC_DIR"
trap 'oc_daemon_stop; jobs -p | xargs -r kill 2>/dev/null; rm -rf "$OC_DIR"' EXIT
# shellcheck disable=SC2034 # the hooks scenarios/outcomes.sh reads
OC_CTL=$BDIR/ioasidctl OC_RAW=$BDIR/rawclient
OC_IOASIDD=$BDIR/ioasidd OC_IOASIDD_BYPASS=$BDIR/bypass/ioasidd
OC_SOCK=$OC_DIR/oc.sock OC_SOCKET_GROUP_LINE=
CLIENT_GID=${CLIENT_GID:-4700}
OC_DAEMON_PID=
SIM_OUT=$dir/outcomes-sim.txt
: >"$SIM_OUT"

oc_daemon() { # policy [ioasidd args]
	local p=$1 k n
	shift
	rm -f "$OC_SOCK"
	# The daemon binds, then sets the socket's mode: open it up only once it says it serves
	# (a chmod between its bind and its own chmod would be undone, and clients get EACCES).
	n=$(grep -c '^ioasidd: Serving on ' "$dir/simdiff-ioasidd.log" 2>/dev/null)
	oc_daemon_caps "$OC_IOASIDD" --kernel=sim --host="$dir/snapshot.json" --config="$p" \
		--socket="$OC_SOCK" "$@" >>"$dir/simdiff-ioasidd.log" 2>&1 </dev/null &
	OC_DAEMON_PID=$!
	for k in $(seq 200); do
		[ -S "$OC_SOCK" ] && [ "$(grep -c '^ioasidd: Serving on ' "$dir/simdiff-ioasidd.log")" -gt "${n:-0}" ] &&
			{ chmod 0666 "$OC_SOCK"; return 0; }
		kill -0 "$OC_DAEMON_PID" 2>/dev/null || break
		sleep 0.05
	done
	return 1
}

oc_daemon_stop() {
	[ -n "$OC_DAEMON_PID" ] || return 0
	kill "$OC_DAEMON_PID" 2>/dev/null
	wait "$OC_DAEMON_PID" 2>/dev/null
	OC_DAEMON_PID=
}

oc_as() { # uid cmd...: with the RLIMIT_MEMLOCK both sides give their clients
	local u=$1
	shift
	if [ "$u" = 0 ]; then
		(ulimit -l "$OC_MEMLOCK_KB" && exec "$@")
	else
		(ulimit -l "$OC_MEMLOCK_KB" &&
			exec setpriv --reuid="$u" --regid="$CLIENT_GID" --clear-groups --inh-caps=-all "$@")
	fi
}

oc_host_ctl() { "$BDIR/ioasidctl" --host="$dir/snapshot.json" "$@"; }
oc_emit() { echo "$1 $2 $3" >>"$SIM_OUT"; }

. "$VM_DIR/scenarios/outcomes.sh"
[ -n "$only" ] && OC_SCENARIOS=$only
oc_run_all

# norm FILE ID: that scenario's records, one "<step> <normalized json>" per line.
norm() {
	local step json
	grep "^$2 " "$1" | while read -r _ step json; do
		printf '%s ' "$step"
		jq -cS '
			walk(if type == "object" then
				del(.lease, .pid, .created, .fd, .name, .dev, .sim)
				| if has("uid") and has("id") then del(.id) else . end
			else . end)
			| walk(if type == "string" then
				if test("^/dev/iommu$|ioasid-sim:iommufd:") then "<iommufd>"
				elif test("^/dev/vfio/devices/vfio[0-9]+$|ioasid-sim:vfio:") then "<vfio-cdev>"
				else gsub("(?<l>[Ll]ease) [0-9a-f]{8,}"; "\(.l) <id>")
					| gsub("/[^ ]*/(?<f>[A-Za-z0-9_-]+[.]conf)"; "\(.f)") end
			else . end)' <<<"$json" 2>/dev/null || echo "(not json) $json"
	done
}

fail=0
for id in $OC_SCENARIOS; do
	norm "$dir/outcomes-real.txt" "$id" >"$OC_DIR/real-$id"
	norm "$SIM_OUT" "$id" >"$OC_DIR/sim-$id"
	n=$(grep -c . "$OC_DIR/real-$id")
	# Failures recorded on either side, identical or not.
	bad=
	for side in real sim; do
		b=$(grep -m1 -E '^[^ ]+ (null|\{"started":false\}|\(not json\).*)$' "$OC_DIR/$side-$id") &&
			bad="${bad:+$bad; }$side: $b"
	done
	if [ "$n" = 0 ]; then
		printf 'vm: SIMDIFF FAIL %s: no outcome records from the guest\n' "$id"
		fail=$((fail + 1))
	elif [ -n "$bad" ]; then
		printf 'vm: SIMDIFF FAIL %s: a step failed (%s)\n' "$id" "$bad"
		fail=$((fail + 1))
	elif cmp -s "$OC_DIR/real-$id" "$OC_DIR/sim-$id"; then
		printf 'vm: SIMDIFF PASS %s %s records identical\n' "$id" "$n"
	else
		# The first differing step, as "real <json> vs sim <json>", then the whole diff.
		first=$(diff "$OC_DIR/real-$id" "$OC_DIR/sim-$id" | grep -m1 '^[<>]' | cut -c3- | cut -d' ' -f1)
		printf 'vm: SIMDIFF FAIL %s %s: real %s vs sim %s\n' "$id" "$first" \
			"$(grep -m1 "^$first " "$OC_DIR/real-$id" | cut -d' ' -f2-)" \
			"$(grep -m1 "^$first " "$OC_DIR/sim-$id" | cut -d' ' -f2-)"
		diff -u "$OC_DIR/real-$id" "$OC_DIR/sim-$id" | sed 's/^/vm:   /' >&2
		fail=$((fail + 1))
	fi
done
n=$(echo "$OC_SCENARIOS" | wc -w)
printf 'vm: SIMDIFF %d of %d scenarios identical\n' $((n - fail)) "$n" >&2
[ "$fail" = 0 ]
