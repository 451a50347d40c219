/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Leases survive a daemon restart through systemd's fdstore (FileDescriptorStoreMax= in
 * ioasidd.service): the daemon's own references are stored as they are created, and a
 * sealed memfd named "state" describes them. At start the stored fds come back through
 * LISTEN_FDS/LISTEN_FDNAMES; the state is parsed strictly and every lease is re-validated
 * (each fd is what its record says, through the kernel seam for the iommufd and device
 * files; devices still in the host model, owner process alive, group exclusivity) before it is
 * recorded again; anything that does not check out is dropped, logged, and its fds closed
 * and removed from the store. Unknown fdstore entries are dropped.
 *
 * fd names: "state", "L<lease id>i" (iommufd), "L<lease id>d<n>" (device n),
 * "L<lease id>v" (a vhost-vdpa lease's /dev/vhost-vdpa-N, its only kernel fd),
 * "L<lease id>p" (owner pidfd), "C<connection id>" (the connection of connection-lifetime
 * leases, so they keep their lifetime across the restart).
 *
 * Without NOTIFY_SOCKET (not under systemd) nothing is stored.
 *
 * Layer: below manager; connections are the server's, reached only through the hooks the
 * server registered (ManagerHooks): state never adopts or stores a connection itself.
 */
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <systemd/sd-daemon.h>

#include "common/doc.h"
#include "common/macro.h"
#include "common/proto.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/log.h"

#define STATE_MAX_SIZE (16 * 1024 * 1024)
/* Containers nested in the stored state: root, leases, a lease, its devices, a device. */
#define STATE_MAX_DEPTH 16

static int fdstore_push(Manager *m, const char *name, int fd) {
	char msg[300];
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	int r = sd_pid_notify_with_fds(0, false, msg, &fd, 1);
	if (r <= 0) {
		/* No notify socket, or the service has no fdstore: stop trying. */
		if (m->fdstore)
			log_warning("Cannot store fds with systemd (%s): leases will not survive a "
				    "restart",
				    r < 0 ? strerror(-r) : "no notify socket");
		m->fdstore = false;
		return r < 0 ? r : -ENOTCONN;
	}
	return 0;
}

static void fdstore_remove(Manager *m, const char *name) {
	if (!m->fdstore)
		return;
	char msg[300];
	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	(void)sd_notify(false, msg);
}

static json_object *lease_state_json(const Lease *l) {
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(l->id));
	json_object_object_add(o, "uid", json_object_new_int64((int64_t)l->uid));
	json_object_object_add(o, "pid", json_object_new_int64(l->pid));
	json_object_object_add(o, "unit", l->unit ? json_object_new_string(l->unit) : NULL);
	json_object_object_add(o, "mode", json_object_new_string(lease_mode_to_string(l->mode)));
	json_object_object_add(o, "layout", l->layout ? json_object_new_string(l->layout) : NULL);
	json_object_object_add(o, "lifetime",
			       json_object_new_string(lease_lifetime_to_string(l->lifetime)));
	json_object_object_add(o, "ioas", json_object_new_int64(l->ioas_id));
	json_object_object_add(o, "generation", json_object_new_int64((int64_t)l->generation));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)l->created));
	json_object_object_add(o, "rule", l->rule ? json_object_new_string(l->rule) : NULL);
	json_object_object_add(o, "connection",
			       (l->connection || l->connection_id > 0) &&
					       l->lifetime == POLICY_LIFETIME_CONNECTION
				       ? json_object_new_int64((int64_t)l->connection_id)
				       : NULL);
	json_object_object_add(o, "pidfd", json_object_new_boolean(l->pidfd >= 0));
	json_object *devs = json_object_new_array();
	for (size_t i = 0; i < l->n_devices; i++) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "bdf", json_object_new_string(l->devices[i].bdf));
		json_object_object_add(d, "group", json_object_new_int(l->devices[i].group));
		json_object_object_add(d, "devId", json_object_new_int64(l->devices[i].dev_id));
		json_object_object_add(d, "hwptId", json_object_new_int64(l->devices[i].hwpt_id));
		json_object_array_add(devs, d);
	}
	json_object_object_add(o, "devices", devs);
	json_object *v = NULL;
	if (l->vdpa) { /* vhost-vdpa: the vDPA device, its parent PCI function and its group */
		v = json_object_new_object();
		json_object_object_add(v, "name", json_object_new_string(l->vdpa));
		json_object_object_add(v, "parent",
				       l->vdpa_parent[0] ? json_object_new_string(l->vdpa_parent)
							 : NULL);
		json_object_object_add(v, "group",
				       l->n_groups ? json_object_new_int(l->groups[0]) : NULL);
	}
	json_object_object_add(o, "vdpa", v);
	json_object *ar = json_object_new_array();
	for (char **s = l->at_risk; s && *s; s++)
		json_object_array_add(ar, json_object_new_string(*s));
	json_object_object_add(o, "atRisk", ar);
	return o;
}

int state_save(Manager *m) {
	if (!m->fdstore)
		return 0;
	_cleanup_json_ json_object *root = json_object_new_object();
	json_object *arr = json_object_new_array();
	json_object_object_add(root, "format", json_object_new_string("ioasidd-state"));
	json_object_object_add(root, "version", json_object_new_int(1));
	for (Lease *l = m->leases.head; l; l = l->next)
		if (l->stored)
			json_object_array_add(arr, lease_state_json(l));
	json_object_object_add(root, "leases", arr);
	size_t len = 0;
	const char *text = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN, &len);
	if (!text)
		return -ENOMEM;

	_cleanup_close_ int fd = memfd_create("ioasidd-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return negative_errno();
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0)
			return negative_errno();
		done += (size_t)n;
	}
	/* Sealed: nobody, not even a later bug of ours, rewrites a stored state in place. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
		return negative_errno();
	fdstore_remove(m, "state");
	return fdstore_push(m, "state", fd);
}

int state_store_connection(Manager *m, uint64_t id, int fd) {
	if (!m->fdstore)
		return -ENOTCONN;
	char name[32];
	snprintf(name, sizeof(name), "C%llu", (unsigned long long)id);
	return fdstore_push(m, name, fd);
}

void state_forget_connection(Manager *m, uint64_t id) {
	char name[32];
	snprintf(name, sizeof(name), "C%llu", (unsigned long long)id);
	fdstore_remove(m, name);
}

void state_update_status(Manager *m) {
	if (!m->fdstore) /* not under systemd (NOTIFY_SOCKET unset): nobody listens */
		return;
	/* At most once a second: PID 1 is not a metrics sink, and sd_notify() blocks when its
	 * queue is full. */
	static uint64_t last;
	uint64_t now = 0;
	if (m->event)
		sd_event_now(m->event, CLOCK_MONOTONIC, &now);
	if (last && now < last + 1000000)
		return;
	last = now;
	sd_notifyf(false, "STATUS=Serving: %zu lease(s), %zu connection(s), policy generation %llu",
		   m->leases.n, m->n_connections, (unsigned long long)m->generation);
}

int state_store_lease(Manager *m, Lease *l) {
	if (!m->fdstore)
		return 0;
	char name[64];
	int r;
	if (l->lifetime == POLICY_LIFETIME_CONNECTION && l->connection &&
	    (r = m->hooks.connection_store ? m->hooks.connection_store(m, l->connection)
					   : -EOPNOTSUPP) < 0)
		return r;
	/* A vhost-vdpa lease has one kernel fd, its char device; every other an iommufd. */
	snprintf(name, sizeof(name), "L%s%c", l->id, l->vdpa ? 'v' : 'i');
	if ((r = fdstore_push(m, name, l->vdpa ? l->vdpa_fd : l->iommufd)) < 0)
		return r;
	for (size_t i = 0; i < l->n_devices; i++) {
		snprintf(name, sizeof(name), "L%sd%zu", l->id, i);
		if ((r = fdstore_push(m, name, l->devices[i].fd)) < 0)
			return r;
	}
	if (l->pidfd >= 0) {
		snprintf(name, sizeof(name), "L%sp", l->id);
		if ((r = fdstore_push(m, name, l->pidfd)) < 0)
			return r;
	}
	l->stored = true;
	return state_save(m);
}

static void forget_lease_names(Manager *m, const char *id, size_t n_devices) {
	char name[64];
	snprintf(name, sizeof(name), "L%si", id);
	fdstore_remove(m, name);
	snprintf(name, sizeof(name), "L%sv", id);
	fdstore_remove(m, name);
	for (size_t i = 0; i < n_devices; i++) {
		snprintf(name, sizeof(name), "L%sd%zu", id, i);
		fdstore_remove(m, name);
	}
	snprintf(name, sizeof(name), "L%sp", id);
	fdstore_remove(m, name);
}

void state_forget_lease(Manager *m, Lease *l) {
	if (!l->stored)
		return;
	forget_lease_names(m, l->id, l->n_devices);
	l->stored = false;
	(void)state_save(m);
}

/* ---- restore ---- */

typedef struct Stored {
	char **names;
	int *fds;
	size_t n;
	StoredConnection *conns; /* connections of restored leases, for the server to adopt */
	size_t n_conns;
} Stored;

/* Takes the fd stored under name (or -EBADF). */
static int take(Stored *st, const char *name) {
	for (size_t i = 0; i < st->n; i++)
		if (st->fds[i] >= 0 && streq(st->names[i], name)) {
			int fd = st->fds[i];
			st->fds[i] = -EBADF;
			return fd;
		}
	return -EBADF;
}

/* Readers of the parsed state (doc_parse(), strict): a member of the wrong type is absent. */
static const char *jstr(const DocNode *o, const char *k) {
	return doc_str(doc_get(o, k));
}

static bool jint(const DocNode *o, const char *k, int64_t min, int64_t max, int64_t *ret) {
	const DocNode *v = doc_get(o, k);
	if (doc_type(v) != DOC_INT || v->i < min || v->i > max)
		return false;
	*ret = v->i;
	return true;
}

static bool id_valid(const char *id) {
	if (!id || strlen(id) != 32)
		return false;
	for (const char *p = id; *p; p++)
		if (!strchr("0123456789abcdef", *p))
			return false;
	return true;
}

/* The connection of a connection-lifetime lease: already taken for another lease, or taken
 * now from the store (the server adopts it after the restore). Returns 0, or -ENOENT with
 * *why set when it cannot be. */
static int restore_connection(Manager *m, Stored *st, uint64_t cid, const char **why) {
	for (size_t i = 0; i < st->n_conns; i++)
		if (st->conns[i].id == cid)
			return 0;
	char name[32];
	snprintf(name, sizeof(name), "C%llu", (unsigned long long)cid);
	int fd = take(st, name);
	*why = "its connection closed while the daemon was down";
	if (fd < 0)
		return -ENOENT;
	fdstore_remove(m, name); /* stored again under the same name when its lease is */
	if (sd_is_socket_unix(fd, SOCK_STREAM, 0, NULL, 0) <= 0) {
		*why = "its stored connection is not a connected AF_UNIX stream socket";
		closer_close(fd);
		return -ENOENT;
	}
	StoredConnection *c = reallocarray(st->conns, st->n_conns + 1, sizeof(*c));
	if (!c) {
		*why = "out of memory";
		closer_close(fd);
		return -ENOMEM;
	}
	st->conns = c;
	st->conns[st->n_conns++] = (StoredConnection){ .id = cid, .fd = fd };
	*why = NULL;
	return 0;
}

/* Is fd a pidfd? pidfd_send_signal() with signal 0 refuses anything else with EBADF. */
static bool is_pidfd(int fd) {
	return syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0) == 0 || errno != EBADF;
}

/* Why a stored lease is dropped: NULL while it checks out; whybuf holds a built reason. */
typedef struct Why {
	const char *why;
	char buf[128];
} Why;

/* Its iommufd: in the store, and an iommufd (kernel_fd_check()); one that is not is closed
 * as a stranger's fd, off the loop, never through the seam. */
static void restore_iommufd(Manager *m, Stored *st, Lease *l, const char *id, Why *w) {
	char name[64];
	snprintf(name, sizeof(name), "L%si", id);
	l->iommufd = take(st, name);
	if (l->iommufd < 0)
		w->why = "its iommufd is not in the store";
	else if (kernel_fd_check(m->kernel, l->iommufd, NULL) < 0) {
		snprintf(w->buf, sizeof(w->buf), "fdstore entry '%s' is not an iommufd", name);
		w->why = w->buf;
		closer_close(l->iommufd);
		l->iommufd = -EBADF;
	}
}

/* Device i: in the store, still in the host model in the same group, its fd the device
 * file of that device. */
static void restore_device(Manager *m, Stored *st, Lease *l, const char *id, size_t i,
			   const DocNode *d, Why *w) {
	const char *bdf = jstr(d, "bdf");
	int64_t g, dev_id = 0, hwpt_id = 0;
	char name[64];
	snprintf(name, sizeof(name), "L%sd%zu", id, i);
	int fd = take(st, name);
	if (fd < 0) {
		w->why = "a device fd is not in the store";
		return;
	}
	const Device *dev = bdf && bdf_is_canonical(bdf) ? host_find_device(m->host, bdf) : NULL;
	if (!dev || !jint(d, "group", 0, INT32_MAX, &g) || dev->iommu_group != g) {
		kernel_close(m->kernel, fd);
		w->why = "a device is gone or moved to another group";
		return;
	}
	if (kernel_fd_check(m->kernel, fd, dev) < 0) {
		snprintf(w->buf, sizeof(w->buf), "fdstore entry '%s' is not the device file of %s",
			 name, bdf);
		w->why = w->buf;
		closer_close(fd);
		return;
	}
	(void)jint(d, "devId", 0, UINT32_MAX, &dev_id);
	(void)jint(d, "hwptId", 0, UINT32_MAX, &hwpt_id);
	if (lease_add_device(l, bdf, (int)g, fd) < 0) {
		w->why = "out of memory";
		return;
	}
	l->devices[l->n_devices - 1].dev_id = (uint32_t)dev_id;
	l->devices[l->n_devices - 1].hwpt_id = (uint32_t)hwpt_id;
}

/* A vhost-vdpa lease (its record's "vdpa"): the vDPA device still in the host model, with
 * the same parent and group, and its stored fd that device's char device
 * (kernel_vhost_vdpa_fd_check()). */
static void restore_vdpa(Manager *m, Stored *st, Lease *l, const char *id, const DocNode *v,
			 Why *w) {
	char name[64];
	snprintf(name, sizeof(name), "L%sv", id);
	int fd = take(st, name);
	if (fd < 0) {
		w->why = "its vhost-vdpa fd is not in the store";
		return;
	}
	const char *vname = jstr(v, "name"), *parent = jstr(v, "parent");
	const VdpaDevice *dev = vname ? host_find_vdpa_device(m->host, vname) : NULL;
	int64_t g = -1;
	bool has_group = jint(v, "group", 0, INT32_MAX, &g);
	const Device *p = dev ? dev->parent : NULL;
	if (!dev || !p != !parent || (p && !streq(p->bdf, parent)) || has_group != (p != NULL) ||
	    (p && p->iommu_group != g)) {
		kernel_close(m->kernel, fd);
		w->why = "its vDPA device is gone, or its parent or group changed";
		return;
	}
	if (kernel_vhost_vdpa_fd_check(m->kernel, fd, dev) < 0) {
		snprintf(w->buf, sizeof(w->buf),
			 "fdstore entry '%s' is not the vhost-vdpa file of %s", name, vname);
		w->why = w->buf;
		closer_close(fd);
		return;
	}
	if (lease_set_vdpa(l, vname, parent, p ? (int)g : -1, fd) < 0) {
		kernel_close(m->kernel, fd);
		w->why = "out of memory";
	}
}

/* A bounded copy of the string member k into *ret (absent or too long: left NULL). */
static void restore_str(const DocNode *o, const char *k, size_t max, char **ret, Why *w) {
	const char *s = jstr(o, k);
	if (!w->why && s && strlen(s) < max && !(*ret = strdup(s)))
		w->why = "out of memory";
}

/* The record's plain members: owner, mode, lifetime, ids, times, names, siblings at risk. */
static void restore_fields(Lease *l, const DocNode *o, Why *w) {
	int64_t x = 0;
	const char *s;
	if (!w->why && !jint(o, "uid", 0, UINT32_MAX - 1, &x))
		w->why = "bad uid";
	l->uid = (uid_t)x;
	if (!w->why && jint(o, "pid", 0, INT32_MAX, &x))
		l->pid = (pid_t)x;
	if (!w->why) {
		LeaseMode mode;
		s = jstr(o, "mode");
		if (!s || lease_mode_from_string(s, &mode) < 0)
			w->why = "bad mode";
		else
			l->mode = mode;
	}
	if (!w->why) {
		s = jstr(o, "lifetime");
		int lt = s ? lease_lifetime_parse(s) : -EINVAL;
		if (lt < 0)
			w->why = "bad lifetime";
		else
			l->lifetime = (PolicyLifetime)lt;
	}
	if (!w->why && jint(o, "ioas", 0, UINT32_MAX, &x))
		l->ioas_id = (uint32_t)x;
	if (!w->why && jint(o, "generation", 0, INT64_MAX, &x))
		l->generation = (uint64_t)x;
	if (!w->why && jint(o, "created", 0, INT64_MAX, &x))
		l->created = (uint64_t)x;
	restore_str(o, "unit", 256, &l->unit, w);
	restore_str(o, "layout", 256, &l->layout, w);
	restore_str(o, "rule", 512, &l->rule, w);
	const DocNode *ar = doc_get(o, "atRisk");
	for (size_t i = 0; !w->why && i < MIN(doc_len(ar), (size_t)IOASID_MAX_DEVICES_PER_REQUEST);
	     i++) {
		const char *b = doc_str(doc_at(ar, i));
		if (b && bdf_is_canonical(b))
			strv_extend(&l->at_risk, b);
	}
}

/* What keeps it alive: the owner's pidfd (process lifetime: alive; watched again by
 * manager_restore()) or its connection (connection lifetime: handed up to be adopted). */
static void restore_owner(Manager *m, Stored *st, Lease *l, const char *id, const DocNode *o,
			  Why *w) {
	char pname[64];
	snprintf(pname, sizeof(pname), "L%sp", id);
	l->pidfd = take(st, pname);
	if (l->pidfd >= 0 && !is_pidfd(l->pidfd)) {
		if (!w->why) {
			snprintf(w->buf, sizeof(w->buf), "fdstore entry '%s' is not a pidfd",
				 pname);
			w->why = w->buf;
		}
		closer_close(l->pidfd);
		l->pidfd = -EBADF;
	}
	if (!w->why && l->lifetime == POLICY_LIFETIME_PROCESS) {
		if (l->pidfd < 0)
			w->why = "its owner's pidfd is not in the store";
		else if (!pidfd_alive(l->pidfd))
			w->why = "its owner process exited while the daemon was down";
	}
	if (!w->why && l->lifetime == POLICY_LIFETIME_CONNECTION) {
		int64_t cid = 0;
		if (!jint(o, "connection", 1, INT64_MAX, &cid))
			w->why = "its connection is unknown";
		else if (restore_connection(m, st, (uint64_t)cid, &w->why) >= 0)
			l->connection_id = (uint64_t)cid; /* attached once the server adopted it */
	}
}

/* A restored lease that checked out: logged and stored again. */
static void restored_lease_keep(Manager *m, Lease *l) {
	if (l->vdpa)
		log_info("Lease %s of uid %u restored (vhost-vdpa %s, %s lifetime)", l->id,
			 (unsigned)l->uid, l->vdpa, lease_lifetime_to_string(l->lifetime));
	else
		log_info("Lease %s of uid %u restored (%zu device(s), %s lifetime)", l->id,
			 (unsigned)l->uid, l->n_devices, lease_lifetime_to_string(l->lifetime));
	(void)state_store_lease(m, l);
}

/* One lease record. Returns 0 when restored, <0 when dropped (already logged). */
static int restore_lease(Manager *m, Stored *st, const DocNode *o) {
	const char *id = jstr(o, "id");
	if (!id_valid(id)) {
		log_warning("Stored lease with a bad id dropped");
		return -EINVAL;
	}
	const DocNode *devs = doc_get(o, "devices");
	size_t n_devs = doc_len(devs);
	Lease *l = NULL;
	int r = lease_new(&l);
	if (r < 0)
		return r;
	snprintf(l->id, sizeof(l->id), "%s", id);
	l->manager = m;
	(void)lease_set_state(l, LEASE_ACTIVE); /* it was handed over before the restart */
	Why w = { 0 };
	const DocNode *vdpa = doc_get(o, "vdpa");
	if (doc_type(vdpa) == DOC_OBJECT) { /* vhost-vdpa: its char device, no devices */
		restore_vdpa(m, st, l, id, vdpa, &w);
		if (!w.why && n_devs != 0)
			w.why = "bad device list";
	} else {
		restore_iommufd(m, st, l, id, &w);
		if (!w.why && (n_devs == 0 || n_devs > IOASID_MAX_DEVICES_PER_REQUEST))
			w.why = "bad device list";
		for (size_t i = 0; !w.why && i < n_devs; i++)
			restore_device(m, st, l, id, i, doc_at(devs, i), &w);
	}
	restore_fields(l, o, &w);
	if (!w.why && (l->vdpa != NULL) != (l->mode == LEASE_MODE_VHOST_VDPA))
		w.why = "bad mode";
	restore_owner(m, st, l, id, o, &w);
	if (!w.why && lease_table_add(&m->leases, l) < 0)
		w.why = "its group is held by another restored lease";
	if (w.why) {
		log_warning("Stored lease %s of uid %u dropped: %s", id, (unsigned)l->uid, w.why);
		forget_lease_names(m, id, n_devs);
		lease_free(l, m->kernel);
		return -ESTALE;
	}
	/* Re-store: names were kept by systemd, but the connection entry was removed above.
	 * A connection-lifetime lease waits for its connection (state_restore_finish()). */
	l->stored = false;
	forget_lease_names(m, id, n_devs);
	if (l->lifetime == POLICY_LIFETIME_CONNECTION)
		return 0;
	restored_lease_keep(m, l);
	return 0;
}

void state_restore_attach(Manager *m, uint64_t id, Connection *c) {
	for (Lease *l = m->leases.head; c && l; l = l->next)
		if (l->lifetime == POLICY_LIFETIME_CONNECTION && !l->connection &&
		    l->connection_id == id)
			l->connection = c;
}

int state_restore_finish(Manager *m) {
	int dropped = 0;
	Lease *next = NULL;
	for (Lease *l = m->leases.head; l; l = next) {
		next = l->next;
		if (l->lifetime != POLICY_LIFETIME_CONNECTION || l->state != LEASE_ACTIVE ||
		    l->stored)
			continue;
		if (l->connection) {
			restored_lease_keep(m, l);
			continue;
		}
		log_warning("Stored lease %s of uid %u dropped: its connection closed while the "
			    "daemon was down",
			    l->id, (unsigned)l->uid);
		lease_table_remove(&m->leases, l);
		lease_free(l, m->kernel);
		dropped++;
	}
	(void)state_save(m);
	return dropped;
}

int state_restore(Manager *m, int state_fd, int *fds, char **names, size_t n,
		  StoredConnection **ret_conns, size_t *ret_n_conns) {
	Stored st = { .names = names, .fds = fds, .n = n };
	int restored = 0;
	_cleanup_free_ char *text = NULL;
	_cleanup_(doc_freep) Doc *doc = NULL;
	const DocNode *root = NULL;

	if (state_fd >= 0) {
		struct stat sb;
		int seals = fcntl(state_fd, F_GET_SEALS);
		if (fstat(state_fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
		    sb.st_size > STATE_MAX_SIZE || seals < 0 || !(seals & F_SEAL_WRITE))
			log_warning("Stored state is not a sealed memfd of a sane size: dropped");
		else if ((text = malloc((size_t)sb.st_size + 1))) {
			ssize_t k = pread(state_fd, text, (size_t)sb.st_size, 0);
			DocNode *parsed = NULL;
			/* Parsed as strictly as a message: the store outlives the process that
			 * wrote it. */
			if (k == sb.st_size && (doc = doc_new()) &&
			    doc_parse(doc, text, (size_t)k, STATE_MAX_DEPTH, &parsed) == 0)
				root = parsed;
			const char *fmt = jstr(root, "format");
			int64_t ver = 0;
			if (doc_type(root) != DOC_OBJECT || !fmt || !streq(fmt, "ioasidd-state") ||
			    !jint(root, "version", 1, 1, &ver)) {
				log_warning("Stored state does not parse: dropped; devices of "
					    "unrestored leases stay busy until their holders close "
					    "them");
				root = NULL;
			}
		}
		safe_close(state_fd);
	}

	const DocNode *leases = doc_get(root, "leases");
	for (size_t i = 0; i < MIN(doc_len(leases), (size_t)IOASID_MAX_LEASES); i++) {
		const DocNode *o = doc_at(leases, i);
		if (doc_type(o) == DOC_OBJECT && restore_lease(m, &st, o) >= 0)
			restored++;
	}

	/* Whatever is left was not claimed by a valid record: close and forget it. */
	for (size_t i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		log_warning("Unclaimed fdstore entry '%s' dropped", names[i]);
		fdstore_remove(m, names[i]);
		if (names[i][0] == 'L')
			kernel_close(m->kernel, fds[i]);
		else
			closer_close(fds[i]); /* a client's socket, maybe with fds queued on it */
		fds[i] = -EBADF;
	}
	(void)state_save(m);
	*ret_conns = st.conns;
	*ret_n_conns = st.n_conns;
	return restored;
}
