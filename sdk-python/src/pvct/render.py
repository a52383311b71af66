"""Rendering a version, as the core's PreparedBundle::render does
(core/src/render.rs, core/src/prepared_bundle.rs).

Variables are bound strictly by default: every missing required variable
fails (``missing_variables``, naming each one), and so does every variable
the version neither uses nor declares (``unknown_variables``), unless
``strict=False``. Declared optional variables take their default. Chat
placeholders are filled with the caller's messages, taken literally: a list
fills the placeholder ``history``; a mapping fills placeholders by name.
History is checked before variables, and for text prompts too, as the core
does. The shared cases in tests/vectors/rendering.json hold this module to
the core's answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple, TypedDict, Union

from .errors import PvctError
from .template import CompiledTemplate, value_text

__all__ = ["Message", "History", "RenderPlan", "MessageEntry", "PlaceholderEntry", "parse_history"]

ROLES = frozenset(("system", "user", "assistant"))
_MESSAGE_KEYS = frozenset(("role", "content"))


class Message(TypedDict):
    """A chat message: ``{"role": "system" | "user" | "assistant", "content": "..."}``."""

    role: str
    content: str


History = Union[Sequence[Mapping[str, Any]], Mapping[str, Sequence[Mapping[str, Any]]]]


def _history_error(message: str) -> PvctError:
    return PvctError("invalid_field", message, {"field": "history"})


def _messages(value: Any, name: str) -> List[Message]:
    if not isinstance(value, (list, tuple)):
        raise _history_error(f"history.{name}: expected a list of messages")
    out: List[Message] = []
    for i, m in enumerate(value):
        # Exactly role and content: the core refuses unknown fields.
        if (
            not isinstance(m, Mapping)
            or len(m) != 2
            or not _MESSAGE_KEYS.issuperset(m.keys())
            or not isinstance(m["role"], str)
            or m["role"] not in ROLES
            or not isinstance(m["content"], str)
        ):
            raise _history_error(
                f'history.{name}[{i}]: a message is {{"role": "system" | "user" | "assistant", "content": "..."}}'
            )
        out.append({"role": str.__str__(m["role"]), "content": str.__str__(m["content"])})
    return out


def parse_history(history: Any) -> Dict[str, List[Message]]:
    """Caller messages by placeholder name, checked as the core checks them."""
    if history is None:
        return {}
    if isinstance(history, (list, tuple)):
        return {"history": _messages(history, "history")}
    if isinstance(history, Mapping):
        return {k: _messages(v, str(k)) for k, v in history.items()}
    raise _history_error("history is a list of {role, content} messages, or an object of such lists")


@dataclass(frozen=True)
class MessageEntry:
    role: str
    template: CompiledTemplate


@dataclass(frozen=True)
class PlaceholderEntry:
    placeholder: str


@dataclass(frozen=True)
class RenderPlan:
    """How to render one version without parsing anything: its templates
    compiled against ``names`` and the binding rules of its variables."""

    #: Variables the templates use, sorted; template slots index this.
    names: Tuple[str, ...]
    #: Used and not declared optional: missing ones fail.
    required: Tuple[str, ...]
    #: Declared optional variables with their default as text.
    defaults: Mapping[str, str]
    #: Every declared name (declared but unused names are not unknown).
    declared: FrozenSet[str]
    text: Optional[CompiledTemplate]
    messages: Optional[Tuple[Union[MessageEntry, PlaceholderEntry], ...]]
    #: names and declared together: the variables a caller may pass.
    known: FrozenSet[str]
    #: The common call in one generated function: a plain dict holding
    #: exactly ``names``, all strings, no history (see :func:`_direct`).
    direct: Optional[Callable[[Dict[str, Any]], Union[str, List[Message]]]] = field(
        default=None, init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "direct", _direct(self))

    def bind(self, given: Mapping[str, Any], strict: bool) -> List[str]:
        """The values to render with, in ``names`` order (defaults filled in)."""
        values: List[str] = []
        missing: Optional[List[str]] = None
        defaults = self.defaults
        for name in self.names:
            if name in given:
                v = given[name]
                if type(v) is str:
                    values.append(v)
                    continue
                try:
                    values.append(value_text(v))
                except TypeError as e:
                    raise PvctError(
                        "invalid_field", f"variables.{name}: {e}", {"field": "variables", "variable": name}
                    ) from None
            elif name in defaults:
                values.append(defaults[name])
            else:
                if missing is None:
                    missing = []
                missing.append(name)
        unknown: List[str] = []
        if not self.known.issuperset(given):
            unknown = sorted(str(k) for k in given if k not in self.known)
        if missing:
            message = "missing variables: " + ", ".join(missing)
            if strict and unknown:
                message += "; unknown variables: " + ", ".join(unknown)
            raise PvctError(
                "missing_variables", message, {"missing": missing, "unknown": unknown if strict else []}
            )
        if strict and unknown:
            raise PvctError(
                "unknown_variables",
                f"unknown variables: {', '.join(unknown)} (render with strict=False to ignore them)",
                {"missing": [], "unknown": unknown},
            )
        return values

    def render(
        self, given: Mapping[str, Any], history: Any = None, strict: bool = True
    ) -> Union[str, List[Message]]:
        """The rendered text (text and snippet prompts) or messages (chat)."""
        direct = self.direct
        if direct is not None and history is None and type(given) is dict and len(given) == len(self.names):
            try:
                return direct(given)
            except (KeyError, TypeError):
                pass  # a name missing (so another one is unknown) or a value that is not a string
        by_name = parse_history(history) if history is not None else None
        values = self.bind(given, strict)
        if self.text is not None:
            return self.text.fill(values)
        out: List[Message] = []
        for entry in self.messages or ():
            if isinstance(entry, MessageEntry):
                out.append({"role": entry.role, "content": entry.template.fill(values)})
            elif by_name is not None and entry.placeholder in by_name:
                # Copies: the caller may change the result without touching its history.
                out.extend({"role": m["role"], "content": m["content"]} for m in by_name[entry.placeholder])
        return out


def _direct(plan: RenderPlan) -> Optional[Callable[[Dict[str, Any]], Union[str, List[Message]]]]:
    """A function rendering ``plan`` from a dict holding exactly its names,
    every value a string: the case where binding has nothing to decide (no
    default applies, nothing is unknown, no value needs converting). Called
    only with ``len(d) == len(plan.names)``, it raises KeyError when a name
    is missing and TypeError when a value is not a string (``str.join``
    refuses it), and the caller then takes the general path.

    Generated source holds only repr()'d names, literals and roles, and
    integer indexes, so what a prompt says can never become code.
    """
    lines = ["def direct(d):"]
    templates = [plan.text] if plan.text is not None else [
        e.template for e in plan.messages or () if isinstance(e, MessageEntry)
    ]
    used = {slot for t in templates for slot in t.slots}
    for i, name in enumerate(plan.names):
        lines.append(f"    v{i} = d[{name!r}]")
        if i not in used:
            lines.append(f"    _len(v{i})")  # TypeError unless a string, as join would raise

    def join(t: CompiledTemplate) -> str:
        parts = [repr(t.literals[0])] if t.literals[0] else []
        for slot, literal in zip(t.slots, t.literals[1:]):
            if slot >= 0:
                parts.append(f"v{slot}")
            if literal:
                parts.append(repr(literal))
        return "''.join((" + ", ".join(parts) + ",))" if parts else "''"

    if plan.text is not None:
        lines.append("    return " + join(plan.text))
    else:
        messages = [
            f"{{'role': {e.role!r}, 'content': {join(e.template)}}}"
            for e in plan.messages or ()
            if isinstance(e, MessageEntry)
        ]
        lines.append("    return [" + ", ".join(messages) + "]")
    scope: Dict[str, Any] = {"__builtins__": {}, "_len": str.__len__}
    try:
        exec("\n".join(lines), scope)  # noqa: S102 - see above
    except (SyntaxError, RecursionError, MemoryError, ValueError):  # pragma: no cover - too large to compile
        return None
    direct: Callable[[Dict[str, Any]], Union[str, List[Message]]] = scope["direct"]
    return direct
