/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasidctl inspection verbs: groups, devices, show, check.
 *
 * Each verb builds one document (a json-c tree) from the host model and viability, prints it
 * as is for --json, and renders the human form from that same object, so the two can never
 * disagree.
 * The JSON keys are documented in ioasidctl(8); they are snake_case and stable.
 */
#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <inttypes.h>
#include <grp.h>
#include <pwd.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "common/depend.h"
#include "common/json-out.h"
#include "common/client/bind.h"
#include "common/macro.h"
#include "common/pci-class.h"
#include "common/viability.h"
#include "policy/policy.h"
#include "common/client/client.h"
#include "common/client/limits-conf.h"
#include "ioasidctl/ioasidctl.h"
#include "ioasidctl/verbs.h"
#include "ioasidctl/output.h"

/* ---------------------------------------------------------------------------------------- */
/* Documents: each verb builds a json-c tree (the shared builders of common/json-out.h);
 * --json prints it and the human renderers read it back. A failed allocation is counted
 * (json_out_failed(), or oom for the verb's own) and reported once at the end. */

static bool oom;

/*
 * Leaves that repeat from device to device (ids, class names, drivers, states, booleans) are
 * one shared object each: a built document is only read, so one object may sit at many
 * places (json-c counts the references). A slot holds the last leaf made for its hash and
 * one reference to it, dropped when the verb's document goes.
 */
#define LEAF_CACHE 512

static struct {
	unsigned long v;
	int digits;
	json_object *o;
} hex_cache[LEAF_CACHE];
static json_object *str_cache[LEAF_CACHE];
static json_object *bool_cache[2];

/*
 * When the verb returns its document is kept, like the host model below: the process exits
 * right after printing, and freeing a json-c tree of ~100k objects (`groups` on 4096
 * devices) is 5% of the run. It stays referenced from here, reachable at exit; a second verb
 * in one process releases the first one's. The leaf caches drop their references.
 */
static json_object *kept_doc;

static void doc_endp(json_object **doc) {
	json_object_put(kept_doc);
	kept_doc = *doc;
	*doc = NULL;
	for (size_t i = 0; i < LEAF_CACHE; i++) {
		json_object_put(hex_cache[i].o);
		json_object_put(str_cache[i]);
	}
	json_object_put(bool_cache[0]);
	json_object_put(bool_cache[1]);
	memset(hex_cache, 0, sizeof(hex_cache));
	memset(str_cache, 0, sizeof(str_cache));
	memset(bool_cache, 0, sizeof(bool_cache));
}
#define _cleanup_doc_ _cleanup_(doc_endp)

/*
 * The host model outlives the verb: the process exits right after printing, and freeing
 * the model of 4096 devices (~100k small allocations) is 4% of a `groups --json` run. It
 * stays referenced from here, so it is reachable, not leaked, at exit; a second verb in one
 * process releases the first one's.
 */
static Host *kept_host;

static void host_keepp(Host **h) {
	if (!*h)
		return;
	host_free(kept_host);
	kept_host = *h;
	*h = NULL;
}
#define _cleanup_host_keep_ _cleanup_(host_keepp)

static json_object *jsf(const char *fmt, ...) _printf_(1, 2);
static json_object *jsf(const char *fmt, ...) {
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof(buf)) {
		/* Only short ids and numbers come through here. */
		oom = true;
		return NULL;
	}
	return json_str_len(buf, (size_t)r);
}

static size_t leaf_slot(uint64_t h) {
	return (size_t)((h * UINT64_C(0x9e3779b97f4a7c15)) >> 32) % LEAF_CACHE;
}

/* A cached leaf handed out once more (a new reference), or NULL. */
static json_object *leaf(json_object *o) {
	return o ? json_object_get(o) : NULL;
}

/* Fixed-width lower-case hex ("%04x") without printf: the ids of every device go through
 * here. */
static json_object *jhex(unsigned long v, int digits) {
	static const char hex[] = "0123456789abcdef";
	size_t i = leaf_slot(v * 31 + (unsigned)digits);
	if (hex_cache[i].o && hex_cache[i].v == v && hex_cache[i].digits == digits)
		return leaf(hex_cache[i].o);
	char buf[16];
	assert(digits > 0 && digits < (int)sizeof(buf));
	unsigned long x = v;
	for (int k = digits - 1; k >= 0; k--, x >>= 4)
		buf[k] = hex[x & 0xf];
	json_object *o = json_str_len(buf, (size_t)digits);
	if (o) {
		json_object_put(hex_cache[i].o);
		hex_cache[i].o = o;
		hex_cache[i].v = v;
		hex_cache[i].digits = digits;
	}
	return leaf(o);
}

/* An address as "0x%016" PRIx64 would print it, without printf (two per group). */
static json_object *jaddr(uint64_t v) {
	static const char hex[] = "0123456789abcdef";
	char buf[18] = "0x";
	for (int k = 17; k >= 2; k--, v >>= 4)
		buf[k] = hex[v & 0xf];
	return json_str_len(buf, sizeof(buf));
}

/* json_str_or_null() for strings that repeat (class names, drivers, states, verdicts):
 * shared by content. */
static json_object *jsi(const char *s) {
	if (!s)
		return NULL;
	uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a */
	for (const char *p = s; *p; p++)
		h = (h ^ (unsigned char)*p) * UINT64_C(0x100000001b3);
	size_t i = leaf_slot(h);
	if (str_cache[i] && streq(json_object_get_string(str_cache[i]), s))
		return leaf(str_cache[i]);
	json_object *o = json_str_or_null(s);
	if (o) {
		json_object_put(str_cache[i]);
		str_cache[i] = o;
	}
	return leaf(o);
}

static json_object *jbool(bool b) {
	if (!bool_cache[b])
		bool_cache[b] = json_boolean(b);
	return leaf(bool_cache[b]);
}

static int finish(json_object *doc) {
	if (oom || json_out_failed() || !doc)
		return ioasidctl_error(1, "Out of memory");
	return 0;
}

/* The one output path of every inspection verb: the document as --json, or rendered for
 * humans by render. Returns 0, or the exit code of an error it has reported. */
static int emit(json_object *doc, void (*render)(json_object *doc)) {
	if (finish(doc))
		return 1;
	if (arg_json != JSON_OFF) {
		if (output_json(doc) < 0)
			return ioasidctl_error(1, "Out of memory");
	} else
		render(doc);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Model -> JSON */

/* One device. With v: "blocking", and unless in_group (the group object carries them once)
 * its group's "verdict" and "viable". */

/* A device `ioasidctl bind` moved has a record of the driver it was on: "ioasidctl_bind":
 * {"was": "e1000e"} (null when it had none). Read from this host (or --root), never from a
 * snapshot alone, and only when there is one, so other devices' JSON is unchanged. */
static void add_bind_record(json_object *o, const char *bdf) {
	_cleanup_free_ char *was = NULL;
	json_object *b;

	if (arg_host && !arg_root)
		return;
	if (bind_record_read(arg_root, bdf, &was) < 0)
		return;
	b = json_obj();
	if (!b)
		return;
	json_add(b, "was", isempty(was) ? NULL : json_str_or_null(was));
	json_add(o, "ioasidctl_bind", b);
}

/* A vDPA device: what `vdpa dev show` says, its driver and, on vhost_vdpa, its char device. */
static json_object *vdpa_device_to_json(const VdpaDevice *v) {
	json_object *o = json_obj();
	char handle[320];
	if (!o)
		return NULL;
	json_add(o, "name", json_str_or_null(v->name));
	json_add(o, "management_device",
		 json_str_or_null(vdpa_mgmtdev_handle(v->mgmtdev_bus, v->mgmtdev_name, handle,
						      sizeof(handle))));
	json_add(o, "parent", v->parent ? json_str_or_null(v->parent->bdf) : NULL);
	json_add(o, "device_id", json_int(v->device_id));
	json_add(o, "class_name", jsi(vdpa_device_class_name(v->device_id)));
	json_add(o, "vendor_id", jhex(v->vendor_id, 4));
	json_add(o, "driver", jsi(v->driver));
	json_add(o, "vhost_cdev", json_str_or_null(v->vhost_name));
	json_add(o, "vhost_dev",
		 v->vhost_name ? jsf("%u:%u", v->vhost_major, v->vhost_minor) : NULL);
	json_add(o, "vhost_node", v->vhost_name ? jsf("/dev/%s", v->vhost_name) : NULL);
	return o;
}

/* For a PCI function that is a vDPA management device: "vdpa": {"management_device",
 * "devices"}. Only on such functions, so other devices' JSON is unchanged. */
static void add_vdpa_parent(json_object *o, const Host *h, const Device *d) {
	_cleanup_free_ const VdpaDevice **kids = NULL;
	char handle[320];
	if (!device_is_vdpa_parent(h, d))
		return;
	int n = host_vdpa_children(h, d, &kids);
	if (n < 0) {
		oom = true;
		return;
	}
	json_object *x = json_obj(), *a = json_arr();
	json_add(x, "management_device",
		 json_str_or_null(vdpa_mgmtdev_handle("pci", d->bdf, handle, sizeof(handle))));
	for (int i = 0; a && i < n; i++)
		json_append(a, vdpa_device_to_json(kids[i]));
	json_add(x, "devices", a);
	json_add(o, "vdpa", x);
}

static json_object *vdpa_devices_to_json(const Host *h) {
	json_object *a = json_arr();
	for (size_t i = 0; a && i < h->n_vdpa_devices; i++)
		json_append(a, vdpa_device_to_json(&h->vdpa_devices[i]));
	return a;
}

static json_object *device_to_json(const Host *h, const Device *d, const Viability *v,
				   bool in_group) {
	json_object *o = json_obj(); /* its keys below */
	if (!o)
		return NULL;
	MemberState s = viability_member_state(d);
	bool blocking = false;
	for (size_t i = 0; v && i < v->n_blockers; i++)
		if (v->blockers[i].device == d)
			blocking = true;

	json_add(o, "bdf", json_str_or_null(d->bdf));
	json_add(o, "vendor", jhex(d->vendor, 4));
	json_add(o, "device", jhex(d->device, 4));
	json_add(o, "subsystem_vendor", jhex(d->subsystem_vendor, 4));
	json_add(o, "subsystem_device", jhex(d->subsystem_device, 4));
	json_add(o, "class", jhex(d->class, 6));
	json_add(o, "class_name", jsi(pci_class_name(d->class)));
	json_add(o, "revision", jhex(d->revision, 2));
	json_add(o, "vendor_name", jsi(d->vendor_name));
	json_add(o, "device_name", jsi(d->device_name));
	json_add(o, "driver", jsi(d->driver));
	json_add(o, "state", jsi(member_state_to_string(s)));
	add_bind_record(o, d->bdf);
	add_vdpa_parent(o, h, d);
	json_add(o, "iommu_group", d->iommu_group >= 0 ? json_int(d->iommu_group) : NULL);
	json_add(o, "vfio_cdev", json_str_or_null(d->vfio_name));
	json_add(o, "vfio_dev", d->vfio_name ? jsf("%u:%u", d->vfio_major, d->vfio_minor) : NULL);
	json_add(o, "noiommu", jbool(d->vfio_name && d->noiommu));
	char node[300];
	json_add(o, "vfio_node",
		 device_vfio_node(h, d, node, sizeof(node)) >= 0 ? json_str_or_null(node) : NULL);
	if (v && !in_group) {
		json_add(o, "verdict", jsi(verdict_to_string(v->verdict)));
		json_add(o, "viable", jbool(v->verdict == VERDICT_VIABLE));
	}
	if (v)
		json_add(o, "blocking", jbool(blocking));
	return o;
}

static const char *region_type_name(ReservedRegionType t) {
	static const char *const names[] = {
		[RESV_DIRECT] = "direct",
		[RESV_DIRECT_RELAXABLE] = "direct-relaxable",
		[RESV_RESERVED] = "reserved",
		[RESV_MSI] = "msi",
	};
	return (unsigned)t < ELEMENTSOF(names) ? names[t] : "unknown";
}

/*
 * The host's own devices are no candidates: for the only device of its group (bridges
 * aside), on this host (or --root), what `ioasidctl bind` would refuse for, when that is more
 * than an interface being up (an address, a route, a mount, swap, a holder, the display).
 * NULL otherwise, and when the checks cannot run (the hint then stays).
 */
static BindCheck *essential_check = NULL;
static void essential_check_free(void) {
	essential_check = bind_check_free(essential_check);
}
static char *essential_note(const Device *d) {
	static bool tried = false;
	_cleanup_(bind_findings_done) BindFindings f = {};
	size_t n = 0;

	if ((arg_host && !arg_root) || !d || !d->group)
		return NULL;
	for (size_t i = 0; i < d->group->n_members; i++)
		n += !device_is_bridge(d->group->members[i]);
	if (n != 1)
		return NULL;
	if (!tried) {
		tried = true;
		if (bind_check_new(arg_root, &essential_check) >= 0)
			atexit(essential_check_free);
	}
	if (!essential_check || bind_check_device(essential_check, d->bdf, &f) < 0)
		return NULL;
	for (size_t i = 0; i < f.n; i++)
		if (f.items[i].kind != FINDING_LINK_UP)
			return strjoin("not a candidate for passthrough, this host uses it: ",
				       f.items[i].message);
	return NULL;
}

/* Adds blockers and notes (and the verdict when with_verdict) to o. */
static json_object *viability_to_json(const Viability *v, json_object *o, bool with_verdict) {
	if (with_verdict)
		json_add(o, "verdict", jsi(verdict_to_string(v->verdict)));
	json_object *b = json_arr();
	for (size_t i = 0; b && i < v->n_blockers; i++) {
		json_object *x = json_obj();
		if (!x)
			break;
		const Blocker *bl = &v->blockers[i];
		/* "bdf" for a PCI function; "name" and "bus" for any member. */
		json_add(x, "bdf", bl->device ? json_str_or_null(bl->device->bdf) : NULL);
		json_add(x, "name", json_str_or_null(bl->name));
		json_add(x, "bus", bl->device ? jsi("pci") : json_str_or_null(bl->foreign->bus));
		json_add(x, "driver",
			 bl->device ? jsi(bl->device->driver)
				    : json_str_or_null(bl->foreign->driver));
		json_add(x, "reason", json_str_or_null(v->blockers[i].reason));
		_cleanup_free_ char *essential = essential_note(v->blockers[i].device);
		json_add(x, "fix", essential ? NULL : json_str_or_null(v->blockers[i].fix));
		json_add(x, "fix_sysfs",
			 essential ? NULL : json_str_or_null(v->blockers[i].fix_sysfs));
		if (essential)
			json_add(x, "note", json_str_or_null(essential));
		json_append(b, x);
	}
	json_add(o, "blockers", b);
	json_add(o, "notes", json_strv(v->notes));
	return o;
}

static bool group_is_identity(const Group *g) {
	return g->type && streq(g->type, "identity");
}

/* A group; with identity_note, its identity default domain note among its notes (the
 * groups verb says it once for all groups instead). */
static json_object *group_to_json(const Host *h, const Group *g, bool identity_note) {
	_cleanup_(viability_done) Viability v = {};
	if (viability_group(h, g, &v) < 0) {
		oom = true;
		return NULL;
	}
	if (identity_note && group_is_identity(g)) {
		char *note = NULL;
		if (viability_identity_note(&g->number, 1, &note) < 0 ||
		    strv_push(&v.notes, note) < 0) {
			free(note);
			oom = true;
			return NULL;
		}
	}
	json_object *o = json_obj();
	if (!o)
		return NULL;
	json_add(o, "group", json_int(g->number));
	json_add(o, "type", jsi(g->type));
	viability_to_json(&v, o, true);
	json_add(o, "brokerable", jbool(group_has_pci_function(g)));
	json_object *devs = json_arr();
	for (size_t i = 0; devs && i < g->n_members; i++)
		json_append(devs, device_to_json(h, g->members[i], &v, true));
	json_add(o, "devices", devs);
	/* Members that are not PCI functions: listed and judged, never brokered. */
	json_object *fm = json_arr();
	for (size_t i = 0; fm && i < g->n_foreign_members; i++) {
		const ForeignMember *f = &g->foreign_members[i];
		json_object *x = json_obj();
		bool blocking = false;
		for (size_t j = 0; j < v.n_blockers; j++)
			blocking = blocking || v.blockers[j].foreign == f;
		json_add(x, "name", json_str_or_null(f->name));
		json_add(x, "bus", jsi(f->bus));
		json_add(x, "driver", jsi(f->driver));
		json_add(x, "state", jsi(member_state_to_string(viability_foreign_state(f))));
		json_add(x, "blocking", jbool(blocking));
		json_append(fm, x);
	}
	json_add(o, "foreign_members", fm);
	json_object *rr = json_arr();
	for (size_t i = 0; rr && i < g->n_regions; i++) {
		json_object *x = json_obj();
		if (!x)
			break;
		json_add(x, "start", jaddr(g->regions[i].start));
		json_add(x, "end", jaddr(g->regions[i].end));
		json_add(x, "type", jsi(region_type_name(g->regions[i].type)));
		json_append(rr, x);
	}
	json_add(o, "reserved_regions", rr);
	return o;
}

/* A group VFIO made up for no-IOMMU mode: every member has a noiommu cdev. */
static bool group_is_noiommu(const Group *g) {
	if (g->n_members == 0)
		return false;
	for (size_t i = 0; i < g->n_members; i++)
		if (!g->members[i]->vfio_name || !g->members[i]->noiommu)
			return false;
	return true;
}

/* Facts every verb reports so an empty answer is never silent. */
static json_object *iommu_to_json(const Host *h) {
	json_object *o = json_obj();
	if (!o)
		return NULL;
	size_t n_noiommu = 0;
	for (size_t i = 0; i < h->n_groups; i++)
		n_noiommu += group_is_noiommu(&h->groups[i]);
	bool enabled = h->n_groups > n_noiommu;
	json_add(o, "enabled", jbool(enabled));
	json_add(o, "vendor", json_str_or_null(h->kernel.iommu_vendor));
	json_add(o, "units", json_strv(h->kernel.iommu_units));
	json_add(o, "groups", json_int((int32_t)h->n_groups));
	json_add(o, "noiommu_groups", json_int((int32_t)n_noiommu));
	json_add(o, "hint", enabled ? NULL : json_str_or_null(viability_iommu_hint(h)));
	return o;
}

/* ---------------------------------------------------------------------------------------- */
/* Rendering helpers */

/* "NVIDIA Corporation GA102 [GeForce RTX 3090]", or the class name when the hwdb is silent. */
static void device_label(json_object *d, char *buf, size_t len) {
	const char *vn = json_get_str(d, "vendor_name"), *dn = json_get_str(d, "device_name");
	if (dn)
		snprintf(buf, len, "%s%s%s", vn ? vn : "", vn ? " " : "", dn);
	else
		snprintf(buf, len, "%s", strna(json_get_str(d, "class_name")));
}

static const char *verdict_color(const char *verdict) {
	if (!verdict)
		return "";
	if (streq(verdict, "viable"))
		return ansi_green();
	if (streq(verdict, "not-viable"))
		return ansi_red();
	if (streq(verdict, "empty"))
		return "";
	return ansi_yellow();
}

static const char *verdict_human(const char *verdict) {
	if (verdict && streq(verdict, "not-viable"))
		return "not viable";
	if (verdict && streq(verdict, "no-iommu"))
		return "no IOMMU";
	if (verdict && streq(verdict, "empty"))
		return "empty (no devices)";
	return strna(verdict);
}

/* "  (vDPA parent: vdpa1 on vhost_vdpa /dev/vhost-vdpa-1)" after a device's line. */
static void print_vdpa_label(json_object *d) {
	json_object *x = json_get(d, "vdpa");
	if (!x)
		return;
	json_object *a = json_get(x, "devices");
	printf("  (vDPA parent");
	for (size_t i = 0; i < json_len(a); i++) {
		json_object *v = json_at(a, i);
		printf("%s %s on %s", i ? "," : ":", json_get_str(v, "name"),
		       json_get_str(v, "driver") ?: "no driver");
		if (json_get_str(v, "vhost_node"))
			printf(" %s", json_get_str(v, "vhost_node"));
	}
	if (json_len(a) == 0)
		printf(", no vDPA device");
	printf(")");
}

/* One line per vDPA device, as the devices verb lists them. */
static void print_vdpa_devices(json_object *a) {
	if (json_len(a) == 0)
		return;
	printf("\nvDPA devices:\n");
	for (size_t i = 0; i < json_len(a); i++) {
		json_object *v = json_at(a, i);
		printf("%s %s (%s) mgmtdev=%s drv=%s%s%s\n",
		       i + 1 == json_len(a) ? glyph_tree_last() : glyph_tree_mid(),
		       json_get_str(v, "name"), json_get_str(v, "class_name") ?: "virtio device",
		       json_get_str(v, "management_device"), json_get_str(v, "driver") ?: "none",
		       json_get_str(v, "vhost_node") ? " " : "",
		       strempty(json_get_str(v, "vhost_node")));
	}
}

/* Prints blockers and notes of a group object, each line prefixed with indent. */
static void print_reasons(json_object *g, const char *indent) {
	json_object *b = json_get(g, "blockers"), *n = json_get(g, "notes");
	for (size_t i = 0; i < json_len(b); i++) {
		json_object *x = json_at(b, i);
		printf("%s%s%s%s %s\n", indent, ansi_red(), glyph_cross(), ansi_normal(),
		       json_get_str(x, "reason"));
		if (json_get_str(x, "note")) {
			printf("%s  %snote:%s %s\n", indent, ansi_yellow(), ansi_normal(),
			       json_get_str(x, "note"));
			continue;
		}
		printf("%s  fix: %s\n", indent, json_get_str(x, "fix"));
		printf("%s   or: %s\n", indent, json_get_str(x, "fix_sysfs"));
	}
	for (size_t i = 0; i < json_len(n); i++)
		printf("%s%snote:%s %s\n", indent, ansi_yellow(), ansi_normal(),
		       json_str_of(json_at(n, i)));
}

static void print_no_iommu(json_object *iommu, size_t n_devices) {
	printf("No IOMMU groups: the IOMMU is off or absent. %s\n",
	       strempty(json_get_str(iommu, "hint")));
	if (n_devices > 0)
		printf("%zu PCI device%s no IOMMU group and cannot be assigned "
		       "(see 'ioasidctl devices').\n",
		       n_devices, n_devices == 1 ? " has" : "s have");
}

/* ---------------------------------------------------------------------------------------- */
/* groups */

static void render_groups(json_object *doc) {
	json_object *groups = json_get(doc, "groups");
	json_object *iommu = json_get(doc, "iommu");
	json_object *ungrouped = json_get(doc, "ungrouped_devices");

	if (json_len(groups) == 0) {
		print_no_iommu(iommu, json_len(ungrouped));
		return;
	}
	for (size_t i = 0; i < json_len(groups); i++) {
		json_object *g = json_at(groups, i);
		const char *verdict = json_get_str(g, "verdict");
		json_object *devs = json_get(g, "devices");
		if (i > 0)
			putchar('\n');
		printf("%sIOMMU Group %" PRId64 "%s", ansi_bold(), json_get_int(g, "group", -1),
		       ansi_normal());
		if (json_get_str(g, "type"))
			printf(" (%s)", json_get_str(g, "type"));
		printf(": %s%s%s", verdict_color(verdict), verdict_human(verdict), ansi_normal());
		if (!json_get_bool(g, "brokerable") && json_len(json_get(g, "foreign_members")) > 0)
			printf(", no PCI function");
		putchar('\n');
		bool has_more = json_len(json_get(g, "blockers")) + json_len(json_get(g, "notes")) >
				0;
		json_object *fm = json_get(g, "foreign_members");
		size_t n_rows = json_len(devs) + json_len(fm);
		for (size_t j = 0; j < json_len(devs); j++) {
			json_object *d = json_at(devs, j);
			bool last = j + 1 == n_rows;
			char label[256];
			device_label(d, label, sizeof(label));
			printf("%s %s [%s:%s] %s  drv=%s",
			       last ? glyph_tree_last() : glyph_tree_mid(), json_get_str(d, "bdf"),
			       json_get_str(d, "vendor"), json_get_str(d, "device"), label,
			       json_get_str(d, "driver") ?: "none");
			if (json_get_str(d, "vfio_cdev"))
				printf(" vfio=%s%s", json_get_str(d, "vfio_cdev"),
				       json_get_bool(d, "noiommu") ? " (noiommu)" : "");
			else if (json_get_str(d, "vfio_node"))
				/* Legacy kernel: the group node stands for the device. */
				printf(" vfio=%s", json_get_str(d, "vfio_node"));
			if (json_get_bool(d, "blocking"))
				printf("  %s%s blocks%s", ansi_red(), glyph_cross(), ansi_normal());
			else if (streq(json_get_str(d, "state"), "bridge"))
				printf("  (bridge, ignored)");
			if (json_get(d, "ioasidctl_bind"))
				printf("  (bound by ioasidctl, was on %s)",
				       json_get_str(json_get(d, "ioasidctl_bind"), "was")
					       ?: "no driver");
			print_vdpa_label(d);
			putchar('\n');
		}
		for (size_t j = 0; j < json_len(fm); j++) {
			json_object *f = json_at(fm, j);
			bool last = json_len(devs) + j + 1 == n_rows;
			printf("%s %s (%s device, not PCI)  drv=%s",
			       last ? glyph_tree_last() : glyph_tree_mid(), json_get_str(f, "name"),
			       json_get_str(f, "bus") ?: "unknown bus",
			       json_get_str(f, "driver")
				       ?: (streq(strempty(json_get_str(f, "state")), "unknown")
						   ? "unknown"
						   : "none"));
			if (json_get_bool(f, "blocking"))
				printf("  %s%s blocks%s", ansi_red(), glyph_cross(), ansi_normal());
			putchar('\n');
		}
		if (has_more)
			print_reasons(g, "   ");
	}
	json_object *notes = json_get(doc, "notes");
	for (size_t i = 0; i < json_len(notes); i++)
		printf("\n%snote:%s %s\n", ansi_yellow(), ansi_normal(),
		       json_str_of(json_at(notes, i)));
	if (!json_get_bool(iommu, "enabled"))
		printf("\n%snote:%s These are VFIO no-IOMMU groups: no DMA isolation. %s\n",
		       ansi_yellow(), ansi_normal(), strempty(json_get_str(iommu, "hint")));
	if (json_len(ungrouped) > 0) {
		printf("\nWithout an IOMMU group (cannot be assigned):\n");
		for (size_t i = 0; i < json_len(ungrouped); i++) {
			json_object *d = json_at(ungrouped, i);
			char label[256];
			device_label(d, label, sizeof(label));
			printf("%s %s [%s:%s] %s  drv=%s\n",
			       i + 1 == json_len(ungrouped) ? glyph_tree_last() : glyph_tree_mid(),
			       json_get_str(d, "bdf"), json_get_str(d, "vendor"),
			       json_get_str(d, "device"), label,
			       json_get_str(d, "driver") ?: "none");
		}
	}
}

/* --legacy: the lines of ls-iommu and of the classic shell loop over iommu_groups, i.e.
 * "IOMMU Group N: " followed by what `lspci -Dnn` prints for the device. */
static void render_groups_legacy(json_object *doc) {
	json_object *groups = json_get(doc, "groups");
	if (json_len(groups) == 0) {
		print_no_iommu(json_get(doc, "iommu"),
			       json_len(json_get(doc, "ungrouped_devices")));
		return;
	}
	for (size_t i = 0; i < json_len(groups); i++) {
		json_object *g = json_at(groups, i), *devs = json_get(g, "devices");
		for (size_t j = 0; j < json_len(devs); j++) {
			json_object *d = json_at(devs, j);
			const char *vn = json_get_str(d, "vendor_name"),
				   *dn = json_get_str(d, "device_name");
			const char *cls = json_get_str(d, "class"),
				   *rev = json_get_str(d, "revision");
			printf("IOMMU Group %" PRId64 ": %s %s [%.4s]: %s%s%s [%s:%s]",
			       json_get_int(g, "group", -1), json_get_str(d, "bdf"),
			       json_get_str(d, "class_name"), strempty(cls), vn ? vn : "Device",
			       dn ? " " : "", strempty(dn), json_get_str(d, "vendor"),
			       json_get_str(d, "device"));
			if (rev && !streq(rev, "00"))
				printf(" (rev %s)", rev);
			putchar('\n');
		}
	}
}

int verb_groups(int argc, char **argv) {
	_cleanup_host_keep_ Host *h = NULL;
	_cleanup_doc_ json_object *doc = NULL;

	if (argc > 1)
		return ioasidctl_error(EXIT_USAGE, "Verb 'groups' takes no arguments");
	if (ioasidctl_load_host(&h) < 0)
		return 1;

	doc = json_obj();
	json_object *groups = json_arr(), *ungrouped = json_arr();
	size_t n_viable = 0, n_empty = 0, n_identity = 0;
	_cleanup_free_ int *identity = h->n_groups ? calloc(h->n_groups, sizeof(int)) : NULL;
	if (h->n_groups && !identity)
		oom = true;
	for (size_t i = 0; groups && identity && i < h->n_groups; i++) {
		json_object *g = group_to_json(h, &h->groups[i], false);
		if (g && streq(strempty(json_get_str(g, "verdict")), "viable"))
			n_viable++;
		if (g && streq(strempty(json_get_str(g, "verdict")), "empty"))
			n_empty++;
		if (group_is_identity(&h->groups[i]))
			identity[n_identity++] = h->groups[i].number;
		json_append(groups, g);
	}
	/* Host-wide notes, said once rather than per group. */
	_cleanup_free_ char *identity_note = NULL;
	if (viability_identity_note(identity, n_identity, &identity_note) < 0)
		oom = true;
	json_object *notes = json_arr();
	if (identity_note)
		json_append(notes, json_str_or_null(identity_note));
	for (size_t i = 0; ungrouped && i < h->n_devices; i++)
		if (!h->devices[i].group)
			json_append(ungrouped, device_to_json(h, &h->devices[i], NULL, false));
	if (doc) {
		json_add(doc, "iommu", iommu_to_json(h));
		json_add(doc, "groups", groups);
		json_add(doc, "ungrouped_devices", ungrouped);
		json_add(doc, "notes", notes);
		json_object *sum = json_obj();
		if (sum) {
			json_add(sum, "groups", json_int((int32_t)h->n_groups));
			json_add(sum, "viable", json_int((int32_t)n_viable));
			json_add(sum, "not_viable",
				 json_int((int32_t)(h->n_groups - n_viable - n_empty)));
			json_add(sum, "empty", json_int((int32_t)n_empty));
		}
		json_add(doc, "summary", sum);
	}
	return emit(doc, arg_legacy ? render_groups_legacy : render_groups);
}

/* ---------------------------------------------------------------------------------------- */
/* devices */

static void render_devices(json_object *doc) {
	json_object *devs = json_get(doc, "devices");
	json_object *iommu = json_get(doc, "iommu");

	for (size_t i = 0; i < json_len(devs); i++) {
		json_object *d = json_at(devs, i);
		const char *dn = json_get_str(d, "device_name");
		char group[32] = "-";
		int64_t gn = json_get_int(d, "iommu_group", -1);
		if (gn >= 0)
			snprintf(group, sizeof(group), "%" PRId64, gn);
		bool viable = json_get_bool(d, "viable");
		printf("%s '%s' [%s:%s] drv=%s group=%s vfio=%s %sviable=%s%s", json_get_str(d, "bdf"),
		       dn ? dn : json_get_str(d, "class_name"), json_get_str(d, "vendor"),
		       json_get_str(d, "device"), json_get_str(d, "driver") ?: "none", group,
		       json_get_str(d, "vfio_cdev") ?: json_get_str(d, "vfio_node") ?: "-",
		       viable ? ansi_green() : ansi_red(), viable ? "yes" : "no", ansi_normal());
		if (gn < 0)
			printf(" (no IOMMU group)");
		else if (json_get_bool(d, "blocking"))
			printf(" %s(blocks group %" PRId64 ")%s", ansi_red(), gn, ansi_normal());
		print_vdpa_label(d);
		putchar('\n');
	}
	if (!json_get_bool(doc, "filter_vfio") && !json_get_bool(doc, "filter_blocking"))
		print_vdpa_devices(json_get(doc, "vdpa_devices"));
	if (json_len(devs) == 0) {
		if (json_get_bool(doc, "filter_vfio") && !json_get_bool(iommu, "enabled"))
			printf("No device has a VFIO cdev, and without an IOMMU none can get one "
			       "short of the unsafe no-IOMMU mode "
			       "(see the note below).\n");
		else if (json_get_bool(doc, "filter_vfio"))
			printf("No device has a VFIO cdev: bind one with "
			       "'ioasidctl bind BDF'.\n");
		else if (json_get_bool(doc, "filter_blocking"))
			printf("No device blocks its IOMMU group.\n");
		else
			printf("No PCI devices found.\n");
	}
	if (!json_get_bool(iommu, "enabled") && !arg_quiet)
		printf("%snote:%s The IOMMU is off or absent: no device is DMA-isolated. %s\n",
		       ansi_yellow(), ansi_normal(), strempty(json_get_str(iommu, "hint")));
}

int verb_devices(int argc, char **argv) {
	_cleanup_host_keep_ Host *h = NULL;
	_cleanup_doc_ json_object *doc = NULL;

	if (argc > 1)
		return ioasidctl_error(EXIT_USAGE,
				       "Verb 'devices' takes no arguments, only --vfio and "
				       "--blocking");
	if (ioasidctl_load_host(&h) < 0)
		return 1;

	doc = json_obj();
	json_object *devs = json_arr();
	for (size_t i = 0; devs && i < h->n_devices; i++) {
		const Device *d = &h->devices[i];
		_cleanup_(viability_done) Viability v = {};
		if (arg_vfio && !device_vfio_usable(h, d))
			continue;
		if (viability_device(h, d, &v) < 0) {
			oom = true;
			break;
		}
		bool blocking = false;
		for (size_t j = 0; j < v.n_blockers; j++)
			blocking = blocking || v.blockers[j].device == d;
		if (arg_blocking && !blocking)
			continue;
		json_append(devs, device_to_json(h, d, &v, false));
	}
	if (doc) {
		json_add(doc, "iommu", iommu_to_json(h));
		json_add(doc, "filter_vfio", jbool(arg_vfio));
		json_add(doc, "filter_blocking", jbool(arg_blocking));
		json_add(doc, "devices", devs);
		json_add(doc, "vdpa_devices", vdpa_devices_to_json(h));
	}
	return emit(doc, render_devices);
}

/* ---------------------------------------------------------------------------------------- */
/* show */

static void kv(const char *key, const char *fmt, ...) _printf_(2, 3);
static void kv(const char *key, const char *fmt, ...) {
	va_list ap;
	if (isempty(key))
		printf("%20s", "");
	else
		printf("%s%18s:%s ", ansi_bold(), key, ansi_normal());
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void kv_list(const char *key, json_object *a) {
	if (json_len(a) == 0)
		return;
	printf("%s%18s:%s ", ansi_bold(), key, ansi_normal());
	for (size_t i = 0; i < json_len(a); i++)
		printf("%s%s", i ? ", " : "", json_str_of(json_at(a, i)));
	putchar('\n');
}

static void render_regions(json_object *g) {
	json_object *rr = json_get(g, "reserved_regions");
	for (size_t i = 0; i < json_len(rr); i++) {
		json_object *r = json_at(rr, i);
		kv(i == 0 ? "reserved regions" : "", "%s-%s %s", json_get_str(r, "start"),
		   json_get_str(r, "end"), json_get_str(r, "type"));
	}
	if (json_len(rr) == 0)
		kv("reserved regions", "none reported");
}

static void render_group_members(json_object *g, const char *skip_bdf) {
	json_object *devs = json_get(g, "devices");
	size_t shown = 0;
	for (size_t i = 0; i < json_len(devs); i++) {
		json_object *d = json_at(devs, i);
		if (skip_bdf && streq(json_get_str(d, "bdf"), skip_bdf))
			continue;
		char label[256];
		device_label(d, label, sizeof(label));
		kv(shown++ == 0 ? (skip_bdf ? "at risk" : "members") : "", "%s [%s:%s] %s, %s%s",
		   json_get_str(d, "bdf"), json_get_str(d, "vendor"), json_get_str(d, "device"),
		   label, json_get_str(d, "driver") ?: "no driver",
		   json_get_bool(d, "blocking")                ? " (blocks)"
		   : streq(json_get_str(d, "state"), "bridge") ? " (bridge)"
							       : "");
	}
	json_object *fm = json_get(g, "foreign_members");
	for (size_t i = 0; i < json_len(fm); i++) {
		json_object *f = json_at(fm, i);
		kv(shown++ == 0 ? (skip_bdf ? "at risk" : "members") : "",
		   "%s (%s device, not PCI), %s%s", json_get_str(f, "name"),
		   json_get_str(f, "bus") ?: "unknown bus",
		   json_get_str(f, "driver")
			   ?: (streq(strempty(json_get_str(f, "state")), "unknown")
				       ? "driver unknown"
				       : "no driver"),
		   json_get_bool(f, "blocking") ? " (blocks)" : "");
	}
	if (!skip_bdf && shown == 0)
		kv("members", "none");
	if (skip_bdf && shown == 0)
		kv("at risk", "none: the device is alone in its group");
}

/* Reset scope, VFIO's dev_set and the dependents of a device (device_detail_json()). */
static void render_dependents(json_object *d) {
	const char *scope = json_get_str(d, "reset");
	json_object *methods = json_get(d, "reset_method"), *set = json_get(d, "reset_set");
	char m[128] = "";
	for (size_t i = 0; i < json_len(methods); i++)
		snprintf(m + strlen(m), sizeof(m) - strlen(m), "%s%s", i ? " " : "",
			 json_str_of(json_at(methods, i)));
	if (streq(strempty(scope), "function"))
		kv("reset", "of the function alone (%s)", m);
	else if (streq(strempty(scope), "bus")) {
		printf("%s%18s:%s %sbus reset only%s (%s), takes down ", ansi_bold(), "reset",
		       ansi_normal(), ansi_yellow(), ansi_normal(), *m ? m : "no reset method");
		for (size_t i = 0; i < json_len(set); i++)
			printf("%s%s", i ? ", " : "", json_str_of(json_at(set, i)));
		putchar('\n');
	} else if (streq(strempty(scope), "none"))
		kv("reset", "%snone%s: no function reset and no bridge above", ansi_yellow(),
		   ansi_normal());
	else
		kv("reset", "unknown (the host does not list reset methods)");
	if (json_len(json_get(d, "dev_set")) > 1)
		kv_list("vfio dev_set", json_get(d, "dev_set"));
	json_object *deps = json_get(d, "dependents");
	for (size_t i = 0; i < json_len(deps); i++) {
		json_object *e = json_at(deps, i);
		const char *rel = json_get_str(e, "relation");
		kv(i == 0 ? "dependents" : "", "%s (%s)", json_get_str(e, "bdf"),
		   streq(strempty(rel), "pf")   ? "its PF"
		   : streq(strempty(rel), "vf") ? "one of its VFs"
						: "shares a bus reset");
	}
}

static void render_show_device(json_object *doc) {
	json_object *d = json_get(doc, "device");
	json_object *g = json_get(doc, "group");
	const char *vn = json_get_str(d, "vendor_name"), *dn = json_get_str(d, "device_name");

	printf("%s%s%s '%s'\n", ansi_bold(), json_get_str(d, "bdf"), ansi_normal(),
	       dn ? dn : json_get_str(d, "class_name"));
	kv("vendor", "%s%s%s", json_get_str(d, "vendor"), vn ? " " : "", strempty(vn));
	kv("device", "%s%s%s", json_get_str(d, "device"), dn ? " " : "", strempty(dn));
	kv("subsystem", "%s:%s", json_get_str(d, "subsystem_vendor"),
	   json_get_str(d, "subsystem_device"));
	kv("class", "%s %s", json_get_str(d, "class"), json_get_str(d, "class_name"));
	kv("revision", "%s", json_get_str(d, "revision"));
	kv("driver", "%s (%s)", json_get_str(d, "driver") ?: "none", json_get_str(d, "state"));
	if (json_get(d, "ioasidctl_bind"))
		kv("bound", "by ioasidctl, was on %s",
		   json_get_str(json_get(d, "ioasidctl_bind"), "was") ?: "no driver");
	if (json_get_str(d, "vfio_cdev"))
		kv("vfio", "/dev/vfio/devices/%s (%s)%s", json_get_str(d, "vfio_cdev"),
		   json_get_str(d, "vfio_dev"), json_get_bool(d, "noiommu") ? ", noiommu" : "");
	else
		kv("vfio", "none");
	int64_t numa = json_get_int(d, "numa_node", -1);
	if (numa >= 0)
		kv("numa node", "%" PRId64, numa);
	else
		kv("numa node", "unknown");
	json_object *bp = json_get(d, "bridge_path");
	if (json_len(bp) > 0)
		kv_list("bridge path", bp);
	else
		kv("bridge path", "on a root bus");
	json_object *sriov = json_get(d, "sriov");
	if (sriov)
		kv("sr-iov", "PF, %" PRId64 " of %" PRId64 " VFs enabled",
		   json_get_int(sriov, "numvfs", 0), json_get_int(sriov, "totalvfs", 0));
	kv_list("vfs", json_get(d, "virtfn"));
	if (json_get_str(d, "physfn"))
		kv("sr-iov", "VF of %s", json_get_str(d, "physfn"));
	kv_list("netdevs", json_get(d, "netdevs"));
	json_object *vd = json_get(d, "vdpa");
	if (vd) {
		json_object *a = json_get(vd, "devices");
		for (size_t i = 0; i < json_len(a); i++) {
			json_object *v = json_at(a, i);
			kv(i == 0 ? "vdpa" : "", "%s (%s) on %s%s%s", json_get_str(v, "name"),
			   json_get_str(v, "class_name") ?: "virtio device",
			   json_get_str(v, "driver") ?: "no driver",
			   json_get_str(v, "vhost_node") ? ", " : "",
			   strempty(json_get_str(v, "vhost_node")));
		}
		if (json_len(a) == 0)
			kv("vdpa", "management device %s, no vDPA device",
			   json_get_str(vd, "management_device"));
	}
	render_dependents(d);
	if (g) {
		const char *verdict = json_get_str(g, "verdict");
		kv("iommu group", "%" PRId64 " (%s), %s%s%s", json_get_int(g, "group", -1),
		   json_get_str(g, "type") ?: "type unknown", verdict_color(verdict),
		   verdict_human(verdict), ansi_normal());
		render_group_members(g, json_get_str(d, "bdf"));
		render_regions(g);
		print_reasons(g, "  ");
	} else {
		kv("iommu group", "none: %sno IOMMU%s", ansi_yellow(), ansi_normal());
		print_reasons(doc, "  ");
	}
}

static void render_show_group(json_object *doc) {
	json_object *g = json_get(doc, "group");
	const char *verdict = json_get_str(g, "verdict");
	printf("%sIOMMU Group %" PRId64 "%s: %s%s%s\n", ansi_bold(), json_get_int(g, "group", -1),
	       ansi_normal(), verdict_color(verdict), verdict_human(verdict), ansi_normal());
	kv("type", "%s", json_get_str(g, "type") ?: "unknown");
	render_group_members(g, NULL);
	render_regions(g);
	print_reasons(g, "  ");
}

/* The udev properties ("KEY=VALUE") as an object KEY: VALUE, as a snapshot has them. */
static json_object *properties_json(char *const *l) {
	json_object *o = json_obj();
	for (char *const *p = l; o && p && *p; p++) {
		const char *eq = strchr(*p, '=');
		_cleanup_free_ char *key = strndup(*p, eq ? (size_t)(eq - *p) : strlen(*p));
		json_object *v = json_str_or_null(eq ? eq + 1 : "");
		/* Not a literal: json-c copies the key. */
		if (!key || json_object_object_add(o, key, v) < 0) {
			json_object_put(v);
			oom = true;
		}
	}
	return o;
}

static json_object *device_detail_json(const Host *h, const Device *d, const Viability *v) {
	json_object *o = device_to_json(h, d, v, false);
	if (!o)
		return NULL;
	json_add(o, "numa_node", json_int(d->numa_node));
	json_add(o, "parent", json_str_or_null(d->parent));
	json_add(o, "bridge_path", json_strv(d->bridge_path));
	if (d->sriov_totalvfs >= 0) {
		json_object *s = json_obj();
		if (s) {
			json_add(s, "totalvfs", json_int(d->sriov_totalvfs));
			json_add(s, "numvfs", json_int(d->sriov_numvfs));
		}
		json_add(o, "sriov", s);
	} else
		json_add(o, "sriov", NULL);
	json_add(o, "virtfn", json_strv(d->virtfn));
	json_add(o, "physfn", json_str_or_null(d->physfn));
	json_add(o, "netdevs", json_strv(d->netdevs));
	json_add(o, "properties", properties_json(d->properties));
	/* Dependent devices (common/depend.h): what a reset takes down, VFIO's dev_set, and the
	 * devices that go to one owner with this one. */
	json_add(o, "reset_method", d->reset_known ? json_strv(d->reset_methods) : NULL);
	json_add(o, "reset", json_str_or_null(reset_scope_to_string(depend_reset_scope(h, d))));
	_cleanup_free_ const Device **set = NULL;
	_cleanup_free_ Dependent *deps = NULL;
	size_t n = 0;
	json_object *a = json_arr();
	if (depend_reset_set(h, d, &set, &n) < 0)
		oom = true;
	for (size_t i = 0; i < n; i++)
		json_append(a, json_str_or_null(set[i]->bdf));
	json_add(o, "reset_set", a);
	free(set);
	set = NULL;
	a = json_arr();
	if (depend_dev_set(h, d, &set, &n) < 0)
		oom = true;
	for (size_t i = 0; i < n; i++)
		json_append(a, json_str_or_null(set[i]->bdf));
	json_add(o, "dev_set", a);
	a = json_arr();
	if (depend_dependents(h, d, &deps, &n) < 0)
		oom = true;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_obj();
		json_add(e, "bdf", json_str_or_null(deps[i].device->bdf));
		json_add(e, "relation", json_str_or_null(depend_kind_to_string(deps[i].kind)));
		json_append(a, e);
	}
	json_add(o, "dependents", a);
	return o;
}

int verb_show(int argc, char **argv) {
	_cleanup_host_keep_ Host *h = NULL;
	_cleanup_doc_ json_object *doc = NULL;
	char bdf[BDF_MAX];
	uint64_t number = 0;
	bool is_device;

	if (argc != 2)
		return ioasidctl_error(EXIT_USAGE,
				       "Verb 'show' takes one BDF or IOMMU group number");
	if (bdf_parse(argv[1], bdf) >= 0)
		is_device = true;
	else if (num_parse_u64(argv[1], INT32_MAX, &number) >= 0)
		is_device = false;
	else
		return ioasidctl_error(
			EXIT_USAGE,
			"Argument '%s' is neither a PCI address nor an IOMMU group number",
			argv[1]);
	if (ioasidctl_load_host(&h) < 0)
		return 1;

	_cleanup_(viability_done) Viability v = {};
	doc = json_obj();
	if (!doc)
		return finish(doc);
	if (is_device) {
		const Device *d = host_find_device(h, bdf);
		if (!d)
			return ioasidctl_error(1, "No PCI device '%s' on this host", bdf);
		if (viability_device(h, d, &v) < 0)
			return ioasidctl_error(1, "Out of memory");
		json_add(doc, "device", device_detail_json(h, d, &v));
		if (d->group)
			json_add(doc, "group", group_to_json(h, d->group, true));
		else {
			json_add(doc, "group", NULL);
			viability_to_json(&v, doc, false);
		}
		json_object *risk = json_arr();
		for (size_t i = 0; risk && d->group && i < d->group->n_members; i++)
			if (d->group->members[i] != d)
				json_append(risk, json_str_or_null(d->group->members[i]->bdf));
		for (size_t i = 0; risk && d->group && i < d->group->n_foreign_members; i++)
			json_append(risk, json_str_or_null(d->group->foreign_members[i].name));
		json_add(doc, "at_risk", risk);
	} else {
		const Group *g = host_find_group(h, (int)number);
		if (!g)
			return ioasidctl_error(1, "No IOMMU group %" PRIu64 " on this host%s",
					       number,
					       h->n_groups == 0 ? " (it has no IOMMU groups at all)"
								: "");
		if (viability_group(h, g, &v) < 0)
			return ioasidctl_error(1, "Out of memory");
		json_add(doc, "group", group_to_json(h, g, true));
	}
	json_add(doc, "verdict", json_str_or_null(verdict_to_string(v.verdict)));
	json_add(doc, "iommu", iommu_to_json(h));
	int r = emit(doc, is_device ? render_show_device : render_show_group);
	if (r != 0)
		return r;
	return v.verdict == VERDICT_VIABLE ? 0 : EXIT_NOT_VIABLE;
}

/* ---------------------------------------------------------------------------------------- */
/* check */

typedef enum CheckResult { CHECK_PASS, CHECK_NOTE, CHECK_WARN, CHECK_FAIL } CheckResult;

static const char *const check_result_names[] = { "pass", "note", "warn", "fail" };

_printf_(6, 7) static void check_add(json_object *a, const char *category, const char *id,
				     CheckResult res, const char *desc, const char *hint_fmt, ...) {
	json_object *o = json_obj();
	if (!o)
		return;
	json_add(o, "category", json_str_or_null(category));
	json_add(o, "id", json_str_or_null(id));
	json_add(o, "description", json_str_or_null(desc));
	json_add(o, "result", json_str_or_null(check_result_names[res]));
	if (hint_fmt) {
		_cleanup_free_ char *hint = NULL;
		va_list ap;
		va_start(ap, hint_fmt);
		if (vasprintf(&hint, hint_fmt, ap) < 0)
			oom = true;
		va_end(ap);
		json_add(o, "hint", json_str_or_null(hint));
	} else
		json_add(o, "hint", NULL);
	json_append(a, o);
}

/* A running process of uid, to read its limits; 0 when none. */
static pid_t find_process_of(uid_t uid) {
	_cleanup_closedir_ DIR *d = opendir("/proc");
	struct dirent *de;
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		char path[300];
		_cleanup_free_ char *status = NULL;
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		if (read_full_file(path, 16384, &status, NULL) < 0)
			continue;
		const char *u = strstr(status, "\nUid:");
		unsigned long real;
		if (u && sscanf(u, "\nUid:\t%lu", &real) == 1 && real == uid)
			return (pid_t)atoi(de->d_name);
	}
	return 0;
}

#define MEMLOCK_OK (1ULL << 30)

/*
 * The largest memlock the policy (--config, else the daemon's file) grants user pw for any
 * device of h, and the rule granting it ("file:line"). 0 when the policy cannot be read or
 * grants none: the limit is then judged against MEMLOCK_OK alone.
 */
static uint64_t policy_memlock_for(const Host *h, const struct passwd *pw, char *rule,
				   size_t size) {
	_cleanup_policy_free_ Policy *p = NULL;
	PolicyError e = {};
	PolicyLoadOptions o = {};
	if (policy_load(arg_config ? arg_config : IOASID_CONFIG_PATH, &o, &p, &e) < 0) {
		policy_error_done(&e);
		return 0;
	}
	gid_t groups[256];
	int ng = (int)ELEMENTSOF(groups);
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ng) < 0)
		ng = 0;
	PolicyPeer peer = { .uid = pw->pw_uid,
			    .gid = pw->pw_gid,
			    .groups = groups,
			    .n_groups = (size_t)MAX(ng, 0) };
	uint64_t best = 0;
	for (size_t i = 0; h && i < h->n_devices; i++) {
		PolicyRequest rq = { .peer = &peer,
				     .host = h,
				     .device = &h->devices[i],
				     .mode = POLICY_MODE_ATTACHED | POLICY_MODE_UNBOUND,
				     .method = "ioasidctl check" };
		PolicyDecision d = { .allow = false };
		for (unsigned mode = POLICY_MODE_ATTACHED; mode <= POLICY_MODE_UNBOUND;
		     mode <<= 1) {
			rq.mode = mode;
			if (policy_evaluate(p, &rq, &d) >= 0 && d.allow && d.grant.memlock > best) {
				best = d.grant.memlock;
				snprintf(rule, size, "%s:%u", strna(d.file), d.line);
			}
		}
	}
	return best;
}

/* Appends to the MEMLOCK check when lim is below what the policy grants pw. */
static bool memlock_below_grant(json_object *a, const Host *h, const struct passwd *pw,
				uint64_t lim, const char *desc, const char *where) {
	char rule[300] = "", b1[32], b2[32];
	uint64_t granted = pw ? policy_memlock_for(h, pw, rule, sizeof(rule)) : 0;
	if (granted == 0 || lim == UINT64_MAX || lim >= granted)
		return false;
	check_add(a, "MEMLOCK", "memlock", CHECK_WARN, desc,
		  "%s for '%s' (%s), below the %s the policy grants it (%s): ioasidd raises it at "
		  "acquire, but without CAP_SYS_RESOURCE only up to the holder's hard limit",
		  format_bytes(b1, sizeof(b1), lim), pw->pw_name, where,
		  format_bytes(b2, sizeof(b2), granted), rule);
	return true;
}

/*
 * The memlock pam_limits gives pw's sessions, from /etc/security/limits.conf and limits.d:
 * the user's groups are resolved here (NSS), the evaluation is limits_conf_read_memlock().
 */
static int pam_memlock_of(const struct passwd *pw, LimitsConfMemlock *ret) {
	gid_t gids[256];
	const char *names[ELEMENTSOF(gids)];
	_cleanup_strv_free_ char **owned = NULL;
	int ng = (int)ELEMENTSOF(gids);
	if (getgrouplist(pw->pw_name, pw->pw_gid, gids, &ng) < 0)
		return -E2BIG;
	for (int i = 0; i < ng; i++) {
		struct group *gr = getgrgid(gids[i]);
		names[i] = NULL;
		if (gr) {
			if (strv_extend(&owned, gr->gr_name) < 0)
				return -ENOMEM;
			names[i] = owned[strv_length(owned) - 1];
		}
	}
	LimitsConfUser u = { .name = pw->pw_name,
			     .uid = pw->pw_uid,
			     .gid = pw->pw_gid,
			     .group_names = names,
			     .groups = gids,
			     .n_groups = (size_t)ng };
	return limits_conf_read_memlock(NULL, &u, ret);
}

/* check --for pw when no process of pw runs: the limit its sessions get from pam_limits. */
static void check_memlock_pam(json_object *a, const Host *h, const struct passwd *pw,
			      const char *desc, const char *why) {
	static const char *const dflt = "systemd's DefaultLimitMEMLOCK=, 8M by default";
	_cleanup_free_ LimitsConfMemlock *m = malloc(sizeof(*m));
	_cleanup_free_ char *where = NULL;
	char buf[32];
	int r = m ? pam_memlock_of(pw, m) : -ENOMEM;
	if (r < 0) {
		check_add(a, "MEMLOCK", "memlock", CHECK_WARN, desc,
			  "no readable process of '%s' is running and the pam_limits "
			  "configuration cannot be read (%s): its limit comes from pam_limits or "
			  "its unit's LimitMEMLOCK=; %s",
			  pw->pw_name, strerror(-r), why);
		return;
	}
	if (m->no_limits) {
		check_add(a, "MEMLOCK", "memlock", CHECK_WARN, desc,
			  "no process of '%s' is running and pam_limits sets no limit for it "
			  "(%s:%u): its sessions keep the inherited limit (%s); %s",
			  pw->pw_name, m->no_limits_file, m->no_limits_line, dflt, why);
		return;
	}
	if (!m->soft.set) {
		/* The inherited soft limit is then lowered to a hard one set here. */
		char hard[PATH_MAX + 64] = "";
		if (m->hard.set)
			snprintf(hard, sizeof(hard), ", capped at the hard %s of %s:%u",
				 format_bytes(buf, sizeof(buf), m->hard.bytes), m->hard.file,
				 m->hard.line);
		check_add(a, "MEMLOCK", "memlock", CHECK_WARN, desc,
			  "no process of '%s' is running and /etc/security/limits.conf (with "
			  "limits.d) sets no soft memlock for it: its sessions start with the "
			  "system default (%s)%s; %s",
			  pw->pw_name, dflt, hard, why);
		return;
	}
	/* pam_limits lowers a soft limit above the hard one to it at setrlimit() time. */
	const LimitsConfValue *v = &m->soft;
	if (m->hard.set && m->hard.bytes < m->soft.bytes)
		v = &m->hard;
	if (asprintf(&where,
		     "from pam_limits: %s:%u (login sessions, user@.service, rootless "
		     "containers; a systemd system service uses its unit's LimitMEMLOCK= "
		     "instead)",
		     v->file, v->line) < 0) {
		oom = true;
		return;
	}
	if (memlock_below_grant(a, h, pw, v->bytes, desc, where))
		return;
	bool ok = v->bytes == UINT64_MAX || v->bytes >= MEMLOCK_OK;
	check_add(a, "MEMLOCK", "memlock", ok ? CHECK_PASS : CHECK_WARN, desc,
		  "%s for '%s' (%s)%s%s", format_bytes(buf, sizeof(buf), v->bytes), pw->pw_name,
		  where, ok ? "" : ": ", ok ? "" : why);
}

/*
 * When pam_limits would give pw's new sessions another soft memlock than lim (its running
 * process'), "; pam_limits gives its new sessions X (FILE:LINE)" in out; else "". A process
 * started by a system service legitimately differs: this is information, not a verdict.
 */
static void pam_memlock_note(const struct passwd *pw, uint64_t lim, char *out, size_t size) {
	_cleanup_free_ LimitsConfMemlock *m = malloc(sizeof(*m));
	char buf[32];
	out[0] = '\0';
	if (!m || pam_memlock_of(pw, m) < 0 || m->no_limits || !m->soft.set)
		return;
	const LimitsConfValue *v = &m->soft;
	if (m->hard.set && m->hard.bytes < m->soft.bytes)
		v = &m->hard;
	if (v->bytes != lim)
		snprintf(out, size, "; pam_limits gives its new sessions %s (%s:%u)",
			 format_bytes(buf, sizeof(buf), v->bytes), v->file, v->line);
}

static void check_memlock(json_object *a, const Host *h) {
	const char *desc = "Checking the locked memory limit (RLIMIT_MEMLOCK)";
	const char *why = "a VM pins its RAM for DMA (N times with a vIOMMU): raise LimitMEMLOCK= "
			  "in its unit or memlock in /etc/security/limits.conf";
	char buf[32];
	uint64_t lim;

	if (arg_for) {
		struct passwd *pw = getpwnam(arg_for);
		if (!pw) {
			check_add(a, "MEMLOCK", "memlock", CHECK_WARN, desc,
				  "'%s' is not a user on this host: cannot tell its limit",
				  arg_for);
			return;
		}
		if (pw->pw_uid != getuid()) {
			pid_t pid = find_process_of(pw->pw_uid);
			if (pid == 0 || proc_read_memlock(pid, &lim, NULL) < 0) {
				check_memlock_pam(a, h, pw, desc, why);
				return;
			}
			char where[64];
			snprintf(where, sizeof(where), "read from its process %d", (int)pid);
			if (memlock_below_grant(a, h, pw, lim, desc, where))
				return;
			bool ok = lim == UINT64_MAX || lim >= MEMLOCK_OK;
			char note[PATH_MAX + 96];
			pam_memlock_note(pw, lim, note, sizeof(note));
			check_add(a, "MEMLOCK", "memlock", ok ? CHECK_PASS : CHECK_WARN, desc,
				  "%s for '%s' (read from its process %d)%s%s%s",
				  format_bytes(buf, sizeof(buf), lim), arg_for, (int)pid, note,
				  ok ? "" : ": ", ok ? "" : why);
			return;
		}
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0) {
		check_add(a, "MEMLOCK", "memlock", CHECK_WARN, desc, "getrlimit failed: %m");
		return;
	}
	lim = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
	if (arg_for && memlock_below_grant(a, h, getpwnam(arg_for), lim, desc, "this process"))
		return;
	bool ok = lim == UINT64_MAX || lim >= MEMLOCK_OK;
	check_add(a, "MEMLOCK", "memlock", ok ? CHECK_PASS : CHECK_WARN, desc, "%s for %s%s%s",
		  format_bytes(buf, sizeof(buf), lim), arg_for ? arg_for : "the caller",
		  ok ? "" : ": ", ok ? "" : why);
}

/*
 * Layouts with `accounting process` need CAP_SYS_RESOURCE in the running daemon, which sets
 * IOMMU_OPTION_RLIMIT_MODE on each such context; without it every Acquire with them fails
 * with EPERM. The daemon's capabilities are read from /proc (world-readable, no admin
 * rights needed), its pid from SO_PEERCRED on a connection to its socket. CapPrm, not
 * CapEff: a daemon may hold the capability permitted only and raise it when it needs it.
 */
static void check_accounting(json_object *a) {
	static const char *const desc = "Checking that ioasidd can set per-process accounting";
	const char *config = arg_config ? arg_config : IOASID_CONFIG_PATH;
	_cleanup_policy_free_ Policy *p = NULL;
	_cleanup_free_ char *layouts = NULL, *status = NULL;
	PolicyError e = {};
	PolicyLoadOptions o = {};
	if (policy_load(config, &o, &p, &e) < 0) {
		policy_error_done(&e); /* no policy to judge: nothing to say here */
		return;
	}
	int n = policy_describe_process_accounting(p, &layouts);
	if (n < 0)
		oom = true;
	if (n <= 0)
		return;

	const char *sock = ioasid_client_socket_path(arg_socket);
	_cleanup_(ioasid_client_freep) IoasidClient *c = NULL;
	int r = ioasid_client_connect(sock, &c);
	struct ucred cred = {};
	socklen_t len = sizeof(cred);
	if (r >= 0 && getsockopt(ioasid_client_fd(c), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		r = -errno;
	if (r >= 0 && cred.pid <= 0)
		r = -ESRCH; /* in another pid namespace */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)cred.pid);
	if (r >= 0)
		r = read_full_file(path, 65536, &status, NULL);
	const char *cap = status ? strstr(status, "\nCapPrm:") : NULL;
	unsigned long long prm = 0;
	if (r >= 0 && (!cap || sscanf(cap, "\nCapPrm: %llx", &prm) != 1))
		r = -EBADMSG;
	if (r < 0) {
		check_add(a, "DAEMON", "accounting_capability", CHECK_NOTE, desc,
			  "cannot tell: ioasidd on '%s' is not reachable or not readable (%s); "
			  "layouts %s use 'accounting process', which needs CAP_SYS_RESOURCE in "
			  "the daemon",
			  sock, strerror(-r), layouts);
		return;
	}
	if (prm & (1ULL << CAP_SYS_RESOURCE))
		check_add(a, "DAEMON", "accounting_capability", CHECK_PASS, desc,
			  "ioasidd (pid %d) holds CAP_SYS_RESOURCE for layouts %s", (int)cred.pid,
			  layouts);
	else
		check_add(a, "DAEMON", "accounting_capability", CHECK_FAIL, desc,
			  "ioasidd (pid %d) lacks CAP_SYS_RESOURCE, so every Acquire with layouts "
			  "%s fails (iommufd-set-rlimit-mode: EPERM): give ioasidd "
			  "CAP_SYS_RESOURCE (the shipped unit keeps it in "
			  "CapabilityBoundingSet=), or set 'accounting user' in those layouts",
			  (int)cred.pid, layouts);
}

/*
 * A group's checks. A group that is not viable and holds a PCI function on a VFIO driver
 * (the one the admin means to pass through) is a FAIL naming each blocker and its fix. A
 * group whose assignable members (bridges aside, non-PCI members counted) are several is a
 * NOTE: they go to one owner together.
 */
static void check_group(json_object *a, const Host *h, const Group *g) {
	_cleanup_(viability_done) Viability v = {};
	char desc[64];
	if (viability_group(h, g, &v) < 0) {
		oom = true;
		return;
	}
	const Device *vfio = NULL;
	for (size_t j = 0; j < g->n_members && !vfio; j++)
		if (viability_member_state(g->members[j]) == MEMBER_VFIO)
			vfio = g->members[j];
	if (vfio && v.verdict == VERDICT_NOT_VIABLE) {
		_cleanup_free_ char *why = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&why, &len);
		if (!f) {
			oom = true;
			return;
		}
		for (size_t j = 0; j < v.n_blockers; j++)
			fprintf(f, "%s%s; fix: %s", j ? "; " : "", v.blockers[j].reason,
				v.blockers[j].fix);
		if (fclose(f) != 0) {
			oom = true;
			return;
		}
		snprintf(desc, sizeof(desc), "Checking IOMMU group %d viability", g->number);
		check_add(a, "GROUP", "group_viable", CHECK_FAIL, desc,
			  "not viable, so %s on %s cannot be assigned: %s", vfio->bdf,
			  strna(vfio->driver), strna(why));
		return;
	}
	size_t n = 0, n_bridges = 0;
	char *list = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&list, &len);
	if (!f) {
		oom = true;
		return;
	}
	for (size_t j = 0; j < g->n_members; j++) {
		if (viability_member_state(g->members[j]) == MEMBER_BRIDGE) {
			n_bridges++;
			continue;
		}
		fprintf(f, "%s%s", n++ ? ", " : "", g->members[j]->bdf);
	}
	for (size_t j = 0; j < g->n_foreign_members; j++)
		fprintf(f, "%s%s", n++ ? ", " : "", g->foreign_members[j].name);
	if (fclose(f) != 0)
		oom = true;
	if (n >= 2) {
		snprintf(desc, sizeof(desc), "Checking IOMMU group %d isolation", g->number);
		check_add(a, "GROUP", "multi_device_group", CHECK_NOTE, desc,
			  "%zu devices share it (%s)%s: they are assigned together", n, strna(list),
			  n_bridges ? ", not counting its bridges" : "");
	}
	free(list);
}

static void render_check(json_object *doc) {
	json_object *checks = json_get(doc, "checks");
	size_t width = 0;
	for (size_t i = 0; i < json_len(checks); i++) {
		json_object *c = json_at(checks, i);
		width = MAX(width, strlen(json_get_str(c, "category")) +
					   strlen(json_get_str(c, "description")));
	}
	for (size_t i = 0; i < json_len(checks); i++) {
		json_object *c = json_at(checks, i);
		const char *res = json_get_str(c, "result"), *hint = json_get_str(c, "hint");
		const char *col = streq(res, "pass")   ? ansi_green()
				  : streq(res, "fail") ? ansi_red()
				  : streq(res, "warn") ? ansi_yellow()
						       : "";
		size_t len = strlen(json_get_str(c, "category")) +
			     strlen(json_get_str(c, "description"));
		char upper[8] = {};
		for (size_t k = 0; k < sizeof(upper) - 1 && res[k]; k++)
			upper[k] = (char)toupper((unsigned char)res[k]);
		printf("%s: %s%*s : %s%s%s", json_get_str(c, "category"),
		       json_get_str(c, "description"), (int)(width - len), "", col, upper,
		       ansi_normal());
		if (hint)
			printf(" (%s)", hint);
		putchar('\n');
	}
	json_object *s = json_get(doc, "summary");
	if (!arg_quiet)
		printf("\npass %" PRId64 ", note %" PRId64 ", warn %" PRId64 ", fail %" PRId64 "\n",
		       json_get_int(s, "pass", 0), json_get_int(s, "note", 0),
		       json_get_int(s, "warn", 0), json_get_int(s, "fail", 0));
}

int verb_check(int argc, char **argv) {
	_cleanup_host_keep_ Host *h = NULL;
	_cleanup_doc_ json_object *doc = NULL;

	if (argc > 1)
		return ioasidctl_error(EXIT_USAGE,
				       "Verb 'check' takes no arguments, only --for USER");
	if (ioasidctl_load_host(&h) < 0)
		return 1;

	const HostKernel *k = &h->kernel;
	bool units = k->iommu_units && k->iommu_units[0];
	/* VFIO's no-IOMMU groups show up in sysfs like real ones but isolate nothing. */
	size_t n_noiommu = 0;
	for (size_t i = 0; i < h->n_groups; i++)
		n_noiommu += group_is_noiommu(&h->groups[i]);
	size_t n_real = h->n_groups - n_noiommu;
	bool groups = n_real > 0;
	json_object *a = json_arr();
	if (!a)
		return finish(NULL);

	/* IOMMU hardware and kernel enablement, the virt-host-validate pair. */
	if (units)
		check_add(a, "IOMMU", "iommu_hardware", CHECK_PASS,
			  "Checking for device assignment IOMMU support", "%s%s%s",
			  k->iommu_vendor ? k->iommu_vendor : "unknown vendor", ": ",
			  k->iommu_units[0]);
	else
		check_add(a, "IOMMU", "iommu_hardware", groups ? CHECK_WARN : CHECK_FAIL,
			  "Checking for device assignment IOMMU support",
			  "no IOMMU unit under /sys/class/iommu; %s", viability_iommu_hint(h));
	if (groups)
		check_add(a, "IOMMU", "iommu_enabled", CHECK_PASS,
			  "Checking if IOMMU is enabled by kernel", "%zu group%s", n_real,
			  n_real == 1 ? "" : "s");
	else if (n_noiommu > 0)
		check_add(a, "IOMMU", "iommu_enabled", CHECK_FAIL,
			  "Checking if IOMMU is enabled by kernel",
			  "only %zu VFIO no-IOMMU group%s, without isolation; boot with %s",
			  n_noiommu, n_noiommu == 1 ? "" : "s", viability_iommu_param(h));
	else
		check_add(a, "IOMMU", "iommu_enabled", CHECK_FAIL,
			  "Checking if IOMMU is enabled by kernel",
			  "no IOMMU groups; boot with %s%s", viability_iommu_param(h),
			  k->cmdline && strstr(k->cmdline, "iommu=off")
				  ? " and without iommu=off on the kernel command line"
				  : "");

	if (groups) {
		size_t n_identity = 0;
		_cleanup_free_ char *list = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&list, &len);
		for (size_t i = 0; f && i < h->n_groups; i++)
			if (group_is_identity(&h->groups[i]))
				fprintf(f, "%s%d", n_identity++ ? ", " : "", h->groups[i].number);
		if (!f || fclose(f) != 0)
			oom = true;
		if (n_identity)
			check_add(
				a, "IOMMU", "default_domain", CHECK_WARN,
				"Checking the IOMMU default domain type",
				"group%s %s use%s identity (passthrough): host drivers do "
				"untranslated DMA; drop iommu=pt / iommu.passthrough=1 for isolation "
				"from host devices",
				n_identity == 1 ? "" : "s", strna(list),
				n_identity == 1 ? "s" : "");
		else
			check_add(a, "IOMMU", "default_domain", CHECK_PASS,
				  "Checking the IOMMU default domain type",
				  "all groups translate DMA");
	}
	/* Without remapping a device can forge MSIs, and VFIO and iommufd refuse the host
	 * unless told to allow unsafe interrupts: a FAIL. Where the live scan cannot tell
	 * (no IR- or IO-APIC chip in /proc/interrupts and no VT-d ECAP), a WARN. */
	bool amd = k->iommu_vendor && streq(k->iommu_vendor, "amd");
	if (k->interrupt_remapping == TRI_YES)
		check_add(a, "IOMMU", "interrupt_remapping", CHECK_PASS,
			  "Checking if interrupt remapping is enabled", NULL);
	else if (k->interrupt_remapping == TRI_NO)
		check_add(a, "IOMMU", "interrupt_remapping", CHECK_FAIL,
			  "Checking if interrupt remapping is enabled",
			  "without it a device can forge MSIs and VFIO refuses the host unless "
			  "allow_unsafe_interrupts=1; %s",
			  amd ? "enable the IOMMU and its IVRS table in the firmware, boot without "
				"intremap=off, and check any amd_iommu= or amd_iommu_intr= option"
			  : units ? "enable VT-d interrupt remapping in the firmware and boot "
				    "without intremap=off or nointremap"
				  : "it needs an IOMMU: enable VT-d or AMD-Vi in the firmware");
	else if (units || groups)
		check_add(a, "IOMMU", "interrupt_remapping", CHECK_WARN,
			  "Checking if interrupt remapping is enabled",
			  "not visible on this host (no IR- or IO-APIC interrupt chip in "
			  "/proc/interrupts%s); look for 'IRQ remapping' in dmesg",
			  amd ? "" : ", no VT-d ECAP");

	if (k->iommufd == TRI_YES)
		check_add(a, "VFIO", "iommufd", CHECK_PASS, "Checking for iommufd (/dev/iommu)",
			  NULL);
	else
		check_add(a, "VFIO", "iommufd", k->vfio_legacy == TRI_YES ? CHECK_WARN : CHECK_FAIL,
			  "Checking for iommufd (/dev/iommu)",
			  "%s; modprobe iommufd (CONFIG_IOMMUFD, Linux 6.2 or later)",
			  k->vfio_legacy == TRI_YES
				  ? "only the legacy VFIO container is available (ioasidd falls "
				    "back to the group/container path)"
				  : "missing");
	if (k->vfio_cdev == TRI_YES)
		check_add(a, "VFIO", "vfio_cdev", CHECK_PASS,
			  "Checking for VFIO device cdevs (/dev/vfio/devices)", NULL);
	else
		check_add(a, "VFIO", "vfio_cdev", CHECK_WARN,
			  "Checking for VFIO device cdevs (/dev/vfio/devices)",
			  "%s; it needs CONFIG_VFIO_DEVICE_CDEV (Linux 6.6 or later) and a device "
			  "bound to vfio-pci",
			  k->vfio_cdev == TRI_NO ? "absent" : "unknown");
	if (k->vfio_pci == TRI_YES)
		check_add(a, "VFIO", "vfio_pci", CHECK_PASS, "Checking if vfio-pci is available",
			  NULL);
	else
		check_add(a, "VFIO", "vfio_pci", CHECK_WARN, "Checking if vfio-pci is available",
			  "%s: modprobe vfio-pci",
			  k->vfio_pci == TRI_NO ? "not loaded" : "unknown");
	if (k->noiommu_mode == TRI_YES)
		check_add(a, "VFIO", "noiommu_mode", CHECK_WARN,
			  "Checking that VFIO no-IOMMU mode is off",
			  "UNSAFE: enable_unsafe_noiommu_mode=Y gives devices no DMA isolation; "
			  "never grant noiommu devices to untrusted users");
	else if (k->noiommu_mode == TRI_NO)
		check_add(a, "VFIO", "noiommu_mode", CHECK_PASS,
			  "Checking that VFIO no-IOMMU mode is off", NULL);

	/* The caller's limit is a fact of this machine, not of a snapshot. */
	if (!arg_host)
		check_memlock(a, h);
	/* The running daemon, like the caller's limit, is a fact of this machine. */
	if (!arg_host)
		check_accounting(a);

	for (size_t i = 0; i < h->n_groups; i++)
		check_group(a, h, &h->groups[i]);

	int64_t count[4] = {};
	for (size_t i = 0; i < json_len(a); i++) {
		const char *res = json_get_str(json_at(a, i), "result");
		for (size_t j = 0; j < ELEMENTSOF(check_result_names); j++)
			if (res && streq(res, check_result_names[j]))
				count[j]++;
	}
	doc = json_obj();
	if (doc) {
		json_add(doc, "checks", a);
		a = NULL;
		json_add(doc, "for_user", json_str_or_null(arg_for));
		json_object *s = json_obj();
		if (s)
			for (size_t j = 0; j < ELEMENTSOF(check_result_names); j++)
				json_add(s, check_result_names[j], json_int(count[j]));
		json_add(doc, "summary", s);
		json_add(doc, "iommu", iommu_to_json(h));
	}
	int r = emit(doc, render_check);
	if (r != 0)
		return r;
	return count[CHECK_FAIL] > 0 ? EXIT_NOT_VIABLE : 0;
}
