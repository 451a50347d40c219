/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Closing what clients push on the daemon, off the event loop. On kernels without
 * SO_PASSRIGHTS (before 6.16) a client can attach fds to a message; the reader refuses them
 * and drops the connection, but the close itself can block (the last close of a FUSE file
 * waits for its server, which may be the attacker). So received fds that nobody takes go
 * through a pipe to one thread that only closes them. The fd number stays allocated until
 * that thread closes it, so nothing can reuse it in between. When the pipe is full (the
 * thread is stuck and 16k fds are waiting) the loop closes synchronously rather than let
 * fds pile up without bound.
 */
#include <fcntl.h>
#include <pthread.h>

#include "common/macro.h"
#include "common/varlink.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/log.h"

static int closer_pipe[2] = { -EBADF, -EBADF };

static void *closer_main(void *arg) {
	for (;;) {
		int fd;
		ssize_t n = read(closer_pipe[0], &fd, sizeof(fd));
		if (n == (ssize_t)sizeof(fd))
			(void)close(fd);
		else if (n < 0 && errno == EINTR)
			continue;
		else
			return NULL;
	}
}

static void closer_close(int fd) {
	if (write(closer_pipe[1], &fd, sizeof(fd)) != (ssize_t)sizeof(fd))
		(void)close(fd);
}

int closer_start(void) {
	if (pipe2(closer_pipe, O_CLOEXEC) < 0)
		return negative_errno();
	if (fcntl(closer_pipe[1], F_SETFL, O_NONBLOCK) < 0)
		return negative_errno();
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	int r = pthread_create(&t, &attr, closer_main, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		closer_pipe[0] = safe_close(closer_pipe[0]);
		closer_pipe[1] = safe_close(closer_pipe[1]);
		return -r;
	}
	varlink_set_received_fd_closer(closer_close);
	return 0;
}
