#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# igb-modules.sh KV VERSION: print $VM_CACHE/VERSION/modules-igb, the stock igb.ko (the PF
# driver of QEMU's igb, an 82576 with SR-IOV) and what it depends on (dca, i2c-algo-bit),
# for scenario S12: stock-modules.sh with the set "igb".
exec "$(dirname "$0")/stock-modules.sh" "$1" "$2" igb igb
