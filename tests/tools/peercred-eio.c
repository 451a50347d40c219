/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * peercred-eio: an LD_PRELOAD shim (built as a shared object) that makes
 * getsockopt(SOL_SOCKET, SO_PEERCRED) fail with EIO, for adversarial test A2: a daemon that
 * cannot learn its peer's credentials must drop or deny the connection, never treat it as
 * uid 0. Every other getsockopt() goes to the real one.
 *
 *   LD_PRELOAD=build/peercred-eio ioasidd ...
 *
 * The failures are counted in the file named by $PEERCRED_EIO_COUNT (one byte appended per
 * failure) so the test can prove the shim was actually exercised.
 *
 * With PEERCRED_SHIM=nopidfd it plays a kernel without SO_PEERPIDFD instead: SO_PEERCRED
 * works, SO_PEERPIDFD fails with ENOPROTOOPT (counted the same way), as before Linux 6.5.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macro.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);

static void count_failure(void) {
	const char *count = getenv("PEERCRED_EIO_COUNT");
	if (count) {
		int c = open(count, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (c >= 0) {
			(void)!write(c, "x", 1);
			close(c);
		}
	}
}

int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen) {
	static getsockopt_fn real = NULL;
	const char *mode = getenv("PEERCRED_SHIM");
	bool nopidfd = mode && streq(mode, "nopidfd");

	if (level == SOL_SOCKET && optname == SO_PEERPIDFD && nopidfd) {
		count_failure();
		errno = ENOPROTOOPT;
		return -1;
	}
	if (level == SOL_SOCKET && optname == SO_PEERCRED && !nopidfd) {
		count_failure();
		errno = EIO;
		return -1;
	}
	if (!real)
		real = (getsockopt_fn)dlsym(RTLD_NEXT, "getsockopt");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd, level, optname, optval, optlen);
}
