/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * old-kernel: an LD_PRELOAD shim (built as a shared object) that makes the daemon see a
 * kernel older than the one it runs on, for the adversarial tests of the catalogue that
 * are about such kernels (tests/ADVERSARIAL.md):
 *
 *   OLD_KERNEL_PEERPIDFD=ERRNO     getsockopt(SOL_SOCKET, SO_PEERPIDFD) fails with ERRNO
 *                                  (ENOPROTOOPT: before Linux 6.5, A8; ESRCH or EINVAL: the
 *                                  peer died before the call)
 *   OLD_KERNEL_PASSRIGHTS=ERRNO    setsockopt(SOL_SOCKET, SO_PASSRIGHTS) fails with ERRNO
 *                                  and changes nothing (ENOPROTOOPT: before Linux 6.16, so
 *                                  fds a client sends are delivered to the daemon; C1, C4)
 *   OLD_KERNEL_COUNT=FILE          one byte is appended to FILE per faked failure, so a test
 *                                  can prove the shim was exercised
 *
 * ERRNO is a name (ENOPROTOOPT, ESRCH, EINVAL, EMFILE, EIO) or a number. Every other call
 * goes to the real function.
 *
 *   LD_PRELOAD=build/old-kernel OLD_KERNEL_PEERPIDFD=ENOPROTOOPT ioasidd ...
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macro.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);
typedef int (*setsockopt_fn)(int, int, int, const void *, socklen_t);

/* The errno named by the environment variable var, or 0 when it is unset or unknown. */
static int fake_errno(const char *var) {
	static const struct {
		const char *name;
		int value;
	} names[] = {
		{ "ENOPROTOOPT", ENOPROTOOPT }, { "ESRCH", ESRCH },   { "EINVAL", EINVAL },
		{ "EMFILE", EMFILE },           { "EIO", EIO },       { "ENOTCONN", ENOTCONN },
	};
	const char *v = getenv(var);
	if (!v || !*v)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (streq(v, names[i].name))
			return names[i].value;
	char *end = NULL;
	long n = strtol(v, &end, 10);
	return end && !*end && n > 0 && n < 4096 ? (int)n : 0;
}

static int fail(int err) {
	const char *count = getenv("OLD_KERNEL_COUNT");
	if (count) {
		int c = open(count, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (c >= 0) {
			(void)!write(c, "x", 1);
			close(c);
		}
	}
	errno = err;
	return -1;
}

int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen) {
	static getsockopt_fn real = NULL;
	int err;

	if (level == SOL_SOCKET && optname == SO_PEERPIDFD &&
	    (err = fake_errno("OLD_KERNEL_PEERPIDFD")) > 0)
		return fail(err);
	if (!real)
		real = (getsockopt_fn)dlsym(RTLD_NEXT, "getsockopt");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd, level, optname, optval, optlen);
}

int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen) {
	static setsockopt_fn real = NULL;
	int err;

	if (level == SOL_SOCKET && optname == SO_PASSRIGHTS &&
	    (err = fake_errno("OLD_KERNEL_PASSRIGHTS")) > 0)
		return fail(err);
	if (!real)
		real = (setsockopt_fn)dlsym(RTLD_NEXT, "setsockopt");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd, level, optname, optval, optlen);
}
