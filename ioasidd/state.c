/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Leases survive a daemon restart through systemd's fdstore (FileDescriptorStoreMax= in
 * ioasidd.service): each lease's own references are stored as one entry when it is handed
 * over, and removed as one when it ends. An entry "L<lease id>" holds, in one FDSTORE
 * message, the lease's record (a sealed memfd "ioasidd-lease" with the JSON below), its
 * iommufd and its device files (a vhost-vdpa lease: its /dev/vhost-vdpa-N instead) and its
 * owner's pidfd; an entry "C<connection id>" holds the connection of connection-lifetime
 * leases, so they keep their lifetime across the restart.
 * One message per lease and one to remove it: PID 1 handles every notification on the
 * daemon's path (SY9 in the real-kernel tier measured it the busiest process of a brokered
 * acquire+release when a lease took ten), and it holds a released lease's device files until
 * it has handled the removal.
 *
 * At start the stored fds come back through LISTEN_FDS/LISTEN_FDNAMES, an entry's fds in no
 * particular order: each is told by what it is (the record by its name and seals, the
 * iommufd, device files and vhost-vdpa file through the kernel seam, the pidfd by
 * pidfd_send_signal()). The record is parsed strictly and every lease is re-validated (each
 * fd is what its record says; devices still in the host model, owner process alive, group
 * exclusivity) before it is recorded again; anything that does not check out is dropped,
 * logged, and its fds closed and removed from the store. Unknown fdstore entries are
 * dropped, and so is the "state" memfd an earlier version kept for all leases (its leases are
 * not restored; their devices stay busy for as long as their holders keep them open).
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

/* One FDSTORE message: fds under name. FDPOLL=0 for a lease's files: PID 1 has nothing to
 * watch on them (the daemon removes the entry itself). */
static int fdstore_push(Manager *m, const char *name, const int *fds, size_t n, bool poll) {
	char msg[300];
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s%s", name, poll ? "" : "\nFDPOLL=0");
	int r = sd_pid_notify_with_fds(0, false, msg, fds, (unsigned)n);
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

#define LEASE_RECORD_NAME "ioasidd-lease"
#define LEASE_RECORD_FORMAT "ioasidd-lease"

static json_object *lease_state_json(const Lease *l) {
	json_object *o = json_object_new_object();
	json_object_object_add(o, "format", json_object_new_string(LEASE_RECORD_FORMAT));
	json_object_object_add(o, "version", json_object_new_int(1));
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

/* The record as a sealed memfd: nobody, not even a later bug of ours, rewrites a stored
 * record in place. An fd, or -errno. */
static int lease_record_memfd(const Lease *l) {
	_cleanup_json_ json_object *o = lease_state_json(l);
	size_t len = 0;
	const char *text = o ? json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len)
			     : NULL;
	if (!text)
		return -ENOMEM;
	_cleanup_close_ int fd = memfd_create(LEASE_RECORD_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return negative_errno();
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0)
			return negative_errno();
		done += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
		return negative_errno();
	return TAKE_FD(fd);
}

int state_store_connection(Manager *m, uint64_t id, int fd) {
	if (!m->fdstore)
		return -ENOTCONN;
	char name[32];
	snprintf(name, sizeof(name), "C%llu", (unsigned long long)id);
	return fdstore_push(m, name, &fd, 1, true);
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
	_cleanup_close_ int record = lease_record_memfd(l);
	if (record < 0)
		return record;
	_cleanup_free_ int *fds = calloc(l->n_devices + 3, sizeof(int));
	if (!fds)
		return -ENOMEM;
	size_t n = 0;
	fds[n++] = record;
	/* A vhost-vdpa lease has one kernel file, its char device; every other an iommufd. */
	fds[n++] = l->vdpa ? l->vdpa_fd : l->iommufd;
	for (size_t i = 0; i < l->n_devices; i++)
		fds[n++] = l->devices[i].fd;
	if (l->pidfd >= 0)
		fds[n++] = l->pidfd;
	snprintf(name, sizeof(name), "L%s", l->id);
	if ((r = fdstore_push(m, name, fds, n, false)) < 0)
		return r;
	l->stored = true;
	return 0;
}

static void forget_lease_entry(Manager *m, const char *id) {
	char name[64];
	snprintf(name, sizeof(name), "L%s", id);
	fdstore_remove(m, name);
}

void state_forget_lease(Manager *m, Lease *l) {
	if (!l->stored)
		return;
	forget_lease_entry(m, l->id);
	l->stored = false;
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
	char buf[160];
} Why;

/* One lease's entry "L<id>": the indices of its fds in Stored, in no particular order. */
typedef struct Entry {
	const char *name;
	size_t *idx;
	size_t n;
} Entry;

/* Takes the entry's fd for which is(fd, d) holds (or -EBADF). */
static int entry_take(Manager *m, Stored *st, const Entry *e, const Device *d,
		      bool (*is)(Manager *m, int fd, const Device *d)) {
	for (size_t i = 0; i < e->n; i++) {
		int fd = st->fds[e->idx[i]];
		if (fd >= 0 && is(m, fd, d)) {
			st->fds[e->idx[i]] = -EBADF;
			return fd;
		}
	}
	return -EBADF;
}

static bool is_iommufd(Manager *m, int fd, const Device *d) {
	return kernel_fd_check(m->kernel, fd, NULL) == 0;
}

static bool is_device_file(Manager *m, int fd, const Device *d) {
	return kernel_fd_check(m->kernel, fd, d) == 0;
}

static bool is_owner_pidfd(Manager *m, int fd, const Device *d) {
	return is_pidfd(fd);
}

/* The record: a memfd of ours (by name), sealed against writes, of a sane size. */
static bool is_record(Manager *m, int fd, const Device *d) {
	char path[64], target[64];
	struct stat sb;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t k = readlink(path, target, sizeof(target) - 1);
	if (k <= 0)
		return false;
	target[k] = 0;
	int seals = fcntl(fd, F_GET_SEALS);
	static const char prefix[] = "/memfd:" LEASE_RECORD_NAME " ";
	return strncmp(target, prefix, sizeof(prefix) - 1) == 0 && seals >= 0 &&
	       (seals & F_SEAL_WRITE) && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	       sb.st_size > 0 && sb.st_size <= STATE_MAX_SIZE;
}

/* Its iommufd: in the entry, and an iommufd (kernel_fd_check()). */
static void restore_iommufd(Manager *m, Stored *st, const Entry *e, Lease *l, Why *w) {
	l->iommufd = entry_take(m, st, e, NULL, is_iommufd);
	if (l->iommufd < 0)
		w->why = "its iommufd is not in the store";
}

/* Device i: still in the host model in the same group, and its device file in the entry. */
static void restore_device(Manager *m, Stored *st, const Entry *e, Lease *l, const DocNode *d,
			   Why *w) {
	const char *bdf = jstr(d, "bdf");
	int64_t g, dev_id = 0, hwpt_id = 0;
	const Device *dev = bdf && bdf_is_canonical(bdf) ? host_find_device(m->host, bdf) : NULL;
	if (!dev || !jint(d, "group", 0, INT32_MAX, &g) || dev->iommu_group != g) {
		w->why = "a device is gone or moved to another group";
		return;
	}
	int fd = entry_take(m, st, e, dev, is_device_file);
	if (fd < 0) {
		snprintf(w->buf, sizeof(w->buf), "the device file of %s is not in the store", bdf);
		w->why = w->buf;
		return;
	}
	(void)jint(d, "devId", 0, UINT32_MAX, &dev_id);
	(void)jint(d, "hwptId", 0, UINT32_MAX, &hwpt_id);
	if (lease_add_device(l, bdf, (int)g, fd) < 0) {
		kernel_close(m->kernel, fd);
		w->why = "out of memory";
		return;
	}
	l->devices[l->n_devices - 1].dev_id = (uint32_t)dev_id;
	l->devices[l->n_devices - 1].hwpt_id = (uint32_t)hwpt_id;
}

/* The entry's vhost-vdpa char device of v (kernel_vhost_vdpa_fd_check()), or -EBADF. */
static int entry_take_vdpa(Manager *m, Stored *st, const Entry *e, const VdpaDevice *v) {
	for (size_t i = 0; i < e->n; i++) {
		int fd = st->fds[e->idx[i]];
		if (fd >= 0 && kernel_vhost_vdpa_fd_check(m->kernel, fd, v) == 0) {
			st->fds[e->idx[i]] = -EBADF;
			return fd;
		}
	}
	return -EBADF;
}

/* A vhost-vdpa lease (its record's "vdpa"): the vDPA device still in the host model, with
 * the same parent and group, and its char device in the entry. */
static void restore_vdpa(Manager *m, Stored *st, const Entry *e, Lease *l, const DocNode *v,
			 Why *w) {
	const char *vname = jstr(v, "name"), *parent = jstr(v, "parent");
	const VdpaDevice *dev = vname ? host_find_vdpa_device(m->host, vname) : NULL;
	int64_t g = -1;
	bool has_group = jint(v, "group", 0, INT32_MAX, &g);
	const Device *p = dev ? dev->parent : NULL;
	if (!dev || !p != !parent || (p && !streq(p->bdf, parent)) || has_group != (p != NULL) ||
	    (p && p->iommu_group != g)) {
		w->why = "its vDPA device is gone, or its parent or group changed";
		return;
	}
	int fd = entry_take_vdpa(m, st, e, dev);
	if (fd < 0) {
		snprintf(w->buf, sizeof(w->buf), "the vhost-vdpa file of %s is not in the store",
			 vname);
		w->why = w->buf;
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
static void restore_owner(Manager *m, Stored *st, const Entry *e, Lease *l, const DocNode *o,
			  Why *w) {
	l->pidfd = entry_take(m, st, e, NULL, is_owner_pidfd);
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

/* The record of an entry, parsed (doc_parse(), strict: the store outlives the process that
 * wrote it). NULL with w->why set when there is none, or more than one, or it does not parse
 * as a lease record of this entry. */
static const DocNode *entry_record(Manager *m, Stored *st, const Entry *e, Doc *doc, char **text,
				   Why *w) {
	int fd = entry_take(m, st, e, NULL, is_record);
	int other = entry_take(m, st, e, NULL, is_record);
	if (other >= 0)
		closer_close(other);
	if (fd < 0 || other >= 0) {
		w->why = fd < 0 ? "it has no lease record" : "it has two lease records";
		closer_close(fd);
		return NULL;
	}
	struct stat sb;
	const DocNode *root = NULL;
	if (fstat(fd, &sb) == 0 && (*text = malloc((size_t)sb.st_size + 1))) {
		ssize_t k = pread(fd, *text, (size_t)sb.st_size, 0);
		DocNode *parsed = NULL;
		if (k == sb.st_size &&
		    doc_parse(doc, *text, (size_t)k, STATE_MAX_DEPTH, &parsed) == 0)
			root = parsed;
	}
	closer_close(fd);
	const char *fmt = jstr(root, "format"), *id = jstr(root, "id");
	int64_t ver = 0;
	if (doc_type(root) != DOC_OBJECT || !fmt || !streq(fmt, LEASE_RECORD_FORMAT) ||
	    !jint(root, "version", 1, 1, &ver) || !id_valid(id) || !streq(e->name + 1, id)) {
		w->why = "its lease record does not parse";
		return NULL;
	}
	return root;
}

/* Closes what is left of an entry: files that are none of its lease's (a stranger's, closed
 * off the loop, never through the seam). Returns how many there were. */
static size_t entry_close_rest(Stored *st, const Entry *e) {
	size_t k = 0;
	for (size_t i = 0; i < e->n; i++)
		if (st->fds[e->idx[i]] >= 0) {
			closer_close(st->fds[e->idx[i]]);
			st->fds[e->idx[i]] = -EBADF;
			k++;
		}
	return k;
}

/* One lease's entry. Returns 0 when restored, <0 when dropped (already logged). */
static int restore_lease(Manager *m, Stored *st, const Entry *e) {
	_cleanup_(doc_freep) Doc *doc = doc_new();
	_cleanup_free_ char *text = NULL;
	Why w = { 0 };
	const DocNode *o = doc ? entry_record(m, st, e, doc, &text, &w) : NULL;
	if (!doc)
		w.why = "out of memory";
	Lease *l = NULL;
	int r = lease_new(&l);
	if (r < 0) {
		entry_close_rest(st, e);
		return r;
	}
	snprintf(l->id, sizeof(l->id), "%s", e->name + 1);
	l->manager = m;
	(void)lease_set_state(l, LEASE_ACTIVE); /* it was handed over before the restart */
	const DocNode *devs = doc_get(o, "devices");
	size_t n_devs = doc_len(devs);
	const DocNode *vdpa = doc_get(o, "vdpa");
	bool is_vdpa = doc_type(vdpa) == DOC_OBJECT;
	if (!w.why)
		restore_fields(l, o, &w);
	if (!w.why && is_vdpa != (l->mode == LEASE_MODE_VHOST_VDPA))
		w.why = "bad mode";
	if (!w.why && is_vdpa) { /* its char device, no iommufd, no devices */
		restore_vdpa(m, st, e, l, vdpa, &w);
		if (!w.why && n_devs != 0)
			w.why = "bad device list";
	} else if (!w.why) {
		restore_iommufd(m, st, e, l, &w);
		if (!w.why && (n_devs == 0 || n_devs > IOASID_MAX_DEVICES_PER_REQUEST))
			w.why = "bad device list";
		for (size_t i = 0; !w.why && i < n_devs; i++)
			restore_device(m, st, e, l, doc_at(devs, i), &w);
	}
	if (!w.why)
		restore_owner(m, st, e, l, o, &w);
	size_t strangers = entry_close_rest(st, e);
	if (!w.why && strangers > 0) {
		snprintf(w.buf, sizeof(w.buf),
			 "fdstore entry '%s' holds %zu file(s) that are none of its record, "
			 "%s and owner's pidfd",
			 e->name, strangers, l->vdpa ? "vhost-vdpa file" : "iommufd, device files");
		w.why = w.buf;
	}
	if (!w.why && lease_table_add(&m->leases, l) < 0)
		w.why = "its group is held by another restored lease";
	if (w.why) {
		if (l->uid == (uid_t)-1) /* no record to say whose it was */
			log_warning("Stored lease %s dropped: %s", l->id, w.why);
		else
			log_warning("Stored lease %s of uid %u dropped: %s", l->id,
				    (unsigned)l->uid, w.why);
		forget_lease_entry(m, l->id);
		lease_free(l, m->kernel);
		return -ESTALE;
	}
	/* Re-store: the entry was kept by systemd, but the connection entry was removed above.
	 * A connection-lifetime lease waits for its connection (state_restore_finish()). */
	l->stored = false;
	forget_lease_entry(m, l->id);
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
	return dropped;
}

int state_restore(Manager *m, int *fds, char **names, size_t n, StoredConnection **ret_conns,
		  size_t *ret_n_conns) {
	Stored st = { .names = names, .fds = fds, .n = n };
	int restored = 0, leases = 0;
	_cleanup_free_ size_t *idx = calloc(n ? n : 1, sizeof(size_t));
	_cleanup_free_ bool *seen = calloc(n ? n : 1, sizeof(bool));

	/* Each lease entry "L<id>" once, with all its fds; a lease id is 32 hex digits. */
	for (size_t i = 0; idx && seen && i < n; i++) {
		if (seen[i] || names[i][0] != 'L' || !id_valid(names[i] + 1))
			continue;
		Entry e = { .name = names[i], .idx = idx };
		for (size_t j = i; j < n; j++)
			if (!seen[j] && streq(names[j], names[i])) {
				seen[j] = true;
				idx[e.n++] = j;
			}
		if (leases++ >= IOASID_MAX_LEASES) {
			entry_close_rest(&st, &e);
			continue;
		}
		if (restore_lease(m, &st, &e) >= 0)
			restored++;
	}

	/* Whatever is left was not claimed by a valid record: close and forget it. */
	for (size_t i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		log_warning("Unclaimed fdstore entry '%s' dropped", names[i]);
		fdstore_remove(m, names[i]);
		closer_close(fds[i]); /* a client's socket, maybe with fds queued on it */
		fds[i] = -EBADF;
	}
	*ret_conns = st.conns;
	*ret_n_conns = st.n_conns;
	return restored;
}
