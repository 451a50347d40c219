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
static pthread_t closer_thread;
static bool closer_running;

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
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	int r = pthread_create(&closer_thread, &attr, closer_main, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		closer_pipe[0] = safe_close(closer_pipe[0]);
		closer_pipe[1] = safe_close(closer_pipe[1]);
		return -r;
	}
	closer_running = true;
	varlink_set_received_fd_closer(closer_close);
	return 0;
}

void closer_stop(void) {
	if (!closer_running)
		return;
	/* From now on received fds are closed inline (nothing arrives after the loop ended). */
	varlink_set_received_fd_closer(NULL);
	/* EOF ends the thread once it has closed what is queued. A close stuck on a hostile
	 * FUSE server must not hold up the exit: wait a bounded time, then leave the thread
	 * (and its pipe end) to the process exit. */
	closer_pipe[1] = safe_close(closer_pipe[1]);
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 1;
	if (pthread_timedjoin_np(closer_thread, NULL, &deadline) == 0)
		closer_pipe[0] = safe_close(closer_pipe[0]);
	else
		log_warning("The closer thread is stuck closing a client's fd; exiting without it");
	closer_running = false;
}
