"""What the soak measures and how it reports it: metrics, the stores as keys, the figures.

A stored or acknowledged sample is one int64 key, (index of its point) << 42 | ts_ms, so
a week of 4,000 points compares as numpy arrays rather than millions of tuples.
"""

from __future__ import annotations

import platform
import re
import signal
import sqlite3
import subprocess
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.soak_site import SoakPlant
from collectors.buffer import DiskBuffer
from collectors.metrics import CollectorMetrics
from collectors.writer import HistorianWriter
from heatnet.loader import load_site
from heatnet.points import Quality, site_points
from heatnet.samples import REASON_CODES
from historian import open_historian
from historian.sqlite_read import EPOCH_S

WEEK_S = 7 * 86400.0
SCRAPE_S = 1.0
KEY_SHIFT = 1 << 42  # (path index, ts_ms) packed in one int64: ts_ms < 2**42 until 2109
RELIABILITY = Path(__file__).resolve().parent.parent / "RELIABILITY.md"
TRACEBACK = "Traceback (most recent call last)"


@dataclass(slots=True)
class SoakParams:
    folder: Path
    substations: int = 100
    simulated_s: float = WEEK_S
    wall_s: float = 900.0
    historian: str = "sqlite"
    flapping: float = 0.10
    rogue: int = 3
    kills: int = 2
    outage_sim_s: float = 600.0
    min_outage_wall_s: float = 30.0
    restart_after_s: float = 3.0
    seed: int = 1

    @property
    def speed(self) -> float:
        return self.simulated_s / self.wall_s

    @property
    def outage_wall_s(self) -> float:
        return max(self.outage_sim_s / self.speed, self.min_outage_wall_s)


@dataclass(slots=True)
class Run:
    """One `heatnet collect` process and what its metrics said last."""

    proc: subprocess.Popen[str]
    log: Path
    started: float
    polling: float | None = None  # first answer of its metrics endpoint: polling has begun
    ended: float | None = None
    exit_code: int | None = None
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)


@dataclass(slots=True)
class SoakResult:
    """Everything the report says, as numbers the test can check."""

    params: SoakParams
    polled: int
    stale: int
    stored: int
    stored_by_quality: dict[str, int]
    bad_by_reason: dict[str, int]
    left_in_buffer: int
    appended: int
    unacknowledged_at_kills: list[int]
    collapsed: int
    acknowledged_checked: int
    lost: int
    duplicates: int
    exit_codes: list[int | None]
    tracebacks: dict[str, int]
    healthy_devices: list[str]
    healthy_points_without_good: list[str]
    healthy_holes: dict[str, int]
    late_polls: dict[str, float]
    gap_windows: int
    gap_windows_marked: int
    buffer_peak_samples: float
    buffer_peak_bytes: float
    buffer_dropped: float
    historian_errors: float
    sim_lag: float
    clock_stalls: int
    clock_reads: int
    sim_behind: bool
    rogue_summary: str
    load: dict[str, Any]
    wall_total_s: float
    windows: Counter[str]

    @property
    def crashes(self) -> int:
        killed = self.exit_codes[:-1]
        bad_exits = sum(code != -signal.SIGKILL for code in killed) + (self.exit_codes[-1] != 0)
        return bad_exits + sum(self.tracebacks.values())


# ---- metrics and stores -------------------------------------------------------------

_METRIC = re.compile(r"^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A /metrics page as {(name, labels): value}; empty when the collector does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
            text = reply.read().decode()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        match = _METRIC.match(line)
        if match and not line.startswith("#"):
            labels = tuple(_LABEL.findall(match.group(2) or ""))
            found[(match.group(1), labels)] = float(match.group(3))
    return found


def total(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> float:
    return sum(v for (n, _), v in metrics.items() if n == name)


def by_device(
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str
) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for (n, labels), value in metrics.items():
        if n == name:
            out[dict(labels)["device"]] += value
    return out


class Store:
    """The historian and the disk buffer read as packed (point, ts) keys."""

    def __init__(self, site_path: Path, plant: SoakPlant, influx_url: str | None) -> None:
        self.site = load_site(site_path)
        self.specs = site_points(self.site)
        self.paths = [s.path for s in self.specs]
        self.index = {p: i for i, p in enumerate(self.paths)}
        self.device_of = [s.device_key for s in self.specs]
        self.historian_path = Path(plant.collect_doc["historian"].get("path", ""))
        self.buffer_path = Path(plant.collect_doc["collector"]["buffer_path"])
        self.influx_url = influx_url

    def keys(self, paths: list[str], ts_ms: np.ndarray) -> np.ndarray:
        idx = np.array([self.index.setdefault(p, len(self.index)) for p in paths], dtype=np.int64)
        return idx * KEY_SHIFT + ts_ms.astype(np.int64)

    def buffered(self) -> np.ndarray:
        buffer = DiskBuffer(self.buffer_path, max_bytes=10**13, max_age_s=1e12, clock=time.time)
        try:
            waiting = buffer.peek(10**12)
        finally:
            buffer.close()
        if waiting is None:
            return np.empty(0, np.int64)
        return self.keys(waiting[1].paths, waiting[1].ts_ms)

    def stored(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every stored sample's key, quality and reason code."""
        keys, quality, reason = [], [], []
        if self.influx_url is None:
            db = sqlite3.connect(f"file:{self.historian_path}?mode=ro", uri=True, timeout=30)
            try:
                ids = dict(db.execute("SELECT path, id FROM points"))
                for path, pid in ids.items():
                    rows = np.array(
                        db.execute(
                            "SELECT t, ms, quality, reason FROM samples WHERE point_id = ?", (pid,)
                        ).fetchall(),
                        dtype=np.int64,
                    ).reshape(-1, 4)
                    ts = (rows[:, 0] + EPOCH_S) * 1000 + rows[:, 1]
                    keys.append(self.index.setdefault(path, len(self.index)) * KEY_SHIFT + ts)
                    quality.append(rows[:, 2])
                    reason.append(rows[:, 3])
            finally:
                db.close()
        else:
            historian = open_historian(self.site)
            try:
                for path in historian.list_points():
                    batch = historian.read_raw(path, 0, 2**41)
                    keys.append(self.keys([path] * len(batch), batch.ts_ms))
                    quality.append(batch.quality.astype(np.int64))
                    reason.append(batch.reason.astype(np.int64))
            finally:
                historian.close()
        if not keys:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(keys), np.concatenate(quality), np.concatenate(reason)

    def acknowledged(self) -> np.ndarray:
        """What a kill now must not lose: the buffer first, then the historian it drains into."""
        waiting = self.buffered()
        return np.union1d(waiting, self.stored()[0])

    def drain(self) -> int:
        """Write what the last collector left in the buffer; how many samples that was."""
        buffer = DiskBuffer(self.buffer_path, max_bytes=10**13, max_age_s=1e12, clock=time.time)
        historian = open_historian(self.site)
        try:
            writer = HistorianWriter(
                buffer, historian, batch_size=20_000, metrics=CollectorMetrics()
            )
            return writer.drain()
        finally:
            historian.close()
            buffer.close()


def account(
    params: SoakParams,
    plant: SoakPlant,
    store: Store,
    runs: list[Run],
    acknowledged: list[np.ndarray],
    stored: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    left: int,
    peaks: dict[str, float],
    sim_out: str,
    rogue_out: str,
    timing: tuple[float, float, list[tuple[float, float]]],
    load: dict[str, Any],
    wall_total_s: float,
) -> SoakResult:
    keys, quality, reason = stored
    t0, t0_unix, clock = timing
    unique = np.unique(keys)
    ack = np.unique(np.concatenate(acknowledged)) if acknowledged else np.empty(0, np.int64)
    lost = int(np.count_nonzero(~np.isin(ack, unique)))
    polled = int(sum(total(r.metrics, "heatnet_points_total") for r in runs))
    stale = int(sum(total(r.metrics, "heatnet_stale_samples_total") for r in runs))
    appended = int(sum(total(r.metrics, "heatnet_buffer_appended_samples_total") for r in runs))
    # a killed collector loses what it polled but had not appended yet (scraped just before)
    unacknowledged = [
        int(
            total(r.metrics, "heatnet_points_total")
            + total(r.metrics, "heatnet_stale_samples_total")
            - total(r.metrics, "heatnet_buffer_appended_samples_total")
        )
        for r in runs[:-1]
    ]

    names = {int(q): q.name.lower() for q in Quality}
    by_quality = {
        names[int(q)]: int(n) for q, n in zip(*np.unique(quality, return_counts=True), strict=True)
    }
    bad = quality == int(Quality.BAD)
    bad_reason = {
        str(REASON_CODES[int(r)]) or "none": int(n)
        for r, n in zip(*np.unique(reason[bad], return_counts=True), strict=True)
    }

    point_of = (keys // KEY_SHIFT).astype(np.int64)
    ts_of = keys % KEY_SHIFT
    devices = np.array(store.device_of + [""] * (len(store.index) - len(store.device_of)))
    device_of = devices[point_of]
    good = quality != int(Quality.BAD)
    good_only = quality == int(Quality.GOOD)

    healthy = plant.healthy()
    healthy_set = set(healthy)
    good_points = set(point_of[good].tolist())
    without_good = [
        p for i, p in enumerate(store.paths) if store.device_of[i] in healthy_set
        if i not in good_points
    ]  # fmt: skip
    # holes: more than 5 polls without a good sample of a healthy device's busiest point,
    # in its own (simulated, source) time; the collector's restarts make one each
    speed_ms = params.speed * 1000.0
    holes: dict[str, int] = {}
    for device in healthy:
        mine = good & (device_of == device)
        if not mine.any():
            holes[device] = -1
            continue
        points, counts = np.unique(point_of[mine], return_counts=True)
        busiest = points[np.argmax(counts)]
        ts = np.sort(ts_of[mine & (point_of == busiest)])
        source = store.specs[int(busiest)].device.timestamps == "source"
        interval = speed_ms if source else 1000.0  # the 1 s poll in the point's own time
        holes[device] = int(np.count_nonzero(np.diff(ts) > 5 * interval))

    late: dict[str, float] = defaultdict(float)
    for run in runs:
        for device, n in by_device(run.metrics, "heatnet_missed_deadlines_total").items():
            late[device] += n

    # every offline window the collector was up for is recorded as bad or stale samples of
    # the device: in PLC (simulated) time when the device stamped them, else in wall time
    sim_start_ms = datetime.fromisoformat(str(plant.collect_doc["simulation"]["start"]))
    sim0 = int(sim_start_ms.replace(tzinfo=store.site.tz).astimezone(UTC).timestamp() * 1000)
    walls = np.array([w for w, _ in clock] or [0.0, 1.0])
    sims = np.array([ms for _, ms in clock] or [sim0, sim0 + speed_ms], dtype=np.float64)

    def wall_at(sim_ms: float) -> float:
        """The wall offset at which the simulator's clock read sim_ms (it may lag)."""
        return float(np.interp(sim_ms, sims, walls, left=np.nan, right=np.nan))

    up = [((r.polling or np.inf) - t0 + 1.0, (r.ended or r.started) - t0) for r in runs]
    windows = marked = 0
    for w in plant.windows:
        if w.kind != "device_offline":
            continue
        sim_lo, sim_hi = sim0 + w.start_s * speed_ms, sim0 + w.end_s * speed_ms
        wall_lo, wall_hi = wall_at(sim_lo), wall_at(sim_hi)
        covered = sum(max(0.0, min(wall_hi, b) - max(wall_lo, a)) for a, b in up)
        if not covered >= 2.0:  # NaN: outside the clock readings
            continue
        windows += 1
        ts = ts_of[~good_only & (device_of == w.target)]
        in_sim = (ts >= sim_lo - 2 * speed_ms) & (ts <= sim_hi + 2 * speed_ms)
        wall = ts / 1000.0 - t0_unix
        in_wall = (wall >= wall_lo - 1.0) & (wall <= wall_hi + 2.0)
        marked += bool(np.any(in_sim | in_wall))

    tracebacks = {}
    for log in [
        *(r.log for r in runs),
        params.folder / "simulator.log",
        params.folder / "rogue.log",
    ]:
        text = log.read_text(errors="replace") if log.exists() else ""
        tracebacks[log.name] = text.count(TRACEBACK)
    sim_log = (params.folder / "simulator.log").read_text(errors="replace")
    stopped = re.search(r"stopped at simulated (\S+)", sim_out)
    sim_lag = float("nan")
    if stopped:
        reached = datetime.fromisoformat(stopped.group(1)).timestamp() * 1000 - sim0
        ran = runs[-1].ended - t0 if runs[-1].ended else params.wall_s
        sim_lag = reached / (ran * speed_ms)
    return SoakResult(
        params=params,
        polled=polled,
        stale=stale,
        stored=len(keys),
        stored_by_quality=by_quality,
        bad_by_reason=bad_reason,
        left_in_buffer=left,
        appended=appended,
        unacknowledged_at_kills=unacknowledged,
        acknowledged_checked=len(ack),
        lost=lost,
        duplicates=len(keys) - len(unique),
        collapsed=polled + stale - sum(unacknowledged) - len(keys),
        exit_codes=[r.exit_code for r in runs],
        tracebacks=tracebacks,
        healthy_devices=healthy,
        healthy_points_without_good=without_good,
        healthy_holes=holes,
        late_polls=dict(late),
        gap_windows=windows,
        gap_windows_marked=marked,
        buffer_peak_samples=peaks["samples"],
        buffer_peak_bytes=peaks["bytes"],
        buffer_dropped=sum(total(r.metrics, "heatnet_buffer_dropped_samples_total") for r in runs),
        historian_errors=sum(total(r.metrics, "heatnet_historian_errors_total") for r in runs),
        sim_lag=sim_lag,
        clock_stalls=int(np.count_nonzero(np.diff(sims) <= 0)) if clock else 0,
        clock_reads=len(clock),
        sim_behind="behind its clock" in sim_log,
        rogue_summary=next(
            (line for line in rogue_out.splitlines() if "replies" in line), "no rogue server"
        ),
        load=load,
        wall_total_s=wall_total_s,
        windows=Counter(w.kind for w in plant.windows),
    )


# ---- the report ---------------------------------------------------------------------


def report(result: SoakResult, command: str) -> str:
    """The figures as a Markdown section."""
    r, p = result, result.params
    load = r.load
    healthy_late = {d: r.late_polls.get(d, 0.0) for d in r.healthy_devices}
    worst_healthy = max(healthy_late.items(), key=lambda kv: kv[1], default=("-", 0.0))
    worst_all = sorted(r.late_polls.items(), key=lambda kv: -kv[1])[:4]
    expected_holes = len(r.exit_codes) - 1
    extra_holes = {d: n for d, n in r.healthy_holes.items() if n > expected_holes}
    lines = [
        f"### {p.historian}, {p.substations} substations, "
        f"{p.simulated_s / 86400:g} simulated days in {p.wall_s:g} s",
        "",
        f"- command: `{command}`",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{load['cores']} cores, Python {platform.python_version()}",
        f"- machine load (1-min average): {load['start'][0]:.1f} at the start, "
        f"{load['mean_1m']:.1f} mean, {load['end'][0]:.1f} at the end; other benchmarks running: "
        f"{', '.join(load['others']) or 'none'}",
        f"- speed {p.speed:.0f}x; the simulator kept {r.sim_lag:.0%} of it"
        + (" (it logged that it fell behind)" if r.sim_behind else ""),
        f"- faults: {', '.join(f'{k} {n}' for k, n in sorted(r.windows.items()))} windows; "
        f"{p.rogue} devices on the rogue server ({r.rogue_summary}); historian unavailable "
        f"{p.outage_wall_s:g} s; {len(r.exit_codes) - 1} SIGKILLs",
        f"- polled {r.polled:,} samples (collectors' heatnet_points_total, last scrape of each "
        f"run) + {r.stale:,} stale markers; stored {r.stored:,} "
        f"({', '.join(f'{k} {v:,}' for k, v in r.stored_by_quality.items())}); "
        f"bad by reason: {', '.join(f'{k} {v:,}' for k, v in r.bad_by_reason.items())}",
        f"- polled + stale - stored = {r.polled + r.stale - r.stored:,} = "
        f"{sum(r.unacknowledged_at_kills):,} polled but not yet acknowledged when SIGKILL came "
        f"({', '.join(f'{n:,}' for n in r.unacknowledged_at_kills)}: points_total + "
        "stale_samples_total - buffer_appended_samples_total just before each kill) + "
        f"{r.collapsed:,} otherwise unaccounted, which is what polls that read an unmoved PLC "
        "clock give: one (point, ts) twice, stored once (the harness read the simulator's clock "
        f"{r.clock_reads} times, a second apart, and found it unmoved {r.clock_stalls} times); "
        "the last run's clean "
        f"stop appended everything; {r.left_in_buffer:,} were left in the buffer and written "
        "by the harness",
        f"- acknowledged before the kills and checked afterwards: {r.acknowledged_checked:,}; "
        f"lost: **{r.lost}**",
        f"- duplicates ((point, ts) stored twice): **{r.duplicates}**",
        f"- crashes: **{r.crashes}** (exit codes {r.exit_codes}; tracebacks "
        f"{sum(r.tracebacks.values())})",
        f"- flapping: {r.gap_windows_marked} of {r.gap_windows} offline windows the collector "
        "was up for are recorded as bad (timeout / comms_lost) or stale samples of the device",
        f"- healthy devices: {len(r.healthy_devices)}; points without a good sample: "
        f"{len(r.healthy_points_without_good)}; holes of more than 5 polls beyond the "
        f"{expected_holes} restarts: {len(extra_holes)} devices {sorted(extra_holes)[:5]}",
        f"- late polls (missed deadlines): at most {worst_healthy[1]:.0f} for a healthy device "
        f"({worst_healthy[0]}); most of all: " + ", ".join(f"{d} {n:.0f}" for d, n in worst_all),
        f"- buffer peak: {r.buffer_peak_samples:,.0f} samples, "
        f"{r.buffer_peak_bytes / 1e6:.1f} MB; dropped by its bounds: {r.buffer_dropped:.0f}; "
        f"historian write failures retried: {r.historian_errors:.0f}",
        f"- wall time in all: {r.wall_total_s:.0f} s",
    ]
    return "\n".join(lines)


def record(section: str, historian: str) -> None:
    """Put the section in RELIABILITY.md between its markers, replacing the previous one."""
    begin, end = f"<!-- soak:{historian}:begin -->", f"<!-- soak:{historian}:end -->"
    text = RELIABILITY.read_text(encoding="utf-8") if RELIABILITY.exists() else ""
    block = f"{begin}\n{section}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RELIABILITY.write_text(text, encoding="utf-8")
