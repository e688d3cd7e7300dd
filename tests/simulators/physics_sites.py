"""Small site documents for physics tests: one substation, one building, chosen rooms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from heatnet.config import SiteConfig
from heatnet.curves import design_supply_return
from heatnet.loader import load_site
from tests.conftest import DEMO, write_site

FLAT_SOURCE = {
    "type": "table",
    "points": [[-30, 130], [30, 130]],
    "min_supply": 70,
    "max_supply": 130,
}


def formula_curve(
    supply: float, ret: float, exponent: float, outdoor: list[float]
) -> dict[str, Any]:
    """A table curve whose points lie on the DOMAIN.md supply formula (18 °C, Tai'an)."""
    t_supply, _ = design_supply_return(
        outdoor, supply_design=supply, return_design=ret, exponent=exponent
    )
    points = [[float(t), round(float(s), 3)] for t, s in zip(outdoor, t_supply, strict=True)]
    return {"type": "table", "points": points, "min_supply": 20, "max_supply": 100}


def one_building_doc(
    *,
    supply: float = 85.0,
    ret: float = 60.0,
    emitter: str = "radiator",
    exponent: float | None = None,
    construction: str = "medium",
    outdoor: float | None = 0.0,
    curve: dict[str, Any] | None = None,
    distance_m: float = 500.0,
    rooms: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    building: dict[str, Any] = {
        "id": "b1",
        "floor_area_m2": 10000,
        "construction": construction,
        "emitter": emitter,
        "design_supply": supply,
        "design_return": ret,
        "rooms": rooms or [{"id": "r1", "type": "living"}],
    }
    if exponent is not None:
        building["exponent"] = exponent
    weather: dict[str, Any] = {"solar": False}
    if outdoor is not None:
        weather["fixed_outdoor"] = outdoor
    return {
        "site": {"id": "t"},
        "simulation": {"start": "2026-12-15T00:00:00", "seed": 3, "weather": weather},
        "include": [str(DEMO.parent / "profiles" / "modbus-substation.yaml")],
        "curves": {
            "src": FLAT_SOURCE,
            "c": curve or {"type": "slope_shift", "slope": 2.0, "shift": 0.0, "max_supply": 100},
        },
        "heat_source": {"supply_curve": "src"},
        "substations": [
            {
                "id": "ss1",
                "curve": "c",
                "design": {"distance_m": distance_m},
                "devices": [
                    {
                        "id": "plc",
                        "protocol": "modbus",
                        "host": "127.0.0.1",
                        "port": 1502,
                        "profile": "plc-modbus-ss",
                    }
                ],
                "buildings": [building],
            }
        ],
    }


def load(tmp_path: Path, doc: dict[str, Any], name: str = "site.yaml") -> SiteConfig:
    return load_site(write_site(tmp_path, doc, name))
