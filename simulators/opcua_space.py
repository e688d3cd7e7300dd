"""The address space of a simulated PLC's OPC UA server: its nodes, units and served values.

Points are laid out as Objects/<site>/<asset>/<role or name>, room sensors as
Objects/<site>/<substation>/<building>/<room>/t_indoor, all in the site namespace
(index 2, the first registered). Variables carry the profile's variant type, a
Description from the role table, EngineeringUnits (UNECE codes, OPC UA Part 8) and,
when writable, EURange from the profile's min/max.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asyncua import Node, Server, ua

from heatnet.config import OpcUaPoint
from heatnet.points import PointSpec
from heatnet.roles import ROLES

SITE_NAMESPACE_INDEX = 2
UNECE_URI = "http://www.opcfoundation.org/UA/units/un/cefact"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# heatnet unit -> (UNECE Rec. 20 code, display symbol, description)
UNITS: dict[str, tuple[str, str, str]] = {
    "degC": ("CEL", "°C", "degree Celsius"),
    "K": ("KEL", "K", "kelvin"),
    "MPa": ("MPA", "MPa", "megapascal"),
    "m3/h": ("MQH", "m³/h", "cubic metre per hour"),
    "m3": ("MTQ", "m³", "cubic metre"),
    "kW": ("KWT", "kW", "kilowatt"),
    "GJ": ("GV", "GJ", "gigajoule"),
    "%": ("P1", "%", "percent"),
    "Hz": ("HTZ", "Hz", "hertz"),
    "t/h": ("E18", "t/h", "tonne per hour"),
    "t": ("TNE", "t", "tonne"),
    "ms": ("C26", "ms", "millisecond"),
}

_FLOATING = (ua.VariantType.Double, ua.VariantType.Float)


@dataclass(frozen=True, slots=True)
class PointVariable:
    """A point as one OPC UA variable: its place in `PlcBackend.values()` and its node."""

    index: int
    spec: PointSpec
    node_id: ua.NodeId
    variant: ua.VariantType

    @classmethod
    def of(cls, index: int, spec: PointSpec) -> PointVariable:
        """The variable for point `index` of the backend; ValueError outside the site namespace."""
        assert spec.node_id is not None and isinstance(spec.point, OpcUaPoint)
        node_id = ua.NodeId.from_string(spec.node_id)
        if node_id.NamespaceIndex != SITE_NAMESPACE_INDEX:
            raise ValueError(
                f"node id {spec.node_id} of {spec.path} is not in the site namespace "
                f"ns={SITE_NAMESPACE_INDEX}"
            )
        return cls(index, spec, node_id, ua.VariantType[spec.point.variant_type])


def plc_time(now_ms: int) -> datetime:
    """A PLC clock reading (epoch milliseconds) as an OPC UA timestamp, exact to the ms."""
    return EPOCH + timedelta(milliseconds=now_ms)


def engineering_units(unit: str) -> ua.EUInformation | None:
    """The EUInformation for a heatnet unit; None for dimensionless points."""
    if not unit:
        return None
    code, symbol, description = UNITS.get(unit, ("", unit, unit))
    unit_id = -1  # Part 8: -1 when the unit has no UNECE code
    if code:
        unit_id = 0
        for char in code:
            unit_id = unit_id << 8 | ord(char)
    return ua.EUInformation(
        NamespaceUri=UNECE_URI,
        UnitId=unit_id,
        DisplayName=ua.LocalizedText(symbol),
        Description=ua.LocalizedText(description),
    )


def _as_variant(variant: ua.VariantType, value: float) -> float | int | bool | None:
    """A model value as the variant type carries it; None when an integer type cannot."""
    if variant in _FLOATING:
        return value
    if math.isnan(value):
        return None
    if variant == ua.VariantType.Boolean:
        return bool(value)
    return round(value)


def served_value(
    variable: PointVariable, value: float | str, source: datetime, now: datetime
) -> ua.DataValue:
    """What a client reads: the value (a number, or text for a String point) and timestamps."""
    served = value if isinstance(value, str) else _as_variant(variable.variant, value)
    if served is None:
        status = ua.StatusCode(ua.StatusCodes.BadSensorFailure)
        return ua.DataValue(StatusCode=status, SourceTimestamp=source, ServerTimestamp=now)
    return ua.DataValue(
        ua.Variant(served, variable.variant), SourceTimestamp=source, ServerTimestamp=now
    )


def written_number(variable: PointVariable, written: ua.DataValue) -> float | None:
    """The number a client wrote, or None when it does not fit the variable's type."""
    value = written.Value.Value if written.Value is not None else None
    if isinstance(value, bool) != (variable.variant == ua.VariantType.Boolean):
        return None
    if not isinstance(value, int | float):
        return None
    return float(value)


async def build_address_space(server: Server, variables: list[PointVariable]) -> None:
    """Add the site's folders, asset and room objects and point variables to `server`."""
    containers: dict[str, Node] = {}

    async def container(path: str) -> Node:
        if path not in containers:
            parent_path, _, name = path.rpartition("/")
            node_id = ua.NodeId(path, SITE_NAMESPACE_INDEX)
            browse_name = ua.QualifiedName(name, SITE_NAMESPACE_INDEX)
            if parent_path:
                parent = await container(parent_path)
                containers[path] = await parent.add_object(node_id, browse_name)
            else:
                containers[path] = await server.nodes.objects.add_folder(node_id, browse_name)
        return containers[path]

    for variable in variables:
        parent_path, _, name = variable.spec.path.rpartition("/")
        parent = await container(parent_path)
        string = variable.variant == ua.VariantType.String
        initial = "" if string else _as_variant(variable.variant, 0.0)
        node = await parent.add_variable(
            variable.node_id,
            ua.QualifiedName(name, SITE_NAMESPACE_INDEX),
            ua.Variant(initial, variable.variant),
        )
        await _describe(server, variable, node)


async def _describe(server: Server, variable: PointVariable, node: Node) -> None:
    """Description, EngineeringUnits and, for a writable point, write access and EURange."""
    spec, identifier = variable.spec, variable.node_id.Identifier
    role = ROLES.get(spec.key)
    if role is not None:
        description = ua.DataValue(ua.LocalizedText(role.description))
        await server.write_attribute_value(
            variable.node_id, description, ua.AttributeIds.Description
        )
    units = engineering_units(spec.unit)
    if units is not None:
        await node.add_property(
            ua.NodeId(f"{identifier}.EngineeringUnits", SITE_NAMESPACE_INDEX),
            ua.QualifiedName("EngineeringUnits", 0),
            units,
        )
    point = spec.point
    if point.writable:
        await node.set_writable()
        if point.min is not None or point.max is not None:
            low = point.min if point.min is not None else -math.inf
            high = point.max if point.max is not None else math.inf
            await node.add_property(
                ua.NodeId(f"{identifier}.EURange", SITE_NAMESPACE_INDEX),
                ua.QualifiedName("EURange", 0),
                ua.Range(Low=low, High=high),
            )
