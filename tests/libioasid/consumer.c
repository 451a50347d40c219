/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An out-of-tree consumer of libioasid, built by the integration tier from an installed copy
 * with `pkg-config --cflags --libs ioasid` alone (no -I into the source tree).
 *
 *   consumer DEV_ATTACHED DEV_UNBOUND MISSING_DEV [COMMAND]
 *
 * Acquires DEV_ATTACHED attached and DEV_UNBOUND unbound, lists the leases, runs COMMAND (with
 * sh -c) while both are held, asks for MISSING_DEV (a named error), releases both and an
 * unknown lease (another named error). Prints one line a step; exits 1 at the first failure.
 */

#define _GNU_SOURCE /* readlink(), ?: */

#include <errno.h>
#include <ioasid/ioasid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *what, int r, ioasid_conn *c) {
	printf("FAIL: %s: %s (%s: %s)\n", what, strerror(-r),
	       c && ioasid_conn_error_name(c) ? ioasid_conn_error_name(c) : "-",
	       c && ioasid_conn_error_message(c) ? ioasid_conn_error_message(c) : "-");
	exit(1);
}

static const char *fd_name(int fd) {
	static char buf[4][256];
	static int k;
	char path[64];
	char *b = buf[k++ % 4];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, b, sizeof(buf[0]) - 1);
	b[n < 0 ? 0 : n] = '\0';
	return n < 0 ? "(not open)" : b;
}

static ioasid_grant *acquire(ioasid_conn *c, const char *dev, ioasid_mode mode) {
	const char *devs[] = { dev };
	ioasid_acquire_request req = { .devices = devs, .n_devices = 1, .mode = mode };
	ioasid_grant *g = NULL;
	int r = ioasid_acquire(c, &req, &g);

	if (r < 0)
		fail("acquire", r, c);
	printf("acquired %s lease=%s mode=%s iommufd=%s ioas=%lld devices=%zu\n",
	       mode == IOASID_MODE_UNBOUND ? "unbound" : "attached", ioasid_grant_lease(g),
	       ioasid_grant_mode(g) == IOASID_MODE_UNBOUND ? "unbound" : "attached",
	       fd_name(ioasid_grant_iommufd(g)), (long long)ioasid_grant_ioas_id(g),
	       ioasid_grant_n_devices(g));
	for (size_t i = 0; i < ioasid_grant_n_devices(g); i++)
		printf("  device %s fd=%s\n", ioasid_grant_device_bdf(g, i),
		       fd_name(ioasid_grant_device_fd(g, i)));
	return g;
}

int main(int argc, char **argv) {
	ioasid_conn *c = NULL;
	ioasid_grant *ga, *gu, *gx = NULL;
	ioasid_lease_list *l = NULL;
	const char *devs[1];
	ioasid_acquire_request req = { .devices = devs, .n_devices = 1 };
	char *la, *lu;
	int r;

	if (argc < 4) {
		fprintf(stderr, "usage: consumer DEV_ATTACHED DEV_UNBOUND MISSING_DEV [COMMAND]\n");
		return 2;
	}
	r = ioasid_conn_open(NULL, &c);
	if (r < 0)
		fail("connect", r, NULL);
	printf("connected\n");

	ga = acquire(c, argv[1], IOASID_MODE_ATTACHED);
	gu = acquire(c, argv[2], IOASID_MODE_UNBOUND);
	la = strdup(ioasid_grant_lease(ga));
	lu = strdup(ioasid_grant_lease(gu));

	r = ioasid_list_leases(c, &l);
	if (r < 0)
		fail("list", r, c);
	printf("leases: %zu\n", ioasid_lease_list_count(l));
	for (size_t i = 0; i < ioasid_lease_list_count(l); i++) {
		printf("  lease %s mode=%s state=%s devices=", ioasid_lease_list_id(l, i),
		       ioasid_lease_list_mode(l, i), ioasid_lease_list_state(l, i));
		for (size_t j = 0; j < ioasid_lease_list_n_devices(l, i); j++)
			printf("%s%s", j ? "," : "", ioasid_lease_list_device(l, i, j));
		printf("\n");
	}
	ioasid_lease_list_free(l);
	fflush(stdout);
	if (argc > 4 && system(argv[4]) != 0)
		fail("command", -ECHILD, NULL);

	devs[0] = argv[3];
	r = ioasid_acquire(c, &req, &gx);
	printf("missing device: r=%s error=%s message=%s grant=%s\n",
	       r == -EREMOTEIO ? "-EREMOTEIO" : strerror(-r), ioasid_conn_error_name(c) ?: "(none)",
	       ioasid_conn_error_message(c) ?: "(none)", gx ? "set" : "none");

	/* Close the fds before releasing: an ended lease whose fds are open stays held. */
	ioasid_grant_free(ga);
	ioasid_grant_free(gu);
	r = ioasid_release(c, la);
	if (r < 0)
		fail("release attached", r, c);
	r = ioasid_release(c, lu);
	if (r < 0)
		fail("release unbound", r, c);
	printf("released %s %s\n", la, lu);
	r = ioasid_release(c, la);
	printf("release again: r=%s error=%s\n", r == -EREMOTEIO ? "-EREMOTEIO" : strerror(-r),
	       ioasid_conn_error_name(c) ?: "(none)");

	r = ioasid_list_leases(c, &l);
	if (r < 0)
		fail("list after release", r, c);
	printf("leases after release: %zu\n", ioasid_lease_list_count(l));
	ioasid_lease_list_free(l);
	free(la);
	free(lu);
	ioasid_conn_close(c);
	printf("done\n");
	return 0;
}
