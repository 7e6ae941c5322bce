"""Slack delivers events at least once: `first_delivery` lets a listener run once per event_id.

The claim is a row in the database (not process memory), so it holds across concurrent
deliveries, several processes and restarts. Listeners call it after Bolt has acknowledged the
event, keeping the database write off the 3-second path.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


async def first_delivery(runtime, body: dict) -> bool:
    event_id = body.get("event_id")
    if not event_id:
        return True
    if await runtime.event_claims.claim(event_id, body.get("team_id") or ""):
        return True
    runtime.metrics.duplicate_events.inc()
    log.info("skipping redelivered event %s", event_id)
    return False
