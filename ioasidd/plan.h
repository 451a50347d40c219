/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A request the broker resolved and decided, and what it takes: the devices, the mode and
 * layout, the merged grant of the deciding rules, the siblings at risk, a staged context that
 * serves it. broker.c makes one, context.c builds its kernel context, manager.c hands it over.
 */

#include "common/proto.h"
#include "ioasidd/ioasidd.h"

/* What the client asked, its parameters validated (method-broker.c, method-manager.c). */
typedef struct BrokerRequest {
	const char *const *bdfs; /* devices: as given */
	size_t n_bdfs;
	bool has_group;
	int64_t group;
	const char *pool;
	const char *vdpa; /* a vDPA device's name: mode vhost-vdpa */
	bool has_count;
	int64_t count;
	bool mode_set;
	LeaseMode mode;
	const char *layout;
	bool lifetime_set;
	PolicyLifetime lifetime;
} BrokerRequest;

typedef struct Plan {
	const Device *devices[IOASID_MAX_DEVICES_PER_REQUEST];
	size_t n_devices;
	/* vhost-vdpa: the vDPA device (n_devices is 0; policy sees its parent, if any). */
	const VdpaDevice *vdpa;
	LeaseMode mode;
	bool mode_set; /* the request named a mode */
	const char *layout;
	const PolicyLayout *layout_def; /* the policy's layout (NULL: none) */
	bool lifetime_set;
	PolicyLifetime lifetime;
	/* The grants of the rules that allowed the devices, merged (merge_grant()). */
	unsigned max_devices, max_leases; /* the smallest non-zero */
	uint64_t memlock;                 /* the largest */
	bool whole;                       /* any grant says whole */
	PolicyLifetime grant_lifetime;
	bool revoke_reset, revoke_signal; /* any deciding grant's on-revoke asks for it */
	bool share_reset, split_sriov;    /* every deciding grant says so */
	char rule[300];
	/* for the audit record: the policy was asked, and the rule of the outcome */
	bool decided;
	char audit_rule[300];
	char **at_risk; /* siblings not taken (owned) */
	Lease *staged;  /* a context staged for the caller that serves it, or NULL */
} Plan;

void plan_done(Plan *p);
