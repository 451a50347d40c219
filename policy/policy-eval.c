/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Evaluation: first match wins, default deny, any error denies.
 *
 * The index keeps evaluation cheap with many rules without changing first-match semantics.
 * Each allow/deny rule is filed under one identity key (its uid if it names a user, else
 * its gid if it names a group, else its unit if it names one without glob characters, else
 * the identity-generic list) and under one device key
 * (its BDF, else its vendor, else the device-generic list). A rule can only match a
 * request if it sits in one of the identity lists the peer selects (its uid, its gids,
 * generic) AND in one of the device lists the device selects (its BDF, its vendor,
 * generic). We take whichever side yields fewer candidates, merge its sorted lists in rule
 * order and run the full match on each candidate: the first candidate that matches is the
 * first rule in the file that matches, because every skipped rule provably cannot.
 */
#include <assert.h>
#include <fnmatch.h>
#include <limits.h>
#include <inttypes.h>
#include <stdarg.h>

#include "common/macro.h"
#include "common/util.h"
#include "policy/policy-internal.h"

enum { KEY_UID = 1, KEY_GID = 2, KEY_BDF = 3, KEY_VENDOR = 4, KEY_UNIT = 5 };

/* Units named exactly (no glob characters) are indexed by a hash of the name; a collision
 * only adds a candidate, which the full match then rejects. */
static uint32_t str_hash(const char *s) {
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static bool is_literal(const char *glob) {
	return !strpbrk(glob, "*?[\\");
}

/* kind above 48 bits of value: a packed BDF takes 48 (a 32-bit domain), ids and hashes 32. */
static uint64_t make_key(unsigned kind, uint64_t value) {
	return ((uint64_t)kind << 48) | (value & ((UINT64_C(1) << 48) - 1));
}

static unsigned hex_digit(char c) {
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

/* Every Acquire packs its devices' BDFs into domain << 16 | bus << 8 | slot << 3 | fn: a
 * canonical one ("dddd:bb:dd.f" with 4 to 8 domain digits, what the host model holds) is read
 * in place, anything else the way it always was. Distinct canonical BDFs pack distinctly;
 * the index only narrows the candidates, a rule's bdf is still compared in full. */
static uint64_t bdf_pack(const char *bdf) {
	if (bdf_is_canonical(bdf)) {
		uint64_t v = 0; /* at most 13 digits: 52 bits */
		for (const char *p = bdf; *p; p++)
			if (*p != ':' && *p != '.')
				v = (v << 4) | hex_digit(*p);
		/* v is 0x<domain>bbssf with ss the two device digits: re-pack the slot/function. */
		unsigned slot = (unsigned)(v >> 4) & 0xff, fn = (unsigned)v & 0xf;
		return ((v >> 12) << 8) | slot << 3 | fn;
	}
	unsigned d = 0, b = 0, s = 0, f = 0;
	if (sscanf(bdf, "%8x:%2x:%2x.%1x", &d, &b, &s, &f) != 4)
		return (UINT64_C(1) << 48) - 1; /* a key like any other: the full compare decides */
	return ((uint64_t)d << 16) | (b << 8) | (s << 3) | f;
}

static uint64_t hash_key(uint64_t k) {
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

static IndexSlot *index_slot(const RuleIndex *ix, uint64_t key, bool insert) {
	if (!ix->slots)
		return NULL;
	size_t mask = ix->n_slots - 1;
	for (size_t i = hash_key(key) & mask;; i = (i + 1) & mask) {
		IndexSlot *s = &ix->slots[i];
		if (s->key == key)
			return s;
		if (s->key == 0) {
			if (!insert)
				return NULL;
			s->key = key;
			return s;
		}
	}
}

static int list_push(uint32_t **l, size_t *n, size_t *cap, uint32_t v) {
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 4;
		uint32_t *x = reallocarray(*l, c, sizeof(uint32_t));
		if (!x)
			return -ENOMEM;
		*l = x;
		*cap = c;
	}
	(*l)[(*n)++] = v;
	return 0;
}

void policy_index_free(RuleIndex *ix) {
	for (size_t i = 0; ix->slots && i < ix->n_slots; i++)
		free(ix->slots[i].idx);
	free(ix->slots);
	free(ix->ident_generic);
	free(ix->dev_generic);
	*ix = (RuleIndex){};
}

int policy_index_build(Policy *p) {
	RuleIndex *ix = &p->index;
	size_t n = 16;
	int r;

	/* Two keys per rule at most; keep the table at most half full. */
	while (n < 4 * p->n_rules + 16)
		n *= 2;
	ix->slots = calloc(n, sizeof(IndexSlot));
	if (!ix->slots)
		return -ENOMEM;
	ix->n_slots = n;

	for (size_t i = 0; i < p->n_rules; i++) {
		const Rule *rule = &p->rules[i];
		IndexSlot *s;
		if (rule->kind == RULE_ADMIN)
			continue;
		if (rule->id.has_uid || rule->id.has_gid ||
		    (rule->id.unit && is_literal(rule->id.unit))) {
			uint64_t key = rule->id.has_uid ? make_key(KEY_UID, rule->id.uid)
				       : rule->id.has_gid
					       ? make_key(KEY_GID, rule->id.gid)
					       : make_key(KEY_UNIT, str_hash(rule->id.unit));
			s = index_slot(ix, key, true);
			r = list_push(&s->idx, &s->n, &s->cap, (uint32_t)i);
		} else
			r = list_push(&ix->ident_generic, &ix->n_ident_generic,
				      &ix->cap_ident_generic, (uint32_t)i);
		if (r < 0)
			return r;
		if (rule->dev.has_bdf || rule->dev.vendor >= 0) {
			s = index_slot(ix,
				       rule->dev.has_bdf
					       ? make_key(KEY_BDF, bdf_pack(rule->dev.bdf))
					       : make_key(KEY_VENDOR, (uint32_t)rule->dev.vendor),
				       true);
			r = list_push(&s->idx, &s->n, &s->cap, (uint32_t)i);
		} else
			r = list_push(&ix->dev_generic, &ix->n_dev_generic, &ix->cap_dev_generic,
				      (uint32_t)i);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------------------------------- */
/* Matching. Each check returns the number of failed selectors and describes the first one
 * in `why`; with count_all false it stops at the first failure. */

typedef struct Checker {
	char *why;
	size_t why_len;
	unsigned n_failed;
	bool count_all;
} Checker;

static bool fail(Checker *c, const char *fmt, ...) _printf_(2, 3);
/* Records a failure; returns true when the caller should stop checking. */
static bool fail(Checker *c, const char *fmt, ...) {
	if (c->n_failed == 0 && c->why && c->why_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->why, c->why_len, fmt, ap);
		va_end(ap);
	}
	c->n_failed++;
	return !c->count_all;
}

#define CGROUP_HIDDEN_NOTE                                                                         \
	"the peer's cgroup is hidden from the daemon by /proc hidepid, so no unit, user-unit or "  \
	"cgroup rule could match"

/* Does an allow (kind RULE_ALLOW) or admin rule test the cgroup or a unit? Only asked on the
 * way to a refusal of a peer whose cgroup was hidden, to say why. */
static bool uses_cgroup(const Policy *p, RuleKind kind) {
	for (size_t i = 0; i < p->n_rules; i++) {
		const IdentSel *s = &p->rules[i].id;
		if (p->rules[i].kind == kind && (s->unit || s->user_unit || s->cgroup))
			return true;
	}
	return false;
}

static bool peer_in_group(const PolicyPeer *peer, gid_t gid) {
	if (peer->gid == gid)
		return true;
	for (size_t i = 0; i < peer->n_groups; i++)
		if (peer->groups && peer->groups[i] == gid)
			return true;
	return false;
}

/* A uid or gid as text: unsigned (4294967294 is an id, not -2), "unknown" for -1. */
static const char *id_text(uint32_t v, char buf[static 16]) {
	if (v == UINT32_MAX)
		return "unknown";
	snprintf(buf, 16, "%u", (unsigned)v);
	return buf;
}

static void ident_check(const IdentSel *s, const PolicyPeer *peer, Checker *c) {
	if (!peer) {
		fail(c, "peer: unknown");
		return;
	}
	/* An unmapped user-namespace id is nobody in particular: never match it. */
	if (peer->uid == POLICY_NOBODY_ID) {
		fail(c, "peer: uid 65534 (nobody, an unmapped user-namespace id) never matches");
		return;
	}
	if (s->any)
		return;
	if (s->has_uid) {
		if (peer->uid == (uid_t)-1) {
			if (fail(c, "user: peer uid is unknown"))
				return;
		} else if (peer->uid != s->uid) {
			if (fail(c, "user: peer uid %u is not %s (%u)", (unsigned)peer->uid,
				 s->user_name, (unsigned)s->uid))
				return;
		}
	}
	char id[16];
	if (s->has_uid_range &&
	    (peer->uid == (uid_t)-1 || peer->uid < s->uid_lo || peer->uid > s->uid_hi)) {
		if (fail(c, "uid: peer uid %s is not in %u-%u", id_text(peer->uid, id),
			 (unsigned)s->uid_lo, (unsigned)s->uid_hi))
			return;
	}
	if (s->has_gid && !peer_in_group(peer, s->gid)) {
		if (fail(c, "group: peer (gid %s) is not in group %s (%u)", id_text(peer->gid, id),
			 s->group_name, (unsigned)s->gid))
			return;
	}
	/* unit, user-unit and cgroup come from /proc/PID: only a pidfd proves PID still is
	 * the peer. Without one these selectors fail closed (A8), whatever the caller filled
	 * in. */
	if ((s->unit || s->user_unit || s->cgroup) && !peer->have_pidfd) {
		if (fail(c, "%s: peer identity is not pinned by a pidfd",
			 s->unit        ? "unit"
			 : s->user_unit ? "user-unit"
					: "cgroup"))
			return;
	} else if ((s->unit || s->user_unit || s->cgroup) && peer->cgroup_hidden) {
		if (fail(c, "%s: the peer's cgroup is hidden from the daemon (/proc hidepid)",
			 s->unit        ? "unit"
			 : s->user_unit ? "user-unit"
					: "cgroup"))
			return;
	} else {
		if (s->unit) {
			if (!peer->unit) {
				if (fail(c, "unit: peer has no system unit"))
					return;
			} else if (fnmatch(s->unit, peer->unit, 0) != 0) {
				if (fail(c, "unit: peer's system unit '%s' does not match '%s'",
					 peer->unit, s->unit))
					return;
			}
		}
		if (s->user_unit) {
			if (!peer->user_unit) {
				if (fail(c, "user-unit: peer is in no unit of a user manager"))
					return;
			} else if (fnmatch(s->user_unit, peer->user_unit, 0) != 0) {
				if (fail(c, "user-unit: peer's user unit '%s' does not match '%s'",
					 peer->user_unit, s->user_unit))
					return;
			}
		}
	}
	if (s->cgroup && peer->have_pidfd) {
		if (!peer->cgroup) {
			if (fail(c, "cgroup: peer cgroup is unknown"))
				return;
		} else if (fnmatch(s->cgroup, peer->cgroup, 0) != 0) {
			if (fail(c, "cgroup: peer cgroup '%s' does not match '%s'", peer->cgroup,
				 s->cgroup))
				return;
		}
	}
	if (s->label) {
		if (!peer->label) {
			if (fail(c, "label: peer has no security label"))
				return;
		} else if (fnmatch(s->label, peer->label, 0) != 0) {
			if (fail(c, "label: peer label '%s' does not match '%s'", peer->label,
				 s->label))
				return;
		}
	}
}

static const char *device_property(const Device *d, const char *key) {
	size_t n = strlen(key);
	for (char **p = d->properties; p && *p; p++)
		if (strneq(*p, key, n) && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

/* What a rule's 'vdpa' selector says of a request: a vDPA request needs one that matches
 * its name, a PCI request none. False when the rest of the check has nothing to look at (a
 * software vDPA device with no PCI function, a mismatch that stops the check). */
static bool vdpa_check(const DevSel *s, const VdpaDevice *v, const Device *d, Checker *c) {
	if (!v) {
		if (s->vdpa && fail(c, "vdpa: the device is a PCI function, not a vDPA device"))
			return false;
		return true;
	}
	if (!s->vdpa) {
		fail(c, "vdpa: %s is a vDPA device and the rule has no 'vdpa' selector", v->name);
		return false;
	}
	if (fnmatch(s->vdpa, v->name, 0) != 0 &&
	    fail(c, "vdpa: vDPA device '%s' does not match '%s'", v->name, s->vdpa))
		return false;
	if (!d) {
		/* A software vDPA device: any selector of a PCI function fails. */
		bool pci = s->has_bdf || s->vendor >= 0 || s->device >= 0 ||
			   s->subsystem_vendor >= 0 || s->subsystem_device >= 0 || s->has_class ||
			   s->driver || s->iommu_group >= 0 || s->has_numa || s->prop_key ||
			   s->pool;
		if (pci)
			fail(c, "device: vDPA device '%s' has no PCI function", v->name);
		return false;
	}
	return true;
}

static void devsel_check_vdpa(const Policy *p, const DevSel *s, const Device *d,
			      const VdpaDevice *v, Checker *c);

static void devsel_check(const Policy *p, const DevSel *s, const Device *d, Checker *c) {
	devsel_check_vdpa(p, s, d, NULL, c);
}

static void devsel_check_vdpa(const Policy *p, const DevSel *s, const Device *d,
			      const VdpaDevice *vd, Checker *c) {
	if (!vdpa_check(s, vd, d, c))
		return;
	if (!d) {
		fail(c, "device: unknown");
		return;
	}
	if (s->any)
		return;
	if (s->has_bdf && !streq(s->bdf, d->bdf))
		if (fail(c, "bdf: device is %s, not %s", d->bdf, s->bdf))
			return;
	if (s->vendor >= 0 && d->vendor != s->vendor)
		if (fail(c, "vendor: device vendor is %04x, not %04x", d->vendor, s->vendor))
			return;
	if (s->device >= 0 && d->device != s->device)
		if (fail(c, "device: device id is %04x, not %04x", d->device, s->device))
			return;
	if (s->subsystem_vendor >= 0 && d->subsystem_vendor != s->subsystem_vendor)
		if (fail(c, "subsystem-vendor: device has %04x, not %04x", d->subsystem_vendor,
			 s->subsystem_vendor))
			return;
	if (s->subsystem_device >= 0 && d->subsystem_device != s->subsystem_device)
		if (fail(c, "subsystem-device: device has %04x, not %04x", d->subsystem_device,
			 s->subsystem_device))
			return;
	if (s->has_class && (d->class & s->class_mask) != s->class_value)
		if (fail(c, "class: device class %06x does not match %06x/%06x", d->class,
			 s->class_value, s->class_mask))
			return;
	if (s->driver) {
		if (!d->driver) {
			if (fail(c, "driver: device has no driver"))
				return;
		} else if (fnmatch(s->driver, d->driver, 0) != 0) {
			if (fail(c, "driver: device driver '%s' does not match '%s'", d->driver,
				 s->driver))
				return;
		}
	}
	if (s->iommu_group >= 0 && d->iommu_group != s->iommu_group) {
		if (d->iommu_group < 0) {
			if (fail(c, "iommu-group: device has no IOMMU group"))
				return;
		} else if (fail(c, "iommu-group: device is in group %d, not %d", d->iommu_group,
				s->iommu_group))
			return;
	}
	if (s->has_numa && d->numa_node != s->numa)
		if (fail(c, "numa: device is on node %d, not %d", d->numa_node, s->numa))
			return;
	if (s->prop_key) {
		const char *v = device_property(d, s->prop_key);
		if (!v) {
			if (fail(c, "property: device has no %s", s->prop_key))
				return;
		} else if (fnmatch(s->prop_glob, v, 0) != 0) {
			if (fail(c, "property: %s='%s' does not match '%s'", s->prop_key, v,
				 s->prop_glob))
				return;
		}
	}
	if (s->pool) {
		char sub[160] = "";
		Checker pc = { sub, sizeof(sub), 0, false };
		devsel_check(p, &p->pools[s->pool_index].sel, d, &pc);
		if (pc.n_failed)
			if (fail(c, "pool: device is not in pool '%s' (%s)", s->pool, sub))
				return;
	}
}

bool policy_devsel_match(const Policy *p, const DevSel *s, const Device *d, char *why,
			 size_t why_len, unsigned *n_failed, bool count_all) {
	Checker c = { why, why_len, 0, count_all };
	devsel_check(p, s, d, &c);
	if (n_failed)
		*n_failed = c.n_failed;
	return c.n_failed == 0;
}

static unsigned rule_check(const Policy *p, const Rule *rule, const PolicyRequest *req, char *why,
			   size_t why_len, bool count_all) {
	Checker c = { why, why_len, 0, count_all };
	ident_check(&rule->id, req->peer, &c);
	if (c.n_failed && !count_all)
		return c.n_failed;
	devsel_check_vdpa(p, &rule->dev, req->device, req->vdpa, &c);
	return c.n_failed;
}

/* Grant checks of a matching allow rule: the rule decides either way (first match). */
static unsigned grant_check(const Policy *p, const Rule *rule, const PolicyRequest *req, char *why,
			    size_t why_len) {
	Checker c = { why, why_len, 0, true };
	unsigned missing = req->mode & ~rule->grant.modes;
	if (missing)
		fail(&c, "mode '%s' not granted by rule at %s:%u",
		     (missing & POLICY_MODE_VHOST_VDPA) ? "vhost-vdpa"
		     : (missing & POLICY_MODE_UNBOUND)  ? "unbound"
							: "attached",
		     p->name, rule->line);
	if (req->layout && !strv_contains(rule->grant.layouts, req->layout))
		fail(&c, "layout '%s' not granted by rule at %s:%u", req->layout, p->name,
		     rule->line);
	return c.n_failed;
}

/* ------------------------------------------------------------------------------------- */
/* Candidate iteration */

#define MAX_LISTS 72

typedef struct Cursor {
	const uint32_t *l;
	size_t n, pos;
} Cursor;

static size_t add_list(Cursor *cur, size_t k, const uint32_t *l, size_t n) {
	if (n == 0 || k >= MAX_LISTS)
		return k;
	cur[k] = (Cursor){ l, n, 0 };
	return k + 1;
}

static size_t add_key(const RuleIndex *ix, Cursor *cur, size_t k, uint64_t key) {
	const IndexSlot *s = index_slot(ix, key, false);
	return s ? add_list(cur, k, s->idx, s->n) : k;
}

static size_t total(const Cursor *cur, size_t k) {
	size_t t = 0;
	for (size_t i = 0; i < k; i++)
		t += cur[i].n;
	return t;
}

/* Index of the first allow/deny rule matching req, or -1. */
ssize_t policy_first_match(const Policy *p, const PolicyRequest *req) {
	const RuleIndex *ix = &p->index;
	const PolicyPeer *peer = req->peer;
	const Device *d = req->device;
	Cursor ic[MAX_LISTS], dc[3], *cur;
	size_t ki = 0, kd = 0, k;
	bool exact = true;

	if (peer->uid == POLICY_NOBODY_ID)
		return -1;
	if (peer->uid != (uid_t)-1)
		ki = add_key(ix, ic, ki, make_key(KEY_UID, peer->uid));
	if (peer->gid != (gid_t)-1)
		ki = add_key(ix, ic, ki, make_key(KEY_GID, peer->gid));
	for (size_t i = 0; i < peer->n_groups && peer->groups; i++) {
		if (ki >= MAX_LISTS - 2) {
			/* More groups than lists: fall back to the device side or a scan. */
			exact = false;
			break;
		}
		if (peer->groups[i] != peer->gid)
			ki = add_key(ix, ic, ki, make_key(KEY_GID, peer->groups[i]));
	}
	if (peer->unit && ki < MAX_LISTS)
		ki = add_key(ix, ic, ki, make_key(KEY_UNIT, str_hash(peer->unit)));
	ki = add_list(ic, ki, ix->ident_generic, ix->n_ident_generic);

	/* A software vDPA device has no PCI function: only rules without a bdf or vendor key
	 * can match it. */
	if (d) {
		kd = add_key(ix, dc, kd, make_key(KEY_BDF, bdf_pack(d->bdf)));
		kd = add_key(ix, dc, kd, make_key(KEY_VENDOR, d->vendor));
	}
	kd = add_list(dc, kd, ix->dev_generic, ix->n_dev_generic);

	if (exact && total(ic, ki) <= total(dc, kd))
		cur = ic, k = ki;
	else
		cur = dc, k = kd;

	/* k-way merge in increasing rule index; the same rule may sit in two lists only
	 * when a peer lists a gid twice, so skip repeats. */
	int64_t last = -1;
	for (;;) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < k; i++)
			if (cur[i].pos < cur[i].n &&
			    (best == SIZE_MAX || cur[i].l[cur[i].pos] < cur[best].l[cur[best].pos]))
				best = i;
		if (best == SIZE_MAX)
			return -1;
		uint32_t idx = cur[best].l[cur[best].pos++];
		if ((int64_t)idx == last)
			continue;
		last = idx;
		if (rule_check(p, &p->rules[idx], req, NULL, 0, false) == 0)
			return idx;
	}
}

ssize_t policy_first_match_scan(const Policy *p, const PolicyRequest *req) {
	if (req->peer->uid == POLICY_NOBODY_ID)
		return -1;
	for (size_t i = 0; i < p->n_rules; i++)
		if (p->rules[i].kind != RULE_ADMIN &&
		    rule_check(p, &p->rules[i], req, NULL, 0, false) == 0)
			return (ssize_t)i;
	return -1;
}

static void decision_init(const Policy *p, PolicyDecision *ret) {
	*ret = (PolicyDecision){ .allow = false, .generation = p ? p->generation : 0 };
}

static int decide(const Policy *p, const PolicyRequest *req, PolicyDecision *ret,
		  ssize_t *ret_index) {
	decision_init(p, ret);
	*ret_index = -1;
	if (!p || !req || !req->peer || (!req->device && !req->vdpa)) {
		snprintf(ret->reason, sizeof(ret->reason), "invalid request");
		return -EINVAL;
	}
	/* A vDPA device is asked for as vhost-vdpa, a PCI function as attached or unbound. */
	unsigned known = req->vdpa ? (unsigned)POLICY_MODE_VHOST_VDPA
				   : (unsigned)(POLICY_MODE_ATTACHED | POLICY_MODE_UNBOUND);
	if ((req->mode & ~known) != 0) {
		snprintf(ret->reason, sizeof(ret->reason), "unknown mode requested");
		return -EINVAL;
	}
	if (req->device && req->device->noiommu && !p->settings.allow_noiommu) {
		snprintf(ret->reason, sizeof(ret->reason),
			 "%s is a noiommu device (no DMA isolation) and allow-noiommu is off",
			 req->device->bdf);
		return 0;
	}
	ssize_t i = policy_first_match(p, req);
	*ret_index = i;
	if (i < 0) {
		if (req->peer->uid == POLICY_NOBODY_ID)
			snprintf(
				ret->reason, sizeof(ret->reason),
				"peer uid 65534 (nobody, an unmapped user-namespace id) matches no "
				"rule (default deny)");
		else if (req->peer->cgroup_hidden && uses_cgroup(p, RULE_ALLOW))
			snprintf(ret->reason, sizeof(ret->reason),
				 "no rule matched (default deny; %s)", CGROUP_HIDDEN_NOTE);
		else
			snprintf(ret->reason, sizeof(ret->reason),
				 "no rule matched (default deny)");
		return 0;
	}
	const Rule *rule = &p->rules[i];
	ret->file = p->name;
	ret->line = rule->line;
	if (rule->kind == RULE_DENY) {
		snprintf(ret->reason, sizeof(ret->reason), "denied by rule at %s:%u", p->name,
			 rule->line);
		return 0;
	}
	if (grant_check(p, rule, req, ret->reason, sizeof(ret->reason)) > 0)
		return 0;
	ret->allow = true;
	ret->grant = rule->grant;
	snprintf(ret->reason, sizeof(ret->reason), "allowed by rule at %s:%u", p->name, rule->line);
	return 0;
}

int policy_evaluate(const Policy *p, const PolicyRequest *req, PolicyDecision *ret) {
	ssize_t i;
	assert(ret);
	return decide(p, req, ret, &i);
}

int policy_explain(const Policy *p, const PolicyRequest *req, PolicyDecision *ret,
		   PolicyExplanation *ret_explanation) {
	PolicyExplanation *e = ret_explanation;
	ssize_t decider;
	int r;

	assert(ret);
	assert(e);
	*e = (PolicyExplanation){};
	r = decide(p, req, ret, &decider);
	if (r < 0)
		return r;
	if (decider >= 0)
		(void)policy_rule_format(p, &p->rules[decider], e->decided_by,
					 sizeof(e->decided_by));
	if (ret->allow)
		return 0;

	unsigned best = UINT_MAX;
	for (size_t i = 0; i < p->n_rules; i++) {
		const Rule *rule = &p->rules[i];
		char why[256] = "";
		if (rule->kind != RULE_ALLOW)
			continue;
		char gwhy[256] = "";
		/* Selector failures first (they are what the operator usually got wrong), then
		 * what the grant lacks. */
		unsigned n = rule_check(p, rule, req, why, sizeof(why), true);
		unsigned g = grant_check(p, rule, req, gwhy, sizeof(gwhy));
		if (n == 0 && g > 0)
			snprintf(why, sizeof(why), "%s", gwhy);
		n += g;
		if (n == 0 && (ssize_t)i != decider) {
			/* Matches fully, yet did not decide: something before it did. */
			if (decider >= 0)
				snprintf(why, sizeof(why),
					 "shadowed by the rule at %s:%u, which matches first",
					 p->name, p->rules[decider].line);
			else
				snprintf(why, sizeof(why), "%s", ret->reason);
		}
		if (n < best) {
			best = n;
			e->have_nearest = true;
			e->nearest_file = p->name;
			e->nearest_line = rule->line;
			e->nearest_failed = n;
			snprintf(e->why, sizeof(e->why), "%s", why);
			(void)policy_rule_format(p, rule, e->nearest_rule, sizeof(e->nearest_rule));
		}
	}
	return 0;
}

bool policy_is_admin(const Policy *p, const PolicyPeer *peer, PolicyDecision *ret) {
	PolicyDecision scratch;
	if (!ret)
		ret = &scratch;
	decision_init(p, ret);
	if (!p || !peer) {
		snprintf(ret->reason, sizeof(ret->reason), "invalid request");
		return false;
	}
	for (size_t i = 0; i < p->n_rules; i++) {
		const Rule *rule = &p->rules[i];
		if (rule->kind != RULE_ADMIN)
			continue;
		Checker c = { NULL, 0, 0, false };
		ident_check(&rule->id, peer, &c);
		if (c.n_failed)
			continue;
		ret->allow = true;
		ret->file = p->name;
		ret->line = rule->line;
		snprintf(ret->reason, sizeof(ret->reason), "admin by rule at %s:%u", p->name,
			 rule->line);
		return true;
	}
	if (peer->cgroup_hidden && uses_cgroup(p, RULE_ADMIN))
		snprintf(ret->reason, sizeof(ret->reason), "no admin rule matched (%s)",
			 CGROUP_HIDDEN_NOTE);
	else
		snprintf(ret->reason, sizeof(ret->reason), "no admin rule matched");
	return false;
}

/* ------------------------------------------------------------------------------------- */
/* Accessors */

uint64_t policy_generation(const Policy *p) {
	return p->generation;
}

const PolicySettings *policy_settings(const Policy *p) {
	return &p->settings;
}

const PolicyLayout *policy_find_layout(const Policy *p, const char *name) {
	for (size_t i = 0; name && i < p->n_layouts; i++)
		if (streq(p->layouts[i].name, name))
			return &p->layouts[i];
	return NULL;
}

size_t policy_n_layouts(const Policy *p) {
	return p->n_layouts;
}

const PolicyLayout *policy_layout_at(const Policy *p, size_t i) {
	return i < p->n_layouts ? &p->layouts[i] : NULL;
}

int policy_pool_match(const Policy *p, const char *name, const Host *h, const Device *d) {
	for (size_t i = 0; i < p->n_pools; i++)
		if (streq(p->pools[i].name, name))
			return policy_devsel_match(p, &p->pools[i].sel, d, NULL, 0, NULL, false);
	return -ENOENT;
}

size_t policy_n_rules(const Policy *p) {
	return p->n_rules - p->n_admin;
}

size_t policy_n_admin(const Policy *p) {
	return p->n_admin;
}

size_t policy_n_pools(const Policy *p) {
	return p->n_pools;
}

const char *policy_pool_name_at(const Policy *p, size_t i) {
	return i < p->n_pools ? p->pools[i].name : NULL;
}
