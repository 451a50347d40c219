/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasidctl layout list | show NAME | check NAME --device BDF... [--host FILE]
 *
 * Every form builds its --json document first and renders the human form from that same
 * object. JSON keys (stable, documented in ioasidctl(8)):
 *   layout object: name, windows [{start, last}] (hex strings "0x..."), accounting
 *                  ("user"|"process"), huge_pages (bool), require [strings], file, line
 *   list:          {"layouts": [layout...]}
 *   show:          layout object
 *   check:         {layout, devices [BDF], page_size, address_width, ok, conflicts [
 *                   {type, message, window {start,last}|null, other_window {..}|null,
 *                    group (int|null), device (BDF|null), region {start,end,type}|null,
 *                    address_width (int|null)}]}
 * Exit codes: 0 ok / no conflict, 1 failure (unreadable or invalid config or host, unknown
 * layout or device), 2 conflicts, 64 usage.
 */
#include <inttypes.h>
#include <unistd.h>

#include "common/client/layout.h"
#include "common/macro.h"
#include "ioasidctl/ioasidctl.h"
#include "ioasidctl/verbs.h"
#include "ioasidctl/output.h"
#include "policy/policy.h"

static const char *config_path(void) {
	return arg_config ? arg_config : IOASID_CONFIG_PATH;
}

/* Loads the policy, printing the error (file:line:col) itself. Returns 0 or an exit code. */
static int load_policy(Policy **ret) {
	PolicyLoadOptions opts = {};
	PolicyError e = {};
	int r = policy_load(config_path(), &opts, ret, &e);
	if (r < 0) {
		if (e.message)
			ioasidctl_error(1, "%s:%u:%u: %s", e.file ? e.file : config_path(), e.line,
					e.column, e.message);
		else
			ioasidctl_error(1, "Cannot load policy '%s': %s", config_path(),
					strerror(-r));
		policy_error_done(&e);
		return 1;
	}
	policy_error_done(&e);
	return 0;
}

static json_object *hex_json(uint64_t v) {
	char buf[2 + 16 + 1];
	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_object_new_string(buf);
}

static json_object *range_json(uint64_t start, uint64_t last) {
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "start", hex_json(start));
	json_object_object_add(o, "last", hex_json(last));
	return o;
}

static json_object *layout_json(const PolicyLayout *l) {
	json_object *o = json_object_new_object(), *w = json_object_new_array(),
		    *req = json_object_new_array();
	if (!o || !w || !req) {
		json_object_put(o);
		json_object_put(w);
		json_object_put(req);
		return NULL;
	}
	for (size_t i = 0; i < l->n_windows; i++)
		json_object_array_add(w, range_json(l->windows[i].start, l->windows[i].last));
	for (char **s = l->require; s && *s; s++)
		json_object_array_add(req, json_object_new_string(*s));

	json_object_object_add(o, "name", json_object_new_string(l->name));
	json_object_object_add(o, "windows", w);
	json_object_object_add(o, "iova_auto", json_object_new_boolean(l->iova_auto));
	json_object_object_add(o, "iova_max",
			       l->iova_auto && l->iova_max != UINT64_MAX ? hex_json(l->iova_max)
									 : NULL);
	json_object_object_add(o, "accounting",
			       json_object_new_string(l->accounting == POLICY_ACCOUNTING_PROCESS
							      ? "process"
							      : "user"));
	json_object_object_add(o, "huge_pages", json_object_new_boolean(l->huge_pages));
	json_object_object_add(o, "require", req);
	json_object_object_add(o, "file", l->file ? json_object_new_string(l->file) : NULL);
	json_object_object_add(o, "line", json_object_new_int((int)l->line));
	return o;
}

/* "0x0-0xffffffff" from a {start,last} object; buf of at least 40 bytes. */
static const char *range_str(json_object *r, char *buf, size_t len) {
	if (!r)
		return "-";
	snprintf(buf, len, "%s-%s", strna(json_get_str(r, "start")),
		 strna(json_get_str(r, "last")));
	return buf;
}

/* "0x0-0xffff, 0x100000000-0x1ffffffff" or "any" (no window: the kernel's full range). */
static char *windows_str(json_object *windows) {
	size_t n = json_object_array_length(windows);
	if (n == 0)
		return strdup("any");
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	if (!f)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char buf[64];
		fprintf(f, "%s%s", i ? ", " : "",
			range_str(json_object_array_get_idx(windows, i), buf, sizeof(buf)));
	}
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

static char *strv_json_join(json_object *a) {
	size_t n = a ? json_object_array_length(a) : 0;
	if (n == 0)
		return strdup("-");
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	if (!f)
		return NULL;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "",
			json_object_get_string(json_object_array_get_idx(a, i)));
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

static int layout_list(void) {
	_cleanup_policy_free_ Policy *p = NULL;
	int r = load_policy(&p);
	if (r)
		return r;

	_cleanup_json_ json_object *root = json_object_new_object();
	json_object *arr = json_object_new_array();
	if (!root || !arr) {
		json_object_put(arr);
		return ioasidctl_error(1, "Out of memory");
	}
	json_object_object_add(root, "layouts", arr);
	for (size_t i = 0; i < policy_n_layouts(p); i++) {
		json_object *o = layout_json(policy_layout_at(p, i));
		if (!o)
			return ioasidctl_error(1, "Out of memory");
		json_object_array_add(arr, o);
	}

	if (arg_json != JSON_OFF) {
		output_json(root);
		return 0;
	}

	_cleanup_table_ Table *t = table_new("LAYOUT", "WINDOWS", "ACCOUNTING", "HUGE-PAGES",
					     "REQUIRE", NULL);
	if (!t)
		return ioasidctl_error(1, "Out of memory");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		_cleanup_free_ char *w = NULL;
		if (json_object_get_boolean(json_get(o, "iova_auto"))) {
			const char *max = json_get_str(o, "iova_max");
			if (asprintf(&w, "auto%s%s", max ? " max " : "", max ? max : "") < 0)
				w = NULL;
		} else
			w = windows_str(json_get(o, "windows"));
		_cleanup_free_ char *req = strv_json_join(json_get(o, "require"));
		bool huge = json_object_get_boolean(json_get(o, "huge_pages"));
		if (!w || !req ||
		    table_add_row(t, json_get_str(o, "name"), w, json_get_str(o, "accounting"),
				  huge ? "yes" : "no", req) < 0)
			return ioasidctl_error(1, "Out of memory");
	}
	if (json_object_array_length(arr) == 0) {
		if (!arg_quiet)
			printf("No layouts in %s.\n", config_path());
		return 0;
	}
	table_print(t);
	return 0;
}

static int layout_show(const char *name) {
	_cleanup_policy_free_ Policy *p = NULL;
	int r = load_policy(&p);
	if (r)
		return r;

	const PolicyLayout *l = policy_find_layout(p, name);
	if (!l)
		return ioasidctl_error(1, "No layout '%s' in %s", name, config_path());

	_cleanup_json_ json_object *o = layout_json(l);
	if (!o)
		return ioasidctl_error(1, "Out of memory");
	if (arg_json != JSON_OFF) {
		output_json(o);
		return 0;
	}

	json_object *w = json_get(o, "windows");
	_cleanup_free_ char *req = strv_json_join(json_get(o, "require"));
	if (!req)
		return ioasidctl_error(1, "Out of memory");
	printf("%sLayout %s%s", ansi_bold(), json_get_str(o, "name"), ansi_normal());
	if (json_get_str(o, "file"))
		printf(" (%s:%" PRIi64 ")", json_get_str(o, "file"), json_get_int(o, "line", 0));
	printf("\n  accounting: %s\n  huge pages: %s\n  require:    %s\n  windows:",
	       json_get_str(o, "accounting"),
	       json_object_get_boolean(json_get(o, "huge_pages")) ? "yes" : "no", req);
	if (json_object_get_boolean(json_get(o, "iova_auto")))
		printf("    auto: what the IOMMU allows%s%s, minus the reserved regions of the "
		       "devices' groups (layout check NAME --device BDF shows them)\n",
		       json_get_str(o, "iova_max") ? " up to " : "",
		       strempty(json_get_str(o, "iova_max")));
	else if (json_object_array_length(w) == 0)
		printf("    any (no restriction beyond the kernel's)\n");
	else
		putchar('\n');
	for (size_t i = 0; i < json_object_array_length(w); i++) {
		char buf[64];
		printf("    %s\n", range_str(json_object_array_get_idx(w, i), buf, sizeof(buf)));
	}
	return 0;
}

static json_object *conflict_json(const PolicyLayout *l, const LayoutConflict *c) {
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "type",
			       json_object_new_string(layout_conflict_type_to_string(c->type)));
	json_object_object_add(o, "message", json_object_new_string(c->message));
	json_object_object_add(o, "window",
			       c->window < l->n_windows ? range_json(l->windows[c->window].start,
								     l->windows[c->window].last)
							: NULL);
	json_object_object_add(o, "other_window",
			       c->other_window < l->n_windows
				       ? range_json(l->windows[c->other_window].start,
						    l->windows[c->other_window].last)
				       : NULL);
	json_object_object_add(o, "group", c->group >= 0 ? json_object_new_int(c->group) : NULL);
	json_object_object_add(o, "device", c->bdf[0] ? json_object_new_string(c->bdf) : NULL);
	if (c->type == LAYOUT_CONFLICT_RESERVED) {
		json_object *r = json_object_new_object();
		if (r) {
			json_object_object_add(r, "start", hex_json(c->region.start));
			json_object_object_add(r, "end", hex_json(c->region.end));
			const char *type = strna(reserved_region_type_to_string(c->region.type));
			json_object_object_add(r, "type", json_object_new_string(type));
		}
		json_object_object_add(o, "region", r);
	} else
		json_object_object_add(o, "region", NULL);
	json_object_object_add(o, "address_width",
			       c->type == LAYOUT_CONFLICT_ADDRESS_WIDTH
				       ? json_object_new_int((int)c->address_width)
				       : NULL);
	return o;
}

static int layout_check_verb(const char *name) {
	if (strv_length(arg_devices) == 0)
		return ioasidctl_error(EXIT_USAGE,
				       "'layout check' needs at least one --device BDF");

	_cleanup_policy_free_ Policy *p = NULL;
	int r = load_policy(&p);
	if (r)
		return r;
	const PolicyLayout *l = policy_find_layout(p, name);
	if (!l)
		return ioasidctl_error(1, "No layout '%s' in %s", name, config_path());

	_cleanup_host_free_ Host *h = NULL;
	if (ioasidctl_load_host(&h) < 0)
		return 1;

	size_t n = strv_length(arg_devices);
	_cleanup_free_ const Device **devs = calloc(n, sizeof(*devs));
	if (!devs)
		return ioasidctl_error(1, "Out of memory");
	for (size_t i = 0; i < n; i++) {
		devs[i] = host_find_device(h, arg_devices[i]);
		if (!devs[i])
			return ioasidctl_error(1, "No PCI device '%s' on %s", arg_devices[i],
					       arg_host ? arg_host : "this host");
	}

	long ps = sysconf(_SC_PAGESIZE);
	uint64_t page_size = ps > 0 ? (uint64_t)ps : 4096;
	/* The windows for these devices (iova auto resolved), which the check reports on. */
	_cleanup_free_ IovaRange *windows = NULL;
	size_t n_windows = 0;
	r = policy_layout_windows(l, h, devs, n, page_size, &windows, &n_windows);
	if (r < 0)
		return ioasidctl_error(1, "Cannot resolve layout '%s': %s", name, strerror(-r));
	PolicyLayout resolved = *l;
	resolved.windows = windows;
	resolved.n_windows = n_windows;
	resolved.iova_auto = false;
	LayoutConflict *c = NULL;
	size_t n_c = 0;
	r = layout_check(&resolved, h, devs, n, page_size, &c, &n_c);
	if (r < 0)
		return ioasidctl_error(1, "Cannot check layout '%s': %s", name, strerror(-r));
	l = &resolved;

	_cleanup_json_ json_object *root = json_object_new_object();
	json_object *jd = json_object_new_array(), *jc = json_object_new_array();
	if (!root || !jd || !jc) {
		json_object_put(jd);
		json_object_put(jc);
		layout_conflicts_free(c, n_c);
		return ioasidctl_error(1, "Out of memory");
	}
	json_object_object_add(root, "layout", json_object_new_string(l->name));
	for (size_t i = 0; i < n; i++)
		json_object_array_add(jd, json_object_new_string(devs[i]->bdf));
	json_object_object_add(root, "devices", jd);
	json_object_object_add(root, "page_size", json_object_new_int64((int64_t)page_size));
	json_object_object_add(root, "address_width",
			       h->kernel.address_width > 0
				       ? json_object_new_int(h->kernel.address_width)
				       : NULL);
	json_object *jw = json_object_new_array();
	for (size_t i = 0; jw && i < n_windows; i++)
		json_object_array_add(jw, range_json(windows[i].start, windows[i].last));
	json_object_object_add(root, "windows", jw);
	json_object_object_add(root, "ok", json_object_new_boolean(n_c == 0));
	for (size_t i = 0; i < n_c; i++)
		json_object_array_add(jc, conflict_json(l, &c[i]));
	json_object_object_add(root, "conflicts", jc);
	layout_conflicts_free(c, n_c);

	bool is_auto = policy_find_layout(p, name)->iova_auto;
	if (arg_json == JSON_OFF && !arg_quiet && is_auto) {
		printf("Windows (iova auto):");
		for (size_t i = 0; i < n_windows; i++)
			printf(" 0x%" PRIx64 "-0x%" PRIx64, windows[i].start, windows[i].last);
		printf("%s\n", n_windows ? "" : " none");
	}
	if (arg_json != JSON_OFF)
		output_json(root);
	else if (n_c == 0) {
		if (!arg_quiet)
			printf("%sLayout '%s' fits %s%s: no conflict%s\n", ansi_green(), name,
			       devs[0]->bdf, n > 1 ? " and the other devices" : "", ansi_normal());
	} else {
		printf("%sLayout '%s' does not fit %s%s: %zu conflict%s%s\n", ansi_red(), name,
		       devs[0]->bdf, n > 1 ? " and the other devices" : "", n_c,
		       n_c == 1 ? "" : "s", ansi_normal());
		for (size_t i = 0; i < json_object_array_length(jc); i++)
			printf("  %s\n", json_get_str(json_object_array_get_idx(jc, i), "message"));
	}
	/* What an offline check cannot know: the IOMMU's capabilities live in the kernel. */
	if (arg_json == JSON_OFF && !arg_quiet && l->require && *l->require)
		printf("Note: 'require' is checked by ioasidd at acquire time (IOMMU capabilities "
		       "are not in the host model)\n");
	return n_c == 0 ? 0 : EXIT_NOT_VIABLE;
}

int verb_layout(int argc, char **argv) {
	if (argc < 2)
		return ioasidctl_error(EXIT_USAGE,
				       "'layout' needs a subcommand: list, show NAME, check NAME "
				       "--device BDF...");
	const char *sub = argv[1];

	if (streq(sub, "list")) {
		if (argc != 2)
			return ioasidctl_error(EXIT_USAGE, "'layout list' takes no arguments");
		return layout_list();
	}
	if (streq(sub, "show") || streq(sub, "check")) {
		if (argc != 3)
			return ioasidctl_error(EXIT_USAGE, "'layout %s' takes one layout NAME",
					       sub);
		return streq(sub, "show") ? layout_show(argv[2]) : layout_check_verb(argv[2]);
	}
	return ioasidctl_error(EXIT_USAGE, "Unknown 'layout' subcommand '%s' (list, show, check)",
			       sub);
}
