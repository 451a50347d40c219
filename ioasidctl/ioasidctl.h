/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * ioasidctl: the options every verb reads (arg_*, set by main.c) and the helpers the verbs
 * share, defined in ioasidctl.c. The verbs themselves are declared in verbs.h.
 */

#include <stdbool.h>
#include <stdint.h>

#include "common/host.h"
#include "common/proto.h"

typedef enum JsonMode { JSON_OFF, JSON_PRETTY, JSON_SHORT } JsonMode;

extern JsonMode arg_json;
extern const char *arg_host;     /* --host FILE: work offline on a snapshot */
extern const char *arg_socket;   /* --socket PATH */
extern bool arg_legend;          /* --no-legend clears it */
extern bool arg_vfio;            /* devices --vfio */
extern bool arg_blocking;        /* devices --blocking */
extern bool arg_legacy;          /* groups --legacy: ls-iommu compatible lines */
extern const char *arg_mode;     /* --mode attached|unbound */
extern char **arg_devices;       /* --device BDF (repeatable, canonical) */
extern int arg_iommu_group;      /* --iommu-group N; -1 when unset */
extern const char *arg_pool;     /* --pool NAME */
extern unsigned arg_count;       /* --count N */
extern const char *arg_layout;   /* --layout NAME */
extern const char *arg_for;      /* --for USER|UNIT */
extern uint64_t arg_expire;      /* --expire SECONDS (stage); 0: the daemon's default */
extern const char *arg_user;     /* policy explain --user */
extern const char *arg_group;    /* policy explain --group (a unix group) */
extern const char *arg_unit;     /* policy explain --unit */
extern const char *arg_cgroup;   /* policy explain --cgroup */
extern const char *arg_label;    /* policy explain --label */
extern const char *arg_vdpa;     /* policy explain --vdpa */
extern const char *arg_mgmtdev;  /* vdpa add --mgmtdev */
extern const char *arg_config;   /* --config FILE */
extern const char *arg_lifetime; /* --lifetime connection|process */
extern bool arg_reset;           /* revoke --reset */
extern bool arg_signal;          /* revoke --signal */
extern bool arg_quiet;
extern const char *arg_driver;      /* bind --driver (default "vfio-pci") */
extern bool arg_dry_run;            /* bind --dry-run */
extern bool arg_force;              /* bind --force */
extern bool arg_all;                /* restore --all */
extern const char *arg_root;        /* --root DIR (tests): sys/, proc/, run/ioasid/; NULL: "/" */
extern unsigned arg_fds_from;       /* run --fds-from N: the first fd number CMD gets (3) */
extern const char *arg_output;      /* cdi --output FILE ("-": stdout); NULL: the default */
extern const char *arg_cdi_version; /* cdi --cdi-version; NULL: the default */

/* Loads the host model: the --host snapshot when given, else the live system. Prints the
 * error itself; returns 0 or -errno. */
int ioasidctl_load_host(Host **ret);

/* One specific error line on stderr ("ioasidctl: ..."), returns `code`. */
int ioasidctl_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
