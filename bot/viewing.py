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

import re
from collections import OrderedDict
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

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
    "I don't know what you're looking at right now. Open the channel or thread you mean, then ask "
    "me again from there — or paste the text here."
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


def parse_context(context: dict | None) -> list[Viewed]:
    """`app_context_changed`'s `context` → what is viewed, most relevant first (unknown kinds skipped)."""
    viewed: list[Viewed] = []
    for entity in (context or {}).get("entities") or []:
        if not isinstance(entity, dict):
            continue
        kind, value = entity.get("type"), entity.get("value")
        if kind == CHANNEL and isinstance(value, str) and value:
            viewed.append(Viewed("channel", channel_id=value))
        elif kind == MESSAGE and isinstance(value, dict) and value.get("channel_id") and value.get("message_ts"):
            viewed.append(Viewed("thread", channel_id=str(value["channel_id"]), message_ts=str(value["message_ts"])))
        elif kind in (CANVAS, LIST) and isinstance(value, str) and value:
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

    def get(self, person: Person) -> list[Viewed]:
        return self._views.get(person, [])


class ViewReader:
    """Reads a viewed channel or thread through the Slack Web API with Atom's own token."""

    def __init__(self, client):
        self.client = client

    async def read(self, person: Person, viewed: Viewed) -> Reading | Refusal:
        if viewed.kind not in ("channel", "thread"):
            return Refusal(NOT_READABLE)
        channel = viewed.channel_id
        seen = await self.membership(person, channel)
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
                response = await self.client.conversations_replies(
                    channel=channel, ts=viewed.message_ts, limit=THREAD_MESSAGES
                )
                messages = list(response.get("messages") or [])
            else:
                response = await self.client.conversations_history(channel=channel, limit=CHANNEL_MESSAGES)
                messages = list(reversed(response.get("messages") or []))  # oldest first
        except SlackApiError:
            return Refusal(f"Slack would not let me read {name} just now. Please try again in a minute.")
        lines = [_line(m) for m in messages if m.get("text") and m.get("subtype") in (None, "thread_broadcast", "bot_message")]
        place = name if viewed.kind == "channel" else f"a thread in {name}"
        return Reading(place, _newest_within(lines, MAX_TRANSCRIPT_CHARS), viewed.kind)

    async def membership(self, person: Person, channel: str) -> Membership | None:
        """Whether Atom and the person are in `channel`; None when Atom cannot see it at all.
        Also what a workflow checks before posting in a channel (bot/workflows/delivery.py)."""
        try:
            info = (await self.client.conversations_info(channel=channel)).get("channel") or {}
        except SlackApiError:
            return None
        name = f"#{info['name']}" if info.get("name") else f"<#{channel}>"
        if not info.get("is_member"):
            return Membership(name, atom=False, person=False)  # the member list is not asked for
        return Membership(name, atom=True, person=await self._is_member(channel, person.user_id))

    async def _is_member(self, channel: str, user_id: str) -> bool:
        cursor = None
        for _ in range(MEMBER_PAGES):
            try:
                response = await self.client.conversations_members(channel=channel, limit=1000, cursor=cursor)
            except SlackApiError:
                return False  # cannot confirm: refuse rather than read
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
