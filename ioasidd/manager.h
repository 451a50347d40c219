/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* manager.c's hand-over of a built context (the rest of its API is in ioasidd.h). */

#include "ioasidd/ioasidd.h"
#include "ioasidd/plan.h"
#include "ioasidd/refusal.h"

/*
 * manager_hand_over: l (fresh from context_build(), or plan->staged already in the table)
 * becomes the lease of peer on connection c (id cid): owner, lifetime, pidfd watch, the
 * table, the fdstore, the holder's RLIMIT_MEMLOCK (read back into *ret_memlock, -errno when
 * unknown). Warnings are appended to *warnings. 0, or -errno with *rf: a fresh lease is rolled
 * back (freed), a staged one stays staged.
 */
int manager_hand_over(Manager *m, Connection *c, uint64_t cid, const Peer *peer, const Plan *plan,
		      Lease *l, char ***warnings, int64_t *ret_memlock, Refusal *rf);

/*
 * manager_stage_add: l (fresh from context_build()) becomes a staged context for owner (uid,
 * or unit: taken) with plan's at-risk siblings, dropped after timeout seconds (0: the policy's
 * stage-timeout); audited as staged by admin. 0, or -errno with *rf (l freed).
 */
int manager_stage_add(Manager *m, Lease *l, const Peer *admin, const char *owner, uid_t uid,
		      char *unit, Plan *plan, uint64_t timeout, Refusal *rf);
