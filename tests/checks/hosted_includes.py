#!/usr/bin/env python3
"""Build guard: no library source includes a hosted header.

Scans hcd/, core/, winusb/ and include/bareusb/ (*.c, *.h). An angle-bracket
include must name a freestanding header (C11 §4p6); a quoted include must be
a bareusb/ header or a file next to the including one. Prints TAP, one line
per file. Usage:

    hosted_includes.py --root SOURCE_ROOT
"""
import argparse
import os
import re
import sys

FREESTANDING = {'stdint.h', 'stddef.h', 'stdbool.h', 'stdarg.h', 'limits.h',
                'float.h', 'iso646.h', 'stdalign.h', 'stdnoreturn.h'}
DIRS = ('hcd', 'core', 'winusb', os.path.join('include', 'bareusb'))
INCLUDE = re.compile(r'^\s*#\s*include\s*(.*?)\s*(?://.*|/\*.*)?$')


def check_file(root, path):
    problems = []
    here = os.path.dirname(path)
    with open(path, encoding='utf-8', errors='replace') as f:
        for n, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            what = m.group(1)
            if what.startswith('<') and what.endswith('>'):
                name = what[1:-1].strip()
                if name not in FREESTANDING:
                    problems.append('%d: hosted header <%s>' % (n, name))
            elif what.startswith('"') and what.endswith('"'):
                name = what[1:-1]
                ok = (name.startswith('bareusb/') and os.path.isfile(
                    os.path.join(root, 'include', name))) or \
                    os.path.isfile(os.path.join(here, name))
                if not ok or name in FREESTANDING and \
                        not os.path.isfile(os.path.join(here, name)):
                    problems.append('%d: "%s" is not a bareusb header' % (n, name))
            else:
                problems.append('%d: computed include %s' % (n, what))
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--root', required=True)
    a = ap.parse_args()

    files = []
    for d in DIRS:
        top = os.path.join(a.root, d)
        for dirpath, _, names in os.walk(top):
            files += [os.path.join(dirpath, n) for n in sorted(names)
                      if n.endswith(('.c', '.h'))]
    files.sort()
    if not files:
        print('1..0 # SKIP no library sources')
        return 0
    print('1..%d' % len(files))
    failed = 0
    for i, path in enumerate(files, 1):
        rel = os.path.relpath(path, a.root)
        problems = check_file(a.root, path)
        if problems:
            failed += 1
            print('not ok %d - %s includes only freestanding headers' % (i, rel))
            for p in problems:
                print('# %s:%s' % (rel, p))
        else:
            print('ok %d - %s includes only freestanding headers' % (i, rel))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
