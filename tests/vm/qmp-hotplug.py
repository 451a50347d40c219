#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Host half of the hotplug scenario (tests/vm HOT): QEMU's hands.

    qmp-hotplug.py SERIAL_LOG QMP_SOCKET OUT

Connects to QEMU's QMP socket (-qmp unix:...,server=on,wait=off), follows the guest's serial
log and, for each line the guest prints
    VMHOTPLUG device_del ID
    VMHOTPLUG device_add driver=edu,id=ID,bus=PORT[,key=value...]
issues that QMP command. A device_add refused with "Duplicate ID" (QEMU still finishing the
removal the guest saw) is retried for a few seconds. Every command, reply and QMP event
(DEVICE_DELETED ...) is written to OUT, one line each. Ends when QEMU closes the socket or
the log has VMTEST-END. The guest learns the outcome only from its own sysfs.
"""
import json
import os
import select
import socket
import sys
import time


def main():
    log_path, sock_path, out_path = sys.argv[1:4]
    out = open(out_path, "w", buffering=1)

    def note(text):
        out.write(f"{time.strftime('%H:%M:%S')} {text}\n")

    s = None
    for _ in range(600):  # QEMU creates the socket as it starts
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sock_path)
            break
        except OSError:
            s.close()
            s = None
            time.sleep(0.1)
    if s is None:
        note(f"FAIL cannot connect to {sock_path}")
        return 1
    buf = b""

    def read_msg(timeout):
        """One JSON message from QMP, None on timeout, raises EOFError when QEMU is gone."""
        nonlocal buf
        end = time.monotonic() + timeout
        while b"\n" not in buf:
            left = end - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([s], [], [], left)
            if not r:
                return None
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        return json.loads(line)

    def execute(cmd, args=None):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        note(f"-> {json.dumps(msg)}")
        s.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            m = read_msg(30)
            if m is None:
                note("FAIL no reply in 30 s")
                return None
            note(f"<- {json.dumps(m)}")
            if "return" in m or "error" in m:
                return m

    try:
        note(f"<- {json.dumps(read_msg(30))}")  # the greeting
        execute("qmp_capabilities")
        while not os.path.exists(log_path):
            time.sleep(0.1)
        log = open(log_path, "rb")
        pending = b""
        while True:
            m = read_msg(0.2)  # events between commands
            if m is not None:
                note(f"<- {json.dumps(m)}")
            pending += log.read()
            while b"\n" in pending:
                raw, pending = pending.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").strip("\r")
                if line.startswith("VMTEST-END"):
                    note("guest finished")
                    return 0
                if not line.startswith("VMHOTPLUG "):
                    continue
                words = line.split()
                if len(words) == 3 and words[1] == "device_del":
                    execute("device_del", {"id": words[2]})
                elif len(words) == 3 and words[1] == "device_add":
                    args = dict(kv.split("=", 1) for kv in words[2].split(",") if "=" in kv)
                    for _ in range(50):
                        r = execute("device_add", args)
                        if not r or "error" not in r or "Duplicate" not in r["error"].get("desc", ""):
                            break
                        time.sleep(0.2)
                else:
                    note(f"FAIL unknown request: {line}")
    except EOFError:
        note("QEMU closed the socket")
        return 0


if __name__ == "__main__":
    sys.exit(main())
