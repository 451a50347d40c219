/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The vdpa generic netlink family, read and written with libnl-genl-3. The attribute and
 * command numbers are the project's own (below), checked against linux/vdpa.h when the
 * system has it: they are uAPI and never change, but old headers lack the family.
 */
#include <assert.h>
#include <errno.h>
#include <netlink/errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/vdpa-netlink.h"

#define IOASID_VDPA_GENL_NAME "vdpa"
#define IOASID_VDPA_GENL_VERSION 1

enum {
	IOASID_VDPA_CMD_MGMTDEV_GET = 2,
	IOASID_VDPA_CMD_DEV_NEW = 3,
	IOASID_VDPA_CMD_DEV_DEL = 4,
	IOASID_VDPA_CMD_DEV_GET = 5,
};

enum {
	IOASID_VDPA_ATTR_MGMTDEV_BUS_NAME = 1,          /* string */
	IOASID_VDPA_ATTR_MGMTDEV_DEV_NAME = 2,          /* string */
	IOASID_VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES = 3, /* u64 */
	IOASID_VDPA_ATTR_DEV_NAME = 4,                  /* string */
	IOASID_VDPA_ATTR_DEV_ID = 5,                    /* u32 */
	IOASID_VDPA_ATTR_DEV_VENDOR_ID = 6,             /* u32 */
	/* The highest attribute read here; the kernel's table goes further. */
	IOASID_VDPA_ATTR_READ_MAX = IOASID_VDPA_ATTR_DEV_VENDOR_ID,
};

#if __has_include(<linux/vdpa.h>)
#include <linux/vdpa.h>
static_assert((int)IOASID_VDPA_CMD_MGMTDEV_GET == (int)VDPA_CMD_MGMTDEV_GET, "vdpa uAPI");
static_assert((int)IOASID_VDPA_CMD_DEV_NEW == (int)VDPA_CMD_DEV_NEW, "vdpa uAPI");
static_assert((int)IOASID_VDPA_CMD_DEV_DEL == (int)VDPA_CMD_DEV_DEL, "vdpa uAPI");
static_assert((int)IOASID_VDPA_CMD_DEV_GET == (int)VDPA_CMD_DEV_GET, "vdpa uAPI");
static_assert((int)IOASID_VDPA_ATTR_MGMTDEV_BUS_NAME == (int)VDPA_ATTR_MGMTDEV_BUS_NAME,
	      "vdpa uAPI");
static_assert((int)IOASID_VDPA_ATTR_MGMTDEV_DEV_NAME == (int)VDPA_ATTR_MGMTDEV_DEV_NAME,
	      "vdpa uAPI");
static_assert((int)IOASID_VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES ==
		      (int)VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES,
	      "vdpa uAPI");
static_assert((int)IOASID_VDPA_ATTR_DEV_NAME == (int)VDPA_ATTR_DEV_NAME, "vdpa uAPI");
static_assert((int)IOASID_VDPA_ATTR_DEV_ID == (int)VDPA_ATTR_DEV_ID, "vdpa uAPI");
static_assert((int)IOASID_VDPA_ATTR_DEV_VENDOR_ID == (int)VDPA_ATTR_DEV_VENDOR_ID, "vdpa uAPI");
static_assert(IOASID_VDPA_GENL_VERSION == VDPA_GENL_VERSION, "vdpa uAPI");
#endif

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_sock *, nl_socket_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_msg *, nlmsg_free)

/* libnl's error codes back to errno (libnl maps the kernel's errno to its own codes). */
static int nlerr_to_errno(int e) {
	switch (e < 0 ? -e : e) {
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_MSGSIZE:
		return -EMSGSIZE;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_AF_NOSUPPORT:
	case NLE_PROTO_MISMATCH:
		return -EPROTONOSUPPORT;
	default:
		return -EIO;
	}
}

/* A connected generic netlink socket and the family id; 0, -ENOENT when the family does
 * not resolve, -errno. */
static int family_open(struct nl_sock **ret, int *ret_family) {
	_cleanup_(nl_socket_freep) struct nl_sock *sk = nl_socket_alloc();
	int r;

	if (!sk)
		return -ENOMEM;
	if ((r = genl_connect(sk)) < 0)
		return nlerr_to_errno(r);
	r = genl_ctrl_resolve(sk, IOASID_VDPA_GENL_NAME);
	if (r < 0)
		return r == -NLE_OBJ_NOTFOUND ? -ENOENT : nlerr_to_errno(r);
	*ret_family = r;
	*ret = TAKE_PTR(sk);
	return 0;
}

typedef struct DumpState {
	Host *h;
	int error;
} DumpState;

static const char *attr_str(struct nlattr *a) {
	if (!a || nla_len(a) < 1)
		return NULL;
	/* NLA_STRING in the policy does not promise a NUL; the kernel puts one (nla_put_string). */
	const char *s = nla_data(a);
	return memchr(s, '\0', (size_t)nla_len(a)) ? s : NULL;
}

static struct nla_policy vdpa_policy[IOASID_VDPA_ATTR_READ_MAX + 1] = {
	[IOASID_VDPA_ATTR_MGMTDEV_BUS_NAME] = { .type = NLA_NUL_STRING },
	[IOASID_VDPA_ATTR_MGMTDEV_DEV_NAME] = { .type = NLA_NUL_STRING },
	[IOASID_VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES] = { .type = NLA_U64 },
	[IOASID_VDPA_ATTR_DEV_NAME] = { .type = NLA_NUL_STRING },
	[IOASID_VDPA_ATTR_DEV_ID] = { .type = NLA_U32 },
	[IOASID_VDPA_ATTR_DEV_VENDOR_ID] = { .type = NLA_U32 },
};

static int parse(struct nl_msg *msg, struct nlattr **tb) {
	/* Attributes above the ones read (the kernel adds more over time) are skipped: parse
	 * with a maxtype covering them would need the kernel's table. genlmsg_parse ignores
	 * types above maxtype. */
	return genlmsg_parse(nlmsg_hdr(msg), 0, tb, IOASID_VDPA_ATTR_READ_MAX, vdpa_policy);
}

static int on_mgmtdev(struct nl_msg *msg, void *arg) {
	DumpState *st = arg;
	struct nlattr *tb[IOASID_VDPA_ATTR_READ_MAX + 1] = {};
	Host *h = st->h;

	if (parse(msg, tb) < 0 || !attr_str(tb[IOASID_VDPA_ATTR_MGMTDEV_DEV_NAME]))
		return NL_SKIP; /* a message that is not one: nothing to learn from it */
	VdpaMgmtDev *n = reallocarray(h->vdpa_mgmtdevs, h->n_vdpa_mgmtdevs + 1, sizeof(*n));
	if (!n) {
		st->error = -ENOMEM;
		return NL_STOP;
	}
	h->vdpa_mgmtdevs = n;
	VdpaMgmtDev *m = &n[h->n_vdpa_mgmtdevs];
	const char *bus = attr_str(tb[IOASID_VDPA_ATTR_MGMTDEV_BUS_NAME]);
	*m = (VdpaMgmtDev){
		.bus = bus ? strdup(bus) : NULL,
		.name = strdup(attr_str(tb[IOASID_VDPA_ATTR_MGMTDEV_DEV_NAME])),
		.supported_classes =
			tb[IOASID_VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES]
				? nla_get_u64(tb[IOASID_VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES])
				: 0,
	};
	h->n_vdpa_mgmtdevs++;
	if (!m->name || (bus && !m->bus)) {
		st->error = -ENOMEM;
		return NL_STOP;
	}
	return NL_OK;
}

static int on_dev(struct nl_msg *msg, void *arg) {
	DumpState *st = arg;
	struct nlattr *tb[IOASID_VDPA_ATTR_READ_MAX + 1] = {};
	Host *h = st->h;

	if (parse(msg, tb) < 0 || !attr_str(tb[IOASID_VDPA_ATTR_DEV_NAME]) ||
	    !attr_str(tb[IOASID_VDPA_ATTR_MGMTDEV_DEV_NAME]))
		return NL_SKIP;
	VdpaDevice *n = reallocarray(h->vdpa_devices, h->n_vdpa_devices + 1, sizeof(*n));
	if (!n) {
		st->error = -ENOMEM;
		return NL_STOP;
	}
	h->vdpa_devices = n;
	VdpaDevice *v = &n[h->n_vdpa_devices];
	const char *bus = attr_str(tb[IOASID_VDPA_ATTR_MGMTDEV_BUS_NAME]);
	*v = (VdpaDevice){
		.name = strdup(attr_str(tb[IOASID_VDPA_ATTR_DEV_NAME])),
		.mgmtdev_bus = bus ? strdup(bus) : NULL,
		.mgmtdev_name = strdup(attr_str(tb[IOASID_VDPA_ATTR_MGMTDEV_DEV_NAME])),
		.device_id = tb[IOASID_VDPA_ATTR_DEV_ID] ? nla_get_u32(tb[IOASID_VDPA_ATTR_DEV_ID])
							 : 0,
		.vendor_id = tb[IOASID_VDPA_ATTR_DEV_VENDOR_ID]
				     ? nla_get_u32(tb[IOASID_VDPA_ATTR_DEV_VENDOR_ID])
				     : 0,
	};
	h->n_vdpa_devices++;
	if (!v->name || !v->mgmtdev_name || (bus && !v->mgmtdev_bus)) {
		st->error = -ENOMEM;
		return NL_STOP;
	}
	return NL_OK;
}

static int dump(struct nl_sock *sk, int family, uint8_t cmd, nl_recvmsg_msg_cb_t cb,
		DumpState *st) {
	_cleanup_(nlmsg_freep) struct nl_msg *msg = nlmsg_alloc();
	int r;

	if (!msg)
		return -ENOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, NLM_F_DUMP, cmd,
			 IOASID_VDPA_GENL_VERSION))
		return -ENOMEM;
	if ((r = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, cb, st)) < 0)
		return nlerr_to_errno(r);
	if ((r = nl_send_auto(sk, msg)) < 0)
		return nlerr_to_errno(r);
	r = nl_recvmsgs_default(sk);
	if (st->error < 0)
		return st->error;
	return r < 0 ? nlerr_to_errno(r) : 0;
}

int vdpa_netlink_scan(Host *h) {
	_cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
	DumpState st = { .h = h };
	int family = 0, r;

	assert(h);
	r = family_open(&sk, &family);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if ((r = dump(sk, family, IOASID_VDPA_CMD_MGMTDEV_GET, on_mgmtdev, &st)) < 0 ||
	    (r = dump(sk, family, IOASID_VDPA_CMD_DEV_GET, on_dev, &st)) < 0)
		return r;
	return 1;
}

/* Sends cmd with the attributes given (NULL: left out) and waits for the kernel's ack. */
static int request(uint8_t cmd, const char *bus, const char *mgmt_name, const char *name) {
	_cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
	_cleanup_(nlmsg_freep) struct nl_msg *msg = NULL;
	int family = 0, r;

	if ((r = family_open(&sk, &family)) < 0)
		return r;
	if (!(msg = nlmsg_alloc()))
		return -ENOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, NLM_F_REQUEST | NLM_F_ACK, cmd,
			 IOASID_VDPA_GENL_VERSION))
		return -ENOMEM;
	if ((bus && nla_put_string(msg, IOASID_VDPA_ATTR_MGMTDEV_BUS_NAME, bus) < 0) ||
	    (mgmt_name && nla_put_string(msg, IOASID_VDPA_ATTR_MGMTDEV_DEV_NAME, mgmt_name) < 0) ||
	    (name && nla_put_string(msg, IOASID_VDPA_ATTR_DEV_NAME, name) < 0))
		return -ENOMEM;
	if ((r = nl_send_auto(sk, msg)) < 0)
		return nlerr_to_errno(r);
	r = nl_wait_for_ack(sk);
	return r < 0 ? nlerr_to_errno(r) : 0;
}

/* A NULL attribute is left out of the message: the kernel's answer to that (EINVAL) is the
 * one callers get, so the sim's model of it can be checked against the kernel. */
int vdpa_netlink_dev_add(const char *bus, const char *mgmt_name, const char *name) {
	return request(IOASID_VDPA_CMD_DEV_NEW, bus, mgmt_name, name);
}

int vdpa_netlink_dev_del(const char *name) {
	return request(IOASID_VDPA_CMD_DEV_DEL, NULL, NULL, name);
}
