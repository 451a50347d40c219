/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The one set of helpers for JSON the project writes. Everything written (Varlink replies and
 * calls, every `ioasidctl --json` output, snapshots, the daemon's stored state) is a json-c
 * tree built from typed structs and printed by json-c; what is read (the wire, snapshots,
 * stored state) is parsed by doc_parse() (common/doc.h) and never turned back into json-c.
 *
 * Contracts: a NULL value is JSON null. Object keys are string literals (or strings that
 * outlive the object): json-c keeps the pointer (JSON_C_OBJECT_KEY_IS_CONSTANT); each key is
 * added once per object (JSON_C_OBJECT_ADD_KEY_IS_NEW: no lookup, so a second add of a key
 * would print it twice, which every reader of this project refuses). An adder
 * given a NULL object drops v. A failed allocation loses the member; a writer that must
 * not print a partial document checks json_out_failed() (or builds its own flag).
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)

/* A string, or JSON null for NULL. */
json_object *json_str_or_null(const char *s);
/* An integer, or JSON null when !set. */
json_object *json_int_or_null(bool set, int64_t v);
/* A string list as an array (empty for NULL). */
json_object *json_strv(char *const *l);

/* Adds key: v to o (v taken, may be NULL: null). */
void json_add(json_object *o, const char *key, json_object *v);
void json_add_str(json_object *o, const char *key, const char *v);
void json_add_int(json_object *o, const char *key, int64_t v);
void json_add_bool(json_object *o, const char *key, bool v);
/* Appends v (taken, may be NULL: null) to array a. */
void json_append(json_object *a, json_object *v);

/* Whether an allocation of one of the helpers above failed in this process since the last
 * json_out_reset() (a member or element was lost). */
bool json_out_failed(void);
void json_out_reset(void);

/*
 * json_out_print: writes o to f as json_object_to_json_string_ext(o, flags) prints it (no
 * trailing newline). Returns 0, -ENOMEM, or -EIO when f reported a write error.
 */
int json_out_print(FILE *f, json_object *o, int flags);

/* Checked constructors: NULL (and json_out_failed()) on allocation failure. */
json_object *json_obj(void);
json_object *json_arr(void);
json_object *json_int(int64_t v);
json_object *json_boolean(bool b);
json_object *json_str_len(const char *s, size_t len);

/* Readers of a tree the program built itself (the human renderers of a --json document):
 * absent and null read as NULL / def; a wrong type reads as absent. */
json_object *json_get(json_object *o, const char *key);
const char *json_get_str(json_object *o, const char *key);
int64_t json_get_int(json_object *o, const char *key, int64_t def);
/* json-c's truth: a true boolean, a non-zero number or a non-empty string. */
bool json_get_bool(json_object *o, const char *key);
/* Array length (0 for anything else) and element i (NULL past the end). */
size_t json_len(json_object *a);
json_object *json_at(json_object *a, size_t i);
/* The string of a string object, else NULL. */
const char *json_str_of(json_object *o);
