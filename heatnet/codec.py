"""Modbus register encoding: every data type and byte order of the site model, both ways.

Byte orders name where the bytes of a big-endian value land, A being the most
significant: ABCD big-endian, DCBA little-endian, BADC bytes swapped in each word,
CDAB words swapped. For 64-bit values the same rule extends to four words. Scale and
offset map raw to engineering units: value = raw · scale + offset.
"""

from __future__ import annotations

import math
import struct

from heatnet.config import REGISTER_COUNT

_STRUCT = {
    "int16": "h", "uint16": "H", "int32": "i", "uint32": "I",
    "int64": "q", "uint64": "Q", "float32": "f", "float64": "d",
}  # fmt: skip
_INT_RANGE = {
    "int16": (-(2**15), 2**15 - 1), "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1), "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1),
}  # fmt: skip


class CodecError(ValueError):
    """A value that cannot be encoded, or registers that cannot be decoded."""


def _order_words(words: list[int], byte_order: str) -> list[int]:
    """Rearrange big-endian (ABCD) words into byte_order; the mapping is its own inverse."""
    if byte_order in ("CDAB", "DCBA"):
        words = words[::-1]
    if byte_order in ("BADC", "DCBA"):
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    return words


def encode_raw(raw: int | float, data_type: str, byte_order: str = "ABCD") -> list[int]:
    """Registers holding a raw (unscaled) number."""
    code = _STRUCT[data_type]
    if data_type in _INT_RANGE:
        low, high = _INT_RANGE[data_type]
        if not isinstance(raw, int):
            if not math.isfinite(raw):
                raise CodecError(f"{raw} cannot be stored as {data_type}")
            raw = round(raw)
        if not low <= raw <= high:
            raise CodecError(f"{raw} is outside the {data_type} range {low}..{high}")
    data = struct.pack(">" + code, raw)
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return _order_words(words, byte_order)


def decode_raw(registers: list[int], data_type: str, byte_order: str = "ABCD") -> int | float:
    """The raw number in registers (exactly as many as the data type takes)."""
    count = REGISTER_COUNT[data_type]
    if len(registers) != count:
        raise CodecError(f"{data_type} takes {count} registers, got {len(registers)}")
    words = _order_words(list(registers), byte_order)
    data = b"".join(w.to_bytes(2, "big") for w in words)
    return struct.unpack(">" + _STRUCT[data_type], data)[0]


def encode_string(text: str, length: int, byte_order: str = "ABCD") -> list[int]:
    """ASCII text padded with NULs into `length` registers; BADC/DCBA swap bytes per word."""
    data = text.encode("ascii", errors="strict")
    if len(data) > 2 * length:
        raise CodecError(f"{text!r} is longer than {length} registers")
    data = data.ljust(2 * length, b"\0")
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    if byte_order in ("BADC", "DCBA"):
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    return words


def decode_string(registers: list[int], byte_order: str = "ABCD") -> str:
    """Text from registers, up to the first NUL; non-ASCII bytes raise CodecError."""
    words = list(registers)
    if byte_order in ("BADC", "DCBA"):
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    data = b"".join(w.to_bytes(2, "big") for w in words).split(b"\0", 1)[0]
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as err:
        raise CodecError(f"registers hold non-ASCII bytes: {data!r}") from err


def to_raw(value: float, data_type: str, scale: float = 1.0, offset: float = 0.0) -> int | float:
    """The raw number that stands for an engineering value."""
    raw = (value - offset) / scale
    return raw if data_type.startswith("float") else round(raw)


def to_engineering(raw: int | float, scale: float = 1.0, offset: float = 0.0) -> float:
    """The engineering value a raw number stands for."""
    if scale == 1.0 and offset == 0.0:
        return float(raw)
    return raw * scale + offset


def encode_value(
    value: float, data_type: str, byte_order: str = "ABCD", scale: float = 1.0, offset: float = 0.0
) -> list[int]:
    """Registers for an engineering value of a numeric point."""
    return encode_raw(to_raw(value, data_type, scale, offset), data_type, byte_order)


def decode_value(
    registers: list[int],
    data_type: str,
    byte_order: str = "ABCD",
    scale: float = 1.0,
    offset: float = 0.0,
) -> float:
    """Engineering value of a numeric point from its registers."""
    return to_engineering(decode_raw(registers, data_type, byte_order), scale, offset)
