# SPDX-License-Identifier: LGPL-2.1-or-later
# What both guest runners share (guest-init.sh, the busybox guests' /init, and sd-init.sh,
# the systemd guest's test unit): the output lines run.sh reads and the setup of the
# machine's devices. POSIX sh; the caller sets CMDLINE, FAILED and GUEST_DEVICES.

result() { # id PASS|FAIL detail...
	id=$1 st=$2
	shift 2
	[ "$st" = PASS ] || FAILED=1
	echo "VMTEST $id $st $*"
}
info() { id=$1; shift; echo "VMINFO $id $*"; }
step() { # id done|FAIL detail...: a step, not a test (run.sh never counts it as passed)
	id=$1 st=$2
	shift 2
	[ "$st" = done ] || FAILED=1
	echo "VMSTEP $id $st $*"
}
kmsg() { echo "ioasid-vm: $*" >/dev/kmsg; }

cmdline_value() { # key -> value of key=value on the kernel command line
	for w in $CMDLINE; do
		case $w in "$1"=*) echo "${w#*=}"; return 0 ;; esac
	done
	return 1
}

dev_under() { # port vendor:device -> BDF
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor"):$(cat "$d/device")" = "0x${2%:*}:0x${2#*:}" ] || continue
		case $(readlink -f "$d") in */"$1"/*) basename "$d"; return 0 ;; esac
	done
	return 1
}

# find_devices: each "VAR:port:vendor:device" of GUEST_DEVICES sets VAR to the BDF under
# that port; the ones not there are listed in MISSING (the tier fails at once on them).
find_devices() {
	MISSING=
	for e in $GUEST_DEVICES; do
		v=${e%%:*} rest=${e#*:}
		port=${rest%:*:*} id=${rest#"$port":}
		b=$(dev_under "$port" "$id")
		[ -n "$b" ] || MISSING="$MISSING $v($id under $port)"
		eval "$v=\$b"
	done
}

bind_vfio() { # BDF: driver_override, unbind, drivers_probe; retry while probing is deferred
	d=/sys/bus/pci/devices/$1
	[ -e "$d" ] || return 1
	echo vfio-pci >"$d/driver_override"
	[ -e "$d/driver" ] && echo "$1" >"$d/driver/unbind"
	i=0
	while [ $i -lt 50 ]; do
		echo "$1" >/sys/bus/pci/drivers_probe 2>/dev/null
		[ "$(basename "$(readlink "$d/driver" 2>/dev/null)")" = vfio-pci ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# Runs the scenario_<ID> functions ioasid.scenarios= names, between kernel-log markers; none
# when a device is missing (VMFATAL). where: what holds the scenarios, for a name that has no
# function ("initramfs", "guest").
run_scenarios() { # where
	want=$(cmdline_value ioasid.scenarios | tr , ' ')
	[ -n "$want" ] || result boot FAIL "no ioasid.scenarios= on the command line"
	if [ -n "$MISSING" ]; then
		echo "VMFATAL devices missing:$MISSING"
		want=
	fi
	for s in $want; do
		kmsg "scenario $s begin"
		# vm-edu derives its data patterns from this: no two transfers use the same one.
		export VM_EDU_TAG="$MODE-$s"
		if type "scenario_$s" >/dev/null 2>&1; then
			"scenario_$s"
		else
			result "$s" FAIL "no such scenario in this $1"
		fi
		kmsg "scenario $s end"
	done
}
