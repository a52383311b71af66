#!/usr/bin/env python3
"""What makes up a wasm binary: sections, code and data by crate, functions.

    tools/wasm-size.py target/wasm32-unknown-unknown/release/pvct_worker.wasm
    tools/wasm-size.py FILE --top 60 --filter 'serde_json::value'
    tools/wasm-size.py FILE --callers 'core::slice::sort::stable::driftsort_main'
    tools/wasm-size.py FILE --retained-by 'routes::langfuse::serve'
    tools/wasm-size.py FILE --compare OTHER.wasm      # crate-by-crate delta
    tools/wasm-size.py FILE --stub 'icu_|zerovec' --zero 1292160:42347
                                                      # what if: gzipped size without them
    tools/wasm-size.py FILE --json > out.json

Reads the wasm's sections, the code section's function bodies (decoding
their instructions for calls and static addresses) and the "name" custom
section's function names.  rustc's output keeps that section (before
wasm-bindgen and wasm-opt); a stripped file is reported by function index.
wasm-opt keeps it with -g, so `wasm-bindgen` + `wasm-opt -Oz -g` on a copy
gives the deployed code with names.  Names are demangled: Rust legacy
`_ZN...E` symbols (path segments, `$LT$`-style escapes, hash dropped) and
v0 `_R...` symbols (paths, impls, generic arguments; std is v0); names that
wasm-bindgen already demangled lose their hashes and `[...]` disambiguators.
Python 3 standard library only.

Crate of a function: the first path segment of its demangled name; for a
trait impl `<A as B>::f` the crate of A (of B when A is a primitive, a
reference to one, or a generic parameter).  Generic code is attributed to
the crate that defines it (`core::ptr::drop_in_place<pvct_core::X>` is
core's), so the "mentioned in" table adds, for each crate, the bytes of
every function whose name mentions it anywhere (rows overlap).  LLVM and
wasm-opt inline callees into callers (async fns into the future that awaits
them), so a caller's crate absorbs inlined code; the "retained" table (the
dominator tree of the call graph, as twiggy computes it) says what removing
a function would take with it.  wasm-bindgen's `__wbindgen_describe_*`
functions are listed apart: wasm-bindgen deletes them.

Data: each byte of the data section goes to the crate of the code whose
i32.const (or load/store offset) is the nearest address at or below it.

"gz alone" columns compress each piece on its own (zlib level 9): a guide to
what the piece costs after gzip, not an exact share of the whole file; for
that, --stub/--zero rebuild the module without custom sections, with the
chosen function bodies replaced by `unreachable` and the chosen data zeroed,
and compare gzipped sizes.
"""
import argparse
import json
import re
import sys
import zlib
from collections import defaultdict

SECTION_NAMES = {
    0: "custom", 1: "type", 2: "import", 3: "function", 4: "table",
    5: "memory", 6: "global", 7: "export", 8: "start", 9: "element",
    10: "code", 11: "data", 12: "datacount", 13: "tag",
}


# ---------------------------------------------------------------- reading

def leb_u(buf, i):
    result = shift = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, i


def leb_s(buf, i):
    result = shift = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            if b & 0x40:
                result -= 1 << shift
            return result, i


def read_name(buf, i):
    n, i = leb_u(buf, i)
    return buf[i:i + n].decode("utf-8", "replace"), i + n


def skip_limits(buf, i):
    flags = buf[i]
    i += 1
    _, i = leb_u(buf, i)
    if flags & 1:
        _, i = leb_u(buf, i)
    return i


class Wasm:
    def __init__(self, data):
        if data[:4] != b"\0asm":
            raise SystemExit("not a wasm binary (no \\0asm magic)")
        self.data = data
        self.sections = []          # (id, name, start, end, total_with_header)
        self.imported_funcs = 0
        self.import_names = []      # module.field of imported functions
        self.bodies = []            # (size incl. its length prefix, start, end)
        self.func_names = {}        # function index -> name
        self.data_segments = []     # (size, name or None, address or None, file offset)
        self.data_seg_names = {}
        self.exports = []
        self.start_func = None
        self.table_funcs = []       # functions placed in tables (called indirectly)
        i = 8
        while i < len(data):
            sid = data[i]
            hdr = i
            i += 1
            size, i = leb_u(data, i)
            start, end = i, i + size
            name = SECTION_NAMES.get(sid, "unknown-%d" % sid)
            if sid == 0:
                cname, _ = read_name(data, start)
                name = "custom:" + cname
            self.sections.append((sid, name, start, end, end - hdr))
            if sid == 2:
                self._imports(start)
            elif sid == 7:
                self._exports(start)
            elif sid == 8:
                self.start_func, _ = leb_u(data, start)
            elif sid == 9:
                self._elements(start)
            elif sid == 10:
                self._code(start)
            elif sid == 11:
                self._data(start, end)
            elif sid == 0 and name == "custom:name":
                self._names(start, end)
            i = end
        self.data_segments = [(size, self.data_seg_names.get(k), base, start)
                              for k, (size, _, base, start) in enumerate(self.data_segments)]

    def _imports(self, i):
        n, i = leb_u(self.data, i)
        for _ in range(n):
            mod, i = read_name(self.data, i)
            field, i = read_name(self.data, i)
            kind = self.data[i]
            i += 1
            if kind == 0:       # function: type index
                _, i = leb_u(self.data, i)
                self.imported_funcs += 1
                self.import_names.append(mod + "." + field)
            elif kind == 1:     # table: reftype + limits
                i = skip_limits(self.data, i + 1)
            elif kind == 2:     # memory
                i = skip_limits(self.data, i)
            elif kind == 3:     # global: valtype + mut
                i += 2
            elif kind == 4:     # tag: attribute + type index
                i += 1
                _, i = leb_u(self.data, i)
            else:
                raise SystemExit("unknown import kind %d" % kind)

    def _exports(self, i):
        n, i = leb_u(self.data, i)
        for _ in range(n):
            name, i = read_name(self.data, i)
            kind = self.data[i]
            idx, i = leb_u(self.data, i + 1)
            self.exports.append((name, kind, idx))

    def _const_expr(self, i):
        while self.data[i] != 0x0B:
            op = self.data[i]
            i += 1
            if op == 0xD2:
                f, i = leb_u(self.data, i)
                self.table_funcs.append(f)
            elif op in (0x41, 0x42, 0xD0):
                _, i = leb_s(self.data, i)
            elif op == 0x23:
                _, i = leb_u(self.data, i)
        return i + 1

    def _elements(self, i):
        n, i = leb_u(self.data, i)
        for _ in range(n):
            flags, i = leb_u(self.data, i)
            if flags & 2 and not flags & 1:
                _, i = leb_u(self.data, i)      # table index
            if not flags & 1:
                i = self._const_expr(i)         # offset
            if flags & 3:
                i += 1                          # elemkind / reftype
            k, i = leb_u(self.data, i)
            for _ in range(k):
                if flags & 4:
                    i = self._const_expr(i)
                else:
                    f, i = leb_u(self.data, i)
                    self.table_funcs.append(f)

    def _code(self, i):
        n, i = leb_u(self.data, i)
        for _ in range(n):
            p = i
            size, i = leb_u(self.data, i)
            self.bodies.append((i + size - p, i, i + size))
            i += size

    def _data(self, i, end):
        n, i = leb_u(self.data, i)
        for _ in range(n):
            flags, i = leb_u(self.data, i)
            base = None
            if flags == 2:
                _, i = leb_u(self.data, i)      # memory index
            if flags in (0, 2):                 # active: read the offset expression
                while self.data[i] != 0x0B:
                    op = self.data[i]
                    i += 1
                    if op == 0x41:
                        base, i = leb_s(self.data, i)
                        base &= 0xFFFFFFFF
                    elif op in (0x42, 0x23):    # i64.const, global.get
                        _, i = leb_u(self.data, i)
                    elif op == 0x44:
                        i += 8
                    elif op == 0x43:
                        i += 4
                i += 1
            size, i = leb_u(self.data, i)
            self.data_segments.append((size, None, base, i))
            i += size

    def _names(self, start, end):
        _, i = read_name(self.data, start)
        while i < end:
            sub = self.data[i]
            size, i = leb_u(self.data, i + 1)
            sub_end = i + size
            if sub in (1, 9):   # function names, data segment names
                n, j = leb_u(self.data, i)
                target = self.func_names if sub == 1 else self.data_seg_names
                for _ in range(n):
                    idx, j = leb_u(self.data, j)
                    nm, j = read_name(self.data, j)
                    target[idx] = nm
            i = sub_end


# ------------------------------------------------------ instruction scan

VALTYPES = {0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F, 0x69, 0x6E, 0x6D, 0x6C, 0x6B, 0x6A, 0x71, 0x72, 0x73, 0x74}
NO_IMM = set([0x00, 0x01, 0x05, 0x0A, 0x0B, 0x0F, 0x19, 0x1A, 0x1B, 0xD1, 0xD3, 0xD4]) | set(range(0x45, 0xC5))
ONE_IDX = {0x07, 0x08, 0x09, 0x0C, 0x0D, 0x10, 0x12, 0x18, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26,
           0x3F, 0x40, 0xD2, 0xD5, 0xD6}


def _skip_blocktype(b, i):
    if b[i] == 0x40 or b[i] in VALTYPES:
        return i + 1
    if b[i] in (0x63, 0x64):                # (ref null? heaptype)
        _, i = leb_s(b, i + 1)
        return i
    _, i = leb_s(b, i)
    return i


def scan_body(b, i, end):
    """(i32.const immediates, functions called or referenced) of one function
    body b[i:end]; None if an opcode is not understood (SIMD, GC)."""
    n, i = leb_u(b, i)
    for _ in range(n):                      # local declarations
        _, i = leb_u(b, i)
        t = b[i]
        i += 1
        if t in (0x63, 0x64):
            _, i = leb_s(b, i)
    out = []
    calls = []
    while i < end:
        op = b[i]
        i += 1
        if op in NO_IMM:
            continue
        if op == 0x41:
            v, i = leb_s(b, i)
            out.append(v & 0xFFFFFFFF)
        elif op in (0x10, 0x12, 0xD2):      # call, return_call, ref.func
            f, i = leb_u(b, i)
            calls.append(f)
        elif op in ONE_IDX:
            _, i = leb_u(b, i)
        elif op in (0x02, 0x03, 0x04, 0x06):
            i = _skip_blocktype(b, i)
        elif 0x28 <= op <= 0x3E:            # memarg: wasm-opt folds static addresses into offsets
            align, i = leb_u(b, i)
            if align & 0x40:
                _, i = leb_u(b, i)
            off, i = leb_u(b, i)
            if off >= 1024:
                out.append(off)
        elif op == 0x42:
            _, i = leb_s(b, i)
        elif op == 0x43:
            i += 4
        elif op == 0x44:
            i += 8
        elif op in (0x11, 0x13):
            _, i = leb_u(b, i)
            _, i = leb_u(b, i)
        elif op == 0x0E:
            k, i = leb_u(b, i)
            for _ in range(k + 1):
                _, i = leb_u(b, i)
        elif op == 0x1C:
            k, i = leb_u(b, i)
            i += k
        elif op == 0xD0:
            i = _skip_blocktype(b, i) if b[i] in VALTYPES else leb_s(b, i)[1]
        elif op == 0x1F:                    # try_table
            i = _skip_blocktype(b, i)
            k, i = leb_u(b, i)
            for _ in range(k):
                kind = b[i]
                i += 1
                if kind in (0, 1):
                    _, i = leb_u(b, i)
                _, i = leb_u(b, i)
        elif op == 0xFC:
            sub, i = leb_u(b, i)
            if sub <= 7:
                pass
            elif sub in (8, 10, 12, 14):
                _, i = leb_u(b, i)
                _, i = leb_u(b, i)
            elif sub in (9, 11, 13, 15, 16, 17):
                _, i = leb_u(b, i)
            else:
                return None
        else:
            return None
    return out, calls


# ------------------------------------------------------------- demangling

LEGACY_ESCAPES = {
    "SP": "@", "BP": "*", "RF": "&", "LT": "<", "GT": ">", "LP": "(",
    "RP": ")", "C": ",",
}
HASH_RE = re.compile(r"^h[0-9a-f]{16}$")


def _legacy_ident(s):
    if s.startswith("_$"):
        s = s[1:]
    out = []
    i = 0
    while i < len(s):
        if s[i] == "$":
            j = s.find("$", i + 1)
            if j > 0:
                code = s[i + 1:j]
                if code in LEGACY_ESCAPES:
                    out.append(LEGACY_ESCAPES[code])
                    i = j + 1
                    continue
                if code.startswith("u") and re.fullmatch(r"u[0-9a-f]+", code):
                    out.append(chr(int(code[1:], 16)))
                    i = j + 1
                    continue
        if s.startswith("..", i):
            out.append("::")
            i += 2
            continue
        out.append(s[i])
        i += 1
    return "".join(out)


def demangle_legacy(sym):
    m = re.match(r"^_?_ZN", sym)
    if not m:
        return None
    i = m.end()
    parts = []
    while i < len(sym) and sym[i] != "E":
        j = i
        while j < len(sym) and sym[j].isdigit():
            j += 1
        if j == i:
            return None
        n = int(sym[i:j])
        parts.append(sym[j:j + n])
        i = j + n
    if parts and HASH_RE.match(parts[-1]):
        parts.pop()
    return "::".join(_legacy_ident(p) for p in parts)


class _V0:
    """A v0 (`_R...`) demangler: paths, impls, generic arguments and the
    common types; constants are shown as their raw digits, and anything it
    cannot read ends the name with `?`."""

    BASIC = {
        "a": "i8", "b": "bool", "c": "char", "d": "f64", "e": "str", "f": "f32",
        "h": "u8", "i": "isize", "j": "usize", "l": "i32", "m": "u32", "n": "i128",
        "o": "u128", "s": "i16", "t": "u16", "u": "()", "v": "...", "x": "i64",
        "y": "u64", "z": "!", "p": "_",
    }

    def __init__(self, s):
        self.s = s
        self.i = 0
        self.depth = 0

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else ""

    def eat(self, c):
        if self.peek() == c:
            self.i += 1
            return True
        return False

    def next(self):
        c = self.peek()
        if not c:
            raise ValueError("end")
        self.i += 1
        return c

    def base62(self):
        if self.eat("_"):
            return 0
        n = 0
        while True:
            c = self.next()
            if c == "_":
                return n + 1
            if c.isdigit():
                d = ord(c) - 48
            elif c.islower():
                d = ord(c) - 97 + 10
            elif c.isupper():
                d = ord(c) - 65 + 36
            else:
                raise ValueError("base62")
            n = n * 62 + d

    def disambiguator(self):
        if self.peek() == "s":
            self.i += 1
            return self.base62()
        return 0

    def ident(self):
        self.disambiguator()
        return self.undisambiguated()

    def undisambiguated(self):
        puny = self.eat("u")
        j = self.i
        while self.peek().isdigit():
            self.i += 1
        if j == self.i:
            raise ValueError("ident")
        n = int(self.s[j:self.i])
        self.eat("_")
        text = self.s[self.i:self.i + n]
        self.i += n
        return ("punycode:" + text) if puny else text

    def backref(self, fn):
        target = self.base62()
        if self.depth > 40:
            raise ValueError("deep")
        saved = self.i
        self.i = target
        self.depth += 1
        try:
            return fn()
        finally:
            self.depth -= 1
            self.i = saved

    def path(self):
        c = self.next()
        if c == "C":
            return self.ident()
        if c == "M":
            self.disambiguator()
            impl_path = self.path()
            t = self.type()
            if _first_segment(t) in PRIMITIVES or t.startswith(("[", "(", "&", "*")):
                # inherent impl on a primitive: named like legacy symbols do
                return impl_path + "::<impl " + t + ">"
            return "<" + t + ">"
        if c == "X":
            self.disambiguator()
            self.path()
            t = self.type()
            return "<" + t + " as " + self.path() + ">"
        if c == "Y":
            t = self.type()
            return "<" + t + " as " + self.path() + ">"
        if c == "N":
            ns = self.next()
            parent = self.path()
            name = self.ident()
            if ns == "C":
                return parent + "::{{closure}}"
            if ns.isupper():
                return parent + "::{{%s%s}}" % ("shim" if ns == "S" else ns, (":" + name) if name else "")
            return parent + "::" + name if name else parent
        if c == "I":
            p = self.path()
            args = []
            while not self.eat("E"):
                args.append(self.generic_arg())
            return p + ("<" + ", ".join(a for a in args if a) + ">" if any(args) else "")
        if c == "B":
            return self.backref(self.path)
        raise ValueError("path " + c)

    def generic_arg(self):
        if self.eat("L"):
            self.base62()
            return ""
        if self.eat("K"):
            return self.const()
        return self.type()

    def const(self):
        if self.eat("B"):
            return self.backref(self.const)
        if self.eat("p"):
            return "_"
        ty = self.next()
        neg = self.eat("n")
        j = self.i
        while self.peek() != "_":
            self.next()
        digits = self.s[j:self.i]
        self.i += 1
        if ty in "ahijlmnostxy":
            return ("-" if neg else "") + str(int(digits or "0", 16))
        if ty == "b":
            return "true" if digits == "1" else "false"
        return digits

    def type(self):
        c = self.peek()
        if c in self.BASIC:
            self.i += 1
            return self.BASIC[c]
        if c in "CMXYNI":
            return self.path()
        self.i += 1
        if c == "B":
            return self.backref(self.type)
        if c == "A":
            t = self.type()
            self.eat("K")
            return "[" + t + "; " + self.const() + "]"
        if c == "S":
            return "[" + self.type() + "]"
        if c == "T":
            ts = []
            while not self.eat("E"):
                ts.append(self.type())
            return "(" + ", ".join(ts) + ("," if len(ts) == 1 else "") + ")"
        if c in "RQ":
            if self.eat("L"):
                self.base62()
            return ("&" if c == "R" else "&mut ") + self.type()
        if c in "PO":
            return ("*const " if c == "P" else "*mut ") + self.type()
        if c == "F":
            if self.eat("G"):
                self.base62()
            unsafe = self.eat("U")
            if self.eat("K"):
                if not self.eat("C"):
                    self.undisambiguated()
            ts = []
            while not self.eat("E"):
                ts.append(self.type())
            ret = self.type()
            return "%sfn(%s)%s" % ("unsafe " if unsafe else "", ", ".join(ts), "" if ret == "()" else " -> " + ret)
        if c == "D":
            if self.eat("G"):
                self.base62()
            traits = []
            while not self.eat("E"):
                t = self.path()
                while self.eat("p"):
                    self.undisambiguated()
                    self.type()
                traits.append(t)
            if self.eat("L"):
                self.base62()
            return "dyn " + " + ".join(traits)
        raise ValueError("type " + c)


def demangle_v0(sym):
    m = re.match(r"^_?_R\d*", sym)
    if not m:
        return None
    body = sym[m.end():]
    p = _V0(body)
    try:
        return p.path()
    except (ValueError, IndexError, RecursionError):
        # fall back to the identifiers in order
        idents = []
        for m in re.finditer(r"(?<![0-9])\d+", body):
            n, j = int(m.group(0)), m.end()
            if body[j:j + 1] == "_" and body[j + 1:j + 2] in ("_",) + tuple("0123456789"):
                j += 1
            ident = body[j:j + n]
            if len(ident) == n and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ident):
                idents.append(ident)
        return "::".join(idents) + "?"


def demangle(sym):
    if re.fullmatch(r"func\[\d+\]", sym):
        return sym
    base = re.sub(r"\.(llvm\.\d+|\d+)$", "", sym)
    d = demangle_legacy(base)
    if d is None:
        d = demangle_v0(base)
    if d is None:
        # already demangled (wasm-bindgen rewrites the name section so):
        # drop the hash and v0 crate disambiguators like core[c5930c85a12de822]
        d = re.sub(r"::h[0-9a-f]{16}$", "", base)
        d = re.sub(r"\[[0-9a-f]{1,16}\]", "", d)
    return d


# ------------------------------------------------------- crate attribution

PRIMITIVES = set(
    "bool char str u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize f32 f64 T U V K E F R S A B".split()
)


def _first_segment(path):
    path = path.strip()
    while True:
        for prefix in ("&mut ", "&", "*const ", "*mut ", "dyn ", "impl ", "[", "(", "mut "):
            if path.startswith(prefix):
                path = path[len(prefix):].lstrip()
                break
        else:
            break
    if path.startswith("<"):
        return _self_crate(path)
    m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", path)
    return m.group(0) if m else ""


def _split_qualified(name):
    """`<A as B>::rest` -> (A, B, rest); `<A>::rest` -> (A, None, rest)."""
    depth = 0
    for k, ch in enumerate(name):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
            if depth == 0:
                inner = name[1:k]
                rest = name[k + 1:]
                d = 0
                for m in re.finditer(r"[<>]| as ", inner):
                    tok = m.group(0)
                    if tok == "<":
                        d += 1
                    elif tok == ">":
                        d -= 1
                    elif d == 0:
                        return inner[:m.start()], inner[m.end():], rest
                return inner, None, rest
    return name, None, ""


def _self_crate(name):
    a, b, _ = _split_qualified(name)
    ca = _first_segment(a)
    if ca and ca not in PRIMITIVES and not re.fullmatch(r"[A-Z]", ca):
        return ca
    if b:
        return _first_segment(b) or ca
    return "core" if ca in PRIMITIVES else ca


def crate_of(raw, dem):
    if raw.startswith("__wbindgen_describe"):
        return "(wbindgen describe: removed by wasm-bindgen)"
    if raw.startswith(("__wbg_", "__wbindgen", "__externref")):
        return "wasm_bindgen"
    if raw.startswith(("__rust", "__rdl_", "__rg_")):
        return "std"
    if raw.startswith("func["):
        return "(unnamed function)"
    if not raw.startswith(("_ZN", "__ZN", "_R", "__R")) and "::" not in raw:
        if re.search(r"_[0-9a-f]{16}$| shim$", raw) or raw in ("init", "start"):
            return "(#[wasm_bindgen] export shims)"
        return "(compiler-builtins / libc)"
    if dem.startswith("<"):
        c = _self_crate(dem)
    else:
        c = _first_segment(dem)
    if c == "__rustc":
        return "std"
    return c or "(other)"


# mentioned-in: which crate names occur anywhere in a demangled name
PATH_ROOT_RE = re.compile(r"(?:^|(?<=[<(\[&\s,*;]))([a-z_][a-z0-9_]*)::")

THEMES = [
    ("serde Deserialize (derive visitors, Deserializer impls)",
     re.compile(r"serde::de::|Deserialize|Visitor|MapAccess|SeqAccess|EnumAccess|VariantAccess|serde_json::de::")),
    ("serde Serialize", re.compile(r"serde::ser::|Serialize|Serializer|serde_json::ser::")),
    ("serde_json::Value (any)", re.compile(r"serde_json::value")),
    ("core::fmt (formatting machinery + Debug/Display impls)", re.compile(r"core::fmt|as core::fmt::|fmt::Debug|fmt::Display|alloc::fmt::format")),
    ("panic / unwrap / error paths", re.compile(r"panic|unwrap_failed|expect_failed|assert_failed|core::result::unwrap|slice_index|_fail$|bounds_check")),
    ("drop_in_place", re.compile(r"drop_in_place")),
    ("async ({{closure}} state machines, futures)", re.compile(r"\{\{closure\}\}|futures_|Future>::poll|core::future")),
    ("JS glue (wasm_bindgen, js_sys, web_sys)", re.compile(r"wasm_bindgen|js_sys|web_sys|__wbg|__wbindgen")),
    ("allocator (dlmalloc, RawVec growth)", re.compile(r"dlmalloc|raw_vec|__rust_alloc|__rdl_|alloc::alloc")),
    ("hashbrown / HashMap", re.compile(r"hashbrown|HashMap|HashSet")),
    ("BTreeMap", re.compile(r"btree")),
]


# ---------------------------------------------------------------- report

def gz(b):
    return len(zlib.compress(bytes(b), 9))


def analyse(path):
    data = open(path, "rb").read()
    w = Wasm(data)
    funcs = []
    for k, (size, s, e) in enumerate(w.bodies):
        idx = w.imported_funcs + k
        raw = w.func_names.get(idx, "func[%d]" % idx)
        dem = demangle(raw)
        scanned = scan_body(w.data, s, e) or ((), ())
        funcs.append({
            "index": idx, "size": size, "raw": raw, "name": dem,
            "crate": crate_of(raw, dem), "start": s, "end": e,
            "consts": scanned[0], "calls": scanned[1],
        })
    return w, funcs


# i32 constants that may fall inside .rodata's addresses but are chars, not
# addresses: 0x110000 (Option<char>::None) and the code points just below it
# (char::MAX, regex class bounds).  A real address there is misread as a char.
NOT_ADDRESSES = set(range(0x10F800, 0x110001))


def attribute_data(w, funcs):
    segs = sorted((base, base + size, start) for size, _, base, start in w.data_segments
                  if base is not None and size)
    if not segs:
        return [], []
    lo, hi = segs[0][0], max(b for _, b, _ in segs)
    refs = defaultdict(list)
    for f in funcs:
        for v in f["consts"]:
            if lo <= v < hi and v not in NOT_ADDRESSES:
                refs[v].append(f)
    addrs = sorted(refs)
    owner_of = {}
    for a in addrs:
        counts = defaultdict(int)
        for f in refs[a]:
            counts[f["crate"]] += 1
        owner_of[a] = max(counts.items(), key=lambda kv: kv[1])[0]
    by_crate = defaultdict(lambda: [0, bytearray()])
    blob_sizes = defaultdict(int)
    blob_heads = {}
    k = -1                                  # index of the last address <= the current byte
    for base, end, start in segs:
        pos = base
        while pos < end:
            while k + 1 < len(addrs) and addrs[k + 1] <= pos:
                k += 1
            nxt = addrs[k + 1] if k + 1 < len(addrs) and addrs[k + 1] < end else end
            chunk = w.data[start + pos - base:start + nxt - base]
            a = addrs[k] if k >= 0 else None
            c = by_crate[owner_of[a] if a is not None else "(not referenced from code)"]
            c[0] += len(chunk)
            c[1] += chunk
            if a is not None:
                blob_sizes[a] += len(chunk)
                blob_heads.setdefault(a, bytes(chunk[:48]))
            pos = nxt
    rows = [{"crate": c, "bytes": v[0], "gz": gz(v[1])} for c, v in by_crate.items()]
    rows.sort(key=lambda r: -r["bytes"])
    blobs = sorted(((a, n, refs[a][0]["name"], blob_heads[a]) for a, n in blob_sizes.items()),
                   key=lambda b: -b[1])
    return rows, blobs


def dominators(w, funcs):
    """Retained size of each function: its own bytes plus those of every
    function reachable only through it (the dominator tree of the call graph,
    rooted at the exports, the start function and the table)."""
    by_index = {f["index"]: f for f in funcs}
    ROOT = -1
    succ = {ROOT: [idx for _, kind, idx in w.exports if kind == 0] + list(w.table_funcs)
            + ([w.start_func] if w.start_func is not None else [])}
    for f in funcs:
        succ[f["index"]] = f["calls"]
    order, seen, stack = [], {ROOT}, [(ROOT, iter(succ[ROOT]))]
    while stack:                            # iterative DFS for postorder
        node, it = stack[-1]
        for nxt in it:
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, iter(succ.get(nxt, ()))))
                break
        else:
            order.append(node)
            stack.pop()
    rpo = order[::-1]
    num = {n: k for k, n in enumerate(rpo)}
    preds = defaultdict(list)
    for n in rpo:
        for m in succ.get(n, ()):
            if m in num:
                preds[m].append(n)
    idom = {ROOT: ROOT}

    def intersect(a, b):
        while a != b:
            while num[a] > num[b]:
                a = idom[a]
            while num[b] > num[a]:
                b = idom[b]
        return a

    changed = True
    while changed:
        changed = False
        for n in rpo[1:]:
            new = None
            for p in preds[n]:
                if p in idom:
                    new = p if new is None else intersect(p, new)
            if idom.get(n) != new:
                idom[n] = new
                changed = True
    retained = defaultdict(int)
    for n in order:                         # postorder: children before parents
        if n == ROOT:
            continue
        retained[n] += by_index[n]["size"] if n in by_index else 0
        retained[idom[n]] += retained[n]
    unreachable = sum(f["size"] for f in funcs if f["index"] not in num)
    return retained, idom, unreachable


def leb_enc(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def rebuild(w, funcs, stub=frozenset(), zero=()):
    """The module without custom sections, with the bodies of the functions
    whose indices are in `stub` replaced by `unreachable` and the data at the
    (address, length) ranges in `zero` zeroed (a stand-in for deleting it)."""
    out = bytearray(w.data[:8])
    for sid, name, s, e, _ in w.sections:
        if sid == 0:
            continue
        body = w.data[s:e]
        if sid == 10 and stub:
            body = bytearray(leb_enc(len(funcs)))
            for f in funcs:
                b = b"\x00\x00\x0b" if f["index"] in stub else w.data[f["start"]:f["end"]]
                body += leb_enc(len(b)) + b
        elif sid == 11 and zero:
            body = bytearray(body)
            for size, _, base, start in w.data_segments:
                if base is None:
                    continue
                for a, n in zero:
                    lo, hi = max(a, base), min(a + n, base + size)
                    if lo < hi:
                        off = start - s + lo - base
                        body[off:off + hi - lo] = bytes(hi - lo)
        out += bytes([sid]) + leb_enc(len(body)) + body
    return bytes(out)


def what_if(path, stub_rx, zero_specs):
    w, funcs = analyse(path)
    rx = re.compile(stub_rx) if stub_rx else None
    stub = {f["index"] for f in funcs if rx and (rx.search(f["name"]) or rx.search(f["raw"]))}
    zero = []
    for spec in zero_specs:
        a, n = spec.split(":")
        zero.append((int(a, 0), int(n, 0)))
    base = rebuild(w, funcs)
    new = rebuild(w, funcs, stub, zero)
    bg, ng = gz(base), gz(new)
    print("what if: %d functions stubbed (%d code bytes), %d data bytes zeroed" % (
        len(stub), sum(f["size"] for f in funcs if f["index"] in stub), sum(n for _, n in zero)))
    print("  module without custom sections: %d bytes, %d gzipped" % (len(base), bg))
    dropped = sum(n for _, n in zero)
    print("  after (zeroed data counted as gone): %d bytes, %d gzipped (%+d raw, %+d gzipped, %+.1f%%)" % (
        len(new) - dropped, ng, len(new) - dropped - len(base), ng - bg, 100.0 * (ng - bg) / bg))


def pct(a, b):
    return 100.0 * a / b if b else 0.0


def report(path, args):
    w, funcs = analyse(path)
    data = w.data
    out = {"file": path, "bytes": len(data), "gzip9": gz(data)}
    code_total = sum(f["size"] for f in funcs)
    P = print if not args.json else (lambda *a, **k: None)

    P("%s: %d bytes, %d gzipped (zlib -9)" % (path, len(data), out["gzip9"]))
    P("functions: %d imported, %d defined; name section: %s (%d function names)" % (
        w.imported_funcs, len(funcs),
        "yes" if any(s[1] == "custom:name" for s in w.sections) else "NO (stripped: names are indices)",
        len(w.func_names)))
    P()
    P("== sections")
    P("%-32s %10s %6s %10s" % ("section", "bytes", "%file", "gz alone"))
    secs = []
    for sid, name, s, e, total in w.sections:
        g = gz(data[s:e])
        secs.append({"name": name, "bytes": total, "pct": pct(total, len(data)), "gz": g})
        P("%-32s %10d %5.1f%% %10d" % (name, total, pct(total, len(data)), g))
    out["sections"] = secs

    P()
    P("== data section: %d segments, %d bytes" % (len(w.data_segments), sum(d[0] for d in w.data_segments)))
    for size, nm, base, _ in sorted(w.data_segments, key=lambda x: -x[0])[:8]:
        P("   %10d  %s at %s" % (size, nm or "(unnamed)", base))
    out["data_segments"] = [{"bytes": d[0], "name": d[1], "address": d[2]} for d in w.data_segments]

    data_rows, blobs = attribute_data(w, funcs)
    if data_rows:
        P()
        P("== data by crate (each byte goes to the crate of the code that loads the nearest address at or")
        P("   below it: strings and tables reached only through other data count for whoever precedes them)")
        P("%-46s %10s %6s %10s" % ("crate", "bytes", "%data", "gz alone"))
        dtotal = sum(r["bytes"] for r in data_rows)
        for r in data_rows:
            if r["bytes"] * 200 >= dtotal:
                P("%-46s %10d %5.1f%% %10d" % (r["crate"], r["bytes"], pct(r["bytes"], dtotal), r["gz"]))
        P()
        P("== largest data blobs (address, bytes, first function that references it, start of contents)")
        for addr, size, fn, head in blobs[:args.top_data]:
            P("%10d %8d  %-60s %r" % (addr, size, fn[:60], head))
        out["data_by_crate"] = data_rows
        out["data_blobs"] = [{"address": a, "bytes": b, "function": f, "head": h.decode("latin-1")}
                             for a, b, f, h in blobs[:args.top_data]]

    by_crate = defaultdict(lambda: [0, 0, bytearray()])
    for f in funcs:
        c = by_crate[f["crate"]]
        c[0] += f["size"]
        c[1] += 1
        c[2] += data[f["start"]:f["end"]]
    P()
    P("== code by crate (code section bodies: %d bytes; crate = defining crate, see --help)" % code_total)
    P("%-46s %10s %6s %6s %10s" % ("crate", "bytes", "%code", "funcs", "gz alone"))
    rows = []
    for name, (size, n, blob) in sorted(by_crate.items(), key=lambda kv: -kv[1][0]):
        g = gz(blob)
        rows.append({"crate": name, "bytes": size, "pct": pct(size, code_total), "functions": n, "gz": g})
        if size * 1000 >= code_total or args.all_crates:
            P("%-46s %10d %5.1f%% %6d %10d" % (name, size, pct(size, code_total), n, g))
    small = [r for r in rows if r["bytes"] * 1000 < code_total]
    if small and not args.all_crates:
        P("%-46s %10d %5.1f%% %6d" % ("(%d crates under 0.1%% each)" % len(small),
                                    sum(r["bytes"] for r in small), pct(sum(r["bytes"] for r in small), code_total),
                                    sum(r["functions"] for r in small)))
    out["crates"] = rows

    mention = defaultdict(lambda: [0, 0])
    for f in funcs:
        roots = set(PATH_ROOT_RE.findall(f["name"]))
        roots.add(f["crate"])
        for r in roots:
            mention[r][0] += f["size"]
            mention[r][1] += 1
    P()
    P("== mentioned in (bytes of functions whose name mentions the crate anywhere; rows overlap)")
    P("%-46s %10s %6s %6s" % ("crate", "bytes", "%code", "funcs"))
    mrows = []
    for name, (size, n) in sorted(mention.items(), key=lambda kv: -kv[1][0]):
        if size * 200 < code_total:
            continue
        mrows.append({"crate": name, "bytes": size, "pct": pct(size, code_total), "functions": n})
        P("%-46s %10d %5.1f%% %6d" % (name, size, pct(size, code_total), n))
    out["mentioned"] = mrows

    P()
    P("== themes (regex over demangled names; rows overlap)")
    trows = []
    for label, rx in THEMES:
        sel = [f for f in funcs if rx.search(f["name"]) or rx.search(f["raw"])]
        size = sum(f["size"] for f in sel)
        trows.append({"theme": label, "bytes": size, "pct": pct(size, code_total), "functions": len(sel)})
        P("%-58s %10d %5.1f%% %6d" % (label, size, pct(size, code_total), len(sel)))
    out["themes"] = trows

    # identical demangled names = one generic instantiated many times
    groups = defaultdict(lambda: [0, 0])
    for f in funcs:
        g = groups[re.sub(r"<[^<>]*(<[^<>]*(<[^<>]*>[^<>]*)*>[^<>]*)*>", "<..>", f["name"])]
        g[0] += f["size"]
        g[1] += 1
    P()
    P("== generic families (names with generic arguments folded to <..>; top %d by bytes)" % args.top_groups)
    P("%10s %6s  %s" % ("bytes", "copies", "name"))
    grows = []
    for name, (size, n) in sorted(groups.items(), key=lambda kv: -kv[1][0])[:args.top_groups]:
        grows.append({"name": name, "bytes": size, "copies": n})
        P("%10d %6d  %s" % (size, n, name[:150]))
    out["families"] = grows

    P()
    P("== top %d functions" % args.top)
    P("%10s %6s  %-24s %s" % ("bytes", "%code", "crate", "name"))
    top = sorted(funcs, key=lambda f: -f["size"])[:args.top]
    for f in top:
        P("%10d %5.2f%%  %-24s %s" % (f["size"], pct(f["size"], code_total), f["crate"][:24], f["name"][:160]))
    out["top"] = [{k: f[k] for k in ("index", "size", "crate", "name")} for f in top]

    retained, idom, unreachable = dominators(w, funcs)
    by_index = {f["index"]: f for f in funcs}
    P()
    P("== top %d by retained size (own bytes + bytes reachable only through it: what removing it saves)" % args.top)
    P("%10s %10s %6s  %s" % ("retained", "own", "%code", "name"))
    ranked = sorted((n for n in retained if n in by_index), key=lambda n: -retained[n])
    rrows = []
    for n in ranked[:args.top]:
        f = by_index[n]
        rrows.append({"index": n, "retained": retained[n], "size": f["size"], "name": f["name"]})
        P("%10d %10d %5.1f%%  %s" % (retained[n], f["size"], pct(retained[n], code_total), f["name"][:150]))
    if unreachable:
        P("(%d bytes in functions unreachable from the exports and the table)" % unreachable)
    out["retained"] = rrows
    if args.retained_by:
        rx = re.compile(args.retained_by)
        P()
        P("== functions retained by (dominated by) those matching %r" % args.retained_by)
        for n in ranked:
            f = by_index[n]
            if rx.search(f["name"]):
                kids = sorted((m for m in by_index if idom.get(m) == n), key=lambda m: -retained[m])
                P("%10d  %s" % (retained[n], f["name"][:150]))
                for m in kids[:args.filter_limit]:
                    P("    %10d %8d  %-22s %s" % (retained[m], by_index[m]["size"], by_index[m]["crate"][:22],
                                                  by_index[m]["name"][:140]))

    if args.callers:
        rx = re.compile(args.callers)
        targets = {f["index"] for f in funcs if rx.search(f["name"]) or rx.search(f["raw"])}
        P()
        P("== callers of functions matching %r (%d functions)" % (args.callers, len(targets)))
        for f in sorted(funcs, key=lambda f: -f["size"]):
            hit = [by_index[c]["name"] for c in set(f["calls"]) if c in targets and c in by_index]
            if hit:
                P("%10d  %s\n            -> %s" % (f["size"], f["name"][:140], "; ".join(h[:90] for h in hit[:3])))

    if args.filter:
        rx = re.compile(args.filter)
        sel = [f for f in funcs if rx.search(f["name"]) or rx.search(f["raw"])]
        P()
        P("== functions matching %r: %d, %d bytes (%.1f%% of code)" % (
            args.filter, len(sel), sum(f["size"] for f in sel), pct(sum(f["size"] for f in sel), code_total)))
        for f in sorted(sel, key=lambda f: -f["size"])[:args.filter_limit]:
            P("%10d  %-24s %s" % (f["size"], f["crate"][:24], f["name"][:200]))
        out["filter"] = [{k: f[k] for k in ("index", "size", "crate", "name")} for f in sel]
    return out


def compare(a, b):
    _, fa = analyse(a)
    _, fb = analyse(b)
    ca, cb = defaultdict(int), defaultdict(int)
    for f in fa:
        ca[f["crate"]] += f["size"]
    for f in fb:
        cb[f["crate"]] += f["size"]
    print("== code by crate: %s -> %s" % (a, b))
    print("%-46s %10s %10s %10s" % ("crate", "before", "after", "delta"))
    for c in sorted(set(ca) | set(cb), key=lambda c: -(abs(cb[c] - ca[c]))):
        if ca[c] != cb[c]:
            print("%-46s %10d %10d %+10d" % (c, ca[c], cb[c], cb[c] - ca[c]))
    print("%-46s %10d %10d %+10d" % ("total", sum(ca.values()), sum(cb.values()),
                                      sum(cb.values()) - sum(ca.values())))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("wasm")
    ap.add_argument("--top", type=int, default=40, help="how many of the largest functions to list (40)")
    ap.add_argument("--top-groups", type=int, default=25, help="how many generic families to list (25)")
    ap.add_argument("--filter", help="also list the functions whose (demangled or raw) name matches this regex")
    ap.add_argument("--filter-limit", type=int, default=60)
    ap.add_argument("--retained-by", metavar="REGEX",
                    help="for functions matching REGEX, list the functions they dominate")
    ap.add_argument("--callers", metavar="REGEX", help="list the functions that call those matching REGEX")
    ap.add_argument("--top-data", type=int, default=15, help="how many of the largest data blobs to list (15)")
    ap.add_argument("--all-crates", action="store_true", help="list crates under 0.1%% of code too")
    ap.add_argument("--compare", metavar="OTHER", help="print the code-by-crate delta from WASM to OTHER")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("--stub", metavar="REGEX",
                    help="what if: the gzipped size with the bodies of matching functions replaced by `unreachable` "
                         "(an upper bound on what removing them saves; callers stay)")
    ap.add_argument("--zero", metavar="ADDR:LEN", action="append",
                    help="what if: the gzipped size with LEN bytes of data at address ADDR zeroed (repeatable)")
    args = ap.parse_args()
    if args.compare:
        compare(args.wasm, args.compare)
        return
    if args.stub or args.zero:
        what_if(args.wasm, args.stub, args.zero or [])
        return
    out = report(args.wasm, args)
    if args.json:
        json.dump(out, sys.stdout, indent=1)
        print()


if __name__ == "__main__":
    main()
