"""Workflows and their runs: the only SQL the workflow feature speaks.

Owner-scoped reads and writes take the owner's (enterprise, team, user) and match all three, so
a workflow id from a crafted button value finds nothing of someone else's. `claim` is the
exactly-once guard: one INSERT … ON CONFLICT DO NOTHING on the unique (workflow, due time) pair.
"""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.storage.models import Workflow, WorkflowRun, utcnow

ACTIVE = ("enabled",)


@functools.cache
def _claim_statement(dialect_name: str):
    insert = pg_insert if dialect_name == "postgresql" else sqlite_insert
    return insert(WorkflowRun.__table__).on_conflict_do_nothing(index_elements=["workflow_id", "due_at"])


def _owned(person):
    return (
        Workflow.enterprise_id == person.enterprise_id,
        Workflow.team_id == person.team_id,
        Workflow.user_id == person.user_id,
    )


class Workflows:
    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    # ------------------------------------------------------------------ workflows

    async def add(self, row: dict) -> None:
        now = utcnow()
        async with self._sessions.begin() as session:
            session.add(Workflow(created_at=now, updated_at=now, **row))

    async def get(self, workflow_id: str) -> Workflow | None:
        async with self._sessions() as session:
            return await session.get(Workflow, workflow_id)

    async def owned(self, person, workflow_id: str) -> Workflow | None:
        async with self._sessions() as session:
            result = await session.execute(select(Workflow).where(Workflow.id == workflow_id, *_owned(person)))
            return result.scalar_one_or_none()

    async def for_owner(self, person, *, include_drafts: bool = False) -> list[Workflow]:
        query = select(Workflow).where(*_owned(person)).order_by(Workflow.created_at)
        if not include_drafts:
            query = query.where(Workflow.status != "draft")
        async with self._sessions() as session:
            return list((await session.execute(query)).scalars())

    async def count_active(self, enterprise_id: str, team_id: str, user_id: str | None = None) -> int:
        query = select(func.count()).select_from(Workflow).where(
            Workflow.enterprise_id == enterprise_id, Workflow.team_id == team_id, Workflow.status.in_(ACTIVE)
        )
        if user_id is not None:
            query = query.where(Workflow.user_id == user_id)
        async with self._sessions() as session:
            return int((await session.execute(query)).scalar_one())

    async def update_owned(self, person, workflow_id: str, *, only_status: tuple[str, ...] = (), **values) -> bool:
        """Change the owner's workflow; with `only_status`, only while it is in one of those states."""
        query = update(Workflow).where(Workflow.id == workflow_id, *_owned(person))
        if only_status:
            query = query.where(Workflow.status.in_(only_status))
        async with self._sessions.begin() as session:
            result = await session.execute(query.values(updated_at=utcnow(), **values))
            return (result.rowcount or 0) == 1

    async def update(self, workflow_id: str, **values) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(Workflow).where(Workflow.id == workflow_id).values(updated_at=utcnow(), **values))

    async def delete_owned(self, person, workflow_id: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(delete(Workflow).where(Workflow.id == workflow_id, *_owned(person)))
            if (result.rowcount or 0) != 1:
                return False
            await session.execute(delete(WorkflowRun).where(WorkflowRun.workflow_id == workflow_id))
            return True

    async def many(self, workflow_ids: list[str]) -> dict[str, Workflow]:
        async with self._sessions() as session:
            result = await session.execute(select(Workflow).where(Workflow.id.in_(workflow_ids)))
            return {w.id: w for w in result.scalars()}

    async def scheduled(self) -> list[tuple[str, datetime]]:
        """(id, next run) of every enabled workflow that has one: what the scheduler loads at start."""
        query = select(Workflow.id, Workflow.next_run_at).where(
            Workflow.status == "enabled", Workflow.next_run_at.is_not(None)
        )
        async with self._sessions() as session:
            return [(row[0], row[1]) for row in (await session.execute(query)).all()]

    async def pause_where(self, enterprise_id: str, team_id: str, user_id: str | None, reason: str) -> list[str]:
        """Pause every enabled workflow of a workspace (or of one person in it); their ids."""
        conditions = [
            Workflow.enterprise_id == enterprise_id,
            Workflow.team_id == team_id,
            Workflow.status == "enabled",
        ]
        if user_id is not None:
            conditions.append(Workflow.user_id == user_id)
        async with self._sessions.begin() as session:
            ids = list((await session.execute(select(Workflow.id).where(*conditions))).scalars())
            if ids:
                await session.execute(
                    update(Workflow)
                    .where(Workflow.id.in_(ids))
                    .values(status="paused", paused_reason=reason[:300], updated_at=utcnow())
                )
            return ids

    # ------------------------------------------------------------------ runs

    async def claim(self, run: dict) -> bool:
        """Insert a run for (workflow, due time); False when another process already has it."""
        async with self._sessions.kw["bind"].begin() as conn:
            result = await conn.execute(_claim_statement(conn.dialect.name), run)
            return result.rowcount == 1

    async def settle_due(self, runs: list[dict], advances: list[dict]) -> set[str]:
        """One transaction for a batch of due workflows: insert their runs (claims; a run another
        replica inserted first is skipped) and move each workflow's next run on, only where it
        still holds the time this batch read (compare-and-set). Returns the run ids inserted."""
        won: set[str] = set()
        async with self._sessions.kw["bind"].begin() as conn:
            if runs:
                statement = _claim_statement(conn.dialect.name).returning(WorkflowRun.__table__.c.id)
                won = {row[0] for row in (await conn.execute(statement, runs)).all()}
            if advances:
                table = Workflow.__table__
                await conn.execute(
                    update(table)
                    .where(
                        table.c.id == bindparam("w_id"),
                        table.c.next_run_at == bindparam("expected"),
                        table.c.status == "enabled",
                    )
                    .values(
                        next_run_at=bindparam("next_run_at"),
                        last_due_at=bindparam("last_due_at"),
                        last_status=bindparam("last_status"),
                        updated_at=bindparam("updated_at"),
                    ),
                    advances,
                )
        return won

    async def finish_run(
        self, run_id: str, workflow_id: str, status: str, *, only_running: bool = False, **values
    ) -> int | None:
        """Record a run's end and the workflow's last status in one transaction; returns the
        failures in a row after it (a success resets them, missed or skipped leave them).
        `only_running`: only if the run is still recorded as running (None, and nothing written,
        when it was recorded meanwhile: a worker that finished it just before it died)."""
        failures = {"failed": Workflow.failures_in_row + 1, "success": 0}.get(status, Workflow.failures_in_row)
        async with self._sessions.begin() as session:
            statement = update(WorkflowRun).where(WorkflowRun.id == run_id)
            if only_running:
                statement = statement.where(WorkflowRun.status == "running")
            changed = await session.execute(statement.values(status=status, **values))
            if only_running and changed.rowcount != 1:
                return None
            await session.execute(
                update(Workflow)
                .where(Workflow.id == workflow_id)
                .values(last_status=status, failures_in_row=failures, updated_at=utcnow())
            )
            count = await session.execute(select(Workflow.failures_in_row).where(Workflow.id == workflow_id))
            return int(count.scalar_one_or_none() or 0)

    async def run(self, run_id: str) -> WorkflowRun | None:
        async with self._sessions() as session:
            return await session.get(WorkflowRun, run_id)

    async def history(self, workflow_id: str, limit: int = 20) -> list[WorkflowRun]:
        query = (
            select(WorkflowRun)
            .where(WorkflowRun.workflow_id == workflow_id)
            .order_by(WorkflowRun.due_at.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            return list((await session.execute(query)).scalars())
