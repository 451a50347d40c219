/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasidd's entry: arguments, the start (policy, host model, kernel backend, capabilities,
 * probes, signals, what systemd passed), the event loop and the orderly stop. Layer: the top;
 * calls listener.c, server.c, manager.c, udev.c, hold.c and the leaf modules, never the
 * method layer.
 */
#include <fcntl.h>
#include <getopt.h>
#include <linux/capability.h>
#include <malloc.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include "common/macro.h"
#include "common/proto.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/log.h"
#include "ioasidd/server.h"

static const char *arg_kernel = "linux";
static const char *arg_host;
static const char *arg_config = IOASID_CONFIG_PATH;
static const char *arg_socket;
static bool arg_check_config;
static bool arg_testing_bypass;

static void help(void) {
	printf("Usage: ioasidd [OPTIONS]\n\n"
	       "Brokers IOMMU-isolated devices (iommufd + VFIO cdev fds) to unprivileged "
	       "clients.\n\n"
	       "  -h --help              Show this help\n"
	       "     --version           Show the version\n"
	       "     --kernel=linux|sim  Kernel backend (default: linux)\n"
	       "     --host=FILE         Host snapshot (required with --kernel=sim; default: live "
	       "scan)\n"
	       "     --config=FILE       Policy file (default: %s)\n"
	       "     --socket=PATH       Create and listen on PATH (default: socket activation, "
	       "else %s)\n"
	       "     --check-config      Load the policy, print errors as file:line:col, exit 0/1\n"
#ifdef IOASID_TESTING_BYPASS
	       "     --testing-bypass-ownership\n"
	       "                         TEST BUILD ONLY: skip group bookkeeping and viability "
	       "checks\n"
#endif
	       ,
	       IOASID_CONFIG_PATH, IOASID_SOCKET_PATH);
}

/* Returns 1 to continue, 0 to exit successfully, <0 on a usage error. */
static int parse_argv(int argc, char **argv) {
	enum {
		ARG_VERSION = 0x100,
		ARG_KERNEL,
		ARG_HOST,
		ARG_CONFIG,
		ARG_SOCKET,
		ARG_CHECK_CONFIG,
		ARG_TESTING_BYPASS,
	};
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{ "kernel", required_argument, NULL, ARG_KERNEL },
		{ "host", required_argument, NULL, ARG_HOST },
		{ "config", required_argument, NULL, ARG_CONFIG },
		{ "socket", required_argument, NULL, ARG_SOCKET },
		{ "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
#ifdef IOASID_TESTING_BYPASS
		{ "testing-bypass-ownership", no_argument, NULL, ARG_TESTING_BYPASS },
#endif
		{}
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			help();
			return 0;
		case ARG_VERSION:
			printf("ioasidd %s\n", IOASID_VERSION);
			return 0;
		case ARG_KERNEL:
			if (!streq(optarg, "linux") && !streq(optarg, "sim")) {
				fprintf(stderr, "ioasidd: unknown kernel backend '%s'\n", optarg);
				return -EINVAL;
			}
			arg_kernel = optarg;
			break;
		case ARG_HOST:
			arg_host = optarg;
			break;
		case ARG_CONFIG:
			arg_config = optarg;
			break;
		case ARG_SOCKET:
			arg_socket = optarg;
			break;
		case ARG_CHECK_CONFIG:
			arg_check_config = true;
			break;
		case ARG_TESTING_BYPASS:
			arg_testing_bypass = true;
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ioasidd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (streq(arg_kernel, "sim") && !arg_host && !arg_check_config) {
		fprintf(stderr, "ioasidd: --kernel=sim needs --host=FILE\n");
		return -EINVAL;
	}
	return 1;
}

static void print_policy_error(const char *path, int r, const PolicyError *e) {
	/* A refused path has no line: "FILE: message", as ioasidctl prints it. */
	if (e->message && e->line == 0)
		fprintf(stderr, "%s: %s\n", e->file ? e->file : path, e->message);
	else if (e->message)
		fprintf(stderr, "%s:%u:%u: %s\n", e->file ? e->file : path, e->line, e->column,
			e->message);
	else
		fprintf(stderr, "%s: %s\n", path, strerror(-r));
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
	Manager *m = userdata;
	sd_notify(false, "RELOADING=1");
	/* Audited as the signal's, with its sender (not as a Reload call). */
	(void)manager_reload(m,
			     &(AuditActor){ .cause = "signal SIGHUP",
					    .uid = (uid_t)si->ssi_uid,
					    .pid = (pid_t)si->ssi_pid },
			     NULL);
	sd_notify(false, "READY=1");
	return 0;
}

/* Why the daemon stops, for the records of the leases that end with it. */
static char stop_reason[128] = "daemon stopping";

static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
	Manager *m = userdata;
	m->stopping = true;
	snprintf(stop_reason, sizeof(stop_reason), "daemon stopping: signal %s from uid %u pid %u",
		 si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM", (unsigned)si->ssi_uid,
		 (unsigned)si->ssi_pid);
	sd_notify(false, "STOPPING=1\nSTATUS=Shutting down");
	sd_event_exit(m->event, 0);
	return 0;
}

/* Per-process accounting needs CAP_SYS_RESOURCE at set time: find out once, say so once. */
static void probe_accounting(Manager *m) {
	int fd = -EBADF;
	int r = kernel_iommufd_open(m->kernel, &fd);
	if (r < 0) {
		log_debug("Accounting probe: cannot open iommufd: %s", strerror(-r));
		m->accounting_unknown = true;
		return;
	}
	bool raised = caps_raise(CAP_SYS_RESOURCE);
	r = kernel_iommufd_set_rlimit_mode(m->kernel, fd, true);
	caps_lower(CAP_SYS_RESOURCE, raised);
	kernel_close(m->kernel, fd);
	if (r == -EPERM) {
		m->rlimit_mode_eperm = true;
		log_warning("Per-process memory accounting unavailable (no CAP_SYS_RESOURCE): "
			    "pinned memory is charged per user");
		strv_extend(&m->warnings,
			    "per-process accounting unavailable: no CAP_SYS_RESOURCE");
	} else if (r < 0)
		log_debug("Accounting probe: %s", strerror(-r));
}

/* --check-config runs with its caller's capabilities, which are not the daemon's: say what
 * they would mean for a daemon started with them. */
static void check_config_accounting(const char *path, const Policy *p) {
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
	_cleanup_free_ char *layouts = NULL;
	if (policy_describe_process_accounting(p, &layouts) <= 0)
		return;
	if (syscall(SYS_capget, &h, d) >= 0 &&
	    (d[CAP_TO_INDEX(CAP_SYS_RESOURCE)].permitted & CAP_TO_MASK(CAP_SYS_RESOURCE)))
		return;
	fprintf(stderr,
		"%s: warning: layouts %s use 'accounting process', which needs CAP_SYS_RESOURCE: "
		"this process lacks it, and an ioasidd started with the same capabilities would "
		"fail every Acquire with them (iommufd-set-rlimit-mode: EPERM); %s\n",
		path, layouts, MANAGER_ACCOUNTING_FIX);
}

/* VFIO's unsafe noiommu mode gives whoever holds such a device DMA to all of memory: say so
 * at start, with what the policy does about it. */
static void warn_noiommu(Manager *m) {
	size_t n = 0;
	for (size_t i = 0; i < m->host->n_devices; i++)
		n += m->host->devices[i].noiommu;
	if (m->host->kernel.noiommu_mode != TRI_YES && n == 0)
		return;
	const PolicySettings *ps = m->policy ? policy_settings(m->policy) : NULL;
	log_warning("VFIO runs in unsafe noiommu mode (enable_unsafe_noiommu_mode=Y, %zu noiommu "
		    "device(s)): their holders can DMA to all of memory; %s",
		    n,
		    ps && ps->allow_noiommu ? "the policy hands them out (allow-noiommu yes)"
					    : "Acquire refuses them (allow-noiommu is off)");
	strv_extend(&m->warnings, "VFIO noiommu mode: noiommu devices have no DMA isolation");
}

static void manager_done(Manager *m) {
	udev_monitor_stop(m);
	hold_stop(m);
	/* Replies finished or dropped whole first: that decides which leases were delivered.
	 * Then leases end, each audited (cause "shutdown"), before their connections go. */
	server_drain(m);
	manager_stop_leases(m, stop_reason);
	server_close_all(m);
	listener_close(m);
	lease_table_clear(&m->leases);
	policy_free(m->policy);
	kernel_free(m->kernel);
	host_free(m->host);
	strv_free(m->warnings);
	sd_event_unref(m->event);
	audit_flush();
}

/*
 * Fds 0, 1 and 2 open (on /dev/null) before anything else. Started with one of them closed
 * (a shell's 2>&-), the daemon's first socket would take its number: a client's connection
 * could become fd 2 and be written the log and the audit records. It also means accept()
 * never returns 0.
 */
static void stdio_guard(void) {
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* The lowest free number: fd itself, the ones below it being open. */
		int n = open("/dev/null", O_RDWR | O_NOCTTY);
		if (n >= 0 && n != fd) {
			(void)dup2(n, fd);
			close(n);
		}
	}
}

/* --check-config: load the policy, print errors as file:line:col. The exit status. */
static int check_config(void) {
	Policy *p = NULL;
	PolicyError e = { 0 };
	int r = manager_load_policy(arg_config, 1, &p, &e);
	if (r < 0) {
		print_policy_error(arg_config, r, &e);
		policy_error_done(&e);
		return 1;
	}
	check_config_accounting(arg_config, p);
	policy_free(p);
	return 0;
}

/* The policy (fail closed: no READY=1 unless it loads), the host model and the kernel
 * backend. 0 or -errno (logged). */
static int start_model(Manager *m) {
	PolicyError e = { 0 };
	int r = manager_load_policy(arg_config, 1, &m->policy, &e);
	if (r < 0) {
		print_policy_error(arg_config, r, &e);
		policy_error_done(&e);
		return log_error_errno(r, "Refusing to start: the policy '%s' does not load",
				       arg_config);
	}
	m->generation = 1;
	if (arg_host) {
		char *err = NULL;
		r = host_load_json_file(arg_host, &m->host, &err);
		if (r < 0) {
			log_error("Cannot load host snapshot '%s': %s", arg_host,
				  err ? err : strerror(-r));
			free(err);
			return r;
		}
	} else if ((r = host_load_live(&m->host)) < 0)
		return log_error_errno(r, "Cannot scan the host: %m");
	r = kernel_new(arg_kernel, m->host, &m->kernel);
	if (r < 0)
		return log_error_errno(r, "Cannot set up the '%s' kernel backend: %m", arg_kernel);
	m->leases.kernel = m->kernel;
	server_register_hooks(m);
	return 0;
}

/* What this process and kernel can do, each shortfall a warning (and a line of Status). */
static void start_probes(Manager *m) {
	/* From here on no capability is effective: each is raised around its call (caps.c). */
	int r = caps_setup();
	if (r < 0)
		log_warning_errno(r, "Cannot reduce the daemon's capabilities: %m");
	m->pidfd_supported = identity_probe_pidfd();
	if (!m->pidfd_supported) {
		log_warning("SO_PEERPIDFD unsupported by this kernel: peers are identified by "
			    "SO_PEERCRED only; pid, cgroup and process-lifetime rules deny");
		strv_extend(&m->warnings, "SO_PEERPIDFD unsupported: pid-dependent rules deny");
	}
	char hidden[256];
	if (identity_probe_proc(hidden, sizeof(hidden)) > 0) {
		log_warning("%s: the cgroup of such a peer cannot be read, unit, user-unit and "
			    "cgroup rules never match it",
			    hidden);
		strv_extend(&m->warnings, "/proc hides peers from the daemon (hidepid): unit, "
					  "user-unit and cgroup rules never match them");
	}
	probe_accounting(m);
	manager_warn_process_accounting(m);
	warn_noiommu(m);
}

/* Signals, the closer thread, the event loop and its sources. 0 or -errno (logged). */
static int start_loop(Manager *m) {
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* After the signal mask: the thread inherits it, so SIGHUP/SIGTERM reach the loop. */
	int r = closer_start();
	if (r < 0)
		log_warning_errno(r, "No closer thread, fds pushed by clients are closed "
				     "inline: %m");
	r = sd_event_default(&m->event);
	if (r < 0)
		return log_error_errno(r, "Cannot create the event loop: %m");
	if (sd_event_add_signal(m->event, NULL, SIGTERM, on_terminate, m) < 0 ||
	    sd_event_add_signal(m->event, NULL, SIGINT, on_terminate, m) < 0 ||
	    sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m) < 0)
		return log_error_errno(EINVAL, "Cannot watch signals");
	(void)sd_event_set_watchdog(m->event, true);
	r = hold_start(m);
	if (r < 0)
		log_warning_errno(r, "Cannot watch the kernel backend's file releases: held groups "
				     "are re-checked every few seconds only: %m");
	if (!arg_host) {
		r = udev_monitor_start(m);
		if (r < 0)
			log_warning_errno(r, "No udev monitor (hotplug and driver changes will not "
					     "be seen until restart): %m");
	}
	return 0;
}

/* One fd systemd passed that is neither the state nor a stored lease or connection: the
 * listening socket (socket activation), else dropped. 0 or -errno (logged). */
static int take_other_fd(Manager *m, int fd, const char *name) {
	if (m->listen_fd < 0 && sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0) {
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			return log_error_errno(errno, "Cannot set up the passed socket: %m");
		m->listen_fd = fd;
		m->socket_activated = true;
		return 0;
	}
	log_warning("Unknown fd '%s' passed by systemd: dropped", name);
	if (!isempty(name) && m->fdstore) {
		char msg[300];
		snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
		(void)sd_notify(false, msg);
	}
	safe_close(fd);
	return 0;
}

/* The leases the previous instance kept in the fdstore, with the connections of those of
 * connection lifetime (adopted here, by the server, under their old ids). */
static void restore_leases(Manager *m, int *fds, char **names, size_t n) {
	_cleanup_free_ StoredConnection *conns = NULL;
	size_t n_conns = 0;
	int k = manager_restore(m, fds, names, n, &conns, &n_conns);
	for (size_t i = 0; i < n_conns; i++) {
		Connection *c = NULL;
		if (server_adopt(m, conns[i].fd, conns[i].id, &c) >= 0)
			state_restore_attach(m, conns[i].id, c);
	}
	k -= state_restore_finish(m);
	log_info("Restored %d lease(s) from the fdstore", k);
}

/* What systemd passed: the listening socket (socket activation) and, after a restart, the
 * fdstore entries that keep leases alive (restored here). 0 or -errno (logged). */
static int take_passed_fds(Manager *m) {
	m->fdstore = !isempty(getenv("NOTIFY_SOCKET"));
	_cleanup_strv_free_ char **names = NULL;
	int n_passed = sd_listen_fds_with_names(true, &names);
	if (n_passed < 0)
		return log_error_errno(n_passed, "sd_listen_fds_with_names() failed: %m");
	int r = 0;
	_cleanup_free_ int *stored_fds = n_passed > 0 ? calloc((size_t)n_passed, sizeof(int))
						      : NULL;
	_cleanup_strv_free_ char **stored_names =
		n_passed > 0 ? calloc((size_t)n_passed + 1, sizeof(char *)) : NULL;
	size_t n_stored = 0;
	for (int i = 0; i < n_passed && r >= 0; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] ? names[i] : "";
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		if (streq(name, "state")) {
			/* An earlier version kept one record of all leases under "state", and
			 * their files under other names: none of it is restored (dropped as
			 * unclaimed), and their devices stay busy until the holders close them. */
			log_warning(
				"Stored state of an earlier ioasidd dropped: its leases are not "
				"restored");
			r = take_other_fd(m, fd, name);
		} else if ((name[0] == 'L' || name[0] == 'C') && stored_fds && stored_names &&
			   (stored_names[n_stored] = strdup(name)))
			stored_fds[n_stored++] = fd;
		else
			r = take_other_fd(m, fd, name);
	}
	if (r < 0)
		return r;
	if (n_stored > 0)
		restore_leases(m, stored_fds, stored_names, n_stored);
	return 0;
}

int main(int argc, char **argv) {
	stdio_guard();
	log_setup();
	int r = parse_argv(argc, argv);
	if (r <= 0)
		return r < 0 ? EXIT_USAGE : 0;
	if (arg_check_config)
		return check_config();

	Manager m = {
		.kernel_name = arg_kernel,
		.host_path = arg_host,
		.config_path = arg_config,
		.socket_path = arg_socket,
		.listen_fd = -EBADF,
		.testing_bypass = arg_testing_bypass,
	};
	if (m.testing_bypass)
		log_warning(
			"TESTING: group bookkeeping bypassed; never use this build in production");
	if (start_model(&m) < 0) {
		manager_done(&m);
		return 1;
	}
	start_probes(&m);
	if (start_loop(&m) < 0 || take_passed_fds(&m) < 0 || listener_start(&m) < 0) {
		manager_done(&m);
		return 1;
	}
	caps_forget(CAP_CHOWN); /* only ever needed for the socket's group */

	/* Loading a big host snapshot leaves its parse tree's memory in the heap: return it. */
	malloc_trim(0);

	log_info("Serving on %s (kernel %s, %zu devices, %zu groups, policy generation %llu)",
		 m.socket_activated ? "the socket passed by systemd" : m.socket_path,
		 kernel_name(m.kernel), m.host->n_devices, m.host->n_groups,
		 (unsigned long long)m.generation);
	sd_notifyf(false, "READY=1\nSTATUS=Serving, policy generation %llu",
		   (unsigned long long)m.generation);

	r = sd_event_loop(m.event);
	sd_notify(false, "STOPPING=1");
	if (r < 0)
		log_error_errno(r, "Event loop failed: %m");
	manager_done(&m);
	closer_stop();
	return r < 0 ? 1 : 0;
}
