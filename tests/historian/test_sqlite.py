"""SQLite specifics: readers in another process during writes, rollups, retention, errors."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from heatnet.config import SiteConfig
from heatnet.samples import SampleBatch
from historian import HistorianError, HistorianUnavailable, SqliteHistorian, open_historian
from historian.base import AlarmEvent
from historian.sqlite import encode_values

BASE_MS = 1_765_756_800_000
PATHS = [f"demo/ss{i:02d}/t2_supply" for i in range(50)]

READER = textwrap.dedent(
    """
    import sys
    from historian import SqliteHistorian
    store = SqliteHistorian(sys.argv[1])
    seen = []
    while len(seen) < 2 or seen[-1] < int(sys.argv[2]):
        seen.append(store.count())
        store.read_buckets("demo/ss00/t2_supply", 0, 2**42, 60)
        assert seen == sorted(seen), seen
    print(len(seen), seen[-1])
    """
)


def second(k: int) -> SampleBatch:
    return SampleBatch.of(PATHS, BASE_MS + k * 1000, np.full(len(PATHS), 50.0 + k % 7))


def test_another_process_reads_while_a_collector_writes(tmp_path: Path) -> None:
    store = SqliteHistorian(tmp_path / "h.sqlite")
    store.write(second(0))
    total = 600 * len(PATHS)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(store.path), str(total)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for k in range(1, 600):
        store.write(second(k))
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    reads, last = map(int, out.split())
    assert reads >= 2 and last == total


def test_rollups_follow_replays_and_late_minutes(tmp_path: Path) -> None:
    store = SqliteHistorian(tmp_path / "h.sqlite")
    for k in range(0, 180):
        store.write(second(k))
    store.write(SampleBatch.of(PATHS[:1], BASE_MS + 5_000, [1000.0]))  # a closed minute, late
    store.flush()
    rows = sqlite3.connect(store.path).execute(
        "SELECT bucket, vmax, n FROM rollup_1m WHERE point_id = 1 ORDER BY bucket"
    )
    assert [(n, vmax) for _, vmax, n in rows] == [(60, 1000.0), (60, 56.0), (60, 56.0)]
    hours = store.read_buckets(PATHS[0], BASE_MS, BASE_MS + 3_600_000, 3600)
    assert hours.count.tolist() == [180] and hours.max.tolist() == [1000.0]


def test_retention_deletes_old_raw_and_keeps_rollups(tmp_path: Path) -> None:
    now_ms = int(time.time() * 1000) // 60_000 * 60_000
    old, fresh = now_ms - 2 * 86_400_000, now_ms - 60_000
    store = SqliteHistorian(tmp_path / "h.sqlite", retention_days=1)
    store.write(SampleBatch.of(PATHS[:1] * 2, [old, fresh], [1.0, 2.0]))  # retention runs here
    assert store.read_raw(PATHS[0], 0, 2**42).values.tolist() == [2.0]
    assert store.read_buckets(PATHS[0], old, old + 60_000, 60).count.tolist() == [1]
    assert store.apply_retention(now_ms=fresh + 86_401_000) == 1
    assert store.count() == 0 and store.list_points() == [PATHS[0]]


def test_values_are_stored_as_exact_thousandths_where_possible() -> None:
    batch = SampleBatch.of(["a/b/c"] * 5, 0, [95.37, 0.1 + 0.2, np.nan, -1e300, 7.0])
    batch.texts[2] = "text"
    assert encode_values(batch) == [95370, 0.30000000000000004, "text", -1e300, 7000]


def test_locked_database_is_unavailable_and_other_errors_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    store = SqliteHistorian(path, busy_timeout_s=0.05)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    with pytest.raises(HistorianUnavailable, match="database is locked"):
        store.write(second(0))
    locker.execute("ROLLBACK")
    store.write(second(0))
    with pytest.raises(HistorianUnavailable, match="unable to open"):
        SqliteHistorian(tmp_path)  # a folder, not a file
    (tmp_path / "junk.sqlite").write_bytes(b"not a database" * 1000)
    with pytest.raises(HistorianError, match="not a database"):
        SqliteHistorian(tmp_path / "junk.sqlite")


def test_open_historian_takes_the_path_relative_to_the_site_file(demo_site: SiteConfig) -> None:
    store = open_historian(demo_site)
    assert isinstance(store, SqliteHistorian)
    assert store.path == demo_site.resolve(demo_site.historian.path)
    store.close()


def test_journal_made_before_the_write_audit_gains_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE alarm_events (alarm_id TEXT NOT NULL, ts_ms INTEGER NOT NULL, "
        "kind TEXT NOT NULL, source TEXT NOT NULL, path TEXT NOT NULL, priority TEXT NOT NULL, "
        "message TEXT NOT NULL, value REAL, operator TEXT, "
        "PRIMARY KEY (alarm_id, ts_ms, kind)) WITHOUT ROWID"
    )
    old.execute(
        "INSERT INTO alarm_events VALUES "
        "('leak:a', 5, 'raise', 'leak', 'a', 'high', 'm', 1.0, NULL)"
    )
    old.commit()
    old.close()
    store = SqliteHistorian(path)
    audit = AlarmEvent(
        "write:a/x", 6, "write", "writeback", "a/x", "low", "ok", 2.0, "li",
        device="a/plc", previous=1.0, outcome="ok",
    )  # fmt: skip
    store.write_events([audit])
    got = store.read_events(0, 10)
    store.close()
    assert [e.kind for e in got] == ["raise", "write"] and got[1] == audit
    assert got[0].outcome is None


def test_the_sqlite_path_does_not_load_the_influxdb_client() -> None:
    """influxdb-client costs each process about 18 MB; only the InfluxDB v2 API needs it."""
    code = (
        "import sys, historian, collectors.service, collectors.writer_process; "
        "sys.exit('influxdb_client' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
