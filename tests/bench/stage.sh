#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Benchmark section "stage" (called by tests/bench/run.sh): ioasidd with the sim kernel on the
# sample host; build/bench-stage times an Acquire (attached, with a layout of two IOVA
# windows) served cold next to the same Acquire served from a context staged just before
# (Manager.Stage, untimed), same device, ITERATIONS times each, and prints the medians and
# the ratio. Target (reported, never asserted): the staged Acquire is faster than the cold
# one (ratio above 1): the daemon did the kernel work at Stage time. The sim's kernel work is
# in-process and cheap, so the ratio here is a lower bound of what a real kernel shows.
#
#   ITERATIONS=2000 tests/bench/stage.sh

set -u
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

ITERATIONS=${ITERATIONS:-2000}

echo "== bench: stage"
if [ "$(id -u)" != 0 ]; then
	echo "bench stage: SKIPPED: needs root (the daemon runs as root)"
	exit 0
fi
for f in ioasidd bench-stage; do
	[ -x "$B/$f" ] || { echo "bench stage: SKIPPED: $B/$f is not built"; exit 0; }
done

lib_init
cat >"$WORK/bench.conf" <<POL
admin uid 0
layout vm { iova 0x0-0xfedfffff 0x100000000-0xffffffffffff }
allow uid 0 to any mode attached,unbound layout vm
POL
if ! daemon_start bench "$REPO/tests/hosts/sample.json" "$WORK/bench.conf"; then
	echo "bench stage: ioasidd did not start:"
	cat "$DAEMON_LOG"
	exit 1
fi
echo "host: tests/hosts/sample.json, sim kernel; $(nproc) CPUs; daemon pid $DAEMON_PID"
out=$("$B/bench-stage" --socket "$DAEMON_SOCK" --device 0000:00:03.0 --layout vm \
	--iterations "$ITERATIONS")
rc=$?
echo "$out"
daemon_stop || echo "bench stage: ioasidd did not stop cleanly"
ratio=$(sed -n 's/.*ratio cold\/staged (p50): //p' <<<"$out")
if [ $rc = 0 ]; then
	echo "bench stage: staged Acquire p50 ${ratio}x faster than cold (target: above 1)"
else
	echo "bench stage: bench-stage failed (exit $rc)"
fi
exit $rc
