#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""ioasidctl monitor on a umockdev test bed: hotplug and driver changes as udev reports them.

    LD_PRELOAD=libumockdev-preload.so.0 /usr/bin/python3 tests/live/monitor-bed.py B BED

BED is a kept test bed of tests/hosts/sample.json (build/mktestbed sample.json BED). Run
under the preload (UMOCKDEV_DIR unset: the preload passes everything through until the
UMockdev.Testbed made here sets it), so umockdev's uevent sender reads the bed's sysfs.
ioasidd --kernel=linux runs under the same bed (its live host model, its udev monitor) with
an admin's `ioasidctl monitor --json` subscribed; the bed is changed as the kernel would
change sysfs and umockdev emits the uevent udev would broadcast:
  1. 0000:00:03.0's vfio-dev file removed (a device leaving vfio-pci): device-remove under
     the PCI function's address;
  2. 0000:01:02.0 (group 5, with 0000:01:01.0 on vfio-pci) rebound to e1000e:
     device-bind, and group 5 becomes not-viable;
  3. 0000:00:04.0 (alone in group 4) hot-removed: device-remove, group 4 no-iommu;
  4. plugged back: device-add, group 4 viable.
Prints "ok"/"FAIL" lines and "monitor-bed: N passed, N failed"; exit 1 on a failure.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402

B, BED = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(what, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"  ok   {what}")
    else:
        failed += 1
        print(f"  FAIL {what}{': ' + detail if detail else ''}")


tb = UMockdev.Testbed.new()
root = tb.get_root_dir()
subprocess.run(["cp", "-a", BED + "/.", root], check=True)
work = tempfile.mkdtemp(prefix="ioasid-monitor-bed.")
pol = os.path.join(work, "ioasid.conf")
with open(pol, "w") as f:
    f.write("admin uid 0\n")
sock = os.path.join(work, "ioasidd.sock")
denv = dict(os.environ, UMOCKDEV_DIR=root, LD_PRELOAD="libumockdev-preload.so.0")
cenv = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "UMOCKDEV_DIR")}
dlog = open(os.path.join(work, "ioasidd.log"), "w")
daemon = subprocess.Popen([f"{B}/ioasidd", "--kernel=linux", f"--config={pol}",
                           f"--socket={sock}"], env=denv, stdout=dlog, stderr=subprocess.STDOUT)
mout = os.path.join(work, "monitor.out")
merr = os.path.join(work, "monitor.err")
mon = None


def wait_for(cond, tenths=100):
    for _ in range(tenths):
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def events():
    try:
        with open(mout) as f:
            return [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        return []


def seen(**kv):
    return any(all(e.get(k) == v for k, v in kv.items()) for e in events())


def sysfs(path):
    return os.path.join(root, path.lstrip("/"))


try:
    check("ioasidd serves on the live host model of the bed",
          wait_for(lambda: os.path.exists(sock)), open(os.path.join(work, "ioasidd.log")).read())
    mon = subprocess.Popen([f"{B}/ioasidctl", f"--socket={sock}", "monitor", "--json"],
                           env=cenv, stdout=open(mout, "w"), stderr=open(merr, "w"))
    check("monitor subscribed", wait_for(lambda: "Monitoring" in open(merr).read()))

    # 1. vfio-pci's remove: the vfio-dev file goes first (the PCI function stays).
    dev3 = "/sys/devices/pci0000:00/0000:00:03.0"
    tb.uevent(dev3 + "/vfio-dev/vfio0", "remove")
    shutil.rmtree(sysfs(dev3 + "/vfio-dev"))
    os.unlink(sysfs("/sys/class/vfio-dev/vfio0"))
    check("vfio-dev removal: device-remove under the PCI function's address",
          wait_for(lambda: seen(event="device-remove", bdf="0000:00:03.0")), str(events()))

    # 2. 0000:01:02.0 rebound to a host driver: its group has a member on e1000e.
    dev = "/sys/devices/pci0000:00/0000:00:05.0/0000:01:02.0"
    os.makedirs(sysfs("/sys/bus/pci/drivers/e1000e"), exist_ok=True)
    shutil.rmtree(sysfs(dev + "/vfio-dev"), ignore_errors=True)
    os.unlink(sysfs(dev + "/driver"))
    os.symlink("../../../../bus/pci/drivers/e1000e", sysfs(dev + "/driver"))
    with open(sysfs(dev + "/uevent")) as f:
        ue = f.read()
    with open(sysfs(dev + "/uevent"), "w") as f:
        f.write(ue.replace("DRIVER=vfio-pci", "DRIVER=e1000e"))
    tb.uevent(dev, "bind")
    check("rebind: device-bind", wait_for(lambda: seen(event="device-bind", bdf="0000:01:02.0")),
          str(events()))
    check("rebind: group 5 not-viable",
          wait_for(lambda: seen(event="group-viability-changed", group=5, verdict="not-viable")),
          str(events()))

    # 3. 0000:00:04.0 hot-removed: udev's remove event (sent while umockdev can still read
    # the device), then sysfs without it, as the rescan after the event sees it.
    dev4 = "/sys/devices/pci0000:00/0000:00:04.0"
    keep = tempfile.mkdtemp(prefix="dev4.", dir=work)
    subprocess.run(["cp", "-a", sysfs(dev4), keep], check=True)
    subprocess.run(["cp", "-a", sysfs("/sys/kernel/iommu_groups/4"), keep], check=True)
    link = os.readlink(sysfs("/sys/bus/pci/devices/0000:00:04.0"))
    os.unlink(sysfs("/sys/bus/pci/devices/0000:00:04.0"))
    shutil.rmtree(sysfs("/sys/kernel/iommu_groups/4"))
    tb.uevent(dev4, "remove")
    shutil.rmtree(sysfs(dev4))
    check("removal: device-remove", wait_for(lambda: seen(event="device-remove", bdf="0000:00:04.0")),
          str(events()))
    check("removal: group 4 no-iommu",
          wait_for(lambda: seen(event="group-viability-changed", group=4, verdict="no-iommu")),
          str(events()))

    # 4. Plugged back.
    subprocess.run(["cp", "-a", os.path.join(keep, "0000:00:04.0"), sysfs("/sys/devices/pci0000:00/")],
                   check=True)
    subprocess.run(["cp", "-a", os.path.join(keep, "4"), sysfs("/sys/kernel/iommu_groups/")], check=True)
    os.symlink(link, sysfs("/sys/bus/pci/devices/0000:00:04.0"))
    tb.uevent(dev4, "add")
    check("plugged back: device-add", wait_for(lambda: seen(event="device-add", bdf="0000:00:04.0")),
          str(events()))
    check("plugged back: group 4 viable",
          wait_for(lambda: [e for e in events() if e.get("group") == 4][-1:] ==
                   [{"event": "group-viability-changed", "group": 4, "verdict": "viable"}]),
          str(events()))
    check("each line one JSON object with an event", all("event" in e for e in events()) and
          len(events()) == sum(1 for line in open(mout) if line.strip()))
finally:
    if mon:
        mon.terminate()
        mon.wait()
    daemon.terminate()
    daemon.wait()
    if failed:
        print("  monitor: " + open(mout).read().replace("\n", " | ") if os.path.exists(mout) else "")
        print("  ioasidd: " + open(os.path.join(work, "ioasidd.log")).read().replace("\n", " | "))
    shutil.rmtree(work, ignore_errors=True)
print(f"monitor-bed: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
