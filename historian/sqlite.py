"""The embedded default historian: one SQLite file in WAL mode, readable while a collector writes.

Schema, one row per sample and a few bytes each:

    points(id, path)                      integer ids, so samples repeat 2 bytes, not a path
    samples(point_id, t, ms, value, quality, reason)   PRIMARY KEY (point_id, t, ms) WITHOUT ROWID
        t      whole seconds since 2000-01-01 UTC (4 bytes until 2068); ms 0..999 (0 bytes when 0)
        value  INTEGER thousandths where that is exact (3 bytes for 95.37 °C), else REAL;
               TEXT for string points; NULL when a read failed
    rollup_1m, rollup_1h(point_id, bucket, vmin, vmax, vsum, n, vlast)   good and uncertain only
    pending(bucket)                       minutes whose raw rows changed since their rollup
    alarm_events(alarm_id, ts_ms, kind, source, path, priority, message, value, operator)
                                          the alarm journal, PRIMARY KEY (alarm_id, ts_ms, kind)

A write marks the minutes it touches pending; when a later minute arrives (or at flush/close)
each pending minute is recomputed from raw in SQL, then its hour from the minutes. Replays,
duplicates and late samples therefore leave rollups exact; readers take pending minutes from
raw. Retention deletes raw rows only: rollups stay (about 1/60 of the raw size at 1 s polling).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from heatnet.samples import SampleBatch
from historian.base import (
    AGGREGATES,
    AlarmEvent,
    Buckets,
    HistorianError,
    HistorianUnavailable,
    in_journal_order,
)
from historian.buckets import Parts, columns_for, empty_buckets, merge_parts
from historian.sqlite_read import EPOCH_S, GOOD, HOUR_MS, MINUTE_MS, NUMBER, TS, bucket_parts

PAGE_SIZE = 16_384
CACHE_KIB = 32_768  # page cache: the default 2 MB re-reads the leaves a write appends to
RETENTION_EVERY_S = 3600.0
_UNAVAILABLE = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN,
}

TEXT = "CASE typeof(value) WHEN 'text' THEN value END"
RAW_RANGE = f"point_id = :pid AND t >= :t0 AND t <= :t1 AND {TS} >= :lo AND {TS} < :hi"

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS samples (
    point_id INTEGER NOT NULL, t INTEGER NOT NULL, ms INTEGER NOT NULL,
    value, quality INTEGER NOT NULL, reason INTEGER NOT NULL,
    PRIMARY KEY (point_id, t, ms)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_1m (
    point_id INTEGER NOT NULL, bucket INTEGER NOT NULL,
    vmin REAL, vmax REAL, vsum REAL, n INTEGER, vlast REAL,
    PRIMARY KEY (point_id, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_1h (
    point_id INTEGER NOT NULL, bucket INTEGER NOT NULL,
    vmin REAL, vmax REAL, vsum REAL, n INTEGER, vlast REAL,
    PRIMARY KEY (point_id, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (bucket INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS alarm_events (
    alarm_id TEXT NOT NULL, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL,
    source TEXT NOT NULL, path TEXT NOT NULL, priority TEXT NOT NULL, message TEXT NOT NULL,
    value REAL, operator TEXT, device TEXT, previous REAL, outcome TEXT,
    PRIMARY KEY (alarm_id, ts_ms, kind)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alarm_events_by_time ON alarm_events (ts_ms);
"""
EVENT_COLUMNS = (
    "alarm_id, ts_ms, kind, source, path, priority, message, value, operator, "
    "device, previous, outcome"
)
# columns added to alarm_events since its first release, for stores made before them
EVENT_COLUMNS_ADDED = {"device": "TEXT", "previous": "REAL", "outcome": "TEXT"}

INSERT_SAMPLE = "INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?, ?, ?)"
# A batch goes in one statement over a JSON array of rows: SQLite walks it with the GIL
# released throughout, where executemany takes the GIL back for every row (and, with a busy
# event loop, waits for it each time). JSON carries integers only, so nothing goes through
# SQLite's text-to-double parse: a REAL is sent as m and d with value = m / 2**d (m < 2**53,
# 0 <= d <= 62), which IEEE division gives exactly. TEXT, inf and REALs outside that range
# keep executemany.
INSERT_SAMPLES_JSON = """
INSERT OR REPLACE INTO samples
SELECT value ->> 0, value ->> 1, value ->> 2,
       CASE WHEN value ->> 6 IS NULL THEN value ->> 3
            ELSE CAST(value ->> 3 AS REAL) / (1 << (value ->> 6)) END,
       value ->> 4, value ->> 5
FROM json_each(?)
"""
_JSON_ROWS = sqlite3.sqlite_version_info >= (3, 38, 0)  # the ->> operator
ROWS_PER_STATEMENT = 50_000  # a large write goes in several statements, one transaction

# A minute of every point from raw, and an hour of every point from its minutes. The last
# value comes from SQLite's documented bare column of a lone max() aggregate.
ROLL_MINUTE = f"""
INSERT INTO rollup_1m (point_id, bucket, vmin, vmax, vsum, n, vlast)
WITH r AS MATERIALIZED (
    SELECT s.point_id, {TS} AS ts, {NUMBER} AS v
    FROM points p JOIN samples s ON s.point_id = p.id AND s.t >= :t0 AND s.t < :t1
    WHERE {GOOD})
SELECT point_id, :bucket, vmin, vmax, vsum, n, vlast
FROM (SELECT point_id, min(v) vmin, max(v) vmax, sum(v) vsum, count(*) n FROM r GROUP BY point_id)
JOIN (SELECT point_id, max(ts), v AS vlast FROM r GROUP BY point_id) USING (point_id)
"""
ROLL_HOUR = """
INSERT INTO rollup_1h (point_id, bucket, vmin, vmax, vsum, n, vlast)
WITH r AS (
    SELECT m.* FROM points p
    JOIN rollup_1m m ON m.point_id = p.id AND m.bucket >= :m0 AND m.bucket < :m1)
SELECT point_id, :bucket, vmin, vmax, vsum, n, vlast
FROM (SELECT point_id, min(vmin) vmin, max(vmax) vmax, sum(vsum) vsum, sum(n) n
      FROM r GROUP BY point_id)
JOIN (SELECT point_id, max(bucket), vlast FROM r GROUP BY point_id) USING (point_id)
"""


def encode_values(
    batch: SampleBatch, positions: np.ndarray | None = None
) -> list[int | float | str | None]:
    """The value column (of the samples at `positions`, in that order; default all): exact
    thousandths as integers, other numbers as REAL, texts, None."""
    index = np.arange(len(batch)) if positions is None else positions
    values = batch.values[index]
    with np.errstate(invalid="ignore", over="ignore"):
        milli = np.round(values * 1000.0)
        exact = (milli / 1000.0 == values) & (np.abs(milli) < 2.0**53)
    column = values.astype(object)
    column[exact] = milli[exact].astype(np.int64).astype(object)
    column[np.isnan(values)] = None
    if batch.texts:
        keys = np.fromiter(batch.texts, np.int64, len(batch.texts))
        for k in np.flatnonzero(np.isin(index, keys)).tolist():
            column[k] = batch.texts[int(index[k])]
    return column.tolist()


class SqliteHistorian:
    """A Historian in one SQLite file (its folder made if missing); thread-safe, one connection."""

    def __init__(
        self,
        path: str | Path,
        *,
        retention_days: float | None = None,
        busy_timeout_s: float = 5.0,
        gil_free_writes: bool = False,
    ) -> None:
        """`gil_free_writes`: insert a batch as JSON statements, which SQLite walks without
        the GIL, for a writer thread beside a busy event loop; they cost about 2.2 us a row
        against 0.7-0.9 for executemany (SQLite 3.40), so a writer process does without."""
        self.path = Path(path)
        self.retention_days = retention_days
        self.gil_free_writes = gil_free_writes
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}
        self._retention_done = -RETENTION_EVERY_S
        with self._translated("open"):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise HistorianUnavailable(f"sqlite historian {self.path}: {err}") from err
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            self._db.execute("PRAGMA journal_mode = WAL")
            # FULL: a write that returned survives a power cut too, because the collector's
            # disk buffer deletes what the historian has acknowledged
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.executescript(SCHEMA)
            self._add_event_columns()

    def _add_event_columns(self) -> None:
        """Bring an alarm journal made before the write audit up to today's columns."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(alarm_events)")}
        for name, kind in EVENT_COLUMNS_ADDED.items():
            if name not in have:
                self._db.execute(f"ALTER TABLE alarm_events ADD COLUMN {name} {kind}")

    # ---- writing ----------------------------------------------------------------------

    def write(self, batch: SampleBatch) -> None:
        """Store the batch in one transaction; rows at an existing (path, ts_ms) are replaced."""
        if not len(batch):
            return
        ts = np.asarray(batch.ts_ms, dtype=np.int64)
        t, ms = np.divmod(ts, 1000)
        minutes = np.unique(ts // MINUTE_MS) - EPOCH_S // 60
        with self._lock, self._transaction("write"):
            new_ids = self._point_ids(batch.paths)
            known = self._ids | new_ids if new_ids else self._ids
            ids = np.fromiter(map(known.__getitem__, batch.paths), np.int64, len(batch))
            self._insert_samples(batch, ids, t - EPOCH_S, ms)
            self._db.executemany(
                "INSERT OR IGNORE INTO pending VALUES (?)", ((m,) for m in minutes.tolist())
            )
            self._roll_up(open_minute_kept=True)
        self._ids.update(new_ids)
        if self.retention_days is not None and time.monotonic() - self._retention_done > (
            RETENTION_EVERY_S
        ):
            self.apply_retention()

    def _insert_samples(
        self, batch: SampleBatch, ids: np.ndarray, t: np.ndarray, ms: np.ndarray
    ) -> None:
        """INSERT OR REPLACE every sample, point by point, in statements of bounded size.

        Rows go in sorted by point (a stable sort, so a repeated key keeps its order and the
        last one given wins): each point's newest leaf is then read and dirtied once per
        write, however many of its samples the write carries. In arrival order a write of N
        points' polls visits N leaves once per poll, which with more leaves than the page
        cache holds re-reads every one each time (a 10x slower ingest once 10,000 points
        have history)."""
        order = np.lexsort((ms, t, ids))
        if self.gil_free_writes and _JSON_ROWS:
            order = self._insert_json(batch, ids, t, ms, order)
        for start in range(0, len(order), ROWS_PER_STATEMENT):
            sel = order[start : start + ROWS_PER_STATEMENT]
            rows = zip(
                ids[sel].tolist(),
                t[sel].tolist(),
                ms[sel].tolist(),
                encode_values(batch, sel),
                batch.quality[sel].tolist(),
                batch.reason[sel].tolist(),
                strict=True,
            )
            self._db.executemany(INSERT_SAMPLE, rows)

    def _insert_json(
        self,
        batch: SampleBatch,
        ids: np.ndarray,
        t: np.ndarray,
        ms: np.ndarray,
        order: np.ndarray,
    ) -> np.ndarray:
        """The JSON statements of `gil_free_writes`; the positions they could not carry.

        JSON carries integers only (see INSERT_SAMPLES_JSON): TEXT, inf and REALs out of
        range are left to executemany, and when a batch has such a value and a repeated
        (point, ts) as well, all of it is, so that the last of a repeated key still wins."""
        values = batch.values
        with np.errstate(invalid="ignore", over="ignore"):
            milli = np.round(values * 1000.0)
            exact = (milli / 1000.0 == values) & (np.abs(milli) < 2.0**53)
            mant, power = np.frexp(np.where(np.isfinite(values), values, 0.0))
        nan = np.isnan(values)
        shift = 53 - power.astype(np.int64)
        real = ~exact & ~nan & np.isfinite(values) & (shift >= 0) & (shift <= 62)
        by_json = exact | nan | real
        if batch.texts:
            by_json[list(batch.texts)] = False
        if not by_json.all() and _repeats(ids, t * 1000 + ms):
            return order
        number = np.where(exact, milli, np.where(real, np.ldexp(mant, 53), 0.0)).astype(np.int64)
        in_json = order[by_json[order]]
        for start in range(0, len(in_json), ROWS_PER_STATEMENT):
            sel = in_json[start : start + ROWS_PER_STATEMENT]
            numbers = number[sel].astype(object)
            numbers[nan[sel]] = None
            divisors = shift[sel].astype(object)
            divisors[~real[sel]] = None
            rows = zip(
                ids[sel].tolist(),
                t[sel].tolist(),
                ms[sel].tolist(),
                numbers.tolist(),
                batch.quality[sel].tolist(),
                batch.reason[sel].tolist(),
                divisors.tolist(),
                strict=True,
            )
            text = json.dumps(list(rows), separators=(",", ":"))
            self._db.execute(INSERT_SAMPLES_JSON, (text,))
        return order[~by_json[order]]

    def flush(self) -> None:
        """Bring every rollup up to date, including the newest minute."""
        with self._lock, self._transaction("flush"):
            self._roll_up(open_minute_kept=False)

    def apply_retention(self, now_ms: int | None = None) -> int:
        """Delete raw samples older than retention_days (rollups are kept); rows deleted."""
        if self.retention_days is None:
            return 0
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        cut_t = (now_ms - int(self.retention_days * 86_400_000)) // 1000 - EPOCH_S
        with self._lock, self._transaction("apply retention"):
            deleted = self._db.execute(
                "DELETE FROM samples WHERE point_id IN (SELECT id FROM points) AND t < ?", (cut_t,)
            ).rowcount
        self._retention_done = time.monotonic()
        return deleted

    def write_events(self, events: Sequence[AlarmEvent]) -> None:
        """Store journal entries in one transaction; (alarm_id, ts_ms, kind) is replaced."""
        if not events:
            return
        rows = [
            (e.alarm_id, e.ts_ms, e.kind, e.source, e.path, e.priority, e.message, e.value,
             e.operator, e.device, e.previous, e.outcome)
            for e in events
        ]  # fmt: skip
        insert = f"INSERT OR REPLACE INTO alarm_events ({EVENT_COLUMNS}) VALUES ({'?,' * 11}?)"
        with self._lock, self._transaction("write alarm events"):
            self._db.executemany(insert, rows)

    def _point_ids(self, paths: Sequence[str]) -> dict[str, int]:
        """Ids of paths not cached yet, creating them; cached only once the write commits."""
        unknown = [p for p in dict.fromkeys(paths) if p not in self._ids]
        if not unknown:
            return {}
        self._db.executemany(
            "INSERT OR IGNORE INTO points (path) VALUES (?)", ((p,) for p in unknown)
        )
        found: dict[str, int] = {}
        for start in range(0, len(unknown), 500):
            chunk = unknown[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                self._db.execute(f"SELECT path, id FROM points WHERE path IN ({marks})", chunk)
            )
        return found

    def _roll_up(self, *, open_minute_kept: bool) -> None:
        """Recompute pending minutes from raw and their hours from minutes."""
        pending = [m for (m,) in self._db.execute("SELECT bucket FROM pending ORDER BY bucket")]
        if open_minute_kept:
            pending = pending[:-1]
        for minute in pending:
            self._db.execute(
                "DELETE FROM rollup_1m WHERE point_id IN (SELECT id FROM points) AND bucket = ?",
                (minute,),
            )
            t0 = minute * 60
            self._db.execute(ROLL_MINUTE, {"t0": t0, "t1": t0 + 60, "bucket": minute})
            self._db.execute("DELETE FROM pending WHERE bucket = ?", (minute,))
        for hour in sorted({m // 60 for m in pending}):
            self._db.execute(
                "DELETE FROM rollup_1h WHERE point_id IN (SELECT id FROM points) AND bucket = ?",
                (hour,),
            )
            self._db.execute(ROLL_HOUR, {"m0": hour * 60, "m1": hour * 60 + 60, "bucket": hour})

    # ---- reading ----------------------------------------------------------------------

    def read_raw(self, path: str, start_ms: int, end_ms: int) -> SampleBatch:
        """Every stored sample of `path` with start_ms <= ts_ms < end_ms, in time order."""
        with self._lock, self._translated("read"):
            pid = self._known_id(path)
            if pid is None:
                return SampleBatch.empty()
            rows = self._db.execute(
                f"SELECT {TS}, {NUMBER}, {TEXT}, quality, reason FROM samples "
                f"WHERE {RAW_RANGE} ORDER BY t, ms",
                _raw_range(pid, start_ms, end_ms),
            ).fetchall()
        return _batch([(path, *row) for row in rows])

    def read_buckets(self, path: str, start_ms: int, end_ms: int, bucket_s: int) -> Buckets:
        """min/max/mean/last/count of good and uncertain values per bucket; empty ones left out.

        Buckets are aligned to the Unix epoch. Sizes that are whole hours are served from the
        hour rollup, whole minutes from the minute rollup, the ragged ends and pending
        minutes from raw; other sizes from raw.
        """
        return self.read_buckets_many([path], start_ms, end_ms, bucket_s)[path]

    def read_buckets_many(
        self,
        paths: Sequence[str],
        start_ms: int,
        end_ms: int,
        bucket_s: int,
        *,
        aggregates: Collection[str] = AGGREGATES,
    ) -> dict[str, Buckets]:
        """`read_buckets` of every path, one rollup query for all of them; aggregates not
        asked for come back NaN (count is always there)."""
        if bucket_s <= 0:
            raise HistorianError(f"bucket_s must be positive, got {bucket_s}")
        columns = columns_for(aggregates)
        level = HOUR_MS if bucket_s % 3600 == 0 else MINUTE_MS if bucket_s % 60 == 0 else None
        with self._lock, self._transaction("read buckets", write=False):
            known = self._known_ids(paths)
            ids = sorted(known)
            parts = bucket_parts(self._db, ids, start_ms, end_ms, bucket_s * 1000, level, columns)
        merged = merge_parts(known, bucket_s, Parts.concat(parts, columns))
        return {p: merged[p] if p in merged else empty_buckets(p, bucket_s) for p in paths}

    def latest(self, paths: Sequence[str] | None = None) -> SampleBatch:
        """The newest sample of each point (all points when paths is None), ordered by path."""
        where = "" if paths is None else "WHERE p.path IN (SELECT value FROM json_each(:paths))"
        query = (
            f"SELECT p.path, {TS}, {NUMBER}, {TEXT}, quality, reason "
            "FROM points p JOIN samples s ON s.point_id = p.id AND (s.t, s.ms) = "
            "(SELECT t, ms FROM samples WHERE point_id = p.id ORDER BY t DESC, ms DESC LIMIT 1) "
            f"{where} ORDER BY p.path"
        )
        with self._lock, self._translated("read latest"):
            rows = self._db.execute(query, {"paths": json.dumps(list(paths or []))}).fetchall()
        return _batch(rows)

    def read_events(
        self, start_ms: int, end_ms: int, alarm_id: str | None = None
    ) -> list[AlarmEvent]:
        """Journal entries with start_ms <= ts_ms < end_ms (of one alarm), oldest first."""
        query = f"SELECT {EVENT_COLUMNS} FROM alarm_events WHERE ts_ms >= ? AND ts_ms < ?"
        params: tuple[object, ...] = (start_ms, end_ms)
        if alarm_id is not None:
            query, params = query + " AND alarm_id = ?", (*params, alarm_id)
        with self._lock, self._translated("read alarm events"):
            rows = self._db.execute(query, params).fetchall()
        return in_journal_order([AlarmEvent(*row) for row in rows])

    def list_points(self) -> list[str]:
        """Every point path the store holds."""
        with self._lock, self._translated("list points"):
            return [p for (p,) in self._db.execute("SELECT path FROM points ORDER BY path")]

    def count(self, path: str | None = None) -> int:
        """How many raw samples are stored (of one point, or of all)."""
        with self._lock, self._translated("count"):
            if path is None:
                return self._db.execute("SELECT count(*) FROM samples").fetchone()[0]
            pid = self._known_id(path)
            if pid is None:
                return 0
            query = "SELECT count(*) FROM samples WHERE point_id = ?"
            return self._db.execute(query, (pid,)).fetchone()[0]

    def close(self) -> None:
        """Roll up what is pending (when the file can be written now) and close."""
        try:
            self.flush()
        except HistorianUnavailable:
            pass
        finally:
            self._db.close()

    def _known_ids(self, paths: Sequence[str]) -> dict[int, str]:
        """Point id to path of the paths the store holds, looked up in one query."""
        unknown = [p for p in dict.fromkeys(paths) if p not in self._ids]
        if unknown:
            query = "SELECT path, id FROM points WHERE path IN (SELECT value FROM json_each(?))"
            self._ids.update(self._db.execute(query, (json.dumps(unknown),)))
        return {self._ids[p]: p for p in paths if p in self._ids}

    def _known_id(self, path: str) -> int | None:
        if path not in self._ids:
            row = self._db.execute("SELECT id FROM points WHERE path = ?", (path,)).fetchone()
            if row is None:
                return None
            self._ids[path] = row[0]
        return self._ids[path]

    # ---- errors and transactions ------------------------------------------------------

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as err:
            message = f"sqlite historian {self.path}: {action} failed: {err}"
            code = getattr(err, "sqlite_errorcode", 0) & 0xFF
            if code in _UNAVAILABLE:
                raise HistorianUnavailable(message) from err
            raise HistorianError(message) from err

    @contextmanager
    def _transaction(self, action: str, *, write: bool = True) -> Iterator[None]:
        """One transaction; a read one sees a single snapshot of raw, rollups and pending."""
        with self._translated(action):
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise


def _repeats(ids: np.ndarray, ts_ms: np.ndarray) -> bool:
    """Whether some (point id, ts_ms) occurs more than once."""
    order = np.lexsort((ts_ms, ids))
    i, t = ids[order], ts_ms[order]
    return bool(np.any((i[1:] == i[:-1]) & (t[1:] == t[:-1])))


def _raw_range(pid: int, start_ms: int, end_ms: int) -> dict[str, int]:
    return {
        "pid": pid,
        "t0": start_ms // 1000 - EPOCH_S,
        "t1": (end_ms - 1) // 1000 - EPOCH_S,
        "lo": start_ms,
        "hi": end_ms,
    }


def _batch(rows: list[tuple]) -> SampleBatch:
    """Rows of (path, ts_ms, number, text, quality, reason) as a batch."""
    if not rows:
        return SampleBatch.empty()
    paths, ts, numbers, texts, quality, reason = zip(*rows, strict=True)
    return SampleBatch(
        list(paths),
        np.array(ts, dtype=np.int64),
        np.array(numbers, dtype=np.float64),
        np.array(quality, dtype=np.uint8),
        np.array(reason, dtype=np.uint8),
        {i: text for i, text in enumerate(texts) if text is not None},
    )
