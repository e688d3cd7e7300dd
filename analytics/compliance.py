"""Indoor compliance with the company's floor (18 °C, kitchens 15 °C) per room, building,
substation and site: days and hours below, deficit degree-hours, overheating and its cost."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analytics.calendar import in_season
from analytics.evidence import Evidence, Result
from heatnet.config import Season, SiteConfig

Array = NDArray[np.float64]
COST_PER_K = 0.06  # DOMAIN.md: every 1 K of overheating costs about 6 % of heating energy


@dataclass(frozen=True, slots=True)
class RoomIndex:
    """Rooms in matrix-row order: path `substation/building/room`, its groups and floor."""

    paths: tuple[str, ...]
    buildings: tuple[str, ...]  # "substation/building"
    substations: tuple[str, ...]
    floors: Array

    @classmethod
    def from_site(cls, site: SiteConfig) -> RoomIndex:
        """Every room sensor of the site in config order (the order of the point list)."""
        rows = [
            (f"{s.id}/{b.id}/{r.id}", f"{s.id}/{b.id}", s.id, site.indoor.floor_for(r.type))
            for s in site.substations
            for b in s.buildings
            for r in b.rooms
        ]
        paths, buildings, subs, floors = zip(*rows, strict=True)
        return cls(paths, buildings, subs, np.array(floors, dtype=np.float64))


@dataclass(frozen=True, slots=True)
class RoomCompliance(Result):
    path: str
    floor: float
    days_reported: int
    days_below: int
    hours_below: float | None  # None without hourly data
    deficit_degree_hours: float  # K·h below floor
    mean_indoor: float | None
    overheating_k: float  # mean K above floor + margin
    coverage: float


@dataclass(frozen=True, slots=True)
class GroupCompliance(Result):
    id: str
    rooms: int
    rooms_below: int
    room_days_below: int
    hours_below: float | None
    deficit_degree_hours: float
    mean_indoor: float | None
    overheating_k: float
    overheating_cost_pct: float
    coverage: float
    worst_room: str | None


@dataclass(frozen=True, slots=True)
class ComplianceReport(Result):
    evidence: Evidence
    site: GroupCompliance
    substations: tuple[GroupCompliance, ...]
    buildings: tuple[GroupCompliance, ...]
    rooms: tuple[RoomCompliance, ...]
    worst_rooms: tuple[str, ...]  # by deficit degree-hours, then days below


def _season_mask(labels: NDArray[np.datetime64], season: Season | None) -> NDArray[np.bool_]:
    if season is None:
        return np.ones(len(labels), dtype=bool)
    return in_season(labels.astype("datetime64[D]"), season)


def _groups(
    ids: tuple[str, ...], per_room: dict[str, Array], order: NDArray[np.intp], cost_per_k: float
) -> list[GroupCompliance]:
    """Sums and means of room figures per group, and each group's worst room."""
    names, codes = np.unique(np.array(ids), return_inverse=True)
    k = len(names)

    def total(key: str) -> Array:
        return np.bincount(codes, weights=per_room[key], minlength=k)

    def mean(key: str) -> Array:
        v = per_room[key]
        good = np.isfinite(v)
        n = np.bincount(codes, weights=good, minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(codes, weights=np.where(good, v, 0.0), minlength=k) / n

    rooms = np.bincount(codes, minlength=k)
    below = np.bincount(codes, weights=per_room["days_below"] > 0, minlength=k)
    days_below, deficit = total("days_below"), total("deficit")
    has_hours = np.isfinite(per_room["hours_below"]).all()
    hours = total("hours_below") if has_hours else np.full(k, np.nan)
    mean_in, overheat, coverage = mean("mean"), mean("overheat"), mean("coverage")
    first = np.full(k, -1)
    present, at = np.unique(codes[order], return_index=True)
    first[present] = order[at]  # each group's first room in the ranking: its worst
    paths = per_room["paths"]
    return [
        GroupCompliance(
            id=str(names[g]),
            rooms=int(rooms[g]),
            rooms_below=int(below[g]),
            room_days_below=int(days_below[g]),
            hours_below=None if np.isnan(hours[g]) else float(hours[g]),
            deficit_degree_hours=round(float(deficit[g]), 2),
            mean_indoor=None if np.isnan(mean_in[g]) else round(float(mean_in[g]), 2),
            overheating_k=round(float(np.nan_to_num(overheat[g])), 3),
            overheating_cost_pct=round(100.0 * cost_per_k * float(np.nan_to_num(overheat[g])), 2),
            coverage=round(float(np.nan_to_num(coverage[g])), 3),
            worst_room=str(paths[first[g]]) if deficit[g] > 0 else None,
        )
        for g in range(k)
    ]


def compliance(
    daily_indoor: Array,
    days: NDArray[np.datetime64],
    rooms: RoomIndex,
    *,
    hourly_indoor: Array | None = None,
    hours: NDArray[np.datetime64] | None = None,
    season: Season | None = None,
    overheat_margin_k: float = 1.0,
    cost_per_k: float = COST_PER_K,
    worst: int = 10,
) -> ComplianceReport:
    """Compliance from daily means (rooms × days, NaN = missing), optionally hourly means.

    Deficit degree-hours come from the hourly matrix when given, else from daily means
    × 24 h. Overheating is the mean of max(daily − floor − margin, 0) per room, and its
    cost the DOMAIN.md rule of about 6 % heating energy per K.
    """
    daily = np.asarray(daily_indoor, dtype=np.float64)
    floor = rooms.floors[:, None]
    season_days = _season_mask(days, season)
    daily = daily[:, season_days]
    reported = np.isfinite(daily)
    with np.errstate(invalid="ignore"):
        below = daily < floor
        days_below = below.sum(axis=1)
        gap = np.where(reported, floor - daily, 0.0)
        overheat_sum = np.where(reported, np.clip(-gap - overheat_margin_k, 0.0, None), 0.0)
        n_rep = reported.sum(axis=1)
        mean_in = np.where(n_rep > 0, np.where(reported, daily, 0.0).sum(axis=1) / n_rep, np.nan)
        overheat = np.where(n_rep > 0, overheat_sum.sum(axis=1) / np.maximum(n_rep, 1), np.nan)
    if hourly_indoor is not None and hours is not None:
        hourly = np.asarray(hourly_indoor, dtype=np.float64)[:, _season_mask(hours, season)]
        with np.errstate(invalid="ignore"):
            hours_below = (hourly < floor).sum(axis=1).astype(np.float64)
            deficit = np.nansum(np.clip(floor - hourly, 0.0, None), axis=1)
    else:
        hours_below = np.full(len(rooms.paths), np.nan)
        deficit = np.clip(gap, 0.0, None).sum(axis=1) * 24.0
    coverage = n_rep / max(daily.shape[1], 1)
    order = np.lexsort((-days_below, -deficit))
    per_room = {
        "paths": np.array(rooms.paths),
        "days_below": days_below.astype(np.float64),
        "hours_below": hours_below,
        "deficit": deficit,
        "mean": mean_in,
        "overheat": overheat,
        "coverage": coverage,
    }
    room_rows = tuple(
        RoomCompliance(
            path=p,
            floor=float(rooms.floors[i]),
            days_reported=int(n_rep[i]),
            days_below=int(days_below[i]),
            hours_below=None if np.isnan(hours_below[i]) else float(hours_below[i]),
            deficit_degree_hours=round(float(deficit[i]), 2),
            mean_indoor=None if np.isnan(mean_in[i]) else round(float(mean_in[i]), 2),
            overheating_k=round(float(np.nan_to_num(overheat[i])), 3),
            coverage=round(float(coverage[i]), 3),
        )
        for i, p in enumerate(rooms.paths)
    )
    site = _groups(("site",) * len(rooms.paths), per_room, order, cost_per_k)[0]
    worst_rooms = tuple(rooms.paths[i] for i in order[:worst] if deficit[i] > 0)
    kept = days[season_days]
    reason = None if kept.size else "no season days in the period"
    evidence = Evidence.from_days(kept, rooms.paths, round(float(coverage.mean()), 3), reason)
    return ComplianceReport(
        evidence=evidence,
        site=site,
        substations=tuple(_groups(rooms.substations, per_room, order, cost_per_k)),
        buildings=tuple(_groups(rooms.buildings, per_room, order, cost_per_k)),
        rooms=room_rows,
        worst_rooms=worst_rooms,
    )
