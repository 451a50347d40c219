#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The service contract of units/ioasidd.service, exercised without systemd as PID 1:
#   - socket activation: systemd-socket-activate holds the listening socket (as
#     ioasidd.socket does) and starts the daemon on the first connection, which the
#     daemon then serves (Varlink org.varlink.service.GetInfo);
#   - the capability set of CapabilityBoundingSet= (CAP_SYS_RESOURCE CAP_KILL) and
#     NoNewPrivileges=, applied with setpriv: the daemon starts and serves under them;
#   - Type=notify: READY=1 arrives on $NOTIFY_SOCKET;
#   - WatchdogSec=: with $WATCHDOG_USEC set, WATCHDOG=1 pings arrive;
#   - ExecReload= (SIGHUP): RELOADING=1 then READY=1, and the daemon still serves;
#   - stop (SIGTERM): STOPPING=1 and exit status 0;
#   - G5: with the socket's owner and mode as ioasidd.socket sets them, a uid outside the
#     group gets EACCES at connect() and the daemon is not started; a member connects.
#
# Usage: activation.py IOASIDD HOST_JSON CONFIG
# Prints one "PASS: ..."/"FAIL: ..." line per check and exits 1 when any failed.

import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

CAPS = ("sys_resource", "kill")
CAP_BITS = {"sys_resource": 24, "kill": 5}

failed = 0


def report(ok, what):
    global failed
    print(("PASS: " if ok else "FAIL: ") + what)
    if not ok:
        failed += 1


def varlink_call(path, method, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(('{"method":"%s"}' % method).encode() + b"\0")
        buf = b""
        while b"\0" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf.split(b"\0")[0].decode(errors="replace")
    finally:
        s.close()


# A gid no account has (it needs no /etc/group entry): stands in for SocketGroup=ioasid.
TEST_GID = 4242
NOBODY = 65534


def connect_as(path, groups):
    """connect() to path as uid/gid 65534 with the given supplementary groups; returns
    "ok", an errno name, or a description of what went wrong."""
    code = ("import errno, socket, sys\n"
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
            "try:\n"
            "    s.connect(sys.argv[1])\n"
            "except OSError as e:\n"
            "    print(errno.errorcode.get(e.errno, e.errno)); sys.exit(0)\n"
            "print('ok')\n")
    grp = ["--groups=" + ",".join(str(g) for g in groups)] if groups else ["--clear-groups"]
    try:
        out = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY] + grp +
                             ["--", sys.executable, "-c", code, path],
                             capture_output=True, timeout=10, text=True)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "error: %s" % e
    return out.stdout.strip() or "error: " + out.stderr.strip()[-80:]


def wait_notify(sock, want, deadline):
    """Collects datagrams until one contains the line `want` or the deadline passes."""
    seen = []
    while time.monotonic() < deadline:
        r, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        msg = sock.recv(4096).decode(errors="replace")
        seen.append(msg)
        if want in msg.split("\n"):
            return True, seen
    return False, seen


def main():
    if len(sys.argv) != 4:
        print("Usage: activation.py IOASIDD HOST_JSON CONFIG", file=sys.stderr)
        return 2
    ioasidd, host, config = sys.argv[1:]

    tmp = tempfile.mkdtemp(prefix="ioasid-units-")
    sock_path = os.path.join(tmp, "ioasidd.sock")
    notify_path = os.path.join(tmp, "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)

    cmd = ["systemd-socket-activate", "-l", sock_path,
           "-E", "NOTIFY_SOCKET=" + notify_path,
           "-E", "WATCHDOG_USEC=400000",
           "setpriv", "--bounding-set=-all," + ",".join("+" + c for c in CAPS),
           "--inh-caps=-all", "--no-new-privs", "--",
           ioasidd, "--kernel=sim", "--host=" + host, "--config=" + config]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        # The socket exists before the daemon runs: that is the point of activation.
        deadline = time.monotonic() + 5
        while not os.path.exists(sock_path) and time.monotonic() < deadline:
            time.sleep(0.02)
        report(os.path.exists(sock_path), "activation: socket listens before the daemon runs")

        # G5: the socket as ioasidd.socket makes it (root:GROUP 0660): a uid outside the
        # group gets EACCES at connect() and the daemon is not even started; a member
        # connects. Needs root to switch uids.
        if os.geteuid() == 0:
            os.chmod(tmp, 0o755)
            os.chown(sock_path, 0, TEST_GID)
            os.chmod(sock_path, 0o660)
            outsider = connect_as(sock_path, [])
            report(outsider == "EACCES", "G5: a uid outside SocketGroup gets %s at connect()"
                   % outsider)
            ok, seen = wait_notify(notify, "READY=1", time.monotonic() + 0.5)
            report(not ok and not seen, "G5: the refused connection did not start the daemon")
            member = connect_as(sock_path, [TEST_GID])
            report(member == "ok", "G5: a member of SocketGroup connects (%s)" % member)
        else:
            print("SKIPPED: G5: not root, cannot connect as another uid")

        reply = ""
        try:
            reply = varlink_call(sock_path, "org.varlink.service.GetInfo")
        except OSError as e:
            reply = "error: %s" % e
        report('"product"' in reply or '"vendor"' in reply,
               "activation: a connection starts ioasidd and it serves GetInfo (%s)"
               % reply[:60].replace("\n", " "))

        ok, seen = wait_notify(notify, "READY=1", time.monotonic() + 5)
        report(ok, "Type=notify: READY=1 received")
        ok, _ = wait_notify(notify, "WATCHDOG=1", time.monotonic() + 2)
        report(ok, "WatchdogSec=: WATCHDOG=1 pings with WATCHDOG_USEC set")

        # What the running daemon holds: nothing beyond the unit's bounding set.
        status = {}
        try:
            with open("/proc/%d/status" % proc.pid) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    status[k] = v.strip()
        except OSError:
            pass
        # Our own bounding set limits what the child can get (a container may lack
        # CAP_SYS_RESOURCE; the daemon then falls back to per-user accounting).
        mine = 0
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    mine = int(line.split()[1], 16)
        allowed = sum(1 << CAP_BITS[c] for c in CAPS) & mine
        for c in CAPS:
            if not mine & (1 << CAP_BITS[c]):
                print("NOTE: this environment has no CAP_%s to give the daemon" % c.upper())
        bnd = int(status.get("CapBnd", "ffffffffffffffff"), 16)
        eff = int(status.get("CapEff", "ffffffffffffffff"), 16)
        report(bnd == allowed and (eff & ~allowed) == 0 and status.get("NoNewPrivs") == "1",
               "capabilities: CapBnd=%s CapEff=%s NoNewPrivs=%s under the unit's set"
               % (status.get("CapBnd"), status.get("CapEff"), status.get("NoNewPrivs")))

        # ExecReload=/bin/kill -HUP $MAINPID
        os.kill(proc.pid, signal.SIGHUP)
        ok1, seen = wait_notify(notify, "RELOADING=1", time.monotonic() + 5)
        ok2 = any("READY=1" in m.split("\n") for m in seen[1:]) or \
            wait_notify(notify, "READY=1", time.monotonic() + 5)[0]
        report(ok1 and ok2, "ExecReload= (SIGHUP): RELOADING=1 then READY=1")
        try:
            reply = varlink_call(sock_path, "org.varlink.service.GetInfo")
        except OSError as e:
            reply = "error: %s" % e
        report('"product"' in reply or '"vendor"' in reply, "after reload the daemon serves")

        proc.send_signal(signal.SIGTERM)
        ok, _ = wait_notify(notify, "STOPPING=1", time.monotonic() + 5)
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        report(ok and rc == 0, "stop (SIGTERM): STOPPING=1 and exit status %s" % rc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        proc.stderr.close()
        notify.close()
        for f in (sock_path, notify_path):
            try:
                os.unlink(f)
            except OSError:
                pass
        os.rmdir(tmp)
        if failed and err:
            print("  ioasidd stderr:\n" + "".join("    " + l + "\n" for l in err.splitlines()[-20:]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
