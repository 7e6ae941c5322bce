"""`atom doctor`: checks configuration, database, Slack and stored provider keys, and says how to fix."""

from __future__ import annotations

import asyncio

from slack_sdk.errors import SlackApiError

from bot.config import ConfigError, Settings, load_settings
from bot.slack_client import build_client
from bot.storage import migrate
from bot.storage.engine import create_engine, ping

OK, BAD = "ok  ", "FAIL"


async def run_doctor(environ=None) -> int:
    failures = 0

    def report(ok: bool, what: str, detail: str = "") -> None:
        nonlocal failures
        failures += 0 if ok else 1
        print(f"[{OK if ok else BAD}] {what}{': ' + detail if detail else ''}")

    try:
        settings = load_settings(environ)
        report(True, "configuration")
    except ConfigError as exc:
        for problem in exc.problems:
            report(False, "configuration", problem)
        try:  # keep checking what can be checked without Slack
            settings = load_settings(environ, need_slack=False)
        except ConfigError:
            return 1

    await _check_database(settings, report)
    if settings.slack_bot_token:
        await _check_slack(settings, report)
    print("All checks passed." if failures == 0 else f"{failures} problem(s) found.")
    return 0 if failures == 0 else 1


async def _check_database(settings: Settings, report) -> None:
    engine = None
    try:
        engine = create_engine(settings.database_url)  # SQLite: creates its folder, which can fail
        await asyncio.wait_for(ping(engine), 5)
        report(True, "database reachable")
        current, head = await migrate.current_revision(engine), migrate.head_revision()
        report(
            current == head,
            "database schema",
            f"at {current or 'nothing'}, latest is {head}; run `atom migrate`"
            if current != head
            else f"up to date ({head})",
        )
        if current == head and settings.encryption_keys:
            await _check_stored_keys(settings, engine, report)
    except Exception as exc:  # the point of doctor is to report, not crash
        report(False, "database reachable", f"{type(exc).__name__}: {exc}. Check ATOM_DATABASE_URL.")
    finally:
        if engine is not None:
            await engine.dispose()


async def _check_slack(settings: Settings, report) -> None:
    client = build_client(settings.slack_api_url, settings.slack_bot_token, timeout=10)
    try:
        auth = await client.auth_test()
        report(True, "Slack auth.test", f"bot {auth.get('user')} in team {auth.get('team')}")
    except SlackApiError as exc:
        error = exc.response.get("error")
        hint = {
            "invalid_auth": "SLACK_BOT_TOKEN is wrong or revoked: reinstall the app and copy the new token.",
            "not_authed": "SLACK_BOT_TOKEN is missing.",
            "account_inactive": "the app was uninstalled or the workspace deactivated: reinstall it.",
        }.get(error, "see https://api.slack.com/methods/auth.test")
        report(False, "Slack auth.test", f"{error}: {hint}")
    except Exception as exc:
        report(
            False,
            "Slack auth.test",
            f"cannot reach {settings.slack_api_url} ({type(exc).__name__}). Check SLACK_API_URL and the network.",
        )


async def _check_stored_keys(settings: Settings, engine, report) -> None:
    """Every stored provider configuration: decryptable with the configured keys, and usable."""
    from bot.storage.encryption import Crypto, UndecryptableSecret
    from bot.storage.engine import session_factory
    from bot.storage.repositories import Credentials

    crypto = Crypto(settings.encryption_keys)
    rows = await Credentials(session_factory(engine)).all_rows()
    undecryptable = 0
    for row in rows:
        try:
            crypto.decrypt(row.secret)
        except UndecryptableSecret:
            undecryptable += 1
    report(
        undecryptable == 0,
        "stored provider keys",
        f"{len(rows)} stored, all decrypt with ATOM_ENCRYPTION_KEYS"
        if undecryptable == 0
        else f"{undecryptable} of {len(rows)} cannot be decrypted: if ATOM_ENCRYPTION_KEYS changed, list the old key "
        "after the new one and run `atom keys rotate`; otherwise their owners must add them again",
    )
    for row in rows:
        owner = "workspace" if not row.user_id else f"user {row.user_id}"
        where = f"{row.provider} key of {owner} in team {row.team_id}"
        if row.status in ("failing", "needs_reentry"):
            report(False, where, f"{row.status}: {row.status_detail} The owner can fix it with `/atom keys`.")
        if row.provider == "azure":
            from bot.llm.providers import check_https_url

            problem = check_https_url(str((row.settings or {}).get("endpoint") or ""))
            if problem:
                report(False, where, f"endpoint: {problem}")
