/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The canonical form: every setting, pool, layout and rule, one per line, with every grant
 * attribute spelled out (defaults included) so an operator sees exactly what a rule grants.
 * The output parses back to the same policy (tested).
 */
#include <assert.h>
#include <inttypes.h>

#include "common/macro.h"
#include "common/util.h"
#include "policy/policy-internal.h"

/* The enums' names, as the file spells them: one table each, read both ways. */
typedef struct EnumName {
	int value;
	const char *name;
} EnumName;

static const EnumName mode_names[] = {
	{ POLICY_MODE_ATTACHED, "attached" },
	{ POLICY_MODE_UNBOUND, "unbound" },
	{ POLICY_MODE_VHOST_VDPA, "vhost-vdpa" },
};
static const EnumName group_mode_names[] = {
	{ POLICY_GROUP_WHOLE, "whole" },
	{ POLICY_GROUP_IMPLICIT, "implicit" },
};
static const EnumName lifetime_names[] = {
	{ POLICY_LIFETIME_CONNECTION, "connection" },
	{ POLICY_LIFETIME_PROCESS, "process" },
};
static const EnumName on_revoke_names[] = {
	{ POLICY_REVOKE_DETACH, "detach" },
	{ POLICY_REVOKE_DETACH_RESET, "detach+reset" },
	{ POLICY_REVOKE_SIGNAL, "signal" },
};
static const EnumName accounting_names[] = {
	{ POLICY_ACCOUNTING_USER, "user" },
	{ POLICY_ACCOUNTING_PROCESS, "process" },
};

static const char *enum_to_string(const EnumName *t, size_t n, int v) {
	for (size_t i = 0; i < n; i++)
		if (t[i].value == v)
			return t[i].name;
	return NULL;
}

static int enum_from_string(const EnumName *t, size_t n, const char *s) {
	for (size_t i = 0; s && i < n; i++)
		if (streq(t[i].name, s))
			return t[i].value;
	return -EINVAL;
}

#define ENUM_STRINGS(prefix, type, table)                                                          \
	const char *prefix##_to_string(type v) {                                                   \
		return enum_to_string(table, ELEMENTSOF(table), (int)v);                           \
	}                                                                                          \
	int prefix##_from_string(const char *s) {                                                  \
		return enum_from_string(table, ELEMENTSOF(table), s);                              \
	}

ENUM_STRINGS(policy_mode, PolicyMode, mode_names)
ENUM_STRINGS(policy_group_mode, PolicyGroupMode, group_mode_names)
ENUM_STRINGS(policy_lifetime, PolicyLifetime, lifetime_names)
ENUM_STRINGS(policy_on_revoke, PolicyOnRevoke, on_revoke_names)
ENUM_STRINGS(policy_accounting, PolicyAccounting, accounting_names)

/* A value as the lexer reads it back: bare when it is a plain word, else quoted. */
static void put_value(FILE *f, const char *s) {
	bool bare = *s && *s != '#';
	for (const char *c = s; *c && bare; c++)
		bare = (unsigned char)*c > 0x20 && *c != 0x7f && *c != '"' && *c != '{' &&
		       *c != '}' && *c != ';' && *c != '\\';
	if (bare) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (const char *c = s; *c; c++) {
		if (*c == '"' || *c == '\\')
			fputc('\\', f);
		fputc(*c, f);
	}
	fputc('"', f);
}

/* Exact byte counts: a unit suffix only when it divides evenly, so it parses back. */
static void put_bytes(FILE *f, uint64_t v) {
	static const char suffix[] = "KMGTPE";
	if (v == UINT64_MAX) {
		fputs("infinity", f);
		return;
	}
	int i = -1;
	while (v && v % 1024 == 0 && i + 1 < (int)sizeof(suffix) - 1) {
		v /= 1024;
		i++;
	}
	if (i < 0)
		fprintf(f, "%" PRIu64, v);
	else
		fprintf(f, "%" PRIu64 "%c", v, suffix[i]);
}

static void put_ident(const IdentSel *s, FILE *f) {
	if (s->any) {
		fputs(" *", f);
		return;
	}
	if (s->has_uid) {
		fputs(" user ", f);
		put_value(f, s->user_name);
	}
	if (s->has_uid_range) {
		if (s->uid_lo == s->uid_hi)
			fprintf(f, " uid %u", (unsigned)s->uid_lo);
		else
			fprintf(f, " uid %u-%u", (unsigned)s->uid_lo, (unsigned)s->uid_hi);
	}
	if (s->has_gid) {
		fputs(" group ", f);
		put_value(f, s->group_name);
	}
	if (s->unit) {
		fputs(" unit ", f);
		put_value(f, s->unit);
	}
	if (s->user_unit) {
		fputs(" user-unit ", f);
		put_value(f, s->user_unit);
	}
	if (s->cgroup) {
		fputs(" cgroup ", f);
		put_value(f, s->cgroup);
	}
	if (s->label) {
		fputs(" label ", f);
		put_value(f, s->label);
	}
}

void policy_devsel_format(const Policy *p, const DevSel *s, FILE *f) {
	if (s->any) {
		fputs(" any", f);
		return;
	}
	if (s->has_bdf)
		fprintf(f, " bdf %s", s->bdf);
	if (s->vendor >= 0)
		fprintf(f, " vendor 0x%04x", (unsigned)s->vendor);
	if (s->device >= 0)
		fprintf(f, " device 0x%04x", (unsigned)s->device);
	if (s->subsystem_vendor >= 0)
		fprintf(f, " subsystem-vendor 0x%04x", (unsigned)s->subsystem_vendor);
	if (s->subsystem_device >= 0)
		fprintf(f, " subsystem-device 0x%04x", (unsigned)s->subsystem_device);
	if (s->has_class) {
		if (s->class_mask == 0xff0000)
			fprintf(f, " class 0x%02x", s->class_value >> 16);
		else if (s->class_mask == 0xffff00)
			fprintf(f, " class 0x%04x", s->class_value >> 8);
		else if (s->class_mask == 0xffffff)
			fprintf(f, " class 0x%06x", s->class_value);
		else
			fprintf(f, " class 0x%06x/0x%06x", s->class_value, s->class_mask);
	}
	if (s->vdpa) {
		fputs(" vdpa ", f);
		put_value(f, s->vdpa);
	}
	if (s->driver) {
		fputs(" driver ", f);
		put_value(f, s->driver);
	}
	if (s->iommu_group >= 0)
		fprintf(f, " iommu-group %d", s->iommu_group);
	if (s->pool) {
		fputs(" pool ", f);
		put_value(f, s->pool);
	}
	if (s->has_numa)
		fprintf(f, " numa %d", s->numa);
	if (s->prop_key) {
		_cleanup_free_ char *kv = NULL;
		if (asprintf(&kv, "%s=%s", s->prop_key, s->prop_glob) >= 0) {
			fputs(" property ", f);
			put_value(f, kv);
		}
	}
}

static void put_grant(const PolicyGrant *g, FILE *f) {
	fputs(" mode ", f);
	if (g->modes & POLICY_MODE_VHOST_VDPA)
		fputs("vhost-vdpa", f);
	else if (g->modes & POLICY_MODE_ATTACHED)
		fputs((g->modes & POLICY_MODE_UNBOUND) ? "attached,unbound" : "attached", f);
	else
		fputs("unbound", f);
	if (g->layouts) {
		fputs(" layout ", f);
		for (char **l = g->layouts; *l; l++)
			fprintf(f, "%s%s", l == g->layouts ? "" : ",", *l);
	}
	fprintf(f, " max-devices %u max-leases %u memlock ", g->max_devices, g->max_leases);
	put_bytes(f, g->memlock);
	fprintf(f, " group %s lifetime %s on-revoke %s", policy_group_mode_to_string(g->group_mode),
		policy_lifetime_to_string(g->lifetime), policy_on_revoke_to_string(g->on_revoke));
	/* Only when granted: "no" is the default, and the canonical form of policies that
	 * never mention them stays as it was. */
	if (g->share_reset)
		fputs(" share-reset yes", f);
	if (g->split_sriov)
		fputs(" split-sriov yes", f);
}

static void put_rule(const Policy *p, const Rule *r, FILE *f) {
	fputs(r->kind == RULE_ALLOW ? "allow" : r->kind == RULE_DENY ? "deny" : "admin", f);
	put_ident(&r->id, f);
	if (r->kind == RULE_ADMIN)
		return;
	if (r->kind == RULE_DENY && r->dev.any)
		return; /* "deny user bob" already means every device */
	fputs(" to", f);
	policy_devsel_format(p, &r->dev, f);
	if (r->kind == RULE_ALLOW)
		put_grant(&r->grant, f);
}

int policy_rule_format(const Policy *p, const Rule *r, char *buf, size_t len) {
	_cleanup_free_ char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	if (!f)
		return -ENOMEM;
	put_rule(p, r, f);
	if (fclose(f) != 0)
		return -ENOMEM;
	snprintf(buf, len, "%s", s);
	return 0;
}

int policy_rule_to_string(const Policy *p, size_t i, unsigned *ret_line, char **ret) {
	char *s = NULL;
	size_t n = 0;
	if (i >= p->n_rules)
		return -ENOENT;
	FILE *f = open_memstream(&s, &n);
	if (!f)
		return -ENOMEM;
	put_rule(p, &p->rules[i], f);
	if (fclose(f) != 0) {
		free(s);
		return -ENOMEM;
	}
	if (ret_line)
		*ret_line = p->rules[i].line;
	*ret = s;
	return 0;
}

int policy_to_string(const Policy *p, char **ret) {
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	if (!f)
		return -ENOMEM;

	fprintf(f, "# Settings\n");
	if (p->settings.socket_group) {
		fputs("socket-group ", f);
		put_value(f, p->settings.socket_group);
		fputc('\n', f);
	} else
		fputs("# socket-group (unset: the socket is root's only)\n", f);
	fprintf(f, "allow-noiommu %s\n", p->settings.allow_noiommu ? "yes" : "no");
	fprintf(f, "max-connections-per-uid %u\n", p->settings.max_connections_per_uid);
	fprintf(f, "idle-timeout %u\n", p->settings.idle_timeout_sec);
	fprintf(f, "stage-timeout %u\n", p->settings.stage_timeout_sec);

	if (p->n_pools)
		fputs("\n# Pools\n", f);
	for (size_t i = 0; i < p->n_pools; i++) {
		fprintf(f, "pool %s {", p->pools[i].name);
		policy_devsel_format(p, &p->pools[i].sel, f);
		fputs(" }\n", f);
	}
	if (p->n_layouts)
		fputs("\n# Layouts\n", f);
	for (size_t i = 0; i < p->n_layouts; i++) {
		const PolicyLayout *l = &p->layouts[i];
		fprintf(f, "layout %s {", l->name);
		if (l->iova_auto) {
			fputs(" iova auto", f);
			if (l->iova_max != UINT64_MAX)
				fprintf(f, " max 0x%" PRIx64, l->iova_max);
			fputc(';', f);
		} else if (l->n_windows) {
			fputs(" iova", f);
			for (size_t w = 0; w < l->n_windows; w++)
				fprintf(f, " 0x%" PRIx64 "-0x%" PRIx64, l->windows[w].start,
					l->windows[w].last);
			fputc(';', f);
		}
		fprintf(f, " accounting %s; hugepages %s",
			policy_accounting_to_string(l->accounting), l->huge_pages ? "on" : "off");
		if (l->require) {
			fputs("; require ", f);
			for (char **c = l->require; *c; c++)
				fprintf(f, "%s%s", c == l->require ? "" : ",", *c);
		}
		fputs(" }\n", f);
	}
	fputs("\n# Rules, in evaluation order (first match wins; no match: deny)\n", f);
	for (size_t i = 0; i < p->n_rules; i++) {
		put_rule(p, &p->rules[i], f);
		fprintf(f, "  # %s:%u\n", p->name, p->rules[i].line);
	}
	if (fclose(f) != 0) {
		free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

int policy_describe_process_accounting(const Policy *p, char **ret) {
	char *s = NULL;
	size_t len = 0;
	int n = 0;
	assert(ret);

	FILE *f = open_memstream(&s, &len);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_layouts; i++) {
		const PolicyLayout *l = &p->layouts[i];
		if (l->accounting != POLICY_ACCOUNTING_PROCESS)
			continue;
		fprintf(f, "%s'%s' (%s:%u; granted by ", n++ ? "; " : "", l->name, p->name,
			l->line);
		unsigned total = 0, k = 0;
		for (size_t j = 0; j < p->n_rules; j++)
			total += p->rules[j].kind == RULE_ALLOW &&
				 strv_contains(p->rules[j].grant.layouts, l->name);
		if (total == 0)
			fputs("no rule", f);
		else
			fputs(total == 1 ? "the rule at line " : "the rules at lines ", f);
		for (size_t j = 0; j < p->n_rules; j++) {
			const Rule *r = &p->rules[j];
			if (r->kind == RULE_ALLOW && strv_contains(r->grant.layouts, l->name))
				fprintf(f, "%s%u", k++ ? ", " : "", r->line);
		}
		fputc(')', f);
	}
	if (fclose(f) != 0) {
		free(s);
		return -ENOMEM;
	}
	if (n == 0) {
		free(s);
		s = NULL;
	}
	*ret = s;
	return n;
}
