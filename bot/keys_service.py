"""Adding, checking and removing provider keys: the steps between a form and the vault.

No Slack here: handlers turn requests into these calls and the results into views.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.config import Settings
from bot.identity import Person
from bot.llm import endpoints, keycheck
from bot.llm.credentials import Credential
from bot.llm.providers import Provider, check_key_format
from bot.storage.encryption import Secret
from bot.vault import KeyNeedsReentry, KeyNotFound, KeyVault


@dataclass
class KeySubmission:
    """A parsed key form. `errors` maps form field (block id) → message; empty when valid."""

    provider: Provider
    scope: str
    secret: Secret | None = field(default=None, repr=False)
    settings: dict = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SaveOutcome:
    saved: bool
    replaced: bool
    message: str
    hint: str


def parse_submission(provider: Provider, scope: str, values: Mapping[str, str | None]) -> KeySubmission:
    submission = KeySubmission(provider=provider, scope=scope)
    key, problem = check_key_format(provider, values.get("key"))
    if problem:
        submission.errors["key"] = problem
    else:
        submission.secret = Secret(key)
    if provider.validate_fields is not None:
        settings, errors = provider.validate_fields(
            {f.name: values.get(f.name) or "" for f in provider.fields}
        )
        submission.settings = settings
        submission.errors.update(errors)
    return submission


class KeyService:
    def __init__(self, vault: KeyVault, settings: Settings):
        self.vault = vault
        self.settings = settings
        self.allowed_networks = endpoints.parse_networks(settings.allowed_private_networks)

    async def endpoint_errors(self, submission: KeySubmission) -> dict[str, str]:
        """A typed endpoint must resolve to public addresses (or loopback, or an allowed range)."""
        endpoint = submission.settings.get("endpoint")
        if not endpoint or "endpoint" in submission.errors:
            return {}
        problem = await endpoints.address_problem(endpoint, self.allowed_networks)
        return {"endpoint": problem} if problem else {}

    @property
    def validates(self) -> bool:
        return self.settings.validate_keys

    async def save(self, person: Person, submission: KeySubmission) -> SaveOutcome:
        """Check the key (when ATOM_VALIDATE_KEYS is on) and store it unless the provider refused it."""
        provider, secret = submission.provider, submission.secret
        assert secret is not None and not submission.errors
        check = None
        if self.validates:
            credential = Credential(provider.id, secret, submission.settings, submission.scope)
            check = await keycheck.check_key(
                credential, self.settings.provider_bases, allowed_networks=self.allowed_networks
            )
            if not check.ok:
                await self.vault.record_audit(
                    person, "key_failed", provider.id, submission.scope, f"not saved: {check.message}"
                )
                return SaveOutcome(False, False, f"{check.message} Nothing was saved.", secret.hint)
        replaced = await self.vault.save(
            person, provider.id, secret, submission.settings, scope=submission.scope, check=check
        )
        verb = "replaced" if replaced else "saved"
        detail = check.message if check else "It was not checked (key checks are turned off)."
        return SaveOutcome(
            True, replaced, f"Your {provider.label} key `{secret.hint}` is {verb}. {detail}", secret.hint
        )

    async def check(self, person: Person, provider: Provider, scope: str) -> str:
        """Re-check a stored key and record the result; returns what to tell the person."""
        try:
            credential = await self.vault.load(person, provider.id, scope)
        except KeyNotFound:
            return f"There is no {provider.label} key to check."
        except KeyNeedsReentry:
            return f"The stored {provider.label} key can no longer be decrypted: please add it again."
        result = await keycheck.check_key(
            credential, self.settings.provider_bases, allowed_networks=self.allowed_networks
        )
        await self.vault.record_check(person, provider.id, scope, result)
        return result.message
