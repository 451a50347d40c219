/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The connection half of the client: connecting to ioasidd and one synchronous Varlink call
 * at a time, framing through common/varlink. Reply validation lives in client-reply.c.
 */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/client.h"
#include "common/proto.h"

struct IoasidClient {
	int fd;
};

const char *ioasid_client_socket_path(const char *path) {
	const char *e;
	if (path)
		return path;
	e = getenv("IOASID_SOCKET");
	return isempty(e) ? IOASID_SOCKET_PATH : e;
}

int ioasid_client_connect(const char *path, IoasidClient **ret) {
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -EBADF;
	IoasidClient *c;

	path = ioasid_client_socket_path(path);
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = TAKE_FD(fd);
	*ret = c;
	return 0;
}

IoasidClient *ioasid_client_free(IoasidClient *c) {
	if (!c)
		return NULL;
	safe_close(c->fd);
	free(c);
	return NULL;
}

int ioasid_client_fd(const IoasidClient *c) {
	return c ? c->fd : -EBADF;
}
