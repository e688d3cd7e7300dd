"""Request planning: coalescing, limits, gap filling, cuts learnt from exception 2."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collectors.modbus_plan import (
    ReadRequest,
    RequestLimits,
    Span,
    plan_requests,
    split_cuts,
    with_cuts,
)

LIMITS = RequestLimits(max_registers=125, max_bits=2000, max_register_gap=4, max_bit_gap=32)


def spans(register_type: str, *layout: tuple[int, int]) -> list[Span]:
    return [Span(i, register_type, address, count) for i, (address, count) in enumerate(layout)]


def shape(requests: list[ReadRequest]) -> list[tuple[str, int, int]]:
    return [(r.register_type, r.address, r.count) for r in requests]


def test_neighbours_coalesce_into_one_read_per_register_type() -> None:
    layout = [
        *spans("input", (0, 1), (1, 2), (3, 4)),
        Span(9, "holding", 10, 2),
        Span(10, "coil", 5, 1),
        Span(11, "coil", 0, 1),
    ]
    assert shape(plan_requests(layout, LIMITS)) == [
        ("holding", 10, 2),
        ("input", 0, 7),
        ("coil", 0, 6),
    ]


def test_small_gaps_are_read_over_and_large_ones_are_not() -> None:
    layout = spans("holding", (0, 2), (6, 2), (13, 1))  # gaps of 4 and 5 registers
    assert shape(plan_requests(layout, LIMITS)) == [("holding", 0, 8), ("holding", 13, 1)]
    no_fill = RequestLimits(max_register_gap=0)
    assert len(plan_requests(layout, no_fill)) == 3


def test_reads_stay_within_max_registers_and_keep_points_whole() -> None:
    layout = spans("holding", *[(2 * i, 2) for i in range(10)])  # ten float32
    requests = plan_requests(layout, RequestLimits(max_registers=5))
    assert shape(requests) == [("holding", a, 4) for a in range(0, 20, 4)]


def test_bits_use_max_bits_and_their_own_gap() -> None:
    layout = spans("discrete", (0, 1), (30, 1), (100, 1))
    assert shape(plan_requests(layout, LIMITS)) == [("discrete", 0, 31), ("discrete", 100, 1)]
    limited = RequestLimits(max_bits=16, max_bit_gap=1000)
    assert shape(plan_requests(layout, limited)) == [
        ("discrete", 0, 1),
        ("discrete", 30, 1),
        ("discrete", 100, 1),
    ]


def test_bits_of_one_register_share_a_read() -> None:
    layout = spans("holding", (21, 1), (21, 1), (20, 1))
    requests = plan_requests(layout, LIMITS)
    assert shape(requests) == [("holding", 20, 2)]
    assert {s.point for s in requests[0].spans} == {0, 1, 2}


def test_a_string_longer_than_the_limit_is_read_in_chunks() -> None:
    layout = spans("input", (0, 1), (1, 40))
    assert shape(plan_requests(layout, RequestLimits(max_registers=16))) == [
        ("input", 0, 1),
        ("input", 1, 16),
        ("input", 17, 16),
        ("input", 33, 8),
    ]


def test_refused_read_splits_at_its_gaps_and_the_cut_is_kept() -> None:
    layout = spans("input", (0, 4), (6, 2), (10, 2))
    (read,) = plan_requests(layout, LIMITS)
    cuts = split_cuts(read)
    assert cuts == {4, 8}
    remembered = with_cuts({}, "input", cuts)
    assert shape(plan_requests(layout, LIMITS, remembered)) == [
        ("input", 0, 4),
        ("input", 6, 2),
        ("input", 10, 2),
    ]
    assert shape(plan_requests(spans("holding", (0, 4), (6, 2)), LIMITS, remembered)) == [
        ("holding", 0, 8)
    ]


def test_refused_read_without_gaps_halves_at_a_point_boundary() -> None:
    layout = spans("holding", (0, 2), (2, 2), (4, 1), (5, 4), (9, 1))
    (read,) = plan_requests(layout, LIMITS)
    assert split_cuts(read) == {5}
    halves = plan_requests(layout, LIMITS, {"holding": split_cuts(read)})
    assert shape(halves) == [("holding", 0, 5), ("holding", 5, 5)]
    assert split_cuts(halves[1]) == {9}


def test_a_single_point_or_one_register_of_bits_cannot_be_split() -> None:
    (single,) = plan_requests(spans("holding", (7, 4)), LIMITS)
    (shared,) = plan_requests(spans("holding", (3, 1), (3, 1)), LIMITS)
    assert split_cuts(single) == frozenset() and split_cuts(shared) == frozenset()


REGISTER_TYPE = st.sampled_from(["holding", "input", "coil", "discrete"])


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[Span], RequestLimits, dict[str, frozenset[int]]]:
    n = draw(st.integers(0, 40))
    layout = []
    for i in range(n):
        register_type = draw(REGISTER_TYPE)
        count = 1 if register_type in ("coil", "discrete") else draw(st.sampled_from([1, 2, 4, 9]))
        layout.append(Span(i, register_type, draw(st.integers(0, 400)), count))
    limits = RequestLimits(
        max_registers=draw(st.integers(1, 125)),
        max_bits=draw(st.integers(1, 2000)),
        max_register_gap=draw(st.integers(0, 30)),
        max_bit_gap=draw(st.integers(0, 300)),
    )
    cuts = {
        t: frozenset(draw(st.lists(st.integers(0, 410), max_size=6)))
        for t in ("holding", "input", "coil", "discrete")
    }
    return layout, limits, cuts


@given(layouts())
def test_every_point_is_covered_and_no_read_exceeds_the_limit(case) -> None:
    layout, limits, cuts = case
    requests = plan_requests(layout, limits, cuts)
    for request in requests:
        assert 1 <= request.count <= limits.size(request.register_type)
        for span in request.spans:
            assert span.register_type == request.register_type
            assert request.address < span.end and span.address < request.end
    for span in layout:
        covering = [r for r in requests if span in r.spans]
        assert covering, span
        covered = sorted(a for r in covering for a in range(r.address, r.end))
        if span.count <= limits.size(span.register_type):
            (request,) = covering  # the whole point in exactly one read
            assert request.address <= span.address and span.end <= request.end
        else:
            assert covered == list(range(span.address, span.end))


@given(layouts())
def test_reads_cross_a_cut_only_inside_a_point(case) -> None:
    layout, limits, cuts = case
    for request in plan_requests(layout, limits, cuts):
        for cut in cuts.get(request.register_type, ()):
            if request.address < cut < request.end:
                assert any(s.address < cut < s.end for s in request.spans), (request, cut)
