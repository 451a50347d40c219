# SPDX-License-Identifier: LGPL-2.1-or-later
# S11: a lease that ends while its fds live on, against the real iommufd. uid A runs a
#      program under `ioasidctl run` (exec in place) that forks a child holding the attached
#      edu's iommufd and device fds, and the program is killed with -9; the lease ends
#      (process lifetime: its pid is gone; connection lifetime: the child dropped the lease's
#      connection). The child's bound device file keeps the group owned in the kernel, so
#      ioasidd must keep it too: uid B is refused with "held by an ended lease of another
#      user", root's leases/status name the lease, its uid and pid, and the kernel itself
#      refuses a fresh bind (vm-edu probe). Once the child exits, B is granted and its DMA
#      round-trips.

s11_case() { # lifetime -> result line parts in S11_DETAIL, 0/1 in S11_OK
	lt=$1
	rm -f /tmp/s11.out
	# The program prints its pid (the lease's: run execs it in place) and its child's.
	ctl_as $UID_A run --device "$EDU_SINGLE" --mode attached --lifetime "$lt" -- sh -c '
		echo "prog=$$"
		if [ "$0" = connection ]; then
			sh -c "eval \"exec \$IOASID_LEASE_FD>&-\"; exec sleep 600" &
		else
			sleep 600 &
		fi
		echo "child=$!"
		exec sleep 600' "$lt" >/tmp/s11.out 2>&1 &
	i=0
	while ! grep -q '^child=' /tmp/s11.out && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	prog=$(sed -n 's/^prog=//p' /tmp/s11.out)
	child=$(sed -n 's/^child=//p' /tmp/s11.out)
	lease=$(ctl_as 0 leases --json=short | jq -r '.[0].id // empty')
	if [ -z "$prog" ] || [ -z "$child" ] || [ -z "$lease" ]; then
		S11_OK=0 S11_DETAIL="$lt: no program/child/lease ($(cat /tmp/s11.out))"
		[ -n "$prog" ] && kill -9 "$prog"
		[ -n "$child" ] && kill "$child"
		return
	fi
	kill -9 "$prog"
	i=0
	st=
	while [ "$st" != ended ] && [ $i -lt 50 ]; do
		st=$(ctl_as 0 leases --json=short | jq -r --arg id "$lease" '.[] | select(.id == $id) | .state')
		sleep 0.1
		i=$((i + 1))
	done
	held="held by ended lease $lease (uid $UID_A, pid $prog)"
	status=$(ctl_as 0 status --json=short | jq -r '.held | join(";")')
	ctl_as $UID_B acquire "$EDU_SINGLE" --json=short </dev/null >/tmp/s11b.out 2>/tmp/s11b.err
	rc_b=$?
	err_b=$(cat /tmp/s11b.err)
	# What the kernel says to anyone else: a fresh open + BIND of the cdev.
	probe=$(vm-edu probe "$EDU_SINGLE" 2>&1 | grep -o 'error=VFIO_DEVICE_BIND_IOMMUFD errno=E[A-Z]*' | head -n1)
	info S11 "$lt: lease $lease state=$st; status: $status; B exit $rc_b: $err_b; kernel: $probe"
	kill "$child"
	# The child's exit closes the last copy; B's acquire probes the kernel before refusing.
	i=0
	rc_b2=1
	while [ $rc_b2 != 0 ] && [ $i -lt 50 ]; do
		out=$(ctl_as $UID_B run --device "$EDU_SINGLE" --mode attached -- \
			vm-edu dma '{iommufd}' "{fd:$EDU_SINGLE}" --ioas '{ioas}' 2>&1)
		rc_b2=$?
		[ $rc_b2 = 0 ] || sleep 0.1
		i=$((i + 1))
	done
	echo "$out" | sed "s/^/VMINFO S11 $lt B: /"
	left=$(ctl_as 0 leases --json=short | jq 'length')
	if [ "$st" = ended ] && [ "$status" = "$EDU_SINGLE (IOMMU group $(basename "$(readlink /sys/bus/pci/devices/$EDU_SINGLE/iommu_group)")): $held" ] &&
		[ "$rc_b" = 2 ] && echo "$err_b" | grep -q "is held by an ended lease of another user" &&
		[ -n "$probe" ] && [ $rc_b2 = 0 ] && [ "$left" = 0 ]; then
		S11_DETAIL="$S11_DETAIL$lt: ended+held, B refused by name, kernel $probe, B granted + DMA after the child exited; "
	else
		S11_OK=0
		S11_DETAIL="$S11_DETAIL$lt: state=$st status='$status' B exit $rc_b ($err_b) kernel='$probe' B after exit $rc_b2 leases left $left; "
	fi
}

scenario_S11() {
	daemon_start || { result S11 FAIL "ioasidd --kernel=linux did not start"; return; }
	S11_OK=1 S11_DETAIL=
	s11_case process
	s11_case connection
	daemon_stop
	[ $S11_OK = 1 ] && result S11 PASS "$S11_DETAIL" || result S11 FAIL "$S11_DETAIL"
}
