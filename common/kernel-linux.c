/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Not yet written: the linux backend follows the sim (see the kernel branch log). */
#include <errno.h>

#include "common/kernel-impl.h"

int kernel_linux_new(Kernel **ret) {
	return -EOPNOTSUPP;
}
