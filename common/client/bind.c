/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Moving PCI functions to a VFIO driver and back through sysfs: see bind.h.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/client/bind.h"
#include "common/macro.h"

#define RECORD_DIR "/run/ioasid/bound"

static const char *const action_table[_BIND_ACTION_MAX] = {
	[BIND_MOVE] = "move",
	[BIND_ALREADY] = "already",
	[BIND_SKIP_BRIDGE] = "skip-bridge",
};

const char *bind_action_to_string(BindAction a) {
	return a >= 0 && a < _BIND_ACTION_MAX ? action_table[a] : NULL;
}

static void set_error(char **ret_error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(char **ret_error, const char *fmt, ...) {
	va_list ap;
	char *s;

	if (!ret_error)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(*ret_error);
	*ret_error = s;
}

static char *mfree(char *p) {
	free(p);
	return NULL;
}

/* The root as a path prefix: "" for the real one, so paths read "/sys/..." and not
 * "//sys/..." (which a test bed's preload, umockdev, would not recognize). */
static const char *root_prefix(const char *root) {
	return root && *root && !streq(root, "/") ? root : "";
}

static char *sysfs_root(const BindContext *ctx) {
	return strjoin(root_prefix(ctx->root), "/sys");
}

static int real_write(void *userdata, const char *sysfs, const char *path, const char *value) {
	_cleanup_free_ char *p = strjoin(sysfs, "/", path);
	_cleanup_close_ int fd = -1;
	size_t len = strlen(value);
	ssize_t n;

	if (!p)
		return -ENOMEM;
	fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int sysfs_write(const BindContext *ctx, const char *sysfs, const char *path,
		       const char *value) {
	return (ctx->write ? ctx->write : real_write)(ctx->userdata, sysfs, path, value);
}

/* The device's current driver (NULL when unbound) and driver_override (NULL when none). */
static int device_state(const char *sysfs, const char *bdf, char **ret_driver,
			char **ret_override) {
	_cleanup_free_ char *path = strjoin(sysfs, "/bus/pci/devices/", bdf);
	_cleanup_free_ char *driver = NULL, *override = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = readlink_basename_at(fd, "driver", &driver);
	if (r < 0 && r != -ENOENT)
		return r;
	r = read_one_line_at(fd, "driver_override", &override);
	if (r < 0 && r != -ENOENT)
		return r;
	if (override && (streq(override, "(null)") || !*override))
		override = mfree(override);
	*ret_driver = TAKE_PTR(driver);
	if (ret_override)
		*ret_override = TAKE_PTR(override);
	return 0;
}

static int device_vfio_cdev(const char *sysfs, const char *bdf, char **ret) {
	_cleanup_free_ char *path = strjoin(sysfs, "/bus/pci/devices/", bdf, "/vfio-dev");
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (!path)
		return -ENOMEM;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (strneq(de->d_name, "vfio", 4)) {
			*ret = strdup(de->d_name);
			return *ret ? 0 : -ENOMEM;
		}
	return -ENOENT;
}

/* Whether bdf, on a VFIO driver, is open: vfio-pci enables the device when its user opens
 * it (vfio_pci_core_enable) and disables it at the last close, so its "enable" count is not
 * 0 exactly then. Unbinding it then does not fail: the kernel asks the user to give the device
 * up (QEMU unplugs it from its guest) and waits, unkillable after one signal, until it is
 * closed (vfio_unregister_group_dev). On a host driver the count says nothing of that kind. */
static bool vfio_open(const char *sysfs, const char *bdf, const char *driver) {
	_cleanup_free_ char *path = NULL, *v = NULL;
	uint64_t n;

	if (!driver || !strstr(driver, "vfio"))
		return false;
	path = strjoin(sysfs, "/bus/pci/devices/", bdf, "/enable");
	return path && read_one_line(path, &v) >= 0 && num_parse_u64(v, UINT32_MAX, &n) >= 0 &&
	       n > 0;
}

static bool is_bridge(const char *sysfs, const char *bdf) {
	_cleanup_free_ char *path = strjoin(sysfs, "/bus/pci/devices/", bdf, "/class");
	_cleanup_free_ char *cls = NULL;
	uint64_t v;

	if (!path || read_one_line(path, &cls) < 0 || hex_parse_u64(cls, 0xffffff, &v) < 0)
		return false;
	return (v >> 8) == 0x0604;
}

void bind_plan_done(BindPlan *p) {
	for (size_t i = 0; i < p->n_members; i++) {
		free(p->members[i].driver);
		free(p->members[i].override);
		free(p->members[i].vfio);
	}
	free(p->members);
	free(p->driver);
	*p = (BindPlan){ .group = -1 };
}

static int plan_add(const char *sysfs, BindPlan *p, const char *bdf, char **ret_error) {
	_cleanup_free_ char *driver = NULL, *override = NULL;
	BindMember *m;
	int r;

	r = device_state(sysfs, bdf, &driver, &override);
	if (r < 0) {
		set_error(ret_error, "Cannot read the state of '%s': %s", bdf, strerror(-r));
		return r;
	}
	m = realloc(p->members, (p->n_members + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	p->members = m;
	m = &p->members[p->n_members++];
	*m = (BindMember){};
	snprintf(m->bdf, sizeof(m->bdf), "%s", bdf);
	m->action = is_bridge(sysfs, bdf)                ? BIND_SKIP_BRIDGE
		    : driver && streq(driver, p->driver) ? BIND_ALREADY
							 : BIND_MOVE;
	m->driver = TAKE_PTR(driver);
	m->override = TAKE_PTR(override);
	return 0;
}

static int strcmp_bdf(const void *a, const void *b) {
	return bdf_cmp(*(char *const *)a, *(char *const *)b);
}

int bind_plan(const BindContext *ctx, const char *target, const char *driver, BindPlan *ret,
	      char **ret_error) {
	_cleanup_free_ char *sysfs = sysfs_root(ctx);
	_cleanup_free_ char *group = NULL, *path = NULL;
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	BindPlan p = { .group = -1 };
	char bdf[BDF_MAX];
	uint64_t n;
	struct dirent *de;
	int r;

	if (!sysfs)
		return -ENOMEM;
	path = strjoin(sysfs, "/bus/pci/drivers/", driver);
	if (!path)
		return -ENOMEM;
	p.driver_loaded = access(path, F_OK) >= 0;
	free(path);
	path = NULL;

	if (bdf_parse(target, bdf) >= 0) {
		path = strjoin(sysfs, "/bus/pci/devices/", bdf);
		if (!path)
			return -ENOMEM;
		if (access(path, F_OK) < 0) {
			set_error(ret_error, "No PCI device '%s' on this host", bdf);
			return -ENOENT;
		}
		_cleanup_free_ char *gpath = strjoin(path, "/iommu_group");
		if (!gpath)
			return -ENOMEM;
		r = readlink_basename_at(AT_FDCWD, gpath, &group);
		if (r == -ENOENT) {
			/* No IOMMU group: VFIO can still take it (noiommu), alone. */
			p.driver = strdup(driver);
			if (!p.driver)
				return -ENOMEM;
			r = plan_add(sysfs, &p, bdf, ret_error);
			if (r < 0) {
				bind_plan_done(&p);
				return r;
			}
			*ret = p;
			return 0;
		}
		if (r < 0)
			return r;
	} else if (num_parse_u64(target, INT32_MAX, &n) >= 0) {
		group = strdup(target);
		if (!group)
			return -ENOMEM;
	} else {
		set_error(ret_error, "'%s' is neither a PCI address nor an IOMMU group number",
			  target);
		return -EINVAL;
	}

	free(path);
	path = strjoin(sysfs, "/kernel/iommu_groups/", group, "/devices");
	if (!path)
		return -ENOMEM;
	d = opendir(path);
	if (!d) {
		r = -errno;
		set_error(ret_error, "No IOMMU group %s on this host", group);
		return r;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (!bdf_is_canonical(de->d_name)) {
			set_error(ret_error,
				  "IOMMU group %s has member '%s', which is not a PCI function: "
				  "ioasidctl cannot move it",
				  group, de->d_name);
			return -EXDEV;
		}
		r = strv_extend(&names, de->d_name);
		if (r < 0)
			return r;
	}
	if (!names) {
		set_error(ret_error, "IOMMU group %s has no devices", group);
		return -ENOENT;
	}
	qsort(names, strv_length(names), sizeof(char *), strcmp_bdf);

	p.group = (int)strtol(group, NULL, 10);
	p.driver = strdup(driver);
	if (!p.driver)
		return -ENOMEM;
	for (char **s = names; *s; s++) {
		r = plan_add(sysfs, &p, *s, ret_error);
		if (r < 0) {
			bind_plan_done(&p);
			return r;
		}
	}
	*ret = p;
	return 0;
}

/* ---- records ------------------------------------------------------------------------------ */

static char *record_path(const char *root, const char *bdf) {
	return strjoin(root_prefix(root), RECORD_DIR, bdf ? "/" : "", strempty(bdf));
}

static int record_print(FILE *f, void *userdata) {
	const BindMember *m = userdata;
	fprintf(f, "driver=%s\noverride=%s\n", strempty(m->driver), strempty(m->override));
	return 0;
}

/* "driver=e1000e\noverride=\n", written whole (temporary file, then renamed). */
static int record_write(const char *root, const BindMember *m) {
	_cleanup_free_ char *path = record_path(root, m->bdf);
	if (!path)
		return -ENOMEM;
	return write_file_atomic(path, 0644, record_print, (void *)m);
}

static int record_parse(const char *root, const char *bdf, char **ret_driver, char **ret_override) {
	_cleanup_free_ char *path = record_path(root, bdf);
	_cleanup_free_ char *text = NULL, *driver = NULL, *override = NULL;
	int r;

	if (!path)
		return -ENOMEM;
	r = read_full_file(path, 4096, &text, NULL);
	if (r < 0)
		return r;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (strneq(line, "driver=", 7)) {
			free(driver);
			driver = strdup(line + 7);
		} else if (strneq(line, "override=", 9)) {
			free(override);
			override = strdup(line + 9);
		}
	}
	if (!driver || !override)
		return -EBADMSG;
	/* A driver name is one path component: anything else did not come from us. */
	if (strchr(driver, '/') || strchr(override, '/') || streq(driver, ".") ||
	    streq(driver, ".."))
		return -EBADMSG;
	*ret_driver = TAKE_PTR(driver);
	if (ret_override)
		*ret_override = TAKE_PTR(override);
	return 0;
}

int bind_record_read(const char *root, const char *bdf, char **ret_driver) {
	return record_parse(root, bdf, ret_driver, NULL);
}

int bind_records_list(const char *root, char ***ret) {
	_cleanup_free_ char *dir = record_path(root, NULL);
	_cleanup_strv_free_ char **l = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r;

	if (!dir)
		return -ENOMEM;
	d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			return -errno;
		*ret = NULL;
		return 0;
	}
	while ((de = readdir(d)))
		if (bdf_is_canonical(de->d_name)) {
			r = strv_extend(&l, de->d_name);
			if (r < 0)
				return r;
		}
	if (l)
		qsort(l, strv_length(l), sizeof(char *), strcmp_bdf);
	*ret = TAKE_PTR(l);
	return 0;
}

/* ---- moving ------------------------------------------------------------------------------- */

/* Puts bdf on driver (NULL or "": leaves it unbound), with override as its driver_override
 * afterwards (NULL or "": cleared). */
static int move_back(const BindContext *ctx, const char *sysfs, const char *bdf, const char *driver,
		     const char *override, char **ret_error) {
	_cleanup_free_ char *cur = NULL, *p_override = NULL, *p_unbind = NULL, *p_bind = NULL;
	int r;

	p_override = strjoin("bus/pci/devices/", bdf, "/driver_override");
	p_unbind = strjoin("bus/pci/devices/", bdf, "/driver/unbind");
	p_bind = strjoin("bus/pci/drivers/", strempty(driver), "/bind");
	if (!p_override || !p_unbind || !p_bind)
		return -ENOMEM;
	r = device_state(sysfs, bdf, &cur, NULL);
	if (r < 0)
		return set_error(ret_error, "%s: cannot read its driver: %s", bdf, strerror(-r)), r;
	/* The override first: with the VFIO driver's name still in it, a probe would bring the
	 * device straight back to that driver. A newline clears it. */
	r = sysfs_write(ctx, sysfs, p_override, isempty(override) ? "\n" : override);
	if (r < 0)
		return set_error(ret_error, "%s: writing driver_override: %s", bdf, strerror(-r)),
		       r;
	if (cur) {
		r = sysfs_write(ctx, sysfs, p_unbind, bdf);
		if (r < 0)
			return set_error(ret_error, "%s: unbinding from %s: %s", bdf, cur,
					 strerror(-r)),
			       r;
	}
	if (!isempty(driver)) {
		r = sysfs_write(ctx, sysfs, p_bind, bdf);
		if (r < 0)
			return set_error(ret_error, "%s: binding to %s: %s", bdf, driver,
					 strerror(-r)),
			       r;
		cur = mfree(cur);
		r = device_state(sysfs, bdf, &cur, NULL);
		if (r < 0 || !cur || !streq(cur, driver))
			return set_error(ret_error, "%s: not on %s after binding it (on %s)", bdf,
					 driver, cur ? cur : "no driver"),
			       -EIO;
	}
	return 0;
}

/* One device to driver: override, unbind, probe, verify. */
static int move_to(const BindContext *ctx, const char *sysfs, BindMember *m, const char *driver,
		   bool want_cdev, char **ret_error) {
	_cleanup_free_ char *p = NULL, *cur = NULL;
	int r;

	p = strjoin("bus/pci/devices/", m->bdf, "/driver_override");
	if (!p)
		return -ENOMEM;
	r = sysfs_write(ctx, sysfs, p, driver);
	if (r < 0)
		return set_error(ret_error, "%s: writing driver_override: %s", m->bdf,
				 strerror(-r)),
		       r;
	if (m->driver) {
		free(p);
		p = strjoin("bus/pci/devices/", m->bdf, "/driver/unbind");
		if (!p)
			return -ENOMEM;
		r = sysfs_write(ctx, sysfs, p, m->bdf);
		if (r < 0)
			return set_error(ret_error, "%s: unbinding from %s: %s", m->bdf, m->driver,
					 strerror(-r)),
			       r;
	}
	r = sysfs_write(ctx, sysfs, "bus/pci/drivers_probe", m->bdf);
	if (r < 0)
		return set_error(ret_error, "%s: probing it for %s: %s", m->bdf, driver,
				 strerror(-r)),
		       r;
	r = device_state(sysfs, m->bdf, &cur, NULL);
	if (r < 0)
		return set_error(ret_error, "%s: cannot read its driver: %s", m->bdf, strerror(-r)),
		       r;
	if (!cur || !streq(cur, driver))
		return set_error(ret_error, "%s: %s did not take it (now on %s)", m->bdf, driver,
				 cur ? cur : "no driver"),
		       -EIO;
	r = device_vfio_cdev(sysfs, m->bdf, &m->vfio);
	if (r < 0 && want_cdev)
		return set_error(ret_error, "%s: on %s, but no VFIO cdev appeared under vfio-dev/",
				 m->bdf, driver),
		       -EIO;
	return 0;
}

static void record_remove(const char *root, const char *bdf) {
	_cleanup_free_ char *path = record_path(root, bdf);
	if (path)
		(void)unlink(path);
}

int bind_execute(const BindContext *ctx, BindPlan *p, char **ret_error) {
	_cleanup_free_ char *sysfs = sysfs_root(ctx);
	_cleanup_free_ char *cdev_class = NULL;
	bool want_cdev;
	size_t i;
	int r = 0;

	if (!sysfs)
		return -ENOMEM;
	/* A kernel with VFIO cdevs has the vfio-dev class once vfio is loaded; one without
	 * them (legacy groups only) never shows a cdev, and the driver alone is checked. */
	cdev_class = strjoin(sysfs, "/class/vfio-dev");
	if (!cdev_class)
		return -ENOMEM;
	want_cdev = access(cdev_class, F_OK) >= 0;
	if (!p->driver_loaded) {
		set_error(ret_error, "Driver '%s' is not loaded (modprobe %s)", p->driver,
			  p->driver);
		return -EOPNOTSUPP;
	}

	/* Nothing is touched while a member that would move is open through VFIO. */
	for (i = 0; i < p->n_members; i++) {
		const BindMember *m = &p->members[i];
		if (m->action == BIND_MOVE && vfio_open(sysfs, m->bdf, m->driver)) {
			set_error(
				ret_error,
				"%s: open through %s (a lease or a VM holds it): release or revoke "
				"it first; an unbind now would wait until its user closes it",
				m->bdf, m->driver);
			return -EBUSY;
		}
	}

	for (i = 0; i < p->n_members; i++) {
		BindMember *m = &p->members[i];
		if (m->action != BIND_MOVE)
			continue;
		r = record_write(ctx->root, m);
		if (r < 0) {
			set_error(ret_error, "%s: cannot record its driver under %s: %s", m->bdf,
				  RECORD_DIR, strerror(-r));
			break;
		}
		r = move_to(ctx, sysfs, m, p->driver, want_cdev, ret_error);
		if (r < 0) {
			i++; /* this one may be half moved: put it back too */
			break;
		}
	}
	if (r >= 0)
		return 0;

	/* Roll back, newest first, every member this call touched. */
	while (i-- > 0) {
		BindMember *m = &p->members[i];
		_cleanup_free_ char *err = NULL;
		if (m->action != BIND_MOVE)
			continue;
		if (move_back(ctx, sysfs, m->bdf, m->driver, m->override, &err) < 0) {
			if (ret_error && *ret_error) {
				char *s = strjoin(*ret_error, "; rolling back: ", strempty(err),
						  " (its record is kept for 'ioasidctl restore')");
				if (s) {
					free(*ret_error);
					*ret_error = s;
				}
			}
			continue;
		}
		m->vfio = mfree(m->vfio);
		record_remove(ctx->root, m->bdf);
	}
	return r;
}

int bind_restore_device(const BindContext *ctx, const char *bdf, char **ret_driver,
			char **ret_error) {
	_cleanup_free_ char *sysfs = sysfs_root(ctx);
	_cleanup_free_ char *driver = NULL, *override = NULL, *cur = NULL;
	int r;

	if (!sysfs)
		return -ENOMEM;
	r = record_parse(ctx->root, bdf, &driver, &override);
	if (r == -ENOENT) {
		set_error(ret_error, "%s was not bound by ioasidctl (no record)", bdf);
		return r;
	}
	if (r < 0) {
		set_error(ret_error, "%s: unreadable record: %s", bdf, strerror(-r));
		return r;
	}
	r = device_state(sysfs, bdf, &cur, NULL);
	if (r < 0) {
		set_error(ret_error, "%s: cannot read its driver: %s", bdf, strerror(-r));
		return r;
	}
	if (vfio_open(sysfs, bdf, cur)) {
		set_error(ret_error,
			  "%s: open through %s (a lease or a VM holds it): release or revoke it "
			  "first; an unbind now would wait until its user closes it",
			  bdf, cur);
		return -EBUSY;
	}
	r = move_back(ctx, sysfs, bdf, driver, override, ret_error);
	if (r < 0)
		return r;
	record_remove(ctx->root, bdf);
	if (ret_driver)
		*ret_driver = TAKE_PTR(driver);
	return 0;
}
