"""Helpers for key scenarios: submit the key form as Slack would, read the database."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import AuditEvent, ProviderCredential
from tests.fakes.payloads import text_input_values

OPENAI_KEY = "sk-proj-" + "A1b2C3d4" * 5
ANTHROPIC_KEY = "sk-ant-api03-" + "Z9y8X7w6" * 5
GEMINI_KEY = "AIzaSy" + "Q1w2E3r4T5y6U7i8O9p0Aa1Ss2Dd3F"
DEEPSEEK_KEY = "sk-" + "0123456789abcdef" * 2
AZURE_KEY = "0123456789abcdef0123456789abcdef"
KEYS = {"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY, "gemini": GEMINI_KEY, "deepseek": DEEPSEEK_KEY, "azure": AZURE_KEY}


def form_values(key: str | None, **fields: str | None) -> dict:
    return text_input_values({"key.value": key, **{f"{name}.value": value for name, value in fields.items()}})


def azure_fields(endpoint: str) -> dict:
    return {"endpoint": endpoint, "deployments": "chat-mini = gpt-4o-mini", "api_version": "2024-10-21"}


async def submit_key(atom, provider: str, key: str | None, *, user_id="U1", scope="personal", view_id="VFORM", **fields):
    if provider == "azure" and not fields:
        fields = azure_fields(atom.providers.azure_endpoint)
    return await atom.client.view_submission(
        f"key_form:{provider}:{scope}", form_values(key, **fields), user_id=user_id, view_id=view_id
    )


async def credentials(atom) -> list[ProviderCredential]:
    async with atom.runtime.sessions() as session:
        return list((await session.execute(select(ProviderCredential))).scalars())


async def audit_actions(atom) -> list[tuple[str, str, str]]:
    async with atom.runtime.sessions() as session:
        rows = (await session.execute(select(AuditEvent).order_by(AuditEvent.id))).scalars()
        return [(r.actor_user_id, r.action, r.provider) for r in rows]


async def settle(atom) -> None:
    """Wait until every reply acknowledged so far has finished."""
    import asyncio

    await asyncio.sleep(0.05)
    await atom.runtime.inflight.drain(10)
    atom.runtime.inflight.accepting = True


async def give_keys(atom, *providers: str, user_id: str = "U1") -> None:
    """Store working keys for `providers` for a person (checked against the fake providers)."""
    for provider in providers:
        await submit_key(atom, provider, KEYS[provider], user_id=user_id)
        await settle(atom)
    atom.slack.reset()
    atom.providers.clear()


def streamed_text(slack) -> str:
    """Everything Atom streamed: appendStream and stopStream chunks, in order."""
    text = []
    for call in slack.calls:
        if call.method in ("chat.appendStream", "chat.stopStream", "chat.startStream"):
            for chunk in call.params.get("chunks") or []:
                text.append(chunk.get("text", ""))
            text.append(call.params.get("markdown_text") or "")
    return "".join(text)


async def eventually(check, timeout: float = 30.0) -> None:
    """Wait until `check()` is true (a reply reached the fake Slack, say): `settle` alone can
    return before a listener on a loaded machine has even started."""
    import asyncio

    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    assert check()


def task_cards(slack) -> list[dict]:
    """Every task card (`task_update` chunk) Atom streamed, in order."""
    return [
        chunk
        for call in slack.calls
        if call.method in ("chat.startStream", "chat.appendStream", "chat.stopStream")
        for chunk in call.params.get("chunks") or []
        if chunk.get("type") == "task_update"
    ]


def steps_text(slack) -> str:
    """The task cards' titles and details as one string, for "was this step shown?"."""
    return "\n".join(f"{c['title']} — {c.get('details', '')} [{c['status']}]" for c in task_cards(slack))
