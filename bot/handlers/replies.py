"""`Reply` implementations: how an answer reaches Slack on each surface.

* `ThreadReply` streams into a thread with Slack's streaming methods (chat.startStream /
  appendStream / stopStream) and falls back to post-then-update (at most one update a second)
  where there is no thread or streaming is refused.
  `step` shows a thinking step as a task card in the stream (bot/views/steps.py); where Slack
  refuses chunks the answer goes on as plain text without cards.
* `EphemeralReply` answers `/atom ask` privately through the command's response_url.
Links from model output never unfurl; long answers are split before Slack's limits.
"""

from __future__ import annotations

import asyncio
import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import MarkdownBlock

from bot.views import serialise
from bot.views.answers import MARKDOWN_LIMIT, answer_message_blocks, split_text
from bot.views.steps import DISPLAY_MODE, task_card

log = logging.getLogger(__name__)

FLUSH_CHARS = 600
FLUSH_SECONDS = 0.5
UPDATE_INTERVAL = 1.0  # chat.update on one message at most once a second
STREAM_MESSAGE_LIMIT = 36_000  # start a new message before Slack's 40,000-character cap


class ThreadReply:
    def __init__(
        self,
        client,
        channel: str,
        thread_ts: str | None,
        *,
        team_id: str,
        user_id: str,
        set_status=None,
        set_title=None,
        clock=time.monotonic,
    ):
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.team_id = team_id
        self.user_id = user_id
        self._set_status = set_status
        self._set_title = set_title
        self._clock = clock
        self._streaming = thread_ts is not None
        self._stream = None
        self._stream_chars = 0
        self._pending = ""
        self._last_flush = 0.0
        self._message_ts: str | None = None  # fallback mode: the message being updated
        self._message_text = ""
        self._last_update = 0.0
        self._steps = 0  # task cards shown; None once Slack refused them
        self._sending_steps: asyncio.Task | None = None

    async def post(self, text: str, blocks: list[dict] | None = None) -> None:
        await self._steps_sent()
        if self._stream is not None:
            await self._end_steps()
        await self.client.chat_postMessage(
            channel=self.channel,
            thread_ts=self.thread_ts,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )

    async def status(self, text: str) -> None:
        if self._set_status is not None:
            try:
                await self._set_status(text)
            except SlackApiError as exc:  # a status is a nicety; the answer matters
                log.info("could not set status: %s", exc.response.get("error"))

    async def new_thread(self, question: str) -> None:
        """The first question of a thread Atom has no memory of (Assistant threads get a title)."""
        if self._set_title is not None:
            try:
                await self._set_title(question)
            except SlackApiError as exc:  # a title is a nicety too
                log.info("could not set title: %s", exc.response.get("error"))

    async def step(self, title: str, status: str = "complete", details: str | None = None) -> None:
        """A thinking step as a task card at the top of the streamed answer. Only where Atom
        streams. Sent in the background, in order, so the model call never waits for Slack; text
        waits for the cards before it. A refusal turns cards off for this answer and the text
        goes on without them."""
        if not self._streaming or self._steps is None:
            return
        self._steps += 1
        card = task_card(f"step-{self._steps}", title, status, details)
        self._sending_steps = asyncio.create_task(self._send_step(card, self._sending_steps))

    async def _send_step(self, card: dict, previous: asyncio.Task | None) -> None:
        if previous is not None:
            await previous
        if self._steps is None:
            return  # an earlier card was refused
        try:
            if self._stream is None:
                self._stream = await self._open_stream()
            await self._stream.append(chunks=[card])
        except Exception as exc:  # noqa: BLE001 — a card is a nicety; the answer must go on
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            log.info("task cards refused (%s): answering without them", error)
            self._steps = None
            if self._stream is not None and self._stream.ts is None:
                self._stream = None  # never started: the text starts its own stream (or falls back)

    async def _steps_sent(self) -> None:
        if self._sending_steps is not None:
            await self._sending_steps

    @property
    def steps_shown(self) -> bool:
        return bool(self._steps)

    async def _open_stream(self):
        self._stream_chars = 0
        return await self.client.chat_stream(
            channel=self.channel,
            thread_ts=self.thread_ts,
            recipient_team_id=self.team_id,
            recipient_user_id=self.user_id,
            buffer_size=1,  # Atom batches itself (FLUSH_CHARS / FLUSH_SECONDS)
            unfurl_links=False,
            unfurl_media=False,
            task_display_mode=DISPLAY_MODE if self._steps is not None else None,
        )

    async def _end_steps(self) -> None:
        """A message after task cards (no key, nothing answered…) first ends their stream, so
        it is never left open; the message itself is posted as always."""
        stream, self._stream = self._stream, None
        if stream is None or stream.ts is None:
            return  # never started: nothing to close
        try:
            # Directly, not stream.stop(): that would resend text a refused append left buffered.
            await self.client.chat_stopStream(channel=self.channel, ts=stream.ts)
        except SlackApiError as exc:
            log.info("could not end the stream of task cards: %s", exc.response.get("error"))

    async def append(self, delta: str) -> None:
        self._pending += delta
        first = self._last_flush == 0.0
        if first or len(self._pending) >= FLUSH_CHARS or self._clock() - self._last_flush >= FLUSH_SECONDS:
            await self._flush()

    async def finish(self, footer: list, fallback_text: str) -> None:
        await self._steps_sent()
        if self._streaming and self._stream is not None:
            await self._flush_stream()
            await self._stream.stop(blocks=serialise(footer))
            return
        if self._streaming:  # no text arrived at all
            self._streaming = False
        self._message_text += self._pending
        self._pending = ""
        parts = split_text(self._message_text or " ")
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            blocks = answer_message_blocks(part, footer if last else [])
            if index == 0 and self._message_ts:
                await self._update(part, blocks)
            else:
                self._message_ts = None
                await self._post_message(part, blocks)

    # ------------------------------------------------------------------ streaming

    async def _flush(self) -> None:
        await self._steps_sent()
        self._last_flush = self._clock()
        if self._streaming:
            try:
                await self._flush_stream()
                return
            except SlackApiError as exc:
                log.info("streaming refused (%s): posting and updating instead", exc.response.get("error"))
                self._streaming = False
                await self._end_steps()  # a stream the task cards started is closed, not left open
        await self._flush_message()

    async def _flush_stream(self) -> None:
        text, self._pending = self._pending, ""
        if not text:
            return
        if self._stream is None or self._stream_chars + len(text) > STREAM_MESSAGE_LIMIT:
            if self._stream is not None:
                await self._stream.stop()
            self._stream = await self._open_stream()
        for part in split_text(text, MARKDOWN_LIMIT):
            try:
                await self._stream.append(markdown_text=part)
            except SlackApiError:
                self._pending = part + self._pending  # not lost: the fallback posts it
                raise
            self._stream_chars += len(part)

    # ------------------------------------------------------------------ post, then update

    async def _flush_message(self) -> None:
        self._message_text += self._pending
        self._pending = ""
        while len(self._message_text) > MARKDOWN_LIMIT:
            head, *rest = split_text(self._message_text)
            await self._update_or_post(head, force=True)
            self._message_ts, self._message_text = None, "".join(rest)
        await self._update_or_post(self._message_text, force=False)

    async def _update_or_post(self, text: str, *, force: bool) -> None:
        blocks = serialise([MarkdownBlock(text=text or " ")])
        if self._message_ts is None:
            await self._post_message(text, blocks)
        elif force or self._clock() - self._last_update >= UPDATE_INTERVAL:
            await self._update(text, blocks)

    async def _post_message(self, text: str, blocks: list[dict]) -> None:
        response = await self.client.chat_postMessage(
            channel=self.channel,
            thread_ts=self.thread_ts,
            text=text[:3000] or " ",
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        self._message_ts = response.get("ts")
        self._last_update = self._clock()

    async def _update(self, text: str, blocks: list[dict]) -> None:
        await self.client.chat_update(
            channel=self.channel, ts=self._message_ts, text=text[:3000] or " ", blocks=blocks
        )
        self._last_update = self._clock()


class EphemeralReply:
    """`/atom ask`: the whole answer at once, privately, with a "Share in channel" button."""

    streams = False  # nothing to stream into: ask the provider for the whole answer

    def __init__(self, respond):
        self._respond = respond
        self._text = ""

    async def post(self, text: str, blocks: list[dict] | None = None) -> None:
        await self._respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    async def status(self, text: str) -> None:
        return None

    async def step(self, title: str, status: str = "complete", details: str | None = None) -> None:
        return None  # a private answer arrives whole: there is no stream to show steps in

    async def append(self, delta: str) -> None:
        self._text += delta

    async def finish(self, footer: list, fallback_text: str) -> None:
        parts = split_text(self._text or " ")[:40]
        blocks = serialise([*(MarkdownBlock(text=p) for p in parts), *footer])
        await self._respond(
            text=self._text[:3000], blocks=blocks, response_type="ephemeral", replace_original=False
        )
