#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Adversarial test D7: a fail-nth sweep. One real ioasidd (sim kernel) runs with the failnth
# shim preloaded (tests/tools/failnth.c). For each family (malloc, open, recvmsg, sendmsg)
# and N = 1, 2, ... the shim fails the Nth call of that family after the daemon accepts the
# session's connection, and the script runs one client session: connect, Acquire (attached),
# ListLeases, Release, close. After each session: the daemon is alive, serves a good client,
# holds no lease, and its fd count is back at the baseline (invariants I1, I2). The sweep of a
# family ends with the first session in which its Nth call never came.
#
# Usage: failnth.py BUILD_DIR

import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adversarial  # noqa: E402
from adversarial import Client, check, fd_count, wait_serving  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
B = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("B", "build")
BDIR = B if os.path.isabs(B) else os.path.join(REPO, B)
IOASIDD = os.path.join(BDIR, "ioasidd")
SHIM = os.path.join(BDIR, "failnth")
HOST = os.path.join(REPO, "tests", "hosts", "sample.json")
DEVICE = "0000:01:02.0"
FAMILIES = ("malloc", "open", "recvmsg", "sendmsg")
MAX_N = 5000



def session(sock):
    """The scripted exchange. Any step may meet an error reply or a closed connection."""
    c = None
    got = []
    try:
        c = Client(sock)
        r, fds = c.call("io.ioasid.Broker.Acquire", {"devices": [DEVICE], "mode": "attached"})
        for f in fds:
            os.close(f)
        got.append(r.get("error", "ok"))
        lease = r.get("parameters", {}).get("lease")
        r, _ = c.call("io.ioasid.Broker.ListLeases")
        got.append(r.get("error", "ok"))
        if lease:
            r, _ = c.call("io.ioasid.Broker.Release", {"lease": lease})
            got.append(r.get("error", "ok"))
    except (EOFError, OSError, ValueError) as e:
        got.append(type(e).__name__)
    finally:
        if c:
            c.close()
    return got


def good_client(sock):
    """I1: a well-behaved client is served; and no lease was left behind."""
    try:
        c = Client(sock)
        r, _ = c.call("org.varlink.service.GetInfo")
        ok = r.get("parameters", {}).get("product") == "ioasidd"
        r, _ = c.call("io.ioasid.Broker.ListLeases")
        leases = r.get("parameters", {}).get("leases")
        c.close()
        return ok, leases
    except (EOFError, OSError, ValueError) as e:
        return False, str(e)


def settle(pid, base):
    n = -1
    for _ in range(60):
        n = fd_count(pid)
        if n == base:
            break
        time.sleep(0.02)
    return n


# Phase 1: everything allowed; every failure must show as a SystemError or a disconnect.
ALLOW_ALL = "admin user 0\nallow uid 0-0 to any mode attached,unbound group implicit\ndeny *\n"
# Phase 2: the client is denied by its cgroup (whatever it is: `*` matches the root cgroup
# too), then allowed by its uid. An injected failure while the daemon learns the peer's
# identity must never turn that deny into an allow (fail closed).
DENY_BY_CGROUP = "admin user 0\ndeny cgroup *\nallow uid 0-0 to any mode attached,unbound\n"
WRONG = ("io.ioasid.Broker.ProtocolError", "io.ioasid.Broker.GroupNotViable", "io.ioasid.Broker.GroupOwned",
         "io.ioasid.Broker.DeviceBusy", "io.ioasid.Broker.PermissionDenied")


def sweep(tmp, name, policy, families, uninjected, wrong):
    """One daemon with the shim; for each family, N = 1.. until a session is not injected.
    uninjected: what an uninjected session answers; wrong(got): the answer an injected
    session must never give, or None. Returns {family: injections}."""
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write(policy)
    ctl = os.path.join(tmp, name + ".ctl")
    log_inj = os.path.join(tmp, name + ".injected")
    with open(ctl, "w") as f:
        f.write("none\n")
    sock = os.path.join(tmp, name + ".sock")
    log = open(os.path.join(tmp, name + ".log"), "w")
    env = dict(os.environ, LD_PRELOAD=SHIM, FAILNTH_CTL=ctl, FAILNTH_LOG=log_inj)
    d = subprocess.Popen([IOASIDD, "--kernel=sim", "--host", HOST, "--config", conf,
                          "--socket", sock], stderr=log, env=env)
    sessions = {}
    try:
        wait_serving(os.path.join(tmp, name + ".log"), d)
        ok, _ = good_client(sock)
        check(ok, "%s: daemon serves before the sweep" % name)
        time.sleep(0.1)
        base = fd_count(d.pid)
        for fam in families:
            n = 0
            while n < MAX_N:
                n += 1
                with open(ctl, "w") as f:
                    f.write("%s %d\n" % (fam, n))
                before = os.path.getsize(log_inj) if os.path.exists(log_inj) else 0
                got = session(sock)
                with open(ctl, "w") as f:
                    f.write("none\n")
                injected = os.path.exists(log_inj) and os.path.getsize(log_inj) > before
                what = "%s: %s #%d (%s)" % (name, fam, n, ",".join(got))
                if os.environ.get("FAILNTH_VERBOSE"):
                    print(what, "injected" if injected else "")
                if d.poll() is not None:
                    check(False, "%s: daemon died (rc %s)" % (what, d.returncode))
                    return sessions
                ok, leases = good_client(sock)
                # A probe of a released lease's devices that failed (injected ENOMEM/EMFILE)
                # keeps them held, fail closed, until the next probe (every 2 s).
                deadline = time.time() + 6
                while (ok and leases and time.time() < deadline and
                       all(x.get("state") == "ended" for x in leases)):
                    time.sleep(0.2)
                    ok, leases = good_client(sock)
                if not ok or leases != []:
                    check(False, "%s: afterwards GetInfo ok=%s, leases %s" % (what, ok, leases))
                    continue
                nfd = settle(d.pid, base)
                if nfd != base:
                    check(False, "%s: daemon fd count %d, baseline %d" % (what, nfd, base))
                    base = nfd  # report each leak once
                    continue
                bad = wrong(got)
                if injected and bad:
                    check(False, "%s: the daemon's own failure answered as %s" % (what, bad))
                if not injected:
                    # The session completed without reaching call N: that family is swept.
                    check(got == uninjected, "%s: the uninjected session answers %s" %
                          (what, uninjected))
                    break
            sessions[fam] = n - 1
            check(0 < n < MAX_N, "%s: %s: the sweep ended (%d injections)" % (name, fam, n - 1))
    finally:
        if d.poll() is None:
            d.send_signal(signal.SIGTERM)
            try:
                d.wait(5)
            except subprocess.TimeoutExpired:
                d.kill()
        log.close()
        if adversarial.failed:
            print(open(os.path.join(tmp, name + ".log")).read()[-3000:], file=sys.stderr)
    return sessions


def main():
    if not os.path.exists(IOASIDD) or not os.path.exists(SHIM):
        print("SKIPPED: %s or %s not built" % (IOASIDD, SHIM))
        return 0
    tmp = tempfile.mkdtemp(prefix="ioasidd-failnth-")
    try:
        # A well-formed request for a viable, free device: a failure of the daemon's own is a
        # SystemError or a disconnect, never the client's protocol error nor a verdict about
        # the device or the client.
        s1 = sweep(tmp, "session", ALLOW_ALL, FAMILIES, ["ok", "ok", "ok"],
                   lambda got: next((e for e in got if e in WRONG), None))
        # Denied by cgroup: no injection may turn the Acquire into an allow.
        s2 = sweep(tmp, "fail-closed", DENY_BY_CGROUP, ("malloc", "open"),
                   ["io.ioasid.Broker.PermissionDenied", "ok"],
                   lambda got: "an allow" if got[:1] == ["ok"] else None)
    finally:
        if os.environ.get("FAILNTH_KEEP"):
            print("kept", tmp)
        else:
            subprocess.run(["rm", "-rf", tmp])
    print("daemon-failnth: injections per family: %s; fail-closed: %s" %
          (", ".join("%s %d" % kv for kv in s1.items()),
           ", ".join("%s %d" % kv for kv in s2.items())))
    print("daemon-failnth: %d passed, %d failed" % (adversarial.passed, adversarial.failed))
    return 1 if adversarial.failed else 0


if __name__ == "__main__":
    sys.exit(main())
