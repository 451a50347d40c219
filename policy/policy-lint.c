/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dead rules: a rule that an earlier rule covers never decides, which is almost always a
 * mistake in ordering (a narrow deny written after a broad allow). The test is
 * conservative: it reports a rule only when every selector of the earlier rule provably
 * matches whatever the later rule matches, so a warning is never wrong; some dead rules
 * (covered by a union of earlier rules) are not found.
 */
#include <inttypes.h>

#include "common/macro.h"
#include "common/util.h"
#include "policy/policy-internal.h"

#define LINT_MAX_RULES 4096

/* Appends a warning for line (covered by by_line; 0: none) to *w, of *n entries: the new
 * entry, whose message the caller writes, or NULL when out of memory (*w is then freed and
 * NULL). */
static PolicyWarning *warning_add(PolicyWarning **w, size_t *n, unsigned line, unsigned by_line) {
	PolicyWarning *x = reallocarray(*w, *n + 1, sizeof(PolicyWarning));
	if (!x) {
		free(*w);
		*w = NULL;
		return NULL;
	}
	*w = x;
	x[*n] = (PolicyWarning){ .line = line, .by_line = by_line };
	return &x[(*n)++];
}

static bool str_covers(const char *a, const char *b) {
	/* a (earlier) covers b when a is absent, or b tests the same attribute with the same
	 * pattern or a is "*". Even "*" needs the attribute to exist (a peer without a unit
	 * fails 'unit "*"'), so b must test it too. */
	return !a || (b && (streq(a, "*") || streq(a, b)));
}

static bool ident_covers(const IdentSel *a, const IdentSel *b) {
	if (a->any)
		return true;
	if (b->any)
		return false;
	if (a->has_uid && !(b->has_uid && b->uid == a->uid) &&
	    !(b->has_uid_range && b->uid_lo == a->uid && b->uid_hi == a->uid))
		return false;
	if (a->has_uid_range) {
		bool ok = (b->has_uid_range && b->uid_lo >= a->uid_lo && b->uid_hi <= a->uid_hi) ||
			  (b->has_uid && b->uid >= a->uid_lo && b->uid <= a->uid_hi);
		if (!ok)
			return false;
	}
	if (a->has_gid && !(b->has_gid && b->gid == a->gid))
		return false;
	return str_covers(a->unit, b->unit) && str_covers(a->user_unit, b->user_unit) &&
	       str_covers(a->cgroup, b->cgroup) && str_covers(a->label, b->label);
}

static bool dev_covers(const DevSel *a, const DevSel *b) {
	if (a->any)
		return true;
	if (b->any)
		return false;
	if (a->has_bdf && !(b->has_bdf && streq(a->bdf, b->bdf)))
		return false;
	if (a->vendor >= 0 && b->vendor != a->vendor)
		return false;
	if (a->device >= 0 && b->device != a->device)
		return false;
	if (a->subsystem_vendor >= 0 && b->subsystem_vendor != a->subsystem_vendor)
		return false;
	if (a->subsystem_device >= 0 && b->subsystem_device != a->subsystem_device)
		return false;
	/* b's class test fixes every bit a tests, to the same values. */
	if (a->has_class && !(b->has_class && (b->class_mask & a->class_mask) == a->class_mask &&
			      (b->class_value & a->class_mask) == a->class_value))
		return false;
	if (a->driver && !str_covers(a->driver, b->driver))
		return false;
	if (a->iommu_group >= 0 && b->iommu_group != a->iommu_group)
		return false;
	if (a->has_numa && !(b->has_numa && b->numa == a->numa))
		return false;
	if (a->prop_key && !(b->prop_key && streq(a->prop_key, b->prop_key) &&
			     str_covers(a->prop_glob, b->prop_glob)))
		return false;
	if (a->pool && !(b->pool && streq(a->pool, b->pool)))
		return false;
	return true;
}

int policy_lint(const Policy *p, PolicyWarning **ret, size_t *ret_n) {
	PolicyWarning *w = NULL;
	size_t n = 0;

	*ret = NULL;
	*ret_n = 0;
	if (p->n_rules > LINT_MAX_RULES)
		return 1;
	for (size_t j = 1; j < p->n_rules; j++) {
		const Rule *b = &p->rules[j];
		for (size_t i = 0; i < j; i++) {
			const Rule *a = &p->rules[i];
			if ((a->kind == RULE_ADMIN) != (b->kind == RULE_ADMIN))
				continue;
			if (!ident_covers(&a->id, &b->id) ||
			    (b->kind != RULE_ADMIN && !dev_covers(&a->dev, &b->dev)))
				continue;
			PolicyWarning *x = warning_add(&w, &n, b->line, a->line);
			if (!x)
				return -ENOMEM;
			snprintf(x->message, sizeof(x->message),
				 "Rule can never match: the %s rule on line %u matches everything "
				 "it matches",
				 a->kind == RULE_ALLOW  ? "allow"
				 : a->kind == RULE_DENY ? "deny"
							: "admin",
				 a->line);
			break;
		}
	}
	*ret = w;
	*ret_n = n;
	return 0;
}

int policy_lint_identity(const Policy *p, PolicyWarning **ret, size_t *ret_n) {
	PolicyWarning *w = NULL;
	size_t n = 0;

	*ret = NULL;
	*ret_n = 0;
	for (size_t i = 0; i < p->n_rules; i++) {
		const Rule *r = &p->rules[i];
		if (r->kind == RULE_DENY || !r->id.cgroup || r->id.has_uid || r->id.has_uid_range)
			continue;
		PolicyWarning *x = warning_add(&w, &n, r->line, 0);
		if (!x)
			return -ENOMEM;
		snprintf(x->message, sizeof(x->message),
			 "cgroup \"%.60s\" without 'user' or 'uid' is spoofable: a user names "
			 "every cgroup of a subtree delegated to them (below user@UID.service); "
			 "match system units with 'unit', or add 'user' or 'uid'",
			 r->id.cgroup);
	}
	*ret = w;
	*ret_n = n;
	return 0;
}

int policy_lint_layouts(const Policy *p, PolicyWarning **ret, size_t *ret_n) {
	PolicyWarning *w = NULL;
	size_t n = 0;

	*ret = NULL;
	*ret_n = 0;
	for (size_t i = 0; i < p->n_rules; i++) {
		const Rule *r = &p->rules[i];
		if (r->kind != RULE_ALLOW || !(r->grant.modes & POLICY_MODE_UNBOUND))
			continue;
		for (char **name = r->grant.layouts; name && *name; name++) {
			const PolicyLayout *l = policy_find_layout(p, *name);
			if (!policy_layout_needs_attached(l))
				continue;
			PolicyWarning *x = warning_add(&w, &n, r->line, 0);
			if (!x)
				return -ENOMEM;
			bool windows = policy_layout_has_windows(l);
			snprintf(x->message, sizeof(x->message),
				 "Layout '%.40s' granted with 'unbound': its %s%s%s cannot apply "
				 "there (the client allocates its own IOAS; only 'accounting' "
				 "applies)",
				 l->name, windows ? "IOVA windows" : "",
				 windows && !l->huge_pages ? " and " : "",
				 !l->huge_pages ? "'hugepages off'" : "");
		}
	}
	*ret = w;
	*ret_n = n;
	return 0;
}

int policy_lint_sizes(const Policy *p, PolicyWarning **ret, size_t *ret_n) {
	PolicyWarning *w = NULL;
	size_t n = 0;

	*ret = NULL;
	*ret_n = 0;
	for (size_t i = 0; i < p->n_rules; i++) {
		const Rule *r = &p->rules[i];
		uint64_t m = r->grant.memlock;
		if (r->kind != RULE_ALLOW || m == 0 || m >= POLICY_LINT_PAGE_SIZE)
			continue;
		PolicyWarning *x = warning_add(&w, &n, r->line, 0);
		if (!x)
			return -ENOMEM;
		snprintf(x->message, sizeof(x->message),
			 "memlock %" PRIu64 " is %" PRIu64 " bytes, less than a page: a number "
			 "without a suffix counts bytes (write %" PRIu64 "M, %" PRIu64
			 "GiB or %" PRIu64 "GB)",
			 m, m, m, m, m);
	}
	*ret = w;
	*ret_n = n;
	return 0;
}
