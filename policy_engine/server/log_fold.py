"""Folding single-decision requests into batch rows when a flush writes them.

The memo hits of the direct path are folded before, as they are queued (log_runs.py, the common
case, which hands its runs to the flush as batch rows); this folds the singles that come otherwise
(the ASGI route's, `record`'s), with the same rows as the result.

Why: a `decisions` row costs the writer about the same whether it holds one decision or a hundred
(its parameters, its statement slot, its page bytes and the time index's entry), and the writer
shares the GIL with the event loop. Measured before this: 2.8-4.3 µs of writer time per single
request against 0.22 µs per decision of a batch request. So the singles of one flush that were
queued in the same millisecond, one after another, without a trace context, are written as one
batch row (log_schema.py, version 3; its decisions named by their pairs since version 5): the
readers see each decision as before, through the view.

What a decision keeps: its query, answer, latency (float32 seconds, as every batch row's), decision
id and place in the id sequence (runs are cut at anything else, so ids keep the queue's order).
Its `ts` becomes that of the first decision of its millisecond: under 1 ms off, in the millisecond
its request was queued in (and, but for a clock step, its UUIDv7 decision id's). A request with a
`traceparent` keeps its own row (a batch row holds one trace context).
"""

from __future__ import annotations

import json
import sys
from array import array
from typing import Any

from policy_engine.server.log_writer import Request

_BIG_ENDIAN = sys.byteorder == "big"


def float32s(values: Any) -> bytes:
    """Little-endian float32s, in C: the layout's latencies (log_schema.py)."""
    out = array("f", values)
    if _BIG_ENDIAN:
        out.byteswap()
    return out.tobytes()


def latency_columns(latencies: Any) -> tuple[float, bytes]:
    """(their sum, their float32 blob) for a batch row; the blob of one float32 when all are equal (the
    answers of one request from the server's memo share the lookup's time): one C-level pass more."""
    first = latencies[0]
    if latencies.count(first) == len(latencies):
        return first * len(latencies), float32s((first,))
    return sum(latencies), float32s(latencies)


def ids_text(ids: list[Any], table: dict[Any, str]) -> Any:
    """The JSON array of the things' ids in the file (`table`: thing -> its id, as text), or, when one
    is not known there yet (or is unhashable), the list of things itself (the writer learns them)."""
    try:
        return "[" + ",".join(map(table.get, ids)) + "]"
    except TypeError:  # None for one not yet known (or a query not yet a text)
        return ids


def strings(texts: list[str]) -> str:
    """A JSON array of strings (decision ids that are not one IdBlock): one join when none needs
    escaping, else json.dumps."""
    joined = '","'.join(texts)
    if joined.isprintable() and "\\" not in joined and joined.count('"') == 2 * (len(texts) - 1):
        return '["' + joined + '"]'
    return json.dumps(texts, separators=(",", ":"), ensure_ascii=False)


def consecutive(ids: list[str]) -> bool:
    """Whether the ids count up by one in their last 12 hex digits under one 24-character prefix (the
    layout's integer form). Checked in full: a caller of `record` may give ids of its own."""
    first, last = ids[0], ids[-1]
    if len(first) != 36 or first[:24] != last[:24]:
        return False
    try:
        low = int(first[24:], 16)
        if int(last[24:], 16) - low != len(ids) - 1:
            return False
    except ValueError:
        return False
    prefix = first[:24]
    return ids == [prefix + "%012x" % i for i in range(low, low + len(ids))]


def _row(run: list[Request], pair_ids: dict[Any, str]) -> Request:
    """One batch row (as _columns makes one) of the single-decision requests of `run` (2 or more):
    its decisions as their pair ids when every (query text, answer) is known, else the list of
    (query, answer) as they came (the writer learns them)."""
    _, times, queries, encs, latencies, ids, _ = zip(*run)
    id_list = list(ids)
    first = id_list[0]
    return (len(run), times[0], ids_text(list(zip(queries, encs)), pair_ids), None, latency_columns(latencies),
            (first, int(first[24:], 16) if consecutive(id_list) else strings(id_list)), None)


def fold_singles(requests: list[Request], pair_ids: dict[Any, str]) -> list[Request]:
    """`requests` with each run of two or more consecutive single-decision requests of one
    millisecond and no traceparent made one batch row; the rest, and the order, as they were.
    `pair_ids`: (query text, answer (Encoded)) -> its id in the file's pairs."""
    out: list[Request] = []
    run: list[Request] = []
    run_ms = -1
    for r in requests:
        if r[0] == 1 and r[6] is None:
            ms = int(r[1] * 1000)
            if ms == run_ms:
                run.append(r)
                continue
            if run:
                out.append(run[0] if len(run) == 1 else _row(run, pair_ids))
            run, run_ms = [r], ms
            continue
        if run:
            out.append(run[0] if len(run) == 1 else _row(run, pair_ids))
            run, run_ms = [], -1
        out.append(r)
    if run:
        out.append(run[0] if len(run) == 1 else _row(run, pair_ids))
    return out
