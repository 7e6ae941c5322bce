"""`GET /oauth/<service>/start` and `/oauth/<service>/callback`, on Atom's HTTP server in both run
modes. Thin: read the query and the browser cookie, ask `OAuthFlow`, answer a redirect or a page."""

from __future__ import annotations

import asyncio
import logging
import secrets

from aiohttp import web

from bot.views.connections import oauth_page

log = logging.getLogger(__name__)

BROWSER_COOKIE = "atom_oauth_browser"


def add_oauth_routes(web_app: web.Application, runtime) -> None:
    secure = runtime.settings.public_url.startswith("https://")

    def html(outcome) -> web.Response:
        return web.Response(
            text=oauth_page(outcome.title, outcome.message),
            status=outcome.status,
            content_type="text/html",
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    async def start(request: web.Request) -> web.Response:
        browser = request.cookies.get(BROWSER_COOKIE) or secrets.token_urlsafe(24)
        outcome = await runtime.connectors.oauth.start(
            request.match_info["service"], request.query.get("state", ""), browser
        )
        if outcome.redirect is None:
            return html(outcome)
        response = web.HTTPFound(outcome.redirect, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
        # Lax: the provider's redirect back is a top-level GET, which carries it.
        response.set_cookie(BROWSER_COOKIE, browser, max_age=900, path="/oauth", httponly=True, samesite="Lax",
                            secure=secure)
        return response

    async def callback(request: web.Request) -> web.Response:
        outcome = await runtime.connectors.oauth.callback(
            request.match_info["service"], request.query, request.cookies.get(BROWSER_COOKIE, "")
        )
        hook = runtime.connectors.on_connected
        if outcome.person is not None and hook is not None:
            task = asyncio.create_task(hook(outcome.person, outcome.connector))
            task.add_done_callback(_log_failure)
        return html(outcome)

    web_app.router.add_get("/oauth/{service}/start", start)
    web_app.router.add_get("/oauth/{service}/callback", callback)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("after connecting: %s", type(task.exception()).__name__)
