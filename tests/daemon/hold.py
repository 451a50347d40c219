#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# When the daemon probes a released lease's devices (ioasidd/hold.c): not at the Release,
# which leaves the lease counted as held (fail closed), but when the answer matters. Each
# check below would be refused, or report a stale holder, if that first probe were missing
# where it is needed; the first one fails if the Release probes again:
#   H1  the Release opens no probe context (the sim numbers its iommufds: the next Acquire's
#       is the next number);
#   H2  ListLeases and Status after a Release: a lease whose fds are closed is gone, one whose
#       fds live on is listed as ended, with its device held;
#   H3  max-leases 1: a released lease whose fds are closed does not count; one whose fds
#       live on does (LimitExceeded) until they are closed;
#   H4  a pool of one device: released and closed, it is free again at once;
#   H5  dependents: uid A's released PF (fds closed) does not keep uid B from its VF; while
#       A keeps the fds, B is refused (DependentOwned);
#   H6  a lease that ends at shutdown arms no recheck timer (none is left to run it);
#   H7  an attached Acquire of a group a released lease held makes no probe first: its own
#       BIND answers (its iommufd is the next number after the released lease's); while
#       the released lease's fds live on it is refused GroupOwned naming that lease, as the
#       probe answered; once they are closed the next Acquire's BIND frees the group.
#
# Usage: hold.py BUILD_DIR

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adversarial  # noqa: E402
from adversarial import Client, acquire_as, check, wait_serving  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
B = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("B", "build")
if not os.path.isabs(B):
    B = os.path.join(REPO, B)
IOASIDD = os.path.join(B, "ioasidd")
SAMPLE = os.path.join(REPO, "tests", "hosts", "sample.json")
SRIOV = os.path.join(REPO, "tests", "hosts", "sriov-vfio.json")
OTHER = 4242  # a second tenant



class Daemon:
    def __init__(self, tmp, name, host, conf):
        self.sock = os.path.join(tmp, name + ".sock")
        self.logpath = os.path.join(tmp, name + ".log")
        cpath = os.path.join(tmp, name + ".conf")
        with open(cpath, "w") as f:
            f.write(conf)
        self.log = open(self.logpath, "w")
        self.p = subprocess.Popen([IOASIDD, "--kernel=sim", "--host", host, "--config", cpath,
                                   "--socket", self.sock],
                                  stdout=self.log, stderr=subprocess.STDOUT)
        self.log.flush()
        if wait_serving(self.logpath, self.p):
            os.chmod(self.sock, 0o666)  # OTHER's client

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


def acquire(c, params):
    """(reply, fds)."""
    return c.call("io.ioasid.Broker.Acquire", params)


def release(c, r):
    lease = r.get("parameters", {}).get("lease")
    if not lease:
        return {"error": "no lease"}
    return c.call("io.ioasid.Broker.Release", {"lease": lease})[0]


def ok(r):
    """A reply that is no error (an error's reply has parameters too)."""
    return "error" not in r and "exception" not in r and "parameters" in r


def close_all(fds):
    for f in fds:
        os.close(f)


def iommufd_serial(fds):
    """N of the "ioasid-sim:iommufd:N" among fds, or None."""
    for f in fds:
        t = os.readlink("/proc/self/fd/%d" % f)
        i = t.find("ioasid-sim:iommufd:")
        if i >= 0:
            return int(t[i + len("ioasid-sim:iommufd:"):].split(" ")[0])
    return None


def leases(c):
    return c.call("io.ioasid.Broker.ListLeases")[0].get("parameters", {}).get("leases")


def test_sample(tmp):
    d = Daemon(tmp, "sample", SAMPLE,
               "admin user 0\npool one { iommu-group 3 }\n"
               "allow uid 0 to any mode attached,unbound\n")
    held = []
    try:
        c = Client(d.sock)
        # H1
        r, fds = acquire(c, {"devices": ["0000:00:03.0"], "mode": "attached"})
        check(ok(r), "H1: acquire (%s)" % r.get("error"))
        first = iommufd_serial(fds)
        close_all(fds)
        check("error" not in release(c, r), "H1: release")
        r, fds = acquire(c, {"devices": ["0000:00:04.0"], "mode": "attached"})
        check(ok(r), "H1: acquire another device (%s)" % r.get("error"))
        check(first is not None and iommufd_serial(fds) == first + 1,
              "H1: no iommufd opened between two Acquires (%s, then %s)" %
              (first, iommufd_serial(fds)))
        close_all(fds)
        release(c, r)
        # H7
        r, fds = acquire(c, {"devices": ["0000:00:03.0"], "mode": "attached"})
        s = iommufd_serial(fds)
        close_all(fds)
        release(c, r)
        r, fds = acquire(c, {"devices": ["0000:00:03.0"], "mode": "attached"})
        check(ok(r) and s is not None and iommufd_serial(fds) == s + 1,
              "H7: the same device again: no probe before the Acquire's BIND (%s: %s, then %s)"
              % (r.get("error"), s, iommufd_serial(fds)))
        lid = r.get("parameters", {}).get("lease")
        release(c, r)  # its fds live on
        r2, f2 = acquire(c, {"devices": ["0000:00:03.0"], "mode": "attached"})
        owner = r2.get("parameters", {}).get("owner", "")
        check(r2.get("error") == "io.ioasid.Broker.GroupOwned" and lid and lid in owner and
              "ended" in owner and not f2,
              "H7: held by the released lease: GroupOwned naming it (%s, %s)" %
              (r2.get("error"), owner))
        close_all(f2)
        close_all(fds)
        r, fds = acquire(c, {"devices": ["0000:00:03.0"], "mode": "attached"})
        check(ok(r), "H7: its fds closed: the next Acquire's BIND frees the group (%s)" %
              r.get("error"))
        check(lid not in [x["id"] for x in leases(c) or []],
              "H7: the released lease is forgotten")
        close_all(fds)
        release(c, r)
        # H2
        check(leases(c) == [], "H2: released with its fds closed: not listed")
        r, fds = acquire(c, {"devices": ["0000:00:03.0"], "mode": "attached"})
        lid = r.get("parameters", {}).get("lease")
        release(c, r)
        ls = leases(c)
        check(len(ls) == 1 and ls[0]["id"] == lid and ls[0]["state"] == "ended" and
              ls[0]["held"] == ["0000:00:03.0"],
              "H2: its fds live on: listed ended and held (%s)" % ls)
        st = c.call("io.ioasid.Manager.Status")[0].get("parameters", {})
        check(len(st.get("held", [])) == 1 and "0000:00:03.0" in st["held"][0],
              "H2: Status names the held device (%s)" % st.get("held"))
        close_all(fds)
        # H4. The lease above was probed while held: a pool passes its group over until the
        # recheck timer finds it released (as before); wait for that.
        deadline = time.time() + 6
        while leases(c) and time.time() < deadline:
            time.sleep(0.2)
        r, fds = acquire(c, {"pool": "one", "mode": "attached"})
        check(ok(r), "H4: acquire from the pool (%s)" % r.get("error"))
        close_all(fds)
        release(c, r)
        r, fds = acquire(c, {"pool": "one", "mode": "attached"})
        check(ok(r), "H4: its one device is free again at once (%s)" % r.get("error"))
        held = fds  # H6: that lease ends at shutdown, its fds alive
    finally:
        d.stop()
        close_all(held)
    log = open(d.logpath).read()
    check("Cannot arm the timer" not in log, "H6: no timer armed at shutdown")


def test_max_leases(tmp):
    d = Daemon(tmp, "limit", SAMPLE,
               "admin user 0\nallow uid 0 to any mode attached,unbound max-leases 1\n")
    try:
        c = Client(d.sock)
        r, fds = acquire(c, {"devices": ["0000:00:03.0"], "mode": "attached"})
        check(ok(r), "H3: acquire (%s)" % r.get("error"))
        close_all(fds)
        release(c, r)
        r, fds = acquire(c, {"devices": ["0000:00:04.0"], "mode": "attached"})
        check(ok(r), "H3: the released lease with closed fds does not count (%s)" %
              r.get("error"))
        close_all(fds)
        release(c, r)
        # The held one counts against max-leases until its fds are closed (the recheck timer
        # then finds it released).
        r, fds = acquire(c, {"devices": ["0000:00:03.0"], "mode": "attached"})
        release(c, r)
        r2, f2 = acquire(c, {"devices": ["0000:00:04.0"], "mode": "attached"})
        check(r2.get("error") == "io.ioasid.Broker.LimitExceeded",
              "H3: the held ended lease counts (%s)" % r2.get("error"))
        close_all(f2)
        close_all(fds)
        deadline = time.time() + 6
        while leases(c) and time.time() < deadline:
            time.sleep(0.2)
        r2, f2 = acquire(c, {"devices": ["0000:00:04.0"], "mode": "attached"})
        check(ok(r2), "H3: once closed it no longer counts (%s)" % r2.get("error"))
        close_all(f2)
        release(c, r2)
        c.close()
    finally:
        d.stop()


def test_dependents(tmp):
    d = Daemon(tmp, "sriov", SRIOV,
               "admin user 0\nallow uid 0 to any mode attached,unbound\n"
               "allow uid %d to any mode attached,unbound\n" % OTHER)
    try:
        c = Client(d.sock)
        pf, vf = "0000:01:00.0", "0000:01:10.0"
        # Attached: a device file never bound is what no probe can see (hold.c).
        r, fds = acquire(c, {"devices": [pf], "mode": "attached"})
        check(ok(r), "H5: acquire the PF (%s)" % r.get("error"))
        close_all(fds)
        release(c, r)
        m = acquire_as(OTHER, d.sock, {"devices": [vf], "mode": "unbound"})
        check(ok(m), "H5: the released PF does not hold its VF (%s)" %
              (m.get("error") or m.get("exception")))
        # That lease of OTHER's ends with its connection (the daemon sees the hangup in its
        # own time); then the PF's fds live on while OTHER asks again.
        deadline = time.time() + 6
        while leases(c) and time.time() < deadline:
            time.sleep(0.1)
        r, fds = acquire(c, {"devices": [pf], "mode": "attached"})
        check(ok(r), "H5: acquire the PF again (%s)" % r.get("error"))
        release(c, r)
        m = acquire_as(OTHER, d.sock, {"devices": [vf], "mode": "unbound"})
        check(m.get("error") == "io.ioasid.Broker.DependentOwned",
              "H5: while its fds live on, the VF is refused (%s)" % (m.get("error") or m))
        close_all(fds)
        c.close()
    finally:
        d.stop()


def main():
    if not os.path.exists(IOASIDD):
        print("SKIPPED: %s not built" % IOASIDD)
        return 0
    if os.geteuid() != 0:
        print("SKIPPED: needs root (a second tenant's uid)")
        return 0
    tmp = tempfile.mkdtemp(prefix="ioasidd-hold-")
    try:
        os.chmod(tmp, 0o755)
        test_sample(tmp)
        test_max_leases(tmp)
        test_dependents(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("daemon-hold: %d passed, %d failed" % (adversarial.passed, adversarial.failed))
    return 1 if adversarial.failed else 0


if __name__ == "__main__":
    sys.exit(main())
