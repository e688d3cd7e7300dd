"""The site model: good files load; each kind of mistake gives its own one-line error."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from heatnet.cli import main
from heatnet.loader import ConfigError, load_site
from heatnet.points import site_points
from tests.conftest import DEMO, ROOT, write_site

Doc = dict[str, Any]


def test_demo_loads_with_every_kind_of_device() -> None:
    site = load_site(DEMO)
    assert site.site.id == "demo"
    assert [s.id for s in site.substations] == [f"ss{i:02d}" for i in range(1, 13)]
    protocols = {
        (d.protocol, getattr(d, "framer", None)) for s in site.substations for d in s.devices
    }
    assert protocols == {("modbus", "socket"), ("modbus", "rtu"), ("opcua", None)}
    assert {b.emitter for s in site.substations for b in s.buildings} == {"radiator", "floor"}
    assert all(2 <= len(s.buildings) <= 4 for s in site.substations)
    assert len(site.steam_customers) == 1
    assert site.climate.design_outdoor == -6.7
    assert site.tz.key == "Asia/Shanghai"


def test_demo_points_cover_roles_rooms_and_every_data_type() -> None:
    site = load_site(DEMO)
    points = site_points(site)
    paths = {p.path for p in points}
    assert "demo/ss01/t2_supply" in paths
    assert "demo/ss06/b1/r101/t_indoor" in paths or any(p.endswith("/t_indoor") for p in paths)
    rooms = sum(len(b.rooms) for s in site.substations for b in s.buildings)
    assert sum(1 for p in points if p.key == "t_indoor") == rooms
    types = {p.point.data_type for p in points if p.protocol == "modbus"}
    assert types == {
        "int16",
        "uint16",
        "int32",
        "uint32",
        "int64",
        "uint64",
        "float32",
        "float64",
        "bool",
        "string",
    }
    orders = {p.point.byte_order for p in points if p.protocol == "modbus"}
    assert orders == {"ABCD", "DCBA", "BADC", "CDAB"}


def _set(doc: Doc, path: str, value: Any) -> Doc:
    """Set doc[a][0][b] from "a.0.b"; returns doc for chaining."""
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


def _del(doc: Doc, path: str) -> Doc:
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    del node[last]
    return doc


MISTAKES: list[tuple[str, Callable[[Doc], Doc], str, str]] = [
    (
        "port out of range",
        lambda d: _set(d, "substations.3.devices.0.port", 70000),
        "substations[3].devices[0].port",
        "less than or equal to 65535",
    ),
    (
        "port not a number",
        lambda d: _set(d, "substations.0.devices.0.port", "abc"),
        "substations[0].devices[0].port",
        "valid integer",
    ),
    (
        "unknown key",
        lambda d: _set(d, "substations.1.colour", "red"),
        "substations[1].colour",
        "unknown key",
    ),
    ("missing curve", lambda d: _del(d, "substations.2.curve"), "substations[2].curve", "required"),
    (
        "unknown curve",
        lambda d: _set(d, "substations.2.curve", "nope"),
        "substations[2].curve",
        "unknown curve 'nope'",
    ),
    (
        "unknown profile",
        lambda d: _set(d, "substations.0.devices.0.profile", "ghost"),
        "substations[0].devices[0].profile",
        "unknown profile 'ghost'",
    ),
    (
        "protocol mismatch",
        lambda d: _set(d, "substations.0.devices.0.profile", "plc-opcua-ss"),
        "substations[0].devices[0].profile",
        "is for opcua",
    ),
    (
        "unknown protocol",
        lambda d: _set(d, "substations.0.devices.0.protocol", "bacnet"),
        "substations[0].devices[0].protocol",
        "expected one of 'modbus', 'opcua', got 'bacnet'",
    ),
    (
        "duplicate substation",
        lambda d: _set(d, "substations.1.id", "ss01"),
        "substations",
        "'ss01' is used by more than one",
    ),
    (
        "duplicate room",
        lambda d: _set(
            d,
            "substations.0.buildings.0.rooms.1.id",
            d["substations"][0]["buildings"][0]["rooms"][0]["id"],
        ),
        "substations[0].buildings[0].rooms",
        "given twice",
    ),
    (
        "bad endpoint",
        lambda d: _set(d, "substations.6.devices.0.endpoint", "http://x"),
        "substations[6].devices[0].endpoint",
        "opc",
    ),
    (
        "host and serial",
        lambda d: _set(d, "substations.0.devices.0.serial", {"port": "/dev/ttyS0"}),
        "substations[0].devices[0]",
        "either 'host'",
    ),
    (
        "slope out of range",
        lambda d: _set(d, "curves.rad-85-60.slope", 9),
        "curves.rad-85-60.slope",
        "less than or equal to 4",
    ),
    (
        "unsorted table",
        lambda d: _set(d, "curves.floor-45-35.points", [[5, 30], [0, 40]]),
        "curves.floor-45-35",
        "strictly increasing",
    ),
    ("bad duration", lambda d: _set(d, "alarms.0.delay", "soon"), "alarms[0].delay", "duration"),
    (
        "unknown alarm role",
        lambda d: _set(d, "alarms.0.role", "t9_supply"),
        "alarms[0].role",
        "unknown role",
    ),
    (
        "mixed designs",
        lambda d: _set(d, "substations.0.buildings.1.design_supply", 75),
        "substations[0].buildings",
        "share design supply/return",
    ),
    (
        "return above supply",
        lambda d: _set(d, "substations.0.buildings.0.design_return", 90),
        "substations[0].buildings[0]",
        "design_return must be below",
    ),
    (
        "unit taken twice",
        lambda d: _set(
            d, "substations.1.devices.0.port", d["substations"][0]["devices"][0]["port"]
        ),
        "substations[1].devices[0].unit_id",
        "is already ss01/plc",
    ),
    (
        "fault on unknown device",
        lambda d: _set(d, "faults", [{"kind": "device_offline", "target": "ss01/nope"}]),
        "faults[0].target",
        "asset/device",
    ),
    (
        "bad time zone",
        lambda d: _set(d, "site.timezone", "Mars/Olympus"),
        "site.timezone",
        "unknown time zone",
    ),
]


@pytest.mark.parametrize(
    ("name", "mutate", "where", "expect"), MISTAKES, ids=[m[0] for m in MISTAKES]
)
def test_each_mistake_names_file_path_and_expectation(
    tmp_path: Path, demo_doc: Doc, name: str, mutate: Callable[[Doc], Doc], where: str, expect: str
) -> None:
    path = write_site(tmp_path, mutate(copy.deepcopy(demo_doc)))
    with pytest.raises(ConfigError) as info:
        load_site(path)
    lines = [str(i) for i in info.value.issues]
    assert any(
        line.startswith(f"{path}: {where}") and expect.lower() in line.lower() for line in lines
    ), lines
    assert all("\n" not in line for line in lines)


def _profile_doc(points: list[dict[str, Any]]) -> Doc:
    return {"profiles": {"p": {"protocol": "modbus", "points": points}}}


PROFILE_MISTAKES = [
    (
        [
            {"role": "t1_supply", "address": 0, "data_type": "float32"},
            {"role": "t1_return", "address": 1, "data_type": "int16"},
        ],
        "points[1].address",
        "overlaps points[0] (t1_supply)",
    ),
    (
        [{"role": "t1_supply", "address": 0, "data_type": "string"}],
        "points[0].length",
        "needs its length",
    ),
    (
        [{"role": "t1_supply", "register_type": "coil", "address": 0, "data_type": "float32"}],
        "points[0].data_type",
        "use bool",
    ),
    (
        [{"role": "t1_supply", "register_type": "input", "address": 0, "writable": True}],
        "points[0].writable",
        "read-only",
    ),
    (
        [{"role": "t1_supply", "address": 65535, "data_type": "float64"}],
        "points[0].address",
        "pass 65535",
    ),
    (
        [{"role": "t1_supply", "address": 0, "data_type": "double"}],
        "points[0].data_type",
        "float32",
    ),
    ([{"role": "t1_supply", "address": 0, "byte_order": "ACBD"}], "points[0].byte_order", "ABCD"),
    ([{"role": "src_power", "address": 0}], "points[0].role", "belongs to a source"),
    ([{"role": "t7", "address": 0}], "points[0].role", "unknown role 't7'"),
]


@pytest.mark.parametrize(("points", "where", "expect"), PROFILE_MISTAKES)
def test_profile_mistakes_are_reported_against_the_included_file(
    tmp_path: Path, demo_doc: Doc, points: list[dict[str, Any]], where: str, expect: str
) -> None:
    include = write_site(tmp_path, _profile_doc(points), name="extra-profiles.yaml")
    demo_doc["include"].append(str(include))
    demo_doc["substations"][0]["devices"][0]["profile"] = "p"
    with pytest.raises(ConfigError) as info:
        load_site(write_site(tmp_path, demo_doc))
    lines = [str(i) for i in info.value.issues]
    assert any(
        line.startswith(f"{include}: profiles.p.{where}") and expect in line for line in lines
    ), lines


def test_bits_of_one_register_do_not_overlap_each_other(tmp_path: Path, demo_doc: Doc) -> None:
    include = write_site(
        tmp_path,
        _profile_doc(
            [
                {"role": "t1_supply", "address": 0},
                {"role": "pump_running", "address": 1, "data_type": "bool", "bit": 0},
                {"name": "fault_bit", "address": 1, "data_type": "bool", "bit": 3, "value": 0},
            ]
        ),
        name="bits.yaml",
    )
    demo_doc["include"].append(str(include))
    demo_doc["substations"][0]["devices"][0]["profile"] = "p"
    load_site(write_site(tmp_path, demo_doc))


def test_yaml_syntax_and_duplicate_keys_give_line_numbers(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("site: {id: demo\nsubstations: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken.yaml: line \d+, column \d+: invalid YAML"):
        load_site(broken)
    twice = tmp_path / "twice.yaml"
    twice.write_text("site: {id: a}\nsite: {id: b}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 2, column 1: invalid YAML: key 'site' is given"):
        load_site(twice)


def test_missing_include_names_the_including_file(tmp_path: Path, demo_doc: Doc) -> None:
    demo_doc["include"].append("nowhere.yaml")
    path = write_site(tmp_path, demo_doc)
    with pytest.raises(ConfigError, match=r"site.yaml: include\[3\]: .*nowhere.yaml: no such file"):
        load_site(path)


def test_check_config_exit_codes(
    tmp_path: Path, demo_doc: Doc, capsys: pytest.CaptureFixture
) -> None:
    assert main(["check-config", str(DEMO)]) == 0
    assert "ok: site demo, 12 substations" in capsys.readouterr().out
    demo_doc["substations"][3]["devices"][0]["port"] = 0
    bad = write_site(tmp_path, demo_doc)
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"heatnet: {bad}: substations[3].devices[0].port: "
        "input should be greater than or equal to 1, got 0"
    ]


def test_cli_bad_input_is_one_line_without_traceback(tmp_path: Path) -> None:
    cases = [
        ["check-config", str(tmp_path / "absent.yaml")],
        ["points", "-c", str(DEMO), "--format", "xml"],
        ["simulate", "-c", str(DEMO), "--speed", "-3"],
        ["no-such-command"],
    ]
    for argv in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "heatnet.cli", *argv],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert proc.returncode == 2, (argv, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_points_listing_is_the_documented_contract(capsys: pytest.CaptureFixture) -> None:
    import json

    assert main(["points", "-c", str(DEMO), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    modbus = next(r for r in rows if r["path"] == "demo/ss05/t1_supply")
    assert modbus == {
        "path": "demo/ss05/t1_supply",
        "protocol": "modbus",
        "host": "127.0.0.1",
        "port": 15025,
        "serial_port": None,
        "framer": "rtu",
        "unit_id": 5,
        "register_type": "holding",
        "address": 0,
        "data_type": "float32",
        "byte_order": "CDAB",
        "scale": 1.0,
        "offset": 0.0,
        "unit": "degC",
    }
    opcua = next(r for r in rows if r["path"] == "demo/ss07/t2_supply")
    assert opcua == {
        "path": "demo/ss07/t2_supply",
        "protocol": "opcua",
        "endpoint": "opc.tcp://127.0.0.1:14847/heatnet/ss07",
        "node_id": "ns=2;s=demo/ss07/t2_supply",
        "unit": "degC",
    }
    assert main(["points", "-c", str(DEMO), "--format", "csv"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith("path,protocol,host,port,")
