/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The client's reply validation, error messages and fd identification (no daemon needed). */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "common/client/client.h"
#include "common/proto.h"
#include "common/varlink.h"
#include "tests/unit/test.h"

static int make_memfd(const char *name) {
	int fd = memfd_create(name, MFD_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	return fd;
}

static bool fd_is_open(int fd) {
	return fcntl(fd, F_GETFD) >= 0;
}

/* Reply documents for the parsers: parsed as the client parses them, freed by tdone(). */
static Doc *tdocs[8];
static size_t n_tdocs;

static const DocNode *tparse(const char *text) {
	Doc *d = doc_new();
	DocNode *root = NULL;
	CU_ASSERT_FATAL(d != NULL && n_tdocs < ELEMENTSOF(tdocs));
	tdocs[n_tdocs++] = d;
	CU_ASSERT_EQUAL(doc_parse(d, text, strlen(text), 32, &root), 0);
	return root;
}

static void tdone(void) {
	while (n_tdocs > 0)
		doc_free(tdocs[--n_tdocs]);
}

static const char *good_reply =
	"{ \"lease\": \"L1\", \"mode\": \"attached\", \"iommuFd\": 2, \"ioasId\": 7,"
	"  \"devices\": [ { \"bdf\": \"0000:3b:00.0\", \"deviceFd\": 0, \"devId\": 3, \"hwptId\": 9 },"
	"                 { \"bdf\": \"0000:3b:00.1\", \"deviceFd\": 1, \"devId\": 4, \"hwptId\": 9 } ],"
	"  \"atRisk\": [ \"0000:3b:00.2\" ], \"memlock\": 1024, \"warnings\": [],"
	"  \"generation\": 5, \"rule\": \"ioasid.conf:3\" }";

static void test_reply_valid(void) {
	int fds[3] = { make_memfd("a"), make_memfd("b"), make_memfd("c") };
	int copy[3] = { fds[0], fds[1], fds[2] };
	const DocNode *p = tparse(good_reply);
	IoasidAcquireResult *res = NULL;

	CU_ASSERT_FATAL(p != NULL);
	ASSERT_OK(ioasid_acquire_result_from_reply(p, fds, 3, &res));
	CU_ASSERT_FATAL(res != NULL);
	ASSERT_STREQ(res->lease, "L1");
	ASSERT_STREQ(res->mode, "attached");
	ASSERT_STREQ(res->rule, "ioasid.conf:3");
	CU_ASSERT_EQUAL(res->iommufd, copy[2]);
	CU_ASSERT_EQUAL(res->ioas_id, 7);
	CU_ASSERT_EQUAL(res->n_devices, 2);
	CU_ASSERT_EQUAL(res->devices[0].fd, copy[0]);
	CU_ASSERT_EQUAL(res->devices[1].fd, copy[1]);
	CU_ASSERT_EQUAL(res->devices[1].dev_id, 4);
	CU_ASSERT_EQUAL(res->memlock, 1024);
	CU_ASSERT_EQUAL(res->generation, 5);
	CU_ASSERT_EQUAL(strv_length(res->at_risk), 1);
	CU_ASSERT_EQUAL(strv_length(res->warnings), 0);
	CU_ASSERT_PTR_EQUAL(ioasid_acquire_result_device(res, "0000:3b:00.1"), &res->devices[1]);
	CU_ASSERT_PTR_NULL(ioasid_acquire_result_device(res, "0000:3b:00.2"));
	ioasid_acquire_result_free(res);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_FALSE(fd_is_open(copy[i]));
	tdone();
}

/* Every malformed reply: -EBADMSG and every received fd closed. */
static void test_reply_invalid(void) {
	static const char *bad[] = {
		/* index out of range */
		"{\"lease\":\"L\",\"mode\":\"unbound\",\"iommuFd\":2,\"devices\":[{\"bdf\":\"0000:01:00.0\","
		"\"deviceFd\":0}],\"generation\":1,\"rule\":\"r\"}",
		/* negative index */
		"{\"lease\":\"L\",\"mode\":\"unbound\",\"iommuFd\":-1,\"devices\":[{\"bdf\":\"0000:01:00.0\","
		"\"deviceFd\":0}],\"generation\":1,\"rule\":\"r\"}",
		/* the same fd twice */
		"{\"lease\":\"L\",\"mode\":\"unbound\",\"iommuFd\":0,\"devices\":[{\"bdf\":\"0000:01:00.0\","
		"\"deviceFd\":0}],\"generation\":1,\"rule\":\"r\"}",
		/* no lease */
		"{\"mode\":\"unbound\",\"iommuFd\":0,\"devices\":[{\"bdf\":\"0000:01:00.0\","
		"\"deviceFd\":1}],\"generation\":1,\"rule\":\"r\"}",
		/* index as a string */
		"{\"lease\":\"L\",\"mode\":\"unbound\",\"iommuFd\":\"0\",\"devices\":[{\"bdf\":\"0000:01:00.0\","
		"\"deviceFd\":1}],\"generation\":1,\"rule\":\"r\"}",
		/* not a BDF */
		"{\"lease\":\"L\",\"mode\":\"unbound\",\"iommuFd\":0,\"devices\":[{\"bdf\":\"../../etc\","
		"\"deviceFd\":1}],\"generation\":1,\"rule\":\"r\"}",
		/* the same device twice */
		"{\"lease\":\"L\",\"mode\":\"unbound\",\"iommuFd\":0,\"devices\":[{\"bdf\":\"0000:01:00.0\","
		"\"deviceFd\":1},{\"bdf\":\"0000:01:00.0\",\"deviceFd\":1}],\"generation\":1,\"rule\":\"r\"}",
		/* no devices */
		"{\"lease\":\"L\",\"mode\":\"unbound\",\"iommuFd\":0,\"devices\":[],\"generation\":1,"
		"\"rule\":\"r\"}",
		/* huge index */
		"{\"lease\":\"L\",\"mode\":\"unbound\",\"iommuFd\":99999999999999999999,\"devices\":"
		"[{\"bdf\":\"0000:01:00.0\",\"deviceFd\":1}],\"generation\":1,\"rule\":\"r\"}",
		/* not an object */
		"[1,2]",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int fds[2] = { make_memfd("x"), make_memfd("y") };
		int copy[2] = { fds[0], fds[1] };
		const DocNode *p = tparse(bad[i]);
		IoasidAcquireResult *res = NULL;

		CU_ASSERT_FATAL(p != NULL);
		int r = ioasid_acquire_result_from_reply(p, fds, 2, &res);
		if (r != -EBADMSG)
			fprintf(stderr, "case %zu: got %d\n", i, r);
		CU_ASSERT_EQUAL(r, -EBADMSG);
		CU_ASSERT_PTR_NULL(res);
		CU_ASSERT_FALSE(fd_is_open(copy[0]));
		CU_ASSERT_FALSE(fd_is_open(copy[1]));
		tdone();
	}
}

/* An fd the reply does not mention is closed; the rest is handed over with FD_CLOEXEC. */
static void test_reply_unreferenced(void) {
	int fds[3] = { make_memfd("a"), -1, make_memfd("c") };
	fds[1] = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
	CU_ASSERT_FATAL(fds[1] >= 0);
	int copy[3] = { fds[0], fds[1], fds[2] };
	const DocNode *p = tparse(
		"{\"lease\":\"L\",\"mode\":\"unbound\",\"iommuFd\":1,\"devices\":[{\"bdf\":"
		"\"0000:01:00.0\",\"deviceFd\":2}],\"generation\":1,\"rule\":\"r\",\"ioasId\":null}");
	IoasidAcquireResult *res = NULL;

	ASSERT_OK(ioasid_acquire_result_from_reply(p, fds, 3, &res));
	CU_ASSERT_FALSE(fd_is_open(copy[0]));
	CU_ASSERT_EQUAL(res->iommufd, copy[1]);
	CU_ASSERT_TRUE(fcntl(res->iommufd, F_GETFD) & FD_CLOEXEC);
	CU_ASSERT_EQUAL(res->ioas_id, -1);
	CU_ASSERT_EQUAL(res->devices[0].dev_id, -1);
	CU_ASSERT_EQUAL(strv_length(res->at_risk), 0);
	ioasid_acquire_result_free(res);
	tdone();
}

/* A legacy reply: container at 0, one group fd shared by two devices, a third device of a
 * group whose node was not handed out; iommufd absent. */
static void test_reply_legacy(void) {
	int fds[5];
	for (int i = 0; i < 5; i++)
		fds[i] = make_memfd("l");
	int copy[5] = { fds[0], fds[1], fds[2], fds[3], fds[4] };
	const DocNode *p = tparse(
		"{\"lease\":\"L\",\"mode\":\"legacy\",\"api\":\"legacy\",\"iommuFd\":null,"
		"\"containerFd\":0,\"ioasId\":null,\"devices\":["
		"{\"bdf\":\"0000:01:01.0\",\"deviceFd\":2,\"groupFd\":1},"
		"{\"bdf\":\"0000:01:02.0\",\"deviceFd\":3,\"groupFd\":1},"
		"{\"bdf\":\"0000:00:06.0\",\"deviceFd\":4,\"groupFd\":null}],"
		"\"generation\":1,\"rule\":\"r\"}");
	IoasidAcquireResult *res = NULL;
	CU_ASSERT_FATAL(p != NULL);
	ASSERT_OK(ioasid_acquire_result_from_reply(p, fds, 5, &res));
	CU_ASSERT_FATAL(res != NULL);
	ASSERT_STREQ(res->api, "legacy");
	ASSERT_STREQ(res->mode, "legacy");
	CU_ASSERT_EQUAL(res->iommufd, -EBADF);
	CU_ASSERT_EQUAL(res->container, copy[0]);
	CU_ASSERT_EQUAL(res->n_group_fds, 1);
	CU_ASSERT_EQUAL(res->group_fds[0], copy[1]);
	CU_ASSERT_EQUAL(res->devices[0].group_fd, copy[1]);
	CU_ASSERT_EQUAL(res->devices[1].group_fd, copy[1]);
	CU_ASSERT_EQUAL(res->devices[2].group_fd, -EBADF);
	CU_ASSERT_EQUAL(res->devices[2].fd, copy[4]);
	ioasid_acquire_result_free(res);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_FALSE(fd_is_open(copy[i]));
	tdone();

	/* An iommufd reply without "api" (an older daemon) still parses as iommufd. */
	int f2[2] = { make_memfd("i"), make_memfd("d") };
	p = tparse("{\"lease\":\"L\",\"mode\":\"unbound\",\"iommuFd\":0,\"devices\":"
		   "[{\"bdf\":\"0000:01:00.0\",\"deviceFd\":1}],\"generation\":1,"
		   "\"rule\":\"r\"}");
	ASSERT_OK(ioasid_acquire_result_from_reply(p, f2, 2, &res));
	ASSERT_STREQ(res->api, "iommufd");
	CU_ASSERT_EQUAL(res->container, -EBADF);
	CU_ASSERT_EQUAL(res->devices[0].group_fd, -EBADF);
	ioasid_acquire_result_free(res);
	tdone();

	static const char *bad[] = {
		/* legacy without a container */
		"{\"lease\":\"L\",\"mode\":\"legacy\",\"api\":\"legacy\",\"devices\":[{\"bdf\":"
		"\"0000:01:00.0\",\"deviceFd\":1,\"groupFd\":2}],\"generation\":1,\"rule\":\"r\"}",
		/* legacy with an iommufd too */
		"{\"lease\":\"L\",\"mode\":\"legacy\",\"api\":\"legacy\",\"containerFd\":0,"
		"\"iommuFd\":2,\"devices\":[{\"bdf\":\"0000:01:00.0\",\"deviceFd\":1}],"
		"\"generation\":1,\"rule\":\"r\"}",
		/* a group fd that is also a device fd */
		"{\"lease\":\"L\",\"mode\":\"legacy\",\"api\":\"legacy\",\"containerFd\":0,"
		"\"devices\":[{\"bdf\":\"0000:01:00.0\",\"deviceFd\":1,\"groupFd\":1}],"
		"\"generation\":1,\"rule\":\"r\"}",
		/* a group fd in an iommufd reply */
		"{\"lease\":\"L\",\"mode\":\"attached\",\"iommuFd\":0,\"devices\":[{\"bdf\":"
		"\"0000:01:00.0\",\"deviceFd\":1,\"groupFd\":2}],\"generation\":1,\"rule\":\"r\"}",
		/* an unknown api */
		"{\"lease\":\"L\",\"mode\":\"attached\",\"api\":\"vfio9\",\"iommuFd\":0,\"devices\":"
		"[{\"bdf\":\"0000:01:00.0\",\"deviceFd\":1}],\"generation\":1,\"rule\":\"r\"}",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int f3[3] = { make_memfd("x"), make_memfd("y"), make_memfd("z") };
		int c3[3] = { f3[0], f3[1], f3[2] };
		p = tparse(bad[i]);
		CU_ASSERT_FATAL(p != NULL);
		res = NULL;
		int r = ioasid_acquire_result_from_reply(p, f3, 3, &res);
		if (r != -EBADMSG)
			fprintf(stderr, "legacy case %zu: got %d\n", i, r);
		CU_ASSERT_EQUAL(r, -EBADMSG);
		CU_ASSERT_PTR_NULL(res);
		for (int j = 0; j < 3; j++)
			CU_ASSERT_FALSE(fd_is_open(c3[j]));
		tdone();
	}
}

static void test_error_format(void) {
	const DocNode *p = tparse(
		"{\"group\":17,\"device\":\"0000:01:00.0\",\"owner\":\"uid 1001\"}");
	_cleanup_free_ char *m = ioasid_error_format(IOASID_ERROR_GROUP_OWNED, p);
	ASSERT_STREQ(m, "0000:01:00.0: IOMMU group 17 is shared with another owner (uid 1001)");

	p = tparse("{\"reason\":\"no rule matched\",\"device\":\"0000:01:00.0\","
		   "\"rule\":null}");
	_cleanup_free_ char *m2 = ioasid_error_format(IOASID_ERROR_PERMISSION_DENIED, p);
	ASSERT_STREQ(m2, "Permission denied for 0000:01:00.0: no rule matched");

	p = tparse("{\"group\":4,\"device\":\"0000:00:1f.3\",\"blockers\":["
		   "\"0000:00:1f.4 is on i801_smbus\",\"x\"]}");
	_cleanup_free_ char *m3 = ioasid_error_format(IOASID_ERROR_GROUP_NOT_VIABLE, p);
	ASSERT_STREQ(m3, "0000:00:1f.3: IOMMU group 4 is not viable: 0000:00:1f.4 is on "
			 "i801_smbus; x");

	/* An error this client does not know: its name and its scalar parameters. */
	_cleanup_free_ char *m4 = ioasid_error_format("com.example.Odd", NULL);
	ASSERT_STREQ(m4, "com.example.Odd");
	p = tparse("{\"reason\":\"odd\",\"n\":-3,\"ok\":true,\"x\":null,\"l\":[1]}");
	_cleanup_free_ char *m5 = ioasid_error_format("com.example.Odd", p);
	ASSERT_STREQ(m5, "com.example.Odd (reason=odd, n=-3, ok=true, x=null, l=...)");
	tdone();

	IoasidError e = { .name = strdup(IOASID_ERROR_NO_SUCH_LEASE) };
	CU_ASSERT_TRUE(ioasid_error_is(&e, IOASID_ERROR_NO_SUCH_LEASE));
	CU_ASSERT_FALSE(ioasid_error_is(&e, IOASID_ERROR_PROTOCOL));
	ioasid_error_done(&e);
	CU_ASSERT_PTR_NULL(e.name);
}

static void test_fd_describe_sim(void) {
	int fd = make_memfd("ioasid-sim:vfio:0000:3b:00.0");
	IoasidFdInfo info = {};

	ASSERT_OK(ioasid_fd_describe(fd, NULL, &info));
	CU_ASSERT_EQUAL(info.kind, IOASID_FD_VFIO_DEVICE);
	CU_ASSERT_TRUE(info.sim);
	CU_ASSERT_TRUE(info.cloexec);
	ASSERT_STREQ(info.name, "memfd:ioasid-sim:vfio:0000:3b:00.0");
	ASSERT_STREQ(info.bdf, "0000:3b:00.0");
	ioasid_fd_info_done(&info);
	close(fd);

	fd = make_memfd("ioasid-sim:iommufd:3");
	ASSERT_OK(ioasid_fd_describe(fd, NULL, &info));
	CU_ASSERT_EQUAL(info.kind, IOASID_FD_IOMMUFD);
	ASSERT_STREQ(info.bdf, "");
	ioasid_fd_info_done(&info);
	close(fd);

	/* The sim's legacy files. */
	fd = make_memfd("ioasid-sim:vfio-container:2");
	ASSERT_OK(ioasid_fd_describe(fd, NULL, &info));
	CU_ASSERT_EQUAL(info.kind, IOASID_FD_VFIO_CONTAINER);
	ioasid_fd_info_done(&info);
	close(fd);
	fd = make_memfd("ioasid-sim:vfio-group:5");
	ASSERT_OK(ioasid_fd_describe(fd, NULL, &info));
	CU_ASSERT_EQUAL(info.kind, IOASID_FD_VFIO_GROUP);
	CU_ASSERT_EQUAL(info.group, 5);
	ioasid_fd_info_done(&info);
	close(fd);
	fd = make_memfd("ioasid-sim:vfio-legacy:0000:01:02.0");
	ASSERT_OK(ioasid_fd_describe(fd, NULL, &info));
	CU_ASSERT_EQUAL(info.kind, IOASID_FD_VFIO_LEGACY_DEVICE);
	ASSERT_STREQ(info.bdf, "0000:01:02.0");
	ioasid_fd_info_done(&info);
	close(fd);

	fd = make_memfd("something-else");
	ASSERT_OK(ioasid_fd_describe(fd, NULL, &info));
	CU_ASSERT_EQUAL(info.kind, IOASID_FD_OTHER);
	CU_ASSERT_FALSE(info.sim);
	ioasid_fd_info_done(&info);
	close(fd);

	ASSERT_ERR(ioasid_fd_describe(-1, NULL, &info), EBADF);
}

/* A char device resolved through a fake /sys/dev/char: /dev/null stands in for the device. */
static void test_fd_describe_chardev(void) {
	char root[] = "/tmp/ioasid-test-sysXXXXXX", path[256], link[64];
	struct stat st;
	IoasidFdInfo info = {};
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	CU_ASSERT_FATAL(fd >= 0 && fstat(fd, &st) == 0);
	CU_ASSERT_FATAL(mkdtemp(root) != NULL);
	snprintf(path, sizeof(path), "%s/dev", root);
	CU_ASSERT_FATAL(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/dev/char", root);
	CU_ASSERT_FATAL(mkdir(path, 0755) == 0);
	snprintf(link, sizeof(link), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
	snprintf(path, sizeof(path), "%s/dev/char/%s", root, link);

	CU_ASSERT_FATAL(symlink("../../devices/virtual/misc/iommu", path) == 0);
	ASSERT_OK(ioasid_fd_describe(fd, root, &info));
	CU_ASSERT_EQUAL(info.kind, IOASID_FD_IOMMUFD);
	ASSERT_STREQ(info.name, "/dev/iommu");
	CU_ASSERT_FALSE(info.sim);
	ioasid_fd_info_done(&info);

	CU_ASSERT_FATAL(unlink(path) == 0);
	CU_ASSERT_FATAL(symlink("../../devices/pci0000:00/0000:00:03.0/vfio-dev/vfio2", path) == 0);
	ASSERT_OK(ioasid_fd_describe(fd, root, &info));
	CU_ASSERT_EQUAL(info.kind, IOASID_FD_VFIO_DEVICE);
	ASSERT_STREQ(info.name, "/dev/vfio/devices/vfio2");
	ASSERT_STREQ(info.bdf, "0000:00:03.0");
	ioasid_fd_info_done(&info);

	/* Legacy: the container misc device and a group node. */
	CU_ASSERT_FATAL(unlink(path) == 0);
	CU_ASSERT_FATAL(symlink("../../devices/virtual/misc/vfio", path) == 0);
	ASSERT_OK(ioasid_fd_describe(fd, root, &info));
	CU_ASSERT_EQUAL(info.kind, IOASID_FD_VFIO_CONTAINER);
	ASSERT_STREQ(info.name, "/dev/vfio/vfio");
	ioasid_fd_info_done(&info);
	CU_ASSERT_FATAL(unlink(path) == 0);
	CU_ASSERT_FATAL(symlink("../../devices/virtual/vfio/17", path) == 0);
	ASSERT_OK(ioasid_fd_describe(fd, root, &info));
	CU_ASSERT_EQUAL(info.kind, IOASID_FD_VFIO_GROUP);
	CU_ASSERT_EQUAL(info.group, 17);
	ASSERT_STREQ(info.name, "/dev/vfio/17");
	ioasid_fd_info_done(&info);

	CU_ASSERT_FATAL(unlink(path) == 0);
	ASSERT_OK(ioasid_fd_describe(fd, root, &info));
	CU_ASSERT_EQUAL(info.kind, IOASID_FD_OTHER);
	ioasid_fd_info_done(&info);

	snprintf(path, sizeof(path), "%s/dev/char", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/dev", root);
	rmdir(path);
	rmdir(root);
	close(fd);
}

static void test_lease_status_parse(void) {
	IoasidLease l;
	IoasidStatus *st = NULL;
	const DocNode *o = tparse(
		"{\"id\":\"L\",\"uid\":5,\"pid\":null,\"unit\":null,\"mode\":\"unbound\","
		"\"layout\":null,\"devices\":[\"0000:01:00.0\"],\"groups\":[3,4],"
		"\"lifetime\":\"process\",\"state\":\"active\",\"generation\":2,\"created\":9}");
	ASSERT_OK(ioasid_lease_from_json(o, &l));
	CU_ASSERT_EQUAL(l.pid, -1);
	CU_ASSERT_PTR_NULL(l.unit);
	CU_ASSERT_EQUAL(l.n_groups, 2);
	CU_ASSERT_EQUAL(l.groups[1], 4);
	ASSERT_STREQ(l.lifetime, "process");
	IoasidLease *heap = calloc(1, sizeof(IoasidLease));
	*heap = l;
	ioasid_leases_free(heap, 1);
	tdone();

	static const char *bad[] = {
		"{\"id\":1,\"uid\":5,\"mode\":\"m\",\"devices\":[],\"lifetime\":\"c\",\"state\":\"s\"}",
		"{\"id\":\"L\",\"uid\":\"5\",\"mode\":\"m\",\"devices\":[],\"lifetime\":\"c\",\"state\":\"s\"}",
		"{\"id\":\"L\",\"uid\":5,\"mode\":\"m\",\"devices\":[1],\"lifetime\":\"c\",\"state\":\"s\"}",
		"{\"id\":\"L\",\"uid\":5,\"mode\":\"m\",\"devices\":[],\"groups\":[\"x\"],\"lifetime\":\"c\",\"state\":\"s\"}",
		"{\"id\":\"L\",\"uid\":5,\"mode\":\"m\",\"devices\":[],\"lifetime\":\"c\"}",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		IoasidLease *b = calloc(1, sizeof(IoasidLease));
		o = tparse(bad[i]);
		CU_ASSERT_FATAL(o != NULL);
		ASSERT_ERR(ioasid_lease_from_json(o, b), EBADMSG);
		ioasid_leases_free(b, 1);
		tdone();
	}

	o = tparse("{\"version\":\"0.1\",\"kernel\":\"sim\",\"api\":\"iommufd\","
		   "\"generation\":3,\"leases\":1,\"connections\":2,"
		   "\"accounting\":\"per-process\",\"warnings\":[\"w\"]}");
	ASSERT_OK(ioasid_status_from_json(o, &st));
	ASSERT_STREQ(st->api, "iommufd");
	CU_ASSERT_EQUAL(st->generation, 3);
	CU_ASSERT_EQUAL(strv_length(st->warnings), 1);
	ioasid_status_free(st);
	tdone();
	o = tparse("{\"version\":\"0.1\",\"kernel\":\"sim\",\"api\":\"iommufd\"}");
	st = NULL;
	ASSERT_ERR(ioasid_status_from_json(o, &st), EBADMSG);
	CU_ASSERT_PTR_NULL(st);
	tdone();
}

static void test_socket_path(void) {
	unsetenv("IOASID_SOCKET");
	ASSERT_STREQ(ioasid_client_socket_path(NULL), IOASID_SOCKET_PATH);
	ASSERT_STREQ(ioasid_client_socket_path("/x/y"), "/x/y");
	setenv("IOASID_SOCKET", "/env/sock", 1);
	ASSERT_STREQ(ioasid_client_socket_path(NULL), "/env/sock");
	setenv("IOASID_SOCKET", "", 1);
	ASSERT_STREQ(ioasid_client_socket_path(NULL), IOASID_SOCKET_PATH);
	unsetenv("IOASID_SOCKET");
}

/* A scripted broker in a child process: answers Acquire, Release, ListLeases and Status the
 * way ioasidd would, so the client's whole call path runs over a real socket with fds. */
static void fake_broker_serve(int lfd) {
	int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	VarlinkStream *s = NULL;
	if (cfd < 0 || varlink_stream_new(cfd, IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH,
					  VARLINK_STREAM_REFUSE_FDS, &s) < 0)
		_exit(2);
	for (;;) {
		Doc *msg = NULL;
		json_object *out = NULL;
		const DocNode *params;
		const char *method;
		unsigned flags;
		int fds[2] = { -1, -1 };
		size_t n_fds = 0;

		if (varlink_stream_read_message(s, 5000, &msg, NULL, NULL) < 0)
			break;
		if (varlink_parse_call(doc_root(msg), &method, &params, &flags) < 0)
			_exit(3);
		if (streq(method, "io.ioasid.Test.Silent")) { /* never answered */
			doc_free(msg);
			continue;
		}
		if (streq(method, "io.ioasid.Broker.Acquire")) {
			const char *bdf = strempty(doc_str(doc_at(doc_get(params, "devices"), 0)));
			if (streq(bdf, "0000:3b:00.0")) {
				fds[0] = memfd_create("ioasid-sim:iommufd:1", MFD_CLOEXEC);
				fds[1] = memfd_create("ioasid-sim:vfio:0000:3b:00.0", MFD_CLOEXEC);
				n_fds = 2;
				varlink_build_reply(
					json_tokener_parse(
						"{\"lease\":\"L7\",\"mode\":\"attached\",\"iommuFd\":0,"
						"\"ioasId\":2,\"devices\":[{\"bdf\":\"0000:3b:00.0\","
						"\"deviceFd\":1,\"devId\":1,\"hwptId\":3}],\"atRisk\":[],"
						"\"warnings\":[],\"generation\":1,\"rule\":\"t.conf:1\"}"),
					false, &out);
			} else
				varlink_build_error(IOASID_ERROR_GROUP_OWNED,
						    json_tokener_parse("{\"group\":4,\"device\":"
								       "\"0000:00:1f.3\",\"owner\":"
								       "\"uid 1\"}"),
						    &out);
		} else if (streq(method, "io.ioasid.Broker.Release"))
			varlink_build_reply(NULL, false, &out);
		else if (streq(method, "io.ioasid.Broker.ListLeases"))
			varlink_build_reply(
				json_tokener_parse(
					"{\"leases\":[{\"id\":\"L7\",\"uid\":0,\"pid\":1,"
					"\"mode\":\"attached\",\"devices\":[\"0000:3b:00.0\"],"
					"\"groups\":[17],\"lifetime\":\"connection\","
					"\"state\":\"active\",\"generation\":1,\"created\":5}]}"),
				false, &out);
		else
			varlink_build_error("io.ioasid.Manager.PermissionDenied",
					    json_tokener_parse("{\"reason\":\"not admin\"}"), &out);
		if (!out || varlink_stream_enqueue(s, out, fds, n_fds) < 0 ||
		    varlink_stream_flush(s) != 1)
			_exit(4);
		for (size_t i = 0; i < n_fds; i++)
			close(fds[i]);
		json_object_put(out);
		doc_free(msg);
	}
	varlink_stream_free(s);
	_exit(0);
}

static void test_client_roundtrip(void) {
	char dir[] = "/tmp/ioasid-test-clientXXXXXX", path[64];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	IoasidClient *c = NULL;
	IoasidAcquireResult *res = NULL;
	IoasidError e = {};
	IoasidLease *l = NULL;
	IoasidStatus *st = NULL;
	size_t n = 0;
	int status;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(lfd >= 0);
	CU_ASSERT_FATAL(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(lfd, 4) == 0);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0)
		fake_broker_serve(lfd);
	close(lfd);

	ASSERT_OK(ioasid_client_connect(path, &c));
	char *devs[] = { (char *)"0000:3b:00.0", NULL };
	IoasidAcquireRequest req = IOASID_ACQUIRE_REQUEST_INIT;
	req.devices = devs;
	ASSERT_OK(ioasid_client_acquire(c, &req, &res, &e));
	ASSERT_STREQ(res->lease, "L7");
	CU_ASSERT_EQUAL(res->ioas_id, 2);
	CU_ASSERT_TRUE(fcntl(res->iommufd, F_GETFD) & FD_CLOEXEC);
	IoasidFdInfo info = {};
	ASSERT_OK(ioasid_fd_describe(res->devices[0].fd, NULL, &info));
	ASSERT_STREQ(info.bdf, "0000:3b:00.0");
	ioasid_fd_info_done(&info);
	ioasid_acquire_result_free(res);
	res = NULL;

	/* A named error: -EREMOTEIO, the error filled, the connection still usable. */
	char *devs2[] = { (char *)"0000:00:1f.3", NULL };
	req.devices = devs2;
	ASSERT_ERR(ioasid_client_acquire(c, &req, &res, &e), EREMOTEIO);
	CU_ASSERT_PTR_NULL(res);
	ASSERT_STREQ(e.name, IOASID_ERROR_GROUP_OWNED);
	ASSERT_STREQ(e.message, "0000:00:1f.3: IOMMU group 4 is shared with another owner (uid 1)");
	ioasid_error_done(&e);

	/* Exactly one selector. */
	req.group = 3;
	ASSERT_ERR(ioasid_client_acquire(c, &req, &res, &e), EINVAL);

	ASSERT_OK(ioasid_client_release(c, "L7", &e));
	ASSERT_OK(ioasid_client_list_leases(c, &l, &n, &e));
	CU_ASSERT_EQUAL(n, 1);
	ASSERT_STREQ(l[0].id, "L7");
	CU_ASSERT_EQUAL(l[0].n_groups, 1);
	CU_ASSERT_EQUAL(l[0].groups[0], 17);
	ioasid_leases_free(l, n);
	ASSERT_ERR(ioasid_client_status(c, &st, &e), EREMOTEIO);
	ASSERT_STREQ(e.name, "io.ioasid.Manager.PermissionDenied");
	ioasid_error_done(&e);

	/* No answer within the timeout: -ETIMEDOUT, and the connection is done for. */
	ioasid_client_set_timeout(c, 200);
	ASSERT_ERR(ioasid_client_call(c, "io.ioasid.Test.Silent", NULL, NULL, NULL, NULL, NULL, &e),
		   ETIMEDOUT);
	ASSERT_ERR(ioasid_client_release(c, "L7", &e), ENOTCONN);

	ioasid_client_free(c);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unlink(path);
	rmdir(dir);

	/* Nobody listening. */
	ASSERT_ERR(ioasid_client_connect(path, &c), ENOENT);
}

static CU_TestInfo tests[] = {
	{ "client_roundtrip", test_client_roundtrip },
	{ "reply_valid", test_reply_valid },
	{ "reply_invalid", test_reply_invalid },
	{ "reply_unreferenced", test_reply_unreferenced },
	{ "reply_legacy", test_reply_legacy },
	{ "error_format", test_error_format },
	{ "fd_describe_sim", test_fd_describe_sim },
	{ "fd_describe_chardev", test_fd_describe_chardev },
	{ "socket_path", test_socket_path },
	{ "lease_status_parse", test_lease_status_parse },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("client", tests);
