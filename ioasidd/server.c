/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The server: connections (identity taken at accept, per-uid limits), Varlink framing, the
 * idle, request and send deadlines, fairness between connections, and each call dispatched
 * through the method tables (method-*.c): the method looked up, its METHOD_ADMIN flag checked
 * once (an audited admin rule), its parameters validated against its spec (method.c), then
 * its handler run and what it returns sent. This is the only code that sends. Layer: under
 * main.c and listener.c (which hands each accepted socket to server_accept() and drains the
 * connections at exit); calls the method tables, method.c, manager.c (a connection gone,
 * admin checks), state.c (connections in the fdstore), identity, closer, lease (a delivery's
 * audit record) and common/varlink. On an Acquire's path it is the first of the five daemon
 * files (server, method-broker, then broker, context and manager; make check-layers counts
 * them). It registers ManagerHooks so that the layers below reach it without calling up.
 */
#include <assert.h>
#include <stddef.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "common/macro.h"
#include "common/proto.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/connection.h"
#include "ioasidd/log.h"
#include "ioasidd/method.h"
#include "ioasidd/server.h"

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83 /* Linux 6.16 */
#endif

#define USEC_PER_SEC 1000000ULL

static int on_connection_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static void connection_update(Connection *c);

static unsigned idle_timeout_sec(const Manager *m) {
	const PolicySettings *s = m->policy ? policy_settings(m->policy) : NULL;
	return s && s->idle_timeout_sec > 0 ? s->idle_timeout_sec : IOASID_IDLE_TIMEOUT_SEC;
}

static unsigned max_per_uid(const Manager *m) {
	const PolicySettings *s = m->policy ? policy_settings(m->policy) : NULL;
	/* The admin's setting (the policy bounds it to 1..1024) wins over the built-in 64. */
	if (s && s->max_connections_per_uid > 0)
		return MIN(s->max_connections_per_uid, (unsigned)IOASID_MAX_CONNECTIONS);
	return IOASID_MAX_CONNECTIONS_PER_UID;
}

static size_t server_count_uid(const Manager *m, uid_t uid) {
	size_t n = 0;
	for (Connection *c = m->connections; c; c = c->next)
		if (c->peer.uid == uid && !c->closing)
			n++;
	return n;
}

/*
 * Ends a client's socket. Its last close frees whatever the peer left queued on it, fds
 * included, and closing those can block (closer.c): that close runs on the closer thread.
 * shutdown() frees nothing and does not block, and the peer sees the hangup at once, even
 * while the closer thread is busy with an earlier close.
 */
static void client_fd_close(int fd) {
	if (fd < 0)
		return;
	(void)shutdown(fd, SHUT_RDWR);
	closer_close(fd);
}
static void client_fd_closep(int *fd) {
	client_fd_close(*fd);
}
#define _cleanup_client_fd_ _cleanup_(client_fd_closep)

void connection_free(Connection *c) {
	if (!c)
		return;
	Manager *m = c->manager;
	c->closing = true;
	if (c->prev)
		c->prev->next = c->next;
	else if (m->connections == c)
		m->connections = c->next;
	if (c->next)
		c->next->prev = c->prev;
	m->n_connections--;
	/* Leases first: a reply still queued means its fds never reached the peer; the stream
	 * closes its duplicates, the lease closes the daemon's references. */
	manager_connection_gone(m, c);
	c->pending_lease = NULL;
	/* Stopping: a stored connection stays in the fdstore with its lease (a restart adopts
	 * it), so it must not be shut down either: only our copy of it is closed. */
	bool keep = c->stored && m->stopping;
	if (c->stored && !keep)
		state_forget_connection(m, c->id);
	c->stored = false;
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->idle_timer);
	sd_event_source_disable_unref(c->send_timer);
	sd_event_source_disable_unref(c->defer_free);
	sd_event_source_disable_unref(c->more);
	if (keep)
		closer_close(varlink_stream_take_fd(c->stream));
	else
		client_fd_close(varlink_stream_take_fd(c->stream));
	varlink_stream_free(c->stream);
	peer_done(&c->peer);
	free(c);
}

static int on_defer_free(sd_event_source *s, void *userdata) {
	connection_free(userdata);
	return 0;
}

static void connection_close(Connection *c, const char *why) {
	if (c->closing)
		return;
	c->closing = true;
	log_debug("Connection %llu (uid %u): closing: %s", (unsigned long long)c->id,
		  (unsigned)c->peer.uid, why);
	/* Stop I/O now; free once the current dispatch has unwound. */
	sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
	sd_event_source_set_enabled(c->idle_timer, SD_EVENT_OFF);
	sd_event_source_set_enabled(c->send_timer, SD_EVENT_OFF);
	sd_event_source_set_enabled(c->more, SD_EVENT_OFF);
	if (sd_event_add_defer(c->manager->event, &c->defer_free, on_defer_free, c) < 0)
		connection_free(c); /* no memory for the defer: free now (callers hold no c) */
}

static bool connection_has_leases(const Connection *c) {
	for (Lease *l = c->manager->leases.head; l; l = l->next)
		if (l->connection == c)
			return true;
	return false;
}

static void arm_timer(Connection *c, sd_event_source *t, unsigned sec) {
	uint64_t now = 0;
	sd_event_now(c->manager->event, CLOCK_MONOTONIC, &now);
	sd_event_source_set_time(t, now + sec * USEC_PER_SEC);
	sd_event_source_set_enabled(t, SD_EVENT_ONESHOT);
}

/*
 * The idle deadline moves on every request, and a lease exempts a connection while it is
 * held: moving or disabling the timer source each time made sd-event reprogram its timerfd
 * twice per acquire+release. So the deadline lives in c->idle_deadline and the timer is only
 * ever moved later lazily: while it is armed no later than the deadline it is left alone,
 * and on_idle() re-arms it for the deadline when it fires early.
 */
static void idle_deadline_set(Connection *c, bool exempt) {
	if (exempt) {
		c->idle_deadline = 0; /* an armed timer finds this in on_idle() and stays off */
		return;
	}
	uint64_t now = 0, at = UINT64_MAX;
	int on = SD_EVENT_OFF;
	sd_event_now(c->manager->event, CLOCK_MONOTONIC, &now);
	c->idle_deadline = now + idle_timeout_sec(c->manager) * USEC_PER_SEC;
	if (sd_event_source_get_enabled(c->idle_timer, &on) >= 0 && on != SD_EVENT_OFF &&
	    sd_event_source_get_time(c->idle_timer, &at) >= 0 && at <= c->idle_deadline)
		return;
	sd_event_source_set_time(c->idle_timer, c->idle_deadline);
	sd_event_source_set_enabled(c->idle_timer, SD_EVENT_ONESHOT);
}

/* Idle / request deadline: a connection must complete a request within the timeout, except
 * one that holds a lease or a Monitor subscription and has no partial request pending. */
static void connection_rearm_idle(Connection *c) {
	if (c->closing)
		return;
	bool partial = varlink_stream_input_buffered(c->stream) > 0;
	idle_deadline_set(c, !partial && (c->monitor || connection_has_leases(c)));
}

static int on_idle(sd_event_source *s, uint64_t usec, void *userdata) {
	Connection *c = userdata;
	if (c->idle_deadline == 0)
		return 0; /* exempt since the timer was armed: stays off until re-armed */
	uint64_t now = 0;
	sd_event_now(c->manager->event, CLOCK_MONOTONIC, &now);
	if (now < c->idle_deadline) {
		/* Armed for an earlier deadline (idle_deadline_set()): wait for the current one. */
		sd_event_source_set_time(s, c->idle_deadline);
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
		return 0;
	}
	bool partial = varlink_stream_input_buffered(c->stream) > 0;
	if (!partial && (c->monitor || connection_has_leases(c)))
		return 0;
	log_info("Closing connection %llu of uid %u: %s within %us", (unsigned long long)c->id,
		 (unsigned)c->peer.uid, partial ? "request not completed" : "no request",
		 idle_timeout_sec(c->manager));
	connection_close(c, "idle deadline");
	return 0;
}

static int on_send_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
	Connection *c = userdata;
	log_info("Closing connection %llu of uid %u: reply not read within %us",
		 (unsigned long long)c->id, (unsigned)c->peer.uid, IOASID_SEND_TIMEOUT_SEC);
	connection_close(c, "send deadline");
	return 0;
}

/* The pending Acquire's fds went out with a successful sendmsg(): the peer holds them now, and
 * the lease is delivered (its allow record is written here, once). */
void connection_note_delivery(Connection *c) {
	if (c->pending_lease && !c->reply_dropped &&
	    varlink_stream_queued_fd_messages(c->stream) == 0) {
		(void)lease_set_state(c->pending_lease, LEASE_ACTIVE);
		lease_audit_acquire(c->pending_lease, true, "request", NULL);
		c->pending_lease = NULL;
	}
}

/* After a flush or send that returned r (1: all out, 0: data queued, < 0: failed). */
static void connection_sent(Connection *c, int r) {
	if (r < 0) {
		log_debug("Connection %llu: send failed: %s", (unsigned long long)c->id,
			  strerror(-r));
		connection_close(c, "send failed");
		return;
	}
	connection_note_delivery(c);
	if (r == 1)
		sd_event_source_set_enabled(c->send_timer, SD_EVENT_OFF);
	else {
		int on = SD_EVENT_OFF;
		sd_event_source_get_enabled(c->send_timer, &on);
		if (on == SD_EVENT_OFF)
			arm_timer(c, c->send_timer, IOASID_SEND_TIMEOUT_SEC);
	}
}

static void connection_flush(Connection *c) {
	if (c->closing)
		return;
	connection_sent(c, varlink_stream_flush(c->stream));
}

/* After varlink_stream_send*() returned r. */
static int connection_after_send(Connection *c, int r) {
	connection_sent(c, r);
	if (c->closing)
		return r < 0 ? r : -ECONNRESET;
	connection_update(c);
	return 0;
}

static int connection_send(Connection *c, json_object *msg, const int *fds, size_t n_fds) {
	if (c->closing)
		return -ECONNRESET;
	if (c->suppress_reply)
		return 0;
	/* Sent at once when nothing is queued (the usual case): no copy of the text, no
	 * duplicates of the fds, which the caller keeps anyway. */
	return connection_after_send(c, varlink_stream_send(c->stream, msg, fds, n_fds));
}

/* A reply (params taken, may be NULL) or, with error set, an error. */
static int connection_reply(Connection *c, const char *error, json_object *params, bool continues) {
	json_object *msg = NULL;
	int r = error ? varlink_build_error(error, params, &msg)
		      : varlink_build_reply(params, continues, &msg);
	if (r < 0) {
		connection_close(c, "out of memory");
		return r;
	}
	r = connection_send(c, msg, NULL, 0);
	json_object_put(msg);
	return r;
}

/* Reading stops while an fd-bearing reply is outstanding or too many replies are queued:
 * a client that does not read cannot make the daemon buffer without bound. */
static bool connection_may_read(const Connection *c) {
	return !c->closing && !c->read_eof &&
	       varlink_stream_output_below(c->stream, IOASID_MAX_FD_REPLIES,
					   IOASID_MAX_PENDING_REPLIES, IOASID_MAX_QUEUED_BYTES);
}

static void connection_update(Connection *c) {
	if (c->closing)
		return;
	uint32_t ev = 0;
	if (connection_may_read(c))
		ev |= EPOLLIN;
	if (varlink_stream_queued(c->stream) > 0)
		ev |= EPOLLOUT;
	if (ev == 0) {
		/* Half-closed by the peer and nothing left to send. */
		connection_close(c, "peer closed");
		return;
	}
	sd_event_source_set_io_events(c->io, ev);
}

/* Only these read errors are the client's fault; anything else (ENOMEM, ENOBUFS, EIO) is the
 * daemon's, and must not be reported to the client as a protocol error. */
static bool read_error_is_protocol(int err) {
	return err == -EMSGSIZE || err == -ELOOP || err == -EBADMSG || err == -EPROTO;
}

static void protocol_error(Connection *c, int err, const char *what) {
	bool client_fault = read_error_is_protocol(err);
	log_info("Connection %llu of uid %u: %s: %s (%s), disconnecting", (unsigned long long)c->id,
		 (unsigned)c->peer.uid, client_fault ? "protocol error" : "daemon error", what,
		 strerror(-err));
	/* Best effort: tell the peer why, then close without waiting. */
	json_object *p = json_object_new_object();
	if (p && client_fault)
		json_object_object_add(p, "reason", json_object_new_string(what));
	else if (p) {
		json_object_object_add(p, "errno", json_object_new_int(-err));
		json_object_object_add(p, "errnoName",
				       json_object_new_string(strna(errno_name(err))));
		json_object_object_add(p, "operation", json_object_new_string(what));
	}
	json_object *msg = NULL;
	if (varlink_build_error(client_fault ? IOASID_ERROR_PROTOCOL : IOASID_ERROR_SYSTEM, p,
				&msg) >= 0) {
		if (varlink_stream_enqueue(c->stream, msg, NULL, 0) >= 0)
			(void)varlink_stream_flush(c->stream);
		json_object_put(msg);
	}
	connection_close(c, "protocol error");
}

static const char *read_error_text(int r) {
	switch (-r) {
	case EMSGSIZE:
		return "message too large";
	case ELOOP:
		return "message nested too deeply";
	case EBADMSG:
		return "malformed message";
	case EPROTO:
		return "file descriptors or truncated control data sent to the daemon";
	default:
		return "read failed";
	}
}

/* ---- dispatch: a call through the method tables ---- */

static const MethodInterface *const interfaces[] = {
	&method_service,
	&method_broker,
	&method_manager,
};

/* The interface and method of a call's name, validated by varlink_parse_call() (bounded,
 * [A-Za-z0-9.-], "interface.Method"). Either may come back NULL. */
static void method_lookup(const char *name, const MethodInterface **ret_iface,
			  const Method **ret_method) {
	const char *dot = strrchr(name, '.');
	size_t ilen = (size_t)(dot - name);
	*ret_iface = NULL;
	*ret_method = NULL;
	for (size_t i = 0; i < ELEMENTSOF(interfaces); i++)
		if (strlen(interfaces[i]->name) == ilen && strneq(name, interfaces[i]->name, ilen))
			*ret_iface = interfaces[i];
	for (size_t i = 0; *ret_iface && i < (*ret_iface)->n_methods; i++)
		if (streq((*ret_iface)->methods[i].name, dot + 1))
			*ret_method = &(*ret_iface)->methods[i];
}

/*
 * dispatch_call: the reply to call (its method name, "more"/"oneway" flags, caller) with
 * params: everything checked here once (the method and its interface, METHOD_ADMIN, the
 * parameter spec, METHOD_MORE), then the handler. A handler's -errno becomes SystemError
 * naming the method. Returns 0 with *reply, 1 when nothing is to be run or sent (a oneway
 * METHOD_FDS call), -ENOMEM when no reply could be built.
 */
static int dispatch_call(Call *call, const DocNode *params, Reply *reply) {
	Manager *m = call->manager;
	const char *name = call->method;
	unsigned flags = call->flags;
	const MethodInterface *iface = NULL;
	const Method *method = NULL;
	method_lookup(name, &iface, &method);
	if (!iface) {
		/* Unknown: a named error, the connection stays; the name is safe to echo. */
		char buf[256];
		snprintf(buf, sizeof(buf), "%.*s", (int)(strrchr(name, '.') - name), name);
		return reply_error(reply, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", buf);
	}
	if (!method)
		return reply_error(reply, VARLINK_ERROR_METHOD_NOT_FOUND, "method", name);
	/* Authorization first: an unauthorized caller learns nothing about parameters. */
	if ((method->flags & METHOD_ADMIN) && !manager_is_admin(m, call->peer, name, true))
		return reply_error(reply, iface->admin_denied, "reason",
				   "caller does not match an admin rule");
	/* A oneway call of a method whose reply carries fds could never deliver them: nothing
	 * is created. */
	if ((method->flags & METHOD_FDS) && (flags & VARLINK_CALL_ONEWAY))
		return 1;
	_Alignas(max_align_t) char args[METHOD_PARAMS_MAX];
	assert(method->params_size <= sizeof(args));
	memset(args, 0, sizeof(args));
	Refusal rf = { 0 };
	int r = method_params_parse(method->params, method->n_params, params, args, &rf);
	if (r < 0) {
		r = reply_refusal(reply, &rf);
		refusal_done(&rf);
		return r;
	}
	/* Only METHOD_MORE methods stream; "more" on anything else is answered once, as Varlink
	 * allows. */
	if ((method->flags & METHOD_MORE) && !(flags & VARLINK_CALL_MORE))
		return reply_error(reply, VARLINK_ERROR_EXPECTED_MORE, NULL, NULL);
	r = method->handler(call, args, reply);
	if (r < 0) {
		reply_done(reply);
		Refusal sys = { 0 };
		refusal_system(&sys, r, name, NULL);
		r = reply_refusal(reply, &sys);
		refusal_done(&sys);
	}
	return r;
}

/* Sends what a handler returned; the only place a reply leaves. */
static void connection_send_reply(Connection *c, Reply *reply) {
	if (reply->subscribe)
		c->monitor = true;
	if (!reply->fds) {
		(void)connection_reply(c, reply->error, TAKE_PTR(reply->params), reply->continues);
		return;
	}
	Lease *l = reply->lease;
	if (l)
		c->pending_lease = l;
	/* The fds go out with the reply (sent at once, or duplicated into the stream's queue
	 * when the socket is full); either way the lease keeps the daemon's own references. On
	 * a failed send the connection closes and manager_connection_gone() rolls the lease back
	 * (it was never delivered). */
	json_object *msg = NULL;
	int r = varlink_build_reply(TAKE_PTR(reply->params), false, &msg);
	if (r < 0)
		connection_close(c, "out of memory");
	else {
		r = connection_send(c, msg, reply->fds, reply->n_fds);
		json_object_put(msg);
	}
	if (l && r >= 0 && !c->closing && c->manager->hooks.lease_event)
		c->manager->hooks.lease_event(c->manager, l, "lease-acquired", NULL);
}

static void handle_message(Connection *c, const DocNode *msg) {
	const char *method = NULL;
	const DocNode *params = NULL;
	unsigned flags = 0;
	if (varlink_parse_call(msg, &method, &params, &flags) < 0) {
		protocol_error(c, -EBADMSG, "not a method call");
		return;
	}
	c->suppress_reply = (flags & VARLINK_CALL_ONEWAY) != 0;
	Reply reply = { 0 };
	Call call = {
		.manager = c->manager,
		.connection = c,
		.connection_id = c->id,
		.peer = &c->peer,
		.method = method,
		.flags = flags,
		.fd_reply_pending = c->pending_lease != NULL,
	};
	int r = dispatch_call(&call, params, &reply);
	if (r == 0)
		connection_send_reply(c, &reply);
	else if (r < 0)
		connection_close(c, "out of memory");
	reply_done(&reply);
	c->suppress_reply = false;
	connection_rearm_idle(c);
}

/*
 * Fairness: one request per dispatch. A client that answers each reply at once would
 * otherwise keep this loop reading from its socket while every other connection waits (with
 * 64 busy clients on 2 CPUs the tail was 1000x the median). After one request the loop goes
 * back to sd-event, which dispatches every other ready connection before this one again;
 * requests already read into the buffer are picked up by the oneshot c->more source, which
 * queues behind the others like a readable socket would.
 */
static void connection_process(Connection *c) {
	while (connection_may_read(c)) {
		Doc *msg = NULL;
		int r = varlink_stream_next(c->stream, &msg, NULL, NULL);
		if (r < 0) {
			protocol_error(c, r, read_error_text(r));
			return;
		}
		if (r > 0) {
			handle_message(c, doc_root(msg));
			doc_free(msg);
			break;
		}
		bool had_partial = varlink_stream_input_buffered(c->stream) > 0;
		r = varlink_stream_fill(c->stream);
		if (r == -EAGAIN)
			break;
		if (r == 0) {
			/* EOF: finish sending what is queued, then close (connection_update). */
			c->read_eof = true;
			break;
		}
		if (r < 0) {
			if (r == -ECONNRESET || r == -EPIPE)
				connection_close(c, "connection reset");
			else
				protocol_error(c, r, read_error_text(r));
			return;
		}
		if (!had_partial && !varlink_stream_has_message(c->stream))
			/* A request started: it must complete within the deadline (slowloris). */
			idle_deadline_set(c, false);
	}
}

static int on_more(sd_event_source *s, void *userdata);

/* Schedules c->more when a buffered request can be served now. A failure to allocate the
 * source closes the connection: without it the buffered requests would never be answered. */
static void connection_schedule_more(Connection *c) {
	if (c->closing || !connection_may_read(c) || !varlink_stream_has_message(c->stream))
		return;
	if (!c->more && sd_event_add_defer(c->manager->event, &c->more, on_more, c) < 0) {
		connection_close(c, "out of memory");
		return;
	}
	sd_event_source_set_enabled(c->more, SD_EVENT_ONESHOT);
}

static void connection_dispatch(Connection *c, uint32_t revents) {
	if (revents & EPOLLOUT)
		connection_flush(c);
	if (!c->closing)
		connection_process(c);
	if (!c->closing && (revents & (EPOLLHUP | EPOLLERR)) && !(revents & EPOLLIN) &&
	    varlink_stream_queued(c->stream) == 0)
		connection_close(c, "hangup");
	if (!c->closing && varlink_stream_queued(c->stream) > 0)
		connection_flush(c);
	connection_update(c);
	connection_schedule_more(c);
}

static int on_more(sd_event_source *s, void *userdata) {
	connection_dispatch(userdata, 0);
	return 0;
}

static int on_connection_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
	connection_dispatch(userdata, revents);
	return 0;
}

static int connection_new_full(Manager *m, int fd, Peer *peer, uint64_t id, Connection **ret);

static int connection_new(Manager *m, int fd, Peer *peer) {
	return connection_new_full(m, fd, peer, 0, NULL);
}

int server_adopt(Manager *m, int fd, uint64_t id, Connection **ret) {
	_cleanup_client_fd_ int cfd = fd;
	int fl = fcntl(cfd, F_GETFL);
	if (fl < 0 || fcntl(cfd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(cfd, F_SETFD, FD_CLOEXEC) < 0)
		return negative_errno();
	Peer peer = { .pidfd = -EBADF };
	int r = identity_from_socket(cfd, m->pidfd_supported, &peer);
	if (r < 0)
		return r;
	r = connection_new_full(m, TAKE_FD(cfd), &peer, id, ret);
	if (r < 0)
		peer_done(&peer);
	return r;
}

/*
 * Clients never send fds. With SO_PASSRIGHTS off (Linux 6.16+) the kernel refuses them at
 * the sender (EPERM), so a hostile fd (a FUSE file whose close blocks, a socket of our own)
 * never enters the daemon. Older kernels: ENOPROTOOPT, and the reader closes whatever
 * arrives and drops the connection. Set on the listening socket too: a connection takes the
 * listener's setting when the peer connects (unix_stream_connect() copies
 * sk_scm_recv_flags), so fds sent before accept() are refused as well; set on an accepted
 * socket alone, they would already be queued. Returns 0 or -errno (-ENOPROTOOPT: not
 * supported by this kernel).
 */
int server_refuse_fds(int fd) {
	int zero = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_PASSRIGHTS, &zero, sizeof(zero)) < 0)
		return negative_errno();
	return 0;
}

static int connection_new_full(Manager *m, int fd, Peer *peer, uint64_t id, Connection **ret) {
	_cleanup_client_fd_ int cfd = fd;
	/* Adopted from the fdstore: may predate the listener's setting. */
	(void)server_refuse_fds(cfd);
	Connection *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	int r = varlink_stream_new(cfd, IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH,
				   VARLINK_STREAM_REFUSE_FDS, &c->stream);
	if (r < 0) {
		free(c);
		return r;
	}
	TAKE_FD(cfd);
	(void)varlink_stream_set_max_output(c->stream, IOASID_MAX_REPLY);
	c->manager = m;
	if (id > 0) {
		c->id = id;
		m->next_connection_id = MAX(m->next_connection_id, id);
	} else
		c->id = ++m->next_connection_id;
	c->peer = *peer;
	*peer = (Peer){ .pidfd = -EBADF };
	c->next = m->connections;
	if (m->connections)
		m->connections->prev = c;
	m->connections = c;
	m->n_connections++;

	r = sd_event_add_io(m->event, &c->io, varlink_stream_fd(c->stream), EPOLLIN,
			    on_connection_io, c);
	if (r >= 0)
		r = sd_event_add_time(m->event, &c->idle_timer, CLOCK_MONOTONIC, UINT64_MAX, 0,
				      on_idle, c);
	if (r >= 0)
		r = sd_event_add_time(m->event, &c->send_timer, CLOCK_MONOTONIC, UINT64_MAX, 0,
				      on_send_timeout, c);
	if (r < 0) {
		connection_free(c);
		return r;
	}
	sd_event_source_set_enabled(c->send_timer, SD_EVENT_OFF);
	idle_deadline_set(c, false);
	log_debug("Connection %llu from uid %u pid %d unit %s", (unsigned long long)c->id,
		  (unsigned)c->peer.uid, (int)c->peer.pid, strna(c->peer.unit));
	if (ret)
		*ret = c;
	return 0;
}

/*
 * server_accept: a connection just accepted (cfd, taken): its peer's identity, the limits
 * (stopping, connections in all, per uid), the connection. Every drop goes through the
 * closer: fds the peer queued before accept (a kernel without SO_PASSRIGHTS) are freed by
 * the socket's last close. Returns 0 (served or dropped), or -EMFILE/-ENFILE when the
 * listener should back off.
 */
int server_accept(Manager *m, int cfd) {
	if (m->stopping || m->n_connections >= IOASID_MAX_CONNECTIONS) {
		client_fd_close(cfd);
		return 0;
	}
	Peer peer = { .pidfd = -EBADF };
	int r = identity_from_socket(cfd, m->pidfd_supported, &peer);
	if (r < 0) {
		log_info("Dropping connection: cannot establish the peer's identity: %s",
			 strerror(-r));
		client_fd_close(cfd);
		return r == -EMFILE || r == -ENFILE ? r : 0;
	}
	if (server_count_uid(m, peer.uid) >= max_per_uid(m)) {
		log_info("Dropping connection of uid %u: %u connections already",
			 (unsigned)peer.uid, max_per_uid(m));
		peer_done(&peer);
		client_fd_close(cfd);
		return 0;
	}
	r = connection_new(m, cfd, &peer);
	if (r < 0) {
		peer_done(&peer);
		log_warning_errno(r, "Cannot set up a connection: %m");
	}
	return 0;
}

/* ---- what the layers below tell the server (ManagerHooks) ---- */

/* Monitor: a lease event, one per device, to subscribers allowed to see it (its holder and
 * admins). */
static void hook_lease_event(Manager *m, const Lease *l, const char *event, const char *cause) {
	for (Connection *c = m->connections; c; c = c->next) {
		if (!c->monitor || c->closing)
			continue;
		if (l->uid != c->peer.uid &&
		    !manager_is_admin(m, &c->peer, "io.ioasid.Broker.Monitor", false))
			continue;
		for (size_t i = 0; i < MAX(l->n_devices, (size_t)1); i++) {
			json_object *p = method_broker_event(
				&(BrokerEvent){ .event = event,
						.bdf = l->n_devices ? l->devices[i].bdf : NULL,
						.vdpa = l->vdpa,
						.lease = l->id,
						.cause = cause });
			if (connection_reply(c, NULL, p, true) < 0)
				break;
		}
	}
}

/* Monitor: an event about the host or the policy, to every subscriber. */
static void broadcast(Manager *m, const BrokerEvent *e) {
	for (Connection *c = m->connections; c; c = c->next) {
		if (!c->monitor || c->closing)
			continue;
		(void)connection_reply(c, NULL, method_broker_event(e), true);
	}
}

static void hook_device_event(Manager *m, const char *event, const char *bdf) {
	broadcast(m, &(BrokerEvent){ .event = event, .bdf = bdf });
}

static void hook_group_event(Manager *m, int group, const char *verdict) {
	broadcast(m, &(BrokerEvent){ .event = "group-viability-changed",
				     .group = group,
				     .has_group = true,
				     .verdict = verdict });
}

static void hook_policy_event(Manager *m, uint64_t generation) {
	broadcast(m, &(BrokerEvent){ .event = "policy-reloaded",
				     .generation = (int64_t)generation,
				     .has_generation = true });
}

/* A lease of c is ending: its reply, if still queued, is no longer c's to deliver. */
static bool hook_lease_ending(Manager *m, Connection *c, const Lease *l) {
	if (c->pending_lease != l)
		return false;
	c->pending_lease = NULL;
	return true;
}

/* A connection kept open only for a lease that ended falls under the idle deadline again. */
static void hook_lease_ended(Manager *m, Connection *c) {
	if (!c->closing)
		connection_rearm_idle(c);
}

static int hook_connection_store(Manager *m, Connection *c) {
	if (c->stored)
		return 0;
	int r = state_store_connection(m, c->id, varlink_stream_fd(c->stream));
	if (r >= 0)
		c->stored = true;
	return r;
}

void server_register_hooks(Manager *m) {
	m->hooks = (ManagerHooks){
		.lease_event = hook_lease_event,
		.device_event = hook_device_event,
		.group_event = hook_group_event,
		.policy_event = hook_policy_event,
		.lease_ending = hook_lease_ending,
		.lease_ended = hook_lease_ended,
		.connection_store = hook_connection_store,
	};
}
