/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The broker: Acquire's and Stage's decisions, in the order of DESIGN.md. Resolve the request
 * against the host model, ask the policy per device (default deny), check the limits, the
 * groups (free or this owner's, the whole group or the siblings at risk) and the dependents:
 * a Plan, or -errno with a named Refusal. No wire code, no kernel calls but the probes of
 * held groups (hold.c); unit-tested against the sim kernel.
 */

#include "ioasidd/ioasidd.h"
#include "ioasidd/plan.h"
#include "ioasidd/refusal.h"

/* The Plan each of these fills starts zeroed ((Plan){ 0 }); plan_done() frees it. */

/* Step 1: the devices of in (BDFs, a group, or count free viable devices of a pool), its
 * mode, layout and lifetime. 0, or -errno with InvalidParameter, NoSuchDevice, DeviceBusy
 * (a pool short of free devices) or SystemError. */
int broker_resolve(Manager *m, const BrokerRequest *in, Plan *plan, Refusal *rf);

/*
 * broker_acquire: steps 1 to 3 of an Acquire by peer: resolve; a context staged for peer
 * decides the mode when in names none; the policy per device (the whole group when a grant
 * says so); lifetime and limits (fd_reply_pending: the connection has an fd reply queued);
 * the kernel API; a staged context that serves it (plan->staged) or the group and dependents
 * checks; the layout. 0 with *plan, or -errno with *rf: PermissionDenied, LimitExceeded,
 * GroupNotViable, GroupOwned, DeviceBusy, DependentOwned, InvalidParameter, NoSuchDevice,
 * SystemError.
 */
int broker_acquire(Manager *m, const Peer *peer, bool fd_reply_pending, const BrokerRequest *in,
		   Plan *plan, Refusal *rf);

/*
 * broker_stage: the checks of Manager.Stage by admin for owner (uid, or unit), layout_def
 * already looked up: resolve, the lease limit, the kernel API, the groups, the owner's policy
 * (OwnerDenied), the dependents. 0 with *plan (share_reset/split_sriov the owner's grants'),
 * or -errno with *rf.
 */
int broker_stage(Manager *m, const Peer *admin, const BrokerRequest *in, const char *owner,
		 uid_t uid, const char *unit, Plan *plan, Refusal *rf);

/* The deny record of an Acquire that ends in rf after the policy was asked (else nothing): a
 * grant's record waits for the delivery of its fds (lease_audit_acquire()). */
void broker_audit_refusal(Manager *m, const Peer *peer, const Plan *plan, const Refusal *rf);
