"""Posting a workflow's messages to Slack, outside any Slack request.

A run has no request and so no Bolt client: with one workspace (SLACK_BOT_TOKEN) the runtime's
client posts; with OAuth installs the workspace's bot token is read (decrypted) from the
installation store for the call and dropped after it. A workflow's DM goes to the owner's user
id, which Slack delivers to the app's DM with that person.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.slack_client import build_client

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """Slack refused the message; the text says why, without tokens."""


class SlackDelivery:
    def __init__(self, runtime):
        self.runtime = runtime

    async def _client(self, enterprise_id: str, team_id: str):
        runtime = self.runtime
        if runtime.settings.slack_bot_token:
            return runtime.client
        from bot.storage.installations import EncryptedInstallationStore

        store = EncryptedInstallationStore(runtime.sessions, runtime.crypto, runtime.settings.slack_client_id or "")
        bot = await store.async_find_bot(enterprise_id=enterprise_id or None, team_id=team_id)
        if bot is None:
            raise DeliveryFailed("Atom is no longer installed in this workspace.")
        return build_client(runtime.settings.slack_api_url, bot.bot_token, session=runtime.client.session)

    async def post(self, enterprise_id: str, team_id: str, channel: str, text: str, blocks: list[dict]) -> None:
        client = await self._client(enterprise_id, team_id)
        try:
            await client.chat_postMessage(
                channel=channel, text=text[:3000], blocks=blocks, unfurl_links=False, unfurl_media=False
            )
        except SlackApiError as exc:
            error = (exc.response or {}).get("error", "unknown_error") if exc.response is not None else "unknown_error"
            raise DeliveryFailed(f"Slack refused the message ({error}).") from None

    async def to_owner(self, workflow, text: str, blocks: list[dict]) -> None:
        await self.post(workflow.enterprise_id, workflow.team_id, workflow.user_id, text, blocks)
