# SPDX-License-Identifier: LGPL-2.1-or-later
# SD: the guest half of "sim vs real", a step (VMSTEP), not a test: it passes nothing by
# itself. Prints the guest's host model (`ioasidctl snapshot`,
# after the vfio-pci binding) between VMSNAP-BEGIN/VMSNAP-END, the BDFs as VMOCVAR lines and
# one VMOUTCOME line per step of scenarios/outcomes.sh run against the real kernel. run.sh
# extracts them into $B/vm/ and tests/vm/simdiff.sh replays the same steps on the sim.

oc_daemon() { # policy [ioasidd args]
	_p=$1
	shift
	mkdir -p /run/ioasid
	rm -f "$OC_SOCK"
	oc_daemon_caps "$OC_IOASIDD" --kernel=linux --config="$_p" --socket="$OC_SOCK" "$@" \
		>>/tmp/oc-ioasidd.log 2>&1 </dev/null &
	OC_DAEMON_PID=$!
	_k=0
	while [ ! -S "$OC_SOCK" ] && [ $_k -lt 100 ]; do
		kill -0 "$OC_DAEMON_PID" 2>/dev/null || break
		sleep 0.1
		_k=$((_k + 1))
	done
	[ -S "$OC_SOCK" ]
}

oc_daemon_stop() {
	kill "$OC_DAEMON_PID" 2>/dev/null
	wait "$OC_DAEMON_PID" 2>/dev/null
}

oc_as() { # uid cmd...: with the RLIMIT_MEMLOCK both sides give their clients
	if [ "$1" = 0 ]; then
		shift
		(ulimit -l "$OC_MEMLOCK_KB" && exec "$@")
	else
		(ulimit -l "$OC_MEMLOCK_KB" && as_uid "$@")
	fi
}

oc_host_ctl() { ioasidctl "$@"; }
oc_emit() { echo "VMOUTCOME $1 $2 $3"; }

scenario_SD() {
	local snap v n
	OC_CTL=ioasidctl OC_RAW=rawclient OC_IOASIDD=ioasidd OC_IOASIDD_BYPASS=ioasidd-bypass
	OC_SOCK=/run/ioasid/oc.sock OC_DIR=/tmp/oc OC_SOCKET_GROUP_LINE="socket-group ioasid-clients"
	mkdir -p "$OC_DIR"
	chmod 0755 "$OC_DIR"
	if ! snap=$(ioasidctl snapshot 2>&1); then
		step SD FAIL "ioasidctl snapshot: $snap"
		return
	fi
	echo "VMSNAP-BEGIN"
	echo "$snap"
	echo "VMSNAP-END"
	for v in EDU_SINGLE EDU_MF TESTDEV_MF EDU_BR TESTDEV_BR EDU_HOSTGRP; do
		eval "echo \"VMOCVAR $v=\$$v\""
	done
	oc_run_all
	n=$(grep -c . /tmp/oc-ioasidd.log 2>/dev/null)
	info SD "outcome daemons logged $n lines"
	# A step: the comparison on the host (vm: SIMDIFF lines) is the test.
	step SD done "snapshot and outcome records of $OC_SCENARIOS printed (compared on the host)"
}
