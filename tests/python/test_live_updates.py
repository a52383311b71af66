"""Live updates in the installed package, against the real worker in workerd:
a subscribed client sees a change (here a rollback) long before its cache
TTL, reconnects after the worker restarts (as in a deploy), falls back to
the TTL when something in between refuses the long poll, and sends no long
poll with ``live=False``.

The only stand-in is a tiny HTTP proxy in front of the worker (the outside
world: it forwards everything, records what passed, and can refuse held
requests as a corporate proxy might). The tests assert outcomes, reached
within generous bounds, never durations."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, List, Set

from pvct import PromptClient, PvctError

from conftest import Worker, Workspace, until

#: A cache TTL no test waits for: whatever a client sees sooner came over the live channel.
LONG_TTL = 600.0
#: until() bounds: 40 s, far more than any of these needs, far less than LONG_TTL.
TRIES, EVERY = 400, 0.1

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
               "transfer-encoding", "upgrade", "host", "content-length"}


class Proxy:
    """Forwards every request to the worker and records its path; with
    ``refuse_wait`` it answers requests holding ``wait=`` with a 403 itself."""

    def __init__(self, upstream: str, refuse_wait: bool = False) -> None:
        self.paths: List[str] = []
        target = urllib.parse.urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def forward(self) -> None:
                proxy.paths.append(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                if refuse_wait and "wait=" in self.path:
                    payload = b'{"error":{"code":"forbidden","message":"held requests are not allowed here"}}'
                    self.answer(403, [("content-type", "application/json")], payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                try:
                    conn.request(self.command, self.path, body, headers)
                    res = conn.getresponse()
                    payload = res.read()
                    kept = [(k, v) for k, v in res.getheaders() if k.lower() not in _HOP_BY_HOP]
                finally:
                    conn.close()
                self.answer(res.status, kept, payload)

            def answer(self, status: int, headers: List[Any], payload: bytes) -> None:
                try:
                    self.send_response(status)
                    for k, v in headers:
                        self.send_header(k, v)
                    if status != 304:
                        self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    if status != 304:
                        self.wfile.write(payload)
                except OSError:
                    pass  # the client went away (a closed client cuts its held poll)

            do_GET = do_POST = forward  # noqa: N815 - http.server's names

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def long_polls(self) -> List[str]:
        return [p for p in list(self.paths) if "wait=" in p]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def two_versions(ws: Workspace, slug: str) -> None:
    """``slug`` with versions One and Two, version 2 serving production (after version 1)."""
    ws.prompt(slug, [{"text": "One {{x}}"}, {"text": "Two {{x}}"}], deploy=1)
    ws.promote(slug, 2)


def rollback(ws: Workspace, slug: str) -> None:
    ws.api.ok("POST", f"/v1/prompts/{slug}/rollback", {"environment": "production"})


def live_threads() -> Set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("pvct-live-")}


def test_a_subscribed_client_sees_a_rollback_long_before_its_ttl(workspace: Workspace) -> None:
    two_versions(workspace, "tone")
    before = live_threads()
    client = PromptClient(workspace.key, base_url=workspace.url, cache_ttl=LONG_TTL)
    try:
        assert client.stats()["live"]["state"] == "connecting", "on by default"
        assert client.get("tone", variables={"x": "a"}).text == "Two a"
        until(lambda: client.stats()["live"]["state"] == "open", "the live channel opens", TRIES, EVERY)
        seq = client.stats()["live"]["last_seq"]
        assert isinstance(seq, int)

        rollback(workspace, "tone")
        until(lambda: client.get("tone", variables={"x": "a"}).text == "One a", "the rollback arrives", TRIES, EVERY)
        stats = client.stats()
        live = stats["live"]
        assert (live["state"], live["transport"], live["changes"]) == ("open", "long-poll", 1)
        assert live["last_seq"] > seq, "the answer named the rollback's release sequence"
        assert live["environments"]["production"]["changes"] == 1
        assert (stats["bundle_fetches"], stats["not_modified"]) == (1, 0), "no TTL revalidation brought it"
        mine = live_threads() - before
        assert len(mine) == 1, "one thread for the one environment served"
    finally:
        client.close()
    # close() stops the thread, its held poll cut off.
    until(lambda: not any(t.is_alive() for t in mine), "the live thread ends after close")
    assert client.stats()["live"]["state"] == "off" and client.stats()["live"]["transport"] is None
    assert client.get("tone", variables={"x": "b"}).text == "One b", "a closed client still serves what it has"


def test_live_updates_reconnect_after_the_worker_restarts(worker: Worker, workspace: Workspace) -> None:
    workspace.prompt("deploy", [{"text": "Old {{x}}"}, {"text": "New {{x}}"}], deploy=1)
    with PromptClient(workspace.key, base_url=workspace.url, cache_ttl=LONG_TTL) as client:
        assert client.get("deploy", variables={"x": "a"}).text == "Old a"
        until(lambda: client.stats()["live"]["state"] == "open", "the live channel opens", TRIES, EVERY)

        worker.restart()  # the held poll drops, as in a deploy
        until(lambda: client.stats()["live"]["reconnects"] >= 1, "the client reconnects", TRIES, EVERY)
        until(lambda: client.stats()["live"]["state"] == "open", "the channel is open again", TRIES, EVERY)
        assert client.get("deploy", variables={"x": "a"}).text == "Old a", "served all along"

        workspace.promote("deploy", 2)
        until(lambda: client.get("deploy", variables={"x": "a"}).text == "New a", "the change after the restart arrives",
              TRIES, EVERY)
        stats = client.stats()
        assert stats["live"]["changes"] == 1
        assert stats["bundle_fetches"] == 1, "no TTL revalidation brought it"


def test_a_refused_live_channel_falls_back_to_the_ttl(workspace: Workspace) -> None:
    two_versions(workspace, "guarded")
    proxy = Proxy(workspace.url, refuse_wait=True)
    errors: List[PvctError] = []
    client = PromptClient(workspace.key, base_url=proxy.url, cache_ttl=0.5, on_error=errors.append)
    try:
        assert client.get("guarded", variables={"x": "a"}).text == "Two a"
        until(lambda: client.stats()["live"]["state"] == "down", "the refused channel is down", TRIES, EVERY)

        rollback(workspace, "guarded")
        until(lambda: client.get("guarded", variables={"x": "a"}).text == "One a", "the TTL revalidation converges",
              TRIES, EVERY)
        until(lambda: client.stats()["live"]["state"] == "down", "still down (retrying rarely)", TRIES, EVERY)
        stats = client.stats()
        assert stats["live"]["changes"] == 0, "nothing came over the refused channel"
        assert stats["bundle_fetches"] >= 2, "the TTL revalidation brought the rollback"
        assert proxy.long_polls(), "the long poll was tried"
        refusals = [e for e in errors if isinstance(e.details, dict) and e.details.get("live")]
        assert len(refusals) == 1, f"the refusal is reported once, not per retry: {errors}"
        assert (refusals[0].code, refusals[0].details["status"]) == ("forbidden", 403)
    finally:
        client.close()
        proxy.close()


def test_live_false_sends_no_long_polls(workspace: Workspace) -> None:
    workspace.prompt("quiet", [{"text": "Hush {{x}}"}], deploy=1)
    proxy = Proxy(workspace.url)
    try:
        # Live (the default), through the same proxy: it long-polls at once.
        with PromptClient(workspace.key, base_url=proxy.url) as on:
            on.get("quiet", variables={"x": "a"})
            until(lambda: bool(proxy.long_polls()), "a live client long-polls", TRIES, EVERY)
        polls = len(proxy.long_polls())
        fetches = len(proxy.paths) - polls

        with PromptClient(workspace.key, base_url=proxy.url, cache_ttl=0.1, live=False) as off:

            def revalidated() -> bool:
                assert off.get("quiet", variables={"x": "a"}).text == "Hush a"
                return off.stats()["bundle_fetches"] >= 4

            # TTL revalidations pass through the proxy (a live client would have polled by then).
            until(revalidated, "the TTL revalidates", TRIES, EVERY)
            assert off.stats()["live"] == {
                "state": "off", "transport": None, "last_seq": None, "changes": 0, "reconnects": 0, "environments": {},
            }
        assert len(proxy.long_polls()) == polls, "live=False sent no long poll"
        assert len(proxy.paths) - len(proxy.long_polls()) >= fetches + 3, "its fetches went through the proxy"
    finally:
        proxy.close()


def test_stats_live_is_json_and_reports_per_environment(workspace: Workspace) -> None:
    workspace.prompt("both", [{"text": "Hey {{x}}"}], deploy=1)
    workspace.promote("both", 1, environment="staging")
    with PromptClient(workspace.key, base_url=workspace.url, cache_ttl=LONG_TTL) as client:
        client.get("both", variables={"x": "a"})
        client.get("both", variables={"x": "a"}, environment="staging")
        until(lambda: client.stats()["live"]["state"] == "open", "both channels open", TRIES, EVERY)
        live = json.loads(json.dumps(client.stats()["live"]))
        assert set(live["environments"]) == {"production", "staging"}
        assert all(e["state"] == "open" for e in live["environments"].values())


def test_a_client_of_some_prompts_fetches_and_follows_only_those(workspace: Workspace) -> None:
    for slug in ("mine", "theirs"):
        two_versions(workspace, slug)
    proxy = Proxy(workspace.url)
    try:
        with PromptClient(workspace.key, base_url=proxy.url, cache_ttl=LONG_TTL, prompts=["mine"]) as client:
            assert client.get("mine", variables={"x": "a"}).text == "Two a"
            assert all("prompts=mine" in p for p in proxy.paths if p.startswith("/v1/bundle")), proxy.paths
            try:
                client.get("theirs", variables={"x": "a"})
                raise AssertionError("a prompt the client did not ask for is not in its bundle")
            except PvctError as e:
                assert e.code == "not_deployed"
            # Its long poll follows its own prompts.
            rollback(workspace, "mine")
            until(lambda: client.get("mine", variables={"x": "a"}).text == "One a", "the rollback arrives", TRIES, EVERY)
    finally:
        proxy.close()
