"""Give the memory a drained burst held back to the system.

CPython hands large freed blocks to glibc's malloc, which keeps them in its heap for reuse:
after a burst of queued requests the process stays at its peak size although the objects are
gone. ``malloc_trim`` returns those free pages. A no-op where the C library has no such call.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

# A quiet moment after the last answer: one trim per burst, not one per request.
TRIM_AFTER_SECONDS = 1.0

_pending: asyncio.TimerHandle | None = None
_trim = None


def _malloc_trim():  # noqa: ANN202
    global _trim
    if _trim is None:
        try:
            _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
            _trim = False
    return _trim


def _run() -> None:
    global _pending
    _pending = None
    trim = _malloc_trim()
    if trim:
        trim(0)


def release_heap() -> None:
    """Trim the C heap once things have been quiet for TRIM_AFTER_SECONDS (a later call postpones it)."""
    global _pending
    if _pending is not None:
        _pending.cancel()
    _pending = asyncio.get_running_loop().call_later(TRIM_AFTER_SECONDS, _run)
