/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Another process that holds files: forked before they exist (so it inherits none of them),
 * it receives fds over a socketpair (SCM_RIGHTS), keeps them, acknowledges, and exits when
 * told or when the socket closes; its copies go with it, as the kernel closes them at exit.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/test.h"

void test_holder_start(TestHolder *h) {
	int sv[2];
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		for (;;) {
			char c = 0;
			union {
				struct cmsghdr h;
				char buf[CMSG_SPACE(sizeof(int) * 4)];
			} u;
			struct iovec iov = { .iov_base = &c, .iov_len = 1 };
			struct msghdr mh = { .msg_iov = &iov,
					     .msg_iovlen = 1,
					     .msg_control = u.buf,
					     .msg_controllen = sizeof(u.buf) };
			if (recvmsg(sv[1], &mh, MSG_CMSG_CLOEXEC) <= 0 || c == 'q')
				_exit(0);
			if (write(sv[1], "k", 1) != 1)
				_exit(1);
		}
	}
	close(sv[1]);
	*h = (TestHolder){ .pid = pid, .sock = sv[0] };
}

void test_holder_give(TestHolder *h, int fd) {
	char c = 'f';
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u = {};
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	CU_ASSERT_FATAL(sendmsg(h->sock, &mh, MSG_NOSIGNAL) == 1);
	CU_ASSERT_FATAL(read(h->sock, &c, 1) == 1 && c == 'k');
}

void test_holder_stop(TestHolder *h) {
	CU_ASSERT(write(h->sock, "q", 1) == 1);
	int status = 0;
	CU_ASSERT(waitpid(h->pid, &status, 0) == h->pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(h->sock);
	h->sock = -1;
}
