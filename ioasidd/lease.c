/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <sys/random.h>
#include <time.h>

#include "common/macro.h"
#include "common/proto.h"
#include "ioasidd/ioasidd.h"

const char *lease_lifetime_to_string(PolicyLifetime l) {
	return l == POLICY_LIFETIME_PROCESS ? "process" : "connection";
}

const char *lease_mode_to_string(LeaseMode m) {
	return m == LEASE_MODE_UNBOUND ? "unbound" : "attached";
}

int lease_mode_from_string(const char *s, LeaseMode *ret) {
	if (streq(s, "attached"))
		*ret = LEASE_MODE_ATTACHED;
	else if (streq(s, "unbound"))
		*ret = LEASE_MODE_UNBOUND;
	else
		return -EINVAL;
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
	l->pidfd = -EBADF;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	l->created = (uint64_t)ts.tv_sec;
	*ret = l;
	return 0;
}

Lease *lease_free(Lease *l, Kernel *k) {
	if (!l)
		return NULL;
	sd_event_source_disable_unref(l->pidfd_source);
	safe_close(l->pidfd);
	/* Devices first: with the sim kernel the last close of a device fd unbinds it from the
	 * iommufd context, which must still exist. */
	for (size_t i = l->n_devices; i > 0; i--) {
		LeaseDevice *d = &l->devices[i - 1];
		if (d->fd >= 0) {
			assert(k);
			kclose(k, d->fd);
		}
	}
	if (l->iommufd >= 0) {
		assert(k);
		kclose(k, l->iommufd);
	}
	free(l->devices);
	free(l->groups);
	strv_free(l->at_risk);
	free(l->unit);
	free(l->owner);
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

static bool lease_has_group(const Lease *l, int group) {
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
			if (streq(l->devices[i].bdf, bdf))
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
		if (l->uid == uid && !l->staged)
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
