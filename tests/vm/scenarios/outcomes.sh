# SPDX-License-Identifier: LGPL-2.1-or-later
# Sim vs real: the daemon-level steps of S2..S8 and B1, written once and run twice, by the
# guest against the real kernel (scenario SD in guest-init) and by tests/vm/simdiff.sh on the
# build host against `ioasidd --kernel=sim --host=<the guest's snapshot>`. Each step emits one
# outcome record "<scenario> <step> <json>": what the client got (reply, fd count and the
# files the fds are, or the named error with its parameters), exit codes, lease lists and
# viability verdicts. What only real DMA can show (round trips, DMAR faults) stays in S2..S8.
#
# Both sides run alike so that a record is what a user sees, compared whole: the daemons
# without CAP_SYS_RESOURCE (a build host's container may withhold it, so the guest drops it
# too), every client with RLIMIT_MEMLOCK $OC_MEMLOCK_KB KiB (soft and hard), stderr kept.
#
# POSIX sh (busybox ash in the guest, bash on the host). The backend defines:
#   oc_daemon POLICY [ioasidd args]  start $OC_IOASIDD on $OC_SOCK with POLICY, through
#                                     oc_daemon_caps; 0 when up
#   oc_daemon_stop                    stop it
#   oc_as UID CMD...                  run CMD as UID, a client in the socket's group (0: root)
#   oc_host_ctl ARGS...               ioasidctl inspecting the host the daemon models
#   oc_emit ID STEP JSON              keep one record
# and sets OC_CTL, OC_RAW (ioasidctl, rawclient), OC_IOASIDD, OC_IOASIDD_BYPASS, OC_SOCK,
# OC_DIR (scratch), OC_SOCKET_GROUP_LINE and the BDFs EDU_SINGLE EDU_MF TESTDEV_MF EDU_BR
# TESTDEV_BR EDU_HOSTGRP. S12 runs in a boot of its own (QEMU's igb) and uses IGB_PF, IGB_VF0
# and IGB_VF1 instead; its guest half is scenarios/s12-sriov.sh.

OC_SCENARIOS="S2 S3 S4 S5 S6 S7 S8 B1"
OC_MEMLOCK_KB=4096

# The daemon's command line prefix on both sides: root's capabilities minus CAP_SYS_RESOURCE.
oc_daemon_caps() { /usr/bin/setpriv --bounding-set=-sys_resource --inh-caps=-sys_resource "$@"; }

# stderr as a JSON string.
oc_err() { jq -Rs . <"$1"; }

oc_policy() { # file [extra policy lines]: the same policy on both backends
	cat >"$1" <<-POL
	# sim-vs-real outcome policy
	${OC_SOCKET_GROUP_LINE:-}
	admin uid 0
	${2:-}
	allow uid 1000 to any mode attached,unbound group implicit
	allow uid 1001 to any mode attached,unbound group implicit
	POL
}

oc_start() { # id [extra policy lines [ioasidd args...]]: policy + daemon, records a failure
	_id=$1 _extra=${2:-}
	shift
	[ $# -gt 0 ] && shift
	oc_policy "$OC_DIR/$_id.conf" "$_extra"
	if oc_daemon "$OC_DIR/$_id.conf" "$@"; then
		return 0
	fi
	oc_emit "$_id" daemon '{"started":false}'
	return 1
}

# A JSON value from a command's stdout, or null when it printed nothing.
oc_json() { [ -n "$1" ] && echo "$1" || echo null; }

# A client's files are released at its exit on the kernel's own time: the last reference to
# a device file can go after the socket close the daemon sees first, and the daemon then
# holds the group for the ended lease until a probe finds it free (the sim releases at once).
# Before a step, wait (up to 5 s) until no ended lease is listed, so that both backends start
# it from the same state; a lease still held after that is the step's to show.
oc_settle() {
	_n=0
	while [ "$_n" -lt 50 ]; do
		_e=$(oc_as 0 "$OC_CTL" --socket="$OC_SOCK" leases --json=short 2>/dev/null |
			jq '[.[] | select(.state == "ended")] | length' 2>/dev/null)
		[ "${_e:-0}" = 0 ] && return 0
		sleep 0.1
		_n=$((_n + 1))
	done
	return 0
}

oc_raw_acquire() { # id step uid params-json: one Acquire over a raw connection
	oc_settle
	_o=$(oc_as "$3" "$OC_RAW" "$OC_SOCK" --timeout 20 --replies 1 \
		"{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":$4}" 2>"$OC_DIR/raw.err" | head -n 1)
	[ -s "$OC_DIR/raw.err" ] && _o="{\"reply\":$(oc_json "$_o"),\"stderr\":$(oc_err "$OC_DIR/raw.err")}"
	oc_emit "$1" "$2" "$(oc_json "$_o")"
}

oc_acquire() { # id step uid ioasidctl-acquire-args...: acquire, print, release (stdin EOF)
	_i=$1 _s=$2 _u=$3
	shift 3
	oc_settle
	_o=$(oc_as "$_u" "$OC_CTL" --socket="$OC_SOCK" acquire "$@" --json=short </dev/null 2>"$OC_DIR/acq.err")
	_rc=$?
	oc_emit "$_i" "$_s" "{\"exit\":$_rc,\"result\":$(oc_json "$_o"),\"stderr\":$(oc_err "$OC_DIR/acq.err")}"
}

oc_leases() { # id step: the lease list as root sees it
	oc_settle
	_o=$(oc_as 0 "$OC_CTL" --socket="$OC_SOCK" leases --json=short 2>/dev/null)
	oc_emit "$1" "$2" "$(oc_json "$_o")"
}

oc_hold() { # name uid ioasidctl-acquire-args...: a holder keeping its lease until oc_unhold
	_n=$1 _u=$2
	shift 2
	rm -f "$OC_DIR/$_n.fifo" "$OC_DIR/$_n.out" "$OC_DIR/$_n.err"
	mkfifo -m 0666 "$OC_DIR/$_n.fifo"
	oc_as "$_u" "$OC_CTL" --socket="$OC_SOCK" acquire "$@" --json=short \
		<"$OC_DIR/$_n.fifo" >"$OC_DIR/$_n.out" 2>"$OC_DIR/$_n.err" &
	eval "OC_PID_$_n=$!"
	exec 8>"$OC_DIR/$_n.fifo"
	_k=0
	while [ ! -s "$OC_DIR/$_n.out" ] && [ $_k -lt 200 ]; do
		eval "kill -0 \$OC_PID_$_n" 2>/dev/null || break
		sleep 0.1
		_k=$((_k + 1))
	done
}

oc_unhold() { # id step name: close the holder's stdin, record what it printed and its exit
	exec 8>&-
	eval "wait \$OC_PID_$3"
	_rc=$?
	oc_emit "$1" "$2" "{\"exit\":$_rc,\"result\":$(oc_json "$(cat "$OC_DIR/$3.out")"),\"stderr\":$(oc_err "$OC_DIR/$3.err")}"
}

oc_S2() {
	oc_start S2 || return
	oc_raw_acquire S2 raw-attached 1000 "{\"devices\":[\"$EDU_SINGLE\"],\"mode\":\"attached\"}"
	oc_acquire S2 acquire-attached 1000 "$EDU_SINGLE" --mode attached
	oc_leases S2 leases-after
	# Two devices of one group in one lease: object ids of two binds sharing one domain.
	oc_raw_acquire S2 raw-group-pair 1000 \
		"{\"devices\":[\"$EDU_MF\",\"$TESTDEV_MF\"],\"mode\":\"attached\"}"
	oc_daemon_stop
}

oc_S3() {
	oc_start S3 || return
	oc_raw_acquire S3 raw-unbound 1000 "{\"devices\":[\"$EDU_SINGLE\"],\"mode\":\"unbound\"}"
	oc_acquire S3 acquire-unbound 1000 "$EDU_SINGLE" --mode unbound
	oc_daemon_stop
}

oc_S4_pass() { # tag
	oc_hold s4a 1000 "$EDU_MF"
	oc_raw_acquire S4 "$1-sibling" 1001 "{\"devices\":[\"$TESTDEV_MF\"]}"
	oc_leases S4 "$1-leases-held"
	oc_unhold S4 "$1-holder" s4a
}

oc_S4() {
	oc_start S4 || return
	oc_S4_pass daemon
	oc_daemon_stop
	# The daemon's bookkeeping bypassed: the kernel alone refuses the second owner.
	_d=$OC_IOASIDD
	OC_IOASIDD=$OC_IOASIDD_BYPASS
	if oc_start S4 "" --testing-bypass-ownership; then
		oc_S4_pass bypass
		oc_daemon_stop
	fi
	OC_IOASIDD=$_d
}

oc_S5() {
	_g=$(oc_host_ctl groups --json=short 2>/dev/null)
	oc_emit S5 groups "$(oc_json "$_g")"
	oc_start S5 || return
	oc_raw_acquire S5 raw-hostgrp 1000 "{\"devices\":[\"$EDU_HOSTGRP\"]}"
	oc_daemon_stop
	# The daemon's viability model bypassed: the kernel's BIND refuses the attached lease
	# (EPERM), the unbound one is handed out (the holder's own BIND fails later, guest S5).
	_d=$OC_IOASIDD
	OC_IOASIDD=$OC_IOASIDD_BYPASS
	if oc_start S5 "" --testing-bypass-ownership; then
		oc_raw_acquire S5 bypass-attached 1000 \
			"{\"devices\":[\"$EDU_HOSTGRP\"],\"mode\":\"attached\"}"
		oc_raw_acquire S5 bypass-unbound 1000 \
			"{\"devices\":[\"$EDU_HOSTGRP\"],\"mode\":\"unbound\"}"
		oc_daemon_stop
	fi
	OC_IOASIDD=$_d
}

oc_S6() {
	oc_start S6 || return
	oc_hold s6a 1000 "$EDU_SINGLE" --mode attached
	oc_leases S6 leases-held
	_l=$(oc_as 0 "$OC_CTL" --socket="$OC_SOCK" leases --json=short 2>/dev/null |
		jq -r '.[0].id // empty')
	oc_as 0 "$OC_CTL" --socket="$OC_SOCK" revoke "$_l" >/dev/null 2>&1
	oc_emit S6 revoke "{\"exit\":$?}"
	oc_unhold S6 holder s6a
	oc_daemon_stop
}

oc_S7() {
	oc_start S7 || return
	oc_acquire S7 first 1000 "$EDU_SINGLE" --mode attached
	oc_acquire S7 second 1001 "$EDU_SINGLE" --mode attached
	oc_leases S7 leases-after
	oc_daemon_stop
}

oc_S8() {
	oc_start S8 "layout msiwide { iova 0x0-0xffffffff }
layout low { iova 0x100000-0x7fffffff }
allow uid 1000 to any mode attached layout msiwide,low" || return
	oc_raw_acquire S8 raw-msiwide 1000 "{\"devices\":[\"$EDU_SINGLE\"],\"layout\":\"msiwide\"}"
	# A window clear of the MSI region is granted.
	oc_raw_acquire S8 raw-low 1000 "{\"devices\":[\"$EDU_SINGLE\"],\"layout\":\"low\"}"
	oc_daemon_stop
}

oc_B1() {
	oc_start B1 || return
	oc_raw_acquire B1 raw-bridge 1000 "{\"devices\":[\"$EDU_BR\"],\"mode\":\"attached\"}"
	oc_raw_acquire B1 raw-bridge-pair 1000 \
		"{\"devices\":[\"$EDU_BR\",\"$TESTDEV_BR\"],\"mode\":\"attached\"}"
	oc_daemon_stop
}

# S12: the PF (on vfio-pci, with two VFs) leased to uid 1000 in attached mode: uid 1001's VF
# is refused naming the PF, 1000 takes a VF of its own PF; the other way round, 1001 holds a
# VF and 1000's PF is refused naming it. With split-sriov grants on both rules the daemon lets
# 1001 have the VF: in attached mode it binds it, where the kernel's VF-token rule (6.17+)
# or its absence (before) answers.
oc_S12() {
	oc_start S12 || return
	oc_hold s12a 1000 "$IGB_PF" --mode attached
	oc_raw_acquire S12 vf-while-pf-held 1001 "{\"devices\":[\"$IGB_VF0\"],\"mode\":\"unbound\"}"
	oc_acquire S12 own-vf-while-pf-held 1000 "$IGB_VF1" --mode unbound
	oc_unhold S12 pf-holder s12a
	oc_hold s12b 1001 "$IGB_VF0" --mode unbound
	oc_raw_acquire S12 pf-while-vf-held 1000 "{\"devices\":[\"$IGB_PF\"],\"mode\":\"attached\"}"
	oc_unhold S12 vf-holder s12b
	oc_daemon_stop
	oc_start S12 "allow uid 1000 to any mode attached,unbound split-sriov yes
allow uid 1001 to any mode attached,unbound split-sriov yes" || return
	oc_hold s12c 1000 "$IGB_PF" --mode attached
	oc_raw_acquire S12 split-vf-attached 1001 "{\"devices\":[\"$IGB_VF0\"],\"mode\":\"attached\"}"
	oc_raw_acquire S12 split-vf-unbound 1001 "{\"devices\":[\"$IGB_VF1\"],\"mode\":\"unbound\"}"
	oc_unhold S12 split-pf-holder s12c
	oc_leases S12 leases-after
	oc_daemon_stop
}

oc_run_all() {
	for _sc in $OC_SCENARIOS; do "oc_$_sc"; done
}
