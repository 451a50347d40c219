/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-policy: the cost of one policy_evaluate() with 1, 100, 1000 and 10000 rules where
 * the matching rule is the last one, as ns/decision and as a ratio to the 1-rule policy
 * measured in the same run. Target: 10000 rules <= 20x one rule.
 *
 * Scenarios:
 *   users    every rule names a different user ("allow user uI to any"): the uid index
 *   devices  every rule names the same user and a different BDF: the device index
 *   units    every rule names a different systemd unit exactly: the unit index
 *   globs    every rule is 'allow unit "svcI.*" to any': no index applies to a glob, so
 *            this is a linear scan (reported for information, not held to the target)
 *
 * Usage: bench-policy [--quick] [--json]
 * Exit: 0 when every indexed scenario meets the target, 1 when one misses it, 2 on setup
 * errors.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/macro.h"
#include "tests/tools/bench-util.h"
#include "policy/policy.h"
#include "tests/unit/policy-resolver.h"

static const unsigned sizes[] = { 1, 100, 1000, 10000 };
#define TARGET_RATIO 20.0

static void bdf_of(unsigned i, char buf[static BDF_MAX]) {
	snprintf(buf, BDF_MAX, "0000:%02x:%02x.%x", (i >> 8) & 0xff, (i >> 3) & 0x1f, i & 7);
}

typedef enum { SC_USERS, SC_DEVICES, SC_UNITS, SC_GLOBS, _SC_MAX } Scenario;
static const char *const sc_names[] = { "users", "devices", "units", "globs" };

static char *make_policy(Scenario sc, unsigned n) {
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	if (!f)
		return NULL;
	fputs("deny user carol\n", f); /* something before, so the list is never trivial */
	for (unsigned i = 1; i <= n; i++) {
		char bdf[BDF_MAX];
		switch (sc) {
		case SC_USERS:
			fprintf(f, "allow user u%u to any mode attached,unbound\n", i);
			break;
		case SC_DEVICES:
			bdf_of(i, bdf);
			fprintf(f, "allow user alice to bdf %s mode attached,unbound\n", bdf);
			break;
		case SC_UNITS:
			fprintf(f, "allow unit svc%u.service to any mode attached,unbound\n", i);
			break;
		default:
			fprintf(f, "allow unit \"svc%u.*\" to any mode attached,unbound\n", i);
			break;
		}
	}
	fputs("deny *\n", f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* ns per decision, best of 5 rounds of `iters` evaluations. */
static double measure(const Policy *p, const PolicyRequest *req, unsigned iters) {
	double best = 1e18;
	for (int round = 0; round < 5; round++) {
		PolicyDecision d;
		unsigned allowed = 0;
		uint64_t t0 = bench_now_ns();
		for (unsigned i = 0; i < iters; i++) {
			policy_evaluate(p, req, &d);
			allowed += d.allow;
		}
		uint64_t t1 = bench_now_ns();
		if (allowed != iters) {
			fprintf(stderr, "bench-policy: the last rule did not allow (%s)\n",
				d.reason);
			exit(2);
		}
		double ns = (double)(t1 - t0) / iters;
		if (ns < best)
			best = ns;
	}
	return best;
}

int main(int argc, char **argv) {
	bool quick = false, json = false;
	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--quick"))
			quick = true;
		else if (streq(argv[i], "--json"))
			json = true;
		else {
			fprintf(stderr, "Usage: %s [--quick] [--json]\n", argv[0]);
			return 2;
		}
	}
	bool ok = true;
	if (json)
		printf("{\"target_ratio\":%.0f,\"scenarios\":[", TARGET_RATIO);
	for (Scenario sc = 0; sc < _SC_MAX; sc++) {
		double base = 0;
		if (!json)
			printf("%-8s %8s %12s %8s\n", sc_names[sc], "rules", "ns/decision",
			       "ratio");
		else
			printf("%s{\"name\":\"%s\",\"results\":[", sc ? "," : "", sc_names[sc]);
		for (size_t k = 0; k < ELEMENTSOF(sizes); k++) {
			unsigned n = sizes[k];
			_cleanup_free_ char *text = make_policy(sc, n);
			PolicyLoadOptions o = { .resolver = &test_resolver };
			_cleanup_policy_free_ Policy *p = NULL;
			PolicyError e = {};
			if (!text || policy_load_string(text, "bench", &o, &p, &e) < 0) {
				fprintf(stderr, "bench-policy: cannot load: %u:%u: %s\n", e.line,
					e.column, strna(e.message));
				return 2;
			}
			/* The peer and device that only the last rule matches. */
			gid_t groups[] = { 36, 10, 100 };
			char unit[64];
			snprintf(unit, sizeof(unit), "svc%u.service", n);
			PolicyPeer peer = { .uid = sc == SC_USERS ? 100000 + n : 1000,
					    .gid = 1000,
					    .groups = groups,
					    .n_groups = 3,
					    .unit = unit,
					    .have_pidfd = true };
			Device d = { .vendor = 0x10de,
				     .device = 0x2204,
				     .class = 0x030000,
				     .iommu_group = 1,
				     .numa_node = -1 };
			bdf_of(sc == SC_DEVICES ? n : 4242, d.bdf);
			PolicyRequest req = { .peer = &peer,
					      .device = &d,
					      .mode = POLICY_MODE_UNBOUND };
			unsigned iters = quick ? 2000 : 20000;
			if (sc == SC_GLOBS && n >= 1000)
				iters = quick ? 20 : 200;
			double ns = measure(p, &req, iters);
			if (k == 0)
				base = ns;
			double ratio = ns / base;
			bool target = sc != SC_GLOBS;
			if (target && n == 10000 && ratio > TARGET_RATIO)
				ok = false;
			if (!json)
				printf("%-8s %8u %12.1f %7.2fx%s\n", "", n, ns, ratio,
				       target && n == 10000
					       ? (ratio <= TARGET_RATIO
							  ? "  (target <= 20x: met)"
							  : "  (target <= 20x: MISSED)")
					       : "");
			else
				printf("%s{\"rules\":%u,\"ns_per_decision\":%.1f,\"ratio\":%.2f}",
				       k ? "," : "", n, ns, ratio);
		}
		if (json)
			printf("]}");
	}
	if (json)
		printf("],\"target_met\":%s}\n", ok ? "true" : "false");
	else
		printf("bench-policy: %s (10000 rules vs 1 rule, indexed scenarios, target <= %.0fx)\n",
		       ok ? "target met" : "TARGET MISSED", TARGET_RATIO);
	return ok ? 0 : 1;
}
