from __future__ import annotations

import pytest

from environment.lab import Lab, connect
from environment.settings import Settings, load_settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def lab(settings: Settings) -> Lab:
    return connect(quiet=True, settings=settings)
