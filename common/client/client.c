/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The connection half of the client: connecting to ioasidd and one synchronous Varlink call
 * at a time, framing through common/varlink. Reply validation lives in client-reply.c.
 */
#include <fcntl.h>

#include "common/client/client.h"
#include "common/json-out.h"
#include "common/proto.h"
#include "common/varlink.h"

/* Replies are bounded like requests, with room for a large ListDevices answer. */
#define CLIENT_MAX_REPLY (16 * 1024 * 1024)
#define CLIENT_MAX_DEPTH 32

struct IoasidClient {
	VarlinkStream *stream;
	int timeout_ms;
	bool broken; /* a transport error happened: the stream may be mid-message */
};

const char *ioasid_client_socket_path(const char *path) {
	const char *e;
	if (path)
		return path;
	e = getenv("IOASID_SOCKET");
	return isempty(e) ? IOASID_SOCKET_PATH : e;
}

int ioasid_client_connect(const char *path, IoasidClient **ret) {
	_cleanup_close_ int fd = -EBADF;
	IoasidClient *c;
	int r;

	fd = varlink_connect(ioasid_client_socket_path(path));
	if (fd < 0)
		return fd;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = varlink_stream_new(fd, CLIENT_MAX_REPLY, CLIENT_MAX_DEPTH, 0, &c->stream);
	if (r < 0) {
		free(c);
		return r;
	}
	TAKE_FD(fd);
	c->timeout_ms = IOASID_CLIENT_TIMEOUT_MS;
	*ret = c;
	return 0;
}

IoasidClient *ioasid_client_free(IoasidClient *c) {
	if (!c)
		return NULL;
	varlink_stream_free(c->stream);
	free(c);
	return NULL;
}

int ioasid_client_fd(const IoasidClient *c) {
	return c ? varlink_stream_fd(c->stream) : -EBADF;
}

void ioasid_client_set_timeout(IoasidClient *c, int timeout_ms) {
	if (c)
		c->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

/*
 * The one call path. The request is built with json-c (parameters taken, may be NULL); the
 * reply is parsed strictly (doc_parse()) and read from its document. On success *ret_reply
 * owns the reply and *ret_parameters points into it.
 */
int ioasid_client_call(IoasidClient *c, const char *method, json_object *parameters,
		       Doc **ret_reply, const DocNode **ret_parameters, int **ret_fds,
		       size_t *ret_n_fds, IoasidError *ret_error) {
	_cleanup_free_ char *error = NULL;
	_cleanup_(doc_freep) Doc *reply = NULL;
	const DocNode *params = NULL;
	int *fds = NULL;
	size_t n_fds = 0;
	int r;

	if (!c || !method) {
		json_object_put(parameters);
		return -EINVAL;
	}
	if (c->broken) {
		json_object_put(parameters);
		return -ENOTCONN;
	}
	r = varlink_stream_call(c->stream, method, parameters, 0, c->timeout_ms, &error, &reply,
				&params, &fds, &n_fds);
	if (r < 0) {
		c->broken = true;
		return r;
	}
	if (error) {
		/* An error never carries fds the client could use: close any. */
		varlink_fds_free(fds, n_fds);
		if (ret_error) {
			ioasid_error_done(ret_error);
			ret_error->message = ioasid_error_format(error, params);
			ret_error->name = TAKE_PTR(error);
			ret_error->parameters = params;
			ret_error->doc = TAKE_PTR(reply);
		}
		return -EREMOTEIO;
	}
	if (n_fds > 0 && !ret_fds) {
		varlink_fds_free(fds, n_fds);
		return -EBADMSG;
	}
	if (ret_fds) {
		*ret_fds = fds;
		*ret_n_fds = n_fds;
	} else
		free(fds);
	if (ret_parameters)
		*ret_parameters = params;
	if (ret_reply)
		*ret_reply = TAKE_PTR(reply);
	return 0;
}

int ioasid_client_acquire(IoasidClient *c, const IoasidAcquireRequest *req,
			  IoasidAcquireResult **ret, IoasidError *ret_error) {
	_cleanup_(doc_freep) Doc *reply = NULL;
	const DocNode *params = NULL;
	int *fds = NULL;
	size_t n_fds = 0;
	int r;

	if (!req || (!!req->devices + (req->group >= 0) + !!req->pool + !!req->vdpa) != 1 ||
	    (req->count > 0 && !req->pool))
		return -EINVAL;
	json_out_reset();
	json_object *p = json_object_new_object();
	if (!p)
		return -ENOMEM;
	if (req->devices)
		json_add(p, "devices", json_strv(req->devices));
	if (req->group >= 0)
		json_add_int(p, "group", req->group);
	if (req->pool)
		json_add_str(p, "pool", req->pool);
	if (req->vdpa)
		json_add_str(p, "vdpa", req->vdpa);
	if (req->count > 0)
		json_add_int(p, "count", req->count);
	if (req->mode)
		json_add_str(p, "mode", req->mode);
	if (req->layout)
		json_add_str(p, "layout", req->layout);
	if (req->lifetime)
		json_add_str(p, "lifetime", req->lifetime);
	if (json_out_failed()) {
		json_object_put(p);
		return -ENOMEM;
	}

	r = ioasid_client_call(c, IOASID_IFACE_BROKER ".Acquire", p, &reply, &params, &fds, &n_fds,
			       ret_error);
	if (r < 0)
		return r;
	r = ioasid_acquire_result_from_reply(params, fds, n_fds, ret);
	free(fds);
	return r;
}

/* A request {key: value}. NULL on -ENOMEM. */
static json_object *request_str(const char *key, const char *value) {
	json_out_reset();
	json_object *p = json_object_new_object();
	if (p)
		json_add_str(p, key, value);
	if (p && json_out_failed())
		p = (json_object_put(p), NULL);
	return p;
}

int ioasid_client_release(IoasidClient *c, const char *lease, IoasidError *ret_error) {
	_cleanup_(doc_freep) Doc *reply = NULL;

	if (!lease)
		return -EINVAL;
	json_object *p = request_str("lease", lease);
	if (!p)
		return -ENOMEM;
	return ioasid_client_call(c, IOASID_IFACE_BROKER ".Release", p, &reply, NULL, NULL, NULL,
				  ret_error);
}

int ioasid_client_list_leases(IoasidClient *c, IoasidLease **ret, size_t *ret_n,
			      IoasidError *ret_error) {
	_cleanup_(doc_freep) Doc *reply = NULL;
	const DocNode *params, *a;
	IoasidLease *l;
	size_t n;
	int r;

	r = ioasid_client_call(c, IOASID_IFACE_BROKER ".ListLeases", NULL, &reply, &params, NULL,
			       NULL, ret_error);
	if (r < 0)
		return r;
	a = doc_get(params, "leases");
	if (doc_type(a) != DOC_ARRAY)
		return -EBADMSG;
	n = doc_len(a);
	l = calloc(n + 1, sizeof(IoasidLease));
	if (!l)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = ioasid_lease_from_json(doc_at(a, i), &l[i]);
		if (r < 0) {
			ioasid_leases_free(l, i + 1);
			return r;
		}
	}
	*ret = l;
	*ret_n = n;
	return 0;
}

int ioasid_client_status(IoasidClient *c, IoasidStatus **ret, IoasidError *ret_error) {
	_cleanup_(doc_freep) Doc *reply = NULL;
	const DocNode *params;
	int r;

	r = ioasid_client_call(c, IOASID_IFACE_MANAGER ".Status", NULL, &reply, &params, NULL, NULL,
			       ret_error);
	if (r < 0)
		return r;
	return ioasid_status_from_json(params, ret);
}

int ioasid_client_revoke(IoasidClient *c, const char *lease, bool reset, bool signal,
			 char **ret_state, IoasidError *ret_error) {
	_cleanup_(doc_freep) Doc *reply = NULL;
	const DocNode *params = NULL;
	int r;

	if (!lease)
		return -EINVAL;
	json_object *p = request_str("lease", lease);
	if (!p)
		return -ENOMEM;
	json_add_bool(p, "reset", reset);
	json_add_bool(p, "signal", signal);
	if (json_out_failed()) {
		json_object_put(p);
		return -ENOMEM;
	}
	r = ioasid_client_call(c, IOASID_IFACE_MANAGER ".Revoke", p, &reply, &params, NULL, NULL,
			       ret_error);
	if (r < 0)
		return r;
	const char *st = doc_str(doc_get(params, "state"));
	if (!st)
		return -EBADMSG;
	if (ret_state) {
		*ret_state = strdup(st);
		if (!*ret_state)
			return -ENOMEM;
	}
	return 0;
}

void ioasid_event_done(IoasidEvent *e) {
	if (!e)
		return;
	free(e->event);
	free(e->bdf);
	free(e->lease);
	free(e->cause);
	free(e->verdict);
	free(e->vdpa);
	*e = (IoasidEvent){ .group = -1, .generation = -1 };
}

/* An optional string member: absent or null leaves *ret NULL; another type is -EBADMSG. */
static int event_str(const DocNode *p, const char *key, char **ret) {
	const DocNode *v = doc_get(p, key);
	if (!v)
		return 0;
	if (doc_type(v) != DOC_STRING)
		return -EBADMSG;
	*ret = strdup(v->str.s);
	return *ret ? 0 : -ENOMEM;
}

static int event_int(const DocNode *p, const char *key, int64_t *ret) {
	const DocNode *v = doc_get(p, key);
	if (!v)
		return 0;
	if (doc_type(v) != DOC_INT)
		return -EBADMSG;
	*ret = v->i;
	return 0;
}

/* The parameters of a Monitor reply as an event (members of the IDL; others ignored). */
static int event_from_params(const DocNode *p, IoasidEvent *e) {
	int r;
	*e = (IoasidEvent){ .group = -1, .generation = -1 };
	if (!doc_str(doc_get(p, "event")))
		return -EBADMSG;
	if ((r = event_str(p, "event", &e->event)) < 0 || (r = event_str(p, "bdf", &e->bdf)) < 0 ||
	    (r = event_str(p, "lease", &e->lease)) < 0 ||
	    (r = event_str(p, "cause", &e->cause)) < 0 ||
	    (r = event_int(p, "group", &e->group)) < 0 ||
	    (r = event_str(p, "verdict", &e->verdict)) < 0 ||
	    (r = event_int(p, "generation", &e->generation)) < 0 ||
	    (r = event_str(p, "vdpa", &e->vdpa)) < 0) {
		ioasid_event_done(e);
		return r;
	}
	return 0;
}

/* One reply of the Monitor stream: its event, or the error it carries. */
static int monitor_reply(IoasidClient *c, Doc **msg, IoasidEvent *ret, IoasidError *ret_error) {
	const char *error = NULL;
	const DocNode *params = NULL;
	bool continues = false;
	int r = varlink_parse_reply(doc_root(*msg), &error, &params, &continues);
	if (r < 0) {
		c->broken = true;
		return r;
	}
	if (error) {
		c->broken = true;
		if (ret_error) {
			ioasid_error_done(ret_error);
			ret_error->message = ioasid_error_format(error, params);
			ret_error->name = strdup(error);
			ret_error->parameters = params;
			ret_error->doc = TAKE_PTR(*msg);
		}
		return -EREMOTEIO;
	}
	if (!continues) {
		c->broken = true;
		return -EPIPE;
	}
	r = event_from_params(params, ret);
	if (r == -EBADMSG)
		c->broken = true;
	return r;
}

int ioasid_client_monitor_next(IoasidClient *c, int timeout_ms, IoasidEvent *ret,
			       IoasidError *ret_error) {
	_cleanup_(doc_freep) Doc *msg = NULL;
	if (!c || !ret)
		return -EINVAL;
	if (c->broken)
		return -ENOTCONN;
	int r = varlink_stream_read_message(c->stream, timeout_ms, &msg, NULL, NULL);
	if (r == -ETIMEDOUT)
		return r;
	if (r < 0) {
		c->broken = true;
		return r;
	}
	return monitor_reply(c, &msg, ret, ret_error);
}

int ioasid_client_monitor(IoasidClient *c, IoasidError *ret_error) {
	_cleanup_(json_object_putp) json_object *call = NULL;
	if (!c)
		return -EINVAL;
	if (c->broken)
		return -ENOTCONN;
	int r = varlink_build_call(IOASID_IFACE_BROKER ".Monitor", NULL, VARLINK_CALL_MORE, &call);
	if (r < 0)
		return r;
	r = varlink_stream_send(c->stream, call, NULL, 0);
	if (r < 0) {
		c->broken = true;
		return r;
	}
	IoasidEvent first;
	r = ioasid_client_monitor_next(c, c->timeout_ms, &first, ret_error);
	if (r < 0)
		return r;
	bool subscribed = streq(first.event, "subscribed");
	ioasid_event_done(&first);
	if (!subscribed) {
		c->broken = true;
		return -EBADMSG;
	}
	return 0;
}

void ioasid_staged_free(IoasidStaged *s, size_t n) {
	for (size_t i = 0; s && i < n; i++) {
		free(s[i].id);
		free(s[i].layout);
		free(s[i].owner);
		free(s[i].mode);
		strv_free(s[i].devices);
	}
	free(s);
}

int ioasid_client_stage(IoasidClient *c, const char *layout, const char *owner, char **devices,
			const char *mode, char **ret_id, IoasidError *ret_error) {
	return ioasid_client_stage_timeout(c, layout, owner, devices, mode, 0, ret_id, NULL,
					   ret_error);
}

int ioasid_client_stage_timeout(IoasidClient *c, const char *layout, const char *owner,
				char **devices, const char *mode, uint64_t timeout, char **ret_id,
				int64_t *ret_expires, IoasidError *ret_error) {
	_cleanup_(doc_freep) Doc *reply = NULL;
	const DocNode *params = NULL;
	int r;

	if (!owner || !devices || !devices[0])
		return -EINVAL;
	json_out_reset();
	json_object *p = json_object_new_object();
	if (!p)
		return -ENOMEM;
	json_add(p, "devices", json_strv(devices));
	json_add_str(p, "layout", layout ? layout : "default");
	json_add_str(p, "owner", owner);
	if (mode)
		json_add_str(p, "mode", mode);
	if (timeout > 0)
		json_add_int(p, "timeout", (int64_t)MIN(timeout, (uint64_t)INT64_MAX));
	if (json_out_failed()) {
		json_object_put(p);
		return -ENOMEM;
	}
	r = ioasid_client_call(c, IOASID_IFACE_MANAGER ".Stage", p, &reply, &params, NULL, NULL,
			       ret_error);
	if (r < 0)
		return r;
	const char *id = doc_str(doc_get(params, "id"));
	if (!id)
		return -EBADMSG;
	if (ret_expires) {
		const DocNode *ex = doc_get(params, "expires");
		*ret_expires = doc_type(ex) == DOC_INT ? ex->i : 0;
	}
	if (ret_id && !(*ret_id = strdup(id)))
		return -ENOMEM;
	return 0;
}

static int staged_str(const DocNode *o, const char *key, char **ret) {
	const char *v = doc_str(doc_get(o, key));
	if (!v)
		return -EBADMSG;
	*ret = strdup(v);
	return *ret ? 0 : -ENOMEM;
}

int ioasid_client_list_staged(IoasidClient *c, IoasidStaged **ret, size_t *ret_n,
			      IoasidError *ret_error) {
	_cleanup_(doc_freep) Doc *reply = NULL;
	const DocNode *params = NULL;
	int r = ioasid_client_call(c, IOASID_IFACE_MANAGER ".ListStaged", NULL, &reply, &params,
				   NULL, NULL, ret_error);
	if (r < 0)
		return r;
	const DocNode *arr = doc_get(params, "staged");
	if (doc_type(arr) != DOC_ARRAY)
		return -EBADMSG;
	size_t n = doc_len(arr);
	IoasidStaged *s = calloc(n + 1, sizeof(IoasidStaged));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const DocNode *o = doc_at(arr, i), *devs = doc_get(o, "devices"),
			      *cr = doc_get(o, "created");
		if (doc_type(o) != DOC_OBJECT || (r = staged_str(o, "id", &s[i].id)) < 0 ||
		    (r = staged_str(o, "layout", &s[i].layout)) < 0 ||
		    (r = staged_str(o, "owner", &s[i].owner)) < 0 ||
		    (r = staged_str(o, "mode", &s[i].mode)) < 0 || doc_type(devs) != DOC_ARRAY ||
		    doc_type(cr) != DOC_INT) {
			ioasid_staged_free(s, n);
			return r < 0 ? r : -EBADMSG;
		}
		s[i].created = cr->i;
		const DocNode *ex = doc_get(o, "expires");
		if (doc_type(ex) == DOC_INT)
			s[i].expires = ex->i;
		for (size_t j = 0; j < doc_len(devs); j++) {
			const char *d = doc_str(doc_at(devs, j));
			if (!d || strv_extend(&s[i].devices, d) < 0) {
				ioasid_staged_free(s, n);
				return d ? -ENOMEM : -EBADMSG;
			}
		}
	}
	*ret = s;
	*ret_n = n;
	return 0;
}

int ioasid_client_drop_staged(IoasidClient *c, const char *id, IoasidError *ret_error) {
	_cleanup_(doc_freep) Doc *reply = NULL;
	if (!id)
		return -EINVAL;
	json_object *p = request_str("id", id);
	if (!p)
		return -ENOMEM;
	return ioasid_client_call(c, IOASID_IFACE_MANAGER ".DropStaged", p, &reply, NULL, NULL,
				  NULL, ret_error);
}
