/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One output path for every verb: a verb builds its --json document as a json-c tree
 * (common/json-out.h) from its structs, and the human form is rendered from that same
 * document, as an aligned table or tree. Colour is used only when stdout is a tty.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/json-out.h"
#include "common/macro.h"

#define _cleanup_json_ _cleanup_(json_object_putp)

/* Prints obj as JSON in the --json mode chosen, with a trailing newline. 0, or -ENOMEM when
 * nothing could be printed. */
int output_json(json_object *obj);

typedef struct Table Table;

/* table_new: columns are the header names; NULL-terminated. */
Table *table_new(const char *first, ...);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free)
#define _cleanup_table_ _cleanup_(table_freep)
/* Adds one row: exactly as many strings as columns (NULL prints "-"). -ENOMEM. */
int table_add_row(Table *t, ...);
/* Prints the table aligned; the header only when arg_legend. */
void table_print(Table *t);

/* ANSI helpers: empty strings when stdout is not a tty or NO_COLOR is set. */
const char *ansi_red(void);
const char *ansi_green(void);
const char *ansi_yellow(void);
const char *ansi_bold(void);
const char *ansi_normal(void);

/* Glyphs of trees and verdicts: box-drawing and a cross when the locale's charset is UTF-8
 * (nl_langinfo(CODESET), main() having called setlocale(LC_CTYPE, "")), ASCII otherwise
 * ("|-", "`-", "x"), so LC_ALL=C or a Latin-1 terminal gets no mojibake. */
bool output_utf8(void);
const char *glyph_tree_mid(void);
const char *glyph_tree_last(void);
const char *glyph_cross(void);
