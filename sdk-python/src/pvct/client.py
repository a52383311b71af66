"""The PromptVault client: one bundle per environment fetched with ETag
revalidation, routing and rendering in-process, and buffered, batched
execution logging. It behaves as the npm SDK's client (sdk-wasm/js/client.mjs):

* the first ``get`` of an environment fetches ``GET /v1/bundle`` (every prompt
  of it); concurrent first calls share that one request;
* after ``cache_ttl`` seconds a ``get`` serves what it has at once and
  revalidates in a background thread with ``If-None-Match`` (a 304 only
  renews the TTL): stale-while-revalidate;
* a failed revalidation keeps the last good bundle serving (stale-if-error)
  and is retried at most every 5 seconds; a cold start with the worker
  unreachable serves ``fallback``, and raises ``network`` only without one;
* a prompt missing from a bundle older than a second revalidates once (one
  shared request) before ``get`` raises ``not_deployed``, so a prompt
  promoted a moment ago is found without waiting for the TTL;
* live updates (``live=True``, the default): once an environment's bundle is
  loaded, a daemon thread long-polls ``GET /v1/bundle?wait=25`` with its
  ETag (the standard library has no WebSocket), and the worker answers the
  moment the environment changes (a promotion, a rollback, an experiment).
  The answer is adopted as a revalidation's is, in that thread, so a change
  never blocks ``get``. A dropped poll (a deploy, the network) reconnects
  with exponential backoff and jitter (0.5 s doubling to 30 s), a refusal
  (4xx, e.g. a proxy blocking held requests) waits longer (up to 5
  minutes); meanwhile the TTL revalidation above goes on as without it;
* telemetry never raises: see :mod:`pvct.telemetry`.
"""

from __future__ import annotations

import atexit
import copy
import json
import logging
import os
import random
import threading
import time
import urllib.parse
import uuid
import weakref
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .bundle import PreparedBundle, VersionInfo
from .errors import PvctError
from .render import Message
from .routing import CACHE_USERS
from .telemetry import Telemetry
from .transport import MAX_RESPONSE_BYTES, Cancel, DeadlineExceeded, Response, Transport

__all__ = ["PromptClient", "Prompt", "DEFAULT_BASE_URL"]

DEFAULT_BASE_URL = "http://127.0.0.1:8787"
#: A failed revalidation is retried after at most this long, not on every call.
_RETRY_AFTER = 5.0
#: A prompt missing from a bundle at least this old triggers one revalidation.
_MISSING_RECHECK = 1.0
#: The API keeps this many characters of output and reference, and of error text.
_MAX_TEXT_CHARS = 8192
_MAX_ERROR_CHARS = 2000
#: Executions whose version and environment a client remembers (those it
#: logged most recently), so that feedback on them needs only their id.
_REMEMBERED_EXECUTIONS = 10_000
#: A long poll is held this many seconds (the API allows 1 to 30) ...
_LIVE_WAIT = 25
#: ... and given up this much longer than it is held (a dead connection).
_LIVE_GRACE = 10.0
#: After connecting, the first poll is held this long: its answer shows the channel works.
_LIVE_PROBE_WAIT = 1
#: Reconnecting waits this long at first, doubling to the cap, with ±50 % jitter ...
_LIVE_BACKOFF = (0.5, 30.0)
#: ... and after a refusal (a 4xx or 3xx answer, or a poll that is not held) this long.
_LIVE_REFUSED_BACKOFF = (5.0, 300.0)
#: A poll answered sooner than this with nothing new was not held (a server
#: or proxy that does not hold requests): a refusal, not a loop.
_LIVE_MIN_HELD = 5.0

_log = logging.getLogger("pvct")
_KEEP: Any = object()

Fallback = Union[Mapping[str, Any], str, "os.PathLike[str]"]


class _State:
    """One environment's bundle: where it came from, its ETag, and until when it is fresh."""

    __slots__ = ("bundle", "etag", "source", "fresh_until", "loaded_at")

    def __init__(self, bundle: PreparedBundle, etag: Optional[str], source: str) -> None:
        self.bundle = bundle
        self.etag = etag
        self.source = source
        self.fresh_until = 0.0
        self.loaded_at = time.monotonic()

    def fresh_for(self, seconds: float) -> None:
        # A ttl of 0 is never fresh: every call revalidates (in the background).
        self.fresh_until = time.monotonic() + seconds if seconds > 0 else 0.0


class _Flight:
    """One bundle request that concurrent callers share."""

    __slots__ = ("done", "state", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.state: Optional[_State] = None
        self.error: Optional[PvctError] = None


class _LiveChannel:
    """Live updates of one environment: a daemon thread looping the long poll
    ``GET /v1/bundle?environment=E&wait=25`` with the bundle's ETag, each
    answer adopted by the client as a revalidation's. It holds its client
    weakly, so a client nobody references can still be collected (its
    channels stop then)."""

    def __init__(self, client: "PromptClient", environment: str) -> None:
        self.environment = environment
        self._client: "weakref.ref[PromptClient]" = weakref.ref(client)
        self._transport = client._transport
        self._path = client._bundle_path(environment)
        self._stop = threading.Event()
        self._cancel: Optional[Cancel] = None
        self._state = "connecting"
        #: The release sequence of the last answer (``x-pvct-seq``).
        self.last_seq: Optional[int] = None
        #: Bundles the channel brought in (changes seen before the TTL would have).
        self.changes = 0
        #: Attempts after a failed one.
        self.reconnects = 0
        self.thread = threading.Thread(target=self._run, name=f"pvct-live-{environment}", daemon=True)

    @property
    def state(self) -> str:
        """"connecting", "open", "down", or "off" once stopped."""
        return "off" if self._stop.is_set() else self._state

    def stats(self) -> Dict[str, Any]:
        return {"state": self.state, "last_seq": self.last_seq, "changes": self.changes, "reconnects": self.reconnects}

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Stops the thread: at once when it waits to reconnect, and a held
        poll is cut off (its socket shut down)."""
        self._stop.set()
        cancel = self._cancel
        if cancel is not None:
            cancel.cancel()

    def join(self, timeout: float) -> None:
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout)

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as e:  # noqa: BLE001 - never expected; the TTL revalidation carries on
            self._state = "down"
            _log.warning("pvct: live updates of %s stopped: %r", self.environment, e)

    def _loop(self) -> None:
        failures = 0  # attempts that failed since the last good (held) poll
        reported = False  # a refusal of this streak went to on_error
        probe = True  # the first poll after connecting is held briefly
        while not self._stop.is_set():
            client = self._client()
            if client is None:
                return
            current = client._states.get(self.environment)
            del client  # not held while the poll is
            wait = _LIVE_PROBE_WAIT if probe else _LIVE_WAIT
            headers = {"if-none-match": current.etag} if current is not None and current.etag else {}
            cancel = self._cancel = Cancel()
            if self._stop.is_set():
                return
            started = time.monotonic()
            res: Optional[Response] = None
            problem: Optional[PvctError] = None
            try:
                res = self._transport.request(
                    "GET", f"{self._path}&wait={wait}", None, headers, timeout=wait + _LIVE_GRACE, cancel=cancel
                )
            except PvctError as e:
                problem = e
            except (OSError, ValueError) as e:
                problem = PvctError("network", f"the long poll failed: {e}")
            held = time.monotonic() - started
            self._cancel = None
            if self._stop.is_set():
                return
            client = self._client()
            if client is None:
                return
            refused, retry_after = False, None
            if res is not None:
                seen = self.last_seq
                try:
                    changed = client._adopt(self.environment, current, res, live=True)
                except PvctError as e:
                    problem = e
                    refused = 300 <= res.status < 500
                    retry_after = res.retry_after
                except Exception as e:  # noqa: BLE001 - the thread must live on
                    problem = PvctError("internal", f"the long poll's answer could not be taken in: {e}")
                else:
                    if res.seq is not None:
                        self.last_seq = res.seq
                    if changed:
                        self.changes += 1
                    elif not probe and held < _LIVE_MIN_HELD and (res.seq is None or seen is None or res.seq <= seen):
                        refused = True
                        problem = PvctError(
                            "live_unsupported",
                            f"the long poll was answered after {held:.1f} s with nothing new (not held for {wait} s): "
                            "the server does not support live updates, or a proxy does not hold requests",
                            {"status": res.status},
                        )
            if problem is None:
                self._state = "open"
                if not probe:
                    failures, reported = 0, False
                probe = False
                continue
            failures += 1
            probe = True
            self._state = "down"
            if refused and not reported:
                reported = True
                client._report(PvctError(
                    problem.code,
                    f"live updates of {self.environment} refused: {problem.message}; the bundle is revalidated "
                    "every cache_ttl meanwhile, and the long poll retried less often",
                    {**(problem.details if isinstance(problem.details, dict) else {}), "live": True},
                ))
            else:
                _log.debug("pvct: live updates of %s down (retrying): %s", self.environment, problem)
            del client
            if self._stop.wait(_live_backoff(failures, refused, retry_after)):
                return
            self.reconnects += 1
            self._state = "connecting"


def _live_backoff(failures: int, refused: bool, retry_after: Optional[float]) -> float:
    """Seconds before the next attempt: exponential from the first wait to the cap, ±50 % jitter,
    and never sooner than a Retry-After asked."""
    first, cap = _LIVE_REFUSED_BACKOFF if refused else _LIVE_BACKOFF
    delay = min(cap, min(cap, first * 2 ** min(failures - 1, 20)) * random.uniform(0.5, 1.5))
    return max(delay, retry_after) if retry_after is not None else delay


def _stop_channels(channels: Dict[str, _LiveChannel]) -> None:
    for channel in list(channels.values()):
        channel.stop()


class Prompt:
    """A prompt as it serves one caller: the routed version, and its rendering
    when ``get`` was given variables (or the version needs none)."""

    __slots__ = ("_info", "_rendered", "_history", "_strict", "source")

    def __init__(
        self, info: VersionInfo, rendered: Union[str, List[Message], None], history: Any, strict: bool, source: str
    ) -> None:
        self._info = info
        self._rendered = rendered
        self._history = history
        self._strict = strict
        #: Where the bundle came from: "network" (the worker) or "fallback".
        self.source = source

    @property
    def slug(self) -> str:
        """The prompt's slug."""
        return self._info.slug

    @property
    def environment(self) -> str:
        """The environment it serves from."""
        return self._info.environment

    @property
    def kind(self) -> str:
        """"text", "chat" or "snippet"."""
        return self._info.kind

    @property
    def version(self) -> int:
        """The version number serving this caller."""
        return self._info.version

    @property
    def version_id(self) -> str:
        """The id of that version (what log sends)."""
        return self._info.version_id

    @property
    def variant(self) -> Optional[int]:
        """The experiment variant serving this caller, or None for the deployed version."""
        return self._info.variant

    @property
    def experiment_id(self) -> Optional[str]:
        """The running experiment, if any (also for callers it leaves on the deployed version)."""
        return self._info.experiment_id

    @property
    def system(self) -> Optional[str]:
        """The first system message's template (chat)."""
        return self._info.system

    @property
    def user_template(self) -> Optional[str]:
        """The last user message's template (chat), or the text template."""
        return self._info.user_template

    @property
    def required_variables(self) -> Tuple[str, ...]:
        """Variables a caller must pass, sorted."""
        return self._info.required_variables

    @property
    def model_params(self) -> Dict[str, Any]:
        """The version's model parameters (a copy: yours to change)."""
        return copy.deepcopy(dict(self._info.model_params))

    @property
    def text(self) -> Optional[str]:
        """The rendered text (text prompts, when rendered)."""
        r = self._rendered
        return r if isinstance(r, str) else None

    @property
    def messages(self) -> Optional[List[Message]]:
        """The rendered messages (chat prompts, when rendered)."""
        r = self._rendered
        return r if isinstance(r, list) else None

    def render(self, variables: Optional[Mapping[str, Any]] = None, /, **more: Any) -> Union[str, List[Message]]:
        """Renders this version with other variables, given as a mapping and/or
        keywords: the text (text prompts) or the messages (chat), with the
        history and strictness ``get`` was given."""
        given: Mapping[str, Any] = variables or {}
        if more:
            given = {**given, **more}
        return self._info.plan.render(given, self._history, self._strict)

    def render_with(
        self, variables: Optional[Mapping[str, Any]] = None, *, history: Any = _KEEP, strict: Optional[bool] = None
    ) -> Union[str, List[Message]]:
        """As :meth:`render`, with another ``history`` and/or ``strict``."""
        return self._info.plan.render(
            variables or {},
            self._history if history is _KEEP else history,
            self._strict if strict is None else strict,
        )

    def __repr__(self) -> str:
        return (
            f"Prompt(slug={self.slug!r}, environment={self.environment!r}, version={self.version}, "
            f"variant={self.variant}, source={self.source!r})"
        )


class PromptClient:
    """Gets prompts routed and rendered as the edge would, and logs how they did.

    ``api_key`` and ``base_url`` default to the environment variables
    ``PVCT_API_KEY`` and ``PVCT_URL`` (as the ``pvct`` command line reads
    them). Times are in seconds. ``fallback`` is a bundle (as ``GET
    /v1/bundle`` serves it), a mapping of bundles by environment, or the
    path of a JSON file holding either; it serves a cold start while the
    worker is unreachable. ``on_error`` is told about every problem the
    client absorbs (by default they are logged on the ``pvct`` logger).

    ``timeout`` bounds each request as a whole (connecting, sending and
    reading the answer, however slowly a server drips it), and
    ``max_response_bytes`` (32 MiB) the answer after gzip decompression.
    Redirects are never followed (the API key goes to ``base_url`` only):
    a 3xx is a ``redirect`` error naming where it pointed.

    Thread-safe; use one client per process. As a context manager it
    closes (flushes) on exit; buffered logs are also flushed at interpreter
    exit, within ``exit_timeout`` seconds (0: not at all), even if the
    worker never answers. ``routing_cache_size`` is how many user keys'
    buckets are kept per running experiment (0: none; see
    :class:`pvct.routing.BucketCache`).

    ``prompts`` names the only prompts this app uses (at most 100): the
    client then downloads and compiles a bundle of only those, however many
    the environment holds (``GET /v1/bundle?prompts=``).

    ``live`` (default True) keeps each environment it serves up to date
    as soon as it changes (a long poll per environment, in a daemon thread;
    see the module's notes), well before ``cache_ttl``; ``live=False``
    leaves only the TTL revalidation. ``close`` stops it.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        environment: str = "production",
        cache_ttl: float = 60.0,
        fallback: Optional[Fallback] = None,
        on_error: Optional[Callable[[PvctError], Any]] = None,
        timeout: float = 5.0,
        flush_interval: float = 1.0,
        max_batch_size: int = 100,
        max_buffer_size: int = 10_000,
        max_retries: int = 3,
        routing_cache_size: int = CACHE_USERS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        exit_timeout: float = 2.0,
        live: bool = True,
        prompts: Optional[Sequence[str]] = None,
    ) -> None:
        api_key = api_key or os.environ.get("PVCT_API_KEY")
        if not api_key:
            raise PvctError("invalid_options", "PromptClient needs an api_key (or PVCT_API_KEY)")
        self.environment = environment
        self.cache_ttl = float(cache_ttl)
        self._routing_cache_size = max(0, int(routing_cache_size))
        self._fallback = fallback
        self._on_error = on_error
        self._transport = Transport(
            base_url or os.environ.get("PVCT_URL") or DEFAULT_BASE_URL, api_key, timeout, max_response_bytes
        )
        self._init_locks()
        #: Executions this client logged: id -> (prompt_version_id, environment), oldest first.
        self._executions: OrderedDict[str, Tuple[str, str]] = OrderedDict()
        self._states: Dict[str, _State] = {}
        self._counters = {"bundle_fetches": 0, "not_modified": 0, "stale_serves": 0}
        self._live = bool(live)
        #: The only prompts this app uses (``GET /v1/bundle?prompts=``), or None for all.
        self._prompts: Optional[List[str]] = sorted(set(prompts)) if prompts else None
        self._closed = False
        #: Live updates by environment, started once its bundle is loaded.
        self._channels: Dict[str, _LiveChannel] = {}
        # A client nobody references any more stops its channels' threads.
        weakref.finalize(self, _stop_channels, self._channels)
        self._telemetry = Telemetry(
            self._post,
            self._report,
            flush_interval=flush_interval,
            max_batch_size=max_batch_size,
            max_buffer_size=max_buffer_size,
            max_retries=max_retries,
            exit_timeout=exit_timeout,
        )
        _live_clients.add(self)

    def _init_locks(self) -> None:
        self._lock = threading.Lock()
        self._inflight: Dict[str, _Flight] = {}
        self._executions_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    def _bundle_path(self, environment: str) -> str:
        """The bundle's path: the whole environment, or only ``prompts``."""
        path = "/v1/bundle?environment=" + urllib.parse.quote(environment, safe="")
        if self._prompts:
            path += "&prompts=" + urllib.parse.quote(",".join(self._prompts), safe=",")
        return path

    # --- errors -----------------------------------------------------------------

    def _report(self, error: BaseException) -> None:
        e = error if isinstance(error, PvctError) else PvctError("internal", str(error))
        try:
            if self._on_error is not None:
                self._on_error(e)
            else:
                _log.warning("pvct: %s", e)
        except Exception:  # noqa: BLE001 - an on_error that raises must not break the caller either
            pass

    # --- bundles ----------------------------------------------------------------

    def _post(self, method: str, path: str, body: bytes, deadline: Optional[float] = None) -> Response:
        try:
            return self._transport.request(method, path, body, None, deadline)
        except DeadlineExceeded as e:
            raise PvctError("network", f"{path}: {e} (timeout {self._transport.timeout:g} s)",
                            {"reason": "timeout"}) from None

    def _begin(self, environment: str, cold: bool) -> Tuple[Optional[_Flight], bool, Optional[_State]]:
        """The flight loading ``environment`` (an existing one, or a new one
        this caller owns), or for a cold start the state that arrived meanwhile."""
        with self._lock:
            if cold:
                state = self._states.get(environment)
                if state is not None:
                    return None, False, state
            flight = self._inflight.get(environment)
            if flight is not None:
                return flight, False, None
            flight = self._inflight[environment] = _Flight()
            return flight, True, None

    def _fly(self, environment: str, flight: _Flight) -> None:
        try:
            flight.state = self._fetch_bundle(environment)
        except PvctError as e:
            flight.error = e
        except Exception as e:  # noqa: BLE001 - whatever went wrong, waiters must wake
            flight.error = PvctError("internal", f"bundle load failed: {e}")
        if flight.error is not None and environment not in self._states:
            # A cold start that failed: the fallback serves, installed before
            # the flight ends so that every caller, concurrent or later, gets
            # it from this one attempt.
            error = flight.error
            try:
                fallback = self._fallback_state(environment)
            except PvctError as e:
                flight.error, fallback = e, None
            if fallback is not None:
                self._report(error)
                self._retry_soon(fallback, error)
                with self._lock:
                    self._states.setdefault(environment, fallback)
                flight.state = fallback
        with self._lock:
            if self._inflight.get(environment) is flight:
                del self._inflight[environment]
        flight.done.set()
        if flight.state is not None:
            self._subscribe(environment)

    def _subscribe(self, environment: str) -> None:
        """Starts live updates of ``environment`` (once), now that its bundle is loaded."""
        if not self._live or self._closed or environment in self._channels:
            return
        with self._lock:
            if self._closed or environment in self._channels:
                return
            channel = self._channels[environment] = _LiveChannel(self, environment)
        channel.start()

    def _load(self, environment: str, cold: bool = False) -> _Flight:
        """Fetches (or revalidates) an environment's bundle, sharing concurrent
        calls. ``flight.state`` is what to serve (the fallback after a failed
        cold start), ``flight.error`` what went wrong, if anything."""
        flight, owner, state = self._begin(environment, cold)
        if flight is None:
            done = _Flight()
            done.state = state
            return done
        if owner:
            self._fly(environment, flight)
        else:
            flight.done.wait()
        return flight

    def _revalidate_in_background(self, environment: str, state: _State) -> None:
        flight, owner, _ = self._begin(environment, False)
        if not owner or flight is None:
            return

        def run() -> None:
            assert flight is not None
            self._fly(environment, flight)
            if flight.error is not None:
                # Stale-if-error: keep serving, try again soon.
                self._retry_soon(state, flight.error)
                self._report(flight.error)

        threading.Thread(target=run, name="pvct-revalidate", daemon=True).start()

    def _retry_soon(self, state: _State, error: PvctError) -> None:
        # In 5 s (or the TTL if shorter), or as late as a Retry-After asked.
        wait = min(self.cache_ttl, _RETRY_AFTER)
        asked = error.details.get("retry_after") if isinstance(error.details, dict) else None
        state.fresh_for(max(wait, asked) if isinstance(asked, (int, float)) else wait)

    def _fetch_bundle(self, environment: str) -> _State:
        current = self._states.get(environment)
        with self._lock:
            self._counters["bundle_fetches"] += 1
        headers = {"if-none-match": current.etag} if current is not None and current.etag else {}
        try:
            res = self._transport.request(
                "GET", self._bundle_path(environment), None, headers
            )
        except DeadlineExceeded as e:
            raise PvctError(
                "network", f"bundle fetch failed: {e} (timeout {self._transport.timeout:g} s)", {"reason": "timeout"}
            ) from None
        except (OSError, ValueError) as e:
            raise PvctError("network", f"bundle fetch failed: {e}") from None
        self._adopt(environment, current, res)
        state = self._states.get(environment)
        assert state is not None
        return state

    def _adopt(self, environment: str, current: Optional[_State], res: Response, live: bool = False) -> bool:
        """Takes in an answer to a bundle request sent with ``current``'s ETag,
        a fetch's or (``live``) a long poll's alike: a 304 renews ``current``,
        a 200 installs the new bundle, anything else raises the API's error.
        Returns whether what serves changed."""
        if res.status == 304 and current is not None:
            current.fresh_for(self.cache_ttl)
            current.loaded_at = time.monotonic()
            if not live:
                with self._lock:
                    self._counters["not_modified"] += 1
            return False
        if 300 <= res.status < 400 and res.status != 304:
            raise PvctError(
                "redirect",
                f"bundle fetch answered {res.status} to {res.location}: redirects are not followed, so the API key "
                "goes to base_url only; set base_url to the API's address",
                {"status": res.status, "location": res.location},
            )
        if res.status != 200:
            body: Any = None
            try:
                body = json.loads(res.text)
            except ValueError:
                pass  # not JSON: only the status is known
            err = body.get("error") if isinstance(body, dict) else None
            err = err if isinstance(err, dict) else {}
            details: Dict[str, Any] = {"status": res.status}
            if res.retry_after is not None:
                details["retry_after"] = res.retry_after
            raise PvctError(
                err.get("code") or ("server_error" if res.status >= 500 else "http_error"),
                err.get("message") or f"bundle fetch answered {res.status}",
                details,
            )
        latest = self._states.get(environment)
        if live and latest is not None and res.etag and res.etag == latest.etag:
            # What serves already (a fetch brought it meanwhile): renewed.
            latest.fresh_for(self.cache_ttl)
            latest.loaded_at = time.monotonic()
            return False
        if not live and latest is not None and latest is not current:
            # The live channel brought a bundle while this fetch was out: it
            # stands (anything newer than it, the channel brings too).
            return False
        # The routing caches of the bundle this one replaces carry over (by salt).
        previous = latest.bundle if latest is not None else None
        state = _State(PreparedBundle.parse(res.text, previous, self._routing_cache_size), res.etag, "network")
        state.fresh_for(self.cache_ttl)
        self._states[environment] = state
        return True

    def _fallback_state(self, environment: str) -> Optional[_State]:
        fallback = self._fallback
        if fallback is None:
            return None
        if isinstance(fallback, (str, os.PathLike)):
            try:
                with open(fallback, encoding="utf-8") as f:
                    fallback = json.load(f)
            except (OSError, ValueError) as e:
                raise PvctError("invalid_options", f"the fallback file could not be read: {e}") from None
        if not isinstance(fallback, Mapping):
            raise PvctError("invalid_options", "fallback is a bundle, bundles by environment, or a JSON file of either")
        # One bundle, or a mapping of bundles by environment.
        bundle = fallback if "prompts" in fallback else fallback.get(environment)
        if not isinstance(bundle, Mapping) or bundle.get("environment", environment) != environment:
            return None
        return _State(
            PreparedBundle.parse({"environment": environment, **bundle}, None, self._routing_cache_size), None, "fallback"
        )

    def _state(self, environment: str) -> _State:
        """The bundle to serve from: fresh, or stale while it revalidates."""
        state = self._states.get(environment)
        if state is not None:
            if time.monotonic() >= state.fresh_until:
                self._revalidate_in_background(environment, state)
                self._counters["stale_serves"] += 1
            return state
        flight = self._load(environment, cold=True)
        if flight.state is None:
            assert flight.error is not None
            raise flight.error.copy()
        return flight.state

    def _warm_state(self, environment: str) -> _State:
        state = self._states.get(environment)
        if state is None:
            raise PvctError(
                "not_loaded", f"the {environment} bundle is not loaded yet; call client.get or client.refresh first"
            )
        if time.monotonic() >= state.fresh_until:
            self._revalidate_in_background(environment, state)
            self._counters["stale_serves"] += 1
        return state

    # --- serving ----------------------------------------------------------------

    def get(
        self,
        slug: str,
        *,
        user_key: Optional[Union[str, int]] = None,
        variables: Optional[Mapping[str, Any]] = None,
        history: Any = None,
        strict: bool = True,
        environment: Optional[str] = None,
    ) -> Prompt:
        """The prompt as it serves this caller: routed by ``user_key`` exactly as
        the worker's resolve routes (random without one), and rendered when
        ``variables`` are given (or the version needs none). ``history`` fills
        chat placeholders: a list fills ``history``, a mapping fills them by name.

        Blocks only on a cold start (the first bundle fetch, bounded by
        ``timeout``); warm calls do no I/O.
        """
        # The per-call path, written out (no helper calls) for speed: _state and _serve inlined.
        env = environment or self.environment
        state = self._states.get(env)
        if state is None or time.monotonic() >= state.fresh_until:
            state = self._state(env)
        try:
            info = state.bundle.route(slug, user_key if type(user_key) is str else _key(user_key))
        except PvctError as e:
            if (
                e.code != "not_deployed"
                or state.source != "network"
                or time.monotonic() - state.loaded_at < _MISSING_RECHECK
            ):
                raise
            flight = self._load(env)
            if flight.error is not None or flight.state is None:
                raise e from None
            return self._serve(flight.state, slug, user_key, variables, history, strict)
        plan = info.plan
        direct = plan.direct
        if direct is not None and history is None and type(variables) is dict and len(variables) == len(plan.names):
            try:
                return Prompt(info, direct(variables), None, strict, state.source)
            except (KeyError, TypeError):
                pass  # the general path below decides (and names what is wrong)
        rendered: Union[str, List[Message], None] = None
        if variables is not None or not info.required_variables:
            rendered = plan.render(variables or {}, history, strict)
        return Prompt(info, rendered, history, strict, state.source)

    def get_cached(
        self,
        slug: str,
        *,
        user_key: Optional[Union[str, int]] = None,
        variables: Optional[Mapping[str, Any]] = None,
        history: Any = None,
        strict: bool = True,
        environment: Optional[str] = None,
    ) -> Prompt:
        """As :meth:`get`, but never waits for the network (for event loops):
        raises ``not_loaded`` until the environment's bundle is in."""
        state = self._warm_state(environment or self.environment)
        return self._serve(state, slug, user_key, variables, history, strict)

    def route(
        self, slug: str, *, user_key: Optional[Union[str, int]] = None, environment: Optional[str] = None
    ) -> VersionInfo:
        """Which version serves this caller, without rendering."""
        state = self._state(environment or self.environment)
        return state.bundle.route(slug, _key(user_key))

    def _serve(
        self,
        state: _State,
        slug: str,
        user_key: Optional[Union[str, int]],
        variables: Optional[Mapping[str, Any]],
        history: Any,
        strict: bool,
    ) -> Prompt:
        info = state.bundle.route(slug, user_key if type(user_key) is str else _key(user_key))
        rendered: Union[str, List[Message], None] = None
        if variables is not None or not info.required_variables:
            # RenderPlan.render takes the one-call path (plan.direct) when it can.
            rendered = info.plan.render(variables or {}, history, strict)
        return Prompt(info, rendered, history, strict, state.source)

    def refresh(self, environment: Optional[str] = None) -> None:
        """Fetches the bundle now (explicit invalidation). Raises ``network``
        (or the worker's error) when that fails; the old bundle keeps serving."""
        flight = self._load(environment or self.environment)
        if flight.error is not None:
            raise flight.error.copy()

    # --- telemetry --------------------------------------------------------------

    def log(
        self,
        prompt: Optional[Union[Prompt, VersionInfo]] = None,
        *,
        latency_ms: float = 0,
        tokens_in: int = 0,
        tokens_out: int = 0,
        cost_usd: Optional[float] = None,
        score: Optional[float] = None,
        error: Optional[Union[str, BaseException]] = None,
        model: Optional[str] = None,
        output: Optional[str] = None,
        reference: Optional[str] = None,
        prompt_version_id: Optional[str] = None,
        environment: Optional[str] = None,
        variant: Optional[int] = None,
        execution_id: Optional[str] = None,
    ) -> str:
        """Records one execution of ``prompt`` (what ``get`` returned) and
        returns its id at once; it is sent in the background. Never raises:
        a bad record is reported to ``on_error`` and dropped."""
        eid = execution_id or str(uuid.uuid4())
        try:
            record: Dict[str, Any] = {
                "id": eid,
                "prompt_version_id": prompt_version_id or (prompt.version_id if prompt is not None else None),
                "environment": environment or (prompt.environment if prompt is not None else None) or self.environment,
                "latency_ms": float(latency_ms),
                "tokens_in": max(0, int(tokens_in)),
                "tokens_out": max(0, int(tokens_out)),
            }
            if variant is None and prompt is not None:
                variant = prompt.variant
            if variant is not None:
                record["variant"] = variant
            if cost_usd is not None:
                record["cost_usd"] = float(cost_usd)
            if score is not None:
                record["score"] = float(score)
            if error is not None:
                text = (str(error) or type(error).__name__) if isinstance(error, BaseException) else str(error)
                record["error"] = text[:_MAX_ERROR_CHARS]
            if model is not None:
                record["model"] = model
            # The API keeps 8,192 characters of output and reference; sending more only risks the batch.
            if output is not None:
                record["output"] = output[:_MAX_TEXT_CHARS] if isinstance(output, str) else output
            if reference is not None:
                record["reference"] = reference[:_MAX_TEXT_CHARS] if isinstance(reference, str) else reference
            if not record["prompt_version_id"]:
                raise PvctError("invalid_field", "log needs prompt_version_id or the prompt get returned")
            self._telemetry.enqueue("execution", record)
            self._remember(eid, record["prompt_version_id"], record["environment"])
        except Exception as e:  # noqa: BLE001 - never into the caller
            self._report(e if isinstance(e, PvctError) else PvctError("invalid_field", f"log: {e}"))
        return eid

    def _remember(self, execution_id: str, prompt_version_id: str, environment: str) -> None:
        """Keeps a logged execution's attribution for feedback: the most recent _REMEMBERED_EXECUTIONS."""
        known = self._executions
        with self._executions_lock:
            known[execution_id] = (prompt_version_id, environment)
            known.move_to_end(execution_id)  # logged again: now the most recent
            if len(known) > _REMEMBERED_EXECUTIONS:
                known.popitem(last=False)

    def feedback(
        self,
        execution_id: str,
        value: int,
        comment: Optional[str] = None,
        *,
        prompt: Optional[Union[Prompt, VersionInfo]] = None,
        prompt_version_id: Optional[str] = None,
        environment: Optional[str] = None,
    ) -> None:
        """Thumbs up (+1) or down (-1) for an execution. Never raises.

        It counts on the version and environment the execution ran on: those
        this client logged it with (it remembers the 10,000 it logged last),
        or, for an execution logged elsewhere (another process), ``prompt``
        (what ``get`` returned) or ``prompt_version_id`` and ``environment``
        (default: the client's). Named values win over remembered ones.
        Without a version the feedback is not sent: ``on_error`` gets
        ``invalid_field``."""
        try:
            if type(value) is not int or value not in (1, -1):
                raise PvctError("invalid_field", "feedback is +1 or -1")
            with self._executions_lock:
                known = self._executions.get(execution_id)
            version_id = prompt_version_id or (prompt.version_id if prompt is not None else None) or (
                known[0] if known is not None else None)
            env = environment or (prompt.environment if prompt is not None else None) or (
                known[1] if known is not None else None) or self.environment
            if not version_id:
                raise PvctError(
                    "invalid_field",
                    f"feedback on execution {execution_id!r} needs the version it ran: pass the prompt get returned "
                    "(prompt=...), or prompt_version_id and environment, or log the execution through this client "
                    "first (it remembers the 10,000 it logged last)",
                    {"field": "prompt_version_id", "execution_id": execution_id},
                )
            record: Dict[str, Any] = {"execution_id": execution_id, "value": value}
            if comment:
                record["comment"] = comment
            record["prompt_version_id"] = version_id
            record["environment"] = env
            self._telemetry.enqueue("feedback", record)
        except Exception as e:  # noqa: BLE001 - never into the caller
            self._report(e if isinstance(e, PvctError) else PvctError("invalid_field", f"feedback: {e}"))

    def flush(self) -> None:
        """Sends everything buffered; returns when done. Never raises."""
        self._telemetry.flush()

    def close(self) -> None:
        """Stops live updates, flushes and stops; later logs are dropped
        (and counted). ``get`` still serves what was loaded."""
        with self._lock:
            self._closed = True
            channels = list(self._channels.values())
        for channel in channels:
            channel.stop()
        until = time.monotonic() + 1.0
        for channel in channels:
            channel.join(max(0.0, until - time.monotonic()))
        self._telemetry.close()
        _live_clients.discard(self)

    def __enter__(self) -> PromptClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> Dict[str, Any]:
        """Counters: sent, feedback_sent, dropped, rejected, failed_batches,
        buffered, bundle_fetches, not_modified, stale_serves (fetches and
        revalidations; long polls are not counted there); routing_cache_users,
        the user keys whose bucket the routing caches hold now (at most
        ``routing_cache_size`` per running experiment); and ``live``, the live
        updates:

        * ``state``: "off" (``live=False``, or closed), "connecting" (no
          answer yet, or retrying), "open" (polls answered), "down" (the
          last poll failed; waiting to retry, the TTL revalidating meanwhile);
          the worst over the environments served;
        * ``transport``: "long-poll", or None when off;
        * ``last_seq``: the release sequence last heard for the client's
          environment (``x-pvct-seq``), or None;
        * ``changes``: bundles the live channel brought in;
        * ``reconnects``: attempts after a failed one;
        * ``environments``: the same (but transport) per environment served.
        """
        out: Dict[str, Any] = dict(self._telemetry.counters)
        out["buffered"] = self._telemetry.buffered()
        out.update(self._counters)
        out["routing_cache_users"] = sum(s.bundle.cached_users() for s in list(self._states.values()))
        out["live"] = self._live_stats()
        return out

    def _live_stats(self) -> Dict[str, Any]:
        channels = dict(self._channels)
        per = {env: c.stats() for env, c in channels.items()}
        if not self._live or self._closed:
            state = "off"
        elif not per:
            state = "connecting"  # once a bundle is loaded
        else:
            state = max((p["state"] for p in per.values()), key=("off", "open", "connecting", "down").index)
        own = per.get(self.environment)
        return {
            "state": state,
            "transport": None if state == "off" else "long-poll",
            "last_seq": own["last_seq"] if own is not None else None,
            "changes": sum(p["changes"] for p in per.values()),
            "reconnects": sum(p["reconnects"] for p in per.values()),
            "environments": per,
        }

    def _at_exit(self, started: float) -> None:
        self._telemetry.flush_at_exit(started)

    def _after_fork(self) -> None:
        self._init_locks()
        self._telemetry.after_fork()
        # The live threads did not survive the fork: the next get revalidates
        # (in the background), which subscribes the child again.
        self._channels.clear()
        if self._live and not self._closed:
            for state in list(self._states.values()):
                state.fresh_until = 0.0


def _key(user_key: Optional[Union[str, int]]) -> Optional[str]:
    # Keys route as text, as the worker's query parameter: 42 is "42".
    return None if user_key is None else str(user_key)


# Every open client, so interpreter exit flushes their logs and a forked
# child gets fresh locks; weak, so an unreferenced client can be collected.
_live_clients: "weakref.WeakSet[PromptClient]" = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    # One start for all clients: the whole exit flush ends within the largest exit_timeout.
    started = time.monotonic()
    for client in list(_live_clients):
        try:
            client._at_exit(started)
        except Exception:  # noqa: BLE001 - exiting anyway
            pass


if hasattr(os, "register_at_fork"):

    def _after_fork_in_child() -> None:
        for client in list(_live_clients):
            client._after_fork()

    os.register_at_fork(after_in_child=_after_fork_in_child)
