"""Modbus request planning: which reads cover a poll group's points, and how to split a read
the device refuses.

Pure functions on address spans, so they can be tested without a device. A plan coalesces
neighbouring points of one register type into as few reads as the device's limits allow,
reading over small unmapped gaps when that is cheaper than another round trip. A device
that answers such a read with exception 2 (illegal address) gets a *cut*: a boundary no
later read may cross. Cuts are the planner's memory; the collector keeps them per device.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

BIT_TYPES = frozenset({"coil", "discrete"})
REGISTER_TYPES = ("holding", "input", "coil", "discrete")

Cuts = Mapping[str, frozenset[int]]
"""Per register type, addresses a read must not reach across: cut c keeps c-1 and c apart."""


@dataclass(frozen=True, slots=True)
class Span:
    """Addresses [address, address + count) of one register type that one point occupies."""

    point: int  # the point's position in the caller's list
    register_type: str
    address: int
    count: int

    @property
    def end(self) -> int:
        return self.address + self.count


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One read: `count` registers (or bits) of one type from `address`, for `spans`."""

    register_type: str
    address: int
    count: int
    spans: tuple[Span, ...]

    @property
    def end(self) -> int:
        return self.address + self.count


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """Largest read and largest unmapped gap worth reading over, in registers and in bits."""

    max_registers: int = 125
    max_bits: int = 2000
    max_register_gap: int = 16
    max_bit_gap: int = 256

    def size(self, register_type: str) -> int:
        return self.max_bits if register_type in BIT_TYPES else self.max_registers

    def gap(self, register_type: str) -> int:
        return self.max_bit_gap if register_type in BIT_TYPES else self.max_register_gap


def plan_requests(
    spans: Iterable[Span], limits: RequestLimits, cuts: Cuts | None = None
) -> list[ReadRequest]:
    """Reads covering every span, none larger than the limits and none across a cut.

    A span that fits the limit lies wholly inside one read; a longer one (a long string on
    a device with a small limit) is read in consecutive chunks.
    """
    by_type: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by_type[span.register_type].append(span)
    requests: list[ReadRequest] = []
    for register_type in sorted(by_type, key=REGISTER_TYPES.index):
        typed = sorted(by_type[register_type], key=lambda s: (s.address, -s.count, s.point))
        barriers = sorted((cuts or {}).get(register_type, ()))
        requests.extend(_coalesce(register_type, typed, limits, barriers))
    return requests


def _coalesce(
    register_type: str, spans: list[Span], limits: RequestLimits, barriers: list[int]
) -> list[ReadRequest]:
    size, max_gap = limits.size(register_type), limits.gap(register_type)
    requests: list[ReadRequest] = []
    members: list[Span] = []
    start = end = 0

    def close() -> None:
        if members:
            requests.append(ReadRequest(register_type, start, end - start, tuple(members)))
            members.clear()

    for span in spans:
        if span.count > size:
            close()
            requests.extend(_chunks(span, size))
            continue
        if members and _joinable(span, start, end, size, max_gap, barriers):
            members.append(span)
            end = max(end, span.end)
            continue
        close()
        members.append(span)
        start, end = span.address, span.end
    close()
    return requests


def _joinable(
    span: Span, start: int, end: int, size: int, max_gap: int, barriers: list[int]
) -> bool:
    if max(end, span.end) - start > size:
        return False
    if span.address < end:  # shares registers with the read (bits of one register)
        return True
    if span.address - end > max_gap:
        return False
    return not any(end <= cut <= span.address for cut in barriers)


def _chunks(span: Span, size: int) -> list[ReadRequest]:
    return [
        ReadRequest(span.register_type, address, min(size, span.end - address), (span,))
        for address in range(span.address, span.end, size)
    ]


def split_cuts(request: ReadRequest) -> frozenset[int]:
    """Cuts that split a refused read: at every unmapped gap, else near its middle.

    Empty when the read cannot be split: it holds one point, or points sharing registers.
    """
    gaps: set[int] = set()
    halves: list[int] = []
    first, *rest = sorted(request.spans, key=lambda s: s.address)
    covered_to = first.end
    for span in rest:
        if span.address > covered_to:
            gaps.add(covered_to)
        elif span.address == covered_to:
            halves.append(span.address)
        covered_to = max(covered_to, span.end)
    if gaps:
        return frozenset(gaps)
    if not halves:
        return frozenset()
    middle = request.address + request.count / 2
    return frozenset({min(halves, key=lambda b: (abs(b - middle), b))})


def with_cuts(cuts: Cuts, register_type: str, new: Iterable[int]) -> dict[str, frozenset[int]]:
    """Cuts with `new` added for one register type."""
    merged = dict(cuts)
    merged[register_type] = merged.get(register_type, frozenset()) | frozenset(new)
    return merged
