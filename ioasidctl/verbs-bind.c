/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasidctl bind / restore: the host operations (run as root). The checks and the sysfs
 * mechanics are in common/client/bind-check.c and bind.c; this file decides from the
 * options and prints.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/client/bind.h"
#include "common/macro.h"
#include "common/proto.h"
#include "ioasidctl/ioasidctl.h"
#include "ioasidctl/output.h"
#include "ioasidctl/verbs.h"

static json_object *findings_json(const BindFindings *f) {
	json_object *a = json_object_new_array();
	for (size_t i = 0; a && i < f->n; i++) {
		const BindFinding *x = &f->items[i];
		json_object *o = json_object_new_object();
		if (!o)
			break;
		json_object_object_add(o, "device", json_object_new_string(x->bdf));
		json_object_object_add(
			o, "kind", json_object_new_string(bind_finding_kind_to_string(x->kind)));
		json_object_object_add(o, "object", json_object_new_string(x->object));
		json_object_object_add(o, "upper", json_str_or_null(x->upper));
		json_object_object_add(o, "detail", json_str_or_null(x->detail));
		json_object_object_add(o, "message", json_object_new_string(x->message));
		json_object_array_add(a, o);
	}
	return a;
}

static json_object *plan_json(const BindPlan *p, const BindFindings *f, const char *target,
			      const char *result) {
	json_object *o = json_object_new_object(), *m = json_object_new_array();
	if (!o || !m) {
		json_object_put(o);
		json_object_put(m);
		return NULL;
	}
	json_object_object_add(o, "target", json_object_new_string(target));
	json_object_object_add(o, "group", p->group >= 0 ? json_object_new_int(p->group) : NULL);
	json_object_object_add(o, "driver", json_object_new_string(p->driver));
	json_object_object_add(o, "driver_loaded", json_object_new_boolean(p->driver_loaded));
	json_object_object_add(o, "dry_run", json_object_new_boolean(arg_dry_run));
	json_object_object_add(o, "force", json_object_new_boolean(arg_force));
	for (size_t i = 0; i < p->n_members; i++) {
		const BindMember *x = &p->members[i];
		json_object *e = json_object_new_object();
		if (!e)
			break;
		json_object_object_add(e, "device", json_object_new_string(x->bdf));
		json_object_object_add(e, "driver", json_str_or_null(x->driver));
		json_object_object_add(e, "action",
				       json_object_new_string(bind_action_to_string(x->action)));
		json_object_object_add(e, "vfio", json_str_or_null(x->vfio));
		json_object_array_add(m, e);
	}
	json_object_object_add(o, "members", m);
	json_object_object_add(o, "findings", findings_json(f));
	json_object_object_add(o, "result", json_object_new_string(result));
	return o;
}

static void plan_print(const BindPlan *p, const char *target) {
	if (p->group >= 0)
		printf("Plan: bind IOMMU group %d to %s\n", p->group, p->driver);
	else
		printf("Plan: bind %s (no IOMMU group) to %s\n", target, p->driver);
	for (size_t i = 0; i < p->n_members; i++) {
		const BindMember *m = &p->members[i];
		const char *drv = m->driver ? m->driver : "no driver";
		switch (m->action) {
		case BIND_MOVE:
			printf("  %s  %s -> %s\n", m->bdf, drv, p->driver);
			break;
		case BIND_ALREADY:
			printf("  %s  already on %s\n", m->bdf, drv);
			break;
		case BIND_SKIP_BRIDGE:
			printf("  %s  %s, stays (bridge)\n", m->bdf, drv);
			break;
		default:
			break;
		}
	}
}

static void findings_print(FILE *f, const BindFindings *x) {
	for (size_t i = 0; i < x->n; i++)
		fprintf(f, "  in use: %s\n", x->items[i].message);
}

int verb_bind(int argc, char **argv) {
	_cleanup_(bind_plan_done) BindPlan p = { .group = -1 };
	_cleanup_(bind_findings_done) BindFindings f = {};
	_cleanup_free_ char *error = NULL;
	BindCheck *check = NULL;
	BindContext ctx = { .root = arg_root };
	size_t moves = 0;
	int r;

	if (argc != 2)
		return ioasidctl_error(EXIT_USAGE,
				       "Verb 'bind' takes one BDF or IOMMU group number");
	if (!arg_dry_run && geteuid() != 0)
		return ioasidctl_error(1, "Binding drivers needs root (--dry-run does not)");

	r = bind_plan(&ctx, argv[1], arg_driver, &p, &error);
	if (r == -EINVAL)
		return ioasidctl_error(EXIT_USAGE, "%s", error ? error : "Invalid target");
	if (r < 0)
		return ioasidctl_error(1, "%s", error ? error : strerror(-r));

	/* Checks fail closed: a host whose tables cannot be read is not known to be safe. */
	r = bind_check_new(arg_root, &check);
	if (r < 0)
		return ioasidctl_error(1,
				       "Cannot read the network tables and mounts to check the "
				       "devices: %s",
				       strerror(-r));
	for (size_t i = 0; i < p.n_members && r >= 0; i++)
		if (p.members[i].action == BIND_MOVE) {
			moves++;
			r = bind_check_device(check, p.members[i].bdf, &f);
		}
	bind_check_free(check);
	if (r < 0)
		return ioasidctl_error(1, "Cannot check what uses the devices: %s", strerror(-r));

	if (arg_dry_run) {
		if (arg_json) {
			_cleanup_json_ json_object *o = plan_json(&p, &f, argv[1], "planned");
			if (!o)
				return ioasidctl_error(1, "Out of memory");
			output_json(o);
			return 0;
		}
		plan_print(&p, argv[1]);
		if (!p.driver_loaded)
			printf("Driver '%s' is not loaded: modprobe %s first\n", p.driver,
			       p.driver);
		if (f.n) {
			printf("Findings:\n");
			findings_print(stdout, &f);
		}
		printf("Dry run, nothing changed. %s\n",
		       moves == 0  ? "Nothing to move."
		       : f.n == 0  ? "No findings: binding would proceed."
		       : arg_force ? "Binding would proceed (--force)."
				   : "Binding would be refused (--force binds anyway).");
		return 0;
	}

	if (f.n && !arg_force) {
		if (arg_json) {
			_cleanup_json_ json_object *o = plan_json(&p, &f, argv[1], "refused");
			if (o)
				output_json(o);
		} else
			findings_print(stderr, &f);
		return ioasidctl_error(
			EXIT_NOT_VIABLE,
			"Refusing to bind %s: %zu finding%s %s (--force binds anyway)", argv[1],
			f.n, f.n == 1 ? "" : "s", arg_json ? "in the JSON output" : "above");
	}

	r = bind_execute(&ctx, &p, &error);
	if (r < 0)
		return ioasidctl_error(1, "Binding failed, nothing is left changed: %s",
				       error ? error : strerror(-r));
	if (arg_json) {
		_cleanup_json_ json_object *o = plan_json(&p, &f, argv[1], "bound");
		if (!o)
			return ioasidctl_error(1, "Out of memory");
		output_json(o);
		return 0;
	}
	for (size_t i = 0; i < p.n_members; i++) {
		const BindMember *m = &p.members[i];
		if (m->action == BIND_MOVE)
			printf("%s: %s -> %s%s%s%s\n", m->bdf, m->driver ? m->driver : "no driver",
			       p.driver, m->vfio ? " (" : "", strempty(m->vfio),
			       m->vfio ? ")" : "");
		else if (m->action == BIND_ALREADY && !arg_quiet)
			printf("%s: already on %s\n", m->bdf, p.driver);
	}
	return 0;
}

/* The recorded devices that restore target names: a BDF, a group number, or all. */
static int restore_targets(const char *target, char ***ret) {
	_cleanup_strv_free_ char **all = NULL, **out = NULL;
	char bdf[BDF_MAX];
	uint64_t n;
	int r;

	r = bind_records_list(arg_root, &all);
	if (r < 0)
		return ioasidctl_error(-1, "Cannot read the records of bound devices: %s",
				       strerror(-r));
	if (!target) {
		*ret = TAKE_PTR(all);
		return 0;
	}
	if (bdf_parse(target, bdf) >= 0) {
		if (!strv_contains(all, bdf))
			return ioasidctl_error(-1, "%s was not bound by ioasidctl (no record)",
					       bdf);
		if (strv_extend(&out, bdf) < 0)
			return -ENOMEM;
	} else if (num_parse_u64(target, INT32_MAX, &n) >= 0) {
		for (char **s = all; s && *s; s++) {
			_cleanup_free_ char *path = strjoin(strempty(arg_root),
							    "/sys/bus/pci/devices/", *s,
							    "/iommu_group");
			_cleanup_free_ char *group = NULL;
			if (!path)
				return -ENOMEM;
			if (readlink_basename_at(AT_FDCWD, path, &group) >= 0 &&
			    streq(group, target) && strv_extend(&out, *s) < 0)
				return -ENOMEM;
		}
		if (!out)
			return ioasidctl_error(-1,
					       "No device of IOMMU group %s was bound by ioasidctl",
					       target);
	} else
		return ioasidctl_error(-EXIT_USAGE,
				       "'%s' is neither a PCI address nor an IOMMU group number",
				       target);
	*ret = TAKE_PTR(out);
	return 0;
}

int verb_restore(int argc, char **argv) {
	_cleanup_strv_free_ char **targets = NULL;
	_cleanup_json_ json_object *restored = NULL, *failed = NULL;
	BindContext ctx = { .root = arg_root };
	int r, ret = 0;

	if (arg_all ? argc != 1 : argc != 2)
		return ioasidctl_error(
			EXIT_USAGE, "Verb 'restore' takes one BDF or IOMMU group number, or --all");
	if (geteuid() != 0)
		return ioasidctl_error(1, "Restoring drivers needs root");
	r = restore_targets(arg_all ? NULL : argv[1], &targets);
	if (r < 0)
		return r == -ENOMEM ? ioasidctl_error(1, "Out of memory") : -r;

	restored = json_object_new_array();
	failed = json_object_new_array();
	if (!restored || !failed)
		return ioasidctl_error(1, "Out of memory");
	for (char **s = targets; s && *s; s++) {
		_cleanup_free_ char *driver = NULL, *error = NULL;
		json_object *o = json_object_new_object();
		if (!o)
			return ioasidctl_error(1, "Out of memory");
		json_object_object_add(o, "device", json_object_new_string(*s));
		r = bind_restore_device(&ctx, *s, &driver, &error);
		if (r < 0) {
			ret = 1;
			json_object_object_add(
				o, "error", json_object_new_string(error ? error : strerror(-r)));
			json_object_array_add(failed, o);
			fprintf(stderr, "ioasidctl: Cannot restore %s\n", error ? error : *s);
			continue;
		}
		json_object_object_add(o, "driver",
				       isempty(driver) ? NULL : json_object_new_string(driver));
		json_object_array_add(restored, o);
		if (!arg_json)
			printf("%s: back on %s\n", *s, isempty(driver) ? "no driver" : driver);
	}
	if (arg_json) {
		_cleanup_json_ json_object *o = json_object_new_object();
		if (!o)
			return ioasidctl_error(1, "Out of memory");
		json_object_object_add(o, "restored", json_object_get(restored));
		json_object_object_add(o, "failed", json_object_get(failed));
		output_json(o);
	} else if (!targets && !arg_quiet)
		printf("No device was bound by ioasidctl\n");
	return ret;
}
