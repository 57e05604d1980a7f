#!/usr/bin/env python3
"""Cross-build the freestanding library (hcd/, core/, winusb/) for one CPU
and check what it needs from the world.

    cross_check.py --target aarch64 [--cc clang] [--sizes] SOURCE...

Compiles every SOURCE with clang --target for the CPU, -ffreestanding at
-O2 (and -Os for --sizes), links the objects into one relocatable object
with ld.lld -r, and fails when that object leaves any symbol undefined
beyond the ones the embedding guide allows (memcpy, memset, memmove,
memcmp; on armv7 also the ARM EABI forms of those and 32-bit division):
no other compiler runtime helper, such as 64-bit division on 32-bit CPUs. On armv7 the build also forbids unaligned accesses
(-mno-unaligned-access), so packed structures are read byte by byte.
With --sizes it prints the -Os text/data/bss of each layer.
"""
import argparse
import os
import subprocess
import sys
import tempfile

TARGETS = {
    "x86_64": ["--target=x86_64-unknown-none-elf", "-mno-red-zone", "-mgeneral-regs-only"],
    "i686": ["--target=i686-unknown-none-elf", "-mgeneral-regs-only"],
    "aarch64": ["--target=aarch64-unknown-none-elf", "-mgeneral-regs-only"],
    "riscv64": ["--target=riscv64-unknown-none-elf", "-march=rv64imac", "-mabi=lp64",
                "-mcmodel=medany"],
    "armv7": ["--target=armv7a-none-eabi", "-mfloat-abi=soft", "-mno-unaligned-access",
              # WinUSB's structures are byte-packed as Windows' headers have
              # them; with -mno-unaligned-access their fields are read byte
              # by byte, and -Waddress-of-packed-member (on by default)
              # still refuses a pointer into one.
              "-Wno-unaligned-access"],
}
ALLOWED = {"memcpy", "memset", "memmove", "memcmp"}
# The ARM EABI run-time (RTABI §4.3): the compiler calls the __aeabi_mem*
# forms of the four above for structure copies and clears, and, on ARMv7
# cores without the divide extension (Cortex-A8, A9), 32-bit division.
# Every ARM toolchain's libgcc or compiler-rt builtins has them. 64-bit
# division (__aeabi_uldivmod) is not allowed.
ALLOWED_EXTRA = {
    "armv7": {"__aeabi_memcpy", "__aeabi_memcpy4", "__aeabi_memcpy8",
              "__aeabi_memmove", "__aeabi_memmove4", "__aeabi_memmove8",
              "__aeabi_memset", "__aeabi_memset4", "__aeabi_memset8",
              "__aeabi_memclr", "__aeabi_memclr4", "__aeabi_memclr8",
              "__aeabi_uidiv", "__aeabi_uidivmod", "__aeabi_idiv", "__aeabi_idivmod"},
}
COMMON = ["-std=c11", "-ffreestanding", "-fno-common", "-fno-strict-aliasing",
          "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter"]


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        sys.stdout.write(" ".join(cmd) + "\n" + r.stdout)
        sys.exit(1)
    return r.stdout


def build(args, opt, tmp):
    objs = []
    for src in args.sources:
        obj = os.path.join(tmp, "%s-%s.o" % (src.replace("/", "_"), opt))
        run([args.cc] + TARGETS[args.target] + COMMON + [opt, "-I", args.include] +
            [f for d in args.private_include for f in ("-I", d)] + ["-c", src, "-o", obj])
        objs.append((src, obj))
    return objs


def undefined(objs, tmp):
    linked = os.path.join(tmp, "bareusb.o")
    run(["ld.lld", "-r", "-o", linked] + [o for _, o in objs])
    out = run(["llvm-nm", "-u", linked])
    return sorted({line.split()[-1] for line in out.splitlines() if line.strip()})


def layer_sizes(objs):
    sizes = {}
    for src, obj in objs:
        layer = os.path.basename(os.path.dirname(src))
        out = run(["llvm-size", obj]).splitlines()[1].split()
        t, d, b = (int(x) for x in out[:3])
        s = sizes.setdefault(layer, [0, 0, 0])
        s[0] += t; s[1] += d; s[2] += b
    return sizes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True, choices=sorted(TARGETS))
    ap.add_argument("--cc", default="clang")
    ap.add_argument("--include", required=True)
    ap.add_argument("--private-include", action="append", default=[])
    ap.add_argument("--sizes", action="store_true")
    ap.add_argument("sources", nargs="+")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        objs = build(args, "-O2", tmp)
        allowed = ALLOWED | ALLOWED_EXTRA.get(args.target, set())
        extra = [s for s in undefined(objs, tmp) if s not in allowed]
        print("%s: %d sources, undefined: %s" % (args.target, len(objs),
              ", ".join(undefined(objs, tmp)) or "none"))
        if extra:
            print("FAIL: %s needs symbols an embedder does not provide: %s" %
                  (args.target, ", ".join(extra)))
            return 1
        if args.sizes:
            for layer, (t, d, b) in sorted(layer_sizes(build(args, "-Os", tmp)).items()):
                print("  %-7s -Os text %6d data %5d bss %5d" % (layer, t, d, b))
    return 0


if __name__ == "__main__":
    sys.exit(main())
