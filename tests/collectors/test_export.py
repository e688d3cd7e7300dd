"""`heatnet export`: CSV and JSON in the site's time zone, time arguments, one-line errors."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from heatnet.cli import main
from heatnet.points import Quality, QualityReason
from heatnet.samples import REASON_CODE, SampleBatch
from historian.sqlite import SqliteHistorian
from tests.conftest import write_site

POINT = "demo/ss01/t2_supply"
T0 = datetime(2026, 12, 15, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def config(tmp_path: Path, demo_doc: dict[str, Any]) -> Path:
    demo_doc["historian"] = {"backend": "sqlite", "path": str(tmp_path / "h.sqlite")}
    historian = SqliteHistorian(tmp_path / "h.sqlite")
    recent = datetime.now(UTC) - timedelta(minutes=10)
    historian.write(
        SampleBatch.of(
            [POINT] * 4,
            [ms(T0), ms(T0 + timedelta(minutes=1)), ms(T0 + timedelta(minutes=2)), ms(recent)],
            [55.25, np.nan, 55.5, 60.0],
            [Quality.GOOD, Quality.BAD, Quality.UNCERTAIN, Quality.GOOD],
            [
                REASON_CODE[r]
                for r in (
                    QualityReason.NONE,
                    QualityReason.TIMEOUT,
                    QualityReason.STALE,
                    QualityReason.NONE,
                )
            ],
        )
    )
    historian.close()
    return write_site(tmp_path, demo_doc)


def export(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["export", "-c", str(config), "--point", POINT, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_csv_has_site_time_with_offset_value_and_quality(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = export(capsys, config, "--start", "2026-12-15T08:00", "--end", "2026-12-16")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows == [
        ["time", "value", "quality"],
        ["2026-12-15T08:00:00.000+08:00", "55.25", "good"],
        ["2026-12-15T08:01:00.000+08:00", "", "bad:timeout"],
        ["2026-12-15T08:02:00.000+08:00", "55.5", "uncertain:stale"],
    ]


def test_json_has_the_same_fields(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = export(
        capsys,
        config,
        "--format",
        "json",
        "--start",
        "2026-12-15T00:00:30Z",
        "--end",
        "2026-12-15T08:02:00.001",
    )
    assert code == 0
    assert json.loads(out) == [
        {"time": "2026-12-15T08:01:00.000+08:00", "value": None, "quality": "bad:timeout"},
        {"time": "2026-12-15T08:02:00.000+08:00", "value": 55.5, "quality": "uncertain:stale"},
    ]


def test_relative_times_and_everything_without_them(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, recent, _ = export(capsys, config, "--format", "json", "--start", "-1h", "--end", "now")
    assert [r["value"] for r in json.loads(recent)] == [60.0]
    _, everything, _ = export(capsys, config, "--format", "json")
    assert len(json.loads(everything)) == 4


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--start", "yesterday"], "--start"),
        (["--end", "2026-12-32"], "--end"),
        (["--start", "now", "--end", "-1h"], "is not before --end"),
    ],
)
def test_a_bad_time_exits_2_naming_the_argument(
    config: Path, capsys: pytest.CaptureFixture[str], args: list[str], named: str
) -> None:
    code, out, err = export(capsys, config, *args)
    assert code == 2 and not out
    assert named in err and err.count("\n") == 1


def test_an_unknown_point_exits_2_naming_it(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["export", "-c", str(config), "--point", "demo/ss99/t2_supply"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "demo/ss99/t2_supply" in err and err.count("\n") == 1
