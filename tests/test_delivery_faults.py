"""Delivery to Slack can fail too: the fault matrix, over real HTTP against the fake Slack.

Each Web API method on an answer's path × {429 with Retry-After, 500, ok:false, timeout} ×
{first try only, five in a row}. Every cell checks what the person finally sees in the fake
Slack's own record of the conversation: the whole answer once, with its footer, nothing streaming,
no orphan part, no provider blamed. Waits are kept short through settings, not sleeps.
"""

from __future__ import annotations

import pytest

from tests.conftest import AtomHarness, atom_env, provider_env
from tests.fakes import payloads
from tests.fakes.slack import Fault
from tests.keyhelpers import give_keys, settle

THREAD = "1700000100.000100"
# Long enough to be streamed in three calls (start, append, stop) and short of 3,000 characters.
ANSWER = " ".join(f"w{i}" for i in range(220))
FAST = {"ATOM_SLACK_TIMEOUT": "0.3", "ATOM_SLACK_MAX_WAIT": "0.01"}
KINDS = ["429", "500", "ok_false", "timeout"]
TIMES = {"first try only": 1, "five in a row": 5}


@pytest.fixture
async def atom_fast(fake_slack, fake_providers, sqlite_url, encryption_key):
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, **provider_env(fake_providers), **FAST)
    harness = AtomHarness(fake_slack, env)
    harness.providers = fake_providers
    await harness.start()
    await give_keys(harness, "openai")
    harness.providers.reply["openai"] = ANSWER
    yield harness
    await harness.stop()


def fault(kind: str) -> Fault:
    return Fault(kind, retry_after=1, delay=0.6)


async def ask(atom, *, threaded: bool, plain: bool = False) -> None:
    """`plain`: a Slack that streams nothing, so the answer is posted, then updated."""
    if plain:
        atom.slack.chunk_types = set()
    event = payloads.message_im_event("count for me", thread_ts=THREAD if threaded else None)
    assert (await atom.client.event(event)).status == 200
    await settle(atom)
    await settle(atom)  # a Retry-After or timeout can outlast the first drain's grace


def assert_whole_answer_once(slack, channel: str = "D1") -> None:
    visible = slack.visible(channel)
    texts = [m.get("text", "") for m in visible]
    assert texts == [ANSWER], f"the person sees {texts!r}"
    [message] = visible
    assert not message.get("streaming"), "the stream was left open"
    blocks = str(message.get("blocks"))
    assert "Why this model?" in blocks
    assert "stopped mid-answer" not in blocks  # never the provider's fault
    assert not slack.ephemerals


# (method, threaded DM?, plain?) — DMs stream (a top-level one in its own thread); where Slack
# refuses streaming the answer is posted, then updated.
PATH = [
    ("chat.startStream", True, False),
    ("chat.appendStream", True, False),
    ("chat.stopStream", True, False),
    ("chat.postMessage", False, True),
    ("chat.update", False, True),
    ("reactions.add", False, False),
]


@pytest.mark.parametrize("times", list(TIMES), ids=list(TIMES))
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("method", "threaded", "plain"), PATH, ids=[m for m, _, _ in PATH])
async def test_fault_matrix(atom_fast, method, threaded, plain, kind, times):
    slack = atom_fast.slack
    slack.inject(method, fault(kind), times=TIMES[times])
    await ask(atom_fast, threaded=threaded, plain=plain)
    assert slack.calls_to(method), f"{method} was not on this answer's path"
    assert_whole_answer_once(slack)


@pytest.mark.parametrize("kind", KINDS)
async def test_post_message_failing_in_the_streamed_path_fallback(atom_fast, kind):
    """The stream breaks, and the whole-answer post that replaces it fails at first too."""
    slack = atom_fast.slack
    slack.inject("chat.appendStream", fault("500"), times=1)
    slack.inject("chat.postMessage", fault(kind), times=5)
    await ask(atom_fast, threaded=True)
    assert_whole_answer_once(slack)


async def test_a_500_after_slack_posted_leaves_no_duplicate(atom_fast):
    slack = atom_fast.slack
    slack.inject("chat.postMessage", Fault("500", applied=True), times=1)
    await ask(atom_fast, threaded=False, plain=True)
    assert len(slack.calls_to("chat.postMessage")) == 1  # found, not posted again
    assert_whole_answer_once(slack)


@pytest.mark.parametrize("kind", KINDS)
async def test_response_url_failures_still_answer_privately(atom_fast, kind):
    slack = atom_fast.slack
    slack.inject("response_url", fault(kind), times=5)
    resp = await atom_fast.client.command("ask count for me", channel_id="C5")
    assert resp.status == 200
    await settle(atom_fast)
    delivered = [c for c in slack.calls_to("response_url") if ANSWER in str(c.params.get("blocks"))]
    private = [e for e in slack.ephemerals if ANSWER in str(e.get("blocks"))]
    # Three tries of the response_url (some kept by Slack despite the error), then chat.postEphemeral.
    assert private or delivered
    assert "Slack did not accept" not in str(slack.calls)


async def test_when_slack_takes_nothing_the_person_is_told_and_retry_delivers(atom_fast):
    slack = atom_fast.slack
    for method in ("chat.startStream", "chat.postMessage"):
        slack.inject(method, Fault("ok_false", error="internal_error"), times=100)
    await ask(atom_fast, threaded=True)
    assert slack.visible("D1") == []
    [notice] = slack.ephemerals
    assert "Slack did not accept the answer" in notice["text"] and notice["user"] == "U1"
    assert "provider stopped" not in notice["text"]
    [button] = [e for b in notice["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == "answer_redeliver"
    # The kept answer is encrypted like conversation memory.
    from pathlib import Path

    db = Path(atom_fast.env["ATOM_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///"))
    stored = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert ANSWER[:40].encode() not in stored

    slack.clear_scripts()
    # Someone else's click delivers nothing and says why.
    await atom_fast.client.block_action("answer_redeliver", value=button["value"], user_id="U2", channel_id="D1")
    await settle(atom_fast)
    assert slack.visible("D1") == []
    [refusal] = slack.calls_to("response_url")
    assert "Only the person who asked" in refusal.params["text"]

    await atom_fast.client.block_action("answer_redeliver", value=button["value"], channel_id="D1")
    await settle(atom_fast)
    visible = slack.visible("D1")
    assert [m["text"] for m in visible] == [ANSWER] and visible[0]["thread_ts"] == THREAD
    assert "Why this model?" in str(visible[0]["blocks"])
    # Delivered once: a second click finds nothing left to deliver.
    await atom_fast.client.block_action("answer_redeliver", value=button["value"], channel_id="D1")
    await settle(atom_fast)
    assert len(slack.visible("D1")) == 1
    assert "no longer kept" in slack.calls_to("response_url")[-1].params["text"]


async def test_retry_after_is_honoured_up_to_the_cap_and_only_one_layer_retries(fake_slack):
    import aiohttp
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.delivery import DeliveryFailed, DeliveryPolicy, SlackDelivery
    from bot.slack_client import build_client

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with aiohttp.ClientSession() as http:
        shared: AsyncWebClient = build_client(fake_slack.url, "xoxb-test", session=http)  # with retry handlers
        slack = SlackDelivery(shared, DeliveryPolicy(attempts=3, timeout=1, max_wait=5), sleep=sleep)
        fake_slack.inject("chat.update", Fault("429", retry_after=2))
        fake_slack.inject("chat.update", Fault("429", retry_after=30))
        await slack.call("chat.update", repeatable=True, channel="D1", ts="1.2", text="x")
        assert waits == [2, 5]  # Retry-After honoured, and capped
        assert len(fake_slack.calls_to("chat.update")) == 3  # slack_sdk's own handlers did not retry too

        fake_slack.inject("chat.postMessage", Fault("500", applied=True))
        try:
            await slack.call("chat.postMessage", repeatable=False, channel="D1", text="x")
            raise AssertionError("an ambiguous post must not be retried blindly")
        except DeliveryFailed as exc:
            assert exc.ambiguous
        assert len(fake_slack.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize("times", list(TIMES), ids=list(TIMES))
@pytest.mark.parametrize("kind", KINDS)
async def test_the_undelivered_notice_survives_post_ephemeral_faults(atom_fast, kind, times):
    """Slack refuses the answer itself (its blocks), and the private notice fails too at first:
    the person is still told, once it gets through, and Retry is there."""
    slack = atom_fast.slack
    refused = Fault("ok_false", error="invalid_blocks")  # not worth repeating as it is
    slack.inject("chat.postMessage", refused, times=2)  # the live post, then the whole answer anew
    slack.inject("chat.postEphemeral", fault(kind), times=TIMES[times])
    await ask(atom_fast, threaded=True, plain=True)
    notices = [e for e in slack.ephemerals if "Slack did not accept" in e["text"]]
    notices += [m for m in slack.visible("D1") if "Slack did not accept" in m.get("text", "")]
    assert notices, "the person was not told"
    assert all("answer_redeliver" in str(n["blocks"]) for n in notices)
    assert not [m for m in slack.visible("D1") if "w0 w1" in m.get("text", "")]  # no partial left
    if kind in ("429", "ok_false"):  # nothing ambiguous: exactly one notice
        assert len(notices) == 1
