"""Shared test setup: hypothesis profiles, the paths (from `paths`) and the two shared policies:
`small` (tests/fixtures/small.policy, the unit tests' small policy) and `open_e` (the real one).

HYPOTHESIS_PROFILE=ci  thorough run (CI sets it through ./dev test)
HYPOTHESIS_PROFILE=dev quick run while editing (the default)
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

import policy_engine
from policy_engine import Policy

from paths import OPEN_E, SMALL

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


@pytest.fixture(scope="session")
def small_text() -> str:
    return SMALL.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def small(small_text: str) -> Policy:
    """Loaded from its text under the name `small.policy`, so reasons cite `small.policy:LINE`
    wherever the tests run from. Shared by the whole session: a Policy is immutable."""
    return policy_engine.loads(small_text, "small.policy")


@pytest.fixture(scope="session")
def open_e() -> Policy:
    return policy_engine.load(OPEN_E)
