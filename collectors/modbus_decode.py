"""Decoding a poll group's replies: registers in, engineering values and quality out.

Replies land in a `GroupImage`, one flat word array per poll group holding every register
(or bit) its points occupy, with a status code per word saying whether that word was read
or why not. `GroupDecoder` then turns the image into values the way `heatnet.codec` does
for one point, but vectorised: numeric points are grouped by data type and byte order, so
each group is one gather and one numpy view, whatever the number of points.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from collectors.modbus_plan import BIT_TYPES, ReadRequest
from heatnet.codec import CodecError, decode_string
from heatnet.config import REGISTER_COUNT, ModbusPoint
from heatnet.points import Quality, QualityReason
from heatnet.samples import REASON_CODE

_BIG_ENDIAN = {
    "int16": ">i2", "uint16": ">u2", "int32": ">i4", "uint32": ">u4",
    "int64": ">i8", "uint64": ">u8", "float32": ">f4", "float64": ">f8",
}  # fmt: skip
_ONE_WORD = {"int16": np.int16, "uint16": np.uint16}  # views of the native uint16 words
_DECODE_ERROR = REASON_CODE[QualityReason.DECODE_ERROR]
_OUT_OF_RANGE = REASON_CODE[QualityReason.OUT_OF_RANGE]


class GroupImage:
    """The registers and bits one poll group reads, with a reason code per word (0: read)."""

    def __init__(self, points: Sequence[ModbusPoint]) -> None:
        self._base: dict[str, tuple[int, int]] = {}  # register type -> (first address, slot)
        size = 0
        for register_type in ("holding", "input", "coil", "discrete"):
            typed = [p for p in points if p.register_type == register_type]
            if typed:
                first = min(p.address for p in typed)
                self._base[register_type] = (first, size)
                size += max(p.address + p.register_count for p in typed) - first
        self.words = np.zeros(size, dtype=np.uint16)
        self.status = np.zeros(size, dtype=np.uint8)

    def slots(self, register_type: str, address: int, count: int) -> slice:
        """Where addresses [address, address + count) of a register type sit in the image."""
        first, slot = self._base[register_type]
        start = slot + address - first
        return slice(start, start + count)

    def mark(self, reason: QualityReason) -> None:
        """Set every word's status, before a poll (comms_lost: nothing read yet)."""
        self.status[:] = REASON_CODE[reason]

    def store(self, request: ReadRequest, words: Sequence[int] | Sequence[bool]) -> None:
        """Keep a reply: registers, or bits as 0/1."""
        where = self.slots(request.register_type, request.address, request.count)
        self.words[where] = np.asarray(words[: request.count], dtype=np.uint16)
        self.status[where] = 0

    def fail(self, request: ReadRequest, reason: QualityReason) -> None:
        self.status[self.slots(request.register_type, request.address, request.count)] = (
            REASON_CODE[reason]
        )


@dataclass(frozen=True, slots=True)
class Decoded:
    """A group's points in order: values (NaN where none), quality, reason codes, texts."""

    values: NDArray[np.float64]
    quality: NDArray[np.uint8]
    reason: NDArray[np.uint8]
    texts: dict[int, str]


@dataclass(frozen=True, slots=True)
class _NumericGroup:
    data_type: str
    positions: NDArray[np.intp]  # (k,) point positions
    slots: NDArray[np.intp]  # (k, words) image slots, most significant word first
    swap_bytes: bool
    scale: NDArray[np.float64]
    offset: NDArray[np.float64]
    scaled: bool  # any scale other than 1 or offset other than 0

    def decode(self, words: NDArray[np.uint16]) -> NDArray[np.float64]:
        if self.data_type in _ONE_WORD:  # a word is the value: a view, no byte shuffle
            gathered = words[self.slots[:, 0]]
            if self.swap_bytes:
                gathered = gathered.byteswap()
            raw = gathered.view(_ONE_WORD[self.data_type]).astype(np.float64)
            return raw * self.scale + self.offset if self.scaled else raw
        gathered = words[self.slots]
        if self.swap_bytes:
            gathered = gathered.byteswap()
        raw = np.ascontiguousarray(gathered.astype(">u2")).view(_BIG_ENDIAN[self.data_type])
        with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN become decode_error
            values = raw.reshape(len(self.positions)).astype(np.float64)
            return values * self.scale + self.offset if self.scaled else values


@dataclass(frozen=True, slots=True)
class _FlagGroup:
    """Bools: coils and discrete inputs (shift 0 of a 0/1 word) or bits of a register."""

    positions: NDArray[np.intp]
    slots: NDArray[np.intp]
    shift: NDArray[np.uint16]

    def decode(self, words: NDArray[np.uint16]) -> NDArray[np.float64]:
        return ((words[self.slots] >> self.shift) & 1).astype(np.float64)


class GroupDecoder:
    """Values and quality of a group's points from its image, in the order they were given."""

    def __init__(self, points: Sequence[ModbusPoint], image: GroupImage) -> None:
        self.image = image
        numeric: dict[tuple[str, str], list[int]] = defaultdict(list)
        flags: list[tuple[int, int, int]] = []
        self._strings: list[tuple[int, slice, str]] = []
        point_slots: list[NDArray[np.intp]] = []
        for position, point in enumerate(points):
            where = image.slots(point.register_type, point.address, point.register_count)
            point_slots.append(np.arange(where.start, where.stop, dtype=np.intp))
            if point.register_type in BIT_TYPES:
                flags.append((position, where.start, 0))
            elif point.data_type == "bool":
                flags.append((position, where.start, point.bit or 0))
            elif point.data_type == "string":
                self._strings.append((position, where, point.byte_order))
            else:
                numeric[(point.data_type, point.byte_order)].append(position)
        self._numeric = [
            _numeric_group(data_type, byte_order, positions, points, point_slots)
            for (data_type, byte_order), positions in numeric.items()
        ]
        self._flags = _FlagGroup(
            positions=np.array([f[0] for f in flags], dtype=np.intp),
            slots=np.array([f[1] for f in flags], dtype=np.intp),
            shift=np.array([f[2] for f in flags], dtype=np.uint16),
        )
        self._all_slots = np.concatenate(point_slots) if point_slots else np.empty(0, np.intp)
        counts = [len(s) for s in point_slots]
        self._starts = np.cumsum([0, *counts[:-1]], dtype=np.intp)
        self._low = np.array([-np.inf if p.min is None else p.min for p in points])
        self._high = np.array([np.inf if p.max is None else p.max for p in points])
        self._ranged = bool(np.isfinite(self._low).any() or np.isfinite(self._high).any())
        self._is_text = np.zeros(len(points), dtype=bool)
        self._is_text[[s[0] for s in self._strings]] = True

    def decode(self) -> Decoded:
        """Decode every point; a point is BAD with its worst word's reason if any was not read."""
        words, n = self.image.words, len(self._low)
        values = np.full(n, np.nan)
        if n == 0:
            return Decoded(values, np.zeros(0, np.uint8), np.zeros(0, np.uint8), {})
        if self.image.status.any():
            reason = np.maximum.reduceat(self.image.status[self._all_slots], self._starts)
        else:  # every word read: the usual poll
            reason = np.zeros(n, np.uint8)
        for group in self._numeric:
            values[group.positions] = group.decode(words)
        if len(self._flags.positions):
            values[self._flags.positions] = self._flags.decode(words)
        texts: dict[int, str] = {}
        for position, where, byte_order in self._strings:
            if reason[position]:
                continue
            try:
                texts[position] = decode_string(words[where].tolist(), byte_order)
            except CodecError:
                reason[position] = _DECODE_ERROR
        usable = np.isfinite(values) | self._is_text
        if reason.any() or not usable.all():
            read = reason == 0
            values[~read] = np.nan
            unusable = read & ~usable  # NaN, inf, or scaled past
            reason[unusable] = _DECODE_ERROR
            values[unusable] = np.nan  # a BAD sample carries no value, as when nothing was read
            quality = np.where(reason == 0, Quality.GOOD, Quality.BAD).astype(np.uint8)
        else:  # every point has a value
            quality = np.zeros(n, np.uint8)  # Quality.GOOD
        if self._ranged:
            with np.errstate(invalid="ignore"):
                outside = (reason == 0) & ((values < self._low) | (values > self._high))
            quality[outside] = Quality.UNCERTAIN
            reason[outside] = _OUT_OF_RANGE
        return Decoded(values, quality, reason, texts)


def _numeric_group(
    data_type: str,
    byte_order: str,
    positions: list[int],
    points: Sequence[ModbusPoint],
    point_slots: list[NDArray[np.intp]],
) -> _NumericGroup:
    """Word order is undone by the gather (CDAB, DCBA reversed), byte order by a byteswap."""
    slots = np.array([point_slots[p] for p in positions], dtype=np.intp)
    slots = slots.reshape(len(positions), REGISTER_COUNT[data_type])
    if byte_order in ("CDAB", "DCBA"):
        slots = slots[:, ::-1]
    return _NumericGroup(
        data_type=data_type,
        positions=np.array(positions, dtype=np.intp),
        slots=slots,
        swap_bytes=byte_order in ("BADC", "DCBA"),
        scale=np.array([points[p].scale for p in positions]),
        offset=np.array([points[p].offset for p in positions]),
        scaled=any(points[p].scale != 1.0 or points[p].offset != 0.0 for p in positions),
    )
