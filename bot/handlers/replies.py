"""`Reply` implementations: how an answer reaches Slack on each surface.

* `ThreadReply` streams into a thread with Slack's streaming methods (chat.startStream /
  appendStream / stopStream) and falls back to post-then-update (at most one update a second)
  where there is no thread or streaming is refused.
  `step` shows a thinking step as a task card in the stream (bot/views/steps.py); where Slack
  refuses chunks the answer goes on as plain text without cards.
* `EphemeralReply` answers `/atom ask` privately through the command's response_url.
Links from model output never unfurl; long answers are split before Slack's limits.

Every Slack call goes through `bot/delivery.py`, and no Slack failure ever leaves this module while
the provider is still talking (`append` never raises: a failure there would be taken for the
provider's). `finish` then walks a ladder until something reaches the person:
  1. the normal end (stop the stream with the footer, or update the last message);
  2. the whole answer posted anew, the partial message deleted (or stopped, at least);
  3. "Slack did not accept the answer" with a Retry button, the answer kept (`tracker`).
A stream that was started is always stopped, whatever failed before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from slack_sdk.models.blocks import MarkdownBlock

from bot.delivery import DeliveryFailed, DeliveryPolicy, SlackDelivery
from bot.views import serialise
from bot.views.answers import MARKDOWN_LIMIT, split_text
from bot.views.delivery import UNDELIVERED_TEXT, undelivered_blocks, waiting_text
from bot.views.steps import DISPLAY_MODE, task_card

log = logging.getLogger(__name__)

FLUSH_CHARS = 600
FLUSH_SECONDS = 0.5
UPDATE_INTERVAL = 1.0  # chat.update on one message at most once a second
STREAM_MESSAGE_LIMIT = 36_000  # start a new message before Slack's 40,000-character cap
WORKING_REACTION = "eyes"


class NoTracker:
    """Where a reply reports what a restart or a Retry needs; ConversationService plugs a real one."""

    delivery_id = ""

    async def message_started(self, ts: str, streaming: bool) -> None:
        return None

    async def undelivered(self, text: str, footer: list[dict]) -> None:
        return None


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
        policy: DeliveryPolicy | None = None,
        message_ts: str | None = None,  # the person's message, for the "working on it" reaction
    ):
        self.slack = SlackDelivery(client, policy)
        self.channel = channel
        self.thread_ts = thread_ts
        self.team_id = team_id
        self.user_id = user_id
        self.tracker = NoTracker()
        self._set_status = set_status
        self._set_title = set_title
        self._clock = clock
        self._their_message = message_ts
        self._streaming = thread_ts is not None
        self._stream_ts: str | None = None  # the open stream, if any
        self._stream_chars = 0
        self._pending = ""  # received, not yet sent
        self._last_flush = 0.0
        self._message_ts: str | None = None  # post-then-update: the message being updated
        self._message_text = ""
        self._last_update = 0.0
        self._answer = ""  # everything the provider said: what a fallback delivers
        self._partials: list[str] = []  # messages of this answer already in Slack, oldest first
        self._broken = False  # live delivery gave up: the rest is delivered whole at the end
        self._waiting_ts: str | None = None
        self._steps: int | None = 0  # task cards shown; None once Slack refused them
        self._sending_steps: asyncio.Task | None = None

    # ------------------------------------------------------------------ small things around an answer

    async def post(self, text: str, blocks: list[dict] | None = None) -> None:
        """A short reply instead of an answer (no key, over budget…): tried as hard as an answer.
        A stream the task cards opened is ended first, so it is never left open."""
        await self._steps_sent()
        if self._stream_ts is not None:
            await self._stop_quietly()
        try:
            await self._post_new(text, blocks, record=False)
        except DeliveryFailed as exc:
            log.warning("could not post a reply: %s", exc)

    async def answer(self, respond, ask) -> None:
        """`respond(ask, self)` (ConversationService.respond); should it raise, the stream it
        opened is ended before the error goes on to Atom's error handler."""
        try:
            await respond(ask, self)
        except Exception:
            await self.abandon()
            raise

    async def abandon(self) -> None:
        """The answer failed with an error: end a stream the task cards or the answer opened, so it
        is not left open under the apology Atom's error handler posts."""
        with contextlib.suppress(Exception):  # the error is being reported already
            await self._steps_sent()
        if self._stream_ts is not None:
            await self._stop_quietly()

    async def working(self) -> None:
        """Within a second of the question: a reaction on it says Atom is on it (DMs)."""
        if self._their_message:
            await self.slack.quietly(
                "reactions.add", channel=self.channel, timestamp=self._their_message, name=WORKING_REACTION
            )

    async def status(self, text: str) -> None:
        if self._set_status is not None:
            try:
                await self._set_status(text)
            except Exception as exc:  # a status is a nicety; the answer matters
                log.info("could not set status: %s", type(exc).__name__)

    async def waiting(self, provider_label: str) -> None:
        """The provider is slow: say whom Atom is waiting for (a status, or a note that the answer
        replaces or removes)."""
        if self._set_status is not None:
            await self.status(f"is waiting for {provider_label}…")
            return
        if self._answer or self._waiting_ts:
            return
        await self._steps_sent()
        if self._streaming and self._steps:  # the stream shows steps: the wait is one more
            await self.step(f"Waiting for {provider_label} to answer", "in_progress")
            return
        try:
            self._waiting_ts = await self._post_new(waiting_text(provider_label), None, record=False)
        except DeliveryFailed:
            return
        if not self._streaming:  # post-then-update: the note becomes the answer
            if self._message_ts is not None:  # unless the answer's own message came first
                await self._remove_waiting_note()
                return
            self._message_ts, self._waiting_ts = self._waiting_ts, None
            self._partials.append(self._message_ts)
            await self.tracker.message_started(self._message_ts, False)

    async def new_thread(self, question: str) -> None:
        """The first question of a thread Atom has no memory of (Assistant threads get a title)."""
        if self._set_title is not None:
            try:
                await self._set_title(question)
            except Exception as exc:  # a title is a nicety too
                log.info("could not set title: %s", type(exc).__name__)

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
        if self._steps is None or self._broken:
            return  # an earlier card was refused
        try:
            if self._stream_ts is None:
                await self._start_stream([card])
            else:
                await self.slack.call(
                    "chat.appendStream", repeatable=False, channel=self.channel, ts=self._stream_ts, chunks=[card]
                )
        except Exception as exc:  # noqa: BLE001 — a card is a nicety; the answer must go on
            log.info("task cards refused (%s): answering without them", exc)
            self._steps = None

    async def _steps_sent(self) -> None:
        if self._sending_steps is not None:
            await self._sending_steps

    @property
    def steps_shown(self) -> bool:
        return bool(self._steps)

    # ------------------------------------------------------------------ the answer

    async def append(self, delta: str) -> None:
        self._answer += delta
        if self._broken:
            return
        self._pending += delta
        first = self._last_flush == 0.0
        if first or len(self._pending) >= FLUSH_CHARS or self._clock() - self._last_flush >= FLUSH_SECONDS:
            try:
                await self._flush()
            except DeliveryFailed as exc:
                log.info("live delivery stopped (%s): the whole answer follows at the end", exc)
                self._broken = True

    async def finish(self, footer: list, fallback_text: str) -> bool:
        """End the answer; False when Slack took none of it (the person was told, if possible)."""
        await self._steps_sent()
        footer_dicts = _footer(footer)
        if not self._broken:
            try:
                await self._finish_live(footer_dicts)
                await self._remove_waiting_note()
                return True
            except DeliveryFailed as exc:
                log.info("could not finish the answer in place (%s): posting it anew", exc)
        return await self.deliver_whole(self._answer, footer_dicts)

    async def deliver_whole(self, text: str, footer: list[dict]) -> bool:
        """The whole answer, however Slack will take it: the partial message rewritten, or the
        answer posted anew; failing both, the person is told and the answer kept for Retry."""
        if await self._rewrite_partial(text, footer) or await self._post_whole(text, footer):
            await self._remove_waiting_note()
            return True
        await self._clear_partials()
        await self.tracker.undelivered(text, footer)
        await self._tell_undelivered()
        return False

    async def _rewrite_partial(self, text: str, footer: list[dict]) -> bool:
        """The message showing part of the answer becomes all of it (when it fits one message)."""
        if not self._partials or len(text) > MARKDOWN_LIMIT:
            return False
        ts = self._partials[0]
        if self._stream_ts is not None:
            await self._stop_quietly()
        try:
            await self._update(ts, text, _blocks(text, footer))
        except DeliveryFailed as exc:
            log.info("could not rewrite the partial answer (%s): posting it anew", exc)
            return False
        self._partials = self._partials[1:]
        await self._clear_partials()  # stops the stream if it is still open; deletes the others
        return True

    async def _post_whole(self, text: str, footer: list[dict]) -> bool:
        try:
            parts = split_text(text or " ")
            for index, part in enumerate(parts):
                await self._post_new(
                    part, _blocks(part, footer if index == len(parts) - 1 else []), record=False
                )
        except DeliveryFailed as exc:
            log.warning("Slack did not accept the answer: %s", exc)
            return False
        await self._clear_partials()
        return True

    # ------------------------------------------------------------------ live: streaming

    async def _flush(self) -> None:
        await self._steps_sent()
        self._last_flush = self._clock()
        if self._streaming:
            try:
                await self._flush_stream()
                return
            except DeliveryFailed as exc:
                if self._stream_ts is not None or exc.ambiguous:
                    raise
                log.info("streaming refused (%s): posting and updating instead", exc.error or exc.kind)
                self._streaming = False
        await self._flush_message()

    async def _flush_stream(self) -> None:
        text, self._pending = self._pending, ""
        if not text:
            return
        if self._stream_ts is not None and self._stream_chars + len(text) > STREAM_MESSAGE_LIMIT:
            await self._stop_stream([])
        for part in split_text(text, MARKDOWN_LIMIT):
            chunks = [{"type": "markdown_text", "text": part}]
            if self._stream_ts is None:
                try:
                    await self._start_stream(chunks)
                except DeliveryFailed:
                    self._pending = text + self._pending  # kept for the post-then-update fallback
                    raise
            else:
                # Not repeated blindly: an append Slack kept but whose answer was lost would show
                # twice. The whole answer is delivered at the end instead.
                await self.slack.call(
                    "chat.appendStream",
                    repeatable=False,
                    channel=self.channel,
                    ts=self._stream_ts,
                    chunks=chunks,
                )
            self._stream_chars += len(part)

    async def _start_stream(self, chunks: list[dict]) -> None:
        params = {
            "channel": self.channel,
            "thread_ts": self.thread_ts,
            "recipient_team_id": self.team_id,
            "recipient_user_id": self.user_id,
            "unfurl_links": False,
            "unfurl_media": False,
            "chunks": chunks,
        }
        if self._steps is not None:
            params["task_display_mode"] = DISPLAY_MODE
        try:
            response = await self.slack.call("chat.startStream", repeatable=False, **params)
            ts = response.get("ts")
        except DeliveryFailed as exc:
            if not exc.ambiguous:
                raise
            text = "".join(c.get("text", "") for c in chunks)
            # A task card alone carries no text: an empty message of ours in this thread is it.
            ts = await self.slack.find_posted(self.channel, self.thread_ts, text, set(self._partials))
            if ts is None:
                raise
        self._stream_ts, self._stream_chars = ts, 0
        self._partials.append(ts)
        await self.tracker.message_started(ts, True)

    async def _stop_stream(self, blocks: list[dict], chunks: list[dict] | None = None) -> None:
        ts, self._stream_ts = self._stream_ts, None
        params = {"channel": self.channel, "ts": ts}
        if blocks:
            params["blocks"] = blocks
        if chunks:
            params["chunks"] = chunks
        # Repeatable: a second stop of a stop Slack kept answers message_not_in_streaming_state.
        try:
            await self.slack.call("chat.stopStream", repeatable=True, **params)
        except DeliveryFailed:
            self._stream_ts = ts
            raise

    # ------------------------------------------------------------------ live: post, then update

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
            self._message_ts = await self._post_new(text, blocks)
            await self.tracker.message_started(self._message_ts, False)
        elif force or self._clock() - self._last_update >= UPDATE_INTERVAL:
            await self._update(self._message_ts, text, blocks)

    async def _update(self, ts: str, text: str, blocks: list[dict]) -> None:
        await self.slack.call(
            "chat.update",
            repeatable=True,
            channel=self.channel,
            ts=ts,
            text=text[:3000] or " ",
            blocks=blocks,
        )
        self._last_update = self._clock()

    # ------------------------------------------------------------------ the end, and the fallbacks

    async def _finish_live(self, footer: list[dict]) -> None:
        if self._stream_ts is not None:
            rest, self._pending = self._pending, ""
            chunks = (
                [{"type": "markdown_text", "text": p} for p in split_text(rest, MARKDOWN_LIMIT)]
                if rest
                else []
            )
            await self._stop_stream(footer, chunks)
            return
        self._message_text += self._pending
        self._pending = ""
        parts = split_text(self._message_text or " ")
        for index, part in enumerate(parts):
            blocks = _blocks(part, footer if index == len(parts) - 1 else [])
            if index == 0 and self._message_ts:
                await self._update(self._message_ts, part, blocks)
            else:
                self._message_ts = await self._post_new(part, blocks)

    async def _post_new(self, text: str, blocks: list[dict] | None, *, record: bool = True) -> str:
        """chat.postMessage, never twice for one message: after an ambiguous failure Atom looks
        for the message before posting it again."""
        params = {
            "channel": self.channel,
            "thread_ts": self.thread_ts,
            "text": text[:3000] or " ",
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if blocks:
            params["blocks"] = blocks
        for round_ in range(1, self.slack.policy.attempts + 1):
            try:
                ts = (await self.slack.call("chat.postMessage", repeatable=False, **params)).get("ts")
                break
            except DeliveryFailed as exc:
                if not exc.ambiguous or round_ == self.slack.policy.attempts:
                    raise
                ts = await self.slack.find_posted(
                    self.channel, self.thread_ts, params["text"], set(self._partials)
                )
                if ts is not None:
                    break
        self._last_update = self._clock()
        if record:
            self._partials.append(ts)
        return ts

    async def _stop_quietly(self) -> None:
        try:
            await self._stop_stream([])
        except DeliveryFailed as exc:
            log.warning("could not stop a stream: %s", exc)

    async def _clear_partials(self) -> None:
        """What a failed live delivery left: an open stream is stopped, partial messages deleted."""
        if self._stream_ts is not None:
            await self._stop_quietly()
        for ts in self._partials:
            try:
                await self.slack.call("chat.delete", repeatable=True, channel=self.channel, ts=ts)
            except DeliveryFailed as exc:
                log.warning("could not delete a partial answer: %s", exc)
        self._partials = []
        self._message_ts = None

    async def _remove_waiting_note(self) -> None:
        if self._waiting_ts:
            ts, self._waiting_ts = self._waiting_ts, None
            await self.slack.quietly("chat.delete", channel=self.channel, ts=ts)

    async def _tell_undelivered(self) -> None:
        """Privately first (another method, so a failing chat.postMessage does not stop it)."""
        blocks = undelivered_blocks(self.tracker.delivery_id)
        common = {"channel": self.channel, "text": UNDELIVERED_TEXT, "blocks": blocks}
        if self.thread_ts:
            common["thread_ts"] = self.thread_ts
        try:
            await self.slack.call("chat.postEphemeral", repeatable=True, user=self.user_id, **common)
            return
        except DeliveryFailed as exc:
            log.info("could not tell the person privately: %s", exc)
        try:
            await self._post_new(UNDELIVERED_TEXT, blocks, record=False)
        except DeliveryFailed as exc:
            log.error("could not tell the person that Slack refused their answer: %s", exc)


def _footer(footer: list) -> list[dict]:
    """Footer blocks as dicts (what is stored for a Retry); an empty footer is allowed here."""
    return [b if isinstance(b, dict) else b.to_dict() for b in footer]


def _blocks(text: str, footer: list[dict]) -> list[dict]:
    """One message: a part of the answer and, under the last, its footer (already serialised)."""
    return [*serialise([MarkdownBlock(text=text or " ")]), *footer]


class EphemeralReply:
    """`/atom ask`: the whole answer at once, privately, with a "Share in channel" button."""

    streams = False  # nothing to stream into: ask the provider for the whole answer

    def __init__(self, respond, *, client=None, channel: str = "", user_id: str = "", policy=None):
        self._respond = respond
        self._text = ""
        self.tracker = NoTracker()
        self._slack = SlackDelivery(client, policy) if client is not None else None
        self._channel, self._user_id = channel, user_id
        self._policy = policy or DeliveryPolicy()

    async def post(self, text: str, blocks: list[dict] | None = None) -> None:
        await self._send(text=text, blocks=blocks)

    async def status(self, text: str) -> None:
        return None

    async def step(self, title: str, status: str = "complete", details: str | None = None) -> None:
        return None  # a private answer arrives whole: there is no stream to show steps in

    async def append(self, delta: str) -> None:
        self._text += delta

    async def finish(self, footer: list, fallback_text: str) -> bool:
        return await self.deliver_whole(self._text, _footer(footer))

    async def deliver_whole(self, text: str, footer: list[dict]) -> bool:
        parts = split_text(text or " ")[:40]
        blocks = [*serialise([MarkdownBlock(text=p) for p in parts]), *footer]
        if await self._send(text=text[:3000], blocks=blocks):
            return True
        await self.tracker.undelivered(text, footer)
        await self._send(text=UNDELIVERED_TEXT, blocks=undelivered_blocks(self.tracker.delivery_id))
        return False

    async def _send(self, *, text: str, blocks: list[dict] | None) -> bool:
        """response_url first (tried `attempts` times), then chat.postEphemeral."""
        for _ in range(self._policy.attempts):
            try:
                response = await self._respond(
                    text=text, blocks=blocks, response_type="ephemeral", replace_original=False
                )
                if getattr(response, "status_code", 200) == 200:
                    return True
            except Exception as exc:  # the response_url refused or timed out: the next way may work
                log.info("response_url failed: %s", type(exc).__name__)
        if self._slack is None:
            return False
        try:
            await self._slack.call(
                "chat.postEphemeral",
                repeatable=True,
                channel=self._channel,
                user=self._user_id,
                text=text,
                blocks=blocks,
            )
            return True
        except DeliveryFailed as exc:
            log.warning("could not answer privately: %s", exc)
            return False
