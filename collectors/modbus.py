"""The Modbus collector: one pymodbus client per device, read group by group.

Transports: Modbus TCP (`framer: socket`), RTU frames over TCP (`framer: rtu` with a host:
4G DTUs and serial servers) and RTU on a serial line (`serial:`). Reads come from
`collectors.modbus_plan`, replies are decoded by `collectors.modbus_decode`.

How a poll treats trouble (it never raises for it):

- exception 2 (illegal address) to a read that spans gaps or several points: the read is
  split, the split remembered for every later poll, and the parts read at once;
- any other exception reply, or exception 2 to a read that cannot be split: that read's
  points are BAD device_exception, the other reads' points keep their values;
- no reply within `timeout_s` after `retries` resends: that read's points are BAD timeout,
  and so are the reads not yet sent, since a device that does not answer one read will
  not answer the next and waiting again for each would stretch the poll;
- no connection, or lost on the way: BAD comms_lost; the next poll connects again (the
  scheduler decides when that is).

Timestamps: `collector` stamps every sample with the injected clock at the start of the
poll. `source` reads the device's plc_clock point in every group's poll and stamps the
poll's samples with it; when that read fails the samples get the collector's clock and
keep their quality (their values were read just now, only the clock was not), and
`stats.clock_fallbacks` counts it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType

from collectors.base import Clock
from collectors.modbus_decode import Decoded, GroupDecoder, GroupImage
from collectors.modbus_plan import (
    Cuts,
    ReadRequest,
    RequestLimits,
    Span,
    plan_requests,
    split_cuts,
    with_cuts,
)
from heatnet.config import ModbusDevice, ModbusPoint
from heatnet.points import PointSpec, Quality, QualityReason
from heatnet.samples import SampleBatch

log = logging.getLogger(__name__)

CLOCK_KEY = "plc_clock"
ILLEGAL_ADDRESS = 2
_FUNCTION_CODES = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}
_READS = {
    "coil": "read_coils",
    "discrete": "read_discrete_inputs",
    "holding": "read_holding_registers",
    "input": "read_input_registers",
}
_FRAMERS = {"socket": FramerType.SOCKET, "rtu": FramerType.RTU}
_DEVICE_SILENT = (QualityReason.TIMEOUT, QualityReason.COMMS_LOST)

ModbusClient = AsyncModbusTcpClient | AsyncModbusSerialClient


@dataclass(slots=True)
class ModbusStats:
    """Counters of one collector, for metrics.

    `errors` counts failed reads, and polls that found no connection, by quality reason.
    """

    polls: int = 0
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    exception_codes: Counter[int] = field(default_factory=Counter)
    splits: int = 0  # reads split after exception 2, each remembered
    connects: int = 0  # connection attempts
    clock_fallbacks: int = 0  # polls stamped by the collector for want of the PLC's clock
    last_latency_s: float | None = None  # round trip of the last read that got a reply
    last_poll_s: float | None = None


@dataclass(slots=True)
class _Reply:
    """What one read brought: words (registers, or bits) or the reason there are none."""

    words: Sequence[int] | Sequence[bool] | None
    reason: QualityReason = QualityReason.NONE
    exception_code: int = 0


@dataclass(slots=True)
class _Group:
    """A poll group: its points (plus the PLC clock, when read only for timestamps)."""

    specs: list[PointSpec]  # the samples it emits, in order
    paths: list[str]  # theirs
    spans: list[Span]  # of every point read, emitted or not
    image: GroupImage
    decoder: GroupDecoder
    clock: int | None  # position of plc_clock among the points read


class ModbusCollector:
    """Reads one Modbus device's points, group by group (a `DeviceCollector`)."""

    def __init__(
        self,
        device: ModbusDevice,
        points: list[PointSpec],
        clock: Clock,
        *,
        max_gap: int = 16,
    ) -> None:
        self.device = device
        self.device_key = points[0].device_key if points else device.id
        self._clock = clock
        self.limits = RequestLimits(
            max_registers=device.max_registers,
            max_bits=device.max_bits,
            max_register_gap=max_gap,
            max_bit_gap=16 * max_gap,
        )
        self.stats = ModbusStats()
        self._groups = self._build_groups(points)
        self._cuts: Cuts = {}
        self._plans: dict[str, list[ReadRequest]] = {}
        self._client = modbus_client(device, self.device_key)
        self._failing = False

    def _invalid(self, problem: str) -> ValueError:
        return ValueError(f'configuration invalid for device "{self.device_key}": {problem}')

    def _build_groups(self, specs: list[PointSpec]) -> dict[str, _Group]:
        for spec in specs:
            if not isinstance(spec.point, ModbusPoint):
                raise self._invalid(f"{spec.path} is not a Modbus point")
            if spec.device_key != self.device_key:
                raise self._invalid(f"{spec.path} belongs to device {spec.device_key!r}")
        clock = next((s for s in specs if s.key == CLOCK_KEY), None)
        if self.device.timestamps == "source" and clock is None:
            raise self._invalid(f"timestamps: source needs a {CLOCK_KEY} point")
        by_group: dict[str, list[PointSpec]] = {}
        for spec in specs:
            by_group.setdefault(spec.point.group, []).append(spec)
        groups: dict[str, _Group] = {}
        for name, members in by_group.items():
            read = list(members)
            if self.device.timestamps == "source" and clock is not None and clock not in read:
                read.append(clock)
            points = [_modbus_point(s) for s in read]
            image = GroupImage(points)
            groups[name] = _Group(
                specs=members,
                paths=[s.path for s in members],
                spans=[
                    Span(i, p.register_type, p.address, p.register_count)
                    for i, p in enumerate(points)
                ],
                image=image,
                decoder=GroupDecoder(points, image),
                clock=read.index(clock) if self.device.timestamps == "source" else None,
            )
        return groups

    @property
    def connected(self) -> bool:
        return self._client.connected

    @property
    def cuts(self) -> Cuts:
        """Boundaries learnt from exception 2, per register type (see modbus_plan)."""
        return self._cuts

    def plan(self, group: str) -> list[ReadRequest]:
        """The reads the next poll of `group` makes."""
        if group not in self._plans:
            self._plans[group] = plan_requests(self._groups[group].spans, self.limits, self._cuts)
        return self._plans[group]

    async def connect(self) -> None:
        await self._connect()

    async def close(self) -> None:
        self._client.close()

    async def poll(self, group: str) -> SampleBatch:
        """Read every point of a group now; trouble is marked in quality, never raised."""
        state = self._groups.get(group)
        if state is None:
            return SampleBatch.empty()
        started = time.perf_counter()
        collector_ms = round(self._clock() * 1000.0)
        self.stats.polls += 1
        state.image.mark(QualityReason.COMMS_LOST)
        failure = QualityReason.COMMS_LOST
        if await self._connect():
            failure = await self._read(group, state)
        else:
            self.stats.errors[QualityReason.COMMS_LOST] += 1
        self._note_health(failure)
        decoded = state.decoder.decode()
        ts_ms = self._timestamp(state, decoded, collector_ms)
        self.stats.last_poll_s = time.perf_counter() - started
        n = len(state.specs)
        return SampleBatch.of(
            state.paths,
            ts_ms,
            decoded.values[:n],
            decoded.quality[:n],
            decoded.reason[:n],
            {i: text for i, text in decoded.texts.items() if i < n},
        )

    async def _connect(self) -> bool:
        if self._client.connected:
            return True
        self.stats.connects += 1
        try:
            return bool(await self._client.connect())
        except (ModbusException, OSError) as err:
            log.debug('device "%s": connect failed: %s', self.device_key, err)
            return False

    async def _read(self, group: str, state: _Group) -> QualityReason:
        """Run the group's reads into its image; the first failure's reason, or NONE."""
        failure = QualityReason.NONE
        pending = deque(self.plan(group))
        while pending:
            request = pending.popleft()
            reply = await self._request(request)
            if reply.words is not None:
                state.image.store(request, reply.words)
                continue
            if reply.exception_code == ILLEGAL_ADDRESS and (cuts := split_cuts(request)):
                self._learn(request.register_type, cuts)
                pending.extendleft(reversed(plan_requests(request.spans, self.limits, self._cuts)))
                continue
            state.image.fail(request, reply.reason)
            self.stats.errors[reply.reason] += 1
            failure = failure or reply.reason
            if reply.reason in _DEVICE_SILENT:
                for unsent in pending:
                    state.image.fail(unsent, reply.reason)
                if self.device.framer == "rtu":  # a late RTU reply has no id to tell it apart
                    self._client.close()
                break
        return failure

    def _learn(self, register_type: str, cuts: frozenset[int]) -> None:
        log.info(
            'device "%s": %s read refused (exception 2), split at %s',
            self.device_key,
            register_type,
            sorted(cuts),
        )
        self._cuts = with_cuts(self._cuts, register_type, cuts)
        self._plans.clear()
        self.stats.splits += 1

    async def _request(self, request: ReadRequest) -> _Reply:
        """One read, with pymodbus's exceptions translated into quality reasons."""
        client = self._client
        read = getattr(client, _READS[request.register_type])
        self.stats.requests += 1
        sent = time.perf_counter()
        try:
            reply = await read(request.address, count=request.count, device_id=self.device.unit_id)
        except ModbusIOException:
            # pymodbus waits out the timeout even when the device reset the connection
            lost = not client.connected
            return _Reply(None, QualityReason.COMMS_LOST if lost else QualityReason.TIMEOUT)
        except (ConnectionException, OSError):
            return _Reply(None, QualityReason.COMMS_LOST)
        except ModbusException:
            return _Reply(None, QualityReason.DECODE_ERROR)
        self.stats.last_latency_s = time.perf_counter() - sent
        if reply.isError():
            self.stats.exception_codes[reply.exception_code] += 1
            return _Reply(None, QualityReason.DEVICE_EXCEPTION, reply.exception_code)
        bits = request.register_type in ("coil", "discrete")
        words = reply.bits if bits else reply.registers
        if reply.function_code != _FUNCTION_CODES[request.register_type] or (
            len(words) < request.count if bits else len(words) != request.count
        ):
            return _Reply(None, QualityReason.DECODE_ERROR)
        return _Reply(words)

    def _timestamp(self, state: _Group, decoded: Decoded, collector_ms: int) -> int:
        if state.clock is None:
            return collector_ms
        if decoded.quality[state.clock] == Quality.GOOD:
            return int(decoded.values[state.clock])
        self.stats.clock_fallbacks += 1
        return collector_ms

    def _note_health(self, failure: QualityReason) -> None:
        """Log the first failure and the recovery once each, not every poll in between."""
        if failure and not self._failing:
            log.warning('device "%s": reads failing (%s)', self.device_key, failure.value)
        elif not failure and self._failing:
            log.info('device "%s": reads good again', self.device_key)
        self._failing = bool(failure)


def _modbus_point(spec: PointSpec) -> ModbusPoint:
    assert isinstance(spec.point, ModbusPoint)
    return spec.point


def modbus_client(device: ModbusDevice, name: str) -> ModbusClient:
    """The pymodbus client for a device; reconnect_delay=0 leaves reconnecting to poll()."""
    if device.serial is not None:
        line = device.serial
        return AsyncModbusSerialClient(
            line.port,
            framer=FramerType.RTU,
            baudrate=line.baudrate,
            bytesize=line.bytesize,
            parity=line.parity,
            stopbits=line.stopbits,
            name=name,
            reconnect_delay=0,
            timeout=device.timeout_s,
            retries=device.retries,
        )
    assert device.host is not None
    return AsyncModbusTcpClient(
        device.host,
        port=device.port,
        framer=_FRAMERS[device.framer],
        name=name,
        reconnect_delay=0,
        timeout=device.timeout_s,
        retries=device.retries,
    )
