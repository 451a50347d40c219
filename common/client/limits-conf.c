/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The memlock item of limits.conf(5), evaluated as pam_limits does (see limits-conf.h). */
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/client/limits-conf.h"
#include "common/macro.h"
#include "common/util.h"

/* pam_limits' LIMITS_DEF_* values that can reach memlock. */
enum {
	PRIO_USER = 0,
	PRIO_GROUP = 1,
	PRIO_DEFAULT = 4,
	PRIO_NONE = 6,
};

enum { RANGE_ERR = -1, RANGE_NONE, RANGE_ONE, RANGE_MIN, RANGE_MM };

/* The largest limits file read: pam_limits has no limit, this keeps a stray file bounded. */
#define LIMITS_CONF_MAX (1024 * 1024)

void limits_conf_init(LimitsConfMemlock *m) {
	*m = (LimitsConfMemlock){ .soft.prio = PRIO_NONE, .hard.prio = PRIO_NONE };
}

/* pam_limits' parse_uid_range(): "[@%]<min>:<max>", "<min>:", ":<id>". */
static int parse_range(const char *domain, unsigned long *min, unsigned long *max) {
	const char *range = domain, *pmax = strchr(domain, ':');
	char *end;
	int rv = RANGE_MM;
	if (!pmax)
		return RANGE_NONE;
	pmax++;
	if (range[0] == '@' || range[0] == '%')
		range++;
	if (range[0] == ':')
		rv = RANGE_ONE;
	else {
		errno = 0;
		*min = strtoul(range, &end, 10);
		if (errno != 0 || end == range || *end != ':')
			return RANGE_ERR;
	}
	if (*pmax == '\0')
		return rv == RANGE_ONE ? RANGE_ERR : RANGE_MIN;
	errno = 0;
	*max = strtoul(pmax, &end, 10);
	if (errno != 0 || end == pmax || *end != '\0')
		return RANGE_ERR;
	if (rv == RANGE_ONE)
		*min = *max;
	return rv;
}

static bool in_group_named(const LimitsConfUser *u, const char *name) {
	for (size_t i = 0; i < u->n_groups; i++)
		if (u->group_names && u->group_names[i] && streq(u->group_names[i], name))
			return true;
	return false;
}

static bool in_group_gid(const LimitsConfUser *u, gid_t gid) {
	if (u->gid == gid)
		return true;
	for (size_t i = 0; i < u->n_groups; i++)
		if (u->groups && u->groups[i] == gid)
			return true;
	return false;
}

/* Whether an "@..." domain with range type rt applies to u. */
static bool group_domain_applies(const LimitsConfUser *u, const char *domain, int rt,
				 unsigned long min, unsigned long max) {
	switch (rt) {
	case RANGE_NONE:
		return in_group_named(u, domain + 1);
	case RANGE_ONE:
		return in_group_gid(u, (gid_t)max);
	case RANGE_MM:
		if (u->gid > (gid_t)max)
			return false;
		__attribute__((fallthrough));
	case RANGE_MIN:
		return u->gid >= (gid_t)min;
	}
	return false;
}

/* Whether a uid range domain (not '@'/'%') applies to u. */
static bool uid_range_applies(const LimitsConfUser *u, int rt, unsigned long min,
			      unsigned long max) {
	switch (rt) {
	case RANGE_ONE:
		return u->uid == (uid_t)max;
	case RANGE_MM:
		if (u->uid > (uid_t)max)
			return false;
		__attribute__((fallthrough));
	case RANGE_MIN:
		return u->uid >= (uid_t)min;
	}
	return false;
}

/* Memlock value in bytes, as process_limit() computes it; false when invalid. */
static bool parse_value(const char *v, uint64_t *ret) {
	if (streq(v, "-1") || streq(v, "-") || streq(v, "unlimited") || streq(v, "infinity")) {
		*ret = UINT64_MAX;
		return true;
	}
	char *end;
	unsigned long long kib = strtoull(v, &end, 10);
	if (kib == 0 && end == v)
		return false;
	/* RLIM_INFINITY is all ones on Linux: UINT64_MAX here. */
	*ret = kib >= UINT64_MAX / 1024 ? UINT64_MAX : (uint64_t)kib * 1024;
	return true;
}

static void set_value(LimitsConfValue *v, int prio, uint64_t bytes, const char *file,
		      unsigned line) {
	v->set = true;
	v->prio = prio;
	v->bytes = bytes;
	snprintf(v->file, sizeof(v->file), "%s", file);
	v->line = line;
}

/* process_limit() restricted to memlock. */
static void apply(LimitsConfMemlock *m, int prio, const char *type, const char *item,
		  const char *value, const char *file, unsigned line) {
	bool soft, hard;
	uint64_t bytes;
	if (!streq(item, "memlock"))
		return;
	if (streq(type, "soft"))
		soft = true, hard = false;
	else if (streq(type, "hard"))
		soft = false, hard = true;
	else if (streq(type, "-"))
		soft = hard = true;
	else
		return;
	if (!parse_value(value, &bytes))
		return;
	if (soft) {
		/* pam_limits returns here, leaving the hard part of a "-" line unapplied. */
		if (m->soft.prio < prio)
			return;
		set_value(&m->soft, prio, bytes, file, line);
	}
	if (hard) {
		if (m->hard.prio < prio)
			return;
		set_value(&m->hard, prio, bytes, file, line);
	}
}

static void lowercase(char *s) {
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Splits like pam_limits' split(): three blank-separated words, then the trimmed rest. */
static int split(char *line, char **f) {
	char *save = NULL;
	int n = 0;
	f[0] = strtok_r(line, " \t", &save);
	f[1] = f[0] ? strtok_r(NULL, " \t", &save) : NULL;
	f[2] = f[1] ? strtok_r(NULL, " \t", &save) : NULL;
	f[3] = NULL;
	if (f[2] && save) {
		char *v = save + strspn(save, " \t");
		size_t len = strlen(v);
		while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			v[--len] = '\0';
		if (len > 0)
			f[3] = v;
	}
	for (int i = 0; i < 4; i++)
		if (f[i])
			n++;
		else
			f[i] = (char *)"";
	return n;
}

/* Returns 1 when the line is an applicable "DOMAIN -" (no limits) line. */
static int feed_line(LimitsConfMemlock *m, const LimitsConfUser *u, const char *file,
		     unsigned lineno, char *line) {
	char *f[4], *p;
	unsigned long min = 0, max = 0;
	while (*line && isspace((unsigned char)*line))
		line++;
	if ((p = strchr(line, '#')))
		*p = '\0';
	if ((p = strchr(line, '\n')))
		*p = '\0';
	if (!*line)
		return 0;
	int n = split(line, f);
	const char *domain = f[0];
	lowercase(f[1]);
	int rt = parse_range(domain, &min, &max);
	if (rt == RANGE_ERR)
		return 0;
	if (n == 4) {
		lowercase(f[2]);
		lowercase(f[3]);
		if (streq(domain, u->name))
			apply(m, PRIO_USER, f[1], f[2], f[3], file, lineno);
		else if (domain[0] == '@') {
			if (group_domain_applies(u, domain, rt, min, max))
				apply(m, PRIO_GROUP, f[1], f[2], f[3], file, lineno);
		} else if (domain[0] == '%') {
			/* maxlogins only */
		} else if (rt == RANGE_NONE) {
			if (streq(domain, "*"))
				apply(m, PRIO_DEFAULT, f[1], f[2], f[3], file, lineno);
		} else if (uid_range_applies(u, rt, min, max))
			apply(m, PRIO_USER, f[1], f[2], f[3], file, lineno);
		return 0;
	}
	if (n != 2 || f[1][0] != '-')
		return 0; /* pam_limits: "invalid line - skipped" */
	bool applies;
	if (streq(domain, u->name))
		applies = true;
	else if (domain[0] == '@')
		applies = group_domain_applies(u, domain, rt, min, max);
	else
		applies = rt != RANGE_NONE && uid_range_applies(u, rt, min, max);
	if (!applies)
		return 0;
	m->no_limits = true;
	snprintf(m->no_limits_file, sizeof(m->no_limits_file), "%s", file);
	m->no_limits_line = lineno;
	return 1;
}

int limits_conf_feed(LimitsConfMemlock *m, const LimitsConfUser *u, const char *file,
		     const char *text) {
	unsigned lineno = 0;
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		_cleanup_free_ char *line = strndup(p, len);
		lineno++;
		p += len + (nl ? 1 : 0);
		/* Out of memory: the line is skipped, like any line pam_limits cannot use. */
		if (line && feed_line(m, u, file, lineno, line) > 0)
			return 1;
	}
	return 0;
}

/* Feeds one file; 1 on a "no limits" line, 0 (also when missing and optional), -errno. */
static int feed_file(LimitsConfMemlock *m, const LimitsConfUser *u, const char *path,
		     bool optional) {
	_cleanup_free_ char *text = NULL;
	int r = read_full_file(path, LIMITS_CONF_MAX, &text, NULL);
	if (r == -ENOENT && optional)
		return 0;
	if (r < 0)
		return r;
	return limits_conf_feed(m, u, path, text);
}

static int cmp_basename(const void *a, const void *b) {
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	const char *bx = strrchr(x, '/'), *by = strrchr(y, '/');
	return strcmp(bx ? bx + 1 : x, by ? by + 1 : y);
}

int limits_conf_read_memlock(const char *root, const LimitsConfUser *u, LimitsConfMemlock *ret) {
	LimitsConfMemlock m;
	char path[PATH_MAX];
	glob_t g = {};
	int r;

	if (!root || streq(root, "/"))
		root = "";
	limits_conf_init(&m);
	snprintf(path, sizeof(path), "%s/etc/security/limits.conf", root);
	r = feed_file(&m, u, path, true);
	if (r < 0)
		return r;
	if (r == 0) {
		snprintf(path, sizeof(path), "%s/etc/security/limits.d/*.conf", root);
		int gr = glob(path, GLOB_ERR | GLOB_NOSORT, NULL, &g);
		if (gr == GLOB_NOSPACE)
			return -ENOMEM;
		if (gr == 0) {
			qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), cmp_basename);
			/* A file vanishing between glob() and the read is skipped. */
			for (size_t i = 0; i < g.gl_pathc; i++) {
				r = feed_file(&m, u, g.gl_pathv[i], true);
				if (r != 0)
					break;
			}
			globfree(&g);
			if (r < 0)
				return r;
		}
	}
	*ret = m;
	return 0;
}
