"""The subject store's endpoints (/v1/subjects/..., /v1/retention/due): the router is built by
`policy_engine.subjects.http` over this server's state (served policy, decision log, encoder), and
is empty unless POLICY_ENGINE_SUBJECT_STORE names a store."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from policy_engine.subjects.http import subjects_router


def router_for(state: Any) -> APIRouter:
    return subjects_router(state)
