"""The data map of one data category as a picture. In: a loaded Policy and a data id. Out: SVG text.

Three columns, read left to right: where the data may be collected from, the data, and what it
may be used for (purposes) and who may receive it (recipients). A solid line is allowed, a
dashed line only under a condition, written under the node it leads to; the answers are the
engine's (the data map's `uses` and `recipients`, and a collect decision per source), so the
picture never disagrees with a decision. Labels, not ids: the picture is for people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from policy_engine import api

ROW = 46  # vertical space per node
WIDTH = 860
BOX_W, BOX_H = 240, 30
COLUMNS = (10, 310, 610)


@dataclass
class Node:
    kind: str
    id: str
    label: str
    decision: str = "allow"
    notes: list[str] = field(default_factory=list)


def _clip(text: str, n: int = 32) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def nodes(policy: api.Policy, data: str, facts_label: dict[str, str]) -> tuple[list[Node], list[Node], list[Node]]:
    from policy_engine.playground.work import with_labels

    labels = {kind: {i: term.label for i, term in policy.terms[kind].items()} for kind in policy.terms}
    sources = []
    for sid, label in labels["source"].items():
        d = policy.decide({"action": "collect", "data": data, "source": sid})
        if d.decision != "deny":
            sources.append(Node("source", sid, label, d.decision,
                                [f"only if {with_labels(d.requires, facts_label)}"] if d.requires else []))
    targets: dict[tuple[str, str], Node] = {}
    for rows, kind in ((policy.uses(data), "purpose"), (policy.recipients(data), "recipient")):
        for row in rows:
            tid = row.purpose if kind == "purpose" else row.recipient
            if tid is None:
                continue
            node = targets.setdefault((kind, tid), Node(kind, tid, labels[kind][tid], row.decision))
            if row.decision == "allow":
                node.decision = "allow"
            where = f"from {labels['source'][row.source]}" if row.source else ""
            cond = f"only if {with_labels(row.requires, facts_label)}" if row.requires else ""
            note = ", ".join(x for x in (where, cond) if x)
            if note and note not in node.notes:
                node.notes.append(note)
    by_label = sorted(targets.values(), key=lambda n: n.label.lower())
    purposes = [n for n in by_label if n.kind == "purpose"]
    recipients = [n for n in by_label if n.kind == "recipient"]
    return sources, purposes, recipients


def svg(policy: api.Policy, data: str) -> str:
    facts = {i: term.label for i, term in policy.terms["fact"].items()}
    label = policy.terms["data"][data].label
    sources, purposes, recipients = nodes(policy, data, facts)
    none = "(none: the policy allows nothing here)"
    right: list[Node | str] = ["Used for", *(purposes or [none]), "Shared with", *(recipients or [none])]
    left: list[Node | str] = ["Collected from", *(sources or [none])]
    height = max(len(right), len(left), 3) * ROW + 40
    mid_y = height / 2 - BOX_H / 2
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
           f'height="{height}" role="img" class="datamap" font-family="system-ui, sans-serif" font-size="13">',
           f"<title>{escape(label)}: where it comes from, what it is used for, who receives it</title>",
           '<style>.box{fill:#fff;stroke:#5b6b8c}.databox{fill:#e8eefc;stroke:#3451a1;stroke-width:2}'
           '.head{font-weight:600;fill:#333}.note{fill:#7a5a00;font-size:11px}.edge{fill:none;stroke:#5b6b8c;'
           'stroke-width:1.5}.conditional{stroke:#b07d00;stroke-dasharray:6 4}</style>']

    def column(items: list[Node | str], x: int) -> list[tuple[Node, float]]:
        placed = []
        y = 20.0
        for item in items:
            if isinstance(item, str):
                css = "note" if item.startswith("(") else "head"
                out.append(f'<text class="{css}" x="{x}" y="{y + 20}">{escape(item)}</text>')
            else:
                placed.append((item, y))
                out.append(f'<g class="node {item.kind}" data-id="{escape(item.id)}"><title>{escape(item.label)}'
                           f' ({escape(item.id)})</title><rect class="box" x="{x}" y="{y}" width="{BOX_W}" '
                           f'height="{BOX_H}" rx="6"/><text x="{x + 10}" y="{y + 20}">{escape(_clip(item.label))}'
                           "</text></g>")
                if item.notes:
                    out.append(f'<text class="note" x="{x + 10}" y="{y + BOX_H + 11}">'
                               f"{escape(_clip('; '.join(item.notes), 44))}<title>{escape('; '.join(item.notes))}"
                               "</title></text>")
            y += ROW
        return placed

    def edge(x1: float, y1: float, x2: float, y2: float, decision: str) -> None:
        cls = "edge conditional" if decision == "conditional" else "edge"
        mx = (x1 + x2) / 2
        out.append(f'<path class="{cls}" d="M{x1},{y1} C{mx},{y1} {mx},{y2} {x2},{y2}"/>')

    for node, y in column(left, COLUMNS[0]):
        edge(COLUMNS[0] + BOX_W, y + BOX_H / 2, COLUMNS[1], mid_y + BOX_H / 2, node.decision)
    for node, y in column(right, COLUMNS[2]):
        edge(COLUMNS[1] + BOX_W, mid_y + BOX_H / 2, COLUMNS[2], y + BOX_H / 2, node.decision)
    out.append(f'<g class="node data"><rect class="databox" x="{COLUMNS[1]}" y="{mid_y}" width="{BOX_W}" '
               f'height="{BOX_H}" rx="6"/><text x="{COLUMNS[1] + 10}" y="{mid_y + 20}" font-weight="600">'
               f"{escape(_clip(label))}</text></g>")
    if not sources and not purposes and not recipients:
        out.append(f'<text class="note" x="{COLUMNS[1]}" y="{mid_y + BOX_H + 18}">The policy allows nothing '
                   "for this data.</text>")
    out.append("</svg>")
    return "\n".join(out)
