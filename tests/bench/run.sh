#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Benchmarks. Each section is its own script (so sections can be run alone) and reports
# ratios against a floor measured in the same run; nothing asserts on time.
#   acquire.sh   ioasidd acquire+release vs a socketpair floor, 64 clients, daemon RSS

dir=$(dirname "${BASH_SOURCE[0]}")
rc=0
"$dir/acquire.sh" || rc=1
exit $rc
