"""Command-line times: ISO 8601 with or without an offset, and relative to now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from heatnet.timeparse import parse_time, to_ms

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 15, 8, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("-1h", NOW - timedelta(hours=1)),
        ("-30m", NOW - timedelta(minutes=30)),
        ("-2d", NOW - timedelta(days=2)),
        ("now-90s", NOW - timedelta(seconds=90)),
        ("+15min", NOW + timedelta(minutes=15)),
        ("2026-12-14T23:30", datetime(2026, 12, 14, 23, 30, tzinfo=SHANGHAI)),
        ("2026-12-14", datetime(2026, 12, 14, tzinfo=SHANGHAI)),
        ("2026-12-14T15:30:00Z", datetime(2026, 12, 14, 15, 30, tzinfo=UTC)),
        ("2026-12-14T23:30:00+08:00", datetime(2026, 12, 14, 15, 30, tzinfo=UTC)),
    ],
)
def test_times_the_cli_accepts(text: str, expected: datetime) -> None:
    assert parse_time(text, SHANGHAI, NOW) == expected


def test_naive_means_the_site_zone() -> None:
    naive = parse_time("2026-12-15T08:00", SHANGHAI, NOW)
    assert to_ms(naive) == to_ms(datetime(2026, 12, 15, 0, 0, tzinfo=UTC))


@pytest.mark.parametrize("text", ["yesterday", "-1y", "2026-13-01", "1h", ""])
def test_anything_else_is_refused_with_what_was_expected(text: str) -> None:
    with pytest.raises(ValueError, match="expected an ISO 8601 time"):
        parse_time(text, SHANGHAI, NOW)
