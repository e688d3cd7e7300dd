"""SqliteHistorian.write (sorted rows, chunked statements, JSON or executemany) stores exactly
what executemany in batch order would."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from heatnet.samples import SampleBatch
from historian import SqliteHistorian
from historian import sqlite as sqlite_module
from historian.sqlite import INSERT_SAMPLE, encode_values

BASE_MS = 1_765_756_800_000


def _rows(path: Path) -> list[tuple]:
    query = (
        "SELECT p.path, t, ms, value, typeof(value), quality, reason FROM samples s "
        "JOIN points p ON p.id = s.point_id ORDER BY 1, 2, 3"
    )
    with sqlite3.connect(path) as db:
        return db.execute(query).fetchall()


def _by_executemany(path: Path, batch: SampleBatch) -> None:
    """The reference: one bound row per sample, in batch order (the last duplicate wins)."""
    SqliteHistorian(path).close()  # the schema
    db = sqlite3.connect(path)
    ids = {}
    for p in dict.fromkeys(batch.paths):
        db.execute("INSERT OR IGNORE INTO points (path) VALUES (?)", (p,))
        ids[p] = db.execute("SELECT id FROM points WHERE path = ?", (p,)).fetchone()[0]
    t, ms = np.divmod(batch.ts_ms, 1000)
    db.executemany(
        INSERT_SAMPLE,
        zip(
            [ids[p] for p in batch.paths],
            (t - 946_684_800).tolist(),
            ms.tolist(),
            encode_values(batch),
            batch.quality.tolist(),
            batch.reason.tolist(),
            strict=True,
        ),
    )
    db.commit()
    db.close()


def _mixed(rng: np.random.Generator, n: int, duplicates: bool) -> SampleBatch:
    paths = [f"p{i}" for i in rng.integers(0, 50, n)]
    ts = BASE_MS + rng.integers(0, 400 if duplicates else 10**6, n) * 7
    values = np.concatenate(
        [
            np.round(rng.normal(60, 10, n // 4), 2),  # exact thousandths: INTEGER
            rng.integers(0, 9999, n // 4) * 0.1,  # scaled registers: mostly REAL
            rng.standard_normal(n // 4) * 10.0 ** rng.integers(-12, 20, n // 4),  # any REAL
            rng.choice([np.nan, np.inf, -np.inf, 1e300, 5e-324, -0.0, 0.0], n - 3 * (n // 4)),
        ]
    )
    rng.shuffle(values)
    texts = {int(i): f"text {i}" for i in rng.choice(n, 5, replace=False)}
    values[list(texts)] = np.nan
    if not duplicates:
        keys = {}
        for i, key in enumerate(zip(paths, ts.tolist(), strict=True)):
            keys.setdefault(key, i)
        keep = sorted(keys.values())
        texts = {keep.index(i): t for i, t in texts.items() if i in keep}
        paths, ts, values = [paths[i] for i in keep], ts[keep], values[keep]
    n = len(paths)
    return SampleBatch(
        paths,
        ts.astype(np.int64),
        values,
        rng.integers(0, 3, n).astype(np.uint8),
        rng.integers(0, 5, n).astype(np.uint8),
        texts,
    )


@pytest.mark.parametrize("gil_free", [True, False])
def test_a_write_stores_exactly_what_executemany_in_batch_order_stores(
    tmp_path: Path, gil_free: bool
) -> None:
    rng = np.random.default_rng(11)
    for k, duplicates in enumerate([False, True]):
        batch = _mixed(rng, 4000, duplicates)
        ours, reference = tmp_path / f"ours{k}.sqlite", tmp_path / f"ref{k}.sqlite"
        store = SqliteHistorian(ours, gil_free_writes=gil_free)
        store.write(batch)
        store.close()
        _by_executemany(reference, batch)
        assert _rows(ours) == _rows(reference)


@pytest.mark.parametrize("gil_free", [True, False])
def test_real_values_come_back_bit_for_bit(tmp_path: Path, gil_free: bool) -> None:
    rng = np.random.default_rng(5)
    values = rng.standard_normal(20_000) * 10.0 ** rng.integers(-8, 15, 20_000)
    batch = SampleBatch(
        [f"p{i}" for i in range(20_000)],
        np.full(20_000, BASE_MS, np.int64),
        values,
        np.zeros(20_000, np.uint8),
        np.zeros(20_000, np.uint8),
    )
    store = SqliteHistorian(tmp_path / "h.sqlite", gil_free_writes=gil_free)
    store.write(batch)
    got = store.latest()
    store.close()
    order = np.argsort([f"p{i}" for i in range(20_000)], kind="stable")
    assert np.array_equal(got.values, values[order])


@pytest.mark.parametrize("gil_free", [True, False])
def test_a_large_write_in_several_statements_keeps_the_last_of_a_repeated_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gil_free: bool
) -> None:
    """Rows are sorted by point and sent in chunks; a (point, ts) repeated still ends as the
    last one given, as with executemany in batch order."""
    monkeypatch.setattr(sqlite_module, "ROWS_PER_STATEMENT", 7)
    rng = np.random.default_rng(3)
    n = 500
    batch = SampleBatch(
        [f"p{i}" for i in rng.integers(0, 9, n)],  # many repeats, all JSON-carried values
        (BASE_MS + rng.integers(0, 20, n) * 1000).astype(np.int64),
        np.round(rng.normal(60, 10, n), 2),
        rng.integers(0, 3, n).astype(np.uint8),
        rng.integers(0, 5, n).astype(np.uint8),
    )
    ours, reference = tmp_path / "ours.sqlite", tmp_path / "ref.sqlite"
    store = SqliteHistorian(ours, gil_free_writes=gil_free)
    store.write(batch)
    store.close()
    _by_executemany(reference, batch)
    assert _rows(ours) == _rows(reference)
