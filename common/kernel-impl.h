/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Constructors of the two kernel backends; only common/kernel.c calls them (kernel_new). */

#include "common/kernel.h"

int kernel_linux_new(Kernel **ret);
int kernel_sim_new(const Host *host, Kernel **ret);

/*
 * kernel_linux_check_cdev_link: the post-open identity check of device_open. target is the
 * readlink() of /sys/dev/char/M:m for the opened cdev; it must end in
 * ".../<bdf>/vfio-dev/<vfio_name>". Returns 0, -ESTALE on any mismatch, -EINVAL for NULL.
 */
int kernel_linux_check_cdev_link(const char *target, const char *bdf, const char *vfio_name);
