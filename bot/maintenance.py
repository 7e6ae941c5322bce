"""Housekeeping while Atom runs: forget conversation turns past retention, old event claims, and
run the full garbage collection `atom run` otherwise makes rare (see `bot/server.py`)."""

from __future__ import annotations

import asyncio
import gc
import logging

from bot.runtime import EVENT_CLAIM_RETENTION, Runtime

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 3600.0


async def tidy(runtime: Runtime) -> tuple[int, int]:
    turns = await runtime.memory.purge_expired()
    claims = await runtime.event_claims.purge_older_than(EVENT_CLAIM_RETENTION)
    if turns or claims:
        log.info("housekeeping: removed %d expired conversation turns and %d old event claims", turns, claims)
    return turns, claims


async def run_periodically(runtime: Runtime, interval: float = INTERVAL_SECONDS) -> None:
    while True:
        try:
            await tidy(runtime)
        except Exception:  # housekeeping must never take the bot down; it tries again next hour
            log.exception("housekeeping failed")
        await asyncio.sleep(interval)
        gc.collect()
