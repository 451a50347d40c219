/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Varlink framing shared by ioasidd and the client library: one JSON object per message,
 * terminated by a NUL byte, over an AF_UNIX SOCK_STREAM socket. Fds travel as SCM_RIGHTS
 * attached to the first byte of the message that references them.
 *
 * A VarlinkStream wraps one non-blocking socket and has
 *   - an incremental reader: varlink_stream_fill() does one recvmsg() (MSG_CMSG_CLOEXEC,
 *     a fixed cmsg buffer), varlink_stream_next() hands out complete messages one at a time
 *     (several may arrive in one read). The size limit is enforced on raw bytes before any
 *     parsing, the nesting limit by the parser itself. Messages are parsed strictly
 *     (doc_parse(): RFC 8259 without extensions, valid UTF-8, no duplicate keys) into a
 *     Doc arena per message, which costs a fraction of building json-c objects;
 *   - a writer with an output queue: varlink_stream_enqueue() serializes a message (and
 *     duplicates the fds to pass), varlink_stream_flush() sends with
 *     MSG_NOSIGNAL|MSG_DONTWAIT; a message's fds go with its first byte exactly once, even
 *     when the send is resumed after EAGAIN.
 *
 * Fd association on receive: our writer never puts bytes of two messages into a sendmsg()
 * that carries fds, and starts such a sendmsg() at the first byte of the message; the kernel
 * ends a stream read after an skb that carried fds. So fds received by one read belong to
 * the last message that starts inside that read. A read that brings fds but no message
 * start is a protocol error (-EPROTO).
 *
 * Nothing here logs (common/ never logs above debug); errors are returned as -errno.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "common/doc.h"

typedef struct VarlinkStream VarlinkStream;

/* At most this many fds are accepted by one read (the cmsg buffer size). More -> MSG_CTRUNC. */
#define VARLINK_MAX_FDS_PER_READ 253

typedef enum VarlinkStreamFlags {
	/* Any fd received is closed at once and the read fails with -EPROTO (the daemon:
	 * clients never send fds). */
	VARLINK_STREAM_REFUSE_FDS = 1 << 0,
} VarlinkStreamFlags;

/*
 * varlink_stream_new: wraps fd (a connected AF_UNIX SOCK_STREAM socket; the caller makes it
 * non-blocking when it wants the event-loop behaviour). The stream takes ownership of fd
 * on success and closes it in varlink_stream_free(). max_message is the largest message in
 * bytes, NUL included; max_depth the JSON nesting limit (doc_parse()).
 * Returns 0, -EINVAL (bad fd or limits), -ENOMEM.
 */
int varlink_stream_new(int fd, size_t max_message, int max_depth, unsigned flags,
		       VarlinkStream **ret);

/* Frees the stream: closes its socket, every fd received but not handed out and every fd
 * still queued for sending. Takes NULL, returns NULL. */
VarlinkStream *varlink_stream_free(VarlinkStream *s);
static inline void varlink_stream_freep(VarlinkStream **s) {
	varlink_stream_free(*s);
}
#define _cleanup_varlink_stream_free_ _cleanup_(varlink_stream_freep)

/*
 * varlink_stream_set_max_fds: how many fds one read accepts (the cmsg buffer), 1..
 * VARLINK_MAX_FDS_PER_READ (the default). A peer sending more triggers MSG_CTRUNC, which
 * fill() reports as -EPROTO after closing what did arrive. Returns 0 or -EINVAL.
 */
int varlink_stream_set_max_fds(VarlinkStream *s, size_t n);

/*
 * varlink_stream_set_max_output: the largest message varlink_stream_enqueue() accepts
 * (default: max_message). A daemon reads small requests but may answer with large replies.
 * Returns 0 or -EINVAL (below 2).
 */
int varlink_stream_set_max_output(VarlinkStream *s, size_t n);

/* The socket (still owned by the stream). */
int varlink_stream_fd(const VarlinkStream *s);

/*
 * varlink_stream_take_fd: hands the socket to the caller, who closes it; the stream no longer
 * uses or closes it (call it just before varlink_stream_free()). A daemon closes a client's
 * socket elsewhere than on its event loop: the last close of a socket frees what is queued
 * on it, which may be fds the peer sent, and their close can block. Returns the fd.
 */
int varlink_stream_take_fd(VarlinkStream *s);

/*
 * varlink_stream_fill: one recvmsg() into the input buffer. Call varlink_stream_next()
 * until it returns 0 before calling this again.
 * Returns the number of bytes read (> 0), 0 at EOF, or
 *   -EAGAIN     nothing to read (non-blocking socket),
 *   -EMSGSIZE   the message being received exceeds max_message (no NUL within it), said
 *               by the read that takes its max_message-th byte and by every later call,
 *   -EPROTO     fds arrived while the stream refuses them, the cmsg was truncated
 *               (MSG_CTRUNC), or fds arrived without a message start; received fds are
 *               closed,
 *   -ENOBUFS    the buffer still holds a complete message (caller did not drain next()),
 *   -ENOMEM, or -errno from recvmsg() (-ECONNRESET, ...).
 * After an error other than -EAGAIN the stream is unusable for reading.
 */
int varlink_stream_fill(VarlinkStream *s);

/*
 * varlink_stream_next: extracts the next complete message from the input buffer.
 * Returns 1 and *ret_message (the caller frees it with doc_free(); the message object is
 * doc_root()) plus, when ret_fds is not NULL, the fds that
 * came with it (*ret_fds malloc'd, caller closes them and frees the array; NULL when
 * none); when ret_fds is NULL any fds of the message are closed.
 * Returns 0 when no complete message is buffered (outputs untouched), or
 *   -EBADMSG    not valid JSON (see doc_parse()), trailing garbage, or not a JSON object,
 *   -ELOOP      nested deeper than max_depth,
 *   -ENOMEM.
 * A failed message is consumed; callers treat the error as fatal for the connection.
 */
int varlink_stream_next(VarlinkStream *s, Doc **ret_message, int **ret_fds, size_t *ret_n_fds);

/* True when varlink_stream_next() would return a message or an error without a read. */
bool varlink_stream_has_message(const VarlinkStream *s);

/*
 * varlink_stream_enqueue: serializes message (NUL appended) onto the output queue. fds (may
 * be NULL when n_fds is 0) are duplicated with F_DUPFD_CLOEXEC: the caller keeps its own;
 * the duplicates are closed once sent or when the stream is freed. Nothing is sent here.
 * Returns 0, -EINVAL (n_fds above VARLINK_MAX_FDS_PER_READ), -E2BIG (serialized message
 * above the output limit, see varlink_stream_set_max_output()), -ENOMEM, -errno from fcntl() (the
 * queue is unchanged on failure).
 */
int varlink_stream_enqueue(VarlinkStream *s, json_object *message, const int *fds, size_t n_fds);

/*
 * varlink_stream_send: enqueue + flush in one, for a writer that flushes at once anyway.
 * When nothing is queued the message goes out straight from the serializer with the
 * caller's fds (no copy, no duplicates); what the socket does not take is queued as
 * varlink_stream_enqueue() would (fds duplicated unless the first byte, and with it the
 * fds, went out). Returns 1 when everything was sent, 0 when data remains queued (wait for
 * EPOLLOUT and flush), or a negative errno of enqueue() or flush(); after a send error the
 * stream is unusable for writing.
 */
int varlink_stream_send(VarlinkStream *s, json_object *message, const int *fds, size_t n_fds);
/*
 * varlink_stream_flush: sends queued data with sendmsg(MSG_NOSIGNAL|MSG_DONTWAIT) until
 * the queue is empty or the socket is full. The fds of a message are attached to the
 * sendmsg() that carries its first byte and closed once that sendmsg() succeeded.
 * Returns 1 when the queue is empty, 0 when data remains (socket full: wait for EPOLLOUT),
 * or -errno from sendmsg() (-EPIPE, -ECONNRESET, -ETOOMANYREFS, ...); after an error
 * the stream is unusable for writing.
 */
int varlink_stream_flush(VarlinkStream *s);

/*
 * varlink_stream_drop_unstarted: removes every queued message of which no byte has been sent
 * yet, closing its fds; only a message partly sent (the head of the queue) stays, because the
 * peer already holds its first bytes and, without the rest, would read half a record.
 * Flushing after this ends the stream at a message boundary. Returns how many were dropped.
 */
size_t varlink_stream_drop_unstarted(VarlinkStream *s);

/* Messages still (partly) queued, and how many of those carry fds not yet sent. */
size_t varlink_stream_queued(const VarlinkStream *s);
size_t varlink_stream_queued_fd_messages(const VarlinkStream *s);
/* Bytes queued for output and not yet sent. */
size_t varlink_stream_queued_bytes(const VarlinkStream *s);
/* Whether the output queue is below all three bounds: fewer than max_fd_messages messages
 * with fds, fewer than max_messages messages and fewer than max_bytes bytes queued. A reader
 * that stops reading while this is false keeps a peer that does not read from making it
 * buffer without bound. */
bool varlink_stream_output_below(const VarlinkStream *s, size_t max_fd_messages,
				 size_t max_messages, size_t max_bytes);
/* Bytes currently buffered on input (a partial message counts): for slow-client deadlines. */
size_t varlink_stream_input_buffered(const VarlinkStream *s);

/*
 * Message builders. Each takes ownership of `parameters` (may be NULL: an empty object is
 * used) even on failure, and returns 0 with a new object in *ret, or -ENOMEM/-EINVAL.
 *   call:  {"method": M, "parameters": {...}[, "more": true][, "oneway": true]}
 *   reply: {"parameters": {...}[, "continues": true]}
 *   error: {"error": E, "parameters": {...}}
 */
#define VARLINK_CALL_MORE (1u << 0)
#define VARLINK_CALL_ONEWAY (1u << 1)
int varlink_build_call(const char *method, json_object *parameters, unsigned flags,
		       json_object **ret);
int varlink_build_reply(json_object *parameters, bool continues, json_object **ret);
int varlink_build_error(const char *error, json_object *parameters, json_object **ret);

/*
 * varlink_parse_call: validates a call (a "method" string that looks like
 * "interface.Method", optional "parameters" object, optional booleans "more" and
 * "oneway", no other members). Returned pointers borrow from msg; *ret_parameters is
 * never NULL (an empty object when the call has none).
 * Returns 0 or -EBADMSG.
 */
int varlink_parse_call(const DocNode *msg, const char **ret_method, const DocNode **ret_parameters,
		       unsigned *ret_flags);

/*
 * varlink_parse_reply: validates a reply or error. *ret_error is the error name or NULL
 * for a reply; *ret_parameters the parameters object (an empty object is substituted when
 * absent, so it is never NULL; borrowed from msg); *ret_continues the "continues" flag.
 * Returns 0 or -EBADMSG.
 */
int varlink_parse_reply(const DocNode *msg, const char **ret_error, const DocNode **ret_parameters,
			bool *ret_continues);

/*
 * varlink_connect: connects a blocking AF_UNIX SOCK_STREAM socket (SOCK_CLOEXEC) to path.
 * Returns the fd, -ENAMETOOLONG, or -errno from socket()/connect().
 */
int varlink_connect(const char *path);

/*
 * varlink_stream_read_message: blocks (poll) until one complete message has arrived or
 * timeout_ms passed (-1 = forever). Same outputs as varlink_stream_next().
 * Returns 0, -ETIMEDOUT, -ECONNRESET at EOF, or an error of fill()/next().
 */
int varlink_stream_read_message(VarlinkStream *s, int timeout_ms, Doc **ret_message, int **ret_fds,
				size_t *ret_n_fds);

/*
 * varlink_stream_call: the blocking client convenience. Sends one call (method, parameters:
 * taken, may be NULL; flags VARLINK_CALL_*) and waits for one reply with its fds.
 * On a reply or a varlink error returns 0; *ret_error (malloc'd, may be NULL when the
 * caller passes NULL) is NULL for a reply or the error name; the reply comes back parsed:
 * *ret_reply (caller frees with doc_free()) and *ret_parameters, its parameters object
 * inside it (never NULL); *ret_fds and *ret_n_fds the fds (caller closes/frees).
 * With VARLINK_CALL_MORE further replies are read with varlink_stream_read_message().
 * Returns -ETIMEDOUT, -ECONNRESET (peer closed), -EBADMSG (malformed reply), or -errno.
 */
int varlink_stream_call(VarlinkStream *s, const char *method, json_object *parameters,
			unsigned flags, int timeout_ms, char **ret_error, Doc **ret_reply,
			const DocNode **ret_parameters, int **ret_fds, size_t *ret_n_fds);

/*
 * varlink_set_received_fd_closer: process-wide, how the reader closes received fds that no
 * caller takes (refused, truncated, attached to a dropped message). Default: close(). A
 * daemon passes a function that hands the fd to another thread, because closing a hostile
 * fd can block (the last close of a FUSE file waits for its server). NULL restores close().
 */
void varlink_set_received_fd_closer(void (*closer)(int fd));

/* Closes n fds and frees the array. Takes NULL. */
void varlink_fds_free(int *fds, size_t n);
