"""InfluxDB historian: writes line protocol, reads with InfluxQL over the v1 /query API.

api="v1" writes to /write (InfluxDB 1.x, and 2.x/3.x for compatibility); api="v2" writes
through influxdb-client's batching write API (token, org, bucket) and reads through the
v1-compatible /query of the bucket's database mapping. Idempotency on (path, ts_ms) is
InfluxDB's own: a point at an existing series and timestamp overwrites its fields.

The alarm journal is measurement `alarm_event`: tags alarm_id and kind (with the
timestamp its identity, so a replay overwrites), source, priority; fields path, message,
value, operator, and for write audits device, previous and outcome.

Errors: connection refused, timeouts and 5xx are HistorianUnavailable; 4xx are
HistorianError naming the server's reason.
"""

from __future__ import annotations

import base64
import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from heatnet.samples import SampleBatch
from historian.base import (
    AGGREGATES,
    AlarmEvent,
    Buckets,
    HistorianError,
    HistorianUnavailable,
    in_journal_order,
)
from historian.buckets import columns_for, empty_buckets
from historian.series import SeriesNames, escape_tag, escape_text, quote

LINES_PER_REQUEST = 10_000
GOOD = "quality < 2"
EVENTS = "alarm_event"


class InfluxHistorian:
    """A Historian on an InfluxDB server; secrets are passed in, never read from files."""

    def __init__(
        self,
        url: str,
        *,
        api: Literal["v1", "v2"] = "v1",
        database: str = "heatnet",
        org: str | None = None,
        bucket: str | None = None,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        kinds: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        if api == "v2" and not (token and org and bucket):
            raise HistorianError("InfluxDB v2 writes need a token, an org and a bucket")
        self.url = url.rstrip("/")
        self.api = api
        self.database = bucket if api == "v2" and bucket else database
        self.names = SeriesNames(kinds)
        self.timeout_s = timeout_s
        self._headers: dict[str, str] = {}
        if token:
            self._headers["Authorization"] = f"Token {token}"
        elif username:
            login = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {login}"
        self._database_ready = False
        self._v2: _BatchingWriter | None = None
        if api == "v2":
            assert token and org and bucket
            self._v2 = _BatchingWriter(self.url, token, org, bucket, timeout_s)

    def __repr__(self) -> str:
        return f"InfluxHistorian({self.url!r}, api={self.api!r}, database={self.database!r})"

    # ---- writing ----------------------------------------------------------------------

    def write(self, batch: SampleBatch) -> None:
        """Send the batch as line protocol; replays overwrite the same series and timestamps."""
        if not len(batch):
            return
        lines = self.names.lines(batch)
        if self._v2 is not None:
            self._v2.write(lines)
            return
        self._ensure_database()
        for start in range(0, len(lines), LINES_PER_REQUEST):
            body = "\n".join(lines[start : start + LINES_PER_REQUEST]).encode()
            query = {"db": self.database, "precision": "ms"}
            self._request("POST", "/write", query, body)

    def write_events(self, events: Sequence[AlarmEvent]) -> None:
        """Journal entries as line protocol in measurement alarm_event."""
        if not events:
            return
        lines = [_event_line(e) for e in events]
        if self._v2 is not None:
            self._v2.write(lines)
            return
        self._ensure_database()
        body = "\n".join(lines).encode()
        self._request("POST", "/write", {"db": self.database, "precision": "ms"}, body)

    def read_events(
        self, start_ms: int, end_ms: int, alarm_id: str | None = None
    ) -> list[AlarmEvent]:
        """Journal entries with start_ms <= ts_ms < end_ms (of one alarm), oldest first."""
        where = _time_range(start_ms, end_ms)
        if alarm_id is not None:
            where += f' AND "alarm_id" = {quote(alarm_id)}'
        series = self._query(f'SELECT * FROM "{EVENTS}" WHERE {where}')
        events = [
            AlarmEvent(
                alarm_id=row["alarm_id"],
                ts_ms=int(row["time"]),
                kind=row["kind"],
                source=row["source"],
                path=row["path"],
                priority=row["priority"],
                message=row["message"],
                value=row.get("value"),
                operator=row.get("operator"),
                device=row.get("device"),
                previous=row.get("previous"),
                outcome=row.get("outcome"),
            )
            for s in series
            for row in _rows(s)
        ]
        return in_journal_order(events)

    def _ensure_database(self) -> None:
        if not self._database_ready:
            name = '"' + self.database.replace('"', '\\"') + '"'
            self._request("POST", "/query", {"q": f"CREATE DATABASE {name}"})
            self._database_ready = True

    # ---- reading ----------------------------------------------------------------------

    def read_raw(self, path: str, start_ms: int, end_ms: int) -> SampleBatch:
        """Every stored sample of `path` with start_ms <= ts_ms < end_ms, in time order."""
        measurement, condition = self.names.where(path)
        series = self._query(
            f"SELECT * FROM {measurement} WHERE {condition} AND {_time_range(start_ms, end_ms)}"
        )
        return _batch([(path, row) for s in series for row in _rows(s)])

    def read_buckets(self, path: str, start_ms: int, end_ms: int, bucket_s: int) -> Buckets:
        """min/max/mean/last/count of good and uncertain values per epoch-aligned bucket."""
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
        """`read_buckets` of every path in one InfluxQL query: a regex per tag selects the
        series, GROUP BY time and every tag splits them, series not asked for are dropped."""
        if bucket_s <= 0:
            raise HistorianError(f"bucket_s must be positive, got {bucket_s}")
        columns_for(aggregates)  # refuses unknown names
        functions = [a for a in AGGREGATES if a in aggregates or a == "count"]
        result = {p: empty_buckets(p, bucket_s) for p in paths}
        if not paths:
            return result
        series_of = [self.names.series(p) for p in dict.fromkeys(paths)]
        measurements = ", ".join(f'"{m}"' for m in sorted({m for m, _ in series_of}))
        shared = set.intersection(*(set(tags) for _, tags in series_of))
        selectors = " AND ".join(
            f'"{k}" =~ /^({"|".join(sorted({_regex(tags[k]) for _, tags in series_of}))})$/'
            for k in sorted(shared)
        )
        select = ", ".join(f'{f}("value") AS "{f}"' for f in functions)
        series = self._query(
            f"SELECT {select} FROM {measurements} WHERE {selectors} AND {GOOD} AND "
            f"{_time_range(start_ms, end_ms)} GROUP BY time({int(bucket_s)}s), * fill(none)"
        )
        for s in series:
            path = self.names.path(s["name"], s.get("tags", {}))
            rows = [dict(zip(s["columns"], r, strict=True)) for r in s.get("values", [])]
            rows = [r for r in rows if r["count"]]
            if path not in result or not rows:
                continue
            result[path] = Buckets(
                path,
                bucket_s,
                np.array([r["time"] for r in rows], dtype=np.int64),
                *(_column(rows, name) for name in ("min", "max", "mean", "last")),
                np.array([r["count"] for r in rows], dtype=np.int64),
            )
        return result

    def latest(self, paths: Sequence[str] | None = None) -> SampleBatch:
        """The newest sample of each point (all points when paths is None), ordered by path."""
        series = self._query("SELECT * FROM /.*/ GROUP BY * ORDER BY time DESC LIMIT 1")
        wanted = None if paths is None else set(paths)
        found = []
        for s in series:
            path = self.names.path(s["name"], s.get("tags", {}))
            if path is not None and (wanted is None or path in wanted):
                found.extend((path, row) for row in _rows(s))
        return _batch(sorted(found, key=lambda item: item[0]))

    def list_points(self) -> list[str]:
        """Every point path the store holds."""
        paths = set()
        for s in self._query("SHOW SERIES"):
            for (key,) in s.get("values", []):
                measurement, *pairs = key.split(",")
                tags = dict(pair.split("=", 1) for pair in pairs)
                path = self.names.path(measurement, tags)
                if path is not None:
                    paths.add(path)
        return sorted(paths)

    def count(self, path: str | None = None) -> int:
        """How many samples are stored (of one point, or of all)."""
        if path is None:
            series = self._query('SELECT count("quality") FROM /.*/')
        else:
            measurement, condition = self.names.where(path)
            series = self._query(f'SELECT count("quality") FROM {measurement} WHERE {condition}')
        return sum(int(row[1]) for s in series for row in s.get("values", []))

    def close(self) -> None:
        """Release the v2 client; v1 holds no connection between requests."""
        if self._v2 is not None:
            self._v2.close()

    # ---- HTTP -------------------------------------------------------------------------

    def _query(self, influxql: str) -> list[dict[str, Any]]:
        """The series of one InfluxQL statement; a database not created yet holds nothing."""
        query = {"db": self.database, "epoch": "ms", "q": influxql}
        answer = json.loads(self._request("GET", "/query", query) or b"{}")
        result = (answer.get("results") or [{}])[0]
        error = result.get("error")
        if error:
            if error.startswith("database not found"):
                return []
            raise HistorianError(f"InfluxDB at {self.url} refused {influxql!r}: {error}")
        return result.get("series", [])

    def _request(
        self, method: str, endpoint: str, query: dict[str, str], body: bytes | None = None
    ) -> bytes:
        url = f"{self.url}{endpoint}?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(url, data=body, method=method, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return response.read()
        except urllib.error.HTTPError as err:
            reason = _server_error(err)
            if err.code == 404 and "database not found" in reason:
                self._database_ready = False  # dropped while we ran: recreated on the retry
                raise HistorianUnavailable(f"InfluxDB at {self.url}: {reason}") from err
            if err.code >= 500:
                raise HistorianUnavailable(f"InfluxDB at {self.url}: {reason}") from err
            raise HistorianError(f"InfluxDB at {self.url} refused {endpoint}: {reason}") from err
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            raise HistorianUnavailable(f"InfluxDB at {self.url} unreachable: {err}") from err


class _BatchingWriter:
    """influxdb-client's batching write API, drained on every write so failures surface."""

    def __init__(self, url: str, token: str, org: str, bucket: str, timeout_s: float) -> None:
        # imported here: influxdb-client costs every process that loads the historian
        # package about 18 MB, and only the v2 API uses it
        from influxdb_client import InfluxDBClient

        self.url, self.org, self.bucket = url, org, bucket
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=int(timeout_s * 1000))

    def write(self, lines: list[str]) -> None:
        """Hand lines to the batcher and wait until it has posted them; retries are the caller's."""
        from influxdb_client import WriteOptions
        from influxdb_client.client.write_api import WritePrecision
        from influxdb_client.rest import ApiException

        failures: list[BaseException] = []
        options = WriteOptions(batch_size=LINES_PER_REQUEST, flush_interval=100, max_retries=0)
        writer = self._client.write_api(
            write_options=options, error_callback=lambda _c, _d, err: failures.append(err)
        )
        try:
            writer.write(self.bucket, self.org, lines, write_precision=WritePrecision.MS)
        finally:
            writer.close()
        if failures:
            err = failures[0]
            status = getattr(err, "status", None) if isinstance(err, ApiException) else None
            if status is not None and 400 <= status < 500:
                reason = getattr(err, "message", None) or getattr(err, "reason", "")
                raise HistorianError(f"InfluxDB at {self.url} refused the write: {reason}") from err
            raise HistorianUnavailable(f"InfluxDB at {self.url}: write failed: {err}") from err

    def close(self) -> None:
        self._client.close()


def _event_line(event: AlarmEvent) -> str:
    tags = {
        "alarm_id": event.alarm_id,
        "kind": event.kind,
        "priority": event.priority,
        "source": event.source,
    }
    key = ",".join([EVENTS] + [f"{k}={escape_tag(v)}" for k, v in sorted(tags.items())])
    fields = [f'path="{escape_text(event.path)}"', f'message="{escape_text(event.message)}"']
    if event.value is not None and math.isfinite(event.value):
        fields.append(f"value={float(event.value)!r}")
    if event.previous is not None and math.isfinite(event.previous):
        fields.append(f"previous={float(event.previous)!r}")
    for name in ("operator", "device", "outcome"):
        text = getattr(event, name)
        if text is not None:
            fields.append(f'{name}="{escape_text(text)}"')
    return f"{key} {','.join(fields)} {event.ts_ms}"


def _server_error(err: urllib.error.HTTPError) -> str:
    """The server's own reason, from its JSON body when there is one."""
    try:
        body = err.read().decode(errors="replace")
        return json.loads(body).get("error", body) if body.startswith("{") else body or err.reason
    except (OSError, ValueError):
        return str(err.reason)


def _column(rows: list[dict[str, Any]], name: str) -> NDArray[np.float64]:
    """One aggregate of bucket rows; NaN where it was not asked for."""
    return np.array([r.get(name, np.nan) for r in rows], dtype=np.float64)


def _regex(text: str) -> str:
    """A tag value matched literally inside an InfluxQL /regex/."""
    return re.escape(text).replace("/", "\\/")


def _time_range(start_ms: int, end_ms: int) -> str:
    return f"time >= {int(start_ms)}ms AND time < {int(end_ms)}ms"


def _rows(series: dict[str, Any]) -> list[dict[str, Any]]:
    columns = series["columns"]
    return [dict(zip(columns, values, strict=True)) for values in series.get("values", [])]


def _batch(rows: list[tuple[str, dict[str, Any]]]) -> SampleBatch:
    """(path, row) pairs, a row holding time, value or text, quality and reason."""
    if not rows:
        return SampleBatch.empty()
    texts = {i: row["text"] for i, (_, row) in enumerate(rows) if row.get("text") is not None}
    return SampleBatch(
        [path for path, _ in rows],
        np.array([row["time"] for _, row in rows], dtype=np.int64),
        np.array([row.get("value") for _, row in rows], dtype=np.float64),
        np.array([row.get("quality") or 0 for _, row in rows], dtype=np.uint8),
        np.array([row.get("reason") or 0 for _, row in rows], dtype=np.uint8),
        texts,
    )
