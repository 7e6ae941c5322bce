"""Slack delivers events at least once: `first_delivery` lets a listener run once per event_id.

The claim is a row in the database, so it holds across restarts and several processes; a
delivery Slack did not mark as a retry is claimed in memory at once and its row written just
after, in a group (bot/storage/repositories/events.py). Listeners call it after Bolt has
acknowledged the event, keeping the database write off the 3-second path.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


RETRY_NUM = "slack_retry_num"  # set on the context by `note_retry`


async def note_retry(req, context, next):
    """Bolt middleware: whether Slack marked this delivery as a retry (HTTP header, or Socket
    Mode's `retry_attempt`, which Bolt mirrors into the same header)."""
    raw = (req.headers.get("x-slack-retry-num") or [""])[0]
    context[RETRY_NUM] = int(raw) if raw.isdigit() else (0 if not raw else 1)
    return await next()


async def first_delivery(runtime, body: dict, context=None) -> bool:
    """`context`: the listener's, so that an unmarked delivery is claimed in memory at once (the
    write follows); without it, or for a retry, the claim waits for the database."""
    event_id = body.get("event_id")
    if not event_id:
        return True
    first = context is not None and context.get(RETRY_NUM) == 0
    if await runtime.event_claims.claim(event_id, body.get("team_id") or "", first=first):
        return True
    runtime.metrics.duplicate_events.inc()
    log.info("skipping redelivered event %s", event_id)
    return False
