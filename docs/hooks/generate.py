"""mkdocs hook: pages that are generated from the code at build time, so they cannot drift.

A page asks for generated text with an HTML comment on a line of its own:

    <!-- generate: cli-reference -->                      every command, option and exit code (click)
    <!-- generate: openapi -->                            the HTTP API, from the app factory's OpenAPI document
    <!-- generate: render POLICY --source-text TEXT -->   `policy-engine render` of a policy, in Markdown

The OpenAPI document itself becomes the site's file `openapi.json`.
"""

from __future__ import annotations

import inspect
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MARKER = re.compile(r"^<!-- generate: (?P<what>[\w-]+)(?P<args>[^>]*?) -->$", re.MULTILINE)


# ---- CLI reference -------------------------------------------------------------------------


def _help_paragraphs(text: str) -> list[str]:
    """click's help text as Markdown: paragraphs joined, `\\b` (no-rewrap) paragraphs kept as written."""
    out = []
    for para in re.split(r"\n\s*\n", inspect.cleandoc(text or "")):
        if para.startswith("\b"):
            out += ["```text", para[1:].strip("\n"), "```"]
        else:
            out.append(" ".join(para.split()))
        out.append("")
    return out


def _cell(text: Any) -> str:
    return " ".join(str(text or "").split()).replace("|", "\\|")


def _command_doc(name: str, cmd: Any, parent: Any, level: int = 3) -> str:
    import click

    ctx = click.Context(cmd, info_name=name.rsplit(" ", 1)[-1], parent=parent)
    usage = " ".join(cmd.collect_usage_pieces(ctx))
    full = ctx.command_path
    out = ["#" * level + f" `{name}`", "", "```text", f"{full} {usage}".rstrip(), "```", ""]
    out += _help_paragraphs(cmd.help or "")
    args = [p for p in cmd.params if isinstance(p, click.Argument)]
    if args:
        out += ["| argument | required | type |", "|---|---|---|"]
        for a in args:
            many = " (one or more)" if a.nargs == -1 else ""
            out.append(f"| `{a.human_readable_name}` | {'yes' if a.required else 'no'} | {a.type.name}{many} |")
        out.append("")
    opts = [p for p in cmd.params if isinstance(p, click.Option) and not getattr(p, "hidden", False)]
    opts = [p for p in opts if "--help" not in p.opts]
    if opts:
        # the rows of `--help` itself, so the reference says exactly what the command says
        out += ["| option | meaning |", "|---|---|"]
        for p in opts:
            names, meaning = p.get_help_record(ctx) or ("", "")
            out.append(f"| `{_cell(names)}` | {_cell(meaning)} |")
        out.append("")
    out += _subcommands(name, cmd, parent)
    return "\n".join(out)


def cli_reference() -> str:
    import click

    from policy_engine.cli import app as cli_module

    group = cli_module.cli
    root = click.Context(group, info_name="policy-engine")
    doc = cli_module.__doc__ or ""
    codes = re.search(r"Exit codes:(.*?)(?:\n\n|$)", doc, re.S)
    out = [f"`policy-engine` has {len(group.commands)} commands. Every command takes `-h`/`--help`; "
           "`policy-engine --version` prints the version.", ""]
    if codes:
        out += ["**Exit codes** (all commands): " + " ".join(codes.group(1).split()), ""]
        rest = doc[codes.end():].strip()
        if rest:
            out += [" ".join(rest.split()), ""]
    for name in sorted(group.commands):
        out.append(_command_doc(name, group.commands[name], root))
    return "\n".join(out)


def _subcommands(prefix: str, cmd: Any, ctx: Any) -> list[str]:
    import click

    if not isinstance(cmd, click.Group):
        return []
    out = []
    sub_ctx = click.Context(cmd, info_name=prefix.rsplit(" ", 1)[-1], parent=ctx)
    for name in sorted(cmd.commands):
        out.append(_command_doc(f"{prefix} {name}", cmd.commands[name], sub_ctx, level=4))
    return out


# ---- HTTP API from OpenAPI ------------------------------------------------------------------


def openapi_document() -> dict[str, Any]:
    from policy_engine.server.app import create_app
    from policy_engine.server.config import ServerConfig

    app = create_app(ServerConfig(policy_path=str(ROOT / "policies" / "open_e.policy")))
    return app.openapi()


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type_of(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"[{name}](#{name.lower()})"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [_type_of(s) for s in schema[key]]
            return " or ".join(dict.fromkeys(parts))
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    t = schema.get("type", "any")
    if t == "array":
        return "array of " + _type_of(schema.get("items", {}))
    if t == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return "object of " + _type_of(schema["additionalProperties"])
    return str(t)


def openapi_markdown(spec: dict[str, Any]) -> str:
    info = spec.get("info", {})
    out = [f"**{info.get('title', 'API')}**, version `{info.get('version', '?')}`, OpenAPI "
           f"`{spec.get('openapi', '?')}`. The machine-readable document is [openapi.json](openapi.json) "
           "(the running service serves it at `/openapi.json` too).", ""]
    if info.get("description"):
        out += [info["description"], ""]
    out += ["## Endpoints", ""]
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            out += [f"### `{method.upper()} {path}`", ""]
            if op.get("summary"):
                out += [f"**{op['summary']}**", ""]
            if op.get("description"):
                out += [op["description"].strip(), ""]
            params = op.get("parameters", [])
            if params:
                out += ["| parameter | in | type | required | meaning |", "|---|---|---|---|---|"]
                for p in params:
                    out.append(f"| `{p['name']}` | {p.get('in', '')} | {_type_of(p.get('schema', {}))} | "
                               f"{'yes' if p.get('required') else 'no'} | {_cell(p.get('description'))} |")
                out.append("")
            body = op.get("requestBody")
            if body:
                for media, content in body.get("content", {}).items():
                    out += [f"Request body (`{media}`): {_type_of(content.get('schema', {}))}"
                            + (" — required" if body.get("required") else ""), ""]
            responses = op.get("responses", {})
            if responses:
                out += ["| status | meaning | body |", "|---|---|---|"]
                for status, resp in responses.items():
                    media = resp.get("content", {})
                    shape = ", ".join(f"{_type_of(c.get('schema', {}))} (`{m}`)" for m, c in media.items())
                    out.append(f"| {status} | {_cell(resp.get('description'))} | {shape} |")
                out.append("")
    schemas = spec.get("components", {}).get("schemas", {})
    if schemas:
        out += ["## Schemas", ""]
        for name, schema in schemas.items():
            out += [f"### {name}", ""]
            if schema.get("description"):
                out += [_cell(schema["description"]), ""]
            props = schema.get("properties", {})
            required = set(schema.get("required", []))
            if props:
                out += ["| field | type | required | meaning |", "|---|---|---|---|"]
                for field, fs in props.items():
                    out.append(f"| `{field}` | {_type_of(fs)} | {'yes' if field in required else 'no'} | "
                               f"{_cell(fs.get('description') or fs.get('title'))} |")
                out.append("")
            elif "enum" in schema:
                out += ["One of " + _type_of(schema) + ".", ""]
    return "\n".join(out)


# ---- the rendered policy ----------------------------------------------------------------------


def rendered_policy(args: list[str]) -> str:
    from policy_engine import api
    from policy_engine.render import document as render

    path = args[0]
    text_path = args[args.index("--source-text") + 1] if "--source-text" in args else None
    source, policy = api.parse_policy(ROOT / path)
    published = (ROOT / text_path).read_text(encoding="utf-8") if text_path else None
    doc = render.render(policy, source, "markdown", published, text_path)
    # the document's own title stays the page title; say where the page comes from under it
    title, _, rest = doc.partition("\n")
    command = "policy-engine render " + " ".join(args)
    note = (f'!!! note "Generated"\n    This page is the output of `{command}`, run when the site is built, '
            "so it always shows the policy as it is in the repository.\n")
    return f"{title}\n\n{note}{rest}".replace(f"`{ROOT}/", "`")


# ---- mkdocs events -------------------------------------------------------------------------------

_openapi_cache: dict[str, Any] = {}


def generate(what: str, args: list[str]) -> str:
    if what == "cli-reference":
        return cli_reference()
    if what == "openapi":
        if "spec" not in _openapi_cache:
            _openapi_cache["spec"] = openapi_document()
        return openapi_markdown(_openapi_cache["spec"])
    if what == "render":
        return rendered_policy(args)
    raise ValueError(f"unknown generated block {what!r}")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return MARKER.sub(lambda m: generate(m["what"], shlex.split(m["args"])), markdown)


def on_files(files: Any, config: Any) -> Any:
    """The OpenAPI document becomes a file of the site (`openapi.json`), so pages can link to it."""
    from mkdocs.structure.files import File

    if "spec" not in _openapi_cache:
        _openapi_cache["spec"] = openapi_document()
    files.append(File.generated(config, "openapi.json", content=json.dumps(_openapi_cache["spec"], indent=2) + "\n"))
    return files
