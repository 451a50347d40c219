#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Benchmark section "groups" (run by tests/bench/run.sh, or alone):
# `ioasidctl groups --json` on a synthetic 4096-device / 1024-group sysfs, against
# `lspci -D -n` (faster is the target) and a bare readdir/readlink walk of the same entries
# (tests/tools/sysfs-walk.c; within 2x is the target), all under the same umockdev preload.
# Targets are reported, not asserted: a MISS prints the figures and still exits 0; a broken
# setup (the tools do not see the testbed) exits 1.
#
#   REPEAT=9 GROUPS_SPEC=4096:1024 tests/bench/groups.sh
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
B=${B:-build}
. tests/bench/lib.sh
GROUPS_SPEC=${GROUPS_SPEC:-4096:1024}

bench_groups() {
	local tb preload ctl=$B/ioasidctl walk=$B/sysfs-walk
	if [ ! -x "$B/mktestbed" ]; then
		echo "bench groups: SKIPPED: $B/mktestbed is not built (the host model's testbed tool)"
		return 0
	fi
	if [ ! -x "$walk" ] || [ ! -x "$ctl" ]; then
		echo "bench groups: SKIPPED: build $ctl and $walk first (make build-tests)"
		return 0
	fi
	if ! command -v lspci >/dev/null; then
		echo "bench groups: SKIPPED: lspci (pciutils) is not installed"
		return 0
	fi
	preload=$(for d in /usr/lib/*-linux-gnu /usr/lib64 /usr/lib; do
		[ -e "$d/libumockdev-preload.so.0" ] && echo "$d/libumockdev-preload.so.0" && break
	done)
	if [ -z "$preload" ]; then
		echo "bench groups: SKIPPED: libumockdev-preload.so.0 not found (apt-get install umockdev)"
		return 0
	fi
	tb=$(mktemp -d "${TMPDIR:-/tmp}/ioasid-bench.XXXXXX")
	trap 'rm -rf "$tb"' RETURN
	if ! "$B/mktestbed" --synthetic "$GROUPS_SPEC" "$tb" >"$tb.log" 2>&1; then
		echo "bench groups: FAIL: mktestbed --synthetic $GROUPS_SPEC failed:"
		sed 's/^/  /' "$tb.log"
		rm -f "$tb.log"
		return 1
	fi
	rm -f "$tb.log"
	under() { LD_PRELOAD=$preload UMOCKDEV_DIR=$tb "$@"; }

	# Sanity: all three see the synthetic host, not this machine's.
	local n_lspci n_groups walkout
	n_lspci=$(under lspci -D -n | wc -l)
	n_groups=$(under "$ctl" groups --json=short | jq '.groups | length' 2>/dev/null)
	walkout=$(under "$walk")
	echo "bench groups: testbed $GROUPS_SPEC: lspci sees $n_lspci devices," \
		"ioasidctl ${n_groups:-?} groups, sysfs-walk '$walkout'"
	if [ "${n_lspci}" -ne "${GROUPS_SPEC%%:*}" ] || [ "${n_groups:-0}" -ne "${GROUPS_SPEC##*:}" ]; then
		echo "bench groups: FAIL: the tools do not see the $GROUPS_SPEC testbed"
		return 1
	fi

	local t_ctl t_lspci t_walk r_floor r_lspci verdict=PASS
	t_walk=$(time_median_ms under "$walk" --quiet) || { echo "bench groups: FAIL: sysfs-walk"; return 1; }
	t_lspci=$(time_median_ms under lspci -D -n) || { echo "bench groups: FAIL: lspci"; return 1; }
	t_ctl=$(time_median_ms under "$ctl" groups --json) || { echo "bench groups: FAIL: ioasidctl groups --json"; return 1; }
	r_floor=$(ratio "$t_ctl" "$t_walk")
	r_lspci=$(ratio "$t_ctl" "$t_lspci")
	printf '  %-34s %10s ms (median of %d)\n' "sysfs-walk (floor)" "$t_walk" "$REPEAT"
	printf '  %-34s %10s ms\n' "lspci -D -n" "$t_lspci"
	printf '  %-34s %10s ms\n' "ioasidctl groups --json" "$t_ctl"
	printf '  %-34s %10sx (target <= 2.00x)\n' "ioasidctl / floor" "$r_floor"
	printf '  %-34s %10sx (target < 1.00x)\n' "ioasidctl / lspci" "$r_lspci"
	le "$r_floor" 2.00 || verdict=MISS
	le "$r_lspci" 0.999 || verdict=MISS
	echo "bench groups: $verdict (${r_floor}x the floor, ${r_lspci}x lspci)"
}

echo "== bench: groups"
bench_groups
