"""The `atom` command line (also `python -m bot`)."""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing slows `atom schedule`'s start
if TYPE_CHECKING:
    from bot.config import Settings

EXIT_CONFIG = 2  # configuration missing or malformed (README, "Command line")
EXIT_UNAVAILABLE = 1  # the database (or the port) cannot be used; also `atom doctor` finding problems


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atom", description="Atom, the AI assistant that lives in Slack.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP)")
    run.add_argument("--http", action="store_true", help="force HTTP mode even when SLACK_APP_TOKEN is set")
    worker = sub.add_parser(
        "worker", help="run workflow executions handed over by `atom run` (it starts this itself)"
    )
    worker.add_argument("--report-fd", type=int, required=True, help=argparse.SUPPRESS)
    worker.add_argument("--heartbeat", type=float, default=None, help=argparse.SUPPRESS)
    sub.add_parser("doctor", help="check configuration, database, Slack and stored provider keys")
    sub.add_parser("migrate", help="bring the database schema up to date")
    keys = sub.add_parser("keys", help="encryption keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_sub.add_parser("generate", help="print a new key for ATOM_ENCRYPTION_KEYS")
    keys_sub.add_parser(
        "rotate", help="re-encrypt every stored secret with the first key of ATOM_ENCRYPTION_KEYS"
    )
    schedule = sub.add_parser("schedule", help="read a schedule phrase and print it as JSON (no settings needed)")
    schedule.add_argument("phrase", nargs="*", help='for example "every weekday at 9am"')
    schedule.add_argument("--tz", default="UTC", help="the IANA zone the phrase is in (default UTC)")
    schedule.add_argument("--now", default=None, help="ISO 8601 time to read the phrase at (default: now)")
    schedule.add_argument("--count", default="5", help="how many next runs to list (default 5)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "schedule":
        # Settings-free and fast: nothing below (config, logging, database, Slack) is imported.
        from bot.workflows.schedule_cli import run

        return run(args.phrase, tz=args.tz, now=args.now, count=args.count)
    import asyncio

    from bot.config import ConfigError, load_settings
    from bot.logs import setup_logging

    try:
        if args.command == "keys" and args.keys_command == "generate":
            from cryptography.fernet import Fernet

            print(Fernet.generate_key().decode())
            return 0
        if args.command == "run":
            return _run(force_http=args.http)
        if args.command == "worker":
            return _worker(args.report_fd, args.heartbeat)
        if args.command == "migrate":
            return asyncio.run(_migrate(load_settings(need_slack=False, create_key_file=True)))
        if args.command == "doctor":
            from bot.doctor import run_doctor

            return asyncio.run(run_doctor())
        if args.command == "keys" and args.keys_command == "rotate":
            from bot.keys_cli import rotate

            settings = load_settings(need_slack=False)
            setup_logging(settings.log_level, settings.log_format, log_content=settings.log_content)
            return asyncio.run(rotate(settings))
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # A database that cannot be reached is the operator's to fix: one line, not a traceback.
        if why := startup_problem(exc):
            command = " ".join(filter(None, (args.command, getattr(args, "keys_command", None))))
            print(f"atom {command}: {why}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        raise
    return 1


def _run(force_http: bool) -> int:
    import asyncio
    import signal

    from bot.config import load_settings
    from bot.logs import setup_logging

    # A SIGTERM while Python is still importing and configuring is noted, not fatal: run_forever
    # takes over the signal as soon as its loop runs and then stops cleanly at once.
    terminated: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: terminated.append(signum))
    settings = load_settings(create_key_file=True, force_http=force_http)
    setup_logging(settings.log_level, settings.log_format, log_content=settings.log_content)
    _announce_key_file(settings)
    from bot.server import run_forever

    try:
        asyncio.run(run_forever(settings, stop_requested=lambda: bool(terminated)))
    except Exception as exc:
        if why := startup_problem(exc):
            _log().error("Atom could not start: %s", why)
            return EXIT_UNAVAILABLE
        raise
    return 0


def _worker(report_fd: int, heartbeat: float | None = None) -> int:
    """`atom worker`: started by `atom run` with the same configuration; runs workflow
    executions handed to it on stdin (bot/workflows/worker.py)."""
    import asyncio

    from bot.config import load_settings
    from bot.logs import setup_logging
    from bot.server import tune_gc
    from bot.workflows.worker import HEARTBEAT_SECONDS, serve

    settings = load_settings(need_slack=False)
    setup_logging(settings.log_level, settings.log_format, log_content=settings.log_content)
    tune_gc()
    try:
        return asyncio.run(serve(settings, report_fd, heartbeat or HEARTBEAT_SECONDS))
    except KeyboardInterrupt:
        return 130


def _log():
    import logging  # not at import time: `atom schedule` starts without it

    return logging.getLogger("bot")


def startup_problem(exc: Exception) -> str | None:
    """A sentence for the failures an operator can fix (port, database), or None for real bugs."""
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 98:
        return f"{exc.strerror}: another process uses ATOM_PORT; stop it or choose another port."
    if isinstance(exc, SQLAlchemyError | OSError) or type(exc).__module__.startswith("asyncpg"):
        what = f"{type(exc).__name__}: {exc}" if str(exc) else f"{type(exc).__name__} (no answer)"
        return f"{what}. Check ATOM_DATABASE_URL and that the database server is running."
    return None


def _announce_key_file(settings: Settings) -> None:
    if settings.encryption_key_file is not None:
        _log().warning(
            "ATOM_ENCRYPTION_KEYS is not set: using the key file %s (mode 0600), created on first start. "
            "Back it up: without it, stored provider keys cannot be decrypted. For production, set "
            "ATOM_ENCRYPTION_KEYS (see `atom keys generate`).",
            settings.encryption_key_file,
        )


async def _migrate(settings: Settings) -> int:
    from bot.storage import migrate
    from bot.storage.engine import create_engine

    engine = create_engine(settings.database_url)
    try:
        before = await migrate.current_revision(engine)
        await migrate.upgrade(engine)
        after = await migrate.current_revision(engine)
    finally:
        await engine.dispose()
    print(
        f"database schema: {before or 'empty'} -> {after}"
        if before != after
        else f"database schema up to date ({after})"
    )
    return 0
