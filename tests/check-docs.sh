#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
echo "tests/check-docs.sh: SKIPPED: not implemented yet"
