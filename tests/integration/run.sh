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
# Audit records (I5: exactly one per decision, with the expected MESSAGE_ID). Without a
# journal the daemon writes each as one line on stderr (its log here):
#   ioasidd: audit: message_id=ID action=A method=M cause="C" uid=U ... reason="R"
# audit_mark starts a test step; expect_audit DESC SPEC... then asserts that the step wrote
# exactly one record per SPEC (in any order) and no other. A SPEC is "key=value|key=value...":
# each named field must equal the value exactly (quoted values without their quotes).
# The MESSAGE_IDs are an interface (journalctl MESSAGE_ID=...): spelled out, not read from
# the code.
MID_ALLOW=5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a01
MID_DENY=5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a02
MID_RELEASE=5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a03
MID_RELOAD=5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a04
MID_SUPPRESSED=5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a06
MID_REVOKE=5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a07
AUDIT_MARK=0
audit_mark() {
	AUDIT_MARK=$(wc -l <"$DAEMON_LOG")
}
audit_lines() {
	tail -n +$((AUDIT_MARK + 1)) "$DAEMON_LOG" | grep '^ioasidd: audit: '
}
# audit_field LINE KEY: the value of KEY in an audit line (empty when absent).
audit_field() {
	local re=" $2=(\"([^\"]*)\"|([^ ]*))"
	if [[ " ${1#ioasidd: audit: }" =~ $re ]]; then
		if [[ ${BASH_REMATCH[1]} == \"* ]]; then
			printf '%s' "${BASH_REMATCH[2]}"
		else
			printf '%s' "${BASH_REMATCH[3]}"
		fi
	fi
}
# audit_matches LINE SPEC: every key=value of SPEC holds for LINE.
audit_matches() {
	local line=$1 kv
	local IFS='|'
	for kv in $2; do
		[ "$(audit_field "$line" "${kv%%=*}")" = "${kv#*=}" ] || return 1
	done
	return 0
}
expect_audit() { # DESC SPEC...
	local desc=$1 n lines=() used=() spec i found
	shift
	# Records of the step may still be on their way (a signal, a holder's exit).
	for _ in $(seq 60); do
		n=$(audit_lines | wc -l)
		[ "$n" -ge $# ] && break
		sleep 0.05
	done
	sleep 0.1
	mapfile -t lines < <(audit_lines)
	[ ${#lines[@]} = $# ] || fail "$desc: ${#lines[@]} audit record(s), expected $#:$(printf '\n      %s' "${lines[@]}")"
	for spec in "$@"; do
		found=
		for i in "${!lines[@]}"; do
			[ -n "${used[$i]:-}" ] && continue
			if audit_matches "${lines[$i]}" "$spec"; then
				used[$i]=1
				found=1
				break
			fi
		done
		[ -n "$found" ] || fail "$desc: no audit record with $spec among:$(printf '\n      %s' "${lines[@]}")"
	done
}

# Lease count through Manager.Status (as root, the admin).
lease_count() {
	ctl_as root status --json=short 2>/dev/null | jq -r '.leases'
}
# Waits for the lease count to be $1: 200 tries 50 ms apart, at least 10 s (generous, so that a
# loaded machine cannot fail a test that passes; a passing wait returns at once).
wait_leases() {
	local n
	for _ in $(seq 200); do
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
	expect_match "ioas_id" "$(jq -r .ioas_id <<<"$out")" '^[0-9]+$'
	expect_match "dev_id" "$(jq -r '.devices[0].dev_id' <<<"$out")" '^[0-9]+$'
	# One key style in the CLI's JSON (ioasidctl(8)): snake_case, whatever the wire says.
	expect_eq "acquire key style" "$(jq -c -f "$REPO/tests/json-key-style.jq" <<<"$out")" "[]"
	wait_leases 0
}

t_acquire_unbound() {
	local out
	out=$(ctl_as $UA acquire $DEV_1 --mode unbound --json=short </dev/null)
	expect_eq "exit code" "$?" 0
	expect_eq "mode" "$(jq -r .mode <<<"$out")" unbound
	expect_eq "ioas_id" "$(jq -r .ioas_id <<<"$out")" null
	expect_eq "dev_id" "$(jq -r '.devices[0].dev_id' <<<"$out")" null
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

# The wire sends the names its IDL declares: each ListGroups group and ListDevices device has
# exactly the fields of the IDL's Group and Device, in order (tests/inspect holds the IDL's
# names against the CLI's). And the group's number is one thing under one name: ListGroups'
# "group" is groups --json's "group" for the same host.
idl_type() { # TYPE: the fields of the Broker's TYPE, space-separated
	sed 's/#.*//' "$REPO/common/io.ioasid.Broker.varlink" |
		awk -v t="$1" '$0 ~ "^type " t " *\\(" { on = 1 } on { print } on && /\)/ { exit }' |
		grep -o '[A-Za-z_][A-Za-z0-9_]*[[:space:]]*:' | tr -d ' \t:' | paste -sd' '
}
t_wire_names() {
	local out
	out=$(raw_as root --timeout 5 --replies 1 '{"method":"io.ioasid.Broker.ListGroups"}')
	expect_eq "ListGroups: the IDL's Group fields" \
		"$(jq -r 'select(.reply) | .reply.parameters.groups[] | keys_unsorted | join(" ")' <<<"$out" |
			sort -u)" "$(idl_type Group)"
	expect_eq "ListGroups and groups --json: the same group numbers" \
		"$(jq -c 'select(.reply) | [.reply.parameters.groups[].group] | sort' <<<"$out")" \
		"$("$B/ioasidctl" --host "$SAMPLE" --json=short groups | jq -c '[.groups[].group] | sort')"
	expect_eq "ListGroups and groups --json: the same members" \
		"$(jq -c 'select(.reply) | [.reply.parameters.groups[] | {group, devices}] | sort' <<<"$out")" \
		"$("$B/ioasidctl" --host "$SAMPLE" --json=short groups |
			jq -c '[.groups[] | {group, devices: [.devices[].bdf]}] | sort')"
	out=$(raw_as root --timeout 5 --replies 1 '{"method":"io.ioasid.Broker.ListDevices"}')
	expect_eq "ListDevices: the IDL's Device fields" \
		"$(jq -r 'select(.reply) | .reply.parameters.devices[] | keys_unsorted | join(" ")' <<<"$out" |
			sort -u)" "$(idl_type Device)"
	# A lease: ListLeases sends the IDL's Lease, and leases --json prints the same fields
	# under the same names, turned snake_case.
	hold_lease WN $UA $DEV_1 || fail "acquire exited early: $(cat "$WN_err")"
	out=$(raw_as root --timeout 5 --replies 1 '{"method":"io.ioasid.Broker.ListLeases"}')
	expect_eq "ListLeases: the IDL's Lease fields" \
		"$(jq -r 'select(.reply) | .reply.parameters.leases[] | keys_unsorted | join(" ")' <<<"$out")" \
		"$(idl_type Lease)"
	expect_eq "leases --json: the wire's Lease fields, snake_case" \
		"$(ctl_as root leases --json=short | jq -r '.[] | keys_unsorted | join(" ")')" \
		"$(idl_type Lease | sed -E 's/([A-Z])/_\L\1/g')"
	release_lease WN
	wait_leases 0
}

t_leases_filtered_and_revoke() {
	hold_lease L2 $UA $DEV_1 || fail "acquire exited early: $(cat "$L2_err")"
	local id
	id=$(jq -r .lease "$L2_out")
	expect_eq "the holder sees its lease" \
		"$(ctl_as $UA leases --json=short | jq -r '.[].id')" "$id"
	expect_eq "another tenant does not" "$(ctl_as $UB leases --json=short | jq length)" 0
	expect_eq "leases key style" \
		"$(ctl_as root leases --json=short | jq -c -f "$REPO/tests/json-key-style.jq")" "[]"
	expect_eq "status key style" \
		"$(ctl_as root status --json=short | jq -c -f "$REPO/tests/json-key-style.jq")" "[]"
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
		jq -r --argjson g "$1" 'select(.reply) | .reply.parameters.groups[] | select(.group == $g) | .owner'
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
	audit_mark
	out=$(ctl_as $UX acquire $DEV_1 --json=short </dev/null 2>"$WORK/err")
	rc=$?
	err=$(cat "$WORK/err")
	expect_eq "exit code" "$rc" 2
	expect_eq "stdout" "$out" ""
	expect_match "message" "$err" "Permission denied for $DEV_1 \\(IOMMU group 3\\): no rule matched"
	out=$(raw_as $UX --replies 1 --timeout 2 \
		"{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":{\"devices\":[\"$DEV_1\"]}}")
	expect_eq "error" "$(jq -r 'select(.reply) | .reply.error' <<<"$out")" \
		io.ioasid.Broker.PermissionDenied
	expect_eq "no fd (I3)" "$(jq -s '[.[] | (.fds // 0) + (.strayFds // 0)] | add' <<<"$out")" 0
	# One deny record per request (I5), naming the uid, the device and the default deny.
	local deny="message_id=$MID_DENY|action=deny|method=io.ioasid.Broker.Acquire|uid=$UX|\
device=$DEV_1|rule=default|error=io.ioasid.Broker.PermissionDenied"
	expect_audit "deny records" "$deny" "$deny"
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
			[[ "$err" =~ ^io\.ioasid\.Broker\.(PermissionDenied|NoSuchLease)$ ]] ||
				fail "$m as an unauthorized uid: got '${err:-no reply}'"
			;;
		*)
			[[ "$err" =~ ^io\.ioasid\.(Broker|Manager)\.PermissionDenied$ ]] ||
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
	expect_eq "A's lease at risk" "$(jq -r '.at_risk | index("'$DEV_B'") != null' "$HA_out")" true
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
	expect_match "stage list (human)" "$(ctl_as root stage list)" \
		"$id +default +attached +uid $UA +in (9m5[0-9]s|10m00s) +$DEV_1"
	expect_eq "expires after the default stage-timeout (600 s)" \
		"$(ctl_as root stage list --json=short | jq -r '.[0].expires - .[0].created')" 600
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

# Staging against the owner's policy, with a daemon of its own:
#   - the owner's Acquire naming no mode takes a context staged in unbound mode; naming
#     another mode it is told what is staged for it (not "shared with another owner");
#   - Stage for an owner the policy would not give the device is refused, naming the device
#     and the rule; an unknown user is named as such;
#   - staged contexts expire (--expire, else stage-timeout), audited, the group freed.
t_stage_owner() {
	local saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK saved_log=$DAEMON_LOG
	local pol="$WORK/stage.conf" id out base n
	printf '%s\n' "admin uid 0" "stage-timeout 3" "deny uid $UX" \
		"allow uid $UA to any mode attached,unbound group implicit" \
		"allow uid $UB to any mode attached group implicit" >"$pol"
	DAEMON_PID=
	if ! daemon_start stage "$SAMPLE" "$pol"; then
		fail "ioasidd did not start: $(tail -2 "$DAEMON_LOG")"
		DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
		return
	fi
	base=$(daemon_fds_settled)
	# Staged unbound, acquired without --mode: served, in unbound mode.
	id=$(ctl_as root stage default --for $UA --device $DEV_2 --mode unbound --json=short | jq -r .id)
	out=$(ctl_as $UA acquire $DEV_2 --json=short </dev/null 2>"$WORK/err")
	expect_eq "no --mode: served from the staged context ($(cat "$WORK/err"))" \
		"$(jq -r .staged <<<"$out")" "$id"
	expect_eq "in the staged mode" "$(jq -r .mode <<<"$out")" unbound
	wait_leases 0
	# Asking for the other mode: told what is staged for her.
	id=$(ctl_as root stage default --for $UA --device $DEV_2 --mode unbound --json=short | jq -r .id)
	ctl_as $UA acquire $DEV_2 --mode attached --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "other mode refused" "$?" 2
	expect_eq "the refusal says what is staged for her" "$(cat "$WORK/err")" \
		"ioasidctl: $DEV_2 (IOMMU group 4): device busy: a context is staged for you in unbound mode (staged context $id): acquire it with mode 'unbound'"
	ctl_as root stage drop "$id" >/dev/null
	# An owner the policy denies, a mode the owner's rule does not grant, an unknown user.
	ctl_as root stage default --for $UX --device $DEV_1 >/dev/null 2>"$WORK/err"
	expect_eq "stage for a denied owner" "$?" 2
	expect_eq "names the device and the deny rule" "$(cat "$WORK/err")" \
		"ioasidctl: The policy would not give $DEV_1 to owner 'uid $UX': denied by rule at $pol:3"
	ctl_as root stage default --for $UB --device $DEV_1 --mode unbound >/dev/null 2>"$WORK/err"
	expect_eq "stage in a mode the owner's rule does not grant" "$?" 2
	expect_eq "names the rule" "$(cat "$WORK/err")" \
		"ioasidctl: The policy would not give $DEV_1 to owner 'uid $UB': mode 'unbound' not granted by rule at $pol:5"
	ctl_as root stage default --for nosuchuser --device $DEV_1 >/dev/null 2>"$WORK/err"
	expect_eq "unknown user" "$(cat "$WORK/err")" "ioasidctl: No such user 'nosuchuser'"
	expect_eq "nothing staged" "$(ctl_as root stage list --json=short | jq length)" 0
	# Expiry: --expire 1, and the policy's stage-timeout (3 s here) without it.
	id=$(ctl_as root stage default --for $UB --device $DEV_1 --expire 1 --json=short | jq -r .id)
	expect_eq "expires in 1 s" "$(ctl_as root stage list --json=short | jq -r '.[0].expires - .[0].created')" 1
	ctl_as $UA acquire $DEV_1 --json=short </dev/null >/dev/null 2>&1
	expect_eq "held while staged" "$?" 2
	for _ in $(seq 60); do
		[ "$(ctl_as root stage list --json=short | jq length)" = 0 ] && break
		sleep 0.05
	done
	expect_eq "expired" "$(ctl_as root stage list --json=short | jq length)" 0
	expect_match "the expiry is audited" "$(grep 'action=drop-staged ' "$DAEMON_LOG")" \
		"lease=$id reason=\"staged context expired: not acquired within 1 s\""
	out=$(ctl_as $UA acquire $DEV_1 --json=short </dev/null 2>"$WORK/err")
	expect_eq "the group is free again ($(cat "$WORK/err"))" "$(jq -r '.devices[0].bdf' <<<"$out")" $DEV_1
	ctl_as root stage default --for $UB --device $DEV_1 --json=short >/dev/null
	id=$(ctl_as root stage list --json=short | jq -r '.[0].id')
	expect_eq "stage-timeout from the policy" \
		"$(ctl_as root stage list --json=short | jq -r '.[0].expires - .[0].created')" 3
	# Dropped rather than left to expire: a wait for a 3 s expiry races a loaded machine.
	ctl_as root stage drop "$id" >/dev/null
	ctl_as root stage default --for $UB --device $DEV_2 --expire 0 >/dev/null 2>&1
	expect_eq "--expire 0 is a usage error" "$?" 64
	wait_leases 0
	n=$(daemon_wait_fds "$base") || fail "daemon fd count $n, baseline $base (I2)"
	daemon_stop || fail "ioasidd did not stop cleanly"
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
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
			jq -r 'select(.reply) | .reply.parameters.groups[] | select(.group == 3) | .owner')" \
		"held by revoked lease $id (uid $UA, pid $R1_pid)"
	release_lease R1
	wait_leases 0
	expect_eq "free once the holder is gone" \
		"$(raw_as root --timeout 5 --replies 1 '{"method":"io.ioasid.Broker.ListGroups"}' |
			jq -r 'select(.reply) | .reply.parameters.groups[] | select(.group == 3) | .owner')" null
	daemon_stop
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

# ---------------------------------------------------------------------------------------
# ioasidctl monitor: a tenant sees its own leases' events and not another tenant's; an admin
# sees all, revocations and reloads included; SIGINT ends it cleanly; a daemon that stops is
# reported (exit 69). Device events need a live host (udev): tests/live drives them on a
# umockdev bed (monitor-bed.py), tests/vm HOT on the real kernel.

# mon_wait FILE PATTERN: waits (bounded) until FILE has a line matching PATTERN.
mon_wait() {
	for _ in $(seq 100); do
		grep -q -E -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "no line matching '$2' in $(basename "$1"): $(tr '\n' '|' <"$1")"
	return 1
}

t_monitor() {
	local saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK saved_log=$DAEMON_LOG
	local pol="$WORK/monitor.conf" ia ia1 ib ma mb mr rc f
	cat >"$pol" <<EOF
admin uid 0
allow uid $UA to any mode attached,unbound group implicit
allow uid $UB to any mode attached,unbound group implicit
EOF
	DAEMON_PID=
	if ! daemon_start monitor "$SAMPLE" "$pol"; then
		fail "ioasidd did not start: $(tail -2 "$DAEMON_LOG")"
		DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
		return
	fi
	ctl_bg $UA monitor --json >"$WORK/mon-a.out" 2>"$WORK/mon-a.err" &
	ma=$!
	ctl_bg $UB monitor >"$WORK/mon-b.out" 2>"$WORK/mon-b.err" &
	mb=$!
	ctl_bg root monitor --json >"$WORK/mon-r.out" 2>"$WORK/mon-r.err" &
	mr=$!
	for f in a b r; do mon_wait "$WORK/mon-$f.err" '^Monitoring' || break; done

	hold_lease M1 $UA $DEV_1 || fail "acquire failed: $(cat "$M1_err")"
	ia1=$(jq -r .lease "$M1_out")
	hold_lease M2 $UB $DEV_2 || fail "acquire failed: $(cat "$M2_err")"
	ib=$(jq -r .lease "$M2_out")
	mon_wait "$WORK/mon-a.out" "\"lease-acquired\".*\"$ia1\""
	mon_wait "$WORK/mon-b.out" "^lease-acquired lease=$ib bdf=$DEV_2\$"
	mon_wait "$WORK/mon-r.out" "\"lease-acquired\".*\"$ib\""
	# B's holder killed: that lease ends, it is not released; A's lease released by its
	# holder (after B's: B's holder inherited the write end of A's fifo).
	kill -KILL "$M2_pid"
	wait "$M2_pid" 2>/dev/null
	release_lease M1
	wait_leases 0
	mon_wait "$WORK/mon-a.out" "\"lease-released\".*\"$ia1\""
	mon_wait "$WORK/mon-b.out" "^lease-ended lease=$ib bdf=$DEV_2 cause=client-gone\$"
	mon_wait "$WORK/mon-r.out" "\"lease-ended\".*\"$ib\""
	expect_eq "the admin sees A's lease begin and be released" \
		"$(jq -r --arg id "$ia1" 'select(.lease == $id) | .event' "$WORK/mon-r.out" |
			tr '\n' ' ')" "lease-acquired lease-released "
	expect_eq "the admin sees B's lease end, with its cause" \
		"$(jq -c --arg id "$ib" 'select(.event == "lease-ended" and .lease == $id)' \
			"$WORK/mon-r.out")" \
		"$(jq -nc --arg b "$DEV_2" --arg l "$ib" \
			'{event: "lease-ended", bdf: $b, lease: $l, cause: "client-gone"}')"

	# A revocation: A sees its own, as does the admin.
	hold_lease M3 $UA $DEV_1 || fail "acquire failed: $(cat "$M3_err")"
	ia=$(jq -r .lease "$M3_out")
	ctl_as root revoke "$ia" >/dev/null
	mon_wait "$WORK/mon-a.out" "\"lease-revoked\".*\"$ia\""
	mon_wait "$WORK/mon-r.out" "\"lease-revoked\".*\"$ia\""
	expect_eq "the revocation's cause" \
		"$(jq -r --arg id "$ia" \
			'select(.event == "lease-revoked" and .lease == $id) | .cause' \
			"$WORK/mon-r.out")" "revoked by an admin"
	release_lease M3
	wait_leases 0

	# A reload: every subscriber learns the new generation.
	raw_as root --timeout 5 --replies 1 '{"method":"io.ioasid.Manager.Reload"}' >/dev/null
	mon_wait "$WORK/mon-a.out" '"policy-reloaded".*"generation":2'
	mon_wait "$WORK/mon-b.out" '^policy-reloaded generation=2$'
	mon_wait "$WORK/mon-r.out" '"policy-reloaded".*"generation":2'

	# A saw only its own leases, B only its own.
	expect_eq "A sees only its own leases" \
		"$(jq -r 'select(.lease) | .lease' "$WORK/mon-a.out" | sort -u | tr '\n' ' ')" \
		"$(printf '%s\n' "$ia1" "$ia" | sort -u | tr '\n' ' ')"
	expect_eq "B sees only its own lease" \
		"$(grep -o 'lease=[^ ]*' "$WORK/mon-b.out" | sort -u)" "lease=$ib"
	expect_eq "each JSON line is one object" "$(jq -c . "$WORK/mon-a.out" | wc -l)" \
		"$(wc -l <"$WORK/mon-a.out")"

	# SIGINT and SIGTERM end a monitor cleanly.
	kill -INT "$ma"
	wait "$ma"
	expect_eq "SIGINT: exit 0" "$?" 0
	expect_match "SIGINT: says it stopped" "$(cat "$WORK/mon-a.err")" \
		"Monitor stopped \(SIGINT\)"
	kill -TERM "$mb"
	wait "$mb"
	expect_eq "SIGTERM: exit 0" "$?" 0

	# The daemon stops: the admin's monitor says so and fails.
	daemon_stop
	wait "$mr"
	rc=$?
	expect_eq "daemon gone: exit 69" "$rc" 69
	expect_match "daemon gone: said" "$(cat "$WORK/mon-r.err")" \
		"ioasidd closed the connection \(it stopped or is restarting\)"
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
# Audit (I5): one record per decision and per state change, its MESSAGE_ID, action and
# fields what really happened. Each test runs a daemon of its own so that only its records
# are in its log.

# side_start NAME POLICYFILE: a daemon of the test's own on the sample host (the main one is
# restored by side_end). Returns non-zero (after fail) when it does not start.
side_start() {
	SIDE_SAVED=("$DAEMON_PID" "$DAEMON_SOCK" "$DAEMON_LOG")
	DAEMON_PID=
	if ! daemon_start "$1" "$SAMPLE" "$2"; then
		fail "ioasidd ($1) did not start: $(tail -2 "$DAEMON_LOG" | tr '\n' ' ')"
		side_end
		return 1
	fi
}
side_end() {
	[ -n "$DAEMON_PID" ] && { daemon_stop || fail "ioasidd did not stop cleanly"; }
	DAEMON_PID=${SIDE_SAVED[0]} DAEMON_SOCK=${SIDE_SAVED[1]} DAEMON_LOG=${SIDE_SAVED[2]}
}

t_audit_acquire_release() {
	local pol="$WORK/audit.conf" id out
	printf '%s\n' "admin uid 0" "allow uid $UA to any mode attached,unbound group implicit" \
		"allow uid $UB to any mode attached,unbound group implicit" >"$pol"
	side_start audit "$pol" || return
	# Allowed: one allow record, once the fds are delivered, naming the lease.
	audit_mark
	hold_lease AA $UA $DEV_A || fail "A's acquire failed: $(cat "$AA_err")"
	id=$(jq -r .lease "$AA_out")
	expect_audit "allow" "message_id=$MID_ALLOW|action=allow|method=io.ioasid.Broker.Acquire|\
cause=request|uid=$UA|device=$DEV_A|rule=$pol:2|generation=1|lease=$id|error=-"
	# No rule: one deny.
	audit_mark
	ctl_as $UX acquire $DEV_1 --json=short </dev/null >/dev/null 2>&1
	expect_eq "no rule: refused" "$?" 2
	expect_audit "deny (no rule)" "message_id=$MID_DENY|action=deny|\
method=io.ioasid.Broker.Acquire|cause=request|uid=$UX|device=$DEV_1|rule=default|\
error=io.ioasid.Broker.PermissionDenied|lease=-|reason=no rule matched (default deny)"
	# The policy allows B, the group does not: one deny, no allow.
	audit_mark
	ctl_as $UB acquire $DEV_B --json=short </dev/null >/dev/null 2>&1
	expect_eq "group owned: refused" "$?" 2
	expect_audit "deny after the policy allowed (group owned)" "message_id=$MID_DENY|\
action=deny|uid=$UB|device=$DEV_B|rule=$pol:3|error=io.ioasid.Broker.GroupOwned|lease=-"
	# Release of another tenant's real lease id: NoSuchLease, the lease stays; one deny.
	audit_mark
	out=$(raw_as $UB --replies 1 --timeout 2 \
		"{\"method\":\"io.ioasid.Broker.Release\",\"parameters\":{\"lease\":\"$id\"}}")
	expect_eq "B releasing A's lease" "$(jq -r 'select(.reply) | .reply.error' <<<"$out")" \
		io.ioasid.Broker.NoSuchLease
	expect_eq "A's lease still listed" "$(ctl_as root leases --json=short | jq -r '.[].id')" "$id"
	expect_eq "A's lease still holds the group" \
		"$(ctl_as $UB acquire $DEV_B --json=short </dev/null >/dev/null 2>&1; echo $?)" 2
	expect_audit "release of another's lease" \
		"message_id=$MID_DENY|action=deny|method=io.ioasid.Broker.Release|uid=$UB|\
reason=no admin rule matched" \
		"message_id=$MID_DENY|action=deny|uid=$UB|device=$DEV_B|error=io.ioasid.Broker.GroupOwned"
	# The holder's Release: one release record.
	audit_mark
	release_lease AA
	expect_eq "A's release" "$?" 0
	expect_audit "release" "message_id=$MID_RELEASE|action=release|\
method=io.ioasid.Broker.Release|cause=request|uid=$UA|lease=$id|device=$DEV_A|rule=$pol:2"
	side_end
}

t_audit_admin() {
	local pol="$WORK/audit-admin.conf" ia ib ic id
	printf '%s\n' "admin uid 0" "allow uid $UA to any mode attached,unbound group implicit" \
		"allow uid $UB to any mode attached,unbound group implicit" >"$pol"
	side_start audit-admin "$pol" || return
	# Revoke by an admin: the admin's call (allowed), then the holder's lease revoked,
	# naming the admin as the cause.
	hold_lease RA $UA $DEV_1 || fail "acquire failed: $(cat "$RA_err")"
	ia=$(jq -r .lease "$RA_out")
	audit_mark
	expect_eq "revoke" "$(ctl_as root revoke "$ia" --json=short | jq -r .state)" revoked
	expect_audit "revoke by an admin" \
		"message_id=$MID_ALLOW|action=allow|method=io.ioasid.Manager.Revoke|cause=request|\
uid=0|rule=$pol:1" \
		"message_id=$MID_REVOKE|action=revoke|method=io.ioasid.Manager.Revoke|\
cause=revoke by uid 0|uid=$UA|lease=$ia|device=$DEV_1|generation=1"
	release_lease RA
	# Reload by an admin's call: the reload names the caller.
	audit_mark
	raw_as root --timeout 5 --replies 1 '{"method":"io.ioasid.Manager.Reload"}' >/dev/null
	expect_audit "Manager.Reload" \
		"message_id=$MID_ALLOW|action=allow|method=io.ioasid.Manager.Reload|uid=0" \
		"message_id=$MID_RELOAD|action=reload|method=io.ioasid.Manager.Reload|\
cause=request|uid=0|generation=2"
	# Reload by SIGHUP that revokes B's lease: the reload names the signal and its sender,
	# the revocation names the reload and its generation (not a Revoke call).
	hold_lease RB $UB $DEV_2 || fail "acquire failed: $(cat "$RB_err")"
	ib=$(jq -r .lease "$RB_out")
	printf '%s\n' "admin uid 0" "allow uid $UA to any mode attached,unbound group implicit" >"$pol"
	audit_mark
	kill -HUP "$DAEMON_PID"
	expect_audit "SIGHUP reload revoking a lease" \
		"message_id=$MID_RELOAD|action=reload|method=-|cause=signal SIGHUP|uid=0|\
pid=$BASHPID|generation=3" \
		"message_id=$MID_REVOKE|action=revoke|method=-|cause=reload|uid=$UB|lease=$ib|\
device=$DEV_2|generation=3"
	release_lease RB
	# Shutdown by SIGTERM with two leases held (connection and process lifetime): one record
	# per lease ended.
	hold_lease RC $UA $DEV_1 || fail "acquire failed: $(cat "$RC_err")"
	hold_lease RD $UA $DEV_2 --lifetime process || fail "acquire failed: $(cat "$RD_err")"
	ic=$(jq -r .lease "$RC_out")
	id=$(jq -r .lease "$RD_out")
	audit_mark
	daemon_stop || fail "ioasidd did not stop cleanly"
	expect_audit "SIGTERM with two leases" \
		"message_id=$MID_RELEASE|action=release|method=-|cause=shutdown|uid=$UA|lease=$ic|\
device=$DEV_1|reason=daemon stopping: signal SIGTERM from uid 0 pid $BASHPID" \
		"message_id=$MID_RELEASE|action=release|method=-|cause=shutdown|uid=$UA|lease=$id|\
device=$DEV_2"
	release_lease RC
	release_lease RD
	side_end
}

t_audit_flood() {
	local pol="$WORK/audit-flood.conf" msgs=() out
	printf '%s\n' "admin uid 0" "allow uid $UA to any mode attached,unbound group implicit" >"$pol"
	side_start audit-flood "$pol" || return
	# A uid with no rule floods denials (more than any global budget would let through)...
	for _ in $(seq 250); do
		msgs+=("{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":{\"devices\":[\"$DEV_1\"]}}")
	done
	audit_mark
	out=$(raw_as $UX --timeout 10 --replies 250 "${msgs[@]}")
	expect_eq "250 denials" \
		"$(jq -s '[.[] | select(.reply.error == "io.ioasid.Broker.PermissionDenied")] | length' <<<"$out")" 250
	# ...and another tenant's allow and release are written all the same.
	ctl_as $UA acquire $DEV_1 --json=short </dev/null >/dev/null
	expect_eq "A's acquire" "$?" 0
	expect_eq "the flooder's records: its budget (20)" \
		"$(audit_lines | grep -c "action=deny .* uid=$UX ")" 20
	expect_eq "A's allow written" "$(audit_lines | grep -c "action=allow .* uid=$UA ")" 1
	expect_eq "A's release written" "$(audit_lines | grep -c "action=release .* uid=$UA ")" 1
	# The summary names the uid and the count (written at exit at the latest).
	audit_mark
	daemon_stop || fail "ioasidd did not stop cleanly"
	expect_audit "summary" "message_id=$MID_SUPPRESSED|action=suppressed|uid=$UX|suppressed=230"
	side_end
}

# uid 4294967294 (the largest a policy can name) is printed unsigned everywhere: ListLeases,
# ioasidctl leases (JSON and table), the group's owner, the refusal naming the owner, audit.
t_audit_big_uid() {
	local pol="$WORK/audit-uid.conf" big=4294967294 id out
	printf '%s\n' "admin uid 0" "allow uid $big to any mode attached,unbound group implicit" >"$pol"
	side_start audit-uid "$pol" || return
	audit_mark
	hold_lease BU $big $DEV_A || fail "acquire as uid $big failed: $(cat "$BU_err")"
	id=$(jq -r .lease "$BU_out")
	expect_audit "allow" "message_id=$MID_ALLOW|action=allow|uid=$big|lease=$id"
	out=$(raw_as root --timeout 2 --replies 1 '{"method":"io.ioasid.Broker.ListLeases"}')
	expect_eq "ListLeases uid" "$(jq -r 'select(.reply) | .reply.parameters.leases[0].uid' <<<"$out")" $big
	expect_eq "ioasidctl leases --json" "$(ctl_as root leases --json=short | jq -r '.[0].uid')" $big
	expect_eq "ioasidctl leases as the holder" "$(ctl_as $big leases --json=short | jq -r '.[0].uid')" $big
	expect_match "ioasidctl leases table" "$(ctl_as root leases)" "$id +$big "
	out=$(raw_as root --timeout 2 --replies 1 '{"method":"io.ioasid.Broker.ListGroups"}')
	expect_eq "ListGroups owner" \
		"$(jq -r 'select(.reply) | .reply.parameters.groups[] | select(.group == 5) | .owner' <<<"$out")" \
		"uid:$big"
	ctl_as $big acquire $DEV_B --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_match "the owner named in a refusal" "$(cat "$WORK/err")" "uid:$big \\(lease $id\\)"
	audit_mark
	release_lease BU
	expect_audit "release" "message_id=$MID_RELEASE|action=release|uid=$big|lease=$id"
	side_end
}

# A refusal after the policy allowed: a process-lifetime grant on a kernel without
# SO_PEERPIDFD (the shim plays one). One deny naming the rule, no allow.
t_audit_no_pidfd() {
	local pol="$WORK/audit-nopidfd.conf" count="$WORK/nopidfd.count"
	printf '%s\n' "admin uid 0" "allow uid $UA to any mode attached group implicit lifetime process" >"$pol"
	DAEMON_ENV="LD_PRELOAD=$B/peercred-eio PEERCRED_SHIM=nopidfd PEERCRED_EIO_COUNT=$count"
	DAEMON_ENV+=" ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	rm -f "$count"
	side_start audit-nopidfd "$pol" || { DAEMON_ENV=; return; }
	DAEMON_ENV=
	expect_match "shim exercised (startup probe)" "$(cat "$count" 2>/dev/null)" x
	audit_mark
	ctl_as $UA acquire $DEV_1 --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "refused" "$?" 2
	expect_match "reason" "$(cat "$WORK/err")" "SO_PEERPIDFD"
	expect_audit "deny after the policy allowed (no pidfd)" "message_id=$MID_DENY|action=deny|\
uid=$UA|device=$DEV_1|rule=$pol:2|error=io.ioasid.Broker.PermissionDenied|\
reason=process lifetime needs SO_PEERPIDFD"
	side_end
}

# ---------------------------------------------------------------------------------------
# U. Unit identity as systemd sees it. A daemon of its own runs in a private cgroup namespace
# rooted at a scratch cgroup, so the cgroups its clients are moved into (real cgroups, before
# they connect) read to it exactly as on a host: /system.slice/libvirtd.service, or
# /user.slice/user-UID.slice/user@UID.service/... for whatever a user's own manager runs
# (`systemd-run --user --unit=libvirtd.service`, rootless podman's libpod scopes).

# The cgroup2 mount: /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified (hybrid).
cg2_mount() {
	local m
	for m in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		[ "$(stat -f -c %T "$m" 2>/dev/null)" = cgroup2fs ] && { echo "$m"; return 0; }
	done
	return 1
}

# in_cgroup DIR CMD...: CMD in the cgroup DIR (created), from a subshell that moved there.
in_cgroup() {
	local dir=$1
	shift
	(mkdir -p "$dir" && echo $BASHPID >"$dir/cgroup.procs" || exit 99; "$@")
}

# unit_case NAME CGROUP UID DEVICE WANT UNIT: Acquire from CGROUP (as the daemon sees it) as
# UID: exit code WANT (0 allowed, 2 denied), the same verdict from `policy explain --cgroup`
# (the daemon's derivation, in the CLI), and an audit record naming the system unit UNIT.
unit_case() { # name cgroup uid device exit unit [rule-suffix: the deciding rule's ":LINE"]
	local name=$1 cg=$2 uid=$3 dev=$4 want=$5 unit=$6 line=${7:-} rc action=allow
	in_cgroup "$CGROUP_SCRATCH$cg" ctl_as "$uid" acquire "$dev" --json=short \
		</dev/null >"$WORK/u.out" 2>"$WORK/u.err"
	rc=$?
	expect_eq "$name: acquire" "$rc" "$want"
	[ "$want" = 2 ] && expect_match "$name: refusal" "$(cat "$WORK/u.err")" "Permission denied"
	"$B/ioasidctl" policy explain --config "$UNIT_POLICY" --host "$SAMPLE" --user "$uid" \
		--cgroup "$cg" --device "$dev" >"$WORK/u.explain" 2>&1
	expect_eq "$name: policy explain --cgroup agrees" "$?" "$want"
	[ "$want" = 2 ] && action=deny
	expect_match "$name: audit record" \
		"$(grep -E "action=(allow|deny) .* uid=$uid " "$DAEMON_LOG" | tail -1)" \
		"action=$action .* unit=$unit device=$dev"
	[ -z "$line" ] || expect_match "$name: the deciding rule" \
		"$(grep -E "action=allow .* uid=$uid " "$DAEMON_LOG" | tail -1)" "rule=[^ ]*$line "
}

# cg_scratch: a scratch cgroup CGROUP_SCRATCH below the cgroup2 mount CGROUP_MNT (and the
# trees of killed runs removed). 1, having said SKIPPED and why, when there can be none.
cg_scratch() {
	local d
	CGROUP_MNT=$(cg2_mount) || { echo "    SKIPPED: no cgroup2 mount"; return 1; }
	command -v unshare >/dev/null || { echo "    SKIPPED: unshare is not installed"; return 1; }
	for d in "$CGROUP_MNT"/ioasid-it-*; do
		[ -d "$d" ] && ! kill -0 "${d##*-}" 2>/dev/null &&
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	CGROUP_SCRATCH="$CGROUP_MNT/ioasid-it-$$"
	if ! mkdir "$CGROUP_SCRATCH" 2>/dev/null; then
		echo "    SKIPPED: cannot create the scratch cgroup $CGROUP_SCRATCH"
		CGROUP_SCRATCH=
		return 1
	fi
}

# cg_scratch_remove: every process has left: the cgroups go, deepest first.
cg_scratch_remove() {
	find "$CGROUP_SCRATCH" -depth -type d -exec rmdir {} + 2>/dev/null
	[ -e "$CGROUP_SCRATCH" ] && fail "scratch cgroup $CGROUP_SCRATCH left behind"
	CGROUP_SCRATCH=
}

# cg_daemon_start NAME POLICY [WRAP...]: daemon_start from the scratch cgroup, in a cgroup
# namespace of its own rooted there (under WRAP..., run by unshare). 1 after fail.
cg_daemon_start() {
	local name=$1 policy=$2 orig rc
	shift 2
	orig=$(sed -n 's/^0:://p' /proc/$BASHPID/cgroup)
	DAEMON_PID=
	echo $BASHPID >"$CGROUP_SCRATCH/cgroup.procs"
	DAEMON_WRAP="unshare --cgroup $*"
	daemon_start "$name" "$SAMPLE" "$policy"
	rc=$?
	DAEMON_WRAP=
	echo $BASHPID >"$CGROUP_MNT$orig/cgroup.procs"
	if [ $rc != 0 ]; then
		fail "ioasidd did not start: $(tail -2 "$DAEMON_LOG")"
		return 1
	fi
	if [ "$(readlink /proc/$DAEMON_PID/ns/cgroup)" = "$(readlink /proc/$BASHPID/ns/cgroup)" ]
	then
		fail "the daemon is not in a cgroup namespace of its own"
		daemon_stop
		return 1
	fi
}

t_U_units() {
	local saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK saved_log=$DAEMON_LOG
	local rc orig pod=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
	local ua="/user.slice/user-$UA.slice/user@$UA.service"
	local ub="/user.slice/user-$UB.slice/user@$UB.service"
	cg_scratch || return
	UNIT_POLICY="$WORK/units.conf"
	# The README's libvirt rule, an admin rule on the same unit, and the two documented
	# rootless podman rules (README, ioasid.conf.example, ioasid.conf(5)): a client inside a
	# container (line 4), and the user's own process handing a device to one (line 5).
	cat >"$UNIT_POLICY" <<EOF
admin uid 0
admin unit libvirtd.service
allow unit libvirtd.service to bdf $DEV_1 mode attached,unbound group implicit
allow user $UB user-unit "libpod-*.scope" to bdf $DEV_2 group implicit max-leases 1 lifetime process
allow user $UB to bdf $DEV_2 mode attached,unbound group implicit max-leases 1
EOF
	if cg_daemon_start units "$UNIT_POLICY"; then
		# systemd-run --user --unit=libvirtd.service: the user's manager names it.
		unit_case spoofed "$ua/app.slice/libvirtd.service" $UA $DEV_1 2 "user@$UA.service"
		unit_case "spoofed, below" "$ua/libvirtd.service/sub" $UA $DEV_1 2 "user@$UA.service"
		in_cgroup "$CGROUP_SCRATCH$ua/app.slice/libvirtd.service" ctl_as $UA status \
			>/dev/null 2>"$WORK/u.err"
		expect_eq "spoofed: admin unit refused" "$?" 2
		expect_match "spoofed: admin refusal" "$(cat "$WORK/u.err")" "admin rule"
		# The system service.
		unit_case system "/system.slice/libvirtd.service" $UA $DEV_1 0 libvirtd.service
		in_cgroup "$CGROUP_SCRATCH/system.slice/libvirtd.service" ctl_as $UA status \
			>/dev/null 2>&1
		expect_eq "system: admin unit" "$?" 0
		# A rootless podman container as crun places it; its root is the user's own uid.
		unit_case container "$ub/user.slice/libpod-$pod.scope/container" $UB $DEV_2 0 \
			"user@$UB.service" ":4"
		unit_case "container, no sub-cgroup" "$ub/user.slice/libpod-$pod.scope" $UB $DEV_2 0 \
			"user@$UB.service" ":4"
		unit_case "another user's container" "$ua/user.slice/libpod-$pod.scope/container" \
			$UA $DEV_2 2 "user@$UA.service"
		# The user's own process (ioasidctl run -- podman run): the second rule.
		unit_case "not in a container" "$ub/app.slice/foo.service" $UB $DEV_2 0 \
			"user@$UB.service" ":5"
		wait_leases 0
		# A lease the user-unit rule granted is still granted after a reload that keeps
		# the rule: re-evaluation uses the holder's user unit too.
		orig=$(sed -n 's/^0:://p' /proc/$BASHPID/cgroup)
		echo $BASHPID >"$CGROUP_SCRATCH$ub/user.slice/libpod-$pod.scope/container/cgroup.procs"
		hold_lease UL $UB $DEV_2
		rc=$?
		echo $BASHPID >"$CGROUP_MNT$orig/cgroup.procs"
		[ $rc = 0 ] || fail "container lease: $(cat "$UL_err")"
		raw_as root --timeout 5 --replies 1 '{"method":"io.ioasid.Manager.Reload"}' >/dev/null
		expect_eq "container lease kept across a reload" \
			"$(ctl_as root leases --json=short | jq -r '.[0].state')" active
		release_lease UL
		wait_leases 0
		daemon_stop || fail "ioasidd (units) did not stop cleanly"
	fi
	cg_scratch_remove
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

# G4: the daemon under ProtectProc=invisible, i.e. /proc mounted hidepid=invisible in a mount
# namespace of its own, the capability bounding set of ioasidd.service (no CAP_SYS_PTRACE).
# procfs still shows every process to members of its gid= group, root's group when the option
# is absent (as systemd mounts it): running as root:root, as the unit does, the daemon reads
# every peer's cgroup and unit rules work. With another group, peers it may not ptrace are
# hidden: the daemon says so at start, and each refusal a unit rule could have changed says
# why.
t_G4_hidepid() {
	local saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK saved_log=$DAEMON_LOG
	local pol="$WORK/g4.conf" wrap="$REPO/tests/integration/hidepid.sh"
	local sys=/system.slice/libvirtd.service
	cg_scratch || return
	printf 'admin uid 0\nadmin unit libvirtd.service\nallow unit libvirtd.service to bdf %s\n' \
		$DEV_1 >"$pol"

	# As the unit runs it: uid 0, gid 0.
	if cg_daemon_start g4root "$pol" -m --propagation private "$wrap" 0; then
		expect_match "hidepid is in effect" \
			"$(grep ' /proc ' /proc/$DAEMON_PID/mountinfo | tail -1)" \
			"hidepid=(2|invisible)"
		local capeff
		capeff=$(awk '/^CapEff/ {print $2}' /proc/$DAEMON_PID/status)
		expect_eq "no CAP_SYS_PTRACE" "$(( 0x$capeff >> 19 & 1 ))" 0
		in_cgroup "$CGROUP_SCRATCH$sys" ctl_as $UA acquire $DEV_1 </dev/null >/dev/null 2>&1
		expect_eq "root group: a unit rule matches" "$?" 0
		expect_eq "root group: no warning at start" \
			"$(grep -c 'hidden from the daemon' "$DAEMON_LOG")" 0
		daemon_stop || fail "ioasidd (g4root) did not stop cleanly"
	fi

	# Another group: processes of other uids are hidden from it.
	if cg_daemon_start g4hidden "$pol" -m --propagation private "$wrap" $CLIENT_GID; then
		expect_match "warning at start" "$(cat "$DAEMON_LOG")" \
			"hidepid=invisible.*hidden from the daemon.*user-unit and cgroup rules never"
		in_cgroup "$CGROUP_SCRATCH$sys" ctl_as $UA acquire $DEV_1 </dev/null >/dev/null \
			2>"$WORK/g4.err"
		expect_eq "hidden: the unit rule cannot match" "$?" 2
		expect_match "hidden: the refusal says why" "$(cat "$WORK/g4.err")" \
			"cgroup is hidden from the daemon by /proc hidepid"
		expect_match "hidden: the audit record says why" \
			"$(grep "action=deny .* uid=$UA " "$DAEMON_LOG" | tail -1)" \
			"unit=- .*hidden from the daemon by /proc hidepid"
		in_cgroup "$CGROUP_SCRATCH$sys" ctl_as $UA status >/dev/null 2>"$WORK/g4.err"
		expect_eq "hidden: admin unit refused" "$?" 2
		# Not only other uids: ptrace rules also compare gids and capabilities, so a root
		# peer (gid 0, every capability) is hidden from this daemon too.
		in_cgroup "$CGROUP_SCRATCH$sys" ctl_as root acquire $DEV_1 </dev/null >/dev/null \
			2>"$WORK/g4.err"
		expect_eq "hidden: a root peer too" "$?" 2
		expect_match "hidden: a root peer, why" "$(cat "$WORK/g4.err")" \
			"hidden from the daemon"
		daemon_stop || fail "ioasidd (g4hidden) did not stop cleanly"
	fi
	cg_scratch_remove
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
	expect_eq "no iommufd, no IOAS" "$(jq -c '[.iommufd, .ioas_id]' <<<"$out")" '[null,null]'
	expect_eq "legacy acquire key style" "$(jq -c -f "$REPO/tests/json-key-style.jq" <<<"$out")" "[]"
	expect_eq "verified" "$(jq -r .verified <<<"$out")" true
	expect_eq "container" "$(jq -r '.container | "\(.kind) \(.name)"' <<<"$out" | sed 's/:[0-9]*$//')" \
		"vfio-container memfd:ioasid-sim:vfio-container"
	expect_eq "group node" "$(jq -r '.groups[] | "\(.group) \(.kind) \(.name)"' <<<"$out")" \
		"5 vfio-group memfd:ioasid-sim:vfio-group:5"
	expect_eq "device fds" "$(jq -r '[.devices[] | "\(.bdf)=\(.name)"] | join(" ")' <<<"$out")" \
		"$DEV_A=memfd:ioasid-sim:vfio-legacy:$DEV_A $DEV_B=memfd:ioasid-sim:vfio-legacy:$DEV_B"
	expect_eq "devices share the group fd" \
		"$(jq '([.devices[].group_fd] | unique) == [.groups[0].fd]' <<<"$out")" true
	expect_eq "all cloexec" \
		"$(jq '[.container.cloexec, .groups[].cloexec, .devices[].cloexec] | all' <<<"$out")" true

	# One device of the group: no group node (it would open the sibling), the sibling at
	# risk, and the group exclusive as on iommufd.
	hold_lease LG $UA $DEV_A || fail "A's legacy acquire failed: $(cat "$LG_err")"
	expect_eq "partial group: no group fd" \
		"$(jq -c '[(.groups | length), .devices[0].group_fd]' "$LG_out")" '[0,null]'
	expect_eq "partial group: sibling at risk" "$(jq -r '.at_risk | join(" ")' "$LG_out")" $DEV_B
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

# vhost-vdpa leases (tests/hosts/vdpa-guest.json): vdpa0 (vp_vdpa parent 0000:00:02.0, alone
# in group 2) is handed out as its /dev/vhost-vdpa-0 (the sim's memfd), listed, refused a
# second time (DeviceBusy), and while it is leased a VFIO Acquire of its parent's group is
# FrameworkConflict naming the group, the lease and vdpa0; vdpa1 (vp_vdpa parent sharing group
# 5) is GroupNotViable before the kernel's EINVAL; the software vdpa-sim0 has no group. A
# reload that drops the vdpa rule revokes the lease (no detach: the device is reset), release
# ends it, and the daemon's fds are back at their baseline.
t_vdpa_lease() {
	local saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK saved_log=$DAEMON_LOG out base n id
	printf '%s\n' "admin uid 0" "allow uid $UA to any mode attached,unbound" \
		"allow uid $UA to vdpa \"*\"" "allow uid $UB to vdpa vdpa0" \
		"deny *" >"$WORK/vdpalease.conf"
	DAEMON_PID=
	if ! daemon_start vdpalease "$REPO/tests/hosts/vdpa-guest.json" "$WORK/vdpalease.conf"; then
		fail "vdpa lease: ioasidd did not start: $(tail -2 "$DAEMON_LOG" | tr '\n' ' ')"
		DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
		return
	fi
	base=$(daemon_fds_settled)
	hold_lease VA $UA --vdpa vdpa0
	expect_eq "vdpa lease: acquired ($(cat "$VA_err"))" "$?" 0
	out=$(cat "$VA_out")
	id=$(jq -r .lease <<<"$out")
	expect_eq "vdpa lease: mode" "$(jq -r .mode <<<"$out")" vhost-vdpa
	expect_eq "vdpa lease: api" "$(jq -r .api <<<"$out")" vhost-vdpa
	expect_eq "vdpa lease: vdpa" "$(jq -r .vdpa <<<"$out")" vdpa0
	expect_eq "vdpa lease: the fd is vdpa0's vhost-vdpa file" \
		"$(jq -r '.vhost.kind + " " + .vhost.name' <<<"$out")" \
		"vhost-vdpa memfd:ioasid-sim:vhost-vdpa:vdpa0"
	expect_eq "vdpa lease: no iommufd, no devices" \
		"$(jq -r '[.iommufd == null, .container == null, (.devices | length)] | @tsv' \
			<<<"$out")" "$(printf 'true\ttrue\t0')"
	expect_eq "vdpa lease: verified" "$(jq -r .verified <<<"$out")" true
	out=$(ctl_as $UA leases --json=short)
	expect_eq "vdpa lease: listed" \
		"$(jq -r '.[0] | [.id, .mode, .vdpa, (.groups | tostring), (.devices | length)] | @tsv' \
			<<<"$out")" "$(printf '%s\tvhost-vdpa\tvdpa0\t[2]\t0' "$id")"
	expect_match "vdpa lease: the table names vdpa0" "$(ctl_as $UA leases)" "vhost-vdpa +vdpa0 +2"
	expect_eq "vdpa lease: ListGroups: group 2 is the holder's" "$(group_owner 2)" "uid:$UA"
	expect_eq "vdpa lease: ListDevices: so is the parent" \
		"$(raw_as $UA --timeout 5 --replies 1 '{"method":"io.ioasid.Broker.ListDevices"}' |
			jq -r 'select(.reply) | .reply.parameters.devices[] |
				select(.bdf == "0000:00:02.0") | .owner')" "uid:$UA"

	ctl_as $UB acquire --vdpa vdpa0 --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "vdpa lease: a second Acquire is refused" "$?" 2
	expect_match "vdpa lease: ... DeviceBusy, leased" "$(cat "$WORK/err")" \
		"vdpa0: device busy: leased to another user"
	ctl_as $UA acquire 0000:00:02.0 --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "vdpa lease: VFIO on the parent's group is refused" "$?" 2
	expect_match "vdpa lease: ... FrameworkConflict naming group, lease and device" \
		"$(cat "$WORK/err")" \
		"0000:00:02.0: IOMMU group 2 is leased through vhost-vdpa by lease $id \(vdpa0@0000:00:02.0, uid $UA\)"
	expect_match "vdpa lease: ... audited as FrameworkConflict" \
		"$(grep 'action=deny' "$DAEMON_LOG" | tail -1)" "FrameworkConflict"
	ctl_as $UA acquire --vdpa vdpa1 --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "vdpa lease: vdpa1 (shared group) is refused" "$?" 2
	expect_match "vdpa lease: ... GroupNotViable before the kernel's EINVAL" "$(cat "$WORK/err")" \
		"vdpa1: IOMMU group 5 is not viable: 0000:01:02.0, the vp_vdpa parent of vdpa1, shares"
	expect_eq "vdpa lease: the kernel was not asked" \
		"$(grep -c 'vhost-vdpa-open' "$DAEMON_LOG")" 0
	ctl_as $UB acquire --vdpa vdpa-sim0 --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "vdpa lease: the policy is asked (no rule for vdpa-sim0 for uid $UB)" "$?" 2
	out=$(ctl_as $UA acquire --vdpa vdpa-sim0 --json=short </dev/null 2>"$WORK/err")
	expect_eq "vdpa lease: a software device ($(cat "$WORK/err"))" "$?" 0
	expect_eq "vdpa lease: ... its fd" "$(jq -r .vhost.name <<<"$out")" \
		"memfd:ioasid-sim:vhost-vdpa:vdpa-sim0"
	# run --vdpa: the char device at fd 3, {vhostfd} and IOASID_FDNAMES name it; a process
	# lifetime lease ends with the program.
	out=$(ctl_as $UA run --vdpa vdpa-sim0 --lifetime process -- sh -c \
		'echo "$IOASID_FDNAMES $IOASID_FDS {vhostfd} $(readlink /proc/self/fd/{vhostfd})"' \
		</dev/null 2>"$WORK/err")
	expect_eq "vdpa lease: run --vdpa ($(cat "$WORK/err"))" "$out" \
		"vhost-vdpa:vdpa-sim0 1 3 /memfd:ioasid-sim:vhost-vdpa:vdpa-sim0 (deleted)"
	ctl_as $UA run --device 0000:00:03.0 -- echo {vhostfd} </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "vdpa lease: {vhostfd} without --vdpa is a usage error" "$?" 64
	expect_match "vdpa lease: ... saying so" "$(cat "$WORK/err")" "'\{vhostfd\}' needs --vdpa"
	ctl_as $UA acquire --vdpa vdpa0 --layout x </dev/null >/dev/null 2>&1
	expect_eq "vdpa lease: --layout with --vdpa is a usage error" "$?" 64
	ctl_as $UA acquire --vdpa nosuch </dev/null >/dev/null 2>"$WORK/err"
	expect_match "vdpa lease: an unknown device" "$(cat "$WORK/err")" "No such device 'nosuch'"

	# Reload without the vdpa rules: the lease is revoked (no detach for vhost-vdpa: a reset).
	printf '%s\n' "admin uid 0" "allow uid $UA to any mode attached,unbound" \
		"deny *" >"$WORK/vdpalease.conf"
	kill -HUP "$DAEMON_PID"
	local state=
	for _ in $(seq 100); do
		state=$(ctl_as root leases --json=short | jq -r --arg id "$id" \
			'.[] | select(.id == $id) | .state')
		[ "$state" = revoked ] && break
		sleep 0.05
	done
	expect_eq "vdpa lease: a reload dropping the rule revokes it" "$state" revoked
	expect_match "vdpa lease: ... audited, the device reset" \
		"$(grep 'action=revoke ' "$DAEMON_LOG" | tail -1)" \
		"device reset \(virtio status 0\), IOTLB kept by the holder's file"
	release_lease VA
	wait_leases 0
	# Released: the kernel's file is closed with the holder's, vdpa0 is free again.
	printf '%s\n' "admin uid 0" "allow uid $UA to vdpa \"*\"" "deny *" \
		>"$WORK/vdpalease.conf"
	kill -HUP "$DAEMON_PID"
	for _ in $(seq 100); do
		[ "$(ctl_as root status --json=short | jq -r .generation)" = 3 ] && break
		sleep 0.05
	done
	out=$(ctl_as $UA acquire --vdpa vdpa0 --json=short </dev/null 2>"$WORK/err")
	expect_eq "vdpa lease: acquired again after the release ($(cat "$WORK/err"))" "$?" 0
	wait_leases 0
	n=$(daemon_wait_fds "$base") || fail "vdpa lease daemon fd count $n, baseline $base (I2)"
	daemon_stop || fail "vdpa lease daemon did not stop cleanly"
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

# vDPA as a second framework (tests/hosts/vdpa-guest.json): the edu on vfio-pci in group 5
# shares it with 0000:01:02.0, the vp_vdpa parent of vdpa1 on vhost_vdpa; the daemon refuses
# it first with GroupNotViable naming the vDPA device (the kernel would refuse the bind with
# EPERM: vp_vdpa is a DMA API user of the group), while a device in a group of its own is
# leased as usual.
t_vdpa_cross_framework() {
	local saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK saved_log=$DAEMON_LOG out base n
	printf '%s\n' "admin uid 0" "allow uid $UA to any mode attached,unbound" \
		"deny *" >"$WORK/vdpa.conf"
	DAEMON_PID=
	if ! daemon_start vdpa "$REPO/tests/hosts/vdpa-guest.json" "$WORK/vdpa.conf"; then
		fail "vdpa: ioasidd did not start: $(tail -2 "$DAEMON_LOG" | tr '\n' ' ')"
		DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
		return
	fi
	base=$(daemon_fds_settled)
	out=$(ctl_as $UA acquire 0000:01:01.0 --json=short </dev/null 2>"$WORK/err")
	expect_eq "vdpa: a group with a vhost-vdpa parent is refused" "$?" 2
	expect_eq "vdpa: ... as GroupNotViable" \
		"$(grep -c 'GroupNotViable\|not viable' "$WORK/err")" 1
	expect_eq "vdpa: ... naming the vDPA device" \
		"$(grep -o 'vDPA parent of vdpa1 on vhost_vdpa' "$WORK/err" | head -1)" \
		"vDPA parent of vdpa1 on vhost_vdpa"
	out=$(ctl_as $UA acquire 0000:00:03.0 --json=short </dev/null 2>"$WORK/err")
	expect_eq "vdpa: a group of its own is leased ($(cat "$WORK/err"))" "$?" 0
	expect_eq "vdpa: reply bdf" "$(jq -r '.devices[0].bdf' <<<"$out")" 0000:00:03.0
	wait_leases 0
	n=$(daemon_wait_fds "$base") || fail "vdpa daemon fd count $n, baseline $base (I2)"
	daemon_stop || fail "vdpa daemon did not stop cleanly"
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

# Dependent devices on tests/hosts/sriov-vfio.json: PF 0000:01:00.0 on vfio-pci with VFs
# 0000:01:10.0 and 0000:01:10.2 (FLR everywhere); 0000:02:00.0 and 0000:02:00.1, one
# device's two functions in groups 20 and 21, without FLR: they share a bus reset. (ioasidctl
# adds a refused device's group to the message.)
# dep_daemon NAME POLICY-LINES...: a daemon of its own on that host (the main one is saved).
dep_daemon() {
	local name=$1
	shift
	printf '%s\n' "admin uid 0" "$@" >"$WORK/$name.conf"
	DEP_SAVED="$DAEMON_PID $DAEMON_SOCK $DAEMON_LOG"
	DAEMON_PID=
	daemon_start "$name" "$REPO/tests/hosts/sriov-vfio.json" "$WORK/$name.conf" || {
		fail "ioasidd ($name) did not start: $(tail -2 "$DAEMON_LOG" | tr '\n' ' ')"
		read -r DAEMON_PID DAEMON_SOCK DAEMON_LOG <<<"$DEP_SAVED"
		return 1
	}
	DEP_BASE=$(daemon_fds_settled)
}
dep_daemon_done() {
	local n
	wait_leases 0
	n=$(daemon_wait_fds "$DEP_BASE") || fail "daemon fd count $n, baseline $DEP_BASE (I2)"
	daemon_stop || fail "ioasidd did not stop cleanly"
	read -r DAEMON_PID DAEMON_SOCK DAEMON_LOG <<<"$DEP_SAVED"
}
PF=0000:01:00.0
VF0=0000:01:10.0
VF2=0000:01:10.2
FN0=0000:02:00.0
FN1=0000:02:00.1

# B10: the PF on one tenant, a VF to another: refused by the daemon, naming the PF and the
# holder's lease, in both directions; the same tenant may take both; sibling VFs are
# independent. A VF in attached mode meets the kernel's VF-token rule (the sim's EACCES).
t_B10_pf_vf() {
	local id out
	dep_daemon b10 "allow uid $UA to any mode attached,unbound" \
		"allow uid $UB to any mode attached,unbound" || return
	hold_lease P $UA $PF || fail "PF acquire failed: $(cat "$P_err")"
	id=$(jq -r .lease "$P_out")
	ctl_as $UB acquire $VF0 --mode unbound --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "B's VF refused" "$?" 2
	expect_eq "the refusal names the PF and A's lease" "$(cat "$WORK/err")" \
		"ioasidctl: $VF0 (IOMMU group 11) is a VF of $PF, leased to uid $UA (lease $id)"
	out=$(raw_as $UB --timeout 5 --replies 1 \
		"{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":{\"devices\":[\"$VF2\"],\"mode\":\"unbound\"}}")
	expect_eq "named error" "$(jq -r 'select(.reply) | .reply.error' <<<"$out")" \
		io.ioasid.Broker.DependentOwned
	expect_eq "its parameters" "$(jq -r 'select(.reply) | .reply.parameters |
		[.device, .dependent, .relation, .owner] | join(" ")' <<<"$out")" \
		"$VF2 $PF pf leased to uid $UA (lease $id)"
	expect_eq "no fd went to B" "$(jq -r 'select(.reply) | .fds' <<<"$out")" 0
	# The same tenant takes a VF of its own PF.
	out=$(ctl_as $UA acquire $VF0 --mode unbound --json=short </dev/null 2>"$WORK/err")
	expect_eq "A takes a VF of its PF ($(cat "$WORK/err"))" "$(jq -r '.devices[0].bdf' <<<"$out")" $VF0
	release_lease P
	wait_leases 0
	# The other way: B holds a VF, A's PF is refused naming the VF; another VF is B's
	# sibling's business only.
	hold_lease V $UB $VF0 --mode unbound || fail "VF acquire failed: $(cat "$V_err")"
	id=$(jq -r .lease "$V_out")
	ctl_as $UA acquire $PF --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "A's PF refused" "$?" 2
	expect_eq "the refusal names the VF and B's lease" "$(cat "$WORK/err")" \
		"ioasidctl: $PF (IOMMU group 10) is the PF of $VF0, leased to uid $UB (lease $id)"
	out=$(ctl_as $UA acquire $VF2 --mode unbound --json=short </dev/null 2>"$WORK/err")
	expect_eq "sibling VFs go to different tenants ($(cat "$WORK/err"))" \
		"$(jq -r '.devices[0].bdf' <<<"$out")" $VF2
	release_lease V
	# Attached mode binds in the daemon, where the kernel wants the PF's VF token.
	ctl_as $UA acquire $VF2 --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "attached VF: the kernel's refusal" "$?" 1
	expect_match "named as the VF token" "$(cat "$WORK/err")" \
		"$VF2: device-bind \(a VF of a PF on vfio-pci needs the PF's VF token.*EACCES"
	dep_daemon_done
}

# B7: two functions sharing a bus reset go to one owner: another tenant is refused naming
# the dependent BDF and the holder; the same tenant takes both.
t_B7_shared_reset() {
	local id out
	dep_daemon b7 "allow uid $UA to any mode attached,unbound" \
		"allow uid $UB to any mode attached,unbound" || return
	hold_lease F $UA $FN0 || fail "acquire failed: $(cat "$F_err")"
	id=$(jq -r .lease "$F_out")
	ctl_as $UB acquire $FN1 --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "B refused" "$?" 2
	expect_eq "the refusal names the dependent BDF" "$(cat "$WORK/err")" \
		"ioasidctl: $FN1 (IOMMU group 21) shares a bus reset with $FN0, leased to uid $UA (lease $id)"
	out=$(ctl_as $UA acquire $FN1 --json=short </dev/null 2>"$WORK/err")
	expect_eq "the same tenant takes both ($(cat "$WORK/err"))" \
		"$(jq -r '.devices[0].bdf' <<<"$out")" $FN1
	release_lease F
	wait_leases 0
	# Free again: B takes .1, and then A's .0 is refused the other way round.
	hold_lease G $UB $FN1 || fail "acquire failed: $(cat "$G_err")"
	id=$(jq -r .lease "$G_out")
	ctl_as $UA acquire $FN0 --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "the refusal names .1 and B's lease" "$(cat "$WORK/err")" \
		"ioasidctl: $FN0 (IOMMU group 20) shares a bus reset with $FN1, leased to uid $UB (lease $id)"
	# Stage answers for the owner the same way; a staged context holds its dependents too.
	ctl_as root stage default --for $UA --device $FN0 >/dev/null 2>"$WORK/err"
	expect_eq "staging .0 for A is refused" "$(cat "$WORK/err")" \
		"ioasidctl: $FN0 shares a bus reset with $FN1, leased to uid $UB (lease $id)"
	release_lease G
	wait_leases 0
	id=$(ctl_as root stage default --for $UA --device $FN0 --json=short | jq -r .id)
	ctl_as $UB acquire $FN1 --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "a staged context holds its dependents" "$(cat "$WORK/err")" \
		"ioasidctl: $FN1 (IOMMU group 21) shares a bus reset with $FN0, staged for another owner (staged context $id)"
	ctl_as root stage drop "$id" >/dev/null
	dep_daemon_done
}

# The grants: share-reset / split-sriov on both owners' rules let dependents be split; a
# rule without them (UC's) is refused, as requester and as holder.
t_dependents_granted() {
	local UC=4703 id out
	dep_daemon grant \
		"allow uid $UA to any mode attached,unbound share-reset yes split-sriov yes" \
		"allow uid $UB to any mode attached,unbound share-reset yes split-sriov yes" \
		"allow uid $UC to any mode attached,unbound" || return
	hold_lease F $UA $FN0 || fail "acquire failed: $(cat "$F_err")"
	hold_lease P $UA $PF || fail "acquire failed: $(cat "$P_err")"
	out=$(ctl_as $UB acquire $FN1 --json=short </dev/null 2>"$WORK/err")
	expect_eq "share-reset: B takes .1 ($(cat "$WORK/err"))" "$(jq -r '.devices[0].bdf' <<<"$out")" $FN1
	out=$(ctl_as $UB acquire $VF0 --mode unbound --json=short </dev/null 2>"$WORK/err")
	expect_eq "split-sriov: B takes a VF ($(cat "$WORK/err"))" "$(jq -r '.devices[0].bdf' <<<"$out")" $VF0
	ctl_as $UC acquire $FN1 --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "UC's rule grants no share-reset" "$?" 2
	expect_match "named" "$(cat "$WORK/err")" "$FN1 \\(IOMMU group 21\\) shares a bus reset with $FN0"
	ctl_as $UC acquire $VF2 --mode unbound --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "UC's rule grants no split-sriov" "$?" 2
	# Last held, first released: a later holder inherited the earlier one's fifo.
	release_lease P
	release_lease F
	wait_leases 0
	# The holder's grant counts too: UC holds .0, B (granted) is refused .1.
	hold_lease C $UC $FN0 || fail "acquire failed: $(cat "$C_err")"
	id=$(jq -r .lease "$C_out")
	ctl_as $UB acquire $FN1 --json=short </dev/null >/dev/null 2>"$WORK/err"
	expect_eq "the holder's lease lacks the grant" "$(cat "$WORK/err")" \
		"ioasidctl: $FN1 (IOMMU group 21) shares a bus reset with $FN0, leased to uid $UC (lease $id)"
	release_lease C
	dep_daemon_done
}

# ---------------------------------------------------------------------------------------
# Catalogue cases added for tests/ADVERSARIAL.md (A8, A11, B8, B9, C10). Each runs its own
# daemon where it needs another policy, and checks I2 on it.

# A8: a kernel without SO_PEERPIDFD (before 6.5), faked by the sockopt-fault shim: the daemon
# says so once at start (log and Status), rules that need the pidfd (cgroup, unit) do not
# match and process-lifetime grants are refused, while uid rules still allow. The same
# policy on the real kernel is the control: there the cgroup rule and the process lifetime
# are granted, so the denials come from the missing pidfd and nothing else.
t_A8_no_peerpidfd() {
	local saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK saved_log=$DAEMON_LOG
	local pol="$WORK/a8.conf" count="$WORK/a8.count" variant out rc base n
	cat >"$pol" <<-EOF2
		admin uid 0
		allow uid $UA cgroup "*" to bdf $DEV_1 mode attached,unbound group implicit
		allow uid $UA to bdf $DEV_2 mode attached,unbound group implicit lifetime process
		allow uid $UB to bdf $DEV_2 mode attached,unbound group implicit
	EOF2
	rm -f "$count"
	for variant in pidfd no-pidfd; do
		DAEMON_PID=
		DAEMON_ENV=
		if [ $variant = no-pidfd ]; then
			DAEMON_ENV="LD_PRELOAD=$B/sockopt-fault SOCKOPT_FAULT_PEERPIDFD=ENOPROTOOPT"
			DAEMON_ENV+=" SOCKOPT_FAULT_COUNT=$count"
			DAEMON_ENV+=" ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
		fi
		if ! daemon_start "a8-$variant" "$SAMPLE" "$pol"; then
			fail "A8 $variant: ioasidd did not start: $(tail -2 "$DAEMON_LOG" | tr '\n' ' ')"
			continue
		fi
		base=$(daemon_fds_settled)
		out=$(ctl_as $UA acquire $DEV_1 --json=short </dev/null 2>"$WORK/err")
		rc=$?
		if [ $variant = pidfd ]; then
			expect_eq "A8 control: the cgroup rule grants (rc)" "$rc" 0
			expect_eq "A8 control: verified" "$(jq -r .verified <<<"$out")" true
		else
			expect_eq "A8: cgroup rule without a pidfd denies (rc)" "$rc" 2
			expect_eq "A8: nothing on stdout" "$out" ""
			expect_match "A8: no rule matched" "$(cat "$WORK/err")" "no rule matched"
		fi
		out=$(ctl_as $UA acquire $DEV_2 --json=short </dev/null 2>"$WORK/err")
		rc=$?
		if [ $variant = pidfd ]; then
			expect_eq "A8 control: process lifetime granted (rc)" "$rc" 0
		else
			expect_eq "A8: process lifetime without a pidfd denied (rc)" "$rc" 2
			expect_eq "A8: nothing on stdout (process)" "$out" ""
			expect_match "A8: reason" "$(cat "$WORK/err")" "process lifetime needs SO_PEERPIDFD"
		fi
		out=$(ctl_as $UB acquire $DEV_2 --json=short </dev/null 2>/dev/null)
		expect_eq "A8 $variant: a uid rule still grants" "$(jq -r .verified <<<"$out")" true
		# Said once at start, not per connection (several connections were made above).
		n=$(grep -c 'SO_PEERPIDFD unsupported' "$DAEMON_LOG")
		out=$(ctl_as root status --json=short | jq -r '[.warnings[] | select(test("SO_PEERPIDFD"))] | length')
		if [ $variant = pidfd ]; then
			expect_eq "A8 control: no degraded-mode warning" "$n/$out" "0/0"
		else
			expect_eq "A8: degraded mode logged exactly once" "$n" 1
			expect_eq "A8: Status names the degraded mode" "$out" 1
			expect_match "A8: the shim was exercised" "$(cat "$count" 2>/dev/null)" x
		fi
		wait_leases 0
		n=$(daemon_wait_fds "$base") || fail "A8 $variant daemon fd count $n, baseline $base (I2)"
		daemon_stop || fail "A8 $variant daemon did not stop cleanly"
	done
	DAEMON_ENV=
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

# A11: a principal the policy grants devices (a tenant, not in no rule like A10's) calls
# every mutating and admin method with parameters that would work for an admin (another
# tenant's real lease id, a real staged id): each is PermissionDenied, and nothing changed.
# Release of another tenant's real lease reads as NoSuchLease (existence not disclosed).
t_A11_tenant_not_admin() {
	local idb sid gen out err m
	hold_lease HA11 $UA $DEV_A || fail "A's acquire failed: $(cat "$HA11_err")"
	hold_lease HB11 $UB $DEV_2 || fail "B's acquire failed: $(cat "$HB11_err")"
	idb=$(jq -r .lease "$HB11_out")
	sid=$(ctl_as root stage default --for $UB --device $DEV_1 --json=short | jq -r .id)
	expect_match "staged id" "$sid" '^[0-9a-f]{32}$'
	gen=$(ctl_as root status --json=short | jq -r .generation)
	declare -A calls=(
		[Reload]='{}'
		[Status]='{}'
		[ListStaged]='{}'
		[Revoke]="{\"lease\":\"$idb\"}"
		[DropStaged]="{\"id\":\"$sid\"}"
		[Stage]="{\"layout\":\"default\",\"owner\":\"uid $UA\",\"devices\":[\"$DEV_B\"]}"
	)
	for m in "${!calls[@]}"; do
		out=$(raw_as $UA --replies 1 --timeout 2 \
			"{\"method\":\"io.ioasid.Manager.$m\",\"parameters\":${calls[$m]}}")
		err=$(jq -r 'select(.reply) | .reply.error' <<<"$out")
		expect_eq "A11: tenant calls Manager.$m" "$err" io.ioasid.Manager.PermissionDenied
		expect_eq "A11: Manager.$m: no fd" \
			"$(jq -s '[.[] | (.fds // 0) + (.strayFds // 0)] | add' <<<"$out")" 0
	done
	out=$(raw_as $UA --replies 1 --timeout 2 \
		"{\"method\":\"io.ioasid.Broker.Release\",\"parameters\":{\"lease\":\"$idb\"}}")
	expect_eq "A11: Release of another tenant's real lease" \
		"$(jq -r 'select(.reply) | .reply.error' <<<"$out")" io.ioasid.Broker.NoSuchLease
	ctl_as $UA revoke "$idb" >/dev/null 2>&1
	expect_eq "A11: ioasidctl revoke as a tenant" "$?" 2
	# Nothing changed: B's lease active, the staged context there, no reload, no new stage.
	expect_eq "A11: B's lease still active" \
		"$(ctl_as root leases --json=short | jq -r --arg id "$idb" '.[] | select(.id == $id) | .state')" \
		active
	expect_eq "A11: staged context kept, none added" \
		"$(ctl_as root stage list --json=short | jq -r '[.[].id] | join(" ")')" "$sid"
	expect_eq "A11: generation unchanged" "$(ctl_as root status --json=short | jq -r .generation)" "$gen"
	ctl_as root stage drop "$sid" >/dev/null
	release_lease HB11
	expect_eq "A11: B's own release works" "$?" 0
	release_lease HA11
	wait_leases 0
}

# B8: a device on a noiommu VFIO cdev (tests/hosts/noiommu.json, enable_unsafe_noiommu_mode)
# is denied, with the reason, whatever the rules say, unless allow-noiommu is set. (The
# startup warning about noiommu mode is the event loop branch's.)
t_B8_noiommu() {
	local saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK saved_log=$DAEMON_LOG
	local host="$REPO/tests/hosts/noiommu.json" dev=0000:00:06.0 setting out rc base n
	for setting in "" "allow-noiommu yes"; do
		printf '%s\n' "admin uid 0" "$setting" \
			"allow uid $UA to any mode attached,unbound group implicit" >"$WORK/b8.conf"
		DAEMON_PID=
		if ! daemon_start b8 "$host" "$WORK/b8.conf"; then
			fail "B8: ioasidd did not start: $(tail -2 "$DAEMON_LOG" | tr '\n' ' ')"
			continue
		fi
		base=$(daemon_fds_settled)
		out=$(ctl_as $UA acquire $dev --json=short </dev/null 2>"$WORK/err")
		rc=$?
		if [ -z "$setting" ]; then
			expect_eq "B8: noiommu device denied (rc)" "$rc" 2
			expect_eq "B8: nothing on stdout" "$out" ""
			expect_match "B8: reason" "$(cat "$WORK/err")" "noiommu device .*allow-noiommu is off"
			expect_match "B8: deny audited" "$(grep 'action=deny ' "$DAEMON_LOG" | tail -1)" \
				"device=$dev .*noiommu"
		else
			expect_eq "B8: allowed with allow-noiommu yes (rc, $(cat "$WORK/err"))" "$rc" 0
			expect_eq "B8: the device fd" "$(jq -r '.devices[0].bdf' <<<"$out")" $dev
		fi
		wait_leases 0
		n=$(daemon_wait_fds "$base") || fail "B8 daemon fd count $n, baseline $base (I2)"
		daemon_stop || fail "B8 daemon did not stop cleanly"
	done
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

# B9: only what is granted is sent. The policy language has no separate grant of
# /dev/iommu: every Acquire reply carries one fresh iommufd holding exactly the granted
# devices, and nothing can be asked for without a device. So: a grant of one device of a
# two-device group sends the iommufd and that device only (the sibling is reported at risk,
# never sent); asking for the granted device with an ungranted one is denied as a whole
# with no fd; a request without a device (an iommufd alone) is invalid; and two leases of
# one uid never share an iommufd.
t_B9_only_granted() {
	local saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK saved_log=$DAEMON_LOG
	local out base n req
	printf '%s\n' "admin uid 0" \
		"allow uid $UA to bdf $DEV_A mode attached,unbound group implicit" \
		"allow uid $UA to bdf $DEV_1 mode attached,unbound group implicit" \
		"allow uid $UA to bdf $DEV_2 mode attached,unbound group implicit" >"$WORK/b9.conf"
	DAEMON_PID=
	if ! daemon_start b9 "$SAMPLE" "$WORK/b9.conf"; then
		fail "B9: ioasidd did not start: $(tail -2 "$DAEMON_LOG" | tr '\n' ' ')"
		DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
		return
	fi
	base=$(daemon_fds_settled)
	out=$(raw_as $UA --replies 1 --timeout 3 \
		"{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":{\"devices\":[\"$DEV_A\"]}}")
	expect_eq "B9: one device granted: iommufd + that device" \
		"$(jq -r 'select(.reply) | .fds' <<<"$out")" 2
	expect_eq "B9: what the fds are" \
		"$(jq -r 'select(.reply) | .fdNames | map(sub(" [(]deleted[)]$"; "") | sub(":[0-9]+$"; "")) |
			join(" ")' <<<"$out")" "/memfd:ioasid-sim:iommufd /memfd:ioasid-sim:vfio:$DEV_A"
	expect_eq "B9: the sibling is at risk, not sent" \
		"$(jq -r 'select(.reply) | .reply.parameters.atRisk | join(" ")' <<<"$out")" $DEV_B
	out=$(raw_as $UA --replies 1 --timeout 3 \
		"{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":{\"devices\":[\"$DEV_A\",\"$DEV_B\"]}}")
	expect_eq "B9: granted + ungranted device: denied" \
		"$(jq -r 'select(.reply) | .reply.error + " " + .reply.parameters.device' <<<"$out")" \
		"io.ioasid.Broker.PermissionDenied $DEV_B"
	expect_eq "B9: ... and nothing sent" "$(jq -s '[.[] | (.fds // 0) + (.strayFds // 0)] | add' <<<"$out")" 0
	for req in '{}' '{"devices":[]}' '{"mode":"unbound"}' '{"pool":"none","count":0}' '{"group":null}'; do
		out=$(raw_as $UA --replies 1 --timeout 3 \
			"{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":$req}")
		expect_eq "B9: no device ($req): invalid" \
			"$(jq -r 'select(.reply) | .reply.error' <<<"$out")" org.varlink.service.InvalidParameter
		expect_eq "B9: no device ($req): no iommufd alone" \
			"$(jq -s '[.[] | (.fds // 0) + (.strayFds // 0)] | add' <<<"$out")" 0
	done
	out=$(raw_as $UA --replies 2 --timeout 3 \
		"{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":{\"devices\":[\"$DEV_1\"]}}" \
		"{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":{\"devices\":[\"$DEV_2\"]}}")
	expect_eq "B9: two leases on one connection" "$(jq -s '[.[] | select(.reply) | .fds] | add' <<<"$out")" 4
	expect_eq "B9: each lease has its own iommufd" \
		"$(jq -s '[.[] | select(.reply) | .fdNames[0]] | unique | length' <<<"$out")" 2
	wait_leases 0
	n=$(daemon_wait_fds "$base") || fail "B9 daemon fd count $n, baseline $base (I2)"
	daemon_stop || fail "B9 daemon did not stop cleanly"
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

# C10: every fd is close-on-exec, read from /proc/PID/fdinfo (flags, octal, O_CLOEXEC =
# 02000000) rather than from anyone's own report: in a client holding a lease (ioasidctl
# acquire: its connection and every fd it received) and in the daemon while it holds that
# lease (listener, connections, the lease's iommufd and device fds, the pidfd, the closer
# pipe, everything). The daemon starts no helper, so that is every fd a helper could inherit.
# Fds this script itself passed down (the same fd number open on the same file here) are the
# test harness's, not the program's, and are skipped; so is valgrind's log (VALGRIND=1).
cloexec_missing() { # PID -> the fds >= 3 of PID without O_CLOEXEC, with what they are
	local pid=$1 f fl t
	for f in /proc/"$pid"/fdinfo/*; do
		f=${f##*/}
		[ "$f" -ge 3 ] || continue
		t=$(readlink "/proc/$pid/fd/$f")
		[ "$t" = "$(readlink "/proc/$$/fd/$f" 2>/dev/null)" ] && continue
		[ "${VALGRIND:-0}" = 1 ] && [[ "$t" == *.vg ]] && continue
		fl=$(awk '/^flags:/ { print $2 }' "/proc/$pid/fdinfo/$f" 2>/dev/null) || continue
		[ -n "$fl" ] || continue
		[ $((8#$fl & 8#2000000)) -ne 0 ] || echo "$f=$(readlink "/proc/$pid/fd/$f")"
	done
}

t_C10_cloexec() {
	local bad n
	hold_lease HC10 $UA $DEV_1 --lifetime process ||
		fail "acquire failed: $(cat "$HC10_err")"
	n=$(ls -l "/proc/$HC10_pid/fd" | grep -c 'memfd:ioasid-sim')
	expect_eq "C10: the client holds the iommufd and the device fd" "$n" 2
	bad=$(cloexec_missing "$HC10_pid")
	expect_eq "C10: fds of ioasidctl acquire without O_CLOEXEC" "$bad" ""
	n=$(ls -l "/proc/$DAEMON_PID/fd" | grep -c 'memfd:ioasid-sim')
	[ "$n" -ge 2 ] || fail "C10: the daemon holds the lease's fds (got $n)"
	bad=$(cloexec_missing "$DAEMON_PID")
	expect_eq "C10: fds of ioasidd without O_CLOEXEC" "$bad" ""
	release_lease HC10
	wait_leases 0
}

# A5 with a real user namespace: the daemon runs in one (unshare --user --map-root-user maps
# only uid 0), so a client of uid $UA has no mapping there and SO_PEERCRED gives it as
# 65534. Although rules name uid $UA and everyone (*), the client is denied with the
# unmapped-id reason; root, mapped, is the control.
t_A5_userns() {
	local saved_pid=$DAEMON_PID saved_sock=$DAEMON_SOCK saved_log=$DAEMON_LOG out base n
	if ! unshare --user --map-root-user true 2>/dev/null; then
		echo "    A5 userns: SKIPPED: cannot create a user namespace here"
		return
	fi
	printf '%s\n' "admin uid 0" "allow uid 0 to any mode attached,unbound group implicit" \
		"allow uid $UA to any mode attached,unbound group implicit" \
		"allow * to bdf $DEV_1 mode attached,unbound group implicit" >"$WORK/a5u.conf"
	DAEMON_PID=
	DAEMON_ENV="IOASID_A5=1 unshare --user --map-root-user"
	if daemon_start a5u "$SAMPLE" "$WORK/a5u.conf"; then
		base=$(daemon_fds_settled)
		expect_ne "A5 userns: the daemon runs in another user namespace" \
			"$(readlink /proc/$DAEMON_PID/ns/user)" "$(readlink /proc/self/ns/user)"
		out=$(ctl_as $UA acquire $DEV_1 --json=short </dev/null 2>"$WORK/err")
		expect_eq "A5 userns: the unmapped client is denied (rc)" "$?" 2
		expect_eq "A5 userns: nothing on stdout" "$out" ""
		expect_match "A5 userns: reason" "$(cat "$WORK/err")" "uid 65534 .*unmapped"
		expect_match "A5 userns: audited as 65534" "$(grep 'action=deny ' "$DAEMON_LOG" | tail -1)" \
			"uid=65534 "
		out=$(ctl_as root acquire $DEV_1 --json=short </dev/null 2>/dev/null)
		expect_eq "A5 userns: root, mapped, is served" "$(jq -r .verified <<<"$out")" true
		n=$(daemon_wait_fds "$base") || fail "A5 userns daemon fd count $n, baseline $base (I2)"
		daemon_stop || fail "A5 userns daemon did not stop cleanly"
	else
		fail "A5 userns: ioasidd did not start: $(tail -2 "$DAEMON_LOG" | tr '\n' ' ')"
	fi
	DAEMON_ENV=
	DAEMON_PID=$saved_pid DAEMON_SOCK=$saved_sock DAEMON_LOG=$saved_log
}

# ---------------------------------------------------------------------------------------
# ioasidctl release, permission on the socket, lease-id completion, run's "{{" and its QEMU
# version hint.

t_release() {
	hold_lease R1 $UA $DEV_1 || fail "acquire exited early: $(cat "$R1_err")"
	local id out
	id=$(jq -r .lease "$R1_out")
	# Another tenant: the same answer as for a lease that does not exist.
	ctl_as $UB release "$id" >/dev/null 2>"$WORK/err"
	expect_eq "another uid cannot release it" "$?" 1
	expect_eq "message" "$(cat "$WORK/err")" \
		"ioasidctl: No lease '$id' of yours (it has ended, was revoked, or is another user's)"
	expect_eq "still held" "$(lease_count)" 1
	ctl_as $UA release no-such-lease >/dev/null 2>&1
	expect_eq "unknown id" "$?" 1
	# The holder's uid, from another process and connection.
	out=$(ctl_as $UA release "$id" --json=short)
	expect_eq "release exit" "$?" 0
	expect_eq "release JSON" "$out" "{\"lease\":\"$id\",\"state\":\"released\"}"
	expect_match "release audited" "$(grep 'action=release ' "$DAEMON_LOG" | tail -1)" "lease=$id"
	# acquire still holds the fds: the lease is over; the holder learns it at its release.
	release_lease R1
	expect_eq "the holder learns it at its own release" "$?" 1
	expect_match "holder's message" "$(cat "$R1_err")" "already ended"
	wait_leases 0
	# An admin releases another uid's lease.
	hold_lease R2 $UA $DEV_1 || fail "acquire exited early: $(cat "$R2_err")"
	id=$(jq -r .lease "$R2_out")
	expect_eq "admin releases it" "$(ctl_as root release "$id")" "Lease $id released"
	expect_match "named in the record" "$(grep 'action=release ' "$DAEMON_LOG" | tail -1)" \
		"release by uid 0"
	release_lease R2
	wait_leases 0
	ctl_as $UA release >/dev/null 2>&1
	expect_eq "release without an id" "$?" 64
}

t_socket_permission() {
	# Only the socket's group may connect: a uid outside it gets exit 69 and the group's name.
	local grp
	grp=$(getent group 1 | cut -d: -f1)
	[ -n "$grp" ] || grp=1
	chgrp 1 "$DAEMON_SOCK" && chmod 0660 "$DAEMON_SOCK"
	ctl_as $UA leases >/dev/null 2>"$WORK/err"
	expect_eq "permission denied exits 69" "$?" 69
	expect_eq "message names the group" "$(cat "$WORK/err")" \
		"ioasidctl: Cannot connect to ioasidd at '$DAEMON_SOCK': Permission denied (members of group '$grp' may connect: usermod -aG $grp USER, then log in again)"
	ctl_as $UA acquire $DEV_1 </dev/null >/dev/null 2>&1
	expect_eq "acquire too" "$?" 69
	# A socket of root's group: only root may connect.
	chgrp 0 "$DAEMON_SOCK"
	ctl_as $UA status >/dev/null 2>"$WORK/err"
	expect_eq "root's group: exit 69" "$?" 69
	expect_match "root's group: hint" "$(cat "$WORK/err")" \
		"Permission denied \(only root may connect: set socket-group"
	# In a user namespace that does not map the socket's group (a rootless container without
	# its user's groups), the group shows as the overflow gid: the hint says so instead of
	# naming 65534.
	chgrp 1 "$DAEMON_SOCK"
	if setpriv --reuid=$UA --regid=$UA --clear-groups unshare --user --map-root-user true \
		2>/dev/null; then
		setpriv --reuid=$UA --regid=$UA --clear-groups unshare --user --map-root-user \
			"$B/ioasidctl" --socket="$DAEMON_SOCK" leases >/dev/null 2>"$WORK/err"
		expect_eq "user namespace: exit 69" "$?" 69
		expect_eq "user namespace: hint" "$(cat "$WORK/err")" \
			"ioasidctl: Cannot connect to ioasidd at '$DAEMON_SOCK': Permission denied (the socket's group is not mapped into this user namespace: in a rootless container, a member of that group keeps access with 'podman run --group-add keep-groups')"
	else
		echo "    SKIPPED: no unprivileged user namespaces here (the unmapped-group hint)"
	fi
	chmod 0666 "$DAEMON_SOCK"
	ctl_as $UA leases >/dev/null 2>&1
	expect_eq "connects again once permitted" "$?" 0
}

t_complete_leases() {
	hold_lease C1 $UA $DEV_1 || fail "acquire exited early: $(cat "$C1_err")"
	local id got
	id=$(jq -r .lease "$C1_out")
	got=$(bash --norc --noprofile -c '
		source "$1/ioasidctl/completion.bash"
		COMP_WORDS=("$2" --socket "$3" release ""); COMP_CWORD=4
		_ioasidctl; printf "%s\n" "${COMPREPLY[@]}"' x "$REPO" "$B/ioasidctl" "$DAEMON_SOCK")
	expect_eq "release completes the lease ids" "$got" "$id"
	release_lease C1
	wait_leases 0
}

t_run_braces() {
	local out
	out=$(ctl_as $UA run --device $DEV_1 -- sh -c 'for a; do echo "$a"; done' x \
		'{{iommufd}' '{{{iommufd}' "{{fd:$DEV_1}" '{{' 'a{{b}c' 2>/dev/null)
	expect_eq "exit code" "$?" 0
	expect_eq "{{ is a literal brace" "$(sed -n 1p <<<"$out")" '{iommufd}'
	expect_match "{{{iommufd} is a brace and the fd" "$(sed -n 2p <<<"$out")" '^\{[0-9]+$'
	expect_eq "{{fd:BDF}" "$(sed -n 3p <<<"$out")" "{fd:$DEV_1}"
	expect_eq "{{ alone" "$(sed -n 4p <<<"$out")" '{'
	expect_eq "{{ inside a word" "$(sed -n 5p <<<"$out")" 'a{b}c'
	wait_leases 0
}

t_run_qemu_version() {
	# A QEMU older than 9.0 cannot take the fds: run says so before it runs it. The fake
	# answers --version as Debian 12's QEMU does, and otherwise fails as that QEMU does.
	local bin="$WORK/qemu-bin" v err
	mkdir -p "$bin"
	for v in 7.2.15 9.2.0; do
		mkdir -p "$bin/$v"
		cat >"$bin/$v/qemu-system-x86_64" <<FAKE
#!/bin/sh
[ "\$1" = --version ] && { echo "QEMU emulator version $v (Debian 1:$v+dfsg)"; echo "Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers"; exit 0; }
case $v in 7.*) echo "qemu-system-x86_64: -object iommufd,id=iommufd0,fd=3: Parameter 'qom-type' does not accept value 'iommufd'" >&2; exit 1 ;; esac
echo "ran: \$*"
FAKE
		chmod 0755 "$bin/$v" "$bin/$v/qemu-system-x86_64"
	done
	chmod 0755 "$bin"
	ctl_as $UA run --device $DEV_1 --mode unbound -- "$bin/7.2.15/qemu-system-x86_64" \
		-object "iommufd,id=iommufd0,fd={iommufd}" \
		-device "vfio-pci,iommufd=iommufd0,fd={fd:$DEV_1}" >/dev/null 2>"$WORK/err"
	expect_eq "old QEMU: its own exit status" "$?" 1
	err=$(cat "$WORK/err")
	expect_match "old QEMU: the hint" "$err" \
		"Warning: '.*/qemu-system-x86_64' is QEMU 7, which has no -object iommufd,fd= and no -device vfio-pci,fd= \(QEMU >= 9.0 has them"
	expect_match "old QEMU: then QEMU's own error" "$err" "does not accept value 'iommufd'"
	ctl_as $UA run --device $DEV_1 --mode unbound -- "$bin/9.2.0/qemu-system-x86_64" \
		-object "iommufd,id=iommufd0,fd={iommufd}" >"$WORK/out" 2>"$WORK/err"
	expect_eq "new QEMU: exit" "$?" 0
	expect_eq "new QEMU: no hint" "$(grep -c Warning "$WORK/err")" 0
	expect_match "new QEMU: ran with the fd" "$(cat "$WORK/out")" '^ran: -object iommufd,id=iommufd0,fd=[0-9]+$'
	# No placeholder for the fds: nothing to warn about.
	ctl_as $UA run --device $DEV_1 -- "$bin/7.2.15/qemu-system-x86_64" '{{iommufd}' \
		>/dev/null 2>"$WORK/err"
	expect_eq "old QEMU without fd placeholders: no hint" "$(grep -c Warning "$WORK/err")" 0
	wait_leases 0
}

# libioasid (issue 12 section 4): `make install` into a DESTDIR, an out-of-tree program built
# with `pkg-config --cflags --libs ioasid` alone, run as a tenant against the daemon: connect,
# acquire attached and unbound, list (and ioasidctl sees the same leases), a named error,
# release. The installed library exports exactly the functions of the installed header.
t_libioasid() {
	local root=$WORK/libroot out pc exp got
	rm -rf "$root"
	if ! make -C "$REPO" --no-print-directory B="$B" DESTDIR="$root" install \
		>"$WORK/libinstall.log" 2>&1; then
		fail "make install: $(tail -3 "$WORK/libinstall.log" | tr '\n' ' ')"
		return
	fi
	for f in usr/lib/libioasid.so.0 usr/lib/libioasid.so usr/lib/pkgconfig/ioasid.pc \
		usr/include/ioasid/ioasid.h usr/share/man/man3/libioasid.3 \
		usr/share/varlink/io.ioasid.Broker.varlink usr/share/varlink/io.ioasid.Manager.varlink
	do
		[ -e "$root/$f" ] || fail "not installed: $f"
	done
	# The header stands alone: nothing of the source tree or json-c.
	expect_eq "header includes" "$(grep '^#include' "$root/usr/include/ioasid/ioasid.h" | \
		grep -v -e '<stddef.h>' -e '<stdint.h>')" ""
	exp=$(sed -n 's/^[a-z_0-9 ]*[ *]\(ioasid_[a-z_]*\)(.*/\1/p' \
		"$root/usr/include/ioasid/ioasid.h" | sort)
	got=$(nm -D --defined-only "$root/usr/lib/libioasid.so.0" | awk '$2 != "A" {print $3}' | \
		sed 's/@.*//' | sort)
	expect_eq "exported symbols = the header's functions" "$got" "$exp"
	expect_eq "public functions" "$(wc -l <<<"$exp")" 23
	expect_eq "soname" "$(readelf -d "$root/usr/lib/libioasid.so.0" | \
		sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" libioasid.so.0

	pc=$(PKG_CONFIG_LIBDIR="$root/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root" \
		pkg-config --cflags --libs ioasid) || { fail "pkg-config ioasid"; return; }
	# A library built with sanitizers (make check-asan) needs their runtime first in the
	# program that loads it: the consumer is then built the same way.
	local san=
	readelf -d "$root/usr/lib/libioasid.so.0" | grep -q 'NEEDED.*libasan' &&
		san="-fsanitize=address -fsanitize=undefined"
	# shellcheck disable=SC2086 # pc and san are lists of flags
	if ! cc -std=c11 -Wall -Wextra -Werror $san -o "$WORK/consumer" \
		"$REPO/tests/libioasid/consumer.c" $pc 2>"$WORK/cc.err"; then
		fail "consumer does not build with '$pc': $(head -5 "$WORK/cc.err")"
		return
	fi
	mkdir -p "$WORK/libout" && chmod 0777 "$WORK/libout"
	out=$(setpriv --reuid=$UA --regid="$CLIENT_GID" --clear-groups --inh-caps=-all \
		env IOASID_SOCKET="$DAEMON_SOCK" LD_LIBRARY_PATH="$root/usr/lib" \
		"$WORK/consumer" $DEV_1 $DEV_2 0000:0f:1f.7 \
		"'$B/ioasidctl' leases --json=short >'$WORK/libout/leases.json'" 2>&1)
	expect_eq "consumer exit" "$?" 0
	local la lu
	la=$(sed -n 's/^acquired attached lease=\([^ ]*\) .*/\1/p' <<<"$out")
	lu=$(sed -n 's/^acquired unbound lease=\([^ ]*\) .*/\1/p' <<<"$out")
	expect_match "attached" "$out" \
		$'acquired attached lease=[^ ]+ mode=attached iommufd=[^ ]*ioasid-sim:iommufd:[0-9]+ [^ ]* ioas=[0-9]+ devices=1\n  device '"$DEV_1"' fd=[^ ]*ioasid-sim:vfio:'"$DEV_1"
	expect_match "unbound" "$out" \
		$'acquired unbound lease=[^ ]+ mode=unbound iommufd=[^ ]*ioasid-sim:iommufd:[0-9]+ [^ ]* ioas=-1 devices=1\n  device '"$DEV_2"' fd=[^ ]*ioasid-sim:vfio:'"$DEV_2"
	expect_ne "two leases" "$la" "$lu"
	expect_match "listed" "$out" $'leases: 2\n'
	expect_match "listed attached" "$out" "  lease $la mode=attached state=active devices=$DEV_1"
	expect_match "listed unbound" "$out" "  lease $lu mode=unbound state=active devices=$DEV_2"
	expect_eq "ioasidctl sees them" "$(jq -r '[.[].id] | sort | join(" ")' \
		"$WORK/libout/leases.json" 2>&1)" "$(printf '%s\n' "$la" "$lu" | sort | xargs)"
	expect_match "named error" "$out" \
		'missing device: r=-EREMOTEIO error=io\.ioasid\.Broker\.NoSuchDevice message=[^\n]*0000:0f:1f\.7[^\n]* grant=none'
	expect_match "released" "$out" "released $la $lu"
	expect_match "release again" "$out" \
		'release again: r=-EREMOTEIO error=io\.ioasid\.Broker\.NoSuchLease'
	expect_match "none after" "$out" $'leases after release: 0\ndone$'
	[ $CUR_OK = 1 ] || echo "$out" | sed 's/^/      /'
	wait_leases 0
}

# ---------------------------------------------------------------------------------------

echo "integration: ioasidd $(daemon_cmdline HOST POLICY SOCK | cut -d' ' -f2-)"
run_test acquire-attached t_acquire_attached
run_test acquire-unbound t_acquire_unbound
run_test lease-held-listed t_lease_held_and_listed
run_test leases-revoke t_leases_filtered_and_revoke
run_test wire-names t_wire_names
run_test stage t_stage_consume_drop
run_test stage-owner t_stage_owner
run_test reload-revokes t_reload_revokes
run_test memlock t_memlock
run_test run-expands t_run_expands
run_test run-signal t_run_signal
run_test run-holds-lease t_run_holds_lease
run_test run-wrapper-dies t_run_wrapper_dies
run_test acquire-client-passes-fds t_acquire_client_passes_fds
run_test run-fds-from-3 t_run_fds_from_3
run_test release t_release
run_test socket-permission t_socket_permission
run_test complete-leases t_complete_leases
run_test run-braces t_run_braces
run_test run-qemu-version t_run_qemu_version
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
run_test vdpa-cross-framework t_vdpa_cross_framework
run_test vdpa-lease t_vdpa_lease
run_test audit-acquire-release t_audit_acquire_release
run_test audit-admin t_audit_admin
run_test audit-flood t_audit_flood
run_test audit-big-uid t_audit_big_uid
run_test audit-no-pidfd t_audit_no_pidfd
run_test unit-identity t_U_units
run_test G4 t_G4_hidepid
run_test A8 t_A8_no_peerpidfd
run_test A11 t_A11_tenant_not_admin
run_test B8 t_B8_noiommu
run_test B9 t_B9_only_granted
run_test C10 t_C10_cloexec
run_test A5-userns t_A5_userns
run_test B7 t_B7_shared_reset
run_test B10 t_B10_pf_vf
run_test dependents-granted t_dependents_granted
run_test monitor t_monitor
run_test libioasid t_libioasid

daemon_stop || { echo "integration: ioasidd did not stop cleanly"; FAILED=$((FAILED + 1)); }
if [ "$(sanitizer_reports)" != "$SAN_SEEN" ]; then
	echo "integration: sanitizer report at ioasidd's exit:"
	grep -h -A5 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK"/*.log | tail -20
	FAILED=$((FAILED + 1))
	FAILED_NAMES+=(sanitizer-at-exit)
fi
echo "integration: $PASSED passed, $FAILED failed${FAILED_NAMES:+ (${FAILED_NAMES[*]})}"
[ "$FAILED" = 0 ]
