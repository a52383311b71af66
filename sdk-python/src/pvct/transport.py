"""One HTTP exchange with the worker, on the standard library (urllib), so
the SDK has no runtime dependencies. Every exchange is bounded by a timeout
(per socket operation, as urllib applies it) and answers with the status,
the ETag and the body; HTTP error statuses are answers, not exceptions."""

from __future__ import annotations

import email.message
import gzip
import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Dict, Mapping, Optional

from . import __version__

__all__ = ["Response", "Transport"]

USER_AGENT = f"pvct-python/{__version__}"


@dataclass(frozen=True)
class Response:
    status: int
    etag: Optional[str]
    text: str


class Transport:
    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"authorization": f"Bearer {api_key}", "user-agent": USER_AGENT}
        self.timeout = timeout

    def request(
        self, method: str, path: str, body: Optional[bytes] = None, headers: Optional[Mapping[str, str]] = None
    ) -> Response:
        """Raises OSError (urllib's URLError, timeouts, resets) when no answer came."""
        all_headers: Dict[str, str] = dict(self._headers)
        all_headers["accept-encoding"] = "gzip"
        if body is not None:
            all_headers["content-type"] = "application/json"
        if headers:
            all_headers.update(headers)
        req = urllib.request.Request(self.base_url + path, data=body, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                return _answer(res.status, res.headers, res.read())
        except urllib.error.HTTPError as e:
            # 304 and every 4xx/5xx arrive here; they are answers too.
            try:
                data = e.read()
            finally:
                e.close()
            return _answer(e.code, e.headers, data)
        except http.client.HTTPException as e:
            # A broken answer (cut short, bad status line) is no answer.
            raise OSError(f"{type(e).__name__}: {e}") from None


def _answer(status: int, headers: email.message.Message, data: bytes) -> Response:
    if data and (headers.get("content-encoding") or "").lower() == "gzip":
        data = gzip.decompress(data)
    return Response(status, headers.get("etag"), data.decode("utf-8", "replace"))
