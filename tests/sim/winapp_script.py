#!/usr/bin/env python3
"""scripts/winapp as a user runs it: the FX2 walkthrough program with its
INF against the FX2 model at full and high speed, the survey program with
its INF against the FX2, WinUSB (MS OS 2.0 and 1.0), composite and
bulk-only disk models, the same program as C++, a wmain entry point, and
the failures (no device, a bad INF). Prints TAP.

    winapp_script.py SOURCE_ROOT BUILD_DIR
"""
import os
import subprocess
import sys
import tempfile

ROOT, BUILD = sys.argv[1], sys.argv[2]
WINAPP = os.path.join(ROOT, 'scripts', 'winapp')
APPS = os.path.join(ROOT, 'tests', 'winapp')
WALK = os.path.join(APPS, 'fx2_walkthrough.c')
WALK_INF = os.path.join(APPS, 'fx2_walkthrough.inf')
SURVEY = os.path.join(APPS, 'winusb_survey.c')
SURVEY_INF = os.path.join(APPS, 'winusb_survey.inf')
results = []


def run(*args):
    r = subprocess.run([sys.executable, WINAPP, '--no-build', '--build', BUILD] + list(args),
                       capture_output=True, text=True, timeout=600)
    return r.returncode, r.stdout, r.stderr


def check(name, rc, out, err, want_rc, *want):
    missing = [w for w in want if w not in out + err]
    ok = rc == want_rc and not missing
    results.append((ok, name))
    if not ok:
        print(f'# {name}: exit {rc} (want {want_rc}), missing {missing}')
        for line in (out + err).splitlines()[-25:]:
            print('#   ' + line)


def main():
    for speed, code in (('full', 'Device speed: 1'), ('high', 'Device speed: 3')):
        rc, out, err = run(WALK, '--inf', WALK_INF, '--device', 'fx2@' + speed, '--', '3c')
        check(f'walkthrough on fx2@{speed}', rc, out, err, 0, code,
              'Hardware ID: USB\\VID_0547&PID_1002&REV_0000',
              'Pipe type: Interrupt Pipe ID: 0x81', 'Pipe type: Bulk Pipe ID: 0x06',
              'Pipe type: Bulk Pipe ID: 0x88', 'Bar graph: set 0x3c, reads 0x3c',
              'Wrote to pipe 0x06: 700 bytes', 'Read from pipe 0x88: 700 bytes',
              'Overlapped: wrote 700, read 700 bytes',
              'Switches: interrupt report 0x00 (1 byte), READ_SWITCHES 0x00',
              'All steps passed')
    rc, out, err = run(SURVEY, '--inf', SURVEY_INF, '--device', 'fx2@full',
                       '--device', 'winusb@super', '--device', 'winusb-os1@full',
                       '--device', 'composite', '--device', 'bot', '--', '5')
    check('survey on fx2, winusb, winusb-os1, composite, bot', rc, out, err, 0,
          'INQUIRY: 36 bytes, vendor "bareusb ", CSW status 0',
          'loopback 0x06 -> 0x88: 100 bytes match', 'loopback 0x01 -> 0x81: 100 bytes match',
          'loopback 0x02 -> 0x82: 100 bytes match', 'friendly name: Sim RAM Disk',
          '&mi_00#', '5 devices, 0 failed')
    with tempfile.TemporaryDirectory() as tmp:
        cxx = os.path.join(tmp, 'fx2_walkthrough.cpp')
        with open(WALK) as f, open(cxx, 'w') as g:
            g.write(f.read())
        rc, out, err = run(cxx, '--inf', WALK_INF, '--device', 'fx2')
        check('walkthrough as C++ on fx2', rc, out, err, 0, 'Bar graph: set 0x5a, reads 0x5a',
              'All steps passed')
        wide = os.path.join(tmp, 'wide.c')
        with open(wide, 'w') as g:
            g.write('#include <windows.h>\n#include <wchar.h>\n'
                    'int wmain(int argc, wchar_t **argv)\n'
                    '{\n\treturn argc == 2 && wcscmp(argv[1], L"x\\u00e9") == 0 ? 7 : 1;\n}\n')
        rc, out, err = run(wide, '--', 'x\u00e9')
        check('a wmain entry point gets its arguments', rc, out, err, 7)
        bad = os.path.join(tmp, 'bad.inf')
        with open(WALK_INF) as f, open(bad, 'w') as g:
            g.write(f.read().replace('HKR,,DeviceIdleEnabled', 'HKLM,,DeviceIdleEnabled'))
        rc, out, err = run(WALK, '--inf', bad, '--device', 'fx2')
        check('a bad INF stops the run with its line', rc, out, err, 125, 'bad.inf:36:', 'HKR')
    rc, out, err = run(WALK, '--inf', WALK_INF, '--device', 'winusb')
    check('walkthrough without its device', rc, out, err, 2,
          'SetupDiEnumDeviceInterfaces failed: error 259')
    rc, out, err = run(WALK, '--device', 'nosuchmodel')
    check('an unknown model', rc, out, err, 125, 'nosuchmodel')
    print(f'1..{len(results)}')
    for n, (ok, name) in enumerate(results, 1):
        print(f'{"ok" if ok else "not ok"} {n} - {name}')
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == '__main__':
    sys.exit(main())
