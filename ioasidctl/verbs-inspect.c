/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasidctl inspection verbs: groups, devices, show, check.
 *
 * Each verb builds one document (a DocNode tree) from the host model and viability, prints it
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
#include "common/doc.h"
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
/* Document helpers: the verbs build a DocNode tree (common/doc.h) in one arena per verb;
 * --json prints it and the human renderers read it. NULL strings become JSON null, and
 * every add is checked once at the end (constructors return NULL on allocation failure;
 * we count those). */

static bool oom;
static Doc *arena;

/*
 * Leaves that repeat from device to device (ids, class names, drivers, states, booleans) are
 * one shared node each: a built document is only read, so one node may sit at many places.
 * A slot holds the last leaf made for its hash; the caches point into the arena and are
 * emptied with it.
 */
#define LEAF_CACHE 512

static struct {
	unsigned long v;
	int digits;
	DocNode *o;
} hex_cache[LEAF_CACHE];
static DocNode *str_cache[LEAF_CACHE];
static DocNode *bool_cache[2];

static Doc *arena_get(void) {
	if (!arena && !(arena = doc_new()))
		oom = true;
	return arena;
}

/* The verb's document goes with its arena when the verb returns (the variable's value is
 * only a marker: everything built since the arena was made is in it). */
static void doc_endp(DocNode **doc) {
	(void)doc;
	arena = doc_free(arena);
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

static DocNode *checked(DocNode *o) {
	if (!o)
		oom = true;
	return o;
}

static DocNode *js(const char *s) {
	if (!s)
		return NULL;
	Doc *d = arena_get();
	return d ? checked(doc_string(d, s)) : NULL;
}

static DocNode *jsf(const char *fmt, ...) _printf_(1, 2);
static DocNode *jsf(const char *fmt, ...) {
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
	Doc *d = arena_get();
	return d ? checked(doc_string_len(d, buf, (size_t)r)) : NULL;
}

static DocNode *jint(int64_t v) {
	Doc *d = arena_get();
	return d ? checked(doc_int(d, v)) : NULL;
}

/* Keys are string literals (or static tables) and each is added once per object. */
static void jadd(DocNode *o, const char *key, DocNode *v) {
	if (!o || doc_add(arena, o, key, v) < 0)
		oom = true;
}

static void jappend(DocNode *a, DocNode *v) {
	if (!a || !v || doc_append(arena, a, v) < 0)
		oom = true;
}

static DocNode *jobj(void) {
	Doc *d = arena_get();
	return d ? checked(doc_object(d)) : NULL;
}

static DocNode *jobj_sized(size_t n) {
	Doc *d = arena_get();
	return d ? checked(doc_object_sized(d, n)) : NULL;
}

static DocNode *jarr(void) {
	Doc *d = arena_get();
	return d ? checked(doc_array(d)) : NULL;
}

static DocNode *jstrv(char *const *l) {
	DocNode *a = jarr();
	for (char *const *i = l; a && i && *i; i++)
		jappend(a, js(*i));
	return a;
}

static size_t leaf_slot(uint64_t h) {
	return (size_t)((h * UINT64_C(0x9e3779b97f4a7c15)) >> 32) % LEAF_CACHE;
}

/* Fixed-width lower-case hex ("%04x") without printf: the ids of every device go through
 * here. */
static DocNode *jhex(unsigned long v, int digits) {
	static const char hex[] = "0123456789abcdef";
	size_t i = leaf_slot(v * 31 + (unsigned)digits);
	if (hex_cache[i].o && hex_cache[i].v == v && hex_cache[i].digits == digits)
		return hex_cache[i].o;
	char buf[16];
	assert(digits > 0 && digits < (int)sizeof(buf));
	unsigned long x = v;
	for (int k = digits - 1; k >= 0; k--, x >>= 4)
		buf[k] = hex[x & 0xf];
	Doc *d = arena_get();
	DocNode *o = d ? checked(doc_string_len(d, buf, (size_t)digits)) : NULL;
	if (o) {
		hex_cache[i].o = o;
		hex_cache[i].v = v;
		hex_cache[i].digits = digits;
	}
	return o;
}

/* An address as "0x%016" PRIx64 would print it, without printf (two per group). */
static DocNode *jaddr(uint64_t v) {
	static const char hex[] = "0123456789abcdef";
	char buf[18] = "0x";
	for (int k = 17; k >= 2; k--, v >>= 4)
		buf[k] = hex[v & 0xf];
	Doc *d = arena_get();
	return d ? checked(doc_string_len(d, buf, sizeof(buf))) : NULL;
}

/* js() for strings that repeat (class names, drivers, states, verdicts): shared by content. */
static DocNode *jsi(const char *s) {
	if (!s)
		return NULL;
	uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a */
	for (const char *p = s; *p; p++)
		h = (h ^ (unsigned char)*p) * UINT64_C(0x100000001b3);
	size_t i = leaf_slot(h);
	if (str_cache[i] && streq(str_cache[i]->str.s, s))
		return str_cache[i];
	DocNode *o = js(s);
	if (o)
		str_cache[i] = o;
	return o;
}

static DocNode *jbool(bool b) {
	if (bool_cache[b])
		return bool_cache[b];
	Doc *d = arena_get();
	return bool_cache[b] = d ? checked(doc_bool(d, b)) : NULL;
}

/* Readers for the rendering side: absent and null both read as NULL / default. */
static const char *jget_str(DocNode *o, const char *key) {
	return doc_str(doc_get(o, key));
}

static DocNode *jget(DocNode *o, const char *key) {
	return doc_get(o, key);
}

static int64_t jget_int(DocNode *o, const char *key, int64_t def) {
	DocNode *v = jget(o, key);
	return doc_type(v) == DOC_INT ? v->i : def;
}

/* json-c's truth: a true boolean, a non-zero integer or a non-empty string. */
static bool jget_bool(DocNode *o, const char *key) {
	DocNode *v = jget(o, key);
	switch (doc_type(v)) {
	case DOC_BOOL:
		return v->b;
	case DOC_INT:
		return v->i != 0;
	case DOC_STRING:
		return v->str.len > 0;
	default:
		return false;
	}
}

static size_t jlen(DocNode *a) {
	return doc_len(a);
}

static DocNode *jat(DocNode *a, size_t i) {
	return doc_at(a, i);
}

static int finish(DocNode *doc) {
	if (oom || !doc)
		return ioasidctl_error(1, "Out of memory");
	return 0;
}

/* The one output path of every inspection verb: the document as --json, or rendered for
 * humans by render. Returns 0, or the exit code of an error it has reported. */
static int emit(DocNode *doc, void (*render)(DocNode *doc)) {
	if (finish(doc))
		return 1;
	if (arg_json != JSON_OFF) {
		if (output_doc(doc) < 0)
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
static void add_bind_record(DocNode *o, const char *bdf) {
	_cleanup_free_ char *was = NULL;
	DocNode *b;

	if (arg_host && !arg_root)
		return;
	if (bind_record_read(arg_root, bdf, &was) < 0)
		return;
	b = jobj();
	if (!b)
		return;
	jadd(b, "was", isempty(was) ? NULL : js(was));
	jadd(o, "ioasidctl_bind", b);
}

/* A vDPA device: what `vdpa dev show` says, its driver and, on vhost_vdpa, its char device. */
static DocNode *vdpa_device_to_json(const VdpaDevice *v) {
	DocNode *o = jobj_sized(10);
	char handle[320];
	if (!o)
		return NULL;
	jadd(o, "name", js(v->name));
	jadd(o, "management_device",
	     js(vdpa_mgmtdev_handle(v->mgmtdev_bus, v->mgmtdev_name, handle, sizeof(handle))));
	jadd(o, "parent", v->parent ? js(v->parent->bdf) : NULL);
	jadd(o, "device_id", jint(v->device_id));
	jadd(o, "class_name", jsi(vdpa_device_class_name(v->device_id)));
	jadd(o, "vendor_id", jhex(v->vendor_id, 4));
	jadd(o, "driver", jsi(v->driver));
	jadd(o, "vhost_cdev", js(v->vhost_name));
	jadd(o, "vhost_dev", v->vhost_name ? jsf("%u:%u", v->vhost_major, v->vhost_minor) : NULL);
	jadd(o, "vhost_node", v->vhost_name ? jsf("/dev/%s", v->vhost_name) : NULL);
	return o;
}

/* For a PCI function that is a vDPA management device: "vdpa": {"management_device",
 * "devices"}. Only on such functions, so other devices' JSON is unchanged. */
static void add_vdpa_parent(DocNode *o, const Host *h, const Device *d) {
	_cleanup_free_ const VdpaDevice **kids = NULL;
	char handle[320];
	if (!device_is_vdpa_parent(h, d))
		return;
	int n = host_vdpa_children(h, d, &kids);
	if (n < 0) {
		oom = true;
		return;
	}
	DocNode *x = jobj_sized(2), *a = jarr();
	jadd(x, "management_device",
	     js(vdpa_mgmtdev_handle("pci", d->bdf, handle, sizeof(handle))));
	for (int i = 0; a && i < n; i++)
		jappend(a, vdpa_device_to_json(kids[i]));
	jadd(x, "devices", a);
	jadd(o, "vdpa", x);
}

static DocNode *vdpa_devices_to_json(const Host *h) {
	DocNode *a = jarr();
	for (size_t i = 0; a && i < h->n_vdpa_devices; i++)
		jappend(a, vdpa_device_to_json(&h->vdpa_devices[i]));
	return a;
}

static DocNode *device_to_json(const Host *h, const Device *d, const Viability *v, bool in_group) {
	DocNode *o = jobj_sized(21); /* its keys below */
	if (!o)
		return NULL;
	MemberState s = viability_member_state(d);
	bool blocking = false;
	for (size_t i = 0; v && i < v->n_blockers; i++)
		if (v->blockers[i].device == d)
			blocking = true;

	jadd(o, "bdf", js(d->bdf));
	jadd(o, "vendor", jhex(d->vendor, 4));
	jadd(o, "device", jhex(d->device, 4));
	jadd(o, "subsystem_vendor", jhex(d->subsystem_vendor, 4));
	jadd(o, "subsystem_device", jhex(d->subsystem_device, 4));
	jadd(o, "class", jhex(d->class, 6));
	jadd(o, "class_name", jsi(pci_class_name(d->class)));
	jadd(o, "revision", jhex(d->revision, 2));
	jadd(o, "vendor_name", jsi(d->vendor_name));
	jadd(o, "device_name", jsi(d->device_name));
	jadd(o, "driver", jsi(d->driver));
	jadd(o, "state", jsi(member_state_to_string(s)));
	add_bind_record(o, d->bdf);
	add_vdpa_parent(o, h, d);
	jadd(o, "iommu_group", d->iommu_group >= 0 ? jint(d->iommu_group) : NULL);
	jadd(o, "vfio_cdev", js(d->vfio_name));
	jadd(o, "vfio_dev", d->vfio_name ? jsf("%u:%u", d->vfio_major, d->vfio_minor) : NULL);
	jadd(o, "noiommu", jbool(d->vfio_name && d->noiommu));
	char node[300];
	jadd(o, "vfio_node", device_vfio_node(h, d, node, sizeof(node)) >= 0 ? js(node) : NULL);
	if (v && !in_group) {
		jadd(o, "verdict", jsi(verdict_to_string(v->verdict)));
		jadd(o, "viable", jbool(v->verdict == VERDICT_VIABLE));
	}
	if (v)
		jadd(o, "blocking", jbool(blocking));
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
static DocNode *viability_to_json(const Viability *v, DocNode *o, bool with_verdict) {
	if (with_verdict)
		jadd(o, "verdict", jsi(verdict_to_string(v->verdict)));
	DocNode *b = jarr();
	for (size_t i = 0; b && i < v->n_blockers; i++) {
		DocNode *x = jobj();
		if (!x)
			break;
		const Blocker *bl = &v->blockers[i];
		/* "bdf" for a PCI function; "name" and "bus" for any member. */
		jadd(x, "bdf", bl->device ? js(bl->device->bdf) : NULL);
		jadd(x, "name", js(bl->name));
		jadd(x, "bus", bl->device ? jsi("pci") : js(bl->foreign->bus));
		jadd(x, "driver", bl->device ? jsi(bl->device->driver) : js(bl->foreign->driver));
		jadd(x, "reason", js(v->blockers[i].reason));
		_cleanup_free_ char *essential = essential_note(v->blockers[i].device);
		jadd(x, "fix", essential ? NULL : js(v->blockers[i].fix));
		jadd(x, "fix_sysfs", essential ? NULL : js(v->blockers[i].fix_sysfs));
		if (essential)
			jadd(x, "note", js(essential));
		jappend(b, x);
	}
	jadd(o, "blockers", b);
	jadd(o, "notes", jstrv(v->notes));
	return o;
}

static bool group_is_identity(const Group *g) {
	return g->type && streq(g->type, "identity");
}

/* A group; with identity_note, its identity default domain note among its notes (the
 * groups verb says it once for all groups instead). */
static DocNode *group_to_json(const Host *h, const Group *g, bool identity_note) {
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
	DocNode *o = jobj();
	if (!o)
		return NULL;
	jadd(o, "group", jint(g->number));
	jadd(o, "type", jsi(g->type));
	viability_to_json(&v, o, true);
	jadd(o, "brokerable", jbool(group_has_pci_function(g)));
	DocNode *devs = jarr();
	for (size_t i = 0; devs && i < g->n_members; i++)
		jappend(devs, device_to_json(h, g->members[i], &v, true));
	jadd(o, "devices", devs);
	/* Members that are not PCI functions: listed and judged, never brokered. */
	DocNode *fm = jarr();
	for (size_t i = 0; fm && i < g->n_foreign_members; i++) {
		const ForeignMember *f = &g->foreign_members[i];
		DocNode *x = jobj_sized(5);
		bool blocking = false;
		for (size_t j = 0; j < v.n_blockers; j++)
			blocking = blocking || v.blockers[j].foreign == f;
		jadd(x, "name", js(f->name));
		jadd(x, "bus", jsi(f->bus));
		jadd(x, "driver", jsi(f->driver));
		jadd(x, "state", jsi(member_state_to_string(viability_foreign_state(f))));
		jadd(x, "blocking", jbool(blocking));
		jappend(fm, x);
	}
	jadd(o, "foreign_members", fm);
	DocNode *rr = jarr();
	for (size_t i = 0; rr && i < g->n_regions; i++) {
		DocNode *x = jobj();
		if (!x)
			break;
		jadd(x, "start", jaddr(g->regions[i].start));
		jadd(x, "end", jaddr(g->regions[i].end));
		jadd(x, "type", jsi(region_type_name(g->regions[i].type)));
		jappend(rr, x);
	}
	jadd(o, "reserved_regions", rr);
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
static DocNode *iommu_to_json(const Host *h) {
	DocNode *o = jobj();
	if (!o)
		return NULL;
	size_t n_noiommu = 0;
	for (size_t i = 0; i < h->n_groups; i++)
		n_noiommu += group_is_noiommu(&h->groups[i]);
	bool enabled = h->n_groups > n_noiommu;
	jadd(o, "enabled", jbool(enabled));
	jadd(o, "vendor", js(h->kernel.iommu_vendor));
	jadd(o, "units", jstrv(h->kernel.iommu_units));
	jadd(o, "groups", jint((int32_t)h->n_groups));
	jadd(o, "noiommu_groups", jint((int32_t)n_noiommu));
	jadd(o, "hint", enabled ? NULL : js(viability_iommu_hint(h)));
	return o;
}

/* ---------------------------------------------------------------------------------------- */
/* Rendering helpers */

/* "NVIDIA Corporation GA102 [GeForce RTX 3090]", or the class name when the hwdb is silent. */
static void device_label(DocNode *d, char *buf, size_t len) {
	const char *vn = jget_str(d, "vendor_name"), *dn = jget_str(d, "device_name");
	if (dn)
		snprintf(buf, len, "%s%s%s", vn ? vn : "", vn ? " " : "", dn);
	else
		snprintf(buf, len, "%s", strna(jget_str(d, "class_name")));
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
static void print_vdpa_label(DocNode *d) {
	DocNode *x = jget(d, "vdpa");
	if (!x)
		return;
	DocNode *a = jget(x, "devices");
	printf("  (vDPA parent");
	for (size_t i = 0; i < jlen(a); i++) {
		DocNode *v = jat(a, i);
		printf("%s %s on %s", i ? "," : ":", jget_str(v, "name"),
		       jget_str(v, "driver") ?: "no driver");
		if (jget_str(v, "vhost_node"))
			printf(" %s", jget_str(v, "vhost_node"));
	}
	if (jlen(a) == 0)
		printf(", no vDPA device");
	printf(")");
}

/* One line per vDPA device, as the devices verb lists them. */
static void print_vdpa_devices(DocNode *a) {
	if (jlen(a) == 0)
		return;
	printf("\nvDPA devices:\n");
	for (size_t i = 0; i < jlen(a); i++) {
		DocNode *v = jat(a, i);
		printf("%s %s (%s) mgmtdev=%s drv=%s%s%s\n",
		       i + 1 == jlen(a) ? glyph_tree_last() : glyph_tree_mid(), jget_str(v, "name"),
		       jget_str(v, "class_name") ?: "virtio device",
		       jget_str(v, "management_device"), jget_str(v, "driver") ?: "none",
		       jget_str(v, "vhost_node") ? " " : "", strempty(jget_str(v, "vhost_node")));
	}
}

/* Prints blockers and notes of a group object, each line prefixed with indent. */
static void print_reasons(DocNode *g, const char *indent) {
	DocNode *b = jget(g, "blockers"), *n = jget(g, "notes");
	for (size_t i = 0; i < jlen(b); i++) {
		DocNode *x = jat(b, i);
		printf("%s%s%s%s %s\n", indent, ansi_red(), glyph_cross(), ansi_normal(),
		       jget_str(x, "reason"));
		if (jget_str(x, "note")) {
			printf("%s  %snote:%s %s\n", indent, ansi_yellow(), ansi_normal(),
			       jget_str(x, "note"));
			continue;
		}
		printf("%s  fix: %s\n", indent, jget_str(x, "fix"));
		printf("%s   or: %s\n", indent, jget_str(x, "fix_sysfs"));
	}
	for (size_t i = 0; i < jlen(n); i++)
		printf("%s%snote:%s %s\n", indent, ansi_yellow(), ansi_normal(),
		       doc_str(jat(n, i)));
}

static void print_no_iommu(DocNode *iommu, size_t n_devices) {
	printf("No IOMMU groups: the IOMMU is off or absent. %s\n",
	       strempty(jget_str(iommu, "hint")));
	if (n_devices > 0)
		printf("%zu PCI device%s no IOMMU group and cannot be assigned "
		       "(see 'ioasidctl devices').\n",
		       n_devices, n_devices == 1 ? " has" : "s have");
}

/* ---------------------------------------------------------------------------------------- */
/* groups */

static void render_groups(DocNode *doc) {
	DocNode *groups = jget(doc, "groups");
	DocNode *iommu = jget(doc, "iommu");
	DocNode *ungrouped = jget(doc, "ungrouped_devices");

	if (jlen(groups) == 0) {
		print_no_iommu(iommu, jlen(ungrouped));
		return;
	}
	for (size_t i = 0; i < jlen(groups); i++) {
		DocNode *g = jat(groups, i);
		const char *verdict = jget_str(g, "verdict");
		DocNode *devs = jget(g, "devices");
		if (i > 0)
			putchar('\n');
		printf("%sIOMMU Group %" PRId64 "%s", ansi_bold(), jget_int(g, "group", -1),
		       ansi_normal());
		if (jget_str(g, "type"))
			printf(" (%s)", jget_str(g, "type"));
		printf(": %s%s%s", verdict_color(verdict), verdict_human(verdict), ansi_normal());
		if (!jget_bool(g, "brokerable") && jlen(jget(g, "foreign_members")) > 0)
			printf(", no PCI function");
		putchar('\n');
		bool has_more = jlen(jget(g, "blockers")) + jlen(jget(g, "notes")) > 0;
		DocNode *fm = jget(g, "foreign_members");
		size_t n_rows = jlen(devs) + jlen(fm);
		for (size_t j = 0; j < jlen(devs); j++) {
			DocNode *d = jat(devs, j);
			bool last = j + 1 == n_rows;
			char label[256];
			device_label(d, label, sizeof(label));
			printf("%s %s [%s:%s] %s  drv=%s",
			       last ? glyph_tree_last() : glyph_tree_mid(), jget_str(d, "bdf"),
			       jget_str(d, "vendor"), jget_str(d, "device"), label,
			       jget_str(d, "driver") ?: "none");
			if (jget_str(d, "vfio_cdev"))
				printf(" vfio=%s%s", jget_str(d, "vfio_cdev"),
				       jget_bool(d, "noiommu") ? " (noiommu)" : "");
			else if (jget_str(d, "vfio_node"))
				/* Legacy kernel: the group node stands for the device. */
				printf(" vfio=%s", jget_str(d, "vfio_node"));
			if (jget_bool(d, "blocking"))
				printf("  %s%s blocks%s", ansi_red(), glyph_cross(), ansi_normal());
			else if (streq(jget_str(d, "state"), "bridge"))
				printf("  (bridge, ignored)");
			if (jget(d, "ioasidctl_bind"))
				printf("  (bound by ioasidctl, was on %s)",
				       jget_str(jget(d, "ioasidctl_bind"), "was") ?: "no driver");
			print_vdpa_label(d);
			putchar('\n');
		}
		for (size_t j = 0; j < jlen(fm); j++) {
			DocNode *f = jat(fm, j);
			bool last = jlen(devs) + j + 1 == n_rows;
			printf("%s %s (%s device, not PCI)  drv=%s",
			       last ? glyph_tree_last() : glyph_tree_mid(), jget_str(f, "name"),
			       jget_str(f, "bus") ?: "unknown bus",
			       jget_str(f, "driver")
				       ?: (streq(strempty(jget_str(f, "state")), "unknown")
						   ? "unknown"
						   : "none"));
			if (jget_bool(f, "blocking"))
				printf("  %s%s blocks%s", ansi_red(), glyph_cross(), ansi_normal());
			putchar('\n');
		}
		if (has_more)
			print_reasons(g, "   ");
	}
	DocNode *notes = jget(doc, "notes");
	for (size_t i = 0; i < jlen(notes); i++)
		printf("\n%snote:%s %s\n", ansi_yellow(), ansi_normal(), doc_str(jat(notes, i)));
	if (!jget_bool(iommu, "enabled"))
		printf("\n%snote:%s These are VFIO no-IOMMU groups: no DMA isolation. %s\n",
		       ansi_yellow(), ansi_normal(), strempty(jget_str(iommu, "hint")));
	if (jlen(ungrouped) > 0) {
		printf("\nWithout an IOMMU group (cannot be assigned):\n");
		for (size_t i = 0; i < jlen(ungrouped); i++) {
			DocNode *d = jat(ungrouped, i);
			char label[256];
			device_label(d, label, sizeof(label));
			printf("%s %s [%s:%s] %s  drv=%s\n",
			       i + 1 == jlen(ungrouped) ? glyph_tree_last() : glyph_tree_mid(),
			       jget_str(d, "bdf"), jget_str(d, "vendor"), jget_str(d, "device"),
			       label, jget_str(d, "driver") ?: "none");
		}
	}
}

/* --legacy: the lines of ls-iommu and of the classic shell loop over iommu_groups, i.e.
 * "IOMMU Group N: " followed by what `lspci -Dnn` prints for the device. */
static void render_groups_legacy(DocNode *doc) {
	DocNode *groups = jget(doc, "groups");
	if (jlen(groups) == 0) {
		print_no_iommu(jget(doc, "iommu"), jlen(jget(doc, "ungrouped_devices")));
		return;
	}
	for (size_t i = 0; i < jlen(groups); i++) {
		DocNode *g = jat(groups, i), *devs = jget(g, "devices");
		for (size_t j = 0; j < jlen(devs); j++) {
			DocNode *d = jat(devs, j);
			const char *vn = jget_str(d, "vendor_name"),
				   *dn = jget_str(d, "device_name");
			const char *cls = jget_str(d, "class"), *rev = jget_str(d, "revision");
			printf("IOMMU Group %" PRId64 ": %s %s [%.4s]: %s%s%s [%s:%s]",
			       jget_int(g, "group", -1), jget_str(d, "bdf"),
			       jget_str(d, "class_name"), strempty(cls), vn ? vn : "Device",
			       dn ? " " : "", strempty(dn), jget_str(d, "vendor"),
			       jget_str(d, "device"));
			if (rev && !streq(rev, "00"))
				printf(" (rev %s)", rev);
			putchar('\n');
		}
	}
}

int verb_groups(int argc, char **argv) {
	_cleanup_host_keep_ Host *h = NULL;
	_cleanup_doc_ DocNode *doc = NULL;

	if (argc > 1)
		return ioasidctl_error(EXIT_USAGE, "Verb 'groups' takes no arguments");
	if (ioasidctl_load_host(&h) < 0)
		return 1;

	doc = jobj();
	DocNode *groups = jarr(), *ungrouped = jarr();
	size_t n_viable = 0, n_empty = 0, n_identity = 0;
	_cleanup_free_ int *identity = h->n_groups ? calloc(h->n_groups, sizeof(int)) : NULL;
	if (h->n_groups && !identity)
		oom = true;
	for (size_t i = 0; groups && identity && i < h->n_groups; i++) {
		DocNode *g = group_to_json(h, &h->groups[i], false);
		if (g && streq(strempty(jget_str(g, "verdict")), "viable"))
			n_viable++;
		if (g && streq(strempty(jget_str(g, "verdict")), "empty"))
			n_empty++;
		if (group_is_identity(&h->groups[i]))
			identity[n_identity++] = h->groups[i].number;
		jappend(groups, g);
	}
	/* Host-wide notes, said once rather than per group. */
	_cleanup_free_ char *identity_note = NULL;
	if (viability_identity_note(identity, n_identity, &identity_note) < 0)
		oom = true;
	DocNode *notes = jarr();
	if (identity_note)
		jappend(notes, js(identity_note));
	for (size_t i = 0; ungrouped && i < h->n_devices; i++)
		if (!h->devices[i].group)
			jappend(ungrouped, device_to_json(h, &h->devices[i], NULL, false));
	if (doc) {
		jadd(doc, "iommu", iommu_to_json(h));
		jadd(doc, "groups", groups);
		jadd(doc, "ungrouped_devices", ungrouped);
		jadd(doc, "notes", notes);
		DocNode *sum = jobj();
		if (sum) {
			jadd(sum, "groups", jint((int32_t)h->n_groups));
			jadd(sum, "viable", jint((int32_t)n_viable));
			jadd(sum, "not_viable", jint((int32_t)(h->n_groups - n_viable - n_empty)));
			jadd(sum, "empty", jint((int32_t)n_empty));
		}
		jadd(doc, "summary", sum);
	}
	return emit(doc, arg_legacy ? render_groups_legacy : render_groups);
}

/* ---------------------------------------------------------------------------------------- */
/* devices */

static void render_devices(DocNode *doc) {
	DocNode *devs = jget(doc, "devices");
	DocNode *iommu = jget(doc, "iommu");

	for (size_t i = 0; i < jlen(devs); i++) {
		DocNode *d = jat(devs, i);
		const char *dn = jget_str(d, "device_name");
		char group[32] = "-";
		int64_t gn = jget_int(d, "iommu_group", -1);
		if (gn >= 0)
			snprintf(group, sizeof(group), "%" PRId64, gn);
		bool viable = jget_bool(d, "viable");
		printf("%s '%s' [%s:%s] drv=%s group=%s vfio=%s %sviable=%s%s", jget_str(d, "bdf"),
		       dn ? dn : jget_str(d, "class_name"), jget_str(d, "vendor"),
		       jget_str(d, "device"), jget_str(d, "driver") ?: "none", group,
		       jget_str(d, "vfio_cdev") ?: jget_str(d, "vfio_node") ?: "-",
		       viable ? ansi_green() : ansi_red(), viable ? "yes" : "no", ansi_normal());
		if (gn < 0)
			printf(" (no IOMMU group)");
		else if (jget_bool(d, "blocking"))
			printf(" %s(blocks group %" PRId64 ")%s", ansi_red(), gn, ansi_normal());
		print_vdpa_label(d);
		putchar('\n');
	}
	if (!jget_bool(doc, "filter_vfio") && !jget_bool(doc, "filter_blocking"))
		print_vdpa_devices(jget(doc, "vdpa_devices"));
	if (jlen(devs) == 0) {
		if (jget_bool(doc, "filter_vfio") && !jget_bool(iommu, "enabled"))
			printf("No device has a VFIO cdev, and without an IOMMU none can get one "
			       "short of the unsafe no-IOMMU mode "
			       "(see the note below).\n");
		else if (jget_bool(doc, "filter_vfio"))
			printf("No device has a VFIO cdev: bind one with "
			       "'ioasidctl bind BDF'.\n");
		else if (jget_bool(doc, "filter_blocking"))
			printf("No device blocks its IOMMU group.\n");
		else
			printf("No PCI devices found.\n");
	}
	if (!jget_bool(iommu, "enabled") && !arg_quiet)
		printf("%snote:%s The IOMMU is off or absent: no device is DMA-isolated. %s\n",
		       ansi_yellow(), ansi_normal(), strempty(jget_str(iommu, "hint")));
}

int verb_devices(int argc, char **argv) {
	_cleanup_host_keep_ Host *h = NULL;
	_cleanup_doc_ DocNode *doc = NULL;

	if (argc > 1)
		return ioasidctl_error(EXIT_USAGE,
				       "Verb 'devices' takes no arguments, only --vfio and "
				       "--blocking");
	if (ioasidctl_load_host(&h) < 0)
		return 1;

	doc = jobj();
	DocNode *devs = jarr();
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
		jappend(devs, device_to_json(h, d, &v, false));
	}
	if (doc) {
		jadd(doc, "iommu", iommu_to_json(h));
		jadd(doc, "filter_vfio", jbool(arg_vfio));
		jadd(doc, "filter_blocking", jbool(arg_blocking));
		jadd(doc, "devices", devs);
		jadd(doc, "vdpa_devices", vdpa_devices_to_json(h));
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

static void kv_list(const char *key, DocNode *a) {
	if (jlen(a) == 0)
		return;
	printf("%s%18s:%s ", ansi_bold(), key, ansi_normal());
	for (size_t i = 0; i < jlen(a); i++)
		printf("%s%s", i ? ", " : "", doc_str(jat(a, i)));
	putchar('\n');
}

static void render_regions(DocNode *g) {
	DocNode *rr = jget(g, "reserved_regions");
	for (size_t i = 0; i < jlen(rr); i++) {
		DocNode *r = jat(rr, i);
		kv(i == 0 ? "reserved regions" : "", "%s-%s %s", jget_str(r, "start"),
		   jget_str(r, "end"), jget_str(r, "type"));
	}
	if (jlen(rr) == 0)
		kv("reserved regions", "none reported");
}

static void render_group_members(DocNode *g, const char *skip_bdf) {
	DocNode *devs = jget(g, "devices");
	size_t shown = 0;
	for (size_t i = 0; i < jlen(devs); i++) {
		DocNode *d = jat(devs, i);
		if (skip_bdf && streq(jget_str(d, "bdf"), skip_bdf))
			continue;
		char label[256];
		device_label(d, label, sizeof(label));
		kv(shown++ == 0 ? (skip_bdf ? "at risk" : "members") : "", "%s [%s:%s] %s, %s%s",
		   jget_str(d, "bdf"), jget_str(d, "vendor"), jget_str(d, "device"), label,
		   jget_str(d, "driver") ?: "no driver",
		   jget_bool(d, "blocking")                ? " (blocks)"
		   : streq(jget_str(d, "state"), "bridge") ? " (bridge)"
							   : "");
	}
	DocNode *fm = jget(g, "foreign_members");
	for (size_t i = 0; i < jlen(fm); i++) {
		DocNode *f = jat(fm, i);
		kv(shown++ == 0 ? (skip_bdf ? "at risk" : "members") : "",
		   "%s (%s device, not PCI), %s%s", jget_str(f, "name"),
		   jget_str(f, "bus") ?: "unknown bus",
		   jget_str(f, "driver")
			   ?: (streq(strempty(jget_str(f, "state")), "unknown") ? "driver unknown"
										: "no driver"),
		   jget_bool(f, "blocking") ? " (blocks)" : "");
	}
	if (!skip_bdf && shown == 0)
		kv("members", "none");
	if (skip_bdf && shown == 0)
		kv("at risk", "none: the device is alone in its group");
}

/* Reset scope, VFIO's dev_set and the dependents of a device (device_detail_json()). */
static void render_dependents(DocNode *d) {
	const char *scope = jget_str(d, "reset");
	DocNode *methods = jget(d, "reset_method"), *set = jget(d, "reset_set");
	char m[128] = "";
	for (size_t i = 0; i < jlen(methods); i++)
		snprintf(m + strlen(m), sizeof(m) - strlen(m), "%s%s", i ? " " : "",
			 doc_str(jat(methods, i)));
	if (streq(strempty(scope), "function"))
		kv("reset", "of the function alone (%s)", m);
	else if (streq(strempty(scope), "bus")) {
		printf("%s%18s:%s %sbus reset only%s (%s), takes down ", ansi_bold(), "reset",
		       ansi_normal(), ansi_yellow(), ansi_normal(), *m ? m : "no reset method");
		for (size_t i = 0; i < jlen(set); i++)
			printf("%s%s", i ? ", " : "", doc_str(jat(set, i)));
		putchar('\n');
	} else if (streq(strempty(scope), "none"))
		kv("reset", "%snone%s: no function reset and no bridge above", ansi_yellow(),
		   ansi_normal());
	else
		kv("reset", "unknown (the host does not list reset methods)");
	if (jlen(jget(d, "dev_set")) > 1)
		kv_list("vfio dev_set", jget(d, "dev_set"));
	DocNode *deps = jget(d, "dependents");
	for (size_t i = 0; i < jlen(deps); i++) {
		DocNode *e = jat(deps, i);
		const char *rel = jget_str(e, "relation");
		kv(i == 0 ? "dependents" : "", "%s (%s)", jget_str(e, "bdf"),
		   streq(strempty(rel), "pf")   ? "its PF"
		   : streq(strempty(rel), "vf") ? "one of its VFs"
						: "shares a bus reset");
	}
}

static void render_show_device(DocNode *doc) {
	DocNode *d = jget(doc, "device");
	DocNode *g = jget(doc, "group");
	const char *vn = jget_str(d, "vendor_name"), *dn = jget_str(d, "device_name");

	printf("%s%s%s '%s'\n", ansi_bold(), jget_str(d, "bdf"), ansi_normal(),
	       dn ? dn : jget_str(d, "class_name"));
	kv("vendor", "%s%s%s", jget_str(d, "vendor"), vn ? " " : "", strempty(vn));
	kv("device", "%s%s%s", jget_str(d, "device"), dn ? " " : "", strempty(dn));
	kv("subsystem", "%s:%s", jget_str(d, "subsystem_vendor"), jget_str(d, "subsystem_device"));
	kv("class", "%s %s", jget_str(d, "class"), jget_str(d, "class_name"));
	kv("revision", "%s", jget_str(d, "revision"));
	kv("driver", "%s (%s)", jget_str(d, "driver") ?: "none", jget_str(d, "state"));
	if (jget(d, "ioasidctl_bind"))
		kv("bound", "by ioasidctl, was on %s",
		   jget_str(jget(d, "ioasidctl_bind"), "was") ?: "no driver");
	if (jget_str(d, "vfio_cdev"))
		kv("vfio", "/dev/vfio/devices/%s (%s)%s", jget_str(d, "vfio_cdev"),
		   jget_str(d, "vfio_dev"), jget_bool(d, "noiommu") ? ", noiommu" : "");
	else
		kv("vfio", "none");
	int64_t numa = jget_int(d, "numa_node", -1);
	if (numa >= 0)
		kv("numa node", "%" PRId64, numa);
	else
		kv("numa node", "unknown");
	DocNode *bp = jget(d, "bridge_path");
	if (jlen(bp) > 0)
		kv_list("bridge path", bp);
	else
		kv("bridge path", "on a root bus");
	DocNode *sriov = jget(d, "sriov");
	if (sriov)
		kv("sr-iov", "PF, %" PRId64 " of %" PRId64 " VFs enabled",
		   jget_int(sriov, "numvfs", 0), jget_int(sriov, "totalvfs", 0));
	kv_list("vfs", jget(d, "virtfn"));
	if (jget_str(d, "physfn"))
		kv("sr-iov", "VF of %s", jget_str(d, "physfn"));
	kv_list("netdevs", jget(d, "netdevs"));
	DocNode *vd = jget(d, "vdpa");
	if (vd) {
		DocNode *a = jget(vd, "devices");
		for (size_t i = 0; i < jlen(a); i++) {
			DocNode *v = jat(a, i);
			kv(i == 0 ? "vdpa" : "", "%s (%s) on %s%s%s", jget_str(v, "name"),
			   jget_str(v, "class_name") ?: "virtio device",
			   jget_str(v, "driver") ?: "no driver",
			   jget_str(v, "vhost_node") ? ", " : "",
			   strempty(jget_str(v, "vhost_node")));
		}
		if (jlen(a) == 0)
			kv("vdpa", "management device %s, no vDPA device",
			   jget_str(vd, "management_device"));
	}
	render_dependents(d);
	if (g) {
		const char *verdict = jget_str(g, "verdict");
		kv("iommu group", "%" PRId64 " (%s), %s%s%s", jget_int(g, "group", -1),
		   jget_str(g, "type") ?: "type unknown", verdict_color(verdict),
		   verdict_human(verdict), ansi_normal());
		render_group_members(g, jget_str(d, "bdf"));
		render_regions(g);
		print_reasons(g, "  ");
	} else {
		kv("iommu group", "none: %sno IOMMU%s", ansi_yellow(), ansi_normal());
		print_reasons(doc, "  ");
	}
}

static void render_show_group(DocNode *doc) {
	DocNode *g = jget(doc, "group");
	const char *verdict = jget_str(g, "verdict");
	printf("%sIOMMU Group %" PRId64 "%s: %s%s%s\n", ansi_bold(), jget_int(g, "group", -1),
	       ansi_normal(), verdict_color(verdict), verdict_human(verdict), ansi_normal());
	kv("type", "%s", jget_str(g, "type") ?: "unknown");
	render_group_members(g, NULL);
	render_regions(g);
	print_reasons(g, "  ");
}

static DocNode *device_detail_json(const Host *h, const Device *d, const Viability *v) {
	DocNode *o = device_to_json(h, d, v, false);
	if (!o)
		return NULL;
	jadd(o, "numa_node", jint(d->numa_node));
	jadd(o, "parent", js(d->parent));
	jadd(o, "bridge_path", jstrv(d->bridge_path));
	if (d->sriov_totalvfs >= 0) {
		DocNode *s = jobj();
		if (s) {
			jadd(s, "totalvfs", jint(d->sriov_totalvfs));
			jadd(s, "numvfs", jint(d->sriov_numvfs));
		}
		jadd(o, "sriov", s);
	} else
		jadd(o, "sriov", NULL);
	jadd(o, "virtfn", jstrv(d->virtfn));
	jadd(o, "physfn", js(d->physfn));
	jadd(o, "netdevs", jstrv(d->netdevs));
	jadd(o, "properties", jstrv(d->properties));
	/* Dependent devices (common/depend.h): what a reset takes down, VFIO's dev_set, and the
	 * devices that go to one owner with this one. */
	jadd(o, "reset_method", d->reset_known ? jstrv(d->reset_methods) : NULL);
	jadd(o, "reset", js(reset_scope_to_string(depend_reset_scope(h, d))));
	_cleanup_free_ const Device **set = NULL;
	_cleanup_free_ Dependent *deps = NULL;
	size_t n = 0;
	DocNode *a = jarr();
	if (depend_reset_set(h, d, &set, &n) < 0)
		oom = true;
	for (size_t i = 0; i < n; i++)
		jappend(a, js(set[i]->bdf));
	jadd(o, "reset_set", a);
	free(set);
	set = NULL;
	a = jarr();
	if (depend_dev_set(h, d, &set, &n) < 0)
		oom = true;
	for (size_t i = 0; i < n; i++)
		jappend(a, js(set[i]->bdf));
	jadd(o, "dev_set", a);
	a = jarr();
	if (depend_dependents(h, d, &deps, &n) < 0)
		oom = true;
	for (size_t i = 0; i < n; i++) {
		DocNode *e = jobj_sized(2);
		jadd(e, "bdf", js(deps[i].device->bdf));
		jadd(e, "relation", js(depend_kind_to_string(deps[i].kind)));
		jappend(a, e);
	}
	jadd(o, "dependents", a);
	return o;
}

int verb_show(int argc, char **argv) {
	_cleanup_host_keep_ Host *h = NULL;
	_cleanup_doc_ DocNode *doc = NULL;
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
	doc = jobj();
	if (!doc)
		return finish(doc);
	if (is_device) {
		const Device *d = host_find_device(h, bdf);
		if (!d)
			return ioasidctl_error(1, "No PCI device '%s' on this host", bdf);
		if (viability_device(h, d, &v) < 0)
			return ioasidctl_error(1, "Out of memory");
		jadd(doc, "device", device_detail_json(h, d, &v));
		if (d->group)
			jadd(doc, "group", group_to_json(h, d->group, true));
		else {
			jadd(doc, "group", NULL);
			viability_to_json(&v, doc, false);
		}
		DocNode *risk = jarr();
		for (size_t i = 0; risk && d->group && i < d->group->n_members; i++)
			if (d->group->members[i] != d)
				jappend(risk, js(d->group->members[i]->bdf));
		for (size_t i = 0; risk && d->group && i < d->group->n_foreign_members; i++)
			jappend(risk, js(d->group->foreign_members[i].name));
		jadd(doc, "at_risk", risk);
	} else {
		const Group *g = host_find_group(h, (int)number);
		if (!g)
			return ioasidctl_error(1, "No IOMMU group %" PRIu64 " on this host%s",
					       number,
					       h->n_groups == 0 ? " (it has no IOMMU groups at all)"
								: "");
		if (viability_group(h, g, &v) < 0)
			return ioasidctl_error(1, "Out of memory");
		jadd(doc, "group", group_to_json(h, g, true));
	}
	jadd(doc, "verdict", js(verdict_to_string(v.verdict)));
	jadd(doc, "iommu", iommu_to_json(h));
	int r = emit(doc, is_device ? render_show_device : render_show_group);
	if (r != 0)
		return r;
	return v.verdict == VERDICT_VIABLE ? 0 : EXIT_NOT_VIABLE;
}

/* ---------------------------------------------------------------------------------------- */
/* check */

typedef enum CheckResult { CHECK_PASS, CHECK_NOTE, CHECK_WARN, CHECK_FAIL } CheckResult;

static const char *const check_result_names[] = { "pass", "note", "warn", "fail" };

_printf_(6, 7) static void check_add(DocNode *a, const char *category, const char *id,
				     CheckResult res, const char *desc, const char *hint_fmt, ...) {
	DocNode *o = jobj();
	if (!o)
		return;
	jadd(o, "category", js(category));
	jadd(o, "id", js(id));
	jadd(o, "description", js(desc));
	jadd(o, "result", js(check_result_names[res]));
	if (hint_fmt) {
		_cleanup_free_ char *hint = NULL;
		va_list ap;
		va_start(ap, hint_fmt);
		if (vasprintf(&hint, hint_fmt, ap) < 0)
			oom = true;
		va_end(ap);
		jadd(o, "hint", js(hint));
	} else
		jadd(o, "hint", NULL);
	jappend(a, o);
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
static bool memlock_below_grant(DocNode *a, const Host *h, const struct passwd *pw, uint64_t lim,
				const char *desc, const char *where) {
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
static void check_memlock_pam(DocNode *a, const Host *h, const struct passwd *pw, const char *desc,
			      const char *why) {
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

static void check_memlock(DocNode *a, const Host *h) {
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
static void check_accounting(DocNode *a) {
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
static void check_group(DocNode *a, const Host *h, const Group *g) {
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

static void render_check(DocNode *doc) {
	DocNode *checks = jget(doc, "checks");
	size_t width = 0;
	for (size_t i = 0; i < jlen(checks); i++) {
		DocNode *c = jat(checks, i);
		width = MAX(width,
			    strlen(jget_str(c, "category")) + strlen(jget_str(c, "description")));
	}
	for (size_t i = 0; i < jlen(checks); i++) {
		DocNode *c = jat(checks, i);
		const char *res = jget_str(c, "result"), *hint = jget_str(c, "hint");
		const char *col = streq(res, "pass")   ? ansi_green()
				  : streq(res, "fail") ? ansi_red()
				  : streq(res, "warn") ? ansi_yellow()
						       : "";
		size_t len = strlen(jget_str(c, "category")) + strlen(jget_str(c, "description"));
		char upper[8] = {};
		for (size_t k = 0; k < sizeof(upper) - 1 && res[k]; k++)
			upper[k] = (char)toupper((unsigned char)res[k]);
		printf("%s: %s%*s : %s%s%s", jget_str(c, "category"), jget_str(c, "description"),
		       (int)(width - len), "", col, upper, ansi_normal());
		if (hint)
			printf(" (%s)", hint);
		putchar('\n');
	}
	DocNode *s = jget(doc, "summary");
	if (!arg_quiet)
		printf("\npass %" PRId64 ", note %" PRId64 ", warn %" PRId64 ", fail %" PRId64 "\n",
		       jget_int(s, "pass", 0), jget_int(s, "note", 0), jget_int(s, "warn", 0),
		       jget_int(s, "fail", 0));
}

int verb_check(int argc, char **argv) {
	_cleanup_host_keep_ Host *h = NULL;
	_cleanup_doc_ DocNode *doc = NULL;

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
	DocNode *a = jarr();
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
	for (size_t i = 0; i < jlen(a); i++) {
		const char *res = jget_str(jat(a, i), "result");
		for (size_t j = 0; j < ELEMENTSOF(check_result_names); j++)
			if (res && streq(res, check_result_names[j]))
				count[j]++;
	}
	doc = jobj();
	if (doc) {
		jadd(doc, "checks", a);
		a = NULL;
		jadd(doc, "for_user", js(arg_for));
		DocNode *s = jobj();
		if (s)
			for (size_t j = 0; j < ELEMENTSOF(check_result_names); j++)
				jadd(s, check_result_names[j], jint(count[j]));
		jadd(doc, "summary", s);
		jadd(doc, "iommu", iommu_to_json(h));
	}
	int r = emit(doc, render_check);
	if (r != 0)
		return r;
	return count[CHECK_FAIL] > 0 ? EXIT_NOT_VIABLE : 0;
}
