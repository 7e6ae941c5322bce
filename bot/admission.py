"""How fast Atom starts new answers, adapted to how late its event loop runs.

Acknowledging Slack and answering share one event loop. Each answer costs CPU (litellm's call
handling, streaming into Slack, storage), much of it when the provider's reply arrives, seconds
after the answer started. When answers start faster than the process can finish them, every loop
iteration grows long and acknowledgements queue behind answer work, while the answers themselves
get no faster; and a burst of answers started together comes back together, as one long stall.

So answers are admitted through `AdaptiveAdmission`, a token bucket whose rate follows the loop:
a watcher measures how late a short timer fires (loop lag); above the target the rate shrinks
(multiplicatively), and while the loop keeps up and answers are waiting it grows again (slowly,
additively). Answers
started at a steady rate finish at a steady rate. Waiting answers cost nothing but memory and are
admitted in arrival order; at most `max_active` run at once (the database pool's bound), and up
to `ALWAYS_ALLOWED` may run whatever the rate. On a machine that keeps up, nothing waits.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

MAX_ACTIVE = 200
# Up to this many answers may always run, whatever the rate: a light load never waits, and a
# handful of answers cannot swamp the loop.
ALWAYS_ALLOWED = 8
START_RATE = 20.0  # answers started per second, before the loop has said anything
MIN_RATE = 2.0
MAX_RATE = 2000.0
BURST_S = 0.2  # a quiet bucket holds this many seconds' worth of starts (at least MIN_BURST)
MIN_BURST = 4.0
TARGET_LAG_S = 0.005
TICK_S = 0.02
SHRINK = 0.9
# Growth is slow on purpose: most of an answer's CPU comes when the provider replies, seconds after
# it started, so the loop shows the cost of a faster rate only that much later.
GROW_PER_TICK = 0.25


class AdaptiveAdmission:
    def __init__(
        self,
        *,
        max_active: int = MAX_ACTIVE,
        rate: float = START_RATE,
        min_rate: float = MIN_RATE,
        max_rate: float = MAX_RATE,
        target_lag: float = TARGET_LAG_S,
        tick: float = TICK_S,
        clock=time.monotonic,
        on_tick=None,
    ):
        self.max_active = max_active
        self.rate, self.min_rate, self.max_rate = rate, min_rate, max_rate
        self.target_lag, self.tick = target_lag, tick
        self._clock = clock
        self._tokens = self._burst()
        self._refilled = clock()
        self.active = 0
        self._waiters: deque[asyncio.Future] = deque()
        self._watcher: asyncio.Task | None = None
        self._on_tick = on_tick  # called with (rate, waiting) every tick, for metrics

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def __repr__(self) -> str:
        return f"AdaptiveAdmission(rate={self.rate:.1f}/s, active={self.active}, waiting={self.waiting})"

    def _burst(self) -> float:
        return max(MIN_BURST, self.rate * BURST_S)

    def _may_start(self) -> bool:
        return self.active < self.max_active and (self._tokens >= 1 or self.active < ALWAYS_ALLOWED)

    def _start(self) -> None:
        self._tokens = max(0.0, self._tokens - 1)
        self.active += 1

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst(), self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now

    async def acquire(self) -> None:
        self._refill()
        if not self._waiters and self._may_start():
            self._start()
            return
        admitted = asyncio.get_running_loop().create_future()
        self._waiters.append(admitted)
        self._watch()
        try:
            await admitted
        except asyncio.CancelledError:
            if admitted.done() and not admitted.cancelled():
                self.release()  # admitted just as it was cancelled: its place is free again
            else:
                self._waiters.remove(admitted)
            raise

    def release(self) -> None:
        self.active -= 1
        self._admit()

    def _admit(self) -> None:
        self._refill()
        while self._waiters and self._may_start():
            admitted = self._waiters.popleft()
            if not admitted.done():
                self._start()
                admitted.set_result(None)

    def _watch(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch_lag())

    async def _watch_lag(self) -> None:
        """Runs while answers wait: admits them as tokens come, and steers the rate."""
        loop = asyncio.get_running_loop()
        while self._waiters:
            started = loop.time()
            await asyncio.sleep(self.tick)
            self.adjust(loop.time() - started - self.tick)
        if self._on_tick is not None:
            self._on_tick(self.rate, 0)

    def adjust(self, lag: float) -> None:
        """One tick of the controller, given how late the loop ran; then admit who may start."""
        if lag > self.target_lag:
            self.rate = max(self.min_rate, self.rate * SHRINK)
        elif self._waiters and self.rate < self.max_rate:
            self.rate = min(self.max_rate, self.rate + GROW_PER_TICK)
        self._admit()
        if self._on_tick is not None:
            self._on_tick(self.rate, len(self._waiters))
