/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <time.h>
#include <systemd/sd-journal.h>

#include "ioasidd/log.h"

static bool use_journal;
static int max_level = LOG_INFO;

/* Audit rate limit: at most audit_burst records per audit_interval_sec; the rest are counted
 * and summarized once the window ends. */
static unsigned audit_burst = 200;
static unsigned audit_interval_sec = 10;
static uint64_t audit_window_start;
static unsigned audit_in_window;
static unsigned audit_suppressed;

void log_setup(void) {
	/* JOURNAL_STREAM is set by systemd when stderr is connected to the journal. */
	const char *e = getenv("JOURNAL_STREAM");
	use_journal = !isempty(e);
	const char *lvl = getenv("IOASIDD_LOG_LEVEL");
	if (lvl && streq(lvl, "debug"))
		max_level = LOG_DEBUG;
}

void log_set_max_level(int level) {
	max_level = level;
}

const char *log_escape(const char *s, char *buf, size_t size) {
	size_t j = 0;
	if (!s)
		s = "(null)";
	for (; *s && j + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f || c == '\\') {
			j += (size_t)snprintf(buf + j, size - j, "\\x%02x", c);
		} else
			buf[j++] = (char)c;
	}
	buf[j] = '\0';
	return buf;
}

int log_full(int priority, int err, const char *fmt, ...) {
	int r = err == 0 ? 0 : -abs(err);
	if (priority > max_level)
		return r;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int saved = errno;
	if (err != 0)
		errno = abs(err); /* for %m */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	errno = saved;
	va_end(ap);
	if (use_journal) {
		if (err != 0)
			sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", priority, "ERRNO=%i",
					abs(err), "SYSLOG_IDENTIFIER=ioasidd", NULL);
		else
			sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", priority,
					"SYSLOG_IDENTIFIER=ioasidd", NULL);
	} else
		fprintf(stderr, "ioasidd: %s\n", msg);
	return r;
}

static uint64_t now_sec(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static void audit_emit(const AuditRecord *a) {
	char dev[128], unit[256], reason[512], method[300];
	log_escape(a->device, dev, sizeof(dev));
	log_escape(a->unit, unit, sizeof(unit));
	log_escape(a->reason, reason, sizeof(reason));
	log_escape(a->method, method, sizeof(method));
	const char *rule = a->rule ? a->rule : "default";
	if (use_journal) {
		sd_journal_send("MESSAGE=audit: %s %s uid=%d pid=%d device=%s rule=%s: %s",
				a->action, method, (int)a->uid, (int)a->pid, dev, rule, reason,
				"MESSAGE_ID=%s", a->message_id, "PRIORITY=%i",
				streq(a->action, "deny") ? LOG_NOTICE : LOG_INFO, "ACTION=%s",
				a->action, "RULE=%s", rule, "UID=%d", (int)a->uid, "PID=%d",
				(int)a->pid, "UNIT=%s", a->unit ? unit : "", "DEVICE=%s",
				a->device ? dev : "", "METHOD=%s", method, "GENERATION=%llu",
				(unsigned long long)a->generation, "LEASE=%s", strempty(a->lease),
				"REASON=%s", reason, "SYSLOG_IDENTIFIER=ioasidd", NULL);
	} else
		fprintf(stderr,
		        "ioasidd: audit: action=%s method=%s uid=%d pid=%d unit=%s device=%s "
		        "rule=%s "
		        "generation=%llu lease=%s reason=\"%s\"\n",
		        a->action, method, (int)a->uid, (int)a->pid, a->unit ? unit : "-",
		        a->device ? dev : "-", rule, (unsigned long long)a->generation,
		        a->lease ? a->lease : "-", reason);
}

void audit_set_rate_limit(unsigned burst, unsigned interval_sec) {
	audit_burst = burst;
	audit_interval_sec = interval_sec;
	audit_window_start = 0;
	audit_in_window = 0;
	audit_suppressed = 0;
}

void audit_log(const AuditRecord *a) {
	uint64_t now = now_sec();
	if (now >= audit_window_start + audit_interval_sec) {
		if (audit_suppressed > 0) {
			if (use_journal)
				sd_journal_send("MESSAGE=audit: suppressed %u records",
				                audit_suppressed, "MESSAGE_ID=%s",
				                IOASID_MESSAGE_SUPPRESSED, "SUPPRESSED=%u",
				                audit_suppressed, "PRIORITY=%i", LOG_WARNING,
				                "SYSLOG_IDENTIFIER=ioasidd", NULL);
			else
				fprintf(stderr, "ioasidd: audit: suppressed %u records\n",
					audit_suppressed);
		}
		audit_window_start = now;
		audit_in_window = 0;
		audit_suppressed = 0;
	}
	if (audit_in_window >= audit_burst) {
		audit_suppressed++;
		return;
	}
	audit_in_window++;
	audit_emit(a);
}
