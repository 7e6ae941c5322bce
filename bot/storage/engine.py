"""The async SQLAlchemy engine: SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from bot.config import sqlite_path

log = logging.getLogger(__name__)
PRIVATE_FILE_MODE = 0o600
POSTGRES_CONNECT_TIMEOUT = 10.0

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",  # under a burst, writers queue for the single write lock
    # Deleted rows (removed keys) are overwritten with zeros, not left in free pages.
    "PRAGMA secure_delete=ON",
    "PRAGMA synchronous=NORMAL",
    # Checkpoint when the WAL holds 10,000 pages (~40 MB) instead of 1,000: every write that hits
    # the checkpoint copies and syncs the WAL into the database, and at the default that was one
    # commit in a couple of hundred, the slowest 1% of key saves. Fewer, larger checkpoints also
    # write a page changed many times only once.
    "PRAGMA wal_autocheckpoint=10000",
)


def _on_sqlite_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _reset_sqlite(dbapi_connection, _record, reset_state) -> None:
    """Roll back a connection going back to the pool only when SQLite says a transaction is open.

    The default reset-on-return always rolls back, and with aiosqlite every rollback is a hop to
    the connection's thread and back, even right after a commit or a plain read (which leave no
    transaction behind in sqlite3's default mode). SQLAlchemy's documented custom reset scheme
    (`pool_reset_on_return=None` plus this `reset` hook) keeps the guarantee and drops the hop."""
    if reset_state.terminate_only:
        return
    if dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


def make_private(path: Path) -> None:
    """Create the SQLite file as 0600 before SQLite opens it, or tighten an existing one.

    It holds encrypted secrets beside people's usage and settings: nobody else on the host needs to
    read it. SQLite creates the -wal and -shm files with the database file's own mode, so they
    follow. An empty file is a valid empty database."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        os.close(fd)
        return
    except FileExistsError:
        pass
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            try:
                file.chmod(PRIVATE_FILE_MODE)
            except OSError as exc:  # not ours to change (another owner): say so, and carry on
                log.warning("%s is readable by other users (mode %o) and cannot be made private: %s",
                            file, mode, exc.strerror)
                continue
            log.info("%s was readable by other users (mode %o): now %o", file, mode, PRIVATE_FILE_MODE)


def create_engine(database_url: str) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        path = sqlite_path(database_url)
        if path is not None:
            make_private(path)
        # SQLite has one writer; busy_timeout makes the others wait their turn rather than fail.
        engine = create_async_engine(
            database_url,
            connect_args={"timeout": 30},
            pool_size=10,
            max_overflow=20,
            pool_timeout=60,
            pool_reset_on_return=None,
        )
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "reset", _reset_sqlite)
        return engine
    # asyncpg waits 60 s for a server that does not answer (a firewall dropping packets): 10 s is
    # ample for a live server and lets `atom migrate` or a start report an unreachable one sooner.
    return create_async_engine(
        database_url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT},
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
