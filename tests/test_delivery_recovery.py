"""A crash mid-answer, for real: `python -m bot run --http` killed with SIGKILL while it streams,
then started again. Also: the person sees at once that Atom is working, and whom it waits for."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp

from tests.conftest import SIGNING_SECRET, provider_env
from tests.fakes import payloads
from tests.fakes.signing import SlackRequestClient
from tests.keyhelpers import OPENAI_KEY, form_values, give_keys, settle, steps_text
from tests.test_run_modes import _free_port

THREAD = "1700000100.000100"
QUESTION = "Explain the water cycle in great detail please"


async def start_atom(env: dict, cwd) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--http",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=(cwd / "atom.log").open("ab"),
    )


async def recorded_stream(db) -> None:
    import sqlite3

    def streaming_rows() -> int:
        with sqlite3.connect(db) as conn:
            query = "SELECT count(*) FROM answers_in_flight WHERE streaming AND message_ts IS NOT NULL"
            return conn.execute(query).fetchone()[0]

    for _ in range(300):
        if await asyncio.to_thread(streaming_rows):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the answer in flight was never recorded")


async def until_up(client: SlackRequestClient) -> None:
    for _ in range(600):
        try:
            if (await client.command("help")).status == 200:
                return
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.05)
    raise AssertionError("atom run did not come up")


async def test_a_stream_cut_by_kill_9_is_closed_on_restart_and_try_again_re_asks(
    fake_slack, fake_providers, tmp_path, encryption_key
):
    port = _free_port()
    db = tmp_path / "atom.db"
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.getcwd(),
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.url,
        "ATOM_PORT": str(port),
        "ATOM_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "ATOM_ENCRYPTION_KEYS": encryption_key,
        "ATOM_VALIDATE_KEYS": "false",
        **provider_env(fake_providers),
    }
    fake_providers.reply["openai"] = " ".join(f"drop{i}" for i in range(400))
    fake_providers.chunk_delay = 0.02  # a slow provider: the answer streams for several seconds
    client = SlackRequestClient(
        f"http://127.0.0.1:{port}", SIGNING_SECRET, response_url_base=fake_slack.response_url_base
    )
    proc = await start_atom(env, tmp_path)
    try:
        await until_up(client)
        saved = await client.view_submission("key_form:openai:personal", form_values(OPENAI_KEY))
        assert saved.status == 200
        await client.event(payloads.message_im_event(QUESTION, thread_ts=THREAD))
        [start] = await fake_slack.wait_for("chat.startStream", timeout=180)  # litellm loads first
        await fake_slack.wait_for("chat.appendStream", timeout=30)
        await recorded_stream(db)  # mid-stream, once Atom has written down which message it is
        proc.send_signal(signal.SIGKILL)  # no shutdown, no finally: the stream stays open
        await proc.wait()
        ts = fake_slack.calls_to("chat.startStream")[0]
        stream_ts = fake_slack.visible("D1")[0]["ts"]
        assert fake_slack.visible("D1")[0]["streaming"] is True
        assert QUESTION.encode() not in db.read_bytes()  # the stored question is encrypted
        del start, ts

        fake_providers.chunk_delay = 0.0
        fake_slack.reset()
        proc = await start_atom(env, tmp_path)
        await until_up(client)
        [stop] = await fake_slack.wait_for("chat.stopStream", timeout=60)
        assert stop.params["ts"] == stream_ts
        assert "restarted before this answer was finished" in str(stop.params["blocks"])
        [message] = fake_slack.visible("D1")
        assert message["streaming"] is False and message["text"].startswith("drop")
        button = next(e for b in stop.params["blocks"] if b["type"] == "actions" for e in b["elements"])
        assert button["action_id"] == "answer_try_again"

        fake_providers.clear()
        await client.block_action("answer_try_again", value=button["value"], user_id="U2", channel_id="D1")
        [refused] = await fake_slack.wait_for("response_url", timeout=10)
        assert "Only the person who asked" in refused.params["text"]
        await client.block_action("answer_try_again", value=button["value"], channel_id="D1")
        await fake_slack.wait_for("chat.stopStream", count=2, timeout=180)
        [request] = fake_providers.requests_for("openai")
        assert QUESTION in request.body  # the original question, asked again
        answers = [m for m in fake_slack.visible("D1") if "Why this model?" in str(m.get("blocks"))]
        assert len(answers) == 1 and answers[0]["text"].endswith("drop399")
    finally:
        await client.close()
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def test_a_dm_gets_a_reaction_at_once_and_a_slow_provider_is_named(
    fake_slack, fake_providers, sqlite_url, encryption_key
):
    from tests.conftest import AtomHarness, atom_env
    from tests.fakes.providers import Behaviour

    env = atom_env(
        fake_slack.url, sqlite_url, encryption_key, **provider_env(fake_providers), ATOM_LONG_WAIT="0.2"
    )
    atom = AtomHarness(fake_slack, env)
    atom.providers = fake_providers
    await atom.start()
    try:
        await give_keys(atom, "anthropic")
        fake_providers.reply["anthropic"] = "The answer, at last."
        fake_providers.script("anthropic", Behaviour(delay=1.5))
        event = payloads.message_im_event("a slow one", ts="1700000200.000100")
        await atom.client.event(event)
        [reaction] = await fake_slack.wait_for("reactions.add", timeout=5)
        assert reaction.params["timestamp"] == "1700000200.000100" and reaction.params["name"] == "eyes"
        for _ in range(100):  # a task card in the answer's stream
            if "Waiting for Anthropic" in steps_text(fake_slack):
                break
            await asyncio.sleep(0.05)
        assert "Waiting for Anthropic to answer" in steps_text(fake_slack)
        await settle(atom)
        # The note became the answer: one message, the answer in it, nothing about waiting left.
        [message] = fake_slack.visible("D1")
        assert message["text"] == "The answer, at last." and "Why this model?" in str(message["blocks"])
    finally:
        await atom.stop()


async def test_where_nothing_streams_the_waiting_note_becomes_the_answer(
    fake_slack, fake_providers, sqlite_url, encryption_key
):
    from tests.conftest import AtomHarness, atom_env
    from tests.fakes.providers import Behaviour

    env = atom_env(fake_slack.url, sqlite_url, encryption_key, **provider_env(fake_providers), ATOM_LONG_WAIT="0.2")
    atom = AtomHarness(fake_slack, env)
    atom.providers = fake_providers
    await atom.start()
    try:
        await give_keys(atom, "anthropic")
        fake_slack.chunk_types = set()  # this Slack streams nothing: post, then update
        fake_providers.reply["anthropic"] = "The answer, at last."
        fake_providers.script("anthropic", Behaviour(delay=1.5))
        await atom.client.event(payloads.message_im_event("a slow one"))
        [waiting] = await fake_slack.wait_for("chat.postMessage", timeout=10)
        assert "Still waiting for Anthropic" in waiting.params["text"]
        await settle(atom)
        [message] = fake_slack.visible("D1")
        assert message["text"] == "The answer, at last." and "Why this model?" in str(message["blocks"])
    finally:
        await atom.stop()
