#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# hidepid.sh GID CMD...: CMD (ioasidd) as ioasidd.service's ProtectProc=invisible and
# CapabilityBoundingSet= run it: /proc mounted hidepid=invisible (no gid=), run from a mount
# namespace of its own (unshare -m --propagation private hidepid.sh ...), uid 0 with group
# GID and only CAP_KILL and CAP_SYS_RESOURCE in the bounding set (no CAP_SYS_PTRACE).
mount -t proc -o hidepid=invisible proc /proc || exit 97
gid=$1
shift
exec setpriv --regid="$gid" --clear-groups --bounding-set=-all,+kill,+sys_resource \
	--inh-caps=-all "$@"
