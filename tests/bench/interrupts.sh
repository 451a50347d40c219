#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench interrupts: the live scan reads /proc/interrupts for interrupt remapping; on a host
# with hundreds of CPUs it is megabytes. tests/tools/bench-interrupts.c times reading a
# synthetic 256-CPU, 4000-IRQ file with the remapping scan against reading it alone (the
# floor), in the same run. Target: read+scan <= 2x the read.
#
#   tests/bench/interrupts.sh      (QUICK=1 for fewer runs; CPUS=, IRQS= for another size)
# Runs alone or from tests/bench/run.sh. Exits non-zero only when the setup is broken; a
# missed target is reported on the last line.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
echo "== bench: interrupts"
. tests/bench/lib.sh
args=()
[ -n "${CPUS:-}" ] && [ -n "${IRQS:-}" ] && args+=("$CPUS" "$IRQS")
bench_tool interrupts "${args[@]}" || exit 1
echo "$BENCH_OUT" | sed '$d'
echo "bench interrupts: $(echo "$BENCH_OUT" | tail -n1 | sed 's/^bench-interrupts: //')"
exit 0
