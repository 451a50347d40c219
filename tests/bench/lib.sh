# shellcheck shell=bash
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

# bench_tool NAME ARGS...: runs the section NAME's tool $B/bench-NAME with ARGS (plus --quick
# when QUICK is set) and sets BENCH_OUT to what it printed. The tool's last line is its
# verdict; exit 2 means it could not set up. Returns 0, or 1 after saying FAILED when the
# tool is not built or could not set up.
bench_tool() {
	local name=$1 tool="$B/bench-$1" rc
	shift
	if [ ! -x "$tool" ]; then
		echo "bench $name: FAILED: $tool is not built (make build-tests)"
		return 1
	fi
	[ -n "${QUICK:-}" ] && set -- --quick "$@"
	BENCH_OUT=$("$tool" "$@")
	rc=$?
	if [ $rc -eq 2 ]; then
		echo "$BENCH_OUT"
		echo "bench $name: FAILED: bench-$name could not set up"
		return 1
	fi
	return 0
}

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

# Two ways to put the bed under the tools, the same for every tool of a run:
# - umockdev (the default): LD_PRELOAD=libumockdev-preload.so.0 translates every path under
#   /sys, as the test tiers do. Each path call costs extra in user space, and more for calls
#   relative to a directory fd (umockdev resolves the fd's path first), which weighs on tools
#   that make many such calls (libudev's enumerator) more than on others.
# - native (NATIVE=1, root): the section runs in a private mount namespace (unshare -m) with
#   the bed bind-mounted on /sys and an empty tmpfs on /run/udev (so the host's udev database
#   is not mixed in), and every tool reads it with plain system calls, as on a real host.
#   The only preload is tests/tools/sysfs-magic.c, which makes statfs() call the bed sysfs
#   (libudev refuses anything else). tmpfs path lookups are cheaper than sysfs's, so the
#   absolute times are lower than a real host's; the ratios are what to read.
# BENCH_WHERE names the mode in the sections' output.
NATIVE=${NATIVE:-0}
# shellcheck disable=SC2034 # read by the sections that source this file
if [ "$NATIVE" = 1 ]; then
	BENCH_WHERE="native: the bed bind-mounted on /sys"
else
	BENCH_WHERE="under the umockdev preload"
fi

# bench_native_enter SCRIPT ARGS...: in native mode, re-runs the section SCRIPT inside a
# private mount namespace (once); returns when there is nothing to do (umockdev mode, or
# already inside). Exits 0 with SKIPPED when the namespace cannot be made.
bench_native_enter() {
	[ "$NATIVE" = 1 ] && [ -z "${IOASID_BENCH_NS:-}" ] || return 0
	local script=$1
	shift
	if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null ||
		! unshare --mount --propagation private true 2>/dev/null; then
		echo "bench $(basename "$script" .sh): SKIPPED: NATIVE=1 needs root and unshare -m"
		exit 0
	fi
	IOASID_BENCH_NS=1 exec unshare --mount --propagation private bash "$script" "$@"
}

# bench_bed NAME TOOL...: what a section on the synthetic bed needs: $B/mktestbed and each
# TOOL built, lspci, the preload of the mode (see above), and the bed of $GROUPS_SPEC, in
# place. Sets BED_DIR (the caller removes it, after bench_bed_done) and BED_PRELOAD. Returns
# 0 when ready, 2 when the section is skipped, 1 when the setup is broken; says why in the
# section's words either way.
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
	if [ "$NATIVE" = 1 ]; then
		if [ -z "${IOASID_BENCH_NS:-}" ]; then
			echo "bench $name: FAIL: NATIVE=1 outside a private mount namespace"
			return 1
		fi
		BED_PRELOAD=$(cd "$B" && pwd)/sysfs-magic
		if [ ! -e "$BED_PRELOAD" ]; then
			echo "bench $name: SKIPPED: $B/sysfs-magic is not built (make build-tests)"
			return 2
		fi
	else
		BED_PRELOAD=$(umockdev_preload)
		if [ -z "$BED_PRELOAD" ]; then
			echo "bench $name: SKIPPED: libumockdev-preload.so.0 not found (apt-get install umockdev)"
			return 2
		fi
	fi
	if ! BED_DIR=$(synthetic_bed "$GROUPS_SPEC" 2>&1); then
		echo "bench $name: FAIL: mktestbed --synthetic $GROUPS_SPEC failed:"
		echo "$BED_DIR"
		return 1
	fi
	if [ "$NATIVE" = 1 ]; then
		# The namespace is private: these mounts end with the section's process.
		if ! mount --bind "$BED_DIR/sys" /sys ||
			{ [ -d /run/udev ] && ! mount -t tmpfs -o mode=0755 none /run/udev; }; then
			echo "bench $name: FAIL: cannot mount the bed on /sys in the namespace"
			rm -rf "$BED_DIR"
			return 1
		fi
	fi
	return 0
}

# bench_bed_done: undoes bench_bed's mounts (native mode), before the caller removes BED_DIR.
bench_bed_done() {
	if [ "$NATIVE" = 1 ]; then
		mountpoint -q /run/udev && umount /run/udev
		umount /sys
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
