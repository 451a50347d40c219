/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Dependent devices: which devices must not go to different owners although each has an
 * IOMMU group of its own. Pure functions over the host model (no I/O).
 *
 * Two relations, both from the kernel's own rules:
 *
 *   - a shared reset. A function-level reset (reset_method "device_specific", "acpi", "flr",
 *     "af_flr", "pm") resets the device alone. A device with none of those can only be reset
 *     by a secondary bus reset of its parent bridge ("bus", "cxl_bus", "slot" in
 *     reset_method, or VFIO's hot reset), which takes down every device below that bridge:
 *     pci_parent_bus_reset() refuses unless the device is alone on its bus, and vfio-pci
 *     then resets only through the whole dev_set, when none of it is in use
 *     (vfio_pci_dev_set_try_reset) or for a caller owning all of it
 *     (vfio_pci_dev_set_hot_reset). Two devices share a reset when either is in the
 *     other's reset set. A device on a root bus without a function-level method cannot be
 *     reset at all. Reset methods not known (an old snapshot) count as function-level.
 *
 *   - SR-IOV. A PF and its VFs: while the PF is on vfio-pci, a VF can only be opened with the
 *     VF token its PF's user set, and a PF whose VFs are in use only with theirs
 *     (vfio_pci_core_match_token_uuid; on the cdev path since 6.17, before that only on the
 *     legacy group path); the PF's user can also reset or disable the VFs.
 *     VFs of one PF do not depend on each other.
 *
 * VFIO's dev_set (vfio_pci_core_register_device) is reported too: a VF or a device on a root
 * bus is a set of its own; any other device shares one with every device on its bus (a
 * slot, when the slot can be reset: slots are not modelled, the bus is the upper bound).
 */

#include <stdbool.h>
#include <stddef.h>

#include "common/host.h"

typedef enum ResetScope {
	RESET_SCOPE_FUNCTION, /* a function-level method: the device alone */
	RESET_SCOPE_BUS,      /* only its parent bridge's bus reset: everything below it */
	RESET_SCOPE_NONE,     /* no function-level method and no bridge above: never reset */
	RESET_SCOPE_UNKNOWN,  /* methods not known: counted as function-level */
	_RESET_SCOPE_MAX,
} ResetScope;

typedef enum DependKind {
	DEPEND_PF,    /* the other device is this VF's PF */
	DEPEND_VF,    /* the other device is one of this PF's VFs */
	DEPEND_RESET, /* the two share a reset */
	_DEPEND_KIND_MAX,
} DependKind;

typedef struct Dependent {
	const Device *device;
	DependKind kind;
} Dependent;

/* "function", "bus", "none", "unknown". */
const char *reset_scope_to_string(ResetScope s);
/* "pf", "vf", "reset". */
const char *depend_kind_to_string(DependKind k);

/* Is name a function-level reset method (resets the device alone)? */
bool depend_method_is_function_level(const char *name);

/* The scope of a reset of d. */
ResetScope depend_reset_scope(const Host *h, const Device *d);

/*
 * depend_reset_set: the devices a reset of d takes down, d first, then the others in host
 * order; bridges are never listed (a bus reset does not make a bridge a tenant's device).
 * *ret is malloc'd (free() it). Returns 0 or -ENOMEM.
 */
int depend_reset_set(const Host *h, const Device *d, const Device ***ret, size_t *ret_n);

/*
 * depend_dev_set: the devices vfio-pci puts in one dev_set with d (those a VFIO hot reset
 * from d needs to own), d first: only devices on a VFIO driver; d alone when d is a VF or
 * sits on a root bus. *ret malloc'd. 0 or -ENOMEM.
 */
int depend_dev_set(const Host *h, const Device *d, const Device ***ret, size_t *ret_n);

/*
 * depend_dependents: every other device d must not be split from: its PF, its VFs, and the
 * devices it shares a reset with, in host order, each listed once (PF/VF before reset when
 * both apply). *ret malloc'd (NULL when none). 0 or -ENOMEM.
 */
int depend_dependents(const Host *h, const Device *d, Dependent **ret, size_t *ret_n);
