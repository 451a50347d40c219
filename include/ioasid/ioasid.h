/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef IOASID_IOASID_H
#define IOASID_IOASID_H

/*
 * libioasid: the client library of ioasidd, the iommufd/VFIO broker. See libioasid(3).
 *
 * Plain C: no json-c or other dependency leaks into this header. One ioasid_conn is one
 * connection to the daemon; calls on it are synchronous, one at a time.
 *
 * Every call returns 0 (or >= 0) on success and a negative errno on failure. -EREMOTEIO means
 * the daemon answered with a named error: ioasid_conn_error_name() and
 * ioasid_conn_error_message() describe the last one, until the next call on that connection.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ioasid_conn ioasid_conn;
typedef struct ioasid_grant ioasid_grant;
typedef struct ioasid_lease_list ioasid_lease_list;

/* Connects to the daemon: socket_path, or $IOASID_SOCKET when NULL, or the default. */
int ioasid_conn_open(const char *socket_path, ioasid_conn **ret);
/* Closes the connection (the daemon ends its connection-lifetime leases). Takes NULL. */
void ioasid_conn_close(ioasid_conn *c);
/* The connection's socket fd, for poll()ing for a hang-up. */
int ioasid_conn_fd(const ioasid_conn *c);
/* The last named error of the daemon on this connection ("io.ioasid.Broker.NoSuchDevice") and
 * a human line for it; NULL when the last call did not end in a named error. */
const char *ioasid_conn_error_name(const ioasid_conn *c);
const char *ioasid_conn_error_message(const ioasid_conn *c);

typedef enum ioasid_mode {
	IOASID_MODE_ATTACHED = 0, /* devices bound to the iommufd, attached to one IOAS */
	IOASID_MODE_UNBOUND = 1,  /* the caller binds and attaches the device fds itself */
} ioasid_mode;

typedef enum ioasid_lifetime {
	IOASID_LIFETIME_CONNECTION = 0, /* the lease ends with the connection */
	IOASID_LIFETIME_PROCESS = 1,    /* the lease ends when the calling process exits */
} ioasid_lifetime;

typedef struct ioasid_acquire_request {
	const char *const *devices; /* PCI addresses ("0000:01:00.0"), n_devices of them */
	size_t n_devices;
	ioasid_mode mode;
	ioasid_lifetime lifetime;
} ioasid_acquire_request;

/* io.ioasid.Broker.Acquire: the devices of req, as one lease. -EINVAL on an empty or bad
 * request (nothing is sent). The grant owns every fd it holds: ioasid_grant_free() closes
 * them; dup() what must outlive it. */
int ioasid_acquire(ioasid_conn *c, const ioasid_acquire_request *req, ioasid_grant **ret);
void ioasid_grant_free(ioasid_grant *g);
const char *ioasid_grant_lease(const ioasid_grant *g);
ioasid_mode ioasid_grant_mode(const ioasid_grant *g);
/* The iommufd, or -1 when the grant has none (a legacy VFIO host). */
int ioasid_grant_iommufd(const ioasid_grant *g);
/* The IOAS the devices are attached to; -1 in unbound mode. */
int64_t ioasid_grant_ioas_id(const ioasid_grant *g);
size_t ioasid_grant_n_devices(const ioasid_grant *g);
/* Device i (< n_devices): its PCI address and its VFIO device fd; NULL / -1 out of range. */
const char *ioasid_grant_device_bdf(const ioasid_grant *g, size_t i);
int ioasid_grant_device_fd(const ioasid_grant *g, size_t i);

/* io.ioasid.Broker.Release: ends the lease (close its fds first). */
int ioasid_release(ioasid_conn *c, const char *lease);

/* io.ioasid.Broker.ListLeases: the leases the daemon shows this caller. */
int ioasid_list_leases(ioasid_conn *c, ioasid_lease_list **ret);
void ioasid_lease_list_free(ioasid_lease_list *l);
size_t ioasid_lease_list_count(const ioasid_lease_list *l);
/* Of lease i (< count); NULL out of range. State: "pending", "active", "revoked", "ended". */
const char *ioasid_lease_list_id(const ioasid_lease_list *l, size_t i);
const char *ioasid_lease_list_mode(const ioasid_lease_list *l, size_t i);
const char *ioasid_lease_list_state(const ioasid_lease_list *l, size_t i);
size_t ioasid_lease_list_n_devices(const ioasid_lease_list *l, size_t i);
const char *ioasid_lease_list_device(const ioasid_lease_list *l, size_t i, size_t j);

#ifdef __cplusplus
}
#endif

#endif
