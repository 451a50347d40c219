/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The one CUnit runner. A test file registers its suite with
 *
 *     static CU_TestInfo tests[] = { { "name", fn }, ..., CU_TEST_INFO_NULL };
 *     TEST_SUITE("viability", tests);          (or TEST_SUITE_FULL with init/cleanup)
 *
 * and run-tests.c picks every suite up; `run-tests -s SUITE -t TEST` selects.
 */

#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

void test_register_suite(const char *name, CU_InitializeFunc init, CU_CleanupFunc cleanup,
			 CU_TestInfo *tests);

#define TEST_SUITE_FULL(name, init, cleanup, tests)                                                \
	__attribute__((constructor)) static void test_register_##tests(void) {                     \
		test_register_suite(name, init, cleanup, tests);                                   \
	}
#define TEST_SUITE(name, tests) TEST_SUITE_FULL(name, NULL, NULL, tests)

/* r >= 0 is success; report the errno name when it is not. */
#define ASSERT_OK(expr)                                                                            \
	do {                                                                                       \
		int _r = (int)(expr);                                                              \
		if (_r < 0)                                                                        \
			fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr,       \
				strerror(-_r));                                                    \
		CU_ASSERT_FATAL(_r >= 0);                                                          \
	} while (0)

#define ASSERT_ERR(expr, err)                                                                      \
	do {                                                                                       \
		int _r = (int)(expr);                                                              \
		if (_r != -(err))                                                                  \
			fprintf(stderr, "%s:%d: %s: expected -%s, got %d (%s)\n", __FILE__,        \
				__LINE__, #expr, errno_name(err), _r,                              \
				_r < 0 ? strna(errno_name(_r)) : "success");                       \
		CU_ASSERT_EQUAL(_r, -(err));                                                       \
	} while (0)

#define ASSERT_STREQ(a, b)                                                                         \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !_b || strcmp(_a, _b) != 0)                                             \
			fprintf(stderr, "%s:%d: '%s' != '%s'\n", __FILE__, __LINE__,               \
				_a ? _a : "(null)", _b ? _b : "(null)");                           \
		CU_ASSERT_TRUE(_a &&_b &&strcmp(_a, _b) == 0);                                     \
	} while (0)

/* Directory of the source tree's tests/ (for fixtures); set by run-tests from its argv[0]
 * or the IOASID_TESTS_DIR environment variable. */
const char *test_dir(void);

/* The fixture tests/hosts/NAME (e.g. "sample.json") loaded as a Host, or NULL after printing
 * why on stderr. The caller frees it (host_free). */
struct Host *test_load_fixture(const char *name);

/* A child process that holds fds it is given (tests/unit/holder.c). Start it before the fds
 * it is to get exist, or it inherits them. */
typedef struct TestHolder {
	int pid;
	int sock;
} TestHolder;
void test_holder_start(TestHolder *h);
/* Sends fd over SCM_RIGHTS and waits until the holder has it; the caller's copy stays. */
void test_holder_give(TestHolder *h, int fd);
/* Tells the holder to exit and reaps it: once this returns, its copies are closed. */
void test_holder_stop(TestHolder *h);
