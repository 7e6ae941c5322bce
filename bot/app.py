"""Builds the slack-bolt AsyncApp: client, signing, error handling and every listener."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore

from bot.handlers import Surface, register
from bot.handlers.once import note_retry
from bot.identity import UnverifiedRequest, remember_asker
from bot.runtime import Runtime
from bot.slack_auth import InstalledBotAuthorization, StartupAuthorization
from bot.slack_client import build_client
from bot.storage.installations import EncryptedInstallationStore

log = logging.getLogger(__name__)

SORRY = "Sorry, something went wrong on my side. Nothing you saved was lost; please try again in a moment."


# The bot scopes Atom asks for when installed through OAuth; a test keeps them equal to manifest.yml's.
BOT_SCOPES = (
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "channels:read",
    "chat:write",
    "commands",
    "files:write",
    "groups:history",
    "groups:read",
    "im:history",
    "im:write",
    "reactions:write",
    "users:read",
)


def oauth_settings(runtime: Runtime) -> AsyncOAuthSettings:
    """Multi-workspace install: tokens in an encrypted store, state nonces in the database."""
    settings = runtime.settings
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(BOT_SCOPES),
        redirect_uri=f"{settings.public_url}/slack/oauth_redirect",
        installation_store=EncryptedInstallationStore(
            runtime.sessions, runtime.crypto, settings.slack_client_id
        ),
        installation_store_bot_only=True,
        state_store=AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=runtime.engine),
    )


async def tell_sorry(body: dict, client, respond) -> None:
    """A failed listener still answers the person, where there is somewhere to answer."""
    try:
        event = body.get("event") or {}
        if (
            event.get("channel")
            and event.get("type") in ("message", "app_mention")
            and not event.get("bot_id")
        ):
            # Atom answers every message in its own thread (a DM too, under agent messaging), so the
            # apology goes there rather than top level.
            thread_ts = event.get("thread_ts") or event.get("ts")
            await client.chat_postMessage(channel=event["channel"], thread_ts=thread_ts, text=SORRY)
        elif body.get("response_url") or body.get("response_urls"):
            await respond(text=SORRY, response_type="ephemeral", replace_original=False)
    except Exception as exc:  # telling failed too: the log line above is all that is left
        log.warning("could not tell the person about a failure: %s", type(exc).__name__)


def build_app(
    runtime: Runtime, authorization: StartupAuthorization | None = None
) -> tuple[AsyncApp, Surface]:
    """`authorization`: with one workspace, the one whose `auth.test` ran at start (else made here,
    and Bolt's first request makes that call)."""
    settings = runtime.settings
    multi_workspace = settings.oauth_install and not settings.slack_bot_token
    oauth = oauth_settings(runtime) if multi_workspace else None
    # Neither mode calls auth.test inside a request (bot/slack_auth.py). The token comes from the
    # authorization, so Bolt's own client carries none (Bolt warns about a token it would ignore).
    if oauth is not None:
        authorize = InstalledBotAuthorization(
            logger=log,
            installation_store=oauth.installation_store,
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret,
            bot_only=True,
            client=runtime.client,
        )
    else:
        authorize = authorization or StartupAuthorization(runtime.client)
    app = AsyncApp(
        client=build_client(settings.slack_api_url, session=runtime.client.session),
        signing_secret=settings.slack_signing_secret or "",
        # HTTP requests are verified in bot/server.py before Bolt sees them (Bolt would log an
        # unverified body first); Socket Mode requests are authenticated by the websocket itself.
        request_verification_enabled=False,
        process_before_response=False,
        oauth_settings=oauth,
        authorize=authorize,
        logger=logging.getLogger("slack_bolt.App"),
    )

    @app.error
    async def on_error(error, body, client, respond, response):
        if isinstance(error, UnverifiedRequest):
            log.info("ignored a request that names no person")
            if response is not None:  # not acknowledged yet: a client error, not a server one
                response.status, response.body = 400, '{"error": "the request names no person"}'
            return
        runtime.metrics.handler_errors.inc()
        # The type and a short reason only: request bodies can carry people's text.
        log.error("listener failed: %s: %s", type(error).__name__, error, exc_info=error)
        await tell_sorry(body, client, respond)

    app.use(note_retry)  # first deliveries are claimed in memory (bot/handlers/once.py)
    app.use(remember_asker)  # the asker's own team, for whose keys and budget apply
    surface = register(app, runtime)
    return app, surface
