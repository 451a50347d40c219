/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common/macro.h"
#include "common/pci-class.h"

/* Subclass names from pci.ids (class 0xBBSS). Only the ones passthrough users meet. */
static const struct {
	uint16_t id;
	const char *name;
} subclasses[] = {
	{ 0x0000, "Non-VGA unclassified device" },
	{ 0x0001, "VGA compatible unclassified device" },
	{ 0x0100, "SCSI storage controller" },
	{ 0x0101, "IDE interface" },
	{ 0x0104, "RAID bus controller" },
	{ 0x0106, "SATA controller" },
	{ 0x0107, "Serial Attached SCSI controller" },
	{ 0x0108, "Non-Volatile memory controller" },
	{ 0x0180, "Mass storage controller" },
	{ 0x0200, "Ethernet controller" },
	{ 0x0207, "Infiniband controller" },
	{ 0x0280, "Network controller" },
	{ 0x0300, "VGA compatible controller" },
	{ 0x0301, "XGA compatible controller" },
	{ 0x0302, "3D controller" },
	{ 0x0380, "Display controller" },
	{ 0x0400, "Multimedia video controller" },
	{ 0x0401, "Multimedia audio controller" },
	{ 0x0403, "Audio device" },
	{ 0x0480, "Multimedia controller" },
	{ 0x0500, "RAM memory" },
	{ 0x0580, "Memory controller" },
	{ 0x0600, "Host bridge" },
	{ 0x0601, "ISA bridge" },
	{ 0x0604, "PCI bridge" },
	{ 0x0680, "Bridge" },
	{ 0x0700, "Serial controller" },
	{ 0x0780, "Communication controller" },
	{ 0x0800, "PIC" },
	{ 0x0805, "SD Host controller" },
	{ 0x0806, "IOMMU" },
	{ 0x0880, "System peripheral" },
	{ 0x0c03, "USB controller" },
	{ 0x0c05, "SMBus" },
	{ 0x0c80, "Serial bus controller" },
	{ 0x0d80, "Wireless controller" },
	{ 0x1000, "Network and computing encryption device" },
	{ 0x1080, "Encryption controller" },
	{ 0x1101, "Performance counters" },
	{ 0x1180, "Signal processing controller" },
	{ 0x1200, "Processing accelerators" },
};

static const char *const base_classes[] = {
	[0x00] = "Unclassified device",
	[0x01] = "Mass storage controller",
	[0x02] = "Network controller",
	[0x03] = "Display controller",
	[0x04] = "Multimedia controller",
	[0x05] = "Memory controller",
	[0x06] = "Bridge",
	[0x07] = "Communication controller",
	[0x08] = "Generic system peripheral",
	[0x09] = "Input device controller",
	[0x0a] = "Docking station",
	[0x0b] = "Processor",
	[0x0c] = "Serial bus controller",
	[0x0d] = "Wireless controller",
	[0x0e] = "Intelligent controller",
	[0x0f] = "Satellite communications controller",
	[0x10] = "Encryption controller",
	[0x11] = "Signal processing controller",
	[0x12] = "Processing accelerators",
	[0x13] = "Non-Essential Instrumentation",
};

const char *pci_class_name(uint32_t class) {
	uint16_t sub = (uint16_t)((class >> 8) & 0xffff);
	unsigned base = (class >> 16) & 0xff;

	for (size_t i = 0; i < ELEMENTSOF(subclasses); i++)
		if (subclasses[i].id == sub)
			return subclasses[i].name;
	if (base < ELEMENTSOF(base_classes) && base_classes[base])
		return base_classes[base];
	if (base == 0x40)
		return "Coprocessor";
	return "Unclassified device";
}
