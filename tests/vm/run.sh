#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The real-kernel tier: trixie's stock kernel in a QEMU guest (TCG) with a virtual Intel
# IOMMU, iommufd + VFIO cdev modules rebuilt out of tree from the unmodified sources, and
# the project's binaries driving real devices (QEMU's edu does real DMA).
#
#   B=build tests/vm/run.sh            (make check-vm)
#   IOASID_VM_CACHE=DIR                cache (default /var/cache/ioasid-vm)
#   IOASID_VM_SCENARIOS="S0 S9"        run only these scenarios
#   IOASID_VM_TIMEOUT=SECONDS          per boot (default 300)
#
# Fails loudly (non-zero, clear message) when a package cannot be fetched, the modules do not
# build or the guest does not boot. Prints one line per scenario and "vm: N passed, N failed".
. "$(dirname "$0")/lib.sh"
set -u

t0=$(date +%s)
[ "$(id -u)" = 0 ] || vm_die "needs root (debootstrap chroot, module build)"
for c in qemu-system-x86_64 debootstrap busybox cpio gzip xz modinfo timeout; do
	command -v "$c" >/dev/null || vm_die "'$c' is not installed (make deps installs DEBIAN_DEPS)"
done
[ -x "$BDIR/vm-edu" ] || vm_die "$BDIR/vm-edu missing: run 'make build-tests' first"
out=$BDIR/vm
# S4 needs a daemon whose group bookkeeping can be bypassed (a test-only build option).
vm_log "building the TESTING_BYPASS=1 ioasidd into $B/bypass"
make -s -C "$REPO" B="$BDIR/bypass" TESTING_BYPASS=1 "$BDIR/bypass/ioasidd" >"$BDIR/vm-bypass-build.log" 2>&1 ||
	{ cat "$BDIR/vm-bypass-build.log" >&2; vm_die "cannot build the TESTING_BYPASS=1 ioasidd"; }
mkdir -p "$out"

# Several checkouts may share the cache: fetching and building hold its lock.
mkdir -p "$VM_CACHE"
exec {lockfd}>"$VM_CACHE/.lock"
flock "$lockfd" || vm_die "cannot lock $VM_CACHE/.lock"
read -r KV VER < <("$VM_DIR/fetch.sh") || vm_die "fetch failed"
[ -n "${VER:-}" ] || vm_die "fetch did not resolve a kernel"
vm_log "kernel $KV (package $VER)"
"$VM_DIR/build-modules.sh" "$KV" "$VER" || vm_die "module build failed"

# Scenarios per boot mode: rebuilt modules (iommufd + cdev) and stock modules (legacy).
ALL_REBUILT="K1 S0 S1 S2 S3 S4 S5 S6 S7 S8 S10 B1 S11 SD L1"
ALL_STOCK="L0 S9"
# SR-IOV (QEMU's igb, which bookworm's QEMU lacks): a third boot with trixie's QEMU.
ALL_SRIOV="S12"
want=${IOASID_VM_SCENARIOS:-$ALL_REBUILT $ALL_STOCK $ALL_SRIOV}
pick() { local s r=; for s in $1; do case " $want " in *" $s "*) r="$r,$s" ;; esac; done; echo "${r#,}"; }

# The machine (see tests/vm/README.md for the groups it gives):
#   00:03.0 root port -> e1000e                         single-device group, host driver
#   00:04.0 root port -> edu 0.0 + pci-testdev 0.1     multifunction group (both vfio)
#   00:05.0 pcie-pci-bridge -> edu @1, pci-testdev @2  one group (the bridge's DMA alias)
#   00:06.0 root port -> edu                           single-device group
#   00:07.0 root port -> edu 0.0 + e1000e 0.1          multi-device group, one host driver
machine=(
	-machine q35,kernel-irqchip=split -accel tcg,thread=single -cpu max -smp 1 -m 1G
	-nodefaults -no-user-config -display none -serial stdio -monitor none -no-reboot
	-device intel-iommu,intremap=on,caching-mode=on
	-device pcie-root-port,id=rp1,chassis=1,slot=1,bus=pcie.0,addr=0x3
	-device e1000e,bus=rp1,netdev=n0 -netdev user,id=n0,restrict=on
	-device pcie-root-port,id=rp2,chassis=2,slot=2,bus=pcie.0,addr=0x4
	-device edu,bus=rp2,addr=0.0,multifunction=on -device pci-testdev,bus=rp2,addr=0.1
	-device pcie-pci-bridge,id=br1,bus=pcie.0,addr=0x5
	-device edu,bus=br1,addr=0x1 -device pci-testdev,bus=br1,addr=0x2
	-device pcie-root-port,id=rp3,chassis=3,slot=3,bus=pcie.0,addr=0x6
	-device edu,bus=rp3,addr=0.0
	-device pcie-root-port,id=rp4,chassis=4,slot=4,bus=pcie.0,addr=0x7
	-device edu,bus=rp4,addr=0.0,multifunction=on -device e1000e,bus=rp4,addr=0.1,netdev=n1
	-netdev user,id=n1,restrict=on
)

# The SR-IOV boot (S12): an igb (82576 PF; VFs 8086:10ca) alone under a root port.
machine_sriov=(
	-machine q35,kernel-irqchip=split -accel tcg,thread=single -cpu max -smp 1 -m 1G
	-nodefaults -no-user-config -display none -serial stdio -monitor none -no-reboot
	-device intel-iommu,intremap=on,caching-mode=on
	-device pcie-root-port,id=rp1,chassis=1,slot=1,bus=pcie.0,addr=0x3
	-device igb,bus=rp1,netdev=n0,romfile= -netdev user,id=n0,restrict=on
)

# trixie's QEMU for S10 (in the guest) and S12 (on the host, for its igb), installed into the
# build chroot once, and the stock igb driver for S12 (still under the lock).
QEMU_BUNDLE= IGB_MODULES=
case " $want " in *" S10 "* | *" S12 "*) QEMU_BUNDLE=$("$VM_DIR/qemu-bundle.sh") || vm_die "no trixie QEMU for S10/S12" ;; esac
case " $want " in *" S12 "*) IGB_MODULES=$("$VM_DIR/igb-modules.sh" "$KV" "$VER") || vm_die "no igb modules for S12" ;; esac
flock -u "$lockfd"
t1=$(date +%s)

PASS=0 FAIL=0 TODO=0
boot() { # mode scenarios
	local mode=$1 list=$2 initrd log rc tb te
	[ -n "$list" ] || return 0
	local qb= hm= qemu=(qemu-system-x86_64) mach=("${machine[@]}") append=
	case ",$list," in *,S10,*) qb=$QEMU_BUNDLE ;; esac
	if [ "$mode" = sriov ]; then
		# trixie's QEMU on the host, with the bundle's own loader and libraries; vfio-pci
		# may create VFs on a PF it drives.
		hm=$IGB_MODULES
		qemu=("$QEMU_BUNDLE/lib/ld-linux-x86-64.so.2" --library-path "$QEMU_BUNDLE/lib"
			"$QEMU_BUNDLE/bin/qemu-system-x86_64" -L "$QEMU_BUNDLE/share/qemu")
		mach=("${machine_sriov[@]}")
		append="vfio_pci.enable_sriov=1"
	fi
	initrd=$(IOASID_VM_QEMU_BUNDLE=$qb IOASID_VM_HOST_MODULES=$hm "$VM_DIR/mkinitramfs.sh" \
		"$KV" "$VER" "$mode") || vm_die "initramfs ($mode) failed"
	log=$out/serial-$mode.log
	vm_log "booting ($mode modules): $list"
	tb=$(date +%s)
	timeout "${IOASID_VM_TIMEOUT:-300}" "${qemu[@]}" "${mach[@]}" \
		-kernel "$VM_CACHE/$VER/vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 loglevel=4 intel_iommu=on iommu=nopt ioasid.scenarios=$list $append ${IOASID_VM_APPEND:-}" \
		</dev/null >"$log" 2>&1
	rc=$?
	te=$(date +%s)
	tr -d '\r' <"$log" >"$log.tmp" && mv "$log.tmp" "$log"
	if ! grep -q '^VMTEST-END' "$log"; then
		echo "---- guest serial log ($log) ----" >&2
		tail -n 120 "$log" >&2
		vm_die "the guest ($mode) did not finish (qemu exit $rc after $((te - tb)) s)"
	fi
	# A setup step that failed in the guest (insmod, binding to vfio-pci) fails the tier even
	# if no scenario happened to need it.
	local e
	while read -r _ e; do
		printf 'vm: %-4s FAIL %s\n' boot "$e"
		FAIL=$((FAIL + 1))
	done < <(grep -E '^VMERROR ' "$log")
	# What the guest saw (IOVA ranges, ids, errnos, groups), kept beside the log.
	grep -E '^VM(INFO|TEST) ' "$log" >"$out/facts-$mode.txt"
	local id st detail got=
	while read -r _ id st detail; do
		printf 'vm: %-4s %s %s\n' "$id" "$st" "$detail"
		got="$got $id"
		case $st in
		PASS) PASS=$((PASS + 1)) ;;
		TODO) TODO=$((TODO + 1)) ;; # a piece another branch has not implemented: said, not passed
		*) FAIL=$((FAIL + 1)) ;;
		esac
	done < <(grep -E '^VMTEST [A-Za-z0-9]+ (PASS|FAIL|TODO)' "$log")
	for id in ${list//,/ }; do
		case " $got " in *" $id "*) ;; *)
			printf 'vm: %-4s FAIL no result from the guest\n' "$id"; FAIL=$((FAIL + 1)) ;; esac
	done
	if grep -q '^VMTEST [^ ]* FAIL' "$log"; then
		sed -n '/^VMINFO/p;/^VMDMESG-BEGIN/,/^VMDMESG-END/p' "$log" >&2
		vm_log "guest log: $log"
	fi
	vm_log "$mode boot: $((te - tb)) s"
}

# Sim vs real: SD (S12 in the SR-IOV boot) printed the guest's snapshot and the outcome
# records of the daemon steps (scenarios/outcomes.sh); simdiff.sh replays them on the sim
# kernel over that snapshot. Each scenario's "vm: SIMDIFF PASS|FAIL" line counts in the summary.
simdiff() { # mode scenario-that-printed-them [outcomes.sh scenarios to compare]
	local log=$out/serial-$1.log sd=$out/simdiff line n=0
	[ "$1" = rebuilt ] || sd=$out/simdiff-$1
	case ",$(pick "$ALL_REBUILT $ALL_SRIOV")," in *,"$2",*) ;; *) return 0 ;; esac
	mkdir -p "$sd"
	sed -n '/^VMSNAP-BEGIN$/,/^VMSNAP-END$/{/^VMSNAP-/d;p}' "$log" >"$sd/snapshot.json"
	sed -n 's/^VMOCVAR //p' "$log" >"$sd/vars"
	sed -n 's/^VMOUTCOME //p' "$log" >"$sd/outcomes-real.txt"
	while read -r line; do
		echo "$line"
		case $line in
		"vm: SIMDIFF PASS "*) PASS=$((PASS + 1)) n=$((n + 1)) ;;
		"vm: SIMDIFF FAIL "*) FAIL=$((FAIL + 1)) n=$((n + 1)) ;;
		esac
	done < <("$VM_DIR/simdiff.sh" "$sd" "${3:-}")
	if [ "$n" = 0 ]; then
		echo "vm: SIMDIFF FAIL no comparison was made (see above)"
		FAIL=$((FAIL + 1))
	fi
}

boot rebuilt "$(pick "$ALL_REBUILT")"
simdiff rebuilt SD
boot stock "$(pick "$ALL_STOCK")"
boot sriov "$(pick "$ALL_SRIOV")"
simdiff sriov S12 S12
# Every scenario is implemented now: a TODO line means one stopped being, and fails the tier.
[ "$TODO" = 0 ] || vm_log "$TODO scenario(s) reported TODO (see the TODO lines): failing the tier"
echo "vm: $PASS passed, $FAIL failed, $TODO todo ($(( $(date +%s) - t0 )) s total, prepare $((t1 - t0)) s)"
[ "$FAIL" = 0 ] && [ "$TODO" = 0 ] && [ "$PASS" -gt 0 ]
