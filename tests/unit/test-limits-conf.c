/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* limits.conf memlock evaluation, table-driven: each case is a sequence of files (as the
 * concatenation pam_limits reads) and the soft/hard it must give user "alice". */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/client/limits-conf.h"
#include "common/macro.h"
#include "tests/unit/test.h"

/* alice: uid 1000, primary group alice (1000), supplementary kvm (36) and vfio (990). */
static const char *const alice_group_names[] = { "alice", "kvm", "vfio" };
static const gid_t alice_gids[] = { 1000, 36, 990 };
static const LimitsConfUser alice = {
	.name = "alice",
	.uid = 1000,
	.gid = 1000,
	.group_names = alice_group_names,
	.groups = alice_gids,
	.n_groups = 3,
};

#define NOTSET ((uint64_t)0xdead)
#define UNL UINT64_MAX
#define KIB(n) ((uint64_t)(n)*1024)

typedef struct Case {
	const char *name;
	const char *files[3];          /* fed in order, named a.conf, b.conf, c.conf */
	uint64_t soft, hard;           /* NOTSET: not set */
	const char *soft_at, *hard_at; /* "file:line", checked when not NULL */
	bool no_limits;
} Case;

/* A row per case, laid out by hand: clang-format 14 would give every field of a row that
 * holds a nested list its own line. */
/* clang-format off */
static const Case cases[] = {
	{ "nothing", { "" }, NOTSET, NOTSET },
	{ "comments and blanks", { "# alice - memlock 1\n\n   \t\n  # x\n" }, NOTSET, NOTSET },
	{ "user line, KiB", { "alice soft memlock 1024\n" }, KIB(1024), NOTSET, "a.conf:1" },
	{ "dash sets both", { "alice - memlock 2048\n" }, KIB(2048), KIB(2048), "a.conf:1",
	  "a.conf:1" },
	{ "unlimited words", { "alice soft memlock unlimited\nalice hard memlock INFINITY\n" },
	  UNL, UNL },
	{ "-1 and - are unlimited", { "alice soft memlock -1\nalice hard memlock -\n" }, UNL,
	  UNL },
	{ "trailing comment", { "alice hard memlock 64 # why\n" }, NOTSET, KIB(64) },
	{ "case-insensitive type/item", { "alice SOFT MemLock 8\n" }, KIB(8), NOTSET },
	{ "domain is case-sensitive", { "Alice soft memlock 8\n" }, NOTSET, NOTSET },
	{ "other user", { "bob - memlock 8\n" }, NOTSET, NOTSET },
	{ "other item", { "alice - nofile 8\n" }, NOTSET, NOTSET },
	{ "user beats a later group", { "alice soft memlock 100\n@kvm soft memlock 200\n" },
	  KIB(100), NOTSET, "a.conf:1" },
	{ "group beats an earlier wildcard", { "* soft memlock 1\n@vfio soft memlock 2\n" },
	  KIB(2), NOTSET, "a.conf:2" },
	{ "group beats a later wildcard", { "@vfio soft memlock 2\n* soft memlock 1\n" }, KIB(2),
	  NOTSET, "a.conf:1" },
	{ "later same priority wins", { "* soft memlock 1\n* soft memlock 3\n" }, KIB(3), NOTSET,
	  "a.conf:2" },
	{ "later user line wins across files",
	  { "alice soft memlock 1\n", "", "alice soft memlock 5\n" }, KIB(5), NOTSET,
	  "c.conf:1" },
	{ "user in limits.conf beats group in limits.d",
	  { "alice hard memlock 7\n", "@kvm hard memlock 9\n" }, NOTSET, KIB(7), NULL,
	  "a.conf:1" },
	{ "primary group by name", { "@alice soft memlock 4\n" }, KIB(4), NOTSET },
	{ "supplementary group by name", { "@kvm soft memlock 4\n" }, KIB(4), NOTSET },
	{ "not a member", { "@wheel soft memlock 4\n" }, NOTSET, NOTSET },
	{ "%group is maxlogins only", { "%kvm soft memlock 4\n% soft memlock 4\n" }, NOTSET,
	  NOTSET },
	{ "uid range", { "999:1001 soft memlock 4\n" }, KIB(4), NOTSET },
	{ "uid range outside", { "1001:2000 soft memlock 4\n" }, NOTSET, NOTSET },
	{ "uid min:", { "1000: soft memlock 4\n" }, KIB(4), NOTSET },
	{ "uid :exact", { ":1000 soft memlock 4\n:1001 hard memlock 4\n" }, KIB(4), NOTSET },
	{ "uid range is user priority", { "1000: soft memlock 4\nalice soft memlock 1\n"
					  "@kvm soft memlock 9\n" },
	  KIB(1), NOTSET, "a.conf:2" },
	{ "gid :exact, supplementary", { "@:36 soft memlock 4\n" }, KIB(4), NOTSET },
	{ "gid range: primary gid only", { "@30:40 soft memlock 4\n@1000: hard memlock 5\n" },
	  NOTSET, KIB(5) },
	{ "malformed range skipped", { "a:b soft memlock 4\n: soft memlock 4\n@: soft memlock "
				       "4\n" },
	  NOTSET, NOTSET },
	{ "malformed lines skipped",
	  { "alice soft memlock\nalice soft\nalice bogus memlock 4\nalice soft memlock abc\n"
	    "alice soft memlock 12\n" },
	  KIB(12), NOTSET, "a.conf:5" },
	{ "trailing text after digits", { "alice soft memlock 16k\n" }, KIB(16), NOTSET },
	{ "huge becomes unlimited", { "alice soft memlock 18446744073709551\n" }, UNL, NOTSET },
	{ "refused soft leaves the dash's hard unset",
	  { "alice soft memlock 1\n@kvm - memlock 2\n" }, KIB(1), NOTSET },
	{ "soft kept, hard from a less specific dash",
	  { "alice hard memlock 1\n@kvm - memlock 2\n" }, KIB(2), KIB(1) },
	{ "no-limits line stops", { "alice -\nalice soft memlock 1\n", "* soft memlock 2\n" },
	  NOTSET, NOTSET, .no_limits = true },
	{ "no-limits for a group", { "@vfio -\n" }, NOTSET, NOTSET, .no_limits = true },
	{ "no-limits * does not apply", { "* -\n* soft memlock 3\n" }, KIB(3), NOTSET },
	{ "no final newline, tabs", { "alice\thard\tmemlock\t\t32" }, NOTSET, KIB(32) },
};
/* clang-format on */

static void check_value(const char *name, const char *what, const LimitsConfValue *v, uint64_t want,
			const char *at) {
	char got_at[PATH_MAX + 16];
	if (want == NOTSET) {
		if (v->set)
			fprintf(stderr, "%s: %s set, expected not\n", name, what);
		CU_ASSERT_FALSE(v->set);
		return;
	}
	if (!v->set || v->bytes != want)
		fprintf(stderr, "%s: %s %s %llu, expected %llu\n", name, what,
			v->set ? "is" : "not set", (unsigned long long)v->bytes,
			(unsigned long long)want);
	CU_ASSERT_TRUE(v->set && v->bytes == want);
	if (at) {
		snprintf(got_at, sizeof(got_at), "%s:%u", v->file, v->line);
		ASSERT_STREQ(got_at, at);
	}
}

static void test_cases(void) {
	static const char *const names[] = { "a.conf", "b.conf", "c.conf" };
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const Case *c = &cases[i];
		LimitsConfMemlock m;
		int stopped = 0;
		limits_conf_init(&m);
		for (size_t f = 0; f < ELEMENTSOF(c->files) && c->files[f] && !stopped; f++)
			stopped = limits_conf_feed(&m, &alice, names[f], c->files[f]);
		check_value(c->name, "soft", &m.soft, c->soft, c->soft_at);
		check_value(c->name, "hard", &m.hard, c->hard, c->hard_at);
		if (m.no_limits != c->no_limits)
			fprintf(stderr, "%s: no_limits %d\n", c->name, m.no_limits);
		CU_ASSERT_EQUAL(m.no_limits, c->no_limits);
		CU_ASSERT_EQUAL(stopped, c->no_limits);
	}
}

static void write_file(const char *dir, const char *name, const char *text) {
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "we");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

/* The files on disk: limits.conf first, then limits.d/ *.conf in strcmp() order (not the
 * locale's, not readdir()'s), other names ignored; a missing limits.conf is empty. */
static void test_read_root(void) {
	char root[] = "/tmp/limits-conf-XXXXXX", sec[128], d[256], cmd[64];
	LimitsConfMemlock m;
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(root));
	snprintf(sec, sizeof(sec), "%s/etc", root);
	CU_ASSERT_EQUAL_FATAL(mkdir(sec, 0755), 0);
	snprintf(sec, sizeof(sec), "%s/etc/security", root);
	CU_ASSERT_EQUAL_FATAL(mkdir(sec, 0755), 0);

	ASSERT_OK(limits_conf_read_memlock(root, &alice, &m));
	CU_ASSERT_FALSE(m.soft.set || m.hard.set);

	snprintf(d, sizeof(d), "%s/limits.d", sec);
	CU_ASSERT_EQUAL_FATAL(mkdir(d, 0755), 0);
	write_file(sec, "limits.conf", "* soft memlock 1\n* hard memlock 1\n");
	/* "Z" < "a" in strcmp(); a locale collation would put "Z" last. */
	write_file(d, "a.conf", "* soft memlock 2\n");
	write_file(d, "Z.conf", "* soft memlock 3\n* hard memlock 3\n");
	write_file(d, "zz.conf.disabled", "* soft memlock 9\n");
	ASSERT_OK(limits_conf_read_memlock(root, &alice, &m));
	char at[PATH_MAX + 16], want[PATH_MAX + 16];
	CU_ASSERT_EQUAL(m.soft.bytes, KIB(2));
	snprintf(at, sizeof(at), "%s:%u", m.soft.file, m.soft.line);
	snprintf(want, sizeof(want), "%s/a.conf:1", d);
	ASSERT_STREQ(at, want);
	CU_ASSERT_EQUAL(m.hard.bytes, KIB(3));

	/* A no-limits line in limits.conf stops before limits.d. */
	write_file(sec, "limits.conf", "@kvm -\n");
	ASSERT_OK(limits_conf_read_memlock(root, &alice, &m));
	CU_ASSERT_TRUE(m.no_limits);
	CU_ASSERT_FALSE(m.soft.set || m.hard.set);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

static CU_TestInfo tests[] = {
	{ "cases", test_cases },
	{ "read_root", test_read_root },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("limits-conf", tests);
