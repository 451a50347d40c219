/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pure parts of the daemon: cgroup -> units, /proc/PID/cgroup parsing, peer identity over a
 * socketpair, the lease table and group exclusivity, and (with the sim kernel) revocation and
 * groups held after a lease ended. */
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/mman.h>

#include "common/macro.h"
#include "common/uapi.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/log.h"
#include "tests/unit/test.h"

/* The daemon's reading of a peer's cgroup (the same cgroup_identity_from_path() as `policy
 * explain --cgroup`), and what 'unit', 'user-unit' and 'admin unit' rules decide with it:
 * a process a user's own manager runs as "libvirtd.service" is not libvirtd. */
static void test_peer_cgroup(void) {
	static const struct {
		const char *cgroup;
		const char *unit, *user_unit; /* NULL: none */
	} cases[] = {
		{ "/system.slice/libvirtd.service", "libvirtd.service", NULL },
		{ "/user.slice/user-1000.slice/user@1000.service/app.slice/libvirtd.service",
		  "user@1000.service", "libvirtd.service" },
		{ "/user.slice/user-1000.slice/user@1000.service/app.slice/app-podman-1.scope",
		  "user@1000.service", "app-podman-1.scope" },
		{ "/machine.slice/machine-qemu\\x2d1.scope/libvirt/vcpu0",
		  "machine-qemu\\x2d1.scope", NULL },
		{ "/system.slice/foo.service/libvirtd.service", "foo.service", NULL },
		{ "/", NULL, NULL },
		{ "/user.slice", NULL, NULL },
		{ "/system.slice/x.bogus/libvirtd.service", NULL, NULL },
		{ "/../system.slice/libvirtd.service", NULL, NULL }, /* outside our namespace */
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		Peer p = { .pidfd = -EBADF };
		ASSERT_OK(identity_peer_set_cgroup(&p, cases[i].cgroup));
		ASSERT_STREQ(p.cgroup, cases[i].cgroup); /* kept raw, for 'cgroup' rules */
		if (cases[i].unit)
			ASSERT_STREQ(p.unit, cases[i].unit);
		else
			CU_ASSERT_PTR_NULL(p.unit);
		if (cases[i].user_unit)
			ASSERT_STREQ(p.user_unit, cases[i].user_unit);
		else
			CU_ASSERT_PTR_NULL(p.user_unit);
		peer_done(&p);
		CU_ASSERT_PTR_NULL(p.user_unit);
	}

	/* The README's rule, an admin rule on the same unit, and a user-unit rule. */
	static const char text[] = "allow unit libvirtd.service to any\n"
				   "allow user 1000 user-unit \"libpod-*.scope\" to any\n"
				   "admin unit libvirtd.service\n";
	_cleanup_policy_free_ Policy *pol = NULL;
	PolicyError e = {};
	PolicyLoadOptions o = { .generation = 1 };
	ASSERT_OK(policy_load_string(text, "t.conf", &o, &pol, &e));
	policy_error_done(&e);
	static const struct {
		uid_t uid;
		const char *cgroup;
		bool allow, admin;
	} who[] = {
		{ 0, "/system.slice/libvirtd.service", true, true },
		{ 1000, "/user.slice/user-1000.slice/user@1000.service/app.slice/libvirtd.service",
		  false, false },
		{ 1000, "/user.slice/user-1000.slice/user@1000.service/libvirtd.service", false,
		  false },
		{ 1000,
		  "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope/"
		  "container",
		  true, false },
		{ 1001, "/user.slice/user-1001.slice/user@1001.service/user.slice/libpod-1.scope",
		  false, false },
	};
	Device d = { .bdf = "0000:01:00.0",
		     .vendor = 0x10de,
		     .device = 0x2204,
		     .class = 0x030000,
		     .driver = "vfio-pci",
		     .iommu_group = 1,
		     .numa_node = -1 };
	for (size_t i = 0; i < ELEMENTSOF(who); i++) {
		Peer p = { .uid = who[i].uid,
			   .gid = who[i].uid,
			   .pid = 4242,
			   .pidfd = -EBADF,
			   .have_pidfd = true };
		ASSERT_OK(identity_peer_set_cgroup(&p, who[i].cgroup));
		PolicyPeer pp;
		peer_to_policy(&p, &pp);
		PolicyRequest req = { .peer = &pp,
				      .device = &d,
				      .mode = POLICY_MODE_ATTACHED,
				      .method = "io.ioasid.Broker.Acquire" };
		PolicyDecision dec;
		ASSERT_OK(policy_evaluate(pol, &req, &dec));
		if (dec.allow != who[i].allow)
			fprintf(stderr, "\n%s: allow %d (%s)\n", who[i].cgroup, dec.allow,
				dec.reason);
		CU_ASSERT_EQUAL(dec.allow, who[i].allow);
		CU_ASSERT_EQUAL(policy_is_admin(pol, &pp, &dec), who[i].admin);
		peer_done(&p);
	}
}

/* /proc mounted hidepid= (systemd's ProtectProc=) hides other uids' processes, unless we are
 * in its gid= group (root's without the option) or have CAP_SYS_PTRACE; ptraceable only
 * yields to CAP_SYS_PTRACE. The last mount on /proc counts. */
static void test_proc_hides_peers(void) {
	char mine[32], other[32];
	snprintf(mine, sizeof(mine), "gid=%u", (unsigned)getegid());
	snprintf(other, sizeof(other), "gid=%u", (unsigned)getegid() + 12345);
	const char *plain =
		"22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw";
	char buf[8][512];
	snprintf(buf[0], sizeof(buf[0]), "%s\n", plain);
	snprintf(buf[1], sizeof(buf[1]),
		 "%s\n66 22 0:40 / /proc rw,relatime - proc proc rw,hidepid=invisible,%s\n", plain,
		 other);
	snprintf(buf[2], sizeof(buf[2]),
		 "%s\n66 22 0:40 / /proc rw,relatime - proc proc rw,hidepid=invisible,%s\n", plain,
		 mine);
	snprintf(buf[3], sizeof(buf[3]),
		 "66 22 0:40 / /proc rw,relatime - proc proc rw,hidepid=2,%s\n%s\n", other, plain);
	snprintf(buf[4], sizeof(buf[4]),
		 "%s\n66 22 0:40 / /proc rw,relatime - proc proc rw,hidepid=ptraceable,%s\n", plain,
		 mine);
	snprintf(buf[5], sizeof(buf[5]),
		 "%s\n67 22 0:41 / /proc/sys ro,relatime - proc proc rw,hidepid=invisible,%s\n",
		 plain, other);
	snprintf(buf[6], sizeof(buf[6]),
		 "%s\n66 22 0:40 / /proc rw,relatime - proc proc rw,hidepid=1,%s\n", plain, other);
	snprintf(buf[7], sizeof(buf[7]),
		 "%s\n66 22 0:40 / /proc rw,relatime - proc proc rw,hidepid=off,%s\n", plain,
		 other);
	static const int want[] = { 0, 1, 0, 0, 1, 0, 1, 0 };
	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		char why[256] = "";
		int r = identity_proc_hides_peers(buf[i], false, why, sizeof(why));
		if (r != want[i])
			fprintf(stderr, "\ncase %zu: %d, want %d\n%s", i, r, want[i], buf[i]);
		CU_ASSERT_EQUAL(r, want[i]);
		if (r > 0)
			CU_ASSERT_PTR_NOT_NULL(strstr(why, "hidden from the daemon"));
		/* CAP_SYS_PTRACE sees everything. */
		CU_ASSERT_EQUAL(identity_proc_hides_peers(buf[i], true, NULL, 0), 0);
	}
	CU_ASSERT_EQUAL(identity_proc_hides_peers("", false, NULL, 0), 0);
	/* This process, as it runs: an answer, not an error. */
	CU_ASSERT(identity_probe_proc(NULL, 0) >= 0);
}

static void test_parse_proc_cgroup(void) {
	char *p = NULL;
	ASSERT_OK(identity_parse_proc_cgroup("0::/system.slice/a.service\n", &p));
	ASSERT_STREQ(p, "/system.slice/a.service");
	free(p);
	p = NULL;
	ASSERT_OK(identity_parse_proc_cgroup(
		"12:cpu:/legacy\n1:name=systemd:/x\n0::/user.slice/u.scope", &p));
	ASSERT_STREQ(p, "/user.slice/u.scope");
	free(p);
	p = NULL;
	ASSERT_ERR(identity_parse_proc_cgroup("12:cpu:/legacy\n", &p), ENOENT);
	ASSERT_ERR(identity_parse_proc_cgroup("0::\n", &p), EINVAL);
	ASSERT_ERR(identity_parse_proc_cgroup("0::relative\n", &p), EINVAL);
	CU_ASSERT_PTR_NULL(p);
}

/* Over a socketpair the peer is this very process: uid, gid, pid and a live pidfd. */
static void test_identity_socketpair(void) {
	int sv[2];
	ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	bool have = identity_probe_pidfd();
	Peer p = { .pidfd = -EBADF };
	ASSERT_OK(identity_from_socket(sv[0], have, &p));
	CU_ASSERT_EQUAL(p.uid, getuid());
	CU_ASSERT_EQUAL(p.gid, getgid());
	CU_ASSERT_EQUAL(p.pid, getpid());
	CU_ASSERT_EQUAL(p.have_pidfd, have);
	if (have)
		CU_ASSERT_TRUE(p.pidfd >= 0);
	PolicyPeer pp;
	peer_to_policy(&p, &pp);
	CU_ASSERT_EQUAL(pp.uid, getuid());
	CU_ASSERT_EQUAL(pp.have_pidfd, have);
	peer_done(&p);
	CU_ASSERT_EQUAL(p.pidfd, -EBADF);
	/* Not a socket: the identity fails, it never defaults. */
	int mf = memfd_create("x", MFD_CLOEXEC);
	Peer q = { .pidfd = -EBADF };
	ASSERT_ERR(identity_from_socket(mf, have, &q), ENOTSOCK);
	CU_ASSERT_EQUAL(q.uid, 0); /* untouched on failure */
	close(mf);
	close(sv[0]);
	close(sv[1]);
}

static Lease *mk(uid_t uid, const char *bdf, int group) {
	Lease *l = NULL;
	ASSERT_OK(lease_new(&l));
	l->uid = uid;
	if (bdf)
		ASSERT_OK(lease_add_device(l, bdf, group, -EBADF));
	return l;
}

static void test_lease_ids(void) {
	Lease *a = mk(1000, NULL, 0), *b = mk(1000, NULL, 0);
	CU_ASSERT_EQUAL(strlen(a->id), 32);
	for (const char *p = a->id; *p; p++)
		CU_ASSERT_TRUE(strchr("0123456789abcdef", *p) != NULL);
	CU_ASSERT_TRUE(strcmp(a->id, b->id) != 0);
	lease_free(a, NULL);
	lease_free(b, NULL);
}

static void test_lease_groups_sorted(void) {
	Lease *l = mk(1000, "0000:01:00.0", 7);
	ASSERT_OK(lease_add_device(l, "0000:02:00.0", 3, -EBADF));
	ASSERT_OK(lease_add_device(l, "0000:01:00.1", 7, -EBADF));
	ASSERT_OK(lease_add_device(l, "0000:03:00.0", 9, -EBADF));
	CU_ASSERT_EQUAL(l->n_devices, 4);
	CU_ASSERT_EQUAL_FATAL(l->n_groups, 3);
	CU_ASSERT_EQUAL(l->groups[0], 3);
	CU_ASSERT_EQUAL(l->groups[1], 7);
	CU_ASSERT_EQUAL(l->groups[2], 9);
	lease_free(l, NULL);
}

static void test_lease_table_exclusivity(void) {
	LeaseTable t = { 0 };
	Lease *a = mk(1000, "0000:01:00.0", 5);
	Lease *b = mk(1001, "0000:01:00.1", 5); /* same group, another owner */
	Lease *c = mk(1000, "0000:02:00.0", 6);
	ASSERT_OK(lease_table_add(&t, a));
	ASSERT_ERR(lease_table_add(&t, b), EBUSY);
	ASSERT_OK(lease_table_add(&t, c));
	CU_ASSERT_EQUAL(t.n, 2);
	CU_ASSERT_PTR_EQUAL(lease_table_group_owner(&t, 5), a);
	CU_ASSERT_PTR_EQUAL(lease_table_group_owner(&t, 6), c);
	CU_ASSERT_PTR_NULL(lease_table_group_owner(&t, 7));
	CU_ASSERT_PTR_EQUAL(lease_table_device_owner(&t, "0000:01:00.0"), a);
	CU_ASSERT_PTR_NULL(lease_table_device_owner(&t, "0000:01:00.1"));
	CU_ASSERT_PTR_EQUAL(lease_table_find(&t, c->id), c);
	CU_ASSERT_PTR_NULL(lease_table_find(&t, "00000000000000000000000000000000"));
	CU_ASSERT_EQUAL(lease_table_count_uid(&t, 1000), 2);
	CU_ASSERT_EQUAL(lease_table_count_uid(&t, 1001), 0);

	/* Once a ends, its group is free for b. */
	lease_table_remove(&t, a);
	lease_free(a, NULL);
	CU_ASSERT_PTR_NULL(lease_table_group_owner(&t, 5));
	ASSERT_OK(lease_table_add(&t, b));
	CU_ASSERT_PTR_EQUAL(lease_table_group_owner(&t, 5), b);
	/* Removing twice is harmless. */
	lease_table_remove(&t, c);
	lease_table_remove(&t, c);
	CU_ASSERT_EQUAL(t.n, 1);
	lease_free(c, NULL);
	lease_table_clear(&t);
	CU_ASSERT_EQUAL(t.n, 0);
	CU_ASSERT_PTR_NULL(t.head);
}

/*
 * Owner lookups scan every device and group of every lease, found or not: an ended or revoked
 * lease owns the groups and devices whose files are still held, and only those. Lookups that
 * miss walk each array to its end, so an off-by-one in a scan reads past it (the asan tier of
 * tests/mutation/run.py sees that).
 */
static void test_lease_table_lookup_ends(void) {
	LeaseTable t = { 0 };
	Lease *live = mk(1000, "0000:01:00.0", 5);
	ASSERT_OK(lease_add_device(live, "0000:01:00.1", 5, -EBADF));
	ASSERT_OK(lease_add_device(live, "0000:02:00.0", 6, -EBADF));
	Lease *ended = mk(1001, "0000:03:00.0", 7);
	ASSERT_OK(lease_add_device(ended, "0000:03:00.1", 8, -EBADF));
	ASSERT_OK(lease_add_device(ended, "0000:04:00.0", 9, -EBADF));
	ASSERT_OK(lease_table_add(&t, live));
	ASSERT_OK(lease_table_add(&t, ended));
	ended->state = LEASE_ENDED;
	ended->devices[0].held = false;
	ended->devices[1].held = true; /* only 03:00.1 (group 8) is still held */
	ended->devices[2].held = false;

	CU_ASSERT_PTR_EQUAL(lease_table_group_owner(&t, 5), live);
	CU_ASSERT_PTR_EQUAL(lease_table_group_owner(&t, 6), live);
	CU_ASSERT_PTR_NULL(lease_table_group_owner(&t, 7));
	CU_ASSERT_PTR_EQUAL(lease_table_group_owner(&t, 8), ended);
	CU_ASSERT_PTR_NULL(lease_table_group_owner(&t, 9));
	CU_ASSERT_PTR_NULL(lease_table_group_owner(&t, 10));
	CU_ASSERT_PTR_EQUAL(lease_table_device_owner(&t, "0000:02:00.0"), live);
	CU_ASSERT_PTR_NULL(lease_table_device_owner(&t, "0000:03:00.0"));
	CU_ASSERT_PTR_EQUAL(lease_table_device_owner(&t, "0000:03:00.1"), ended);
	CU_ASSERT_PTR_NULL(lease_table_device_owner(&t, "0000:04:00.0"));
	CU_ASSERT_PTR_NULL(lease_table_device_owner(&t, "0000:05:00.0"));

	/* Revoked: the same rule. Once nothing is held, the lease owns nothing. */
	ended->state = LEASE_REVOKED;
	CU_ASSERT_PTR_EQUAL(lease_table_group_owner(&t, 8), ended);
	ended->devices[1].held = false;
	CU_ASSERT_PTR_NULL(lease_table_group_owner(&t, 8));
	CU_ASSERT_PTR_NULL(lease_table_device_owner(&t, "0000:03:00.1"));
	lease_table_clear(&t);
}

static void test_lease_strings(void) {
	LeaseMode m;
	ASSERT_OK(lease_mode_from_string("unbound", &m));
	CU_ASSERT_EQUAL(m, LEASE_MODE_UNBOUND);
	ASSERT_OK(lease_mode_from_string("attached", &m));
	CU_ASSERT_EQUAL(m, LEASE_MODE_ATTACHED);
	ASSERT_ERR(lease_mode_from_string("Attached", &m), EINVAL);
	ASSERT_STREQ(lease_mode_to_string(LEASE_MODE_UNBOUND), "unbound");
	/* Legacy is what a lease becomes on a legacy kernel, never a mode one asks for. */
	ASSERT_STREQ(lease_mode_to_string(LEASE_MODE_LEGACY), "legacy");
	ASSERT_ERR(lease_mode_from_string("legacy", &m), EINVAL);
	ASSERT_STREQ(lease_lifetime_to_string(POLICY_LIFETIME_PROCESS), "process");
	ASSERT_STREQ(lease_lifetime_to_string(POLICY_LIFETIME_CONNECTION), "connection");
}

/* Client-influenced strings reach the log escaped: no forged lines, no terminal escapes. */
static void test_log_escape(void) {
	char buf[64];
	ASSERT_STREQ(log_escape("0000:01:00.0", buf, sizeof(buf)), "0000:01:00.0");
	ASSERT_STREQ(log_escape("a\nb", buf, sizeof(buf)), "a\\x0ab");
	ASSERT_STREQ(log_escape("\x1b[31m", buf, sizeof(buf)), "\\x1b[31m");
	ASSERT_STREQ(log_escape("back\\slash", buf, sizeof(buf)), "back\\x5cslash");
	ASSERT_STREQ(log_escape("\xc3\xa9", buf, sizeof(buf)), "\\xc3\\xa9");
	ASSERT_STREQ(log_escape(NULL, buf, sizeof(buf)), "(null)");
	/* Truncated, never overflowing, always terminated. */
	char small[8];
	log_escape("\n\n\n\n\n", small, sizeof(small));
	CU_ASSERT_TRUE(strlen(small) < sizeof(small));
	ASSERT_STREQ(small, "\\x0a");
}

/* Captures what the audit functions write to stderr (no journal in tests). */
typedef struct Capture {
	int memfd, saved;
} Capture;

static void capture_start(Capture *cap) {
	cap->memfd = memfd_create("stderr", MFD_CLOEXEC);
	CU_ASSERT_FATAL(cap->memfd >= 0);
	fflush(stderr);
	cap->saved = dup(STDERR_FILENO);
	CU_ASSERT_FATAL(cap->saved >= 0);
	dup2(cap->memfd, STDERR_FILENO);
}

/* Stops capturing; returns the text (freed by the caller). */
static char *capture_stop(Capture *cap) {
	fflush(stderr);
	dup2(cap->saved, STDERR_FILENO);
	close(cap->saved);
	static char buf[256 * 1024];
	ssize_t n = pread(cap->memfd, buf, sizeof(buf) - 1, 0);
	close(cap->memfd);
	CU_ASSERT_FATAL(n >= 0);
	buf[n] = '\0';
	return strdup(buf);
}

/* Audit lines of text containing every one of the NULL-terminated substrings. */
static size_t count_lines(const char *text, ...) {
	size_t n = 0;
	for (const char *l = text; l && *l;) {
		const char *e = strchrnul(l, '\n');
		char line[8192];
		snprintf(line, sizeof(line), "%.*s", (int)(e - l), l);
		bool all = strneq(line, "ioasidd: audit: ", 16);
		va_list ap;
		va_start(ap, text);
		for (const char *want; all && (want = va_arg(ap, const char *));)
			all = strstr(line, want) != NULL;
		va_end(ap);
		n += all;
		l = *e ? e + 1 : e;
	}
	return n;
}

/* Denials are rate-limited per uid: one uid's flood neither silences another uid's denials
 * nor any allow, release, revoke or reload; the summary names the uid and the count. */
static void test_audit_rate_limit(void) {
	Capture cap;
	capture_start(&cap);
	audit_set_rate_limit(3, 1);
	AuditRecord deny = { .action = "deny",
			     .message_id = IOASID_MESSAGE_DENY,
			     .method = "io.ioasid.Broker.Acquire",
			     .cause = "request",
			     .device = "0000:01:00.0",
			     .reason = "no rule matched",
			     .uid = 1000,
			     .pid = 42,
			     .generation = 7 };
	for (int i = 0; i < 10; i++)
		audit_log(&deny);
	AuditRecord other = deny;
	other.uid = 1001;
	audit_log(&other);
	audit_log(&other);
	static const struct {
		const char *action, *id;
	} kept[] = {
		{ "allow", IOASID_MESSAGE_ALLOW },   { "release", IOASID_MESSAGE_RELEASE },
		{ "revoke", IOASID_MESSAGE_REVOKE }, { "reload", IOASID_MESSAGE_RELOAD },
		{ "stage", IOASID_MESSAGE_ALLOW },   { "drop-staged", IOASID_MESSAGE_RELEASE },
	};
	for (size_t i = 0; i < ELEMENTSOF(kept); i++)
		for (int j = 0; j < 10; j++)
			audit_log(&(AuditRecord){ .action = kept[i].action,
						  .message_id = kept[i].id,
						  .uid = 1000,
						  .lease = "l1" });
	usleep(1100 * 1000);
	/* The next record, any kind, ends the window: the summary comes first. */
	audit_log(&(AuditRecord){
		.action = "allow", .message_id = IOASID_MESSAGE_ALLOW, .uid = 1001 });
	char *text = capture_stop(&cap);
	audit_set_rate_limit(AUDIT_DENY_BURST, AUDIT_DENY_INTERVAL_SEC);

	CU_ASSERT_EQUAL(count_lines(text, "action=deny ", "uid=1000 ", NULL), 3);
	CU_ASSERT_EQUAL(count_lines(text, "action=deny ", "uid=1001 ", NULL), 2);
	for (size_t i = 0; i < ELEMENTSOF(kept); i++) {
		char a[64], m[64];
		snprintf(a, sizeof(a), "action=%s ", kept[i].action);
		snprintf(m, sizeof(m), "message_id=%s ", kept[i].id);
		CU_ASSERT_EQUAL(count_lines(text, a, m, "uid=1000 ", NULL), 10);
	}
	char id[64];
	snprintf(id, sizeof(id), "message_id=%s ", IOASID_MESSAGE_SUPPRESSED);
	CU_ASSERT_EQUAL(count_lines(text, id, "action=suppressed ", NULL), 1);
	CU_ASSERT_EQUAL(count_lines(text, id, "uid=1000 ", "suppressed=7 ",
				    "reason=\"7 denial records of uid 1000 suppressed", NULL),
			1);
	/* The summary precedes the record that ended the window. */
	const char *sum = strstr(text, "action=suppressed");
	const char *last = strstr(text, "action=allow method=- cause=\"-\" uid=1001 ");
	CU_ASSERT_TRUE(sum && last && sum < last);
	CU_ASSERT_EQUAL(count_lines(text, "uid=1000 pid=42 ", "generation=7 ", "rule=default ",
				    "cause=\"request\" ", NULL),
			3);
	free(text);
}

/* More uids than the table holds share one budget: a flood from a whole uid range is bounded
 * by the table, and its summary says so. audit_flush() writes pending summaries at once. */
static void test_audit_rate_limit_overflow(void) {
	Capture cap;
	capture_start(&cap);
	audit_set_rate_limit(2, 60);
	AuditRecord a = { .action = "deny", .message_id = IOASID_MESSAGE_DENY, .reason = "x" };
	for (uid_t u = 0; u < AUDIT_UID_SLOTS + 10; u++)
		for (int i = 0; i < 3; i++) {
			a.uid = 100000 + u;
			audit_log(&a);
		}
	audit_flush();
	char *text = capture_stop(&cap);
	audit_set_rate_limit(AUDIT_DENY_BURST, AUDIT_DENY_INTERVAL_SEC);
	/* 2 of 3 for each tracked uid, 2 for all the others together. */
	CU_ASSERT_EQUAL(count_lines(text, "action=deny ", NULL), AUDIT_UID_SLOTS * 2 + 2);
	CU_ASSERT_EQUAL(count_lines(text, "action=deny ", "uid=100000 ", NULL), 2);
	CU_ASSERT_EQUAL(
		count_lines(text, "action=suppressed ", "uid=100000 ", "suppressed=1 ", NULL), 1);
	CU_ASSERT_EQUAL(count_lines(text, "action=suppressed ", "uid=- ", "suppressed=28 ",
				    "uids beyond the 64 tracked", NULL),
			1);
	CU_ASSERT_EQUAL(count_lines(text, "action=suppressed ", NULL), AUDIT_UID_SLOTS + 1);
	free(text);
}

/* The stderr form: message_id first, uids unsigned, no value can end its field or forge one. */
static void test_audit_format(void) {
	Capture cap;
	capture_start(&cap);
	audit_log(&(AuditRecord){ .action = "allow",
				  .message_id = IOASID_MESSAGE_ALLOW,
				  .method = "io.ioasid.Broker.Acquire",
				  .cause = "request",
				  .uid = 4294967294u,
				  .pid = 7,
				  .unit = "a b uid=0.service",
				  .device = "0000:01:00.0,0000:01:00.1",
				  .rule = "x.conf:3",
				  .lease = "abc",
				  .generation = 2,
				  .reason = "say \"hi\"\n action=deny" });
	audit_log(&(AuditRecord){ .action = "reload",
				  .message_id = IOASID_MESSAGE_RELOAD,
				  .cause = "signal SIGHUP",
				  .uid = (uid_t)-1 });
	char *text = capture_stop(&cap);
	char want[1024];
	snprintf(want, sizeof(want),
		 "ioasidd: audit: message_id=%s action=allow method=io.ioasid.Broker.Acquire "
		 "cause=\"request\" uid=4294967294 pid=7 unit=a\\x20b\\x20uid=0.service "
		 "device=0000:01:00.0,0000:01:00.1 rule=x.conf:3 error=- generation=2 lease=abc "
		 "reason=\"say \\x22hi\\x22\\x0a action=deny\"\n"
		 "ioasidd: audit: message_id=%s action=reload method=- cause=\"signal SIGHUP\" "
		 "uid=- pid=- unit=- device=- rule=default error=- generation=0 lease=- "
		 "reason=\"-\"\n",
		 IOASID_MESSAGE_ALLOW, IOASID_MESSAGE_RELOAD);
	ASSERT_STREQ(text, want);
	free(text);
}

/*
 * Revocation through the kernel seam (sim). lease_block_dma() detaches through the daemon's
 * references; what the seam then reports: the IOAS no longer carries the device's reserved
 * MSI window (the kernel removes it at detach) and the automatic HWPT is gone, so no domain
 * translates DMA for the device (blocked-DMA domain). The holder's copies are the same open
 * files, so this holds for them; what they can still do is what the kernel allows a holder
 * of a bound device fd and its iommufd: attach again (checked here on the same files).
 * lease_revoke_kernel() then closes the daemon's references and marks the lease revoked.
 * (What the holder's copies keep after that, when another process has them:
 * test_lease_held_after_end.)
 */
static bool ranges_cover(const IovaRange *r, size_t n, uint64_t iova) {
	for (size_t i = 0; i < n; i++)
		if (r[i].start <= iova && iova <= r[i].last)
			return true;
	return false;
}

/*
 * The lifecycle's steps, every (from, to) pair: only the steps drawn above LeaseState are
 * taken; every other one (the same state, a step back, a skipped state) is refused with
 * -EINVAL and a logged line, the lease left as it was. Revocation is remembered through the
 * end, and the per-uid count follows the state.
 */
static void test_lease_state_transitions(void) {
	static const struct {
		LeaseState from, to;
	} allowed[] = {
		{ LEASE_NEW, LEASE_STAGED },     { LEASE_NEW, LEASE_PENDING },
		{ LEASE_NEW, LEASE_ACTIVE },     { LEASE_STAGED, LEASE_PENDING },
		{ LEASE_PENDING, LEASE_ACTIVE }, { LEASE_ACTIVE, LEASE_REVOKED },
		{ LEASE_ACTIVE, LEASE_ENDED },   { LEASE_REVOKED, LEASE_ENDED },
	};
	static const char *const names[] = { "new",    "staged",  "pending",
					     "active", "revoked", "ended" };
	CU_ASSERT_EQUAL_FATAL(ELEMENTSOF(names), _LEASE_STATE_MAX);
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		ASSERT_STREQ(lease_state_to_string((LeaseState)i), names[i]);
	CU_ASSERT_PTR_NULL(lease_state_to_string(_LEASE_STATE_MAX));

	Lease *l = NULL;
	ASSERT_OK(lease_new(&l));
	CU_ASSERT_EQUAL(l->state, LEASE_NEW);
	Capture cap;
	capture_start(&cap);
	size_t refused = 0;
	for (int from = 0; from < _LEASE_STATE_MAX; from++)
		for (int to = 0; to < _LEASE_STATE_MAX; to++) {
			bool ok = false;
			for (size_t i = 0; i < ELEMENTSOF(allowed); i++)
				ok = ok || (allowed[i].from == (LeaseState)from &&
					    allowed[i].to == (LeaseState)to);
			l->state = (LeaseState)from;
			l->was_revoked = false;
			int r = lease_set_state(l, (LeaseState)to);
			if (ok != (r == 0))
				fprintf(stderr, "step %s -> %s: got %d\n", names[from], names[to],
					r);
			if (ok) {
				ASSERT_OK(r);
				CU_ASSERT_EQUAL(l->state, (LeaseState)to);
				CU_ASSERT_EQUAL(l->was_revoked, to == LEASE_REVOKED);
			} else {
				ASSERT_ERR(r, EINVAL);
				CU_ASSERT_EQUAL(l->state, (LeaseState)from);
				CU_ASSERT_FALSE(l->was_revoked);
				refused++;
			}
		}
	/* Out of range either way. */
	l->state = LEASE_ACTIVE;
	ASSERT_ERR(lease_set_state(l, _LEASE_STATE_MAX), EINVAL);
	CU_ASSERT_EQUAL(l->state, LEASE_ACTIVE);
	l->state = _LEASE_STATE_MAX;
	ASSERT_ERR(lease_set_state(l, LEASE_ENDED), EINVAL);
	char *text = capture_stop(&cap);
	CU_ASSERT_EQUAL(refused, _LEASE_STATE_MAX * _LEASE_STATE_MAX - ELEMENTSOF(allowed));
	/* One line per refusal, naming the lease and the step. */
	size_t lines = 0;
	for (const char *p = text; (p = strstr(p, "refused the state change")); p++)
		lines++;
	CU_ASSERT_EQUAL(lines, refused + 2);
	char want[128];
	snprintf(want, sizeof(want), "Lease %s: refused the state change ended -> active", l->id);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
	free(text);

	/* The whole way through a revocation: revoked stays known once ended. */
	l->state = LEASE_NEW;
	l->was_revoked = false;
	ASSERT_OK(lease_set_state(l, LEASE_PENDING));
	ASSERT_OK(lease_set_state(l, LEASE_ACTIVE));
	ASSERT_OK(lease_set_state(l, LEASE_REVOKED));
	ASSERT_OK(lease_set_state(l, LEASE_ENDED));
	CU_ASSERT_TRUE(l->was_revoked);
	lease_free(l, NULL);

	/* What counts against a uid: pending, active and ended leases; not staged contexts,
	 * revoked leases, or ended ones that were revoked first. */
	LeaseTable t = { 0 };
	static const struct {
		LeaseState path[4];
		bool counted;
	} cases[] = {
		{ { LEASE_STAGED }, false },
		{ { LEASE_PENDING }, true },
		{ { LEASE_ACTIVE }, true },
		{ { LEASE_ACTIVE, LEASE_REVOKED }, false },
		{ { LEASE_ACTIVE, LEASE_ENDED }, true },
		{ { LEASE_ACTIVE, LEASE_REVOKED, LEASE_ENDED }, false },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char bdf[16];
		snprintf(bdf, sizeof(bdf), "0000:0%zu:00.0", i + 1);
		Lease *x = mk(2000 + (uid_t)i, bdf, 10 + (int)i);
		for (size_t j = 0; j < ELEMENTSOF(cases[i].path) && cases[i].path[j]; j++)
			ASSERT_OK(lease_set_state(x, cases[i].path[j]));
		ASSERT_OK(lease_table_add(&t, x));
		CU_ASSERT_EQUAL(lease_table_count_uid(&t, 2000 + (uid_t)i), cases[i].counted);
	}
	lease_table_clear(&t);
}

static void test_lease_revoke_kernel(void) {
	Host *h = test_load_fixture("sample.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", h, &k));
	const Device *d = host_find_device(h, "0000:00:03.0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_TRUE_FATAL(d->group && d->group->n_regions > 0);

	Lease *l = NULL;
	ASSERT_OK(lease_new(&l));
	l->mode = LEASE_MODE_ATTACHED;
	ASSERT_OK(lease_set_state(l, LEASE_ACTIVE));
	ASSERT_OK(kernel_iommufd_open(k, &l->iommufd));
	ASSERT_OK(kernel_ioas_alloc(k, l->iommufd, &l->ioas_id));
	int fd = -EBADF;
	ASSERT_OK(kernel_device_open(k, d, &fd));
	ASSERT_OK(lease_add_device(l, d->bdf, d->iommu_group, fd));
	ASSERT_OK(kernel_device_bind(k, fd, l->iommufd, &l->devices[0].dev_id));
	ASSERT_OK(kernel_device_attach(k, fd, l->ioas_id, &l->devices[0].hwpt_id));
	uint64_t msi = d->group->regions[0].start;
	uint32_t hwpt = l->devices[0].hwpt_id;

	IovaRange *r = NULL;
	size_t n = 0;
	uint64_t align = 0;
	ASSERT_OK(kernel_ioas_iova_ranges(k, l->iommufd, l->ioas_id, &r, &n, &align));
	CU_ASSERT_FALSE(ranges_cover(r, n, msi)); /* attached: the MSI window is reserved */
	free(r);

	ASSERT_OK(lease_block_dma(l, k, true));
	r = NULL;
	ASSERT_OK(kernel_ioas_iova_ranges(k, l->iommufd, l->ioas_id, &r, &n, &align));
	CU_ASSERT_TRUE(ranges_cover(r, n, msi)); /* detached: the device's region is gone */
	free(r);
	/* The automatic HWPT went with its last device. */
	ASSERT_ERR(kernel_ioas_destroy(k, l->iommufd, hwpt), ENOENT);
	/* A bound device fd and its iommufd can attach again: revocation is not a hard revoke. */
	ASSERT_OK(kernel_device_attach(k, fd, l->ioas_id, NULL));

	ASSERT_OK(lease_revoke_kernel(l, k, false));
	CU_ASSERT_EQUAL(l->state, LEASE_REVOKED);
	CU_ASSERT_EQUAL(l->iommufd, -EBADF);
	CU_ASSERT_EQUAL(l->devices[0].fd, -EBADF);

	/* A table does not count a revoked lease as holding its group or device. */
	LeaseTable t = { .kernel = k };
	ASSERT_OK(lease_table_add(&t, l));
	CU_ASSERT_PTR_NULL(lease_table_group_owner(&t, d->iommu_group));
	CU_ASSERT_PTR_NULL(lease_table_device_owner(&t, d->bdf));
	lease_table_clear(&t);
	kernel_free(k);
	host_free(h);
}

/* A vhost-vdpa lease has no detach: revocation resets the device (virtio status 0) through
 * the daemon's copy of the file, which the holder's copy then reads; the daemon's copy is
 * closed and the holder's still works (it can set the device up again). */
static void test_lease_revoke_vdpa(void) {
	_cleanup_host_free_ Host *h = test_load_fixture("vdpa-guest.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", h, &k));
	const VdpaDevice *v = host_find_vdpa_device(h, "vdpa0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	Lease *l = NULL;
	ASSERT_OK(lease_new(&l));
	l->mode = LEASE_MODE_VHOST_VDPA;
	ASSERT_OK(lease_set_state(l, LEASE_ACTIVE));
	int fd = -EBADF;
	ASSERT_OK(kernel_vhost_vdpa_open(k, v, &fd));
	ASSERT_OK(lease_set_vdpa(l, v->name, v->parent ? v->parent->bdf : NULL,
				 v->parent ? v->parent->iommu_group : -1, fd));
	int holder = fcntl(fd, F_DUPFD_CLOEXEC, 3); /* what the client received */
	CU_ASSERT_FATAL(holder >= 0);
	const uint8_t up = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			   VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	ASSERT_OK(kernel_vhost_vdpa_set_status(k, holder, up));
	uint8_t st = 0;
	ASSERT_OK(kernel_vhost_vdpa_get_status(k, holder, &st));
	CU_ASSERT_EQUAL(st, up);

	ASSERT_OK(lease_revoke_kernel(l, k, false)); /* reset even when reset is not asked */
	CU_ASSERT_EQUAL(l->state, LEASE_REVOKED);
	CU_ASSERT_EQUAL(l->vdpa_fd, -EBADF);
	ASSERT_OK(kernel_vhost_vdpa_get_status(k, holder, &st));
	CU_ASSERT_EQUAL(st, 0);
	ASSERT_OK(kernel_vhost_vdpa_set_status(k, holder, VIRTIO_CONFIG_S_ACKNOWLEDGE));
	int again = -EBADF; /* the holder's file still holds the device */
	ASSERT_ERR(kernel_vhost_vdpa_open(k, v, &again), EBUSY);
	ASSERT_OK(kernel_close(k, holder));
	lease_free(l, k);

	/* A reset that fails (here: the file is no vhost-vdpa file, ENOTTY) is returned, and
	 * the lease is revoked all the same (Revoke answers revoked-not-reset). */
	ASSERT_OK(lease_new(&l));
	l->mode = LEASE_MODE_VHOST_VDPA;
	ASSERT_OK(lease_set_state(l, LEASE_ACTIVE));
	int io = -EBADF;
	ASSERT_OK(kernel_iommufd_open(k, &io));
	ASSERT_OK(lease_set_vdpa(l, v->name, NULL, -1, io));
	ASSERT_ERR(lease_revoke_kernel(l, k, false), ENOTTY);
	CU_ASSERT_EQUAL(l->state, LEASE_REVOKED);
	CU_ASSERT_EQUAL(l->vdpa_fd, -EBADF);
	lease_free(l, k);
}

/* A legacy lease owns its container, group nodes and device fds: freeing it (release, or the
 * rollback of a failed Acquire) closes them in an order that leaves the groups free for the
 * next container (sim kernel on the legacy fixture). */
static void test_lease_legacy_free(void) {
	_cleanup_host_free_ Host *h = test_load_fixture("legacy.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", h, &k));
	CU_ASSERT_EQUAL(kernel_api(k), KERNEL_API_LEGACY);

	Lease *l = NULL;
	int fd = -1, c2 = -1, g2 = -1;
	ASSERT_OK(lease_new(&l));
	CU_ASSERT_EQUAL(l->container, -EBADF);
	ASSERT_OK(kernel_legacy_container_open(k, &l->container));
	ASSERT_OK(kernel_legacy_group_open(k, 5, l->container, &fd));
	ASSERT_OK(lease_add_legacy_group(l, 5, fd));
	ASSERT_OK(kernel_legacy_group_open(k, 3, l->container, &fd));
	ASSERT_OK(lease_add_legacy_group(l, 3, fd));
	CU_ASSERT_PTR_NOT_NULL(lease_legacy_group(l, 3));
	CU_ASSERT_PTR_NULL(lease_legacy_group(l, 4));
	ASSERT_OK(kernel_legacy_set_iommu(k, l->container));
	const char *bdfs[] = { "0000:01:01.0", "0000:01:02.0" };
	for (size_t i = 0; i < ELEMENTSOF(bdfs); i++) {
		ASSERT_OK(kernel_legacy_device_open(k, lease_legacy_group(l, 5)->fd,
						    host_find_device(h, bdfs[i]), &fd));
		ASSERT_OK(lease_add_device(l, bdfs[i], 5, fd));
	}
	/* Held: another container cannot take group 5. */
	ASSERT_OK(kernel_legacy_container_open(k, &c2));
	ASSERT_ERR(kernel_legacy_group_open(k, 5, c2, &g2), EBUSY);
	lease_free(l, k);
	/* Released: it can, and the old container took its IOMMU setting with it. */
	ASSERT_OK(kernel_legacy_group_open(k, 5, c2, &g2));
	ASSERT_OK(kernel_legacy_group_open(k, 3, c2, &fd));
	ASSERT_OK(kernel_close(k, fd));
	ASSERT_OK(kernel_close(k, g2));
	ASSERT_OK(kernel_close(k, c2));
}

/* Revoking a legacy lease cannot detach (type1 has no detach), but the daemon still drops its
 * own container and group references, so that the groups are freed once the holder's
 * copies are gone too (here: there are none, so another container takes group 5). */
static void test_lease_legacy_revoke(void) {
	_cleanup_host_free_ Host *h = test_load_fixture("legacy.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", h, &k));

	Lease *l = NULL;
	int fd = -1, c2 = -1, g2 = -1;
	ASSERT_OK(lease_new(&l));
	l->mode = LEASE_MODE_LEGACY;
	ASSERT_OK(lease_set_state(l, LEASE_ACTIVE));
	ASSERT_OK(kernel_legacy_container_open(k, &l->container));
	ASSERT_OK(kernel_legacy_group_open(k, 5, l->container, &fd));
	ASSERT_OK(lease_add_legacy_group(l, 5, fd));
	ASSERT_OK(kernel_legacy_set_iommu(k, l->container));
	ASSERT_OK(kernel_legacy_device_open(k, fd, host_find_device(h, "0000:01:01.0"), &fd));
	ASSERT_OK(lease_add_device(l, "0000:01:01.0", 5, fd));

	ASSERT_OK(lease_revoke_kernel(l, k, false));
	CU_ASSERT_EQUAL(l->state, LEASE_REVOKED);
	CU_ASSERT_EQUAL(l->container, -EBADF);
	CU_ASSERT_EQUAL(l->legacy_groups[0].fd, -EBADF);
	CU_ASSERT_EQUAL(l->devices[0].fd, -EBADF);
	ASSERT_OK(kernel_legacy_container_open(k, &c2));
	ASSERT_OK(kernel_legacy_group_open(k, 5, c2, &g2));
	ASSERT_OK(kernel_close(k, g2));
	ASSERT_OK(kernel_close(k, c2));
	lease_free(l, k);
}

/* A delivered attached lease of d for uid (pid 4242), its fds the daemon's own. */
static Lease *attached_lease(Kernel *k, const Device *d, uid_t uid) {
	Lease *l = NULL;
	int fd = -EBADF;
	ASSERT_OK(lease_new(&l));
	l->mode = LEASE_MODE_ATTACHED;
	ASSERT_OK(lease_set_state(l, LEASE_ACTIVE));
	l->uid = uid;
	l->pid = 4242;
	ASSERT_OK(kernel_iommufd_open(k, &l->iommufd));
	ASSERT_OK(kernel_ioas_alloc(k, l->iommufd, &l->ioas_id));
	ASSERT_OK(kernel_device_open(k, d, &fd));
	ASSERT_OK(lease_add_device(l, d->bdf, d->iommu_group, fd));
	ASSERT_OK(kernel_device_bind(k, fd, l->iommufd, &l->devices[0].dev_id));
	ASSERT_OK(kernel_device_attach(k, fd, l->ioas_id, &l->devices[0].hwpt_id));
	return l;
}

/* udev's view of a device change reaches manager_device_gone(): a rebind to another vfio
 * driver changes nothing; a rebind to a host driver revokes the lease that holds the device
 * (detached through the daemon's reference, fds closed, kept as a revoked record); a removal
 * drops a staged context that holds it. (The sd_device plumbing in udev.c needs a live udev
 * and is not exercised here.) */
static void test_device_gone(void) {
	_cleanup_host_free_ Host *h = test_load_fixture("sample.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", h, &k));
	Manager m = { .kernel = k, .host = h, .generation = 1 };
	m.leases.kernel = k;

	const Device *d3 = host_find_device(h, "0000:00:03.0");
	const Device *d4 = host_find_device(h, "0000:00:04.0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d4);
	Lease *a = attached_lease(k, d3, 1000), *b = NULL;
	int fd = -EBADF;
	ASSERT_OK(lease_table_add(&m.leases, a));

	ASSERT_OK(lease_new(&b));
	b->mode = LEASE_MODE_UNBOUND;
	ASSERT_OK(lease_set_state(b, LEASE_STAGED));
	ASSERT_OK(kernel_iommufd_open(k, &b->iommufd));
	ASSERT_OK(kernel_device_open(k, d4, &fd));
	ASSERT_OK(lease_add_device(b, d4->bdf, d4->iommu_group, fd));
	ASSERT_OK(lease_table_add(&m.leases, b));
	char bid[sizeof(b->id)];
	memcpy(bid, b->id, sizeof(bid));

	Capture cap;
	capture_start(&cap);
	manager_device_gone(&m, d3->bdf, "vfio-pci-variant");
	CU_ASSERT_EQUAL(a->state, LEASE_ACTIVE);
	CU_ASSERT_TRUE(a->iommufd >= 0);

	manager_device_gone(&m, d3->bdf, "e1000e");
	CU_ASSERT_EQUAL(a->state, LEASE_REVOKED);
	CU_ASSERT_EQUAL(a->iommufd, -EBADF);
	CU_ASSERT_EQUAL(a->devices[0].fd, -EBADF);
	CU_ASSERT_PTR_EQUAL(lease_table_find(&m.leases, a->id), a);
	/* Held until probed (fail closed); the probe before anyone asks finds it released. */
	CU_ASSERT_TRUE(a->probe_due);
	CU_ASSERT_PTR_EQUAL(lease_table_group_owner(&m.leases, d3->iommu_group), a);
	hold_settle(&m);
	CU_ASSERT_FALSE(a->probe_due);
	CU_ASSERT_PTR_EQUAL(lease_table_find(&m.leases, a->id), a);
	CU_ASSERT_PTR_NULL(lease_table_group_owner(&m.leases, d3->iommu_group));

	CU_ASSERT_PTR_NOT_NULL(lease_table_find(&m.leases, bid));
	manager_device_gone(&m, d4->bdf, NULL);
	CU_ASSERT_PTR_NULL(lease_table_find(&m.leases, bid));
	CU_ASSERT_PTR_NULL(lease_table_group_owner(&m.leases, d4->iommu_group));
	/* One record each, naming the device's removal as the cause, not a Revoke call. */
	char *text = capture_stop(&cap);
	CU_ASSERT_EQUAL(count_lines(text, NULL), 2);
	CU_ASSERT_EQUAL(count_lines(text, "message_id=" IOASID_MESSAGE_REVOKE " action=revoke ",
				    "method=- cause=\"device-gone\" ", "device=0000:00:03.0 ",
				    "reason=\"0000:00:03.0 rebound to e1000e\"", NULL),
			1);
	CU_ASSERT_EQUAL(count_lines(text, "message_id=" IOASID_MESSAGE_RELEASE,
				    " action=drop-staged method=- cause=\"device-gone\" ",
				    "device=0000:00:04.0 ", NULL),
			1);
	free(text);
	lease_table_clear(&m.leases);
}

/* udev reports a device's vfio-dev file removed (the device leaves vfio-pci: an unbind or a
 * hot removal, and the kernel now waits for every open file of it): the lease holding it
 * is revoked and a staged context dropped at once, so the daemon's own references no longer
 * keep the removal waiting (tests/vm HOT shows it on the real kernel). */
static void test_device_leaving_vfio(void) {
	_cleanup_host_free_ Host *h = test_load_fixture("sample.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", h, &k));
	Manager m = { .kernel = k, .host = h, .generation = 1 };
	m.leases.kernel = k;

	const Device *d3 = host_find_device(h, "0000:00:03.0");
	const Device *d4 = host_find_device(h, "0000:00:04.0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d4);
	Lease *a = attached_lease(k, d3, 1000), *b = NULL;
	int fd = -EBADF;
	ASSERT_OK(lease_table_add(&m.leases, a));
	ASSERT_OK(lease_new(&b));
	b->mode = LEASE_MODE_ATTACHED;
	ASSERT_OK(lease_set_state(b, LEASE_STAGED));
	ASSERT_OK(kernel_iommufd_open(k, &b->iommufd));
	ASSERT_OK(kernel_ioas_alloc(k, b->iommufd, &b->ioas_id));
	ASSERT_OK(kernel_device_open(k, d4, &fd));
	ASSERT_OK(lease_add_device(b, d4->bdf, d4->iommu_group, fd));
	ASSERT_OK(kernel_device_bind(k, fd, b->iommufd, &b->devices[0].dev_id));
	ASSERT_OK(kernel_device_attach(k, fd, b->ioas_id, &b->devices[0].hwpt_id));
	ASSERT_OK(lease_table_add(&m.leases, b));
	char bid[sizeof(b->id)];
	memcpy(bid, b->id, sizeof(bid));

	Capture cap;
	capture_start(&cap);
	manager_device_leaving_vfio(&m, d3->bdf);
	CU_ASSERT_EQUAL(a->state, LEASE_REVOKED);
	CU_ASSERT_EQUAL(a->iommufd, -EBADF);
	CU_ASSERT_EQUAL(a->devices[0].fd, -EBADF);
	CU_ASSERT_PTR_EQUAL(lease_table_find(&m.leases, a->id), a);
	CU_ASSERT_PTR_NOT_NULL(lease_table_find(&m.leases, bid));
	manager_device_leaving_vfio(&m, d4->bdf);
	CU_ASSERT_PTR_NULL(lease_table_find(&m.leases, bid));
	CU_ASSERT_PTR_NULL(lease_table_group_owner(&m.leases, d4->iommu_group));
	char *text = capture_stop(&cap);
	CU_ASSERT_EQUAL(
		count_lines(text, "message_id=" IOASID_MESSAGE_REVOKE " action=revoke ",
			    "method=- cause=\"device-gone\" ", "device=0000:00:03.0 ",
			    "reason=\"0000:00:03.0 leaving its VFIO driver (vfio-dev removed)\"",
			    NULL),
		1);
	CU_ASSERT_EQUAL(count_lines(text, " action=drop-staged method=- cause=\"device-gone\" ",
				    "device=0000:00:04.0 ",
				    "0000:00:04.0 leaving its VFIO driver (vfio-dev removed)",
				    NULL),
			1);
	free(text);
	lease_table_clear(&m.leases);
}

/* What the kernel says about binding d anew in a fresh context. */
static int bind_anew(Kernel *k, const Device *d) {
	int i = -EBADF, fd = -EBADF;
	uint32_t id;
	ASSERT_OK(kernel_iommufd_open(k, &i));
	ASSERT_OK(kernel_device_open(k, d, &fd));
	int r = kernel_device_bind(k, fd, i, &id);
	kernel_close(k, fd);
	kernel_close(k, i);
	return r;
}

/*
 * A lease that ends while another process still holds its fds (the wrapper died, the VMM it
 * started lives on): the kernel (sim) keeps the device bound, so the lease stays, ended,
 * holding its group (and counted against its uid's leases), named "held by ended lease L
 * (uid U, pid P)" to its holder and admins; released when that process exits. A revoked
 * lease holds its group the same way. A lease whose fds nobody else holds ends at once.
 */
static void test_lease_held_after_end(void) {
	TestHolder holder, holder2;
	test_holder_start(&holder);
	test_holder_start(&holder2);
	_cleanup_host_free_ Host *h = test_load_fixture("sample.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", h, &k));
	Manager m = { .kernel = k, .host = h, .generation = 1 };
	m.leases.kernel = k;
	const Device *d3 = host_find_device(h, "0000:00:03.0");
	const Device *d4 = host_find_device(h, "0000:00:04.0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d4);

	Lease *a = attached_lease(k, d3, 4701);
	ASSERT_OK(lease_table_add(&m.leases, a));
	test_holder_give(&holder, a->iommufd);
	test_holder_give(&holder, a->devices[0].fd);
	char id[sizeof(a->id)], buf[300], want[300];
	memcpy(id, a->id, sizeof(id));
	manager_end_lease(&m, a, "connection closed");
	CU_ASSERT_PTR_EQUAL_FATAL(lease_table_find(&m.leases, id), a);
	CU_ASSERT_EQUAL(a->state, LEASE_ENDED);
	CU_ASSERT_TRUE(a->devices[0].held);
	CU_ASSERT_EQUAL(a->iommufd, -EBADF);
	CU_ASSERT_EQUAL(a->devices[0].fd, -EBADF);
	CU_ASSERT_PTR_EQUAL(lease_table_group_owner(&m.leases, d3->iommu_group), a);
	CU_ASSERT_PTR_EQUAL(lease_table_device_owner(&m.leases, d3->bdf), a);
	CU_ASSERT_EQUAL(lease_table_count_uid(&m.leases, 4701), 1);
	CU_ASSERT_EQUAL(hold_describe(a, true, buf, sizeof(buf)), 1);
	snprintf(want, sizeof(want), "held by ended lease %s (uid 4701, pid 4242)", id);
	ASSERT_STREQ(buf, want);
	CU_ASSERT_EQUAL(hold_describe(a, false, buf, sizeof(buf)), 1);
	ASSERT_STREQ(buf, "held by an ended lease of another user");
	/* The daemon's books agree with the kernel, and asking again changes nothing. */
	ASSERT_ERR(bind_anew(k, d3), EINVAL);
	hold_recheck(&m, -1);
	CU_ASSERT_PTR_EQUAL(lease_table_group_owner(&m.leases, d3->iommu_group), a);

	/* Revoked while its holder keeps the fds: its group stays held too; when it ends it is
	 * kept as ended. */
	Lease *b = attached_lease(k, d4, 4702);
	ASSERT_OK(lease_table_add(&m.leases, b));
	test_holder_give(&holder2, b->devices[0].fd);
	char bid[sizeof(b->id)];
	memcpy(bid, b->id, sizeof(bid));
	manager_revoke_lease(&m, b, false, false, &(AuditActor){ .cause = "test" }, "test");
	CU_ASSERT_EQUAL(b->state, LEASE_REVOKED);
	CU_ASSERT_EQUAL(lease_table_count_uid(&m.leases, 4702), 0);
	CU_ASSERT_PTR_EQUAL(lease_table_group_owner(&m.leases, d4->iommu_group), b);
	CU_ASSERT_EQUAL(hold_describe(b, false, buf, sizeof(buf)), 1);
	ASSERT_STREQ(buf, "held by a revoked lease of another user");
	manager_end_lease(&m, b, "revoked lease released");
	CU_ASSERT_PTR_EQUAL(lease_table_find(&m.leases, bid), b);
	CU_ASSERT_EQUAL(b->state, LEASE_ENDED);
	/* Revoked first: still not counted against its uid, as while it was only revoked. */
	CU_ASSERT_EQUAL(lease_table_count_uid(&m.leases, 4702), 0);

	/* The first holder exits: its group is free, its lease forgotten; the other stays. */
	test_holder_stop(&holder);
	hold_recheck(&m, d3->iommu_group);
	CU_ASSERT_PTR_NULL(lease_table_find(&m.leases, id));
	CU_ASSERT_PTR_NULL(lease_table_group_owner(&m.leases, d3->iommu_group));
	CU_ASSERT_EQUAL(lease_table_count_uid(&m.leases, 4701), 0);
	CU_ASSERT_PTR_EQUAL(lease_table_group_owner(&m.leases, d4->iommu_group), b);
	ASSERT_OK(bind_anew(k, d3));
	test_holder_stop(&holder2);
	hold_recheck(&m, -1);
	CU_ASSERT_PTR_NULL(lease_table_find(&m.leases, bid));
	CU_ASSERT_EQUAL(m.leases.n, 0);

	/* Nobody else holds its fds: nothing is left behind once it is probed, which is not at
	 * its end but before anything needs the answer (hold_settle); until then it counts as
	 * held, fail closed. */
	Lease *c = attached_lease(k, d3, 4701);
	ASSERT_OK(lease_table_add(&m.leases, c));
	manager_end_lease(&m, c, "released");
	CU_ASSERT_TRUE(c->state == LEASE_ENDED && c->probe_due && c->devices[0].held);
	CU_ASSERT_PTR_EQUAL(lease_table_group_owner(&m.leases, d3->iommu_group), c);
	hold_settle(&m);
	CU_ASSERT_EQUAL(m.leases.n, 0);
	CU_ASSERT_PTR_NULL(lease_table_group_owner(&m.leases, d3->iommu_group));
	lease_table_clear(&m.leases);
}

/* The same on the legacy path: a device fd obtained from the group keeps the group set on
 * the holder's container (the group node probe answers EBUSY) until it is closed. */
static void test_lease_legacy_held_after_end(void) {
	TestHolder holder;
	test_holder_start(&holder);
	_cleanup_host_free_ Host *h = test_load_fixture("legacy.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", h, &k));
	Manager m = { .kernel = k, .host = h, .generation = 1 };
	m.leases.kernel = k;
	Lease *l = NULL;
	int fd = -1;
	ASSERT_OK(lease_new(&l));
	l->mode = LEASE_MODE_LEGACY;
	ASSERT_OK(lease_set_state(l, LEASE_ACTIVE));
	ASSERT_OK(kernel_legacy_container_open(k, &l->container));
	ASSERT_OK(kernel_legacy_group_open(k, 5, l->container, &fd));
	ASSERT_OK(lease_add_legacy_group(l, 5, fd));
	ASSERT_OK(kernel_legacy_set_iommu(k, l->container));
	const char *bdfs[] = { "0000:01:01.0", "0000:01:02.0" };
	for (size_t i = 0; i < ELEMENTSOF(bdfs); i++) {
		ASSERT_OK(kernel_legacy_device_open(k, lease_legacy_group(l, 5)->fd,
						    host_find_device(h, bdfs[i]), &fd));
		ASSERT_OK(lease_add_device(l, bdfs[i], 5, fd));
	}
	ASSERT_OK(lease_table_add(&m.leases, l));
	test_holder_give(&holder, l->devices[1].fd);
	manager_end_lease(&m, l, "owner process exited");
	CU_ASSERT_EQUAL_FATAL(l->state, LEASE_ENDED);
	CU_ASSERT_TRUE(l->devices[0].held && l->devices[1].held);
	CU_ASSERT_PTR_EQUAL(lease_table_group_owner(&m.leases, 5), l);
	test_holder_stop(&holder);
	hold_recheck(&m, 5);
	CU_ASSERT_EQUAL(m.leases.n, 0);
	int c2 = -1, g2 = -1;
	ASSERT_OK(kernel_legacy_container_open(k, &c2));
	ASSERT_OK(kernel_legacy_group_open(k, 5, c2, &g2));
	kernel_close(k, g2);
	kernel_close(k, c2);
}

static CU_TestInfo tests[] = {
	{ "lease_state_transitions", test_lease_state_transitions },
	{ "lease_revoke_kernel", test_lease_revoke_kernel },
	{ "lease_revoke_vdpa", test_lease_revoke_vdpa },
	{ "audit_rate_limit", test_audit_rate_limit },
	{ "audit_rate_limit_overflow", test_audit_rate_limit_overflow },
	{ "audit_format", test_audit_format },
	{ "log_escape", test_log_escape },
	{ "peer_cgroup", test_peer_cgroup },
	{ "parse_proc_cgroup", test_parse_proc_cgroup },
	{ "proc_hides_peers", test_proc_hides_peers },
	{ "identity_socketpair", test_identity_socketpair },
	{ "lease_ids", test_lease_ids },
	{ "lease_groups_sorted", test_lease_groups_sorted },
	{ "lease_table_exclusivity", test_lease_table_exclusivity },
	{ "lease_table_lookup_ends", test_lease_table_lookup_ends },
	{ "lease_strings", test_lease_strings },
	{ "lease_legacy_free", test_lease_legacy_free },
	{ "lease_legacy_revoke", test_lease_legacy_revoke },
	{ "device_gone", test_device_gone },
	{ "device_leaving_vfio", test_device_leaving_vfio },
	{ "lease_held_after_end", test_lease_held_after_end },
	{ "lease_legacy_held_after_end", test_lease_legacy_held_after_end },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("ioasidd", tests);
