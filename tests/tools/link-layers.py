#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Which object file uses which other's symbols, and do the uses go one way.

    link-layers.py [--map FILE] [--root DIR] [--report-only LAYER]... [-v] BUILD-DIR

Reads the layer map (default: layers.map next to this script; its globs are relative to
--root, by default this repository), runs nm on the object file of every .c file of every
layer (BUILD-DIR/obj/PATH.o) and links each undefined symbol to the
object that defines it, looking in the object's own layer first, then in the layers it may
use, then anywhere (a wrong-way use). It prints every object's uses and fails on:

  - a use of a layer the object's layer may not use (a higher layer, or a sibling such as the
    client library from the daemon);
  - a cycle among object files: objects that, following their uses, reach themselves (one
    strongly connected component of more than one object is one cycle);
  - an #include "..." of a header of a layer the including file's layer may not use;
  - an object file missing (the build is not complete) or a map that is not well formed;
  - a call that passes through more daemon files than its 'path' line of the map allows
    (the files are printed with their count, one check per path).

--report-only LAYER prints LAYER's cycles and wrong-way uses and says so, but does not fail
on them (for a layer under restructuring). -v names the symbols of every use.
Each object file and each checked #include is one check; the last line is
"layers: N passed, N failed". Exit status: 0 when nothing failed, 1 otherwise, 2 on a usage
error.
"""

import argparse
import glob
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


class MapError(Exception):
    pass


def read_map(path, root):
    """Returns (order, layers, owner, paths): layers[name] = {'uses', 'files', 'below'},
    owner[file] the layer of a file, paths the 'path' lines as dicts."""
    layers, order, paths = {}, [], []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].split()
            if not line:
                continue
            if line[0] == "path":
                if len(line) != 6 or not line[2].isdigit():
                    raise MapError(f"{path}:{n}: expected path NAME MAX BASE ENTRY HANDLER")
                paths.append({"name": line[1], "max": int(line[2]), "base": line[3],
                              "entry": line[4], "handler": line[5], "line": n})
                continue
            if len(line) < 3:
                raise MapError(f"{path}:{n}: expected NAME USES FILES...")
            name, uses, globs = line[0], line[1], line[2:]
            if name in layers:
                raise MapError(f"{path}:{n}: layer '{name}' twice")
            files = []
            for g in globs:
                hits = sorted(glob.glob(g, root_dir=root))
                files += [h for h in hits if os.path.isfile(os.path.join(root, h))]
            layers[name] = {"uses": [] if uses == "-" else uses.split(","), "files": files}
            order.append(name)
    owner = {}
    for name in order:
        for u in layers[name]["uses"]:
            if u not in layers:
                raise MapError(f"{path}: layer '{name}' uses unknown layer '{u}'")
        for f in layers[name]["files"]:
            if f in owner:
                raise MapError(f"{path}: {f} is in layers '{owner[f]}' and '{name}'")
            owner[f] = name
    # What each layer may use: its uses, theirs, and so on. A layer reaching itself is a
    # cycle in the map.
    for name in order:
        seen, todo = set(), list(layers[name]["uses"])
        while todo:
            u = todo.pop()
            if u == name:
                raise MapError(f"{path}: layer '{name}' uses itself through {sorted(seen)}")
            if u not in seen:
                seen.add(u)
                todo += layers[u]["uses"]
        layers[name]["below"] = seen
    for p in paths:
        if p["base"] not in layers:
            raise MapError(f"{path}:{p['line']}: path {p['name']}: no layer '{p['base']}'")
    return order, layers, owner, paths


def nm_symbols(obj):
    """(defined, undefined, local functions) symbols of one object file."""
    out = subprocess.run(["nm", "-P", obj], capture_output=True, text=True, check=True).stdout
    defined, undefined, local = set(), set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        sym, kind = f[0], f[1]
        if kind == "U":
            undefined.add(sym)
        elif kind.isupper():  # T D B R C G S V W ...: global definitions
            defined.add(sym)
        elif kind == "t":
            local.add(sym)
    return defined, undefined, local


def reach(start, edges):
    """Every node reachable from start (start included)."""
    seen, todo = {start}, [start]
    while todo:
        for w in edges.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def call_path(p, units, edges, layer_of, layers, local):
    """The objects a call passes through (path line p): those on a use-path from the entry to
    the handler's object, and those the handler's object reaches, less the base layer and the
    layers below it. Returns (files in order from the entry, None) or (None, why not)."""
    if p["entry"] not in edges:
        return None, f"no object {p['entry']}"
    owners = [u for u in units if p["handler"] in local[u] or p["handler"] in p["defs"][u]]
    if len(owners) != 1:
        return None, f"{p['handler']} is defined in {len(owners)} objects, not one"
    h = owners[0]
    below = {p["base"]} | layers[p["base"]]["below"]
    keep = {u for u in units if layer_of[u] not in below}
    sub = {u: {v for v in edges[u] if v in keep} for u in keep}
    if p["entry"] not in keep or h not in reach(p["entry"], sub):
        return None, f"{h} is not reached from {p['entry']} above {p['base']}"
    back = {u: {v for v in keep if u in sub[v]} for u in keep}
    on = (reach(p["entry"], sub) & reach(h, back)) | reach(h, sub)
    # In call order: each file after every file on the path that uses it.
    depth = {u: 0 for u in on}
    for _ in on:
        for u in on:
            for v in sub[u] & on:
                depth[v] = max(depth[v], depth[u] + 1)
    return sorted(on, key=lambda u: (depth[u], u)), None


def sccs(nodes, edges):
    """Tarjan's strongly connected components, iteratively; only those of two nodes or more."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            pushed = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    pushed = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if pushed:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def main():
    ap = argparse.ArgumentParser(description="Object-level uses and layer checks.")
    ap.add_argument("build", help="the build directory (objects in BUILD/obj/)")
    ap.add_argument("--map", default=os.path.join(HERE, "layers.map"))
    ap.add_argument("--root", default=REPO, help="where the map's globs start")
    ap.add_argument("--report-only", action="append", default=[], metavar="LAYER")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()

    try:
        order, layers, owner, paths = read_map(a.map, a.root)
    except (MapError, OSError) as e:
        print(f"link-layers: {e}", file=sys.stderr)
        return 2
    for r in a.report_only:
        if r not in layers:
            print(f"link-layers: --report-only: no layer '{r}' in the map", file=sys.stderr)
            return 2

    # Every object file and every checked #include is one check; a problem fails the checks
    # of the objects or the include it names, or only reports it in a report-only layer.
    failures, reported, failed, flagged = [], [], set(), set()

    def problem(layer, items, text):
        if layer in a.report_only:
            reported.append(text)
            flagged.update(items)
        else:
            failures.append(text)
            failed.update(items)

    # Objects and their symbols. A unit is named by its source path without '.c'.
    units, defs, undefs, local, layer_of = [], {}, {}, {}, {}
    for name in order:
        for f in layers[name]["files"]:
            if not f.endswith(".c"):
                continue
            unit = f[:-2]
            obj = os.path.join(a.build, "obj", unit + ".o")
            if not os.path.exists(obj):
                problem(None, [f], f"{obj} is missing (build first: make build-tests)")
                continue
            units.append(unit)
            layer_of[unit] = name
            defs[unit], undefs[unit], local[unit] = nm_symbols(obj)
    definers = {}
    for u in units:
        for s in defs[u]:
            definers.setdefault(s, []).append(u)

    # uses[u][v] = symbols of v that u uses.
    uses = {u: {} for u in units}
    for u in units:
        lu = layer_of[u]
        for s in sorted(undefs[u]):
            cands = [v for v in definers.get(s, ()) if v != u]
            if not cands:
                continue  # libc, json-c, ...
            rank = lambda v: (0 if layer_of[v] == lu else
                              1 if layer_of[v] in layers[lu]["below"] else 2, v)
            v = min(cands, key=rank)
            uses[u].setdefault(v, []).append(s)

    # 1. Every object's uses, layer by layer, with the wrong-way ones.
    for name in order:
        below = layers[name]["below"]
        mine = [u for u in units if layer_of[u] == name]
        print(f"== {name}: {len(mine)} objects, may use: "
              f"{', '.join(sorted(below, key=order.index)) or 'nothing'}"
              f"{' (report only)' if name in a.report_only else ''}")
        for u in mine:
            targets = sorted(uses[u], key=lambda v: (order.index(layer_of[v]), v))
            print(f"  {u} -> {' '.join(targets) if targets else '-'}")
            if a.verbose:
                for v in targets:
                    print(f"      {v}: {' '.join(uses[u][v])}")
            for v in targets:
                lv = layer_of[v]
                if lv != name and lv not in below:
                    problem(name, [u], f"{u} ({name}) uses {v} ({lv}): "
                                  f"{', '.join(uses[u][v][:4])}"
                                  f"{' ...' if len(uses[u][v]) > 4 else ''}")

    # 2. Cycles among object files.
    edges = {u: set(uses[u]) for u in units}
    cycles = sccs(units, edges)
    print(f"== cycles among object files: {len(cycles)}")
    for comp in cycles:
        ls = sorted({layer_of[u] for u in comp}, key=order.index)
        ro = all(l in a.report_only for l in ls)
        tag = " (report only)" if ro else ""
        print(f"  {'/'.join(ls)}: {len(comp)} objects in one loop{tag}: {' '.join(comp)}")
        inside = set(comp)
        for u in comp:
            for v in sorted(set(uses[u]) & inside):
                syms = uses[u][v]
                print(f"      {u} -> {v}: {' '.join(syms[:3])}{' ...' if len(syms) > 3 else ''}")
        problem(ls[0] if ro else None, comp, f"cycle among {' '.join(comp)}")

    # 3. #include "..." of a layer the including file's layer may not use.
    n_includes = 0
    for f, lf in sorted(owner.items()):
        with open(os.path.join(a.root, f), errors="replace") as fh:
            text = fh.read()
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            li = owner.get(inc)
            if li is None:
                continue  # generated (build/gen) or outside the map
            n_includes += 1
            if li != lf and li not in layers[lf]["below"]:
                line = text.count("\n", 0, m.start()) + 1
                problem(lf, [(f, inc)], f"{f}:{line} ({lf}) includes {inc} ({li})")
    print(f"== includes: {n_includes} between mapped files checked")

    # 4. The daemon files a call passes through.
    for p in paths:
        p["defs"] = defs
        files, why = call_path(p, units, edges, layer_of, layers, local)
        if files is None:
            print(f"== path {p['name']}: cannot be followed: {why}")
            problem(None, [f"path {p['name']}"], f"path {p['name']}: {why}")
            continue
        verdict = "within" if len(files) <= p["max"] else "more than"
        print(f"== path {p['name']}: {len(files)} daemon files ({verdict} {p['max']}): "
              f"{' '.join(files)}")
        for u in files:
            print(f"  {u} ({layer_of[u]}) -> {' '.join(sorted(set(edges[u]) & set(files))) or '-'}")
        if len(files) > p["max"]:
            problem(None, [f"path {p['name']}"],
                    f"path {p['name']}: {len(files)} daemon files, at most {p['max']}")

    for t in reported:
        print(f"  reported only: {t}")
    for t in failures:
        print(f"  FAIL: {t}")
    checks = len(units) + n_includes + len(paths) + sum(
        1 for x in failed if isinstance(x, str) and x.endswith(".c"))
    ro = ""
    if a.report_only:
        ro = (f" ({', '.join(a.report_only)} reported only, not failing: {len(reported)} "
              f"problem{'' if len(reported) == 1 else 's'}, {len(flagged)} objects or includes)")
    print(f"layers: {checks - len(failed)} passed, {len(failed)} failed{ro}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
