#!/usr/bin/env python3
"""Build guard: the library links into a -nostdlib -static executable.

Every object of the freestanding build of the library (compiled with
lib_c_args only, no sanitizers) is linked whole-archive together with a stub
that provides nothing but _start, memcpy, memset, memmove and memcmp. Any
other unresolved symbol (a libc or libgcc call the library must not make)
fails the link. Usage:

    freestanding_link.py --lib LIBBAREUSB.a --stub STUB.c --out DIR -- CC [ARGS...]
"""
import argparse
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--lib', required=True)
    ap.add_argument('--stub', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('compiler', nargs='+')
    a = ap.parse_args()

    os.makedirs(a.out, exist_ok=True)
    exe = os.path.join(a.out, 'freestanding-link.elf')
    cmd = a.compiler + [
        '-std=c11', '-ffreestanding', '-fno-builtin', '-O2',
        '-fno-stack-protector',
        '-nostdlib', '-static', '-no-pie', '-o', exe, a.stub,
        '-Wl,--whole-archive', a.lib, '-Wl,--no-whole-archive',
    ]
    print('1..1')
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode != 0:
        print('not ok 1 - library links -nostdlib -static with only '
              'memcpy/memset/memmove/memcmp provided')
        print('# ' + ' '.join(cmd))
        for line in r.stdout.splitlines():
            print('# ' + line)
        return 1
    print('ok 1 - library links -nostdlib -static with only '
          'memcpy/memset/memmove/memcmp provided (%d bytes)'
          % os.path.getsize(exe))
    return 0


if __name__ == '__main__':
    sys.exit(main())
