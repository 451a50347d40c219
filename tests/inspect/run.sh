#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The inspection verbs end to end: build/ioasidctl groups|devices|show|check on the fixture
# hosts (--host tests/hosts/*.json) and on this machine, asserting JSON with jq, exit codes,
# the human form agreeing with the JSON, and colour only on a tty.
# Prints "inspect: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
CTL=$B/ioasidctl
H=tests/hosts
pass=0
fail=0
# A sanitizer build under the umockdev preload: ASan must not insist on coming first.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ioasid-inspect.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "  FAIL $*"; }
# expect_eq DESC GOT WANT
expect_eq() { if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', want '$3'"; fi; }
# expect_prefix DESC GOT PREFIX
expect_prefix() { if [[ "$2" == "$3"* ]]; then ok; else bad "$1: got '$2', want '$3...'"; fi; }
# run ARGS...: sets out, err, rc
run() {
	local e
	e=$(mktemp)
	out=$("$CTL" "$@" 2>"$e")
	rc=$?
	err=$(cat "$e")
	rm -f "$e"
}

for t in jq; do
	command -v $t >/dev/null || { echo "inspect: SKIPPED: $t is not installed"; exit 0; }
done
[ -x "$CTL" ] || { echo "inspect: FAIL: $CTL is not built"; exit 1; }

# groups ------------------------------------------------------------------------------------
run --host $H/workstation.json --json=short groups
expect_eq "groups rc" "$rc" 0
expect_eq "groups count" "$(jq '.summary.groups' <<<"$out")" 10
expect_eq "group 1 verdict" "$(jq -r '.groups[] | select(.group == 1) | .verdict' <<<"$out")" not-viable
expect_eq "group 1 blocker" "$(jq -r '.groups[] | select(.group == 1) | .blockers[0].fix' <<<"$out")" \
	"ioasidctl bind 0000:01:00.1"
expect_eq "group 1 states" "$(jq -r '[.groups[] | select(.group == 1) | .devices[].state] | join(",")' <<<"$out")" \
	"bridge,vfio,host-driver"
expect_eq "summary adds up" "$(jq '.summary.viable + .summary.not_viable == .summary.groups' <<<"$out")" true

for f in $H/*.json; do
	n_json=$("$CTL" --host "$f" --json=short groups | jq '.groups | length')
	n_human=$("$CTL" --host "$f" groups | grep -c '^IOMMU Group ')
	expect_eq "$(basename "$f"): human and JSON list the same groups" "$n_human" "$n_json"
	n_json=$("$CTL" --host "$f" --json=short devices | jq '.devices | length')
	n_human=$("$CTL" --host "$f" devices | grep -c '^[0-9a-f]\{4,8\}:[0-9a-f]\{2\}:')
	expect_eq "$(basename "$f"): human and JSON list the same devices" "$n_human" "$n_json"
done

run --host $H/iommu-off.json groups
expect_eq "iommu-off groups rc" "$rc" 0
grep -q '^No IOMMU groups: the IOMMU is off or absent. Enable VT-d in firmware and boot with intel_iommu=on$' <<<"$out" \
	&& ok || bad "iommu-off: no clear 'No IOMMU groups' answer: $out"
run --host $H/workstation.json --legacy groups
expect_eq "--legacy: one line per group member" "$(wc -l <<<"$out")" "$(jq '[.groups[].devices[]] | length' $H/workstation.json)"
bad_lines=$(grep -cvE '^IOMMU Group [0-9]+: [0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] .+ \[[0-9a-f]{4}\]: .+ \[[0-9a-f]{4}:[0-9a-f]{4}\]( \(rev [0-9a-f]{2}\))?$' <<<"$out")
expect_eq "--legacy lines look like 'IOMMU Group N: ' + lspci -Dnn" "$bad_lines" 0
grep -qxF 'IOMMU Group 1: 0000:01:00.1 Audio device [0403]: NVIDIA Corporation GA102 High Definition Audio Controller [10de:1aef] (rev a1)' <<<"$out" \
	&& ok || bad "--legacy line of 01:00.1"
run groups extra
expect_eq "groups with an argument is a usage error" "$rc" 64
[ -z "$out" ] && ok || bad "usage error printed on stdout"

# Non-PCI members (arm-board: platform USB and MMC controllers in groups 4 and 5) are listed
# and judged, in JSON and in the tree; a group without a PCI function says so.
run --host $H/arm-board.json --json=short groups
expect_eq "arm-board group 4 members" "$(jq -c '.groups[] | select(.group == 4) | .foreign_members' <<<"$out")" \
	'[{"name":"3100000.usb","bus":"platform","driver":"dwc3","state":"host-driver","blocking":true}]'
expect_eq "arm-board group 4 verdict" "$(jq -r '.groups[] | select(.group == 4) | "\(.verdict) \(.brokerable)"' <<<"$out")" "not-viable false"
expect_eq "arm-board group 4 blocker" "$(jq -c '.groups[] | select(.group == 4) | .blockers[0] | {bdf, name, bus, driver, fix}' <<<"$out")" \
	'{"bdf":null,"name":"3100000.usb","bus":"platform","driver":"dwc3","fix":"driverctl --bus platform set-override 3100000.usb vfio-platform"}'
expect_eq "arm-board group 5 states" "$(jq -r '[.groups[] | select(.group == 5) | .foreign_members[] | "\(.name)=\(.state)"] | join(",")' <<<"$out")" \
	"2140000.mmc=host-driver,2150000.mmc=no-driver"
expect_eq "arm-board group 3 (a PCI function) is brokerable" "$(jq -r '.groups[] | select(.group == 3) | .brokerable' <<<"$out")" true
expect_eq "arm-board summary" "$(jq -c .summary <<<"$out")" '{"groups":6,"viable":3,"not_viable":3,"empty":0}'
out=$(LC_ALL=C "$CTL" --host $H/arm-board.json groups)
grep -qxF 'IOMMU Group 4 (DMA): not viable, no PCI function' <<<"$out" && ok || bad "arm-board group 4 header: $out"
grep -qxF '|- 2140000.mmc (platform device, not PCI)  drv=sdhci-esdhc  x blocks' <<<"$out" && ok || bad "arm-board 2140000.mmc line: $out"
grep -qxF '`- 2150000.mmc (platform device, not PCI)  drv=none' <<<"$out" && ok || bad "arm-board 2150000.mmc line: $out"
grep -qF 'note: Group 5 holds no PCI function (2140000.mmc, 2150000.mmc are not PCI)' <<<"$out" && ok || bad "arm-board group 5 note"
run --host $H/arm-board.json show 4
expect_eq "show of a group without a PCI function exits 2" "$rc" 2
grep -qE '^ +members: 3100000.usb \(platform device, not PCI\), dwc3 \(blocks\)$' <<<"$out" && ok || bad "show 4 members: $out"
# An old snapshot listed non-PCI members by name alone: it still loads, the driver unknown
# (and so blocking).
jq '(.groups[] | select(.group == 5) | .foreign_members) |= map(.name)' $H/arm-board.json >"$tmp/arm-old.json"
run --host "$tmp/arm-old.json" --json=short show 5
expect_eq "old snapshot: group 5 members unknown" "$(jq -r '[.group.foreign_members[] | "\(.name)=\(.state)"] | join(",")' <<<"$out")" \
	"2140000.mmc=unknown,2150000.mmc=unknown"
expect_eq "old snapshot: group 5 not viable" "$(jq -r .group.verdict <<<"$out")" not-viable
run --host "$tmp/arm-old.json" snapshot
expect_eq "old snapshot: written back without a driver" "$(jq -c '.groups[] | select(.group == 5) | .foreign_members[0]' <<<"$out")" \
	'{"name":"2140000.mmc","bus":null}'
# Before a group's number was "group" snapshots called it "number": such a snapshot reads as
# the same host (written back in today's form, byte for byte); a group giving both is refused.
jq '.groups |= map({number: .group} + del(.group))' $H/workstation.json >"$tmp/ws-old.json"
run --host "$tmp/ws-old.json" snapshot
expect_eq "old snapshot: \"number\" read as \"group\"" "$rc/$(cmp -s - $H/workstation.json <<<"$out"; echo $?)" 0/0
jq '.groups[3] += {number: .groups[3].group}' $H/workstation.json >"$tmp/ws-both.json"
run --host "$tmp/ws-both.json" groups
expect_eq "snapshot with both \"group\" and \"number\": refused" "$rc $out" "1 "
expect_eq "snapshot with both: the message names the group" "$err" \
	"ioasidctl: Cannot load host snapshot '$tmp/ws-both.json': groups[3]: both 'group' and 'number' (its name in older snapshots) given: keep one"
# A PCI function sharing a group with a platform device on a host driver is blocked by it.
jq '(.groups[] | select(.group == 3) | .foreign_members) = [{"name": "3200000.usb", "bus": "platform", "driver": "dwc3"}]' \
	$H/arm-board.json >"$tmp/arm-mixed.json"
run --host "$tmp/arm-mixed.json" --json=short show 0002:01:00.0
expect_eq "mixed group: the PCI function is not viable" "$rc" 2
expect_eq "mixed group: blocked by the platform device" "$(jq -r '.group.blockers[0].name' <<<"$out")" 3200000.usb
expect_eq "mixed group: the platform device is at risk" "$(jq -r '.at_risk | join(",")' <<<"$out")" 3200000.usb
run --host "$tmp/arm-mixed.json" --json=short check
expect_eq "mixed group: check fails group 3" "$(jq -r '[.checks[] | select(.id == "group_viable") | .description] | join("|")' <<<"$out")" \
	"Checking IOMMU group 3 viability"

# An empty group (sriov-nic 35) is "empty", not "viable", and says what it is.
run --host $H/sriov-nic.json --json=short groups
expect_eq "empty group verdict" "$(jq -r '.groups[] | select(.group == 35) | .verdict' <<<"$out")" empty
expect_eq "summary counts the empty group apart" "$(jq '.summary | .viable + .not_viable + .empty == .groups and .empty == 1' <<<"$out")" true
# The identity-domain note is said once, listing the groups, not once per group.
expect_eq "identity note once" "$(jq -r '.notes | length' <<<"$out")" 1
expect_eq "no per-group identity note" "$(jq '[.groups[].notes[] | select(contains("identity"))] | length' <<<"$out")" 0
run --host $H/sriov-nic.json groups
grep -qxF 'IOMMU Group 35 (identity): empty (no devices)' <<<"$out" && ok || bad "empty group header"
expect_eq "identity note printed once" "$(grep -c 'identity default domain' <<<"$out")" 1
grep -qF 'note: Groups 0, 1, 2, 30, 31, 32, 33, 34, 35, 40, 41, 42 and 43 have an identity default domain' <<<"$out" \
	&& ok || bad "identity note lists the groups"
run --host $H/sriov-nic.json --json=short show 40
expect_eq "show keeps the identity note of its group" \
	"$(jq -r '.group.notes[] | select(startswith("Group 40 has an identity default domain")) | "yes"' <<<"$out")" yes

# Tree glyphs follow the locale's charset: ASCII under LC_ALL=C, box drawing under UTF-8.
out=$(LC_ALL=C "$CTL" --host $H/workstation.json groups)
LC_ALL=C grep -q '[^ -~]' <<<"$out" && bad "LC_ALL=C groups prints non-ASCII bytes" || ok
grep -qxF '`- 0000:00:00.0 [8086:4660] Intel Corporation 12th Gen Core Processor Host Bridge/DRAM Registers  drv=none' <<<"$out" \
	&& ok || bad "LC_ALL=C tree line"
grep -qF '|- 0000:00:01.0' <<<"$out" && grep -qF '  x blocks' <<<"$out" && ok || bad "LC_ALL=C glyphs: $out"
if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
	out=$(LC_ALL=C.UTF-8 "$CTL" --host $H/workstation.json groups)
	grep -qF '├─ 0000:00:01.0' <<<"$out" && grep -qF '✗ blocks' <<<"$out" && ok || bad "C.UTF-8 glyphs: $out"
else
	echo "  SKIPPED: UTF-8 glyphs (no C.UTF-8 locale here)"
fi

# devices -----------------------------------------------------------------------------------
run --host $H/consumer-board.json --json=short --blocking devices
expect_eq "consumer-board blocking devices" "$(jq -r '[.devices[].bdf] | join(" ")' <<<"$out")" \
	"0000:00:14.0 0000:00:18.3 0000:01:00.0 0000:02:00.0 0000:02:00.1 0000:05:00.0 0000:06:00.0 0000:07:00.0 0000:07:00.1"
run --host $H/gpu-server.json --json=short --vfio devices
expect_eq "gpu-server vfio devices" "$(jq '[.devices[] | select(.vfio_cdev != null)] | length' <<<"$out")" 8
expect_eq "gpu-server --vfio filters" "$(jq '.devices | length' <<<"$out")" 8
expect_eq "gpu-server vfio_node is the cdev" \
	"$(jq -r '[.devices[] | select(.vfio_node != "/dev/vfio/devices/" + .vfio_cdev)] | length' <<<"$out")" 0
# A legacy kernel (no VFIO cdevs): devices on vfio-pci are VFIO devices through their group node.
run --host $H/legacy.json --json=short --vfio devices
expect_eq "legacy --vfio devices" "$(jq -r '[.devices[].bdf] | join(" ")' <<<"$out")" \
	"0000:00:03.0 0000:00:04.0 0000:00:06.0 0000:01:01.0 0000:01:02.0"
expect_eq "legacy vfio_node is the group node" \
	"$(jq -r '.devices[] | select(.bdf == "0000:01:02.0") | "\(.vfio_node) \(.vfio_cdev) \(.state)"' <<<"$out")" \
	"/dev/vfio/5 null vfio"
run --host $H/legacy.json --json=short groups
expect_eq "legacy group 5 viable" "$(jq -r '.groups[] | select(.group == 5) | .verdict' <<<"$out")" viable
expect_eq "legacy group 7 blocked by its host-driver member" \
	"$(jq -r '.groups[] | select(.group == 7) | "\(.verdict) \(.blockers[0].bdf)"' <<<"$out")" "not-viable 0000:00:06.1"
expect_eq "legacy host-driver member has no vfio_node" \
	"$(jq -r '.groups[] | select(.group == 7) | .devices[] | select(.bdf == "0000:00:06.1") | .vfio_node' <<<"$out")" null
run --host $H/legacy.json devices
grep -qx "0000:01:02.0 'Unclassified device' \[1234:11e8\] drv=vfio-pci group=5 vfio=/dev/vfio/5 viable=yes" <<<"$out" \
	&& ok || bad "legacy devices line for 01:02.0: $out"
run --host $H/legacy.json check
# Group 7 holds 00:06.0 on vfio-pci and 00:06.1 on a host driver: not viable, a FAIL.
expect_eq "legacy check rc" "$rc" 2
grep -qF 'GROUP: Checking IOMMU group 7 viability                  : FAIL (not viable, so 0000:00:06.0 on vfio-pci cannot be assigned: ' <<<"$out" \
	&& ok || bad "legacy group 7 FAIL: $out"
grep -qF '(2 devices share it (0000:01:01.0, 0000:01:02.0), not counting its bridges: they are assigned together)' <<<"$out" \
	&& ok || bad "legacy group 5 note leaves the bridge out: $out"
grep -q 'only the legacy VFIO container is available (ioasidd falls back to the group/container path)' <<<"$out" \
	&& ok || bad "legacy check names the fallback: $out"
run --host $H/workstation.json devices
grep -qx "0000:01:00.1 'GA102 High Definition Audio Controller' \[10de:1aef\] drv=snd_hda_intel group=1 vfio=- viable=no (blocks group 1)" <<<"$out" \
	&& ok || bad "workstation devices line for 01:00.1"
run --host $H/sample.json --vfio --blocking devices
expect_eq "--vfio --blocking is empty on sample" "$rc" 0
grep -q '^No device has a VFIO cdev' <<<"$out" && ok || bad "empty filter result says nothing: '$out'"

# show --------------------------------------------------------------------------------------
run --host $H/workstation.json --json=short show 01:00.0
expect_eq "show of a device in a non-viable group exits 2" "$rc" 2
expect_eq "at_risk" "$(jq -r '.at_risk | join(" ")' <<<"$out")" "0000:00:01.0 0000:01:00.1"
expect_eq "bridge path" "$(jq -r '.device.bridge_path | join(" ")' <<<"$out")" "0000:00:01.0"
expect_eq "reserved regions" "$(jq -r '.group.reserved_regions[0] | "\(.start)-\(.end) \(.type)"' <<<"$out")" \
	"0x00000000fee00000-0x00000000feefffff msi"
run --host $H/sriov-nic.json --json=short show 0000:3b:00.0
expect_eq "PF virtfn" "$(jq '.device.virtfn | length' <<<"$out")" "$(jq '.devices[] | select(.bdf == "0000:3b:00.0") | .sriov.virtfn | length' $H/sriov-nic.json)"
expect_eq "PF sriov" "$(jq -c '.device.sriov' <<<"$out")" "$(jq -c '.devices[] | select(.bdf == "0000:3b:00.0") | .sriov | {totalvfs, numvfs}' $H/sriov-nic.json)"
expect_eq "PF netdevs" "$(jq -r '.device.netdevs | join(" ")' <<<"$out")" "$(jq -r '.devices[] | select(.bdf == "0000:3b:00.0") | .netdevs | join(" ")' $H/sriov-nic.json)"
run --host $H/sriov-nic.json --json=short show 3b:02.0
expect_eq "VF show rc" "$rc" 0
expect_eq "VF physfn" "$(jq -r '.device.physfn' <<<"$out")" "0000:3b:00.0"
run --host $H/sriov-nic.json show 3b:02.0
grep -q 'sr-iov: VF of 0000:3b:00.0' <<<"$out" && ok || bad "VF human form lacks the PF"
# Dependent devices (sriov-vfio: a PF and its VFs on vfio-pci; 02:00.0/.1 without FLR).
run --host $H/sriov-vfio.json --json=short show 02:00.1
expect_eq "no-FLR function: reset scope" "$(jq -r '.device | "\(.reset) \(.reset_method | length)"' <<<"$out")" "bus 0"
expect_eq "no-FLR function: what its reset takes down" "$(jq -r '.device.reset_set | join(" ")' <<<"$out")" \
	"0000:02:00.1 0000:02:00.0"
expect_eq "no-FLR function: VFIO dev_set" "$(jq -r '.device.dev_set | join(" ")' <<<"$out")" \
	"0000:02:00.1 0000:02:00.0"
expect_eq "no-FLR function: dependents" "$(jq -c '.device.dependents' <<<"$out")" \
	'[{"bdf":"0000:02:00.0","relation":"reset"}]'
run --host $H/sriov-vfio.json show 02:00.1
grep -q 'dependents: 0000:02:00.0 (shares a bus reset)' <<<"$out" && ok || bad "human form lacks the reset partner"
grep -q 'reset: bus reset only (no reset method), takes down 0000:02:00.1, 0000:02:00.0' <<<"$out" && ok ||
	bad "human form lacks the reset scope"
run --host $H/sriov-vfio.json --json=short show 01:00.0
expect_eq "PF: dependents are its VFs" "$(jq -r '[.device.dependents[] | "\(.bdf):\(.relation)"] | join(" ")' <<<"$out")" \
	"0000:01:10.0:vf 0000:01:10.2:vf"
expect_eq "PF: FLR resets it alone" "$(jq -r '.device | "\(.reset) \(.reset_set | join(" "))"' <<<"$out")" \
	"function 0000:01:00.0"
run --host $H/sriov-vfio.json show 01:10.2
grep -q 'dependents: 0000:01:00.0 (its PF)' <<<"$out" && ok || bad "VF human form lacks its PF as a dependent"
run --host $H/sriov-nic.json --json=short show 3b:00.1
expect_eq "reset methods not known" "$(jq -c '.device | [.reset, .reset_method, .dependents]' <<<"$out")" \
	'["unknown",null,[]]'
run --host $H/workstation.json --json=short show 9
expect_eq "show of a group" "$(jq -r '.group.group' <<<"$out")" 9
expect_eq "group 9 blockers" "$(jq '.group.blockers | length' <<<"$out")" 3
run --host $H/workstation.json show 99
expect_eq "unknown group rc" "$rc" 1
expect_eq "unknown group stdout" "$out" ""
expect_eq "unknown group stderr" "$err" "ioasidctl: No IOMMU group 99 on this host"
run --host $H/workstation.json show 0000:77:00.0
expect_eq "unknown device rc" "$rc" 1
run show not-a-device
expect_eq "bad argument rc" "$rc" 64
run --host $H/iommu-off.json --json=short show 00:02.0
expect_eq "device without a group" "$rc/$(jq -r '.verdict' <<<"$out")/$(jq '.group' <<<"$out")" "2/no-iommu/null"

# PCI domains above ffff (an NVMe behind an Intel VMD: "10000:e1:00.0") ----------------------
run --host $H/vmd-laptop.json --json=short devices
expect_eq "vmd: devices in numeric BDF order (10000 after 0000)" \
	"$(jq -r '[.devices[].bdf] | .[-3:] | join(" ")' <<<"$out")" "0000:00:1f.4 10000:e0:06.0 10000:e1:00.0"
run --host $H/vmd-laptop.json --json=short show 00010000:E1:00.0
expect_eq "vmd: show takes a padded upper-case domain, exits 2 (nvme blocks)" \
	"$rc/$(jq -r '.device.bdf' <<<"$out")" "2/10000:e1:00.0"
expect_eq "vmd: bridge path crosses into domain 0000" \
	"$(jq -r '.device.bridge_path | join(" ")' <<<"$out")" "10000:e0:06.0 0000:00:0e.0"
expect_eq "vmd: the fix names the long BDF" "$(jq -r '.group.blockers[0].fix' <<<"$out")" \
	"ioasidctl bind 10000:e1:00.0"
run --host $H/vmd-laptop.json show 100000000:e1:00.0
expect_eq "vmd: a 9-digit domain is a usage error" "$rc" 64
run --host $H/vmd-laptop.json devices
grep -qx "10000:e1:00.0 'NVMe SSD Controller PM9A1/PM9A3/980PRO' \[144d:a80a\] drv=nvme group=7 vfio=- viable=no (blocks group 7)" <<<"$out" \
	&& ok || bad "vmd devices line for 10000:e1:00.0"

# check -------------------------------------------------------------------------------------
run --host $H/iommu-off.json --json=short check
expect_eq "check on iommu-off exits 2" "$rc" 2
expect_eq "iommu_enabled fails" "$(jq -r '.checks[] | select(.id == "iommu_enabled") | .result' <<<"$out")" fail
jq -e '.checks[] | select(.id == "iommu_enabled") | .hint | contains("intel_iommu=on")' <<<"$out" >/dev/null \
	&& ok || bad "iommu_enabled hint lacks intel_iommu=on"
expect_eq "no memlock check offline" "$(jq '[.checks[] | select(.id == "memlock")] | length' <<<"$out")" 0
run --host $H/workstation.json --json=short check
# Group 1 holds the GPU on vfio-pci and its audio function on snd_hda_intel: the group the
# admin means to pass through is not viable, a FAIL with the fix.
expect_eq "check on workstation exits 2 (group 1 is not viable)" "$rc" 2
expect_eq "group 1 fails" "$(jq -r '.checks[] | select(.id == "group_viable") | "\(.description): \(.result)"' <<<"$out")" \
	"Checking IOMMU group 1 viability: fail"
jq -e '.checks[] | select(.id == "group_viable") | .hint | contains("0000:01:00.1") and contains("snd_hda_intel") and contains("fix: ioasidctl bind 0000:01:00.1")' \
	<<<"$out" >/dev/null && ok || bad "group 1 FAIL names the blocker and its fix: $out"
# The other shared groups are notes; the count leaves the ignored bridges out.
expect_eq "multi-device group notes" "$(jq -r '[.checks[] | select(.id == "multi_device_group") | .hint] | join("|")' <<<"$out")" \
	"2 devices share it (0000:00:14.0, 0000:00:14.2): they are assigned together|4 devices share it (0000:00:1f.0, 0000:00:1f.3, 0000:00:1f.4, 0000:00:1f.5): they are assigned together"
expect_eq "workstation check summary" "$(jq -c .summary <<<"$out")" '{"pass":8,"note":2,"warn":0,"fail":1}'
# consumer-board: the GT 710 on vfio-pci shares group 15 with host devices.
run --host $H/consumer-board.json --json=short check
expect_eq "consumer-board: the chipset group fails" \
	"$(jq -r '[.checks[] | select(.id == "group_viable") | .description] | join("|")' <<<"$out")" "Checking IOMMU group 15 viability"
# A shared group of host devices that nobody passes through stays a note.
expect_eq "consumer-board: no FAIL for groups without a VFIO device" \
	"$(jq '[.checks[] | select(.id == "group_viable")] | length' <<<"$out")" 1
run --host $H/sriov-nic.json --json=short check
expect_eq "identity domain warns" "$(jq -r '.checks[] | select(.id == "default_domain") | .result' <<<"$out")" warn
jq -e '.checks[] | select(.id == "default_domain") | .hint | startswith("groups 0, 1, 2, 30, 31, 32, 33, 34, 35, 40, 41, 42, 43 use identity")' \
	<<<"$out" >/dev/null && ok || bad "identity domain check lists the groups: $out"
run --host $H/noiommu.json --json=short check
expect_eq "noiommu mode warns" "$(jq -r '.checks[] | select(.id == "noiommu_mode") | .result' <<<"$out")" warn
expect_eq "noiommu groups do not count as an IOMMU" "$(jq -r '.checks[] | select(.id == "iommu_enabled") | .result' <<<"$out")" fail
run --host $H/iommu-off.json check
grep -q '^IOMMU: Checking if IOMMU is enabled by kernel *: FAIL (' <<<"$out" && ok || bad "check line format"
# interrupt remapping: PASS on AMD-Vi when the host shows it, FAIL with the AMD hint when
# off, WARN saying it is not visible when unknown
run --host $H/amd-epyc.json --json=short check
expect_eq "check on amd-epyc exits 0" "$rc" 0
expect_eq "amd-epyc interrupt remapping passes" \
	"$(jq -r '.checks[] | select(.id == "interrupt_remapping") | "\(.result) \(.hint)"' <<<"$out")" "pass null"
# Group 12 is the AST1150 bridge and the BMC VGA behind it: one device, no note.
expect_eq "amd-epyc checks" "$(jq -c .summary <<<"$out")" '{"pass":8,"note":0,"warn":0,"fail":0}'
run --host $H/amd-epyc.json check
grep -q '^IOMMU: Checking if interrupt remapping is enabled *: PASS$' <<<"$out" && ok \
	|| bad "amd-epyc human check: $out"
jq '.kernel.interrupt_remapping = false' $H/amd-epyc.json >"$tmp/amd-no-ir.json"
run --host "$tmp/amd-no-ir.json" --json=short check
expect_eq "AMD without interrupt remapping exits 2" "$rc" 2
expect_eq "AMD without interrupt remapping fails" \
	"$(jq -r '.checks[] | select(.id == "interrupt_remapping") | .result' <<<"$out")" fail
jq -e '.checks[] | select(.id == "interrupt_remapping") | .hint | contains("IVRS") and contains("intremap=off") and contains("amd_iommu_intr=")' \
	<<<"$out" >/dev/null && ok || bad "AMD interrupt remapping hint: $out"
run --host "$tmp/amd-no-ir.json" check
grep -q '^IOMMU: Checking if interrupt remapping is enabled *: FAIL (without it a device can forge MSIs.*IVRS' <<<"$out" \
	&& ok || bad "AMD human interrupt remapping line: $out"
jq '.kernel.interrupt_remapping = false' $H/workstation.json >"$tmp/intel-no-ir.json"
run --host "$tmp/intel-no-ir.json" --json=short check
jq -e '.checks[] | select(.id == "interrupt_remapping") | .result == "fail" and (.hint | contains("VT-d") and contains("nointremap"))' \
	<<<"$out" >/dev/null && ok || bad "Intel interrupt remapping hint: $out"
run --host $H/gpu-server.json --json=short check
expect_eq "AMD host without the fact warns" \
	"$(jq -r '.checks[] | select(.id == "interrupt_remapping") | .result' <<<"$out")" warn
jq -e '.checks[] | select(.id == "interrupt_remapping") | .hint | contains("not visible")' <<<"$out" >/dev/null \
	&& ok || bad "unknown interrupt remapping hint: $out"

# this machine ------------------------------------------------------------------------------
run --json=short check --for root
if [ $rc -eq 1 ] && grep -q "Cannot read the host" <<<"$err"; then
	echo "  SKIPPED live checks: $err"
else
	expect_eq "live check --for root has a memlock line" \
		"$(jq '[.checks[] | select(.id == "memlock")] | length' <<<"$out")" 1
	if [ -z "$(ls /sys/kernel/iommu_groups 2>/dev/null)" ]; then
		run groups
		expect_eq "live groups rc without IOMMU" "$rc" 0
		grep -q '^No IOMMU groups: ' <<<"$out" && ok || bad "live groups on a host without IOMMU: '$out'"
		expect_eq "live check without IOMMU exits 2" "$("$CTL" check >/dev/null 2>&1; echo $?)" 2
	fi
	# --for another user: the limit is read from a process of that user.
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
		setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups sleep 30 &
		spid=$!
		sleep 0.3
		hint=$("$CTL" --json=short check --for nobody | jq -r '.checks[] | select(.id == "memlock") | .hint')
		kill "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
		grep -q "for 'nobody' (read from its process [0-9]*)" <<<"$hint" && ok \
			|| bad "check --for nobody did not read a process of nobody: '$hint'"
	fi
	# --for another user with no process: the limit pam_limits gives their sessions, read
	# from /etc/security (a private mount namespace puts a test directory there).
	if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && id nobody >/dev/null 2>&1 &&
		unshare -m true 2>/dev/null && ! pgrep -u nobody >/dev/null; then
		sec="$tmp/security"
		mkdir -p "$sec/limits.d"
		# with_sec ARGS...: ioasidctl with $sec as /etc/security; sets out, rc
		with_sec() {
			out=$(unshare -m sh -c 'mount --bind "$1" /etc/security && shift && exec "$@"' \
				sh "$sec" "$CTL" "$@" 2>/dev/null)
			rc=$?
		}
		memlock_of() { jq -r '.checks[] | select(.id == "memlock") | .result + " " + .hint' <<<"$out"; }
		printf '# vms\n@nogroup soft memlock 1024\nnobody soft memlock 2097152\n' >"$sec/limits.conf"
		printf '* - memlock unlimited\n' >"$sec/limits.d/10-all.conf"
		with_sec --json=short check --for nobody
		expect_eq "pam_limits: a user line beats a later wildcard" "$(memlock_of)" \
			"pass 2G for 'nobody' (from pam_limits: /etc/security/limits.conf:3 (login sessions, user@.service, rootless containers; a systemd system service uses its unit's LimitMEMLOCK= instead))"
		with_sec check --for nobody
		grep -q "^MEMLOCK: Checking the locked memory limit (RLIMIT_MEMLOCK) *: PASS (2G for 'nobody' (from pam_limits: /etc/security/limits.conf:3 " \
			<<<"$out" && ok || bad "pam_limits human form: $out"
		# The later limits.d file (strcmp order: "20" after "10") overrides at group level.
		printf '@nogroup soft memlock 1024\n' >"$sec/limits.conf"
		printf '@nogroup soft memlock 4096\n' >"$sec/limits.d/20-vm.conf"
		with_sec --json=short check --for nobody
		expect_prefix "pam_limits: group beats wildcard, later file wins" "$(memlock_of)" \
			"warn 4M for 'nobody' (from pam_limits: /etc/security/limits.d/20-vm.conf:1 ("
		grep -q "raise LimitMEMLOCK= in its unit" <<<"$(memlock_of)" && ok \
			|| bad "pam_limits below 1G gives the advice: $(memlock_of)"
		# Nothing for nobody: the system default, named.
		rm -f "$sec/limits.d/"*
		printf 'root - memlock unlimited\n' >"$sec/limits.conf"
		with_sec --json=short check --for nobody
		expect_prefix "pam_limits: no memlock for the user" "$(memlock_of)" \
			"warn no process of 'nobody' is running and /etc/security/limits.conf (with limits.d) sets no soft memlock for it: its sessions start with the system default (systemd's DefaultLimitMEMLOCK=, 8M by default)"
		with_sec check --for nobody
		grep -q "^MEMLOCK: .*: WARN (no process of 'nobody' is running and /etc/security/limits.conf (with limits.d) sets no soft memlock" \
			<<<"$out" && ok || bad "pam_limits none, human form: $out"
		# A running process still answers: it is what really applies.
		printf '\nnobody - memlock 3145728\n' >"$sec/limits.conf"
		setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups sleep 30 &
		spid=$!
		sleep 0.3
		with_sec --json=short check --for nobody
		kill "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
		grep -q "for 'nobody' (read from its process [0-9]*)" <<<"$(memlock_of)" && ok \
			|| bad "a process of nobody beats pam_limits: '$(memlock_of)'"
		if [ "$(ulimit -l)" != 3145728 ]; then
			grep -q "(read from its process [0-9]*); pam_limits gives its new sessions 3G (/etc/security/limits.conf:2)" \
				<<<"$(memlock_of)" && ok || bad "the process and pam_limits disagree: '$(memlock_of)'"
		fi
	else
		echo "  SKIPPED pam_limits checks: needs root, unshare -m, and no process of 'nobody'"
	fi
	run --json=short check --for no-such-user-here
	expect_eq "check --for an unknown user" \
		"$(jq -r '.checks[] | select(.id == "memlock") | .hint' <<<"$out")" \
		"'no-such-user-here' is not a user on this host: cannot tell its limit"
	n=$(ls /sys/bus/pci/devices | wc -l)
	expect_eq "live devices lists every PCI device" "$("$CTL" --json=short devices | jq '.devices | length')" "$n"
fi

# vDPA (vdpa-guest.json) ---------------------------------------------------------------------
V=$H/vdpa-guest.json
run --host $V --json=short devices
expect_eq "vdpa: devices lists every vDPA device" \
	"$(jq -r '[.vdpa_devices[] | "\(.name)=\(.management_device)=\(.driver)=\(.vhost_node)"] | join(" ")' <<<"$out")" \
	"vdpa-sim0=vdpasim_net=vhost_vdpa=/dev/vhost-vdpa-2 vdpa0=pci/0000:00:02.0=vhost_vdpa=/dev/vhost-vdpa-0 vdpa1=pci/0000:01:02.0=vhost_vdpa=/dev/vhost-vdpa-1"
expect_eq "vdpa: a software device has no parent" "$(jq -r '.vdpa_devices[0].parent' <<<"$out")" null
expect_eq "vdpa: only the parents are labelled" \
	"$(jq -r '[.devices[] | select(.vdpa) | "\(.bdf)=\(.vdpa.management_device)=\(.vdpa.devices[].name)"] | join(" ")' <<<"$out")" \
	"0000:00:02.0=pci/0000:00:02.0=vdpa0 0000:01:02.0=pci/0000:01:02.0=vdpa1"
expect_eq "vdpa: devices of other hosts carry no vdpa key" \
	"$("$CTL" --host $H/sample.json --json=short devices | jq '([.devices[] | select(has("vdpa"))] | length), (.vdpa_devices | length)' | tr '\n' ' ')" "0 0 "
run --host $V devices
expect_eq "vdpa: devices (human) lists them" "$(grep -c 'mgmtdev=' <<<"$out")" 3
expect_eq "vdpa: devices (human) labels the parent" \
	"$(grep '^0000:01:02.0' <<<"$out" | grep -o '(vDPA parent.*)')" "(vDPA parent: vdpa1 on vhost_vdpa /dev/vhost-vdpa-1)"
run --host $V --json=short groups
expect_eq "vdpa: a group with a vhost-vdpa parent is not viable" \
	"$(jq -r '[.groups[] | select(.group == 2 or .group == 5) | .verdict] | join(",")' <<<"$out")" "not-viable,not-viable"
expect_eq "vdpa: the reason names the vDPA device and vhost-vdpa" \
	"$(jq -r '.groups[] | select(.group == 5) | .blockers[0].reason' <<<"$out")" \
	"0000:01:02.0 (1af4:1041 Ethernet controller) is on vp-vdpa, the vDPA parent of vdpa1 on vhost_vdpa (/dev/vhost-vdpa-1): its DMA belongs to vhost-vdpa, a second framework over the same isolation"
expect_eq "vdpa: the fix deletes the vDPA device first" \
	"$(jq -r '.groups[] | select(.group == 5) | .blockers[0].fix' <<<"$out")" "vdpa dev del vdpa1; ioasidctl bind 0000:01:02.0"
expect_prefix "vdpa: vp_vdpa in a shared group: vhost-vdpa cannot open it" \
	"$(jq -r '.groups[] | select(.group == 5) | .notes[0]' <<<"$out")" "vdpa1 cannot be used through /dev/vhost-vdpa-1"
expect_eq "vdpa: alone in its group, no such note" "$(jq -r '.groups[] | select(.group == 2) | .notes | length' <<<"$out")" 0
run --host $V groups
expect_eq "vdpa: groups (human) labels the parent" "$(grep -c '(vDPA parent: vdpa0 on vhost_vdpa /dev/vhost-vdpa-0)' <<<"$out")" 1
run --host $V show 0000:00:02.0
expect_eq "vdpa: show rc (not viable)" "$rc" 2
expect_eq "vdpa: show names the vDPA device" "$(grep -E '^ +vdpa:' <<<"$out" | sed 's/^ *//')" "vdpa: vdpa0 (net) on vhost_vdpa, /dev/vhost-vdpa-0"
run --host $V --json=short show 0000:00:02.0
expect_eq "vdpa: show --json" "$(jq -r '.device.vdpa.devices[0] | "\(.name) \(.device_id) \(.vendor_id) \(.vhost_cdev) \(.vhost_dev)"' <<<"$out")" \
	"vdpa0 1 1af4 vhost-vdpa-0 506:0"
# virtio_vdpa: the parent is on a host driver for the host's own virtio device.
jq '(.vdpa_devices[] | select(.name == "vdpa0")) |= (.driver = "virtio_vdpa" | .vhost = null)' $V >"$tmp/vdpa-virtio.json"
run --host "$tmp/vdpa-virtio.json" --json=short show 2
expect_eq "vdpa: on virtio_vdpa the reason says so" "$(jq -r '.group.blockers[0].reason' <<<"$out")" \
	"0000:00:02.0 (1af4:1041 Ethernet controller) is on vp-vdpa, a host driver, the vDPA parent of vdpa0 on virtio_vdpa"
jq 'del(.vdpa_devices[] | select(.name == "vdpa0"))' $V >"$tmp/vdpa-none.json"
run --host "$tmp/vdpa-none.json" --json=short show 2
expect_eq "vdpa: a management device without vDPA devices" "$(jq -r '.group.blockers[0] | "\(.reason)|\(.fix)"' <<<"$out")" \
	"0000:00:02.0 (1af4:1041 Ethernet controller) is on vp-vdpa, a host driver (a vDPA management device without vDPA devices)|ioasidctl bind 0000:00:02.0"
run --host "$tmp/vdpa-none.json" show 0000:00:02.0
expect_eq "vdpa: show says no vDPA device" "$(grep -E '^ +vdpa:' <<<"$out" | sed 's/^ *//')" "vdpa: management device pci/0000:00:02.0, no vDPA device"
jq '.vdpa_devices[0].management_device = "pci/0000:00:09.0"' $V >"$tmp/vdpa-bad.json"
run --host "$tmp/vdpa-bad.json" groups
expect_eq "vdpa: a device of an unlisted management device is refused" "$rc" 1
expect_eq "vdpa: ... naming the field" "$err" \
	"ioasidctl: Cannot load host snapshot '$tmp/vdpa-bad.json': vdpa_devices[0].management_device: 'pci/0000:00:09.0' is not in vdpa_management_devices"

# policy explain --vdpa: a 'vdpa' rule on the parent's vendor grants vdpa0, not the software
# device; a PCI request for the parent is not granted by it.
printf '%s\n' 'allow user root to vdpa "vdpa*" vendor 0x1af4' >"$tmp/vdpa.conf"
run --host $V --json=short policy explain --config "$tmp/vdpa.conf" --user root --vdpa vdpa0
expect_eq "vdpa: explain --vdpa allows" "$rc $(jq -r '"\(.allow) \(.mode) \(.vdpa) \(.device)"' <<<"$out")" \
	"0 true vhost-vdpa vdpa0 0000:00:02.0"
run --host $V --json=short policy explain --config "$tmp/vdpa.conf" --user root --vdpa vdpa-sim0
expect_eq "vdpa: explain, software device" "$rc $(jq -r '"\(.allow) \(.device) \(.nearest.why)"' <<<"$out")" \
	"2 false null device: vDPA device 'vdpa-sim0' has no PCI function"
run --host $V --json=short policy explain --config "$tmp/vdpa.conf" --user root --device 0000:00:02.0
expect_eq "vdpa: a vdpa rule does not grant the PCI function" "$rc $(jq -r .allow <<<"$out")" "2 false"
run --host $V policy explain --config "$tmp/vdpa.conf" --user root --vdpa vdpa0 --mode attached
expect_eq "vdpa: --vdpa takes no --mode" "$rc" 64
run --host $V policy explain --config "$tmp/vdpa.conf" --user root --vdpa nope
expect_eq "vdpa: an unknown vDPA device" "$rc $err" "1 ioasidctl: No vDPA device 'nope' on $V"

# vdpa add/del: what is refused before netlink is asked (the VM tier's VD talks to the kernel)
run vdpa add vdpa0
expect_eq "vdpa add without --mgmtdev" "$rc $err" "64 ioasidctl: vdpa add needs --mgmtdev [BUS/]NAME"
run vdpa del vdpa0 --mgmtdev vdpasim_net
expect_eq "vdpa del takes no --mgmtdev" "$rc $err" \
	"64 ioasidctl: 'vdpa del' does not take --mgmtdev (see 'ioasidctl vdpa del --help')"
run vdpa add vdpa0 --mgmtdev /0000:00:02.0
expect_eq "vdpa add, an empty bus" "$rc $err" "64 ioasidctl: Bad --mgmtdev '/0000:00:02.0' (BUS/NAME or NAME)"
run vdpa add --mgmtdev vdpasim_net
expect_eq "vdpa add without a name" "$rc" 64
run vdpa del vdpa0 --vfio
expect_eq "vdpa del --vfio (not its option)" "$rc" 64
if command -v setpriv >/dev/null; then
	out=$(setpriv --reuid 65534 --regid 65534 --clear-groups "$CTL" vdpa del vdpa0 2>&1)
	expect_eq "vdpa del as a user" "$? $out" "1 ioasidctl: Creating and deleting vDPA devices needs root"
fi
# the same hosts read live ---------------------------------------------------------------------
# Each fixture materialized as a umockdev test bed and read by the live scan must give the
# same answers as the snapshot (check differs only by the memlock line, which is live only).
# vDPA is read through netlink, which the bed cannot carry: the snapshot side is the fixture
# without it (the vDPA output of the fixtures is checked in the vDPA section above).
if [ -x "$B/mktestbed" ]; then
	for f in $H/*.json; do
		n=$(basename "$f" .json)
		jq 'del(.vdpa_management_devices, .vdpa_devices)' "$f" >"$tmp/$n.novdpa.json"
		for v in "--json=short groups" "--json=short devices" "--legacy groups" devices; do
			live=$("$B/mktestbed" "$f" -- "$CTL" $v 2>&1)
			snap=$("$CTL" --host "$tmp/$n.novdpa.json" $v)
			expect_eq "$n: live '$v' equals the snapshot's" "$live" "$snap"
		done
		live=$("$B/mktestbed" "$f" -- "$CTL" --json=short check 2>&1 |
			jq -cS 'del(.checks[] | select(.id == "memlock")) | del(.summary)')
		snap=$("$CTL" --host "$tmp/$n.novdpa.json" --json=short check | jq -cS 'del(.summary)')
		expect_eq "$n: live check equals the snapshot's" "$live" "$snap"
		bdf=$(jq -r '.devices[-1].bdf' "$f")
		live=$("$B/mktestbed" "$f" -- "$CTL" --json=short show "$bdf" 2>&1)
		snap=$("$CTL" --host "$tmp/$n.novdpa.json" --json=short show "$bdf")
		expect_eq "$n: live 'show $bdf' equals the snapshot's" "$live" "$snap"
	done
else
	echo "  SKIPPED live-vs-snapshot: $B/mktestbed is not built"
fi

# every device's ids and strings as the host file has them -----------------------------------
# Through groups and devices alike, on every fixture: the printed leaves are shared between
# devices (verbs-inspect.c), so a wrong sharing shows as one device with another's ids.
ids='[.vendor, .device, .subsystem_vendor, .subsystem_device, .class, .revision, .driver,
	.vendor_name, .device_name] | @json'
for f in $H/*.json; do
	n=$(basename "$f" .json)
	want=$(jq -r ".devices | sort_by(.bdf)[] | [.bdf, ($ids)] | @tsv" "$f")
	got=$("$CTL" --host "$f" --json=short devices |
		jq -r ".devices | sort_by(.bdf)[] | [.bdf, ($ids)] | @tsv")
	expect_eq "$n: devices keep each device's ids" "$got" "$want"
	got=$("$CTL" --host "$f" --json=short groups |
		jq -r "[.groups[].devices[], .ungrouped_devices[]] | sort_by(.bdf)[] | [.bdf, ($ids)] | @tsv")
	expect_eq "$n: groups keep each device's ids" "$got" "$want"
done

# each verb takes its own options -----------------------------------------------------------
# An option the verb does not take is a usage error naming both, before anything is done
# (no daemon is needed to see it); VERB --help lists that verb's options.
# ARGS|VERB AS NAMED|OPTION
for c in "acquire --user alice|acquire|--user" "leases --user 1000|leases|--user" \
	"groups --reset|groups|--reset" \
	"policy check --device 0000:01:00.0|policy check|--device" \
	"stage list --for alice|stage list|--for" \
	"--host $H/workstation.json show 0000:00:00.0 --socket /nonexistent|show|--socket"; do
	IFS='|' read -r args verb opt <<<"$c"
	# shellcheck disable=SC2086
	run $args
	expect_eq "$args: exit" "$rc" 64
	expect_eq "$args: message" "$err" \
		"ioasidctl: '$verb' does not take $opt (see 'ioasidctl $verb --help')"
	expect_eq "$args: nothing on stdout" "$out" ""
done
# The same options are fine where they belong (here: refused later, for another reason).
run acquire 0000:01:00.0 --device 0000:01:00.1 --mode unbound --lifetime process --socket /nonexistent
expect_eq "acquire's own options pass to the daemon call (exit 69)" "$rc" 69
run --host $H/workstation.json devices --vfio --blocking
expect_eq "devices --vfio --blocking" "$rc" 0
run acquire --help
expect_eq "acquire --help exit" "$rc" 0
for o in --device --iommu-group --pool --count --mode --layout --lifetime --socket; do
	grep -qE -- "^ +$o " <<<"$out" && ok || bad "acquire --help does not list $o"
done
grep -qE -- '^ +--fds-from ' <<<"$out" && bad "acquire --help lists run's --fds-from" || ok
run policy explain --help
for o in --user --group --unit --cgroup --label --device --mode --layout --host --config; do
	grep -qE -- "^ +$o " <<<"$out" && ok || bad "policy explain --help does not list $o"
done
expect_eq "policy explain --help shows one sub-command" "$(grep -c '^Usage:' <<<"$out")" 1
run policy --help
expect_eq "policy --help shows every sub-command" "$(grep -c '^Usage:' <<<"$out")" 3
run --help
expect_eq "--help" "$(grep -c "VERB --help" <<<"$out")" 2
# Every option of the binary is listed by some VERB --help.
all=""
for v in $("$CTL" --help | awk '/^Verbs:/{v=1; next} /^$/{v=0} v && NF {print $1}' | sort -u); do
	all+=" $("$CTL" "$v" --help | grep -oE -- '(^| )--[a-z][a-z-]*' | tr -d ' ')"
done
for o in --device --pool --count --layout --lifetime --unit --cgroup --fds-from --expire \
	--iommu-group --for --reset --signal --vfio --blocking --legacy --label --user --group; do
	grep -qw -- "$o" <<<"$all" && ok || bad "no VERB --help lists $o"
done

# bash completion -----------------------------------------------------------------------------
# Sources ioasidctl/completion.bash in a bash without bash-completion's helpers and asks for
# the completions of a line, as readline would (COMP_WORDS, COMP_CWORD).
complete_line() { # WORDS... (the last one is the word being completed)
	bash --norc --noprofile -c '
		source ioasidctl/completion.bash
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_ioasidctl; [ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}" | sort' x "$@"
}
expect_eq "complete: verbs" "$(complete_line "$CTL" re | tr '\n' ' ')" "release restore revoke "
expect_eq "complete: every verb" "$(complete_line "$CTL" '' | wc -l)" \
	"$("$CTL" --help | awk '/^Verbs:/{v=1; next} /^$/{v=0} v && NF {print $1}' | sort -u | wc -l)"
expect_eq "complete: acquire's options" "$(complete_line "$CTL" acquire --l | tr '\n' ' ')" \
	"--layout --lifetime "
expect_eq "complete: no foreign option" "$(complete_line "$CTL" leases --u | tr '\n' ' ')" ""
expect_eq "complete: monitor" "$(complete_line "$CTL" mon | tr '\n' ' ')" "monitor "
expect_eq "complete: monitor's options" "$(complete_line "$CTL" monitor --s | tr '\n' ' ')" \
	"--socket "
expect_eq "complete: sub-commands" "$(complete_line "$CTL" policy '' | tr '\n' ' ')" \
	"check explain show "
expect_eq "complete: stage's sub-commands" "$(complete_line "$CTL" stage '' | tr '\n' ' ')" \
	"drop list "
expect_eq "complete: sub-command options" "$(complete_line "$CTL" policy explain --c | tr '\n' ' ')" \
	"--cgroup --config "
expect_eq "complete: --mode" "$(complete_line "$CTL" run --mode '' | tr '\n' ' ')" "attached unbound "
expect_eq "complete: cdi's options" "$(complete_line "$CTL" cdi --o | tr '\n' ' ')" "--output "
expect_eq "complete: --json=" "$(complete_line "$CTL" groups --json=s)" "--json=short"
want=$(jq -r '.devices[].bdf' $H/workstation.json | grep '^0000:01' | sort)
expect_eq "complete: BDFs of --host" \
	"$(complete_line "$CTL" --host $H/workstation.json acquire 0000:01)" "$want"
expect_eq "complete: --device BDF" \
	"$(complete_line "$CTL" --host $H/workstation.json run --device 0000:01)" "$want"
expect_eq "complete: nothing after run --" \
	"$(complete_line "$CTL" --host $H/workstation.json run --device 0000:01:00.0 -- qemu -d)" ""

# bind / restore through the CLI on a fake tree (--root) --------------------------------------
# The library is tested below the CLI with a hook playing the kernel (unit suite "bind"); here
# nothing plays it, so a real bind's writes land in plain files, the device never reaches
# vfio-pci, and the CLI must roll back and say so.
R=$tmp/root
mkdir -p $R/sys/bus/pci/drivers/vfio-pci $R/sys/bus/pci/drivers/nvme $R/sys/class/vfio-dev \
	$R/proc/self $R/sys/kernel/iommu_groups/12/devices/0000:3d:00.0
D=$R/sys/bus/pci/devices/0000:3d:00.0
mkdir -p $D/nvme/nvme0/nvme0n1/nvme0n1p1
echo 0x010802 >$D/class
echo '(null)' >$D/driver_override
ln -s ../../drivers/nvme $D/driver
touch $R/sys/bus/pci/drivers/nvme/bind $R/sys/bus/pci/drivers/nvme/unbind
ln -s ../../../kernel/iommu_groups/12 $D/iommu_group
ln -s ../../../../class/block $D/nvme/nvme0/nvme0n1/subsystem
ln -s ../../../../class/block $D/nvme/nvme0/nvme0n1/nvme0n1p1/subsystem
echo 259:0 >$D/nvme/nvme0/nvme0n1/dev
echo 259:1 >$D/nvme/nvme0/nvme0n1/nvme0n1p1/dev
echo '25 1 259:1 / /var rw - ext4 /dev/nvme0n1p1 rw' >$R/proc/self/mountinfo
: >$R/sys/bus/pci/drivers_probe

run --root $R bind 0000:3d:00.0 --dry-run
expect_eq "bind --dry-run rc" "$rc" 0
expect_eq "bind --dry-run plan" "$(sed -n 1,2p <<<"$out")" \
	"Plan: bind IOMMU group 12 to vfio-pci
  0000:3d:00.0  nvme -> vfio-pci"
expect_eq "bind --dry-run finding" "$(grep 'in use' <<<"$out")" \
	"  in use: 0000:3d:00.0: block device 'nvme0n1p1' is mounted on /var"
expect_eq "bind --dry-run verdict" "$(tail -1 <<<"$out")" \
	"Dry run, nothing changed. Binding would be refused (--force binds anyway)."
run --root $R --json=short bind 12 --dry-run
expect_eq "bind --dry-run --json" \
	"$(jq -c '[.group, .result, .members[0].action, .findings[0].kind, .findings[0].detail]' <<<"$out")" \
	'[12,"planned","move","mounted","/var"]'
expect_eq "bind --dry-run wrote nothing" "$(cat $D/driver_override)" "(null)"
if [ "$(id -u)" = 0 ]; then
	run --root $R bind 0000:3d:00.0
	expect_eq "bind refused rc" "$rc" 2
	expect_eq "bind refused" "$err" \
		"  in use: 0000:3d:00.0: block device 'nvme0n1p1' is mounted on /var
ioasidctl: Refusing to bind 0000:3d:00.0: 1 finding above (--force binds anyway)"
	expect_eq "bind refused: stdout empty" "$out" ""
	run --root $R --json=short bind 0000:3d:00.0
	expect_eq "bind refused --json" "$rc/$(jq -c '[.result, (.findings | length), .findings[0].object]' <<<"$out")" \
		'2/["refused",1,"nvme0n1p1"]'
	expect_eq "bind refused --json: the line on stderr" "$err" \
		"ioasidctl: Refusing to bind 0000:3d:00.0: 1 finding in the JSON output (--force binds anyway)"
	expect_eq "bind refused wrote nothing" "$(cat $D/driver_override)" "(null)"
	# --force: the writes happen, vfio-pci never takes the device, everything goes back.
	run --root $R bind 0000:3d:00.0 --force
	expect_eq "bind rollback rc" "$rc" 1
	expect_eq "bind rollback message" "$err" \
		"ioasidctl: Binding failed, nothing is left changed: 0000:3d:00.0: vfio-pci did not take it (now on nvme)"
	expect_eq "bind rollback: override cleared" "$(cat $D/driver_override)" ""
	expect_eq "bind rollback: no record" "$(ls $R/run/ioasid/bound)" ""
	expect_eq "bind rollback: last write" "$(cat $R/sys/bus/pci/drivers/nvme/bind 2>/dev/null)" \
		"0000:3d:00.0"
	run --root $R restore --all
	expect_eq "restore --all: nothing recorded" "$rc/$out" "0/No device was bound by ioasidctl"
	run --root $R restore 0000:3d:00.0
	expect_eq "restore: no record" "$rc/$err" \
		"1/ioasidctl: 0000:3d:00.0 was not bound by ioasidctl (no record)"
else
	echo "  bind/restore as root SKIPPED: not root"
fi
run bind 0000:3d:00.0 --driver nvme
expect_eq "bind --driver must be a vfio driver" "$rc" 64
run restore
expect_eq "restore without a target" "$rc" 64

# A record shows in groups and show ("bound by ioasidctl, was on ...").
mkdir -p $tmp/rec/run/ioasid/bound
printf 'driver=nouveau\noverride=\n' >$tmp/rec/run/ioasid/bound/0000:01:00.0
run --host $H/workstation.json --root $tmp/rec show 0000:01:00.0
expect_eq "show: bound by ioasidctl" "$(grep ' bound:' <<<"$out")" \
	"             bound: by ioasidctl, was on nouveau"
run --host $H/workstation.json --root $tmp/rec --json=short groups
expect_eq "groups --json: the record" \
	"$(jq -c '.groups[] | select(.group == 1) | [.devices[].ioasidctl_bind]' <<<"$out")" \
	'[null,{"was":"nouveau"},null]'
run --host $H/workstation.json --root $tmp/rec groups
expect_eq "groups: the record" "$(grep -c '(bound by ioasidctl, was on nouveau)$' <<<"$out")" 1
run --host $H/workstation.json --json=short groups
expect_eq "groups --host without --root: no record read" \
	"$(jq -c '[.groups[].devices[] | select(has("ioasidctl_bind"))] | length' <<<"$out")" 0

# The host's own disk, alone in its group: a note, not a "bind it" hint.
E=$tmp/essential
P=$E/sys/bus/pci/devices/0000:02:00.0/nvme/nvme0/nvme0n1/nvme0n1p2
mkdir -p $P $E/proc/self
ln -s ../../../../class/block $P/subsystem
echo 259:2 >$P/dev
echo '25 1 259:2 / / rw - ext4 /dev/nvme0n1p2 rw' >$E/proc/self/mountinfo
run --host $H/workstation.json --root $E --json=short show 5
expect_eq "essential: no fix" "$(jq -c '.group.blockers[0] | [.fix, .fix_sysfs]' <<<"$out")" '[null,null]'
expect_eq "essential: the note" "$(jq -r '.group.blockers[0].note' <<<"$out")" \
	"not a candidate for passthrough, this host uses it: 0000:02:00.0: block device 'nvme0n1p2' is mounted on /"
run --host $H/workstation.json --root $E groups
expect_eq "essential: human note" "$(grep -A1 '✗ 0000:02:00.0' <<<"$out" | tail -1)" \
	"     note: not a candidate for passthrough, this host uses it: 0000:02:00.0: block device 'nvme0n1p2' is mounted on /"
run --host $H/workstation.json --json=short show 5
expect_eq "essential: the hint without checks" "$(jq -r '.group.blockers[0].fix' <<<"$out")" \
	"ioasidctl bind 0000:02:00.0"

# one key style: every --json document is snake_case ------------------------------------------
for h in $H/*.json; do
	b=$(basename $h .json)
	first=$("$CTL" --host $h --json=short devices 2>/dev/null | jq -r '.devices[0].bdf // empty')
	for v in groups devices check snapshot ${first:+"show $first"}; do
		# shellcheck disable=SC2086
		out=$("$CTL" --host $h --json=short $v 2>/dev/null)
		[ -n "$out" ] || { bad "key style: $b $v printed nothing"; continue; }
		expect_eq "key style: $b $v" "$(jq -c -f tests/json-key-style.jq <<<"$out")" "[]"
	done
done
# A device's udev properties have one shape in show and in a snapshot: an object.
run --host $H/sample.json --json=short show 0000:00:02.0
expect_eq "show: properties as in the snapshot" "$(jq -c .device.properties <<<"$out")" \
	"$("$CTL" --host $H/sample.json snapshot | jq -c '.devices[] | select(.bdf == "0000:00:02.0") | .properties')"
expect_eq "show: a property" "$(jq -r .device.properties.ID_PATH <<<"$out")" "pci-0000:00:02.0"
# The check itself: a camelCase key is caught, a udev property name is not.
expect_eq "key style: camelCase caught" \
	"$(jq -c -f tests/json-key-style.jq <<<'{"a_b":{"devId":1},"properties":{"ID_PATH":"x"}}')" \
	'["devId"]'
# (a) The snapshot fixtures as stored, not only as the writer reproduces them: every key
# snake_case (a device's udev properties aside).
for f in $H/*.json tests/tools/kernel-probe-guest.json; do
	expect_eq "key style: fixture $(basename "$f")" "$(jq -c -f tests/json-key-style.jq "$f")" "[]"
done

# one name for one thing: the wire, the CLI and snapshots --------------------------------------
# The wire keeps Varlink's lowerCamelCase, the CLI and snapshots are snake_case (ioasidctl(8)),
# and a field the wire and the CLI both have has one name in both: the wire's name turned
# snake_case is the CLI's key for it. A group's number is "group" in all three.
#
# idl_fields FILE [TYPE]: the field names of FILE's types, methods and errors (of type TYPE
# only), one a line, in order. Every field is NAME ":" TYPE; nothing else in the IDL has a
# colon once comments are gone.
idl_fields() {
	sed 's/#.*//' "$1" |
		awk -v t="${2:-}" 't == "" { print; next }
			$0 ~ "^type " t " *\\(" { on = 1 } on { print } on && /\)/ { exit }' |
		grep -o '[A-Za-z_][A-Za-z0-9_]*[[:space:]]*:' | tr -d ' \t:'
}
camel_to_snake() { sed -E 's/([A-Z])/_\L\1/g'; }
# (b) Every field name of the installed IDL is lowerCamelCase: no underscore, lower case first.
n_fields=0
for f in common/io.ioasid.*.varlink; do
	fields=$(idl_fields "$f")
	n_fields=$((n_fields + $(wc -l <<<"$fields")))
	expect_eq "key style: $(basename "$f") fields are lowerCamelCase" \
		"$(grep -vxE '[a-z][a-zA-Z0-9]*' <<<"$fields" | sort -u | tr '\n' ' ')" ""
done
[ "$n_fields" -gt 50 ] && ok || bad "key style: only $n_fields fields found in the IDL files"

# The exceptions: a wire field (TYPE.field) or a snapshot key (snapshot.OBJECT.key) whose
# snake_case form is not the CLI's key for the same thing. The value is the key the CLI
# prints for it, or "-" when the CLI does not print it at all. An entry goes stale, and
# fails, when the field is gone, when the CLI now prints the "-" one, or when the CLI does
# not print the key named.
declare -A name_exceptions=(
	# The wire's viable is the verdict string ("viable", "not-viable", ...); the CLI prints
	# that string as verdict (and for a device, viable is a boolean beside it).
	[Group.viable]=verdict
	[Device.viable]=verdict
	# Who holds a group or device is the daemon's to say; groups and devices read the host
	# without a daemon (the holders are `ioasidctl leases`').
	[Group.owner]=-
	[Device.owner]=-
	# The wire names the device's VFIO cdev ("vfio3"), the CLI says which: vfio_cdev, beside
	# vfio_dev (major:minor) and vfio_node (the path).
	[Device.vfio]=vfio_cdev
	# A snapshot keeps the VFIO cdev as one object {name, dev, noiommu}; show prints it
	# spread out as vfio_cdev, vfio_dev and noiommu.
	[snapshot.device.vfio]=vfio_cdev
)
# same_names WHAT PREFIX NAMES CLI_KEYS: prints each of NAMES (snake_case already) that the
# CLI does not print under that name and that no exception PREFIX.NAME (the NAME as the
# source spells it: camelCase for the wire, so the caller passes "wire=snake" pairs) explains.
same_names() {
	local what=$1 prefix=$2 names=$3 cli=$4 pair src name want bad_names=""
	for pair in $names; do
		src=${pair%%=*} name=${pair#*=}
		want=${name_exceptions[$prefix.$src]-}
		if [ -z "$want" ]; then
			grep -qx -- "$name" <<<"$cli" || bad_names+="$src "
		elif [ "$want" = - ]; then
			grep -qx -- "$name" <<<"$cli" && bad_names+="$src(stale exception: printed as $name) "
		else
			grep -qx -- "$want" <<<"$cli" || bad_names+="$src(exception names $want, not printed) "
		fi
	done
	expect_eq "same names: $what" "$bad_names" ""
}
# wire_names TYPE: "field=snake_field" for each field of the Broker's TYPE.
wire_names() {
	idl_fields common/io.ioasid.Broker.varlink "$1" | while read -r f; do
		echo "$f=$(camel_to_snake <<<"$f")"
	done
}
cli_group_keys=$(for h in $H/*.json; do "$CTL" --host $h --json=short groups; done |
	jq -r '.groups[] | keys[]' | sort -u)
cli_device_keys=$(for h in $H/*.json; do "$CTL" --host $h --json=short devices; done |
	jq -r '.devices[] | keys[]' | sort -u)
cli_show_keys=$(for h in $H/*.json; do
	for b in $(jq -r '.devices[].bdf' $h); do "$CTL" --host $h --json=short show $b; done
done | jq -r '.device | keys[]' | sort -u)
snap_names() { # OBJECT: "key=key" for every key of the snapshots' OBJECTs (groups, devices)
	for h in $H/*.json; do "$CTL" --host $h snapshot; cat $h; done |
		jq -r ".$1[] | keys[]" | sort -u | sed 's/.*/&=&/'
}
wire_group=$(wire_names Group)
expect_eq "the wire's Group starts with its number, group" "$(head -1 <<<"$wire_group")" "group=group"
same_names "the wire's Group and groups --json" Group "$wire_group" "$cli_group_keys"
same_names "the wire's Device and devices --json" Device "$(wire_names Device)" "$cli_device_keys"
same_names "snapshot groups and groups --json" snapshot.group "$(snap_names groups)" "$cli_group_keys"
same_names "snapshot devices and show --json" snapshot.device "$(snap_names devices)" "$cli_show_keys"
# Every exception is about a field that exists.
for e in "${!name_exceptions[@]}"; do
	case $e in
	snapshot.group.*) names=$(snap_names groups) ;;
	snapshot.device.*) names=$(snap_names devices) ;;
	*) names=$(wire_names "${e%%.*}") ;;
	esac
	grep -q "^${e##*.}=" <<<"$names" && ok || bad "same names: exception $e names no field"
done
# The check itself: a wire field the CLI spells otherwise is caught, and so is a stale "-".
fails_before=$fail
same_names "(self-test, must fail)" Group "number=number" "$cli_group_keys" >/dev/null
same_names "(self-test, must fail)" Group "owner=owner" "$(printf 'owner\ngroup')" >/dev/null
caught=$((fail - fails_before))
fail=$fails_before
expect_eq "same names: the check catches a mismatch and a stale exception" "$caught" 2

# cdi: a CDI spec for the broker's socket ---------------------------------------------------
# tests/tools/cdi-check.py applies the CDI library's own load-time checks (trixie's podman is
# built with CDI 0.8.0); the real podman reading it runs in the systemd guest (tests/vm).
CDI_CHECK=tests/tools/cdi-check.py
run cdi --output - --json=short --socket /run/ioasid/ioasidd.sock
expect_eq "cdi --json rc" "$rc" 0
expect_eq "cdi: kind, device, version" "$(jq -r '"\(.kind) \(.devices[0].name) \(.cdiVersion)"' <<<"$out")" \
	"ioasid.io/broker default 0.4.0"
expect_eq "cdi: env names the socket" "$(jq -c '.devices[0].containerEdits.env' <<<"$out")" \
	'["IOASID_SOCKET=/run/ioasid/ioasidd.sock"]'
expect_eq "cdi: the socket is bind-mounted at the same path" \
	"$(jq -c '.devices[0].containerEdits.mounts' <<<"$out")" \
	'[{"hostPath":"/run/ioasid/ioasidd.sock","containerPath":"/run/ioasid/ioasidd.sock","type":"bind","options":["bind","nosuid","nodev","noexec"]}]'
# A socket that does not exist (here) is a warning on stderr, not a failure.
grep -q "warning: no socket at '/run/ioasid/ioasidd.sock'" <<<"$err" && [ ! -S /run/ioasid/ioasidd.sock ] ||
	[ -S /run/ioasid/ioasidd.sock ] && ok || bad "cdi: no warning about the missing socket: $err"
printf '%s\n' "$out" >"$tmp/stdout.json"
r=$(python3 $CDI_CHECK "$tmp/stdout.json" 2>&1)
expect_eq "cdi: the JSON passes the CDI library's checks" "$r" \
	"cdi-check: ok ioasid.io/broker=default cdiVersion=0.4.0 (needs 0.4.0)"
# The checker itself refuses what the library refuses (it would pass anything otherwise).
for bad_edit in '.cdiVersion = "1.1.0"' '.kind = "ioasid.io"' '.devices[0].name = "-x"' \
	'.devices[0].containerEdits.env = ["IOASID_SOCKET"]' '.cdiVersion = "0.3.0"' \
	'.devices[0].containerEdits.mounts[0].containerPath = "run/s"' '.devices = []' \
	'.devices[0].containerEdits.mounts[0].hostpath = "/x"'; do
	jq "$bad_edit" "$tmp/stdout.json" >"$tmp/bad.json"
	python3 $CDI_CHECK "$tmp/bad.json" >/dev/null 2>&1 && bad "cdi-check accepts: $bad_edit" || ok
done
# --cdi-version: a later version for a runtime whose CDI library knows it; trixie's (0.8.0)
# refuses 1.1.0, a library of the 1.1 release takes it. Only the versions from 0.4.0 (a
# mount's type) to 1.1.0, and only on cdi.
run cdi --output - --json=short --socket /run/ioasid/ioasidd.sock --cdi-version 1.1.0
expect_eq "cdi --cdi-version 1.1.0: rc, version" "$rc $(jq -r .cdiVersion <<<"$out")" "0 1.1.0"
printf '%s\n' "$out" >"$tmp/v11.json"
python3 $CDI_CHECK "$tmp/v11.json" >/dev/null 2>&1 && bad "cdi-check (0.8.0) accepts 1.1.0" || ok
expect_eq "cdi --cdi-version 1.1.0: passes a 1.1 library's checks" \
	"$(python3 $CDI_CHECK "$tmp/v11.json" --version-max 1.1.0 2>&1)" \
	"cdi-check: ok ioasid.io/broker=default cdiVersion=1.1.0 (needs 0.4.0)"
for v in 0.3.0 1.2.0 1.1 ""; do
	run cdi --output - --socket /run/ioasid/ioasidd.sock --cdi-version "$v"
	expect_eq "cdi --cdi-version '$v': usage error, nothing written" "$rc:$out" 64:
done
expect_prefix "cdi --cdi-version: the error lists the versions" "$err" \
	"ioasidctl: Unknown --cdi-version '' (0.4.0, 0.5.0, 0.6.0, 0.7.0, 0.8.0, 1.0.0 or 1.1.0)"
run groups --cdi-version 1.1.0
expect_eq "--cdi-version is cdi's only" "$rc" 64
if python3 -c 'import yaml' 2>/dev/null; then
	# The default form is YAML: the same document, and it passes the same checks.
	mkdir -p "$tmp/cdi-etc"
	run cdi --output "$tmp/cdi-etc/cdi/ioasid.yaml" --socket '/run/a dir/it'"'"'s "x" \y.sock'
	expect_eq "cdi --output FILE.yaml rc" "$rc" 0
	expect_eq "cdi: nothing on stdout when writing a file" "$out" ""
	expect_prefix "cdi: says what it wrote" "$err" \
		"ioasidctl: warning: no socket at '/run/a dir/it's \"x\" \\y.sock' yet"
	grep -qF "Wrote $tmp/cdi-etc/cdi/ioasid.yaml: containers get the socket" <<<"$err" && ok ||
		bad "cdi: no 'Wrote' line: $err"
	expect_eq "cdi: file mode" "$(stat -c %a "$tmp/cdi-etc/cdi/ioasid.yaml")" 644
	r=$(python3 $CDI_CHECK "$tmp/cdi-etc/cdi/ioasid.yaml" 2>&1)
	expect_eq "cdi: the YAML passes the CDI library's checks" "$r" \
		"cdi-check: ok ioasid.io/broker=default cdiVersion=0.4.0 (needs 0.4.0)"
	"$CTL" cdi --output - --json=short --socket '/run/a dir/it'"'"'s "x" \y.sock' \
		>"$tmp/quoted.json" 2>/dev/null
	expect_eq "cdi: YAML and JSON are the same document (quotes, backslash, spaces)" \
		"$(python3 -c 'import json, sys, yaml
a = yaml.safe_load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
print(a == b, a["devices"][0]["containerEdits"]["env"][0])' "$tmp/cdi-etc/cdi/ioasid.yaml" "$tmp/quoted.json")" \
		"True IOASID_SOCKET=/run/a dir/it's \"x\" \\y.sock"
	# Rewriting replaces the file whole (a rename), with $IOASID_SOCKET as the default.
	IOASID_SOCKET=/run/other.sock "$CTL" --quiet cdi --output "$tmp/cdi-etc/cdi/ioasid.yaml" 2>"$tmp/err"
	expect_eq "cdi --quiet: only the warning" "$(grep -vc warning "$tmp/err")" 0
	expect_eq "cdi: \$IOASID_SOCKET is the default socket" \
		"$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["devices"][0]["containerEdits"]["mounts"][0]["hostPath"])' "$tmp/cdi-etc/cdi/ioasid.yaml")" \
		/run/other.sock
	expect_eq "cdi: no temporary file left" "$(ls "$tmp/cdi-etc/cdi" | tr '\n' ' ')" "ioasid.yaml "
else
	echo "  SKIPPED cdi YAML checks: python3-yaml is not installed (make deps)"
fi
run cdi --output "$tmp/cdi-etc/ioasid.json" --socket /run/s.sock
expect_eq "cdi --output FILE.json rc" "$rc" 0
expect_eq "cdi: a .json file is JSON" "$(jq -r .kind "$tmp/cdi-etc/ioasid.json")" ioasid.io/broker
run cdi --output "$tmp/cdi-etc/ioasid.txt"
expect_eq "cdi: an extension CDI does not read is a usage error" "$rc" 64
grep -qF "must end in .yaml or .json" <<<"$err" && ok || bad "cdi .txt: $err"
[ ! -e "$tmp/cdi-etc/ioasid.txt" ] && ok || bad "cdi .txt: a file was written"
run --json cdi --output "$tmp/cdi-etc/ioasid.yaml"
expect_eq "cdi: --json with a .yaml file is a usage error" "$rc" 64
run cdi --socket relative.sock --output -
expect_eq "cdi: a relative socket is a usage error" "$rc" 64
run cdi --socket "/run/$(printf 'a\tb')" --output -
expect_eq "cdi: a control character in the socket is a usage error" "$rc" 64
run cdi --socket "/$(head -c 120 /dev/zero | tr '\0' a)" --output -
expect_eq "cdi: a socket longer than sun_path is a usage error" "$rc" 64
run cdi extra
expect_eq "cdi: an argument is a usage error" "$rc" 64
run cdi --device 0000:01:00.0
expect_eq "cdi: an option of another verb is a usage error" "$rc" 64
if [ "$(id -u)" != 0 ]; then :; else
	mkdir -p "$tmp/ro" && chmod 0555 "$tmp/ro"
	run_as_nobody=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" cdi \
		--output "$tmp/ro/x.yaml" 2>&1 >/dev/null; echo "rc=$?")
	expect_eq "cdi: an unwritable directory fails (exit 1)" "$(tail -1 <<<"$run_as_nobody")" rc=1
	grep -qF "Cannot write the CDI spec '$tmp/ro/x.yaml': Permission denied" <<<"$run_as_nobody" && ok ||
		bad "cdi unwritable: $run_as_nobody"
fi

# colour only on a tty ----------------------------------------------------------------------
esc=$(printf '\033[')
"$CTL" --host $H/workstation.json groups | grep -qF "$esc" && bad "colour on a pipe" || ok
if command -v script >/dev/null; then
	tty_out=$(TERM=xterm script -qec "$CTL --host $H/workstation.json groups" /dev/null)
	grep -qF "$esc" <<<"$tty_out" && ok || bad "no colour on a tty"
	tty_out=$(TERM=xterm NO_COLOR=1 script -qec "$CTL --host $H/workstation.json groups" /dev/null)
	grep -qF "$esc" <<<"$tty_out" && bad "colour despite NO_COLOR" || ok
fi

echo "inspect: $pass passed, $fail failed"
[ $fail -eq 0 ]
