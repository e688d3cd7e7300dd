"""Time for the collection loop: what time it is, and waiting until a deadline.

The scheduler never calls `time` or `asyncio.sleep` directly; it asks a Timer, so tests
drive a ManualTimer forward instead of sleeping and every deadline is exact.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Timer(Protocol):
    """A clock in epoch seconds that can also wait for a moment on it."""

    def now(self) -> float: ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once now() >= deadline (at once when it already is)."""
        ...


class WallTimer:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            await asyncio.sleep(0)  # a late deadline still yields, so one task never starves others


class ManualTimer:
    """A clock that moves only when told to: `await advance(s)` wakes every sleeper that is due."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        await future

    async def advance(self, seconds: float, *, step: float | None = None) -> None:
        """Move time forward, waking sleepers in deadline order and letting them run.

        With `step`, time moves in increments of at most `step`, so work a woken task does
        (a poll that takes simulated time) happens at the right moment in between.
        """
        target = self._now + seconds
        while True:
            await _settle()
            due = self._sleepers[0][0] if self._sleepers else None
            limit = target if step is None else min(target, self._now + step)
            if due is not None and due <= limit:
                self._now = max(self._now, due)
                _, _, future = heapq.heappop(self._sleepers)
                if not future.done():
                    future.set_result(None)
                continue
            self._now = limit
            if limit >= target:
                await _settle()
                return


async def _settle(rounds: int = 20) -> None:
    """Let every ready task run until it blocks again."""
    for _ in range(rounds):
        await asyncio.sleep(0)
