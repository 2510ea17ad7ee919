"""Rows that cannot be rendered: left out of the answer, logged once, counted.

The edges refuse what the renderer cannot write (feeds/limits.py), but a row written by an
older release, by hand or by a future bug must still never take a calendar down for every
subscriber: whatever shows stored events (a feed, a CalDAV collection, a list, a page) renders
each row through ``each_rendered`` and serves the others.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TypeVar

log = logging.getLogger("calserver.poison")

R = TypeVar("R")
T = TypeVar("T")

_MAX_REMEMBERED = 10_000
_lock = threading.Lock()
_logged: set[tuple[object, ...]] = set()
# Rows left out, by the kind of answer that left them out: /metrics shows it.
left_out_total: Counter[str] = Counter()


def _identity(row: object) -> tuple[str, object, object]:
    table = getattr(row, "__tablename__", type(row).__name__)
    return table, getattr(row, "id", None), getattr(row, "updated_at", None)


def leave_out(surface: str, row: object, error: BaseException) -> None:
    """Count a row left out of one answer; log it the first time this version of it fails."""
    key = _identity(row)
    reason = f"{type(error).__name__}: {error}"
    with _lock:
        left_out_total[surface] += 1
        first = (*key, reason) not in _logged
        if first:
            if len(_logged) >= _MAX_REMEMBERED:
                _logged.clear()
            _logged.add((*key, reason))
    if first:
        log.warning("left out %s id=%s (changed %s), which cannot be rendered: %s", *key, reason)


def each_rendered(surface: str, rows: Iterable[R], render: Callable[[R], T]) -> list[tuple[R, T]]:
    """``render`` applied to every row that renders; the others are left out."""
    done: list[tuple[R, T]] = []
    for row in rows:
        try:
            done.append((row, render(row)))
        except Exception as error:  # any failure of one row: the others are still served
            leave_out(surface, row, error)
    return done


def forget() -> None:
    """Log every row again from now on (as a restarted process would)."""
    with _lock:
        _logged.clear()
