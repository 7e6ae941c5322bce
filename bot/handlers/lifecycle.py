"""The app being uninstalled or its tokens revoked: forget the workspace's bot token at once."""

from __future__ import annotations

import logging

from bot.runtime import Runtime

log = logging.getLogger(__name__)


def register(surface, runtime: Runtime) -> None:
    async def forget_installation(context) -> None:
        store = surface.app.installation_store
        enterprise_id, team_id = context.get("enterprise_id"), context.get("team_id")
        if store is not None:
            await store.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)
        log.warning(
            "Atom was uninstalled or its token revoked in team %s: its bot token was deleted", team_id
        )

    @surface.event("app_uninstalled")
    async def on_uninstalled(context):
        await forget_installation(context)

    @surface.event("tokens_revoked")
    async def on_tokens_revoked(event, context):
        if (event.get("tokens") or {}).get("bot"):
            await forget_installation(context)
