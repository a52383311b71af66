"""One HTTP exchange with the worker, on the standard library (urllib and
http.client), so the SDK has no runtime dependencies. Every exchange:

* has **one deadline** (``timeout`` seconds from its start, or sooner when
  the caller says so, as the exit flush does): connecting, the TLS
  handshake, sending, the status line, the headers and the body all count
  against it, and every socket read waits only for what remains, so a server
  that drips a byte a second cannot hold a call past it (urllib alone
  applies its timeout to each socket operation, so such a server could hold
  it forever);
* **follows no redirect**: a 3xx is an answer like any other (callers turn
  it into a ``redirect`` error naming the ``Location``). urllib would follow
  it and resend the ``Authorization`` header to wherever it points, another
  host or plain http included. The API never redirects, so a redirect means
  ``base_url`` is not the API's address (or someone on the path wants the
  key); the key goes to ``base_url`` and nowhere else;
* reads at most ``max_response_bytes`` (32 MiB by default) of body, counted
  **after** gzip decompression, which streams (``zlib.decompressobj`` with
  ``max_length``), so a gzip bomb costs at most that much memory and ends in
  a ``response_too_large`` error, never a MemoryError;
* answers the status, the ETag, ``Retry-After``, ``Location``, the release
  sequence (``x-pvct-seq``) and the body as text; HTTP error statuses are
  answers, not exceptions;
* can be abandoned from another thread (a :class:`Cancel`), which shuts
  its socket down so that a read blocked on it (a held long poll) ends at once.

It raises OSError when no answer came (:class:`DeadlineExceeded` when the
deadline passed) and :class:`~pvct.errors.PvctError` ``response_too_large``.
"""

from __future__ import annotations

import email.utils
import functools
import http.client
import io
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from . import __version__
from .errors import PvctError

__all__ = ["Response", "Transport", "Cancel", "DeadlineExceeded", "MAX_RESPONSE_BYTES", "parse_retry_after"]

USER_AGENT = f"pvct-python/{__version__}"
#: The default cap on a response body, after decompression.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
#: A Retry-After longer than this is taken as this (an hour).
MAX_RETRY_AFTER = 3600.0
_CHUNK = 64 * 1024
_GZIP = 16 + zlib.MAX_WBITS


class DeadlineExceeded(socket.timeout):
    """No complete answer within the request's deadline."""


@dataclass(frozen=True)
class Response:
    status: int
    etag: Optional[str]
    text: str
    #: Seconds the server asked to wait (``Retry-After``, seconds or a date), if it did.
    retry_after: Optional[float] = None
    #: Where a redirect pointed (it is never followed).
    location: Optional[str] = None
    #: The environment's release sequence the answer is at (``x-pvct-seq``), if the server said.
    seq: Optional[int] = None


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """``Retry-After`` in seconds (RFC 9110: delay-seconds or an HTTP-date), at
    most an hour; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return min(max(0.0, when.timestamp() - time.time()), MAX_RETRY_AFTER)


def _parse_seq(value: Optional[str]) -> Optional[int]:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


class Cancel:
    """Abandons one exchange from another thread: :meth:`cancel` shuts its
    socket down, so a read blocked on it (a held long poll) ends at once and
    the exchange raises OSError. Cancelled before it connects, it never
    sends anything."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: Optional[socket.socket] = None
        self.cancelled = False

    def attach(self, sock: socket.socket) -> None:
        """Called with the exchange's socket once it is connected."""
        with self._lock:
            self._sock = sock
            cancelled = self.cancelled
        if cancelled:
            _shutdown(sock)
            raise OSError("cancelled")

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            sock = self._sock
        if sock is not None:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        # The plain socket's shutdown, under TLS too (socket.socket's, not
        # SSLSocket's, which would unwrap): it wakes a read blocked in
        # another thread and leaves closing to that thread.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed or never connected


# --- the deadline, on the socket -----------------------------------------------------


class _DeadlineSocket:
    """A connected socket (plain or TLS) whose every read and write waits
    only for what remains of the deadline. http.client reads a response
    through ``makefile``; this one hands out a reader that re-arms the
    socket's timeout before each read, and closes the socket only when the
    connection and its last reader are both done with it (as
    ``socket.makefile`` does)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._readers = 0
        self._closed = False

    def arm(self) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("no complete answer before the deadline")
        self._sock.settimeout(remaining)

    def sendall(self, data: Any, *args: Any) -> None:
        self.arm()
        try:
            self._sock.sendall(data, *args)
        except socket.timeout:
            raise DeadlineExceeded("the request could not be sent before the deadline") from None

    def recv_into(self, buffer: Any) -> int:
        self.arm()
        try:
            return self._sock.recv_into(buffer)
        except socket.timeout:
            raise DeadlineExceeded("no complete answer before the deadline") from None

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        if mode != "rb":
            raise ValueError(f"a deadline socket reads only: {mode!r}")
        self._readers += 1
        return io.BufferedReader(_DeadlineReader(self))

    def reader_closed(self) -> None:
        self._readers -= 1
        if self._closed and self._readers <= 0:
            self._sock.close()

    def close(self) -> None:
        self._closed = True
        if self._readers <= 0:
            self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket) -> None:
        self._dsock: Optional[_DeadlineSocket] = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._dsock is None:
            raise ValueError("read from a closed response")
        return self._dsock.recv_into(buffer)

    def close(self) -> None:
        if self._dsock is not None:
            self._dsock.reader_closed()
            self._dsock = None
        super().close()


class _DeadlineHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, deadline: float, cancel: Optional[Cancel] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline
        self._cancel = cancel

    def connect(self) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("no connection before the deadline")
        self.timeout = remaining
        try:
            super().connect()
        except socket.timeout:
            raise DeadlineExceeded("no connection before the deadline") from None
        if self._cancel is not None:
            self._cancel.attach(self.sock)
        self.sock = _DeadlineSocket(self.sock, self._deadline)


class _DeadlineHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, deadline: float, cancel: Optional[Cancel] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline
        self._cancel = cancel

    def connect(self) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("no connection before the deadline")
        # Connecting, a proxy tunnel and the TLS handshake each wait at most this long.
        self.timeout = remaining
        try:
            super().connect()
        except socket.timeout:
            raise DeadlineExceeded("no connection before the deadline") from None
        if self._cancel is not None:
            self._cancel.attach(self.sock)
        self.sock = _DeadlineSocket(self.sock, self._deadline)


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        factory = functools.partial(
            _DeadlineHTTPConnection, deadline=getattr(req, "pvct_deadline"), cancel=getattr(req, "pvct_cancel", None)
        )
        return self.do_open(factory, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self._pvct_context = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        factory = functools.partial(
            _DeadlineHTTPSConnection, deadline=getattr(req, "pvct_deadline"), cancel=getattr(req, "pvct_cancel", None)
        )
        return self.do_open(factory, req, context=self._pvct_context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Every 3xx comes back as an answer (urllib raises it as an HTTPError)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# --- the exchange ------------------------------------------------------------------


class Transport:
    def __init__(
        self, base_url: str, api_key: str, timeout: float, max_response_bytes: int = MAX_RESPONSE_BYTES
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"authorization": f"Bearer {api_key}", "user-agent": USER_AGENT}
        self.timeout = timeout
        self.max_response_bytes = max(1, int(max_response_bytes))
        self._opener: Optional[urllib.request.OpenerDirector] = None

    def _open(self) -> urllib.request.OpenerDirector:
        if self._opener is None:
            # Proxies from the environment still apply (urllib's ProxyHandler).
            handlers: List[urllib.request.BaseHandler] = [_NoRedirect(), _HTTPHandler()]
            if self.base_url.lower().startswith("https:"):
                # One TLS context per client: loading the CA store per request is slow.
                handlers.append(_HTTPSHandler(ssl.create_default_context()))
            self._opener = urllib.request.build_opener(*handlers)
        return self._opener

    def request(
        self,
        method: str,
        path: str,
        body: Optional[bytes] = None,
        headers: Optional[Mapping[str, str]] = None,
        deadline: Optional[float] = None,
        *,
        timeout: Optional[float] = None,
        cancel: Optional[Cancel] = None,
    ) -> Response:
        """One exchange, finished by ``deadline`` (a ``time.monotonic()`` value)
        or ``timeout`` seconds from now (the transport's own unless given: a
        long poll waits longer), whichever is sooner. Raises OSError
        (DeadlineExceeded, refused connections, resets, broken answers, a
        ``cancel``) when no answer came, PvctError ``response_too_large`` past
        the cap."""
        if cancel is not None and cancel.cancelled:
            raise OSError("cancelled")
        until = time.monotonic() + (self.timeout if timeout is None else timeout)
        if deadline is not None and deadline < until:
            until = deadline
        all_headers: Dict[str, str] = dict(self._headers)
        all_headers["accept-encoding"] = "gzip"
        if body is not None:
            all_headers["content-type"] = "application/json"
        if headers:
            all_headers.update(headers)
        req = urllib.request.Request(self.base_url + path, data=body, method=method, headers=all_headers)
        req.pvct_deadline = until  # type: ignore[attr-defined]
        req.pvct_cancel = cancel  # type: ignore[attr-defined]
        remaining = until - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("no time left for the request")
        try:
            try:
                res = self._open().open(req, timeout=remaining)
            except urllib.error.HTTPError as e:
                # 3xx, 304 and every 4xx/5xx arrive here; they are answers too.
                try:
                    return self._answer(e.code, e.headers, e)
                finally:
                    e.close()
            with res:
                return self._answer(res.status, res.headers, res)
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, DeadlineExceeded):
                raise reason from None
            if isinstance(reason, socket.timeout):
                raise DeadlineExceeded(f"no connection before the deadline: {reason}") from None
            raise OSError(f"{reason}") from None
        except http.client.HTTPException as e:
            # A broken answer (cut short, bad status line) is no answer.
            raise OSError(f"{type(e).__name__}: {e}") from None

    def _answer(self, status: int, headers: Any, res: Any) -> Response:
        data = read_capped(res, headers, self.max_response_bytes)
        return Response(
            status,
            headers.get("etag"),
            data.decode("utf-8", "replace"),
            parse_retry_after(headers.get("retry-after")),
            headers.get("location"),
            _parse_seq(headers.get("x-pvct-seq")),
        )


def _too_large(limit: int) -> PvctError:
    return PvctError(
        "response_too_large",
        f"the answer is larger than max_response_bytes ({limit} bytes, after decompression); not read further",
        {"limit": limit},
    )


def read_capped(res: Any, headers: Any, limit: int) -> bytearray:
    """The body of ``res`` (anything with ``read(n)``), gunzipped as it streams
    in when ``Content-Encoding`` says gzip; PvctError ``response_too_large``
    as soon as it passes ``limit`` bytes (before decompression too: a
    compressed body is never much larger than what it holds)."""
    raw_limit = limit + limit // 64 + _CHUNK
    length = headers.get("content-length")
    if length and length.strip().isdigit() and int(length) > raw_limit:
        raise _too_large(limit)
    gzipped = (headers.get("content-encoding") or "").strip().lower() == "gzip"
    inflate = zlib.decompressobj(_GZIP) if gzipped else None
    out = bytearray()
    raw = 0
    try:
        while True:
            chunk = res.read(_CHUNK)
            if not chunk:
                break
            raw += len(chunk)
            if raw > raw_limit:
                raise _too_large(limit)
            if inflate is None:
                out += chunk
                if len(out) > limit:
                    raise _too_large(limit)
                continue
            data = chunk
            while data:
                if inflate.eof:
                    # Another gzip member (RFC 1952 allows several), or trailing garbage.
                    head = bytes(data[:2])
                    if head != b"\x1f\x8b"[: len(head)]:
                        raise OSError("trailing data after the gzip body")
                    inflate = zlib.decompressobj(_GZIP)
                # Never more than one byte past the limit, however much the input expands.
                out += inflate.decompress(data, limit + 1 - len(out))
                if len(out) > limit:
                    raise _too_large(limit)
                data = inflate.unused_data if inflate.eof else inflate.unconsumed_tail
    except zlib.error as e:
        raise OSError(f"the gzip body is corrupt: {e}") from None
    if inflate is not None and raw and not inflate.eof:
        raise OSError("the gzip body is cut short")
    return out
