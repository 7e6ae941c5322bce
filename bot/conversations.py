"""Answering people: from a question to a routed, streamed, failed-over and costed answer.

Handlers build an `Ask` from the verified request and a `Reply` that knows how to post on their
surface (stream in a thread, update a message, answer privately); this module decides what to
say and which model says it. Nothing here reads a Slack payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import weakref
from dataclasses import dataclass
from typing import Protocol

from bot.admission import AdaptiveAdmission
from bot.identity import Person
from bot.llm import endpoints, routing
from bot.llm.calls import CallResult, Cooldowns, ModelCaller
from bot.llm.classify import classify, history_questions, previous_profile
from bot.llm.credentials import Credential
from bot.llm.models import available_models, catalog_ready
from bot.llm.pricing import baseline_cost
from bot.llm.providers import CATALOG, find_pasted_key
from bot.llm.runtime import litellm_async
from bot.llm.tools import ToolLoop
from bot.llm.trimming import fit, litellm_counter
from bot.memory import Conversation, ConversationMemory, cap_history, history_budget, thread_key
from bot.storage.models import utcnow
from bot.usage import Preferences, UsageService
from bot.views.answers import (
    MentionGuard,
    footer_blocks,
    neutralise_mentions,
    nothing_left_text,
    switch_notes,
)
from bot.views.keys import pasted_key_text
from bot.views.messages import NO_KEY_TEXT, no_key_blocks, pasted_key_blocks
from bot.views.steps import failover, model_choice

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 40_000
# Answers start at a rate that follows the event loop's lag (bot/admission.py; at most 200 at
# once), so a burst can exhaust neither the database pool nor the loop that acknowledges Slack.
# Beyond this many waiting, say so instead of queueing for many minutes.
MAX_WAITING_ANSWERS = 10_000
BUSY_TEXT = "I'm answering a lot of questions right now. Please ask again in a minute."
SYSTEM_PROMPT = (
    "You are Atom, a helpful assistant inside Slack. Answer clearly and concisely in Markdown. "
    "Never claim to know secrets, API keys or tokens: you are never given any."
)


# JSON can escape half of a surrogate pair (`"\\ud800"`); json.loads joins whole pairs into one
# character, so any surrogate left in a str is a lone one, which no UTF-8 encoder accepts.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD, as a UTF-8 decoder would."""
    return text if text.isascii() else LONE_SURROGATE.sub("\ufffd", text)


@dataclass(frozen=True)
class Ask:
    person: Person
    text: str
    channel: str
    thread_ts: str | None  # the thread the answer belongs to (its memory)
    surface: str  # dm | mention | assistant | command | shortcut | thread
    use_history: bool = True  # False: a one-off question (still stored, for sharing and `forget`)
    top_level: bool = False  # a new top-level DM: a new conversation unless a bare follow-up
    notes: tuple[str, ...] = ()  # said under the answer (e.g. the Slack context it read)

    def __post_init__(self) -> None:
        # Where a question enters Atom, from any surface: downstream (token counts, the model's
        # request, storage, Slack) everything encodes it as UTF-8.
        object.__setattr__(self, "text", without_lone_surrogates(self.text))


class Reply(Protocol):
    async def post(self, text: str, blocks: list[dict] | None = None) -> None: ...
    async def status(self, text: str) -> None: ...
    async def step(self, title: str, status: str = "complete", details: str | None = None) -> None: ...
    async def append(self, delta: str) -> None: ...
    async def finish(self, footer: list, fallback_text: str) -> bool: ...  # False: Slack took none of it


class MentionSafeReply:
    """A `Reply` whose streamed text passes through `MentionGuard` (split mentions included)."""

    def __init__(self, reply: Reply):
        self._reply = reply
        self._guard = MentionGuard()
        self.spoken = False  # the model's text has begun

    def __getattr__(self, name: str):
        return getattr(self._reply, name)

    async def append(self, delta: str) -> None:
        self.spoken = True
        if safe := self._guard.feed(delta):
            await self._reply.append(safe)

    async def flush(self) -> None:
        if tail := self._guard.flush():
            await self._reply.append(tail)


class ConversationService:
    def __init__(self, runtime, memory: ConversationMemory, usage: UsageService, cooldowns: Cooldowns):
        self.runtime = runtime
        self.vault = runtime.vault
        self.memory = memory
        self.usage = usage
        self.caller = ModelCaller(
            runtime.settings.provider_bases,
            runtime.settings.llm_timeout,
            cooldowns,
            endpoints.parse_networks(runtime.settings.allowed_private_networks),
        )
        self.cooldowns = cooldowns
        self.tools = ToolLoop(
            getattr(runtime, "connectors", None), runtime.settings.provider_bases, runtime.settings.llm_timeout, self.caller
        )
        metrics = runtime.metrics

        def on_tick(rate: float, waiting: int) -> None:
            metrics.start_rate.set(rate)
            metrics.waiting.set(waiting)

        self._tasks: set[asyncio.Task] = set()
        # A lock per conversation in use; gone when no answer holds or waits for it.
        self._conversations: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self.admission = AdaptiveAdmission(on_tick=on_tick)
        metrics.start_rate.set(self.admission.rate)

    async def respond(self, ask: Ask, reply: Reply) -> CallResult | None:
        # What can be answered at once (no key, a pasted key, over budget…) is answered before the
        # queue and without the "working on it" reaction: the reply itself is the sign.
        ready = await self._ready(ask, reply)
        if ready is None:
            return None
        if hasattr(reply, "working"):  # seen within a second, whatever the queue or the provider
            self._background(reply.working())
        if self.admission.waiting >= MAX_WAITING_ANSWERS:
            await reply.post(BUSY_TEXT)
            return None
        await self.admission.acquire()
        try:
            return await self._respond(ask, reply, *ready)
        finally:
            self.admission.release()

    async def _ready(self, ask: Ask, reply: Reply):
        """(credentials, prefs) when the question goes to a model; else posts why not and returns None."""
        person = ask.person
        text = ask.text.strip()
        # A hostile size (Slack allows ~1 MB) is scanned off the loop: ~0.1 s of regex per MB.
        long = len(text) > MAX_QUESTION_CHARS
        pasted = await asyncio.to_thread(find_pasted_key, text) if long else find_pasted_key(text)
        if pasted:
            # Never sent to a model, never stored: only a warning goes back.
            await reply.post(pasted_key_text(CATALOG.get(pasted)), pasted_key_blocks(pasted))
            return None
        if not text:
            await reply.post("Ask me anything: type your question after `/atom` or in a message to me.")
            return None
        if long:
            await reply.post(
                f"That message is {len(text):,} characters; I can take up to {MAX_QUESTION_CHARS:,}. "
                "Please shorten it or split it into parts."
            )
            return None
        credentials = await self.vault.usable(person)
        if not credentials:
            await reply.post(NO_KEY_TEXT, no_key_blocks())
            return None
        prefs, over_budget = await self.usage.gate(person)
        if over_budget:
            await reply.post(f"💸 {over_budget}")
            return None
        return credentials, prefs

    async def _respond(self, ask: Ask, reply: Reply, credentials, prefs) -> CallResult | None:
        person = ask.person
        text = ask.text.strip()
        conversation = (
            await self.memory.conversation(
                person, ask.channel, ask.thread_ts, top_level=ask.top_level, text=text
            )
            if ask.use_history
            else Conversation(thread_key(ask.channel, ask.thread_ts))
        )
        # One answer at a time per conversation: a reply typed while the previous answer is still
        # streaming waits for it, so that it reads the exchange it follows (attacker finding).
        lock = self._conversations.setdefault((person.team_id, conversation.key), asyncio.Lock())
        async with lock:
            return await self._in_conversation(ask, reply, credentials, prefs, conversation)

    async def _in_conversation(self, ask: Ask, reply: Reply, credentials, prefs, conversation):
        person = ask.person
        text = ask.text.strip()
        key = conversation.key
        history = await self.memory.history(person, key) if ask.use_history else []
        if ask.use_history and not history and hasattr(reply, "new_thread"):
            await reply.new_thread(text)
        history = cap_history(history, history_budget(prefs.mode))  # oldest turns go first
        await catalog_ready()  # never on the loop: it may wait for litellm's import
        plan = self.plan(prefs, text, history, credentials, self.cooldowns.active(person))
        if not plan.candidates:
            await reply.post(nothing_left_text([], plan.excluded))
            return None
        await reply.status("is thinking…")
        title, details = model_choice(plan.profile.task, plan.candidates[0].model.litellm_name, plan.mode)
        await reply.step(title, details=details)
        messages = await self._messages(plan, history, text)
        try:  # recorded so that a crash or a refusing Slack cannot lose the answer (answers_in_flight.py)
            reply.tracker = await self.runtime.answers.begin(
                person, text, ask.channel, ask.thread_ts, ask.surface
            )
        except Exception:
            log.exception("could not record an answer in flight; answering anyway")
        try:
            return await self._answer(ask, reply, conversation, plan, messages, credentials)
        finally:
            if getattr(reply, "tracker", None) is not None and reply.tracker.delivery_id:
                self.runtime.answers.delivered(reply.tracker.delivery_id)  # kept if Slack refused it

    async def _answer(self, ask: Ask, reply: Reply, conversation, plan, messages, credentials) -> CallResult:
        person, key = ask.person, conversation.key
        by_provider = {c.provider: c for c in credentials}
        guarded = MentionSafeReply(reply)  # a model's text never pings a channel or a person
        trying: list = []

        # A timer, not a task per answer: most answers speak long before it would fire.
        saying: list[asyncio.Task] = []  # the note, once the timer fired
        watch = (
            asyncio.get_running_loop().call_later(
                self.runtime.settings.long_wait, self._say_when_slow, guarded, trying, saying
            )
            if hasattr(reply, "waiting")
            else None
        )
        try:
            # With a connected service, the model may read it through tools (bot/llm/tools.py).
            tools = await self.tools.offer(person, ask.text.strip())
            result = (
                await self.tools.run(
                    plan, by_provider, messages, tools, person=person, reply=guarded,
                    on_auth_failure=lambda credential: self._key_failed(person, credential),
                )
                if tools
                else None
            )
            if result is None:
                result = await self.caller.run(
                    plan,
                    by_provider,
                    messages,
                    person=person,
                    on_text=guarded.append,
                    on_auth_failure=lambda credential: self._key_failed(person, credential),
                    stream=getattr(reply, "streams", True),
                    on_try=trying.append,
                    on_failover=lambda attempt, following: reply.step(failover(attempt, following), "error"),
                )
            await guarded.flush()
        finally:
            if watch is not None:
                watch.cancel()
            for task in saying:  # a note still being said is not said after the answer
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        record_id = self.usage.new_id()
        if not result.answered:
            await reply.post(nothing_left_text(result.failures, plan.excluded))
            self._store(ask, key, record_id, plan, result, baseline=0.0)
            return result
        baseline = baseline_cost(  # at the moment the answer was priced: the saving compares like with like
            result.prompt_tokens,
            result.completion_tokens,
            at=result.priced_at or utcnow(),
            cached=result.cached_tokens,
            cache_write=result.cache_write_tokens,
        )
        # A failover already shown as a step in the stream is not repeated under the answer.
        switched = [] if getattr(reply, "steps_shown", False) else switch_notes(result.attempts, result.model.litellm_name)
        footer = footer_blocks(
            record_id,
            model=result.model.litellm_name,
            cost=result.cost_usd,
            saving=max(0.0, baseline - result.cost_usd),
            notes=[*switched, *([conversation.note] if conversation.note else []), *ask.notes],
            cut_off=result.cut_off,
            share=ask.surface == "command",
        )
        # Queued before the footer's buttons appear; their handlers flush the queue before reading,
        # so "Share" or "Why?" can never find nothing.
        self._store(ask, key, record_id, plan, result, baseline)
        await reply.finish(footer, neutralise_mentions(result.text))  # always: a stream is never left open
        return result

    def _say_when_slow(self, reply: MentionSafeReply, trying: list, saying: list) -> None:
        """After `long_wait` seconds of silence, tell the person which provider Atom waits for."""
        if reply.spoken or not trying:
            return
        model = trying[-1]
        label = CATALOG[model.provider].label if model.provider in CATALOG else model.provider

        async def say() -> None:
            try:
                await reply.waiting(label)
            except Exception:  # a courtesy note must not disturb the answer
                log.exception("could not say whom Atom is waiting for")

        saying.append(asyncio.get_running_loop().create_task(say()))

    def _background(self, work) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _store(self, ask: Ask, key: str, record_id: str, plan, result: CallResult, baseline: float) -> None:
        """Memory and usage, queued together and written in a batch moments later (bot/pending.py).
        A storage failure costs the record, never the answer already given."""
        try:
            answer_id = (
                self.memory.remember(ask.person, key, ask.text.strip(), result.text)
                if result.answered
                else None
            )
            self._record(ask, record_id, plan, result, answer_id, baseline)
        except Exception:
            log.exception("could not store an answer's memory or usage record")

    @staticmethod
    def plan(
        prefs: Preferences,
        text: str,
        history: list[dict],
        credentials: list[Credential],
        cooling: dict[str, str],
    ) -> routing.RoutePlan:
        """Pure: the task, then the person's models in the order to try them."""
        # A bare follow-up ("and in Go?") keeps the task of the exchange it continues.
        previous = previous_profile(history_questions(history)) if history else None
        profile = classify(text, history_chars=sum(len(m["content"]) for m in history), previous=previous)
        azure = next((c for c in credentials if c.provider == "azure"), None)
        available = available_models(
            [c.provider for c in credentials],
            dict(azure.settings.get("deployments") or {}) if azure else None,
        )
        return routing.plan(profile, available, prefs.mode, prefs.overrides, cooling, now=utcnow())

    async def _messages(self, plan: routing.RoutePlan, history: list[dict], text: str) -> list[dict]:
        litellm = await litellm_async()
        model = plan.candidates[0].model
        budget = model.context_window - plan.expected_output_tokens
        return fit(
            {"role": "system", "content": SYSTEM_PROMPT},
            history,
            {"role": "user", "content": text},
            model=model.litellm_name,
            budget_tokens=max(budget, 1_000),
            count=litellm_counter(litellm),
        )

    async def _key_failed(self, person: Person, credential: Credential) -> None:
        label = credential.catalog.label
        await self.vault.record_failure(
            person, credential.provider, credential.scope, f"{label} rejected the key during an answer."
        )

    def _record(
        self, ask: Ask, record_id: str, plan, result: CallResult, answer_id, baseline: float = 0.0
    ) -> None:
        model = result.model
        self.usage.record(
            ask.person,
            record_id,
            surface=ask.surface,
            task=plan.profile.task,
            provider=model.provider if model else "",
            model=model.litellm_name if model else "",
            key_scope=result.credential.scope if result.credential else "",
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            cost_usd=result.cost_usd,
            baseline_cost_usd=baseline,
            latency_ms=int(result.latency_s * 1000),
            first_token_ms=int(result.first_token_s * 1000) if result.first_token_s is not None else None,
            failovers=len(result.failures),
            outcome="failed" if model is None else ("cut_off" if result.cut_off else "ok"),
            explanation=plan.explain,  # written with the record, after the answer
            answer_turn_id=answer_id,
        )
