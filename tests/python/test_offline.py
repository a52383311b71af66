"""The SDK without a worker: the shared routing vectors and rendering cases
(the same files the core's cargo tests and the npm SDK's tests read), the
routing cache (a returning user gets what a fresh hash gives, under the
weights of now, in bounded memory), the template parser's errors, value
formatting, and the client's promises that need no server (telemetry never
raises, the buffer is bounded)."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import random
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest

import pvct
from pvct import PreparedBundle, PromptClient, PvctError, bucket, fnv1a32, value_text
from pvct.routing import CACHE_USERS, bucket_ranges, choose_variant, variant_table
from pvct.template import float_text, parse, serde_number, variables_of

from conftest import ROOT, load_vectors

DEAD = "http://127.0.0.1:9"  # nothing listens on the discard port


def one_prompt_bundle(case: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "environment": "production",
        "prompts": {
            "p": {
                "slug": "p", "name": "P", "kind": case["kind"], "environment": "production", "version": 1,
                "version_id": "v1", "content": case["content"], "model_params": {},
                "variables": {"uses": case["uses"], "declares": case["declares"]}, "content_hash": "h",
                "deployment_id": "d", "deployed_at": "2026-01-01T00:00:00.000Z",
            }
        },
    }


def test_the_installed_package_is_tested_typed_and_has_no_dependencies() -> None:
    assert ROOT / "sdk-python" not in Path(pvct.__file__).resolve().parents, "tests run against the installed package"
    assert (Path(pvct.__file__).parent / "py.typed").exists()
    assert not importlib.metadata.requires("pvct")
    assert importlib.metadata.version("pvct") == pvct.__version__


def test_fnv1a32_matches_the_reference() -> None:
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C
    assert fnv1a32("foobar") == 0xBF9CF968
    # "🙂" is two UTF-16 code units; hashing its UTF-8 bytes would differ.
    assert fnv1a32("🙂") != fnv1a32("".join(chr(b) for b in "🙂".encode()))


@pytest.mark.parametrize("v", load_vectors("routing.json")["vectors"], ids=lambda v: f"{v['seed']}+{v['key']}")
def test_the_shared_routing_vectors(v: Dict[str, Any]) -> None:
    n = bucket(v["seed"], v["key"])
    assert n == v["n"]
    chosen = choose_variant(n, bucket_ranges(v["weights"]))
    assert (-1 if chosen is None else chosen) == v["variant"]


def test_the_shared_routing_vectors_hold_through_a_bundle() -> None:
    # The same vectors through the client's own routing path (salt hashed once, keys inlined).
    for v in load_vectors("routing.json")["vectors"]:
        variants = [
            {"version": i + 2, "version_id": f"v{i + 2}", "weight": w, "content": {"text": "x"}, "model_params": {},
             "content_hash": "h"}
            for i, w in enumerate(v["weights"])
        ]
        doc = one_prompt_bundle({"kind": "text", "content": {"text": "x"}, "uses": [], "declares": []})
        doc["prompts"]["p"]["experiment"] = {"id": "e", "name": "e", "salt": v["seed"], "variants": variants}
        info = PreparedBundle.parse(doc).route("p", v["key"])
        assert (-1 if info.variant is None else info.variant) == v["variant"], v


# --- the routing cache ----------------------------------------------------------
#
# A reference written from the definition alone (tests/vectors/routing.json's
# description), without the SDK's tables, caches or shortcuts; the vectors
# check the reference first.


def _ref_fnv(s: str, h: int = 0x811C9DC5) -> int:
    data = s.encode("utf-16-le", "surrogatepass")
    for i in range(0, len(data), 2):
        h = ((h ^ int.from_bytes(data[i : i + 2], "little")) * 0x01000193) & 0xFFFFFFFF
    return h


def ref_variant(seed: str, key: str, weights: Sequence[float]) -> Optional[int]:
    n = (_ref_fnv(str(_ref_fnv(seed + key))) % 10000) / 10000
    cumulative = 0.0
    for i, w in enumerate(weights):
        start = cumulative
        cumulative += w / 100
        if start <= n < start + w / 100:
            return i
    return None


def test_the_reference_reproduces_the_shared_vectors() -> None:
    for v in load_vectors("routing.json")["vectors"]:
        chosen = ref_variant(v["seed"], v["key"], v["weights"])
        assert (-1 if chosen is None else chosen) == v["variant"], v


def experiment_bundle(salt: str, weights: Sequence[float], deployed: int = 1) -> Dict[str, Any]:
    """One text prompt with ``deployed`` live and an experiment over versions 10, 11, ..."""
    doc = one_prompt_bundle({"kind": "text", "content": {"text": "x"}, "uses": [], "declares": []})
    doc["prompts"]["p"].update(version=deployed, version_id=f"v{deployed}")
    doc["prompts"]["p"]["experiment"] = {"id": "e", "name": "e", "salt": salt, "variants": [
        {"version": 10 + i, "version_id": f"v{10 + i}", "weight": w, "content": {"text": "x"}, "model_params": {},
         "content_hash": "h"}
        for i, w in enumerate(weights)
    ]}
    return doc


def some_keys(count: int, seed: int = 7) -> List[str]:
    """User keys as apps send them: ids, emails, UUID-like, non-ASCII, one past the cacheable length."""
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_@.é🙂"
    keys = [f"user-{i}" for i in range(count // 2)]
    keys += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(count - count // 2)]
    keys += ["\ud800lone", "x" * 300, str(2**40)]
    return list(dict.fromkeys(keys))


def expected_version(bundle_doc: Dict[str, Any], key: str) -> int:
    p = bundle_doc["prompts"]["p"]
    e = p["experiment"]
    i = ref_variant(e["salt"], key, [v["weight"] for v in e["variants"]])
    return p["version"] if i is None else e["variants"][i]["version"]


def test_the_variant_table_is_choose_variant_for_every_bucket() -> None:
    weights = [[80, 20], [50, 50], [33.33, 33.33, 33.34], [0, 100], [100, 0], [99.99, 0.01], [30, 20], [0, 0],
               [7, 13.5, 79.5], [60, 60], [-10, 50], [0.001, 99.999], [1e-12, 50], [100]]
    weights += [v["weights"] for v in load_vectors("routing.json")["vectors"]]
    for w in weights:
        ranges = bucket_ranges(w)
        assert variant_table(ranges) == [choose_variant(b / 10000, ranges) for b in range(10000)], w


def test_a_returning_user_gets_what_a_fresh_hash_gives() -> None:
    doc = experiment_bundle("exp-cache", [80, 20])
    bundle = PreparedBundle.parse(doc)
    keys = some_keys(4000)
    first = {k: bundle.route("p", k).version for k in keys}
    assert bundle.cached_users() == len([k for k in keys if len(k) <= 256]), "every short key is cached"
    rng = random.Random(3)
    again = keys * 3
    rng.shuffle(again)
    for k in again:  # now from the cache
        assert bundle.route("p", k).version == first[k] == expected_version(doc, k), k
    assert 0.15 < sum(v == 11 for v in first.values()) / len(first) < 0.25, "an 80/20 split"
    # The shared vectors, twice each (the second time cached), through a bundle per vector.
    for v in load_vectors("routing.json")["vectors"]:
        b = PreparedBundle.parse(experiment_bundle(v["seed"], v["weights"]))
        for _ in range(2):
            info = b.route("p", v["key"])
            assert (-1 if info.variant is None else info.variant) == v["variant"], v


def test_a_changed_split_is_never_served_from_the_cache() -> None:
    keys = some_keys(3000, seed=11)
    a_doc = experiment_bundle("exp-split", [80, 20])
    a = PreparedBundle.parse(a_doc)
    before = {k: a.route("p", k).version for k in keys}
    cached = a.cached_users()
    assert cached > 2000

    # New weights, same salt: the cache carries over (buckets do not depend
    # on weights), and every user routes by the new weights.
    b_doc = experiment_bundle("exp-split", [20, 80])
    b = PreparedBundle.parse(b_doc, previous=a)
    assert b.cached_users() == cached, "the same salt keeps its cache"
    after = {k: b.route("p", k).version for k in keys}
    assert all(after[k] == expected_version(b_doc, k) for k in keys)
    assert sum(before[k] != after[k] for k in keys) > len(keys) // 2, "the new weights moved most users"

    # Weights summing to less than 100 leave some users on the deployed version;
    # promoting another version moves exactly them.
    c_doc = experiment_bundle("exp-split", [30, 20], deployed=1)
    c = PreparedBundle.parse(c_doc, previous=b)
    d_doc = experiment_bundle("exp-split", [30, 20], deployed=3)
    d = PreparedBundle.parse(d_doc, previous=c)
    for k in keys:
        assert c.route("p", k).version == expected_version(c_doc, k)
        assert d.route("p", k).version == expected_version(d_doc, k)
    assert {c.route("p", k).version for k in keys} == {1, 10, 11}
    assert {d.route("p", k).version for k in keys} == {3, 10, 11}

    # A new salt: a new cache (the old one is dropped with the old bundle).
    e_doc = experiment_bundle("exp-split-2", [30, 20])
    e = PreparedBundle.parse(e_doc, previous=d)
    assert e.cached_users() == 0
    assert all(e.route("p", k).version == expected_version(e_doc, k) for k in keys)


def test_the_routing_cache_stays_bounded() -> None:
    doc = experiment_bundle("exp-bound", [50, 50])
    client = PromptClient("pvct_x", base_url=DEAD, timeout=0.2, fallback=doc, on_error=lambda e: None)
    try:
        assert CACHE_USERS == 10_000
        for i in range(30_000):
            client.get("p", user_key=f"visitor-{i}")
        held = client.stats()["routing_cache_users"]
        assert CACHE_USERS // 2 <= held <= CACHE_USERS, held
        # The most recent users are among those kept, and still right.
        for i in range(29_990, 30_000):
            assert client.route("p", user_key=f"visitor-{i}").version == expected_version(doc, f"visitor-{i}")
        assert client.stats()["routing_cache_users"] == held, "recent users were found, not added again"
        # A key longer than 256 characters is hashed every time, never kept.
        client.get("p", user_key="k" * 257)
        assert client.stats()["routing_cache_users"] == held
    finally:
        client.close()

    small = PromptClient("pvct_x", base_url=DEAD, timeout=0.2, fallback=doc, on_error=lambda e: None,
                         routing_cache_size=100)
    off = PromptClient("pvct_x", base_url=DEAD, timeout=0.2, fallback=doc, on_error=lambda e: None,
                       routing_cache_size=0)
    try:
        for i in range(1000):
            key = f"visitor-{i}"
            assert small.route("p", user_key=key).version == off.route("p", user_key=key).version
            assert small.route("p", user_key=key).version == expected_version(doc, key)
        assert 50 <= small.stats()["routing_cache_users"] <= 100
        assert off.stats()["routing_cache_users"] == 0
    finally:
        small.close()
        off.close()


def test_concurrent_routing_stays_right_and_bounded() -> None:
    doc = experiment_bundle("exp-threads", [25, 25, 25, 25])
    bundle = PreparedBundle.parse(doc, cache_users=500)
    keys = [f"t-{i}" for i in range(3000)]
    wrong: List[str] = []

    def run(offset: int) -> None:
        for j in range(6000):
            k = keys[(j * 7 + offset) % len(keys)]
            if bundle.route("p", k).version != expected_version(doc, k):
                wrong.append(k)

    threads = [threading.Thread(target=run, args=(n * 101,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert wrong == []
    # Racing threads may each add one key past a full generation, never more.
    assert bundle.cached_users() <= 500 + len(threads)


RENDERING = load_vectors("rendering.json")["cases"]


@pytest.mark.parametrize("case", RENDERING, ids=lambda c: c["name"])
def test_the_shared_rendering_cases(case: Dict[str, Any]) -> None:
    # The variables a version uses, as the core extracts them at commit.
    templates = [case["content"]["text"]] if case["kind"] != "chat" else [
        m["content"] for m in case["content"]["messages"] if m["role"] != "placeholder"
    ]
    assert sorted({v for t in templates for v in variables_of(t)}) == case["uses"]
    client = PromptClient("pvct_x", base_url=DEAD, timeout=0.2, fallback=one_prompt_bundle(case), on_error=lambda e: None)
    # A plain dict may take the generated one-call path (RenderPlan.direct);
    # any other mapping takes the general one. Both must give the expected outcome.
    for variables in (case["variables"], types.MappingProxyType(case["variables"])):
        try:
            p = client.get("p", variables=variables, strict=case["strict"], history=case.get("history"))
            outcome: Dict[str, Any] = {"messages": p.messages} if case["kind"] == "chat" else {"text": p.text}
            again = p.render(variables)  # Prompt.render goes through RenderPlan.render
            assert again == (p.messages if case["kind"] == "chat" else p.text)
        except PvctError as e:
            outcome = {"error": e.code}
        assert outcome == case["expected"], type(variables)
    client.close()


def test_the_one_call_rendering_path_takes_only_what_it_can_render() -> None:
    case = {"kind": "chat", "content": {"messages": [
        {"role": "system", "content": "{{a}} and {{b}}"}, {"role": "placeholder", "name": "history"},
        {"role": "user", "content": "{{b}}!"}]}, "uses": ["a", "b", "c"],
        "declares": [{"name": "c", "required": False, "default": 7}]}
    client = PromptClient("pvct_x", base_url=DEAD, timeout=0.2, fallback=one_prompt_bundle(case), on_error=lambda e: None)
    try:
        plan = client.route("p").plan
        assert plan.direct is not None
        assert client.get("p", variables={"a": "A", "b": "B", "c": "unused"}).messages == [
            {"role": "system", "content": "A and B"}, {"role": "user", "content": "B!"}]
        # Values that are not strings render as the worker prints them.
        assert client.get("p", variables={"a": 1.0, "b": None, "c": "x"}).messages == [
            {"role": "system", "content": "1.0 and "}, {"role": "user", "content": "!"}]
        # An unused variable still has to be a JSON value.
        with pytest.raises(PvctError) as e:
            client.get("p", variables={"a": "A", "b": "B", "c": datetime.date(2026, 1, 1)})
        assert e.value.code == "invalid_field"
        # As many variables as names, but one unknown: strict names both problems.
        with pytest.raises(PvctError) as e:
            client.get("p", variables={"a": "A", "b": "B", "z": "?"})
        assert e.value.code == "unknown_variables" and e.value.details["unknown"] == ["z"]
        with pytest.raises(PvctError) as e:
            client.get("p", variables={"a": "A", "z": "?", "y": "?"})
        assert e.value.code == "missing_variables" and e.value.details["missing"] == ["b"]
        # Defaults apply only on the general path: c is optional.
        assert client.get("p", variables={"a": "A", "b": "B"}).messages is not None
        # History takes the general path and fills the placeholder.
        assert client.get("p", variables={"a": "A", "b": "B", "c": ""}, history=[{"role": "user", "content": "h"}]
                          ).messages == [{"role": "system", "content": "A and B"}, {"role": "user", "content": "h"},
                                         {"role": "user", "content": "B!"}]
        # A str subclass renders as its text, as on the general path.
        class Name(str):
            def __str__(self) -> str:
                return "not this"
        assert client.get("p", variables={"a": Name("A"), "b": "B", "c": ""}).messages == [
            {"role": "system", "content": "A and B"}, {"role": "user", "content": "B!"}]
        # Each call gets its own list: changing it changes nothing cached.
        first = client.get("p", variables={"a": "A", "b": "B", "c": ""}).messages
        assert first is not None
        first[0]["content"] = "changed"
        assert client.get("p", variables={"a": "A", "b": "B", "c": ""}).messages[0]["content"] == "A and B"  # type: ignore[index]
    finally:
        client.close()


def test_template_errors_name_line_and_column() -> None:
    with pytest.raises(PvctError) as e:
        parse("line one\nü {{ bad name }}")
    assert e.value.code == "template_syntax"
    assert e.value.details == {"line": 2, "column": 3}
    for bad in ["{{", "{{ }}", "{{1x}}", "{{> Bad}}", "{{> a@0}}", "{{> a@x}}", "{{> a@-1}}", "a {{ b\n}}",
                "{{ {{x}} }}", "{{\x1cx}}"]:
        with pytest.raises(PvctError):
            parse(bad)
    assert [s.value for s in parse(r"\{{not}} { } }} {x")] == ["{{not}} { } }} {x"]
    assert [(s.kind, s.value, s.version) for s in parse("{{> tone}} and {{>  legal@+7 }}")] == [
        ("include", "tone", None), ("text", " and ", None), ("include", "legal", 7)]
    # Rust's trim strips Unicode whitespace (NBSP, ideographic space) but not U+001C..U+001F.
    assert variables_of("{{\u00a0name\u3000}} {{\tother }}") == ["name", "other"]


def test_values_render_as_the_worker_prints_them() -> None:
    assert value_text("plain") == "plain"
    assert value_text(None) == ""
    assert value_text(True) == "true"
    assert value_text(42) == "42"
    assert value_text(2**64 - 1) == "18446744073709551615"
    assert value_text(-(2**63)) == "-9223372036854775808"
    # Python floats go to the worker as json.dumps writes them, and render as serde_json reads and prints them.
    assert [value_text(x) for x in [1.0, 100.0, 0.5, -0.0, 1e15, 1e16, 1e21, 1e-5, 1e-7, 2.5e-7, 5e-324]] == [
        "1.0", "100.0", "0.5", "-0.0", "1000000000000000.0", "1e+16", "1e+21", "0.00001", "1e-7", "2.5e-7", "5e-324"]
    # serde_json (without float_roundtrip) reads some 17-digit numbers one ulp away from Python's float.
    assert value_text(1.9015657400796622e-144) == "1.9015657400796625e-144"
    assert serde_number("1.9015657400796622e-144") != 1.9015657400796622e-144
    assert value_text({"b": [1, 2.5, None], "a": "x\u0001\n\"é", "B": {}}) == '{"B":{},"a":"x\\u0001\\n\\"é","b":[1,2.5,null]}'
    assert value_text((1, "t")) == '[1,"t"]'
    assert value_text(math.nan) == "" and value_text([math.inf]) == "[null]"  # as JSON.stringify sends them
    assert float_text(123.456) == "123.456"
    with pytest.raises(TypeError):
        value_text(datetime.date(2026, 1, 1))


def test_a_value_json_cannot_carry_is_invalid_field() -> None:
    case = {"kind": "text", "content": {"text": "{{d}}"}, "uses": ["d"], "declares": []}
    with PromptClient("pvct_x", base_url=DEAD, fallback=one_prompt_bundle(case), on_error=lambda e: None) as client:
        with pytest.raises(PvctError) as e:
            client.get("p", variables={"d": datetime.date(2026, 1, 1)})
        assert e.value.code == "invalid_field"


CHAT = {
    "kind": "chat",
    "content": {"messages": [
        {"role": "system", "content": "You help {{company}}."},
        {"role": "placeholder", "name": "history"},
        {"role": "user", "content": "{{q}}"},
    ]},
    "uses": ["company", "q"],
    "declares": [],
}


def test_prompt_objects_render_again_and_hand_out_copies() -> None:
    bundle = one_prompt_bundle(CHAT)
    bundle["prompts"]["p"]["model_params"] = {"model": "m", "stop": ["\n"]}
    history = [{"role": "user", "content": "earlier"}]
    with PromptClient("pvct_x", base_url=DEAD, fallback=bundle, on_error=lambda e: None) as client:
        p = client.get("p", user_key="u1", history=history)
        assert p.messages is None and p.text is None, "not rendered without variables"
        assert p.system == "You help {{company}}." and p.user_template == "{{q}}"
        assert p.required_variables == ("company", "q") and p.kind == "chat" and p.variant is None
        assert p.source == "fallback" and p.version == 1 and p.version_id == "v1"
        out = p.render(company="Acme", q="hi?")
        assert out == [
            {"role": "system", "content": "You help Acme."},
            {"role": "user", "content": "earlier"},
            {"role": "user", "content": "hi?"},
        ]
        assert p.render({"company": "Acme"}, q="hi?") == out
        assert p.render_with({"company": "A", "q": "b"}, history=None)[1] == {"role": "user", "content": "b"}
        with pytest.raises(PvctError) as e:
            p.render(company="Acme")
        assert e.value.code == "missing_variables" and e.value.details["missing"] == ["q"]
        with pytest.raises(PvctError) as e:
            p.render(company="Acme", q="x", z=1, y=2)
        assert e.value.code == "unknown_variables" and e.value.details["unknown"] == ["y", "z"]
        assert p.render_with({"company": "A", "q": "b", "z": 1}, strict=False)[0]["content"] == "You help A."
        # Callers own what they get: changing it changes nothing cached.
        out[0]["content"] = "changed"
        p.model_params["stop"].append("x")
        again = client.get("p", variables={"company": "Acme", "q": "hi?"}, history=history)
        assert again.messages is not None and again.messages[0]["content"] == "You help Acme."
        assert again.model_params == {"model": "m", "stop": ["\n"]}
        with pytest.raises(PvctError) as e:
            client.get("nope")
        assert e.value.code == "not_deployed"


def test_get_cached_never_waits_and_a_cold_start_without_fallback_is_network() -> None:
    client = PromptClient("pvct_x", base_url=DEAD, timeout=0.5, on_error=lambda e: None)
    with pytest.raises(PvctError) as e:
        client.get_cached("p")
    assert e.value.code == "not_loaded"
    with pytest.raises(PvctError) as e:
        client.get("p")
    assert e.value.code == "network"
    client.close()
    with pytest.raises(PvctError) as e:
        PromptClient("", base_url=DEAD)
    assert e.value.code == "invalid_options"


def test_telemetry_never_raises_bad_records_are_reported_and_the_buffer_is_bounded() -> None:
    errors: List[PvctError] = []

    def on_error(e: PvctError) -> None:
        errors.append(e)
        raise RuntimeError("an on_error that raises changes nothing")

    client = PromptClient("pvct_x", base_url=DEAD, timeout=0.2, max_retries=0, max_buffer_size=50,
                          flush_interval=3600, max_batch_size=1000, on_error=on_error)
    assert client.log(latency_ms=1)  # no version: reported, an id anyway
    client.log(prompt_version_id="v", latency_ms=math.nan)  # not JSON: reported
    client.log(prompt_version_id="v", latency_ms="fast")  # type: ignore[arg-type]
    client.feedback("id", 2)  # type: ignore[arg-type]
    client.feedback("id", True)  # type: ignore[arg-type]
    assert [e.code for e in errors] == ["invalid_field"] * 5
    ids = {client.log(prompt_version_id="v", latency_ms=i) for i in range(200)}
    assert len(ids) == 200
    assert client.log(prompt_version_id="v", execution_id="mine") == "mine"
    stats = client.stats()
    assert stats["buffered"] == 50 and stats["dropped"] == 151
    client.flush()  # the worker is unreachable: dropped and counted, not raised
    stats = client.stats()
    assert stats["buffered"] == 0 and stats["sent"] == 0 and stats["dropped"] == 201 and stats["failed_batches"] == 1
    assert errors[-1].code == "network"
    client.close()
    client.log(prompt_version_id="v")
    assert client.stats()["dropped"] == 202, "after close, logs are dropped and counted"


@pytest.fixture
def accepting() -> Iterator[Tuple[str, List[Tuple[str, Any]]]]:
    """A stand-in for the API's telemetry endpoints: every POST is accepted
    (202) and recorded as (path, body)."""
    posts: List[Tuple[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            posts.append((self.path, body))
            answer = {"accepted": len(body["executions"]), "rejected": []} if "executions" in body else {"accepted": True}
            data = json.dumps(answer).encode()
            self.send_response(202)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", posts
    finally:
        server.shutdown()
        server.server_close()


def test_feedback_without_a_version_is_reported_and_never_sent(accepting: Tuple[str, List[Tuple[str, Any]]]) -> None:
    url, posts = accepting
    errors: List[PvctError] = []
    client = PromptClient("pvct_x", base_url=url, flush_interval=3600, on_error=errors.append)
    client.feedback("elsewhere", 1)
    client.feedback("elsewhere", -1, "a comment")
    client.feedback("elsewhere", -1, environment="production")
    assert [(e.code, e.details["field"], e.details["execution_id"]) for e in errors] == [
        ("invalid_field", "prompt_version_id", "elsewhere")] * 3
    assert "prompt get returned" in errors[0].message
    assert client.stats()["buffered"] == 0
    client.flush()
    assert posts == [], "nothing was sent"
    client.close()


def test_the_client_remembers_the_executions_it_logged_last_and_named_values_win(
    accepting: Tuple[str, List[Tuple[str, Any]]]
) -> None:
    url, posts = accepting
    errors: List[PvctError] = []
    client = PromptClient("pvct_x", base_url=url, flush_interval=3600, max_batch_size=1000, max_buffer_size=20_000,
                          on_error=errors.append)
    ids = [client.log(prompt_version_id=f"v{i % 3}", environment="staging", latency_ms=1) for i in range(10_001)]
    client.feedback(ids[0], 1)  # the oldest of 10,001: forgotten
    client.feedback(ids[1], -1, "second")
    client.feedback(ids[10_000], 1)
    client.feedback(ids[2], 1, "named wins", prompt_version_id="named", environment="production")
    client.feedback(ids[0], 1, prompt_version_id="v0", environment="staging")
    bundle = one_prompt_bundle({"kind": "text", "content": {"text": "x"}, "uses": [], "declares": []})
    with PromptClient("pvct_x", base_url=DEAD, timeout=0.2, fallback=bundle, on_error=lambda e: None) as other:
        served = other.get("p")
    client.feedback("elsewhere", -1, prompt=served)
    client.feedback("elsewhere-2", 1, prompt_version_id="pv2")  # the client's environment
    client.flush()
    assert [(e.code, e.details["field"], e.details["execution_id"]) for e in errors] == [
        ("invalid_field", "prompt_version_id", ids[0])]
    assert (client.stats()["sent"], client.stats()["feedback_sent"]) == (10_001, 6)
    assert [body for path, body in posts if path == "/v1/feedback"] == [
        {"execution_id": ids[1], "value": -1, "comment": "second", "prompt_version_id": "v1", "environment": "staging"},
        {"execution_id": ids[10_000], "value": 1, "prompt_version_id": "v1", "environment": "staging"},
        {"execution_id": ids[2], "value": 1, "comment": "named wins", "prompt_version_id": "named",
         "environment": "production"},
        {"execution_id": ids[0], "value": 1, "prompt_version_id": "v0", "environment": "staging"},
        {"execution_id": "elsewhere", "value": -1, "prompt_version_id": "v1", "environment": "production"},
        {"execution_id": "elsewhere-2", "value": 1, "prompt_version_id": "pv2", "environment": "production"},
    ]
    client.close()


def test_fallback_forms_and_environments(tmp_path: Path) -> None:
    bundle = one_prompt_bundle({"kind": "text", "content": {"text": "Hi {{n}}"}, "uses": ["n"], "declares": []})
    file = tmp_path / "fallback.json"
    file.write_text(json.dumps({"production": bundle}))
    for fallback in (bundle, {"production": bundle}, str(file), file):
        with PromptClient("pvct_x", base_url=DEAD, timeout=0.2, fallback=fallback, on_error=lambda e: None) as c:
            assert c.get("p", variables={"n": "Ada"}).text == "Hi Ada"
            with pytest.raises(PvctError) as e:
                c.get("p", environment="staging")  # a production bundle never serves staging
            assert e.value.code == "network"
