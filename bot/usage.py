"""Usage and spend: every call recorded, monthly summaries, budgets, preferences.

Budgets are monthly (calendar month, UTC) per person (set by them) and per workspace (set by an
admin). Over budget, Atom explains and does not call.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.identity import Person
from bot.llm.pricing import format_usd
from bot.pending import PendingWrites
from bot.readcache import ReadCache
from bot.storage.models import new_id, utcnow
from bot.storage.repositories import PersonSettingsStore, UsageLog, WorkspaceBudgets

MODES = ("save", "balanced", "best")


def month_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass
class MonthSummary:
    requests: int = 0
    spend: float = 0.0
    baseline: float = 0.0
    by_provider: dict[str, list] = field(default_factory=lambda: defaultdict(lambda: [0, 0.0]))
    by_task: dict[str, list] = field(default_factory=lambda: defaultdict(lambda: [0, 0.0]))
    budget: float | None = None
    workspace_budget: float | None = None
    workspace_spend: float = 0.0

    @property
    def saving(self) -> float:
        return max(0.0, self.baseline - self.spend)


@dataclass(frozen=True)
class Preferences:
    mode: str = "balanced"
    overrides: dict = field(default_factory=dict)
    monthly_budget: float | None = None


class UsageService:
    def __init__(self, sessions, pending: PendingWrites | None = None):
        self.log = UsageLog(sessions)
        self._prefs = PersonSettingsStore(sessions)
        self._budgets = WorkspaceBudgets(sessions)
        # Records are written in batches; every read of them flushes first (see bot/pending.py).
        self.pending = pending or PendingWrites(sessions)
        # Preferences and the workspace budget, read before every answer; cleared by every change
        # below (see bot/readcache.py).
        self._settings: ReadCache = ReadCache()

    @staticmethod
    def new_id() -> str:
        return new_id()

    def record(self, person: Person, record_id: str, **values) -> None:
        """Queue one usage record (after the turns it may point at); written soon."""
        self.pending.add(
            usage=[
                {
                    "id": record_id,
                    "enterprise_id": person.enterprise_id,
                    "team_id": person.team_id,
                    "user_id": person.user_id,
                    "created_at": utcnow(),
                    **values,
                }
            ]
        )

    async def get(self, record_id: str):
        """One usage record by id (callers check whose it is)."""
        await self.pending.flush()
        return await self.log.get(record_id)

    async def records(self, person: Person) -> list:
        """Every usage record of one person, oldest first (`/atom export`)."""
        await self.pending.flush()
        rows = await self.log.since(
            person.enterprise_id, person.team_id, datetime(1970, 1, 1, tzinfo=UTC), person.user_id
        )
        return sorted(rows, key=lambda r: (r.created_at.replace(tzinfo=None), r.id))

    async def set_feedback(self, person: Person, record_id: str, feedback: str) -> bool:
        """Only the person the answer was for can rate it."""
        await self.pending.flush()
        return await self.log.set_feedback(
            record_id, person.enterprise_id, person.team_id, person.user_id, feedback
        )

    async def month(self, person: Person, now: datetime | None = None) -> MonthSummary:
        since = month_start(now)
        summary = MonthSummary()
        await self.pending.flush()
        for record in await self.log.since(person.enterprise_id, person.team_id, since, person.user_id):
            if record.outcome == "failed":
                continue
            summary.requests += 1
            summary.spend += record.cost_usd
            summary.baseline += record.baseline_cost_usd
            summary.by_provider[record.provider][0] += 1
            summary.by_provider[record.provider][1] += record.cost_usd
            summary.by_task[record.task][0] += 1
            summary.by_task[record.task][1] += record.cost_usd
        summary.budget = (await self.preferences(person)).monthly_budget
        summary.workspace_budget = await self._budgets.get(person.enterprise_id, person.team_id)
        if summary.workspace_budget is not None:
            summary.workspace_spend = await self.log.spent_since(person.enterprise_id, person.team_id, since)
        return summary

    async def gate(self, person: Person, now: datetime | None = None) -> tuple[Preferences, str | None]:
        """The person's preferences, and why Atom must not call now (a budget is used up) or None.
        Spend is summed only when a budget is set: most people have none."""
        prefs, workspace_budget = await self._settings.get(person, lambda: self._read_settings(person))
        if prefs.monthly_budget is None and workspace_budget is None:
            return prefs, None
        since = month_start(now)
        await self.pending.flush()  # spend includes the answers just given
        if prefs.monthly_budget is not None:
            spent = await self.log.spent_since(person.enterprise_id, person.team_id, since, person.user_id)
            if spent >= prefs.monthly_budget:
                return prefs, (
                    f"You have used your monthly budget ({format_usd(spent)} of {format_usd(prefs.monthly_budget)}). "
                    "Raise it in `/atom settings`, or wait for next month."
                )
        if workspace_budget is not None:
            spent = await self.log.spent_since(person.enterprise_id, person.team_id, since)
            if spent >= workspace_budget:
                return prefs, (
                    f"This workspace has used its monthly AI budget ({format_usd(spent)} of "
                    f"{format_usd(workspace_budget)}). A workspace admin can raise it in Atom's Home tab."
                )
        return prefs, None

    async def _read_settings(self, person: Person) -> tuple[Preferences, float | None]:
        row, workspace_budget = await self._prefs.get_with_workspace_budget(
            person.enterprise_id, person.team_id, person.user_id
        )
        return self._to_preferences(row), workspace_budget

    @staticmethod
    def _to_preferences(row) -> Preferences:
        if row is None:
            return Preferences()
        return Preferences(
            mode=row.mode, overrides=dict(row.overrides or {}), monthly_budget=row.monthly_budget_usd
        )

    async def preferences(self, person: Person) -> Preferences:
        return self._to_preferences(
            await self._prefs.get(person.enterprise_id, person.team_id, person.user_id)
        )

    async def save_preferences(self, person: Person, prefs: Preferences) -> None:
        try:
            await self._prefs.put(
                person.enterprise_id,
                person.team_id,
                person.user_id,
                mode=prefs.mode,
                overrides=prefs.overrides,
                monthly_budget_usd=prefs.monthly_budget,
            )
        finally:
            self._settings.clear()

    async def workspace_budget(self, person: Person) -> float | None:
        return await self._budgets.get(person.enterprise_id, person.team_id)

    async def set_workspace_budget(self, person: Person, budget: float | None) -> None:
        try:
            await self._budgets.set(person.enterprise_id, person.team_id, budget)
        finally:
            self._settings.clear()
