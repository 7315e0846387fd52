"""Move PyJWT's clock forward for the length of one case, without waiting.

A verifier or middleware that caches results by token string answers from its
cache after the token has expired. Showing that needs a token that is valid
when first seen and expired when seen again. Waiting for it would make the
check slow and timing-dependent (and a verifier with a leeway would need a
wait longer than the leeway), so the check moves the clock PyJWT reads instead:
``datetime.now`` in ``jwt.api_jwt``. Learner code that verifies with PyJWT sees
the future; the check first proves that with a token it has never shown (a
correct verifier must refuse it), and skips the cache case when it is not so
(another JWT library, or a PyJWT that reads the time elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, tzinfo

import jwt.api_jwt as pyjwt_claims

LATER_S = 3 * 24 * 3600  # three days: past any token's exp plus any sane leeway


def can_move() -> bool:
    return isinstance(getattr(pyjwt_claims, "datetime", None), type)


@contextmanager
def pyjwt_clock_ahead(seconds: float = LATER_S) -> Iterator[None]:
    """Within the block, PyJWT validates exp/nbf/iat as if ``seconds`` had passed."""
    real = pyjwt_claims.datetime

    class Later(real):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:
            return real.now(tz) + timedelta(seconds=seconds)

    pyjwt_claims.datetime = Later
    try:
        yield
    finally:
        pyjwt_claims.datetime = real
