"""Posting a workflow's messages to Slack, outside any Slack request.

A run has no request and so no Bolt client: with one workspace (SLACK_BOT_TOKEN) the runtime's
client posts; with OAuth installs the workspace's bot token is read (decrypted) from the
installation store for the call and dropped after it. A workflow's DM goes to the owner's user
id, which Slack delivers to the app's DM with that person.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.identity import Person
from bot.slack_client import build_client
from bot.viewing import SlackUnanswered, ViewReader

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

    async def check_channel(self, person: Person, channel: str) -> None:
        """Refuse a channel the owner and Atom are not both in, with the reason for the owner.
        The plan's channel comes from a model answer (steerable by what it read), so neither the
        preview nor Enable alone is trusted: Enable and every run ask Slack again."""
        client = await self._client(person.enterprise_id, person.team_id)
        try:
            seen = await ViewReader(client, self.runtime.delivery_policy).membership(person, channel)
        except SlackUnanswered as exc:  # never blamed on membership: Slack did not say
            where = exc.place or f"<#{channel}>"
            raise DeliveryFailed(f"Slack did not answer when Atom checked who is in {where}; try again.") from None
        if seen is None:
            raise DeliveryFailed(f"Atom can't see <#{channel}>, so it won't post there.")
        if not seen.atom:
            raise DeliveryFailed(f"Atom is not a member of {seen.name}; add it with `/invite @Atom` first.")
        if not seen.person:
            raise DeliveryFailed(f"You're not a member of {seen.name}, so Atom won't post there for you.")

    async def to_owner(self, workflow, text: str, blocks: list[dict]) -> None:
        await self.post(workflow.enterprise_id, workflow.team_id, workflow.user_id, text, blocks)
