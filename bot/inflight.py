"""Work still running after Slack was acknowledged, so shutdown can let it finish (bounded)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class InFlight:
    def __init__(self, on_change=None) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._on_change = on_change
        self.accepting = True

    @property
    def count(self) -> int:
        return self._count

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        self._count += 1
        self._idle.clear()
        if self._on_change:
            self._on_change(self._count)
        try:
            yield
        finally:
            self._count -= 1
            if self._on_change:
                self._on_change(self._count)
            if self._count == 0:
                self._idle.set()

    async def drain(self, grace: float) -> bool:
        """Wait until nothing is in flight; False if the timeout ran out first."""
        self.accepting = False
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
            return True
        except TimeoutError:
            return False
