/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A Refusal is a named error with its parameters as plain C data: what the client must learn
 * when a request is refused (the IDL's error and its fields, in the order the IDL lists them).
 * Code below the method handlers (broker.c, context.c, stage.c, dependents.c) fills one next
 * to returning -errno; only the method layer turns it into a reply (method.c), so nothing
 * below knows the wire. Error names come from common/proto.h.
 *
 * Strings are copied; a failed allocation marks the refusal (oom) and it goes out as a
 * SystemError ENOMEM instead: a client never gets half an error.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REFUSAL_MAX_FIELDS 8

typedef enum RefusalType {
	REFUSAL_STRING,
	REFUSAL_INT,
	REFUSAL_NULL,
	REFUSAL_STRV, /* a list of strings (blockers, conflicts) */
} RefusalType;

typedef struct RefusalField {
	const char *key; /* a string literal */
	RefusalType type;
	char *s;
	int64_t i;
	char **strv;
} RefusalField;

typedef struct Refusal {
	const char *error; /* NULL: none (yet) */
	RefusalField fields[REFUSAL_MAX_FIELDS];
	size_t n_fields;
	bool oom;
} Refusal;

/* Starts (or restarts) rf as error, without parameters. error is a string constant. */
void refusal_set(Refusal *rf, const char *error);
/* Appends a parameter; v NULL makes it a JSON null. */
void refusal_str(Refusal *rf, const char *key, const char *v);
void refusal_int(Refusal *rf, const char *key, int64_t v);
void refusal_null(Refusal *rf, const char *key);
/* Takes strv (may be NULL: an empty list). */
void refusal_strv(Refusal *rf, const char *key, char **strv);
/* The parameter key, or NULL. */
const RefusalField *refusal_get(const Refusal *rf, const char *key);
/* Frees the parameters; rf is empty again. */
void refusal_done(Refusal *rf);

/* The common shapes. Each returns -abs(err) (or the given errno) so callers can
 * `return refusal_...;`. */
int refusal_invalid(Refusal *rf, const char *parameter); /* -EINVAL */
int refusal_system(Refusal *rf, int err, const char *operation, const char *device);

/*
 * refusal_summary: the parameters in one line for an audit record: the "reason" parameter
 * when there is one, else "key value, ..." (a list by its first item). Sets *ret_device to
 * the "device" parameter or NULL. buf is always terminated.
 */
const char *refusal_summary(const Refusal *rf, char *buf, size_t size, const char **ret_device);
