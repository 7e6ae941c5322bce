"""Who Atom is in the workspace a request comes from (Bolt's AuthorizeResult), known before the ack.

Bolt's defaults call Slack's `auth.test` inside a request, before any listener can acknowledge it:
once, on the first request, with one workspace; on every request with OAuth installs. With a slow
Slack API that call alone can take the 3 seconds Slack waits for an ack. Here:
- one workspace (SLACK_BOT_TOKEN): `auth.test` runs once at start (`StartupAuthorization.check`);
  only if Slack could not be reached then does the first request make the call, as Bolt would;
- several workspaces (OAuth): the result is built from the stored installation, which holds the
  bot's token and ids from the OAuth exchange, so no Slack call is made at all. A revoked token is
  deleted by the `tokens_revoked` / `app_uninstalled` listeners (bot/handlers/lifecycle.py).
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize, AsyncInstallationStoreAuthorize
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import ConfigError

log = logging.getLogger(__name__)

START_CHECK_SECONDS = 30.0
# auth.test errors that mean the token itself is refused (https://api.slack.com/methods/auth.test).
REFUSED_TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type"}
)


class StartupAuthorization(AsyncAuthorize):
    """One workspace: the bot token's `auth.test`, made at start and reused for every request."""

    def __init__(self, client: AsyncWebClient):
        super().__init__()
        self._client = client
        self._identity: AuthorizeResult | None = None
        self._lock = asyncio.Lock()

    @property
    def checked(self) -> bool:
        return self._identity is not None

    async def check(self) -> None:
        """Call `auth.test` with the bot token. Raises what slack_sdk raises (SlackApiError when
        Slack refuses the token; connection errors and timeouts when it cannot be reached)."""
        async with self._lock:
            if self._identity is not None:
                return
            response = await self._client.auth_test()
            self._identity = AuthorizeResult(
                enterprise_id=response.get("enterprise_id"),
                team_id=response.get("team_id"),
                team=response.get("team"),
                url=response.get("url"),
                bot_id=response.get("bot_id"),
                bot_user_id=response.get("user_id"),
                bot_token=self._client.token,
                bot_scopes=response.headers.get("x-oauth-scopes"),
            )

    async def __call__(self, *, context, enterprise_id, team_id, user_id, **_actor) -> AuthorizeResult:
        if self._identity is None:  # Slack was unreachable at start: Bolt's own behaviour, once
            await self.check()
        identity = self._identity
        return AuthorizeResult(
            enterprise_id=identity.enterprise_id,
            team_id=identity.team_id,
            team=identity.team,
            url=identity.url,
            bot_id=identity.bot_id,
            bot_user_id=identity.bot_user_id,
            bot_token=identity.bot_token,
            bot_scopes=identity.bot_scopes,
            user_id=user_id,  # the person making this request
        )


class InstalledBotAuthorization(AsyncInstallationStoreAuthorize):
    """Several workspaces: the request's workspace authorized from its stored installation."""

    async def __call__(
        self, *, context, enterprise_id, team_id, user_id, **actor
    ) -> AuthorizeResult | None:
        bot = await self.installation_store.async_find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=context.is_enterprise_install
        )
        if bot is None:
            return None  # not installed (or uninstalled): Bolt tells the person to install the app
        if bot.bot_refresh_token or not bot.bot_user_id:
            # Token rotation, or an installation saved without the bot's ids: Bolt's full path.
            return await super().__call__(
                context=context, enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, **actor
            )
        return AuthorizeResult(
            enterprise_id=bot.enterprise_id,
            team_id=bot.team_id,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_token=bot.bot_token,
            bot_scopes=bot.bot_scopes,
            user_id=user_id,
        )


async def check_bot_token(authorization: StartupAuthorization) -> None:
    """At start: a token Slack refuses stops the start (a configuration error, exit code 2); a
    Slack that cannot be reached is one warning, and the first request tries again."""
    try:
        await asyncio.wait_for(authorization.check(), START_CHECK_SECONDS)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error not in REFUSED_TOKEN_ERRORS:
            log.warning("Slack's auth.test failed at start (%s): the first request will try again", error)
            return
        raise ConfigError(
            [
                f"Slack refused SLACK_BOT_TOKEN ({error}): reinstall the app to the workspace and copy its "
                "Bot User OAuth Token (xoxb-…) from 'OAuth & Permissions'."
            ]
        ) from None
    except (TimeoutError, OSError, aiohttp.ClientError) as exc:
        log.warning(
            "Slack's auth.test could not be reached at start (%s): the first request will try again",
            type(exc).__name__,
        )
