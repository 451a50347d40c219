#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# vhost-vdpa leases through a real ioasidd on the sim kernel (tests/hosts/vdpa-guest.json):
#   V1  an admin's Revoke of a vhost-vdpa lease resets the device through the daemon's copy of
#       the file (there is no detach): the reply says "revoked-reset", the audit record says
#       the device was reset and that the holder's file keeps its IOTLB, ListLeases shows it
#       revoked; a second Revoke is NoSuchLease;
#   V2  the holder keeps its fd: while it does, the device is the kernel's DeviceBusy to a new
#       Acquire (the exclusive open); once it closes the fd and releases, vdpa0 is free again;
#   V3  Monitor: the lease events of a vhost-vdpa lease name the vDPA device (vdpa, bdf null),
#       acquired and revoked alike, and a VFIO lease's events have vdpa null; `ioasidctl
#       monitor` prints it as vdpa=NAME, and --json as "vdpa".
#
# Usage: vdpa.py BUILD_DIR

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adversarial  # noqa: E402
from adversarial import Client, check  # noqa: E402

# The daemon and its build directory: adversarial's (from BUILD_DIR), with this host.
IOASIDD = adversarial.IOASIDD
IOASIDCTL = os.path.join(adversarial.BUILD, "ioasidctl")
HOST = os.path.join(adversarial.REPO, "tests", "hosts", "vdpa-guest.json")


def params(r):
    return r.get("parameters", {})


def fd_target(fd):
    return os.readlink("/proc/self/fd/%d" % fd)


def next_event(mon, name):
    """The next event called name (others skipped), its parameters."""
    for _ in range(20):
        ev, _ = mon.read()
        if params(ev).get("event") == name:
            return params(ev)
    return {}


def leases(c):
    return params(c.call("io.ioasid.Broker.ListLeases")[0]).get("leases") or []


def test_revoke(tmp):
    d = adversarial.Daemon(tmp, "revoke",
                           "admin uid 0\nallow uid 0 to vdpa \"vdpa*\"\n"
                           "allow uid 0 to any mode attached\n", host=HOST)
    fds = []
    try:
        c = Client(d.sock)
        mon = Client(d.sock)
        r, _ = mon.call("io.ioasid.Broker.Monitor", more=True)
        check(params(r).get("event") == "subscribed", "V3: Monitor subscribed (%s)" % r)
        clis = [subprocess.Popen([IOASIDCTL, "--socket", d.sock, "monitor"] + j,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for j in ([], ["--json=short"])]
        for p in clis:  # subscribed once it says so
            p.stderr.readline()

        r, fds = c.call("io.ioasid.Broker.Acquire", {"vdpa": "vdpa0"})
        lid = params(r).get("lease")
        check("error" not in r and lid and len(fds) == 1 and
              "ioasid-sim:vhost-vdpa:vdpa0" in fd_target(fds[0]),
              "V1: acquire vdpa0 (%s, %s)" % (r.get("error"), [fd_target(f) for f in fds]))
        ev, _ = mon.read()
        p = params(ev)
        check(p.get("event") == "lease-acquired" and p.get("lease") == lid and
              p.get("vdpa") == "vdpa0" and p.get("bdf") is None,
              "V3: lease-acquired names vdpa0, bdf null (%s)" % p)

        r, _ = c.call("io.ioasid.Manager.Revoke", {"lease": lid})
        check(params(r).get("state") == "revoked-reset" and params(r).get("lease") == lid,
              "V1: Revoke answers revoked-reset (%s)" % r)
        rec = [x for x in d.log().splitlines() if "action=revoke " in x]
        check(len(rec) == 1 and "vdpa0@0000:00:02.0" in rec[0] and
              "device reset (virtio status 0), IOTLB kept by the holder's file" in rec[0] and
              "DMA not blocked" not in rec[0],
              "V1: audited: the device reset, the IOTLB kept (%s)" % rec)
        ev, _ = mon.read()
        p = params(ev)
        check(p.get("event") == "lease-revoked" and p.get("lease") == lid and
              p.get("vdpa") == "vdpa0" and p.get("bdf") is None and
              "device reset (virtio status 0)" in (p.get("cause") or ""),
              "V3: lease-revoked names vdpa0 and the reset (%s)" % p)
        ls = [x for x in leases(c) if x.get("id") == lid]
        check(len(ls) == 1 and ls[0].get("state") == "revoked" and ls[0].get("vdpa") == "vdpa0",
              "V1: listed revoked (%s)" % ls)
        r, _ = c.call("io.ioasid.Manager.Revoke", {"lease": lid})
        check(r.get("error") == "io.ioasid.Manager.NoSuchLease",
              "V1: a second Revoke is NoSuchLease (%s)" % r)

        # V2: the holder's fd still holds the device (the kernel's exclusive open).
        other = Client(d.sock)
        r, f2 = other.call("io.ioasid.Broker.Acquire", {"vdpa": "vdpa0"})
        check(r.get("error") == "io.ioasid.Broker.DeviceBusy" and not f2,
              "V2: the holder's file still open: DeviceBusy (%s)" % r)
        for f in f2:
            os.close(f)
        os.close(fds[0])
        fds = []
        c.call("io.ioasid.Broker.Release", {"lease": lid})
        r, f2 = other.call("io.ioasid.Broker.Acquire", {"vdpa": "vdpa0"})
        check("error" not in r and len(f2) == 1,
              "V2: closed and released: vdpa0 is free again (%s)" % r.get("error"))
        p = next_event(mon, "lease-acquired")
        check(p.get("vdpa") == "vdpa0", "V3: the new lease's event names vdpa0 (%s)" % p)
        for f in f2:
            os.close(f)
        other.close()

        # V3: a VFIO lease's events name its device, vdpa null.
        r, f3 = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0"], "mode": "attached"})
        p = next_event(mon, "lease-acquired")
        check("error" not in r and p.get("bdf") == "0000:00:03.0" and "vdpa" not in p,
              "V3: a VFIO lease's event: bdf set, vdpa null (%s, %s)" % (r.get("error"), p))
        for f in f3:
            os.close(f)
        mon.close()
        c.close()
        # ioasidctl monitor: the same events, vdpa=NAME and "vdpa".
        outs = []
        for p in clis:
            p.send_signal(signal.SIGINT)
            outs.append(p.communicate(timeout=10)[0].splitlines())
        text, js = outs
        check("lease-acquired lease=%s vdpa=vdpa0" % lid in text and
              any(x.startswith("lease-revoked lease=%s vdpa=vdpa0 cause=" % lid) for x in text) and
              any(x.startswith("lease-acquired") and "bdf=0000:00:03.0" in x and "vdpa" not in x
                  for x in text),
              "V3: ioasidctl monitor prints vdpa=vdpa0 (%s)" % text)
        evs = [json.loads(x) for x in js]
        check({"event": "lease-acquired", "lease": lid, "vdpa": "vdpa0"} in evs and
              any(e.get("event") == "lease-revoked" and e.get("vdpa") == "vdpa0" and
                  "bdf" not in e for e in evs),
              "V3: ioasidctl monitor --json has \"vdpa\" (%s)" % evs)
    finally:
        for f in fds:
            os.close(f)
        d.stop()


def main():
    if not os.path.exists(IOASIDD):
        print("SKIPPED: %s not built" % IOASIDD)
        return 0
    tmp = tempfile.mkdtemp(prefix="ioasidd-vdpa-")
    try:
        test_revoke(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("daemon-vdpa: %d passed, %d failed" % (adversarial.passed, adversarial.failed))
    return 1 if adversarial.failed else 0


if __name__ == "__main__":
    sys.exit(main())
