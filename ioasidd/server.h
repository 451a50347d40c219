/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* server.c: listener, connections, framing, deadlines, dispatch, sending (see server.c). */

#include "ioasidd/ioasidd.h"

/* Registers the server's ManagerHooks on m (before leases are restored or served). */
void server_register_hooks(Manager *m);
/* Sets up the listener (socket activation, the fdstore's, or a socket of its own). 0 or
 * -errno (logged). */
int server_listen(Manager *m);
/* At exit: finish replies already started, drop the rest whole. Idempotent. */
void server_drain(Manager *m);
/* At exit: every connection and the listener closed (the socket unlinked if it is ours). */
void server_close_all(Manager *m);
