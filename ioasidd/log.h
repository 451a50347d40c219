/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * ioasidd logging: structured journal entries when run under systemd (JOURNAL_STREAM is
 * set), one line on stderr otherwise. Audit: one record per decision and per state change,
 * with a fixed MESSAGE_ID per kind; denials are rate-limited per uid (audit_log()).
 */

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>
#include <sys/types.h>

#include "common/macro.h"

/* Fixed MESSAGE_IDs (128-bit, journalctl MESSAGE_ID=...), listed in ioasidd(8). */
#define IOASID_MESSAGE_ALLOW "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a01"
#define IOASID_MESSAGE_DENY "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a02"
#define IOASID_MESSAGE_RELEASE "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a03"
#define IOASID_MESSAGE_RELOAD "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a04"
#define IOASID_MESSAGE_RELOAD_FAILED "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a05"
#define IOASID_MESSAGE_SUPPRESSED "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a06"
#define IOASID_MESSAGE_REVOKE "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a07"

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

/* What made a state change happen, for the records it writes: the Varlink method being served
 * and its caller, or a signal and its sender, or the daemon itself (method NULL). */
typedef struct AuditActor {
	const char *method; /* NULL: not a method call */
	const char *cause;  /* "request", "signal SIGHUP", "shutdown", ... (AuditRecord.cause) */
	uid_t uid;          /* (uid_t)-1: none */
	pid_t pid;          /* 0: none */
	const char *unit;
} AuditActor;

/*
 * One audit record. Strings may be NULL (printed as "-"). uid is printed unsigned,
 * (uid_t)-1 as "-"; pid 0 as "-".
 *   action   allow, deny, release, revoke, reload, reload-failed, stage, drop-staged
 *   cause    why it happened: "request" (the peer's own call, named by method), "signal
 *            SIGHUP", "reload" (a revocation the reload of generation caused), "shutdown",
 *            "client-gone", "process-exit", "device-gone", "revoke by uid N", "release by
 *            uid N", "lease-end" (any other end), "rate-limit" (summaries)
 *   error    for a deny: the Varlink error the client got
 * For a lease's records uid/pid/unit are the holder's; the actor, when another, is in cause.
 */
typedef struct AuditRecord {
	const char *action;
	const char *message_id;
	const char *method;
	const char *cause;
	const char *device; /* a BDF, or several separated by commas */
	const char *rule;   /* "file:line" or NULL (default deny) */
	const char *error;
	const char *reason;
	const char *lease;
	uid_t uid;
	pid_t pid;
	const char *unit;
	uint64_t generation;
	unsigned suppressed; /* summaries only: how many records were dropped */
} AuditRecord;

/*
 * Writes a (never NULL action/message_id). Denials (action "deny") are rate-limited per uid:
 * at most burst per interval for each of AUDIT_UID_SLOTS uids, uids beyond that sharing one
 * more budget; the rest are counted and summarized (action "suppressed", naming the uid and
 * the count) once the uid's window has ended, at the next audit record or audit_flush().
 * Every other record is written, always: a flood of denials cannot hide a state change.
 */
#define AUDIT_UID_SLOTS 64
#define AUDIT_DENY_BURST 20
#define AUDIT_DENY_INTERVAL_SEC 10
void audit_log(const AuditRecord *a);
/* Sets the per-uid denial budget (tests) and forgets every window. */
void audit_set_rate_limit(unsigned burst, unsigned interval_sec);
/* Writes the summary of every uid with suppressed records now (at exit). */
void audit_flush(void);
/* Copies s into buf with control and non-ASCII bytes escaped as \xNN (log-safe). */
const char *log_escape(const char *s, char *buf, size_t size);
