/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's capabilities. Under ioasidd.service it starts with CAP_SYS_RESOURCE and CAP_KILL
 * and nothing else (CapabilityBoundingSet=); started by hand as root it has them all. Either
 * way, once set up, it keeps only those two in its permitted set, none in its effective set,
 * and raises one into the effective set around the single call that needs it:
 *   CAP_SYS_RESOURCE  IOMMU_OPTION_RLIMIT_MODE through the kernel seam (the sim checks the
 *                     calling thread's effective set, as the kernel checks capable()), and
 *                     prlimit(RLIMIT_MEMLOCK) on a client;
 *   CAP_KILL          pidfd_send_signal() to a holder of another uid (on-revoke signal).
 * A bug elsewhere in the daemon then acts with no more than uid 0's plain file permissions.
 * Capabilities are per thread: helper threads drop everything (caps_drop_thread()).
 * CAP_CHOWN stays permitted until the daemon's own socket exists (socket-group), then goes.
 * Layer: a leaf, used by main, server, manager, context and closer.
 */
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "common/macro.h"
#include "ioasidd/ioasidd.h"

typedef struct Caps {
	struct __user_cap_header_struct h;
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
} Caps;

static int caps_get(Caps *c) {
	*c = (Caps){ .h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 } };
	if (syscall(SYS_capget, &c->h, c->d) < 0)
		return negative_errno();
	return 0;
}

static int caps_set(Caps *c) {
	c->h = (struct __user_cap_header_struct){ .version = _LINUX_CAPABILITY_VERSION_3 };
	if (syscall(SYS_capset, &c->h, c->d) < 0)
		return negative_errno();
	return 0;
}

int caps_setup(void) {
	Caps c;
	int r = caps_get(&c);
	if (r < 0)
		return r;
	static const int keep[] = { CAP_SYS_RESOURCE, CAP_KILL, CAP_CHOWN };
	uint32_t want[_LINUX_CAPABILITY_U32S_3] = { 0 };
	for (size_t i = 0; i < ELEMENTSOF(keep); i++)
		want[CAP_TO_INDEX(keep[i])] |= CAP_TO_MASK(keep[i]);
	for (size_t i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		c.d[i].permitted &= want[i];
		c.d[i].effective = 0;
		c.d[i].inheritable = 0;
	}
	/* Ambient capabilities would survive an exec; the daemon never execs, but say so. */
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return caps_set(&c);
}

/* Puts cap into or out of the effective set, or (permitted) out of both. errno is preserved.
 * Returns 1 when the set changed, 0 when cap was already so, -errno. */
static int caps_change(int cap, bool permitted, bool on) {
	int saved = errno;
	Caps c;
	int r = caps_get(&c);
	if (r >= 0) {
		uint32_t m = CAP_TO_MASK(cap);
		struct __user_cap_data_struct *d = &c.d[CAP_TO_INDEX(cap)];
		bool was = permitted ? (d->permitted & m) : (d->effective & m);
		if (was == on)
			r = 0;
		else {
			if (on)
				d->effective |= m;
			else {
				d->effective &= ~m;
				if (permitted)
					d->permitted &= ~m;
			}
			r = caps_set(&c);
			if (r >= 0)
				r = 1;
		}
	}
	errno = saved;
	return r;
}

bool caps_raise(int cap) {
	return caps_change(cap, false, true) > 0;
}

void caps_lower(int cap, bool raised) {
	if (raised)
		(void)caps_change(cap, false, false);
}

void caps_forget(int cap) {
	(void)caps_change(cap, true, false);
}

void caps_drop_thread(void) {
	Caps c = { 0 };
	(void)caps_set(&c);
}

int caps_prlimit(pid_t pid, int resource, const struct rlimit *new_limit,
		 struct rlimit *old_limit) {
	bool raised = caps_raise(CAP_SYS_RESOURCE);
	int r = prlimit(pid, resource, new_limit, old_limit);
	caps_lower(CAP_SYS_RESOURCE, raised);
	return r;
}

int caps_pidfd_send_signal(int pidfd, int sig) {
	bool raised = caps_raise(CAP_KILL);
	int r = (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
	caps_lower(CAP_KILL, raised);
	return r;
}
