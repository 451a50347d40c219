#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Benchmark section "groups" (run by tests/bench/run.sh, or alone):
# `ioasidctl groups --json` on a synthetic 4096-device / 1024-group sysfs, against
# `lspci -D -n` (faster is the target) and a bare readdir/readlink walk of the same entries
# (tests/tools/sysfs-walk.c; within 2x is the target), all under the same umockdev preload,
# or with NATIVE=1 all reading the bed bind-mounted on /sys (tests/bench/lib.sh says how).
# Targets are reported, not asserted: a MISS prints the figures and still exits 0; a broken
# setup (the tools do not see the testbed) exits 1.
#
#   REPEAT=9 GROUPS_SPEC=4096:1024 tests/bench/groups.sh
#   NATIVE=1 tests/bench/groups.sh        (or the section groups-native)
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
B=${B:-build}
. tests/bench/lib.sh
bench_native_enter "$0" "$@"
GROUPS_SPEC=${GROUPS_SPEC:-4096:1024}

bench_groups() {
	local tb preload ctl=$B/ioasidctl walk=$B/sysfs-walk
	local rc=0
	bench_bed groups "$walk" "$ctl" || rc=$?
	[ $rc -eq 2 ] && return 0
	[ $rc -ne 0 ] && return 1
	tb=$BED_DIR preload=$BED_PRELOAD
	trap 'bench_bed_done; rm -rf "$tb"' RETURN
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

	local m_walk m_lspci m_ctl m_snap=
	m_walk=$(measure under "$walk" --quiet) || { echo "bench groups: FAIL: sysfs-walk"; return 1; }
	m_lspci=$(measure under lspci -D -n) || { echo "bench groups: FAIL: lspci"; return 1; }
	m_ctl=$(measure under "$ctl" groups --json) || { echo "bench groups: FAIL: ioasidctl groups --json"; return 1; }
	# For comparison, the same verb offline on a snapshot of the same host: no sysfs, but a
	# 3 MB JSON file to load (json-c), which costs about as much as the live scan.
	if under "$ctl" snapshot >"$tb.json" 2>/dev/null; then
		m_snap=$(measure "$ctl" --host "$tb.json" groups --json) || m_snap=
	fi
	rm -f "$tb.json"

	printf '  %-30s %12s %12s   (medians of %d runs)\n' "" "wall ms" "cpu ms" "$REPEAT"
	row() { printf '  %-30s %12s %12s\n' "$1" "${2%% *}" "${2##* }"; }
	row "sysfs-walk (floor)" "$m_walk"
	row "lspci -D -n" "$m_lspci"
	row "ioasidctl groups --json" "$m_ctl"
	[ -n "$m_snap" ] && row "  same on a snapshot (--host)" "$m_snap"
	local rw_floor rw_lspci rc_floor rc_lspci
	rw_floor=$(ratio "${m_ctl%% *}" "${m_walk%% *}")
	rw_lspci=$(ratio "${m_ctl%% *}" "${m_lspci%% *}")
	rc_floor=$(ratio "${m_ctl##* }" "${m_walk##* }")
	rc_lspci=$(ratio "${m_ctl##* }" "${m_lspci##* }")
	printf '  %-30s %11sx %11sx   (target <= 2.00x)\n' "ioasidctl / floor" "$rw_floor" "$rc_floor"
	printf '  %-30s %11sx %11sx   (target < 1.00x)\n' "ioasidctl / lspci" "$rw_lspci" "$rc_lspci"
	# Two verdicts: wall time is what a user waits for, CPU time (user + system) is what the
	# code costs; on a shared machine the wall figures swing by 2x from run to run while
	# the CPU figures stay within a few percent.
	local vw=PASS vc=PASS
	le "$rw_floor" 2.00 && le "$rw_lspci" 0.999 || vw=MISS
	le "$rc_floor" 2.00 && le "$rc_lspci" 0.999 || vc=MISS
	echo "bench groups: cpu $vc (${rc_floor}x the floor, ${rc_lspci}x lspci);" \
		"wall $vw (${rw_floor}x, ${rw_lspci}x)"
}

echo "== bench: groups ($BENCH_WHERE)"
bench_groups
