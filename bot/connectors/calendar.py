"""Google Calendar: list events in a range, find free time in a day, create an event.

Days are the person's days: "today" and times without an offset are read in their Slack
timezone, and events are asked for in it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic

from bot.connectors.base import Action, ActionContext, ActionResult, ConnectorError
from bot.connectors.google_api import call_google

READ = "https://www.googleapis.com/auth/calendar.events.readonly"
WRITE = "https://www.googleapis.com/auth/calendar.events"
MAX_EVENTS = 50


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_day(text: str, today: date) -> date:
    word = text.strip().lower()
    if word in ("", "today"):
        return today
    if word == "tomorrow":
        return today + timedelta(days=1)
    if word == "yesterday":
        return today - timedelta(days=1)
    try:
        return date.fromisoformat(word[:10])
    except ValueError:
        raise ConnectorError("invalid", f"“{text[:40]}” is not a day: use today, tomorrow or YYYY-MM-DD") from None


def parse_when(text: str, zone: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConnectorError("invalid", f"“{text[:40]}” is not a date and time like 2026-12-02T15:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


class ListEventsParams(pydantic.BaseModel):
    day: str = pydantic.Field("today", description="first day: today, tomorrow or YYYY-MM-DD")
    days: int = pydantic.Field(1, ge=1, le=31, description="how many days from `day`")


class FreeTimeParams(pydantic.BaseModel):
    day: str = pydantic.Field("today", description="today, tomorrow or YYYY-MM-DD")
    min_minutes: int = pydantic.Field(30, ge=5, le=600, description="shortest free slot worth listing")
    day_start: str = pydantic.Field("09:00", description="start of the working day, HH:MM")
    day_end: str = pydantic.Field("18:00", description="end of the working day, HH:MM")


class CreateEventParams(pydantic.BaseModel):
    title: str = pydantic.Field(..., min_length=1, max_length=300)
    start: str = pydantic.Field(..., description="ISO date-time, e.g. 2026-12-02T15:00 (person's timezone)")
    duration_minutes: int = pydantic.Field(30, ge=5, le=24 * 60)
    attendees: list[str] = pydantic.Field(default_factory=list, description="email addresses to invite")
    description: str = pydantic.Field("", max_length=5000)


def _event_line(event: dict, zone: ZoneInfo) -> dict:
    start, end = event.get("start") or {}, event.get("end") or {}
    if "dateTime" in start:
        begins = datetime.fromisoformat(start["dateTime"]).astimezone(zone)
        ends = datetime.fromisoformat(end.get("dateTime", start["dateTime"])).astimezone(zone)
        when = f"{begins:%a %d %b %H:%M}–{ends:%H:%M}"
    else:
        when = f"{start.get('date', '?')} (all day)"
    return {
        "when": when,
        "title": event.get("summary") or "(no title)",
        "location": event.get("location") or "",
        "attendees": len(event.get("attendees") or []),
        "link": event.get("htmlLink") or "",
    }


async def _events(ctx: ActionContext, start: datetime, end: datetime, zone_name: str) -> list[dict]:
    def work(service, http):
        request = service("events").list(
            calendarId="primary",
            timeMin=start.isoformat(),
            timeMax=end.isoformat(),
            singleEvents=True,
            orderBy="startTime",
            timeZone=zone_name,
            maxResults=MAX_EVENTS,
        )
        return request.execute(http=http).get("items") or []

    return await call_google(ctx, "calendar", work)


async def list_events(ctx: ActionContext, params: ListEventsParams) -> ActionResult:
    zone_name = await ctx.timezone()
    zone = _zone(zone_name)
    first = parse_day(params.day, datetime.now(zone).date())
    start = datetime.combine(first, time.min, zone)
    end = start + timedelta(days=params.days)
    items = [_event_line(e, zone) for e in await _events(ctx, start, end, zone_name) if e.get("status") != "cancelled"]
    span = f"{first:%a %d %b}" + (f" – {first + timedelta(days=params.days - 1):%a %d %b}" if params.days > 1 else "")
    if not items:
        return ActionResult(ok=True, text=f"No events on {span} ({zone_name}).", data=[])
    lines = [f"Events on {span} ({zone_name}):"]
    lines += [f"• {e['when']} {e['title']}" + (f" @ {e['location']}" if e["location"] else "") for e in items]
    return ActionResult(ok=True, text="\n".join(lines), data=items)


def free_slots(busy: list[tuple[datetime, datetime]], start: datetime, end: datetime, minimum: timedelta):
    """Pure: the gaps of at least `minimum` between `start` and `end` not covered by `busy`."""
    slots, cursor = [], start
    for b_start, b_end in sorted(busy):
        if b_start > cursor and b_start - cursor >= minimum:
            slots.append((cursor, min(b_start, end)))
        cursor = max(cursor, b_end)
        if cursor >= end:
            break
    if end - cursor >= minimum:
        slots.append((cursor, end))
    return [(a, b) for a, b in slots if b - a >= minimum]


async def find_free_time(ctx: ActionContext, params: FreeTimeParams) -> ActionResult:
    zone_name = await ctx.timezone()
    zone = _zone(zone_name)
    day = parse_day(params.day, datetime.now(zone).date())
    try:
        start = datetime.combine(day, time.fromisoformat(params.day_start), zone)
        end = datetime.combine(day, time.fromisoformat(params.day_end), zone)
    except ValueError:
        raise ConnectorError("invalid", "working hours must look like 09:00 and 18:00") from None
    busy = []
    for event in await _events(ctx, start, end, zone_name):
        s, e = event.get("start") or {}, event.get("end") or {}
        if "dateTime" in s and event.get("transparency") != "transparent":
            busy.append((datetime.fromisoformat(s["dateTime"]), datetime.fromisoformat(e.get("dateTime", s["dateTime"]))))
    slots = free_slots(busy, start, end, timedelta(minutes=params.min_minutes))
    data = [{"start": a.astimezone(zone).isoformat(), "end": b.astimezone(zone).isoformat()} for a, b in slots]
    if not slots:
        return ActionResult(ok=True, text=f"No free slot of {params.min_minutes} minutes on {day:%a %d %b}.", data=[])
    lines = [f"Free on {day:%a %d %b} ({zone_name}):"]
    lines += [f"• {a.astimezone(zone):%H:%M}–{b.astimezone(zone):%H:%M}" for a, b in slots]
    return ActionResult(ok=True, text="\n".join(lines), data=data)


async def create_event(ctx: ActionContext, params: CreateEventParams) -> ActionResult:
    zone_name = await ctx.timezone()
    start = parse_when(params.start, _zone(zone_name))
    end = start + timedelta(minutes=params.duration_minutes)
    body = {
        "summary": params.title,
        "description": params.description,
        "start": {"dateTime": start.isoformat(), "timeZone": zone_name},
        "end": {"dateTime": end.isoformat(), "timeZone": zone_name},
        "attendees": [{"email": a} for a in params.attendees],
    }

    def work(service, http):
        return service("events").insert(calendarId="primary", body=body, sendUpdates="all").execute(http=http)

    event = await call_google(ctx, "calendar", work)
    return ActionResult(
        ok=True,
        text=f"Created “{params.title}” on {start:%a %d %b %H:%M}–{end:%H:%M}.",
        data={"id": event.get("id"), "link": event.get("htmlLink")},
    )


def _preview_event(p: CreateEventParams) -> str:
    who = f" with {', '.join(p.attendees)}" if p.attendees else ""
    return f"Create the event “{p.title}” at {p.start} for {p.duration_minutes} minutes{who}."


ACTIONS = (
    Action(
        id="calendar.list_events",
        connector="google_calendar",
        description="List the events on the person's primary Google Calendar for a day or a range of days.",
        Params=ListEventsParams,
        side_effect=False,
        scopes=(READ,),
        run=list_events,
        status="Reading your calendar…",
    ),
    Action(
        id="calendar.find_free_time",
        connector="google_calendar",
        description="Find free slots in the person's working day on their Google Calendar.",
        Params=FreeTimeParams,
        side_effect=False,
        scopes=(READ,),
        run=find_free_time,
        status="Looking for free time…",
    ),
    Action(
        id="calendar.create_event",
        connector="google_calendar",
        description="Create an event on the person's Google Calendar and invite attendees.",
        Params=CreateEventParams,
        side_effect=True,
        scopes=(WRITE,),
        run=create_event,
        preview=_preview_event,
        status="Creating the event…",
    ),
)
