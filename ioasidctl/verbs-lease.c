/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasidctl acquire | run | leases | status | revoke: the verbs that talk to ioasidd.
 *
 * acquire holds its lease until stdin reaches EOF or SIGINT/SIGTERM arrives, so
 * `ioasidctl acquire X --json </dev/null` acquires, prints, releases and exits, and a test can
 * hold a lease by keeping stdin open. run becomes the program it runs, which holds the lease
 * through the inherited connection (see verb_run).
 *
 * Exit codes: 0 ok, 1 failure, 2 denied / not viable / group owned, 64 usage, 69 daemon
 * unavailable.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>

#include "common/client/client.h"
#include "common/macro.h"
#include "ioasidctl/ioasidctl.h"
#include "ioasidctl/verbs.h"
#include "ioasidctl/output.h"
#include "policy/policy.h"

/* Named errors that mean "you may not have this" rather than "something broke" (exit 2).
 * DeviceBusy is the device itself leased to another owner: the group-owned case. */
static bool error_is_refusal(const IoasidError *e) {
	static const char *const refusals[] = {
		IOASID_ERROR_PERMISSION_DENIED, IOASID_ERROR_GROUP_NOT_VIABLE,
		IOASID_ERROR_GROUP_OWNED,       IOASID_ERROR_DEVICE_BUSY,
		IOASID_ERROR_DEPENDENT_OWNED,   IOASID_ERROR_MANAGER_PERMISSION_DENIED,
		IOASID_ERROR_OWNER_DENIED,      IOASID_ERROR_FRAMEWORK_CONFLICT,
	};
	for (size_t i = 0; i < ELEMENTSOF(refusals); i++)
		if (ioasid_error_is(e, refusals[i]))
			return true;
	return false;
}

static bool errno_is_unavailable(int r) {
	return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN || r == -ECONNREFUSED ||
	       r == -ENOENT || r == -ETIMEDOUT;
}

/* Reports a failed call on stderr (one line) and returns the exit code. */
static int report_call_error(const char *what, int r, const IoasidError *e) {
	if (r == -EREMOTEIO)
		return ioasidctl_error(error_is_refusal(e) ? EXIT_NOT_VIABLE : 1, "%s",
				       e->message ? e->message : strna(e->name));
	if (errno_is_unavailable(r))
		return ioasidctl_error(EXIT_UNAVAILABLE, "%s: ioasidd closed the connection (%s)",
				       what, strerror(-r));
	if (r == -EBADMSG)
		return ioasidctl_error(1, "%s: malformed reply from ioasidd", what);
	return ioasidctl_error(1, "%s: %s", what, strerror(-r));
}

/* Who may connect: the group of the socket (systemd's SocketGroup=, the policy's
 * socket-group), else the policy's socket-group when its file is readable. */
static void socket_group_name(const char *path, char *buf, size_t size) {
	struct stat st;
	buf[0] = '\0';
	if (stat(path, &st) >= 0 && st.st_gid != 0) {
		struct group *g = getgrgid(st.st_gid);
		if (g)
			snprintf(buf, size, "%s", g->gr_name);
		else
			snprintf(buf, size, "%u", (unsigned)st.st_gid);
		return;
	}
	_cleanup_policy_free_ Policy *p = NULL;
	PolicyError e = {};
	PolicyLoadOptions o = { .check_owner = true };
	if (policy_load(IOASID_CONFIG_PATH, &o, &p, &e) >= 0 && policy_settings(p)->socket_group)
		snprintf(buf, size, "%s", policy_settings(p)->socket_group);
	policy_error_done(&e);
}

/* Whether the socket's group is one this process's user namespace does not map: the kernel
 * shows such a gid as its overflow gid (a rootless container sees the host's socket group as
 * 65534, "nogroup"). The initial namespace maps every id ("0 0 4294967295"). */
static bool socket_group_unmapped(const char *path) {
	unsigned long overflow = 65534, inside, outside, count;
	struct stat st;

	if (stat(path, &st) < 0)
		return false;
	_cleanup_fclose_ FILE *o = fopen("/proc/sys/kernel/overflowgid", "re");
	if (o && fscanf(o, "%lu", &overflow) != 1)
		overflow = 65534;
	if (st.st_gid != (gid_t)overflow)
		return false;
	_cleanup_fclose_ FILE *m = fopen("/proc/self/gid_map", "re");
	if (!m || fscanf(m, "%lu %lu %lu", &inside, &outside, &count) != 3)
		return false;
	return !(inside == 0 && outside == 0 && count == UINT32_MAX);
}

static int connect_daemon(IoasidClient **ret) {
	const char *path = ioasid_client_socket_path(arg_socket);
	int r = ioasid_client_connect(path, ret);
	if ((r == -EACCES || r == -EPERM) && socket_group_unmapped(path))
		/* Its members' access is their host groups, which only a runtime that keeps
		 * them passes on: naming 65534 would send the user the wrong way. */
		return ioasidctl_error(
			EXIT_UNAVAILABLE,
			"Cannot connect to ioasidd at '%s': %s (the socket's group is not mapped "
			"into this user namespace: in a rootless container, a member of that "
			"group keeps access with 'podman run --group-add keep-groups')",
			path, strerror(-r));
	if (r == -EACCES || r == -EPERM) {
		char group[256];
		socket_group_name(path, group, sizeof(group));
		if (group[0])
			return ioasidctl_error(
				EXIT_UNAVAILABLE,
				"Cannot connect to ioasidd at '%s': %s (members of "
				"group '%s' may connect: usermod -aG %s USER, then log "
				"in again)",
				path, strerror(-r), group, group);
		return ioasidctl_error(
			EXIT_UNAVAILABLE,
			"Cannot connect to ioasidd at '%s': %s (only root may connect: "
			"set socket-group in the policy and SocketGroup= of "
			"ioasidd.socket)",
			path, strerror(-r));
	}
	if (r < 0)
		return ioasidctl_error(EXIT_UNAVAILABLE, "Cannot connect to ioasidd at '%s': %s",
				       path, strerror(-r));
	return 0;
}

/* Builds the request from positional BDFs, --device, --iommu-group, --pool/--count. */
static int build_request(char **positional, IoasidAcquireRequest *req, char ***ret_devices) {
	_cleanup_strv_free_ char **devices = arg_devices ? strv_copy(arg_devices) : NULL;

	if (arg_devices && !devices)
		return ioasidctl_error(1, "Out of memory");
	for (char **p = positional; p && *p; p++) {
		char bdf[BDF_MAX];
		if (bdf_parse(*p, bdf) < 0)
			return ioasidctl_error(EXIT_USAGE, "'%s' is not a PCI address", *p);
		if (!strv_contains(devices, bdf) && strv_extend(&devices, bdf) < 0)
			return ioasidctl_error(1, "Out of memory");
	}
	int n = !!devices + (arg_iommu_group >= 0) + !!arg_pool + !!arg_vdpa;
	if (n != 1)
		return ioasidctl_error(
			EXIT_USAGE,
			"Name the devices: BDFs, --iommu-group N, --pool P --count N, or --vdpa NAME "
			"(exactly one of them)");
	if (arg_vdpa && arg_layout)
		return ioasidctl_error(EXIT_USAGE,
				       "--layout does not go with --vdpa (vhost-vdpa has no IOAS)");
	if (arg_count > 0 && !arg_pool)
		return ioasidctl_error(EXIT_USAGE, "--count goes with --pool");
	if (strv_length(devices) > IOASID_MAX_DEVICES_PER_REQUEST)
		return ioasidctl_error(EXIT_USAGE, "At most %d devices per lease",
				       IOASID_MAX_DEVICES_PER_REQUEST);

	*req = (IoasidAcquireRequest){
		.devices = devices,
		.group = arg_iommu_group,
		.pool = arg_pool,
		.vdpa = arg_vdpa,
		.count = arg_pool ? (arg_count ?: 1) : 0,
		.mode = arg_mode,
		.layout = arg_layout,
		.lifetime = arg_lifetime,
	};
	*ret_devices = TAKE_PTR(devices);
	return 0;
}

/* Describes one received fd and checks it is what the reply says it is: a want of kind,
 * for a device the bdf (a real legacy device fd does not name its device: any passes), for
 * a group node the number. Adds "fd", "kind", "name", "cloexec", "verified" to o. Returns
 * verified. */
static bool fd_check(int fd, IoasidFdKind want, const char *bdf, int group, json_object *o,
		     char **ret_name) {
	IoasidFdInfo info = { .group = -1 };
	bool ok = false;

	if (ioasid_fd_describe(fd, NULL, &info) >= 0) {
		ok = info.kind == want;
		if (bdf && (want == IOASID_FD_VFIO_DEVICE || info.bdf[0]))
			ok = ok && streq(info.bdf, bdf);
		if (group >= 0)
			ok = ok && info.group == group;
		ok = ok && info.cloexec;
	}
	json_object_object_add(o, "fd", json_object_new_int(fd));
	json_object_object_add(o, "kind",
			       json_object_new_string(ioasid_fd_kind_to_string(info.kind)));
	json_object_object_add(o, "name", info.name ? json_object_new_string(info.name) : NULL);
	if (info.major || info.minor) {
		char dev[32];
		snprintf(dev, sizeof(dev), "%u:%u", info.major, info.minor);
		json_object_object_add(o, "dev", json_object_new_string(dev));
	} else
		json_object_object_add(o, "dev", NULL);
	json_object_object_add(o, "sim", json_object_new_boolean(info.sim));
	json_object_object_add(o, "cloexec", json_object_new_boolean(info.cloexec));
	json_object_object_add(o, "verified", json_object_new_boolean(ok));
	if (info.major || info.minor) {
		if (asprintf(ret_name, "%s (char %u:%u)", strna(info.name), info.major,
			     info.minor) < 0)
			*ret_name = NULL;
	} else
		*ret_name = strdup(info.name ? info.name : "?");
	ioasid_fd_info_done(&info);
	return ok;
}

/* The --json document of acquire and the human form from the same object. Returns whether
 * every fd checked out. */
static bool print_result(const IoasidAcquireResult *res) {
	_cleanup_json_ json_object *o = json_object_new_object();
	_cleanup_table_ Table *t = table_new("FD", "WHAT", "RECEIVED AS", "IDS", NULL);
	json_object *iommu = json_object_new_object(), *devs = json_object_new_array();
	_cleanup_free_ char *iname = NULL;
	bool ok, legacy = res->api && streq(res->api, "legacy"),
		 vdpa = res->api && streq(res->api, "vhost-vdpa");
	char ids[64];

	json_object_object_add(o, "lease", json_object_new_string(res->lease));
	json_object_object_add(o, "mode", json_object_new_string(res->mode));
	json_object_object_add(o, "ioas_id", json_int_or_null(res->ioas_id >= 0, res->ioas_id));
	json_object_object_add(o, "rule", json_object_new_string(res->rule));
	json_object_object_add(o, "generation", json_object_new_int64((int64_t)res->generation));
	json_object_object_add(o, "memlock", json_int_or_null(res->memlock >= 0, res->memlock));
	json_object_object_add(o, "staged",
			       res->staged ? json_object_new_string(res->staged) : NULL);
	json_object_object_add(o, "at_risk", json_strv(res->at_risk));
	json_object_object_add(o, "warnings", json_strv(res->warnings));

	json_object_object_add(o, "api", json_object_new_string(res->api ? res->api : "iommufd"));
	char fdbuf[16];
	json_object_object_add(o, "vdpa", vdpa ? json_object_new_string(res->vdpa) : NULL);
	if (vdpa) {
		/* The vDPA device's char device is the lease's only fd. */
		ok = fd_check(res->vhost_fd, IOASID_FD_VHOST_VDPA, NULL, -1, iommu, &iname);
		json_object_object_add(o, "iommufd", NULL);
		json_object_object_add(o, "container", NULL);
		json_object_object_add(o, "vhost", iommu);
		snprintf(fdbuf, sizeof(fdbuf), "%d", res->vhost_fd);
		if (t)
			table_add_row(t, fdbuf, "vhost-vdpa", iname, res->vdpa);
	} else if (legacy) {
		/* The container stands where the iommufd is in the iommufd API. */
		ok = fd_check(res->container, IOASID_FD_VFIO_CONTAINER, NULL, -1, iommu, &iname);
		json_object_object_add(o, "iommufd", NULL);
		json_object_object_add(o, "container", iommu);
		json_object_object_add(o, "vhost", NULL);
		snprintf(fdbuf, sizeof(fdbuf), "%d", res->container);
		if (t)
			table_add_row(t, fdbuf, "container", iname, "type1v2");
	} else {
		ok = fd_check(res->iommufd, IOASID_FD_IOMMUFD, NULL, -1, iommu, &iname);
		json_object_object_add(o, "iommufd", iommu);
		json_object_object_add(o, "container", NULL);
		json_object_object_add(o, "vhost", NULL);
		snprintf(fdbuf, sizeof(fdbuf), "%d", res->iommufd);
		if (res->ioas_id >= 0)
			snprintf(ids, sizeof(ids), "ioas %" PRIi64, res->ioas_id);
		else
			snprintf(ids, sizeof(ids), "-");
		if (t)
			table_add_row(t, fdbuf, "iommufd", iname, ids);
	}
	/* Legacy group nodes, once each, in the order of the devices. */
	json_object *groups = json_object_new_array();
	for (size_t i = 0; i < res->n_devices; i++) {
		const IoasidGrantedDevice *d = &res->devices[i];
		bool seen = d->group_fd < 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = res->devices[j].group_fd == d->group_fd;
		if (seen)
			continue;
		json_object *gj = json_object_new_object();
		_cleanup_free_ char *gname = NULL;
		IoasidFdInfo gi = { .group = -1 };
		int gnum = ioasid_fd_describe(d->group_fd, NULL, &gi) >= 0 ? gi.group : -1;
		ioasid_fd_info_done(&gi);
		ok = fd_check(d->group_fd, IOASID_FD_VFIO_GROUP, NULL, -1, gj, &gname) &&
		     gnum >= 0 && ok;
		json_object_object_add(gj, "group", gnum >= 0 ? json_object_new_int(gnum) : NULL);
		json_object_array_add(groups, gj);
		snprintf(fdbuf, sizeof(fdbuf), "%d", d->group_fd);
		snprintf(ids, sizeof(ids), "group %d", gnum);
		if (t)
			table_add_row(t, fdbuf, "group", gname, ids);
	}
	json_object_object_add(o, "groups", groups);

	for (size_t i = 0; i < res->n_devices; i++) {
		const IoasidGrantedDevice *d = &res->devices[i];
		json_object *dj = json_object_new_object();
		_cleanup_free_ char *dname = NULL;

		json_object_object_add(dj, "bdf", json_object_new_string(d->bdf));
		json_object_object_add(dj, "dev_id", json_int_or_null(d->dev_id >= 0, d->dev_id));
		json_object_object_add(dj, "hwpt_id",
				       json_int_or_null(d->hwpt_id >= 0, d->hwpt_id));
		json_object_object_add(dj, "group_fd",
				       d->group_fd >= 0 ? json_object_new_int(d->group_fd) : NULL);
		ok = fd_check(d->fd, legacy ? IOASID_FD_VFIO_LEGACY_DEVICE : IOASID_FD_VFIO_DEVICE,
			      d->bdf, -1, dj, &dname) &&
		     ok;
		json_object_array_add(devs, dj);
		snprintf(fdbuf, sizeof(fdbuf), "%d", d->fd);
		if (d->dev_id >= 0)
			snprintf(ids, sizeof(ids), "dev %" PRIi64 " hwpt %" PRIi64, d->dev_id,
				 d->hwpt_id);
		else
			snprintf(ids, sizeof(ids), "-");
		if (t)
			table_add_row(t, fdbuf, d->bdf, dname, ids);
	}
	json_object_object_add(o, "devices", devs);
	json_object_object_add(o, "verified", json_object_new_boolean(ok));

	if (arg_json != JSON_OFF)
		output_json(o);
	else {
		printf("%sLease %s%s: %s mode, rule %s, policy generation %" PRIu64 "\n",
		       ansi_bold(), res->lease, ansi_normal(), res->mode, res->rule,
		       res->generation);
		if (res->staged)
			printf("Served from staged context %s\n", res->staged);
		if (res->memlock >= 0) {
			char mb[32];
			printf("RLIMIT_MEMLOCK: %s\n",
			       res->memlock == INT64_MAX
				       ? "unlimited"
				       : format_bytes(mb, sizeof(mb), (uint64_t)res->memlock));
		}
		if (t)
			table_print(t);
		if (res->at_risk && *res->at_risk) {
			printf("%sAt risk (same IOMMU group, not leased):%s", ansi_yellow(),
			       ansi_normal());
			for (char **s = res->at_risk; *s; s++)
				printf(" %s", *s);
			printf("\n");
		}
		for (char **w = res->warnings; w && *w; w++)
			printf("%sWarning:%s %s\n", ansi_yellow(), ansi_normal(), *w);
	}
	fflush(stdout);
	return ok;
}

/* Blocks SIGINT/SIGTERM (plus extra) and returns a signalfd for them. */
static int block_signals(int extra) {
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	if (extra > 0)
		sigaddset(&ss, extra);
	if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
		return -errno;
	return RET_NERRNO(signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK));
}

/* True when the daemon hung up (EOF or error on the connection). */
static bool connection_closed(int fd) {
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

/* Holds the lease until stdin EOF, SIGINT/SIGTERM, or the daemon hangs up. Returns 0 on a
 * normal end, -ECONNRESET when the daemon went away. */
static int hold_lease(IoasidClient *c) {
	_cleanup_close_ int sfd = block_signals(0);
	struct pollfd p[3] = {
		{ .fd = STDIN_FILENO, .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
		{ .fd = ioasid_client_fd(c), .events = POLLIN },
	};

	if (sfd < 0)
		return sfd;
	for (;;) {
		if (poll(p, ELEMENTSOF(p), -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents)
			return 0;
		if (p[2].revents && connection_closed(p[2].fd))
			return -ECONNRESET;
		if (p[0].revents & POLLNVAL)
			return 0;
		if (p[0].revents) {
			char buf[4096];
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				return 0;
		}
	}
}

static int release_lease(IoasidClient *c, const char *lease) {
	IoasidError e = {};
	int r = ioasid_client_release(c, lease, &e);
	if (r == -EREMOTEIO && ioasid_error_is(&e, IOASID_ERROR_NO_SUCH_LEASE))
		r = ioasidctl_error(1, "Lease %s had already ended (revoked by an administrator)",
				    lease);
	else if (r < 0)
		r = report_call_error("Release", r, &e);
	ioasid_error_done(&e);
	return r;
}

/* The IOMMU group of bdf as the daemon sees it (Broker.ListDevices), or -1. */
static int device_group(IoasidClient *c, const char *bdf) {
	_cleanup_(doc_freep) Doc *reply = NULL;
	const DocNode *params = NULL;
	int g = -1;

	if (ioasid_client_call(c, IOASID_IFACE_BROKER ".ListDevices", NULL, &reply, &params, NULL,
			       NULL, NULL) < 0)
		return -1;
	const DocNode *devs = doc_get(params, "devices");
	for (size_t i = 0; i < doc_len(devs); i++) {
		const DocNode *d = doc_at(devs, i), *v = doc_get(d, "iommuGroup");
		if (streq(strempty(doc_str(doc_get(d, "bdf"))), bdf) && doc_type(v) == DOC_INT &&
		    v->i >= 0 && v->i <= INT_MAX)
			g = (int)v->i;
	}
	return g;
}

/* A refusal that names a device but not its group: add the group to the message, so the one
 * error line names the device, its group and the rule. */
static void annotate_group(IoasidClient *c, IoasidError *e) {
	const char *bdf;
	int g;

	if (!e->name || !e->message || !e->parameters || !error_is_refusal(e) ||
	    doc_get(e->parameters, "group") || !(bdf = doc_str(doc_get(e->parameters, "device"))) ||
	    !bdf_is_canonical(bdf))
		return;
	g = device_group(c, bdf);
	if (g < 0)
		return;
	/* "... for BDF: reason" -> "... for BDF (IOMMU group N): reason" */
	char *at = strstr(e->message, bdf), *m = NULL;
	if (!at)
		return;
	at += strlen(bdf);
	if (asprintf(&m, "%.*s (IOMMU group %d)%s", (int)(at - e->message), e->message, g, at) < 0)
		return;
	free(e->message);
	e->message = m;
}

/* Connects and acquires; prints the error and returns an exit code (> 0) on failure. */
static int do_acquire(char **positional, IoasidClient **ret_client,
		      IoasidAcquireResult **ret_result) {
	_cleanup_(ioasid_client_freep) IoasidClient *c = NULL;
	_cleanup_strv_free_ char **devices = NULL;
	IoasidAcquireRequest req = IOASID_ACQUIRE_REQUEST_INIT;
	IoasidError e = {};
	int r;

	r = build_request(positional, &req, &devices);
	if (r > 0)
		return r;
	r = connect_daemon(&c);
	if (r > 0)
		return r;
	r = ioasid_client_acquire(c, &req, ret_result, &e);
	if (r < 0) {
		annotate_group(c, &e);
		r = report_call_error("Acquire", r, &e);
		ioasid_error_done(&e);
		return r;
	}
	*ret_client = TAKE_PTR(c);
	return 0;
}

/* Closes the fds received for res. Before Release: a lease released while its holder still
 * has the fds is over, but ioasidd keeps its groups ("held by ended lease") until they are
 * closed. */
static void result_close_fds(IoasidAcquireResult *res) {
	res->iommufd = safe_close(res->iommufd);
	res->container = safe_close(res->container);
	res->vhost_fd = safe_close(res->vhost_fd);
	for (size_t i = 0; i < res->n_group_fds; i++)
		res->group_fds[i] = safe_close(res->group_fds[i]);
	for (size_t i = 0; i < res->n_devices; i++) {
		res->devices[i].fd = safe_close(res->devices[i].fd);
		res->devices[i].group_fd = -EBADF;
	}
}

int verb_acquire(int argc, char **argv) {
	_cleanup_(ioasid_client_freep) IoasidClient *c = NULL;
	_cleanup_(ioasid_acquire_result_freep) IoasidAcquireResult *res = NULL;
	int r;

	r = do_acquire(argv + 1, &c, &res);
	if (r > 0)
		return r;
	if (!print_result(res)) {
		result_close_fds(res);
		(void)release_lease(c, res->lease);
		return ioasidctl_error(1,
				       "Lease %s: a received fd is not what the reply says it is",
				       res->lease);
	}
	if (arg_json == JSON_OFF && !arg_quiet && isatty(STDIN_FILENO))
		fprintf(stderr, "Holding lease %s; press Ctrl-D or Ctrl-C to release it\n",
			res->lease);

	r = hold_lease(c);
	if (r == -ECONNRESET)
		return ioasidctl_error(1, "ioasidd closed the connection: lease %s has ended",
				       res->lease);
	if (r < 0)
		return ioasidctl_error(1, "Waiting for stdin: %s", strerror(-r));
	result_close_fds(res);
	r = release_lease(c, res->lease);
	return r > 0 ? r : 0;
}

/* ---- run ---- */

/*
 * run becomes CMD: it acquires over its connection, places the lease's fds and that
 * connection at fixed numbers (not close-on-exec) and execve()s CMD in place. The lease's
 * connection is then held by CMD and by every process it passes it on to (over fork, exec or
 * SCM_RIGHTS): a lease of lifetime "connection" ends when the last of them closes it or
 * exits, not when some wrapper does; one of lifetime "process" ends with CMD (the pid is
 * ours, kept across the exec). Once it ends, a group whose device files some process still
 * holds stays "held by ended lease" in ioasidd until they are closed.
 *
 * The numbers, from --fds-from N (default 3, like LISTEN_FDS), with no gaps: the iommufd
 * (legacy: the container, then the group nodes handed out; vhost-vdpa: its char device, the
 * only one), the devices in the order of the reply, then the connection. So `podman run
 * --preserve-fds=K` (K = IOASID_FDS) passes exactly the lease's fds into a container.
 */
typedef struct Placement {
	int src[IOASID_MAX_FDS_PER_REPLY + 1]; /* the lease's fds in order, then the connection */
	size_t n;                              /* all of them, the connection included */
	char *names;                           /* IOASID_FDNAMES */
} Placement;

static void placement_done(Placement *p) {
	free(p->names);
}

/* The received node of IOMMU group g (legacy leases), or -EBADF. */
static int result_group_fd(const IoasidAcquireResult *res, int g) {
	for (size_t i = 0; i < res->n_group_fds; i++) {
		IoasidFdInfo gi = { .group = -1 };
		bool match = ioasid_fd_describe(res->group_fds[i], NULL, &gi) >= 0 && gi.group == g;
		ioasid_fd_info_done(&gi);
		if (match)
			return res->group_fds[i];
	}
	return -EBADF;
}

static int placement_add(Placement *p, FILE *names, int fd, const char *fmt, ...) _printf_(4, 5);
static int placement_add(Placement *p, FILE *names, int fd, const char *fmt, ...) {
	if (fd < 0 || p->n >= ELEMENTSOF(p->src) - 1)
		return -EINVAL;
	va_list ap;
	if (p->n > 0)
		fputc(' ', names);
	va_start(ap, fmt);
	vfprintf(names, fmt, ap);
	va_end(ap);
	p->src[p->n++] = fd;
	return 0;
}

/* The order of the placement (see above); the connection goes last. */
static int placement_build(const IoasidAcquireResult *res, int connection, Placement *ret) {
	Placement p = {};
	size_t len = 0;
	FILE *names = open_memstream(&p.names, &len);
	int r = 0;
	if (!names)
		return -ENOMEM;
	if (res->vhost_fd >= 0)
		r = placement_add(&p, names, res->vhost_fd, "vhost-vdpa:%s", res->vdpa);
	else if (res->iommufd >= 0)
		r = placement_add(&p, names, res->iommufd, "iommufd");
	else
		r = placement_add(&p, names, res->container, "container");
	for (size_t i = 0; r >= 0 && i < res->n_group_fds; i++) {
		IoasidFdInfo gi = { .group = -1 };
		(void)ioasid_fd_describe(res->group_fds[i], NULL, &gi);
		r = placement_add(&p, names, res->group_fds[i], "group:%d", gi.group);
		ioasid_fd_info_done(&gi);
	}
	for (size_t i = 0; r >= 0 && i < res->n_devices; i++)
		r = placement_add(&p, names, res->devices[i].fd, "%s", res->devices[i].bdf);
	if (fclose(names) != 0 && r >= 0)
		r = -ENOMEM;
	if (r < 0 || connection < 0) {
		placement_done(&p);
		return r < 0 ? r : -EINVAL;
	}
	p.src[p.n++] = connection; /* not named: it is IOASID_LEASE_FD */
	*ret = p;
	return 0;
}

/* The number fd will have in CMD. */
static int placed(const Placement *p, int fd) {
	for (size_t i = 0; i < p->n; i++)
		if (p->src[i] == fd)
			return (int)(arg_fds_from + i);
	return fd;
}

/* Moves the fds into place: first copies above the block (so that moving one never replaces
 * another still to be moved), then each copy onto its number without close-on-exec. What
 * stays open besides is close-on-exec and goes at the exec. 0 or -errno. */
static int placement_apply(const Placement *p) {
	int hi[ELEMENTSOF(p->src)];
	size_t n_hi = 0;
	int r = 0;
	for (; n_hi < p->n; n_hi++) {
		hi[n_hi] = fcntl(p->src[n_hi], F_DUPFD_CLOEXEC, (int)(arg_fds_from + p->n));
		if (hi[n_hi] < 0) {
			r = -errno;
			break;
		}
	}
	for (size_t i = 0; r >= 0 && i < p->n; i++)
		if (dup3(hi[i], (int)(arg_fds_from + i), 0) < 0)
			r = -errno;
	for (size_t i = 0; i < n_hi; i++)
		safe_close(hi[i]);
	return r;
}

/* Expands {iommufd}, {ioas}, {fd:BDF}, {devid:BDF}, for a legacy lease {container} and
 * {group:N}, for a vhost-vdpa lease {vhostfd}, in arg, fds as numbered in CMD; "{{" is a
 * literal "{". Any other {...} stays as
 * written (QEMU arguments may carry JSON). Returns 0, or an exit code after printing an
 * error. */
static int expand_arg(const char *arg, const IoasidAcquireResult *res, const Placement *pl,
		      char **ret) {
	_cleanup_free_ char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return ioasidctl_error(1, "Out of memory");
	for (const char *p = arg; *p;) {
		/* "{{" is a literal "{": "{{iommufd}" stays "{iommufd}". */
		if (p[0] == '{' && p[1] == '{') {
			fputc('{', f);
			p += 2;
			continue;
		}
		const char *close_brace = *p == '{' ? strchr(p, '}') : NULL;
		if (!close_brace) {
			fputc(*p++, f);
			continue;
		}
		_cleanup_free_ char *tok = strndup(p + 1, close_brace - p - 1);
		if (!tok) {
			fclose(f);
			return ioasidctl_error(1, "Out of memory");
		}
		char *colon = strchr(tok, ':');
		bool legacy = res->api && streq(res->api, "legacy");
		if (streq(tok, "iommufd") || streq(tok, "container")) {
			int fd = tok[0] == 'i' ? res->iommufd : res->container;
			if (fd < 0) {
				fclose(f);
				return ioasidctl_error(EXIT_USAGE,
						       "'{%s}' does not exist in lease %s (api %s)",
						       tok, res->lease,
						       legacy ? "legacy" : "iommufd");
			}
			fprintf(f, "%d", placed(pl, fd));
		} else if (colon && strneq(tok, "group:", 6)) {
			uint64_t g;
			int fd = num_parse_u64(colon + 1, INT32_MAX, &g) >= 0
					 ? result_group_fd(res, (int)g)
					 : -EBADF;
			if (fd < 0) {
				fclose(f);
				return ioasidctl_error(
					EXIT_USAGE,
					"'{%s}': lease %s holds no node of group '%s' "
					"(legacy leases get it when they hold the whole "
					"group)",
					tok, res->lease, colon + 1);
			}
			fprintf(f, "%d", placed(pl, fd));
		} else if (streq(tok, "vhostfd")) {
			if (res->vhost_fd < 0) {
				fclose(f);
				return ioasidctl_error(EXIT_USAGE,
						       "'{vhostfd}' needs --vdpa (lease %s is %s)",
						       res->lease, res->mode);
			}
			fprintf(f, "%d", placed(pl, res->vhost_fd));
		} else if (streq(tok, "ioas")) {
			if (res->ioas_id < 0) {
				fclose(f);
				return ioasidctl_error(EXIT_USAGE,
						       "{ioas} needs --mode attached (lease is %s)",
						       res->mode);
			}
			fprintf(f, "%" PRIi64, res->ioas_id);
		} else if (colon && (strneq(tok, "fd:", 3) || strneq(tok, "devid:", 6))) {
			char bdf[BDF_MAX];
			const IoasidGrantedDevice *d = NULL;
			if (bdf_parse(colon + 1, bdf) >= 0)
				d = ioasid_acquire_result_device(res, bdf);
			if (!d) {
				fclose(f);
				return ioasidctl_error(EXIT_USAGE,
						       "'{%s}': '%s' is not in lease %s", tok,
						       colon + 1, res->lease);
			}
			if (tok[0] == 'f')
				fprintf(f, "%d", placed(pl, d->fd));
			else if (d->dev_id < 0) {
				fclose(f);
				return ioasidctl_error(EXIT_USAGE,
						       "'{%s}' needs --mode attached (lease is %s)",
						       tok, res->mode);
			} else
				fprintf(f, "%" PRIi64, d->dev_id);
		} else {
			/* Not ours: copy "{...}" literally. */
			fwrite(p, 1, close_brace - p + 1, f);
		}
		p = close_brace + 1;
	}
	if (fclose(f) != 0)
		return ioasidctl_error(1, "Out of memory");
	*ret = TAKE_PTR(out);
	return 0;
}

static int setenv_int(const char *name, long v) {
	char buf[32];
	snprintf(buf, sizeof(buf), "%ld", v);
	return RET_NERRNO(setenv(name, buf, 1));
}

/* QEMU takes an inherited iommufd (-object iommufd,fd=N) and a VFIO cdev fd
 * (-device vfio-pci,fd=N) from 9.0 on; older ones fail on the first with "Parameter
 * 'qom-type' does not accept value 'iommufd'". */
#define QEMU_IOMMUFD_MAJOR 9

/* The placeholders that only a QEMU with iommufd support can use. */
static bool args_use_iommufd_fds(char **args) {
	for (char **a = args; a && *a; a++)
		for (const char *p = *a; *p; p++) {
			if (p[0] == '{' && p[1] == '{')
				p++; /* a literal brace, as expand_arg() reads it */
			else if (strneq(p, "{iommufd}", 9) || strneq(p, "{fd:", 4))
				return true;
		}
	return false;
}

/* When cmd is a qemu-system-* (by its name), runs `cmd --version` and reads the major
 * version from "QEMU emulator version X.Y.Z". -1 when it is not QEMU or cannot be told. */
static int qemu_major_version(const char *cmd) {
	const char *base = strrchr(cmd, '/');
	base = base ? base + 1 : cmd;
	if (!strneq(base, "qemu-system-", 12) && !streq(base, "qemu-kvm"))
		return -1;
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		safe_close(pipefd[0]);
		safe_close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (dup2(pipefd[1], STDOUT_FILENO) < 0 || null < 0 ||
		    dup2(null, STDIN_FILENO) < 0 || dup2(null, STDERR_FILENO) < 0)
			_exit(127);
		sigset_t ss;
		sigemptyset(&ss);
		(void)sigprocmask(SIG_SETMASK, &ss, NULL);
		execlp(cmd, cmd, "--version", (char *)NULL);
		_exit(127);
	}
	safe_close(pipefd[1]);
	char buf[512];
	size_t len = 0;
	struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
	/* A QEMU answers at once; one that does not within 5 s is not asked further. */
	while (len < sizeof(buf) - 1 && poll(&p, 1, 5000) > 0) {
		ssize_t n = read(pipefd[0], buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	safe_close(pipefd[0]);
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
	const char *v = strstr(buf, "QEMU emulator version ");
	unsigned major;
	if (!v || sscanf(v + strlen("QEMU emulator version "), "%u.", &major) != 1)
		return -1;
	return (int)MIN(major, (unsigned)INT_MAX);
}

/* A hint before running a QEMU too old for the placeholders it is given: it would fail with
 * a message that does not say why. */
static void qemu_version_hint(char **cmd) {
	if (!args_use_iommufd_fds(cmd + 1))
		return;
	int major = qemu_major_version(cmd[0]);
	if (major < 0 || major >= QEMU_IOMMUFD_MAJOR)
		return;
	ioasidctl_error(0,
			"Warning: '%s' is QEMU %d, which has no -object iommufd,fd= and no "
			"-device vfio-pci,fd= (QEMU >= %d.0 has them; Debian 12's 7.2 says "
			"\"Parameter 'qom-type' does not accept value 'iommufd'\")",
			cmd[0], major, QEMU_IOMMUFD_MAJOR);
}

int verb_run(int argc, char **argv) {
	_cleanup_(ioasid_client_freep) IoasidClient *c = NULL;
	_cleanup_(ioasid_acquire_result_freep) IoasidAcquireResult *res = NULL;
	_cleanup_strv_free_ char **cmd = NULL;
	_cleanup_(placement_done) Placement pl = {};
	bool inherited[ELEMENTSOF(pl.src)];
	int r;

	if (argc < 2)
		return ioasidctl_error(EXIT_USAGE,
				       "run needs a command: run [--device BDF]... -- CMD "
				       "ARGS...");
	/* The numbers of the block that are open before we open anything were inherited: CMD
	 * may expect them, so they are not replaced. */
	for (size_t i = 0; i < ELEMENTSOF(inherited); i++)
		inherited[i] = fcntl((int)(arg_fds_from + i), F_GETFD) >= 0;

	qemu_version_hint(argv + 1);
	r = do_acquire(NULL, &c, &res);
	if (r > 0)
		return r;
	r = placement_build(res, ioasid_client_fd(c), &pl);
	if (r < 0) {
		result_close_fds(res);
		(void)release_lease(c, res->lease);
		return ioasidctl_error(1, "Lease %s: cannot place its fds: %s", res->lease,
				       strerror(-r));
	}
	for (size_t i = 0; i < pl.n; i++)
		if (inherited[i]) {
			result_close_fds(res);
			(void)release_lease(c, res->lease);
			return ioasidctl_error(EXIT_USAGE,
					       "fd %u is already open (inherited): the lease's %zu "
					       "fds go to %u..%zu; choose another start with "
					       "--fds-from N",
					       arg_fds_from + (unsigned)i, pl.n, arg_fds_from,
					       arg_fds_from + pl.n - 1);
		}

	cmd = calloc(argc, sizeof(char *));
	if (!cmd)
		return ioasidctl_error(1, "Out of memory");
	for (int i = 1; i < argc; i++) {
		r = expand_arg(argv[i], res, &pl, &cmd[i - 1]);
		if (r > 0) {
			result_close_fds(res);
			(void)release_lease(c, res->lease);
			return r;
		}
	}
	const char *lease = res->lease;
	size_t n_lease_fds = pl.n - 1;
	if ((r = setenv("IOASID_LEASE", lease, 1)) < 0 ||
	    (r = setenv_int("IOASID_LEASE_FD", (long)(arg_fds_from + n_lease_fds))) < 0 ||
	    (r = setenv_int("IOASID_FDS_START", (long)arg_fds_from)) < 0 ||
	    (r = setenv_int("IOASID_FDS", (long)n_lease_fds)) < 0 ||
	    (r = RET_NERRNO(setenv("IOASID_FDNAMES", pl.names, 1))) < 0) {
		result_close_fds(res);
		(void)release_lease(c, lease);
		return ioasidctl_error(1, "Cannot set the environment: %s", strerror(-r));
	}
	if (!arg_quiet && arg_json == JSON_OFF)
		fprintf(stderr, "Lease %s: running %s (fds %u..%zu, the lease's connection %zu)\n",
			lease, cmd[0], arg_fds_from, arg_fds_from + n_lease_fds - 1,
			arg_fds_from + n_lease_fds);

	r = placement_apply(&pl);
	if (r < 0) {
		/* Some fds may have moved onto our own: end by exiting, which closes the
		 * connection and so ends the lease. */
		ioasidctl_error(1, "Lease %s: cannot place its fds: %s", lease, strerror(-r));
		_exit(1);
	}
	sigset_t ss;
	sigemptyset(&ss);
	(void)sigprocmask(SIG_SETMASK, &ss, NULL);
	execvp(cmd[0], cmd);
	/* The lease ends with this process: exiting closes its connection. */
	ioasidctl_error(127, "Cannot execute '%s': %m", cmd[0]);
	fflush(stdout);
	_exit(127);
}

/* ---- leases, status, revoke ---- */

int verb_leases(int argc, char **argv) {
	_cleanup_(ioasid_client_freep) IoasidClient *c = NULL;
	_cleanup_json_ json_object *a = json_object_new_array();
	_cleanup_table_ Table *t = table_new("LEASE", "UID", "PID", "MODE", "DEVICES", "GROUPS",
					     "LIFETIME", "STATE", NULL);
	IoasidLease *l = NULL;
	IoasidError e = {};
	size_t n = 0;
	int r;

	if (argc > 1)
		return ioasidctl_error(EXIT_USAGE, "leases takes no arguments");
	if (!a || !t)
		return ioasidctl_error(1, "Out of memory");
	r = connect_daemon(&c);
	if (r > 0)
		return r;
	r = ioasid_client_list_leases(c, &l, &n, &e);
	if (r < 0) {
		r = report_call_error("ListLeases", r, &e);
		ioasid_error_done(&e);
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object(), *g = json_object_new_array();
		char uid[24], pid[24];
		_cleanup_free_ char *groups = strdup(""), *devs = strdup("");

		for (size_t k = 0; k < l[i].n_groups; k++) {
			char *x = NULL;
			json_object_array_add(g, json_object_new_int(l[i].groups[k]));
			if (asprintf(&x, "%s%s%d", groups, k ? "," : "", l[i].groups[k]) >= 0) {
				free(groups);
				groups = x;
			}
		}
		if (l[i].vdpa) { /* vhost-vdpa: the vDPA device stands for the devices */
			free(devs);
			devs = strdup(l[i].vdpa);
		}
		for (char **d = l[i].devices; d && *d; d++) {
			char *x = NULL;
			if (asprintf(&x, "%s%s%s", devs, d == l[i].devices ? "" : ",", *d) >= 0) {
				free(devs);
				devs = x;
			}
		}
		json_object_object_add(o, "id", json_object_new_string(l[i].id));
		json_object_object_add(o, "uid", json_object_new_int64(l[i].uid));
		json_object_object_add(o, "pid", json_int_or_null(l[i].pid >= 0, l[i].pid));
		json_object_object_add(o, "unit",
				       l[i].unit ? json_object_new_string(l[i].unit) : NULL);
		json_object_object_add(o, "mode", json_object_new_string(l[i].mode));
		json_object_object_add(o, "layout",
				       l[i].layout ? json_object_new_string(l[i].layout) : NULL);
		json_object_object_add(o, "devices", json_strv(l[i].devices));
		json_object_object_add(o, "groups", g);
		json_object_object_add(o, "vdpa",
				       l[i].vdpa ? json_object_new_string(l[i].vdpa) : NULL);
		json_object_object_add(o, "lifetime", json_object_new_string(l[i].lifetime));
		json_object_object_add(o, "state", json_object_new_string(l[i].state));
		json_object_object_add(o, "held", json_strv(l[i].held));
		json_object_object_add(o, "generation",
				       json_object_new_int64((int64_t)l[i].generation));
		json_object_object_add(o, "created", json_object_new_int64(l[i].created));
		json_object_array_add(a, o);

		/* "ended (files open)": over, but its groups stay held until they are closed. */
		_cleanup_free_ char *state = NULL;
		if (asprintf(&state, "%s%s", l[i].state,
			     l[i].held && *l[i].held ? " (files open)" : "") < 0)
			state = NULL;
		snprintf(uid, sizeof(uid), "%" PRIi64, l[i].uid);
		snprintf(pid, sizeof(pid), "%" PRIi64, l[i].pid);
		table_add_row(t, l[i].id, uid, l[i].pid >= 0 ? pid : NULL, l[i].mode, devs, groups,
			      l[i].lifetime, state ? state : l[i].state);
	}
	ioasid_leases_free(l, n);

	if (arg_json != JSON_OFF)
		output_json(a);
	else if (n == 0)
		printf("No leases\n");
	else
		table_print(t);
	return 0;
}

int verb_status(int argc, char **argv) {
	_cleanup_(ioasid_client_freep) IoasidClient *c = NULL;
	_cleanup_(ioasid_status_freep) IoasidStatus *s = NULL;
	_cleanup_json_ json_object *o = json_object_new_object();
	IoasidError e = {};
	int r;

	if (argc > 1)
		return ioasidctl_error(EXIT_USAGE, "status takes no arguments");
	if (!o)
		return ioasidctl_error(1, "Out of memory");
	r = connect_daemon(&c);
	if (r > 0)
		return r;
	r = ioasid_client_status(c, &s, &e);
	if (r == -EREMOTEIO && error_is_refusal(&e)) {
		const char *reason = doc_str(doc_get(e.parameters, "reason"));
		r = ioasidctl_error(EXIT_NOT_VIABLE,
				    "Status is for administrators: uid %u matches no admin rule of "
				    "the policy (%s)",
				    (unsigned)getuid(), strna(reason));
		ioasid_error_done(&e);
		return r;
	}
	if (r < 0) {
		r = report_call_error("Status", r, &e);
		ioasid_error_done(&e);
		return r;
	}
	json_object_object_add(o, "version", json_object_new_string(s->version));
	json_object_object_add(o, "kernel", json_object_new_string(s->kernel));
	json_object_object_add(o, "api", json_object_new_string(s->api));
	json_object_object_add(o, "generation", json_object_new_int64((int64_t)s->generation));
	json_object_object_add(o, "leases", json_object_new_int64(s->leases));
	json_object_object_add(o, "connections", json_object_new_int64(s->connections));
	json_object_object_add(o, "accounting", json_object_new_string(s->accounting));
	json_object_object_add(o, "warnings", json_strv(s->warnings));
	json_object_object_add(o, "held", json_strv(s->held));
	if (arg_json != JSON_OFF) {
		output_json(o);
		return 0;
	}
	printf("    Version: %s\n     Kernel: %s\n        API: %s\n Generation: %" PRIu64 "\n"
	       "     Leases: %" PRIi64 "\nConnections: %" PRIi64 "\n Accounting: %s\n",
	       s->version, s->kernel, s->api, s->generation, s->leases, s->connections,
	       s->accounting);
	for (char **h = s->held; h && *h; h++)
		printf("       Held: %s\n", *h);
	for (char **w = s->warnings; w && *w; w++)
		printf("    %sWarning:%s %s\n", ansi_yellow(), ansi_normal(), *w);
	return 0;
}

/* release LEASE: the holder's uid (from any connection) or an admin may release a lease;
 * anyone else's reads as NoSuchLease, as the daemon does not say whether it exists. */
int verb_release(int argc, char **argv) {
	_cleanup_(ioasid_client_freep) IoasidClient *c = NULL;
	IoasidError e = {};
	int r;

	if (argc != 2)
		return ioasidctl_error(EXIT_USAGE, "release takes one lease id");
	r = connect_daemon(&c);
	if (r > 0)
		return r;
	r = ioasid_client_release(c, argv[1], &e);
	if (r == -EREMOTEIO && ioasid_error_is(&e, IOASID_ERROR_NO_SUCH_LEASE)) {
		ioasid_error_done(&e);
		return ioasidctl_error(1,
				       "No lease '%s' of yours (it has ended, was revoked, or is "
				       "another user's)",
				       argv[1]);
	}
	if (r < 0) {
		r = report_call_error("Release", r, &e);
		ioasid_error_done(&e);
		return r;
	}
	if (arg_json != JSON_OFF) {
		_cleanup_json_ json_object *o = json_object_new_object();
		json_object_object_add(o, "lease", json_object_new_string(argv[1]));
		json_object_object_add(o, "state", json_object_new_string("released"));
		output_json(o);
	} else if (!arg_quiet)
		printf("Lease %s released\n", argv[1]);
	return 0;
}

int verb_revoke(int argc, char **argv) {
	_cleanup_(ioasid_client_freep) IoasidClient *c = NULL;
	_cleanup_free_ char *state = NULL;
	IoasidError e = {};
	int r;

	if (argc != 2)
		return ioasidctl_error(EXIT_USAGE, "revoke takes one lease id");
	r = connect_daemon(&c);
	if (r > 0)
		return r;
	r = ioasid_client_revoke(c, argv[1], arg_reset, arg_signal, &state, &e);
	if (r < 0) {
		r = report_call_error("Revoke", r, &e);
		ioasid_error_done(&e);
		return r;
	}
	if (arg_json != JSON_OFF) {
		_cleanup_json_ json_object *o = json_object_new_object();
		json_object_object_add(o, "lease", json_object_new_string(argv[1]));
		json_object_object_add(o, "state", json_object_new_string(state));
		output_json(o);
	} else
		printf("Lease %s: %s\n", argv[1], state);
	return 0;
}

static bool str_endswith(const char *s, const char *suffix) {
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && streq(s + a - b, suffix);
}

/* --for: "uid N" for a number, "unit NAME" for a .service/.scope, else "user NAME". */
static int stage_owner(const char *s, char *buf, size_t size) {
	uint64_t u;
	if (num_parse_u64(s, UINT32_MAX - 1, &u) >= 0)
		snprintf(buf, size, "uid %" PRIu64, u);
	else if (str_endswith(s, ".service") || str_endswith(s, ".scope"))
		snprintf(buf, size, "unit %s", s);
	else
		snprintf(buf, size, "user %s", s);
	return 0;
}

static json_object *staged_json(const IoasidStaged *s) {
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(s->id));
	json_object_object_add(o, "layout", json_object_new_string(s->layout));
	json_object_object_add(o, "owner", json_object_new_string(s->owner));
	json_object_object_add(o, "mode", json_object_new_string(s->mode));
	json_object *d = json_object_new_array();
	for (char **p = s->devices; p && *p; p++)
		json_object_array_add(d, json_object_new_string(*p));
	json_object_object_add(o, "devices", d);
	json_object_object_add(o, "created", json_object_new_int64(s->created));
	json_object_object_add(o, "expires", s->expires ? json_object_new_int64(s->expires) : NULL);
	return o;
}

/* "in 9m59s" until a CLOCK_REALTIME second; "-" when unknown. */
static void format_expiry(int64_t expires, char *buf, size_t size) {
	if (expires <= 0) {
		snprintf(buf, size, "-");
		return;
	}
	int64_t left = expires - (int64_t)time(NULL);
	if (left < 0)
		left = 0;
	if (left >= 3600)
		snprintf(buf, size, "in %" PRId64 "h%02" PRId64 "m", left / 3600, left % 3600 / 60);
	else
		snprintf(buf, size, "in %" PRId64 "m%02" PRId64 "s", left / 60, left % 60);
}

static int stage_list(IoasidClient *c) {
	IoasidStaged *s = NULL;
	size_t n = 0;
	IoasidError e = {};
	int r = ioasid_client_list_staged(c, &s, &n, &e);
	if (r < 0) {
		r = report_call_error("ListStaged", r, &e);
		ioasid_error_done(&e);
		return r;
	}
	_cleanup_json_ json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, staged_json(&s[i]));
	if (arg_json != JSON_OFF)
		output_json(arr);
	else if (n == 0) {
		if (!arg_quiet)
			printf("No staged contexts\n");
	} else {
		printf("%-32s  %-10s  %-8s  %-20s  %-9s  %s\n", "ID", "LAYOUT", "MODE", "OWNER",
		       "EXPIRES", "DEVICES");
		for (size_t i = 0; i < n; i++) {
			char ex[32];
			format_expiry(s[i].expires, ex, sizeof(ex));
			printf("%-32s  %-10s  %-8s  %-20s  %-9s ", s[i].id, s[i].layout, s[i].mode,
			       s[i].owner, ex);
			for (char **p = s[i].devices; p && *p; p++)
				printf(" %s", *p);
			printf("\n");
		}
	}
	ioasid_staged_free(s, n);
	return 0;
}

int verb_stage(int argc, char **argv) {
	_cleanup_(ioasid_client_freep) IoasidClient *c = NULL;
	IoasidError e = {};
	int r;

	if (argc < 2)
		return ioasidctl_error(EXIT_USAGE, "'stage' needs NAME --for USER|UNIT --device "
						   "BDF..., 'list' or 'drop ID'");
	const char *sub = argv[1];
	bool list = streq(sub, "list"), drop = streq(sub, "drop");
	if (list && argc != 2)
		return ioasidctl_error(EXIT_USAGE, "'stage list' takes no arguments");
	if (drop && argc != 3)
		return ioasidctl_error(EXIT_USAGE, "'stage drop' takes one staged context ID");
	if (!list && !drop) {
		if (argc != 2)
			return ioasidctl_error(EXIT_USAGE, "'stage' takes one layout NAME");
		if (!arg_for)
			return ioasidctl_error(EXIT_USAGE, "'stage' needs --for USER|UNIT");
		if (!arg_devices)
			return ioasidctl_error(EXIT_USAGE, "'stage' needs --device BDF");
		if (arg_mode && policy_mode_from_string(arg_mode) < 0)
			return ioasidctl_error(EXIT_USAGE, "--mode is attached or unbound");
	}
	r = connect_daemon(&c);
	if (r > 0)
		return r;
	if (list)
		return stage_list(c);
	if (drop) {
		r = ioasid_client_drop_staged(c, argv[2], &e);
		if (r < 0) {
			r = report_call_error("DropStaged", r, &e);
			ioasid_error_done(&e);
			return r;
		}
		if (arg_json != JSON_OFF) {
			_cleanup_json_ json_object *o = json_object_new_object();
			json_object_object_add(o, "id", json_object_new_string(argv[2]));
			json_object_object_add(o, "state", json_object_new_string("dropped"));
			output_json(o);
		} else if (!arg_quiet)
			printf("Staged context %s dropped\n", argv[2]);
		return 0;
	}
	char owner[300];
	stage_owner(arg_for, owner, sizeof(owner));
	_cleanup_free_ char *id = NULL;
	int64_t expires = 0;
	r = ioasid_client_stage_timeout(c, sub, owner, arg_devices, arg_mode, arg_expire, &id,
					&expires, &e);
	if (r < 0) {
		r = report_call_error("Stage", r, &e);
		ioasid_error_done(&e);
		return r;
	}
	if (arg_json != JSON_OFF) {
		_cleanup_json_ json_object *o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(id));
		json_object_object_add(o, "layout", json_object_new_string(sub));
		json_object_object_add(o, "owner", json_object_new_string(owner));
		json_object_object_add(o, "mode",
				       json_object_new_string(arg_mode ? arg_mode : "attached"));
		json_object *d = json_object_new_array();
		for (char **p = arg_devices; *p; p++)
			json_object_array_add(d, json_object_new_string(*p));
		json_object_object_add(o, "devices", d);
		json_object_object_add(o, "expires",
				       expires ? json_object_new_int64(expires) : NULL);
		output_json(o);
	} else {
		char ex[32];
		format_expiry(expires, ex, sizeof(ex));
		printf("Staged %s for %s: %s (expires %s)\n", sub, owner, id, ex);
	}
	return 0;
}

/* ---- monitor ---- */

/* One event as a line: its name, then key=value for each member it has (quoted when the value
 * has a space), in a fixed order. */
/* One event, in the key order the daemon sends (--json) or as one human line. */
static void print_event(const IoasidEvent *ev) {
	const struct {
		const char *key, *s;
		int64_t i;
	} members[] = {
		{ "bdf", ev->bdf, -1 },
		{ "vdpa", ev->vdpa, -1 },
		{ "lease", ev->lease, -1 },
		{ "cause", ev->cause, -1 },
		{ "group", NULL, ev->group },
		{ "verdict", ev->verdict, -1 },
		{ "generation", NULL, ev->generation },
	};
	if (arg_json != JSON_OFF) {
		_cleanup_json_ json_object *o = json_object_new_object();
		json_add_str(o, "event", ev->event);
		for (size_t i = 0; i < ELEMENTSOF(members); i++)
			if (members[i].s)
				json_add_str(o, members[i].key, members[i].s);
			else if (members[i].i >= 0)
				json_add_int(o, members[i].key, members[i].i);
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		return;
	}
	/* The human line lists the lease first, as it always did. */
	static const char *const keys[] = { "lease",   "bdf",        "vdpa", "group",
					    "verdict", "generation", "cause" };
	fputs(ev->event, stdout);
	for (size_t k = 0; k < ELEMENTSOF(keys); k++)
		for (size_t i = 0; i < ELEMENTSOF(members); i++) {
			if (!streq(members[i].key, keys[k]) || (!members[i].s && members[i].i < 0))
				continue;
			char num[32];
			const char *s = members[i].s;
			if (!s) {
				snprintf(num, sizeof(num), "%" PRIi64, members[i].i);
				s = num;
			}
			printf(strpbrk(s, " \t\"") ? " %s=\"%s\"" : " %s=%s", keys[k], s);
		}
	putchar('\n');
}

int verb_monitor(int argc, char **argv) {
	_cleanup_(ioasid_client_freep) IoasidClient *c = NULL;
	IoasidError e = {};
	int r;

	if (argc > 1)
		return ioasidctl_error(EXIT_USAGE, "monitor takes no arguments");
	/* Blocked before subscribing: a signal from now on ends the loop below cleanly. */
	_cleanup_close_ int sfd = block_signals(0);
	if (sfd < 0)
		return ioasidctl_error(1, "Cannot set up signal handling: %s", strerror(-sfd));
	r = connect_daemon(&c);
	if (r > 0)
		return r;
	r = ioasid_client_monitor(c, &e);
	if (r < 0) {
		r = report_call_error("Monitor", r, &e);
		ioasid_error_done(&e);
		return r;
	}
	/* On stderr, so JSON stays alone on stdout; it also tells a caller it is subscribed. */
	fprintf(stderr, "Monitoring ioasidd events (Ctrl-C to stop).\n");
	for (;;) {
		IoasidEvent ev;
		/* What has arrived first; then wait for the daemon or a signal. */
		r = ioasid_client_monitor_next(c, 0, &ev, &e);
		if (r == 0) {
			print_event(&ev);
			ioasid_event_done(&ev);
			fflush(stdout);
			continue;
		}
		if (r != -ETIMEDOUT)
			break;
		struct pollfd p[2] = { { .fd = ioasid_client_fd(c), .events = POLLIN },
				       { .fd = sfd, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return ioasidctl_error(1, "poll: %m");
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si = {};
			if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
				si.ssi_signo = SIGTERM;
			fprintf(stderr, "Monitor stopped (%s).\n",
				si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
			return 0;
		}
	}
	if (errno_is_unavailable(r))
		return ioasidctl_error(EXIT_UNAVAILABLE,
				       "ioasidd closed the connection (it stopped or is "
				       "restarting): monitor ended, run it again to resume");
	r = report_call_error("Monitor", r, &e);
	ioasid_error_done(&e);
	return r;
}
