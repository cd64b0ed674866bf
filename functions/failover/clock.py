"""The one place the steps read the time, so the offline emulator can run them in virtual time."""

from collections.abc import Callable
from datetime import UTC, datetime


def _wall_clock() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _wall_clock


def now() -> datetime:
    return _source()


def use(source: Callable[[], datetime] | None) -> None:
    """Replace the time source (``None`` restores the wall clock)."""
    global _source
    _source = source or _wall_clock
