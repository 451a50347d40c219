#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Daemon-level protocol and robustness checks against a real ioasidd on a temp socket with
# the sim kernel (reference/adversarial-tests.md, the rows that need no hardware).
# Each check asserts; after each, the daemon must still serve a good client and its fd
# count must be back at the baseline.
#
# Usage: adversarial.py BUILD_DIR   (run from anywhere; finds the repo relative to itself)

import array
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
B = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("B", "build")
IOASIDD = os.path.join(REPO, B, "ioasidd") if not os.path.isabs(B) else os.path.join(B, "ioasidd")
HOST = os.path.join(REPO, "tests", "hosts", "sample.json")

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(5)
        self.s.connect(path)
        self.buf = b""

    def send_raw(self, data, fds=None):
        if fds:
            self.s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
        else:
            self.s.sendall(data)

    def send(self, method, params=None, more=False):
        m = {"method": method}
        if params is not None:
            m["parameters"] = params
        if more:
            m["more"] = True
        self.send_raw(json.dumps(m).encode() + b"\0")

    def read(self):
        fds = []
        while b"\0" not in self.buf:
            msg, anc, _, _ = self.s.recvmsg(65536, socket.CMSG_SPACE(64 * 4))
            for lvl, typ, d in anc:
                if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    a = array.array("i")
                    a.frombytes(d[: len(d) - (len(d) % 4)])
                    fds += list(a)
            if not msg:
                raise EOFError
            self.buf += msg
        i = self.buf.index(b"\0")
        m = json.loads(self.buf[:i])
        self.buf = self.buf[i + 1:]
        return m, fds

    def call(self, method, params=None, more=False):
        self.send(method, params, more)
        return self.read()

    def closed(self):
        """True when the daemon closed the connection (EOF/reset), reading past any reply."""
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def main():
    if not os.path.exists(IOASIDD):
        print("SKIPPED: %s not built" % IOASIDD)
        return 0
    tmp = tempfile.mkdtemp(prefix="ioasidd-adv-")
    conf = os.path.join(tmp, "ioasid.conf")
    with open(conf, "w") as f:
        f.write("idle-timeout 2\nmax-connections-per-uid 8\n"
                "admin user 0\n"
                "pool vf { driver vfio-pci }\n"
                "allow uid 0-0 to bdf 0000:01:01.0 group whole\n"
                "allow uid 0-0 to any mode attached,unbound group implicit max-leases 3 max-devices 2\n"
                "deny *\n")
    os.chmod(conf, 0o644)
    sock = os.path.join(tmp, "s.sock")
    log = open(os.path.join(tmp, "log"), "w")
    # VALGRIND=1: run the daemon under valgrind (memory errors, leaks, fds left open at exit).
    pre = []
    if os.environ.get("VALGRIND"):
        pre = ["valgrind", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
               "--track-fds=yes", "-q", "--log-file=" + os.path.join(tmp, "valgrind")]
    d = subprocess.Popen(pre + [IOASIDD, "--kernel=sim", "--host", HOST, "--config", conf,
                          "--socket", sock], stderr=log)
    try:
        for _ in range(400):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        run(d, sock)
    finally:
        d.send_signal(signal.SIGTERM)
        try:
            rc = d.wait(5)
        except subprocess.TimeoutExpired:
            d.kill()
            rc = -9
        check(rc == 0, "daemon exits 0 on SIGTERM (rc=%s)" % rc)
        check(not os.path.exists(sock), "socket removed at exit")
        log.close()
        vg = os.path.join(tmp, "valgrind")
        if os.path.exists(vg) and os.path.getsize(vg) > 0:
            print(open(vg).read()[-6000:], file=sys.stderr)
        if failed:
            print(open(os.path.join(tmp, "log")).read()[-4000:], file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    print("daemon-adversarial: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def serves(sock):
    c = Client(sock)
    r, _ = c.call("org.varlink.service.GetInfo")
    c.close()
    return r.get("parameters", {}).get("product") == "ioasidd"


def settle(pid, base, what):
    """I1 + I2: the daemon serves and its fd count returns to the baseline."""
    n = -1
    for _ in range(40):
        n = fd_count(pid)
        if n == base:
            break
        time.sleep(0.05)
    check(n == base, "%s: daemon fd count %d back to baseline %d" % (what, n, base))


def run(d, sock):
    pid = d.pid
    if os.environ.get("VALGRIND"):
        time.sleep(2)  # valgrind start-up
    check(serves(sock), "daemon serves GetInfo")
    st = os.stat(sock)
    check((st.st_mode & 0o777) == 0o660, "socket mode 0660 (got %o)" % (st.st_mode & 0o777))
    time.sleep(0.1)
    base = fd_count(pid)

    # The real IDL text.
    c = Client(sock)
    r, _ = c.call("org.varlink.service.GetInterfaceDescription", {"interface": "io.ioasid.Broker"})
    check("method Acquire(" in r["parameters"].get("description", ""), "GetInterfaceDescription returns the IDL")
    r, _ = c.call("org.varlink.service.GetInterfaceDescription", {"interface": "x.y"})
    check(r.get("error") == "org.varlink.service.InterfaceNotFound", "unknown interface description")

    # Unknown method: named error, the connection stays.
    r, _ = c.call("io.ioasid.Broker.NoSuchThing")
    check(r.get("error") == "org.varlink.service.MethodNotFound", "unknown method -> MethodNotFound")
    r, _ = c.call("org.varlink.service.GetInfo")
    check("parameters" in r and "error" not in r, "connection stays after an unknown method")
    # Bad parameters: named error, the connection stays.
    r, _ = c.call("io.ioasid.Broker.Acquire", {"devices": ["zz"]})
    check(r.get("error") == "org.varlink.service.InvalidParameter", "bad BDF -> InvalidParameter")
    r, _ = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0"], "group": 3})
    check(r.get("error") == "org.varlink.service.InvalidParameter", "devices + group -> InvalidParameter")
    r, _ = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:09:00.0"]})
    check(r.get("error") == "io.ioasid.NoSuchDevice", "unknown device -> NoSuchDevice")
    # A domain above ffff (VMD) is a PCI address: validated, canonicalised, then not found;
    # more than 8 domain digits is not one.
    r, _ = c.call("io.ioasid.Broker.Acquire", {"devices": ["00010000:E1:00.0"]})
    check(r.get("error") == "io.ioasid.NoSuchDevice" and
          r.get("parameters", {}).get("device") == "10000:e1:00.0",
          "domain 10000 -> NoSuchDevice with the canonical BDF (%s)" % r)
    r, _ = c.call("io.ioasid.Broker.Acquire", {"devices": ["100000000:e1:00.0"]})
    check(r.get("error") == "org.varlink.service.InvalidParameter", "9-digit domain -> InvalidParameter")
    c.close()
    settle(pid, base, "named errors")

    # Malformed messages close the connection (C5, A12).
    for what, raw in [("bad JSON", b"{\"method\":\0"), ("not an object", b"[1]\0"),
                      ("not a call", b"{\"foo\":1}\0"),
                      ("too deep", b"{\"method\":\"a.B\",\"parameters\":" + b"[" * 40 + b"]" * 40 + b"}\0"),
                      ("oversize", b"{" + b" " * 70000)]:
        c = Client(sock)
        try:
            c.send_raw(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass
        check(c.closed(), "%s closes the connection" % what)
        c.close()
    check(serves(sock), "serves after malformed messages")
    settle(pid, base, "malformed")

    # Fds sent to the daemon (C1, C4): refused by the kernel at the sender (SO_PASSRIGHTS off,
    # Linux 6.16+), or, on older kernels, closed by the daemon and the connection dropped.
    c = Client(sock)
    r1, w1 = os.pipe()
    try:
        c.send_raw(b"{\"method\":\"org.varlink.service.GetInfo\"}\0", [r1, w1, c.s.fileno()])
        refused = False
    except PermissionError:
        refused = True
    os.close(r1)
    os.close(w1)
    if refused:
        r, _ = c.call("org.varlink.service.GetInfo")
        check("parameters" in r, "fds refused at the sender (EPERM); the connection still works")
    else:
        check(c.closed(), "fds from a client close the connection")
    c.close()
    settle(pid, base, "fds from client")

    # 1000 pipelined requests in one write (C8).
    c = Client(sock)
    c.send_raw(b"{\"method\":\"org.varlink.service.GetInfo\"}\0" * 1000)
    ok = 0
    for _ in range(1000):
        r, _ = c.read()
        ok += r.get("parameters", {}).get("product") == "ioasidd"
    check(ok == 1000, "1000 pipelined requests answered in order (%d)" % ok)
    c.close()
    settle(pid, base, "pipelining")

    # Fairness between connections (D4): one request per connection per turn. With the daemon
    # stopped, A queues [Acquire Y, 40 x GetInfo, Acquire X] and B [Acquire X, 40 x GetInfo,
    # Acquire Y]; then the daemon runs. Served in turns, each gets its first device and is
    # refused its last. A daemon that drains one connection before the next gives both
    # devices to whichever it read first. Decided by order, not by time.
    x_dev, y_dev = "0000:00:03.0", "0000:00:04.0"
    filler = b"{\"method\":\"org.varlink.service.GetInfo\"}\0" * 40
    def acq(bdf):
        return json.dumps({"method": "io.ioasid.Broker.Acquire",
                           "parameters": {"devices": [bdf]}}).encode() + b"\0"
    fa, fb = Client(sock), Client(sock)
    fa.call("org.varlink.service.GetInfo")
    fb.call("org.varlink.service.GetInfo")
    os.kill(pid, signal.SIGSTOP)
    try:
        fa.send_raw(acq(y_dev) + filler + acq(x_dev))
        fb.send_raw(acq(x_dev) + filler + acq(y_dev))
    finally:
        os.kill(pid, signal.SIGCONT)
    got = {}
    for name, cl in (("A", fa), ("B", fb)):
        res = []
        for _ in range(42):
            r, f = cl.read()
            for fd in f:
                os.close(fd)
            if r.get("parameters", {}).get("product") != "ioasidd":
                res.append(r.get("error") or "ok")
        got[name] = res
    check(got == {"A": ["ok", "io.ioasid.DeviceBusy"], "B": ["ok", "io.ioasid.DeviceBusy"]},
          "connections served in turns: each gets its first device (%s)" % got)
    fa.close()
    fb.close()
    time.sleep(0.2)
    settle(pid, base, "fairness")

    # Idle deadline (D2) and slowloris (D3): idle-timeout is 2 s in this config.
    c = Client(sock)
    c.s.settimeout(4)
    t0 = time.time()
    check(c.closed(), "idle connection closed")
    check(1.5 < time.time() - t0 < 4, "closed near the idle deadline")
    c.close()
    c = Client(sock)
    c.s.settimeout(4)
    c.send_raw(b"{\"method\":")
    t0 = time.time()
    check(c.closed(), "partial request closed at the deadline")
    c.close()
    # The deadline moves with each request although the timer is only moved lazily: a
    # request 1.2 s in pushes it past the first arming (2 s), and the connection is still
    # served after that first arming has passed.
    c = Client(sock)
    time.sleep(1.2)
    r, _ = c.call("org.varlink.service.GetInfo")
    check("error" not in r, "served within the first deadline")
    time.sleep(1.3)
    try:
        r, _ = c.call("org.varlink.service.GetInfo")
        check("error" not in r, "a request moved the deadline: still served after the first one")
    except (EOFError, ConnectionResetError, BrokenPipeError, socket.timeout):
        check(False, "a request moved the deadline: closed at the first one")
    c.s.settimeout(4)
    check(c.closed(), "then closed at the moved deadline")
    c.close()
    # A lease holder is exempt past the deadline; releasing makes it subject to it again.
    c = Client(sock)
    r, fds = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:02.0"]})
    for f in fds:
        os.close(f)
    lease = r.get("parameters", {}).get("lease")
    check(lease is not None, "idle: Acquire (%s)" % r)
    time.sleep(2.5)
    r, _ = c.call("io.ioasid.Broker.Release", {"lease": lease})
    check("error" not in r, "a lease holder outlives the idle deadline")
    c.s.settimeout(4)
    check(c.closed(), "after Release the idle deadline closes it")
    c.close()
    settle(pid, base, "deadlines")

    # Per-uid connection cap (D1): max-connections-per-uid 8.
    cs = [Client(sock) for _ in range(12)]
    time.sleep(0.2)
    dropped = 0
    for x in cs:
        x.s.settimeout(0.3)
        try:
            x.send("org.varlink.service.GetInfo")
            x.read()
        except (EOFError, ConnectionResetError, BrokenPipeError, socket.timeout):
            dropped += 1
    check(dropped == 4, "per-uid cap: 4 of 12 dropped (got %d)" % dropped)
    for x in cs:
        x.close()
    settle(pid, base, "per-uid cap")

    # Acquire, exclusivity, fds, lease lifetime (B1, B6).
    a = Client(sock)
    r, fds = a.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:02.0"]})
    p = r.get("parameters", {})
    check(len(fds) == 2 and p.get("iommuFd") == 0 and p["devices"][0]["deviceFd"] == 1,
          "Acquire returns iommufd + device fd")
    names = [os.readlink("/proc/self/fd/%d" % f) for f in fds]
    check("iommufd" in names[0] and "0000:01:02.0" in names[1], "fds are what they claim: %s" % names)
    check(p.get("atRisk") == ["0000:01:01.0"], "implicit group: sibling at risk")
    b = Client(sock)
    r, bf = b.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:02.0"]})
    check(r.get("error") == "io.ioasid.DeviceBusy" and not bf, "same device twice -> DeviceBusy")
    r, bf = b.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:01.0"]})
    check(r.get("error") == "io.ioasid.GroupOwned" and not bf, "sibling in an owned group -> GroupOwned")
    r, _ = b.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:02.0"]})
    check(r.get("error") == "io.ioasid.GroupNotViable" and r["parameters"].get("device") == "0000:00:02.0",
          "host-driver group -> GroupNotViable naming the device")
    r, _ = b.call("io.ioasid.Broker.ListLeases")
    check(len(r["parameters"]["leases"]) == 1, "ListLeases shows the lease")
    lease = p.get("lease")
    # The lease ends with its connection and the daemon's references go, but this process
    # still holds the fds: the kernel (sim) keeps the device bound, so the lease stays as
    # "ended", holding its group, named in ListLeases and in GroupOwned.
    a.close()
    time.sleep(0.2)
    r, _ = b.call("io.ioasid.Broker.ListLeases")
    ls = r["parameters"]["leases"]
    check(len(ls) == 1 and ls[0]["id"] == lease and ls[0]["state"] == "ended" and
          ls[0]["held"] == ["0000:01:02.0"],
          "connection lifetime: the lease ended, its device file still held (%s)" % ls)
    r, bf = b.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:02.0"], "mode": "unbound"})
    check(r.get("error") == "io.ioasid.GroupOwned" and not bf and
          r["parameters"].get("owner", "").startswith("held by ended lease %s (uid 0, pid " % lease),
          "held after its end -> GroupOwned naming the lease (%s)" % r)
    for f in fds:
        os.close(f)
    # The daemon asks the kernel again before refusing: granted, and the ended lease is gone.
    r, bf = b.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:02.0"], "mode": "unbound"})
    check("parameters" in r and r["parameters"].get("mode") == "unbound" and len(bf) == 2 and
          r["parameters"].get("ioasId", 0) is None and r["parameters"]["devices"][0]["devId"] is None,
          "after the holder closed its fds the device is free again (unbound)")
    lease = r["parameters"].get("lease")
    r, _ = b.call("io.ioasid.Broker.ListLeases")
    check([x["id"] for x in r["parameters"]["leases"]] == [lease], "the ended lease is gone")
    r, _ = b.call("io.ioasid.Broker.Release", {"lease": lease})
    check("error" not in r, "Release")
    r, _ = b.call("io.ioasid.Broker.Release", {"lease": lease})
    check(r.get("error") == "io.ioasid.NoSuchLease", "Release twice -> NoSuchLease")
    for f in bf:
        os.close(f)

    # "group whole": asking for one device gives the whole group.
    r, wf = b.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:01.0"]})
    got = [x["bdf"] for x in r.get("parameters", {}).get("devices", [])]
    check(got == ["0000:01:01.0", "0000:01:02.0"] and len(wf) == 3 and r["parameters"]["atRisk"] == [],
          "group whole hands out the whole group (%s)" % got)
    # Pools: N free, viable devices; more than free -> DeviceBusy.
    r, pf = b.call("io.ioasid.Broker.Acquire", {"pool": "vf", "count": 2})
    got = [x["bdf"] for x in r.get("parameters", {}).get("devices", [])]
    check(got == ["0000:00:03.0", "0000:00:04.0"] and len(pf) == 3, "pool count 2 (%s)" % got)
    r, _ = b.call("io.ioasid.Broker.Acquire", {"pool": "vf", "count": 1})
    check(r.get("error") == "io.ioasid.DeviceBusy", "empty pool -> DeviceBusy (%s)" % r.get("error"))
    r, _ = b.call("io.ioasid.Broker.Acquire", {"pool": "nope"})
    check(r.get("error") == "org.varlink.service.InvalidParameter", "unknown pool -> InvalidParameter")
    r, _ = b.call("io.ioasid.Broker.ListGroups")
    owners = {g["number"]: g["owner"] for g in r["parameters"]["groups"]}
    check(owners.get(5) == "uid:0" and owners.get(3) == "uid:0" and owners.get(6) is None,
          "ListGroups shows owners")
    for f in wf + pf:
        os.close(f)
    b.close()
    settle(pid, base, "acquire/release")

    # max-devices 2 per lease (LimitExceeded), nothing opened.
    c = Client(sock)
    r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0", "0000:00:04.0", "0000:01:02.0"]})
    check(r.get("error") == "io.ioasid.LimitExceeded" and r["parameters"].get("limit") == "devices" and
          r["parameters"].get("max") == 2 and not f, "3 devices -> LimitExceeded devices (%s)" % r)
    c.close()

    # max-leases 3 per uid (LimitExceeded), on one connection.
    c = Client(sock)
    held = []
    for bdf in ["0000:00:03.0", "0000:00:04.0", "0000:01:02.0"]:
        r, f = c.call("io.ioasid.Broker.Acquire", {"devices": [bdf]})
        check("parameters" in r and "error" not in r, "lease %s" % bdf)
        held += f
    r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:01.0"]})
    check(r.get("error") == "io.ioasid.LimitExceeded" and r["parameters"].get("limit") == "leases" and not f,
          "4th lease -> LimitExceeded (%s)" % r)
    for x in held:
        os.close(x)
    c.close()
    settle(pid, base, "max-leases")

    # Client sends Acquire and goes away at once (A3, D5): nothing recorded.
    for _ in range(20):
        x = Client(sock)
        x.send("io.ioasid.Broker.Acquire", {"devices": ["0000:00:04.0"]})
        x.s.shutdown(socket.SHUT_RDWR)
        x.close()
    time.sleep(0.3)
    c = Client(sock)
    r, _ = c.call("io.ioasid.Broker.ListLeases")
    check(r["parameters"]["leases"] == [], "no lease left by vanished clients")
    r, f4 = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:04.0"]})
    check("parameters" in r and len(f4) == 2, "device free after vanished clients")
    for f in f4:
        os.close(f)
    c.close()
    settle(pid, base, "vanishing clients")

    # Process lifetime: the lease outlives the connection, ends with the process.
    child = subprocess.Popen([sys.executable, "-c", """
import socket, sys, time, json
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(json.dumps({"method": "io.ioasid.Broker.Acquire", "parameters": {"devices": ["0000:00:03.0"], "lifetime": "process"}}).encode() + b"\\0")
m = s.recvmsg(65536, 4096)
s.close()
print("got", flush=True)
time.sleep(30)
""", sock], stdout=subprocess.PIPE)
    child.stdout.readline()
    c = Client(sock)
    r, _ = c.call("io.ioasid.Broker.ListLeases")
    ls = r["parameters"]["leases"]
    check(len(ls) == 1 and ls[0]["lifetime"] == "process", "process lease survives its connection")
    m = Client(sock)
    r, _ = m.call("io.ioasid.Broker.Monitor", more=True)
    check(r.get("parameters", {}).get("event") == "subscribed" and r.get("continues"), "Monitor subscribed")
    child.kill()
    child.wait()
    ev, _ = m.read()
    check(ev["parameters"].get("event") == "lease-released" and ev["parameters"].get("bdf") == "0000:00:03.0",
          "Monitor sees the release when the process dies")
    r, _ = c.call("io.ioasid.Broker.ListLeases")
    check(r["parameters"]["leases"] == [], "process lease ended with the process")
    m.close()
    c.close()
    settle(pid, base, "process lifetime")

    # Manager.Stage: a context prepared for an owner, handed over on its matching Acquire.
    c = Client(sock)
    r, _ = c.call("io.ioasid.Manager.Stage", {"layout": "default", "owner": "uid 0", "devices": ["0000:00:03.0"]})
    sid = r.get("parameters", {}).get("id")
    check(sid is not None, "Stage returns an id (%s)" % r)
    r, _ = c.call("io.ioasid.Manager.ListStaged")
    st = r["parameters"]["staged"]
    check(len(st) == 1 and st[0]["id"] == sid and st[0]["owner"] == "uid 0" and st[0]["devices"] == ["0000:00:03.0"],
          "ListStaged shows it")
    r, _ = c.call("io.ioasid.Broker.ListLeases")
    check(r["parameters"]["leases"] == [], "a staged context is not a lease")
    r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0"], "mode": "unbound"})
    check(r.get("error") == "io.ioasid.GroupOwned" and not f and
          r["parameters"].get("owner") == "staged for uid 0",
          "staged devices are held, GroupOwned names the staged owner (other mode: %s)" % r)
    r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0"]})
    check(r.get("parameters", {}).get("lease") == sid and len(f) == 2, "the owner's Acquire receives the staged context")
    names = [os.readlink("/proc/self/fd/%d" % x) for x in f]
    check("iommufd" in names[0] and "0000:00:03.0" in names[1], "staged fds are the right ones")
    r, _ = c.call("io.ioasid.Manager.ListStaged")
    check(r["parameters"]["staged"] == [], "no longer staged once handed over")
    r, _ = c.call("io.ioasid.Broker.ListLeases")
    check(len(r["parameters"]["leases"]) == 1, "now a lease")
    for x in f:
        os.close(x)
    r, _ = c.call("io.ioasid.Manager.Stage", {"layout": "default", "owner": "unit x.service", "devices": ["0000:00:04.0"]})
    sid = r.get("parameters", {}).get("id")
    r, _ = c.call("io.ioasid.Manager.DropStaged", {"id": sid})
    check("error" not in r, "DropStaged")
    r, _ = c.call("io.ioasid.Manager.DropStaged", {"id": sid})
    check(r.get("error") == "io.ioasid.Manager.NoSuchStaged", "DropStaged twice -> NoSuchStaged")
    r, _ = c.call("io.ioasid.Manager.Stage", {"layout": "default", "owner": "someone", "devices": ["0000:00:04.0"]})
    check(r.get("error") == "org.varlink.service.InvalidParameter", "bad owner -> InvalidParameter")
    r, _ = c.call("io.ioasid.Manager.Stage", {"layout": "nope", "owner": "uid 0", "devices": ["0000:00:04.0"]})
    check(r.get("error") == "org.varlink.service.InvalidParameter", "unknown layout -> InvalidParameter")
    c.close()
    settle(pid, base, "stage")

    # Status and Reload (admin), SIGHUP with a broken file keeps the old generation (E2).
    c = Client(sock)
    r, _ = c.call("io.ioasid.Manager.Status")
    gen = r["parameters"]["generation"]
    check(r["parameters"]["kernel"] == "sim", "Status")
    r, _ = c.call("io.ioasid.Manager.Reload")
    check(r.get("parameters", {}).get("generation") == gen + 1, "Reload bumps the generation")
    conf = d.args[d.args.index("--config") + 1]
    good = open(conf).read()
    with open(conf, "w") as f:
        f.write("allow nonsense\n")
    r, _ = c.call("io.ioasid.Manager.Reload")
    check(r.get("error") == "io.ioasid.Manager.ReloadFailed" and r["parameters"].get("line") == 1,
          "bad file -> ReloadFailed with the line")
    d.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    r, _ = c.call("io.ioasid.Manager.Status")
    check(r["parameters"]["generation"] == gen + 1, "old generation kept after a bad reload")
    with open(conf, "w") as f:
        f.write(good)
    d.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    r, _ = c.call("io.ioasid.Manager.Status")
    check(r["parameters"]["generation"] == gen + 2, "SIGHUP reloads")
    c.close()
    settle(pid, base, "reload")

    # An unprivileged uid is denied by policy and is not an admin (A1, A11).
    if os.geteuid() == 0 and shutil.which("setpriv"):
        out = subprocess.run(["setpriv", "--reuid=65000", "--regid=65000", "--clear-groups",
                              sys.executable, "-c", """
import socket, sys, json
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
def call(m, p=None):
    s.sendall(json.dumps({"method": m, "parameters": p or {}}).encode() + b"\\0")
    d = b""
    while not d.endswith(b"\\0"):
        d += s.recv(65536)
    return json.loads(d[:-1])
print(json.dumps([call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:04.0"]}),
                  call("io.ioasid.Manager.Status"), call("io.ioasid.Manager.Reload")]))
""", sock], capture_output=True, text=True)
        try:
            res = json.loads(out.stdout)
            check(res[0].get("error") == "io.ioasid.PermissionDenied", "uid 65000 denied by policy")
            check(res[1].get("error") == "io.ioasid.Manager.PermissionDenied", "uid 65000 not admin (Status)")
            check(res[2].get("error") == "io.ioasid.Manager.PermissionDenied", "uid 65000 not admin (Reload)")
        except (ValueError, IndexError):
            # The socket is 0660 root: connect itself is refused, which is the first gate.
            check("Permission denied" in out.stderr, "uid 65000 kept out: %s" % out.stderr[-200:])
    settle(pid, base, "unprivileged")

    # A client that pipelines requests and never reads (D4): reading from it stops, others
    # are served promptly, and it is dropped at the send deadline.
    hog = Client(sock)
    hog.s.setblocking(False)
    req = b"{\"method\":\"io.ioasid.Broker.ListDevices\"}\0"
    sent = 0
    try:
        for _ in range(5000):
            hog.s.send(req)
            sent += 1
    except BlockingIOError:
        pass
    time.sleep(0.5)
    t0 = time.time()
    check(serves(sock), "a good client is served while another does not read")
    check(time.time() - t0 < 0.1, "good client latency %.3fs < 0.1s" % (time.time() - t0))
    hog.s.setblocking(True)
    hog.s.settimeout(15)
    t0 = time.time()
    # Drain nothing for the deadline, then see the connection go.
    time.sleep(11)
    check(hog.closed(), "non-reading client dropped after the send deadline")
    hog.close()
    settle(pid, base, "non-reading client")

    # Out of fds (D6): accept4 fails with EMFILE; no busy loop; recovers.
    import resource
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (base + 2, hard))
    many = []
    for _ in range(6):
        try:
            many.append(Client(sock))
        except OSError:
            break
    def cpu_ticks():
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    t = cpu_ticks()
    time.sleep(1)
    used = cpu_ticks() - t
    check(used < 5 * os.sysconf("SC_CLK_TCK") / 100, "no busy loop at EMFILE (%d ticks in 1s)" % used)
    for x in many:
        x.close()
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    time.sleep(0.6)
    check(serves(sock), "serves again after EMFILE")
    settle(pid, base, "EMFILE")
    check(serves(sock), "daemon still serves at the end")


if __name__ == "__main__":
    sys.exit(main())
