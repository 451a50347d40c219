/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy enums' string tables (policy-print.c), which the parser, the daemon and the CLI
 * all use: each name reads back as its value and prints as itself, anything else is -EINVAL.
 */
#include "common/macro.h"
#include "ioasidd/ioasidd.h"
#include "policy/policy.h"
#include "tests/unit/test.h"

static void test_enum_round_trip(void) {
	static const char *const modes[] = { "attached", "unbound" };
	static const char *const groups[] = { "whole", "implicit" };
	static const char *const lifetimes[] = { "connection", "process" };
	static const char *const revokes[] = { "detach", "detach+reset", "signal" };
	static const char *const accountings[] = { "user", "process" };
	for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
		int v = policy_mode_from_string(modes[i]);
		CU_ASSERT_FATAL(v >= 0);
		ASSERT_STREQ(policy_mode_to_string((PolicyMode)v), modes[i]);
		LeaseMode lm;
		ASSERT_OK(lease_mode_from_string(modes[i], &lm));
		ASSERT_STREQ(lease_mode_to_string(lm), modes[i]);
	}
	for (size_t i = 0; i < ELEMENTSOF(groups); i++) {
		int v = policy_group_mode_from_string(groups[i]);
		CU_ASSERT_FATAL(v >= 0);
		ASSERT_STREQ(policy_group_mode_to_string((PolicyGroupMode)v), groups[i]);
	}
	for (size_t i = 0; i < ELEMENTSOF(lifetimes); i++) {
		int v = policy_lifetime_from_string(lifetimes[i]);
		CU_ASSERT_FATAL(v >= 0);
		ASSERT_STREQ(policy_lifetime_to_string((PolicyLifetime)v), lifetimes[i]);
		ASSERT_STREQ(lease_lifetime_to_string((PolicyLifetime)v), lifetimes[i]);
		CU_ASSERT_EQUAL(lease_lifetime_parse(lifetimes[i]), v);
	}
	for (size_t i = 0; i < ELEMENTSOF(revokes); i++) {
		int v = policy_on_revoke_from_string(revokes[i]);
		CU_ASSERT_FATAL(v >= 0);
		ASSERT_STREQ(policy_on_revoke_to_string((PolicyOnRevoke)v), revokes[i]);
	}
	for (size_t i = 0; i < ELEMENTSOF(accountings); i++) {
		int v = policy_accounting_from_string(accountings[i]);
		CU_ASSERT_FATAL(v >= 0);
		ASSERT_STREQ(policy_accounting_to_string((PolicyAccounting)v), accountings[i]);
	}
	/* Names are exact: no case folding, no prefixes, and the daemon's own "legacy" is never
	 * a mode a request may ask for. */
	ASSERT_ERR(policy_mode_from_string("Attached"), EINVAL);
	ASSERT_ERR(policy_mode_from_string("attach"), EINVAL);
	ASSERT_ERR(policy_mode_from_string(NULL), EINVAL);
	ASSERT_ERR(lease_mode_parse("legacy"), EINVAL);
	ASSERT_STREQ(lease_mode_to_string(LEASE_MODE_LEGACY), "legacy");
	ASSERT_ERR(policy_lifetime_from_string(""), EINVAL);
	ASSERT_ERR(policy_on_revoke_from_string("detach+"), EINVAL);
	ASSERT_ERR(policy_accounting_from_string("users"), EINVAL);
	ASSERT_ERR(policy_group_mode_from_string("wholE"), EINVAL);
}

static CU_TestInfo tests[] = {
	{ "enum_round_trip", test_enum_round_trip },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("policy-strings", tests);
