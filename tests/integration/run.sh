#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Integration tier: real ioasidd processes (sim kernel, fixture hosts, temporary sockets and
# policies) and real clients running as other uids (setpriv). Asserts on `ioasidctl --json`
# output and exit codes, and after every test on the invariants of
# reference/adversarial-tests.md: the daemon still runs and serves a good client (I1), its fd
# count is back at its baseline (I2), no fd went to an unauthorized peer (I3, asserted per
# test on rawclient's fd counts and ioasidctl's output).
#
#   tests/integration/run.sh [-v] [TEST...]     (B=build dir; default build)
#
# Prints "integration: N passed, N failed" and exits non-zero on any failure.

set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERBOSE=0
[ "${1:-}" = -v ] && { VERBOSE=1; shift; }
ONLY=("$@")

skip() {
	echo "integration: SKIPPED: $*"
	exit 0
}
[ "$(id -u)" = 0 ] || skip "needs root (clients run as other uids through setpriv)"
command -v jq >/dev/null || skip "jq is not installed"
command -v setpriv >/dev/null || skip "setpriv is not installed"
for f in ioasidd ioasidctl rawclient peercred-eio; do
	[ -x "$B/$f" ] || [ "$f" = peercred-eio -a -e "$B/$f" ] || skip "$B/$f is not built (make build-tests)"
done
SAMPLE="$REPO/tests/hosts/sample.json"
[ -f "$SAMPLE" ] || skip "tests/hosts/sample.json is missing"

lib_init

# Clients. UA and UB are tenants of the policy, UX is in no rule, UN is the overflow uid.
UA=4701
UB=4702
UX=4713
UN=65534

# Sample host: group 5 = bridge 0000:00:05.0 + 0000:01:01.0 + 0000:01:02.0 (both vfio-pci),
# groups 3 and 4 hold one vfio-pci device each, group 6 holds an ahci controller.
DEV_A=0000:01:01.0
DEV_B=0000:01:02.0
DEV_1=0000:00:03.0
DEV_2=0000:00:04.0
DEV_HOST=0000:00:1f.2

POLICY="$WORK/ioasid.conf"
cat >"$POLICY" <<EOF
# integration policy
max-connections-per-uid 8
admin uid 0
allow uid $UA to any mode attached,unbound group implicit
allow uid $UB to any mode attached,unbound group implicit
allow uid 0 to any mode attached,unbound group implicit
EOF

PASSED=0
FAILED=0
FAILED_NAMES=()
CUR_OK=1

fail() {
	echo "    FAIL: $*"
	CUR_OK=0
}
expect_eq() { # DESC ACTUAL EXPECTED
	[ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"
}
expect_match() { # DESC TEXT REGEX
	[[ "$2" =~ $3 ]] || fail "$1: '$2' does not match /$3/"
}
expect_ne() {
	[ "$2" != "$3" ] || fail "$1: got '$2'"
}
# The daemon closed the connection: EOF, or a reset because our unread bytes were discarded.
expect_closed() { # DESC RAWCLIENT-OUTPUT
	local end
	end=$(jq -r 'select(.end) | .end + " " + (.errno // "")' <<<"$2")
	[[ "$end" =~ ^(eof |error (ECONNRESET|EPIPE)) ]] || fail "$1: not disconnected ($end)"
}
# The daemon refused fds sent by the client: on kernels with SO_PASSRIGHTS (6.16+) the
# accepted socket refuses them and the sender's sendmsg() fails with EPERM (C4's expected
# result); on older kernels the daemon receives them, closes them and disconnects.
expect_fds_refused() { # DESC RAWCLIENT-OUTPUT
	local end
	end=$(jq -r 'select(.end) | .end + " " + (.errno // "")' <<<"$2")
	[[ "$end" =~ ^(eof |error (ECONNRESET|EPIPE|EPERM)) ]] || fail "$1: fds neither refused nor disconnected ($end)"
}
# Lease count through Manager.Status (as root, the admin).
lease_count() {
	ctl_as root status --json=short 2>/dev/null | jq -r '.leases'
}
# Waits up to 2 s for the lease count to be $1.
wait_leases() {
	local n
	for _ in $(seq 40); do
		n=$(lease_count)
		[ "$n" = "$1" ] && return 0
		sleep 0.05
	done
	fail "lease count: expected $1, got '$n'"
}

# The main daemon (restarted when a test kills it).
main_daemon() {
	daemon_alive && return 0
	if ! daemon_start main "$SAMPLE" "$POLICY"; then
		echo "integration: cannot start ioasidd:" >&2
		cat "$DAEMON_LOG" >&2
		exit 1
	fi
	# Warm up once so lazily opened fds (journal, ...) are part of the baseline.
	ctl_as root leases --json >/dev/null 2>&1
	BASE_FDS=$(daemon_fds_settled)
}

# Sanitizer reports in any daemon log so far (I4).
sanitizer_reports() {
	cat "$WORK"/*.log 2>/dev/null | grep -c -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' || true
}
SAN_SEEN=0

run_test() {
	local name=$1 fn=$2 n
	if [ ${#ONLY[@]} -gt 0 ] && [[ ! " ${ONLY[*]} " =~ " $name " ]]; then
		return
	fi
	main_daemon
	CUR_OK=1
	[ $VERBOSE = 1 ] && echo "  $name ..."
	"$fn"
	# Invariants after every test: the main daemon still runs (I1), serves a good client
	# within a second, and its fd count is back at the baseline (I2).
	if ! daemon_alive; then
		fail "ioasidd (main) died; log tail: $(tail -3 "$DAEMON_LOG" | tr '\n' ' ')"
		DAEMON_PID=
	else
		timeout 2 env IOASID_SOCKET="$DAEMON_SOCK" "$B/ioasidctl" leases --json >/dev/null 2>&1 ||
			fail "ioasidd does not serve a well-behaved client (I1)"
		n=$(daemon_wait_fds "$BASE_FDS") || fail "daemon fd count $n, baseline $BASE_FDS (I2)"
	fi
	n=$(sanitizer_reports)
	[ "$n" = "$SAN_SEEN" ] || fail "sanitizer report in a daemon log (I4): $(grep -h -m1 -E \
		'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK"/*.log)"
	SAN_SEEN=$n
	if [ $CUR_OK = 1 ]; then
		PASSED=$((PASSED + 1))
		echo "  ok   $name"
	else
		FAILED=$((FAILED + 1))
		FAILED_NAMES+=("$name")
		echo "  FAIL $name"
	fi
}

# ---------------------------------------------------------------------------------------
# Basics: what ioasidctl shows and the received fds.

t_acquire_attached() {
	local out rc
	out=$(ctl_as $UA acquire $DEV_1 --json=short </dev/null)
	rc=$?
	expect_eq "exit code" "$rc" 0
	expect_eq "mode" "$(jq -r .mode <<<"$out")" attached
	expect_eq "verified" "$(jq -r .verified <<<"$out")" true
	expect_eq "iommufd kind" "$(jq -r .iommufd.kind <<<"$out")" iommufd
	expect_eq "device bdf" "$(jq -r '.devices[0].bdf' <<<"$out")" $DEV_1
	expect_eq "device fd name" "$(jq -r '.devices[0].name' <<<"$out")" \
		"memfd:ioasid-sim:vfio:$DEV_1"
	expect_eq "device fd cloexec" "$(jq -r '.devices[0].cloexec' <<<"$out")" true
	expect_match "ioasId" "$(jq -r .ioasId <<<"$out")" '^[0-9]+$'
	expect_match "devId" "$(jq -r '.devices[0].devId' <<<"$out")" '^[0-9]+$'
	wait_leases 0
}

t_acquire_unbound() {
	local out
	out=$(ctl_as $UA acquire $DEV_1 --mode unbound --json=short </dev/null)
	expect_eq "exit code" "$?" 0
	expect_eq "mode" "$(jq -r .mode <<<"$out")" unbound
	expect_eq "ioasId" "$(jq -r .ioasId <<<"$out")" null
	expect_eq "devId" "$(jq -r '.devices[0].devId' <<<"$out")" null
	expect_eq "verified" "$(jq -r .verified <<<"$out")" true
}

t_lease_held_and_listed() {
	hold_lease L1 $UA $DEV_1 || fail "acquire exited early: $(cat "$L1_err")"
	local id
	id=$(jq -r .lease "$L1_out")
	expect_ne "lease id" "$id" null
	expect_eq "leases (root sees it)" "$(ctl_as root leases --json=short | jq -r --arg id "$id" \
		'[.[] | select(.id == $id)] | length')" 1
	expect_eq "lease owner uid" "$(ctl_as root leases --json=short | jq -r --arg id "$id" \
		'.[] | select(.id == $id) | .uid')" $UA
	expect_eq "status leases" "$(lease_count)" 1
	release_lease L1
	expect_eq "holder exit" "$?" 0
	wait_leases 0
}

t_leases_filtered_and_revoke() {
	hold_lease L2 $UA $DEV_1 || fail "acquire exited early: $(cat "$L2_err")"
	local id
	id=$(jq -r .lease "$L2_out")
	expect_eq "the holder sees its lease" \
		"$(ctl_as $UA leases --json=short | jq -r '.[].id')" "$id"
	expect_eq "another tenant does not" "$(ctl_as $UB leases --json=short | jq length)" 0
	ctl_as $UB revoke "$id" >/dev/null 2>&1
	expect_eq "a tenant cannot revoke" "$?" 2
	ctl_as $UA status >/dev/null 2>"$WORK/err"
	expect_eq "a tenant gets no status" "$?" 2
	expect_match "status message" "$(cat "$WORK/err")" "admin rule"
	expect_eq "admin revokes" "$(ctl_as root revoke "$id" --json=short | jq -r .state)" revoked
	# The record stays until the holder lets go, so the holder can learn why; it holds no
	# group any more.
	expect_eq "listed as revoked" \
		"$(ctl_as $UA leases --json=short | jq -r --arg id "$id" '.[] | select(.id == $id) | .state')" \
		revoked
	expect_match "revocation audited" "$(grep 'action=revoke ' "$DAEMON_LOG" | tail -1)" \
		"lease=$id reason=\"revoked by an admin\""
	release_lease L2
	expect_eq "the holder learns it at release" "$?" 1
	expect_match "holder's message" "$(cat "$L2_err")" "already ended"
	wait_leases 0
	ctl_as root revoke "$id" >/dev/null 2>&1
	expect_eq "revoking twice" "$?" 1
}

t_run_expands() {
	local out
	out=$(ctl_as $UA run --device $DEV_1 --mode attached -- \
		sh -c 'for a; do echo "$a"; done; readlink /proc/self/fd/$1' x \
		'{iommufd}' "dev={fd:$DEV_1},id={devid:$DEV_1},ioas={ioas}" 2>/dev/null)
	expect_eq "exit code" "$?" 0
	local fd
	fd=$(sed -n 1p <<<"$out")
	expect_match "{iommufd}" "$fd" '^[0-9]+$'
	expect_match "{fd:BDF}" "$(sed -n 2p <<<"$out")" '^dev=[0-9]+,id=[0-9]+,ioas=[0-9]+$'
	expect_match "the child holds the iommufd" "$(sed -n 3p <<<"$out")" \
		'^/memfd:ioasid-sim:iommufd'
	ctl_as $UA run --device $DEV_1 -- sh -c 'exit 7' 2>/dev/null
	expect_eq "run passes the exit status" "$?" 7
	ctl_as $UA run --device $DEV_1 --mode unbound -- echo '{ioas}' >/dev/null 2>"$WORK/err"
	expect_eq "{ioas} in unbound mode is a usage error" "$?" 64
	ctl_as $UA run --device $DEV_1 -- echo "{fd:$DEV_2}" >/dev/null 2>"$WORK/err"
	expect_eq "{fd:BDF} of a device not leased" "$?" 64
	expect_match "message" "$(cat "$WORK/err")" "'$DEV_2' is not in lease"
	out=$(ctl_as $UA run --device $DEV_1 -- echo '{"driver":"x"}' '{unknown}' 2>/dev/null)
	expect_eq "other braces untouched" "$out" '{"driver":"x"} {unknown}'
	wait_leases 0
}

t_run_signal() {
	# SIGTERM to ioasidctl run reaches the child; the lease ends with it.
	ctl_bg $UA run --device $DEV_1 -- sleep 30 2>/dev/null &
	local pid=$!
	for _ in $(seq 40); do
		[ "$(lease_count)" = 1 ] && break
		sleep 0.05
	done
	expect_eq "lease while running" "$(lease_count)" 1
	kill -TERM $pid
	wait $pid
	expect_eq "exit status" "$?" $((128 + 15))
	wait_leases 0
}

# ---------------------------------------------------------------------------------------
# Leases end only when their fds are gone (issue 11, section 2). `run` execs CMD in place
# with the lease's connection inherited; a lease that ends anyway while some process still
# holds its device fds keeps its group ("held by ended lease L (uid U, pid P)") until the
# kernel (sim) shows them closed.

# A directory the clients (other uids) can write pid files to.
client_tmp() {
	mkdir -p "$WORK/tmp"
	chmod 1777 "$WORK/tmp"
	echo "$WORK/tmp"
}

# Waits up to 3 s for FILE to hold a pid; prints it.
wait_pidfile() {
	for _ in $(seq 60); do
		[ -s "$1" ] && { cat "$1"; return 0; }
		sleep 0.05
	done
	return 1
}

# The state of lease ID as an admin sees it ("" when not listed); waits up to 3 s for WANT.
lease_state() {
	local id=$1 want=${2:-} st
	for _ in $(seq 60); do
		st=$(ctl_as root leases --json=short | jq -r --arg id "$id" '.[] | select(.id == $id) | .state')
		[ -z "$want" ] || [ "$st" = "$want" ] && break
		sleep 0.05
	done
	echo "$st"
}

# Waits up to 3 s until process PID is gone (reaped): its files are closed by then.
wait_gone() {
	for _ in $(seq 60); do
		[ -e "/proc/$1" ] || return 0
		sleep 0.05
	done
	fail "process $1 did not go away"
}

group_owner() { # GROUP: ListGroups' owner of GROUP as an admin sees it
	raw_as root --timeout 5 --replies 1 '{"method":"io.ioasid.Broker.ListGroups"}' |
		jq -r --argjson g "$1" 'select(.reply) | .reply.parameters.groups[] | select(.number == $g) | .owner'
}

# (a) run's program holds the lease: listed while it lives (with its pid: run became it),
# kept by a child that inherited the connection after the program exited, gone with the last.
t_run_holds_lease() {
	local tmp pid child id
	tmp=$(client_tmp)
	rm -f "$tmp/a.child"
	ctl_bg $UA run --device $DEV_1 -- sh -c \
		'sleep 300 & echo $! >"$0"; read x; exit 0' "$tmp/a.child" 2>/dev/null </dev/null &
	pid=$!
	child=$(wait_pidfile "$tmp/a.child") || fail "the program did not start its child"
	wait_leases 1
	id=$(ctl_as $UA leases --json=short | jq -r '.[0].id')
	expect_eq "the lease's pid is the program's (exec in place)" \
		"$(ctl_as $UA leases --json=short | jq -r '.[0].pid')" "$pid"
	expect_eq "active" "$(lease_state "$id")" active
	# The program exits (stdin is /dev/null); its child still has the connection.
	wait $pid
	sleep 0.2
	expect_eq "still active while the child holds the connection" "$(lease_state "$id")" active
	kill "$child"
	wait_leases 0
	expect_eq "gone with the last holder" "$(lease_state "$id" none)" ""
	# And without a child: the lease ends with the program.
	ctl_bg $UA run --device $DEV_1 -- sleep 300 2>/dev/null &
	pid=$!
	wait_leases 1
	kill -KILL $pid
	wait $pid 2>/dev/null
	wait_leases 0
	expect_eq "no ended record: nobody holds the fds" \
		"$(ctl_as root leases --json=short | jq length)" 0
}

# The assertions of a lease that ended while a process (pid $4, not the lease's) holds its
# device fds: named as held, refused to B until that process exits, then granted.
check_held_after_end() { # WHAT ID LEASE-PID HOLDER-PID
	local what=$1 id=$2 lpid=$3 holder=$4 held out
	expect_eq "$what: listed as ended" "$(lease_state "$id" ended)" ended
	expect_eq "$what: its held device" \
		"$(ctl_as root leases --json=short | jq -r --arg id "$id" '.[] | select(.id == $id) | .held | join(" ")')" \
		$DEV_1
	held="held by ended lease $id (uid $UA, pid $lpid)"
	expect_eq "$what: the holder sees its own" \
		"$(ctl_as $UA leases --json=short | jq -r '.[0].state')" ended
	expect_eq "$what: ListGroups (admin)" "$(group_owner 3)" "$held"
	expect_eq "$what: status names it" \
		"$(ctl_as root status --json=short | jq -r '.held | join(";")')" "$DEV_1 (IOMMU group 3): $held"
	expect_eq "$what: status counts no live lease" "$(lease_count)" 0
	out=$(ctl_as $UB acquire $DEV_1 --json=short </dev/null 2>"$WORK/err")
	expect_eq "$what: B refused" "$?" 2
	expect_eq "$what: B gets no fd" "$out" ""
	expect_eq "$what: B's reason (not told whose)" "$(cat "$WORK/err")" \
		"ioasidctl: $DEV_1: IOMMU group 3 is held by an ended lease of another user: its device files are still open in some process"
	ctl_as $UA acquire $DEV_1 --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "$what: A refused too" "$?" 2
	expect_eq "$what: A's reason names the lease" "$(cat "$WORK/err")" \
		"ioasidctl: $DEV_1: IOMMU group 3 is $held: its device files are still open in some process"
	# Audit: the lease's end was recorded.
	expect_match "$what: end audited" "$(grep "lease=$id" "$DAEMON_LOG" | grep 'action=release' | tail -1)" \
		"lease=$id"
	kill "$holder"
	wait_gone "$holder"
	out=$(ctl_as $UB acquire $DEV_1 --json=short </dev/null 2>"$WORK/err")
	expect_eq "$what: B granted once the holder is gone ($(cat "$WORK/err"))" \
		"$(jq -r .verified <<<"$out")" true
	expect_eq "$what: the ended lease is gone" "$(lease_state "$id" none)" ""
	wait_leases 0
}

# (b) The issue's case: the program forks a child with the device fds and dies (kill -9),
# the child lives on. The lease ends (connection lifetime: the child closed its copy of the
# connection; process lifetime: the program's pid is gone), the device stays held.
t_run_wrapper_dies() {
	local tmp pid child id lifetime
	tmp=$(client_tmp)
	for lifetime in connection process; do
		rm -f "$tmp/b.child"
		# The child keeps the iommufd and device fds; with connection lifetime it drops the
		# lease's connection, which would otherwise keep the lease (and is tested above).
		ctl_bg $UA run --device $DEV_1 --lifetime $lifetime -- sh -c '
			if [ "$1" = connection ]; then
				sh -c "eval \"exec \$IOASID_LEASE_FD>&-\"; exec sleep 300" &
			else
				sleep 300 &
			fi
			echo $! >"$0"; exec sleep 300' "$tmp/b.child" $lifetime 2>/dev/null </dev/null &
		pid=$!
		child=$(wait_pidfile "$tmp/b.child") || fail "$lifetime: no child"
		wait_leases 1
		id=$(ctl_as $UA leases --json=short | jq -r '.[0].id')
		kill -KILL $pid
		wait $pid 2>/dev/null
		check_held_after_end "$lifetime lifetime" "$id" "$pid" "$child"
	done
}

# The same for a client of the API that is not run: it acquires (connection lifetime),
# passes the fds to a child and exits; the child lives on.
t_acquire_client_passes_fds() {
	local tmp pid child id
	if [ ! -x /usr/bin/python3 ]; then
		echo "    SKIPPED: /usr/bin/python3 is not installed (the API client is a Python script)"
		return
	fi
	tmp=$(client_tmp)
	rm -f "$tmp/c.child" "$tmp/c.lease"
	cat >"$tmp/client.py" <<'PY'
import json, os, socket, sys, time
sock, bdf, pidfile, leasefile = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)
s.sendall(json.dumps({"method": "io.ioasid.Broker.Acquire",
                      "parameters": {"devices": [bdf]}}).encode() + b"\0")
msg, fds, _, _ = socket.recv_fds(s, 65536, 16)
reply = json.loads(msg.rstrip(b"\0"))
lease = reply["parameters"]["lease"]
if os.fork() == 0:
    s.close()            # the child holds the device fds, not the lease's connection
    for fd in fds:
        os.set_inheritable(fd, True)
    time.sleep(300)
    os._exit(0)
with open(leasefile, "w") as f:
    f.write(lease)
os._exit(0)              # the client exits: its connection closes, the lease ends
PY
	chmod 0644 "$tmp/client.py"
	setpriv --reuid=$UA --regid="$CLIENT_GID" --clear-groups --inh-caps=-all \
		/usr/bin/python3 "$tmp/client.py" "$DAEMON_SOCK" $DEV_1 "$tmp/c.child" "$tmp/c.lease"
	expect_eq "client exit" "$?" 0
	id=$(cat "$tmp/c.lease" 2>/dev/null)
	# The child is the only process of uid A still running python3.
	child=$(pgrep -u $UA -f "$tmp/client.py")
	expect_match "the child lives" "$child" '^[0-9]+$'
	# The lease's pid is the client's, which exited.
	pid=$(ctl_as root leases --json=short | jq -r --arg id "$id" '.[] | select(.id == $id) | .pid')
	expect_match "lease pid" "$pid" '^[0-9]+$'
	check_held_after_end "API client" "$id" "$pid" "$child"
}

# The podman recipe: fds from 3 with no gaps (--preserve-fds=IOASID_FDS passes exactly them),
# the connection after them, and the environment naming them.
t_run_fds_from_3() {
	local out id
	out=$(ctl_as $UA run --device $DEV_1 --device $DEV_2 -- sh -c '
		for n in 3 4 5 6; do echo "$n $(readlink /proc/self/fd/$n | sed "s/:[0-9]* (deleted)$//; s/ (deleted)$//; s/socket:.*/socket/")"; done
		[ -e /proc/self/fd/7 ] && echo "7 open"
		echo "env $IOASID_FDS_START $IOASID_FDS $IOASID_LEASE_FD $IOASID_FDNAMES"
		echo "lease $IOASID_LEASE"
		echo "args $0 $1 $2"' '{iommufd}' "{fd:$DEV_1}" "{fd:$DEV_2}" 2>/dev/null)
	expect_eq "exit code" "$?" 0
	expect_eq "fds 3.." "$(grep -E '^[0-9]' <<<"$out" | tr '\n' ';')" \
		"3 /memfd:ioasid-sim:iommufd;4 /memfd:ioasid-sim:vfio:$DEV_1;5 /memfd:ioasid-sim:vfio:$DEV_2;6 socket;"
	expect_eq "environment" "$(grep '^env' <<<"$out")" "env 3 3 6 iommufd $DEV_1 $DEV_2"
	expect_match "IOASID_LEASE" "$(grep '^lease' <<<"$out")" '^lease [0-9a-f]{32}$'
	expect_eq "placeholders name the placed fds" "$(grep '^args' <<<"$out")" "args 3 4 5"
	wait_leases 0
	# An fd inherited by ioasidctl at a number of the block is not replaced: refused, and
	# --fds-from moves the block.
	ctl_as $UA run --device $DEV_1 -- true 3</dev/null 2>"$WORK/err"
	expect_eq "inherited fd 3: usage error" "$?" 64
	expect_match "message" "$(cat "$WORK/err")" "fd 3 is already open \\(inherited\\).*--fds-from"
	out=$(ctl_as $UA run --device $DEV_1 --fds-from 40 -- sh -c \
		'echo "$(readlink /proc/self/fd/3) $0 $IOASID_FDS_START $IOASID_LEASE_FD"' '{iommufd}' \
		3</dev/null 40>&- 41>&- 42>&- 2>/dev/null)
	expect_eq "--fds-from 40" "$out" "/dev/null 40 40 42"
	wait_leases 0
	ctl_as $UA run --fds-from 2 --device $DEV_1 -- true 2>/dev/null
	expect_eq "--fds-from below 3" "$?" 64
	# The lease's connection is CMD's: it can release the lease itself through it.
	out=$(ctl_as $UA run --device $DEV_1 -- sh -c 'printf "%s\0" "{\"method\":\"io.ioasid.Broker.Release\",\"parameters\":{\"lease\":\"$IOASID_LEASE\"}}" >&$IOASID_LEASE_FD; sleep 0.3; echo done' 2>/dev/null)
	expect_eq "released through IOASID_LEASE_FD" "$out" done
	expect_match "release audited" "$(grep 'action=release ' "$DAEMON_LOG" | tail -1)" \
		"method=io.ioasid.Broker.Release"
	wait_leases 0
}

# ---------------------------------------------------------------------------------------
# A. Authentication and authorization

t_A1_no_rule() {
	local out err rc
	out=$(ctl_as $UX acquire $DEV_1 --json=short </dev/null 2>"$WORK/err")
	rc=$?
	err=$(cat "$WORK/err")
	expect_eq "exit code" "$rc" 2
	expect_eq "stdout" "$out" ""
	expect_match "message" "$err" "Permission denied for $DEV_1 \\(IOMMU group 3\\): no rule matched"
	out=$(raw_as $UX --replies 1 --timeout 2 \
		"{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":{\"devices\":[\"$DEV_1\"]}}")
	expect_eq "error" "$(jq -r 'select(.reply) | .reply.error' <<<"$out")" \
		io.ioasid.PermissionDenied
	expect_eq "no fd (I3)" "$(jq -s '[.[] | (.fds // 0) + (.strayFds // 0)] | add' <<<"$out")" 0
	expect_match "audit record" "$(cat "$DAEMON_LOG")" "$UX"
	wait_leases 0
}

t_A2_peercred_eio() {
	local count="$WORK/peercred.count" out saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK
	local saved_log=$DAEMON_LOG
	rm -f "$count"
	DAEMON_PID=
	# (Under ASan the runtime must come first; it tolerates the preload with this option.)
	DAEMON_ENV="LD_PRELOAD=$B/peercred-eio PEERCRED_EIO_COUNT=$count"
	DAEMON_ENV+=" ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	if daemon_start a2 "$SAMPLE" "$POLICY"; then
		# Root is allowed everything by the policy: if the failed SO_PEERCRED turned into
		# uid 0, this would succeed.
		out=$(raw_as root --timeout 2 \
			"{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":{\"devices\":[\"$DEV_1\"]}}")
		expect_eq "no fd (I3)" "$(jq -s '[.[] | (.fds // 0) + (.strayFds // 0)] | add' <<<"$out")" 0
		expect_eq "no success reply" \
			"$(jq -s '[.[] | select(.reply) | select(.reply.error == null)] | length' <<<"$out")" 0
		expect_match "shim exercised" "$(cat "$count" 2>/dev/null)" 'x'
		out=$(ctl_as root acquire $DEV_1 --json=short </dev/null 2>/dev/null)
		expect_eq "ioasidctl got nothing" "$out" ""
		daemon_alive || fail "ioasidd died under SO_PEERCRED failure"
		daemon_stop
	else
		fail "ioasidd with the shim did not start: $(tail -3 "$DAEMON_LOG")"
	fi
	DAEMON_ENV=
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

t_A3_client_exits() {
	# Sends a request and exits at once.
	for _ in 1 2 3 4 5; do
		raw_as $UA --close \
			"{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":{\"devices\":[\"$DEV_1\"]}}" \
			>/dev/null
	done
	# Exits between accept and the first read.
	for _ in 1 2 3 4 5; do
		raw_as $UA --connect-only --timeout 0 >/dev/null
	done
	wait_leases 0
	# The device is free again.
	ctl_as $UB acquire $DEV_1 --json=short </dev/null >/dev/null 2>&1
	expect_eq "device free afterwards" "$?" 0
}

t_A5_overflow_uid() {
	local rc err
	ctl_as $UN acquire $DEV_1 --json=short </dev/null >/dev/null 2>"$WORK/err"
	rc=$?
	err=$(cat "$WORK/err")
	expect_eq "uid 65534 denied" "$rc" 2
	expect_match "message" "$err" "Permission denied"
	# A policy naming nobody / 65534 is rejected at load: the daemon refuses to start.
	local bad="$WORK/bad-nobody.conf" saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK
	local saved_log=$DAEMON_LOG
	for rule in "allow user nobody to any" "allow uid 65534 to any"; do
		printf 'admin uid 0\n%s\n' "$rule" >"$bad"
		DAEMON_PID=
		if daemon_start a5 "$SAMPLE" "$bad"; then
			fail "ioasidd started with '$rule'"
			daemon_stop
		else
			expect_match "load error names 65534" "$(cat "$DAEMON_LOG")" "65534"
		fi
	done
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

t_A10_methods() {
	local methods m out err
	# Every method of every interface, from the IDL files.
	methods=$(for f in "$REPO"/common/io.ioasid.*.varlink; do
		iface=$(awk '/^interface /{print $2}' "$f")
		awk -v i="$iface" '/^method /{sub(/\(.*/, "", $2); print i "." $2}' "$f"
	done)
	[ -n "$methods" ] || fail "no methods found in the IDL files"
	# Valid parameters, so authorization is the only reason left to refuse.
	declare -A params=(
		[io.ioasid.Broker.Acquire]="{\"devices\":[\"$DEV_1\"]}"
		[io.ioasid.Broker.Release]='{"lease":"00000000000000000000000000000000"}'
		[io.ioasid.Manager.Revoke]='{"lease":"00000000000000000000000000000000"}'
		[io.ioasid.Manager.Stage]="{\"layout\":\"default\",\"owner\":\"uid $UA\",\"devices\":[\"$DEV_1\"]}"
		[io.ioasid.Manager.DropStaged]='{"id":"x"}'
	)
	for m in $methods; do
		out=$(raw_as $UX --replies 1 --timeout 2 "{\"method\":\"$m\",\"parameters\":${params[$m]:-{\}}}")
		err=$(jq -r 'select(.reply) | .reply.error' <<<"$out")
		case "$m" in
		io.ioasid.Broker.ListDevices | io.ioasid.Broker.ListGroups | io.ioasid.Broker.ListLeases | io.ioasid.Broker.Monitor)
			# Read-only and filtered to what the peer may see: either allowed or denied,
			# never unknown.
			[[ "$err" != org.varlink.service.MethodNotFound ]] ||
				fail "$m: no entry in the method table"
			;;
		io.ioasid.Broker.Release)
			# Nothing of this peer's to release: denied or no such lease.
			[[ "$err" =~ ^io\.ioasid\.(PermissionDenied|NoSuchLease)$ ]] ||
				fail "$m as an unauthorized uid: got '${err:-no reply}'"
			;;
		*)
			[[ "$err" =~ ^io\.ioasid\.(Broker\.|Manager\.)?PermissionDenied$ ]] ||
				fail "$m as an unauthorized uid: expected PermissionDenied, got '${err:-no reply}'"
			;;
		esac
		expect_eq "$m: no fd" "$(jq -s '[.[] | (.fds // 0) + (.strayFds // 0)] | add' <<<"$out")" 0
	done
	# Admin methods refuse before looking at the parameters.
	for m in $(grep -o '^io\.ioasid\.Manager\.[A-Za-z]*' <<<"$methods"); do
		out=$(raw_as $UX --replies 1 --timeout 2 "{\"method\":\"$m\",\"parameters\":{}}")
		err=$(jq -r 'select(.reply) | .reply.error' <<<"$out")
		[[ "$err" =~ PermissionDenied$ ]] ||
			fail "$m with empty parameters as an unauthorized uid: got '${err:-no reply}'" \
				"(parameters checked before authorization)"
	done
	# Well-formed names the daemon does not have.
	for m in io.ioasid.Broker.Nope io.ioasid.Manager.Acquire io.ioasid.Nope.Acquire \
		org.varlink.service.Nope io.ioasid.Broker.ListDevicesX; do
		out=$(raw_as $UX --replies 1 --timeout 2 "{\"method\":\"$m\",\"parameters\":{}}")
		err=$(jq -r 'select(.reply) | .reply.error' <<<"$out")
		[[ "$err" =~ ^org\.varlink\.service\.(MethodNotFound|InterfaceNotFound)$ ]] ||
			fail "unknown method $m: expected MethodNotFound, got '${err:-no reply}'"
	done
	# Garbage method names: not a valid call at all.
	for m in "" "." "x.y" "io.ioasid.Broker." "io.ioasid.Broker.acquire" \
		"$(printf 'a%.0s' $(seq 300))" "io.ioasid.Broker.Acquire\u0000"; do
		out=$(raw_as $UX --replies 1 --timeout 2 "{\"method\":\"$m\",\"parameters\":{}}")
		expect_eq "garbage '$m': no success" \
			"$(jq -s '[.[] | select(.reply) | select(.reply.error == null)] | length' <<<"$out")" 0
	done
	# The introspection interface answers everyone.
	out=$(raw_as $UX --replies 1 --timeout 2 '{"method":"org.varlink.service.GetInfo"}')
	expect_eq "GetInfo" "$(jq -r 'select(.reply) | .reply.error' <<<"$out")" null
}

# ---------------------------------------------------------------------------------------
# B. Device, IOMMU group and identity

t_B1_group_owned() {
	local rc err out
	hold_lease HA $UA $DEV_A || fail "A's acquire failed: $(cat "$HA_err")"
	expect_eq "A's lease at risk" "$(jq -r '.atRisk | index("'$DEV_B'") != null' "$HA_out")" true
	out=$(ctl_as $UB acquire $DEV_B --json=short </dev/null 2>"$WORK/err")
	rc=$?
	err=$(cat "$WORK/err")
	expect_eq "B refused" "$rc" 2
	expect_eq "B's stdout" "$out" ""
	expect_match "reason" "$err" "$DEV_B: IOMMU group 5 is shared with another owner"
	# Asking for the group as a whole, or the very device A holds: refused too.
	ctl_as $UB acquire --iommu-group 5 --json=short </dev/null >/dev/null 2>&1
	expect_eq "B refused (group)" "$?" 2
	ctl_as $UB acquire $DEV_A --json=short </dev/null >/dev/null 2>&1
	expect_eq "B refused (same device)" "$?" 2
	release_lease HA
	out=$(ctl_as $UB acquire $DEV_B --json=short </dev/null 2>/dev/null)
	expect_eq "B succeeds after A released" "$(jq -r .verified <<<"$out")" true
	wait_leases 0
}

t_B2_not_viable() {
	local err
	ctl_as $UA acquire $DEV_HOST --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "host-driver device refused" "$?" 2
	err=$(cat "$WORK/err")
	expect_match "reason" "$err" "$DEV_HOST"
}

t_B3_stale_cdev() {
	# Between lookup and open the cdev vfio0 was re-registered for another device: the host
	# model still says $DEV_2 is vfio0, the kernel (the sim, built from the same file,
	# resolves the first device registered under that name) says vfio0 is $DEV_1. The
	# backend's post-open st_rdev -> BDF check must refuse: ESTALE, nothing sent.
	local host="$WORK/b3-host.json" out saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK
	local saved_log=$DAEMON_LOG
	jq --arg b $DEV_2 '.devices |= map(if .bdf == $b then .vfio.name = "vfio0" |
		.vfio.dev = "510:0" else . end)' "$SAMPLE" >"$host"
	DAEMON_PID=
	if daemon_start b3 "$host" "$POLICY"; then
		local base
		base=$(daemon_fds_settled)
		out=$(ctl_as $UA acquire $DEV_2 --json=short </dev/null 2>"$WORK/err")
		expect_eq "refused (exit 1: a system error, not a policy refusal)" "$?" 1
		expect_eq "nothing delivered" "$out" ""
		expect_match "names the stale cdev" "$(cat "$WORK/err")" "ESTALE|[Ss]tale"
		expect_match "names the device" "$(cat "$WORK/err")" "$DEV_2"
		expect_eq "no lease" "$(ctl_as root status --json=short | jq -r .leases)" 0
		# The device the cdev really belongs to is still handed out.
		out=$(ctl_as $UA acquire $DEV_1 --json=short </dev/null 2>/dev/null)
		expect_eq "the real owner of vfio0" "$(jq -r .verified <<<"$out")" true
		local n
		n=$(daemon_wait_fds "$base") || fail "b3 daemon fd count $n, baseline $base (I2)"
		daemon_stop
	else
		fail "ioasidd on the B3 host did not start: $(tail -2 "$DAEMON_LOG" | tr '\n' ' ')"
	fi
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

# ---------------------------------------------------------------------------------------
# C. Protocol framing and SCM_RIGHTS

t_C1_fds_attached() {
	local out
	out=$(raw_as $UA --fds 253 --timeout 3 '{"method":"io.ioasid.Broker.ListLeases"}')
	expect_eq "no success reply" \
		"$(jq -s '[.[] | select(.reply) | select(.reply.error == null)] | length' <<<"$out")" 0
	expect_fds_refused "253 fds" "$out"
	out=$(raw_as $UA --fds 1 --timeout 3 '{"method":"io.ioasid.Broker.ListLeases"}')
	expect_fds_refused "one fd" "$out"
}

t_C2_ctrunc() {
	# The daemon's cmsg buffer holds SCM_MAX_FD (253) fds, the most one sendmsg() can carry,
	# so MSG_CTRUNC cannot be forced from outside (the truncation path itself is covered by
	# the varlink unit test "ctrunc"). What a client can do: a full load of fds with the
	# first bytes of a message that never completes.
	local out
	out=$(raw_as $UA --fds 253 --no-nul --timeout 3 '{"method":"io.ioasid.Broker.List')
	expect_fds_refused "fds with a partial message" "$out"
	expect_eq "no success reply" \
		"$(jq -s '[.[] | select(.reply) | select(.reply.error == null)] | length' <<<"$out")" 0
}

t_C5_fuzz() {
	local big="$WORK/big.json" deep="$WORK/deep.json" out ends
	# > max size without a NUL
	head -c 70000 /dev/zero | tr '\0' ' ' >"$big"
	out=$(raw_as $UA --no-nul --file "$big" --timeout 3)
	expect_closed "oversized" "$out"
	# > max size as one string value
	{ printf '{"method":"io.ioasid.Broker.ListLeases","parameters":{"x":"'
	  head -c 70000 /dev/zero | tr '\0' 'a'; printf '"}}'; } >"$big"
	out=$(raw_as $UA --file "$big" --timeout 3)
	expect_closed "oversized string" "$out"
	# deep nesting
	{ printf '{"method":"io.ioasid.Broker.Acquire","parameters":{"devices":'
	  printf '[%.0s' $(seq 200); printf ']%.0s' $(seq 200); printf '}}'; } >"$deep"
	out=$(raw_as $UA --file "$deep" --timeout 3)
	expect_eq "deep: no success" \
		"$(jq -s '[.[] | select(.reply) | select(.reply.error == null)] | length' <<<"$out")" 0
	# Framing garbage: each must end in an error reply or a disconnect, never success.
	local cases=(
		''
		'{'
		'not json'
		'[1,2,3]'
		'"a string"'
		'42'
		'null'
		'{"method":42}'
		'{"method":"io.ioasid.Broker.Acquire","parameters":[]}'
		'{"method":"io.ioasid.Broker.Acquire","parameters":"x"}'
		'{"method":"io.ioasid.Broker.Acquire","parameters":{"devices":"0000:00:03.0"}}'
		'{"method":"io.ioasid.Broker.Acquire","parameters":{"devices":[42]}}'
		'{"method":"io.ioasid.Broker.Acquire","parameters":{"group":-5}}'
		'{"method":"io.ioasid.Broker.Acquire","parameters":{"group":99999999999999999999999}}'
		'{"method":"io.ioasid.Broker.Acquire","parameters":{"group":1e400}}'
		'{"method":"io.ioasid.Broker.Acquire","parameters":{"pool":"p","count":-1}}'
		'{"method":"io.ioasid.Broker.Acquire","parameters":{"pool":"p","count":4294967297}}'
		'{"method":"io.ioasid.Broker.Acquire","parameters":{"devices":["0000:00:03.0"],"mode":5}}'
		'{"method":"io.ioasid.Broker.Acquire","parameters":{"devices":["0000:00:03.0"],"mode":"root"}}'
		'{"method":"io.ioasid.Broker.Acquire","parameters":{"devices":["../../../etc/passwd"]}}'
		'{"method":"io.ioasid.Broker.Acquire","parameters":{"devices":["0000:00:03.0"],"group":3}}'
		'{"method":"io.ioasid.Broker.Release","parameters":{"lease":{"a":1}}}'
		'{"method":"io.ioasid.Broker.ListLeases","parameters":{},"more":"yes"}'
		'{"method":"io.ioasid.Broker.ListLeases","parameters":{},"extra":1}'
		'{"method":"io.ioasid.Broker.ListLeases"} trailing'
	)
	for c in "${cases[@]}"; do
		out=$(raw_as $UA --timeout 2 --replies 1 "$c")
		expect_eq "case '$c': no success" \
			"$(jq -s '[.[] | select(.reply) | select(.reply.error == null)] | length' <<<"$out")" 0
		expect_eq "case '$c': no fd" "$(jq -s '[.[] | (.fds // 0) + (.strayFds // 0)] | add' <<<"$out")" 0
	done
	# An embedded NUL splits the message: the first part alone is garbage.
	out=$(raw_as $UA --timeout 2 --no-nul "$(printf '{"method":"io.ioasid.Broker.ListLeases"')")
	ends=$(jq -r 'select(.end) | .end' <<<"$out")
	[ "$ends" = timeout ] || [ "$ends" = eof ] || fail "no NUL: ended with '$ends'"
	wait_leases 0
}

# ---------------------------------------------------------------------------------------
# D. Resource exhaustion and slow clients

t_D1_connection_cap() {
	local out
	# uid UA opens 20 connections; the policy caps a uid at 8.
	raw_as $UA --conns 20 --hold 3 >"$WORK/d1.out" &
	local pid=$!
	sleep 1
	out=$(ctl_as $UB acquire $DEV_2 --json=short </dev/null 2>"$WORK/err")
	expect_eq "another uid is served meanwhile" "$(jq -r .verified <<<"$out")" true
	wait $pid
	out=$(cat "$WORK/d1.out")
	local closed refused
	closed=$(jq -r .closed <<<"$out")
	refused=$(jq -r .refused <<<"$out")
	[ $((closed + refused)) -ge 12 ] || fail "cap not enforced: $out"
	[ $((closed + refused)) -le 20 ] || fail "odd count: $out"
}

t_D2_idle() {
	local pol="$WORK/d2.conf" out saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK
	local saved_log=$DAEMON_LOG start end
	{ cat "$POLICY"; echo "idle-timeout 1"; } >"$pol"
	DAEMON_PID=
	if daemon_start d2 "$SAMPLE" "$pol"; then
		start=$(date +%s%N)
		out=$(raw_as $UA --connect-only --timeout 6)
		end=$(date +%s%N)
		expect_eq "closed by the daemon" "$(jq -r 'select(.end) | .end' <<<"$out")" eof
		# Not asserting on time beyond "before our own 6 s give-up".
		[ $(((end - start) / 1000000)) -lt 6000 ] || fail "not closed before 6 s"
		out=$(raw_as $UA --no-nul --timeout 6 '{"method":')
		expect_eq "partial request closed too" "$(jq -r 'select(.end) | .end' <<<"$out")" eof
		daemon_stop
	else
		fail "ioasidd with idle-timeout 1 did not start: $(tail -2 "$DAEMON_LOG")"
	fi
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

t_D4_never_reads() {
	local req="{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":{\"devices\":[\"$DEV_1\"]}}"
	# Three pipelined Acquires, never read; meanwhile another client is served.
	raw_as $UA --no-read --hold 2 "$req" "$req" "$req" >/dev/null &
	local pid=$!
	sleep 0.5
	local out
	out=$(ctl_as $UB acquire $DEV_2 --json=short </dev/null 2>/dev/null)
	expect_eq "other client served" "$(jq -r .verified <<<"$out")" true
	local n
	n=$(lease_count)
	[ "${n:-9}" -le 1 ] || fail "more than one lease for a client that never reads ($n)"
	wait $pid
	wait_leases 0
}

t_D5_close_after_request() {
	local req="{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":{\"devices\":[\"$DEV_1\"]}}"
	for _ in $(seq 10); do
		raw_as $UA --close "$req" >/dev/null
	done
	wait_leases 0
	ctl_as $UB acquire $DEV_1 --json=short </dev/null >/dev/null 2>&1
	expect_eq "device not left leased" "$?" 0
}

t_D5_full_buffer() {
	# Twelve large replies ahead of an Acquire fill the daemon's send buffer and ours (a
	# tiny SO_RCVBUF, and we read only after a second): the fd-bearing reply is sent after
	# EAGAIN, later, with its fds exactly once.
	local big="$WORK/big-host.json" saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK
	local saved_log=$DAEMON_LOG out msgs=()
	gen_host 250 >"$big"
	for _ in $(seq 12); do
		msgs+=('{"method":"io.ioasid.Broker.ListDevices"}')
	done
	msgs+=('{"method":"io.ioasid.Broker.Acquire","parameters":{"devices":["0000:01:00.0"]}}')
	DAEMON_PID=
	if daemon_start d5 "$big" "$POLICY"; then
		out=$(raw_as $UA --rcvbuf 4096 --delay-read 1 --timeout 5 --replies 13 "${msgs[@]}")
		expect_eq "thirteen replies" "$(jq -s '[.[] | select(.reply)] | length' <<<"$out")" 13
		expect_eq "ListDevices complete" \
			"$(jq -s '[.[] | select(.reply)][0].reply.parameters.devices | length' <<<"$out")" 250
		expect_eq "Acquire granted" \
			"$(jq -s -r '[.[] | select(.reply)][12].reply.parameters.lease != null' <<<"$out")" true
		expect_eq "fds exactly once" "$(jq -s '[.[] | (.fds // 0) + (.strayFds // 0)] | add' <<<"$out")" 2
		expect_eq "fds with the Acquire reply" \
			"$(jq -s '[.[] | select(.reply)][12].fds' <<<"$out")" 2
		daemon_stop
	else
		fail "ioasidd on a 250-device host did not start: $(tail -2 "$DAEMON_LOG")"
	fi
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

t_list_devices_large() {
	# A host of 1024 devices: ListDevices must still answer (the reply is far larger than
	# a request may be).
	local big="$WORK/big-host.json" saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK
	local saved_log=$DAEMON_LOG out
	gen_host 1024 >"$big"
	DAEMON_PID=
	if daemon_start big "$big" "$POLICY"; then
		out=$(raw_as $UA --timeout 5 --replies 1 '{"method":"io.ioasid.Broker.ListDevices"}')
		expect_eq "1024 devices listed" \
			"$(jq -s '[.[] | select(.reply)][0].reply.parameters.devices | length' <<<"$out")" 1024
		daemon_stop
	else
		fail "ioasidd on a 1024-device host did not start: $(tail -2 "$DAEMON_LOG")"
	fi
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

t_stage_consume_drop() {
	local id out
	id=$(ctl_as root stage default --for $UA --device $DEV_1 --json=short | jq -r .id)
	expect_match "stage prints an id" "$id" '^[0-9a-f]{32}$'
	expect_eq "stage list shows it" \
		"$(ctl_as root stage list --json=short | jq -r '.[0].id + " " + .[0].owner + " " + .[0].devices[0]')" \
		"$id uid $UA $DEV_1"
	expect_match "stage list (human)" "$(ctl_as root stage list)" "$id +default +attached +uid $UA +$DEV_1"
	ctl_as $UA stage list >/dev/null 2>&1
	expect_eq "a tenant cannot list staged contexts" "$?" 2
	# Ownership is held while staged: another owner is refused, without learning whom for.
	ctl_as $UB acquire $DEV_1 --json=short </dev/null >"$WORK/st.out" 2>"$WORK/st.err"
	expect_eq "another owner refused" "$?" 2
	expect_match "GroupOwned says the group is staged" "$(cat "$WORK/st.err")" \
		"shared with another owner \(staged for another owner\)"
	# The owner's matching Acquire is served from the staged context.
	hold_lease S1 $UA $DEV_1 --mode attached || fail "acquire failed: $(cat "$S1_err")"
	expect_eq "served from the staged context" "$(jq -r .staged "$S1_out")" "$id"
	expect_eq "the lease is the staged context" "$(jq -r .lease "$S1_out")" "$id"
	expect_eq "no longer staged" "$(ctl_as root stage list --json=short | jq length)" 0
	release_lease S1
	expect_eq "holder exit" "$?" 0
	wait_leases 0
	# A cold Acquire says so.
	out=$(ctl_as $UA acquire $DEV_1 --json=short </dev/null 2>/dev/null)
	expect_eq "cold acquire: staged is null" "$(jq -r .staged <<<"$out")" null
	wait_leases 0
	# Drop: the group is free again; dropping twice is an error.
	id=$(ctl_as root stage default --for $UA --device $DEV_2 --mode unbound --json=short | jq -r .id)
	expect_eq "unbound staged" "$(ctl_as root stage list --json=short | jq -r '.[0].mode')" unbound
	expect_eq "drop" "$(ctl_as root stage drop "$id" --json=short | jq -r .state)" dropped
	expect_eq "dropped" "$(ctl_as root stage list --json=short | jq length)" 0
	ctl_as root stage drop "$id" >/dev/null 2>"$WORK/st.err"
	expect_ne "dropping twice fails" "$?" 0
	expect_match "dropping twice" "$(cat "$WORK/st.err")" "No such staged context"
	ctl_as root stage default --device $DEV_2 >/dev/null 2>&1
	expect_eq "stage without --for is a usage error" "$?" 64
	wait_leases 0
}

# A daemon of its own: its policy is rewritten and reloaded.
t_reload_revokes() {
	local saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK saved_log=$DAEMON_LOG
	local pol="$WORK/reload.conf" id sid st=""
	cat >"$pol" <<EOF
admin uid 0
allow uid $UA to any mode attached,unbound group implicit
allow uid $UB to any mode attached,unbound group implicit on-revoke signal
EOF
	DAEMON_PID=
	if ! daemon_start reload "$SAMPLE" "$pol"; then
		fail "ioasidd did not start: $(tail -2 "$DAEMON_LOG")"
		DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
		return
	fi
	hold_lease R1 $UA $DEV_1 || fail "acquire failed: $(cat "$R1_err")"
	id=$(jq -r .lease "$R1_out")
	sid=$(ctl_as root stage default --for $UB --device $DEV_2 --json=short | jq -r .id)
	# A reload keeping both grants changes nothing (Manager.Reload).
	raw_as root --timeout 5 --replies 1 '{"method":"io.ioasid.Manager.Reload"}' >/dev/null
	expect_eq "still active" "$(ctl_as root leases --json=short | jq -r '.[0].state')" active
	expect_eq "still staged" "$(ctl_as root stage list --json=short | jq -r '.[0].id')" "$sid"
	# A reload removing both grants (SIGHUP).
	printf 'admin uid 0\nallow uid 0 to any mode attached,unbound group implicit\n' >"$pol"
	kill -HUP "$DAEMON_PID"
	for _ in $(seq 40); do
		st=$(ctl_as root leases --json=short | jq -r '.[0].state')
		[ "$st" = revoked ] && break
		sleep 0.05
	done
	expect_eq "the lease is revoked by the reload" "$st" revoked
	expect_eq "the staged context is dropped" "$(ctl_as root stage list --json=short | jq length)" 0
	expect_match "revoke audited" "$(grep 'action=revoke ' "$DAEMON_LOG")" \
		"lease=$id reason=\"policy generation 3 no longer allows $DEV_1"
	expect_match "drop audited" "$(grep 'action=drop-staged ' "$DAEMON_LOG")" \
		"lease=$sid reason=\"policy generation 3 no longer allows $DEV_2"
	# The holder still has its fds, so the kernel keeps the device bound: the revoked lease
	# holds its group until they are closed, and says so (to an admin, by name).
	expect_eq "the group stays held by the revoked lease" \
		"$(raw_as root --timeout 5 --replies 1 '{"method":"io.ioasid.Broker.ListGroups"}' |
			jq -r 'select(.reply) | .reply.parameters.groups[] | select(.number == 3) | .owner')" \
		"held by revoked lease $id (uid $UA, pid $R1_pid)"
	release_lease R1
	wait_leases 0
	expect_eq "free once the holder is gone" \
		"$(raw_as root --timeout 5 --replies 1 '{"method":"io.ioasid.Broker.ListGroups"}' |
			jq -r 'select(.reply) | .reply.parameters.groups[] | select(.number == 3) | .owner')" null
	daemon_stop
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

# Memlock: the grant's value is applied to the holder with prlimit and read back from
# /proc/PID/limits. This environment's root lacks CAP_SYS_RESOURCE, and without it prlimit()
# works only on a holder of the daemon's own uid and only up to its hard limit: the holder
# here is root with its soft limit lowered below the grant, the grant within the hard limit.
# A second grant above the hard limit must then come with the "below" warning (or, with
# CAP_SYS_RESOURCE, be applied).
t_memlock() {
	local saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK saved_log=$DAEMON_LOG
	local pol="$WORK/memlock.conf" lim hard soft want
	hard=$(ulimit -H -l)
	soft=$(ulimit -S -l)
	if [ "$hard" = unlimited ] || [ "$hard" -lt 4096 ]; then
		echo "    memlock: hard limit '$hard' KiB: the within-hard-limit case needs 4M..finite"
		hard=0
	fi
	want=$((hard / 2 * 1024))
	cat >"$pol" <<EOF
admin uid 0
allow uid 0 to bdf $DEV_1 mode attached group implicit memlock $want
allow uid 0 to bdf $DEV_2 mode attached group implicit memlock 64G
EOF
	DAEMON_PID=
	if ! daemon_start memlock "$SAMPLE" "$pol"; then
		fail "ioasidd did not start: $(tail -2 "$DAEMON_LOG")"
		DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
		return
	fi
	if [ "$hard" != 0 ]; then
		ulimit -S -l 1024
		hold_lease M1 0 $DEV_1 || fail "acquire failed: $(cat "$M1_err")"
		ulimit -S -l "$soft"
		expect_eq "reply reports the read-back limit" "$(jq -r .memlock "$M1_out")" "$want"
		lim=$(awk '/^Max locked memory/ { print $4 " " $5 }' "/proc/$M1_pid/limits")
		expect_eq "/proc/PID/limits of the holder" "$lim" "$want $((hard * 1024))"
		expect_eq "no memlock warning" \
			"$(jq -r '[.warnings[] | select(test("MEMLOCK"))] | length' "$M1_out")" 0
		release_lease M1
	fi
	hold_lease M2 0 $DEV_2 || fail "acquire failed: $(cat "$M2_err")"
	lim=$(awk '/^Max locked memory/ { print $4 }' "/proc/$M2_pid/limits")
	expect_eq "reply matches /proc/PID/limits" "$(jq -r .memlock "$M2_out")" "$lim"
	if [ "$lim" != 68719476736 ]; then
		expect_match "warns below the grant" "$(jq -r '.warnings[]' "$M2_out")" \
			"is $lim bytes, below the 68719476736 the policy grants"
	fi
	release_lease M2
	# ioasidctl check --for warns when the user's limit is below what the policy grants (on
	# this machine's live devices: the policy allows any).
	if [ -n "$(ls /sys/bus/pci/devices 2>/dev/null)" ]; then
		printf 'allow uid 0 to any memlock 64G\n' >"$WORK/memlock-check.conf"
		ulimit -S -l 1024
		lim=$("$B/ioasidctl" check --for root --config "$WORK/memlock-check.conf" --json=short |
			jq -r '.checks[] | select(.id == "memlock") | .result + " " + .hint')
		ulimit -S -l "$soft"
		expect_match "check --for warns below the grant" "$lim" \
			"^warn 1M for 'root' .*below the 64G the policy grants it .*memlock-check.conf:1"
	fi
	daemon_stop
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

# ---------------------------------------------------------------------------------------
# L. The legacy VFIO path (a kernel without iommufd): tests/hosts/legacy.json, the sample
# guest with no VFIO cdevs; group 5 = bridge + 0000:01:01.0 + 0000:01:02.0 on vfio-pci,
# group 7 = 0000:00:06.0 on vfio-pci + 0000:00:06.1 on a host driver.

t_legacy() {
	local host="$REPO/tests/hosts/legacy.json" out id saved_pid=$DAEMON_PID
	local saved_sock=$DAEMON_SOCK saved_log=$DAEMON_LOG
	DAEMON_PID=
	if ! daemon_start legacy "$host" "$POLICY"; then
		fail "ioasidd on the legacy host did not start: $(tail -2 "$DAEMON_LOG" | tr '\n' ' ')"
		DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
		return
	fi
	local base
	base=$(daemon_fds_settled)

	# The whole group: a container, the group node (every member is leased) and a device fd
	# each, named by the sim for what they are.
	out=$(ctl_as $UA acquire --iommu-group 5 --json=short </dev/null)
	expect_eq "group 5: exit code" "$?" 0
	expect_eq "api" "$(jq -r .api <<<"$out")" legacy
	expect_eq "mode" "$(jq -r .mode <<<"$out")" legacy
	expect_eq "no iommufd, no IOAS" "$(jq -c '[.iommufd, .ioasId]' <<<"$out")" '[null,null]'
	expect_eq "verified" "$(jq -r .verified <<<"$out")" true
	expect_eq "container" "$(jq -r '.container | "\(.kind) \(.name)"' <<<"$out" | sed 's/:[0-9]*$//')" \
		"vfio-container memfd:ioasid-sim:vfio-container"
	expect_eq "group node" "$(jq -r '.groups[] | "\(.group) \(.kind) \(.name)"' <<<"$out")" \
		"5 vfio-group memfd:ioasid-sim:vfio-group:5"
	expect_eq "device fds" "$(jq -r '[.devices[] | "\(.bdf)=\(.name)"] | join(" ")' <<<"$out")" \
		"$DEV_A=memfd:ioasid-sim:vfio-legacy:$DEV_A $DEV_B=memfd:ioasid-sim:vfio-legacy:$DEV_B"
	expect_eq "devices share the group fd" \
		"$(jq '([.devices[].groupFd] | unique) == [.groups[0].fd]' <<<"$out")" true
	expect_eq "all cloexec" \
		"$(jq '[.container.cloexec, .groups[].cloexec, .devices[].cloexec] | all' <<<"$out")" true

	# One device of the group: no group node (it would open the sibling), the sibling at
	# risk, and the group exclusive as on iommufd.
	hold_lease LG $UA $DEV_A || fail "A's legacy acquire failed: $(cat "$LG_err")"
	expect_eq "partial group: no group fd" \
		"$(jq -c '[(.groups | length), .devices[0].groupFd]' "$LG_out")" '[0,null]'
	expect_eq "partial group: sibling at risk" "$(jq -r '.atRisk | join(" ")' "$LG_out")" $DEV_B
	ctl_as $UB acquire $DEV_B --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "B refused for the sibling" "$?" 2
	expect_match "B's reason" "$(cat "$WORK/err")" "IOMMU group 5 is shared with another owner"
	id=$(jq -r .lease "$LG_out")
	expect_eq "revoke says it cannot detach" \
		"$(ctl_as root revoke "$id" --json=short | jq -r .state)" revoked-not-detached
	release_lease LG
	out=$(ctl_as $UB acquire $DEV_B --json=short </dev/null 2>/dev/null)
	expect_eq "B succeeds after A's lease ended" "$(jq -r '.verified' <<<"$out")" true

	# Not viable: a member on a host driver; named, nothing sent.
	out=$(ctl_as $UA acquire 0000:00:06.0 --json=short </dev/null 2>"$WORK/err")
	expect_eq "group 7 refused" "$?" 2
	expect_eq "group 7: nothing on stdout" "$out" ""
	expect_match "group 7 blocker" "$(cat "$WORK/err")" "0000:00:06.1 .*host driver"
	# What legacy cannot serve: unbound mode.
	ctl_as $UA acquire $DEV_1 --mode unbound </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "unbound refused" "$?" 1
	expect_match "unbound reason" "$(cat "$WORK/err")" "unbound mode on legacy VFIO.*EOPNOTSUPP"

	# run: {container} and {group:N} reach the child; {iommufd} does not exist here.
	out=$(ctl_as $UA run --iommu-group 5 -- sh -c \
		'readlink /proc/self/fd/$1 /proc/self/fd/$2 /proc/self/fd/$3' \
		x '{container}' '{group:5}' "{fd:$DEV_B}" 2>/dev/null)
	expect_eq "run: exit code" "$?" 0
	expect_eq "run: the child holds them" \
		"$(sed 's/container:[0-9]*/container:N/' <<<"$out" | tr '\n' ' ')" \
		"/memfd:ioasid-sim:vfio-container:N (deleted) /memfd:ioasid-sim:vfio-group:5 (deleted) /memfd:ioasid-sim:vfio-legacy:$DEV_B (deleted) "
	ctl_as $UA run --iommu-group 5 -- echo '{iommufd}' >/dev/null 2>"$WORK/err"
	expect_eq "run: {iommufd} on legacy is a usage error" "$?" 64
	ctl_as $UA run --device $DEV_A -- echo '{group:5}' >/dev/null 2>"$WORK/err"
	expect_eq "run: {group:N} of a partial group is a usage error" "$?" 64

	wait_leases 0
	local n
	n=$(daemon_wait_fds "$base") || fail "legacy daemon fd count $n, baseline $base (I2)"
	daemon_stop || fail "legacy daemon did not stop cleanly"
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

# A device in PCI domain 10000 (an NVMe behind an Intel VMD, tests/hosts/vmd-laptop.json,
# moved to vfio-pci): Acquire takes its BDF in any accepted spelling, and the reply, the fd
# the sim names after it and the client's check of that fd all carry "10000:e1:00.0"; on a
# legacy host the same through "vfio-legacy:BDF". The policy rule names it padded.
t_vmd_domain() {
	local saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK saved_log=$DAEMON_LOG
	local nvme=10000:e1:00.0 out base n variant kind
	printf '%s\n' "admin uid 0" "allow uid $UA to bdf 00010000:E1:00.0 mode attached,unbound" \
		"deny *" >"$WORK/vmd.conf"
	jq --arg b $nvme '.devices |= map(if .bdf == $b then .driver = "vfio-pci" |
		.vfio = {"name": "vfio0", "dev": "511:0", "noiommu": false} else . end)' \
		"$REPO/tests/hosts/vmd-laptop.json" >"$WORK/vmd.json"
	jq '.kernel.iommufd = false | .kernel.vfio_cdev = false | .devices |= map(.vfio = null)' \
		"$WORK/vmd.json" >"$WORK/vmd-legacy.json"
	for variant in vmd vmd-legacy; do
		DAEMON_PID=
		if ! daemon_start "$variant" "$WORK/$variant.json" "$WORK/vmd.conf"; then
			fail "$variant: ioasidd did not start: $(tail -2 "$DAEMON_LOG" | tr '\n' ' ')"
			continue
		fi
		base=$(daemon_fds_settled)
		out=$(ctl_as $UA acquire 00010000:E1:00.0 --json=short </dev/null 2>"$WORK/err")
		expect_eq "$variant: acquire exit code ($(cat "$WORK/err"))" "$?" 0
		expect_eq "$variant: reply bdf" "$(jq -r '.devices[0].bdf' <<<"$out")" $nvme
		expect_eq "$variant: verified" "$(jq -r .verified <<<"$out")" true
		kind=vfio
		[ $variant = vmd-legacy ] && kind=vfio-legacy
		expect_eq "$variant: device fd" "$(jq -r '.devices[0].name' <<<"$out")" \
			"memfd:ioasid-sim:$kind:$nvme"
		out=$(ctl_as $UA run --device $nvme -- sh -c 'readlink /proc/self/fd/$1' x \
			"{fd:$nvme}" 2>/dev/null)
		expect_eq "$variant: run expands {fd:$nvme}" "$out" \
			"/memfd:ioasid-sim:$kind:$nvme (deleted)"
		ctl_as $UB acquire $nvme --json=short </dev/null >/dev/null 2>&1
		expect_eq "$variant: another uid is denied" "$?" 2
		wait_leases 0
		n=$(daemon_wait_fds "$base") || fail "$variant daemon fd count $n, baseline $base (I2)"
		daemon_stop || fail "$variant daemon did not stop cleanly"
	done
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

# ---------------------------------------------------------------------------------------

echo "integration: ioasidd $(daemon_cmdline HOST POLICY SOCK | cut -d' ' -f2-)"
run_test acquire-attached t_acquire_attached
run_test acquire-unbound t_acquire_unbound
run_test lease-held-listed t_lease_held_and_listed
run_test leases-revoke t_leases_filtered_and_revoke
run_test stage t_stage_consume_drop
run_test reload-revokes t_reload_revokes
run_test memlock t_memlock
run_test run-expands t_run_expands
run_test run-signal t_run_signal
run_test run-holds-lease t_run_holds_lease
run_test run-wrapper-dies t_run_wrapper_dies
run_test acquire-client-passes-fds t_acquire_client_passes_fds
run_test run-fds-from-3 t_run_fds_from_3
run_test A1 t_A1_no_rule
run_test A2 t_A2_peercred_eio
run_test A3 t_A3_client_exits
run_test A5 t_A5_overflow_uid
run_test A10 t_A10_methods
run_test B1 t_B1_group_owned
run_test B2 t_B2_not_viable
run_test B3 t_B3_stale_cdev
run_test C1 t_C1_fds_attached
run_test C2 t_C2_ctrunc
run_test C5 t_C5_fuzz
run_test D1 t_D1_connection_cap
run_test D2 t_D2_idle
run_test D4 t_D4_never_reads
run_test D5-epipe t_D5_close_after_request
run_test D5-eagain t_D5_full_buffer
run_test list-devices-large t_list_devices_large
run_test legacy t_legacy
run_test vmd-domain t_vmd_domain

daemon_stop || { echo "integration: ioasidd did not stop cleanly"; FAILED=$((FAILED + 1)); }
if [ "$(sanitizer_reports)" != "$SAN_SEEN" ]; then
	echo "integration: sanitizer report at ioasidd's exit:"
	grep -h -A5 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK"/*.log | tail -20
	FAILED=$((FAILED + 1))
	FAILED_NAMES+=(sanitizer-at-exit)
fi
echo "integration: $PASSED passed, $FAILED failed${FAILED_NAMES:+ (${FAILED_NAMES[*]})}"
[ "$FAILED" = 0 ]
