/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the policy parser (tests/fuzz/run.sh builds and runs it).
 *
 * Besides "no crash, no leak, no UB" it checks three properties on every input that loads:
 *   1. the canonical form (policy_to_string) loads again and prints the same text;
 *   2. the rule index agrees with a plain scan for a set of fixed peers and devices;
 *   3. policy_explain decides exactly like policy_evaluate;
 *   4. a rule policy_lint calls dead never decides.
 * A violation aborts, so libFuzzer keeps the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "policy/policy-internal.h"
#include "tests/unit/policy-resolver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *strip_locations(const char *s) {
	/* Drop the "  # file:line" trailers: line numbers differ between the two texts. */
	char *out = strdup(s), *w = out;
	if (!out)
		abort();
	for (const char *r = s; *r;) {
		const char *c = strstr(r, "  # ");
		const char *nl = strchr(r, '\n');
		if (c && (!nl || c < nl)) {
			memcpy(w, r, (size_t)(c - r));
			w += c - r;
			r = nl ? nl : c + strlen(c);
		} else {
			size_t n = nl ? (size_t)(nl - r + 1) : strlen(r);
			memcpy(w, r, n);
			w += n;
			r += n;
		}
	}
	*w = '\0';
	return out;
}

static char *gpu_props[] = { "ID_MODEL_FROM_DATABASE=GA102", "ID_PATH=pci-0000:01:00.0", NULL };

/* Is rule idx one policy_lint reported (by line; lines holding several rules are skipped)? */
static bool is_dead(const Policy *p, const PolicyWarning *w, size_t n_w, ssize_t idx) {
	if (idx < 0)
		return false;
	unsigned line = p->rules[idx].line;
	size_t same = 0;
	for (size_t i = 0; i < p->n_rules; i++)
		same += p->rules[i].line == line;
	if (same != 1)
		return false;
	for (size_t i = 0; i < n_w; i++)
		if (w[i].line == line)
			return true;
	return false;
}

static void check_decisions(const Policy *p) {
	PolicyWarning *w = NULL;
	size_t n_w = 0;
	if (policy_lint(p, &w, &n_w) < 0)
		abort();
	static const gid_t kvm[] = { 36, 10 };
	const PolicyPeer peers[] = {
		{ .uid = 0, .gid = 0 },
		{ .uid = 1000, .gid = 1000, .groups = kvm, .n_groups = 2 },
		{ .uid = 1001,
		  .gid = 100,
		  .unit = "libvirtd.service",
		  .cgroup = "/a/libpod-x.scope",
		  .label = "u:r:svirt_t:s0",
		  .have_pidfd = true },
		{ .uid = 1001,
		  .gid = 100,
		  .unit = "libvirtd.service",
		  .cgroup = "/a/libpod-x.scope",
		  .label = "u:r:svirt_t:s0" },
		{ .uid = 1001,
		  .gid = 1001,
		  .unit = "user@1001.service",
		  .user_unit = "libpod-x.scope",
		  .have_pidfd = true,
		  .cgroup =
			  "/user.slice/user-1001.slice/user@1001.service/user.slice/libpod-x.scope" },
		{ .uid = 100005, .gid = 100005 },
		{ .uid = 65534, .gid = 65534, .groups = kvm, .n_groups = 2 },
		{ .uid = (uid_t)-1, .gid = (gid_t)-1 },
	};
	const Device devs[] = {
		{ .bdf = "0000:01:00.0",
		  .vendor = 0x10de,
		  .device = 0x2204,
		  .class = 0x030000,
		  .driver = "vfio-pci",
		  .iommu_group = 17,
		  .numa_node = 0,
		  .properties = gpu_props },
		{ .bdf = "0000:3b:00.0",
		  .vendor = 0x8086,
		  .device = 0x1572,
		  .class = 0x020000,
		  .driver = "i40e",
		  .iommu_group = 30,
		  .numa_node = 1 },
		{ .bdf = "0000:00:02.0",
		  .vendor = 0x8086,
		  .class = 0x030200,
		  .iommu_group = -1,
		  .numa_node = -1,
		  .noiommu = true },
	};
	static const char *const layouts[] = { NULL, "vm", "x" };
	for (size_t a = 0; a < ELEMENTSOF(peers); a++)
		for (size_t b = 0; b < ELEMENTSOF(devs); b++)
			for (unsigned m = 0; m < 4; m++) {
				PolicyRequest req = { .peer = &peers[a],
						      .device = &devs[b],
						      .mode = m & 3,
						      .layout = layouts[(a + b + m) % 3] };
				ssize_t idx = policy_first_match(p, &req);
				if (idx != policy_first_match_scan(p, &req))
					abort();
				if (is_dead(p, w, n_w, idx)) {
					fprintf(stderr, "lint: rule at line %u decided\n",
						p->rules[idx].line);
					abort();
				}
				PolicyDecision d1, d2;
				PolicyExplanation e;
				int r1 = policy_evaluate(p, &req, &d1);
				int r2 = policy_explain(p, &req, &d2, &e);
				if (r1 != r2 || d1.allow != d2.allow || d1.line != d2.line ||
				    strcmp(d1.reason, d2.reason) != 0)
					abort();
				if (peers[a].uid == 65534 && d1.allow)
					abort();
			}
	free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	PolicyLoadOptions o = { .resolver = &test_resolver, .generation = 1 };
	PolicyError e = {};
	Policy *p = NULL;

	if (size > 64 * 1024)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	int r = policy_load_string(text, "fuzz", &o, &p, &e);
	if (r < 0) {
		/* A refused file always says where and why. */
		if (r == -EINVAL && (!e.message || !e.file || e.line == 0 || e.column == 0))
			abort();
		policy_error_done(&e);
		free(text);
		return 0;
	}

	char *s1 = NULL, *s2 = NULL;
	Policy *q = NULL;
	if (policy_to_string(p, &s1) < 0)
		abort();
	if (policy_load_string(s1, "fuzz", &o, &q, &e) < 0) {
		fprintf(stderr, "canonical form does not load: %u:%u: %s\n%s\n", e.line, e.column,
			e.message, s1);
		abort();
	}
	if (policy_to_string(q, &s2) < 0)
		abort();
	char *a = strip_locations(s1), *b = strip_locations(s2);
	if (strcmp(a, b) != 0) {
		fprintf(stderr, "canonical form not stable:\n%s\n----\n%s\n", a, b);
		abort();
	}
	check_decisions(p);

	free(a);
	free(b);
	free(s1);
	free(s2);
	policy_free(q);
	policy_free(p);
	free(text);
	return 0;
}
