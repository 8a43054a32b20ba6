"""The quality table's rows: ``Row``, the ``ROWS`` registry that ``@row`` fills, ``measured``
(one timed measurement, a refusal or a missing data set as its note) and the markdown."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.ai_quality_inputs import Absent, Refused, seconds


@dataclass
class Row:
    """One line of the table; ``baseline``/``trained``: the metric's value, None = not run."""

    tool: str
    data: str
    metric: str
    baseline: float | None
    trained: float | None
    note: str = ""


ROWS: list[Callable[[], list[Row]]] = []


def row(fn: Callable[[], list[Row]]) -> Callable[[], list[Row]]:
    """Register a function giving rows of the table."""
    ROWS.append(fn)
    return fn


def measured(
    tool: str,
    data: str,
    metric: str,
    measure: Callable[[], tuple[float, str]],
    trained: float | None = None,
) -> Row:
    """A row from ``measure()`` (the zero-sample value and a note), timed; a refusal or a
    missing data set becomes the note instead of an error."""
    started = time.perf_counter()
    try:
        value, note = measure()
    except Absent as exc:
        return Row(tool, data, metric, None, trained, f"skipped: {exc}")
    except Refused as exc:
        return Row(tool, data, metric, None, trained, f"refused: {exc}; {seconds(started)}")
    return Row(tool, data, metric, round(float(value), 3), trained, f"{note}; {seconds(started)}")


def markdown(rows: Sequence[Row]) -> str:
    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines = [
        "| tool | data | metric | zero-sample baseline | trained | note |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.tool} | {r.data} | {r.metric} | {shown(r.baseline)} | {shown(r.trained)} "
            f"| {r.note} |"
        )
    return "\n".join(lines)
