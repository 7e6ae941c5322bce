"""Atom's own conversation memory per Slack thread, encrypted at rest, kept for a limited time.

Slack's history methods are heavily rate-limited for apps outside the Marketplace, so Atom keeps
what was said to it. A thread's memory holds the people's questions and Atom's answers; `/atom
forget` deletes what a person said and what Atom answered them.

Which memory a message belongs to (`conversation`): a reply in a thread continues that thread's
conversation (in a DM, the agent or Assistant conversation, or a channel). A new top-level DM
starts a new one — Slack's agent messaging model — unless it only makes sense as a follow-up
("make it shorter") and comes within ten minutes of Atom's last answer there
(bot/followups.py); then it continues that conversation, and replies in its own thread do too
(a `ConversationLink`). What is sent to a model is capped per routing mode (`cap_history`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.followups import FOLLOW_UP_WINDOW, is_follow_up_only
from bot.identity import Person
from bot.pending import PendingWrites
from bot.storage.encryption import Crypto, UndecryptableSecret
from bot.storage.models import new_id, utcnow
from bot.storage.repositories import Turns
from bot.storage.repositories.links import ConversationLinks

DEFAULT_RETENTION_DAYS = 30
LAST_ANSWERS_KEPT = 10_000  # (person, DM) pairs whose last answer is known without a query
# Estimated tokens of earlier turns sent with a question, per routing mode (README, "Memory").
HISTORY_BUDGETS = {"save": 2_000, "balanced": 6_000, "best": 16_000}
CONTINUED_NOTE = "Continued your previous conversation: this looked like a follow-up to my last answer."
NEW_NOTE = "New conversation. To continue the previous one, reply in its thread."


def thread_key(channel: str, thread_ts: str | None) -> str:
    return f"{channel}:{thread_ts or 'top'}"


@dataclass(frozen=True)
class Conversation:
    key: str  # the memory the message reads and adds to
    continued: bool = False  # a top-level follow-up that continues an earlier conversation
    recent: bool = False  # a top-level message sent soon after an answer, started afresh

    @property
    def note(self) -> str | None:
        """What the answer's footer says about it, when a person could wonder."""
        if self.continued:
            return CONTINUED_NOTE
        return NEW_NOTE if self.recent else None


def estimate_tokens(message: dict[str, str]) -> int:
    """A cheap upper-leaning estimate (about 4 bytes a token, plus framing): no tokenizer needed."""
    return len(message["content"].encode()) // 4 + 4


def history_budget(mode: str) -> int:
    return HISTORY_BUDGETS.get(mode, HISTORY_BUDGETS["balanced"])  # a pinned model: balanced


def cap_history(history: list[dict[str, str]], budget_tokens: int) -> list[dict[str, str]]:
    """The newest turns whose estimate fits `budget_tokens`; oldest dropped first, and never an
    answer without the question it answered. The new question is not part of this: it is always
    sent whole."""
    kept: list[dict[str, str]] = []
    used = 0
    for turn in reversed(history):
        used += estimate_tokens(turn)
        if used > budget_tokens:
            break
        kept.append(turn)
    kept.reverse()
    while kept and kept[0]["role"] == "assistant":
        kept.pop(0)
    return kept


class ConversationMemory:
    def __init__(
        self,
        sessions,
        crypto: Crypto,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        pending: PendingWrites | None = None,
        clock: Callable[[], datetime] = utcnow,
    ):
        self._turns = Turns(sessions)
        self._links = ConversationLinks(sessions)
        self.clock = clock  # injectable: tests move time instead of sleeping
        # Where and when each person's last answer in a conversation was given, so a top-level DM
        # needs no query (and no early flush of the pending writes) to know whether it came soon
        # after one; after a restart the database answers, and only for a bare follow-up.
        self._last_answers: OrderedDict[tuple[Person, str], tuple[str, datetime]] = OrderedDict()
        self._crypto = crypto
        self.retention = timedelta(days=retention_days)
        # New turns are written in batches; every read below flushes first (see bot/pending.py).
        self.pending = pending or PendingWrites(sessions, crypto)

    async def history(self, person: Person, key: str, limit: int = 60) -> list[dict[str, str]]:
        await self.pending.flush()
        messages = []
        for turn in await self._turns.thread(person.enterprise_id, person.team_id, key, limit):
            try:
                messages.append({"role": turn.role, "content": self._crypto.decrypt(turn.content)})
            except UndecryptableSecret:
                continue  # a lost turn shortens the memory; it must not stop the answer
        return messages

    async def conversation(
        self, person: Person, channel: str, thread_ts: str | None, *, top_level: bool = False, text: str = ""
    ) -> Conversation:
        """The conversation a message belongs to. `top_level`: a new top-level DM (its answer goes
        in its own thread `thread_ts`), which may continue the last conversation as a follow-up."""
        key = thread_key(channel, thread_ts)
        if not top_level:
            return Conversation(await self._links.target(person.enterprise_id, person.team_id, key) or key)
        follow_up = is_follow_up_only(text)
        last = self._last_answers.get((person, channel))
        if last is None and follow_up:
            await self.pending.flush()
            last = await self._links.last_answer(
                person.enterprise_id, person.team_id, person.user_id, f"{channel}:"
            )
        now = self.clock()
        recent = last is not None and now - last[1] <= FOLLOW_UP_WINDOW
        if recent and follow_up:
            await self._links.link(
                person.enterprise_id, person.team_id, person.user_id, key, last[0], now
            )
            return Conversation(last[0], continued=True)
        return Conversation(key, recent=recent)

    def remember(self, person: Person, key: str, question: str, answer: str) -> str:
        """Queue one exchange for storing (encrypted when written); returns the id of the answer's turn."""
        now = self.clock()
        answer_id = new_id()
        where = (person, key.split(":", 1)[0])
        self._last_answers.pop(where, None)
        self._last_answers[where] = (key, now)
        while len(self._last_answers) > LAST_ANSWERS_KEPT:
            self._last_answers.popitem(last=False)
        common = {
            "enterprise_id": person.enterprise_id,
            "team_id": person.team_id,
            "user_id": person.user_id,
            "thread_key": key,
        }
        self.pending.add(
            turns=[
                {
                    **common,
                    "id": new_id(),
                    "role": "user",
                    "content": question,
                    "created_at": now,
                },
                {
                    **common,
                    "id": answer_id,
                    "role": "assistant",
                    "content": answer,
                    "created_at": now + timedelta(microseconds=1),
                },
            ]
        )
        return answer_id

    async def answer_for(self, person: Person, turn_id: str) -> str | None:
        """An answer's text, only for the person it was given to."""
        await self.pending.flush()
        turn = await self._turns.get(turn_id)
        if turn is None or (turn.enterprise_id, turn.team_id, turn.user_id) != (
            person.enterprise_id,
            person.team_id,
            person.user_id,
        ):
            return None
        try:
            return self._crypto.decrypt(turn.content)
        except UndecryptableSecret:
            return None

    async def everything_for(self, person: Person) -> list[dict]:
        """All of a person's stored turns, decrypted, oldest first (`/atom export`). A turn the
        current keys cannot decrypt is listed as such rather than silently missing."""
        await self.pending.flush()
        out = []
        for turn in await self._turns.for_user(person.enterprise_id, person.team_id, person.user_id):
            try:
                text = self._crypto.decrypt(turn.content)
            except UndecryptableSecret:
                text = None
            out.append({"conversation": turn.thread_key, "role": turn.role, "text": text, "at": turn.created_at})
        return out

    async def knows_thread(self, person: Person, key: str) -> bool:
        await self.pending.flush()
        return await self._turns.thread_known(person.enterprise_id, person.team_id, key)

    async def forget(self, person: Person) -> int:
        await self.pending.flush()  # a queued turn must not come back after the forgetting
        for where in [w for w in self._last_answers if w[0] == person]:
            del self._last_answers[where]
        await self._links.delete_for_user(person.enterprise_id, person.team_id, person.user_id)
        return await self._turns.delete_for_user(person.enterprise_id, person.team_id, person.user_id)

    async def purge_expired(self, now=None) -> int:
        await self.pending.flush()
        cutoff = (now or self.clock()) - self.retention
        await self._links.purge_older_than(cutoff)
        return await self._turns.purge_older_than(cutoff)
