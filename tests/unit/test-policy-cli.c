/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `ioasidctl policy check|show|explain`, run as a program (the ioasidctl built next to this
 * runner): exit codes, the FILE:LINE:COL error line, the JSON keys, the explain verdicts.
 * Users are named by number so nothing depends on this machine's user database.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/unit/test.h"

static char ctl[PATH_MAX + 16];
static char example[PATH_MAX + 64], host[PATH_MAX + 32], conf[64], bad[64];
static char tmpdir[] = "/tmp/ioasid-policy-cli-XXXXXX";

static int write_file(const char *path, const char *text) {
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

static int init(void) {
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return 0;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	snprintf(ctl, sizeof(ctl), "%s/ioasidctl", self);
	snprintf(host, sizeof(host), "%s/hosts/workstation.json", test_dir());
	if (!mkdtemp(tmpdir))
		return -1;
	/* `policy check` applies the daemon's path rules: the example is checked from this
	 * root-owned directory, wherever (and whoever's) the source tree is. */
	char src[PATH_MAX + 32];
	_cleanup_free_ char *text = NULL;
	snprintf(src, sizeof(src), "%s/../ioasid.conf.example", test_dir());
	snprintf(example, sizeof(example), "%s/ioasid.conf.example", tmpdir);
	if (read_full_file(src, 1 << 20, &text, NULL) < 0 || write_file(example, text) < 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/ok.conf", tmpdir);
	snprintf(bad, sizeof(bad), "%s/bad.conf", tmpdir);
	if (write_file(conf, "pool gpus { vendor 0x10de }\n"
			     "allow user 4242 to bdf 0000:01:00.0 mode unbound memlock 1G\n"
			     "allow user 4243 group 0 to pool gpus\n"
			     "deny *\n") < 0 ||
	    write_file(bad, "allow user 0 to any\nallow user 0 to any mode bogus\n") < 0)
		return -1;
	return 0;
}

static int cleanup(void) {
	unlink(example);
	unlink(conf);
	unlink(bad);
	rmdir(tmpdir);
	return 0;
}

/* Runs ctl with args; returns the exit status and the output (stdout, stderr). */
static int run(char **ret_out, char **ret_err, const char *first, ...) {
	const char *argv[32] = { ctl, first };
	size_t n = 2;
	va_list ap;
	va_start(ap, first);
	while (n < ELEMENTSOF(argv) - 1 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;

	char out_path[64], err_path[64];
	snprintf(out_path, sizeof(out_path), "%s/out", tmpdir);
	snprintf(err_path, sizeof(err_path), "%s/err", tmpdir);
	pid_t pid = fork();
	if (pid == 0) {
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		setenv("NO_COLOR", "1", 1);
		execv(ctl, (char **)argv);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	*ret_out = NULL;
	*ret_err = NULL;
	(void)read_full_file(out_path, 1 << 20, ret_out, NULL);
	(void)read_full_file(err_path, 1 << 20, ret_err, NULL);
	unlink(out_path);
	unlink(err_path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

#define HAS(s, sub)                                                                                \
	do {                                                                                       \
		const char *_s = (s);                                                              \
		if (!_s || !strstr(_s, sub))                                                       \
			fprintf(stderr, "%s:%d: '%s' not in '%s'\n", __FILE__, __LINE__, sub,      \
				strna(_s));                                                        \
		CU_ASSERT_TRUE(_s &&strstr(_s, sub));                                              \
	} while (0)

static bool have_ctl(void) {
	if (access(ctl, X_OK) == 0)
		return true;
	fprintf(stderr, "\npolicy-cli: SKIPPED: %s is not built\n", ctl);
	return false;
}

static void test_check(void) {
	_cleanup_free_ char *o1 = NULL, *e1 = NULL, *o2 = NULL, *e2 = NULL, *o3 = NULL, *e3 = NULL,
			    *o4 = NULL, *e4 = NULL;
	if (!have_ctl())
		return;
	CU_ASSERT_EQUAL(run(&o1, &e1, "policy", "check", example, NULL), 0);
	HAS(o1, "valid: 1 rules, 1 admin rules");
	CU_ASSERT_EQUAL(run(&o2, &e2, "policy", "check", bad, NULL), 1);
	HAS(e2, "bad.conf:2:26: Unknown mode 'bogus'");
	CU_ASSERT_TRUE(o2 && !*o2); /* nothing on stdout */
	CU_ASSERT_EQUAL(run(&o3, &e3, "--json=short", "policy", "check", bad, NULL), 1);
	HAS(o3, "\"valid\":false");
	HAS(o3, "\"line\":2,\"column\":26");
	_cleanup_free_ char *o5 = NULL, *e5 = NULL, *o6 = NULL, *e6 = NULL;
	char dead[64];
	snprintf(dead, sizeof(dead), "%s/dead.conf", tmpdir);
	ASSERT_OK(write_file(dead, "deny *\nallow user 0 to any\n"));
	CU_ASSERT_EQUAL(run(&o5, &e5, "policy", "check", dead, NULL), 0);
	HAS(e5, "dead.conf:2: warning: Rule can never match: the deny rule on line 1");
	HAS(o5, "(with warnings)");
	CU_ASSERT_EQUAL(run(&o6, &e6, "--json=short", "policy", "check", dead, NULL), 0);
	HAS(o6, "\"warnings\":[{\"line\":2,\"covered_by\":1,");
	unlink(dead);

	/* A cgroup glob any user can satisfy from their own manager: a warning, still valid. */
	_cleanup_free_ char *o7 = NULL, *e7 = NULL, *o8 = NULL, *e8 = NULL;
	char cg[64];
	snprintf(cg, sizeof(cg), "%s/cgroup.conf", tmpdir);
	ASSERT_OK(write_file(cg, "allow user 4242 cgroup \"*/libpod-*.scope\" to any\n"
				 "allow cgroup \"*/libpod-*.scope\" to any\n"));
	CU_ASSERT_EQUAL(run(&o7, &e7, "policy", "check", cg, NULL), 0);
	HAS(e7, "cgroup.conf:2: warning: cgroup \"*/libpod-*.scope\" without 'user' or 'uid' is "
		"spoofable");
	CU_ASSERT_PTR_NULL(strstr(e7, "cgroup.conf:1:"));
	HAS(o7, "(with warnings)");
	CU_ASSERT_EQUAL(run(&o8, &e8, "--json=short", "policy", "check", cg, NULL), 0);
	HAS(o8, "\"warnings\":[{\"line\":2,\"covered_by\":null,\"message\":\"cgroup ");
	unlink(cg);

	/* memlock 64 is 64 bytes: valid, and warned about; 64GiB and 64GB are accepted. */
	_cleanup_free_ char *o9 = NULL, *e9 = NULL, *o10 = NULL, *e10 = NULL;
	char ml[64];
	snprintf(ml, sizeof(ml), "%s/memlock.conf", tmpdir);
	ASSERT_OK(write_file(ml, "allow uid 4242 to any memlock 64GiB\n"
				 "allow uid 4243 to any memlock 64\n"
				 "allow uid 4244 to any memlock 64GB\n"));
	CU_ASSERT_EQUAL(run(&o9, &e9, "policy", "check", ml, NULL), 0);
	HAS(e9, "memlock.conf:2: warning: memlock 64 is 64 bytes, less than a page");
	CU_ASSERT_PTR_NULL(strstr(e9, "memlock.conf:1:"));
	CU_ASSERT_PTR_NULL(strstr(e9, "memlock.conf:3:"));
	HAS(o9, "(with warnings)");
	CU_ASSERT_EQUAL(run(&o10, &e10, "--json=short", "policy", "check", ml, NULL), 0);
	HAS(o10, "\"warnings\":[{\"line\":2,\"covered_by\":null,\"message\":\"memlock 64 ");
	unlink(ml);

	CU_ASSERT_EQUAL(run(&o4, &e4, "policy", "frobnicate", NULL), 64);
	HAS(e4, "Unknown 'policy' sub-command");
}

/* `policy check` refuses what the daemon refuses, naming the component, and still judges
 * the text; `ioasidd --check-config` says the same words. */
static void test_check_path(void) {
	if (!have_ctl())
		return;
	if (geteuid() != 0) {
		fprintf(stderr, "\npolicy-cli check-path: SKIPPED: needs root (chown)\n");
		return;
	}
	char udir[96], draft[128], gw[96], gwconf[128], ioasidd[sizeof(ctl)];
	snprintf(udir, sizeof(udir), "%s/alice", tmpdir);
	snprintf(draft, sizeof(draft), "%s/draft.conf", udir);
	snprintf(gw, sizeof(gw), "%s/gw", tmpdir);
	snprintf(gwconf, sizeof(gwconf), "%s/ioasid.conf", gw);
	ASSERT_OK(mkdir(udir, 0755));
	ASSERT_OK(chown(udir, 4242, 4242));
	ASSERT_OK(write_file(draft, "allow user 0 to any\n"));
	ASSERT_OK(mkdir(gw, 0775));
	ASSERT_OK(chmod(gw, 0775));
	ASSERT_OK(write_file(gwconf, "allow user 0 to any\nallow user 0 to any mode bogus\n"));

	_cleanup_free_ char *o1 = NULL, *e1 = NULL, *o2 = NULL, *e2 = NULL, *o3 = NULL, *e3 = NULL,
			    *want = NULL;
	CU_ASSERT_FATAL(asprintf(&want,
				 "%s: Refusing it: '%s' is a directory owned by uid 4242, "
				 "not root\n",
				 draft, udir) > 0);
	CU_ASSERT_EQUAL(run(&o1, &e1, "policy", "check", draft, NULL), 1);
	HAS(e1, want);
	HAS(e1, "the text itself is valid (1 rules, 0 admin rules)");
	CU_ASSERT_TRUE(o1 && !*o1);
	CU_ASSERT_EQUAL(run(&o2, &e2, "--json=short", "policy", "check", draft, NULL), 1);
	HAS(o2, "\"valid\":false,\"content_valid\":true");
	HAS(o2, "is a directory owned by uid 4242");
	/* A group-writable directory, and the text's own error after the refusal. */
	CU_ASSERT_EQUAL(run(&o3, &e3, "policy", "check", gwconf, NULL), 1);
	HAS(e3, "Refusing it: '");
	HAS(e3, "/gw' is a directory others than root can write (mode 0775)");
	HAS(e3, "ioasid.conf:2:26: Unknown mode 'bogus'");

	/* The daemon's own check: the same line. */
	snprintf(ioasidd, sizeof(ioasidd), "%.*s/ioasidd", (int)(strrchr(ctl, '/') - ctl), ctl);
	_cleanup_free_ char *o4 = NULL, *e4 = NULL, *cfg = NULL;
	CU_ASSERT_FATAL(asprintf(&cfg, "--config=%s", draft) > 0);
	char saved[sizeof(ctl)];
	memcpy(saved, ctl, sizeof(ctl));
	memcpy(ctl, ioasidd, sizeof(ctl));
	CU_ASSERT_EQUAL(run(&o4, &e4, "--check-config", cfg, NULL), 1);
	memcpy(ctl, saved, sizeof(ctl));
	ASSERT_STREQ(e4, want);

	unlink(draft);
	rmdir(udir);
	unlink(gwconf);
	rmdir(gw);
}

static void test_show(void) {
	_cleanup_free_ char *o1 = NULL, *e1 = NULL, *o2 = NULL, *e2 = NULL;
	if (!have_ctl())
		return;
	CU_ASSERT_EQUAL(run(&o1, &e1, "policy", "show", "--config", conf, NULL), 0);
	HAS(o1, "pool gpus { vendor 0x10de }");
	HAS(o1, "allow user 4242 to bdf 0000:01:00.0 mode unbound max-devices 0 max-leases 0 "
		"memlock 1G group whole lifetime connection on-revoke detach");
	HAS(o1, "deny *");
	CU_ASSERT_EQUAL(run(&o2, &e2, "--json=short", "policy", "show", "--config", conf, NULL), 0);
	HAS(o2, "\"pools\":[\"gpus\"]");
	HAS(o2, "{\"line\":4,\"rule\":\"deny *\"}");
}

static void test_explain(void) {
	_cleanup_free_ char *o1 = NULL, *e1 = NULL, *o2 = NULL, *e2 = NULL, *o3 = NULL, *e3 = NULL,
			    *o4 = NULL, *e4 = NULL, *o5 = NULL, *e5 = NULL, *o6 = NULL, *e6 = NULL;
	if (!have_ctl())
		return;
	CU_ASSERT_EQUAL(run(&o1, &e1, "policy", "explain", "--config", conf, "--host", host,
			    "--user", "4242", "--device", "01:00.0", "--mode", "unbound", NULL),
			0);
	HAS(o1, "Decision: allow");
	HAS(o1, "ok.conf:2: allow user 4242");

	CU_ASSERT_EQUAL(run(&o2, &e2, "policy", "explain", "--config", conf, "--host", host,
			    "--user", "4242", "--device", "01:00.0", NULL),
			2);
	HAS(o2, "Decision: deny");
	HAS(o2, "mode 'attached' not granted by rule at");

	CU_ASSERT_EQUAL(run(&o3, &e3, "--json=short", "policy", "explain", "--config", conf,
			    "--host", host, "--user", "4243", "--device", "0000:01:00.0", NULL),
			2);
	HAS(o3, "\"allow\":false");
	HAS(o3, "\"line\":4");
	HAS(o3, "\"why\":\"group: peer (gid unknown) is not in group 0 (0)\"");
	HAS(o3, "\"peer\":{\"uid\":4243,\"gid\":null,");

	CU_ASSERT_EQUAL(run(&o4, &e4, "--json=short", "policy", "explain", "--config", conf,
			    "--host", host, "--user", "4243", "--group", "0", "--device",
			    "0000:01:00.0", NULL),
			0);
	HAS(o4, "\"allow\":true");
	HAS(o4, "\"grant\":{\"modes\":[\"attached\"]");

	CU_ASSERT_EQUAL(run(&o5, &e5, "policy", "explain", "--config", conf, "--device", "01:00.0",
			    NULL),
			64);
	HAS(e5, "needs --user");

	/* The largest uid a policy can name is printed unsigned, never as -2. */
	CU_ASSERT_EQUAL(run(&o6, &e6, "--json=short", "policy", "explain", "--config", conf,
			    "--host", host, "--user", "4294967294", "--group", "0", "--device",
			    "0000:01:00.0", NULL),
			2);
	HAS(o6, "\"peer\":{\"uid\":4294967294,\"gid\":0,");
	HAS(o6, "\"why\":\"user: peer uid 4294967294 is not 4243 (4243)\"");
}

/* explain --cgroup derives the system unit and the user unit as the daemon does. */
static void test_explain_cgroup(void) {
	if (!have_ctl())
		return;
	char units[64];
	snprintf(units, sizeof(units), "%s/units.conf", tmpdir);
	ASSERT_OK(write_file(units,
			     "allow unit libvirtd.service to bdf 0000:01:00.0\n"
			     "allow user 4242 user-unit \"libpod-*.scope\" to bdf 0000:01:00.0\n"
			     "admin unit libvirtd.service\n"));
	const char *pod = "/user.slice/user-4242.slice/user@4242.service/user.slice/libpod-"
			  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope/"
			  "container";
	const char *spoof =
		"/user.slice/user-4243.slice/user@4243.service/app.slice/libvirtd.service";
	_cleanup_free_ char *o1 = NULL, *e1 = NULL, *o2 = NULL, *e2 = NULL, *o3 = NULL, *e3 = NULL,
			    *o4 = NULL, *e4 = NULL, *o5 = NULL, *e5 = NULL, *o6 = NULL, *e6 = NULL;

	/* A rootless podman container's root: the user's uid, its libpod scope. */
	CU_ASSERT_EQUAL(run(&o1, &e1, "--json=short", "policy", "explain", "--config", units,
			    "--host", host, "--user", "4242", "--cgroup", pod, "--device",
			    "01:00.0", NULL),
			0);
	HAS(o1, "\"allow\":true");
	HAS(o1, "units.conf\",\"line\":2");
	HAS(o1, "\"unit\":\"user@4242.service\",\"user_unit\":\"libpod-0123456789abcdef");
	HAS(o1, "\"owner_uid\":4242,\"slice\":\"user-4242.slice\"");

	/* systemd-run --user --unit=libvirtd.service: not libvirtd. */
	CU_ASSERT_EQUAL(run(&o2, &e2, "policy", "explain", "--config", units, "--host", host,
			    "--user", "4243", "--cgroup", spoof, "--device", "01:00.0", NULL),
			2);
	HAS(o2, "Decision: deny");
	HAS(o2, "unit user@4243.service, user unit libvirtd.service, owner uid 4243");
	HAS(o2, "unit: peer's system unit 'user@4243.service' does not match 'libvirtd.service'");

	/* The real one. */
	CU_ASSERT_EQUAL(run(&o3, &e3, "policy", "explain", "--config", units, "--host", host,
			    "--user", "0", "--cgroup", "/system.slice/libvirtd.service", "--device",
			    "01:00.0", NULL),
			0);
	HAS(o3, "units.conf:1: allow unit libvirtd.service");

	/* --unit cannot contradict --cgroup; --cgroup is a path as /proc shows it. */
	CU_ASSERT_EQUAL(run(&o4, &e4, "policy", "explain", "--config", units, "--host", host,
			    "--user", "4243", "--unit", "libvirtd.service", "--cgroup", spoof,
			    "--device", "01:00.0", NULL),
			64);
	HAS(e4, "--unit 'libvirtd.service' is not the system unit of --cgroup");
	HAS(e4, "that is 'user@4243.service'");
	CU_ASSERT_EQUAL(run(&o5, &e5, "policy", "explain", "--config", units, "--host", host,
			    "--user", "0", "--cgroup", "system.slice/libvirtd.service", "--device",
			    "01:00.0", NULL),
			64);
	HAS(e5, "--cgroup needs an absolute cgroup path");
	/* --unit alone still names a system unit. */
	CU_ASSERT_EQUAL(run(&o6, &e6, "policy", "explain", "--config", units, "--host", host,
			    "--user", "0", "--unit", "libvirtd.service", "--device", "01:00.0",
			    NULL),
			0);
	unlink(units);
}

static CU_TestInfo tests[] = {
	{ "check", test_check },
	{ "check-path", test_check_path },
	{ "show", test_show },
	{ "explain", test_explain },
	{ "explain-cgroup", test_explain_cgroup },
	CU_TEST_INFO_NULL,
};
TEST_SUITE_FULL("policy-cli", init, cleanup, tests);
