/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* stage.c's refusing functions (the rest is in ioasidd.h). Each returns 0, or -errno with *rf
 * saying what the client is told. */

#include "ioasidd/ioasidd.h"
#include "ioasidd/refusal.h"

/* "uid N", "user NAME", "unit NAME" -> uid or unit (malloc'd). Refuses a malformed selector or
 * uid 65534 (InvalidParameter "owner"), an unknown user (Manager.NoSuchUser), a failing user
 * database (SystemError). */
int stage_parse_owner(const char *s, uid_t *ret_uid, char **ret_unit, Refusal *rf);
/* The owner's policy for each device, in mode and layout, as the daemon would decide its
 * Acquire (identity from the user database): 0 with the grants' share-reset/split-sriov (all
 * devices), or -EPERM with Manager.OwnerDenied naming the device and the rule. */
int stage_check_owner(Manager *m, const char *owner, uid_t uid, const char *unit, LeaseMode mode,
		      const char *layout, const Device *const *devices, size_t n,
		      bool *ret_share_reset, bool *ret_split_sriov, Refusal *rf);
/* A device of the request is held by a context staged for peer that the request does not
 * match: -EBUSY with DeviceBusy saying what was staged (mode, layout or devices); else 0. */
int stage_explain_mismatch(const Manager *m, const Peer *peer, const Device *const *devices,
			   size_t n, LeaseMode mode, const char *layout, Refusal *rf);
