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
import errno as errno_mod
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
B = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("B", "build")
IOASIDD = os.path.join(REPO, B, "ioasidd") if not os.path.isabs(B) else os.path.join(B, "ioasidd")
HOST = os.path.join(REPO, "tests", "hosts", "sample.json")
BUILD = os.path.dirname(IOASIDD)
# LD_PRELOAD shim: SO_PASSRIGHTS / SO_PEERPIDFD fail as on older kernels (tests/tools).
SOCKOPT_FAULT = os.path.join(BUILD, "sockopt-fault")
SO_PASSRIGHTS = 83

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def wait_serving(logpath, proc, tries=400):
    """Waits until a daemon started on its own logged "Serving on" (it listens, and its socket
    has its final mode: a connect or a chmod made as soon as the socket file exists races
    its listen() and its own chmod). False when it exited first or took over 20 s."""
    for _ in range(tries):
        try:
            with open(logpath, errors="replace") as f:
                if "Serving on" in f.read():
                    return True
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def acquire_as(uid, sock, params):
    """Acquire (params) as uid and its own gid, in a child process; the reply, or
    {"exception": text} when the child could not ask. The fds received are closed."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            c = Client(sock)
            m, fds = c.call("io.ioasid.Broker.Acquire", params)
            for fd in fds:
                os.close(fd)
            os.write(w, json.dumps(m).encode())
        except Exception as e:  # reported by the parent
            os.write(w, json.dumps({"exception": str(e)}).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        d = os.read(r, 65536)
        if not d:
            break
        data += d
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data or b"{}")


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
            msg, anc, _, _ = self.s.recvmsg(65536, socket.CMSG_SPACE(253 * 4))
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


# MESSAGE_IDs of the audit records: an interface (journalctl MESSAGE_ID=...), spelled out here
# rather than read from the code.
MID = {
    "allow": "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a01",
    "deny": "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a02",
    "release": "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a03",
    "reload": "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a04",
    "suppressed": "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a06",
    "revoke": "5d3c1a9e4b7f4e0c8a2d6f1b3e9c7a07",
}


class AuditLog:
    """The audit records of one test step (I5: exactly one per decision, with the expected
    MESSAGE_ID). Without a journal the daemon writes each as one line on stderr:
        ioasidd: audit: message_id=ID action=A method=M cause="C" uid=U ... reason="R"
    mark() starts a step; expect() asserts that the step wrote exactly one record per spec
    (a dict of fields that must all be equal; in any order) and no other."""

    PREFIX = "ioasidd: audit: "
    FIELD = re.compile(r'([a-z_]+)=(?:"([^"]*)"|(\S*))')

    def __init__(self, path):
        self.path = path
        self.pos = 0

    def mark(self):
        self.pos = os.path.getsize(self.path)

    def records(self):
        with open(self.path, errors="replace") as f:
            f.seek(self.pos)
            text = f.read()
        recs = []
        for line in text.splitlines():
            if not line.startswith(self.PREFIX):
                continue
            rec = {}
            for m in self.FIELD.finditer(line[len(self.PREFIX):]):
                rec.setdefault(m.group(1), m.group(2) if m.group(2) is not None else m.group(3))
            recs.append(rec)
        return recs

    def expect(self, what, *specs):
        for _ in range(40):  # records of a step may still be on their way (an exit, a signal)
            if len(self.records()) >= len(specs):
                break
            time.sleep(0.05)
        time.sleep(0.1)
        recs = self.records()
        check(len(recs) == len(specs),
              "%s: %d audit record(s), expected %d: %s" % (what, len(recs), len(specs), recs))
        left = list(recs)
        for spec in specs:
            spec = {k: str(v) for k, v in spec.items()}
            rec = next((r for r in left if all(r.get(k) == v for k, v in spec.items())), None)
            check(rec is not None, "%s: no audit record with %s among %s" % (what, spec, recs))
            if rec is not None:
                left.remove(rec)


AUDIT = None  # the daemon's AuditLog (set by main)


def wait_stopped(pid):
    """SIGSTOP is delivered asynchronously: wait until the process really is stopped."""
    for _ in range(200):
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] in ("T", "t"):
                return
        time.sleep(0.005)


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
                "allow unit x.service to bdf 0000:00:04.0 group implicit\n"
                "deny *\n")
    os.chmod(conf, 0o644)
    sock = os.path.join(tmp, "s.sock")
    log = open(os.path.join(tmp, "log"), "w")
    global AUDIT
    AUDIT = AuditLog(os.path.join(tmp, "log"))
    # VALGRIND=1: run the daemon under valgrind (memory errors, leaks, fds left open at exit).
    pre = []
    if os.environ.get("VALGRIND"):
        pre = ["valgrind", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
               "--track-fds=yes", "-q", "--log-file=" + os.path.join(tmp, "valgrind")]
    d = subprocess.Popen(pre + [IOASIDD, "--kernel=sim", "--host", HOST, "--config", conf,
                          "--socket", sock], stderr=log)
    try:
        wait_serving(os.path.join(tmp, "log"), d, tries=1200 if pre else 400)
        run(d, sock)
        run_catalogue(d, sock)
        run_own_daemons(tmp)
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


class Daemon:
    """A daemon of its own: its config, host, environment (e.g. an LD_PRELOAD shim)."""

    def __init__(self, tmp, name, conf, host=HOST, env=None, wrap=None):
        self.dir = os.path.join(tmp, name)
        os.mkdir(self.dir)
        self.conf = os.path.join(self.dir, "ioasid.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        os.chmod(self.conf, 0o644)
        self.sock = os.path.join(self.dir, "s.sock")
        self.log_path = os.path.join(self.dir, "log")
        self.log_file = open(self.log_path, "w")
        env = dict(env or {})
        if "LD_PRELOAD" in env:
            # Under ASan its runtime must come first; it tolerates the shim with this option.
            asan = os.environ.get("ASAN_OPTIONS")
            env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "verify_asan_link_order=0"
        self.proc = subprocess.Popen((wrap or []) + [
            IOASIDD, "--kernel=sim", "--host", host, "--config", self.conf, "--socket", self.sock],
            stderr=self.log_file, env=dict(os.environ, **env))
        self.pid = self.proc.pid
        self.ready = False
        for _ in range(200):
            if "Serving on" in self.log() or self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.ready = "Serving on" in self.log()
        check(self.ready, "%s: daemon started (%s)" % (name, self.log()[-300:]))

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, timeout=5):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log_file.close()
        if failed:
            print("--- log of %s ---\n%s" % (self.dir, self.log()[-3000:]), file=sys.stderr)
        return rc


def lingering_tcp():
    """A TCP socket whose last close blocks for 30 s: SO_LINGER {1, 30} with unsent data to a
    loopback peer that does not read. Returns the socket and what must stay open meanwhile
    (closing the peer resets the connection and ends the wait)."""
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    t.connect(lst.getsockname())
    peer, _ = lst.accept()
    t.setblocking(False)
    try:
        while True:
            t.send(b"x" * 65536)
    except BlockingIOError:
        pass
    t.setblocking(True)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 30))
    return t, [peer, lst]


def pipe_closed_within(r, seconds):
    """True when the other end of pipe or socket r hangs up (all write ends of a pipe
    closed, a stream socket's peer closed) within seconds. Reads nothing."""
    p = select.poll()
    p.register(r, select.POLLHUP)  # not POLLIN: data waiting is no hangup
    for fd, ev in p.poll(seconds * 1000):
        if ev & select.POLLHUP:
            return True
    return False


def timed_call(c, what):
    """A GetInfo on c answered within 100 ms (the loop is not blocked)."""
    t0 = time.time()
    c.s.settimeout(1)
    try:
        r, _ = c.call("org.varlink.service.GetInfo")
        ok = "parameters" in r
    except (socket.timeout, EOFError, OSError):
        ok = False
    took = time.time() - t0
    check(ok and took < 0.1, "%s: another client answered in %.3fs (< 0.1s)" % (what, took))


def check_linger_stall(tmp, shim):
    """Section 4 of issue 11: fds queued on a connection, among them a TCP socket whose last
    close blocks; the daemon drops the connection; another client's call must still be
    answered within 100 ms. With SO_PASSRIGHTS cleared on the listener the sender gets EPERM
    even before accept; without it (shim: a pre-6.16 kernel) the fds sit on the connection
    and its last close, which frees them, must not run on the event loop."""
    what = "linger (%s)" % ("no SO_PASSRIGHTS" if shim else "SO_PASSRIGHTS")
    env = {"LD_PRELOAD": SOCKOPT_FAULT, "SOCKOPT_FAULT_PASSRIGHTS": "ENOPROTOOPT"} if shim else {}
    dm = Daemon(tmp, "linger-%d" % shim, "idle-timeout 60\nmax-connections-per-uid 2\n"
                "admin user 0\nallow uid 0-0 to any\n", env=env)
    if not dm.ready:
        dm.stop()
        return
    if shim:
        check("SO_PASSRIGHTS unsupported" in dm.log(), "%s: the daemon runs without SO_PASSRIGHTS" % what)
    good, other = Client(dm.sock), Client(dm.sock)
    for x in (good, other):
        r, _ = x.call("org.varlink.service.GetInfo")
        check("parameters" in r, "%s: client served" % what)
    keep = []

    # 1. Sent before accept, dropped at accept (over the per-uid cap of 2).
    t, k = lingering_tcp()
    keep += k
    pr, pw = os.pipe()
    os.kill(dm.pid, signal.SIGSTOP)
    try:
        attacker = Client(dm.sock)  # in the backlog: not accepted while the daemon is stopped
        try:
            attacker.send_raw(b"{\"method\":\"org.varlink.service.GetInfo\"}\0", [pw, t.fileno()])
            refused = False
        except PermissionError:
            refused = True
        os.close(pw)
        t.close()  # returns at once: the queued message holds the socket's last reference
    finally:
        os.kill(dm.pid, signal.SIGCONT)
    if shim:
        check(not refused, "%s: fds queued before accept (no SO_PASSRIGHTS)" % what)
    else:
        check(refused, "%s: fds sent before accept are refused at the sender (EPERM)" % what)
    attacker.s.settimeout(2)
    check(attacker.closed(), "%s: the connection over the per-uid cap is dropped" % what)
    timed_call(good, what + ", dropped at accept")
    if shim:
        check(pipe_closed_within(pr, 2), "%s: the fds queued before accept are freed" % what)
    os.close(pr)
    attacker.close()
    for x in keep:
        x.close()  # the peer resets: a close stuck on the lingering socket returns
    keep = []

    # 2. Sent while the daemon does not read the connection (its replies are not drained),
    # dropped at the send deadline with the fds still queued.
    if shim:
        other.s.setblocking(False)
        other.send_raw(b"{\"method\":\"io.ioasid.Broker.ListDevices\"}\0" * 300)
        time.sleep(0.5)  # the daemon reads until its queue for this client is full
        t, k = lingering_tcp()
        keep += k
        pr, pw = os.pipe()
        other.s.setblocking(True)
        other.send_raw(b"{\"method\":\"org.varlink.service.GetInfo\"}\0", [pw, t.fileno()])
        os.close(pw)
        t.close()
        # Wait for the hangup without reading (reading would let the daemon read on).
        check(pipe_closed_within(other.s.fileno(), 14),
              "%s: a client that does not read is dropped at the send deadline" % what)
        timed_call(good, what + ", dropped with fds unread")
        check(pipe_closed_within(pr, 2), "%s: the fds left unread are freed" % what)
        os.close(pr)
    for x in keep:
        x.close()  # the peer resets: a close stuck on the lingering socket returns
    other.close()
    good.close()
    check(dm.stop() == 0, "%s: daemon exits 0" % what)


def check_fds_closed_by_daemon(tmp):
    """Section 7 of issue 11: where the kernel delivers fds a client sends (no SO_PASSRIGHTS),
    the daemon's own code must close them. The client sends the write end of a pipe and keeps
    the read end: EOF shows the daemon closed its copy; its fd count is back at the baseline."""
    what = "client fds (no SO_PASSRIGHTS)"
    count = os.path.join(tmp, "passrights.count")
    dm = Daemon(tmp, "fds-closed", "admin user 0\nallow uid 0-0 to any\n",
                env={"LD_PRELOAD": SOCKOPT_FAULT, "SOCKOPT_FAULT_PASSRIGHTS": "ENOPROTOOPT",
                     "SOCKOPT_FAULT_COUNT": count})
    if not dm.ready:
        dm.stop()
        return
    check(serves(dm.sock), "%s: serves" % what)  # sd-event's timerfds exist from now on
    time.sleep(0.1)
    base = fd_count(dm.pid)
    for n in (1, 3, 253):
        pipes = [os.pipe() for _ in range(n)]
        c = Client(dm.sock)
        r, _ = c.call("org.varlink.service.GetInfo")  # accepted before the fds are sent
        try:
            c.send_raw(b"{\"method\":\"org.varlink.service.GetInfo\"}\0", [w for _, w in pipes])
            sent = True
        except OSError:
            sent = False
        check(sent, "%s: %d fds sent (the kernel delivers them)" % (what, n))
        for _, w in pipes:
            os.close(w)
        check(c.closed(), "%s: %d fds close the connection" % (what, n))
        closed = sum(pipe_closed_within(rd, 2) for rd, _ in pipes)
        check(closed == n, "%s: the daemon closed all %d fds it received (%d)" % (what, n, closed))
        for rd, _ in pipes:
            os.close(rd)
        c.close()
        settle(dm.pid, base, "%s: %d fds" % (what, n))
    check(os.path.exists(count), "%s: the shim refused SO_PASSRIGHTS" % what)
    check(dm.stop() == 0, "%s: daemon exits 0" % what)


def acquire_dropped(sock, bdf):
    """Connects and asks for bdf; True when the daemon closed without any reply or fd."""
    c = Client(sock)
    got = []
    try:
        c.send("io.ioasid.Broker.Acquire", {"devices": [bdf]})
        while True:
            r, f = c.read()
            got.append(r)
            for x in f:
                os.close(x)
                got.append("fd")
    except (EOFError, ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        got.append("timeout")
    c.close()
    return got == []


PIDFD_POLICY = ("admin user 0\n"
                "allow cgroup * to bdf 0000:00:03.0\n"
                "allow uid 0-0 to bdf 0000:00:04.0\n")


def check_peer_gone(tmp, err):
    """A7: the peer dies between accept and SO_PEERPIDFD (ESRCH/EINVAL, injected by the shim
    while a switch file exists): the connection is dropped, with no fallback to identifying
    the peer by uid and pid alone (the uid rule for 04.0 would grant it). EMFILE/ENFILE there
    (out of fds): dropped too, and the listener pauses as when accept() says so."""
    what = "A7 SO_PEERPIDFD %s" % err
    switch = os.path.join(tmp, "a7-%s.on" % err)
    count = os.path.join(tmp, "a7-%s.count" % err)
    dm = Daemon(tmp, "a7-" + err, PIDFD_POLICY,
                env={"LD_PRELOAD": SOCKOPT_FAULT, "SOCKOPT_FAULT_PEERPIDFD": err,
                     "SOCKOPT_FAULT_WHILE": switch, "SOCKOPT_FAULT_COUNT": count})
    if not dm.ready:
        dm.stop()
        return
    check("SO_PEERPIDFD unsupported" not in dm.log(), "%s: the start-up probe sees SO_PEERPIDFD" % what)
    c = Client(dm.sock)
    r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0"]})
    check("parameters" in r and len(f) == 2, "%s: with a pidfd the cgroup rule grants (%s)" % (what, r))
    for x in f:
        os.close(x)
    c.close()
    time.sleep(0.2)
    base = fd_count(dm.pid)
    open(switch, "w").close()
    for bdf in ("0000:00:04.0", "0000:00:03.0"):
        check(acquire_dropped(dm.sock, bdf), "%s: connection dropped, nothing sent for %s" % (what, bdf))
    os.unlink(switch)
    check(os.path.exists(count), "%s: the shim failed SO_PEERPIDFD" % what)
    check(dm.log().count("cannot establish the peer's identity") == 2,
          "%s: each drop logged" % what)
    # Out of fds while taking the identity pauses the listener (as at accept); a peer that
    # is gone does not.
    out_of_fds = err in ("EMFILE", "ENFILE")
    check(("pausing the listener" in dm.log()) == out_of_fds,
          "%s: the listener paused %s" % (what, "(out of fds)" if out_of_fds else "not"))
    c = Client(dm.sock)
    r, _ = c.call("io.ioasid.Broker.ListLeases")
    check(r["parameters"]["leases"] == [], "%s: no lease recorded" % what)
    r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:04.0"]})
    check("parameters" in r and len(f) == 2, "%s: the device is still free" % what)
    for x in f:
        os.close(x)
    c.close()
    settle(dm.pid, base, what)
    check(dm.stop() == 0, "%s: daemon exits 0" % what)


def check_accept_errors(tmp):
    """D6, each errno accept4() may return, one injected failure each (the shim leaves the
    connection queued): the connection is served in the end, and the daemon reacts as its
    class says. EINTR/ECONNABORTED/EPROTO: retried at once, nothing logged. Out of fds or
    memory (EMFILE/ENFILE/ENOBUFS/ENOMEM): the listener pauses, said in the log. Anything else
    (EPERM, e.g. from an LSM): logged as a failure, no pause."""
    arm = os.path.join(tmp, "accept-fault")
    for err in ("EINTR", "ECONNABORTED", "EPROTO", "EMFILE", "ENFILE", "ENOBUFS", "ENOMEM", "EPERM"):
        what = "accept4 %s" % err
        dm = Daemon(tmp, "accept-" + err, "admin user 0\n",
                    env={"LD_PRELOAD": SOCKOPT_FAULT, "SOCKOPT_FAULT_ACCEPT": arm})
        if not dm.ready:
            dm.stop()
            continue
        with open(arm, "w") as f:
            f.write(err)
        check(serves(dm.sock), "%s: the connection is served" % what)
        check(not os.path.exists(arm), "%s: the shim failed accept4" % what)
        log = dm.log()
        paused = "Cannot accept connections: %s; pausing the listener" % os.strerror(
            getattr(errno_mod, err)) in log
        failed_logged = "accept4() failed" in log
        if err in ("EINTR", "ECONNABORTED", "EPROTO"):
            check(not paused and not failed_logged, "%s: retried, nothing logged (%s)" % (what, log[-300:]))
        elif err == "EPERM":
            check(failed_logged and "pausing the listener" not in log,
                  "%s: logged, no pause (%s)" % (what, log[-300:]))
        else:
            check(paused and not failed_logged, "%s: the listener paused (%s)" % (what, log[-300:]))
        check(serves(dm.sock), "%s: serves again" % what)
        check("Cannot set up a connection" not in dm.log(), "%s: connections set up" % what)
        check(dm.stop() == 0, "%s: daemon exits 0" % what)


def check_accept_batch(tmp):
    """Fairness at accept: one wake-up of the listener accepts at most 64 connections, then
    the clients already connected are served. A client's request sent while the daemon was
    stopped, after 100 connections were queued, is answered by a Status that counts at most
    itself and 64 of them. Which of the two ready sources the daemon takes first when it
    resumes is sd-event's choice: when it takes the request first, Status counts 1 and the
    round says nothing about the batch, so it is repeated (up to 20 rounds) until one round
    took the listener first."""
    what = "accept batch"
    dm = Daemon(tmp, "accept-batch", "max-connections-per-uid 1024\nadmin user 0\n",
                env={"IOASIDD_LOG_LEVEL": "debug"})
    if not dm.ready:
        dm.stop()
        return
    c0 = Client(dm.sock)
    seen = []
    for _ in range(20):
        n = None
        for _ in range(100):
            r, _ = c0.call("io.ioasid.Manager.Status")
            n = r.get("parameters", {}).get("connections")
            if n == 1:
                break
            time.sleep(0.05)
        check(n == 1, "%s: alone before the round (%s)" % (what, n))
        queued = []
        os.kill(dm.pid, signal.SIGSTOP)
        wait_stopped(dm.pid)
        try:
            for _ in range(100):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(dm.sock)
                queued.append(s)
            c0.send("io.ioasid.Manager.Status")
        finally:
            os.kill(dm.pid, signal.SIGCONT)
        r, _ = c0.read()
        n = r.get("parameters", {}).get("connections")
        seen.append(n)
        for s in queued:
            s.close()
        if n != 1:
            break
    check(all(n is not None and n <= 65 for n in seen),
          "%s: answered after at most 64 accepts (connections seen: %s)" % (what, seen))
    # Which source ran first is sd-event's choice; the batch itself is not: the debug log
    # says how many connections each full batch took.
    batches = [int(x) for x in re.findall(r"Accepted (\d+) connections in one wake-up", dm.log())]
    check(batches and all(b == 64 for b in batches),
          "%s: every full batch took exactly 64 connections (%s)" % (what, batches))
    if seen[-1] == 1:
        print("NOTE: %s: the daemon served the request first in every round: the batch bound "
              "was not exercised" % what)
    c0.close()
    check(serves(dm.sock), "%s: serves" % what)
    check(dm.stop() == 0, "%s: daemon exits 0" % what)


def check_connection_limit(tmp):
    """The daemon-wide cap of IOASID_MAX_CONNECTIONS (1024), apart from the per-uid one: with
    1024 connections open (root's, its per-uid cap raised to 1024), a connection of another
    uid is dropped; one closed, it is served."""
    what = "connection cap"
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        print("SKIPPED: %s: RLIMIT_NOFILE hard limit %d below 2048" % (what, hard))
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096) if hard == resource.RLIM_INFINITY
                                                else min(max(soft, 4096), hard), hard))
    dm = Daemon(tmp, "conn-cap", "max-connections-per-uid 1024\nadmin user 0\n")
    conns = []
    try:
        if not dm.ready:
            return
        for path in (tmp, dm.dir):
            os.chmod(path, 0o755)
        os.chmod(dm.sock, 0o666)
        c0 = Client(dm.sock)
        conns.append(c0)
        for _ in range(1023):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(dm.sock)
            conns.append(s)
        n = None
        for _ in range(100):
            r, _ = c0.call("io.ioasid.Manager.Status")
            n = r.get("parameters", {}).get("connections")
            if n == 1024:
                break
            time.sleep(0.05)
        check(n == 1024, "%s: 1024 connections (%s)" % (what, n))

        def other_uid_served():
            out = subprocess.run([sys.executable, "-c", """
import json, os, socket, sys
os.setgid(65000); os.setuid(65000)
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
try:
    s.sendall(json.dumps({"method": "org.varlink.service.GetInfo"}).encode() + b"\\0")
    d = s.recv(65536)
except (ConnectionResetError, BrokenPipeError):
    d = b""  # dropped with our request unread
print("served" if d else "dropped")
""", dm.sock], capture_output=True, text=True, timeout=20)
            return out.stdout.strip()

        check(other_uid_served() == "dropped", "%s: the 1025th connection (uid 65000) is dropped" % what)
        conns.pop().close()
        for _ in range(100):
            r, _ = c0.call("io.ioasid.Manager.Status")
            if r.get("parameters", {}).get("connections") == 1023:
                break
            time.sleep(0.05)
        check(other_uid_served() == "served", "%s: below the cap again, uid 65000 is served" % what)
    finally:
        for x in conns:
            x.close()
        check(dm.stop() == 0, "%s: daemon exits 0" % what)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def check_closed_stdio(tmp):
    """Started with fds 0, 1 and 2 closed, the daemon opens them on /dev/null first: no socket
    of its own, and no client connection, takes a number the log is written to."""
    what = "closed stdio"
    d = os.path.join(tmp, "stdio")
    os.mkdir(d)
    conf = os.path.join(d, "ioasid.conf")
    with open(conf, "w") as f:
        f.write("admin user 0\nallow uid 0-0 to any\n")
    os.chmod(conf, 0o644)
    sock = os.path.join(d, "s.sock")

    def close_stdio():
        for fd in (0, 1, 2):
            os.close(fd)

    proc = subprocess.Popen([IOASIDD, "--kernel=sim", "--host", HOST, "--config", conf,
                             "--socket", sock], preexec_fn=close_stdio)
    try:
        # Its log goes to /dev/null, so "Serving on" cannot be waited for: wait until a
        # connect succeeds (the socket file exists from bind(), before listen()).
        c = None
        for _ in range(200):
            if proc.poll() is not None:
                break
            try:
                c = Client(sock)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.05)
        check(c is not None, "%s: daemon started" % what)
        if c is None:
            return
        r, _ = c.call("org.varlink.service.GetInfo")
        check(r.get("parameters", {}).get("product") == "ioasidd", "%s: served (%s)" % (what, r))
        r, _ = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:09.0"]})
        check(r.get("error") is not None, "%s: a refusal is a clean reply (%s)" % (what, r))
        targets = [os.readlink("/proc/%d/fd/%d" % (proc.pid, fd)) for fd in (0, 1, 2)]
        check(targets == ["/dev/null"] * 3, "%s: fds 0-2 on /dev/null (%s)" % (what, targets))
        c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        check(rc == 0, "%s: daemon exits 0 (rc %s)" % (what, rc))


def legacy_host(path, n, shared_last=False):
    """gen_host()'s host on a legacy kernel (VFIO groups and containers, no iommufd, no
    cdevs); with shared_last, the last two devices share one IOMMU group."""
    bdfs = gen_host(path, n)
    with open(path) as f:
        h = json.load(f)
    h["kernel"].update({"release": "5.10.0", "iommufd": False, "vfio_cdev": False, "vfio_legacy": True})
    for d in h["devices"]:
        d["vfio"] = None
    if shared_last:
        last = h["groups"].pop()
        h["groups"][-1]["devices"] += last["devices"]
        h["devices"][-1]["iommu_group"] = h["groups"][-1]["group"]
    with open(path, "w") as f:
        json.dump(h, f)
    return bdfs


def check_fd_limit(tmp):
    """The fd reply limit at its boundary (IOASID_MAX_FDS_PER_REPLY, 128). An Acquire names
    at most 64 devices, so only the legacy path, which sends a group fd per group besides the
    container and one fd per device, can reach it: 64 devices in 63 groups make 128 fds and
    are granted, 64 devices in 64 groups make 129 and are refused with LimitExceeded."""
    what = "fd limit"
    for shared, want in ((True, 128), (False, None)):
        host = os.path.join(tmp, "fd-limit-%d.json" % shared)
        bdfs = legacy_host(host, 64, shared_last=shared)
        dm = Daemon(tmp, "fd-limit-%d" % shared, "admin user 0\nallow uid 0-0 to any\n", host=host)
        if not dm.ready:
            dm.stop()
            continue
        c = Client(dm.sock)
        c.s.settimeout(20)
        r, fds = c.call("io.ioasid.Broker.Acquire", {"devices": bdfs})
        if want:
            check("lease" in r.get("parameters", {}) and len(fds) == want,
                  "%s: 64 devices in 63 groups granted with 128 fds (%s, %d fds)" %
                  (what, r.get("error") or r.get("parameters", {}).get("reason"), len(fds)))
        else:
            check(r.get("error") == "io.ioasid.Broker.LimitExceeded" and not fds and
                  r.get("parameters", {}).get("limit") == "fds" and r["parameters"].get("max") == 128,
                  "%s: 64 devices in 64 groups (129 fds) refused, limit fds max 128 (%s)" % (what, r))
        for fd in fds:
            os.close(fd)
        c.close()
        dm.stop()


def check_read_pauses(tmp):
    """Reading a connection pauses while one reply with fds is unsent, or 16 replies are
    queued: the requests behind wait, unread, until the client reads. A client that does not
    read its replies (the first, a ListDevices of 1500 devices, is far larger than the socket
    buffer) pipelines more requests; another client watches what the daemon did."""
    what = "read pauses"
    host = os.path.join(tmp, "big-host.json")
    bdfs = gen_host(host, 1500)
    dm = Daemon(tmp, "read-pauses", "admin user 0\nallow uid 0-0 to any max-leases 8\n", host=host)
    if not dm.ready:
        dm.stop()
        return
    watch = Client(dm.sock)

    def leased():
        r, _ = watch.call("io.ioasid.Broker.ListLeases")
        return sorted(d for x in r["parameters"]["leases"] for d in x.get("devices", []))

    def acq(bdf):
        return json.dumps({"method": "io.ioasid.Broker.Acquire",
                           "parameters": {"devices": [bdf]}}).encode() + b"\0"

    big = json.dumps({"method": "io.ioasid.Broker.ListDevices"}).encode() + b"\0"
    # 1. An unsent reply with fds: the Acquire behind it is not read until the client reads.
    c = Client(dm.sock)
    c.s.settimeout(20)
    c.send_raw(big + acq(bdfs[0]) + acq(bdfs[1]))
    for _ in range(100):  # the first Acquire is served (its reply stuck behind ListDevices)
        if bdfs[0] in leased():
            break
        time.sleep(0.05)
    check(leased() == [bdfs[0]], "%s: the first Acquire served, the second unread (%s)" % (what, leased()))
    # (Client.read() credits the fds of a read to the reply it completes: count them all.)
    replies = [c.read() for _ in range(3)]
    check("parameters" in replies[0][0], "%s: ListDevices answered" % what)
    check("lease" in replies[1][0].get("parameters", {}), "%s: first Acquire granted" % what)
    check("lease" in replies[2][0].get("parameters", {}) and sum(len(f) for _, f in replies) == 4,
          "%s: the second, read once the fds went out, granted (%s)" % (what, replies[2][0]))
    for _, fds in replies:
        for x in fds:
            os.close(x)
    c.close()
    for _ in range(100):
        if leased() == []:
            break
        time.sleep(0.05)
    # 2. 16 queued replies: a Release then an Acquire. The Release (the 16th) is served; the
    # Acquire behind it is not read.
    c = Client(dm.sock)
    c.s.settimeout(20)
    r, held = c.call("io.ioasid.Broker.Acquire", {"devices": [bdfs[2]]})
    lease = r.get("parameters", {}).get("lease")
    for x in held:  # released below: then nobody holds its devices
        os.close(x)
    info = json.dumps({"method": "org.varlink.service.GetInfo"}).encode() + b"\0"
    release = json.dumps({"method": "io.ioasid.Broker.Release",
                          "parameters": {"lease": lease}}).encode() + b"\0"
    c.send_raw(big + info * 14 + release + acq(bdfs[3]))
    for _ in range(100):
        if bdfs[2] not in leased():
            break
        time.sleep(0.05)
    check(bdfs[2] not in leased(), "%s: the 16th request (Release) served" % what)
    later = []
    for _ in range(10):  # the Acquire behind it stays unread
        later = leased()
        if later:
            break
        time.sleep(0.05)
    check(later == [], "%s: the 17th request unread while 16 replies are queued (%s)" % (what, later))
    replies = [c.read() for _ in range(17)]
    check("lease" in replies[16][0].get("parameters", {}) and sum(len(f) for _, f in replies) == 2,
          "%s: ... and served once the client reads (%s)" % (what, replies[16][0]))
    for _, fds in replies:
        for x in fds:
            os.close(x)
    c.close()
    watch.close()
    check(serves(dm.sock), "%s: serves" % what)
    check(dm.stop() == 0, "%s: daemon exits 0" % what)


def check_no_peerpidfd(tmp):
    """A8: a kernel without SO_PEERPIDFD (ENOPROTOOPT everywhere, the start-up probe too): the
    documented degraded mode. Said once at start and in Status; uid rules work, cgroup and
    unit rules do not match, process-lifetime leases are refused."""
    what = "A8 no SO_PEERPIDFD"
    dm = Daemon(tmp, "a8", PIDFD_POLICY,
                env={"LD_PRELOAD": SOCKOPT_FAULT, "SOCKOPT_FAULT_PEERPIDFD": "ENOPROTOOPT"})
    if not dm.ready:
        dm.stop()
        return
    c = Client(dm.sock)
    r, _ = c.call("io.ioasid.Manager.Status")
    check(any("SO_PEERPIDFD unsupported" in w for w in r["parameters"].get("warnings", [])),
          "%s: Status warns (%s)" % (what, r["parameters"].get("warnings")))
    r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0"]})
    check(r.get("error") == "io.ioasid.Broker.PermissionDenied" and not f,
          "%s: a cgroup rule does not match (%s)" % (what, r.get("error")))
    r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:04.0"], "lifetime": "process"})
    check(r.get("error") == "io.ioasid.Broker.PermissionDenied" and not f and
          "SO_PEERPIDFD" in json.dumps(r.get("parameters")),
          "%s: process lifetime refused, saying why (%s)" % (what, r))
    # Refused where the rule is decided, so the error names the rule and the device.
    p = r.get("parameters", {})
    check(str(p.get("rule", "")).endswith("ioasid.conf:3") and p.get("device") == "0000:00:04.0",
          "%s: the refusal names the rule and device (%s)" % (what, p))
    # Only process lifetime needs the pidfd: connection lifetime, asked for, is granted.
    r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:04.0"], "lifetime": "connection"})
    check("parameters" in r and len(f) == 2,
          "%s: connection lifetime asked for is granted (%s)" % (what, r.get("error")))
    for x in f:
        os.close(x)
    c.close()
    c = Client(dm.sock)
    r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:04.0"]})
    check("parameters" in r and len(f) == 2, "%s: a uid rule grants (%s)" % (what, r.get("error")))
    for x in f:
        os.close(x)
    c.close()
    for _ in range(3):
        check(serves(dm.sock), "%s: serves" % what)
    check(dm.log().count("SO_PEERPIDFD unsupported") == 1, "%s: said once, at start" % what)
    check(dm.stop() == 0, "%s: daemon exits 0" % what)


# A holder of its own (revocation signals it): Acquire with its RLIMIT_MEMLOCK first lowered
# to 64 KiB, print the reply, hold the lease until killed.
HOLDER = """
import json, resource, socket, sys, time
hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)[1]
resource.setrlimit(resource.RLIMIT_MEMLOCK, (65536, hard))
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(json.dumps({"method": "io.ioasid.Broker.Acquire",
                      "parameters": {"devices": sys.argv[2].split(",")}}).encode() + b"\\0")
m = s.recvmsg(65536, 4096)
print(m[0][:-1].decode(), flush=True)
time.sleep(30)
"""


def check_grant_merge_revoke(tmp):
    """Devices of one Acquire allowed by different rules (ioasid.conf(5), "One request,
    several rules"): memlock is the largest grant; on-revoke actions add up, so a reload that
    revokes the lease both resets (one rule's detach+reset) and signals (the other's signal).
    A signal-only or detach-only grant neither resets nor, for detach, signals."""
    what = "grant merge (memlock, on-revoke)"
    pol = ("admin user 0\n"
           "allow uid 0-0 to bdf 0000:00:03.0 memlock 1M on-revoke detach+reset\n"
           "allow uid 0-0 to bdf 0000:00:04.0 memlock 4M on-revoke signal\n"
           "allow uid 0-0 to bdf 0000:01:01.0 group implicit\n")
    dm = Daemon(tmp, "grant-merge", pol)
    if not dm.ready:
        dm.stop()
        return
    audit = AuditLog(dm.log_path)

    def revoked_by_reload(devs):
        """A holder of devs, its lease revoked by a reload: (reply, revoke reason, holder rc)."""
        with open(dm.conf, "w") as f:
            f.write(pol)
        dm.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, dm.sock, ",".join(devs)],
                                  stdout=subprocess.PIPE, text=True)
        reply = json.loads(holder.stdout.readline() or "{}")
        audit.mark()
        with open(dm.conf, "w") as f:
            f.write("admin user 0\n")
        dm.proc.send_signal(signal.SIGHUP)
        recs = []
        for _ in range(60):
            recs = [x for x in audit.records() if x.get("action") == "revoke"]
            if recs:
                break
            time.sleep(0.05)
        try:
            rc = holder.wait(2)
        except subprocess.TimeoutExpired:
            holder.kill()
            rc = holder.wait()
        return reply, (recs[0].get("reason", "") if recs else None), rc

    reply, reason, rc = revoked_by_reload(["0000:00:04.0", "0000:00:03.0"])
    p = reply.get("parameters", {})
    check(p.get("memlock") == 4 << 20,
          "%s: memlock 1M and 4M -> the larger, the holder's limit raised to it (%s)" % (what, reply))
    check(reason is not None and ", reset" in reason and ", signalled" in reason,
          "%s: detach+reset and signal -> reset and signalled (%s)" % (what, reason))
    check(rc == -signal.SIGTERM, "%s: the holder got SIGTERM (rc %s)" % (what, rc))

    reply, reason, rc = revoked_by_reload(["0000:00:04.0"])
    check(reply.get("parameters", {}).get("memlock") == 4 << 20, "%s: memlock 4M alone (%s)" % (what, reply))
    check(reason is not None and ", reset" not in reason and ", signalled" in reason,
          "%s: signal alone -> signalled, no reset (%s)" % (what, reason))
    check(rc == -signal.SIGTERM, "%s: the holder got SIGTERM (rc %s)" % (what, rc))

    reply, reason, rc = revoked_by_reload(["0000:01:01.0"])
    check(reply.get("parameters", {}).get("memlock") == 65536,
          "%s: no memlock grant leaves the limit alone (%s)" % (what, reply))
    check(reason is not None and ", reset" not in reason and ", signalled" not in reason,
          "%s: detach alone -> neither reset nor signalled (%s)" % (what, reason))
    check(rc is None or rc != -signal.SIGTERM, "%s: the holder was not signalled (rc %s)" % (what, rc))
    check(serves(dm.sock), "%s: serves" % what)
    check(dm.stop() == 0, "%s: daemon exits 0" % what)


def gen_host(path, n):
    """A synthetic host with n vfio-pci devices, each alone in its IOMMU group (the same as
    gen_host in tests/integration/lib.sh)."""
    groups, devices = [], []
    for i in range(n):
        bdf = "0000:%02x:%02x.0" % (i // 32 + 1, i % 32)
        groups.append({"group": i + 1, "type": "DMA", "reserved_regions": [
            {"start": "0x00000000fee00000", "end": "0x00000000feefffff", "type": "msi"}],
            "devices": [bdf]})
        devices.append({"bdf": bdf, "vendor": "1af4", "device": "1041", "subsystem_vendor": "1af4",
                        "subsystem_device": "1100", "class": "020000", "revision": "01",
                        "vendor_name": None, "device_name": None, "driver": "vfio-pci",
                        "iommu_group": i + 1,
                        "vfio": {"name": "vfio%d" % i, "dev": "510:%d" % i, "noiommu": False},
                        "numa_node": -1, "parent": None, "netdevs": [], "properties": {}})
    with open(path, "w") as f:
        json.dump({"format": "ioasid-host", "version": 1, "hostname": "synthetic",
                   "kernel": {"release": "6.12.0", "cmdline": "intel_iommu=on", "iommu_units": ["dmar0"],
                              "iommu_vendor": "intel", "interrupt_remapping": True,
                              "address_width": 48, "iommufd": True, "vfio_cdev": True,
                              "vfio_pci": True, "vfio_legacy": False, "noiommu_mode": False},
                   "groups": groups, "devices": devices}, f)
    return [d["bdf"] for d in devices]


def read_to_eof(c, seconds):
    """Everything c receives until EOF: (records, trailing bytes, fds)."""
    c.s.settimeout(seconds)
    data, fds = b"", []
    try:
        while True:
            msg, anc, _, _ = c.s.recvmsg(1 << 20, socket.CMSG_SPACE(253 * 4))
            for lvl, typ, d in anc:
                if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    a = array.array("i")
                    a.frombytes(d[: len(d) - (len(d) % 4)])
                    fds += list(a)
            if not msg:
                break
            data += msg
    except (ConnectionResetError, socket.timeout):
        pass
    parts = data.split(b"\0")
    return parts[:-1], parts[-1], fds


def check_sigterm_boundaries(tmp):
    """Section 6 of issue 11 and F5: SIGTERM while large replies, and replies with fds, are
    queued for clients that do not read. Each client then reads whole NUL-terminated records
    and EOF at a record boundary, never a prefix; replies with fds that had not started are
    dropped whole (no fd arrives without its record) and their leases rolled back."""
    what = "SIGTERM"
    host = os.path.join(tmp, "big-host.json")
    bdfs = gen_host(host, 2400)
    dm = Daemon(tmp, "sigterm", "max-connections-per-uid 64\nadmin user 0\nallow uid 0-0 to any\n",
                host=host)
    if not dm.ready:
        dm.stop()
        return
    c = Client(dm.sock)
    r, _ = c.call("io.ioasid.Broker.ListDevices")
    size = len(json.dumps(r))
    check(size > 300000, "%s: ListDevices is larger than a socket buffer (%d bytes)" % (what, size))
    c.close()
    listers = [Client(dm.sock) for _ in range(8)]
    acquirers = [Client(dm.sock) for _ in range(8)]
    hog = Client(dm.sock)  # never reads: the exit waits for it a bounded time only
    for x in listers + [hog]:
        x.send_raw(b"{\"method\":\"io.ioasid.Broker.ListDevices\"}\0" * 3)
    for i, x in enumerate(acquirers):
        x.send_raw(b"{\"method\":\"io.ioasid.Broker.ListDevices\"}\0" +
                   json.dumps({"method": "io.ioasid.Broker.Acquire",
                               "parameters": {"devices": [bdfs[i]]}}).encode() + b"\0")
    time.sleep(1)
    r = Client(dm.sock)
    leases = r.call("io.ioasid.Broker.ListLeases")[0]["parameters"]["leases"]
    r.close()
    check(len(leases) == len(acquirers), "%s: every Acquire was handled before the signal (%d)" %
          (what, len(leases)))
    t0 = time.time()
    dm.proc.send_signal(signal.SIGTERM)
    bad = []
    total_granted = 0
    for name, group in (("ListDevices", listers), ("Acquire", acquirers)):
        for i, x in enumerate(group):
            recs, tail, fds = read_to_eof(x, 5)
            for f in fds:
                os.close(f)
            parsed = []
            for rec in recs:
                try:
                    parsed.append(json.loads(rec))
                except ValueError:
                    parsed.append(None)
            granted = sum(1 for p in parsed if p and "lease" in p.get("parameters", {}))
            total_granted += granted
            if tail or None in parsed or not recs or len(fds) != 2 * granted:
                bad.append("%s client %d: %d records, %d bytes after the last, %d fds for %d "
                           "grants" % (name, i, len(recs), len(tail), len(fds), granted))
            x.close()
    check(bad == [], "%s: whole records up to EOF, fds only with their records (%s)" % (what, bad))
    rc = dm.stop(10)
    check(rc == 0 and time.time() - t0 < 6, "%s: daemon exits 0 in bounded time with a client that "
          "does not read (rc=%s, %.1fs)" % (what, rc, time.time() - t0))
    hog.close()
    # Each dropped Acquire is rolled back and audited as what its client got: a deny (the
    # fds never left), never an allow.
    log = dm.log()
    dropped = len(re.findall(r"action=deny method=io\.ioasid\.Broker\.Acquire cause=\"?shutdown", log))
    allowed = len(re.findall(r"action=allow method=io\.ioasid\.Broker\.Acquire ", log))
    check(dropped == len(acquirers) - total_granted and allowed == total_granted,
          "%s: each Acquire audited as what its client got: %d denies for %d dropped, %d allows "
          "for %d granted" % (what, dropped, len(acquirers) - total_granted, allowed, total_granted))


CAP_KILL, CAP_SYS_RESOURCE = 5, 24


def caps_of(pid):
    """{tid: (CapPrm, CapEff)} for every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        fields = {}
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                k, _, v = line.partition(":")
                fields[k] = v.strip()
        out[int(tid)] = (int(fields["CapPrm"], 16), int(fields["CapEff"], 16))
    return out


def check_idle_caps(dm, want_prm, what):
    """Idle: nothing effective in any thread; the main thread keeps want_prm permitted, the
    helper thread (the closer) nothing at all."""
    caps = caps_of(dm.pid)
    main = caps.pop(dm.pid)
    check(main == (want_prm, 0), "%s: main thread CapPrm %x CapEff %x (want %x, 0)" %
          (what, main[0], main[1], want_prm))
    check(caps and all(c == (0, 0) for c in caps.values()),
          "%s: helper threads hold no capability (%s)" % (what, caps))


def check_capabilities(tmp):
    """Section 6 of issue 11: CAP_SYS_RESOURCE and CAP_KILL stay permitted only, raised around
    the calls that need them. Idle CapEff is 0 in every thread; on-revoke signal reaches a
    holder of another uid (CAP_KILL raised around pidfd_send_signal)."""
    what = "caps"
    with open("/proc/self/status") as f:
        ours = int([l for l in f if l.startswith("CapPrm:")][0].split()[1], 16)
    want = ours & ((1 << CAP_KILL) | (1 << CAP_SYS_RESOURCE))
    dm = Daemon(tmp, "caps", "admin user 0\nallow uid 65000 to bdf 0000:00:03.0\n"
                "allow uid 0-0 to any\n")
    if not dm.ready:
        dm.stop()
        return
    check(serves(dm.sock), "%s: serves" % what)
    check_idle_caps(dm, want, what + " (idle)")
    if not (want & (1 << CAP_KILL)) or not shutil.which("setpriv"):
        print("SKIPPED: %s: on-revoke signal needs CAP_KILL and setpriv" % what)
        check(dm.stop() == 0, "%s: daemon exits 0" % what)
        return
    # A holder of uid 65000: the socket and its directories opened up for it.
    for path in (tmp, dm.dir):
        os.chmod(path, 0o755)
    os.chmod(dm.sock, 0o666)
    holder = subprocess.Popen(["setpriv", "--reuid=65000", "--regid=65000", "--clear-groups",
                               sys.executable, "-c", """
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(json.dumps({"method": "io.ioasid.Broker.Acquire", "parameters": {"devices": ["0000:00:03.0"], "lifetime": "process"}}).encode() + b"\\0")
m = s.recvmsg(65536, 4096)
print(json.loads(m[0][:-1]).get("parameters", {}).get("lease"), flush=True)
time.sleep(30)
""", dm.sock], stdout=subprocess.PIPE, text=True)
    lease = holder.stdout.readline().strip()
    check(len(lease) == 32, "%s: uid 65000 holds a process-lifetime lease (%s)" % (what, lease))
    c = Client(dm.sock)
    # A misspelt or mistyped option is refused by name, and revokes nothing.
    for bad, params in (("sgnal", {"lease": lease, "sgnal": True}),
                        ("reset", {"lease": lease, "reset": "yes"})):
        r, _ = c.call("io.ioasid.Manager.Revoke", params)
        check(r.get("error") == "org.varlink.service.InvalidParameter" and
              r.get("parameters", {}).get("parameter") == bad,
              "%s: Revoke with %s refused by name (%s)" % (what, params, r))
    r, _ = c.call("io.ioasid.Broker.ListLeases")
    check([x.get("state") for x in r["parameters"]["leases"]] == ["active"],
          "%s: ... and the lease is untouched (%s)" % (what, r["parameters"]["leases"]))
    r, _ = c.call("io.ioasid.Manager.Revoke", {"lease": lease, "signal": True})
    check(r.get("parameters", {}).get("state") == "revoked", "%s: Revoke with signal (%s)" % (what, r))
    try:
        rc = holder.wait(3)
    except subprocess.TimeoutExpired:
        holder.kill()
        rc = holder.wait()
    check(rc == -signal.SIGTERM, "%s: the holder of another uid got SIGTERM (rc %s)" % (what, rc))
    check("signalling the holder failed" not in dm.log(), "%s: no signalling failure logged" % what)
    c.close()
    check_idle_caps(dm, want, what + " (after the signal)")
    check(dm.stop() == 0, "%s: daemon exits 0" % what)


def check_capabilities_userns(tmp):
    """The same for CAP_SYS_RESOURCE, which this test's own root may lack: the daemon runs as
    root of a user namespace of its own (all capabilities there; the sim checks the calling
    thread's effective set, so it needs the raise around RLIMIT_MODE like the kernel). A
    layout with per-process accounting must work; idle, CapEff is 0."""
    what = "caps (user namespace)"
    if not shutil.which("unshare") or subprocess.run(
            ["unshare", "--user", "--map-root-user", "true"], capture_output=True).returncode != 0:
        print("SKIPPED: %s: cannot create a user namespace" % what)
        return
    dm = Daemon(tmp, "caps-userns", "admin user 0\nlayout acct { accounting process }\n"
                "allow uid 0-0 to any layout acct\n",
                wrap=["unshare", "--user", "--map-root-user", "--"])
    if not dm.ready:
        dm.stop()
        return
    check(serves(dm.sock), "%s: serves" % what)
    check_idle_caps(dm, (1 << CAP_KILL) | (1 << CAP_SYS_RESOURCE), what + " (idle)")
    c = Client(dm.sock)
    r, _ = c.call("io.ioasid.Manager.Status")
    warnings = r.get("parameters", {}).get("warnings", [])
    check(not any("accounting" in w for w in warnings),
          "%s: per-process accounting available (%s)" % (what, warnings))
    r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0"], "layout": "acct"})
    check("parameters" in r and len(f) == 2,
          "%s: Acquire with accounting process (%s)" % (what, r.get("error") or r.get("parameters")))
    for x in f:
        os.close(x)
    c.close()
    check_idle_caps(dm, (1 << CAP_KILL) | (1 << CAP_SYS_RESOURCE), what + " (after Acquire)")
    check(dm.stop() == 0, "%s: daemon exits 0" % what)


def check_noiommu(tmp):
    """Section 6 of issue 11 and B8: on a host running VFIO in noiommu mode the daemon warns at
    start (and in Status), and Acquire of a noiommu device is denied unless allow-noiommu is
    set. A host without noiommu gets no such warning."""
    what = "noiommu"
    host = os.path.join(REPO, "tests", "hosts", "noiommu.json")
    bdf = "0000:00:06.0"
    for allow in (False, True):
        w = "%s (allow-noiommu %s)" % (what, "yes" if allow else "no")
        dm = Daemon(tmp, "noiommu-%d" % allow, ("allow-noiommu yes\n" if allow else "") +
                    "admin user 0\nallow uid 0-0 to any\n", host=host)
        if not dm.ready:
            dm.stop()
            continue
        log = dm.log()
        check("unsafe noiommu mode" in log and
              ("hands them out" if allow else "Acquire refuses them") in log,
              "%s: warning at start (%s)" % (w, log[-400:]))
        c = Client(dm.sock)
        r, _ = c.call("io.ioasid.Manager.Status")
        check(any("noiommu" in x for x in r["parameters"].get("warnings", [])),
              "%s: Status warns (%s)" % (w, r["parameters"].get("warnings")))
        r, f = c.call("io.ioasid.Broker.Acquire", {"devices": [bdf]})
        if allow:
            check("parameters" in r and len(f) == 2, "%s: Acquire granted (%s)" % (w, r))
        else:
            check(r.get("error") == "io.ioasid.Broker.PermissionDenied" and not f and
                  "noiommu" in json.dumps(r.get("parameters")),
                  "%s: Acquire denied, saying why (%s)" % (w, r))
        for x in f:
            os.close(x)
        c.close()
        check(dm.stop() == 0, "%s: daemon exits 0" % w)
    dm = Daemon(tmp, "plain-host", "admin user 0\nallow uid 0-0 to any\n")
    check("unsafe noiommu mode" not in dm.log(), "%s: no warning on a host without it" % what)
    check(dm.stop() == 0, "%s: control daemon exits 0" % what)


def run_own_daemons(tmp):
    if not os.path.exists(SOCKOPT_FAULT):
        check(False, "%s is not built (make build-tests)" % SOCKOPT_FAULT)
        return
    check_linger_stall(tmp, False)
    check_linger_stall(tmp, True)
    check_fds_closed_by_daemon(tmp)
    check_peer_gone(tmp, "ESRCH")
    check_peer_gone(tmp, "EINVAL")
    check_peer_gone(tmp, "EMFILE")
    check_peer_gone(tmp, "ENFILE")
    check_accept_errors(tmp)
    check_accept_batch(tmp)
    check_connection_limit(tmp)
    check_closed_stdio(tmp)
    check_fd_limit(tmp)
    check_read_pauses(tmp)
    check_no_peerpidfd(tmp)
    check_grant_merge_revoke(tmp)
    check_sigterm_boundaries(tmp)
    check_capabilities(tmp)
    check_capabilities_userns(tmp)
    check_noiommu(tmp)


def run(d, sock):
    pid = d.pid
    conf = d.args[d.args.index("--config") + 1]
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
    check(r.get("error") == "io.ioasid.Broker.NoSuchDevice", "unknown device -> NoSuchDevice")
    # A domain above ffff (VMD) is a PCI address: validated, canonicalised, then not found;
    # more than 8 domain digits is not one.
    r, _ = c.call("io.ioasid.Broker.Acquire", {"devices": ["00010000:E1:00.0"]})
    check(r.get("error") == "io.ioasid.Broker.NoSuchDevice" and
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
    wait_stopped(pid)
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
    check(got == {"A": ["ok", "io.ioasid.Broker.DeviceBusy"], "B": ["ok", "io.ioasid.Broker.DeviceBusy"]},
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
    AUDIT.mark()
    r, fds = a.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:02.0"]})
    p = r.get("parameters", {})
    AUDIT.expect("Acquire allowed", {"message_id": MID["allow"], "action": "allow", "uid": 0,
                                     "method": "io.ioasid.Broker.Acquire", "cause": "request",
                                     "device": "0000:01:02.0", "lease": p.get("lease"),
                                     "rule": conf + ":6", "error": "-"})
    check(len(fds) == 2 and p.get("iommuFd") == 0 and p["devices"][0]["deviceFd"] == 1,
          "Acquire returns iommufd + device fd")
    names = [os.readlink("/proc/self/fd/%d" % f) for f in fds]
    check("iommufd" in names[0] and "0000:01:02.0" in names[1], "fds are what they claim: %s" % names)
    check(p.get("atRisk") == ["0000:01:01.0"], "implicit group: sibling at risk")
    b = Client(sock)
    AUDIT.mark()
    r, bf = b.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:02.0"]})
    check(r.get("error") == "io.ioasid.Broker.DeviceBusy" and not bf, "same device twice -> DeviceBusy")
    r, bf = b.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:01.0"]})
    check(r.get("error") == "io.ioasid.Broker.GroupOwned" and not bf, "sibling in an owned group -> GroupOwned")
    r, _ = b.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:02.0"]})
    check(r.get("error") == "io.ioasid.Broker.GroupNotViable" and r["parameters"].get("device") == "0000:00:02.0",
          "host-driver group -> GroupNotViable naming the device")
    # Refused after the policy allowed: one deny each, naming the error, and no allow.
    deny = {"message_id": MID["deny"], "action": "deny", "uid": 0, "lease": "-"}
    AUDIT.expect("refusals after the policy allowed",
                 dict(deny, error="io.ioasid.Broker.DeviceBusy", device="0000:01:02.0", rule=conf + ":6"),
                 dict(deny, error="io.ioasid.Broker.GroupOwned", device="0000:01:01.0", rule=conf + ":5"),
                 dict(deny, error="io.ioasid.Broker.GroupNotViable", device="0000:00:02.0",
                      rule=conf + ":6"))
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
    check(r.get("error") == "io.ioasid.Broker.GroupOwned" and not bf and
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
    check(r.get("error") == "io.ioasid.Broker.NoSuchLease", "Release twice -> NoSuchLease")
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
    check(r.get("error") == "io.ioasid.Broker.DeviceBusy", "empty pool -> DeviceBusy (%s)" % r.get("error"))
    r, _ = b.call("io.ioasid.Broker.Acquire", {"pool": "nope"})
    check(r.get("error") == "org.varlink.service.InvalidParameter", "unknown pool -> InvalidParameter")
    r, _ = b.call("io.ioasid.Broker.ListGroups")
    owners = {g["group"]: g["owner"] for g in r["parameters"]["groups"]}
    check(owners.get(5) == "uid:0" and owners.get(3) == "uid:0" and owners.get(6) is None,
          "ListGroups shows owners")
    for f in wf + pf:
        os.close(f)
    b.close()
    settle(pid, base, "acquire/release")

    # max-devices 2 per lease (LimitExceeded), nothing opened.
    c = Client(sock)
    r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0", "0000:00:04.0", "0000:01:02.0"]})
    check(r.get("error") == "io.ioasid.Broker.LimitExceeded" and r["parameters"].get("limit") == "devices" and
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
    check(r.get("error") == "io.ioasid.Broker.LimitExceeded" and r["parameters"].get("limit") == "leases" and not f,
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
    AUDIT.mark()
    child.kill()
    child.wait()
    ev, _ = m.read()
    AUDIT.expect("process lifetime: the lease ends with the process",
                 {"message_id": MID["release"], "action": "release", "cause": "process-exit",
                  "method": "-", "uid": 0, "pid": child.pid, "device": "0000:00:03.0",
                  "lease": ls[0]["id"] if ls else None})
    # Not released (no Release call): ended, with the cause.
    check(ev["parameters"].get("event") == "lease-ended" and ev["parameters"].get("bdf") == "0000:00:03.0"
          and ev["parameters"].get("cause") == "process-exit",
          "Monitor sees the lease end (cause process-exit) when the process dies")
    r, _ = c.call("io.ioasid.Broker.ListLeases")
    check(r["parameters"]["leases"] == [], "process lease ended with the process")
    m.close()
    c.close()
    settle(pid, base, "process lifetime")

    # A process-lifetime Acquire whose client closes before the reply is delivered: the fds
    # never reached it, so no lease may be left behind (the client, still running, must not
    # lock itself out of its own group when it retries). The daemon is stopped while the
    # client connects, asks and closes, so the reply cannot be delivered.
    req = {"devices": ["0000:00:04.0"], "lifetime": "process"}
    AUDIT.mark()
    os.kill(pid, signal.SIGSTOP)
    try:
        x = Client(sock)
        x.send("io.ioasid.Broker.Acquire", req)
        x.close()
    finally:
        os.kill(pid, signal.SIGCONT)
    AUDIT.expect("undelivered Acquire: a deny, no allow",
                 {"message_id": MID["deny"], "action": "deny", "cause": "client-gone", "uid": 0,
                  "pid": os.getpid(), "device": "0000:00:04.0", "lease": "-"})
    c = Client(sock)
    r, _ = c.call("io.ioasid.Broker.ListLeases")
    check(r["parameters"]["leases"] == [], "undelivered process-lifetime lease: none left (%s)" % r)
    r, f = c.call("io.ioasid.Broker.Acquire", req)
    check("parameters" in r and len(f) == 2, "the same process acquires the device again (%s)" % r)
    for x in f:
        os.close(x)
    r, _ = c.call("io.ioasid.Broker.Release", {"lease": r.get("parameters", {}).get("lease")})
    check("error" not in r, "release of the retried lease")
    c.close()
    settle(pid, base, "undelivered process-lifetime Acquire")

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
    check(r.get("error") == "io.ioasid.Broker.DeviceBusy" and not f and
          "staged for you in attached mode (staged context %s)" % sid in r["parameters"].get("reason", ""),
          "staged devices are held, the owner asking another mode is told what is staged (%s)" % r)
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
    r, _ = c.call("io.ioasid.Manager.Stage", {"layout": "default", "owner": "unit y.service", "devices": ["0000:00:04.0"]})
    check(r.get("error") == "io.ioasid.Manager.OwnerDenied" and r["parameters"].get("device") == "0000:00:04.0",
          "an owner no rule allows -> OwnerDenied (%s)" % r)
    r, _ = c.call("io.ioasid.Manager.Stage", {"layout": "default", "owner": "user no-such-user-here", "devices": ["0000:00:04.0"]})
    check(r.get("error") == "io.ioasid.Manager.NoSuchUser" and r["parameters"].get("user") == "no-such-user-here",
          "unknown user -> NoSuchUser (%s)" % r)
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
            check(res[0].get("error") == "io.ioasid.Broker.PermissionDenied", "uid 65000 denied by policy")
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


# ---------------------------------------------------------------------------------------
# Catalogue cases added for tests/ADVERSARIAL.md (A12, B6, C1, C4, C6, C8, D2, D3, E1, E2,
# E4, E7). The ones on the shared daemon end with I1 + I2 (settle); the ones that measure
# memory, need a shim or a broken config run a daemon of their own (cat_daemon).

def cat_status(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM) in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return -1


def cat_daemon(conf_text, env=None, host=HOST, args=()):
    """A daemon of its own: (proc, sock, tmp, log path), or (proc, None, ...) if it exited."""
    tmp = tempfile.mkdtemp(prefix="ioasidd-cat-")
    conf = os.path.join(tmp, "c.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    os.chmod(conf, 0o644)
    sock = os.path.join(tmp, "s.sock")
    logp = os.path.join(tmp, "log")
    with open(logp, "w") as log:
        proc = subprocess.Popen([IOASIDD, "--kernel=sim", "--host", host, "--config", conf,
                                 "--socket", sock] + list(args), stderr=log,
                                env=dict(os.environ, **(env or {})))
    serving = wait_serving(logp, proc)
    return proc, (sock if serving else None), tmp, logp


def cat_stop(proc, tmp, what):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = -9
        check(rc == 0, "%s: daemon exits 0 on SIGTERM (rc=%s)" % (what, rc))
    if failed:
        try:
            print(open(os.path.join(tmp, "log")).read()[-2000:], file=sys.stderr)
        except OSError:
            pass
    shutil.rmtree(tmp, ignore_errors=True)


def cat_acquire(bdf, mode="attached"):
    return json.dumps({"method": "io.ioasid.Broker.Acquire",
                       "parameters": {"devices": [bdf], "mode": mode}}).encode() + b"\0"


def cat_B6_concurrent(sock, pid, base):
    """B6: two clients request the same device at the same time, 1000 rounds: both requests
    are queued before either is read; exactly one gets it, the other DeviceBusy. Rounds
    alternate who sends first and the mode: in unbound mode nothing is bound, so the
    daemon's bookkeeping is the only guard (in attached mode the kernel's BIND is a second
    one: tests/daemon/bypass.py, VM S4)."""
    a, b = Client(sock), Client(sock)
    bad = []
    for i in range(1000):
        first, second = (a, b) if i % 2 == 0 else (b, a)
        mode = "unbound" if (i // 2) % 2 else "attached"
        first.send_raw(cat_acquire("0000:00:03.0", mode))
        second.send_raw(cat_acquire("0000:00:03.0", mode))
        ra, fa = a.read()
        rb, fb = b.read()
        ok = [x for x in ((a, ra, fa), (b, rb, fb)) if "error" not in x[1]]
        errs = sorted(x.get("error", "") for x in (ra, rb) if "error" in x)
        if len(ok) != 1 or errs != ["io.ioasid.Broker.DeviceBusy"] or len(ok[0][2]) != 2 or \
                len(fa) + len(fb) != 2:
            bad.append((i, ra.get("error"), len(fa), rb.get("error"), len(fb)))
        for x in fa + fb:
            os.close(x)
        for cl, r, _ in ok:
            rr, _ = cl.call("io.ioasid.Broker.Release", {"lease": r["parameters"]["lease"]})
            if "error" in rr:
                bad.append((i, "release", rr.get("error")))
        if len(bad) > 5:
            break
    check(bad == [], "B6: 1000 rounds of two concurrent requests: exactly one success each (%s)"
          % bad[:5])
    a.close()
    b.close()
    c = Client(sock)
    r, _ = c.call("io.ioasid.Broker.ListLeases")
    check(r["parameters"]["leases"] == [], "B6: no lease left")
    c.close()
    settle(pid, base, "B6")


def cat_C6_oversize(sock, pid, base):
    """C6: the socket is SOCK_STREAM (Varlink framing), so there is no SEQPACKET record and
    no MSG_TRUNC. The stream equivalent: a message longer than the maximum (64 KiB with its
    NUL) whose first 64 KiB already hold a complete, valid Acquire (JSON padded with blanks)
    is refused as a whole: no reply but the protocol error, no lease, no fd. One byte shorter
    is a valid message and is served."""
    pad = b" " * 70000
    c = Client(sock)
    c.send_raw(cat_acquire("0000:00:04.0")[:-1] + pad + b"\0")
    replies, fds = [], []
    try:
        while True:
            r, f = c.read()
            replies.append(r)
            fds += f
    except (EOFError, ConnectionResetError, BrokenPipeError, socket.timeout):
        pass
    check(all(r.get("error") == "io.ioasid.Broker.ProtocolError" for r in replies) and not fds,
          "C6: an oversized Acquire whose prefix is a valid request gets no reply, no fd (%s)"
          % replies)
    c.close()
    c = Client(sock)
    r, _ = c.call("io.ioasid.Broker.ListLeases")
    check(r["parameters"]["leases"] == [], "C6: the prefix was not acted on (no lease)")
    c.close()
    # The boundary: 65536 bytes with the NUL is one message, 65537 is not.
    head = b"{\"method\":\"org.varlink.service.GetInfo\""
    for total, served in ((65536, True), (65537, False)):
        msg = head + b" " * (total - len(head) - 2) + b"}\0"
        assert len(msg) == total
        c = Client(sock)
        c.send_raw(msg)
        try:
            r, _ = c.read()
        except (EOFError, ConnectionResetError, BrokenPipeError, socket.timeout):
            r = {}
        got = r.get("parameters", {}).get("product") == "ioasidd"
        check(got == served, "C6: a %d-byte message is %s (%s)"
              % (total, "served" if served else "refused", str(r)[:80]))
        if not served:
            check(c.closed(), "C6: the %d-byte message closes the connection" % total)
        c.close()
    settle(pid, base, "C6")


def cat_D3_slowloris(sock, pid, base, logp):
    """D3: a valid request, one byte every 0.25 s (the idle deadline is 2 s, the request
    needs 10 s): each byte is activity, but only a complete request moves the deadline, so
    the connection is closed near 2 s, without a reply, and the deadline is logged (D2's
    log line too)."""
    msg = b"{\"method\":\"org.varlink.service.GetInfo\"}\0"
    c = Client(sock)
    t0 = time.time()
    closed_at = None
    for i in range(len(msg)):
        try:
            c.s.send(msg[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            closed_at = time.time() - t0
            break
        time.sleep(0.25)
        c.s.setblocking(False)
        try:
            d = c.s.recv(65536)
            if not d:
                closed_at = time.time() - t0
                break
            check(False, "D3: a reply to a request that never completed: %r" % d[:80])
        except BlockingIOError:
            pass
        except (ConnectionResetError, BrokenPipeError):
            closed_at = time.time() - t0
            break
        finally:
            c.s.settimeout(5)
    check(closed_at is not None and closed_at < 3.5,
          "D3: slowloris closed at the idle deadline (%s s)" % closed_at)
    c.close()
    c = Client(sock)
    c.s.settimeout(4)
    check(c.closed(), "D2: a silent connection is closed")
    c.close()
    time.sleep(0.1)
    text = open(logp).read()
    check("request not completed within 2s" in text, "D3: the deadline is logged")
    check("no request within 2s" in text, "D2: the idle deadline is logged")
    settle(pid, base, "D3")


def cat_E2_reload(d, sock, pid, base, logp):
    """E2: a SIGHUP with an invalid config keeps the old generation, logs the failure with
    file:line, and requests are still decided by the old generation's rules."""
    conf = d.args[d.args.index("--config") + 1]
    good = open(conf).read()
    c = Client(sock)
    gen = c.call("io.ioasid.Manager.Status")[0]["parameters"]["generation"]
    with open(conf, "w") as f:
        f.write("admin user 0\nallow uid 0-0 to any frobnicate\n")
    d.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    r, fds = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:03.0"]})
    check(r.get("parameters", {}).get("generation") == gen and len(fds) == 2,
          "E2: served under the old generation %d after a failed reload (%s)" % (gen, str(r)[:120]))
    check(c.call("io.ioasid.Manager.Status")[0]["parameters"]["generation"] == gen,
          "E2: generation unchanged")
    check(("failed at %s:2:" % conf) in open(logp).read(), "E2: the failure is logged with file:line")
    warns = c.call("io.ioasid.Manager.Status")[0]["parameters"].get("warnings") or []
    check(any(w.startswith("Reload of '%s' failed at %s:2:" % (conf, conf)) for w in warns),
          "E2: Status warns of the failed reload with file:line (%s)" % warns)
    for x in fds:
        os.close(x)
    c.call("io.ioasid.Broker.Release", {"lease": r.get("parameters", {}).get("lease", "")})
    with open(conf, "w") as f:
        f.write(good)
    d.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    st = c.call("io.ioasid.Manager.Status")[0]["parameters"]
    check(st["generation"] == gen + 1, "E2: the good file loads again")
    check(not any(w.startswith("Reload of ") for w in st.get("warnings") or []),
          "E2: a good reload clears the failed reload's warning (%s)" % st.get("warnings"))
    c.close()
    settle(pid, base, "E2")


def cat_A12_memory():
    """A12: maximum-size, deeply nested requests, from a uid no rule names (as root when
    setpriv is missing: the parser runs before anyone is known anyway): each is refused at
    the depth limit ("nested too deeply", then the connection closes), before a full parse,
    and the daemon's peak memory grows by less than 1 MiB over 200 of them. A fresh daemon,
    so no earlier test's heap hides the growth."""
    proc, sock, tmp, _ = cat_daemon("admin user 0\nallow uid 0-0 to any\n")
    try:
        check(sock is not None, "A12: daemon started")
        if sock is None:
            return
        os.chmod(sock, 0o666)
        check(serves(sock), "A12: serves")
        time.sleep(0.1)
        base = fd_count(proc.pid)
        hwm0 = cat_status(proc.pid, "VmHWM")
        body = b"{\"method\":\"io.ioasid.Broker.Acquire\",\"parameters\":{\"devices\":"
        n = (65536 - len(body) - 3) // 2
        msg = body + b"[" * n + b"]" * n + b"}}\0"
        assert len(msg) <= 65536
        code = """
import socket, sys
msg = open(sys.argv[2], "rb").read()
closed = 0
for _ in range(200):
    s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
    s.sendall(msg)
    d = b""
    try:
        while True:
            x = s.recv(65536)
            d += x
            if not x or b"\\0" in d:
                break
    except OSError:
        pass
    closed += b"io.ioasid.Broker.ProtocolError" in d and b"nested too deeply" in d
    s.close()
print(closed)
"""
        mp = os.path.join(tmp, "msg")
        with open(mp, "wb") as f:
            f.write(msg)
        pre = []
        if os.geteuid() == 0 and shutil.which("setpriv"):
            os.chmod(tmp, 0o755)
            os.chmod(mp, 0o644)
            pre = ["setpriv", "--reuid=65000", "--regid=65000", "--clear-groups"]
        out = subprocess.run(pre + [sys.executable, "-c", code, sock, mp], capture_output=True,
                             text=True, timeout=120)
        check(out.stdout.strip() == "200", "A12: 200 nested requests refused and closed (%s%s)"
              % (out.stdout.strip(), out.stderr[-200:]))
        grow = cat_status(proc.pid, "VmHWM") - hwm0
        check(0 <= grow < 1024 * 1024, "A12: peak memory grew %d bytes (< 1 MiB)" % grow)
        check(serves(sock), "A12: still serves (I1)")
        settle(proc.pid, base, "A12")
    finally:
        cat_stop(proc, tmp, "A12")


def cat_C8_memory():
    """C8: 1000 pipelined requests in one write to a fresh daemon, replies read only after a
    second: the daemon stops reading while its queue is full (IOASID_MAX_PENDING_REPLIES,
    IOASID_MAX_QUEUED_BYTES), so its memory stays bounded (< 2 MiB over the idle daemon,
    while 1000 replies of the 35-device host are several MB), and then all 1000 are
    answered in order."""
    proc, sock, tmp, _ = cat_daemon("admin user 0\nallow uid 0-0 to any\n",
                                    host=os.path.join(REPO, "tests", "hosts", "gpu-server.json"))
    try:
        check(sock is not None, "C8: daemon started")
        if sock is None:
            return
        check(serves(sock), "C8: serves")
        time.sleep(0.1)
        base = fd_count(proc.pid)
        hwm0 = cat_status(proc.pid, "VmHWM")
        c = Client(sock)
        r, _ = c.call("io.ioasid.Broker.ListDevices")
        one = len(json.dumps(r))
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        req = b"{\"method\":\"io.ioasid.Broker.ListDevices\"}\0" * 1000
        t = threading.Thread(target=c.s.sendall, args=(req,))
        t.start()
        time.sleep(1)
        grow = cat_status(proc.pid, "VmHWM") - hwm0
        n = 0
        for _ in range(1000):
            r, _ = c.read()
            n += len(r.get("parameters", {}).get("devices", [])) > 0
        t.join()
        check(n == 1000, "C8: 1000 pipelined requests answered (%d)" % n)
        check(0 <= grow < 2 * 1024 * 1024 and 1000 * one > 2 * 1024 * 1024,
              "C8: memory bounded while unread: peak grew %d bytes (1000 replies: %d)"
              % (grow, 1000 * one))
        c.close()
        settle(proc.pid, base, "C8")
    finally:
        cat_stop(proc, tmp, "C8")


def cat_C1_C4_old_kernel():
    """C1, C4 on a kernel without SO_PASSRIGHTS (before 6.16, faked by the sockopt-fault shim),
    where fds a client sends do reach the daemon: 253 fds (a pipe's write end, the client's
    own connection, a memfd, /dev/null) with a request. The daemon's own code must close
    every one (the pipe's reader sees EOF once our copy is gone), drop the connection, get
    back to its fd baseline, and keep serving another client in under 100 ms meanwhile."""
    env = {"LD_PRELOAD": SOCKOPT_FAULT, "SOCKOPT_FAULT_PASSRIGHTS": "ENOPROTOOPT",
           "ASAN_OPTIONS": ((os.environ.get("ASAN_OPTIONS", "") + ":") if os.environ.get(
               "ASAN_OPTIONS") else "") + "verify_asan_link_order=0"}
    proc, sock, tmp, _ = cat_daemon("admin user 0\nallow uid 0-0 to any\n", env=env)
    try:
        check(sock is not None, "C1/C4: daemon with the sockopt-fault shim started")
        if sock is None:
            return
        check(serves(sock), "C1/C4: serves")
        time.sleep(0.1)
        base = fd_count(proc.pid)
        for what, data in (("complete request", b"{\"method\":\"org.varlink.service.GetInfo\"}\0"),
                           ("partial request", b"{\"method\":\"org.varl")):
            rd, wr = os.pipe()
            mfd = os.memfd_create("c4-memfd")
            null = os.open("/dev/null", os.O_RDONLY)
            c = Client(sock)
            fds = [wr, c.s.fileno(), mfd] + [null] * 250
            try:
                c.send_raw(data, fds)
                sent = True
            except PermissionError:
                sent = False
            check(sent, "C1/C4 %s: the shim lets 253 fds through (no EPERM)" % what)
            os.close(wr)
            os.close(mfd)
            os.close(null)
            t0 = time.time()
            good = serves(sock)
            lat = time.time() - t0
            check(good and lat < 0.1, "C1/C4 %s: another client served in %.3f s" % (what, lat))
            check(c.closed(), "C1/C4 %s: the connection is dropped" % what)
            c.close()
            os.set_blocking(rd, False)
            eof = False
            for _ in range(40):
                try:
                    eof = os.read(rd, 1) == b""
                except BlockingIOError:
                    eof = False
                if eof:
                    break
                time.sleep(0.05)
            os.close(rd)
            check(eof, "C1/C4 %s: the daemon closed the pipe it was sent" % what)
            settle(proc.pid, base, "C1/C4 %s" % what)
        check(serves(sock), "C1/C4: still serves (I1)")
    finally:
        cat_stop(proc, tmp, "C1/C4")


def cat_E1_E4_E7_config():
    """E1, E7: a config with a syntax error, an unknown keyword or any of the errors E7 names
    (the language has no rule ids: a duplicate rule, a duplicate setting, selector or grant,
    a user, group, pool or layout that does not exist) stops the daemon at start: exit
    status 1, the error as FILE:LINE:COLUMN on stderr, no READY=1 on $NOTIFY_SOCKET, no
    socket; --check-config reports the same. E4: an empty or comment-only config starts
    and denies everything, admin methods included."""
    notify_dir = tempfile.mkdtemp(prefix="ioasidd-notify-")
    npath = os.path.join(notify_dir, "notify")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(npath)
    ns.settimeout(0.2)

    def ready_seen():
        seen = False
        try:
            while True:
                seen |= "READY=1" in ns.recv(4096).decode(errors="replace").split("\n")
        except socket.timeout:
            pass
        return seen

    env = {"NOTIFY_SOCKET": npath}
    try:
        # The control: a good config sends READY=1 to this socket.
        proc, sock, tmp, _ = cat_daemon("admin user 0\n", env=env)
        check(sock is not None and ready_seen(), "E1 control: a good config sends READY=1")
        cat_stop(proc, tmp, "E1 control")
        cases = [
            ("syntax", "admin user 0\nallow uid 0 to any mode\n", 2),
            ("unknown keyword", "admin user 0\n\nfrobnicate yes\n", 3),
            ("unknown grant", "allow uid 0 to any colour blue\n", 1),
            ("duplicate rule", "admin user 0\nallow uid 0 to any\nallow uid 0 to any\n", 3),
            ("duplicate setting", "idle-timeout 5\nidle-timeout 6\n", 2),
            ("duplicate selector", "allow uid 0 uid 1 to any\n", 1),
            ("duplicate grant", "allow uid 0 to any max-leases 1 max-leases 2\n", 1),
            ("nonexistent user", "allow user no-such-user-ioasid to any\n", 1),
            ("nonexistent group", "allow group no-such-group-ioasid to any\n", 1),
            ("nonexistent pool", "allow uid 0 to pool nopool\n", 1),
            ("nonexistent layout", "layout a { }\nallow uid 0 to any layout b\n", 2),
            ("nobody", "allow user nobody to any\n", 1),
        ]
        for what, text, line in cases:
            proc, sock, tmp, logp = cat_daemon(text, env=env)
            try:
                rc = proc.wait(5)
            except subprocess.TimeoutExpired:
                rc = None
            conf = os.path.join(tmp, "c.conf")
            err = open(logp).read()
            check(rc == 1 and ("%s:%d:" % (conf, line)) in err,
                  "E1/E7 %s: refused at start with file:line (rc=%s: %s)"
                  % (what, rc, err.strip()[-160:]))
            check(not ready_seen(), "E1/E7 %s: no READY=1" % what)
            check(sock is None and not os.path.exists(os.path.join(tmp, "s.sock")),
                  "E1/E7 %s: no socket" % what)
            out = subprocess.run([IOASIDD, "--check-config", "--config", conf],
                                 capture_output=True, text=True)
            check(out.returncode != 0 and ("%s:%d:" % (conf, line)) in out.stderr + out.stdout,
                  "E1/E7 %s: --check-config reports it (rc=%d)" % (what, out.returncode))
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            shutil.rmtree(tmp, ignore_errors=True)
        for what, text in (("empty", ""), ("comment-only", "# nothing\n\n   # at all\n")):
            proc, sock, tmp, _ = cat_daemon(text, env=env)
            try:
                check(sock is not None and ready_seen(), "E4 %s: starts" % what)
                if sock is None:
                    continue
                c = Client(sock)
                try:
                    for bdf in ("0000:00:03.0", "0000:01:01.0"):
                        r, f = c.call("io.ioasid.Broker.Acquire", {"devices": [bdf]})
                        check(r.get("error") == "io.ioasid.Broker.PermissionDenied" and not f and
                              r["parameters"].get("reason", "").startswith("no rule matched"),
                              "E4 %s: %s denied, no rule matched (%s)" % (what, bdf, r))
                    r, _ = c.call("io.ioasid.Manager.Status")
                    check(r.get("error") == "io.ioasid.Manager.PermissionDenied",
                          "E4 %s: no admin either (%s)" % (what, r.get("error")))
                except (EOFError, OSError) as e:
                    check(False, "E4 %s: the daemon answers (%r)" % (what, e))
                c.close()
            finally:
                cat_stop(proc, tmp, "E4 " + what)
    finally:
        ns.close()
        shutil.rmtree(notify_dir, ignore_errors=True)


def cat_grant_merge():
    """Devices of one Acquire granted by different rules: the tightest max-devices and
    max-leases of their grants hold for the request (a mutant taking the loosest survived
    the mutation run: no test had two matching grants with different limits)."""
    pol = ("allow uid 0-0 to bdf 0000:00:03.0 mode attached max-devices 1 max-leases 1\n"
           "allow uid 0-0 to bdf 0000:00:04.0 mode attached max-devices 4 max-leases 4\n"
           "allow uid 0-0 to bdf 0000:01:02.0 mode attached group implicit max-leases 4\n")
    proc, sock, tmp, _ = cat_daemon(pol)
    try:
        check(sock is not None, "grant merge: daemon started")
        if sock is None:
            return
        c = Client(sock)
        for devs in (["0000:00:03.0", "0000:00:04.0"], ["0000:00:04.0", "0000:00:03.0"]):
            r, f = c.call("io.ioasid.Broker.Acquire", {"devices": devs})
            for x in f:
                os.close(x)
            check(r.get("error") == "io.ioasid.Broker.LimitExceeded" and
                  r["parameters"].get("limit") == "devices" and r["parameters"].get("max") == 1,
                  "grant merge: %s under max-devices 1 and 4 -> the tighter (%s)" % (devs, r))
        # One lease held (its rule allows 4); a request whose grants say 1 and 4 leases is
        # held to 1.
        r, held = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:02.0"]})
        check("parameters" in r and len(held) == 2, "grant merge: a first lease (%s)" % r)
        pol2 = pol.replace("max-devices 1 max-leases 1", "max-devices 2 max-leases 1")
        with open(os.path.join(tmp, "c.conf"), "w") as fh:
            fh.write(pol2)
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        r, f = c.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:04.0", "0000:00:03.0"]})
        for x in f:
            os.close(x)
        check(r.get("error") == "io.ioasid.Broker.LimitExceeded" and
              r["parameters"].get("limit") == "leases",
              "grant merge: max-leases 1 and 4 -> the tighter, with a lease held (%s)" % r)
        for x in held:
            os.close(x)
        c.close()
    finally:
        cat_stop(proc, tmp, "grant merge")


def run_catalogue(d, sock):
    """The blocks above, after run(): the shared daemon's checks, then those with their own."""
    pid = d.pid
    # The baseline once run()'s last connections are gone: the same count 5 times running.
    base, same = -1, 0
    for _ in range(100):
        n = fd_count(pid)
        same = same + 1 if n == base else 0
        base = n
        if same >= 4:
            break
        time.sleep(0.05)
    logp = os.path.join(os.path.dirname(d.args[d.args.index("--config") + 1]), "log")
    cat_C6_oversize(sock, pid, base)
    cat_D3_slowloris(sock, pid, base, logp)
    cat_E2_reload(d, sock, pid, base, logp)
    cat_B6_concurrent(sock, pid, base)
    cat_A12_memory()
    cat_C8_memory()
    cat_C1_C4_old_kernel()
    cat_E1_E4_E7_config()
    cat_grant_merge()
    check(serves(sock), "daemon still serves after the catalogue blocks")


if __name__ == "__main__":
    sys.exit(main())
