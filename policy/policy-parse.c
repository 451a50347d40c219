/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasid.conf: lexer, parser and name resolution. The grammar is in ioasid.conf(5). The
 * first error stops the load and invalidates the whole file: a half-understood policy is
 * never used (fail closed, USBGuard lesson).
 */
#include <assert.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/trusted-path.h"
#include "common/util.h"
#include "policy/policy-internal.h"

/* ------------------------------------------------------------------------------------- */
/* Lexer */

typedef enum TokType { T_WORD, T_STRING, T_LBRACE, T_RBRACE, T_SEMI, T_NL, T_EOF } TokType;

typedef struct Token {
	TokType type;
	char *text; /* WORD and STRING only */
	unsigned line, col;
} Token;

typedef struct Parser {
	const char *name;
	Token *toks;
	size_t n_toks, cap_toks, pos;
	Policy *p;
	PolicyError *err;
	const PolicyResolver *resolver;
	/* Where each setting was first given (0 = not yet), for duplicate errors. */
	unsigned line_socket_group, line_allow_noiommu, line_max_conn, line_idle,
		line_stage_timeout;
} Parser;

static int perr(Parser *ps, unsigned line, unsigned col, const char *fmt, ...) _printf_(4, 5);
static int perr(Parser *ps, unsigned line, unsigned col, const char *fmt, ...) {
	if (ps->err && !ps->err->message) {
		va_list ap;
		char *m = NULL;
		va_start(ap, fmt);
		if (vasprintf(&m, fmt, ap) < 0)
			m = NULL;
		va_end(ap);
		ps->err->message = m;
		ps->err->file = strdup(ps->name);
		ps->err->line = line;
		ps->err->column = col;
	}
	return -EINVAL;
}

static int tok_push(Parser *ps, TokType type, char *text, unsigned line, unsigned col) {
	/* A newline token only ends something: collapse runs and drop leading ones. */
	if (type == T_NL && (ps->n_toks == 0 || ps->toks[ps->n_toks - 1].type == T_NL)) {
		free(text);
		return 0;
	}
	if (ps->n_toks == ps->cap_toks) {
		size_t cap = ps->cap_toks ? ps->cap_toks * 2 : 256;
		Token *t = reallocarray(ps->toks, cap, sizeof(Token));
		if (!t) {
			free(text);
			return -ENOMEM;
		}
		ps->toks = t;
		ps->cap_toks = cap;
	}
	ps->toks[ps->n_toks++] = (Token){ type, text, line, col };
	return 0;
}

static bool is_word_char(unsigned char c) {
	return c > 0x20 && c != 0x7f && c != '"' && c != '{' && c != '}' && c != ';';
}

static int lex(Parser *ps, const char *s, size_t size) {
	unsigned line = 1, col = 1;
	size_t i = 0;
	int r;

	while (i < size) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n') {
			r = tok_push(ps, T_NL, NULL, line, col);
			if (r < 0)
				return r;
			i++, line++, col = 1;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			i++, col++;
		} else if (c == '\\' && i + 1 < size && s[i + 1] == '\n') {
			/* Line continuation. */
			i += 2, line++, col = 1;
		} else if (c == '#') {
			while (i < size && s[i] != '\n')
				i++;
		} else if (c == '{' || c == '}' || c == ';') {
			r = tok_push(ps,
				     c == '{'   ? T_LBRACE
				     : c == '}' ? T_RBRACE
						: T_SEMI,
				     NULL, line, col);
			if (r < 0)
				return r;
			i++, col++;
		} else if (c == '"') {
			unsigned l0 = line, c0 = col;
			_cleanup_free_ char *buf = malloc(POLICY_MAX_TOKEN + 1);
			size_t n = 0;
			if (!buf)
				return -ENOMEM;
			i++, col++;
			for (;;) {
				if (i >= size || s[i] == '\n')
					return perr(ps, l0, c0, "Unterminated string");
				c = (unsigned char)s[i];
				if (c == '"') {
					i++, col++;
					break;
				}
				if (c == '\\') {
					if (i + 1 >= size || (s[i + 1] != '"' && s[i + 1] != '\\'))
						return perr(
							ps, line, col,
							"Unknown escape in string (only \\\" and "
							"\\\\ are allowed)");
					i++, col++;
					c = (unsigned char)s[i];
				} else if (c < 0x20 || c == 0x7f)
					return perr(ps, line, col, "Control character in string");
				if (n >= POLICY_MAX_TOKEN)
					return perr(ps, l0, c0, "String longer than %u bytes",
						    POLICY_MAX_TOKEN);
				buf[n++] = (char)c;
				i++, col++;
			}
			buf[n] = '\0';
			r = tok_push(ps, T_STRING, TAKE_PTR(buf), l0, c0);
			if (r < 0)
				return r;
		} else if (is_word_char(c)) {
			size_t start = i;
			unsigned c0 = col;
			while (i < size && is_word_char((unsigned char)s[i]))
				i++, col++;
			if (i - start > POLICY_MAX_TOKEN)
				return perr(ps, line, c0, "Word longer than %u bytes",
					    POLICY_MAX_TOKEN);
			char *w = strndup(s + start, i - start);
			if (!w)
				return -ENOMEM;
			r = tok_push(ps, T_WORD, w, line, c0);
			if (r < 0)
				return r;
		} else if (c == 0)
			return perr(ps, line, col, "NUL byte in the file");
		else
			return perr(ps, line, col, "Unexpected control character 0x%02x", c);
	}
	r = tok_push(ps, T_NL, NULL, line, col);
	if (r < 0)
		return r;
	return tok_push(ps, T_EOF, NULL, line, col);
}

/* ------------------------------------------------------------------------------------- */
/* Parser helpers */

static Token *peek(Parser *ps) {
	return &ps->toks[ps->pos];
}

static Token *next(Parser *ps) {
	Token *t = &ps->toks[ps->pos];
	if (t->type != T_EOF)
		ps->pos++;
	return t;
}

static bool is_kw(const Token *t, const char *kw) {
	return t->type == T_WORD && streq(t->text, kw);
}

static bool at_end(const Token *t) {
	return t->type == T_NL || t->type == T_EOF || t->type == T_SEMI;
}

static const char *tok_describe(const Token *t) {
	switch (t->type) {
	case T_WORD:
	case T_STRING:
		return t->text;
	case T_LBRACE:
		return "{";
	case T_RBRACE:
		return "}";
	case T_SEMI:
		return ";";
	case T_NL:
		return "end of line";
	default:
		return "end of file";
	}
}

/* The value after a keyword: a word or a quoted string. */
static int take_value(Parser *ps, const Token *kw, Token **ret) {
	Token *t = peek(ps);
	if (t->type != T_WORD && t->type != T_STRING)
		return perr(ps, t->line, t->col, "Expected a value after '%s', got '%s'", kw->text,
			    tok_describe(t));
	*ret = next(ps);
	return 0;
}

static int expect_end(Parser *ps, const char *after) {
	Token *t = peek(ps);
	if (!at_end(t))
		return perr(ps, t->line, t->col, "Unexpected '%s' after %s", tok_describe(t),
			    after);
	return 0;
}

static bool name_valid(const char *s) {
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
			return false;
	return true;
}

static bool all_digits(const char *s) {
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* ------------------------------------------------------------------------------------- */
/* Name resolution */

static int default_user(const char *name, uid_t *ret, void *userdata) {
	struct passwd pw, *res = NULL;
	char buf[4096];
	int r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (r != 0)
		return -r;
	if (!res)
		return -ENOENT;
	*ret = res->pw_uid;
	return 0;
}

static int default_group(const char *name, gid_t *ret, void *userdata) {
	struct group gr, *res = NULL;
	char buf[16384];
	int r = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
	if (r != 0)
		return -r;
	if (!res)
		return -ENOENT;
	*ret = res->gr_gid;
	return 0;
}

static const PolicyResolver default_resolver = { default_user, default_group, NULL };

/* Resolves a user (group false) or group name or number of a rule. Numbers are taken as
 * they are; names go through the resolver. 65534 is refused either way: it is the id that
 * unmapped user-namespace users and groups appear as, so a rule naming it would match any
 * container's unmapped ids. */
static int resolve_id(Parser *ps, const Token *t, bool group, uint32_t *ret) {
	const char *what = group ? "Group" : "User";
	uint64_t v;
	int r;

	if (all_digits(t->text)) {
		if (num_parse_u64(t->text, UINT32_MAX - 1, &v) < 0)
			return perr(ps, t->line, t->col, "%s id '%s' is out of range", what,
				    t->text);
		*ret = (uint32_t)v;
	} else {
		if (group)
			r = ps->resolver->group(t->text, ret, ps->resolver->userdata);
		else
			r = ps->resolver->user(t->text, ret, ps->resolver->userdata);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return perr(ps, t->line, t->col, "Unknown %s '%s'",
				    group ? "group" : "user", t->text);
	}
	if (*ret == POLICY_NOBODY_ID)
		return perr(
			ps, t->line, t->col,
			"%s '%s' is %s 65534 (%s), the id unmapped user-namespace %s appear as: "
			"a rule cannot name it",
			what, t->text, group ? "gid" : "uid", group ? "nogroup" : "nobody",
			group ? "groups" : "users");
	return 0;
}

/* ------------------------------------------------------------------------------------- */
/* Selectors */

enum {
	SEEN_USER = 1u << 0,
	SEEN_GROUP = 1u << 1,
	SEEN_UID = 1u << 2,
	SEEN_UNIT = 1u << 3,
	SEEN_CGROUP = 1u << 4,
	SEEN_LABEL = 1u << 5,
	SEEN_ANYONE = 1u << 6,
	SEEN_USER_UNIT = 1u << 7,
};

enum {
	DSEEN_BDF = 1u << 0,
	DSEEN_VENDOR = 1u << 1,
	DSEEN_DEVICE = 1u << 2,
	DSEEN_SVENDOR = 1u << 3,
	DSEEN_SDEVICE = 1u << 4,
	DSEEN_CLASS = 1u << 5,
	DSEEN_DRIVER = 1u << 6,
	DSEEN_IOMMU_GROUP = 1u << 7,
	DSEEN_POOL = 1u << 8,
	DSEEN_NUMA = 1u << 9,
	DSEEN_PROPERTY = 1u << 10,
	DSEEN_ANY = 1u << 11,
	DSEEN_VDPA = 1u << 12,
};

enum {
	GSEEN_MODE = 1u << 0,
	GSEEN_LAYOUT = 1u << 1,
	GSEEN_MAX_DEVICES = 1u << 2,
	GSEEN_MAX_LEASES = 1u << 3,
	GSEEN_MEMLOCK = 1u << 4,
	GSEEN_GROUP = 1u << 5,
	GSEEN_LIFETIME = 1u << 6,
	GSEEN_ON_REVOKE = 1u << 7,
	GSEEN_SHARE_RESET = 1u << 8,
	GSEEN_SPLIT_SRIOV = 1u << 9,
};

static int mark_seen(Parser *ps, const Token *kw, unsigned *seen, unsigned bit) {
	if (*seen & bit)
		return perr(ps, kw->line, kw->col, "Duplicate '%s' in one rule", kw->text);
	*seen |= bit;
	return 0;
}

static int parse_glob(Parser *ps, const Token *kw, char **ret) {
	Token *v = NULL;
	int r = take_value(ps, kw, &v);
	if (r < 0)
		return r;
	if (!*v->text)
		return perr(ps, v->line, v->col, "Empty pattern after '%s'", kw->text);
	*ret = strdup(v->text);
	return *ret ? 0 : -ENOMEM;
}

/* One identity selector. Returns 1 when consumed, 0 when the token is not one. */
static int parse_ident_item(Parser *ps, IdentSel *s, unsigned *seen) {
	Token *kw = peek(ps), *v = NULL;
	uint64_t a, b;
	int r;

	if (kw->type != T_WORD)
		return 0;
	if (streq(kw->text, "*")) {
		next(ps);
		if (*seen)
			return perr(ps, kw->line, kw->col,
				    "'*' cannot be combined with other identity selectors");
		*seen |= SEEN_ANYONE;
		s->any = true;
		return 1;
	}
	if (!streq(kw->text, "user") && !streq(kw->text, "group") && !streq(kw->text, "uid") &&
	    !streq(kw->text, "unit") && !streq(kw->text, "user-unit") &&
	    !streq(kw->text, "cgroup") && !streq(kw->text, "label"))
		return 0;
	next(ps);
	if (*seen & SEEN_ANYONE)
		return perr(ps, kw->line, kw->col,
			    "'*' cannot be combined with other identity selectors");

	if (streq(kw->text, "user") || streq(kw->text, "group")) {
		bool group = streq(kw->text, "group");
		r = mark_seen(ps, kw, seen, group ? SEEN_GROUP : SEEN_USER);
		if (r >= 0)
			r = take_value(ps, kw, &v);
		if (r >= 0)
			r = resolve_id(ps, v, group, group ? &s->gid : &s->uid);
		if (r < 0)
			return r;
		char *name = strdup(v->text);
		if (!name)
			return -ENOMEM;
		if (group) {
			s->has_gid = true;
			s->group_name = name;
		} else {
			s->has_uid = true;
			s->user_name = name;
		}
		return 1;
	}
	if (streq(kw->text, "uid")) {
		r = mark_seen(ps, kw, seen, SEEN_UID);
		if (r >= 0)
			r = take_value(ps, kw, &v);
		if (r < 0)
			return r;
		const char *dash = strchr(v->text, '-');
		char lo[32];
		if (dash) {
			size_t n = (size_t)(dash - v->text);
			if (n == 0 || n >= sizeof(lo))
				return perr(ps, v->line, v->col, "Invalid uid range '%s'", v->text);
			memcpy(lo, v->text, n);
			lo[n] = '\0';
		} else
			snprintf(lo, sizeof(lo), "%.31s", v->text);
		if (!all_digits(lo) || num_parse_u64(lo, UINT32_MAX - 1, &a) < 0 ||
		    (dash &&
		     (!all_digits(dash + 1) || num_parse_u64(dash + 1, UINT32_MAX - 1, &b) < 0)))
			return perr(ps, v->line, v->col,
				    "Invalid uid range '%s' (expected N or FIRST-LAST)", v->text);
		if (!dash)
			b = a;
		if (a > b)
			return perr(ps, v->line, v->col, "Empty uid range '%s' (first > last)",
				    v->text);
		if (a <= POLICY_NOBODY_ID && b >= POLICY_NOBODY_ID)
			return perr(ps, v->line, v->col,
				    "uid range '%s' includes 65534 (nobody), the id unmapped "
				    "user-namespace users appear as: split the range around it",
				    v->text);
		s->has_uid_range = true;
		s->uid_lo = (uid_t)a;
		s->uid_hi = (uid_t)b;
		return 1;
	}
	if (streq(kw->text, "unit")) {
		r = mark_seen(ps, kw, seen, SEEN_UNIT);
		if (r >= 0)
			r = parse_glob(ps, kw, &s->unit);
		return r < 0 ? r : 1;
	}
	if (streq(kw->text, "user-unit")) {
		r = mark_seen(ps, kw, seen, SEEN_USER_UNIT);
		if (r >= 0)
			r = parse_glob(ps, kw, &s->user_unit);
		if (r >= 0) {
			s->user_unit_line = kw->line;
			s->user_unit_col = kw->col;
		}
		return r < 0 ? r : 1;
	}
	if (streq(kw->text, "cgroup")) {
		r = mark_seen(ps, kw, seen, SEEN_CGROUP);
		if (r >= 0)
			r = parse_glob(ps, kw, &s->cgroup);
		return r < 0 ? r : 1;
	}
	r = mark_seen(ps, kw, seen, SEEN_LABEL);
	if (r >= 0)
		r = parse_glob(ps, kw, &s->label);
	return r < 0 ? r : 1;
}

static int parse_hex16(Parser *ps, const Token *kw, int *ret) {
	Token *v = NULL;
	uint64_t x;
	int r = take_value(ps, kw, &v);
	if (r < 0)
		return r;
	if (hex_parse_u64(v->text, 0xffff, &x) < 0)
		return perr(ps, v->line, v->col, "Invalid %s id '%s' (expected 4 hex digits)",
			    kw->text, v->text);
	*ret = (int)x;
	return 0;
}

/* class 0x03 (base), 0x0302 (base+sub), 0x030200 (all), or VALUE/MASK (6 digits each). */
static int parse_class(Parser *ps, const Token *kw, DevSel *s) {
	Token *v = NULL;
	uint64_t val, mask;
	int r = take_value(ps, kw, &v);
	if (r < 0)
		return r;
	_cleanup_free_ char *text = strdup(v->text);
	if (!text)
		return -ENOMEM;
	char *slash = strchr(text, '/');
	if (slash)
		*slash++ = '\0';
	const char *digits = text;
	if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
		digits += 2;
	size_t n = strlen(digits);
	if ((n != 2 && n != 4 && n != 6) || hex_parse_u64(digits, 0xffffff, &val) < 0)
		return perr(ps, v->line, v->col,
			    "Invalid class '%s' (expected 2, 4 or 6 hex digits, e.g. 0x0302)",
			    v->text);
	if (slash) {
		if (n != 6 || hex_parse_u64(slash, 0xffffff, &mask) < 0)
			return perr(ps, v->line, v->col,
				    "Invalid class '%s' (VALUE/MASK takes 6 hex digits each)",
				    v->text);
	} else {
		mask = n == 2 ? 0xff0000 : n == 4 ? 0xffff00 : 0xffffff;
		val <<= (6 - n) * 4;
	}
	if (val & ~mask)
		return perr(ps, v->line, v->col, "Class '%s' has bits outside its mask", v->text);
	s->has_class = true;
	s->class_value = (uint32_t)val;
	s->class_mask = (uint32_t)mask;
	return 0;
}

/* One device selector. Returns 1 when consumed, 0 when the token is not one. */
static int parse_dev_item(Parser *ps, DevSel *s, unsigned *seen, bool in_pool) {
	Token *kw = peek(ps), *v = NULL;
	uint64_t x;
	int r;

	if (kw->type != T_WORD)
		return 0;
	static const struct {
		const char *kw;
		unsigned bit;
	} table[] = {
		{ "any", DSEEN_ANY },
		{ "*", DSEEN_ANY },
		{ "bdf", DSEEN_BDF },
		{ "vendor", DSEEN_VENDOR },
		{ "device", DSEEN_DEVICE },
		{ "subsystem-vendor", DSEEN_SVENDOR },
		{ "subsystem-device", DSEEN_SDEVICE },
		{ "class", DSEEN_CLASS },
		{ "driver", DSEEN_DRIVER },
		{ "iommu-group", DSEEN_IOMMU_GROUP },
		{ "pool", DSEEN_POOL },
		{ "numa", DSEEN_NUMA },
		{ "property", DSEEN_PROPERTY },
		{ "vdpa", DSEEN_VDPA },
	};
	unsigned bit = 0;
	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		if (streq(kw->text, table[i].kw))
			bit = table[i].bit;
	if (!bit)
		return 0;
	next(ps);
	if ((bit == DSEEN_ANY && *seen) || (bit != DSEEN_ANY && (*seen & DSEEN_ANY)))
		return perr(ps, kw->line, kw->col,
			    "'any' cannot be combined with other device selectors");
	r = mark_seen(ps, kw, seen, bit);
	if (r < 0)
		return r;

	switch (bit) {
	case DSEEN_ANY:
		s->any = true;
		return 1;
	case DSEEN_BDF:
		r = take_value(ps, kw, &v);
		if (r < 0)
			return r;
		if (bdf_parse(v->text, s->bdf) < 0)
			return perr(
				ps, v->line, v->col,
				"Invalid PCI address '%s' (expected dddd:bb:dd.f, 4 to 8 domain "
				"digits)",
				v->text);
		s->has_bdf = true;
		return 1;
	case DSEEN_VENDOR:
		r = parse_hex16(ps, kw, &s->vendor);
		return r < 0 ? r : 1;
	case DSEEN_DEVICE:
		r = parse_hex16(ps, kw, &s->device);
		return r < 0 ? r : 1;
	case DSEEN_SVENDOR:
		r = parse_hex16(ps, kw, &s->subsystem_vendor);
		return r < 0 ? r : 1;
	case DSEEN_SDEVICE:
		r = parse_hex16(ps, kw, &s->subsystem_device);
		return r < 0 ? r : 1;
	case DSEEN_CLASS:
		r = parse_class(ps, kw, s);
		return r < 0 ? r : 1;
	case DSEEN_DRIVER:
		r = parse_glob(ps, kw, &s->driver);
		return r < 0 ? r : 1;
	case DSEEN_VDPA:
		if (in_pool)
			return perr(ps, kw->line, kw->col,
				    "A pool holds PCI functions: 'vdpa' belongs in a rule");
		r = parse_glob(ps, kw, &s->vdpa);
		return r < 0 ? r : 1;
	case DSEEN_IOMMU_GROUP:
		r = take_value(ps, kw, &v);
		if (r < 0)
			return r;
		if (!all_digits(v->text) || num_parse_u64(v->text, INT32_MAX, &x) < 0)
			return perr(ps, v->line, v->col, "Invalid IOMMU group number '%s'",
				    v->text);
		s->iommu_group = (int)x;
		return 1;
	case DSEEN_NUMA:
		r = take_value(ps, kw, &v);
		if (r < 0)
			return r;
		if (!all_digits(v->text) || num_parse_u64(v->text, 65535, &x) < 0)
			return perr(ps, v->line, v->col, "Invalid NUMA node '%s'", v->text);
		s->has_numa = true;
		s->numa = (int)x;
		return 1;
	case DSEEN_POOL:
		if (in_pool)
			return perr(ps, kw->line, kw->col, "A pool cannot refer to another pool");
		r = take_value(ps, kw, &v);
		if (r < 0)
			return r;
		s->pool = strdup(v->text);
		if (!s->pool)
			return -ENOMEM;
		s->pool_line = v->line;
		s->pool_col = v->col;
		return 1;
	case DSEEN_PROPERTY: {
		r = take_value(ps, kw, &v);
		if (r < 0)
			return r;
		const char *eq = strchr(v->text, '=');
		if (!eq || eq == v->text)
			return perr(ps, v->line, v->col,
				    "Invalid property '%s' (expected KEY=GLOB)", v->text);
		s->prop_key = strndup(v->text, (size_t)(eq - v->text));
		s->prop_glob = strdup(eq + 1);
		if (!s->prop_key || !s->prop_glob)
			return -ENOMEM;
		for (const char *c = s->prop_key; *c; c++)
			if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
			      (*c >= 'a' && *c <= 'z')))
				return perr(ps, v->line, v->col, "Invalid property name in '%s'",
					    v->text);
		return 1;
	}
	}
	assert(false);
	return -EINVAL;
}

static void devsel_init(DevSel *s) {
	*s = (DevSel){ .vendor = -1,
		       .device = -1,
		       .subsystem_vendor = -1,
		       .subsystem_device = -1,
		       .iommu_group = -1 };
}

/* ------------------------------------------------------------------------------------- */
/* Grants */

static int parse_list(Parser *ps, const Token *v, char ***ret) {
	/* Comma-separated, no empty elements. */
	_cleanup_strv_free_ char **l = NULL;
	const char *p = v->text;
	for (;;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		if (n == 0)
			return perr(ps, v->line, v->col, "Empty element in list '%s'", v->text);
		char *e = strndup(p, n);
		if (!e || strv_push(&l, e) < 0)
			return -ENOMEM;
		if (!c)
			break;
		p = c + 1;
	}
	*ret = TAKE_PTR(l);
	return 0;
}

static int parse_grant_item(Parser *ps, Rule *rule, unsigned *seen) {
	Token *kw = peek(ps), *v = NULL;
	uint64_t x;
	int r;
	static const struct {
		const char *kw;
		unsigned bit;
	} table[] = {
		{ "mode", GSEEN_MODE },
		{ "layout", GSEEN_LAYOUT },
		{ "max-devices", GSEEN_MAX_DEVICES },
		{ "max-leases", GSEEN_MAX_LEASES },
		{ "memlock", GSEEN_MEMLOCK },
		{ "group", GSEEN_GROUP },
		{ "lifetime", GSEEN_LIFETIME },
		{ "on-revoke", GSEEN_ON_REVOKE },
		{ "share-reset", GSEEN_SHARE_RESET },
		{ "split-sriov", GSEEN_SPLIT_SRIOV },
	};
	unsigned bit = 0;

	if (kw->type != T_WORD)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		if (streq(kw->text, table[i].kw))
			bit = table[i].bit;
	if (!bit)
		return 0;
	next(ps);
	if (rule->kind != RULE_ALLOW)
		return perr(ps, kw->line, kw->col, "'%s' is only valid on allow rules", kw->text);
	r = mark_seen(ps, kw, seen, bit);
	if (r >= 0)
		r = take_value(ps, kw, &v);
	if (r < 0)
		return r;
	PolicyGrant *g = &rule->grant;

	switch (bit) {
	case GSEEN_MODE: {
		_cleanup_strv_free_ char **l = NULL;
		r = parse_list(ps, v, &l);
		if (r < 0)
			return r;
		g->modes = 0;
		for (char **m = l; *m; m++) {
			int mode = policy_mode_from_string(*m);
			if (mode < 0)
				return perr(ps, v->line, v->col,
					    "Unknown mode '%s' (attached, unbound or vhost-vdpa)",
					    *m);
			g->modes |= (unsigned)mode;
		}
		return 1;
	}
	case GSEEN_LAYOUT: {
		r = parse_list(ps, v, &g->layouts);
		if (r < 0)
			return r;
		/* Remember where each name was, to point at it if it does not exist. */
		size_t n = strv_length(g->layouts);
		rule->layout_pos = calloc(2 * n, sizeof(unsigned));
		if (!rule->layout_pos)
			return -ENOMEM;
		unsigned col = v->col + (v->type == T_STRING);
		for (size_t i = 0; i < n; i++) {
			rule->layout_pos[2 * i] = v->line;
			rule->layout_pos[2 * i + 1] = col;
			col += (unsigned)strlen(g->layouts[i]) + 1;
		}
		return 1;
	}
	case GSEEN_MAX_DEVICES:
	case GSEEN_MAX_LEASES:
		if (!all_digits(v->text) || num_parse_u64(v->text, 65535, &x) < 0)
			return perr(ps, v->line, v->col,
				    "Invalid %s '%s' (0 = unlimited, at most 65535)", kw->text,
				    v->text);
		if (bit == GSEEN_MAX_DEVICES)
			g->max_devices = (unsigned)x;
		else
			g->max_leases = (unsigned)x;
		return 1;
	case GSEEN_MEMLOCK:
		if (parse_bytes(v->text, &x) < 0)
			return perr(
				ps, v->line, v->col,
				"Invalid memlock '%s' (bytes, with K, M, G, T or KiB, MiB, GiB, "
				"TiB for powers of 1024, kB, MB, GB, TB for powers of 1000, or "
				"infinity)",
				v->text);
		g->memlock = x;
		return 1;
	case GSEEN_GROUP: {
		int e = policy_group_mode_from_string(v->text);
		if (e < 0)
			return perr(ps, v->line, v->col,
				    "Unknown group policy '%s' (whole or implicit)", v->text);
		g->group_mode = (PolicyGroupMode)e;
		return 1;
	}
	case GSEEN_LIFETIME: {
		int e = policy_lifetime_from_string(v->text);
		if (e < 0)
			return perr(ps, v->line, v->col,
				    "Unknown lifetime '%s' (connection or process)", v->text);
		g->lifetime = (PolicyLifetime)e;
		return 1;
	}
	case GSEEN_ON_REVOKE: {
		int e = policy_on_revoke_from_string(v->text);
		if (e < 0)
			return perr(ps, v->line, v->col,
				    "Unknown on-revoke '%s' (detach, detach+reset or signal)",
				    v->text);
		g->on_revoke = (PolicyOnRevoke)e;
		return 1;
	}
	case GSEEN_SHARE_RESET:
	case GSEEN_SPLIT_SRIOV: {
		bool yes;
		if (streq(v->text, "yes"))
			yes = true;
		else if (streq(v->text, "no"))
			yes = false;
		else
			return perr(ps, v->line, v->col, "Expected yes or no after '%s', got '%s'",
				    kw->text, v->text);
		if (bit == GSEEN_SHARE_RESET)
			g->share_reset = yes;
		else
			g->split_sriov = yes;
		return 1;
	}
	}
	assert(false);
	return -EINVAL;
}

/* ------------------------------------------------------------------------------------- */
/* Statements */

static int rule_append(Policy *p, Rule **ret) {
	if (p->n_rules >= POLICY_MAX_RULES)
		return -E2BIG;
	if (p->n_rules == p->cap_rules) {
		size_t cap = p->cap_rules ? p->cap_rules * 2 : 16;
		Rule *n = reallocarray(p->rules, cap, sizeof(Rule));
		if (!n)
			return -ENOMEM;
		p->rules = n;
		p->cap_rules = cap;
	}
	*ret = &p->rules[p->n_rules++];
	return 0;
}

static int parse_rule(Parser *ps, Token *kw) {
	Rule *rule;
	unsigned iseen = 0, dseen = 0, gseen = 0;
	int r;

	r = rule_append(ps->p, &rule);
	if (r == -E2BIG)
		return perr(ps, kw->line, kw->col, "More than %u rules", POLICY_MAX_RULES);
	if (r < 0)
		return r;
	*rule = (Rule){
		.kind = streq(kw->text, "allow")  ? RULE_ALLOW
			: streq(kw->text, "deny") ? RULE_DENY
						  : RULE_ADMIN,
		.line = kw->line,
		.grant = { .modes = POLICY_MODE_ATTACHED,
			   .group_mode = POLICY_GROUP_WHOLE,
			   .lifetime = POLICY_LIFETIME_CONNECTION,
			   .on_revoke = POLICY_REVOKE_DETACH },
	};
	devsel_init(&rule->dev);
	if (rule->kind == RULE_ADMIN)
		ps->p->n_admin++;

	while ((r = parse_ident_item(ps, &rule->id, &iseen)) > 0)
		;
	if (r < 0)
		return r;
	Token *t = peek(ps);
	if (!iseen)
		return perr(ps, t->line, t->col,
			    at_end(t) ? "Rule needs an identity selector (user, group, uid, unit, "
					"user-unit, cgroup, label, or '*' for everyone)"
				      : "Expected an identity selector (user, group, uid, unit, "
					"user-unit, cgroup, label or '*'), got '%s'",
			    tok_describe(t));
	/* Below user@UID.service every name is chosen by that user: a user unit says who
	 * only together with the uid that owns it. */
	if (rule->id.user_unit && !rule->id.has_uid && !rule->id.has_uid_range)
		return perr(ps, rule->id.user_unit_line, rule->id.user_unit_col,
			    "'user-unit' needs a 'user' or 'uid' selector in the same rule: any "
			    "user can name a unit of their own systemd manager '%s'",
			    rule->id.user_unit);

	if (is_kw(t, "to")) {
		if (rule->kind == RULE_ADMIN)
			return perr(ps, t->line, t->col,
				    "An admin rule names only who: no 'to' part");
		next(ps);
		while ((r = parse_dev_item(ps, &rule->dev, &dseen, false)) > 0)
			;
		if (r < 0)
			return r;
		if (!dseen) {
			Token *u = peek(ps);
			return perr(ps, u->line, u->col,
				    "Expected a device selector after 'to' (bdf, vendor, device, "
				    "subsystem-vendor, subsystem-device, class, driver, "
				    "iommu-group, pool, numa, property, vdpa or any), got '%s'",
				    tok_describe(u));
		}
	} else if (rule->kind == RULE_ALLOW) {
		return perr(ps, t->line, t->col,
			    at_end(t) ? "An allow rule needs 'to' and a device selector (write "
					"'to any' for every device)"
				      : "Expected 'to' or another identity selector, got '%s'",
			    tok_describe(t));
	} else
		rule->dev.any = true;

	while ((r = parse_grant_item(ps, rule, &gseen)) > 0)
		;
	if (r < 0)
		return r;
	t = peek(ps);
	if (!at_end(t)) {
		if (rule->kind == RULE_ALLOW)
			return perr(
				ps, t->line, t->col,
				"Unknown word '%s' in rule (expected a device selector or mode, "
				"layout, max-devices, max-leases, memlock, group, lifetime, "
				"on-revoke, share-reset, split-sriov)",
				tok_describe(t));
		return perr(ps, t->line, t->col, "Unexpected '%s' in %s rule", tok_describe(t),
			    kw->text);
	}
	if (rule->kind == RULE_ALLOW && rule->grant.modes == 0)
		return perr(ps, kw->line, kw->col, "Rule grants no mode");
	/* vDPA devices are handed out as /dev/vhost-vdpa-N only, and nothing else is. */
	if (rule->kind == RULE_ALLOW && rule->dev.vdpa) {
		if (!(gseen & GSEEN_MODE))
			rule->grant.modes = POLICY_MODE_VHOST_VDPA;
		else if (rule->grant.modes != POLICY_MODE_VHOST_VDPA)
			return perr(ps, kw->line, kw->col,
				    "A 'vdpa' rule grants mode vhost-vdpa only");
	} else if (rule->kind == RULE_ALLOW && (rule->grant.modes & POLICY_MODE_VHOST_VDPA))
		return perr(ps, kw->line, kw->col,
			    "Mode vhost-vdpa needs a 'vdpa' device selector in the rule");
	return 0;
}

static int parse_setting(Parser *ps, Token *kw) {
	Token *v = NULL;
	uint64_t x;
	unsigned *first;
	int r;

	if (streq(kw->text, "socket-group"))
		first = &ps->line_socket_group;
	else if (streq(kw->text, "allow-noiommu"))
		first = &ps->line_allow_noiommu;
	else if (streq(kw->text, "max-connections-per-uid"))
		first = &ps->line_max_conn;
	else if (streq(kw->text, "stage-timeout"))
		first = &ps->line_stage_timeout;
	else
		first = &ps->line_idle;
	if (*first)
		return perr(ps, kw->line, kw->col, "Duplicate setting '%s' (first set on line %u)",
			    kw->text, *first);
	*first = kw->line;

	r = take_value(ps, kw, &v);
	if (r < 0)
		return r;
	PolicySettings *s = &ps->p->settings;
	if (streq(kw->text, "socket-group")) {
		gid_t gid;
		r = resolve_id(ps, v, true, &gid);
		if (r < 0)
			return r;
		s->socket_group = strdup(v->text);
		if (!s->socket_group)
			return -ENOMEM;
	} else if (streq(kw->text, "allow-noiommu")) {
		if (streq(v->text, "yes") || streq(v->text, "true") || streq(v->text, "on"))
			s->allow_noiommu = true;
		else if (streq(v->text, "no") || streq(v->text, "false") || streq(v->text, "off"))
			s->allow_noiommu = false;
		else
			return perr(ps, v->line, v->col, "Expected yes or no, got '%s'", v->text);
	} else if (streq(kw->text, "max-connections-per-uid")) {
		if (!all_digits(v->text) ||
		    num_parse_u64(v->text, IOASID_MAX_CONNECTIONS, &x) < 0 || x == 0)
			return perr(ps, v->line, v->col,
				    "Invalid max-connections-per-uid '%s' (1..%d)", v->text,
				    IOASID_MAX_CONNECTIONS);
		s->max_connections_per_uid = (unsigned)x;
	} else if (streq(kw->text, "stage-timeout")) {
		if (!all_digits(v->text) ||
		    num_parse_u64(v->text, IOASID_STAGE_TIMEOUT_MAX, &x) < 0 || x == 0)
			return perr(ps, v->line, v->col,
				    "Invalid stage-timeout '%s' (1..%d seconds)", v->text,
				    IOASID_STAGE_TIMEOUT_MAX);
		s->stage_timeout_sec = (unsigned)x;
	} else {
		if (!all_digits(v->text) || num_parse_u64(v->text, 86400, &x) < 0 || x == 0)
			return perr(ps, v->line, v->col,
				    "Invalid idle-timeout '%s' (1..86400 seconds)", v->text);
		s->idle_timeout_sec = (unsigned)x;
	}
	return expect_end(ps, "the setting's value");
}

static int take_block_name(Parser *ps, Token *kw, Token **ret) {
	Token *v = NULL;
	int r = take_value(ps, kw, &v);
	if (r < 0)
		return r;
	if (!name_valid(v->text))
		return perr(ps, v->line, v->col,
			    "Invalid %s name '%s' (letters, digits, '-', '_', '.'; at most 64)",
			    kw->text, v->text);
	Token *b = peek(ps);
	if (b->type != T_LBRACE)
		return perr(ps, b->line, b->col, "Expected '{' after %s name, got '%s'", kw->text,
			    tok_describe(b));
	next(ps);
	*ret = v;
	return 0;
}

static void skip_separators(Parser *ps) {
	while (peek(ps)->type == T_NL || peek(ps)->type == T_SEMI)
		next(ps);
}

static int expect_block_end(Parser *ps, Token *open_kw) {
	Token *t = peek(ps);
	if (t->type == T_EOF)
		return perr(ps, open_kw->line, open_kw->col,
			    "Unterminated '%s' block (missing '}')", open_kw->text);
	if (t->type != T_RBRACE)
		return 0;
	next(ps);
	return expect_end(ps, "'}'") < 0 ? -EINVAL : 1;
}

static int parse_pool(Parser *ps, Token *kw) {
	Token *name = NULL;
	unsigned seen = 0;
	int r = take_block_name(ps, kw, &name);
	if (r < 0)
		return r;
	Policy *p = ps->p;
	for (size_t i = 0; i < p->n_pools; i++)
		if (streq(p->pools[i].name, name->text))
			return perr(ps, name->line, name->col,
				    "Duplicate pool '%s' (first defined on line %u)", name->text,
				    p->pools[i].line);
	Pool *n = reallocarray(p->pools, p->n_pools + 1, sizeof(Pool));
	if (!n)
		return -ENOMEM;
	p->pools = n;
	Pool *pool = &p->pools[p->n_pools++];
	*pool = (Pool){ .line = kw->line };
	devsel_init(&pool->sel);
	pool->name = strdup(name->text);
	if (!pool->name)
		return -ENOMEM;

	for (;;) {
		skip_separators(ps);
		r = expect_block_end(ps, kw);
		if (r < 0)
			return r;
		if (r > 0)
			break;
		r = parse_dev_item(ps, &pool->sel, &seen, true);
		if (r < 0)
			return r;
		if (r == 0) {
			Token *t = peek(ps);
			return perr(ps, t->line, t->col, "Unknown device selector '%s' in pool",
				    tok_describe(t));
		}
	}
	if (!seen)
		return perr(ps, kw->line, kw->col, "Pool '%s' has no selector (use 'any')",
			    pool->name);
	return 0;
}

static int parse_range(Parser *ps, Token *v, IovaRange *ret) {
	const char *dash = strchr(v->text, '-');
	char lo[40];
	uint64_t a, b;
	if (!dash || dash == v->text || (size_t)(dash - v->text) >= sizeof(lo))
		return perr(ps, v->line, v->col, "Invalid IOVA window '%s' (expected START-LAST)",
			    v->text);
	memcpy(lo, v->text, (size_t)(dash - v->text));
	lo[dash - v->text] = '\0';
	if (num_parse_u64(lo, UINT64_MAX, &a) < 0 || num_parse_u64(dash + 1, UINT64_MAX, &b) < 0)
		return perr(ps, v->line, v->col, "Invalid IOVA window '%s' (expected START-LAST)",
			    v->text);
	if (a > b)
		return perr(ps, v->line, v->col, "Empty IOVA window '%s' (start > last)", v->text);
	if ((a & 0xfff) || ((b & 0xfff) != 0xfff))
		return perr(ps, v->line, v->col,
			    "IOVA window '%s' is not 4 KiB aligned (start must end in 000, last "
			    "in fff)",
			    v->text);
	*ret = (IovaRange){ a, b };
	return 0;
}

static int cmp_range(const void *a, const void *b) {
	const IovaRange *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static const char *const known_caps[] = { "dirty-tracking", "nesting", "pasid",
					  "enforce-cache-coherency" };

static int parse_layout(Parser *ps, Token *kw) {
	Token *name = NULL;
	bool seen_iova = false, seen_acc = false, seen_huge = false, seen_req = false;
	int r = take_block_name(ps, kw, &name);
	if (r < 0)
		return r;
	Policy *p = ps->p;
	for (size_t i = 0; i < p->n_layouts; i++)
		if (streq(p->layouts[i].name, name->text))
			return perr(ps, name->line, name->col,
				    "Duplicate layout '%s' (first defined on line %u)", name->text,
				    p->layouts[i].line);
	PolicyLayout *n = reallocarray(p->layouts, p->n_layouts + 1, sizeof(PolicyLayout));
	if (!n)
		return -ENOMEM;
	p->layouts = n;
	PolicyLayout *l = &p->layouts[p->n_layouts++];
	*l = (PolicyLayout){ .accounting = POLICY_ACCOUNTING_USER,
			     .huge_pages = true,
			     .file = p->name,
			     .line = kw->line };
	l->name = strdup(name->text);
	if (!l->name)
		return -ENOMEM;

	for (;;) {
		skip_separators(ps);
		r = expect_block_end(ps, kw);
		if (r < 0)
			return r;
		if (r > 0)
			break;
		Token *k = next(ps), *v = NULL;
		bool *seen;
		if (is_kw(k, "iova"))
			seen = &seen_iova;
		else if (is_kw(k, "accounting"))
			seen = &seen_acc;
		else if (is_kw(k, "hugepages"))
			seen = &seen_huge;
		else if (is_kw(k, "require"))
			seen = &seen_req;
		else if (is_kw(k, "map") || is_kw(k, "premap"))
			return perr(ps, k->line, k->col,
				    "Pre-mapped regions are not allowed: the daemon never maps "
				    "memory on a client's behalf");
		else
			return perr(ps, k->line, k->col,
				    "Unknown layout setting '%s' (iova, accounting, hugepages, "
				    "require)",
				    tok_describe(k));
		if (*seen)
			return perr(ps, k->line, k->col, "Duplicate '%s' in layout '%s'", k->text,
				    l->name);
		*seen = true;
		r = take_value(ps, k, &v);
		if (r < 0)
			return r;

		if (streq(k->text, "iova") && streq(v->text, "auto") && v->type == T_WORD) {
			/* iova auto [max ADDR] */
			l->iova_auto = true;
			l->iova_max = UINT64_MAX;
			Token *t = peek(ps);
			if (t->type == T_WORD && streq(t->text, "max")) {
				next(ps);
				Token *m = next(ps);
				if (m->type != T_WORD ||
				    num_parse_u64(m->text, UINT64_MAX, &l->iova_max) < 0)
					return perr(
						ps, m->line, m->col,
						"Expected an address after 'iova auto max', got "
						"'%s'",
						tok_describe(m));
				if ((l->iova_max & 0xfff) != 0xfff)
					return perr(
						ps, m->line, m->col,
						"'iova auto max %s' is not the last address of a "
						"4 KiB page (it must end in fff)",
						m->text);
			}
		} else if (streq(k->text, "iova")) {
			for (;;) {
				IovaRange w;
				r = parse_range(ps, v, &w);
				if (r < 0)
					return r;
				IovaRange *nw = reallocarray(l->windows, l->n_windows + 1,
							     sizeof(IovaRange));
				if (!nw)
					return -ENOMEM;
				l->windows = nw;
				l->windows[l->n_windows++] = w;
				if (l->n_windows > 64)
					return perr(ps, v->line, v->col,
						    "More than 64 IOVA windows");
				Token *t = peek(ps);
				if (t->type != T_WORD && t->type != T_STRING)
					break;
				v = next(ps);
			}
			qsort(l->windows, l->n_windows, sizeof(IovaRange), cmp_range);
			for (size_t i = 1; i < l->n_windows; i++)
				if (l->windows[i].start <= l->windows[i - 1].last)
					return perr(ps, k->line, k->col,
						    "IOVA windows 0x%" PRIx64 "-0x%" PRIx64
						    " and 0x%" PRIx64 "-0x%" PRIx64 " overlap",
						    l->windows[i - 1].start, l->windows[i - 1].last,
						    l->windows[i].start, l->windows[i].last);
		} else if (streq(k->text, "accounting")) {
			int e = policy_accounting_from_string(v->text);
			if (e < 0)
				return perr(ps, v->line, v->col,
					    "Unknown accounting '%s' (user or process)", v->text);
			l->accounting = (PolicyAccounting)e;
		} else if (streq(k->text, "hugepages")) {
			if (streq(v->text, "on") || streq(v->text, "yes"))
				l->huge_pages = true;
			else if (streq(v->text, "off") || streq(v->text, "no"))
				l->huge_pages = false;
			else
				return perr(ps, v->line, v->col, "Expected on or off, got '%s'",
					    v->text);
		} else {
			r = parse_list(ps, v, &l->require);
			if (r < 0)
				return r;
			for (char **c = l->require; *c; c++) {
				bool ok = false;
				for (size_t i = 0; i < ELEMENTSOF(known_caps); i++)
					ok = ok || streq(*c, known_caps[i]);
				if (!ok)
					return perr(ps, v->line, v->col,
						    "Unknown capability '%s' (dirty-tracking, "
						    "nesting, pasid, enforce-cache-coherency)",
						    *c);
			}
		}
		Token *t = peek(ps);
		if (!at_end(t) && t->type != T_RBRACE)
			return perr(ps, t->line, t->col, "Unexpected '%s' after '%s' in layout",
				    tok_describe(t), k->text);
	}
	return 0;
}

static int parse_file(Parser *ps) {
	int r;
	for (;;) {
		skip_separators(ps);
		Token *kw = peek(ps);
		if (kw->type == T_EOF)
			return 0;
		if (kw->type != T_WORD)
			return perr(ps, kw->line, kw->col,
				    "Unexpected '%s' at the start of a statement",
				    tok_describe(kw));
		next(ps);
		if (streq(kw->text, "allow") || streq(kw->text, "deny") || streq(kw->text, "admin"))
			r = parse_rule(ps, kw);
		else if (streq(kw->text, "pool"))
			r = parse_pool(ps, kw);
		else if (streq(kw->text, "layout"))
			r = parse_layout(ps, kw);
		else if (streq(kw->text, "socket-group") || streq(kw->text, "allow-noiommu") ||
			 streq(kw->text, "max-connections-per-uid") ||
			 streq(kw->text, "idle-timeout") || streq(kw->text, "stage-timeout"))
			r = parse_setting(ps, kw);
		else
			r = perr(ps, kw->line, kw->col,
				 "Unknown keyword '%s' (expected allow, deny, admin, pool, layout, "
				 "socket-group, allow-noiommu, max-connections-per-uid, "
				 "idle-timeout or stage-timeout)",
				 kw->text);
		if (r < 0)
			return r;
	}
}

/* References may point forward: resolve them once everything is read. */
static int resolve_references(Parser *ps) {
	Policy *p = ps->p;
	for (size_t i = 0; i < p->n_rules; i++) {
		Rule *rule = &p->rules[i];
		if (rule->dev.pool) {
			bool found = false;
			for (size_t j = 0; j < p->n_pools && !found; j++)
				if (streq(p->pools[j].name, rule->dev.pool)) {
					rule->dev.pool_index = j;
					found = true;
				}
			if (!found)
				return perr(ps, rule->dev.pool_line, rule->dev.pool_col,
					    "Unknown pool '%s'", rule->dev.pool);
		}
		size_t k = 0;
		for (char **l = rule->grant.layouts; l && *l; l++, k++)
			if (!policy_find_layout(p, *l))
				return perr(ps, rule->layout_pos[2 * k],
					    rule->layout_pos[2 * k + 1], "Unknown layout '%s'", *l);
	}
	return 0;
}

/* Two identical rules: the second can never decide anything, which is a mistake worth
 * stopping for (E7: not silently ignored). Compared on the canonical form, so spelling
 * differences ("vendor 10DE" and "vendor 0x10de") do not hide a duplicate. */
typedef struct RuleText {
	uint64_t hash;
	size_t index;
	char *text;
} RuleText;

static int cmp_rule_text(const void *a, const void *b) {
	const RuleText *x = a, *y = b;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int check_duplicate_rules(Parser *ps) {
	Policy *p = ps->p;
	size_t n = p->n_rules, dup = SIZE_MAX, first = 0;
	int r = 0;

	if (n < 2)
		return 0;
	RuleText *t = calloc(n, sizeof(RuleText));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = policy_rule_to_string(p, i, NULL, &t[i].text);
		if (r < 0)
			break;
		uint64_t h = 14695981039346656037ULL;
		for (const char *c = t[i].text; *c; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ULL;
		t[i].hash = h;
		t[i].index = i;
	}
	if (r >= 0) {
		qsort(t, n, sizeof(RuleText), cmp_rule_text);
		for (size_t i = 1; i < n; i++) {
			/* Within a run of equal hashes, compare with every earlier member. */
			for (size_t j = i; j > 0 && t[j - 1].hash == t[i].hash; j--)
				if (streq(t[j - 1].text, t[i].text) && t[i].index < dup) {
					dup = t[i].index;
					first = t[j - 1].index;
				}
		}
	}
	for (size_t i = 0; i < n; i++)
		free(t[i].text);
	free(t);
	if (r < 0)
		return r;
	if (dup != SIZE_MAX)
		return perr(ps, p->rules[dup].line, 1,
			    "Duplicate rule: same as the rule on line %u, so it can never match",
			    p->rules[first].line);
	return 0;
}

/* ------------------------------------------------------------------------------------- */
/* Entry points */

static void identsel_done(IdentSel *s) {
	free(s->user_name);
	free(s->group_name);
	free(s->unit);
	free(s->user_unit);
	free(s->cgroup);
	free(s->label);
}

static void devsel_done(DevSel *s) {
	free(s->driver);
	free(s->pool);
	free(s->prop_key);
	free(s->prop_glob);
	free(s->vdpa);
}

Policy *policy_free(Policy *p) {
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n_rules; i++) {
		identsel_done(&p->rules[i].id);
		devsel_done(&p->rules[i].dev);
		strv_free(p->rules[i].grant.layouts);
		free(p->rules[i].layout_pos);
	}
	free(p->rules);
	for (size_t i = 0; i < p->n_pools; i++) {
		free(p->pools[i].name);
		devsel_done(&p->pools[i].sel);
	}
	free(p->pools);
	for (size_t i = 0; i < p->n_layouts; i++) {
		free(p->layouts[i].name);
		free(p->layouts[i].windows);
		strv_free(p->layouts[i].require);
	}
	free(p->layouts);
	free(p->settings.socket_group);
	policy_index_free(&p->index);
	free(p->name);
	free(p);
	return NULL;
}

void policy_error_done(PolicyError *e) {
	if (!e)
		return;
	free(e->file);
	free(e->message);
	*e = (PolicyError){};
}

static int policy_load_buffer(const char *text, size_t size, const char *name,
			      const PolicyLoadOptions *opts, Policy **ret, PolicyError *ret_error) {
	PolicyError scratch = {};
	Parser ps = {
		.name = name,
		.err = ret_error ? ret_error : &scratch,
		.resolver = opts && opts->resolver ? opts->resolver : &default_resolver,
	};
	int r;

	if (ret_error)
		*ret_error = (PolicyError){};
	_cleanup_policy_free_ Policy *p = calloc(1, sizeof(Policy));
	if (!p)
		return -ENOMEM;
	p->name = strdup(name);
	if (!p->name)
		return -ENOMEM;
	p->generation = opts ? opts->generation : 0;
	p->settings = (PolicySettings){ .max_connections_per_uid = IOASID_MAX_CONNECTIONS_PER_UID,
					.idle_timeout_sec = IOASID_IDLE_TIMEOUT_SEC,
					.stage_timeout_sec = IOASID_STAGE_TIMEOUT_SEC };
	ps.p = p;

	r = lex(&ps, text, size);
	if (r >= 0)
		r = parse_file(&ps);
	if (r >= 0)
		r = resolve_references(&ps);
	if (r >= 0)
		r = check_duplicate_rules(&ps);
	if (r >= 0)
		r = policy_index_build(p);
	for (size_t i = 0; i < ps.n_toks; i++)
		free(ps.toks[i].text);
	free(ps.toks);
	/* Positions were only needed for errors. */
	for (size_t i = 0; i < p->n_rules; i++) {
		free(p->rules[i].layout_pos);
		p->rules[i].layout_pos = NULL;
	}
	policy_error_done(&scratch);
	if (r < 0) {
		if (r == -ENOMEM && ret_error)
			policy_error_done(ret_error);
		return r;
	}
	*ret = TAKE_PTR(p);
	return 0;
}

int policy_load_string(const char *text, const char *name, const PolicyLoadOptions *opts,
		       Policy **ret, PolicyError *ret_error) {
	assert(text);
	assert(ret);
	return policy_load_buffer(text, strlen(text), name ? name : "<string>", opts, ret,
				  ret_error);
}

static int file_error(PolicyError *e, const char *path, int r, const char *fmt, ...) _printf_(4, 5);
static int file_error(PolicyError *e, const char *path, int r, const char *fmt, ...) {
	if (e) {
		va_list ap;
		*e = (PolicyError){ .file = strdup(path) };
		va_start(ap, fmt);
		if (vasprintf(&e->message, fmt, ap) < 0)
			e->message = NULL;
		va_end(ap);
	}
	return r;
}

/* What trusted_path_open() refuses, as opposed to what it could not do. */
#define IN_SET_REFUSAL(r) ((r) == -EPERM || (r) == -EINVAL || (r) == -ELOOP || (r) == -ESTALE)

/* A draft (no owner check): any path the caller can read, but never anything that could
 * block or act on open (a FIFO, a device node): refused before it is opened. */
static int open_draft(const char *path, int *ret_fd, struct stat *ret_st, PolicyError *e) {
	struct stat st;
	if (stat(path, &st) < 0) {
		int r = -errno;
		return file_error(e, path, r, "Cannot open: %s", strerror(-r));
	}
	if (!S_ISREG(st.st_mode))
		return file_error(e, path, -EINVAL, "Not a regular file: it is %s",
				  trusted_path_type_name(&st));
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int r = -errno;
		return file_error(e, path, r, "Cannot open: %s", strerror(-r));
	}
	if (fstat(fd, ret_st) < 0) {
		int r = -errno;
		return file_error(e, path, r, "Cannot stat: %s", strerror(-r));
	}
	if (!S_ISREG(ret_st->st_mode))
		return file_error(e, path, -EINVAL, "Not a regular file: it is %s",
				  trusted_path_type_name(ret_st));
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int policy_load(const char *path, const PolicyLoadOptions *opts, Policy **ret,
		PolicyError *ret_error) {
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	int r;
	assert(path);
	assert(ret);

	if (ret_error)
		*ret_error = (PolicyError){};
	if (opts && opts->check_owner) {
		/* The policy is the daemon's only gate: whoever can write it, or point its path
		 * elsewhere, owns every device. */
		_cleanup_free_ char *why = NULL;
		r = trusted_path_open(path, &fd, &st, &why);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return file_error(ret_error, path, r, "%s: %s",
					  IN_SET_REFUSAL(r) ? "Refusing it" : "Cannot open", why);
	} else {
		r = open_draft(path, &fd, &st, ret_error);
		if (r < 0)
			return r;
	}
	if ((uint64_t)st.st_size > POLICY_MAX_FILE_SIZE)
		return file_error(ret_error, path, -EFBIG, "Larger than %u bytes",
				  POLICY_MAX_FILE_SIZE);

	_cleanup_free_ char *buf = malloc(POLICY_MAX_FILE_SIZE + 1);
	if (!buf)
		return -ENOMEM;
	size_t n = 0;
	for (;;) {
		ssize_t k = read(fd, buf + n, POLICY_MAX_FILE_SIZE + 1 - n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			return file_error(ret_error, path, r, "Cannot read: %s", strerror(-r));
		}
		if (k == 0)
			break;
		n += (size_t)k;
		if (n > POLICY_MAX_FILE_SIZE)
			return file_error(ret_error, path, -EFBIG, "Larger than %u bytes",
					  POLICY_MAX_FILE_SIZE);
	}
	buf[n] = '\0';
	return policy_load_buffer(buf, n, path, opts, ret, ret_error);
}
