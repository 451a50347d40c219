/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * common/cgroup-identity.c: a table of cgroup paths with the system unit, user unit, owner
 * uid and slice systemd's rules give them, and the same table checked against libsystemd
 * itself: each path that can exist is created as a real cgroup (inside a private cgroup
 * namespace rooted at a scratch cgroup, so /proc/PID/cgroup shows exactly the path), a
 * child process is moved into it, and sd_pid_get_unit(), sd_pid_get_user_unit(),
 * sd_pid_get_owner_uid() and sd_pid_get_slice() on that child must agree with
 * cgroup_identity_from_path() on the "0::" line the daemon would read.
 */
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include "common/cgroup-identity.h"
#include "common/macro.h"
#include "ioasidd/ioasidd.h"
#include "tests/unit/test.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define U1000 "/user.slice/user-1000.slice/user@1000.service"

/* 255 characters, the longest unit name (and the longest cgroup directory name). */
#define LONG_STEM_50 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LONG_UNIT                                                                                  \
	LONG_STEM_50 LONG_STEM_50 LONG_STEM_50 LONG_STEM_50                                        \
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.service"

typedef struct Case {
	const char *path;
	int ret;               /* 0 or -EINVAL */
	const char *unit;      /* NULL: none */
	const char *user_unit; /* NULL: none */
	uid_t owner;           /* (uid_t)-1: none */
	const char *slice;
	bool kernel; /* a path the kernel shows: checked against libsystemd */
} Case;

#define NONE ((uid_t)-1)

static const Case cases[] = {
	/* The root and plain system services. */
	{ "/", 0, NULL, NULL, NONE, "-.slice", true },
	{ "/init.scope", 0, "init.scope", NULL, NONE, "-.slice", true },
	{ "/system.slice", 0, NULL, NULL, NONE, "system.slice", true },
	{ "/system.slice/libvirtd.service", 0, "libvirtd.service", NULL, NONE, "system.slice",
	  true },
	{ "/system.slice/libvirtd.service/", 0, "libvirtd.service", NULL, NONE, "system.slice" },
	{ "//system.slice///libvirtd.service", 0, "libvirtd.service", NULL, NONE, "system.slice" },
	{ "/-.slice/init.scope", 0, "init.scope", NULL, NONE, "-.slice", true },
	{ "/system.slice/system-getty.slice/getty@tty1.service", 0, "getty@tty1.service", NULL,
	  NONE, "system-getty.slice", true },
	{ "/system.slice/a@b@c.service", 0, "a@b@c.service", NULL, NONE, "system.slice", true },
	/* Nested: the first unit below the slices, whatever is below it. */
	{ "/system.slice/foo.service/libvirtd.service", 0, "foo.service", NULL, NONE,
	  "system.slice", true },
	{ "/system.slice/docker.service/x.scope/y.slice/z.service", 0, "docker.service", NULL, NONE,
	  "system.slice", true },
	{ "/machine.slice/machine-qemu\\x2d1\\x2dvm.scope/libvirt/vcpu0", 0,
	  "machine-qemu\\x2d1\\x2dvm.scope", NULL, NONE, "machine.slice", true },
	{ "/system.slice/my.mount", 0, "my.mount", NULL, NONE, "system.slice", true },
	/* Escaped names (cg_escape): one leading '_' is not part of the name. */
	{ "/system.slice/_cpu.service", 0, "cpu.service", NULL, NONE, "system.slice", true },
	{ "/system.slice/__x.service", 0, "_x.service", NULL, NONE, "system.slice", true },
	{ "/_foo.slice/bar.service", 0, "bar.service", NULL, NONE, "foo.slice", true },
	/* Names systemd refuses: no unit (and no further look). */
	{ "/system.slice/foo.bar/x.service", 0, NULL, NULL, NONE, "system.slice", true },
	{ "/system.slice/foo@.service", 0, NULL, NULL, NONE, "system.slice", true },
	{ "/system.slice/@foo.service", 0, NULL, NULL, NONE, "system.slice", true },
	{ "/system.slice/foo bar.service", 0, NULL, NULL, NONE, "system.slice", true },
	{ "/system.slice/.service", 0, NULL, NULL, NONE, "system.slice" },
	{ "/system.slice/x.service.d", 0, NULL, NULL, NONE, "system.slice", true },
	{ "/system.slice/f\xc3\xb6\xc3\xb6.service", 0, NULL, NULL, NONE, "system.slice", true },
	{ "/system.slice/ab", 0, NULL, NULL, NONE, "system.slice", true },
	{ "/foo@bar.slice/x.service", 0, NULL, NULL, NONE, "-.slice", true },
	{ "/system.slice/" LONG_UNIT, 0, LONG_UNIT, NULL, NONE, "system.slice", true },
	{ "/system.slice/a" LONG_UNIT, 0, NULL, NULL, NONE, "system.slice" }, /* 256: too long */
	/* A user's manager: the system unit is user@UID.service, whatever it runs. */
	{ U1000, 0, "user@1000.service", NULL, 1000, "user-1000.slice", true },
	{ U1000 "/init.scope", 0, "user@1000.service", "init.scope", 1000, "user-1000.slice",
	  true },
	{ U1000 "/app.slice/libvirtd.service", 0, "user@1000.service", "libvirtd.service", 1000,
	  "user-1000.slice", true },
	{ U1000 "/app.slice/libvirtd.service/sub", 0, "user@1000.service", "libvirtd.service", 1000,
	  "user-1000.slice", true },
	{ U1000 "/system.slice/libvirtd.service", 0, "user@1000.service", "libvirtd.service", 1000,
	  "user-1000.slice", true },
	{ U1000 "/libvirtd.service", 0, "user@1000.service", "libvirtd.service", 1000,
	  "user-1000.slice", true },
	{ U1000 "/app.slice/app-podman-1.scope", 0, "user@1000.service", "app-podman-1.scope", 1000,
	  "user-1000.slice", true },
	{ U1000 "/app.slice/a.service/user@0.service/libvirtd.service", 0, "user@1000.service",
	  "a.service", 1000, "user-1000.slice", true },
	{ U1000 "/app.slice", 0, "user@1000.service", NULL, 1000, "user-1000.slice", true },
	/* Rootless podman (crun, cgroup v2, systemd driver): the container in libpod-ID.scope,
	 * in a "container" sub-cgroup by default; conmon in libpod-conmon-ID.scope. */
	{ U1000 "/user.slice/libpod-" HEX64 ".scope/container", 0, "user@1000.service",
	  "libpod-" HEX64 ".scope", 1000, "user-1000.slice", true },
	{ U1000 "/user.slice/libpod-" HEX64 ".scope", 0, "user@1000.service",
	  "libpod-" HEX64 ".scope", 1000, "user-1000.slice", true },
	{ U1000 "/user.slice/libpod-conmon-" HEX64 ".scope", 0, "user@1000.service",
	  "libpod-conmon-" HEX64 ".scope", 1000, "user-1000.slice", true },
	/* user@ whose uid is not one: a unit, but not a user manager. */
	{ "/user.slice/user-1000.slice/user@01000.service/app.slice/x.service", 0,
	  "user@01000.service", NULL, 1000, "user-1000.slice", true },
	{ "/user.slice/user-1000.slice/user@65535.service/x.service", 0, "user@65535.service", NULL,
	  1000, "user-1000.slice", true },
	{ "/user.slice/user-1000.slice/user@4294967295.service/x.service", 0,
	  "user@4294967295.service", NULL, 1000, "user-1000.slice", true },
	{ "/user.slice/user-1000.slice/user@abc.service/x.service", 0, "user@abc.service", NULL,
	  1000, "user-1000.slice", true },
	{ "/user@1000.service/x.service", 0, "user@1000.service", "x.service", NONE, "-.slice",
	  true },
	/* Sessions. */
	{ "/user.slice/user-1000.slice/session-3.scope", 0, "session-3.scope", NULL, 1000,
	  "user-1000.slice", true },
	{ "/user.slice/user-1000.slice/session-c3.scope/foo.service", 0, "session-c3.scope",
	  "foo.service", 1000, "user-1000.slice", true },
	{ "/user.slice/user-1000.slice/session-a_b.scope/foo.service", 0, "session-a_b.scope", NULL,
	  1000, "user-1000.slice", true },
	/* Owner uids. */
	{ "/user.slice/user-0.slice/user@0.service/x.service", 0, "user@0.service", "x.service", 0,
	  "user-0.slice", true },
	{ "/user.slice/user-65535.slice/x.service", 0, "x.service", NULL, NONE, "user-65535.slice",
	  true },
	{ "/user.slice/user-01.slice/x.service", 0, "x.service", NULL, NONE, "user-01.slice",
	  true },
	{ "/user.slice/user-4294967294.slice/x.service", 0, "x.service", NULL, 4294967294u,
	  "user-4294967294.slice", true },
	{ "/user.slice/user-4294967296.slice/x.service", 0, "x.service", NULL, NONE,
	  "user-4294967296.slice", true },
	{ "/user.slice", 0, NULL, NULL, NONE, "user.slice", true },
	/* Malformed: fail closed. */
	{ "", -EINVAL },
	{ "system.slice/libvirtd.service", -EINVAL },
	{ "/../system.slice/libvirtd.service", -EINVAL },
	{ "/../..", -EINVAL },
	{ "/system.slice/../libvirtd.service", -EINVAL },
	{ "/system.slice/./libvirtd.service", -EINVAL },
};

/* What a case expects, and what was found, as one line ("unit=... user_unit=... ..."). */
static void describe(const char *unit, const char *user_unit, uid_t owner, const char *slice,
		     char *buf, size_t size) {
	char o[16] = "-";
	if (owner != NONE)
		snprintf(o, sizeof(o), "%u", (unsigned)owner);
	snprintf(buf, size, "unit=%s user_unit=%s owner=%s slice=%s", unit ? unit : "-",
		 user_unit ? user_unit : "-", o, slice ? slice : "-");
}

static void describe_identity(const CgroupIdentity *id, char *buf, size_t size) {
	describe(id->unit[0] ? id->unit : NULL, id->user_unit[0] ? id->user_unit : NULL,
		 id->owner_uid, id->slice, buf, size);
}

static void test_table(void) {
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const Case *c = &cases[i];
		CgroupIdentity id;
		memset(&id, 'x', sizeof(id));
		int r = cgroup_identity_from_path(c->path, &id);
		if (r != c->ret) {
			fprintf(stderr, "\n'%s': returned %d, expected %d\n", c->path, r, c->ret);
			CU_FAIL("return value");
			continue;
		}
		if (r < 0)
			continue;
		char want[1024], got[1024];
		describe(c->unit, c->user_unit, c->owner, c->slice, want, sizeof(want));
		describe_identity(&id, got, sizeof(got));
		if (!streq(want, got))
			fprintf(stderr, "\n'%s':\n  expected %s\n  got      %s\n", c->path, want,
				got);
		CU_ASSERT_STRING_EQUAL(got, want);
	}
	CgroupIdentity id = { .owner_uid = 7 };
	ASSERT_ERR(cgroup_identity_from_path(NULL, &id), EINVAL);
	CU_ASSERT_EQUAL(id.owner_uid, 7); /* untouched on failure */

	/* Longer than any path /proc shows. */
	size_t n = 4200;
	char *big = malloc(n + 1);
	CU_ASSERT_FATAL(big != NULL);
	big[0] = '/';
	memset(big + 1, 'a', n - 1);
	big[n] = '\0';
	memcpy(big, "/system.slice/x.service/", strlen("/system.slice/x.service/"));
	ASSERT_ERR(cgroup_identity_from_path(big, &id), EINVAL);
	free(big);
}

static void test_unit_names(void) {
	static const struct {
		const char *name;
		bool valid;
	} names[] = {
		{ "libvirtd.service", true },   { "getty@tty1.service", true },
		{ "a@b@c.scope", true },        { "-.slice", true },
		{ "x:y_z-\\x2d.socket", true }, { LONG_UNIT, true },
		{ "a" LONG_UNIT, false },       { "getty@.service", false },
		{ "@tty1.service", false },     { "foo", false },
		{ ".service", false },          { "foo.servic", false },
		{ "foo.Service", false },       { "foo bar.service", false },
		{ "foo/bar.service", false },   { "", false },
		{ "f\xc3\xb6.service", false }, { "foo.service.", false },
	};
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		bool v = cgroup_unit_name_is_valid(names[i].name);
		if (v != names[i].valid)
			fprintf(stderr, "\n'%s': valid %d, expected %d\n", names[i].name, v,
				names[i].valid);
		CU_ASSERT_EQUAL(v, names[i].valid);
	}
	CU_ASSERT_FALSE(cgroup_unit_name_is_valid(NULL));
	CU_ASSERT_EQUAL(strlen(LONG_UNIT), CGROUP_UNIT_NAME_MAX - 1);
}

/* ---- against libsystemd ---------------------------------------------------------------- */

/* The cgroup2 mount: /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified (hybrid). */
static const char *cgroup2_mount(void) {
	static const char *const candidates[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	for (size_t i = 0; i < ELEMENTSOF(candidates); i++) {
		struct statfs s;
		if (statfs(candidates[i], &s) == 0 &&
		    (unsigned long)s.f_type == CGROUP2_SUPER_MAGIC)
			return candidates[i];
	}
	return NULL;
}

static int write_pid(const char *dir, pid_t pid) {
	char path[PATH_MAX + 32], buf[32];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	ssize_t w = write(fd, buf, (size_t)n);
	int r = w == n ? 0 : -errno;
	close(fd);
	return r;
}

/* mkdir -p of rel below base. */
static int mkdir_below(const char *base, const char *rel) {
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/", base);
	for (const char *p = rel;;) {
		p += strspn(p, "/");
		size_t len = strcspn(p, "/");
		if (len == 0)
			return 0;
		if ((size_t)n + len + 2 >= sizeof(path))
			return -ENAMETOOLONG;
		memcpy(path + n, p, len);
		n += (int)len;
		path[n] = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		path[n++] = '/';
		p += len;
	}
}

/* rmdir, retried while the last process of the cgroup is still leaving it. */
static int rmdir_cgroup(const char *path, const struct stat *st, int type, struct FTW *ftw) {
	if (type != FTW_DP)
		return 0; /* the control files go with their directory */
	for (int tries = 0; tries < 100 && rmdir(path) < 0 && errno == EBUSY; tries++)
		usleep(10000);
	return 0;
}

static void report(int fd, const char *fmt, ...) _printf_(2, 3);
static void report(int fd, const char *fmt, ...) {
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	n = MIN(n, (int)sizeof(buf) - 2);
	buf[n++] = '\n';
	(void)!write(fd, buf, (size_t)n);
}

static char *sd_str(int r, char *s) {
	if (r == -ENODATA)
		return strdup("-");
	if (r < 0) {
		char e[64];
		snprintf(e, sizeof(e), "error:%s", strna(errno_name(r)));
		return strdup(e);
	}
	return s;
}

/* In the helper process, inside the private cgroup namespace: one child per case, moved
 * into its cgroup; the two readings compared. Lines to out: "ok PATH" or "MISMATCH ...";
 * "skip REASON" when the check cannot run here. */
static void helper(const char *scratch, int out) {
	if (write_pid(scratch, getpid()) < 0) {
		report(out, "skip cannot move into the scratch cgroup %s: %m", scratch);
		return;
	}
	if (unshare(CLONE_NEWCGROUP) < 0) {
		report(out, "skip unshare(CLONE_NEWCGROUP): %m");
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const Case *c = &cases[i];
		if (!c->kernel)
			continue;
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s%s", scratch, streq(c->path, "/") ? "" : c->path);
		int r = mkdir_below(scratch, c->path);
		if (r < 0) {
			report(out, "MISMATCH '%s': cannot create the cgroup: %s", c->path,
			       strerror(-r));
			continue;
		}
		int hold[2];
		if (pipe2(hold, O_CLOEXEC) < 0) {
			report(out, "MISMATCH '%s': pipe: %m", c->path);
			continue;
		}
		pid_t k = fork();
		if (k == 0) {
			char b;
			close(hold[1]);
			(void)!read(hold[0], &b, 1); /* until the helper is done (or gone) */
			_exit(0);
		}
		close(hold[0]);
		if (k < 0 || write_pid(dir, k) < 0) {
			report(out, "MISMATCH '%s': cannot move a process into it: %m", c->path);
			close(hold[1]);
			if (k > 0)
				waitpid(k, NULL, 0);
			continue;
		}

		char procpath[64];
		_cleanup_free_ char *text = NULL, *line = NULL;
		snprintf(procpath, sizeof(procpath), "/proc/%d/cgroup", (int)k);
		r = read_full_file(procpath, 64 * 1024, &text, NULL);
		if (r >= 0)
			r = identity_parse_proc_cgroup(text, &line);
		CgroupIdentity id;
		char ours[1024] = "", theirs[1024] = "";
		if (r >= 0 && cgroup_identity_from_path(line, &id) >= 0)
			describe_identity(&id, ours, sizeof(ours));
		else
			snprintf(ours, sizeof(ours), "error:%s",
				 strna(errno_name(r < 0 ? r : -EINVAL)));

		char *u = NULL, *uu = NULL, *sl = NULL;
		uid_t owner = NONE;
		int ru = sd_pid_get_unit(k, &u);
		int ruu = sd_pid_get_user_unit(k, &uu);
		int rsl = sd_pid_get_slice(k, &sl);
		int ro = sd_pid_get_owner_uid(k, &owner);
		_cleanup_free_ char *su = sd_str(ru, u), *suu = sd_str(ruu, uu),
				    *ssl = sd_str(rsl, sl);
		if (ro < 0)
			owner = NONE;
		char o[32] = "-";
		if (ro < 0 && ro != -ENODATA)
			snprintf(o, sizeof(o), "error:%s", strna(errno_name(ro)));
		else if (owner != NONE)
			snprintf(o, sizeof(o), "%u", (unsigned)owner);
		snprintf(theirs, sizeof(theirs), "unit=%s user_unit=%s owner=%s slice=%s", su, suu,
			 o, ssl);

		if (!line || !streq(line, c->path))
			report(out, "MISMATCH '%s': /proc shows '%s'", c->path, strna(line));
		else if (!streq(ours, theirs))
			report(out, "MISMATCH '%s':\n  ours       %s\n  libsystemd %s", c->path,
			       ours, theirs);
		else
			report(out, "ok %s", c->path);
		close(hold[1]);
		waitpid(k, NULL, 0);
	}
}

static void test_libsystemd(void) {
	const char *mnt = cgroup2_mount();
	if (geteuid() != 0) {
		fprintf(stderr, "\ncgroup-identity: libsystemd cross-check SKIPPED: needs root "
				"(it creates cgroups)\n");
		return;
	}
	if (!mnt) {
		fprintf(stderr, "\ncgroup-identity: libsystemd cross-check SKIPPED: no cgroup2 "
				"mount at /sys/fs/cgroup or /sys/fs/cgroup/unified\n");
		return;
	}
	char scratch[PATH_MAX];
	snprintf(scratch, sizeof(scratch), "%s/ioasid-test-cgid-%d", mnt, (int)getpid());
	if (mkdir(scratch, 0755) < 0) {
		fprintf(stderr, "\ncgroup-identity: libsystemd cross-check SKIPPED: mkdir %s: %s\n",
			scratch, strerror(errno));
		return;
	}

	int p[2];
	CU_ASSERT_FATAL(pipe2(p, O_CLOEXEC) == 0);
	pid_t h = fork();
	CU_ASSERT_FATAL(h >= 0);
	if (h == 0) {
		close(p[0]);
		helper(scratch, p[1]);
		_exit(0);
	}
	close(p[1]);
	_cleanup_free_ char *text = NULL;
	size_t cap = 0, len = 0;
	for (;;) {
		if (len + 4096 > cap) {
			char *x = realloc(text, cap = cap * 2 + 8192);
			CU_ASSERT_FATAL(x != NULL);
			text = x;
		}
		ssize_t n = read(p[0], text + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	int status = 0;
	waitpid(h, &status, 0);
	text = text ? text : strdup("");
	text[len] = '\0';

	/* The helper and its children are gone: the cgroups are empty; deepest first. */
	nftw(scratch, rmdir_cgroup, 16, FTW_DEPTH | FTW_PHYS);
	struct stat st;
	CU_ASSERT(stat(scratch, &st) < 0 && errno == ENOENT); /* cleaned up */

	if (strneq(text, "skip ", 5)) {
		fprintf(stderr, "\ncgroup-identity: libsystemd cross-check SKIPPED: %s", text + 5);
		return;
	}
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	size_t want = 0, ok = 0;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		want += cases[i].kernel;
	for (const char *l = text; *l;) {
		const char *nl = strchrnul(l, '\n');
		if (strneq(l, "ok ", 3))
			ok++;
		l = *nl ? nl + 1 : nl;
	}
	if (strstr(text, "MISMATCH"))
		fprintf(stderr, "\n%s", text);
	CU_ASSERT_PTR_NULL(strstr(text, "MISMATCH"));
	CU_ASSERT_EQUAL(ok, want);
}

static CU_TestInfo tests[] = {
	{ "table", test_table },
	{ "unit-names", test_unit_names },
	{ "libsystemd", test_libsystemd },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("cgroup-identity", tests);
