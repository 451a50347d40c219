/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Viability: a pure function from a group to a verdict, one reason per blocking device and
 * a concrete fix for each. No I/O.
 */

#include "common/host.h"

typedef enum Verdict {
	VERDICT_VIABLE,
	VERDICT_NOT_VIABLE,
	VERDICT_NO_IOMMU, /* the device has no IOMMU group (IOMMU off or not covered) */
	VERDICT_EMPTY,    /* the group has no device at all: nothing to assign */
} Verdict;

typedef enum MemberState {
	MEMBER_VFIO,        /* vfio-pci or a variant driver (has a vfio-dev child) */
	MEMBER_PCI_STUB,    /* pci-stub */
	MEMBER_NO_DRIVER,   /* unbound */
	MEMBER_BRIDGE,      /* PCI bridge / root or downstream port: does not block */
	MEMBER_HOST_DRIVER, /* on a normal host driver: blocks */
	MEMBER_UNKNOWN,     /* a non-PCI member whose driver the source did not say: blocks */
} MemberState;

typedef struct Blocker {
	/* The PCI function, or NULL for a non-PCI member (then foreign is set). */
	const Device *device;
	const ForeignMember *foreign;
	/* Its name either way: the BDF, or the sysfs name ("3100000.usb"). */
	const char *name;
	/* "0000:01:00.1 (10de:1aef Audio device) is on snd_hda_intel, a host driver" */
	char *reason;
	/* One pasteable command: "ioasidctl bind 0000:01:00.1", which checks what the move
	 * would take down and binds the device's whole group to vfio-pci with rollback
	 * (prefixed with "modprobe vfio-pci && " when the host is known not to have vfio-pci). */
	char *fix;
	/* The same fix without ioasidctl, through sysfs: driver_override, unbind, drivers_probe. */
	char *fix_sysfs;
} Blocker;

typedef struct Viability {
	Verdict verdict;
	Blocker *blockers;
	size_t n_blockers;
	/* Notes that do not block but matter: noiommu cdevs, storage or network to be
	 * unbound, a group without a PCI function, ... The identity default domain is not among
	 * them (a fact of the host, said once: viability_identity_note()). */
	char **notes;
} Viability;

/* Member classification, exported for the CLI's tables. */
MemberState viability_member_state(const Device *d);
/* The same for a non-PCI member: vfio-platform and the other vfio bus drivers manage DMA
 * like vfio-pci; no driver holds nothing; any other driver blocks; MEMBER_UNKNOWN when the
 * source did not record its driver. */
MemberState viability_foreign_state(const ForeignMember *f);
/* group_has_pci_function: g has a PCI function other than a bridge, i.e. something ioasid
 * can broker (through vfio-pci). */
bool group_has_pci_function(const Group *g);
const char *member_state_to_string(MemberState s);
const char *verdict_to_string(Verdict v); /* "viable", "not-viable", "no-iommu", "empty" */

/*
 * viability_iommu_hint: what to do when the host shows no IOMMU groups, e.g. "Enable VT-d in
 * firmware and boot with intel_iommu=on"; the vendor comes from h->kernel when known.
 * Returns a static string.
 */
const char *viability_iommu_hint(const Host *h);
/* viability_iommu_param: the kernel parameter that turns the IOMMU on for this host's
 * vendor ("intel_iommu=on", "amd_iommu=on", or both spelled out when unknown). The vendor is
 * h->kernel.iommu_vendor, else guessed from the host bridge at 0000:00:00.0. Static string. */
const char *viability_iommu_param(const Host *h);

/* viability_group: verdict for g. Returns 0 or -ENOMEM. */
int viability_group(const Host *h, const Group *g, Viability *ret);
/* viability_device: verdict for the device's group, or VERDICT_NO_IOMMU when it has none. */
int viability_device(const Host *h, const Device *d, Viability *ret);
void viability_done(Viability *v);

/*
 * viability_identity_note: the note for groups whose default domain is identity
 * (passthrough): host drivers in them do DMA untranslated. One note for all of them, the
 * numbers listed ("Groups 35, 36 and 40 have an identity default domain ..."); NULL in *ret
 * when there are none. Returns 0 or -ENOMEM.
 */
int viability_identity_note(const int *numbers, size_t n, char **ret);
