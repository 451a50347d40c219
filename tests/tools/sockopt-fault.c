/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sockopt-fault: an LD_PRELOAD shim (built as a shared object) that makes socket options
 * fail the way older kernels and dying peers make them fail, so the daemon tier can run the
 * daemon's other paths on this kernel:
 *
 *   SOCKOPT_FAULT_PASSRIGHTS=ENOPROTOOPT
 *       setsockopt()/getsockopt() of SO_PASSRIGHTS fail with ENOPROTOOPT, as on kernels
 *       before 6.16: the option is never set, so fds that clients send really arrive.
 *   SOCKOPT_FAULT_PEERPIDFD=ESRCH | EINVAL | ENOPROTOOPT
 *       getsockopt(SO_PEERPIDFD) fails. ESRCH and EINVAL are what the kernel answers when
 *       the peer died between accept() and the call (adversarial test A7); they are injected
 *       only on sockets with a bound name (accepted connections), not on the daemon's
 *       start-up probe over a socketpair, which must see a kernel that has the option.
 *       ENOPROTOOPT is a kernel without SO_PEERPIDFD (before 6.5, test A8): every socket.
 *       EMFILE and ENFILE: the daemon is out of fds while it takes a peer's identity
 *       (accepted connections only).
 *   SOCKOPT_FAULT_ACCEPT=PATH
 *       when PATH exists it holds an errno name (EINTR, ECONNABORTED, EPROTO, EMFILE,
 *       ENFILE, ENOBUFS, ENOMEM, EPERM): the next accept()/accept4() fails with it, leaving
 *       the connection queued, and PATH is removed. A test arms one failure by writing it.
 *   SOCKOPT_FAULT_WHILE=PATH
 *       inject only while PATH exists (a test switches faults on and off).
 *   SOCKOPT_FAULT_COUNT=PATH
 *       one byte appended to PATH per injected failure, so a test proves the shim ran.
 *
 *   LD_PRELOAD=build/sockopt-fault SOCKOPT_FAULT_PASSRIGHTS=ENOPROTOOPT ioasidd ...
 *
 * Everything else goes to the real functions.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);
typedef int (*setsockopt_fn)(int, int, int, const void *, socklen_t);

static int errno_from_env(const char *name) {
	const char *v = getenv(name);
	if (!v)
		return 0;
	if (strcmp(v, "ENOPROTOOPT") == 0)
		return ENOPROTOOPT;
	if (strcmp(v, "ESRCH") == 0)
		return ESRCH;
	if (strcmp(v, "EINVAL") == 0)
		return EINVAL;
	if (strcmp(v, "EMFILE") == 0)
		return EMFILE;
	if (strcmp(v, "ENFILE") == 0)
		return ENFILE;
	return 0;
}

static int errno_from_name(const char *v) {
	static const struct {
		const char *name;
		int err;
	} names[] = {
		{ "EINTR", EINTR },   { "ECONNABORTED", ECONNABORTED },
		{ "EPROTO", EPROTO }, { "EMFILE", EMFILE },
		{ "ENFILE", ENFILE }, { "ENOBUFS", ENOBUFS },
		{ "ENOMEM", ENOMEM }, { "EPERM", EPERM },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(v, names[i].name) == 0)
			return names[i].err;
	return 0;
}

static bool armed(void) {
	const char *p = getenv("SOCKOPT_FAULT_WHILE");
	return !p || access(p, F_OK) == 0;
}

static int inject(int err) {
	const char *count = getenv("SOCKOPT_FAULT_COUNT");
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

/* An accepted connection carries the listener's name; a socketpair has none. */
static bool has_name(int fd) {
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.sun_family != AF_UNIX)
		return false;
	return len > sizeof(sa.sun_family);
}

int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen) {
	static getsockopt_fn real = NULL;
	if (level == SOL_SOCKET && armed()) {
		int err;
		if (optname == SO_PASSRIGHTS && (err = errno_from_env("SOCKOPT_FAULT_PASSRIGHTS")))
			return inject(err);
		if (optname == SO_PEERPIDFD && (err = errno_from_env("SOCKOPT_FAULT_PEERPIDFD")) &&
		    (err == ENOPROTOOPT || has_name(fd)))
			return inject(err);
	}
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
	if (level == SOL_SOCKET && optname == SO_PASSRIGHTS && armed() &&
	    (err = errno_from_env("SOCKOPT_FAULT_PASSRIGHTS")))
		return inject(err);
	if (!real)
		real = (setsockopt_fn)dlsym(RTLD_NEXT, "setsockopt");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd, level, optname, optval, optlen);
}

/* One armed failure (SOCKOPT_FAULT_ACCEPT), consumed; 0 when none is armed. */
static int accept_fault(void) {
	const char *path = getenv("SOCKOPT_FAULT_ACCEPT");
	if (!path)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char name[32] = "";
	ssize_t n = read(fd, name, sizeof(name) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	name[n] = '\0';
	name[strcspn(name, "\n")] = '\0';
	unlink(path);
	return errno_from_name(name);
}

typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);
typedef int (*accept_fn)(int, struct sockaddr *, socklen_t *);

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
	static accept4_fn real = NULL;
	int err = accept_fault();
	if (err)
		return inject(err);
	if (!real)
		real = (accept4_fn)dlsym(RTLD_NEXT, "accept4");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd, addr, len, flags);
}

int accept(int fd, struct sockaddr *addr, socklen_t *len) {
	static accept_fn real = NULL;
	int err = accept_fault();
	if (err)
		return inject(err);
	if (!real)
		real = (accept_fn)dlsym(RTLD_NEXT, "accept");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd, addr, len);
}
