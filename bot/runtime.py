"""The running process's shared parts: settings, database, repositories, metrics, in-flight work.

Built once by `atom run` (and by tests, against their own database and fakes) and handed to the
handlers, which reach every service through it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.admins import AdminDirectory
from bot.answers_in_flight import AnswersInFlight
from bot.config import ConfigError, Settings
from bot.connectors.service import ConnectorService
from bot.delivery import DeliveryPolicy
from bot.inflight import InFlight
from bot.llm.calls import Cooldowns
from bot.memory import ConversationMemory
from bot.metrics import Metrics
from bot.pending import PendingWrites
from bot.slack_client import build_client
from bot.storage import migrate
from bot.storage.encryption import Crypto
from bot.storage.engine import create_engine, session_factory
from bot.storage.repositories import EventClaims, Workflows
from bot.usage import UsageService
from bot.vault import EncryptionKeyMismatch, KeyVault

log = logging.getLogger(__name__)
EVENT_CLAIM_RETENTION = timedelta(days=2)  # Slack stops retrying after about an hour
SLACK_HTTP_TIMEOUT_S = 30.0  # what slack_sdk gives a client of its own session


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker
    client: AsyncWebClient
    metrics: Metrics = field(default_factory=Metrics)
    inflight: InFlight | None = None
    event_claims: EventClaims | None = None
    crypto: Crypto | None = field(default=None, repr=False)
    vault: KeyVault | None = None
    admins: AdminDirectory = field(default_factory=AdminDirectory)
    cooldowns: Cooldowns = field(default_factory=Cooldowns)
    memory: ConversationMemory | None = None
    usage: UsageService | None = None
    pending: PendingWrites | None = None
    answers: AnswersInFlight | None = None
    scheduler_running: bool = False  # housekeeping's loop is alive (set by the server)
    workflows: Workflows | None = None
    workflow_scheduler: object | None = None  # bot.workflows.scheduler.WorkflowScheduler
    workflow_runner: object | None = None
    workflow_service: object | None = None
    connectors: ConnectorService | None = None
    _own_http: aiohttp.ClientSession | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.inflight is None:
            self.inflight = InFlight(on_change=self.metrics.inflight.set)
        self.event_claims = EventClaims(self.sessions)
        self.crypto = Crypto(self.settings.encryption_keys)
        self.vault = KeyVault(self.sessions, self.crypto)
        self.pending = PendingWrites(self.sessions, self.crypto)  # answers' turns and usage, written in batches
        self.memory = ConversationMemory(self.sessions, self.crypto, self.settings.history_days, self.pending)
        self.usage = UsageService(self.sessions, self.pending)
        self.connectors = ConnectorService(
            self.settings, self.sessions, self.crypto, self.slack_for, self.http_session, self.metrics.registry
        )
        self.answers = AnswersInFlight(self.sessions, self.crypto)
        self.workflows = Workflows(self.sessions)
        from bot.workflows import assemble

        assemble(self)

    def http_session(self) -> aiohttp.ClientSession:
        """Atom's shared aiohttp session (the Slack client's), for connector calls."""
        if self.client.session is not None and not self.client.session.closed:
            return self.client.session
        if self._own_http is None or self._own_http.closed:
            self._own_http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SLACK_HTTP_TIMEOUT_S))
        return self._own_http

    async def slack_for(self, person) -> AsyncWebClient:
        """A Slack client acting in the person's workspace (its installation's token when
        Atom is installed in several workspaces)."""
        if self.settings.slack_bot_token or not self.settings.oauth_install:
            return self.client
        from bot.storage.installations import EncryptedInstallationStore

        store = EncryptedInstallationStore(self.sessions, self.crypto, self.settings.slack_client_id)
        bot = await store.async_find_bot(enterprise_id=person.enterprise_id or None, team_id=person.team_id)
        if bot is None:
            return self.client
        return build_client(self.settings.slack_api_url, bot.bot_token, session=self.http_session())

    @property
    def delivery_policy(self) -> DeliveryPolicy:
        return DeliveryPolicy(timeout=self.settings.slack_timeout, max_wait=self.settings.slack_max_wait)

    @classmethod
    async def open(cls, settings: Settings, *, run_migrations: bool = True) -> Runtime:
        engine = create_engine(settings.database_url)
        if run_migrations:
            try:
                await migrate.upgrade(engine)
            except BaseException:  # unreachable database, or a shutdown during start-up
                await engine.dispose()
                raise
        # slack_sdk applies its own 30 s timeout only to sessions it makes: a shared session's own
        # limit is what holds (aiohttp's default would be 5 minutes).
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=max(SLACK_HTTP_TIMEOUT_S, settings.slack_timeout)))
        client = build_client(settings.slack_api_url, settings.slack_bot_token, session=http)
        runtime = cls(settings=settings, engine=engine, sessions=session_factory(engine), client=client)
        try:
            await runtime.event_claims.purge_older_than(EVENT_CLAIM_RETENTION)
            await runtime.vault.verify_encryption()
        except EncryptionKeyMismatch as exc:
            await runtime.close()
            raise ConfigError([str(exc)]) from None
        return runtime

    async def close(self) -> None:
        await self.pending.close()  # before the engine goes: what answers left behind is written
        await self.answers.close()
        await self.event_claims.close()  # claims made in memory are written before the engine goes
        if self.client.session is not None:
            await self.client.session.close()
        if self._own_http is not None:
            await self._own_http.close()
        await self.engine.dispose()
