"""The process image of simulated Modbus PLCs: every device's registers and bits, as laid out
by its profile, and the plans that refill them from the plant's values in a few numpy steps.

The image knows nothing of sockets. `ProcessImage.refresh` encodes all values at once: numeric
points are grouped by data type and byte order, so each group is one vectorised conversion
and one scatter into the flat register array. Writes go the other way: `register_write` and
`coil_write` turn what a client sent into engineering values, or say why a PLC would refuse.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from heatnet.codec import CodecError, decode_value, encode_string
from heatnet.config import REGISTER_COUNT, ModbusDevice, ModbusPoint
from heatnet.points import PointSpec

REGISTER_TYPES = ("holding", "input")
BIT_TYPES = ("coil", "discrete")

_BIG_ENDIAN = {
    "int16": ">i2", "uint16": ">u2", "int32": ">i4", "uint32": ">u4",
    "int64": ">i8", "uint64": ">u8", "float32": ">f4", "float64": ">f8",
}  # fmt: skip


class WriteRejected(Exception):
    """A write the simulated PLC turns down; `exception_code` is the Modbus exception to send."""

    exception_code = 4


class NotWritable(WriteRejected):
    """The address holds nothing, or nothing a client may write (exception 2)."""

    exception_code = 2


class BadValue(WriteRejected):
    """The registers decode to a value the point does not accept (exception 3)."""

    exception_code = 3


@dataclass(frozen=True, slots=True)
class MappedPoint:
    """A point's place in its device's image."""

    spec: PointSpec
    point: ModbusPoint
    index: int  # position in backend.points and backend.values()
    offset: int  # registers (or bits) from the window's base address

    @property
    def span(self) -> range:
        return range(self.offset, self.offset + self.point.register_count)


@dataclass(slots=True)
class Window:
    """One register type of one device: the span from its lowest to its highest mapped address."""

    register_type: str
    base: int  # first address of the span (bits: rounded down to a multiple of 16)
    size: int
    start: int  # where the span begins in the flat register or bit array
    points: list[MappedPoint]
    at: dict[int, list[MappedPoint]] = field(default_factory=dict)  # offset -> points there

    def __post_init__(self) -> None:
        for mapped in self.points:
            for offset in mapped.span:
                self.at.setdefault(offset, []).append(mapped)

    def runs(self) -> list[tuple[int, int, bool]]:
        """Contiguous mapped stretches as (address, count, read_only), holes left out."""
        runs: list[tuple[int, int, bool]] = []
        for offset in range(self.size):
            points = self.at.get(offset)
            if not points:
                continue
            read_only = not any(_client_writable(m.point) for m in points)
            last = runs[-1] if runs else None
            if last and last[0] + last[1] == self.base + offset and last[2] == read_only:
                runs[-1] = (last[0], last[1] + 1, read_only)
            else:
                runs.append((self.base + offset, 1, read_only))
        return runs


@dataclass(slots=True)
class DeviceImage:
    """The windows of one Modbus device, by register type."""

    device: ModbusDevice
    key: str  # asset/device, as backend.device_status wants it
    windows: dict[str, Window]


def _client_writable(point: ModbusPoint) -> bool:
    return point.writable and point.data_type != "string"


@dataclass(frozen=True, slots=True)
class _NumericPlan:
    """Numeric points of one data type and byte order: a single vectorised encode."""

    data_type: str
    index: np.ndarray  # (k,) positions in values()
    scale: np.ndarray
    offset: np.ndarray
    target: np.ndarray  # (k, words) flat register indices, word order already applied
    swap_bytes: bool

    def encode(self, values: np.ndarray, registers: np.ndarray) -> None:
        raw = (values[self.index] - self.offset) / self.scale
        target = self.target
        if not self.data_type.startswith("float"):
            info = np.iinfo(np.dtype(_BIG_ENDIAN[self.data_type]))
            finite = np.isfinite(raw)  # an integer register cannot say NaN: keep the last value
            if not finite.all():
                raw, target = raw[finite], target[finite]
            high = np.nextafter(np.float64(info.max), -np.inf)  # largest float below the max
            raw = np.clip(np.rint(raw), float(info.min), float(high))
        words = raw.astype(_BIG_ENDIAN[self.data_type]).view(">u2").astype(np.uint16)
        if self.swap_bytes:
            words.byteswap(inplace=True)
        registers[target] = words.reshape(target.shape)


@dataclass(frozen=True, slots=True)
class _FlagPlan:
    """Bools kept as single bits of registers; several may share one register."""

    index: np.ndarray
    target: np.ndarray  # flat register of each bit
    shift: np.ndarray  # uint16 bit number
    registers: np.ndarray  # the distinct registers holding bits
    keep: np.ndarray  # their masks with the mapped bits cleared

    def encode(self, values: np.ndarray, registers: np.ndarray) -> None:
        registers[self.registers] &= self.keep
        on = (values[self.index] >= 0.5).astype(np.uint16)
        np.bitwise_or.at(registers, self.target, on << self.shift)


@dataclass(slots=True)
class _StringPoint:
    path: str
    start: int
    length: int
    byte_order: str
    text: str | None = None


class ProcessImage:
    """Registers and bits of every Modbus device of a site, filled from the plant's values."""

    def __init__(self, points: Sequence[PointSpec]) -> None:
        by_device: dict[str, list[MappedPoint]] = defaultdict(list)
        devices: dict[str, ModbusDevice] = {}
        for index, spec in enumerate(points):
            if isinstance(spec.device, ModbusDevice) and isinstance(spec.point, ModbusPoint):
                devices[spec.device_key] = spec.device
                by_device[spec.device_key].append(MappedPoint(spec, spec.point, index, 0))
        self.devices: list[DeviceImage] = []
        register_count = bit_count = 0
        for key, device in devices.items():
            windows: dict[str, Window] = {}
            for register_type in (*REGISTER_TYPES, *BIT_TYPES):
                mapped = [m for m in by_device[key] if m.point.register_type == register_type]
                if not mapped:
                    continue
                bits = register_type in BIT_TYPES
                base = min(m.point.address for m in mapped)
                end = max(m.point.address + m.point.register_count for m in mapped)
                if bits:
                    base -= base % 16
                    end += -end % 16
                placed = [
                    MappedPoint(m.spec, m.point, m.index, m.point.address - base) for m in mapped
                ]
                start = bit_count if bits else register_count
                windows[register_type] = Window(register_type, base, end - base, start, placed)
                if bits:
                    bit_count += end - base
                else:
                    register_count += end - base
            self.devices.append(DeviceImage(device, key, windows))
        self.registers = np.zeros(register_count, dtype=np.uint16)
        self.bits = np.zeros(bit_count, dtype=bool)
        self._plan()

    def _plan(self) -> None:
        numeric: dict[tuple[str, str], list[tuple[MappedPoint, int]]] = defaultdict(list)
        flags: list[tuple[MappedPoint, int]] = []
        bit_index: list[int] = []
        bit_target: list[int] = []
        self._strings: list[_StringPoint] = []
        for device in self.devices:
            for window in device.windows.values():
                for m in window.points:
                    target = window.start + m.offset
                    point = m.point
                    if window.register_type in BIT_TYPES:
                        bit_index.append(m.index)
                        bit_target.append(target)
                    elif point.data_type == "bool":
                        flags.append((m, target))
                    elif point.data_type == "string":
                        self._strings.append(
                            _StringPoint(
                                m.spec.path, target, point.register_count, point.byte_order
                            )
                        )
                    else:
                        numeric[(point.data_type, point.byte_order)].append((m, target))
        self._numeric = [_numeric_plan(dt, bo, group) for (dt, bo), group in numeric.items()]
        self._bit_index = np.array(bit_index, dtype=np.intp)
        self._bit_target = np.array(bit_target, dtype=np.intp)
        self._flags = _flag_plan(flags) if flags else None

    def refresh(self, values: np.ndarray, text: Callable[[str], str]) -> None:
        """Encode the plant's values (backend.values() order) into every device's image."""
        for plan in self._numeric:
            plan.encode(values, self.registers)
        if self._flags is not None:
            self._flags.encode(values, self.registers)
        self.bits[self._bit_target] = values[self._bit_index] >= 0.5
        for string in self._strings:
            current = text(string.path)
            if current != string.text:
                string.text = current
                self.registers[string.start : string.start + string.length] = _encode_text(
                    current, string.length, string.byte_order
                )

    def read_registers(self, window: Window, offset: int, count: int) -> list[int]:
        """Registers of a window from `offset`, as a Modbus reply carries them."""
        start = window.start + offset
        return self.registers[start : start + count].tolist()

    def read_bit_words(self, window: Window) -> list[int]:
        """A bit window packed 16 bits to a word, bit 0 in the least significant place."""
        bits = self.bits[window.start : window.start + window.size]
        return np.packbits(bits, bitorder="little").view("<u2").tolist()

    def register_write(
        self, window: Window, offset: int, words: Sequence[int]
    ) -> list[tuple[MappedPoint, float]]:
        """The engineering values a write of `words` at `offset` sets, point by point.

        A write that covers only part of a multi-register point is merged with the point's
        other registers, as a PLC's memory would hold them. Raises NotWritable or BadValue.
        """
        end = offset + len(words)
        touched = {id(m): m for o in range(offset, end) for m in window.at.get(o, ())}
        assignments: list[tuple[MappedPoint, float]] = []
        for m in sorted(touched.values(), key=lambda m: (m.offset, m.point.bit or 0)):
            span = m.span
            current = self.read_registers(window, span.start, len(span))
            merged = [
                words[o - offset] if offset <= o < end else current[o - span.start] for o in span
            ]
            point = m.point
            if point.data_type == "bool":
                bit = point.bit or 0
                value = float((merged[0] >> bit) & 1)
                if not point.writable:
                    if value != float((current[0] >> bit) & 1):
                        raise NotWritable(f"{m.spec.path} is read-only")
                    continue
            elif not _client_writable(point):
                raise NotWritable(f"{m.spec.path} is read-only")
            else:
                try:
                    value = decode_value(
                        merged, point.data_type, point.byte_order, point.scale, point.offset
                    )
                except CodecError as err:
                    raise BadValue(f"{m.spec.path}: {err}") from err
            _check_limits(m, value)
            assignments.append((m, value))
        return assignments

    def coil_write(
        self, window: Window, offset: int, bits: Sequence[bool]
    ) -> list[tuple[MappedPoint, float]]:
        """The engineering values a coil write sets; raises NotWritable for any unmapped coil."""
        assignments: list[tuple[MappedPoint, float]] = []
        for o, on in enumerate(bits, start=offset):
            mapped = window.at.get(o)
            if not mapped:
                raise NotWritable(f"coil {window.base + o} is not mapped")
            m = mapped[0]
            if not m.point.writable:
                raise NotWritable(f"{m.spec.path} is read-only")
            assignments.append((m, 1.0 if on else 0.0))
        return assignments

    def store_registers(self, window: Window, offset: int, words: Sequence[int]) -> None:
        """Keep a written block so that the next read shows it before the next refresh."""
        start = window.start + offset
        self.registers[start : start + len(words)] = words

    def store_bits(self, window: Window, offset: int, bits: Sequence[bool]) -> None:
        start = window.start + offset
        self.bits[start : start + len(bits)] = bits


def _check_limits(m: MappedPoint, value: float) -> None:
    point = m.point
    if not np.isfinite(value):
        raise BadValue(f"{m.spec.path}: {value} is not a number")
    if (point.min is not None and value < point.min) or (
        point.max is not None and value > point.max
    ):
        raise BadValue(f"{m.spec.path}: {value:g} is outside {point.min}..{point.max}")


def _encode_text(text: str, length: int, byte_order: str) -> list[int]:
    """A string register block; text that does not fit is cut, non-ASCII shown as '?'."""
    ascii_text = text.encode("ascii", errors="replace").decode("ascii")[: 2 * length]
    return encode_string(ascii_text, length, byte_order)


def _numeric_plan(
    data_type: str, byte_order: str, group: list[tuple[MappedPoint, int]]
) -> _NumericPlan:
    width = REGISTER_COUNT[data_type]
    words = np.arange(width)
    if byte_order in ("CDAB", "DCBA"):
        words = words[::-1]
    return _NumericPlan(
        data_type=data_type,
        index=np.array([m.index for m, _ in group], dtype=np.intp),
        scale=np.array([m.point.scale for m, _ in group], dtype=np.float64),
        offset=np.array([m.point.offset for m, _ in group], dtype=np.float64),
        target=np.array([target + words for _, target in group], dtype=np.intp),
        swap_bytes=byte_order in ("BADC", "DCBA"),
    )


def _flag_plan(flags: list[tuple[MappedPoint, int]]) -> _FlagPlan:
    masks: dict[int, int] = defaultdict(int)
    for m, target in flags:
        masks[target] |= 1 << (m.point.bit or 0)
    return _FlagPlan(
        index=np.array([m.index for m, _ in flags], dtype=np.intp),
        target=np.array([target for _, target in flags], dtype=np.intp),
        shift=np.array([m.point.bit or 0 for m, _ in flags], dtype=np.uint16),
        registers=np.array(list(masks), dtype=np.intp),
        keep=np.array([~mask & 0xFFFF for mask in masks.values()], dtype=np.uint16),
    )
