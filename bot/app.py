"""Builds the slack-bolt AsyncApp: client, signing, error handling and every listener."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp

from bot.handlers import Surface, register
from bot.runtime import Runtime

log = logging.getLogger(__name__)

SORRY = "Sorry, something went wrong on my side. Nothing you saved was lost; please try again in a moment."


def build_app(runtime: Runtime) -> tuple[AsyncApp, Surface]:
    settings = runtime.settings
    app = AsyncApp(
        client=runtime.client,
        signing_secret=settings.slack_signing_secret or "",
        # Socket Mode requests are authenticated by the websocket itself and carry no signature.
        request_verification_enabled=bool(settings.slack_signing_secret),
        process_before_response=False,
        logger=logging.getLogger("slack_bolt.App"),
    )

    @app.error
    async def on_error(error, body, logger):
        runtime.metrics.handler_errors.inc()
        # The type and a short reason only: request bodies can carry people's text.
        log.error("listener failed: %s: %s", type(error).__name__, error, exc_info=error)

    surface = register(app, runtime)
    return app, surface
