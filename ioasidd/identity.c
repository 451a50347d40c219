/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who is on the other end of a connection, taken once at accept: SO_PEERCRED, SO_PEERGROUPS,
 * SO_PEERPIDFD, SO_PEERSEC, and the cgroup (system unit, user unit) read under the pidfd
 * liveness check, with systemd's semantics. Layer: a leaf (common/ only), used by the server,
 * the broker (a peer's policy view) and state.
 */
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "common/cgroup-identity.h"
#include "common/macro.h"
#include "common/util.h"
#include "ioasidd/ioasidd.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

void peer_done(Peer *p) {
	if (!p)
		return;
	p->pidfd = safe_close(p->pidfd);
	free(p->groups);
	free(p->label);
	free(p->cgroup);
	free(p->unit);
	free(p->user_unit);
	p->groups = NULL;
	p->label = p->cgroup = p->unit = p->user_unit = NULL;
	p->n_groups = 0;
}

void peer_to_policy(const Peer *p, PolicyPeer *ret) {
	*ret = (PolicyPeer){
		.uid = p->uid,
		.gid = p->gid,
		.groups = p->groups,
		.n_groups = p->n_groups,
		.pid = p->pid,
		.have_pidfd = p->have_pidfd,
		.unit = p->unit,
		.user_unit = p->user_unit,
		.cgroup_hidden = p->cgroup_hidden,
		.cgroup = p->cgroup,
		.label = p->label,
	};
}

bool identity_probe_pidfd(void) {
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return false;
	int fd = -1;
	socklen_t len = sizeof(fd);
	bool ok = getsockopt(sv[0], SOL_SOCKET, SO_PEERPIDFD, &fd, &len) == 0;
	if (ok)
		safe_close(fd);
	safe_close(sv[0]);
	safe_close(sv[1]);
	return ok;
}

int identity_peer_set_cgroup(Peer *p, const char *cgroup) {
	CgroupIdentity id;
	_cleanup_free_ char *cg = NULL, *unit = NULL, *user_unit = NULL;

	cg = strdup(cgroup);
	if (!cg)
		return -ENOMEM;
	/* A path the kernel would not show (outside our cgroup namespace: "/../..") has no
	 * unit: the raw path is kept for 'cgroup' rules, every unit stays unknown. */
	if (cgroup_identity_from_path(cgroup, &id) < 0)
		id = (CgroupIdentity){ .owner_uid = (uid_t)-1 };
	/* The owner uid is not kept: a peer's uid is SO_PEERCRED's, and the user unit is
	 * matched only in rules that also name the uid. */
	if ((id.unit[0] && !(unit = strdup(id.unit))) ||
	    (id.user_unit[0] && !(user_unit = strdup(id.user_unit))))
		return -ENOMEM;
	free(p->cgroup);
	free(p->unit);
	free(p->user_unit);
	p->cgroup = TAKE_PTR(cg);
	p->unit = TAKE_PTR(unit);
	p->user_unit = TAKE_PTR(user_unit);
	return 0;
}

/* Is CAP_SYS_PTRACE in our effective set? (It lets ptrace_may_access() pass for /proc.) */
static bool have_cap_sys_ptrace(void) {
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[CAP_SYS_PTRACE / 32].effective & (1u << (CAP_SYS_PTRACE % 32));
}

static bool in_group(gid_t gid) {
	if (getegid() == gid)
		return true;
	gid_t g[256];
	int n = getgroups((int)ELEMENTSOF(g), g);
	for (int i = 0; i < n; i++)
		if (g[i] == gid)
			return true;
	return false;
}

int identity_proc_hides_peers(const char *mountinfo, bool cap_sys_ptrace, char *why,
			      size_t why_len) {
	/* The last mount on /proc is the one path lookups see. Fields: ID PARENT MAJ:MIN ROOT
	 * MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS. */
	const char *super = NULL;
	size_t super_len = 0;
	for (const char *l = mountinfo; l && *l;) {
		const char *nl = strchrnul(l, '\n');
		_cleanup_free_ char *line = strndup(l, (size_t)(nl - l));
		if (!line)
			return -ENOMEM;
		char *mp = NULL, *sep = strstr(line, " - ");
		int field = 0;
		for (char *t = line; t && field < 5; field++) {
			mp = t;
			t = strchr(t, ' ');
			if (t)
				*t++ = '\0';
		}
		if (field == 5 && sep && streq(mp, "/proc") && strneq(sep, " - proc ", 8)) {
			const char *o = strchr(sep + 8, ' '); /* after the source */
			super = o ? l + (o + 1 - line) : NULL;
			super_len = super ? (size_t)(nl - super) : 0;
		}
		l = *nl ? nl + 1 : nl;
	}
	if (!super)
		return 0;

	_cleanup_free_ char *opts = strndup(super, super_len);
	if (!opts)
		return -ENOMEM;
	const char *hidepid = NULL;
	gid_t gid = 0; /* procfs lets this group see everything; root's without gid= */
	char *save = NULL;
	for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (strneq(o, "hidepid=", 8))
			hidepid = o + 8;
		else if (strneq(o, "gid=", 4)) {
			uint64_t v;
			if (num_parse_u64(o + 4, UINT32_MAX - 1, &v) >= 0)
				gid = (gid_t)v;
		}
	}
	if (!hidepid || streq(hidepid, "0") || streq(hidepid, "off"))
		return 0;
	bool ptraceable = streq(hidepid, "4") || streq(hidepid, "ptraceable");
	if (cap_sys_ptrace || (!ptraceable && in_group(gid)))
		return 0;
	if (why)
		snprintf(why, why_len,
			 "/proc is mounted hidepid=%s (ProtectProc=): processes the daemon may "
			 "not ptrace (another uid or gid, more capabilities) are hidden from the "
			 "daemon (%s, no CAP_SYS_PTRACE)",
			 hidepid, ptraceable ? "ptraceable" : "not in the proc mount's gid");
	return 1;
}

int identity_probe_proc(char *why, size_t why_len) {
	_cleanup_free_ char *mi = NULL;
	int r = read_full_file("/proc/self/mountinfo", 4 * 1024 * 1024, &mi, NULL);
	if (r < 0)
		return r;
	return identity_proc_hides_peers(mi, have_cap_sys_ptrace(), why, why_len);
}

int identity_parse_proc_cgroup(const char *text, char **ret) {
	for (const char *l = text; l && *l;) {
		const char *nl = strchrnul(l, '\n');
		if (strneq(l, "0::", 3)) {
			const char *path = l + 3;
			size_t len = (size_t)(nl - path);
			if (len == 0 || path[0] != '/')
				return -EINVAL;
			char *s = strndup(path, len);
			if (!s)
				return -ENOMEM;
			*ret = s;
			return 0;
		}
		l = *nl ? nl + 1 : nl;
	}
	return -ENOENT;
}

static int get_label(int fd, char **ret) {
	size_t size = 256;
	for (int tries = 0; tries < 4; tries++) {
		_cleanup_free_ char *buf = malloc(size + 1);
		if (!buf)
			return -ENOMEM;
		socklen_t len = (socklen_t)size;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERSEC, buf, &len) == 0) {
			buf[MIN((size_t)len, size)] = '\0';
			if (len == 0 || buf[0] == '\0')
				return 0;
			*ret = TAKE_PTR(buf);
			return 1;
		}
		if (errno == ENOPROTOOPT)
			return 0; /* no LSM labels on this socket: fine */
		if (errno != ERANGE)
			return negative_errno();
		size = MAX((size_t)len, size * 2);
	}
	return -ERANGE;
}

static int get_groups(int fd, gid_t **ret, size_t *ret_n) {
	socklen_t len = sizeof(gid_t) * 64;
	for (int tries = 0; tries < 4; tries++) {
		_cleanup_free_ gid_t *g = malloc(len ? len : sizeof(gid_t));
		if (!g)
			return -ENOMEM;
		socklen_t l = len;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &l) == 0) {
			*ret_n = l / sizeof(gid_t);
			*ret = TAKE_PTR(g);
			return 0;
		}
		if (errno == ENOPROTOOPT || errno == ENODATA) {
			*ret = NULL;
			*ret_n = 0;
			return 0;
		}
		if (errno != ERANGE)
			return negative_errno();
		len = l; /* the kernel tells the size it needs */
	}
	return -ERANGE;
}

bool pidfd_alive(int pidfd) {
	/* A pidfd polls readable once its process has exited. */
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r = poll(&p, 1, 0);
	return r == 0 || (r > 0 && !(p.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)));
}

int identity_from_socket(int fd, bool pidfd_supported, Peer *ret) {
	/* Unknown is -1, never 0: a failure must not read as root. */
	Peer p = { .uid = (uid_t)-1, .gid = (gid_t)-1, .pid = 0, .pidfd = -EBADF };
	struct ucred uc = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t len = sizeof(uc);
	int r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return negative_errno();
	if (len != sizeof(uc) || uc.uid == (uid_t)-1 || uc.gid == (gid_t)-1)
		return -EIO;
	p.uid = uc.uid;
	p.gid = uc.gid;
	p.pid = uc.pid;

	if (pidfd_supported) {
		int pidfd = -1;
		len = sizeof(pidfd);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0) {
			r = negative_errno();
			if (r != -ENOPROTOOPT)
				return r; /* ESRCH/EINVAL: the peer is gone; EMFILE: drop too */
		} else {
			p.pidfd = pidfd;
			p.have_pidfd = true;
		}
	}

	r = get_label(fd, &p.label);
	if (r < 0)
		goto fail;
	r = get_groups(fd, &p.groups, &p.n_groups);
	if (r < 0)
		goto fail;

	/* The cgroup through /proc/PID, then proof that PID still is the peer (pidfd alive):
	 * otherwise the pid may have been reused and the path would be someone else's. Units
	 * and owner are derived from it as systemd does (common/cgroup-identity.c): a process
	 * below user@UID.service has the system unit user@UID.service whatever its user
	 * manager calls it. Without a pidfd, or when /proc is hidden (ProtectProc=invisible),
	 * cgroup and units stay unknown and rules on them do not match. */
	if (p.have_pidfd && p.pid > 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)p.pid);
		_cleanup_free_ char *text = NULL;
		r = read_full_file(path, 64 * 1024, &text, NULL);
		/* EMFILE, ENOMEM: the daemon's own failure. Going on without the cgroup would
		 * decide as if the peer had none, and let it past a deny rule on its cgroup. */
		if (r < 0 && r != -ENOENT && r != -EACCES && r != -EPERM && r != -ESRCH)
			goto fail;
		if (!pidfd_alive(p.pidfd)) {
			r = -ESRCH;
			goto fail;
		}
		if (r < 0)
			/* Alive, yet not there: /proc hides it from us (hidepid). */
			p.cgroup_hidden = true;
		else {
			_cleanup_free_ char *cg = NULL;
			r = identity_parse_proc_cgroup(text, &cg);
			if (r == -ENOMEM)
				goto fail;
			if (r >= 0) {
				r = identity_peer_set_cgroup(&p, cg);
				if (r < 0)
					goto fail;
			}
		}
	}
	*ret = p;
	return 0;
fail:
	peer_done(&p);
	return r;
}
