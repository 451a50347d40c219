/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The rule index must never change a decision: for random policies and random requests,
 * the indexed first match equals a plain scan of every rule in file order.
 */
#include <stdlib.h>

#include "common/macro.h"
#include "policy/policy-internal.h"
#include "tests/unit/policy-resolver.h"
#include "tests/unit/test.h"

static const char *const users[] = { "u1", "u2", "u3", "alice", "bob" };
static const char *const groups[] = { "g1", "g2", "kvm", "wheel" };
/* Long domains too (VMD, "10000:"), next to the ones a 16-bit packing would confuse. */
static const char *const bdfs[] = { "0000:01:00.0",     "0000:01:00.1",  "0000:3b:00.0",
				    "0000:3b:02.0",     "10000:01:00.0", "1000:01:00.0",
				    "ffffffff:3b:00.0", "0001:01:00.0" };
static const unsigned vendors[] = { 0x10de, 0x8086, 0x1af4 };

static unsigned rnd(unsigned *seed, unsigned n) {
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) % n;
}

static void append_rule(FILE *f, unsigned *seed) {
	fputs(rnd(seed, 4) == 0 ? "deny" : "allow", f);
	bool any = true;
	if (rnd(seed, 2)) {
		fprintf(f, " user %s", users[rnd(seed, ELEMENTSOF(users))]);
		any = false;
	}
	if (rnd(seed, 3) == 0) {
		fprintf(f, " group %s", groups[rnd(seed, ELEMENTSOF(groups))]);
		any = false;
	}
	if (rnd(seed, 5) == 0) {
		fputs(" uid 100000-100002", f);
		any = false;
	}
	if (rnd(seed, 4) == 0) {
		static const char *const units[] = { "a.service", "b.service", "\"*.service\"" };
		fprintf(f, " unit %s", units[rnd(seed, ELEMENTSOF(units))]);
		any = false;
	}
	if (any)
		fputs(" *", f);
	fputs(" to", f);
	any = true;
	if (rnd(seed, 3) == 0) {
		fprintf(f, " bdf %s", bdfs[rnd(seed, ELEMENTSOF(bdfs))]);
		any = false;
	}
	if (rnd(seed, 2)) {
		fprintf(f, " vendor 0x%04x", vendors[rnd(seed, ELEMENTSOF(vendors))]);
		any = false;
	}
	if (rnd(seed, 4) == 0) {
		fputs(" class 0x03", f);
		any = false;
	}
	if (any)
		fputs(" any", f);
	fputc('\n', f);
}

static void test_index_equals_scan(void) {
	unsigned seed = 12345;
	for (unsigned round = 0; round < 60; round++) {
		_cleanup_free_ char *text = NULL;
		size_t size = 0;
		FILE *f = open_memstream(&text, &size);
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		unsigned n = 1 + rnd(&seed, 60);
		for (unsigned i = 0; i < n; i++)
			append_rule(f, &seed);
		fclose(f);
		/* Identical rules are a load error: keep the first of each. */
		_cleanup_free_ char *uniq = calloc(1, size + 2);
		CU_ASSERT_PTR_NOT_NULL_FATAL(uniq);
		uniq[0] = '\n';
		for (char *l = text, *nl; *l; l = nl + 1) {
			nl = strchr(l, '\n');
			char save = nl[1];
			nl[1] = '\0';
			char probe[256];
			snprintf(probe, sizeof(probe), "\n%s", l);
			if (!strstr(uniq, probe))
				strcat(uniq, l);
			nl[1] = save;
		}
		free(text);
		text = TAKE_PTR(uniq);

		PolicyLoadOptions o = { .resolver = &test_resolver };
		_cleanup_policy_free_ Policy *p = NULL;
		ASSERT_OK(policy_load_string(text, "rand.conf", &o, &p, NULL));
		for (unsigned q = 0; q < 200; q++) {
			gid_t sup[3] = { 100000 + rnd(&seed, 3), 36, 10 };
			PolicyPeer peer = { .uid = 100000 + rnd(&seed, 4),
					    .gid = 100000 + rnd(&seed, 3),
					    .groups = sup,
					    .n_groups = rnd(&seed, 4) };
			if (rnd(&seed, 5) == 0)
				peer.uid = 1000 + rnd(&seed, 2); /* alice, bob */
			static const char *const units[] = { NULL, "a.service", "b.service",
							     "c.service" };
			peer.unit = units[rnd(&seed, ELEMENTSOF(units))];
			peer.have_pidfd = rnd(&seed, 4) != 0;
			Device d = { .iommu_group = -1, .numa_node = -1 };
			snprintf(d.bdf, sizeof(d.bdf), "%s", bdfs[rnd(&seed, ELEMENTSOF(bdfs))]);
			d.vendor = (uint16_t)vendors[rnd(&seed, ELEMENTSOF(vendors))];
			d.class = rnd(&seed, 2) ? 0x030000 : 0x020000;
			PolicyRequest req = { .peer = &peer, .device = &d };
			ssize_t a = policy_first_match(p, &req),
				b = policy_first_match_scan(p, &req);
			if (a != b)
				fprintf(stderr, "\nround %u: index %zd, scan %zd\n%s", round, a, b,
					text);
			CU_ASSERT_EQUAL_FATAL(a, b);
		}
	}
}

static CU_TestInfo tests[] = {
	{ "index_equals_scan", test_index_equals_scan },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("policy-index", tests);
