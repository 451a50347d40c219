/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The IOVA windows of a layout for one request: written windows as they are, `iova auto`
 * resolved against the host (the IOMMU's address width and the reserved regions of the
 * devices' groups). Pure: reads only the structs it is given. The daemon applies the result
 * (IOMMU_IOAS_ALLOW_IOVAS) and `ioasidctl layout check` checks it.
 */
#include <assert.h>

#include "common/macro.h"
#include "policy/policy.h"

bool policy_layout_has_windows(const PolicyLayout *l) {
	return l && (l->iova_auto ? l->iova_max != UINT64_MAX : l->n_windows > 0);
}

bool policy_layout_needs_attached(const PolicyLayout *l) {
	return l && (policy_layout_has_windows(l) || !l->huge_pages);
}

static const Group *group_of(const Host *h, const Device *d) {
	if (d->group)
		return d->group;
	for (size_t i = 0; h && d->iommu_group >= 0 && i < h->n_groups; i++)
		if (h->groups[i].number == d->iommu_group)
			return &h->groups[i];
	return NULL;
}

/* Removes [start, last] from the sorted, disjoint windows w[0..*n) (room for *n + 1). */
static void windows_subtract(IovaRange *w, size_t *n, uint64_t start, uint64_t last) {
	for (size_t i = 0; i < *n; i++) {
		IovaRange *x = &w[i];
		if (last < x->start || start > x->last)
			continue;
		bool left = start > x->start, right = last < x->last;
		if (left && right) {
			/* Split: the part above moves to a new slot after this one. */
			memmove(&w[i + 2], &w[i + 1], (*n - i - 1) * sizeof(*w));
			w[i + 1] = (IovaRange){ last + 1, x->last };
			x->last = start - 1;
			(*n)++;
			i++;
		} else if (left)
			x->last = start - 1;
		else if (right)
			x->start = last + 1;
		else {
			memmove(x, x + 1, (*n - i - 1) * sizeof(*w));
			(*n)--;
			i--;
		}
	}
}

int policy_layout_windows(const PolicyLayout *l, const Host *host, const Device *const *devices,
			  size_t n_devices, uint64_t page_size, IovaRange **ret, size_t *ret_n) {
	assert(l);
	assert(ret);
	assert(ret_n);
	assert(devices || n_devices == 0);

	if (page_size == 0 || (page_size & (page_size - 1)))
		return -EINVAL;
	if (!l->iova_auto) {
		IovaRange *w = NULL;
		if (l->n_windows) {
			w = malloc(l->n_windows * sizeof(*w));
			if (!w)
				return -ENOMEM;
			memcpy(w, l->windows, l->n_windows * sizeof(*w));
		}
		*ret = w;
		*ret_n = l->n_windows;
		return 0;
	}

	uint64_t top = l->iova_max;
	if (host && host->kernel.address_width > 0 && host->kernel.address_width < 64)
		top = MIN(top, (UINT64_C(1) << host->kernel.address_width) - 1);
	/* The last byte of a whole page. */
	if ((top & (page_size - 1)) != page_size - 1) {
		if (top < page_size) {
			*ret = NULL;
			*ret_n = 0;
			return 0;
		}
		top = (top & ~(page_size - 1)) - 1;
	}

	/* One window, each reserved region can split one in two. */
	size_t cap = 1;
	for (size_t i = 0; i < n_devices; i++) {
		const Group *g = group_of(host, devices[i]);
		cap += g ? g->n_regions : 0;
	}
	_cleanup_free_ IovaRange *w = calloc(cap + 1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	size_t n = 1;
	w[0] = (IovaRange){ 0, top };
	for (size_t i = 0; i < n_devices; i++) {
		const Group *g = group_of(host, devices[i]);
		for (size_t k = 0; g && k < g->n_regions; k++) {
			const ReservedRegion *rr = &g->regions[k];
			if (rr->type == RESV_DIRECT_RELAXABLE || rr->start > rr->end)
				continue;
			/* Whole pages: a window may not share a page with a reserved region. */
			uint64_t start = rr->start & ~(page_size - 1);
			uint64_t last = rr->end | (page_size - 1);
			windows_subtract(w, &n, start, last);
		}
	}
	if (n == 0) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	*ret = TAKE_PTR(w);
	*ret_n = n;
	return 0;
}
