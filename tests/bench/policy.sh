#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench policy: the cost of one policy decision with 1, 100, 1000 and 10000 rules where the
# matching rule is the last, as ns/decision and the ratio to the 1-rule policy measured in
# the same run (tests/tools/bench-policy.c). Target: 10000 rules <= 20x one rule for the
# indexed scenarios (rules naming a user, a device, or an exact unit); rules that only use
# globs are scanned linearly and are shown for information.
#
#   tests/bench/policy.sh          (QUICK=1 for fewer iterations)
# Runs alone or from tests/bench/run.sh. Exits non-zero only when the setup is broken; a
# missed target is reported on the last line.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
echo "== bench: policy"
. tests/bench/lib.sh
bench_tool policy || exit 1
echo "$BENCH_OUT" | sed '$d'
ratio=$(echo "$BENCH_OUT" | awk '/^users/{s=1} s && $1 == 10000 {print $3; exit}')
echo "bench policy: 10000 rules cost ${ratio:-?} of 1 rule (users index);" \
	"$(echo "$BENCH_OUT" | tail -n1 | sed 's/^bench-policy: //')"
exit 0
