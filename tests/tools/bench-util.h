/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Timing helpers shared by the benchmark tools (tests/tools/bench-*.c). Static inline
 * functions: each tool is its own program.
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t bench_now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* qsort() order of uint64_t. */
static inline int bench_cmp_u64(const void *a, const void *b) {
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..1, nearest rank) of n latencies in ns, in microseconds; sorts v. */
static inline double bench_percentile_us(uint64_t *v, size_t n, double p) {
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(uint64_t), bench_cmp_u64);
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}
