/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The client side of ioasidd's Varlink interfaces (io.ioasid.Broker, io.ioasid.Manager).
 * Used by ioasidctl; usable by any program that wants device fds from the daemon.
 *
 * One IoasidClient is one connection. Leases with lifetime "connection" (the default) live
 * as long as the connection: ioasid_client_free() ends them. A lease that ends while its fds
 * are still open (here or in a process they were passed to) keeps its IOMMU groups in the
 * daemon, "held by ended lease", until they are closed: close them before releasing. Calls
 * are synchronous, one at a time.
 *
 * Errors: every call returns 0 (or >= 0) on success and -errno on failure:
 *   -EREMOTEIO  the daemon answered with a named Varlink error; *ret_error (when given) holds
 *               its name, its parameters and a human message;
 *   -EBADMSG    the reply was malformed: not JSON, missing or mistyped fields, fd indices out
 *               of range or used twice, more fds than the reply references (every received
 *               fd is closed in that case);
 *   -ECONNRESET the daemon closed the connection (or died) before answering;
 *   other       -errno of socket(), connect(), sendmsg(), recvmsg(), -ENOMEM.
 *
 * fds: every fd received is O_CLOEXEC (MSG_CMSG_CLOEXEC at receive; checked again). The
 * result structs own them; *_free() closes what the caller did not TAKE_FD().
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/doc.h"
#include "common/macro.h"
#include "common/util.h"

typedef struct IoasidClient IoasidClient;

/* A named error from the daemon. All fields NULL when no error was received. */
typedef struct IoasidError {
	char *name;                /* "io.ioasid.Broker.GroupOwned" */
	const DocNode *parameters; /* the error's parameters (inside doc), or NULL */
	Doc *doc;                  /* owned: the parsed error message */
	char *message;             /* one human line built from name + parameters */
} IoasidError;

void ioasid_error_done(IoasidError *e);
/* True when e carries the named error (exact name). */
bool ioasid_error_is(const IoasidError *e, const char *name);
/* Builds the human message for a named error (also used by tests). Returns a malloc'd
 * string, or NULL on -ENOMEM. */
char *ioasid_error_format(const char *name, const DocNode *parameters);

typedef struct IoasidAcquireRequest {
	char **devices;       /* BDFs (strv), or NULL */
	int group;            /* IOMMU group, or -1 */
	const char *pool;     /* pool name, or NULL; goes with count */
	const char *vdpa;     /* a vDPA device's name, or NULL (mode vhost-vdpa) */
	unsigned count;       /* 0 = unset */
	const char *mode;     /* "attached" | "unbound" | "vhost-vdpa" | NULL (daemon default:
			       * attached; vhost-vdpa for vdpa) */
	const char *layout;   /* NULL = none */
	const char *lifetime; /* "connection" | "process" | NULL */
} IoasidAcquireRequest;

#define IOASID_ACQUIRE_REQUEST_INIT                                                                \
	{ .group = -1 }

typedef struct IoasidGrantedDevice {
	char bdf[BDF_MAX];
	int fd;          /* owned by the result */
	int64_t dev_id;  /* -1 when not attached */
	int64_t hwpt_id; /* -1 when not attached */
	int group_fd;    /* legacy: its group node (an entry of the result's group_fds, not
			  * owned here), or -EBADF when the reply gives none */
} IoasidGrantedDevice;

typedef struct IoasidAcquireResult {
	char *lease;
	char *mode;
	int iommufd;     /* owned by the result */
	int64_t ioas_id; /* -1 when the reply has none (unbound mode) */
	IoasidGrantedDevice *devices;
	size_t n_devices;
	char **at_risk;  /* strv, never NULL */
	int64_t memlock; /* the holder's RLIMIT_MEMLOCK after the grant (read back); -1 unknown */
	char *staged;    /* the staged context it was served from, or NULL */
	char **warnings; /* strv, never NULL */
	uint64_t generation;
	char *rule;
	/* "iommufd" (iommufd above is set) or "legacy" (iommufd is -EBADF; container is a VFIO
	 * container with TYPE1v2 and the lease's groups set on it). A reply without "api" is
	 * an iommufd one. */
	char *api;
	int container;  /* legacy: owned by the result; else -EBADF */
	int *group_fds; /* legacy: the group node fds handed out, owned by the result */
	size_t n_group_fds;
	/* "vhost-vdpa": the vDPA device's /dev/vhost-vdpa-N (owned by the result; else -EBADF)
	 * and its name; iommufd and container are -EBADF and there are no devices. */
	int vhost_fd;
	char *vdpa;
} IoasidAcquireResult;

IoasidAcquireResult *ioasid_acquire_result_free(IoasidAcquireResult *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(IoasidAcquireResult *, ioasid_acquire_result_free)

/* The device of the result with that BDF, or NULL. */
const IoasidGrantedDevice *ioasid_acquire_result_device(const IoasidAcquireResult *r,
							const char *bdf);

typedef struct IoasidLease {
	char *id;
	int64_t uid;
	int64_t pid; /* -1 when absent */
	char *unit;  /* NULL when absent */
	char *mode;
	char *layout; /* NULL when absent */
	char **devices;
	int *groups;
	size_t n_groups;
	char *vdpa; /* vhost-vdpa mode: the vDPA device; NULL otherwise */
	char *lifetime;
	char *state; /* "pending", "active", "revoked", "ended" */
	char **held; /* revoked or ended: devices whose files are still open elsewhere (strv,
		      * never NULL; empty from a daemon that does not say) */
	uint64_t generation;
	int64_t created; /* as the daemon reports it (seconds or usec since the epoch) */
} IoasidLease;

void ioasid_leases_free(IoasidLease *l, size_t n);

typedef struct IoasidStatus {
	char *version;
	char *kernel;
	char *api;
	uint64_t generation;
	int64_t leases;
	int64_t connections;
	char *accounting;
	char **warnings;
	char **held; /* "BDF (IOMMU group N): held by ended lease L (uid U, pid P)" lines */
} IoasidStatus;

IoasidStatus *ioasid_status_free(IoasidStatus *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(IoasidStatus *, ioasid_status_free)

/*
 * ioasid_client_socket_path: path when not NULL, else $IOASID_SOCKET when set and non-empty,
 * else IOASID_SOCKET_PATH. Never NULL.
 */
const char *ioasid_client_socket_path(const char *path);

/*
 * ioasid_client_connect: connects to the daemon's socket (see ioasid_client_socket_path).
 * Returns 0, -ENOENT / -ECONNREFUSED when no daemon listens, -EACCES when the socket is not
 * ours to use, -ENAMETOOLONG, other -errno.
 */
int ioasid_client_connect(const char *path, IoasidClient **ret);
/* Closes the connection: the daemon ends every connection-lifetime lease. Takes NULL. */
IoasidClient *ioasid_client_free(IoasidClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(IoasidClient *, ioasid_client_free)
/* The connection's fd (for poll()ing for a hang-up while holding a lease). */
int ioasid_client_fd(const IoasidClient *c);
/* How long one call waits for its reply, in ms (-1 = forever). The default is
 * IOASID_CLIENT_TIMEOUT_MS. A call that times out returns -ETIMEDOUT and the connection is
 * unusable afterwards (-ENOTCONN). */
#define IOASID_CLIENT_TIMEOUT_MS (60 * 1000)
void ioasid_client_set_timeout(IoasidClient *c, int timeout_ms);

/*
 * ioasid_client_call: one raw method call. parameters (taken) may be NULL ({}). On success
 * the reply is parsed strictly (doc_parse()): *ret_reply (may be NULL when the caller does
 * not read it; caller frees with doc_free()) owns it and *ret_parameters (may be NULL) points
 * to its parameters object inside it; when ret_fds is not NULL, the received fds (malloc'd
 * array, owned by the caller); a reply carrying fds when ret_fds is NULL is -EBADMSG (the
 * fds are closed). Errnos as described at the top.
 */
int ioasid_client_call(IoasidClient *c, const char *method, json_object *parameters,
		       Doc **ret_reply, const DocNode **ret_parameters, int **ret_fds,
		       size_t *ret_n_fds, IoasidError *ret_error);

/*
 * io.ioasid.Broker.Acquire. Exactly one of devices, group or pool must be set (-EINVAL
 * otherwise, before anything is sent). On success the result owns the iommufd (legacy: the
 * container and the group fds) and the device fds; every received fd is referenced exactly
 * once by the reply (else -EBADMSG and all are closed).
 */
int ioasid_client_acquire(IoasidClient *c, const IoasidAcquireRequest *req,
			  IoasidAcquireResult **ret, IoasidError *ret_error);
/* io.ioasid.Broker.Release. */
int ioasid_client_release(IoasidClient *c, const char *lease, IoasidError *ret_error);
/* io.ioasid.Broker.ListLeases: the leases the daemon shows this peer. */
int ioasid_client_list_leases(IoasidClient *c, IoasidLease **ret, size_t *ret_n,
			      IoasidError *ret_error);
/* io.ioasid.Manager.Status (admin). */
int ioasid_client_status(IoasidClient *c, IoasidStatus **ret, IoasidError *ret_error);
/* io.ioasid.Manager.Revoke (admin). *ret_state (may be NULL) gets the lease's new state. */
int ioasid_client_revoke(IoasidClient *c, const char *lease, bool reset, bool signal,
			 char **ret_state, IoasidError *ret_error);
/*
 * io.ioasid.Broker.Monitor: subscribes (a call with more) and checks that the first reply is
 * event "subscribed". 0, -EREMOTEIO with *ret_error, -EBADMSG, or a transport error.
 */
int ioasid_client_monitor(IoasidClient *c, IoasidError *ret_error);
/* One event of io.ioasid.Broker.Monitor: the members of the IDL (NULL or -1 when absent). */
typedef struct IoasidEvent {
	char *event; /* never NULL */
	char *bdf;
	char *lease;
	char *cause;
	int64_t group; /* -1: absent */
	char *verdict;
	int64_t generation; /* -1: absent */
	char *vdpa;         /* a vhost-vdpa lease's vDPA device (its events have no bdf) */
} IoasidEvent;
void ioasid_event_done(IoasidEvent *e);

/*
 * ioasid_client_monitor_next: the next event after ioasid_client_monitor(), waiting up to
 * timeout_ms (-1: forever; 0: only what has arrived). *ret is the event (caller frees with
 * ioasid_event_done()). Returns 0, -ETIMEDOUT,
 * -ECONNRESET when the daemon closed the connection, -EREMOTEIO with *ret_error (an error
 * ends the stream), -EPIPE when a reply said no more follow, -EBADMSG, or -errno.
 */
int ioasid_client_monitor_next(IoasidClient *c, int timeout_ms, IoasidEvent *ret,
			       IoasidError *ret_error);

/* A context pre-staged by io.ioasid.Manager.Stage. */
typedef struct IoasidStaged {
	char *id;
	char *layout; /* "default" when none */
	char *owner;  /* "uid N", "user NAME", "unit NAME" */
	char *mode;
	char **devices;
	int64_t created;
	int64_t expires; /* CLOCK_REALTIME seconds; 0 when the daemon does not say */
} IoasidStaged;

void ioasid_staged_free(IoasidStaged *s, size_t n);

/* io.ioasid.Manager.Stage (admin). layout NULL = "default"; mode NULL = attached. devices is
 * a non-empty strv (-EINVAL otherwise). *ret_id (malloc'd) gets the staged context's id. */
int ioasid_client_stage(IoasidClient *c, const char *layout, const char *owner, char **devices,
			const char *mode, char **ret_id, IoasidError *ret_error);
/* The same with a timeout in seconds (0: the daemon's stage-timeout); *ret_expires (may be
 * NULL) gets when it is dropped (CLOCK_REALTIME seconds, 0 when the daemon does not say). */
int ioasid_client_stage_timeout(IoasidClient *c, const char *layout, const char *owner,
				char **devices, const char *mode, uint64_t timeout, char **ret_id,
				int64_t *ret_expires, IoasidError *ret_error);
/* io.ioasid.Manager.ListStaged (admin). */
int ioasid_client_list_staged(IoasidClient *c, IoasidStaged **ret, size_t *ret_n,
			      IoasidError *ret_error);
/* io.ioasid.Manager.DropStaged (admin). */
int ioasid_client_drop_staged(IoasidClient *c, const char *id, IoasidError *ret_error);

/*
 * ioasid_acquire_result_from_reply: validates an Acquire reply's parameters against the fds
 * received with it and builds the result. Takes ownership of every fd in fds (closing all of
 * them on failure and any the reply does not reference). Returns 0 or -EBADMSG / -ENOMEM.
 * Exposed for the unit tests and for programs that speak the protocol themselves.
 */
int ioasid_acquire_result_from_reply(const DocNode *parameters, int *fds, size_t n_fds,
				     IoasidAcquireResult **ret);

/* Parse one Lease of ListLeases / the parameters of Manager.Status. -EBADMSG, -ENOMEM. On
 * failure the lease may be partly filled: free it with ioasid_leases_free(). */
int ioasid_lease_from_json(const DocNode *o, IoasidLease *ret);
int ioasid_status_from_json(const DocNode *o, IoasidStatus **ret);

/* What a received fd is, checked in the receiving process. */
typedef enum IoasidFdKind {
	IOASID_FD_OTHER,
	IOASID_FD_IOMMUFD,     /* /dev/iommu, or the sim's "ioasid-sim:iommufd:N" memfd */
	IOASID_FD_VFIO_DEVICE, /* a vfio cdev, or the sim's "ioasid-sim:vfio:BDF" memfd */
	/* Legacy VFIO: /dev/vfio/vfio (sim: "ioasid-sim:vfio-container:N"), a group node
	 * /dev/vfio/N (sim: "ioasid-sim:vfio-group:N", group set), a device fd obtained from a
	 * group ("anon_inode:[vfio-device]", no BDF; sim: "ioasid-sim:vfio-legacy:BDF"). */
	IOASID_FD_VFIO_CONTAINER,
	IOASID_FD_VFIO_GROUP,
	IOASID_FD_VFIO_LEGACY_DEVICE,
	/* A vDPA device's /dev/vhost-vdpa-N (sim: "ioasid-sim:vhost-vdpa:NAME"). */
	IOASID_FD_VHOST_VDPA,
} IoasidFdKind;

typedef struct IoasidFdInfo {
	IoasidFdKind kind;
	bool sim;              /* a memfd of the sim kernel */
	char *name;            /* "/dev/iommu", "/dev/vfio/devices/vfio3", "memfd:ioasid-sim:..." */
	char bdf[BDF_MAX];     /* for a vfio device: the PCI device behind it; "" otherwise */
	int group;             /* for a vfio group node: its number; -1 otherwise */
	unsigned major, minor; /* for a char device */
	bool cloexec;
} IoasidFdInfo;

void ioasid_fd_info_done(IoasidFdInfo *i);

/*
 * ioasid_fd_describe: fstat()s fd and says what it is. A char device is resolved through
 * /sys/dev/char/MAJ:MIN (sysfs_root overrides "/sys" for tests; NULL = "/sys"): the iommu
 * misc device is "/dev/iommu"; a vfio-dev cdev names its PCI device. A memfd is named from
 * /proc/self/fd/N. Returns 0, -EBADF, -ENOMEM, -errno of fstat.
 */
int ioasid_fd_describe(int fd, const char *sysfs_root, IoasidFdInfo *ret);
const char *ioasid_fd_kind_to_string(IoasidFdKind k);
