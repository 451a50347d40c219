# SPDX-License-Identifier: LGPL-2.1-or-later
# The systemd guest's scenarios (boot "systemd", sourced by sd-init.sh, never by the busybox
# /init): the installed units under a real systemd. ioasidd.socket was enabled by the
# packager's steps; the service starts on the first connection.

SY_SOCK=/run/ioasid/ioasidd.sock
SY_CONF=/etc/ioasid/ioasid.conf
MID_STARTED=39f53479d3a045ac8e11786248231fbf # systemd: a unit finished starting

sy_as() { # user cmd...: that user's uid, gid and supplementary groups, no capabilities
	u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --init-groups --inh-caps=-all "$@"
}
sy_ctl() { # user ioasidctl-args... (the installed client, the installed socket)
	u=$1
	shift
	if [ "$u" = root ]; then ioasidctl "$@"; else sy_as "$u" ioasidctl "$@"; fi
}
# The journal's records of ioasidd.service since the given cursor, one JSON object a line.
sy_journal() { # cursor-file [journalctl match args...]
	c=$1
	shift
	journalctl --no-pager -o json --after-cursor="$(cat "$c")" "$@" 2>/dev/null
}
sy_cursor() { # file: remember the journal's current end
	journalctl --no-pager -n 0 --show-cursor 2>/dev/null | sed -n 's/^-- cursor: //p' >"$1"
}
sy_status() { systemctl status --no-pager -l ioasidd.service 2>&1 | sed "s/^/VMINFO $1 status: /" | head -n 15; }

# SY1: socket activation. After `systemctl enable --now ioasidd.socket` only the socket runs;
# the first client's connect starts ioasidd.service, which is then active, and its READY=1
# (systemd's "Started" record) came after the daemon loaded its policy and served ("Serving
# on the socket passed by systemd ... policy generation 1").
scenario_SY1() {
	local before after out rc serving started gen
	before=$(systemctl is-active ioasidd.service)
	if [ "$(systemctl is-active ioasidd.socket)" != active ] || [ "$before" = active ]; then
		result SY1 FAIL "before any client: socket $(systemctl is-active ioasidd.socket), service $before"
		return
	fi
	out=$(sy_ctl root status 2>&1)
	rc=$?
	info SY1 "first client (root, ioasidctl status): exit $rc: $(echo "$out" | head -n 3 | tr '\n' ' ')"
	after=$(systemctl is-active ioasidd.service)
	sy_status SY1
	serving=$(journalctl --no-pager -b -o json -u ioasidd.service |
		jq -r 'select((.MESSAGE // "") | tostring | startswith("Serving on the socket passed by systemd")) | .__SEQNUM' | head -n1)
	started=$(journalctl --no-pager -b -o json MESSAGE_ID=$MID_STARTED UNIT=ioasidd.service |
		jq -r '.__SEQNUM' | head -n1)
	gen=$(systemctl show -p StatusText --value ioasidd.service)
	info SY1 "journal seqnums: daemon serving=$serving, systemd started=$started; StatusText=$gen"
	if [ "$before" = active ] || [ "$after" != active ]; then
		result SY1 FAIL "service $before before the first connect, $after after"
	elif [ "$rc" != 0 ]; then
		result SY1 FAIL "the first client's status failed (exit $rc): $out"
	elif [ -z "$serving" ] || [ -z "$started" ] || [ "$serving" -ge "$started" ]; then
		result SY1 FAIL "READY before the policy: serving record $serving, systemd's Started $started"
	elif [ "$gen" != "Serving, policy generation 1" ]; then
		result SY1 FAIL "StatusText '$gen'"
	else
		result SY1 PASS "socket-activated by the first client (service $before -> $after); the daemon served policy generation 1 (journal #$serving) before systemd's Started (#$started)"
	fi
}
