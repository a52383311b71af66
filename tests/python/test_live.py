"""The installed package against the real worker in workerd with real local
D1, KV and Queue: routing identical to the worker's resolve for 1,000 users,
rendering identical to the worker's render, the bundle's ETag and
stale-while-revalidate, logs and feedback reaching the metrics, flushing on
close and at exit, and the outage behaviour."""

from __future__ import annotations

import json
import random
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, List

import pytest

from pvct import PromptClient, PvctError, value_text

from conftest import Worker, Workspace, until

SUPPORT_CONTENT = lambda tone: {  # noqa: E731
    "messages": [
        {"role": "system", "content": f"You are a {tone} agent for {{{{company}}}}."},
        {"role": "placeholder", "name": "history"},
        {"role": "user", "content": "{{question}}"},
    ]
}


def experiment_workspace(ws: Workspace) -> None:
    """A chat prompt live in production and an experiment over three versions."""
    ws.prompt("support", [SUPPORT_CONTENT(t) for t in ("kind", "brief", "formal")], kind="chat", deploy=1)
    ws.api.ok("PUT", "/v1/prompts/support/experiments/production", {
        "name": "tone", "variants": [{"version": 1, "weight": 50}, {"version": 2, "weight": 30}, {"version": 3, "weight": 20}],
    }, (201,))


def test_1000_users_route_as_the_worker_resolves_and_render_as_it_renders(workspace: Workspace) -> None:
    experiment_workspace(workspace)
    api = workspace.api
    variables = {"company": "Acme", "question": "Where is my order?"}
    history = [{"role": "user", "content": "hi {{not a variable}}"}, {"role": "assistant", "content": "Hello!"}]
    seen = set()
    with PromptClient(workspace.key, base_url=workspace.url) as client:
        for i in range(1000):
            user = f"user-{i}"
            local = client.get("support", user_key=user, variables=variables, history=history)
            _, edge, _ = api.get(f"/v1/resolve/support?environment=production&user_key={user}")
            assert (local.version, local.version_id, local.variant, local.experiment_id) == (
                edge["version"], edge["version_id"], edge["variant"], edge["experiment_id"]), user
            assert client.route("support", user_key=user).version_id == local.version_id
            seen.add(local.version)
            if i % 50 == 0:
                status, rendered, _ = api.post("/v1/prompts/support/render", {
                    "environment": "production", "user_key": user, "variables": variables, "history": history})
                assert status == 200
                assert local.messages == rendered["rendered"]["messages"]
                assert rendered["version"] == local.version
        assert seen == {1, 2, 3}, "every variant serves someone"
        assert client.stats()["bundle_fetches"] == 1, "one bundle fetch served all 1,000 gets"
        # Non-ASCII user keys hash over UTF-16 code units, as the worker's do.
        for user in ["é", "日本", "🙂emoji", "Ωmega-42"]:
            from urllib.parse import quote
            _, edge, _ = api.get(f"/v1/resolve/support?environment=production&user_key={quote(user)}")
            assert client.route("support", user_key=user).version == edge["version"], user
        # The same errors, with the same codes, as the worker's render.
        local = client.get("support", user_key="u")
        assert local.messages is None, "not rendered without variables"
        for given, code in [({"company": "Acme"}, "missing_variables"), ({**variables, "extra": 1}, "unknown_variables")]:
            with pytest.raises(PvctError) as e:
                local.render(given)
            _, edge, _ = api.post("/v1/prompts/support/render", {"environment": "production", "user_key": "u", "variables": given})
            assert e.value.code == edge["error"]["code"] == code
            assert e.value.details == edge["error"]["details"]
        bad_history = [{"role": "tool", "content": "x"}]
        with pytest.raises(PvctError) as e:
            local.render_with(variables, history=bad_history)
        _, edge, _ = api.post("/v1/prompts/support/render", {"environment": "production", "variables": variables, "history": bad_history})
        assert e.value.code == edge["error"]["code"] == "invalid_field"
        with pytest.raises(PvctError) as e:
            client.get("nope")
        assert e.value.code == "not_deployed"


def random_doubles(n: int, seed: int) -> List[float]:
    rng = random.Random(seed)
    out: List[float] = []
    while len(out) < n:
        f = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if f == f and abs(f) != float("inf"):
            out.append(f)
    return out


def test_values_of_every_kind_render_as_the_worker_renders_them(workspace: Workspace) -> None:
    workspace.prompt("values", [{"text": "v={{v}}"}], deploy=1)
    rng = random.Random(11)
    cases: List[Any] = [
        1.0, 100.0, -0.0, 0.5, 1e15, 1e16, 1e21, 1e-5, 1e-7, 2.5e-7, 5e-324, 1.7976931348623157e308,
        0.1 + 0.2, 2**53 + 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30, True, None, "ü 🙂 {{x}}",
        {"b": [1, 2.5, None], "a": "x\u0001\n\"é\u2028\x7f", "B": {}, "10": 1, "9": 2, "é": 3},
        [rng.random() for _ in range(200)],
        [rng.random() * 10 ** rng.randint(-12, 25) for _ in range(500)],
        [round(rng.random() * 1000, rng.randint(0, 6)) for _ in range(300)],
        random_doubles(3000, 5),
    ]
    with PromptClient(workspace.key, base_url=workspace.url) as client:
        prompt = client.get("values", variables={"v": "x"})
        for value in cases:
            status, edge, _ = workspace.api.post("/v1/prompts/values/render", {"environment": "production", "variables": {"v": value}})
            assert status == 200, edge
            assert prompt.render(v=value) == edge["rendered"]["text"] == "v=" + value_text(value)


def test_declared_defaults_and_text_prompts_render_as_the_worker_renders_them(workspace: Workspace) -> None:
    variables = [{"name": "tone", "required": False, "default": "warm"}, {"name": "n", "required": False, "default": 0.00001},
                 {"name": "o", "required": False, "default": {"k": [1, 2.5]}}, {"name": "unused", "required": False}]
    workspace.prompt("declared", [{"text": "Be {{tone}} {{n}} {{o}} {{who}} \\{{lit}} {{a.b-c_d}}"}], deploy=1, variables=variables)
    with PromptClient(workspace.key, base_url=workspace.url) as client:
        for given in [{"who": "Ada", "a.b-c_d": 7}, {"who": "Bo", "a.b-c_d": "x", "tone": "cold", "unused": 1}]:
            local = client.get("declared", variables=given)
            _, edge, _ = workspace.api.post("/v1/prompts/declared/render", {"environment": "production", "variables": given})
            assert local.text == edge["rendered"]["text"], edge
        assert local.required_variables == ("a.b-c_d", "who")


def test_the_bundle_is_revalidated_with_its_etag_stale_while_revalidate(workspace: Workspace) -> None:
    workspace.prompt("greet", [{"text": "Hello {{name}}"}, {"text": "Hi {{name}}!"}], deploy=1)
    client = PromptClient(workspace.key, base_url=workspace.url, cache_ttl=0)
    first = client.get("greet", variables={"name": "Ada"})
    assert first.text == "Hello Ada" and first.render(name="Bo") == "Hello Bo" and first.source == "network"
    client.refresh()
    assert client.stats()["not_modified"] == 1, "an unchanged bundle answers 304"
    workspace.promote("greet", 2)
    client.refresh()
    assert client.get_cached("greet", variables={"name": "Ada"}).text == "Hi Ada!"
    client.close()

    # Stale-while-revalidate: past the TTL, get answers from what it has at
    # once and a background thread fetches the new bundle. (live=False: the
    # TTL path alone; live updates would bring the change first.)
    swr = PromptClient(workspace.key, base_url=workspace.url, cache_ttl=0.05, live=False)
    assert swr.get("greet", variables={"name": "x"}).text == "Hi x!"
    workspace.promote("greet", 1)
    time.sleep(0.1)
    served = swr.get("greet", variables={"name": "x"})
    assert served.text == "Hi x!", "the stale bundle serves while it revalidates"
    until(lambda: swr.get("greet", variables={"name": "x"}).text == "Hello x", "the background revalidation lands")
    assert swr.stats()["stale_serves"] >= 1 and swr.stats()["bundle_fetches"] >= 2
    swr.close()

    # A prompt deployed after the bundle was fetched is found without waiting for the TTL
    # (without live updates too: a missing prompt revalidates once).
    workspace.prompt("late", [{"text": "Late {{name}}"}])
    patient = PromptClient(workspace.key, base_url=workspace.url, live=False)
    patient.get("greet", variables={"name": "x"})
    time.sleep(1.1)
    workspace.promote("late", 1)
    assert patient.get("late", variables={"name": "Ada"}).text == "Late Ada"
    with pytest.raises(PvctError) as e:
        patient.get("never-deployed")
    assert e.value.code == "not_deployed"
    patient.close()

    # Concurrent cold starts share one request.
    fresh = PromptClient(workspace.key, base_url=workspace.url)
    results: List[str] = []
    threads = [threading.Thread(target=lambda: results.append(fresh.get("greet", variables={"name": "x"}).text or "")) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["Hello x"] * 20
    assert fresh.stats()["bundle_fetches"] == 1
    fresh.close()


def test_logs_are_batched_and_reach_the_metrics_feedback_too(workspace: Workspace) -> None:
    workspace.prompt("logged", [{"text": "Say {{x}}"}], deploy=1)
    errors: List[PvctError] = []
    client = PromptClient(workspace.key, base_url=workspace.url, max_batch_size=40, on_error=errors.append)
    prompt = client.get("logged", variables={"x": "hi"})
    ids = [client.log(prompt, latency_ms=10 + i, tokens_in=5, tokens_out=7, score=1, output="ok",
                      error=RuntimeError("boom") if i < 10 else None) for i in range(100)]
    assert len(set(ids)) == 100, "log returns a fresh id at once"
    # Executions this client logged: their id is enough (it remembers their version and environment).
    client.feedback(ids[0], 1)
    client.feedback(ids[1], -1, "too long")
    client.flush()
    assert errors == []
    stats = client.stats()
    assert (stats["sent"], stats["feedback_sent"], stats["buffered"]) == (100, 2, 0)
    body = workspace.metrics_when("logged", lambda items: bool(items) and items[0]["metrics"]["calls"] == 100
                                  and items[0]["metrics"]["feedback_up"] == 1)
    m = body["items"][0]["metrics"]
    assert (m["errors"], m["tokens_out"], m["feedback_down"]) == (10, 700, 1)
    # A record the server refuses is reported, never raised.
    client.log(prompt_version_id="no-such-version", latency_ms=1)
    client.flush()
    assert client.stats()["rejected"] == 1
    assert any(e.code == "invalid_field" for e in errors)
    client.close()


def test_feedback_from_a_client_that_never_logged_the_execution_names_its_version(workspace: Workspace) -> None:
    workspace.prompt("rated", [{"text": "One {{x}}"}, {"text": "Two {{x}}"}], deploy=1)
    versions = {v["number"]: v["id"] for v in workspace.api.ok("GET", "/v1/prompts/rated/versions")["items"]}
    # One process logs (version 1 as get serves it, version 2 by id)...
    with PromptClient(workspace.key, base_url=workspace.url) as logger:
        prompt = logger.get("rated", variables={"x": "a"})
        one = [logger.log(prompt, latency_ms=5) for _ in range(3)]
        two = [logger.log(prompt_version_id=versions[2], environment="production", latency_ms=5) for _ in range(2)]
    assert logger.stats()["sent"] == 5
    # ...another takes the thumbs: it never saw those executions.
    errors: List[PvctError] = []
    rater = PromptClient(workspace.key, base_url=workspace.url, on_error=errors.append)
    served = rater.get("rated", variables={"x": "b"})
    rater.feedback(one[0], 1, prompt=served)
    rater.feedback(one[1], -1, "off topic", prompt=served)
    rater.feedback(two[0], 1, prompt_version_id=versions[2], environment="production")
    rater.feedback(two[1], 1, prompt_version_id=versions[2])  # the client's environment
    # Named nowhere and not logged here: reported, not sent.
    rater.feedback(one[2], 1)
    rater.feedback(one[2], 1, "a comment alone names no version")
    assert [(e.code, e.details["field"]) for e in errors] == [("invalid_field", "prompt_version_id")] * 2
    assert "prompt get returned" in errors[0].message and "log the execution through this client" in errors[0].message
    # An environment the workspace does not have: the API's refusal reaches on_error with the field it names.
    rater.feedback(one[2], 1, prompt=served, environment="nowhere")
    rater.flush()
    stats = rater.stats()
    assert (stats["feedback_sent"], stats["rejected"]) == (4, 1)
    assert len(errors) == 3
    assert (errors[2].code, errors[2].details["field"], errors[2].details["status"]) == ("invalid_field", "environment", 400)

    def by_version(items: List[Any]) -> Any:
        return {i["version"]: i["metrics"] for i in items}

    body = workspace.metrics_when("rated", lambda items: by_version(items).get(1, {}).get("feedback_down") == 1
                                  and by_version(items).get(2, {}).get("feedback_up") == 2)
    m = by_version(body["items"])
    assert (m[1]["calls"], m[1]["feedback_up"], m[1]["feedback_down"]) == (3, 1, 1)
    assert (m[2]["calls"], m[2]["feedback_up"], m[2]["feedback_down"]) == (2, 2, 0)
    rater.close()


def test_close_and_the_context_manager_flush_and_so_does_interpreter_exit(workspace: Workspace) -> None:
    workspace.prompt("closing", [{"text": "Bye {{x}}"}], deploy=1)
    with PromptClient(workspace.key, base_url=workspace.url, flush_interval=3600) as client:
        prompt = client.get("closing", variables={"x": "y"})
        for _ in range(3):
            client.log(prompt, latency_ms=5)
        assert client.stats()["buffered"] == 3
    assert client.stats()["sent"] == 3 and client.stats()["buffered"] == 0
    # A script that logs and exits without flushing: the atexit hook sends them.
    script = (
        "import sys\nfrom pvct import PromptClient\n"
        "c = PromptClient(sys.argv[1], base_url=sys.argv[2], flush_interval=3600)\n"
        "p = c.get('closing', variables={'x': 'y'})\n"
        "for _ in range(4): c.log(p, latency_ms=5)\n"
    )
    subprocess.run([sys.executable, "-c", script, workspace.key, workspace.url], check=True, timeout=60)
    workspace.metrics_when("closing", lambda items: bool(items) and items[0]["metrics"]["calls"] == 7)


def test_with_the_worker_down_warm_clients_keep_serving_and_nothing_raises(spare_worker: Worker, tmp_path: Path) -> None:
    ws = Workspace(spare_worker)
    ws.prompt("steady", [{"text": "Stay {{mood}}"}], deploy=1)
    bundle = ws.bundle()
    errors: List[PvctError] = []
    client = PromptClient(ws.key, base_url=spare_worker.url, cache_ttl=0.02, timeout=0.5, max_retries=1,
                          max_buffer_size=50, on_error=errors.append)
    assert client.get("steady", variables={"mood": "calm"}).text == "Stay calm"
    spare_worker.stop()
    for _ in range(5):
        assert client.get("steady", variables={"mood": "calm"}).text == "Stay calm", "stale-if-error"
        time.sleep(0.03)
    for _ in range(200):
        client.log(prompt_version_id="v", latency_ms=1)
    assert client.stats()["buffered"] <= 50, "the buffer is bounded"
    client.flush()
    stats = client.stats()
    assert stats["dropped"] >= 150, stats
    assert stats["sent"] == 0
    until(lambda: any(e.code == "network" for e in errors), "the outage is reported to on_error")
    client.close()

    # Cold start while down: the fallback (a bundle, or a JSON file) serves.
    file = tmp_path / "fallback.json"
    file.write_text(json.dumps(bundle))
    for fallback in (bundle, str(file)):
        cold = PromptClient(ws.key, base_url=spare_worker.url, timeout=0.5, fallback=fallback, on_error=lambda e: None)
        results: List[Any] = []
        threads = [threading.Thread(target=lambda c=cold, r=results: r.append(c.get("steady", variables={"mood": "fine"})))
                   for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [(p.text, p.source) for p in results] == [("Stay fine", "fallback")] * 10
        assert cold.stats()["bundle_fetches"] == 1, "concurrent cold starts share one bundle fetch and one fallback"
        cold.close()
    none = PromptClient(ws.key, base_url=spare_worker.url, timeout=0.5, on_error=lambda e: None)
    with pytest.raises(PvctError) as e:
        none.get("steady")
    assert e.value.code == "network"
    none.close()


def test_a_server_that_never_answers_times_out_and_memory_stays_bounded(workspace: Workspace) -> None:
    workspace.prompt("patient", [{"text": "Wait {{x}}"}], deploy=1)
    bundle = workspace.bundle()
    # Accepts connections and never answers (a stuck network path).
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: List[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    threading.Thread(target=accept, daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    errors: List[PvctError] = []
    try:
        cold = PromptClient(workspace.key, base_url=url, timeout=0.15, cache_ttl=0.05, max_retries=1,
                            max_buffer_size=100, fallback=bundle, on_error=errors.append)
        assert cold.get("patient", variables={"x": "a"}).text == "Wait a"
        time.sleep(0.1)
        for _ in range(20):
            assert cold.get_cached("patient", variables={"x": "b"}).text == "Wait b"
        for _ in range(1000):
            cold.log(prompt_version_id=bundle["prompts"]["patient"]["version_id"], latency_ms=1)
        assert cold.stats()["buffered"] <= 100, "the buffer stays bounded while sends hang"
        cold.flush()
        stats = cold.stats()
        assert stats["sent"] == 0 and stats["dropped"] >= 900, stats
        assert errors and all(isinstance(e, PvctError) for e in errors)
        cold.close()
    finally:
        stop.set()
        for s in held:
            s.close()
        server.close()
