"""Connecting a service: the OAuth dance, from a click in Slack to tokens stored encrypted.

`begin` mints a state for the person who clicked (random, stored only as a hash, single-use,
ten minutes) with a PKCE verifier (encrypted) and returns Atom's own start link. `/start` binds
the state to the browser that opened it (a cookie) and redirects to the provider's consent.
`/callback` uses the state once, checks the browser, exchanges the code with the verifier and
stores the grant for the person the state was minted for — never for anyone the browser claims
to be. Every failure ends on a page saying what happened and what to do, and stores nothing.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from bot.connectors.base import Connector, ConnectorError
from bot.connectors.registry import Registry
from bot.connectors.tokens import TokenKeeper, unseal
from bot.identity import Person
from bot.storage.encryption import Crypto
from bot.storage.models import utcnow
from bot.storage.repositories.connections import OAuthStates

log = logging.getLogger(__name__)

STATE_LIFETIME = timedelta(minutes=10)
PROVIDERS = ("google", "asana")
LABELS = {"google": "Google", "asana": "Asana"}


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """What the browser gets: a redirect, or a page (title, message, HTTP status)."""

    redirect: str | None = None
    title: str = ""
    message: str = ""
    status: int = 200
    person: Person | None = None
    connector: Connector | None = None

    @property
    def ok(self) -> bool:
        return self.redirect is not None or self.status == 200


def page(title: str, message: str, status: int = 400) -> Outcome:
    return Outcome(title=title, message=message, status=status)


AGAIN = "Go back to Slack and click Connect again (in Atom's Home tab, or `/atom connect {name}`)."


class OAuthFlow:
    def __init__(self, settings, sessions, crypto: Crypto, registry: Registry, tokens: TokenKeeper):
        self.settings = settings
        self.states = OAuthStates(sessions)
        self.crypto = crypto
        self.registry = registry
        self.tokens = tokens
        self.accounts = tokens.accounts

    async def begin(self, person: Person, connector: Connector) -> str:
        """Atom's start link for this person and connector (valid ten minutes, once)."""
        provider = connector.provider
        existing = await self.tokens.connections.get(person, provider)
        # Incremental authorization: what was granted before stays asked for, plus this connector.
        names = {connector.name}
        if existing is not None and existing.status == "ok":
            names |= {c.name for c in self.registry.connectors() if c.provider == provider and set(c.scopes) & existing.scopes}
        scopes = self.registry.scopes_for(provider, names)
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        await self.states.create(
            digest(state), person, connector.name, scopes, self.crypto.encrypt(verifier), utcnow() + STATE_LIFETIME
        )
        return f"{self.settings.public_url}/oauth/{provider}/start?state={state}"

    async def start(self, provider: str, state: str, browser: str) -> Outcome:
        if provider not in PROVIDERS:
            return page("Unknown service", "Atom does not connect to that service.", 404)
        if not any(c.provider == provider for c in self.registry.connectors()):
            return page("Not set up", f"{LABELS[provider]} is not set up on this Atom. Ask whoever runs Atom.", 404)
        row = await self.states.open(digest(state), digest(browser)) if state else None
        connector = self.registry.connector(row.service) if row is not None else None
        if connector is None or connector.provider != provider:
            return page(
                "This link has expired",
                "This connection link is no longer valid: links work once, for ten minutes, in the browser that "
                "opened them first. " + AGAIN.format(name="<service>"),
            )
        verifier = self.crypto.decrypt(row.secret)
        return Outcome(redirect=self.accounts.authorize_url(provider, row.scopes, state, verifier))

    async def callback(self, provider: str, query, browser: str) -> Outcome:
        if provider not in PROVIDERS:
            return page("Unknown service", "Atom does not connect to that service.", 404)
        state = query.get("state") or ""
        if not state:
            return page("Nothing to finish", "This page was opened without a connection attempt. " + AGAIN.format(name="<service>"))
        # Used up first, whatever follows: a state never completes twice, even after an error.
        verdict, row = await self.states.consume(digest(state))
        if row is None:
            reasons = {
                "unknown": "Atom does not know this connection attempt.",
                "used": "This connection attempt was already used.",
                "expired": "This connection attempt expired (they last ten minutes).",
            }
            return page("Connection not completed", f"{reasons[verdict]} Nothing was saved. " + AGAIN.format(name="<service>"))
        connector = self.registry.connector(row.service)
        if connector is None or connector.provider != provider:
            return page("Connection not completed", "This attempt belongs to another service. Nothing was saved.")
        again = AGAIN.format(name=connector.name)
        if not browser or row.browser_hash != digest(browser):
            return page(
                "Connection not completed",
                "This sign-in was finished in a different browser from the one that started it, so Atom did not "
                f"save it. {again}",
            )
        if query.get("error"):
            denied = query.get("error") == "access_denied"
            what = "You did not allow access" if denied else f"{LABELS[provider]} reported a problem"
            return page(f"{connector.label} not connected", f"{what}, so nothing was saved. {again}", 200 if denied else 400)
        code = query.get("code") or ""
        if not code:
            return page("Connection not completed", f"{LABELS[provider]} sent no authorization code. Nothing was saved. {again}")
        existing = await self.tokens.connections.get(row.person, provider)
        previous_refresh = None
        if existing is not None:
            try:
                previous_refresh = unseal(self.crypto, existing.secret)[1]
            except Exception:  # an unreadable old grant is simply replaced
                previous_refresh = None
        try:
            grant = await self.accounts.exchange(provider, code, row.scopes, self.crypto.decrypt(row.secret))
        except ConnectorError as exc:
            log.info("%s token exchange failed: %s", provider, exc.kind)
            return page("Connection not completed", f"{LABELS[provider]} did not complete the sign-in. Nothing was saved. {again}", 502)
        missing = [s for s in connector.scopes if s not in grant.scopes]
        await self.tokens.store(row.person, provider, grant, previous_refresh)
        if missing:
            return Outcome(
                title=f"{connector.label} partly connected",
                message=f"You did not allow everything {connector.label} needs, so some of it will not work. {again}",
                person=row.person, connector=connector,
            )
        account = f" as {grant.account}" if grant.account else ""
        return Outcome(
            title=f"{connector.label} connected",
            message=f"Atom can now use {connector.label}{account}. You can close this tab and go back to Slack.",
            person=row.person, connector=connector,
        )

    async def disconnect(self, person: Person, connector: Connector) -> bool:
        return await self.tokens.disconnect(person, connector.provider)
