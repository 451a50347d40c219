#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The real-kernel tier: trixie's stock kernel in a QEMU guest (TCG) with a virtual Intel
# IOMMU, iommufd + VFIO cdev modules rebuilt out of tree from the unmodified sources, and
# the project's binaries driving real devices (QEMU's edu does real DMA).
#
#   B=build tests/vm/run.sh            (make check-vm)
#   IOASID_VM_CACHE=DIR                cache (default /var/cache/ioasid-vm)
#   IOASID_VM_SCENARIOS="S0 S9"        run only these scenarios: a narrowed run, said as such
#                                      in the summary (make check-vm refuses it)
#   IOASID_VM_TIMEOUT=SECONDS          per boot (default 900: a hang guard, not a time budget)
#   IOASID_VM_JOBS=N                   boots run side by side (default: the number of CPUs)
#
# Fails loudly (non-zero, clear message) when a package cannot be fetched, the modules do not
# build or the guest does not boot. Prints one line per scenario, the expected and actual
# counts and "vm: N passed, N failed".
. "$(dirname "$0")/lib.sh"
set -u

t0=$(date +%s)
[ "$(id -u)" = 0 ] || vm_die "needs root (debootstrap chroot, module build)"
for c in qemu-system-x86_64 debootstrap busybox cpio gzip xz modinfo timeout; do
	command -v "$c" >/dev/null || vm_die "'$c' is not installed (make deps installs DEBIAN_DEPS)"
done
out=$BDIR/vm
mkdir -p "$BDIR"
# The binaries under test are always the checkout's: a direct run must not test an old build.
vm_log "building the binaries under test (make build-tests) into $B"
nice make -s -C "$REPO" B="$B" build-tests >"$BDIR/vm-build.log" 2>&1 ||
	{ tail -n 40 "$BDIR/vm-build.log" >&2; vm_die "make build-tests failed"; }
[ -x "$BDIR/vm-edu" ] || vm_die "$BDIR/vm-edu missing after make build-tests"
# S4 needs a daemon whose group bookkeeping can be bypassed (a test-only build option).
vm_log "building the TESTING_BYPASS=1 ioasidd into $B/bypass"
make -s -j"$(nproc)" -C "$REPO" B="$BDIR/bypass" TESTING_BYPASS=1 "$BDIR/bypass/ioasidd" >"$BDIR/vm-bypass-build.log" 2>&1 ||
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

# The expected scenarios, in the order they run: boot mode (rebuilt: the iommufd + cdev
# modules; stock: Debian's vfio, legacy path; sriov: the rebuilt modules on a machine with
# QEMU's igb, trixie's QEMU; systemd: the rebuilt boot's machine with a trixie root file
# system, systemd as PID 1 and the project installed by `make install`), id, kind, and what the kernel log may show
# while it runs. kind "test" prints one VMTEST PASS/FAIL line; "step" (SD) must finish but is
# never counted as passed. kmsg "dmar": the scenario provokes DMAR faults on purpose (blocked
# DMA); "-": any DMAR fault in it fails the tier. WARN, BUG and oops fail it everywhere.
# A new scenario is one line here plus its scenario_<ID> in scenarios/*.sh; a new boot mode
# is a new first column (boot() takes the mode).
VM_EXPECTED="
rebuilt K1  test -
rebuilt S0  test dmar
rebuilt S1  test -
rebuilt S2  test -
rebuilt S3  test -
rebuilt S4  test -
rebuilt S5  test -
rebuilt S6  test dmar
rebuilt S7  test dmar
rebuilt S8  test -
rebuilt S10 test -
rebuilt B1  test -
rebuilt M1  test dmar
rebuilt S11 test -
rebuilt MEM test -
rebuilt RV  test dmar
rebuilt RVU test dmar
rebuilt ST  test -
rebuilt LT  test -
rebuilt HP  test dmar
rebuilt VDR test -
rebuilt VD  test -
rebuilt VD2 test -
rebuilt VD3 test -
rebuilt VDRV test -
rebuilt HOT test dmar
rebuilt SD  step -
rebuilt NB  test -
rebuilt L1  test dmar
stock   L0  test dmar
stock   S9  test -
stock   S5L test -
stock   RVL test -
sriov   S12 test -
systemd SY1 test -
systemd SY2 test -
systemd SY3 test -
systemd SY4 test -
systemd SY5 test -
systemd SY6 test -
systemd SY7 test -
systemd SY8 test -
systemd SY9 test -
systemd PD1 test -
systemd PD2 test -
systemd PD3 test -
"
ALL_IDS=$(awk 'NF { print $2 }' <<<"$VM_EXPECTED" | tr '\n' ' ')
MODES=$(awk 'NF && !seen[$1]++ { print $1 }' <<<"$VM_EXPECTED" | tr '\n' ' ')
exp_field() { awk -v id="$1" -v f="$2" 'NF && $2 == id { print $f }' <<<"$VM_EXPECTED"; }
want=${IOASID_VM_SCENARIOS:-$ALL_IDS}
for s in $want; do
	case " $ALL_IDS " in *" $s "*) ;; *) vm_die "IOASID_VM_SCENARIOS: no scenario '$s' (expected: $ALL_IDS)" ;; esac
done
NARROWED=
if [ -n "${IOASID_VM_SCENARIOS:-}" ]; then
	for s in $ALL_IDS; do case " $want " in *" $s "*) ;; *) NARROWED=1 ;; esac; done
fi
[ -z "$NARROWED" ] ||
	vm_log "NARROWED by IOASID_VM_SCENARIOS to: $want (of $(wc -w <<<"$ALL_IDS")): not a full run of the tier"
pick() { # mode -> the wanted scenarios of that boot, comma-separated, in table order
	local s r=
	for s in $(awk -v m="$1" 'NF && $1 == m { print $2 }' <<<"$VM_EXPECTED"); do
		case " $want " in *" $s "*) r="$r,$s" ;; esac
	done
	echo "${r#,}"
}
# Sim vs real: the boot, the scenario that prints its outcome records (VMOUTCOME, with the
# snapshot) and the outcomes.sh scenarios compared ("-": outcomes.sh's OC_SCENARIOS).
VM_SIMDIFF="
rebuilt SD  -
sriov   S12 S12
"

# The machine (see tests/vm/README.md for the groups it gives):
#   00:03.0 root port -> e1000e                         single-device group, host driver
#   00:04.0 root port -> edu 0.0 + pci-testdev 0.1     multifunction group (both vfio)
#   00:05.0 pcie-pci-bridge -> edu @1, pci-testdev @2  one group (the bridge's DMA alias)
#   00:06.0 root port -> edu                           single-device group
#   00:07.0 root port -> edu 0.0 + e1000e 0.1          multi-device group, one host driver
#   00:09.0 root port -> virtio-net 0.0 (modern) + edu 0.1  one group; VD puts it on vp_vdpa
#   00:08.0 root port -> edu (QEMU id hotedu)          single-device group, hot-unplugged and
#                                                      plugged back by HOT through QMP
#   00:10.0, 00:11.0 root ports -> e1000e each         single-device groups (NB's NICs A, B)
#   00:12.0 root port -> virtio-net (modern)            single-device group, only when VD2 runs
#                                                      (machine_vd2): VD2 puts it on vp_vdpa
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
	-device pcie-root-port,id=rp9,chassis=9,slot=9,bus=pcie.0,addr=0x9
	-device virtio-net-pci,bus=rp9,addr=0.0,multifunction=on,disable-legacy=on,romfile=,netdev=n9
	-device edu,bus=rp9,addr=0.1 -netdev user,id=n9,restrict=on
	-device pcie-root-port,id=rp5,chassis=5,slot=5,bus=pcie.0,addr=0x8
	-device edu,id=hotedu,bus=rp5,addr=0.0
	-device pcie-root-port,id=rp16,chassis=16,slot=16,bus=pcie.0,addr=0x10
	-device e1000e,bus=rp16,netdev=nba -netdev user,id=nba,restrict=on,ipv6=off
	-device pcie-root-port,id=rp17,chassis=17,slot=17,bus=pcie.0,addr=0x11
	-device e1000e,bus=rp17,netdev=nbb -netdev user,id=nbb,restrict=on,ipv6=off
)

# VD2's vp_vdpa parent alone in its group, added to the rebuilt boot only when VD2 runs. Its
# port comes after every other on pcie.0, so no other device's bus number moves.
machine_vd2=(
	-device pcie-root-port,id=rp18,chassis=18,slot=18,bus=pcie.0,addr=0x12
	-device virtio-net-pci,bus=rp18,disable-legacy=on,romfile=,netdev=n18
	-netdev user,id=n18,restrict=on
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
QEMU_BUNDLE= IGB_MODULES= VDPA_MODULES= NET_MODULES=
case " $want " in *" S10 "* | *" S12 "*) QEMU_BUNDLE=$("$VM_DIR/qemu-bundle.sh") || vm_die "no trixie QEMU for S10/S12" ;; esac
case " $want " in *" VD"*) VDPA_MODULES=$("$VM_DIR/vdpa-modules.sh" "$KV" "$VER") || vm_die "no vDPA modules for VD" ;; esac
case " $want " in *" S12 "*) IGB_MODULES=$("$VM_DIR/igb-modules.sh" "$KV" "$VER") || vm_die "no igb modules for S12" ;; esac
# The stock bonding, team, 802.1Q and bridge drivers for NB (upper devices over a real NIC).
case " $want " in *" NB "*) NET_MODULES=$("$VM_DIR/stock-modules.sh" "$KV" "$VER" net bonding team 8021q bridge) || vm_die "no net modules for NB" ;; esac
# The systemd guest's root image (tests/vm/sd-rootfs.sh: debootstrap + systemd + podman, once).
SD_IMAGE=
[ -z "$(pick systemd)" ] || SD_IMAGE=$("$VM_DIR/sd-rootfs.sh" "$KV" "$VER") || vm_die "no root image for the systemd guest"
flock -u "$lockfd"
t1=$(date +%s)

PASS=0 FAIL=0 TODO=0 TESTS_EXPECTED=0 TESTS_GOT=0 STEPS=0
fail_line() { # id text: one failure the tier counts
	printf 'vm: %-4s FAIL %s\n' "$1" "$2"
	FAIL=$((FAIL + 1))
}

# The guest's kernel log (VMKMSG section) with the scenario markers /init writes: WARN, BUG,
# oops and the like fail the tier wherever they appear, DMAR faults unless the scenario
# provokes them (kmsg column "dmar"). Lines after a scenario's end marker still count as its.
scan_kmsg() { # mode log
	local kl=$out/kmsg-$1.txt allow id line
	sed -n '/^VMKMSG-BEGIN$/,/^VMKMSG-END$/{/^VMKMSG-/d;p}' "$2" >"$kl"
	if ! grep -q 'ioasid-vm: scenario' "$kl"; then
		fail_line kmsg "no kernel log with scenario markers from the $1 guest"
		return
	fi
	allow=$(awk '$4 == "dmar" { print $2 }' <<<"$VM_EXPECTED" | tr '\n' ' ')
	while IFS=$'\t' read -r id line; do
		fail_line "$id" "kernel log: $line"
	done < <(awk -v allow=" $allow " '
		{ line = $0; sub(/^\[ *[0-9.]+\] /, "", line) }
		match(line, /^ioasid-vm: scenario [^ ]+ begin$/) { split(line, w, " "); cur = w[3]; next }
		line ~ /WARNING: CPU|WARNING: at |BUG: |kernel BUG|Oops|general protection fault|Call Trace|UBSAN|KASAN|KFENCE|list_(add|del) corruption|refcount_t: |blocked for more than|soft lockup|rcu_sched detected stall|rcu: INFO/ {
			if (!seen[cur "b"]++) printf "%s\t%s\n", (cur == "" ? "boot" : cur), line
			next
		}
		line ~ /DMAR: \[DMA (Read|Write)|DMAR: DRHD: handling fault|fault addr/ {
			c = (cur == "" ? "boot" : cur)
			if (index(allow, " " c " ") == 0 && !seen[c "d"]++)
				printf "%s\t%s (DMAR fault the scenario does not expect)\n", c, line
		}' "$kl")
}

# A boot in two halves. boot_run (in the background, at most IOASID_VM_JOBS at a time): the
# initramfs and the guest's whole run; its exit status and times go to $out/boot-<mode>.rc and
# anything it finds wrong to $out/boot-<mode>.fail. boot (in table order, once its run is done):
# everything the tier counts.
boot_run() { # mode scenarios
	local mode=$1 list=$2 initrd log rc tb te
	rm -f "$out/boot-$mode.rc" "$out/boot-$mode.fail"
	local qb= hm= vd= nm= qemu=(qemu-system-x86_64) mach=("${machine[@]}") append=
	case ",$list," in *,S10,*) qb=$QEMU_BUNDLE ;; esac
	case ",$list," in *,VD*) vd=$VDPA_MODULES ;; esac
	case ",$list," in *,VD2,*) mach+=("${machine_vd2[@]}") ;; esac
	case ",$list," in *,NB,*) nm=$NET_MODULES ;; esac
	if [ "$mode" = sriov ]; then
		# trixie's QEMU on the host, with the bundle's own loader and libraries; vfio-pci
		# may create VFs on a PF it drives.
		hm=$IGB_MODULES
		qemu=("$QEMU_BUNDLE/lib/ld-linux-x86-64.so.2" --library-path "$QEMU_BUNDLE/lib"
			"$QEMU_BUNDLE/bin/qemu-system-x86_64" -L "$QEMU_BUNDLE/share/qemu")
		mach=("${machine_sriov[@]}")
		append="vfio_pci.enable_sriov=1"
	fi
	# HOT: QEMU's monitor (QMP) on a socket, driven by the host-side watcher from the
	# guest's "VMHOTPLUG ..." requests on the serial console.
	local qmp=() wpid=
	case ",$list," in *,HOT,*)
		command -v python3 >/dev/null || vm_die "HOT needs python3 on the host (its QMP client)"
		rm -f "$out/qmp-$mode.sock"
		qmp=(-qmp "unix:$out/qmp-$mode.sock,server=on,wait=off")
		;;
	esac
	if [ "$mode" = systemd ]; then
		# The systemd guest: the same machine, its root on a virtio disk (the cached image,
		# never written: snapshot=on), a small initramfs that copies the installed project in.
		mach+=(-m 1536M -drive "file=$SD_IMAGE,format=raw,if=virtio,snapshot=on")
		append="quiet systemd.show_status=0 rd.udev.log_level=3"
		initrd=$("$VM_DIR/sd-initramfs.sh" "$KV" "$VER") || vm_die "initramfs ($mode) failed"
	else
		initrd=$(IOASID_VM_QEMU_BUNDLE=$qb IOASID_VM_HOST_MODULES=$hm IOASID_VM_VDPA_MODULES=$vd \
			IOASID_VM_NET_MODULES=$nm "$VM_DIR/mkinitramfs.sh" \
			"$KV" "$VER" "$mode") || vm_die "initramfs ($mode) failed"
	fi
	log=$out/serial-$mode.log
	vm_log "booting ($mode modules): $list"
	tb=$(date +%s)
	if [ ${#qmp[@]} -gt 0 ]; then
		: >"$log"
		python3 "$VM_DIR/qmp-hotplug.py" "$log" "$out/qmp-$mode.sock" "$out/qmp-$mode.txt" &
		wpid=$!
	fi
	# no_timer_check: under TCG on a loaded host the kernel's check of the timer through the
	# interrupt-remapped IO-APIC can fail and panic the boot before any device exists.
	timeout "${IOASID_VM_TIMEOUT:-900}" "${qemu[@]}" "${mach[@]}" "${qmp[@]}" \
		-kernel "$VM_CACHE/$VER/vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 loglevel=4 log_buf_len=4M no_timer_check intel_iommu=on iommu=nopt ioasid.scenarios=$list $append ${IOASID_VM_APPEND:-}" \
		</dev/null >"$log" 2>&1
	rc=$?
	te=$(date +%s)
	if [ -n "$wpid" ]; then
		wait "$wpid" || printf 'HOT\tthe QMP watcher failed: %s\n' "$(tail -n 3 "$out/qmp-$mode.txt" | tr '\n' ' ')" >>"$out/boot-$mode.fail"
		sed 's/^/VMINFO qmp /' "$out/qmp-$mode.txt" >>"$log"
	fi
	tr -d '\r' <"$log" >"$log.tmp" && mv "$log.tmp" "$log"
	echo "$rc $tb $te" >"$out/boot-$mode.rc"
	vm_log "$mode boot: $((te - tb)) s"
}

boot() { # mode scenarios
	local mode=$1 list=$2 log=$out/serial-$1.log rc tb te
	[ -n "$list" ] || return 0
	read -r rc tb te <"$out/boot-$mode.rc" 2>/dev/null || vm_die "the $mode boot did not run to its end (see above)"
	local what why
	if [ -s "$out/boot-$mode.fail" ]; then
		while IFS=$'\t' read -r what why; do fail_line "$what" "$why"; done <"$out/boot-$mode.fail"
	fi
	if ! grep -q '^VMTEST-END' "$log"; then
		echo "---- guest serial log ($log) ----" >&2
		tail -n 120 "$log" >&2
		vm_die "the guest ($mode) did not finish (qemu exit $rc after $((te - tb)) s)"
	fi
	# The guest powers off after VMTEST-END: QEMU then exits 0, anything else is a failure.
	[ "$rc" = 0 ] || fail_line boot "qemu ($mode) exited with $rc after VMTEST-END"
	# The machine lacks a device the scenarios use: nothing ran.
	local e
	while read -r _ e; do fail_line boot "$mode: $e"; done < <(grep -E '^VMFATAL ' "$log")
	# A setup step that failed in the guest (insmod, binding to vfio-pci) fails the tier even
	# if no scenario happened to need it.
	while read -r _ e; do fail_line boot "$e"; done < <(grep -E '^VMERROR ' "$log")
	# What the guest saw (IOVA ranges, ids, errnos, groups), kept beside the log.
	grep -E '^VM(INFO|TEST|STEP|BENCH) ' "$log" >"$out/facts-$mode.txt"
	# Benchmark figures a scenario printed (SY9): repeated, never judged here.
	sed -n 's/^VMBENCH /vm: bench /p' "$log"
	local id st detail seen=
	while read -r kind id st detail; do
		case " $seen " in *" $id "*) fail_line "$id" "more than one result"; continue ;; esac
		seen="$seen $id"
		case ",$list," in *",$id,"*) ;; *) fail_line "$id" "a result for a scenario not asked for"; continue ;; esac
		if [ "$(exp_field "$id" 3)" = step ]; then
			[ "$kind" = VMSTEP ] || { fail_line "$id" "a step reported as a test"; continue; }
			printf 'vm: %-4s step %s %s\n' "$id" "$st" "$detail"
			STEPS=$((STEPS + 1))
			[ "$st" = done ] || FAIL=$((FAIL + 1))
			continue
		fi
		[ "$kind" = VMTEST ] || { fail_line "$id" "a test reported as a step"; continue; }
		printf 'vm: %-4s %s %s\n' "$id" "$st" "$detail"
		TESTS_GOT=$((TESTS_GOT + 1))
		case $st in
		PASS) PASS=$((PASS + 1)) ;;
		TODO) TODO=$((TODO + 1)) ;; # a piece another branch has not implemented: said, not passed
		*) FAIL=$((FAIL + 1)) ;;
		esac
	done < <(grep -E '^VM(TEST|STEP) [A-Za-z0-9]+ (PASS|FAIL|TODO|done) ' "$log")
	for id in ${list//,/ }; do
		[ "$(exp_field "$id" 3)" = step ] || TESTS_EXPECTED=$((TESTS_EXPECTED + 1))
		case " $seen " in *" $id "*) ;; *) fail_line "$id" "no result from the guest" ;; esac
	done
	scan_kmsg "$mode" "$log"
	if grep -qE '^VM(TEST|STEP) [^ ]* FAIL' "$log"; then
		sed -n '/^VMINFO/p;/^VMDMESG-BEGIN/,/^VMDMESG-END/p' "$log" >&2
		vm_log "guest log: $log"
	fi
}

# Sim vs real: SD (S12 in the SR-IOV boot) printed the guest's snapshot and the outcome
# records of the daemon steps (scenarios/outcomes.sh); simdiff.sh replays them on the sim
# kernel over that snapshot. Each scenario's "vm: SIMDIFF PASS|FAIL" line counts in the
# summary, there must be one per compared scenario, and simdiff.sh's exit status counts.
SIM_EXPECTED=0 SIM_GOT=0
simdiff() { # mode
	local log=$out/serial-$1.log sd=$out/simdiff line n=0 rc by ids
	read -r _ by ids < <(awk -v m="$1" 'NF && $1 == m' <<<"$VM_SIMDIFF")
	[ -n "${by:-}" ] || return 0
	case ",$(pick "$1")," in *,"$by",*) ;; *) return 0 ;; esac
	[ "$1" = rebuilt ] || sd=$out/simdiff-$1
	[ "$ids" != - ] || ids=$(sed -n 's/^OC_SCENARIOS="\(.*\)"$/\1/p' "$VM_DIR/scenarios/outcomes.sh")
	SIM_EXPECTED=$((SIM_EXPECTED + $(wc -w <<<"$ids")))
	mkdir -p "$sd"
	sed -n '/^VMSNAP-BEGIN$/,/^VMSNAP-END$/{/^VMSNAP-/d;p}' "$log" >"$sd/snapshot.json"
	sed -n 's/^VMOCVAR //p' "$log" >"$sd/vars"
	sed -n 's/^VMOUTCOME //p' "$log" >"$sd/outcomes-real.txt"
	"$VM_DIR/simdiff.sh" "$sd" "$ids" >"$sd/result.txt"
	rc=$?
	while read -r line; do
		echo "$line"
		case $line in
		"vm: SIMDIFF PASS "*) PASS=$((PASS + 1)) n=$((n + 1)) ;;
		"vm: SIMDIFF FAIL "*) FAIL=$((FAIL + 1)) n=$((n + 1)) ;;
		esac
	done <"$sd/result.txt"
	SIM_GOT=$((SIM_GOT + n))
	# One line per compared scenario of outcomes.sh, and simdiff.sh's own verdict counts.
	[ "$n" = "$(wc -w <<<"$ids")" ] ||
		fail_line SIMDIFF "$1: $n comparison lines for the $(wc -w <<<"$ids") scenarios compared ($ids)"
	if [ "$rc" != 0 ] && ! grep -q '^vm: SIMDIFF FAIL ' "$sd/result.txt"; then
		fail_line SIMDIFF "simdiff.sh exited with $rc"
	fi
}

# The boots run side by side (each QEMU is one TCG thread), the longest first; the results are
# counted in table order.
jobs=${IOASID_VM_JOBS:-$(nproc)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
running=0
for mode in $(for m in systemd $MODES; do echo "$m"; done | awk '!seen[$0]++' | grep -xF -f <(tr ' ' '\n' <<<"$MODES")); do
	[ -n "$(pick "$mode")" ] || continue
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	boot_run "$mode" "$(pick "$mode")" &
	running=$((running + 1))
done
wait
for mode in $MODES; do
	boot "$mode" "$(pick "$mode")"
	simdiff "$mode"
done
# Every scenario is implemented now: a TODO line means one stopped being, and fails the tier.
[ "$TODO" = 0 ] || vm_log "$TODO scenario(s) reported TODO (see the TODO lines): failing the tier"
echo "vm: expected $TESTS_EXPECTED scenarios + $STEPS step(s) + $SIM_EXPECTED sim comparisons, got $TESTS_GOT scenario results + $SIM_GOT comparisons${NARROWED:+ (NARROWED by IOASID_VM_SCENARIOS: $(wc -w <<<"$ALL_IDS") in the full tier)}"
echo "vm: $PASS passed, $FAIL failed, $TODO todo ($(( $(date +%s) - t0 )) s total, prepare $((t1 - t0)) s)${NARROWED:+ NARROWED}"
[ "$FAIL" = 0 ] && [ "$TODO" = 0 ] && [ "$PASS" -gt 0 ] && [ "$TESTS_GOT" = "$TESTS_EXPECTED" ]
