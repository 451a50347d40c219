/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libioasid: the public, json-free face of the client layer (common/client/). Each call maps
 * onto one ioasid_client_* call; results are copied into opaque structs read through
 * accessors, so the shared library's ABI does not follow the internal structs.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/client/client.h"
#include "include/ioasid/ioasid.h"

#define IOASID_PUBLIC __attribute__((visibility("default")))

struct ioasid_conn {
	IoasidClient *client;
	IoasidError error; /* of the last call */
};

struct ioasid_grant {
	IoasidAcquireResult *result;
};

struct ioasid_lease_list {
	IoasidLease *leases;
	size_t n;
};

IOASID_PUBLIC int ioasid_conn_open(const char *socket_path, ioasid_conn **ret) {
	ioasid_conn *c;
	int r;

	if (!ret)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = ioasid_client_connect(socket_path, &c->client);
	if (r < 0) {
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

IOASID_PUBLIC void ioasid_conn_close(ioasid_conn *c) {
	if (!c)
		return;
	ioasid_client_free(c->client);
	ioasid_error_done(&c->error);
	free(c);
}

IOASID_PUBLIC int ioasid_conn_fd(const ioasid_conn *c) {
	return c ? ioasid_client_fd(c->client) : -EINVAL;
}

IOASID_PUBLIC const char *ioasid_conn_error_name(const ioasid_conn *c) {
	return c ? c->error.name : NULL;
}

IOASID_PUBLIC const char *ioasid_conn_error_message(const ioasid_conn *c) {
	return c ? c->error.message : NULL;
}

IOASID_PUBLIC int ioasid_acquire(ioasid_conn *c, const ioasid_acquire_request *req,
				 ioasid_grant **ret) {
	IoasidAcquireRequest q = IOASID_ACQUIRE_REQUEST_INIT;
	_cleanup_(ioasid_acquire_result_freep) IoasidAcquireResult *res = NULL;
	_cleanup_strv_free_ char **devices = NULL;
	ioasid_grant *g;
	int r;

	if (!c || !req || !ret || !req->devices || req->n_devices == 0)
		return -EINVAL;
	if (req->mode != IOASID_MODE_ATTACHED && req->mode != IOASID_MODE_UNBOUND)
		return -EINVAL;
	if (req->lifetime != IOASID_LIFETIME_CONNECTION && req->lifetime != IOASID_LIFETIME_PROCESS)
		return -EINVAL;
	ioasid_error_done(&c->error);

	devices = calloc(req->n_devices + 1, sizeof(char *));
	if (!devices)
		return -ENOMEM;
	for (size_t i = 0; i < req->n_devices; i++) {
		if (!req->devices[i])
			return -EINVAL;
		devices[i] = strdup(req->devices[i]);
		if (!devices[i])
			return -ENOMEM;
	}
	q.devices = devices;
	q.mode = req->mode == IOASID_MODE_UNBOUND ? "unbound" : "attached";
	q.lifetime = req->lifetime == IOASID_LIFETIME_PROCESS ? "process" : "connection";

	r = ioasid_client_acquire(c->client, &q, &res, &c->error);
	if (r < 0)
		return r;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM; /* res (and its fds) freed: the lease ends with the connection */
	g->result = TAKE_PTR(res);
	*ret = g;
	return 0;
}

IOASID_PUBLIC void ioasid_grant_free(ioasid_grant *g) {
	if (!g)
		return;
	ioasid_acquire_result_free(g->result);
	free(g);
}

IOASID_PUBLIC const char *ioasid_grant_lease(const ioasid_grant *g) {
	return g ? g->result->lease : NULL;
}

IOASID_PUBLIC ioasid_mode ioasid_grant_mode(const ioasid_grant *g) {
	return g && g->result->mode && streq(g->result->mode, "unbound") ? IOASID_MODE_UNBOUND
									 : IOASID_MODE_ATTACHED;
}

IOASID_PUBLIC int ioasid_grant_iommufd(const ioasid_grant *g) {
	return g && g->result->iommufd >= 0 ? g->result->iommufd : -1;
}

IOASID_PUBLIC int64_t ioasid_grant_ioas_id(const ioasid_grant *g) {
	return g && g->result->ioas_id >= 0 ? g->result->ioas_id : -1;
}

IOASID_PUBLIC size_t ioasid_grant_n_devices(const ioasid_grant *g) {
	return g ? g->result->n_devices : 0;
}

IOASID_PUBLIC const char *ioasid_grant_device_bdf(const ioasid_grant *g, size_t i) {
	return g && i < g->result->n_devices ? g->result->devices[i].bdf : NULL;
}

IOASID_PUBLIC int ioasid_grant_device_fd(const ioasid_grant *g, size_t i) {
	return g && i < g->result->n_devices && g->result->devices[i].fd >= 0
		       ? g->result->devices[i].fd
		       : -1;
}

IOASID_PUBLIC int ioasid_release(ioasid_conn *c, const char *lease) {
	if (!c || !lease)
		return -EINVAL;
	ioasid_error_done(&c->error);
	return ioasid_client_release(c->client, lease, &c->error);
}

IOASID_PUBLIC int ioasid_list_leases(ioasid_conn *c, ioasid_lease_list **ret) {
	ioasid_lease_list *l;
	int r;

	if (!c || !ret)
		return -EINVAL;
	ioasid_error_done(&c->error);
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	r = ioasid_client_list_leases(c->client, &l->leases, &l->n, &c->error);
	if (r < 0) {
		free(l);
		return r;
	}
	*ret = l;
	return 0;
}

IOASID_PUBLIC void ioasid_lease_list_free(ioasid_lease_list *l) {
	if (!l)
		return;
	ioasid_leases_free(l->leases, l->n);
	free(l);
}

IOASID_PUBLIC size_t ioasid_lease_list_count(const ioasid_lease_list *l) {
	return l ? l->n : 0;
}

IOASID_PUBLIC const char *ioasid_lease_list_id(const ioasid_lease_list *l, size_t i) {
	return l && i < l->n ? l->leases[i].id : NULL;
}

IOASID_PUBLIC const char *ioasid_lease_list_mode(const ioasid_lease_list *l, size_t i) {
	return l && i < l->n ? l->leases[i].mode : NULL;
}

IOASID_PUBLIC const char *ioasid_lease_list_state(const ioasid_lease_list *l, size_t i) {
	return l && i < l->n ? l->leases[i].state : NULL;
}

IOASID_PUBLIC size_t ioasid_lease_list_n_devices(const ioasid_lease_list *l, size_t i) {
	return l && i < l->n ? strv_length(l->leases[i].devices) : 0;
}

IOASID_PUBLIC const char *ioasid_lease_list_device(const ioasid_lease_list *l, size_t i, size_t j) {
	return j < ioasid_lease_list_n_devices(l, i) ? l->leases[i].devices[j] : NULL;
}
