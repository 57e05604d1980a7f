#!/usr/bin/env python3
"""Build guard: every public header in include/bareusb/ compiles on its own.

Each header is included alone (twice, to check its include guard) in a
translation unit compiled with the given compiler and flags. Prints TAP, one
line per header, so Meson reports each. Usage:

    header_check.py --include DIR --lang c|c++ -- COMPILER [ARGS...]
"""
import argparse
import os
import subprocess
import sys
import tempfile

FLAGS = {
    'c': ['-x', 'c', '-std=c11', '-ffreestanding'],
    'c++': ['-x', 'c++', '-std=c++11', '-ffreestanding'],
}
COMMON = ['-Wall', '-Wextra', '-Werror', '-pedantic-errors', '-fsyntax-only']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--include', required=True)
    ap.add_argument('--lang', choices=sorted(FLAGS), required=True)
    ap.add_argument('compiler', nargs='+')
    a = ap.parse_args()

    hdir = os.path.join(a.include, 'bareusb')
    headers = sorted(h for h in os.listdir(hdir) if h.endswith('.h'))
    if not headers:
        print('1..0 # SKIP no headers')
        return 0
    print('1..%d' % len(headers))
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, h in enumerate(headers, 1):
            src = os.path.join(tmp, 'tu.' + ('c' if a.lang == 'c' else 'cc'))
            with open(src, 'w') as f:
                f.write('#include "bareusb/%s"\n#include "bareusb/%s"\n'
                        'int bu_header_check_anchor;\n' % (h, h))
            cmd = a.compiler + FLAGS[a.lang] + COMMON + ['-I', a.include, src]
            r = subprocess.run(cmd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            if r.returncode == 0:
                print('ok %d - %s (%s)' % (i, h, a.lang))
            else:
                failed += 1
                print('not ok %d - %s (%s)' % (i, h, a.lang))
                for line in r.stdout.splitlines():
                    print('# ' + line)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
