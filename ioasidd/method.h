/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The method layer's contract. Each interface (method-service.c, method-broker.c,
 * method-manager.c) is one table of Method rows: a name, a handler, flags and a parameter
 * spec. The server (server.c) looks a call up, checks METHOD_ADMIN once (an admin rule of the
 * policy, audited), validates the parameters against the spec into the handler's struct,
 * refuses a missing "more" for METHOD_MORE, never runs a METHOD_FDS handler for a oneway call
 * (its fds could not be delivered), then runs the handler and sends what it returns. A
 * handler never sends: it fills a Reply (parameters, a document with fds, or a named error)
 * and returns 0, or returns -errno (the server answers SystemError naming the method).
 * Adding a method is one row and one function.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "common/doc.h"
#include "common/json-out.h"
#include "common/proto.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/refusal.h"

/* ---- parameter specs ---- */

typedef enum ParamType {
	PARAM_STRING, /* const char * (borrowed from the request) */
	PARAM_INT,    /* int64_t, within [min, max] */
	PARAM_BOOL,   /* bool */
	PARAM_ENUM,   /* int, a string looked up with from_string */
	PARAM_LIST,   /* ParamList: an array of strings, [min, max] items */
} ParamType;

/* At most this many items in a PARAM_LIST (the longest list a request may carry). */
#define PARAM_LIST_MAX IOASID_MAX_DEVICES_PER_REQUEST

typedef struct ParamList {
	const char *items[PARAM_LIST_MAX];
	size_t n;
} ParamList;

typedef struct ParamSpec {
	const char *name;
	ParamType type;
	size_t offset; /* of the value in the handler's parameter struct */
	bool required;
	int64_t min, max; /* PARAM_INT: the value; PARAM_STRING: the length (max 0: any);
			   * PARAM_LIST: the number of items */
	int (*from_string)(const char *s); /* PARAM_ENUM: >= 0 or -EINVAL */
	size_t present_offset; /* non-zero: a bool in the struct set when the member is there */
} ParamSpec;

/*
 * method_params_parse: validates params (the request's "parameters" object) against spec
 * (n entries) into out (the handler's struct, zeroed first). A member JSON null counts as
 * absent (Varlink optional fields). The first member spec does not name is refused first
 * (InvalidParameter naming it, in the order of the request), then each spec entry in order: a
 * wrong type, a value outside its limits, or a required one missing is InvalidParameter
 * naming it. Returns 0, or -EINVAL with *rf set.
 */
int method_params_parse(const ParamSpec *spec, size_t n, const DocNode *params, void *out,
			Refusal *rf);

/* ---- calls and replies ---- */

/* What a handler knows of its caller. connection is opaque below the server: leases keep it
 * to tell the server whose they are. */
typedef struct Call {
	Manager *manager;
	Connection *connection;
	uint64_t connection_id;
	const Peer *peer;
	const char *method;
	unsigned flags;        /* VARLINK_CALL_* */
	bool fd_reply_pending; /* an earlier reply with fds has not been delivered yet */
} Call;

typedef struct Reply {
	const char *error;   /* NULL: a reply; else the error name (a string constant) */
	json_object *params; /* owned; NULL: {} */
	const int *fds;      /* borrowed from lease (which keeps them), sent with the reply */
	size_t n_fds;
	bool continues;
	bool subscribe; /* Monitor: the connection receives events from now on */
	Lease *lease;   /* the lease whose fds the reply carries (delivered once sent) */
} Reply;

void reply_done(Reply *r);
/* Sets r to a reply with params (taken; NULL: {}). Returns 0, -ENOMEM when params is NULL
 * because its allocation failed is the caller's to check. */
int reply_ok(Reply *r, json_object *params);
/* Sets r to the error named by rf (SystemError ENOMEM when rf ran out of memory); rf is left
 * as it was. Returns 0 or -ENOMEM. */
int reply_refusal(Reply *r, const Refusal *rf);
/* Sets r to error with one string parameter key (NULL: none). Returns 0 or -ENOMEM. */
int reply_error(Reply *r, const char *error, const char *key, const char *value);

/* ---- method tables ---- */

typedef enum MethodFlags {
	METHOD_ADMIN = 1 << 0, /* the caller must match an admin rule (checked first, audited) */
	METHOD_MORE = 1 << 1,  /* the call must ask for more (ExpectedMore otherwise) */
	METHOD_FDS = 1 << 2,   /* the reply carries fds: a oneway call is not run */
} MethodFlags;

typedef struct Method {
	const char *name; /* without the interface */
	int (*handler)(Call *call, const void *params, Reply *reply);
	unsigned flags; /* MethodFlags */
	const ParamSpec *params;
	size_t n_params;
	size_t params_size; /* of the struct method_params_parse() fills */
} Method;

/* The room the server gives a method's parameter struct (params_size is at most this; a
 * unit test checks every table). */
#define METHOD_PARAMS_MAX (sizeof(ParamList) * 2 + 256)

typedef struct MethodInterface {
	const char *name;
	const Method *methods;
	size_t n_methods;
	/* The error PermissionDenied of the interface, and its "reason", for METHOD_ADMIN. */
	const char *admin_denied;
} MethodInterface;

extern const MethodInterface method_service;
extern const MethodInterface method_broker;
extern const MethodInterface method_manager;

/* A Monitor event: its name and the parameters it has (NULL or has_* false: absent). */
typedef struct BrokerEvent {
	const char *event;
	const char *bdf;
	const char *vdpa; /* a vhost-vdpa lease's events: its vDPA device (bdf is NULL) */
	const char *lease;
	const char *cause; /* lease-ended, lease-revoked: why */
	int64_t group;     /* group-viability-changed (has_group) */
	bool has_group;
	const char *verdict; /* group-viability-changed: "viable", "not-viable", ... */
	int64_t generation;  /* policy-reloaded (has_generation) */
	bool has_generation;
} BrokerEvent;

/* method-broker.c: a Monitor event's parameters (NULL on ENOMEM). */
json_object *method_broker_event(const BrokerEvent *e);
