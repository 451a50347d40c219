/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dispatch through the method tables: a call's method looked up among the interfaces, its
 * METHOD_ADMIN flag checked once (an admin rule, audited), its parameters validated against
 * its spec, METHOD_MORE and METHOD_FDS honoured, then its handler run. Layer: called by the
 * server; calls the method tables (method-*.c), method.c and manager.c (the admin check).
 */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/varlink.h"
#include "ioasidd/dispatch.h"
#include "ioasidd/method.h"

static const MethodInterface *const interfaces[] = {
	&method_service,
	&method_broker,
	&method_manager,
};

/* The interface and method of a call's name, validated by varlink_parse_call() (bounded,
 * [A-Za-z0-9.-], "interface.Method"). Either may come back NULL. */
static void method_lookup(const char *name, const MethodInterface **ret_iface,
			  const Method **ret_method) {
	const char *dot = strrchr(name, '.');
	size_t ilen = (size_t)(dot - name);
	*ret_iface = NULL;
	*ret_method = NULL;
	for (size_t i = 0; i < ELEMENTSOF(interfaces); i++)
		if (strlen(interfaces[i]->name) == ilen && strneq(name, interfaces[i]->name, ilen))
			*ret_iface = interfaces[i];
	for (size_t i = 0; *ret_iface && i < (*ret_iface)->n_methods; i++)
		if (streq((*ret_iface)->methods[i].name, dot + 1))
			*ret_method = &(*ret_iface)->methods[i];
}

int dispatch_call(Call *call, const DocNode *params, Reply *reply) {
	Manager *m = call->manager;
	const char *name = call->method;
	unsigned flags = call->flags;
	const MethodInterface *iface = NULL;
	const Method *method = NULL;
	method_lookup(name, &iface, &method);
	if (!iface) {
		/* Unknown: a named error, the connection stays; the name is safe to echo. */
		char buf[256];
		snprintf(buf, sizeof(buf), "%.*s", (int)(strrchr(name, '.') - name), name);
		return reply_error(reply, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", buf);
	}
	if (!method)
		return reply_error(reply, VARLINK_ERROR_METHOD_NOT_FOUND, "method", name);
	/* Authorization first: an unauthorized caller learns nothing about parameters. */
	if ((method->flags & METHOD_ADMIN) && !manager_is_admin(m, call->peer, name, true))
		return reply_error(reply, iface->admin_denied, "reason",
				   "caller does not match an admin rule");
	/* A oneway call of a method whose reply carries fds could never deliver them: nothing
	 * is created. */
	if ((method->flags & METHOD_FDS) && (flags & VARLINK_CALL_ONEWAY))
		return 1;
	_Alignas(max_align_t) char args[sizeof(ParamList) * 2 + 256];
	assert(method->params_size <= sizeof(args));
	memset(args, 0, sizeof(args));
	Refusal rf = { 0 };
	int r = method_params_parse(method->params, method->n_params, params, args, &rf);
	if (r < 0) {
		r = reply_refusal(reply, &rf);
		refusal_done(&rf);
		return r;
	}
	/* Only METHOD_MORE methods stream; "more" on anything else is answered once, as Varlink
	 * allows. */
	if ((method->flags & METHOD_MORE) && !(flags & VARLINK_CALL_MORE))
		return reply_error(reply, VARLINK_ERROR_EXPECTED_MORE, NULL, NULL);
	r = method->handler(call, args, reply);
	if (r < 0) {
		reply_done(reply);
		Refusal sys = { 0 };
		refusal_system(&sys, r, name, NULL);
		r = reply_refusal(reply, &sys);
		refusal_done(&sys);
	}
	return r;
}
