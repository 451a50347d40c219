/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasidctl snapshot: the host model as JSON on stdout, in the format every --host FILE
 * reads. With --host FILE the snapshot is loaded (and so validated) and re-serialized.
 */
#include <stdio.h>

#include "common/macro.h"
#include "ioasidctl/ioasidctl.h"
#include "ioasidctl/verbs.h"

int verb_snapshot(int argc, char **argv) {
	_cleanup_host_free_ Host *h = NULL;
	_cleanup_free_ char *json = NULL;
	int r;

	if (argc > 1)
		return ioasidctl_error(64, "'snapshot' takes no arguments");
	r = ioasidctl_load_host(&h);
	if (r < 0)
		return 1;
	r = host_to_json_string(h, &json);
	if (r < 0)
		return ioasidctl_error(1, "Cannot serialize the host model: %s", strerror(-r));
	if (puts(json) == EOF || fflush(stdout) != 0)
		return ioasidctl_error(1, "Cannot write the snapshot: %m");
	return 0;
}
