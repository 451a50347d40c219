/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/doc.h"

/*
 * json_write: writes o to f exactly as json_object_to_json_string_ext(o, flags) would
 * return it (no trailing newline), for flags made of JSON_C_TO_STRING_PLAIN, _SPACED,
 * _PRETTY, _PRETTY_TAB and _NOSLASHESCAPE, without holding the whole text in memory.
 * Objects with a custom json-c serializer other than doubles' are not supported (none are
 * made in this project). Returns 0, -ENOMEM, or -EIO when f reported a write error.
 */
int json_write(FILE *f, json_object *o, int flags);

/* json_write() for a DocNode tree (common/doc.h): the bytes json-c would print for the
 * equivalent json-c tree (a NULL node is null), with the same flags and returns. */
int json_write_doc(FILE *f, const DocNode *o, int flags);

/* json_write() and json_write_doc() into memory: *ret is the malloc'd text, NUL-terminated,
 * *ret_len (may be NULL) its length without the NUL. Returns 0 or -ENOMEM. */
int json_write_mem(json_object *o, int flags, char **ret, size_t *ret_len);
int json_write_doc_mem(const DocNode *o, int flags, char **ret, size_t *ret_len);

/* The json-c tree equal to n (NULL, a JSON null, gives *ret = NULL): for code that reads
 * json-c objects from a parsed document. Returns 0 or -ENOMEM. */
int doc_to_json(const DocNode *n, json_object **ret);

/* The document equal to json-c tree o, built in d (keys and strings copied): for code that
 * holds json-c objects and calls a document API. *ret is NULL for a JSON null. Returns 0 or
 * -ENOMEM. */
int json_to_doc(Doc *d, json_object *o, DocNode **ret);
