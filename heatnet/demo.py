"""`heatnet demo`: the whole system in one process on the embedded default.

The simulator and its PLC servers, the collectors into the SQLite historian, alarm
evaluation every few seconds over the last simulated day, and the control-room board —
started together, stopped together on Ctrl-C or SIGTERM. Like the CLI, this module is
the top of the import graph and reaches every package lazily.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from heatnet.config import SiteConfig, SqliteHistorian
from heatnet.samples import SampleBatch

log = logging.getLogger(__name__)

ANALYTICS_EVERY_S = 15.0  # wall seconds between alarm evaluations
ANALYTICS_WINDOW_MS = 24 * 3600 * 1000  # the simulated period each evaluation looks at


@dataclass(frozen=True, slots=True)
class DemoOptions:
    speed: float | None = None
    duration: float | None = None
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8050


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def resume_after(site: SiteConfig, latest: SampleBatch) -> SiteConfig:
    """Start the simulated clock where the stored data ends, so a rerun continues the story."""
    if not len(latest):
        return site
    newest = datetime.fromtimestamp((int(latest.ts_ms.max()) + 1000) / 1000, UTC)
    simulation = site.simulation.model_copy(update={"start": newest.astimezone(site.tz)})
    return site.model_copy(update={"simulation": simulation})


def demo_site(site: SiteConfig) -> SiteConfig:
    """The site as the demo runs it: SQLite historian, metrics on some free port."""
    if site.historian.backend != "sqlite":
        site = site.model_copy(update={"historian": SqliteHistorian()})
    if not site.collector.metrics_port:
        port = free_port(site.collector.metrics_host)
        collector = site.collector.model_copy(update={"metrics_port": port})
        site = site.model_copy(update={"collector": collector})
    return site


class BoardServer:
    """The Dash board on a werkzeug server in a thread, so it stops with the demo."""

    def __init__(self, site: SiteConfig, host: str, port: int) -> None:
        from werkzeug.serving import make_server

        from dashboard.app import create_app
        from historian import open_historian

        self.historian = open_historian(site)  # its own connection: WAL readers never block
        app = create_app(site, self.historian)
        self.server = make_server(host, port, app.server, threaded=True)
        self.url = f"http://{host}:{port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, name="board", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.historian.close()


def evaluate_alarms(site: SiteConfig) -> int:
    """One evaluation of the last simulated day into the alarm journal; entries written."""
    from analytics.alarms import AlarmJournal
    from analytics.evaluate import SOURCES, evaluate
    from analytics.fetch import NoData, SiteData
    from historian import open_historian

    historian = open_historian(site)
    try:
        data = SiteData(site, historian)
        try:
            end = data.newest_ms() + 1
        except NoData:
            return 0
        start = end - ANALYTICS_WINDOW_MS
        return len(AlarmJournal(historian).record(evaluate(data, start, end), start, end, SOURCES))
    finally:
        historian.close()


async def periodic_analytics(site: SiteConfig, stop: asyncio.Event) -> None:
    """Evaluate alarms every ANALYTICS_EVERY_S until stop; a failed run is logged, not fatal."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), ANALYTICS_EVERY_S)
        if stop.is_set():
            return
        try:
            await asyncio.to_thread(evaluate_alarms, site)
        except Exception:
            log.exception("alarm evaluation failed; the next run will try again")


async def run_demo(site: SiteConfig, options: DemoOptions, stop: asyncio.Event) -> None:
    """Run everything until stop is set or options.duration wall seconds have passed."""
    from collectors.service import CollectorService
    from historian import open_historian
    from simulators.runner import PlantRunner

    site = demo_site(site)
    historian = open_historian(site)
    site = resume_after(site, historian.latest())
    runner = PlantRunner(site, speed=options.speed, cert_dir=Path("var") / "pki")
    board: BoardServer | None = None
    try:
        await runner.start()
        historian_path = site.resolve(getattr(site.historian, "path", ""))
        service = CollectorService(
            site,
            buffer_path=historian_path.with_name(historian_path.stem + "-buffer.sqlite"),
        )
        board = BoardServer(site, options.dashboard_host, options.dashboard_port)
        board.start()
        for line in runner.describe():
            print(line, flush=True)
        metrics = f"http://{site.collector.metrics_host}:{site.collector.metrics_port}/metrics"
        print(f"heatnet collector: historian {historian_path}", flush=True)
        print(f"  buffer        {service.buffer.path}", flush=True)
        print(f"  metrics       {metrics}", flush=True)
        print(f"heatnet board:  {board.url}   (Ctrl-C stops everything)", flush=True)
        await asyncio.gather(
            runner.run(stop, options.duration),
            service.run(stop, options.duration),
            _stop_after(stop, options.duration),
            periodic_analytics(site, stop),
        )
    finally:
        if board is not None:
            board.stop()
        await runner.stop()
        historian.close()
        print("heatnet demo stopped", flush=True)


async def _stop_after(stop: asyncio.Event, duration: float | None) -> None:
    if duration is None:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), duration)
    stop.set()
