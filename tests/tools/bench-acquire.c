/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-acquire: how fast ioasidd hands out a device, against a floor measured in the same
 * run.
 *
 *   bench-acquire --socket PATH --device BDF [--iterations N] [--clients N --devices FILE]
 *                 [--daemon-pid PID] [--host FILE] [--json]
 *
 *   1. N acquire+release round trips of one device (attached mode) on one connection;
 *   2. the floor: the same exchange over a bare socketpair, a thread playing the server:
 *      per iteration one round trip whose answer carries the same number of fds with
 *      SCM_RIGHTS (the acquire) and one without fds (the release); with --host (the snapshot
 *      the daemon runs the sim kernel on), the floor's server also does the acquire's kernel
 *      work itself, through its own sim kernel: per acquire an iommufd opened, an IOAS
 *      allocated, the device opened, bound and attached, those two fds sent; per release
 *      its references closed. That floor is the same kernel work done directly, so the ratio
 *      to it is what the daemon adds; the bare floor's ratio is printed too;
 *   3. with --clients: that many concurrent connections (threads), each acquiring and
 *      releasing its own device (one BDF per line of FILE, each in its own IOMMU group),
 *      and the same load against a one-thread poll() floor server, which shows how much of
 *      the tail comes from the machine (many threads on few CPUs) rather than the daemon;
 *   4. with --daemon-pid: the daemon's VmRSS before and after.
 * Prints p50/p99, throughput, and the ratios next to their targets. Nothing here asserts on
 * time: the numbers are reported, not judged (exit 0 unless an acquire fails).
 */
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>

#include "common/client/client.h"
#include "common/host.h"
#include "common/kernel.h"
#include "common/macro.h"
#include "tests/tools/bench-util.h"

static const char *arg_socket = NULL;
static const char *arg_device = NULL;
static const char *arg_devices_file = NULL;
static unsigned arg_iterations = 10000;
static unsigned arg_clients = 0;
static pid_t arg_daemon_pid = 0;
static bool arg_json = false;
static const char *arg_host = NULL;

/* utime + stime of pid in microseconds (/proc/PID/stat fields 14 and 15), or -1. */
static long long cpu_us(pid_t pid) {
	char path[64];
	_cleanup_free_ char *text = NULL;
	unsigned long long ut, st;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_full_file(path, 1 << 16, &text, NULL) < 0)
		return -1;
	const char *p = strrchr(text, ')'); /* comm may hold spaces */
	if (!p ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)((ut + st) * 1000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
}

static long vm_rss_kib(pid_t pid) {
	char path[64];
	_cleanup_free_ char *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_full_file(path, 1 << 16, &text, NULL) < 0)
		return -1;
	const char *l = strstr(text, "\nVmRSS:");
	return l ? strtol(l + 7, NULL, 10) : -1;
}

/* One acquire + release of bdf on c; the fds are closed by the result's free. */
static int acquire_release(IoasidClient *c, const char *bdf, int *ret_n_fds) {
	char *devs[] = { (char *)bdf, NULL };
	IoasidAcquireRequest req = IOASID_ACQUIRE_REQUEST_INIT;
	_cleanup_(ioasid_acquire_result_freep) IoasidAcquireResult *res = NULL;
	IoasidError e = {};
	int r;

	req.devices = devs;
	req.mode = "attached";
	r = ioasid_client_acquire(c, &req, &res, &e);
	if (r < 0) {
		fprintf(stderr, "bench-acquire: acquire %s: %s\n", bdf,
			r == -EREMOTEIO && e.message ? e.message : strerror(-r));
		ioasid_error_done(&e);
		return r;
	}
	if (ret_n_fds)
		*ret_n_fds = 1 + (int)res->n_devices;
	r = ioasid_client_release(c, res->lease, &e);
	if (r < 0) {
		fprintf(stderr, "bench-acquire: release: %s\n",
			r == -EREMOTEIO && e.message ? e.message : strerror(-r));
		ioasid_error_done(&e);
	}
	return r;
}

/* ---- the floor: a bare socketpair round trip with n fds in the answer ---- */

typedef struct Floor {
	int fd;
	int n_fds;
	unsigned iterations;
	Kernel *kernel;       /* with --host: the acquire's kernel work, done here */
	const Device *device; /* of kernel's host */
	int error;
} Floor;

/* The kernel work of an attached acquire of one device, as the daemon's context does it:
 * fds[0] the iommufd, fds[1] the device (bound, attached to a new IOAS). */
static int floor_kernel_acquire(Floor *f, int fds[static 2]) {
	uint32_t ioas, dev, hwpt;
	int r = kernel_iommufd_open(f->kernel, &fds[0]);
	if (r < 0)
		return r;
	if ((r = kernel_ioas_alloc(f->kernel, fds[0], &ioas)) < 0 ||
	    (r = kernel_device_open(f->kernel, f->device, &fds[1])) < 0)
		return r;
	if ((r = kernel_device_bind(f->kernel, fds[1], fds[0], &dev)) < 0 ||
	    (r = kernel_device_attach(f->kernel, fds[1], ioas, &hwpt)) < 0)
		return r;
	return 0;
}

static void *floor_server(void *userdata) {
	Floor *f = userdata;
	int fds[8];
	for (int i = 0; i < f->n_fds; i++)
		fds[i] = f->kernel ? -EBADF : memfd_create("bench-floor", MFD_CLOEXEC);
	for (unsigned it = 0; it < 2 * f->iterations; it++) {
		char req[64];
		if (recv(f->fd, req, sizeof(req), 0) <= 0)
			break;
		if (it % 2) { /* the "release": an answer without fds */
			for (int i = f->kernel ? f->n_fds - 1 : -1; i >= 0; i--) {
				/* The device first, as the daemon closes them. */
				kernel_close(f->kernel, fds[i]);
				fds[i] = -EBADF;
			}
			if (f->kernel)
				(void)kernel_sync(f->kernel);
			if (send(f->fd, "ok", 3, MSG_NOSIGNAL) < 0)
				break;
			continue;
		}
		if (f->kernel && (f->error = floor_kernel_acquire(f, fds)) < 0)
			break;
		char reply[] = "ok";
		struct iovec iov = { .iov_base = reply, .iov_len = sizeof(reply) };
		char cbuf[CMSG_SPACE(sizeof(int) * 8)] = {};
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = CMSG_SPACE(sizeof(int) * f->n_fds) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * f->n_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * f->n_fds);
		if (sendmsg(f->fd, &mh, MSG_NOSIGNAL) < 0)
			break;
	}
	for (int i = 0; i < f->n_fds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return NULL;
}

/* kernel: NULL for the bare floor, else the acquire's kernel work is done on it (device). */
static int measure_floor(unsigned iterations, int n_fds, Kernel *kernel, const Device *device,
			 uint64_t *lat) {
	int sp[2];
	pthread_t t;
	Floor f = { .n_fds = n_fds, .iterations = iterations, .kernel = kernel, .device = device };

	if (n_fds < 1 || n_fds > 8 || (kernel && n_fds != 2))
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	f.fd = sp[1];
	if (pthread_create(&t, NULL, floor_server, &f) != 0)
		return -EAGAIN;
	for (unsigned it = 0; it < iterations; it++) {
		uint64_t t0 = bench_now_ns();
		char req[] = "acquire", reply[16];
		if (send(sp[0], req, sizeof(req), MSG_NOSIGNAL) < 0)
			break;
		char cbuf[CMSG_SPACE(sizeof(int) * 8)];
		struct iovec iov = { .iov_base = reply, .iov_len = sizeof(reply) };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		if (recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC) <= 0)
			break;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			int *fds = (int *)CMSG_DATA(cm);
			for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				close(fds[i]);
		}
		/* and the "release" round trip, without fds */
		if (send(sp[0], "release", 8, MSG_NOSIGNAL) < 0 ||
		    recv(sp[0], reply, sizeof(reply), 0) <= 0)
			break;
		lat[it] = bench_now_ns() - t0;
	}
	close(sp[0]);
	pthread_join(t, NULL);
	close(sp[1]);
	return f.error;
}

/* ---- the concurrent floor: one poll() server thread (single-threaded like the daemon)
 * answering N client threads over socketpairs, the same exchange as measure_floor ---- */

typedef struct FloorConc {
	int *server_fds;
	unsigned n;
	int n_fds;
	volatile bool stop;
} FloorConc;

static void *floor_conc_server(void *userdata) {
	FloorConc *f = userdata;
	_cleanup_free_ struct pollfd *p = calloc(f->n, sizeof(struct pollfd));
	_cleanup_free_ unsigned *seen = calloc(f->n, sizeof(unsigned));
	int fds[8];

	if (!p || !seen)
		return NULL;
	for (int i = 0; i < f->n_fds; i++)
		fds[i] = memfd_create("bench-floor", MFD_CLOEXEC);
	for (unsigned i = 0; i < f->n; i++)
		p[i] = (struct pollfd){ .fd = f->server_fds[i], .events = POLLIN };
	while (!f->stop) {
		if (poll(p, f->n, 100) <= 0)
			continue;
		for (unsigned i = 0; i < f->n; i++) {
			char req[64];
			if (!(p[i].revents & POLLIN))
				continue;
			if (recv(p[i].fd, req, sizeof(req), 0) <= 0) {
				p[i].fd = -1;
				continue;
			}
			char reply[] = "ok";
			struct iovec iov = { .iov_base = reply, .iov_len = sizeof(reply) };
			char cbuf[CMSG_SPACE(sizeof(int) * 8)] = {};
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
			if (seen[i]++ % 2 == 0) {
				mh.msg_control = cbuf;
				mh.msg_controllen = CMSG_SPACE(sizeof(int) * f->n_fds);
				struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
				cm->cmsg_level = SOL_SOCKET;
				cm->cmsg_type = SCM_RIGHTS;
				cm->cmsg_len = CMSG_LEN(sizeof(int) * f->n_fds);
				memcpy(CMSG_DATA(cm), fds, sizeof(int) * f->n_fds);
			}
			(void)sendmsg(p[i].fd, &mh, MSG_NOSIGNAL);
		}
	}
	for (int i = 0; i < f->n_fds; i++)
		close(fds[i]);
	return NULL;
}

typedef struct FloorWorker {
	pthread_t thread;
	int fd;
	unsigned iterations;
	uint64_t *lat;
} FloorWorker;

static void *floor_conc_worker(void *userdata) {
	FloorWorker *w = userdata;
	for (unsigned it = 0; it < w->iterations; it++) {
		uint64_t t0 = bench_now_ns();
		char reply[16], cbuf[CMSG_SPACE(sizeof(int) * 8)];
		for (int half = 0; half < 2; half++) {
			struct iovec iov = { .iov_base = reply, .iov_len = sizeof(reply) };
			struct msghdr mh = { .msg_iov = &iov,
					     .msg_iovlen = 1,
					     .msg_control = cbuf,
					     .msg_controllen = sizeof(cbuf) };
			if (send(w->fd, "req", 4, MSG_NOSIGNAL) < 0 ||
			    recvmsg(w->fd, &mh, MSG_CMSG_CLOEXEC) <= 0)
				return NULL;
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
			     cm = CMSG_NXTHDR(&mh, cm)) {
				int *fds = (int *)CMSG_DATA(cm);
				for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				     i++)
					close(fds[i]);
			}
		}
		w->lat[it] = bench_now_ns() - t0;
	}
	return NULL;
}

/* Fills lat (n * per entries); returns the throughput in round trips per second, or < 0. */
static double measure_floor_concurrent(unsigned n, unsigned per, int n_fds, uint64_t *lat) {
	_cleanup_free_ int *sfds = calloc(n, sizeof(int));
	_cleanup_free_ FloorWorker *w = calloc(n, sizeof(FloorWorker));
	FloorConc f = { .n = n, .n_fds = n_fds };
	pthread_t server;
	double tput = -1;

	if (!sfds || !w)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
			return -1;
		sfds[i] = sp[1];
		w[i] = (FloorWorker){ .fd = sp[0],
				      .iterations = per,
				      .lat = lat + (size_t)i * per };
	}
	f.server_fds = sfds;
	if (pthread_create(&server, NULL, floor_conc_server, &f) != 0)
		return -1;
	uint64_t t0 = bench_now_ns();
	for (unsigned i = 0; i < n; i++)
		pthread_create(&w[i].thread, NULL, floor_conc_worker, &w[i]);
	for (unsigned i = 0; i < n; i++)
		pthread_join(w[i].thread, NULL);
	tput = (double)n * per / ((double)(bench_now_ns() - t0) / 1e9);
	f.stop = true;
	pthread_join(server, NULL);
	for (unsigned i = 0; i < n; i++) {
		close(w[i].fd);
		close(sfds[i]);
	}
	return tput;
}

/* ---- concurrent clients ---- */

typedef struct Worker {
	pthread_t thread;
	char bdf[BDF_MAX];
	unsigned iterations;
	uint64_t *lat;
	int error;
} Worker;

static pthread_barrier_t start_barrier;

static void *worker_run(void *userdata) {
	Worker *w = userdata;
	_cleanup_(ioasid_client_freep) IoasidClient *c = NULL;

	w->error = ioasid_client_connect(arg_socket, &c);
	pthread_barrier_wait(&start_barrier);
	if (w->error < 0)
		return NULL;
	for (unsigned i = 0; i < w->iterations; i++) {
		uint64_t t0 = bench_now_ns();
		w->error = acquire_release(c, w->bdf, NULL);
		if (w->error < 0)
			return NULL;
		w->lat[i] = bench_now_ns() - t0;
	}
	return NULL;
}

int main(int argc, char **argv) {
	static const struct option options[] = { { "socket", required_argument, NULL, 's' },
						 { "device", required_argument, NULL, 'd' },
						 { "devices", required_argument, NULL, 'D' },
						 { "iterations", required_argument, NULL, 'n' },
						 { "clients", required_argument, NULL, 'c' },
						 { "daemon-pid", required_argument, NULL, 'p' },
						 { "json", no_argument, NULL, 'j' },
						 { "host", required_argument, NULL, 'H' },
						 {} };
	_cleanup_(ioasid_client_freep) IoasidClient *c = NULL;
	_cleanup_free_ uint64_t *lat = NULL, *flat = NULL;
	long rss_idle = -1, rss_after = -1;
	int opt, r, n_fds = 0;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		switch (opt) {
		case 's':
			arg_socket = optarg;
			break;
		case 'd':
			arg_device = optarg;
			break;
		case 'D':
			arg_devices_file = optarg;
			break;
		case 'n':
			arg_iterations = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			arg_clients = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			arg_daemon_pid = (pid_t)strtol(optarg, NULL, 10);
			break;
		case 'j':
			arg_json = true;
			break;
		case 'H':
			arg_host = optarg;
			break;
		default:
			return 64;
		}
	}
	if (!arg_device || arg_iterations == 0 || (arg_clients > 0 && !arg_devices_file)) {
		fprintf(stderr, "Usage: bench-acquire --socket PATH --device BDF [--iterations N] "
				"[--clients N --devices FILE] [--daemon-pid PID] [--host FILE] "
				"[--json]\n");
		return 64;
	}
	if (arg_daemon_pid > 0)
		rss_idle = vm_rss_kib(arg_daemon_pid);

	lat = calloc(arg_iterations, sizeof(uint64_t));
	flat = calloc(arg_iterations, sizeof(uint64_t));
	if (!lat || !flat)
		return 1;

	/* 1. sequential acquire + release */
	r = ioasid_client_connect(arg_socket, &c);
	if (r < 0) {
		fprintf(stderr, "bench-acquire: connect: %s\n", strerror(-r));
		return 69;
	}
	/* warm-up, and learn how many fds one acquire carries */
	if (acquire_release(c, arg_device, &n_fds) < 0)
		return 1;
	long long cpu0 = arg_daemon_pid > 0 ? cpu_us(arg_daemon_pid) : -1;
	uint64_t t_seq = bench_now_ns();
	for (unsigned i = 0; i < arg_iterations; i++) {
		uint64_t t0 = bench_now_ns();
		if (acquire_release(c, arg_device, NULL) < 0)
			return 1;
		lat[i] = bench_now_ns() - t0;
	}
	t_seq = bench_now_ns() - t_seq;
	long long cpu1 = cpu0 >= 0 ? cpu_us(arg_daemon_pid) : -1;
	/* The daemon's CPU time per acquire+release: what its code costs, apart from waiting. */
	double daemon_us = cpu0 >= 0 && cpu1 >= 0 ? (double)(cpu1 - cpu0) / arg_iterations : -1;
	double p50 = bench_percentile_us(lat, arg_iterations, 0.50);
	double p99 = bench_percentile_us(lat, arg_iterations, 0.99);

	/* 2. the floor: bare, and with --host the same kernel work done directly */
	r = measure_floor(arg_iterations, n_fds, NULL, NULL, flat);
	if (r < 0) {
		fprintf(stderr, "bench-acquire: floor: %s\n", strerror(-r));
		return 1;
	}
	double b50 = bench_percentile_us(flat, arg_iterations, 0.50);
	double b99 = bench_percentile_us(flat, arg_iterations, 0.99);
	double f50 = b50, f99 = b99;
	if (arg_host) {
		_cleanup_(host_freep) Host *host = NULL;
		_cleanup_free_ char *err = NULL;
		Kernel *k = NULL;
		r = host_load_json_file(arg_host, &host, &err);
		if (r < 0) {
			fprintf(stderr, "bench-acquire: %s: %s\n", arg_host, strna(err));
			return 1;
		}
		const Device *d = host_find_device(host, arg_device);
		if (!d || (r = kernel_new("sim", host, &k)) < 0) {
			fprintf(stderr, "bench-acquire: sim kernel for %s: %s\n", arg_device,
				d ? strerror(-r) : "no such device in the snapshot");
			return 1;
		}
		r = measure_floor(arg_iterations, n_fds, k, d, flat);
		kernel_free(k);
		if (r < 0) {
			fprintf(stderr, "bench-acquire: floor with kernel work: %s\n",
				strerror(-r));
			return 1;
		}
		f50 = bench_percentile_us(flat, arg_iterations, 0.50);
		f99 = bench_percentile_us(flat, arg_iterations, 0.99);
	}

	/* 3. concurrent clients. Our first connection goes first: with it, 64 clients would be
	 * 65 connections of one uid, above the daemon's per-uid cap of 64. */
	c = ioasid_client_free(c);
	double c50 = 0, c99 = 0, throughput = 0, fc50 = 0, fc99 = 0, fthroughput = 0;
	unsigned per = 0, started = 0;
	if (arg_clients > 0) {
		_cleanup_strv_free_ char **bdfs = NULL;
		_cleanup_free_ char *text = NULL;
		r = read_full_file(arg_devices_file, 1 << 20, &text, NULL);
		if (r < 0) {
			fprintf(stderr, "bench-acquire: %s: %s\n", arg_devices_file, strerror(-r));
			return 1;
		}
		for (char *save = NULL, *tok = strtok_r(text, "\n", &save); tok;
		     tok = strtok_r(NULL, "\n", &save))
			if (*tok && strv_extend(&bdfs, tok) < 0)
				return 1;
		if (strv_length(bdfs) < arg_clients) {
			fprintf(stderr, "bench-acquire: %s lists %zu devices, need %u\n",
				arg_devices_file, strv_length(bdfs), arg_clients);
			return 1;
		}
		per = MAX(arg_iterations / arg_clients, 50u);
		_cleanup_free_ Worker *w = calloc(arg_clients, sizeof(Worker));
		_cleanup_free_ uint64_t *all = calloc((size_t)arg_clients * per, sizeof(uint64_t));
		if (!w || !all)
			return 1;
		pthread_barrier_init(&start_barrier, NULL, arg_clients + 1);
		for (unsigned i = 0; i < arg_clients; i++) {
			snprintf(w[i].bdf, sizeof(w[i].bdf), "%s", bdfs[i]);
			w[i].iterations = per;
			w[i].lat = all + (size_t)i * per;
			if (pthread_create(&w[i].thread, NULL, worker_run, &w[i]) != 0)
				return 1;
			started++;
		}
		pthread_barrier_wait(&start_barrier);
		uint64_t t0 = bench_now_ns();
		bool failed = false;
		for (unsigned i = 0; i < started; i++) {
			pthread_join(w[i].thread, NULL);
			if (w[i].error < 0) {
				fprintf(stderr, "bench-acquire: client %u (%s): %s\n", i, w[i].bdf,
					strerror(-w[i].error));
				failed = true;
			}
		}
		uint64_t elapsed = bench_now_ns() - t0;
		if (failed)
			return 1;
		throughput = (double)arg_clients * per / ((double)elapsed / 1e9);
		c50 = bench_percentile_us(all, (size_t)arg_clients * per, 0.50);
		c99 = bench_percentile_us(all, (size_t)arg_clients * per, 0.99);

		/* The same load against the floor server: how much of the tail is this machine
		 * (arg_clients threads on few CPUs) rather than the daemon. */
		memset(all, 0, sizeof(uint64_t) * arg_clients * per);
		fthroughput = measure_floor_concurrent(arg_clients, per, n_fds, all);
		fc50 = bench_percentile_us(all, (size_t)arg_clients * per, 0.50);
		fc99 = bench_percentile_us(all, (size_t)arg_clients * per, 0.99);
	}
	if (arg_daemon_pid > 0)
		rss_after = vm_rss_kib(arg_daemon_pid);

	double ratio_floor = f50 > 0 ? p50 / f50 : 0;
	double ratio_bare = b50 > 0 ? p50 / b50 : 0;
	double ratio_conc = c50 > 0 ? c99 / c50 : 0;
	if (arg_json) {
		printf("{\"iterations\": %u, \"fdsPerAcquire\": %d, \"p50Us\": %.1f, \"p99Us\": %.1f, "
		       "\"seqOpsPerSec\": %.0f, \"floorP50Us\": %.2f, \"floorP99Us\": %.2f, "
		       "\"ratioP50ToFloor\": %.2f, \"floorKernelWork\": %s, \"bareFloorP50Us\": %.2f, "
		       "\"ratioP50ToBareFloor\": %.2f, \"clients\": %u, \"perClient\": %u, "
		       "\"concurrentOpsPerSec\": %.0f, \"concurrentP50Us\": %.1f, "
		       "\"concurrentP99Us\": %.1f, \"ratioConcurrentP99ToP50\": %.2f, "
		       "\"floorConcurrentOpsPerSec\": %.0f, \"floorConcurrentP50Us\": %.1f, "
		       "\"floorConcurrentP99Us\": %.1f, "
		       "\"daemonCpuUsPerOp\": %.1f, \"rssIdleKiB\": %ld, \"rssAfterKiB\": %ld}\n",
		       arg_iterations, n_fds, p50, p99, arg_iterations / ((double)t_seq / 1e9), f50,
		       f99, ratio_floor, arg_host ? "true" : "false", b50, ratio_bare, arg_clients,
		       per, throughput, c50, c99, ratio_conc, fthroughput, fc50, fc99, daemon_us,
		       rss_idle, rss_after);
		return 0;
	}
	printf("acquire+release, 1 device attached, %u round trips, %d fds each:\n", arg_iterations,
	       n_fds);
	printf("  p50 %.1f us  p99 %.1f us  (%.0f ops/s)\n", p50, p99,
	       arg_iterations / ((double)t_seq / 1e9));
	if (daemon_us >= 0)
		printf("  daemon CPU (user + system) %.1f us per acquire+release\n", daemon_us);
	printf("bare floor: socketpair, a round trip with %d fds (SCM_RIGHTS) + one without:\n",
	       n_fds);
	printf("  p50 %.2f us  p99 %.2f us  (ratio p50/bare floor = %.1fx)\n", b50, b99,
	       ratio_bare);
	if (arg_host) {
		printf("floor: the same round trips, the acquire's kernel work done directly (sim: "
		       "iommufd, IOAS, device open, bind, attach; closed at release):\n");
		printf("  p50 %.2f us  p99 %.2f us\n", f50, f99);
	}
	printf("  ratio p50/floor = %.1fx   (target <= 3x: %s)\n", ratio_floor,
	       ratio_floor <= 3 ? "met" : "NOT met");
	if (arg_clients > 0) {
		printf("%u concurrent clients, %u acquire+release each:\n", arg_clients, per);
		printf("  %.0f ops/s  p50 %.1f us  p99 %.1f us\n", throughput, c50, c99);
		printf("  ratio p99/p50 = %.1fx   (target <= 10x: %s)\n", ratio_conc,
		       ratio_conc <= 10 ? "met" : "NOT met");
		printf("  floor under the same load: %.0f ops/s  p50 %.1f us  p99 %.1f us "
		       "(p99/p50 %.1fx: the tail this machine adds by itself)\n",
		       fthroughput, fc50, fc99, fc50 > 0 ? fc99 / fc50 : 0);
	}
	if (arg_daemon_pid > 0)
		printf("daemon VmRSS: idle %ld KiB, after %ld KiB   (target < 8192 KiB: %s)\n",
		       rss_idle, rss_after,
		       rss_after >= 0 && rss_after < 8192 && rss_idle < 8192 ? "met" : "NOT met");
	bool met = ratio_floor <= 3 && (arg_clients == 0 || ratio_conc <= 10) &&
		   (arg_daemon_pid <= 0 || (rss_after >= 0 && rss_after < 8192 && rss_idle < 8192));
	printf("bench acquire: %s (p50 %.1f us = %.1fx the floor %.2f us%s, %.1fx the bare floor",
	       met ? "PASS" : "MISS", p50, ratio_floor, f50,
	       arg_host ? " with the kernel work" : "", ratio_bare);
	if (arg_clients > 0)
		printf(", %u clients p99 %.1fx p50 at %.0f ops/s", arg_clients, ratio_conc,
		       throughput);
	if (arg_daemon_pid > 0)
		printf(", daemon RSS %ld KiB", MAX(rss_idle, rss_after));
	printf(")\n");
	return 0;
}
