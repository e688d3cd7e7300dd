"""Hypothesis over the Modbus decoder and planner, beyond the fixed cases of their tests.

The decoder test mixes every data type, byte order, bit and string in one group at
random addresses and compares each point with heatnet.codec; the planner test plays the
collector's refuse-and-split loop against a device with random unmapped registers.
"""

from __future__ import annotations

import math
from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.modbus_decode import GroupDecoder, GroupImage
from collectors.modbus_plan import (
    ReadRequest,
    RequestLimits,
    Span,
    plan_requests,
    split_cuts,
    with_cuts,
)
from heatnet.codec import decode_string, decode_value, encode_raw, encode_string
from heatnet.config import ModbusPoint
from heatnet.points import Quality, QualityReason
from heatnet.samples import REASON_CODES

ORDERS = st.sampled_from(["ABCD", "DCBA", "BADC", "CDAB"])
INT_BITS = {"int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "int64": 64, "uint64": 64}
FINITE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).filter(lambda x: abs(x) > 1e-6)


@st.composite
def raw_value(draw: st.DrawFn, data_type: str) -> int | float:
    if data_type in INT_BITS:
        bits = INT_BITS[data_type]
        signed = not data_type.startswith("u")
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        return draw(st.integers(low, high))
    width = 32 if data_type == "float32" else 64
    return draw(st.floats(width=width, allow_nan=True, allow_infinity=True))


@st.composite
def groups(draw: st.DrawFn) -> tuple[list[ModbusPoint], list[int]]:
    """Points laid out one after another (with gaps) in holding registers, and the words."""
    points: list[ModbusPoint] = []
    words: list[int] = []
    for i in range(draw(st.integers(1, 25))):
        words += [draw(st.integers(0, 0xFFFF)) for _ in range(draw(st.integers(0, 3)))]  # gap
        kind = draw(st.sampled_from([*INT_BITS, "float32", "float64", "bool", "string"]))
        address, order = len(words), draw(ORDERS)
        if kind == "bool":
            bit = draw(st.integers(0, 15))
            points.append(ModbusPoint(name=f"p{i}", address=address, data_type="bool", bit=bit))
            words.append(draw(st.integers(0, 0xFFFF)))
        elif kind == "string":
            length = draw(st.integers(1, 8))
            text = draw(st.text(st.characters(max_codepoint=127), max_size=2 * length))
            text = text.replace("\0", "")
            points.append(
                ModbusPoint(
                    name=f"p{i}",
                    address=address,
                    data_type="string",
                    length=length,
                    byte_order=order,
                )
            )
            words += encode_string(text, length, order)
        else:
            scale, offset = draw(st.just((1.0, 0.0)) | st.tuples(FINITE, FINITE))
            points.append(
                ModbusPoint(
                    name=f"p{i}", address=address, data_type=kind, byte_order=order,
                    scale=scale, offset=offset,
                )
            )  # fmt: skip
            words += encode_raw(draw(raw_value(kind)), kind, order)
    return points, words


@settings(max_examples=300, deadline=None)
@given(groups())
def test_a_mixed_group_decodes_point_by_point_as_the_codec_does(
    group: tuple[list[ModbusPoint], list[int]],
) -> None:
    points, words = group
    image = GroupImage(points)
    first = min(p.address for p in points)  # the image starts at the first point
    image.store(ReadRequest("holding", first, len(words) - first, ()), words[first:])
    decoded = GroupDecoder(points, image).decode()
    for i, point in enumerate(points):
        registers = words[point.address : point.address + point.register_count]
        reason = REASON_CODES[decoded.reason[i]]
        if point.data_type == "bool":
            assert decoded.values[i] == (registers[0] >> (point.bit or 0)) & 1
        elif point.data_type == "string":
            assert decoded.texts[i] == decode_string(registers, point.byte_order)
        else:
            expected = decode_value(
                registers, point.data_type, point.byte_order, point.scale, point.offset
            )
            if not math.isfinite(expected):
                assert reason == QualityReason.DECODE_ERROR and math.isnan(decoded.values[i])
                continue
            assert math.isclose(decoded.values[i], expected, rel_tol=1e-12, abs_tol=1e-9), point
        assert decoded.quality[i] == Quality.GOOD and reason == QualityReason.NONE


@st.composite
def devices(draw: st.DrawFn) -> tuple[list[Span], set[int], RequestLimits]:
    """Holding-register points (some sharing a register, as bits do), unmapped registers."""
    spans: list[Span] = []
    address = 0
    for i in range(draw(st.integers(1, 30))):
        if spans and spans[-1].count == 1 and draw(st.booleans()):
            spans.append(Span(i, "holding", spans[-1].address, 1))  # another bit of it
            continue
        address += draw(st.integers(0, 20))  # an unmapped gap, often none
        spans.append(Span(i, "holding", address, draw(st.sampled_from([1, 2, 4, 10, 40]))))
        address = spans[-1].end
    holes = set(draw(st.lists(st.integers(0, 900), max_size=12)))
    limits = RequestLimits(
        max_registers=draw(st.integers(1, 125)), max_register_gap=draw(st.integers(0, 30))
    )
    return spans, holes, limits


@settings(max_examples=500, deadline=None)
@given(devices())
def test_splitting_refused_reads_ends_with_every_readable_point_read(
    device: tuple[list[Span], set[int], RequestLimits],
) -> None:
    """The collector's loop: exception 2 for any read touching an unmapped register."""
    spans, holes, limits = device
    cuts: dict[str, frozenset[int]] = {}
    pending = deque(plan_requests(spans, limits, cuts))
    read: set[int] = set()
    failed: list[ReadRequest] = []
    rounds = 0
    while pending:
        rounds += 1
        assert rounds <= 4 * sum(s.count for s in spans) + 10, "the split loop does not end"
        request = pending.popleft()
        if not holes & set(range(request.address, request.end)):
            read.update(s.point for s in request.spans)
        elif new := split_cuts(request):
            assert not new <= cuts.get("holding", frozenset()), "a cut learnt twice"
            cuts = with_cuts(cuts, "holding", new)
            pending.extendleft(reversed(plan_requests(request.spans, limits, cuts)))
        else:
            failed.append(request)
    for span in spans:
        if not holes & set(range(span.address, span.end)):
            assert span.point in read, (span, holes)
    for request in failed:
        assert len({(s.address, s.count) for s in request.spans}) == 1  # one point's registers
