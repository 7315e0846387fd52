"""Lab 6's solution functions, read from its notebook once per test session (two modules use
them; running the notebook's cells resets the account and runs its drill)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from checks.notebook_code import namespace, solution_path


@lru_cache(maxsize=1)
def solution() -> dict[str, Any]:
    return namespace(solution_path(6))
