/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasidctl: the state every verb reads (the arg_* options, set by main.c's option parser)
 * and the helpers they share. The bottom of the CLI: it calls no verb and nothing in
 * main.c, so the verbs and main() depend on it and not the other way round.
 */
#include <stdarg.h>

#include "common/macro.h"
#include "ioasidctl/ioasidctl.h"

JsonMode arg_json = JSON_OFF;
const char *arg_host = NULL;
const char *arg_socket = NULL;
bool arg_legend = true;
bool arg_vfio = false;
bool arg_blocking = false;
bool arg_legacy = false;
const char *arg_mode = NULL;
char **arg_devices = NULL;
int arg_iommu_group = -1;
const char *arg_pool = NULL;
unsigned arg_count = 0;
const char *arg_layout = NULL;
const char *arg_for = NULL;
const char *arg_user = NULL;
const char *arg_group = NULL;
const char *arg_unit = NULL;
const char *arg_cgroup = NULL;
const char *arg_label = NULL;
const char *arg_vdpa = NULL;
const char *arg_mgmtdev = NULL;
const char *arg_config = NULL;
const char *arg_lifetime = NULL;
bool arg_reset = false;
bool arg_signal = false;
uint64_t arg_expire = 0;
bool arg_quiet = false;
unsigned arg_fds_from = 3;
const char *arg_driver = "vfio-pci";
bool arg_dry_run = false;
bool arg_force = false;
bool arg_all = false;
const char *arg_root = NULL;
const char *arg_output = NULL;
const char *arg_cdi_version = NULL;

int ioasidctl_error(int code, const char *fmt, ...) {
	va_list ap;
	fputs("ioasidctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int ioasidctl_load_host(Host **ret) {
	int r;
	if (arg_host) {
		_cleanup_free_ char *err = NULL;
		r = host_load_json_file(arg_host, ret, &err);
		if (r < 0)
			ioasidctl_error(1, "Cannot load host snapshot '%s': %s", arg_host,
					err ? err : strerror(-r));
		return r;
	}
	r = host_load_live(ret);
	if (r < 0)
		ioasidctl_error(1, "Cannot read the host's devices from sysfs: %s", strerror(-r));
	return r;
}
