#!/usr/bin/env python3
"""The three ways an embedder takes bareusb, each tried from scratch (TAP):

1. bareusb.mk lists exactly the library sources Meson builds.
2. A parent Meson project with bareusb as a subproject gets `bareusb`
   through dependency(), its c_args reach the library's compile lines, and
   none of bareusb's tests, sim or test image are configured.
3. `meson install` puts the library, the headers and bareusb.pc in place,
   and a program compiled with `pkg-config --cflags --libs bareusb` links.

    embed_check.py --root SRC --meson MESON --cc CC -- LIB_SOURCE...
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

PARENT_MESON = """project('kernel', 'c', default_options: ['c_std=c11'])
bareusb = dependency('bareusb')
static_library('kernel', 'kernel.c', dependencies: bareusb)
"""
KERNEL_C = """#include "bareusb/xhci.h"
#include "bareusb/usb.h"
int kernel_usb_start(uintptr_t regs, const struct bu_platform *plat,
		     struct bu_usb_bus **bus)
{
	return bu_xhci_create(regs, plat, 0, 0, bus);
}
"""
MARK = "-DKERNEL_FLAGS_REACH_BAREUSB"


def sh(cmd, cwd=None, env=None):
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return r.returncode, r.stdout


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, ok, what, detail=""):
        self.n += 1
        print("%s %d - %s" % ("ok" if ok else "not ok", self.n, what))
        if not ok:
            self.failed += 1
            for line in detail.strip().splitlines()[-30:]:
                print("# " + line)


def check_mk(tap, root, sources):
    rc, out = sh(["make", "-s", "-f", os.path.join(root, "bareusb.mk"),
                  "BAREUSB_DIR=" + root, "bareusb-print-srcs"])
    mk = sorted(os.path.normpath(p) for p in out.split()) if rc == 0 else []
    meson_list = sorted(os.path.normpath(os.path.join(root, s)) if not os.path.isabs(s)
                        else os.path.normpath(s) for s in sources)
    missing = sorted(set(meson_list) - set(mk))
    extra = sorted(set(mk) - set(meson_list))
    tap.check(rc == 0 and not missing and not extra, "bareusb.mk lists Meson's library sources",
              out + "\nnot in bareusb.mk: %s\nnot in Meson: %s" % (missing, extra))


def check_subproject(tap, root, meson, tmp):
    parent = os.path.join(tmp, "parent")
    os.makedirs(os.path.join(parent, "subprojects"))
    with open(os.path.join(parent, "meson.build"), "w") as f:
        f.write(PARENT_MESON)
    with open(os.path.join(parent, "kernel.c"), "w") as f:
        f.write(KERNEL_C)
    os.symlink(root, os.path.join(parent, "subprojects", "bareusb"))
    build = os.path.join(parent, "build")
    rc, out = sh([meson, "setup", build, parent, "-Dc_args=" + MARK,
                  "--wrap-mode=nodownload", "--force-fallback-for=bareusb"])
    if rc == 0:
        rc, out2 = sh([meson, "compile", "-C", build])
        out += out2
    tap.check(rc == 0, "a parent project builds with bareusb as a subproject", out)
    cmds = []
    try:
        with open(os.path.join(build, "compile_commands.json")) as f:
            cmds = json.load(f)
    except OSError:
        pass
    lib = [c for c in cmds if "/subprojects/bareusb/" in c["file"].replace("\\", "/")
           or c["file"].startswith("../subprojects/bareusb")]
    tap.check(lib and all(MARK in c["command"] for c in lib),
              "the parent's c_args reach every bareusb compile line (%d)" % len(lib))
    tap.check(lib and not any("sim/" in c["file"] or "tests/" in c["file"] or
                              "guest/" in c["file"] or "-fsanitize" in c["command"]
                              for c in lib),
              "no test, sim, image or sanitizer in the subproject build")


def check_install(tap, root, meson, cc, tmp):
    build = os.path.join(tmp, "b")
    dest = os.path.join(tmp, "dest")
    rc, out = sh([meson, "setup", build, root, "--prefix=/usr", "-Dtests=disabled",
                  "-Dguest=disabled", "-Dfuzz=disabled"])
    if rc == 0:
        rc, o = sh([meson, "install", "-C", build, "--destdir", dest])
        out += o
    tap.check(rc == 0, "meson install", out)
    pcdir = [d for d, _, files in os.walk(dest) if "bareusb.pc" in files]
    tap.check(bool(pcdir), "bareusb.pc installed")
    if not pcdir:
        return
    env = dict(os.environ, PKG_CONFIG_PATH=pcdir[0], PKG_CONFIG_SYSROOT_DIR=dest)
    rc, flags = sh(["pkg-config", "--cflags", "--libs", "bareusb"], env=env)
    src = os.path.join(tmp, "prog.c")
    with open(src, "w") as f:
        f.write(KERNEL_C + "int main(void) { return kernel_usb_start(0, 0, 0) == 0; }\n")
    if rc == 0:
        rc, out = sh(cc + [src, "-o", os.path.join(tmp, "prog")] + flags.split())
    else:
        out = flags
    tap.check(rc == 0, "a program builds and links from pkg-config's flags", out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--meson", required=True)
    ap.add_argument("--cc", required=True)
    ap.add_argument("sources", nargs="*")
    args = ap.parse_args()
    root = os.path.realpath(args.root)
    tap = Tap()
    check_mk(tap, root, args.sources)
    with tempfile.TemporaryDirectory() as tmp:
        check_subproject(tap, root, args.meson, tmp)
        check_install(tap, root, args.meson, args.cc.split(), tmp)
    print("1..%d" % tap.n)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
