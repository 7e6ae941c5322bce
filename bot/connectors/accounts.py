"""The OAuth side of each provider: where to send people, and how to exchange, refresh and revoke.

Google goes through google-auth-oauthlib's `Flow` (PKCE on, the verifier kept with the state,
`access_type=offline`, incremental authorization); Asana is plain OAuth 2 with PKCE over aiohttp.
Every URL comes from ATOM_GOOGLE_OAUTH_URL / ATOM_ASANA_OAUTH_URL. No provider response text ever
leaves here: failures are `ConnectorError`s with Atom's own words.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import aiohttp

from bot.connectors.base import ConnectorError
from bot.storage.encryption import Secret

GOOGLE_DEFAULT_OAUTH = "https://oauth2.googleapis.com"
GOOGLE_AUTHORIZE = "https://accounts.google.com/o/oauth2/v2/auth"
TIMEOUT = 20.0
# Google answers with every scope granted so far (incremental authorization); oauthlib would
# otherwise treat "more scopes than asked" as an error.
os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
# requests-oauthlib logs token responses (tokens included) at DEBUG; Atom never wants that.
for _name in ("requests_oauthlib", "oauthlib", "google_auth_oauthlib"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass(frozen=True)
class Grant:
    """What a token endpoint gave. Tokens are `Secret`s: they print as hints only."""

    access_token: Secret
    refresh_token: Secret | None
    expires_at: datetime | None
    scopes: frozenset[str]
    account: str = ""


class InvalidGrant(Exception):
    """The provider refused the refresh token (revoked, expired): the connection is broken."""


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _expiry(expires_in) -> datetime | None:
    try:
        return datetime.now(UTC) + timedelta(seconds=int(expires_in))
    except (TypeError, ValueError):
        return None


class ProviderAccounts:
    def __init__(self, settings, http_getter):
        self.settings = settings
        self._http = http_getter  # () -> aiohttp.ClientSession (Atom's shared one)
        urls = settings.connector_urls
        google = urls.get("google_oauth", GOOGLE_DEFAULT_OAUTH)
        asana = urls.get("asana_oauth", "https://app.asana.com")
        self.endpoints = {
            "google": {
                "authorize": GOOGLE_AUTHORIZE if google == GOOGLE_DEFAULT_OAUTH else f"{google}/o/oauth2/v2/auth",
                "token": f"{google}/token",
                "revoke": f"{google}/revoke",
                "account": f"{urls.get('google_api', 'https://www.googleapis.com')}/oauth2/v2/userinfo",
            },
            "asana": {
                "authorize": f"{asana}/-/oauth_authorize",
                "token": f"{asana}/-/oauth_token",
                "revoke": f"{asana}/-/oauth_revoke",
            },
        }

    def client(self, provider: str) -> tuple[str, str]:
        s = self.settings
        return (s.google_client_id, s.google_client_secret) if provider == "google" else (s.asana_client_id, s.asana_client_secret)

    def redirect_uri(self, provider: str) -> str:
        return f"{self.settings.public_url}/oauth/{provider}/callback"

    # ------------------------------------------------------------------ consent

    def _google_flow(self, scopes, verifier: str):
        from google_auth_oauthlib.flow import Flow

        client_id, client_secret = self.client("google")
        ends = self.endpoints["google"]
        config = {
            "web": {
                "client_id": client_id,
                "client_secret": client_secret,
                "auth_uri": ends["authorize"],
                "token_uri": ends["token"],
            }
        }
        return Flow.from_client_config(
            config, scopes=list(scopes), redirect_uri=self.redirect_uri("google"), code_verifier=verifier,
            autogenerate_code_verifier=False,
        )

    def authorize_url(self, provider: str, scopes, state: str, verifier: str) -> str:
        if provider == "google":
            url, _ = self._google_flow(scopes, verifier).authorization_url(
                state=state, access_type="offline", include_granted_scopes="true", prompt="consent"
            )
            return url
        query = {
            "client_id": self.client("asana")[0],
            "redirect_uri": self.redirect_uri("asana"),
            "response_type": "code",
            "state": state,
            "scope": " ".join(scopes),
            "code_challenge_method": "S256",
            "code_challenge": pkce_challenge(verifier),
        }
        return f"{self.endpoints['asana']['authorize']}?{urlencode(query)}"

    # ------------------------------------------------------------------ exchange

    async def exchange(self, provider: str, code: str, scopes, verifier: str) -> Grant:
        if provider == "google":
            return await self._google_exchange(code, scopes, verifier)
        client_id, client_secret = self.client("asana")
        body = await self._post_token(
            "asana",
            {
                "grant_type": "authorization_code",
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uri": self.redirect_uri("asana"),
                "code": code,
                "code_verifier": verifier,
            },
        )
        granted = frozenset((body.get("scope") or " ".join(scopes)).split())
        user = body.get("data") or {}
        return Grant(
            Secret(body["access_token"]),
            Secret(body["refresh_token"]) if body.get("refresh_token") else None,
            _expiry(body.get("expires_in")),
            granted,
            str(user.get("email") or user.get("name") or ""),
        )

    async def _google_exchange(self, code: str, scopes, verifier: str) -> Grant:
        flow = self._google_flow(scopes, verifier)

        def fetch():
            try:
                token = flow.fetch_token(code=code, timeout=TIMEOUT)
            except Exception as exc:  # oauthlib/requests errors quote the request: keep only the class
                raise ConnectorError("invalid", f"Google refused the sign-in ({type(exc).__name__})") from None
            return token

        token = await asyncio.to_thread(fetch)
        scope = token.get("scope") or " ".join(scopes)
        granted = frozenset(scope if isinstance(scope, list) else scope.split())
        grant = Grant(
            Secret(token["access_token"]),
            Secret(token["refresh_token"]) if token.get("refresh_token") else None,
            _expiry(token.get("expires_in")),
            granted,
        )
        account = await self._google_account(grant.access_token)
        return Grant(grant.access_token, grant.refresh_token, grant.expires_at, grant.scopes, account)

    async def _google_account(self, token: Secret) -> str:
        try:
            async with self._http().get(
                self.endpoints["google"]["account"],
                headers={"Authorization": f"Bearer {token.reveal()}"},
                timeout=aiohttp.ClientTimeout(total=TIMEOUT),
            ) as response:
                if response.status != 200:
                    return ""
                return str((await response.json()).get("email") or "")
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return ""  # the account name is a label; the connection works without it

    # ------------------------------------------------------------------ refresh and revoke

    async def refresh(self, provider: str, refresh_token: Secret) -> Grant:
        client_id, client_secret = self.client(provider)
        body = await self._post_token(
            provider,
            {
                "grant_type": "refresh_token",
                "client_id": client_id,
                "client_secret": client_secret,
                "refresh_token": refresh_token.reveal(),
            },
            refreshing=True,
        )
        scope = body.get("scope")
        return Grant(
            Secret(body["access_token"]),
            Secret(body["refresh_token"]) if body.get("refresh_token") else None,  # Google sends none
            _expiry(body.get("expires_in")),
            frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
        )

    async def revoke(self, provider: str, token: Secret) -> bool:
        """Best effort: True when the provider confirmed. Deleting locally never waits on it."""
        url = self.endpoints[provider]["revoke"]
        if provider == "google":
            data = {"token": token.reveal()}
        else:
            client_id, client_secret = self.client("asana")
            data = {"token": token.reveal(), "client_id": client_id, "client_secret": client_secret}
        try:
            async with self._http().post(url, data=data, timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def _post_token(self, provider: str, form: dict, *, refreshing: bool = False) -> dict:
        url = self.endpoints[provider]["token"]
        try:
            async with self._http().post(url, data=form, timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError:
            raise ConnectorError("timeout") from None
        except aiohttp.ClientError:
            raise ConnectorError("unreachable") from None
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        if status in (400, 401) and refreshing and body.get("error") in ("invalid_grant", "invalid_client", "unauthorized_client"):
            raise InvalidGrant()
        if status >= 500:
            raise ConnectorError("server", status=status)
        if status != 200 or not body.get("access_token"):
            raise ConnectorError("invalid", f"the token exchange failed ({status})", status=status)
        return body
