"""The SDK without a worker: the shared routing vectors and rendering cases
(the same files the core's cargo tests and the npm SDK's tests read), the
template parser's errors, value formatting, and the client's promises that
need no server (telemetry never raises, the buffer is bounded)."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
from pathlib import Path
from typing import Any, Dict, List

import pytest

import pvct
from pvct import PreparedBundle, PromptClient, PvctError, bucket, fnv1a32, value_text
from pvct.routing import bucket_ranges, choose_variant
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


RENDERING = load_vectors("rendering.json")["cases"]


@pytest.mark.parametrize("case", RENDERING, ids=lambda c: c["name"])
def test_the_shared_rendering_cases(case: Dict[str, Any]) -> None:
    # The variables a version uses, as the core extracts them at commit.
    templates = [case["content"]["text"]] if case["kind"] != "chat" else [
        m["content"] for m in case["content"]["messages"] if m["role"] != "placeholder"
    ]
    assert sorted({v for t in templates for v in variables_of(t)}) == case["uses"]
    client = PromptClient("pvct_x", base_url=DEAD, timeout=0.2, fallback=one_prompt_bundle(case), on_error=lambda e: None)
    try:
        p = client.get("p", variables=case["variables"], strict=case["strict"], history=case.get("history"))
        outcome: Dict[str, Any] = {"messages": p.messages} if case["kind"] == "chat" else {"text": p.text}
    except PvctError as e:
        outcome = {"error": e.code}
    finally:
        client.close()
    assert outcome == case["expected"]


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
