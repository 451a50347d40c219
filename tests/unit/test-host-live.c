/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The live scan's parsers of kernel text: AMD-Vi's features attribute, /proc/interrupts. */
#include "common/host.h"
#include "common/macro.h"
#include "tests/unit/test.h"

/* EFRs as AMD IOMMUs report them (HATS, bits 11:10, is 2 on each: 6 levels). */
#define EFR_ZEN2 "58f77ef22294a5a"
#define EFR_GENOA "a5bf7320a2294aee"

static void test_amd_features(void) {
	static const struct {
		const char *text;
		int width;
	} cases[] = {
		/* Before 6.0: EFR alone. */
		{ EFR_ZEN2 "\n", 64 },
		{ EFR_ZEN2, 64 },
		{ "0", 48 },               /* no EFR: the kernel's 4 levels */
		{ "58f77ef2229465a", 57 }, /* HATS 1 */
		{ "58f77ef22294 25a", -EINVAL },
		{ "58f77ef22294 5a\n", -EINVAL },
		{ "58f77ef22294f5a", 0 }, /* HATS 3: reserved, host translation disabled */
		/* 6.0 on: two numbers, in either order; an EFR2 of 0 cannot change HATS. */
		{ EFR_ZEN2 ":0\n", 64 },
		{ "0:" EFR_ZEN2 "\n", 64 },
		{ "58f77ef2229465a:0", 57 },
		{ "0:58f77ef2229465a", 57 },
		{ "58f77ef22294254:0", 48 },
		/* Both non-zero: HATS only where both numbers agree on bits 11:10. */
		{ EFR_GENOA ":1d", 0 },
		{ "1d:" EFR_GENOA, 0 },
		{ EFR_GENOA ":81d", 64 },
		{ "0:0", 48 },
		/* Junk. */
		{ "", -EINVAL },
		{ "\n", -EINVAL },
		{ ":", -EINVAL },
		{ EFR_ZEN2 ":", -EINVAL },
		{ ":" EFR_ZEN2, -EINVAL },
		{ "1:2:3", -EINVAL },
		{ "xyz", -EINVAL },
		{ EFR_ZEN2 "\n0\n", -EINVAL },
		{ "10000000000000000", -EINVAL },
		{ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0", -EINVAL },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		int w = host_amd_features_width(cases[i].text);
		if (w != cases[i].width)
			fprintf(stderr, "features '%s': got %d, expected %d\n", cases[i].text, w,
				cases[i].width);
		CU_ASSERT_EQUAL(w, cases[i].width);
	}
	CU_ASSERT_EQUAL(host_amd_features_width(NULL), -EINVAL);
}

/* A VT-d host, 6.x: per-device MSI domains ("IR-PCI-MSIX-<BDF>"), IO-APIC remapped. */
static const char intel_ir[] =
	"            CPU0       CPU1       CPU2       CPU3       \n"
	"   0:         36          0          0          0   IR-IO-APIC    2-edge      timer\n"
	"   8:          0          0          0          0   IR-IO-APIC    8-edge      rtc0\n"
	"   9:          0        112          0          0   IR-IO-APIC    9-fasteoi   acpi\n"
	" 120:          0          0          0          0  DMAR-MSI    0-edge      dmar0\n"
	" 122:    1843101          0          0          0  IR-PCI-MSIX-0000:02:00.0    0-edge      "
	"nvme0q0\n"
	" NMI:          4          2          3          2   Non-maskable interrupts\n"
	" LOC:    5131411    4721873    4875321    4722109   Local timer interrupts\n"
	" ERR:          0\n"
	" MIS:          0\n";

/* An AMD-Vi host, 5.x: one MSI domain ("IR-PCI-MSI"); the same IO-APIC chip name. */
static const char amd_ir[] = "            CPU0       CPU1       \n"
			     "   0:         44          0   IR-IO-APIC    2-edge      timer\n"
			     "   7:          0          0   IR-IO-APIC    7-fasteoi   pinctrl_amd\n"
			     "  25:          0          0   PCI-MSI 4096-edge      AMD-Vi\n"
			     "  27:       1045        208   IR-PCI-MSI 524288-edge      nvme0q0\n"
			     " NMI:          0          0   Non-maskable interrupts\n";

/* No remapping (intremap=off, or no IOMMU): plain IO-APIC and PCI-MSI chips. The action
 * names in the last column may say anything, "IR-" included. */
static const char x86_no_ir[] =
	"           CPU0       CPU1       \n"
	"  0:         44          0   IO-APIC   2-edge      timer\n"
	"  1:          0          9   IO-APIC   1-edge      i8042\n"
	" 24:          0          0   PCI-MSI 458752-edge      IR-receiver\n"
	" 28:          0          0 PCI-MSIX-0000:00:01.0   0-edge      virtio0-config\n"
	"NMI:          0          0   Non-maskable interrupts\n";

/* arm64, GICv3 and ITS: no IO-APIC and no IR- chips, so this text does not tell. */
static const char arm64_gic[] =
	"           CPU0       CPU1       CPU2       CPU3       \n"
	" 11:     170321     168233     171002     169874     GICv3  30 Level     arch_timer\n"
	" 14:          0          0          0          0     GICv3  23 Level     arm-pmu\n"
	" 34:         12          0          0          0 ITS-MSI 524288 Edge      nvme0q0\n"
	"IPI0:      1034       1212       1100        998       Rescheduling interrupts\n"
	"Err:          0\n";

static void test_interrupts(void) {
	CU_ASSERT_EQUAL(host_interrupts_remapping(intel_ir), TRI_YES);
	CU_ASSERT_EQUAL(host_interrupts_remapping(amd_ir), TRI_YES);
	CU_ASSERT_EQUAL(host_interrupts_remapping(x86_no_ir), TRI_NO);
	CU_ASSERT_EQUAL(host_interrupts_remapping(arm64_gic), TRI_UNKNOWN);
	CU_ASSERT_EQUAL(host_interrupts_remapping(""), TRI_UNKNOWN);
	CU_ASSERT_EQUAL(host_interrupts_remapping(NULL), TRI_UNKNOWN);
	/* Only the header and the named lines: nothing to go by. */
	CU_ASSERT_EQUAL(host_interrupts_remapping(
				"      CPU0\nNMI:   0   Non-maskable interrupts\n"),
			TRI_UNKNOWN);
	/* One remapped chip is enough, wherever it is; no trailing newline needed. */
	CU_ASSERT_EQUAL(host_interrupts_remapping("  0:  1  IO-APIC  2-edge  timer\n"
						  " 30:  5  IR-PCI-MSI 1-edge  eth0"),
			TRI_YES);
	/* MSI chips under a virtual IOMMU, from 6.2 until the 2024 PCI/IMS revert: "vIR-". */
	CU_ASSERT_EQUAL(host_interrupts_remapping(
				" 26:  0  0  vIR-PCI-MSIX-0000:00:03.0  0-edge  q0\n"),
			TRI_YES);
	/* A chip column that only starts like IR- or IO-APIC is neither. */
	CU_ASSERT_EQUAL(host_interrupts_remapping("  0:  1  IR-  2-edge  x\n"
						  "  1:  1  IO-APICX  1-edge  y\n"),
			TRI_UNKNOWN);
	/* A chip token begins after a blank: "8259IR-X" is not an IR- chip. */
	CU_ASSERT_EQUAL(host_interrupts_remapping("  0:  1  8259IR-X  1-edge  x\n"), TRI_UNKNOWN);
	/* A line of counts without a chip (a CPU count wider than the header). */
	CU_ASSERT_EQUAL(host_interrupts_remapping("  0:  1  2  3\n"), TRI_UNKNOWN);
}

static CU_TestInfo tests[] = {
	{ "amd_features", test_amd_features },
	{ "interrupts", test_interrupts },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("host-live", tests);
