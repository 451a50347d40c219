/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Test-only: whether a parsed document (common/doc.h) holds what json-c's parse of the same
 * text holds. For the parser's unit suites (tests/unit/json-compare.h) and its fuzz target.
 */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/doc.h"

/* Whether document n holds what json-c tree o holds: the same types and values, object keys
 * in the same order (json-c's key order is insertion order). Doubles
 * compare by value. */
static inline bool json_same_tree(const DocNode *n, json_object *o) {
	switch (doc_type(n)) {
	case DOC_NULL:
		return o == NULL;
	case DOC_BOOL:
		return json_object_is_type(o, json_type_boolean) &&
		       json_object_get_boolean(o) == n->b;
	case DOC_INT:
		return json_object_is_type(o, json_type_int) && json_object_get_int64(o) == n->i;
	case DOC_DOUBLE:
		/* A number with a fraction or an exponent, or an integer beyond int64 (which
		 * json-c keeps as an integer, as a uint64 or clamped). */
		if (json_object_is_type(o, json_type_double))
			return json_object_get_double(o) == n->d;
		if (!json_object_is_type(o, json_type_int))
			return false;
		return json_object_get_double(o) == n->d || json_object_get_int64(o) == INT64_MAX ||
		       json_object_get_int64(o) == INT64_MIN;
	case DOC_STRING:
		return json_object_is_type(o, json_type_string) &&
		       (size_t)json_object_get_string_len(o) == n->str.len &&
		       memcmp(json_object_get_string(o), n->str.s, n->str.len) == 0;
	case DOC_ARRAY:
		if (!json_object_is_type(o, json_type_array) ||
		    json_object_array_length(o) != n->c.n)
			return false;
		for (size_t i = 0; i < n->c.n; i++)
			if (!json_same_tree(n->c.items[i], json_object_array_get_idx(o, i)))
				return false;
		return true;
	case DOC_OBJECT: {
		if (!json_object_is_type(o, json_type_object) ||
		    (size_t)json_object_object_length(o) != n->c.n)
			return false;
		size_t i = 0;
		json_object_object_foreach(o, key, val) {
			if (!strcmp(key, n->c.keys[i]) == 0 || !json_same_tree(n->c.items[i], val))
				return false;
			i++;
		}
		return true;
	}
	}
	return false;
}
