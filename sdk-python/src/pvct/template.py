"""Prompt templates, parsed exactly as the core parses them (core/src/template.rs).

``{{ name }}`` is a variable (whitespace inside the braces allowed; names
``[A-Za-z_][A-Za-z0-9_.-]*``), ``\\{{`` is a literal ``{{``, and
``{{> slug}}`` / ``{{> slug@7}}`` is an include. Bundles carry content
with includes already expanded, so a compiled template drops any that
remain, as the core's compiled plans do. No HTML escaping: prompts are not
HTML.

A template is parsed once per bundle into a :class:`CompiledTemplate`:
literals and slots (indexes into the version's sorted variable names), so
rendering is one join, never a re-scan.

:func:`value_text` gives the text a variable's value renders as. The
worker receives values as JSON and prints anything but a string or null as
compact JSON with serde_json, so this module reproduces both halves of that
round trip: how serde_json *reads* a number (:func:`serde_number`: without
its float_roundtrip feature it computes ``significand * 10**exponent`` in
f64, which for many 17-digit values is one ulp off the correctly rounded
double Python's float holds) and how it *prints* one (:func:`float_text`:
``0.00001`` where Python prints ``1e-05``, ``1e-7`` for ``1e-07``), with
object keys sorted as serde_json's map sorts them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .errors import PvctError

__all__ = [
    "Segment",
    "CompiledTemplate",
    "parse",
    "compile_template",
    "variables_of",
    "value_text",
    "json_text",
    "float_text",
    "serde_number",
]

# Rust's char::is_whitespace (Unicode White_Space), which str::trim strips.
# Python's str.strip() would also strip U+001C..U+001F, which Rust keeps.
_RUST_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_SLUG = re.compile(r"[a-z0-9\-]{1,64}")
# Rust's u32::from_str: an optional '+', then ASCII digits only.
_U32 = re.compile(r"\+?[0-9]+")
_U32_MAX = 0xFFFFFFFF


@dataclass(frozen=True)
class Segment:
    """One piece of a parsed template: ``text``, ``var`` (a name) or ``include``."""

    kind: str
    value: str
    version: Optional[int] = None


def _syntax_error(message: str, source: str, pos: int) -> PvctError:
    # 1-based line and column in characters (code points, as Rust's chars()).
    line = source.count("\n", 0, pos) + 1
    column = pos - (source.rfind("\n", 0, pos) + 1) + 1
    return PvctError("template_syntax", message, {"line": line, "column": column})


def parse(source: str) -> List[Segment]:
    """Parses ``source`` into segments; raises ``template_syntax`` with line and column."""
    segments: List[Segment] = []
    text: List[str] = []
    i = 0
    while True:
        j = source.find("{{", i)
        if j < 0:
            text.append(source[i:])
            break
        if j > i and source[j - 1] == "\\":
            # "\{{" is a literal "{{" (the core scans left to right, so a
            # backslash right before "{{" always escapes it).
            text.append(source[i : j - 1])
            text.append("{{")
            i = j + 2
            continue
        text.append(source[i:j])
        close = source.find("}}", j + 2)
        if close < 0:
            raise _syntax_error("'{{' is not closed with '}}'", source, j)
        inner = source[j + 2 : close]
        if "{{" in inner or "\n" in inner:
            raise _syntax_error("'{{' is not closed with '}}' on the same line", source, j)
        tag = inner.strip(_RUST_WHITESPACE)
        if tag.startswith(">"):
            include = tag[1:].strip(_RUST_WHITESPACE)
            slug, at, number = include.partition("@")
            version: Optional[int] = None
            if at:
                if not _U32.fullmatch(number) or not 0 < int(number) <= _U32_MAX:
                    raise _syntax_error(
                        f"'{include}': the version after '@' must be a number from 1", source, j
                    )
                version = int(number)
            if not _SLUG.fullmatch(slug):
                raise _syntax_error(
                    f"'{{{{> {include}}}}}': a snippet slug is 1-64 characters of a-z, 0-9 and '-'",
                    source,
                    j,
                )
            segment = Segment("include", slug, version)
        elif not tag:
            raise _syntax_error("empty '{{ }}': name a variable", source, j)
        elif _VAR_NAME.fullmatch(tag):
            segment = Segment("var", tag)
        else:
            raise _syntax_error(
                f"'{tag}' is not a variable name ([A-Za-z_][A-Za-z0-9_.-]*); write \\{{{{ for literal braces",
                source,
                j,
            )
        if any(text):
            segments.append(Segment("text", "".join(text)))
        text = []
        segments.append(segment)
        i = close + 2
    if any(text):
        segments.append(Segment("text", "".join(text)))
    return segments


def variables_of(source: str) -> List[str]:
    """The variables a template uses, sorted and without duplicates."""
    return sorted({s.value for s in parse(source) if s.kind == "var"})


@dataclass(frozen=True)
class CompiledTemplate:
    """A template as literals and slots: ``literals[0] + values[slots[0]] + literals[1] ...``.

    ``fill(values)`` renders it with the values in name order. It is a small
    function generated once per template (a join over a tuple of the
    literals, as constants, and the slot lookups), which CPython runs about
    three times faster than ``str.format`` or a loop over the slots.
    """

    literals: Tuple[str, ...]
    slots: Tuple[int, ...]
    fill: Callable[[Sequence[str]], str]


def _filler(literals: Sequence[str], slots: Sequence[int]) -> Callable[[Sequence[str]], str]:
    # Only repr()'d string literals and integer indexes go into the source,
    # so what the template says can never become code.
    parts = [repr(literals[0])] if literals[0] else []
    for slot, literal in zip(slots, literals[1:]):
        if slot >= 0:
            parts.append(f"v[{slot}]")
        if literal:
            parts.append(repr(literal))
    if not parts:
        return lambda v: ""
    try:
        fill: Callable[[Sequence[str]], str] = eval(  # noqa: S307 - see above
            "lambda v: ''.join((" + ", ".join(parts) + ",))", {"__builtins__": {}}
        )
        return fill
    except (SyntaxError, RecursionError, MemoryError, ValueError):  # pragma: no cover - a template too large to compile
        def join(v: Sequence[str]) -> str:
            out = [literals[0]]
            for slot, literal in zip(slots, literals[1:]):
                out.append(v[slot] if slot >= 0 else "")
                out.append(literal)
            return "".join(out)

        return join


def compile_template(source: str, names: Sequence[str]) -> CompiledTemplate:
    """Parses ``source`` and compiles it against ``names`` (the version's sorted variables)."""
    index = {n: i for i, n in enumerate(names)}
    literals: List[str] = [""]
    slots: List[int] = []
    for seg in parse(source):
        if seg.kind == "text":
            literals[-1] += seg.value
        elif seg.kind == "var":
            # A name the version does not list renders as nothing, as in the
            # core's plan (a bundle always lists every name it uses).
            slots.append(index.get(seg.value, -1))
            literals.append("")
        # Includes: bundles carry expanded content, so none can remain.
    return CompiledTemplate(tuple(literals), tuple(slots), _filler(literals, slots))


# --- values -------------------------------------------------------------------

_I64_MIN = -(2**63)
_U64_MAX = 2**64 - 1

JsonValue = Union[None, bool, int, float, str, List[Any], Dict[str, Any]]


def float_text(x: float) -> str:
    """A finite float as serde_json prints it (its zmij formatter).

    The digits are the shortest that round-trip, as in ``repr``; the layout
    differs: plain notation for decimal exponents -5..=15 (``0.00001``,
    ``1000000000000000.0``), otherwise ``d.ddde+N`` / ``de-N`` with no
    zero padding of the exponent (``1e-7``, ``1e+16``, ``2.5e-7``).
    """
    r = repr(x)
    negative = r.startswith("-")
    if negative:
        r = r[1:]
    if x == 0:
        return "-0.0" if negative else "0.0"
    mantissa, _, exp_text = r.partition("e")
    exp = int(exp_text) if exp_text else 0
    int_part, _, frac = mantissa.partition(".")
    all_digits = int_part + frac
    stripped = all_digits.lstrip("0")
    leading_zeros = len(all_digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    # The decimal exponent of the first significant digit.
    dec_exp = len(int_part) - 1 - leading_zeros + exp
    n = len(digits)
    if -5 <= dec_exp <= 15:
        if n - 1 <= dec_exp:
            out = digits + "0" * (dec_exp - n + 1) + ".0"
        elif dec_exp >= 0:
            out = digits[: dec_exp + 1] + "." + digits[dec_exp + 1 :]
        else:
            out = "0." + "0" * (-dec_exp - 1) + digits
    else:
        out = digits[0] + ("." + digits[1:] if n > 1 else "")
        out += ("e+" if dec_exp >= 0 else "e-") + str(abs(dec_exp))
    return "-" + out if negative else out


# 1e0..1e308 as f64: serde_json's POW10 table (Rust literals and Python's
# float() both round correctly, so the tables are equal).
_POW10 = tuple(float(f"1e{k}") for k in range(309))
_I32_MAX = 2**31 - 1


def _digits_overflow(significand: int, digit: int, limit: int) -> bool:
    # serde_json's overflow!(a * 10 + b, c).
    return significand >= limit // 10 and (significand > limit // 10 or digit > limit % 10)


def serde_number(text: str) -> Union[int, float]:
    """The number serde_json (without its float_roundtrip feature, as the
    worker builds it) reads from JSON number ``text``: an int when it fits
    u64 or i64, else an f64 computed as serde_json computes it, as
    ``significand * 10**exponent`` with at most 19 significant digits, which
    is not always the correctly rounded double (about a third of
    17-digit values land one ulp away). Raises TypeError where serde_json
    answers "number out of range"."""
    positive = not text.startswith("-")
    i = 0 if positive else 1
    n = len(text)
    significand = 0
    exponent = 0
    long_integer = False
    while i < n and "0" <= text[i] <= "9":
        d = ord(text[i]) - 48
        if long_integer:
            exponent += 1  # digits past u64 only scale
        elif _digits_overflow(significand, d, _U64_MAX):
            long_integer = True
            exponent += 1
        else:
            significand = significand * 10 + d
        i += 1
    if i == n and not long_integer:
        if positive:
            return significand
        # -0 and values below i64::MIN become floats.
        if significand == 0 or significand > 2**63:
            return -float(significand)
        return -significand
    if i < n and text[i] == ".":
        i += 1
        overflowed = False
        while i < n and "0" <= text[i] <= "9":
            d = ord(text[i]) - 48
            if not overflowed:
                if _digits_overflow(significand, d, _U64_MAX):
                    overflowed = True  # further digits are ignored
                else:
                    significand = significand * 10 + d
                    exponent -= 1
            i += 1
    if i < n and text[i] in "eE":
        i += 1
        positive_exp = True
        if text[i] in "+-":
            positive_exp = text[i] == "+"
            i += 1
        exp = 0
        while i < n:
            d = ord(text[i]) - 48
            if _digits_overflow(exp, d, _I32_MAX):
                if significand != 0 and positive_exp:
                    raise TypeError("a number out of range")
                return 0.0 if positive else -0.0
            exp = exp * 10 + d
            i += 1
        exponent = exponent + exp if positive_exp else exponent - exp
        exponent = max(-(2**31), min(_I32_MAX, exponent))  # i32 saturating
    f = float(significand)
    while True:
        k = abs(exponent)
        if k <= 308:
            if exponent >= 0:
                f *= _POW10[k]
                if math.isinf(f):
                    raise TypeError("a number out of range")
            else:
                f /= _POW10[k]
            break
        if f == 0.0:
            break
        if exponent >= 0:
            raise TypeError("a number out of range")
        f /= 1e308
        exponent += 308
    return f if positive else -f


def _number_text(v: Union[int, float]) -> str:
    if isinstance(v, int):
        i = int(v)
        if _I64_MIN <= i <= _U64_MAX:
            return str(i)
        # What json.dumps sends; serde_json reads it as an f64.
        text = str(i)
    else:
        f = float(v)
        if not math.isfinite(f):
            # JSON has no NaN or infinity; like JSON.stringify (the npm SDK), null.
            return "null"
        text = float.__repr__(f)
    parsed = serde_number(text)
    return str(parsed) if isinstance(parsed, int) else float_text(parsed)


def _key_text(k: Any) -> str:
    # The keys json.dumps would write for a Python dict.
    if isinstance(k, str):
        return str.__str__(k)
    if k is True:
        return "true"
    if k is False:
        return "false"
    if k is None:
        return "null"
    if isinstance(k, int):
        return str(int(k))
    if isinstance(k, float):
        return float.__repr__(k)
    raise TypeError(f"a {type(k).__name__} key is not a JSON object key")


def json_text(value: Any) -> str:
    """``value`` as compact JSON, written as serde_json writes it (keys sorted)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        # Escapes only '"', '\\' and control characters, with lowercase
        # \u00XX: the same set serde_json escapes.
        return encode_basestring(value)
    if isinstance(value, (int, float)):
        return _number_text(value)
    if isinstance(value, Mapping):
        # serde_json's map is ordered by key; a repeated key keeps the last value.
        items: Dict[str, Any] = {}
        for k, v in value.items():
            items[_key_text(k)] = v
        return "{" + ",".join(encode_basestring(k) + ":" + json_text(items[k]) for k in sorted(items)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    raise TypeError(f"a {type(value).__name__} is not a JSON value")


def value_text(value: Any) -> str:
    """The text a variable's value renders as: a string as it is, None as
    nothing, anything else as the worker's compact JSON (``1.0``, ``1e+21``,
    ``{"a":1}``). Raises TypeError for values JSON cannot carry."""
    if isinstance(value, str):
        return str.__str__(value)
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        # What JSON.stringify sends for NaN and infinities: null, which renders as nothing.
        return ""
    return json_text(value)
