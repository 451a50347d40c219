/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder: replaced by the real verbs. */
#include "ioasidctl/ioasidctl.h"

int verb_layout(int argc, char **argv) {
	return ioasidctl_error(1, "'layout' is not implemented yet");
}

int verb_stage(int argc, char **argv) {
	return ioasidctl_error(1, "'stage' is not implemented yet");
}
