/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The connection half of the client: connecting to ioasidd and one synchronous Varlink call
 * at a time, framing through common/varlink. Reply validation lives in client-reply.c.
 */
#include <fcntl.h>

#include "common/client/client.h"
#include "common/json-write.h"
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
 * The one call path. The request's parameters and the reply are documents (common/doc.h):
 * parsing a reply into json-c objects was most of a client's work per Acquire. On success
 * *ret_reply owns the reply and *ret_parameters points into it.
 */
static int client_call_doc(IoasidClient *c, const char *method, const DocNode *parameters,
			   Doc **ret_reply, const DocNode **ret_parameters, int **ret_fds,
			   size_t *ret_n_fds, IoasidError *ret_error) {
	_cleanup_free_ char *error = NULL;
	_cleanup_(doc_freep) Doc *reply = NULL;
	const DocNode *params = NULL;
	int *fds = NULL;
	size_t n_fds = 0;
	int r;

	if (!c || !method)
		return -EINVAL;
	if (c->broken)
		return -ENOTCONN;
	r = varlink_stream_call_doc(c->stream, method, parameters, 0, c->timeout_ms, &error, &reply,
				    &params, &fds, &n_fds);
	if (r < 0) {
		c->broken = true;
		return r;
	}
	if (error) {
		/* An error never carries fds the client could use: close any. */
		varlink_fds_free(fds, n_fds);
		if (ret_error) {
			json_object *p = NULL;
			if (doc_to_json(params, &p) < 0)
				return -ENOMEM;
			ioasid_error_done(ret_error);
			ret_error->message = ioasid_error_format(error, p);
			ret_error->name = TAKE_PTR(error);
			ret_error->parameters = p;
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
	*ret_parameters = params;
	*ret_reply = TAKE_PTR(reply);
	return 0;
}

int ioasid_client_call(IoasidClient *c, const char *method, json_object *parameters,
		       json_object **ret_parameters, int **ret_fds, size_t *ret_n_fds,
		       IoasidError *ret_error) {
	_cleanup_(doc_freep) Doc *request = NULL, *reply = NULL;
	DocNode *p = NULL;
	const DocNode *params = NULL;
	int *fds = NULL;
	size_t n_fds = 0;
	int r;

	if (parameters) {
		request = doc_new();
		if (!request || json_to_doc(request, parameters, &p) < 0)
			return -ENOMEM;
	}
	r = client_call_doc(c, method, p, &reply, &params, ret_fds ? &fds : NULL, &n_fds,
			    ret_error);
	if (r < 0)
		return r;
	json_object *o = NULL;
	if (ret_parameters && doc_to_json(params, &o) < 0) {
		varlink_fds_free(fds, n_fds);
		return -ENOMEM;
	}
	if (ret_fds) {
		*ret_fds = fds;
		*ret_n_fds = n_fds;
	}
	if (ret_parameters)
		*ret_parameters = o;
	return 0;
}

static int add_str(json_object *o, const char *key, const char *v) {
	json_object *s;
	if (!v)
		return 0;
	s = json_object_new_string(v);
	if (!s || json_object_object_add(o, key, s) < 0) {
		json_object_put(s);
		return -ENOMEM;
	}
	return 0;
}

static int add_bool(json_object *o, const char *key, bool v) {
	json_object *b = json_object_new_boolean(v);
	if (!b || json_object_object_add(o, key, b) < 0) {
		json_object_put(b);
		return -ENOMEM;
	}
	return 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)

/* Request building for the hot calls: any failed allocation leaves a NULL node, which
 * doc_add() with a NULL object refuses; checked once by the caller through *oom. */
static void req_str(Doc *d, DocNode *o, const char *key, const char *v, bool *oom) {
	if (v && doc_add(d, o, key, doc_string(d, v) ?: (*oom = true, NULL)) < 0)
		*oom = true;
}

static void req_int(Doc *d, DocNode *o, const char *key, int64_t v, bool *oom) {
	if (doc_add(d, o, key, doc_int(d, v) ?: (*oom = true, NULL)) < 0)
		*oom = true;
}

int ioasid_client_acquire(IoasidClient *c, const IoasidAcquireRequest *req,
			  IoasidAcquireResult **ret, IoasidError *ret_error) {
	_cleanup_(doc_freep) Doc *d = NULL, *reply = NULL;
	const DocNode *params = NULL;
	int *fds = NULL;
	size_t n_fds = 0;
	bool oom = false;
	int r;

	if (!req || (!!req->devices + (req->group >= 0) + !!req->pool + !!req->vdpa) != 1 ||
	    (req->count > 0 && !req->pool))
		return -EINVAL;
	d = doc_new();
	DocNode *p = d ? doc_object(d) : NULL;
	if (!p)
		return -ENOMEM;
	if (req->devices) {
		DocNode *a = doc_array(d);
		if (!a || doc_add(d, p, "devices", a) < 0)
			return -ENOMEM;
		for (char **dev = req->devices; *dev; dev++) {
			DocNode *e = doc_string(d, *dev);
			if (!e || doc_append(d, a, e) < 0)
				return -ENOMEM;
		}
	}
	if (req->group >= 0)
		req_int(d, p, "group", req->group, &oom);
	req_str(d, p, "pool", req->pool, &oom);
	req_str(d, p, "vdpa", req->vdpa, &oom);
	if (req->count > 0)
		req_int(d, p, "count", req->count, &oom);
	req_str(d, p, "mode", req->mode, &oom);
	req_str(d, p, "layout", req->layout, &oom);
	req_str(d, p, "lifetime", req->lifetime, &oom);
	if (oom)
		return -ENOMEM;

	r = client_call_doc(c, IOASID_IFACE_BROKER ".Acquire", p, &reply, &params, &fds, &n_fds,
			    ret_error);
	if (r < 0)
		return r;
	r = ioasid_acquire_result_from_reply(params, fds, n_fds, ret);
	free(fds);
	return r;
}

int ioasid_client_release(IoasidClient *c, const char *lease, IoasidError *ret_error) {
	_cleanup_(doc_freep) Doc *d = NULL, *reply = NULL;
	const DocNode *params;
	bool oom = false;

	if (!lease)
		return -EINVAL;
	d = doc_new();
	DocNode *p = d ? doc_object(d) : NULL;
	if (!p)
		return -ENOMEM;
	req_str(d, p, "lease", lease, &oom);
	if (oom)
		return -ENOMEM;
	return client_call_doc(c, IOASID_IFACE_BROKER ".Release", p, &reply, &params, NULL, NULL,
			       ret_error);
}

int ioasid_client_list_leases(IoasidClient *c, IoasidLease **ret, size_t *ret_n,
			      IoasidError *ret_error) {
	_cleanup_(doc_freep) Doc *reply = NULL;
	const DocNode *params, *a;
	IoasidLease *l;
	size_t n;
	int r;

	r = client_call_doc(c, IOASID_IFACE_BROKER ".ListLeases", NULL, &reply, &params, NULL, NULL,
			    ret_error);
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

	r = client_call_doc(c, IOASID_IFACE_MANAGER ".Status", NULL, &reply, &params, NULL, NULL,
			    ret_error);
	if (r < 0)
		return r;
	return ioasid_status_from_json(params, ret);
}

int ioasid_client_revoke(IoasidClient *c, const char *lease, bool reset, bool signal,
			 char **ret_state, IoasidError *ret_error) {
	_cleanup_(json_object_putp) json_object *p = json_object_new_object(), *reply = NULL;
	json_object *st;
	int r;

	if (!lease)
		return -EINVAL;
	if (!p)
		return -ENOMEM;
	if ((r = add_str(p, "lease", lease)) < 0 || (r = add_bool(p, "reset", reset)) < 0 ||
	    (r = add_bool(p, "signal", signal)) < 0)
		return r;
	r = ioasid_client_call(c, IOASID_IFACE_MANAGER ".Revoke", p, &reply, NULL, NULL, ret_error);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(reply, "state", &st) ||
	    !json_object_is_type(st, json_type_string))
		return -EBADMSG;
	if (ret_state) {
		*ret_state = strdup(json_object_get_string(st));
		if (!*ret_state)
			return -ENOMEM;
	}
	return 0;
}

/* One reply of the Monitor stream: its parameters as json-c, or the error it carries. */
static int monitor_reply(IoasidClient *c, const DocNode *msg, json_object **ret,
			 IoasidError *ret_error) {
	const char *error = NULL;
	const DocNode *params = NULL;
	bool continues = false;
	json_object *p = NULL;
	int r = varlink_parse_reply(msg, &error, &params, &continues);
	if (r < 0) {
		c->broken = true;
		return r;
	}
	if (doc_to_json(params, &p) < 0)
		return -ENOMEM;
	if (error) {
		c->broken = true;
		if (ret_error) {
			ioasid_error_done(ret_error);
			ret_error->message = ioasid_error_format(error, p);
			ret_error->name = strdup(error);
			ret_error->parameters = p;
		} else
			json_object_put(p);
		return -EREMOTEIO;
	}
	if (!continues) {
		json_object_put(p);
		c->broken = true;
		return -EPIPE;
	}
	json_object *ev = NULL;
	if (!json_object_object_get_ex(p, "event", &ev) ||
	    !json_object_is_type(ev, json_type_string)) {
		json_object_put(p);
		c->broken = true;
		return -EBADMSG;
	}
	*ret = p;
	return 0;
}

int ioasid_client_monitor_next(IoasidClient *c, int timeout_ms, json_object **ret,
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
	return monitor_reply(c, doc_root(msg), ret, ret_error);
}

int ioasid_client_monitor(IoasidClient *c, IoasidError *ret_error) {
	_cleanup_(json_object_putp) json_object *call = NULL, *first = NULL;
	json_object *ev = NULL;
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
	r = ioasid_client_monitor_next(c, c->timeout_ms, &first, ret_error);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(first, "event", &ev) ||
	    !streq(json_object_get_string(ev), "subscribed")) {
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
	_cleanup_(json_object_putp) json_object *p = json_object_new_object(), *reply = NULL;
	json_object *id, *ex;
	int r;

	if (!owner || !devices || !devices[0])
		return -EINVAL;
	if (!p)
		return -ENOMEM;
	json_object *arr = json_object_new_array();
	if (!arr || json_object_object_add(p, "devices", arr) < 0) {
		json_object_put(arr);
		return -ENOMEM;
	}
	for (char **d = devices; *d; d++)
		if (json_object_array_add(arr, json_object_new_string(*d)) < 0)
			return -ENOMEM;
	if ((r = add_str(p, "layout", layout ? layout : "default")) < 0 ||
	    (r = add_str(p, "owner", owner)) < 0 || (mode && (r = add_str(p, "mode", mode)) < 0))
		return r;
	if (timeout > 0) {
		json_object *t = json_object_new_int64((int64_t)MIN(timeout, (uint64_t)INT64_MAX));
		if (!t || json_object_object_add(p, "timeout", t) < 0) {
			json_object_put(t);
			return -ENOMEM;
		}
	}
	r = ioasid_client_call(c, IOASID_IFACE_MANAGER ".Stage", p, &reply, NULL, NULL, ret_error);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(reply, "id", &id) ||
	    !json_object_is_type(id, json_type_string))
		return -EBADMSG;
	if (ret_expires)
		*ret_expires = json_object_object_get_ex(reply, "expires", &ex) &&
					       json_object_is_type(ex, json_type_int)
				       ? json_object_get_int64(ex)
				       : 0;
	if (ret_id && !(*ret_id = strdup(json_object_get_string(id))))
		return -ENOMEM;
	return 0;
}

static int staged_str(json_object *o, const char *key, char **ret) {
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return -EBADMSG;
	*ret = strdup(json_object_get_string(v));
	return *ret ? 0 : -ENOMEM;
}

int ioasid_client_list_staged(IoasidClient *c, IoasidStaged **ret, size_t *ret_n,
			      IoasidError *ret_error) {
	_cleanup_(json_object_putp) json_object *reply = NULL;
	json_object *arr;
	int r = ioasid_client_call(c, IOASID_IFACE_MANAGER ".ListStaged", NULL, &reply, NULL, NULL,
				   ret_error);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(reply, "staged", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return -EBADMSG;
	size_t n = json_object_array_length(arr);
	IoasidStaged *s = calloc(n + 1, sizeof(IoasidStaged));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i), *devs, *cr;
		if (!json_object_is_type(o, json_type_object) ||
		    (r = staged_str(o, "id", &s[i].id)) < 0 ||
		    (r = staged_str(o, "layout", &s[i].layout)) < 0 ||
		    (r = staged_str(o, "owner", &s[i].owner)) < 0 ||
		    (r = staged_str(o, "mode", &s[i].mode)) < 0 ||
		    !json_object_object_get_ex(o, "devices", &devs) ||
		    !json_object_is_type(devs, json_type_array) ||
		    !json_object_object_get_ex(o, "created", &cr) ||
		    !json_object_is_type(cr, json_type_int)) {
			ioasid_staged_free(s, n);
			return r < 0 ? r : -EBADMSG;
		}
		s[i].created = json_object_get_int64(cr);
		json_object *ex;
		if (json_object_object_get_ex(o, "expires", &ex) &&
		    json_object_is_type(ex, json_type_int))
			s[i].expires = json_object_get_int64(ex);
		for (size_t j = 0; j < json_object_array_length(devs); j++) {
			json_object *d = json_object_array_get_idx(devs, j);
			if (!json_object_is_type(d, json_type_string) ||
			    strv_extend(&s[i].devices, json_object_get_string(d)) < 0) {
				ioasid_staged_free(s, n);
				return json_object_is_type(d, json_type_string) ? -ENOMEM
										: -EBADMSG;
			}
		}
	}
	*ret = s;
	*ret_n = n;
	return 0;
}

int ioasid_client_drop_staged(IoasidClient *c, const char *id, IoasidError *ret_error) {
	_cleanup_(json_object_putp) json_object *p = json_object_new_object();
	int r;
	if (!id)
		return -EINVAL;
	if (!p)
		return -ENOMEM;
	if ((r = add_str(p, "id", id)) < 0)
		return r;
	return ioasid_client_call(c, IOASID_IFACE_MANAGER ".DropStaged", p, NULL, NULL, NULL,
				  ret_error);
}
