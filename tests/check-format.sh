#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/check-format.sh: the format tier (`make check-format`). Every C source and header
# the repository tracks must be exactly what clang-format writes for it under the
# repository's .clang-format; `make format` rewrites them so.
#
# The configuration is tuned to clang-format 14 (Debian 12's). Other major versions lay
# some constructs out differently, so with one of those the tier says SKIPPED and why
# instead of failing on the formatter's own drift. CLANG_FORMAT names the binary.
#
# On a difference: lists the files, shows the start of the diff, prints
# "format: N passed, N failed" and exits 1.
set -u
cd "$(dirname "$0")/.."

want=14
CLANG_FORMAT=${CLANG_FORMAT:-}
if [ -z "$CLANG_FORMAT" ]; then
	if command -v clang-format-$want >/dev/null; then
		CLANG_FORMAT=clang-format-$want
	else
		CLANG_FORMAT=clang-format
	fi
fi
if ! command -v "$CLANG_FORMAT" >/dev/null; then
	echo "format: SKIPPED: $CLANG_FORMAT is not installed (apt-get install clang-format, or make deps)"
	exit 0
fi
version=$("$CLANG_FORMAT" --version | sed -n 's/.*clang-format version \([0-9]*\)\..*/\1/p')
if [ "$version" != "$want" ]; then
	echo "format: SKIPPED: $CLANG_FORMAT is version ${version:-unknown}, .clang-format is tuned to $want"
	exit 0
fi

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t files < <(git ls-files '*.c' '*.h')
else
	mapfile -t files < <(find common policy ioasidd ioasidctl tests -name '*.[ch]' | sort)
fi
if [ ${#files[@]} -eq 0 ]; then
	echo "format: FAIL: no C files found"
	exit 1
fi

pass=0
bad=()
for f in "${files[@]}"; do
	if "$CLANG_FORMAT" --style=file "$f" | cmp -s "$f" -; then
		pass=$((pass + 1))
	else
		bad+=("$f")
	fi
done

if [ ${#bad[@]} -gt 0 ]; then
	echo "format: these files differ from what $CLANG_FORMAT writes (run 'make format'):"
	printf '  %s\n' "${bad[@]}"
	max=${FORMAT_DIFF_LINES:-60}
	echo "format: the first $max lines of the difference:"
	for f in "${bad[@]}"; do
		"$CLANG_FORMAT" --style=file "$f" | diff -u --label "$f" --label "$f (formatted)" "$f" -
	done | head -n "$max"
fi
echo "format: $pass passed, ${#bad[@]} failed"
[ ${#bad[@]} -eq 0 ]
