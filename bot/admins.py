"""Who is a workspace admin: Slack's own `is_admin` / `is_owner` from users.info, cached briefly."""

from __future__ import annotations

import logging
import time

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.identity import Person

log = logging.getLogger(__name__)

CACHE_SECONDS = 60.0


class AdminDirectory:
    def __init__(self, ttl: float = CACHE_SECONDS):
        self._ttl = ttl
        self._cache: dict[tuple[str, str, str], tuple[bool, float]] = {}

    async def is_admin(self, client, person: Person) -> bool:
        key = (person.enterprise_id, person.team_id, person.user_id)
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached and cached[1] > now:
            return cached[0]
        response = await client.users_info(user=person.user_id)
        user = response.get("user") or {}
        admin = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        self._cache[key] = (admin, now + self._ttl)
        return admin

    async def is_admin_or_unknown(self, client, person: Person) -> bool | None:
        """`is_admin`, or None when Slack could not tell (users.info failed): callers that can
        carry on without admin features (the Home tab) do so and say why."""
        try:
            return await self.is_admin(client, person)
        except (TimeoutError, SlackApiError, aiohttp.ClientError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            log.info("users.info failed (%s): admin features hidden for now", error)
            return None
