"""`policy-engine lsp` end to end: the installed console script, driven over stdio by pygls's own
LanguageClient, as an editor would drive it.

One session per test module (starting the server costs an import of the whole engine); each
test opens its own document. Every wait on the server is bounded, so a hung server fails the
test instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

from policy_engine.language.formatter import format_text
from policy_engine.lsp.analysis import analyse_text

BIN = Path(sys.executable).parent
EXE = shutil.which("policy-engine", path=str(BIN))
REPO = Path(__file__).resolve().parents[2]
STEP3 = (REPO / "docs/tutorial/step3.policy").read_text(encoding="utf-8")
WAIT = 60  # seconds: a bound on every answer, never an assertion about speed

pytestmark = pytest.mark.skipif(EXE is None, reason=f"policy-engine is not installed in {BIN}")


class Session:
    """A client connected to a server process, with the diagnostics it has been sent."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.client = LanguageClient("policy-engine-tests", "1")
        self.diagnostics: dict[str, list[lsp.Diagnostic]] = {}
        self.versions: dict[str, int | None] = {}
        self.arrived = asyncio.Event()

        @self.client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _publish(_ls: LanguageClient, params: lsp.PublishDiagnosticsParams) -> None:
            self.diagnostics[params.uri] = list(params.diagnostics)
            self.versions[params.uri] = params.version
            self.arrived.set()

    async def start(self) -> None:
        assert EXE is not None
        await self.client.start_io(EXE, "lsp", "--stdio")  # as vscode-languageclient starts it
        result = await asyncio.wait_for(self.client.initialize_async(lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(), root_uri=self.tmp.as_uri())), WAIT)
        self.capabilities = result.capabilities
        self.client.initialized(lsp.InitializedParams())

    async def stop(self) -> None:
        await asyncio.wait_for(self.client.shutdown_async(None), WAIT)
        self.client.exit(None)
        await asyncio.wait_for(self.client.stop(), WAIT)

    async def diagnostics_for(self, uri: str, version: int) -> list[lsp.Diagnostic]:
        async def arrived() -> None:
            while self.versions.get(uri) != version:
                self.arrived.clear()
                await self.arrived.wait()
        await asyncio.wait_for(arrived(), WAIT)
        return self.diagnostics[uri]

    async def open(self, name: str, text: str) -> tuple[str, list[lsp.Diagnostic]]:
        path = self.tmp / name
        path.write_text(text, encoding="utf-8")
        uri = path.as_uri()
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=uri, language_id="policy", version=1, text=text)))
        return uri, await self.diagnostics_for(uri, 1)

    async def change(self, uri: str, version: int, text: str) -> list[lsp.Diagnostic]:
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))
        return await self.diagnostics_for(uri, version)


def run(tmp_path: Path, scenario) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        session = Session(tmp_path)
        await session.start()
        try:
            await scenario(session)
        finally:
            await session.stop()
    asyncio.run(main())


def at(text: str, needle: str, nth: int = 0, into: int = 1) -> lsp.Position:
    """The position `into` characters inside the nth occurrence of `needle`."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    offset += into
    line = text.count("\n", 0, offset)
    return lsp.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))


def test_diagnostics_are_the_checkers_with_the_same_codes_and_spans(tmp_path: Path) -> None:
    expected = analyse_text(STEP3).diagnostics

    async def scenario(s: Session) -> None:
        uri, diags = await s.open("step3.policy", STEP3)
        got = [(d.code, d.range.start.line + 1, d.range.start.character + 1, d.range.end.line + 1,
                d.range.end.character + 1) for d in diags]
        want = [(d.code, d.to_dict()["line"], d.to_dict()["column"], d.to_dict()["end_line"], d.to_dict()["end_column"])
                for d in expected]
        assert got == want
        unknown = next(d for d in diags if d.code == "check.unknown_term")
        assert unknown.severity == lsp.DiagnosticSeverity.Error
        assert "marketting" in unknown.message and "help: did you mean `marketing`" in unknown.message
        assert unknown.range.start == at(STEP3, "marketting", into=0)

        # Fixing the typo clears the error; breaking the syntax gives a parse diagnostic.
        fixed = STEP3.replace("marketting", "marketing")
        assert not any(d.severity == lsp.DiagnosticSeverity.Error for d in await s.change(uri, 2, fixed))
        broken = fixed.replace("for marketing", "for marketing if")
        diags = await s.change(uri, 3, broken)
        parse_error = analyse_text(broken).diagnostics[0]
        assert [d.code for d in diags] == [parse_error.code] and parse_error.code.startswith("parse.")
        assert diags[0].range.start.line + 1 == parse_error.line
    run(tmp_path, scenario)


def test_hover_names_label_declaration_and_uses(tmp_path: Path) -> None:
    async def scenario(s: Session) -> None:
        uri, _ = await s.open("hover.policy", STEP3)
        where = at(STEP3, "allow use of email", into=len("allow use of e"))
        hover = await asyncio.wait_for(s.client.text_document_hover_async(lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=where)), WAIT)
        assert hover is not None
        text = hover.contents.value
        decl_line = STEP3[: STEP3.index('data email')].count("\n") + 1
        use_line = where.line + 1
        assert "**data** `email`" in text and '"E-mail address"' in text
        assert f"declared on line {decl_line}" in text and f"used on line {use_line}" in text
        assert hover.range.start == at(STEP3, "allow use of email", into=len("allow use of "))
        nothing = await asyncio.wait_for(s.client.text_document_hover_async(lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=0, character=0))), WAIT)
        assert nothing is None
    run(tmp_path, scenario)


def test_completion_offers_the_ids_of_the_kind_the_position_needs(tmp_path: Path) -> None:
    half_typed = STEP3.replace("for marketting", "for mark")

    async def complete(s: Session, uri: str, text: str, needle: str, into: int) -> list[str]:
        result = await asyncio.wait_for(s.client.text_document_completion_async(lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=at(text, needle, into=into))), WAIT)
        assert isinstance(result, lsp.CompletionList)
        return [item.label for item in result.items]

    async def scenario(s: Session) -> None:
        uri, _ = await s.open("complete.policy", half_typed)
        assert await complete(s, uri, half_typed, "  for mark", len("  for mark")) == ["marketing", "marketing.newsletter"]
        assert await complete(s, uri, half_typed, "from contact", len("from c")) == ["contact", "forum"]
        # Text that does not parse (a clause left open) still completes, from the last words that parsed.
        open_clause = half_typed.replace("  for mark", "  for mark if ")
        await s.change(uri, 2, open_clause)
        facts = await complete(s, uri, open_clause, "  for mark if ", len("  for mark if "))
        assert facts == ["newsletter_form", "notification_settings"]
        basis = await complete(s, uri, open_clause, "basis consent", len("basis "))
        assert "legitimate_interests" in basis and "email" not in basis
    run(tmp_path, scenario)


def test_definition_formatting_and_the_did_you_mean_code_action(tmp_path: Path) -> None:
    messy = STEP3.replace("data email \"E-mail address\"", "data   email   \"E-mail address\"")

    async def scenario(s: Session) -> None:
        uri, diags = await s.open("fix.policy", messy)
        loc = await asyncio.wait_for(s.client.text_document_definition_async(lsp.DefinitionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=at(messy, "from contact", into=len("from co")))), WAIT)
        assert isinstance(loc, lsp.Location)
        assert loc.range.start == at(messy, "source contact", into=len("source "))

        edits = await asyncio.wait_for(s.client.text_document_formatting_async(lsp.DocumentFormattingParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            options=lsp.FormattingOptions(tab_size=2, insert_spaces=True))), WAIT)
        assert edits is not None and len(edits) == 1
        assert edits[0].new_text == format_text(messy).text and edits[0].new_text != messy

        unknown = next(d for d in diags if d.code == "check.unknown_term")
        actions = await asyncio.wait_for(s.client.text_document_code_action_async(lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), range=unknown.range,
            context=lsp.CodeActionContext(diagnostics=[unknown]))), WAIT)
        assert actions is not None
        titles = [a.title for a in actions]
        assert titles == ["Change `marketting` to `marketing`", "Change `marketting` to `marketing.newsletter`"]
        first = actions[0]
        assert isinstance(first, lsp.CodeAction) and first.is_preferred and first.edit is not None
        (edit,) = first.edit.changes[uri]
        assert edit.range == unknown.range and edit.new_text == "marketing"
        # Applying it, as the editor would, leaves no error.
        lines = messy.split("\n")
        line = lines[edit.range.start.line]
        lines[edit.range.start.line] = line[: edit.range.start.character] + edit.new_text + line[edit.range.end.character:]
        after = await s.change(uri, 2, "\n".join(lines))
        assert not [d for d in after if d.severity == lsp.DiagnosticSeverity.Error]
    run(tmp_path, scenario)
