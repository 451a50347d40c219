/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Groups held by leases that ended (or were revoked) while their fds live on.
 *
 * An fd once sent cannot be taken back. When a lease ends (released, its connection or its
 * owner process gone) or is revoked, the daemon closes its own references, but a process
 * that received the fds (the holder, or one it passed them to: a VMM forked by a wrapper
 * that died) may still hold them. On the kernel a bound device file keeps its group's DMA
 * ownership until its last copy is closed, and the next tenant's BIND then fails with an
 * errno that names nobody. So the daemon counts a group as free only when the kernel
 * agrees: once it let go of a lease that had been delivered, each device counts as held
 * (fail closed) until it is probed through the kernel seam, with the seam's own calls:
 *   - iommufd: a fresh iommufd, a fresh open of the device and BIND. EINVAL (another file of
 *     the device is bound), EPERM (the group's DMA is owned by another context) and EBUSY
 *     (the group's legacy node is open) mean the device is still held; success means it is
 *     not (the probe's files are closed at once, which unbinds them again);
 *   - legacy: a fresh container and an open of the group node: EBUSY means still held.
 * A device still held keeps its group from every other owner: its lease stays in the table
 * (state "ended", or "revoked") as "held by ended lease L (uid U, pid P)" in ListLeases,
 * Status, ListGroups, ListDevices and Acquire's GroupOwned. The first probe is not made when
 * the daemon lets go (Release, the end of the connection or of the process, Revoke): a holder
 * that releases before it closes its fds (ioasidctl acquire does, so does any client that
 * releases and exits) would only be found still holding them. It is made when the answer
 * matters: before an Acquire is refused for the group (hold_recheck; an attached Acquire's
 * own BIND is that probe, see hold_leave_to_bind()) or because of such a
 * lease (a pool's group passed over, a dependent, max-leases, the table's size:
 * hold_settle), at the start of Stage, ListLeases, Status, ListGroups and ListDevices
 * (hold_settle), and by the recheck timer. The probe is then repeated every
 * HOLD_RECHECK_SEC while anything is held, on udev events, and before an Acquire is
 * refused for the group; an ended lease whose devices are all released is forgotten. (The
 * sim's events_fd only makes the sim take in released files at once; it does not trigger
 * probes, so the paths above are the ones tested.)
 *
 * What the probe cannot see is an *unbound* device file still held (unbound mode, the
 * holder never bound it): neither can the kernel, which refuses that file's BIND later if
 * another owner has the group by then. A probe that finds a free device opens it for the
 * length of a BIND; vfio-pci resets a device at its first open and last close, so on real
 * hardware a probe of a released device costs two function resets on the event loop. A
 * probe that finds the device still held costs none (the holder's open keeps the device
 * open): those are the probes the deferred first probe saves, while a lease whose files are
 * closed is probed once either way.
 */
/* Layer: below manager and broker; calls lease.c, state.c (STATUS=) and the kernel seam. */
#include <sys/epoll.h>
#include <time.h>

#include "common/macro.h"
#include "common/viability.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/log.h"

#define HOLD_RECHECK_SEC 2
#define USEC_PER_SEC 1000000ULL

typedef enum HoldProbe {
	HOLD_RELEASED, /* the kernel shows no file of it in use (or the device is gone) */
	HOLD_HELD,     /* another file of the device is bound / its group owned elsewhere */
} HoldProbe;

/* EPERM from BIND is also the answer for a group with a host-driver member and for a host
 * without interrupt remapping: neither is an owner (VFIO cannot own such a group), so the
 * probe says released there. */
static bool eperm_is_host_fact(const Manager *m, const Device *d) {
	if (m->host->kernel.interrupt_remapping == TRI_NO)
		return true;
	Viability v = { 0 };
	if (viability_device(m->host, d, &v) < 0)
		return false;
	bool viable = v.verdict == VERDICT_VIABLE;
	viability_done(&v);
	return !viable;
}

/* One device of an iommufd-mode lease. */
static int probe_iommufd(Manager *m, const char *bdf, HoldProbe *ret) {
	Kernel *k = m->kernel;
	const Device *d = host_find_device(m->host, bdf);
	if (!d || !d->vfio_name) {
		/* Gone, or no longer on a VFIO driver (vfio-pci's unbind waits for the last
		 * close): nobody can be granted it, and nobody holds it. */
		*ret = HOLD_RELEASED;
		return 0;
	}
	int iommufd = -EBADF, devfd = -EBADF;
	uint32_t id;
	int r = kernel_iommufd_open(k, &iommufd);
	if (r < 0)
		return r;
	r = kernel_device_open(k, d, &devfd);
	if (r >= 0)
		r = kernel_device_bind(k, devfd, iommufd, &id);
	else if (r == -ENODEV || r == -ESTALE) {
		kernel_close(k, iommufd);
		*ret = HOLD_RELEASED;
		return 0;
	}
	/* The device first: its last close unbinds it from the context. */
	if (devfd >= 0)
		kernel_close(k, devfd);
	kernel_close(k, iommufd);
	if (r >= 0 || r == -ENODEV || (r == -EPERM && eperm_is_host_fact(m, d))) {
		*ret = HOLD_RELEASED;
		return 0;
	}
	/* EACCES: a VF whose PF is on vfio-pci, and the kernel (6.17+) checks the VF token
	 * before DMA ownership, so the probe, which has no token, learns nothing. Counting it
	 * held would keep the VF from everyone for good; counted released, the kernel still
	 * refuses a second owner at its BIND (without naming the holder). */
	if (r == -EACCES && d->physfn) {
		log_debug("Probing %s: EACCES (VF token): the probe cannot tell; counted released",
			  d->bdf);
		*ret = HOLD_RELEASED;
		return 0;
	}
	if (r == -EINVAL || r == -EPERM || r == -EBUSY) {
		*ret = HOLD_HELD;
		return 0;
	}
	return r;
}

/* One group of a legacy lease. */
static int probe_legacy(Manager *m, int group, HoldProbe *ret) {
	Kernel *k = m->kernel;
	int container = -EBADF, gfd = -EBADF;
	int r = kernel_legacy_container_open(k, &container);
	if (r < 0)
		return r;
	r = kernel_legacy_group_open(k, group, container, &gfd);
	if (gfd >= 0)
		kernel_close(k, gfd);
	kernel_close(k, container);
	/* EPERM: not viable (a host driver in the group), so VFIO owns none of it. */
	if (r >= 0 || r == -ENODEV || r == -EPERM) {
		*ret = HOLD_RELEASED;
		return 0;
	}
	if (r == -EBUSY) {
		*ret = HOLD_HELD;
		return 0;
	}
	return r;
}

/*
 * Probes the devices of l still marked held (all of them after the daemon let go of l) and
 * sets LeaseDevice.held. A probe that cannot tell (-ENOMEM, -EMFILE, ...) keeps the device
 * held: fail closed. Returns how many devices are held.
 */
static size_t hold_probe(Manager *m, Lease *l) {
	size_t n = 0;
	for (size_t i = 0; i < l->n_devices; i++) {
		LeaseDevice *d = &l->devices[i];
		if (!d->held)
			continue;
		HoldProbe p = HOLD_HELD;
		int r = 0;
		/* Legacy: one probe per group; its devices share the answer. */
		bool done = false;
		for (size_t j = 0; l->mode == LEASE_MODE_LEGACY && j < i && !done; j++)
			if (l->devices[j].group == d->group) {
				p = l->devices[j].held ? HOLD_HELD : HOLD_RELEASED;
				done = true;
			}
		if (!done)
			r = l->mode == LEASE_MODE_LEGACY ? probe_legacy(m, d->group, &p)
							 : probe_iommufd(m, d->bdf, &p);
		if (r < 0)
			log_debug("Lease %s: probing %s failed (%s): counted as held", l->id,
				  d->bdf, strerror(-r));
		d->held = r < 0 || p == HOLD_HELD;
		n += d->held;
	}
	l->probe_due = false;
	/* The probe's own files are closed: take that in now, so that the backend's events fd
	 * (the sim's) does not wake us for our own closes. */
	(void)kernel_sync(m->kernel);
	return n;
}

static bool lease_holds_files(const Lease *l) {
	for (size_t i = 0; i < l->n_devices; i++)
		if (l->devices[i].held)
			return true;
	return false;
}

static bool hold_any(const Manager *m) {
	for (const Lease *l = m->leases.head; l; l = l->next)
		if (lease_is_over(l) && lease_holds_files(l))
			return true;
	return false;
}

static int on_hold_timer(sd_event_source *s, uint64_t usec, void *userdata);

/* Keeps the recheck timer running while anything is held. */
static void hold_arm(Manager *m) {
	if (!m->event || m->hold_stopped)
		return; /* not running, or shutting down: leases ended then get no timer */
	if (!hold_any(m)) {
		if (m->hold_timer)
			sd_event_source_set_enabled(m->hold_timer, SD_EVENT_OFF);
		return;
	}
	int on = SD_EVENT_OFF;
	if (m->hold_timer && sd_event_source_get_enabled(m->hold_timer, &on) >= 0 &&
	    on != SD_EVENT_OFF)
		return;
	uint64_t usec = HOLD_RECHECK_SEC * USEC_PER_SEC;
	int r = m->hold_timer
			? sd_event_source_set_time_relative(m->hold_timer, usec)
			: sd_event_add_time_relative(m->event, &m->hold_timer, CLOCK_MONOTONIC,
						     usec, USEC_PER_SEC / 10, on_hold_timer, m);
	if (r >= 0)
		r = sd_event_source_set_enabled(m->hold_timer, SD_EVENT_ONESHOT);
	if (r < 0)
		log_warning_errno(r, "Cannot arm the timer that re-checks held groups: %m");
}

static uint64_t now_sec(void) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

static bool lease_bind_pending(const Lease *l) {
	for (size_t i = 0; i < l->n_devices; i++)
		if (l->devices[i].by_bind)
			return true;
	return false;
}

/* l holds nothing any more: an ended lease is forgotten (true), a revoked one stays. */
static bool hold_release(Manager *m, Lease *l) {
	if (l->state == LEASE_ENDED) {
		if (l->hold_announced)
			log_info("Lease %s of uid %u: its device files are closed, its groups free",
				 l->id, (unsigned)l->uid);
		else
			log_debug("Lease %s: its device files are closed", l->id);
		lease_table_remove(&m->leases, l);
		lease_free(l, m->kernel);
		return true;
	}
	return false;
}

/* Re-probes l (ended or revoked, with devices held; after the daemon let go of it, all of
 * them). Returns true when l was an ended lease that is now released and has been freed. */
static bool hold_recheck_lease(Manager *m, Lease *l) {
	bool first = l->probe_due;
	size_t n = hold_probe(m, l);
	if (n > 0) {
		if (first)
			log_debug("Lease %s %s with device files still open elsewhere", l->id,
				  lease_state_to_string(l->state));
		if (l->state == LEASE_ENDED && !l->hold_announced &&
		    now_sec() >= l->ended_at + HOLD_RECHECK_SEC) {
			/* Not at once: a holder that released before closing its fds (ioasidctl
			 * acquire does) is not worth a line. */
			log_info("Lease %s of uid %u (pid %d) ended %llus ago but %zu of its "
				 "device file(s) are still open elsewhere: their groups stay held "
				 "until they are closed",
				 l->id, (unsigned)l->uid, (int)l->pid,
				 (unsigned long long)(now_sec() - l->ended_at), n);
			l->hold_announced = true;
		}
		return false;
	}
	if (lease_bind_pending(l))
		return false; /* its other devices wait for the Acquire's BIND */
	return hold_release(m, l);
}

/*
 * The probe folded into an Acquire's BIND. An attached Acquire opens a fresh iommufd and the
 * device and BINDs it, which is what the probe does: its BIND answers as the probe's would
 * (EINVAL, EPERM, EBUSY while another file holds the device or its group; success when
 * nothing does). So while it decides (m->hold_by_bind), a group held by an iommufd-mode
 * lease the daemon let go of is not probed first: its devices are left to the BIND
 * (LeaseDevice.by_bind) and count as free. hold_bind_done() then takes the answer: bound,
 * the lease has let go of them; not bound (whatever the reason), they count as held again
 * and the Acquire is decided again the usual way, probe first, so that a refusal is the
 * same as without this (GroupOwned naming the lease). On the kernel a probe of a released
 * device costs two function resets; this way the Acquire's own open is the only one.
 */
static void hold_leave_to_bind(Manager *m, int group) {
	for (Lease *l = m->leases.head; l; l = l->next) {
		if (!lease_is_over(l) || l->mode == LEASE_MODE_LEGACY)
			continue;
		for (size_t i = 0; i < l->n_devices; i++) {
			LeaseDevice *d = &l->devices[i];
			if (d->held && d->group == group) {
				d->held = false;
				d->by_bind = true;
			}
		}
	}
}

bool hold_bind_pending(const Manager *m) {
	for (const Lease *l = m->leases.head; l; l = l->next)
		if (lease_bind_pending(l))
			return true;
	return false;
}

void hold_bind_done(Manager *m, bool bound) {
	Lease *next = NULL;
	bool any = false;
	for (Lease *l = m->leases.head; l; l = next) {
		next = l->next;
		if (!lease_bind_pending(l))
			continue;
		any = true;
		for (size_t i = 0; i < l->n_devices; i++)
			if (l->devices[i].by_bind) {
				l->devices[i].by_bind = false;
				l->devices[i].held = !bound;
			}
		if (!bound)
			l->probe_due = true; /* not answered: held until probed, as before */
		else if (!lease_holds_files(l)) {
			l->probe_due = false;
			(void)hold_release(m, l);
		}
	}
	if (any) {
		hold_arm(m);
		state_update_status(m);
	}
}

void hold_recheck(Manager *m, int group) {
	/* What is left to the BIND is no longer held here; the rest (legacy leases) is probed. */
	if (m->hold_by_bind && group >= 0)
		hold_leave_to_bind(m, group);
	Lease *next = NULL;
	for (Lease *l = m->leases.head; l; l = next) {
		next = l->next;
		if (!lease_is_over(l) || !lease_holds_files(l))
			continue;
		bool has = group < 0;
		for (size_t i = 0; !has && i < l->n_devices; i++)
			has = l->devices[i].held && l->devices[i].group == group;
		if (has)
			(void)hold_recheck_lease(m, l);
	}
	hold_arm(m);
	state_update_status(m);
}

static int on_hold_timer(sd_event_source *s, uint64_t usec, void *userdata) {
	hold_recheck(userdata, -1);
	return 0;
}

/* The backend saw a file go (sim): sync takes it in, so the backend's own references to
 * released files go at once. What is held is not asked again here: the daemon learns that the
 * way it does on the real kernel (the timer, udev, the probe before a refusal), so the sim
 * exercises those paths. */
static int on_kernel_events(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
	Manager *m = userdata;
	(void)kernel_sync(m->kernel);
	return 0;
}

bool hold_settle(Manager *m) {
	bool probed = false;
	Lease *next = NULL;
	for (Lease *l = m->leases.head; l; l = next) {
		next = l->next;
		if (!l->probe_due)
			continue;
		probed = true;
		(void)hold_recheck_lease(m, l);
	}
	if (probed) {
		hold_arm(m);
		state_update_status(m);
	}
	return probed;
}

bool hold_after_close(Manager *m, Lease *l) {
	if (!lease_delivered(l))
		return false; /* the fds never left the daemon */
	lease_close_kernel_fds(l, m->kernel);
	/* Held until probed (hold_settle): fail closed. */
	for (size_t i = 0; i < l->n_devices; i++)
		l->devices[i].held = true;
	l->probe_due = true;
	hold_arm(m); /* a revoked lease counts as such already */
	return true;
}

bool hold_lease_ended(Manager *m, Lease *l) {
	if (!hold_after_close(m, l))
		return false;
	/* Over: nothing of the holder's connection or process matters any more. */
	l->pidfd_source = sd_event_source_disable_unref(l->pidfd_source);
	l->pidfd = safe_close(l->pidfd);
	l->connection = NULL;
	(void)lease_set_state(l, LEASE_ENDED);
	l->ended_at = now_sec();
	/* Again, now that l counts as ended: the timer makes the first probe if nothing that
	 * needs the answer comes first. */
	hold_arm(m);
	return true;
}

int hold_describe(const Lease *l, bool identify, char *buf, size_t size) {
	if (!lease_is_over(l) || !lease_holds_files(l))
		return 0;
	const char *what = l->state == LEASE_ENDED ? "ended" : "revoked";
	if (identify)
		snprintf(buf, size, "held by %s lease %s (uid %u, pid %d)", what, l->id,
			 (unsigned)l->uid, (int)l->pid);
	else
		snprintf(buf, size, "held by %s %s lease of another user",
			 l->state == LEASE_ENDED ? "an" : "a", what);
	return 1;
}

int hold_start(Manager *m) {
	int fd = kernel_events_fd(m->kernel);
	if (fd < 0)
		return fd == -EOPNOTSUPP ? 0 : fd;
	return sd_event_add_io(m->event, &m->kernel_events, fd, EPOLLIN, on_kernel_events, m);
}

void hold_stop(Manager *m) {
	m->kernel_events = sd_event_source_disable_unref(m->kernel_events);
	m->hold_timer = sd_event_source_disable_unref(m->hold_timer);
	m->hold_stopped = true;
}
