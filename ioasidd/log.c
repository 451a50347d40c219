/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Logging (the journal under systemd, else one line on stderr) and audit records, denials
 * rate-limited per uid. Layer: a leaf, used by every other daemon file.
 */
#include <assert.h>
#include <stdarg.h>
#include <sys/uio.h>
#include <time.h>
#include <systemd/sd-journal.h>

#include "ioasidd/log.h"

static bool use_journal;
static int max_level = LOG_INFO;

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

/* Like log_escape(), and also escapes '"', and blanks when the value is not quoted: a value a
 * peer controls (its unit, a reason naming its cgroup) can neither end its field nor forge
 * another in the key=value form. */
static const char *escape_value(const char *s, bool quoted, char *buf, size_t size) {
	size_t j = 0;
	if (isempty(s))
		s = "-";
	for (; *s && j + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f || c == '\\' || c == '"' || (!quoted && c == ' '))
			j += (size_t)snprintf(buf + j, size - j, "\\x%02x", c);
		else
			buf[j++] = (char)c;
	}
	buf[j] = '\0';
	return buf;
}

static const char *id_text(unsigned long long v, bool known, char *buf, size_t size) {
	if (known)
		snprintf(buf, size, "%llu", v);
	else
		snprintf(buf, size, "-");
	return buf;
}

/* The audit line under construction: text, its size, and where the next part goes. */
typedef struct Line {
	char *text;
	size_t size, len;
} Line;

/* Appends s, as much as fits. */
static void line_put(Line *l, const char *s) {
	size_t n = MIN(strlen(s), l->size - 1 - l->len);
	memcpy(l->text + l->len, s, n);
	l->len += n;
	l->text[l->len] = '\0';
}

/* Appends s escaped (escape_value()) and cut as a buffer of max bytes would cut it. */
static void line_put_escaped(Line *l, const char *s, bool quoted, size_t max) {
	escape_value(s, quoted, l->text + l->len, MIN(max, l->size - l->len));
	l->len += strlen(l->text + l->len);
}

static void audit_emit(const AuditRecord *a) {
	char uid[16], pid[16], num[32];
	/* Unsigned: uid 4294967294 is a uid, not -2. */
	id_text(a->uid, a->uid != (uid_t)-1, uid, sizeof(uid));
	id_text((unsigned long long)a->pid, a->pid > 0, pid, sizeof(pid));
	/* One key=value line; the same text is the journal entry's MESSAGE. Built part by part
	 * rather than with one snprintf() over escaped copies, and not zero-filled first: the
	 * two were more than a third of the daemon's instructions in the acquire benchmark. The
	 * line has room for every part at its largest (the limits below). */
	char text[12288];
	Line line = { .text = text, .size = sizeof(text) }, *l = &line;
	text[0] = '\0';
	line_put(l, "audit: message_id=");
	line_put(l, a->message_id);
	line_put(l, " action=");
	line_put(l, a->action);
	line_put(l, " method=");
	line_put_escaped(l, a->method, false, 300);
	line_put(l, " cause=\"");
	line_put_escaped(l, a->cause, true, 300);
	line_put(l, "\" uid=");
	line_put(l, uid);
	line_put(l, " pid=");
	line_put(l, pid);
	line_put(l, " unit=");
	line_put_escaped(l, a->unit, false, 1024);
	line_put(l, " device=");
	line_put_escaped(l, a->device, false, 4096);
	line_put(l, " rule=");
	line_put_escaped(l, a->rule ? a->rule : "default", false, 1024);
	line_put(l, " error=");
	line_put_escaped(l, a->error, false, 300);
	snprintf(num, sizeof(num), " generation=%llu", (unsigned long long)a->generation);
	line_put(l, num);
	line_put(l, " lease=");
	line_put_escaped(l, a->lease, false, 160);
	line_put(l, " ");
	if (a->suppressed > 0) {
		snprintf(num, sizeof(num), "suppressed=%u ", a->suppressed);
		line_put(l, num);
	}
	line_put(l, "reason=\"");
	line_put_escaped(l, a->reason, true, 2048);
	line_put(l, "\"");
	if (!use_journal) {
		/* The line as it is, in one write: formatting it again through stdio cost as much
		 * as building it. */
		struct iovec out[] = { { .iov_base = (char *)"ioasidd: ", .iov_len = 9 },
				       { .iov_base = text, .iov_len = line.len },
				       { .iov_base = (char *)"\n", .iov_len = 1 } };
		ssize_t n = writev(STDERR_FILENO, out, ELEMENTSOF(out));
		(void)n; /* a failed write of stderr has nowhere to be reported */
		return;
	}
	int priority = streq(a->action, "deny")         ? LOG_NOTICE
		       : streq(a->action, "suppressed") ? LOG_WARNING
							: LOG_INFO;
	/* Fields carry the values with control bytes escaped only. */
	char f[16][2304];
	size_t n = 0;
#define FIELD(...) snprintf(f[n++], sizeof(f[0]), __VA_ARGS__)
	char e[4096];
	FIELD("MESSAGE_ID=%s", a->message_id);
	FIELD("PRIORITY=%i", priority);
	FIELD("SYSLOG_IDENTIFIER=ioasidd");
	FIELD("ACTION=%s", a->action);
	FIELD("METHOD=%s", log_escape(a->method ? a->method : "", e, sizeof(e)));
	FIELD("CAUSE=%s", log_escape(a->cause ? a->cause : "", e, sizeof(e)));
	FIELD("UID=%s", streq(uid, "-") ? "" : uid);
	FIELD("PID=%s", streq(pid, "-") ? "" : pid);
	FIELD("UNIT=%s", log_escape(a->unit ? a->unit : "", e, sizeof(e)));
	FIELD("DEVICE=%s", log_escape(a->device ? a->device : "", e, sizeof(e)));
	FIELD("RULE=%s", log_escape(a->rule ? a->rule : "default", e, sizeof(e)));
	FIELD("ERROR=%s", log_escape(a->error ? a->error : "", e, sizeof(e)));
	FIELD("GENERATION=%llu", (unsigned long long)a->generation);
	FIELD("LEASE=%s", log_escape(a->lease ? a->lease : "", e, sizeof(e)));
	FIELD("REASON=%s", log_escape(a->reason ? a->reason : "", e, sizeof(e)));
	if (a->suppressed > 0)
		FIELD("SUPPRESSED=%u", a->suppressed);
#undef FIELD
	char message[sizeof(text) + 16];
	snprintf(message, sizeof(message), "MESSAGE=%s", text);
	struct iovec iov[ELEMENTSOF(f) + 1];
	iov[0] = (struct iovec){ .iov_base = message, .iov_len = strlen(message) };
	for (size_t i = 0; i < n; i++)
		iov[i + 1] = (struct iovec){ .iov_base = f[i], .iov_len = strlen(f[i]) };
	(void)sd_journal_sendv(iov, (int)n + 1);
}

/*
 * The denial budget of one uid: a window of audit_interval_sec from its first denial, at most
 * audit_burst records in it, the rest counted. A slot is free again once its window has ended
 * and its summary is written. uids arriving while all AUDIT_UID_SLOTS are busy share
 * `overflow`: a flood from many uids (a user namespace's range) is bounded by the table size,
 * never by the count of uids.
 */
typedef struct AuditBudget {
	bool used;
	uid_t uid;
	uint64_t window_start;
	unsigned n;
	unsigned suppressed;
} AuditBudget;

static unsigned audit_burst = AUDIT_DENY_BURST;
static unsigned audit_interval_sec = AUDIT_DENY_INTERVAL_SEC;
static AuditBudget audit_budgets[AUDIT_UID_SLOTS];
static AuditBudget audit_overflow;

static void budget_summarize(AuditBudget *b) {
	if (b->suppressed > 0) {
		char reason[200];
		bool other = b == &audit_overflow;
		if (other)
			snprintf(reason, sizeof(reason),
				 "%u denial records of uids beyond the %u tracked suppressed (more "
				 "than %u in %us)",
				 b->suppressed, (unsigned)AUDIT_UID_SLOTS, audit_burst,
				 audit_interval_sec);
		else
			snprintf(reason, sizeof(reason),
				 "%u denial records of uid %u suppressed (more than %u in %us)",
				 b->suppressed, (unsigned)b->uid, audit_burst, audit_interval_sec);
		audit_emit(&(AuditRecord){
			.action = "suppressed",
			.message_id = IOASID_MESSAGE_SUPPRESSED,
			.cause = "rate-limit",
			.reason = reason,
			.uid = other ? (uid_t)-1 : b->uid,
			.suppressed = b->suppressed,
		});
	}
	*b = (AuditBudget){ .used = false };
}

/* Ends every window that is over (all of them with force), writing their summaries. */
static void budgets_expire(uint64_t now, bool force) {
	for (size_t i = 0; i <= ELEMENTSOF(audit_budgets); i++) {
		AuditBudget *b = i < ELEMENTSOF(audit_budgets) ? &audit_budgets[i]
							       : &audit_overflow;
		if (b->used && (force || now >= b->window_start + audit_interval_sec))
			budget_summarize(b);
	}
}

static AuditBudget *budget_for(uid_t uid, uint64_t now) {
	AuditBudget *free_slot = NULL;
	for (size_t i = 0; i < ELEMENTSOF(audit_budgets); i++) {
		AuditBudget *b = &audit_budgets[i];
		if (b->used && b->uid == uid)
			return b;
		if (!b->used && !free_slot)
			free_slot = b;
	}
	AuditBudget *b = free_slot ? free_slot : &audit_overflow;
	if (!b->used)
		*b = (AuditBudget){ .used = true, .uid = uid, .window_start = now };
	return b;
}

void audit_set_rate_limit(unsigned burst, unsigned interval_sec) {
	audit_burst = burst;
	audit_interval_sec = interval_sec;
	memset(audit_budgets, 0, sizeof(audit_budgets));
	audit_overflow = (AuditBudget){ .used = false };
}

void audit_flush(void) {
	budgets_expire(0, true);
}

void audit_log(const AuditRecord *a) {
	assert(a && a->action && a->message_id);
	uint64_t now = now_sec();
	budgets_expire(now, false);
	if (streq(a->action, "deny")) {
		AuditBudget *b = budget_for(a->uid, now);
		if (b->n >= audit_burst) {
			b->suppressed++;
			return;
		}
		b->n++;
	}
	audit_emit(a);
}
