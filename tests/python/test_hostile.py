"""The SDK against servers that misbehave, on purpose: local stub servers (the
outside world; nothing of ours is replaced) that redirect elsewhere, serve a
gzip bomb, drip one byte at a time, never answer, or rate-limit with
Retry-After. Every test asserts what the SDK did (what the servers received,
the error it raised, what it counted), never how long it took; where a broken
SDK would hang, the test runs it under a generous outer guard (a thread join
or a subprocess timeout) and asserts it finished."""

from __future__ import annotations

import email.utils
import functools
import gzip
import json
import random
import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from pvct import PromptClient, PvctError
from pvct.transport import parse_retry_after

from conftest import until

BUNDLE = {
    "environment": "production",
    "prompts": {
        "p": {
            "slug": "p", "name": "P", "kind": "text", "environment": "production", "version": 1,
            "version_id": "v1", "content": {"text": "Hi {{n}}"}, "model_params": {},
            "variables": {"uses": ["n"], "declares": []}, "content_hash": "h",
            "deployment_id": "d", "deployed_at": "2026-01-01T00:00:00.000Z",
        }
    },
}
BUNDLE_BYTES = json.dumps(BUNDLE).encode()
GUARD = 60.0  # seconds: an outer bound for what would hang without the fix, never an assertion on speed


# --- stub servers ---------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: Dict[str, str]
    body: bytes
    at: float


Answer = Tuple[int, Dict[str, str], bytes]


class Stub:
    """An HTTP server (optionally TLS) that records every request and answers with ``respond``."""

    def __init__(self, respond: Callable[[Seen], Answer], tls: Optional[ssl.SSLContext] = None) -> None:
        self.requests: List[Seen] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_any(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                            self.rfile.read(n) if n else b"", time.monotonic())
                stub.requests.append(seen)
                status, headers, payload = respond(seen)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "content-length" not in {k.lower() for k in headers}:
                    self.send_header("content-length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client stopped reading: what these tests want of it

            do_GET = do_POST = handle_any  # noqa: N815 - http.server's names

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RawServer:
    """A TCP server that hands each connection to ``handle(conn, stop)`` in a thread."""

    def __init__(self, handle: Callable[[socket.socket, threading.Event], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.received = bytearray()
        self.connections = 0
        threading.Thread(target=self._accept, args=(handle,), daemon=True).start()

    def _accept(self, handle: Callable[[socket.socket, threading.Event], None]) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1

            def run(c: socket.socket = conn) -> None:
                try:
                    handle(c, self.stop)
                except OSError:
                    pass  # the client went away
                finally:
                    c.close()

            threading.Thread(target=run, daemon=True).start()

    def read_request(self, conn: socket.socket) -> bytes:
        """Reads up to the end of the request headers (and records what came)."""
        conn.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        self.received += data
        return data

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def servers() -> Iterator[List[Any]]:
    """Servers a test starts, closed after it."""
    started: List[Any] = []
    yield started
    for s in started:
        s.close()


def start(servers: List[Any], server: Any) -> Any:
    servers.append(server)
    return server


def client_for(url: str, **options: Any) -> PromptClient:
    options.setdefault("timeout", 5)
    options.setdefault("on_error", lambda e: None)
    return PromptClient("pvct_secret_key", base_url=url, **options)


def bundle_answer(seen: Seen) -> Answer:
    return 200, {"content-type": "application/json", "etag": '"b1"'}, BUNDLE_BYTES


def in_thread(fn: Callable[[], Any]) -> Tuple[bool, Any]:
    """Runs ``fn`` in a thread under the GUARD: (finished, what it returned or raised)."""
    out: List[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(GUARD)
    return (not t.is_alive()), (out[0] if out else None)


# --- redirects -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_never_carries_the_api_key(servers: List[Any], status: int) -> None:
    elsewhere = start(servers, Stub(bundle_answer))  # would serve a good bundle, if anyone came
    origin = start(servers, Stub(lambda seen: (status, {"location": elsewhere.url + seen.path}, b"")))
    client = client_for(origin.url)
    try:
        with pytest.raises(PvctError) as e:
            client.get("p", variables={"n": "x"})
        assert e.value.code == "redirect"
        assert e.value.details == {"status": status, "location": elsewhere.url + "/v1/bundle?environment=production"}
        assert [r.headers["authorization"] for r in origin.requests] == ["Bearer pvct_secret_key"]
        assert elsewhere.requests == [], "nothing, so no API key, reached the other origin"

        # Telemetry too: the batch is refused and counted, never re-sent elsewhere.
        client.log(prompt_version_id="v1", latency_ms=1)
        client.flush()
        assert client.stats()["rejected"] == 1
        assert elsewhere.requests == []
        assert [r.method for r in origin.requests] == ["GET", "POST"]
    finally:
        client.close()


def test_a_same_origin_redirect_is_not_followed_either(servers: List[Any]) -> None:
    origin = start(servers, Stub(lambda seen: (302, {"location": "/moved" + seen.path}, b"")
                                 if not seen.path.startswith("/moved") else bundle_answer(seen)))
    client = client_for(origin.url)
    try:
        with pytest.raises(PvctError) as e:
            client.get("p", variables={"n": "x"})
        assert e.value.code == "redirect" and e.value.details["location"] == "/moved/v1/bundle?environment=production"
        assert [r.path for r in origin.requests] == ["/v1/bundle?environment=production"]
    finally:
        client.close()


@functools.lru_cache(maxsize=None)
def self_signed(tmp: str) -> Tuple[str, str]:
    """A certificate for 127.0.0.1 made by the openssl command line (the stdlib cannot make one)."""
    cert, key = str(Path(tmp) / "cert.pem"), str(Path(tmp) / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_an_https_to_http_redirect_is_not_followed(servers: List[Any], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = self_signed(str(tmp_path))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", cert)  # the client's default context trusts it

    # First, that TLS works at all (the deadline wraps TLS sockets too), gzip included.
    good = start(servers, Stub(lambda seen: (200, {"content-encoding": "gzip"}, gzip.compress(BUNDLE_BYTES)), tls))
    with client_for(good.url) as client:
        assert client.get("p", variables={"n": "TLS"}).text == "Hi TLS"
    assert good.requests[0].headers["accept-encoding"] == "gzip"

    plain = start(servers, Stub(bundle_answer))
    secure = start(servers, Stub(lambda seen: (302, {"location": plain.url + seen.path}, b""), tls))
    client = client_for(secure.url)
    try:
        with pytest.raises(PvctError) as e:
            client.get("p", variables={"n": "x"})
        assert e.value.code == "redirect" and e.value.details["location"].startswith("http://127.0.0.1:")
        assert [r.headers["authorization"] for r in secure.requests] == ["Bearer pvct_secret_key"]
        assert plain.requests == [], "the key never went out in clear text"
    finally:
        client.close()


# --- response size -----------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def gzip_bomb(megabytes: int = 200) -> bytes:
    """gzip of ``megabytes`` MB of zeros, made a megabyte at a time (about 200 KB for 200 MB)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    parts = [squeeze.compress(zeros) for _ in range(megabytes)]
    parts.append(squeeze.flush())
    return b"".join(parts)


def test_a_gzip_bomb_is_a_clear_error_in_bounded_memory(servers: List[Any]) -> None:
    bomb = gzip_bomb()
    assert len(bomb) < 1024 * 1024
    stub = start(servers, Stub(lambda seen: (200, {"content-encoding": "gzip", "content-type": "application/json"},
                                             bomb)))
    client = client_for(stub.url)  # the default cap: 32 MiB
    tracemalloc.start()
    try:
        with pytest.raises(PvctError) as e:
            client.get("p")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        client.close()
    assert e.value.code == "response_too_large" and e.value.details == {"limit": 32 * 1024 * 1024}
    # 200 MB would have been decompressed without the cap; with it, about the cap (plus a chunk).
    assert peak < 80 * 1024 * 1024, f"peak {peak} bytes"

    small = client_for(stub.url, max_response_bytes=1024 * 1024)
    try:
        with pytest.raises(PvctError) as e:
            small.get("p")
        assert e.value.code == "response_too_large" and e.value.details == {"limit": 1024 * 1024}
    finally:
        small.close()


def test_a_body_past_the_cap_is_refused_with_or_without_a_length(servers: List[Any]) -> None:
    # A length past the cap is refused before reading.
    claims = start(servers, Stub(lambda seen: (200, {"content-length": str(10**10)}, b"{}")))
    # No length at all: the body streams until the cap, then the client stops reading.
    def endless(conn: socket.socket, stop: threading.Event) -> None:
        raw.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n")
        chunk = b"x" * 65536
        for _ in range(2000):  # 128 MB at most
            if stop.is_set():
                return
            conn.sendall(chunk)

    raw = start(servers, RawServer(endless))
    # A gzip body whose compressed size alone is past the cap.
    noise = random.Random(1).randbytes(3 * 1024 * 1024)  # incompressible: its gzip is as large
    packed = start(servers, Stub(lambda seen: (200, {"content-encoding": "gzip"}, gzip.compress(noise, 1))))
    for url in (claims.url, raw.url, packed.url):
        client = client_for(url, max_response_bytes=512 * 1024)
        try:
            finished, outcome = in_thread(lambda: client.get("p"))
            assert finished
            assert isinstance(outcome, PvctError) and outcome.code == "response_too_large", (url, outcome)
        finally:
            client.close()


def test_a_bundle_under_the_cap_still_loads_gzipped_or_not(servers: List[Any]) -> None:
    two_members = gzip.compress(BUNDLE_BYTES[:50]) + gzip.compress(BUNDLE_BYTES[50:])
    for headers, payload in [({}, BUNDLE_BYTES), ({"content-encoding": "gzip"}, gzip.compress(BUNDLE_BYTES)),
                             ({"content-encoding": "gzip"}, two_members)]:
        stub = start(servers, Stub(lambda seen, h=headers, p=payload: (200, h, p)))
        with client_for(stub.url, max_response_bytes=len(BUNDLE_BYTES)) as client:
            assert client.get("p", variables={"n": "Ada"}).text == "Hi Ada"
    # Corrupt or cut-short gzip is no answer (network), not a crash.
    for payload in [gzip.compress(BUNDLE_BYTES)[:-9], b"\x1f\x8bnot gzip at all"]:
        stub = start(servers, Stub(lambda seen, p=payload: (200, {"content-encoding": "gzip"}, p)))
        with client_for(stub.url) as client:
            with pytest.raises(PvctError) as e:
                client.get("p")
            assert e.value.code == "network"


# --- one deadline per request -------------------------------------------------------------


def drip_headers(server: RawServer) -> Callable[[socket.socket, threading.Event], None]:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nx-drip: ")
        while not stop.is_set():
            conn.sendall(b"a")  # one byte every 50 ms, forever: each read waits far less than any timeout
            time.sleep(0.05)
    return handle


def drip_body(server: RawServer) -> Callable[[socket.socket, threading.Event], None]:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n")
        while not stop.is_set():
            conn.sendall(b" ")
            time.sleep(0.05)
    return handle


@pytest.mark.parametrize("drip", [drip_headers, drip_body], ids=["headers", "body"])
def test_a_slow_drip_cannot_hold_a_cold_get_past_its_timeout(servers: List[Any], drip: Any) -> None:
    server = start(servers, RawServer(lambda conn, stop: drip(server)(conn, stop)))
    client = client_for(server.url, timeout=1.0)
    try:
        finished, outcome = in_thread(lambda: client.get("p"))
        assert finished, "the get was still waiting on the drip"
        assert isinstance(outcome, PvctError), outcome
        assert outcome.code == "network" and outcome.details == {"reason": "timeout"}
        assert b"GET /v1/bundle" in server.received
    finally:
        client.close()


def never_answers(server: RawServer) -> Callable[[socket.socket, threading.Event], None]:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(0.2)
        while not stop.is_set():
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                return
            server.received += chunk
    return handle


@pytest.mark.parametrize("batch", [1000, 100], ids=["exit-flush-sends", "sender-thread-mid-request"])
def test_the_exit_flush_ends_against_a_server_that_never_answers(servers: List[Any], batch: int) -> None:
    server = start(servers, RawServer(lambda conn, stop: never_answers(server)(conn, stop)))
    # timeout=300: without the exit deadline, one request alone would outlast the guard.
    script = textwrap.dedent(f"""
        import atexit, json, time
        state = {{}}
        # Registered before pvct is imported, so it runs after pvct's exit flush.
        atexit.register(lambda: print(json.dumps(state["client"].stats()), flush=True))
        from pvct import PromptClient
        client = PromptClient("pvct_x", base_url={server.url!r}, timeout=300, exit_timeout=1.0,
                              max_batch_size={batch}, flush_interval=3600, on_error=lambda e: None)
        state["client"] = client
        for i in range(500):
            client.log(prompt_version_id="v1", latency_ms=i)
        if {batch} == 100:
            for _ in range(1000):  # until the sender thread has taken its first batch (bounded)
                if client.stats()["buffered"] <= 400:
                    break
                time.sleep(0.01)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=GUARD)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    assert b"POST /v1/executions" in server.received, "the flush did try"
    assert stats["sent"] == 0 and stats["buffered"] == 0
    if batch == 1000:
        # The exit flush sent the one batch, which got no answer by the deadline: dropped and counted.
        assert stats["dropped"] == 500 and stats["failed_batches"] == 1
    else:
        # The sender thread took the first 100 and is still waiting; the exit flush could
        # not send past it by the deadline and dropped (and counted) the other 400.
        assert stats["dropped"] == 400


# --- Retry-After ----------------------------------------------------------------------------


class RateLimited:
    """POST /v1/executions: the first answer is ``status`` with Retry-After; later ones 202.
    Counts requests that came before the time it allowed."""

    def __init__(self, status: int, wait: int, header: bool = True) -> None:
        self.status = status
        self.wait = wait
        self.header = header
        self.allowed_at = 0.0
        self.early = 0
        self.records: List[Any] = []
        self.limited = False
        self.lock = threading.Lock()

    def __call__(self, seen: Seen) -> Answer:
        with self.lock:
            if seen.at < self.allowed_at:
                self.early += 1
            if not self.limited:
                self.limited = True
                self.allowed_at = time.monotonic() + self.wait
                body = {"error": {"code": "rate_limited", "message": "this API key sent too many requests",
                                  "details": {"retry_after_seconds": self.wait}}}
                headers = {"content-type": "application/json"}
                if self.header:
                    headers["retry-after"] = str(self.wait)
                return self.status, headers, json.dumps(body).encode()
            self.records += json.loads(seen.body).get("executions", [])
            return 202, {"content-type": "application/json"}, b'{"accepted":1}'


@pytest.mark.parametrize("status,header", [(429, True), (503, True), (429, False)],
                         ids=["429", "503", "429-details-only"])
def test_the_flusher_waits_as_long_as_retry_after_says(servers: List[Any], status: int, header: bool) -> None:
    limiter = RateLimited(status, wait=2, header=header)
    stub = start(servers, Stub(limiter))
    errors: List[PvctError] = []
    client = client_for(stub.url, flush_interval=0.05, max_batch_size=10, on_error=errors.append)
    try:
        for i in range(30):
            client.log(prompt_version_id="v1", latency_ms=i)
        until(lambda: limiter.limited, "the first batch was sent")
        until(lambda: any(isinstance(e.details, dict) and e.details.get("retry_after") == 2 for e in errors),
              "the wait was heard")
        client.flush()  # during the wait: sends nothing, returns, keeps the records
        for i in range(30, 40):
            client.log(prompt_version_id="v1", latency_ms=i)
        until(lambda: len(limiter.records) == 40, "every record arrived after the wait", tries=400)
        assert limiter.early == 0, "nothing was sent before the server allowed it"
        # The server has the records before the client has read its answer.
        until(lambda: client.stats()["sent"] == 40, "the client counted the last batch sent")
        stats = client.stats()
        assert stats["sent"] == 40 and stats["dropped"] == 0 and stats["failed_batches"] == 0
        assert sorted(r["latency_ms"] for r in limiter.records) == [float(i) for i in range(40)]
    finally:
        client.close()


def test_close_waits_for_a_short_retry_after_and_drops_past_exit_timeout(servers: List[Any]) -> None:
    short = RateLimited(429, wait=1)
    stub = start(servers, Stub(short))
    client = client_for(stub.url, flush_interval=3600, max_batch_size=1000, exit_timeout=10)
    for i in range(5):
        client.log(prompt_version_id="v1", latency_ms=i)
    client.close()  # 429, wait a second (within exit_timeout), send
    assert short.early == 0 and len(short.records) == 5
    assert client.stats()["sent"] == 5

    long = RateLimited(429, wait=600)
    stub = start(servers, Stub(long))
    client = client_for(stub.url, flush_interval=3600, max_batch_size=1000, exit_timeout=0.5)
    for i in range(5):
        client.log(prompt_version_id="v1", latency_ms=i)
    finished, _ = in_thread(client.close)
    assert finished
    assert long.early == 0 and long.records == []
    assert client.stats()["dropped"] == 5 and client.stats()["buffered"] == 0


def test_retry_after_zero_is_not_a_busy_loop(servers: List[Any]) -> None:
    stub = start(servers, Stub(lambda seen: (429, {"retry-after": "0"},
                                             b'{"error":{"code":"rate_limited","message":"no"}}')))
    client = client_for(stub.url, flush_interval=3600, max_batch_size=1000, exit_timeout=0)
    for i in range(5):
        client.log(prompt_version_id="v1", latency_ms=i)
    finished, _ = in_thread(client.flush)
    assert finished, "flush kept re-sending"
    assert len(stub.requests) == 1
    assert client.stats()["buffered"] == 5, "kept for later, not dropped"
    client.close()  # exit_timeout=0: no waiting; dropped and counted
    assert client.stats()["dropped"] == 5 and len(stub.requests) == 1


def test_a_rate_limited_revalidation_waits_as_asked(servers: List[Any]) -> None:
    def respond(seen: Seen) -> Answer:
        if len(stub.requests) == 1:
            return bundle_answer(seen)
        return 429, {"retry-after": "3600", "content-type": "application/json"}, \
            b'{"error":{"code":"rate_limited","message":"slow down"}}'

    stub = start(servers, Stub(respond))
    errors: List[PvctError] = []
    # ttl 0: every get revalidates; live=False: only revalidations reach the stub (no long poll).
    client = client_for(stub.url, cache_ttl=0, live=False, on_error=errors.append)
    try:
        assert client.get("p", variables={"n": "a"}).text == "Hi a"
        client.get("p", variables={"n": "a"})
        until(lambda: any(e.code == "rate_limited" for e in errors), "the 429 was heard")
        for _ in range(50):
            assert client.get("p", variables={"n": "a"}).text == "Hi a"  # stale, served
        time.sleep(0.2)  # let any background revalidation the gets started reach the stub
        assert len(stub.requests) == 2, "no revalidation before the Retry-After"
    finally:
        client.close()

    # A cold start answered 429 raises the API's error, with the wait.
    cold = start(servers, Stub(lambda seen: (429, {"retry-after": "7"},
                                             b'{"error":{"code":"rate_limited","message":"slow down"}}')))
    client = client_for(cold.url)
    try:
        with pytest.raises(PvctError) as e:
            client.get("p")
        assert e.value.code == "rate_limited" and e.value.details == {"status": 429, "retry_after": 7.0}
    finally:
        client.close()


def test_retry_after_reads_seconds_and_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("99999999") == 3600.0, "at most an hour"
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    wait = parse_retry_after(in_a_minute)
    assert wait is not None and 0 < wait <= 60
    assert parse_retry_after(email.utils.formatdate(time.time() - 60, usegmt=True)) == 0.0
    for bad in [None, "", "soon", "-5", "1.5e3", "Mon, 99 Foo 2026"]:
        assert parse_retry_after(bad) is None, bad
