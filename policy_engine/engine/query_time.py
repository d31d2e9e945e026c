"""The times a question carries. In: a query's `at`, `collected_at` and `facts` (a list, or an
object of fact -> true | RFC 3339 timestamp). Out: aware UTC datetimes and the (fact, time) pairs a
validated Key holds, or a QueryError naming the field.

Timestamps are RFC 3339 date-times with an offset (`2026-03-01T00:00:00Z`,
`2026-03-01T01:00:00+01:00`); a date alone or a time without offset is refused, since which instant
it means is not known. Python callers may pass aware `datetime` objects instead of text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

UTC = dt.timezone.utc
# The instants a question may carry. Why bounded: the engine adds and subtracts periods of up to
# 1,000 years (language/check_time.py, MAX_YEARS) in a calendar that runs from the year 1 to 9999.
FIRST_YEAR, LAST_YEAR = 1000, 8999
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
EXAMPLE = "2026-03-01T00:00:00Z"


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


def instant(value: Any, field: str) -> dt.datetime:
    """An RFC 3339 timestamp (text) or an aware datetime -> an aware UTC datetime."""
    from policy_engine.engine.query import QueryError, _type_name

    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise QueryError("query.invalid_time", f"`{field}` is a datetime without a time zone; give an aware "
                             "datetime (tzinfo=timezone.utc)", field)
        return _in_range(value, value.isoformat(), field)
    if not isinstance(value, str):
        raise QueryError("query.wrong_type", f"`{field}` must be an RFC 3339 timestamp like {EXAMPLE}, not "
                         f"{_type_name(value)}", field)
    if _RFC3339.fullmatch(value) is None:
        hint = " (it has no time zone offset: add Z for UTC)" if re.fullmatch(
            r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", value) else \
            " (a date alone is not an instant: add the time and offset, like T00:00:00Z)" if re.fullmatch(
                r"\d{4}-\d{2}-\d{2}", value) else ""
        raise QueryError("query.invalid_time", f"`{field}` is not an RFC 3339 timestamp: `{value}`{hint}; write it "
                         f"like {EXAMPLE}", field)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise QueryError("query.invalid_time", f"`{field}` is not a moment in the calendar: `{value}`; write it "
                         f"like {EXAMPLE}", field) from None
    return _in_range(parsed, value, field)


def within_range(moment: dt.datetime) -> dt.datetime | None:
    """An aware instant in UTC, or None when it lies outside FIRST_YEAR..LAST_YEAR (in UTC)."""
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # the offset moves it out of the calendar (year 1 or 9999)
        return None
    return moment if FIRST_YEAR <= moment.year <= LAST_YEAR else None


def _in_range(moment: dt.datetime, text: str, field: str) -> dt.datetime:
    from policy_engine.engine.query import QueryError

    inside = within_range(moment)
    if inside is None:
        raise QueryError("query.invalid_time", f"`{field}` is `{text}`, outside the years {FIRST_YEAR} to "
                         f"{LAST_YEAR} the engine computes in (it adds periods of up to 1,000 years); write an "
                         f"instant in that range, like {EXAMPLE}", field)
    return inside


def fact_times(facts: Mapping[Any, Any]) -> tuple[list[str], tuple[tuple[str, dt.datetime], ...]]:
    """`{"account_closed": "2026-03-01T00:00:00Z", "newsletter_form": true}` -> the facts listed and
    the (fact, time) pairs of those with a time, sorted by fact."""
    from policy_engine.engine.query import QueryError, _type_name

    names: list[str] = []
    times: list[tuple[str, dt.datetime]] = []
    for name, value in facts.items():
        if not isinstance(name, str):
            raise QueryError("query.wrong_type", f"`facts` names facts by text, not {_type_name(name)}", "facts")
        field = f"facts.{name}"
        if value is True:
            names.append(name)
        elif value is False or value is None:
            raise QueryError("query.wrong_type", f"`{field}` is {'false' if value is False else 'null'}: an object "
                             "of facts lists those "
                             "that hold, each with true (time unknown) or the moment it began to hold; leave out "
                             "a fact that does not hold", field)
        else:
            when = instant(value, field)
            names.append(name)
            times.append((name, when))
    return names, tuple(sorted(times))


def rfc3339(when: dt.datetime) -> str:
    """An instant as answers write it: UTC, `Z`, seconds unless a fraction is needed."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def as_json(query: Mapping[str, Any]) -> Any:
    """A query with aware datetimes in `at`, `collected_at` or the facts object, with each written as
    RFC 3339 text (what the HTTP API reads); any other query unchanged."""
    def text(v: Any) -> Any:
        return rfc3339(v) if isinstance(v, dt.datetime) and v.tzinfo is not None else v

    facts = query.get("facts")
    if not any(isinstance(query.get(k), dt.datetime) for k in ("at", "collected_at")) and not (
            isinstance(facts, Mapping) and any(isinstance(v, dt.datetime) for v in facts.values())):
        return query
    out = {k: text(v) for k, v in query.items()}
    if isinstance(facts, Mapping):
        out["facts"] = {k: text(v) for k, v in facts.items()}
    return out
