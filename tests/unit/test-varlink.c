/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/varlink.h"
#include "tests/unit/test.h"

/* Both ends of a non-blocking socketpair as streams. */
static void pair(size_t max, int depth, unsigned flags_b, VarlinkStream **a, VarlinkStream **b) {
	int sv[2];
	ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
	ASSERT_OK(varlink_stream_new(sv[0], max, depth, 0, a));
	ASSERT_OK(varlink_stream_new(sv[1], max, depth, flags_b, b));
}

static size_t count_fds(void) {
	size_t n = 0;
	DIR *d = opendir("/proc/self/fd");
	CU_ASSERT_FATAL(d != NULL);
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Reads until a message (or error) is available. */
static int read_one(VarlinkStream *s, json_object **ret, int **fds, size_t *n_fds) {
	return varlink_stream_read_message(s, 2000, ret, fds, n_fds);
}

static void test_framing(void) {
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);

	json_object *params = json_object_new_object();
	json_object_object_add(params, "lease", json_object_new_string("abc"));
	json_object *call = NULL;
	ASSERT_OK(varlink_build_call("io.ioasid.Broker.Release", params, VARLINK_CALL_MORE, &call));
	ASSERT_OK(varlink_stream_enqueue(a, call, NULL, 0));
	json_object_put(call);
	CU_ASSERT_EQUAL(varlink_stream_queued(a), 1);
	CU_ASSERT_EQUAL(varlink_stream_flush(a), 1);
	CU_ASSERT_EQUAL(varlink_stream_queued(a), 0);

	/* On the wire: exactly the JSON text and one NUL. */
	char raw[256];
	ssize_t n = recv(varlink_stream_fd(b), raw, sizeof(raw), MSG_PEEK);
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(raw[n - 1], '\0');
	CU_ASSERT_EQUAL(memchr(raw, 0, (size_t)n), raw + n - 1);

	json_object *msg = NULL;
	int *fds = NULL;
	size_t n_fds = 99;
	ASSERT_OK(read_one(b, &msg, &fds, &n_fds));
	CU_ASSERT_PTR_NULL(fds);
	CU_ASSERT_EQUAL(n_fds, 0);
	const char *method = NULL;
	json_object *p = NULL;
	unsigned flags = 0;
	ASSERT_OK(varlink_parse_call(msg, &method, &p, &flags));
	ASSERT_STREQ(method, "io.ioasid.Broker.Release");
	CU_ASSERT_EQUAL(flags, VARLINK_CALL_MORE);
	ASSERT_STREQ(json_object_get_string(json_object_object_get(p, "lease")), "abc");
	json_object_put(msg);

	/* Error and reply builders round-trip through parse_reply. */
	json_object *err = NULL;
	json_object *ep = json_object_new_object();
	json_object_object_add(ep, "device", json_object_new_string("0000:01:00.0"));
	ASSERT_OK(varlink_build_error("io.ioasid.NoSuchDevice", ep, &err));
	ASSERT_OK(varlink_stream_enqueue(b, err, NULL, 0));
	json_object_put(err);
	json_object *rep = NULL;
	ASSERT_OK(varlink_build_reply(NULL, true, &rep));
	ASSERT_OK(varlink_stream_enqueue(b, rep, NULL, 0));
	json_object_put(rep);
	CU_ASSERT_EQUAL(varlink_stream_flush(b), 1);

	const char *ename = NULL;
	bool continues = true;
	ASSERT_OK(read_one(a, &msg, NULL, NULL));
	ASSERT_OK(varlink_parse_reply(msg, &ename, &p, &continues));
	ASSERT_STREQ(ename, "io.ioasid.NoSuchDevice");
	CU_ASSERT_FALSE(continues);
	ASSERT_STREQ(json_object_get_string(json_object_object_get(p, "device")), "0000:01:00.0");
	json_object_put(msg);
	ASSERT_OK(read_one(a, &msg, NULL, NULL));
	ASSERT_OK(varlink_parse_reply(msg, &ename, &p, &continues));
	CU_ASSERT_PTR_NULL(ename);
	CU_ASSERT_TRUE(continues);
	CU_ASSERT_TRUE(json_object_is_type(p, json_type_object));
	json_object_put(msg);

	varlink_stream_free(a);
	varlink_stream_free(b);
}

static void test_parse_call_rejects(void) {
	static const char *bad[] = {
		"{}",
		"{\"method\": 5}",
		"{\"method\": \"NoInterface\"}",
		"{\"method\": \"io.ioasid.Broker.lower\"}",
		"{\"method\": \"io.ioasid.Broker.Acquire\", \"parameters\": []}",
		"{\"method\": \"io.ioasid.Broker.Acquire\", \"more\": \"yes\"}",
		"{\"method\": \"io.ioasid.Broker.Acquire\", \"extra\": 1}",
		"{\"method\": \"io.ioasid.Broker.Acquire\", \"upgrade\": true}",
		"{\"method\": \"io.ioasid.Broker.Acq uire\"}",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		json_object *o = json_tokener_parse(bad[i]);
		CU_ASSERT_FATAL(o != NULL);
		ASSERT_ERR(varlink_parse_call(o, NULL, NULL, NULL), EBADMSG);
		json_object_put(o);
	}
	json_object *o = json_tokener_parse("{\"method\": \"org.varlink.service.GetInfo\"}");
	json_object *p = (json_object *)1;
	ASSERT_OK(varlink_parse_call(o, NULL, &p, NULL));
	CU_ASSERT_PTR_NULL(p);
	json_object_put(o);
}

/* A message written one byte at a time: next() says 0 until the NUL arrives. */
static void test_split_reads(void) {
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	const char text[] = "{\"method\":\"io.ioasid.Broker.ListDevices\"}";
	int wfd = varlink_stream_fd(a);
	for (size_t i = 0; i < sizeof(text); i++) { /* sizeof includes the NUL */
		CU_ASSERT_EQUAL_FATAL(write(wfd, text + i, 1), 1);
		CU_ASSERT_EQUAL(varlink_stream_fill(b), 1);
		json_object *m = NULL;
		int r = varlink_stream_next(b, &m, NULL, NULL);
		if (i + 1 < sizeof(text)) {
			CU_ASSERT_EQUAL(r, 0);
			CU_ASSERT_EQUAL(varlink_stream_input_buffered(b), i + 1);
		} else {
			CU_ASSERT_EQUAL(r, 1);
			const char *method = NULL;
			ASSERT_OK(varlink_parse_call(m, &method, NULL, NULL));
			ASSERT_STREQ(method, "io.ioasid.Broker.ListDevices");
			json_object_put(m);
		}
	}
	ASSERT_ERR(varlink_stream_fill(b), EAGAIN);
	CU_ASSERT_EQUAL(varlink_stream_input_buffered(b), 0);
	varlink_stream_free(a);
	varlink_stream_free(b);
}

/* Several messages in one write come out one at a time, in order; fill() refuses to read
 * more while a complete message is buffered. */
static void test_pipelining(void) {
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	char buf[4096];
	size_t len = 0;
	for (int i = 0; i < 50; i++) {
		int k = snprintf(buf + len, sizeof(buf) - len,
				 "{\"method\":\"x.Y\",\"parameters\":{\"i\":%d}}", i);
		len += (size_t)k + 1; /* keep snprintf's NUL as the frame */
	}
	CU_ASSERT_EQUAL_FATAL(write(varlink_stream_fd(a), buf, len), (ssize_t)len);
	CU_ASSERT_EQUAL(varlink_stream_fill(b), (int)len);
	for (int i = 0; i < 50; i++) {
		CU_ASSERT_TRUE(varlink_stream_has_message(b));
		ASSERT_ERR(varlink_stream_fill(b), ENOBUFS);
		json_object *m = NULL;
		CU_ASSERT_EQUAL_FATAL(varlink_stream_next(b, &m, NULL, NULL), 1);
		json_object *p = json_object_object_get(m, "parameters");
		CU_ASSERT_EQUAL(json_object_get_int(json_object_object_get(p, "i")), i);
		json_object_put(m);
	}
	json_object *m = NULL;
	CU_ASSERT_EQUAL(varlink_stream_next(b, &m, NULL, NULL), 0);
	CU_ASSERT_PTR_NULL(m);
	varlink_stream_free(a);
	varlink_stream_free(b);
}

static void test_oversize(void) {
	VarlinkStream *a = NULL, *b = NULL;
	pair(64, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	/* Exactly the limit, NUL included: accepted. */
	char buf[200];
	memset(buf, ' ', sizeof(buf));
	memcpy(buf, "{}", 2);
	buf[63] = '\0';
	CU_ASSERT_EQUAL_FATAL(write(varlink_stream_fd(a), buf, 64), 64);
	json_object *m = NULL;
	ASSERT_OK(read_one(b, &m, NULL, NULL));
	json_object_put(m);

	/* One byte more without a NUL in the first 64: refused before any parse. */
	memset(buf, 'x', sizeof(buf));
	buf[150] = '\0';
	CU_ASSERT_EQUAL_FATAL(write(varlink_stream_fd(a), buf, 151), 151);
	int r;
	while ((r = varlink_stream_fill(b)) > 0)
		CU_ASSERT_FALSE(varlink_stream_has_message(b));
	ASSERT_ERR(r, EMSGSIZE);
	CU_ASSERT_EQUAL(varlink_stream_input_buffered(b), 64);

	/* The writer refuses to queue what the peer would refuse. */
	json_object *big = json_object_new_object();
	json_object_object_add(big, "k", json_object_new_string(buf + 50));
	ASSERT_ERR(varlink_stream_enqueue(a, big, NULL, 0), E2BIG);
	/* A larger output limit (daemon replies) lets it through; the queue counts its bytes. */
	ASSERT_ERR(varlink_stream_set_max_output(a, 1), EINVAL);
	ASSERT_OK(varlink_stream_set_max_output(a, 4096));
	CU_ASSERT_EQUAL(varlink_stream_queued_bytes(a), 0);
	ASSERT_OK(varlink_stream_enqueue(a, big, NULL, 0));
	size_t len = strlen(json_object_to_json_string_ext(
		big, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	CU_ASSERT_EQUAL(varlink_stream_queued_bytes(a), len + 1);
	CU_ASSERT_EQUAL(varlink_stream_flush(a), 1);
	CU_ASSERT_EQUAL(varlink_stream_queued_bytes(a), 0);
	json_object_put(big);
	varlink_stream_free(a);
	varlink_stream_free(b);
}

static void test_bad_json(void) {
	static const struct {
		const char *text;
		int err;
	} cases[] = {
		{ "{\"a\":", EBADMSG },
		{ "[1,2]", EBADMSG },
		{ "42", EBADMSG },
		{ "{} {}", EBADMSG },
		{ "{}  ", 0 },
		{ "nul", EBADMSG },
		{ "{\"a\":[[[[[[[[[[1]]]]]]]]]]}", ELOOP },   /* 11 levels */
		{ "{\"a\":{\"b\":{\"c\":{\"d\":[[[1]]]}}}}", 0 }, /* 7 levels */
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		VarlinkStream *a = NULL, *b = NULL;
		pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
		size_t len = strlen(cases[i].text) + 1;
		CU_ASSERT_EQUAL_FATAL(write(varlink_stream_fd(a), cases[i].text, len),
		                      (ssize_t)len);
		json_object *m = NULL;
		int r = read_one(b, &m, NULL, NULL);
		if (cases[i].err) {
			if (r != -cases[i].err)
				fprintf(stderr, "case %zu: %d\n", i, r);
			ASSERT_ERR(r, cases[i].err);
			/* The bad message is consumed. */
			CU_ASSERT_EQUAL(varlink_stream_input_buffered(b), 0);
		} else {
			ASSERT_OK(r);
			json_object_put(m);
		}
		varlink_stream_free(a);
		varlink_stream_free(b);
	}
}

/* The stream reuses one tokener: what one message leaves in it (an error, a depth) must not
 * leak into the next. */
static void test_tokener_reuse(void) {
	static const struct {
		const char *text;
		int err;
		const char *key; /* present in the parsed object */
	} seq[] = {
		{ "{\"a\":[[[[[[[[[[1]]]]]]]]]]}", ELOOP, NULL },
		{ "{\"b\":2}", 0, "b" },
		{ "{\"a\":{\"b\":{\"c\":{\"d\":[[[1]]]}}}}", 0, "a" },
		{ "{\"a\":[[[[[[[[[[1]]]]]]]]]]}", ELOOP, NULL },
		{ "{} {}", EBADMSG, NULL },
		{ "{\"c\":[1,", EBADMSG, NULL },
		{ "{\"d\":4}", 0, "d" },
	};
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	for (size_t i = 0; i < ELEMENTSOF(seq); i++) {
		size_t len = strlen(seq[i].text) + 1;
		CU_ASSERT_EQUAL_FATAL(write(varlink_stream_fd(a), seq[i].text, len), (ssize_t)len);
	}
	for (size_t i = 0; i < ELEMENTSOF(seq); i++) {
		json_object *m = NULL;
		int r = read_one(b, &m, NULL, NULL);
		if (seq[i].err) {
			ASSERT_ERR(r, seq[i].err);
			continue;
		}
		ASSERT_OK(r);
		CU_ASSERT_TRUE(m && json_object_object_get_ex(m, seq[i].key, NULL));
		CU_ASSERT_EQUAL(m ? json_object_object_length(m) : 0, 1);
		json_object_put(m);
	}
	CU_ASSERT_EQUAL(varlink_stream_input_buffered(b), 0);
	varlink_stream_free(a);
	varlink_stream_free(b);
}

static int memfd(const char *name) {
	int fd = memfd_create(name, MFD_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	return fd;
}

static bool same_file(int a, int b) {
	struct stat sa, sb;
	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* fds go with their message, also when a message without fds precedes it in the same read,
 * arrive O_CLOEXEC, and the sender's own copies stay open. */
static void test_fd_passing(void) {
	size_t base = count_fds();
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	int m1 = memfd("one"), m2 = memfd("two");

	json_object *r1 = NULL, *r2 = NULL, *r3 = NULL;
	ASSERT_OK(varlink_build_reply(NULL, true, &r1));
	ASSERT_OK(varlink_build_reply(NULL, true, &r2));
	ASSERT_OK(varlink_build_reply(NULL, false, &r3));
	ASSERT_OK(varlink_stream_enqueue(a, r1, NULL, 0));
	int two[2] = { m1, m2 };
	ASSERT_OK(varlink_stream_enqueue(a, r2, two, 2));
	ASSERT_OK(varlink_stream_enqueue(a, r3, NULL, 0));
	json_object_put(r1);
	json_object_put(r2);
	json_object_put(r3);
	CU_ASSERT_EQUAL(varlink_stream_queued_fd_messages(a), 1);
	CU_ASSERT_EQUAL(varlink_stream_flush(a), 1);
	CU_ASSERT_EQUAL(varlink_stream_queued_fd_messages(a), 0);

	size_t got_total = 0;
	for (int i = 0; i < 3; i++) {
		json_object *m = NULL;
		int *fds = NULL;
		size_t n = 0;
		ASSERT_OK(read_one(b, &m, &fds, &n));
		if (i == 1) {
			CU_ASSERT_EQUAL_FATAL(n, 2);
			CU_ASSERT_TRUE(same_file(fds[0], m1));
			CU_ASSERT_TRUE(same_file(fds[1], m2));
			CU_ASSERT_TRUE(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
			CU_ASSERT_TRUE(fcntl(fds[1], F_GETFD) & FD_CLOEXEC);
		} else
			CU_ASSERT_EQUAL(n, 0);
		got_total += n;
		varlink_fds_free(fds, n);
		json_object_put(m);
	}
	CU_ASSERT_EQUAL(got_total, 2);
	/* Sender keeps its own. */
	CU_ASSERT_TRUE(fcntl(m1, F_GETFD) >= 0);
	safe_close(m1);
	safe_close(m2);
	varlink_stream_free(a);
	varlink_stream_free(b);
	CU_ASSERT_EQUAL(count_fds(), base);
}

/* A full socket: flush() returns 0 and resumes later; the fds travel exactly once. */
static void test_eagain_resume(void) {
	size_t base = count_fds();
	VarlinkStream *a = NULL, *b = NULL;
	pair(1024 * 1024, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	int small = 4096;
	ASSERT_OK(setsockopt(varlink_stream_fd(a), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));

	char *big = malloc(200000);
	memset(big, 'a', 199999);
	big[199999] = '\0';
	int mf = memfd("resume");
	/* Fill the socket first with a message without fds, then an fd-bearing one. */
	for (int i = 0; i < 3; i++) {
		json_object *p = json_object_new_object();
		json_object_object_add(p, "blob", json_object_new_string(big));
		json_object_object_add(p, "i", json_object_new_int(i));
		json_object *r = NULL;
		ASSERT_OK(varlink_build_reply(p, false, &r));
		ASSERT_OK(varlink_stream_enqueue(a, r, i == 1 ? &mf : NULL, i == 1 ? 1 : 0));
		json_object_put(r);
	}
	safe_close(mf);
	free(big);

	size_t fds_seen = 0, msgs = 0, rounds = 0;
	int fr = 0;
	while (msgs < 3 && rounds++ < 100000) {
		fr = varlink_stream_flush(a);
		CU_ASSERT_FATAL(fr >= 0);
		int r = varlink_stream_fill(b);
		CU_ASSERT_FATAL(r > 0 || r == -EAGAIN);
		for (;;) {
			json_object *m = NULL;
			int *fds = NULL;
			size_t n = 0;
			r = varlink_stream_next(b, &m, &fds, &n);
			CU_ASSERT_FATAL(r >= 0);
			if (r == 0)
				break;
			json_object *p = json_object_object_get(m, "parameters");
			CU_ASSERT_EQUAL(json_object_get_int(json_object_object_get(p, "i")),
					(int)msgs);
			CU_ASSERT_EQUAL(
			        json_object_get_string_len(json_object_object_get(p, "blob")),
			        199999);
			CU_ASSERT_EQUAL(n, msgs == 1 ? 1u : 0u);
			fds_seen += n;
			msgs++;
			varlink_fds_free(fds, n);
			json_object_put(m);
		}
	}
	CU_ASSERT_EQUAL(msgs, 3);
	CU_ASSERT_EQUAL(fds_seen, 1);
	CU_ASSERT_TRUE(rounds > 3); /* it really was resumed */
	CU_ASSERT_EQUAL(varlink_stream_flush(a), 1);
	varlink_stream_free(a);
	varlink_stream_free(b);
	CU_ASSERT_EQUAL(count_fds(), base);
}

static void raw_send_fds(int sock, const char *text, size_t len, const int *fds, size_t n) {
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} control;
	memset(&control, 0, sizeof(control));
	struct iovec iov = { .iov_base = (void *)text, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &control,
		.msg_controllen = CMSG_SPACE(sizeof(int) * n),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	CU_ASSERT_EQUAL_FATAL(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

/* The daemon's streams refuse fds: they are closed and the read fails. */
/* Reads every complete message from b into ids[] (the "i" parameter) and counts the fds. */
static void drain(VarlinkStream *a, VarlinkStream *b, size_t want, int *ids, size_t *ret_fds,
		  const int *fd_of) {
	size_t msgs = 0, rounds = 0;
	*ret_fds = 0;
	while (msgs < want && rounds++ < 100000) {
		CU_ASSERT_FATAL(varlink_stream_flush(a) >= 0);
		int r = varlink_stream_fill(b);
		CU_ASSERT_FATAL(r > 0 || r == -EAGAIN);
		for (;;) {
			json_object *m = NULL;
			int *fds = NULL;
			size_t n = 0;
			r = varlink_stream_next(b, &m, &fds, &n);
			CU_ASSERT_FATAL(r >= 0);
			if (r == 0)
				break;
			json_object *p = json_object_object_get(m, "parameters");
			if (!p) { /* filler ("{}") */
				CU_ASSERT_EQUAL(n, 0);
				json_object_put(m);
				continue;
			}
			ids[msgs] = json_object_get_int(json_object_object_get(p, "i"));
			/* An fd that arrives is the one sent with that message. */
			for (size_t k = 0; k < n; k++)
				CU_ASSERT_TRUE(fd_of && same_file(fds[k], fd_of[ids[msgs]]));
			*ret_fds += n;
			msgs++;
			varlink_fds_free(fds, n);
			json_object_put(m);
		}
	}
	CU_ASSERT_EQUAL(msgs, want);
}

static json_object *reply_i(int i, size_t blob) {
	json_object *p = json_object_new_object();
	if (blob > 0) {
		char *t = malloc(blob + 1);
		memset(t, 'b', blob);
		t[blob] = '\0';
		json_object_object_add(p, "blob", json_object_new_string(t));
		free(t);
	}
	json_object_object_add(p, "i", json_object_new_int(i));
	json_object *r = NULL;
	ASSERT_OK(varlink_build_reply(p, false, &r));
	return r;
}

/* varlink_stream_send(): at once and without duplicates when nothing is queued; queued with
 * duplicates (or the rest of a partial send without them) when the socket is full; behind
 * queued data otherwise. The caller's fds stay its own in every case. */
static void test_send(void) {
	size_t base = count_fds();
	VarlinkStream *a = NULL, *b = NULL;
	pair(1024 * 1024, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	int small = 4096;
	ASSERT_OK(setsockopt(varlink_stream_fd(a), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
	int mf[4] = { memfd("send0"), memfd("send1"), memfd("send2"), memfd("send3") };
	size_t with_ours = count_fds();

	/* 1. Empty queue, small message: sent here, nothing queued, no duplicate made. */
	json_object *m = reply_i(0, 0);
	CU_ASSERT_EQUAL(varlink_stream_send(a, m, &mf[0], 1), 1);
	json_object_put(m);
	CU_ASSERT_EQUAL(varlink_stream_queued(a), 0);
	CU_ASSERT_EQUAL(count_fds(), with_ours);
	int ids[4];
	size_t nfds = 0;
	drain(a, b, 1, ids, &nfds, mf);
	CU_ASSERT_EQUAL(ids[0], 0);
	CU_ASSERT_EQUAL(nfds, 1);

	/* 2. A message larger than the socket takes: partly sent (with its fd), the rest
	 * queued without a duplicate; 3. then one that finds the socket full: queued whole,
	 * its fd duplicated; 4. one behind queued data: queued in order. */
	m = reply_i(1, 300000);
	CU_ASSERT_EQUAL(varlink_stream_send(a, m, &mf[1], 1), 0);
	json_object_put(m);
	CU_ASSERT_EQUAL(varlink_stream_queued(a), 1);
	CU_ASSERT_EQUAL(varlink_stream_queued_fd_messages(a), 0); /* its fd went out */
	CU_ASSERT_EQUAL(count_fds(), with_ours);
	m = reply_i(2, 0);
	CU_ASSERT_EQUAL(varlink_stream_send(a, m, &mf[2], 1), 0);
	json_object_put(m);
	m = reply_i(3, 10);
	CU_ASSERT_EQUAL(varlink_stream_send(a, m, &mf[3], 1), 0);
	json_object_put(m);
	CU_ASSERT_EQUAL(varlink_stream_queued(a), 3);
	CU_ASSERT_EQUAL(varlink_stream_queued_fd_messages(a), 2);
	CU_ASSERT_EQUAL(count_fds(), with_ours + 2); /* the two queued duplicates */
	drain(a, b, 3, ids, &nfds, mf);
	CU_ASSERT_TRUE(ids[0] == 1 && ids[1] == 2 && ids[2] == 3);
	CU_ASSERT_EQUAL(nfds, 3);
	CU_ASSERT_EQUAL(varlink_stream_queued(a), 0);
	CU_ASSERT_EQUAL(count_fds(), with_ours); /* duplicates closed once sent */

	/* 5. Nothing queued but the socket full: queued whole, with a duplicate of the fd. */
	while (write(varlink_stream_fd(a), "{}", 3) == 3)
		;
	CU_ASSERT_EQUAL(errno, EAGAIN);
	m = reply_i(0, 0);
	CU_ASSERT_EQUAL(varlink_stream_send(a, m, &mf[0], 1), 0);
	json_object_put(m);
	CU_ASSERT_EQUAL(varlink_stream_queued_fd_messages(a), 1);
	CU_ASSERT_EQUAL(count_fds(), with_ours + 1);
	drain(a, b, 1, ids, &nfds, mf);
	CU_ASSERT_EQUAL(ids[0], 0);
	CU_ASSERT_EQUAL(nfds, 1);
	CU_ASSERT_EQUAL(count_fds(), with_ours);

	/* A send error is reported, not queued. */
	varlink_stream_free(b);
	m = reply_i(4, 0);
	ASSERT_ERR(varlink_stream_send(a, m, NULL, 0), EPIPE);
	json_object_put(m);
	varlink_stream_free(a);
	for (size_t i = 0; i < ELEMENTSOF(mf); i++)
		safe_close(mf[i]);
	CU_ASSERT_EQUAL(count_fds(), base);
}

static void test_refuse_fds(void) {
	size_t base = count_fds();
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, VARLINK_STREAM_REFUSE_FDS, &a, &b);
	int fds[3] = { memfd("x"), memfd("y"), varlink_stream_fd(a) };
	const char text[] = "{\"method\":\"io.ioasid.Broker.ListDevices\"}";
	raw_send_fds(varlink_stream_fd(a), text, sizeof(text), fds, 3);
	safe_close(fds[0]);
	safe_close(fds[1]);
	ASSERT_ERR(varlink_stream_fill(b), EPROTO);
	varlink_stream_free(a);
	varlink_stream_free(b);
	CU_ASSERT_EQUAL(count_fds(), base);
}

static int closed_by_hook[16];
static size_t n_closed_by_hook;
static void record_close(int fd) {
	if (n_closed_by_hook < ELEMENTSOF(closed_by_hook))
		closed_by_hook[n_closed_by_hook++] = fd;
	close(fd);
}

/* Refused fds go through the installed closer (the daemon's closer thread), not close(). */
static void test_received_fd_closer(void) {
	size_t base = count_fds();
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, VARLINK_STREAM_REFUSE_FDS, &a, &b);
	int fds[2] = { memfd("h1"), memfd("h2") };
	const char text[] = "{}";
	raw_send_fds(varlink_stream_fd(a), text, sizeof(text), fds, 2);
	safe_close(fds[0]);
	safe_close(fds[1]);
	n_closed_by_hook = 0;
	varlink_set_received_fd_closer(record_close);
	ASSERT_ERR(varlink_stream_fill(b), EPROTO);
	varlink_set_received_fd_closer(NULL);
	CU_ASSERT_EQUAL(n_closed_by_hook, 2);
	varlink_stream_free(a);
	varlink_stream_free(b);
	CU_ASSERT_EQUAL(count_fds(), base);
}

/* More fds than the cmsg buffer: MSG_CTRUNC -> -EPROTO, what arrived is closed. */
static void test_ctrunc(void) {
	size_t base = count_fds();
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	ASSERT_OK(varlink_stream_set_max_fds(b, 2));
	ASSERT_ERR(varlink_stream_set_max_fds(b, 0), EINVAL);
	int fds[5];
	for (int i = 0; i < 5; i++)
		fds[i] = memfd("t");
	const char text[] = "{}";
	raw_send_fds(varlink_stream_fd(a), text, sizeof(text), fds, 5);
	for (int i = 0; i < 5; i++)
		safe_close(fds[i]);
	ASSERT_ERR(varlink_stream_fill(b), EPROTO);
	varlink_stream_free(a);
	varlink_stream_free(b);
	CU_ASSERT_EQUAL(count_fds(), base);
}

/* fds with no message start in the read (attached to a continuation) are a protocol error. */
static void test_fds_mid_message(void) {
	size_t base = count_fds();
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	CU_ASSERT_EQUAL_FATAL(write(varlink_stream_fd(a), "{\"a\":", 5), 5);
	CU_ASSERT_EQUAL(varlink_stream_fill(b), 5);
	int fd = memfd("mid");
	raw_send_fds(varlink_stream_fd(a), "1}", 3, &fd, 1);
	safe_close(fd);
	ASSERT_ERR(varlink_stream_fill(b), EPROTO);
	varlink_stream_free(a);
	varlink_stream_free(b);
	CU_ASSERT_EQUAL(count_fds(), base);
}

/* EPIPE, not SIGPIPE, when the peer is gone; queued fds are closed by free(). */
static void test_epipe(void) {
	size_t base = count_fds();
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	varlink_stream_free(b);
	int mf = memfd("epipe");
	json_object *r = NULL;
	ASSERT_OK(varlink_build_reply(NULL, false, &r));
	ASSERT_OK(varlink_stream_enqueue(a, r, &mf, 1));
	json_object_put(r);
	safe_close(mf);
	ASSERT_ERR(varlink_stream_flush(a), EPIPE);
	CU_ASSERT_EQUAL(varlink_stream_queued_fd_messages(a), 1);
	varlink_stream_free(a);
	CU_ASSERT_EQUAL(count_fds(), base);
}

/* The blocking convenience call against a scripted peer. */
static void test_blocking_call(void) {
	int sv[2];
	ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	VarlinkStream *c = NULL;
	ASSERT_OK(varlink_stream_new(sv[0], IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &c));
	/* The peer's answer is written before the call: the call still reads exactly one. */
	int mf = memfd("reply");
	const char reply[] = "{\"parameters\":{\"iommuFd\":0}}";
	raw_send_fds(sv[1], reply, sizeof(reply), &mf, 1);
	const char err[] = "{\"error\":\"io.ioasid.NoSuchLease\",\"parameters\":{\"lease\":\"x\"}}";
	CU_ASSERT_EQUAL_FATAL(write(sv[1], err, sizeof(err)), (ssize_t)sizeof(err));

	char *ename = NULL;
	json_object *p = NULL;
	int *fds = NULL;
	size_t n = 0;
	ASSERT_OK(varlink_stream_call(c, "io.ioasid.Broker.Acquire", NULL, 0, 2000, &ename, &p,
				      &fds, &n));
	CU_ASSERT_PTR_NULL(ename);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_TRUE(same_file(fds[0], mf));
	CU_ASSERT_EQUAL(json_object_get_int(json_object_object_get(p, "iommuFd")), 0);
	json_object_put(p);
	varlink_fds_free(fds, n);
	safe_close(mf);

	ASSERT_OK(varlink_stream_call(c, "io.ioasid.Broker.Release", NULL, 0, 2000, &ename, &p,
				      &fds, &n));
	ASSERT_STREQ(ename, "io.ioasid.NoSuchLease");
	CU_ASSERT_EQUAL(n, 0);
	free(ename);
	json_object_put(p);

	/* Both calls reached the peer, framed. */
	char buf[512];
	ssize_t k = read(sv[1], buf, sizeof(buf));
	CU_ASSERT_FATAL(k > 0);
	CU_ASSERT_TRUE(memmem(buf, (size_t)k, "Broker.Acquire", 14) != NULL);
	CU_ASSERT_TRUE(memmem(buf, (size_t)k, "Broker.Release", 14) != NULL);

	/* No answer: timeout. Then EOF: ECONNRESET. */
	ASSERT_ERR(varlink_stream_call(c, "x.Y", NULL, 0, 50, NULL, NULL, NULL, NULL), ETIMEDOUT);
	safe_close(sv[1]);
	int r = varlink_stream_call(c, "x.Y", NULL, 0, 2000, NULL, NULL, NULL, NULL);
	CU_ASSERT_TRUE(r == -ECONNRESET || r == -EPIPE);
	varlink_stream_free(c);
}

static CU_TestInfo tests[] = {
	{ "framing", test_framing },
	{ "parse_call_rejects", test_parse_call_rejects },
	{ "split_reads", test_split_reads },
	{ "pipelining", test_pipelining },
	{ "oversize", test_oversize },
	{ "bad_json_and_depth", test_bad_json },
	{ "tokener_reuse", test_tokener_reuse },
	{ "send", test_send },
	{ "fd_passing", test_fd_passing },
	{ "eagain_resume", test_eagain_resume },
	{ "refuse_fds", test_refuse_fds },
	{ "ctrunc", test_ctrunc },
	{ "received_fd_closer", test_received_fd_closer },
	{ "fds_mid_message", test_fds_mid_message },
	{ "epipe", test_epipe },
	{ "blocking_call", test_blocking_call },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("varlink", tests);
