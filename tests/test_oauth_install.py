"""Multi-workspace install through Slack OAuth, with the bot token encrypted at rest."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import aiohttp

from tests.conftest import AtomHarness, atom_env
from tests.fakes import payloads


async def test_install_then_answer_with_the_installed_token(fake_slack, sqlite_url, encryption_key):
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="oauth-secret")
    del env["SLACK_BOT_TOKEN"]
    atom = AtomHarness(fake_slack, env)
    await atom.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{atom.url}/slack/install", allow_redirects=False) as r:
                page = await r.text()
                assert r.status == 200 and "slack.com/oauth/v2/authorize" in page
                cookies = r.cookies
            url = page[page.index("https://slack.com/oauth/v2/authorize") :].split('"')[0].replace("&amp;", "&")
            query = parse_qs(urlparse(url).query)
            assert set(query["scope"][0].split(",")) >= {"chat:write", "commands", "im:history"}
            state = query["state"][0]
            # The state cookie is Secure (https only): a browser on the real https URL sends it back.
            cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())
            async with http.get(f"{atom.url}/slack/oauth_redirect?code=abc&state={state}", headers={"Cookie": cookie}) as r:
                assert r.status == 200, await r.text()
        await fake_slack.wait_for("oauth.v2.access")
        token = "xoxb-T1-fake-bot-token"
        db = Path(sqlite_url.split("///", 1)[1])
        raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
        assert token.encode() not in raw  # stored encrypted

        await atom.client.event(payloads.message_im_event("hello"))
        [post] = await fake_slack.wait_for("chat.postMessage")
        assert post.token == token  # answered with the installed workspace's token
    finally:
        await atom.stop()


async def test_install_callback_with_a_forged_state_is_refused(fake_slack, sqlite_url, encryption_key):
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="oauth-secret")
    del env["SLACK_BOT_TOKEN"]
    atom = AtomHarness(fake_slack, env)
    await atom.start()
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{atom.url}/slack/oauth_redirect?code=abc&state=forged") as r:
            assert r.status >= 400
        assert fake_slack.calls_to("oauth.v2.access") == []
    finally:
        await atom.stop()


async def test_uninstall_deletes_the_workspace_token(fake_slack, sqlite_url, encryption_key):
    from slack_sdk.oauth.installation_store.models.bot import Bot

    env = atom_env(fake_slack.url, sqlite_url, encryption_key, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="oauth-secret")
    del env["SLACK_BOT_TOKEN"]
    atom = AtomHarness(fake_slack, env)
    await atom.start()
    try:
        store = atom.server.app.installation_store
        await store.async_save_bot(
            Bot(team_id="T1", bot_token="xoxb-T1-installed-token-123", bot_id="B1", bot_user_id="UBOT", installed_at=1700000000.0)
        )
        assert await store.async_find_bot(enterprise_id=None, team_id="T1") is not None
        resp = await atom.client.event(payloads.app_uninstalled_event())
        assert resp.status == 200
        for _ in range(100):
            if await store.async_find_bot(enterprise_id=None, team_id="T1") is None:
                break
            import asyncio

            await asyncio.sleep(0.02)
        assert await store.async_find_bot(enterprise_id=None, team_id="T1") is None
    finally:
        await atom.stop()
