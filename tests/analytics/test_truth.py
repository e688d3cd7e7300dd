"""Truth tests: analytics over a simulated period with known faults, read back from SQLite
through analytics.fetch, find exactly those faults; the curve proposals, applied in the
simulator, bring every room to its floor and cut the overheating substation's heat."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics import report
from analytics.alarms import AlarmJournal, AlarmState, UnknownAlarm
from analytics.calendar import degree_days
from analytics.evaluate import SOURCES, evaluate
from analytics.fetch import SiteData
from heatnet.cli import main
from tests.analytics.truthsite import DAY_S, LEAK, OFFLINE, STEP_S, TRIP, build

STEP_MS = int(STEP_S * 1000)
pytestmark = pytest.mark.timeout(300)  # the module's simulated period is built once, ~1 min
SETTLE_DAYS = 3  # rooms answer a curve change within a day or two


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """20 days with the faults, proposals from days 1–14, applied, then 8 days more."""
    folder = tmp_path_factory.mktemp("truth")
    site, model, recorder = build(folder)
    t0 = int(model.start.timestamp() * 1000)
    recorder.run(20)
    recorder.historian.flush()
    data = SiteData(site, recorder.historian)
    lo, hi = t0 + DAY_S * 1000, model.now_ms() + 1  # day 0 is the model settling
    found = {
        "compliance": report.compliance(data, lo, hi),
        "outages": {r.asset: r for r in report.outages(data, lo, hi)},
        "leaks": {r.substation: r for r in report.leaks(data, lo, hi)},
        "curves": {r.asset: r for r in report.curve_tracking(data, lo, hi)},
        "findings": evaluate(data, lo, hi),
    }
    before_trip = t0 + int(TRIP.start * 1000) - (TRIP.start % DAY_S) * 1000
    proposals = {p.substation: p for p in report.proposals(data, lo, before_trip)}
    for sid, proposal in proposals.items():
        assert proposal.proposed is not None, proposal.evidence.withheld_reason
        for role in ("curve_slope", "curve_shift"):
            model.write(f"t/{sid}/{role}", proposal.proposed[role])
    applied = model.now_ms() + 1
    recorder.run(8)
    recorder.historian.flush()
    yield {
        **found,
        "site": site,
        "model": model,
        "data": data,
        "t0": t0,
        "period": (lo, hi),
        "proposals": proposals,
        "applied": applied,
        "indoor_truth": np.array(recorder.indoor_truth),
        "folder": folder,
    }
    recorder.historian.close()


def truth_rooms_below(season: dict[str, Any]) -> set[str]:
    """Rooms whose noise-free daily mean fell below their floor on a day of the period."""
    steps_per_day = int(DAY_S / STEP_S)
    days = season["indoor_truth"][steps_per_day : 20 * steps_per_day]
    daily = days.reshape(19, steps_per_day, -1).mean(axis=1)
    model = season["model"]
    floors = np.array(
        [15.0 if p.split("/")[-1].startswith("k") else 18.0 for p in model.truth.room_paths]
    )
    return {
        p
        for p, low in zip(model.truth.room_paths, (daily < floors).any(axis=0), strict=True)
        if low
    }


def test_compliance_finds_the_cold_rooms_and_the_overheating_substation(
    season: dict[str, Any],
) -> None:
    c = season["compliance"]
    below = {r.path for r in c.rooms if r.days_below > 0}
    assert below == truth_rooms_below(season)
    persistent = {r.path.rsplit("/", 1)[0] for r in c.rooms if r.days_below >= 3}
    assert persistent == {"ss1/b1", "ss3/b2"}  # the cold curve and the undersized radiators
    subs = {g.id: g for g in c.substations}
    assert subs["ss2"].rooms_below == 0 and subs["ss2"].overheating_k > 3.0
    assert max(subs, key=lambda s: subs[s].overheating_k) == "ss2"
    assert subs["ss1"].overheating_k < 0.1


def test_leak_found_at_its_substation_and_start(season: dict[str, Any]) -> None:
    leaks = season["leaks"]
    assert [s for s, r in leaks.items() if r.alerts] == ["ss2"]
    (alert,) = leaks["ss2"].alerts
    assert abs(alert.start_ms - (season["t0"] + int(LEAK.start * 1000))) <= 2 * STEP_MS
    assert alert.excess_m3h == pytest.approx(2.0, abs=0.1)
    # the baseline stays frozen while the alert is active: it lasts until the period ends
    hi = season["period"][1]
    assert alert.end is None
    assert alert.duration_h == pytest.approx((hi - alert.start_ms) / 3_600_000, abs=0.5)


def test_source_trip_is_an_outage_with_notice_and_comms_loss_is_not(season: dict[str, Any]) -> None:
    trip_ms = season["t0"] + int(TRIP.start * 1000)
    site = season["site"]
    for sub in site.substations:
        report_ = season["outages"][sub.id]
        (outage,) = report_.outages
        assert abs(outage.start_ms - trip_ms) <= 2 * STEP_MS
        assert outage.duration_h == pytest.approx(10.0, abs=0.5) and outage.duration_h >= 8
        assert outage.cause == "heat source stopped" and outage.notice_required
        assert outage.buildings == tuple(b.id for b in sub.buildings)
        assert outage.notice is not None and "热源停运" in outage.notice["zh"]
    assert {s: len(r.comms_losses) for s, r in season["outages"].items()} == {
        "ss1": 1, "ss2": 0, "ss3": 0,
    }  # fmt: skip
    (loss,) = season["outages"]["ss1"].comms_losses
    assert abs(loss.start_ms - (season["t0"] + int(OFFLINE.start * 1000))) <= 2 * STEP_MS
    assert loss.duration_h == pytest.approx(6.0, abs=0.4)


def test_alarm_findings_are_exactly_the_faults(season: dict[str, Any]) -> None:
    by_source: dict[str, set[str]] = {}
    for f in season["findings"]:
        by_source.setdefault(f.source, set()).add(f.path)
    assert by_source == {
        "limit": {"t/ss2/makeup_flow"},
        "leak": {"t/ss2"},
        "outage": {"t/ss1", "t/ss2", "t/ss3"},
        "comms": {"t/ss1"},
        "compliance": {f"t/{b}" for b in {p.rsplit("/", 1)[0] for p in truth_rooms_below(season)}},
    }
    outage = next(f for f in season["findings"] if f.alarm_id == "outage:t/ss1")
    assert outage.priority == "urgent" and "notified" in outage.message


def test_journal_states_and_acknowledgement(season: dict[str, Any], tmp_path: Path) -> None:
    from historian import SqliteHistorian

    store = SqliteHistorian(tmp_path / "journal.sqlite")
    journal = AlarmJournal(store)
    lo, hi = season["period"]
    events = journal.record(season["findings"], lo, hi, SOURCES)
    assert journal.record(season["findings"], lo, hi, SOURCES) == events  # replays replace
    cold = "compliance:t/ss1/b1"
    states = journal.statuses()
    assert states[cold].state == AlarmState.ACTIVE_UNACKED
    assert states["outage:t/ss1"].state == AlarmState.CLEARED_UNACKED
    journal.acknowledge("outage:t/ss1", "李工", hi)
    journal.acknowledge(cold, "李工", hi)
    states = journal.statuses()
    assert states["outage:t/ss1"].state == AlarmState.NORMAL
    assert states[cold].state == AlarmState.ACTIVE_ACKED
    assert states[cold].operator == "李工" and states[cold].acked_ms == hi
    with pytest.raises(UnknownAlarm):
        journal.acknowledge(cold, "李工", hi + 1)
    assert "outage:t/ss1" not in {s.alarm_id for s in journal.active()}
    store.close()


def test_cli_outages_json_matches(
    season: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    lo, hi = season["period"]
    site_file = str(season["folder"] / "site.yaml")
    start, end = (np.datetime64(t, "ms").astype(str) + "+00:00" for t in (lo, hi))
    code = main(
        ["analyze", "outages", "-c", site_file, "--start", start, "--end", end, "--format", "json"]
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["analysis"], doc["site"]) == ("outages", "t")
    assert doc["period"]["start_ms"] == lo
    outages = {r["asset"]: r for r in doc["results"]}
    assert [len(outages[s]["outages"]) for s in ("ss1", "ss2", "ss3")] == [1, 1, 1]
    assert outages["ss1"]["outages"][0]["notice_required"] is True
    assert [c["start_ms"] for c in outages["ss1"]["comms_losses"]] == [
        season["outages"]["ss1"].comms_losses[0].start_ms
    ]


def test_proposals_applied_bring_every_room_to_its_floor(season: dict[str, Any]) -> None:
    proposals = season["proposals"]
    assert proposals["ss1"].proposed["curve_slope"] > proposals["ss1"].current["curve_slope"]
    assert proposals["ss2"].heat_change_pct < -10
    data, applied = season["data"], season["applied"]
    after = applied + SETTLE_DAYS * DAY_S * 1000
    _, daily, rooms = data.daily_indoor(after, season["model"].now_ms() + 1)
    complete = daily[:, :-1]  # the last day is partial
    assert np.isfinite(complete).all()
    assert np.all(complete >= rooms.floors[:, None]), dict(
        zip(rooms.paths, complete.min(axis=1).round(2), strict=True)
    )


def test_overheating_substation_uses_less_heat_per_degree_day(season: dict[str, Any]) -> None:
    data, applied, t0 = season["data"], season["applied"], season["t0"]
    before_trip = t0 + int(TRIP.start * 1000) - (TRIP.start % DAY_S) * 1000

    def per_degree_day(lo: int, hi: int) -> float:
        _, q2 = data.daily("q2_power", ["ss2"], lo, hi)
        _, t_out = data.daily("t_outdoor", ["ss2"], lo, hi)
        return float(np.nansum(q2[0, 1:-1]) / np.nansum(degree_days(t_out[0, 1:-1])))

    before = per_degree_day(t0 + 8 * DAY_S * 1000, before_trip)
    after = per_degree_day(applied + SETTLE_DAYS * DAY_S * 1000, season["model"].now_ms() + 1)
    assert after < 0.9 * before
