"""Schedules: "every weekday at 9" → an RRULE in the person's zone, deterministic and tested.

`parse_schedule` is the one entry point: it checks the text, lets the grammar find the pieces of
"when", resolves them against "now" in the schedule's IANA zone and returns a `Schedule` - an
RFC 5545 recurrence (DTSTART;TZID + RRULE) or one instant - with a plain description and the
rest of the text as the task. Pure logic: no Slack, model, database or settings import, so the
Slack ack path and `atom schedule` can call it in well under a millisecond.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.workflows import describe, recurrence, zones
from bot.workflows.clock import PhraseError
from bot.workflows.grammar import scan
from bot.workflows.plan import PlanError, build

MAX_PHRASE = 2000  # a whole workflow request; Slack messages can be longer, schedules are not
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(r"\s+")


class ScheduleError(ValueError):
    """Not a schedule, or one that makes no sense; str(e) is one sentence for the person."""


@dataclass(frozen=True)
class Schedule:
    """When something runs: an RRULE (`rrule`) or one instant (`at`), never both, in `timezone`.

    Store `timezone`, `rrule`, `at`, `description` and `task`; `from_stored` reads them back.
    `next_runs` is the one source of run times: what the person is shown is what is scheduled.
    """

    timezone: str
    description: str
    task: str = ""
    rrule: str | None = None
    at: datetime | None = None

    def __post_init__(self) -> None:
        if (self.rrule is None) == (self.at is None):
            raise ScheduleError("A schedule is either repeating (an RRULE) or one instant, not both.")

    def next_runs(self, after: datetime, count: int = 5) -> list[datetime]:
        """The next `count` run times strictly after `after`, aware, in the schedule's zone."""
        after = _aware(after, self.timezone)
        if self.at is not None:
            return [self.at.astimezone(zones.zone(self.timezone))] if self.at > after and count > 0 else []
        if count <= 0:
            return []
        try:
            rule = recurrence.parse(self.rrule)
        except recurrence.BadRule as exc:
            raise ScheduleError(str(exc)) from None
        return recurrence.runs(rule, after, count)

    def to_dict(self, *, now: datetime, count: int = 5) -> dict:
        """Exactly what `atom schedule` prints."""
        result: dict[str, object] = {}
        if self.rrule is not None:
            result["rrule"] = self.rrule
        else:
            result["at"] = self.at.astimezone(zones.zone(self.timezone)).isoformat()
        result["timezone"] = self.timezone
        result["description"] = self.description
        result["next_runs"] = [run.isoformat() for run in self.next_runs(now, count)]
        result["task"] = self.task
        return result

    @classmethod
    def from_stored(
        cls,
        *,
        timezone: str,
        rrule: str | None = None,
        at: datetime | None = None,
        description: str = "",
        task: str = "",
    ) -> Schedule:
        """A schedule read back from storage; validates the zone and the rule."""
        try:
            tz = zones.zone(timezone)
        except zones.UnknownZone:
            raise ScheduleError(f'"{timezone}" is not a time zone Atom knows.') from None
        if rrule is not None:
            try:
                rule = recurrence.parse(rrule)
            except recurrence.BadRule as exc:
                raise ScheduleError(str(exc)) from None
            if rule.zone_name != timezone:
                raise ScheduleError(
                    f"The stored rule runs in {rule.zone_name} but the schedule says {timezone}."
                )
            description = description or describe.recurring(rule)
        elif at is not None:
            if at.tzinfo is None:
                raise ScheduleError("A stored one-off run time must carry its UTC offset.")
            at = at.astimezone(tz)
            description = description or describe.once(at, timezone)
        return cls(timezone=timezone, description=description, task=task, rrule=rrule, at=at)


def parse_schedule(
    text: str,
    *,
    tz: str = "UTC",
    now: datetime | None = None,
    min_interval: timedelta = timedelta(minutes=15),
) -> Schedule:
    """Read the schedule in `text`; ScheduleError (one clear sentence) when there is none."""
    zone_name = _zone_name(tz)
    now = _aware(now or datetime.now(UTC), zone_name)
    text = _clean(text)
    try:
        found = scan(text)
        plan = build(found, zone_name=zone_name, now=now, min_interval=min_interval)
    except (PhraseError, PlanError) as exc:
        raise ScheduleError(str(exc)) from None
    if plan.rule is not None:
        return Schedule(plan.zone_name, describe.recurring(plan.rule, plan.explicit_start),
                        plan.task, rrule=plan.rule.text())  # fmt: skip
    return Schedule(plan.zone_name, describe.once(plan.at, plan.zone_name), plan.task, at=plan.at)


def _zone_name(tz: str) -> str:
    try:
        return zones.canonical(tz)
    except zones.UnknownZone:
        shown = tz if isinstance(tz, str) and len(tz) <= 64 and tz.isprintable() else "that zone"
        raise ScheduleError(
            f'"{shown}" is not a time zone Atom knows: use an IANA name such as Europe/Berlin.'
        ) from None


def _aware(moment: datetime, zone_name: str) -> datetime:
    if not isinstance(moment, datetime):
        raise ScheduleError("The current time must be a date and time.")
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=zones.zone(zone_name))
    return moment


def _clean(text: str) -> str:
    if not isinstance(text, str):
        raise ScheduleError("A schedule must be text, such as “every weekday at 9am”.")
    if len(text) > MAX_PHRASE:
        raise ScheduleError(
            f"That is {len(text):,} characters; a schedule request must be at most {MAX_PHRASE:,}."
        )
    if _CONTROL.search(text):
        raise ScheduleError("The text contains control characters; write the schedule as plain text.")
    text = _SPACES.sub(" ", text).strip()
    if not text:
        raise ScheduleError("Say when, for example “every weekday at 9am” or “tomorrow at 3pm”.")
    return text
