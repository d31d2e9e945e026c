"""The compiled graph, exported. In: the frozen networkx MultiDiGraph of a CompiledPolicy.
Out: text in Graphviz dot, Mermaid (flowchart) or JSON (nodes and edges with every attribute).
"""

from __future__ import annotations

import json
import re
from typing import Any

import networkx as nx

FORMATS = ("dot", "mermaid", "json")

_SHAPES = {"data": "box", "source": "house", "purpose": "ellipse", "recipient": "octagon", "fact": "note",
           "action": "diamond"}
_COLOURS = {"allow": "darkgreen", "deny": "red3"}


def _edge_label(attrs: dict[str, Any]) -> str:
    label = f"{attrs['effect']} {attrs['action']}"
    if attrs.get("condition"):
        label += f" if {attrs['condition']}"
    return label


def to_json(graph: nx.MultiDiGraph, name: str, digest: str) -> str:
    nodes = [{"id": n, "kind": attrs["kind"], "term": attrs["id"], "label": attrs["label"]}
             for n, attrs in graph.nodes(data=True)]
    edges = [{"source": u, "target": v, "key": k, **attrs} for u, v, k, attrs in graph.edges(keys=True, data=True)]
    return json.dumps({"policy": {"name": name, "digest": digest}, "nodes": nodes, "edges": edges}, indent=2,
                      ensure_ascii=False)


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dot_quote(text: str) -> str:
    return '"' + _dot_escape(text) + '"'


def to_dot(graph: nx.MultiDiGraph, name: str, digest: str) -> str:
    out = [f"digraph {_dot_quote(name)} {{", "  rankdir=LR;", f"  label={_dot_quote(name + ' ' + digest)};",
           "  node [fontname=Helvetica]; edge [fontname=Helvetica, fontsize=10];"]
    for n, attrs in graph.nodes(data=True):
        label = f'"{_dot_escape(attrs["id"])}\\n({attrs["kind"]})"'  # \\n: dot's line break
        out.append(f"  {_dot_quote(n)} [label={label}, shape={_SHAPES.get(attrs['kind'], 'box')}];")
    for u, v, attrs in graph.edges(data=True):
        if attrs["relation"] == "narrower":
            out.append(f"  {_dot_quote(u)} -> {_dot_quote(v)} [style=dashed, arrowhead=empty, label=\"narrower\"];")
        else:
            colour = _COLOURS[attrs["effect"]]
            tip = f"{attrs['file']}:{attrs['line']} ({attrs['section']})"
            out.append(f"  {_dot_quote(u)} -> {_dot_quote(v)} [label={_dot_quote(_edge_label(attrs))}, "
                       f"color={colour}, fontcolor={colour}, tooltip={_dot_quote(tip)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _mermaid_id(node: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", node)


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(graph: nx.MultiDiGraph, name: str, digest: str) -> str:
    out = ["flowchart LR", f"  %% {name} {digest}"]
    brackets = {"data": ('["', '"]'), "source": ('[/"', '"/]'), "purpose": ('("', '")'),
                "recipient": ('{{"', '"}}'), "action": ('{"', '"}')}
    for n, attrs in graph.nodes(data=True):
        left, right = brackets.get(attrs["kind"], ('["', '"]'))
        out.append(f"  {_mermaid_id(n)}{left}{_mermaid_text(attrs['id'])} ({attrs['kind']}){right}")
    styles = []
    for index, (u, v, attrs) in enumerate(graph.edges(data=True)):
        if attrs["relation"] == "narrower":
            out.append(f"  {_mermaid_id(u)} -.->|narrower| {_mermaid_id(v)}")
        else:
            out.append(f"  {_mermaid_id(u)} -->|\"{_mermaid_text(_edge_label(attrs))}\"| {_mermaid_id(v)}")
            if attrs["effect"] == "deny":
                styles.append(str(index))
    if styles:
        out.append(f"  linkStyle {','.join(styles)} stroke:red,color:red")
    return "\n".join(out) + "\n"


def export(graph: nx.MultiDiGraph, fmt: str, name: str, digest: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown graph format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return {"dot": to_dot, "mermaid": to_mermaid, "json": to_json}[fmt](graph, name, digest)
