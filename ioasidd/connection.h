/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A connection, private to the server's two files: server.c (where connections live and are
 * served) and listener.c (where they come in and, at exit, are drained). Nothing else sees
 * inside one: below the server a Connection is opaque.
 */

#include "ioasidd/ioasidd.h"

struct Connection {
	Manager *manager;
	uint64_t id;
	VarlinkStream *stream;
	sd_event_source *io;
	sd_event_source *idle_timer; /* idle / request deadline; may fire early (idle_deadline) */
	uint64_t idle_deadline;      /* CLOCK_MONOTONIC usec when idle closes it; 0 = exempt */
	sd_event_source *send_timer; /* reply not drained in time */
	sd_event_source *defer_free; /* set once closing */
	sd_event_source *more;       /* oneshot: a complete request is still buffered */
	Peer peer;
	bool monitor; /* subscribed to Monitor (more) */
	bool closing;
	bool read_eof;        /* peer shut down its side: flush, then close */
	bool suppress_reply;  /* dispatching a oneway call */
	bool stored;          /* the socket is in systemd's fdstore (connection leases) */
	Lease *pending_lease; /* lease whose fd reply is queued, not yet fully sent */
	bool reply_dropped;   /* at shutdown: the pending lease's reply was dropped unsent */
	Connection *next, *prev;
};

/* Frees c: its leases told (manager_connection_gone()), its socket closed by the closer. */
void connection_free(Connection *c);
/* The pending Acquire's fds went out with a successful sendmsg(): the lease is delivered. */
void connection_note_delivery(Connection *c);
