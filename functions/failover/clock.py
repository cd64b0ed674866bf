"""The one place the steps read the time, wait, and learn how long the invocation has left, so the
offline emulator can run them in virtual time."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime


def _wall_clock() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _wall_clock
_sleep: Callable[[float], None] = time.sleep
# Seconds the current invocation has left (``None`` outside a Lambda invocation, e.g. the CLI).
_remaining: Callable[[], float] | None = None


def now() -> datetime:
    return _source()


def sleep(seconds: float) -> None:
    _sleep(seconds)


def remaining_seconds() -> float | None:
    return _remaining() if _remaining is not None else None


def use(source: Callable[[], datetime] | None, sleep: Callable[[float], None] | None = None) -> None:
    """Replace the time source and the sleep (``None`` restores the wall clock and ``time.sleep``)."""
    global _source, _sleep
    _source = source or _wall_clock
    _sleep = sleep or time.sleep


@contextmanager
def deadline(remaining: Callable[[], float]) -> Iterator[None]:
    """Within the block, ``remaining_seconds`` answers ``remaining()`` (the invocation's time left)."""
    global _remaining
    saved, _remaining = _remaining, remaining
    try:
        yield
    finally:
        _remaining = saved
