/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder: replaced by the daemon. */
#include <stdio.h>

int main(void) {
	fprintf(stderr, "ioasidd: not implemented yet\n");
	return 1;
}
