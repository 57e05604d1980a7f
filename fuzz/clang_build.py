#!/usr/bin/env python3
"""Build pieces of the libFuzzer harnesses with clang (Meson's -Dfuzz).

Meson compiles the project with one C compiler (often gcc), while libFuzzer
needs clang, so the fuzz binaries are built here from custom targets:

  clang_build.py archive OUT.a CC FLAG... -- SOURCE...
      compile each source with the flags (two at a time) and archive them;
  clang_build.py link OUT CC FLAG... -- INPUT...
      compile and link the inputs (harness sources, archives) in one step;
  clang_build.py check CC
      exit 0 when CC can build a libFuzzer program with ASan and UBSan.
"""
import concurrent.futures
import os
import subprocess
import sys


def split_args(argv):
    if '--' not in argv:
        sys.exit('clang_build.py: missing --')
    i = argv.index('--')
    return argv[:i], argv[i + 1:]


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        sys.stderr.write(' '.join(cmd) + '\n' + r.stdout)
        sys.exit(r.returncode)
    if r.stdout:
        sys.stderr.write(r.stdout)


def archive(out, cc, flags, sources):
    objdir = out + '.objs'
    os.makedirs(objdir, exist_ok=True)
    objs = []
    jobs = []
    for i, src in enumerate(sources):
        # Sources of different directories may share a name (winusb.c).
        obj = os.path.join(objdir, '%02d_%s.o' % (i, os.path.basename(src)))
        objs.append(obj)
        jobs.append([cc] + flags + ['-c', src, '-o', obj])
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run, jobs))
    if os.path.exists(out):
        os.unlink(out)
    run(['ar', 'rcs', out] + objs)


def check(cc):
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, 'f.c')
        with open(src, 'w') as f:
            f.write('#include <stddef.h>\n#include <stdint.h>\n'
                    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)'
                    '{ (void)d; (void)n; return 0; }\n')
        r = subprocess.run([cc, '-fsanitize=fuzzer,address,undefined', src, '-o',
                            os.path.join(d, 'f')], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        sys.exit(r.returncode)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == 'check':
        check(sys.argv[2])
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    mode, out, cc = sys.argv[1:4]
    flags, inputs = split_args(sys.argv[4:])
    if mode == 'archive':
        archive(out, cc, flags, inputs)
    elif mode == 'link':
        run([cc] + flags + inputs + ['-o', out])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
