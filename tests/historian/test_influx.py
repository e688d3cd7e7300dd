"""InfluxDB specifics: the v2 request shape, series naming, secrets, errors, a server restart."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from heatnet.config import InfluxHistorian as InfluxConfig
from heatnet.samples import SampleBatch
from historian import HistorianError, HistorianUnavailable, InfluxHistorian, open_historian
from historian.series import SeriesNames
from tests.influx_server import InfluxServer

BASE_MS = 1_765_756_800_000


@dataclass
class Recorder:
    """What a fake server received, and the status it answers with."""

    status: int = 204
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, str]]:
    """An HTTP server on loopback that records requests.

    It stands in for InfluxDB 2.x because Debian's InfluxDB 1.6 has no /api/v2/write.
    """
    record = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            url = urllib.parse.urlsplit(self.path)
            record.requests.append(
                {
                    "path": url.path,
                    "query": dict(urllib.parse.parse_qsl(url.query)),
                    "headers": dict(self.headers),
                    "body": self.rfile.read(length).decode(),
                }
            )
            body = b'{"code":"invalid","message":"unable to parse line"}'
            self.send_response(record.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(0 if record.status == 204 else len(body)))
            self.end_headers()
            if record.status != 204:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield record, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def v2(url: str) -> InfluxHistorian:
    return InfluxHistorian(url, api="v2", token="s3cret-token", org="heatco", bucket="telemetry")


def test_v2_batching_writes_post_line_protocol_with_token_org_bucket_ms(
    recorder: tuple[Recorder, str],
) -> None:
    record, url = recorder
    store = v2(url)
    batch = SampleBatch.of(
        ["demo/ss01/t2_supply", "demo/ss01/b1/r101/t_indoor", "demo/ss01/plc_model"],
        BASE_MS,
        [55.25, 19.5, np.nan],
        quality=[0, 1, 0],
        texts={2: "S7"},
    )
    store.write(batch)
    store.close()
    (request,) = record.requests
    assert request["path"] == "/api/v2/write"
    assert request["query"] == {"org": "heatco", "bucket": "telemetry", "precision": "ms"}
    assert request["headers"]["Authorization"] == "Token s3cret-token"
    assert request["body"].splitlines() == [
        "substation,role=t2_supply,site=demo,substation=ss01 "
        f"value=55.25,quality=0i,reason=0i {BASE_MS}",
        "room,building=b1,role=t_indoor,room=r101,site=demo,substation=ss01 "
        f"value=19.5,quality=1i,reason=0i {BASE_MS}",
        f'asset,asset=ss01,role=plc_model,site=demo text="S7",quality=0i,reason=0i {BASE_MS}',
    ]


@pytest.mark.parametrize(("status", "error"), [(503, HistorianUnavailable), (400, HistorianError)])
def test_v2_failures_are_translated(
    recorder: tuple[Recorder, str], status: int, error: type[HistorianError]
) -> None:
    record, url = recorder
    record.status = status
    store = v2(url)
    with pytest.raises(error) as raised:
        store.write(SampleBatch.of(["demo/ss01/t2_supply"], BASE_MS, [1.0]))
    store.close()
    assert error is HistorianUnavailable or "unable to parse" in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_series_names_round_trip_and_use_site_kinds() -> None:
    names = SeriesNames({"boiler1": "source", "chem": "steam"})
    for path, measurement in [
        ("demo/ss01/t2_supply", "substation"),
        ("demo/boiler1/t_outdoor", "source"),
        ("demo/chem/steam_total", "steam"),
        ("demo/src/src_power", "source"),
        ("demo/ss01/b2/r7/t_indoor", "room"),
    ]:
        got, tags = names.series(path)
        assert got == measurement and names.path(got, tags) == path
    with pytest.raises(HistorianError, match="neither"):
        names.series("demo/t2_supply")


def test_bad_requests_name_the_cause(own_influx_server: InfluxServer) -> None:
    store = InfluxHistorian(own_influx_server.url)
    with pytest.raises(
        HistorianError, match=r"refused /write: unable to parse .* time outside range"
    ):
        store.write(SampleBatch.of(["demo/ss01/t2_supply"], 2**62, [1.0]))  # past year 2262


def test_a_stopped_server_is_unavailable_and_nothing_is_lost_after_restart(
    own_influx_server: InfluxServer,
) -> None:
    store = InfluxHistorian(own_influx_server.url)
    store.write(SampleBatch.of(["demo/ss01/t2_supply"], BASE_MS, [1.0]))
    own_influx_server.stop()
    later = SampleBatch.of(["demo/ss01/t2_supply"], BASE_MS + 1000, [2.0])
    with pytest.raises(HistorianUnavailable):
        store.write(later)
    with pytest.raises(HistorianUnavailable):
        store.count()
    own_influx_server.start()
    store.write(later)
    assert store.read_raw("demo/ss01/t2_supply", BASE_MS, BASE_MS + 2000).values.tolist() == [
        1.0,
        2.0,
    ]


def test_open_historian_reads_secrets_from_the_environment(
    demo_site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {"backend": "influxdb", "api": "v2", "org": "o", "bucket": "b", "token_env": "HN_TOK"}
    site = demo_site.model_copy(update={"historian": InfluxConfig(**config)})
    with pytest.raises(HistorianError, match="HN_TOK is not set"):
        open_historian(site)
    monkeypatch.setenv("HN_TOK", "from-env")
    store = open_historian(site)
    assert isinstance(store, InfluxHistorian) and "from-env" not in repr(store)
    assert store.names.kinds["ss01"] == "substation"
    store.close()
