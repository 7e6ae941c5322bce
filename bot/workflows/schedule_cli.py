"""`atom schedule "<phrase>" [--tz ZONE] [--now ISO-TIME] [--count N]`: the parser as JSON.

Needs no settings, network, Slack or model: it imports only the schedule code, so it starts and
exits in a fraction of a second. Every failure - not a schedule, an unknown zone, a bad `--now`
or `--count` - is one JSON object with `error` on stdout and exit code 1, never a traceback.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

MAX_COUNT = 100


def run(phrase: list[str], tz: str, now: str | None, count: str) -> int:
    from bot.workflows import zones
    from bot.workflows.schedule import ScheduleError, parse_schedule

    try:
        text = " ".join(phrase)
        number = _count(count)
        zone_name = _zone(tz)
        moment = _now(now) or datetime.now(UTC)
        if moment.tzinfo is None or moment.utcoffset() is None:
            moment = moment.replace(tzinfo=zones.zone(zone_name))  # a bare --now is in --tz
        schedule = parse_schedule(text, tz=zone_name, now=moment)
        result = schedule.to_dict(now=moment, count=number)
    except ScheduleError as exc:
        return _fail(str(exc))
    except Exception as exc:  # a bug must still answer in the contract's shape
        return _fail(f"Atom could not read that schedule ({type(exc).__name__}); please report it.")
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _count(value: str) -> int:
    from bot.workflows.schedule import ScheduleError

    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ScheduleError(f'--count must be a whole number, not "{str(value)[:20]}".') from None
    if not 1 <= number <= MAX_COUNT:
        raise ScheduleError(f"--count must be between 1 and {MAX_COUNT}.")
    return number


def _zone(value: str) -> str:
    from bot.workflows import zones
    from bot.workflows.schedule import ScheduleError

    try:
        return zones.canonical(value)
    except zones.UnknownZone:
        shown = value[:64] if value.isprintable() else "that zone"
        raise ScheduleError(
            f'--tz "{shown}" is not a time zone Atom knows: use an IANA name such as Europe/Berlin.'
        ) from None


def _now(value: str | None) -> datetime | None:
    from bot.workflows.schedule import ScheduleError

    if value is None:
        return None
    try:
        text = value.strip()
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        shown = value[:40] if value.isprintable() else "that value"
        raise ScheduleError(
            f'--now must be an ISO 8601 time such as 2026-12-01T09:00:00+01:00, not "{shown}".'
        ) from None


def _fail(message: str) -> int:
    print(json.dumps({"error": message}, ensure_ascii=False))
    sys.stdout.flush()
    return 1
