/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host model's source-independent half: freeing, the consistency checks and linking
 * both loaders rely on (host_finalize), lookups and small device helpers.
 */
#include <assert.h>
#include <stdarg.h>

#include "common/host.h"
#include "common/macro.h"

static void device_done(Device *d) {
	free(d->vendor_name);
	free(d->device_name);
	free(d->driver);
	free(d->vfio_name);
	free(d->parent);
	strv_free(d->bridge_path);
	free(d->physfn);
	strv_free(d->virtfn);
	strv_free(d->netdevs);
	strv_free(d->properties);
	strv_free(d->reset_methods);
}

static void group_done(Group *g) {
	free(g->type);
	free(g->regions);
	free(g->members);
	strv_free(g->member_bdfs);
	for (size_t i = 0; i < g->n_foreign_members; i++) {
		free(g->foreign_members[i].name);
		free(g->foreign_members[i].bus);
		free(g->foreign_members[i].driver);
	}
	free(g->foreign_members);
}

static void kernel_done(HostKernel *k) {
	free(k->release);
	free(k->cmdline);
	strv_free(k->iommu_units);
	free(k->iommu_vendor);
}

void vdpa_device_done(VdpaDevice *v) {
	free(v->name);
	free(v->mgmtdev_bus);
	free(v->mgmtdev_name);
	free(v->driver);
	free(v->vhost_name);
}

static void vdpa_done(Host *h) {
	for (size_t i = 0; i < h->n_vdpa_mgmtdevs; i++) {
		free(h->vdpa_mgmtdevs[i].bus);
		free(h->vdpa_mgmtdevs[i].name);
	}
	free(h->vdpa_mgmtdevs);
	for (size_t i = 0; i < h->n_vdpa_devices; i++)
		vdpa_device_done(&h->vdpa_devices[i]);
	free(h->vdpa_devices);
}

Host *host_free(Host *h) {
	if (!h)
		return NULL;
	vdpa_done(h);
	for (size_t i = 0; i < h->n_devices; i++)
		device_done(&h->devices[i]);
	free(h->devices);
	for (size_t i = 0; i < h->n_groups; i++)
		group_done(&h->groups[i]);
	free(h->groups);
	kernel_done(&h->kernel);
	free(h->hostname);
	free(h);
	return NULL;
}

_printf_(2, 3) static int finalize_fail(char **ret_error, const char *fmt, ...) {
	if (ret_error) {
		va_list ap;
		char *s = NULL;
		va_start(ap, fmt);
		if (vasprintf(&s, fmt, ap) < 0)
			s = NULL;
		va_end(ap);
		free(*ret_error);
		*ret_error = s;
	}
	return -EINVAL;
}

/* Sort helpers work on index arrays so messages can name the index a field had on entry. */
static int cmp_dev_index(const void *a, const void *b, void *userdata) {
	const Host *sort_host = userdata;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = bdf_cmp(sort_host->devices[x].bdf, sort_host->devices[y].bdf);
	return c ? c : (x < y ? -1 : x > y);
}

static int cmp_group_index(const void *a, const void *b, void *userdata) {
	const Host *sort_host = userdata;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int gx = sort_host->groups[x].number, gy = sort_host->groups[y].number;
	if (gx != gy)
		return gx < gy ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int cmp_foreign(const void *a, const void *b) {
	return strcmp(((const ForeignMember *)a)->name, ((const ForeignMember *)b)->name);
}

static int cmp_device_ptr(const void *a, const void *b) {
	return bdf_cmp((*(Device *const *)a)->bdf, (*(Device *const *)b)->bdf);
}

static int cmp_device_bdf(const void *key, const void *elem) {
	return bdf_cmp(key, ((const Device *)elem)->bdf);
}

static int cmp_group_number(const void *key, const void *elem) {
	int n = *(const int *)key, m = ((const Group *)elem)->number;
	return n < m ? -1 : n > m;
}

const Device *host_find_device(const Host *h, const char *bdf) {
	if (!h || !bdf || h->n_devices == 0)
		return NULL;
	return bsearch(bdf, h->devices, h->n_devices, sizeof(Device), cmp_device_bdf);
}

const Group *host_find_group(const Host *h, int number) {
	if (!h || h->n_groups == 0)
		return NULL;
	return bsearch(&number, h->groups, h->n_groups, sizeof(Group), cmp_group_number);
}

/* Reorders arr (n elements of size sz) by the permutation perm (new position -> old index). */
static int permute(void *arr, size_t n, size_t sz, const size_t *perm) {
	if (n < 2)
		return 0;
	char *tmp = malloc(n * sz);
	if (!tmp)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		memcpy(tmp + i * sz, (char *)arr + perm[i] * sz, sz);
	memcpy(arr, tmp, n * sz);
	free(tmp);
	return 0;
}

/* Checks one BDF-valued field that must name a device of the host. */
static int check_ref(const Host *h, const size_t *orig, size_t i, const char *field,
		     const char *bdf, char **ret_error) {
	if (!bdf_is_canonical(bdf))
		return finalize_fail(ret_error,
				     "devices[%zu].%s: '%s' is not a canonical PCI address",
				     orig[i], field, bdf);
	if (!host_find_device(h, bdf))
		return finalize_fail(ret_error, "devices[%zu].%s: no device '%s' on this host",
				     orig[i], field, bdf);
	if (streq(bdf, h->devices[i].bdf))
		return finalize_fail(ret_error, "devices[%zu].%s: '%s' refers to the device itself",
				     orig[i], field, bdf);
	return 0;
}

static int cmp_mgmtdev(const void *a, const void *b) {
	const VdpaMgmtDev *x = a, *y = b;
	int c = strcmp(strempty(x->bus), strempty(y->bus));
	return c ? c : strcmp(x->name, y->name);
}

static int cmp_vdpa_device(const void *a, const void *b) {
	return strcmp(((const VdpaDevice *)a)->name, ((const VdpaDevice *)b)->name);
}

static bool vdpa_name_ok(const char *s) {
	if (!s || !*s || strlen(s) > 255 || streq(s, ".") || streq(s, ".."))
		return false;
	for (const char *c = s; *c; c++)
		if (*c == '/' || (unsigned char)*c <= ' ' || *c == 0x7f)
			return false;
	return true;
}

/* The vDPA part of host_finalize(), after the devices are sorted: names are sane and
 * unique, every device's management device is listed, a "pci" one names a PCI function of
 * the host (linked as VdpaDevice.parent), and a vhost char device only on vhost_vdpa. Errors
 * name the indices the arrays had on entry; both arrays are then sorted. */
static int finalize_vdpa(Host *h, char **ret_error) {
	for (size_t i = 0; i < h->n_vdpa_mgmtdevs; i++) {
		const VdpaMgmtDev *m = &h->vdpa_mgmtdevs[i];
		if (!vdpa_name_ok(m->name) || (m->bus && !vdpa_name_ok(m->bus)))
			return finalize_fail(
				ret_error,
				"vdpa_management_devices[%zu]: '%s' is not a device name", i,
				strna(m->name));
		if (m->bus && streq(m->bus, "pci") && !host_find_device(h, m->name))
			return finalize_fail(
				ret_error,
				"vdpa_management_devices[%zu].name: no PCI function '%s' "
				"on this host",
				i, m->name);
		for (size_t k = 0; k < i; k++)
			if (cmp_mgmtdev(m, &h->vdpa_mgmtdevs[k]) == 0)
				return finalize_fail(ret_error,
						     "vdpa_management_devices[%zu]: duplicate of "
						     "vdpa_management_devices[%zu] ('%s')",
						     i, k, m->name);
	}
	for (size_t i = 0; i < h->n_vdpa_devices; i++) {
		VdpaDevice *v = &h->vdpa_devices[i];
		bool found = false;
		if (!vdpa_name_ok(v->name))
			return finalize_fail(ret_error,
					     "vdpa_devices[%zu].name: '%s' is not a device name", i,
					     strna(v->name));
		for (size_t k = 0; k < i; k++)
			if (streq(v->name, h->vdpa_devices[k].name))
				return finalize_fail(
					ret_error,
					"vdpa_devices[%zu].name: duplicate of vdpa_devices[%zu] ('%s')",
					i, k, v->name);
		for (size_t k = 0; k < h->n_vdpa_mgmtdevs && !found; k++) {
			const VdpaMgmtDev *m = &h->vdpa_mgmtdevs[k];
			found = streq(strempty(m->bus), strempty(v->mgmtdev_bus)) &&
				streq(m->name, strempty(v->mgmtdev_name));
		}
		if (!found)
			return finalize_fail(
				ret_error,
				"vdpa_devices[%zu].management_device: '%s%s%s' is not in "
				"vdpa_management_devices",
				i, strempty(v->mgmtdev_bus), v->mgmtdev_bus ? "/" : "",
				strempty(v->mgmtdev_name));
		v->parent = v->mgmtdev_bus && streq(v->mgmtdev_bus, "pci")
				    ? host_find_device(h, v->mgmtdev_name)
				    : NULL;
		if (v->vhost_name && !vdpa_device_on_vhost(v))
			return finalize_fail(
				ret_error,
				"vdpa_devices[%zu].vhost: a vhost-vdpa char device but the "
				"driver is not vhost_vdpa",
				i);
		if (v->vhost_name &&
		    (!strneq(v->vhost_name, "vhost-vdpa-", 11) || !vdpa_name_ok(v->vhost_name)))
			return finalize_fail(
				ret_error,
				"vdpa_devices[%zu].vhost.name: '%s' is not a vhost-vdpa-N "
				"name",
				i, v->vhost_name);
	}
	if (h->n_vdpa_mgmtdevs > 1)
		qsort(h->vdpa_mgmtdevs, h->n_vdpa_mgmtdevs, sizeof(VdpaMgmtDev), cmp_mgmtdev);
	if (h->n_vdpa_devices > 1)
		qsort(h->vdpa_devices, h->n_vdpa_devices, sizeof(VdpaDevice), cmp_vdpa_device);
	return 0;
}

const VdpaDevice *host_find_vdpa_device(const Host *h, const char *name) {
	if (!h || !name)
		return NULL;
	for (size_t i = 0; i < h->n_vdpa_devices; i++)
		if (streq(h->vdpa_devices[i].name, name))
			return &h->vdpa_devices[i];
	return NULL;
}

int host_vdpa_children(const Host *h, const Device *d, const VdpaDevice ***ret) {
	_cleanup_free_ const VdpaDevice **l = NULL;
	size_t n = 0;

	assert(ret);
	for (size_t i = 0; h && d && i < h->n_vdpa_devices; i++) {
		if (h->vdpa_devices[i].parent != d)
			continue;
		const VdpaDevice **nl = reallocarray(l, n + 2, sizeof(*l));
		if (!nl)
			return -ENOMEM;
		l = nl;
		l[n++] = &h->vdpa_devices[i];
		l[n] = NULL;
	}
	*ret = TAKE_PTR(l);
	return (int)n;
}

bool device_is_vdpa_parent(const Host *h, const Device *d) {
	for (size_t i = 0; h && d && i < h->n_vdpa_mgmtdevs; i++) {
		const VdpaMgmtDev *m = &h->vdpa_mgmtdevs[i];
		if (m->bus && streq(m->bus, "pci") && streq(m->name, d->bdf))
			return true;
	}
	return false;
}

bool vdpa_device_on_vhost(const VdpaDevice *v) {
	return v && v->driver && streq(v->driver, "vhost_vdpa");
}

const char *vdpa_mgmtdev_handle(const char *bus, const char *name, char *buf, size_t size) {
	if (bus)
		snprintf(buf, size, "%s/%s", bus, strempty(name));
	else
		snprintf(buf, size, "%s", strempty(name));
	return buf;
}

const char *vdpa_device_class_name(uint32_t device_id) {
	/* Virtio device ids (virtio spec 5, linux/virtio_ids.h) a vDPA device can have. */
	switch (device_id) {
	case 1:
		return "net";
	case 2:
		return "block";
	case 3:
		return "console";
	case 4:
		return "rng";
	case 5:
		return "balloon";
	case 8:
		return "scsi";
	case 26:
		return "fs";
	}
	return NULL;
}

int host_finalize(Host *h, char **ret_error) {
	_cleanup_free_ size_t *dorig = NULL, *gorig = NULL;
	int r;

	assert(h);
	if (h->n_devices > 0 && !(dorig = calloc(h->n_devices, sizeof(size_t))))
		return -ENOMEM;
	if (h->n_groups > 0 && !(gorig = calloc(h->n_groups, sizeof(size_t))))
		return -ENOMEM;

	for (size_t i = 0; i < h->n_devices; i++) {
		if (!bdf_is_canonical(h->devices[i].bdf))
			return finalize_fail(
				ret_error, "devices[%zu].bdf: '%s' is not a canonical PCI address",
				i, h->devices[i].bdf);
		dorig[i] = i;
	}
	for (size_t i = 0; i < h->n_groups; i++) {
		if (h->groups[i].number < 0)
			return finalize_fail(ret_error, "groups[%zu].group: negative group number",
					     i);
		gorig[i] = i;
	}

	/* Sort index arrays first so duplicates can be reported with both original indices. */
	if (h->n_devices > 1)
		qsort_r(dorig, h->n_devices, sizeof(size_t), cmp_dev_index, h);
	if (h->n_groups > 1)
		qsort_r(gorig, h->n_groups, sizeof(size_t), cmp_group_index, h);
	for (size_t i = 1; i < h->n_devices; i++)
		if (streq(h->devices[dorig[i]].bdf, h->devices[dorig[i - 1]].bdf))
			return finalize_fail(ret_error,
					     "devices[%zu].bdf: duplicate of devices[%zu] ('%s')",
					     dorig[i], dorig[i - 1], h->devices[dorig[i]].bdf);
	for (size_t i = 1; i < h->n_groups; i++)
		if (h->groups[gorig[i]].number == h->groups[gorig[i - 1]].number)
			return finalize_fail(ret_error,
					     "groups[%zu].group: duplicate of groups[%zu] (%d)",
					     gorig[i], gorig[i - 1], h->groups[gorig[i]].number);

	r = permute(h->devices, h->n_devices, sizeof(Device), dorig);
	if (r < 0)
		return r;
	r = permute(h->groups, h->n_groups, sizeof(Group), gorig);
	if (r < 0)
		return r;
	/* From here on, devices[i] had index dorig[i] on entry (likewise groups). */

	/* Count members per group, then fill: one pass over the devices each. */
	_cleanup_free_ size_t *counts = NULL;
	if (h->n_groups > 0 && !(counts = calloc(h->n_groups, sizeof(size_t))))
		return -ENOMEM;
	for (size_t i = 0; i < h->n_devices; i++) {
		Device *d = &h->devices[i];
		d->group = NULL;
		if (d->iommu_group < 0) {
			d->iommu_group = -1;
			continue;
		}
		const Group *g = host_find_group(h, d->iommu_group);
		if (!g)
			return finalize_fail(ret_error,
					     "devices[%zu].iommu_group: no group %d in 'groups'",
					     dorig[i], d->iommu_group);
		d->group = (Group *)g;
		counts[g - h->groups]++;
	}
	for (size_t j = 0; j < h->n_groups; j++) {
		Group *g = &h->groups[j];
		free(g->members);
		g->members = NULL;
		g->n_members = 0;
		if (counts[j] > 0 && !(g->members = calloc(counts[j], sizeof(Device *))))
			return -ENOMEM;
	}
	for (size_t i = 0; i < h->n_devices; i++) {
		Device *d = &h->devices[i];
		if (d->group)
			d->group->members[d->group->n_members++] = d;
	}

	for (size_t j = 0; j < h->n_groups; j++) {
		Group *g = &h->groups[j];
		/* Devices are sorted, so members are too; keep the contract explicit anyway. */
		if (g->n_members > 1)
			qsort(g->members, g->n_members, sizeof(Device *), cmp_device_ptr);
		for (size_t k = 0; k < g->n_regions; k++)
			if (g->regions[k].start > g->regions[k].end ||
			    (unsigned)g->regions[k].type >= _RESV_TYPE_MAX)
				return finalize_fail(
					ret_error,
					"groups[%zu].reserved_regions[%zu]: invalid region",
					gorig[j], k);
		if (g->n_foreign_members > 1)
			qsort(g->foreign_members, g->n_foreign_members, sizeof(ForeignMember),
			      cmp_foreign);
		for (size_t k = 0; k < g->n_foreign_members; k++) {
			const char *f = g->foreign_members[k].name;
			if (!*f || strchr(f, '/') || bdf_is_canonical(f))
				return finalize_fail(
					ret_error,
					"groups[%zu].foreign_members: '%s' is not a non-PCI "
					"device name",
					gorig[j], f);
			if (k > 0 && streq(g->foreign_members[k - 1].name, f))
				return finalize_fail(
					ret_error, "groups[%zu].foreign_members: '%s' listed twice",
					gorig[j], f);
		}
		if (!g->member_bdfs)
			continue;
		size_t n = strv_length(g->member_bdfs);
		for (size_t k = 0; k < n; k++) {
			const char *b = g->member_bdfs[k];
			const Device *d = host_find_device(h, b);
			if (!d)
				return finalize_fail(
					ret_error,
					"groups[%zu].devices[%zu]: no device '%s' on this host",
					gorig[j], k, b);
			if (d->iommu_group != g->number)
				return finalize_fail(
					ret_error,
					"groups[%zu].devices[%zu]: device '%s' has iommu_group %d, not %d",
					gorig[j], k, b, d->iommu_group, g->number);
			for (size_t m = 0; m < k; m++)
				if (streq(g->member_bdfs[m], b))
					return finalize_fail(
						ret_error,
						"groups[%zu].devices[%zu]: '%s' listed twice",
						gorig[j], k, b);
		}
		if (n != g->n_members) {
			/* Some device points at this group but the group does not list it. */
			for (size_t m = 0; m < g->n_members; m++)
				if (!strv_contains(g->member_bdfs, g->members[m]->bdf))
					return finalize_fail(
						ret_error,
						"devices[%zu].iommu_group: group %d does not list '%s' in its devices",
						dorig[g->members[m] - h->devices], g->number,
						g->members[m]->bdf);
		}
		g->member_bdfs = strv_free(g->member_bdfs);
	}

	/* References between devices, then the upstream chain. */
	for (size_t i = 0; i < h->n_devices; i++) {
		Device *d = &h->devices[i];
		if (d->parent && (r = check_ref(h, dorig, i, "parent", d->parent, ret_error)) < 0)
			return r;
		if (d->physfn && (r = check_ref(h, dorig, i, "physfn", d->physfn, ret_error)) < 0)
			return r;
		for (size_t k = 0; d->virtfn && d->virtfn[k]; k++) {
			char field[32];
			snprintf(field, sizeof(field), "sriov.virtfn[%zu]", k);
			if ((r = check_ref(h, dorig, i, field, d->virtfn[k], ret_error)) < 0)
				return r;
		}
	}
	for (size_t i = 0; i < h->n_devices; i++) {
		Device *d = &h->devices[i];
		_cleanup_strv_free_ char **path = NULL;
		size_t steps = 0;
		d->bridge_path = strv_free(d->bridge_path);
		for (const Device *p = d; p->parent; p = host_find_device(h, p->parent)) {
			if (++steps > h->n_devices)
				return finalize_fail(
					ret_error,
					"devices[%zu].parent: the parent chain of '%s' loops",
					dorig[i], d->bdf);
			if (strv_extend(&path, p->parent) < 0)
				return -ENOMEM;
		}
		d->bridge_path = TAKE_PTR(path);
	}
	return finalize_vdpa(h, ret_error);
}

bool device_is_bridge(const Device *d) {
	return d && (d->class >> 8) == 0x0604;
}

bool device_has_vfio(const Device *d) {
	return d && d->vfio_name != NULL;
}

bool device_driver_is_vfio(const Device *d) {
	/* vfio-pci and the variant drivers (mlx5_vfio_pci, nvgrace_gpu_vfio_pci,
	 * hisi_acc_vfio_pci, virtio_vfio_pci, ...). */
	const char *drv = d ? d->driver : NULL;
	return drv &&
	       (streq(drv, "vfio-pci") || strstr(drv, "vfio_pci") || strstr(drv, "vfio-pci"));
}

bool host_vfio_legacy_only(const Host *h) {
	return h && h->kernel.vfio_legacy == TRI_YES && h->kernel.vfio_cdev != TRI_YES;
}

int device_vfio_node(const Host *h, const Device *d, char *buf, size_t size) {
	int n;
	if (!d)
		return -EINVAL;
	if (d->vfio_name)
		n = snprintf(buf, size, "/dev/vfio/devices/%s", d->vfio_name);
	else if (host_vfio_legacy_only(h) && device_driver_is_vfio(d) && d->iommu_group >= 0)
		n = snprintf(buf, size, "/dev/vfio/%d", d->iommu_group);
	else
		return -ENODEV;
	return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

bool device_vfio_usable(const Host *h, const Device *d) {
	char buf[sizeof("/dev/vfio/devices/") + 256];
	return device_vfio_node(h, d, buf, sizeof(buf)) >= 0;
}

static const char *const resv_names[_RESV_TYPE_MAX] = {
	[RESV_DIRECT] = "direct",
	[RESV_DIRECT_RELAXABLE] = "direct-relaxable",
	[RESV_RESERVED] = "reserved",
	[RESV_MSI] = "msi",
};

const char *reserved_region_type_to_string(ReservedRegionType t) {
	if ((unsigned)t >= _RESV_TYPE_MAX)
		return NULL;
	return resv_names[t];
}

int reserved_region_type_from_string(const char *s) {
	if (!s)
		return -EINVAL;
	for (int i = 0; i < _RESV_TYPE_MAX; i++)
		if (streq(s, resv_names[i]))
			return i;
	return -EINVAL;
}
