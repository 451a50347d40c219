/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder: replaced by the host model. */
#include "common/macro.h"
#include "common/host.h"

int host_load_live(Host **ret) {
	return -EOPNOTSUPP;
}
int host_load_json_file(const char *path, Host **ret, char **ret_error) {
	return -EOPNOTSUPP;
}
