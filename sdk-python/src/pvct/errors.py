"""The one exception type of the SDK, with the API's stable codes."""

from __future__ import annotations

from typing import Any

__all__ = ["PvctError"]


class PvctError(Exception):
    """An error with the stable machine code the API and the core use.

    Codes a caller meets: ``not_deployed`` (no version of the prompt is live
    in the environment), ``missing_variables`` / ``unknown_variables`` (with
    ``details["missing"]`` and ``details["unknown"]``), ``invalid_field``
    (bad history, a variable that is not a JSON value, a bad log record),
    ``network`` (a cold start with the worker unreachable and no fallback),
    ``not_loaded`` (``get_cached`` before the first bundle arrived),
    ``invalid_options``; the worker's own codes pass through unchanged.
    ``on_error`` may also hear of live updates refused (``details["live"]``
    is True), with the API's (or a proxy's) code, ``http_error``, or
    ``live_unsupported`` (a long poll answered at once: a server or proxy
    that does not hold requests).
    """

    code: str
    message: str
    details: Any

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"PvctError({self.code!r}, {self.message!r})"

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def copy(self) -> PvctError:
        """A fresh error with the same code, for raising in another thread."""
        return PvctError(self.code, self.message, self.details)
