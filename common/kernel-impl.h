/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Constructors of the two kernel backends; only common/kernel.c calls them (kernel_new). */

#include "common/kernel.h"

int kernel_linux_new(Kernel **ret);
int kernel_sim_new(const Host *host, Kernel **ret);
