/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* server.c: connections, framing, deadlines, dispatch, sending (see server.c); listener.c: the
 * listening socket, accepting, the drain at exit. */

#include "ioasidd/ioasidd.h"

/* Registers the server's ManagerHooks on m (before leases are restored or served). */
void server_register_hooks(Manager *m);
/* A connection just accepted by the listener (cfd taken): served or dropped (0), or
 * -EMFILE/-ENFILE when the listener should back off. */
int server_accept(Manager *m, int cfd);
/* Clears SO_PASSRIGHTS on fd (a listener, or a connection from before the listener had it
 * cleared). 0 or -errno (-ENOPROTOOPT: not supported by this kernel). */
int server_refuse_fds(int fd);

/* listener.c: sets up the listener (socket activation, the fdstore's, or a socket of its
 * own) and accepts on it. 0 or -errno (logged). listener_close() at exit, after
 * server_close_all(): the socket closed (unlinked if it is ours). */
int listener_start(Manager *m);
void listener_close(Manager *m);
/* A connection for a socket kept across a restart (fdstore, taken), with its old id. 0 or
 * -errno (fd closed). */
int server_adopt(Manager *m, int fd, uint64_t id, Connection **ret);
/* listener.c, at exit: finish replies already started, drop the rest whole. Idempotent. */
void server_drain(Manager *m);
/* listener.c, at exit: every connection closed. */
void server_close_all(Manager *m);
