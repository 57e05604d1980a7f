#!/usr/bin/env python3
"""Run one libFuzzer harness for a bounded time (the fuzz-run tests and
scripts/fuzz).

  run.py FUZZER --seconds N --scratch DIR --corpus DIR [--regressions DIR]
         [--artifacts DIR] [--max-len N] [-- EXTRA_LIBFUZZER_ARGS...]

New coverage goes to the scratch corpus (kept between runs); the committed
corpus is read, never written. The regression inputs (files directly in
--regressions; its pending/ subdirectory holds known, unfixed crashes and
is left out) are copied into the scratch corpus first so they are mutated
too. Prints libFuzzer's last status line and a summary; exits non-zero when
the fuzzer found a crash, a leak or a timeout (its artifact is named).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys


def main():
    argv = sys.argv[1:]
    extra = []
    if '--' in argv:
        i = argv.index('--')
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser()
    ap.add_argument('fuzzer')
    ap.add_argument('--seconds', type=int, required=True)
    ap.add_argument('--scratch', required=True)
    ap.add_argument('--corpus', required=True)
    ap.add_argument('--regressions')
    ap.add_argument('--artifacts')
    ap.add_argument('--max-len', type=int, default=4096)
    ap.add_argument('--seed', type=int,
                    help='libFuzzer -seed: the same mutations each run (CI), not a random start')
    a = ap.parse_args(argv)

    os.makedirs(a.scratch, exist_ok=True)
    artifacts = a.artifacts or a.scratch + '-artifacts'
    os.makedirs(artifacts, exist_ok=True)
    if a.regressions and os.path.isdir(a.regressions):
        for name in sorted(os.listdir(a.regressions)):
            src = os.path.join(a.regressions, name)
            if not name.startswith('.') and os.path.isfile(src):
                shutil.copyfile(src, os.path.join(a.scratch, 'regression-' + name))
    name = os.path.basename(a.fuzzer)
    cmd = [a.fuzzer, '-max_total_time=%d' % a.seconds, '-max_len=%d' % a.max_len,
           '-timeout=120', '-rss_limit_mb=2048', '-print_final_stats=1',
           '-artifact_prefix=' + os.path.join(artifacts, '') ] + \
          (['-seed=%d' % a.seed] if a.seed else []) + extra + \
          [a.scratch, a.corpus]
    print('$ ' + ' '.join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       errors='replace')
    out = p.stdout
    status = [l for l in out.splitlines() if re.match(r'#\d+\s', l)]
    stats = dict(re.findall(r'^stat::(\w+):\s+(\d+)', out, re.M))
    cov = re.findall(r'\bcov: (\d+)', out)
    ft = re.findall(r'\bft: (\d+)', out)
    if p.returncode:
        sys.stdout.write(out[-20000:])
        arts = re.findall(r'Test unit written to (\S+)', out)
        print('%s: FAILED (exit %d)%s' % (name, p.returncode,
              ', reproducer: ' + arts[-1] if arts else ''))
        return 1
    if status:
        print(status[-1])
    print('%s: %ss, %s execs, cov %s, ft %s, scratch corpus %d inputs, no crash' % (
        name, a.seconds, stats.get('number_of_executed_units', '?'),
        cov[-1] if cov else '?', ft[-1] if ft else '?', len(os.listdir(a.scratch))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
