"""`ConnectorService` (runtime.connectors): run any action for a person, with no Slack request.

`run_action` reads as the story of one action: find it, check the parameters, check the person's
connection and its scopes, get a fresh token (refreshed once for concurrent callers), run it with
a timeout, honour one Retry-After, cut what is too long, and turn every failure into one clear
sentence (`ok=False`) — it never raises for a service's error. A connection the provider refuses
is marked broken and the person gets a DM with a Reconnect button, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import pydantic
from cachetools import TTLCache
from prometheus_client import CollectorRegistry, Counter

from bot.connectors.accounts import ProviderAccounts
from bot.connectors.base import ActionContext, ActionResult, Connector, ConnectorError, truncate
from bot.connectors.oauth import OAuthFlow
from bot.connectors.registry import Registry
from bot.connectors.tokens import ConnectionBroken, TokenKeeper
from bot.identity import Person
from bot.readcache import ReadCache
from bot.storage.repositories.connections import Connections

log = logging.getLogger(__name__)

ACTION_TIMEOUT = 20.0
MAX_RETRY_AFTER = 30.0
TIMEZONE_TTL = 3600.0  # a person's Slack timezone, read once an hour at most  # longer waits are not worth holding an answer for: say so instead


@dataclass(frozen=True)
class ConnectorState:
    """What the Home tab shows for one connector of one person."""

    connector: Connector
    status: str  # connected | not_connected | broken | needs_permission
    account: str = ""
    scopes: frozenset[str] = frozenset()
    since: datetime | None = None
    detail: str = ""


def error_text(connector: Connector, error: ConnectorError, timeout: float) -> str:
    """One sentence a person can act on; never the service's own response text."""
    label, name = connector.label, connector.name
    detail = f": {error.detail}" if error.detail else ""
    match error.kind:
        case "unauthorized":
            return f"{label} no longer accepts Atom's access. Reconnect it with `/atom connect {name}`."
        case "forbidden":
            return (
                f"{label} refused{detail or ': Atom is missing a permission for this'}. "
                f"If you did not allow it, connect again with `/atom connect {name}` and allow it."
            )
        case "missing_scope":
            return (
                f"You have not allowed Atom to use {label} for this: connect it again with "
                f"`/atom connect {name}` and allow what it asks for."
            )
        case "not_found":
            return f"{label} could not find that{detail or ' item'}."
        case "rate_limited":
            wait = f" in {error.retry_after:.0f} seconds" if error.retry_after else " in a minute"
            return f"{label} is limiting how often Atom may call it. Try again{wait}."
        case "server":
            return f"{label} had a server error{f' ({error.status})' if error.status else ''}. Try again in a few minutes."
        case "timeout":
            return f"{label} did not answer within {timeout:.0f} seconds. Try again later."
        case "unreachable":
            return f"Atom could not reach {label}. Try again later."
        case "too_large":
            return f"That is too large for Atom to read{detail}."
        case _:
            return f"{label} could not do that{detail}."


def params_error(exc: pydantic.ValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ())) or "the request"
    message = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"That request is not valid: {where} — {message}."


class ConnectorService:
    def __init__(self, settings, sessions, crypto, slack_for: Callable[[Person], Awaitable], http_getter,
                 registry=None):
        self.settings = settings
        # /metrics: every action run, by outcome (ok, or the error kind); never parameters or results.
        self.calls = Counter(
            "atom_connector_calls", "Connector actions run, by action and outcome", ["action", "outcome"],
            registry=registry if registry is not None else CollectorRegistry(),
        )
        self.registry = Registry(settings)
        # Every answer asks which services a person has (to offer tools): rows come from a read
        # cache that every write through this process clears (bot/readcache.py).
        self._rows: ReadCache = ReadCache()
        self.connections = Connections(sessions, on_change=self._rows.clear)
        self._timezones: TTLCache = TTLCache(maxsize=10_000, ttl=TIMEZONE_TTL)
        self.accounts = ProviderAccounts(settings, http_getter)
        self.tokens = TokenKeeper(self.connections, crypto, self.accounts, cached=self._cached_row)
        self.slack_for = slack_for
        self.http = http_getter
        self.timeout = ACTION_TIMEOUT
        self.sleep = asyncio.sleep  # the Retry-After wait; tests record it instead of timing it
        # Told when a connection breaks (the Slack side DMs a Reconnect button); set by the handlers.
        self.on_broken: Callable[[Person, Connector, str], Awaitable[None]] | None = None
        # Told after a connection completes (the Slack side refreshes the Home tab).
        self.on_connected: Callable[[Person, Connector], Awaitable[None]] | None = None
        self.oauth = OAuthFlow(settings, sessions, crypto, self.registry, self.tokens)
        from bot.connectors.approvals import ApprovalDesk  # it runs actions through this service

        self.approvals = ApprovalDesk(self, sessions, crypto)

    # ------------------------------------------------------------------ what a person has

    async def _rows_of(self, person: Person):
        key = (person.enterprise_id, person.team_id, person.user_id)
        return await self._rows.get(key, lambda: self.connections.for_person(person))

    async def _cached_row(self, person: Person, provider: str):
        return (await self._rows_of(person)).get(provider)

    async def connected(self, person: Person) -> set[str]:
        """Connector names this person can use right now."""
        rows = await self._rows_of(person)
        usable = set()
        for connector in self.registry.connectors():
            if connector.provider is None:
                usable.add(connector.name)
                continue
            row = rows.get(connector.provider)
            if row is not None and row.status == "ok" and set(connector.scopes) & row.scopes:
                usable.add(connector.name)
        return usable

    async def states(self, person: Person) -> list[ConnectorState]:
        rows = await self._rows_of(person)
        out = []
        for connector in self.registry.connectors():
            if connector.provider is None:
                out.append(ConnectorState(connector, "connected", account="Atom's Slack app"))
                continue
            row = rows.get(connector.provider)
            if row is None:
                out.append(ConnectorState(connector, "not_connected"))
                continue
            granted = frozenset(s for s in connector.scopes if s in row.scopes)
            status = "broken" if row.status != "ok" else ("connected" if granted else "needs_permission")
            out.append(ConnectorState(connector, status, row.account, granted, row.connected_at, row.status_detail))
        return out

    # ------------------------------------------------------------------ running an action

    async def run_action(self, person: Person, action_id: str, params: dict) -> ActionResult:
        action = self.registry.action(action_id)
        if action is None:
            return ActionResult(ok=False, error=f"Atom has no action called “{str(action_id)[:60]}” here.")
        connector = self.registry.connector(action.connector)
        try:
            parsed = action.Params.model_validate(params or {})
        except pydantic.ValidationError as exc:
            return ActionResult(ok=False, error=params_error(exc))
        try:
            result = await self._run(person, connector, action, parsed)
        except ConnectionBroken as exc:
            self.calls.labels(action.id, "not_connected" if exc.row is None else "broken").inc()
            return await self._broken(person, connector, exc)
        except ConnectorError as exc:
            self.calls.labels(action.id, exc.kind).inc()
            return ActionResult(ok=False, error=error_text(connector, exc, self.timeout))
        except Exception as exc:  # a bug here must not take the answer or the workflow down with it
            log.error("connector action %s failed: %s", action.id, type(exc).__name__)
            self.calls.labels(action.id, "error").inc()
            return ActionResult(ok=False, error=f"Atom hit an unexpected problem using {connector.label}. Try again later.")
        self.calls.labels(action.id, "ok").inc()
        text, cut = truncate(result.text, action.max_chars)
        return result.model_copy(update={"text": text, "truncated": result.truncated or cut})

    async def _run(self, person: Person, connector: Connector, action, parsed) -> ActionResult:
        token, row = None, None
        if connector.provider is not None:
            row, token = await self.tokens.access(person, connector.provider)
            missing = [s for s in action.scopes if s not in row.scopes]
            if missing:
                raise ConnectorError("missing_scope")
        ctx = ActionContext(
            person=person, token=token, settings=self.settings, http=self.http(),
            slack=await self.slack_for(person), timeout=self.timeout, timezones=self._timezones,
        )
        for attempt in (1, 2):
            try:
                async with asyncio.timeout(self.timeout + 5):
                    return await action.run(ctx, parsed)
            except TimeoutError:
                raise ConnectorError("timeout") from None
            except ConnectorError as exc:
                if exc.kind == "rate_limited" and attempt == 1 and (exc.retry_after or 1.0) <= MAX_RETRY_AFTER:
                    await self.sleep(exc.retry_after or 1.0)
                    continue
                if exc.kind == "unauthorized" and row is not None:
                    if attempt == 1:
                        # Expired early, or refreshed elsewhere: one refresh (shared), one retry.
                        row, ctx.token = await self.tokens.access(person, connector.provider, rejected=ctx.token)
                        continue
                    raise await self.tokens.broken(row, f"{connector.label} refused Atom's access token") from None
                raise
        raise AssertionError("unreachable")

    async def _broken(self, person: Person, connector: Connector, exc: ConnectionBroken) -> ActionResult:
        if exc.row is None:
            return ActionResult(
                ok=False,
                error=f"You have not connected {connector.label} yet: use `/atom connect {connector.name}` "
                "or the Connections section of Atom's Home tab.",
            )
        if exc.newly and self.on_broken is not None:
            try:
                await self.on_broken(person, connector, exc.reason)
            except Exception as notify_error:  # telling is best effort; the answer still says it
                log.warning("could not tell a person their connection broke: %s", type(notify_error).__name__)
        return ActionResult(
            ok=False,
            error=f"Your {connector.label} connection needs reconnecting ({exc.reason}): "
            f"use `/atom connect {connector.name}`.",
        )
