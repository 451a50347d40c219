/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sysfs-magic: an LD_PRELOAD shim (built as a shared object) for the benchmarks' native mode
 * (tests/bench/lib.sh, NATIVE=1). There the synthetic test bed, a tmpfs tree, is
 * bind-mounted on /sys in a private mount namespace, so every tool reads it with plain system
 * calls instead of through umockdev's path translation. libudev refuses a /sys that is not
 * sysfs (sd-device checks statfs's f_type), so this shim reports SYSFS_MAGIC for tmpfs
 * paths under /sys and nothing else: every other call, and every other file system, gets the
 * real answer.
 *
 *   LD_PRELOAD=build/sysfs-magic udev-enum pci
 */
#include <assert.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/macro.h"

/* On 64-bit glibc, statfs and statfs64 are the same structure and libudev calls the *64
 * names; the shim answers for both names without relying on the headers' redirections. */
static_assert(sizeof(long) == 8, "sysfs-magic assumes a 64-bit ABI (struct statfs == statfs64)");
typedef int (*fstatfs_fn)(int, struct statfs *);
typedef int (*statfs_fn)(const char *, struct statfs *);

/* True when fd is open on something under /sys (its /proc/self/fd link says where). */
static bool fd_under_sys(int fd) {
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return false;
	path[n] = '\0';
	return streq(path, "/sys") || strneq(path, "/sys/", 5);
}

static bool path_under_sys(const char *p) {
	return p && (streq(p, "/sys") || strneq(p, "/sys/", 5));
}

int shim_fstatfs(int fd, struct statfs *buf) __asm__("fstatfs");
int shim_fstatfs64(int fd, struct statfs *buf) __asm__("fstatfs64");
int shim_statfs(const char *path, struct statfs *buf) __asm__("statfs");
int shim_statfs64(const char *path, struct statfs *buf) __asm__("statfs64");

int shim_fstatfs(int fd, struct statfs *buf) {
	static fstatfs_fn real = NULL;
	if (!real)
		real = (fstatfs_fn)dlsym(RTLD_NEXT, "fstatfs64");
	int r = real(fd, buf);
	if (r == 0 && buf->f_type == TMPFS_MAGIC && fd_under_sys(fd))
		buf->f_type = SYSFS_MAGIC;
	return r;
}

int shim_fstatfs64(int fd, struct statfs *buf) {
	return shim_fstatfs(fd, buf);
}

int shim_statfs(const char *path, struct statfs *buf) {
	static statfs_fn real = NULL;
	if (!real)
		real = (statfs_fn)dlsym(RTLD_NEXT, "statfs64");
	int r = real(path, buf);
	if (r == 0 && buf->f_type == TMPFS_MAGIC && path_under_sys(path))
		buf->f_type = SYSFS_MAGIC;
	return r;
}

int shim_statfs64(const char *path, struct statfs *buf) {
	return shim_statfs(path, buf);
}
