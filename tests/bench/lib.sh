# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Helpers for benchmark sections (sourced): medians of repeated runs and ratios.
# Public tools only: bash (its time keyword), sort, awk.

REPEAT=${REPEAT:-7}

# measure CMD...: runs CMD once untimed (warm-up) then REPEAT times, output discarded, and
# prints two medians in milliseconds: wall time and CPU time (user + system, which a busy
# machine disturbs less). Bash's own `time` gives both to the millisecond. Returns 1 and
# prints nothing if any run fails.
measure() {
	local -a wall=() cpu=()
	local i r u s TIMEFORMAT='%3R %3U %3S'
	"$@" >/dev/null 2>&1 || return 1
	for ((i = 0; i < REPEAT; i++)); do
		read -r r u s < <({ time "$@" >/dev/null 2>&1 || echo FAIL >&2; } 2>&1) || return 1
		[ "$r" = FAIL ] && return 1
		wall+=("$r")
		cpu+=("$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')")
	done
	echo "$(median "${wall[@]}") $(median "${cpu[@]}")"
}

# median X...: the median of seconds, printed in milliseconds with 3 decimals.
median() {
	printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2;
		printf "%.3f\n", m * 1000 }'
}

# time_median_ms CMD...: the wall-time median alone (see measure).
time_median_ms() {
	local m
	m=$(measure "$@") || return 1
	echo "${m%% *}"
}

# ratio A B: A/B with 2 decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", (b > 0) ? a / b : 0 }'; }
# le A B: true when A <= B (floats).
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# umockdev_preload: prints the path of libumockdev-preload.so.0, or nothing if umockdev is not
# installed.
umockdev_preload() {
	local d
	for d in /usr/lib/*-linux-gnu /usr/lib64 /usr/lib; do
		[ -e "$d/libumockdev-preload.so.0" ] && echo "$d/libumockdev-preload.so.0" && return 0
	done
	return 0
}

# synthetic_bed SPEC: makes a umockdev test bed with `$B/mktestbed --synthetic SPEC`
# (DEVICES:GROUPS) in a new directory and prints its path. 4096 devices make ~100k files, so
# the bed goes to /dev/shm when TMPDIR is unset. On failure prints mktestbed's output on
# stderr, removes what it made and returns 1.
synthetic_bed() {
	local tmp=${TMPDIR:-/tmp} tb
	[ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && tmp=/dev/shm
	tb=$(mktemp -d "$tmp/ioasid-bench.XXXXXX") || return 1
	if ! "$B/mktestbed" --synthetic "$1" "$tb" >"$tb.log" 2>&1; then
		sed 's/^/  /' "$tb.log" >&2
		rm -rf "$tb" "$tb.log"
		return 1
	fi
	rm -f "$tb.log"
	echo "$tb"
}

# bench_bed NAME TOOL...: what a section on the synthetic bed needs: $B/mktestbed and each
# TOOL built, lspci, the umockdev preload, and the bed of $GROUPS_SPEC. Sets BED_DIR (the
# caller removes it) and BED_PRELOAD. Returns 0 when ready, 2 when the section is skipped,
# 1 when the setup is broken; says why in the section's words either way.
bench_bed() {
	local name=$1 t
	shift
	for t in "$B/mktestbed" "$@"; do
		if [ ! -x "$t" ]; then
			echo "bench $name: SKIPPED: $t is not built (make build-tests)"
			return 2
		fi
	done
	if ! command -v lspci >/dev/null; then
		echo "bench $name: SKIPPED: lspci (pciutils) is not installed"
		return 2
	fi
	BED_PRELOAD=$(umockdev_preload)
	if [ -z "$BED_PRELOAD" ]; then
		echo "bench $name: SKIPPED: libumockdev-preload.so.0 not found (apt-get install umockdev)"
		return 2
	fi
	if ! BED_DIR=$(synthetic_bed "$GROUPS_SPEC" 2>&1); then
		echo "bench $name: FAIL: mktestbed --synthetic $GROUPS_SPEC failed:"
		echo "$BED_DIR"
		return 1
	fi
	return 0
}

# instructions CMD...: the user-space instructions CMD executes (callgrind's "Collected"),
# which unlike times do not depend on what else the machine is doing. CMD runs directly under
# valgrind (not behind env(1), whose exec valgrind would not follow): set LD_PRELOAD and the
# like on the call, `VAR=x instructions CMD`. Prints nothing and returns 1 if valgrind is
# missing or CMD fails.
instructions() {
	command -v valgrind >/dev/null || return 1
	local out
	out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null) ||
		return 1
	awk '/Collected :/ { print $NF; found = 1 } END { exit !found }' <<<"$out"
}
