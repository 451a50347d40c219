/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cases of the adversarial catalogue (tests/ADVERSARIAL.md) that need a seam no process-level
 * test reaches:
 *   B4  hot-unplug after the daemon opened a device, before the reply is sent: the daemon's
 *       Acquire (the io.ioasid.Broker table's handler, as the server runs it, the sim
 *       kernel) with the device unplugged right after its open (a wrapped KernelOps);
 *   E7  every selector, grant, setting and layout item given twice is a load error at its
 *       second occurrence (table over the whole grammar, not a sample).
 */
#include <fcntl.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "common/kernel-impl.h"
#include "common/kernel-sim.h"
#include "common/macro.h"
#include "common/proto.h"
#include "common/varlink.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/method.h"
#include "tests/unit/test.h"

/* ---- B4: unplug between open and send ------------------------------------------------ */

/* The sim's own ops, and the device to unplug right after the daemon opens it. */
static const KernelOps *b4_sim_ops;
static const char *b4_unplug;
static unsigned b4_unplugged;

static int b4_device_open(Kernel *k, const Device *d, int *ret_fd) {
	int r = b4_sim_ops->device_open(k, d, ret_fd);
	if (r >= 0 && b4_unplug && streq(d->bdf, b4_unplug)) {
		/* kernel_sim_unplug() checks that k is the sim: lend it its own ops. */
		const KernelOps *mine = k->ops;
		k->ops = b4_sim_ops;
		if (kernel_sim_unplug(k, d->bdf) == 0)
			b4_unplugged++;
		k->ops = mine;
	}
	return r;
}

static int count_fds(void) {
	int n = 0;
	for (int fd = 0; fd < 4096; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

typedef struct B4 {
	Manager m;
	KernelOps ops;
	Peer peer;
} B4;

static void b4_setup(B4 *t) {
	*t = (B4){ .m = { .listen_fd = -EBADF, .generation = 1 } };
	t->m.host = test_load_fixture("sample.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->m.host);
	ASSERT_OK(kernel_new("sim", t->m.host, &t->m.kernel));
	t->m.leases.kernel = t->m.kernel;
	b4_sim_ops = t->m.kernel->ops;
	t->ops = *b4_sim_ops;
	t->ops.device_open = b4_device_open;
	t->m.kernel->ops = &t->ops;
	ASSERT_OK(sd_event_new(&t->m.event));
	t->m.pidfd_supported = identity_probe_pidfd();
	PolicyLoadOptions o = { .generation = 1 };
	PolicyError e = { 0 };
	ASSERT_OK(policy_load_string("allow * to any mode attached,unbound group implicit\n",
				     "b4.conf", &o, &t->m.policy, &e));
	t->peer = (Peer){ .uid = getuid(), .gid = getgid(), .pid = getpid(), .pidfd = -EBADF };
}

static void b4_done(B4 *t) {
	lease_table_clear(&t->m.leases);
	policy_free(t->m.policy);
	t->m.kernel->ops = b4_sim_ops;
	kernel_free(t->m.kernel);
	host_free(t->m.host);
	sd_event_unref(t->m.event);
	b4_unplug = NULL;
}

/* Runs Acquire for the JSON parameters as the server would (the table's spec, then its
 * handler); returns the reply's error name ("" for success) in err, the device it names, and
 * the number of fds the reply would carry. */
static void b4_acquire(B4 *t, const char *params, char *err, size_t size, size_t *ret_n_fds,
		       char *device, size_t dsize) {
	Doc *in = doc_new();
	DocNode *p = NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	ASSERT_OK(doc_parse(in, params, strlen(params), 8, &p));
	const Method *acquire = NULL;
	for (size_t i = 0; i < method_broker.n_methods; i++)
		if (streq(method_broker.methods[i].name, "Acquire"))
			acquire = &method_broker.methods[i];
	CU_ASSERT_PTR_NOT_NULL_FATAL(acquire);
	CU_ASSERT_TRUE(acquire->flags & METHOD_FDS);
	_Alignas(max_align_t) char args[METHOD_PARAMS_MAX] = { 0 };
	CU_ASSERT_FATAL(acquire->params_size <= sizeof(args));
	Refusal rf = { 0 };
	ASSERT_OK(method_params_parse(acquire->params, acquire->n_params, p, args, &rf));
	Call call = { .manager = &t->m, .peer = &t->peer, .method = "io.ioasid.Broker.Acquire" };
	Reply reply = { 0 };
	ASSERT_OK(acquire->handler(&call, args, &reply));
	json_object *dev = NULL;
	snprintf(err, size, "%s", strempty(reply.error));
	snprintf(device, dsize, "%s",
		 reply.params && json_object_object_get_ex(reply.params, "device", &dev)
			 ? json_object_get_string(dev)
			 : "");
	*ret_n_fds = reply.n_fds;
	/* A reply with fds carries its lease: the server would deliver it. */
	CU_ASSERT_EQUAL(reply.lease != NULL, reply.n_fds > 0);
	if (reply.lease)
		CU_ASSERT_EQUAL(lease_set_state(reply.lease, LEASE_ACTIVE), 0);
	reply_done(&reply);
	doc_free(in);
}

/* Every method of the three tables has a handler, a name of its own in its interface, and a
 * parameter struct that fits the server's room for it. Strictly smaller: no table reaches the
 * bound, so the server's assert on it guards only a row yet to be added. */
static void test_method_tables(void) {
	const MethodInterface *ifaces[] = { &method_service, &method_broker, &method_manager };
	for (size_t i = 0; i < ELEMENTSOF(ifaces); i++)
		for (size_t j = 0; j < ifaces[i]->n_methods; j++) {
			const Method *m = &ifaces[i]->methods[j];
			CU_ASSERT_PTR_NOT_NULL(m->handler);
			CU_ASSERT(m->params_size < METHOD_PARAMS_MAX);
			CU_ASSERT(m->n_params == 0 || m->params != NULL);
			for (size_t k = 0; k < j; k++)
				CU_ASSERT_FALSE(streq(m->name, ifaces[i]->methods[k].name));
		}
}

/* B4: the device goes away after the daemon opened it and before the lease is complete
 * (in attached mode the bind that follows the open sees it gone, as the kernel's does):
 * the client gets NoSuchDevice naming it and no fd; nothing is recorded; every fd the
 * attempt opened (iommufd, the other device already bound, the unplugged one) is closed;
 * the device bound before the failure is free and bindable again; the gone device stays
 * NoSuchDevice. Acquire runs in one turn of the event loop, so the open-to-send window of
 * the real daemon is exactly this one: between the kernel calls of context_build(). */
static void test_b4_unplug_after_open(void) {
	B4 t;
	char err[128], dev[64];
	size_t n_fds = 0;
	b4_setup(&t);
	int base = count_fds();

	b4_unplug = "0000:00:04.0";
	b4_acquire(&t, "{\"devices\":[\"0000:00:03.0\",\"0000:00:04.0\"]}", err, sizeof(err),
		   &n_fds, dev, sizeof(dev));
	CU_ASSERT_EQUAL(b4_unplugged, 1);
	ASSERT_STREQ(err, IOASID_ERROR_NO_SUCH_DEVICE);
	ASSERT_STREQ(dev, "0000:00:04.0");
	CU_ASSERT_EQUAL(n_fds, 0);
	CU_ASSERT_EQUAL(t.m.leases.n, 0);
	CU_ASSERT_PTR_NULL(t.m.leases.head);
	/* The sim learns of the last closes (its pins go) at its next call, as the daemon's
	 * loop makes it do through events_fd. */
	(void)kernel_sync(t.m.kernel);
	CU_ASSERT_EQUAL(count_fds(), base);

	/* The device bound before the failure was unbound by the rollback. */
	b4_unplug = NULL;
	b4_acquire(&t, "{\"devices\":[\"0000:00:03.0\"]}", err, sizeof(err), &n_fds, dev,
		   sizeof(dev));
	ASSERT_STREQ(err, "");
	CU_ASSERT_EQUAL(n_fds, 2);
	CU_ASSERT_EQUAL(t.m.leases.n, 1);
	/* The unplugged one is gone for good, in either mode. */
	b4_acquire(&t, "{\"devices\":[\"0000:00:04.0\"],\"mode\":\"unbound\"}", err, sizeof(err),
		   &n_fds, dev, sizeof(dev));
	ASSERT_STREQ(err, IOASID_ERROR_NO_SUCH_DEVICE);
	CU_ASSERT_EQUAL(n_fds, 0);
	CU_ASSERT_EQUAL(t.m.leases.n, 1);
	b4_done(&t);
}

/* ---- E7: every keyword given twice ---------------------------------------------------- */

/* Each keyword of ioasid.conf(5) with a valid value, in the position it takes: a rule's
 * identity selectors, its device selectors, its grants, a layout's items, the settings.
 * Twice in one statement (or file, for settings) is an error at the second, naming it. */
static void test_e7_duplicates(void) {
	static const char *const ident[] = {
		"user root",      "group root",      "uid 1000-2000",
		"unit a.service", "cgroup \"/x/*\"", "label \"system_u:*\"",
	};
	static const char *const devsel[] = {
		"bdf 0000:01:00.0",
		"vendor 0x10de",
		"device 0x1234",
		"subsystem-vendor 0x1af4",
		"subsystem-device 0x1100",
		"class 0x020000",
		"driver vfio-pci",
		"iommu-group 3",
		"pool p",
		"numa 0",
		"property ID_X=y",
	};
	static const char *const grant[] = {
		"mode attached", "layout l",    "max-devices 2",    "max-leases 2",
		"memlock 1G",    "group whole", "lifetime process", "on-revoke signal",
	};
	static const char *const litem[] = {
		"iova 0x0-0xfff",
		"accounting process",
		"hugepages off",
		"require dirty-tracking",
	};
	static const char *const setting[] = {
		"socket-group root",
		"allow-noiommu yes",
		"max-connections-per-uid 4",
		"idle-timeout 9",
	};
	const char *const pre = "pool p { any }\nlayout l { }\n";
	char text[512], kw[64];
	size_t n = 0;

	for (size_t part = 0; part < 5; part++) {
		const char *const *list = part == 0   ? ident
					  : part == 1 ? devsel
					  : part == 2 ? grant
					  : part == 3 ? litem
						      : setting;
		size_t len = part == 0   ? ELEMENTSOF(ident)
			     : part == 1 ? ELEMENTSOF(devsel)
			     : part == 2 ? ELEMENTSOF(grant)
			     : part == 3 ? ELEMENTSOF(litem)
					 : ELEMENTSOF(setting);
		for (size_t i = 0; i < len; i++) {
			const char *x = list[i];
			unsigned line = 3;
			if (part == 0)
				snprintf(text, sizeof(text), "%sallow %s %s to any\n", pre, x, x);
			else if (part == 1)
				snprintf(text, sizeof(text), "%sallow uid 7 to %s %s\n", pre, x, x);
			else if (part == 2)
				snprintf(text, sizeof(text), "%sallow uid 7 to any %s %s\n", pre, x,
					 x);
			else if (part == 3)
				snprintf(text, sizeof(text), "%slayout m { %s; %s }\n", pre, x, x);
			else {
				snprintf(text, sizeof(text), "%s%s\n%s\n", pre, x, x);
				line = 4;
			}
			snprintf(kw, sizeof(kw), "%.*s", (int)strcspn(x, " "), x);
			PolicyLoadOptions o = { 0 };
			PolicyError e = { 0 };
			Policy *p = NULL;
			int r = policy_load_string(text, "e7.conf", &o, &p, &e);
			char want[96];
			snprintf(want, sizeof(want), "'%s'", kw);
			bool ok = r == -EINVAL && !p && e.line == line && e.message &&
				  strstr(e.message, "Duplicate") && strstr(e.message, want);
			if (!ok)
				fprintf(stderr,
					"\nE7: '%s' twice: r=%d %u:%u '%s' (want line %u, "
					"Duplicate %s)\n",
					x, r, e.line, e.column, strna(e.message), line, want);
			CU_ASSERT_TRUE(ok);
			policy_error_done(&e);
			policy_free(p);
			n++;
		}
	}
	CU_ASSERT_EQUAL(n, 33);
}

/* ---- iova auto in the daemon ---------------------------------------------------------- */

/* What the daemon passes to IOMMU_IOAS_ALLOW_IOVAS (the sim still applies it). */
static IovaRange auto_seen[8];
static size_t auto_n_seen;
static unsigned auto_calls;

static int auto_allow_iovas(Kernel *k, int iommufd, uint32_t ioas_id, const IovaRange *ranges,
			    size_t n) {
	auto_calls++;
	auto_n_seen = MIN(n, ELEMENTSOF(auto_seen));
	memcpy(auto_seen, ranges, auto_n_seen * sizeof(*ranges));
	return b4_sim_ops->ioas_allow_iovas(k, iommufd, ioas_id, ranges, n);
}

/* Attached mode, `iova auto max`: the daemon applies the windows resolved for the lease's
 * devices (sample.json: 48-bit IOMMU, group 3 with the MSI window), and the attach that
 * follows succeeds on the sim, which refuses an allowed range over a reserved region as the
 * kernel does. Plain `iova auto` applies nothing; unbound mode applies nothing either. */
static void test_layout_auto_applied(void) {
	B4 t;
	char err[128], dev[64];
	size_t n_fds = 0;
	b4_setup(&t);
	t.ops.ioas_allow_iovas = auto_allow_iovas;
	policy_free(t.m.policy);
	PolicyLoadOptions o = { .generation = 1 };
	PolicyError e = { 0 };
	ASSERT_OK(policy_load_string("layout capped { iova auto max 0xffffffffff }\n"
				     "layout all { iova auto }\n"
				     "layout wide { iova 0x0-0xffffffffff }\n"
				     "allow * to any mode attached,unbound group implicit "
				     "layout capped,all,wide\n",
				     "auto.conf", &o, &t.m.policy, &e));

	auto_calls = 0;
	b4_acquire(&t, "{\"devices\":[\"0000:00:03.0\"],\"layout\":\"capped\"}", err, sizeof(err),
		   &n_fds, dev, sizeof(dev));
	ASSERT_STREQ(err, "");
	CU_ASSERT_EQUAL(auto_calls, 1);
	CU_ASSERT_EQUAL_FATAL(auto_n_seen, 2);
	CU_ASSERT_EQUAL(auto_seen[0].start, 0);
	CU_ASSERT_EQUAL(auto_seen[0].last, 0xfedfffff);
	CU_ASSERT_EQUAL(auto_seen[1].start, 0xfef00000);
	CU_ASSERT_EQUAL(auto_seen[1].last, 0xffffffffff);
	lease_table_clear(&t.m.leases);
	(void)kernel_sync(t.m.kernel);

	auto_calls = 0;
	b4_acquire(&t, "{\"devices\":[\"0000:00:04.0\"],\"layout\":\"all\"}", err, sizeof(err),
		   &n_fds, dev, sizeof(dev));
	ASSERT_STREQ(err, "");
	CU_ASSERT_EQUAL(auto_calls, 0);
	b4_acquire(&t,
		   "{\"devices\":[\"0000:00:03.0\"],\"layout\":\"capped\",\"mode\":\"unbound\"}",
		   err, sizeof(err), &n_fds, dev, sizeof(dev));
	ASSERT_STREQ(err, "");
	CU_ASSERT_EQUAL(auto_calls, 0);
	lease_table_clear(&t.m.leases);
	(void)kernel_sync(t.m.kernel);

	/* The written window over the MSI region: the sim refuses the attach (why auto). */
	b4_acquire(&t, "{\"devices\":[\"0000:00:03.0\"],\"layout\":\"wide\"}", err, sizeof(err),
		   &n_fds, dev, sizeof(dev));
	CU_ASSERT_NOT_EQUAL(err[0], '\0');
	CU_ASSERT_EQUAL(n_fds, 0);
	b4_done(&t);
}

static CU_TestInfo tests[] = {
	{ "layout_auto_applied", test_layout_auto_applied },
	{ "method_tables", test_method_tables },
	{ "b4_unplug_after_open", test_b4_unplug_after_open },
	{ "e7_duplicates", test_e7_duplicates },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("adversarial", tests);
