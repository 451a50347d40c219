/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dependent devices (common/depend.h): reset sets, VFIO dev_sets and SR-IOV relations over
 * the host model. The rules and the kernel functions they come from are in the header.
 */
#include "common/depend.h"
#include "common/macro.h"

static const char *const reset_scope_names[_RESET_SCOPE_MAX] = {
	[RESET_SCOPE_FUNCTION] = "function",
	[RESET_SCOPE_BUS] = "bus",
	[RESET_SCOPE_NONE] = "none",
	[RESET_SCOPE_UNKNOWN] = "unknown",
};

static const char *const depend_kind_names[_DEPEND_KIND_MAX] = {
	[DEPEND_PF] = "pf",
	[DEPEND_VF] = "vf",
	[DEPEND_RESET] = "reset",
};

const char *reset_scope_to_string(ResetScope s) {
	return s >= 0 && s < _RESET_SCOPE_MAX ? reset_scope_names[s] : NULL;
}

const char *depend_kind_to_string(DependKind k) {
	return k >= 0 && k < _DEPEND_KIND_MAX ? depend_kind_names[k] : NULL;
}

bool depend_method_is_function_level(const char *name) {
	/* pci_reset_fn_methods[]: everything but the bus-level "bus", "cxl_bus" (and "slot",
	 * its name before 5.16) resets the function alone. */
	static const char *const function_level[] = { "device_specific", "acpi", "flr", "af_flr",
						      "pm" };
	for (size_t i = 0; name && i < ELEMENTSOF(function_level); i++)
		if (streq(name, function_level[i]))
			return true;
	return false;
}

/* The bridge whose secondary bus d sits on, or NULL on a root bus (no parent, or a parent
 * that is no PCI bridge: a VMD controller, whose devices sit on a root bus of their own). */
static const Device *parent_bridge(const Host *h, const Device *d) {
	const Device *p = d->parent ? host_find_device(h, d->parent) : NULL;
	return p && device_is_bridge(p) ? p : NULL;
}

/* Is e below bridge p (on its secondary bus or further down)? */
static bool below(const Device *e, const Device *p) {
	return p && strv_contains(e->bridge_path, p->bdf);
}

ResetScope depend_reset_scope(const Host *h, const Device *d) {
	if (!d->reset_known)
		return RESET_SCOPE_UNKNOWN;
	for (char **m = d->reset_methods; m && *m; m++)
		if (depend_method_is_function_level(*m))
			return RESET_SCOPE_FUNCTION;
	return parent_bridge(h, d) ? RESET_SCOPE_BUS : RESET_SCOPE_NONE;
}

/* Does a reset of d take e down? */
static bool reset_takes_down(const Host *h, const Device *d, const Device *e) {
	if (d == e)
		return true;
	if (device_is_bridge(e) || depend_reset_scope(h, d) != RESET_SCOPE_BUS)
		return false;
	return below(e, parent_bridge(h, d));
}

static int push(const Device ***list, size_t *n, const Device *d) {
	const Device **l = reallocarray(*list, *n + 1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l[(*n)++] = d;
	*list = l;
	return 0;
}

int depend_reset_set(const Host *h, const Device *d, const Device ***ret, size_t *ret_n) {
	_cleanup_free_ const Device **l = NULL;
	size_t n = 0;
	if (push(&l, &n, d) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < h->n_devices; i++) {
		const Device *e = &h->devices[i];
		if (e != d && reset_takes_down(h, d, e) && push(&l, &n, e) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(l);
	*ret_n = n;
	return 0;
}

int depend_dev_set(const Host *h, const Device *d, const Device ***ret, size_t *ret_n) {
	_cleanup_free_ const Device **l = NULL;
	size_t n = 0;
	if (push(&l, &n, d) < 0)
		return -ENOMEM;
	/* vfio_pci_core_register_device: a root-bus device or a VF gets a dev_set of its own;
	 * the others share their slot's or bus's. Only VFIO devices are in a dev_set. */
	const Device *p = parent_bridge(h, d);
	for (size_t i = 0; p && !d->physfn && i < h->n_devices; i++) {
		const Device *e = &h->devices[i];
		if (e != d && !e->physfn && !device_is_bridge(e) && e->parent &&
		    streq(e->parent, p->bdf) && device_driver_is_vfio(e) && push(&l, &n, e) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(l);
	*ret_n = n;
	return 0;
}

static int push_dependent(Dependent **list, size_t *n, const Device *d, DependKind kind) {
	for (size_t i = 0; i < *n; i++)
		if ((*list)[i].device == d)
			return 0;
	Dependent *l = reallocarray(*list, *n + 1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l[(*n)++] = (Dependent){ .device = d, .kind = kind };
	*list = l;
	return 0;
}

static int cmp_dependent(const void *a, const void *b) {
	return bdf_cmp(((const Dependent *)a)->device->bdf, ((const Dependent *)b)->device->bdf);
}

int depend_dependents(const Host *h, const Device *d, Dependent **ret, size_t *ret_n) {
	_cleanup_free_ Dependent *l = NULL;
	size_t n = 0;
	const Device *pf = d->physfn ? host_find_device(h, d->physfn) : NULL;
	if (pf && push_dependent(&l, &n, pf, DEPEND_PF) < 0)
		return -ENOMEM;
	for (char **vf = d->virtfn; vf && *vf; vf++) {
		const Device *v = host_find_device(h, *vf);
		if (v && push_dependent(&l, &n, v, DEPEND_VF) < 0)
			return -ENOMEM;
	}
	/* reset_takes_down() both ways, with what depends on d alone out of the loop, and e's
	 * parent looked up only when it is one of d's bridges (a bus reset of e takes d down
	 * only then): one host lookup per device made this loop a fifth of an Acquire's time on
	 * a 4096-device host. */
	const Device *pd = !device_is_bridge(d) && depend_reset_scope(h, d) == RESET_SCOPE_BUS
				   ? parent_bridge(h, d)
				   : NULL;
	/* Neither way can hold for a device with no bridge above it (on a root bus): no loop. */
	bool any = pd || (d->bridge_path && d->bridge_path[0]);
	for (size_t i = 0; any && !device_is_bridge(d) && i < h->n_devices; i++) {
		const Device *e = &h->devices[i];
		if (e == d || device_is_bridge(e))
			continue;
		bool down = below(e, pd) ||
			    (e->parent && strv_contains(d->bridge_path, e->parent) &&
			     depend_reset_scope(h, e) == RESET_SCOPE_BUS);
		if (down && push_dependent(&l, &n, e, DEPEND_RESET) < 0)
			return -ENOMEM;
	}
	if (n > 1)
		qsort(l, n, sizeof(*l), cmp_dependent);
	*ret = TAKE_PTR(l);
	*ret_n = n;
	return 0;
}
