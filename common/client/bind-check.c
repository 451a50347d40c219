/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a driver change would take down: see bind-check.h. The network side reads the
 * kernel's tables through libnl-route-3 (one dump each of links, addresses and routes); the
 * storage and display side read sysfs and /proc below a root directory.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "common/client/bind-check.h"
#include "common/macro.h"

/* How deep below the PCI device's directory class devices are looked for (an AHCI disk sits
 * at ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1: 7), and how many upper devices of one
 * netdev are followed. */
#define WALK_MAX_DEPTH 12
#define UPPER_MAX 32

typedef struct Mount {
	unsigned major, minor;
	char *source;     /* "/dev/sda1" */
	char *mountpoint; /* unescaped */
} Mount;

struct BindCheck {
	char *root;
	struct nl_sock *nl;
	struct nl_cache *links, *addrs, *routes;
	Mount *mounts;
	size_t n_mounts;
	char **swaps; /* the kernel names ("sda2", "dm-1") of what /proc/swaps lists */
};

static const char *const finding_kind_table[_FINDING_KIND_MAX] = {
	[FINDING_LINK_UP] = "link-up",     [FINDING_ADDRESS] = "address",
	[FINDING_ROUTE] = "route",         [FINDING_DEFAULT_ROUTE] = "default-route",
	[FINDING_MOUNTED] = "mounted",     [FINDING_SWAP] = "swap",
	[FINDING_HELD] = "held",           [FINDING_BOOT_VGA] = "boot-vga",
	[FINDING_CONNECTOR] = "connector",
};

const char *bind_finding_kind_to_string(BindFindingKind k) {
	return k >= 0 && k < _FINDING_KIND_MAX ? finding_kind_table[k] : NULL;
}

void bind_findings_done(BindFindings *f) {
	for (size_t i = 0; i < f->n; i++) {
		free(f->items[i].object);
		free(f->items[i].upper);
		free(f->items[i].detail);
		free(f->items[i].message);
	}
	free(f->items);
	*f = (BindFindings){};
}

/* Appends one finding; message is taken (malloc'd), the strings copied. */
static int finding_add(BindFindings *f, const char *bdf, BindFindingKind kind, const char *object,
		       const char *upper, const char *detail, char *message) {
	_cleanup_free_ char *m = message;
	BindFinding *n;

	if (!m)
		return -ENOMEM;
	n = realloc(f->items, (f->n + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	f->items = n;
	n = &f->items[f->n];
	*n = (BindFinding){ .kind = kind };
	snprintf(n->bdf, sizeof(n->bdf), "%s", bdf);
	n->object = strdup(object);
	n->upper = upper ? strdup(upper) : NULL;
	n->detail = detail ? strdup(detail) : NULL;
	if (!n->object || (upper && !n->upper) || (detail && !n->detail)) {
		free(n->object);
		free(n->upper);
		free(n->detail);
		return -ENOMEM;
	}
	n->message = TAKE_PTR(m);
	f->n++;
	return 0;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...) {
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

static int nl_to_errno(int nlerr) {
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_AF_NOSUPPORT:
	case NLE_PROTO_MISMATCH:
		return -EAFNOSUPPORT;
	default:
		return -EIO;
	}
}

/* /proc/self/mountinfo and /proc/swaps escape ' ', '\t', '\n' and '\\' as octal. */
static void unescape_octal(char *s) {
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else
			*w++ = *r;
	}
	*w = 0;
}

static int load_mounts(BindCheck *c) {
	_cleanup_free_ char *path = strjoin(c->root, "/proc/self/mountinfo");
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t size = 0;

	if (!path)
		return -ENOMEM;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (getline(&line, &size, f) > 0) {
		char *fields[64], *save = NULL, *tok;
		size_t n = 0, dash = 0;
		unsigned major, minor;

		line[strcspn(line, "\n")] = 0;
		for (tok = strtok_r(line, " ", &save); tok && n < ELEMENTSOF(fields);
		     tok = strtok_r(NULL, " ", &save))
			fields[n++] = tok;
		for (size_t i = 6; i < n; i++)
			if (streq(fields[i], "-")) {
				dash = i;
				break;
			}
		if (n < 5 || dash == 0 || dash + 2 >= n ||
		    sscanf(fields[2], "%u:%u", &major, &minor) != 2)
			continue; /* not a line the kernel writes: skip, do not guess */
		Mount *m = realloc(c->mounts, (c->n_mounts + 1) * sizeof(*m));
		if (!m)
			return -ENOMEM;
		c->mounts = m;
		m = &c->mounts[c->n_mounts];
		*m = (Mount){ .major = major, .minor = minor };
		m->source = strdup(fields[dash + 2]);
		m->mountpoint = strdup(fields[4]);
		if (!m->source || !m->mountpoint) {
			free(m->source);
			free(m->mountpoint);
			return -ENOMEM;
		}
		unescape_octal(m->source);
		unescape_octal(m->mountpoint);
		c->n_mounts++;
	}
	return 0;
}

/* The kernel name of a device path: "/dev/mapper/vg-swap" resolves (on the real root) to
 * "/dev/dm-1" and gives "dm-1"; below a fake root the last component is taken as it is. */
static char *kernel_name(const BindCheck *c, const char *path) {
	_cleanup_free_ char *resolved = NULL;
	const char *base;

	if (!*c->root && path[0] == '/')
		resolved = realpath(path, NULL);
	base = strrchr(resolved ? resolved : path, '/');
	return strdup(base ? base + 1 : path);
}

static int load_swaps(BindCheck *c) {
	_cleanup_free_ char *path = strjoin(c->root, "/proc/swaps");
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t size = 0;
	bool header = true;

	if (!path)
		return -ENOMEM;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (getline(&line, &size, f) > 0) {
		if (header) { /* "Filename Type Size Used Priority" */
			header = false;
			continue;
		}
		line[strcspn(line, " \t\n")] = 0;
		if (!*line)
			continue;
		unescape_octal(line);
		char *name = kernel_name(c, line);
		if (!name || strv_push(&c->swaps, name) < 0)
			return -ENOMEM;
	}
	return 0;
}

BindCheck *bind_check_free(BindCheck *c) {
	if (!c)
		return NULL;
	if (c->links)
		nl_cache_free(c->links);
	if (c->addrs)
		nl_cache_free(c->addrs);
	if (c->routes)
		nl_cache_free(c->routes);
	if (c->nl)
		nl_socket_free(c->nl);
	for (size_t i = 0; i < c->n_mounts; i++) {
		free(c->mounts[i].source);
		free(c->mounts[i].mountpoint);
	}
	free(c->mounts);
	strv_free(c->swaps);
	free(c->root);
	free(c);
	return NULL;
}

int bind_check_new(const char *root, BindCheck **ret) {
	BindCheck *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	/* "" for the real root, so paths read "/sys/...", as a test bed's preload (umockdev)
	 * expects them, not "//sys/...". */
	c->root = strdup(root && *root && !streq(root, "/") ? root : "");
	c->nl = nl_socket_alloc();
	if (!c->root || !c->nl) {
		bind_check_free(c);
		return -ENOMEM;
	}
	r = nl_connect(c->nl, NETLINK_ROUTE);
	if (r >= 0)
		r = rtnl_link_alloc_cache(c->nl, AF_UNSPEC, &c->links);
	if (r >= 0)
		r = rtnl_addr_alloc_cache(c->nl, &c->addrs);
	if (r >= 0)
		r = rtnl_route_alloc_cache(c->nl, AF_UNSPEC, 0, &c->routes);
	if (r < 0) {
		bind_check_free(c);
		return nl_to_errno(r);
	}
	r = load_mounts(c);
	if (r >= 0)
		r = load_swaps(c);
	if (r < 0) {
		bind_check_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

/* ---- network ---------------------------------------------------------------------------- */

static struct rtnl_link *link_by_name(BindCheck *c, const char *name) {
	for (struct nl_object *o = nl_cache_get_first(c->links); o; o = nl_cache_get_next(o)) {
		const char *n = rtnl_link_get_name((struct rtnl_link *)o);
		if (n && streq(n, name))
			return (struct rtnl_link *)o;
	}
	return NULL;
}

static const char *link_kind(struct rtnl_link *l) {
	const char *k = rtnl_link_get_type(l);
	return k ? k : "device";
}

/* How lower relates to upper, for messages: "is a port of bridge 'br0'". */
static char *relation(struct rtnl_link *lower, struct rtnl_link *upper, bool enslaved) {
	const char *kind = link_kind(upper);
	if (enslaved)
		return xasprintf("is %s %s '%s'",
				 streq(kind, "bridge") ? "a port of" : "enslaved to", kind,
				 rtnl_link_get_name(upper));
	return xasprintf("is underneath %s '%s'", kind, rtnl_link_get_name(upper));
}

/* The routes through link ifindex: the default routes alone (want_default), or the others. */
static int check_routes(BindCheck *c, const char *bdf, const char *netdev, int ifindex,
			const char *upper, const char *prefix, bool want_default, BindFindings *f) {
	int r;

	for (struct nl_object *o = nl_cache_get_first(c->routes); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *rt = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(rt);
		unsigned plen = dst ? nl_addr_get_prefixlen(dst) : 0;
		bool is_default = plen == 0;
		struct nl_addr *gw = NULL;
		char dstbuf[INET6_ADDRSTRLEN + 8], gwbuf[INET6_ADDRSTRLEN];
		_cleanup_free_ char *detail = NULL;
		bool here = false;

		if (is_default != want_default)
			continue;
		/* The local table holds the host's own and broadcast addresses: addresses,
		 * reported on their own. Only unicast routes carry traffic elsewhere. */
		if (rtnl_route_get_table(rt) == RT_TABLE_LOCAL ||
		    rtnl_route_get_type(rt) != RTN_UNICAST)
			continue;
		for (int i = 0; i < rtnl_route_get_nnexthops(rt); i++) {
			struct rtnl_nexthop *nh = rtnl_route_nexthop_n(rt, i);
			if (nh && rtnl_route_nh_get_ifindex(nh) == ifindex) {
				here = true;
				gw = rtnl_route_nh_get_gateway(nh);
				break;
			}
		}
		if (!here)
			continue;
		if (dst && rtnl_route_get_family(rt) == AF_INET6 && !is_default) {
			/* fe80::/64 comes with every IPv6 link that is up: "up" says it. */
			const uint8_t *b = nl_addr_get_binary_addr(dst);
			if (b && b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
				continue;
		}
		if (is_default)
			snprintf(dstbuf, sizeof(dstbuf), "default");
		else
			nl_addr2str(dst, dstbuf, sizeof(dstbuf));
		if (gw) {
			nl_addr2str(gw, gwbuf, sizeof(gwbuf));
			detail = xasprintf("%s via %s", dstbuf, gwbuf);
		} else
			detail = strdup(dstbuf);
		if (!detail)
			return -ENOMEM;
		r = finding_add(f, bdf, is_default ? FINDING_DEFAULT_ROUTE : FINDING_ROUTE, netdev,
				upper, detail,
				is_default ? xasprintf("%s: %s carries the default route (%s)", bdf,
						       prefix, detail)
					   : xasprintf("%s: %s carries route %s", bdf, prefix,
						       detail));
		if (r < 0)
			return r;
	}
	return 0;
}

/* What one link (the device's own netdev, or one of its upper devices) carries. prefix is
 * "interface 'eth0'" or "interface 'eth0' is a port of bridge 'br0', which". */
static int check_link(BindCheck *c, const char *bdf, const char *netdev, struct rtnl_link *l,
		      const char *upper, const char *prefix, BindFindings *f) {
	int ifindex = rtnl_link_get_ifindex(l);
	char buf[INET6_ADDRSTRLEN + 8];
	int r;

	/* The default route first: losing it is what cuts the host off. */
	r = check_routes(c, bdf, netdev, ifindex, upper, prefix, true, f);
	if (r < 0)
		return r;
	if (rtnl_link_get_flags(l) & IFF_UP) {
		r = finding_add(f, bdf, FINDING_LINK_UP, netdev, upper, NULL,
				xasprintf("%s: %s is up", bdf, prefix));
		if (r < 0)
			return r;
	}

	for (struct nl_object *o = nl_cache_get_first(c->addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);

		if (rtnl_addr_get_ifindex(a) != ifindex ||
		    rtnl_addr_get_scope(a) != RT_SCOPE_UNIVERSE || !local)
			continue;
		nl_addr2str(local, buf, sizeof(buf));
		if (!strchr(buf, '/')) { /* a host address prints without its prefix length */
			size_t len = strlen(buf);
			snprintf(buf + len, sizeof(buf) - len, "/%u", rtnl_addr_get_prefixlen(a));
		}
		r = finding_add(f, bdf, FINDING_ADDRESS, netdev, upper, buf,
				xasprintf("%s: %s holds global address %s", bdf, prefix, buf));
		if (r < 0)
			return r;
	}

	return check_routes(c, bdf, netdev, ifindex, upper, prefix, false, f);
}

/* IFLA_LINK of a veth is its peer, not a lower device; with IFLA_LINK_NETNSID it is an
 * ifindex in another namespace, which says nothing about the links here. */
static bool link_elsewhere(struct rtnl_link *u) {
	int32_t nsid;
	const char *kind = rtnl_link_get_type(u);
	return (kind && streq(kind, "veth")) || rtnl_link_get_link_netnsid(u, &nsid) >= 0;
}

/* The upper devices of lower, breadth first: its master (bond, bridge, team) and every link
 * whose IFLA_LINK is it (VLAN, macvlan, ipvlan), then theirs. Each is checked as what netdev
 * would take down with it. */
static int check_uppers(BindCheck *c, const char *bdf, const char *netdev, struct rtnl_link *dev,
			BindFindings *f) {
	struct rtnl_link *queue[UPPER_MAX];
	char *how[UPPER_MAX] = {}; /* how netdev relates to queue[i], for messages */
	size_t n = 0;
	int r = 0;

	queue[n] = dev;
	how[n++] = NULL;
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct rtnl_link *l = queue[i];
		int master = rtnl_link_get_master(l);

		for (struct nl_object *o = nl_cache_get_first(c->links); o && r >= 0;
		     o = nl_cache_get_next(o)) {
			struct rtnl_link *u = (struct rtnl_link *)o;
			bool enslaved = master > 0 && rtnl_link_get_ifindex(u) == master;
			bool on_top = rtnl_link_get_link(u) == rtnl_link_get_ifindex(l) && u != l &&
				      !link_elsewhere(u);
			bool seen = false;

			if (!enslaved && !on_top)
				continue;
			for (size_t j = 0; j < n; j++)
				seen = seen || queue[j] == u;
			if (seen || n == UPPER_MAX)
				continue;
			_cleanup_free_ char *rel = relation(l, u, enslaved);
			if (!rel) {
				r = -ENOMEM;
				break;
			}
			/* "is a port of bridge 'br0'", or through a chain:
			 * "is enslaved to bond 'bond0', which is a port of bridge 'br0'" */
			how[n] = how[i] ? xasprintf("%s, which %s", how[i], rel) : strdup(rel);
			if (!how[n]) {
				r = -ENOMEM;
				break;
			}
			queue[n++] = u;
		}
	}
	for (size_t i = 1; i < n && r >= 0; i++) {
		_cleanup_free_ char *prefix = xasprintf("interface '%s' %s, which", netdev, how[i]);
		if (!prefix)
			r = -ENOMEM;
		else
			r = check_link(c, bdf, netdev, queue[i], rtnl_link_get_name(queue[i]),
				       prefix, f);
	}
	for (size_t i = 0; i < n; i++)
		free(how[i]);
	return r;
}

static int check_netdev(BindCheck *c, const char *bdf, const char *netdev, BindFindings *f) {
	struct rtnl_link *l = link_by_name(c, netdev);
	_cleanup_free_ char *prefix = NULL;
	int r;

	/* A netdev sysfs shows but this namespace does not: it lives in another network
	 * namespace, where nothing here can see what it carries. Not a finding of ours; the
	 * namespace's own users are outside what a host check can know. */
	if (!l)
		return 0;
	prefix = xasprintf("interface '%s'", netdev);
	if (!prefix)
		return -ENOMEM;
	r = check_link(c, bdf, netdev, l, NULL, prefix, f);
	if (r < 0)
		return r;
	return check_uppers(c, bdf, netdev, l, f);
}

/* ---- storage and display ---------------------------------------------------------------- */

static int check_block(BindCheck *c, const char *bdf, int dirfd, const char *name,
		       BindFindings *f) {
	_cleanup_free_ char *dev = NULL;
	unsigned major, minor;
	int r;

	r = read_one_line_at(dirfd, "dev", &dev);
	if (r >= 0 && sscanf(dev, "%u:%u", &major, &minor) == 2)
		for (size_t i = 0; i < c->n_mounts; i++) {
			const Mount *m = &c->mounts[i];
			const char *src = strrchr(m->source, '/');
			if (!((m->major == major && m->minor == minor) ||
			      (m->source[0] == '/' && src && streq(src + 1, name))))
				continue;
			r = finding_add(f, bdf, FINDING_MOUNTED, name, NULL, m->mountpoint,
					xasprintf("%s: block device '%s' is mounted on %s", bdf,
						  name, m->mountpoint));
			if (r < 0)
				return r;
		}
	if (strv_contains(c->swaps, name)) {
		r = finding_add(f, bdf, FINDING_SWAP, name, NULL, NULL,
				xasprintf("%s: block device '%s' is in use as swap", bdf, name));
		if (r < 0)
			return r;
	}

	_cleanup_close_ int hfd = openat(dirfd, "holders", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (hfd < 0)
		return 0;
	_cleanup_closedir_ DIR *d = fdopendir(hfd);
	if (!d)
		return -errno;
	int hdirfd = TAKE_FD(hfd);
	struct dirent *de;
	while ((de = readdir(d))) {
		_cleanup_free_ char *dmname = NULL, *what = NULL, *p = NULL;
		const char *by;

		if (de->d_name[0] == '.')
			continue;
		p = strjoin(de->d_name, "/dm/name");
		if (!p)
			return -ENOMEM;
		if (read_one_line_at(hdirfd, p, &dmname) >= 0) {
			/* LVM names its volumes "VG-LV" with a "LVM-" uuid; the name says enough.
			 */
			by = "device-mapper";
			what = xasprintf("%s (%s)", de->d_name, dmname);
		} else {
			by = strneq(de->d_name, "md", 2) ? "MD" : "another block device";
			what = strdup(de->d_name);
		}
		if (!what)
			return -ENOMEM;
		r = finding_add(f, bdf, FINDING_HELD, name, NULL, what,
				xasprintf("%s: block device '%s' is held by %s %s", bdf, name, by,
					  what));
		if (r < 0)
			return r;
	}
	return 0;
}

static int check_connector(const char *bdf, int dirfd, const char *name, BindFindings *f) {
	_cleanup_free_ char *status = NULL;
	char card[64];
	const char *dash = strchr(name, '-');

	if (!strneq(name, "card", 4) || !dash || read_one_line_at(dirfd, "status", &status) < 0 ||
	    !streq(status, "connected"))
		return 0;
	snprintf(card, sizeof(card), "%.*s", (int)(dash - name), name);
	return finding_add(f, bdf, FINDING_CONNECTOR, card, NULL, name,
			   xasprintf("%s: display connector '%s' is connected", bdf, name));
}

/* Depth-first over the device's own directory tree, never through a symlink (which is how
 * sysfs points at other devices): each class device is known by its "subsystem" link. */
static int walk(BindCheck *c, const char *bdf, int dirfd, const char *name, unsigned depth,
		BindFindings *f) {
	_cleanup_free_ char *subsystem = NULL;
	int r;

	if (depth > 0 && readlink_basename_at(dirfd, "subsystem", &subsystem) >= 0) {
		if (streq(subsystem, "net"))
			r = check_netdev(c, bdf, name, f);
		else if (streq(subsystem, "block"))
			r = check_block(c, bdf, dirfd, name, f);
		else if (streq(subsystem, "drm"))
			r = check_connector(bdf, dirfd, name, f);
		else
			r = 0;
		if (r < 0)
			return r;
		if (streq(subsystem, "net"))
			return 0; /* queues/, statistics/: nothing below a netdev */
	}
	if (depth >= WALK_MAX_DEPTH)
		return 0;

	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		safe_close(fd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		/* Another PCI function below a bridge is its own device, checked on its own. */
		if (depth > 0 && bdf_is_canonical(de->d_name))
			continue;
		_cleanup_close_ int sub = openat(fd, de->d_name,
						 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue; /* gone meanwhile, or not readable: nothing to find there */
		r = walk(c, bdf, sub, de->d_name, depth + 1, f);
		if (r < 0)
			return r;
	}
	return 0;
}

int bind_check_device(BindCheck *c, const char *bdf, BindFindings *f) {
	_cleanup_free_ char *path = strjoin(c->root, "/sys/bus/pci/devices/", bdf);
	_cleanup_free_ char *boot_vga = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (read_one_line_at(fd, "boot_vga", &boot_vga) >= 0 && streq(boot_vga, "1")) {
		r = finding_add(f, bdf, FINDING_BOOT_VGA, bdf, NULL, NULL,
				xasprintf("%s: it drives the boot framebuffer (boot_vga)", bdf));
		if (r < 0)
			return r;
	}
	return walk(c, bdf, fd, bdf, 0, f);
}
