/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the host snapshot reader, host_load_json_string() (doc_parse() and
 * the field checks of common/host-json.c, then host_finalize()): `--host FILE` reads
 * snapshots that may come from another machine or be hand-written (tests/fuzz/run.sh builds
 * and runs it, seeded with the snapshot fixtures in tests/hosts).
 *
 * Besides "no crash, no leak, no UB" it checks, on every input:
 *   1. the result is 0 with a host and no message, or -EINVAL with a message and no host
 *      (no -ENOMEM at these sizes, no other errno);
 *   2. an accepted snapshot writes (host_to_json_string) to text that loads again and
 *      writes the same bytes: snapshot -> load -> snapshot is a fixed point.
 * A violation aborts, so libFuzzer keeps the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	/* The reader takes a C string: an embedded NUL ends the text there. */
	char *text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';

	Host *h = NULL;
	char *err = NULL;
	int r = host_load_json_string(text, &h, &err);
	free(text);
	if (r < 0) {
		if (r != -EINVAL || !err || !*err || h)
			abort();
		free(err);
		return 0;
	}
	if (r != 0 || !h || err)
		abort();

	char *s1 = NULL, *s2 = NULL;
	Host *again = NULL;
	if (host_to_json_string(h, &s1) < 0)
		abort();
	if (host_load_json_string(s1, &again, &err) < 0)
		abort();
	if (host_to_json_string(again, &s2) < 0 || strcmp(s1, s2) != 0)
		abort();
	free(s1);
	free(s2);
	host_free(again);
	host_free(h);
	return 0;
}
