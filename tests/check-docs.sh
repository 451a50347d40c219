#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Docs lint: every man page passes `mandoc -Tlint -Wwarning` and a few structural checks
# that need no groff; ioasidctl(8) documents every verb and every long option the binary
# and its option table have, and each verb's subsection the options of its row in the verb
# table (`ioasidctl VERB --help`), no fewer and no others; the example policy parses.
#
# Suppressed: mandoc's "style" class (below -Wwarning) is not enforced. It reports taste
# (e.g. "useless macro", "no blank before trailing delimiter") that differs between mandoc
# versions; everything at warning level and above fails the run.
#
# Every JSON key the inspection verbs emit on the fixture hosts must be documented too.
#
# Prints "docs: N passed, N failed" (and skipped steps with SKIPPED and why); exits 1 on any
# failure.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
CTL="$B/ioasidctl"
pass=0
fail=0
skip=0

ok() { pass=$((pass + 1)); [ -n "${VERBOSE:-}" ] && echo "  ok   $*"; return 0; }
bad() { fail=$((fail + 1)); echo "  FAIL $*"; }
skipped() { skip=$((skip + 1)); echo "  SKIPPED $*"; }

if ! command -v mandoc >/dev/null; then
	echo "docs: SKIPPED: mandoc is not installed (apt-get install mandoc, or make deps)"
	exit 0
fi

shopt -s nullglob
pages=(man/*.[0-9])
if [ ${#pages[@]} -eq 0 ]; then
	echo "docs: FAIL: no man pages under man/"
	exit 1
fi

# 1. mandoc lint and structure of every page.
for page in "${pages[@]}"; do
	name=$(basename "$page")
	out=$(mandoc -Tlint -Wwarning "$page" 2>&1)
	if [ $? -eq 0 ] && [ -z "$out" ]; then ok "$name: mandoc -Tlint -Wwarning"; else
		bad "$name: mandoc -Tlint -Wwarning"; echo "$out" | sed 's/^/       /'; fi

	if head -n1 "$page" | grep -q '^\.\\" SPDX-License-Identifier: '; then ok "$name: SPDX"
	else bad "$name: first line is not a '.\\\" SPDX-License-Identifier:' comment"; fi

	sect=${name##*.}
	base=${name%.*}
	th=$(grep -m1 '^\.TH ' "$page")
	if [ "$(awk '{print $2, $3}' <<<"$th")" = "$(tr '[:lower:]' '[:upper:]' <<<"$base") $sect" ]; then
		ok "$name: .TH matches the file name"
	else bad "$name: .TH '$th' does not match $base($sect)"; fi

	for s in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
		if grep -Eq "^\.SH \"?$s\"?\$" "$page"; then ok "$name: section $s"
		else bad "$name: no $s section"; fi
	done
	if grep -nE '[[:space:]]+$' "$page" >/dev/null; then
		bad "$name: trailing whitespace on line(s) $(grep -nE '[[:space:]]+$' "$page" | cut -d: -f1 | tr '\n' ' ')"
	else ok "$name: no trailing whitespace"; fi
	# An absolute path of a build machine never belongs in a page.
	if grep -qE '(^|[^a-z])/(work|home|root)/' "$page"; then
		bad "$name: mentions a build machine path"
	else ok "$name: no build machine path"; fi
done

# 2. ioasidctl(8) covers every verb and long option.
page=man/ioasidctl.8
if [ ! -x "$CTL" ]; then
	bad "$CTL is not built (make all)"
elif [ ! -f "$page" ]; then
	bad "$page is missing"
else
	help=$("$CTL" --help)
	verbs=$(awk '/^Verbs:/{v=1; next} /^$/{v=0} v && NF {print $1}' <<<"$help")
	verbs=$(sort -u <<<"$verbs")
	[ -n "$verbs" ] && ok "ioasidctl --help lists verbs" || bad "ioasidctl --help lists no verbs"
	for v in $verbs; do
		if grep -Eq "^\.SS \"?$v( |\"|\$)" "$page"; then ok "ioasidctl.8: verb $v"
		else bad "ioasidctl.8 has no subsection for verb '$v'"; fi
	done
	# Each verb's options, from its own --help (the verb table's row: every row of a verb
	# with sub-commands), must be described in the verb's subsection, and an ioasidctl option
	# the subsection names as the verb's must be in that row. The global options (in the
	# top-level --help) are described under OPTIONS.
	global=$(awk '/^Global options:/{g=1; next} /^$/{g=0} g' <<<"$help" |
		grep -oE -- '--[a-z][a-z-]*' | sort -u)
	all=$global
	declare -A row=()
	for v in $verbs; do
		row[$v]=$("$CTL" "$v" --help 2>/dev/null | awk '/^Options:/{o=1; next} /^$/{o=0} o' |
			grep -oE -- '^ +--[a-z][a-z-]*' | tr -d ' ' | sort -u)
		all=$(printf '%s\n' $all ${row[$v]} | sort -u)
	done
	[ -n "$all" ] && ok "long options found" || bad "no long options found"
	# Every option of the binary is described somewhere in the page (globals under OPTIONS).
	for o in $all; do
		esc=${o//-/\\\\-}
		if grep -q -- "$esc" "$page" || grep -qF -- "$o" "$page"; then ok "ioasidctl.8: option $o"
		else bad "ioasidctl.8 does not mention option $o"; fi
	done
	# The table itself: every option main.c declares is in some verb's row or global.
	for o in $(sed -n '/option_info\[_OPT_MAX\] = {/,/^};/p' ioasidctl/main.c |
		grep -oE '\{ "[a-z][a-z-]*"' | sed 's/{ "/--/; s/"//'); do
		grep -qx -- "$o" <<<"$all" && ok "option $o is in a verb's row" ||
			bad "option $o is declared in main.c but no verb takes it"
	done
	for v in $verbs; do
		sect=$(awk -v v="$v" '
			/^\.S[SH] / { on = 0 }
			/^\.SS / { t = $0; sub(/^\.SS "?/, "", t); split(t, w, /[ "]/); if (w[1] == v) on = 1 }
			on' "$page")
		for o in ${row[$v]}; do
			esc=${o//-/\\\\-}
			if grep -q -- "$esc" <<<"$sect"; then ok "ioasidctl.8: $v describes $o"
			else bad "ioasidctl.8: the subsection of '$v' does not describe $o, which it takes"; fi
		done
		# Options the subsection names (lines about other programs aside).
		named=$(grep -vE '(systemd\\-run|podman|qemu|virsh|varlinkctl|ioasidd \\-|usermod)' <<<"$sect" |
			grep -oE -- '\\-\\-[a-z][a-z\\-]*[a-z]' | sed 's/\\//g' | sort -u)
		for o in $named; do
			grep -qx -- "$o" <<<"$all" || continue
			if grep -qx -- "$o" <<<"${row[$v]}$(printf '\n%s' $global)"; then
				ok "ioasidctl.8: $v takes the $o it names"
			else bad "ioasidctl.8: the subsection of '$v' names $o, which '$v' refuses"; fi
		done
	done
fi

# 2b. Every JSON key the inspection verbs emit (on every fixture host) is documented in
# ioasidctl.8 as a bold word on a font macro line (.B key, .BR key ,, .RB { key ...).
if [ -x "$CTL" ] && [ -f "$page" ] && command -v jq >/dev/null; then
	keys=$(for f in tests/hosts/*.json; do
		bdfs=$(jq -r '.devices[].bdf' "$f")
		grp=$(jq -r '.groups[0].group // empty' "$f")
		for v in groups devices check ${grp:+"show $grp"}; do
			"$CTL" --host "$f" --json=short $v 2>/dev/null
		done
		for b in $bdfs; do "$CTL" --host "$f" --json=short show "$b" 2>/dev/null; done
	done | jq -r '[paths | . as $p | range(0; length) as $i
		| select(($p[$i] | type) == "string" and ($i == 0 or $p[$i - 1] != "properties"))
		| $p[$i]] | unique[]' | sort -u) # a device's udev property names are data
	if [ -z "$keys" ]; then bad "no JSON keys collected from the inspection verbs"; fi
	for k in $keys; do
		if grep -qE "^\.(B|BR|RB) (.* )?\(?\{?$k( |,|\)|\}|$)" "$page"; then ok "ioasidctl.8: JSON key $k"
		else bad "ioasidctl.8 does not document the JSON key '$k'"; fi
	done
else
	skipped "JSON keys: needs $CTL, $page and jq"
fi

# 2c. ioasidd(8) lists every audit MESSAGE_ID the daemon writes (journalctl MESSAGE_ID=...).
ids=$(sed -n 's/^#define IOASID_MESSAGE_[A-Z_]* "\([0-9a-f]*\)"$/\1/p' ioasidd/log.h)
[ -n "$ids" ] && ok "MESSAGE_IDs found in ioasidd/log.h" || bad "no MESSAGE_ID in ioasidd/log.h"
for id in $ids; do
	if grep -q "^$id	" man/ioasidd.8; then ok "ioasidd.8: MESSAGE_ID $id"
	else bad "ioasidd.8 does not list the MESSAGE_ID $id"; fi
done

# 3. The example policy parses with the real parser.
if [ ! -f ioasid.conf.example ]; then
	bad "policy example: ioasid.conf.example is missing"
elif [ ! -x "$CTL" ]; then
	bad "policy example: $CTL is not built"
else
	# The text, not where this tree sits: `policy check` also applies the daemon's path
	# rules (a checkout a user owns is refused there), and says "content_valid" apart.
	out=$("$CTL" --json=short policy check ioasid.conf.example 2>&1)
	if grep -q '"content_valid":true' <<<"$out"; then ok "ioasid.conf.example parses"
	else bad "ioasid.conf.example: 'ioasidctl policy check' says: $out"; fi
fi

# 4. The example's layouts (commented out there) parse, and the documented 'vm' layout passes
# `layout check` for the first device of every IOMMU group of every example host.
if [ -x "$CTL" ] && [ -f ioasid.conf.example ] && command -v jq >/dev/null; then
	lay=$(mktemp)
	awk '/^#layout .*}$/ { sub(/^#/, ""); print; next } /^#layout / { b = 1 }
		b { l = $0; sub(/^#/, "", l); print l } /^#}/ { b = 0 }' ioasid.conf.example >"$lay"
	if grep -q '^layout vm ' "$lay" && "$CTL" policy check "$lay" >/dev/null 2>&1 ||
		"$CTL" --json=short policy check "$lay" 2>/dev/null | grep -q '"content_valid":true'; then
		ok "ioasid.conf.example: its layouts parse"
	else bad "ioasid.conf.example: its layouts do not parse (or there is no 'vm')"; fi
	for f in tests/hosts/*.json; do
		for b in $(jq -r '.groups[] | .devices[0] // empty' "$f"); do
			if out=$("$CTL" --host "$f" layout check vm --config "$lay" --device "$b" 2>&1); then
				ok "layout vm fits $(basename "$f") $b"
			else bad "layout vm does not fit $(basename "$f") $b: $out"; fi
		done
	done
	rm -f "$lay"
else
	skipped "example layouts: needs $CTL, ioasid.conf.example and jq"
fi

# 5. The README's rules for rootless containers (its 'allow user bob' lines) are the ones the
# systemd guest runs with a real rootless podman (PD_RULES of tests/vm/scenarios/sys-podman.sh)
# and the ones ioasid.conf.example shows (commented out).
readme_rules=$(sed -n 's/^    \(allow user bob .*\)$/\1/p' README.md)
vm_rules=$(sed -n "/^PD_RULES='/,/'\$/p" tests/vm/scenarios/sys-podman.sh 2>/dev/null |
	sed "s/^PD_RULES='//; s/'\$//")
ex_rules=$(sed -nE 's/^#(allow user bob (user-unit|to bdf 0000:3b:00\.0) .*)$/\1/p' ioasid.conf.example)
if [ -z "$readme_rules" ]; then bad "README: no 'allow user bob' container rules"
elif [ "$readme_rules" = "$vm_rules" ]; then ok "README's container rules are the systemd guest's"
else bad "README's container rules differ from PD_RULES in tests/vm/scenarios/sys-podman.sh:
$readme_rules
---
$vm_rules"; fi
if [ "$readme_rules" = "$ex_rules" ]; then ok "README's container rules are ioasid.conf.example's"
else bad "README's container rules differ from ioasid.conf.example's:
$readme_rules
---
$ex_rules"; fi

# 6. README's deployment steps are what the systemd guest runs: each command of the block under
# "Running ioasidd under systemd" (but make install, done with DESTDIR on the host, the
# modprobes, done by the installed modules-load.d at boot, and the reload, SY4's own) is a
# 'setup_step' line of tests/vm/sd-init.sh, word for word (the README's user alice is the guest's
# tester).
deploy=$(sed -n '/^## Running ioasidd under systemd/,/^## /p' README.md | sed -n 's/^    \([a-z][^#]*[^ #]\) *\(#.*\)\{0,1\}$/\1/p' |
	grep -vE '^(make install|modprobe|systemctl reload)' | sed 's/ alice$/ tester/')
if [ "$(wc -l <<<"$deploy")" -lt 5 ]; then bad "README: the deployment block has fewer than 5 commands: $deploy"
else
	while read -r c; do
		if grep -qxF "setup_step $c" tests/vm/sd-init.sh; then ok "systemd guest runs README's '$c'"
		else bad "README's deployment command '$c' is not a setup_step of tests/vm/sd-init.sh"; fi
	done <<<"$deploy"
fi

echo "docs: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
