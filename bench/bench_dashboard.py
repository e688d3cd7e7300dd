"""The control-room dashboard at 200 substations with a season of data in SQLite (issue 5).

1. Overview refresh callback (the Python function behind the tiles, source figures and
   heat chart), called directly: median and p95 with the historian connection and board
   fresh (cold: a new SqliteHistorian and app per call) and reused (warm); the baseline is
   SqliteHistorian.latest() of the same points (all of them, as the board reads) in the
   same run, cold and warm likewise.
2. Bytes of the substation trend callback for the season, POSTed to /_dash-update-component
   through the Flask test client, against the same callback serving every raw sample.
3. Resident memory (VmHWM, VmRSS) of a child process that creates the app and runs every
   page's callbacks for the season range once through the test client.

The season comes from bench/dashboard_season.py, cached under /tmp (see its docstring for
what is stored). Rounds alternate callback and baseline; best round and spread reported.

    .venv/bin/python bench/bench_dashboard.py [--rounds 3] [--calls 30] [--first 5]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_simulator import synthetic_site  # noqa: E402
from dash import Dash  # noqa: E402
from dashboard_season import check, write_season  # noqa: E402

from dashboard.app import create_app  # noqa: E402
from dashboard.board import LIVE_S, Board  # noqa: E402
from dashboard.pages import PAGES  # noqa: E402
from dashboard.pages import substation as substation_page  # noqa: E402
from dashboard.trends import Trace, decimate  # noqa: E402
from heatnet.config import SiteConfig  # noqa: E402
from heatnet.points import Quality  # noqa: E402
from historian.base import Historian  # noqa: E402
from historian.sqlite import SqliteHistorian  # noqa: E402

FOLDER = Path("/tmp/heatnet-bench-dashboard")
UPDATE = "/_dash-update-component"


def season_file(days: int, substations: int) -> Path:
    """The cached season file, generated (after a consistency check) when missing."""
    FOLDER.mkdir(exist_ok=True)
    db = FOLDER / f"season-{days}d-{substations}ss.sqlite"
    if not db.exists():
        check(FOLDER, synthetic_site(2))
        partial = db.with_suffix(".partial")
        began = time.perf_counter()
        write_season(partial, synthetic_site(substations), days)
        partial.rename(db)
        print(f"generated {db} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return db


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def callback(app: Dash, output: str) -> Callable[..., Any]:
    """The page's own function behind the callback that has `output` ("id.property")."""
    key = next(k for k in app.callback_map if output in k.strip(".").split("..."))
    return app.callback_map[key]["callback"].__wrapped__  # type: ignore[no-any-return]


def request_body(app: Dash, key: str, values: dict[str, Any]) -> dict[str, Any]:
    """A /_dash-update-component body for one callback, inputs and states from `values`."""
    spec = app.callback_map[key]
    outputs = [
        dict(zip(("id", "property"), o.rsplit(".", 1), strict=True))
        for o in key.strip(".").split("...")
    ]
    inputs = [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in spec["inputs"]]
    state = [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in spec["state"]]
    return {
        "output": key,
        "outputs": outputs if key.startswith("..") else outputs[0],
        "inputs": inputs,
        "state": state,
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs],
    }


def season_values(site: SiteConfig) -> dict[str, Any]:
    """Input values that ask every page for the season (first substation, English)."""
    first = site.substations[0].id
    values: dict[str, Any] = {"lang-switch.value": "en", "tick.n_intervals": 1}
    for prefix in ("bal", "tr", "cmp", "cv", "out"):
        values[f"{prefix}-range.value"] = "season"
    values["tr-substation.value"] = values["cv-substation.value"] = first
    return values


def stats_ms(seconds: list[float]) -> tuple[float, float]:
    """Median and p95 in milliseconds."""
    ms = np.array(seconds) * 1000
    return float(np.median(ms)), float(np.percentile(ms, 95))


def timed(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


# ---- 1. overview -------------------------------------------------------------------


def board_of(refresh: Callable[..., Any]) -> Board:
    """The Board a page's callback closes over."""
    cells = (c.cell_contents for c in refresh.__closure__ or ())
    return next(c for c in cells if isinstance(c, Board))


def overview_round(db: Path, site: SiteConfig, calls: int, first: int) -> dict[str, list[float]]:
    """Seconds per overview refresh and per latest(): on a new historian connection (first),
    with the board's live picture to read (cold) and shared from a call just before (warm)."""
    got: dict[str, list[float]] = {
        k: [] for k in ("cb_first", "hist_first", "cb_cold", "hist_cold", "cb_warm")
    }
    for _ in range(first):
        store = SqliteHistorian(db)
        got["hist_first"].append(timed(store.latest))
        store.close()
        store = SqliteHistorian(db)
        refresh = callback(create_app(site, store), "ov-tiles.children")
        got["cb_first"].append(timed(lambda: refresh(1, "en")))  # noqa: B023
        store.close()
    store = SqliteHistorian(db)
    refresh = callback(create_app(site, store), "ov-tiles.children")
    board = board_of(refresh)
    refresh(1, "en")
    for _ in range(calls):
        got["hist_cold"].append(timed(store.latest))
        board.forget_live()
        got["cb_cold"].append(timed(lambda: refresh(1, "en")))
        got["cb_warm"].append(timed(lambda: refresh(1, "en")))
    store.close()
    return got


def overview_parts(db: Path, site: SiteConfig, calls: int) -> dict[str, float]:
    """Median ms of the parts of a cold refresh: the live picture's reads, then the rest."""
    store = SqliteHistorian(db)
    board = board_of(callback(create_app(site, store), "ov-tiles.children"))
    parts = {
        "latest() of every point": board.historian.latest,
        "active alarms": board.journal.active,
    }
    out = {name: stats_ms([timed(fn) for _ in range(calls)])[0] for name, fn in parts.items()}
    store.close()
    return out


# ---- 2. trend bytes ----------------------------------------------------------------


def raw_trace(historian: Historian, path: str, start_ms: int, end_ms: int) -> Trace:
    """Every raw sample of the range, breaks kept as read_trace keeps them: no decimation."""
    raw = historian.read_raw(path, start_ms, end_ms)
    usable = (raw.quality < Quality.BAD) & np.isfinite(raw.values)
    return decimate(raw.ts_ms, raw.values, usable, max_points=len(raw) + 1)


def trend_post(db: Path, site: SiteConfig) -> dict[str, Any]:
    """The season trend POST: bytes (plain, gzip), seconds, points; then the next tick's."""
    store = SqliteHistorian(db)
    app = create_app(site, store)
    key = next(k for k in app.callback_map if "tr-temps.figure" in k)
    values = season_values(site)
    client = app.server.test_client()
    began = time.perf_counter()
    response = client.post(UPDATE, json=request_body(app, key, values))
    seconds = time.perf_counter() - began
    if response.status_code != 200:
        raise RuntimeError(f"trend callback failed: {response.status_code} {response.data[:300]!r}")
    got = json.loads(response.data)["response"]
    points = sum(
        sum(1 for x in trace["x"] if x is not None)
        for chart in substation_page.CHARTS
        for trace in got[chart]["figure"]["data"]
    )
    values |= {"tick.n_intervals": 2, "tr-shown.data": got["tr-shown"]["data"]}
    began = time.perf_counter()
    tick = client.post(UPDATE, json=request_body(app, key, values))
    tick_s = time.perf_counter() - began
    store.close()
    return {
        "bytes": len(response.data),
        "gzip": len(gzip.compress(response.data)),
        "s": seconds,
        "points": points,
        "tick": (tick.status_code, len(tick.data), tick_s),
    }


def trend_bytes(db: Path, site: SiteConfig) -> dict[str, dict[str, Any]]:
    """The season trend as served, and with read_trace swapped for every raw sample."""
    served = trend_post(db, site)
    decimated_reader = substation_page.read_trace
    substation_page.read_trace = raw_trace
    try:
        raw = trend_post(db, site)
    finally:
        substation_page.read_trace = decimated_reader
    return {"served": served, "raw": raw}


# ---- 3. memory ---------------------------------------------------------------------


def memory_child(db: Path, substations: int) -> None:
    """Create the app, run every page's callbacks for the season once; print JSON."""
    site = synthetic_site(substations)
    store = SqliteHistorian(db)
    app = create_app(site, store)
    client = app.server.test_client()
    client.get("/")
    before = proc_status()
    values = season_values(site)
    timings: dict[str, tuple[float, int, int]] = {}
    for page in PAGES:
        body = request_body(app, "page.children", {**values, "url.pathname": page.PATH})
        client.post(UPDATE, json=body)
    for key, spec in app.callback_map.items():
        if any(i["property"] == "n_clicks" for i in spec["inputs"]):
            continue  # operator actions (acknowledge, evaluate) write, they do not render
        began = time.perf_counter()
        response = client.post(UPDATE, json=request_body(app, key, values))
        if response.status_code not in (200, 204):
            raise RuntimeError(f"{key}: {response.status_code} {response.data[:300]!r}")
        seconds = time.perf_counter() - began
        hwm = proc_status()["VmHWM"]
        timings[key.strip(".").split(".")[0]] = (seconds, len(response.data), hwm)
    print(json.dumps({"before": before, "after": proc_status(), "callbacks": timings}))


def proc_status() -> dict[str, int]:
    """VmHWM and VmRSS in kB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            fields[name] = int(rest.split()[0])
    return fields


def memory_run(db: Path, substations: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(db), "--substations", str(substations)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# ---- main --------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--substations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=30, help="warm calls per round")
    parser.add_argument("--first", type=int, default=5, help="calls on new connections per round")
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.substations)
        return
    db = season_file(args.days, args.substations)
    site = synthetic_site(args.substations)
    store = SqliteHistorian(db)
    print(f"{db}: {db.stat().st_size / 1e9:.2f} GB, {len(store.list_points()):,} points, "
          f"{store.count():,} raw samples")  # fmt: skip
    store.close()
    callback(create_app(site, SqliteHistorian(db)), "ov-tiles.children")(1, "en")  # imports

    print(f"\n1. overview refresh, {args.substations} substations ({load()})")
    for r in range(args.rounds):
        got = overview_round(db, site, args.calls, args.first)
        cells = {k: stats_ms(v) for k, v in got.items()}
        line = [
            f"{name}: callback {cells[f'cb_{kind}'][0]:.1f} ms (p95 {cells[f'cb_{kind}'][1]:.1f})"
            + (
                f", latest() {cells[f'hist_{kind}'][0]:.1f} ms (p95 {cells[f'hist_{kind}'][1]:.1f})"
                f", ratio {cells[f'cb_{kind}'][0] / cells[f'hist_{kind}'][0]:.1f}"
                if f"hist_{kind}" in cells
                else f", ratio to cold latest() {cells['cb_warm'][0] / cells['hist_cold'][0]:.2f}"
            )
            for kind, name in (
                ("first", "new connection"),
                ("cold", "live cache cold"),
                ("warm", f"live cache warm (<{LIVE_S:g} s)"),
            )
        ]
        print(f"  round {r + 1} ({load()}):\n    " + "\n    ".join(line))
    parts = overview_parts(db, site, args.calls)
    print(
        "  live picture reads (median ms): " + ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
    )

    print(f"\n2. substation trend, season range, {len(substation_page.CHARTS)} charts")
    for r in range(args.rounds):
        got = trend_bytes(db, site)
        served, raw = got["served"], got["raw"]
        status, tick_b, tick_s = served["tick"]
        print(
            f"  round {r + 1} ({load()}): served {served['bytes']:,} B ({served['gzip']:,} gzip), "
            f"{served['points']:,} points, {served['s'] * 1000:.0f} ms; undecimated "
            f"{raw['bytes']:,} B ({raw['gzip']:,} gzip), {raw['points']:,} points, "
            f"{raw['s'] * 1000:.0f} ms; ratio {raw['bytes'] / served['bytes']:.1f}x "
            f"({raw['gzip'] / served['gzip']:.1f}x gzip); next tick: HTTP {status}, "
            f"{tick_b} B, {tick_s * 1000:.1f} ms"
        )

    print("\n3. resident memory, every page's callbacks for the season once")
    for r in range(min(args.rounds, 2)):
        mem = memory_run(db, args.substations)
        print(
            f"  round {r + 1} ({load()}): VmHWM {mem['after']['VmHWM'] / 1024:.0f} MB, "
            f"VmRSS {mem['after']['VmRSS'] / 1024:.0f} MB (after create_app: "
            f"{mem['before']['VmRSS'] / 1024:.0f} MB); goal <= 500 MB"
        )
        print(
            "    callbacks in order run (s, response MB, VmHWM MB after): "
            + ", ".join(
                f"{k} {t:.2f} s/{b / 1e6:.2f}/{hwm / 1024:.0f}"
                for k, (t, b, hwm) in mem["callbacks"].items()
            )
        )


if __name__ == "__main__":
    main()
