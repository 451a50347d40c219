# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by tests/integration/run.sh, tests/demo.sh and tests/bench/acquire.sh: start a real
# ioasidd on a temporary socket with the sim kernel, run clients as other uids, count fds.
#
# Callers set nothing; they get:
#   REPO B      the source tree and the build dir
#   WORK        a temp dir (0755 so other uids reach the socket), removed by lib_cleanup
#   daemon_start NAME HOSTFILE POLICYFILE [EXTRA ARGS...]  -> DAEMON_PID DAEMON_SOCK
#   daemon_stop            stops the current daemon, checks it exits and removes its socket
#   daemon_fds             the daemon's open fd count
#   ctl_as UID ARGS...     ioasidctl as uid UID (gid CLIENT_GID) on the daemon's socket
#   raw_as UID ARGS...     rawclient as uid UID on the daemon's socket

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${B:-build}
case "$B" in /*) ;; *) B="$REPO/$B" ;; esac

# The unprivileged clients: plain uids without passwd entries (setpriv needs none, policy
# rules name them with 'uid N'), and a gid they share. Nothing in /etc is touched.
CLIENT_GID=${CLIENT_GID:-4700}

DAEMON_PID=
DAEMON_SOCK=
DAEMON_LOG=
WORK=

lib_init() {
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/ioasid-it.XXXXXX")
	chmod 0755 "$WORK"
	trap lib_cleanup EXIT
}

lib_cleanup() {
	local rc=$?
	[ -n "$DAEMON_PID" ] && daemon_stop >/dev/null 2>&1
	# Background holders started by hold_lease.
	jobs -p | xargs -r kill 2>/dev/null
	# A scratch cgroup tree a test made (its processes are gone by now), deepest first.
	[ -n "${CGROUP_SCRATCH:-}" ] && [ -d "$CGROUP_SCRATCH" ] &&
		find "$CGROUP_SCRATCH" -depth -type d -exec rmdir {} + 2>/dev/null
	[ -n "$WORK" ] && rm -rf "$WORK"
	return $rc
}

# The daemon's command line for the sim kernel on HOSTFILE with POLICYFILE on SOCK. With
# VALGRIND=1 it runs under valgrind --track-fds (make check-valgrind); its report goes to
# SOCK's name with .vg, which daemon_stop checks.
daemon_cmdline() {
	local host=$1 policy=$2 sock=$3
	shift 3
	if [ "${VALGRIND:-0}" = 1 ]; then
		echo valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
			--track-fds=yes --log-file="${sock%.sock}.vg" \
			"$B/ioasidd" --kernel=sim --host="$host" --config="$policy" --socket="$sock" "$@"
	else
		echo "$B/ioasidd" --kernel=sim --host="$host" --config="$policy" --socket="$sock" "$@"
	fi
}

# daemon_start NAME HOSTFILE POLICYFILE [EXTRA...]: starts ioasidd in the foreground (in
# the background of this shell) and waits until its socket accepts connections.
# Environment for the daemon: DAEMON_ENV (e.g. "LD_PRELOAD=..."); a command it runs under:
# DAEMON_WRAP (e.g. "unshare --cgroup", which execs, so DAEMON_PID stays the daemon's).
# IT_HIDEPID=1 runs every daemon without a DAEMON_WRAP of its own as ioasidd.service's
# ProtectProc=invisible would (hidepid.sh: adversarial case G4 over the whole tier).
daemon_start() {
	local name=$1 host=$2 policy=$3
	shift 3
	DAEMON_SOCK="$WORK/$name.sock"
	DAEMON_LOG="$WORK/$name.log"
	rm -f "$DAEMON_SOCK"
	# shellcheck disable=SC2046
	local wrap=${DAEMON_WRAP:-}
	[ "${IT_HIDEPID:-0}" = 1 ] && [ -z "$wrap" ] &&
		wrap="unshare -m --propagation private $REPO/tests/integration/hidepid.sh 0"
	env ${DAEMON_ENV:-} $wrap $(daemon_cmdline "$host" "$policy" "$DAEMON_SOCK" "$@") \
		>"$DAEMON_LOG" 2>&1 </dev/null &
	DAEMON_PID=$!
	local tries=100
	[ "${VALGRIND:-0}" = 1 ] && tries=600
	for _ in $(seq $tries); do
		if [ -S "$DAEMON_SOCK" ] && "$B/rawclient" "$DAEMON_SOCK" --connect-only --timeout 0 \
			2>/dev/null | grep -q '"timeout"'; then
			chmod 0666 "$DAEMON_SOCK" 2>/dev/null || true
			# Warm up once so lazily opened fds (journal, ...) are part of any baseline.
			"$B/rawclient" "$DAEMON_SOCK" --timeout 2 --replies 1 \
				'{"method":"io.ioasid.Broker.ListLeases"}' >/dev/null 2>&1
			return 0
		fi
		if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			wait "$DAEMON_PID" 2>/dev/null
			DAEMON_RC=$?
			DAEMON_PID=
			return 1
		fi
		sleep 0.05
	done
	echo "ioasidd did not come up; log:" >&2
	cat "$DAEMON_LOG" >&2
	return 1
}

daemon_alive() {
	[ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null
}

daemon_stop() {
	local rc=0
	[ -z "$DAEMON_PID" ] && return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -KILL "$DAEMON_PID" 2>/dev/null
		rc=1
	fi
	wait "$DAEMON_PID" 2>/dev/null
	[ $? = 99 ] && rc=1 # valgrind found errors
	DAEMON_PID=
	[ -e "$DAEMON_SOCK" ] && { rm -f "$DAEMON_SOCK"; rc=1; }
	# valgrind --track-fds: an fd still open at exit that the daemon opened itself (it has a
	# stack, not "<inherited from parent>") is a leak.
	local vg="${DAEMON_SOCK%.sock}.vg"
	if [ -s "$vg" ]; then
		if awk '/Open (file descriptor|AF_UNIX socket) [0-9]+:/ { getline nx;
			if (nx !~ /inherited from parent/) leak = 1 } END { exit !leak }' "$vg"; then
			rc=1
		fi
		grep -q -E 'definitely lost|Invalid (read|write)|uninitialised' "$vg" && rc=1
		[ $rc = 0 ] || cat "$vg" >&2
	fi
	return $rc
}

daemon_fds() {
	ls "/proc/$DAEMON_PID/fd" 2>/dev/null | wc -l
}

# The daemon's fd count once it is stable (the same over 4 samples 50 ms apart).
daemon_fds_settled() {
	local last=-1 same=0 n
	for _ in $(seq 60); do
		n=$(daemon_fds)
		if [ "$n" = "$last" ]; then
			same=$((same + 1))
			[ $same -ge 3 ] && break
		else
			same=0
		fi
		last=$n
		sleep 0.05
	done
	echo "$n"
}

# Waits (up to 3 s) for the daemon's fd count to return to $1; prints the last count.
daemon_wait_fds() {
	local want=$1 n
	for _ in $(seq 60); do
		n=$(daemon_fds)
		[ "$n" = "$want" ] && { echo "$n"; return 0; }
		sleep 0.05
	done
	echo "$n"
	return 1
}

# ctl_as UID ARGS...: ioasidctl as UID. UID "root" runs without setpriv.
ctl_as() {
	local uid=$1
	shift
	if [ "$uid" = root ] || [ "$uid" = 0 ]; then
		IOASID_SOCKET="$DAEMON_SOCK" "$B/ioasidctl" "$@"
	else
		setpriv --reuid="$uid" --regid="$CLIENT_GID" --clear-groups --inh-caps=-all \
			env IOASID_SOCKET="$DAEMON_SOCK" "$B/ioasidctl" "$@"
	fi
}

# ctl_bg UID ARGS...: like ctl_as, for `ctl_bg ... &`: the background job execs, so $! is
# ioasidctl's own pid (signals reach it, not a wrapping subshell).
ctl_bg() {
	local uid=$1
	shift
	if [ "$uid" = root ] || [ "$uid" = 0 ]; then
		IOASID_SOCKET="$DAEMON_SOCK" exec "$B/ioasidctl" "$@"
	else
		exec setpriv --reuid="$uid" --regid="$CLIENT_GID" --clear-groups --inh-caps=-all \
			env IOASID_SOCKET="$DAEMON_SOCK" "$B/ioasidctl" "$@"
	fi
}

raw_as() {
	local uid=$1
	shift
	if [ "$uid" = root ] || [ "$uid" = 0 ]; then
		"$B/rawclient" "$DAEMON_SOCK" "$@"
	else
		setpriv --reuid="$uid" --regid="$CLIENT_GID" --clear-groups --inh-caps=-all \
			"$B/rawclient" "$DAEMON_SOCK" "$@"
	fi
}

# hold_lease VAR UID ARGS...: runs `ioasidctl acquire ARGS --json=short` as UID with stdin
# on a fifo, so the lease is held until release_lease VAR. Waits for the JSON (or the exit).
# Sets VAR_pid, VAR_out, VAR_fd. Returns ioasidctl's exit code if it ended, else 0.
hold_lease() {
	local var=$1 uid=$2
	shift 2
	local fifo="$WORK/$var.fifo" out="$WORK/$var.out" err="$WORK/$var.err" fd
	rm -f "$fifo"
	mkfifo -m 0666 "$fifo"
	ctl_bg "$uid" acquire "$@" --json=short <"$fifo" >"$out" 2>"$err" &
	local pid=$!
	exec {fd}>"$fifo"
	printf -v "${var}_pid" %s "$pid"
	printf -v "${var}_out" %s "$out"
	printf -v "${var}_err" %s "$err"
	printf -v "${var}_fd" %s "$fd"
	local tries=100
	[ "${VALGRIND:-0}" = 1 ] && tries=600
	for _ in $(seq $tries); do
		[ -s "$out" ] && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			return $?
		fi
		sleep 0.05
	done
	return 0
}

# release_lease VAR: closes the holder's stdin; returns its exit code.
release_lease() {
	local var=$1
	local fdv="${var}_fd" pidv="${var}_pid"
	eval "exec ${!fdv}>&-"
	wait "${!pidv}"
}

# gen_host N: a synthetic host with N vfio-pci devices, each alone in its IOMMU group.
gen_host() {
	local n=$1 i bus dev fn first=1
	printf '{"format":"ioasid-host","version":1,"hostname":"synthetic",'
	printf '"kernel":{"release":"6.12.0","cmdline":"intel_iommu=on iommu=pt","iommu_units":["dmar0"],'
	printf '"iommu_vendor":"intel","interrupt_remapping":true,"address_width":48,"iommufd":true,'
	printf '"vfio_cdev":true,"vfio_pci":true,"vfio_legacy":false,"noiommu_mode":false},'
	printf '"groups":['
	for ((i = 0; i < n; i++)); do
		bus=$((i / 32 + 1)); dev=$((i % 32)); fn=0
		[ $first = 1 ] || printf ','
		first=0
		printf '{"group":%d,"type":"DMA","reserved_regions":[{"start":"0x00000000fee00000","end":"0x00000000feefffff","type":"msi"}],"devices":["0000:%02x:%02x.%d"]}' \
			$((i + 1)) $bus $dev $fn
	done
	printf '],"devices":['
	first=1
	for ((i = 0; i < n; i++)); do
		bus=$((i / 32 + 1)); dev=$((i % 32)); fn=0
		[ $first = 1 ] || printf ','
		first=0
		printf '{"bdf":"0000:%02x:%02x.%d","vendor":"1af4","device":"1041","subsystem_vendor":"1af4","subsystem_device":"1100","class":"020000","revision":"01","vendor_name":null,"device_name":null,"driver":"vfio-pci","iommu_group":%d,"vfio":{"name":"vfio%d","dev":"510:%d","noiommu":false},"numa_node":-1,"parent":null,"netdevs":[],"properties":{}}' \
			$bus $dev $fn $((i + 1)) "$i" "$i"
	done
	printf ']}\n'
}
