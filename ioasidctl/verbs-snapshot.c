/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder: replaced by the real verb. */
#include "ioasidctl/ioasidctl.h"

int verb_snapshot(int argc, char **argv) {
	return ioasidctl_error(1, "'snapshot' is not implemented yet");
}
