/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <langinfo.h>
#include <strings.h>
#include <stdarg.h>
#include <unistd.h>

#include "common/json-out.h"
#include "common/macro.h"
#include "ioasidctl/ioasidctl.h"
#include "ioasidctl/output.h"

int output_json(json_object *obj) {
	int flags = arg_json == JSON_SHORT ? JSON_C_TO_STRING_PLAIN
					   : JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED;
	flags |= JSON_C_TO_STRING_NOSLASHESCAPE;
	/* Write errors show at exit, as with any stdio output; only json-c's text buffer can
	 * fail to be allocated, before anything is printed. */
	if (json_out_print(stdout, obj, flags) == -ENOMEM)
		return -ENOMEM;
	putchar('\n');
	return 0;
}

struct Table {
	size_t n_cols;
	char **cells; /* row-major, header first */
	size_t n_cells;
};

Table *table_new(const char *first, ...) {
	Table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	va_list ap;
	va_start(ap, first);
	for (const char *c = first; c; c = va_arg(ap, const char *)) {
		char **x = realloc(t->cells, sizeof(char *) * (t->n_cells + 1));
		if (!x || !(x[t->n_cells] = strdup(c))) {
			if (x)
				t->cells = x;
			va_end(ap);
			return table_free(t);
		}
		t->cells = x;
		t->n_cells++;
		t->n_cols++;
	}
	va_end(ap);
	return t;
}

Table *table_free(Table *t) {
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n_cells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
	return NULL;
}

int table_add_row(Table *t, ...) {
	char **x = realloc(t->cells, sizeof(char *) * (t->n_cells + t->n_cols));
	if (!x)
		return -ENOMEM;
	t->cells = x;
	va_list ap;
	va_start(ap, t);
	for (size_t i = 0; i < t->n_cols; i++) {
		const char *c = va_arg(ap, const char *);
		if (!(t->cells[t->n_cells + i] = strdup(c ? c : "-"))) {
			for (size_t j = 0; j < i; j++)
				free(t->cells[t->n_cells + j]);
			va_end(ap);
			return -ENOMEM;
		}
	}
	va_end(ap);
	t->n_cells += t->n_cols;
	return 0;
}

/* Display width of a UTF-8 string (counts code points; good enough for our tables). */
static size_t utf8_width(const char *s) {
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

void table_print(Table *t) {
	size_t *width = calloc(t->n_cols, sizeof(size_t));
	if (!width)
		return;
	size_t first = arg_legend ? 0 : t->n_cols;
	for (size_t i = first; i < t->n_cells; i++)
		width[i % t->n_cols] = MAX(width[i % t->n_cols], utf8_width(t->cells[i]));
	for (size_t i = first; i < t->n_cells; i++) {
		size_t col = i % t->n_cols;
		bool last = col == t->n_cols - 1;
		bool header = i < t->n_cols;
		if (header)
			fputs(ansi_bold(), stdout);
		fputs(t->cells[i], stdout);
		if (header)
			fputs(ansi_normal(), stdout);
		if (last)
			putchar('\n');
		else
			printf("%*s", (int)(width[col] - utf8_width(t->cells[i]) + 2), "");
	}
	free(width);
}

static bool use_color(void) {
	static int cached = -1;
	if (cached < 0) {
		const char *nc = getenv("NO_COLOR");
		const char *term = getenv("TERM");
		cached = isatty(STDOUT_FILENO) && isempty(nc) && !(term && streq(term, "dumb"));
	}
	return cached;
}

const char *ansi_red(void) {
	return use_color() ? "\033[31m" : "";
}
const char *ansi_green(void) {
	return use_color() ? "\033[32m" : "";
}
const char *ansi_yellow(void) {
	return use_color() ? "\033[33m" : "";
}
const char *ansi_bold(void) {
	return use_color() ? "\033[1m" : "";
}
const char *ansi_normal(void) {
	return use_color() ? "\033[0m" : "";
}

bool output_utf8(void) {
	static int cached = -1;
	if (cached < 0) {
		const char *cs = nl_langinfo(CODESET);
		cached = cs && ((strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0));
	}
	return cached;
}

const char *glyph_tree_mid(void) {
	return output_utf8() ? "\u251c\u2500" : "|-";
}
const char *glyph_tree_last(void) {
	return output_utf8() ? "\u2514\u2500" : "`-";
}
const char *glyph_cross(void) {
	return output_utf8() ? "\u2717" : "x";
}
