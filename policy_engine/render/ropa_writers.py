"""render.ropa.Record -> CSV, XLSX (openpyxl), HTML (templates/ropa.html.j2) or JSON.

All four carry the same columns in the same order (ropa.COLUMNS, Art. 30(1)(a)-(g) first),
one row per purpose; list cells are joined by "; " in CSV and XLSX and stay lists in JSON.
"""

from __future__ import annotations

import csv
import io
import json

from policy_engine.render.ropa import COLUMNS, Record

FORMATS: tuple[str, ...] = ("csv", "xlsx", "html", "json")


def to_csv(rec: Record) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([header for _, header in COLUMNS])
    for activity in rec.activities:
        writer.writerow(activity.cells())
    return out.getvalue()


def to_json(rec: Record) -> str:
    return json.dumps(rec.to_dict(), indent=2, ensure_ascii=False) + "\n"


def to_xlsx(rec: Record) -> bytes:
    """A workbook with one sheet, "Records of processing": a bold frozen header row, wrapped
    cells and column widths a reader can work with."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook()
    sheet = book.active
    sheet.title = "Records of processing"
    sheet.append([header for _, header in COLUMNS])
    for activity in rec.activities:
        sheet.append(activity.cells())
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="E8E8E3")
    wrap = Alignment(wrap_text=True, vertical="top")
    for cell in sheet[1]:
        cell.font, cell.fill, cell.alignment = bold, fill, wrap
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = wrap
    for i, (key, _) in enumerate(COLUMNS, start=1):
        letter = sheet.cell(row=1, column=i).column_letter
        sheet.column_dimensions[letter].width = 18 if key in ("purpose_id", "rules", "contact") else 40
    sheet.freeze_panes = "B2"
    book.properties.title = f"Records of processing: {rec.name}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_html(rec: Record) -> str:
    from policy_engine.render.writers import environment, stylesheet
    from markupsafe import Markup

    page = environment(None).get_template("ropa.html.j2").render(rec=rec, columns=COLUMNS, css=Markup(stylesheet()))
    return page if page.endswith("\n") else page + "\n"


def write(rec: Record, fmt: str) -> str | bytes:
    if fmt == "csv":
        return to_csv(rec)
    if fmt == "json":
        return to_json(rec)
    if fmt == "xlsx":
        return to_xlsx(rec)
    if fmt == "html":
        return to_html(rec)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
