"""Shared test setup: hypothesis profiles and a few paths.

HYPOTHESIS_PROFILE=ci  thorough run (CI sets it through ./dev test)
HYPOTHESIS_PROFILE=dev quick run while editing (the default)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "dev")

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def fixtures_dir() -> Path:
    return TESTS / "fixtures"
