# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Helpers for benchmark sections (sourced): medians of repeated runs and ratios.
# Public tools only: bash, date +%s%N, sort, awk.

REPEAT=${REPEAT:-7}

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
