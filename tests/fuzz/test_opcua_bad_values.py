"""OpcUaCollector against a server whose variables hold bad statuses, wrong types and nulls.

Each point gets the quality collectors/opcua_quality.py maps its status (or its
unusable value) to, the good points of the same Read stay GOOD, and polling goes on.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from asyncua import Server, ua

from collectors.opcua import OpcUaCollector
from heatnet.config import OpcUaDevice, OpcUaPoint
from heatnet.points import PointSpec, Quality, QualityReason
from heatnet.samples import SampleBatch

S, R, Q = ua.StatusCodes, QualityReason, Quality
V = ua.VariantType
NS_URI = "urn:heatnet:fuzz"

# name: (what the server holds: value, variant, status; the point's variant_type) -> expected
SERVED: dict[str, tuple[object, V, int, str]] = {
    "good": (42.5, V.Double, S.Good, "Double"),
    "sensor_failure": (0.0, V.Double, S.BadSensorFailure, "Double"),
    "device_failure": (0.0, V.Double, S.BadDeviceFailure, "Double"),
    "last_usable": (41.0, V.Double, S.UncertainLastUsableValue, "Double"),
    "int_for_double": (7, V.Int32, S.Good, "Double"),
    "text_for_double": ("hot", V.String, S.Good, "Double"),
    "array": ([1.0, 2.0], V.Double, S.Good, "Double"),
    "null": (None, V.Null, S.Good, "Double"),
    "datetime": (datetime(2026, 12, 15, tzinfo=UTC), V.DateTime, S.Good, "Double"),
    "bytes": (b"\x00\xff", V.ByteString, S.Good, "Double"),
    "double_for_text": (1.5, V.Double, S.Good, "String"),
    "text": ("S7-1500", V.String, S.Good, "String"),
    "good_too": (-3.25, V.Double, S.Good, "Double"),
}
EXPECTED: dict[str, tuple[Quality, QualityReason, float | str | None]] = {
    "good": (Q.GOOD, R.NONE, 42.5),
    "sensor_failure": (Q.BAD, R.SENSOR_FAULT, None),
    "device_failure": (Q.BAD, R.DEVICE_EXCEPTION, None),
    "last_usable": (Q.UNCERTAIN, R.STALE, 41.0),
    "missing": (Q.BAD, R.DEVICE_EXCEPTION, None),  # BadNodeIdUnknown
    "int_for_double": (Q.GOOD, R.NONE, 7.0),  # a number is a number
    "text_for_double": (Q.BAD, R.DECODE_ERROR, None),
    "array": (Q.BAD, R.DECODE_ERROR, None),
    "null": (Q.BAD, R.DECODE_ERROR, None),
    "datetime": (Q.BAD, R.DECODE_ERROR, None),
    "bytes": (Q.BAD, R.DECODE_ERROR, None),
    "double_for_text": (Q.BAD, R.DECODE_ERROR, None),
    "text": (Q.GOOD, R.NONE, "S7-1500"),
    "good_too": (Q.GOOD, R.NONE, -3.25),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def node_id(name: str, ns: int) -> ua.NodeId:
    return ua.NodeId(f"t/ss01/{name}", ns)


async def hold(server: Server, name: str, ns: int) -> None:
    """Give a variable the value, variant and status SERVED says."""
    value, variant, status, _ = SERVED[name]
    data = ua.DataValue(ua.Variant(value, variant), StatusCode=ua.StatusCode(status))
    await server.write_attribute_value(node_id(name, ns), data)


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, int, str]]:
    endpoint = f"opc.tcp://127.0.0.1:{_free_port()}/fuzz"
    server = Server()
    await server.init()
    server.set_endpoint(endpoint)
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace(NS_URI)
    folder = await server.nodes.objects.add_folder(ns, "ss01")
    for name in SERVED:
        value, variant, _, _ = SERVED[name]
        await folder.add_variable(node_id(name, ns), name, value, variant)
        await hold(server, name, ns)
    await server.start()
    try:
        yield server, ns, endpoint
    finally:
        await server.stop()


def collector(endpoint: str, ns: int) -> OpcUaCollector:
    device = OpcUaDevice(
        id="plc", protocol="opcua", endpoint=endpoint, profile="p", timeout_s=2.0, retries=0
    )
    specs = []
    for name in EXPECTED:
        variant = SERVED[name][3] if name in SERVED else "Double"
        point = OpcUaPoint(name=name, variant_type=variant)  # type: ignore[arg-type]
        node = node_id(name, ns).to_string()
        specs.append(
            PointSpec(f"t/ss01/{name}", "substation", "ss01", name, device, point, "", node_id=node)
        )
    return OpcUaCollector(device, specs, lambda: 1_800_000_000.0)


def outcome(batch: SampleBatch) -> dict[str, tuple[Quality, QualityReason, float | str | None]]:
    return {s.path.rsplit("/", 1)[1]: (s.quality, s.reason, s.value) for s in batch.samples()}


async def test_bad_statuses_and_unusable_values_mark_only_their_points(
    server: tuple[Server, int, str],
) -> None:
    opcua, ns, endpoint = server
    made = collector(endpoint, ns)
    try:
        assert outcome(await made.poll("default")) == EXPECTED
        # it goes on: the next poll sees the server's new values, still point by point
        await opcua.write_attribute_value(
            node_id("good", ns), ua.DataValue(ua.Variant(43.0, V.Double))
        )
        await opcua.write_attribute_value(
            node_id("sensor_failure", ns), ua.DataValue(ua.Variant(12.0, V.Double))
        )
        again = outcome(await made.poll("default"))
        assert again["good"] == (Q.GOOD, R.NONE, 43.0)
        assert again["sensor_failure"] == (Q.GOOD, R.NONE, 12.0)
        assert {k: v for k, v in again.items() if k not in ("good", "sensor_failure")} == {
            k: v for k, v in EXPECTED.items() if k not in ("good", "sensor_failure")
        }
        assert made.stats.connects == 1 and not made.stats.errors
    finally:
        await made.close()
