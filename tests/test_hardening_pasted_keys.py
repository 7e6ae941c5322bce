"""Issue 8, finding 1: every provider's key format, pasted anywhere in chat on any surface (glued
to a prefix, split across lines), is caught before anything reaches a model or the database; and
a DEBUG run logs no key material, no question and no answer unless content logging is on."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.llm.providers import find_pasted_key
from tests.conftest import SIGNING_SECRET
from tests.fakes import payloads
from tests.fakes.signing import SlackRequestClient
from tests.keyhelpers import (
    AZURE_KEY,
    KEYS,
    azure_fields,
    credentials,
    eventually,
    form_values,
    give_keys,
    settle,
)

AZURE_84 = "7Qm2Xc9Lp4Rt8Vw1Yz6Bn3Kd5Fg0Hj2AbCdEfGhIjKlMnOpQrStUv" + "JQQJ99BDACYeBjFXJ3w3AAABACOGx1Y"
FORMATS = {
    "openai-project": "sk-proj-" + "Q9w8E7r6T5y4U3i2" * 8,
    "openai-service-account": "sk-svcacct-" + "Zx12Cv34Bn56Mm78" * 6,
    "openai-legacy": "sk-" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0u1V2w3X4",
    "anthropic": "sk-ant-api03-" + "Hh7Gg6Ff5Ee4Dd3Cc2Bb1Aa0" * 4 + "-AbCdEfAA",
    "gemini": "AIzaSyD" + "4f5G6h7J8k9L0z1X2c3V4b5N6m7Q8w",
    "deepseek": "sk-" + "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "azure-hex": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "azure-84": AZURE_84,
    "unnamed-next-to-provider": "my Anthropic workspace token is Tq7Vb2Nw9Xe4Lk8Rp3Zs6Jh1Mc5Qa0Wd",
}
assert len(AZURE_84) == 84


def _wrap(key: str, how: str) -> str:
    if how == "alone":
        return key
    if how == "middle":
        return f"please use {key} for my questions"
    if how == "glued":
        return f"OPENAI_KEY_{key} and KEY={key}"
    if how == "split":
        cut = len(key) // 2
        return f"here it is:\n{key[:cut]}\n{key[cut:]}\nthanks"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["alone", "middle", "glued", "split"])
@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_is_found_in_every_position(name, how):
    if name == "unnamed-next-to-provider" and how != "middle":
        pytest.skip("an unnamed token is a key only next to a provider's name")
    assert find_pasted_key(_wrap(FORMATS[name], how)), (name, how)


@pytest.mark.parametrize(
    "text",
    [
        "what is a risk-free-trade-off-analysis-for-dummies?",
        "task-based learning versus project-based learning",
        "scikit-learn vs sk-learn-is-a-python-library-for-ml",
        "commit 3f2a9c0d1e4b5a6978c0d1e2f3a4b5c6d7e8f901 broke the azure deployment",
        "uuid 123e4567-e89b-12d3-a456-426614174000 is not a key",
        "https://learn.microsoft.com/en-us/azure/ai-services/openai/how-to/create-resource",
        "the sha256 is 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ],
)
def test_ordinary_text_is_not_mistaken_for_a_key(text):
    assert find_pasted_key(text) is None


async def _ask_everywhere(atom, where: str, text: str) -> None:
    client = atom.client
    if where == "dm":
        await client.event(payloads.message_im_event(text))
    elif where == "mention":
        await client.event(payloads.app_mention_event(text))
    elif where == "assistant":
        await client.event(payloads.message_im_event(text, thread_ts="1700000000.000001"))
    elif where == "thread":
        mention = payloads.app_mention_event("first question")
        await client.event(mention)
        await atom.slack.wait_for("chat.stopStream", timeout=30)  # answered, so the thread is known
        await settle(atom)
        atom.slack.reset()
        atom.providers.clear()
        await client.event(payloads.message_event(text, thread_ts=mention["ts"]))
    elif where == "command":
        resp = await client.command(f"ask {text}")
        assert "revoke" in resp.text
        return
    elif where == "summarize":
        root = {"type": "message", "user": "U2", "text": "what key do we use?", "ts": "1700000100.000100"}
        reply = {"type": "message", "user": "U3", "text": text, "ts": "1700000101.000100",
                 "thread_ts": root["ts"]}
        atom.slack.messages["C1"] = [root, reply]
        await client.shortcut_message("summarize_thread", message=root)
    await eventually(lambda: "revoke" in atom.slack.all_text())
    await settle(atom)


@pytest.mark.parametrize("where", ["dm", "mention", "thread", "assistant", "command", "summarize"])
@pytest.mark.parametrize("name", ["azure-hex", "azure-84", "openai-project"])
async def test_a_pasted_key_on_any_surface_reaches_no_model_and_no_storage(atom_sqlite, where, name):
    await give_keys(atom_sqlite, "openai")
    key = FORMATS[name]
    text = _wrap(key, "split" if name == "openai-project" else "glued")
    await _ask_everywhere(atom_sqlite, where, text)
    assert atom_sqlite.providers.requests == []  # nothing went to a model
    for call in atom_sqlite.slack.calls:  # nothing Atom sent to Slack repeats it
        assert key not in str(call.params)
    db = Path(str(atom_sqlite.runtime.engine.url.database))
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert key.encode() not in raw and key[: len(key) // 2].encode() not in raw
    assert [c.provider for c in await credentials(atom_sqlite)] == ["openai"]


# ------------------------------------------------------------------ logging at DEBUG


WORKTREE = str(Path(__file__).resolve().parents[1])


ANSWER = "SENTINEL-ANSWER: egrets, and egrets-too"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _run_atom_at_debug(fake_slack, fake_providers, tmp_path, encryption_key, **extra):
    """`python -m bot run --http` at DEBUG: store an Azure key (checked with a call), ask a
    question, get the answer; returns everything the process wrote."""
    port = _free_port()
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": WORKTREE,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.url,
        "ATOM_PORT": str(port),
        "ATOM_ENCRYPTION_KEYS": encryption_key,
        "ATOM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'atom.db'}",
        "ATOM_LOG_LEVEL": "DEBUG",
        "ATOM_OPENAI_API_BASE": fake_providers.openai_base,
        **extra,
    }
    fake_providers.reply["azure"] = ANSWER
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--http", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    client = SlackRequestClient(f"http://127.0.0.1:{port}", SIGNING_SECRET)
    try:
        for _ in range(600):
            try:
                await client.command("help")
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        await client.view_submission(
            "key_form:azure:personal", form_values(AZURE_KEY, **azure_fields(fake_providers.azure_endpoint))
        )
        await fake_providers.wait_for_requests(1, "azure")  # the key check
        for _ in range(600):  # saved: the Home tab Atom publishes afterwards shows the key's hint
            if any(AZURE_KEY[-4:] in json.dumps(c.params) for c in fake_slack.calls_to("views.publish")):
                break
            await asyncio.sleep(0.05)
        await client.event(payloads.message_im_event("SENTINEL-QUESTION about herons?"))
        for _ in range(1200):  # the answer's end reached Slack (streamed in pieces)
            if "egrets-too" in fake_slack.all_text():
                break
            await asyncio.sleep(0.05)
        assert "egrets-too" in fake_slack.all_text()
    finally:
        await client.close()
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    return out.decode() + err.decode()


async def test_debug_logs_carry_no_key_question_or_answer(fake_slack, fake_providers, tmp_path, encryption_key):
    logged = await _run_atom_at_debug(fake_slack, fake_providers, tmp_path, encryption_key)
    assert "DEBUG" in logged  # the run really logged at DEBUG
    assert [r.header("api-key") for r in fake_providers.requests_for("azure")][0] == AZURE_KEY
    for secret in (AZURE_KEY, AZURE_KEY[:8], AZURE_KEY[-8:]):
        assert secret not in logged
    # Words of the question and of the answer (which reach Slack in pieces) appear nowhere.
    for word in ("SENTINEL-QUESTION", "herons", "egrets"):
        assert word not in logged


async def test_content_logging_is_an_explicit_operator_choice(fake_slack, fake_providers, tmp_path, encryption_key):
    logged = await _run_atom_at_debug(
        fake_slack, fake_providers, tmp_path, encryption_key, ATOM_LOG_CONTENT="true"
    )
    assert "SENTINEL-QUESTION" in logged or "egrets" in logged
    for secret in (AZURE_KEY, AZURE_KEY[:8]):
        assert secret not in logged


def test_redaction_masks_every_azure_form():
    from bot.logs import redact

    assert AZURE_KEY not in redact(f"KEY_{AZURE_KEY} and api_base")
    assert AZURE_84 not in redact(f"key {AZURE_84}")
    assert AZURE_KEY[:8] not in redact(f"Api Key:{AZURE_KEY[:8]}***************")
    assert KEYS["openai"] not in redact(f"OPENAI_KEY_{KEYS['openai']}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 200_000, None),  # one long run of letters without Azure's signature: was quadratic
        ("Ab12" * 50_000, None),
        ("sk-" + "a1" * 80_000, "openai"),
        ("AIza" * 50_000, None),
        ("0123456789abcdef" * 12_500, None),
        ("a b " * 50_000, None),  # squeezed for the second pass into one long run
        ("x" * 100_000 + "JQQJ99" + "y" * 100_000, "azure"),
    ],
    ids=["letters", "mixed", "sk-run", "AIza-run", "hex", "spaced", "signature-in-a-run"],
)
def test_hostile_sizes_are_read_right(text, expected):
    """Hostile sizes (Slack allows ~1 MB bodies) read as the same text would at any size. The
    scan runs on the event loop before the length check, so its patterns must not backtrack
    (the signature pattern did: these inputs took minutes each; now milliseconds)."""
    from bot.llm.providers import find_pasted_key

    assert find_pasted_key(text) == expected


def test_the_azure_signature_needs_letters_or_digits_on_both_sides():
    from bot.llm.providers import find_pasted_key

    assert find_pasted_key(f"my key {AZURE_84}") == "azure"
    assert find_pasted_key("codes: JQQJ99! and: AAABACOG.") is None
    assert find_pasted_key("abcdefgJQQJ99abcd") is None  # seven before


def test_each_prefixed_key_pattern_starts_with_the_literal_the_scan_looks_for_first():
    """The scan skips a pattern when its literal is not in the text: that is only right if every
    match of the pattern starts with that literal."""
    from bot.llm.providers import _PREFIXED_KEYS

    for _provider, literal, pattern in _PREFIXED_KEYS:
        assert literal.replace("-", "").isalnum()  # no regex syntax in it: read as written
        assert pattern.pattern.startswith(literal), (literal, pattern.pattern)


def test_the_pasted_key_warning_reads_as_a_sentence():
    from bot.llm.providers import CATALOG
    from bot.views.keys import pasted_key_text

    assert "seems to contain an OpenAI API key." in pasted_key_text(CATALOG["openai"])
    assert "seems to contain a DeepSeek API key." in pasted_key_text(CATALOG["deepseek"])
    assert "seems to contain an API key." in pasted_key_text(None)
