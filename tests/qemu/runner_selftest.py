#!/usr/bin/env python3
"""TAP self-test of tests/runner.py's pure logic (no QEMU needed)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.dont_write_bytecode = True
import runner  # noqa: E402

KBD = {"bus": 0, "path": "9", "tier": 1, "speed": "high", "vid": "0627", "pid": "0001",
       "mps0": 64, "product": "QEMU USB Keyboard", "serial": "42",
       "configs": [{"value": 1, "interfaces": [
           {"number": 0, "alt": 0, "class": 3, "subclass": 1, "protocol": 1, "driver": None,
            "endpoints": [{"address": "0x81", "type": "interrupt", "mps": 8, "interval": 7}]}]}]}
MSD = {"bus": 1, "path": "3", "speed": "super", "vid": "46f4", "pid": "0001", "mps0": 512,
       "configs": [{"value": 1, "interfaces": [
           {"number": 0, "alt": 0, "class": 8, "subclass": 6, "protocol": 80, "driver": None,
            "endpoints": [{"address": "0x81", "type": "bulk", "mps": 1024, "interval": 0},
                          {"address": "0x02", "type": "bulk", "mps": 1024, "interval": 0}]}]}]}
FAILED = {"bus": 0, "path": "4.1", "speed": "full", "error": "get_config: timeout"}

results = []


def check(name, cond):
    results.append((name, bool(cond)))


import json  # noqa: E402
lines = ['noise', 'usbdev ' + json.dumps(KBD), 'ok 1 - a', 'usbdev ' + json.dumps(MSD),
         'not ok 2 - b # why', '1..2', 'usbdev {broken']
devs, errs = runner.parse_usbdev_lines(lines)
check('usbdev lines parsed by bus/path', set(devs) == {(0, '9'), (1, '3')})
check('broken usbdev JSON reported', len(errs) == 1)
res, plan, bail, probs = runner.parse_tap(lines)
check('TAP results and plan', res == {1: True, 2: False} and plan == 2 and not bail and not probs)
res, plan, bail, probs = runner.parse_tap(['ok 1', 'ok 1', 'Bail out! x'])
check('TAP duplicate and bail-out seen', probs and bail)

good = {"devices": [
    {"path": "9", "vid": "0627", "speed": "high", "serial": {"re": "^[0-9]+$"},
     "interfaces": [{"class": 3, "subclass": 1}],
     "endpoints": [{"address": "0x81", "type": "interrupt", "mps": 8}]},
    {"bus": 1, "path": "3", "speed": "super",
     "endpoints": [{"address": "0x02", "type": "bulk"}, {"address": "0x81", "type": "bulk"}]}],
    "count": 2}
check('matching expectation passes', runner.check_expect(good, devs) == [])
check('list form accepted', runner.check_expect(good['devices'], devs) == [])
bad = [{"path": "9", "speed": "full"}]
check('wrong speed reported', len(runner.check_expect(bad, devs)) == 1)
check('missing device reported',
      runner.check_expect([{"path": "7"}], devs) == ['bus 0 path 7: no usbdev line'])
check('endpoint count mismatch reported',
      runner.check_expect([{"bus": 1, "path": "3", "endpoints": [{"type": "bulk"}]}], devs))
check('count mismatch reported', runner.check_expect({"count": 3}, devs))
check('regex mismatch reported',
      runner.check_expect([{"path": "9", "product": {"re": "Mouse"}}], devs))
devs[(0, '4.1')] = FAILED
check('enumeration error fails a plain expectation',
      runner.check_expect([{"path": "4.1", "speed": "full"}], devs))
check('expected error accepted',
      runner.check_expect([{"path": "4.1", "error": {"re": "timeout"}}], devs) == [])

check('no controller in plain args', not runner.has_controller(['-device', 'usb-kbd,bus=xhci.0']))
check('qemu-xhci detected', runner.has_controller(['-device', 'qemu-xhci,p2=4']))
check('nec detected', runner.has_controller(['-device', 'nec-usb-xhci,id=x']))
check('id=xhci detected', runner.has_controller(['-device', 'usb-ehci,id=xhci']))
check('JSON -device detected',
      runner.has_controller(['-device', '{"driver":"qemu-xhci","id":"a"}']))

g = runner.Guest('/nonexistent', extra=['-device', 'usb-kbd'], disks=[('d0', 1)])
cmd = g.command()
check('default controller added', runner.DEFAULT_CONTROLLER in cmd)
check('pass-through arguments last and unchanged', cmd[-2:] == ['-device', 'usb-kbd'])
check('disk image created', os.path.getsize(g.disks[0][1]) == 1 << 20)
check('isa-debug-exit present', 'isa-debug-exit,iobase=0xf4,iosize=0x04' in cmd)
g.finish()
g = runner.Guest('/nonexistent', default_controller=False)
check('--no-default-controller honoured', runner.DEFAULT_CONTROLLER not in g.command())
g.finish()

g = runner.Guest('/nonexistent', arch='aarch64', extra=['-device', 'usb-kbd'])
cmd = g.command()
check('aarch64: qemu-system-aarch64 on virt',
      cmd[0] == 'qemu-system-aarch64' and cmd[cmd.index('-machine') + 1] == 'virt')
check('aarch64: semihosting on, no isa-debug-exit',
      'enable=on' in cmd and not any('isa-debug-exit' in c for c in cmd))
check('aarch64: default controller, pass-through last',
      runner.DEFAULT_CONTROLLER in cmd and cmd[-2:] == ['-device', 'usb-kbd'])
g.finish()
try:
    runner.Guest('/nonexistent', arch='mips')
    check('unknown architecture refused', False)
except runner.RunnerError:
    check('unknown architecture refused', True)

# --arch defaults to the ELF header's e_machine.
import tempfile  # noqa: E402
with tempfile.TemporaryDirectory() as d:
    def elf(machine, name):
        path = os.path.join(d, name)
        with open(path, 'wb') as f:
            f.write(b'\x7fELF\x02\x01\x01' + bytes(11) + machine.to_bytes(2, 'little') + bytes(44))
        return path
    check('ELF machine 183 is aarch64', runner.elf_arch(elf(183, 'a')) == 'aarch64')
    check('ELF32 i386 wrapper is x86_64', runner.elf_arch(elf(3, 'b')) == 'x86_64')
    check('unknown ELF machine gives None', runner.elf_arch(elf(40, 'c')) is None)
    check('missing file gives None', runner.elf_arch(os.path.join(d, 'none')) is None)

g = runner.Guest('/nonexistent')
g.lines = ['# bareusb', 'ok 1 - found', '', 'bus 0: xhci 0000:00:01.0', '  3 super']
g.line_times = [0.1, 0.2, 0.3, 1.25, 1.3]
check('boot to tree: time of the first bus line', g.boot_to_tree() == 1.25)
g.lines, g.line_times = ['# no tree'], [0.5]
check('boot to tree: None without a tree', g.boot_to_tree() is None)
g.finish()

# --console: each command goes out only once a fresh `usbsh> ` prompt (a
# partial line) came, `exit` is added at the end, nothing after an `exit`.
import io  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402


class FakeProc:
    def __init__(self):
        self.stdin = io.BytesIO()


def console_run(commands, replies):
    """Feed guest output: the first prompt, then after each command the
    image sends, its reply. Returns (what the runner typed, guest)."""
    g = runner.Guest('/nonexistent', echo=False)
    g.t0 = time.monotonic()
    g.proc = FakeProc()
    rfd, wfd = os.pipe()
    reader = threading.Thread(target=g._read_console, args=(os.fdopen(rfd, 'rb'),), daemon=True)
    reader.start()
    os.write(wfd, b'# boot\r\nusb')
    os.write(wfd, b'sh> ')  # a prompt split across reads
    errs = []
    typer = threading.Thread(target=lambda: errs.append(g.console(commands, timeout=5)),
                             daemon=True)
    typer.start()
    g.typed_at_reply = []  # commands typed when each reply went out
    for n, reply in enumerate(replies, 1):
        deadline = time.monotonic() + 5
        while g.proc.stdin.getvalue().count(b'\n') < n and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)  # room for a runner that would type ahead
        g.typed_at_reply.append(g.proc.stdin.getvalue().count(b'\n'))
        os.write(wfd, reply)
    typer.join(10)
    os.close(wfd)
    reader.join(5)
    return g.proc.stdin.getvalue(), g


typed, g = console_run(['lsusb', '# a comment'], [
    b'lsusb\r\nBus 000 Device 001: ID 0627:0001 QEMU QEMU USB Keyboard\r\nusbsh> ',
    b'# a comment\r\nusbsh> ', b'exit\r\n# console: 1 command(s), 0 error(s)\r\n'])
check('console: commands typed one per prompt, exit added',
      typed == b'lsusb\n# a comment\nexit\n' and g.typed_at_reply == [1, 2, 3])
check('console: the prompt ends the partial line, echoed commands are lines',
      'usbsh> lsusb' in g.lines and g.prompts == 3)
typed, g = console_run(['exit', 'lsusb'], [b'exit\r\n'])
check('console: nothing typed after exit', typed == b'exit\n')
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, 'cmds.txt'), 'w', newline='') as f:
        f.write('lsusb -t\n\n   \nctrl 9 0x80 6 0x100 0 18\r\n# note\n')
    check('console file: one command a line, blank lines dropped',
          runner.read_console_file(os.path.join(d, 'cmds.txt')) ==
          ['lsusb -t', 'ctrl 9 0x80 6 0x100 0 18', '# note'])

print('1..%d' % len(results))
for i, (name, ok) in enumerate(results, 1):
    print('%sok %d - %s' % ('' if ok else 'not ', i, name))
sys.exit(0 if all(ok for _, ok in results) else 1)
