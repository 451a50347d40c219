/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The policy engine: a pure library. It reads only the file it is given (and resolves user
 * and group names through the resolver in PolicyLoadOptions, at load). The daemon and
 * `ioasidctl policy` call the same policy_evaluate().
 *
 * Semantics: rules are evaluated in file order, the first rule whose identity selectors and
 * device selectors all match decides; when none matches the answer is deny ("default
 * deny"). Any error while deciding is a deny.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/host.h"
#include "common/kernel.h"

typedef struct Policy Policy;

/* Who is asking: taken by the daemon once, at accept, from the socket (never from the
 * message). Unknown fields are -1 / NULL; rules that need them then fail to match. */
typedef struct PolicyPeer {
	uid_t uid;           /* (uid_t)-1 when unknown */
	gid_t gid;           /* (gid_t)-1 when unknown */
	const gid_t *groups; /* supplementary groups */
	size_t n_groups;
	pid_t pid;             /* 0 when unknown (e.g. a peer in another pid namespace) */
	bool have_pidfd;       /* identity pinned through SO_PEERPIDFD; unit, user-unit and
				* cgroup selectors never match without it */
	const char *unit;      /* system unit derived from the cgroup (cgroup_identity_from_path:
				* user@UID.service for anything a user manager runs), or NULL */
	const char *user_unit; /* unit inside a user manager or session (named by that user),
				* or NULL */
	const char *cgroup;    /* cgroup path, raw: below a delegated subtree a user names it */
	bool cgroup_hidden;    /* the daemon could not read the cgroup: /proc hides the peer */
	const char *label;     /* SELinux context (SO_PEERSEC), or NULL */
} PolicyPeer;

typedef enum PolicyMode {
	POLICY_MODE_ATTACHED = 1 << 0,
	POLICY_MODE_UNBOUND = 1 << 1,
	/* A vDPA device's /dev/vhost-vdpa-N (QEMU's -netdev vhost-vdpa,vhostdevfd=N): only on
	 * rules with a 'vdpa' selector, and the default there. */
	POLICY_MODE_VHOST_VDPA = 1 << 2,
} PolicyMode;

typedef enum PolicyGroupMode {
	POLICY_GROUP_WHOLE,    /* the grantee must take, and gets, the whole group */
	POLICY_GROUP_IMPLICIT, /* one device; the others are reported at risk */
} PolicyGroupMode;

typedef enum PolicyLifetime {
	POLICY_LIFETIME_CONNECTION,
	POLICY_LIFETIME_PROCESS,
} PolicyLifetime;

typedef enum PolicyOnRevoke {
	POLICY_REVOKE_DETACH,
	POLICY_REVOKE_DETACH_RESET,
	POLICY_REVOKE_SIGNAL,
} PolicyOnRevoke;

/* What an allow rule grants. */
typedef struct PolicyGrant {
	unsigned modes;       /* PolicyMode bits */
	char **layouts;       /* allowed layout names (strv); NULL = only the default (none) */
	unsigned max_devices; /* per lease; 0 = unlimited */
	unsigned max_leases;  /* concurrent leases per peer uid; 0 = unlimited */
	uint64_t memlock;     /* bytes to raise RLIMIT_MEMLOCK to; 0 = leave alone */
	PolicyGroupMode group_mode;
	PolicyLifetime lifetime;
	PolicyOnRevoke on_revoke;
	/* Dependent devices (common/depend.h) may go to different owners: share_reset lets
	 * devices that share a reset, split_sriov a PF and its VFs. Both default to no; a split
	 * needs it from the grant of every owner involved. */
	bool share_reset;
	bool split_sriov;
} PolicyGrant;

typedef enum PolicyAccounting {
	POLICY_ACCOUNTING_USER,    /* the kernel default */
	POLICY_ACCOUNTING_PROCESS, /* IOMMU_OPTION_RLIMIT_MODE = 1 */
} PolicyAccounting;

typedef struct PolicyLayout {
	char *name;
	IovaRange *windows; /* allowed IOVA windows, sorted, non-overlapping */
	size_t n_windows;
	/* `iova auto [max ADDR]`: no windows written; they are everything the IOMMU allows
	 * (its address width, and iova_max when given) minus the reserved regions of the
	 * devices' groups, resolved per request by policy_layout_windows(). */
	bool iova_auto;
	uint64_t iova_max; /* UINT64_MAX: no cap */
	PolicyAccounting accounting;
	bool huge_pages; /* IOMMU_OPTION_HUGE_PAGES */
	char **require;  /* required capabilities, e.g. "dirty-tracking" (strv) */
	const char *file;
	unsigned line;
} PolicyLayout;

/* Daemon settings from the file. */
typedef struct PolicySettings {
	char *socket_group; /* group owning the socket; NULL = root only */
	bool allow_noiommu; /* hand out noiommu devices (default false) */
	unsigned max_connections_per_uid;
	unsigned idle_timeout_sec;
	unsigned stage_timeout_sec; /* a staged context expires after this (default 600) */
} PolicySettings;

typedef struct PolicyRequest {
	const PolicyPeer *peer;
	const Host *host; /* for pools and group facts */
	/* The PCI function asked for; for a vDPA request (vdpa set) its parent, NULL for a
	 * software vDPA device. A vDPA request is matched only by rules with a 'vdpa' selector
	 * (their other device selectors then apply to the parent), a PCI request only by rules
	 * without one. */
	const Device *device;
	const VdpaDevice *vdpa;
	unsigned mode;      /* the PolicyMode wanted */
	const char *layout; /* wanted layout or NULL */
	const char *method; /* "io.ioasid.Broker.Acquire", for audit */
} PolicyRequest;

typedef struct PolicyDecision {
	bool allow;
	const char *file; /* deciding rule's file; NULL for the default deny */
	unsigned line;    /* deciding rule's line; 0 for the default deny */
	uint64_t generation;
	PolicyGrant grant; /* valid when allow; pointers borrowed from the Policy */
	char reason[256];  /* "no rule matched", "rule denies", "mode 'unbound' not granted" */
} PolicyDecision;

typedef struct PolicyResolver {
	int (*user)(const char *name, uid_t *ret, void *userdata);
	int (*group)(const char *name, gid_t *ret, void *userdata);
	void *userdata;
} PolicyResolver;

typedef struct PolicyLoadOptions {
	const PolicyResolver *resolver; /* NULL = getpwnam_r/getgrnam_r */
	bool check_owner;               /* the daemon's rules: trusted_path_open() (common/
					 * trusted-path.h) opens the file, else any regular
					 * file is read (a draft) */
	uint64_t generation;            /* stamped on every decision */
} PolicyLoadOptions;

typedef struct PolicyError {
	char *file;
	unsigned line, column;
	char *message;
} PolicyError;
void policy_error_done(PolicyError *e);

/* policy_load: parses and resolves path. Any parse error invalidates the whole file:
 * returns -EINVAL and fills *ret_error (file:line:col, message). Load-time errors include
 * unknown names, duplicate settings/attributes/pools/layouts, a rule identical to an
 * earlier one, and any rule naming uid/gid 65534. With check_owner, the path is refused as
 * trusted_path_open() refuses it (-EPERM: an owner or mode others could use on the file, a
 * directory on its resolved path or a symlink; -EINVAL: not a regular file; -ELOOP), the
 * message naming the component. Without it, anything but a regular file is refused (-EINVAL)
 * before it is opened. -EFBIG beyond 4 MiB; -errno when it cannot be read. */
int policy_load(const char *path, const PolicyLoadOptions *opts, Policy **ret,
		PolicyError *ret_error);
int policy_load_string(const char *text, const char *name, const PolicyLoadOptions *opts,
		       Policy **ret, PolicyError *ret_error);
Policy *policy_free(Policy *p);
static inline void policy_freep(Policy **p) {
	if (*p)
		policy_free(*p);
}
#define _cleanup_policy_free_ _cleanup_(policy_freep)

uint64_t policy_generation(const Policy *p);
const PolicySettings *policy_settings(const Policy *p);

/* policy_evaluate: first match wins, default deny. Always fills *ret (fail closed).
 *   - a noiommu device is denied before any rule unless allow-noiommu is set;
 *   - a peer with uid 65534 matches no rule;
 *   - the first rule whose selectors match decides; if it is an allow rule that does not
 *     grant req->mode or req->layout, the answer is a deny naming that rule
 *     ("mode 'unbound' not granted by rule at FILE:LINE");
 *   - req->mode 0 means "no particular mode" (e.g. listing) and skips the mode check;
 *     req->layout NULL skips the layout check.
 * Returns 0, or -EINVAL for a malformed request (NULL peer/device, unknown mode bits),
 * which is also a deny. */
int policy_evaluate(const Policy *p, const PolicyRequest *req, PolicyDecision *ret);
/* policy_is_admin: may this peer call io.ioasid.Manager? */
bool policy_is_admin(const Policy *p, const PolicyPeer *peer, PolicyDecision *ret);

const PolicyLayout *policy_find_layout(const Policy *p, const char *name);
size_t policy_n_layouts(const Policy *p);
const PolicyLayout *policy_layout_at(const Policy *p, size_t i);

/*
 * policy_layout_windows: the IOVA windows layout l gives an IOAS the devices (with their
 * IOMMU groups in host) are attached to. Written windows are returned as they are. For
 * `iova auto` they are [0, top] minus every reserved region (except direct-relaxable) of
 * the devices' groups, each widened to whole pages, where top is the lowest of iova_max
 * (rounded down to a page end), the IOMMU's highest IOVA (host->kernel.address_width,
 * when known) and 2^64 - 1; a device without a known group adds nothing.
 * page_size: a power of two.
 *
 * Returns 0 with *ret (malloc'd, NULL when there are none) and *ret_n; -EINVAL for a page
 * size that is not a power of two, -ENOMEM.
 */
int policy_layout_windows(const PolicyLayout *l, const Host *host, const Device *const *devices,
			  size_t n_devices, uint64_t page_size, IovaRange **ret, size_t *ret_n);

/* Whether the daemon applies IOVA windows for l in attached mode: written windows, or
 * `iova auto max ADDR` (plain `iova auto` is the kernel's own limit: nothing to apply). */
bool policy_layout_has_windows(const PolicyLayout *l);

/* Settings of l that only an IOAS the daemon allocates (attached mode) can carry: IOVA
 * windows and hugepages off. In unbound mode the client allocates its own IOAS. */
bool policy_layout_needs_attached(const PolicyLayout *l);
/* Does the device belong to pool `name`? -ENOENT when there is no such pool. */
int policy_pool_match(const Policy *p, const char *name, const Host *h, const Device *d);

/* The canonical form of the whole policy (what `ioasidctl policy show` prints). */
int policy_to_string(const Policy *p, char **ret);

/*
 * Explain support (`ioasidctl policy explain`). policy_explain() decides exactly like
 * policy_evaluate() (same *ret) and also describes the rules involved:
 *   - decided_by: the canonical text of the deciding rule ("" for the default deny);
 *   - for a deny, the nearest allow rule: the one with the fewest failing selectors (the
 *     first in file order on a tie), with the first failing selector in `why`
 *     ("user: peer uid 1001 is not alice (1000)"). An allow rule that matches fully but
 *     comes after the deciding deny rule is reported with n_failed 0 and why naming the
 *     shadowing rule. have_nearest is false when the policy has no allow rule.
 * Returns 0, or -ENOMEM (then *ret is still a deny).
 */
typedef struct PolicyExplanation {
	char decided_by[512];
	bool have_nearest;
	const char *nearest_file;
	unsigned nearest_line;
	unsigned nearest_failed; /* number of selectors (and grant checks) that failed */
	char nearest_rule[512];  /* canonical text of the nearest rule */
	char why[256];
} PolicyExplanation;
int policy_explain(const Policy *p, const PolicyRequest *req, PolicyDecision *ret,
		   PolicyExplanation *ret_explanation);

/*
 * policy_lint: rules that can never decide anything because an earlier rule matches every
 * request they match (a conservative test: selector by selector, equal values, wider uid
 * ranges and class masks, '*' and 'any'). Admin rules are compared with admin rules only.
 * Returns a malloc'd array (free() it; NULL when empty) and its length; -ENOMEM. Policies
 * with more than 4096 rules are not linted (the test is quadratic): *ret_n is then 0 and
 * the return value is 1.
 */
typedef struct PolicyWarning {
	unsigned line;    /* the dead rule */
	unsigned by_line; /* the earlier rule that covers it; 0 for policy_lint_identity() */
	char message[256];
} PolicyWarning;
int policy_lint(const Policy *p, PolicyWarning **ret, size_t *ret_n);

/*
 * policy_describe_process_accounting: the layouts with `accounting process`, which the daemon
 * can only apply holding CAP_SYS_RESOURCE, and the rules that grant each, for a human:
 * "'vm' (FILE:3; granted by the rules at lines 7, 9)", "'x' (FILE:4; granted by no rule)",
 * joined by "; ". Returns how many such layouts there are (*ret NULL when none), -ENOMEM.
 */
int policy_describe_process_accounting(const Policy *p, char **ret);

/*
 * policy_lint_identity: allow and admin rules that trust a name a local user can choose: a
 * 'cgroup' glob without a 'user' or 'uid' selector. The cgroup path is raw; below
 * user@UID.service, or any other subtree delegated to a user, that user names every
 * cgroup, so such a glob matches whatever the user decides to match it (use 'unit' for
 * system units, or name the uid). One warning per rule, by_line 0. Returns 0 with a
 * malloc'd array (NULL when empty) and its length, or -ENOMEM.
 */
int policy_lint_identity(const Policy *p, PolicyWarning **ret, size_t *ret_n);

/*
 * policy_lint_layouts: allow rules that grant mode unbound with a layout whose IOVA windows
 * or `hugepages off` cannot apply there (policy_layout_needs_attached()): in unbound mode the
 * client allocates its own IOAS, and only the accounting of the iommufd applies. One warning
 * per rule and layout, by_line 0. Same returns as policy_lint_identity().
 */
int policy_lint_layouts(const Policy *p, PolicyWarning **ret, size_t *ret_n);

/*
 * policy_lint_sizes: allow rules whose memlock is more than 0 but less than a page
 * (POLICY_LINT_PAGE_SIZE, the smallest page of the architectures ioasid runs on): a
 * number without a suffix counts bytes, and "memlock 64" almost always meant 64M or 64G.
 * One warning per rule, by_line 0. Same returns as policy_lint_identity().
 */
#define POLICY_LINT_PAGE_SIZE 4096
int policy_lint_sizes(const Policy *p, PolicyWarning **ret, size_t *ret_n);

/* Counts of what was loaded (for `policy check` and tests). */
size_t policy_n_rules(const Policy *p); /* allow + deny rules */
size_t policy_n_admin(const Policy *p); /* admin rules */
size_t policy_n_pools(const Policy *p);
/* Rule i (0 <= i < policy_n_rules() + policy_n_admin(), file order, admin rules included)
 * in canonical form (malloc'd) and its line. -ENOENT past the end, -ENOMEM. */
int policy_rule_to_string(const Policy *p, size_t i, unsigned *ret_line, char **ret);
const char *policy_pool_name_at(const Policy *p, size_t i);

/* Names for the enums, as the file spells them, one table each (policy-print.c): the parser,
 * the daemon and the CLI use these. _to_string: NULL for a value out of range; _from_string:
 * the value, or -EINVAL for a name that is none of them. */
const char *policy_mode_to_string(PolicyMode m); /* "attached", "unbound", "vhost-vdpa" */
int policy_mode_from_string(const char *s);
const char *policy_group_mode_to_string(PolicyGroupMode m); /* "whole", "implicit" */
int policy_group_mode_from_string(const char *s);
const char *policy_lifetime_to_string(PolicyLifetime l); /* "connection", "process" */
int policy_lifetime_from_string(const char *s);
const char *policy_on_revoke_to_string(PolicyOnRevoke r); /* "detach", "detach+reset", ... */
int policy_on_revoke_from_string(const char *s);
const char *policy_accounting_to_string(PolicyAccounting a); /* "user", "process" */
int policy_accounting_from_string(const char *s);
