#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Benchmarks. Each section is its own script, tests/bench/NAME.sh, that can run alone, prints
# its figures as ratios against a floor measured in the same run, and ends with a
# "bench NAME: ..." line; it exits non-zero only when the setup is broken (targets are
# reported, never asserted). Shared helpers: tests/bench/lib.sh.
#
#   tests/bench/run.sh                 every section, in name order
#   tests/bench/run.sh groups acquire  the named sections
#   REPEAT=9 tests/bench/run.sh        repetitions per measurement where a section uses it
#
# To add a section, drop tests/bench/NAME.sh (executable) next to this file.
set -u
dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

sections=()
for f in "$dir"/*.sh; do
	n=$(basename "$f" .sh)
	[ "$n" = run ] || [ "$n" = lib ] || sections+=("$n")
done

want=("$@")
[ ${#want[@]} -eq 0 ] && want=("${sections[@]}")
rc=0
for s in "${want[@]}"; do
	if [ ! -f "$dir/$s.sh" ] || [ "$s" = run ] || [ "$s" = lib ]; then
		echo "bench: unknown section '$s' (known: ${sections[*]})" >&2
		exit 64
	fi
	bash "$dir/$s.sh" || { echo "bench $s: FAILED (exit $?)"; rc=1; }
done
exit $rc
