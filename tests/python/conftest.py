"""Fixtures for the Python SDK tests: the real worker in workerd (started by
tests/python/worker.mjs through the e2e harness), a small JSON client for
its API, and the shared vectors. The SDK under test is the installed
package (scripts/test-python.sh pip-installs ./sdk-python), not the source
tree."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"


def load_vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


class Worker:
    """One worker process (node + workerd) with its own fresh state."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", str(ROOT / "tests" / "python" / "worker.mjs")],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"the worker did not start: {err[-2000:]}")
        info = json.loads(line)
        self.url: str = info["url"]
        self.admin_key: str = info["adminKey"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()

    def api(self, key: Optional[str] = None) -> "Api":
        return Api(self.url, key or self.admin_key)

    def restart(self, timeout: float = 60) -> None:
        """Restarts the worker on the same port and state (SIGUSR1 to
        worker.mjs): open connections drop, as in a deploy. Returns once it
        serves again (worker.mjs prints {"restarted": true})."""
        stdout = self.proc.stdout
        assert stdout is not None
        outcome: List[str] = []

        def read() -> None:
            for line in stdout:
                try:
                    said = json.loads(line)
                except ValueError:
                    continue  # the runtime's own output (logs) shares stdout
                if isinstance(said, dict) and said.get("restarted"):
                    outcome.append("restarted")
                    return
            outcome.append("exited")

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        self.proc.send_signal(signal.SIGUSR1)
        reader.join(timeout)
        if outcome != ["restarted"]:
            raise RuntimeError(f"the worker did not restart: {outcome or 'no answer in time'}")


class Api:
    """A tiny JSON client: every call answers (status, body, headers)."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key

    def call(self, method: str, path: str, body: Any = None, headers: Optional[Dict[str, str]] = None) -> Tuple[int, Any, Dict[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        h = {"authorization": f"Bearer {self.key}", **(headers or {})}
        if data is not None:
            h["content-type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                status, raw, hdrs = res.status, res.read(), dict(res.headers)
        except urllib.error.HTTPError as e:
            status, raw, hdrs = e.code, e.read(), dict(e.headers)
        text = raw.decode()
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return status, parsed, {k.lower(): v for k, v in hdrs.items()}

    def get(self, path: str, headers: Optional[Dict[str, str]] = None) -> Tuple[int, Any, Dict[str, str]]:
        return self.call("GET", path, None, headers)

    def post(self, path: str, body: Any) -> Tuple[int, Any, Dict[str, str]]:
        return self.call("POST", path, body)

    def put(self, path: str, body: Any) -> Tuple[int, Any, Dict[str, str]]:
        return self.call("PUT", path, body)

    def ok(self, method: str, path: str, body: Any = None, expect: Tuple[int, ...] = (200, 201)) -> Any:
        status, parsed, _ = self.call(method, path, body)
        assert status in expect, f"{method} {path}: {status} {parsed}"
        return parsed


_counter = itertools.count(1)


class Workspace:
    def __init__(self, worker: Worker) -> None:
        body = worker.api().ok("POST", "/v1/workspaces", {"name": f"py-{os.getpid()}-{next(_counter)}"}, (201,))
        self.key: str = body["api_key"]["key"]
        self.url = worker.url
        self.api = Api(worker.url, self.key)

    def prompt(self, slug: str, contents: List[Any], kind: str = "text", deploy: Optional[int] = None,
               variables: Optional[List[Any]] = None) -> str:
        """Creates a prompt, commits each content in order, optionally promotes one to production."""
        self.api.ok("POST", "/v1/prompts", {"slug": slug, "name": slug, "kind": kind}, (201,))
        parent = None
        for content in contents:
            body: Dict[str, Any] = {"content": content, "parent_version": parent, "message": "v"}
            if variables is not None:
                body["variables"] = variables
            res = self.api.ok("POST", f"/v1/prompts/{slug}/versions", body, (201,))
            parent = res["version"]["number"]
        if deploy is not None:
            self.promote(slug, deploy)
        return slug

    def promote(self, slug: str, version: int, environment: str = "production") -> None:
        self.api.ok("POST", f"/v1/prompts/{slug}/promote", {"version": version, "environment": environment}, (200, 201))

    def bundle(self, environment: str = "production") -> Any:
        return self.api.ok("GET", f"/v1/bundle?environment={environment}")

    def metrics_when(self, slug: str, done: Callable[[List[Any]], bool], environment: str = "production") -> Any:
        """Polls a prompt's metrics until ``done(items)`` (queue delivery is asynchronous)."""
        for _ in range(300):
            body = self.api.ok("GET", f"/v1/prompts/{slug}/metrics?environment={environment}")
            if done(body["items"]):
                return body
            time.sleep(0.1)
        raise AssertionError(f"the queue did not deliver in time: {body}")


@pytest.fixture(scope="session")
def worker() -> Iterator[Worker]:
    w = Worker()
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture
def workspace(worker: Worker) -> Workspace:
    return Workspace(worker)


@pytest.fixture
def spare_worker() -> Iterator[Worker]:
    """A worker of its own, for tests that stop it."""
    w = Worker()
    try:
        yield w
    finally:
        w.stop()


def until(check: Callable[[], bool], what: str, tries: int = 200, every: float = 0.05) -> None:
    """Waits for a background effect (bounded); the tests assert outcomes, never durations."""
    for _ in range(tries):
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"never happened: {what}")
