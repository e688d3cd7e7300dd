"""Register codec: known vectors for each byte order, and round trips for every data type."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heatnet.codec import (
    CodecError,
    decode_raw,
    decode_string,
    decode_value,
    encode_raw,
    encode_string,
    encode_value,
)

ORDERS = ["ABCD", "DCBA", "BADC", "CDAB"]
INT_TYPES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}


def test_known_vectors_for_each_byte_order() -> None:
    # 0x41200000 is 10.0 as float32; bytes A=0x41 B=0x20 C=0x00 D=0x00
    assert encode_raw(10.0, "float32", "ABCD") == [0x4120, 0x0000]
    assert encode_raw(10.0, "float32", "CDAB") == [0x0000, 0x4120]
    assert encode_raw(10.0, "float32", "BADC") == [0x2041, 0x0000]
    assert encode_raw(10.0, "float32", "DCBA") == [0x0000, 0x2041]
    assert encode_raw(0x0102030405060708, "uint64", "ABCD") == [0x0102, 0x0304, 0x0506, 0x0708]
    assert encode_raw(0x0102030405060708, "uint64", "CDAB") == [0x0708, 0x0506, 0x0304, 0x0102]
    assert encode_raw(0x0102030405060708, "uint64", "BADC") == [0x0201, 0x0403, 0x0605, 0x0807]
    assert encode_raw(0x0102030405060708, "uint64", "DCBA") == [0x0807, 0x0605, 0x0403, 0x0201]
    assert encode_raw(-2, "int16", "ABCD") == [0xFFFE]
    assert encode_raw(0x1234, "uint16", "BADC") == [0x3412]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("data_type", sorted(INT_TYPES))
@given(data=st.data())
def test_integers_round_trip(order: str, data_type: str, data: st.DataObject) -> None:
    low, high = INT_TYPES[data_type]
    raw = data.draw(st.integers(low, high))
    words = encode_raw(raw, data_type, order)
    assert all(0 <= w <= 0xFFFF for w in words)
    assert decode_raw(words, data_type, order) == raw


@pytest.mark.parametrize("order", ORDERS)
@given(value=st.floats(allow_nan=False, width=32))
def test_float32_round_trip(order: str, value: float) -> None:
    assert decode_raw(encode_raw(value, "float32", order), "float32", order) == value


@pytest.mark.parametrize("order", ORDERS)
@given(value=st.floats(allow_nan=False))
def test_float64_round_trip(order: str, value: float) -> None:
    assert decode_raw(encode_raw(value, "float64", order), "float64", order) == value


@given(
    value=st.floats(-3000, 3000),
    scale=st.sampled_from([0.1, 0.01, 0.001, 1.0, 10.0]),
    offset=st.sampled_from([0.0, -40.0, 273.15]),
)
def test_scaled_integers_keep_the_register_resolution(
    value: float, scale: float, offset: float
) -> None:
    try:
        words = encode_value(value, "int32", "CDAB", scale, offset)
    except CodecError:
        return  # outside int32 at this scale: refusing is right
    assert math.isclose(
        decode_value(words, "int32", "CDAB", scale, offset), value, abs_tol=scale / 2 + 1e-9
    )


def test_out_of_range_and_non_finite_values_are_refused() -> None:
    with pytest.raises(CodecError, match="outside the uint16 range"):
        encode_value(-1, "uint16")
    with pytest.raises(CodecError, match="outside the int16 range"):
        encode_value(400.0, "int16", scale=0.01)
    with pytest.raises(CodecError, match="cannot be stored"):
        encode_raw(math.inf, "int32")
    with pytest.raises(CodecError, match="takes 2 registers"):
        decode_raw([1], "float32")


@pytest.mark.parametrize("order", ORDERS)
@given(text=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=16))
def test_strings_round_trip(order: str, text: str) -> None:
    assert decode_string(encode_string(text, 8, order), order) == text


def test_string_padding_and_refusals() -> None:
    assert encode_string("AB", 2) == [0x4142, 0x0000]
    assert encode_string("AB", 2, "BADC") == [0x4241, 0x0000]
    with pytest.raises(CodecError, match="longer than 1 registers"):
        encode_string("ABC", 1)
    with pytest.raises(CodecError, match="non-ASCII"):
        decode_string([0xC3A9])


def test_float_vector_matches_struct() -> None:
    words = encode_raw(-12.75, "float64", "ABCD")
    assert b"".join(w.to_bytes(2, "big") for w in words) == struct.pack(">d", -12.75)
