"""The OPC UA collector: batched reads per poll group, or subscriptions that push changes.

Polling reads a group's nodes in as few Read calls as the server's MaxNodesPerRead
allows; a lost connection is reopened by the next poll. Subscribing puts every point
in one subscription (monitored items created `subscription_chunk` at a time) and hands
each publish to the sink as one SampleBatch; a background task reopens a lost
connection with exponential backoff and jitter and rebuilds the subscription. The gap
is recorded: the loss as one BAD batch of every point, the recovery as the fresh
values the rebuilt monitored items report first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeGuard

from asyncua import Client, ua
from asyncua.client.ua_client import UaClientState

from collectors.base import Clock
from collectors.opcua_quality import PointDecoder, status_quality
from collectors.opcua_session import (
    OpcUaError,
    OpcUaRefused,
    OpcUaServiceFault,
    OpcUaSetupError,
    OpcUaUnreachable,
    open_session,
    operation_limits,
    translate,
)
from heatnet.config import Device, OpcUaDevice
from heatnet.points import PointSpec
from heatnet.samples import SampleBatch

log = logging.getLogger(__name__)

Sink = Callable[[SampleBatch], None]
KEEPALIVE_S = 5.0  # the server publishes at least this often when nothing changes
_HOPELESS = (OpcUaServiceFault, OpcUaRefused, OpcUaSetupError)  # retrying at once won't help


@dataclass(slots=True)
class OpcUaStats:
    """What a collector has done since it was made."""

    connects: int = 0  # sessions opened
    reconnects: int = 0  # sessions opened after the first
    reads: int = 0  # Read service calls
    errors: Counter[str] = field(default_factory=Counter)  # failed attempts by QualityReason
    monitored_item_calls: int = 0  # CreateMonitoredItems service calls
    publishes: int = 0  # batches handed to the sink
    data_changes: int = 0  # samples in those batches


class OpcUaCollector:
    """Collects one OPC UA device's points; a DeviceCollector, and Subscribing."""

    first_retry_s = 0.5  # the subscription's first reconnect delay; doubles to backoff_max

    def __init__(
        self,
        device: Device,
        points: list[PointSpec],
        clock: Clock,
        *,
        base_dir: Path | None = None,
    ) -> None:
        if not isinstance(device, OpcUaDevice):
            raise TypeError(f'device "{device.id}" speaks {device.protocol}, not opcua')
        if not points:
            raise ValueError(f'configuration invalid for device "{device.id}": it has no points')
        self.device: Device = device
        self.device_key = points[0].device_key
        self.stats = OpcUaStats()
        self._opcua = device
        self._clock = clock
        self._base_dir = base_dir or Path.cwd()
        self._node_ids = [self._node_id(p) for p in points]
        self._groups: dict[str, list[int]] = {}
        for index, spec in enumerate(points):
            self._groups.setdefault(spec.point.group, []).append(index)
        self._decoder = PointDecoder(points, device.timestamps == "source")
        self._client: Client | None = None
        self._max_nodes_per_read: int | None = None
        self._max_items_per_call: int | None = None
        self._opening = asyncio.Lock()
        self._failure: OpcUaError | None = None
        self._sink: Sink | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._loss_reported = False

    def _node_id(self, spec: PointSpec) -> ua.NodeId:
        try:
            return ua.NodeId.from_string(spec.node_id or "")
        except ValueError as err:
            raise ValueError(
                f'configuration invalid for device "{self.device_key}": '
                f"{spec.path} has node id {spec.node_id!r}: {err}"
            ) from err

    def _now_ms(self) -> int:
        return round(self._clock() * 1000.0)

    # ---- the session -----------------------------------------------------------------

    async def connect(self) -> None:
        try:
            await self._open()
        except OpcUaError as err:
            self._failed(err)

    async def _open(self) -> Client:
        """A fresh session in place of the current one; raises OpcUaError."""
        async with self._opening:
            await self._drop()
            client = await open_session(self._opcua, self.device_key, self._base_dir)
            try:
                limits = await operation_limits(client)
            except Exception as err:
                await self._disconnect(client)
                raise self._translate(err, "reading the server's operation limits") from err
            self._max_nodes_per_read, self._max_items_per_call = limits
            client.connection_lost_callback = partial(self._connection_lost, client)
            self._client = client
            self.stats.reconnects += self.stats.connects > 0
            self.stats.connects += 1
            return client

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await self._disconnect(client)

    async def _disconnect(self, client: Client) -> None:
        # closing a session the device may already have dropped: nothing left to report
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), self._opcua.timeout_s)
        client.disconnect_socket()  # in case the polite close timed out

    async def close(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None
        await self._drop()

    def _translate(self, err: Exception, doing: str) -> OpcUaError:
        return translate(err, self.device_key, doing, self._opcua.timeout_s)

    def _failed(self, err: OpcUaError) -> None:
        """Count a failed attempt; log the first of a run of failures, the rest at debug."""
        self.stats.errors[err.reason.value] += 1
        if self._failure is None:
            log.warning("%s; its points are marked bad until it answers", err)
        else:
            log.debug("%s", err)
        self._failure = err

    def _recovered(self) -> None:
        if self._failure is not None:
            log.info('OPC UA device "%s" answers again', self.device_key)
            self._failure = None

    # ---- polling ---------------------------------------------------------------------

    async def poll(self, group: str) -> SampleBatch:
        indices = self._groups.get(group)
        if not indices:
            return SampleBatch.empty()
        failure: OpcUaError | None = None
        for _ in range(self._opcua.retries + 1):
            try:
                data = await self._read(await self._session(), indices)
            except OpcUaError as err:
                failure = err
                self._failed(err)
                if isinstance(err, _HOPELESS):
                    break
                continue
            self._recovered()
            return self._decoder.decode(indices, data, self._now_ms())
        assert failure is not None
        return self._decoder.failed(indices, failure.reason, self._now_ms())

    @staticmethod
    def _connected(client: Client | None) -> TypeGuard[Client]:
        return client is not None and client.uaclient.state is UaClientState.CONNECTED

    async def _session(self) -> Client:
        """The connected client; reopened here unless the subscription keeper owns that."""
        client = self._client
        if self._connected(client):
            return client
        if self._keeper is not None:
            raise OpcUaUnreachable(self.device_key, "connection lost; reconnecting")
        return await self._open()

    async def _read(self, client: Client, indices: list[int]) -> list[ua.DataValue]:
        """DataValues of points `indices`, in chunks of the server's MaxNodesPerRead."""
        size = self._max_nodes_per_read or len(indices)
        chunks = [indices[i : i + size] for i in range(0, len(indices), size)]
        results = await asyncio.gather(
            *(self._read_chunk(client, chunk) for chunk in chunks), return_exceptions=True
        )
        data: list[ua.DataValue] = []
        for result in results:
            if isinstance(result, BaseException):
                raise result
            data.extend(result)
        return data

    async def _read_chunk(self, client: Client, indices: list[int]) -> list[ua.DataValue]:
        self.stats.reads += 1
        node_ids = [self._node_ids[i] for i in indices]
        try:
            return await client.uaclient.read_attributes(node_ids, ua.AttributeIds.Value)
        except Exception as err:
            failure = self._translate(err, f"reading {len(node_ids)} nodes")
            if isinstance(failure, OpcUaUnreachable) and client is self._client:
                if self._keeper is None:
                    await self._drop()
                else:
                    self._lost.set()
            raise failure from err

    # ---- subscriptions -----------------------------------------------------------------

    async def subscribe(self, sink: Sink) -> None:
        """Start delivering changes to sink; returns once the first attempt is done.

        Changes keep flowing, across reconnects, until close().
        """
        if self._keeper is not None:
            raise RuntimeError(f'OPC UA device "{self.device_key}" is already subscribed')
        self._sink = sink
        attempted = asyncio.Event()
        self._keeper = asyncio.create_task(
            self._keep_subscribed(attempted), name=f"opcua subscription {self.device_key}"
        )
        await attempted.wait()

    async def _keep_subscribed(self, attempted: asyncio.Event) -> None:
        delay = self.first_retry_s
        reuse = True  # a session connect() opened serves the first subscription
        while True:
            self._lost.clear()
            try:
                client = self._client if reuse and self._connected(self._client) else None
                reuse = False
                await self._create_subscription(client or await self._open())
            except OpcUaError as err:
                self._failed(err)
                self._mark_gap(err)
                attempted.set()
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2.0, self._opcua.backoff_max)
                continue
            attempted.set()
            self._recovered()
            self._loss_reported = False
            delay = self.first_retry_s
            await self._lost.wait()

    async def _create_subscription(self, client: Client) -> None:
        interval_ms = 1000.0 * min(self._opcua.poll_intervals.values(), default=1.0)
        keepalive = max(1, math.ceil(1000.0 * KEEPALIVE_S / interval_ms))
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=interval_ms,
            RequestedLifetimeCount=keepalive * 12,
            RequestedMaxKeepAliveCount=keepalive,
            MaxNotificationsPerPublish=0,
            PublishingEnabled=True,
        )
        try:
            created = await client.uaclient.create_subscription(
                params, partial(self._on_publish, client)
            )
        except Exception as err:
            raise self._translate(err, "creating the subscription") from err
        size = min(self._opcua.subscription_chunk, self._max_items_per_call or math.inf)
        handles = range(len(self._node_ids))
        for start in range(0, len(handles), int(size)):
            chunk = handles[start : start + int(size)]
            request = ua.CreateMonitoredItemsParameters(
                SubscriptionId=created.SubscriptionId,
                ItemsToCreate=[self._monitored_item(i, interval_ms) for i in chunk],
                TimestampsToReturn=ua.TimestampsToReturn.Both,
            )
            self.stats.monitored_item_calls += 1
            try:
                results = await client.uaclient.create_monitored_items(request)
            except Exception as err:
                raise self._translate(err, f"monitoring {len(chunk)} nodes") from err
            self._report_refused_items(chunk, results)

    def _monitored_item(self, handle: int, interval_ms: float) -> ua.MonitoredItemCreateRequest:
        return ua.MonitoredItemCreateRequest(
            ItemToMonitor=ua.ReadValueId(
                NodeId=self._node_ids[handle], AttributeId=ua.AttributeIds.Value
            ),
            MonitoringMode=ua.MonitoringMode.Reporting,
            RequestedParameters=ua.MonitoringParameters(
                ClientHandle=handle, SamplingInterval=interval_ms, QueueSize=1, DiscardOldest=True
            ),
        )

    def _report_refused_items(
        self, handles: Sequence[int], results: Sequence[ua.MonitoredItemCreateResult]
    ) -> None:
        """Points the server will not monitor (unknown node ids, say) get one BAD sample."""
        refused = [
            (h, r.StatusCode)
            for h, r in zip(handles, results, strict=True)
            if r.StatusCode.is_bad()
        ]
        if not refused or self._sink is None:
            return
        for handle, status in refused:
            log.warning(
                'OPC UA device "%s": %s is not monitored: %s',
                self.device_key,
                self._decoder.paths[handle],
                status.name,
            )
        now = self._now_ms()
        self._deliver(
            SampleBatch.concat(
                [self._decoder.failed([h], status_quality(s.value)[1], now) for h, s in refused]
            )
        )

    def _on_publish(self, client: Client, result: ua.PublishResult) -> None:
        if client is not self._client:
            return
        batches = []
        for notification in result.NotificationMessage.NotificationData or []:
            if isinstance(notification, ua.DataChangeNotification):
                items = notification.MonitoredItems
                batches.append(
                    self._decoder.decode(
                        [item.ClientHandle for item in items],
                        [item.Value for item in items],
                        self._now_ms(),
                    )
                )
            elif (
                isinstance(notification, ua.StatusChangeNotification)
                and notification.Status.is_bad()
            ):
                status = ua.UaStatusCodeError(notification.Status.value)
                self._lose(client, self._translate(status, "subscription"))
        if batches:
            self._deliver(SampleBatch.concat(batches))

    def _deliver(self, batch: SampleBatch) -> None:
        assert self._sink is not None
        self.stats.publishes += 1
        self.stats.data_changes += len(batch)
        self._sink(batch)

    async def _connection_lost(self, client: Client, err: Exception) -> None:
        self._lose(client, self._translate(err, "connection lost"))

    def _lose(self, client: Client, err: OpcUaError) -> None:
        """The connection of `client` is gone: record the gap and wake the keeper."""
        if client is not self._client or self._keeper is None or self._lost.is_set():
            return
        self._failed(err)
        self._mark_gap(err)
        self._lost.set()

    def _mark_gap(self, err: OpcUaError) -> None:
        """Every point BAD once per outage, so the historian records the gap."""
        if not self._loss_reported:
            self._loss_reported = True
            every = range(len(self._node_ids))
            self._deliver(self._decoder.failed(every, err.reason, self._now_ms()))
