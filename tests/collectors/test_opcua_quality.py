"""OPC UA status codes and variants as heatnet samples, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from asyncua import ua

from collectors.opcua_quality import PointDecoder, status_quality
from heatnet.config import OpcUaDevice, OpcUaPoint
from heatnet.points import PointSpec, Quality, QualityReason
from heatnet.samples import REASON_CODE

S, R = ua.StatusCodes, QualityReason
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEVICE = OpcUaDevice(id="plc", protocol="opcua", endpoint="opc.tcp://127.0.0.1:4840", profile="p")


@pytest.mark.parametrize(
    ("code", "quality", "reason"),
    [
        (S.Good, Quality.GOOD, R.NONE),
        (S.GoodLocalOverride, Quality.GOOD, R.NONE),
        (S.UncertainInitialValue, Quality.UNCERTAIN, R.NONE),
        (S.UncertainLastUsableValue, Quality.UNCERTAIN, R.STALE),
        (S.UncertainSensorNotAccurate, Quality.UNCERTAIN, R.SENSOR_FAULT),
        (S.UncertainEngineeringUnitsExceeded, Quality.UNCERTAIN, R.OUT_OF_RANGE),
        (S.UncertainNoCommunicationLastUsableValue, Quality.UNCERTAIN, R.COMMS_LOST),
        (S.BadNoCommunication, Quality.BAD, R.COMMS_LOST),
        (S.BadCommunicationError, Quality.BAD, R.COMMS_LOST),
        (S.BadNotConnected, Quality.BAD, R.COMMS_LOST),
        (S.BadShutdown, Quality.BAD, R.COMMS_LOST),
        (S.BadTimeout, Quality.BAD, R.TIMEOUT),
        (S.BadRequestTimeout, Quality.BAD, R.TIMEOUT),
        (S.BadDeviceFailure, Quality.BAD, R.DEVICE_EXCEPTION),
        (S.BadResourceUnavailable, Quality.BAD, R.DEVICE_EXCEPTION),
        (S.BadNodeIdUnknown, Quality.BAD, R.DEVICE_EXCEPTION),
        (S.BadSensorFailure, Quality.BAD, R.SENSOR_FAULT),
        (S.BadOutOfService, Quality.BAD, R.SENSOR_FAULT),
        (S.BadOutOfRange, Quality.BAD, R.OUT_OF_RANGE),
        (S.BadWaitingForInitialData, Quality.BAD, R.STALE),
        (S.BadTypeMismatch, Quality.BAD, R.DECODE_ERROR),
        (S.BadDeviceFailure | 0x0400, Quality.BAD, R.DEVICE_EXCEPTION),  # info bits ignored
    ],
)
def test_status_codes_map_to_quality_and_reason(
    code: int, quality: Quality, reason: QualityReason
) -> None:
    assert status_quality(code) == (quality, reason)


def _spec(key: str, variant: str = "Double", **limits: float) -> PointSpec:
    point = OpcUaPoint(name=key, variant_type=variant, **limits)  # type: ignore[arg-type]
    return PointSpec(f"demo/ss01/{key}", "substation", "ss01", key, DEVICE, point, "")


def _value(value: object, variant: ua.VariantType, ms: int = 0) -> ua.DataValue:
    return ua.DataValue(
        ua.Variant(value, variant), SourceTimestamp=EPOCH + timedelta(milliseconds=ms)
    )


POINTS = [
    _spec("slope", min=0.1, max=4.0),
    _spec("running", "Boolean"),
    _spec("model", "String"),
    _spec("speed", "Float"),
]


def test_decoder_reads_numbers_booleans_texts_and_ranges() -> None:
    decoder = PointDecoder(POINTS, source_timestamps=True)
    batch = decoder.decode(
        [0, 1, 2, 3],
        [
            _value(4.5, ua.VariantType.Double, 1_000),
            _value(True, ua.VariantType.Boolean, 1_001),
            _value("CX-OPC-2", ua.VariantType.String, 1_002),
            ua.DataValue(StatusCode=ua.StatusCode(S.BadDeviceFailure)),
        ],
        now_ms=99,
    )
    assert batch.paths == [p.path for p in POINTS]
    assert batch.ts_ms.tolist() == [1_000, 1_001, 1_002, 99]
    assert batch.values[:2].tolist() == [4.5, 1.0]
    assert np.isnan(batch.values[2:]).all()
    assert batch.texts == {2: "CX-OPC-2"}
    assert batch.quality.tolist() == [Quality.UNCERTAIN, Quality.GOOD, Quality.GOOD, Quality.BAD]
    assert batch.reason.tolist() == [
        REASON_CODE[R.OUT_OF_RANGE],
        0,
        0,
        REASON_CODE[R.DEVICE_EXCEPTION],
    ]


def test_decoder_stamps_collector_time_and_flags_wrong_types() -> None:
    decoder = PointDecoder(POINTS, source_timestamps=False)
    batch = decoder.decode(
        [2, 0],
        [_value(3.0, ua.VariantType.Double, 5), _value("x", ua.VariantType.String, 5)],
        now_ms=42,
    )
    assert batch.paths == ["demo/ss01/model", "demo/ss01/slope"]
    assert batch.ts_ms.tolist() == [42, 42]
    assert batch.quality.tolist() == [Quality.BAD, Quality.BAD]
    assert set(batch.reason.tolist()) == {REASON_CODE[R.DECODE_ERROR]}
