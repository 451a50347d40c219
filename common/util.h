/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Parsing and file helpers shared by the library, the daemon and the CLI. */

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Canonical PCI address "dddd:bb:dd.f", the domain printed as the kernel does ("%04x" of an
 * int: 4 to 8 digits, e.g. "10000:e1:00.0" behind an Intel VMD): 12 to 16 characters plus
 * NUL. */
#define BDF_MAX 17

/*
 * bdf_parse: accepts "dddd:bb:dd.f" with a domain of 4 to 8 hex digits, or the short
 * "bb:dd.f" (domain 0), hex digits of either case, and writes the canonical form into ret
 * (BDF_MAX bytes): lower case, the domain with leading zeros dropped down to 4 digits
 * ("00010000:e1:00.0" -> "10000:e1:00.0", "00000000:00:1f.3" -> "0000:00:1f.3").
 * Returns 0, or -EINVAL when s is not a PCI address (a domain of fewer than 4 or more than
 * 8 digits, a device above 1f, a function above 7).
 */
int bdf_parse(const char *s, char ret[static BDF_MAX]);
/* True when s is already a canonical BDF: exactly the strings bdf_parse() writes. */
bool bdf_is_canonical(const char *s);
/*
 * bdf_cmp: strcmp()-like order of canonical BDFs in numeric order of (domain, bus, device,
 * function): a longer domain sorts later ("ffff:..." before "10000:..."), equal lengths by
 * strcmp(). A total order on any strings, so a qsort()/bsearch() pair may use it for keys
 * that are not canonical (they just are not found).
 */
int bdf_cmp(const char *a, const char *b);

/*
 * hex_parse_u64: parses an unsigned hex number, with or without a 0x prefix, that must
 * fit max. Returns 0, -EINVAL on junk or an empty string, -ERANGE when above max.
 */
int hex_parse_u64(const char *s, uint64_t max, uint64_t *ret);
/* Unsigned decimal (or 0x hex) number that fits max; same errnos as hex_parse_u64. */
int num_parse_u64(const char *s, uint64_t max, uint64_t *ret);
/* "10de:2204" -> vendor and device. Returns 0 or -EINVAL. */
int pci_id_pair_parse(const char *s, uint16_t *ret_vendor, uint16_t *ret_device);

/*
 * read_one_line: reads the first line of a (sysfs) file without the trailing newline.
 * Returns 0, or -errno from open/read (-ENOENT when absent). *ret is malloc'd.
 */
int read_one_line(const char *path, char **ret);
int read_one_line_at(int dirfd, const char *path, char **ret);
/* Whole file, NUL-terminated, at most max bytes (-EFBIG beyond). */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size);
/* mkdir -p with mode 0755 for each directory made. 0 or -errno. */
int mkdir_parents(const char *path);
/*
 * write_file_atomic: path written whole or not at all. Its directory (and parents) are made
 * 0755 when missing; a temporary file beside path (never following a link) is filled by
 * write(f, userdata), which returns 0 or -errno, made mode, synced and renamed over path.
 * Returns 0 or -errno, the temporary file removed on failure.
 */
int write_file_atomic(const char *path, mode_t mode, int (*write)(FILE *f, void *userdata),
		      void *userdata);
/* Last path component of a symlink's target ("../../../bus/pci/drivers/vfio-pci" -> "vfio-pci"). */
int readlink_basename_at(int dirfd, const char *path, char **ret);

/*
 * proc_read_memlock: the soft and hard RLIMIT_MEMLOCK of pid, from /proc/PID/limits (world
 * readable, where prlimit() needs CAP_SYS_RESOURCE even to read another uid's limits).
 * "unlimited" is UINT64_MAX. Returns 0, -errno from reading the file, -EBADMSG when the
 * line is missing or malformed.
 */
int proc_read_memlock(pid_t pid, uint64_t *ret_soft, uint64_t *ret_hard);

/* strv helpers (NULL-terminated char* arrays). */
size_t strv_length(char *const *l);
int strv_push(char ***l, char *value);         /* takes value; -ENOMEM */
int strv_extend(char ***l, const char *value); /* copies value; -ENOMEM */
bool strv_contains(char *const *l, const char *s);
char **strv_copy(char *const *l);
void strv_sort(char **l);
bool strv_equal(char *const *a, char *const *b);

/* The concatenation of the strings up to the terminating NULL, in one malloc() and without
 * printf: for messages built per device. NULL when out of memory. */
char *strjoin_real(const char *first, ...) __attribute__((sentinel));
#define strjoin(...) strjoin_real(__VA_ARGS__, NULL)

/* Formats "64G", "1.5M", ... (binary units) into buf. */
const char *format_bytes(char *buf, size_t len, uint64_t bytes);
/*
 * parse_bytes: a size in bytes. Digits, then a suffix, case-insensitive: none or "B" for
 * bytes; "K", "M", "G", "T", "P", "E" and "KiB" ... "EiB" for powers of 1024 (what ulimit,
 * limits.conf and systemd's LimitMEMLOCK= mean by K, M, G); "kB", "MB", "GB", "TB", "PB",
 * "EB" for powers of 1000 (SI). "infinity" and "unlimited" are UINT64_MAX. Returns 0,
 * -EINVAL for anything else, -ERANGE beyond 64 bits.
 */
int parse_bytes(const char *s, uint64_t *ret);

/* The short errno name ("EADDRINUSE") or NULL. Takes a positive or negative errno. */
const char *errno_name(int err);
