/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasidctl policy check [FILE] | show | explain: the policy as the daemon sees it, through
 * the same library calls (policy_load, policy_evaluate/policy_explain). Nothing here talks
 * to the daemon: a dry run an operator can use before reloading.
 *
 * Exit codes: 0 valid / allowed, 1 invalid file or other failure, 2 denied (explain),
 * 64 usage.
 */
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>

#include "common/cgroup-identity.h"
#include "common/macro.h"
#include "common/proto.h"
#include "common/util.h"
#include "ioasidctl/ioasidctl.h"
#include "ioasidctl/verbs.h"
#include "ioasidctl/output.h"
#include "policy/policy.h"

static const char *config_path(void) {
	return arg_config ? arg_config : IOASID_CONFIG_PATH;
}

static json_object *error_to_json(const PolicyError *e) {
	json_object *o = json_object_new_object();
	json_object_object_add(o, "file", json_str_or_null(e->file));
	json_object_object_add(o, "line", json_object_new_int64(e->line));
	json_object_object_add(o, "column", json_object_new_int64(e->column));
	json_object_object_add(o, "message", json_str_or_null(e->message));
	return o;
}

static void print_error(const char *path, int r, const PolicyError *e) {
	if (e->message && e->line)
		fprintf(stderr, "%s:%u:%u: %s\n", strna(e->file), e->line, e->column, e->message);
	else if (e->message)
		fprintf(stderr, "%s: %s\n", strna(e->file), e->message);
	else
		fprintf(stderr, "%s: %s\n", path, strerror(-r));
}

/* check_owner: the daemon's rules for the path (trusted_path_open(), through policy_load()),
 * as `policy check` and `show`/`explain` of the daemon's own file apply them; else a draft,
 * only parsed. */
static int load(const char *path, bool check_owner, Policy **ret, PolicyError *e) {
	PolicyLoadOptions o = { .check_owner = check_owner };
	return policy_load(path, &o, ret, e);
}

static int verb_policy_check(int argc, char **argv) {
	const char *path = argc > 1 ? argv[1] : config_path();
	_cleanup_policy_free_ Policy *p = NULL;
	PolicyError e = {};
	int r;

	if (argc > 2)
		return ioasidctl_error(EXIT_USAGE, "'policy check' takes at most one FILE");
	/* Valid means ioasidd would load it: the path under the daemon's rules, then the text.
	 * When the path is refused the text is still parsed, so a draft outside a root-only
	 * directory can be checked, and both verdicts are given. */
	r = load(path, true, &p, &e);
	_cleanup_policy_free_ Policy *draft = NULL;
	PolicyError de = {};
	int dr = r;
	if (r < 0 && r != -ENOMEM && e.line == 0)
		dr = load(path, false, &draft, &de);
	_cleanup_free_ PolicyWarning *w = NULL, *wi = NULL, *wl = NULL, *ws = NULL;
	size_t n_w = 0, n_wi = 0, n_wl = 0, n_ws = 0;
	if (r >= 0 &&
	    (policy_lint(p, &w, &n_w) < 0 || policy_lint_identity(p, &wi, &n_wi) < 0 ||
	     policy_lint_layouts(p, &wl, &n_wl) < 0 || policy_lint_sizes(p, &ws, &n_ws) < 0))
		return ioasidctl_error(1, "Out of memory");
	/* Dead rules (covered by an earlier one); rules a local user can satisfy at will;
	 * layout settings that cannot apply in the mode granted; sizes that are surely not what
	 * was meant (memlock 64: 64 bytes). All valid, and what the file says, but rarely what
	 * the administrator means. */
	const struct {
		const PolicyWarning *w;
		size_t n;
		bool covered;
	} lists[] = {
		{ w, n_w, true }, { wi, n_wi, false }, { wl, n_wl, false }, { ws, n_ws, false }
	};
	if (arg_json != JSON_OFF) {
		_cleanup_json_ json_object *o = json_object_new_object();
		json_object_object_add(o, "file", json_object_new_string(path));
		json_object_object_add(o, "valid", json_object_new_boolean(r >= 0));
		json_object_object_add(o, "content_valid", json_object_new_boolean(dr >= 0));
		if (r >= 0) {
			json_object_object_add(o, "rules",
					       json_object_new_int64(policy_n_rules(p)));
			json_object_object_add(o, "admin_rules",
					       json_object_new_int64(policy_n_admin(p)));
			json_object_object_add(o, "pools",
					       json_object_new_int64(policy_n_pools(p)));
			json_object_object_add(o, "layouts",
					       json_object_new_int64(policy_n_layouts(p)));
			json_object *wa = json_object_new_array();
			for (size_t k = 0; k < ELEMENTSOF(lists); k++)
				for (size_t i = 0; i < lists[k].n; i++) {
					const PolicyWarning *x = &lists[k].w[i];
					json_object *j = json_object_new_object();
					json_object_object_add(j, "line",
							       json_object_new_int64(x->line));
					json_object_object_add(
						j, "covered_by",
						lists[k].covered ? json_object_new_int64(x->by_line)
								 : NULL);
					json_object_object_add(j, "message",
							       json_object_new_string(x->message));
					json_object_array_add(wa, j);
				}
			json_object_object_add(o, "warnings", wa);
		} else
			json_object_object_add(o, "error", error_to_json(&e));
		output_json(o);
	}
	if (r < 0) {
		print_error(path, r, &e);
		policy_error_done(&e);
		if (dr >= 0 && arg_json == JSON_OFF && !arg_quiet)
			fprintf(stderr,
				"%s: the text itself is valid (%zu rules, %zu admin rules): "
				"install it where only root can change it, e.g. %s\n",
				path, policy_n_rules(draft), policy_n_admin(draft),
				IOASID_CONFIG_PATH);
		else if (dr < 0 && de.line > 0)
			print_error(path, dr, &de);
		policy_error_done(&de);
		return 1;
	}
	for (size_t k = 0; k < ELEMENTSOF(lists); k++)
		for (size_t i = 0; i < lists[k].n; i++)
			fprintf(stderr, "%s:%u: warning: %s\n", path, lists[k].w[i].line,
				lists[k].w[i].message);
	if (arg_json == JSON_OFF && !arg_quiet)
		printf("%s: valid: %zu rules, %zu admin rules, %zu pools, %zu layouts%s\n", path,
		       policy_n_rules(p), policy_n_admin(p), policy_n_pools(p), policy_n_layouts(p),
		       n_w + n_wi + n_wl + n_ws ? " (with warnings)" : "");
	return 0;
}

static json_object *layout_to_json(const PolicyLayout *l) {
	json_object *o = json_object_new_object(), *w = json_object_new_array(),
		    *req = json_object_new_array();
	json_object_object_add(o, "name", json_object_new_string(l->name));
	for (size_t i = 0; i < l->n_windows; i++) {
		char a[32], b[32];
		json_object *x = json_object_new_object();
		snprintf(a, sizeof(a), "0x%016" PRIx64, l->windows[i].start);
		snprintf(b, sizeof(b), "0x%016" PRIx64, l->windows[i].last);
		json_object_object_add(x, "start", json_object_new_string(a));
		json_object_object_add(x, "last", json_object_new_string(b));
		json_object_array_add(w, x);
	}
	json_object_object_add(o, "iova", w);
	json_object_object_add(o, "accounting",
			       json_object_new_string(policy_accounting_to_string(l->accounting)));
	json_object_object_add(o, "hugepages", json_object_new_boolean(l->huge_pages));
	for (char **c = l->require; c && *c; c++)
		json_object_array_add(req, json_object_new_string(*c));
	json_object_object_add(o, "require", req);
	json_object_object_add(o, "line", json_object_new_int64(l->line));
	return o;
}

static int verb_policy_show(int argc, char **argv) {
	const char *path = config_path();
	_cleanup_policy_free_ Policy *p = NULL;
	PolicyError e = {};
	int r;

	if (argc > 1)
		return ioasidctl_error(EXIT_USAGE,
				       "'policy show' takes no argument (use --config)");
	r = load(path, !arg_config, &p, &e);
	if (r < 0) {
		print_error(path, r, &e);
		policy_error_done(&e);
		return 1;
	}
	if (arg_json == JSON_OFF) {
		_cleanup_free_ char *s = NULL;
		r = policy_to_string(p, &s);
		if (r < 0)
			return ioasidctl_error(1, "Out of memory");
		fputs(s, stdout);
		return 0;
	}

	_cleanup_json_ json_object *o = json_object_new_object();
	const PolicySettings *st = policy_settings(p);
	json_object *so = json_object_new_object(), *pools = json_object_new_array(),
		    *layouts = json_object_new_array(), *rules = json_object_new_array();
	json_object_object_add(o, "file", json_object_new_string(path));
	json_object_object_add(so, "socket_group", json_str_or_null(st->socket_group));
	json_object_object_add(so, "allow_noiommu", json_object_new_boolean(st->allow_noiommu));
	json_object_object_add(so, "max_connections_per_uid",
			       json_object_new_int64(st->max_connections_per_uid));
	json_object_object_add(so, "idle_timeout_sec", json_object_new_int64(st->idle_timeout_sec));
	json_object_object_add(o, "settings", so);
	for (size_t i = 0; i < policy_n_pools(p); i++)
		json_object_array_add(pools, json_object_new_string(policy_pool_name_at(p, i)));
	json_object_object_add(o, "pools", pools);
	for (size_t i = 0; i < policy_n_layouts(p); i++)
		json_object_array_add(layouts, layout_to_json(policy_layout_at(p, i)));
	json_object_object_add(o, "layouts", layouts);
	for (size_t i = 0; i < policy_n_rules(p) + policy_n_admin(p); i++) {
		_cleanup_free_ char *text = NULL;
		unsigned line;
		if (policy_rule_to_string(p, i, &line, &text) < 0)
			return ioasidctl_error(1, "Out of memory");
		json_object *x = json_object_new_object();
		json_object_object_add(x, "line", json_object_new_int64(line));
		json_object_object_add(x, "rule", json_object_new_string(text));
		json_object_array_add(rules, x);
	}
	json_object_object_add(o, "rules", rules);
	output_json(o);
	return 0;
}

/* --user NAME|UID: uid, primary gid and supplementary groups from the user database (as
 * the daemon would see them for a process of that user). */
static int resolve_peer_user(const char *s, uid_t *uid, gid_t *gid, gid_t **groups, int *n) {
	struct passwd pw, *res = NULL;
	char buf[4096];
	uint64_t v;

	if (num_parse_u64(s, UINT32_MAX - 1, &v) >= 0) {
		*uid = (uid_t)v;
		if (getpwuid_r(*uid, &pw, buf, sizeof(buf), &res) != 0 || !res) {
			*gid = (gid_t)-1; /* unknown user id: no groups */
			return 0;
		}
	} else if (getpwnam_r(s, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return -ENOENT;
	*uid = res->pw_uid;
	*gid = res->pw_gid;
	int ng = 64;
	gid_t *g = calloc((size_t)ng, sizeof(gid_t));
	if (!g)
		return -ENOMEM;
	if (getgrouplist(res->pw_name, res->pw_gid, g, &ng) < 0) {
		gid_t *g2 = reallocarray(g, (size_t)ng, sizeof(gid_t));
		if (!g2) {
			free(g);
			return -ENOMEM;
		}
		g = g2;
		if (getgrouplist(res->pw_name, res->pw_gid, g, &ng) < 0)
			ng = 0;
	}
	*groups = g;
	*n = ng;
	return 0;
}

static int resolve_group_arg(const char *s, gid_t *ret) {
	struct group gr, *res = NULL;
	char buf[16384];
	uint64_t v;
	if (num_parse_u64(s, UINT32_MAX - 1, &v) >= 0) {
		*ret = (gid_t)v;
		return 0;
	}
	if (getgrnam_r(s, &gr, buf, sizeof(buf), &res) != 0 || !res)
		return -ENOENT;
	*ret = res->gr_gid;
	return 0;
}

static json_object *grant_to_json(const PolicyGrant *g) {
	json_object *o = json_object_new_object(), *m = json_object_new_array(),
		    *l = json_object_new_array();
	if (g->modes & POLICY_MODE_ATTACHED)
		json_object_array_add(m, json_object_new_string("attached"));
	if (g->modes & POLICY_MODE_UNBOUND)
		json_object_array_add(m, json_object_new_string("unbound"));
	json_object_object_add(o, "modes", m);
	for (char **x = g->layouts; x && *x; x++)
		json_object_array_add(l, json_object_new_string(*x));
	json_object_object_add(o, "layouts", l);
	json_object_object_add(o, "max_devices", json_object_new_int64(g->max_devices));
	json_object_object_add(o, "max_leases", json_object_new_int64(g->max_leases));
	json_object_object_add(o, "memlock",
			       g->memlock == UINT64_MAX ? json_object_new_string("infinity")
							: json_object_new_uint64(g->memlock));
	json_object_object_add(o, "group",
			       json_object_new_string(policy_group_mode_to_string(g->group_mode)));
	json_object_object_add(o, "lifetime",
			       json_object_new_string(policy_lifetime_to_string(g->lifetime)));
	json_object_object_add(o, "on_revoke",
			       json_object_new_string(policy_on_revoke_to_string(g->on_revoke)));
	return o;
}

static int verb_policy_explain(int argc, char **argv) {
	const char *path = config_path();
	_cleanup_policy_free_ Policy *p = NULL;
	_cleanup_host_free_ Host *h = NULL;
	_cleanup_free_ gid_t *groups = NULL;
	PolicyError e = {};
	int n_groups = 0, r;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	if (argc > 1)
		return ioasidctl_error(EXIT_USAGE, "'policy explain' takes options only "
						   "(--user, --device, ...)");
	if (!arg_user)
		return ioasidctl_error(EXIT_USAGE, "'policy explain' needs --user USER");
	if (strv_length(arg_devices) != (arg_vdpa ? 0 : 1))
		return ioasidctl_error(EXIT_USAGE,
				       "'policy explain' needs exactly one --device BDF "
				       "or one --vdpa NAME");

	r = resolve_peer_user(arg_user, &uid, &gid, &groups, &n_groups);
	if (r == -ENOMEM)
		return ioasidctl_error(1, "Out of memory");
	if (r < 0)
		return ioasidctl_error(EXIT_USAGE, "Unknown user '%s'", arg_user);
	/* --cgroup is read the way the daemon reads a peer's cgroup: system unit, user unit
	 * and owner uid through the same cgroup_identity_from_path(). */
	CgroupIdentity cg = { .owner_uid = (uid_t)-1 };
	const char *unit = arg_unit, *user_unit = NULL;
	if (arg_cgroup) {
		if (arg_cgroup[0] != '/')
			return ioasidctl_error(EXIT_USAGE,
					       "--cgroup needs an absolute cgroup path "
					       "(as in /proc/PID/cgroup), not '%s'",
					       arg_cgroup);
		if (cgroup_identity_from_path(arg_cgroup, &cg) < 0)
			/* as the daemon: no unit */
			cg = (CgroupIdentity){ .owner_uid = (uid_t)-1 };
		if (arg_unit && !streq(arg_unit, cg.unit))
			return ioasidctl_error(EXIT_USAGE,
					       "--unit '%s' is not the system unit of "
					       "--cgroup '%s' (%s%s%s)",
					       arg_unit, arg_cgroup, cg.unit[0] ? "that is '" : "",
					       cg.unit[0] ? cg.unit : "it has none",
					       cg.unit[0] ? "'" : "");
		unit = cg.unit[0] ? cg.unit : NULL;
		user_unit = cg.user_unit[0] ? cg.user_unit : NULL;
	}
	if (arg_group) {
		gid_t g;
		if (resolve_group_arg(arg_group, &g) < 0)
			return ioasidctl_error(EXIT_USAGE, "Unknown group '%s'", arg_group);
		gid_t *x = reallocarray(groups, (size_t)n_groups + 1, sizeof(gid_t));
		if (!x)
			return ioasidctl_error(1, "Out of memory");
		groups = x;
		groups[n_groups++] = g;
		if (gid == (gid_t)-1)
			gid = g;
	}

	r = load(path, !arg_config, &p, &e);
	if (r < 0) {
		print_error(path, r, &e);
		policy_error_done(&e);
		return 1;
	}
	if (ioasidctl_load_host(&h) < 0)
		return 1;
	/* A vDPA device is asked for as vhost-vdpa, its parent PCI function (none for a
	 * software one) standing for it in the rule's other selectors. */
	const VdpaDevice *v = arg_vdpa ? host_find_vdpa_device(h, arg_vdpa) : NULL;
	if (arg_vdpa && !v)
		return ioasidctl_error(1, "No vDPA device '%s' on %s", arg_vdpa,
				       arg_host ? arg_host : "this host");
	const Device *d = v ? v->parent : host_find_device(h, arg_devices[0]);
	if (!d && !v)
		return ioasidctl_error(1, "No PCI device %s on %s", arg_devices[0],
				       arg_host ? arg_host : "this host");
	if (arg_layout && !policy_find_layout(p, arg_layout))
		return ioasidctl_error(1, "No layout '%s' in %s", arg_layout, path);

	PolicyPeer peer = {
		.uid = uid,
		.gid = gid,
		.groups = groups,
		.n_groups = (size_t)n_groups,
		/* A hypothetical peer: pretend its identity is pinned, as it is on kernels
		 * with SO_PEERPIDFD, so --unit and --cgroup are considered. */
		.pid = 0,
		.have_pidfd = true,
		.unit = unit,
		.user_unit = user_unit,
		.cgroup = arg_cgroup,
		.label = arg_label,
	};
	unsigned mode = v                                        ? POLICY_MODE_VHOST_VDPA
			: arg_mode && streq(arg_mode, "unbound") ? POLICY_MODE_UNBOUND
								 : POLICY_MODE_ATTACHED;
	if (v && arg_mode)
		return ioasidctl_error(EXIT_USAGE, "--vdpa asks for mode vhost-vdpa: no --mode");
	PolicyRequest req = { .peer = &peer,
			      .host = h,
			      .device = d,
			      .vdpa = v,
			      .mode = mode,
			      .layout = arg_layout,
			      .method = "ioasidctl.policy.explain" };
	PolicyDecision dec;
	PolicyExplanation ex;
	r = policy_explain(p, &req, &dec, &ex);
	if (r < 0)
		return ioasidctl_error(1, "Cannot evaluate: %s", strerror(-r));

	if (arg_json != JSON_OFF) {
		_cleanup_json_ json_object *o = json_object_new_object();
		json_object *po = json_object_new_object(), *ga = json_object_new_array();
		json_object_object_add(o, "allow", json_object_new_boolean(dec.allow));
		json_object_object_add(o, "reason", json_object_new_string(dec.reason));
		json_object_object_add(o, "file", json_str_or_null(dec.file));
		json_object_object_add(o, "line",
				       dec.line ? json_object_new_int64(dec.line) : NULL);
		json_object_object_add(o, "rule",
				       ex.decided_by[0] ? json_str_or_null(ex.decided_by) : NULL);
		json_object_object_add(o, "generation", json_object_new_uint64(dec.generation));
		json_object_object_add(po, "uid", json_object_new_int64((int64_t)uid));
		json_object_object_add(
			po, "gid", gid == (gid_t)-1 ? NULL : json_object_new_int64((int64_t)gid));
		for (int i = 0; i < n_groups; i++)
			json_object_array_add(ga, json_object_new_int64(groups[i]));
		json_object_object_add(po, "groups", ga);
		json_object_object_add(po, "unit", json_str_or_null(unit));
		json_object_object_add(po, "user_unit", json_str_or_null(user_unit));
		json_object_object_add(po, "owner_uid",
				       arg_cgroup && cg.owner_uid != (uid_t)-1
					       ? json_object_new_int64(cg.owner_uid)
					       : NULL);
		json_object_object_add(po, "slice",
				       arg_cgroup && cg.slice[0] ? json_object_new_string(cg.slice)
								 : NULL);
		json_object_object_add(po, "cgroup", json_str_or_null(arg_cgroup));
		json_object_object_add(po, "label", json_str_or_null(arg_label));
		json_object_object_add(o, "peer", po);
		json_object_object_add(o, "device", d ? json_object_new_string(d->bdf) : NULL);
		json_object_object_add(o, "vdpa", v ? json_object_new_string(v->name) : NULL);
		json_object_object_add(o, "mode",
				       json_object_new_string(policy_mode_to_string(mode)));
		json_object_object_add(o, "layout", json_str_or_null(arg_layout));
		json_object_object_add(o, "grant", dec.allow ? grant_to_json(&dec.grant) : NULL);
		if (!dec.allow && ex.have_nearest) {
			json_object *n = json_object_new_object();
			json_object_object_add(n, "file", json_str_or_null(ex.nearest_file));
			json_object_object_add(n, "line", json_object_new_int64(ex.nearest_line));
			json_object_object_add(n, "rule", json_str_or_null(ex.nearest_rule));
			json_object_object_add(n, "failed",
					       json_object_new_int64(ex.nearest_failed));
			json_object_object_add(n, "why", json_str_or_null(ex.why));
			json_object_object_add(o, "nearest", n);
		} else
			json_object_object_add(o, "nearest", NULL);
		output_json(o);
	} else {
		printf("%sDecision:%s %s%s%s\n", ansi_bold(), ansi_normal(),
		       dec.allow ? ansi_green() : ansi_red(), dec.allow ? "allow" : "deny",
		       ansi_normal());
		printf("%sReason:%s   %s\n", ansi_bold(), ansi_normal(), dec.reason);
		if (arg_cgroup) {
			char owner[16] = "none";
			if (cg.owner_uid != (uid_t)-1)
				snprintf(owner, sizeof(owner), "%u", (unsigned)cg.owner_uid);
			printf("%sCgroup:%s   unit %s, user unit %s, owner uid %s\n", ansi_bold(),
			       ansi_normal(), unit ? unit : "none", user_unit ? user_unit : "none",
			       owner);
		}
		if (dec.file)
			printf("%sRule:%s     %s:%u: %s\n", ansi_bold(), ansi_normal(), dec.file,
			       dec.line, ex.decided_by);
		else
			printf("%sRule:%s     none (default deny)\n", ansi_bold(), ansi_normal());
		if (!dec.allow && ex.have_nearest) {
			printf("%sNearest:%s  %s:%u: %s\n", ansi_bold(), ansi_normal(),
			       ex.nearest_file, ex.nearest_line, ex.nearest_rule);
			printf("%sWhy not:%s  %s%s\n", ansi_bold(), ansi_normal(), ex.why,
			       ex.nearest_failed > 1 ? " (and more)" : "");
		} else if (!dec.allow)
			printf("%sNearest:%s  none (the policy has no allow rule)\n", ansi_bold(),
			       ansi_normal());
	}
	return dec.allow ? 0 : EXIT_NOT_VIABLE;
}

int verb_policy(int argc, char **argv) {
	if (argc < 2)
		return ioasidctl_error(EXIT_USAGE, "'policy' needs a sub-command: check, show or "
						   "explain");
	if (streq(argv[1], "check"))
		return verb_policy_check(argc - 1, argv + 1);
	if (streq(argv[1], "show"))
		return verb_policy_show(argc - 1, argv + 1);
	if (streq(argv[1], "explain"))
		return verb_policy_explain(argc - 1, argv + 1);
	return ioasidctl_error(EXIT_USAGE,
			       "Unknown 'policy' sub-command '%s' (check, show, explain)", argv[1]);
}
