"""`policy-engine subjects record|show|forget|decide|request` and `policy-engine retention due`: the
subject store from the command line (a SQLite file or a postgresql:// URL, `--store` or
POLICY_ENGINE_SUBJECT_STORE). Output is JSON on stdout.

Exit codes: 0 done; 1 the store or the policy refused or the store is unreachable (an erased
subject, a right's frequency limit reached, a right the subject does not have, the database down);
2 bad input (a malformed event or question, a question naming both `subject` and `facts`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from policy_engine import api
from policy_engine.cli.common import load_or_exit, query_error
from policy_engine.subjects.decide import check_terms, decide_for_subject, split
from policy_engine.subjects.model import REQUEST_KINDS, StoreUnavailable, SubjectError, check_event, parse_time
from policy_engine.subjects.requests import export, handle_request
from policy_engine.subjects.sweep import sweep
from policy_engine.subjects.store import SubjectStore

_STORE = click.option("--store", "store_url", envvar="POLICY_ENGINE_SUBJECT_STORE", required=True,
                      metavar="URL", help="A SQLite file or a postgresql:// URL (env POLICY_ENGINE_SUBJECT_STORE).")


def _run(store_url: str, work: Callable[[SubjectStore], Any]) -> None:
    """Open the store, do the work, print JSON; every refusal is one line on stderr."""
    try:
        store = SubjectStore.open(store_url)
        try:
            out = work(store)
        finally:
            store.close()
    except api.QueryError as err:
        query_error(err)
        sys.exit(2)
    except SubjectError as err:
        where = f" ({err.field})" if err.field else ""
        click.echo(f"policy-engine: {err.code}{where}: {err.message}", err=True)
        sys.exit(1 if err.status in (409, 410, 429) or err.code == "subject.right_not_granted" else 2)
    except StoreUnavailable as err:
        click.echo(f"policy-engine: subjects.unavailable: {err}", err=True)
        sys.exit(1)
    click.echo(json.dumps(out, indent=2, ensure_ascii=False))


@click.group("subjects")
def subjects() -> None:
    """The subject store: consent records, account events and data collected, per subject."""


@subjects.command("record")
@click.argument("subject")
@_STORE
@click.option("--begin", "begin", metavar="FACT", help="A fact begins to hold (a consent given, an account opened).")
@click.option("--end", "end", metavar="FACT", help="A fact stops holding (a consent withdrawn).")
@click.option("--collected", metavar="DATA", help="Data of this category was collected.")
@click.option("--source", metavar="SOURCE", help="Where --collected data came from.")
@click.option("--at", metavar="TIME", help="When (RFC 3339, e.g. 2026-03-01T00:00:00Z); default now.")
@click.option("--channel", help="How it was obtained (web form, e-mail, ...).")
@click.option("--evidence", help="Free text: what proves it (e.g. the confirmation mail's id).")
@click.option("--key", metavar="KEY", help="Idempotency key: a retry with the same key records once.")
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False), metavar="POLICY",
              help="Check the fact, data and source against this policy and record its digest.")
def record(subject: str, store_url: str, begin: str | None, end: str | None, collected: str | None,
           source: str | None, at: str | None, channel: str | None, evidence: str | None, key: str | None,
           policy_path: str | None) -> None:
    """Append one event to SUBJECT's history."""
    chosen = [name for name, value in (("--begin", begin), ("--end", end), ("--collected", collected)) if value]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --begin FACT, --end FACT, --collected DATA")
    if source and not collected:
        raise click.UsageError("--source goes with --collected")
    raw: dict[str, Any] = {"at": at, "channel": channel, "evidence": evidence}
    if collected:
        raw.update(kind="collected", category=collected, source=source)
    else:
        raw.update(kind="begin" if begin else "end", fact=begin or end)
    policy = load_or_exit(policy_path) if policy_path else None

    def work(store: SubjectStore) -> Any:
        event = check_event(subject, {k: v for k, v in raw.items() if v is not None})
        if policy is not None:
            check_terms(policy, event)
            event = check_event(subject, {**{k: v for k, v in raw.items() if v is not None},
                                          "at": event.at, "policy_digest": policy.digest})
        return store.record(event, key)
    _run(store_url, work)


@subjects.command("show")
@click.argument("subject")
@_STORE
def show(subject: str, store_url: str) -> None:
    """Everything held about SUBJECT: history, facts holding now, data, requests, tombstone."""
    _run(store_url, lambda store: export(store, subject))


@subjects.command("forget")
@click.argument("subject")
@_STORE
@click.option("--request-id", required=True, help="The erasure request this carries out (kept in the tombstone).")
def forget(subject: str, store_url: str, request_id: str) -> None:
    """Erase SUBJECT's records, keeping a tombstone so replayed old events cannot bring them back."""
    _run(store_url, lambda store: store.forget(subject, request_id))


@subjects.command("decide")
@click.argument("policy_path", metavar="POLICY", type=click.Path(dir_okay=False))
@_STORE
@click.option("--query", "query_json", required=True, metavar="JSON",
              help='A query naming "subject" (and optionally "at") instead of "facts".')
def decide(policy_path: str, store_url: str, query_json: str) -> None:
    """Answer a question about a subject, with the facts read from the store and the evidence used."""
    try:
        raw = api.parse_json(query_json)
        if not isinstance(raw, dict) or "subject" not in raw:
            raise api.QueryError("query.missing_field", "a subject question names `subject`", "subject")
        split(raw)  # subject and facts together, or a bad subject or `at`: exit 2 before any file is read
    except api.QueryError as err:
        query_error(err)
        sys.exit(2)
    policy = load_or_exit(policy_path)
    _run(store_url, lambda store: decide_for_subject(policy, store, raw)[0])


@subjects.command("request")
@click.argument("subject")
@click.argument("kind", type=click.Choice(REQUEST_KINDS))
@click.argument("policy_path", metavar="POLICY", type=click.Path(dir_okay=False))
@_STORE
@click.option("--channel", help="How the request arrived.")
@click.option("--note", help="Free text kept with the request.")
@click.option("--received-at", metavar="TIME", help="When it was received (RFC 3339); default now.")
@click.option("--key", metavar="KEY", help="Idempotency key: a retry with the same key records once.")
def request(subject: str, kind: str, policy_path: str, store_url: str, channel: str | None, note: str | None,
            received_at: str | None, key: str | None) -> None:
    """Record a data-subject request, as the policy's rights say (deadline, limit, who has the right);
    erasure prints the plan, access and portability the data."""
    policy = load_or_exit(policy_path)
    raw = {k: v for k, v in (("kind", kind), ("channel", channel), ("note", note), ("received_at", received_at))
           if v is not None}
    _run(store_url, lambda store: handle_request(policy, store, subject, raw, key))


@click.group("retention")
def retention() -> None:
    """Retention over the subject store."""


@retention.command("due")
@click.argument("policy_path", metavar="POLICY", type=click.Path(dir_okay=False))
@_STORE
@click.option("--at", metavar="TIME", help="As of this instant (RFC 3339); default now.")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=1000, show_default=True,
              help="List at most this many (subject, data, source); the count is always complete.")
@click.option("--within-days", type=click.IntRange(1, 3650), metavar="N",
              help="Also list what becomes due in the next N days, with each deadline.")
def due(policy_path: str, store_url: str, at: str | None, limit: int, within_days: int | None) -> None:
    """Every (subject, data, source) that no rule allows keeping any more, with its deadline where a
    time limit ended it, and the groups kept and why."""
    policy = load_or_exit(policy_path)
    _run(store_url, lambda store: sweep(policy, store, parse_time(at, "at") if at else None, limit, within_days))
