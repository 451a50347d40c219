/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder: replaced by the real verbs. */
#include "ioasidctl/ioasidctl.h"

int verb_groups(int argc, char **argv) {
	return ioasidctl_error(1, "'groups' is not implemented yet");
}

int verb_devices(int argc, char **argv) {
	return ioasidctl_error(1, "'devices' is not implemented yet");
}

int verb_show(int argc, char **argv) {
	return ioasidctl_error(1, "'show' is not implemented yet");
}

int verb_check(int argc, char **argv) {
	return ioasidctl_error(1, "'check' is not implemented yet");
}
