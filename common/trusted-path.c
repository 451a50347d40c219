/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trusted_path_open(): the walk is done here rather than with realpath() followed by checks
 * of each directory named in the result, because anything resolved by name twice can be
 * swapped between the two resolutions; holding an O_PATH fd of each checked directory and
 * opening the next component relative to it means nothing is ever looked up again by name
 * through a directory that was not checked. openat2(RESOLVE_NO_SYMLINKS) would refuse every
 * symlink, and root-owned symlinks (/etc/alternatives style) are legitimate.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/trusted-path.h"

typedef struct Walk {
	char *resolved; /* the physical path reached so far, "/" or "/a/b" */
	char *via;      /* the last symlink followed (its resolved path), for messages */
	char **why;
} Walk;

const char *trusted_path_type_name(const struct stat *st) {
	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFLNK:
		return "a symlink";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	default:
		return "of an unknown file type";
	}
}

static int refuse(Walk *w, int r, const char *component, const char *fmt, ...) _printf_(4, 5);
static int refuse(Walk *w, int r, const char *component, const char *fmt, ...) {
	_cleanup_free_ char *what = NULL;
	va_list ap;
	va_start(ap, fmt);
	int k = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (k < 0)
		return -ENOMEM;
	free(*w->why);
	*w->why = NULL;
	if (w->via && !streq(w->via, component))
		k = asprintf(w->why, "'%s' (reached through the symlink '%s') %s", component,
			     w->via, what);
	else
		k = asprintf(w->why, "'%s' %s", component, what);
	if (k < 0) {
		*w->why = NULL;
		return -ENOMEM;
	}
	return r;
}

static char *path_join(const char *dir, const char *name) {
	char *s = NULL;
	if (asprintf(&s, "%s%s%s", dir, streq(dir, "/") ? "" : "/", name) < 0)
		return NULL;
	return s;
}

/* Root must own it: anyone else could rewrite it, or (a directory) swap what it holds. */
static int check_owner(Walk *w, const char *component, const struct stat *st) {
	if (st->st_uid != 0)
		return refuse(w, -EPERM, component, "is %s owned by uid %u, not root",
			      trusted_path_type_name(st), (unsigned)st->st_uid);
	return 0;
}

static int check_dir(Walk *w, const char *component, const struct stat *st) {
	int r = check_owner(w, component, st);
	if (r < 0)
		return r;
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
		return refuse(w, -EPERM, component,
			      "is a directory others than root can write (mode %04o) and is not "
			      "sticky: they can replace what it holds",
			      (unsigned)(st->st_mode & 07777));
	return 0;
}

/* The next component of *todo (advanced past it), NUL-terminated in place, or NULL at the
 * end. Empty components and "." are skipped. */
static char *next_component(char **todo) {
	char *s = *todo;
	for (;;) {
		while (*s == '/')
			s++;
		if (!*s) {
			*todo = s;
			return NULL;
		}
		char *e = strchrnul(s, '/');
		char *next = *e ? e + 1 : e;
		*e = '\0';
		if (streq(s, ".")) {
			s = next;
			continue;
		}
		*todo = next;
		return s;
	}
}

static int open_root(Walk *w, int *ret_fd, struct stat *ret_st) {
	_cleanup_close_ int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return refuse(w, -errno, "/", "cannot be opened: %m");
	if (fstat(fd, ret_st) < 0)
		return refuse(w, -errno, "/", "cannot be examined: %m");
	int r = check_dir(w, "/", ret_st);
	if (r < 0)
		return r;
	free(w->resolved);
	w->resolved = strdup("/");
	if (!w->resolved)
		return -ENOMEM;
	safe_close(*ret_fd);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* The regular file `name` in the checked directory dfd (stat dst), already examined as st
 * through an O_PATH fd: its own checks, then the open proper. */
static int open_file(Walk *w, int dfd, const struct stat *dst, const char *name,
		     const char *component, const struct stat *st, int *ret_fd,
		     struct stat *ret_st) {
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return refuse(w, -EPERM, component, "is writable by group or others (mode %04o)",
			      (unsigned)(st->st_mode & 07777));
	if ((dst->st_mode & (S_IWGRP | S_IWOTH)) && st->st_nlink > 1)
		return refuse(w, -EPERM, component,
			      "has %lu hard links and is in a directory others can write: one of "
			      "them may not be root's doing",
			      (unsigned long)st->st_nlink);
	_cleanup_close_ int fd = openat(dfd, name,
					O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return refuse(w, -errno, component, "cannot be opened: %m");
	struct stat fst;
	if (fstat(fd, &fst) < 0)
		return refuse(w, -errno, component, "cannot be examined: %m");
	/* Only root could have swapped it (the directory is checked), but what is read must
	 * be what was checked. */
	if (fst.st_dev != st->st_dev || fst.st_ino != st->st_ino || !S_ISREG(fst.st_mode) ||
	    fst.st_uid != 0 || (fst.st_mode & (S_IWGRP | S_IWOTH)))
		return refuse(w, -ESTALE, component, "changed while it was being opened");
	if (ret_st)
		*ret_st = fst;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int trusted_path_open(const char *path, int *ret_fd, struct stat *ret_st, char **ret_why) {
	_cleanup_free_ char *why = NULL, *todo_buf = NULL;
	Walk w = { .why = &why };
	int dfd = -EBADF, r;
	struct stat dst;
	unsigned links = 0;

	assert(path);
	assert(ret_fd);
	assert(ret_why);
	*ret_why = NULL;

	if (!*path) {
		r = refuse(&w, -EINVAL, "", "is an empty path");
		goto out;
	}
	if (path[0] == '/')
		todo_buf = strdup(path);
	else {
		_cleanup_free_ char *cwd = getcwd(NULL, 0);
		if (!cwd) {
			r = refuse(&w, -errno, ".", "(the current directory) has no path: %m");
			goto out;
		}
		todo_buf = path_join(cwd, path);
	}
	if (!todo_buf) {
		r = -ENOMEM;
		goto out;
	}
	char *todo = todo_buf;
	r = open_root(&w, &dfd, &dst);
	if (r < 0)
		goto out;

	for (;;) {
		char *name = next_component(&todo);
		if (!name) {
			r = refuse(&w, -EINVAL, w.resolved, "is a directory, not a regular file");
			goto out;
		}
		if (streq(name, "..")) {
			/* The parent of a directory reached from / was checked on the way down;
			 * checked again all the same. "/.." is "/". */
			if (streq(w.resolved, "/"))
				continue;
			_cleanup_close_ int up =
				openat(dfd, "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			char *slash = strrchr(w.resolved, '/');
			if (slash == w.resolved)
				slash[1] = '\0';
			else
				*slash = '\0';
			if (up < 0) {
				r = refuse(&w, -errno, w.resolved, "cannot be opened: %m");
				goto out;
			}
			if (fstat(up, &dst) < 0) {
				r = refuse(&w, -errno, w.resolved, "cannot be examined: %m");
				goto out;
			}
			r = check_dir(&w, w.resolved, &dst);
			if (r < 0)
				goto out;
			safe_close(dfd);
			dfd = TAKE_FD(up);
			continue;
		}

		_cleanup_free_ char *component = path_join(w.resolved, name);
		if (!component) {
			r = -ENOMEM;
			goto out;
		}
		_cleanup_close_ int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = refuse(&w, -errno, component, "cannot be opened: %m");
			goto out;
		}
		struct stat st;
		if (fstat(fd, &st) < 0) {
			r = refuse(&w, -errno, component, "cannot be examined: %m");
			goto out;
		}
		r = check_owner(&w, component, &st);
		if (r < 0)
			goto out;

		if (S_ISLNK(st.st_mode)) {
			if (++links > TRUSTED_PATH_MAX_SYMLINKS) {
				r = refuse(&w, -ELOOP, component,
					   "is one symlink too many (at most %d on a path)",
					   TRUSTED_PATH_MAX_SYMLINKS);
				goto out;
			}
			char target[PATH_MAX];
			ssize_t n = readlinkat(fd, "", target, sizeof(target));
			if (n < 0) {
				r = refuse(&w, -errno, component, "cannot be read: %m");
				goto out;
			}
			if (n == 0 || (size_t)n >= sizeof(target)) {
				r = refuse(&w, n == 0 ? -ENOENT : -ENAMETOOLONG, component,
					   "is a symlink with %s target",
					   n == 0 ? "an empty" : "too long a");
				goto out;
			}
			target[n] = '\0';
			/* What is left to walk: the target, then the rest of the path. */
			char *rest = NULL;
			if (asprintf(&rest, "%s%s%s", target, *todo ? "/" : "", todo) < 0) {
				r = -ENOMEM;
				goto out;
			}
			free(todo_buf);
			todo = todo_buf = rest;
			free(w.via);
			w.via = TAKE_PTR(component);
			if (target[0] == '/') {
				r = open_root(&w, &dfd, &dst);
				if (r < 0)
					goto out;
			}
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			r = check_dir(&w, component, &st);
			if (r < 0)
				goto out;
			safe_close(dfd);
			dfd = TAKE_FD(fd);
			dst = st;
			free(w.resolved);
			w.resolved = TAKE_PTR(component);
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			r = refuse(&w, -EINVAL, component, "is %s, not a regular file",
				   trusted_path_type_name(&st));
			goto out;
		}
		if (*todo) {
			/* "file/more" or "file/": the kernel says ENOTDIR too. */
			r = refuse(&w, -ENOTDIR, component, "is a regular file, not a directory");
			goto out;
		}
		r = open_file(&w, dfd, &dst, name, component, &st, ret_fd, ret_st);
		goto out;
	}
out:
	safe_close(dfd);
	free(w.resolved);
	free(w.via);
	if (r < 0)
		*ret_why = TAKE_PTR(why);
	return r;
}
