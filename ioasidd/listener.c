/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The listening socket: passed by systemd (socket activation, or kept in the fdstore by the
 * previous instance) or created here (a stale socket replaced, one in use refused, mode 0660,
 * the policy's socket-group), SO_PASSRIGHTS cleared on it, and the accept loop, which backs
 * off for a moment when the daemon is out of fds. Each accepted socket goes to
 * server_accept(). At exit, the drain: replies already started finished, the rest dropped,
 * then every connection closed. Layer: called by main.c; calls server.c (through
 * connection.h, the server tier's private view of a connection), caps, closer, log and
 * common/varlink. Not on a call's path: a connection, once accepted, is served by server.c.
 */
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/varlink.h"
#include "ioasidd/connection.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/log.h"
#include "ioasidd/server.h"

#define ACCEPT_RETRY_USEC (250 * 1000ULL)
/* At exit, how long replies already started may take to reach their clients, in all. */
#define SHUTDOWN_FLUSH_MSEC 3000

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata) {
	Manager *m = userdata;
	sd_event_source_set_enabled(m->listen_source, SD_EVENT_ON);
	return 0;
}

/* Out of fds: stop accepting for a moment instead of spinning on a readable listener. */
static void accept_backoff(Manager *m, int err) {
	static bool logged;
	if (!logged) {
		log_warning("Cannot accept connections: %s; pausing the listener", strerror(-err));
		logged = true;
	}
	sd_event_source_set_enabled(m->listen_source, SD_EVENT_OFF);
	uint64_t now = 0;
	sd_event_now(m->event, CLOCK_MONOTONIC, &now);
	if (!m->accept_retry) {
		if (sd_event_add_time(m->event, &m->accept_retry, CLOCK_MONOTONIC,
				      now + ACCEPT_RETRY_USEC, 0, on_accept_retry, m) < 0) {
			/* Cannot even arm a timer: keep the listener on rather than go deaf. */
			sd_event_source_set_enabled(m->listen_source, SD_EVENT_ON);
			return;
		}
	} else
		sd_event_source_set_time(m->accept_retry, now + ACCEPT_RETRY_USEC);
	sd_event_source_set_enabled(m->accept_retry, SD_EVENT_ONESHOT);
}

/* Connections accepted per wake-up of the listener: then the clients already connected are
 * served before more are accepted. */
#define ACCEPT_BATCH 64

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
	Manager *m = userdata;
	int i;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		int cfd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd < 0) {
			int r = -errno;
			if (r == -EAGAIN || r == -EWOULDBLOCK)
				return 0;
			if (r == -EINTR || r == -ECONNABORTED || r == -EPROTO)
				continue;
			if (r == -EMFILE || r == -ENFILE || r == -ENOBUFS || r == -ENOMEM) {
				accept_backoff(m, r);
				return 0;
			}
			log_warning_errno(r, "accept4() failed: %m");
			return 0;
		}
		int r = server_accept(m, cfd);
		if (r < 0) {
			accept_backoff(m, r);
			return 0;
		}
	}
	log_debug("Accepted %d connections in one wake-up; serving the connected clients before "
		  "accepting more",
		  i);
	return 0;
}

static int socket_in_use(const char *path) {
	int fd = varlink_connect(path);
	if (fd >= 0) {
		safe_close(fd);
		return 1;
	}
	return 0;
}

static int create_socket(Manager *m) {
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(m->socket_path) >= sizeof(sa.sun_path))
		return log_error_errno(ENAMETOOLONG, "Socket path '%s' is too long",
				       m->socket_path);
	strcpy(sa.sun_path, m->socket_path);

	struct stat st;
	if (lstat(m->socket_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return log_error_errno(EEXIST, "'%s' exists and is not a socket",
					       m->socket_path);
		if (socket_in_use(m->socket_path))
			return log_error_errno(EADDRINUSE, "Another daemon listens on '%s'",
					       m->socket_path);
		(void)unlink(m->socket_path); /* stale */
	}

	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_error_errno(errno, "socket() failed: %m");
	mode_t old = umask(0117);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return log_error_errno(errno, "Cannot bind '%s': %m", m->socket_path);
	m->socket_created = true;
	if (chmod(m->socket_path, 0660) < 0)
		return log_error_errno(errno, "Cannot chmod '%s': %m", m->socket_path);
	const PolicySettings *ps = m->policy ? policy_settings(m->policy) : NULL;
	if (ps && ps->socket_group) {
		struct group *g = getgrnam(ps->socket_group);
		if (!g)
			log_warning("Socket group '%s' does not exist; socket stays root-only",
				    ps->socket_group);
		else {
			bool raised = caps_raise(CAP_CHOWN);
			r = chown(m->socket_path, (uid_t)-1, g->gr_gid);
			caps_lower(CAP_CHOWN, raised);
			if (r < 0)
				log_warning_errno(errno, "Cannot give '%s' to group '%s': %m",
						  m->socket_path, ps->socket_group);
		}
	}
	if (listen(fd, SOMAXCONN) < 0)
		return log_error_errno(errno, "listen() failed: %m");
	m->listen_fd = TAKE_FD(fd);
	return 0;
}

int listener_start(Manager *m) {
	if (m->listen_fd >= 0) /* passed by systemd, already sorted out of LISTEN_FDS by main */
		goto watch;
	int n = sd_listen_fds(true);
	if (n < 0)
		return log_error_errno(n, "sd_listen_fds() failed: %m");
	if (n > 1)
		return log_error_errno(EINVAL, "Expected one socket from systemd, got %d", n);
	if (n == 1) {
		int fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
			return log_error_errno(EINVAL, "The socket passed by systemd is not a "
						       "listening AF_UNIX stream socket");
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
			return log_error_errno(errno, "Cannot set up the passed socket: %m");
		m->listen_fd = fd;
		m->socket_activated = true;
	} else {
		if (!m->socket_path)
			m->socket_path = IOASID_SOCKET_PATH;
		int r = create_socket(m);
		if (r < 0)
			return r;
	}
watch:;
	/* Whatever the listener's origin (created here, socket activation, the fdstore). */
	int r = server_refuse_fds(m->listen_fd);
	if (r == -ENOPROTOOPT)
		log_info("SO_PASSRIGHTS unsupported by this kernel (before 6.16): fds sent by "
			 "clients arrive and are closed off the event loop");
	else if (r < 0)
		log_warning_errno(r, "Cannot clear SO_PASSRIGHTS on the listening socket: %m");
	r = sd_event_add_io(m->event, &m->listen_source, m->listen_fd, EPOLLIN, on_accept, m);
	if (r < 0)
		return log_error_errno(r, "Cannot watch the listening socket: %m");
	return 0;
}

void listener_close(Manager *m) {
	m->listen_source = sd_event_source_disable_unref(m->listen_source);
	m->accept_retry = sd_event_source_disable_unref(m->accept_retry);
	/* Connections never accepted die with the listener, and what they queued with them. */
	closer_close(m->listen_fd);
	m->listen_fd = -EBADF;
	if (m->socket_created && m->socket_path)
		(void)unlink(m->socket_path);
}

/* ---- at exit: what the connections still owe ---- */

static int64_t msec_left(const struct timespec *deadline) {
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(deadline->tv_sec - now.tv_sec) * 1000 +
	       (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/*
 * At exit, no client is left with half a record. Replies not started are dropped whole (their
 * fds closed; an Acquire whose reply goes is rolled back as never delivered, when the
 * connection is freed). A reply already partly sent is finished while its client reads, for
 * at most SHUTDOWN_FLUSH_MSEC for all connections together: only a client that does not read
 * within that time is cut off inside a record. The event loop has ended: this polls itself.
 * Called before the leases end (manager_stop_leases()), so that each is recorded as what
 * its client got: a lease whose fds went out during the drain is delivered (released at
 * shutdown), one whose reply was dropped is a deny. Idempotent.
 */
void server_drain(Manager *m) {
	size_t n = 0, dropped = 0;
	for (Connection *c = m->connections; c; c = c->next) {
		if (c->closing)
			continue; /* closed for cause (protocol error, deadline): nothing owed */
		size_t with_fds = varlink_stream_queued_fd_messages(c->stream);
		dropped += varlink_stream_drop_unstarted(c->stream);
		/* The pending Acquire's reply went unsent: its lease was never delivered. */
		if (varlink_stream_queued_fd_messages(c->stream) < with_fds)
			c->reply_dropped = true;
		n += varlink_stream_queued(c->stream) > 0;
	}
	if (dropped > 0)
		log_debug("Shutting down: %zu queued replies dropped whole", dropped);
	if (n == 0)
		return;
	_cleanup_free_ struct pollfd *p = calloc(n, sizeof(*p));
	_cleanup_free_ Connection **cs = calloc(n, sizeof(*cs));
	if (!p || !cs)
		return;
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += SHUTDOWN_FLUSH_MSEC / 1000;
	deadline.tv_nsec += (SHUTDOWN_FLUSH_MSEC % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	for (;;) {
		size_t k = 0;
		for (Connection *c = m->connections; c && k < n; c = c->next)
			if (!c->closing && varlink_stream_queued(c->stream) > 0) {
				cs[k] = c;
				p[k++] = (struct pollfd){ .fd = varlink_stream_fd(c->stream),
							  .events = POLLOUT };
			}
		int64_t left = msec_left(&deadline);
		if (k == 0 || left <= 0)
			break;
		int r = poll(p, k, (int)MIN(left, (int64_t)INT32_MAX));
		if (r < 0 && errno != EINTR)
			break;
		for (size_t i = 0; r > 0 && i < k; i++) {
			if (p[i].revents == 0)
				continue;
			/* Done (1) or failed (< 0, the peer is gone): nothing more to send either
			 * way, and the client sees its EOF now rather than after the others. 0: the
			 * socket is full again. */
			int f = varlink_stream_flush(cs[i]->stream);
			if (f >= 0)
				connection_note_delivery(cs[i]);
			if (f != 0) {
				cs[i]->closing = true;
				(void)shutdown(p[i].fd, SHUT_RDWR);
			}
		}
	}
	for (Connection *c = m->connections; c; c = c->next)
		if (!c->closing && varlink_stream_queued(c->stream) > 0) {
			log_info("Connection %llu of uid %u: reply not read within %ums of "
				 "shutdown, cut off",
				 (unsigned long long)c->id, (unsigned)c->peer.uid,
				 SHUTDOWN_FLUSH_MSEC);
			c->closing = true; /* a second drain owes it nothing more */
		}
}

void server_close_all(Manager *m) {
	server_drain(m);
	/* Nothing more goes out (the leases ended below would tell Monitor subscribers): a
	 * message started now might not be finished. */
	for (Connection *c = m->connections; c; c = c->next)
		c->closing = true;
	while (m->connections)
		connection_free(m->connections);
}
