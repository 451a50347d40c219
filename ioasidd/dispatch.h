/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "common/doc.h"
#include "ioasidd/method.h"

/*
 * dispatch_call: the reply to call (its method name, "more"/"oneway" flags, caller) with
 * params: everything checked here once (the method and its interface, METHOD_ADMIN, the
 * parameter spec, METHOD_MORE), then the handler. A handler's -errno becomes SystemError
 * naming the method. Returns 0 with *reply, 1 when nothing is to be run or sent (a oneway
 * METHOD_FDS call), -ENOMEM when no reply could be built.
 */
int dispatch_call(Call *call, const DocNode *params, Reply *reply);
