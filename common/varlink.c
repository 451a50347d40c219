/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "common/macro.h"
#include "common/varlink.h"

static inline void varlink_json_putp(json_object **o) {
	if (*o)
		json_object_put(*o);
}
#define _cleanup_json_put_ _cleanup_(varlink_json_putp)

/* fds received by one read, attached to the message starting at byte `offset` of the input
 * buffer (offsets shift down as messages are consumed). */
typedef struct FdBatch {
	size_t offset;
	int *fds;
	size_t n_fds;
} FdBatch;

typedef struct OutMessage {
	char *data;
	size_t size, sent;
	int *fds; /* NULL once sent */
	size_t n_fds;
	struct OutMessage *next;
} OutMessage;

struct VarlinkStream {
	int fd;
	unsigned flags;
	size_t max_message;
	int max_depth;
	size_t max_fds;
	size_t max_output;
	size_t out_bytes;

	char *in;
	size_t in_size, in_alloc;
	size_t scanned; /* bytes of in[] already known to hold no NUL */
	FdBatch *batches;
	size_t n_batches;

	OutMessage *out_head, *out_tail;
	size_t n_out;
};

/* How received fds that nobody takes are closed (see varlink_set_received_fd_closer()). */
static void (*received_closer)(int fd) = NULL;

void varlink_set_received_fd_closer(void (*closer)(int fd)) {
	received_closer = closer;
}

static void close_received(int fd) {
	if (fd < 0)
		return;
	if (received_closer)
		received_closer(fd);
	else
		safe_close(fd);
}

static void drop_received(int *fds, size_t n) {
	if (!fds)
		return;
	for (size_t i = 0; i < n; i++)
		close_received(fds[i]);
	free(fds);
}

void varlink_fds_free(int *fds, size_t n) {
	if (!fds)
		return;
	for (size_t i = 0; i < n; i++)
		safe_close(fds[i]);
	free(fds);
}

static OutMessage *out_message_free(OutMessage *m) {
	if (!m)
		return NULL;
	varlink_fds_free(m->fds, m->n_fds);
	free(m->data);
	free(m);
	return NULL;
}

int varlink_stream_new(int fd, size_t max_message, int max_depth, unsigned flags,
		       VarlinkStream **ret) {
	if (fd < 0 || max_message < 2 || max_depth < 1 || !ret)
		return -EINVAL;
	VarlinkStream *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->flags = flags;
	s->max_message = max_message;
	s->max_depth = max_depth;
	s->max_fds = VARLINK_MAX_FDS_PER_READ;
	s->max_output = max_message;
	*ret = s;
	return 0;
}

VarlinkStream *varlink_stream_free(VarlinkStream *s) {
	if (!s)
		return NULL;
	safe_close(s->fd);
	free(s->in);
	for (size_t i = 0; i < s->n_batches; i++)
		drop_received(s->batches[i].fds, s->batches[i].n_fds);
	free(s->batches);
	while (s->out_head) {
		OutMessage *m = s->out_head;
		s->out_head = m->next;
		out_message_free(m);
	}
	free(s);
	return NULL;
}

int varlink_stream_set_max_fds(VarlinkStream *s, size_t n) {
	if (n < 1 || n > VARLINK_MAX_FDS_PER_READ)
		return -EINVAL;
	s->max_fds = n;
	return 0;
}

int varlink_stream_set_max_output(VarlinkStream *s, size_t n) {
	if (n < 2)
		return -EINVAL;
	s->max_output = n;
	return 0;
}

size_t varlink_stream_queued_bytes(const VarlinkStream *s) {
	return s->out_bytes;
}

bool varlink_stream_output_below(const VarlinkStream *s, size_t max_fd_messages,
				 size_t max_messages, size_t max_bytes) {
	return varlink_stream_queued_fd_messages(s) < max_fd_messages &&
	       varlink_stream_queued(s) < max_messages && s->out_bytes < max_bytes;
}

int varlink_stream_fd(const VarlinkStream *s) {
	return s->fd;
}

int varlink_stream_take_fd(VarlinkStream *s) {
	int fd = s->fd;
	s->fd = -EBADF;
	return fd;
}

static const char *find_nul(const VarlinkStream *s, size_t from) {
	if (from >= s->in_size)
		return NULL;
	return memchr(s->in + from, 0, s->in_size - from);
}

bool varlink_stream_has_message(const VarlinkStream *s) {
	return find_nul(s, 0) != NULL;
}

size_t varlink_stream_input_buffered(const VarlinkStream *s) {
	return s->in_size;
}

static void close_cmsg_fds(struct msghdr *mh) {
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < n; i++)
			close_received(fds[i]);
	}
}

int varlink_stream_fill(VarlinkStream *s) {
	assert(s);
	if (varlink_stream_has_message(s))
		return -ENOBUFS;
	if (s->in_size >= s->max_message)
		return -EMSGSIZE;

	/* Grow the buffer in steps, never beyond max_message: the limit holds on raw bytes. */
	if (s->in_alloc - s->in_size < 4096 && s->in_alloc < s->max_message) {
		size_t n = MIN(MAX(s->in_alloc * 2, (size_t)16384), s->max_message);
		char *p = realloc(s->in, n);
		if (!p)
			return -ENOMEM;
		s->in = p;
		s->in_alloc = n;
	}

	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * VARLINK_MAX_FDS_PER_READ)];
	} control;
	memset(&control, 0, sizeof(control));
	struct iovec iov = { .iov_base = s->in + s->in_size, .iov_len = s->in_alloc - s->in_size };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &control,
		.msg_controllen = CMSG_SPACE(sizeof(int) * s->max_fds),
	};
	ssize_t n = recvmsg(s->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : negative_errno();

	if (mh.msg_flags & MSG_CTRUNC) {
		close_cmsg_fds(&mh);
		return -EPROTO;
	}

	/* Collect the fds of this read into one array. */
	_cleanup_free_ int *fds = NULL;
	size_t n_fds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *p = realloc(fds, (n_fds + k) * sizeof(int));
		if (!p) {
			drop_received(TAKE_PTR(fds), n_fds);
			close_cmsg_fds(&mh);
			return -ENOMEM;
		}
		fds = p;
		memcpy(fds + n_fds, CMSG_DATA(c), k * sizeof(int));
		n_fds += k;
	}

	size_t old = s->in_size;
	s->in_size += (size_t)n;

	if (n_fds > 0) {
		if (s->flags & VARLINK_STREAM_REFUSE_FDS) {
			drop_received(TAKE_PTR(fds), n_fds);
			return -EPROTO;
		}
		/* The last message start inside [old, in_size). */
		size_t start = SIZE_MAX;
		for (size_t p = old; p < s->in_size; p++)
			if (p == 0 || s->in[p - 1] == '\0')
				start = p;
		if (start == SIZE_MAX || n == 0) {
			drop_received(TAKE_PTR(fds), n_fds);
			return -EPROTO;
		}
		FdBatch *b = realloc(s->batches, (s->n_batches + 1) * sizeof(FdBatch));
		if (!b) {
			drop_received(TAKE_PTR(fds), n_fds);
			return -ENOMEM;
		}
		s->batches = b;
		s->batches[s->n_batches++] =
			(FdBatch){ .offset = start, .fds = TAKE_PTR(fds), .n_fds = n_fds };
	}

	if (n == 0)
		return 0;

	/* Enforce the size limit before anything is parsed: a message is complete only with its
	 * NUL inside the first max_message bytes. */
	if (!find_nul(s, old) && s->in_size >= s->max_message)
		return -EMSGSIZE;
	return (int)MIN(n, (ssize_t)INT32_MAX);
}

/* Removes the first `len` bytes of input; returns the fds of the message at offset 0. */
static void consume(VarlinkStream *s, size_t len, int **ret_fds, size_t *ret_n_fds) {
	int *fds = NULL;
	size_t n_fds = 0;
	size_t j = 0;
	for (size_t i = 0; i < s->n_batches; i++) {
		FdBatch *b = &s->batches[i];
		if (b->offset < len) {
			/* Only offset 0 can be a message start below len; anything else cannot
			 * happen by construction, but never leak it. */
			if (b->offset == 0 && !fds) {
				fds = b->fds;
				n_fds = b->n_fds;
			} else
				drop_received(b->fds, b->n_fds);
			continue;
		}
		b->offset -= len;
		s->batches[j++] = *b;
	}
	s->n_batches = j;
	memmove(s->in, s->in + len, s->in_size - len);
	s->in_size -= len;

	if (ret_fds) {
		*ret_fds = fds;
		*ret_n_fds = n_fds;
	} else
		drop_received(fds, n_fds);
}

int varlink_stream_next(VarlinkStream *s, Doc **ret_message, int **ret_fds, size_t *ret_n_fds) {
	assert(s);
	assert(ret_message);
	const char *nul = find_nul(s, 0);
	if (!nul)
		return 0;
	size_t len = (size_t)(nul - s->in) + 1;

	int *fds = NULL;
	size_t n_fds = 0;
	/* Parse before consuming: the parser reads in[] in place; len - 1 bytes, because the
	 * NUL is the frame, not part of the JSON text. Each message gets its own arena, which
	 * the caller frees with the message. */
	int r;
	DocNode *root = NULL;
	Doc *d = doc_new();
	if (!d)
		r = -ENOMEM;
	else {
		r = doc_parse(d, s->in, len - 1, s->max_depth, &root);
		if (r == 0 && doc_type(root) != DOC_OBJECT)
			r = -EBADMSG;
	}
	consume(s, len, r < 0 ? NULL : &fds, &n_fds);
	if (r < 0) {
		doc_free(d);
		return r;
	}
	*ret_message = d;
	if (ret_fds) {
		*ret_fds = fds;
		*ret_n_fds = n_fds;
	} else
		drop_received(fds, n_fds);
	return 1;
}

/* The bytes that go on the wire: the printer's text and its NUL, the frame. */
static int frame_check(VarlinkStream *s, size_t len, const int *fds, size_t n_fds) {
	if (n_fds > VARLINK_MAX_FDS_PER_READ || (n_fds > 0 && !fds))
		return -EINVAL;
	if (len + 1 > s->max_output)
		return -E2BIG;
	return 0;
}

#define VARLINK_PRINT_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Serializes message, printed by json-c, into a malloc'd, NUL-terminated text; *ret_size
 * counts the NUL. */
static int serialize(VarlinkStream *s, json_object *message, const int *fds, size_t n_fds,
		     char **ret_text, size_t *ret_size) {
	size_t len = 0;
	const char *printed = json_object_to_json_string_length(message, VARLINK_PRINT_FLAGS, &len);
	if (!printed)
		return -ENOMEM;
	int r = frame_check(s, len, fds, n_fds);
	if (r < 0)
		return r;
	char *text = malloc(len + 1);
	if (!text)
		return -ENOMEM;
	memcpy(text, printed, len + 1);
	*ret_text = text;
	*ret_size = len + 1;
	return 0;
}

/* Queues text[sent..size) (taking text) with duplicates of fds (sent is then 0). On failure
 * text is freed and the queue is unchanged. */
static int queue_text(VarlinkStream *s, char *text, size_t size, size_t sent, const int *fds,
		      size_t n_fds) {
	assert(sent == 0 || n_fds == 0);
	OutMessage *m = calloc(1, sizeof(*m));
	if (!m) {
		free(text);
		return -ENOMEM;
	}
	m->data = text;
	m->size = size;
	m->sent = sent;
	if (n_fds > 0) {
		m->fds = malloc(n_fds * sizeof(int));
		if (!m->fds)
			return out_message_free(m), -ENOMEM;
		for (size_t i = 0; i < n_fds; i++) {
			int d = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
			if (d < 0) {
				int r = negative_errno();
				m->n_fds = i;
				out_message_free(m);
				return r;
			}
			m->fds[i] = d;
			m->n_fds = i + 1;
		}
	}
	if (s->out_tail)
		s->out_tail->next = m;
	else
		s->out_head = m;
	s->out_tail = m;
	s->n_out++;
	s->out_bytes += m->size - m->sent;
	return 0;
}

int varlink_stream_enqueue(VarlinkStream *s, json_object *message, const int *fds, size_t n_fds) {
	assert(s);
	assert(message);
	char *text;
	size_t size;
	int r = serialize(s, message, fds, n_fds, &text, &size);
	if (r < 0)
		return r;
	return queue_text(s, text, size, 0, fds, n_fds);
}

/* One sendmsg() of data with fds attached (none when n_fds is 0). */
static ssize_t send_with_fds(int fd, const char *data, size_t size, const int *fds, size_t n_fds) {
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * VARLINK_MAX_FDS_PER_READ)];
	} control;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (n_fds > 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = &control;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	}
	ssize_t n;
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n < 0 ? negative_errno() : n;
}

/* Sends text (taken) now with the caller's fds, or queues what the socket does not take. */
static int send_text(VarlinkStream *s, char *text, size_t size, const int *fds, size_t n_fds) {
	if (s->out_head) {
		/* Behind queued data: keep the order. */
		int r = queue_text(s, text, size, 0, fds, n_fds);
		return r < 0 ? r : varlink_stream_flush(s);
	}
	/* With the caller's fds: no duplicates unless the socket is full. */
	ssize_t n = send_with_fds(s->fd, text, size, fds, n_fds);
	int r;
	if (n == (ssize_t)size) {
		free(text);
		return 1;
	}
	if (n >= 0) /* partial: the fds went with the first byte, the rest waits */
		r = queue_text(s, text, size, (size_t)n, NULL, 0);
	else if (n == -EAGAIN || n == -EWOULDBLOCK)
		r = queue_text(s, text, size, 0, fds, n_fds);
	else {
		free(text);
		return (int)n;
	}
	return r < 0 ? r : 0;
}

int varlink_stream_send(VarlinkStream *s, json_object *message, const int *fds, size_t n_fds) {
	assert(s);
	assert(message);
	char *text;
	size_t size;
	int r = serialize(s, message, fds, n_fds, &text, &size);
	return r < 0 ? r : send_text(s, text, size, fds, n_fds);
}

int varlink_stream_flush(VarlinkStream *s) {
	assert(s);
	while (s->out_head) {
		OutMessage *m = s->out_head;
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * VARLINK_MAX_FDS_PER_READ)];
		} control;
		struct iovec iov = { .iov_base = m->data + m->sent, .iov_len = m->size - m->sent };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		if (m->fds && m->n_fds > 0) {
			/* Fds go with the first byte; never sent twice because m->fds is dropped
			 * as soon as a sendmsg() carrying them succeeded. */
			assert(m->sent == 0);
			memset(&control, 0, sizeof(control));
			mh.msg_control = &control;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->n_fds);
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * m->n_fds);
			memcpy(CMSG_DATA(c), m->fds, sizeof(int) * m->n_fds);
		}
		ssize_t n = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (m->fds) {
			varlink_fds_free(m->fds, m->n_fds);
			m->fds = NULL;
			m->n_fds = 0;
		}
		m->sent += (size_t)n;
		s->out_bytes -= (size_t)n;
		if (m->sent < m->size)
			continue; /* partial: try again, EAGAIN ends the loop */
		s->out_head = m->next;
		if (!s->out_head)
			s->out_tail = NULL;
		s->n_out--;
		out_message_free(m);
	}
	return 1;
}

size_t varlink_stream_drop_unstarted(VarlinkStream *s) {
	size_t n = 0;
	OutMessage **p = &s->out_head;
	s->out_tail = NULL;
	while (*p) {
		OutMessage *m = *p;
		if (m->sent > 0) {
			s->out_tail = m;
			p = &m->next;
			continue;
		}
		*p = m->next;
		s->out_bytes -= m->size;
		s->n_out--;
		out_message_free(m);
		n++;
	}
	return n;
}

size_t varlink_stream_queued(const VarlinkStream *s) {
	return s->n_out;
}

size_t varlink_stream_queued_fd_messages(const VarlinkStream *s) {
	size_t n = 0;
	for (const OutMessage *m = s->out_head; m; m = m->next)
		if (m->fds)
			n++;
	return n;
}

static json_object *params_or_empty(json_object *parameters) {
	return parameters ? parameters : json_object_new_object();
}

int varlink_build_call(const char *method, json_object *parameters, unsigned flags,
		       json_object **ret) {
	_cleanup_json_put_ json_object *p = params_or_empty(parameters);
	if (!method || !ret)
		return -EINVAL;
	if (!p)
		return -ENOMEM;
	_cleanup_json_put_ json_object *o = json_object_new_object();
	json_object *m = json_object_new_string(method);
	if (!o || !m || json_object_object_add(o, "method", m) < 0) {
		json_object_put(m);
		return -ENOMEM;
	}
	if (json_object_object_add(o, "parameters", p) < 0)
		return -ENOMEM;
	p = NULL;
	if ((flags & VARLINK_CALL_MORE) &&
	    json_object_object_add(o, "more", json_object_new_boolean(1)) < 0)
		return -ENOMEM;
	if ((flags & VARLINK_CALL_ONEWAY) &&
	    json_object_object_add(o, "oneway", json_object_new_boolean(1)) < 0)
		return -ENOMEM;
	*ret = TAKE_PTR(o);
	return 0;
}

int varlink_build_reply(json_object *parameters, bool continues, json_object **ret) {
	_cleanup_json_put_ json_object *p = params_or_empty(parameters);
	if (!ret)
		return -EINVAL;
	if (!p)
		return -ENOMEM;
	_cleanup_json_put_ json_object *o = json_object_new_object();
	if (!o || json_object_object_add(o, "parameters", p) < 0)
		return -ENOMEM;
	p = NULL;
	if (continues && json_object_object_add(o, "continues", json_object_new_boolean(1)) < 0)
		return -ENOMEM;
	*ret = TAKE_PTR(o);
	return 0;
}

int varlink_build_error(const char *error, json_object *parameters, json_object **ret) {
	_cleanup_json_put_ json_object *p = params_or_empty(parameters);
	if (!error || !ret)
		return -EINVAL;
	if (!p)
		return -ENOMEM;
	_cleanup_json_put_ json_object *o = json_object_new_object();
	json_object *e = json_object_new_string(error);
	if (!o || !e || json_object_object_add(o, "error", e) < 0) {
		json_object_put(e);
		return -ENOMEM;
	}
	if (json_object_object_add(o, "parameters", p) < 0)
		return -ENOMEM;
	p = NULL;
	*ret = TAKE_PTR(o);
	return 0;
}

/* "a.b.Method": at least one dot, a non-empty interface and an upper-case method name of
 * [A-Za-z0-9]. Bounded so a hostile name cannot reach logs unchecked. */
static bool method_name_valid(const char *s) {
	size_t len = strlen(s);
	if (len == 0 || len > 255)
		return false;
	const char *dot = strrchr(s, '.');
	if (!dot || dot == s || !dot[1] || !(dot[1] >= 'A' && dot[1] <= 'Z'))
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-'))
			return false;
	}
	for (const char *p = dot + 1; *p; p++)
		if (*p == '.' || *p == '-')
			return false;
	return true;
}

/* What a reply without parameters gets: a stable empty object. */
static const DocNode empty_object = { .type = DOC_OBJECT };

int varlink_parse_call(const DocNode *msg, const char **ret_method, const DocNode **ret_parameters,
		       unsigned *ret_flags) {
	if (doc_type(msg) != DOC_OBJECT)
		return -EBADMSG;
	const char *method = NULL;
	const DocNode *params = NULL;
	unsigned flags = 0;
	for (size_t i = 0; i < msg->c.n; i++) {
		const char *key = msg->c.keys[i];
		const DocNode *val = msg->c.items[i];
		if (streq(key, "method")) {
			if (doc_type(val) != DOC_STRING)
				return -EBADMSG;
			method = val->str.s;
		} else if (streq(key, "parameters")) {
			if (doc_type(val) != DOC_OBJECT)
				return -EBADMSG;
			params = val;
		} else if (streq(key, "more") || streq(key, "oneway") || streq(key, "upgrade")) {
			if (doc_type(val) != DOC_BOOL)
				return -EBADMSG;
			if (val->b) {
				if (streq(key, "more"))
					flags |= VARLINK_CALL_MORE;
				else if (streq(key, "oneway"))
					flags |= VARLINK_CALL_ONEWAY;
				else
					return -EBADMSG; /* upgrade is not supported */
			}
		} else
			return -EBADMSG;
	}
	if (!method || !method_name_valid(method))
		return -EBADMSG;
	if (ret_method)
		*ret_method = method;
	if (ret_parameters)
		*ret_parameters = params ? params : &empty_object;
	if (ret_flags)
		*ret_flags = flags;
	return 0;
}

int varlink_parse_reply(const DocNode *msg, const char **ret_error, const DocNode **ret_parameters,
			bool *ret_continues) {
	if (doc_type(msg) != DOC_OBJECT)
		return -EBADMSG;
	const char *error = NULL;
	const DocNode *params = NULL;
	bool continues = false;
	for (size_t i = 0; i < msg->c.n; i++) {
		const char *key = msg->c.keys[i];
		const DocNode *val = msg->c.items[i];
		if (streq(key, "error")) {
			if (doc_type(val) != DOC_STRING || isempty(val->str.s))
				return -EBADMSG;
			error = val->str.s;
		} else if (streq(key, "parameters")) {
			if (doc_type(val) != DOC_OBJECT)
				return -EBADMSG;
			params = val;
		} else if (streq(key, "continues")) {
			if (doc_type(val) != DOC_BOOL)
				return -EBADMSG;
			continues = val->b;
		}
		/* Unknown members of a reply are ignored (forward compatibility). */
	}
	if (ret_error)
		*ret_error = error;
	if (ret_parameters)
		*ret_parameters = params ? params : &empty_object;
	if (ret_continues)
		*ret_continues = continues;
	return 0;
}

int varlink_connect(const char *path) {
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return negative_errno();
	return TAKE_FD(fd);
}

static int64_t now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short events, int64_t deadline) {
	for (;;) {
		int t = -1;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();
			if (left <= 0)
				return -ETIMEDOUT;
			t = (int)MIN(left, (int64_t)INT32_MAX);
		}
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, t);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (r == 0)
			return -ETIMEDOUT;
		return 0;
	}
}

int varlink_stream_read_message(VarlinkStream *s, int timeout_ms, Doc **ret_message, int **ret_fds,
				size_t *ret_n_fds) {
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	for (;;) {
		int r = varlink_stream_next(s, ret_message, ret_fds, ret_n_fds);
		if (r != 0)
			return r < 0 ? r : 0;
		r = varlink_stream_fill(s);
		if (r == 0)
			return -ECONNRESET;
		if (r == -EAGAIN) {
			r = wait_fd(s->fd, POLLIN, deadline);
			if (r < 0)
				return r;
			continue;
		}
		if (r < 0)
			return r;
	}
}

/* The second half of a call: flush what send left queued, wait for the one reply and take
 * it apart (see varlink_stream_call()). r is what the send returned. */
static int call_finish(VarlinkStream *s, int r, int64_t deadline, char **ret_error, Doc **ret_reply,
		       const DocNode **ret_parameters, int **ret_fds, size_t *ret_n_fds) {
	while (r == 0) {
		r = wait_fd(s->fd, POLLOUT, deadline);
		if (r < 0)
			return r;
		r = varlink_stream_flush(s);
	}
	if (r < 0)
		return r;
	/* The answer cannot be there yet unless it already is in the buffer: wait first rather
	 * than try a read that would only say EAGAIN (one system call per call saved). */
	if (!varlink_stream_has_message(s)) {
		r = wait_fd(s->fd, POLLIN, deadline);
		if (r < 0)
			return r;
	}

	_cleanup_(doc_freep) Doc *reply = NULL;
	int *fds = NULL;
	size_t n_fds = 0;
	int left = deadline < 0 ? -1 : (int)MAX(deadline - now_ms(), (int64_t)0);
	r = varlink_stream_read_message(s, left, &reply, &fds, &n_fds);
	if (r < 0)
		return r;
	const char *error = NULL;
	const DocNode *params = NULL;
	r = varlink_parse_reply(doc_root(reply), &error, &params, NULL);
	if (r < 0) {
		varlink_fds_free(fds, n_fds);
		return r;
	}
	char *e = NULL;
	if (error && ret_error) {
		e = strdup(error);
		if (!e) {
			varlink_fds_free(fds, n_fds);
			return -ENOMEM;
		}
	}
	if (ret_error)
		*ret_error = e;
	*ret_parameters = params;
	*ret_reply = TAKE_PTR(reply);
	if (ret_fds) {
		*ret_fds = fds;
		*ret_n_fds = n_fds;
	} else
		varlink_fds_free(fds, n_fds);
	return 0;
}

int varlink_stream_call(VarlinkStream *s, const char *method, json_object *parameters,
			unsigned flags, int timeout_ms, char **ret_error, Doc **ret_reply,
			const DocNode **ret_parameters, int **ret_fds, size_t *ret_n_fds) {
	assert(ret_reply);
	assert(ret_parameters);
	_cleanup_json_put_ json_object *call = NULL;
	int r = varlink_build_call(method, parameters, flags & VARLINK_CALL_MORE, &call);
	if (r < 0)
		return r;
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	r = varlink_stream_send(s, call, NULL, 0);
	return call_finish(s, r, deadline, ret_error, ret_reply, ret_parameters, ret_fds,
			   ret_n_fds);
}
