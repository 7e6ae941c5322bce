"""ORM models. Every per-person row is keyed by enterprise, team and user ids."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A random (version 4) UUID in its usual text form, as `str(uuid.uuid4())` gives, made
    without building a `uuid.UUID`: every answer makes several of these on its path."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Base(DeclarativeBase):
    pass


# Slack ids are short; enterprise is "" (not NULL) outside Enterprise Grid so it can be part of keys.
SlackId = String(32)


class EventClaim(Base):
    """One row per Slack event_id handled: the persistent at-least-once guard."""

    __tablename__ = "slack_event_claims"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(SlackId, default="")
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_slack_event_claims_claimed_at", "claimed_at"),)


class ProviderCredential(Base):
    """A provider key (encrypted) with its non-secret settings, owned by a person or a workspace.

    Workspace-shared keys have `user_id == ""`. The plaintext never touches this row: `secret`
    holds an encrypted token of the key, `hint` the few characters a person may see.
    """

    __tablename__ = "provider_credentials"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(SlackId, default="")
    team_id: Mapped[str] = mapped_column(SlackId)
    user_id: Mapped[str] = mapped_column(SlackId, default="")
    provider: Mapped[str] = mapped_column(String(32))
    secret: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    hint: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="unchecked")  # unchecked|ok|failing|needs_reentry
    status_detail: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        UniqueConstraint(
            "enterprise_id", "team_id", "user_id", "provider", name="uq_provider_credentials_owner"
        ),
    )

    def __repr__(self) -> str:
        return (
            f"ProviderCredential({self.provider}, {self.team_id}/{self.user_id or 'workspace'}, {self.hint})"
        )


class WorkspacePolicy(Base):
    """What a workspace admin decided for everyone: blocked providers (budgets come later)."""

    __tablename__ = "workspace_policies"

    enterprise_id: Mapped[str] = mapped_column(SlackId, primary_key=True, default="")
    team_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    blocked_providers: Mapped[list] = mapped_column(JSON, default=list)
    monthly_budget_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Slack Connect: may people from other organisations use this workspace's shared keys?
    allow_external_keys: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEvent(Base):
    """Who did what to keys and workspace policy, and when. Never the key itself."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    enterprise_id: Mapped[str] = mapped_column(SlackId, default="")
    team_id: Mapped[str] = mapped_column(SlackId)
    actor_user_id: Mapped[str] = mapped_column(SlackId)
    action: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(32), default="")
    scope: Mapped[str] = mapped_column(String(16), default="personal")  # personal|workspace
    detail: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_audit_events_workspace_time", "enterprise_id", "team_id", "created_at"),)


class Meta(Base):
    """Small process-wide facts, e.g. the encryption canary."""

    __tablename__ = "atom_meta"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ConversationTurn(Base):
    """One message of a conversation Atom keeps (its own memory, not Slack's history).

    `thread_key` names the Slack thread (channel and thread ts); `content` is an encrypted token.
    """

    __tablename__ = "conversation_turns"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(SlackId, default="")
    team_id: Mapped[str] = mapped_column(SlackId)
    user_id: Mapped[str] = mapped_column(SlackId)  # who asked (for assistant turns: who the answer was for)
    thread_key: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(12))  # user | assistant
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        Index("ix_conversation_turns_thread", "team_id", "thread_key", "created_at"),
        Index("ix_conversation_turns_user", "team_id", "user_id"),
        Index("ix_conversation_turns_created", "created_at"),
    )


class UsageRecord(Base):
    """One answered (or failed) request: what it cost, what it saved, how it went."""

    __tablename__ = "usage_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(SlackId, default="")
    team_id: Mapped[str] = mapped_column(SlackId)
    user_id: Mapped[str] = mapped_column(SlackId)
    surface: Mapped[str] = mapped_column(String(16))
    task: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(32), default="")
    model: Mapped[str] = mapped_column(String(80), default="")
    key_scope: Mapped[str] = mapped_column(String(16), default="personal")
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    baseline_cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    first_token_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    failovers: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(16), default="ok")  # ok | cut_off | failed
    feedback: Mapped[str | None] = mapped_column(String(8), nullable=True)
    explanation: Mapped[str] = mapped_column(Text, default="")
    answer_turn_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        Index("ix_usage_records_user_time", "team_id", "user_id", "created_at"),
        Index("ix_usage_records_team_time", "team_id", "created_at"),
    )


class PersonSettings(Base):
    """A person's routing mode, pinned model, per-task overrides and monthly budget."""

    __tablename__ = "person_settings"

    enterprise_id: Mapped[str] = mapped_column(SlackId, primary_key=True, default="")
    team_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    user_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    mode: Mapped[str] = mapped_column(String(80), default="balanced")
    overrides: Mapped[dict] = mapped_column(JSON, default=dict)
    monthly_budget_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SlackInstallation(Base):
    """A workspace (or org) that installed Atom through OAuth. The bot token is an encrypted token."""

    __tablename__ = "slack_installations"

    enterprise_id: Mapped[str] = mapped_column(SlackId, primary_key=True, default="")
    team_id: Mapped[str] = mapped_column(SlackId, primary_key=True, default="")
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean, default=False)
    app_id: Mapped[str] = mapped_column(String(32), default="")
    bot_id: Mapped[str] = mapped_column(String(32), default="")
    bot_user_id: Mapped[str] = mapped_column(String(32), default="")
    bot_scopes: Mapped[str] = mapped_column(Text, default="")
    secret: Mapped[str] = mapped_column(Text)  # {"bot_token", "bot_refresh_token"} as JSON, encrypted
    bot_token_expires_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    installed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- Connectors (bot/connectors/): per-person OAuth connections and their pending OAuth states ---


class ServiceConnection(Base):
    """A person's OAuth connection to one provider ("google" covers Calendar, Gmail and Drive).

    `secret` is an encrypted token of {"access_token", "refresh_token"} as JSON; `scopes` are the ones
    the provider granted (space-separated), so what Atom may do is read from here, not assumed.
    """

    __tablename__ = "service_connections"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(SlackId, default="")
    team_id: Mapped[str] = mapped_column(SlackId)
    user_id: Mapped[str] = mapped_column(SlackId)
    provider: Mapped[str] = mapped_column(String(16))  # google | asana
    account: Mapped[str] = mapped_column(String(200), default="")
    scopes: Mapped[str] = mapped_column(Text, default="")
    secret: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok | broken
    status_detail: Mapped[str] = mapped_column(String(300), default="")
    connected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        UniqueConstraint("enterprise_id", "team_id", "user_id", "provider", name="uq_service_connections_owner"),
    )

    def __repr__(self) -> str:
        return f"ServiceConnection({self.provider}, {self.team_id}/{self.user_id}, {self.status})"


class ConnectorOAuthState(Base):
    """One OAuth attempt: random, single-use, 10 minutes, bound to the person who clicked.

    Only the SHA-256 of the state is stored; `secret` is an encrypted token of the PKCE verifier.
    """

    __tablename__ = "connector_oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(SlackId, default="")
    team_id: Mapped[str] = mapped_column(SlackId)
    user_id: Mapped[str] = mapped_column(SlackId)
    service: Mapped[str] = mapped_column(String(32))  # the connector asked for, e.g. gmail
    scopes: Mapped[str] = mapped_column(Text, default="")
    secret: Mapped[str] = mapped_column(Text)
    browser_hash: Mapped[str] = mapped_column(String(64), default="")  # set when /start is opened
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_connector_oauth_states_expires", "expires_at"),)


class ConnectorApproval(Base):
    """A side effect a model proposed in chat, waiting for its owner's Approve (24 hours, once).

    `params` is an encrypted token of the action's parameters (an email's body is personal data).
    """

    __tablename__ = "connector_approvals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(SlackId, default="")
    team_id: Mapped[str] = mapped_column(SlackId)
    user_id: Mapped[str] = mapped_column(SlackId)
    action_id: Mapped[str] = mapped_column(String(64))
    params: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|running|done|failed|cancelled
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_connector_approvals_expires", "expires_at"),)


# ---------------------------------------------------------------- workflows (issue 12)


class Workflow(Base):
    """A person's scheduled workflow: its spec (no secrets: keys and tokens are read at run time),
    whether it runs, and when it runs next. This table, not the scheduler, is the source of truth."""

    __tablename__ = "workflows"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(SlackId, default="")
    team_id: Mapped[str] = mapped_column(SlackId)
    user_id: Mapped[str] = mapped_column(SlackId)  # the owner: whose keys, connections and DM
    name: Mapped[str] = mapped_column(String(80))
    spec: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | enabled | paused
    confirmed: Mapped[list] = mapped_column(JSON, default=list)  # side-effect fingerprints Enable confirmed
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_status: Mapped[str] = mapped_column(String(16), default="")
    failures_in_row: Mapped[int] = mapped_column(Integer, default=0)
    paused_reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        Index("ix_workflows_owner", "team_id", "user_id"),
        Index("ix_workflows_status_next", "status", "next_run_at"),
    )


class WorkflowRun(Base):
    """One run, or one missed occurrence, of a workflow. The unique (workflow, due time) pair is
    the claim that makes each occurrence run once across replicas. `outputs` is encrypted: step
    outputs hold people's mail and calendar text."""

    __tablename__ = "workflow_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(36))
    enterprise_id: Mapped[str] = mapped_column(SlackId, default="")
    team_id: Mapped[str] = mapped_column(SlackId)
    user_id: Mapped[str] = mapped_column(SlackId)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")  # schedule | manual | retry
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|success|failed|skipped|missed
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    steps: Mapped[list] = mapped_column(JSON, default=list)  # [{id, status, ms, chars, truncated, error}]
    outputs: Mapped[str] = mapped_column(Text, default="")  # encrypted token of {step id: text (truncated)}
    error: Mapped[str] = mapped_column(String(500), default="")
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)

    __table_args__ = (
        UniqueConstraint("workflow_id", "due_at", name="uq_workflow_runs_claim"),
        Index("ix_workflow_runs_history", "workflow_id", "started_at"),
    )


# ---- Agent messaging: a top-level follow-up continues an earlier conversation (bot/memory.py) ----


class ConversationLink(Base):
    """A Slack thread whose memory is another thread's: a top-level "and in Go?" sent soon after an
    answer continues that answer's conversation, and replies in its own thread must too."""

    __tablename__ = "conversation_links"

    enterprise_id: Mapped[str] = mapped_column(SlackId, primary_key=True, default="")
    team_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    thread_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    user_id: Mapped[str] = mapped_column(SlackId)
    conversation_key: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_conversation_links_created", "created_at"),)


# ------------------------------------------------------------------ answers in flight (delivery)


class AnswerInFlight(Base):
    """An answer being given, or one Slack would not take: what a restart or a Retry needs.

    Written when an answer starts and deleted once it is delivered, so a row left at start-up is
    an answer a crash cut short. `question` and `answer` are encrypted tokens, like conversation
    memory; `footer` holds the answer's cost line and buttons (no text of the answer).
    """

    __tablename__ = "answers_in_flight"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(SlackId, default="")
    team_id: Mapped[str] = mapped_column(SlackId)
    user_id: Mapped[str] = mapped_column(SlackId)
    channel: Mapped[str] = mapped_column(SlackId)
    thread_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    surface: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="answering")  # answering | undelivered | interrupted
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    footer: Mapped[list | None] = mapped_column(JSON, nullable=True)
    message_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    streaming: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_answers_in_flight_state", "state"),)
