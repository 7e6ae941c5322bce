"""One cheap real call that tells whether a provider key works, before Atom saves it.

People see only the fixed sentences here, never an exception's text (a provider may echo part
of the key back in its error message).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.llm import endpoints
from bot.llm.credentials import Credential, call_params
from bot.llm.runtime import litellm_async

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 15.0


@dataclass(frozen=True)
class KeyCheck:
    status: str  # ok | invalid | unreachable
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def saved_status(self) -> str:
        return "ok" if self.ok else "failing"


def classify_failure(exc: Exception, label: str, provider_id: str) -> KeyCheck:
    """Map a litellm exception to what a person should hear. Uses status codes, not classes:
    Azure's 500 is an APIError, not an InternalServerError."""
    status = getattr(exc, "status_code", None)
    text = str(exc).lower()
    if "connection" in type(exc).__name__.lower():  # litellm gives these a status of 500
        where = "your Azure endpoint" if provider_id == "azure" else label
        return KeyCheck("unreachable", f"Atom could not connect to {where}.")
    if status in (401, 403) or (status == 400 and ("api key" in text or "api_key" in text)):
        return KeyCheck("invalid", f"{label} rejected this key (it is wrong, revoked or lacks permission).")
    if status == 404:
        if provider_id == "azure":
            return KeyCheck(
                "invalid",
                "Azure answered 'not found': check the endpoint, the deployment name and the API version.",
            )
        return KeyCheck("ok", f"{label} accepted the key (the test model is not enabled for it).")
    if status == 429:
        return KeyCheck("ok", f"{label} accepted the key but is rate-limiting it right now.")
    if status == 408 or "timeout" in type(exc).__name__.lower():
        return KeyCheck("unreachable", f"{label} did not answer within {CHECK_TIMEOUT:.0f} seconds.")
    if status is not None and status >= 500:
        return KeyCheck("unreachable", f"{label} had a server error ({status}); try again in a minute.")
    return KeyCheck("unreachable", f"{label} gave an unexpected answer ({status or type(exc).__name__}).")


async def check_key(
    credential: Credential,
    bases: Mapping[str, str],
    limit: float = CHECK_TIMEOUT,
    allowed_networks: Iterable[endpoints.Network] = (),
) -> KeyCheck:
    litellm = await litellm_async()
    label = credential.catalog.label
    if endpoint := credential.settings.get("endpoint"):
        # Resolved again now: the name may point somewhere else than when it was typed.
        if problem := await endpoints.address_problem(endpoint, allowed_networks):
            return KeyCheck("unreachable", f"Atom did not connect to your Azure endpoint: {problem}")
    try:
        await litellm.acompletion(
            messages=[{"role": "user", "content": "ping"}],
            max_tokens=1,
            timeout=limit,
            max_retries=0,  # Atom owns retries; the OpenAI SDK would otherwise try 3 times
            **call_params(credential, bases),
        )
    except Exception as exc:  # every provider failure is an answer for the person, not a crash
        result = classify_failure(exc, label, credential.provider)
        log.info("key check for %s: %s (%s)", credential.provider, result.status, type(exc).__name__)
        return result
    return KeyCheck("ok", f"{label} accepted the key.")
