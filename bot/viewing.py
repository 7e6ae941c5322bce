"""What a person is looking at in Slack, and reading it for them when they ask about it.

Under Slack's agent messaging (`agent_view`), Slack sends `app_context_changed` with the
entities the person is viewing, most relevant first: a channel, a message (its thread), a canvas,
a list. "Summarize this" or "what did I miss here?" then means that channel or thread. Atom reads
it with its own token, and only when it is a member there *and* the person is too; anything else
gets one clear sentence instead of a guess. A context is only a claim about what someone views:
membership is always checked against Slack before anything is read.

What a person views changes every few seconds and matters only now, so it is kept in memory
(`ViewMemory`, bounded), not in the database.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import OrderedDict
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.delivery import TRANSIENT_ERRORS, DeliveryPolicy, classify, retrying_sibling, wait_before_retry
from bot.identity import Person

CHANNEL = "slack#/types/channel_id"
MESSAGE = "slack#/types/message_context"
CANVAS = "slack#/types/canvas_id"
LIST = "slack#/types/list_id"
MAX_PEOPLE = 10_000
CHANNEL_MESSAGES = 50
THREAD_MESSAGES = 200
MEMBER_PAGES = 20  # 20 pages of 1,000 members: the person is found long before in real channels
MAX_TRANSCRIPT_CHARS = 30_000  # room for the instruction and question under the 40,000 a question may hold

NOTHING_VIEWED = (
    "I can't tell what you're looking at: Slack didn't say which channel or thread it is. Open the "
    "channel or thread you mean and ask me again from there, mention @Atom in that thread, or paste "
    "the text here."
)
NOT_READABLE = "I can't read canvases or lists yet. Open a channel or a thread and ask me again."
CANNOT_SEE = (
    "I can't see that conversation: it's private or a DM, and I'm not in it. Add me there with "
    "`/invite @Atom` and ask again."
)
# Verbs of catching up, and words that point at the place the person is in.
_ABOUT = re.compile(
    r"\b(summari[sz]e|summary|recap|tl;?dr|catch me up|what did i miss|what have i missed|"
    r"what'?s (going on|happening|new)|what is (going on|happening)|key points|decisions)\b"
)
_OWN_MATERIAL = re.compile(r":\s*\S.{20,}")
_POINTING = re.compile(r"\b(this|here|these)\b|^\W*(summari[sz]e|recap|tl;?dr|catch me up)\W*$")
# What Slack's ids and message timestamps look like; anything else in an entity is unusable.
SLACK_ID = re.compile(r"[A-Z][A-Z0-9]{1,31}")
MESSAGE_TS = re.compile(r"\d{1,12}\.\d{1,9}")


def _slack_id(value) -> str | None:
    return value if isinstance(value, str) and SLACK_ID.fullmatch(value) else None


def _ts(value) -> str | None:
    return value if isinstance(value, str) and MESSAGE_TS.fullmatch(value) else None


@dataclass(frozen=True)
class Viewed:
    kind: str  # channel | thread | canvas | list
    channel_id: str = ""
    message_ts: str = ""
    object_id: str = ""  # a canvas or list id


@dataclass(frozen=True)
class Reading:
    place: str  # "#launch", "a thread in #launch"
    lines: list[str]
    kind: str  # channel | thread

    @property
    def note(self) -> str:
        what = "recent messages" if self.kind == "channel" else "messages"
        return f"Context: {self.place}, {len(self.lines)} {what} (read with Atom's access, which you share)"


@dataclass(frozen=True)
class Refusal:
    text: str


@dataclass(frozen=True)
class Membership:
    """Who is in a channel, as far as a read or a post needs: Atom, and the person asking."""

    name: str  # "#general", or "<#C…>" when Slack gives no name
    atom: bool
    person: bool


def parse_context(context) -> list[Viewed]:
    """`app_context_changed`'s `context` → what is viewed, most relevant first. Unknown kinds and
    malformed entities (a value of the wrong shape, an id or ts that is not Slack's) are skipped."""
    entities = context.get("entities") if isinstance(context, dict) else None
    viewed: list[Viewed] = []
    for entity in entities if isinstance(entities, list) else []:
        if not isinstance(entity, dict):
            continue
        kind, value = entity.get("type"), entity.get("value")
        if kind == CHANNEL and _slack_id(value):
            viewed.append(Viewed("channel", channel_id=value))
        elif kind == MESSAGE and isinstance(value, dict):
            channel, ts = _slack_id(value.get("channel_id")), _ts(value.get("message_ts"))
            if channel and ts:
                viewed.append(Viewed("thread", channel_id=channel, message_ts=ts))
        elif kind in (CANVAS, LIST) and _slack_id(value):
            viewed.append(Viewed("canvas" if kind == CANVAS else "list", object_id=value))
    return viewed


def refers_to_view(text: str) -> bool:
    """"summarize this", "what did I miss here?", "tl;dr": a question about the place being viewed."""
    normal = " ".join(text.lower().replace("’", "'").split())
    if len(normal) > 200 or "\n" in text.strip() or _OWN_MATERIAL.search(normal):
        return False  # "summarize this: <pasted text>" carries its own material
    return bool(_ABOUT.search(normal) and (_POINTING.search(normal) or "what did i miss" in normal))


class ViewMemory:
    """The latest context per person, in this process only (see the module docstring)."""

    def __init__(self, limit: int = MAX_PEOPLE):
        self._limit = limit
        self._views: OrderedDict[Person, list[Viewed]] = OrderedDict()

    def set(self, person: Person, viewed: list[Viewed]) -> None:
        self._views.pop(person, None)
        self._views[person] = viewed
        while len(self._views) > self._limit:
            self._views.popitem(last=False)

    def get(self, person: Person) -> list[Viewed] | None:
        """What the person's latest context held; [] when it held nothing usable, None when
        Slack has sent none for them (in this process)."""
        return self._views.get(person)


class SlackUnanswered(Exception):
    """A read Slack did not answer (5xx, timeout, no connection, or rate-limited past what Atom
    waits). `retry_after`: the seconds Slack asked for, when it rate-limited."""

    def __init__(self, method: str, kind: str, retry_after: float | None = None):
        super().__init__(f"{method}: {kind}")
        self.method, self.kind, self.retry_after = method, kind, retry_after
        self.place: str | None = None  # the channel's name, once known


class _Refused(Exception):
    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


def unanswered_text(exc: SlackUnanswered, place: str) -> str:
    """One sentence for the person: Slack's fault, and when to try again."""
    if exc.kind == "rate_limited":
        seconds = math.ceil(exc.retry_after) if exc.retry_after else 60
        return (
            f"Slack is rate-limiting reads of {place} right now. "
            f"Please try again in {seconds} second{'s' if seconds != 1 else ''}."
        )
    return f"Slack did not answer when I tried to read {place}. Please try again in a minute."


def checking_text(exc: SlackUnanswered, channel: str, name: str | None = None) -> str:
    """A membership check Slack did not answer: never blamed on membership."""
    place = name or exc.place or f"<#{channel}>"
    if exc.kind == "rate_limited":
        return unanswered_text(exc, place)
    if exc.kind == "refused":
        return f"Slack would not tell me who is in {place}, so I won't read it. Please try again in a minute."
    return f"Slack did not answer when I checked who is in {place}. Please try again in a minute."


class ViewReader:
    """Reads a viewed channel or thread through the Slack Web API with Atom's own token.

    Reads go through a client without slack_sdk's retry handlers (bot/delivery.py): a Retry-After
    is honoured only up to `policy.max_wait`; a longer one is reported to the person at once."""

    def __init__(self, client, policy: DeliveryPolicy | None = None, *, sleep=asyncio.sleep):
        self.policy = policy or DeliveryPolicy()
        self.client = retrying_sibling(client, self.policy.timeout)
        self._sleep = sleep

    async def _call(self, method: str, **params) -> dict:
        """One read, retried while Slack only asks for patience Atom can afford."""
        tries = self.policy.attempts
        for attempt in range(1, tries + 1):
            try:
                async with asyncio.timeout(self.policy.timeout):
                    response = await self.client.api_call(method, http_verb="GET", params=params)
                return response.data if isinstance(response.data, dict) else {}
            except (SlackApiError, TimeoutError, aiohttp.ClientError) as exc:
                kind, error, _ambiguous, retry_after = classify(exc)
            if kind == "refused" and error not in TRANSIENT_ERRORS:
                raise _Refused(error)
            if kind == "refused":
                kind = "rate_limited" if error == "ratelimited" else "server_error"
            too_long = kind == "rate_limited" and retry_after is not None and retry_after > self.policy.max_wait
            if too_long or attempt == tries:
                raise SlackUnanswered(method, kind, retry_after)
            await self._sleep(wait_before_retry(attempt, retry_after, self.policy))
        raise AssertionError("unreachable")  # pragma: no cover

    async def read(self, person: Person, viewed: Viewed) -> Reading | Refusal:
        if viewed.kind not in ("channel", "thread"):
            return Refusal(NOT_READABLE)
        channel = viewed.channel_id
        try:
            seen = await self.membership(person, channel)
        except SlackUnanswered as exc:
            return Refusal(checking_text(exc, channel))
        if seen is None:
            return Refusal(CANNOT_SEE)
        name = seen.name
        if not seen.atom:
            return Refusal(
                f"I'm not a member of {name}, so I can't read it. Add me there with `/invite @Atom` "
                "and ask again."
            )
        if not seen.person:
            return Refusal(f"You're not a member of {name}, so I won't read it for you.")
        try:
            if viewed.kind == "thread":
                response = await self._call(
                    "conversations.replies", channel=channel, ts=viewed.message_ts, limit=THREAD_MESSAGES
                )
                messages = list(response.get("messages") or [])
            else:
                response = await self._call("conversations.history", channel=channel, limit=CHANNEL_MESSAGES)
                messages = list(reversed(response.get("messages") or []))  # oldest first
        except SlackUnanswered as exc:
            return Refusal(unanswered_text(exc, name))
        except _Refused:
            return Refusal(f"Slack would not let me read {name} just now. Please try again in a minute.")
        lines = [_line(m) for m in messages if m.get("text") and m.get("subtype") in (None, "thread_broadcast", "bot_message")]
        place = name if viewed.kind == "channel" else f"a thread in {name}"
        return Reading(place, _newest_within(lines, MAX_TRANSCRIPT_CHARS), viewed.kind)

    async def membership(self, person: Person, channel: str) -> Membership | None:
        """Whether Atom and the person are in `channel`; None when Atom cannot see it at all.
        Raises SlackUnanswered when Slack did not answer (its `place` names the channel when
        known). Also what a workflow checks before posting in a channel (bot/workflows/delivery.py)."""
        if not SLACK_ID.fullmatch(channel or ""):
            return None
        try:
            info = (await self._call("conversations.info", channel=channel)).get("channel") or {}
        except _Refused:
            return None  # channel_not_found and the like: Slack answered, and Atom cannot see it
        name = f"#{info['name']}" if info.get("name") else f"<#{channel}>"
        if not info.get("is_member"):
            return Membership(name, atom=False, person=False)  # the member list is not asked for
        try:
            person_in = await self._is_member(channel, person.user_id)
        except SlackUnanswered as exc:
            exc.place = exc.place or name
            raise
        return Membership(name, atom=True, person=person_in)

    async def _is_member(self, channel: str, user_id: str) -> bool:
        cursor = None
        for _ in range(MEMBER_PAGES):
            params = {"channel": channel, "limit": 1000}
            if cursor:
                params["cursor"] = cursor
            try:
                response = await self._call("conversations.members", **params)
            except _Refused as exc:  # cannot confirm: refuse, saying why (never "not a member")
                raise SlackUnanswered("conversations.members", "refused") from exc
            if user_id in (response.get("members") or []):
                return True
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return False
        return False


def question_about(reading: Reading, asked: str) -> str:
    """The question sent to the model: the conversation read, then what the person asked."""
    what = "channel's recent messages" if reading.kind == "channel" else "thread"
    return (
        f"The person is looking at {reading.place} in Slack. Here is that {what}, oldest first, "
        "one message per line:\n\n"
        + "\n".join(reading.lines)
        + f"\n\nAnswer their request about it (name people as they appear): {asked}"
    )


def _line(message: dict) -> str:
    who = message.get("user") or message.get("bot_id") or "someone"
    return f"<@{who}>: {' '.join(str(message.get('text')).split())}"


def _newest_within(lines: list[str], limit: int) -> list[str]:
    kept, used = [], 0
    for line in reversed(lines):
        used += len(line) + 1
        if used > limit:
            break
        kept.append(line)
    return list(reversed(kept))
