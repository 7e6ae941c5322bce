"""A provider credential as calls need it: the decrypted key plus its non-secret settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.llm.providers import CATALOG, Provider
from bot.storage.encryption import Secret


@dataclass(frozen=True)
class Credential:
    provider: str
    secret: Secret = field(repr=False)
    settings: Mapping = field(default_factory=dict)
    scope: str = "personal"  # personal | workspace

    @property
    def catalog(self) -> Provider:
        return CATALOG[self.provider]


def call_params(credential: Credential, bases: Mapping[str, str], model: str | None = None) -> dict:
    """The litellm keyword arguments that address this credential's provider.

    `model` is the provider's own model name (for Azure, the deployment); None picks the
    catalog's cheapest (the key-check model, or Azure's first deployment).
    """
    provider = credential.catalog
    params: dict = {"api_key": credential.secret.reveal()}
    if provider.id == "azure":
        deployments = dict(credential.settings.get("deployments") or {})
        deployment = model or next(iter(deployments))
        params["model"] = f"azure/{deployment}"
        params["api_base"] = credential.settings["endpoint"]
        params["api_version"] = credential.settings.get("api_version")
        if deployments.get(deployment):
            params["base_model"] = f"azure/{deployments[deployment]}"  # how litellm prices it
    else:
        params["model"] = f"{provider.litellm_prefix}/{model or provider.check_model}"
        params["api_base"] = bases[provider.base_setting]
    return params
