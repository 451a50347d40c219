/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The vdpa family's rules as one sequence through the kernel seam: run on the real kernel by
 * `kernel-probe --vdpa-rules` in the VM (scenario VD, vdpasim_net loaded, no vDPA device yet,
 * vhost_vdpa the bus's driver) and replayed on the sim by the unit test kernel-sim/vdpa_rules;
 * both outputs must equal tests/tools/vdpa-rules.expected line for line (lines starting with
 * '#' are comments). Static functions: include this header in one translation unit per
 * program. Devices are called vdr0, vdr1, vdr2; the dumps list every management device and
 * the vdr* devices, so the sequence must start with none of those.
 *
 * Output: "<case> <answer>" a line, the answer "ok" or the errno's name, or what a dump
 * listed. Nothing printed depends on fd numbers or the char device's major.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/host.h"
#include "common/kernel-sim.h"
#include "common/kernel.h"
#include "common/macro.h"
#include "common/util.h"

static const char *vr_result(int r) {
	return r >= 0 ? "ok" : strna(errno_name(r));
}

/* What a dump lists: "mgmtdevs=A,B devices=NAME:MGMT:CLASS:VENDOR:DRIVER:CHARDEV,...". The
 * devices of the sequence only (vdr*), in name order. A device of the sequence is copied to
 * *keep (its vhost fields) when keep_name names it. */
static void vr_dump(Kernel *k, FILE *out, const char *what, const char *keep_name,
		    VdpaDevice *keep) {
	_cleanup_host_free_ Host *h = calloc(1, sizeof(*h));
	int r = h ? kernel_vdpa_dump(k, h) : -ENOMEM;
	if (r <= 0) {
		fprintf(out, "%s %s\n", what, r == 0 ? "no-family" : vr_result(r));
		return;
	}
	fprintf(out, "%s mgmtdevs=", what);
	for (size_t i = 0; i < h->n_vdpa_mgmtdevs; i++) {
		char buf[300];
		fprintf(out, "%s%s", i ? "," : "",
			vdpa_mgmtdev_handle(h->vdpa_mgmtdevs[i].bus, h->vdpa_mgmtdevs[i].name, buf,
					    sizeof(buf)));
	}
	fprintf(out, " devices=");
	bool any = false;
	/* Name order without sorting the array: at most a few devices. */
	const char *last = "";
	for (;;) {
		const VdpaDevice *next = NULL;
		for (size_t i = 0; i < h->n_vdpa_devices; i++) {
			const VdpaDevice *v = &h->vdpa_devices[i];
			if (strncmp(v->name, "vdr", 3) == 0 && strcmp(v->name, last) > 0 &&
			    (!next || strcmp(v->name, next->name) < 0))
				next = v;
		}
		if (!next)
			break;
		char buf[300];
		fprintf(out, "%s%s:%s:%s:%u:%s:%s", any ? "," : "", next->name,
			vdpa_mgmtdev_handle(next->mgmtdev_bus, next->mgmtdev_name, buf,
					    sizeof(buf)),
			strna(vdpa_device_class_name(next->device_id)), next->vendor_id,
			strna(next->driver), strna(next->vhost_name));
		if (keep && keep_name && streq(next->name, keep_name) && next->vhost_name) {
			keep->name = strdup(next->name);
			keep->vhost_name = strdup(next->vhost_name);
			keep->vhost_major = next->vhost_major;
			keep->vhost_minor = next->vhost_minor;
		}
		any = true;
		last = next->name;
	}
	fprintf(out, "%s\n", any ? "" : "-");
}

/* In a child without CAP_NET_ADMIN (the sim: told so; linux: dropped from the effective
 * set): an add (del when mgmt is NULL) and a dump; "<add> <dump>" as answered there. */
static void vr_unprivileged(Kernel *k, FILE *out, const char *what, const char *mgmt,
			    const char *name) {
	int p[2];
	if (pipe(p) < 0) {
		fprintf(out, "%s pipe-failed\n", what);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		int r = 0;
		if (kernel_is_sim(k))
			r = kernel_sim_override_cap_net_admin(k, 0);
		else {
			struct __user_cap_header_struct hd = {
				.version = _LINUX_CAPABILITY_VERSION_3
			};
			struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
			if (syscall(SYS_capget, &hd, d) < 0 ||
			    (d[CAP_TO_INDEX(CAP_NET_ADMIN)].effective &= ~CAP_TO_MASK(
				     CAP_NET_ADMIN),
			     syscall(SYS_capset, &hd, d) < 0))
				r = -errno;
		}
		if (r >= 0)
			r = mgmt ? kernel_vdpa_dev_add(k, NULL, mgmt, name)
				 : kernel_vdpa_dev_del(k, name);
		_cleanup_host_free_ Host *h = calloc(1, sizeof(*h));
		int dr = h ? kernel_vdpa_dump(k, h) : -ENOMEM;
		dprintf(p[1], "%s dump=%s", vr_result(r), vr_result(dr));
		_exit(0);
	}
	close(p[1]);
	char buf[128] = "fork-failed";
	if (pid > 0) {
		ssize_t n = read(p[0], buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		waitpid(pid, NULL, 0);
	}
	close(p[0]);
	fprintf(out, "%s %s\n", what, buf);
}

/* The process state letter of pid ('S' sleeping, 'D' uninterruptible), '?' when unknown. */
static char vr_proc_state(pid_t pid) {
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	const char *e = strrchr(buf, ')');
	return e && e[1] == ' ' ? e[2] : '?';
}

/*
 * del of a device whose char device is open in another process: the kernel waits for the
 * close. This process opens it, a child inherits the file, this one closes its copy and
 * dels; the child waits until this process sleeps (in the del), says so on a pipe and closes.
 * "waited" when the del returned after the child's close, "did-not-wait" when before.
 */
static void vr_del_while_open(Kernel *k, FILE *out, const VdpaDevice *v) {
	int fd = -EBADF, p[2];
	int r = kernel_vhost_vdpa_open(k, v, &fd);
	if (r < 0) {
		fprintf(out, "del-while-open open=%s\n", vr_result(r));
		return;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		kernel_closep(k, &fd);
		fprintf(out, "del-while-open pipe-failed\n");
		return;
	}
	pid_t parent = getpid(), pid = fork();
	if (pid == 0) {
		close(p[0]);
		/* Polled, not timed: the answer does not depend on how long this takes. */
		for (unsigned i = 0; i < 20000; i++) {
			char st = vr_proc_state(parent);
			if (st == 'S' || st == 'D')
				break;
			usleep(500);
		}
		(void)!write(p[1], "c", 1);
		close(fd);
		_exit(0);
	}
	close(p[1]);
	kernel_closep(k, &fd); /* the child's copy keeps the file open */
	r = pid > 0 ? kernel_vdpa_dev_del(k, v->name) : -ECHILD;
	char c = 0;
	int fl = fcntl(p[0], F_GETFL);
	fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
	bool closed = read(p[0], &c, 1) == 1;
	close(p[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	fprintf(out, "del-while-open %s %s\n", vr_result(r), closed ? "waited" : "did-not-wait");
}

static void vr_case(FILE *out, const char *what, int r) {
	fprintf(out, "%s %s\n", what, vr_result(r));
}

static void vr_vdpa_free(VdpaDevice *v) {
	free(v->name);
	free(v->vhost_name);
	*v = (VdpaDevice){};
}

/* The sequence. Returns 0; what the kernel answered is in the output. */
static int vdpa_rules_run(Kernel *k, FILE *out) {
	VdpaDevice v0 = {}, v0b = {};
	int fd = -EBADF, fd2 = -EBADF;
	_cleanup_free_ char *held = NULL;

	vr_dump(k, out, "dump-start", NULL, NULL);
	vr_case(out, "add-no-name", kernel_vdpa_dev_add(k, NULL, "vdpasim_net", NULL));
	vr_case(out, "add-no-mgmtdev", kernel_vdpa_dev_add(k, NULL, NULL, "vdr0"));
	vr_case(out, "add-unknown-mgmtdev", kernel_vdpa_dev_add(k, NULL, "nosuch_mgmt", "vdr0"));
	vr_case(out, "add-bus-on-software-mgmtdev",
		kernel_vdpa_dev_add(k, "pci", "vdpasim_net", "vdr0"));
	vr_unprivileged(k, out, "add-without-net-admin", "vdpasim_net", "vdr0");
	vr_case(out, "add", kernel_vdpa_dev_add(k, NULL, "vdpasim_net", "vdr0"));
	vr_dump(k, out, "dump-one", "vdr0", &v0);
	vr_case(out, "add-taken-name", kernel_vdpa_dev_add(k, NULL, "vdpasim_net", "vdr0"));
	vr_case(out, "add-taken-name-unknown-mgmtdev",
		kernel_vdpa_dev_add(k, NULL, "nosuch_mgmt", "vdr0"));
	vr_case(out, "open-first", v0.name ? kernel_vhost_vdpa_open(k, &v0, &fd) : -ENOENT);
	vr_case(out, "open-second", v0.name ? kernel_vhost_vdpa_open(k, &v0, &fd2) : -ENOENT);
	kernel_closep(k, &fd2);
	vr_unprivileged(k, out, "del-without-net-admin", NULL, "vdr0");
	vr_case(out, "del-no-name", kernel_vdpa_dev_del(k, NULL));
	vr_case(out, "del-unknown", kernel_vdpa_dev_del(k, "vdr9"));
	vr_case(out, "del-unopened-while-open", kernel_vdpa_dev_del_unopened(k, "vdr0", &held));
	fprintf(out, "del-unopened-names %s\n", strna(held));
	kernel_closep(k, &fd);
	vr_case(out, "open-after-close", v0.name ? kernel_vhost_vdpa_open(k, &v0, &fd) : -ENOENT);
	kernel_closep(k, &fd);
	vr_case(out, "add-second", kernel_vdpa_dev_add(k, NULL, "vdpasim_net", "vdr1"));
	vr_dump(k, out, "dump-two", NULL, NULL);
	vr_case(out, "del-unopened", kernel_vdpa_dev_del_unopened(k, "vdr0", NULL));
	vr_case(out, "open-deleted", v0.name ? kernel_vhost_vdpa_open(k, &v0, &fd) : -ENOENT);
	kernel_closep(k, &fd);
	vr_case(out, "add-third", kernel_vdpa_dev_add(k, NULL, "vdpasim_net", "vdr2"));
	vr_dump(k, out, "dump-minor-reused", "vdr2", &v0b);
	/* vdr0's record names vhost-vdpa-0 with the dev_t vdr2 now has. */
	vr_case(out, "open-deleted-minor-reused",
		v0.name ? kernel_vhost_vdpa_open(k, &v0, &fd) : -ENOENT);
	kernel_closep(k, &fd);
	if (v0b.name)
		vr_del_while_open(k, out, &v0b);
	else
		fprintf(out, "del-while-open no-device\n");
	vr_dump(k, out, "dump-after-del-while-open", NULL, NULL);
	vr_case(out, "del", kernel_vdpa_dev_del(k, "vdr1"));
	vr_case(out, "del-deleted", kernel_vdpa_dev_del(k, "vdr1"));
	vr_dump(k, out, "dump-end", NULL, NULL);
	vr_vdpa_free(&v0);
	vr_vdpa_free(&v0b);
	return 0;
}
