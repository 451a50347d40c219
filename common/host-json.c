/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host snapshot: JSON written by `ioasidctl snapshot`, read by every `--host FILE`.
 *
 * The reader is strict because snapshots are also hand-written (tests/hosts/) and may come
 * from another machine: every field is type-checked, ids and addresses must be in their
 * canonical form, unknown keys are refused, and every error names the field path
 * ("devices[3].vendor: expected a 4-digit hex string"). Sizes are capped so no input can
 * make it allocate without bound. The writer emits keys in a fixed order and arrays sorted,
 * so snapshot -> load -> snapshot is byte-identical.
 *
 * The text is parsed by doc_parse() (common/doc.h), strict RFC 8259, into an arena: a key
 * given twice in one object is a syntax error (json-c, the reader before, kept the last
 * one: a snapshot saying two things is refused, not half-believed), and so is "\u0000" in
 * a string. Syntax errors name the offset, line and column. The writer still uses json-c.
 */
#include <assert.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>

#include "common/json-out.h"
#include "common/doc.h"
#include "common/host.h"
#include "common/macro.h"

/* Limits: one place. A real host has a few hundred PCI devices; these are far above. */
#define HOST_JSON_MAX_SIZE (64u * 1024 * 1024)
#define HOST_JSON_MAX_DEVICES 65536
#define HOST_JSON_MAX_GROUPS 65536
#define HOST_JSON_MAX_REGIONS 1024
#define HOST_JSON_MAX_LIST 4096 /* netdevs, virtfn, iommu units, group members */
#define HOST_JSON_MAX_PROPERTIES 1024
#define HOST_JSON_MAX_STRING 65536

/* Containers nest at most this deep: the deepest valid snapshot has five (the root object,
 * "groups", a group, its "reserved_regions", a region; or the root, "devices", a device,
 * its "sriov", "virtfn"). doc_parse() counts containers only, not the scalars inside. */
#define HOST_JSON_MAX_DEPTH 5

typedef struct Parser {
	char path[256];
	size_t len;
	char *error; /* first error only */
	/* Where the next key lookup in an object starts: just past the key found last. The
	 * writer emits every object's keys in the order the reader asks for them, so a lookup
	 * in a canonical snapshot compares one key; any order is still found (see obj_find). */
	size_t hint;
} Parser;

/* The path is kept up to date for every field read, errors or not (thousands per
 * snapshot), so it is built with copies, not vsnprintf(), which was a sixth of loading a
 * 4096-device snapshot. Text beyond the buffer is cut, never overrun. */
static void path_append(Parser *p, const char *s, size_t n) {
	n = MIN(n, sizeof(p->path) - 1 - p->len);
	memcpy(p->path + p->len, s, n);
	p->len += n;
	p->path[p->len] = '\0';
}

static size_t path_push_key(Parser *p, const char *key) {
	size_t mark = p->len;
	if (p->len > 0)
		path_append(p, ".", 1);
	path_append(p, key, strlen(key));
	return mark;
}

/* "[i]" after the array's key. */
static size_t path_push_index(Parser *p, size_t i) {
	char buf[24], *e = buf + sizeof(buf), *b = e;
	*--b = ']';
	do
		*--b = (char)('0' + i % 10);
	while ((i /= 10) > 0);
	*--b = '[';
	size_t mark = p->len;
	path_append(p, b, (size_t)(e - b));
	return mark;
}

static void path_pop(Parser *p, size_t mark) {
	p->len = mark;
	p->path[mark] = '\0';
}

_printf_(2, 3) static int fail(Parser *p, const char *fmt, ...) {
	if (!p->error) {
		char *msg = NULL;
		va_list ap;
		va_start(ap, fmt);
		if (vasprintf(&msg, fmt, ap) < 0)
			msg = NULL;
		va_end(ap);
		if (msg && asprintf(&p->error, "%s: %s", p->len ? p->path : "snapshot", msg) < 0)
			p->error = NULL;
		free(msg);
	}
	return -EINVAL;
}

/* The names the messages have always used (json-c's type names). */
static const char *type_name(const DocNode *o) {
	switch (doc_type(o)) {
	case DOC_NULL:
		return "null";
	case DOC_BOOL:
		return "boolean";
	case DOC_INT:
		return "int";
	case DOC_DOUBLE:
		return "double";
	case DOC_STRING:
		return "string";
	case DOC_OBJECT:
		return "object";
	case DOC_ARRAY:
		return "array";
	}
	return "unknown";
}

/*
 * The index of key in object o, or -1 when absent. doc_get() cannot tell an absent key from
 * an explicit null; this can (an optional field may be absent where null is refused).
 * Starts at p->hint and wraps around, so keys in the writer's order cost one comparison each.
 */
static ssize_t obj_find(Parser *p, const DocNode *o, const char *key) {
	size_t n = o->c.n, i = p->hint < n ? p->hint : 0;
	for (size_t k = 0; k < n; k++, i = i + 1 < n ? i + 1 : 0) {
		const char *ok = o->c.keys[i];
		if (ok[0] == key[0] && streq(ok, key)) {
			p->hint = i + 1;
			return (ssize_t)i;
		}
	}
	return -1;
}

/* obj is an object: every key of it is in allowed (NULL-terminated). Also resets the lookup
 * hint for the fields of obj. Like obj_find(), the scan of allowed goes on from the last
 * match, so keys in the writer's order cost one comparison each. */
static int check_keys(Parser *p, const DocNode *obj, const char *const *allowed) {
	size_t n_allowed = 0, j = 0;
	while (allowed[n_allowed])
		n_allowed++;
	p->hint = 0;
	for (size_t i = 0; i < obj->c.n; i++) {
		const char *key = obj->c.keys[i];
		bool ok = false;
		for (size_t k = 0; k < n_allowed; k++, j = j + 1 < n_allowed ? j + 1 : 0)
			if (allowed[j][0] == key[0] && streq(allowed[j], key)) {
				ok = true;
				break;
			}
		if (!ok)
			return fail(p, "unknown key '%s'", key);
	}
	return 0;
}

enum {
	F_REQUIRED = 1 << 0,
	F_NULLABLE = 1 << 1,
};

/*
 * Looks key up in obj. Returns 1 and *ret (NULL for JSON null when F_NULLABLE) when
 * present, 0 when absent and optional, -EINVAL otherwise. The caller has pushed the key.
 */
static int field_get(Parser *p, const DocNode *obj, const char *key, unsigned flags,
		     const DocNode **ret) {
	ssize_t i = obj_find(p, obj, key);
	if (i < 0) {
		if (flags & F_REQUIRED)
			return fail(p, "missing required field");
		*ret = NULL;
		return 0;
	}
	const DocNode *v = obj->c.items[i];
	if (!v && !(flags & F_NULLABLE))
		return fail(p, "must not be null");
	*ret = v;
	return 1;
}

static int expect_type(Parser *p, const DocNode *v, DocType t, const char *what) {
	if (doc_type(v) != t)
		return fail(p, "expected %s, got %s", what, type_name(v));
	return 0;
}

/* A string value without embedded NULs or control characters (tab aside), at most max bytes. */
static int value_string(Parser *p, const DocNode *v, size_t max, const char **ret) {
	if (expect_type(p, v, DOC_STRING, "a string") < 0)
		return -EINVAL;
	const char *s = v->str.s;
	size_t len = v->str.len;
	/* doc_parse() refuses "\u0000", so this holds; kept as the reader's own guarantee. */
	if (strlen(s) != len)
		return fail(p, "string contains a NUL character");
	if (len > max)
		return fail(p, "string longer than %zu bytes", max);
	for (size_t i = 0; i < len; i++)
		/* Tabs occur in udev property values; other control characters do not. */
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return fail(p, "string contains a control character");
	*ret = s;
	return 0;
}

/* Optional/nullable string field; *ret stays NULL when absent or null. */
static int field_string(Parser *p, const DocNode *obj, const char *key, unsigned flags, size_t max,
			char **ret) {
	size_t mark = path_push_key(p, key);
	const DocNode *v = NULL;
	const char *s;
	int r = field_get(p, obj, key, flags, &v);
	if (r > 0 && v) {
		r = value_string(p, v, max, &s);
		if (r >= 0) {
			if (!*s)
				r = fail(p, "must not be empty");
			else if (!(*ret = strdup(s)))
				r = -ENOMEM;
		}
	}
	path_pop(p, mark);
	return r < 0 ? r : 0;
}

/* A lower-case hex string of exactly `digits` digits ("10de", "030000", "a1"). */
static int field_hex(Parser *p, const DocNode *obj, const char *key, unsigned flags,
		     unsigned digits, uint32_t *ret) {
	size_t mark = path_push_key(p, key);
	const DocNode *v = NULL;
	int r = field_get(p, obj, key, flags, &v);
	if (r > 0) {
		const char *s = doc_str(v);
		bool ok = s && strlen(s) == digits;
		uint32_t x = 0;
		for (unsigned i = 0; ok && i < digits; i++) {
			char c = s[i];
			if (c >= '0' && c <= '9')
				x = x * 16 + (uint32_t)(c - '0');
			else if (c >= 'a' && c <= 'f')
				x = x * 16 + (uint32_t)(c - 'a' + 10);
			else
				ok = false;
		}
		if (!ok)
			r = fail(p, "expected a %u-digit hex string", digits);
		else
			*ret = x;
	}
	path_pop(p, mark);
	return r < 0 ? r : 0;
}

/* Integer field in [min, max]. *ret_null (optional) is set when the value is JSON null. */
static int field_int(Parser *p, const DocNode *obj, const char *key, unsigned flags, int64_t min,
		     int64_t max, int64_t *ret, bool *ret_null) {
	size_t mark = path_push_key(p, key);
	const DocNode *v = NULL;
	int r = field_get(p, obj, key, flags, &v);
	if (r > 0) {
		if (!v) {
			if (ret_null)
				*ret_null = true;
		} else if (doc_type(v) != DOC_INT)
			/* Also a number beyond int64, which doc_parse() makes a double. */
			r = fail(p, "expected an integer, got %s", type_name(v));
		else {
			int64_t x = v->i;
			if (x < min || x > max)
				r = fail(p, "integer out of range [%" PRId64 ", %" PRId64 "]", min,
					 max);
			else
				*ret = x;
		}
	}
	path_pop(p, mark);
	return r < 0 ? r : 0;
}

static int field_tristate(Parser *p, const DocNode *obj, const char *key, Tristate *ret) {
	size_t mark = path_push_key(p, key);
	const DocNode *v = NULL;
	int r = field_get(p, obj, key, F_NULLABLE, &v);
	*ret = TRI_UNKNOWN;
	if (r > 0 && v) {
		if (doc_type(v) != DOC_BOOL)
			r = fail(p, "expected true, false or null, got %s", type_name(v));
		else
			*ret = v->b ? TRI_YES : TRI_NO;
	}
	path_pop(p, mark);
	return r < 0 ? r : 0;
}

static int field_bool(Parser *p, const DocNode *obj, const char *key, unsigned flags, bool *ret) {
	size_t mark = path_push_key(p, key);
	const DocNode *v = NULL;
	int r = field_get(p, obj, key, flags, &v);
	if (r > 0) {
		if (doc_type(v) != DOC_BOOL)
			r = fail(p, "expected true or false, got %s", type_name(v));
		else
			*ret = v->b;
	}
	path_pop(p, mark);
	return r < 0 ? r : 0;
}

static int field_bdf(Parser *p, const DocNode *obj, const char *key, unsigned flags, char **ret) {
	size_t mark = path_push_key(p, key);
	const DocNode *v = NULL;
	int r = field_get(p, obj, key, flags, &v);
	if (r > 0 && v) {
		const char *s = doc_str(v);
		if (!bdf_is_canonical(s))
			r = fail(p, "expected a canonical PCI address like '0000:01:00.0'");
		else if (!(*ret = strdup(s)))
			r = -ENOMEM;
	}
	path_pop(p, mark);
	return r < 0 ? r : 0;
}

typedef int (*ItemCheck)(Parser *p, const char *s);

static int check_bdf_item(Parser *p, const char *s) {
	if (!bdf_is_canonical(s))
		return fail(p, "expected a canonical PCI address like '0000:01:00.0'");
	return 0;
}

/* Names of sysfs entries (netdevs, iommu units): no '/', no blanks, not "." or "..". */
static int check_name_item(Parser *p, const char *s) {
	if (!*s || strlen(s) > 255 || strchr(s, '/') || strpbrk(s, " \t") || streq(s, ".") ||
	    streq(s, ".."))
		return fail(p, "expected a file name");
	return 0;
}

static int check_foreign_item(Parser *p, const char *s) {
	if (bdf_is_canonical(s))
		return fail(p, "'%s' is a PCI address: list it in 'devices'", s);
	return check_name_item(p, s);
}

/* A reset method as sysfs reset_method prints it ("flr", "af_flr", "cxl_bus"): lower-case
 * letters and '_' only, so the names a newer kernel adds are read too. */
static int check_reset_item(Parser *p, const char *s) {
	if (!*s || strlen(s) > 32 || strspn(s, "abcdefghijklmnopqrstuvwxyz_") != strlen(s))
		return fail(p, "expected a reset method name like \"flr\"");
	return 0;
}

static int check_netdev_item(Parser *p, const char *s) {
	if (strlen(s) > 15)
		return fail(p, "interface name longer than 15 characters");
	return check_name_item(p, s);
}

/* Array of strings, each checked; NULL stays NULL for an empty array. */
static int field_strv(Parser *p, const DocNode *obj, const char *key, unsigned flags, size_t max,
		      ItemCheck check, char ***ret) {
	size_t mark = path_push_key(p, key);
	const DocNode *v = NULL;
	_cleanup_strv_free_ char **l = NULL;
	int r = field_get(p, obj, key, flags, &v);
	if (r <= 0)
		goto out;
	if ((r = expect_type(p, v, DOC_ARRAY, "an array")) < 0)
		goto out;
	size_t n = doc_len(v);
	if (n > max) {
		r = fail(p, "more than %zu entries", max);
		goto out;
	}
	if (n > 0 && !(l = calloc(n + 1, sizeof(char *)))) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		size_t m2 = path_push_index(p, i);
		const char *s;
		r = value_string(p, doc_at(v, i), 255, &s);
		if (r >= 0 && check)
			r = check(p, s);
		if (r >= 0 && !(l[i] = strdup(s)))
			r = -ENOMEM;
		if (r < 0)
			goto out;
		path_pop(p, m2);
	}
	*ret = TAKE_PTR(l);
	r = 0;
out:
	path_pop(p, mark);
	return r < 0 ? r : 0;
}

static int parse_kernel(Parser *p, const DocNode *obj, HostKernel *k) {
	static const char *const keys[] = {
		"release",       "cmdline", "iommu_units", "iommu_vendor", "interrupt_remapping",
		"address_width", "iommufd", "vfio_cdev",   "vfio_pci",     "vfio_legacy",
		"noiommu_mode",  NULL
	};
	static const char *const vendors[] = {
		"intel", "amd", "arm-smmu", "virtio", "other", NULL
	};
	int64_t aw = 0;
	int r;

	if (expect_type(p, obj, DOC_OBJECT, "an object") < 0 || check_keys(p, obj, keys) < 0)
		return -EINVAL;
	if ((r = field_string(p, obj, "release", F_NULLABLE, 255, &k->release)) < 0 ||
	    (r = field_string(p, obj, "cmdline", F_NULLABLE, HOST_JSON_MAX_STRING, &k->cmdline)) <
		    0 ||
	    (r = field_strv(p, obj, "iommu_units", 0, HOST_JSON_MAX_LIST, check_name_item,
			    &k->iommu_units)) < 0 ||
	    (r = field_string(p, obj, "iommu_vendor", F_NULLABLE, 32, &k->iommu_vendor)) < 0 ||
	    (r = field_tristate(p, obj, "interrupt_remapping", &k->interrupt_remapping)) < 0 ||
	    (r = field_int(p, obj, "address_width", 0, 0, 64, &aw, NULL)) < 0 ||
	    (r = field_tristate(p, obj, "iommufd", &k->iommufd)) < 0 ||
	    (r = field_tristate(p, obj, "vfio_cdev", &k->vfio_cdev)) < 0 ||
	    (r = field_tristate(p, obj, "vfio_pci", &k->vfio_pci)) < 0 ||
	    (r = field_tristate(p, obj, "vfio_legacy", &k->vfio_legacy)) < 0 ||
	    (r = field_tristate(p, obj, "noiommu_mode", &k->noiommu_mode)) < 0)
		return r;
	k->address_width = (int)aw;
	strv_sort(k->iommu_units);
	if (k->iommu_vendor) {
		bool ok = false;
		for (const char *const *v = vendors; *v; v++)
			ok = ok || streq(*v, k->iommu_vendor);
		if (!ok) {
			size_t mark = path_push_key(p, "iommu_vendor");
			r = fail(p, "unknown vendor '%s' (intel, amd, arm-smmu, virtio, other)",
				 k->iommu_vendor);
			path_pop(p, mark);
			return r;
		}
	}
	return 0;
}

/* "0x%016llx"-style bound: a 0x prefix and 1..16 hex digits. */
static int field_u64_hex(Parser *p, const DocNode *obj, const char *key, uint64_t *ret) {
	size_t mark = path_push_key(p, key);
	const DocNode *v = NULL;
	int r = field_get(p, obj, key, F_REQUIRED, &v);
	if (r > 0) {
		const char *s = doc_str(v);
		if (!s || !strneq(s, "0x", 2) || strlen(s) > 18 ||
		    hex_parse_u64(s, UINT64_MAX, ret) < 0)
			r = fail(p, "expected a hex address like \"0x00000000fee00000\"");
	}
	path_pop(p, mark);
	return r < 0 ? r : 0;
}

static int parse_region(Parser *p, const DocNode *obj, ReservedRegion *ret) {
	static const char *const keys[] = { "start", "end", "type", NULL };
	_cleanup_free_ char *type = NULL;
	int r;

	if (expect_type(p, obj, DOC_OBJECT, "an object") < 0 || check_keys(p, obj, keys) < 0)
		return -EINVAL;
	if ((r = field_u64_hex(p, obj, "start", &ret->start)) < 0 ||
	    (r = field_u64_hex(p, obj, "end", &ret->end)) < 0 ||
	    (r = field_string(p, obj, "type", F_REQUIRED, 64, &type)) < 0)
		return r;
	if (ret->end < ret->start) {
		size_t mark = path_push_key(p, "end");
		r = fail(p, "end is below start");
		path_pop(p, mark);
		return r;
	}
	int t = reserved_region_type_from_string(type);
	if (t < 0) {
		size_t mark = path_push_key(p, "type");
		r = fail(p, "unknown region type '%s' (direct, direct-relaxable, reserved, msi)",
			 type);
		path_pop(p, mark);
		return r;
	}
	ret->type = (ReservedRegionType)t;
	return 0;
}

/*
 * One of a group's "foreign_members": an object {"name", "bus", "driver"} (bus and driver
 * null when none, absent when not known), or the bare name an older snapshot wrote, whose
 * bus and driver are then unknown.
 */
static int parse_foreign(Parser *p, const DocNode *item, ForeignMember *f) {
	static const char *const keys[] = { "name", "bus", "driver", NULL };
	const DocNode *v = NULL;
	const char *s;
	int r;

	if (doc_type(item) == DOC_STRING) {
		if ((r = value_string(p, item, 255, &s)) < 0 || (r = check_foreign_item(p, s)) < 0)
			return r;
		return (f->name = strdup(s)) ? 0 : -ENOMEM;
	}
	if (expect_type(p, item, DOC_OBJECT, "an object or a device name") < 0 ||
	    check_keys(p, item, keys) < 0)
		return -EINVAL;
	if ((r = field_string(p, item, "name", F_REQUIRED, 255, &f->name)) < 0)
		return r;
	size_t mark = path_push_key(p, "name");
	r = check_foreign_item(p, f->name);
	path_pop(p, mark);
	if (r < 0)
		return r;
	if ((r = field_string(p, item, "bus", F_NULLABLE, 64, &f->bus)) < 0)
		return r;
	if (f->bus) {
		mark = path_push_key(p, "bus");
		r = check_name_item(p, f->bus);
		path_pop(p, mark);
		if (r < 0)
			return r;
	}
	mark = path_push_key(p, "driver");
	r = field_get(p, item, "driver", F_NULLABLE, &v);
	path_pop(p, mark);
	if (r < 0)
		return r;
	f->driver_known = r > 0;
	if ((r = field_string(p, item, "driver", F_NULLABLE, 64, &f->driver)) < 0)
		return r;
	if (f->driver) {
		mark = path_push_key(p, "driver");
		r = check_name_item(p, f->driver);
		path_pop(p, mark);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * A group's number is "group", as in `ioasidctl groups --json` and on the wire. Snapshots
 * written before that called it "number": read as an alias, the writer no longer writes it.
 * An object with both says it twice and is refused, like a key given twice.
 */
static int parse_group(Parser *p, const DocNode *obj, Group *g) {
	static const char *const keys[] = {
		"group", "type", "reserved_regions", "devices", "foreign_members", "number", NULL
	};
	int64_t number = 0;
	const DocNode *v = NULL;
	int r;

	if (expect_type(p, obj, DOC_OBJECT, "an object") < 0 || check_keys(p, obj, keys) < 0)
		return -EINVAL;
	bool old_key = obj_find(p, obj, "number") >= 0;
	if (old_key && obj_find(p, obj, "group") >= 0)
		return fail(p, "both 'group' and 'number' (its name in older snapshots) given: "
			       "keep one");
	p->hint = 0;
	if ((r = field_int(p, obj, old_key ? "number" : "group", F_REQUIRED, 0, INT_MAX, &number,
			   NULL)) < 0)
		return r;
	g->number = (int)number;
	if ((r = field_string(p, obj, "type", F_NULLABLE, 32, &g->type)) < 0)
		return r;
	if (g->type) {
		size_t m = path_push_key(p, "type");
		r = check_name_item(p, g->type);
		path_pop(p, m);
		if (r < 0)
			return r;
	}

	size_t mark = path_push_key(p, "reserved_regions");
	r = field_get(p, obj, "reserved_regions", 0, &v);
	if (r > 0 && (r = expect_type(p, v, DOC_ARRAY, "an array")) >= 0) {
		size_t n = doc_len(v);
		if (n > HOST_JSON_MAX_REGIONS)
			r = fail(p, "more than %d entries", HOST_JSON_MAX_REGIONS);
		else if (n > 0 && !(g->regions = calloc(n, sizeof(ReservedRegion))))
			r = -ENOMEM;
		for (size_t i = 0; r >= 0 && i < n; i++) {
			size_t m2 = path_push_index(p, i);
			r = parse_region(p, doc_at(v, i), &g->regions[i]);
			if (r >= 0)
				g->n_regions++;
			path_pop(p, m2);
		}
	}
	path_pop(p, mark);
	if (r < 0)
		return r;

	/* Members stay BDF strings until host_finalize() checks and links them. */
	if ((r = field_strv(p, obj, "devices", F_REQUIRED, HOST_JSON_MAX_LIST, check_bdf_item,
			    &g->member_bdfs)) < 0)
		return r;
	if (!g->member_bdfs && !(g->member_bdfs = calloc(1, sizeof(char *))))
		return -ENOMEM;
	mark = path_push_key(p, "foreign_members");
	r = field_get(p, obj, "foreign_members", 0, &v);
	if (r > 0 && (r = expect_type(p, v, DOC_ARRAY, "an array")) >= 0) {
		size_t n = doc_len(v);
		if (n > HOST_JSON_MAX_LIST)
			r = fail(p, "more than %d entries", HOST_JSON_MAX_LIST);
		else if (n > 0 && !(g->foreign_members = calloc(n, sizeof(ForeignMember))))
			r = -ENOMEM;
		for (size_t i = 0; r >= 0 && i < n; i++) {
			size_t m2 = path_push_index(p, i);
			r = parse_foreign(p, doc_at(v, i), &g->foreign_members[i]);
			g->n_foreign_members++; /* partly filled: freed with the group */
			path_pop(p, m2);
		}
	}
	path_pop(p, mark);
	return r < 0 ? r : 0;
}

/* dev (the value of member key, written over) as "MAJOR:MINOR": major below 4096, minor below
 * 2^20, decimal. */
static int parse_major_minor(Parser *p, char *dev, const char *key, unsigned *ret_major,
			     unsigned *ret_minor) {
	uint64_t maj = 0, min = 0;
	int r = 0;
	char *colon = strchr(dev, ':');
	size_t mark = path_push_key(p, key);
	if (!colon)
		r = fail(p, "expected \"MAJOR:MINOR\"");
	else {
		*colon = '\0';
		if (strspn(dev, "0123456789") != strlen(dev) ||
		    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
		    num_parse_u64(dev, 4095, &maj) < 0 ||
		    num_parse_u64(colon + 1, 0xfffff, &min) < 0)
			r = fail(p, "expected \"MAJOR:MINOR\"");
	}
	path_pop(p, mark);
	if (r < 0)
		return r;
	*ret_major = (unsigned)maj;
	*ret_minor = (unsigned)min;
	return 0;
}

static int parse_vfio(Parser *p, const DocNode *obj, Device *d) {
	static const char *const keys[] = { "name", "dev", "noiommu", NULL };
	_cleanup_free_ char *name = NULL, *dev = NULL;
	bool noiommu = false;
	int r;

	if (expect_type(p, obj, DOC_OBJECT, "an object or null") < 0 ||
	    check_keys(p, obj, keys) < 0)
		return -EINVAL;
	if ((r = field_string(p, obj, "name", F_REQUIRED, 64, &name)) < 0 ||
	    (r = field_string(p, obj, "dev", F_REQUIRED, 32, &dev)) < 0 ||
	    (r = field_bool(p, obj, "noiommu", 0, &noiommu)) < 0)
		return r;

	bool named_noiommu = strneq(name, "noiommu-", 8);
	const char *num = name + (named_noiommu ? 8 : 0);
	uint64_t x;
	size_t mark = path_push_key(p, "name");
	if (!strneq(num, "vfio", 4) || !num[4] ||
	    strspn(num + 4, "0123456789") != strlen(num + 4) ||
	    num_parse_u64(num + 4, INT_MAX, &x) < 0)
		r = fail(p, "expected \"vfioN\" or \"noiommu-vfioN\"");
	path_pop(p, mark);
	if (r < 0)
		return r;
	if (obj_find(p, obj, "noiommu") >= 0 && noiommu != named_noiommu) {
		mark = path_push_key(p, "noiommu");
		r = fail(p, "does not match the cdev name '%s'", name);
		path_pop(p, mark);
		return r;
	}

	unsigned maj, min;
	if ((r = parse_major_minor(p, dev, "dev", &maj, &min)) < 0)
		return r;
	d->vfio_name = TAKE_PTR(name);
	d->vfio_major = maj;
	d->vfio_minor = min;
	d->noiommu = named_noiommu;
	return 0;
}

static int parse_sriov(Parser *p, const DocNode *obj, Device *d) {
	static const char *const keys[] = { "totalvfs", "numvfs", "virtfn", NULL };
	int64_t total = 0, num = 0;
	int r;

	if (expect_type(p, obj, DOC_OBJECT, "an object") < 0 || check_keys(p, obj, keys) < 0)
		return -EINVAL;
	if ((r = field_int(p, obj, "totalvfs", F_REQUIRED, 0, 65535, &total, NULL)) < 0 ||
	    (r = field_int(p, obj, "numvfs", F_REQUIRED, 0, total, &num, NULL)) < 0 ||
	    (r = field_strv(p, obj, "virtfn", 0, HOST_JSON_MAX_LIST, check_bdf_item, &d->virtfn)) <
		    0)
		return r;
	if (strv_length(d->virtfn) != (size_t)num) {
		size_t mark = path_push_key(p, "virtfn");
		r = fail(p, "has %zu entries but numvfs is %" PRId64, strv_length(d->virtfn), num);
		path_pop(p, mark);
		return r;
	}
	d->sriov_totalvfs = (int)total;
	d->sriov_numvfs = (int)num;
	return 0;
}

static int parse_properties(Parser *p, const DocNode *obj, Device *d) {
	size_t mark = path_push_key(p, "properties");
	const DocNode *v = NULL;
	int r = field_get(p, obj, "properties", 0, &v);
	if (r <= 0)
		goto out;
	if ((r = expect_type(p, v, DOC_OBJECT, "an object")) < 0)
		goto out;
	if (v->c.n > HOST_JSON_MAX_PROPERTIES) {
		r = fail(p, "more than %d entries", HOST_JSON_MAX_PROPERTIES);
		goto out;
	}
	for (size_t i = 0; i < v->c.n; i++) {
		const char *key = v->c.keys[i];
		const DocNode *val = v->c.items[i];
		size_t m2 = path_push_key(p, key);
		const char *s;
		char *kv;
		if (!*key || strchr(key, '=') || strlen(key) > 255)
			r = fail(p, "invalid property name");
		else
			r = value_string(p, val, HOST_JSON_MAX_STRING, &s);
		if (r < 0)
			goto out;
		if (asprintf(&kv, "%s=%s", key, s) < 0 || strv_push(&d->properties, kv) < 0) {
			r = -ENOMEM;
			goto out;
		}
		path_pop(p, m2);
	}
	strv_sort(d->properties);
	r = 0;
out:
	path_pop(p, mark);
	return r < 0 ? r : 0;
}

static int parse_device(Parser *p, const DocNode *obj, Device *d) {
	static const char *const keys[] = { "bdf",
					    "vendor",
					    "device",
					    "subsystem_vendor",
					    "subsystem_device",
					    "class",
					    "revision",
					    "vendor_name",
					    "device_name",
					    "driver",
					    "iommu_group",
					    "vfio",
					    "numa_node",
					    "parent",
					    "sriov",
					    "physfn",
					    "reset_method",
					    "netdevs",
					    "properties",
					    NULL };
	_cleanup_free_ char *bdf = NULL;
	uint32_t x = 0;
	int64_t n = 0;
	bool isnull = false;
	const DocNode *v = NULL;
	int r;

	if (expect_type(p, obj, DOC_OBJECT, "an object") < 0 || check_keys(p, obj, keys) < 0)
		return -EINVAL;
	if ((r = field_bdf(p, obj, "bdf", F_REQUIRED, &bdf)) < 0)
		return r;
	strcpy(d->bdf, bdf);
	if ((r = field_hex(p, obj, "vendor", F_REQUIRED, 4, &x)) < 0)
		return r;
	d->vendor = (uint16_t)x;
	if ((r = field_hex(p, obj, "device", F_REQUIRED, 4, &x)) < 0)
		return r;
	d->device = (uint16_t)x;
	x = 0;
	if ((r = field_hex(p, obj, "subsystem_vendor", 0, 4, &x)) < 0)
		return r;
	d->subsystem_vendor = (uint16_t)x;
	x = 0;
	if ((r = field_hex(p, obj, "subsystem_device", 0, 4, &x)) < 0)
		return r;
	d->subsystem_device = (uint16_t)x;
	if ((r = field_hex(p, obj, "class", F_REQUIRED, 6, &d->class)) < 0)
		return r;
	x = 0;
	if ((r = field_hex(p, obj, "revision", 0, 2, &x)) < 0)
		return r;
	d->revision = (uint8_t)x;
	if ((r = field_string(p, obj, "vendor_name", F_NULLABLE, 1024, &d->vendor_name)) < 0 ||
	    (r = field_string(p, obj, "device_name", F_NULLABLE, 1024, &d->device_name)) < 0 ||
	    (r = field_string(p, obj, "driver", F_NULLABLE, 255, &d->driver)) < 0)
		return r;
	if (d->driver) {
		size_t m = path_push_key(p, "driver");
		r = check_name_item(p, d->driver);
		path_pop(p, m);
		if (r < 0)
			return r;
	}

	n = -1;
	if ((r = field_int(p, obj, "iommu_group", F_NULLABLE, 0, INT_MAX, &n, &isnull)) < 0)
		return r;
	d->iommu_group = isnull ? -1 : (int)n;

	size_t mark = path_push_key(p, "vfio");
	r = field_get(p, obj, "vfio", F_NULLABLE, &v);
	if (r > 0 && v)
		r = parse_vfio(p, v, d);
	path_pop(p, mark);
	if (r < 0)
		return r;

	n = -1;
	if ((r = field_int(p, obj, "numa_node", 0, -1, 65535, &n, NULL)) < 0)
		return r;
	d->numa_node = (int)n;
	if ((r = field_bdf(p, obj, "parent", F_NULLABLE, &d->parent)) < 0)
		return r;

	d->sriov_totalvfs = -1;
	mark = path_push_key(p, "sriov");
	r = field_get(p, obj, "sriov", 0, &v);
	if (r > 0)
		r = parse_sriov(p, v, d);
	path_pop(p, mark);
	if (r < 0)
		return r;
	if ((r = field_bdf(p, obj, "physfn", 0, &d->physfn)) < 0)
		return r;
	/* Absent or null: not known; [] is "no reset method" (the kernel hides the file). */
	mark = path_push_key(p, "reset_method");
	r = field_get(p, obj, "reset_method", F_NULLABLE, &v);
	path_pop(p, mark);
	if (r < 0)
		return r;
	if (r > 0 && v) {
		if ((r = field_strv(p, obj, "reset_method", 0, 16, check_reset_item,
				    &d->reset_methods)) < 0)
			return r;
		for (size_t i = 0; d->reset_methods && d->reset_methods[i]; i++)
			for (size_t j = 0; j < i; j++)
				if (streq(d->reset_methods[i], d->reset_methods[j])) {
					mark = path_push_key(p, "reset_method");
					r = fail(p, "'%s' listed twice", d->reset_methods[i]);
					path_pop(p, mark);
					return r;
				}
		d->reset_known = true;
	}
	if ((r = field_strv(p, obj, "netdevs", 0, HOST_JSON_MAX_LIST, check_netdev_item,
			    &d->netdevs)) < 0 ||
	    (r = parse_properties(p, obj, d)) < 0)
		return r;
	strv_sort(d->netdevs);
	return 0;
}

/* Parses the array at key into a calloc'd array of n elements of size sz. */
static int parse_array(Parser *p, const DocNode *obj, const char *key, size_t max, size_t sz,
		       void **ret, size_t *ret_n, int (*item)(Parser *, const DocNode *, void *)) {
	size_t mark = path_push_key(p, key);
	const DocNode *v = NULL;
	int r = field_get(p, obj, key, F_REQUIRED, &v);
	if (r > 0 && (r = expect_type(p, v, DOC_ARRAY, "an array")) >= 0) {
		size_t n = doc_len(v);
		if (n > max)
			r = fail(p, "more than %zu entries", max);
		else if (n > 0 && !(*ret = calloc(n, sz)))
			r = -ENOMEM;
		for (size_t i = 0; r >= 0 && i < n; i++) {
			size_t m2 = path_push_index(p, i);
			/* Count first: the element is owned by the array even when half-parsed. */
			(*ret_n)++;
			r = item(p, doc_at(v, i), (char *)*ret + i * sz);
			path_pop(p, m2);
		}
	}
	path_pop(p, mark);
	return r < 0 ? r : 0;
}

static int item_device(Parser *p, const DocNode *o, void *d) {
	Device *dev = d;
	dev->iommu_group = -1;
	dev->numa_node = -1;
	dev->sriov_totalvfs = -1;
	return parse_device(p, o, dev);
}

static int item_group(Parser *p, const DocNode *o, void *g) {
	return parse_group(p, o, g);
}

/* "MAJOR:MINOR" of a char device, the form sysfs "dev" attributes have. */
static int parse_dev_t(Parser *p, const DocNode *obj, const char *key, unsigned *ret_major,
		       unsigned *ret_minor) {
	_cleanup_free_ char *dev = NULL;
	int r = field_string(p, obj, key, F_REQUIRED, 32, &dev);
	return r < 0 ? r : parse_major_minor(p, dev, key, ret_major, ret_minor);
}

/* "pci/0000:00:05.0" or "vdpasim_net": the handle iproute2's vdpa prints, bus optional. */
static int split_mgmtdev(Parser *p, const char *handle, char **ret_bus, char **ret_name) {
	const char *slash = strchr(handle, '/');
	_cleanup_free_ char *bus = NULL, *name = NULL;

	if (slash && (slash == handle || !slash[1] || strchr(slash + 1, '/')))
		return fail(p, "expected \"BUS/NAME\" or \"NAME\"");
	if (slash && !(bus = strndup(handle, (size_t)(slash - handle))))
		return -ENOMEM;
	if (!(name = strdup(slash ? slash + 1 : handle)))
		return -ENOMEM;
	*ret_bus = TAKE_PTR(bus);
	*ret_name = TAKE_PTR(name);
	return 0;
}

static int item_vdpa_mgmtdev(Parser *p, const DocNode *obj, void *out) {
	static const char *const keys[] = { "bus", "name", "supported_classes", NULL };
	VdpaMgmtDev *m = out;
	int r;

	if (expect_type(p, obj, DOC_OBJECT, "an object") < 0 || check_keys(p, obj, keys) < 0)
		return -EINVAL;
	if ((r = field_string(p, obj, "bus", F_REQUIRED | F_NULLABLE, 64, &m->bus)) < 0 ||
	    (r = field_string(p, obj, "name", F_REQUIRED, 255, &m->name)) < 0 ||
	    (r = field_u64_hex(p, obj, "supported_classes", &m->supported_classes)) < 0)
		return r;
	if (m->bus && streq(m->bus, "pci") && !bdf_is_canonical(m->name)) {
		size_t mark = path_push_key(p, "name");
		r = fail(p, "'%s' is not a canonical PCI address", m->name);
		path_pop(p, mark);
	}
	return r;
}

static int item_vdpa_device(Parser *p, const DocNode *obj, void *out) {
	static const char *const keys[] = {
		"name", "management_device", "device_id", "vendor_id", "driver", "vhost", NULL
	};
	static const char *const vhost_keys[] = { "name", "dev", NULL };
	VdpaDevice *v = out;
	_cleanup_free_ char *handle = NULL;
	const DocNode *vh = NULL;
	int64_t id = 0, vendor = 0;
	int r;

	if (expect_type(p, obj, DOC_OBJECT, "an object") < 0 || check_keys(p, obj, keys) < 0)
		return -EINVAL;
	if ((r = field_string(p, obj, "name", F_REQUIRED, 255, &v->name)) < 0 ||
	    (r = field_string(p, obj, "management_device", F_REQUIRED, 300, &handle)) < 0 ||
	    (r = field_int(p, obj, "device_id", F_REQUIRED, 0, UINT32_MAX, &id, NULL)) < 0 ||
	    (r = field_int(p, obj, "vendor_id", F_REQUIRED, 0, UINT32_MAX, &vendor, NULL)) < 0 ||
	    (r = field_string(p, obj, "driver", F_REQUIRED | F_NULLABLE, 64, &v->driver)) < 0)
		return r;
	v->device_id = (uint32_t)id;
	v->vendor_id = (uint32_t)vendor;
	size_t mark = path_push_key(p, "management_device");
	r = split_mgmtdev(p, handle, &v->mgmtdev_bus, &v->mgmtdev_name);
	path_pop(p, mark);
	if (r < 0)
		return r;
	mark = path_push_key(p, "vhost");
	r = field_get(p, obj, "vhost", F_REQUIRED | F_NULLABLE, &vh);
	if (r > 0 && vh) {
		if (expect_type(p, vh, DOC_OBJECT, "an object or null") < 0 ||
		    check_keys(p, vh, vhost_keys) < 0)
			r = -EINVAL;
		else if ((r = field_string(p, vh, "name", F_REQUIRED, 64, &v->vhost_name)) >= 0)
			r = parse_dev_t(p, vh, "dev", &v->vhost_major, &v->vhost_minor);
	}
	path_pop(p, mark);
	return r < 0 ? r : 0;
}

/* An optional top-level array: absent is the same as empty. */
static int parse_optional_array(Parser *p, const DocNode *obj, const char *key, size_t max,
				size_t sz, void **ret, size_t *ret_n,
				int (*item)(Parser *, const DocNode *, void *)) {
	if (obj_find(p, obj, key) < 0)
		return 0;
	return parse_array(p, obj, key, max, sz, ret, ret_n, item);
}

static int host_from_json(Parser *p, const DocNode *root, Host **ret) {
	static const char *const keys[] = { "format",
					    "version",
					    "hostname",
					    "kernel",
					    "groups",
					    "devices",
					    "vdpa_management_devices",
					    "vdpa_devices",
					    NULL };
	_cleanup_host_free_ Host *h = NULL;
	_cleanup_free_ char *format = NULL;
	int64_t version = 0;
	const DocNode *v = NULL;
	int r;

	if (expect_type(p, root, DOC_OBJECT, "a JSON object") < 0 || check_keys(p, root, keys) < 0)
		return -EINVAL;
	if ((r = field_string(p, root, "format", F_REQUIRED, 64, &format)) < 0)
		return r;
	if (!streq(format, "ioasid-host")) {
		size_t mark = path_push_key(p, "format");
		r = fail(p, "expected \"ioasid-host\", got \"%s\"", format);
		path_pop(p, mark);
		return r;
	}
	if ((r = field_int(p, root, "version", F_REQUIRED, 1, 1, &version, NULL)) < 0)
		return r;

	h = calloc(1, sizeof(Host));
	if (!h)
		return -ENOMEM;
	h->kernel = (HostKernel){ .interrupt_remapping = TRI_UNKNOWN,
				  .iommufd = TRI_UNKNOWN,
				  .vfio_cdev = TRI_UNKNOWN,
				  .vfio_pci = TRI_UNKNOWN,
				  .vfio_legacy = TRI_UNKNOWN,
				  .noiommu_mode = TRI_UNKNOWN };
	if ((r = field_string(p, root, "hostname", 0, 255, &h->hostname)) < 0)
		return r;

	size_t mark = path_push_key(p, "kernel");
	r = field_get(p, root, "kernel", 0, &v);
	if (r > 0)
		r = parse_kernel(p, v, &h->kernel);
	path_pop(p, mark);
	if (r < 0)
		return r;

	if ((r = parse_array(p, root, "groups", HOST_JSON_MAX_GROUPS, sizeof(Group),
			     (void **)&h->groups, &h->n_groups, item_group)) < 0 ||
	    (r = parse_array(p, root, "devices", HOST_JSON_MAX_DEVICES, sizeof(Device),
			     (void **)&h->devices, &h->n_devices, item_device)) < 0 ||
	    (r = parse_optional_array(p, root, "vdpa_management_devices", HOST_JSON_MAX_LIST,
				      sizeof(VdpaMgmtDev), (void **)&h->vdpa_mgmtdevs,
				      &h->n_vdpa_mgmtdevs, item_vdpa_mgmtdev)) < 0 ||
	    (r = parse_optional_array(p, root, "vdpa_devices", HOST_JSON_MAX_LIST,
				      sizeof(VdpaDevice), (void **)&h->vdpa_devices,
				      &h->n_vdpa_devices, item_vdpa_device)) < 0)
		return r;

	r = host_finalize(h, &p->error);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(h);
	return 0;
}

static int load_buffer(const char *buf, size_t len, Host **ret, char **ret_error) {
	_cleanup_(doc_freep) Doc *doc = NULL;
	DocNode *root = NULL;
	Parser p = {};
	int r;

	assert(ret);
	if (len > HOST_JSON_MAX_SIZE) {
		r = fail(&p, "larger than %u bytes", HOST_JSON_MAX_SIZE);
		goto out;
	}
	if (strlen(buf) != len) {
		r = fail(&p, "contains a NUL byte at offset %zu", strlen(buf));
		goto out;
	}
	doc = doc_new();
	if (!doc)
		return -ENOMEM;
	r = doc_parse(doc, buf, len, HOST_JSON_MAX_DEPTH, &root);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		size_t end = MIN(doc_error_offset(doc), len);
		if (end == len) {
			r = fail(&p, "JSON syntax error at offset %zu: unexpected end of input",
				 len);
			goto out;
		}
		size_t line = 1, col = 1;
		for (size_t i = 0; i < end; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 1;
			} else
				col++;
		}
		r = fail(&p, "JSON syntax error at offset %zu (line %zu, column %zu): %s", end,
			 line, col, strna(doc_error_reason(doc)));
		goto out;
	}
	r = host_from_json(&p, root, ret);
out:
	if (r < 0 && ret_error) {
		*ret_error = p.error;
		p.error = NULL;
	}
	free(p.error);
	return r;
}

int host_load_json_string(const char *json, Host **ret, char **ret_error) {
	if (!json)
		return -EINVAL;
	return load_buffer(json, strlen(json), ret, ret_error);
}

int host_load_json_file(const char *path, Host **ret, char **ret_error) {
	_cleanup_free_ char *buf = NULL;
	size_t size = 0;
	int r = read_full_file(path, HOST_JSON_MAX_SIZE, &buf, &size);
	if (r == -EFBIG) {
		if (ret_error &&
		    asprintf(ret_error, "larger than %u bytes", HOST_JSON_MAX_SIZE) < 0)
			*ret_error = NULL;
		return -EINVAL;
	}
	if (r < 0)
		return r;
	/* A snapshot with a NUL inside is junk, not a shorter document. */
	if (strlen(buf) != size) {
		if (ret_error && asprintf(ret_error, "snapshot: contains a NUL byte at offset %zu",
					  strlen(buf)) < 0)
			*ret_error = NULL;
		return -EINVAL;
	}
	return load_buffer(buf, size, ret, ret_error);
}

/* ---- writer ---- */

static int add(json_object *obj, const char *key, json_object *v) {
	/* json_object_object_add takes v even on failure in json-c >= 0.13 only on success. */
	if (json_object_object_add(obj, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static json_object *str_or_null(const char *s) {
	return s ? json_object_new_string(s) : NULL;
}

static json_object *tristate_json(Tristate t) {
	return t == TRI_UNKNOWN ? NULL : json_object_new_boolean(t == TRI_YES);
}

static json_object *strv_json(char *const *l) {
	json_object *a = json_object_new_array();
	if (!a)
		return NULL;
	for (size_t i = 0; l && l[i]; i++)
		if (json_object_array_add(a, json_object_new_string(l[i])) < 0) {
			json_object_put(a);
			return NULL;
		}
	return a;
}

static json_object *hex_json(unsigned v, int digits) {
	char buf[16];
	snprintf(buf, sizeof(buf), "%0*x", digits, v);
	return json_object_new_string(buf);
}

static json_object *kernel_json(const HostKernel *k) {
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	if (!o || add(o, "release", str_or_null(k->release)) < 0 ||
	    add(o, "cmdline", str_or_null(k->cmdline)) < 0 ||
	    add(o, "iommu_units", strv_json(k->iommu_units)) < 0 ||
	    add(o, "iommu_vendor", str_or_null(k->iommu_vendor)) < 0 ||
	    add(o, "interrupt_remapping", tristate_json(k->interrupt_remapping)) < 0 ||
	    add(o, "address_width", json_object_new_int(k->address_width)) < 0 ||
	    add(o, "iommufd", tristate_json(k->iommufd)) < 0 ||
	    add(o, "vfio_cdev", tristate_json(k->vfio_cdev)) < 0 ||
	    add(o, "vfio_pci", tristate_json(k->vfio_pci)) < 0 ||
	    add(o, "vfio_legacy", tristate_json(k->vfio_legacy)) < 0 ||
	    add(o, "noiommu_mode", tristate_json(k->noiommu_mode)) < 0)
		return NULL;
	return TAKE_PTR(o);
}

/* A group's foreign members as objects; "driver" is left out when not known, so a snapshot
 * read from an older one keeps saying so. */
static json_object *foreign_json(const Group *g) {
	_cleanup_(json_object_putp) json_object *a = json_object_new_array();
	if (!a)
		return NULL;
	for (size_t i = 0; i < g->n_foreign_members; i++) {
		const ForeignMember *f = &g->foreign_members[i];
		json_object *o = json_object_new_object();
		if (!o || json_object_array_add(a, o) < 0) {
			json_object_put(o);
			return NULL;
		}
		if (add(o, "name", json_object_new_string(f->name)) < 0 ||
		    add(o, "bus", str_or_null(f->bus)) < 0 ||
		    (f->driver_known && add(o, "driver", str_or_null(f->driver)) < 0))
			return NULL;
	}
	return TAKE_PTR(a);
}

static json_object *group_json(const void *item) {
	const Group *g = item;
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	json_object *regions = json_object_new_array(), *members = json_object_new_array();
	if (!o || !regions || !members) {
		json_object_put(regions);
		json_object_put(members);
		return NULL;
	}
	if (add(o, "group", json_object_new_int(g->number)) < 0 ||
	    add(o, "type", str_or_null(g->type)) < 0) {
		json_object_put(regions);
		json_object_put(members);
		return NULL;
	}
	if (add(o, "reserved_regions", regions) < 0) {
		json_object_put(members);
		return NULL;
	}
	if (add(o, "devices", members) < 0)
		return NULL;
	/* Only when present, so hosts without any keep their exact form. */
	if (g->n_foreign_members > 0 && add(o, "foreign_members", foreign_json(g)) < 0)
		return NULL;
	for (size_t i = 0; i < g->n_regions; i++) {
		const ReservedRegion *rr = &g->regions[i];
		char buf[32];
		json_object *ro = json_object_new_object();
		if (!ro || json_object_array_add(regions, ro) < 0) {
			json_object_put(ro);
			return NULL;
		}
		snprintf(buf, sizeof(buf), "0x%016" PRIx64, rr->start);
		if (add(ro, "start", json_object_new_string(buf)) < 0)
			return NULL;
		snprintf(buf, sizeof(buf), "0x%016" PRIx64, rr->end);
		if (add(ro, "end", json_object_new_string(buf)) < 0 ||
		    add(ro, "type", str_or_null(reserved_region_type_to_string(rr->type))) < 0)
			return NULL;
	}
	for (size_t i = 0; i < g->n_members; i++)
		if (json_object_array_add(members, json_object_new_string(g->members[i]->bdf)) < 0)
			return NULL;
	return TAKE_PTR(o);
}

static json_object *device_json(const void *item) {
	const Device *d = item;
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	if (!o || add(o, "bdf", json_object_new_string(d->bdf)) < 0 ||
	    add(o, "vendor", hex_json(d->vendor, 4)) < 0 ||
	    add(o, "device", hex_json(d->device, 4)) < 0 ||
	    add(o, "subsystem_vendor", hex_json(d->subsystem_vendor, 4)) < 0 ||
	    add(o, "subsystem_device", hex_json(d->subsystem_device, 4)) < 0 ||
	    add(o, "class", hex_json(d->class & 0xffffff, 6)) < 0 ||
	    add(o, "revision", hex_json(d->revision, 2)) < 0 ||
	    add(o, "vendor_name", str_or_null(d->vendor_name)) < 0 ||
	    add(o, "device_name", str_or_null(d->device_name)) < 0 ||
	    add(o, "driver", str_or_null(d->driver)) < 0 ||
	    add(o, "iommu_group",
		d->iommu_group >= 0 ? json_object_new_int(d->iommu_group) : NULL) < 0)
		return NULL;

	json_object *vfio = NULL;
	if (d->vfio_name) {
		char dev[32];
		snprintf(dev, sizeof(dev), "%u:%u", d->vfio_major, d->vfio_minor);
		vfio = json_object_new_object();
		if (!vfio || add(vfio, "name", json_object_new_string(d->vfio_name)) < 0 ||
		    add(vfio, "dev", json_object_new_string(dev)) < 0 ||
		    add(vfio, "noiommu", json_object_new_boolean(d->noiommu)) < 0) {
			json_object_put(vfio);
			return NULL;
		}
	}
	if (add(o, "vfio", vfio) < 0 ||
	    add(o, "numa_node", json_object_new_int(d->numa_node)) < 0 ||
	    add(o, "parent", str_or_null(d->parent)) < 0)
		return NULL;

	if (d->sriov_totalvfs >= 0) {
		json_object *s = json_object_new_object();
		if (!s || add(s, "totalvfs", json_object_new_int(d->sriov_totalvfs)) < 0 ||
		    add(s, "numvfs", json_object_new_int(d->sriov_numvfs)) < 0 ||
		    add(s, "virtfn", strv_json(d->virtfn)) < 0) {
			json_object_put(s);
			return NULL;
		}
		if (add(o, "sriov", s) < 0)
			return NULL;
	}
	if (d->physfn && add(o, "physfn", json_object_new_string(d->physfn)) < 0)
		return NULL;
	/* Only when known, so snapshots that never said keep their exact form. */
	if (d->reset_known && add(o, "reset_method", strv_json(d->reset_methods)) < 0)
		return NULL;

	_cleanup_strv_free_ char **netdevs = strv_copy(d->netdevs);
	if (!netdevs)
		return NULL;
	strv_sort(netdevs);
	if (add(o, "netdevs", strv_json(netdevs)) < 0)
		return NULL;

	_cleanup_strv_free_ char **props = strv_copy(d->properties);
	if (!props)
		return NULL;
	strv_sort(props);
	json_object *po = json_object_new_object();
	if (add(o, "properties", po) < 0)
		return NULL;
	for (size_t i = 0; props[i]; i++) {
		char *eq = strchr(props[i], '=');
		const char *val = "";
		if (eq) {
			*eq = '\0';
			val = eq + 1;
		}
		if (add(po, props[i], json_object_new_string(val)) < 0)
			return NULL;
	}
	return TAKE_PTR(o);
}

static json_object *vdpa_mgmtdev_json(const void *item) {
	const VdpaMgmtDev *m = item;
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	char buf[32];
	snprintf(buf, sizeof(buf), "0x%016" PRIx64, m->supported_classes);
	if (!o || add(o, "bus", str_or_null(m->bus)) < 0 ||
	    add(o, "name", json_object_new_string(m->name)) < 0 ||
	    add(o, "supported_classes", json_object_new_string(buf)) < 0)
		return NULL;
	return TAKE_PTR(o);
}

static json_object *vdpa_device_json(const void *item) {
	const VdpaDevice *v = item;
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	char handle[320];
	json_object *vhost = NULL;

	vdpa_mgmtdev_handle(v->mgmtdev_bus, v->mgmtdev_name, handle, sizeof(handle));
	if (!o || add(o, "name", json_object_new_string(v->name)) < 0 ||
	    add(o, "management_device", json_object_new_string(handle)) < 0 ||
	    add(o, "device_id", json_object_new_int64(v->device_id)) < 0 ||
	    add(o, "vendor_id", json_object_new_int64(v->vendor_id)) < 0 ||
	    add(o, "driver", str_or_null(v->driver)) < 0)
		return NULL;
	if (v->vhost_name) {
		char dev[32];
		snprintf(dev, sizeof(dev), "%u:%u", v->vhost_major, v->vhost_minor);
		vhost = json_object_new_object();
		if (!vhost || add(vhost, "name", json_object_new_string(v->vhost_name)) < 0 ||
		    add(vhost, "dev", json_object_new_string(dev)) < 0) {
			json_object_put(vhost);
			return NULL;
		}
	}
	if (add(o, "vhost", vhost) < 0)
		return NULL;
	return TAKE_PTR(o);
}

/* Adds key: the array of the n items at base (size bytes apart), each made by item(). */
static int add_items(json_object *root, const char *key, const void *base, size_t n, size_t size,
		     json_object *(*item)(const void *)) {
	json_object *a = json_object_new_array();
	if (!a || add(root, key, a) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *o = item((const char *)base + i * size);
		if (!o || json_object_array_add(a, o) < 0) {
			json_object_put(o);
			return -ENOMEM;
		}
	}
	return 0;
}

int host_to_json_string(const Host *h, char **ret) {
	_cleanup_(json_object_putp) json_object *root = json_object_new_object();
	json_object *a;

	assert(h);
	assert(ret);
	if (!root || add(root, "format", json_object_new_string("ioasid-host")) < 0 ||
	    add(root, "version", json_object_new_int(1)) < 0)
		return -ENOMEM;
	if (h->hostname && add(root, "hostname", json_object_new_string(h->hostname)) < 0)
		return -ENOMEM;
	if (!(a = kernel_json(&h->kernel)) || add(root, "kernel", a) < 0)
		return -ENOMEM;

	/* The model is kept sorted by host_finalize(); emit in array order. Hosts without vDPA
	 * keep their exact form: its arrays only when there are any. */
	bool vdpa = h->n_vdpa_mgmtdevs + h->n_vdpa_devices > 0;
	if (add_items(root, "groups", h->groups, h->n_groups, sizeof(*h->groups), group_json) < 0 ||
	    add_items(root, "devices", h->devices, h->n_devices, sizeof(*h->devices), device_json) <
		    0 ||
	    (vdpa &&
	     add_items(root, "vdpa_management_devices", h->vdpa_mgmtdevs, h->n_vdpa_mgmtdevs,
		       sizeof(*h->vdpa_mgmtdevs), vdpa_mgmtdev_json) < 0) ||
	    (vdpa && add_items(root, "vdpa_devices", h->vdpa_devices, h->n_vdpa_devices,
			       sizeof(*h->vdpa_devices), vdpa_device_json) < 0))
		return -ENOMEM;

	const char *s = json_object_to_json_string_ext(
		root,
		JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		return -ENOMEM;
	char *copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}
