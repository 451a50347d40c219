# SPDX-License-Identifier: LGPL-2.1-or-later
# The systemd guest's rootless podman scenarios (sourced by sd-init.sh): a real rootless
# container receives a device. The user tester (uid 1000, subordinate ids from useradd,
# lingering so that user@1000.service runs) uses the installed ioasidctl and Debian's podman
# and crun as a user does: each command of his runs as a transient service of his own systemd
# manager (runuser + systemd-run --user), so podman's systemd cgroup manager puts the
# container in .../user@1000.service/user.slice/libpod-ID.scope. The image is made here, with
# no registry: `podman import` of a root file system holding vm-edu, ioasidctl, a shell and
# their libraries, copied from this guest.
#   PD1  ioasidctl run --mode attached -- podman run --preserve-fds=2: DMA through edu inside
#   PD2  the same with --mode unbound: the program binds, attaches and maps itself
#   PD3  a client inside the container: the socket from `ioasidctl cdi` (podman run --device
#        ioasid.io/broker=default --group-add keep-groups); acquire and run there, decided by
#        the container rule because of what the container presents
# The policy is the README's two container rules with bob as tester and the README's BDF as
# the single edu (tests/check-docs.sh checks that PD_RULES are the README's lines).

PD_USER=tester
PD_UID=1000
PD_IMAGE=localhost/ioasid-pd:latest
PD_CONF=/etc/ioasid/ioasid.conf
PD_CDI=/etc/cdi/ioasid.yaml
PD_RULES='allow user bob user-unit "libpod-*.scope" to bdf 0000:3b:00.0 group implicit max-leases 1 lifetime process
allow user bob to bdf 0000:3b:00.0 mode attached,unbound group implicit max-leases 1'
PD_READY= # empty: not tried; "ok"; else why the setup failed
PD_LINE_CONTAINER= PD_LINE_USER= # the policy lines of the two rules

# As tester, in his own systemd manager (a transient service), stdio piped, exit status kept.
pd_user() { # cmd...
	timeout 400 runuser -u "$PD_USER" -- env XDG_RUNTIME_DIR=/run/user/$PD_UID \
		DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$PD_UID/bus \
		systemd-run --user --wait --pipe --quiet --collect \
		--setenv=DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$PD_UID/bus -- "$@"
}
pd_podman() { pd_user /usr/bin/podman "$@"; }
# podman run of the test image: no network, removed afterwards.
pd_run() { pd_podman run --rm --network=none "$@"; }

# The daemon's audit records (allow/deny) of Acquire, newest last, as journal MESSAGE lines.
pd_audit() { journalctl --no-pager -o cat -u ioasidd.service 2>/dev/null | grep -E 'action=(allow|deny) method=io\.ioasid\.Broker\.Acquire'; }

# Root's view: no lease, no group held by an ended one (a container may outlive podman).
pd_wait_free() {
	local i=0
	while [ $i -lt 150 ]; do
		[ "$(ioasidctl --json=short leases 2>/dev/null | jq 'length' 2>/dev/null)" = 0 ] &&
			[ "$(ioasidctl --json=short status 2>/dev/null | jq '.held | length' 2>/dev/null)" = 0 ] &&
			return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

pd_policy() { # write the README's container rules for tester and the edu, reload, wait
	local gen i=0
	gen=$(ioasidctl --json=short status 2>/dev/null | jq -r '.generation // 0')
	[ -e /tmp/pd-conf.saved ] || cp -p "$PD_CONF" /tmp/pd-conf.saved 2>/dev/null || : >/tmp/pd-conf.saved
	{
		echo "# The README's container rules, bob = $PD_USER, 0000:3b:00.0 = $EDU_SINGLE"
		echo "admin user root"
		echo "$PD_RULES" | sed "s/ bob / $PD_USER /; s/0000:3b:00\.0/$EDU_SINGLE/"
		echo "deny *"
	} >"$PD_CONF.pd.tmp"
	chmod 0600 "$PD_CONF.pd.tmp"
	mv "$PD_CONF.pd.tmp" "$PD_CONF"
	PD_LINE_CONTAINER=$(grep -n 'user-unit "libpod-\*.scope"' "$PD_CONF" | cut -d: -f1)
	PD_LINE_USER=$(grep -n "^allow user $PD_USER to " "$PD_CONF" | cut -d: -f1)
	sed "s/^/VMINFO PD policy: /" "$PD_CONF"
	systemctl reload ioasidd.service 2>/dev/null || systemctl start ioasidd.service
	while [ $i -lt 100 ]; do
		[ "$(ioasidctl --json=short status 2>/dev/null | jq -r '.generation // 0')" != "$gen" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "VMINFO PD policy generation still $gen after the reload: $(systemctl status --no-pager ioasidd.service 2>&1 | tail -n 5 | tr '\n' ' ')"
	return 1
}

pd_restore_policy() {
	[ -e /tmp/pd-conf.saved ] || return 0
	cp -p /tmp/pd-conf.saved "$PD_CONF" && rm -f /tmp/pd-conf.saved
	systemctl try-reload-or-restart ioasidd.service 2>/dev/null
}

# The image's root: what ldd says each program needs, at the same paths.
pd_copy() { # root file [dest]
	local r=$1 f=$2 d=${3:-$2} l
	mkdir -p "$r$(dirname "$d")"
	cp -L "$f" "$r$d" || return 1
	for l in $(ldd "$f" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
		[ -e "$r$l" ] && continue
		mkdir -p "$r$(dirname "$l")"
		cp -L "$l" "$r$l" || return 1
	done
}

pd_setup() {
	local r=/tmp/pd-root edu i=0 t0 t1 out
	[ -z "$PD_READY" ] || return 0
	PD_READY="setup failed"
	# Rootless podman on ext4 needs the kernel's overlay (or: "overlay is not supported").
	modprobe overlay || { PD_READY="modprobe overlay failed"; return 1; }
	grep -q "^$PD_USER:" /etc/subuid && grep -q "^$PD_USER:" /etc/subgid ||
		{ PD_READY="$PD_USER has no /etc/subuid or /etc/subgid range"; return 1; }
	info PD "subordinate ids: $(grep "^$PD_USER:" /etc/subuid) / $(grep "^$PD_USER:" /etc/subgid); groups: $(id "$PD_USER")"
	loginctl enable-linger "$PD_USER" 2>/dev/null || systemctl start "user@$PD_UID.service"
	while [ $i -lt 300 ]; do
		[ "$(systemctl is-active "user@$PD_UID.service")" = active ] &&
			[ -S "/run/user/$PD_UID/systemd/private" ] && break
		sleep 0.2
		i=$((i + 1))
	done
	[ "$(systemctl is-active "user@$PD_UID.service")" = active ] ||
		{ PD_READY="user@$PD_UID.service is $(systemctl is-active "user@$PD_UID.service")"; return 1; }
	info PD "user@$PD_UID.service active (linger); bus: $(ls /run/user/$PD_UID 2>&1 | tr '\n' ' ')"
	# The image: vm-edu, the installed ioasidctl, a shell and a few tools, with libraries.
	edu=$(command -v vm-edu) || { PD_READY="no vm-edu in the guest"; return 1; }
	rm -rf "$r" && mkdir -p "$r"/etc "$r"/tmp "$r"/run "$r"/proc "$r"/sys "$r"/dev
	pd_copy "$r" "$edu" /usr/bin/vm-edu && pd_copy "$r" /usr/bin/ioasidctl &&
		pd_copy "$r" "$(readlink -f /bin/sh)" /usr/bin/sh && pd_copy "$r" /usr/bin/cat &&
		pd_copy "$r" /usr/bin/id && pd_copy "$r" /usr/bin/sleep ||
		{ PD_READY="cannot copy the image's programs"; return 1; }
	ln -s usr/bin "$r/bin"
	printf 'root:x:0:0:root:/:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\n' >"$r/etc/group"
	tar --numeric-owner --owner=0 --group=0 -C "$r" -cf "/home/$PD_USER/pd.tar" . ||
		{ PD_READY="tar of the image's root failed"; return 1; }
	chown "$PD_USER:" "/home/$PD_USER/pd.tar"
	info PD "image root: $(du -sh "$r" | cut -f1), $(find "$r" -type f | wc -l) files"
	t0=$(cut -d' ' -f1 /proc/uptime)
	out=$(pd_podman import "/home/$PD_USER/pd.tar" "$PD_IMAGE" 2>&1) ||
		{ PD_READY="podman import failed: $(echo "$out" | tail -n 3 | tr '\n' ' ')"; return 1; }
	t1=$(cut -d' ' -f1 /proc/uptime)
	info PD "podman import: $(echo "$out" | tail -n 1) in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s"
	info PD "podman: $(pd_podman info --format '{{.Version.Version}} rootless={{.Host.Security.Rootless}} cgroups={{.Host.CgroupManager}}/{{.Host.CgroupsVersion}} runtime={{.Host.OCIRuntime.Name}} storage={{.Store.GraphDriverName}}' 2>&1 | tr '\n' ' ')"
	PD_READY=ok
}

# Each scenario: the image (once), the container policy loaded; the guest's policy restored
# after it.
pd_begin() { # id
	pd_setup || { result "$1" FAIL "setup: $PD_READY"; return 1; }
	pd_policy || { result "$1" FAIL "the daemon did not load the container policy"; pd_restore_policy; return 1; }
	pd_wait_free || info "$1" "leases or held groups left before the run: $(ioasidctl leases 2>&1 | tr '\n' ' ')"
}

pd_result() { # id rc out what: report a scenario from vm-edu's output
	local id=$1 rc=$2 out=$3 what=$4
	echo "$out" | sed "s/^/VMINFO $id /"
	if [ "$rc" = 0 ] && echo "$out" | grep -q 'vm-edu: roundtrip=ok'; then
		result "$id" PASS "$what"
	else
		result "$id" FAIL "exit $rc: $(echo "$out" | grep -E 'error=|ioasidctl:|Error|roundtrip=' | head -n 2 | tr '\n' ' ')"
	fi
}

# The last Acquire audit record must be an allow by the given policy line.
pd_decided_by() { # line
	pd_audit | tail -n 1 | grep -q "action=allow .* uid=$PD_UID .*rule=$PD_CONF:$1 "
}

# vm-edu's data pattern derives from VM_EDU_TAG and its pid, always 1 in a container: the tag
# goes in with --env, so no two scenarios' transfers share a pattern.

# PD1: attached. tester's own process acquires (the second README rule), execs podman with the
# lease's fds at 3 and 4; inside the rootless container vm-edu maps its buffer into the
# daemon's IOAS through fd 3 and the edu (fd 4, already bound and attached) round-trips it.
scenario_PD1() {
	local out rc
	pd_begin PD1 || return
	out=$(pd_user /usr/bin/ioasidctl run --device "$EDU_SINGLE" --mode attached -- \
		/usr/bin/podman run --rm --network=none --preserve-fds=2 \
		--env VM_EDU_TAG="$VM_EDU_TAG" "$PD_IMAGE" \
		/usr/bin/vm-edu dma 3 4 --ioas '{ioas}' 2>&1)
	rc=$?
	info PD1 "audit: $(pd_audit | tail -n 1)"
	if ! pd_decided_by "$PD_LINE_USER"; then
		pd_result PD1 1 "$out" ""
		[ "$rc" != 0 ] || result PD1 FAIL "not granted by the README's rule for the user's own process (line $PD_LINE_USER)"
		return
	fi
	pd_result PD1 $rc "$out" "rootless podman (tester) got fds 3+4 of an attached lease on $EDU_SINGLE via 'ioasidctl run -- podman run --preserve-fds=2' (README rule, line $PD_LINE_USER): MAP + edu DMA round trip inside the container"
	pd_wait_free || info PD1 "the group stayed held after podman exited: $(ioasidctl status 2>&1 | tr '\n' ' ')"
	pd_restore_policy
}

# PD2: unbound. The container binds the device fd to the iommufd, allocates its own IOAS,
# attaches, maps and round-trips.
scenario_PD2() {
	local out rc
	pd_begin PD2 || return
	out=$(pd_user /usr/bin/ioasidctl run --device "$EDU_SINGLE" --mode unbound -- \
		/usr/bin/podman run --rm --network=none --preserve-fds=2 \
		--env VM_EDU_TAG="$VM_EDU_TAG" "$PD_IMAGE" \
		/usr/bin/vm-edu dma 3 4 --bind --attach 2>&1)
	rc=$?
	info PD2 "audit: $(pd_audit | tail -n 1)"
	if [ "$rc" = 0 ] && ! pd_decided_by "$PD_LINE_USER"; then
		echo "$out" | sed "s/^/VMINFO PD2 /"
		result PD2 FAIL "not granted by the README's rule for the user's own process (line $PD_LINE_USER)"
		pd_restore_policy
		return
	fi
	pd_result PD2 $rc "$out" "unbound lease on $EDU_SINGLE into a rootless container: BIND + ALLOC + ATTACH + MAP by the program inside, edu DMA round trip"
	pd_wait_free || info PD2 "the group stayed held after podman exited: $(ioasidctl status 2>&1 | tr '\n' ' ')"
	pd_restore_policy
}

# PD3: a client inside the container. `ioasidctl cdi` writes the spec; podman gives the
# container the socket and IOASID_SOCKET (--device ioasid.io/broker=default) and tester's
# groups (--group-add keep-groups). The container's process presents tester's uid and its
# libpod scope: the README's container rule (user-unit "libpod-*.scope") decides, so it may
# have an attached lease (acquire; run + DMA inside) but not an unbound one, which only the
# rule for tester's own process grants. One container does the three requests in turn (podman
# runs are the slow part of the guest); --cgroupns=host only lets it print its real cgroup,
# which `policy explain --cgroup` must derive the same user unit from. Without keep-groups the
# socket's mode refuses the container (EACCES, exit 69, the hint naming keep-groups).
scenario_PD3() {
	local out rc cg scope expl n fails=
	pd_begin PD3 || return
	out=$(ioasidctl cdi 2>&1) || { result PD3 FAIL "ioasidctl cdi: $out"; pd_restore_policy; return; }
	info PD3 "ioasidctl cdi: $out"
	sed "s/^/VMINFO PD3 cdi: /" "$PD_CDI"
	n=$(pd_audit | wc -l)
	out=$(pd_run --device ioasid.io/broker=default --group-add keep-groups --cgroupns=host \
		--env VM_EDU_TAG="$VM_EDU_TAG" "$PD_IMAGE" /bin/sh -c '
		echo "cgroup=$(cat /proc/self/cgroup)"; echo "id=$(id)"; echo "socket=$IOASID_SOCKET"
		ioasidctl --json=short acquire "$1" </dev/null; echo "acquire-rc=$?"
		ioasidctl acquire "$1" --mode unbound </dev/null; echo "unbound-rc=$?"
		ioasidctl run --device "$1" --mode attached -- \
			vm-edu dma "{iommufd}" "{fd:$1}" --ioas "{ioas}"; echo "run-rc=$?"' \
		sh "$EDU_SINGLE" 2>&1 </dev/null)
	rc=$?
	echo "$out" | cut -c1-600 | sed "s/^/VMINFO PD3 /"
	pd_audit | tail -n +$((n + 1)) | sed "s/^/VMINFO PD3 audit: /"
	cg=$(echo "$out" | sed -n 's/^cgroup=0:://p')
	scope=$(echo "$cg" | grep -oE 'libpod-[0-9a-f]+\.scope' | head -n 1)
	case $cg in
	"/user.slice/user-$PD_UID.slice/user@$PD_UID.service/user.slice/libpod-"*.scope | \
		"/user.slice/user-$PD_UID.slice/user@$PD_UID.service/user.slice/libpod-"*.scope/*) ;;
	*) fails="$fails; the container's cgroup is '$cg', not a libpod scope below user@$PD_UID.service" ;;
	esac
	echo "$out" | grep -qx "socket=/run/ioasid/ioasidd.sock" ||
		fails="$fails; IOASID_SOCKET is not the spec's socket in the container"
	expl=$(ioasidctl --json=short policy explain --config "$PD_CONF" --user "$PD_USER" \
		--cgroup "$cg" --device "$EDU_SINGLE" 2>&1)
	info PD3 "policy explain --cgroup (the real container's): $expl"
	[ -n "$scope" ] && [ "$(echo "$expl" | jq -r '"\(.line) \(.peer.unit) \(.peer.user_unit)"' 2>/dev/null)" = \
		"$PD_LINE_CONTAINER user@$PD_UID.service $scope" ] ||
		fails="$fails; policy explain of the real cgroup: not line $PD_LINE_CONTAINER, user@$PD_UID.service, '$scope'"
	[ "$rc" = 0 ] || fails="$fails; podman run exited $rc"
	echo "$out" | grep -qx 'acquire-rc=0' || fails="$fails; acquire inside the container failed"
	echo "$out" | grep -qx 'unbound-rc=2' &&
		echo "$out" | grep -q "mode 'unbound' not granted by rule at $PD_CONF:$PD_LINE_CONTAINER" ||
		fails="$fails; --mode unbound inside was not refused by the container rule"
	echo "$out" | grep -qx 'run-rc=0' && echo "$out" | grep -q 'vm-edu: roundtrip=ok' ||
		fails="$fails; run + DMA inside the container failed"
	# One record per decision, each by the container rule: allow, deny (unbound), allow.
	[ "$(pd_audit | tail -n +$((n + 1)) | sed -n "s|.* action=\([a-z]*\) .* uid=$PD_UID .* rule=$PD_CONF:\([0-9]*\) .*|\1:\2|p" | tr '\n' ' ')" = \
		"allow:$PD_LINE_CONTAINER deny:$PD_LINE_CONTAINER allow:$PD_LINE_CONTAINER " ] ||
		fails="$fails; the audit records are not allow, deny, allow by line $PD_LINE_CONTAINER"
	pd_wait_free || fails="$fails; the container's lease did not end with it"

	# Without tester's groups the socket's mode refuses the container (exit 69).
	out=$(pd_run --device ioasid.io/broker=default "$PD_IMAGE" \
		/usr/bin/ioasidctl acquire "$EDU_SINGLE" 2>&1 </dev/null)
	rc=$?
	info PD3 "without keep-groups: exit $rc: $(echo "$out" | tr '\n' ' ')"
	[ "$rc" = 69 ] && echo "$out" | grep -q "socket's group is not mapped into this user namespace" ||
		fails="$fails; without --group-add keep-groups: exit $rc, not 69 with the unmapped-group hint"
	if [ -n "$fails" ]; then
		result PD3 FAIL "${fails#; }"
	else
		result PD3 PASS "client inside a rootless container (CDI ioasid.io/broker=default, keep-groups; uid $PD_UID, cgroup $cg): acquire and run + edu DMA allowed by the README's container rule (line $PD_LINE_CONTAINER), --mode unbound refused by it; no socket access without keep-groups"
	fi
	pd_restore_policy
}
