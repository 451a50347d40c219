#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
echo "vm/run.sh: SKIPPED: not implemented yet"
