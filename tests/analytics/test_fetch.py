"""analytics.fetch on a small SQLite historian: season period, daily means from hourly
rollups in the site's zone, aligned grids, and the CLI's analyze command on top."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from analytics import report
from analytics.fetch import NoData, SiteData, as_ms
from heatnet.cli import main
from heatnet.config import SiteConfig
from heatnet.samples import SampleBatch
from historian import SqliteHistorian
from tests.simulators.physics_sites import load, one_building_doc

T0 = datetime.fromisoformat("2026-12-15T00:00:00+08:00")
STEP_MS = 600_000


@pytest.fixture
def site(tmp_path: Path) -> SiteConfig:
    doc = one_building_doc(rooms=[{"id": "r1"}, {"id": "k1", "type": "kitchen"}])
    doc["historian"] = {"backend": "sqlite", "path": str(tmp_path / "h.sqlite")}
    return load(tmp_path, doc)


@pytest.fixture
def store(site: SiteConfig, tmp_path: Path) -> SqliteHistorian:
    """Three local days at 10 min: r1 at 17 °C on day 1 then 19, k1 at 16; ss1 supply 60."""
    t = as_ms(T0) + np.arange(3 * 144, dtype=np.int64) * STEP_MS
    r1 = np.where(t < as_ms(T0) + 86_400_000, 17.0, 19.0)
    h = SqliteHistorian(tmp_path / "h.sqlite")
    paths = ["t/ss1/b1/r1/t_indoor", "t/ss1/b1/k1/t_indoor", "t/ss1/t2_supply"]
    for i, ts in enumerate(t.tolist()):
        h.write(SampleBatch.of(paths, ts, [r1[i], 16.0, 60.0]))
    h.flush()
    return h


def test_daily_indoor_in_local_days_and_season_period(
    site: SiteConfig, store: SqliteHistorian
) -> None:
    data = SiteData(site, store)
    lo, hi = data.season_period()
    assert lo == as_ms(datetime.fromisoformat("2026-11-15T00:00:00+08:00"))
    assert hi == as_ms(T0) + (3 * 144 - 1) * STEP_MS + 1  # cut at the newest data
    days, daily, rooms = data.daily_indoor(T0, hi)
    assert days.tolist() == [date(2026, 12, 15), date(2026, 12, 16), date(2026, 12, 17)]
    assert rooms.paths == ("ss1/b1/r1", "ss1/b1/k1") and rooms.floors.tolist() == [18.0, 15.0]
    np.testing.assert_allclose(daily, [[17.0, 19.0, 19.0], [16.0, 16.0, 16.0]])
    result = report.compliance(data, lo, hi)
    assert {r.path: r.days_below for r in result.rooms} == {"ss1/b1/r1": 1, "ss1/b1/k1": 0}
    assert result.rooms[0].hours_below == 24.0


def test_aligned_grid_is_trimmed_to_the_data(site: SiteConfig, store: SqliteHistorian) -> None:
    data = SiteData(site, store)
    aligned = data.aligned(["t2_supply", "f2_flow"], ["ss1"], T0, as_ms(T0) + 5 * 86_400_000, 600)
    assert aligned.t_ms[0] == as_ms(T0) and aligned.t_ms.size == 3 * 144
    assert np.all(aligned["t2_supply"] == 60.0) and np.isnan(aligned["f2_flow"]).all()
    hourly = data.hourly("t2_supply", ["ss1"], T0, as_ms(T0) + 86_400_000)
    assert hourly.t_ms.size == 24 and np.all(hourly["t2_supply"] == 60.0)
    with pytest.raises(KeyError, match="ss9"):
        data.substations(["ss9"])
    with pytest.raises(ValueError, match="naive"):
        as_ms(datetime(2026, 12, 15))


def test_empty_historian_has_no_season(site: SiteConfig, tmp_path: Path) -> None:
    with pytest.raises(NoData):
        SiteData(site, SqliteHistorian(tmp_path / "empty.sqlite")).season_period()


def test_cli_analyze_formats_and_bad_input(
    site: SiteConfig, store: SqliteHistorian, capsys: pytest.CaptureFixture[str]
) -> None:
    store.close()
    config = str(site.source)
    assert main(["analyze", "compliance", "-c", config, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == ["analysis", "site", "period", "results"]
    assert doc["results"]["site"]["rooms_below"] == 1
    assert main(["analyze", "compliance", "-c", config, "--start", "2026-12-15"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["id", "rooms", "rooms_below"] and table[1].startswith("site")
    assert main(["analyze", "balance", "-c", config, "--format", "csv", "--start", "-30d"]) == 0
    assert capsys.readouterr().out.startswith("id,q1_mean_kw")
    for argv, message in [
        (["--start", "yesterday"], "expected an ISO 8601 time"),
        (["--start", "2026-12-17", "--end", "2026-12-16"], "is not before"),
    ]:
        assert main(["analyze", "leaks", "-c", config, *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert main(["analyze", "nonsense", "-c", config]) == 2
    assert main(["alarms", "-c", config, "--ack", "leak:t/ss1"]) == 2
    assert "--operator" in capsys.readouterr().err
    assert main(["alarms", "-c", config, "--ack", "x", "--operator", "王工"]) == 2
    assert "no unacknowledged alarm" in capsys.readouterr().err
