/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasidctl: the operator's CLI. The top of the program: the verb table, --help, option
 * parsing into the arg_* state of ioasidctl.c, and main(). Nothing calls up into this file:
 * the verbs (verbs-*.c) use ioasidctl.c and output.c below them, never each other or main.
 */
#include <getopt.h>

#include "common/macro.h"
#include "ioasidctl/ioasidctl.h"
#include "ioasidctl/verbs.h"
#include "policy/policy.h"

typedef struct Verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
	const char *help;
} Verb;

static const Verb verbs[] = {
	{ "groups", verb_groups, "groups [--legacy]",
	  "List IOMMU groups with their members and verdicts" },
	{ "devices", verb_devices, "devices [--vfio] [--blocking]", "List PCI devices, one per line" },
	{ "show", verb_show, "show BDF|GROUP", "Show everything known about a device or a group" },
	{ "check", verb_check, "check [--for USER]", "Check this host's readiness for passthrough" },
	{ "snapshot", verb_snapshot, "snapshot", "Write the host model as JSON (for --host FILE)" },
	{ "acquire", verb_acquire, "acquire BDF... [--mode attached|unbound]",
	  "Acquire devices from ioasidd and report the fds received" },
	{ "run", verb_run, "run [--device BDF]... [--mode M] [--fds-from N] -- CMD ARGS...",
	  "Acquire devices, then become CMD holding the lease (fds from 3, {fd:BDF} expanded)" },
	{ "leases", verb_leases, "leases", "List leases held through ioasidd" },
	{ "status", verb_status, "status", "Show the daemon's status" },
	{ "revoke", verb_revoke, "revoke LEASE [--reset] [--signal]", "Revoke a lease (admin)" },
	{ "policy", verb_policy, "policy check FILE | show | explain ...",
	  "Check, show or explain the policy" },
	{ "layout", verb_layout, "layout list | show NAME | check NAME --device BDF...",
	  "Inspect and validate IOAS layouts" },
	{ "stage", verb_stage,
	  "stage NAME --for USER|UNIT --device BDF... [--expire SECONDS] | list | drop ID",
	  "Pre-stage an IOAS context for an owner (admin)" },
};

static void help(void) {
	printf("Usage: ioasidctl [OPTIONS...] VERB [ARGS...]\n\n"
	       "Inspect IOMMU groups and devices, check a host, test policy, and acquire\n"
	       "device fds from ioasidd.\n\nVerbs:\n");
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		printf("  %-56s %s\n", verbs[i].usage, verbs[i].help);
	printf("\nOptions:\n"
	       "  -h --help              Show this help\n"
	       "     --version           Show the version\n"
	       "  -J --json[=pretty|short|off]  JSON output\n"
	       "     --no-legend         Omit table headers\n"
	       "     --host FILE         Work offline on a snapshot instead of this host\n"
	       "     --socket PATH       Daemon socket (default " IOASID_SOCKET_PATH ")\n"
	       "     --config FILE       Policy file (default " IOASID_CONFIG_PATH ")\n"
	       "  -q --quiet             Print less\n"
	       "\nSee ioasidctl(8) for every verb's options, JSON keys and exit codes.\n");
}

enum {
	ARG_VERSION = 0x100,
	ARG_JSON,
	ARG_NO_LEGEND,
	ARG_HOST,
	ARG_SOCKET,
	ARG_VFIO,
	ARG_BLOCKING,
	ARG_LEGACY,
	ARG_MODE,
	ARG_DEVICE,
	ARG_IOMMU_GROUP,
	ARG_POOL,
	ARG_COUNT,
	ARG_LAYOUT,
	ARG_FOR,
	ARG_USER,
	ARG_GROUP,
	ARG_UNIT,
	ARG_CGROUP,
	ARG_LABEL,
	ARG_CONFIG,
	ARG_LIFETIME,
	ARG_RESET,
	ARG_SIGNAL,
	ARG_EXPIRE,
	ARG_FDS_FROM,
};

static int parse_argv(int argc, char **argv) {
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{ "json", optional_argument, NULL, ARG_JSON },
		{ "no-legend", no_argument, NULL, ARG_NO_LEGEND },
		{ "host", required_argument, NULL, ARG_HOST },
		{ "socket", required_argument, NULL, ARG_SOCKET },
		{ "vfio", no_argument, NULL, ARG_VFIO },
		{ "blocking", no_argument, NULL, ARG_BLOCKING },
		{ "legacy", no_argument, NULL, ARG_LEGACY },
		{ "mode", required_argument, NULL, ARG_MODE },
		{ "device", required_argument, NULL, ARG_DEVICE },
		{ "iommu-group", required_argument, NULL, ARG_IOMMU_GROUP },
		{ "pool", required_argument, NULL, ARG_POOL },
		{ "count", required_argument, NULL, ARG_COUNT },
		{ "layout", required_argument, NULL, ARG_LAYOUT },
		{ "for", required_argument, NULL, ARG_FOR },
		{ "user", required_argument, NULL, ARG_USER },
		{ "group", required_argument, NULL, ARG_GROUP },
		{ "unit", required_argument, NULL, ARG_UNIT },
		{ "cgroup", required_argument, NULL, ARG_CGROUP },
		{ "label", required_argument, NULL, ARG_LABEL },
		{ "config", required_argument, NULL, ARG_CONFIG },
		{ "lifetime", required_argument, NULL, ARG_LIFETIME },
		{ "reset", no_argument, NULL, ARG_RESET },
		{ "signal", no_argument, NULL, ARG_SIGNAL },
		{ "expire", required_argument, NULL, ARG_EXPIRE },
		{ "fds-from", required_argument, NULL, ARG_FDS_FROM },
		{ "quiet", no_argument, NULL, 'q' },
		{}
	};
	int c, r;
	uint64_t v;

	while ((c = getopt_long(argc, argv, "hJq", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			help();
			return 0;
		case ARG_VERSION:
			printf("ioasidctl %s\n", IOASID_VERSION);
			return 0;
		case 'J':
			arg_json = JSON_PRETTY;
			break;
		case ARG_JSON:
			if (!optarg || streq(optarg, "pretty"))
				arg_json = JSON_PRETTY;
			else if (streq(optarg, "short"))
				arg_json = JSON_SHORT;
			else if (streq(optarg, "off"))
				arg_json = JSON_OFF;
			else
				return ioasidctl_error(-EXIT_USAGE, "Unknown --json mode '%s'", optarg);
			break;
		case ARG_NO_LEGEND:
			arg_legend = false;
			break;
		case ARG_HOST:
			arg_host = optarg;
			break;
		case ARG_SOCKET:
			arg_socket = optarg;
			break;
		case ARG_VFIO:
			arg_vfio = true;
			break;
		case ARG_BLOCKING:
			arg_blocking = true;
			break;
		case ARG_LEGACY:
			arg_legacy = true;
			break;
		case ARG_MODE:
			if (policy_mode_from_string(optarg) < 0)
				return ioasidctl_error(-EXIT_USAGE,
						       "Unknown mode '%s' (attached or unbound)", optarg);
			arg_mode = optarg;
			break;
		case ARG_DEVICE: {
			char bdf[BDF_MAX];
			if (bdf_parse(optarg, bdf) < 0)
				return ioasidctl_error(-EXIT_USAGE, "'%s' is not a PCI address", optarg);
			if (strv_extend(&arg_devices, bdf) < 0)
				return ioasidctl_error(-1, "Out of memory");
			break;
		}
		case ARG_IOMMU_GROUP:
			r = num_parse_u64(optarg, INT32_MAX, &v);
			if (r < 0)
				return ioasidctl_error(-EXIT_USAGE, "'%s' is not an IOMMU group number",
						       optarg);
			arg_iommu_group = (int)v;
			break;
		case ARG_POOL:
			arg_pool = optarg;
			break;
		case ARG_COUNT:
			r = num_parse_u64(optarg, IOASID_MAX_DEVICES_PER_REQUEST, &v);
			if (r < 0 || v == 0)
				return ioasidctl_error(-EXIT_USAGE, "--count takes 1..%d",
						       IOASID_MAX_DEVICES_PER_REQUEST);
			arg_count = (unsigned)v;
			break;
		case ARG_LAYOUT:
			arg_layout = optarg;
			break;
		case ARG_FOR:
			arg_for = optarg;
			break;
		case ARG_USER:
			arg_user = optarg;
			break;
		case ARG_GROUP:
			arg_group = optarg;
			break;
		case ARG_UNIT:
			arg_unit = optarg;
			break;
		case ARG_CGROUP:
			arg_cgroup = optarg;
			break;
		case ARG_LABEL:
			arg_label = optarg;
			break;
		case ARG_CONFIG:
			arg_config = optarg;
			break;
		case ARG_LIFETIME:
			if (policy_lifetime_from_string(optarg) < 0)
				return ioasidctl_error(-EXIT_USAGE,
						       "Unknown lifetime '%s' (connection or process)",
						       optarg);
			arg_lifetime = optarg;
			break;
		case ARG_RESET:
			arg_reset = true;
			break;
		case ARG_SIGNAL:
			arg_signal = true;
			break;
		case ARG_EXPIRE:
			r = num_parse_u64(optarg, IOASID_STAGE_TIMEOUT_MAX, &v);
			if (r < 0 || v == 0)
				return ioasidctl_error(-EXIT_USAGE, "--expire takes 1..%d seconds",
						       IOASID_STAGE_TIMEOUT_MAX);
			arg_expire = v;
			break;
		case ARG_FDS_FROM:
			if (num_parse_u64(optarg, 65536, &v) < 0 || v < 3)
				return ioasidctl_error(-EXIT_USAGE,
						       "Invalid --fds-from '%s' (a number from 3)",
						       optarg);
			arg_fds_from = (unsigned)v;
			break;
		case 'q':
			arg_quiet = true;
			break;
		case '?':
			return -EXIT_USAGE;
		default:
			abort();
		}
	}
	return 1;
}

int main(int argc, char **argv) {
	int r;

	/* argc == 0 (execve with an empty argv): nothing sensible to do (PwnKit lesson). Linux
	 * >= 5.18 turns an empty argv into { "", NULL }, so an empty argv[0] is the same case. */
	if (argc < 1 || isempty(argv[0]))
		return EXIT_USAGE;

	r = parse_argv(argc, argv);
	if (r <= 0) {
		strv_free(arg_devices);
		return r < 0 ? -r : 0;
	}

	const char *name = optind < argc ? argv[optind] : "groups";
	const Verb *verb = NULL;
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (streq(verbs[i].name, name))
			verb = &verbs[i];
	if (!verb) {
		strv_free(arg_devices);
		return ioasidctl_error(EXIT_USAGE, "Unknown verb '%s' (see --help)", name);
	}

	char *fallback[] = { (char *)name, NULL };
	if (optind < argc)
		r = verb->run(argc - optind, argv + optind);
	else
		r = verb->run(1, fallback);
	strv_free(arg_devices);
	return r;
}
