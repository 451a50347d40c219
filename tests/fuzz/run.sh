#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Fuzz the policy parser with libFuzzer (clang -fsanitize=fuzzer,address,undefined).
# Seeds: ioasid.conf.example, the same with its worked examples uncommented, and
# tests/fuzz/seeds/*.conf. Runs FUZZ_SECONDS (default 600) and fails on any crash, leak,
# sanitizer report or property violation (see policy-fuzz.c); a crashing input is left in
# the fuzz build directory (crash-*).
#
#   FUZZ_SECONDS=120 tests/fuzz/run.sh       (or: make fuzz)
#   BF=dir                                   build directory (default build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/../.."
BF=${BF:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-600}
JOBS=${FUZZ_JOBS:-1}

if ! command -v clang >/dev/null; then
	echo "fuzz: SKIPPED: clang is not installed (make deps)"
	exit 0
fi

mkdir -p "$BF/corpus" "$BF/seeds"
CFLAGS=(-std=gnu11 -D_GNU_SOURCE -I. -g -O1 -fno-omit-frame-pointer
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-DIOASID_VERSION='"fuzz"' -DIOASID_SYSCONFDIR='"/etc"')
if ! clang "${CFLAGS[@]}" -o "$BF/policy-fuzz" tests/fuzz/policy-fuzz.c policy/*.c \
	common/util.c 2>"$BF/build.log"; then
	if grep -q "libclang_rt.fuzzer\|cannot find.*fuzzer" "$BF/build.log"; then
		echo "fuzz: SKIPPED: the libFuzzer runtime is missing (libclang-rt-14-dev; make deps)"
		exit 0
	fi
	cat "$BF/build.log" >&2
	echo "fuzz: FAIL: cannot build the fuzz target"
	exit 1
fi

cp ioasid.conf.example "$BF/seeds/example.conf"
# The worked examples, uncommented (lines where '#' is directly followed by text).
sed -E 's/^#([^ ])/\1/' ioasid.conf.example >"$BF/seeds/example-all.conf"
cp tests/fuzz/seeds/*.conf "$BF/seeds/"

echo "fuzz: running policy-fuzz for ${FUZZ_SECONDS}s"
extra=()
# With several jobs libFuzzer writes each job's output to fuzz-N.log in the work dir.
[ "$JOBS" -gt 1 ] && extra=(-jobs="$JOBS" -workers="$JOBS")
rm -f "$BF"/fuzz-*.log
set +e
(cd "$BF" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./policy-fuzz \
	-max_total_time="$FUZZ_SECONDS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
	-dict=../tests/fuzz/policy.dict -print_final_stats=1 "${extra[@]}" corpus seeds) \
	>"$BF/fuzz.log" 2>&1
rc=$?
set -e
cat "$BF"/fuzz-*.log >>"$BF/fuzz.log" 2>/dev/null || true
grep -E '^(Done|stat::|==[0-9]+==ERROR|SUMMARY)' "$BF/fuzz.log" | tail -n 12
if [ $rc -ne 0 ]; then
	echo "fuzz: FAIL (exit $rc); inputs: $(ls "$BF"/crash-* "$BF"/leak-* "$BF"/timeout-* 2>/dev/null | tr '\n' ' ')"
	exit 1
fi
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$BF/fuzz.log" | awk '{s+=$2} END {print s+0}')
echo "fuzz: PASS: $runs executions in ${FUZZ_SECONDS}s, corpus $(ls "$BF/corpus" | wc -l) inputs, no finding"
