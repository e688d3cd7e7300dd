"""The `heatnet` command line; exit 0 on success, 2 on bad input with a one-line reason."""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from heatnet.config import SiteConfig
from heatnet.loader import ConfigError, load_site
from heatnet.points import Quality, site_points
from heatnet.samples import REASON_CODES, SampleBatch
from heatnet.timeparse import parse_time, to_ms

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXPORT_COLUMNS = ["time", "value", "quality"]
LOOPBACK = ("127.0.0.1", "::1", "localhost")
DEMO_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo.yaml"


class UsageError(Exception):
    """Bad input from the command line: reported in one line, exit 2."""


def _load(path: str) -> SiteConfig:
    return load_site(path)


def cmd_check_config(args: argparse.Namespace) -> int:
    site = _load(args.file)
    points = site_points(site)
    rooms = sum(len(b.rooms) for s in site.substations for b in s.buildings)
    devices = sum(len(a.devices) for _, a in site.assets())
    print(
        f"{args.file}: ok: site {site.site.id}, {len(site.substations)} substations, "
        f"{len(site.steam_customers)} steam customers, {rooms} rooms, {devices} devices, "
        f"{len(points)} points"
    )
    return EXIT_OK


POINT_COLUMNS = [
    "path",
    "protocol",
    "host",
    "port",
    "serial_port",
    "framer",
    "unit_id",
    "register_type",
    "address",
    "data_type",
    "byte_order",
    "scale",
    "offset",
    "endpoint",
    "node_id",
    "unit",
]


def cmd_points(args: argparse.Namespace) -> int:
    rows = [p.describe() for p in site_points(_load(args.config))]
    if args.format == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=POINT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in POINT_COLUMNS})
    return EXIT_OK


def cmd_simulate(args: argparse.Namespace) -> int:
    from simulators.runner import run_simulation

    site = _load(args.config)
    return run_simulation(site, speed=args.speed, seed=args.seed, duration=args.duration)


def _log_to_stderr() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for chatty in ("asyncua", "pymodbus", "werkzeug"):  # they log every session at INFO
        logging.getLogger(chatty).setLevel(logging.WARNING)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _collect(site: SiteConfig, duration: float | None) -> None:
    from collectors.service import CollectorService
    from historian import open_historian

    open_historian(site).close()  # a historian that cannot be opened stops us here, clearly
    service = CollectorService(site)  # its writer process opens the historian again
    await service.run(_stop_on_signals(), duration)


def cmd_collect(args: argparse.Namespace) -> int:
    from historian.base import HistorianError, HistorianUnavailable

    site = _load(args.config)
    _log_to_stderr()
    try:
        asyncio.run(_collect(site, args.duration))
    except HistorianUnavailable as err:
        print(f"heatnet collect: cannot open the historian: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except (HistorianError, OSError) as err:
        print(f"heatnet collect: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from heatnet.demo import DemoOptions, run_demo
    from simulators.modbus_server import ModbusPortError
    from simulators.opcua_server import OpcUaServerError

    site = _load(args.config or str(DEMO_CONFIG))
    options = DemoOptions(args.speed, args.duration, args.host, args.port)
    _log_to_stderr()

    async def demo() -> None:
        await run_demo(site, options, _stop_on_signals())

    try:
        asyncio.run(demo())
    except (ModbusPortError, OpcUaServerError, OSError) as err:
        print(f"heatnet: cannot start the demo: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def _time_arg(name: str, text: str | None, tz: tzinfo, now: datetime) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text, tz, now)
    except ValueError as err:
        raise UsageError(f"heatnet export: {name}: {err}") from None


def _quality_text(quality: int, reason: int) -> str:
    name = Quality(quality).name.lower()
    why = str(REASON_CODES[reason]) if reason < len(REASON_CODES) else str(reason)
    return f"{name}:{why}" if why else name


def export_rows(batch: SampleBatch, tz: tzinfo) -> list[dict[str, object]]:
    """The `heatnet export` rows: time in the site's zone with its offset, value, quality."""
    return [
        {
            "time": datetime.fromtimestamp(int(batch.ts_ms[i]) / 1000, tz).isoformat(
                timespec="milliseconds"
            ),
            "value": batch.value(i),
            "quality": _quality_text(int(batch.quality[i]), int(batch.reason[i])),
        }
        for i in range(len(batch))
    ]


def cmd_export(args: argparse.Namespace) -> int:
    from historian import open_historian
    from historian.base import HistorianError

    site = _load(args.config)
    if args.point not in {p.path for p in site_points(site)}:
        raise UsageError(
            f"heatnet export: --point: unknown point {args.point!r} "
            f"(heatnet points -c {args.config} lists them)"
        )
    now = datetime.now(site.tz)
    start = _time_arg("--start", args.start, site.tz, now)
    end = _time_arg("--end", args.end, site.tz, now)
    if start is not None and end is not None and start >= end:
        raise UsageError(f"heatnet export: --start {args.start} is not before --end {args.end}")
    start_ms = to_ms(start) if start else 0
    end_ms = to_ms(end) if end else to_ms(now + timedelta(days=365 * 100))
    try:
        historian = open_historian(site)
        try:
            batch = historian.read_raw(args.point, start_ms, end_ms)
        finally:
            historian.close()
    except HistorianError as err:
        print(f"heatnet export: cannot read the historian: {err}", file=sys.stderr)
        return EXIT_FAILURE
    rows = export_rows(batch, site.tz)
    if args.format == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row[k] is None else row[k] for k in EXPORT_COLUMNS})
    return EXIT_OK


def cmd_analyze(args: argparse.Namespace) -> int:
    from analytics.commands import BadInput, NoData, run_analyze
    from historian.base import HistorianError

    site = _load(args.config)
    show_progress = args.progress or sys.stderr.isatty()
    try:
        run_analyze(site, args.analysis, args.start, args.end, args.format, show_progress)
    except (BadInput, NoData, KeyError) as err:
        raise UsageError(f"heatnet analyze {args.analysis}: {str(err).strip(chr(39))}") from None
    except HistorianError as err:
        print(f"heatnet analyze: cannot read the historian: {err}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def cmd_alarms(args: argparse.Namespace) -> int:
    from analytics.commands import BadInput, NoData, run_alarms
    from historian.base import HistorianError

    site = _load(args.config)
    window = (args.start, args.end) if args.evaluate else None
    if not args.evaluate and (args.start or args.end):
        raise UsageError("heatnet alarms: --start and --end go with --evaluate")
    try:
        run_alarms(
            site,
            active=args.active,
            ack=args.ack,
            operator=args.operator,
            evaluate_period=window,
            fmt=args.format,
        )
    except (BadInput, NoData) as err:
        raise UsageError(f"heatnet alarms: {err}") from None
    except HistorianError as err:
        print(f"heatnet alarms: cannot use the historian: {err}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> int:
    from dashboard.app import create_app
    from dashboard.auth import LoginSetupError
    from historian import open_historian
    from historian.base import HistorianError

    site = _load(args.config)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((args.host, args.port))
    except OSError as err:
        raise UsageError(
            f"heatnet dashboard: cannot listen on {args.host}:{args.port}: {err}"
        ) from None
    try:
        historian = open_historian(site)
    except HistorianError as err:
        print(f"heatnet dashboard: cannot open the historian: {err}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        app = create_app(site, historian)
    except LoginSetupError as err:
        historian.close()
        raise UsageError(f"heatnet dashboard: {err}") from None
    if not site.dashboard.login_required and args.host not in LOOPBACK:
        print(
            f"heatnet dashboard: warning: {args.host} is reachable from the network and the "
            "board asks for no login (dashboard.users_file)",
            file=sys.stderr,
        )
    try:
        app.run(host=args.host, port=args.port, debug=False)
    finally:
        historian.close()
    return EXIT_OK


def _read_password(name: str) -> str:
    """The new password from the terminal (asked twice), else one line of stdin; never argv."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != first:
            raise UsageError("heatnet users add: the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_users(args: argparse.Namespace) -> int:
    from heatnet.users import UsersFileError, site_users

    site = _load(args.config)
    store = site_users(site)
    if store is None:
        raise UsageError(f"heatnet users: {args.config} names no dashboard.users_file")
    try:
        if args.action == "list":
            for entry in store.entries().values():
                print(f"{entry.name}\t{entry.role}")
            return EXIT_OK
        new = store.add(args.name, args.role, _read_password(args.name))
    except UsersFileError as err:
        raise UsageError(f"heatnet users: {err}") from None
    print(f"{'added' if new else 'updated'} {args.role} {args.name} in {store.path}")
    return EXIT_OK


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port 1-65535, got {text!r}")
    return int(text)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake in one line and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse quotes some arguments raw ("unrecognized arguments: a<newline>b")
        raise UsageError("\\n".join(f"{self.prog}: {message}".splitlines()))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="heatnet", description="District-heating telemetry and analytics.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("check-config", help="validate a site file")
    p.add_argument("file")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("points", help="list every point of a site")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--format", choices=["json", "csv"], default="csv")
    p.set_defaults(func=cmd_points)

    p = sub.add_parser("simulate", help="run the network simulator and its PLC servers")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--speed", type=_positive, default=None, help="simulated seconds per second")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--duration", type=_positive, default=None, help="stop after S wall seconds")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("collect", help="poll every device of a site into its historian")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--duration", type=_positive, default=None, help="stop after S seconds")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("export", help="print one point's stored samples")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--point", required=True, help="a point path, e.g. demo/ss01/t2_supply")
    p.add_argument("--start", default=None, help="ISO 8601 (naive: site time), now, -1h, -2d")
    p.add_argument("--end", default=None, help="as --start; without both: everything stored")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("analyze", help="run one analysis over a period of stored data")
    p.add_argument(
        "analysis",
        choices=["compliance", "curve", "proposals", "balance", "leaks", "outages", "steam"],
    )
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--start", default=None, help="ISO 8601 (naive: site time), now, -1h, -2d")
    p.add_argument("--end", default=None, help="default: the latest heating season up to the data")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.add_argument("--progress", action="store_true", help="progress bar even when not a tty")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("alarms", help="list, acknowledge or evaluate alarms (the journal)")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--active", action="store_true", help="only alarms that are not normal")
    p.add_argument("--ack", metavar="ID", default=None, help="acknowledge this alarm")
    p.add_argument("--operator", metavar="NAME", default=None)
    p.add_argument("--evaluate", action="store_true", help="evaluate a period into the journal")
    p.add_argument("--start", default=None)
    p.add_argument("--end", default=None)
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_alarms)

    p = sub.add_parser("dashboard", help="serve the control-room board of a site's historian")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--host", default="127.0.0.1", help="default: loopback only")
    p.add_argument("--port", type=_port, default=8050)
    p.set_defaults(func=cmd_dashboard)

    p = sub.add_parser("users", help="board users: add one (password from stdin), list them")
    p.add_argument("-c", "--config", required=True)
    actions = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    add = actions.add_parser("add", help="add a user, or set an existing one's role and password")
    add.add_argument("name")
    add.add_argument("--role", choices=["operator", "engineer"], required=True)
    actions.add_parser("list", help="names and roles")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser(
        "demo", help="simulator, collectors, SQLite historian, alarms and the board, together"
    )
    p.add_argument("-c", "--config", default=None)
    p.add_argument("--speed", type=_positive, default=None)
    p.add_argument("--duration", type=_positive, default=None, help="stop after S wall seconds")
    p.add_argument("--host", default="127.0.0.1", help="where the board listens")
    p.add_argument("--port", type=_port, default=8050)
    p.set_defaults(func=cmd_demo)
    return parser


TIME_OPTIONS = ("--start", "--end")


def _attach_time_values(argv: Sequence[str]) -> list[str]:
    """`--start -1h` as `--start=-1h`: argparse would take the relative time for an option."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] in TIME_OPTIONS and arg.startswith("-"):
            joined[-1] = f"{joined[-1]}={arg}"
        else:
            joined.append(arg)
    return joined


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `heatnet` console script."""
    try:
        argv = _attach_time_values(sys.argv[1:] if argv is None else argv)
        args = build_parser().parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = args.func
        return handler(args)
    except ConfigError as err:
        for issue in err.issues:
            print(f"heatnet: {issue}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except UsageError as err:
        print(err, file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        # the reader (e.g. `| head`) went away: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
