/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live host scan: libudev + sysfs. (Being written; see host.h for the contract.) */
#include "common/host.h"
#include "common/macro.h"

int host_load_live(Host **ret) {
	return -EOPNOTSUPP;
}
