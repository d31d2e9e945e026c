"""Semantic diffs in words. In: DiffResults. Out: text (terminal), JSON (scripts), markdown (a
pull-request comment)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from policy_engine.engine import words
from policy_engine.guard.diff import DiffResult

MARK = {"widened": "WIDENED", "narrowed": "NARROWED", "widened and narrowed": "CHANGED"}


def _totals(results: Sequence[DiffResult]) -> tuple[int, int]:
    return sum(r.widened for r in results), sum(r.narrowed for r in results)


def render_text(results: Sequence[DiffResult], allow_widening: bool = False, show_all: bool = False) -> str:
    out: list[str] = []
    for r in results:
        n = sum(g.size() for g in r.groups)
        renamed = [f"  RENAMED: {x.sentence()}" for x in r.renames]
        if not r.groups:
            out.append(f"{r.old_path} -> {r.new_path}: no question's answer changed")
            out += renamed
            continue
        out.append(f"{r.old_path} -> {r.new_path}: {n} question{'s' * (n != 1)} changed "
                   f"({r.widened} widened, {r.narrowed} narrowed)")
        out += renamed
        for g in r.groups:
            out.append("")
            out.append(f"  {MARK[g.mark]}: {g.sentence}")
            more = f" and {g.size() - 1} more like it" if g.size() > 1 else ""
            out.append(f"    e.g. {words.question(g.example(), facts=False)}{more}: was {words.answer(g.before.decision, g.before.requires)}, "
                       f"now {words.answer(g.after.decision, g.after.requires)}")
            out.append("    now decided by:")
            out += words.reason_lines(g.reasons_after, "      ", inline=True)
            out.append("    before, decided by:")
            out += words.reason_lines(g.reasons_before, "      ", inline=True)
            if show_all:
                for q in g.questions():
                    out.append("      - " + " ".join(f"{k}={v}" for k, v in q.items() if v is not None))
        out.append("")
    widened, narrowed = _totals(results)
    if widened and not allow_widening:
        out.append("The policy now allows what it did not allow before (listed as WIDENED above). "
                   "Review it; accept with --allow-widening.")
    out.append(f"{widened} widened, {narrowed} narrowed")
    return "\n".join(out)


def json_fields(results: Sequence[DiffResult]) -> dict[str, Any]:
    """The diff's part of the JSON envelope (cli/common.py): `findings` are the grouped changes,
    each a sentence with its mark, answers and rules; `changes` lists every question (one
    change per question, with the file it belongs to)."""
    changes: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    files = []
    for r in results:
        d = r.to_dict()
        for c in d["changes"]:
            changes.append({"file": r.new_path, **c})
        for s in d["summary"]:
            summary.append({"file": r.new_path, **s})
        files.append({"old": r.old_path, "new": r.new_path, "widened": r.widened, "narrowed": r.narrowed})
    widened, narrowed = _totals(results)
    renames = [{"file": r.new_path, **x.to_dict()} for r in results for x in r.renames]
    return {"findings": summary, "changes": changes, "widened": widened, "narrowed": narrowed, "files": files,
            "renames": renames}


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(results: Sequence[DiffResult], allow_widening: bool = False) -> str:
    """A pull-request comment: the verdict first, then one row per change, rules folded away."""
    widened, narrowed = _totals(results)
    out = ["## Privacy policy: what this change means", ""]
    if widened:
        out.append(f"**:warning: Widened: {widened} question{'s' * (widened != 1)} now get{'s' * (widened == 1)} a "
                   f"more permissive answer than before.** Narrowed: {narrowed}."
                   + ("" if allow_widening else " A reviewer must accept the widening."))
    elif narrowed:
        out.append(f"Narrowed only: {narrowed} question{'s' * (narrowed != 1)} now get a stricter answer. "
                   "Nothing is allowed that was not before.")
    else:
        out.append("No question's answer changed: this edit does not change what the policy allows.")
    renamed = [f"- `{r.new_path}`: {_md(x.sentence())}" for r in results for x in r.renames]
    if renamed:
        out += ["", "Renamed (the same rules under a new id, no answer changed by it):", "", *renamed]
    for r in results:
        if not r.groups:
            continue
        out += ["", f"### `{r.new_path}`", "", "| | What changed | Before | Now | Questions |", "|---|---|---|---|---:|"]
        for g in r.groups:
            mark = {"widened": "**widened**", "narrowed": "narrowed", "widened and narrowed": "**changed**"}[g.mark]
            out.append(f"| {mark} | {_md(g.sentence)} | {_md(words.answer(g.before.decision, g.before.requires))} | "
                       f"{_md(words.answer(g.after.decision, g.after.requires))} | {g.size()} |")
        out += ["", "<details><summary>The rules that decide each change</summary>", ""]
        for g in r.groups:
            out.append(f"- {_md(g.sentence)}")
            out += [f"  - now: {line.strip()}" for line in words.reason_lines(g.reasons_after, "", inline=True)]
            out += [f"  - before: {line.strip()}" for line in words.reason_lines(g.reasons_before, "", inline=True)]
        out += ["", "</details>"]
    out += ["", f"<sub>policy-engine diff: {widened} widened, {narrowed} narrowed</sub>"]
    return "\n".join(out)
