#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Live host path: every fixture host (tests/hosts/*.json) is materialized as a umockdev test
# bed (build/mktestbed) so the real libudev/sysfs code reads it.
#
#  (a) round trip: `ioasidctl snapshot` under the bed equals the fixture (canonical JSON,
#      jq -S), and is reported byte-identical when it is;
#  (b) lspci: `lspci -D -n` under the same preload lists the same functions with the same
#      vendor:device, class and revision as `ioasidctl devices --json` under the bed (or the
#      fixture's devices when this ioasidctl has no `devices` verb);
#  (c) the synthetic benchmark host (mktestbed --synthetic) scans back to what generated it;
#  (d) device names: udev properties are preferred, else the hwdb, else null;
#  (e) a kept bed, edited: cmdline veto of interrupt remapping, smallest address width, and
#      a changed id, a removed group link and a non-PCI group member are all noticed;
#      interrupt remapping from /proc/interrupts (Intel and AMD) and AMD's width from
#      amd-iommu/features (e2);
#  (f) this machine's own sysfs: snapshot agrees with lspci and reloads to itself;
#  (g) ioasidctl monitor on a bed: umockdev's uevents for a vfio-dev removal, a rebind, a hot
#      removal and a re-add reach ioasidd's udev monitor and the event stream
#      (tests/live/monitor-bed.py).
#
# Excluded from (a), only when they apply, and printed when they do: facts the umockdev
# preload cannot redirect. It redirects all of /sys, but a /dev or /proc path only when the
# bed holds it, so
#   - kernel.iommufd / vfio_cdev / vfio_legacy, when the fixture says false but this machine
#     has /dev/iommu, /dev/vfio/devices, /dev/vfio/vfio;
#   - kernel.release / kernel.cmdline / hostname, when the fixture has none (the real
#     /proc/sys/kernel/osrelease, /proc/cmdline, /proc/sys/kernel/hostname show through);
#   - devices[].vendor_name / device_name of devices whose fixture has no udev names
#     (no ID_VENDOR_FROM_DATABASE / ID_MODEL_FROM_DATABASE): the live code then asks this
#     machine's hwdb (/usr/lib/udev/hwdb.bin), which is outside the bed;
#   - vdpa_management_devices / vdpa_devices: read from the kernel's vdpa generic netlink
#     family, which no preload redirects (always left out of the comparison).
# Also outside the bed: the udev database in /run/udev/data. This tier assumes the machine's
# udev db has no entries for the fixtures' PCI addresses (true in containers without udevd).
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
CTL=$B/ioasidctl
MK=$B/mktestbed
pass=0
fail=0

skip() {
	echo "live/run.sh: SKIPPED: $*"
	echo "live: 0 passed, 0 failed (skipped)"
	exit 0
}
[ -x "$CTL" ] && [ -x "$MK" ] || skip "build $CTL and $MK first (make build-tests)"
command -v jq >/dev/null || skip "jq is not installed (make deps)"
command -v lspci >/dev/null || skip "lspci is not installed (apt-get install pciutils)"
preload_found=
for d in /usr/lib/*-linux-gnu /usr/lib64 /usr/lib; do
	[ -e "$d/libumockdev-preload.so.0" ] && preload_found=1 && break
done
[ -n "$preload_found" ] || skip "libumockdev-preload.so.0 not found (apt-get install umockdev)"

# An ASan build (B=build-asan) runs behind the umockdev preload: let ASan accept that.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ioasid-live.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

ok() {
	echo "  ok   $*"
	pass=$((pass + 1))
}
ko() {
	echo "  FAIL $*"
	fail=$((fail + 1))
}

have_devices_verb=
if "$CTL" --host tests/hosts/sample.json devices --json >/dev/null 2>&1; then
	have_devices_verb=1
fi

# The jq filter deleting what is excluded for fixture $1 (see the header), and a note.
exclusions() {
	local f=$1 filter=. note=()
	local -A devpath=([iommufd]=/dev/iommu [vfio_cdev]=/dev/vfio/devices [vfio_legacy]=/dev/vfio/vfio)
	for k in iommufd vfio_cdev vfio_legacy; do
		if [ -e "${devpath[$k]}" ] && [ "$(jq -r ".kernel.$k" "$f")" = false ]; then
			filter+=" | del(.kernel.$k)"
			note+=("kernel.$k (this machine has ${devpath[$k]})")
		fi
	done
	for k in release cmdline; do
		if [ "$(jq -r ".kernel.$k" "$f")" = null ]; then
			filter+=" | del(.kernel.$k)"
			note+=("kernel.$k (none in the fixture)")
		fi
	done
	if [ "$(jq -r '.hostname // null' "$f")" = null ]; then
		filter+=" | del(.hostname)"
		note+=("hostname (none in the fixture)")
	fi
	local unnamed
	unnamed=$(jq -r '[.devices[] | select((.properties | has("ID_VENDOR_FROM_DATABASE") or has("ID_MODEL_FROM_DATABASE")) | not) | .bdf] | join(" ")' "$f")
	if [ -n "$unnamed" ]; then
		filter+=' | .devices |= map(if ((.properties | has("ID_VENDOR_FROM_DATABASE") or has("ID_MODEL_FROM_DATABASE")) | not) then del(.vendor_name, .device_name) else . end)'
		note+=("vendor_name/device_name of $unnamed (this machine's hwdb)")
	fi
	# vDPA comes from the vdpa generic netlink family of this machine's kernel, which the
	# bed cannot redirect: never compared (the fixtures' vDPA is checked by the inspect and
	# unit tiers).
	filter+=' | del(.vdpa_management_devices, .vdpa_devices)'
	if [ "$(jq '.vdpa_devices // [] | length' "$f")" != 0 ]; then
		note+=("vdpa_management_devices/vdpa_devices (netlink, outside the bed)")
	fi
	printf '%s\n' "$filter"
	local IFS=';'
	printf '%s\n' "${note[*]:-}"
}

# lspci -D -n lines -> "BDF CLASS VVVV:DDDD REV" (REV 00 when lspci prints none).
lspci_norm() {
	sed -E 's/^([0-9a-f:.]+) ([0-9a-f]{4}): ([0-9a-f]{4}:[0-9a-f]{4})( \(rev ([0-9a-f]{2})\))?.*/\1 \2 \3 \5/' |
		awk '{ print $1, $2, $3, ($4 == "" ? "00" : $4) }' | sort
}
# A devices array (fixture or `devices --json`) -> the same form.
json_norm() {
	jq -r '.devices[] | "\(.bdf) \(.class[0:4]) \(.vendor):\(.device) \(.revision)"' | sort
}

for f in tests/hosts/*.json; do
	name=$(basename "$f" .json)
	echo "live: $name"
	{
		read -r filter
		read -r note
	} < <(exclusions "$f")

	# (a) round trip
	if ! "$MK" "$f" -- "$CTL" snapshot >"$tmp/$name.live.json" 2>"$tmp/$name.err"; then
		ko "$name: snapshot under the test bed failed: $(head -c 300 "$tmp/$name.err")"
	else
		[ -n "$note" ] && echo "       excluded: $note"
		if diff <(jq -S "$filter" "$f") <(jq -S "$filter" "$tmp/$name.live.json") >"$tmp/$name.diff"; then
			if cmp -s "$f" "$tmp/$name.live.json"; then
				ok "$name: live snapshot equals the fixture (byte-identical)"
			else
				ok "$name: live snapshot equals the fixture (canonical JSON)"
			fi
		else
			ko "$name: live snapshot differs from the fixture:"
			head -20 "$tmp/$name.diff" | sed 's/^/         /'
		fi
	fi

	# (b) lspci against the host model
	if ! "$MK" "$f" -- lspci -D -n >"$tmp/$name.lspci" 2>"$tmp/$name.lspci.err"; then
		ko "$name: lspci under the test bed failed: $(head -c 300 "$tmp/$name.lspci.err")"
		continue
	fi
	if [ -n "$have_devices_verb" ]; then
		what="ioasidctl devices --json"
		"$MK" "$f" -- "$CTL" devices --json >"$tmp/$name.devices.json" 2>/dev/null
		# devices exits 2 when something is not viable: the JSON is what counts here.
		src="$tmp/$name.devices.json"
	else
		what="the fixture"
		src=$f
	fi
	n_fixture=$(jq '.devices | length' "$f")
	if ! json_norm <"$src" >"$tmp/$name.model" 2>/dev/null; then
		ko "$name: cannot read the device list from $what"
	elif [ "$(wc -l <"$tmp/$name.model")" -ne "$n_fixture" ]; then
		ko "$name: $what lists $(wc -l <"$tmp/$name.model") devices, the fixture $n_fixture"
	elif diff "$tmp/$name.model" <(lspci_norm <"$tmp/$name.lspci") >"$tmp/$name.ldiff"; then
		ok "$name: lspci -D -n lists the same $n_fixture functions, ids, classes and revisions as $what"
	else
		ko "$name: lspci -D -n and $what disagree (< model, > lspci):"
		head -10 "$tmp/$name.ldiff" | sed 's/^/         /'
	fi
done

# (d) names: udev's properties win; without them the hwdb (when this machine has one) names
# the device from its modalias; without either the names are null.
echo "live: names (udev properties, hwdb fallback)"
jq '.devices |= map(if .bdf == "0000:3b:00.1" then .properties = {"ID_MODEL_FROM_DATABASE": "Renamed by a udev rule"} | .vendor_name = null | .device_name = "Renamed by a udev rule" else .properties = {} end)' \
	tests/hosts/sriov-nic.json >"$tmp/names.json"
if "$MK" "$tmp/names.json" -- "$CTL" snapshot >"$tmp/names.live.json" 2>"$tmp/names.err"; then
	got=$(jq -r '.devices[] | select(.bdf == "0000:3b:00.1") | "\(.vendor_name)|\(.device_name)"' "$tmp/names.live.json")
	if [ "$got" = "null|Renamed by a udev rule" ]; then
		ok "names: a udev property is preferred over the hwdb"
	else
		ko "names: expected the udev property to win, got '$got'"
	fi
	got=$(jq -r '.devices[] | select(.bdf == "0000:3b:00.0") | "\(.vendor_name)|\(.device_name)"' "$tmp/names.live.json")
	hwdb=
	for h in /etc/udev/hwdb.bin /usr/lib/udev/hwdb.bin /lib/udev/hwdb.bin; do [ -e "$h" ] && hwdb=$h; done
	if [ -n "$hwdb" ]; then
		case "$got" in
		"Intel Corporation|"*X710*) ok "names: the hwdb ($hwdb) names 8086:1572 when udev did not: '$got'" ;;
		*) ko "names: expected the hwdb to name 8086:1572, got '$got'" ;;
		esac
	elif [ "$got" = "null|null" ]; then
		ok "names: no hwdb on this machine, names are null"
	else
		ko "names: no hwdb on this machine but got names '$got'"
	fi
else
	ko "names: snapshot under the test bed failed: $(head -c 300 "$tmp/names.err")"
fi

# (e) edits to a kept bed show up in the scan: where /proc/interrupts shows no chip that
# tells, the cmdline can veto VT-d's ECAP.IR; the address width is the smallest MGAW across
# units; and the tier notices a changed id, a removed group link and a non-PCI group member
# (so (a) can fail).
echo "live: edited test bed"
bed=$tmp/bed
U="env UMOCKDEV_DIR=$bed LD_PRELOAD=libumockdev-preload.so.0"
if "$MK" tests/hosts/workstation.json "$bed" >/dev/null; then
	sed -i 's/$/ intremap=off/' "$bed/proc/cmdline"
	grep -v '^ *[0-9]*:' "$bed/proc/interrupts" >"$bed/proc/interrupts.new"
	mv "$bed/proc/interrupts.new" "$bed/proc/interrupts"
	# dmar0: MGAW (bits 21:16) = 35, a 36-bit unit; dmar1 keeps 39 bits.
	printf '%x\n' $(((0x$(cat "$bed/sys/devices/virtual/iommu/dmar0/intel-iommu/cap") & ~(0x3f << 16)) | (35 << 16))) \
		>"$bed/sys/devices/virtual/iommu/dmar0/intel-iommu/cap"
	gpu=$(readlink -f "$bed/sys/bus/pci/devices/0000:01:00.0")
	sed -i 's/^PCI_ID=.*/PCI_ID=10DE:2206/' "$gpu/uevent"
	rm "$bed/sys/kernel/iommu_groups/1/devices/0000:01:00.1"
	mkdir -p "$bed/sys/devices/platform/fe000000.dma"
	ln -s ../../../../devices/platform/fe000000.dma "$bed/sys/kernel/iommu_groups/9/devices/fe000000.dma"
	# A second one with its bus and driver links, as the kernel has them.
	mkdir -p "$bed/sys/devices/platform/fe100000.usb" "$bed/sys/bus/platform/drivers/dwc3"
	ln -s ../../../../devices/platform/fe100000.usb "$bed/sys/kernel/iommu_groups/9/devices/fe100000.usb"
	ln -s ../../../bus/platform "$bed/sys/devices/platform/fe100000.usb/subsystem"
	ln -s ../../../bus/platform/drivers/dwc3 "$bed/sys/devices/platform/fe100000.usb/driver"
	if $U "$CTL" snapshot >"$tmp/edited.json" 2>"$tmp/edited.err"; then
		check() { # check NAME JQ-EXPR EXPECTED
			local got
			got=$(jq -c "$2" "$tmp/edited.json")
			if [ "$got" = "$3" ]; then ok "edited bed: $1 ($got)"; else ko "edited bed: $1: got $got, expected $3"; fi
		}
		check "intremap=off on the cmdline vetoes interrupt remapping" .kernel.interrupt_remapping false
		check "address width is the smallest unit's MGAW+1" .kernel.address_width 36
		check "a changed PCI_ID is read" '.devices[] | select(.bdf == "0000:01:00.0") | .device' '"2206"'
		check "a device missing from its group's list has no group" \
			'.devices[] | select(.bdf == "0000:01:00.1") | .iommu_group' null
		check "a non-PCI group member is kept as foreign, with its bus and driver" \
			'.groups[] | select(.group == 9) | .foreign_members' \
			'[{"name":"fe000000.dma","bus":null,"driver":null},{"name":"fe100000.usb","bus":"platform","driver":"dwc3"}]'
		if diff -q <(jq -S . tests/hosts/workstation.json) <(jq -S . "$tmp/edited.json") >/dev/null; then
			ko "edited bed: the round-trip comparison did not notice the edits"
		else
			ok "edited bed: the round-trip comparison notices the edits"
		fi
	else
		ko "edited bed: snapshot failed: $(head -c 300 "$tmp/edited.err")"
	fi
else
	ko "edited bed: mktestbed into a kept directory failed"
fi

# (e2) interrupt remapping and width on AMD-Vi and from /proc/interrupts: the kernel's chips
# overrule ECAP.IR; AMD's width is the smallest EFR.HATS across units, in either form of
# amd-iommu/features; a unit whose features do not tell makes the width unknown.
irq_bed() { # irq_bed FIXTURE DIR SED-ON-PROC-INTERRUPTS -> the snapshot's kernel on stdout
	"$MK" "$1" "$2" >/dev/null || return 1
	sed -i "$3" "$2/proc/interrupts"
	env UMOCKDEV_DIR="$2" LD_PRELOAD=libumockdev-preload.so.0 "$CTL" snapshot | jq -c .kernel
}
expect_kernel() { # expect_kernel NAME KERNEL-JSON JQ-EXPR EXPECTED
	local got
	got=$(jq -c "$3" <<<"$2" 2>/dev/null)
	if [ "$got" = "$4" ]; then ok "$1 ($got)"; else ko "$1: got '$got', expected $4"; fi
}
echo "live: interrupt remapping and address width"
k=$(irq_bed tests/hosts/workstation.json "$tmp/irq1" 's/IR-//')
expect_kernel "VT-d with ECAP.IR but IO-APIC lines not remapped: no remapping" "$k" \
	.interrupt_remapping false
k=$(irq_bed tests/hosts/amd-epyc.json "$tmp/irq2" 's/IR-//')
expect_kernel "AMD-Vi, IO-APIC lines not remapped: no remapping" "$k" .interrupt_remapping false
k=$(irq_bed tests/hosts/gpu-server.json "$tmp/irq3" 's/^NMI:/ 24:  7  0  IR-PCI-MSI 524288-edge  nvme0q0\n&/')
expect_kernel "AMD-Vi, an IR-PCI-MSI chip: remapping" "$k" .interrupt_remapping true
k=$(irq_bed tests/hosts/gpu-server.json "$tmp/irq4" 's/^NMI:/  0:  44  0  IO-APIC  2-edge  timer\n&/')
expect_kernel "AMD-Vi, a plain IO-APIC chip: no remapping" "$k" .interrupt_remapping false
if "$MK" tests/hosts/amd-epyc.json "$tmp/aw" >/dev/null; then
	printf '58f77ef22294254\n' >"$tmp/aw/sys/devices/virtual/iommu/ivhd2/amd-iommu/features"
	printf '0:58f77ef2229465a\n' >"$tmp/aw/sys/devices/virtual/iommu/ivhd1/amd-iommu/features"
	k=$(env UMOCKDEV_DIR="$tmp/aw" LD_PRELOAD=libumockdev-preload.so.0 "$CTL" snapshot | jq -c .kernel)
	expect_kernel "AMD-Vi width is the smallest EFR.HATS (one-number and EFR2:EFR forms)" "$k" \
		.address_width 48
	printf 'a5bf7320a2294aee:1d\n' >"$tmp/aw/sys/devices/virtual/iommu/ivhd3/amd-iommu/features"
	k=$(env UMOCKDEV_DIR="$tmp/aw" LD_PRELOAD=libumockdev-preload.so.0 "$CTL" snapshot | jq -c .kernel)
	expect_kernel "AMD-Vi width unknown when one unit's EFR/EFR2 order is ambiguous" "$k" \
		.address_width 0
else
	ko "AMD-Vi width: mktestbed into a kept directory failed"
fi

# (c) the synthetic host the benchmark scans
spec=${SYNTHETIC_SPEC:-512:128}
echo "live: synthetic $spec"
if "$MK" --synthetic "$spec" --print-json >"$tmp/synthetic.json" &&
	"$MK" --synthetic "$spec" -- "$CTL" snapshot >"$tmp/synthetic.live.json"; then
	if cmp -s "$tmp/synthetic.json" "$tmp/synthetic.live.json"; then
		ok "synthetic $spec: live scan equals the generated host (byte-identical)"
	else
		ko "synthetic $spec: live scan differs from the generated host"
		diff <(jq -S . "$tmp/synthetic.json") <(jq -S . "$tmp/synthetic.live.json") | head -20 | sed 's/^/         /'
	fi
	n=$("$MK" --synthetic "$spec" -- lspci -D -n | wc -l)
	if [ "$n" -eq "${spec%%:*}" ]; then
		ok "synthetic $spec: lspci sees $n functions"
	else
		ko "synthetic $spec: lspci sees $n functions, expected ${spec%%:*}"
	fi
else
	ko "synthetic $spec: mktestbed or snapshot failed"
fi

# (f) this machine, without any bed: the real sysfs path agrees with lspci, and its
# snapshot reloads to itself.
echo "live: this machine"
if "$CTL" snapshot >"$tmp/self.json" 2>"$tmp/self.err"; then
	json_norm <"$tmp/self.json" >"$tmp/self.model"
	lspci -D -n | lspci_norm >"$tmp/self.lspci"
	if diff "$tmp/self.model" "$tmp/self.lspci" >"$tmp/self.diff"; then
		ok "this machine: snapshot and lspci -D -n agree on $(wc -l <"$tmp/self.model") functions"
	else
		ko "this machine: snapshot and lspci -D -n disagree (< snapshot, > lspci):"
		head -10 "$tmp/self.diff" | sed 's/^/         /'
	fi
	if "$CTL" --host "$tmp/self.json" snapshot | cmp -s - "$tmp/self.json"; then
		ok "this machine: its snapshot reloads byte-identical"
	else
		ko "this machine: its snapshot does not reload to itself"
	fi
else
	ko "this machine: snapshot failed: $(head -c 300 "$tmp/self.err")"
fi

# (g) ioasidctl monitor on a bed (ioasid issue 13's test-bed half of hotplug and driver
# changes): ioasidd --kernel=linux on the bed's live host model hears umockdev's uevents
# (its udev monitor under the preload) and an admin's monitor --json shows a vfio-dev removal
# under the PCI function's address, a rebind to a host driver (group not-viable), a hot
# removal (group no-iommu) and the device plugged back (viable). UMockdev's GObject binding
# is the uevent sender: the system python3 with gi (python3-gi, gir1.2-umockdev-1.0).
echo "live: monitor on a bed"
if /usr/bin/python3 -c 'import gi; gi.require_version("UMockdev", "1.0")' 2>/dev/null; then
	if "$MK" tests/hosts/sample.json "$tmp/monitor-bed" >/dev/null 2>"$tmp/monitor-bed.err"; then
		LD_PRELOAD=libumockdev-preload.so.0 /usr/bin/python3 tests/live/monitor-bed.py "$B" \
			"$tmp/monitor-bed" >"$tmp/monitor-bed.out" 2>&1
		sed -n 's/^  ok   /monitor: /p;s/^  FAIL /FAIL monitor: /p;s/^  \(monitor\|ioasidd\): /         /p' \
			"$tmp/monitor-bed.out" >"$tmp/monitor-bed.lines"
		while read -r line; do
			case $line in
			"FAIL "*) ko "${line#FAIL }" ;;
			"monitor: "*) ok "$line" ;;
			*) echo "$line" ;;
			esac
		done <"$tmp/monitor-bed.lines"
		grep -q '^monitor-bed: [0-9]* passed, 0 failed$' "$tmp/monitor-bed.out" ||
			ko "monitor on a bed: $(tail -n 3 "$tmp/monitor-bed.out" | tr '\n' ' ')"
	else
		ko "monitor on a bed: mktestbed failed: $(head -c 300 "$tmp/monitor-bed.err")"
	fi
else
	ko "monitor on a bed: /usr/bin/python3 has no gi with UMockdev 1.0 (apt-get install python3-gi gir1.2-umockdev-1.0)"
fi

echo "live: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
