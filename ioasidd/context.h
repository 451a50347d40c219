/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The kernel context for a plan (step 4 of Acquire, and of Stage): iommufd, accounting, IOAS,
 * layout, each device opened (verified by the seam), bound and attached in attached mode; on
 * a legacy kernel a container, the groups set on it and the device fds. The context is
 * owned by a new lease that is not in the table; any failure frees it, which closes every fd
 * in the order the kernel needs: that is the rollback. No wire code; unit-tested against the
 * sim kernel.
 */

#include "ioasidd/ioasidd.h"
#include "ioasidd/plan.h"
#include "ioasidd/refusal.h"

/*
 * context_build: the context for plan, on a new lease (its owner peer, the plan's terms and
 * the policy generation on it, not in m's table). Warnings (unbound mode ignoring a layout)
 * are appended to *warnings (may be NULL). 0 with *ret, or -errno with *rf: SystemError
 * naming the operation, GroupNotViable (a sibling on a host driver), DeviceBusy (still held
 * by a previous holder), NoSuchDevice, LayoutConflict; nothing is left open.
 */
int context_build(Manager *m, const Peer *peer, const Plan *plan, char ***warnings, Lease **ret,
		  Refusal *rf);

/* Puts peer and the terms of plan on l (owner, lifetime, generation, on-revoke, memlock
 * grant, deciding rule, the peer's identity for re-evaluation). 0 or -ENOMEM. */
int context_take_caller(Lease *l, const Peer *peer, const Plan *plan, uint64_t generation);
