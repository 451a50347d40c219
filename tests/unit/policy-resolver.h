/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A fixed user and group database for policy tests, the fuzzer and the benchmark, so that
 * nothing depends on the machine's /etc/passwd. Names "uN"/"gN" (N decimal) resolve to
 * 100000+N, which lets generated policies name thousands of distinct users.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "policy/policy.h"

static inline int test_resolver_lookup(const char *name, unsigned *ret, int kind) {
	static const struct {
		const char *name;
		unsigned id;
		int kind; /* 0 user, 1 group */
	} db[] = {
		{ "root", 0, 0 },        { "alice", 1000, 0 },  { "bob", 1001, 0 },
		{ "carol", 1002, 0 },    { "qemu", 107, 0 },    { "nobody", 65534, 0 },
		{ "root", 0, 1 },        { "wheel", 10, 1 },    { "kvm", 36, 1 },
		{ "users", 100, 1 },     { "libvirt", 120, 1 }, { "render", 105, 1 },
		{ "nogroup", 65534, 1 },
	};
	for (size_t i = 0; i < sizeof(db) / sizeof(db[0]); i++)
		if (db[i].kind == kind && strcmp(db[i].name, name) == 0) {
			*ret = db[i].id;
			return 0;
		}
	if (name[0] == (kind ? 'g' : 'u') && name[1] >= '0' && name[1] <= '9') {
		char *end;
		unsigned long v = strtoul(name + 1, &end, 10);
		if (*end == '\0' && v < 1000000) {
			*ret = 100000 + (unsigned)v;
			return 0;
		}
	}
	return -ENOENT;
}

static inline int test_resolver_user(const char *name, uid_t *ret, void *userdata) {
	unsigned id;
	int r = test_resolver_lookup(name, &id, 0);
	if (r == 0)
		*ret = id;
	return r;
}

static inline int test_resolver_group(const char *name, gid_t *ret, void *userdata) {
	unsigned id;
	int r = test_resolver_lookup(name, &id, 1);
	if (r == 0)
		*ret = id;
	return r;
}

static const PolicyResolver test_resolver = { test_resolver_user, test_resolver_group, NULL };
