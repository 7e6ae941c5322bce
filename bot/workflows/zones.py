"""Time zones a person may name: IANA names, common abbreviations ("PST") and "<city> time".

Abbreviations name the region's zone, not a fixed offset: "5pm PST" in July means 5pm in Los
Angeles (as people mean it), so the schedule follows that zone's DST. Ambiguous abbreviations
take the reading most Slack workspaces mean ("IST" is India, "CST" is US Central).
"""

from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ABBREVIATIONS = {
    "utc": "UTC", "gmt": "UTC", "z": "UTC", "zulu": "UTC",
    "pst": "America/Los_Angeles", "pdt": "America/Los_Angeles", "pt": "America/Los_Angeles",
    "mst": "America/Denver", "mdt": "America/Denver", "mt": "America/Denver",
    "cst": "America/Chicago", "cdt": "America/Chicago", "ct": "America/Chicago",
    "est": "America/New_York", "edt": "America/New_York", "et": "America/New_York",
    "akst": "America/Anchorage", "hst": "Pacific/Honolulu",
    "bst": "Europe/London", "wet": "Europe/Lisbon", "cet": "Europe/Berlin", "cest": "Europe/Berlin",
    "eet": "Europe/Athens", "eest": "Europe/Athens", "msk": "Europe/Moscow",
    "ist": "Asia/Kolkata", "pkt": "Asia/Karachi", "sgt": "Asia/Singapore", "hkt": "Asia/Hong_Kong",
    "jst": "Asia/Tokyo", "kst": "Asia/Seoul", "awst": "Australia/Perth",
    "acst": "Australia/Adelaide", "acdt": "Australia/Adelaide",
    "aest": "Australia/Sydney", "aedt": "Australia/Sydney",
    "nzst": "Pacific/Auckland", "nzdt": "Pacific/Auckland", "brt": "America/Sao_Paulo",
}  # fmt: skip
# Words that come before "time" and name a region rather than a city.
REGIONS = {
    "pacific": "America/Los_Angeles", "mountain": "America/Denver", "central": "America/Chicago",
    "eastern": "America/New_York", "india": "Asia/Kolkata", "indian": "Asia/Kolkata",
    "uk": "Europe/London", "british": "Europe/London", "japan": "Asia/Tokyo",
    "universal": "UTC", "greenwich": "UTC", "utc": "UTC", "gmt": "UTC",
    "nyc": "America/New_York", "sf": "America/Los_Angeles", "la": "America/Los_Angeles",
    "bangalore": "Asia/Kolkata", "bengaluru": "Asia/Kolkata", "mumbai": "Asia/Kolkata",
    "delhi": "Asia/Kolkata", "beijing": "Asia/Shanghai", "munich": "Europe/Berlin",
    "washington": "America/New_York", "boston": "America/New_York", "seattle": "America/Los_Angeles",
    "san francisco": "America/Los_Angeles", "new york": "America/New_York",
}  # fmt: skip
_IANA_SHAPE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}$")


class UnknownZone(ValueError):
    """A zone name that the system's tz database does not know."""


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name, or UnknownZone (never a path or a traceback)."""
    if not isinstance(name, str) or not _IANA_SHAPE.match(name) or ".." in name or len(name) > 64:
        raise UnknownZone(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise UnknownZone(name) from exc


@lru_cache(maxsize=512)
def canonical(name: str) -> str:
    """The IANA spelling of a zone the person typed in any case ("europe/berlin")."""
    try:
        zone(name)
        return name
    except UnknownZone:
        found = _by_lower_name().get(name.lower())
        if found is None:
            raise
        return found


@lru_cache(maxsize=512)
def known(name: str) -> bool:
    """Whether a slashed name is a real zone, in any case ("Europe/Berlin", "europe/berlin")."""
    try:
        canonical(name)
        return True
    except UnknownZone:
        return False


def city(words: str) -> str | None:
    """The zone of a city or region ("berlin", "new york", "pacific"), None when unknown."""
    words = words.lower().strip()
    if words in REGIONS:
        return REGIONS[words]
    return _by_city().get(words.replace(" ", "_"))


@lru_cache(maxsize=1)
def _by_city() -> dict[str, str]:
    # Loaded on the first "<city> time" only: listing the tz database costs a few milliseconds.
    from zoneinfo import available_timezones

    cities: dict[str, str] = {}
    for name in sorted(available_timezones()):
        head, _, tail = name.rpartition("/")
        if head and head.split("/")[0] in _CONTINENTS:
            cities.setdefault(tail.lower(), name)
    return cities


@lru_cache(maxsize=1)
def _by_lower_name() -> dict[str, str]:
    from zoneinfo import available_timezones

    return {name.lower(): name for name in available_timezones()}


_CONTINENTS = frozenset(
    {"Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"}
)
