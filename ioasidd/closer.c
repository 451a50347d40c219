/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Closing what clients push on the daemon, off the event loop. On kernels without
 * SO_PASSRIGHTS (before 6.16) a client can attach fds to a message; the reader refuses them
 * and drops the connection, but the close itself can block (the last close of a FUSE file
 * waits for its server, which may be the attacker; a TCP socket with SO_LINGER and unsent
 * data waits as long as its owner chose). The same holds for a client's connection socket:
 * its last close frees whatever is still queued on it, fds included (even with SO_PASSRIGHTS
 * off, fds sent before the listener had it cleared). So received fds that nobody takes and
 * every client socket go through a pipe to one thread that only closes them. The fd number
 * stays allocated until that thread closes it, so nothing can reuse it in between.
 *
 * The pipe holds as many fds as the daemon may have open (RLIMIT_NOFILE), so a write cannot
 * find it full: every fd in it is still open in this process. Only when the pipe could not
 * be made that large and the thread is stuck does the loop close synchronously, rather than
 * let fds pile up without bound.
 * Layer: a leaf (caps, log, common/varlink), used by main, server and state.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>

#include "common/macro.h"
#include "common/varlink.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/log.h"

static int closer_pipe[2] = { -EBADF, -EBADF };
static pthread_t closer_thread;
static bool closer_running;

static void *closer_main(void *arg) {
	caps_drop_thread(); /* it only closes */
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

void closer_close(int fd) {
	if (fd < 0)
		return;
	if (!closer_running || write(closer_pipe[1], &fd, sizeof(fd)) != (ssize_t)sizeof(fd))
		(void)close(fd);
}

/* Room in the pipe for every fd the process may have open. Best effort: the kernel caps an
 * unprivileged size at /proc/sys/fs/pipe-max-size (1 MiB, 262144 fds, by default). */
static void closer_size_pipe(int fd) {
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	uint64_t want = (uint64_t)rl.rlim_cur * sizeof(int);
	if (want <= 65536 || want > INT32_MAX)
		return;
	(void)fcntl(fd, F_SETPIPE_SZ, (int)want);
}

int closer_start(void) {
	if (pipe2(closer_pipe, O_CLOEXEC) < 0)
		return negative_errno();
	if (fcntl(closer_pipe[1], F_SETFL, O_NONBLOCK) < 0)
		return negative_errno();
	closer_size_pipe(closer_pipe[1]);
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
