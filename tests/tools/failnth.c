/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * failnth: an LD_PRELOAD shim (built as a shared object) for adversarial test D7, a fail-nth
 * sweep. It makes the Nth call of one function family fail, counted from the moment the
 * daemon accepts a connection, so the sweep walks every allocation, open, receive and send
 * of one scripted client session:
 *
 *   malloc   malloc(), calloc(), realloc(), strdup() family through malloc: NULL, ENOMEM
 *   open     open(), open64(), openat(), openat64(): -1, EMFILE
 *   recvmsg  recvmsg(): -1, ENOBUFS
 *   sendmsg  sendmsg(): -1, ENOBUFS
 *
 * Control: at every accept4() that returns a connection, the shim reads the file named by
 * $FAILNTH_CTL ("FAMILY N", or anything else for none), resets its counter and arms itself.
 * The Nth call of FAMILY after that fails once, and the shim appends "FAMILY N\n" to the file
 * named by $FAILNTH_LOG (with the caller's offset in the executable, for addr2line) so the
 * test knows the injection happened (a session that ends before its Nth call ends the sweep
 * for that family). Only calls made from the daemon's own executable are counted for malloc:
 * the libraries' own handling of an allocation failure (glibc's stdio, libsystemd's logging)
 * is theirs to test, and an abort() there would say nothing about ioasidd. The shim itself
 * allocates nothing and opens its files with raw system calls.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

enum { FAM_NONE, FAM_MALLOC, FAM_OPEN, FAM_RECVMSG, FAM_SENDMSG };
static const char *const fam_names[] = { "none", "malloc", "open", "recvmsg", "sendmsg" };

static atomic_int armed_family = FAM_NONE;
static atomic_long target, counter;
static unsigned long exe_start, exe_end;

static int raw_open(const char *path, int flags, mode_t mode) {
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, mode);
}

static void note(int fam, long n, const void *caller) {
	const char *log = getenv("FAILNTH_LOG");
	if (!log)
		return;
	int fd = raw_open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0)
		return;
	char line[96];
	/* The caller as an offset into the executable, for addr2line (0 outside it). */
	unsigned long c = (unsigned long)caller;
	unsigned long off = c >= exe_start && c < exe_end ? c - exe_start : 0;
	int len = snprintf(line, sizeof(line), "%s %ld 0x%lx\n", fam_names[fam], n, off);
	(void)!write(fd, line, (size_t)len);
	close(fd);
}

/* The executable's own text, from /proc/self/maps: the first mapping is the executable. */
static void find_exe(void) {
	int fd = raw_open("/proc/self/maps", O_RDONLY, 0);
	if (fd < 0)
		return;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	char exe[512] = "";
	for (char *l = buf; l && *l;) {
		char *nl = strchr(l, '\n');
		if (nl)
			*nl = '\0';
		unsigned long a, b;
		char perms[8];
		int off = 0;
		if (sscanf(l, "%lx-%lx %7s %*s %*s %*s %n", &a, &b, perms, &off) == 3 && off > 0) {
			const char *path = l + off;
			if (!exe[0])
				snprintf(exe, sizeof(exe), "%s", path);
			if (strcmp(path, exe) == 0) {
				if (!exe_start || a < exe_start)
					exe_start = a;
				if (b > exe_end)
					exe_end = b;
			}
		}
		l = nl ? nl + 1 : NULL;
	}
}

static void arm(void) {
	const char *ctl = getenv("FAILNTH_CTL");
	armed_family = FAM_NONE;
	if (!ctl)
		return;
	int fd = raw_open(ctl, O_RDONLY, 0);
	if (fd < 0)
		return;
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	char fam[16];
	long nth;
	if (sscanf(buf, "%15s %ld", fam, &nth) != 2 || nth < 1)
		return;
	for (int i = FAM_MALLOC; i <= FAM_SENDMSG; i++)
		if (strcmp(fam, fam_names[i]) == 0) {
			if (!exe_end)
				find_exe();
			counter = 0;
			target = nth;
			armed_family = i;
		}
}

/* True when this call is the one to fail; disarms after it. */
static bool hit(int fam, const void *caller) {
	if (armed_family != fam)
		return false;
	long n = ++counter;
	if (n != target)
		return false;
	armed_family = FAM_NONE;
	note(fam, n, caller);
	return true;
}

static bool from_exe(const void *caller) {
	unsigned long c = (unsigned long)caller;
	return c >= exe_start && c < exe_end;
}

void *malloc(size_t size) {
	if (armed_family == FAM_MALLOC && from_exe(__builtin_return_address(0)) &&
	    hit(FAM_MALLOC, __builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
	if (armed_family == FAM_MALLOC && from_exe(__builtin_return_address(0)) &&
	    hit(FAM_MALLOC, __builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size) {
	if (armed_family == FAM_MALLOC && from_exe(__builtin_return_address(0)) &&
	    hit(FAM_MALLOC, __builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_realloc(p, size);
}

#define REAL(name, type)                                                                           \
	static type real_##name;                                                                   \
	if (!real_##name)                                                                          \
		real_##name = (type)dlsym(RTLD_NEXT, #name);

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);

static mode_t open_mode(int flags, va_list ap) {
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	if (hit(FAM_OPEN, __builtin_return_address(0))) {
		errno = EMFILE;
		return -1;
	}
	REAL(open, open_fn);
	return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	if (hit(FAM_OPEN, __builtin_return_address(0))) {
		errno = EMFILE;
		return -1;
	}
	REAL(open64, open_fn);
	return real_open64(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...) {
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	if (hit(FAM_OPEN, __builtin_return_address(0))) {
		errno = EMFILE;
		return -1;
	}
	REAL(openat, openat_fn);
	return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) {
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	if (hit(FAM_OPEN, __builtin_return_address(0))) {
		errno = EMFILE;
		return -1;
	}
	REAL(openat64, openat_fn);
	return real_openat64(dirfd, path, flags, mode);
}

typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);

ssize_t recvmsg(int fd, struct msghdr *mh, int flags) {
	if (hit(FAM_RECVMSG, __builtin_return_address(0))) {
		errno = ENOBUFS;
		return -1;
	}
	REAL(recvmsg, recvmsg_fn);
	return real_recvmsg(fd, mh, flags);
}

ssize_t sendmsg(int fd, const struct msghdr *mh, int flags) {
	if (hit(FAM_SENDMSG, __builtin_return_address(0))) {
		errno = ENOBUFS;
		return -1;
	}
	REAL(sendmsg, sendmsg_fn);
	return real_sendmsg(fd, mh, flags);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
	REAL(accept4, accept4_fn);
	int r = real_accept4(fd, addr, len, flags);
	if (r >= 0)
		arm();
	return r;
}
