"""The gate's audit trail: CloudTrail, in spirit, served to the administrator only.

Each event may carry the evaluator's ``Decision`` under ``detail``; its record
(statements, conditions, values) is computed when the event is first read and
served as ``explanation``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any


class Audit:
    """The last few thousand decisions, numbered so a reader can ask for what is new."""

    def __init__(self, size: int = 5000) -> None:
        self._events: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._seq = 0

    def add(self, **event: Any) -> None:
        with self._lock:
            self._seq += 1
            self._events.append({"seq": self._seq, "time": time.time(), **event})

    def query(self, since: int = 0, **equal: str | None) -> list[dict[str, Any]]:
        """Events after ``since`` whose fields equal the given values (action: any case)."""
        wanted = {k: v for k, v in equal.items() if v is not None}
        action = wanted.pop("action", None)
        with self._lock:
            events = list(self._events)
        return [_public(e) for e in events if e["seq"] > since
                and (action is None or e["action"].lower() == action.lower())
                and all(str(e.get(k)) == v for k, v in wanted.items())]

    @property
    def last(self) -> int:
        return self._seq

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


def _public(event: dict[str, Any]) -> dict[str, Any]:
    """An event as JSON can carry it: the decision's record instead of the decision."""
    detail = event.get("detail")
    record = getattr(detail, "record", None)
    shown = {k: v for k, v in event.items() if k != "detail"}
    shown["explanation"] = record.to_dict() if record is not None else None
    return shown
