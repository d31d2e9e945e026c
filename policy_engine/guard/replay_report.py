"""A Replay in words. In: a Replay (guard/replay.py). Out: text for the terminal and a job log,
a dict for the JSON envelope, markdown for a pull-request comment."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from policy_engine.engine import words
from policy_engine.guard.replay import Answer, Group, Replay

MARK = {"widened": "WIDENED", "narrowed": "NARROWED", "widened and narrowed": "CHANGED"}


def _time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%" if share >= 0.001 or share == 0 else "<0.1%"


def _answer(a: Answer) -> str:
    return words.answer(a.decision, a.requires)


def describe_query(query: dict[str, Any]) -> str:
    return words.question(query, unknown=words.FACTS_UNKNOWN)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' * (n != 1)}"


def headline(r: Replay, code: str = "") -> str:
    """`code`: the quote around file names (a backtick in markdown)."""
    span = f"{_time(r.first_ts)} to {_time(r.last_ts)}; " if r.rows else ""
    return (f"Replayed {_plural(r.rows, 'logged decision')} ({span}{_plural(r.questions, 'distinct question')}) "
            f"from {code}{r.log}{code} under {code}{r.policy}{code} ({r.digest[:19]}...)")


def verdict(r: Replay) -> str:
    if not r.changed:
        return "No logged decision would be answered differently."
    return (f"{_plural(r.changed, 'decision')} ({_pct(r.share)} of the traffic) would be answered differently: "
            f"{r.widened:,} widened, {r.narrowed:,} narrowed.")


def _group_head(g: Group, total: int) -> str:
    who = "now decided by:" if g.now else "no rule decides them now (default deny); before, decided by:"
    return (f"{MARK[g.mark]}  {_plural(g.rows, 'decision')} ({_pct(g.rows / total if total else 0)}), "
            f"{_plural(g.questions, 'question')}, {who}")


def render_text(r: Replay) -> str:
    out = [headline(r), verdict(r)]
    for g in r.groups:
        out += ["", _group_head(g, r.rows)]
        out += words.reason_lines(g.rules, "    ")
        for e in g.examples:
            out.append(f"  e.g. {describe_query(e.query)}: was {_answer(e.before)}, now {_answer(e.after)}  "
                       f"({_plural(e.rows, 'decision')})")
    sections = r.sections()
    if sections:
        out += ["", "By section (decisions):"]
        width = max(len(s) for s in sections)
        for s, c in sections.items():
            out.append(f"  {s:<{width}}  {c['widened']:>9,} widened  {c['narrowed']:>9,} narrowed")
    if r.unanswerable:
        out += ["", f"Cannot be asked under the new policy: {_plural(r.unanswerable_rows, 'decision')} "
                    f"({_plural(len(r.unanswerable), 'question')}); a service asking them gets an error:"]
        for u in r.unanswerable[:5]:
            out.append(f"  {describe_query(u.query) if 'action' in u.query else u.query}: {u.error}  "
                       f"({_plural(u.rows, 'decision')})")
    if r.widened:
        out += ["", "The new policy allows what the logged answers did not (WIDENED above): review it before "
                    "it is deployed."]
    return "\n".join(out)


def to_dict(r: Replay) -> dict[str, Any]:
    """The replay's part of the JSON envelope: `findings` are the groups, most widened first."""
    return {
        "log": r.log, "policy": {"file": r.policy, "digest": r.digest},
        "since": _time(r.since) if r.since is not None else None,
        "first": _time(r.first_ts) if r.rows else None, "last": _time(r.last_ts) if r.rows else None,
        "decisions": r.rows, "questions": r.questions, "changed": r.changed, "widened": r.widened,
        "narrowed": r.narrowed, "share": r.share,
        "sections": [{"section": s, **c} for s, c in r.sections().items()],
        "unanswerable": [{"query": u.query, "error": u.error, "decisions": u.rows} for u in r.unanswerable],
        "findings": [g.to_dict(r.rows) for g in r.groups],
    }


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(r: Replay) -> str:
    """A section for the pull-request comment: the verdict, then one row per group."""
    out = ["### Replay of logged decisions", "", headline(r, "`"), "",
           ("**:warning: " + verdict(r) + "**") if r.widened else verdict(r)]
    if r.groups:
        out += ["", "| | Decisions | Share | Decided now by | Example |", "|---|---:|---:|---|---|"]
        for g in r.groups:
            rules = "; ".join(f"{x.file}:{x.line} ({x.section})" for x in g.rules) or "no rule (default deny)"
            e = g.examples[0]
            out.append(f"| {MARK[g.mark].lower()} | {g.rows:,} | {_pct(g.rows / r.rows if r.rows else 0)} | "
                       f"{_md(rules)} | {_md(describe_query(e.query))}: was {_md(_answer(e.before))}, "
                       f"now {_md(_answer(e.after))} |")
    return "\n".join(out)
