"""The table of point roles: what a measured quantity is, where it sits and its unit.

Analytics and the dashboard find data by role, never by register address, so a site
with another PLC only needs another device profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Asset(StrEnum):
    """The kind of plant a point belongs to."""

    SUBSTATION = "substation"
    SOURCE = "source"
    STEAM = "steam"
    ROOM = "room"


@dataclass(frozen=True, slots=True)
class Role:
    """One measured or set quantity with its engineering unit."""

    name: str
    assets: tuple[Asset, ...]
    unit: str
    description: str
    counter: bool = False


ROLES: dict[str, Role] = {
    r.name: r
    for r in (
        # primary side of a substation
        Role("t1_supply", (Asset.SUBSTATION,), "degC", "primary supply temperature"),
        Role("t1_return", (Asset.SUBSTATION,), "degC", "primary return temperature"),
        Role("p1_supply", (Asset.SUBSTATION,), "MPa", "primary supply pressure"),
        Role("p1_return", (Asset.SUBSTATION,), "MPa", "primary return pressure"),
        Role("f1_flow", (Asset.SUBSTATION,), "m3/h", "primary flow"),
        Role("q1_power", (Asset.SUBSTATION,), "kW", "primary heat power"),
        Role("e1_energy", (Asset.SUBSTATION,), "GJ", "primary heat meter energy", counter=True),
        Role("v1_valve", (Asset.SUBSTATION,), "%", "primary control valve position"),
        # secondary side
        Role("t2_supply", (Asset.SUBSTATION,), "degC", "secondary supply temperature"),
        Role("t2_return", (Asset.SUBSTATION,), "degC", "secondary return temperature"),
        Role("p2_supply", (Asset.SUBSTATION,), "MPa", "secondary supply pressure"),
        Role("p2_return", (Asset.SUBSTATION,), "MPa", "secondary return pressure"),
        Role("f2_flow", (Asset.SUBSTATION,), "m3/h", "secondary flow"),
        Role("q2_power", (Asset.SUBSTATION,), "kW", "secondary heat power"),
        Role(
            "t2_setpoint", (Asset.SUBSTATION,), "degC", "secondary supply set point from the curve"
        ),
        Role("pump_speed", (Asset.SUBSTATION,), "Hz", "secondary circulation pump speed"),
        Role("pump_running", (Asset.SUBSTATION,), "", "secondary pump running (1) or stopped (0)"),
        Role("makeup_flow", (Asset.SUBSTATION,), "m3/h", "secondary make-up water flow"),
        Role(
            "makeup_total", (Asset.SUBSTATION,), "m3", "secondary make-up water meter", counter=True
        ),
        # the controller's heating curve, held in the PLC
        Role("curve_slope", (Asset.SUBSTATION,), "", "heating curve slope (gradient)"),
        Role("curve_shift", (Asset.SUBSTATION,), "K", "heating curve parallel shift (level)"),
        Role("curve_min", (Asset.SUBSTATION,), "degC", "heating curve minimum supply"),
        Role("curve_max", (Asset.SUBSTATION,), "degC", "heating curve maximum supply"),
        *(
            Role(f"curve_table_{i}", (Asset.SUBSTATION,), "degC", f"heating curve table point {i}")
            for i in range(1, 7)
        ),
        # heat source and site
        Role("t_outdoor", (Asset.SOURCE, Asset.SUBSTATION), "degC", "outdoor temperature sensor"),
        Role("src_t_supply", (Asset.SOURCE,), "degC", "heat source supply temperature"),
        Role("src_t_return", (Asset.SOURCE,), "degC", "heat source return temperature"),
        Role("src_flow", (Asset.SOURCE,), "m3/h", "heat source circulation flow"),
        Role("src_power", (Asset.SOURCE,), "kW", "heat source output"),
        Role("src_running", (Asset.SOURCE,), "", "heat source firing (1) or tripped (0)"),
        Role("src_setpoint", (Asset.SOURCE,), "degC", "heat source supply set point"),
        # industrial steam
        Role("steam_pressure", (Asset.STEAM,), "MPa", "steam pressure at the customer's meter"),
        Role("steam_temperature", (Asset.STEAM,), "degC", "steam temperature at the meter"),
        Role("steam_mass_flow", (Asset.STEAM,), "t/h", "steam mass flow"),
        Role("steam_total", (Asset.STEAM,), "t", "steam mass meter", counter=True),
        # buildings
        Role("t_indoor", (Asset.ROOM,), "degC", "indoor temperature of a room sensor"),
        # any PLC
        Role(
            "plc_clock",
            (Asset.SUBSTATION, Asset.SOURCE, Asset.STEAM),
            "ms",
            "the PLC's real-time clock, epoch milliseconds",
        ),
    )
}

# The slope/shift and six-point curve parameters a controller may hold (Danfoss ECL style).
CURVE_TABLE_OUTDOOR: tuple[float, ...] = (-30.0, -15.0, -5.0, 0.0, 5.0, 15.0)


def roles_for(asset: Asset) -> list[str]:
    """Names of the roles that belong to one kind of asset."""
    return [name for name, role in ROLES.items() if asset in role.assets]
