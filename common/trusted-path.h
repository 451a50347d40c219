/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Opening a file that only root can have written, or pointed a path at: the policy file,
 * which decides who gets every device. The daemon, `ioasidd --check-config` and
 * `ioasidctl policy check` all decide through trusted_path_open() (via policy_load()), so
 * they refuse the same paths with the same words.
 */

#include <sys/stat.h>

/* At most this many symlinks on one path (the kernel's own limit is 40). */
#define TRUSTED_PATH_MAX_SYMLINKS 32

/*
 * trusted_path_open: opens path for reading when no one but root can have written the file
 * or chosen which file the path names:
 *   - the path is resolved here, from / (a relative path from the current directory's real
 *     path), one component at a time with openat(O_PATH|O_NOFOLLOW) relative to the
 *     directory checked just before, never by the kernel in one go, so the component that
 *     is checked is the one that is used and a symlink can only be followed where these
 *     rules allow it;
 *   - every directory on the resolved path, from / to the file's own, is owned by root and
 *     not writable by group or others, except that a sticky directory (/tmp) may be: in a
 *     sticky directory only an entry's owner (or the directory's, root) may rename or remove
 *     it, and every entry on the path must be root's anyway;
 *   - a symlink is followed only when root owns it (only root can have made one in a
 *     directory only root can write; in a sticky one anyone can, hence the rule, the
 *     kernel's fs.protected_symlinks rule), and its target is resolved by the same rules:
 *     a root-owned link into a directory a user owns is refused at that directory;
 *   - the file itself is a regular file owned by root and not writable by group or others
 *     and, in a sticky directory others can write, has no second hard link (one someone
 *     else could have made there with fs.protected_hardlinks off). A FIFO, socket or device
 *     node is refused without ever being opened; the file is opened O_RDONLY|O_NOFOLLOW|
 *     O_NONBLOCK|O_CLOEXEC|O_NOCTTY relative to its checked directory and the opened fd is
 *     fstat()ed and must be the file that was checked.
 * Group and other write bits include a POSIX ACL's mask, so an ACL that lets anyone else
 * write is refused too.
 *
 * Returns 0 with *ret_fd (and *ret_st, the opened fd's stat, when not NULL), or -errno with
 * *ret_why (malloc'd; NULL only on -ENOMEM) naming the refused component, e.g.
 * "'/home/alice' (reached through the symlink '/etc/ioasid/ioasid.conf') is owned by uid
 * 1000, not root":
 *   -EPERM   an owner or mode that lets others than root change what is read;
 *   -EINVAL  the path names something other than a regular file (a FIFO, a directory,
 *            a device node, a socket), or is empty;
 *   -ELOOP   more than TRUSTED_PATH_MAX_SYMLINKS symlinks;
 *   -ESTALE  the file was replaced between its check and its open;
 *   -ENOENT, -ENOTDIR, -EACCES, ... from the walk, with the component named.
 */
int trusted_path_open(const char *path, int *ret_fd, struct stat *ret_st, char **ret_why);

/* The file type of st as a phrase ("a FIFO", "a directory", "a character device", ...). */
const char *trusted_path_type_name(const struct stat *st);
