/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * systemd's reading of a cgroup path, written from the rules of systemd 252
 * (src/basic/cgroup-util.c, unit-name.c, user-util.c, login-util.c), on spans of the path so
 * that nothing is allocated:
 *   - components are separated by one or more '/'; a trailing '/' adds nothing;
 *   - systemd prefixes a cgroup name with '_' when the unit name could clash with a kernel
 *     file (cg_escape()); one leading '_' is dropped before a name is judged;
 *   - the leading components that are valid plain slice names are the slices; the first
 *     component after them is the unit when it is a valid plain or instance unit name and
 *     not a slice, else there is none (systemd does not look further);
 *   - the user unit is read the same way from what follows the slices and then either
 *     user@UID.service (a user manager) or session-ID.scope (a login session);
 *   - the owner uid is the UID of the innermost leading slice when it is user-UID.slice.
 * The test suite checks this against libsystemd itself (cgroup-identity suite).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/cgroup-identity.h"
#include "common/macro.h"

/* PATH_MAX: /proc/PID/cgroup never shows more. */
#define CGROUP_PATH_MAX 4096

typedef struct Span {
	const char *p;
	size_t n;
} Span;

/* The component at *p (after any '/'), with *p moved past it; n is 0 at the end. */
static Span next_component(const char **p) {
	const char *s = *p + strspn(*p, "/");
	size_t n = strcspn(s, "/");
	*p = s + n;
	return (Span){ s, n };
}

static bool span_starts(Span s, const char *prefix) {
	size_t k = strlen(prefix);
	return s.n >= k && memcmp(s.p, prefix, k) == 0;
}

static bool span_ends(Span s, const char *suffix) {
	size_t k = strlen(suffix);
	return s.n >= k && memcmp(s.p + s.n - k, suffix, k) == 0;
}

static bool span_is(Span s, const char *word) {
	return s.n == strlen(word) && memcmp(s.p, word, s.n) == 0;
}

static Span cg_unescaped(Span s) {
	if (s.n > 0 && s.p[0] == '_')
		return (Span){ s.p + 1, s.n - 1 };
	return s;
}

static bool ascii_alnum(char c) {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Characters of a unit name before its type suffix, '@' aside. */
static bool unit_char(char c) {
	return ascii_alnum(c) || c == ':' || c == '-' || c == '_' || c == '.' || c == '\\';
}

static const char *const unit_types[] = {
	"service", "socket", "target", "device", "mount", "automount",
	"swap",    "timer",  "path",   "slice",  "scope",
};

enum { NAME_PLAIN = 1 << 0, NAME_INSTANCE = 1 << 1 };

static bool unit_name_valid(Span s, unsigned flags) {
	if (s.n == 0 || s.n >= CGROUP_UNIT_NAME_MAX)
		return false;
	const char *dot = memrchr(s.p, '.', s.n);
	if (!dot || dot == s.p)
		return false;
	Span type = { dot + 1, s.n - (size_t)(dot + 1 - s.p) };
	bool known = false;
	for (size_t i = 0; i < ELEMENTSOF(unit_types) && !known; i++)
		known = span_is(type, unit_types[i]);
	if (!known)
		return false;

	const char *at = NULL;
	for (const char *c = s.p; c < dot; c++) {
		if (*c == '@') {
			if (!at)
				at = c;
		} else if (!unit_char(*c))
			return false;
	}
	if (at == s.p)
		return false; /* "@foo.service": no prefix */
	if (!at)
		return flags & NAME_PLAIN;
	return (flags & NAME_INSTANCE) && dot > at + 1; /* "foo@.service" is a template */
}

static bool is_slice(Span c) {
	return c.n >= strlen("x.slice") && span_ends(c, ".slice") &&
	       unit_name_valid(cg_unescaped(c), NAME_PLAIN);
}

/* Moves *p past the leading slices; returns the innermost one (n == 0 when none). */
static Span skip_slices(const char **p) {
	Span last = { NULL, 0 };
	for (;;) {
		const char *q = *p;
		Span c = next_component(&q);
		if (!is_slice(c))
			return last;
		last = c;
		*p = q;
	}
}

/* A cgroup name that names a unit, unescaped into ret. */
static bool decode_unit(Span c, char ret[static CGROUP_UNIT_NAME_MAX]) {
	if (c.n < 3)
		return false;
	Span u = cg_unescaped(c);
	if (!unit_name_valid(u, NAME_PLAIN | NAME_INSTANCE))
		return false;
	memcpy(ret, u.p, u.n);
	ret[u.n] = '\0';
	return true;
}

/* The first unit below the leading slices of p (sd_pid_get_unit()), "" when none. */
static void unit_below_slices(const char *p, char ret[static CGROUP_UNIT_NAME_MAX]) {
	skip_slices(&p);
	Span c = next_component(&p);
	if (!decode_unit(c, ret) || span_ends((Span){ ret, strlen(ret) }, ".slice"))
		ret[0] = '\0';
}

/* systemd's parse_uid(): decimal, no sign, no leading zero, 32 bits, not -1 nor the 16-bit
 * -1 (65535). */
static bool parse_uid_span(Span s, uid_t *ret) {
	if (s.n == 0 || s.n > 10 || (s.p[0] == '0' && s.n > 1))
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	if (v > UINT32_MAX || v == UINT32_MAX || v == 0xFFFF)
		return false;
	*ret = (uid_t)v;
	return true;
}

static bool is_user_manager(Span c) {
	uid_t uid;
	return c.n >= strlen("user@x.service") && span_starts(c, "user@") &&
	       span_ends(c, ".service") &&
	       parse_uid_span((Span){ c.p + 5, c.n - 5 - strlen(".service") }, &uid);
}

static bool is_session(Span c) {
	if (c.n < strlen("session-x.scope") || !span_starts(c, "session-") ||
	    !span_ends(c, ".scope"))
		return false;
	for (size_t i = strlen("session-"); i < c.n - strlen(".scope"); i++)
		if (!ascii_alnum(c.p[i]))
			return false;
	return true;
}

static bool path_is_kernel_cgroup(const char *path) {
	if (!path || path[0] != '/' || strnlen(path, CGROUP_PATH_MAX) >= CGROUP_PATH_MAX)
		return false;
	for (const char *p = path;;) {
		Span c = next_component(&p);
		if (c.n == 0)
			return true;
		if (span_is(c, ".") || span_is(c, ".."))
			return false;
	}
}

int cgroup_identity_from_path(const char *path, CgroupIdentity *ret) {
	CgroupIdentity id = { .owner_uid = (uid_t)-1 };

	if (!path_is_kernel_cgroup(path))
		return -EINVAL;

	unit_below_slices(path, id.unit);

	const char *p = path;
	Span slice = skip_slices(&p);
	Span c = next_component(&p);
	if (is_user_manager(c) || is_session(c))
		unit_below_slices(p, id.user_unit);

	if (slice.n == 0)
		strcpy(id.slice, "-.slice");
	else if (!decode_unit(slice, id.slice))
		id.slice[0] = '\0'; /* cannot happen: is_slice() is stricter */

	Span s = { id.slice, strlen(id.slice) };
	if (span_starts(s, "user-") && span_ends(s, ".slice")) {
		uid_t uid;
		if (parse_uid_span((Span){ s.p + 5, s.n - 5 - strlen(".slice") }, &uid))
			id.owner_uid = uid;
	}

	*ret = id;
	return 0;
}

bool cgroup_unit_name_is_valid(const char *name) {
	return name && unit_name_valid((Span){ name, strlen(name) }, NAME_PLAIN | NAME_INSTANCE);
}
