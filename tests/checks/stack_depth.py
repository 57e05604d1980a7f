#!/usr/bin/env python3
"""Worst-case stack depth of every public entry point of the library.

    stack_depth.py [--cc gcc] [--cflag=-ffreestanding ...] --include DIR
                   [--private-include DIR ...] [--budget 2048] [--allow FUNC]
                   [--baseline FILE] [--write-baseline FILE] [--markdown FILE]
                   [-v] SOURCE...

What it does
------------
Compiles every SOURCE (the library: hcd/, core/, winusb/, as Meson's
lib_sources lists them) with gcc -std=c11 -O2 and the library's own flags
(--cflag, lib_c_args in the top-level meson.build), adding -fstack-usage
(GCC's per-function frame size, the .su file) and -fcallgraph-info=su (the
call graph of each translation unit after inlining, a VCG .ci file; GCC 10
or later). It builds one call graph from all of them, resolves every
indirect call (below), and computes for every public entry point -- each
function declared in include/bareusb/*.h (not compat/) that the library
defines -- the deepest sum of frames on any call path from it. It prints a
table (entry point, worst depth, the worst path with each frame's size),
and fails when an entry point needs more than --budget bytes, when an
indirect call cannot be resolved, when a frame is of unbounded dynamic
size, or on recursion nothing bounds (below). Exit status 77 (Meson's
"skipped") when the compiler is not GCC for x86_64 or lacks
-fcallgraph-info: the budget is an x86_64 -O2 figure.

Each frame GCC reports on x86_64 includes the return address its call
pushed, so the sum along a path is the stack the path occupies. A tail
call is counted as if it were a call (an over-estimate).

Indirect calls
--------------
GCC records an indirect call as an edge to "__indirect_call" labelled with
the source location of the call. The script reads the source at that
location (comments, strings and preprocessor lines blanked, so columns
stay GCC's byte columns) and takes every call through something other
than a function name in the expression that starts there (a call nested
as an argument may carry the outer call's location, so all calls of the
expression are taken: an over-estimate at worst). Each callee expression
names a *slot*:

  - a struct member: `bus->ops->xfer_submit`, `x->complete`,
    `steps[next].start`, `tp_of(api, f)->ioctl` -- keyed by the struct
    that declares the member (found by following the declared types of
    the variables, members and function results in the expression, or,
    when that fails, by the member name when only one struct declares a
    member of that name);
  - a variable or parameter of the enclosing function: `busy(arg)`,
    `visit(arg, t, &d)`, `cb(ctx, ...)` (-Wshadow is on: one name per
    function is one variable).

What a slot can hold is found from the sources, conservatively, as a
fixpoint over these stores:

  - designated and positional initializers of structs and arrays of
    structs (`.xfer_submit = bu_xhci_xfer_submit`, the rows of a table
    like `{ "enable slot", enable_start, NULL, ST_ADDRESS }`), including
    compound literals;
  - assignments and initialized declarations (`x->complete = sync_done`,
    `drv->driver.probe = wu_probe`, `bu_usb_done_fn d = cmd->user_done`);
  - arguments: a function name, or a slot, passed to a library function
    (directly, or through an indirect call whose targets are known) flows
    into that function's parameter (`ctx_cmd(..., address_done, done, ...)`,
    `ops->dev_enable(dev, dev_op_done, NULL)`);
  - a value is a function name, another slot, NULL/0, or `c ? a : b` of
    those, under casts and `&`.

Every use of a library function's address must be one of these (or an
operand of == / !=); any other use -- passing it to a macro, through a
void pointer, in a return, in a macro body -- is an error, so a new
kind of store cannot be missed silently.

The embedder's code: every function-pointer member of a struct declared in
a public header (include/bareusb/*.h) may also hold a function of the
embedder's -- the platform table (read32, write32, dma_alloc, log,
now_us, lock, ...), a transfer's complete callback, bus events, class
drivers it registers, WinUSB transports, its own controller driver -- and
so may every function-pointer parameter of a public entry point. Such a
call counts 0 bytes: it is reported as "embedder's own stack on top",
together with the deepest library stack under each such callback.

Limits of the method: member slots are per struct type, not per object
(a library function stored in one bus's table is assumed callable through
every table of that type); function pointers copied through memcpy, void
pointers or integer casts, or stored from inside a macro body, are not
followed (the last two are reported as errors); struct copies between
different struct types are not followed; calls GCC emits itself (memcpy,
memset for large copies) are the embedder's runtime and count 0; GCC's
own frame sizes are trusted (.su "dynamic" without "bounded" is an error).

Recursion and paths ruled out
-----------------------------
A call graph knows no state: it joins the hub driver, the port machine and
enumeration in cycles (a completion kicks a hub, which removes a device,
whose removal completes transfers, ...) most of which the code rules out.
BOUNDED_RECURSION lets named calls recur a bounded number of times on one
path; RULED_OUT names calls that are not made below some other call. Each
entry says why, citing the code, and an entry whose calls are gone from
the graph is an error. The depth is the longest path over states
(function, calls left per bound, rules in force); a cycle of states --
recursion nothing bounds -- is an error, printed with each call's site.
The figures stay upper bounds: beyond these entries, every call the graph
has is assumed possible (a WinUSB request, say, is charged with the
deepest request handler whatever its code).

Budget, allowances and baseline
-------------------------------
An entry point over --budget fails, unless every path over the budget
goes through a function in ALLOW or given with --allow (a frame that
cannot be bounded otherwise, printed "allowed"; ALLOW is empty), or its
depth is at most its figure in the --baseline file (entry points known to
be over the budget, each a fix owed; the figures may only go down, and
the check notes a line that can go). --write-baseline writes the current
figures.
"""
import argparse
import fnmatch
import os
import re
import subprocess
import sys
import tempfile

SKIP = 77

BASELINE_HEADER = """\
# Public entry points over the %d-byte budget, each with the depth it may
# not exceed (tests/checks/stack_depth.py --baseline), each a fix owed: a
# line goes when its entry point fits, the file when it is empty; a figure
# only ever goes down. Written by stack_depth.py --write-baseline.
"""

# Calls that recurse, each allowed at most `bound` times on one call path
# (a call matching `calls`: caller -> callee, fnmatch patterns; the caller
# may also be the source function a call is written in, when GCC inlined
# it). Every other cycle of the call graph is an error.
BOUNDED_RECURSION = [
]

# Paths the call graph has but the code rules out, because the call graph
# does not know the state a function is called in: below any call in
# `after`, none of the calls in `never` is made (except those in `but`),
# down to a call in `until` (below which the rule no longer holds).
# Each is a claim about the code, with the reason; a call named here that
# no longer exists is an error, so a claim cannot outlive its code silently.
RULED_OUT = [
    {"name": "first enumeration step",
     "after": [("bu_core_enum_start", "step_run")],
     "never": [("step_run", "*_start"), ("bu_core_enum_finish", "bu_core_bind_device")],
     "but": [("step_run", "enable_start")],
     "why": "core/enum.c: bu_core_enum_start runs the table from ST_ENABLE; "
            "enable_start asks the controller for a slot (asynchronous: the "
            "ops contract in usb.h runs `done` from poll, never from the call) "
            "and returns STEP_WAIT or an error, so the other steps run only "
            "from step_done, and a finish there has an error: no driver binds."},
    {"name": "removed device's completions",
     "after": [("dev_remove_one", "bu_core_pm_drop"),
               ("dev_remove_one", "bu_xhci_dev_disable"), ("*", "dev_release")],
     "never": [("hub_kick", "*"), ("hub.c:ctrl_done", "*"), ("hub.c:intr_done", "*"),
               ("hub_configured", "*"), ("bu_core_tt_check", "*"), ("xfer_queue", "*"),
               ("bu_usb_xfer_submit", "bu_core_pm_hold")],
     "but": [("hub.c:ctrl_done", "bu_core_free"),
             ("hub.c:intr_done", "bu_core_free"), ("hub_configured", "bu_core_free")],
     "why": "core/bus.c dev_remove_one (bu_core_dev_remove) marks the device BU_DEV_GONE, then "
            "completes its held transfers (bu_core_pm_drop) and has the "
            "controller disable it (dev_disable, the only caller), which gives "
            "the rest back then or later (hcd/xhci_dev.c dev_release, once "
            "Disable Slot completed). Those completions are the removed "
            "device's: the hub driver's callbacks (ctrl_done, intr_done, "
            "hub_configured) free an orphaned hub's state (hub_orphan_done) "
            "and return on hub_gone, and hub_kick does nothing for a gone hub "
            "(core/hub.c), bu_core_tt_check returns for a gone device "
            "(core/tt.c), and bu_usb_xfer_submit refuses a gone device's "
            "transfer with BU_ENODEV before the controller sees it."},
    {"name": "toggle reset of a bulk or interrupt endpoint",
     "after": [("toggle_finish", "toggle_reset_done")],
     "never": [("*", "toggle_sent"), ("*", "hub.c:ctrl_done"), ("*", "dev_ctrl_done"),
               ("*", "bus.c:sync_done"), ("*", "winusb_pipe.c:clear_done")],
     "until": [("*", "bu_core_dev_remove")],
     "why": "core/toggle.c toggle_finish reports only endpoints with index 2 or "
            "more (bu_usb_ep_toggle_reset answers EP0 at once), so the transfers "
            "toggle_reset_done (hcd/xhci_xfer.c ep_recovered) completes are a "
            "bulk or interrupt endpoint's, never one of the callbacks only EP0 "
            "requests have: toggle_sent, the hub driver's ctrl_done (hub_ctrl), "
            "enumeration's dev_ctrl_done (ctrl_submit), bu_usb_control's "
            "sync_done, WinUSB's clear_done (a CLEAR_FEATURE on EP0). Below, an "
            "EP0 request completes only when its device is removed."},
]

# Functions whose frames are known to be too large, each with its reason:
# an entry point over the budget passes when every path of it that is over
# the budget goes through one of these (the table shows its depth without
# them too). Only for a frame that cannot be bounded otherwise; empty: the
# one there was (bu_xhci_xfer_submit's 1 KiB chunk array) is gone.
ALLOW = {}

KEYWORDS = {
    "auto", "break", "case", "char", "const", "continue", "default", "do",
    "double", "else", "enum", "extern", "float", "for", "goto", "if",
    "inline", "int", "long", "register", "restrict", "return", "short",
    "signed", "sizeof", "static", "struct", "switch", "typedef", "union",
    "unsigned", "void", "volatile", "while", "_Alignas", "_Alignof",
    "_Atomic", "_Bool", "_Complex", "_Generic", "_Imaginary", "_Noreturn",
    "_Static_assert", "_Thread_local", "__attribute__", "__asm__",
    "__volatile__", "__inline__", "__restrict", "asm", "__typeof__",
    "typeof", "__builtin_offsetof", "__builtin_va_arg", "__extension__",
}
QUALIFIERS = {"const", "volatile", "restrict", "__restrict", "_Atomic",
              "static", "extern", "inline", "__inline__", "register",
              "_Noreturn", "_Thread_local", "typedef", "__extension__"}
BUILTIN_TYPES = {"void", "char", "short", "int", "long", "float", "double",
                 "signed", "unsigned", "_Bool", "_Complex"}
STD_TYPEDEFS = {"bool", "size_t", "ptrdiff_t", "uintptr_t", "intptr_t",
                "va_list", "__builtin_va_list", "wchar_t", "max_align_t",
                "uint8_t", "uint16_t", "uint32_t", "uint64_t", "int8_t",
                "int16_t", "int32_t", "int64_t", "uintmax_t", "intmax_t"}
NOT_CALLS = {"if", "while", "for", "switch", "return", "sizeof", "_Alignof",
             "__attribute__", "__asm__", "asm", "_Static_assert", "__typeof__",
             "typeof", "_Generic", "__builtin_offsetof", "__builtin_va_arg",
             "__volatile__", "defined"}


class CheckError(Exception):
    """A fact about the sources the method cannot handle."""


# ---------------------------------------------------------------------------
# Compiling

def compile_all(args, tmp):
    """Compile every source; return [(source, .su path, .ci path)]."""
    out = []
    for n, src in enumerate(args.sources):
        base = os.path.join(tmp, "%03d_%s" % (n, os.path.basename(src)[:-2]))
        if args.reuse and os.path.exists(base + ".ci"):
            out.append((src, base + ".su", base + ".ci"))
            continue
        cmd = (args.cc + ["-std=c11", "-O2"] + args.cflag +
               ["-I", args.include] +
               [f for d in args.private_include for f in ("-I", d)] +
               ["-fstack-usage", "-fcallgraph-info=su", "-c", src, "-o", base + ".o"])
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        if r.returncode:
            sys.stdout.write(" ".join(cmd) + "\n" + r.stdout)
            raise CheckError("compiling %s failed" % src)
        out.append((src, base + ".su", base + ".ci"))
    return out


def probe_compiler(args, tmp):
    """None when the compiler can do this check, else why it cannot."""
    try:
        r = subprocess.run(args.cc + ["-dumpmachine"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
    except OSError as e:
        return "%s: %s" % (" ".join(args.cc), e)
    if r.returncode or not r.stdout.startswith("x86_64"):
        return "%s does not target x86_64 (%s)" % (" ".join(args.cc), r.stdout.strip())
    probe = os.path.join(tmp, "probe.c")
    with open(probe, "w") as f:
        f.write("int probe(int x);\nint probe(int x) { return x + 1; }\n")
    r = subprocess.run(args.cc + ["-O2", "-fstack-usage", "-fcallgraph-info=su", "-c",
                                  probe, "-o", os.path.join(tmp, "probe.o")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if r.returncode or "__clang__" in subprocess.run(
            args.cc + ["-dM", "-E", "-x", "c", os.devnull], stdout=subprocess.PIPE,
            universal_newlines=True).stdout:
        return "%s has no -fcallgraph-info (GCC 10 or later needed)" % " ".join(args.cc)
    return None


# ---------------------------------------------------------------------------
# GCC's outputs

SU_RE = re.compile(r"^(.*):(\d+):(\d+):(\S+)\t(\d+)\t(\S+)$")
NODE_RE = re.compile(r'^node: \{ title: "([^"]+)" label: "([^"]*)"(.*)\}$')
EDGE_RE = re.compile(r'^edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)" label: "([^"]*)" \}$')


class Graph:
    """The merged call graph: nodes by GCC's title ("name" or "file:name")."""

    def __init__(self):
        self.frame = {}      # title -> bytes
        self.where = {}      # title -> (file, line, name)
        self.edges = {}      # title -> set of titles
        self.indirect = []   # (caller title, file, line, col)
        self.sites = {}      # (caller, callee) -> {(file, line)} of the calls
        self.by_name = {}    # name -> [titles]

    def load(self, su_path, ci_path):
        su = {}
        with open(su_path) as f:
            for line in f:
                m = SU_RE.match(line.rstrip("\n"))
                if not m:
                    raise CheckError("%s: cannot read %r" % (su_path, line))
                path, ln, _, name, size, kind = m.groups()
                if kind.startswith("dynamic") and "bounded" not in kind:
                    raise CheckError("%s (%s:%s): frame of unbounded dynamic size" %
                                     (name, path, ln))
                su[(os.path.realpath(path), int(ln), name)] = int(size)
        with open(ci_path) as f:
            for line in f:
                line = line.rstrip("\n")
                m = NODE_RE.match(line)
                if m:
                    title, label, rest = m.groups()
                    if "ellipse" in rest or "__indirect_call" == title:
                        continue
                    parts = label.split("\\n")
                    name = parts[0]
                    path, ln, _ = parts[1].rsplit(":", 2)
                    key = (os.path.realpath(path), int(ln), name)
                    if key not in su:
                        raise CheckError("%s: no .su entry for %s" % (ci_path, name))
                    self.frame[title] = su[key]
                    self.where[title] = key
                    self.by_name.setdefault(name, []).append(title)
                    self.edges.setdefault(title, set())
                    continue
                m = EDGE_RE.match(line)
                if m:
                    src, dst, loc = m.groups()
                    path, ln, col = loc.rsplit(":", 2)
                    if dst == "__indirect_call":
                        self.indirect.append((src, os.path.realpath(path), int(ln), int(col)))
                    else:
                        self.edges.setdefault(src, set()).add(dst)
                        self.sites.setdefault((src, dst), set()).add(
                            (os.path.realpath(path), int(ln)))


# ---------------------------------------------------------------------------
# Reading C: tokens

TOKEN_RE = re.compile(r"""
    (?P<ws>[ \t\r\f\v]+|\\\n) | (?P<nl>\n) |
    (?P<comment>/\*.*?\*/|//[^\n]*) |
    (?P<str>"(?:\\.|[^"\\\n])*") | (?P<chr>'(?:\\.|[^'\\\n])*') |
    (?P<num>\.?[0-9](?:[eEpP][+-]|[\w.])*) | (?P<id>[A-Za-z_]\w*) |
    (?P<punct>->|\+\+|--|<<=|>>=|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^]=|\.\.\.|
              [{}()\[\];,.?:~!<>=+\-*/%&|^\#])
""", re.S | re.X)


class Tok:
    __slots__ = ("kind", "text", "line", "col", "pp")

    def __init__(self, kind, text, line, col, pp):
        self.kind, self.text, self.line, self.col, self.pp = kind, text, line, col, pp

    def __repr__(self):
        return "%s@%d:%d" % (self.text, self.line, self.col)


def tokenize(path):
    """Tokens of a file with 1-based line and byte column; pp marks directive lines."""
    with open(path, "rb") as f:
        text = f.read().decode("latin-1")
    toks, line, line_start, pos, in_pp, bol = [], 1, 0, 0, False, True
    cxx = []   # conditional nesting: True inside #ifdef __cplusplus (skipped)
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if not m:
            raise CheckError("%s:%d: cannot tokenize %r" % (path, line, text[pos:pos + 20]))
        kind, s = m.lastgroup, m.group()
        if kind == "nl":
            line, line_start, in_pp, bol = line + 1, m.end(), False, True
        elif kind in ("ws", "comment"):
            nls = s.count("\n")
            if nls:
                line += nls
                line_start = pos + s.rfind("\n") + 1
        else:
            if bol and s == "#":
                in_pp = True
                directive = text[m.end():text.find("\n", m.end())].split()
                if directive and directive[0] in ("if", "ifdef", "ifndef"):
                    cxx.append(directive[0] == "ifdef" and directive[1:2] == ["__cplusplus"])
                elif directive and directive[0] == "endif" and cxx:
                    cxx.pop()
                elif directive and directive[0] in ("else", "elif") and cxx and cxx[-1]:
                    cxx[-1] = False
            bol = False
            toks.append(Tok(kind, s, line, pos - line_start + 1, in_pp or any(cxx)))
        pos = m.end()
    return toks


def match_bracket(toks, i, lo=0):
    """Index of the bracket matching toks[i]: forward from an opening one,
    backward (not below lo) from a closing one."""
    pairs = {"(": ")", "[": "]", "{": "}", ")": "(", "]": "[", "}": "{"}
    a, b = toks[i].text, pairs[toks[i].text]
    step, end = (1, len(toks)) if a in "([{" else (-1, lo - 1)
    depth = 0
    for k in range(i, end, step):
        if toks[k].text == a:
            depth += 1
        elif toks[k].text == b:
            depth -= 1
            if depth == 0:
                return k
    raise CheckError("unbalanced %s at %r" % (a, toks[i]))


def match_close(toks, i):
    """Index of the bracket closing toks[i]."""
    return match_bracket(toks, i)


def match_open(toks, j, lo=0):
    """Index of the bracket opening toks[j] (a closing bracket)."""
    return match_bracket(toks, j, lo)


def split_top(toks, i, j, sep=","):
    """Split toks[i:j] at depth-0 separators into (start, end) spans."""
    spans, start, k = [], i, i
    while k < j:
        t = toks[k].text
        if t in "([{":
            k = match_close(toks, k) + 1
            continue
        if t == sep:
            spans.append((start, k))
            start = k + 1
        k += 1
    if start < j or spans:
        spans.append((start, j))
    return spans


# ---------------------------------------------------------------------------
# Reading C: declarations and types

class Type:
    """What the checker needs of a C type: a struct (by tag), a function
    pointer, a function, or something else. Pointer and array levels are
    ignored: `a->m`, `a.m` and `a[i].m` all reach the struct's member."""
    __slots__ = ("kind", "tag", "ret", "arr")

    def __init__(self, kind, tag=None, ret=None, arr=False):
        self.kind, self.tag, self.ret, self.arr = kind, tag, ret, arr

    def element(self):
        return Type(self.kind, self.tag, self.ret)

    def __repr__(self):
        return "%s(%s)" % (self.kind, self.tag or "")


OTHER = Type("other")


class Func:
    """A function definition in the sources."""

    def __init__(self, name, unit, static, toks, body, params, ret):
        self.name, self.unit, self.static = name, unit, static
        self.toks, self.body, self.params, self.ret = toks, body, params, ret
        self.locals = dict(params)   # name -> Type (params first)
        self.param_names = [n for n, _ in params]

    @property
    def key(self):
        return (self.unit if self.static else None, self.name)


class Program:
    """Everything read from the sources."""

    def __init__(self, include_dir):
        self.public_dir = os.path.realpath(os.path.join(include_dir, "bareusb"))
        self.structs = {}        # tag -> {"members": [(name, Type)], "file": path}
        self.typedefs = {}       # name -> Type
        self.protos = {}         # name -> Type (return), from any declaration
        self.macros = set()      # function-like macros the files define
        self.public_protos = {}  # name -> [fp param indexes], from public headers
        self.funcs = {}          # (unit or None, name) -> Func
        self.globals = {}        # (unit or None, name) -> Type
        self.files = {}          # path -> tokens
        self.inits = []          # (unit, func or None, toks, brace index, Type)

    # -- types -------------------------------------------------------------

    def anon_tag(self, path, tok):
        return "<anon %s:%d:%d>" % (os.path.basename(path), tok.line, tok.col)

    def parse_specifiers(self, toks, i, j, path):
        """Parse declaration specifiers at toks[i:j]; return (Type, index, flags)."""
        base, flags = None, set()
        while i < j:
            t = toks[i]
            if t.text in QUALIFIERS:
                flags.add(t.text)
                i += 1
            elif t.text in ("__attribute__", "_Alignas", "__asm__", "asm"):
                has_args = i + 1 < j and toks[i + 1].text == "("
                i = match_close(toks, i + 1) + 1 if has_args else i + 1
            elif t.text in ("struct", "union"):
                tag = None
                i += 1
                if i < j and toks[i].kind == "id":
                    tag = toks[i].text
                    i += 1
                if i < j and toks[i].text == "{":
                    if tag is None:
                        tag = self.anon_tag(path, toks[i])
                    i = match_close(toks, i) + 1
                base = Type("struct", tag)
            elif t.text == "enum":
                i += 1
                if i < j and toks[i].kind == "id":
                    i += 1
                if i < j and toks[i].text == "{":
                    i = match_close(toks, i) + 1
                base = OTHER
            elif t.text in BUILTIN_TYPES:
                base = OTHER
                i += 1
            elif t.kind == "id" and base is None and t.text not in KEYWORDS:
                base = self.typedefs.get(t.text, OTHER)
                i += 1
            else:
                break
        return base, i, flags

    def parse_declarator(self, toks, i, j):
        """Parse one declarator; return (name, stars, paren_star, suffixes, params span, index)."""
        stars = 0
        while i < j and (toks[i].text == "*" or toks[i].text in QUALIFIERS or
                         toks[i].text == "__attribute__"):
            if toks[i].text == "*":
                stars += 1
            if toks[i].text == "__attribute__":
                i = match_close(toks, i + 1)
            i += 1
        name, paren_star, inner_params = None, False, None
        if i < j and toks[i].text == "(" and i + 1 < j and toks[i + 1].text in ("*", "("):
            close = match_close(toks, i)
            name, istars, _, isuf, iparams, _ = self.parse_declarator(toks, i + 1, close)
            paren_star = istars > 0
            inner_params = iparams
            i = close + 1
        elif i < j and toks[i].kind == "id" and toks[i].text not in KEYWORDS:
            name = toks[i].text
            i += 1
        suffixes, params = [], None
        while i < j and toks[i].text in ("[", "("):
            close = match_close(toks, i)
            if toks[i].text == "(":
                suffixes.append("fn")
                if params is None:
                    params = (i + 1, close)
            else:
                suffixes.append("arr")
            i = close + 1
        while i < j and toks[i].text in ("__attribute__", "__asm__", "asm"):
            i = match_close(toks, i + 1) + 1
        if paren_star and inner_params is not None and not suffixes:
            params = inner_params
        return name, stars, paren_star, suffixes, params, i

    def declarator_type(self, base, stars, paren_star, suffixes):
        """The Type a declarator gives its name."""
        if paren_star and "fn" in suffixes:
            return Type("fnptr")
        if "fn" in suffixes:
            return Type("fn", ret=base if not stars else (
                Type("struct", base.tag) if base and base.kind == "struct" else OTHER))
        if base is None:
            return OTHER
        if base.kind == "fn":
            return Type("fnptr") if stars else base
        if base.kind == "fnptr":
            return base
        if base.kind == "struct":
            return Type("struct", base.tag, arr="arr" in suffixes)
        return OTHER

    def parse_decl(self, toks, i, j, path):
        """Parse a declaration toks[i:j] (no trailing ';').

        Returns (flags, [(name, Type, init span or None, params span or None, suffixes)]).
        """
        base, k, flags = self.parse_specifiers(toks, i, j, path)
        out = []
        for (a, b) in split_top(toks, k, j):
            if a >= b:
                continue
            name, stars, pstar, suf, params, e = self.parse_declarator(toks, a, b)
            init = None
            if e < b and toks[e].text == "=":
                init = (e + 1, b)
            if name is None:
                continue
            out.append((name, self.declarator_type(base, stars, pstar, suf), init, params, suf))
        return flags, out

    def parse_params(self, toks, span, path):
        """Parameters of a function declarator: [(name or None, Type)]."""
        out = []
        if span is None:
            return out
        for (a, b) in split_top(toks, span[0], span[1]):
            if b - a == 1 and toks[a].text in ("void", "..."):
                continue
            _, decls = self.parse_decl(toks, a, b, path)
            if decls:
                out.append((decls[0][0], decls[0][1]))
            else:
                out.append((None, OTHER))
        return out

    # -- structs -----------------------------------------------------------

    def collect_structs(self, path, toks):
        """Every struct/union body in a file, members with their Types."""
        for i, t in enumerate(toks):
            if t.pp or t.text not in ("struct", "union"):
                continue
            k = i + 1
            tag = None
            if k < len(toks) and toks[k].kind == "id":
                tag = toks[k].text
                k += 1
            if k >= len(toks) or toks[k].text != "{":
                continue
            if tag is None:
                tag = self.anon_tag(path, toks[k])
            close = match_close(toks, k)
            members = []
            for (a, b) in split_top(toks, k + 1, close, ";"):
                if a >= b or toks[a].text == "_Static_assert" or toks[a].pp:
                    continue
                base, e, _ = self.parse_specifiers(toks, a, b, path)
                decls = []
                if e < b:
                    _, decls = self.parse_decl(toks, a, b, path)
                    decls = [(d[0], d[1]) for d in decls]
                elif base is not None and base.kind == "struct":
                    decls = [(None, base)]   # anonymous member: promoted
                members.extend(decls)
            self.structs[tag] = {"members": members, "file": os.path.realpath(path)}

    def member(self, tag, name):
        """(declaring struct tag, Type) of member `name` of struct `tag`."""
        s = self.structs.get(tag)
        if not s:
            return None
        for mname, mtype in s["members"]:
            if mname == name:
                return tag, mtype
        for mname, mtype in s["members"]:
            if mname is None and mtype.kind == "struct":
                r = self.member(mtype.tag, name)
                if r:
                    return r
        return None

    def member_by_name(self, name):
        """(tag, Type) when exactly one struct declares a member `name`."""
        found = [(tag, t) for tag, s in self.structs.items()
                 for n, t in s["members"] if n == name]
        return found[0] if len(found) == 1 else None

    # -- files -------------------------------------------------------------

    def load(self, files):
        """Read [(path, unit)]: headers (unit None) and sources, in three
        passes: typedefs, then structs, then declarations and functions."""
        code = []
        for path, unit in files:
            path = os.path.realpath(path)
            toks = self.files.get(path)
            if toks is None:
                toks = self.files[path] = tokenize(path)
            for k in range(len(toks) - 3):
                d, name, paren = toks[k + 1:k + 4]
                if (toks[k].pp and toks[k].text == "#" and d.text == "define" and
                        name.kind == "id" and paren.text == "(" and paren.line == name.line and
                        paren.col == name.col + len(name.text)):
                    self.macros.add(name.text)
            code.append((path, unit, [t for t in toks if not t.pp]))
        self.units = code
        for path, unit, toks in code:
            self.read_top(path, unit, toks, typedefs_only=True)
        for path, unit, toks in code:
            self.collect_structs(path, toks)
        for path, unit, toks in code:
            self.read_top(path, unit, toks)

    def read_top(self, path, unit, toks, typedefs_only=False):
        """Top-level declarations and function definitions."""
        public = os.path.dirname(path) == self.public_dir
        i, n = 0, len(toks)
        while i < n:
            start, j = i, i
            body = None
            while j < n and toks[j].text != ";":
                if toks[j].text == "{":
                    close = match_close(toks, j)
                    if j > start and toks[j - 1].text == ")" and not any(
                            toks[k].text == "=" for k in range(start, j)):
                        body = (j, close)
                        break
                    j = close + 1
                    continue
                if toks[j].text in "([":
                    j = match_close(toks, j) + 1
                    continue
                j += 1
            end = body[0] if body else j
            i = (body[1] + 1) if body else j + 1
            if end <= start or toks[start].text in ("_Static_assert",) or (
                    toks[start].kind == "id" and toks[start].text.isupper() and
                    start + 1 < end and toks[start + 1].text == "("):
                continue
            try:
                flags, decls = self.parse_decl(toks, start, end, path)
            except CheckError:
                continue
            for name, typ, init, params, suf in decls:
                if "typedef" in flags:
                    if typ.kind == "fn" and "fn" in suf:
                        typ = Type("fn")
                    self.typedefs[name] = typ
                    continue
                if typedefs_only:
                    continue
                if typ.kind == "fn":
                    self.protos.setdefault(name, typ.ret or OTHER)
                    plist = self.parse_params(toks, params, path)
                    if public and "static" not in flags:
                        self.public_protos[name] = [
                            n for n, (_, pt) in enumerate(plist) if pt.kind == "fnptr"]
                    if body:
                        f = Func(name, unit, "static" in flags, toks, body, plist,
                                 typ.ret or OTHER)
                        f.path = path
                        self.funcs[f.key] = f
                        self.read_locals(f, path)
                    continue
                key = (unit if "static" in flags else None, name)
                self.globals[key] = typ
                if init and toks[init[0]].text == "{":
                    self.inits.append((unit, None, toks, init[0], typ, path))

    def read_locals(self, f, path):
        """Local declarations of a function (and initializers to walk)."""
        toks, (bo, bc) = f.toks, f.body
        k, stmt_start = bo + 1, True
        while k < bc:
            t = toks[k]
            if t.text in ("{", "}", ";"):
                stmt_start = True
                k += 1
                continue
            if t.text == "for" and toks[k + 1].text == "(":
                k += 2
                stmt_start = True
                continue
            if stmt_start and self.is_decl_start(toks, k, f):
                e = k
                while e < bc and toks[e].text != ";":
                    if toks[e].text in "([{":
                        e = match_close(toks, e)
                    e += 1
                try:
                    _, decls = self.parse_decl(toks, k, e, path)
                except CheckError:
                    decls = []
                for name, typ, init, _, _ in decls:
                    f.locals[name] = typ
                    if init and toks[init[0]].text == "{":
                        self.inits.append((f.unit, f, toks, init[0], typ, path))
                k = e
                continue
            stmt_start = False
            k += 1

    def is_decl_start(self, toks, k, f):
        t = toks[k]
        if t.text in ("struct", "union", "enum", "const", "static", "volatile",
                      "register", "extern", "typedef") or t.text in BUILTIN_TYPES:
            return True
        if t.kind != "id" or t.text in KEYWORDS or t.text in f.locals:
            return False
        nxt = toks[k + 1]
        if t.text in self.typedefs or t.text in STD_TYPEDEFS:
            return nxt.kind == "id" or nxt.text in ("*", "(")
        return nxt.kind == "id" and nxt.text not in KEYWORDS and toks[k + 2].text in (
            "=", ";", ",", "[")

    # -- lookups -----------------------------------------------------------

    def func(self, unit, name):
        """The library function a name means in `unit`: static there, else global."""
        return self.funcs.get((unit, name)) or self.funcs.get((None, name))

    def func_at(self, path, line):
        """The function whose body holds path:line."""
        path = os.path.realpath(path)
        for f in self.funcs.values():
            if f.path == path and f.toks[f.body[0]].line <= line <= f.toks[f.body[1]].line:
                return f
        return None


# ---------------------------------------------------------------------------
# Values of function-pointer slots

EMBEDDER = "<embedder>"


def slot_name(slot):
    if slot[0] == "M":
        tag = slot[1]
        return "%s.%s" % (tag if not tag.startswith("<") else "(anon)", slot[2])
    if slot[0] == "V":
        return "%s() %s" % (slot[1][1], slot[2])
    return "%s" % (slot[2],)


class Flow:
    """The fixpoint: which functions each slot can hold."""

    def __init__(self, prog):
        self.prog = prog
        self.values = {}      # slot -> set of Func keys or EMBEDDER
        self.edges = []       # (dst slot, src slot or ("F", key))
        self.arg_edges = []   # (callee slot, index, src)  through indirect calls
        self.accounted = set()  # token ids of function names consumed

    # -- expressions -------------------------------------------------------

    def chain(self, toks, i, j, f, unit):
        """Resolve the postfix expression toks[i:j].

        Returns (what, Type) with what one of ("F", key), a slot tuple, or None.
        """
        if i >= j:
            return None, None
        t = toks[i]
        what, typ = None, None
        if t.text == "(":
            close = match_close(toks, i)
            inner = (i + 1, close)
            if self.prog.is_type_name(toks, inner[0], inner[1], f):
                return self.chain(toks, close + 1, j, f, unit)   # a cast
            what, typ = self.chain(toks, inner[0], inner[1], f, unit)
            k = close + 1
        elif t.text in ("&", "*"):
            return self.chain(toks, i + 1, j, f, unit)
        elif t.kind == "id":
            k = i + 1
            if f and t.text in f.locals:
                what, typ = ("V", f.key, t.text), f.locals[t.text]
            elif (unit, t.text) in self.prog.globals:
                what, typ = ("G", unit, t.text), self.prog.globals[(unit, t.text)]
            elif self.prog.func(unit, t.text):
                fn = self.prog.func(unit, t.text)
                what, typ = ("F", fn.key), Type("fn", ret=fn.ret)
            elif (None, t.text) in self.prog.globals:
                what, typ = ("G", None, t.text), self.prog.globals[(None, t.text)]
            elif t.text in self.prog.protos:
                what, typ = None, Type("fn", ret=self.prog.protos[t.text])
            else:
                return None, None
        else:
            return None, None
        while k < j:
            t = toks[k]
            if t.text in ("->", ".") and k + 1 < j and toks[k + 1].kind == "id":
                name = toks[k + 1].text
                m = None
                if typ is not None and typ.kind == "struct":
                    m = self.prog.member(typ.tag, name)
                if m is None:
                    m = self.prog.member_by_name(name)
                if m is None:
                    return None, None
                what, typ = ("M", m[0], name), m[1]
                k += 2
            elif t.text == "[":
                k = match_close(toks, k) + 1
                if what and what[0] == "F":
                    return None, None
            elif t.text == "(":
                k = match_close(toks, k) + 1
                ret = typ.ret if typ is not None and typ.kind == "fn" else None
                what, typ = None, ret
            else:
                return None, None
        return what, typ

    def value(self, toks, i, j, f, unit):
        """Sources of a function-pointer value toks[i:j]; None when unknown."""
        while i < j and toks[i].text == "(" and match_close(toks, i) == j - 1:
            i, j = i + 1, j - 1
        if i >= j:
            return []
        if j - i == 1 and toks[i].text in ("NULL", "0"):
            return []
        depth, q = 0, None
        for k in range(i, j):
            if toks[k].text in "([{":
                depth += 1
            elif toks[k].text in ")]}":
                depth -= 1
            elif depth == 0 and toks[k].text == "?" and q is None:
                q = k
        if q is not None:
            depth, colon = 0, None
            for k in range(q + 1, j):
                if toks[k].text in "([{":
                    depth += 1
                elif toks[k].text in ")]}":
                    depth -= 1
                elif depth == 0 and toks[k].text == "?":
                    depth += 100
                elif toks[k].text == ":":
                    if depth == 0:
                        colon = k
                        break
                    if depth >= 100:
                        depth -= 100
            if colon is None:
                return None
            a = self.value(toks, q + 1, colon, f, unit)
            b = self.value(toks, colon + 1, j, f, unit)
            return None if a is None or b is None else a + b
        if toks[i].text == "(" and self.prog.is_type_name(toks, i + 1, match_close(toks, i), f):
            return self.value(toks, match_close(toks, i) + 1, j, f, unit)
        if toks[i].text == "&":
            return self.value(toks, i + 1, j, f, unit)
        what, typ = self.chain(toks, i, j, f, unit)
        if what is None:
            return None
        if what[0] == "F":
            if j - i == 1:
                self.accounted.add(id(toks[i]))
                return [what]
            return None
        if typ is not None and typ.kind in ("fnptr", "fn"):
            return [what]
        return None

    def fp_slot(self, toks, i, j, f, unit):
        """The function-pointer slot an lvalue toks[i:j] names, else None."""
        while i < j and toks[i].text in ("*",):
            i += 1
        what, typ = self.chain(toks, i, j, f, unit)
        if what and what[0] != "F" and typ is not None and typ.kind == "fnptr":
            return what
        return None

    def holds_fp(self, toks, i, j, f, unit):
        """True when toks[i:j] is (or casts) a function name or function-pointer slot."""
        v = self.value(toks, i, j, f, unit)
        return bool(v)

    # -- stores ------------------------------------------------------------

    def add(self, dst, srcs):
        for s in srcs:
            self.edges.append((dst, s))

    def walk_init(self, toks, brace, typ, f, unit, path):
        """Walk a brace initializer of Type typ."""
        close = match_close(toks, brace)
        elems = split_top(toks, brace + 1, close)
        if typ.arr:
            for (a, b) in elems:
                k = a
                if k < b and toks[k].text == "[":     # array designator
                    k = match_close(toks, k) + 1
                    if k < b and toks[k].text == "=":
                        k += 1
                if k < b and toks[k].text == "{":
                    self.walk_init(toks, k, typ.element(), f, unit, path)
                elif k < b and self.value(toks, k, b, f, unit):
                    raise CheckError("%s:%d: brace elision in an array of %s" %
                                     (path, toks[k].line, typ.tag))
            return
        s = self.prog.structs.get(typ.tag) if typ.kind == "struct" else None
        idx = 0
        for (a, b) in elems:
            if a >= b:
                continue
            target, k = None, a
            mtype = None
            if toks[k].text == ".":
                cur = typ
                while k < b and toks[k].text == ".":
                    m = (self.prog.member(cur.tag, toks[k + 1].text)
                         if cur.kind == "struct" else None)
                    if m is None:
                        raise CheckError("%s:%d: unknown member %s" %
                                         (path, toks[k].line, toks[k + 1].text))
                    target = ("M", m[0], toks[k + 1].text)
                    cur = m[1]
                    k += 2
                    if s and cur is not None:
                        names = [n for n, _ in s["members"]]
                        if toks[k - 1].text in names:
                            idx = names.index(toks[k - 1].text) + 1
                if k < b and toks[k].text == "=":
                    k += 1
                mtype, mslot = cur, target
            elif s is not None:               # positional member
                members = s["members"]
                if idx >= len(members):
                    raise CheckError("%s:%d: initializer beyond %s" %
                                     (path, toks[a].line, typ.tag))
                mname, mtype = members[idx]
                mslot = ("M", typ.tag, mname)
                idx += 1
            else:                             # element of an array
                mtype, mslot = typ, None
            if k < b and toks[k].text == "{":
                if mtype is not None and mtype.kind == "struct":
                    self.walk_init(toks, k, mtype, f, unit, path)
                continue
            if mtype is not None and mtype.kind == "fnptr" and mslot is not None:
                v = self.value(toks, k, b, f, unit)
                if v is None:
                    raise CheckError("%s:%d: cannot follow the value stored in %s" %
                                     (path, toks[k].line, slot_name(mslot)))
                self.add(mslot, v)

    def scan_function(self, f, path):
        """Assignments, calls and compound literals in a function body."""
        toks, (bo, bc) = f.toks, f.body
        unit = f.unit
        for k in range(bo + 1, bc):
            t = toks[k]
            if t.text == "=":
                self.assignment(toks, k, bo, bc, f, unit, path)
            elif t.text == "(" and k > bo:
                self.call(toks, k, bo, f, unit, path)
            elif t.text == "{" and toks[k - 1].text == ")":
                o = match_open(toks, k - 1, bo)
                if self.prog.is_type_name(toks, o + 1, k - 1, f):
                    base, _, _ = self.prog.parse_specifiers(toks, o + 1, k - 1, path)
                    if base is not None and base.kind == "struct":
                        self.walk_init(toks, k, base, f, unit, path)

    def expr_end(self, toks, k, hi):
        """End of the expression starting at k (a depth-0 ; , ) ] or })."""
        while k < hi:
            t = toks[k].text
            if t in "([{":
                k = match_close(toks, k) + 1
                continue
            if t in (";", ",", ")", "]", "}"):
                return k
            k += 1
        return k

    def chain_start(self, toks, e, lo):
        """Start of the postfix expression ending at toks[e] (inclusive)."""
        k = e
        while k >= lo:
            t = toks[k]
            if t.text in (")", "]"):
                o = match_open(toks, k, lo)
                if o - 1 >= lo and (toks[o - 1].kind == "id" or toks[o - 1].text in (")", "]")) \
                        and toks[o - 1].text not in NOT_CALLS:
                    k = o - 1
                    continue
                if t.text == ")":
                    return o
                k = o - 1
                continue
            if t.kind == "id":
                if k - 1 >= lo and toks[k - 1].text in ("->", "."):
                    k -= 2
                    continue
                return k
            return k + 1
        return lo

    def assignment(self, toks, k, lo, hi, f, unit, path):
        start = self.chain_start(toks, k - 1, lo)
        end = self.expr_end(toks, k + 1, hi)
        slot = self.fp_slot(toks, start, k, f, unit)
        if slot is None:
            # a declaration's initializer: `type name = value`
            if toks[k - 1].kind == "id" and toks[k - 1].text in f.locals and \
                    f.locals[toks[k - 1].text].kind == "fnptr":
                slot = ("V", f.key, toks[k - 1].text)
        if slot is None:
            if self.holds_fp(toks, k + 1, end, f, unit) and toks[k + 1].text != "{":
                raise CheckError("%s:%d: a function pointer is stored where the checker "
                                 "cannot tell the slot" % (path, toks[k].line))
            return
        v = self.value(toks, k + 1, end, f, unit)
        if v is None:
            raise CheckError("%s:%d: cannot follow the value stored in %s" %
                             (path, toks[k].line, slot_name(slot)))
        self.add(slot, v)

    def callee_start(self, toks, k, lo):
        """Start of the callee expression of the call whose '(' is toks[k],
        or None when that '(' opens no call (a keyword's, a cast's ...)."""
        prev = toks[k - 1]
        if not (prev.kind == "id" or prev.text in (")", "]")) or prev.text in NOT_CALLS:
            return None
        start = self.chain_start(toks, k - 1, lo)
        if start == k - 1 and prev.kind == "id" and prev.text in KEYWORDS:
            return None
        return start

    def call(self, toks, k, lo, f, unit, path):
        prev = toks[k - 1]
        start = self.callee_start(toks, k, lo)
        if start is None:
            return
        close = match_close(toks, k)
        args = split_top(toks, k + 1, close)
        callee = None
        what, _ = self.chain(toks, start, k, f, unit)
        if what is not None and what[0] == "F":
            callee = ("F", what[1])
        elif what is not None:
            callee = what
        for n, (a, b) in enumerate(args):
            if a >= b:
                continue
            v = self.value(toks, a, b, f, unit)
            if not v:
                continue
            if callee is None:
                raise CheckError("%s:%d: a function pointer is passed to %s, which the "
                                 "checker cannot follow" % (path, toks[k].line, prev.text))
            if callee[0] == "F":
                fn = self.prog.funcs[callee[1]]
                if n >= len(fn.param_names) or fn.param_names[n] is None:
                    raise CheckError("%s:%d: argument %d of %s" % (path, toks[k].line, n, fn.name))
                self.add(("V", fn.key, fn.param_names[n]), v)
            else:
                for s in v:
                    self.arg_edges.append((callee, n, s))

    def scan_inits(self):
        for unit, f, toks, brace, typ, path in self.prog.inits:
            self.walk_init(toks, brace, typ, f, unit, path)

    def check_address_uses(self):
        """Every use of a library function's address must have been followed."""
        for path, unit, toks in self.prog.units:
            bodies = sorted(f.body for f in self.prog.funcs.values() if f.toks is toks)
            k = 0
            for bo, bc in bodies + [(len(toks), len(toks))]:
                self.check_span(toks, k, bo, unit, None, path)   # file scope
                k = bc + 1
            for f in self.prog.funcs.values():
                if f.toks is toks:
                    self.check_span(toks, f.body[0], f.body[1], unit, f, path)
            alltoks = self.prog.files[path]
            for k, t in enumerate(alltoks):
                if t.pp and t.kind == "id" and self.prog.func(unit, t.text) and \
                        (k + 1 >= len(alltoks) or alltoks[k + 1].text != "("):
                    raise CheckError("%s:%d: %s used in a macro body" % (path, t.line, t.text))

    def check_span(self, toks, bo, bc, unit, f, path):
        for k in range(bo, bc):
            t = toks[k]
            if t.kind != "id" or id(t) in self.accounted:
                continue
            if f and t.text in f.locals:
                continue
            if not self.prog.func(unit, t.text):
                continue
            nxt = toks[k + 1].text if k + 1 < len(toks) else ""
            prv = toks[k - 1].text if k > 0 else ""
            if nxt == "(" or prv in (".", "->", "struct", "union", "enum", "goto") or \
                    nxt in ("==", "!=") or prv in ("==", "!="):
                continue
            if f is None and nxt in (";", ",") and (
                    self.prog.typedefs.get(prv, OTHER).kind == "fn"):
                continue   # `static xhci_cmd_done_fn name;`: a declaration
            raise CheckError("%s:%d: the address of %s is used in a way the checker "
                             "does not follow" % (path, t.line, t.text))

    # -- fixpoint ----------------------------------------------------------

    def seed_embedder(self):
        prog = self.prog
        for tag, s in prog.structs.items():
            if os.path.dirname(s["file"]) == prog.public_dir:
                for name, typ in s["members"]:
                    if name and typ.kind == "fnptr":
                        self.values.setdefault(("M", tag, name), set()).add(EMBEDDER)
        for name, idxs in prog.public_protos.items():
            fn = prog.funcs.get((None, name))
            for n in idxs:
                if fn and n < len(fn.param_names):
                    self.values.setdefault(("V", fn.key, fn.param_names[n]), set()).add(EMBEDDER)

    def get(self, src):
        if src[0] == "F":
            return {src[1]}
        return self.values.get(src, set())

    def solve(self):
        changed = True
        while changed:
            changed = False
            for dst, src in self.edges:
                new = self.get(src) - self.values.get(dst, set())
                if new:
                    self.values.setdefault(dst, set()).update(new)
                    changed = True
            for callee, n, src in self.arg_edges:
                for target in self.get(callee):
                    if target == EMBEDDER:
                        continue
                    fn = self.prog.funcs[target]
                    if n >= len(fn.param_names):
                        continue
                    dst = ("V", fn.key, fn.param_names[n])
                    new = self.get(src) - self.values.get(dst, set())
                    if new:
                        self.values.setdefault(dst, set()).update(new)
                        changed = True


def is_type_name(prog, toks, i, j, f):
    """True when toks[i:j] is a type name (a cast or compound literal's)."""
    if i >= j:
        return False
    t = toks[i]
    if t.text in ("struct", "union", "enum", "const", "volatile") or t.text in BUILTIN_TYPES:
        return True
    if t.kind == "id" and (t.text in prog.typedefs or t.text in STD_TYPEDEFS) and \
            not (f and t.text in f.locals):
        return all(x.text in ("*", "const", "volatile") for x in toks[i + 1:j])
    return False


Program.is_type_name = is_type_name


# ---------------------------------------------------------------------------
# Indirect call sites

def indirect_targets(prog, flow, path, line, col):
    """Slots called at a source location: [(slot, set of targets)]."""
    path = os.path.realpath(path)
    toks = [t for t in prog.files[path] if not t.pp]
    f = prog.func_at(path, line)
    if f is None:
        raise CheckError("%s:%d: indirect call outside any function" % (path, line))
    unit = f.unit
    toks = f.toks
    bo, bc = f.body
    start = None
    for k in range(bo, bc):
        if (toks[k].line, toks[k].col) >= (line, col):
            start = k
            break
    if start is None:
        raise CheckError("%s:%d:%d: no code there" % (path, line, col))
    end = start
    while end < bc and toks[end].text not in (";", "{"):
        if toks[end].text in "([":
            end = match_close(toks, end)
        end += 1
    found = []
    for k in range(start, end):
        if toks[k].text != "(" or k == 0:
            continue
        prev = toks[k - 1]
        cs = flow.callee_start(toks, k, bo)
        if cs is None:
            continue
        what, typ = flow.chain(toks, cs, k, f, unit)
        if what is not None and what[0] == "F":
            continue
        if what is None:
            if prev.kind == "id" and cs == k - 1 and (prev.text in prog.protos or
                                                      prev.text in prog.macros or
                                                      prev.text.isupper() or
                                                      prev.text.startswith("__builtin")):
                continue   # a declared function or a macro
            if prev.text == ")" and is_type_name(prog, toks, cs + 1, k - 1, f):
                continue   # a cast
            raise CheckError("%s:%d:%d: cannot resolve the callee of an indirect call "
                             "(%s)" % (path, toks[k].line, toks[cs].col,
                                       " ".join(x.text for x in toks[cs:k])))
        if typ is None or typ.kind not in ("fnptr", "fn"):
            continue
        found.append((what, flow.values.get(what, set())))
    if not found:
        raise CheckError("%s:%d:%d: no indirect call found at this location" % (path, line, col))
    return found


# ---------------------------------------------------------------------------
# Depths

def node_of(graph, prog, key):
    """GCC's node title for a library function, or None if GCC emitted none."""
    fn = prog.funcs[key]
    if fn.static:
        for t in graph.by_name.get(fn.name, []):
            if graph.where[t][0] == fn.path:
                return t
        return None
    return fn.name if fn.name in graph.frame else None


def short(title):
    return title.rsplit(":", 1)[-1] if "/" in title else title


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cc", default="gcc", help="GCC command (split on spaces)")
    ap.add_argument("--cflag", action="append", default=[])
    ap.add_argument("--include", required=True)
    ap.add_argument("--private-include", action="append", default=[])
    ap.add_argument("--budget", type=int, default=2048)
    ap.add_argument("--allow", action="append", default=[],
                    help="a function whose over-budget paths are tolerated")
    ap.add_argument("--no-default-allow", action="store_true",
                    help="ignore the ALLOW list in this script")
    ap.add_argument("--baseline", help="entry points known to be over the budget: "
                    "lines of 'name bytes'; each may need up to its figure")
    ap.add_argument("--write-baseline", metavar="FILE",
                    help="write the entry points over the budget, as a baseline file")
    ap.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="also list every indirect call site and its targets")
    ap.add_argument("--workdir", help="keep GCC's outputs here (default: a temporary directory)")
    ap.add_argument("--reuse", action="store_true",
                    help="with --workdir: reuse the outputs already there")
    ap.add_argument("sources", nargs="+")
    args = ap.parse_args()
    args.cc = args.cc.split()
    allow = dict(() if args.no_default_allow else ALLOW)
    allow.update((a, "--allow") for a in args.allow)

    with tempfile.TemporaryDirectory() as tmp:
        if args.workdir:
            os.makedirs(args.workdir, exist_ok=True)
            tmp = args.workdir
        why = probe_compiler(args, tmp)
        if why:
            print("SKIP: %s" % why)
            return SKIP
        try:
            return check(args, allow, tmp)
        except CheckError as e:
            print("FAIL: %s" % e)
            return 1


def write_markdown(path, rows, allowed, budget):
    """The table as Markdown: entry point, worst depth, without the allowed
    functions' paths (when any are allowed), embedder's stack on top, the
    three largest frames."""
    with open(path, "w") as f:
        f.write("| entry point | worst (bytes) | %sembedder on top "
                "| largest frames on the worst path |\n|---|---:|%s---|---|\n"
                % ("not through %s | " % ", ".join(allowed) if allowed else "",
                   "---:|" if allowed else ""))
        for e, d, rest, emb, path_frames in rows:
            big = sorted(path_frames, key=lambda x: -x[1])[:3]
            f.write("| %s | %d%s | %s%s | %s |\n" % (
                e, d, " (over)" if d > budget else "",
                ("" if rest == d else "%d%s" % (rest, " (over)" if rest > budget else "")) +
                " | " if allowed else "",
                "yes" if emb else "", ", ".join("%s %d" % x for x in big)))


def read_baseline(path):
    """{entry point: bytes} from a baseline file ('#' starts a comment)."""
    out = {}
    if path:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                words = line.split("#", 1)[0].split()
                if not words:
                    continue
                if len(words) != 2 or not words[1].isdigit():
                    raise CheckError("%s:%d: expected 'name bytes'" % (path, n))
                out[words[0]] = int(words[1])
    return out


def check(args, allow, tmp):
    baseline = read_baseline(args.baseline)
    units = compile_all(args, tmp)
    graph = Graph()
    for src, su, ci in units:
        graph.load(su, ci)

    # The sources, each with the headers it includes (all of them: cheap).
    prog = Program(args.include)
    headers = []
    for d in [prog.public_dir] + args.private_include:
        headers += sorted(os.path.join(d, h) for h in os.listdir(d) if h.endswith(".h"))
    prog.load([(h, None) for h in headers] +
              [(src, os.path.realpath(src)) for src, _, _ in units])

    flow = Flow(prog)
    for f in list(prog.funcs.values()):
        flow.scan_function(f, f.path)
    flow.scan_inits()
    flow.check_address_uses()
    flow.seed_embedder()
    flow.solve()

    # Resolve every indirect call into edges.
    edges = {t: set(d) for t, d in graph.edges.items()}
    embedder_calls = {}   # caller title -> set of slot names
    how = {}              # (caller, callee) -> the indirect call that makes the edge
    resolved_sites = 0
    for caller, path, line, col in graph.indirect:
        for slot, targets in indirect_targets(prog, flow, path, line, col):
            if not targets:
                raise CheckError("%s:%d:%d: %s holds no function the checker can find" %
                                 (path, line, col, slot_name(slot)))
            for t in targets:
                if t == EMBEDDER:
                    embedder_calls.setdefault(caller, set()).add(slot_name(slot))
                    continue
                node = node_of(graph, prog, t)
                if node is not None:
                    edges.setdefault(caller, set()).add(node)
                    graph.sites.setdefault((caller, node), set()).add((path, line))
                    how.setdefault((caller, node), "%s at %s:%d" % (
                        slot_name(slot), os.path.basename(path), line))
            resolved_sites += 1
            if args.verbose:
                print("  %s:%d:%d %s -> %s" % (os.path.basename(path), line, col,
                                               slot_name(slot),
                                               ", ".join(sorted(x if x == EMBEDDER else x[1]
                                                                for x in targets))))
    for t in list(edges):
        edges[t] = {d for d in edges[t] if d in graph.frame}

    # Recursion and ruled-out paths (BOUNDED_RECURSION, RULED_OUT): each
    # call may carry a group's count down or switch a rule on for the
    # calls below it; every cycle left is an error.
    titles = {}
    for t in graph.frame:
        titles.setdefault(short(t), []).append(t)
        titles.setdefault("%s:%s" % (os.path.basename(graph.where[t][0]), short(t)), []).append(t)
    errors = []

    site_fn = {}

    def site_names(c):
        """Names of the source functions the calls of edge c are written in
        (GCC may have inlined them into the edge's caller)."""
        out = set()
        for site in graph.sites.get(c, ()):
            if site not in site_fn:
                f = prog.func_at(*site)
                site_fn[site] = f.name if f else None
            out.add(site_fn[site])
        return out

    def calls_named(table, name, a, b):
        """The graph's calls from a to b (fnmatch patterns). `a` names the
        caller GCC emitted or the source function a call is written in
        (GCC may have inlined it); a call of the graph is taken only when
        every call it stands for matches, so a rule never drops more."""
        out, seen = [], False
        for t, ds in edges.items():
            for d in ds:
                if not (fnmatch.fnmatchcase(short(d), b) or fnmatch.fnmatchcase(
                        "%s:%s" % (os.path.basename(graph.where[d][0]), short(d)), b)):
                    continue
                names = site_names((t, d))
                if fnmatch.fnmatchcase(short(t), a) or (t in graph.where and fnmatch.fnmatchcase(
                        "%s:%s" % (os.path.basename(graph.where[t][0]), short(t)), a)):
                    out.append((t, d))
                elif any(n and fnmatch.fnmatchcase(n, a) for n in names):
                    seen = True
                    if all(n and fnmatch.fnmatchcase(n, a) for n in names):
                        out.append((t, d))
        if not out and not seen:
            errors.append("%s %r: no call %s -> %s in the graph" % (table, name, a, b))
        return out

    back, bounds = {}, []
    for g, group in enumerate(BOUNDED_RECURSION):
        bounds.append(group["bound"])
        for a, b in group["calls"]:
            for c in calls_named("BOUNDED_RECURSION", group["name"], a, b):
                back[c] = g
    rule_on, rule_off, rule_end = {}, {}, {}
    for r, rule in enumerate(RULED_OUT):
        for a, b in rule["after"]:
            for c in calls_named("RULED_OUT", rule["name"], a, b):
                rule_on[c] = rule_on.get(c, 0) | (1 << r)
        for a, b in rule.get("until", ()):
            for c in calls_named("RULED_OUT", rule["name"], a, b):
                rule_end[c] = rule_end.get(c, 0) | (1 << r)
        keep = set()
        for a, b in rule.get("but", ()):
            keep.update(calls_named("RULED_OUT", rule["name"], a, b))
        for a, b in rule["never"]:
            for c in calls_named("RULED_OUT", rule["name"], a, b):
                if c not in keep:
                    rule_off[c] = rule_off.get(c, 0) | (1 << r)
    if errors:
        for e in errors:
            print("FAIL: %s" % e)
        return 1
    allowed = {c for c in graph.frame if short(c) in allow}
    entries = sorted(n for n in prog.public_protos if n in graph.frame)
    start = (tuple(bounds), 0)

    def step(st, d):
        """The state after the call st -> d, or None when it cannot be made."""
        t, (left, rules) = st
        c = (t, d)
        if rule_off.get(c, 0) & rules:
            return None
        g = back.get(c)
        if g is not None:
            if not left[g]:
                return None
            left = left[:g] + (left[g] - 1,) + left[g + 1:]
        return (d, (left, (rules & ~rule_end.get(c, 0)) | rule_on.get(c, 0)))

    def states(skip):
        """The (function, (calls left per group, rules on)) states reachable
        from the entry points, callers before callees, and their successors.
        A cycle of states is recursion nothing bounds."""
        succ, order, seen, onstack = {}, [], set(), set()
        for e in entries:
            root = (e, start)
            if root in seen or e in skip:
                continue
            seen.add(root)
            onstack.add(root)
            stack = [(root, None)]
            while stack:
                st, it = stack[-1]
                if it is None:
                    nxt = [step(st, d) for d in sorted(edges.get(st[0], ())) if d not in skip]
                    succ[st] = [n for n in nxt if n is not None]
                    it = iter(succ[st])
                    stack[-1] = (st, it)
                for d in it:
                    if d in onstack:
                        cyc = [x[0] for x, _ in stack[[x for x, _ in stack].index(d):]]
                        raise CheckError("recursion without a bound: %s" % " -> ".join(
                            "%s%s" % (short(a), " [%s]" % how[(a, b)] if (a, b) in how else "")
                            for a, b in zip(cyc, cyc[1:] + cyc[:1])))
                    if d not in seen:
                        seen.add(d)
                        onstack.add(d)
                        stack.append((d, None))
                        break
                else:
                    stack.pop()
                    onstack.discard(st)
                    order.append(st)
        order.reverse()
        return order, succ

    def longest(skip):
        """Deepest stack below each state (its own frame included), and the next state."""
        order, succ = states(skip)
        memo = {}
        for st in reversed(order):
            best, nxt = 0, None
            for d in succ[st]:
                if memo[d][0] > best:
                    best, nxt = memo[d][0], d
            memo[st] = (graph.frame[st[0]] + best, nxt)
        return memo, order, succ

    full, order, succ = longest(set())
    without = longest(allowed)[0]

    def path_of(st, memo=full):
        out = []
        while st is not None:
            out.append(st[0])
            st = memo[st][1]
        return out

    width = max(len(e) for e in entries)
    version = subprocess.run(args.cc + ["-dumpfullversion"], stdout=subprocess.PIPE,
                             universal_newlines=True).stdout.strip()
    print("Worst-case stack depth per public entry point (x86_64, GCC %s -O2, budget %d "
          "bytes)" % (version, args.budget))
    print("%-*s  %5s  %s" % (width, "entry point", "bytes", "worst path: function(frame bytes)"))
    failed, measured, rows = [], {}, []
    for e in entries:
        st = (e, start)
        d = full[st][0]
        p = path_of(st)
        mark = ""
        if d > args.budget:
            # What is left once the paths through ALLOW's functions are set aside.
            rest = 0 if e in allowed else without.get(st, (0,))[0]
            via = sorted({short(t) for t in p if t in allowed})
            if rest <= args.budget:
                mark = "  [over budget through %s: allowed]" % ", ".join(via or [e])
            elif rest <= baseline.get(e, 0):
                mark = "  [over budget: baseline %d]" % baseline[e]
            else:
                mark = "  [OVER BUDGET]"
                failed.append("%s needs %d bytes of stack (budget %d%s)" % (
                    e, rest, args.budget,
                    ", baseline %d" % baseline[e] if e in baseline else ""))
            if rest > args.budget:
                measured[e] = rest
        emb = " + embedder" if any(embedder_calls.get(t) for t in p) else ""
        rows.append((e, d, without.get(st, (d,))[0] if d > args.budget else d, bool(emb),
                     [(short(t), graph.frame[t]) for t in p]))
        print("%-*s  %5d  %s%s%s" % (width, e, d, " > ".join(
            "%s(%d)" % (short(t), graph.frame[t]) for t in p), emb, mark))
        if d > args.budget and p != path_of(st, without) and st in without:
            print("%-*s  %5d  %s" % (width, "  (not through %s)" % ", ".join(
                sorted(short(a) for a in allowed)), without[st][0], " > ".join(
                "%s(%d)" % (short(t), graph.frame[t]) for t in path_of(st, without))))
    if args.markdown:
        write_markdown(args.markdown, rows, sorted(short(a) for a in allowed), args.budget)
    if args.write_baseline:
        with open(args.write_baseline, "w") as f:
            f.write(BASELINE_HEADER % args.budget)
            for e in sorted(measured):
                f.write("%s %d\n" % (e, measured[e]))
    stale = sorted(e for e in baseline if e not in measured)

    # The deepest library stack under each of the embedder's callbacks: the
    # longest path from an entry point down to a function that calls it.
    above = {}
    for st in order:
        if st[1] == start and st[0] in prog.public_protos:
            above[st] = max(above.get(st, 0), graph.frame[st[0]])
        for d in succ[st]:
            if st in above:
                above[d] = max(above.get(d, 0), above[st] + graph.frame[d[0]])
    deepest = {}
    for st, v in above.items():
        for n in embedder_calls.get(st[0], ()):
            deepest[n] = max(deepest.get(n, 0), v)
    print()
    print("\"+ embedder\": the path calls the embedder's code (counted as 0 bytes here: its "
          "own stack goes on top).")
    print("The embedder's callbacks and the deepest bareusb stack each runs on:")
    for n in sorted(deepest):
        print("  %-44s %5d bytes" % (n, deepest[n]))
    print()
    print("Recursion, each call made at most so many times on one path:")
    for group in BOUNDED_RECURSION:
        print("  %s (%d): %s" % (group["name"], group["bound"], ", ".join(
            "%s -> %s" % c for c in group["calls"])))
    print("Paths ruled out (below the first calls, the others are not made):")
    for rule in RULED_OUT:
        print("  %s: %s | %s" % (rule["name"], ", ".join("%s -> %s" % c for c in rule["after"]),
                                 ", ".join("%s -> %s" % c for c in rule["never"])))
    print()
    print("%d functions, %d indirect call sites resolved, %d entry points, %d over the "
          "budget; the deepest: %s, %d bytes" % (
              len(graph.frame), resolved_sites, len(entries), len(measured),
              max(entries, key=lambda e: (full[(e, start)][0], e)),
              max(full[(e, start)][0] for e in entries)))
    for e in stale:
        print("NOTE: %s fits now: its baseline line can go" % e)
    for f in failed:
        print("FAIL: %s" % f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
