/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rawclient: a deliberately badly behaved client for the integration tier's attacks on
 * ioasidd. It speaks bytes, not Varlink: whatever the test gives is sent as is.
 *
 *   rawclient SOCKET [OPTIONS] [MESSAGE...]
 *     each MESSAGE is sent followed by a NUL (unless --no-nul), all in one write;
 *     --file F        send F's bytes as one more message (after the MESSAGE arguments)
 *     --fds N         attach N fds (of /dev/null) to the write (SCM_RIGHTS)
 *     --no-nul        do not terminate messages with NUL
 *     --connect-only  send nothing
 *     --close         close right after sending: read nothing
 *     --no-read       send, then keep the connection open for --hold seconds, read nothing
 *     --hold SEC      how long to keep a connection open without reading (default 0)
 *     --rcvbuf BYTES  SO_RCVBUF before connecting (a full socket buffer for the daemon)
 *     --delay-read SEC  sleep before reading replies
 *     --timeout SEC   give up waiting for replies after SEC (default 5)
 *     --replies N     stop after N replies (default: until EOF or the timeout)
 *     --conns N       open N connections (sending the messages on each), then report how
 *                     many the daemon closed within --hold seconds
 *
 * Output (stdout, one JSON object per line):
 *   {"reply": {...}, "fds": N, "fdNames": [...]}   for every reply read (fds closed at once)
 *   {"end": "eof" | "timeout" | "replies" | "sent" | "error", "errno": "ECONNRESET"}
 *   {"conns": N, "closed": K, "refused": R}        with --conns
 * Exit 0 unless the tool itself failed (a closed connection is a result, not a failure).
 */
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "common/macro.h"
#include "common/util.h"

static unsigned arg_fds = 0;
static bool arg_nul = true;
static bool arg_connect_only = false;
static bool arg_close = false;
static bool arg_no_read = false;
static double arg_hold = 0;
static int arg_rcvbuf = 0;
static double arg_delay_read = 0;
static double arg_timeout = 5;
static long arg_replies = -1;
static unsigned arg_conns = 0;
static const char *arg_file = NULL;

static void sleep_sec(double s) {
	if (s <= 0)
		return;
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int64_t now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_to(const char *path) {
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (arg_rcvbuf > 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &arg_rcvbuf, sizeof(arg_rcvbuf));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Sends buf (all of it), with n_fds fds of /dev/null on the first sendmsg. */
static int send_all(int fd, const char *buf, size_t len, unsigned n_fds) {
	size_t off = 0;
	int *fds = NULL;
	int r = 0;

	if (n_fds > 0) {
		fds = calloc(n_fds, sizeof(int));
		if (!fds)
			return -ENOMEM;
		for (unsigned i = 0; i < n_fds; i++)
			fds[i] = -1;
		for (unsigned i = 0; i < n_fds; i++) {
			fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (fds[i] < 0) {
				r = -errno;
				goto out;
			}
		}
	}
	do {
		struct iovec iov = { .iov_base = (char *)buf + off, .iov_len = len - off };
		char dummy = 0;
		if (len == 0) { /* fds need at least one byte to travel with */
			iov.iov_base = &dummy;
			iov.iov_len = 1;
		}
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		_cleanup_free_ char *cbuf = NULL;
		if (off == 0 && n_fds > 0) {
			size_t clen = CMSG_SPACE(sizeof(int) * n_fds);
			cbuf = calloc(1, clen);
			if (!cbuf) {
				r = -ENOMEM;
				goto out;
			}
			mh.msg_control = cbuf;
			mh.msg_controllen = clen;
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
		}
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		off += (size_t)n;
	} while (off < len);
out:
	for (unsigned i = 0; fds && i < n_fds; i++)
		safe_close(fds[i]);
	free(fds);
	return r;
}

static void print_end(const char *what, int err) {
	if (err)
		printf("{\"end\": \"%s\", \"errno\": \"%s\"}\n", what, strna(errno_name(err)));
	else
		printf("{\"end\": \"%s\"}\n", what);
	fflush(stdout);
}

/* Reads replies until EOF, the timeout, or arg_replies. */
static void read_replies(int fd) {
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;
	long got = 0;
	int64_t deadline = now_ms() + (int64_t)(arg_timeout * 1000);
	/* The daemon starts an fd-bearing send at a message's first byte and the kernel ends a
	 * stream read right after the skb that carried fds: fds belong to the last message that
	 * starts inside the read that brought them (tracked as an absolute stream offset). */
	uint64_t consumed = 0; /* stream offset of buf[0] */
	uint64_t fd_off = UINT64_MAX;
	int pending_fds = 0;
	char names[4096] = "";

	for (;;) {
		/* Complete messages first. */
		char *nul;
		while (len > 0 && (nul = memchr(buf, 0, len))) {
			size_t mlen = (size_t)(nul - buf);
			bool mine = fd_off == consumed;
			printf("{\"reply\": %.*s, \"fds\": %d, \"fdNames\": [%s]}\n", (int)mlen,
			       buf, mine ? pending_fds : 0, mine ? names : "");
			fflush(stdout);
			if (mine) {
				pending_fds = 0;
				names[0] = 0;
				fd_off = UINT64_MAX;
			}
			memmove(buf, nul + 1, len - mlen - 1);
			len -= mlen + 1;
			consumed += mlen + 1;
			if (arg_replies > 0 && ++got >= arg_replies)
				return print_end("replies", 0);
		}
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return print_end("timeout", 0);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			continue;
		if (cap - len < 65536) {
			char *nb = realloc(buf, cap + 65536);
			if (!nb)
				return print_end("error", ENOMEM);
			buf = nb;
			cap += 65536;
		}
		char cbuf[CMSG_SPACE(sizeof(int) * 253)];
		struct iovec iov = { .iov_base = buf + len, .iov_len = cap - len };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return print_end("error", errno);
		}
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int *fds = (int *)CMSG_DATA(cm);
			for (size_t i = 0; i < k; i++) {
				char path[64], target[256];
				snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[i]);
				ssize_t t = readlink(path, target, sizeof(target) - 1);
				target[t < 0 ? 0 : t] = 0;
				size_t nl = strlen(names);
				snprintf(names + nl, sizeof(names) - nl, "%s\"%s\"", nl ? "," : "",
					 target);
				close(fds[i]);
				pending_fds++;
			}
			if (k > 0 && n > 0) {
				/* buf[0] always starts a message; so does every byte after a
				 * NUL. */
				size_t rs = len, re = len + (size_t)n;
				bool found = false;
				for (size_t q = re; q-- > rs;)
					if (q == 0 || buf[q - 1] == 0) {
						fd_off = consumed + q;
						found = true;
						break;
					}
				if (!found)
					printf("{\"strayFds\": %zu}\n", k);
			}
		}
		if (n == 0) {
			if (pending_fds > 0)
				printf("{\"strayFds\": %d}\n", pending_fds);
			return print_end("eof", 0);
		}
		len += (size_t)n;
	}
}

/* Whether the daemon closed fd (EOF or error pending). */
static bool peer_closed(int fd) {
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, 0) <= 0)
		return false;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN);
}

int main(int argc, char **argv) {
	static const struct option options[] = { { "fds", required_argument, NULL, 'f' },
						 { "no-nul", no_argument, NULL, 'N' },
						 { "connect-only", no_argument, NULL, 'C' },
						 { "close", no_argument, NULL, 'c' },
						 { "no-read", no_argument, NULL, 'n' },
						 { "hold", required_argument, NULL, 'H' },
						 { "rcvbuf", required_argument, NULL, 'R' },
						 { "delay-read", required_argument, NULL, 'D' },
						 { "timeout", required_argument, NULL, 't' },
						 { "replies", required_argument, NULL, 'r' },
						 { "conns", required_argument, NULL, 'm' },
						 { "file", required_argument, NULL, 'F' },
						 {} };
	_cleanup_free_ char *msg = NULL;
	size_t msg_len = 0;
	int c;

	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		switch (c) {
		case 'f':
			arg_fds = (unsigned)atoi(optarg);
			break;
		case 'N':
			arg_nul = false;
			break;
		case 'C':
			arg_connect_only = true;
			break;
		case 'c':
			arg_close = true;
			break;
		case 'n':
			arg_no_read = true;
			break;
		case 'H':
			arg_hold = atof(optarg);
			break;
		case 'R':
			arg_rcvbuf = atoi(optarg);
			break;
		case 'D':
			arg_delay_read = atof(optarg);
			break;
		case 't':
			arg_timeout = atof(optarg);
			break;
		case 'r':
			arg_replies = atol(optarg);
			break;
		case 'm':
			arg_conns = (unsigned)atoi(optarg);
			break;
		case 'F':
			arg_file = optarg;
			break;
		default:
			return 64;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "Usage: rawclient SOCKET [OPTIONS] [MESSAGE...]\n");
		return 64;
	}
	const char *path = argv[optind++];

	/* Build the bytes to send: every MESSAGE (+NUL), then --file. */
	FILE *f = open_memstream(&msg, &msg_len);
	if (!f)
		return 1;
	for (int i = optind; i < argc; i++) {
		fputs(argv[i], f);
		if (arg_nul)
			fputc(0, f);
	}
	if (arg_file) {
		_cleanup_free_ char *data = NULL;
		size_t size = 0;
		int r = read_full_file(arg_file, 64 * 1024 * 1024, &data, &size);
		if (r < 0) {
			fprintf(stderr, "rawclient: %s: %s\n", arg_file, strerror(-r));
			return 1;
		}
		fwrite(data, 1, size, f);
		if (arg_nul)
			fputc(0, f);
	}
	if (fclose(f) != 0)
		return 1;

	if (arg_conns > 0) {
		int *fds = calloc(arg_conns, sizeof(int));
		unsigned refused = 0, closed = 0;
		if (!fds)
			return 1;
		for (unsigned i = 0; i < arg_conns; i++) {
			fds[i] = connect_to(path);
			if (fds[i] < 0) {
				refused++;
				continue;
			}
			if (msg_len > 0 && !arg_connect_only)
				(void)send_all(fds[i], msg, msg_len, 0);
		}
		sleep_sec(arg_hold);
		for (unsigned i = 0; i < arg_conns; i++)
			if (fds[i] >= 0 && peer_closed(fds[i]))
				closed++;
		printf("{\"conns\": %u, \"closed\": %u, \"refused\": %u}\n", arg_conns, closed,
		       refused);
		for (unsigned i = 0; i < arg_conns; i++)
			safe_close(fds[i]);
		free(fds);
		return 0;
	}

	int fd = connect_to(path);
	if (fd < 0) {
		print_end("error", -fd);
		return 0;
	}
	if (!arg_connect_only && (msg_len > 0 || arg_fds > 0)) {
		int r = send_all(fd, msg, msg_len, arg_fds);
		if (r < 0) {
			print_end("error", -r);
			close(fd);
			return 0;
		}
	}
	if (arg_close) {
		close(fd);
		print_end("sent", 0);
		return 0;
	}
	if (arg_no_read || arg_connect_only) {
		int64_t end = now_ms() + (int64_t)(arg_hold * 1000);
		/* Watch for the daemon closing us while we hold (without reading data). */
		while (now_ms() < end) {
			struct pollfd p = { .fd = fd, .events = POLLRDHUP };
			int r = poll(&p, 1, (int)(end - now_ms()));
			if (r > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
				close(fd);
				print_end("eof", 0);
				return 0;
			}
		}
		if (arg_no_read) {
			close(fd);
			print_end("timeout", 0);
			return 0;
		}
	}
	sleep_sec(arg_delay_read);
	read_replies(fd);
	close(fd);
	return 0;
}
