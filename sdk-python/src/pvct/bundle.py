"""A bundle (every prompt deployed in one environment, as ``GET /v1/bundle``
serves it) made ready to serve: each version's templates compiled once into
a :class:`~pvct.render.RenderPlan`, each experiment's weights into a table
of the version serving each of the 10,000 buckets, with its salt already
hashed. Routing a caller and rendering for them is then a dict lookup, a
hash (or, for a returning user, a cache lookup: see
:class:`~pvct.routing.BucketCache`) and a join: no parsing per call.

This mirrors the core's PreparedBundle (core/src/prepared_bundle.rs), which
the npm SDK uses through WASM, including the checks it makes on the way in.
"""

from __future__ import annotations

import json
import re
import random
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .errors import PvctError
from .render import MessageEntry, PlaceholderEntry, RenderPlan
from .routing import BUCKETS, CACHE_USERS, BucketCache, bucket_ranges, fnv1a32, variant_table
from .template import compile_template, value_text

__all__ = ["VersionInfo", "PreparedBundle"]

_PLACEHOLDER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_ROLES = ("system", "user", "assistant")
_PROMPT_FIELDS = (
    "slug", "name", "kind", "environment", "version", "version_id", "content",
    "model_params", "content_hash", "deployment_id", "deployed_at",
)
_VARIANT_FIELDS = ("version", "version_id", "weight", "content", "model_params", "content_hash")
_EXPERIMENT_FIELDS = ("id", "name", "salt", "variants")
_DECL_FIELDS = frozenset(("name", "required", "default", "description"))


@dataclass(frozen=True)
class VersionInfo:
    """The version serving a caller, as :meth:`PromptClient.route` returns it:
    stable per (prompt, variant), so it is built once per bundle."""

    slug: str
    kind: str
    environment: str
    version: int
    version_id: str
    #: The experiment variant (0, 1, ...), or None for the deployed version.
    variant: Optional[int]
    #: Set while an experiment runs, also for callers it leaves on the deployed version.
    experiment_id: Optional[str]
    model_params: Mapping[str, Any]
    #: The first system message's template (chat prompts).
    system: Optional[str]
    #: The last user message's template (chat), or the text template.
    user_template: Optional[str]
    #: Variables the caller must pass, sorted.
    required_variables: Tuple[str, ...]
    plan: RenderPlan


def _bad(what: str) -> PvctError:
    return PvctError("malformed_json", f"not a PromptVault bundle: {what}")


def _field_error(field: str, message: str) -> PvctError:
    return PvctError("invalid_field", message, {"field": field})


def _require(doc: Any, fields: Tuple[str, ...], where: str) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping):
        raise _bad(f"{where} is not an object")
    for f in fields:
        if f not in doc:
            raise _bad(f"{where}: missing field `{f}`")
    return doc


def _entries(kind: str, content: Any) -> Tuple[Optional[str], Optional[List[Union[Tuple[str, str], str]]]]:
    """(text, None) or (None, messages) where a message is (role, template)
    and a placeholder its name; checked as the core's PromptContent::from_stored."""
    if not isinstance(content, Mapping):
        raise _field_error("content", "content must be an object")
    extra = set(content) - {"text", "messages"}
    if extra:
        raise _field_error("content", f"content: unknown field `{sorted(extra)[0]}`")
    text = content.get("text")
    messages = content.get("messages")
    if messages is not None and (
        not isinstance(messages, list) or not all(isinstance(m, Mapping) for m in messages)
    ):
        raise _field_error("content.messages", "content.messages must be a list of objects")
    if text is not None and not isinstance(text, str):
        raise _field_error("content", "content.text must be a string")
    if kind in ("text", "snippet"):
        if text is None or messages is not None:
            raise _field_error("content", f'a {kind} prompt\'s content is {{"text": "..."}}')
        return text, None
    if kind != "chat":
        raise _field_error("kind", "kind must be one of text, chat, snippet")
    if text is not None or messages is None:
        raise _field_error("content", 'a chat prompt\'s content is {"messages": [{"role", "content"}, ...]}')
    out: List[Union[Tuple[str, str], str]] = []
    for i, m in enumerate(messages):
        field = f"content.messages[{i}]"
        if m.get("role") == "placeholder":
            name = m.get("name")
            if set(m) != {"role", "name"} or not isinstance(name, str) or not _PLACEHOLDER_NAME.fullmatch(name):
                raise _field_error(field, f"{field}: a placeholder name is [A-Za-z_][A-Za-z0-9_]*")
            out.append(name)
        else:
            if set(m) != {"role", "content"} or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
                raise _field_error(
                    field, f'{field}: a message is {{"role": "system" | "user" | "assistant", "content": "..."}}'
                )
            out.append((m["role"], m["content"]))
    return None, out


def _plan(kind: str, content: Any, variables: Any) -> Tuple[RenderPlan, Optional[str], Optional[str]]:
    if variables is None:
        variables = {}
    if not isinstance(variables, Mapping):
        raise _bad("variables is not an object")
    uses = variables.get("uses", [])
    declares = variables.get("declares", [])
    if not isinstance(uses, list) or not all(isinstance(u, str) for u in uses):
        raise _bad("variables.uses is not a list of names")
    if not isinstance(declares, list):
        raise _bad("variables.declares is not a list")
    for d in declares:
        if not isinstance(d, Mapping) or not isinstance(d.get("name"), str) or not _DECL_FIELDS.issuperset(d):
            raise _bad("a variable declaration is {name, required, default, description}")
    names = tuple(sorted(set(uses)))
    optional = {d["name"]: d for d in declares if d.get("required", True) is False}
    # The core's VersionVariables::required_list: used and not declared optional.
    required = tuple(n for n in names if n not in optional)
    defaults = {n: value_text(d.get("default")) for n, d in optional.items()}
    declared = frozenset(d["name"] for d in declares)
    text, messages = _entries(kind, content)
    if text is not None:
        plan = RenderPlan(names, required, defaults, declared, compile_template(text, names), None,
                          frozenset(names) | declared)
        return plan, None, text
    assert messages is not None
    entries: List[Union[MessageEntry, PlaceholderEntry]] = []
    system: Optional[str] = None
    user: Optional[str] = None
    for m in messages:
        if isinstance(m, str):
            entries.append(PlaceholderEntry(m))
            continue
        role, template = m
        entries.append(MessageEntry(role, compile_template(template, names)))
        if role == "system" and system is None:
            system = template
        elif role == "user":
            user = template
    plan = RenderPlan(names, required, defaults, declared, None, tuple(entries), frozenset(names) | declared)
    return plan, system, user


class _Prompt:
    __slots__ = ("deployed", "variants", "table", "cache")

    def __init__(
        self,
        deployed: VersionInfo,
        variants: Tuple[VersionInfo, ...],
        table: Optional[Sequence[VersionInfo]],
        cache: Optional[BucketCache],
    ) -> None:
        self.deployed = deployed
        self.variants = variants
        #: While an experiment runs: the version serving each bucket (10,000).
        self.table = table
        #: The buckets of recent user keys under the experiment's salt.
        self.cache = cache


class PreparedBundle:
    """Every prompt of one environment, ready to route and render."""

    __slots__ = ("environment", "_prompts", "_caches")

    def __init__(
        self, environment: str, prompts: Dict[str, _Prompt], caches: Optional[Dict[str, BucketCache]] = None
    ) -> None:
        self.environment = environment
        self._prompts = prompts
        #: The routing caches by experiment salt (prompts sharing a salt share one).
        self._caches: Dict[str, BucketCache] = caches if caches is not None else {}

    @classmethod
    def parse(
        cls,
        body: Union[str, bytes, Mapping[str, Any]],
        previous: Optional[PreparedBundle] = None,
        cache_users: int = CACHE_USERS,
    ) -> PreparedBundle:
        """Parses a ``GET /v1/bundle`` body (text or already-decoded JSON) and
        compiles every version in it.

        ``previous`` (the bundle this one replaces) hands over its routing
        caches for the salts still in use: a cached bucket depends on the
        salt and the user key only, so it stays right whatever else changed
        (weights, versions). ``cache_users`` bounds each cache (0: none)."""
        if isinstance(body, (str, bytes)):
            try:
                doc: Any = json.loads(body)
            except ValueError as e:
                raise _bad(str(e)) from None
        else:
            doc = body
        if not isinstance(doc, Mapping) or not isinstance(doc.get("environment"), str):
            raise _bad("no environment")
        docs = doc.get("prompts")
        if not isinstance(docs, Mapping):
            raise _bad("no prompts")
        old_caches = previous._caches if previous is not None else {}
        caches: Dict[str, BucketCache] = {}

        def cache_for(salt: str) -> BucketCache:
            cache = caches.get(salt)
            if cache is None:
                cache = old_caches.get(salt)
                if cache is None or cache.capacity != max(0, int(cache_users)):
                    cache = BucketCache(fnv1a32(salt), cache_users)
                caches[salt] = cache
            return cache

        prompts: Dict[str, _Prompt] = {}
        for slug, p in docs.items():
            prompts[slug] = cls._prompt(_require(p, _PROMPT_FIELDS, f"prompts.{slug}"), cache_for)
        return cls(doc["environment"], prompts, caches)

    @staticmethod
    def _prompt(p: Mapping[str, Any], cache_for: Callable[[str], BucketCache]) -> _Prompt:
        kind = p["kind"]
        experiment = p.get("experiment")
        experiment_id: Optional[str] = None
        variant_docs: List[Mapping[str, Any]] = []
        weights: List[float] = []
        salt = ""
        if experiment is not None:
            e = _require(experiment, _EXPERIMENT_FIELDS, f"prompts.{p['slug']}.experiment")
            if not isinstance(e["variants"], list) or not isinstance(e["salt"], str):
                raise _bad(f"prompts.{p['slug']}.experiment: variants is a list, salt a string")
            experiment_id = e["id"]
            salt = e["salt"]
            variant_docs = [_require(v, _VARIANT_FIELDS, "a variant") for v in e["variants"]]
            weights = [float(v["weight"]) for v in variant_docs]

        def info(doc: Mapping[str, Any], variant: Optional[int]) -> VersionInfo:
            plan, system, user = _plan(kind, doc["content"], doc.get("variables"))
            return VersionInfo(
                slug=p["slug"],
                kind=kind,
                environment=p["environment"],
                version=doc["version"],
                version_id=doc["version_id"],
                variant=variant,
                experiment_id=experiment_id,
                model_params=doc["model_params"],
                system=system,
                user_template=user,
                required_variables=plan.required,
                plan=plan,
            )

        deployed = info(p, None)
        variants = tuple(info(v, i) for i, v in enumerate(variant_docs))
        if experiment is None:
            return _Prompt(deployed, variants, None, None)
        # Each bucket's version, decided once with choose_variant's comparisons.
        table = tuple(deployed if i is None else variants[i] for i in variant_table(bucket_ranges(weights)))
        return _Prompt(deployed, variants, table, cache_for(salt))

    def slugs(self) -> List[str]:
        return sorted(self._prompts)

    def route(self, slug: str, user_key: Optional[str]) -> VersionInfo:
        """The version serving this caller, chosen exactly as the worker's
        resolve chooses: hashed from the user key, random without one."""
        p = self._prompts.get(slug)
        if p is None:
            raise PvctError("not_deployed", f"no version of '{slug}' is deployed in {self.environment}")
        table = p.table
        if table is None:
            return p.deployed
        if not user_key:
            # No key (or ""): a random bucket, as the worker maps 32 random bits.
            return table[random.getrandbits(32) % BUCKETS]
        cache = p.cache
        b = cache.young.get(user_key)  # type: ignore[union-attr]
        if b is None:
            b = cache.miss(user_key)  # type: ignore[union-attr]
        return table[b]

    def cached_users(self) -> int:
        """User keys whose bucket the routing caches hold (all experiments)."""
        return sum(len(c) for c in self._caches.values())
