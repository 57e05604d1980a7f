#!/usr/bin/env python3
"""Build guard: the library leaks no symbol and needs no libc.

Reads `nm` of the freestanding build of the library. Every global symbol an
object defines must start with an allowed prefix (bu_, later WinUsb_ for the
WinUSB API), so the library links into a kernel with its own usb_* and
xhci_*; the only undefined symbols allowed are the four memory routines a
compiler may emit. Prints TAP. Usage:

    symbols.py --nm NM --lib LIBBAREUSB.a
"""
import argparse
import subprocess
import sys

PREFIXES = ('bu_', 'WinUsb_')
ALLOWED_UNDEFINED = {'memcpy', 'memset', 'memmove', 'memcmp'}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--nm', required=True)
    ap.add_argument('--lib', required=True)
    a = ap.parse_args()

    r = subprocess.run([a.nm, '-A', '-g', a.lib], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    print('1..3')
    if r.returncode != 0:
        print('not ok 1 - nm ran\n# ' + r.stderr.replace('\n', '\n# '))
        print('not ok 2 - # SKIP no nm output\nnot ok 3 - # SKIP no nm output')
        return 1
    print('ok 1 - nm ran')
    leaked, undefined, ndef, defined = [], [], 0, set()
    for line in r.stdout.splitlines():
        # "lib.a:obj.o:                 U memcpy" or "...:0000000000000000 T bu_x"
        loc, _, rest = line.rpartition(':')
        fields = rest.split()
        if len(fields) < 2:
            continue
        kind, name = fields[-2], fields[-1]
        obj = loc.split(':')[-1]
        if kind == 'U':
            if name not in ALLOWED_UNDEFINED:
                undefined.append((obj, name))
            continue
        defined.add(name)
        if kind in 'wv':
            if not name.startswith(PREFIXES):
                leaked.append('%s: %s (%s)' % (obj, name, kind))
        else:
            ndef += 1
            if not name.startswith(PREFIXES):
                leaked.append('%s: %s (%s)' % (obj, name, kind))
    # References between the library's own objects are fine.
    undefined = ['%s: %s' % u for u in undefined if u[1] not in defined]
    fails = 0
    if leaked:
        fails += 1
        print('not ok 2 - every global symbol starts with %s'
              % ' or '.join(PREFIXES))
        for s in leaked:
            print('# leaked: ' + s)
    else:
        print('ok 2 - all %d global symbols start with %s'
              % (ndef, ' or '.join(PREFIXES)))
    if undefined:
        fails += 1
        print('not ok 3 - only %s are undefined'
              % '/'.join(sorted(ALLOWED_UNDEFINED)))
        for s in undefined:
            print('# undefined: ' + s)
    else:
        print('ok 3 - only %s may be undefined'
              % '/'.join(sorted(ALLOWED_UNDEFINED)))
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
