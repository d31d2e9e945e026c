"""Diagnostics for CI systems. In: Diagnostics (check) or lint Findings. Out: SARIF 2.1.0 JSON
(code scanning shows each result on its line) or GitHub Actions workflow commands
(`::error file=...,line=...::message`, shown as annotations on the pull request).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from urllib.parse import quote
from typing import Any

from policy_engine import __version__
from policy_engine.language.diagnostics import Diagnostic, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

Item = Any  # a Diagnostic, or a lint Finding (a Diagnostic with related locations)


def _parts(item: Item) -> tuple[Diagnostic, list[Any]]:
    if isinstance(item, Diagnostic):
        return item, []
    return item.diagnostic, list(getattr(item, "related", ()))


def _uri(path: str | None) -> str:
    """A relative path as a URI reference (percent-encoded: spaces and `#` are legal in file names)."""
    return quote(PurePosixPath((path or "").replace("\\", "/")).as_posix())


def _artifact(path: str | None) -> dict[str, str]:
    """Relative paths are relative to the repository root (%SRCROOT%); absolute ones are file URIs."""
    posix = (path or "").replace("\\", "/")
    if PurePosixPath(posix).is_absolute():
        return {"uri": "file://" + quote(posix)}
    return {"uri": _uri(posix), "uriBaseId": "%SRCROOT%"}


def _region(d: Diagnostic) -> dict[str, int] | None:
    if d.source is None or d.span is None:
        return None
    line, col = d.source.position(d.span.start)
    end_line, end_col = d.source.position(max(d.span.end, d.span.start + 1))
    return {"startLine": line, "startColumn": col, "endLine": end_line, "endColumn": end_col}


def to_sarif(items: Iterable[Item], descriptions: Mapping[str, str] | None = None,
             tool: str = "policy-engine", suppressed: Iterable[Any] = ()) -> dict[str, Any]:
    """One SARIF run. `descriptions` gives each rule id its short description. `suppressed`
    (lint_run's Suppressed: a finding and the reason of its `# lint: ignore`) are results too,
    with a SARIF `suppressions` entry of kind inSource, so code scanning shows them as dismissed."""
    results = []
    rule_ids: dict[str, int] = {}
    rule_level: dict[str, str] = {}
    rule_text: dict[str, str] = {}
    for item, reason in [*((i, None) for i in items), *((s.finding, s.reason) for s in suppressed)]:
        d, related = _parts(item)
        if d.code not in rule_ids:
            rule_ids[d.code] = len(rule_ids)
            rule_text[d.code] = d.message
        if d.severity is Severity.ERROR or d.code not in rule_level:
            rule_level[d.code] = "error" if d.severity is Severity.ERROR else "warning"
        message = d.message + (f" (help: {d.help})" if d.help else "")
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": rule_ids[d.code],
            "level": "error" if d.severity is Severity.ERROR else "warning",
            "message": {"text": message},
        }
        location: dict[str, Any] = {"physicalLocation": {"artifactLocation": _artifact(d.file)}}
        region = _region(d)
        if region:
            location["physicalLocation"]["region"] = region
        if d.file:
            result["locations"] = [location]
        rel = []
        for i, r in enumerate(related):
            entry: dict[str, Any] = {"id": i + 1, "message": {"text": r.message},
                                     "physicalLocation": {"artifactLocation": _artifact(r.source.path)}}
            if r.line is not None:
                entry["physicalLocation"]["region"] = {"startLine": r.line}
            rel.append(entry)
        if rel:
            result["relatedLocations"] = rel
        if reason is not None:
            result["suppressions"] = [{"kind": "inSource", "justification": reason}]
        results.append(result)
    rules = [{"id": code, "name": code.replace(".", "_"),
              "shortDescription": {"text": (descriptions or {}).get(code, code)},
              "fullDescription": {"text": (descriptions or {}).get(code) or f"{code}, e.g.: {rule_text[code]}"},
              "defaultConfiguration": {"level": rule_level[code]}}
             for code in rule_ids]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": tool, "version": __version__, "rules": rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "the repository root"}}},
            "results": results,
        }],
    }


def render_sarif(items: Iterable[Item], descriptions: Mapping[str, str] | None = None,
                 suppressed: Iterable[Any] = ()) -> str:
    return json.dumps(to_sarif(items, descriptions, suppressed=suppressed), indent=2)


# ---- GitHub Actions workflow commands -----------------------------------------------------------


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, file: str | None = None, line: int | None = None,
               column: int | None = None, end_line: int | None = None, end_column: int | None = None,
               title: str | None = None) -> str:
    """`::error file=F,line=L,col=C,endLine=..,endColumn=..,title=T::message`."""
    props = []
    if file:
        props.append(f"file={_escape_property(file.replace(chr(92), '/'))}")
    for name, value in (("line", line), ("col", column), ("endLine", end_line), ("endColumn", end_column)):
        if value is not None:
            props.append(f"{name}={value}")
    if title:
        props.append(f"title={_escape_property(title)}")
    head = f"::{level}" + (" " + ",".join(props) if props else "")
    return f"{head}::{_escape_data(message)}"


def render_github(items: Iterable[Item]) -> str:
    lines = []
    for item in items:
        d, related = _parts(item)
        region = _region(d) or {}
        message = d.message
        if d.help:
            message += f"\nhelp: {d.help}"
        for r in related:
            message += f"\nsee {r.source.path}:{r.line}: {r.message}"
        lines.append(annotation("error" if d.severity is Severity.ERROR else "warning", message, d.file,
                                region.get("startLine"), region.get("startColumn"), region.get("endLine"),
                                region.get("endColumn"), title=d.code))
    return "\n".join(lines)
