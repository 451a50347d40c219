/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trusted_path_open(): what it accepts and what it refuses, each refusal naming the path
 * component at fault. The scratch tree is made under /tmp, which is root's and sticky
 * (1777), so the accepting cases also prove the sticky rule's accept side. Files and
 * directories of another owner need chown(): as non-root only the first refusal runs and
 * the rest say SKIPPED.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/trusted-path.h"
#include "tests/unit/test.h"

#define OTHER_UID 4242

static char root[] = "/tmp/ioasid-trusted-XXXXXX";

static char *P(const char *fmt, ...) _printf_(1, 2);
static char *P(const char *fmt, ...) {
	static char bufs[8][512];
	static unsigned next;
	char *b = bufs[next++ % ELEMENTSOF(bufs)];
	int n = snprintf(b, sizeof(bufs[0]), "%s/", root);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b + n, sizeof(bufs[0]) - (size_t)n, fmt, ap);
	va_end(ap);
	return b;
}

static void put(const char *path, const char *text, mode_t mode) {
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	CU_ASSERT_FATAL(chmod(path, mode) == 0);
}

static void dir(const char *path, mode_t mode, uid_t uid) {
	CU_ASSERT_FATAL(mkdir(path, 0700) == 0);
	CU_ASSERT_FATAL(chown(path, uid, 0) == 0);
	CU_ASSERT_FATAL(chmod(path, mode) == 0);
}

/* Opens path and checks the first bytes read are want. */
static void accepts(const char *path, const char *want) {
	_cleanup_free_ char *why = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	int r = trusted_path_open(path, &fd, &st, &why);
	if (r < 0)
		fprintf(stderr, "\n%s: refused (%d): %s\n", path, r, strna(why));
	ASSERT_OK(r);
	CU_ASSERT_PTR_NULL(why);
	CU_ASSERT_TRUE(S_ISREG(st.st_mode));
	char buf[64] = {};
	CU_ASSERT_EQUAL(read(fd, buf, sizeof(buf) - 1), (ssize_t)strlen(want));
	ASSERT_STREQ(buf, want);
	/* O_CLOEXEC, read-only, and O_NONBLOCK (what keeps a FIFO from blocking the open). */
	CU_ASSERT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	int fl = fcntl(fd, F_GETFL);
	CU_ASSERT_EQUAL(fl & O_ACCMODE, O_RDONLY);
	CU_ASSERT_TRUE(fl & O_NONBLOCK);
}

/* Refused with err, the reason containing each of the (NULL-terminated) fragments. */
static void refuses_(int line, const char *path, int err, ...) {
	_cleanup_free_ char *why = NULL;
	int fd = -EBADF;
	int r = trusted_path_open(path, &fd, NULL, &why);
	if (r != -err)
		fprintf(stderr, "\nline %d: %s: expected -%s, got %d (%s)\n", line, path,
			errno_name(err), r, strna(why));
	CU_ASSERT_EQUAL(r, -err);
	CU_ASSERT_EQUAL(fd, -EBADF);
	CU_ASSERT_PTR_NOT_NULL_FATAL(why);
	va_list ap;
	va_start(ap, err);
	for (const char *s; (s = va_arg(ap, const char *));) {
		if (!strstr(why, s))
			fprintf(stderr, "\nline %d: '%s' not in '%s'\n", line, s, why);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, s));
	}
	va_end(ap);
}
#define refuses(path, err, ...) refuses_(__LINE__, path, err, __VA_ARGS__, NULL)

static char *quoted(const char *s) {
	static char bufs[4][600];
	static unsigned next;
	char *b = bufs[next++ % ELEMENTSOF(bufs)];
	snprintf(b, sizeof(bufs[0]), "'%s'", s);
	return b;
}

static int init(void) {
	if (!mkdtemp(root) || chmod(root, 0755) < 0)
		return -1;
	return 0;
}

static int cleanup(void) {
	char cmd[sizeof(root) + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static bool as_root(const char *test) {
	if (geteuid() == 0)
		return true;
	fprintf(stderr, "\ntrusted-path %s: SKIPPED: needs root (chown to another uid)\n", test);
	return false;
}

static void test_accept(void) {
	dir(P("etc"), 0755, 0);
	put(P("etc/ioasid.conf"), "one", 0644);
	if (geteuid() != 0) {
		/* Everything we create is ours, not root's. */
		refuses(P("etc"), EPERM, quoted(P("etc")), "owned by uid");
		as_root("accept");
		return;
	}
	accepts(P("etc/ioasid.conf"), "one");
	/* Read-only for everyone and root-only still do. */
	CU_ASSERT_FATAL(chmod(P("etc/ioasid.conf"), 0400) == 0);
	accepts(P("etc/ioasid.conf"), "one");
	CU_ASSERT_FATAL(chmod(P("etc/ioasid.conf"), 0644) == 0);
	/* "." , "..", doubled slashes. */
	accepts(P("./etc//./../etc/ioasid.conf"), "one");
	/* Root's symlinks are followed: absolute, relative, to a file, to a directory. */
	dir(P("etc2"), 0755, 0);
	put(P("etc2/ioasid.conf"), "two", 0644);
	CU_ASSERT_FATAL(symlink(P("etc2/ioasid.conf"), P("etc/abs.conf")) == 0);
	CU_ASSERT_FATAL(symlink("../etc2/ioasid.conf", P("etc/rel.conf")) == 0);
	CU_ASSERT_FATAL(symlink("etc2", P("etcl")) == 0);
	CU_ASSERT_FATAL(symlink("rel.conf", P("etc/chain.conf")) == 0);
	accepts(P("etc/abs.conf"), "two");
	accepts(P("etc/rel.conf"), "two");
	accepts(P("etcl/ioasid.conf"), "two");
	accepts(P("etc/chain.conf"), "two");
	/* A relative path starts at the current directory's real path. */
	char cwd[4096];
	CU_ASSERT_FATAL(getcwd(cwd, sizeof(cwd)) != NULL);
	CU_ASSERT_FATAL(chdir(P("etcl")) == 0);
	accepts("ioasid.conf", "two");
	accepts("../etc/ioasid.conf", "one");
	CU_ASSERT_FATAL(chdir(cwd) == 0);
}

/* The sticky rule, both sides: a root-owned sticky directory others can write is accepted
 * on the path when what the path takes from it is root's, and refused otherwise. */
static void test_sticky(void) {
	if (!as_root("sticky"))
		return;
	dir(P("sticky"), 01777, 0);
	put(P("sticky/ioasid.conf"), "sticky", 0644);
	accepts(P("sticky/ioasid.conf"), "sticky");
	dir(P("sticky/rootdir"), 0755, 0);
	put(P("sticky/rootdir/ioasid.conf"), "deeper", 0644);
	accepts(P("sticky/rootdir/ioasid.conf"), "deeper");
	/* Group-writable and sticky (01775) is the same case. */
	CU_ASSERT_FATAL(chmod(P("sticky"), 01775) == 0);
	accepts(P("sticky/ioasid.conf"), "sticky");
	CU_ASSERT_FATAL(chmod(P("sticky"), 01777) == 0);

	/* A user's file, directory or symlink in it: refused, each named. */
	put(P("sticky/user.conf"), "u", 0644);
	CU_ASSERT_FATAL(chown(P("sticky/user.conf"), OTHER_UID, OTHER_UID) == 0);
	refuses(P("sticky/user.conf"), EPERM, quoted(P("sticky/user.conf")),
		"regular file owned by uid 4242, not root");
	dir(P("sticky/userdir"), 0755, OTHER_UID);
	put(P("sticky/userdir/ioasid.conf"), "u", 0644);
	refuses(P("sticky/userdir/ioasid.conf"), EPERM, quoted(P("sticky/userdir")),
		"directory owned by uid 4242");
	CU_ASSERT_FATAL(symlink(P("sticky/ioasid.conf"), P("sticky/userlink")) == 0);
	CU_ASSERT_FATAL(lchown(P("sticky/userlink"), OTHER_UID, OTHER_UID) == 0);
	refuses(P("sticky/userlink"), EPERM, quoted(P("sticky/userlink")),
		"symlink owned by uid 4242");
	/* A second hard link of a root file, which a user may have made there when
	 * fs.protected_hardlinks is off. In a directory only root writes it is fine. */
	put(P("sticky/orig.conf"), "orig", 0644);
	CU_ASSERT_FATAL(link(P("sticky/orig.conf"), P("sticky/hard.conf")) == 0);
	refuses(P("sticky/hard.conf"), EPERM, quoted(P("sticky/hard.conf")), "2 hard links");
	CU_ASSERT_FATAL(link(P("sticky/orig.conf"), P("sticky/rootdir/hard.conf")) == 0);
	accepts(P("sticky/rootdir/hard.conf"), "orig");

	/* Sticky but not root's: its owner may do anything in it. */
	dir(P("usticky"), 01777, OTHER_UID);
	put(P("usticky/ioasid.conf"), "x", 0644);
	refuses(P("usticky/ioasid.conf"), EPERM, quoted(P("usticky")), "owned by uid 4242");
	/* Others may write, not sticky: refused, whichever of group and others may. */
	dir(P("ww"), 0777, 0);
	put(P("ww/ioasid.conf"), "x", 0644);
	refuses(P("ww/ioasid.conf"), EPERM, quoted(P("ww")), "mode 0777", "not sticky");
	dir(P("ow"), 0757, 0);
	put(P("ow/ioasid.conf"), "x", 0644);
	refuses(P("ow/ioasid.conf"), EPERM, quoted(P("ow")), "mode 0757");
	dir(P("gw"), 0775, 0);
	put(P("gw/ioasid.conf"), "x", 0644);
	refuses(P("gw/ioasid.conf"), EPERM, quoted(P("gw")), "mode 0775");
}

static void test_owner_mode(void) {
	if (!as_root("owner-mode"))
		return;
	dir(P("om"), 0755, 0);
	put(P("om/user.conf"), "x", 0644);
	CU_ASSERT_FATAL(chown(P("om/user.conf"), OTHER_UID, 0) == 0);
	refuses(P("om/user.conf"), EPERM, quoted(P("om/user.conf")), "owned by uid 4242");
	/* uid 1 (daemon on Debian) is not root either. */
	CU_ASSERT_FATAL(chown(P("om/user.conf"), 1, 0) == 0);
	refuses(P("om/user.conf"), EPERM, quoted(P("om/user.conf")), "owned by uid 1, not root");
	put(P("om/gw.conf"), "x", 0664);
	refuses(P("om/gw.conf"), EPERM, quoted(P("om/gw.conf")),
		"writable by group or others (mode 0664)");
	put(P("om/ow.conf"), "x", 0646);
	refuses(P("om/ow.conf"), EPERM, quoted(P("om/ow.conf")), "(mode 0646)");
	/* A group-writable directory on the path, at any depth. */
	dir(P("om/gwdir"), 0775, 0);
	dir(P("om/gwdir/sub"), 0755, 0);
	put(P("om/gwdir/sub/ioasid.conf"), "x", 0644);
	refuses(P("om/gwdir/sub/ioasid.conf"), EPERM, quoted(P("om/gwdir")), "(mode 0775)");
	/* A directory of another owner, even 0755. */
	dir(P("om/udir"), 0755, OTHER_UID);
	put(P("om/udir/ioasid.conf"), "x", 0644);
	refuses(P("om/udir/ioasid.conf"), EPERM, quoted(P("om/udir")),
		"directory owned by uid 4242");
	/* A relative path from inside it. */
	char cwd[4096];
	CU_ASSERT_FATAL(getcwd(cwd, sizeof(cwd)) != NULL);
	CU_ASSERT_FATAL(chdir(P("om/udir")) == 0);
	refuses("ioasid.conf", EPERM, quoted(P("om/udir")), "owned by uid 4242");
	CU_ASSERT_FATAL(chdir(cwd) == 0);
	/* ".." does not launder a path that went through it. */
	put(P("om/ok.conf"), "x", 0644);
	refuses(P("om/udir/../ok.conf"), EPERM, quoted(P("om/udir")));
}

/* The attack of issue 11: a root-owned symlink in a root-owned directory whose target is in
 * a directory a user owns (the file there even root's, as the user may swap it any time). */
static void test_symlink_into_user_dir(void) {
	if (!as_root("symlink"))
		return;
	dir(P("sys"), 0755, 0);
	dir(P("home"), 0755, 0);
	dir(P("home/alice"), 0755, OTHER_UID);
	put(P("home/alice/evil.conf"), "evil", 0644);
	CU_ASSERT_FATAL(symlink(P("home/alice/evil.conf"), P("sys/abs.conf")) == 0);
	CU_ASSERT_FATAL(symlink("../home/alice/evil.conf", P("sys/rel.conf")) == 0);
	CU_ASSERT_FATAL(symlink("../home/alice", P("sys/dirlink")) == 0);
	refuses(P("sys/abs.conf"), EPERM, quoted(P("home/alice")), "owned by uid 4242",
		"reached through the symlink", quoted(P("sys/abs.conf")));
	refuses(P("sys/rel.conf"), EPERM, quoted(P("home/alice")), "reached through the symlink",
		quoted(P("sys/rel.conf")));
	refuses(P("sys/dirlink/evil.conf"), EPERM, quoted(P("home/alice")),
		quoted(P("sys/dirlink")));
	/* A loop, and the limit: a chain of TRUSTED_PATH_MAX_SYMLINKS links is followed, one
	 * more is refused. */
	CU_ASSERT_FATAL(symlink("loop2", P("sys/loop1")) == 0);
	CU_ASSERT_FATAL(symlink("loop1", P("sys/loop2")) == 0);
	refuses(P("sys/loop1"), ELOOP, "one symlink too many");
	dir(P("chain"), 0755, 0);
	put(P("chain/0"), "end", 0644);
	for (int i = 1; i <= TRUSTED_PATH_MAX_SYMLINKS + 1; i++) {
		char target[16], name[32];
		snprintf(target, sizeof(target), "%d", i - 1);
		snprintf(name, sizeof(name), "chain/%d", i);
		CU_ASSERT_FATAL(symlink(target, P("%s", name)) == 0);
	}
	accepts(P("chain/%d", TRUSTED_PATH_MAX_SYMLINKS), "end");
	refuses(P("chain/%d", TRUSTED_PATH_MAX_SYMLINKS + 1), ELOOP, "one symlink too many");
}

/* Not a regular file: refused by type, never opened (a FIFO would block an open without
 * O_NONBLOCK until a writer comes; a device's open may act). */
static void test_types(void) {
	if (!as_root("types"))
		return;
	dir(P("ty"), 0755, 0);
	CU_ASSERT_FATAL(mkfifo(P("ty/fifo.conf"), 0644) == 0);
	refuses(P("ty/fifo.conf"), EINVAL, quoted(P("ty/fifo.conf")), "is a FIFO");
	CU_ASSERT_FATAL(mknod(P("ty/null.conf"), S_IFCHR | 0644, makedev(1, 3)) == 0);
	refuses(P("ty/null.conf"), EINVAL, "is a character device");
	CU_ASSERT_FATAL(mknod(P("ty/blk.conf"), S_IFBLK | 0644, makedev(7, 0)) == 0);
	refuses(P("ty/blk.conf"), EINVAL, "is a block device");
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", P("ty/sock.conf"));
	CU_ASSERT_FATAL(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(s);
	CU_ASSERT_FATAL(chmod(P("ty/sock.conf"), 0644) == 0);
	refuses(P("ty/sock.conf"), EINVAL, "is a socket");
	refuses(P("ty"), EINVAL, quoted(P("ty")), "is a directory");
	refuses(P("ty/"), EINVAL, "is a directory");
	/* Through a root symlink, still the FIFO that is named. */
	CU_ASSERT_FATAL(symlink("fifo.conf", P("ty/tofifo")) == 0);
	refuses(P("ty/tofifo"), EINVAL, quoted(P("ty/fifo.conf")), "is a FIFO");
	/* Missing, and a file used as a directory. */
	put(P("ty/file"), "x", 0644);
	refuses(P("ty/missing.conf"), ENOENT, quoted(P("ty/missing.conf")));
	refuses(P("ty/file/x"), ENOTDIR, quoted(P("ty/file")));
	refuses("", EINVAL, "empty path");
}

/* One test per line: clang-format 14 would pack this table into columns. */
/* clang-format off */
static CU_TestInfo tests[] = {
	{ "accept", test_accept },
	{ "sticky", test_sticky },
	{ "owner-mode", test_owner_mode },
	{ "symlink-into-user-dir", test_symlink_into_user_dir },
	{ "types", test_types },
	CU_TEST_INFO_NULL,
};
/* clang-format on */
TEST_SUITE_FULL("trusted-path", init, cleanup, tests);
