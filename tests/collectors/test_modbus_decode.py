"""The vectorised decoder agrees with heatnet.codec and marks quality point by point."""

from __future__ import annotations

import math

import pytest

from collectors.modbus_decode import GroupDecoder, GroupImage
from collectors.modbus_plan import ReadRequest
from heatnet.codec import decode_value, encode_raw, encode_string, encode_value
from heatnet.config import REGISTER_COUNT, ModbusPoint
from heatnet.points import Quality, QualityReason
from heatnet.samples import REASON_CODES

SAMPLES = {
    "int16": [-32768, -1, 0, 1234, 32767],
    "uint16": [0, 1, 65535],
    "int32": [-(2**31), -1234567, 0, 2**31 - 1],
    "uint32": [0, 123456789, 2**32 - 1],
    "int64": [-(2**63), -98765432101234, 0, 2**53 + 1],
    "uint64": [0, 1_797_264_005_000, 2**64 - 1],
    "float32": [-1.5, 0.0, 3.4e38, 1e-30],
    "float64": [-273.15, 0.0, 1.7e308, 5e-324],
}


def read_all(points: list[ModbusPoint], words: list[int]) -> GroupDecoder:
    """A decoder over holding registers 0.. holding `words`, as if one read returned them."""
    image = GroupImage(points)
    image.store(ReadRequest("holding", 0, len(words), ()), words)
    return GroupDecoder(points, image)


@pytest.mark.parametrize("byte_order", ["ABCD", "DCBA", "BADC", "CDAB"])
@pytest.mark.parametrize("data_type", list(SAMPLES))
def test_every_type_and_byte_order_decodes_as_the_codec_does(data_type, byte_order) -> None:
    width = REGISTER_COUNT[data_type]
    scale, offset = (1.0, 0.0) if data_type.startswith("float") else (0.01, -5.0)
    points, words = [], []
    for i, raw in enumerate(SAMPLES[data_type]):
        points.append(
            ModbusPoint(
                name=f"p{i}",
                address=i * width,
                data_type=data_type,
                byte_order=byte_order,
                scale=scale,
                offset=offset,
            )
        )
        words += encode_raw(raw, data_type, byte_order)
    decoded = read_all(points, words).decode()
    for i, point in enumerate(points):
        registers = words[point.address : point.address + width]
        expected = decode_value(registers, data_type, byte_order, scale, offset)
        assert decoded.values[i] == expected, (data_type, byte_order, i)
    assert decoded.quality.tolist() == [Quality.GOOD] * len(points)


def test_bits_strings_and_bad_values_get_their_quality() -> None:
    points = [
        ModbusPoint(name="nan", address=0, data_type="float32"),
        ModbusPoint(name="hot", address=2, data_type="float32", min=0, max=4.0),
        ModbusPoint(name="model", address=4, data_type="string", length=3, byte_order="BADC"),
        ModbusPoint(name="garbage", address=7, data_type="string", length=1),
        ModbusPoint(name="running", address=8, data_type="bool", bit=3),
        ModbusPoint(name="alarm", address=8, data_type="bool", bit=9),
        ModbusPoint(name="inf", address=9, data_type="float64"),
        ModbusPoint(name="remote", register_type="coil", address=5, data_type="bool"),
    ]
    words = [
        *encode_value(math.nan, "float32"),
        *encode_value(5.5, "float32"),
        *encode_string("S7-12", 3, "BADC"),
        0xFF41,
        1 << 3,
        *encode_value(math.inf, "float64"),
    ]
    image = GroupImage(points)
    image.store(ReadRequest("holding", 0, len(words), ()), words)
    image.store(ReadRequest("coil", 5, 1, ()), [True])
    decoded = GroupDecoder(points, image).decode()
    reasons = [REASON_CODES[r] for r in decoded.reason]
    assert reasons == [
        QualityReason.DECODE_ERROR,
        QualityReason.OUT_OF_RANGE,
        QualityReason.NONE,
        QualityReason.DECODE_ERROR,
        QualityReason.NONE,
        QualityReason.NONE,
        QualityReason.DECODE_ERROR,
        QualityReason.NONE,
    ]
    assert decoded.quality.tolist() == [2, 1, 0, 2, 0, 0, 2, 0]
    assert decoded.values[1] == 5.5 and decoded.values[4:6].tolist() == [1.0, 0.0]
    assert decoded.values[7] == 1.0 and decoded.texts == {2: "S7-12"}


def test_a_failed_read_marks_only_the_points_in_it() -> None:
    points = [
        ModbusPoint(name="a", address=0, data_type="uint16"),
        ModbusPoint(name="b", address=1, data_type="uint32"),
        ModbusPoint(name="c", address=10, data_type="int16"),
    ]
    image = GroupImage(points)
    image.mark(QualityReason.COMMS_LOST)
    image.store(ReadRequest("holding", 0, 2, ()), [7, 0])  # half of b
    image.fail(ReadRequest("holding", 2, 1, ()), QualityReason.TIMEOUT)
    decoded = GroupDecoder(points, image).decode()
    assert decoded.values[0] == 7 and math.isnan(decoded.values[1])
    assert [REASON_CODES[r] for r in decoded.reason] == [
        QualityReason.NONE,
        QualityReason.TIMEOUT,
        QualityReason.COMMS_LOST,  # never read
    ]
