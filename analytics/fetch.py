"""Analytics inputs fetched from the historian by role and by the season calendar.

`SiteData(site, historian)` finds points by role (`site/asset/role`), never by address.
Times go in as aware datetimes or epoch milliseconds; series come out on epoch-aligned
bucket grids (`t_ms`, int64) or on local calendar days (datetime64[D], site time zone).

Rollups serve wherever they can: hourly buckets give hourly and daily means (a local day
is a union of whole UTC hours in zones with whole-hour offsets), 60/300 s buckets give
aligned series; raw samples are read only where quality reasons matter (outages). Reads
go through the historian's `read_buckets_many`, READ_CHUNK points at a time and only the
aggregates used, into preallocated matrices, so memory is about the result's size: a
season of 2,000 rooms hourly is 46 MB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from analytics.calendar import day_range, local_buckets, season_bounds
from analytics.compliance import RoomIndex
from analytics.heldcurve import CURVE_ROLES, CurveHistory, curve_history
from analytics.proposals import curve_roles
from heatnet.config import SiteConfig, Substation
from heatnet.samples import SampleBatch
from historian.base import Historian

Array = NDArray[np.float64]
Moment = datetime | int  # an aware datetime or epoch milliseconds
Progress = Callable[[int, int], None]  # (points done, points in all)
HOUR_S = 3600
READ_CHUNK = 100  # points per bulk read: bounds the rows held at once (100 measured
# faster and a third of the memory of 1,000 for a season of 200 substations)


class NoData(Exception):
    """The historian holds nothing for what was asked."""


def as_ms(moment: Moment) -> int:
    """Epoch milliseconds of an aware datetime (or of epoch milliseconds)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError(f"naive datetime {moment.isoformat()}: give a time zone")
        return round(moment.timestamp() * 1000)
    return int(moment)


@dataclass(frozen=True, slots=True)
class Aligned:
    """Series of several assets on one bucket grid: `series[role]` is (assets × len(t_ms))."""

    assets: tuple[str, ...]
    t_ms: NDArray[np.int64]  # bucket starts
    bucket_s: int
    series: dict[str, Array]

    def __getitem__(self, role: str) -> Array:
        return self.series[role]


@dataclass(frozen=True, slots=True)
class HourlyIndoor:
    """Hourly indoor means (rooms × hours, NaN = no sample) and their sample counts."""

    rooms: RoomIndex
    t_ms: NDArray[np.int64]  # hour starts, UTC
    hours: NDArray[np.datetime64]  # the same hours as local datetime64[h]
    mean: Array
    count: NDArray[np.int64]


class SiteData:
    """Reads a site's points from its historian, by role; `progress` hears each chunk read."""

    def __init__(
        self, site: SiteConfig, historian: Historian, *, progress: Progress | None = None
    ) -> None:
        self.site = site
        self.historian = historian
        self.tz = site.tz
        self.progress = progress

    # ---- names and periods ----------------------------------------------------------

    def path(self, asset: str, role: str) -> str:
        """The point path of an asset's role: `site/asset/role`."""
        return f"{self.site.site.id}/{asset}/{role}"

    def substations(self, ids: Iterable[str] | None = None) -> tuple[Substation, ...]:
        """The site's substations, or those named, in config order; unknown ids raise KeyError."""
        if ids is None:
            return tuple(self.site.substations)
        wanted = list(ids)
        known = {s.id: s for s in self.site.substations}
        missing = [i for i in wanted if i not in known]
        if missing:
            raise KeyError(f"unknown substation(s): {', '.join(missing)}")
        return tuple(s for s in self.site.substations if s.id in set(wanted))

    def rooms(self, substations: Iterable[str] | None = None) -> RoomIndex:
        """The room sensors of the site (or of some substations) with their floors."""
        every = RoomIndex.from_site(self.site)
        if substations is None:
            return every
        keep = np.isin(np.array(every.substations), [s.id for s in self.substations(substations)])
        pick = np.flatnonzero(keep)
        return RoomIndex(
            tuple(every.paths[i] for i in pick),
            tuple(every.buildings[i] for i in pick),
            tuple(every.substations[i] for i in pick),
            every.floors[pick],
        )

    def newest_ms(self) -> int:
        """Timestamp of the newest stored sample; NoData when the store is empty."""
        latest = self.historian.latest()
        if not len(latest):
            raise NoData("the historian holds no samples")
        return int(latest.ts_ms.max())

    def season_period(self, day: date | None = None) -> tuple[int, int]:
        """[start, end) ms of the heating season holding `day` (default: the newest data's day),
        or of the most recent one before it; cut at the newest data."""
        newest = self.newest_ms()
        if day is None:
            day = datetime.fromtimestamp(newest / 1000, self.tz).date()
        first, last = season_bounds(day, self.site.season)
        if first > day:
            first, last = season_bounds(first.replace(year=first.year - 1), self.site.season)
        start = self._midnight(first)
        end = min(self._midnight(last + timedelta(days=1)), newest + 1)
        if end <= start:
            raise NoData(f"no data in the heating season starting {first}")
        return start, end

    def _midnight(self, day: date) -> int:
        return as_ms(datetime.combine(day, time(0), self.tz))

    def days(self, start: Moment, end: Moment) -> NDArray[np.datetime64]:
        """Every local day touched by [start, end), as datetime64[D]."""
        lo, hi = as_ms(start), as_ms(end)
        first, last = local_buckets(np.array([lo, hi - 1]), self.tz)
        return day_range(first.astype(date), last.astype(date))

    # ---- bucketed series ------------------------------------------------------------

    def _grid(self, start: Moment, end: Moment, bucket_s: int) -> NDArray[np.int64]:
        lo, hi, width = as_ms(start), as_ms(end), bucket_s * 1000
        if hi <= lo:
            raise ValueError("the period is empty: end is not after start")
        return np.arange(lo // width, -(-hi // width), dtype=np.int64) * width

    def _fill(
        self,
        paths: Sequence[str],
        grid: NDArray[np.int64],
        end: Moment,
        bucket_s: int,
        aggregate: str = "mean",
    ) -> tuple[Array, NDArray[np.int64]]:
        """Bucket means (or another aggregate) and counts of each path on the grid (NaN, 0 where
        empty)."""
        values = np.full((len(paths), grid.size), np.nan)
        count = np.zeros((len(paths), grid.size), dtype=np.int64)
        width = bucket_s * 1000
        hi = as_ms(end)
        for first in range(0, len(paths), READ_CHUNK):
            chunk = paths[first : first + READ_CHUNK]
            got = self.historian.read_buckets_many(
                chunk, int(grid[0]), hi, bucket_s, aggregates=(aggregate,)
            )
            for i, path in enumerate(chunk, first):
                buckets = got[path]
                pos = (buckets.start_ms - grid[0]) // width
                values[i, pos], count[i, pos] = getattr(buckets, aggregate), buckets.count
            if self.progress is not None:
                self.progress(first + len(chunk), len(paths))
        return values, count

    def aligned(
        self,
        roles: Sequence[str],
        assets: Sequence[str],
        start: Moment,
        end: Moment,
        bucket_s: int = 300,
        *,
        trim: bool = True,
    ) -> Aligned:
        """Bucket means of each role of each asset on one epoch-aligned grid.

        With `trim` the grid is cut to the buckets between the first and last holding any
        sample, so a period reaching past the data does not look like a stop of it.
        """
        grid = self._grid(start, end, bucket_s)
        paths = [self.path(a, r) for r in roles for a in assets]
        mean, _ = self._fill(paths, grid, end, bucket_s)
        n = len(assets)
        series = {r: mean[k * n : (k + 1) * n] for k, r in enumerate(roles)}
        if trim:
            present = np.flatnonzero(np.isfinite(mean).any(axis=0))
            keep = slice(present[0], present[-1] + 1) if present.size else slice(0, 0)
            grid = grid[keep]
            series = {r: v[:, keep] for r, v in series.items()}
        return Aligned(tuple(assets), grid, bucket_s, series)

    def hourly(self, role: str, assets: Sequence[str], start: Moment, end: Moment) -> Aligned:
        """Hourly means of one role for some assets, on the full hour grid of the period."""
        return self.aligned([role], assets, start, end, HOUR_S, trim=False)

    def daily(
        self, role: str, assets: Sequence[str], start: Moment, end: Moment
    ) -> tuple[NDArray[np.datetime64], Array]:
        """Local-day means of one role per asset (assets × days), from hourly buckets."""
        grid = self._grid(start, end, HOUR_S)
        mean, count = self._fill([self.path(a, role) for a in assets], grid, end, HOUR_S)
        days = self.days(start, end)
        return days, daily_means(grid, mean, count, days, self.tz)

    def hourly_indoor(
        self, start: Moment, end: Moment, substations: Iterable[str] | None = None
    ) -> HourlyIndoor:
        """Hourly means of every room sensor (of some substations) over the period."""
        rooms = self.rooms(substations)
        site_id = self.site.site.id
        grid = self._grid(start, end, HOUR_S)
        paths = [f"{site_id}/{p}/t_indoor" for p in rooms.paths]
        mean, count = self._fill(paths, grid, end, HOUR_S)
        return HourlyIndoor(rooms, grid, local_buckets(grid, self.tz, "h"), mean, count)

    def daily_indoor(
        self, start: Moment, end: Moment, substations: Iterable[str] | None = None
    ) -> tuple[NDArray[np.datetime64], Array, RoomIndex]:
        """Local-day indoor means: (days, rooms × days matrix, RoomIndex of the rows)."""
        hourly = self.hourly_indoor(start, end, substations)
        days = self.days(start, end)
        return (
            days,
            daily_means(hourly.t_ms, hourly.mean, hourly.count, days, self.tz),
            hourly.rooms,
        )

    def held_curves(
        self, substations: Sequence[Substation], start: Moment, end: Moment
    ) -> dict[str, CurveHistory]:
        """The heating curve each substation's PLC held over the period, from its curve_*
        points (hourly last values; the hour of a change is looked up in raw samples), or
        the site file's curve where the historian has none."""
        grid = self._grid(start, end, HOUR_S)
        paths = [self.path(s.id, r) for r in CURVE_ROLES for s in substations]
        last, _ = self._fill(paths, grid, end, HOUR_S, "last")
        n = len(substations)
        found = {}
        for i, s in enumerate(substations):
            held = {r: last[k * n + i] for k, r in enumerate(CURVE_ROLES)}
            history = curve_history(grid, held, self.site.curves[s.curve])
            found[s.id] = self._exact_changes(s.id, history)
        return found

    def _exact_changes(self, asset: str, history: CurveHistory) -> CurveHistory:
        """Each change moved from the start of its hour to its first raw sample."""
        since = list(history.since_ms)
        for k in range(1, len(since)):
            before, after = curve_roles(history.curves[k - 1]), curve_roles(history.curves[k])
            moments = []
            for role, value in after.items():
                if before.get(role) != value:
                    raw = self.raw(role, asset, since[k], since[k] + HOUR_S * 1000)
                    hit = np.flatnonzero(raw.values == value)
                    moments += [int(raw.ts_ms[hit[0]])] if hit.size else []
            since[k] = min(moments, default=since[k])
        return replace(history, since_ms=tuple(since))

    # ---- raw ------------------------------------------------------------------------

    def raw(self, role: str, asset: str, start: Moment, end: Moment) -> SampleBatch:
        """Every stored sample of one role of one asset, with quality and reason."""
        return self.historian.read_raw(self.path(asset, role), as_ms(start), as_ms(end))


def daily_means(
    t_ms: NDArray[np.int64],
    mean: Array,
    count: NDArray[np.int64],
    days: NDArray[np.datetime64],
    tz: ZoneInfo,
) -> Array:
    """Sample-weighted local-day means of sorted hourly buckets (series × days, NaN if none)."""
    out = np.full((mean.shape[0], days.size), np.nan)
    if t_ms.size == 0:
        return out
    labels = local_buckets(t_ms, tz)
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    weighted = np.where(count > 0, np.nan_to_num(mean) * count, 0.0)
    sums = np.add.reduceat(weighted, starts, axis=1)
    counts = np.add.reduceat(count, starts, axis=1)
    pos = np.searchsorted(days, labels[starts])
    keep = pos < days.size
    with np.errstate(invalid="ignore", divide="ignore"):
        out[:, pos[keep]] = np.where(counts > 0, sums / counts, np.nan)[:, keep]
    return out
