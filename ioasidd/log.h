/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * ioasidd logging: structured journal entries when run under systemd (JOURNAL_STREAM is
 * set), one line on stderr otherwise. Audit: one record per policy decision, rate-limited
 * with a "suppressed N" summary.
 */

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>
#include <sys/types.h>

#include "common/macro.h"

/* Fixed MESSAGE_IDs (128-bit, journalctl MESSAGE_ID=...). */
#define IOASID_MESSAGE_ALLOW "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a01"
#define IOASID_MESSAGE_DENY "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a02"
#define IOASID_MESSAGE_RELEASE "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a03"
#define IOASID_MESSAGE_RELOAD "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a04"
#define IOASID_MESSAGE_RELOAD_FAILED "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a05"
#define IOASID_MESSAGE_SUPPRESSED "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a06"

void log_setup(void);
void log_set_max_level(int level);
/* Logs at priority; returns -abs(err) (or 0 when err is 0) so callers can `return log_...`. */
int log_full(int priority, int err, const char *fmt, ...) _printf_(3, 4);
#define log_debug(...) log_full(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, 0, __VA_ARGS__)
#define log_error_errno(err, ...) log_full(LOG_ERR, (err), __VA_ARGS__)
#define log_warning_errno(err, ...) log_full(LOG_WARNING, (err), __VA_ARGS__)

/* One audit record for one decision. Strings may be NULL. */
typedef struct AuditRecord {
	const char *action;   /* "allow", "deny", "release", ... */
	const char *message_id;
	const char *method;
	const char *device;
	const char *rule;     /* "file:line" or NULL (default deny) */
	const char *reason;
	const char *lease;
	uid_t uid;
	pid_t pid;
	const char *unit;
	uint64_t generation;
} AuditRecord;
void audit_log(const AuditRecord *a);
/* At most burst records per interval_sec, the rest counted and summarized as "suppressed N"
 * when the next window opens (defaults 200 per 10 s; tests set their own). */
void audit_set_rate_limit(unsigned burst, unsigned interval_sec);
/* Copies s into buf with control and non-ASCII bytes escaped as \xNN (log-safe). */
const char *log_escape(const char *s, char *buf, size_t size);
