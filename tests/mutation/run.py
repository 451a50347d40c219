#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Mutation run over the checks that carry the product's promise: authorization, ownership,
# limits and the parsers. For every comparison inside the functions listed in
# tests/mutation/targets, one mutant at a time: the comparison inverted (== <-> !=,
# < <-> >=, > <-> <=) and moved by one (< <-> <=, > <-> >=). Each mutant is built and run
# against the fast tiers, stopping at the first tier that fails: the mutant is "caught". A
# mutant every tier passes "survived": a check that no test would notice breaking. A mutant
# that does not compile is counted apart, and so is one listed in tests/mutation/equivalent
# (no behaviour can differ; the file says why for each): it is reported as equivalent.
#
# The unit tier runs first, alone (it takes seconds), with only its own binary rebuilt. A
# mutant it does not catch is built in full (build-tests) and meets the
# other tiers at once, side by side, each in a session and a temporary directory of its own:
# the first tier to print a FAIL line or to exit non-zero catches it, and the others are
# stopped (with every process left running from the scratch tree's build). So a mutant costs
# about as long as the tier that catches it takes to reach its first failure, and a survivor
# as long as the slowest tier. Last, alone, the asan tier: the unit tier built with
# ASan/UBSan as 'make check-asan' builds it (its own build directory in the scratch tree), for
# an off-by-one that only reads out of bounds; only the mutants every other tier let through
# pay for its build.
#
# It works on a scratch copy of the tree (a git worktree of HEAD plus the uncommitted
# changes), never on the checkout itself.
#
# Usage: tests/mutation/run.py [--tiers unit,fdstore,daemon,integration,asan] [--only FILE]
#                              [--match REGEX] [--since REV] [--list]
# --match keeps the mutants whose listed form ("path:line function: op -> new") matches
# REGEX, e.g. to check the survivors of a full run again after tests were added. --since REV
# keeps the mutants of functions whose text changed since REV (or that REV lacks): after a
# full run over REV, the rest of a run over the current tree.
# Exit status: 0 when every mutant was caught (or is equivalent), 1 when any survived.

import argparse
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGETS = os.path.join(REPO, "tests", "mutation", "targets")
EQUIVALENT = os.path.join(REPO, "tests", "mutation", "equivalent")

TIERS = {
    "unit": ["build/run-tests"],
    "daemon": ["python3", "tests/daemon/adversarial.py", "build"],
    "fdstore": ["python3", "tests/daemon/fdstore.py", "build"],
    "integration": ["env", "B=build", "tests/integration/run.sh"],
    # Its (incremental) build is part of the tier.
    "asan": ["sh", "-c", "make -s -j2 B=build-asan SAN=1 build-asan/run-tests && "
             "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 "
             "build-asan/run-tests"],
}
# Run alone: unit first, asan last; the others side by side in between.
FIRST, LAST = ("unit",), ("asan",)
DEFAULT_TIERS = "unit,fdstore,daemon,integration,asan"
# A tier that runs far past its normal time under a mutant (a loop that no longer ends)
# counts as failing: these are several times each tier's time on a loaded 2-core machine.
# The asan tier's covers its build.
TIER_TIMEOUT = {"unit": 60, "daemon": 240, "fdstore": 180, "integration": 400, "asan": 900}

# op -> (inverted, moved by one)
MUTATE = {
    "==": ["!="],
    "!=": ["=="],
    "<": [">=", "<="],
    "<=": [">", "<"],
    ">": ["<=", ">="],
    ">=": ["<", ">"],
}
CMP = re.compile(r"(?<=\s)(==|!=|<=|>=|<|>)(?=\s)")


def read_targets():
    out = []
    with open(TARGETS) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            path, *funcs = line.split()
            out.append((path, funcs))
    return out


def read_equivalent():
    """The mutants no test can catch, with why: lines of tests/mutation/equivalent,
    'file | function | op -> new | the line as mutated | reason'."""
    out = []
    if not os.path.exists(EQUIVALENT):
        return out
    with open(EQUIVALENT) as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = [x.strip() for x in line.split(" | ")]
            ops = parts[2].split(" -> ") if len(parts) == 5 else []
            if len(ops) != 2 or not parts[4]:
                print("mutation: %s:%d: expected 'file | function | op -> new | line | reason'"
                      % (EQUIVALENT, n), file=sys.stderr)
                sys.exit(2)
            out.append({"file": parts[0], "func": parts[1], "op": ops[0], "new": ops[1],
                        "line": parts[3], "reason": parts[4], "used": False})
    return out


def mutated_line(lines, mut):
    path, _, ln, col, op, new = mut
    l = lines[ln]
    return (l[:col] + new + l[col + len(op):]).strip()


def equivalent_of(m, equivalent):
    for e in equivalent:
        if (e["file"], e["func"], e["op"], e["new"], e["line"]) == (m[0], m[1], m[4], m[5], m[6]):
            e["used"] = True
            return e
    return None


def function_lines(lines, name):
    """(first, last) 0-based line numbers of a top-level function's body, or None."""
    head = re.compile(r"^[A-Za-z_].*\b%s\(" % re.escape(name))
    for i, l in enumerate(lines):
        if head.match(l):
            j = i
            while j < len(lines) and not lines[j].startswith("{") and not lines[j].rstrip().endswith("{"):
                if lines[j].rstrip().endswith(";"):
                    break  # a declaration (on one line or several), not the definition
                j += 1
            if j >= len(lines) or lines[j].rstrip().endswith(";"):
                continue
            for k in range(j + 1, len(lines)):
                if lines[k].startswith("}"):
                    return (j + 1, k - 1)
    return None


def function_text(lines, name):
    """The text of a function's body (None when there is no such function)."""
    span = function_lines(lines, name)
    return None if not span else "\n".join(lines[span[0]:span[1] + 1])


def changed_functions(rev):
    """{(path, function)} of the targets whose body differs from, or is absent at, rev."""
    out = set()
    for path, funcs in read_targets():
        with open(os.path.join(REPO, path)) as f:
            now = f.read().split("\n")
        r = subprocess.run(["git", "-C", REPO, "show", "%s:%s" % (rev, path)],
                           capture_output=True, text=True)
        then = r.stdout.split("\n") if r.returncode == 0 else []
        for fn in funcs:
            if function_text(now, fn) != function_text(then, fn):
                out.add((path, fn))
    return out


def code_part(line):
    """The line with comments and string literals blanked, so offsets stay valid."""
    out = []
    in_str = False
    i = 0
    while i < len(line):
        ch = line[i]
        if not in_str and line.startswith("/*", i) or line.lstrip().startswith("*") and not in_str and i == 0:
            return "".join(out) + " " * (len(line) - i)
        if not in_str and line.startswith("//", i):
            return "".join(out) + " " * (len(line) - i)
        if ch == '"' and (i == 0 or line[i - 1] != "\\"):
            in_str = not in_str
            out.append(" ")
        elif in_str or ch == "'":
            out.append(" ")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def mutants():
    for path, funcs in read_targets():
        with open(os.path.join(REPO, path)) as f:
            lines = f.read().split("\n")
        for fn in funcs:
            span = function_lines(lines, fn)
            if not span:
                print("mutation: %s: no function %s" % (path, fn), file=sys.stderr)
                sys.exit(2)
            for ln in range(span[0], span[1] + 1):
                code = code_part(lines[ln])
                for m in CMP.finditer(code):
                    op = m.group(1)
                    for new in MUTATE[op]:
                        mut = (path, fn, ln, m.start(), op, new)
                        yield mut + (mutated_line(lines, mut),)


def apply(tree, mut):
    path, _, ln, col, op, new = mut[:6]
    p = os.path.join(tree, path)
    with open(p) as f:
        lines = f.read().split("\n")
    l = lines[ln]
    assert l[col:col + len(op)] == op
    lines[ln] = l[:col] + new + l[col + len(op):]
    with open(p, "w") as f:
        f.write("\n".join(lines))
    return l.strip(), lines[ln].strip()


def listed(m):
    return "%s:%d %s: %s -> %s" % (m[0], m[2] + 1, m[1], m[4], m[5])


def run(cmd, cwd, timeout):
    try:
        r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=timeout)
        return r.returncode
    except subprocess.TimeoutExpired:
        return "timeout"


FAIL_LINE = re.compile(rb"^\s*FAIL\b")


def reap_tree_processes(tree):
    """Kills every process whose executable lies in the scratch tree (daemons a stopped tier
    started in sessions of their own)."""
    build = os.path.join(os.path.realpath(tree), "")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % pid)
        except OSError:
            continue
        if exe.startswith(build):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def stop(p):
    if p.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(p.pid, sig)
        except OSError:
            pass
        try:
            p.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            pass


def run_side_by_side(tiers, tree):
    """Runs the tiers at once. Returns (tier, "timeout"|None) of the first that fails (a FAIL
    line or a non-zero exit), or None when every tier passed."""
    procs = {}
    sel = selectors.DefaultSelector()
    tmp = tempfile.mkdtemp(prefix="tiers-", dir=os.path.dirname(tree))
    os.chmod(tmp, 0o755)
    verdict = None
    try:
        for t in tiers:
            d = os.path.join(tmp, t)
            os.mkdir(d)
            os.chmod(d, 0o1777)
            p = subprocess.Popen(TIERS[t], cwd=tree, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 start_new_session=True, env=dict(os.environ, TMPDIR=d))
            procs[t] = (p, time.time() + TIER_TIMEOUT[t], bytearray())
            os.set_blocking(p.stdout.fileno(), False)
            sel.register(p.stdout, selectors.EVENT_READ, t)
        live = set(tiers)
        while live and not verdict:
            deadline = min(procs[t][1] for t in live)
            for key, _ in sel.select(timeout=max(0.0, min(1.0, deadline - time.time()))):
                t = key.data
                p, _, buf = procs[t]
                chunk = p.stdout.read() or b""
                buf += chunk
                if any(FAIL_LINE.match(l) for l in bytes(buf).split(b"\n")):
                    verdict = (t, None)
                    break
                if not chunk:
                    sel.unregister(p.stdout)
                    rc = p.wait()
                    live.discard(t)
                    if rc != 0:
                        verdict = (t, None)
                        break
            for t in list(live):
                if not verdict and time.time() > procs[t][1]:
                    verdict = (t, "timeout")
    finally:
        for p, _, _ in procs.values():
            stop(p)
            p.stdout.close()
        reap_tree_processes(tree)
        shutil.rmtree(tmp, ignore_errors=True)
    return verdict


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiers", default=DEFAULT_TIERS,
                    help="comma-separated (default %s): unit first, asan last, the others "
                    "side by side" % DEFAULT_TIERS)
    ap.add_argument("--only", default=None, help="only mutants in this file")
    ap.add_argument("--match", default=None,
                    help="only mutants whose listed form matches this regular expression")
    ap.add_argument("--since", default=None, metavar="REV",
                    help="only mutants in functions whose text differs from (or is new since) "
                    "the same function at git revision REV: what a run over REV does not cover")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    a = ap.parse_args()
    tiers = a.tiers.split(",")
    for t in tiers:
        if t not in TIERS:
            print("mutation: no tier '%s' (%s)" % (t, ", ".join(TIERS)), file=sys.stderr)
            return 2
    equivalent = read_equivalent()
    all_muts = list(mutants())
    muts = [m for m in all_muts if not a.only or m[0] == a.only]
    if a.match:
        muts = [m for m in muts if re.search(a.match, listed(m))]
    if a.since:
        changed = changed_functions(a.since)
        muts = [m for m in muts if (m[0], m[1]) in changed]
    # An entry of the equivalent list that no longer names a mutant is stale: the code moved
    # under it and its reasoning must be looked at again.
    for m in all_muts:
        equivalent_of(m, equivalent)
    stale = [e for e in equivalent if not e["used"]]
    for e in stale:
        print("mutation: %s: stale entry, no such mutant: %s | %s | %s -> %s | %s" %
              (EQUIVALENT, e["file"], e["func"], e["op"], e["new"], e["line"]), file=sys.stderr)
    if stale:
        return 2
    if a.list:
        for m in muts:
            e = equivalent_of(m, equivalent)
            print(listed(m) + ("  [equivalent: %s]" % e["reason"] if e else ""))
        print("mutation: %d mutants" % len(muts))
        return 0
    if not muts:
        print("mutation: no mutant matches", file=sys.stderr)
        return 2

    scratch = tempfile.mkdtemp(prefix="ioasid-mutation-")
    os.chmod(scratch, 0o755)  # the integration tier runs clients as other uids
    tree = os.path.join(scratch, "tree")
    subprocess.run(["git", "-C", REPO, "worktree", "add", "--detach", "-q", tree, "HEAD"], check=True)
    diff = subprocess.run(["git", "-C", REPO, "diff", "HEAD"], capture_output=True, check=True).stdout
    if diff:
        subprocess.run(["git", "-C", tree, "apply"], input=diff, check=True)
    caught = survived = broken = equivalents = 0
    survivors = []
    t0 = time.time()

    def run_alone(t, slack=1):
        r = run(TIERS[t], tree, TIER_TIMEOUT[t] * slack)
        return None if r == 0 else (t, "timeout" if r == "timeout" else None)

    def run_tiers(slack=1, first=True):
        """(tier, "timeout"|None) of the tier that fails, or None: unit alone (unless
        first is False: already run), then the middle tiers side by side, then asan alone."""
        for t in [t for t in tiers if t in FIRST and first]:
            r = run_alone(t, slack)
            if r:
                return r
        middle = [t for t in tiers if t not in FIRST and t not in LAST]
        if middle:
            r = run_side_by_side(middle, tree)
            if r:
                return r
        for t in [t for t in tiers if t in LAST]:
            r = run_alone(t, slack)
            if r:
                return r
        return None

    try:
        if run(["make", "-s", "-j2", "build-tests"], tree, 900) != 0:
            print("mutation: the unmutated tree does not build", file=sys.stderr)
            return 2
        # The first asan run builds its tree from scratch: more time.
        r = run_tiers(slack=3)
        if r:
            t = r[0]
            print("mutation: tier %s fails on the unmutated tree (%s)%s" %
                  (t, " ".join(TIERS[t]), " (timeout)" if r[1] else ""), file=sys.stderr)
            return 2
        for m in muts:
            path = m[0]
            where = "%s:%d (%s)" % (path, m[2] + 1, m[1])
            e = equivalent_of(m, equivalent)
            if e:
                equivalents += 1
                print("%-40s %s -> %s: equivalent (%s)\n    %s" %
                      (where, m[4], m[5], e["reason"], m[6]), flush=True)
                continue
            orig_file = open(os.path.join(tree, path)).read()
            before, after = apply(tree, m)
            # The unit tier needs only its own binary: most mutants are caught there, before
            # the daemon, the CLI and the tools are relinked for the other tiers.
            r = None
            unit_first = "unit" in tiers
            if unit_first and run(["make", "-s", "-j2", "build/run-tests"], tree, 900) != 0:
                built = False
            else:
                if unit_first:
                    r = run_alone("unit")
                built = r is not None or run(["make", "-s", "-j2", "build-tests"], tree, 900) == 0
            if not built:
                broken += 1
                verdict = "does not build"
            else:
                if r is None:
                    r = run_tiers(first=not unit_first)
                verdict = "caught by " + r[0] + (" (timeout)" if r[1] else "") if r else None
                if verdict:
                    caught += 1
                else:
                    verdict = "SURVIVED"
                    survivors.append(m)
                    survived += 1
            print("%-40s %s -> %s: %s\n    %s" % (where, m[4], m[5], verdict, after), flush=True)
            with open(os.path.join(tree, path), "w") as f:
                f.write(orig_file)
    finally:
        subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", tree])
        shutil.rmtree(scratch, ignore_errors=True)
    if survivors:
        # Again in one block, in the form --match takes.
        print("mutation: survivors:")
        for m in survivors:
            print("    %s\n        %s" % (listed(m), m[6]))
    print("mutation: %d mutants, %d caught, %d survived, %d equivalent, %d did not build (%.0f s)"
          % (len(muts), caught, survived, equivalents, broken, time.time() - t0))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
