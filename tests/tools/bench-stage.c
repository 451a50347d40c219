/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-stage: the latency of an Acquire served from a staged context next to a cold one,
 * same device, mode and layout, on one connection of an admin that the policy also allows.
 * Each iteration: a cold Acquire (timed) and its Release; then Manager.Stage for this uid
 * (untimed), the matching Acquire (timed, checked to say "staged") and its Release. Prints
 * the medians and p90s in microseconds and the ratio cold/staged.
 *
 *   bench-stage --socket PATH --device BDF [--layout NAME] [--iterations N]
 *
 * Exit 0, 1 when a call fails or a staged Acquire was not served from the staged context,
 * 64 on bad usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "common/client/client.h"
#include "common/macro.h"
#include "tests/tools/bench-util.h"

/* One timed Acquire and an untimed Release. *ret_staged: the reply named a staged context. */
static int acquire_once(IoasidClient *c, char **devices, const char *layout, uint64_t *ret_ns,
			bool *ret_staged) {
	IoasidAcquireRequest rq = IOASID_ACQUIRE_REQUEST_INIT;
	rq.devices = devices;
	rq.mode = "attached";
	rq.layout = layout;
	IoasidAcquireResult *res = NULL;
	IoasidError e = {};
	uint64_t t0 = bench_now_ns();
	int r = ioasid_client_acquire(c, &rq, &res, &e);
	uint64_t t1 = bench_now_ns();
	if (r < 0) {
		fprintf(stderr, "bench-stage: Acquire: %s\n", e.message ? e.message : strerror(-r));
		ioasid_error_done(&e);
		return r;
	}
	*ret_ns = t1 - t0;
	*ret_staged = res->staged != NULL;
	r = ioasid_client_release(c, res->lease, &e);
	if (r < 0)
		fprintf(stderr, "bench-stage: Release: %s\n", e.message ? e.message : strerror(-r));
	ioasid_error_done(&e);
	ioasid_acquire_result_free(res);
	return r;
}

int main(int argc, char **argv) {
	const char *socket = NULL, *device = NULL, *layout = NULL;
	unsigned long iterations = 2000;
	static const struct option options[] = { { "socket", required_argument, NULL, 's' },
						 { "device", required_argument, NULL, 'd' },
						 { "layout", required_argument, NULL, 'l' },
						 { "iterations", required_argument, NULL, 'n' },
						 {} };
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		switch (opt) {
		case 's':
			socket = optarg;
			break;
		case 'd':
			device = optarg;
			break;
		case 'l':
			layout = optarg;
			break;
		case 'n':
			iterations = strtoul(optarg, NULL, 10);
			break;
		default:
			return 64;
		}
	}
	if (!socket || !device || iterations == 0 || iterations > 1000000) {
		fprintf(stderr, "usage: bench-stage --socket PATH --device BDF [--layout NAME] "
				"[--iterations N]\n");
		return 64;
	}
	_cleanup_(ioasid_client_freep) IoasidClient *c = NULL;
	int r = ioasid_client_connect(socket, &c);
	if (r < 0) {
		fprintf(stderr, "bench-stage: connect: %s\n", strerror(-r));
		return 1;
	}
	char *devices[] = { (char *)device, NULL };
	char owner[32];
	snprintf(owner, sizeof(owner), "uid %u", (unsigned)getuid());
	_cleanup_free_ uint64_t *cold = calloc(iterations, sizeof(uint64_t));
	_cleanup_free_ uint64_t *warm = calloc(iterations, sizeof(uint64_t));
	if (!cold || !warm)
		return 1;
	for (unsigned long i = 0; i < iterations; i++) {
		bool staged = false;
		if (acquire_once(c, devices, layout, &cold[i], &staged) < 0)
			return 1;
		if (staged) {
			fprintf(stderr,
				"bench-stage: a cold Acquire was served from a staged context\n");
			return 1;
		}
		IoasidError e = {};
		_cleanup_free_ char *id = NULL;
		r = ioasid_client_stage(c, layout, owner, devices, "attached", &id, &e);
		if (r < 0) {
			fprintf(stderr, "bench-stage: Stage: %s\n",
				e.message ? e.message : strerror(-r));
			ioasid_error_done(&e);
			return 1;
		}
		if (acquire_once(c, devices, layout, &warm[i], &staged) < 0)
			return 1;
		if (!staged) {
			fprintf(stderr,
				"bench-stage: the Acquire after Stage was not served from it\n");
			return 1;
		}
	}
	double c50 = bench_percentile_us(cold, iterations, 0.5),
	       c90 = bench_percentile_us(cold, iterations, 0.9);
	double w50 = bench_percentile_us(warm, iterations, 0.5),
	       w90 = bench_percentile_us(warm, iterations, 0.9);
	printf("acquire %s%s%s, %lu iterations each\n", device, layout ? ", layout " : "",
	       layout ? layout : "", iterations);
	printf("  cold   p50 %8.1f us  p90 %8.1f us\n", c50, c90);
	printf("  staged p50 %8.1f us  p90 %8.1f us\n", w50, w90);
	printf("  ratio cold/staged (p50): %.2f\n", w50 > 0 ? c50 / w50 : 0.0);
	return 0;
}
