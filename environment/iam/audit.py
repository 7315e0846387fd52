"""The gate's audit trail: CloudTrail, in spirit, served to the administrator only."""

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

    def query(self, since: int = 0, action: str | None = None,
              decision: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            events = list(self._events)
        return [e for e in events if e["seq"] > since
                and (action is None or e["action"].lower() == action.lower())
                and (decision is None or e["decision"] == decision)]

    @property
    def last(self) -> int:
        return self._seq

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
