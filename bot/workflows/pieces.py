"""The pieces of "when" the grammar finds in a request, before they are resolved against "now"."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.workflows.clock import Day, Tokens

WEEKDAYS = ["MO", "TU", "WE", "TH", "FR"]
WEEKEND = ["SA", "SU"]


@dataclass
class Repeat:
    """How often: an RRULE's FREQ, INTERVAL and BYxxx parts, as far as the words say them."""

    freq: str
    interval: int = 1
    byday: list[str] = field(default_factory=list)
    bymonthday: list[int] = field(default_factory=list)
    bymonth: list[int] = field(default_factory=list)
    bysetpos: list[int] = field(default_factory=list)
    times: list[tuple[int, int]] = field(default_factory=list)  # implied ("every morning")
    needs_times: int = 0  # "twice a day" runs at the times the person names
    text: str = ""
    weak: bool = False  # "daily" before a noun ("the daily report")


@dataclass
class Times:
    values: list[tuple[int, int]]


@dataclass
class Window:
    first: tuple[int, int]
    last: tuple[int, int]


@dataclass
class Bound:
    kind: str  # start, until, for, count
    day: Day | None = None
    amount: int = 0
    unit: str = ""
    text: str = ""


@dataclass
class Relative:
    delta: timedelta
    text: str = ""


@dataclass
class Zone:
    name: str


@dataclass
class Found:
    """What the scanner found: the pieces, and the character spans they covered."""

    pieces: list[tuple[int, int, object]]
    tokens: Tokens


__all__ = ["Bound", "Day", "Found", "Relative", "Repeat", "Times", "WEEKDAYS", "WEEKEND", "Window", "Zone"]
