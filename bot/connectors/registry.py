"""The one list of connectors and actions that the Home tab, chat tools and workflows all read.

Adding a service is one module with its `ACTIONS` and one `Connector` line here. A connector
whose OAuth client is not configured is hidden (not listed, not offered), never shown broken.
"""

from __future__ import annotations

from bot.connectors import asana, calendar, drive, gmail, slack
from bot.connectors.base import Action, Connector

GOOGLE_ACCOUNT_SCOPES = ("https://www.googleapis.com/auth/userinfo.email",)

CONNECTORS = (
    Connector("google_calendar", "Google Calendar", "google", "read your events, find free time, create events",
              calendar.ACTIONS),
    Connector("gmail", "Gmail", "google", "read and search your email, draft and send (after you approve)",
              gmail.ACTIONS),
    Connector("google_drive", "Google Drive", "google", "search your files and read Docs, Sheets and PDFs",
              drive.ACTIONS),
    Connector("asana", "Asana", "asana", "list your tasks, create and complete tasks (after you approve)",
              asana.ACTIONS),
    Connector("slack", "Slack", None, "read channels you are in, post for you (after you approve)", slack.ACTIONS),
)

# What `/atom connect <word>` accepts besides the connector names.
ALIASES = {
    "calendar": "google_calendar",
    "gcal": "google_calendar",
    "google_calendar": "google_calendar",
    "google-calendar": "google_calendar",
    "mail": "gmail",
    "email": "gmail",
    "drive": "google_drive",
    "google-drive": "google_drive",
    "gdrive": "google_drive",
}


class Registry:
    def __init__(self, settings, connectors: tuple[Connector, ...] = CONNECTORS):
        configured = {
            None: True,
            "google": bool(settings.google_client_id and settings.google_client_secret),
            "asana": bool(settings.asana_client_id and settings.asana_client_secret),
        }
        self._all = {c.name: c for c in connectors}
        self._visible = {c.name: c for c in connectors if configured.get(c.provider, False)}
        self._actions = {a.id: a for c in self._visible.values() for a in c.actions}

    def visible(self) -> list[str]:
        """Names of the connectors this Atom can use (their OAuth client is configured)."""
        return list(self._visible)

    def connectors(self) -> list[Connector]:
        return list(self._visible.values())

    def connector(self, name: str) -> Connector | None:
        return self._visible.get(name)

    def resolve(self, word: str) -> Connector | None:
        """A connector from what a person typed ("calendar", "Gmail", "google drive")."""
        key = word.strip().lower().replace(" ", "_")
        return self._visible.get(ALIASES.get(key, key))

    def actions(self) -> list[Action]:
        return list(self._actions.values())

    def action(self, action_id: str) -> Action | None:
        return self._actions.get(action_id)

    def scopes_for(self, provider: str, names: set[str]) -> tuple[str, ...]:
        """Every scope the named connectors of `provider` need, plus the account scope for Google."""
        seen: dict[str, None] = {}
        if provider == "google":
            seen.update(dict.fromkeys(GOOGLE_ACCOUNT_SCOPES))
        for name in sorted(names):
            connector = self._visible.get(name)
            if connector and connector.provider == provider:
                seen.update(dict.fromkeys(connector.scopes))
        return tuple(seen)
