/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The wire protocol: Varlink (one JSON object per message, NUL-terminated) over AF_UNIX
 * SOCK_STREAM. Fds travel in SCM_RIGHTS with the reply and are referenced by index
 * ("iommufd": 0). Every client-controlled quantity has its limit here.
 */

#define IOASID_SOCKET_PATH "/run/ioasid/ioasidd.sock"
#define IOASID_CONFIG_PATH IOASID_SYSCONFDIR "/ioasid/ioasid.conf"

#define IOASID_IFACE_SERVICE "org.varlink.service"
#define IOASID_IFACE_BROKER "io.ioasid.Broker"
#define IOASID_IFACE_MANAGER "io.ioasid.Manager"

/* Named errors, each qualified by the interface whose IDL declares it (the IDL files in
 * common/), as the Varlink spec requires. The one list: the daemon sends these, the client
 * matches them. */
#define IOASID_ERROR_PERMISSION_DENIED "io.ioasid.Broker.PermissionDenied"
#define IOASID_ERROR_NO_SUCH_DEVICE "io.ioasid.Broker.NoSuchDevice"
#define IOASID_ERROR_GROUP_NOT_VIABLE "io.ioasid.Broker.GroupNotViable"
#define IOASID_ERROR_GROUP_OWNED "io.ioasid.Broker.GroupOwned"
#define IOASID_ERROR_DEVICE_BUSY "io.ioasid.Broker.DeviceBusy"
#define IOASID_ERROR_DEPENDENT_OWNED "io.ioasid.Broker.DependentOwned"
#define IOASID_ERROR_LIMIT_EXCEEDED "io.ioasid.Broker.LimitExceeded"
#define IOASID_ERROR_FRAMEWORK_CONFLICT "io.ioasid.Broker.FrameworkConflict"
#define IOASID_ERROR_LAYOUT_CONFLICT "io.ioasid.Broker.LayoutConflict"
#define IOASID_ERROR_NO_SUCH_LEASE "io.ioasid.Broker.NoSuchLease"
#define IOASID_ERROR_PROTOCOL "io.ioasid.Broker.ProtocolError"
#define IOASID_ERROR_SYSTEM "io.ioasid.Broker.SystemError"
#define IOASID_ERROR_MANAGER_PERMISSION_DENIED "io.ioasid.Manager.PermissionDenied"
#define IOASID_ERROR_RELOAD_FAILED "io.ioasid.Manager.ReloadFailed"
#define IOASID_ERROR_MANAGER_NO_SUCH_LEASE "io.ioasid.Manager.NoSuchLease"
#define IOASID_ERROR_NO_SUCH_STAGED "io.ioasid.Manager.NoSuchStaged"
#define IOASID_ERROR_NO_SUCH_USER "io.ioasid.Manager.NoSuchUser"
#define IOASID_ERROR_OWNER_DENIED "io.ioasid.Manager.OwnerDenied"
#define VARLINK_ERROR_METHOD_NOT_FOUND "org.varlink.service.MethodNotFound"
#define VARLINK_ERROR_INTERFACE_NOT_FOUND "org.varlink.service.InterfaceNotFound"
#define VARLINK_ERROR_INVALID_PARAMETER "org.varlink.service.InvalidParameter"
#define VARLINK_ERROR_EXPECTED_MORE "org.varlink.service.ExpectedMore"

/* Limits (client-controlled quantities). */
#define IOASID_MAX_MESSAGE (64 * 1024)        /* bytes of one request, NUL included */
#define IOASID_MAX_JSON_DEPTH 8               /* nesting of a request */
#define IOASID_MAX_REPLY (16 * 1024 * 1024)   /* bytes of one reply (ListDevices on big hosts) */
#define IOASID_MAX_QUEUED_BYTES (1024 * 1024) /* queued reply bytes before reading pauses */
#define IOASID_MAX_PENDING_REPLIES 16         /* queued replies per connection */
#define IOASID_MAX_FD_REPLIES 1               /* fd-bearing replies outstanding per connection */
#define IOASID_MAX_CONNECTIONS_PER_UID 64
#define IOASID_MAX_CONNECTIONS 1024
#define IOASID_IDLE_TIMEOUT_SEC 30           /* no complete request within this: disconnect */
#define IOASID_STAGE_TIMEOUT_SEC 600         /* a staged context not acquired by then is dropped */
#define IOASID_STAGE_TIMEOUT_MAX (7 * 86400) /* the longest a Stage call or the config may ask */
#define IOASID_SEND_TIMEOUT_SEC 10           /* reply not drained by the peer within this */
#define IOASID_MAX_DEVICES_PER_REQUEST 64
#define IOASID_MAX_FDS_PER_REPLY 128 /* below SCM_MAX_FD (253) */
#define IOASID_MAX_LEASES 4096

/* Exit codes of ioasidctl (documented in ioasidctl(8)). */
#define EXIT_NOT_VIABLE 2 /* check failed, not viable, or denied */
#define EXIT_USAGE 64
#define EXIT_UNAVAILABLE 69
