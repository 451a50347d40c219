# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the daemon scenarios (S2..S10): a real ioasidd --kernel=linux in the guest with
# a test policy, clients as unprivileged uids through setpriv.

SOCK=/run/ioasid/ioasidd.sock
DAEMON_PID=
UID_A=1000 # tester
UID_B=1001 # other

daemon_start() { # [extra ioasidd args...]
	mkdir -p /run/ioasid /etc/ioasid
	cat >/etc/ioasid/ioasid.conf <<-POL
	# real-kernel tier policy
	socket-group ioasid-clients
	admin uid 0
	${DAEMON_POLICY_FIRST:-}
	allow uid $UID_A to any mode attached,unbound group implicit
	allow uid $UID_B to any mode attached,unbound group implicit
	POL
	rm -f "$SOCK"
	${IOASIDD:-ioasidd} --kernel=linux --config=/etc/ioasid/ioasid.conf --socket="$SOCK" "$@" \
		>/tmp/ioasidd.log 2>&1 </dev/null &
	DAEMON_PID=$!
	i=0
	while [ ! -S "$SOCK" ] && [ $i -lt 100 ]; do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	if [ ! -S "$SOCK" ]; then
		echo "VMINFO daemon did not start: $(tail -n 5 /tmp/ioasidd.log | tr '\n' ' ')"
		DAEMON_PID=
		return 1
	fi
	return 0
}

daemon_stop() {
	[ -n "$DAEMON_PID" ] || return 0
	kill "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	tail -n 20 /tmp/ioasidd.log | sed 's/^/VMINFO ioasidd: /'
}

as_uid() { # uid cmd...: run as an unprivileged uid with no capabilities, in the socket's group
	u=$1
	shift
	# Absolute path: busybox ash prefers its own (smaller) setpriv applet to $PATH.
	/usr/bin/setpriv --reuid="$u" --regid="$u" --groups=1500 --inh-caps=-all "$@"
}

ctl_as() { # uid ioasidctl-args...
	u=$1
	shift
	if [ "$u" = 0 ]; then
		ioasidctl --socket="$SOCK" "$@"
	else
		as_uid "$u" ioasidctl --socket="$SOCK" "$@"
	fi
}

# Report one scenario from vm-edu output: id, exit code, output, pass text.
edu_result() {
	id=$1 rc=$2 out=$3 what=$4
	echo "$out" | sed "s/^/VMINFO $id /"
	if [ "$rc" = 0 ]; then
		result "$id" PASS "$what"
	else
		result "$id" FAIL "exit $rc: $(echo "$out" | grep -E 'error=|ioasidctl:' | head -n1)"
	fi
}
