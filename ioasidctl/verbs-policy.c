/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder: replaced by the real verbs. */
#include "ioasidctl/ioasidctl.h"

int verb_policy(int argc, char **argv) {
	return ioasidctl_error(1, "'policy' is not implemented yet");
}
