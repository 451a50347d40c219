/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The listening socket: passed by systemd (socket activation, or kept in the fdstore by the
 * previous instance) or created here (a stale socket replaced, one in use refused, mode 0660,
 * the policy's socket-group), SO_PASSRIGHTS cleared on it, and the accept loop, which backs
 * off for a moment when the daemon is out of fds. Each accepted socket goes to
 * server_accept(). Layer: called by main.c; calls server.c, caps, closer, log and
 * common/varlink.
 */
#include <fcntl.h>
#include <grp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/varlink.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/log.h"
#include "ioasidd/server.h"

#define ACCEPT_RETRY_USEC (250 * 1000ULL)

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
