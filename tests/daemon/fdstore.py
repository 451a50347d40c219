#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Leases across a daemon restart (F1, F2, F4), with this script playing systemd: it owns the
# listening socket (socket activation), receives sd_notify messages on NOTIFY_SOCKET, keeps
# the fds the daemon puts in the fdstore (FDSTORE=1/FDNAME=, FDSTOREREMOVE=1), and passes
# them back through LISTEN_FDS/LISTEN_FDNAMES when it restarts the daemon after kill -9.
#
# Usage: fdstore.py BUILD_DIR

import array
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from adversarial import Client, check  # noqa: E402
import adversarial  # noqa: E402

REPO = adversarial.REPO
B = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("B", "build")
IOASIDD = B if os.path.isabs(B) else os.path.join(REPO, B)
IOASIDD = os.path.join(IOASIDD, "ioasidd")
HOST = os.path.join(REPO, "tests", "hosts", "sample.json")


class FakeSystemd:
    def __init__(self, tmp, conf):
        self.tmp = tmp
        self.conf = conf
        self.sock_path = os.path.join(tmp, "s.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.sock_path)
        self.listener.listen(64)
        self.notify_path = os.path.join(tmp, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.settimeout(0.05)
        self.store = []  # [name, fd]
        self.ready = False
        self.proc = None
        # Like PID 1, read notifications as they come (sd_notify blocks on a full queue).
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop:
            try:
                msg, anc, _, _ = self.notify.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.handle(msg, anc)

    def pump(self, seconds=0.3):
        time.sleep(seconds)

    def handle(self, msg, anc):
        fds = []
        for lvl, typ, d in anc:
            if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(d[: len(d) - (len(d) % 4)])
                fds += list(a)
        # recvmsg() without MSG_CMSG_CLOEXEC: keep them from leaking into the next daemon
        # (PID 1 passes only what LISTEN_FDS lists).
        for fd in fds:
            os.set_inheritable(fd, False)
        kv = dict(line.split("=", 1) for line in msg.decode().splitlines() if "=" in line)
        if kv.get("READY") == "1":
            self.ready = True
        if kv.get("FDSTORE") == "1":
            for fd in fds:
                self.store.append([kv.get("FDNAME", "stored"), fd])
            fds = []
        if kv.get("FDSTOREREMOVE") == "1":
            name = kv.get("FDNAME")
            keep = []
            for n, fd in self.store:
                if n == name:
                    os.close(fd)
                else:
                    keep.append([n, fd])
            self.store = keep
        for fd in fds:
            os.close(fd)

    def names(self):
        with self.lock:
            return sorted(n for n, _ in self.store)

    def start(self):
        with self.lock:
            passed = [("varlink", self.listener.fileno())] + [(n, fd) for n, fd in self.store]
        hi = [os.dup(fd) for _, fd in passed]

        def child():
            for i, fd in enumerate(hi):
                os.dup2(fd, 3 + i, inheritable=True)

        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, LISTEN_FDS=str(len(passed)),
                   LISTEN_FDNAMES=":".join(n for n, _ in passed))
        self.log = open(os.path.join(self.tmp, "log"), "a")
        self.ready = False
        # LISTEN_PID must be the daemon's pid: the shell sets its own, then execs.
        self.proc = subprocess.Popen(["sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', IOASIDD, "--kernel=sim", "--host", HOST, "--config",
                                      self.conf], env=env, preexec_fn=child, close_fds=False,
                                     stderr=self.log)
        for fd in hi:
            os.close(fd)
        for _ in range(50):
            self.pump(0.1)
            if self.ready:
                break
        return self.ready

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.pump(0.2)
        self.log.close()


def spawn_owner(sock, bdf):
    """A process holding a process-lifetime lease on bdf: (process, lease id)."""
    p = subprocess.Popen([sys.executable, "-c", """
import socket, sys, time, json
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(json.dumps({"method": "io.ioasid.Broker.Acquire", "parameters": {"devices": [sys.argv[2]], "lifetime": "process"}}).encode() + b"\\0")
m = s.recvmsg(65536, 4096)
print(json.loads(m[0][:-1])["parameters"]["lease"], flush=True)
time.sleep(60)
""", sock, bdf], stdout=subprocess.PIPE, text=True)
    return p, p.stdout.readline().strip()


def swap(sd, name, fd):
    """Puts fd in the store under name in place of what the daemon stored there."""
    with sd.lock:
        for entry in sd.store:
            if entry[0] == name:
                os.close(entry[1])
                entry[1] = fd
                return True
    os.close(fd)
    return False


def daemon_fds(pid):
    held = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            held.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            pass
    return held


def check_wrong_types(sd, tmp):
    """Section 6 of issue 11: a stored lease whose fds are not what its record says (a pipe as
    the iommufd, a regular file or another device's file as a device, a pipe as the owner's
    pidfd or as the connection) is dropped at restart, the lease and the fd named in the log,
    like any other bad record; the fdstore and the daemon keep nothing of it. A lease that is
    intact is restored next to them."""
    sock = sd.sock_path
    owners = []
    try:
        # Round 1: the iommufd and device files.
        o1, l1 = spawn_owner(sock, "0000:00:03.0")
        o2, l2 = spawn_owner(sock, "0000:00:04.0")
        o3, l3 = spawn_owner(sock, "0000:01:02.0")
        owners += [o1, o2, o3]
        sd.pump(0.3)
        sd.kill9()
        r, w = os.pipe()
        os.close(w)
        the_pipe = "pipe:[%d]" % os.fstat(r).st_ino
        regular = os.open(os.path.join(tmp, "regular"), os.O_RDWR | os.O_CREAT, 0o600)
        with sd.lock:
            other_dev = os.dup(dict(sd.store)["L%sd0" % l2])
        check(swap(sd, "L%si" % l1, r) and swap(sd, "L%sd0" % l2, regular) and
              swap(sd, "L%sd0" % l3, other_dev), "wrong types: entries swapped")
        check(sd.start(), "wrong types: daemon restarts")
        sd.pump(0.3)
        c = Client(sock)
        check(leases(c) == {}, "wrong types: none of the three leases restored (%s)" % list(leases(c)))
        log = open(os.path.join(tmp, "log")).read()
        for lid, msg in ((l1, "fdstore entry 'L%si' is not an iommufd" % l1),
                         (l2, "fdstore entry 'L%sd0' is not the device file of 0000:00:04.0" % l2),
                         (l3, "fdstore entry 'L%sd0' is not the device file of 0000:01:02.0" % l3)):
            check(("Stored lease %s " % lid) in log and msg in log, "wrong types: logged: %s" % msg)
        check(sd.names() == ["state"], "wrong types: their entries left the store (%s)" % sd.names())
        held = daemon_fds(sd.proc.pid)
        stray = [t for t in held if "regular" in t or "ioasid-sim" in t or t == the_pipe]
        check(stray == [], "wrong types: the daemon keeps none of the fds (%s)" % stray)
        r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0"]})
        check("parameters" in r and len(f) == 2, "wrong types: the device is free again")
        for x in f:
            os.close(x)
        c.close()

        # Round 2: the owner's pidfd and the connection; a lease left intact is restored.
        for o in owners:
            o.kill()
            o.wait()
        owners = []
        sd.pump(0.3)
        o4, l4 = spawn_owner(sock, "0000:00:03.0")
        o5, l5 = spawn_owner(sock, "0000:00:04.0")
        owners += [o4, o5]
        held_conn = Client(sock)
        r, f6 = held_conn.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:02.0"]})
        l6 = r["parameters"]["lease"]
        sd.pump(0.3)
        cname = [n for n in sd.names() if n.startswith("C")]
        check(len(cname) == 1, "wrong types: the connection is stored (%s)" % sd.names())
        sd.kill9()
        r, w = os.pipe()
        os.close(w)
        r2, w2 = os.pipe()
        os.close(w2)
        check(swap(sd, "L%sp" % l4, r) and cname and swap(sd, cname[0], r2),
              "wrong types: pidfd and connection swapped")
        check(sd.start(), "wrong types: daemon restarts again")
        sd.pump(0.3)
        c = Client(sock)
        ls = leases(c)
        check(list(ls) == [l5], "wrong types: only the intact lease restored (%s)" % list(ls))
        log = open(os.path.join(tmp, "log")).read()
        check("Stored lease %s of uid 0 dropped: fdstore entry 'L%sp' is not a pidfd" % (l4, l4) in log,
              "wrong types: a pipe as the owner's pidfd is logged")
        check("Stored lease %s of uid 0 dropped: its stored connection is not a connected AF_UNIX "
              "stream socket" % l6 in log, "wrong types: a pipe as the connection is logged")
        c.close()
        held_conn.close()
        for x in f6:
            os.close(x)
    finally:
        for o in owners:
            o.kill()
            o.wait()


def leases(c):
    r, _ = c.call("io.ioasid.Broker.ListLeases")
    return {x["id"]: x for x in r["parameters"]["leases"]}


def main():
    if not os.path.exists(IOASIDD):
        print("SKIPPED: %s not built" % IOASIDD)
        return 0
    tmp = tempfile.mkdtemp(prefix="ioasidd-fdstore-")
    conf = os.path.join(tmp, "ioasid.conf")
    with open(conf, "w") as f:
        f.write("admin user 0\nallow uid 0-0 to any mode attached,unbound group implicit\n")
    os.chmod(conf, 0o644)
    sd = FakeSystemd(tmp, conf)
    owner = None
    try:
        check(sd.start(), "daemon READY under the fake systemd")
        sock = sd.sock_path
        # L1: process lifetime, owned by a sleeping child. L2: connection lifetime, ours.
        owner = subprocess.Popen([sys.executable, "-c", """
import socket, sys, time, json
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(json.dumps({"method": "io.ioasid.Broker.Acquire", "parameters": {"devices": ["0000:00:03.0"], "lifetime": "process"}}).encode() + b"\\0")
m = s.recvmsg(65536, 4096)
print(json.loads(m[0][:-1])["parameters"]["lease"], flush=True)
time.sleep(60)
""", sock], stdout=subprocess.PIPE, text=True)
        l1 = owner.stdout.readline().strip()
        held = Client(sock)
        r, fds2 = held.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:04.0"]})
        l2 = r["parameters"]["lease"]
        sd.pump(0.3)
        names = sd.names()
        check("state" in names and "L%si" % l1 in names and "L%sd0" % l1 in names and
              "L%sp" % l1 in names and "L%si" % l2 in names and any(n.startswith("C") for n in names),
              "leases' fds are in the fdstore: %s" % names)

        # F1: kill -9, restart with the stored fds.
        sd.kill9()
        check(sd.start(), "daemon restarts with the stored fds")
        c = Client(sock)
        ls = leases(c)
        check(l1 in ls and l2 in ls, "both leases restored (%s)" % list(ls))
        check(ls.get(l1, {}).get("lifetime") == "process" and ls.get(l2, {}).get("lifetime") == "connection",
              "lifetimes kept")
        r, _ = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:04.0"]})
        check(r.get("error") == "io.ioasid.DeviceBusy", "exclusivity survives the restart (%s)" % r.get("error"))
        # The held connection was adopted: it still works, and closing it ends L2.
        r, _ = held.call("org.varlink.service.GetInfo")
        check(r.get("parameters", {}).get("product") == "ioasidd", "adopted connection still served")
        held.close()
        for f in fds2:
            os.close(f)
        time.sleep(0.3)
        ls = leases(c)
        check(l2 not in ls and l1 in ls, "closing the adopted connection ends its lease only")
        sd.pump(0.3)
        check(not any(n.startswith("L%s" % l2) for n in sd.names()), "ended lease removed from the fdstore")

        # F4: the owner of L1 dies while the daemon is down: dropped at restart.
        c.close()
        sd.kill9()
        owner.kill()
        owner.wait()
        check(sd.start(), "daemon restarts again")
        c = Client(sock)
        check(leases(c) == {}, "lease of a dead owner dropped at restart")
        sd.pump(0.3)
        check(sd.names() == ["state"], "fdstore holds only the state now (%s)" % sd.names())
        r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0"]})
        check("parameters" in r and len(f) == 2, "its device can be leased again")
        for x in f:
            os.close(x)
        c.close()

        # F2: a state that is not a sealed memfd, plus junk entries: dropped, daemon starts.
        sd.kill9()
        bad = os.memfd_create("state")
        os.write(bad, b"{\"format\":\"ioasidd-state\",\"version\":1,\"leases\":[{\"id\":\"x\"}]}")
        junk = os.memfd_create("junk")
        with sd.lock:
            for n, fd in sd.store:
                os.close(fd)
            sd.store = [["state", bad], ["Lffffffffffffffffffffffffffffffffi", junk], ["weird", os.dup(junk)]]
        check(sd.start(), "daemon starts with a corrupt state")
        sd.pump(0.3)
        c = Client(sock)
        check(leases(c) == {}, "nothing restored from a corrupt state")
        check(all(n == "state" for n in sd.names()), "junk entries removed from the store (%s)" % sd.names())
        c.close()
        # No stored entry lingers in the daemon: no sim device/iommufd memfd, no junk.
        pid = sd.proc.pid
        held = []
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                held.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
            except OSError:
                pass
        stray = [t for t in held if "ioasid-sim" in t or "junk" in t or "memfd:state" in t]
        check(stray == [], "daemon holds no stray stored fds (%s)" % stray)

        check_wrong_types(sd, tmp)
    finally:
        if owner and owner.poll() is None:
            owner.kill()
        if sd.proc and sd.proc.poll() is None:
            sd.proc.send_signal(signal.SIGTERM)
            sd.proc.wait(5)
        if adversarial.failed:
            try:
                print(open(os.path.join(tmp, "log")).read()[-3000:], file=sys.stderr)
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
    print("daemon-fdstore: %d passed, %d failed" % (adversarial.passed, adversarial.failed))
    return 1 if adversarial.failed else 0


if __name__ == "__main__":
    sys.exit(main())
