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
* a 429 or 503 that says when to come back (``Retry-After``, or the API's
  ``details.retry_after_seconds``) is obeyed: the batch goes back to the
  front of the buffer and nothing is sent before that time (at least a
  second, at most an hour), by the sender thread or by ``flush``, which returns at once
  leaving the records buffered. ``close`` waits for that time if it comes
  within ``exit_timeout``, else drops what is left (counted);
* the flush at interpreter exit is bounded: everything, sending and waiting,
  ends ``exit_timeout`` seconds after it starts, even against a server that
  never answers; what could not be sent by then is dropped and counted;
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
from .transport import Response, parse_retry_after

__all__ = ["Telemetry", "MAX_BATCH_BYTES"]

#: Bytes of records per POST /v1/executions, under the API's 512 KB limit.
MAX_BATCH_BYTES = 400 * 1024
_API_MAX_BATCH = 1000

# A buffered record: (kind, its JSON, its size in bytes). The JSON is
# written once at log time (ensure_ascii, so characters are bytes) and
# joined into batches as it is.
_Item = Tuple[str, str, int]

#: (method, path, body, deadline) -> the answer; deadline is a time.monotonic() value or None.
Request = Callable[[str, str, bytes, Optional[float]], Response]

#: _send's status for a batch the server asked to send later (it goes back in the buffer).
_DEFERRED = -1
#: The shortest wait a Retry-After imposes.
_MIN_DEFER = 1.0


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
        exit_timeout: float = 2.0,
    ) -> None:
        self._request = request
        self._report = report
        self.flush_interval = flush_interval
        self.max_batch_size = max(1, min(int(max_batch_size), _API_MAX_BATCH))
        self.max_buffer_size = max(1, int(max_buffer_size))
        self.max_retries = max(0, int(max_retries))
        self.exit_timeout = max(0.0, float(exit_timeout))
        #: No request before this time.monotonic(): what the last Retry-After asked.
        self.not_before = 0.0
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
        """Sends everything buffered, in this thread; returns when done. Never
        raises. While the API asks to wait (Retry-After), returns at once and
        the records stay buffered for the sender thread."""
        try:
            self._drain()
        except Exception as e:  # pragma: no cover - _drain reports its own failures
            self._report(e)

    def close(self) -> None:
        """Flushes, then stops the sender; later records are dropped and counted.
        Waits for a Retry-After that ends within ``exit_timeout``; what the API
        would not take by then is dropped and counted."""
        wait_until = time.monotonic() + self.exit_timeout
        self._finish(None, wait_until)
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        # Anything logged between the flush and closing is still sent.
        self._finish(None, wait_until)

    def flush_at_exit(self, started: Optional[float] = None) -> None:
        """The flush at interpreter exit: sends what it can within
        ``exit_timeout`` seconds of ``started`` (now by default; requests,
        retries and waits included), drops and counts the rest. Never
        raises, never hangs."""
        self.exiting = True
        deadline = (time.monotonic() if started is None else started) + self.exit_timeout
        self._finish(deadline, deadline)

    def _finish(self, deadline: Optional[float], wait_until: float) -> None:
        try:
            self._drain(deadline, wait_until)
        except Exception as e:  # pragma: no cover - _drain reports its own failures
            self._report(e)
        if self._buffer:
            self._drop_all(
                "the API asked to wait longer than exit_timeout" if time.monotonic() < self.not_before
                else "exit_timeout passed before they could be sent"
            )

    def _drop_all(self, why: str) -> None:
        with self._cond:
            count = len(self._buffer)
            self._buffer.clear()
            self.counters["dropped"] += count
        if count:
            self._report(PvctError("network", f"{count} telemetry records dropped: {why}", {"dropped": count}))

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
                # Nothing before the time the API asked for (Retry-After).
                while not self.closed:
                    remaining = self.not_before - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                if self.closed:
                    return
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

    def _put_back(self, items: List[_Item]) -> None:
        """Returns deferred records to the front of the buffer, still bounded:
        past max_buffer_size the oldest go (counted)."""
        with self._cond:
            self._buffer.extendleft(reversed(items))
            while len(self._buffer) > self.max_buffer_size:
                self._buffer.popleft()
                self.counters["dropped"] += 1

    def _drain(self, deadline: Optional[float] = None, wait_until: Optional[float] = None) -> None:
        """Sends batches until the buffer is empty. Before each one, if the API
        asked to wait: waits when that ends by ``wait_until``, else stops
        (the records stay buffered). ``deadline`` bounds everything (exit),
        waiting for a send in progress included."""
        if deadline is None:
            self._send_lock.acquire()
        elif not self._send_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return  # the sender thread is mid-request past the deadline: the caller drops the rest
        try:
            while True:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    return
                if now < self.not_before:
                    if wait_until is None or self.not_before > wait_until:
                        return
                    time.sleep(self.not_before - now)
                batch = self._take()
                if not batch:
                    return
                deferred: List[_Item] = []
                executions = [item for item in batch if item[0] == "execution"]
                if executions:
                    deferred += self._send_executions(executions, deadline)
                for item in batch:
                    if item[0] != "feedback":
                        continue
                    if deferred or time.monotonic() < self.not_before:
                        deferred.append(item)
                    else:
                        status = self._send("/v1/feedback", item[1].encode(), 1, "feedback_sent", deadline=deadline)
                        if status == _DEFERRED:
                            deferred.append(item)
                if deferred:
                    self._put_back(deferred)
        finally:
            self._send_lock.release()

    def _send_executions(self, items: List[_Item], deadline: Optional[float]) -> List[_Item]:
        """Sends one batch; returns the records the server asked to send later."""
        body = ('{"executions":[' + ",".join(text for _, text, _ in items) + "]}").encode()
        status = self._send("/v1/executions", body, len(items), "sent", splittable=True, deadline=deadline)
        if status == _DEFERRED:
            return items
        if status == 413 and len(items) > 1:
            # Too large after all: each half on its own.
            half = (len(items) + 1) // 2
            deferred = self._send_executions(items[:half], deadline)
            if deferred or time.monotonic() < self.not_before:
                return deferred + items[half:]
            return self._send_executions(items[half:], deadline)
        return []

    def _asked_to_wait(self, res: Response) -> Optional[float]:
        """Seconds a 429 or 503 asks to wait: Retry-After, else the API's details.retry_after_seconds."""
        if res.status not in (429, 503):
            return None
        if res.retry_after is not None:
            return res.retry_after
        try:
            details = json.loads(res.text)["error"]["details"]
            return parse_retry_after(str(int(details["retry_after_seconds"])))
        except (ValueError, TypeError, KeyError, IndexError):
            return None

    def _send(
        self,
        path: str,
        body: bytes,
        count: int,
        counter: str,
        splittable: bool = False,
        deadline: Optional[float] = None,
    ) -> int:
        """Sends with retries; returns the final status (0: no answer; _DEFERRED:
        the server asked to send later, and not_before says when)."""
        attempt = 0
        while True:
            try:
                res = self._request("POST", path, body, deadline)
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
                wait = self._asked_to_wait(res)
                if wait is not None:
                    # At least a second: "Retry-After: 0" on every answer must not become a busy loop.
                    wait = max(wait, _MIN_DEFER)
                    self.not_before = max(self.not_before, time.monotonic() + wait)
                    self._report(PvctError(
                        "rate_limited" if res.status == 429 else "server_error",
                        f"{path} answered {res.status}; nothing is sent for {wait:g} s, as it asked",
                        {"status": res.status, "retry_after": wait},
                    ))
                    return _DEFERRED
                if res.status == 413 and splittable and count > 1:
                    return 413
                if 300 <= res.status < 400:
                    # Never followed: the API key goes to base_url only.
                    with self._cond:
                        self.counters["rejected"] += count
                    self._report(PvctError(
                        "redirect", f"{path} answered {res.status} to {res.location}; redirects are not followed",
                        {"status": res.status, "location": res.location},
                    ))
                    return res.status
                if res.status < 500 and res.status != 429:
                    # A client error will not get better by retrying. The API's code
                    # and details pass through (e.g. invalid_field with details["field"]).
                    with self._cond:
                        self.counters["rejected"] += count
                    self._report(_refusal(path, res))
                    return res.status
                raise PvctError("server_error", f"{path} answered {res.status}", {"status": res.status})
            except (OSError, PvctError, ValueError) as e:
                backoff = min(2.0, 0.1 * 2**attempt) * (0.5 + random.random())
                out_of_time = deadline is not None and time.monotonic() + backoff >= deadline
                if attempt >= self.max_retries or self.closed or self.exiting or out_of_time:
                    with self._cond:
                        self.counters["failed_batches"] += 1
                        self.counters["dropped"] += count
                    self._report(e if isinstance(e, PvctError) else PvctError("network", f"{path}: {e}"))
                    return 0
                time.sleep(backoff)
                attempt += 1


def _refusal(path: str, res: Response) -> PvctError:
    """The error a 4xx answer reports: the API's code, message and details, with the status."""
    error: Any = None
    try:
        error = json.loads(res.text).get("error")
    except (ValueError, AttributeError):
        pass  # not JSON: only the status is known
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), str) else "http_error"
    message = error.get("message")
    details = error.get("details")
    return PvctError(
        code,
        f"{path} answered {res.status}" + (f": {message}" if isinstance(message, str) else ""),
        {**(details if isinstance(details, dict) else {}), "status": res.status},
    )
