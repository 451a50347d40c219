/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The RLIMIT_MEMLOCK that pam_limits(8) gives a user's sessions, evaluated from the text of
 * limits.conf(5) files. Pure: no logging, no NSS lookups (the caller resolves the user's
 * groups), file access only in limits_conf_read_memlock().
 *
 * Semantics, as Linux-PAM 1.5's modules/pam_limits/pam_limits.c implements them:
 *
 *  - Files: <root>/etc/security/limits.conf (a missing file counts as empty), then every
 *    <root>/etc/security/limits.d/ *.conf sorted by name with strcmp(): "the effect is the
 *    same as if all the files were concatenated".
 *  - Lines: leading blanks skipped, everything from '#' on is a comment, blank lines are
 *    skipped. Fields are separated by spaces/tabs: DOMAIN TYPE ITEM VALUE, the value being
 *    the rest of the line, trimmed. TYPE, ITEM and VALUE are case-insensitive; DOMAIN is not.
 *  - DOMAIN, and the priority a match gets (lower wins):
 *      USER (0):  the user's name, exactly; a uid range "<min>:<max>", "<min>:" or ":<uid>"
 *                 containing the user's uid.
 *      GROUP (1): "@name" when the user is a member (primary group or listed member);
 *                 "@:<gid>" when the user is a member of that gid; "@<min>:<max>" and
 *                 "@<min>:" compared against the user's primary gid only.
 *      DEFAULT (4): "*".
 *    "%..." domains (priorities ALL/ALLGROUP) apply to maxlogins only: ignored for memlock.
 *    A malformed range ("a:b", ":" alone, "@:") skips the line.
 *  - A line sets a limit when no limit of a strictly more specific priority set it already:
 *    a later line of the same or a more specific priority overrides, so a user line beats a
 *    group line wherever they are. TYPE "soft", "hard", or "-" for both; with "-", pam_limits
 *    returns after a refused soft without looking at the hard part, so the hard is then not
 *    set by that line either (reproduced here).
 *  - VALUE for memlock: KiB; "unlimited", "infinity", "-1" and "-" mean unlimited; otherwise
 *    strtoull() (trailing text ignored, like pam_limits), 0 with no digit read is invalid; a
 *    value too big to multiply by 1024 becomes unlimited.
 *  - A line with exactly two fields "DOMAIN -" (the second starting with '-') that applies
 *    to the user (their name, an "@" group as above, a uid range; not "*") stops the parse:
 *    pam_limits then sets no limit at all and the session keeps what it inherited.
 *  - Lines with another number of fields, an unknown TYPE or ITEM, or an invalid VALUE are
 *    skipped (pam_limits logs them).
 *  - At setrlimit() time a soft limit above the hard one is lowered to it; a limit not set by
 *    any line is inherited from the process running PAM (login, sshd, systemd for
 *    user@.service: DefaultLimitMEMLOCK=).
 */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The user, as pam_limits sees it (resolved by the caller through NSS). */
typedef struct LimitsConfUser {
	const char *name;
	uid_t uid;
	gid_t gid;                      /* primary */
	const char *const *group_names; /* every group the user is in, primary included */
	const gid_t *groups;            /* their gids (same length) */
	size_t n_groups;
} LimitsConfUser;

typedef struct LimitsConfValue {
	bool set;
	uint64_t bytes; /* UINT64_MAX: unlimited */
	int prio;       /* internal: the priority of the line that set it */
	char file[PATH_MAX];
	unsigned line;
} LimitsConfValue;

typedef struct LimitsConfMemlock {
	LimitsConfValue soft, hard;
	bool no_limits; /* a "DOMAIN -" line applied: pam_limits sets nothing */
	char no_limits_file[PATH_MAX];
	unsigned no_limits_line;
} LimitsConfMemlock;

/* Resets m to "nothing set". */
void limits_conf_init(LimitsConfMemlock *m);

/*
 * Applies the lines of one file's text, named file (for the file:line records), for user u.
 * Returns 1 when a "DOMAIN -" line applied (m->no_limits set: stop, as pam_limits does), 0
 * otherwise. Never fails: bad lines are skipped.
 */
int limits_conf_feed(LimitsConfMemlock *m, const LimitsConfUser *u, const char *file,
		     const char *text);

/*
 * Evaluates limits.conf then limits.d/ *.conf under root ("/" or NULL for this host) for u.
 * Returns 0 and fills *ret, or -errno: a file that exists but cannot be read (pam_limits then
 * fails the session), -ENOMEM.
 */
int limits_conf_read_memlock(const char *root, const LimitsConfUser *u, LimitsConfMemlock *ret);
