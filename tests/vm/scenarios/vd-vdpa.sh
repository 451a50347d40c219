# SPDX-License-Identifier: LGPL-2.1-or-later
# VD: vDPA on the real kernel. The vDPA modules (vdpa_sim, vdpa_sim_net, vp_vdpa and vringh
#     rebuilt out of tree by tests/vm/vdpa-modules.sh, vdpa and vhost_vdpa stock) are loaded
#     here. `ioasidctl vdpa add` (the project's generic netlink code) creates a device on
#     vdpasim_net; `ioasidctl devices --json` lists it with the management device, driver
#     and /dev/vhost-vdpa-N (major:minor) that sysfs shows; its char device opens once and a
#     second open is EBUSY; bad requests get the kernel's errno (ENODEV for an unknown
#     management device, EEXIST for a taken name); `ioasidctl vdpa del` removes it, from
#     sysfs, /dev and the listing. Then QEMU's virtio-net-pci (modern only) under its own
#     root port, sharing its group with an edu: bound to vp_vdpa (driver_override), a
#     device created on pci/BDF; ioasidctl labels the PCI function as a vDPA parent and the
#     group not viable, the reason naming the vDPA device and its char device; the kernel
#     refuses vhost-vdpa's open (vhost_vdpa_alloc_domain: its own domain on a group of two)
#     and the edu's VFIO BIND (the group is not the caller's) with the errnos the sim claims,
#     and the daemon refuses both before the kernel would. On the simulator's device, a lease
#     through ioasidd (vd_lease).
# VD2: a vp_vdpa parent alone in its group (the virtio-net-pci run.sh adds under 00:12.0 for
#     VD2): labelled a vDPA parent, its group not viable for VFIO, no shared-group note; a
#     vhost-vdpa lease through ioasidd succeeds (the kernel attaches vhost-vdpa's own IOMMU
#     domain: a group of one) and its holder drives the device (vhost ioctls); meanwhile a
#     VFIO acquire of the parent is FrameworkConflict, and the kernel has no VFIO device or
#     group node for it to open (ENOENT).
# VD3: a VFIO lease blocks vhost-vdpa in the kernel itself: with the edu of the 00:09.0 group
#     leased (attached: iommufd owns the group's DMA), binding the virtio-net beside it to
#     vp-vdpa fails (pci_dma_configure -> iommu_device_use_default_domain: EBUSY, which
#     drivers_probe reports as EINVAL), the daemon's view unchanged; after the release it binds.
#     A lease in mode unbound does not own the group's DMA yet: the kernel lets vp-vdpa bind,
#     and the daemon's FrameworkConflict refuses a vhost-vdpa lease then, before the kernel's
#     EINVAL at open (vd3_unbound).

# VDRV: revoking a vhost-vdpa lease on the real kernel (vd_revoke): the holder sets the device
#     up (status 0x0f) and maps an IOVA through the lease's fd, the admin revokes, and the
#     holder then reads VHOST_VDPA_GET_STATUS 0 (the daemon's reset through its reference),
#     sees its mapping still there (the same IOVA again: EFAULT, the kernel's EEXIST), can
#     invalidate and remap it and set the device up again: the limit ioasidd(8) documents.
#     Why the daemon cannot unmap: another process with the same open file (pidfd_getfd)
#     writes an INVALIDATE of everything and the kernel refuses it (EFAULT: not the owner).

VD_VIRTIO_NET=1af4:1041 VD_PORT=0000:00:09.0 VD2_PORT=0000:00:12.0

vd_mismatch() { echo "VMINFO VD MISMATCH $*"; VD_ERRS=$((VD_ERRS + 1)); }

# The vDPA modules, the ones not loaded yet (irqbypass is, for vfio; VD2 and VD3 may run alone).
vd_load_modules() {
	local m
	for m in $(cat /lib/ioasid-modules/vdpa/order); do
		[ -e "/sys/module/$m" ] && continue
		insmod "/lib/ioasid-modules/vdpa/$m.ko" || vd_mismatch "insmod $m failed"
	done
}

pci_driver() { basename "$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null; }

# BDF onto vp_vdpa: the module is vp_vdpa, its PCI driver "vp-vdpa" (no id table: only by
# driver_override). Retried while probing is deferred; 0 once it is bound.
vd_bind_vp() {
	local d=/sys/bus/pci/devices/$1 i=0
	echo vp-vdpa >"$d/driver_override"
	[ -e "$d/driver" ] && [ "$(pci_driver "$1")" != vp-vdpa ] && echo "$1" >"$d/driver/unbind"
	while [ $i -lt 50 ]; do
		[ "$(pci_driver "$1")" = vp-vdpa ] && return 0
		echo "$1" >/sys/bus/pci/drivers_probe 2>/dev/null
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# The listing's entry for a vDPA device against sysfs: management device, driver, vhost-vdpa
# char device and dev_t. A vp_vdpa device's sysfs parent is its PCI function ("pci/BDF"); the
# simulator's has none (/sys/devices/vdpa0): its management device is the one asked for.
vd_check_listed() { # name mgmtdev
	local n=$1 want_mgmt=$2 d=/sys/bus/vdpa/devices/$1 drv cdev devt got
	drv=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)
	cdev=$(cd "$d" 2>/dev/null && ls -d vhost-vdpa-* 2>/dev/null | head -n1)
	devt=$(cat "$d/$cdev/dev" 2>/dev/null)
	info VD "sysfs $n: mgmtdev=$want_mgmt driver=${drv:-none} cdev=${cdev:-none} dev=${devt:-none} node=$(ls -l "/dev/$cdev" 2>/dev/null)"
	[ "$drv" = vhost_vdpa ] || vd_mismatch "$n is on '${drv:-no driver}', want vhost_vdpa"
	[ -n "$cdev" ] && [ -c "/dev/$cdev" ] || vd_mismatch "$n: no vhost-vdpa char device"
	ioasidctl devices --json=short >/tmp/vd-devices.json 2>/tmp/vd-devices.err ||
		vd_mismatch "devices --json failed: $(cat /tmp/vd-devices.err)"
	got=$(jq -r --arg n "$n" '.vdpa_devices[]? | select(.name == $n) |
		"\(.management_device) \(.driver) \(.vhost_cdev) \(.vhost_dev) \(.vhost_node)"' /tmp/vd-devices.json)
	info VD "listed $n: ${got:-nothing}"
	[ "$got" = "$want_mgmt $drv $cdev $devt /dev/$cdev" ] ||
		vd_mismatch "devices --json says '$got' for $n, sysfs '$want_mgmt $drv $cdev $devt /dev/$cdev'"
	VD_CDEV=$cdev
}

# ioasidctl vdpa del NAME, and NAME gone as vd_gone checks (cdev "": no char device check).
vd_del() { # name cdev
	local out
	out=$(ioasidctl vdpa del "$1" --json=short 2>&1)
	info VD "del $1: $out"
	[ "$(echo "$out" | jq -r '.result' 2>/dev/null | head -n1)" = ok ] || vd_mismatch "vdpa del $1 failed: $out"
	vd_gone "$1" "$2"
}
vd_gone() { # name cdev
	[ ! -e "/sys/bus/vdpa/devices/$1" ] || vd_mismatch "$1 still in sysfs after del"
	[ -z "$2" ] || [ ! -e "/dev/$2" ] || vd_mismatch "/dev/$2 still there after del"
	ioasidctl devices --json=short >/tmp/vd-devices.json 2>/dev/null
	[ -z "$(jq -r --arg n "$1" '.vdpa_devices[]? | select(.name == $n) | .name' /tmp/vd-devices.json)" ] ||
		vd_mismatch "devices --json still lists $1 after del"
}

# A lease through the daemon (ioasidd --kernel=linux): uid A's `run --vdpa vdpa0` gets the
# open /dev/vhost-vdpa-N at {vhostfd}; while it runs root's own open is EBUSY (the kernel's
# exclusivity: the daemon holds the file), root's lease list shows it, uid B (no vdpa rule)
# is refused; when the program exits the char device opens again.
vd_lease() { # cdev
	local cdev=$1 i out pid
	DAEMON_POLICY_FIRST="allow uid $UID_A to vdpa \"vdpa*\""
	daemon_start || { vd_mismatch "ioasidd did not start"; DAEMON_POLICY_FIRST=; return; }
	DAEMON_POLICY_FIRST=
	rm -f /tmp/vd-held /tmp/vd-go
	ctl_as $UID_A run --vdpa vdpa0 -- sh -c 'echo "held $IOASID_FDNAMES $(readlink "/proc/self/fd/$1")"
		touch /tmp/vd-held; while [ ! -e /tmp/vd-go ]; do sleep 0.1; done' sh '{vhostfd}' \
		</dev/null >/tmp/vd-lease.out 2>&1 &
	pid=$!
	i=0
	while [ ! -e /tmp/vd-held ] && [ $i -lt 100 ] && kill -0 $pid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	info VD "lease: $(cat /tmp/vd-lease.out)"
	out=$(vm-edu vhost-open "/dev/$cdev" 2>&1)
	info VD "while leased, root's $out"
	echo "$out" | grep -q "first=EBUSY second=EBUSY$" || vd_mismatch "root's open of a leased vhost-vdpa: '$out', want EBUSY"
	out=$(ctl_as 0 leases --json=short 2>&1)
	info VD "leases: $out"
	[ "$(echo "$out" | jq -r '[.. | objects | select(.vdpa? == "vdpa0")] | length' 2>/dev/null)" -ge 1 ] 2>/dev/null ||
		vd_mismatch "root's lease list has no vdpa0 lease"
	ctl_as $UID_B acquire --vdpa vdpa0 --json=short </dev/null >/dev/null 2>/tmp/vd-b.err
	i=$?
	info VD "uid $UID_B acquire --vdpa vdpa0: exit $i: $(cat /tmp/vd-b.err)"
	[ "$i" = 2 ] || vd_mismatch "uid $UID_B's acquire of vdpa0 exit $i, want 2 (refused)"
	touch /tmp/vd-go
	wait $pid
	i=$?
	grep -qx "held vhost-vdpa:vdpa0 /dev/$cdev" /tmp/vd-lease.out ||
		vd_mismatch "run --vdpa vdpa0 (exit $i): '$(cat /tmp/vd-lease.out)', want 'held vhost-vdpa:vdpa0 /dev/$cdev'"
	i=0
	while [ $i -lt 30 ]; do
		out=$(vm-edu vhost-open "/dev/$cdev" 2>&1)
		case $out in *"first=ok second=EBUSY") break ;; esac
		sleep 0.1
		i=$((i + 1))
	done
	info VD "after the lease, root's $out"
	echo "$out" | grep -q "first=ok second=EBUSY$" || vd_mismatch "after the lease: '$out', want first=ok second=EBUSY"
	daemon_stop
}

# The daemon's refusals on the vp_vdpa group, before the kernel's: the vDPA device whose
# parent shares its group (the kernel's EINVAL at open), and VFIO for the edu beside it.
vd_daemon_refusals() { # edu group
	local rc
	DAEMON_POLICY_FIRST="allow uid $UID_A to vdpa \"vdpa*\""
	daemon_start || { vd_mismatch "ioasidd did not start"; DAEMON_POLICY_FIRST=; return; }
	DAEMON_POLICY_FIRST=
	ctl_as $UID_A acquire --vdpa vdpa1 --json=short </dev/null >/dev/null 2>/tmp/vd-a.err
	rc=$?
	info VD "daemon: acquire --vdpa vdpa1: exit $rc: $(cat /tmp/vd-a.err)"
	[ "$rc" = 2 ] && grep -q "vdpa1: IOMMU group $2 is not viable: $NIC_VD, the vp_vdpa parent of vdpa1, shares" /tmp/vd-a.err ||
		vd_mismatch "daemon's answer for vdpa1 (parent in a group of two): exit $rc, want 2 GroupNotViable"
	ctl_as $UID_A acquire "$1" --json=short </dev/null >/dev/null 2>/tmp/vd-a.err
	rc=$?
	info VD "daemon: acquire $1: exit $rc: $(cat /tmp/vd-a.err)"
	[ "$rc" = 2 ] && grep -q "vdpa1" /tmp/vd-a.err ||
		vd_mismatch "daemon's answer for the edu beside vdpa1's parent: exit $rc, want 2 naming vdpa1"
	daemon_stop
}

# VDR: the vdpa family's rules through the kernel seam's linux backend (`kernel-probe
# --vdpa-rules`, tests/tools/vdpa-rules.h) against the recording the sim replays
# (tests/tools/vdpa-rules.expected, unit test kernel-sim/vdpa_rules). Runs before VD, in the
# same boot, before any vDPA device exists (the sequence's dumps and char device minors
# assume none); it loads the modules VD loads (VD skips those already loaded). Every line
# the kernel answered is printed, for recording.
# ioasidctl vdpa del of a device whose char device another process holds: refused (exit 1,
# JSON "refused" EBUSY, the message naming the device and its char device), the device
# still there; once the holder closes it, the del goes through. Prints what went wrong.
vdr_del_refused() {
	local out rc cdev i pid
	ioasidctl vdpa add vdr5 --mgmtdev vdpasim_net >/dev/null 2>&1 || { VDR_BAD="add vdr5 failed"; return; }
	cdev=$(cd /sys/bus/vdpa/devices/vdr5 2>/dev/null && ls -d vhost-vdpa-* 2>/dev/null | head -n1)
	[ -n "$cdev" ] || { VDR_BAD="vdr5 has no char device"; return; }
	rm -f /tmp/vdr-held /tmp/vdr-go
	# The holder lets go by itself after a while: a del that is not refused waits for it.
	sh -c 'exec 7<>"$1" || exit 1; touch /tmp/vdr-held; n=0
		while [ ! -e /tmp/vdr-go ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done' sh "/dev/$cdev" &
	pid=$!
	i=0
	while [ ! -e /tmp/vdr-held ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	out=$(ioasidctl vdpa del vdr5 --json=short 2>/tmp/vdr-del.err)
	rc=$?
	info VDR "del while /dev/$cdev is held: exit $rc: $out $(cat /tmp/vdr-del.err)"
	[ "$rc" = 1 ] && [ "$(echo "$out" | jq -r '"\(.result) \(.errno)"' 2>/dev/null)" = "refused EBUSY" ] &&
		grep -q "vdr5: /dev/$cdev is open (a lease through ioasidd or another process holds it)" /tmp/vdr-del.err ||
		VDR_BAD="$VDR_BAD; del of a held device: exit $rc '$out' '$(cat /tmp/vdr-del.err)', want exit 1, refused EBUSY, naming vdr5 and /dev/$cdev"
	[ -e /sys/bus/vdpa/devices/vdr5 ] || VDR_BAD="$VDR_BAD; vdr5 gone after a refused del"
	touch /tmp/vdr-go
	wait $pid
	out=$(ioasidctl vdpa del vdr5 --json=short 2>&1)
	[ "$(echo "$out" | jq -r '.result' 2>/dev/null)" = ok ] && [ ! -e /sys/bus/vdpa/devices/vdr5 ] ||
		VDR_BAD="$VDR_BAD; del after the holder closed: '$out'"
}

# The same with the holder a lease through ioasidd (uid A's `run --vdpa vdr5`): the refusal
# names the lease and its uid. What went wrong: VDR_BAD.
vdr_del_leased() {
	local out rc i pid lease
	ioasidctl vdpa add vdr5 --mgmtdev vdpasim_net >/dev/null 2>&1 || { VDR_BAD="$VDR_BAD; add vdr5 (lease) failed"; return; }
	DAEMON_POLICY_FIRST="allow uid $UID_A to vdpa \"vdr*\""
	daemon_start || { VDR_BAD="$VDR_BAD; ioasidd did not start"; DAEMON_POLICY_FIRST=; return; }
	DAEMON_POLICY_FIRST=
	rm -f /tmp/vdr-held /tmp/vdr-go
	ctl_as $UID_A run --vdpa vdr5 -- sh -c 'touch /tmp/vdr-held; n=0
		while [ ! -e /tmp/vdr-go ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done' \
		</dev/null >/tmp/vdr-lease.out 2>&1 &
	pid=$!
	i=0
	while [ ! -e /tmp/vdr-held ] && [ $i -lt 100 ] && kill -0 $pid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	lease=$(ctl_as 0 leases --json=short 2>/dev/null | jq -r '.. | objects | select(.vdpa? == "vdr5") | .id' 2>/dev/null | head -n1)
	ioasidctl vdpa del vdr5 >/dev/null 2>/tmp/vdr-del.err
	rc=$?
	info VDR "del while leased ($lease): exit $rc: $(cat /tmp/vdr-del.err)"
	[ "$rc" = 1 ] && [ -n "$lease" ] && grep -q "vdr5: /dev/vhost-vdpa-[0-9]* is open: ioasidd's lease $lease of uid $UID_A holds it" /tmp/vdr-del.err ||
		VDR_BAD="$VDR_BAD; del of a leased device: exit $rc '$(cat /tmp/vdr-del.err)', want exit 1 naming lease '$lease' of uid $UID_A"
	touch /tmp/vdr-go
	wait $pid
	daemon_stop
	i=0
	while [ $i -lt 30 ]; do
		out=$(ioasidctl vdpa del vdr5 --json=short 2>&1)
		[ "$(echo "$out" | jq -r '.result' 2>/dev/null)" = ok ] && break
		sleep 0.1
		i=$((i + 1))
	done
	[ ! -e /sys/bus/vdpa/devices/vdr5 ] || VDR_BAD="$VDR_BAD; del after the lease ended: '$out'"
}

scenario_VDR() {
	local rel=/scenarios/vdpa-rules.expected out diff
	[ -e /lib/ioasid-modules/vdpa/order ] || { result VDR FAIL "no vDPA modules in the initramfs"; return; }
	VD_ERRS=0
	vd_load_modules
	[ "$VD_ERRS" = 0 ] || { result VDR FAIL "the vDPA modules did not load"; return; }
	[ -z "$(ls /sys/bus/vdpa/devices 2>/dev/null)" ] ||
		{ result VDR FAIL "vDPA devices before the sequence: $(ls /sys/bus/vdpa/devices | tr '\n' ' ')"; return; }
	out=$(kernel-probe --vdpa-rules 2>&1)
	echo "$out" | sed 's/^/VMINFO VDR kernel: /'
	if [ ! -e $rel ]; then
		result VDR FAIL "no vdpa-rules.expected in the initramfs"
	elif [ "$(grep -v '^#' $rel)" != "$out" ]; then
		diff=$(echo "$out" | diff $rel - 2>&1 | grep '^[-+][a-z]' | tr '\n' ' ')
		result VDR FAIL "the kernel's vdpa rules differ from vdpa-rules.expected: $diff"
	else
		VDR_BAD=
		vdr_del_refused
		vdr_del_leased
		[ -z "$VDR_BAD" ] || { result VDR FAIL "ioasidctl vdpa del: ${VDR_BAD#; }"; return; }
		result VDR PASS "$(echo "$out" | wc -l) vdpa family cases as recorded (add/del errnos, EPERM without CAP_NET_ADMIN, exclusive vhost-vdpa open, minor reuse, del waiting for the last close); ioasidctl vdpa del refusing a device another process or a lease holds"
	fi
}

scenario_VD() {
	local m out errno sim_cdev nic edu g vp_mgmt reason verdict d
	VD_ERRS=0
	command -v jq >/dev/null || { result VD FAIL "no jq in the initramfs"; return; }
	[ -e /lib/ioasid-modules/vdpa/order ] || { result VD FAIL "no vDPA modules in the initramfs"; return; }
	vd_load_modules
	info VD "modules: $(cat /lib/ioasid-modules/vdpa/order | tr '\n' ' ')mgmtdevs: $(ls /sys/bus/vdpa/devices 2>/dev/null | tr '\n' ' ')"

	# 1. The simulator: create, list, open twice, refuse bad requests, delete.
	out=$(ioasidctl vdpa add vdpa0 --mgmtdev vdpasim_net --json=short 2>&1)
	info VD "add vdpa0: $out"
	[ "$(echo "$out" | jq -r '.result' 2>/dev/null | head -n1)" = ok ] || vd_mismatch "vdpa add vdpa0 failed: $out"
	m=$(dirname "$(readlink -f /sys/bus/vdpa/devices/vdpa0)")
	[ "$m" = /sys/devices ] || vd_mismatch "vdpa0's sysfs parent is $m, want none (/sys/devices)"
	vd_check_listed vdpa0 vdpasim_net
	sim_cdev=$VD_CDEV
	out=$(vm-edu vhost-open "/dev/$sim_cdev" 2>&1)
	info VD "$out"
	echo "$out" | grep -q "first=ok second=EBUSY$" || vd_mismatch "vhost-vdpa opens on vdpasim: '$out', want first=ok second=EBUSY"
	vd_lease "$sim_cdev"
	errno=$(ioasidctl vdpa add vdpa9 --mgmtdev nosuch_mgmt --json=short 2>/dev/null | jq -r '.errno')
	info VD "add on an unknown management device: $errno"
	[ "$errno" = ENODEV ] || vd_mismatch "add on an unknown mgmtdev: $errno, want ENODEV"
	errno=$(ioasidctl vdpa add vdpa0 --mgmtdev vdpasim_net --json=short 2>/dev/null | jq -r '.errno')
	info VD "add of a taken name: $errno"
	[ "$errno" = EEXIST ] || vd_mismatch "add of a taken name: $errno, want EEXIST"
	vd_del vdpa0 "$sim_cdev"
	errno=$(ioasidctl vdpa del vdpa0 --json=short 2>/dev/null | jq -r '.errno')
	info VD "del of a deleted device: $errno"
	[ "$errno" = ENODEV ] || vd_mismatch "del of a deleted device: $errno, want ENODEV"

	# 2. vp_vdpa on QEMU's virtio-net-pci, in one group with an edu.
	nic=$(dev_under "$VD_PORT" "$VD_VIRTIO_NET") edu=$(dev_under "$VD_PORT" "$EDU")
	NIC_VD=$nic
	if [ -z "$nic" ] || [ -z "$edu" ]; then
		vd_mismatch "no virtio-net-pci ($nic) and edu ($edu) under $VD_PORT"
	else
		g=$(basename "$(readlink "/sys/bus/pci/devices/$nic/iommu_group")")
		info VD "virtio-net $nic edu $edu group $g: $(ls "/sys/kernel/iommu_groups/$g/devices" | tr '\n' ' ')driver $(basename "$(readlink "/sys/bus/pci/devices/$nic/driver" 2>/dev/null)" 2>/dev/null)"
		vd_bind_vp "$nic"
		info VD "$nic driver: $(pci_driver "$nic")"
		vp_mgmt=pci/$nic
		out=$(ioasidctl vdpa add vdpa1 --mgmtdev "$vp_mgmt" --json=short 2>&1)
		info VD "add vdpa1: $out"
		[ "$(echo "$out" | jq -r '.result' 2>/dev/null | head -n1)" = ok ] || vd_mismatch "vdpa add vdpa1 failed: $out"
		m=$(basename "$(dirname "$(readlink -f /sys/bus/vdpa/devices/vdpa1)")")
		[ "$m" = "$nic" ] || vd_mismatch "vdpa1's sysfs parent is $m, want $nic"
		vd_check_listed vdpa1 "pci/$m"
		got=$(jq -r --arg b "$nic" '.devices[] | select(.bdf == $b) |
			"\(.driver) \(.vdpa.management_device) \([.vdpa.devices[]?.name] | join(","))"' /tmp/vd-devices.json)
		info VD "parent: $got"
		[ "$got" = "vp-vdpa pci/$nic vdpa1" ] || vd_mismatch "the parent's listing is '$got', want 'vp-vdpa pci/$nic vdpa1'"
		ioasidctl groups --json=short >/tmp/vd-groups.json 2>/dev/null
		verdict=$(jq -r --argjson g "$g" '.groups[] | select(.group == $g) | .verdict' /tmp/vd-groups.json)
		reason=$(jq -r --argjson g "$g" '.groups[] | select(.group == $g) | [.blockers[]?.reason] | join(" | ")' /tmp/vd-groups.json)
		info VD "group $g: $verdict: $reason"
		[ "$verdict" = not-viable ] || vd_mismatch "group $g is '$verdict', want not-viable"
		case $reason in *"vdpa1 on vhost_vdpa (/dev/$VD_CDEV)"*) ;; *) vd_mismatch "group $g's reason does not name vdpa1 on vhost_vdpa (/dev/$VD_CDEV)" ;; esac
		# The kernel's refusals. vhost-vdpa's own domain on a group of two: EINVAL.
		out=$(vm-edu vhost-open "/dev/$VD_CDEV" 2>&1)
		info VD "$out"
		echo "$out" | grep -q "first=EINVAL second=EINVAL$" ||
			vd_mismatch "vhost-vdpa opens on vp_vdpa in a group of two: '$out', want EINVAL (the sim's rule)"
		# The edu beside it on vfio-pci: its BIND is EPERM (iommu_device_claim_dma_owner).
		if bind_vfio "$edu"; then
			out=$(vm-edu vf-open "$edu" 2>&1)
			info VD "$out"
			echo "$out" | grep -q "result=EPERM$" || vd_mismatch "the edu's BIND beside vp_vdpa: '$out', want EPERM"
		else
			vd_mismatch "cannot bind $edu to vfio-pci"
		fi
		vd_daemon_refusals "$edu" "$g"
		vd_del vdpa1 "$VD_CDEV"
	fi

	if [ "$VD_ERRS" = 0 ]; then
		result VD PASS "vdpasim_net: add/list/EBUSY/lease through ioasidd (root EBUSY meanwhile)/ENODEV/EEXIST/del as sysfs says; vp_vdpa on $nic: parent labelled, group $g not viable naming vdpa1, vhost-vdpa open EINVAL, sibling BIND EPERM, the daemon refusing both first"
	else
		result VD FAIL "$VD_ERRS mismatches (VMINFO VD MISMATCH lines)"
	fi
}

# The last audit record of a refusal of device (a BDF, or a vDPA device's name that the record
# may follow with @parent) by ioasidd, and whether it names error.
vd_denied() { # device error
	grep 'action=deny' /tmp/ioasidd.log | grep -E "device=$1[ @]" | tail -n1 | grep -qF "error=io.ioasid.Broker.$2"
}

vd_wait_file() { # file pid: until file exists, pid exits or 10 s pass
	local i=0
	while [ ! -e "$1" ] && [ $i -lt 100 ] && kill -0 "$2" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e "$1" ]
}

# VD2: a vp_vdpa parent alone in its IOMMU group (see the header).
scenario_VD2() {
	local nic g n out got rc pid lid cdev verdict reason
	VD_ERRS=0
	command -v jq >/dev/null || { result VD2 FAIL "no jq in the initramfs"; return; }
	[ -e /lib/ioasid-modules/vdpa/order ] || { result VD2 FAIL "no vDPA modules in the initramfs"; return; }
	vd_load_modules
	nic=$(dev_under "$VD2_PORT" "$VD_VIRTIO_NET")
	[ -n "$nic" ] || { result VD2 FAIL "no virtio-net-pci under $VD2_PORT (run.sh adds it when VD2 runs)"; return; }
	g=$(basename "$(readlink "/sys/bus/pci/devices/$nic/iommu_group")")
	n=$(ls "/sys/kernel/iommu_groups/$g/devices" | wc -l)
	info VD2 "virtio-net $nic group $g: $(ls "/sys/kernel/iommu_groups/$g/devices" | tr '\n' ' ')driver '$(pci_driver "$nic")'"
	[ "$n" = 1 ] || vd_mismatch "group $g has $n devices, want $nic alone"
	vd_bind_vp "$nic" || vd_mismatch "$nic is on '$(pci_driver "$nic")', not vp-vdpa"
	out=$(ioasidctl vdpa add vdpa2 --mgmtdev "pci/$nic" --json=short 2>&1)
	info VD2 "add vdpa2: $out"
	[ "$(echo "$out" | jq -r '.result' 2>/dev/null | head -n1)" = ok ] || vd_mismatch "vdpa add vdpa2 failed: $out"
	vd_check_listed vdpa2 "pci/$nic"
	cdev=$VD_CDEV

	# The inspection verbs: a vDPA parent, its group not viable for VFIO, and no note that
	# its char device cannot be opened (that is for a parent sharing its group).
	got=$(jq -r --arg b "$nic" '.devices[] | select(.bdf == $b) |
		"\(.driver) \(.vdpa.management_device) \([.vdpa.devices[]?.name] | join(","))"' /tmp/vd-devices.json)
	info VD2 "devices --json: parent $got"
	[ "$got" = "vp-vdpa pci/$nic vdpa2" ] || vd_mismatch "devices --json: the parent is '$got', want 'vp-vdpa pci/$nic vdpa2'"
	out=$(ioasidctl devices 2>&1 | grep "^$nic ")
	info VD2 "devices: $out"
	case $out in *"(vDPA parent: vdpa2 on vhost_vdpa /dev/$cdev)"*) ;; *) vd_mismatch "devices does not label $nic a vDPA parent: '$out'" ;; esac
	ioasidctl show "$nic" --json=short >/tmp/vd2-show.json 2>/dev/null
	rc=$?
	got=$(jq -r '"\(.device.vdpa.management_device) \([.device.vdpa.devices[]?.name] | join(","))"' /tmp/vd2-show.json 2>/dev/null)
	info VD2 "show $nic --json: exit $rc, vdpa $got"
	[ "$rc" = 2 ] && [ "$got" = "pci/$nic vdpa2" ] ||
		vd_mismatch "show $nic: exit $rc vdpa '$got', want exit 2 (not viable) and 'pci/$nic vdpa2'"
	ioasidctl groups --json=short >/tmp/vd2-groups.json 2>/dev/null
	verdict=$(jq -r --argjson g "$g" '.groups[] | select(.group == $g) | .verdict' /tmp/vd2-groups.json)
	reason=$(jq -r --argjson g "$g" '.groups[] | select(.group == $g) | [.blockers[]?.reason] | join(" | ")' /tmp/vd2-groups.json)
	info VD2 "group $g: $verdict: $reason"
	[ "$verdict" = not-viable ] || vd_mismatch "group $g is '$verdict', want not-viable"
	case $reason in *"vDPA parent of vdpa2 on vhost_vdpa (/dev/$cdev)"*) ;; *) vd_mismatch "group $g's reason does not name vdpa2 on vhost_vdpa (/dev/$cdev)" ;; esac
	! grep -q "vdpa2 cannot be used through" /tmp/vd2-groups.json ||
		vd_mismatch "groups --json says vdpa2 cannot be opened, though its parent is alone in group $g"
	# The kernel: vhost-vdpa's own domain on a group of one attaches (VD's group of two: EINVAL).
	out=$(vm-edu vhost-open "/dev/$cdev" 2>&1)
	info VD2 "$out"
	echo "$out" | grep -q "first=ok second=EBUSY$" || vd_mismatch "vhost-vdpa opens on a lone vp_vdpa parent: '$out', want first=ok second=EBUSY"

	# A vhost-vdpa lease through ioasidd; its holder drives the device.
	DAEMON_POLICY_FIRST="allow uid $UID_A to vdpa \"vdpa*\""
	daemon_start || { vd_mismatch "ioasidd did not start"; DAEMON_POLICY_FIRST=; }
	DAEMON_POLICY_FIRST=
	rm -f /tmp/vd2-held /tmp/vd2-go
	ctl_as $UID_A run --vdpa vdpa2 -- sh -c 'echo "held $IOASID_FDNAMES $(readlink "/proc/self/fd/$1")"
		vm-edu vhost-ioctl "$1"; touch /tmp/vd2-held; while [ ! -e /tmp/vd2-go ]; do sleep 0.1; done' \
		sh '{vhostfd}' </dev/null >/tmp/vd2-lease.out 2>&1 &
	pid=$!
	vd_wait_file /tmp/vd2-held $pid || vd_mismatch "run --vdpa vdpa2 did not reach its program"
	info VD2 "lease: $(tr '\n' '|' </tmp/vd2-lease.out)"
	grep -qx "held vhost-vdpa:vdpa2 /dev/$cdev" /tmp/vd2-lease.out ||
		vd_mismatch "run --vdpa vdpa2: no 'held vhost-vdpa:vdpa2 /dev/$cdev'"
	got=$(jq -r '.vdpa_devices[]? | select(.name == "vdpa2") | .device_id' /tmp/vd-devices.json)
	grep -q "vhost-ioctl fd=[0-9]* features=0x[0-9a-f]* version_1=yes device_id=$got$" /tmp/vd2-lease.out ||
		vd_mismatch "the holder's vhost ioctls: want version_1=yes device_id=$got (the listing's)"
	out=$(vm-edu vhost-open "/dev/$cdev" 2>&1)
	info VD2 "while leased, root's $out"
	echo "$out" | grep -q "first=EBUSY second=EBUSY$" || vd_mismatch "root's open of the leased vdpa2: '$out', want EBUSY"
	out=$(ctl_as 0 leases --json=short 2>&1)
	lid=$(echo "$out" | jq -r '.[] | select(.vdpa == "vdpa2") | .id' 2>/dev/null)
	got=$(echo "$out" | jq -r '.[] | select(.vdpa == "vdpa2") | "\(.mode) \(.groups | tostring)"' 2>/dev/null)
	info VD2 "lease $lid: $got"
	[ -n "$lid" ] && [ "$got" = "vhost-vdpa [$g]" ] || vd_mismatch "root's lease list: vdpa2 '$got', want 'vhost-vdpa [$g]'"
	# VFIO on the parent: the daemon's FrameworkConflict; the kernel has no VFIO file for it.
	ctl_as $UID_A acquire "$nic" --json=short </dev/null >/dev/null 2>/tmp/vd2-a.err
	rc=$?
	info VD2 "daemon: acquire $nic: exit $rc: $(cat /tmp/vd2-a.err)"
	[ "$rc" = 2 ] && grep -qF "$nic: IOMMU group $g is leased through vhost-vdpa by lease $lid (vdpa2@$nic, uid $UID_A)" /tmp/vd2-a.err ||
		vd_mismatch "VFIO acquire of the leased parent: exit $rc, want 2 naming group $g, lease $lid and vdpa2"
	vd_denied "$nic" FrameworkConflict || vd_mismatch "the daemon's audit record for $nic is not FrameworkConflict: $(grep 'action=deny' /tmp/ioasidd.log | tail -n1)"
	out=$(vm-edu vf-open "$nic" 2>&1)
	info VD2 "kernel, VFIO cdev: $out"
	echo "$out" | grep -q "error=find vfio cdev errno=ENOENT" || vd_mismatch "a VFIO cdev open of $nic: '$out', want ENOENT (no vfio-dev)"
	out=$(vm-edu vf-open "$nic" --legacy 2>&1)
	info VD2 "kernel, VFIO group: $out"
	echo "$out" | grep -q "error=open group node errno=ENOENT" || vd_mismatch "a VFIO group open for $nic: '$out', want ENOENT (no /dev/vfio/$g)"
	touch /tmp/vd2-go
	wait $pid
	rc=$?
	[ "$rc" = 0 ] || vd_mismatch "run --vdpa vdpa2 exited $rc"
	daemon_stop
	vd_del vdpa2 "$cdev"

	if [ "$VD_ERRS" = 0 ]; then
		result VD2 PASS "vp_vdpa on $nic alone in group $g: listed as vdpa2's parent (devices, show, groups: not viable, no shared-group note); vhost-vdpa opens (own domain attached); leased through ioasidd, the holder's VHOST_GET_FEATURES/VHOST_VDPA_GET_DEVICE_ID work; VFIO acquire of the parent FrameworkConflict (lease $lid named); the kernel has no VFIO cdev or group node for it (ENOENT)"
	else
		result VD2 FAIL "$VD_ERRS mismatches (VMINFO VD MISMATCH lines)"
	fi
}

# The host's and the daemon's view of the 00:09.0 group during VD3: verdict, the virtio-net's
# and the edu's drivers (groups --json), and root's lease list.
vd3_view() { # nic edu group
	local got
	ioasidctl groups --json=short >/tmp/vd3-groups.json 2>/dev/null
	got=$(jq -r --argjson g "$3" --arg n "$1" --arg e "$2" '.groups[] | select(.group == $g) |
		"\(.verdict) \(.devices[] | select(.bdf == $n) | .driver) \(.devices[] | select(.bdf == $e) | .driver)"' /tmp/vd3-groups.json)
	info VD3 "group $3 (verdict, virtio-net, edu): $got"
	[ "$got" = "viable null vfio-pci" ] || vd_mismatch "group $3 is '$got', want 'viable null vfio-pci'"
}

# VD3, part two: a lease in mode unbound hands out the edu's cdev without binding it, so
# iommufd does not own the group's DMA yet and the kernel lets vp-vdpa bind beside it. Then
# the daemon does see a vDPA parent in a group held through VFIO: `acquire --vdpa` of a device
# on it is FrameworkConflict naming the lease (the kernel's own open is EINVAL: a group of
# two), and the kernel refuses the holder's VFIO_DEVICE_BIND_IOMMUFD (EPERM: a DMA-API driver
# in the group). Ends as it began: the
# virtio-net on vp-vdpa, no vDPA device.
vd3_unbound() { # nic edu group
	local nic=$1 edu=$2 g=$3 d=/sys/bus/pci/devices/$1 out rc pid lid i
	echo "$nic" >"$d/driver/unbind"
	# ioasidd learns of vdpa3 from udev's broadcast, which needs a udevd (hot-hotplug.sh's).
	udevd_start || vd_mismatch "systemd-udevd did not start: $(head -c 200 /tmp/udevd.log)"
	DAEMON_POLICY_FIRST="allow uid $UID_A to vdpa \"vdpa*\""
	daemon_start || vd_mismatch "ioasidd did not start"
	DAEMON_POLICY_FIRST=
	rm -f /tmp/vd3-held /tmp/vd3-bind
	ctl_as $UID_A run --mode unbound --device "$edu" -- sh -c 'touch /tmp/vd3-held
		while [ ! -e /tmp/vd3-bind ]; do sleep 0.1; done; vm-edu dma "$1" "$2" --bind' sh '{iommufd}' "{fd:$edu}" </dev/null >/tmp/vd3-unbound.out 2>&1 &
	pid=$!
	vd_wait_file /tmp/vd3-held $pid || vd_mismatch "run --mode unbound --device $edu did not reach its program: $(cat /tmp/vd3-unbound.out)"
	lid=$(ctl_as 0 leases --json=short 2>/dev/null | jq -r '.[] | select(.mode == "unbound") | .id' 2>/dev/null)
	out=$(vm-edu write /sys/bus/pci/drivers_probe "$nic" 2>&1)
	info VD3 "unbound lease ${lid:-none} of $edu: $out, $nic on '$(pci_driver "$nic")'"
	[ "$(pci_driver "$nic")" = vp-vdpa ] || vd_mismatch "with $edu leased unbound, $nic did not bind to vp-vdpa: '$out'"
	out=$(ioasidctl vdpa add vdpa3 --mgmtdev "pci/$nic" --json=short 2>&1)
	[ "$(echo "$out" | jq -r '.result' 2>/dev/null | head -n1)" = ok ] || vd_mismatch "vdpa add vdpa3 failed: $out"
	vd_check_listed vdpa3 "pci/$nic"
	# The kernel's own answer to vhost-vdpa here: EINVAL (its domain on a group of two).
	out=$(vm-edu vhost-open "/dev/$VD_CDEV" 2>&1)
	info VD3 "beside the unbound lease, root's $out"
	echo "$out" | grep -q "first=EINVAL second=EINVAL$" || vd_mismatch "vhost-vdpa open of vdpa3 beside the unbound lease: '$out', want EINVAL"
	# The daemon rescans on the vdpa bus's events: until then vdpa3 is "No such device".
	i=0
	while :; do
		ctl_as $UID_A acquire --vdpa vdpa3 --json=short </dev/null >/dev/null 2>/tmp/vd3-a.err
		rc=$?
		grep -q "No such device" /tmp/vd3-a.err && [ $i -lt 50 ] || break
		sleep 0.1
		i=$((i + 1))
	done
	info VD3 "daemon: acquire --vdpa vdpa3: exit $rc: $(cat /tmp/vd3-a.err)"
	[ "$rc" = 2 ] && grep -qF "vdpa3: IOMMU group $g is leased through VFIO by lease $lid ($edu, uid $UID_A)" /tmp/vd3-a.err ||
		vd_mismatch "acquire --vdpa vdpa3 in the group leased unbound: exit $rc, want 2 FrameworkConflict naming lease $lid"
	vd_denied vdpa3 FrameworkConflict || vd_mismatch "the audit record for vdpa3 is not FrameworkConflict: $(grep 'action=deny' /tmp/ioasidd.log | tail -n1)"
	touch /tmp/vd3-bind
	wait $pid
	info VD3 "the holder: $(tr '\n' '|' </tmp/vd3-unbound.out)"
	grep -q "error=VFIO_DEVICE_BIND_IOMMUFD errno=EPERM" /tmp/vd3-unbound.out ||
		vd_mismatch "the unbound holder's BIND beside vp-vdpa: want EPERM"
	daemon_stop
	udevd_stop
	vd_del vdpa3 ""
}

# VD3: a VFIO lease blocks vhost-vdpa, in the kernel (see the header).
scenario_VD3() {
	local nic edu g d out rc pid lid k0 got
	VD_ERRS=0
	command -v jq >/dev/null || { result VD3 FAIL "no jq in the initramfs"; return; }
	[ -e /lib/ioasid-modules/vdpa/order ] || { result VD3 FAIL "no vDPA modules in the initramfs"; return; }
	vd_load_modules
	nic=$(dev_under "$VD_PORT" "$VD_VIRTIO_NET") edu=$(dev_under "$VD_PORT" "$EDU")
	[ -n "$nic" ] && [ -n "$edu" ] || { result VD3 FAIL "no virtio-net-pci ($nic) and edu ($edu) under $VD_PORT"; return; }
	g=$(basename "$(readlink "/sys/bus/pci/devices/$nic/iommu_group")")
	d=/sys/bus/pci/devices/$nic
	# The virtio-net with no driver (vp-vdpa its override, so no other driver takes it), the
	# edu on vfio-pci: a viable group of two.
	echo vp-vdpa >"$d/driver_override"
	[ -e "$d/driver" ] && echo "$nic" >"$d/driver/unbind"
	bind_vfio "$edu" || vd_mismatch "cannot bind $edu to vfio-pci"
	info VD3 "group $g: $(ls "/sys/kernel/iommu_groups/$g/devices" | tr '\n' ' ')$nic on '$(pci_driver "$nic")', $edu on '$(pci_driver "$edu")'"
	vd3_view "$nic" "$edu" "$g"

	daemon_start || vd_mismatch "ioasidd did not start"
	rm -f /tmp/vd3-held /tmp/vd3-go
	ctl_as $UID_A run --device "$edu" -- sh -c 'touch /tmp/vd3-held; while [ ! -e /tmp/vd3-go ]; do sleep 0.1; done' \
		</dev/null >/tmp/vd3-lease.out 2>&1 &
	pid=$!
	vd_wait_file /tmp/vd3-held $pid || vd_mismatch "run --device $edu did not reach its program: $(cat /tmp/vd3-lease.out)"
	out=$(ctl_as 0 leases --json=short 2>&1)
	lid=$(echo "$out" | jq -r --arg e "$edu" '.[] | select([.devices[]? | tostring | contains($e)] | any) | .id' 2>/dev/null)
	got=$(echo "$out" | jq -r --arg i "$lid" '.[] | select(.id == $i) | "\(.mode) \(.groups | tostring)"' 2>/dev/null)
	info VD3 "lease ${lid:-none} of $edu: $got"
	[ -n "$lid" ] && [ "$got" = "attached [$g]" ] || vd_mismatch "root's lease list: $edu '$got', want 'attached [$g]'"

	# The kernel refuses a DMA-API driver in a group whose DMA iommufd owns.
	k0=$(dmesg | wc -l)
	out=$(vm-edu write /sys/bus/pci/drivers_probe "$nic" 2>&1)
	info VD3 "$out"
	echo "$out" | grep -q "result=EINVAL$" || vd_mismatch "drivers_probe of $nic (override vp-vdpa) with $edu leased: '$out', want EINVAL"
	out=$(vm-edu write /sys/bus/pci/drivers/vp-vdpa/bind "$nic" 2>&1)
	info VD3 "$out"
	echo "$out" | grep -q "result=EBUSY$" || vd_mismatch "vp-vdpa/bind of $nic with $edu leased: '$out', want EBUSY"
	info VD3 "kernel log meanwhile: $(dmesg | tail -n +$((k0 + 1)) | tr '\n' '|')"
	[ -z "$(pci_driver "$nic")" ] || vd_mismatch "$nic is on '$(pci_driver "$nic")' with $edu leased"
	# The daemon's view is unchanged: the lease holds the group, the virtio-net has no driver.
	vd3_view "$nic" "$edu" "$g"
	out=$(ctl_as 0 leases --json=short 2>&1)
	got=$(echo "$out" | jq -r --arg i "$lid" '.[] | select(.id == $i) | "\(.mode) \(.groups | tostring)"' 2>/dev/null)
	[ "$got" = "attached [$g]" ] || vd_mismatch "after the refused bind, lease $lid is '$got', want 'attached [$g]'"
	ctl_as $UID_B acquire "$nic" --json=short </dev/null >/dev/null 2>/tmp/vd3-b.err
	rc=$?
	info VD3 "daemon: uid $UID_B acquire $nic: exit $rc: $(cat /tmp/vd3-b.err)"
	[ "$rc" = 2 ] && vd_denied "$nic" GroupOwned ||
		vd_mismatch "uid $UID_B's acquire of $nic beside the lease: exit $rc, want 2 GroupOwned: $(grep 'action=deny' /tmp/ioasidd.log | tail -n1)"

	# Released, the same bind works.
	touch /tmp/vd3-go
	wait $pid
	rc=$?
	[ "$rc" = 0 ] || vd_mismatch "run --device $edu exited $rc: $(cat /tmp/vd3-lease.out)"
	daemon_stop
	vd_bind_vp "$nic" || vd_mismatch "after the release $nic is on '$(pci_driver "$nic")', want vp-vdpa"
	info VD3 "after the release: $nic on '$(pci_driver "$nic")', $edu on '$(pci_driver "$edu")'"
	vd3_unbound "$nic" "$edu" "$g"

	if [ "$VD_ERRS" = 0 ]; then
		result VD3 PASS "$edu leased (attached) through ioasidd: binding $nic (no driver, same group $g) to vp-vdpa refused by the kernel (drivers_probe EINVAL, vp-vdpa/bind EBUSY), the group still the lease's and viable with $nic unbound, a second user's acquire GroupOwned; after the release $nic binds to vp-vdpa. Leased unbound, the kernel lets vp-vdpa bind; acquire --vdpa is FrameworkConflict (the kernel's open EINVAL), the holder's BIND EPERM"
	else
		result VD3 FAIL "$VD_ERRS mismatches (VMINFO VD MISMATCH lines)"
	fi
}

# VDRV: uid A's `run --vdpa vdpa7 -- vm-edu vhost-hold {vhostfd} READY GO` sets status 0x0f and
# maps IOVA 1 MiB; root revokes the lease (Revoke: revoked-reset, listed revoked, audited);
# the holder then reads status 0 and reports what stays of its IOTLB.
vd_revoke() {
	local out lid rep lst rc i want foreign
	command -v jq >/dev/null || { result VDRV FAIL "no jq in the initramfs"; return; }
	[ -e /lib/ioasid-modules/vdpa/order ] || { result VDRV FAIL "no vDPA modules in the initramfs"; return; }
	VD_ERRS=0
	vd_load_modules
	[ "$VD_ERRS" = 0 ] || { result VDRV FAIL "the vDPA modules did not load"; return; }
	out=$(ioasidctl vdpa add vdpa7 --mgmtdev vdpasim_net --json=short 2>&1)
	[ "$(echo "$out" | jq -r '.result' 2>/dev/null | head -n1)" = ok ] ||
		{ result VDRV FAIL "vdpa add vdpa7 failed: $out"; return; }
	DAEMON_POLICY_FIRST="allow uid $UID_A to vdpa \"vdpa*\""
	if ! daemon_start; then
		DAEMON_POLICY_FIRST=
		ioasidctl vdpa del vdpa7 >/dev/null 2>&1
		result VDRV FAIL "ioasidd did not start"
		return
	fi
	DAEMON_POLICY_FIRST=
	rm -f /tmp/vdrv-ready /tmp/vdrv-go
	ctl_as $UID_A run --vdpa vdpa7 -- vm-edu vhost-hold '{vhostfd}' /tmp/vdrv-ready /tmp/vdrv-go \
		</dev/null >/tmp/vdrv.out 2>&1 &
	local pid=$!
	i=0
	while [ ! -e /tmp/vdrv-ready ] && [ $i -lt 100 ] && kill -0 $pid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	lid=$(ctl_as 0 leases --json=short 2>/dev/null | jq -r '.[] | select(.vdpa == "vdpa7") | .id' | head -n1)
	rep=$(ctl_as 0 revoke "$lid" --json=short 2>&1)
	lst=$(ctl_as 0 leases --json=short 2>/dev/null | jq -r --arg id "$lid" '.[] | select(.id == $id) | .state')
	# shellcheck disable=SC2046 # "PID FD"
	foreign=$(vm-edu vhost-foreign $(cat /tmp/vdrv-ready 2>/dev/null) 2>&1)
	info VDRV "root with the holder's file: $foreign"
	touch /tmp/vdrv-go
	wait $pid
	rc=$?
	sed 's/^/VMINFO VDRV /' /tmp/vdrv.out
	info VDRV "lease ${lid:-none}: revoke answered $rep; listed ${lst:-nothing}; holder exit $rc"
	info VDRV "audit: $(grep 'action=revoke' /tmp/ioasidd.log | tail -n1)"
	daemon_stop
	ioasidctl vdpa del vdpa7 >/dev/null 2>&1
	want="after status=0x00 remap=EFAULT other=ok invalidate=ok remap-after=ok setup-again=ok"
	if [ -n "$lid" ] && [ "$(echo "$rep" | jq -r .state 2>/dev/null)" = revoked-reset ] &&
		[ "$lst" = revoked ] && [ "$rc" = 0 ] &&
		echo "$foreign" | grep -q "foreign invalidate=EFAULT status=0x00" &&
		grep -q "held status=0x0f map=ok" /tmp/vdrv.out && grep -q "$want" /tmp/vdrv.out &&
		grep 'action=revoke' /tmp/ioasidd.log | tail -n1 | grep -q "device reset (virtio status 0)"; then
		result VDRV PASS "vdpa7 on vdpasim_net: the holder's status 0x0f and IOVA 1 MiB; Revoke answers revoked-reset, listed revoked, audited; the holder then reads status 0, its mapping still there (remap EFAULT; another process's INVALIDATE through the same file EFAULT: not the owner), invalidate/remap and setup again ok (the documented limit)"
	else
		result VDRV FAIL "revoke: $rep; listed '$lst'; $foreign; holder exit $rc: $(grep -E 'held|after|error=' /tmp/vdrv.out | tr '\n' ' ')"
	fi
}

scenario_VDRV() {
	vd_revoke
}
