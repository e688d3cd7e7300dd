"""OPC UA DataValues as heatnet samples: status codes to quality, variants to numbers or text.

A DataValue's status severity gives the quality (Good, Uncertain, Bad); the code itself
gives the reason, from `STATUS_REASONS`, else the severity's default. A Good number
outside the profile's min/max is downgraded to UNCERTAIN out_of_range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from asyncua import ua

from heatnet.config import OpcUaPoint
from heatnet.points import PointSpec, Quality, QualityReason
from heatnet.samples import REASON_CODE, SampleBatch

_S = ua.StatusCodes
_R = QualityReason

STATUS_REASONS: dict[int, QualityReason] = {
    # the device or the path to it is unreachable
    _S.BadNoCommunication: _R.COMMS_LOST,
    _S.BadCommunicationError: _R.COMMS_LOST,
    _S.BadNotConnected: _R.COMMS_LOST,
    _S.BadServerNotConnected: _R.COMMS_LOST,
    _S.BadConnectionClosed: _R.COMMS_LOST,
    _S.BadSecureChannelClosed: _R.COMMS_LOST,
    _S.BadShutdown: _R.COMMS_LOST,
    _S.BadServerHalted: _R.COMMS_LOST,
    _S.UncertainNoCommunicationLastUsableValue: _R.COMMS_LOST,
    # no answer in time
    _S.BadTimeout: _R.TIMEOUT,
    _S.BadRequestTimeout: _R.TIMEOUT,
    # the instrument itself
    _S.BadSensorFailure: _R.SENSOR_FAULT,
    _S.BadOutOfService: _R.SENSOR_FAULT,
    _S.UncertainSensorNotAccurate: _R.SENSOR_FAULT,
    # the value
    _S.BadOutOfRange: _R.OUT_OF_RANGE,
    _S.UncertainEngineeringUnitsExceeded: _R.OUT_OF_RANGE,
    _S.UncertainLastUsableValue: _R.STALE,
    _S.BadWaitingForInitialData: _R.STALE,
    _S.BadDecodingError: _R.DECODE_ERROR,
    _S.BadDataEncodingInvalid: _R.DECODE_ERROR,
    _S.BadTypeMismatch: _R.DECODE_ERROR,
}
"""Status codes (without info bits) whose reason differs from their severity's default.

Any other Bad code (BadDeviceFailure, BadResourceUnavailable, BadNodeIdUnknown, ...) is
the device refusing the read: device_exception. Any other Uncertain code has no reason.
"""

_CODE_MASK = 0xFFFF0000
_SEVERITY_MASK = 0xC0000000
_UNCERTAIN = 0x40000000
_MS = timedelta(milliseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def status_quality(code: int) -> tuple[Quality, QualityReason]:
    """The quality and reason of an OPC UA status code."""
    severity = code & _SEVERITY_MASK
    if severity == 0:
        return Quality.GOOD, _R.NONE
    reason = STATUS_REASONS.get(code & _CODE_MASK)
    if severity == _UNCERTAIN:
        return Quality.UNCERTAIN, reason or _R.NONE
    return Quality.BAD, reason or _R.DEVICE_EXCEPTION


class PointDecoder:
    """Turns DataValues of a device's points (by index into `points`) into a SampleBatch."""

    def __init__(self, points: Sequence[PointSpec], source_timestamps: bool) -> None:
        self.paths = [p.path for p in points]
        self._source_timestamps = source_timestamps
        low, high = [], []
        for spec in points:
            point = spec.point
            low.append(-math.inf if point.min is None else point.min)
            high.append(math.inf if point.max is None else point.max)
        self._low, self._high = np.array(low), np.array(high)
        self._text = {
            i
            for i, p in enumerate(points)
            if isinstance(p.point, OpcUaPoint) and p.point.variant_type == "String"
        }
        self._qualities: dict[int, tuple[int, int]] = {}

    def _quality(self, code: int) -> tuple[int, int]:
        cached = self._qualities.get(code)
        if cached is None:
            quality, reason = status_quality(code)
            cached = self._qualities[code] = (int(quality), REASON_CODE[reason])
        return cached

    def decode(
        self, indices: Sequence[int], data: Sequence[ua.DataValue], now_ms: int
    ) -> SampleBatch:
        """Samples of points `indices` from their DataValues; `now_ms` stamps collector time."""
        n = len(indices)
        ts = np.full(n, now_ms, dtype=np.int64)
        values = np.full(n, np.nan)
        quality = np.empty(n, dtype=np.uint8)
        reason = np.empty(n, dtype=np.uint8)
        texts: dict[int, str] = {}
        bad, decode_error = self._quality(_S.BadDecodingError)
        for row, (index, dv) in enumerate(zip(indices, data, strict=True)):
            quality[row], reason[row] = self._quality(dv.StatusCode.value)
            if self._source_timestamps and dv.SourceTimestamp is not None:
                ts[row] = (dv.SourceTimestamp - _EPOCH) // _MS
            if quality[row] == Quality.BAD:
                continue
            value = dv.Value.Value if dv.Value is not None else None
            if index in self._text and isinstance(value, str):
                texts[row] = value
            elif isinstance(value, int | float) and index not in self._text:
                values[row] = value
            else:
                quality[row], reason[row] = bad, decode_error
        self._mark_out_of_range(np.asarray(indices), values, quality, reason)
        return SampleBatch([self.paths[i] for i in indices], ts, values, quality, reason, texts)

    def failed(self, indices: Sequence[int], reason: QualityReason, now_ms: int) -> SampleBatch:
        """BAD samples without values for points `indices`: the read itself failed."""
        paths = [self.paths[i] for i in indices]
        return SampleBatch.of(paths, now_ms, np.full(len(paths), np.nan), Quality.BAD, reason)

    def _mark_out_of_range(
        self,
        indices: np.ndarray,
        values: np.ndarray,
        quality: np.ndarray,
        reason: np.ndarray,
    ) -> None:
        if not len(indices):
            return
        with np.errstate(invalid="ignore"):
            outside = (values < self._low[indices]) | (values > self._high[indices])
        outside &= quality == Quality.GOOD
        quality[outside] = Quality.UNCERTAIN
        reason[outside] = REASON_CODE[_R.OUT_OF_RANGE]
