/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The broker (broker.c) and the kernel context (context.c) without a socket, against the sim
 * kernel: every refusal Acquire can give before and while its context is built, each with
 * the error name and the parameters the client is told, and the rollback of the context when
 * any kernel call fails (a wrapped KernelOps fails one call): every fd the attempt opened is
 * closed and the devices are free for the next owner.
 */
#include <fcntl.h>
#include <unistd.h>

#include "common/kernel-impl.h"
#include "common/kernel-sim.h"
#include "common/macro.h"
#include "common/proto.h"
#include "ioasidd/broker.h"
#include "ioasidd/context.h"
#include "ioasidd/ioasidd.h"
#include "tests/unit/test.h"

#define UID_A 4701
#define UID_B 4702
#define UID_LIMITED 4703
#define UID_DENIED 4799

static const char policy_text[] =
	"admin uid 0\n"
	"pool vf { driver vfio-pci }\n"
	"pool none { vendor 0xffff }\n"
	"layout win { iova 0xfe000000-0xfeffffff }\n"
	"layout dirty { require dirty-tracking }\n"
	"layout nohuge { iova 0x100000-0x1fffff\n hugepages off }\n"
	"deny uid 4799\n"
	"allow uid 4701 to any mode attached,unbound layout win,dirty,nohuge group implicit\n"
	"allow uid 4702 to any mode attached,unbound group implicit\n"
	"allow uid 4703 to any max-devices 1 max-leases 1\n"
	"allow uid 4704 to any group whole\n";

typedef struct Fx {
	Manager m;
	Peer peer;
} Fx;

static Peer peer_of(uid_t uid) {
	return (Peer){ .uid = uid, .gid = uid, .pid = getpid(), .pidfd = -EBADF };
}

static void fx_setup(Fx *f, const char *host, uid_t uid) {
	*f = (Fx){ .m = { .listen_fd = -EBADF, .generation = 1 }, .peer = peer_of(uid) };
	f->m.host = test_load_fixture(host);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->m.host);
	ASSERT_OK(kernel_new("sim", f->m.host, &f->m.kernel));
	f->m.leases.kernel = f->m.kernel;
	PolicyLoadOptions o = { .generation = 1 };
	PolicyError e = { 0 };
	int r = policy_load_string(policy_text, "broker.conf", &o, &f->m.policy, &e);
	if (r < 0)
		fprintf(stderr, "policy: %u:%u: %s\n", e.line, e.column, strna(e.message));
	ASSERT_OK(r);
}

static void fx_done(Fx *f) {
	lease_table_clear(&f->m.leases);
	policy_free(f->m.policy);
	kernel_free(f->m.kernel);
	host_free(f->m.host);
}

static const char *field(const Refusal *rf, const char *key) {
	const RefusalField *x = refusal_get(rf, key);
	return x && x->type == REFUSAL_STRING ? x->s : NULL;
}

static int64_t field_int(const Refusal *rf, const char *key) {
	const RefusalField *x = refusal_get(rf, key);
	return x && x->type == REFUSAL_INT ? x->i : INT64_MIN;
}

/* broker_acquire() for peer: returns its result; rf and plan are the caller's to free. */
static int try_acquire(Fx *f, const Peer *peer, const BrokerRequest *in, Plan *plan, Refusal *rf) {
	*plan = (Plan){ 0 };
	*rf = (Refusal){ 0 };
	return broker_acquire(&f->m, peer, false, in, plan, rf);
}

/* Expects broker_acquire() to refuse with error (and errno err), naming device when not
 * NULL. */
static void expect_refusal(Fx *f, const Peer *peer, const BrokerRequest *in, int err,
			   const char *error, const char *device) {
	Plan plan;
	Refusal rf;
	int r = try_acquire(f, peer, in, &plan, &rf);
	ASSERT_ERR(r, err);
	ASSERT_STREQ(rf.error, error);
	if (device)
		ASSERT_STREQ(field(&rf, "device"), device);
	CU_ASSERT_FALSE(rf.oom);
	refusal_done(&rf);
	plan_done(&plan);
}

static BrokerRequest devices(const char *const *bdfs, size_t n) {
	return (BrokerRequest){ .bdfs = bdfs, .n_bdfs = n };
}
#define DEVICES(...)                                                                               \
	devices((const char *const[]){ __VA_ARGS__ },                                              \
		sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

/* A delivered lease of bdfs for peer, built as Acquire builds it, in the table. */
static Lease *lease_for(Fx *f, const Peer *peer, BrokerRequest in) {
	Plan plan;
	Refusal rf;
	Lease *l = NULL;
	ASSERT_OK(try_acquire(f, peer, &in, &plan, &rf));
	ASSERT_OK(context_build(&f->m, peer, &plan, NULL, &l, &rf));
	ASSERT_OK(lease_set_state(l, LEASE_ACTIVE));
	ASSERT_OK(lease_table_add(&f->m.leases, l));
	plan_done(&plan);
	refusal_done(&rf);
	return l;
}

static int count_fds(void) {
	int n = 0;
	for (int fd = 0; fd < 4096; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* What the kernel says about binding d anew in a fresh context. */
static int bind_anew(Kernel *k, const Device *d) {
	int i = -EBADF, fd = -EBADF;
	uint32_t id;
	ASSERT_OK(kernel_iommufd_open(k, &i));
	ASSERT_OK(kernel_device_open(k, d, &fd));
	int r = kernel_device_bind(k, fd, i, &id);
	kernel_close(k, fd);
	kernel_close(k, i);
	return r;
}

/* ---- broker: resolve ---- */

static void test_resolve_refusals(void) {
	Fx f;
	fx_setup(&f, "sample.json", UID_A);
	BrokerRequest in = { 0 };
	/* Exactly one of devices, group, pool; count only with pool. */
	expect_refusal(&f, &f.peer, &in, EINVAL, VARLINK_ERROR_INVALID_PARAMETER, NULL);
	in = DEVICES("0000:00:03.0");
	in.has_group = true;
	Plan plan;
	Refusal rf;
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), EINVAL);
	ASSERT_STREQ(field(&rf, "parameter"), "group");
	refusal_done(&rf);
	in = (BrokerRequest){ .has_group = true, .group = 3, .has_count = true, .count = 1 };
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), EINVAL);
	ASSERT_STREQ(field(&rf, "parameter"), "count");
	refusal_done(&rf);
	/* A BDF that does not parse, one given twice, one the host does not have. */
	in = DEVICES("0000:00:03");
	expect_refusal(&f, &f.peer, &in, EINVAL, VARLINK_ERROR_INVALID_PARAMETER, NULL);
	in = DEVICES("0000:00:03.0", "00:03.0");
	expect_refusal(&f, &f.peer, &in, EINVAL, VARLINK_ERROR_INVALID_PARAMETER, NULL);
	in = DEVICES("0000:00:09.0");
	expect_refusal(&f, &f.peer, &in, ENODEV, IOASID_ERROR_NO_SUCH_DEVICE, "0000:00:09.0");
	/* A group the host does not have, or one with nothing but bridges. */
	in = (BrokerRequest){ .has_group = true, .group = 77 };
	expect_refusal(&f, &f.peer, &in, ENODEV, IOASID_ERROR_NO_SUCH_DEVICE, "group 77");
	in = (BrokerRequest){ .has_group = true, .group = -1 };
	expect_refusal(&f, &f.peer, &in, ENODEV, IOASID_ERROR_NO_SUCH_DEVICE, "group -1");
	/* A group: its members but its bridges. */
	in = (BrokerRequest){ .has_group = true, .group = 5 };
	ASSERT_OK(try_acquire(&f, &f.peer, &in, &plan, &rf));
	CU_ASSERT_EQUAL(plan.n_devices, 2);
	plan_done(&plan);
	/* An unknown pool; a pool short of free devices. */
	in = (BrokerRequest){ .pool = "nopool" };
	expect_refusal(&f, &f.peer, &in, EINVAL, VARLINK_ERROR_INVALID_PARAMETER, NULL);
	in = (BrokerRequest){ .pool = "none" };
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), EBUSY);
	ASSERT_STREQ(rf.error, IOASID_ERROR_DEVICE_BUSY);
	ASSERT_STREQ(field(&rf, "device"), "pool none");
	ASSERT_STREQ(field(&rf, "reason"), "0 of 1 requested devices free");
	refusal_done(&rf);
	plan_done(&plan);
	/* The pool's free viable devices, in BDF order. */
	in = (BrokerRequest){ .pool = "vf", .has_count = true, .count = 2 };
	ASSERT_OK(try_acquire(&f, &f.peer, &in, &plan, &rf));
	CU_ASSERT_EQUAL_FATAL(plan.n_devices, 2);
	ASSERT_STREQ(plan.devices[0]->bdf, "0000:00:03.0");
	ASSERT_STREQ(plan.devices[1]->bdf, "0000:00:04.0");
	plan_done(&plan);
	/* A layout the policy does not have. */
	in = DEVICES("0000:00:03.0");
	in.layout = "nolayout";
	expect_refusal(&f, &f.peer, &in, EPERM, IOASID_ERROR_PERMISSION_DENIED, "0000:00:03.0");
	fx_done(&f);
}

/* ---- broker: policy and limits ---- */

static void test_policy_refusals(void) {
	Fx f;
	fx_setup(&f, "sample.json", UID_A);
	Plan plan;
	Refusal rf;
	/* Denied by a rule: named, with the generation; the audit rule is the denying one. */
	Peer denied = peer_of(UID_DENIED);
	BrokerRequest in = DEVICES("0000:00:03.0");
	ASSERT_ERR(try_acquire(&f, &denied, &in, &plan, &rf), EPERM);
	ASSERT_STREQ(rf.error, IOASID_ERROR_PERMISSION_DENIED);
	ASSERT_STREQ(field(&rf, "rule"), "broker.conf:8");
	ASSERT_STREQ(field(&rf, "device"), "0000:00:03.0");
	CU_ASSERT_EQUAL(field_int(&rf, "generation"), 1);
	CU_ASSERT_TRUE(plan.decided);
	ASSERT_STREQ(plan.audit_rule, "broker.conf:8");
	refusal_done(&rf);
	plan_done(&plan);
	/* No rule: the default deny, with no rule named (a JSON null). */
	Peer nobody = peer_of(4800);
	ASSERT_ERR(try_acquire(&f, &nobody, &in, &plan, &rf), EPERM);
	ASSERT_STREQ(field(&rf, "reason"), "no rule matched (default deny)");
	CU_ASSERT_EQUAL(refusal_get(&rf, "rule")->type, REFUSAL_NULL);
	refusal_done(&rf);
	plan_done(&plan);
	/* A mode the rule does not grant. */
	Peer limited = peer_of(UID_LIMITED);
	in.mode_set = true;
	in.mode = LEASE_MODE_UNBOUND;
	expect_refusal(&f, &limited, &in, EPERM, IOASID_ERROR_PERMISSION_DENIED, "0000:00:03.0");
	/* Process lifetime without SO_PEERPIDFD, asked for. */
	in = DEVICES("0000:00:03.0");
	in.lifetime_set = true;
	in.lifetime = POLICY_LIFETIME_PROCESS;
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), EPERM);
	ASSERT_STREQ(field(&rf, "reason"), "process lifetime needs SO_PEERPIDFD");
	refusal_done(&rf);
	plan_done(&plan);
	/* The grant's max-devices and max-leases; the fd reply limit. */
	in = DEVICES("0000:00:03.0", "0000:00:04.0");
	ASSERT_ERR(try_acquire(&f, &limited, &in, &plan, &rf), E2BIG);
	ASSERT_STREQ(rf.error, IOASID_ERROR_LIMIT_EXCEEDED);
	ASSERT_STREQ(field(&rf, "limit"), "devices");
	CU_ASSERT_EQUAL(field_int(&rf, "max"), 1);
	refusal_done(&rf);
	plan_done(&plan);
	(void)lease_for(&f, &limited, DEVICES("0000:00:03.0"));
	in = DEVICES("0000:00:04.0");
	ASSERT_ERR(try_acquire(&f, &limited, &in, &plan, &rf), E2BIG);
	ASSERT_STREQ(field(&rf, "limit"), "leases");
	refusal_done(&rf);
	plan_done(&plan);
	ASSERT_ERR(broker_acquire(&f.m, &f.peer, true, &in, &plan, &rf), E2BIG);
	ASSERT_STREQ(field(&rf, "limit"), "outstanding replies with fds");
	refusal_done(&rf);
	plan_done(&plan);
	fx_done(&f);
}

static void test_noiommu_refused(void) {
	Fx f;
	fx_setup(&f, "noiommu.json", UID_A);
	BrokerRequest in = DEVICES("0000:00:06.0");
	Plan plan;
	Refusal rf;
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), EPERM);
	ASSERT_STREQ(rf.error, IOASID_ERROR_PERMISSION_DENIED);
	ASSERT_STREQ(field(&rf, "reason"), "0000:00:06.0 is a noiommu device (no DMA isolation) "
					   "and allow-noiommu is off");
	refusal_done(&rf);
	plan_done(&plan);
	fx_done(&f);
}

/* ---- broker: groups and dependents ---- */

static void test_group_refusals(void) {
	Fx f;
	fx_setup(&f, "sample.json", UID_A);
	Plan plan;
	Refusal rf;
	/* A host-driver device: no VFIO node, not viable. */
	BrokerRequest in = DEVICES("0000:00:01.0");
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), EPERM);
	ASSERT_STREQ(rf.error, IOASID_ERROR_GROUP_NOT_VIABLE);
	CU_ASSERT_EQUAL(field_int(&rf, "group"), 1);
	CU_ASSERT_EQUAL(refusal_get(&rf, "blockers")->type, REFUSAL_STRV);
	CU_ASSERT_PTR_NOT_NULL(refusal_get(&rf, "blockers")->strv);
	refusal_done(&rf);
	plan_done(&plan);
	/* Leased to another uid: the device is busy, its sibling's group is owned. */
	Peer b = peer_of(UID_B);
	Lease *l = lease_for(&f, &b, DEVICES("0000:01:01.0"));
	in = DEVICES("0000:01:01.0");
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), EBUSY);
	ASSERT_STREQ(rf.error, IOASID_ERROR_DEVICE_BUSY);
	ASSERT_STREQ(field(&rf, "reason"), "leased to another user");
	refusal_done(&rf);
	plan_done(&plan);
	in = DEVICES("0000:01:02.0");
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), EBUSY);
	ASSERT_STREQ(rf.error, IOASID_ERROR_GROUP_OWNED);
	CU_ASSERT_EQUAL(field_int(&rf, "group"), 5);
	ASSERT_STREQ(field(&rf, "owner"), "another user");
	refusal_done(&rf);
	plan_done(&plan);
	/* To its holder, the lease is named. */
	ASSERT_ERR(try_acquire(&f, &b, &in, &plan, &rf), EBUSY);
	char want[128];
	snprintf(want, sizeof(want), "uid:%u (lease %s)", UID_B, l->id);
	ASSERT_STREQ(field(&rf, "owner"), want);
	refusal_done(&rf);
	plan_done(&plan);
	/* group implicit: the free sibling of a granted device is at risk. */
	manager_end_lease(&f.m, l, "test");
	in = DEVICES("0000:01:01.0");
	ASSERT_OK(try_acquire(&f, &f.peer, &in, &plan, &rf));
	CU_ASSERT_EQUAL(strv_length(plan.at_risk), 1);
	ASSERT_STREQ(plan.at_risk[0], "0000:01:02.0");
	plan_done(&plan);
	/* group whole: the grantee takes, and gets, the whole group. */
	Peer whole = peer_of(4704);
	ASSERT_OK(try_acquire(&f, &whole, &in, &plan, &rf));
	CU_ASSERT_EQUAL(plan.n_devices, 2);
	CU_ASSERT_PTR_NULL(plan.at_risk);
	plan_done(&plan);
	fx_done(&f);
}

/* The daemon-wide lease table limit (IOASID_MAX_LEASES) at its boundary, and the probe made
 * before it refuses: a lease let go of and not probed yet counts until it is probed, a full
 * table probes it first (a released one makes room), and an Acquire below every limit
 * probes nothing. */
static void test_table_limit(void) {
	Fx f;
	fx_setup(&f, "sample.json", UID_A);
	Peer b = peer_of(UID_B);
	Plan plan;
	Refusal rf;
	/* Let go of, its fds with nobody (released), not probed yet. */
	Lease *ended = lease_for(&f, &b, DEVICES("0000:00:04.0"));
	manager_end_lease(&f.m, ended, "test");
	CU_ASSERT_EQUAL_FATAL(f.m.leases.n, 1);
	CU_ASSERT_TRUE(ended->probe_due);
	/* Below every limit, an Acquire of another group probes nothing. */
	BrokerRequest in = DEVICES("0000:00:03.0");
	ASSERT_OK(try_acquire(&f, &f.peer, &in, &plan, &rf));
	plan_done(&plan);
	refusal_done(&rf);
	CU_ASSERT_EQUAL_FATAL(f.m.leases.n, 1);
	CU_ASSERT_TRUE(ended->probe_due);
	/* The table filled to its limit with records of no device. */
	Lease *filler = NULL;
	while (f.m.leases.n < IOASID_MAX_LEASES) {
		ASSERT_OK(lease_new(&filler));
		filler->uid = UID_DENIED;
		ASSERT_OK(lease_table_add(&f.m.leases, filler));
	}
	/* Full, the unprobed lease among them: probed first, found released, forgotten. */
	ASSERT_OK(try_acquire(&f, &f.peer, &in, &plan, &rf));
	plan_done(&plan);
	refusal_done(&rf);
	CU_ASSERT_EQUAL(f.m.leases.n, IOASID_MAX_LEASES - 1);
	/* Full for real: refused, naming the limit. */
	ASSERT_OK(lease_new(&filler));
	filler->uid = UID_DENIED;
	ASSERT_OK(lease_table_add(&f.m.leases, filler));
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), E2BIG);
	ASSERT_STREQ(rf.error, IOASID_ERROR_LIMIT_EXCEEDED);
	ASSERT_STREQ(field(&rf, "limit"), "leases");
	CU_ASSERT_EQUAL(field_int(&rf, "max"), IOASID_MAX_LEASES);
	plan_done(&plan);
	refusal_done(&rf);
	/* One record fewer: granted. */
	lease_table_remove(&f.m.leases, filler);
	lease_free(filler, f.m.kernel);
	ASSERT_OK(try_acquire(&f, &f.peer, &in, &plan, &rf));
	plan_done(&plan);
	refusal_done(&rf);
	fx_done(&f);
}

/* A sibling on a host driver: GroupNotViable naming the sibling that blocks. */
static void test_group_not_viable_names_blocker(void) {
	Fx f;
	fx_setup(&f, "workstation.json", UID_A);
	BrokerRequest in = DEVICES("0000:01:00.0");
	expect_refusal(&f, &f.peer, &in, EPERM, IOASID_ERROR_GROUP_NOT_VIABLE, "0000:01:00.1");
	fx_done(&f);
}

/* A platform device on a host driver in the group of a PCI function on vfio-pci (an SMMU
 * host): GroupNotViable naming the platform device, which has no Device in the model; and
 * the sim kernel, like the real one, refuses the bind while it is there. */
static void test_group_not_viable_platform_blocker(void) {
	Fx f;
	fx_setup(&f, "arm-board.json", UID_A);
	Group *g = (Group *)host_find_group(f.m.host, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	g->foreign_members = calloc(1, sizeof(ForeignMember));
	CU_ASSERT_PTR_NOT_NULL_FATAL(g->foreign_members);
	g->foreign_members[0] = (ForeignMember){ .name = strdup("3200000.usb"),
						 .bus = strdup("platform"),
						 .driver = strdup("dwc3"),
						 .driver_known = true };
	g->n_foreign_members = 1;
	BrokerRequest in = DEVICES("0002:01:00.0");
	expect_refusal(&f, &f.peer, &in, EPERM, IOASID_ERROR_GROUP_NOT_VIABLE, "3200000.usb");
	fx_done(&f);
}

static void test_dependent_owned(void) {
	Fx f;
	fx_setup(&f, "sriov-vfio.json", UID_A);
	Peer b = peer_of(UID_B);
	/* Two functions that share a bus reset (no FLR), in groups 20 and 21. */
	(void)lease_for(&f, &b, DEVICES("0000:02:00.0"));
	Plan plan;
	Refusal rf;
	BrokerRequest in = DEVICES("0000:02:00.1");
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), EBUSY);
	ASSERT_STREQ(rf.error, IOASID_ERROR_DEPENDENT_OWNED);
	ASSERT_STREQ(field(&rf, "device"), "0000:02:00.1");
	ASSERT_STREQ(field(&rf, "dependent"), "0000:02:00.0");
	ASSERT_STREQ(field(&rf, "relation"), "reset");
	refusal_done(&rf);
	plan_done(&plan);
	/* The same owner may hold both. */
	ASSERT_OK(try_acquire(&f, &b, &in, &plan, &rf));
	plan_done(&plan);
	/* A VF of a PF another owner holds. */
	(void)lease_for(&f, &b, DEVICES("0000:01:00.0"));
	in = DEVICES("0000:01:10.0");
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), EBUSY);
	ASSERT_STREQ(field(&rf, "relation"), "pf");
	refusal_done(&rf);
	plan_done(&plan);
	fx_done(&f);
}

/* A context staged for the caller that the request does not match: DeviceBusy saying what
 * was staged; the matching request is served from it. */
static void test_staged_mismatch(void) {
	Fx f;
	fx_setup(&f, "sample.json", UID_A);
	Peer admin = peer_of(0);
	BrokerRequest in = DEVICES("0000:00:03.0");
	in.mode_set = true;
	in.mode = LEASE_MODE_UNBOUND;
	Plan plan = { 0 };
	Refusal rf = { 0 };
	ASSERT_OK(broker_stage(&f.m, &admin, &in, "uid 4701", UID_A, NULL, &plan, &rf));
	Lease *l = NULL;
	ASSERT_OK(context_build(&f.m, &admin, &plan, NULL, &l, &rf));
	ASSERT_OK(lease_set_state(l, LEASE_STAGED));
	l->uid = UID_A;
	l->owner = strdup("uid 4701");
	ASSERT_OK(lease_table_add(&f.m.leases, l));
	plan_done(&plan);
	/* Another owner: the group is owned by a staged context. */
	Peer b = peer_of(UID_B);
	BrokerRequest attached = DEVICES("0000:00:03.0");
	attached.mode_set = true;
	ASSERT_ERR(try_acquire(&f, &b, &attached, &plan, &rf), EBUSY);
	ASSERT_STREQ(rf.error, IOASID_ERROR_GROUP_OWNED);
	ASSERT_STREQ(field(&rf, "owner"), "staged for another owner");
	refusal_done(&rf);
	plan_done(&plan);
	/* Its owner, in the other mode: told what is staged. */
	ASSERT_ERR(try_acquire(&f, &f.peer, &attached, &plan, &rf), EBUSY);
	ASSERT_STREQ(rf.error, IOASID_ERROR_DEVICE_BUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(field(&rf, "reason"), "in unbound mode"));
	refusal_done(&rf);
	plan_done(&plan);
	/* Naming no mode, or the staged one: served from it. */
	BrokerRequest any = DEVICES("0000:00:03.0");
	ASSERT_OK(try_acquire(&f, &f.peer, &any, &plan, &rf));
	CU_ASSERT_PTR_EQUAL(plan.staged, l);
	CU_ASSERT_EQUAL(plan.mode, LEASE_MODE_UNBOUND);
	plan_done(&plan);
	/* Stage for an owner the policy denies. */
	BrokerRequest other = DEVICES("0000:00:04.0");
	plan = (Plan){ 0 };
	ASSERT_ERR(broker_stage(&f.m, &admin, &other, "uid 4799", UID_DENIED, NULL, &plan, &rf),
		   EPERM);
	ASSERT_STREQ(rf.error, IOASID_ERROR_OWNER_DENIED);
	ASSERT_STREQ(field(&rf, "rule"), "broker.conf:8");
	refusal_done(&rf);
	plan_done(&plan);
	fx_done(&f);
}

/* No kernel API (neither iommufd nor legacy VFIO): SystemError, before any group check. */
static void test_no_kernel_api(void) {
	Fx f;
	fx_setup(&f, "sample.json", UID_A);
	KernelOps ops = *f.m.kernel->ops;
	const KernelOps *sim = f.m.kernel->ops;
	ops.api = NULL; /* KERNEL_API_NONE */
	f.m.kernel->ops = &ops;
	BrokerRequest in = DEVICES("0000:00:03.0");
	Plan plan;
	Refusal rf;
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), ENODEV);
	ASSERT_STREQ(rf.error, IOASID_ERROR_SYSTEM);
	ASSERT_STREQ(field(&rf, "operation"), "open /dev/iommu");
	refusal_done(&rf);
	plan_done(&plan);
	f.m.kernel->ops = sim;
	fx_done(&f);
}

/* The deny of an Acquire refused after the policy was asked is audited; one refused before
 * (a malformed request) is not. */
static void test_audit_only_decided(void) {
	Fx f;
	fx_setup(&f, "sample.json", UID_A);
	Plan plan;
	Refusal rf;
	BrokerRequest in = DEVICES("0000:00:09.0");
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), ENODEV);
	CU_ASSERT_FALSE(plan.decided);
	refusal_done(&rf);
	plan_done(&plan);
	Peer b = peer_of(UID_B);
	(void)lease_for(&f, &b, DEVICES("0000:00:04.0"));
	in = DEVICES("0000:00:04.0");
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), EBUSY);
	CU_ASSERT_TRUE(plan.decided);
	ASSERT_STREQ(plan.audit_rule, "broker.conf:9");
	char buf[512];
	const char *dev = NULL;
	ASSERT_STREQ(refusal_summary(&rf, buf, sizeof(buf), &dev), "leased to another user");
	ASSERT_STREQ(dev, "0000:00:04.0");
	refusal_done(&rf);
	plan_done(&plan);
	fx_done(&f);
}

/* ---- vhost-vdpa ---- */

static const char vdpa_policy[] = "admin uid 0\n"
				  "allow uid 4701 to vdpa \"*\"\n"
				  "allow uid 4701 to any\n"
				  "allow uid 4702 to vdpa \"*\"\n"
				  "allow uid 4702 to any\n";

static void fx_setup_vdpa(Fx *f, uid_t uid) {
	fx_setup(f, "vdpa-guest.json", uid);
	policy_free(f->m.policy);
	f->m.policy = NULL;
	PolicyLoadOptions o = { .generation = 1 };
	PolicyError e = { 0 };
	ASSERT_OK(policy_load_string(vdpa_policy, "vdpa.conf", &o, &f->m.policy, &e));
}

/* A vDPA device is leased with its char device and its parent's group; a second owner, and
 * VFIO on that group, are refused by the broker with named errors (the holder's lease named
 * to its own uid only); a vp_vdpa parent sharing its group is GroupNotViable; the mode and
 * layout go with vdpa only as vhost-vdpa and none. */
static void test_vdpa_lease_refusals(void) {
	Fx f;
	fx_setup_vdpa(&f, UID_A);
	Plan plan;
	Refusal rf;
	Lease *l = lease_for(&f, &f.peer, (BrokerRequest){ .vdpa = "vdpa0" });
	CU_ASSERT_EQUAL(l->mode, LEASE_MODE_VHOST_VDPA);
	ASSERT_STREQ(l->vdpa, "vdpa0");
	ASSERT_STREQ(l->vdpa_parent, "0000:00:02.0");
	CU_ASSERT_EQUAL(l->n_devices, 0);
	CU_ASSERT_EQUAL_FATAL(l->n_groups, 1);
	CU_ASSERT_EQUAL(l->groups[0], 2);
	CU_ASSERT(l->vdpa_fd >= 0);
	CU_ASSERT_PTR_EQUAL(lease_table_vdpa_owner(&f.m.leases, "vdpa0"), l);
	CU_ASSERT_PTR_EQUAL(lease_table_group_owner(&f.m.leases, 2), l);

	Peer b = peer_of(UID_B);
	BrokerRequest in = { .vdpa = "vdpa0" };
	expect_refusal(&f, &b, &in, EBUSY, IOASID_ERROR_DEVICE_BUSY, "vdpa0");
	/* VFIO on the parent's group: the holder sees its lease named, another user not. */
	in = DEVICES("0000:00:02.0");
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), EBUSY);
	ASSERT_STREQ(rf.error, IOASID_ERROR_FRAMEWORK_CONFLICT);
	ASSERT_STREQ(field(&rf, "device"), "0000:00:02.0");
	CU_ASSERT_EQUAL(field_int(&rf, "group"), 2);
	ASSERT_STREQ(field(&rf, "framework"), "vhost-vdpa");
	ASSERT_STREQ(field(&rf, "lease"), l->id);
	CU_ASSERT_PTR_NOT_NULL(strstr(strempty(field(&rf, "reason")), "vdpa0@0000:00:02.0"));
	refusal_done(&rf);
	plan_done(&plan);
	ASSERT_ERR(try_acquire(&f, &b, &in, &plan, &rf), EBUSY);
	ASSERT_STREQ(rf.error, IOASID_ERROR_FRAMEWORK_CONFLICT);
	CU_ASSERT_EQUAL(refusal_get(&rf, "lease")->type, REFUSAL_NULL);
	ASSERT_STREQ(field(&rf, "owner"), "another user");
	CU_ASSERT_PTR_NULL(strstr(strempty(field(&rf, "reason")), l->id));
	refusal_done(&rf);
	plan_done(&plan);

	/* vdpa1's vp_vdpa parent shares group 5: refused before the kernel's EINVAL. */
	in = (BrokerRequest){ .vdpa = "vdpa1" };
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), EPERM);
	ASSERT_STREQ(rf.error, IOASID_ERROR_GROUP_NOT_VIABLE);
	CU_ASSERT_EQUAL(field_int(&rf, "group"), 5);
	refusal_done(&rf);
	plan_done(&plan);
	/* The kernel agrees: its open is EINVAL there. */
	int fd = -EBADF;
	ASSERT_ERR(kernel_vhost_vdpa_open(f.m.kernel, host_find_vdpa_device(f.m.host, "vdpa1"),
					  &fd),
		   EINVAL);

	/* A VFIO lease on group 5 (its members cannot be bound while the parent is on vp_vdpa,
	 * so this one is recorded by hand, as the table would hold it) blocks vhost-vdpa on
	 * the parent's group: FrameworkConflict comes before the shared-group check. */
	Lease *v = NULL;
	ASSERT_OK(lease_new(&v));
	v->uid = UID_B;
	v->mode = LEASE_MODE_ATTACHED;
	ASSERT_OK(lease_add_device(v, "0000:01:01.0", 5, -EBADF));
	ASSERT_OK(lease_set_state(v, LEASE_ACTIVE));
	ASSERT_OK(lease_table_add(&f.m.leases, v));
	ASSERT_ERR(try_acquire(&f, &f.peer, &in, &plan, &rf), EBUSY);
	ASSERT_STREQ(rf.error, IOASID_ERROR_FRAMEWORK_CONFLICT);
	ASSERT_STREQ(field(&rf, "device"), "vdpa1");
	CU_ASSERT_EQUAL(field_int(&rf, "group"), 5);
	ASSERT_STREQ(field(&rf, "framework"), "vfio");
	refusal_done(&rf);
	plan_done(&plan);
	/* To an admin the other user's lease is named. */
	Peer root = peer_of(0);
	policy_free(f.m.policy);
	PolicyLoadOptions o = { .generation = 2 };
	PolicyError e = { 0 };
	f.m.policy = NULL;
	ASSERT_OK(policy_load_string("admin uid 0\nallow uid 0 to vdpa \"*\"\n", "vdpa.conf", &o,
				     &f.m.policy, &e));
	ASSERT_ERR(try_acquire(&f, &root, &in, &plan, &rf), EBUSY);
	ASSERT_STREQ(field(&rf, "lease"), v->id);
	refusal_done(&rf);
	plan_done(&plan);

	/* A software device has no group: leased alone, groups empty. */
	Lease *s = lease_for(&f, &root, (BrokerRequest){ .vdpa = "vdpa-sim0" });
	CU_ASSERT_EQUAL(s->n_groups, 0);
	ASSERT_STREQ(s->vdpa_parent, "");

	/* vhost-vdpa is vdpa's mode and vdpa's only; no layout. */
	in = (BrokerRequest){ .vdpa = "vdpa0", .mode_set = true, .mode = LEASE_MODE_UNBOUND };
	expect_refusal(&f, &root, &in, EINVAL, VARLINK_ERROR_INVALID_PARAMETER, NULL);
	in = (BrokerRequest){ .vdpa = "vdpa0", .layout = "x" };
	expect_refusal(&f, &root, &in, EINVAL, VARLINK_ERROR_INVALID_PARAMETER, NULL);
	in = DEVICES("0000:00:03.0");
	in.mode_set = true;
	in.mode = LEASE_MODE_VHOST_VDPA;
	expect_refusal(&f, &root, &in, EINVAL, VARLINK_ERROR_INVALID_PARAMETER, NULL);
	in = (BrokerRequest){ .vdpa = "nosuch" };
	expect_refusal(&f, &root, &in, ENODEV, IOASID_ERROR_NO_SUCH_DEVICE, "nosuch");
	fx_done(&f);
}

/* The context: the kernel's open is exclusive; freeing the lease closes the daemon's file,
 * and the device opens again. A second context for a device a file is open of is DeviceBusy
 * (the kernel's EBUSY), with nothing left open. */
static void test_vdpa_context(void) {
	Fx f;
	fx_setup_vdpa(&f, UID_A);
	Plan plan;
	Refusal rf;
	BrokerRequest in = { .vdpa = "vdpa0" };
	ASSERT_OK(try_acquire(&f, &f.peer, &in, &plan, &rf));
	Lease *l = NULL, *l2 = NULL;
	/* Once first: the sim opens what it keeps (its events fd) on first use. */
	ASSERT_OK(context_build(&f.m, &f.peer, &plan, NULL, &l, &rf));
	lease_free(l, f.m.kernel);
	int before = count_fds();
	ASSERT_OK(context_build(&f.m, &f.peer, &plan, NULL, &l, &rf));
	CU_ASSERT_EQUAL(count_fds(), before + 1);
	ASSERT_ERR(context_build(&f.m, &f.peer, &plan, NULL, &l2, &rf), EBUSY);
	ASSERT_STREQ(rf.error, IOASID_ERROR_DEVICE_BUSY);
	ASSERT_STREQ(field(&rf, "device"), "vdpa0");
	CU_ASSERT_EQUAL(count_fds(), before + 1);
	refusal_done(&rf);
	lease_free(l, f.m.kernel);
	CU_ASSERT_EQUAL(count_fds(), before);
	ASSERT_OK(context_build(&f.m, &f.peer, &plan, NULL, &l, &rf));
	lease_free(l, f.m.kernel);
	plan_done(&plan);
	refusal_done(&rf);
	fx_done(&f);
}

static CU_TestInfo broker_tests[] = {
	{ "resolve_refusals", test_resolve_refusals },
	{ "vdpa_lease_refusals", test_vdpa_lease_refusals },
	{ "vdpa_context", test_vdpa_context },
	{ "policy_refusals", test_policy_refusals },
	{ "noiommu_refused", test_noiommu_refused },
	{ "group_refusals", test_group_refusals },
	{ "table_limit", test_table_limit },
	{ "group_not_viable_names_blocker", test_group_not_viable_names_blocker },
	{ "group_not_viable_platform_blocker", test_group_not_viable_platform_blocker },
	{ "dependent_owned", test_dependent_owned },
	{ "staged_mismatch", test_staged_mismatch },
	{ "no_kernel_api", test_no_kernel_api },
	{ "audit_only_decided", test_audit_only_decided },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("broker", broker_tests);

/* ---- context: refusals and rollback ---- */

/* The sim's own ops, and the one call to fail: the nth call (from 1) of op, with err. */
static const KernelOps *fail_sim;
static const char *fail_op;
static unsigned fail_nth, fail_seen;
static int fail_err;

static bool should_fail(const char *op) {
	return fail_op && streq(op, fail_op) && ++fail_seen == fail_nth;
}

static int f_iommufd_open(Kernel *k, int *ret) {
	return should_fail("iommufd-open") ? -fail_err : fail_sim->iommufd_open(k, ret);
}
static int f_set_rlimit_mode(Kernel *k, int fd, bool pp) {
	return should_fail("iommufd-set-rlimit-mode")
		       ? -fail_err
		       : fail_sim->iommufd_set_rlimit_mode(k, fd, pp);
}
static int f_ioas_alloc(Kernel *k, int fd, uint32_t *ret) {
	return should_fail("ioas-alloc") ? -fail_err : fail_sim->ioas_alloc(k, fd, ret);
}
static int f_allow_iovas(Kernel *k, int fd, uint32_t id, const IovaRange *r, size_t n) {
	return should_fail("ioas-allow-iovas") ? -fail_err
					       : fail_sim->ioas_allow_iovas(k, fd, id, r, n);
}
static int f_huge_pages(Kernel *k, int fd, uint32_t id, bool on) {
	return should_fail("ioas-set-huge-pages") ? -fail_err
						  : fail_sim->ioas_set_huge_pages(k, fd, id, on);
}
static int f_device_open(Kernel *k, const Device *d, int *ret) {
	return should_fail("device-open") ? -fail_err : fail_sim->device_open(k, d, ret);
}
static int f_device_bind(Kernel *k, int devfd, int fd, uint32_t *ret) {
	return should_fail("device-bind") ? -fail_err : fail_sim->device_bind(k, devfd, fd, ret);
}
static int f_device_attach(Kernel *k, int devfd, uint32_t pt, uint32_t *ret) {
	return should_fail("device-attach") ? -fail_err
					    : fail_sim->device_attach(k, devfd, pt, ret);
}

static void fail_install(Fx *f, KernelOps *ops, const char *op, unsigned nth, int err) {
	fail_sim = f->m.kernel->ops;
	*ops = *fail_sim;
	ops->iommufd_open = f_iommufd_open;
	ops->iommufd_set_rlimit_mode = f_set_rlimit_mode;
	ops->ioas_alloc = f_ioas_alloc;
	ops->ioas_allow_iovas = f_allow_iovas;
	ops->ioas_set_huge_pages = f_huge_pages;
	ops->device_open = f_device_open;
	ops->device_bind = f_device_bind;
	ops->device_attach = f_device_attach;
	f->m.kernel->ops = ops;
	fail_op = op;
	fail_nth = nth;
	fail_seen = 0;
	fail_err = err;
}

static void fail_remove(Fx *f) {
	f->m.kernel->ops = fail_sim;
	fail_op = NULL;
}

/* A plan for uid A of the two free devices of sample.json, in layout (may be NULL). */
static void two_device_plan(Fx *f, const char *layout, Plan *plan) {
	BrokerRequest in = DEVICES("0000:00:03.0", "0000:00:04.0");
	in.layout = layout;
	Refusal rf;
	ASSERT_OK(try_acquire(f, &f->peer, &in, plan, &rf));
	refusal_done(&rf);
}

/*
 * Each kernel call of the context fails once, at each of its calls: the refusal names the
 * operation (or is the named error the errno means), nothing is left open (the fd count is
 * back, the sim has no file of the attempt) and both devices can be bound anew.
 */
static void test_context_rollback(void) {
	static const struct {
		const char *op;
		unsigned calls; /* how many times a two-device attached context calls it */
		int err;
		const char *error; /* what the client is told */
	} cases[] = {
		{ "iommufd-open", 1, EMFILE, IOASID_ERROR_SYSTEM },
		{ "ioas-alloc", 1, ENOMEM, IOASID_ERROR_SYSTEM },
		{ "ioas-allow-iovas", 1, ENOMEM, IOASID_ERROR_SYSTEM },
		{ "ioas-set-huge-pages", 1, EADDRINUSE, IOASID_ERROR_LAYOUT_CONFLICT },
		{ "device-open", 2, ENODEV, IOASID_ERROR_NO_SUCH_DEVICE },
		{ "device-open", 2, EMFILE, IOASID_ERROR_SYSTEM },
		{ "device-bind", 2, EBUSY, IOASID_ERROR_DEVICE_BUSY },
		{ "device-bind", 2, ENOMEM, IOASID_ERROR_SYSTEM },
		{ "device-attach", 2, EADDRINUSE, IOASID_ERROR_LAYOUT_CONFLICT },
		{ "device-attach", 2, ENOSPC, IOASID_ERROR_SYSTEM },
	};
	Fx f;
	fx_setup(&f, "sample.json", UID_A);
	const Device *d3 = host_find_device(f.m.host, "0000:00:03.0");
	const Device *d4 = host_find_device(f.m.host, "0000:00:04.0");
	(void)kernel_sync(f.m.kernel);
	int base = count_fds();
	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		for (unsigned nth = 1; nth <= cases[i].calls; nth++) {
			Plan plan;
			two_device_plan(&f, "nohuge", &plan);
			KernelOps ops;
			fail_install(&f, &ops, cases[i].op, nth, cases[i].err);
			Refusal rf = { 0 };
			Lease *l = NULL;
			int r = context_build(&f.m, &f.peer, &plan, NULL, &l, &rf);
			fail_remove(&f);
			if (r != -cases[i].err)
				fprintf(stderr, "%s #%u: %d\n", cases[i].op, nth, r);
			ASSERT_ERR(r, cases[i].err);
			CU_ASSERT_EQUAL(fail_seen >= nth, true);
			ASSERT_STREQ(rf.error, cases[i].error);
			if (streq(cases[i].error, IOASID_ERROR_SYSTEM))
				ASSERT_STREQ(field(&rf, "operation"), cases[i].op);
			CU_ASSERT_PTR_NULL(l);
			CU_ASSERT_EQUAL(f.m.leases.n, 0);
			(void)kernel_sync(f.m.kernel);
			CU_ASSERT_EQUAL(count_fds(), base);
			ASSERT_OK(bind_anew(f.m.kernel, d3));
			ASSERT_OK(bind_anew(f.m.kernel, d4));
			refusal_done(&rf);
			plan_done(&plan);
		}
	/* Without a failure the same plan builds: attached, both bound, the IOAS made. */
	Plan plan;
	two_device_plan(&f, "nohuge", &plan);
	Refusal rf = { 0 };
	Lease *l = NULL;
	ASSERT_OK(context_build(&f.m, &f.peer, &plan, NULL, &l, &rf));
	CU_ASSERT_EQUAL(l->n_devices, 2);
	CU_ASSERT_TRUE(l->iommufd >= 0);
	CU_ASSERT_EQUAL(l->uid, (uid_t)UID_A);
	ASSERT_ERR(bind_anew(f.m.kernel, d3), EINVAL);
	lease_free(l, f.m.kernel);
	(void)kernel_sync(f.m.kernel);
	CU_ASSERT_EQUAL(count_fds(), base);
	ASSERT_OK(bind_anew(f.m.kernel, d3));
	plan_done(&plan);
	fx_done(&f);
}

/* What the kernel refuses for a layout: an IOVA window over a reserved region (the MSI
 * window), a capability this IOMMU lacks. */
static void test_context_layout_conflicts(void) {
	Fx f;
	fx_setup(&f, "sample.json", UID_A);
	Plan plan;
	Refusal rf = { 0 };
	Lease *l = NULL;
	two_device_plan(&f, "win", &plan);
	ASSERT_ERR(context_build(&f.m, &f.peer, &plan, NULL, &l, &rf), EADDRINUSE);
	ASSERT_STREQ(rf.error, IOASID_ERROR_LAYOUT_CONFLICT);
	ASSERT_STREQ(field(&rf, "layout"), "win");
	const RefusalField *c = refusal_get(&rf, "conflicts");
	CU_ASSERT_FATAL(c && c->type == REFUSAL_STRV && c->strv);
	ASSERT_STREQ(c->strv[0], "0x00000000fee00000-0x00000000feefffff msi");
	refusal_done(&rf);
	plan_done(&plan);
	two_device_plan(&f, "dirty", &plan);
	ASSERT_ERR(context_build(&f.m, &f.peer, &plan, NULL, &l, &rf), EADDRINUSE);
	ASSERT_STREQ(rf.error, IOASID_ERROR_LAYOUT_CONFLICT);
	c = refusal_get(&rf, "conflicts");
	CU_ASSERT_FATAL(c && c->strv);
	ASSERT_STREQ(c->strv[0], "0000:00:03.0: IOMMU has no dirty tracking");
	refusal_done(&rf);
	plan_done(&plan);
	/* Unbound mode: the layout is not applied, and the caller is told so. */
	BrokerRequest in = DEVICES("0000:00:03.0");
	in.layout = "nohuge";
	in.mode_set = true;
	in.mode = LEASE_MODE_UNBOUND;
	ASSERT_OK(try_acquire(&f, &f.peer, &in, &plan, &rf));
	char **warnings = NULL;
	ASSERT_OK(context_build(&f.m, &f.peer, &plan, &warnings, &l, &rf));
	CU_ASSERT_EQUAL(strv_length(warnings), 1);
	CU_ASSERT_EQUAL(l->ioas_id, 0);
	lease_free(l, f.m.kernel);
	strv_free(warnings);
	plan_done(&plan);
	fx_done(&f);
}

/* A device still bound elsewhere (a previous holder's file): DeviceBusy naming it; a host
 * driver in the group (the bookkeeping bypassed): GroupNotViable naming the sibling. */
static void test_context_kernel_refusals(void) {
	Fx f;
	fx_setup(&f, "sample.json", UID_A);
	const Device *d3 = host_find_device(f.m.host, "0000:00:03.0");
	int i = -EBADF, fd = -EBADF;
	uint32_t id;
	ASSERT_OK(kernel_iommufd_open(f.m.kernel, &i));
	ASSERT_OK(kernel_device_open(f.m.kernel, d3, &fd));
	ASSERT_OK(kernel_device_bind(f.m.kernel, fd, i, &id));
	Plan plan;
	Refusal rf = { 0 };
	Lease *l = NULL;
	BrokerRequest in = DEVICES("0000:00:03.0");
	ASSERT_OK(try_acquire(&f, &f.peer, &in, &plan, &rf));
	ASSERT_ERR(context_build(&f.m, &f.peer, &plan, NULL, &l, &rf), EINVAL);
	ASSERT_STREQ(rf.error, IOASID_ERROR_DEVICE_BUSY);
	ASSERT_STREQ(field(&rf, "reason"),
		     "device-bind failed with EINVAL: still held by a previous holder");
	refusal_done(&rf);
	plan_done(&plan);
	kernel_close(f.m.kernel, fd);
	kernel_close(f.m.kernel, i);
	fx_done(&f);

	fx_setup(&f, "workstation.json", UID_A);
	f.m.testing_bypass = true;
	in = DEVICES("0000:01:00.0");
	ASSERT_OK(try_acquire(&f, &f.peer, &in, &plan, &rf));
	ASSERT_ERR(context_build(&f.m, &f.peer, &plan, NULL, &l, &rf), EPERM);
	ASSERT_STREQ(rf.error, IOASID_ERROR_GROUP_NOT_VIABLE);
	ASSERT_STREQ(field(&rf, "device"), "0000:01:00.1");
	refusal_done(&rf);
	plan_done(&plan);
	fx_done(&f);
}

/* Legacy VFIO (no iommufd): a container with the groups; unbound mode and a layout are
 * refused; a group node is handed out only when the lease holds its whole group. */
static void test_context_legacy(void) {
	Fx f;
	fx_setup(&f, "legacy.json", UID_A);
	CU_ASSERT_EQUAL_FATAL(kernel_api(f.m.kernel), KERNEL_API_LEGACY);
	Plan plan;
	Refusal rf = { 0 };
	Lease *l = NULL;
	BrokerRequest in = DEVICES("0000:01:01.0");
	ASSERT_OK(try_acquire(&f, &f.peer, &in, &plan, &rf));
	ASSERT_OK(context_build(&f.m, &f.peer, &plan, NULL, &l, &rf));
	CU_ASSERT_EQUAL(l->mode, LEASE_MODE_LEGACY);
	CU_ASSERT_TRUE(l->container >= 0);
	CU_ASSERT_EQUAL_FATAL(l->n_legacy_groups, 1);
	CU_ASSERT_FALSE(l->legacy_groups[0].handed_out); /* its sibling is not in the lease */
	lease_free(l, f.m.kernel);
	plan.mode = LEASE_MODE_UNBOUND;
	ASSERT_ERR(context_build(&f.m, &f.peer, &plan, NULL, &l, &rf), EOPNOTSUPP);
	ASSERT_STREQ(rf.error, IOASID_ERROR_SYSTEM);
	plan.mode = LEASE_MODE_ATTACHED;
	plan.layout = "win";
	ASSERT_ERR(context_build(&f.m, &f.peer, &plan, NULL, &l, &rf), EADDRINUSE);
	ASSERT_STREQ(rf.error, IOASID_ERROR_LAYOUT_CONFLICT);
	refusal_done(&rf);
	plan_done(&plan);
	fx_done(&f);
}

static CU_TestInfo context_tests[] = {
	{ "rollback", test_context_rollback },
	{ "layout_conflicts", test_context_layout_conflicts },
	{ "kernel_refusals", test_context_kernel_refusals },
	{ "legacy", test_context_legacy },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("context", context_tests);

/* ---- error names ---- */

/* Every named error of common/proto.h is declared, under that name, by the IDL of the
 * interface that qualifies it: the wire says what the IDL says (io.ioasid.Broker.GroupOwned,
 * not io.ioasid.GroupOwned). */
static void test_error_names_match_idl(void) {
	static const char *const names[] = {
		IOASID_ERROR_PERMISSION_DENIED,
		IOASID_ERROR_NO_SUCH_DEVICE,
		IOASID_ERROR_GROUP_NOT_VIABLE,
		IOASID_ERROR_GROUP_OWNED,
		IOASID_ERROR_DEVICE_BUSY,
		IOASID_ERROR_DEPENDENT_OWNED,
		IOASID_ERROR_FRAMEWORK_CONFLICT,
		IOASID_ERROR_LIMIT_EXCEEDED,
		IOASID_ERROR_LAYOUT_CONFLICT,
		IOASID_ERROR_NO_SUCH_LEASE,
		IOASID_ERROR_PROTOCOL,
		IOASID_ERROR_SYSTEM,
		IOASID_ERROR_MANAGER_PERMISSION_DENIED,
		IOASID_ERROR_RELOAD_FAILED,
		IOASID_ERROR_MANAGER_NO_SUCH_LEASE,
		IOASID_ERROR_NO_SUCH_STAGED,
		IOASID_ERROR_NO_SUCH_USER,
		IOASID_ERROR_OWNER_DENIED,
	};
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		const char *dot = strrchr(names[i], '.');
		CU_ASSERT_FATAL(dot != NULL);
		char iface[64], path[512], decl[128];
		snprintf(iface, sizeof(iface), "%.*s", (int)(dot - names[i]), names[i]);
		CU_ASSERT(streq(iface, IOASID_IFACE_BROKER) || streq(iface, IOASID_IFACE_MANAGER));
		snprintf(path, sizeof(path), "%s/../common/%s.varlink", test_dir(), iface);
		_cleanup_free_ char *text = NULL;
		ASSERT_OK(read_full_file(path, 1 << 20, &text, NULL));
		snprintf(decl, sizeof(decl), "\nerror %s (", dot + 1);
		if (!strstr(text, decl))
			fprintf(stderr, "%s: not declared in %s\n", names[i], path);
		CU_ASSERT_PTR_NOT_NULL(strstr(text, decl));
	}
}

static CU_TestInfo error_tests[] = {
	{ "names_match_idl", test_error_names_match_idl },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("errors", error_tests);
