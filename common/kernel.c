/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stddef.h>

#include "common/kernel-impl.h"
#include "common/kernel.h"
#include "common/macro.h"

int kernel_new(const char *name, const Host *host, Kernel **ret) {
	if (!name || !ret)
		return -EINVAL;
	if (streq(name, "linux"))
		return kernel_linux_new(ret);
	if (streq(name, "sim")) {
		if (!host)
			return -EINVAL;
		return kernel_sim_new(host, ret);
	}
	return -EINVAL;
}

Kernel *kernel_free(Kernel *k) {
	if (k)
		k->ops->free(k);
	return NULL;
}

const char *kernel_api_to_string(KernelApi a) {
	switch (a) {
	case KERNEL_API_IOMMUFD:
		return "iommufd";
	case KERNEL_API_LEGACY:
		return "legacy";
	case KERNEL_API_NONE:
		return "none";
	}
	return NULL;
}
