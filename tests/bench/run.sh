#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Benchmarks. Each section is a function bench_NAME that prints its own lines and ends with
# "bench NAME: PASS|MISS|SKIPPED ..."; every figure is a ratio against a floor measured in
# the same run, on the same input, so machines can be compared.
#
#   tests/bench/run.sh            run every section
#   tests/bench/run.sh groups     run the named sections
#   REPEAT=9 tests/bench/run.sh   repetitions per measurement (median taken; default 7)
#
# To add a section: write bench_foo() below and add "foo" to SECTIONS. Use time_median_ms to
# measure and ratio to compare. Public tools only: bash and date +%s%N.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
REPEAT=${REPEAT:-7}
SECTIONS=(groups)
failed=0

# time_median_ms CMD...: runs CMD REPEAT times (output discarded, one untimed warm-up run
# first) and prints the median wall time in milliseconds with 3 decimals. Returns 1 and
# prints nothing if any run fails.
time_median_ms() {
	local -a t=()
	local i s e
	"$@" >/dev/null 2>&1 || return 1
	for ((i = 0; i < REPEAT; i++)); do
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1 || return 1
		e=$(date +%s%N)
		t+=($((e - s)))
	done
	printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2;
		printf "%.3f\n", m / 1e6 }'
}

# ratio A B: A/B with 2 decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", b > 0 ? a / b : 0 }'; }
# le A B: true when A <= B (floats).
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# ---------------------------------------------------------------------------------------
# groups: `ioasidctl groups --json` on a synthetic 4096-device / 1024-group sysfs, against
# `lspci -D -n` (faster is the target) and a bare readdir/readlink walk of the same entries
# (tests/tools/sysfs-walk.c; within 2x is the target), all under the same umockdev preload.
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
		failed=1
		return 0
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
		failed=1
		return 0
	fi

	local t_ctl t_lspci t_walk r_floor r_lspci verdict=PASS
	t_walk=$(time_median_ms under "$walk" --quiet) || { echo "bench groups: FAIL: sysfs-walk"; failed=1; return 0; }
	t_lspci=$(time_median_ms under lspci -D -n) || { echo "bench groups: FAIL: lspci"; failed=1; return 0; }
	t_ctl=$(time_median_ms under "$ctl" groups --json) || { echo "bench groups: FAIL: ioasidctl groups --json"; failed=1; return 0; }
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

# ---------------------------------------------------------------------------------------
want=("$@")
[ ${#want[@]} -eq 0 ] && want=("${SECTIONS[@]}")
for s in "${want[@]}"; do
	if ! declare -F "bench_$s" >/dev/null; then
		echo "bench: unknown section '$s' (known: ${SECTIONS[*]})" >&2
		exit 64
	fi
	"bench_$s"
done
exit $failed
