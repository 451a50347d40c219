/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Layout validation: can this IOAS layout (policy/policy.h PolicyLayout: the allowed IOVA
 * windows) be applied to an IOAS that these devices of this host get attached to?
 *
 * Pure: it reads only the structs it is given. `ioasidctl layout check` runs it offline. The
 * daemon does not: it applies the windows and reports the kernel's refusal (EADDRINUSE at
 * attach). So this file sits in the client library, above policy/ for PolicyLayout; the
 * daemon does not link that library, and a daemon that came to call layout_check() would
 * move this file down to policy/.
 *
 * The kernel facts it encodes (reference: uapi-facts §3.3):
 *   - at attach, every reserved region of the device's group except `direct-relaxable`
 *     is reserved in the IOAS; overlapping an allowed window makes the attach fail with
 *     EADDRINUSE;
 *   - IOVA outside the IOMMU domain's aperture is reserved as well: a window beyond the
 *     IOMMU's address width cannot be used;
 *   - MAP needs page-aligned IOVAs, so windows are whole pages: start and last + 1 are
 *     multiples of the page size;
 *   - IOMMU_IOAS_ALLOW_IOVAS takes the windows as given; the policy contract is that they
 *     are sorted and do not overlap, so both are checked here too.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/host.h"
#include "policy/policy.h"

typedef enum LayoutConflictType {
	LAYOUT_CONFLICT_EMPTY,         /* window start above its last address */
	LAYOUT_CONFLICT_UNALIGNED,     /* start or last + 1 is not page-aligned */
	LAYOUT_CONFLICT_UNSORTED,      /* window starts below the one before it */
	LAYOUT_CONFLICT_OVERLAP,       /* two windows share addresses */
	LAYOUT_CONFLICT_ADDRESS_WIDTH, /* window beyond the IOMMU's address width */
	LAYOUT_CONFLICT_RESERVED,      /* window overlaps a reserved region of a group */
	LAYOUT_CONFLICT_NO_GROUP,      /* a device without an IOMMU group (or an unknown one) */
	_LAYOUT_CONFLICT_TYPE_MAX,
} LayoutConflictType;

typedef struct LayoutConflict {
	LayoutConflictType type;
	size_t window;          /* index into PolicyLayout.windows; SIZE_MAX for NO_GROUP */
	size_t other_window;    /* UNSORTED/OVERLAP: the other window's index; else SIZE_MAX */
	int group;              /* RESERVED, NO_GROUP: the IOMMU group (-1 when none); else -1 */
	char bdf[BDF_MAX];      /* RESERVED: first requested device of the group; NO_GROUP: the
				 * device; else "" */
	ReservedRegion region;  /* RESERVED: the region hit */
	unsigned address_width; /* ADDRESS_WIDTH: the IOMMU's width in bits */
	char *message;          /* one line naming everything involved, no trailing period:
				 * "window 0x0-0xffffffff overlaps the msi region
				 * 0xfee00000-0xfeefffff of group 17" */
} LayoutConflict;

/*
 * layout_check: checks layout against the devices (pointers into host->devices, or Devices
 * whose group pointer/number refers to host->groups) and the host's IOMMU address width
 * (HostKernel.address_width; not checked when 0). page_size must be a power of two
 * (the host's page size; the CLI passes sysconf(_SC_PAGESIZE)).
 *
 * A layout with `iova auto` is checked with the windows policy_layout_windows() resolves
 * for these devices (conflict window indices refer to those).
 *
 * Conflicts are reported in a stable order: per-window checks (empty, alignment, address
 * width) window by window, then order and overlap between windows, then devices in the
 * order given (each group once) against every window.
 *
 * Returns the number of conflicts (>= 0) and, when ret is not NULL, the array (malloc'd,
 * NULL when there is none; free with layout_conflicts_free). -EINVAL for a page size that
 * is not a power of two, -ENOMEM.
 */
int layout_check(const PolicyLayout *layout, const Host *host, const Device *const *devices,
		 size_t n_devices, uint64_t page_size, LayoutConflict **ret, size_t *ret_n);

LayoutConflict *layout_conflicts_free(LayoutConflict *c, size_t n);

/* "empty", "unaligned", "unsorted", "overlap", "address-width", "reserved", "no-group"
 * (the --json "type" key); NULL when out of range. */
const char *layout_conflict_type_to_string(LayoutConflictType t);
