"""The trust core: isolation between people, admins only for workspace keys, encryption at rest,
rotation, tampering, and a sentinel key that must never show up anywhere."""

from __future__ import annotations

import asyncio
import base64
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from bot.storage.encryption import TOKEN_PREFIX, Crypto, UndecryptableSecret
from bot.storage.models import ProviderCredential
from tests.conftest import AtomHarness, atom_env, process_env, provider_env, run_atom_cli
from tests.fakes import payloads
from tests.keyhelpers import OPENAI_KEY, audit_actions, credentials, form_values, settle, submit_key

ADMIN = {"id": "UADMIN", "team_id": "T1", "is_admin": True, "is_owner": False, "real_name": "Ada Admin"}


async def _add(atom, provider="openai", key=OPENAI_KEY, user_id="U1", scope="personal"):
    await submit_key(atom, provider, key, user_id=user_id, scope=scope)
    await settle(atom)


async def test_person_b_cannot_remove_check_or_replace_person_as_key(atom_sqlite):
    await _add(atom_sqlite, user_id="UA")
    [a_row] = await credentials(atom_sqlite)
    client = atom_sqlite.client
    # B crafts actions and forms carrying A's identifiers in every field B controls.
    crafted_view = {"type": "home", "id": "VA", "private_metadata": '{"user_id": "UA"}', "callback_id": "UA"}
    await client.block_action("key_remove", value="openai", user_id="UB", view=crafted_view)
    await client.block_action("key_check", value="openai", user_id="UB", view=crafted_view)
    await client.view_submission(
        "key_form:openai:personal", form_values("sk-proj-" + "B" * 40), user_id="UB", private_metadata="UA"
    )
    await client.view_submission("key_form:openai:UA", form_values("sk-proj-" + "C" * 40), user_id="UB")
    await settle(atom_sqlite)
    rows = {r.user_id: r for r in await credentials(atom_sqlite)}
    assert rows["UA"].secret == a_row.secret and rows["UA"].hint == a_row.hint
    assert rows["UB"].hint == "sk-…BBBB"  # B's submission became B's own key
    assert set(rows) == {"UA", "UB"}
    # B's Home shows B's key only.
    await client.event(payloads.app_home_opened_event(user="UB"))
    await atom_sqlite.slack.wait_for("views.publish", count=1)
    await settle(atom_sqlite)
    b_home = str([c.params for c in atom_sqlite.slack.calls_to("views.publish") if c.params["user_id"] == "UB"][-1])
    assert a_row.hint not in b_home or a_row.hint == rows["UB"].hint


async def test_b_cannot_use_as_key(atom_sqlite):
    await _add(atom_sqlite, user_id="UA")
    from bot.identity import Person

    assert await atom_sqlite.runtime.vault.usable(Person("", "T1", "UB")) == []
    assert len(await atom_sqlite.runtime.vault.usable(Person("", "T1", "UA"))) == 1
    assert await atom_sqlite.runtime.vault.usable(Person("", "T2", "UA")) == []  # other workspace


async def test_members_cannot_touch_workspace_keys_or_policy(atom_sqlite):
    client = atom_sqlite.client
    resp = await client.view_submission("key_form:openai:workspace", form_values(OPENAI_KEY), user_id="U1")
    assert "Only workspace admins" in str(resp.json["view"])
    for action in ("ws_key_add", "ws_key_remove", "ws_key_check", "provider_block", "audit_open"):
        await client.block_action(action, value="openai", user_id="U1", view={"type": "home", "id": "V"})
    await settle(atom_sqlite)
    opened = atom_sqlite.slack.calls_to("views.open")
    assert len(opened) == 5 and all("Only workspace admins" in str(c.params["view"]) for c in opened)
    assert await credentials(atom_sqlite) == []
    assert (await client.command("admin")).text.startswith("Only workspace admins")


async def test_admin_sets_a_workspace_key_members_use_it_and_admin_can_block(atom_sqlite):
    atom_sqlite.slack.users["UADMIN"] = ADMIN
    await _add(atom_sqlite, user_id="UADMIN", scope="workspace")
    [row] = await credentials(atom_sqlite)
    assert (row.user_id, row.status) == ("", "ok")
    from bot.identity import Person

    member = Person("", "T1", "U1")
    [credential] = await atom_sqlite.runtime.vault.usable(member)
    assert credential.scope == "workspace" and credential.secret.reveal() == OPENAI_KEY
    published = len(atom_sqlite.slack.calls_to("views.publish"))
    await atom_sqlite.client.event(payloads.app_home_opened_event(user="U1"))
    await atom_sqlite.slack.wait_for("views.publish", published + 1)
    await settle(atom_sqlite)
    member_home = str(atom_sqlite.slack.calls_to("views.publish")[-1].params["view"])
    assert "workspace key" in member_home and "Workspace settings" not in member_home

    published = len(atom_sqlite.slack.calls_to("views.publish"))
    await atom_sqlite.client.block_action("provider_block", value="openai", user_id="UADMIN", view={"type": "home", "id": "V"})
    # The block is saved before the admin's Home is republished: wait for that, not a fixed sleep.
    await atom_sqlite.slack.wait_for("views.publish", published + 1)
    await settle(atom_sqlite)
    assert await atom_sqlite.runtime.vault.usable(member) == []
    admin_home = str(atom_sqlite.slack.calls_to("views.publish")[-1].params["view"])
    assert "Workspace settings" in admin_home and "Blocked for everyone" in admin_home

    await atom_sqlite.client.block_action("audit_open", value="recent", user_id="UADMIN", view={"type": "home", "id": "V"})
    [audit] = await atom_sqlite.slack.wait_for("views.open")
    text = str(audit.params["view"])
    for action in ("key added", "key validated", "provider blocked"):
        assert action in text
    assert OPENAI_KEY not in text


async def test_admin_command_opens_the_modal_with_the_admin_section(atom_sqlite):
    atom_sqlite.slack.users["UADMIN"] = ADMIN
    resp = await atom_sqlite.client.command("admin", user_id="UADMIN")
    assert resp.status == 200
    [opened] = await atom_sqlite.slack.wait_for("views.open")
    assert "Workspace settings" in str(opened.params["view"])


@pytest.mark.parametrize("where", ["dm", "mention", "command", "assistant"])
async def test_a_key_pasted_in_chat_is_warned_about_never_sent_or_stored(atom_sqlite, where):
    text = f"here is my key {OPENAI_KEY} please use it"
    client = atom_sqlite.client
    if where == "dm":
        await client.event(payloads.message_im_event(text))
    elif where == "mention":
        await client.event(payloads.app_mention_event(text))
    elif where == "assistant":
        await client.event(payloads.message_im_event(text, thread_ts="1700000000.000001"))
    else:
        resp = await client.command(f"ask {text}")
        assert "rotate" in resp.text or "revoke" in resp.text
    if where != "command":
        [post] = await atom_sqlite.slack.wait_for("chat.postMessage")
        assert "revoke" in post.params["text"]
    await settle(atom_sqlite)
    assert atom_sqlite.providers.requests == []
    assert OPENAI_KEY not in atom_sqlite.slack.all_text().replace(text, "")  # only Slack's own copy
    assert await credentials(atom_sqlite) == []
    db = Path(str(atom_sqlite.runtime.engine.url.database))
    assert OPENAI_KEY.encode() not in b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


async def test_sentinel_key_never_leaks_anywhere(fake_slack, fake_providers, tmp_path, caplog):
    """add → failed check → successful check → replace → rotate → remove: the sentinel appears in
    no log line, nothing sent to Slack, no exception text, no repr, no database byte."""
    caplog.set_level(logging.DEBUG)
    sentinel = "sk-proj-SENTINEL" + "9" * 32
    replacement = "sk-proj-SENTINEL" + "8" * 32
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'atom.db'}"
    env = atom_env(fake_slack.url, db_url, old_key, ATOM_LOG_LEVEL="DEBUG", **provider_env(fake_providers))
    atom = AtomHarness(fake_slack, env)
    atom.providers = fake_providers
    await atom.start()
    seen_reprs: list[str] = []
    try:
        fake_providers.valid_keys["openai"] = {"sk-proj-only-this-one-works-00000"}
        await submit_key(atom, "openai", sentinel)  # rejected: not saved
        await settle(atom)
        fake_providers.valid_keys["openai"] = {sentinel, replacement}
        await submit_key(atom, "openai", sentinel)
        await settle(atom)
        await atom.client.block_action("key_check", value="openai", view={"type": "home", "id": "VH"})
        await settle(atom)
        from bot.identity import Person

        [credential] = await atom.runtime.vault.usable(Person("", "T1", "U1"))
        seen_reprs += [repr(credential), str(credential), repr(credential.secret), repr(atom.runtime.vault)]
        seen_reprs += [repr(r) for r in await credentials(atom)]
        await submit_key(atom, "openai", replacement)
        await settle(atom)
        try:
            raise RuntimeError(f"provider said: {credential.secret}")
        except RuntimeError as exc:
            seen_reprs.append(str(exc))
    finally:
        await atom.stop()

    # Rotation with the new key first, then the old key dropped.
    code, rotate_out, rotate_err = await run_atom_cli(
        "keys", "rotate",
        env={"ATOM_DATABASE_URL": db_url, "ATOM_LOG_LEVEL": "DEBUG", "ATOM_ENCRYPTION_KEYS": f"{new_key},{old_key}"},
    )
    assert code == 0, rotate_err
    assert "provider keys: 1" in rotate_out

    atom = AtomHarness(fake_slack, {**env, "ATOM_ENCRYPTION_KEYS": new_key})
    atom.providers = fake_providers
    await atom.start()
    try:
        from bot.identity import Person

        [credential] = await atom.runtime.vault.usable(Person("", "T1", "U1"))
        assert credential.secret.reveal() == replacement  # decrypts with the new key alone
        await atom.client.block_action("key_remove", value="openai", view={"type": "home", "id": "VH"})
        await settle(atom)
        assert await credentials(atom) == []
        assert [a for _, a, _ in await audit_actions(atom)][-1] == "key_removed"
        await atom.runtime.engine.dispose()
    finally:
        await atom.stop()

    for secret in (sentinel, replacement):
        assert secret not in caplog.text
        assert secret not in rotate_out + rotate_err
        assert all(secret not in text for text in seen_reprs)
        sent = fake_slack.all_text()
        for call in fake_slack.calls:  # what Atom sent, not the submissions Slack delivered to Atom
            assert secret not in str(call.params) and secret not in str(call.headers)
        assert sent  # the fake did record traffic
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("atom.db*"))
        assert secret.encode() not in raw
        assert secret[-12:].encode() not in raw


async def test_wrong_encryption_key_at_start_is_a_clear_error(fake_slack, fake_providers, sqlite_url, encryption_key):
    from bot.config import ConfigError

    env = atom_env(fake_slack.url, sqlite_url, encryption_key, **provider_env(fake_providers))
    atom = AtomHarness(fake_slack, env)
    atom.providers = fake_providers
    await atom.start()
    await _add(atom, "openai")
    await _add(atom, "gemini", "AIzaSyQ1w2E3r4T5y6U7i8O9p0Aa1Ss2Dd3F")
    await atom.stop()
    wrong = AtomHarness(fake_slack, {**env, "ATOM_ENCRYPTION_KEYS": Fernet.generate_key().decode()})
    with pytest.raises(ConfigError) as info:
        await wrong.start()
    assert "2 of 2 could not be decrypted" in info.value.render()


def test_cli_reports_a_wrong_key_with_exit_2(tmp_path, encryption_key):
    db = tmp_path / "atom.db"
    env = process_env({"ATOM_DATABASE_URL": f"sqlite+aiosqlite:///{db}"})
    first = subprocess.run([sys.executable, "-m", "bot", "keys", "rotate"], env={**env, "ATOM_ENCRYPTION_KEYS": encryption_key},
                           capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr  # writes the canary
    wrong = subprocess.run([sys.executable, "-m", "bot", "keys", "rotate"],
                           env={**env, "ATOM_ENCRYPTION_KEYS": Fernet.generate_key().decode()},
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "cannot decrypt the stored secrets" in wrong.stderr


async def test_a_tampered_entry_needs_reentry_and_the_rest_keep_working(fake_slack, fake_providers, sqlite_url, encryption_key):
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, **provider_env(fake_providers))
    atom = AtomHarness(fake_slack, env)
    atom.providers = fake_providers
    await atom.start()
    await _add(atom, "openai")
    await _add(atom, "gemini", "AIzaSyQ1w2E3r4T5y6U7i8O9p0Aa1Ss2Dd3F")
    async with atom.runtime.sessions() as session, session.begin():
        row = (await credentials(atom))[0]
        tampered = row.secret[:-8] + ("A" if row.secret[-8] != "A" else "B") + row.secret[-7:]
        await session.execute(update(ProviderCredential).where(ProviderCredential.id == row.id).values(secret=tampered))
    await atom.restart()
    try:
        rows = {r.provider: r for r in await credentials(atom)}
        assert rows[row.provider].status == "needs_reentry"
        other = ({"openai", "gemini"} - {row.provider}).pop()
        assert rows[other].status == "ok"
        from bot.identity import Person

        usable = await atom.runtime.vault.usable(Person("", "T1", "U1"))
        assert [c.provider for c in usable] == [other]
        await atom.client.event(payloads.app_home_opened_event(user="U1"))
        await settle(atom)
        assert "needs re-entry" in str(atom.slack.calls_to("views.publish")[-1].params["view"])
    finally:
        await atom.stop()


async def test_removed_key_bytes_are_gone_from_the_sqlite_file(atom_sqlite):
    await _add(atom_sqlite)
    [row] = await credentials(atom_sqlite)
    token = row.secret.encode()
    await atom_sqlite.client.block_action("key_remove", value="openai", view={"type": "home", "id": "VH"})
    await settle(atom_sqlite)
    async with atom_sqlite.runtime.engine.connect() as conn:
        await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    await asyncio.sleep(0)
    db = Path(str(atom_sqlite.runtime.engine.url.database))
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert token not in raw  # secure_delete overwrote it


async def test_rotation_covers_conversations_and_the_old_key_can_then_go(fake_slack, fake_providers, tmp_path):
    from tests.keyhelpers import give_keys

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'atom.db'}"
    env = atom_env(fake_slack.url, db_url, old_key, **provider_env(fake_providers))
    atom = AtomHarness(fake_slack, env)
    atom.providers = fake_providers
    await atom.start()
    try:
        await give_keys(atom, "openai")
        await atom.client.event(payloads.message_im_event("remember the word KUMQUAT", thread_ts="1700000600.000100"))
        await fake_slack.wait_for("chat.stopStream", timeout=20)
        await settle(atom)
    finally:
        await atom.stop()
    code, out, err = await run_atom_cli(
        "keys", "rotate", env={"ATOM_DATABASE_URL": db_url, "ATOM_ENCRYPTION_KEYS": f"{new_key},{old_key}"}
    )
    assert code == 0, err
    assert "conversation messages: 2" in out and "provider keys: 1" in out
    atom = AtomHarness(fake_slack, {**env, "ATOM_ENCRYPTION_KEYS": new_key})
    atom.providers = fake_providers
    await atom.start()
    try:
        from bot.identity import Person

        history = await atom.runtime.memory.history(Person("", "T1", "U1"), "D1:1700000600.000100")
        assert history[0]["content"] == "remember the word KUMQUAT"
    finally:
        await atom.stop()


# --- The token format (bot/storage/encryption.py) ---------------------------------------------


def test_tokens_are_aes_gcm_under_the_first_key_and_older_fernet_tokens_still_open():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    crypto = Crypto([old])
    token = crypto.encrypt("sk-proj-SENTINEL")
    assert token.startswith(TOKEN_PREFIX) and "SENTINEL" not in token
    assert token != crypto.encrypt("sk-proj-SENTINEL")  # a fresh nonce each time
    fernet_token = Fernet(old.encode()).encrypt(b"written before a1 tokens").decode()
    assert crypto.decrypt(fernet_token) == "written before a1 tokens"
    both = Crypto([new, old])  # rotation: new first, old still readable
    assert both.decrypt(token) == "sk-proj-SENTINEL" and both.decrypt(fernet_token) == "written before a1 tokens"
    for rotated, plain in ((both.rotate(token), "sk-proj-SENTINEL"), (both.rotate(fernet_token), "written before a1 tokens")):
        assert rotated.startswith(TOKEN_PREFIX) and Crypto([new]).decrypt(rotated) == plain
        with pytest.raises(UndecryptableSecret):
            crypto.decrypt(rotated)  # the old key alone does not open what the new one sealed
    with pytest.raises(UndecryptableSecret):
        Crypto([new]).decrypt(token)


def test_a_token_altered_anywhere_truncated_extended_or_spelled_otherwise_is_refused():
    crypto = Crypto([Fernet.generate_key().decode()])
    token = crypto.encrypt("a conversation turn")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i in range(len(TOKEN_PREFIX), len(token)):
        for changed in alphabet.replace(token[i], ""):  # every other character, each position
            with pytest.raises(UndecryptableSecret):
                crypto.decrypt(token[:i] + changed + token[i + 1 :])
    body = token.removeprefix(TOKEN_PREFIX)
    other_spelling = TOKEN_PREFIX + body.replace("-", "+").replace("_", "/")
    refused = [token[:-1], token[:20], token + "A", token + "==", TOKEN_PREFIX, "a1.a1.", token.replace("a1.", "a2.")]
    refused += [other_spelling] if other_spelling != token else []
    refused += [token[:10] + "\n" + token[10:], " " + token]
    for bad in refused:
        with pytest.raises(UndecryptableSecret):
            crypto.decrypt(bad)


@given(st.text(max_size=200) | st.text(max_size=200).map(lambda s: TOKEN_PREFIX + s) | st.binary(max_size=120).map(
    lambda b: TOKEN_PREFIX + base64.urlsafe_b64encode(b).decode().rstrip("=")
))
@settings(max_examples=1500, deadline=None)
def test_decrypt_of_anything_either_opens_or_says_undecryptable(text):
    try:
        _FUZZ_CRYPTO.decrypt(text)
    except UndecryptableSecret:
        pass


_FUZZ_CRYPTO = Crypto([Fernet.generate_key().decode()])
