/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lease table's life, below the method layer: handing a built context over to its
 * holder, ending, revoking and re-evaluating leases, staged contexts' expiry, policy reloads,
 * device events, the leases restored after a restart. Every record a state change writes is
 * written here (log.c). Layer: called by the method handlers, udev.c and main.c; calls
 * lease, hold, stage, state, identity, caps and log. It never includes server code: what the
 * server must learn (Monitor events, a connection that may go idle, connections kept in the
 * fdstore) goes through the hooks the server registered (ManagerHooks).
 */
#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "common/macro.h"
#include "common/proto.h"
#include "ioasidd/context.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/log.h"
#include "ioasidd/manager.h"

bool manager_is_admin(Manager *m, const Peer *peer, const char *method, bool audit) {
	PolicyPeer pp;
	peer_to_policy(peer, &pp);
	PolicyDecision d = { .allow = false };
	bool ok = m->policy && policy_is_admin(m->policy, &pp, &d);
	if (audit) {
		char rule[300];
		if (d.file)
			snprintf(rule, sizeof(rule), "%s:%u", d.file, d.line);
		audit_log(&(AuditRecord){
			.action = ok ? "allow" : "deny",
			.message_id = ok ? IOASID_MESSAGE_ALLOW : IOASID_MESSAGE_DENY,
			.method = method,
			.cause = "request",
			.rule = d.file ? rule : NULL,
			.reason = ok ? "admin" : (d.reason[0] ? d.reason : "not an admin"),
			.uid = peer->uid,
			.pid = peer->pid,
			.unit = peer->unit,
			.generation = m->generation,
		});
	}
	return ok;
}

static void manager_lease_event(Manager *m, const Lease *l, const char *event, const char *cause) {
	if (m->hooks.lease_event)
		m->hooks.lease_event(m, l, event, cause);
}

void manager_group_event(Manager *m, int group, const char *verdict) {
	if (m->hooks.group_event)
		m->hooks.group_event(m, group, verdict);
}

void manager_device_event(Manager *m, const char *event, const char *bdf) {
	if (m->hooks.device_event)
		m->hooks.device_event(m, event, bdf);
}

void manager_end_lease(Manager *m, Lease *l, const char *why) {
	manager_end_lease_by(m, l, &(AuditActor){ .cause = "lease-end" }, why);
}

void manager_end_lease_by(Manager *m, Lease *l, const AuditActor *by, const char *why) {
	Connection *c = l->connection;
	bool pending = c && m->hooks.lease_ending && m->hooks.lease_ending(m, c, l);
	if (lease_delivered(l)) {
		/* Released: the Release method (the holder, or an admin); ended: anything else
		 * (the connection closed, the holder exited, shutdown, the device went away). */
		bool released = by->method && streq(by->method, "io.ioasid.Broker.Release");
		manager_lease_event(m, l, released ? "lease-released" : "lease-ended",
				    released ? NULL : by->cause);
		char devs[IOASID_MAX_DEVICES_PER_REQUEST * 20];
		audit_log(&(AuditRecord){
			.action = "release",
			.message_id = IOASID_MESSAGE_RELEASE,
			.method = by->method,
			.cause = by->cause,
			.device = lease_devices_text(l, devs, sizeof(devs)),
			.rule = l->rule,
			.reason = why,
			.lease = l->id,
			.uid = l->uid,
			.pid = l->pid,
			.unit = l->unit,
			.generation = l->generation,
		});
	} else if (pending)
		/* The Acquire's fds never reached the client: its record is a deny. */
		lease_audit_acquire(l, false, by->cause, why);
	else
		log_info("Lease %s of uid %u rolled back: %s", l->id, (unsigned)l->uid, why);
	state_forget_lease(m, l);
	/* The holder (or a process it passed the fds to) may still have them: then the lease
	 * stays, ended, holding the groups the kernel still shows held (hold.c). */
	if (!hold_lease_ended(m, l)) {
		lease_table_remove(&m->leases, l);
		lease_free(l, m->kernel);
	}
	state_update_status(m);
	/* A connection kept open only for this lease is subject to the idle deadline again. */
	if (c && m->hooks.lease_ended)
		m->hooks.lease_ended(m, c);
}

void manager_connection_gone(Manager *m, Connection *c) {
	const AuditActor gone = { .cause = m->stopping ? "shutdown" : "client-gone" };
	Lease *next = NULL;
	for (Lease *l = m->leases.head; l; l = next) {
		next = l->next;
		if (l->connection != c)
			continue;
		if (m->stopping && l->stored && lease_delivered(l))
			/* In the fdstore with its connection: the next instance restores it (a
			 * restart), or systemd closes everything when the service stops for good.
			 */
			l->connection = NULL;
		else if (l->lifetime == POLICY_LIFETIME_CONNECTION)
			manager_end_lease_by(m, l, &gone, "connection closed");
		else if (!lease_delivered(l))
			manager_end_lease_by(m, l, &gone, "reply not delivered");
		else
			l->connection = NULL; /* process lifetime: the pidfd decides */
	}
}

int manager_revoke_lease(Manager *m, Lease *l, bool reset, bool sig, const AuditActor *by,
			 const char *why) {
	assert(l->state == LEASE_ACTIVE);
	/* An fd once sent cannot be taken back: block DMA through our own reference (detach;
	 * vhost-vdpa: a device reset), optionally reset, optionally signal the holder. */
	bool vdpa = l->mode == LEASE_MODE_VHOST_VDPA;
	int r = lease_revoke_kernel(l, m->kernel, reset);
	if (r < 0)
		log_warning_errno(r, "Revoke %s: %s failed: %m", l->id,
				  vdpa ? "device reset" : "detach/reset");
	/* The holder's copies keep the devices bound: their groups stay held until the kernel
	 * shows them closed (hold.c). */
	(void)hold_after_close(m, l);
	if (sig && l->pidfd >= 0 && pidfd_alive(l->pidfd) &&
	    caps_pidfd_send_signal(l->pidfd, SIGTERM) < 0)
		log_warning_errno(-errno, "Revoke %s: signalling the holder failed: %m", l->id);
	state_forget_lease(m, l);
	char reason[400];
	if (vdpa)
		/* No detach: the virtio reset is what stops its DMA; the holder's file keeps the
		 * IOTLB (only its owner may unmap) and can set the device up again. */
		snprintf(
			reason, sizeof(reason), "%s%s%s", why,
			r < 0 ? ", device reset failed, DMA not blocked"
			      : ", device reset (virtio status 0), IOTLB kept by the holder's file",
			sig ? ", signalled" : "");
	else
		snprintf(reason, sizeof(reason), "%s%s%s%s", why, reset ? ", reset" : "",
			 sig ? ", signalled" : "", r < 0 ? ", detach failed" : "");
	char devs[IOASID_MAX_DEVICES_PER_REQUEST * 20];
	audit_log(&(AuditRecord){
		.action = "revoke",
		.message_id = IOASID_MESSAGE_REVOKE,
		.method = by->method,
		.cause = by->cause,
		.device = lease_devices_text(l, devs, sizeof(devs)),
		.rule = l->rule,
		.reason = reason,
		.lease = l->id,
		.uid = l->uid,
		.pid = l->pid,
		.unit = l->unit,
		.generation = m->generation,
	});
	manager_lease_event(m, l, "lease-revoked", reason);
	state_update_status(m);
	return r;
}

/* The identity a lease or staged context is re-evaluated with. Strings are borrowed from l;
 * groups is filled from the user database when l has no snapshot of the peer. */
static void lease_policy_peer(const Lease *l, gid_t *groups, int max_groups, PolicyPeer *ret) {
	*ret = (PolicyPeer){ .uid = l->uid, .gid = (gid_t)-1, .pid = l->pid, .unit = l->unit };
	if (l->peer_known) {
		ret->gid = l->gid;
		ret->groups = l->peer_groups;
		ret->n_groups = l->n_peer_groups;
		ret->have_pidfd = l->have_pidfd;
		ret->cgroup = l->cgroup;
		ret->user_unit = l->user_unit;
		ret->label = l->label;
		return;
	}
	/* A staged owner ("unit NAME") is only ever handed to a peer whose unit was pinned
	 * through its pidfd; a restored lease had its pidfd checked when it was acquired. The
	 * same identity Stage judged the owner with. */
	stage_owner_peer(l->uid, l->unit, groups, max_groups, ret);
	ret->pid = l->pid;
}

/* Does the current policy still allow preq (about what, a BDF or a vDPA device)? reason gets
 * the refusal. */
static bool request_still_allowed(Manager *m, const PolicyRequest *preq, const char *what,
				  char *reason, size_t size) {
	PolicyDecision dec = { .allow = false };
	int r = m->policy ? policy_evaluate(m->policy, preq, &dec) : -ENOENT;
	if (r >= 0 && dec.allow)
		return true;
	snprintf(reason, size, "policy generation %llu no longer allows %s: %s",
		 (unsigned long long)m->generation, what,
		 dec.reason[0] ? dec.reason : "no rule matched");
	return false;
}

/* Does the current policy still allow l, every device? *ret_reason gets the first refusal. */
static bool lease_still_allowed(Manager *m, const Lease *l, char *reason, size_t size) {
	gid_t groups[256];
	PolicyPeer pp;
	lease_policy_peer(l, groups, (int)ELEMENTSOF(groups), &pp);
	if (l->vdpa) {
		const VdpaDevice *v = host_find_vdpa_device(m->host, l->vdpa);
		if (!v) {
			snprintf(reason, size, "%s is gone from the host", l->vdpa);
			return false;
		}
		PolicyRequest preq = {
			.peer = &pp,
			.host = m->host,
			.device = v->parent,
			.vdpa = v,
			.mode = POLICY_MODE_VHOST_VDPA,
			.method = "io.ioasid.Manager.Reload",
		};
		if (!request_still_allowed(m, &preq, l->vdpa, reason, size))
			return false;
	}
	for (size_t i = 0; i < l->n_devices; i++) {
		const Device *d = host_find_device(m->host, l->devices[i].bdf);
		if (!d) {
			snprintf(reason, size, "%s is gone from the host", l->devices[i].bdf);
			return false;
		}
		PolicyRequest preq = {
			.peer = &pp,
			.host = m->host,
			.device = d,
			.mode = l->mode == LEASE_MODE_UNBOUND ? POLICY_MODE_UNBOUND
							      : POLICY_MODE_ATTACHED,
			.layout = l->layout,
			.method = "io.ioasid.Manager.Reload",
		};
		if (!request_still_allowed(m, &preq, d->bdf, reason, size))
			return false;
	}
	return true;
}

void manager_drop_staged(Manager *m, Lease *l, const AuditActor *by, const char *reason) {
	char devs[IOASID_MAX_DEVICES_PER_REQUEST * 20];
	audit_log(&(AuditRecord){
		.action = "drop-staged",
		.message_id = IOASID_MESSAGE_RELEASE,
		.method = by->method,
		.cause = by->cause,
		.device = lease_devices_text(l, devs, sizeof(devs)),
		.reason = reason,
		.lease = l->id,
		.uid = l->uid,
		.unit = l->unit,
		.generation = m->generation,
	});
	manager_end_lease_by(m, l, by, reason);
}

size_t manager_reevaluate(Manager *m, const AuditActor *by) {
	/* The records name the reload (and its generation) as the cause, not its caller. */
	const AuditActor reload = { .method = by ? by->method : NULL, .cause = "reload" };
	size_t n = 0;
	Lease *next = NULL;
	for (Lease *l = m->leases.head; l; l = next) {
		next = l->next;
		char reason[512];
		if ((l->state != LEASE_STAGED && l->state != LEASE_ACTIVE) ||
		    lease_still_allowed(m, l, reason, sizeof(reason)))
			continue;
		n++;
		if (l->state == LEASE_STAGED) {
			manager_drop_staged(m, l, &reload, reason);
			continue;
		}
		(void)manager_revoke_lease(m, l, l->revoke_reset, l->revoke_signal, &reload,
					   reason);
	}
	return n;
}

int manager_load_policy(const char *path, uint64_t generation, Policy **ret, PolicyError *err) {
	PolicyLoadOptions opts = {
		/* Refuse a file others than root could have written or pointed the path at
		 * (trusted_path_open()), whoever runs the daemon: --check-config answers for
		 * the root daemon, and a FIFO or a device is never opened. */
		.check_owner = true,
		.generation = generation,
	};
	return policy_load(path, &opts, ret, err);
}

void manager_warn_process_accounting(Manager *m) {
	_cleanup_free_ char *layouts = NULL;
	if (!m->rlimit_mode_eperm || !m->policy ||
	    policy_describe_process_accounting(m->policy, &layouts) <= 0)
		return;
	log_warning("Layouts %s use 'accounting process', which needs CAP_SYS_RESOURCE: ioasidd "
		    "lacks it, so every Acquire with them fails (iommufd-set-rlimit-mode: EPERM); "
		    "%s",
		    layouts, MANAGER_ACCOUNTING_FIX);
}

#define RELOAD_WARNING_PREFIX "Reload of "

/* Drops the warning of an earlier failed reload from m->warnings. */
static void reload_warning_clear(Manager *m) {
	size_t j = 0;
	for (size_t i = 0; m->warnings && m->warnings[i]; i++) {
		if (strneq(m->warnings[i], RELOAD_WARNING_PREFIX, strlen(RELOAD_WARNING_PREFIX)))
			free(m->warnings[i]);
		else
			m->warnings[j++] = m->warnings[i];
	}
	if (m->warnings)
		m->warnings[j] = NULL;
}

int manager_reload(Manager *m, const AuditActor *by, PolicyError *ret_error) {
	Policy *p = NULL;
	PolicyError e = { 0 };
	int r = manager_load_policy(m->config_path, m->generation + 1, &p, &e);
	/* A failed reload stays visible in Status (a warning) until a reload succeeds. */
	reload_warning_clear(m);
	if (r < 0) {
		/* Atomic: the old policy stays in force. */
		char *w = NULL;
		sd_notifyf(false, "STATUS=Reload failed, keeping generation %llu",
			   (unsigned long long)m->generation);
		log_full(LOG_ERR, 0,
			 "Reload of '%s' failed at %s:%u:%u: %s; keeping generation %llu",
			 m->config_path, e.file ? e.file : m->config_path, e.line, e.column,
			 e.message ? e.message : strerror(-r), (unsigned long long)m->generation);
		if (asprintf(&w,
			     RELOAD_WARNING_PREFIX
			     "'%s' failed at %s:%u:%u: %s; keeping generation %llu",
			     m->config_path, e.file ? e.file : m->config_path, e.line, e.column,
			     e.message ? e.message : strerror(-r),
			     (unsigned long long)m->generation) >= 0)
			(void)strv_push(&m->warnings, w);
		audit_log(&(AuditRecord){
			.action = "reload-failed",
			.message_id = IOASID_MESSAGE_RELOAD_FAILED,
			.method = by->method,
			.cause = by->cause,
			.reason = e.message ? e.message : strerror(-r),
			.uid = by->uid,
			.pid = by->pid,
			.unit = by->unit,
			.generation = m->generation,
		});
		if (ret_error)
			*ret_error = e;
		else
			policy_error_done(&e);
		return r;
	}
	policy_free(m->policy);
	m->policy = p;
	m->generation++;
	log_info("Policy '%s' reloaded, generation %llu", m->config_path,
		 (unsigned long long)m->generation);
	/* What READY=1 said at start, for the new generation (and over a failed reload's). */
	sd_notifyf(false, "STATUS=Serving, policy generation %llu",
		   (unsigned long long)m->generation);
	audit_log(&(AuditRecord){
		.action = "reload",
		.message_id = IOASID_MESSAGE_RELOAD,
		.method = by->method,
		.cause = by->cause,
		.reason = "policy reloaded",
		.uid = by->uid,
		.pid = by->pid,
		.unit = by->unit,
		.generation = m->generation,
	});
	manager_warn_process_accounting(m);
	/* Subscribers learn of the new generation before the revocations it causes. */
	if (m->hooks.policy_event)
		m->hooks.policy_event(m, m->generation);
	/* Leases and staged contexts the new policy no longer allows end here, audited. */
	size_t n = manager_reevaluate(m, by);
	if (n > 0)
		log_info("Policy generation %llu revoked or dropped %zu lease(s)/staged context(s)",
			 (unsigned long long)m->generation, n);
	sd_notifyf(false, "STATUS=Serving, policy generation %llu",
		   (unsigned long long)m->generation);
	return 0;
}

/* Revokes each active lease holding bdf, drops each staged context holding it, ends the
 * others (audited with cause "device-gone" and reason). */
static void device_gone(Manager *m, const char *bdf, const char *reason) {
	const AuditActor gone = { .cause = "device-gone" };
	Lease *next = NULL;
	for (Lease *l = m->leases.head; l; l = next) {
		next = l->next;
		bool has = false;
		for (size_t i = 0; !has && i < l->n_devices; i++)
			has = streq(l->devices[i].bdf, bdf);
		/* vhost-vdpa: its parent PCI function went away or changed driver. */
		has = has || (l->vdpa && streq(l->vdpa_parent, bdf));
		if (!has || lease_is_over(l))
			continue;
		bool staged = l->state == LEASE_STAGED;
		log_warning("Device %s while %s %s: %s", reason, staged ? "staged in" : "leased by",
			    l->id, staged ? "dropping it" : "revoking the lease");
		if (staged)
			manager_drop_staged(m, l, &gone, reason);
		else if (l->state == LEASE_ACTIVE)
			(void)manager_revoke_lease(m, l, false, l->revoke_signal, &gone, reason);
		else
			manager_end_lease_by(m, l, &gone, reason);
	}
}

void manager_device_gone(Manager *m, const char *bdf, const char *driver) {
	if (driver && strneq(driver, "vfio", 4))
		return;
	char reason[300];
	snprintf(reason, sizeof(reason), "%s %s%s", bdf, driver ? "rebound to " : "removed",
		 strempty(driver));
	device_gone(m, bdf, reason);
}

void manager_device_leaving_vfio(Manager *m, const char *bdf) {
	char reason[300];
	snprintf(reason, sizeof(reason), "%s leaving its VFIO driver (vfio-dev removed)", bdf);
	device_gone(m, bdf, reason);
}

void manager_stop_leases(Manager *m, const char *why) {
	const AuditActor stop = { .cause = "shutdown" };
	Lease *next = NULL;
	for (Lease *l = m->leases.head; l; l = next) {
		next = l->next;
		if (l->state == LEASE_ENDED)
			continue; /* recorded when it ended; only its files are still held */
		if (l->state == LEASE_STAGED)
			manager_drop_staged(m, l, &stop, why);
		else if (l->stored)
			/* In the fdstore (a connection-lifetime lease with its connection): the
			 * next instance restores it. `systemctl restart` keeps the store; a stop
			 * for good releases it, which closes the connection and every device fd. */
			continue;
		else
			manager_end_lease_by(m, l, &stop, why);
	}
}

/* ---- hand-over ---- */

/* The owner process exited: the lease ends even if its connection stays. */
static int lease_on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
	Lease *l = userdata;
	manager_end_lease_by(l->manager, l, &(AuditActor){ .cause = "process-exit" },
			     "owner process exited");
	return 0;
}

/* The soft and hard RLIMIT_MEMLOCK of pid as a struct rlimit, from /proc/PID/limits. */
static int proc_memlock(pid_t pid, struct rlimit *ret) {
	uint64_t soft, hard;
	int r = proc_read_memlock(pid, &soft, &hard);
	if (r < 0)
		return r;
	ret->rlim_cur = soft == UINT64_MAX ? RLIM_INFINITY : (rlim_t)soft;
	ret->rlim_max = hard == UINT64_MAX ? RLIM_INFINITY : (rlim_t)hard;
	return 0;
}

/* Raises the soft limit of pid to want (never lowering the hard limit); a failure is a
 * warning. old is the limit before. */
static void memlock_set(pid_t pid, uint64_t bytes, const struct rlimit *old, char ***warnings) {
	rlim_t want = bytes == UINT64_MAX ? RLIM_INFINITY : (rlim_t)bytes;
	struct rlimit rl = { .rlim_cur = want, .rlim_max = want };
	if (old->rlim_max == RLIM_INFINITY || (want != RLIM_INFINITY && old->rlim_max > want))
		rl.rlim_max = old->rlim_max; /* never lower the hard limit */
	if (old->rlim_cur != RLIM_INFINITY && (want == RLIM_INFINITY || old->rlim_cur < want) &&
	    caps_prlimit(pid, RLIMIT_MEMLOCK, &rl, NULL) < 0) {
		char buf[256];
		snprintf(buf, sizeof(buf), "RLIMIT_MEMLOCK of pid %d not raised: %s", (int)pid,
			 strerror(errno));
		(void)strv_extend(warnings, buf);
	}
}

/*
 * raise_memlock: raises the holder's RLIMIT_MEMLOCK to bytes (0 = leave it) with prlimit,
 * the pid checked through the peer's pidfd before and after (a pid reused in between would
 * make the read-back someone else's), then reads the limit back. Returns the soft limit the
 * holder ends up with (UINT64_MAX = unlimited), or -errno when it cannot be known (no pidfd,
 * the holder exited). Every shortfall is a warning: the grant's memlock above the result, or
 * a failed prlimit (without CAP_SYS_RESOURCE only up to the holder's hard limit works).
 */
static int64_t raise_memlock(const Peer *peer, uint64_t bytes, char ***warnings) {
	if (!peer->have_pidfd || peer->pid <= 0) {
		if (bytes > 0)
			(void)strv_extend(warnings, "RLIMIT_MEMLOCK not raised: peer pid unknown");
		return -ESRCH;
	}
	pid_t pid = peer->pid;
	struct rlimit old, now;
	/* Only a raise needs the limit before and the pid checked before it writes; a read
	 * alone is vouched for by the check after it (a live peer still owns its pid). */
	if (bytes > 0 &&
	    (!pidfd_alive(peer->pidfd) ||
	     (caps_prlimit(pid, RLIMIT_MEMLOCK, NULL, &old) < 0 && proc_memlock(pid, &old) < 0)))
		return -ESRCH;
	if (bytes > 0)
		memlock_set(pid, bytes, &old, warnings);
	/* Read back, and only trust the value while the pidfd says it is still the peer. */
	if ((caps_prlimit(pid, RLIMIT_MEMLOCK, NULL, &now) < 0 && proc_memlock(pid, &now) < 0) ||
	    !pidfd_alive(peer->pidfd))
		return -ESRCH;
	uint64_t got = now.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)now.rlim_cur;
	if (bytes > 0 && got < bytes) {
		char buf[256];
		snprintf(buf, sizeof(buf),
			 "RLIMIT_MEMLOCK of pid %d is %llu bytes, below the %llu the policy grants",
			 (int)pid, (unsigned long long)got, (unsigned long long)bytes);
		(void)strv_extend(warnings, buf);
	}
	return (int64_t)MIN(got, (uint64_t)INT64_MAX);
}

/* A failed hand-over: a fresh lease is freed (the rollback), a staged one stays staged. */
static int hand_over_undo(Manager *m, Lease *l, bool staged, int r) {
	if (!staged) {
		lease_free(l, m->kernel);
		return r;
	}
	l->pidfd_source = sd_event_source_disable_unref(l->pidfd_source);
	l->pidfd = safe_close(l->pidfd);
	l->connection = NULL;
	l->connection_id = 0;
	return r;
}

/* Into the table (a staged context is there already). */
static int hand_over_record(Manager *m, Lease *l, bool staged) {
	if (staged) {
		free(l->owner); /* already in the table */
		l->owner = NULL;
		return 0;
	}
	if (m->testing_bypass) {
		/* Test-only: no exclusivity bookkeeping, so the kernel's refusal shows. */
		l->next = m->leases.head;
		if (m->leases.head)
			m->leases.head->prev = l;
		m->leases.head = l;
		m->leases.n++;
		return 0;
	}
	return lease_table_add(&m->leases, l);
}

int manager_hand_over(Manager *m, Connection *c, uint64_t cid, const Peer *peer, const Plan *plan,
		      Lease *l, char ***warnings, int64_t *ret_memlock, Refusal *rf) {
	bool staged = l->state == LEASE_STAGED;
	int r;
	if (staged) {
		/* The staged context becomes the caller's: its identity replaces the admin's
		 * owner selector. */
		if (context_take_caller(l, peer, plan, m->generation) < 0)
			return refusal_system(rf, -ENOMEM, "lease", NULL);
		stage_disarm(l);
	} else {
		strv_free(l->at_risk);
		l->at_risk = strv_copy(plan->at_risk);
		if (plan->at_risk && !l->at_risk)
			return hand_over_undo(m, l, staged,
					      refusal_system(rf, -ENOMEM, "lease", NULL));
	}
	l->connection = c;
	l->connection_id = cid;
	if (peer->pidfd >= 0) {
		l->pidfd = fcntl(peer->pidfd, F_DUPFD_CLOEXEC, 3);
		if (l->pidfd < 0)
			return hand_over_undo(m, l, staged,
					      refusal_system(rf, -errno, "dup pidfd", NULL));
	}
	if (l->lifetime == POLICY_LIFETIME_PROCESS) {
		r = sd_event_add_io(m->event, &l->pidfd_source, l->pidfd, EPOLLIN, lease_on_pidfd,
				    l);
		if (r < 0)
			return hand_over_undo(m, l, staged,
					      refusal_system(rf, r, "watch pidfd", NULL));
	}
	r = hand_over_record(m, l, staged);
	if (r < 0)
		return hand_over_undo(m, l, staged, refusal_system(rf, r, "lease table", NULL));
	(void)lease_set_state(l, LEASE_PENDING); /* until the reply with its fds is sent */
	/* Keep the daemon's references across a restart (no-op outside systemd), vhost-vdpa
	 * leases too (their char device). Legacy leases are not kept: after a restart the
	 * kernel itself still refuses their groups to anyone else for as long as the holder
	 * keeps its group or device fds. */
	if (l->mode != LEASE_MODE_LEGACY)
		(void)state_store_lease(m, l);
	state_update_status(m);
	*ret_memlock = raise_memlock(peer, plan->memlock, warnings);
	/* Type1 (legacy) charges pinned pages to the mapping process anyway. */
	if (m->rlimit_mode_eperm && l->mode != LEASE_MODE_LEGACY &&
	    l->mode != LEASE_MODE_VHOST_VDPA &&
	    !(plan->layout_def && plan->layout_def->accounting == POLICY_ACCOUNTING_PROCESS))
		(void)strv_extend(warnings, "pinned memory is charged per user: the daemon lacks "
					    "CAP_SYS_RESOURCE");
	return 0;
}

/* ---- staged contexts ---- */

static int stage_on_expire(sd_event_source *s, uint64_t usec, void *userdata) {
	Lease *l = userdata;
	Manager *m = l->manager;
	char reason[128];
	snprintf(reason, sizeof(reason), "staged context expired: not acquired within %llu s",
		 (unsigned long long)l->stage_timeout);
	log_info("Staged context %s for %s expired, its group(s) are free again", l->id,
		 strempty(l->owner));
	audit_log(&(AuditRecord){
		.action = "drop-staged",
		.message_id = IOASID_MESSAGE_RELEASE,
		.method = "io.ioasid.Manager.Stage",
		.device = l->n_devices > 0 ? l->devices[0].bdf : NULL,
		.reason = reason,
		.lease = l->id,
		.uid = l->uid,
		.unit = l->unit,
		.generation = m->generation,
	});
	manager_end_lease(m, l, reason);
	return 0;
}

static int stage_arm_expiry(Manager *m, Lease *l, uint64_t seconds) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	l->stage_timeout = seconds;
	l->expires = (uint64_t)ts.tv_sec + seconds;
	return sd_event_add_time_relative(m->event, &l->expire_source, CLOCK_MONOTONIC,
					  seconds * 1000000ULL, 0, stage_on_expire, l);
}

int manager_stage_add(Manager *m, Lease *l, const Peer *admin, const char *owner, uid_t uid,
		      char *unit, Plan *plan, uint64_t timeout, Refusal *rf) {
	(void)lease_set_state(l, LEASE_STAGED);
	l->share_reset = plan->share_reset;
	l->split_sriov = plan->split_sriov;
	l->uid = uid;
	l->pid = 0;
	/* The admin's identity is not the owner's: re-evaluation resolves the owner. */
	l->peer_known = false;
	free(l->unit);
	l->unit = unit;
	l->owner = strdup(owner);
	l->at_risk = TAKE_PTR(plan->at_risk);
	if (timeout == 0) {
		const PolicySettings *ps = m->policy ? policy_settings(m->policy) : NULL;
		timeout = ps && ps->stage_timeout_sec ? ps->stage_timeout_sec
						      : IOASID_STAGE_TIMEOUT_SEC;
	}
	int r = lease_table_add(&m->leases, l);
	if (r >= 0 && !l->owner)
		r = -ENOMEM;
	if (r >= 0)
		r = stage_arm_expiry(m, l, timeout);
	if (r < 0) {
		lease_table_remove(&m->leases, l);
		lease_free(l, m->kernel);
		return refusal_system(rf, r, "stage", NULL);
	}
	char devs[IOASID_MAX_DEVICES_PER_REQUEST * 20];
	audit_log(&(AuditRecord){
		.action = "stage",
		.message_id = IOASID_MESSAGE_ALLOW,
		.method = "io.ioasid.Manager.Stage",
		.cause = "request",
		.device = lease_devices_text(l, devs, sizeof(devs)),
		.reason = owner,
		.lease = l->id,
		.uid = admin->uid,
		.pid = admin->pid,
		.unit = admin->unit,
		.generation = m->generation,
	});
	return 0;
}

/* ---- restart ---- */

int manager_restore(Manager *m, int *fds, char **names, size_t n, StoredConnection **ret_conns,
		    size_t *ret_n_conns) {
	int k = state_restore(m, fds, names, n, ret_conns, ret_n_conns);
	Lease *next = NULL;
	for (Lease *l = m->leases.head; l; l = next) {
		next = l->next;
		if (l->lifetime != POLICY_LIFETIME_PROCESS || l->pidfd < 0 || l->pidfd_source)
			continue;
		int r = sd_event_add_io(m->event, &l->pidfd_source, l->pidfd, EPOLLIN,
					lease_on_pidfd, l);
		if (r < 0) {
			log_warning("Stored lease %s of uid %u dropped: cannot watch its owner",
				    l->id, (unsigned)l->uid);
			manager_end_lease(m, l, "cannot watch its owner");
			k--;
		}
	}
	return k;
}
