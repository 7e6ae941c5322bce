"""`Reply` implementations: how an answer is posted on each Slack surface."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ThreadReply:
    """A message in a channel or DM, in a thread when there is one; links never unfurl."""

    client: object
    channel: str
    thread_ts: str | None = None

    async def post(self, text: str, blocks: list[dict] | None = None) -> None:
        await self.client.chat_postMessage(
            channel=self.channel,
            thread_ts=self.thread_ts,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
