"""Answers' records written shortly after the answer, in batches, instead of one by one on its path.

Every answer leaves two conversation turns (encrypted) and one usage record. Writing them while
the person waits cost more than everything else Atom does around a model call, and under load
each answer's own transaction queued behind the others for SQLite's single write lock. So an
answer hands its rows to `PendingWrites` and goes on; a moment later (`delay`, or at once when
`batch` rows are waiting) one transaction writes everything waiting. The turns' text is encrypted
then too, in the batch, not on the answer's path: it waits in this process's memory, as the
answer itself does while it streams, and never reaches the database unencrypted.

Nothing is lost or read stale through this process: every reader of turns or usage calls
`flush()` first (a no-op when nothing waits), `forget` and the retention purge too (so a pending
turn cannot come back after being deleted), and `close()` — on shutdown — writes what is left.
A crash can lose at most the last `delay` of records. A failed write is retried (the rows are
put back in front) up to `MAX_ATTEMPTS` times, then dropped with an error in the log.
"""

from __future__ import annotations

import asyncio
import logging

from bot.storage.encryption import Crypto
from bot.storage.repositories import AnswerRecords

log = logging.getLogger(__name__)

DEFAULT_DELAY_S = 0.2
DEFAULT_BATCH = 500
RETRY_DELAY_S = 1.0
MAX_ATTEMPTS = 3


class Flusher:
    """When to run a write-behind store's `flush`: `soon` (after `delay`, one timer however many
    ask), `now`, and `settle` on shutdown (the flushes started have ended, no timer is left)."""

    def __init__(self, flush, delay: float):
        self._flush = flush
        self._delay = delay
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task] = set()

    def soon(self, delay: float | None = None) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._delay if delay is None else delay, self.now)

    def now(self) -> None:
        self.cancel()
        task = asyncio.get_running_loop().create_task(self._flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def settle(self) -> None:
        for task in list(self._tasks):
            await asyncio.gather(task, return_exceptions=True)
        self.cancel()


class PendingWrites:
    def __init__(self, sessions, crypto: Crypto | None = None, *, delay: float = DEFAULT_DELAY_S, batch: int = DEFAULT_BATCH):
        self._records = AnswerRecords(sessions)
        self._crypto = crypto  # for turns; a store that only queues usage rows needs none
        self._batch = batch
        self._turns: list[dict] = []
        self._usage: list[dict] = []
        self._lock = asyncio.Lock()
        self._flusher = Flusher(self.flush, delay)
        self._attempts = 0
        self.written = 0  # rows written, for tests and benchmarks
        self.dropped = 0

    def __repr__(self) -> str:
        return f"PendingWrites(waiting={self.waiting})"

    @property
    def waiting(self) -> int:
        return len(self._turns) + len(self._usage)

    def add(self, *, turns: list[dict] = (), usage: list[dict] = ()) -> None:
        """Queue rows (turns before the usage rows that point at them); written soon. A turn's
        `content` is its plain text: it is encrypted when written. A usage value may be a function
        of nothing (a route's explanation): it is called when written, off the answer's path."""
        self._turns.extend(turns)
        self._usage.extend(usage)
        if self.waiting >= self._batch:
            self._flusher.now()
        else:
            self._flusher.soon()

    async def flush(self) -> bool:
        """Write everything queued so far; True when nothing is left waiting. Never raises."""
        async with self._lock:
            if not self.waiting:
                return True
            turns, usage = self._turns, self._usage
            self._turns, self._usage = [], []
            self._flusher.cancel()  # all that waited is being written: a timer would find nothing
            try:
                sealed = [{**turn, "content": self._crypto.encrypt(turn["content"])} for turn in turns]
                await self._records.add(sealed, [_resolved(row) for row in usage])
            except Exception:
                self._attempts += 1
                if self._attempts >= MAX_ATTEMPTS:
                    self._attempts = 0
                    self.dropped += len(turns) + len(usage)
                    log.exception(
                        "could not store %d conversation turn(s) and %d usage record(s) after %d attempts; "
                        "dropped them",
                        len(turns),
                        len(usage),
                        MAX_ATTEMPTS,
                    )
                else:
                    self._turns[:0], self._usage[:0] = turns, usage
                    log.exception("could not store answers' records; will retry")
                    self._flusher.soon(RETRY_DELAY_S)
                return False
            self._attempts = 0
            self.written += len(turns) + len(usage)
            return True

    async def close(self) -> None:
        """On shutdown: write what is waiting (retrying as usual), then stop."""
        await self._flusher.settle()
        for _ in range(MAX_ATTEMPTS):
            if await self.flush():
                break
        self._flusher.cancel()  # a retry scheduled by a failed flush: nothing will run it now


def _resolved(row: dict) -> dict:
    return {name: value() if callable(value) else value for name, value in row.items()}
