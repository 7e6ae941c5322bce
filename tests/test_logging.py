"""The redaction filter, with real log capture through the process's logging setup."""

from __future__ import annotations

import io
import json
import logging

import pytest
from cryptography.fernet import Fernet

from bot.logs import redact, setup_logging
from bot.storage.encryption import Crypto

SECRETS = [
    "sk-proj-SENTINELabcdefghijklmnop1234",
    "sk-ant-api03-SENTINELabcdefghijklmnop",
    "AIzaSyA-SENTINEL-abcdefghijklmnopqrstu",
    "xoxb-1234-5678-SENTINELabcdef",
    "xoxp-1234-5678-SENTINELabcdef",
    "xapp-1-A123-456-SENTINELabcdef",
    "ya29.a0SENTINELabcdefghijklmnop",
    "0123456789abcdef0123456789abcdef",  # Azure-style hex key
]


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = setup_logging("DEBUG", "text", stream=stream)
    yield stream
    logging.getLogger().removeHandler(handler)


@pytest.mark.parametrize("secret", SECRETS)
def test_each_secret_shape_is_masked(secret):
    assert secret not in redact(f"token={secret} and more")
    assert "SENTINEL" not in redact(f"Authorization: Bearer {secret}")


def test_fernet_tokens_are_masked():
    token = Fernet(Fernet.generate_key()).encrypt(b"hello").decode()
    assert token not in redact(f"stored {token}")


def test_atoms_own_tokens_are_masked_wherever_they_stand():
    crypto = Crypto([Fernet.generate_key().decode()])
    for plaintext in ("", "x", "a key: sk-" + "A1b2" * 10, "é" * 500):
        token = crypto.encrypt(plaintext)
        body = token.removeprefix("a1.")
        for text in (token, f"stored {token}.", f'{{"secret": "{token}"}}', f"secret={token}&x=1"):
            assert body not in redact(text) and body[:24] not in redact(text)
    token = crypto.encrypt("y")
    for text in (f"secret%3D{token}", repr(f"x\n{token}"), f"secret_{token}", f"secret-{token}", f"x{token}"):
        assert token[3:20] not in redact(text)
    # A random body may hold "sk-" (about 1 token in 6,000): masked whole all the same.
    token = next(t for t in (crypto.encrypt("z") for _ in range(300_000)) if "sk-" in t)
    assert redact(f"v={token}") == "v=[token-redacted]"
    assert redact("version a1.2 of the plan") == "version a1.2 of the plan"  # prose keeps its words


@pytest.mark.parametrize("name", ["root", "slack_bolt.App", "slack_sdk.web", "litellm", "LiteLLM", "bot.handlers"])
def test_every_logger_is_redacted_in_message_args_and_exception(captured, name):
    logger = logging.getLogger(None if name == "root" else name)
    logger.info("body: %s", {"key": SECRETS[0], "token": SECRETS[3]})
    try:
        raise ValueError(f"bad key {SECRETS[1]}")
    except ValueError:
        logger.exception("failed with %s", SECRETS[2])
    output = captured.getvalue()
    assert "SENTINEL" not in output
    assert "failed with" in output and "ValueError" in output  # the record itself still arrives


def test_json_format_is_one_object_per_line_and_redacted():
    stream = io.StringIO()
    handler = setup_logging("INFO", "json", stream=stream)
    try:
        logging.getLogger("slack_bolt.App").info("Unverified request body: %s", f"token={SECRETS[3]}")
    finally:
        logging.getLogger().removeHandler(handler)
    entry = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert entry["logger"] == "slack_bolt.App" and entry["level"] == "INFO"
    assert "SENTINEL" not in entry["message"]


def test_handlers_added_by_libraries_get_the_filter_too():
    stream = io.StringIO()
    own = logging.StreamHandler(stream)
    lib = logging.getLogger("litellm")
    lib.addHandler(own)
    root_handler = setup_logging("INFO", "text", stream=io.StringIO())
    try:
        lib.warning("calling with api_key=%s", SECRETS[0])
    finally:
        lib.removeHandler(own)
        logging.getLogger().removeHandler(root_handler)
    assert "SENTINEL" not in stream.getvalue()
