/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * ioasidctl's verbs, one file per family (verbs-*.c), called only from main.c's verb table.
 * A verb reads the options from ioasidctl.h and calls no other verb.
 */

/* Verbs: argv[0] is the verb name. Return an exit code (0, 1, EXIT_*). */
int verb_groups(int argc, char **argv);
int verb_devices(int argc, char **argv);
int verb_show(int argc, char **argv);
int verb_check(int argc, char **argv);
int verb_snapshot(int argc, char **argv);
int verb_acquire(int argc, char **argv);
int verb_run(int argc, char **argv);
int verb_leases(int argc, char **argv);
int verb_status(int argc, char **argv);
int verb_monitor(int argc, char **argv);
int verb_revoke(int argc, char **argv);
int verb_policy(int argc, char **argv);
int verb_layout(int argc, char **argv);
int verb_stage(int argc, char **argv);
int verb_release(int argc, char **argv);
int verb_bind(int argc, char **argv);
int verb_restore(int argc, char **argv);
int verb_vdpa(int argc, char **argv);
int verb_cdi(int argc, char **argv);
/* Is v a CDI version ioasidctl cdi can write (--cdi-version)? */
bool cdi_version_known(const char *v);
