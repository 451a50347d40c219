/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasidctl cdi: a Container Device Interface spec that gives a container the broker's
 * socket, so `podman run --device ioasid.io/broker=default` lets a client inside it talk to
 * ioasidd. One document (a json_object) is written either as JSON or as YAML, the two
 * encodings CDI reads (by the file's extension).
 *
 * What the spec holds, and why:
 *   - cdiVersion: the lowest CDI version that has every field used (a mount's "type" came
 *     in 0.4.0), so every CDI library from 0.4 on accepts it; podman 5.4 in Debian trixie is
 *     built with CDI 0.8.0, which refuses any version it does not know (1.x among them);
 *     --cdi-version writes a later one, for runtimes whose CDI library knows it;
 *   - kind ioasid.io/broker, one device "default" whose edits are a bind mount of the socket
 *     file and IOASID_SOCKET, the variable every client (ioasidctl, libioasid) reads.
 * It holds no additionalGids: in a rootless container the socket's group is not mapped
 * into the user namespace, so the runtime could not set it; the container keeps the
 * caller's groups with `--group-add keep-groups` instead (ioasidctl(8)).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/client/client.h"
#include "common/json-out.h"
#include "common/macro.h"
#include "common/util.h"
#include "ioasidctl/ioasidctl.h"
#include "ioasidctl/output.h"
#include "ioasidctl/verbs.h"

#define CDI_VERSION "0.4.0"

/* The CDI versions from the lowest with every field the spec uses to the latest. */
bool cdi_version_known(const char *v) {
	static const char *const known[] = { "0.4.0", "0.5.0", "0.6.0", "0.7.0",
					     "0.8.0", "1.0.0", "1.1.0" };
	for (size_t i = 0; v && i < ELEMENTSOF(known); i++)
		if (streq(v, known[i]))
			return true;
	return false;
}
#define CDI_KIND "ioasid.io/broker"
#define CDI_DEVICE "default"
#define CDI_DIR "/etc/cdi"

/* A socket path the spec can carry: absolute, fits sun_path, no control characters (they
 * would need escapes some YAML readers lack) and nothing a container runtime would split or
 * misread in a mount or an environment entry. */
static int cdi_check_socket_path(const char *p) {
	struct sockaddr_un sa;
	if (p[0] != '/')
		return ioasidctl_error(EXIT_USAGE, "Socket path '%s' is not absolute", p);
	if (strlen(p) >= sizeof(sa.sun_path))
		return ioasidctl_error(EXIT_USAGE,
				       "Socket path '%s' is longer than a socket path "
				       "can be (%zu bytes)",
				       p, sizeof(sa.sun_path) - 1);
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return ioasidctl_error(EXIT_USAGE,
					       "Socket path has a control character (byte %zu)",
					       (size_t)(c - p));
	return 0;
}

/* The spec for a socket at socket (the same path inside the container). -ENOMEM. */
static int cdi_spec_new(const char *socket, json_object **ret) {
	_cleanup_free_ char *var = NULL;
	if (asprintf(&var, "IOASID_SOCKET=%s", socket) < 0) {
		var = NULL;
		return -ENOMEM;
	}
	/* Built from the leaves up: each object is attached once it is complete (an adder
	 * frees what it cannot attach), in the key order of the spec. */
	json_out_reset();
	json_object *opts = json_arr();
	/* nosuid, nodev, noexec: a rootless runtime may not clear such flags of the source
	 * mount (/run has them), and nothing on a socket needs them. */
	for (const char *const *o =
		     (const char *const[]){ "bind", "nosuid", "nodev", "noexec", NULL };
	     *o; o++)
		json_append(opts, json_str_or_null(*o));
	json_object *mount = json_obj();
	json_add_str(mount, "hostPath", socket);
	json_add_str(mount, "containerPath", socket);
	json_add_str(mount, "type", "bind");
	json_add(mount, "options", opts);
	json_object *mounts = json_arr(), *env = json_arr(), *edits = json_obj();
	json_append(mounts, mount);
	json_append(env, json_str_or_null(var));
	json_add(edits, "env", env);
	json_add(edits, "mounts", mounts);
	json_object *dev = json_obj(), *devices = json_arr();
	json_add_str(dev, "name", CDI_DEVICE);
	json_add(dev, "containerEdits", edits);
	json_append(devices, dev);
	_cleanup_json_ json_object *spec = json_obj();
	json_add_str(spec, "cdiVersion", arg_cdi_version ? arg_cdi_version : CDI_VERSION);
	json_add_str(spec, "kind", CDI_KIND);
	json_add(spec, "devices", devices);
	if (!spec || json_out_failed())
		return -ENOMEM;
	*ret = TAKE_PTR(spec);
	return 0;
}

/* YAML (1.1 and 1.2) of a JSON document, block style: strings double-quoted with the few
 * escapes both versions share, keys plain when they are identifiers. */
static void yaml_string(FILE *f, const char *s) {
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static bool yaml_plain_key(const char *k) {
	if (!*k)
		return false;
	for (const char *c = k; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	return true;
}

static void yaml_node(FILE *f, json_object *v, int indent, bool inline_first);

/* A value after "key:" or "- ": a scalar or an empty container on the same line, else a
 * newline and the block below at indent. */
static void yaml_value(FILE *f, json_object *v, int indent) {
	if (json_object_is_type(v, json_type_object) && json_object_object_length(v) > 0) {
		fputc('\n', f);
		yaml_node(f, v, indent, false);
	} else if (json_object_is_type(v, json_type_array) && json_object_array_length(v) > 0) {
		fputc('\n', f);
		yaml_node(f, v, indent, false);
	} else {
		fputc(' ', f);
		yaml_node(f, v, indent, true);
	}
}

static void yaml_node(FILE *f, json_object *v, int indent, bool inline_first) {
	switch (json_object_get_type(v)) {
	case json_type_object: {
		bool first = true;
		if (json_object_object_length(v) == 0) {
			fputs("{}\n", f);
			return;
		}
		json_object_object_foreach(v, k, val) {
			if (!(first && inline_first))
				fprintf(f, "%*s", indent, "");
			first = false;
			if (yaml_plain_key(k))
				fputs(k, f);
			else
				yaml_string(f, k);
			fputc(':', f);
			yaml_value(f, val, indent + 2);
		}
		return;
	}
	case json_type_array: {
		size_t n = json_object_array_length(v);
		if (n == 0) {
			fputs("[]\n", f);
			return;
		}
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(v, i);
			if (!(i == 0 && inline_first))
				fprintf(f, "%*s", indent, "");
			fputs("- ", f);
			if (json_object_is_type(e, json_type_array) &&
			    json_object_array_length(e) > 0) {
				fputc('\n', f);
				yaml_node(f, e, indent + 2, false);
			} else
				yaml_node(f, e, indent + 2, true);
		}
		return;
	}
	case json_type_string:
		yaml_string(f, json_object_get_string(v));
		break;
	case json_type_null:
		fputs("null", f);
		break;
	default: /* numbers and booleans read the same in both */
		fputs(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), f);
		break;
	}
	fputc('\n', f);
}

static int cdi_write(FILE *f, json_object *spec, bool json) {
	if (json) {
		int flags = arg_json == JSON_SHORT
				    ? JSON_C_TO_STRING_PLAIN
				    : JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED;
		fputs(json_object_to_json_string_ext(spec, flags | JSON_C_TO_STRING_NOSLASHESCAPE),
		      f);
		fputc('\n', f);
	} else {
		fputs("# A CDI spec written by 'ioasidctl cdi': the ioasidd socket for containers.\n"
		      "# podman run --device " CDI_KIND "=" CDI_DEVICE
		      " --group-add keep-groups ... (ioasidctl(8))\n",
		      f);
		yaml_node(f, spec, 0, false);
	}
	return ferror(f) ? -EIO : 0;
}

typedef struct CdiOut {
	json_object *spec;
	bool json;
} CdiOut;

static int cdi_print(FILE *f, void *userdata) {
	const CdiOut *o = userdata;
	return cdi_write(f, o->spec, o->json);
}

static bool ends_with(const char *s, const char *suffix) {
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && streq(s + a - b, suffix);
}

int verb_cdi(int argc, char **argv) {
	_cleanup_json_ json_object *spec = NULL;
	const char *socket = ioasid_client_socket_path(arg_socket);
	bool json = arg_json != JSON_OFF;
	const char *out = arg_output ? arg_output
			  : json     ? CDI_DIR "/ioasid.json"
				     : CDI_DIR "/ioasid.yaml";
	struct stat st;
	int r;

	(void)argv;
	if (argc > 1)
		return ioasidctl_error(EXIT_USAGE, "'cdi' takes no arguments");
	r = cdi_check_socket_path(socket);
	if (r != 0)
		return r;
	if (!streq(out, "-")) {
		/* CDI reads only these two; the format follows the name. */
		if (ends_with(out, ".json"))
			json = true;
		else if (!ends_with(out, ".yaml"))
			return ioasidctl_error(
				EXIT_USAGE,
				"'%s' must end in .yaml or .json: CDI reads no other "
				"files",
				out);
		else if (json)
			return ioasidctl_error(EXIT_USAGE,
					       "--json writes JSON, but '%s' names a YAML file",
					       out);
	}
	r = cdi_spec_new(socket, &spec);
	if (r < 0)
		return ioasidctl_error(1, "Out of memory");
	/* Not fatal: the spec may be written before ioasidd.socket is started. */
	if (stat(socket, &st) < 0 || !S_ISSOCK(st.st_mode))
		fprintf(stderr,
			"ioasidctl: warning: no socket at '%s' yet: a container asking for "
			"%s=%s fails to start until there is one\n",
			socket, CDI_KIND, CDI_DEVICE);
	if (streq(out, "-")) {
		r = cdi_write(stdout, spec, json);
		if (r == 0 && fflush(stdout) != 0)
			r = -errno;
		if (r < 0)
			return ioasidctl_error(1, "Cannot write the CDI spec: %s", strerror(-r));
		return 0;
	}
	r = write_file_atomic(out, 0644, cdi_print, &(CdiOut){ .spec = spec, .json = json });
	if (r < 0)
		return ioasidctl_error(1, "Cannot write the CDI spec '%s': %s", out, strerror(-r));
	if (!arg_quiet)
		fprintf(stderr,
			"Wrote %s: containers get the socket '%s' with 'podman run --device "
			"%s=%s --group-add keep-groups ...'\n",
			out, socket, CDI_KIND, CDI_DEVICE);
	return 0;
}
