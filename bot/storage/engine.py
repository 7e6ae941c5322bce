"""The async SQLAlchemy engine: SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from bot.config import sqlite_path

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",  # under a burst, writers queue for the single write lock
    # Deleted rows (removed keys) are overwritten with zeros, not left in free pages.
    "PRAGMA secure_delete=ON",
    "PRAGMA synchronous=NORMAL",
)


def _on_sqlite_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def create_engine(database_url: str) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        path = sqlite_path(database_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # SQLite has one writer; busy_timeout makes the others wait their turn rather than fail.
        engine = create_async_engine(
            database_url, connect_args={"timeout": 30}, pool_size=10, max_overflow=20, pool_timeout=60
        )
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        return engine
    return create_async_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
