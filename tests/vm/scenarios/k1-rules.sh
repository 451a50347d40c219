# SPDX-License-Identifier: LGPL-2.1-or-later
# K1: the kernel rules the sim backend is held to. kernel-probe --rules (kernel branch) runs
# the documented iommufd/VFIO rules through the project's linux backend on real devices; its
# output must equal tests/tools/kernel-probe-rules.expected, which the unit tests replay on
# the sim. A kernel (or backend) change that breaks a rule shows up here as a diff.
# Not every rule is the kernel's: K1_PROJECT_RULES are checks of the project's own backend
# (stale_cdev: device_open's post-open identity check returns ESTALE, no ioctl does), counted
# and named apart in the result line.
K1_PROJECT_RULES="stale_cdev"

scenario_K1() {
	local rc
	if ! command -v kernel-probe >/dev/null || [ ! -e /scenarios/kernel-probe-rules.expected ]; then
		result K1 FAIL "kernel-probe or its expected output is not in the initramfs"
		return
	fi
	kernel-probe --rules "$EDU_SINGLE" "$EDU_MF" "$TESTDEV_MF" >/tmp/k1.all 2>&1
	rc=$?
	info K1 "$(grep -v '^rule ' /tmp/k1.all | tr '\n' ' ')"
	# The recording keeps the rule lines only (the unit test compares the same).
	grep '^rule ' /tmp/k1.all >/tmp/k1.out
	if [ $rc = 0 ] && diff /scenarios/kernel-probe-rules.expected /tmp/k1.out >/tmp/k1.diff; then
		local proj=0 r
		for r in $K1_PROJECT_RULES; do
			grep -q "^rule $r .* ok$" /tmp/k1.out && proj=$((proj + 1))
		done
		result K1 PASS "kernel-probe --rules: $(($(grep -c ' ok$' /tmp/k1.out) - proj)) documented errno rules of the kernel hold on it, and $proj of the project's backend ($K1_PROJECT_RULES); output equals the recording the sim replays"
	else
		sed 's/^/VMINFO K1 diff /' /tmp/k1.diff
		result K1 FAIL "kernel-probe --rules exit $rc, $(grep -c '^[<>]' /tmp/k1.diff) lines differ from tests/tools/kernel-probe-rules.expected"
	fi
}
