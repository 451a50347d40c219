/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
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
static int read_one(VarlinkStream *s, Doc **ret, int **fds, size_t *n_fds) {
	return varlink_stream_read_message(s, 2000, ret, fds, n_fds);
}

/* text parsed into a new document (the caller frees it; the message is doc_root()). */
static Doc *parse_text(const char *text) {
	Doc *d = doc_new();
	CU_ASSERT_FATAL(d != NULL);
	DocNode *root = NULL;
	ASSERT_OK(doc_parse(d, text, strlen(text), IOASID_MAX_JSON_DEPTH, &root));
	CU_ASSERT_PTR_EQUAL(root, doc_root(d));
	return d;
}

/* The integer member key of object o (INT64_MIN, and a failed assertion, when it is not). */
static int64_t get_int(const DocNode *o, const char *key) {
	const DocNode *n = doc_get(o, key);
	CU_ASSERT_EQUAL(doc_type(n), DOC_INT);
	return doc_type(n) == DOC_INT ? n->i : INT64_MIN;
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

	Doc *msg = NULL;
	int *fds = NULL;
	size_t n_fds = 99;
	ASSERT_OK(read_one(b, &msg, &fds, &n_fds));
	CU_ASSERT_PTR_NULL(fds);
	CU_ASSERT_EQUAL(n_fds, 0);
	const char *method = NULL;
	const DocNode *p = NULL;
	unsigned flags = 0;
	ASSERT_OK(varlink_parse_call(doc_root(msg), &method, &p, &flags));
	ASSERT_STREQ(method, "io.ioasid.Broker.Release");
	CU_ASSERT_EQUAL(flags, VARLINK_CALL_MORE);
	ASSERT_STREQ(doc_str(doc_get(p, "lease")), "abc");
	doc_free(msg);

	/* Error and reply builders round-trip through parse_reply. */
	json_object *err = NULL;
	json_object *ep = json_object_new_object();
	json_object_object_add(ep, "device", json_object_new_string("0000:01:00.0"));
	ASSERT_OK(varlink_build_error("io.ioasid.Broker.NoSuchDevice", ep, &err));
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
	ASSERT_OK(varlink_parse_reply(doc_root(msg), &ename, &p, &continues));
	ASSERT_STREQ(ename, "io.ioasid.Broker.NoSuchDevice");
	CU_ASSERT_FALSE(continues);
	ASSERT_STREQ(doc_str(doc_get(p, "device")), "0000:01:00.0");
	doc_free(msg);
	ASSERT_OK(read_one(a, &msg, NULL, NULL));
	ASSERT_OK(varlink_parse_reply(doc_root(msg), &ename, &p, &continues));
	CU_ASSERT_PTR_NULL(ename);
	CU_ASSERT_TRUE(continues);
	CU_ASSERT_EQUAL(doc_type(p), DOC_OBJECT);
	doc_free(msg);

	/* A reply without "parameters" gets an empty object, never NULL. */
	Doc *bare = parse_text("{\"continues\":true}");
	p = NULL;
	continues = false;
	ASSERT_OK(varlink_parse_reply(doc_root(bare), &ename, &p, &continues));
	CU_ASSERT_PTR_NULL(ename);
	CU_ASSERT_TRUE(continues);
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT_EQUAL(doc_type(p), DOC_OBJECT);
	CU_ASSERT_EQUAL(p->c.n, 0);
	doc_free(bare);

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
		Doc *d = parse_text(bad[i]);
		ASSERT_ERR(varlink_parse_call(doc_root(d), NULL, NULL, NULL), EBADMSG);
		doc_free(d);
	}
	/* Parameters absent: an empty object, never NULL. */
	Doc *d = parse_text("{\"method\": \"org.varlink.service.GetInfo\"}");
	const DocNode *p = NULL;
	ASSERT_OK(varlink_parse_call(doc_root(d), NULL, &p, NULL));
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT_EQUAL(doc_type(p), DOC_OBJECT);
	CU_ASSERT_EQUAL(p->c.n, 0);
	doc_free(d);
	/* Parameters present: the message's own object. */
	d = parse_text("{\"method\": \"org.varlink.service.GetInfo\", \"parameters\": {\"x\": 1}}");
	p = NULL;
	ASSERT_OK(varlink_parse_call(doc_root(d), NULL, &p, NULL));
	CU_ASSERT_PTR_EQUAL(p, doc_get(doc_root(d), "parameters"));
	CU_ASSERT_EQUAL(get_int(p, "x"), 1);
	doc_free(d);
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
		Doc *m = NULL;
		int r = varlink_stream_next(b, &m, NULL, NULL);
		if (i + 1 < sizeof(text)) {
			CU_ASSERT_EQUAL(r, 0);
			CU_ASSERT_PTR_NULL(m);
			CU_ASSERT_EQUAL(varlink_stream_input_buffered(b), i + 1);
		} else {
			CU_ASSERT_EQUAL_FATAL(r, 1);
			const char *method = NULL;
			ASSERT_OK(varlink_parse_call(doc_root(m), &method, NULL, NULL));
			ASSERT_STREQ(method, "io.ioasid.Broker.ListDevices");
			doc_free(m);
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
		Doc *m = NULL;
		CU_ASSERT_EQUAL_FATAL(varlink_stream_next(b, &m, NULL, NULL), 1);
		const DocNode *p = doc_get(doc_root(m), "parameters");
		CU_ASSERT_EQUAL(get_int(p, "i"), i);
		doc_free(m);
	}
	Doc *m = NULL;
	CU_ASSERT_EQUAL(varlink_stream_next(b, &m, NULL, NULL), 0);
	CU_ASSERT_PTR_NULL(m);
	varlink_stream_free(a);
	varlink_stream_free(b);
}

/*
 * The input buffer grows in steps (16 KiB, then doubling, never beyond the message limit)
 * whenever less than 4 KiB of it is free, so each read has room for at least 4 KiB unless the
 * limit is that close: a read returns what fits.
 */
static void test_fill_growth(void) {
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	static char buf[20000];
	memset(buf, 'x', sizeof(buf));
	int fd = varlink_stream_fd(a);
	CU_ASSERT_EQUAL_FATAL(write(fd, buf, 12288), 12288);
	CU_ASSERT_EQUAL(varlink_stream_fill(b), 12288); /* a first buffer of 16 KiB */
	CU_ASSERT_EQUAL_FATAL(write(fd, buf, 8192), 8192);
	CU_ASSERT_EQUAL(varlink_stream_fill(b), 4096); /* 4 KiB free: no growth yet */
	CU_ASSERT_EQUAL(varlink_stream_fill(b), 4096); /* full: doubled to 32 KiB */
	CU_ASSERT_EQUAL_FATAL(write(fd, buf, 20000), 20000);
	CU_ASSERT_EQUAL(varlink_stream_fill(b), 12288); /* 32 KiB, full */
	CU_ASSERT_EQUAL(varlink_stream_fill(b), 7712);  /* 64 KiB: the limit */
	CU_ASSERT_EQUAL(varlink_stream_input_buffered(b), 40480);
	varlink_stream_free(a);
	varlink_stream_free(b);
}

/* A peer that closes with data of ours unread resets the connection: the error is
 * ECONNRESET, not a retry (EAGAIN) that would leave the connection open for nothing. */
static void test_fill_reset(void) {
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	CU_ASSERT_EQUAL_FATAL(write(varlink_stream_fd(b), "{}", 3), 3);
	varlink_stream_free(a);
	ASSERT_ERR(varlink_stream_fill(b), ECONNRESET);
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
	Doc *m = NULL;
	ASSERT_OK(read_one(b, &m, NULL, NULL));
	CU_ASSERT_EQUAL(doc_type(doc_root(m)), DOC_OBJECT);
	doc_free(m);

	/* One byte more without a NUL in the first 64: refused before any parse. */
	memset(buf, 'x', sizeof(buf));
	buf[150] = '\0';
	CU_ASSERT_EQUAL_FATAL(write(varlink_stream_fd(a), buf, 151), 151);
	/* The read that brings the 64th byte without a NUL says so at once, and so does every
	 * later call (not a zero-byte read that would pass for EOF). */
	ASSERT_ERR(varlink_stream_fill(b), EMSGSIZE);
	CU_ASSERT_EQUAL(varlink_stream_input_buffered(b), 64);
	ASSERT_ERR(varlink_stream_fill(b), EMSGSIZE);
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
	/* The output limit counts the NUL: exactly len + 1 fits, one byte less does not. */
	ASSERT_OK(varlink_stream_set_max_output(a, len + 1));
	ASSERT_OK(varlink_stream_enqueue(a, big, NULL, 0));
	CU_ASSERT_EQUAL(varlink_stream_queued_bytes(a), len + 1);
	ASSERT_OK(varlink_stream_set_max_output(a, len));
	ASSERT_ERR(varlink_stream_enqueue(a, big, NULL, 0), E2BIG);
	CU_ASSERT_EQUAL(varlink_stream_queued_bytes(a), len + 1);
	CU_ASSERT_EQUAL(varlink_stream_flush(a), 1);
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
		{ "{\"a\":[[[[[[[[[[1]]]]]]]]]]}", ELOOP },       /* 11 levels */
		{ "{\"a\":{\"b\":{\"c\":{\"d\":[[[1]]]}}}}", 0 }, /* 7 levels */
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		VarlinkStream *a = NULL, *b = NULL;
		pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
		size_t len = strlen(cases[i].text) + 1;
		CU_ASSERT_EQUAL_FATAL(write(varlink_stream_fd(a), cases[i].text, len),
				      (ssize_t)len);
		Doc *m = NULL;
		int r = read_one(b, &m, NULL, NULL);
		if (cases[i].err) {
			if (r != -cases[i].err)
				fprintf(stderr, "case %zu: %d\n", i, r);
			ASSERT_ERR(r, cases[i].err);
			/* The bad message is consumed. */
			CU_ASSERT_EQUAL(varlink_stream_input_buffered(b), 0);
		} else {
			ASSERT_OK(r);
			doc_free(m);
		}
		varlink_stream_free(a);
		varlink_stream_free(b);
	}
}

/* One stream parses message after message: what one message leaves behind (an error, a
 * depth) must not leak into the next. */
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
		Doc *m = NULL;
		int r = read_one(b, &m, NULL, NULL);
		if (seq[i].err) {
			ASSERT_ERR(r, seq[i].err);
			continue;
		}
		ASSERT_OK(r);
		const DocNode *root = m ? doc_root(m) : NULL;
		CU_ASSERT_TRUE(doc_get(root, seq[i].key) != NULL);
		CU_ASSERT_EQUAL(doc_type(root) == DOC_OBJECT ? root->c.n : 0, 1);
		doc_free(m);
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

/* The most fds one message may carry is what one read takes (VARLINK_MAX_FDS_PER_READ, the
 * kernel's SCM_MAX_FD): exactly that many are queued, one more is refused and leaves the
 * queue as it was. */
static void test_fds_per_message_limit(void) {
	size_t base = count_fds();
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	int m = memfd("many");
	int fds[VARLINK_MAX_FDS_PER_READ + 1];
	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		fds[i] = m;
	json_object *r = NULL;
	ASSERT_OK(varlink_build_reply(NULL, false, &r));
	ASSERT_ERR(varlink_stream_enqueue(a, r, fds, VARLINK_MAX_FDS_PER_READ + 1), EINVAL);
	CU_ASSERT_EQUAL(varlink_stream_queued(a), 0);
	ASSERT_OK(varlink_stream_enqueue(a, r, fds, VARLINK_MAX_FDS_PER_READ));
	CU_ASSERT_EQUAL(varlink_stream_queued(a), 1);
	CU_ASSERT_EQUAL(varlink_stream_queued_fd_messages(a), 1);
	json_object_put(r);
	varlink_stream_free(a);
	varlink_stream_free(b);
	close(m);
	CU_ASSERT_EQUAL(count_fds(), base);
}

/* The output bounds are strict: at exactly max messages, fd messages or bytes queued the
 * queue is no longer below them; one less and it is. */
static void test_output_below(void) {
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	CU_ASSERT_TRUE(varlink_stream_output_below(a, 1, 1, 1));
	json_object *r = NULL;
	ASSERT_OK(varlink_build_reply(NULL, false, &r));
	ASSERT_OK(varlink_stream_enqueue(a, r, NULL, 0));
	size_t bytes = varlink_stream_queued_bytes(a);
	CU_ASSERT(bytes > 0);
	CU_ASSERT_TRUE(varlink_stream_output_below(a, 1, 2, bytes + 1));
	CU_ASSERT_FALSE(varlink_stream_output_below(a, 1, 2, bytes));
	CU_ASSERT_FALSE(varlink_stream_output_below(a, 1, 1, bytes + 1));
	int m = memfd("below");
	ASSERT_OK(varlink_stream_enqueue(a, r, &m, 1));
	bytes = varlink_stream_queued_bytes(a);
	CU_ASSERT_TRUE(varlink_stream_output_below(a, 2, 3, bytes + 1));
	CU_ASSERT_FALSE(varlink_stream_output_below(a, 1, 3, bytes + 1));
	CU_ASSERT_FALSE(varlink_stream_output_below(a, 2, 2, bytes + 1));
	CU_ASSERT_FALSE(varlink_stream_output_below(a, 2, 3, bytes));
	json_object_put(r);
	varlink_stream_free(a);
	varlink_stream_free(b);
	close(m);
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
		Doc *m = NULL;
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
		doc_free(m);
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
			Doc *m = NULL;
			int *fds = NULL;
			size_t n = 0;
			r = varlink_stream_next(b, &m, &fds, &n);
			CU_ASSERT_FATAL(r >= 0);
			if (r == 0)
				break;
			const DocNode *p = doc_get(doc_root(m), "parameters");
			CU_ASSERT_EQUAL(get_int(p, "i"), (int64_t)msgs);
			const DocNode *blob = doc_get(p, "blob");
			CU_ASSERT_EQUAL(doc_str(blob) ? blob->str.len : 0, 199999);
			CU_ASSERT_EQUAL(n, msgs == 1 ? 1u : 0u);
			fds_seen += n;
			msgs++;
			varlink_fds_free(fds, n);
			doc_free(m);
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
			Doc *m = NULL;
			int *fds = NULL;
			size_t n = 0;
			r = varlink_stream_next(b, &m, &fds, &n);
			CU_ASSERT_FATAL(r >= 0);
			if (r == 0)
				break;
			const DocNode *p = doc_get(doc_root(m), "parameters");
			if (!p) { /* filler ("{}") */
				CU_ASSERT_EQUAL(n, 0);
				doc_free(m);
				continue;
			}
			ids[msgs] = (int)get_int(p, "i");
			/* An fd that arrives is the one sent with that message. */
			for (size_t k = 0; k < n; k++)
				CU_ASSERT_TRUE(fd_of && same_file(fds[k], fd_of[ids[msgs]]));
			*ret_fds += n;
			msgs++;
			varlink_fds_free(fds, n);
			doc_free(m);
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

/* varlink_stream_drop_unstarted(): the partly sent head stays and is finished, every message
 * not started goes with its fds, and the peer then reads whole messages up to the end. */
static void test_drop_unstarted(void) {
	size_t base = count_fds();
	VarlinkStream *a = NULL, *b = NULL;
	pair(1024 * 1024, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	int small = 4096;
	ASSERT_OK(setsockopt(varlink_stream_fd(a), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
	int mf[3] = { memfd("drop0"), memfd("drop1"), memfd("drop2") };
	size_t with_ours = count_fds();

	CU_ASSERT_EQUAL(varlink_stream_drop_unstarted(a), 0); /* nothing queued */
	json_object *m = reply_i(0, 300000);
	CU_ASSERT_EQUAL(varlink_stream_send(a, m, &mf[0], 1), 0); /* partly sent */
	json_object_put(m);
	m = reply_i(1, 10);
	CU_ASSERT_EQUAL(varlink_stream_send(a, m, &mf[1], 1), 0);
	json_object_put(m);
	m = reply_i(2, 0);
	CU_ASSERT_EQUAL(varlink_stream_send(a, m, &mf[2], 1), 0);
	json_object_put(m);
	CU_ASSERT_EQUAL(varlink_stream_queued(a), 3);
	CU_ASSERT_EQUAL(count_fds(), with_ours + 2); /* duplicates of mf[1], mf[2] */
	size_t head = varlink_stream_queued_bytes(a);

	CU_ASSERT_EQUAL(varlink_stream_drop_unstarted(a), 2);
	CU_ASSERT_EQUAL(varlink_stream_queued(a), 1);
	CU_ASSERT_EQUAL(varlink_stream_queued_fd_messages(a), 0);
	CU_ASSERT_TRUE(varlink_stream_queued_bytes(a) < head);
	CU_ASSERT_EQUAL(count_fds(), with_ours); /* the dropped messages' duplicates closed */
	CU_ASSERT_EQUAL(varlink_stream_drop_unstarted(a), 0); /* the started head stays */

	int ids[3];
	size_t nfds = 0;
	drain(a, b, 1, ids, &nfds, mf);
	CU_ASSERT_EQUAL(ids[0], 0);
	CU_ASSERT_EQUAL(nfds, 1);
	CU_ASSERT_EQUAL(varlink_stream_queued(a), 0);
	CU_ASSERT_EQUAL(varlink_stream_queued_bytes(a), 0);
	/* A new message after the drop still goes out whole (the tail pointer is right). */
	m = reply_i(1, 0);
	CU_ASSERT_EQUAL(varlink_stream_send(a, m, NULL, 0), 1);
	json_object_put(m);
	drain(a, b, 1, ids, &nfds, mf);
	CU_ASSERT_EQUAL(ids[0], 1);
	/* Then EOF at the boundary: nothing buffered. */
	varlink_stream_free(a);
	CU_ASSERT_EQUAL(varlink_stream_fill(b), 0);
	CU_ASSERT_EQUAL(varlink_stream_input_buffered(b), 0);
	varlink_stream_free(b);
	for (size_t i = 0; i < ELEMENTSOF(mf); i++)
		safe_close(mf[i]);
	CU_ASSERT_EQUAL(count_fds(), base);
}

/* varlink_stream_take_fd(): the stream neither uses nor closes the socket afterwards. */
static void test_take_fd(void) {
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	int fd = varlink_stream_fd(a);
	CU_ASSERT_EQUAL(varlink_stream_take_fd(a), fd);
	varlink_stream_free(a);
	CU_ASSERT_TRUE(fcntl(fd, F_GETFD) >= 0); /* still open: ours now */
	safe_close(fd);
	varlink_stream_free(b);
}

/* The daemon's streams refuse fds: they are closed and the read fails. */
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

/* Strict parsing on the stream: duplicate keys, trailing commas, invalid UTF-8 and the other
 * RFC 8259 violations fail with -EBADMSG, the message is consumed, and the stream goes on
 * with the next one; the valid neighbour of each case is accepted. */
static void test_strict_json(void) {
	static const struct {
		const char *text;
		int err;
		const char *str; /* for valid cases: the string value of "a", when set */
	} cases[] = {
		{ "{\"a\":1,\"a\":2}", EBADMSG, NULL },                 /* duplicate key */
		{ "{\"a\":{\"b\":1,\"c\":2,\"b\":1}}", EBADMSG, NULL }, /* ... nested */
		{ "{\"a\":1,\"A\":2}", 0, NULL },                       /* distinct keys */
		{ "{\"a\":1,}", EBADMSG, NULL },                        /* trailing comma */
		{ "{\"a\":[1,2,]}", EBADMSG, NULL },
		{ "{\"a\":[1,2]}", 0, NULL },
		{ "{\"a\":\"\xff\"}", EBADMSG, NULL },         /* invalid UTF-8 */
		{ "{\"a\":\"\xc3\"}", EBADMSG, NULL },         /* truncated sequence */
		{ "{\"a\":\"\xc0\xaf\"}", EBADMSG, NULL },     /* overlong */
		{ "{\"a\":\"\xed\xa0\x80\"}", EBADMSG, NULL }, /* encoded surrogate */
		{ "{\"\xfe\":1}", EBADMSG, NULL },             /* ... in a key */
		{ "{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", 0,
		  "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" }, /* valid multi-byte */
		{ "{\"a\":\"\\ud800\"}", EBADMSG, NULL },   /* lone surrogate */
		{ "{\"a\":\"\\u00e9\\ud83d\\ude00\"}", 0, "\xc3\xa9\xf0\x9f\x98\x80" },
		{ "{\"a\":\"\\u0000\"}", EBADMSG, NULL },
		{ "{\"a\":\"x\ty\"}", EBADMSG, NULL }, /* raw control character */
		{ "{\"a\":\"x\\ty\"}", 0, "x\ty" },
		{ "{\"a\":'x'}", EBADMSG, NULL }, /* single quotes */
		{ "{'a':1}", EBADMSG, NULL },
		{ "{\"a\":1} x", EBADMSG, NULL },      /* trailing garbage */
		{ "{\"a\":/* c */1}", EBADMSG, NULL }, /* comment */
	};
	VarlinkStream *a = NULL, *b = NULL;
	pair(IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a, &b);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		size_t len = strlen(cases[i].text) + 1;
		CU_ASSERT_EQUAL_FATAL(write(varlink_stream_fd(a), cases[i].text, len),
				      (ssize_t)len);
		Doc *m = NULL;
		int r = read_one(b, &m, NULL, NULL);
		if (cases[i].err) {
			if (r != -cases[i].err)
				fprintf(stderr, "strict case %zu: %d\n", i, r);
			ASSERT_ERR(r, cases[i].err);
			CU_ASSERT_PTR_NULL(m);
		} else {
			if (r < 0)
				fprintf(stderr, "strict case %zu: %d\n", i, r);
			ASSERT_OK(r);
			CU_ASSERT_TRUE(doc_get(doc_root(m), "a") != NULL);
			if (cases[i].str)
				ASSERT_STREQ(doc_str(doc_get(doc_root(m), "a")), cases[i].str);
			doc_free(m);
		}
		/* Consumed whole, good or bad. */
		CU_ASSERT_EQUAL(varlink_stream_input_buffered(b), 0);
	}
	/* After all that the stream still reads a plain message. */
	const char ok[] = "{\"b\":2}";
	CU_ASSERT_EQUAL_FATAL(write(varlink_stream_fd(a), ok, sizeof(ok)), (ssize_t)sizeof(ok));
	Doc *m = NULL;
	ASSERT_OK(read_one(b, &m, NULL, NULL));
	CU_ASSERT_EQUAL(get_int(doc_root(m), "b"), 2);
	doc_free(m);
	varlink_stream_free(a);
	varlink_stream_free(b);
}

/* A message of exactly `levels` nested containers: the root object, then levels - 1 arrays
 * (objects when `objects`), innermost holding 1. NUL-terminated; the caller frees it. */
static char *nested(size_t levels, bool objects) {
	size_t cap = 16 + levels * 8;
	char *t = malloc(cap);
	CU_ASSERT_FATAL(t != NULL);
	size_t k = 0;
	t[k++] = '{';
	for (size_t i = 1; i < levels; i++) {
		if (i == 1 || objects) { /* a member of an object; array elements have no key */
			memcpy(t + k, "\"a\":", 4);
			k += 4;
		}
		t[k++] = objects ? '{' : '[';
	}
	memcpy(t + k, objects || levels == 1 ? "\"a\":1" : "1", objects || levels == 1 ? 5 : 1);
	k += objects || levels == 1 ? 5 : 1;
	for (size_t i = 1; i < levels; i++)
		t[k++] = objects ? '}' : ']';
	t[k++] = '}';
	t[k] = '\0';
	CU_ASSERT_FATAL(k < cap);
	return t;
}

/* How many containers deep n goes (through the first member/element). */
static size_t depth_of(const DocNode *n) {
	size_t d = 0;
	while (doc_type(n) == DOC_OBJECT || doc_type(n) == DOC_ARRAY) {
		d++;
		n = n->c.n > 0 ? n->c.items[0] : NULL;
	}
	return d;
}

static int send_and_read(VarlinkStream *a, VarlinkStream *b, const char *text, Doc **ret) {
	size_t len = strlen(text) + 1;
	CU_ASSERT_EQUAL_FATAL(write(varlink_stream_fd(a), text, len), (ssize_t)len);
	return read_one(b, ret, NULL, NULL);
}

/* The stream's depth limit: exactly max_depth containers are accepted, one more is -ELOOP
 * (consumed; the stream reads on), for arrays and objects, and far deeper fails the same. */
static void test_depth_limit(void) {
	static const int limits[] = { 1, 2, 3, IOASID_MAX_JSON_DEPTH, 32 };
	for (size_t i = 0; i < ELEMENTSOF(limits); i++) {
		size_t limit = (size_t)limits[i];
		VarlinkStream *a = NULL, *b = NULL;
		pair(IOASID_MAX_MESSAGE, limits[i], 0, &a, &b);
		for (int objects = 0; objects <= 1; objects++) {
			char *at = nested(limit, objects), *over = nested(limit + 1, objects);
			Doc *m = NULL;
			int r = send_and_read(a, b, at, &m);
			if (r < 0)
				fprintf(stderr, "depth %zu: '%s': %d\n", limit, at, r);
			ASSERT_OK(r);
			CU_ASSERT_EQUAL(depth_of(doc_root(m)), limit);
			doc_free(m);

			m = NULL;
			r = send_and_read(a, b, over, &m);
			if (r != -ELOOP)
				fprintf(stderr, "depth %zu: '%s': %d\n", limit, over, r);
			ASSERT_ERR(r, ELOOP);
			CU_ASSERT_PTR_NULL(m);
			CU_ASSERT_EQUAL(varlink_stream_input_buffered(b), 0);

			/* The limit holds again for the next message. */
			ASSERT_OK(send_and_read(a, b, at, &m));
			CU_ASSERT_EQUAL(depth_of(doc_root(m)), limit);
			doc_free(m);
			free(at);
			free(over);
		}
		char *deep = nested(2000, false);
		Doc *m = NULL;
		ASSERT_ERR(send_and_read(a, b, deep, &m), ELOOP);
		free(deep);
		varlink_stream_free(a);
		varlink_stream_free(b);
	}
}

/* Reads from the raw socket fd until want_msgs NUL-terminated messages arrived; collects the
 * bytes into buf and the fds (O_CLOEXEC) into fds. Returns the byte count. */
static size_t recv_raw(int fd, size_t want_msgs, char *buf, size_t cap, int *fds, size_t fds_cap,
		       size_t *ret_n_fds) {
	size_t len = 0, nuls = 0, n_fds = 0;
	while (nuls < want_msgs) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		CU_ASSERT_EQUAL_FATAL(poll(&pfd, 1, 2000), 1);
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * 16)];
		} control;
		struct iovec iov = { .iov_base = buf + len, .iov_len = cap - len };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = &control,
			.msg_controllen = sizeof(control),
		};
		CU_ASSERT_FATAL(cap > len);
		ssize_t k = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		CU_ASSERT_FATAL(k > 0);
		CU_ASSERT_FALSE(mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC));
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			CU_ASSERT_FATAL(n_fds + n <= fds_cap);
			memcpy(fds + n_fds, CMSG_DATA(c), n * sizeof(int));
			n_fds += n;
		}
		for (ssize_t j = 0; j < k; j++)
			if (buf[len + (size_t)j] == '\0')
				nuls++;
		len += (size_t)k;
	}
	*ret_n_fds = n_fds;
	return len;
}

/* The same message as a json-c tree and as a document: all types, escapes, extremes. */
static json_object *sample_json(void) {
	json_object *p = json_object_new_object();
	json_object_object_add(p, "iommuFd", json_object_new_int(0));
	json_object_object_add(p, "lease", json_object_new_string("l-1/2"));
	json_object *devs = json_object_new_array();
	json_object_array_add(devs, json_object_new_string("0000:01:00.0"));
	json_object_array_add(devs, json_object_new_string("q\"b\\s/t\tn\nc\x01 \xc3\xa9\x7f"));
	json_object_array_add(devs, json_object_new_string(""));
	json_object_object_add(p, "devices", devs);
	json_object_object_add(p, "min", json_object_new_int64(INT64_MIN));
	json_object_object_add(p, "max", json_object_new_int64(INT64_MAX));
	json_object_object_add(p, "neg", json_object_new_int(-42));
	json_object_object_add(p, "yes", json_object_new_boolean(1));
	json_object_object_add(p, "no", json_object_new_boolean(0));
	json_object_object_add(p, "nil", NULL);
	json_object_object_add(p, "emptyObject", json_object_new_object());
	json_object_object_add(p, "emptyArray", json_object_new_array());
	json_object_object_add(p, "half", json_object_new_double(1.5));
	json_object *m = json_object_new_object();
	json_object_object_add(m, "parameters", p);
	json_object_object_add(m, "continues", json_object_new_boolean(1));
	return m;
}

static void check_same_wire(const char *what, const char *jb, size_t jl, const char *db,
			    size_t dl) {
	bool same = jl == dl && memcmp(jb, db, jl) == 0;
	if (!same) {
		fprintf(stderr, "%s: json-c %zu bytes, doc %zu bytes\n", what, jl, dl);
		for (int side = 0; side < 2; side++) {
			const char *t = side == 0 ? jb : db;
			size_t l = side == 0 ? jl : dl;
			fputs(side == 0 ? " json-c: '" : " doc:    '", stderr);
			for (size_t i = 0; i < l; i++)
				fputs(t[i] ? (char[]){ t[i], '\0' } : "\\0", stderr);
			fputs("'\n", stderr);
		}
	}
	CU_ASSERT_TRUE(same);
}

/* Checks that the fds received are, in order, the files of want[], and closes them. */
static void check_fds_received(int *got, size_t n_got, const int *want, size_t n_want) {
	CU_ASSERT_EQUAL(n_got, n_want);
	for (size_t i = 0; i < n_got; i++) {
		CU_ASSERT_TRUE(i < n_want && same_file(got[i], want[i]));
		CU_ASSERT_TRUE(fcntl(got[i], F_GETFD) & FD_CLOEXEC);
		safe_close(got[i]);
	}
}

/* varlink_stream_send() puts on the wire exactly json-c's text of the message, NUL-framed,
 * with the caller's fds; also when it goes out behind queued data (the queued path copies
 * the text and duplicates the fds). */
static void test_send_same_bytes(void) {
	size_t base = count_fds();
	int sv[2];
	ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
	VarlinkStream *a = NULL;
	ASSERT_OK(varlink_stream_new(sv[0], IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &a));
	int peer = sv[1];
	int mf[3] = { memfd("sd0"), memfd("sd1"), memfd("sd2") };
	size_t with_ours = count_fds();

	json_object *jm = sample_json();
	json_object *jep = json_object_new_object();
	json_object_object_add(jep, "device", json_object_new_string("0000:01:00.0"));
	json_object *jerr = NULL;
	ASSERT_OK(varlink_build_error("io.ioasid.Broker.NoSuchDevice", jep, &jerr));
	json_object *jempty = NULL;
	ASSERT_OK(varlink_build_reply(NULL, false, &jempty));

	const struct {
		const char *what;
		json_object *j;
		size_t n_fds;
	} cases[] = {
		{ "sample", jm, 0 },        { "sample+1fd", jm, 1 },   { "sample+3fds", jm, 3 },
		{ "error", jerr, 0 },       { "error+2fds", jerr, 2 }, { "empty", jempty, 0 },
		{ "empty+1fd", jempty, 1 },
	};
	static char jb[8192], qb[8192];
	int got[16];
	size_t n_got = 0;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const int *fds = cases[i].n_fds ? mf : NULL;
		CU_ASSERT_EQUAL(varlink_stream_send(a, cases[i].j, fds, cases[i].n_fds), 1);
		CU_ASSERT_EQUAL(varlink_stream_queued(a), 0);
		size_t jl = recv_raw(peer, 1, jb, sizeof(jb), got, ELEMENTSOF(got), &n_got);
		check_fds_received(got, n_got, mf, cases[i].n_fds);
		const char *want = json_object_to_json_string_ext(
			cases[i].j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		check_same_wire(cases[i].what, want, strlen(want) + 1, jb, jl);
		CU_ASSERT_EQUAL(count_fds(), with_ours); /* the caller's fds, no duplicate left */
	}

	/* Behind queued data: a queued message first, then the fd-bearing one. */
	json_object *filler = NULL;
	ASSERT_OK(varlink_build_reply(NULL, true, &filler));
	ASSERT_OK(varlink_stream_enqueue(a, filler, NULL, 0));
	int r = varlink_stream_send(a, jm, mf, 2);
	CU_ASSERT_FATAL(r >= 0);
	while (r == 0) {
		r = varlink_stream_flush(a);
		CU_ASSERT_FATAL(r >= 0);
	}
	size_t ql = recv_raw(peer, 2, qb, sizeof(qb), got, ELEMENTSOF(got), &n_got);
	check_fds_received(got, n_got, mf, 2);
	CU_ASSERT_EQUAL(count_fds(), with_ours);
	char want[8192];
	size_t wl = 0;
	json_object *both[] = { filler, jm };
	for (size_t i = 0; i < ELEMENTSOF(both); i++) {
		const char *t = json_object_to_json_string_ext(
			both[i], JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		CU_ASSERT_FATAL(wl + strlen(t) + 1 <= sizeof(want));
		memcpy(want + wl, t, strlen(t) + 1);
		wl += strlen(t) + 1;
	}
	check_same_wire("queued", want, wl, qb, ql);
	json_object_put(filler);

	json_object_put(jm);
	json_object_put(jerr);
	json_object_put(jempty);
	varlink_stream_free(a);
	safe_close(peer);
	for (size_t i = 0; i < ELEMENTSOF(mf); i++)
		safe_close(mf[i]);
	CU_ASSERT_EQUAL(count_fds(), base);
}

/* Reads from the raw blocking socket fd until want NUL-terminated messages have arrived;
 * returns their bytes (malloc'd) and the length. */
static char *read_calls(int fd, size_t want, size_t *ret_len) {
	size_t cap = 4096, len = 0, nuls = 0;
	char *buf = malloc(cap);
	CU_ASSERT_FATAL(buf != NULL);
	while (nuls < want) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		CU_ASSERT_EQUAL_FATAL(poll(&pfd, 1, 2000), 1);
		CU_ASSERT_FATAL(len < cap);
		ssize_t k = read(fd, buf + len, cap - len);
		CU_ASSERT_FATAL(k > 0);
		for (ssize_t j = 0; j < k; j++)
			if (buf[len + (size_t)j] == '\0')
				nuls++;
		len += (size_t)k;
	}
	*ret_len = len;
	return buf;
}

/* The text varlink_stream_call() would send for this call, NUL included, appended at *pos
 * of buf. Takes parameters. */
static void append_call_text(char *buf, size_t cap, size_t *pos, const char *method,
			     json_object *parameters, unsigned flags) {
	json_object *call = NULL;
	ASSERT_OK(varlink_build_call(method, parameters, flags, &call));
	const char *t = json_object_to_json_string_ext(
		call, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(t) + 1;
	CU_ASSERT_FATAL(*pos + n <= cap);
	memcpy(buf + *pos, t, n);
	*pos += n;
	json_object_put(call);
}

/* varlink_stream_call() against a scripted peer: replies, errors, fds, a "more" call, the
 * bytes the peer gets (json-c's text of the call, NUL-framed), timeout and EOF. */
static void test_blocking_call(void) {
	size_t base = count_fds();
	int sv[2];
	ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	VarlinkStream *c = NULL;
	ASSERT_OK(varlink_stream_new(sv[0], IOASID_MAX_MESSAGE, IOASID_MAX_JSON_DEPTH, 0, &c));
	/* The peer's answers are written before the calls: each call still reads exactly one. */
	int mf = memfd("reply-doc");
	const char reply[] = "{\"parameters\":{\"iommuFd\":0,\"lease\":\"L1\"}}";
	raw_send_fds(sv[1], reply, sizeof(reply), &mf, 1);
	const char err[] =
		"{\"error\":\"io.ioasid.Broker.NoSuchLease\",\"parameters\":{\"lease\":\"x\"}}";
	CU_ASSERT_EQUAL_FATAL(write(sv[1], err, sizeof(err)), (ssize_t)sizeof(err));
	const char more[] = "{\"continues\":true}\0{\"parameters\":{\"i\":2}}";
	CU_ASSERT_EQUAL_FATAL(write(sv[1], more, sizeof(more)), (ssize_t)sizeof(more));

	json_object *params = json_object_new_object(), *devs = json_object_new_array();
	CU_ASSERT_FATAL(params && devs);
	json_object_array_add(devs, json_object_new_string("0000:01:00.0"));
	json_object_object_add(params, "devices", devs);
	json_object_object_add(params, "exclusive", json_object_new_boolean(1));

	char *ename = NULL;
	Doc *rd = NULL;
	const DocNode *p = NULL;
	int *fds = NULL;
	size_t n = 0;
	ASSERT_OK(varlink_stream_call(c, "io.ioasid.Broker.Acquire", params, 0, 2000, &ename, &rd,
				      &p, &fds, &n));
	CU_ASSERT_PTR_NULL(ename);
	CU_ASSERT_FATAL(rd != NULL && p != NULL);
	CU_ASSERT_PTR_EQUAL(p, doc_get(doc_root(rd), "parameters")); /* borrowed from the reply */
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_TRUE(same_file(fds[0], mf));
	CU_ASSERT_EQUAL(get_int(p, "iommuFd"), 0);
	ASSERT_STREQ(doc_str(doc_get(p, "lease")), "L1");
	doc_free(rd);
	varlink_fds_free(fds, n);
	safe_close(mf);

	rd = NULL;
	p = NULL;
	ASSERT_OK(varlink_stream_call(c, "io.ioasid.Broker.Release", NULL, 0, 2000, &ename, &rd, &p,
				      &fds, &n));
	ASSERT_STREQ(ename, "io.ioasid.Broker.NoSuchLease");
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_FATAL(rd != NULL && p != NULL);
	ASSERT_STREQ(doc_str(doc_get(p, "lease")), "x");
	free(ename);
	doc_free(rd);

	/* A "more" call: the first reply, without parameters, comes back with an empty
	 * object; the next one is read separately. */
	rd = NULL;
	p = NULL;
	ename = (char *)"unset";
	ASSERT_OK(varlink_stream_call(c, "io.ioasid.Broker.ListDevices", NULL, VARLINK_CALL_MORE,
				      2000, &ename, &rd, &p, NULL, NULL));
	CU_ASSERT_PTR_NULL(ename);
	CU_ASSERT_FATAL(rd != NULL && p != NULL);
	CU_ASSERT_EQUAL(doc_type(p), DOC_OBJECT);
	CU_ASSERT_EQUAL(p->c.n, 0);
	bool continues = false;
	ASSERT_OK(varlink_parse_reply(doc_root(rd), NULL, NULL, &continues));
	CU_ASSERT_TRUE(continues);
	doc_free(rd);
	rd = NULL;
	ASSERT_OK(varlink_stream_read_message(c, 2000, &rd, NULL, NULL));
	ASSERT_OK(varlink_parse_reply(doc_root(rd), NULL, &p, &continues));
	CU_ASSERT_FALSE(continues);
	CU_ASSERT_EQUAL(get_int(p, "i"), 2);
	doc_free(rd);

	/* The three calls reached the peer framed, byte for byte json-c's text of each call. */
	char want[1024];
	size_t wl = 0;
	json_object *jp = json_object_new_object(), *jdevs = json_object_new_array();
	json_object_array_add(jdevs, json_object_new_string("0000:01:00.0"));
	json_object_object_add(jp, "devices", jdevs);
	json_object_object_add(jp, "exclusive", json_object_new_boolean(1));
	append_call_text(want, sizeof(want), &wl, "io.ioasid.Broker.Acquire", jp, 0);
	append_call_text(want, sizeof(want), &wl, "io.ioasid.Broker.Release", NULL, 0);
	append_call_text(want, sizeof(want), &wl, "io.ioasid.Broker.ListDevices", NULL,
			 VARLINK_CALL_MORE);
	size_t k = 0;
	char *buf = read_calls(sv[1], 3, &k);
	check_same_wire("calls", want, wl, buf, k);
	free(buf);

	/* No answer: timeout, outputs untouched. Then EOF: ECONNRESET. */
	rd = NULL;
	p = NULL;
	ASSERT_ERR(varlink_stream_call(c, "x.Y", NULL, 0, 50, NULL, &rd, &p, NULL, NULL),
		   ETIMEDOUT);
	CU_ASSERT_PTR_NULL(rd);
	CU_ASSERT_PTR_NULL(p);
	safe_close(sv[1]);
	int r = varlink_stream_call(c, "x.Y", NULL, 0, 2000, NULL, &rd, &p, NULL, NULL);
	CU_ASSERT_TRUE(r == -ECONNRESET || r == -EPIPE);
	CU_ASSERT_PTR_NULL(rd);
	varlink_stream_free(c);
	CU_ASSERT_EQUAL(count_fds(), base);
}

static CU_TestInfo tests[] = {
	{ "framing", test_framing },
	{ "fds_per_message_limit", test_fds_per_message_limit },
	{ "output_below", test_output_below },
	{ "parse_call_rejects", test_parse_call_rejects },
	{ "split_reads", test_split_reads },
	{ "pipelining", test_pipelining },
	{ "oversize", test_oversize },
	{ "fill_growth", test_fill_growth },
	{ "fill_reset", test_fill_reset },
	{ "bad_json_and_depth", test_bad_json },
	{ "tokener_reuse", test_tokener_reuse },
	{ "send", test_send },
	{ "drop_unstarted", test_drop_unstarted },
	{ "take_fd", test_take_fd },
	{ "fd_passing", test_fd_passing },
	{ "eagain_resume", test_eagain_resume },
	{ "refuse_fds", test_refuse_fds },
	{ "ctrunc", test_ctrunc },
	{ "received_fd_closer", test_received_fd_closer },
	{ "fds_mid_message", test_fds_mid_message },
	{ "epipe", test_epipe },
	{ "strict_json", test_strict_json },
	{ "depth_limit", test_depth_limit },
	{ "send_same_bytes", test_send_same_bytes },
	{ "blocking_call", test_blocking_call },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("varlink", tests);
