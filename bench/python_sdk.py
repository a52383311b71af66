#!/usr/bin/env python3
"""The Python SDK against Langfuse's, each in its own process, in one run on
one machine: a warm ``get`` + route + render of a 2 KB prompt with 5
variables, a different user per call, on an 80/20 experiment (pvct's
``client.get(slug, user_key=..., variables=...)`` against the live worker),
against the ``langfuse`` package's warm ``get_prompt`` + ``compile`` (served
by a local stub of Langfuse's prompt API, in this driver process).

Two mixes of users, each as a ratio to Langfuse measured in the same run:

* **returning**: 90 % of calls from a pool of 5,000 users already routed
  once (drawn uniformly), 10 % from users never seen before;
* **new**: every call a user never seen before (a cache cannot help).

User keys are ``user-<n>`` as in bench/sdk.mjs: the pool is ``user-0`` to
``user-4999``, new users count up from ``user-5000`` for the whole run.

Two templates, both about 2 KB with the variables company, customer,
product, tone and question: **once** (each variable once; the headline, and
the target) and **repeated** (bench/sdk.mjs's template: a paragraph using
four of them, repeated to 2 KB, so about 40 occurrences; Langfuse's
``compile`` scans the template in Python, so it favours pvct).

The two processes run the same loop shape (a ``for`` over a list of keys, one
call per key) and are measured alternately, round after round, so a machine
that gets busier slows both; the figure per case is the median of the
rounds. pvct is pip-installed from ./sdk-python into target/py-venv as
scripts/test-python.sh installs it (not editable); langfuse (pinned) lives
in target/compat-venv as scripts/test-compat.sh installs it. Prints a table;
writes bench/out/python-sdk.json. Target: returning / Langfuse <= 0.40.

Usage: python3 bench/python_sdk.py [rounds]   (needs the built worker: make build)
"""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

LANGFUSE_VERSION = "5.0.4"
ROOT = Path(__file__).resolve().parents[1]
PVCT_VENV = ROOT / "target" / "py-venv"
LANGFUSE_VENV = ROOT / "target" / "compat-venv"
TARGET = 0.40
POOL = 5000
RETURNING_SHARE = 0.9
RUN_MS = 100  # each timed run

VARIABLES = {"company": "Acme", "customer": "Ada", "product": "the X100 kettle", "tone": "warm",
             "question": "Can I return it after 40 days?"}


def templates() -> Dict[str, str]:
    """The two prompts, about 2 KB each (see the module's docstring)."""
    # bench/sdk.mjs's template, character for character.
    paragraph = ("You are the support assistant of {{company}}. Answer {{customer}} about {{product}} in a {{tone}} tone, "
                 "citing the policy where it applies and never promising what the policy does not allow. ")
    repeated = ""
    while len(repeated) < 1900:
        repeated += paragraph
    repeated += "Question: {{question}}"
    # The same words, each variable once.
    once = "You are the support assistant of {{company}}. Answer {{customer}} about {{product}} in a {{tone}} tone, "
    rest = "citing the policy where it applies and never promising what the policy does not allow. "
    while len(once) < 1900:
        once += rest
    once += "Question: {{question}}"
    return {"once": once, "repeated": repeated}


SLUGS = {"once": "support", "repeated": "support-repeated"}

# (case, template, what): pvct's figures. Each run of one is paired with a
# run of Langfuse on the same template right before or after it (the order
# alternates round by round), and its ratio is the median of those pairs'.
CASES: List[Tuple[str, str, str]] = [
    ("returning", "once", "get + route + render, 90 % returning users"),
    ("new", "once", "get + route + render, all new users"),
    ("returning_repeated", "repeated", "get + route + render, 90 % returning users"),
    ("new_repeated", "repeated", "get + route + render, all new users"),
    ("cached_returning", "once", "get_cached + route + render, 90 % returning users"),
    ("route_returning", "once", "route only, 90 % returning users"),
    ("route_new", "once", "route only, all new users"),
]
BASELINE = {"once": "langfuse", "repeated": "langfuse_repeated"}


# --- the two measuring processes ----------------------------------------------------


class Keys:
    """User keys: a pool routed once before measuring, and new ones never seen before."""

    def __init__(self) -> None:
        self.pool = [f"user-{i}" for i in range(POOL)]
        self.next_new = POOL
        self.rng = random.Random(20261204)

    def new(self, n: int) -> List[str]:
        start = self.next_new
        self.next_new += n
        return [f"user-{i}" for i in range(start, start + n)]

    def returning(self, n: int) -> List[str]:
        rng, pool = self.rng, self.pool
        out: List[str] = []
        for _ in range(n):
            if rng.random() < RETURNING_SHARE:
                out.append(pool[rng.randrange(POOL)])
            else:
                out.append(f"user-{self.next_new}")
                self.next_new += 1
        return out


def timed(fn: Callable[[str], Any], keys: List[str]) -> float:
    """ns per call of ``fn`` over ``keys`` (one call per key)."""
    t = time.perf_counter_ns()
    for k in keys:
        fn(k)
    return (time.perf_counter_ns() - t) / len(keys)


def pvct_side(setup: Dict[str, Any]) -> Tuple[Dict[str, Callable[[int], float]], Dict[str, Any]]:
    import pvct
    from pvct import PromptClient

    client = PromptClient(setup["key"], base_url=setup["url"], on_error=lambda e: None)
    keys = Keys()
    once, repeated = SLUGS["once"], SLUGS["repeated"]
    for slug in SLUGS.values():
        text = client.get(slug, user_key="check", variables=VARIABLES).text or ""
        assert "the X100 kettle" in text and "{{" not in text, "pvct did not render"
        split = sum(client.route(slug, user_key=f"split-{i}").version == 2 for i in range(4000)) / 4000
        assert 0.15 < split < 0.25, f"the 80/20 experiment routes {split} to version 2"
        for u in keys.pool:  # the returning users have been here before
            client.get(slug, user_key=u, variables=VARIABLES)

    get, get_cached, route, v = client.get, client.get_cached, client.route, VARIABLES
    runs: Dict[str, Callable[[int], float]] = {
        "returning": lambda n: timed(lambda k: get(once, user_key=k, variables=v), keys.returning(n)),
        "new": lambda n: timed(lambda k: get(once, user_key=k, variables=v), keys.new(n)),
        "returning_repeated": lambda n: timed(lambda k: get(repeated, user_key=k, variables=v), keys.returning(n)),
        "new_repeated": lambda n: timed(lambda k: get(repeated, user_key=k, variables=v), keys.new(n)),
        "cached_returning": lambda n: timed(lambda k: get_cached(once, user_key=k, variables=v), keys.returning(n)),
        "route_returning": lambda n: timed(lambda k: route(once, user_key=k), keys.returning(n)),
        "route_new": lambda n: timed(lambda k: route(once, user_key=k), keys.new(n)),
    }

    def info() -> Dict[str, Any]:
        return {"version": pvct.__version__, "python": platform.python_version(), "stats": client.stats()}

    return runs, {"info": info}


def langfuse_side(setup: Dict[str, Any]) -> Tuple[Dict[str, Callable[[int], float]], Dict[str, Any]]:
    import importlib.metadata

    from langfuse import Langfuse

    lf = Langfuse(public_key="pk-lf-bench", secret_key="sk-lf-bench", base_url=setup["langfuse_url"],
                  tracing_enabled=False)
    for slug in SLUGS.values():
        text = lf.get_prompt(slug).compile(**VARIABLES)
        assert "the X100 kettle" in text and "{{" not in text, "langfuse did not compile"
    keys = Keys()  # the same loop over keys as pvct's, though Langfuse has no users to route
    once, repeated, v = SLUGS["once"], SLUGS["repeated"], VARIABLES
    get_prompt = lf.get_prompt
    runs: Dict[str, Callable[[int], float]] = {
        "langfuse": lambda n: timed(lambda k: get_prompt(once).compile(**v), keys.returning(n)),
        "langfuse_repeated": lambda n: timed(lambda k: get_prompt(repeated).compile(**v), keys.returning(n)),
    }

    def info() -> Dict[str, Any]:
        return {"version": importlib.metadata.version("langfuse"), "python": platform.python_version()}

    return runs, {"info": info, "close": lf.shutdown}


def side_main(side: str) -> None:
    """A measuring process: set up from the first stdin line, then answer
    commands ({"case", "n"} -> {"ns"}, {"calibrate"} -> {"n"}, {"info"})."""
    setup = json.loads(sys.stdin.readline())
    runs, extra = (pvct_side if side == "pvct" else langfuse_side)(setup)
    for run in runs.values():  # warm every path
        run(2000)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if "calibrate" in cmd:
            run, n = runs[cmd["calibrate"]], 1000
            while True:
                took_ms = run(n) * n / 1e6
                if took_ms > RUN_MS / 4 or n >= 10**7:
                    break
                n *= 2
            print(json.dumps({"n": max(1000, round(n * RUN_MS / max(took_ms, 0.001)))}), flush=True)
        elif "case" in cmd:
            print(json.dumps({"ns": runs[cmd["case"]](cmd["n"])}), flush=True)
        elif "info" in cmd:
            print(json.dumps(extra["info"]()), flush=True)
    if "close" in extra:
        extra["close"]()


# --- the driver ----------------------------------------------------------------------


def ensure_venvs() -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    pvct_py, lf_py = PVCT_VENV / "bin" / "python", LANGFUSE_VENV / "bin" / "python"
    if not pvct_py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PVCT_VENV)], check=True)
    with tempfile.TemporaryDirectory() as tmp:  # as scripts/test-python.sh: a clean copy, not editable
        src = Path(tmp) / "sdk-python"
        shutil.copytree(ROOT / "sdk-python", src, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
        subprocess.run([str(pvct_py), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(src)],
                       check=True, env=env)
    probe = "import importlib.metadata as m; print(m.version('langfuse'))"
    installed = subprocess.run([str(lf_py), "-c", probe], capture_output=True, text=True).stdout.strip() \
        if lf_py.exists() else ""
    if installed != LANGFUSE_VERSION:  # as scripts/test-compat.sh
        print(f"==> pip install langfuse=={LANGFUSE_VERSION} into target/compat-venv", flush=True)
        if not lf_py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(LANGFUSE_VENV)], check=True)
        subprocess.run([str(lf_py), "-m", "pip", "install", "-q", f"langfuse=={LANGFUSE_VERSION}"], check=True, env=env)


def call(url: str, key: str, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(url + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read() or b"null")


def langfuse_stub(texts: Dict[str, str]) -> ThreadingHTTPServer:
    """Langfuse's prompt API (GET /api/public/v2/prompts/{name}), for the cold fetch only."""
    bodies = {SLUGS[t]: json.dumps({
        "id": f"p-{t}", "name": SLUGS[t], "version": 1, "type": "text", "prompt": text, "config": {},
        "labels": ["production"], "tags": [], "commitMessage": None}).encode() for t, text in texts.items()}

    class Stub(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            name = self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
            body = bodies.get(name)
            self.send_response(200 if body else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            pass

    stub = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    return stub


class Side:
    def __init__(self, python: Path, side: str, setup: Dict[str, Any]) -> None:
        self.name = side
        self.proc = subprocess.Popen([str(python), str(Path(__file__).resolve()), "--side", side],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ask(setup)

    def ask(self, cmd: Dict[str, Any]) -> Any:
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps(cmd) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} process ended (exit {self.proc.wait()})")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def median(xs: List[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2]


def main(rounds: int) -> None:
    ensure_venvs()
    texts = templates()
    worker = subprocess.Popen(["node", str(ROOT / "tests/python/worker.mjs")], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None
    info = json.loads(worker.stdout.readline())
    stub: Optional[ThreadingHTTPServer] = None
    sides: Dict[str, Side] = {}
    times: Dict[str, List[float]] = {case: [] for case in [c for c, *_ in CASES] + list(BASELINE.values())}
    try:
        url = info["url"]
        ws = call(url, info["adminKey"], "POST", "/v1/workspaces", {"name": "bench-python"})
        key = ws["api_key"]["key"]
        for t, slug in SLUGS.items():
            call(url, key, "POST", "/v1/prompts", {"slug": slug, "name": slug, "kind": "text"})
            call(url, key, "POST", f"/v1/prompts/{slug}/versions",
                 {"parent_version": None, "message": "one", "content": {"text": texts[t]}})
            call(url, key, "POST", f"/v1/prompts/{slug}/versions",
                 {"parent_version": 1, "message": "two", "content": {"text": texts[t] + " Be concise."}})
            call(url, key, "POST", f"/v1/prompts/{slug}/promote", {"version": 1, "environment": "production"})
            call(url, key, "PUT", f"/v1/prompts/{slug}/experiments/production",
                 {"name": "tone", "variants": [{"version": 1, "weight": 80}, {"version": 2, "weight": 20}]})
        stub = langfuse_stub(texts)
        setup = {"url": url, "key": key, "langfuse_url": f"http://127.0.0.1:{stub.server_port}"}
        sides["pvct"] = Side(PVCT_VENV / "bin" / "python", "pvct", setup)
        sides["langfuse"] = Side(LANGFUSE_VENV / "bin" / "python", "langfuse", setup)
        all_cases = [("pvct", case) for case, *_ in CASES] + [("langfuse", b) for b in BASELINE.values()]
        n = {case: sides[side].ask({"calibrate": case})["n"] for side, case in all_cases}
        for r in range(rounds):
            for case, template, _ in CASES:
                pair = [("pvct", case), ("langfuse", BASELINE[template])]
                for side, c in pair if r % 2 == 0 else pair[::-1]:
                    times[c].append(sides[side].ask({"case": c, "n": n[c]})["ns"])
            print(f"round {r + 1}/{rounds}: returning {times['returning'][-1]:.0f} ns, new {times['new'][-1]:.0f} ns, "
                  f"langfuse {times['langfuse'][-1]:.0f} ns", flush=True)
        versions = {name: s.ask({"info": True}) for name, s in sides.items()}
    finally:
        for s in sides.values():
            s.close()
        if stub is not None:
            stub.shutdown()
        worker.terminate()
        worker.wait(timeout=30)

    med = {case: median(xs) for case, xs in times.items()}
    # The Langfuse runs paired with each pvct case, in order.
    paired: Dict[str, List[float]] = {}
    cursor = {b: 0 for b in BASELINE.values()}
    for r in range(rounds):
        for case, template, _ in CASES:
            b = BASELINE[template]
            paired.setdefault(case, []).append(times[b][cursor[b]])
            cursor[b] += 1
    ratios = {case: sorted(a / b for a, b in zip(times[case], paired[case])) for case, *_ in CASES}
    ratio = {case: median(rs) for case, rs in ratios.items()}

    us = lambda ns: f"{ns / 1000:.2f} µs"  # noqa: E731
    print(f"\nPython SDK (pvct {versions['pvct']['version']}) vs langfuse {versions['langfuse']['version']}, each in its "
          f"own process; Python {platform.python_version()}, {os.cpu_count()} cores; {rounds} rounds of ~{RUN_MS} ms "
          f"runs, each pvct run next to a Langfuse run; 80/20 experiment; pool of {POOL} returning users\n")
    print("| template | pvct measurement | pvct (median) | Langfuse get_prompt + compile (median) | ratio (median of pairs) "
          "| range of pairs | target |")
    print("|---|---|---|---|---|---|---|")
    for case, template, what in CASES:
        target = ""
        if case == "returning":
            target = f"≤ {TARGET:.2f} {'met' if ratio[case] <= TARGET else 'MISSED'}"
        print(f"| {template} | {what} | {us(med[case])} | {us(median(paired[case]))} | {ratio[case]:.3f} | "
              f"{ratios[case][0]:.3f}–{ratios[case][-1]:.3f} | {target} |")
    stats = versions["pvct"]["stats"]
    print(f"\npvct's routing cache held {stats['routing_cache_users']} user keys at the end "
          f"(at most {2 * 10_000} here: 10,000 per experiment, two experiments)")

    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    results: Dict[str, Dict[str, float]] = {
        # The keys bench/results.mjs reads: the headline (returning users, template once).
        "get_route_render": {"pvct_ns": med["returning"], "langfuse_ns": median(paired["returning"]),
                             "ratio": ratio["returning"]},
        "get_cached_route_render": {"pvct_ns": med["cached_returning"], "langfuse_ns": median(paired["cached_returning"]),
                                    "ratio": ratio["cached_returning"]},
        "get_route_render_new_users": {"pvct_ns": med["new"], "langfuse_ns": median(paired["new"]),
                                       "ratio": ratio["new"]},
        "get_route_render_repeated": {"pvct_ns": med["returning_repeated"],
                                      "langfuse_ns": median(paired["returning_repeated"]),
                                      "ratio": ratio["returning_repeated"]},
        "get_route_render_repeated_new_users": {"pvct_ns": med["new_repeated"],
                                                "langfuse_ns": median(paired["new_repeated"]),
                                                "ratio": ratio["new_repeated"]},
        "route": {"pvct_ns": med["route_returning"]},
        "route_new_users": {"pvct_ns": med["route_new"]},
    }
    (out / "python-sdk.json").write_text(json.dumps({
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "python": platform.python_version(),
        "cores": os.cpu_count(), "langfuse": versions["langfuse"]["version"], "pvct": versions["pvct"]["version"],
        "rounds": rounds, "returning_share": RETURNING_SHARE, "pool": POOL, "target_returning_ratio": TARGET,
        "target_met": ratio["returning"] <= TARGET, "rounds_ns": times, "results": results,
    }, indent=2))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--side":
        side_main(sys.argv[2])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
