"""Slack installations for multi-workspace distribution, with bot tokens encrypted at rest.

slack_sdk's own SQLAlchemy installation store keeps tokens in plaintext columns; this one keeps
one encrypted token per workspace and implements the bot-only half of `AsyncInstallationStore`,
which is all Atom asks for (no user tokens).
"""

from __future__ import annotations

import json
import logging

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.storage.encryption import Crypto, UndecryptableSecret
from bot.storage.models import SlackInstallation, utcnow

log = logging.getLogger(__name__)


class EncryptedInstallationStore(AsyncInstallationStore):
    def __init__(self, sessions: async_sessionmaker, crypto: Crypto, client_id: str):
        self._sessions = sessions
        self._crypto = crypto
        self.client_id = client_id

    def __repr__(self) -> str:
        return "EncryptedInstallationStore()"

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        await self.async_save_bot(installation.to_bot())

    async def async_save_bot(self, bot: Bot) -> None:
        secret = self._crypto.encrypt(
            json.dumps({"bot_token": bot.bot_token, "bot_refresh_token": bot.bot_refresh_token})
        )
        key = (bot.enterprise_id or "", "" if bot.is_enterprise_install else (bot.team_id or ""))
        async with self._sessions.begin() as session:
            row = await session.get(SlackInstallation, key)
            if row is None:
                row = SlackInstallation(enterprise_id=key[0], team_id=key[1])
                session.add(row)
            row.is_enterprise_install = bool(bot.is_enterprise_install)
            row.app_id, row.bot_id, row.bot_user_id = (
                bot.app_id or "",
                bot.bot_id or "",
                bot.bot_user_id or "",
            )
            row.bot_scopes = ",".join(bot.bot_scopes or [])
            row.secret, row.bot_token_expires_at, row.installed_at = (
                secret,
                bot.bot_token_expires_at,
                utcnow(),
            )

    async def async_find_bot(self, *, enterprise_id, team_id, is_enterprise_install=False) -> Bot | None:
        key = (enterprise_id or "", "" if is_enterprise_install else (team_id or ""))
        async with self._sessions() as session:
            row = await session.get(SlackInstallation, key)
            if row is None and enterprise_id and not is_enterprise_install:
                # A workspace inside an org-wide install is served by the org's bot.
                row = await session.get(SlackInstallation, (enterprise_id, ""))
        if row is None:
            return None
        try:
            tokens = json.loads(self._crypto.decrypt(row.secret))
        except UndecryptableSecret:
            log.error(
                "the bot token of installation %s/%s cannot be decrypted", row.enterprise_id, row.team_id
            )
            return None
        return Bot(
            app_id=row.app_id or None,
            enterprise_id=row.enterprise_id or None,
            team_id=row.team_id or None,
            bot_token=tokens["bot_token"],
            bot_refresh_token=tokens.get("bot_refresh_token"),
            bot_token_expires_at=row.bot_token_expires_at,
            bot_id=row.bot_id,
            bot_user_id=row.bot_user_id,
            bot_scopes=row.bot_scopes,
            is_enterprise_install=row.is_enterprise_install,
            installed_at=row.installed_at.timestamp(),
        )

    async def async_find_installation(
        self, *, enterprise_id, team_id, user_id=None, is_enterprise_install=False
    ):
        bot = await self.async_find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        if bot is None:
            return None
        return Installation(
            app_id=bot.app_id,
            enterprise_id=bot.enterprise_id,
            team_id=bot.team_id,
            bot_token=bot.bot_token,
            bot_refresh_token=bot.bot_refresh_token,
            bot_token_expires_at=bot.bot_token_expires_at,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_scopes=bot.bot_scopes,
            user_id=user_id or "",
            is_enterprise_install=bot.is_enterprise_install,
        )

    async def async_delete_bot(self, *, enterprise_id, team_id) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                delete(SlackInstallation).where(
                    SlackInstallation.enterprise_id == (enterprise_id or ""),
                    SlackInstallation.team_id == (team_id or ""),
                )
            )

    async def async_delete_installation(self, *, enterprise_id, team_id, user_id=None) -> None:
        if user_id is None:  # Atom stores no user tokens: only the whole installation goes
            await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    async def all_tokens(self) -> list[tuple[tuple[str, str], str]]:
        async with self._sessions() as session:
            rows = (await session.execute(select(SlackInstallation))).scalars()
            return [((r.enterprise_id, r.team_id), r.secret) for r in rows]
