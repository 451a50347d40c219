/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder: replaced by the real verbs. */
#include "ioasidctl/ioasidctl.h"

int verb_acquire(int argc, char **argv) {
	return ioasidctl_error(1, "'acquire' is not implemented yet");
}

int verb_run(int argc, char **argv) {
	return ioasidctl_error(1, "'run' is not implemented yet");
}

int verb_leases(int argc, char **argv) {
	return ioasidctl_error(1, "'leases' is not implemented yet");
}

int verb_status(int argc, char **argv) {
	return ioasidctl_error(1, "'status' is not implemented yet");
}

int verb_revoke(int argc, char **argv) {
	return ioasidctl_error(1, "'revoke' is not implemented yet");
}
