/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasidctl: the operator's CLI. The top of the program: the verb table, --help, option
 * parsing into the arg_* state of ioasidctl.c, and main(). Nothing calls up into this file:
 * the verbs (verbs-*.c) use ioasidctl.c and output.c below them, never each other or main.
 */
#include <assert.h>
#include <getopt.h>
#include <locale.h>

#include "common/macro.h"
#include "ioasidctl/ioasidctl.h"
#include "ioasidctl/verbs.h"
#include "policy/policy.h"

/* Every option but the global ones belongs to some verbs; the verb table says which, and an
 * option given to a verb that does not take it is a usage error naming both. */
typedef enum Opt {
	OPT_HOST,
	OPT_SOCKET,
	OPT_CONFIG,
	OPT_VFIO,
	OPT_BLOCKING,
	OPT_LEGACY,
	OPT_MODE,
	OPT_DEVICE,
	OPT_IOMMU_GROUP,
	OPT_POOL,
	OPT_COUNT,
	OPT_LAYOUT,
	OPT_LIFETIME,
	OPT_FDS_FROM,
	OPT_FOR,
	OPT_EXPIRE,
	OPT_USER,
	OPT_GROUP,
	OPT_UNIT,
	OPT_CGROUP,
	OPT_LABEL,
	OPT_RESET,
	OPT_SIGNAL,
	OPT_DRIVER,
	OPT_DRY_RUN,
	OPT_FORCE,
	OPT_ALL,
	OPT_ROOT,
	OPT_OUTPUT,
	OPT_VDPA,
	OPT_MGMTDEV,
	OPT_CDI_VERSION,
	_OPT_MAX,
	/* Global options (every verb): not in the verb table's sets. */
	OPT_HELP = 'h',
	OPT_JSON_SHORT = 'J',
	OPT_QUIET = 'q',
	OPT_VERSION = 0x100,
	OPT_JSON,
	OPT_NO_LEGEND,
} Opt;

typedef struct OptionInfo {
	const char *name;
	const char *arg; /* metavar; NULL: takes no argument */
	const char *help;
} OptionInfo;

static const OptionInfo option_info[_OPT_MAX] = {
	[OPT_HOST] = { "host", "FILE", "Work offline on a snapshot instead of this host" },
	[OPT_SOCKET] = { "socket", "PATH", "Daemon socket (default " IOASID_SOCKET_PATH ")" },
	[OPT_CONFIG] = { "config", "FILE", "Policy file (default " IOASID_CONFIG_PATH ")" },
	[OPT_VFIO] = { "vfio", NULL, "Only devices usable through VFIO" },
	[OPT_BLOCKING] = { "blocking", NULL, "Only devices that block their group" },
	[OPT_LEGACY] = { "legacy", NULL, "ls-iommu compatible lines" },
	[OPT_MODE] = { "mode", "attached|unbound", "Bound and attached, or unbound (QEMU)" },
	[OPT_DEVICE] = { "device", "BDF", "A device (repeatable)" },
	[OPT_IOMMU_GROUP] = { "iommu-group", "N", "The devices of IOMMU group N" },
	[OPT_POOL] = { "pool", "NAME", "Devices from the policy's pool NAME" },
	[OPT_COUNT] = { "count", "N", "How many devices from --pool (default 1)" },
	[OPT_LAYOUT] = { "layout", "NAME", "The policy's IOAS layout NAME" },
	[OPT_LIFETIME] = { "lifetime", "connection|process", "When the lease ends" },
	[OPT_FDS_FROM] = { "fds-from", "N", "Number the fds CMD gets from N (default 3)" },
	[OPT_FOR] = { "for", "USER|UNIT", "The user (or unit) it is for" },
	[OPT_EXPIRE] = { "expire", "SECONDS", "Drop it when unused this long" },
	[OPT_USER] = { "user", "USER", "The peer's user (name or uid)" },
	[OPT_GROUP] = { "group", "GROUP", "A unix group of the peer (name or gid)" },
	[OPT_UNIT] = { "unit", "UNIT", "The peer's system unit" },
	[OPT_CGROUP] = { "cgroup", "PATH", "The peer's cgroup, as /proc/PID/cgroup shows it" },
	[OPT_LABEL] = { "label", "LABEL", "The peer's security label" },
	[OPT_RESET] = { "reset", NULL, "Also reset the devices" },
	[OPT_SIGNAL] = { "signal", NULL, "Also signal the holder" },
	[OPT_DRIVER] = { "driver", "DRIVER", "The VFIO driver to bind to (default vfio-pci)" },
	[OPT_DRY_RUN] = { "dry-run", NULL, "Print the plan and the findings, change nothing" },
	[OPT_FORCE] = { "force", NULL, "Bind even when the checks find the device in use" },
	[OPT_ALL] = { "all", NULL, "Every device ioasidctl bound" },
	[OPT_ROOT] = { "root", "DIR", "Read sys/, proc/ and run/ioasid/ below DIR (tests)" },
	[OPT_OUTPUT] = { "output", "FILE", "Write to FILE (.yaml or .json; - for stdout)" },
	[OPT_VDPA] = { "vdpa", "NAME", "A vDPA device (as 'ioasidctl devices' lists them)" },
	[OPT_MGMTDEV] = { "mgmtdev", "[BUS/]NAME",
			  "The vDPA management device (vdpasim_net, pci/BDF)" },
	[OPT_CDI_VERSION] = { "cdi-version", "VERSION",
			      "The spec's cdiVersion, 0.4.0 (default) to 1.1.0" },
};

/* A verb's options are a bit set. */
static_assert(_OPT_MAX <= 32, "Verb.options holds one bit per option");
#define O(x) (UINT32_C(1) << (x))
#define OPTS_ACQUIRE                                                                               \
	(O(OPT_DEVICE) | O(OPT_IOMMU_GROUP) | O(OPT_POOL) | O(OPT_COUNT) | O(OPT_MODE) |           \
	 O(OPT_LAYOUT) | O(OPT_LIFETIME) | O(OPT_SOCKET) | O(OPT_VDPA))

/* One row per verb, or per sub-command of a verb that has them (sub: the word after the
 * verb; NULL in a row of such a verb matches any other word, e.g. stage's layout NAME). */
typedef struct Verb {
	const char *name;
	const char *sub;
	int (*run)(int argc, char **argv);
	const char *usage;
	const char *help;
	uint32_t options; /* O(OPT_...) of the options it takes besides the global ones */
} Verb;

static const Verb verbs[] = {
	{ "groups", NULL, verb_groups, "groups [--legacy]",
	  "List IOMMU groups with their members and verdicts",
	  O(OPT_LEGACY) | O(OPT_HOST) | O(OPT_ROOT) },
	{ "devices", NULL, verb_devices, "devices [--vfio] [--blocking]",
	  "List PCI devices, one per line",
	  O(OPT_VFIO) | O(OPT_BLOCKING) | O(OPT_HOST) | O(OPT_ROOT) },
	{ "show", NULL, verb_show, "show BDF|GROUP",
	  "Show everything known about a device or a group", O(OPT_HOST) | O(OPT_ROOT) },
	{ "check", NULL, verb_check, "check [--for USER]",
	  "Check this host's readiness for passthrough",
	  O(OPT_FOR) | O(OPT_HOST) | O(OPT_CONFIG) | O(OPT_SOCKET) },
	{ "snapshot", NULL, verb_snapshot, "snapshot",
	  "Write the host model as JSON (for --host FILE)", O(OPT_HOST) },
	{ "acquire", NULL, verb_acquire, "acquire BDF...|--vdpa NAME [--mode attached|unbound]",
	  "Acquire devices from ioasidd and report the fds received", OPTS_ACQUIRE },
	{ "run", NULL, verb_run,
	  "run [--device BDF]...|--vdpa NAME [--mode M] [--fds-from N] -- CMD ARGS...",
	  "Acquire devices, then become CMD holding the lease (fds from 3, {fd:BDF} expanded)",
	  OPTS_ACQUIRE | O(OPT_FDS_FROM) },
	{ "release", NULL, verb_release, "release LEASE",
	  "Release one of your leases (an admin: anyone's)", O(OPT_SOCKET) },
	{ "leases", NULL, verb_leases, "leases", "List leases held through ioasidd",
	  O(OPT_SOCKET) },
	{ "status", NULL, verb_status, "status", "Show the daemon's status", O(OPT_SOCKET) },
	{ "monitor", NULL, verb_monitor, "monitor",
	  "Print lease, policy and device events as they happen (one line or JSON object each)",
	  O(OPT_SOCKET) },
	{ "revoke", NULL, verb_revoke, "revoke LEASE [--reset] [--signal]",
	  "Revoke a lease (admin)", O(OPT_RESET) | O(OPT_SIGNAL) | O(OPT_SOCKET) },
	{ "bind", NULL, verb_bind, "bind BDF|GROUP [--driver vfio-pci] [--dry-run] [--force]",
	  "Move a device, or a group's devices, to vfio-pci after safety checks (root)",
	  O(OPT_DRIVER) | O(OPT_DRY_RUN) | O(OPT_FORCE) | O(OPT_ROOT) },
	{ "restore", NULL, verb_restore, "restore BDF|GROUP|--all",
	  "Put devices bound by 'ioasidctl bind' back on their drivers (root)",
	  O(OPT_ALL) | O(OPT_ROOT) },
	{ "vdpa", "add", verb_vdpa, "vdpa add NAME --mgmtdev [BUS/]NAME",
	  "Create a vDPA device on a management device (root)", O(OPT_MGMTDEV) },
	{ "vdpa", "del", verb_vdpa, "vdpa del NAME", "Delete a vDPA device (root)", 0 },
	{ "cdi", NULL, verb_cdi, "cdi [--output FILE|-] [--socket PATH] [--cdi-version VERSION]",
	  "Write a CDI spec giving containers the ioasidd socket (ioasid.io/broker=default)",
	  O(OPT_OUTPUT) | O(OPT_SOCKET) | O(OPT_CDI_VERSION) },
	{ "policy", "check", verb_policy, "policy check [FILE]",
	  "Check a policy file as ioasidd would load it", O(OPT_CONFIG) },
	{ "policy", "show", verb_policy, "policy show", "Show the policy in canonical form",
	  O(OPT_CONFIG) },
	{ "policy", "explain", verb_policy,
	  "policy explain --user USER --device BDF|--vdpa NAME [--group G] [--unit U] [--cgroup P]",
	  "Explain the decision for a request",
	  O(OPT_USER) | O(OPT_GROUP) | O(OPT_UNIT) | O(OPT_CGROUP) | O(OPT_LABEL) | O(OPT_DEVICE) |
		  O(OPT_VDPA) | O(OPT_MODE) | O(OPT_LAYOUT) | O(OPT_CONFIG) | O(OPT_HOST) },
	{ "layout", "list", verb_layout, "layout list", "List the policy's IOAS layouts",
	  O(OPT_CONFIG) },
	{ "layout", "show", verb_layout, "layout show NAME", "Show one IOAS layout",
	  O(OPT_CONFIG) },
	{ "layout", "check", verb_layout, "layout check NAME --device BDF...",
	  "Check that a layout can be applied to these devices",
	  O(OPT_DEVICE) | O(OPT_CONFIG) | O(OPT_HOST) },
	{ "stage", "list", verb_stage, "stage list", "List staged contexts (admin)",
	  O(OPT_SOCKET) },
	{ "stage", "drop", verb_stage, "stage drop ID", "Drop a staged context (admin)",
	  O(OPT_SOCKET) },
	{ "stage", NULL, verb_stage,
	  "stage NAME --for USER|UNIT --device BDF... [--mode M] [--expire SECONDS]",
	  "Pre-stage an IOAS context with layout NAME for an owner (admin)",
	  O(OPT_FOR) | O(OPT_DEVICE) | O(OPT_MODE) | O(OPT_EXPIRE) | O(OPT_SOCKET) },
};

static void help_global_options(void) {
	printf("\nGlobal options:\n"
	       "  -h --help              Show this help (VERB --help: the verb's)\n"
	       "     --version           Show the version\n"
	       "  -J --json[=pretty|short|off]  JSON output\n"
	       "     --no-legend         Omit table headers\n"
	       "  -q --quiet             Print less\n");
}

static void help(void) {
	printf("Usage: ioasidctl [OPTIONS...] VERB [ARGS...]\n\n"
	       "Inspect IOMMU groups and devices, check a host, test policy, and acquire\n"
	       "device fds from ioasidd.\n\nVerbs:\n");
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		printf("  %-56s %s\n", verbs[i].usage, verbs[i].help);
	help_global_options();
	printf("\n'ioasidctl VERB --help' lists the options of a verb. See ioasidctl(8) for\n"
	       "every verb's options, JSON keys and exit codes.\n");
}

/* VERB --help: the rows of that verb (of one sub-command when it is named) with the options
 * each takes. */
static void help_verb(const char *name, const Verb *only) {
	bool first = true;
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
		const Verb *v = &verbs[i];
		if (!streq(v->name, name) || (only && v != only))
			continue;
		printf("%sUsage: ioasidctl [OPTIONS...] %s\n\n%s\n", first ? "" : "\n", v->usage,
		       v->help);
		first = false;
		if (!v->options)
			continue;
		printf("\nOptions:\n");
		for (unsigned o = 0; o < _OPT_MAX; o++) {
			if (!(v->options & O(o)))
				continue;
			char lhs[64];
			snprintf(lhs, sizeof(lhs), "--%s%s%s", option_info[o].name,
				 option_info[o].arg ? " " : "", strempty(option_info[o].arg));
			printf("     %-32s %s\n", lhs, option_info[o].help);
		}
	}
	help_global_options();
}

/* The row for argv (the verb and what follows it): the row of the sub-command named, else the
 * verb's row without one (NULL when every row of the verb names one). *ret_known: the verb
 * exists. */
static const Verb *verb_find(int argc, char **argv, bool *ret_known) {
	const Verb *fallback = NULL;
	bool known = false;
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
		const Verb *v = &verbs[i];
		if (!streq(v->name, argv[0]))
			continue;
		known = true;
		if (!v->sub)
			fallback = v;
		else if (argc > 1 && streq(v->sub, argv[1])) {
			*ret_known = true;
			return v;
		}
	}
	*ret_known = known;
	return fallback;
}

/* Every row of a verb has the same function: it dispatches its sub-commands itself. */
static int verbs_run(const char *name, int argc, char **argv) {
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (streq(verbs[i].name, name))
			return verbs[i].run(argc, argv);
	abort();
}

/* The options of every row of a verb. */
static uint32_t verb_options_union(const char *name) {
	uint32_t u = 0;
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (streq(verbs[i].name, name))
			u |= verbs[i].options;
	return u;
}

static bool arg_help = false;
static uint32_t arg_seen = 0; /* O(OPT_...) of the verb options given */

static int parse_argv(int argc, char **argv) {
	struct option options[_OPT_MAX + 7] = {
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "json", optional_argument, NULL, OPT_JSON },
		{ "no-legend", no_argument, NULL, OPT_NO_LEGEND },
		{ "quiet", no_argument, NULL, OPT_QUIET },
	};
	size_t n = 5;
	int c, r;
	uint64_t v;

	for (unsigned o = 0; o < _OPT_MAX; o++) {
		int has_arg = option_info[o].arg ? required_argument : no_argument;
		options[n++] = (struct option){ option_info[o].name, has_arg, NULL, (int)o };
	}

	while ((c = getopt_long(argc, argv, "hJq", options, NULL)) >= 0) {
		if (c >= 0 && c < _OPT_MAX)
			arg_seen |= O(c);
		switch (c) {
		case OPT_HELP:
			arg_help = true;
			break;
		case OPT_VERSION:
			printf("ioasidctl %s\n", IOASID_VERSION);
			return 0;
		case OPT_JSON_SHORT:
			arg_json = JSON_PRETTY;
			break;
		case OPT_JSON:
			if (!optarg || streq(optarg, "pretty"))
				arg_json = JSON_PRETTY;
			else if (streq(optarg, "short"))
				arg_json = JSON_SHORT;
			else if (streq(optarg, "off"))
				arg_json = JSON_OFF;
			else
				return ioasidctl_error(-EXIT_USAGE, "Unknown --json mode '%s'",
						       optarg);
			break;
		case OPT_NO_LEGEND:
			arg_legend = false;
			break;
		case OPT_HOST:
			arg_host = optarg;
			break;
		case OPT_SOCKET:
			arg_socket = optarg;
			break;
		case OPT_VFIO:
			arg_vfio = true;
			break;
		case OPT_BLOCKING:
			arg_blocking = true;
			break;
		case OPT_LEGACY:
			arg_legacy = true;
			break;
		case OPT_MODE:
			/* vhost-vdpa is what --vdpa asks for, never a mode to give. */
			if (policy_mode_from_string(optarg) < 0 || streq(optarg, "vhost-vdpa"))
				return ioasidctl_error(-EXIT_USAGE,
						       "Unknown mode '%s' (attached or unbound)",
						       optarg);
			arg_mode = optarg;
			break;
		case OPT_DEVICE: {
			char bdf[BDF_MAX];
			if (bdf_parse(optarg, bdf) < 0)
				return ioasidctl_error(-EXIT_USAGE, "'%s' is not a PCI address",
						       optarg);
			if (strv_extend(&arg_devices, bdf) < 0)
				return ioasidctl_error(-1, "Out of memory");
			break;
		}
		case OPT_IOMMU_GROUP:
			r = num_parse_u64(optarg, INT32_MAX, &v);
			if (r < 0)
				return ioasidctl_error(-EXIT_USAGE,
						       "'%s' is not an IOMMU group number", optarg);
			arg_iommu_group = (int)v;
			break;
		case OPT_POOL:
			arg_pool = optarg;
			break;
		case OPT_COUNT:
			r = num_parse_u64(optarg, IOASID_MAX_DEVICES_PER_REQUEST, &v);
			if (r < 0 || v == 0)
				return ioasidctl_error(-EXIT_USAGE, "--count takes 1..%d",
						       IOASID_MAX_DEVICES_PER_REQUEST);
			arg_count = (unsigned)v;
			break;
		case OPT_LAYOUT:
			arg_layout = optarg;
			break;
		case OPT_FOR:
			arg_for = optarg;
			break;
		case OPT_USER:
			arg_user = optarg;
			break;
		case OPT_GROUP:
			arg_group = optarg;
			break;
		case OPT_UNIT:
			arg_unit = optarg;
			break;
		case OPT_CGROUP:
			arg_cgroup = optarg;
			break;
		case OPT_LABEL:
			arg_label = optarg;
			break;
		case OPT_VDPA:
			arg_vdpa = optarg;
			break;
		case OPT_MGMTDEV:
			arg_mgmtdev = optarg;
			break;
		case OPT_CONFIG:
			arg_config = optarg;
			break;
		case OPT_LIFETIME:
			if (policy_lifetime_from_string(optarg) < 0)
				return ioasidctl_error(
					-EXIT_USAGE,
					"Unknown lifetime '%s' (connection or process)", optarg);
			arg_lifetime = optarg;
			break;
		case OPT_RESET:
			arg_reset = true;
			break;
		case OPT_SIGNAL:
			arg_signal = true;
			break;
		case OPT_EXPIRE:
			r = num_parse_u64(optarg, IOASID_STAGE_TIMEOUT_MAX, &v);
			if (r < 0 || v == 0)
				return ioasidctl_error(-EXIT_USAGE, "--expire takes 1..%d seconds",
						       IOASID_STAGE_TIMEOUT_MAX);
			arg_expire = v;
			break;
		case OPT_FDS_FROM:
			if (num_parse_u64(optarg, 65536, &v) < 0 || v < 3)
				return ioasidctl_error(-EXIT_USAGE,
						       "Invalid --fds-from '%s' (a number from 3)",
						       optarg);
			arg_fds_from = (unsigned)v;
			break;
		case OPT_QUIET:
			arg_quiet = true;
			break;
		case OPT_DRIVER:
			/* vfio-pci or a variant driver ("mlx5_vfio_pci"): one path component. */
			if (!strstr(optarg, "vfio") || strchr(optarg, '/') || strlen(optarg) > 64)
				return ioasidctl_error(-EXIT_USAGE,
						       "'%s' is not a VFIO driver (vfio-pci or a "
						       "vfio variant driver)",
						       optarg);
			arg_driver = optarg;
			break;
		case OPT_DRY_RUN:
			arg_dry_run = true;
			break;
		case OPT_FORCE:
			arg_force = true;
			break;
		case OPT_ALL:
			arg_all = true;
			break;
		case OPT_ROOT:
			arg_root = optarg;
			break;
		case OPT_OUTPUT:
			if (isempty(optarg))
				return ioasidctl_error(-EXIT_USAGE, "--output takes a file name");
			arg_output = optarg;
			break;
		case OPT_CDI_VERSION:
			if (!cdi_version_known(optarg))
				return ioasidctl_error(-EXIT_USAGE,
						       "Unknown --cdi-version '%s' (0.4.0, 0.5.0, "
						       "0.6.0, 0.7.0, 0.8.0, 1.0.0 or 1.1.0)",
						       optarg);
			arg_cdi_version = optarg;
			break;
		case '?':
			return -EXIT_USAGE;
		default:
			abort();
		}
	}
	return 1;
}

/* An option given to a verb that does not take it: a usage error naming the option and the
 * verb (with its sub-command when it has one). verb is NULL when the verb has sub-commands
 * and none was named: then only an option that none of them takes is refused here (the verb
 * itself refuses the missing or unknown sub-command). */
static int check_options(const char *name, const Verb *verb) {
	uint32_t allowed = verb ? verb->options : verb_options_union(name);
	uint32_t extra = arg_seen & ~allowed;
	const char *sub = verb && verb->sub ? verb->sub : NULL;
	for (unsigned o = 0; o < _OPT_MAX; o++)
		if (extra & O(o))
			return ioasidctl_error(EXIT_USAGE,
					       "'%s%s%s' does not take --%s (see 'ioasidctl %s%s%s "
					       "--help')",
					       name, sub ? " " : "", strempty(sub),
					       option_info[o].name, name, sub ? " " : "",
					       strempty(sub));
	return 0;
}

int main(int argc, char **argv) {
	int r;

	/* argc == 0 (execve with an empty argv): nothing sensible to do (PwnKit lesson). Linux
	 * >= 5.18 turns an empty argv into { "", NULL }, so an empty argv[0] is the same case. */
	if (argc < 1 || isempty(argv[0]))
		return EXIT_USAGE;

	/* The charset only: tree glyphs follow it (output_utf8()); numbers and messages stay
	 * in the C locale. */
	setlocale(LC_CTYPE, "");

	r = parse_argv(argc, argv);
	if (r <= 0) {
		strv_free(arg_devices);
		return r < 0 ? -r : 0;
	}

	if (arg_help && optind >= argc) {
		help();
		strv_free(arg_devices);
		return 0;
	}
	char *fallback[] = { (char *)"groups", NULL };
	int vargc = optind < argc ? argc - optind : 1;
	char **vargv = optind < argc ? argv + optind : fallback;
	bool known;
	const Verb *verb = verb_find(vargc, vargv, &known);
	if (!known) {
		strv_free(arg_devices);
		return ioasidctl_error(EXIT_USAGE, "Unknown verb '%s' (see --help)", vargv[0]);
	}
	/* Sub-commands: "policy --help" shows them all, "policy explain --help" one;
	 * "stage NAME --help" the row without one. */
	bool subs = false;
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		subs = subs || (streq(verbs[i].name, vargv[0]) && verbs[i].sub);
	if (subs && vargc < 2)
		verb = NULL;
	if (arg_help) {
		help_verb(vargv[0], subs ? verb : NULL);
		strv_free(arg_devices);
		return 0;
	}
	r = check_options(vargv[0], verb);
	if (r == 0)
		r = verbs_run(vargv[0], vargc, vargv);
	strv_free(arg_devices);
	return r;
}
