#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""cdi-check.py FILE [--version-max X.Y.Z]: check a CDI spec the way the CDI library does
when a container engine loads it (tags.cncf.io/container-device-interface, pkg/cdi: the
checks of its 0.8.0 release, which Debian trixie's podman 5.4 is built with).

The file is read by its extension (.json, or .yaml as YAML 1.1 like the library's
sigs.k8s.io/yaml), strictly: unknown fields are refused. Then: cdiVersion is a version the
library knows and is at least what the fields used require; kind is VENDOR/CLASS with
valid names; at least one device, names valid and unique; every device has edits; env
entries are KEY=VALUE; mounts have both paths (the container path absolute, as the OCI
runtime spec wants). Prints "cdi-check: ok KIND=NAME ..." or one "cdi-check: ERROR" line
and exits 1. --version-max: the latest version the checking library knows (default 0.8.0,
trixie's; 1.1.0 for a library of that release, which knows 1.0.0 and 1.1.0 too and needs
nothing more of the fields this checker reads).
"""
import json
import re
import sys

ALL = ["0.1.0", "0.2.0", "0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0"]
FIELDS = {
    "spec": {"cdiVersion", "kind", "annotations", "devices", "containerEdits"},
    "device": {"name", "annotations", "containerEdits"},
    "edits": {"env", "deviceNodes", "hooks", "mounts", "intelRdt", "additionalGids"},
    "mount": {"hostPath", "containerPath", "options", "type"},
}


def die(msg):
    print(f"cdi-check: ERROR {msg}")
    sys.exit(1)


def vkey(v):
    return tuple(int(x) for x in v.split("."))


def strict(obj, what, where):
    if not isinstance(obj, dict):
        die(f"{where}: not an object")
    extra = set(obj) - FIELDS[what]
    if extra:
        die(f"{where}: unknown field(s) {sorted(extra)}")


def name_ok(n, first, middle):
    return (len(n) > 0 and first(n[0]) and
            (len(n) == 1 or n[-1].isascii() and n[-1].isalnum()) and
            all(c.isascii() and (c.isalnum() or c in middle) for c in n[1:-1]))


def main():
    args = sys.argv[1:]
    vmax = "0.8.0"
    if len(args) == 3 and args[1] == "--version-max" and args[2] in ALL:
        vmax = args[2]
        args = args[:1]
    if len(args) != 1:
        die("usage: cdi-check.py FILE [--version-max X.Y.Z]")
    known = [v for v in ALL if vkey(v) <= vkey(vmax)]
    path = args[0]
    text = open(path, encoding="utf-8").read()
    if path.endswith(".json"):
        spec = json.loads(text)
    elif path.endswith(".yaml"):
        import yaml  # python3-yaml
        spec = yaml.safe_load(text)
    else:
        die(f"{path}: CDI reads only .json and .yaml files")
    strict(spec, "spec", "spec")
    ver = spec.get("cdiVersion")
    if not isinstance(ver, str) or ver not in known:
        die(f"cdiVersion {ver!r} is not one of {known}")
    kind = spec.get("kind", "")
    if not isinstance(kind, str) or kind.count("/") != 1:
        die(f"kind {kind!r} is not VENDOR/CLASS")
    vendor, cls = kind.split("/")
    for what, n in (("vendor", vendor), ("class", cls)):
        if not name_ok(n, lambda c: c.isascii() and c.isalpha(), "_-."):
            die(f"invalid {what} {n!r} in kind {kind!r}")
    need = "0.3.0"
    if "." in cls:
        need = max(need, "0.6.0", key=vkey)
    devices = spec.get("devices")
    if not isinstance(devices, list) or not devices:
        die("no devices")
    names = set()
    all_edits = [spec.get("containerEdits") or {}]
    for i, d in enumerate(devices):
        strict(d, "device", f"devices[{i}]")
        n = d.get("name", "")
        if not isinstance(n, str) or not name_ok(n, lambda c: c.isascii() and c.isalnum(),
                                                 "_-.:"):
            die(f"invalid device name {n!r}")
        if n[0].isdigit():
            need = max(need, "0.5.0", key=vkey)
        if n in names:
            die(f"device {n!r} defined twice")
        names.add(n)
        e = d.get("containerEdits")
        if not e:
            die(f"device {n!r} has no container edits")
        all_edits.append(e)
    for e in all_edits:
        strict(e, "edits", "containerEdits")
        for v in e.get("env") or []:
            if not isinstance(v, str) or v.find("=") <= 0:
                die(f"invalid environment variable {v!r}")
        for m in e.get("mounts") or []:
            strict(m, "mount", "mount")
            if not m.get("hostPath"):
                die("invalid mount, empty host path")
            if not m.get("containerPath"):
                die("invalid mount, empty container path")
            if not m["containerPath"].startswith("/"):
                die(f"mount container path {m['containerPath']!r} is not absolute")
            if m.get("type"):
                need = max(need, "0.4.0", key=vkey)
        if e.get("additionalGids") or e.get("intelRdt"):
            need = max(need, "0.7.0", key=vkey)
    if vkey(ver) < vkey(need):
        die(f"the spec version must be at least v{need} (it says {ver})")
    print("cdi-check: ok " + " ".join(f"{kind}={n}" for n in sorted(names)) +
          f" cdiVersion={ver} (needs {need})")


main()
