"""The app being uninstalled or its tokens revoked: forget the workspace's bot token at once and
pause the workspace's workflows; a member deactivated (`user_change`, deleted): pause theirs."""

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

    async def pause_workflows(context, user_id: str | None, reason: str) -> None:
        await runtime.workflow_service.pause_departed(
            context.get("enterprise_id") or "", context.get("team_id") or "", user_id, reason
        )

    @surface.event("app_uninstalled")
    async def on_uninstalled(context):
        await forget_installation(context)
        await pause_workflows(context, None, "Atom was uninstalled from this workspace.")

    @surface.event("tokens_revoked")
    async def on_tokens_revoked(event, context):
        if (event.get("tokens") or {}).get("bot"):
            await forget_installation(context)
            await pause_workflows(context, None, "Atom's access to this workspace was revoked.")

    @surface.event("user_change")
    async def on_user_change(event, context):
        user = event.get("user") or {}
        if user.get("deleted") and user.get("id"):
            await pause_workflows(context, str(user["id"])[:32], "Its owner left the workspace.")
