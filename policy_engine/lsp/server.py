"""The language server (`policy-engine lsp`): the checker, hover, completion, definition,
references, fmt and the did-you-mean fix, for any editor that speaks LSP over stdio.

pygls does the protocol; `analysis.py` does the work on the checker's own results. Positions:
LSP counts UTF-16 code units per line, the project counts characters from the start of the
text, so every conversion goes through `to_lsp` / `from_lsp` below (a policy quoting text with
an emoji or a CJK character must still be underlined in the right place).
"""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from policy_engine import __version__
from policy_engine.language.diagnostics import Diagnostic, Severity
from policy_engine.language.formatter import format_source
from policy_engine.language.source import Source, Span, display_path
from policy_engine.lsp.analysis import Analysis, analyse, completion_context, suppression_edit

KIND_WORD = {"data": "data", "source": "source", "purpose": "purpose", "recipient": "recipient", "fact": "fact",
             "basis": "legal basis", "right": "data-subject right", "requirement": "legal basis or fact",
             "region": "region", "safeguard": "safeguard"}
COMPLETION_KIND = {"fact": lsp.CompletionItemKind.Variable, "basis": lsp.CompletionItemKind.EnumMember,
                   "right": lsp.CompletionItemKind.EnumMember}


def to_lsp(source: Source, offset: int) -> lsp.Position:
    line, col = source.position(offset)
    prefix = source.line_text(line)[: col - 1]
    return lsp.Position(line=line - 1, character=len(prefix.encode("utf-16-le")) // 2)


def from_lsp(source: Source, position: lsp.Position) -> int:
    lines = source.text.split("\n")
    line = min(max(position.line, 0), len(lines) - 1)
    start = sum(len(s) + 1 for s in lines[:line])
    text, units, col = lines[line], 0, 0
    while col < len(text) and units < position.character:
        units += 2 if ord(text[col]) > 0xFFFF else 1
        col += 1
    return start + col


def lsp_range(source: Source, span: Span | None) -> lsp.Range:
    if span is None:  # a fault of the whole file (unreadable, not UTF-8): its first character
        return lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=1))
    return lsp.Range(start=to_lsp(source, span.start), end=to_lsp(source, span.end))


def lsp_diagnostic(source: Source, d: Diagnostic) -> lsp.Diagnostic:
    return lsp.Diagnostic(
        range=lsp_range(source, d.span),
        message=d.message + (f"\nhelp: {d.help}" if d.help else ""),
        severity=lsp.DiagnosticSeverity.Error if d.severity is Severity.ERROR else lsp.DiagnosticSeverity.Warning,
        code=d.code,
        source="policy-engine",
    )


def path_of(uri: str) -> str:
    parsed = urlparse(uri)
    return display_path(unquote(parsed.path)) if parsed.scheme == "file" else uri


class PolicyServer(LanguageServer):
    """Keeps the newest analysis of each open document, and the newest one that parsed: while
    a statement is half typed the text does not parse, and completion still needs the words."""

    def __init__(self) -> None:
        super().__init__("policy-engine", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Full)
        self.analyses: dict[str, Analysis] = {}
        self.parsed: dict[str, Analysis] = {}

    def analysis(self, uri: str) -> Analysis:
        doc = self.workspace.get_text_document(uri)
        cached = self.analyses.get(uri)
        if cached is not None and cached.source.text == doc.source:
            return cached
        result = analyse(Source(doc.source, path_of(uri)), lint=True)
        self.analyses[uri] = result
        if result.parsed:
            self.parsed[uri] = result
        return result

    def words(self, uri: str) -> Analysis:
        current = self.analysis(uri)
        return current if current.parsed else self.parsed.get(uri, current)

    def publish(self, uri: str, version: int | None) -> None:
        a = self.analysis(uri)
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
            uri=uri, version=version, diagnostics=[lsp_diagnostic(a.source, d) for d in a.diagnostics]))


server = PolicyServer()


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: PolicyServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.publish(params.text_document.uri, params.text_document.version)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: PolicyServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.publish(params.text_document.uri, params.text_document.version)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: PolicyServer, params: lsp.DidCloseTextDocumentParams) -> None:
    ls.analyses.pop(params.text_document.uri, None)
    ls.parsed.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def hover(ls: PolicyServer, params: lsp.HoverParams) -> lsp.Hover | None:
    a = ls.analysis(params.text_document.uri)
    hit = a.at(from_lsp(a.source, params.position))
    if hit is None:
        return None
    kind, term_id, span = hit
    lines = [f"**{KIND_WORD[kind]}** `{term_id}`"]
    decl = a.declarations.get((kind, term_id))
    if decl is not None:
        lines.append(f'"{decl.label}"')
        if decl.span is not None:
            lines.append(f"declared on line {a.source.position(decl.span.start)[0]}: "
                         f"`{a.source.line_text(a.source.position(decl.span.start)[0]).strip()}`")
    elif kind in ("data", "source", "purpose", "recipient", "fact", "region", "safeguard"):
        lines.append("not declared")
    used = sorted({a.source.position(r.span.start)[0] for r in a.uses(kind, term_id)})
    lines.append("used on line" + ("s " if len(used) > 1 else " ") + ", ".join(map(str, used)) if used
                 else "not used by any statement")
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="\n\n".join(lines)),
                     range=lsp_range(a.source, span))


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[" ", ",", "."]))
def completion(ls: PolicyServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    source = Source(doc.source)
    offset = from_lsp(source, params.position)
    kind, start = completion_context(source.text, offset)
    if kind is None:
        return lsp.CompletionList(is_incomplete=False, items=[])
    words = ls.words(params.text_document.uri)
    edit_range = lsp.Range(start=to_lsp(source, start), end=to_lsp(source, offset))
    items = []
    for term_id in words.ids(kind):
        decl = words.declarations.get((kind, term_id)) or words.declarations.get(("fact", term_id))
        items.append(lsp.CompletionItem(
            label=term_id, detail=f"{KIND_WORD[kind]}" + (f': "{decl.label}"' if decl else ""),
            kind=COMPLETION_KIND.get(kind, lsp.CompletionItemKind.Constant),
            text_edit=lsp.TextEdit(range=edit_range, new_text=term_id)))
    return lsp.CompletionList(is_incomplete=False, items=items)


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
def definition(ls: PolicyServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    a = ls.analysis(params.text_document.uri)
    hit = a.at(from_lsp(a.source, params.position))
    decl = a.declarations.get(hit[:2]) if hit else None
    if decl is None or decl.id_span is None:
        return None
    return lsp.Location(uri=params.text_document.uri, range=lsp_range(a.source, decl.id_span))


@server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
def references(ls: PolicyServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
    a = ls.analysis(params.text_document.uri)
    hit = a.at(from_lsp(a.source, params.position))
    if hit is None:
        return []
    spans = [r.span for r in a.uses(hit[0], hit[1])]
    decl = a.declarations.get(hit[:2])
    if params.context.include_declaration and decl is not None and decl.id_span is not None:
        spans.insert(0, decl.id_span)
    return [lsp.Location(uri=params.text_document.uri, range=lsp_range(a.source, s)) for s in spans]


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: PolicyServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
    """The whole text replaced by fmt's; a text that does not parse is left alone (its
    diagnostics already say why)."""
    doc = ls.workspace.get_text_document(params.text_document.uri)
    source = Source(doc.source, path_of(params.text_document.uri))
    result = format_source(source)
    if not result.ok or not result.changed or result.text is None:
        return [] if result.ok else None
    return [lsp.TextEdit(range=lsp.Range(start=lsp.Position(line=0, character=0), end=to_lsp(source, len(source.text))),
                         new_text=result.text)]


@server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
def code_action(ls: PolicyServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    """The checker's did-you-mean as quick fixes, recomputed from the text (not from what the
    client echoes back), for every fixable diagnostic touching the range asked about; and for a
    warning or lint finding, a `# lint: ignore[CODE]` comment to complete with the reason."""
    uri = params.text_document.uri
    a = ls.analysis(uri)
    lo, hi = from_lsp(a.source, params.range.start), from_lsp(a.source, params.range.end)
    actions = []
    for d in a.diagnostics:
        if d.span is None or d.span.end < lo or d.span.start > hi:
            continue
        for i, fix in enumerate(a.fixes(d)):
            edit = lsp.TextEdit(range=lsp_range(a.source, fix.span), new_text=fix.new_text)
            actions.append(lsp.CodeAction(
                title=fix.title, kind=lsp.CodeActionKind.QuickFix, diagnostics=[lsp_diagnostic(a.source, d)],
                is_preferred=i == 0, edit=lsp.WorkspaceEdit(changes={uri: [edit]})))
        suppress = suppression_edit(a.source, d)
        if suppress is not None:
            edit = lsp.TextEdit(range=lsp_range(a.source, suppress[0]), new_text=suppress[1])
            actions.append(lsp.CodeAction(
                title=f"Suppress {d.code} here (then write why)", kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[lsp_diagnostic(a.source, d)], edit=lsp.WorkspaceEdit(changes={uri: [edit]})))
    return actions


def main() -> None:
    server.start_io()
