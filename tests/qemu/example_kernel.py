#!/usr/bin/env python3
"""The example kernel (examples/kernel) built exactly as docs/embedding.md
says, by the Makefile route, then booted in QEMU with a USB stick: it must
enumerate the stick and read its INQUIRY data over bulk endpoints (TAP).

    example_kernel.py --root SRC --qemu QEMU --build DIR [--timeout S]
"""
import argparse
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--timeout", type=int, default=120)
    a = ap.parse_args()
    kdir = os.path.join(a.root, "examples", "kernel")
    make = ["make", "-C", kdir, "O=" + os.path.abspath(a.build),
            "BAREUSB_DIR=" + os.path.abspath(a.root), "QEMU=" + a.qemu]
    print("1..3")
    b = subprocess.run(make + ["-j2"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    warnings = [l for l in b.stdout.splitlines() if "warning:" in l]
    ok = b.returncode == 0
    print("%s 1 - make builds kernel.elf from bareusb.mk" % ("ok" if ok else "not ok"))
    if not ok:
        for line in b.stdout.splitlines()[-30:]:
            print("# " + line)
        print("not ok 2 - boots # not built")
        print("not ok 3 - no warnings # not built")
        return 1
    print("%s 2 - library and kernel compile without a warning at -Wall -Wextra"
          % ("not ok" if warnings else "ok"))
    for line in warnings[:20]:
        print("# " + line)
    try:
        r = subprocess.run(make + ["-s", "run"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=a.timeout)
        out = r.stdout
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
        out += "\n(timed out after %d s)" % a.timeout
    lines = [l.rstrip("\r") for l in out.splitlines()]
    inquiry = [l for l in lines if l.startswith("example: INQUIRY vendor")]
    ok = "example: PASS" in lines and inquiry and "QEMU HARDDISK" in inquiry[0]
    print("%s 3 - boots, enumerates the stick and reads INQUIRY over bulk" %
          ("ok" if ok else "not ok"))
    for line in lines:
        print("# " + line)
    return 0 if ok and not warnings else 1


if __name__ == "__main__":
    sys.exit(main())
