/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Internal structures shared by the policy parser (policy-parse.c), the evaluator and index
 * (policy-eval.c) and the canonical printer (policy-print.c). Not installed, not used
 * outside policy/.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "policy/policy.h"

/* Limits on what a file may contain: the file is trusted (root-owned) but a mistake must
 * not make the daemon allocate without bound. */
#define POLICY_MAX_FILE_SIZE (4u * 1024 * 1024)
#define POLICY_MAX_RULES 200000u
#define POLICY_MAX_TOKEN 4096u

/* The overflow uid/gid: what an unmapped user-namespace id looks like from outside. */
#define POLICY_NOBODY_ID 65534u

typedef enum RuleKind { RULE_ALLOW, RULE_DENY, RULE_ADMIN } RuleKind;

typedef struct IdentSel {
	bool any; /* '*' */
	bool has_uid;
	uid_t uid;
	char *user_name; /* as written, for messages and the canonical form */
	bool has_uid_range;
	uid_t uid_lo, uid_hi;
	bool has_gid;
	gid_t gid;
	char *group_name;
	char *unit;      /* fnmatch globs */
	char *user_unit; /* only with has_uid or has_uid_range (checked at parse) */
	unsigned user_unit_line, user_unit_col;
	char *cgroup;
	char *label;
} IdentSel;

typedef struct DevSel {
	bool any;
	bool has_bdf;
	char bdf[BDF_MAX];
	int vendor, device, subsystem_vendor, subsystem_device; /* -1 = not given */
	bool has_class;
	uint32_t class_value, class_mask;
	char *driver;    /* fnmatch glob */
	int iommu_group; /* -1 = not given */
	char *pool;
	size_t pool_index;
	unsigned pool_line, pool_col; /* where the reference was, for errors */
	bool has_numa;
	int numa;
	char *prop_key;
	char *prop_glob;
	char *vdpa; /* fnmatch glob on the vDPA device name; the rule then grants vDPA only */
} DevSel;

typedef struct Rule {
	RuleKind kind;
	unsigned line;
	IdentSel id;
	DevSel dev;
	PolicyGrant grant;
	unsigned *layout_pos; /* line,col pairs of each layout reference, for errors */
} Rule;

typedef struct Pool {
	char *name;
	unsigned line;
	DevSel sel;
} Pool;

/* Index: key -> increasing list of rule indices (see policy-eval.c). */
typedef struct IndexSlot {
	uint64_t key; /* 0 = empty */
	uint32_t *idx;
	size_t n, cap;
} IndexSlot;

typedef struct RuleIndex {
	IndexSlot *slots;
	size_t n_slots; /* power of two */
	uint32_t *ident_generic;
	size_t n_ident_generic, cap_ident_generic;
	uint32_t *dev_generic;
	size_t n_dev_generic, cap_dev_generic;
} RuleIndex;

struct Policy {
	char *name; /* file name used in messages and decisions */
	uint64_t generation;
	PolicySettings settings;
	Pool *pools;
	size_t n_pools;
	PolicyLayout *layouts;
	size_t n_layouts;
	Rule *rules;
	size_t n_rules, cap_rules;
	size_t n_admin;
	RuleIndex index;
};

/* policy-eval.c */
int policy_index_build(Policy *p);
void policy_index_free(RuleIndex *ix);
/* The first allow/deny rule matching req by a plain scan of every rule, or -1. The index
 * must always agree with it (tested). */
ssize_t policy_first_match_scan(const Policy *p, const PolicyRequest *req);
/* The same through the index. */
ssize_t policy_first_match(const Policy *p, const PolicyRequest *req);
bool policy_devsel_match(const Policy *p, const DevSel *s, const Device *d, char *why,
			 size_t why_len, unsigned *n_failed, bool count_all);

/* policy-print.c */
int policy_rule_format(const Policy *p, const Rule *r, char *buf, size_t len);
void policy_devsel_format(const Policy *p, const DevSel *s, FILE *f);
