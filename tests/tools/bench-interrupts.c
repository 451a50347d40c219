/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-interrupts: the cost of the live scan's interrupt-remapping answer on a big host's
 * /proc/interrupts, as a ratio to reading the same file (read_full_file, the floor the
 * scan cannot avoid), measured in the same run. The text is synthetic: CPUS columns of
 * counts and IRQS numbered lines on plain IO-APIC/PCI-MSIX chips (no remapping: every line
 * is read to the end, the worst case), written to a temporary file; with remapping the
 * first IR- chip ends the scan.
 *
 * Usage: bench-interrupts [--quick] [CPUS IRQS]      (default 256 4000, about 11 MB)
 * Exit: 0 when read+parse <= TARGET_RATIO x read, 1 when it misses, 2 on setup errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/host.h"
#include "common/macro.h"
#include "tests/tools/bench-util.h"

#define TARGET_RATIO 2.0

/* Median ns of `reps` runs of: read path, then (parse) scan it and check the answer. */
static int measure(const char *path, unsigned reps, bool parse, Tristate want, uint64_t *ret) {
	uint64_t t[64];
	for (unsigned r = 0; r < reps; r++) {
		char *text = NULL;
		uint64_t a = bench_now_ns();
		if (read_full_file(path, 64u << 20, &text, NULL) < 0)
			return -1;
		if (parse && host_interrupts_remapping(text) != want) {
			free(text);
			return -1;
		}
		t[r] = bench_now_ns() - a;
		free(text);
	}
	qsort(t, reps, sizeof(t[0]), bench_cmp_u64);
	*ret = t[reps / 2];
	return 0;
}

int main(int argc, char **argv) {
	unsigned cpus = 256, irqs = 4000, reps = 15;
	int a = 1;
	if (a < argc && streq(argv[a], "--quick")) {
		reps = 5;
		a++;
	}
	if (argc - a == 2) {
		cpus = (unsigned)atoi(argv[a]);
		irqs = (unsigned)atoi(argv[a + 1]);
	} else if (argc != a || cpus == 0 || irqs == 0) {
		fprintf(stderr, "Usage: bench-interrupts [--quick] [CPUS IRQS]\n");
		return 2;
	}
	char path[] = "/tmp/bench-interrupts.XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		perror("bench-interrupts: temporary file");
		return 2;
	}
	fprintf(f, "%11s", "");
	for (unsigned c = 0; c < cpus; c++)
		fprintf(f, "CPU%-8u", c);
	fputc('\n', f);
	for (unsigned i = 0; i < irqs; i++) {
		fprintf(f, "%4u:", i);
		for (unsigned c = 0; c < cpus; c++)
			fprintf(f, " %10u", (i * 7919u + c * 104729u) % 100000000u);
		if (i < 24)
			fprintf(f, "  IO-APIC  %u-edge      irq%u\n", i, i);
		else
			fprintf(f, "  PCI-MSIX-0000:%02x:00.0  %u-edge      q%u\n", i % 256, i, i);
	}
	fputs(" NMI:          0   Non-maskable interrupts\n", f);
	long size = ftell(f);
	if (fclose(f) != 0) {
		unlink(path);
		return 2;
	}
	uint64_t floor_ns, parse_ns;
	int r = measure(path, reps, false, TRI_UNKNOWN, &floor_ns);
	if (r >= 0)
		r = measure(path, reps, true, TRI_NO, &parse_ns);
	unlink(path);
	if (r < 0) {
		fprintf(stderr, "bench-interrupts: cannot read the file back or wrong answer\n");
		return 2;
	}
	double ratio = floor_ns ? (double)parse_ns / (double)floor_ns : 0;
	printf("  %u CPUs x %u IRQs (%ld bytes), medians of %u runs\n", cpus, irqs, size, reps);
	printf("  %-34s %10.2f ms\n", "read_full_file (floor)", floor_ns / 1e6);
	printf("  %-34s %10.2f ms  %.2fx the floor\n", "read + host_interrupts_remapping",
	       parse_ns / 1e6, ratio);
	printf("bench-interrupts: read+parse %.2fx the read, target <= %.1fx: %s\n", ratio,
	       TARGET_RATIO, ratio <= TARGET_RATIO ? "met" : "MISSED");
	return ratio <= TARGET_RATIO ? 0 : 1;
}
