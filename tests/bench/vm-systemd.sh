#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Benchmark section "vm-systemd" (called by tests/bench/run.sh): the real-kernel tier's
# systemd guest with scenario SY9 only (tests/vm/README.md): brokered acquire+release of one
# edu (attached) through the installed, socket-activated ioasidd against the same opens and
# ioctls done directly by root in the same guest, same run. Target (reported, never
# asserted): p50 ratio <= 1.3x. Needs root and what the VM tier needs (make deps); without
# them the section is skipped.

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
echo "== bench: vm-systemd"
if [ "$(id -u)" != 0 ] || ! command -v qemu-system-x86_64 >/dev/null || ! command -v debootstrap >/dev/null; then
	echo "bench vm-systemd: SKIPPED: needs root, qemu-system-x86_64 and debootstrap"
	exit 0
fi
out=$(IOASID_VM_SCENARIOS=SY9 IOASID_VM_TIMEOUT=${IOASID_VM_TIMEOUT:-900} "$here/../vm/run.sh" 2>&1)
rc=$?
line=$(grep '^vm: bench SY9 ' <<<"$out")
if [ -z "$line" ]; then
	echo "$out" | tail -n 20
	echo "bench vm-systemd: FAILED (no SY9 figures; tier exit $rc)"
	exit 1
fi
echo "$line"
ratio=$(sed -n 's/.* ratio=\([0-9.]*\).*/\1/p' <<<"$line")
met=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.3) ? "PASS" : "MISS" }')
echo "bench vm-systemd: $met (brokered/direct p50 ratio ${ratio}x, target <= 1.3x)"
