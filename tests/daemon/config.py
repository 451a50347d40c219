#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Loading ioasid.conf against a local user (issue 11, section 3), with a real ioasidd on a
# temp socket and the sim kernel:
#   - a config path that resolves into a directory a user owns is refused at start, by
#     `ioasidd --check-config` and by `ioasidctl policy check`, with the same words naming
#     the directory;
#   - a symlink swapped to such a path before a SIGHUP: the reload fails, the failure is
#     logged naming the directory, the old generation stays, and the user is still denied;
#     a swap to a root-owned file then reloads;
#   - the config path replaced by a FIFO before a SIGHUP: the daemon does not block in
#     open(), another client's call is answered at once, the old generation stays;
#   - layouts with `accounting process` and no CAP_SYS_RESOURCE: ioasidd warns at start
#     naming the layouts and the rules, `ioasidd --check-config` says what it would mean,
#     `ioasidctl check` has a FAIL line with the fix.
#
# The scratch tree lives in a root-owned 0755 directory made under the temp dir (/tmp:
# root's and sticky, accepted by the daemon's rules; see ioasid.conf(5)). Needs root (it
# chowns a directory to another uid and runs a client as that uid).
#
# Usage: config.py BUILD_DIR

import json
import os
import shutil
import signal
import socket
import stat
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
IOASIDCTL = os.path.join(B, "ioasidctl")
HOST = os.path.join(REPO, "tests", "hosts", "sample.json")
USER = 4242  # owns a directory on the attacker's path; a client uid



def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def relink(target, link):
    """Points link at target atomically (rename over the old link), as an admin would."""
    tmp = link + ".new"
    os.symlink(target, tmp)
    os.rename(tmp, link)


class Daemon:
    def __init__(self, tmp, name, conf, pre=None):
        self.sock = os.path.join(tmp, name + ".sock")
        self.logpath = os.path.join(tmp, name + ".log")
        self.log = open(self.logpath, "w")
        self.p = subprocess.Popen((pre or []) + [IOASIDD, "--kernel=sim", "--host", HOST, "--config", conf,
                                                 "--socket", self.sock],
                                  stdout=self.log, stderr=subprocess.STDOUT)
        if wait_serving(self.logpath, self.p):
            os.chmod(self.sock, 0o666)  # USER's client

    def logtext(self):
        self.log.flush()
        return open(self.logpath).read()

    def call(self, method, params=None):
        c = Client(self.sock)
        try:
            return c.call(method, params)[0]
        finally:
            c.close()

    def generation(self):
        return self.call("io.ioasid.Manager.Status")["parameters"]["generation"]

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()



def refusal_line(text, path):
    """The 'PATH: Refusing it: ...' line of text, or None."""
    for line in text.splitlines():
        if line.startswith(path + ": Refusing it: "):
            return line[len(path) + 2:]
    return None


def test_start_refused(tmp):
    """A config path that resolves into a user's directory: the three callers refuse it alike."""
    conf = os.path.join(tmp, "etc", "start.conf")
    os.symlink(os.path.join(tmp, "home", "alice", "evil.conf"), conf)
    home = os.path.join(tmp, "home", "alice")
    want = "'%s' (reached through the symlink '%s') is a directory owned by uid %d, not root" % (home, conf, USER)

    d = Daemon(tmp, "start", conf)
    try:
        rc = d.p.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    out = d.logtext()
    d.stop()
    check(rc == 1, "ioasidd refuses to start on a config in a user's directory (rc %s)" % rc)
    check(refusal_line(out, conf) == "Refusing it: " + want, "ioasidd names the directory: %r" % out[-600:])

    r = subprocess.run([IOASIDD, "--check-config", "--config", conf], capture_output=True, text=True)
    check(r.returncode == 1, "--check-config exits 1 (%d)" % r.returncode)
    check(refusal_line(r.stderr, conf) == "Refusing it: " + want, "--check-config names it: %r" % r.stderr)

    r = subprocess.run([IOASIDCTL, "policy", "check", conf], capture_output=True, text=True)
    check(r.returncode == 1, "policy check exits 1 (%d)" % r.returncode)
    check(refusal_line(r.stderr, conf) == "Refusing it: " + want, "policy check names it: %r" % r.stderr)
    check("the text itself is valid" in r.stderr, "policy check still judges the text: %r" % r.stderr)
    r = subprocess.run([IOASIDCTL, "--json=short", "policy", "check", conf], capture_output=True, text=True)
    j = json.loads(r.stdout or "{}")
    check(j.get("valid") is False and j.get("content_valid") is True
          and j.get("error", {}).get("message") == "Refusing it: " + want, "policy check --json: %r" % r.stdout)


def test_swap_and_fifo(tmp):
    etc = os.path.join(tmp, "etc")
    conf = os.path.join(etc, "ioasid.conf")
    relink("v1.conf", conf)
    d = Daemon(tmp, "reload", conf)
    try:
        check(d.p.poll() is None and d.generation() == 1, "daemon serves generation 1")
        r = acquire_as(USER, d.sock, {"devices": ["0000:00:04.0"]})
        check(r.get("error") == "io.ioasid.Broker.PermissionDenied", "uid %d denied by v1: %r" % (USER, r))

        # The swap: the path now leads into alice's directory (the file there is even root's:
        # alice can replace it whenever she likes). Before the fix this loaded, and alice got
        # a device.
        relink(os.path.join(tmp, "home", "alice", "evil.conf"), conf)
        d.p.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        check(d.generation() == 1, "the refused reload keeps generation 1")
        r = acquire_as(USER, d.sock, {"devices": ["0000:00:04.0"]})
        check(r.get("error") == "io.ioasid.Broker.PermissionDenied", "uid %d still denied after the swap: %r" % (USER, r))
        log = d.logtext()
        check("Reload of '%s' failed" % conf in log and
              "'%s' (reached through the symlink '%s') is a directory owned by uid %d" %
              (os.path.join(tmp, "home", "alice"), conf, USER) in log,
              "the failed reload is logged naming the directory: %r" % log[-800:])
        r = d.call("io.ioasid.Manager.Reload")
        check(r.get("error") == "io.ioasid.Manager.ReloadFailed", "Reload says ReloadFailed: %r" % r)

        # A legitimate swap to another root-owned file reloads.
        relink("v2.conf", conf)
        d.p.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        check(d.generation() == 2, "a swap to a root-owned file reloads (generation 2)")

        # The FIFO: before the fix, open() blocked the event loop until a writer came.
        os.unlink(conf)
        os.mkfifo(conf, 0o644)
        d.p.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        t = time.monotonic()
        c = Client(d.sock)
        c.s.settimeout(2)
        try:
            r, _ = c.call("org.varlink.service.GetInfo")
        except (socket.timeout, OSError) as e:
            r = {"exception": str(e)}
        c.close()
        dt = time.monotonic() - t
        check(r.get("parameters", {}).get("product") == "ioasidd" and dt < 0.5,
              "another client answered promptly after SIGHUP with a FIFO config (%.3f s, %r)" % (dt, r))
        if "exception" in r:
            # Old code: release the daemon blocked in open() so the rest can run.
            try:
                os.close(os.open(conf, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
            time.sleep(0.2)
        check(d.generation() == 2, "the FIFO reload keeps generation 2")
        log = d.logtext()
        check("'%s' is a FIFO, not a regular file" % conf in log, "the FIFO is named in the log: %r" % log[-600:])
        check(d.p.poll() is None, "the daemon still runs")
    finally:
        d.stop()
        if os.path.lexists(conf):
            os.unlink(conf)


NO_SYS_RESOURCE = ["setpriv", "--inh-caps=-sys_resource", "--bounding-set=-sys_resource"]

ACCOUNTING = ("admin user 0\n"
              "layout vm { accounting process }\n"
              "layout plain { accounting user }\n"
              "allow uid 4242 to any layout vm,plain\n"
              "allow uid 0 to any layout vm\n")


def has_cap_sys_resource():
    for line in open("/proc/self/status"):
        if line.startswith("CapPrm:"):
            return bool(int(line.split()[1], 16) & (1 << 24))
    return False


def accounting_check(tmp, conf, sock):
    r = subprocess.run([IOASIDCTL, "--json=short", "--socket", sock, "--config", conf, "check"],
                       capture_output=True, text=True)
    try:
        checks = json.loads(r.stdout)["checks"]
    except (ValueError, KeyError):
        checks = []
    return [c for c in checks if c.get("id") == "accounting_capability"], r


def test_accounting(tmp):
    conf = os.path.join(tmp, "etc", "acct.conf")
    write(conf, ACCOUNTING)
    layouts = "'vm' (%s:2; granted by the rules at lines 4, 5)" % conf
    fix = "give ioasidd CAP_SYS_RESOURCE"

    # --check-config with the caller's capabilities, here without CAP_SYS_RESOURCE.
    r = subprocess.run(NO_SYS_RESOURCE + [IOASIDD, "--check-config", "--config", conf], capture_output=True, text=True)
    check(r.returncode == 0, "--check-config passes the file (%d)" % r.returncode)
    check(("%s: warning: layouts %s use 'accounting process'" % (conf, layouts)) in r.stderr and
          "an ioasidd started with the same capabilities would fail every Acquire" in r.stderr and fix in r.stderr,
          "--check-config says what a missing CAP_SYS_RESOURCE means: %r" % r.stderr)
    other = os.path.join(tmp, "etc", "user-acct.conf")
    write(other, "layout plain { accounting user }\nallow uid 4242 to any layout plain\n")
    r = subprocess.run(NO_SYS_RESOURCE + [IOASIDD, "--check-config", "--config", other], capture_output=True, text=True)
    check(r.returncode == 0 and r.stderr == "", "no warning without process accounting: %r" % r.stderr)

    d = Daemon(tmp, "acct", conf, pre=NO_SYS_RESOURCE)
    try:
        check(d.p.poll() is None, "daemon without CAP_SYS_RESOURCE starts")
        log = d.logtext()
        check(("Layouts %s use 'accounting process', which needs CAP_SYS_RESOURCE: ioasidd lacks it, "
               "so every Acquire with them fails" % layouts) in log and fix in log,
              "the daemon warns at start naming layout and rules: %r" % log[-800:])
        # What the warning is about.
        r = d.call("io.ioasid.Broker.Acquire", {"devices": ["0000:00:04.0"], "layout": "vm"})
        check(r.get("error") == "io.ioasid.Broker.SystemError" and r.get("parameters", {}).get("errnoName") == "EPERM",
              "an Acquire with the layout fails with EPERM: %r" % r)
        lines, res = accounting_check(tmp, conf, d.sock)
        check(len(lines) == 1 and lines[0]["result"] == "fail" and
              ("ioasidd (pid %d) lacks CAP_SYS_RESOURCE" % d.p.pid) in (lines[0].get("hint") or "") and
              layouts in lines[0]["hint"] and fix in lines[0]["hint"],
              "check has a FAIL line naming the layouts and the fix: %r %r" % (lines, res.stderr[-300:]))
        # Without any process-accounting layout, no line.
        lines, _ = accounting_check(tmp, other, d.sock)
        check(lines == [], "no accounting line without process accounting: %r" % lines)
    finally:
        d.stop()
    # No daemon: a note, not a verdict.
    lines, _ = accounting_check(tmp, conf, os.path.join(tmp, "none.sock"))
    check(len(lines) == 1 and lines[0]["result"] == "note", "no daemon: a note: %r" % lines)

    if not has_cap_sys_resource():
        print("config: SKIPPED the CAP_SYS_RESOURCE-held side (this process lacks the capability)")
        return
    d = Daemon(tmp, "acct-cap", conf)
    try:
        check("which needs CAP_SYS_RESOURCE" not in d.logtext(), "no warning with the capability")
        lines, _ = accounting_check(tmp, conf, d.sock)
        check(len(lines) == 1 and lines[0]["result"] == "pass", "check passes with the capability: %r" % lines)
    finally:
        d.stop()


def main():
    for f in (IOASIDD, IOASIDCTL):
        if not os.path.exists(f):
            print("SKIPPED: %s not built" % f)
            return 0
    if os.geteuid() != 0:
        print("SKIPPED: needs root (chown to uid %d, clients as that uid)" % USER)
        return 0
    base = tempfile.mkdtemp(prefix="ioasidd-config-")
    try:
        # root's, 0755 (USER must reach the socket); its parent is the sticky temp dir.
        os.chmod(base, 0o755)
        os.makedirs(os.path.join(base, "etc"), 0o755)
        os.makedirs(os.path.join(base, "home", "alice"), 0o755)
        os.chown(os.path.join(base, "home", "alice"), USER, USER)
        policy = "admin user 0\nallow uid 0-0 to any mode attached,unbound group implicit\ndeny *\n"
        write(os.path.join(base, "etc", "v1.conf"), policy)
        write(os.path.join(base, "etc", "v2.conf"), policy + "# v2\n")
        write(os.path.join(base, "home", "alice", "evil.conf"),
              "admin user 0\nallow uid %d to any mode attached,unbound group implicit\n" % USER)
        test_start_refused(base)
        test_swap_and_fifo(base)
        test_accounting(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("daemon-config: %d passed, %d failed" % (adversarial.passed, adversarial.failed))
    return 1 if adversarial.failed else 0


if __name__ == "__main__":
    sys.exit(main())
