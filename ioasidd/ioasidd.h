/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * ioasidd: the types the daemon's modules share and the prototypes of its lower layers.
 * Requests flow one way; each file calls only its own tier or the tiers below it, the tiers
 * of tests/tools/layers.map (README, "Source layout"), which make check-layers enforces:
 *
 *   ioasidd (top)
 *   main.c           arguments, start, signals, the loop
 *   udev.c           hotplug and driver changes on the live host (-> manager)
 *   daemon-server
 *   server.c         connections, framing, deadlines, dispatch through the method tables
 *                    (authorization and parameters checked once, then the handler), the
 *                    only sender
 *   listener.c       the listening socket, the accept loop (-> server), the drain at exit
 *   daemon-methods
 *   method-*.c       one file per interface: its method table and handlers (method.h)
 *   daemon-core
 *   broker.c         Acquire's resolve, decide and audit, group and dependency checks: a
 *                    plan or a named refusal (broker.h)
 *   context.c        the kernel context for a plan, with rollback (context.h)
 *   manager.c        the lease table's life: hand-over, end, revoke, reload, re-evaluation,
 *                    device events; reaches the server only through ManagerHooks
 *   daemon-base
 *   method.c         parameter specs, Reply, json-c helpers for replies
 *   stage.c          staged contexts: owner selectors, matching, explaining a mismatch
 *   dependents.c     PF, VFs and reset partners held by other owners
 *   hold.c           groups held by leases that ended while their fds live on
 *   state.c          leases across restarts (systemd fdstore + a sealed state memfd)
 *   lease.c          Lease and LeaseTable: the lifecycle (lease_set_state), exclusivity
 *   identity.c       peer identity taken once at accept
 *   refusal.c        a named error with its parameters, as C data
 *   log.c            logging and audit records
 *   closer.c, caps.c a thread that closes client fds; capabilities raised around calls
 */

#include <stdbool.h>
#include <stdint.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <systemd/sd-device.h>
#include <systemd/sd-event.h>
#include <json-c/json.h>

#include "common/json-out.h"
#include "common/host.h"
#include "common/macro.h"
#include "common/kernel.h"
#include "common/varlink.h"
#include "ioasidd/log.h"
#include "policy/policy.h"

#define _cleanup_json_ _cleanup_(json_object_putp)

typedef struct Manager Manager;
typedef struct Connection Connection;
typedef struct Lease Lease;
typedef struct LeaseTable LeaseTable;

/* Who is on the other end of a connection, taken from the socket at accept. */
typedef struct Peer {
	uid_t uid; /* (uid_t)-1 when unknown: never 0 by default */
	gid_t gid; /* (gid_t)-1 when unknown */
	pid_t pid; /* 0 when unknown (another pid namespace) */
	int pidfd; /* -EBADF without SO_PEERPIDFD */
	bool have_pidfd;
	gid_t *groups; /* SO_PEERGROUPS */
	size_t n_groups;
	char *label;     /* SO_PEERSEC, NULL when none */
	char *cgroup;    /* from /proc/PID/cgroup, validated against the pidfd; NULL if unknown */
	char *unit;      /* system unit derived from cgroup (user@UID.service for anything a
			  * user manager runs); NULL if none */
	char *user_unit; /* unit inside a user manager or session; NULL if none */
	bool cgroup_hidden; /* alive, but /proc hides its cgroup from us (hidepid) */
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
 * identity_peer_set_cgroup: sets p's cgroup to a copy of cgroup and derives its system unit
 * and user unit from it with cgroup_identity_from_path(), the function
 * `ioasidctl policy explain --cgroup` uses too. A path that derivation refuses leaves every
 * unit unknown. Returns 0 or -ENOMEM (p unchanged).
 */
int identity_peer_set_cgroup(Peer *p, const char *cgroup);
/*
 * identity_proc_hides_peers: does the /proc mount described by mountinfo (the text of
 * /proc/self/mountinfo; the last mount on /proc counts) hide peers from this process?
 * With hidepid= procfs shows a process only to those who may ptrace it (same uid and gid,
 * no fewer capabilities, or CAP_SYS_PTRACE) and to members of its gid= group (root's group
 * without the option; not for hidepid=ptraceable). Returns 1 with a sentence in why (may be
 * NULL), 0 when it does not, -ENOMEM. identity_probe_proc() asks it about this process
 * (its /proc/self/mountinfo, effective CAP_SYS_PTRACE and groups), or returns -errno.
 */
int identity_proc_hides_peers(const char *mountinfo, bool cap_sys_ptrace, char *why,
			      size_t why_len);
int identity_probe_proc(char *why, size_t why_len);
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
	/* Legacy VFIO (no iommufd): a container with TYPE1v2 set, the groups set on it, device
	 * fds from the groups. Never requested: an "attached" request on a legacy kernel. */
	LEASE_MODE_LEGACY,
	/* A vDPA device's /dev/vhost-vdpa-N, the only fd of the lease (Lease.vdpa): a second
	 * framework over the same DMA isolation, exclusive with VFIO per IOMMU group. */
	LEASE_MODE_VHOST_VDPA,
} LeaseMode;

/*
 * The lifecycle of a lease (and of a staged context, which is a lease not handed out yet).
 * lease_set_state() is the only way from one state to the next; it refuses any other step:
 *
 *   NEW --Stage--> STAGED --Acquire by its owner--+
 *    |                                            v
 *    +--------------Acquire (hand over)------> PENDING --reply with the fds sent--> ACTIVE
 *    +--------------restore (fdstore)------------------------------------------------> ACTIVE
 *
 *   ACTIVE --revoke--> REVOKED --end (its files still open elsewhere)--> ENDED
 *   ACTIVE --end (its files still open elsewhere)----------------------> ENDED
 *
 * Every state may end with lease_free() instead (rolled back, released, dropped, its files
 * closed everywhere): that is not a state, the record is gone. Whether the daemon's
 * references are in systemd's fdstore (Lease.stored) is not part of the lifecycle: a pending
 * or an active lease may be stored or not (no fdstore, a legacy lease, a failed push), and it
 * is forgotten there when the lease leaves both.
 */
typedef enum LeaseState {
	LEASE_NEW,     /* being built (Acquire, Stage, restore): in no table yet */
	LEASE_STAGED,  /* prepared by Manager.Stage for an owner, not handed out yet */
	LEASE_PENDING, /* handed over: in the table, the reply with the fds not fully sent */
	LEASE_ACTIVE,  /* the fds were delivered (or the lease was restored after a restart) */
	LEASE_REVOKED, /* the daemon's references are closed (devices detached first); the record
			* stays until the holder releases, disconnects or exits, holding only
			* the groups of devices still held (LeaseDevice.held) */
	LEASE_ENDED,   /* over, but the kernel still shows files of it held elsewhere, or they
			* are not probed yet (LeaseDevice.held, probe_due): kept, holding those
			* groups, until they are closed (hold.c); no connection, pidfd or daemon
			* references any more */
	_LEASE_STATE_MAX,
} LeaseState;

typedef struct LeaseDevice {
	char bdf[BDF_MAX];
	int group;                /* IOMMU group number */
	int fd;                   /* the daemon's own reference */
	uint32_t dev_id, hwpt_id; /* attached mode */
	bool held;    /* the daemon's reference is closed (revoked, ended) and the kernel last
		       * showed a file of the device still in use elsewhere, or it has not been
		       * probed since (Lease.probe_due): its group stays held (hold.c) */
	bool by_bind; /* held, left for the running Acquire's own BIND to answer (hold.c) */
} LeaseDevice;

/* Legacy mode: one opened group node, set on the lease's container. */
typedef struct LeaseGroup {
	int group;
	int fd;          /* the daemon's own reference; closing the last unsets the container */
	bool handed_out; /* every non-bridge member is in the lease: the client gets it too */
} LeaseGroup;

struct Lease {
	char id[33]; /* 128-bit random, hex */
	uid_t uid;
	pid_t pid;
	char *unit;
	LeaseMode mode;
	char *layout;
	PolicyLifetime lifetime;
	int iommufd; /* the daemon's own reference */
	uint32_t ioas_id;
	LeaseDevice *devices;
	size_t n_devices;
	int *groups; /* sorted, unique */
	size_t n_groups;
	/* Legacy mode: the container (the daemon's own reference, else -EBADF) and the group
	 * nodes, in the order they were opened. */
	int container;
	LeaseGroup *legacy_groups;
	size_t n_legacy_groups;
	/* vhost-vdpa mode: the vDPA device (n_devices is 0), the daemon's own reference to its
	 * /dev/vhost-vdpa-N, and its parent PCI function ("" for a software device, which has no
	 * IOMMU group: then groups is empty and only the device itself is exclusive). */
	char *vdpa;
	int vdpa_fd;
	char vdpa_parent[BDF_MAX];
	char **at_risk;
	uint64_t generation;
	uint64_t created; /* CLOCK_REALTIME seconds */
	char *rule;       /* "file:line" */
	LeaseState state; /* changed only by lease_set_state() */
	bool was_revoked; /* went through LEASE_REVOKED (kept by lease_set_state()): an ended
			   * lease revoked first is not counted against its uid, as a revoked
			   * one is not */
	bool stored;      /* its fds are in systemd's fdstore (pending or active leases) */
	char *owner;      /* staged: the owner selector as given ("uid 1000", "unit x.service") */
	uint64_t expires; /* staged: CLOCK_REALTIME seconds when it is dropped (stage.c) */
	uint64_t stage_timeout; /* staged: the seconds it was given */
	sd_event_source *expire_source;
	uint64_t ended_at;   /* CLOCK_REALTIME seconds */
	bool probe_due;      /* revoked or ended, not probed since: every device counts as held
			      * until hold_settle() or the recheck timer probes it (hold.c) */
	bool hold_announced; /* the still-held state was logged */
	/* What a revocation the holder did not ask for does (a reload, a device gone): the
	 * on-revoke actions of the grants that allowed its devices, added up. */
	bool revoke_reset, revoke_signal;
	uint64_t memlock_granted; /* the grant's memlock (bytes, 0 = none) */
	/* The grant lets dependents of its devices go to other owners (dependents.c). */
	bool share_reset, split_sriov;
	/* The holder's identity as taken at accept, for re-evaluation at a policy reload.
	 * peer_known false (staged for a uid, restored after a restart): gid and groups are
	 * then resolved from the user database. */
	bool peer_known;
	bool have_pidfd;
	gid_t gid;
	gid_t *peer_groups;
	size_t n_peer_groups;
	char *cgroup;
	char *user_unit; /* the holder's user unit (Peer.user_unit), for 'user-unit' rules */
	char *label;

	Manager *manager;
	Connection *connection; /* the connection that acquired it (opaque below the server);
				 * NULL once gone */
	uint64_t connection_id;
	int pidfd; /* process lifetime: the owner's pidfd */
	sd_event_source *pidfd_source;

	Lease *next, *prev;
};

struct LeaseTable {
	Kernel *kernel; /* for kernel_close of the daemon's references */
	Lease *head;
	size_t n;
};

/* "connection" / "process"; "attached" / "unbound" / "vhost-vdpa" ("legacy" is never asked). */
const char *lease_lifetime_to_string(PolicyLifetime l);
const char *lease_mode_to_string(LeaseMode m);
int lease_mode_from_string(const char *s, LeaseMode *ret);
/* The same for a parameter spec (method.h): the LeaseMode ("attached", "unbound",
 * "vhost-vdpa") or
 * PolicyLifetime ("connection", "process") named by s, or -EINVAL. */
int lease_mode_parse(const char *s);
int lease_lifetime_parse(const char *s);

/* "new", "staged", "pending", "active", "revoked", "ended" (the "state" of ListLeases). */
const char *lease_state_to_string(LeaseState s);
/*
 * lease_set_state: moves l to state new along one of the steps drawn above LeaseState.
 * Returns 0, or -EINVAL for any other step (the same state included), which is a bug of the
 * caller: it is logged as a warning and l is left as it was.
 */
int lease_set_state(Lease *l, LeaseState new_state);
/* Its fds reached the holder: active, revoked or ended. */
static inline bool lease_delivered(const Lease *l) {
	return l->state == LEASE_ACTIVE || l->state == LEASE_REVOKED || l->state == LEASE_ENDED;
}
/* The daemon let go of it (revoked or ended): it holds only the devices the kernel still
 * shows held (LeaseDevice.held). */
static inline bool lease_is_over(const Lease *l) {
	return l->state == LEASE_REVOKED || l->state == LEASE_ENDED;
}

/* Creates an empty lease (LEASE_NEW) with a fresh random id. Returns 0 or -ENOMEM/-errno
 * (getrandom). */
int lease_new(Lease **ret);
/* Closes the daemon's references (devices first, through kernel_close, then the iommufd;
 * legacy: devices, groups, container) and frees. Takes NULL. k may be NULL only when the
 * lease holds no fds. */
Lease *lease_free(Lease *l, Kernel *k);

/*
 * lease_revoke_kernel: the kernel side of a revocation. Each device is detached through the
 * daemon's own reference (the holder's copies are the same open file, so DMA through the
 * IOAS is blocked for them too: the device returns to the blocked-DMA domain), reset when
 * reset is true, then the daemon's references are closed and l is marked revoked. A device
 * never bound (unbound mode, the holder did not bind it) cannot be detached: that is not an
 * error. A vhost-vdpa lease has no detach: its device is reset (virtio status 0, through
 * the daemon's copy of the file) whatever reset says; the holder's IOTLB mappings stay with
 * its file. l must be active (lease_set_state()). Returns 0, or the first -errno of a
 * detach/reset that failed (the rest is still done).
 */
int lease_revoke_kernel(Lease *l, Kernel *k, bool reset);
/* The first half of lease_revoke_kernel(): detach (and reset) only, references kept. */
int lease_block_dma(Lease *l, Kernel *k, bool reset);
/* Copies the peer identity into l (for re-evaluation at reload). -ENOMEM. */
int lease_set_peer(Lease *l, const Peer *p);

/* Adds a device to l (keeps groups sorted and unique). Takes ownership of fd. -ENOMEM. */
int lease_add_device(Lease *l, const char *bdf, int group, int fd);
/* vhost-vdpa mode: records the vDPA device name, its parent (NULL: none) and group (-1: none)
 * and the opened char device. Takes ownership of fd only on success (-ENOMEM: the caller
 * still owns it). */
int lease_set_vdpa(Lease *l, const char *name, const char *parent, int group, int fd);
/* The lease holding vDPA device name (pending or active; staged contexts have none), or
 * NULL. */
Lease *lease_table_vdpa_owner(const LeaseTable *t, const char *name);
/* "vfio" or "vhost-vdpa": the framework through which l holds its groups. */
const char *lease_framework(const Lease *l);
/* Legacy mode: records an opened group node (takes ownership of fd only on success: on
 * -ENOMEM the caller still owns it). */
int lease_add_legacy_group(Lease *l, int group, int fd);
/* Legacy mode: l's opened node of group, or NULL. */
LeaseGroup *lease_legacy_group(Lease *l, int group);

/* Closes the daemon's references of l (devices, iommufd; legacy: devices, groups, container)
 * through kernel_close, in the order the kernel needs. Safe to call twice. */
void lease_close_kernel_fds(Lease *l, Kernel *k);

/* The lease holding group g, or NULL. A revoked or ended lease holds the groups of its
 * devices marked held (the kernel still shows their files in use), nothing else. */
Lease *lease_table_group_owner(const LeaseTable *t, int group);
/* The lease holding device bdf, or NULL (revoked or ended leases: while it is held). */
Lease *lease_table_device_owner(const LeaseTable *t, const char *bdf);
Lease *lease_table_find(const LeaseTable *t, const char *id);
/* Leases held by uid (staged contexts and revoked leases not counted; ended ones still held
 * are, unless they were revoked first: their holder still has the devices). */
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
/* The BDFs of l, comma-separated, in buf. */
const char *lease_devices_text(const Lease *l, char *buf, size_t size);
/* The one record of the Acquire whose reply carries l's fds: "allow" once they are delivered
 * (delivered true), else "deny" with cause and why (the client or the daemon went first). */
void lease_audit_acquire(const Lease *l, bool delivered, const char *cause, const char *why);

/* ---- manager ---- */

/*
 * What the manager needs from the server above it, registered by the server
 * (server_register_hooks()); unset hooks do nothing (unit tests run the manager alone).
 *   lease_event      "lease-acquired", "lease-released" (the Release method),
 *                    "lease-ended" (any other end: cause says which), "lease-revoked"
 *                    (cause: the revocation's reason): for Monitor
 *   device_event     a udev event: for Monitor
 *   group_event      a group's verdict changed after a udev event: for Monitor
 *   policy_event     the policy was reloaded, now generation: for Monitor
 *   lease_ending     lease l of connection c is ending: true when it is the lease whose
 *                    reply c still has queued (c forgets it: the reply is not l's any more)
 *   lease_ended      a lease of connection c ended: c may fall under the idle deadline again
 *   connection_store put c's socket in the fdstore (its connection-lifetime lease is kept)
 */
typedef struct ManagerHooks {
	void (*lease_event)(Manager *m, const Lease *l, const char *event, const char *cause);
	void (*device_event)(Manager *m, const char *event, const char *bdf);
	void (*group_event)(Manager *m, int group, const char *verdict);
	void (*policy_event)(Manager *m, uint64_t generation);
	bool (*lease_ending)(Manager *m, Connection *c, const Lease *l);
	void (*lease_ended)(Manager *m, Connection *c);
	int (*connection_store)(Manager *m, Connection *c);
} ManagerHooks;

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

	/* The server's (server.c); nothing below it reads these. */
	int listen_fd;
	bool socket_activated;
	bool socket_created; /* we created socket_path: unlink at exit */
	sd_event_source *listen_source;
	sd_event_source *accept_retry; /* EMFILE back-off timer */

	Connection *connections;
	size_t n_connections; /* kept by the server, read by Status */
	uint64_t next_connection_id;
	ManagerHooks hooks;

	LeaseTable leases;

	sd_device_monitor *udev_monitor; /* live host only */
	sd_event_source *hold_timer;     /* re-probes held groups while any is held (hold.c) */
	sd_event_source *kernel_events;  /* the kernel backend's events_fd (the sim's) */
	bool hold_stopped;               /* hold_stop() ran (shutdown): no timer any more */
	bool hold_by_bind; /* an attached Acquire is deciding: hold_recheck() leaves its groups
			    * to the Acquire's BIND (hold_bind_done()) instead of probing */

	bool pidfd_supported;
	bool rlimit_mode_eperm;  /* per-process accounting refused: no CAP_SYS_RESOURCE */
	bool accounting_unknown; /* the probe could not open an iommufd */
	bool fdstore;            /* under systemd: leases are kept in the fdstore */
	char **warnings;         /* shown by Status */
	bool testing_bypass;
	bool stopping;
};

/* A connection kept in the fdstore for a restored connection-lifetime lease: its old id and
 * its socket, handed up for the server to adopt (state never adopts one itself). */
typedef struct StoredConnection {
	uint64_t id;
	int fd;
} StoredConnection;

/* ---- manager.c: the lease table's life (below the method layer, above lease/hold/state) ---- */

/* Does peer match an admin rule? audit: write the allow/deny record for method. */
bool manager_is_admin(Manager *m, const Peer *peer, const char *method, bool audit);
/* Ends a lease: unlinks it, notifies monitors, closes the daemon's references. Audited as
 * "release" with by's method and cause (a delivered lease), or as the deny of its Acquire (a
 * reply still queued); manager_end_lease() is for a cause the record need not name. */
void manager_end_lease(Manager *m, Lease *l, const char *why);
void manager_end_lease_by(Manager *m, Lease *l, const AuditActor *by, const char *why);
/* At exit: ends every lease and staged context, audited with cause "shutdown" and why, except
 * process-lifetime leases kept in the fdstore (the next instance restores them). */
void manager_stop_leases(Manager *m, const char *why);
/* The connection is going away: end its connection-lifetime leases and those never
 * delivered; process-lifetime leases that were delivered outlive it. */
void manager_connection_gone(Manager *m, Connection *c);
/* manager_load_policy: loads path for generation; the path must pass trusted_path_open()
 * (root's file, reached through root's directories and symlinks only). 0 or -errno with
 * *err filled. */
int manager_load_policy(const char *path, uint64_t generation, Policy **ret, PolicyError *err);
/* What to do when layouts ask for per-process accounting and CAP_SYS_RESOURCE is missing
 * (the second half of a warning that names them). */
#define MANAGER_ACCOUNTING_FIX                                                                     \
	"give ioasidd CAP_SYS_RESOURCE (the shipped unit keeps it in "                             \
	"CapabilityBoundingSet=), or set 'accounting user' in those layouts"
/* manager_warn_process_accounting: when the daemon lacks CAP_SYS_RESOURCE, warns once per
 * policy generation that the layouts asking for per-process accounting fail every Acquire,
 * naming them and the rules that grant them, with the fix. */
void manager_warn_process_accounting(Manager *m);
/* Loads the policy from config_path; on success replaces the current one and calls
 * manager_reevaluate(). Audited ("reload" or "reload-failed") with by as actor: a
 * method's caller or a signal's sender. */
int manager_reload(Manager *m, const AuditActor *by, PolicyError *ret_error);
/*
 * manager_revoke_lease: revokes l (lease_revoke_kernel, then SIGTERM through the holder's
 * pidfd when sig), forgets it in the fdstore, audits (action "revoke", by's method and cause,
 * reason why) and tells Monitor subscribers. The record stays, state "revoked". Staged
 * contexts are not leases: drop them with manager_drop_staged(). Returns what
 * lease_revoke_kernel() returned: 0 when DMA was blocked (detached, or a vhost-vdpa device
 * reset), else the -errno of the step that failed (the lease is revoked either way).
 */
int manager_revoke_lease(Manager *m, Lease *l, bool reset, bool sig, const AuditActor *by,
			 const char *why);
/* Drops a staged context, audited ("drop-staged"). */
void manager_drop_staged(Manager *m, Lease *l, const AuditActor *by, const char *reason);
/*
 * manager_reevaluate: after a policy change, asks the current policy about every lease and
 * staged context, device by device, with the holder's (owner's) identity. A lease no longer
 * allowed is revoked as its grant's on-revoke says; a staged context no longer allowed is
 * dropped. Each is audited with cause "reload" (and by's method). Returns how many were
 * revoked or dropped.
 */
size_t manager_reevaluate(Manager *m, const AuditActor *by);
/*
 * manager_device_gone: udev reports bdf removed or bound to driver (NULL: none). A lease
 * holding it is revoked (detach, no reset: the device may be gone), a staged context is
 * dropped; both audited. A rebind to vfio-pci changes nothing.
 */
void manager_device_gone(Manager *m, const char *bdf, const char *driver);
/* manager_device_leaving_vfio: udev reports bdf's vfio-dev file removed: the device is
 * leaving its VFIO driver (unbind, hot removal), and the kernel now waits until every open
 * file of it is closed. Treated as manager_device_gone(), reason "BDF leaving its VFIO
 * driver (vfio-dev removed)": the daemon's own references close, so only the holder's
 * keep the removal waiting. */
void manager_device_leaving_vfio(Manager *m, const char *bdf);
/* A udev event, for Monitor subscribers (through the server's hook). */
void manager_device_event(Manager *m, const char *event, const char *bdf);
/* Group group's verdict is now verdict (after a rescan), for Monitor subscribers. */
void manager_group_event(Manager *m, int group, const char *verdict);
/*
 * manager_restore: leases kept in the fdstore by the previous instance (state_restore(),
 * whose *ret_conns the caller has the server adopt), their owners' pidfds watched again.
 * Returns how many were restored.
 */
int manager_restore(Manager *m, int *fds, char **names, size_t n, StoredConnection **ret_conns,
		    size_t *ret_n_conns);

/* ---- hold.c ---- */
/*
 * hold_after_close: l was delivered and the daemon is letting go of it (revoked, or ending):
 * closes the daemon's references and marks each device held until probed (LeaseDevice.held,
 * Lease.probe_due: hold_settle() or the recheck timer probes them). Returns true then (the
 * recheck timer runs); false for a lease never delivered or staged (nothing is closed then).
 */
bool hold_after_close(Manager *m, Lease *l);
/* hold_lease_ended: l ends. When hold_after_close() kept it, l stays in the table as ended
 * (its connection, pidfd and watch dropped) until a probe finds its devices released, and
 * true is returned; else false and the caller unlinks and frees it. */
bool hold_lease_ended(Manager *m, Lease *l);
/* hold_settle: probes the devices of every lease the daemon let go of and has not probed
 * since (Lease.probe_due); ended leases found released are freed. Called before anything
 * reports who holds what (ListLeases, Status, ListGroups, ListDevices), at Stage, and by an
 * Acquire before it refuses because of such a lease (a pool's group passed over, a
 * dependent, max-leases, the lease table's size; its own groups are rechecked by
 * hold_recheck()). Returns whether any lease was probed. */
bool hold_settle(Manager *m);
/* hold_recheck: probes again what revoked and ended leases still hold (only of IOMMU group
 * group, or all for -1); ended leases found released are freed. While m->hold_by_bind is
 * set (an attached Acquire deciding), the iommufd-mode leases' devices of group are not
 * probed but left to that Acquire's BIND: counted free until hold_bind_done(). */
void hold_recheck(Manager *m, int group);
/* hold_bind_pending: whether hold_recheck() left anything to an Acquire's BIND. */
bool hold_bind_pending(const Manager *m);
/* hold_bind_done: the Acquire's context is built (bound: its BIND of every device succeeded,
 * so the groups left to it are free: ended leases with nothing else held are freed) or not
 * (the devices left to it count as held again, to be probed as usual). */
void hold_bind_done(Manager *m, bool bound);
/* hold_describe: "held by ended lease L (uid U, pid P)" (identify: for an admin or the
 * holder) or "held by an ended lease of another user" into buf when l is a revoked or ended
 * lease still holding files: returns 1; else 0. */
int hold_describe(const Lease *l, bool identify, char *buf, size_t size);
/* Takes in the kernel backend's released files at once when it has an events_fd (the sim).
 * 0 or -errno. */
int hold_start(Manager *m);
void hold_stop(Manager *m);

/* udev.c: live host only. Returns 0 or -errno. */
int udev_monitor_start(Manager *m);
void udev_monitor_stop(Manager *m);

/* dependents.c: a device goes to one owner with its PF, VFs and reset partners. */
typedef struct DependConflict {
	char device[BDF_MAX];    /* the requested device */
	char dependent[BDF_MAX]; /* its dependent, held by another owner */
	int kind;                /* DependKind (common/depend.h) */
	const Lease *holder;     /* the lease or staged context holding the dependent */
} DependConflict;
/*
 * dependents_conflict: may uid take devices[0..n) with a grant saying share_reset /
 * split_sriov? Returns 0 when no dependent is held by another owner (or both grants allow
 * the split), 1 with *ret for the first that is, -ENOMEM.
 */
int dependents_conflict(const Manager *m, uid_t uid, const Device *const *devices, size_t n,
			bool share_reset, bool split_sriov, DependConflict *ret);
/* "leased to uid 1001 (lease L)" / "staged for another owner (staged context S)". */
void dependents_conflict_owner(const DependConflict *c, char *buf, size_t size);
/* "0000:02:00.1 shares a bus reset with 0000:02:00.0, leased to uid 1001 (lease L)",
 * "... is a VF of ...", "... is the PF of ...". */
void dependents_conflict_reason(const DependConflict *c, char *buf, size_t size);

/* stage.c: staged contexts (built by context.c, kept by manager.c). */
/* The identity a staged owner (uid, or "unit NAME") is judged with, as no peer is there: uid,
 * its primary and supplementary groups from the user database, the unit (pinned by a pidfd
 * when it is handed over); no cgroup, no label. groups (max_groups) is the storage. */
void stage_owner_peer(uid_t uid, const char *unit, gid_t *groups, int max_groups, PolicyPeer *ret);
/* The staged context is being handed over: no expiry any more. */
void stage_disarm(Lease *l);
bool stage_owned_by(const Lease *l, const Peer *peer);
/* A context staged for peer holding exactly these devices (any mode, layout), or NULL. */
Lease *stage_find_for(const Manager *m, const Peer *peer, const Device *const *devices, size_t n);

/* closer.c: received fds nobody takes are closed by a helper thread. 0 or -errno. */
int closer_start(void);
/* closer_close: closes fd (a client's socket, an fd a client sent) on the closer thread, never
 * blocking the caller; inline before closer_start() and after closer_stop(). Takes fd < 0. */
void closer_close(int fd);
/* closer_stop: ends the closer thread at exit (bounded wait), closing its pipe. */
void closer_stop(void);

/*
 * caps.c: capabilities permitted only, raised around the calls that need them.
 * caps_setup: keeps CAP_SYS_RESOURCE, CAP_KILL (and CAP_CHOWN, for the daemon's own socket)
 *   permitted where they are, nothing effective or inheritable. 0 or -errno.
 * caps_raise/caps_lower: cap into the effective set of the calling thread and out again;
 *   errno is preserved, so they bracket a syscall. caps_raise returns true when it raised cap
 *   (false: already effective, or not permitted, and then the bracketed call fails as it
 *   would without it); caps_lower takes that and lowers only what caps_raise raised.
 * caps_forget: cap out of the permitted set for good.
 * caps_drop_thread: a helper thread gives up every capability it inherited.
 * caps_prlimit, caps_pidfd_send_signal: the call with the capability it needs raised, and the
 *   call's return and errno.
 */
int caps_setup(void);
bool caps_raise(int cap);
void caps_lower(int cap, bool raised);
void caps_forget(int cap);
void caps_drop_thread(void);
int caps_prlimit(pid_t pid, int resource, const struct rlimit *new_limit, struct rlimit *old_limit);
int caps_pidfd_send_signal(int pidfd, int sig);

/* state.c: systemd's view of the daemon: the fdstore and STATUS=. */
/* Stores l's record and fds as one fdstore entry "L<id>" (and, for a connection-lifetime
 * lease, its connection through hooks.connection_store). 0 or -errno. */
int state_store_lease(Manager *m, Lease *l);
void state_forget_lease(Manager *m, Lease *l);
/* A connection's socket under "C<id>". 0 or -errno. */
int state_store_connection(Manager *m, uint64_t id, int fd);
void state_forget_connection(Manager *m, uint64_t id);
/*
 * state_restore: restores leases from the stored fds (names[i] for fds[i]: entries "L<id>"
 * with each lease's record and files, "C<id>" connections; claimed entries are set to
 * -EBADF, the rest closed). The sockets
 * of connection-lifetime leases come back in *ret_conns (malloc'd; the caller adopts them and
 * tells state_restore_attach(), then calls state_restore_finish()). The owners' pidfds are
 * not watched yet (manager_restore()). Returns how many leases were restored.
 */
int state_restore(Manager *m, int *fds, char **names, size_t n, StoredConnection **ret_conns,
		  size_t *ret_n_conns);
/* The connection with the old id id was adopted as c (NULL: it could not be): its restored
 * leases are c's. */
void state_restore_attach(Manager *m, uint64_t id, Connection *c);
/* Restored connection-lifetime leases without their connection are dropped (logged), the
 * others stored again. Returns how many were dropped. */
int state_restore_finish(Manager *m);
/* sd_notify STATUS= with the lease and connection counts (under systemd only). */
void state_update_status(Manager *m);
