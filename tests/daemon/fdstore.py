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
import fcntl
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
    def __init__(self, tmp, conf, host=HOST):
        self.tmp = tmp
        self.conf = conf
        self.host = host
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
        self.proc = subprocess.Popen(["sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', IOASIDD, "--kernel=sim", "--host", self.host, "--config",
                                      self.conf], env=env, preexec_fn=child, close_fds=False,
                                     stderr=self.log)
        for fd in hi:
            os.close(fd)
        for _ in range(50):
            self.pump(0.1)
            if self.ready:
                break
        return self.ready

    def term(self):
        """A clean stop, as `systemctl restart` makes it: SIGTERM, wait for the exit."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        self.pump(0.2)
        self.log.close()

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


def fd_kind(fd):
    """What one of the stored files is, told as the daemon tells it."""
    t = os.readlink("/proc/self/fd/%d" % fd)
    if "ioasid-sim:iommufd" in t:
        return "iommufd"
    if "ioasid-sim:vfio" in t:
        return "vfio"
    if "[pidfd]" in t:
        return "pidfd"
    if "memfd:ioasidd-lease" in t:
        return "record"
    return t


def kinds(sd, name):
    with sd.lock:
        return [fd_kind(fd) for n, fd in sd.store if n == name]


def swap_kind(sd, name, kind, fd):
    """Puts fd in entry name in place of its file of that kind."""
    with sd.lock:
        for entry in sd.store:
            if entry[0] == name and fd_kind(entry[1]) == kind:
                os.close(entry[1])
                entry[1] = fd
                return True
    os.close(fd)
    return False


def add_to(sd, name, fd):
    """Adds fd to entry name, as if the daemon had stored it there."""
    with sd.lock:
        sd.store.append([name, fd])


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
            other_dev = [os.dup(fd) for n, fd in sd.store if n == "L%s" % l2 and fd_kind(fd) == "vfio"][0]
        check(swap_kind(sd, "L%s" % l1, "iommufd", r) and
              swap_kind(sd, "L%s" % l2, "vfio", regular) and
              swap_kind(sd, "L%s" % l3, "vfio", other_dev), "wrong types: entries swapped")
        check(sd.start(), "wrong types: daemon restarts")
        sd.pump(0.3)
        c = Client(sock)
        check(leases(c) == {}, "wrong types: none of the three leases restored (%s)" % list(leases(c)))
        log = open(os.path.join(tmp, "log")).read()
        for lid, msg in ((l1, "its iommufd is not in the store"),
                         (l2, "the device file of 0000:00:04.0 is not in the store"),
                         (l3, "the device file of 0000:01:02.0 is not in the store")):
            check(("Stored lease %s of uid 0 dropped: %s" % (lid, msg)) in log,
                  "wrong types: logged: %s" % msg)
        check(sd.names() == [], "wrong types: their entries left the store (%s)" % sd.names())
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
        check(swap_kind(sd, "L%s" % l4, "pidfd", r) and cname and swap(sd, cname[0], r2),
              "wrong types: pidfd and connection swapped")
        check(sd.start(), "wrong types: daemon restarts again")
        sd.pump(0.3)
        c = Client(sock)
        ls = leases(c)
        check(list(ls) == [l5], "wrong types: only the intact lease restored (%s)" % list(ls))
        log = open(os.path.join(tmp, "log")).read()
        check("Stored lease %s of uid 0 dropped: its owner's pidfd is not in the store" % l4 in log,
              "wrong types: a pipe as the owner's pidfd is logged")
        check("Stored lease %s of uid 0 dropped: its stored connection is not a connected AF_UNIX "
              "stream socket" % l6 in log, "wrong types: a pipe as the connection is logged")
        c.close()
        held_conn.close()
        for x in f6:
            os.close(x)

        # Round 3: a stranger's file added to an otherwise intact entry drops the lease.
        for o in owners:
            o.kill()
            o.wait()
        owners = []
        sd.pump(0.3)
        o7, l7 = spawn_owner(sock, "0000:00:03.0")
        owners.append(o7)
        sd.pump(0.3)
        sd.kill9()
        r3, w3 = os.pipe()
        os.close(w3)
        add_to(sd, "L%s" % l7, r3)
        check(sd.start(), "wrong types: daemon restarts a third time")
        sd.pump(0.3)
        c = Client(sock)
        check(leases(c) == {}, "wrong types: a lease with a stranger's file is not restored")
        log = open(os.path.join(tmp, "log")).read()
        check("Stored lease %s of uid 0 dropped: fdstore entry 'L%s' holds 1 file(s) that are "
              "none of its record, iommufd, device files and owner's pidfd" % (l7, l7) in log,
              "wrong types: a stranger's file in an entry is logged")
        check(sd.names() == [], "wrong types: the entry left the store (%s)" % sd.names())
        c.close()
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
        # One entry per lease: its record, iommufd, device file and the owner's pidfd; the
        # connection of the connection-lifetime one on its own.
        check(names.count("L%s" % l1) == 4 and names.count("L%s" % l2) == 4 and
              sum(n.startswith("C") for n in names) == 1 and len(names) == 9,
              "leases' fds are in the fdstore: %s" % names)
        check(sorted(kinds(sd, "L%s" % l1)) == ["iommufd", "pidfd", "record", "vfio"],
              "a lease's entry holds its record, iommufd, device file and owner's pidfd (%s)"
              % kinds(sd, "L%s" % l1))

        # F1: kill -9, restart with the stored fds.
        sd.kill9()
        check(sd.start(), "daemon restarts with the stored fds")
        c = Client(sock)
        ls = leases(c)
        check(l1 in ls and l2 in ls, "both leases restored (%s)" % list(ls))
        check(ls.get(l1, {}).get("lifetime") == "process" and ls.get(l2, {}).get("lifetime") == "connection",
              "lifetimes kept")
        r, _ = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:04.0"]})
        check(r.get("error") == "io.ioasid.Broker.DeviceBusy", "exclusivity survives the restart (%s)" % r.get("error"))
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
        check(sd.names() == [], "fdstore holds nothing now (%s)" % sd.names())
        r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0"]})
        check("parameters" in r and len(f) == 2, "its device can be leased again")
        for x in f:
            os.close(x)
        c.close()

        # F2: a lease record that is not a sealed memfd, an earlier version's "state", junk
        # entries: dropped, daemon starts.
        sd.kill9()
        bad = os.memfd_create("ioasidd-lease")
        os.write(bad, b"{\"format\":\"ioasidd-lease\",\"version\":1,\"id\":\"%s\"}" % (b"f" * 32))
        junk = os.memfd_create("junk")
        old = os.memfd_create("state")
        with sd.lock:
            for n, fd in sd.store:
                os.close(fd)
            sd.store = [["L" + "f" * 32, bad], ["L" + "f" * 32, junk], ["state", old],
                        ["Lffffffffffffffffffffffffffffffffi", os.dup(junk)], ["weird", os.dup(junk)]]
        check(sd.start(), "daemon starts with a corrupt state")
        sd.pump(0.3)
        c = Client(sock)
        check(leases(c) == {}, "nothing restored from a corrupt state")
        check(sd.names() == [], "junk entries removed from the store (%s)" % sd.names())
        log = open(os.path.join(tmp, "log")).read()
        check("Stored lease %s dropped: it has no lease record" % ("f" * 32) in log,
              "F2: an unsealed record is no record (logged)")
        check("Stored state of an earlier ioasidd dropped" in log,
              "F2: an earlier version's state is dropped, and said so")
        c.close()
        # No stored entry lingers in the daemon: no sim device/iommufd memfd, no junk.
        pid = sd.proc.pid
        held = []
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                held.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
            except OSError:
                pass
        stray = [t for t in held if "ioasid-sim" in t or "junk" in t or "memfd:state" in t or
                 "memfd:ioasidd-lease" in t]
        check(stray == [], "daemon holds no stray stored fds (%s)" % stray)

        check_wrong_types(sd, tmp)
        run_catalogue(sd)
        vdpa_restart(tmp)
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
        if not os.environ.get("KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)
    print("daemon-fdstore: %d passed, %d failed" % (adversarial.passed, adversarial.failed))
    return 1 if adversarial.failed else 0


# ---------------------------------------------------------------------------------------
# Catalogue cases added for tests/ADVERSARIAL.md (F1 mid-request, F2 variants, F6), run after
# main()'s own sequence on the same fake systemd.

def cat_F1_mid_request(sd):
    """F1, kill -9 mid-request. (a) A request on an accepted connection that holds no lease
    (so it is not in the fdstore): the client sees EOF or a reset at once, not a hang, and a
    reconnect after the restart is served. (b) A request still in the listening socket's
    backlog, which systemd keeps across the restart: ioasidctl acquire is answered by the
    new daemon. (c) No device is assigned twice: the lease of (b) is the only one."""
    sock = sd.sock_path
    ctl = os.path.join(os.path.dirname(IOASIDD), "ioasidctl")
    c = Client(sock)
    r, _ = c.call("org.varlink.service.GetInfo")
    check("parameters" in r, "F1: connection accepted")
    os.kill(sd.proc.pid, signal.SIGSTOP)
    c.send("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0"]})
    sd.kill9()
    t0 = time.time()
    try:
        c.read()
        got = "a reply"
    except (EOFError, ConnectionResetError):
        got = "eof"
    except socket.timeout:
        got = "timeout"
    check(got == "eof" and time.time() - t0 < 2,
          "F1: the client of a killed daemon sees EOF/ECONNRESET at once (%s)" % got)
    c.close()
    check(sd.start(), "F1: restarted")
    os.kill(sd.proc.pid, signal.SIGSTOP)
    env = dict(os.environ, IOASID_SOCKET=sock)
    p = subprocess.Popen([ctl, "acquire", "0000:00:04.0", "--json=short"], env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(0.5)
    sd.kill9()
    check(sd.start(), "F1: restarted with a request in the backlog")
    try:
        out = p.stdout.readline()
        res = json.loads(out)
    except ValueError:
        res = {}
    check(res.get("verified") is True and res["devices"][0]["bdf"] == "0000:00:04.0",
          "F1: the request in the backlog is served by the new daemon (%s)" % out[:120])
    c = Client(sock)
    ls = leases(c)
    check(len(ls) == 1 and [d for x in ls.values() for d in x["devices"]] == ["0000:00:04.0"],
          "F1: one lease, no device twice (%s)" % ls)
    r, _ = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:04.0"]})
    check(r.get("error") == "io.ioasid.Broker.DeviceBusy", "F1: the device is busy for others")
    p.stdin.close()
    p.wait(5)
    # The lease ends with its holder. Its devices count as held until the kernel shows
    # every copy closed, and the copies in the fdstore are closed by systemd (this script)
    # after the daemon asked: the daemon learns it at its next probe (every 2 s).
    for _ in range(60):
        if leases(c) == {}:
            break
        sd.pump(0.1)
    ls = leases(c)
    check(ls == {}, "F1: the lease ends with its holder (%s; store %s)" % (ls, sd.names()))
    c.close()


def cat_F2_variants(sd):
    """F2, more bad lease records than main()'s unsealed one, each with the fds of a real lease
    in its entry: a sealed but truncated record, an empty one, one above the 16 MiB limit,
    one of an unknown version, records whose id is not their entry's (embedded ':' /
    newline / a NUL escape), a duplicate key, two records in one entry. Each time the daemon
    starts, restores nothing it cannot vouch for, says so in the log, closes and removes
    every entry, holds no stray fd, and serves; a record with delimiters in a free-text
    field (unit) round-trips escaped."""
    def sealed(data):
        fd = os.memfd_create("ioasidd-lease", os.MFD_ALLOW_SEALING)
        if data:
            os.write(fd, data)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW |
                    fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL)
        return fd

    lid = "0123456789abcdef0123456789abcdef"

    def stored_record():
        with sd.lock:
            for n, fd in sd.store:
                if n == "L" + lid and fd_kind(fd) == "record":
                    return os.pread(fd, 1 << 24, 0)
        return b""

    rec = {"format": "ioasidd-lease", "version": 1,
           "id": lid, "uid": 0, "pid": 1, "unit": None, "mode": "attached", "layout": None,
           "lifetime": "process", "ioas": 1, "generation": 1, "created": 1, "rule": None,
           "connection": None, "pidfd": True,
           "devices": [{"bdf": "0000:00:03.0", "group": 3, "devId": 1, "hwptId": 2}],
           "atRisk": []}

    def record(r, version=1):
        return json.dumps(dict(r, version=version)).encode()

    good = record(rec)
    # The record is parsed as strictly as a message: a "\u0000" or a duplicate key anywhere
    # refuses all of it (json-c would take both).
    nul_id = record(dict(rec, id=lid[:15] + "\u0000" + lid[16:]))
    dup_key = good.replace(b'"id": "%s"' % lid.encode(),
                           b'"id": "%s", "id": "%s"' % (lid.encode(), lid.encode()), 1)
    cases = [
        ("truncated", [good[:len(good) // 2]], "its lease record does not parse"),
        ("empty", [b""], "it has no lease record"),
        ("oversized", [b" " * (16 * 1024 * 1024 + 1)], "it has no lease record"),
        ("unknown version", [record(rec, version=2)], "its lease record does not parse"),
        ("id with ':'", [record(dict(rec, id=lid[:31] + ":"))], "its lease record does not parse"),
        ("id with a newline", [record(dict(rec, id=lid[:31] + "\n"))],
         "its lease record does not parse"),
        ("another lease's id", [record(dict(rec, id="f" * 32))], "its lease record does not parse"),
        ("NUL in a string", [nul_id], "its lease record does not parse"),
        ("duplicate key", [dup_key], "its lease record does not parse"),
        ("two records", [good, good], "it has two lease records"),
    ]

    def stray(pid, owner):
        """Stored fds of ours still in the daemon: the fake lease's memfds, the owner's pidfd."""
        out = []
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                info = open("/proc/%d/fdinfo/%s" % (pid, fd)).read()
            except OSError:
                continue
            if (F2_IOMMUFD in t or F2_DEVICE in t or "memfd:ioasidd-lease" in t or
                    ("[pidfd]" in t and "Pid:\t%d\n" % owner in info)):
                out.append(t)
        return out

    def entry(records, owner):
        return ([["L" + lid, sealed(x)] for x in records] +
                [["L" + lid, os.memfd_create(F2_IOMMUFD)],
                 ["L" + lid, os.memfd_create(F2_DEVICE)],
                 ["L" + lid, os.pidfd_open(owner.pid)]])

    for what, records, logged in cases:
        sd.kill9()
        owner = subprocess.Popen(["sleep", "30"])
        with sd.lock:
            for n, fd in sd.store:
                os.close(fd)
            sd.store = entry(records, owner)
        logsize = os.path.getsize(os.path.join(sd.tmp, "log"))
        check(sd.start(), "F2 %s: the daemon starts" % what)
        sd.pump(0.3)
        with open(os.path.join(sd.tmp, "log")) as lf:
            lf.seek(logsize)
            text = lf.read()
        check("Stored lease %s dropped: %s" % (lid, logged) in text,
              "F2 %s: logged ('%s')" % (what, logged))
        c = Client(sd.sock_path)
        check(leases(c) == {}, "F2 %s: nothing restored" % what)
        check(sd.names() == [], "F2 %s: entries removed (%s)" % (what, sd.names()))
        check(stray(sd.proc.pid, owner.pid) == [], "F2 %s: no stray stored fd in the daemon"
              % what)
        r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:04.0"]})
        check(len(f) == 2, "F2 %s: serves" % what)
        for x in f:
            os.close(x)
        c.close()
        owner.kill()
        owner.wait()
    # A unit with the delimiters of every layer (JSON, LISTEN_FDNAMES, the log's key=value,
    # lines) in a valid record: restored, shown as it was, stored again as valid JSON.
    sd.kill9()
    owner = subprocess.Popen(["sleep", "30"])
    unit = "a\nb:c\"d=e f.scope"
    with sd.lock:
        for n, fd in sd.store:
            os.close(fd)
        sd.store = entry([record(dict(rec, unit=unit, pid=owner.pid))], owner)
    check(sd.start(), "F2 delimiters: the daemon starts")
    sd.pump(0.3)
    c = Client(sd.sock_path)
    ls = leases(c)
    check(ls.get(lid, {}).get("unit") == unit, "F2 delimiters: the unit round-trips (%s)"
          % ls.get(lid, {}).get("unit"))
    try:
        ok = json.loads(stored_record()).get("unit") == unit
    except (ValueError, KeyError, TypeError, AttributeError):
        ok = False
    check(ok, "F2 delimiters: the record stored again parses with the unit intact")
    owner.kill()
    owner.wait()
    time.sleep(0.3)
    check(leases(c) == {}, "F2 delimiters: the lease ends with its owner")
    c.close()


# What the sim's files look like to a daemon that restarted (names only: the sim that made
# them is gone), so a valid record's fds pass the restore's type check (fd_check).
F2_IOMMUFD = "ioasid-sim:iommufd:7"
F2_DEVICE = "ioasid-sim:vfio:0000:00:03.0"


def cat_F6_watchdog(sd):
    """F6, with this script as systemd's watchdog: the daemon started with WATCHDOG_USEC=1s
    pings from its event loop, never 1 s apart (sd-event aims at 0.5-0.75 s); an
    artificially stalled loop (the process stopped) sends none; systemd then kills it
    (SIGABRT is pending in a stopped process, so the kill that follows TimeoutAbortSec= is
    what ends it) and restarts it; the F1 invariants hold: the lease is restored, its device
    is not given to anyone else, and the restarted daemon pings again."""
    pings = []
    handle = sd.handle

    def record(msg, anc):
        if "WATCHDOG=1" in msg.decode(errors="replace").split("\n"):
            pings.append(time.monotonic())
        handle(msg, anc)
    sd.handle = record
    os.environ["WATCHDOG_USEC"] = "1000000"
    owner = None
    try:
        sd.kill9()
        check(sd.start(), "F6: started with WATCHDOG_USEC")
        owner = subprocess.Popen([sys.executable, "-c", """
import socket, sys, time, json
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(json.dumps({"method": "io.ioasid.Broker.Acquire", "parameters": {"devices": ["0000:00:03.0"], "lifetime": "process"}}).encode() + b"\\0")
m = s.recvmsg(65536, 4096)
print(json.loads(m[0][:-1])["parameters"]["lease"], flush=True)
time.sleep(60)
""", sd.sock_path], stdout=subprocess.PIPE, text=True)
        lid = owner.stdout.readline().strip()
        t0 = time.monotonic()
        time.sleep(3)
        seen = [t0] + [t for t in pings if t >= t0] + [time.monotonic()]
        gap = max(b - a for a, b in zip(seen, seen[1:]))
        check(gap < 1.0, "F6: pinged within WatchdogSec=1s all along (longest gap %.2f s, %d pings)"
              % (gap, len(seen) - 2))
        os.kill(sd.proc.pid, signal.SIGSTOP)
        t1 = time.monotonic()
        time.sleep(1.5)
        n = len([t for t in pings if t >= t1 + 0.1])
        check(n == 0, "F6: no ping while the loop is stalled (%d)" % n)
        os.kill(sd.proc.pid, signal.SIGABRT)
        sd.kill9()
        check(sd.start(), "F6: restarted after the watchdog kill")
        c = Client(sd.sock_path)
        check(list(leases(c)) == [lid], "F6: the lease survives the watchdog restart")
        r, _ = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0"]})
        check(r.get("error") == "io.ioasid.Broker.DeviceBusy", "F6: its device is not given again")
        t2 = time.monotonic()
        time.sleep(1.2)
        check(len([t for t in pings if t >= t2]) >= 1, "F6: the restarted daemon pings")
        c.close()
    finally:
        del os.environ["WATCHDOG_USEC"]
        sd.handle = handle
        if owner:
            owner.kill()
            owner.wait()


def cat_F7_sigterm_restart(sd):
    """F7, a clean restart (`systemctl restart`: SIGTERM, then a new instance with the fdstore
    systemd kept) with a connection-lifetime lease held: the lease is not ended at the stop,
    its fds and its connection stay in the store, the next instance restores it (same id,
    active) and adopts the connection, the device is not granted to another request, and
    closing the connection ends the lease (found by the systemd guest, SY5)."""
    sock = sd.sock_path
    held = Client(sock)
    r, fds = held.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0"]})
    lease = r.get("parameters", {}).get("lease")
    check(lease is not None and len(fds) == 2, "F7: a connection-lifetime lease (%s)" % str(r)[:120])
    sd.pump(0.3)
    sd.term()
    check(any(n.startswith("L%s" % lease) for n in sd.names()) and any(n.startswith("C") for n in sd.names()),
          "F7: after SIGTERM its fds and connection are still in the fdstore (%s)" % sd.names())
    check(sd.start(), "F7: daemon restarts after SIGTERM")
    c = Client(sock)
    ls = leases(c)
    check(ls.get(lease, {}).get("state") == "active", "F7: the lease is restored active (%s)" % list(ls))
    r2, f2 = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0"]})
    for x in f2:
        os.close(x)
    check("error" in r2, "F7: its device is not granted again (%s)" % r2.get("error"))
    r3, _ = held.call("org.varlink.service.GetInfo")
    check(r3.get("parameters", {}).get("product") == "ioasidd", "F7: the held connection is adopted")
    held.close()
    for x in fds:
        os.close(x)
    time.sleep(0.3)
    check(lease not in leases(c), "F7: closing the connection ends the lease")
    c.close()


def sim_file(name):
    """A file as an earlier sim handed it out: a writable open of a memfd named name (whose
    last close the next sim can see; the memfd_create() description reports none)."""
    m = os.memfd_create(name)
    fd = os.open("/proc/self/fd/%d" % m, os.O_RDWR | os.O_CLOEXEC)
    os.close(m)
    return fd


def vdpa_restart(tmp):
    """F8: a vhost-vdpa lease across a restart (tests/hosts/vdpa-guest.json): its entry holds
    its record (naming the vDPA device, its parent and group) and its char device; after
    kill -9 it is restored (listed with vdpa0 and group 2, vdpa0 busy, the parent's group
    refused to VFIO), released through the adopted connection, its entries removed, vdpa0
    free again. Then stored records whose fd is some other file (an iommufd of the sim,
    another vDPA device's file) or whose device changed are refused, logged, nothing kept;
    a record with the right file is restored."""
    d = os.path.join(tmp, "vdpa")
    os.mkdir(d)
    conf = os.path.join(d, "ioasid.conf")
    with open(conf, "w") as f:
        f.write("admin user 0\nallow uid 0 to vdpa \"vdpa*\"\n"
                "allow uid 0 to any mode attached\n")
    os.chmod(conf, 0o644)
    sd = FakeSystemd(d, conf, host=os.path.join(REPO, "tests", "hosts", "vdpa-guest.json"))
    held = None
    try:
        check(sd.start(), "F8: daemon READY on the vDPA host")
        held = Client(sd.sock_path)
        r, fds = held.call("io.ioasid.Broker.Acquire", {"vdpa": "vdpa0"})
        for x in fds:  # the holder's copy is not the next daemon's (close_fds=False)
            os.set_inheritable(x, False)
        lid = r.get("parameters", {}).get("lease")
        check(lid and len(fds) == 1, "F8: vdpa0 leased (%s)" % r.get("error"))
        sd.pump(0.3)
        names = sd.names()
        check(sorted(kinds(sd, "L" + lid)) == ["/memfd:ioasid-sim:vhost-vdpa:vdpa0 (deleted)",
                                               "pidfd", "record"] and
              any(n.startswith("C") for n in names),
              "F8: its record, char device and pidfd, and its connection, are stored (%s, %s)"
              % (names, kinds(sd, "L" + lid)))
        with sd.lock:
            st = [fd for n, fd in sd.store if n == "L" + lid and fd_kind(fd) == "record"]
        rec = [json.loads(os.pread(st[0], 1 << 20, 0))] if st else []
        check([x.get("vdpa") for x in rec] == [{"name": "vdpa0", "parent": "0000:00:02.0",
                                                "group": 2}] and
              rec[0].get("mode") == "vhost-vdpa" and rec[0].get("devices") == [],
              "F8: the record names the vDPA device, parent and group (%s)" % rec)
        sd.kill9()
        check(sd.start(), "F8: restarted with the stored fds")
        c = Client(sd.sock_path)
        ls = leases(c)
        check(ls.get(lid, {}).get("vdpa") == "vdpa0" and ls.get(lid, {}).get("groups") == [2]
              and ls.get(lid, {}).get("mode") == "vhost-vdpa",
              "F8: restored with vdpa0 and group 2 (%s)" % ls)
        r, f = c.call("io.ioasid.Broker.Acquire", {"vdpa": "vdpa0"})
        check(r.get("error") == "io.ioasid.Broker.DeviceBusy" and not f,
              "F8: vdpa0 still busy after the restart (%s)" % r.get("error"))
        r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:02.0"],
                                                   "mode": "attached"})
        check(r.get("error") == "io.ioasid.Broker.FrameworkConflict" and not f,
              "F8: its parent's group still refused to VFIO (%s)" % r.get("error"))
        r, _ = held.call("io.ioasid.Broker.Release", {"lease": lid})
        check("error" not in r, "F8: released through the adopted connection (%s)" % r)
        for x in fds:
            os.close(x)
        sd.pump(0.3)
        check(lid not in leases(c) and not any(n.startswith("L") for n in sd.names()),
              "F8: the lease and its entries are gone (%s)" % sd.names())
        r, f = c.call("io.ioasid.Broker.Acquire", {"vdpa": "vdpa0"})
        check(len(f) == 1, "F8: vdpa0 can be leased again (%s)" % r.get("error"))
        for x in f:
            os.close(x)
        c.close()
        held.close()
        held = None

        lid = "00112233445566778899aabbccddeeff"
        base = {"format": "ioasidd-lease", "version": 1,
                "id": lid, "uid": 0, "pid": 1, "unit": None, "mode": "vhost-vdpa",
                "layout": None, "lifetime": "process", "ioas": 0, "generation": 1,
                "created": 1, "rule": None, "connection": None, "pidfd": True, "devices": [],
                "vdpa": {"name": "vdpa0", "parent": "0000:00:02.0", "group": 2}, "atRisk": []}
        cases = [
            ("an iommufd as its char device", base, "ioasid-sim:iommufd:7",
             "the vhost-vdpa file of vdpa0 is not in the store", False),
            ("another vDPA device's file", base, "ioasid-sim:vhost-vdpa:vdpa-sim0",
             "the vhost-vdpa file of vdpa0 is not in the store", False),
            ("another group", dict(base, vdpa=dict(base["vdpa"], group=5)),
             "ioasid-sim:vhost-vdpa:vdpa0", "its parent or group changed", False),
            ("a VFIO mode", dict(base, mode="attached"), "ioasid-sim:vhost-vdpa:vdpa0",
             "bad mode", False),
            ("the right file", base, "ioasid-sim:vhost-vdpa:vdpa0",
             "restored (vhost-vdpa vdpa0, process lifetime)", True),
        ]
        for what, rec, fname, logged, restored in cases:
            sd.kill9()
            owner = subprocess.Popen(["sleep", "30"])
            state = json.dumps(dict(rec, pid=owner.pid)).encode()
            sfd = os.memfd_create("ioasidd-lease", os.MFD_ALLOW_SEALING)
            os.write(sfd, state)
            fcntl.fcntl(sfd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW |
                        fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL)
            with sd.lock:
                for n, fd in sd.store:
                    os.close(fd)
                sd.store = [["L" + lid, sfd], ["L" + lid, sim_file(fname)],
                            ["L" + lid, os.pidfd_open(owner.pid)]]
            logsize = os.path.getsize(os.path.join(d, "log"))
            check(sd.start(), "F8 %s: the daemon starts" % what)
            sd.pump(0.3)
            with open(os.path.join(d, "log")) as lf:
                lf.seek(logsize)
                text = lf.read()
            check(logged in text, "F8 %s: logged ('%s')" % (what, logged))
            c = Client(sd.sock_path)
            got = leases(c)
            if restored:
                check(list(got) == [lid] and got[lid].get("vdpa") == "vdpa0",
                      "F8 %s: restored (%s)" % (what, got))
                r, _ = c.call("io.ioasid.Manager.Revoke", {"lease": lid})
                check(r.get("parameters", {}).get("state") == "revoked-reset",
                      "F8 %s: a restored lease's Revoke resets the device (%s)" % (what, r))
            else:
                check(got == {}, "F8 %s: nothing restored (%s)" % (what, got))
                check(sd.names() == [], "F8 %s: entries removed (%s)" % (what,
                                                                                 sd.names()))
                held_fds = [t for t in daemon_fds(sd.proc.pid) if fname in t]
                check(held_fds == [], "F8 %s: the daemon holds no stored fd (%s)" %
                      (what, held_fds))
            c.close()
            owner.kill()
            owner.wait()
    finally:
        if held:
            held.close()
        if sd.proc and sd.proc.poll() is None:
            sd.proc.send_signal(signal.SIGTERM)
            sd.proc.wait(5)
        sd.stop = True


def run_catalogue(sd):
    # F4's "released and logged": main() dropped the lease of an owner that died while the
    # daemon was down; the daemon said why.
    with open(os.path.join(sd.tmp, "log")) as lf:
        check("dropped: its owner process exited while the daemon was down" in lf.read(),
              "F4: the dropped lease is logged with its reason")
    cat_F1_mid_request(sd)
    cat_F2_variants(sd)
    cat_F6_watchdog(sd)
    cat_F7_sigterm_restart(sd)


if __name__ == "__main__":
    sys.exit(main())
