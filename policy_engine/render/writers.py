"""model.Document -> text: Markdown (written here) or HTML (a Jinja2 template).

The HTML comes from `templates/document.html.j2`, shipped in the package. A firm can pass its
own template (`render --template FILE`): it gets `doc` (the model.Document), `css` (the
shipped style sheet) and the filters `inline` (a block's runs as HTML) and `anchor`, and can
`{% extends "document.html.j2" %}` to change one block only (`style`, `header`, `toc`, `body`,
`source`, `footer`).
"""

from __future__ import annotations

import html
import re
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import Markup

from policy_engine.render.model import Bullets, Document, Heading, Inline, NoteBlock, Para, Table

FORMATS: tuple[str, ...] = ("markdown", "html")
TEMPLATE = "document.html.j2"


class TemplateError(ValueError):
    """A template that cannot be read or rendered; the message names the file, line and problem."""


# ---- Markdown ------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def _md_text(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_inline(parts: list[Inline], in_table: bool = False) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(_md_text(part))
            continue
        style, text = part
        if style == "code":
            fence = "``" if "`" in text else "`"
            body = text.replace("|", "\\|") if in_table else text
            out.append(f"{fence}{body}{fence}")
        elif style == "line":
            out.append(text)
        elif style == "quote":
            out.append("“" + _md_text(text) + "”")
        else:
            mark = "**" if style == "strong" else "*"
            out.append(mark + _md_text(text) + mark)
    return "".join(out).replace("\n", " ")


def _md_runs(parts: list[Inline]) -> str:
    out = []
    for part in parts:
        if isinstance(part, tuple) and part[0] == "quote":
            out.append("“" + _md_text(part[1]) + "”")
        elif isinstance(part, str) and part.strip():
            out.append("*" + _md_text(part.strip()) + "*")
    return " ".join(out)


def _md_note(note: NoteBlock) -> str:
    """Quotes of the published text as a block quote; the encoder's words in italics."""
    text = "> " + ("**Not encodable** " if note.not_encodable else "") + _md_runs(note.parts)
    return text + ("\n>" if note.items else "") + "".join("\n> - " + _md_runs(item) for item in note.items)


def to_markdown(doc: Document) -> str:
    """The contents come after the opening paragraphs, before the first section heading."""
    out: list[str] = []
    toc = doc.toc
    for b in doc.blocks:
        if isinstance(b, Heading):
            if b.level == 2 and toc:
                out.append("**Contents**\n\n" + "\n".join(
                    "  " * (level - 2) + f"- [{_md_text(text)}](#{a})" for level, text, a in toc))
                toc = []
            if b.anchor:
                out.append(f'<a id="{b.anchor}"></a>\n' + "#" * b.level + " " + md_inline(b.text))
            else:
                out.append("#" * b.level + " " + md_inline(b.text))
        elif isinstance(b, Para):
            out.append(md_inline(b.text))
        elif isinstance(b, Bullets):
            out.append("\n".join("- " + md_inline(item) for item in b.items))
        elif isinstance(b, NoteBlock):
            out.append(_md_note(b))
        elif isinstance(b, Table):
            lines = ["| " + " | ".join(b.header) + " |", "|" + "---|" * len(b.header)]
            for row in b.rows:
                lines.append("| " + " | ".join(md_inline(cell, in_table=True) for cell in row) + " |")
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


# ---- HTML ----------------------------------------------------------------------------------


def html_inline(parts: list[Inline]) -> Markup:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(html.escape(part, quote=False))
            continue
        style, text = part
        if style == "line":
            out.append(f'<a class="line" href="#L{int(text)}">{int(text)}</a>')
        elif style == "quote":
            out.append(f'<q class="published">{html.escape(text, quote=False)}</q>')
        else:
            out.append(f"<{style}>{html.escape(text, quote=False)}</{style}>")
    return Markup("".join(out))


def environment(template: str | Path | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if template is not None:
        loaders.append(jinja2.FileSystemLoader(str(Path(template).resolve().parent)))
    loaders.append(jinja2.PackageLoader("policy_engine.render", "templates"))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["inline"] = html_inline
    return env


def stylesheet() -> str:
    return resources.files("policy_engine.render").joinpath("templates", "style.css").read_text(encoding="utf-8")


def to_html(doc: Document, template: str | Path | None = None) -> str:
    """The document as one HTML page; `template`: a Jinja2 file of the firm's own."""
    env = environment(template)
    name = Path(template).name if template is not None else TEMPLATE
    where = str(template) if template is not None else name
    try:
        page = env.get_template(name).render(doc=doc, css=Markup(stylesheet()))
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(f"{where}:{err.lineno}: template syntax error: {err.message}") from None
    except jinja2.TemplateNotFound as err:
        raise TemplateError(f"cannot read the template {where}: not found ({err.name})") from None
    except (jinja2.UndefinedError, TypeError) as err:
        raise TemplateError(f"{where}: the template uses something the document does not have: {err}") from None
    except OSError as err:
        raise TemplateError(f"cannot read the template {where}: {err.strerror or err}") from None
    return page if page.endswith("\n") else page + "\n"
