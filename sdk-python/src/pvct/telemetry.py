"""Execution logs and feedback: buffered, batched, bounded, and sent from a
background thread, so a caller's ``log`` costs a dict and a ``json.dumps``.

As in the npm SDK (sdk-wasm/js/client.mjs):

* a batch is at most ``max_batch_size`` records (at most 1,000, the API's
  limit) and about 400 KB of JSON (the API refuses bodies over 512 KB); a
  413 anyway splits the batch in halves;
* the buffer holds at most ``max_buffer_size`` records: past that the oldest
  is dropped and counted, so an outage never grows memory without bound;
* network errors, 429 and 5xx are retried ``max_retries`` times with
  exponential backoff and jitter; other 4xx are not (they will not get
  better) and count as rejected;
* nothing here ever raises into the caller: problems go to ``report``
  (the client's ``on_error``) and to the counters.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from .errors import PvctError
from .transport import Response

__all__ = ["Telemetry", "MAX_BATCH_BYTES"]

#: Bytes of records per POST /v1/executions, under the API's 512 KB limit.
MAX_BATCH_BYTES = 400 * 1024
_API_MAX_BATCH = 1000

# A buffered record: (kind, its JSON, its size in bytes). The JSON is
# written once at log time (ensure_ascii, so characters are bytes) and
# joined into batches as it is.
_Item = Tuple[str, str, int]

Request = Callable[[str, str, bytes], Response]


class Telemetry:
    def __init__(
        self,
        request: Request,
        report: Callable[[BaseException], None],
        *,
        flush_interval: float,
        max_batch_size: int,
        max_buffer_size: int,
        max_retries: int,
    ) -> None:
        self._request = request
        self._report = report
        self.flush_interval = flush_interval
        self.max_batch_size = max(1, min(int(max_batch_size), _API_MAX_BATCH))
        self.max_buffer_size = max(1, int(max_buffer_size))
        self.max_retries = max(0, int(max_retries))
        self.counters: Dict[str, int] = {
            "sent": 0, "feedback_sent": 0, "dropped": 0, "rejected": 0, "failed_batches": 0,
        }
        self._init_threading()
        self.closed = False
        #: Set at interpreter exit: send what is buffered once, without retries.
        self.exiting = False

    def _init_threading(self) -> None:
        self._buffer: Deque[_Item] = deque()
        self._cond = threading.Condition(threading.Lock())
        # One sender at a time: a flush during a send waits for it, then sends the rest.
        self._send_lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._flush_now = False

    def after_fork(self) -> None:
        """In a forked child: fresh locks and no sender thread (it did not
        survive the fork); the parent sends what it had buffered."""
        self._init_threading()

    # --- the caller's side ----------------------------------------------------

    def enqueue(self, kind: str, record: Dict[str, Any]) -> None:
        # allow_nan=False: NaN would make the whole batch invalid JSON.
        text = json.dumps(record, separators=(",", ":"), allow_nan=False)
        with self._cond:
            if self.closed:
                self.counters["dropped"] += 1
                return
            if len(self._buffer) >= self.max_buffer_size:
                # Bounded memory: the oldest record goes, and is counted.
                self._buffer.popleft()
                self.counters["dropped"] += 1
            self._buffer.append((kind, text, len(text)))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pvct-telemetry", daemon=True)
                self._thread.start()
            if len(self._buffer) >= self.max_batch_size:
                self._cond.notify()

    def buffered(self) -> int:
        return len(self._buffer)

    def flush(self) -> None:
        """Sends everything buffered, in this thread; returns when done. Never raises."""
        try:
            self._drain()
        except Exception as e:  # pragma: no cover - _drain reports its own failures
            self._report(e)

    def close(self) -> None:
        """Flushes, then stops the sender; later records are dropped and counted."""
        self.flush()
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        # Anything logged between the flush and closing is still sent.
        self.flush()

    # --- the sender thread ----------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._buffer and not self.closed:
                    self._cond.wait()
                if self.closed:
                    return
                # Batch by size or by time, whichever comes first.
                deadline = time.monotonic() + self.flush_interval
                while len(self._buffer) < self.max_batch_size and not self.closed:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
            try:
                self._drain()
            except Exception as e:  # pragma: no cover - never let the thread die
                self._report(e)

    def _take(self) -> List[_Item]:
        with self._cond:
            batch: List[_Item] = []
            size = 0
            while self._buffer and len(batch) < self.max_batch_size:
                item = self._buffer[0]
                size += item[2]
                if batch and size > MAX_BATCH_BYTES:
                    break
                batch.append(self._buffer.popleft())
            return batch

    def _drain(self) -> None:
        with self._send_lock:
            while True:
                batch = self._take()
                if not batch:
                    return
                executions = [text for kind, text, _ in batch if kind == "execution"]
                if executions:
                    self._send_executions(executions)
                for kind, text, _ in batch:
                    if kind == "feedback":
                        self._send("/v1/feedback", text.encode(), 1, "feedback_sent")

    def _send_executions(self, texts: List[str]) -> None:
        body = ('{"executions":[' + ",".join(texts) + "]}").encode()
        status = self._send("/v1/executions", body, len(texts), "sent", splittable=True)
        if status == 413 and len(texts) > 1:
            # Too large after all: each half on its own.
            half = (len(texts) + 1) // 2
            self._send_executions(texts[:half])
            self._send_executions(texts[half:])

    def _send(self, path: str, body: bytes, count: int, counter: str, splittable: bool = False) -> int:
        """Sends with retries; returns the final status (0: no answer)."""
        attempt = 0
        while True:
            try:
                res = self._request("POST", path, body)
                if res.status < 300:
                    rejected = 0
                    try:
                        answer = json.loads(res.text) if res.text else {}
                        rejected = len(answer.get("rejected") or []) if isinstance(answer, dict) else 0
                    except ValueError:
                        pass  # an empty or non-JSON 2xx: all accepted
                    with self._cond:
                        self.counters[counter] += count - rejected
                        self.counters["rejected"] += rejected
                    if rejected:
                        self._report(PvctError("invalid_field", f"{rejected} execution records were rejected",
                                               answer.get("rejected")))
                    return res.status
                if res.status == 413 and splittable and count > 1:
                    return 413
                if res.status < 500 and res.status != 429:
                    # A client error will not get better by retrying.
                    with self._cond:
                        self.counters["rejected"] += count
                    self._report(PvctError("http_error", f"{path} answered {res.status}", {"status": res.status}))
                    return res.status
                raise PvctError("server_error", f"{path} answered {res.status}", {"status": res.status})
            except (OSError, PvctError, ValueError) as e:
                if attempt >= self.max_retries or self.closed or self.exiting:
                    with self._cond:
                        self.counters["failed_batches"] += 1
                        self.counters["dropped"] += count
                    self._report(e if isinstance(e, PvctError) else PvctError("network", f"{path}: {e}"))
                    return 0
                time.sleep(min(2.0, 0.1 * 2**attempt) * (0.5 + random.random()))
                attempt += 1
