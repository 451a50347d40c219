#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Benchmark section "acquire" (called by tests/bench/run.sh): ioasidd with the sim kernel on a
# synthetic 4096-device host; build/bench-acquire measures acquire+release of one device
# (attached) 10 000 times against floors measured in the same run: a bare socketpair+SCM_RIGHTS
# round trip, and the same round trip whose server does the acquire's kernel work itself
# (its own sim kernel on the same snapshot: iommufd, IOAS, device open, bind, attach, the fds
# closed at release), so that the ratio is what the daemon adds to that work; then 64
# concurrent clients, and the daemon's VmRSS idle and after.
# Targets (reported, never asserted): p50 within 3x of the floor with the kernel work (the
# bare floor's ratio is printed next to it); with 64 clients p99 at most 10x p50; daemon RSS
# under 8 MiB.
#
#   ITERATIONS=10000 CLIENTS=64 tests/bench/acquire.sh

set -u
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

ITERATIONS=${ITERATIONS:-10000}
CLIENTS=${CLIENTS:-64}
DEVICES=${DEVICES:-4096}

echo "== bench: acquire"
if [ "$(id -u)" != 0 ]; then
	echo "bench acquire: SKIPPED: needs root (the daemon runs as root)"
	exit 0
fi
for f in ioasidd bench-acquire rawclient; do
	[ -x "$B/$f" ] || { echo "bench acquire: SKIPPED: $B/$f is not built"; exit 0; }
done

lib_init
host="$WORK/host-$DEVICES.json"
gen_host "$DEVICES" >"$host"
cat >"$WORK/bench.conf" <<POL
admin uid 0
allow uid 0 to any mode attached,unbound
POL
if ! daemon_start bench "$host" "$WORK/bench.conf"; then
	echo "bench acquire: ioasidd did not start:"
	cat "$DAEMON_LOG"
	exit 1
fi
# One device per concurrent client, each alone in its group (gen_host), none the first.
jq -r '.devices[].bdf' "$host" | sed -n "2,$((CLIENTS + 1))p" >"$WORK/devices.txt"
first=$(jq -r '.devices[0].bdf' "$host")

echo "host: $DEVICES devices (synthetic), sim kernel; $(nproc) CPUs; daemon pid $DAEMON_PID"
"$B/bench-acquire" --socket "$DAEMON_SOCK" --device "$first" --iterations "$ITERATIONS" \
	--clients "$CLIENTS" --devices "$WORK/devices.txt" --daemon-pid "$DAEMON_PID" --host "$host"
rc=$?
daemon_stop || echo "bench acquire: ioasidd did not stop cleanly"
exit $rc
