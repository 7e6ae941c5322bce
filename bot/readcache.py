"""Small read-through caches for what every answer reads and people rarely change.

Before each answer Atom needs the person's key rows (still encrypted), the workspace's blocked
providers, the person's preferences and the workspace budget. Reading them costs several
database round trips per answer; they change only when someone uses a modal or the Home tab.
So they are kept in memory per person, and every change made through this process clears the
cache (exact); the time limit only bounds how long a change made by another process (an
operator's `atom keys rotate`, say) can take to be seen. Atom is one process (PRODUCT.md), so
in normal running a change is seen by the very next answer.

Key rows are cached as the database holds them (encrypted tokens), with each key sealed under this
process's in-memory key (`MemorySeal`), opened per call: never as plaintext.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache

T = TypeVar("T")

DEFAULT_TTL_S = 300.0
DEFAULT_SIZE = 10_000


class ReadCache(Generic[T]):
    def __init__(self, ttl: float = DEFAULT_TTL_S, maxsize: int = DEFAULT_SIZE):
        self._values: TTLCache = TTLCache(maxsize=maxsize, ttl=ttl)
        self._generation = 0
        self.hits = 0
        self.misses = 0

    async def get(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        try:
            value = self._values[key]
        except KeyError:
            pass
        else:
            self.hits += 1
            return value
        self.misses += 1
        generation = self._generation
        value = await read()
        # A change made while this read was waiting may not be in what it read: do not keep it.
        if generation == self._generation:
            self._values[key] = value
        return value

    def clear(self) -> None:
        """Something changed: forget everything (changes are rare; exactness matters more)."""
        self._generation += 1
        self._values.clear()

    def __repr__(self) -> str:
        return f"ReadCache(entries={len(self._values)}, hits={self.hits}, misses={self.misses})"
