"""Move the clock learner code reads forward for one case, without waiting.

A verifier or middleware that caches results by token string answers from its
cache after the token has expired. Showing that needs a token that is valid
when first seen and expired when seen again. Waiting for it would make the
check slow and timing-dependent (and a verifier with a leeway would need a
wait longer than the leeway), so the check moves two clocks instead: the one
PyJWT validates ``exp`` with (``datetime.now`` in ``jwt.api_jwt``) and
``time.time``, which a cache that honours ``exp`` compares against. Monotonic
clocks (timeouts, PyJWT's JWKS cache) and the ``datetime`` class that botocore
signs requests with are left alone.

Learner code that verifies with PyJWT sees the future; the check first proves
that with a token it has never shown (a correct verifier must refuse it), and
skips the cache case when it is not so (another JWT library, say).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, tzinfo

import jwt.api_jwt as pyjwt_claims

LATER_S = 3 * 24 * 3600  # three days: past any token's exp plus any sane leeway


def can_move() -> bool:
    return isinstance(getattr(pyjwt_claims, "datetime", None), type)


@contextmanager
def clock_ahead(seconds: float = LATER_S) -> Iterator[None]:
    """Within the block, PyJWT and ``time.time()`` live ``seconds`` in the future."""
    real_datetime, real_time = pyjwt_claims.datetime, time.time

    class Later(real_datetime):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:
            return real_datetime.now(tz) + timedelta(seconds=seconds)

    pyjwt_claims.datetime = Later
    time.time = lambda: real_time() + seconds
    try:
        yield
    finally:
        pyjwt_claims.datetime, time.time = real_datetime, real_time
