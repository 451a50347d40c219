# SPDX-License-Identifier: LGPL-2.1-or-later
# MEM: what a `memlock` grant and `accounting` do on the real kernel (ioasid.conf(5), ioasidd(8)
#      Memlock). uid A's client (no capabilities) maps 12 MiB into its attached lease's IOAS,
#      beyond the kernel's default RLIMIT_MEMLOCK of 8 MiB:
#      - no grant: the limit is left alone and the kernel refuses the map with ENOMEM;
#      - `memlock 16M`: the daemon raised the client's limit, the map succeeds, the edu
#        round-trips through it, the kernel counts the pages in the client's VmPin and (user
#        accounting, the default) not in its VmLck; a child of the client (same uid, its own
#        mm, the same limit) maps 12 MiB more and is refused with ENOMEM: both maps are
#        charged to the uid;
#      - `accounting process` + `memlock 16M`: the same two maps both succeed, each charged to
#        its own process (VmLck of the client and of the child 12 MiB each).

MEM_KIB=12288

mem_case() { # tag policy-first run-args...: runs vm-edu memlock, output in MEM_OUT
	tag=$1 pol=$2
	shift 2
	if ! DAEMON_POLICY_FIRST=$pol daemon_start; then
		MEM_OUT="daemon did not start"
		return
	fi
	MEM_OUT=$(ctl_as $UID_A run --device "$EDU_SINGLE" --mode attached "$@" -- \
		vm-edu memlock '{iommufd}' '{ioas}' "{fd:$EDU_SINGLE}" $MEM_KIB --fork 2>&1)
	echo "$MEM_OUT" | sed "s/^/VMINFO MEM $tag: /"
	daemon_stop
}

mem_field() { # line-prefix key: the value of key= on vm-edu's line starting with prefix
	echo "$MEM_OUT" | grep "^vm-edu: $1" | head -n1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

scenario_MEM() {
	local ok=1 why= v lim
	# 1. No grant: the kernel's own default limit applies.
	mem_case nogrant ""
	lim=$(mem_field uid= rlimit_memlock_kib)
	v=$(mem_field first_map= first_map)
	if [ "$lim" != 8192 ] || [ "$v" != ENOMEM ]; then
		ok=0 why="$why; no grant: limit ${lim:-?} KiB, 12 MiB map ${v:-not tried} (want 8192, ENOMEM)"
	fi
	# 2. memlock 16M, user accounting: the client maps beyond the default limit.
	mem_case user "allow uid $UID_A to any mode attached memlock 16M"
	lim=$(mem_field uid= rlimit_memlock_kib)
	if [ "$lim" != 16384 ] || [ "$(mem_field first_map= first_map)" != ok ] ||
		! [ "$(mem_field first_map= VmPin)" -ge $MEM_KIB ] 2>/dev/null ||
		[ "$(mem_field first_map= VmLck)" != 0 ] ||
		! echo "$MEM_OUT" | grep -qx 'vm-edu: roundtrip=ok' ||
		[ "$(mem_field second_map= second_map)" != ENOMEM ]; then
		ok=0 why="$why; memlock 16M (user): limit ${lim:-?} KiB, $(echo "$MEM_OUT" | grep -E '_map=|roundtrip|error=' | tr '\n' ' ')"
	fi
	# 3. accounting process: each process is charged against its own limit.
	mem_case process "layout perproc { accounting process }
allow uid $UID_A to any mode attached layout perproc memlock 16M" --layout perproc
	lim=$(mem_field uid= rlimit_memlock_kib)
	if [ "$lim" != 16384 ] || [ "$(mem_field first_map= first_map)" != ok ] ||
		! [ "$(mem_field first_map= VmLck)" -ge $MEM_KIB ] 2>/dev/null ||
		! [ "$(mem_field first_map= VmPin)" -ge $MEM_KIB ] 2>/dev/null ||
		! echo "$MEM_OUT" | grep -qx 'vm-edu: roundtrip=ok' ||
		[ "$(mem_field second_map= second_map)" != ok ] ||
		! [ "$(mem_field second_map= VmLck)" -ge $MEM_KIB ] 2>/dev/null; then
		ok=0 why="$why; accounting process: limit ${lim:-?} KiB, $(echo "$MEM_OUT" | grep -E '_map=|roundtrip|error=' | tr '\n' ' ')"
	fi
	if [ $ok = 1 ]; then
		result MEM PASS "uid $UID_A, 12 MiB map: no grant ENOMEM at the default 8 MiB; memlock 16M: mapped (VmPin, not VmLck), DMA round trip, a child's 12 MiB more ENOMEM (charged to the uid); accounting process: both mapped, VmLck 12 MiB in each process"
	else
		result MEM FAIL "${why#; }"
	fi
}
