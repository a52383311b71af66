#!/usr/bin/env python3
"""The Python SDK against Langfuse's, in one run on one machine: a warm
``get`` + route + render of the same 2 KB prompt with 5 variables (pvct's
``client.get(..., user_key=..., variables=...)`` on an 80/20 experiment,
a different user per call, against the ``langfuse`` package's warm
``get_prompt`` + ``compile`` served by a local stub of Langfuse's prompt
API). pvct is pip-installed from ./sdk-python as users get it; langfuse
(pinned) only into the benchmark's own venv, target/bench-py-venv. Prints
ns/op and the ratio; writes bench/out/python-sdk.json. Target: ratio <= 0.5.

Usage: python3 bench/python_sdk.py   (needs the built worker: make build)
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List

LANGFUSE_VERSION = "5.0.4"
ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "target" / "bench-py-venv"
TARGET = 0.5


def bootstrap() -> None:
    """Re-runs this script inside the benchmark venv, with langfuse and pvct installed."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"langfuse=={LANGFUSE_VERSION}"], check=True, env=env)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "sdk-python"
        shutil.copytree(ROOT / "sdk-python", src, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(src)], check=True, env=env)
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def measure(fn: Callable[[int], Any], rounds: int = 5, ms: float = 400) -> float:
    """Median ns/op of ``rounds`` timed runs of ``fn``, each about ``ms`` long."""
    n = 1
    while True:  # calibrate: double until one run takes ~ms/4
        t = time.perf_counter_ns()
        for i in range(n):
            fn(i)
        took = (time.perf_counter_ns() - t) / 1e6
        if took > ms / 4 or n > 1e7:
            n = max(1, round(n * ms / max(took, 0.001)))
            break
        n *= 2
    results: List[float] = []
    for _ in range(rounds):
        t = time.perf_counter_ns()
        for i in range(n):
            fn(i)
        results.append((time.perf_counter_ns() - t) / n)
    results.sort()
    return results[rounds // 2]


def call(url: str, key: str, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(url + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read() or b"null")


def main() -> None:
    bootstrap()
    import langfuse  # noqa: F401 - installed by bootstrap
    from langfuse import Langfuse

    import pvct
    from pvct import PromptClient

    # The prompt: ~2 KB of text with 5 variables (as bench/sdk.mjs).
    paragraph = ("You are the support assistant of {{company}}. Answer {{customer}} about {{product}} in a {{tone}} tone, "
                 "citing the policy where it applies and never promising what the policy does not allow. ")
    template = ""
    while len(template) < 1900:
        template += paragraph
    template += "Question: {{question}}"
    variables = {"company": "Acme", "customer": "Ada", "product": "the X100 kettle", "tone": "warm",
                 "question": "Can I return it after 40 days?"}

    worker = subprocess.Popen(["node", str(ROOT / "tests/python/worker.mjs")], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None
    info = json.loads(worker.stdout.readline())
    stub = None
    results: Dict[str, Dict[str, float]] = {}
    try:
        url = info["url"]
        ws = call(url, info["adminKey"], "POST", "/v1/workspaces", {"name": "bench-python"})
        key = ws["api_key"]["key"]
        call(url, key, "POST", "/v1/prompts", {"slug": "support", "name": "Support", "kind": "text"})
        call(url, key, "POST", "/v1/prompts/support/versions", {"parent_version": None, "message": "one", "content": {"text": template}})
        call(url, key, "POST", "/v1/prompts/support/versions", {"parent_version": 1, "message": "two", "content": {"text": template + " Be concise."}})
        call(url, key, "POST", "/v1/prompts/support/promote", {"version": 1, "environment": "production"})
        call(url, key, "PUT", "/v1/prompts/support/experiments/production",
             {"name": "tone", "variants": [{"version": 1, "weight": 80}, {"version": 2, "weight": 20}]})

        client = PromptClient(key, base_url=url, cache_ttl=3600)
        users = [f"user-{i}" for i in range(4096)]
        split = sum(client.route("support", user_key=u).version == 2 for u in users) / len(users)
        assert 0.15 < split < 0.25, f"the 80/20 experiment routes {split} to version 2"
        assert "the X100 kettle" in (client.get("support", user_key="u1", variables=variables).text or "")

        # Langfuse against a stub of its prompt API (outside our system).
        body = json.dumps({"id": "p1", "name": "support", "version": 1, "type": "text", "prompt": template, "config": {},
                           "labels": ["production"], "tags": [], "commitMessage": None}).encode()

        class Stub(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        stub = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
        threading.Thread(target=stub.serve_forever, daemon=True).start()
        lf = Langfuse(public_key="pk-lf-bench", secret_key="sk-lf-bench", base_url=f"http://127.0.0.1:{stub.server_port}",
                      tracing_enabled=False)
        assert "Ada" in lf.get_prompt("support").compile(**variables), "langfuse did not compile"

        results["get_route_render"] = {
            "pvct_ns": measure(lambda i: client.get("support", user_key=users[i & 4095], variables=variables).text),
            "langfuse_ns": measure(lambda i: lf.get_prompt("support").compile(**variables)),
        }
        results["get_cached_route_render"] = {
            "pvct_ns": measure(lambda i: client.get_cached("support", user_key=users[i & 4095], variables=variables).text),
        }
        results["route"] = {"pvct_ns": measure(lambda i: client.route("support", user_key=users[i & 4095]).version)}
        client.close()
        lf.shutdown()
    finally:
        if stub is not None:
            stub.shutdown()
        worker.terminate()
        worker.wait(timeout=30)

    g = results["get_route_render"]
    ratio = g["pvct_ns"] / g["langfuse_ns"]
    us = lambda ns: f"{ns / 1000:.2f} µs"  # noqa: E731
    print(f"\nPython SDK vs langfuse {LANGFUSE_VERSION}, Python {platform.python_version()}, {os.cpu_count()} cores, median of 5 rounds\n")
    print("| measurement | pvct | peer | peer time | ratio (pvct / peer) | target |\n|---|---|---|---|---|---|")
    verdict = f"≤ {TARGET:.2f} {'met' if ratio <= TARGET else 'MISSED'}"
    print(f"| warm get + route + render (2 KB, 5 vars) | {us(g['pvct_ns'])} | langfuse get_prompt + compile | {us(g['langfuse_ns'])} | {ratio:.3f} | {verdict} |")
    c = results["get_cached_route_render"]["pvct_ns"]
    print(f"| same, get_cached | {us(c)} | langfuse get_prompt + compile | {us(g['langfuse_ns'])} | {c / g['langfuse_ns']:.3f} | |")
    print(f"| route a user (80/20 experiment) | {us(results['route']['pvct_ns'])} | | | | |")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "python-sdk.json").write_text(json.dumps({
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "python": platform.python_version(),
        "cores": os.cpu_count(), "langfuse": LANGFUSE_VERSION, "pvct": pvct.__version__, "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
