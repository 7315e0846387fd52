"""Which account the kit provisions: resources render its id into ARNs and policies."""

from __future__ import annotations

from ..settings import EMULATOR_ACCOUNT, Settings


def account_id(settings: Settings) -> str:
    """The account's id; the embedded emulator's is fixed, which saves a call at start-up."""
    if settings.embedded:
        return EMULATOR_ACCOUNT
    return settings.client("sts").get_caller_identity()["Account"]
