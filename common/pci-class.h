/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * PCI class names, as pci.ids spells them ("Audio device", "VGA compatible controller"), so
 * messages can say what a device is even when the udev hwdb has no name for it. Pure.
 */

#include <stdint.h>

/* pci_class_name: the name for a 24-bit class code (base, sub, prog-if). Looks up the
 * subclass first, then the base class; returns a static string, never NULL
 * ("Unclassified device" when even the base class is unknown). */
const char *pci_class_name(uint32_t class);
