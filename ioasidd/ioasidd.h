/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * ioasidd: the state shared by the daemon's modules.
 *   main.c      arguments, setup, signals, sd_notify
 *   server.c    listener, connections, framing, deadlines, dispatch
 *   identity.c  peer identity taken once at accept
 *   methods.c   the Varlink method table and the handlers
 *   acquire.c   Acquire, in the order of DESIGN.md
 *   lease.c     the lease table and group exclusivity (no I/O but kernel_close)
 *   log.c       logging (journal or stderr) and audit records
 *   udev.c      hotplug and driver changes on the live host
 *   state.c     leases across restarts (systemd fdstore + a sealed state memfd)
 *   closer.c    a thread that closes fds clients pushed on us (a close may block)
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-device.h>
#include <systemd/sd-event.h>
#include <json-c/json.h>

#include "common/host.h"
#include "common/macro.h"
#include "common/kernel.h"
#include "common/varlink.h"
#include "policy/policy.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Closes a kernel-seam fd so the sim can model "last close unbinds". */
#define kclose(k, fd) KERNEL_CALL((k), close, (fd))

typedef struct Manager Manager;
typedef struct Connection Connection;
typedef struct Lease Lease;
typedef struct LeaseTable LeaseTable;

/* Who is on the other end of a connection, taken from the socket at accept. */
typedef struct Peer {
	uid_t uid;       /* (uid_t)-1 when unknown: never 0 by default */
	gid_t gid;       /* (gid_t)-1 when unknown */
	pid_t pid;       /* 0 when unknown (another pid namespace) */
	int pidfd;       /* -EBADF without SO_PEERPIDFD */
	bool have_pidfd;
	gid_t *groups;   /* SO_PEERGROUPS */
	size_t n_groups;
	char *label;     /* SO_PEERSEC, NULL when none */
	char *cgroup;    /* from /proc/PID/cgroup, validated against the pidfd; NULL if unknown */
	char *unit;      /* systemd unit derived from cgroup; NULL if none */
} Peer;

void peer_done(Peer *p);
/* The PolicyPeer view of p (borrows p's strings). */
void peer_to_policy(const Peer *p, PolicyPeer *ret);

/*
 * identity_from_socket: fills *ret from the connected socket fd. pidfd_supported is the
 * result of the start-up probe (false: SO_PEERPIDFD returned ENOPROTOOPT).
 * Returns 0, or -errno: the caller drops the connection (SO_PEERCRED failed, the peer died
 * before SO_PEERPIDFD (-ESRCH/-EINVAL), -ENOMEM, ...).
 */
int identity_from_socket(int fd, bool pidfd_supported, Peer *ret);
/* True while the process behind pidfd has not exited. */
bool pidfd_alive(int pidfd);
/* Does this kernel support SO_PEERPIDFD? Probed once at start over a socketpair. */
bool identity_probe_pidfd(void);
/*
 * identity_unit_from_cgroup: the systemd unit of a cgroup path: its last component that ends
 * in ".service" or ".scope". Returns 1 with *ret (malloc'd), 0 when there is none, -ENOMEM.
 */
int identity_unit_from_cgroup(const char *cgroup, char **ret);
/*
 * identity_parse_proc_cgroup: the cgroup v2 path from the text of /proc/PID/cgroup (the
 * "0::/path" line). Returns 0 with *ret (malloc'd), -ENOENT when there is no v2 line,
 * -EINVAL for an odd line, -ENOMEM.
 */
int identity_parse_proc_cgroup(const char *text, char **ret);

/* ---- leases ---- */

typedef enum LeaseMode {
	LEASE_MODE_ATTACHED,
	LEASE_MODE_UNBOUND,
} LeaseMode;

typedef struct LeaseDevice {
	char bdf[BDF_MAX];
	int group;      /* IOMMU group number */
	int fd;         /* the daemon's own reference */
	uint32_t dev_id, hwpt_id; /* attached mode */
} LeaseDevice;

struct Lease {
	char id[33]; /* 128-bit random, hex */
	uid_t uid;
	pid_t pid;
	char *unit;
	LeaseMode mode;
	char *layout;
	PolicyLifetime lifetime;
	int iommufd;  /* the daemon's own reference */
	uint32_t ioas_id;
	LeaseDevice *devices;
	size_t n_devices;
	int *groups; /* sorted, unique */
	size_t n_groups;
	char **at_risk;
	uint64_t generation;
	uint64_t created; /* CLOCK_REALTIME seconds */
	char *rule;       /* "file:line" */
	bool delivered;   /* the reply with the fds has been fully sent */
	bool stored;      /* its fds are in systemd's fdstore */
	bool staged;      /* prepared by Manager.Stage, not handed out yet */
	char *owner;      /* staged: the owner selector as given ("uid 1000", "unit x.service") */

	Manager *manager;
	Connection *connection; /* the connection that acquired it; NULL once gone */
	int pidfd;              /* process lifetime: the owner's pidfd */
	sd_event_source *pidfd_source;

	Lease *next, *prev;
};

struct LeaseTable {
	Kernel *kernel; /* for kernel_close of the daemon's references */
	Lease *head;
	size_t n;
};

/* "connection" / "process"; "attached" / "unbound". */
const char *lease_lifetime_to_string(PolicyLifetime l);
const char *lease_mode_to_string(LeaseMode m);
int lease_mode_from_string(const char *s, LeaseMode *ret);

/* Creates an empty lease with a fresh random id. Returns 0 or -ENOMEM/-errno (getrandom). */
int lease_new(Lease **ret);
/* Closes the daemon's references (devices first, through kernel_close, then the iommufd)
 * and frees. Takes NULL. k may be NULL only when the lease holds no fds. */
Lease *lease_free(Lease *l, Kernel *k);

/* Adds a device to l (keeps groups sorted and unique). Takes ownership of fd. -ENOMEM. */
int lease_add_device(Lease *l, const char *bdf, int group, int fd);

/* The lease holding group g, or NULL. */
Lease *lease_table_group_owner(const LeaseTable *t, int group);
/* The lease holding device bdf, or NULL. */
Lease *lease_table_device_owner(const LeaseTable *t, const char *bdf);
Lease *lease_table_find(const LeaseTable *t, const char *id);
/* Leases held by uid (staged contexts not counted). */
size_t lease_table_count_uid(const LeaseTable *t, uid_t uid);
/*
 * lease_table_add: records l. Refuses (-EBUSY) when any of l's groups is already held by
 * another lease (exclusivity: one owner per group), -E2BIG beyond IOASID_MAX_LEASES.
 * On success the table owns l.
 */
int lease_table_add(LeaseTable *t, Lease *l);
/* Unlinks l from the table (does not free). */
void lease_table_remove(LeaseTable *t, Lease *l);
/* Frees every lease. */
void lease_table_clear(LeaseTable *t);

/* ---- manager ---- */

typedef struct MonitorSub {
	Connection *connection;
	struct MonitorSub *next;
} MonitorSub;

struct Manager {
	sd_event *event;
	const char *kernel_name;
	const char *host_path;
	const char *config_path;
	const char *socket_path;
	Kernel *kernel;
	Host *host;
	Policy *policy;
	uint64_t generation;

	int listen_fd;
	bool socket_activated;
	bool socket_created; /* we created socket_path: unlink at exit */
	sd_event_source *listen_source;
	sd_event_source *accept_retry; /* EMFILE back-off timer */

	Connection *connections;
	size_t n_connections;
	uint64_t next_connection_id;

	LeaseTable leases;

	sd_device_monitor *udev_monitor; /* live host only */

	bool pidfd_supported;
	bool rlimit_mode_eperm; /* per-process accounting refused: no CAP_SYS_RESOURCE */
	bool accounting_unknown; /* the probe could not open an iommufd */
	bool fdstore;            /* under systemd: leases are kept in the fdstore */
	char **warnings;        /* shown by Status */
	bool testing_bypass;
	bool stopping;
};

struct Connection {
	Manager *manager;
	uint64_t id;
	VarlinkStream *stream;
	sd_event_source *io;
	sd_event_source *idle_timer; /* idle / request deadline */
	sd_event_source *send_timer; /* reply not drained in time */
	sd_event_source *defer_free; /* set once closing */
	sd_event_source *more;       /* oneshot: a complete request is still buffered */
	Peer peer;
	bool monitor;        /* subscribed to Monitor (more) */
	bool closing;
	bool read_eof;       /* peer shut down its side: flush, then close */
	bool suppress_reply; /* dispatching a oneway call */
	bool stored;         /* the socket is in systemd's fdstore (connection leases) */
	Lease *pending_lease; /* lease whose fd reply is queued, not yet fully sent */
	Connection *next, *prev;
};

/* server.c */
int server_listen(Manager *m);
void server_close_all(Manager *m);
/* Queues a message on c and flushes what it can; errors close c (deferred). fds may be
 * NULL. Returns 0 or -errno. */
int connection_send(Connection *c, json_object *msg, const int *fds, size_t n_fds);
/* Convenience: a reply / an error with parameters (taken, may be NULL). */
int connection_reply(Connection *c, json_object *params, bool continues);
int connection_error(Connection *c, const char *error, json_object *params);
/* (Re)arms the idle deadline unless c holds a lease or a Monitor subscription. */
void connection_rearm_idle(Connection *c);
/* Marks c to be closed once the current dispatch is done. */
void connection_close(Connection *c, const char *why);
size_t server_count_uid(const Manager *m, uid_t uid);

/* methods.c */
int methods_dispatch(Connection *c, const char *method, json_object *params, unsigned flags);
/* Sends a lease event to Monitor subscribers allowed to see it. */
void methods_notify_lease(Manager *m, const Lease *l, const char *event);
/* sd_notify STATUS= with the lease and connection counts (under systemd only). */
void manager_update_status(Manager *m);
/* Ends a lease: unlinks it, notifies monitors, closes the daemon's references. */
void manager_end_lease(Manager *m, Lease *l, const char *why);
/* The connection is going away: end its connection-lifetime leases and those never
 * delivered; process-lifetime leases that were delivered outlive it. */
void manager_connection_gone(Manager *m, Connection *c);
/* Loads the policy from config_path; on success replaces the current one. */
int manager_reload(Manager *m, PolicyError *ret_error);

/* Sends a device event (udev) to every Monitor subscriber. */
void methods_notify_device(Manager *m, const char *event, const char *bdf);

/* udev.c: live host only. Returns 0 or -errno. */
int udev_monitor_start(Manager *m);
void udev_monitor_stop(Manager *m);

/* acquire.c */
int method_acquire(Connection *c, json_object *params);
int method_stage(Connection *c, json_object *params);
/* The pidfd of a process-lifetime lease became readable: its owner exited. */
int lease_on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* server.c: a connection from a socket kept across a restart (fdstore), with its old id. */
int connection_adopt(Manager *m, int fd, uint64_t id, Connection **ret);

/* closer.c: received fds nobody takes are closed by a helper thread. 0 or -errno. */
int closer_start(void);

/* state.c */
int state_save(Manager *m);
int state_store_lease(Manager *m, Lease *l);
void state_forget_lease(Manager *m, Lease *l);
int state_store_connection(Manager *m, Connection *c);
void state_forget_connection(Manager *m, Connection *c);
/* Restores leases from the state memfd (taken, may be -EBADF) and the stored fds (names[i]
 * for fds[i]; claimed entries are set to -EBADF, the rest closed). Returns how many. */
int state_restore(Manager *m, int state_fd, int *fds, char **names, size_t n);

/* Small JSON helpers (methods.c). */
json_object *json_str_or_null(const char *s);
