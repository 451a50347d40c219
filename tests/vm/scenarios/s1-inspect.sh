# SPDX-License-Identifier: LGPL-2.1-or-later
# S1: ioasidctl check / groups --json / devices --json on the guest's real sysfs agree with
# what sysfs itself and pciutils' lspci say: the same BDFs, ids, drivers, groups, group
# members, types, reserved regions and cdevs; the not-viable group is reported as such.

s1_fail() { result S1 FAIL "$*"; }
mismatch() { echo "VMINFO S1 MISMATCH $*"; errs=$((errs + 1)); }

scenario_S1() {
	local errs=0 n g got d drv grp cdev rc
	command -v jq >/dev/null || { s1_fail "no jq in the initramfs"; return; }
	ioasidctl check --json=short >/tmp/s1-check.json 2>/tmp/s1-check.err
	rc=$?
	echo "VMINFO S1 check exit $rc $(head -c 300 /tmp/s1-check.err)"
	# ioasidctl(8): "Exits with 2 when any check fails", else 0.
	n=$(jq '[.checks[] | select(.result == "fail")] | length' /tmp/s1-check.json 2>/dev/null)
	case $n in
	'') mismatch "check --json printed no checks" ;;
	0) [ $rc = 0 ] || mismatch "check exit $rc with no failed check, want 0" ;;
	*) [ $rc = 2 ] || mismatch "check exit $rc with $n failed checks, want 2" ;;
	esac
	for c in iommu_hardware iommu_enabled iommufd vfio_cdev vfio_pci; do
		got=$(jq -r --arg c "$c" '.checks[] | select(.id == $c) | .result' /tmp/s1-check.json 2>/dev/null)
		echo "VMINFO S1 check $c=$got"
		[ "$got" = pass ] || mismatch "check $c is '$got', want pass"
	done
	# Interrupt remapping (the machine has intel-iommu,intremap=on): the check must say
	# what the guest kernel's chips in /proc/interrupts say, read here with grep alone.
	got=$(jq -r '.checks[] | select(.id == "interrupt_remapping") | .result' /tmp/s1-check.json 2>/dev/null)
	if grep -Eq '^ *[0-9]+:.* IR-' /proc/interrupts; then
		n=pass
	elif grep -Eq '^ *[0-9]+:.* IO-APIC ' /proc/interrupts; then
		n=fail
	else
		n=warn
	fi
	echo "VMINFO S1 check interrupt_remapping=$got, /proc/interrupts says $n ($(grep -Eo ' (IR-)?(IO-APIC|PCI-MSI[A-Z]*)' /proc/interrupts | sort | uniq -c | tr -s ' \n' '  '))"
	[ "$got" = "$n" ] || mismatch "check interrupt_remapping is '$got', /proc/interrupts says $n"
	[ "$n" = pass ] || mismatch "no IR- chip in /proc/interrupts under intel-iommu,intremap=on"
	if ! ioasidctl groups --json=short >/tmp/s1-groups.json 2>/tmp/s1-groups.err; then
		s1_fail "ioasidctl groups --json failed: $(head -c 200 /tmp/s1-groups.err)"
		return
	fi
	if ! ioasidctl devices --json=short >/tmp/s1-devices.json 2>/tmp/s1-devices.err; then
		s1_fail "ioasidctl devices --json failed: $(head -c 200 /tmp/s1-devices.err)"
		return
	fi

	# One jq call per listing (each process start is slow under TCG), then plain text diffs.
	# Groups: numbers, type, members, reserved regions.
	jq -r '.groups[] | "\(.group) \(.type) [\([.devices[].bdf] | sort | join(" "))] \([.reserved_regions[] | "\(.start)-\(.end)-\(.type)"] | join(" "))"' \
		/tmp/s1-groups.json | sort >/tmp/s1-groups.got
	for g in $(ls /sys/kernel/iommu_groups); do
		echo "$g $(cat /sys/kernel/iommu_groups/$g/type) [$(ls /sys/kernel/iommu_groups/$g/devices | sort | tr '\n' ' ' | sed 's/ $//')] $(awk '{ printf "%s%s-%s-%s", (NR > 1 ? " " : ""), $1, $2, $3 }' /sys/kernel/iommu_groups/$g/reserved_regions)"
	done | sort >/tmp/s1-groups.want
	if ! diff /tmp/s1-groups.want /tmp/s1-groups.got >/tmp/s1-groups.diff; then
		sed 's/^/VMINFO S1 groups-diff /' /tmp/s1-groups.diff
		mismatch "groups differ from sysfs (want = sysfs, got = ioasidctl)"
	fi

	# Devices: BDF, ids and class against lspci; driver, group and cdev against sysfs.
	jq -r '.devices[] | "\(.bdf) \(.vendor):\(.device) \(.class[0:4]) \(.driver // "-") \(.iommu_group // "-") \(.vfio_cdev // "-" | split("/") | last)"' \
		/tmp/s1-devices.json | sort >/tmp/s1-devices.got
	# pciutils' lspci by absolute path: busybox ash would run its own applet first.
	if [ -x /usr/bin/lspci ]; then
		/usr/bin/lspci -Dnmm | tr -d '"' | while read -r bdf cls ven dev _; do
			d=/sys/bus/pci/devices/$bdf
			drv=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)
			grp=$(basename "$(readlink "$d/iommu_group" 2>/dev/null)" 2>/dev/null)
			cdev=$(ls "$d/vfio-dev" 2>/dev/null)
			echo "$bdf $ven:$dev $cls ${drv:--} ${grp:--} ${cdev:--}"
		done | sort >/tmp/s1-devices.want
		n=$(wc -l </tmp/s1-devices.want)
		[ "$(ls /sys/bus/pci/devices | wc -l)" = "$n" ] || mismatch "lspci lists $n devices, sysfs $(ls /sys/bus/pci/devices | wc -l)"
		echo "VMINFO S1 compared $n devices with lspci + sysfs"
		if ! diff /tmp/s1-devices.want /tmp/s1-devices.got >/tmp/s1-devices.diff; then
			sed 's/^/VMINFO S1 devices-diff /' /tmp/s1-devices.diff
			mismatch "devices differ (want = lspci + sysfs, got = ioasidctl)"
		fi
	else
		mismatch "no lspci in the initramfs"
	fi

	# Verdicts: the group with the e1000e on its host driver is not viable, the lone edu's is.
	g=$(basename "$(readlink /sys/bus/pci/devices/$EDU_HOSTGRP/iommu_group)")
	got=$(jq -r --argjson g "$g" '.groups[] | select(.group == $g) | .verdict' /tmp/s1-groups.json)
	echo "VMINFO S1 group $g ($EDU_HOSTGRP + $NIC_HOSTGRP on e1000e) verdict=$got"
	[ "$got" = not-viable ] || mismatch "group $g with a host-driver member is '$got', want not-viable"
	g=$(basename "$(readlink /sys/bus/pci/devices/$EDU_SINGLE/iommu_group)")
	got=$(jq -r --argjson g "$g" '.groups[] | select(.group == $g) | .verdict' /tmp/s1-groups.json)
	echo "VMINFO S1 group $g ($EDU_SINGLE alone on vfio-pci) verdict=$got"
	[ "$got" = viable ] || mismatch "group $g of the lone edu is '$got', want viable"

	if [ $errs = 0 ]; then
		result S1 PASS "$(jq '.groups | length' /tmp/s1-groups.json) groups, $(jq '.devices | length' /tmp/s1-devices.json) devices agree with sysfs and lspci"
	else
		result S1 FAIL "$errs mismatches (see VMINFO S1 MISMATCH lines)"
	fi
}
