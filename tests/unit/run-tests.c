/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <CUnit/Basic.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/host.h"
#include "common/macro.h"
#include "tests/unit/test.h"

typedef struct PendingSuite {
	const char *name;
	CU_InitializeFunc init;
	CU_CleanupFunc cleanup;
	CU_TestInfo *tests;
} PendingSuite;

static PendingSuite pending[128];
static size_t n_pending;

void test_register_suite(const char *name, CU_InitializeFunc init, CU_CleanupFunc cleanup,
			 CU_TestInfo *tests) {
	if (n_pending >= ELEMENTSOF(pending)) {
		fprintf(stderr, "run-tests: too many suites\n");
		abort();
	}
	pending[n_pending++] = (PendingSuite){ name, init, cleanup, tests };
}

static char tests_dir[PATH_MAX];

const char *test_dir(void) {
	return tests_dir;
}

Host *test_load_fixture(const char *name) {
	_cleanup_free_ char *path = NULL, *err = NULL;
	Host *h = NULL;
	if (asprintf(&path, "%s/hosts/%s", test_dir(), name) < 0)
		return NULL;
	int r = host_load_json_file(path, &h, &err);
	if (r < 0)
		fprintf(stderr, "%s: %s\n", path, err ? err : strerror(-r));
	return r < 0 ? NULL : h;
}

static int cmp_suite(const void *a, const void *b) {
	return strcmp(((const PendingSuite *)a)->name, ((const PendingSuite *)b)->name);
}

int main(int argc, char **argv) {
	const char *suite = NULL, *test = NULL;
	bool list = false;
	int c;

	while ((c = getopt(argc, argv, "s:t:lh")) >= 0) {
		switch (c) {
		case 's':
			suite = optarg;
			break;
		case 't':
			test = optarg;
			break;
		case 'l':
			list = true;
			break;
		default:
			fprintf(stderr, "Usage: %s [-s SUITE] [-t TEST] [-l]\n", argv[0]);
			return c == 'h' ? 0 : 64;
		}
	}

	const char *env = getenv("IOASID_TESTS_DIR");
	if (env)
		snprintf(tests_dir, sizeof(tests_dir), "%s", env);
	else
		snprintf(tests_dir, sizeof(tests_dir), "tests");

	qsort(pending, n_pending, sizeof(pending[0]), cmp_suite);
	if (list) {
		for (size_t i = 0; i < n_pending; i++)
			for (CU_TestInfo *t = pending[i].tests; t->pName; t++)
				printf("%s/%s\n", pending[i].name, t->pName);
		return 0;
	}

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	size_t selected = 0;
	for (size_t i = 0; i < n_pending; i++) {
		if (suite && !streq(suite, pending[i].name))
			continue;
		CU_pSuite s = CU_add_suite(pending[i].name, pending[i].init, pending[i].cleanup);
		if (!s)
			return 1;
		for (CU_TestInfo *t = pending[i].tests; t->pName; t++) {
			if (test && !streq(test, t->pName))
				continue;
			if (!CU_add_test(s, t->pName, t->pTestFunc))
				return 1;
			selected++;
		}
	}
	if (selected == 0) {
		fprintf(stderr, "run-tests: no test matches\n");
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_NORMAL);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	unsigned tests_failed = CU_get_number_of_tests_failed();
	unsigned run = CU_get_number_of_tests_run();
	printf("\nunit: %u passed, %u failed\n", run - tests_failed, tests_failed);
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
