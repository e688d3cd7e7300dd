"""The `heatnet` command line; exit 0 on success, 2 on bad input with a one-line reason."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from heatnet.config import SiteConfig
from heatnet.loader import ConfigError, load_site
from heatnet.points import site_points

EXIT_OK = 0
EXIT_BAD_INPUT = 2
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


def cmd_demo(args: argparse.Namespace) -> int:
    from simulators.runner import run_simulation

    site = _load(args.config or str(DEMO_CONFIG))
    return run_simulation(site, speed=args.speed, seed=None, duration=args.duration)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake in one line and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


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

    p = sub.add_parser("demo", help="run the whole system on the demo site")
    p.add_argument("-c", "--config", default=None)
    p.add_argument("--speed", type=_positive, default=None)
    p.add_argument("--duration", type=_positive, default=None, help="stop after S wall seconds")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `heatnet` console script."""
    try:
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
