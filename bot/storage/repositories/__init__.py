"""Repositories: the only code that speaks SQL. Services get plain values back."""

from bot.storage.repositories.conversations import AnswerRecords, PersonSettingsStore, Turns, UsageLog
from bot.storage.repositories.events import EventClaims
from bot.storage.repositories.keys import (
    AuditLog,
    Credentials,
    MetaValues,
    WorkspaceBudgets,
    WorkspacePolicies,
)
from bot.storage.repositories.workflows import Workflows

__all__ = [
    "AnswerRecords",
    "AuditLog",
    "Credentials",
    "EventClaims",
    "MetaValues",
    "PersonSettingsStore",
    "Turns",
    "UsageLog",
    "WorkspaceBudgets",
    "WorkspacePolicies",
    "Workflows",
]
