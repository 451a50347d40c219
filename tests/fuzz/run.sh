#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Fuzz the parsers that read untrusted text with libFuzzer (clang
# -fsanitize=fuzzer,address,undefined):
#   policy-fuzz  the policy parser; seeds: ioasid.conf.example, the same with its worked
#                examples uncommented, and tests/fuzz/seeds/*.conf;
#   json-fuzz    doc_parse(), which reads every Varlink message sent to ioasidd; seeds:
#                tests/fuzz/seeds/*.json;
#   snapshot-fuzz  the host snapshot reader (`--host FILE`, doc_parse() underneath); seeds:
#                tests/hosts/*.json.
# Together they run FUZZ_SECONDS (default 600): policy-fuzz gets two thirds of it, json-fuzz
# and snapshot-fuzz half the rest each
# and the run fails on any crash, leak, sanitizer report or property violation (see the
# targets); a crashing input is left in the fuzz build directory (crash-*).
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

mkdir -p "$BF/corpus" "$BF/seeds" "$BF/json-corpus" "$BF/json-seeds" "$BF/snapshot-corpus" \
	"$BF/snapshot-seeds"
CFLAGS=(-std=gnu11 -D_GNU_SOURCE -I. -g -O1 -fno-omit-frame-pointer
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-DIOASID_VERSION='"fuzz"' -DIOASID_SYSCONFDIR='"/etc"')
# shellcheck disable=SC2046
if ! clang "${CFLAGS[@]}" -o "$BF/policy-fuzz" tests/fuzz/policy-fuzz.c policy/*.c common/trusted-path.c \
	common/util.c 2>"$BF/build.log" ||
	! clang "${CFLAGS[@]}" -o "$BF/json-fuzz" tests/fuzz/json-fuzz.c common/doc.c \
		$(pkg-config --cflags --libs json-c) 2>>"$BF/build.log" ||
	! clang "${CFLAGS[@]}" -o "$BF/snapshot-fuzz" tests/fuzz/snapshot-fuzz.c \
		common/host-json.c common/host.c common/doc.c common/util.c \
		$(pkg-config --cflags --libs json-c) -lm 2>>"$BF/build.log"; then
	if grep -q "libclang_rt.fuzzer\|cannot find.*fuzzer" "$BF/build.log"; then
		echo "fuzz: SKIPPED: the libFuzzer runtime is missing (libclang-rt-14-dev; make deps)"
		exit 0
	fi
	cat "$BF/build.log" >&2
	echo "fuzz: FAIL: cannot build the fuzz targets"
	exit 1
fi

cp ioasid.conf.example "$BF/seeds/example.conf"
# The worked examples, uncommented (lines where '#' is directly followed by text).
sed -E 's/^#([^ ])/\1/' ioasid.conf.example >"$BF/seeds/example-all.conf"
cp tests/fuzz/seeds/*.conf "$BF/seeds/"
cp tests/fuzz/seeds/*.json "$BF/json-seeds/"
cp tests/hosts/*.json "$BF/snapshot-seeds/"

extra=()
# With several jobs libFuzzer writes each job's output to fuzz-N.log in the work dir.
[ "$JOBS" -gt 1 ] && extra=(-jobs="$JOBS" -workers="$JOBS")
policy_seconds=$((FUZZ_SECONDS * 2 / 3))
json_seconds=$(((FUZZ_SECONDS - policy_seconds) / 2))
snapshot_seconds=$((FUZZ_SECONDS - policy_seconds - json_seconds))
total=0

# fuzz_one NAME SECONDS CORPUS SEEDS [LIBFUZZER-OPTIONS...]
fuzz_one() {
	local name=$1 seconds=$2 corpus=$3 seeds=$4 rc runs
	shift 4
	echo "fuzz: running $name for ${seconds}s"
	rm -f "$BF"/fuzz-*.log
	set +e
	(cd "$BF" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 "./$name" \
		-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		"$@" "${extra[@]}" "$corpus" "$seeds") >"$BF/$name.log" 2>&1
	rc=$?
	set -e
	cat "$BF"/fuzz-*.log >>"$BF/$name.log" 2>/dev/null || true
	grep -E '^(Done|stat::|==[0-9]+==ERROR|SUMMARY)' "$BF/$name.log" | tail -n 12
	if [ $rc -ne 0 ]; then
		echo "fuzz: FAIL: $name (exit $rc); inputs: $(ls "$BF"/crash-* "$BF"/leak-* "$BF"/timeout-* 2>/dev/null | tr '\n' ' ')"
		exit 1
	fi
	runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$BF/$name.log" | awk '{s+=$2} END {print s+0}')
	echo "fuzz: $name: $runs executions in ${seconds}s, corpus $(ls "$BF/$corpus" | wc -l) inputs, no finding"
	total=$((total + runs))
}

fuzz_one policy-fuzz "$policy_seconds" corpus seeds -max_len=4096 -dict=../tests/fuzz/policy.dict
fuzz_one json-fuzz "$json_seconds" json-corpus json-seeds -max_len=4096 \
	-dict=../tests/fuzz/json.dict
# The largest fixture is ~44 KB: big enough to take every seed whole.
fuzz_one snapshot-fuzz "$snapshot_seconds" snapshot-corpus snapshot-seeds -max_len=65536 \
	-dict=../tests/fuzz/snapshot.dict
echo "fuzz: PASS: $total executions in ${FUZZ_SECONDS}s, no finding"
