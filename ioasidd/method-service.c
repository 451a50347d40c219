/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * org.varlink.service: GetInfo and GetInterfaceDescription (the IDL text the daemon serves is
 * the real one: the IDL files of common/, embedded at build time). Layer: a method table
 * (method.h), called only by the server; calls method.c.
 */
#include <stddef.h>

#include "common/macro.h"
#include "common/proto.h"
#include "ioasidd/method.h"
#include "varlink-idl.h" /* generated from the IDL files in common/: varlink_idl[] */

static const char service_idl[] =
	"# The Varlink service interface\n"
	"interface org.varlink.service\n\n"
	"method GetInfo() -> (\n  vendor: string,\n  product: string,\n  version: string,\n"
	"  url: string,\n  interfaces: []string\n)\n\n"
	"method GetInterfaceDescription(interface: string) -> (description: string)\n\n"
	"error InterfaceNotFound (interface: string)\n"
	"error MethodNotFound (method: string)\n"
	"error MethodNotImplemented (method: string)\n"
	"error InvalidParameter (parameter: string)\n"
	"error PermissionDenied ()\n"
	"error ExpectedMore ()\n";

static int method_get_info(Call *call, const void *params, Reply *reply) {
	json_object *p = json_object_new_object();
	json_object *ifaces = json_object_new_array();
	if (!p || !ifaces) {
		json_object_put(p);
		json_object_put(ifaces);
		return -ENOMEM;
	}
	json_object_array_add(ifaces, json_object_new_string(IOASID_IFACE_SERVICE));
	for (size_t i = 0; i < ELEMENTSOF(varlink_idl); i++)
		json_object_array_add(ifaces, json_object_new_string(varlink_idl[i].name));
	json_add_str(p, "vendor", "ioasid");
	json_add_str(p, "product", "ioasidd");
	json_add_str(p, "version", IOASID_VERSION);
	json_add_str(p, "url", "man:ioasidd(8)");
	json_add(p, "interfaces", ifaces);
	return reply_ok(reply, p);
}

typedef struct DescriptionParams {
	const char *interface;
} DescriptionParams;

static int method_get_interface_description(Call *call, const void *params, Reply *reply) {
	const DescriptionParams *a = params;
	const char *text = NULL;
	if (streq(a->interface, IOASID_IFACE_SERVICE))
		text = service_idl;
	for (size_t i = 0; !text && i < ELEMENTSOF(varlink_idl); i++)
		if (streq(a->interface, varlink_idl[i].name))
			text = varlink_idl[i].text;
	if (!text)
		return reply_error(reply, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface",
				   a->interface);
	json_object *p = json_object_new_object();
	if (!p)
		return -ENOMEM;
	json_add_str(p, "description", text);
	return reply_ok(reply, p);
}

static const ParamSpec description_params[] = {
	{ "interface", PARAM_STRING, offsetof(DescriptionParams, interface), .required = true },
};

static const Method methods[] = {
	{ "GetInfo", method_get_info },
	{ "GetInterfaceDescription", method_get_interface_description, 0, description_params,
	  ELEMENTSOF(description_params), sizeof(DescriptionParams) },
};

const MethodInterface method_service = {
	.name = IOASID_IFACE_SERVICE,
	.methods = methods,
	.n_methods = ELEMENTSOF(methods),
	.admin_denied = NULL,
};
