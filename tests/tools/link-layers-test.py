#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""link-layers.py against small trees built here, so the check is known to be able to fail.

A two-layer tree (low below high) is compiled with cc in a temporary directory; each case
changes one file and states the exit status and the lines link-layers.py must print.
Prints one line per case and a summary; exits 1 on any mismatch.
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = os.path.join(HERE, "link-layers.py")

MAP = "low - low/*.c low/*.h\nhigh low high/*.c high/*.h\n"
GOOD = {
    "low/a.h": "int a_fn(void);\nint a_two(void);\n",
    "low/a.c": '#include "low/a.h"\nint a_fn(void) { return 1; }\n'
               "int a_two(void) { return 2; }\n",
    "low/b.c": '#include "low/a.h"\nint b_fn(void);\nint b_fn(void) { return a_fn(); }\n',
    "high/h.h": "int h_fn(void);\n",
    "high/h.c": '#include "low/a.h"\n#include "high/h.h"\nint h_fn(void) { return a_two(); }\n',
}

# A call read in high/s, served by m_serve (static, in high/m), which uses high/x and high/y;
# high/x also uses low/a (the base, not counted). With MAP + a path line of limit N.
PATH_FILES = {
    "high/s.c": "int m_fn(void);\nint s_fn(void);\nint s_fn(void) { return m_fn(); }\n",
    "high/m.c": "int x_fn(void);\nint y_fn(void);\nint m_fn(void);\n"
                "static int m_serve(void) { return x_fn() + y_fn(); }\n"
                "int m_fn(void) { return m_serve(); }\n",
    "high/x.c": '#include "low/a.h"\nint x_fn(void);\nint x_fn(void) { return a_fn(); }\n',
    "high/y.c": "int y_fn(void);\nint y_fn(void) { return 4; }\n",
}


def path_map(limit):
    return MAP + f"path Serve {limit} low high/s m_serve\n"


# name, changed files, expected exit status, lines that must appear, extra arguments, and
# the .c files left uncompiled
CASES = [
    ("downward uses only", {}, 0, ["  high/h -> low/a", "layers: 7 passed, 0 failed"], [], ()),
    ("a low object calls up", {
        "low/b.c": '#include "low/a.h"\nint h_fn(void);\nint b_fn(void);\n'
                   "int b_fn(void) { return a_fn() + h_fn(); }\n",
    }, 1, ["FAIL: low/b (low) uses high/h (high): h_fn",
                "layers: 6 passed, 1 failed"], [], ()),
    ("a low header includes a high one", {
        "low/a.h": '#include "high/h.h"\nint a_fn(void);\nint a_two(void);\n',
    }, 1, ["FAIL: low/a.h:1 (low) includes high/h.h (high)",
                "layers: 7 passed, 1 failed"], [], ()),
    ("two objects of one layer use each other", {
        "low/a.c": '#include "low/a.h"\nint b_fn(void);\nint a_fn(void) { return 1; }\n'
                   "int a_two(void) { return b_fn(); }\n",
    }, 1, ["low: 2 objects in one loop: low/a low/b", "FAIL: cycle among low/a low/b",
                "layers: 5 passed, 2 failed"], [], ()),
    ("the same loop, reported only", {
        "low/a.c": '#include "low/a.h"\nint b_fn(void);\nint a_fn(void) { return 1; }\n'
                   "int a_two(void) { return b_fn(); }\n",
    }, 0, ["reported only: cycle among low/a low/b",
                "layers: 7 passed, 0 failed (low reported only, not failing: 1 problem"],
        ["--report-only", "low"], ()),
    ("a call within its path limit", {**PATH_FILES, "layers.map": path_map(4)}, 0,
     ["== path Serve: 4 daemon files (within 4): high/s high/m high/x high/y",
      "layers: 13 passed, 0 failed"], [], ()),
    ("a call through more files than its path allows", {**PATH_FILES, "layers.map": path_map(3)},
     1, ["== path Serve: 4 daemon files (more than 3)",
         "FAIL: path Serve: 4 daemon files, at most 3", "layers: 12 passed, 1 failed"], [], ()),
    ("a path whose handler is gone", {**PATH_FILES, "layers.map": MAP +
                                      "path Serve 4 low high/s m_gone\n"},
     1, ["FAIL: path Serve: m_gone is defined in 0 objects, not one"], [], ()),
    ("an object not built", {"low/c.c": "int c_fn(void);\nint c_fn(void) { return 3; }\n"},
     1, ["build/obj/low/c.o is missing", "layers: 7 passed, 1 failed"], [], ("low/c.c",)),
]


def build(root, files, skip):
    for path, text in files.items():
        os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
        with open(os.path.join(root, path), "w") as f:
            f.write(text)
    for path in files:
        if not path.endswith(".c") or path in skip:
            continue
        obj = os.path.join(root, "build", "obj", path[:-2] + ".o")
        os.makedirs(os.path.dirname(obj), exist_ok=True)
        subprocess.run(["cc", "-c", "-I", root, "-o", obj, os.path.join(root, path)],
                       check=True)


def main():
    failed = 0
    for name, change, want_rc, want_lines, args, skip in CASES:
        with tempfile.TemporaryDirectory(prefix="link-layers-") as root:
            build(root, {**GOOD, **change}, skip)
            if "layers.map" not in change:
                with open(os.path.join(root, "layers.map"), "w") as f:
                    f.write(MAP)
            p = subprocess.run([sys.executable, CHECKER, "--root", root, "--map",
                                os.path.join(root, "layers.map"), *args,
                                os.path.join(root, "build")],
                               capture_output=True, text=True)
            out = p.stdout.replace(root + "/", "")
            missing = [w for w in want_lines if w not in out]
            if p.returncode != want_rc or missing:
                failed += 1
                print(f"FAIL: {name}: exit {p.returncode} (want {want_rc}), "
                      f"missing {missing}\n{out}{p.stderr}")
            else:
                print(f"ok: {name}")
    print(f"link-layers-test: {len(CASES) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
