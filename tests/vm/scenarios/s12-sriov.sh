# SPDX-License-Identifier: LGPL-2.1-or-later
# S12: SR-IOV on the real kernel, with QEMU's igb (an 82576 PF, VFs 8086:10ca) under root
#      port 00:03.0, in a boot of its own (trixie's QEMU: bookworm's has no igb).
#   1. The PF on its host driver (igb): VFs made through sriov_numvfs get groups of their own;
#      a VF on vfio-pci opens without a VF token on both paths, a token given is EINVAL.
#   2. The PF on vfio-pci (vfio_pci.enable_sriov=1): its VFs are captured by vfio-pci. One
#      process binds the PF's cdev and sets a VF token; a second process opens a VF. The
#      group path (GET_DEVICE_FD by name) needs the token; what the cdev path does is recorded
#      and compared with the sim (tests/tools/vf-token-rules.expected, unit kernel-sim
#      vf_token_rules), like K1.
#   3. The daemon (ioasidd --kernel=linux): the PF leased to uid A, uid B's VF refused naming
#      the PF (DependentOwned), and the other way round; with split-sriov grants, what the
#      kernel then does with B's VF in attached mode. These steps are outcomes.sh's S12,
#      replayed on the sim by simdiff.sh.

IGB_PF_ID=8086:10c9
S12_TOKEN=bd8d9d2b-5a5f-4f5a-a211-f591514ba1f3
S12_WRONG=00000000-0000-4000-8000-000000000001

s12_group() { basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group" 2>/dev/null)"; }
s12_driver() { basename "$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null; }

s12_vfs() { # PF -> the BDFs of its VFs, in virtfn order
	for v in 0 1 2 3 4 5 6 7; do
		[ -e "/sys/bus/pci/devices/$1/virtfn$v" ] &&
			basename "$(readlink "/sys/bus/pci/devices/$1/virtfn$v")"
	done
}

s12_fact() { # key value: one line of the rule table (compared with the sim) and a VMINFO
	echo "VMVFRULE $1 $2"
	S12_RULES="$S12_RULES$1 $2
"
}

s12_open() { # vm-edu vf-open args -> the kernel's answer (ok or the errno name)
	vm-edu vf-open "$@" 2>&1 | sed -n 's/.*result=\([A-Z0-9a-z]*\).*/\1/p' | head -n 1
}

s12_expect() { # what got want
	[ "$2" = "$3" ] && return 0
	S12_BAD="$S12_BAD; $1: $2 (want $3)"
}

s12_wait_driver() { # bdf driver
	i=0
	while [ "$(s12_driver "$1")" != "$2" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	[ "$(s12_driver "$1")" = "$2" ]
}

scenario_S12() {
	local pf vfs vf0 vf1 rel
	S12_BAD= S12_RULES=
	pf=$(dev_under 0000:00:03.0 $IGB_PF_ID)
	if [ -z "$pf" ]; then
		result S12 FAIL "no igb PF ($IGB_PF_ID) under 00:03.0"
		return
	fi
	info S12 "pf=$pf driver=$(s12_driver "$pf") group=$(s12_group "$pf") totalvfs=$(cat /sys/bus/pci/devices/$pf/sriov_totalvfs)"

	# 1. VFs under the host driver.
	if ! echo 2 >"/sys/bus/pci/devices/$pf/sriov_numvfs"; then
		result S12 FAIL "igb: writing 2 to sriov_numvfs failed"
		return
	fi
	vfs=$(s12_vfs "$pf" | tr '\n' ' ')
	vfs=${vfs% }
	vf0=$(echo $vfs | cut -d' ' -f1) vf1=$(echo $vfs | cut -d' ' -f2)
	for v in $vfs; do info S12 "igb: vf $v $(cat /sys/bus/pci/devices/$v/vendor):$(cat /sys/bus/pci/devices/$v/device) group=$(s12_group "$v") driver=$(s12_driver "$v")"; done
	if [ -z "$vf1" ] || [ -z "$(s12_group "$vf0")" ] || [ "$(s12_group "$vf0")" = "$(s12_group "$pf")" ] ||
		[ "$(s12_group "$vf0")" = "$(s12_group "$vf1")" ]; then
		result S12 FAIL "VFs without groups of their own: pf=$pf group $(s12_group "$pf"), vfs: $vfs"
		return
	fi
	bind_vfio "$vf0" || S12_BAD="$S12_BAD; cannot bind $vf0 (PF on igb) to vfio-pci"
	info S12 "igb: $vf0 cdev $(ls /sys/bus/pci/devices/$vf0/vfio-dev 2>/dev/null)"
	s12_fact hostpf-cdev-none "$(s12_open "$vf0")"
	s12_fact hostpf-cdev-token "$(s12_open "$vf0" --token $S12_TOKEN)"
	s12_fact hostpf-legacy-none "$(s12_open "$vf0" --legacy)"
	s12_fact hostpf-legacy-token "$(s12_open "$vf0" --legacy --token $S12_TOKEN)"
	echo "$vf0" >"/sys/bus/pci/devices/$vf0/driver/unbind"
	echo 0 >"/sys/bus/pci/devices/$pf/sriov_numvfs"

	# 2. The PF on vfio-pci: the VFs it makes are captured by vfio-pci (driver_override).
	bind_vfio "$pf" || { result S12 FAIL "cannot bind the PF $pf to vfio-pci"; return; }
	if ! echo 2 >"/sys/bus/pci/devices/$pf/sriov_numvfs"; then
		result S12 FAIL "vfio-pci: writing 2 to sriov_numvfs failed (vfio_pci.enable_sriov=1?)"
		return
	fi
	vfs=$(s12_vfs "$pf" | tr '\n' ' ')
	vfs=${vfs% }
	vf0=$(echo $vfs | cut -d' ' -f1) vf1=$(echo $vfs | cut -d' ' -f2)
	for v in $vfs; do
		s12_wait_driver "$v" vfio-pci || S12_BAD="$S12_BAD; $v not captured by vfio-pci"
		info S12 "vfio-pci: vf $v group=$(s12_group "$v") driver=$(s12_driver "$v") override=$(cat /sys/bus/pci/devices/$v/driver_override) cdev=$(ls /sys/bus/pci/devices/$v/vfio-dev 2>/dev/null)"
	done
	info S12 "vfio-pci: pf $pf group=$(s12_group "$pf") cdev=$(ls /sys/bus/pci/devices/$pf/vfio-dev 2>/dev/null) /dev/vfio: $(ls /dev/vfio | tr '\n' ' ')"

	# Nobody holds the PF: its token is the random one vfio-pci made, which nobody knows.
	s12_fact idlepf-cdev-none "$(s12_open "$vf0")"
	s12_fact idlepf-legacy-none "$(s12_open "$vf0" --legacy)"
	# Process A binds the PF and sets the token; process B opens a VF.
	rm -f /tmp/s12-release /tmp/s12-hold.out
	vm-edu vf-hold "$pf" $S12_TOKEN /tmp/s12-release >/tmp/s12-hold.out 2>&1 &
	S12_HOLDER=$!
	i=0
	while ! grep -q holding /tmp/s12-hold.out && [ $i -lt 100 ]; do
		kill -0 $S12_HOLDER 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	sed 's/^/VMINFO S12 holder: /' /tmp/s12-hold.out
	if grep -q holding /tmp/s12-hold.out; then
		s12_fact heldpf-cdev-none "$(s12_open "$vf0")"
		s12_fact heldpf-cdev-token "$(s12_open "$vf0" --token $S12_TOKEN)"
		s12_fact heldpf-cdev-wrong "$(s12_open "$vf0" --token $S12_WRONG)"
		s12_fact heldpf-legacy-none "$(s12_open "$vf0" --legacy)"
		s12_fact heldpf-legacy-token "$(s12_open "$vf0" --legacy --token $S12_TOKEN)"
		s12_fact heldpf-legacy-wrong "$(s12_open "$vf0" --legacy --token $S12_WRONG)"
	else
		S12_BAD="$S12_BAD; the PF holder did not bind and set the token"
	fi
	touch /tmp/s12-release
	wait $S12_HOLDER
	# A VF in use (opened with the token) and the PF opened again: the PF needs the token.
	rm -f /tmp/s12-release2 /tmp/s12-vf.out
	vm-edu vf-open "$vf1" --legacy --token $S12_TOKEN --hold /tmp/s12-release2 >/tmp/s12-vf.out 2>&1 &
	S12_HOLDER=$!
	i=0
	while ! grep -q holding /tmp/s12-vf.out && [ $i -lt 100 ]; do
		kill -0 $S12_HOLDER 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	sed 's/^/VMINFO S12 vf user: /' /tmp/s12-vf.out
	if grep -q holding /tmp/s12-vf.out; then
		s12_fact vfopen-pf-cdev-none "$(s12_open "$pf")"
		s12_fact vfopen-pf-cdev-wrong "$(s12_open "$pf" --token $S12_WRONG)"
		s12_fact vfopen-pf-cdev-token "$(s12_open "$pf" --token $S12_TOKEN)"
		s12_fact vfopen-pf-legacy-none "$(s12_open "$pf" --legacy)"
		s12_fact vfopen-pf-legacy-token "$(s12_open "$pf" --legacy --token $S12_TOKEN)"
	else
		S12_BAD="$S12_BAD; $vf1 did not open with the token"
	fi
	touch /tmp/s12-release2
	wait $S12_HOLDER

	# The rules the sim replays (K1's way): the recording in the initramfs.
	rel=/scenarios/vf-token-rules.expected
	if [ ! -e $rel ]; then
		S12_BAD="$S12_BAD; no vf-token-rules.expected in the initramfs"
	elif [ "$(grep -v '^#' $rel)" != "$(printf '%s' "$S12_RULES")" ]; then
		S12_BAD="$S12_BAD; the kernel's VF-token rules differ from vf-token-rules.expected: $(printf '%s' "$S12_RULES" | diff $rel - 2>&1 | grep '^[-+][a-z]' | tr '\n' ' ')"
	fi

	# 3. The daemon: the guest half of the sim-vs-real comparison of its S12 steps.
	IGB_PF=$pf IGB_VF0=$vf0 IGB_VF1=$vf1
	s12_daemon
	[ -z "$S12_BAD" ] && result S12 PASS "PF $pf + VFs $vfs: groups, vfio cdevs, VF-token rules as recorded, daemon refusals" ||
		result S12 FAIL "${S12_BAD#; }"
}

# The daemon steps (outcomes.sh oc_S12) against the real kernel, printed as VMOUTCOME records
# with the snapshot for simdiff.sh; the refusals are also checked here.
s12_daemon() {
	local snap
	OC_CTL=ioasidctl OC_RAW=rawclient OC_IOASIDD=ioasidd OC_IOASIDD_BYPASS=ioasidd-bypass
	OC_SOCK=/run/ioasid/oc.sock OC_DIR=/tmp/oc OC_SOCKET_GROUP_LINE="socket-group ioasid-clients"
	mkdir -p "$OC_DIR"
	chmod 0755 "$OC_DIR"
	if ! snap=$(ioasidctl snapshot 2>&1); then
		S12_BAD="$S12_BAD; ioasidctl snapshot: $snap"
		return
	fi
	echo "VMSNAP-BEGIN"
	echo "$snap"
	echo "VMSNAP-END"
	for v in IGB_PF IGB_VF0 IGB_VF1; do
		eval "echo \"VMOCVAR $v=\$$v\""
	done
	oc_S12 >/tmp/s12-outcomes.txt
	cat /tmp/s12-outcomes.txt
	# The daemon's refusals, both directions, name the dependent BDF.
	grep -q "^VMOUTCOME S12 vf-while-pf-held .*io.ioasid.Broker.DependentOwned.*\"dependent\":\"$IGB_PF\"" \
		/tmp/s12-outcomes.txt || S12_BAD="$S12_BAD; B's VF was not refused naming the PF"
	grep -q "^VMOUTCOME S12 pf-while-vf-held .*io.ioasid.Broker.DependentOwned.*\"dependent\":\"$IGB_VF0\"" \
		/tmp/s12-outcomes.txt || S12_BAD="$S12_BAD; A's PF was not refused naming the VF"
	grep -q "^VMOUTCOME S12 own-vf-while-pf-held .*\"exit\":0" /tmp/s12-outcomes.txt ||
		S12_BAD="$S12_BAD; A could not take a VF of its own PF"
}
