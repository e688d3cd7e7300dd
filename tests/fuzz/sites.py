"""Seed site documents for the fuzz tests: a minimal site, and the demo cut down to size.

The full demo takes about 60 ms to parse (pure-Python YAML), too slow for a thousand
examples; three of its substations (Modbus TCP, RTU over TCP, OPC UA) keep every kind
of device, profile, curve and building at a fifth of the cost.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import DEMO

Doc = dict[str, Any]
PROFILE_FILES = [(DEMO.parent / "profiles" / name).resolve() for name in (
    "modbus-substation.yaml", "opcua-substation.yaml", "source-and-steam.yaml"
)]  # fmt: skip

MINIMAL: Doc = {
    "site": {"id": "m"},
    "heat_source": {"supply_curve": "c"},
    "curves": {"c": {"type": "slope_shift", "slope": 2.0}},
    "profiles": {
        "p": {
            "protocol": "modbus",
            "points": [{"role": "t2_supply", "address": 0, "data_type": "float32"}],
        }
    },
    "substations": [
        {
            "id": "s1",
            "curve": "c",
            "devices": [
                {
                    "id": "plc",
                    "protocol": "modbus",
                    "host": "127.0.0.1",
                    "port": 1502,
                    "profile": "p",
                }
            ],
            "buildings": [{"id": "b1", "floor_area_m2": 1000, "rooms": [{"id": "r1"}]}],
        }
    ],
}


def _demo() -> Doc:
    doc: Doc = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    doc["substations"] = [s for s in doc["substations"] if s["id"] in ("ss01", "ss05", "ss06")]
    doc["include"] = [str(p) for p in PROFILE_FILES]
    doc["historian"]["path"] = "demo.sqlite"
    return doc


DEMO_SMALL: Doc = _demo()


def inlined(doc: Doc) -> Doc:
    """The document with its included profiles copied in, so it parses without includes."""
    out = copy.deepcopy(doc)
    for name in out.pop("include", []):
        included = yaml.safe_load(Path(name).read_text(encoding="utf-8"))
        for section in ("profiles", "curves"):
            out.setdefault(section, {}).update(included.get(section) or {})
    return out


DEMO_INLINE: Doc = inlined(DEMO_SMALL)
SEEDS: dict[str, Doc] = {"minimal": MINIMAL, "demo": DEMO_SMALL, "demo-inline": DEMO_INLINE}


def dump(doc: Any) -> str:
    """YAML text for a document, with libyaml's emitter when it is there (10x faster)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(doc, Dumper=dumper, allow_unicode=True, sort_keys=False)
