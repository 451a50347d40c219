# SPDX-License-Identifier: LGPL-2.1-or-later
# NB: `ioasidctl bind` / `restore` on real e1000e NICs and the guest kernel's own network
# tables (rtnetlink through libnl-route-3), with the stock bonding, 8021q and bridge drivers.
#   A ($NIC_A): up, an address and the guest's default route: `bind --dry-run`, `bind` and
#     `bind --json` refuse, naming the interface, the default route first, the address and
#     the subnet's route; `show` notes it is no candidate; then A as a port of a bridge that
#     carries the default route: refused naming the bridge.
#   B ($NIC_B): up with an address and no route but its subnet's: refused for those; taken
#     down, only the address is left (the kernel drops the route); `bind --force` moves it
#     from e1000e to vfio-pci, the cdev appears, `groups`/`show` say "bound by ioasidctl,
#     was on e1000e", uid 1000 acquires it through ioasidd; while that lease holds it
#     `restore` refuses (exit 1) instead of waiting in the kernel's unbind; released,
#     `restore` puts e1000e back and its netdev reappears.
#   C ($NIC, alone in its group): enslaved to a bond with an address and a route, a VLAN on
#     the bond with an IPv6 address: refused naming the bond and the VLAN through the chain;
#     then a port of a team with an address: refused naming the team.
# Everything it configures is removed at the end; every NIC is back on e1000e.

NB_IP=/usr/bin/ip # iproute2 (busybox's applet knows no bond or VLAN)
# daemon_start, ctl_as: lib-daemon.sh; hold_start, hold_stop: s4-owners.sh.

nb_eq() { # what want got
	[ "$2" = "$3" ] && return 0
	echo "VMINFO NB MISMATCH $1"
	printf '%s\n' "$2" | sed 's/^/VMINFO NB   want: /'
	printf '%s\n' "$3" | sed 's/^/VMINFO NB   got:  /'
	NB_ERRS=$((NB_ERRS + 1))
	return 1
}
nb_netdev() { ls "/sys/bus/pci/devices/$1/net" 2>/dev/null | head -n1; }
nb_driver() { basename "$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null; }
nb_ctl() { # args...: ioasidctl as root; sets NB_RC, NB_OUT, NB_ERR
	ioasidctl "$@" >/tmp/nb.out 2>/tmp/nb.err
	NB_RC=$?
	NB_OUT=$(cat /tmp/nb.out) NB_ERR=$(cat /tmp/nb.err)
	echo "VMINFO NB ioasidctl $* -> exit $NB_RC"
}
nb_sh() { # a setup command that must work
	"$@" 2>/tmp/nb-sh.err && return 0
	echo "VMINFO NB setup failed: $* ($(cat /tmp/nb-sh.err))"
	NB_ERRS=$((NB_ERRS + 1))
	return 1
}
nb_unchanged() { # what bdf: still on e1000e, no record
	nb_eq "$1: driver after the refusal" e1000e "$(nb_driver "$2")"
	nb_eq "$1: no record after the refusal" "" "$(ls /run/ioasid/bound 2>/dev/null | grep -F "$2")"
}

scenario_NB() {
	local a b c m g x y want cdev ra i
	NB_ERRS=0
	[ -x "$NB_IP" ] || { result NB FAIL "no iproute2 ip in the initramfs"; return; }
	[ -e /lib/ioasid-modules/net/order ] || { result NB FAIL "no bonding/8021q/bridge modules in the initramfs"; return; }
	for m in $(cat /lib/ioasid-modules/net/order); do
		insmod "/lib/ioasid-modules/net/$m.ko" 2>/tmp/nb-sh.err ||
			{ result NB FAIL "insmod $m: $(cat /tmp/nb-sh.err)"; return; }
	done
	a=$(nb_netdev "$NIC_A") b=$(nb_netdev "$NIC_B") c=$(nb_netdev "$NIC")
	info NB "A $NIC_A=$a B $NIC_B=$b C $NIC=$c"
	# C's QEMU netdev sends IPv6 router advertisements: a bond or bridge made here would
	# learn a default route and a prefix from them at a moment of their own (a real finding,
	# but not a reproducible one). The upper devices made below take no RA.
	ra=$(cat /proc/sys/net/ipv6/conf/default/accept_ra)
	echo 0 >/proc/sys/net/ipv6/conf/default/accept_ra
	for x in "$NIC_A" "$NIC_B" "$NIC"; do
		info NB "$x group $(basename "$(readlink "/sys/bus/pci/devices/$x/iommu_group")"): $(ls "/sys/bus/pci/devices/$x/iommu_group/devices" | tr '\n' ' ')"
	done
	if [ -z "$a" ] || [ -z "$b" ] || [ -z "$c" ]; then
		result NB FAIL "an e1000e without a netdev: A '$a' B '$b' C '$c'"
		return
	fi

	# A: the guest's uplink. B: an address, no route beyond its subnet's. C: a port of a
	# bond that carries an address and a route, with a VLAN on top holding an IPv6 address.
	nb_sh $NB_IP link set "$a" up &&
		nb_sh $NB_IP addr add 192.0.2.15/24 dev "$a" &&
		nb_sh $NB_IP route add default via 192.0.2.1 dev "$a" &&
		nb_sh $NB_IP link set "$b" up &&
		nb_sh $NB_IP addr add 198.51.100.15/24 dev "$b" &&
		nb_sh $NB_IP link add nbbond type bond mode active-backup &&
		nb_sh $NB_IP link set "$c" down &&
		nb_sh $NB_IP link set "$c" master nbbond &&
		nb_sh $NB_IP link set nbbond up &&
		nb_sh $NB_IP addr add 203.0.113.15/24 dev nbbond &&
		nb_sh $NB_IP route add 198.18.0.0/15 via 203.0.113.1 dev nbbond &&
		nb_sh $NB_IP link add link nbbond name nbvlan type vlan id 100 &&
		nb_sh $NB_IP link set nbvlan up &&
		nb_sh $NB_IP -6 addr add 2001:db8:100::15/64 dev nbvlan nodad
	$NB_IP -br addr | sed 's/^/VMINFO NB addr /'
	$NB_IP route show table all | grep -v '^local\|^broadcast\|^multicast' | sed 's/^/VMINFO NB route /'

	# --- A: carries the default route -------------------------------------------------------
	g=$(basename "$(readlink "/sys/bus/pci/devices/$NIC_A/iommu_group")")
	nb_ctl bind "$NIC_A" --dry-run
	want="Plan: bind IOMMU group $g to vfio-pci
  $NIC_A  e1000e -> vfio-pci
Findings:
  in use: $NIC_A: interface '$a' carries the default route (default via 192.0.2.1)
  in use: $NIC_A: interface '$a' is up
  in use: $NIC_A: interface '$a' holds global address 192.0.2.15/24
  in use: $NIC_A: interface '$a' carries route 192.0.2.0/24
Dry run, nothing changed. Binding would be refused (--force binds anyway)."
	nb_eq "A: bind --dry-run (exit $NB_RC)" "0
$want" "$NB_RC
$NB_OUT"
	nb_ctl bind "$NIC_A"
	nb_eq "A: bind refused" "2
  in use: $NIC_A: interface '$a' carries the default route (default via 192.0.2.1)
  in use: $NIC_A: interface '$a' is up
  in use: $NIC_A: interface '$a' holds global address 192.0.2.15/24
  in use: $NIC_A: interface '$a' carries route 192.0.2.0/24
ioasidctl: Refusing to bind $NIC_A: 4 findings above (--force binds anyway)" "$NB_RC
$NB_ERR$NB_OUT"
	nb_ctl --json=short bind "$NIC_A"
	nb_eq "A: bind --json refused" "2 refused default-route,link-up,address,route $a,$a,$a,$a ,,, default via 192.0.2.1,,192.0.2.15/24,192.0.2.0/24" \
		"$NB_RC $(echo "$NB_OUT" | jq -r '[.result, ([.findings[].kind] | join(",")), ([.findings[].object] | join(",")), ([.findings[] | .upper // ""] | join(",")), ([.findings[] | .detail // ""] | join(","))] | join(" ")' 2>&1)"
	nb_unchanged A "$NIC_A"
	# The inspection verbs: the group's only device is the host's uplink, no bind hint.
	nb_ctl --json=short show "$NIC_A"
	nb_eq "A: show notes it is no candidate" \
		"null not a candidate for passthrough, this host uses it: $NIC_A: interface '$a' carries the default route (default via 192.0.2.1)" \
		"$(echo "$NB_OUT" | jq -r '.group.blockers[0] | "\(.fix) \(.note)"' 2>&1)"

	# A as a bridge port; the bridge carries the address and the default route.
	nb_sh $NB_IP route del default via 192.0.2.1 dev "$a" &&
		nb_sh $NB_IP addr flush dev "$a" &&
		nb_sh $NB_IP link add nbbr type bridge &&
		nb_sh $NB_IP link set "$a" master nbbr &&
		nb_sh $NB_IP link set nbbr up &&
		nb_sh $NB_IP addr add 192.0.2.15/24 dev nbbr &&
		nb_sh $NB_IP route add default via 192.0.2.1 dev nbbr
	nb_ctl bind "$NIC_A"
	nb_eq "A under a bridge: bind refused" "2
  in use: $NIC_A: interface '$a' is up
  in use: $NIC_A: interface '$a' is a port of bridge 'nbbr', which carries the default route (default via 192.0.2.1)
  in use: $NIC_A: interface '$a' is a port of bridge 'nbbr', which is up
  in use: $NIC_A: interface '$a' is a port of bridge 'nbbr', which holds global address 192.0.2.15/24
  in use: $NIC_A: interface '$a' is a port of bridge 'nbbr', which carries route 192.0.2.0/24
ioasidctl: Refusing to bind $NIC_A: 5 findings above (--force binds anyway)" "$NB_RC
$NB_ERR$NB_OUT"
	nb_unchanged "A under a bridge" "$NIC_A"

	# --- C: enslaved to a bond, a VLAN on the bond -------------------------------------------
	nb_ctl bind "$NIC" --dry-run
	x="  in use: $NIC: interface '$c' is enslaved to bond 'nbbond', which"
	y="  in use: $NIC: interface '$c' is enslaved to bond 'nbbond', which is underneath vlan 'nbvlan', which"
	want=$(printf '%s\n' "  in use: $NIC: interface '$c' is up" "$x is up" \
		"$x holds global address 203.0.113.15/24" "$x carries route 203.0.113.0/24" \
		"$x carries route 198.18.0.0/15 via 203.0.113.1" "$y is up" \
		"$y holds global address 2001:db8:100::15/64" "$y carries route 2001:db8:100::/64" | sort)
	nb_eq "C: bind --dry-run findings (exit $NB_RC, sorted)" "0
$want" "$NB_RC
$(echo "$NB_OUT" | grep '^  in use: ' | sort)"
	nb_ctl --json=short bind "$NIC"
	nb_eq "C: bind --json refused, the upper devices" "2 refused 8 ,nbbond,nbbond,nbbond,nbbond,nbvlan,nbvlan,nbvlan" \
		"$NB_RC $(echo "$NB_OUT" | jq -r '[.result, (.findings | length | tostring), ([.findings[] | .upper // ""] | sort | join(","))] | join(" ")' 2>&1)"
	nb_unchanged C "$NIC"
	# C as a port of a team (no teamd: the kernel's team driver takes ports by itself).
	nb_sh $NB_IP link del nbvlan &&
		nb_sh $NB_IP link del nbbond &&
		nb_sh $NB_IP link add nbteam type team &&
		nb_sh $NB_IP link set "$c" down &&
		nb_sh $NB_IP link set "$c" master nbteam &&
		nb_sh $NB_IP link set nbteam up &&
		nb_sh $NB_IP addr add 203.0.113.16/24 dev nbteam
	nb_ctl bind "$NIC"
	x="  in use: $NIC: interface '$c' is enslaved to team 'nbteam', which"
	want=$(printf '%s\n' "  in use: $NIC: interface '$c' is up" "$x is up" \
		"$x holds global address 203.0.113.16/24" "$x carries route 203.0.113.0/24" | sort)
	nb_eq "C in a team: bind refused (sorted)" "2
$want
ioasidctl: Refusing to bind $NIC: 4 findings above (--force binds anyway)" "$NB_RC
$(echo "$NB_ERR" | grep '^  in use: ' | sort)
$(echo "$NB_ERR" | grep -v '^  in use: ')"
	nb_unchanged "C in a team" "$NIC"

	# --- B: an address, then down, then bound with --force and restored ---------------------
	nb_ctl bind "$NIC_B"
	nb_eq "B: bind refused, no default route" "2
  in use: $NIC_B: interface '$b' is up
  in use: $NIC_B: interface '$b' holds global address 198.51.100.15/24
  in use: $NIC_B: interface '$b' carries route 198.51.100.0/24
ioasidctl: Refusing to bind $NIC_B: 3 findings above (--force binds anyway)" "$NB_RC
$NB_ERR$NB_OUT"
	nb_unchanged B "$NIC_B"
	nb_sh $NB_IP link set "$b" down
	nb_ctl --json=short bind "$NIC_B" --dry-run
	nb_eq "B down: only the address is left" "0 planned address $b 198.51.100.15/24 move" \
		"$NB_RC $(echo "$NB_OUT" | jq -r '[.result, ([.findings[].kind] | join(",")), ([.findings[].object] | join(",")), ([.findings[] | .detail // ""] | join(",")), .members[0].action] | join(" ")' 2>&1)"
	nb_ctl bind "$NIC_B" --force
	cdev=$(ls "/sys/bus/pci/devices/$NIC_B/vfio-dev" 2>/dev/null)
	info NB "B bound: $NB_OUT $NB_ERR; driver $(nb_driver "$NIC_B"), cdev '$cdev', netdevs '$(ls "/sys/bus/pci/devices/$NIC_B/net" 2>/dev/null)'"
	nb_eq "B: bind --force" "0 $NIC_B: e1000e -> vfio-pci ($cdev) vfio-pci" "$NB_RC $NB_OUT $(nb_driver "$NIC_B")"
	[ -n "$cdev" ] && [ -c "/dev/vfio/devices/$cdev" ] || nb_eq "B: the vfio cdev" "/dev/vfio/devices/vfioN" "'$cdev' $(ls -l /dev/vfio/devices 2>&1 | tr '\n' ' ')"
	nb_eq "B: its netdev is gone" "" "$(ls "/sys/bus/pci/devices/$NIC_B/net" 2>/dev/null)"
	nb_eq "B: the record" "driver=e1000e
override=" "$(cat "/run/ioasid/bound/$NIC_B" 2>&1)"
	nb_ctl groups
	nb_eq "B: groups says bound by ioasidctl" "1" \
		"$(echo "$NB_OUT" | grep -F "$NIC_B" | grep -cF "drv=vfio-pci vfio=$cdev  (bound by ioasidctl, was on e1000e)")"
	nb_ctl show "$NIC_B"
	nb_eq "B: show says bound by ioasidctl" "1" "$(echo "$NB_OUT" | grep -c ' bound: by ioasidctl, was on e1000e$')"
	nb_ctl --json=short show "$NIC_B"
	nb_eq "B: show --json" "e1000e viable" "$(echo "$NB_OUT" | jq -r '"\(.device.ioasidctl_bind.was) \(.group.verdict)"' 2>&1)"
	# A lease on it through the daemon, as uid 1000 (fds verified), held while root tries to
	# restore it: vfio-pci enabled the device when the lease opened it, and the kernel's
	# unbind would wait (unkillable) until the holder closes it, so restore refuses first.
	x=$(cat "/sys/bus/pci/devices/$NIC_B/enable")
	if daemon_start; then
		if hold_start nbh $UID_A "$NIC_B"; then
			nb_eq "B: uid $UID_A acquires it" "true $NIC_B vfio-device true ''" \
				"$(jq -r '"\(.verified) \(.devices[0].bdf) \(.devices[0].kind) \(.devices[0].verified)"' /tmp/nbh.out 2>&1) '$(cat /tmp/nbh.err)'"
			info NB "B enable count: $x idle on vfio-pci, $(cat "/sys/bus/pci/devices/$NIC_B/enable") leased"
			# Not with the holder's stdin (fd 7): a restore waiting in the kernel
			# would keep the lease it waits for.
			ioasidctl restore "$NIC_B" >/tmp/nb.out 2>/tmp/nb.err 7>&- &
			m=$!
			i=0
			while kill -0 $m 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
			if kill -0 $m 2>/dev/null; then
				nb_eq "B: restore while leased" "refused" "still waiting in the kernel's unbind after 10 s"
				hold_stop nbh
				wait $m
			else
				wait $m
				NB_RC=$?
				nb_eq "B: restore while leased refused" "1 ioasidctl: Cannot restore $NIC_B: open through vfio-pci (a lease or a VM holds it): release or revoke it first; an unbind now would wait until its user closes it vfio-pci driver=e1000e" \
					"$NB_RC $(cat /tmp/nb.err)$(cat /tmp/nb.out) $(nb_driver "$NIC_B") $(head -n1 "/run/ioasid/bound/$NIC_B" 2>&1)"
				hold_stop nbh
			fi
		else
			nb_eq "B: uid $UID_A acquires it" "a lease" "$(cat /tmp/nbh.out /tmp/nbh.err)"
			hold_stop nbh
		fi
		daemon_stop
	else
		nb_eq "B: ioasidd started" started "not started"
	fi
	nb_eq "B: enable count 0 on vfio-pci, idle and released" "0 0" "$x $(cat "/sys/bus/pci/devices/$NIC_B/enable")"
	nb_ctl restore "$NIC_B"
	nb_eq "B: restore" "0 $NIC_B: back on e1000e e1000e" "$NB_RC $NB_OUT$NB_ERR $(nb_driver "$NIC_B")"
	info NB "B restored: netdevs '$(ls "/sys/bus/pci/devices/$NIC_B/net" 2>/dev/null)', override '$(cat "/sys/bus/pci/devices/$NIC_B/driver_override")'"
	[ -n "$(nb_netdev "$NIC_B")" ] || nb_eq "B: its netdev is back" "a netdev" "none"
	nb_eq "B: override cleared, record gone" "(null) " \
		"$(cat "/sys/bus/pci/devices/$NIC_B/driver_override") $(ls /run/ioasid/bound 2>/dev/null)"
	nb_ctl --json=short show "$NIC_B"
	nb_eq "B: show no longer says bound" "null" "$(echo "$NB_OUT" | jq -c '.device.ioasidctl_bind' 2>&1)"

	# Undo: the guest as it was (NICs down, no upper devices, no addresses).
	$NB_IP link del nbvlan 2>/dev/null
	$NB_IP link del nbbond 2>/dev/null
	$NB_IP link del nbbr 2>/dev/null
	$NB_IP link del nbteam 2>/dev/null
	for x in "$a" "$(nb_netdev "$NIC_B")" "$c"; do
		$NB_IP addr flush dev "$x" 2>/dev/null
		$NB_IP link set "$x" down 2>/dev/null
	done
	echo "$ra" >/proc/sys/net/ipv6/conf/default/accept_ra
	for x in "$NIC_A" "$NIC_B" "$NIC"; do nb_eq "$x back on e1000e" e1000e "$(nb_driver "$x")"; done

	if [ "$NB_ERRS" = 0 ]; then
		result NB PASS "real e1000e: A with the default route refused (dry-run, text, JSON; as a bridge port too), C under bond+VLAN refused naming both, then under a team, B bound to vfio-pci ($cdev) with --force, shown as bound by ioasidctl, leased to uid $UID_A (restore refused meanwhile), restored to e1000e with its netdev"
	else
		result NB FAIL "$NB_ERRS mismatches (see VMINFO NB MISMATCH lines)"
	fi
}
