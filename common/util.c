/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/util.h"

static int hexval(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads exactly n hex digits from *p, advancing it. */
static int take_hex(const char **p, size_t n, unsigned *ret) {
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		int h = hexval((*p)[i]);
		if (h < 0)
			return -EINVAL;
		v = v * 16 + (unsigned)h;
	}
	*p += n;
	*ret = v;
	return 0;
}

int bdf_parse(const char *s, char ret[static BDF_MAX]) {
	unsigned domain = 0, bus, dev, fn;
	const char *p = s;

	if (!s)
		return -EINVAL;
	/* The domain is as long as what follows ":bb:dd.f" leaves: 4 to 8 digits, so a value
	 * above 0xffffffff cannot be written and "%04x" of any pci_domain_nr (an int) is taken.
	 * Extra leading zeros ("00010000:") name the same domain and are dropped below. */
	size_t len = strnlen(s, BDF_MAX);
	if (len >= 12 && len <= 16) {
		if (take_hex(&p, len - 8, &domain) < 0 || *p++ != ':')
			return -EINVAL;
	} else if (len != 7)
		return -EINVAL;
	if (take_hex(&p, 2, &bus) < 0 || *p++ != ':')
		return -EINVAL;
	if (take_hex(&p, 2, &dev) < 0 || *p++ != '.')
		return -EINVAL;
	if (take_hex(&p, 1, &fn) < 0 || *p != '\0')
		return -EINVAL;
	if (dev > 0x1f || fn > 7)
		return -EINVAL;
	/* "%04x:%02x:%02x.%x" by hand: a host scan checks ~20k BDFs (bdf_is_canonical), and
	 * snprintf() made that a tenth of `ioasidctl groups` on 4096 devices. */
	static const char hex[] = "0123456789abcdef";
	unsigned nd = 4;
	while (nd < 8 && domain >> (4 * nd))
		nd++;
	char *o = ret;
	for (unsigned i = nd; i > 0; i--)
		*o++ = hex[(domain >> (4 * (i - 1))) & 0xf];
	const unsigned v[] = { bus >> 4, bus, dev >> 4, dev, fn };
	*o++ = ':';
	for (size_t i = 0; i < ELEMENTSOF(v); i++) {
		*o++ = hex[v[i] & 0xf];
		if (i == 1)
			*o++ = ':';
		else if (i == 3)
			*o++ = '.';
	}
	*o = '\0';
	return 0;
}

static bool is_lower_hex(char c) {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Exactly what bdf_parse() prints back unchanged: "dddd:bb:dd.f" in lower-case hex, the
 * domain 4 digits or 5 to 8 without a leading zero ("%04x"), the device at most 0x1f and
 * the function at most 7. Checked in place: a host scan checks ~20k names (every sysfs entry
 * and link target). */
bool bdf_is_canonical(const char *s) {
	if (!s)
		return false;
	size_t n = 0;
	while (n < 8 && is_lower_hex(s[n])) /* a NUL stops it, so nothing past it is read */
		n++;
	if (n < 4 || (n > 4 && s[0] == '0'))
		return false;
	const char *t = s + n; /* ":bb:dd.f" */
	for (size_t i = 0; i < 8; i++) {
		char c = t[i]; /* a NUL fails every test below, so nothing past it is read */
		if (i == 0 || i == 3) {
			if (c != ':')
				return false;
		} else if (i == 6) {
			if (c != '.')
				return false;
		} else if (!is_lower_hex(c))
			return false;
	}
	return t[8] == '\0' && t[4] <= '1' && t[7] <= '7';
}

/* The length of the domain: the characters before the first ':' (at most 9 are looked at,
 * which orders any canonical BDF and keeps the order total for other strings). */
static size_t bdf_domain_len(const char *s) {
	size_t n = 0;
	while (n < 9 && s[n] && s[n] != ':')
		n++;
	return n;
}

int bdf_cmp(const char *a, const char *b) {
	size_t la = bdf_domain_len(a), lb = bdf_domain_len(b);
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b);
}

int hex_parse_u64(const char *s, uint64_t max, uint64_t *ret) {
	uint64_t v = 0;
	if (!s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		int h = hexval(*s);
		if (h < 0)
			return -EINVAL;
		if (v > (UINT64_MAX >> 4))
			return -ERANGE;
		v = v * 16 + (uint64_t)h;
	}
	if (v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int num_parse_u64(const char *s, uint64_t max, uint64_t *ret) {
	uint64_t v = 0;
	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return hex_parse_u64(s, max, ret);
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int pci_id_pair_parse(const char *s, uint16_t *ret_vendor, uint16_t *ret_device) {
	unsigned v, d;
	const char *p = s;
	if (!s || strlen(s) != 9)
		return -EINVAL;
	if (take_hex(&p, 4, &v) < 0 || *p++ != ':' || take_hex(&p, 4, &d) < 0 || *p)
		return -EINVAL;
	*ret_vendor = (uint16_t)v;
	*ret_device = (uint16_t)d;
	return 0;
}

int read_one_line_at(int dirfd, const char *path, char **ret) {
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	char buf[4096];
	ssize_t n;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	char *s = strdup(buf);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int read_one_line(const char *path, char **ret) {
	return read_one_line_at(AT_FDCWD, path, ret);
}

int mkdir_parents(const char *path) {
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return -errno;
			*s = '/';
		}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int write_file_atomic(const char *path, mode_t mode, int (*write)(FILE *f, void *userdata),
		      void *userdata) {
	_cleanup_free_ char *dir = strdup(path), *tmp = NULL;
	if (!dir)
		return -ENOMEM;
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		int r = mkdir_parents(dir);
		if (r < 0)
			return r;
	}
	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return -ENOMEM;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int r = -errno;
		close(fd);
		unlink(tmp);
		return r;
	}
	int r = write(f, userdata);
	if (r == 0 && (fflush(f) != 0 || ferror(f)))
		r = errno ? -errno : -EIO;
	if (r == 0 && fchmod(fileno(f), mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fileno(f)) < 0)
		r = -errno;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size) {
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	size_t cap = 4096, len = 0;
	_cleanup_free_ char *buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap >= max)
				return -EFBIG;
			cap = MIN(cap * 2, max);
			char *n = realloc(buf, cap + 1);
			if (!n)
				return -ENOMEM;
			buf = n;
		}
		ssize_t k = read(fd, buf + len, cap - len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	if (len > max)
		return -EFBIG;
	buf[len] = '\0';
	if (ret_size)
		*ret_size = len;
	*ret = TAKE_PTR(buf);
	return 0;
}

int readlink_basename_at(int dirfd, const char *path, char **ret) {
	char buf[PATH_MAX];
	ssize_t n = readlinkat(dirfd, path, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	const char *b = strrchr(buf, '/');
	char *s = strdup(b ? b + 1 : buf);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int parse_limit(const char *s, uint64_t *ret) {
	if (streq(s, "unlimited")) {
		*ret = UINT64_MAX;
		return 0;
	}
	return num_parse_u64(s, UINT64_MAX, ret) < 0 ? -EBADMSG : 0;
}

int proc_read_memlock(pid_t pid, uint64_t *ret_soft, uint64_t *ret_hard) {
	char path[64], soft[32], hard[32];
	_cleanup_free_ char *text = NULL;
	uint64_t s, h;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	int r = read_full_file(path, 16384, &text, NULL);
	if (r < 0)
		return r;
	const char *l = strstr(text, "\nMax locked memory");
	if (!l || sscanf(l + strlen("\nMax locked memory"), "%31s %31s", soft, hard) != 2)
		return -EBADMSG;
	if (parse_limit(soft, &s) < 0 || parse_limit(hard, &h) < 0)
		return -EBADMSG;
	if (ret_soft)
		*ret_soft = s;
	if (ret_hard)
		*ret_hard = h;
	return 0;
}

size_t strv_length(char *const *l) {
	size_t n = 0;
	if (l)
		while (l[n])
			n++;
	return n;
}

int strv_push(char ***l, char *value) {
	size_t n = strv_length(*l);
	char **x = realloc(*l, sizeof(char *) * (n + 2));
	if (!x)
		return -ENOMEM;
	x[n] = value;
	x[n + 1] = NULL;
	*l = x;
	return 0;
}

int strv_extend(char ***l, const char *value) {
	char *v = strdup(value);
	if (!v)
		return -ENOMEM;
	int r = strv_push(l, v);
	if (r < 0)
		free(v);
	return r;
}

bool strv_contains(char *const *l, const char *s) {
	if (l)
		for (; *l; l++)
			if (streq(*l, s))
				return true;
	return false;
}

char *strjoin_real(const char *first, ...) {
	va_list ap;
	size_t len = 0;
	va_start(ap, first);
	for (const char *x = first; x; x = va_arg(ap, const char *))
		len += strlen(x);
	va_end(ap);
	char *s = malloc(len + 1), *p = s;
	if (!s)
		return NULL;
	va_start(ap, first);
	for (const char *x = first; x; x = va_arg(ap, const char *)) {
		size_t n = strlen(x);
		memcpy(p, x, n);
		p += n;
	}
	va_end(ap);
	*p = '\0';
	return s;
}

char **strv_copy(char *const *l) {
	size_t n = strv_length(l);
	char **c = calloc(n + 1, sizeof(char *));
	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(c[i] = strdup(l[i])))
			return strv_free(c);
	return c;
}

static int cmp_str(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void strv_sort(char **l) {
	size_t n = strv_length(l);
	if (n > 1)
		qsort(l, n, sizeof(char *), cmp_str);
}

bool strv_equal(char *const *a, char *const *b) {
	size_t n = strv_length(a);
	if (n != strv_length(b))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!streq(a[i], b[i]))
			return false;
	return true;
}

const char *format_bytes(char *buf, size_t len, uint64_t bytes) {
	static const char suffix[] = "KMGTPE";
	if (bytes == UINT64_MAX) {
		snprintf(buf, len, "infinity");
		return buf;
	}
	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 "B", bytes);
		return buf;
	}
	double v = (double)bytes;
	size_t i = 0;
	v /= 1024;
	while (v >= 1024 && i + 1 < sizeof(suffix) - 1) {
		v /= 1024;
		i++;
	}
	if (v == (double)(uint64_t)v)
		snprintf(buf, len, "%" PRIu64 "%c", (uint64_t)v, suffix[i]);
	else
		snprintf(buf, len, "%.1f%c", v, suffix[i]);
	return buf;
}

int parse_bytes(const char *s, uint64_t *ret) {
	/* Suffixes, case-insensitive: "" and "B" bytes; K M G T P E and KiB MiB ... EiB powers
	 * of 1024 (as ulimit, limits.conf and systemd's LimitMEMLOCK= read K, M, G); kB MB GB
	 * TB PB EB powers of 1000 (SI). */
	static const char prefix[] = "KMGTPE";
	if (!s || !*s)
		return -EINVAL;
	if (streq(s, "infinity") || streq(s, "unlimited")) {
		*ret = UINT64_MAX;
		return 0;
	}
	size_t len = strspn(s, "0123456789");
	const char *sfx = s + len;
	uint64_t mult = 1;
	if (*sfx) {
		const char *x = strchr(prefix, toupper((unsigned char)sfx[0]));
		unsigned n = x ? (unsigned)(x - prefix + 1) : 0;
		const char *rest = x ? sfx + 1 : sfx;
		bool si = false;
		if (x && (rest[0] == 'i' || rest[0] == 'I') && (rest[1] == 'b' || rest[1] == 'B') &&
		    !rest[2])
			; /* KiB: binary */
		else if ((rest[0] == 'b' || rest[0] == 'B') && !rest[1])
			si = x != NULL; /* kB: SI; B alone: bytes */
		else if (!x || rest[0])
			return -EINVAL;
		for (unsigned i = 0; i < n; i++)
			mult *= si ? 1000 : 1024;
	}
	char num[32];
	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len);
	num[len] = '\0';
	uint64_t v;
	int r = num_parse_u64(num, UINT64_MAX, &v);
	if (r < 0)
		return r;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*ret = v * mult;
	return 0;
}

const char *errno_name(int err) {
	if (err < 0)
		err = -err;
	switch (err) {
#define E(x)                                                                                       \
	case x:                                                                                    \
		return #x
		E(EPERM);
		E(ENOENT);
		E(ESRCH);
		E(EINTR);
		E(EIO);
		E(ENXIO);
		E(E2BIG);
		E(EBADF);
		E(EAGAIN);
		E(ENOMEM);
		E(EACCES);
		E(EFAULT);
		E(EBUSY);
		E(EEXIST);
		E(ENODEV);
		E(ENOTDIR);
		E(EINVAL);
		E(EMFILE);
		E(ENOTTY);
		E(EFBIG);
		E(ENOSPC);
		E(EPIPE);
		E(ERANGE);
		E(ENOSYS);
		E(ELOOP);
		E(EOVERFLOW);
		E(EBADFD);
		E(EPROTO);
		E(EMSGSIZE);
		E(ENOPROTOOPT);
		E(EOPNOTSUPP);
		E(EADDRINUSE);
		E(ECONNRESET);
		E(ETIMEDOUT);
		E(ECONNREFUSED);
		E(ETOOMANYREFS);
		E(ESTALE);
		E(ENOMEDIUM);
		E(EDQUOT);
		E(ENOTCONN);
#undef E
	default:
		return NULL;
	}
}
