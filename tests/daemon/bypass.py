#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The test-only build switch (make TESTING_BYPASS=1): --testing-bypass-ownership skips the
# daemon's group bookkeeping, so a second tenant's request for a sibling in an owned group
# reaches the (sim) kernel, whose BIND refuses it (B1/B6 "with daemon bookkeeping
# bypassed"). A normal build must not know the option.
#
# Usage: bypass.py NORMAL_BUILD_DIR BYPASS_BUILD_DIR

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adversarial  # noqa: E402
from adversarial import Client, check, wait_serving  # noqa: E402


def path(b):
    return os.path.join(b if os.path.isabs(b) else os.path.join(adversarial.REPO, b), "ioasidd")


def main():
    normal, bypass = path(sys.argv[1]), path(sys.argv[2])
    for p in (normal, bypass):
        if not os.path.exists(p):
            print("daemon-bypass: SKIPPED: %s not built" % p)
            return 0
    r = subprocess.run([normal, "--testing-bypass-ownership", "--check-config"], capture_output=True)
    check(r.returncode == 64, "a normal build refuses --testing-bypass-ownership (exit %d)" % r.returncode)
    r = subprocess.run([bypass, "--help"], capture_output=True, text=True)
    check("--testing-bypass-ownership" in r.stdout, "the test build documents the option")

    tmp = tempfile.mkdtemp(prefix="ioasidd-bypass-")
    conf = os.path.join(tmp, "c.conf")
    with open(conf, "w") as f:
        f.write("admin user 0\nallow uid 0-0 to any mode attached,unbound group implicit\n")
    os.chmod(conf, 0o644)
    sock = os.path.join(tmp, "s.sock")
    host = os.path.join(adversarial.REPO, "tests", "hosts", "sample.json")
    log = open(os.path.join(tmp, "log"), "w")
    d = subprocess.Popen([bypass, "--kernel=sim", "--host", host, "--config", conf, "--socket", sock,
                          "--testing-bypass-ownership"], stderr=log)
    try:
        wait_serving(os.path.join(tmp, "log"), d)
        a, b = Client(sock), Client(sock)
        r, fa = a.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:01.0"]})
        check("parameters" in r and len(fa) == 2, "first tenant gets 0000:01:01.0")
        # Group 5 is owned by a's iommufd context: the kernel refuses b's bind.
        r, fb = b.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:02.0"]})
        check(r.get("error") == "io.ioasid.Broker.DeviceBusy" and "device-bind" in r["parameters"].get("reason", "")
              and not fb, "sibling for another tenant: the kernel's BIND refuses it (%s)" % r)
        r, fb = b.call("io.ioasid.Broker.Acquire", {"devices": ["0000:01:01.0"]})
        check(r.get("error") == "io.ioasid.Broker.DeviceBusy" and not fb, "same device twice: refused by the kernel")
        for f in fa:
            os.close(f)
        a.close()
        b.close()
    finally:
        d.send_signal(signal.SIGTERM)
        d.wait(5)
        log.close()
        if adversarial.failed:
            print(open(os.path.join(tmp, "log")).read()[-2000:], file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    print("daemon-bypass: %d passed, %d failed" % (adversarial.passed, adversarial.failed))
    return 1 if adversarial.failed else 0


if __name__ == "__main__":
    sys.exit(main())
