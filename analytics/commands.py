"""`heatnet analyze` and `heatnet alarms`: periods from the command line, results as a
table, CSV or JSON ({"analysis", "site", "period", "results"}, results from `to_dict()`)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from analytics.alarms import AlarmJournal, UnknownAlarm
from analytics.evaluate import SOURCES, evaluate
from analytics.evidence import iso_ms
from analytics.fetch import NoData, SiteData, as_ms
from analytics.report import ANALYSES
from heatnet.config import SiteConfig
from heatnet.timeparse import parse_time
from historian import open_historian

SKIPPED = {"evidence", "notice", "days", "q1_daily_kw", "q2_daily_kw", "changes"}


class BadInput(ValueError):
    """A command-line value that cannot be used: reported in one line, exit 2."""


def progress_bar(label: str, stream: TextIO) -> Callable[[int, int], None]:
    """A one-line progress bar redrawn on `stream` (the caller decides it is a terminal)."""

    def show(done: int, total: int) -> None:
        filled = 30 * done // max(total, 1)
        stream.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


def period(data: SiteData, start: str | None, end: str | None, now: datetime) -> tuple[int, int]:
    """[start, end) ms from the options; default: the latest heating season up to the data."""
    if start is None or end is None:
        season_start, season_end = data.season_period()
    try:
        lo = as_ms(parse_time(start, data.tz, now)) if start else season_start
        hi = as_ms(parse_time(end, data.tz, now)) if end else season_end
    except ValueError as err:
        raise BadInput(str(err)) from None
    if lo >= hi:
        raise BadInput(f"--start {iso_ms(lo)} is not before --end {iso_ms(hi)}")
    return lo, hi


def _scalars(row: dict[str, Any]) -> dict[str, Any]:
    """A flat table row: scalars kept, tuples of scalars joined, nested values left out."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if key in SKIPPED or isinstance(value, dict):
            continue
        if isinstance(value, list):
            if any(isinstance(v, dict | list) for v in value):
                continue
            value = "; ".join(str(v) for v in value)
        flat[key] = value
    return flat


def table_rows(analysis: str, results: Any) -> list[dict[str, Any]]:
    """The rows an analysis shows as a table or CSV."""
    if analysis == "compliance":
        groups = (results.site, *results.substations, *results.buildings)
        return [_scalars(g.to_dict()) for g in groups]
    if analysis == "balance":
        return [_scalars(s.to_dict()) for s in results.substations]
    if analysis == "leaks":
        return [_scalars(a.to_dict()) for r in results for a in r.alerts]
    if analysis == "outages":
        return [
            {"kind": kind, **_scalars(event.to_dict())}
            for r in results
            for kind, events in (("outage", r.outages), ("comms_loss", r.comms_losses))
            for event in events
        ]
    if analysis == "proposals":
        rows = []
        for p in results:
            row = _scalars(p.to_dict())
            row["proposed"] = json.dumps(p.proposed) if p.proposed else ""
            rows.append(row)
        return rows
    return [_scalars(r.to_dict()) for r in results]


def write_table(rows: list[dict[str, Any]], out: TextIO) -> None:
    """Columns padded to their widest cell; a missing value shows as `-`."""
    if not rows:
        out.write("(nothing found)\n")
        return
    columns = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[("-" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    for line in [columns, *cells]:
        out.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() + "\n")


def write_csv(rows: list[dict[str, Any]], out: TextIO) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)


def _results_dict(results: Any) -> Any:
    if isinstance(results, tuple):
        return [r.to_dict() for r in results]
    return results.to_dict()


def run_analyze(
    site: SiteConfig, analysis: str, start: str | None, end: str | None, fmt: str, progress: bool
) -> None:
    """Run one analysis and print it; BadInput or NoData for what cannot be answered."""
    historian = open_historian(site)
    try:
        data = SiteData(site, historian)
        lo, hi = period(data, start, end, datetime.now(site.tz))
        if progress:
            data.progress = progress_bar(f"{analysis}: reading", sys.stderr)
        results = ANALYSES[analysis](data, lo, hi)
    finally:
        historian.close()
    if fmt == "json":
        doc = {
            "analysis": analysis,
            "site": site.site.id,
            "period": {"start": iso_ms(lo), "end": iso_ms(hi), "start_ms": lo, "end_ms": hi},
            "results": _results_dict(results),
        }
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    elif fmt == "csv":
        write_csv(table_rows(analysis, results), sys.stdout)
    else:
        write_table(table_rows(analysis, results), sys.stdout)


def run_alarms(
    site: SiteConfig,
    *,
    active: bool,
    ack: str | None,
    operator: str | None,
    evaluate_period: tuple[str | None, str | None] | None,
    fmt: str,
) -> None:
    """List the journal's alarms, acknowledge one, or evaluate a period into the journal."""
    if ack is not None and not operator:
        raise BadInput("--ack needs --operator NAME")
    historian = open_historian(site)
    try:
        journal = AlarmJournal(historian)
        now = datetime.now(site.tz)
        if ack is not None:
            assert operator is not None
            try:
                event = journal.acknowledge(ack, operator, as_ms(now))
            except (UnknownAlarm, ValueError) as err:
                raise BadInput(str(err).strip("'\"")) from None
            print(f"{event.alarm_id}: acknowledged by {operator} at {iso_ms(event.ts_ms)}")
            return
        if evaluate_period is not None:
            data = SiteData(site, historian)
            lo, hi = period(data, *evaluate_period, now)
            recorded = journal.record(evaluate(data, lo, hi), lo, hi, SOURCES)
            print(f"evaluated {iso_ms(lo)} – {iso_ms(hi)}: {len(recorded)} journal entries")
        statuses = journal.active() if active else list(journal.statuses().values())
    finally:
        historian.close()
    rows = [s.to_dict() for s in statuses]
    for row in rows:
        for key in ("raised_ms", "cleared_ms", "acked_ms"):
            row[key.removesuffix("_ms")] = iso_ms(row.pop(key)) if row[key] else None
    if fmt == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        write_table(rows, sys.stdout)


__all__ = ["BadInput", "NoData", "run_alarms", "run_analyze"]
