#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Benchmark section "groups-native": the "groups" section with every tool reading the synthetic bed
# bind-mounted on /sys in a private mount namespace, without umockdev's path translation
# (tests/bench/lib.sh, NATIVE=1). Needs root; says SKIPPED otherwise.
NATIVE=1 exec bash "$(dirname "${BASH_SOURCE[0]}")/groups.sh" "$@"
