#!/usr/bin/env python3
"""Build guard: every Windows program in tests/winapp is a Windows program.

Each .c file there is compiled with MinGW-w64's x86_64-w64-mingw32-gcc
against MinGW's own Windows headers (no bareusb include path at all),
-std=c11 -Wall -Wextra -Werror, and, when it has an entry point, linked
against setupapi and winusb into a .exe; with x86_64-w64-mingw32-g++ the
same again as C++11. Prints TAP, one line per file and language. A missing
compiler is a failure (scripts/test installs gcc-mingw-w64-x86-64).

    mingw_check.py --apps DIR --out DIR
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

ENTRY = re.compile(r'^\s*int\s+(__cdecl\s+)?(main|wmain|_tmain)\s*\(', re.M)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--apps', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    sources = sorted(f for f in os.listdir(a.apps) if f.endswith('.c'))
    compilers = [('c', 'x86_64-w64-mingw32-gcc', ['-std=c11']),
                 ('c++', 'x86_64-w64-mingw32-g++', ['-std=c++11', '-x', 'c++'])]
    lines = []
    os.makedirs(a.out, exist_ok=True)
    for lang, cc, std in compilers:
        found = shutil.which(cc)
        for src in sources:
            name = f'{src} ({lang}, {cc})'
            if not found:
                lines.append((False, name, f'{cc} not found: apt-get install gcc-mingw-w64-x86-64'
                              + (' g++-mingw-w64-x86-64' if lang == 'c++' else '')))
                continue
            path = os.path.join(a.apps, src)
            with open(path, encoding='utf-8') as f:
                has_entry = ENTRY.search(f.read()) is not None
            base = os.path.join(a.out, os.path.splitext(src)[0] + ('-cxx' if lang == 'c++' else ''))
            cmd = [cc] + std + ['-Wall', '-Wextra', '-Werror', '-I', a.apps, path]
            cmd += ['-o', base + '.exe', '-lsetupapi', '-lwinusb'] if has_entry else \
                ['-c', '-o', base + '.o']
            r = subprocess.run(cmd, capture_output=True, text=True)
            lines.append((r.returncode == 0, name, (r.stdout + r.stderr).strip()))
    print(f'1..{len(lines)}')
    for n, (ok, name, why) in enumerate(lines, 1):
        print(f'{"ok" if ok else "not ok"} {n} - {name}')
        if not ok:
            for w in why.splitlines()[:30]:
                print('# ' + w)
    return 0 if all(ok for ok, _, _ in lines) else 1


if __name__ == '__main__':
    sys.exit(main())
