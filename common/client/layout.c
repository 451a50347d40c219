/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Layout validation: IOVA windows against alignment, each other, the IOMMU's address width
 * and the reserved regions of the devices' groups. See layout.h for the kernel facts. */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>

#include "common/client/layout.h"
#include "common/macro.h"

static const char *const conflict_type_names[_LAYOUT_CONFLICT_TYPE_MAX] = {
	[LAYOUT_CONFLICT_EMPTY] = "empty",
	[LAYOUT_CONFLICT_UNALIGNED] = "unaligned",
	[LAYOUT_CONFLICT_UNSORTED] = "unsorted",
	[LAYOUT_CONFLICT_OVERLAP] = "overlap",
	[LAYOUT_CONFLICT_ADDRESS_WIDTH] = "address-width",
	[LAYOUT_CONFLICT_RESERVED] = "reserved",
	[LAYOUT_CONFLICT_NO_GROUP] = "no-group",
};

const char *layout_conflict_type_to_string(LayoutConflictType t) {
	if ((unsigned)t >= _LAYOUT_CONFLICT_TYPE_MAX)
		return NULL;
	return conflict_type_names[t];
}

LayoutConflict *layout_conflicts_free(LayoutConflict *c, size_t n) {
	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++)
		free(c[i].message);
	free(c);
	return NULL;
}

typedef struct Conflicts {
	LayoutConflict *items;
	size_t n, allocated;
} Conflicts;

/* Appends a conflict (c's message is formatted from fmt). -ENOMEM. */
static int _printf_(3, 4)
	conflicts_add(Conflicts *cs, const LayoutConflict *c, const char *fmt, ...) {
	if (cs->n == cs->allocated) {
		size_t k = cs->allocated ? cs->allocated * 2 : 8;
		LayoutConflict *p = realloc(cs->items, k * sizeof(*p));
		if (!p)
			return -ENOMEM;
		cs->items = p;
		cs->allocated = k;
	}

	char *m = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;

	cs->items[cs->n] = *c;
	cs->items[cs->n].message = m;
	cs->n++;
	return 0;
}

static LayoutConflict conflict_init(LayoutConflictType type, size_t window) {
	return (LayoutConflict){
		.type = type,
		.window = window,
		.other_window = SIZE_MAX,
		.group = -1,
	};
}

static bool ranges_overlap(uint64_t a_start, uint64_t a_last, uint64_t b_start, uint64_t b_last) {
	return a_start <= b_last && b_start <= a_last;
}

#define W "0x%" PRIx64 "-0x%" PRIx64

static int check_windows(const PolicyLayout *l, uint64_t page_size, unsigned address_width,
			 Conflicts *cs) {
	int r;

	for (size_t i = 0; i < l->n_windows; i++) {
		const IovaRange *w = &l->windows[i];
		LayoutConflict c;

		if (w->start > w->last) {
			c = conflict_init(LAYOUT_CONFLICT_EMPTY, i);
			r = conflicts_add(cs, &c,
					  "window " W " is empty: its start is above its last "
					  "address",
					  w->start, w->last);
			if (r < 0)
				return r;
			/* Alignment and width say nothing more about an inverted window. */
			continue;
		}

		if (w->start & (page_size - 1)) {
			c = conflict_init(LAYOUT_CONFLICT_UNALIGNED, i);
			r = conflicts_add(cs, &c,
					  "window " W " does not start on a page boundary "
					  "(0x%" PRIx64 " is not a multiple of the %" PRIu64
					  "-byte page)",
					  w->start, w->last, w->start, page_size);
			if (r < 0)
				return r;
		}
		/* last + 1 wraps to 0 for a window reaching the top of the 64-bit space, which
		 * is aligned: that is the right answer. */
		if ((w->last + 1) & (page_size - 1)) {
			c = conflict_init(LAYOUT_CONFLICT_UNALIGNED, i);
			r = conflicts_add(cs, &c,
					  "window " W " does not end on a page boundary "
					  "(last + 1 = 0x%" PRIx64 " is not a multiple of the "
					  "%" PRIu64 "-byte page)",
					  w->start, w->last, w->last + 1, page_size);
			if (r < 0)
				return r;
		}

		if (address_width > 0 && address_width < 64) {
			uint64_t top = (UINT64_C(1) << address_width) - 1;
			if (w->last > top) {
				c = conflict_init(LAYOUT_CONFLICT_ADDRESS_WIDTH, i);
				c.address_width = address_width;
				r = conflicts_add(cs, &c,
						  "window " W " exceeds the IOMMU's %u-bit address "
						  "width (highest IOVA 0x%" PRIx64 ")",
						  w->start, w->last, address_width, top);
				if (r < 0)
					return r;
			}
		}
	}

	/* Order between neighbours, overlap between every pair (a layout has a handful of
	 * windows; an unsorted list can hide an overlap between non-neighbours). */
	for (size_t i = 1; i < l->n_windows; i++) {
		const IovaRange *a = &l->windows[i - 1], *b = &l->windows[i];
		if (b->start < a->start) {
			LayoutConflict c = conflict_init(LAYOUT_CONFLICT_UNSORTED, i);
			c.other_window = i - 1;
			r = conflicts_add(cs, &c,
					  "window " W " comes after window " W
					  ": windows must be sorted by address",
					  b->start, b->last, a->start, a->last);
			if (r < 0)
				return r;
		}
	}
	for (size_t i = 0; i < l->n_windows; i++)
		for (size_t j = i + 1; j < l->n_windows; j++) {
			const IovaRange *a = &l->windows[i], *b = &l->windows[j];
			if (a->start > a->last || b->start > b->last)
				continue; /* already reported as empty */
			if (!ranges_overlap(a->start, a->last, b->start, b->last))
				continue;
			LayoutConflict c = conflict_init(LAYOUT_CONFLICT_OVERLAP, i);
			c.other_window = j;
			r = conflicts_add(cs, &c, "window " W " overlaps window " W, a->start,
					  a->last, b->start, b->last);
			if (r < 0)
				return r;
		}

	return 0;
}

static const Group *device_group(const Host *h, const Device *d) {
	if (d->group)
		return d->group;
	if (d->iommu_group < 0 || !h)
		return NULL;
	for (size_t i = 0; i < h->n_groups; i++)
		if (h->groups[i].number == d->iommu_group)
			return &h->groups[i];
	return NULL;
}

static int check_group(const PolicyLayout *l, const Group *g, const char *bdf, Conflicts *cs) {
	for (size_t k = 0; k < g->n_regions; k++) {
		const ReservedRegion *rr = &g->regions[k];

		/* Relaxable RMRRs are not reserved in an IOAS: the kernel lets a user domain
		 * map over them. */
		if (rr->type == RESV_DIRECT_RELAXABLE)
			continue;

		for (size_t i = 0; i < l->n_windows; i++) {
			const IovaRange *w = &l->windows[i];
			if (w->start > w->last ||
			    !ranges_overlap(w->start, w->last, rr->start, rr->end))
				continue;

			LayoutConflict c = conflict_init(LAYOUT_CONFLICT_RESERVED, i);
			c.group = g->number;
			c.region = *rr;
			snprintf(c.bdf, sizeof(c.bdf), "%s", bdf);
			const char *type = strna(reserved_region_type_to_string(rr->type));
			int r = conflicts_add(cs, &c,
					      "window " W " overlaps the %s region 0x%" PRIx64
					      "-0x%" PRIx64 " of group %d",
					      w->start, w->last, type, rr->start, rr->end,
					      g->number);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int layout_check(const PolicyLayout *layout, const Host *host, const Device *const *devices,
		 size_t n_devices, uint64_t page_size, LayoutConflict **ret, size_t *ret_n) {
	Conflicts cs = {};
	int r;

	assert(layout);
	assert(devices || n_devices == 0);
	assert(layout->windows || layout->n_windows == 0);

	if (page_size == 0 || (page_size & (page_size - 1)))
		return -EINVAL;

	/* iova auto: the windows it resolves to for these devices. */
	_cleanup_free_ IovaRange *resolved = NULL;
	PolicyLayout auto_layout;
	if (layout->iova_auto) {
		size_t n = 0;
		r = policy_layout_windows(layout, host, devices, n_devices, page_size, &resolved,
					  &n);
		if (r < 0)
			return r;
		auto_layout = *layout;
		auto_layout.windows = resolved;
		auto_layout.n_windows = n;
		auto_layout.iova_auto = false;
		layout = &auto_layout;
	}

	unsigned width = 0;
	if (host && host->kernel.address_width > 0)
		width = (unsigned)host->kernel.address_width;
	r = check_windows(layout, page_size, width, &cs);
	if (r < 0)
		goto fail;

	for (size_t i = 0; i < n_devices; i++) {
		const Device *d = devices[i];
		assert(d);

		const Group *g = device_group(host, d);
		if (!g) {
			LayoutConflict c = conflict_init(LAYOUT_CONFLICT_NO_GROUP, SIZE_MAX);
			c.group = d->iommu_group;
			snprintf(c.bdf, sizeof(c.bdf), "%s", d->bdf);
			if (d->iommu_group < 0)
				r = conflicts_add(&cs, &c,
						  "device %s has no IOMMU group: it cannot be "
						  "attached to an IOAS",
						  d->bdf);
			else
				r = conflicts_add(&cs, &c,
						  "device %s is in group %d, which the host does "
						  "not describe: its reserved regions are unknown",
						  d->bdf, d->iommu_group);
			if (r < 0)
				goto fail;
			continue;
		}

		/* Each group once, named by the first requested device in it. */
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = device_group(host, devices[j]) == g;
		if (seen)
			continue;

		r = check_group(layout, g, d->bdf, &cs);
		if (r < 0)
			goto fail;
	}

	if (ret) {
		if (cs.n == 0) {
			free(cs.items);
			cs.items = NULL;
		}
		*ret = cs.items;
		cs.items = NULL;
	}
	if (ret_n)
		*ret_n = cs.n;
	r = (int)MIN(cs.n, (size_t)INT32_MAX);
	layout_conflicts_free(cs.items, cs.n);
	return r;

fail:
	layout_conflicts_free(cs.items, cs.n);
	return r;
}
