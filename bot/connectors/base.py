"""The one interface every connected service implements: connectors, their actions, results, errors.

An `Action` is what the Home tab lists, what chat offers a model as a tool and what a workflow
runs on a schedule: typed parameters (pydantic), a description good enough for a tool schema, the
least-privilege scopes it needs, a size limit on what it returns and a side-effect flag. It runs
with an `ActionContext` (the person, their access token, Atom's HTTP session and Slack client),
never with a Slack request, so a scheduled run needs nothing a click would give.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pydantic

from bot.identity import Person
from bot.storage.encryption import Secret

DEFAULT_MAX_CHARS = 8_000


class ActionResult(pydantic.BaseModel):
    ok: bool
    text: str = ""
    data: Any = None
    error: str | None = None
    truncated: bool = False


class ConnectorError(Exception):
    """A service said no. `kind`: unauthorized | forbidden | not_found | rate_limited | server |
    timeout | invalid | unreachable. `detail` is Atom's own words, never the service's response."""

    def __init__(self, kind: str, detail: str = "", *, status: int | None = None, retry_after: float | None = None):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail
        self.status = status
        self.retry_after = retry_after


@dataclass
class ActionContext:
    """What an action may use while it runs. The token is a `Secret`: revealed only at the call."""

    person: Person
    token: Secret | None
    settings: Any  # bot.config.Settings
    http: Any  # aiohttp.ClientSession
    slack: Any  # AsyncWebClient able to act in the person's workspace
    timeout: float = 20.0
    timezones: Any = field(default=None, repr=False)  # a shared cache: person → IANA zone

    async def timezone(self) -> str:
        """The person's Slack timezone (IANA name), UTC when Slack does not say."""
        key = (self.person.enterprise_id, self.person.team_id, self.person.user_id)
        cache = self.timezones if self.timezones is not None else {}
        if key in cache:
            return cache[key]
        try:
            info = await self.slack.users_info(user=self.person.user_id)
            zone = (info.get("user") or {}).get("tz") or "UTC"
        except Exception:  # a missing timezone is no reason to fail the action
            return "UTC"
        cache[key] = zone
        return zone


Runner = Callable[[ActionContext, Any], Awaitable[ActionResult]]


@dataclass(frozen=True)
class Action:
    id: str
    connector: str
    description: str
    Params: type[pydantic.BaseModel]
    side_effect: bool
    scopes: tuple[str, ...]
    run: Runner = field(repr=False)
    max_chars: int = DEFAULT_MAX_CHARS
    # What the person approves before a side effect runs: "Send an email to … — subject …".
    preview: Callable[[Any], str] | None = field(default=None, repr=False)
    status: str = ""  # shown while it runs in chat, e.g. "Reading your calendar…"
    tool: bool | None = None  # offered to models in chat; default: read actions only

    @property
    def offered_in_chat(self) -> bool:
        return (not self.side_effect) if self.tool is None else self.tool

    def describe(self, params: pydantic.BaseModel) -> str:
        return self.preview(params) if self.preview else f"{self.id} {params.model_dump_json()}"


@dataclass(frozen=True)
class Connector:
    name: str  # google_calendar | gmail | google_drive | asana | slack
    label: str  # "Google Calendar"
    provider: str | None  # whose OAuth: "google", "asana", or None (Atom's own Slack token)
    summary: str  # one line for the Home tab
    actions: tuple[Action, ...] = ()

    @property
    def scopes(self) -> tuple[str, ...]:
        """What connecting asks for: every scope its actions need, once each."""
        seen: dict[str, None] = {}
        for action in self.actions:
            for scope in action.scopes:
                seen.setdefault(scope, None)
        return tuple(seen)


def status_error(status: int, retry_after: str | None = None) -> ConnectorError:
    if status == 401:
        return ConnectorError("unauthorized", status=status)
    if status == 403:
        return ConnectorError("forbidden", status=status)
    if status == 404:
        return ConnectorError("not_found", status=status)
    if status == 429:
        try:
            wait = float(retry_after) if retry_after else None
        except ValueError:
            wait = None
        return ConnectorError("rate_limited", status=status, retry_after=wait)
    if status == 413:
        return ConnectorError("too_large", status=status)
    if status >= 500:
        return ConnectorError("server", status=status)
    return ConnectorError("invalid", status=status)


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """Cut `text` to `limit` characters with a note saying so."""
    if len(text) <= limit:
        return text, False
    note = f"\n[… truncated: showing the first {limit:,} of {len(text):,} characters]"
    return text[: max(0, limit - len(note))] + note, True
