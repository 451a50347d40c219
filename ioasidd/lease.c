/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Leases and the lease table: ids, devices and groups, group exclusivity, the kernel side of
 * a revocation, the Acquire's audit record. Layer: below manager, broker, context, hold and
 * state; calls only log.c and common/ (the kernel seam, to close and detach).
 */
#include <sys/random.h>
#include <time.h>

#include "common/macro.h"
#include "common/proto.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/log.h"

static const char *const lease_mode_names[] = {
	[LEASE_MODE_ATTACHED] = "attached",
	[LEASE_MODE_UNBOUND] = "unbound",
	[LEASE_MODE_LEGACY] = "legacy",
	[LEASE_MODE_VHOST_VDPA] = "vhost-vdpa",
};

const char *lease_lifetime_to_string(PolicyLifetime l) {
	return strna(policy_lifetime_to_string(l));
}

const char *lease_mode_to_string(LeaseMode m) {
	return (size_t)m < ELEMENTSOF(lease_mode_names) ? lease_mode_names[m] : "n/a";
}

int lease_mode_from_string(const char *s, LeaseMode *ret) {
	int m = lease_mode_parse(s);
	if (m < 0)
		return m;
	*ret = (LeaseMode)m;
	return 0;
}

/* Legacy is what the daemon makes of an attached request on a legacy kernel: never asked. */
int lease_mode_parse(const char *s) {
	for (size_t i = 0; s && i < ELEMENTSOF(lease_mode_names); i++)
		if (i != LEASE_MODE_LEGACY && streq(lease_mode_names[i], s))
			return (int)i;
	return -EINVAL;
}

int lease_lifetime_parse(const char *s) {
	return policy_lifetime_from_string(s);
}

const char *lease_framework(const Lease *l) {
	return l->mode == LEASE_MODE_VHOST_VDPA ? "vhost-vdpa" : "vfio";
}

const char *lease_devices_text(const Lease *l, char *buf, size_t size) {
	size_t j = 0;
	buf[0] = '\0';
	if (l->vdpa) { /* vhost-vdpa: the vDPA device, and its parent when it has one */
		snprintf(buf, size, "%s%s%s", l->vdpa, l->vdpa_parent[0] ? "@" : "",
			 l->vdpa_parent);
		return buf;
	}
	for (size_t i = 0; i < l->n_devices && j < size; i++)
		j += (size_t)snprintf(buf + j, size - j, "%s%s", i ? "," : "", l->devices[i].bdf);
	return buf;
}

void lease_audit_acquire(const Lease *l, bool delivered, const char *cause, const char *why) {
	char devs[IOASID_MAX_DEVICES_PER_REQUEST * 20], reason[512];
	if (delivered)
		snprintf(reason, sizeof(reason), "allowed by rule at %s; fds delivered",
			 strna(l->rule));
	else
		snprintf(reason, sizeof(reason), "reply with the fds not delivered: %s", why);
	audit_log(&(AuditRecord){
		.action = delivered ? "allow" : "deny",
		.message_id = delivered ? IOASID_MESSAGE_ALLOW : IOASID_MESSAGE_DENY,
		.method = "io.ioasid.Broker.Acquire",
		.cause = cause,
		.device = lease_devices_text(l, devs, sizeof(devs)),
		.rule = l->rule,
		.reason = reason,
		.lease = delivered ? l->id : NULL,
		.uid = l->uid,
		.pid = l->pid,
		.unit = l->unit,
		.generation = l->generation,
	});
}

static const char *const lease_state_table[_LEASE_STATE_MAX] = {
	[LEASE_NEW] = "new",       [LEASE_STAGED] = "staged",   [LEASE_PENDING] = "pending",
	[LEASE_ACTIVE] = "active", [LEASE_REVOKED] = "revoked", [LEASE_ENDED] = "ended",
};

const char *lease_state_to_string(LeaseState s) {
	return (unsigned)s < _LEASE_STATE_MAX ? lease_state_table[s] : NULL;
}

/* The steps of the lifecycle drawn above LeaseState in ioasidd.h: [from] is the set of states
 * reachable from it in one step. */
static const unsigned lease_state_next[_LEASE_STATE_MAX] = {
	[LEASE_NEW] = 1u << LEASE_STAGED | 1u << LEASE_PENDING | 1u << LEASE_ACTIVE,
	[LEASE_STAGED] = 1u << LEASE_PENDING,
	[LEASE_PENDING] = 1u << LEASE_ACTIVE,
	[LEASE_ACTIVE] = 1u << LEASE_REVOKED | 1u << LEASE_ENDED,
	[LEASE_REVOKED] = 1u << LEASE_ENDED,
	[LEASE_ENDED] = 0,
};

int lease_set_state(Lease *l, LeaseState new_state) {
	LeaseState old = l->state;
	if ((unsigned)old >= _LEASE_STATE_MAX || (unsigned)new_state >= _LEASE_STATE_MAX ||
	    !(lease_state_next[old] & (1u << new_state))) {
		log_warning("Lease %s: refused the state change %s -> %s (a bug)", l->id,
			    strna(lease_state_to_string(old)),
			    strna(lease_state_to_string(new_state)));
		return -EINVAL;
	}
	l->state = new_state;
	if (new_state == LEASE_REVOKED)
		l->was_revoked = true;
	return 0;
}

int lease_new(Lease **ret) {
	uint8_t raw[16];
	size_t got = 0;
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		got += (size_t)n;
	}
	Lease *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	/* Hex by hand: 16 snprintf() calls were a visible part of an acquire. */
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < sizeof(raw); i++) {
		l->id[2 * i] = hex[raw[i] >> 4];
		l->id[2 * i + 1] = hex[raw[i] & 0xf];
	}
	l->id[2 * sizeof(raw)] = '\0';
	l->uid = (uid_t)-1;
	l->iommufd = -EBADF;
	l->container = -EBADF;
	l->vdpa_fd = -EBADF;
	l->pidfd = -EBADF;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	l->created = (uint64_t)ts.tv_sec;
	*ret = l;
	return 0;
}

/* In the order the kernel needs: devices first (the last close of a device fd unbinds it
 * from the iommufd context), then the iommufd; legacy groups before their container
 * (closing a group unsets its container). */
void lease_close_kernel_fds(Lease *l, Kernel *k) {
	for (size_t i = l->n_devices; i > 0; i--)
		(void)kernel_closep(k, &l->devices[i - 1].fd);
	(void)kernel_closep(k, &l->iommufd);
	for (size_t i = l->n_legacy_groups; i > 0; i--)
		(void)kernel_closep(k, &l->legacy_groups[i - 1].fd);
	(void)kernel_closep(k, &l->container);
	(void)kernel_closep(k, &l->vdpa_fd);
}

Lease *lease_free(Lease *l, Kernel *k) {
	if (!l)
		return NULL;
	sd_event_source_disable_unref(l->pidfd_source);
	sd_event_source_disable_unref(l->expire_source);
	safe_close(l->pidfd);
	lease_close_kernel_fds(l, k);
	free(l->legacy_groups);
	free(l->devices);
	free(l->groups);
	free(l->vdpa);
	strv_free(l->at_risk);
	free(l->unit);
	free(l->owner);
	free(l->peer_groups);
	free(l->cgroup);
	free(l->user_unit);
	free(l->label);
	free(l->layout);
	free(l->rule);
	free(l);
	return NULL;
}

int lease_add_device(Lease *l, const char *bdf, int group, int fd) {
	LeaseDevice *d = realloc(l->devices, (l->n_devices + 1) * sizeof(LeaseDevice));
	if (!d)
		return -ENOMEM;
	l->devices = d;
	LeaseDevice *nd = &l->devices[l->n_devices];
	*nd = (LeaseDevice){ .group = group, .fd = fd };
	snprintf(nd->bdf, sizeof(nd->bdf), "%s", bdf);
	l->n_devices++;

	size_t pos = 0;
	while (pos < l->n_groups && l->groups[pos] < group)
		pos++;
	if (pos < l->n_groups && l->groups[pos] == group)
		return 0;
	int *g = realloc(l->groups, (l->n_groups + 1) * sizeof(int));
	if (!g)
		return -ENOMEM; /* the device stays recorded: lease_free closes its fd */
	l->groups = g;
	memmove(g + pos + 1, g + pos, (l->n_groups - pos) * sizeof(int));
	g[pos] = group;
	l->n_groups++;
	return 0;
}

int lease_block_dma(Lease *l, Kernel *k, bool reset) {
	int ret = 0;
	/* vhost-vdpa has no detach: a virtio reset (status 0) through the daemon's copy of the
	 * file stops the device, whatever reset asks. Its IOTLB stays (kernel.h). */
	if (l->mode == LEASE_MODE_VHOST_VDPA)
		return l->vdpa_fd >= 0 ? kernel_vhost_vdpa_set_status(k, l->vdpa_fd, 0) : -EBADF;
	for (size_t i = 0; i < l->n_devices; i++) {
		LeaseDevice *d = &l->devices[i];
		if (d->fd < 0)
			continue;
		/* EINVAL: never bound (unbound mode, the holder did not bind this file): there is
		 * no attachment to remove. */
		/* Legacy VFIO has no detach: the container keeps translating for the holder. */
		int r = l->mode == LEASE_MODE_LEGACY ? 0 : kernel_device_detach(k, d->fd);
		if (r < 0 && !(r == -EINVAL && l->mode == LEASE_MODE_UNBOUND) && ret == 0)
			ret = r;
		if (reset) {
			r = kernel_device_reset(k, d->fd);
			if (r < 0 && !(r == -EINVAL && l->mode == LEASE_MODE_UNBOUND) && ret == 0)
				ret = r;
		}
	}
	return ret;
}

int lease_revoke_kernel(Lease *l, Kernel *k, bool reset) {
	int ret = lease_block_dma(l, k, reset);
	lease_close_kernel_fds(l, k);
	(void)lease_set_state(l, LEASE_REVOKED);
	return ret;
}

int lease_set_peer(Lease *l, const Peer *p) {
	gid_t *g = NULL;
	char *cg = NULL, *label = NULL, *uu = NULL;
	if (p->n_groups > 0 && (g = malloc(p->n_groups * sizeof(gid_t))))
		memcpy(g, p->groups, p->n_groups * sizeof(gid_t));
	if ((p->n_groups > 0 && !g) || (p->cgroup && !(cg = strdup(p->cgroup))) ||
	    (p->label && !(label = strdup(p->label))) ||
	    (p->user_unit && !(uu = strdup(p->user_unit)))) {
		free(g);
		free(cg);
		free(label);
		free(uu);
		return -ENOMEM;
	}
	free(l->peer_groups);
	free(l->cgroup);
	free(l->label);
	free(l->user_unit);
	l->peer_groups = g;
	l->n_peer_groups = p->n_groups;
	l->cgroup = cg;
	l->label = label;
	l->user_unit = uu;
	l->gid = p->gid;
	l->have_pidfd = p->have_pidfd;
	l->peer_known = true;
	return 0;
}

int lease_set_vdpa(Lease *l, const char *name, const char *parent, int group, int fd) {
	char *n = strdup(name);
	int *g = group >= 0 ? malloc(sizeof(int)) : NULL;
	if (!n || (group >= 0 && !g)) {
		free(n);
		free(g);
		return -ENOMEM;
	}
	free(l->vdpa);
	l->vdpa = n;
	snprintf(l->vdpa_parent, sizeof(l->vdpa_parent), "%s", strempty(parent));
	free(l->groups);
	l->groups = g;
	l->n_groups = 0;
	if (g)
		g[l->n_groups++] = group;
	l->vdpa_fd = fd;
	return 0;
}

Lease *lease_table_vdpa_owner(const LeaseTable *t, const char *name) {
	for (Lease *l = t->head; l; l = l->next)
		if (l->vdpa && !lease_is_over(l) && streq(l->vdpa, name))
			return l;
	return NULL;
}

int lease_add_legacy_group(Lease *l, int group, int fd) {
	LeaseGroup *g = realloc(l->legacy_groups, (l->n_legacy_groups + 1) * sizeof(LeaseGroup));
	if (!g)
		return -ENOMEM;
	l->legacy_groups = g;
	g[l->n_legacy_groups++] = (LeaseGroup){ .group = group, .fd = fd };
	return 0;
}

LeaseGroup *lease_legacy_group(Lease *l, int group) {
	for (size_t i = 0; i < l->n_legacy_groups; i++)
		if (l->legacy_groups[i].group == group)
			return &l->legacy_groups[i];
	return NULL;
}

/* A revoked or ended lease holds a device only while the kernel shows its file held. */
static bool lease_device_held(const Lease *l, const LeaseDevice *d) {
	return !lease_is_over(l) || d->held;
}

static bool lease_has_group(const Lease *l, int group) {
	if (lease_is_over(l)) {
		for (size_t i = 0; i < l->n_devices; i++)
			if (l->devices[i].group == group && l->devices[i].held)
				return true;
		return false;
	}
	for (size_t i = 0; i < l->n_groups; i++)
		if (l->groups[i] == group)
			return true;
	return false;
}

Lease *lease_table_group_owner(const LeaseTable *t, int group) {
	for (Lease *l = t->head; l; l = l->next)
		if (lease_has_group(l, group))
			return l;
	return NULL;
}

Lease *lease_table_device_owner(const LeaseTable *t, const char *bdf) {
	for (Lease *l = t->head; l; l = l->next)
		for (size_t i = 0; i < l->n_devices; i++)
			if (lease_device_held(l, &l->devices[i]) && streq(l->devices[i].bdf, bdf))
				return l;
	return NULL;
}

Lease *lease_table_find(const LeaseTable *t, const char *id) {
	for (Lease *l = t->head; l; l = l->next)
		if (streq(l->id, id))
			return l;
	return NULL;
}

size_t lease_table_count_uid(const LeaseTable *t, uid_t uid) {
	size_t n = 0;
	for (Lease *l = t->head; l; l = l->next)
		if (l->uid == uid && l->state != LEASE_STAGED && l->state != LEASE_REVOKED &&
		    !(l->state == LEASE_ENDED && l->was_revoked))
			n++;
	return n;
}

int lease_table_add(LeaseTable *t, Lease *l) {
	if (t->n >= IOASID_MAX_LEASES)
		return -E2BIG;
	for (size_t i = 0; i < l->n_groups; i++) {
		Lease *o = lease_table_group_owner(t, l->groups[i]);
		if (o && o != l)
			return -EBUSY;
	}
	l->prev = NULL;
	l->next = t->head;
	if (t->head)
		t->head->prev = l;
	t->head = l;
	t->n++;
	return 0;
}

void lease_table_remove(LeaseTable *t, Lease *l) {
	if (l->prev)
		l->prev->next = l->next;
	else if (t->head == l)
		t->head = l->next;
	else
		return; /* not linked */
	if (l->next)
		l->next->prev = l->prev;
	l->next = l->prev = NULL;
	t->n--;
}

void lease_table_clear(LeaseTable *t) {
	while (t->head) {
		Lease *l = t->head;
		lease_table_remove(t, l);
		lease_free(l, t->kernel);
	}
}
