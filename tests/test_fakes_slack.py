"""Proves the Slack fakes speak the real protocol, by driving real slack_sdk / slack_bolt at them.

Covers `tests.fakes.slack.FakeSlack` (Web API, scripted failures, Socket Mode) and
`tests.fakes.signing.SlackRequestClient` (v0 signatures, payload shapes Bolt accepts).
Everything runs over real loopback HTTP/WebSocket; nothing in slack_sdk or slack_bolt is mocked.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp, AsyncAssistant
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.payloads import (
    app_mention_event,
    assistant_thread_started_event,
    command_payload,
    event_callback,
    message_im_event,
    text_input_values,
    view_dict,
)
from tests.fakes.signing import SlackRequestClient, sign
from tests.fakes.slack import FakeSlack, Scripted

SIGNING_SECRET = "test-signing-secret"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve an aiohttp application on a random loopback port; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()


def client_for(slack: FakeSlack, **kwargs: Any) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=slack.url, **kwargs)


# --------------------------------------------------------------------------------------------
# Web API
# --------------------------------------------------------------------------------------------


async def test_post_message_with_blocks_is_recorded_and_answered(slack: FakeSlack) -> None:
    client = client_for(slack)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]

    first = await client.chat_postMessage(channel="C1", text="hi", blocks=blocks, thread_ts="1.2")
    second = await client.chat_postMessage(channel="C1", text="again")

    assert first["ok"] and first["channel"] == "C1"
    assert first["message"]["blocks"] == blocks and first["message"]["bot_id"] == "BBOT"
    assert first["message"]["thread_ts"] == "1.2"
    # ts values look like Slack's and increase, so ordering logic in the bot can be tested.
    assert len(first["ts"].split(".")[1]) == 6
    assert tuple(map(int, second["ts"].split("."))) > tuple(map(int, first["ts"].split(".")))
    call = slack.calls_to("chat.postMessage")[0]
    assert call.token == "xoxb-test"
    assert call.headers["authorization"] == "Bearer xoxb-test"
    assert call.headers["content-type"].startswith("application/json")
    assert call.params == {"channel": "C1", "text": "hi", "blocks": blocks, "thread_ts": "1.2"}


async def test_form_and_query_json_strings_are_decoded(slack: FakeSlack) -> None:
    client = client_for(slack)
    blocks = [{"type": "divider"}]

    await client.api_call("chat.postMessage", data={"channel": "C1", "blocks": json.dumps(blocks)})
    await client.api_call(
        "chat.postEphemeral", params={"channel": "C1", "user": "U1", "blocks": json.dumps(blocks)}
    )
    await client.api_call("auth.test", data={"token": "xoxb-in-body"})

    form, query, token_in_body = slack.calls
    assert form.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form.params["blocks"] == blocks
    assert query.params == {"channel": "C1", "user": "U1", "blocks": blocks}
    assert token_in_body.token == "xoxb-test"  # the Bearer header wins, as at Slack
    assert "token" not in token_in_body.params


async def test_get_methods_users_info_and_conversations(slack: FakeSlack) -> None:
    client = client_for(slack)
    slack.users["U9"] = {"is_admin": True, "tz": "America/New_York"}
    slack.messages["D1"] = [
        {"type": "message", "user": "U1", "text": "question", "ts": "1700000001.000100"},
        {
            "type": "message",
            "user": "UBOT",
            "text": "answer",
            "ts": "1700000002.000100",
            "thread_ts": "1700000001.000100",
        },
        {"type": "message", "user": "U1", "text": "other", "ts": "1700000003.000100"},
    ]

    regular = await client.users_info(user="U2")
    admin = await client.users_info(user="U9")
    info = await client.conversations_info(channel="D1")
    dm = await client.conversations_open(users="U2")
    dm_again = await client.conversations_open(users="U2")
    history = await client.conversations_history(channel="D1", limit=2)
    replies = await client.conversations_replies(channel="D1", ts="1700000001.000100")
    empty = await client.conversations_history(channel="C404")

    assert regular["user"]["id"] == "U2" and regular["user"]["is_admin"] is False
    assert regular["user"]["tz"] == "Europe/London" and regular["user"]["team_id"] == "T1"
    assert admin["user"]["is_admin"] is True and admin["user"]["tz"] == "America/New_York"
    assert info["channel"]["is_im"] is True
    assert dm["channel"]["id"].startswith("D") and dm_again["channel"]["id"] == dm["channel"]["id"]
    assert [m["text"] for m in history["messages"]] == ["other", "answer"] and history["has_more"]
    assert [m["text"] for m in replies["messages"]] == ["question", "answer"]
    assert empty["messages"] == []
    assert slack.calls_to("users.info")[0].http_verb == "GET"


async def test_views_publish_open_update(slack: FakeSlack) -> None:
    client = client_for(slack)
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Home"}}]}

    published = await client.views_publish(user_id="U1", view=home)
    republished = await client.views_publish(user_id="U1", view=home)
    opened = await client.views_open(
        trigger_id="1.2.3",
        view={
            "type": "modal",
            "callback_id": "settings",
            "title": {"type": "plain_text", "text": "Settings"},
        },
    )
    updated = await client.views_update(view_id=opened["view"]["id"], view={"type": "modal", "blocks": []})

    assert published["view"]["id"].startswith("V") and published["view"]["hash"]
    assert republished["view"]["id"] == published["view"]["id"]
    assert slack.home_views["U1"]["blocks"] == home["blocks"]
    assert opened["view"]["callback_id"] == "settings"
    assert updated["view"]["id"] == opened["view"]["id"]
    assert slack.calls_to("views.open")[0].params["view"]["type"] == "modal"


async def test_streaming_methods_and_chat_stream_helper(slack: FakeSlack) -> None:
    client = client_for(slack)

    started = await client.chat_startStream(channel="D1", thread_ts="1700000001.000100", markdown_text="Hel")
    await client.chat_appendStream(channel="D1", ts=started["ts"], markdown_text="lo")
    stopped = await client.chat_stopStream(channel="D1", ts=started["ts"])
    assert started["ts"] and stopped["ts"] == started["ts"]

    slack.reset()
    stream = await client.chat_stream(
        channel="D1",
        thread_ts="1700000001.000100",
        recipient_team_id="T1",
        recipient_user_id="U1",
        buffer_size=5,
    )
    await stream.append(markdown_text="Hello ")  # over the buffer: starts the stream
    await stream.append(markdown_text="world, ")  # appends
    await stream.stop(blocks=[{"type": "divider"}])

    assert [c.method for c in slack.calls] == ["chat.startStream", "chat.appendStream", "chat.stopStream"]
    start, append, stop = slack.calls
    assert start.params["recipient_user_id"] == "U1" and start.params["thread_ts"] == "1700000001.000100"
    # slack_sdk 3.48's helper sends text as `chunks`, not `markdown_text`.
    assert start.params["chunks"] == [{"type": "markdown_text", "text": "Hello "}]
    assert append.params["ts"] == stream.ts and append.params["chunks"][0]["text"] == "world, "
    assert stop.params["blocks"] == [{"type": "divider"}]


async def test_other_default_answers(slack: FakeSlack) -> None:
    client = client_for(slack)

    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    updated = await client.chat_update(channel="C1", ts="1700000001.000100", text="edited")
    deleted = await client.chat_delete(channel="C1", ts="1700000001.000100")
    permalink = await client.chat_getPermalink(channel="C1", message_ts="1700000001.000100")
    await client.assistant_threads_setStatus(channel_id="D1", thread_ts="1.2", status="thinking…")
    await client.assistant_threads_setTitle(channel_id="D1", thread_ts="1.2", title="Trip")
    await client.assistant_threads_setSuggestedPrompts(
        channel_id="D1", thread_ts="1.2", prompts=[{"title": "Hi", "message": "Say hi"}]
    )
    await client.reactions_add(channel="C1", timestamp="1.2", name="eyes")

    assert "message_ts" in ephemeral.data and "ts" not in ephemeral.data  # as real Slack answers
    assert updated["ts"] == "1700000001.000100" and updated["message"]["text"] == "edited"
    assert deleted["ts"] == "1700000001.000100"
    assert permalink["permalink"].endswith("/archives/C1/p1700000001000100")
    [prompts] = slack.calls_to("assistant.threads.setSuggestedPrompts")
    assert prompts.params["prompts"] == [{"title": "Hi", "message": "Say hi"}]


async def test_scripted_delay_holds_the_answer_not_the_record(slack: FakeSlack) -> None:
    client = client_for(slack)
    slack.script("chat.postMessage", Scripted(delay=0.2))

    pending = asyncio.create_task(client.chat_postMessage(channel="C1", text="slow"))
    await slack.wait_for("chat.postMessage")  # recorded on arrival...
    assert not pending.done()  # ...while the answer is still being held back
    assert (await pending)["ok"]


async def test_missing_token_unknown_method_and_bad_tokens(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as not_authed:
        await AsyncWebClient(base_url=slack.url).auth_test()
    with pytest.raises(SlackApiError) as unknown:
        await client_for(slack).api_call("nope.nothing")
    slack.bad_tokens["xoxb-revoked"] = "token_revoked"
    with pytest.raises(SlackApiError) as revoked:
        await AsyncWebClient(token="xoxb-revoked", base_url=slack.url).auth_test()

    assert not_authed.value.response["error"] == "not_authed"
    assert unknown.value.response["error"] == "unknown_method"
    assert revoked.value.response["error"] == "token_revoked"
    assert [c.method for c in slack.calls] == ["auth.test", "nope.nothing", "auth.test"]


async def test_realistic_post_message_validation(slack: FakeSlack) -> None:
    client = client_for(slack)
    with pytest.raises(SlackApiError) as too_long:
        await client.chat_postMessage(channel="C1", text="x" * 40_001)
    with pytest.raises(SlackApiError) as too_many_blocks:
        await client.chat_postMessage(channel="C1", text="t", blocks=[{"type": "divider"}] * 51)
    assert too_long.value.response["error"] == "msg_too_long"
    assert too_many_blocks.value.response["error"] == "invalid_blocks"


async def test_rate_limit_is_retried_with_handler_and_raises_without(slack: FakeSlack) -> None:
    # Retry-After 0: the SDK sleeps Retry-After plus up to 1 s of jitter it adds itself.
    ratelimited = Scripted(
        status=429, headers={"Retry-After": "0"}, body={"ok": False, "error": "ratelimited"}
    )
    slack.script("chat.postMessage", ratelimited)
    with_retry = client_for(slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])

    result = await with_retry.chat_postMessage(channel="C1", text="hi")

    assert result["ok"] and len(slack.calls_to("chat.postMessage")) == 2

    slack.script("chat.postMessage", ratelimited)
    with pytest.raises(SlackApiError) as error:
        await client_for(slack).chat_postMessage(channel="C1", text="hi")
    assert error.value.response.status_code == 429
    assert error.value.response["error"] == "ratelimited"
    assert error.value.response.headers["Retry-After"] == "0"


async def test_server_error_is_retried_with_handler_and_raises_without(slack: FakeSlack) -> None:
    slack.script("chat.postMessage", Scripted(status=500))
    handler = AsyncServerErrorRetryHandler(
        max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0)
    )

    result = await client_for(slack, retry_handlers=[handler]).chat_postMessage(channel="C1", text="hi")
    assert result["ok"] and len(slack.calls_to("chat.postMessage")) == 2

    slack.script(
        "chat.postMessage",
        Scripted(status=503, body="<html>down</html>", headers={"Content-Type": "text/html"}),
    )
    with pytest.raises(SlackApiError) as error:
        await client_for(slack).chat_postMessage(channel="C1", text="hi")
    assert error.value.response.status_code == 503


async def test_scripted_slack_errors_fail_always_and_clear(slack: FakeSlack) -> None:
    client = client_for(slack)
    slack.script("chat.postMessage", Scripted(body={"ok": False, "error": "msg_too_long"}))
    with pytest.raises(SlackApiError) as error:
        await client.chat_postMessage(channel="C1", text="hi")
    assert error.value.response["error"] == "msg_too_long"
    assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"]  # script used up

    slack.fail_always("users.info", Scripted(body={"ok": False, "error": "user_not_found"}))
    for _ in range(2):
        with pytest.raises(SlackApiError):
            await client.users_info(user="U1")
    slack.clear_scripts()
    assert (await client.users_info(user="U1"))["ok"]


async def test_wait_for_reports_what_arrived(slack: FakeSlack) -> None:
    client = client_for(slack)
    asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(client.auth_test()))
    [call] = await slack.wait_for("auth.test")
    assert call.method == "auth.test"

    with pytest.raises(AssertionError, match=r"chat\.postMessage.*auth\.test"):
        await slack.wait_for("chat.postMessage", timeout=0.05)


async def test_all_text_sees_everything_sent(slack: FakeSlack) -> None:
    client = client_for(slack)
    await client.chat_postMessage(channel="C1", text="contains sk-secret-123")
    await client.users_info(user="U-lookup")
    slack.reset()

    text = slack.all_text()
    assert slack.calls == []  # reset() forgets calls, not the transcript
    assert "sk-secret-123" in text and "U-lookup" in text and "Bearer xoxb-test" in text


async def test_response_url_posts_are_recorded(slack: FakeSlack) -> None:
    url = f"{slack.response_url_base}commands/T1/123/abc"

    response = await AsyncWebhookClient(url).send(text="later", response_type="ephemeral")

    assert response.status_code == 200 and response.body == "ok"
    [call] = slack.calls_to("response_url")
    assert call.params == {"text": "later", "response_type": "ephemeral"} and call.token is None


# --------------------------------------------------------------------------------------------
# Signing and Bolt over HTTP
# --------------------------------------------------------------------------------------------


async def test_signature_validates_with_slack_sdk_verifier() -> None:
    received: list[tuple[bytes, dict[str, str]]] = []

    async def capture(request: web.Request) -> web.Response:
        received.append((await request.read(), dict(request.headers)))
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", capture)
    async with serve(app) as base_url, SlackRequestClient(base_url, SIGNING_SECRET) as client:
        await client.event(message_im_event("hello"))
        await client.command("summarise this")
        await client.post("{}", "application/json", signature="v0=" + "0" * 64)
        await client.post("{}", "application/json", timestamp=int(time.time()) - 600)
        await client.post("{}", "application/json", sign=False)

    verifier = SignatureVerifier(SIGNING_SECRET)
    (event_body, event_headers), (command_body, command_headers), forged, skewed, unsigned = received
    assert verifier.is_valid_request(event_body, event_headers)
    assert verifier.is_valid_request(command_body, command_headers)
    assert not verifier.is_valid_request(*forged)
    assert not verifier.is_valid_request(*skewed)
    assert "X-Slack-Signature" not in unsigned[1] and "X-Slack-Request-Timestamp" not in unsigned[1]
    assert sign(SIGNING_SECRET, "1", b"x") == SignatureVerifier(SIGNING_SECRET).generate_signature(
        timestamp="1", body="x"
    )
    assert json.loads(event_body)["event"]["channel_type"] == "im"


@asynccontextmanager
async def bolt_over_http(slack: FakeSlack) -> AsyncIterator[tuple[AsyncApp, SlackRequestClient]]:
    app = AsyncApp(client=client_for(slack), signing_secret=SIGNING_SECRET)
    async with serve(app.web_app(path="/slack/events")) as base_url:
        async with SlackRequestClient(
            base_url, SIGNING_SECRET, response_url_base=slack.response_url_base
        ) as client:
            yield app, client


async def test_bolt_http_verification_paths(slack: FakeSlack) -> None:
    async with bolt_over_http(slack) as (_app, client):
        challenge = await client.url_verification("chal-123")
        ssl_check = await client.ssl_check()
        forged = await client.post("{}", "application/json", signature="v0=" + "0" * 64)
        skewed = await client.post(
            json.dumps(event_callback(message_im_event("x"))),
            "application/json",
            timestamp=int(time.time()) - 301,
        )
        unsigned = await client.post("{}", "application/json", sign=False)

    assert challenge.status == 200 and challenge.json == {"challenge": "chal-123"}
    assert ssl_check.status == 200
    assert (forged.status, skewed.status, unsigned.status) == (401, 401, 401)


async def test_bolt_http_handles_events_commands_and_interactions(slack: FakeSlack) -> None:
    seen: dict[str, Any] = {}
    async with bolt_over_http(slack) as (app, client):

        @app.event("app_mention")
        async def mention(event: dict[str, Any], say: Any, request: Any) -> None:
            seen["retry_num"] = request.headers.get("x-slack-retry-num")
            await say(text="on it", thread_ts=event["ts"])

        @app.command("/atom")
        async def command(ack: Any, respond: Any, command: dict[str, Any]) -> None:
            await ack("working")
            await respond(f"done: {command['text']}")

        @app.action("approve")
        async def approve(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            await client.views_publish(user_id=body["user"]["id"], view={"type": "home", "blocks": []})
            seen["value"] = body["actions"][0]["value"]

        @app.view("settings")
        async def settings(ack: Any, view: dict[str, Any]) -> None:
            key = view["state"]["values"]["key"]["input"]["value"]
            if not key:
                await ack(response_action="errors", errors={"key": "Required"})
                return
            await ack()
            seen["metadata"] = view["private_metadata"]

        @app.shortcut("summarise")
        async def summarise(ack: Any, shortcut: dict[str, Any]) -> None:
            await ack()
            seen["shortcut_text"] = shortcut["message"]["text"]

        event = await client.event(app_mention_event("hello", channel="C7"), retry_num=1)
        [post] = await slack.wait_for("chat.postMessage")
        cmd = await client.command("status")
        [respond] = await slack.wait_for("response_url")
        action = await client.block_action("approve", value="yes", view=view_dict(view_type="home"))
        await slack.wait_for("views.publish")
        rejected = await client.view_submission("settings", text_input_values({"key.input": None}))
        accepted = await client.view_submission(
            "settings", text_input_values({"key.input": "sk-1"}), private_metadata="m1"
        )
        shortcut = await client.shortcut_message("summarise", message={"ts": "1.2", "text": "long thread"})

    assert event.status == 200 and post.params["channel"] == "C7" and post.params["thread_ts"]
    assert seen["retry_num"] == ["1"]
    # Over HTTP Bolt answers ack("text") as text/plain; over Socket Mode it becomes {"text": ...}.
    assert cmd.status == 200 and cmd.text == "working" and cmd.headers["Content-Type"] == "text/plain"
    assert respond.params["text"] == "done: status"
    assert action.status == 200 and seen["value"] == "yes"
    assert rejected.json == {"response_action": "errors", "errors": {"key": "Required"}}
    assert accepted.status == 200 and seen["metadata"] == "m1"
    assert shortcut.status == 200 and seen["shortcut_text"] == "long thread"
    assert slack.calls_to("auth.test")  # Bolt checks its token lazily on the first request


async def test_bolt_assistant_accepts_assistant_payloads(slack: FakeSlack) -> None:
    async with bolt_over_http(slack) as (app, client):
        assistant = AsyncAssistant()

        @assistant.thread_started
        async def started(say: Any, set_suggested_prompts: Any) -> None:
            await say("How can I help?")
            await set_suggested_prompts(prompts=[{"title": "Summarise", "message": "Summarise #general"}])

        @assistant.user_message
        async def user_message(payload: dict[str, Any], set_status: Any, say_stream: Any) -> None:
            await set_status("is thinking…")
            stream = await say_stream()
            await stream.append(markdown_text=f"You said: {payload['text']}")
            await stream.stop()

        app.use(assistant)
        await client.event(assistant_thread_started_event(thread_ts="1700000001.000100"))
        await slack.wait_for("assistant.threads.setSuggestedPrompts")
        await client.event(message_im_event("hi", thread_ts="1700000001.000100"))
        await slack.wait_for("chat.stopStream")

    [greeting] = slack.calls_to("chat.postMessage")
    assert greeting.params["thread_ts"] == "1700000001.000100" and greeting.params["channel"] == "D1"
    [status] = slack.calls_to("assistant.threads.setStatus")
    assert status.params["status"] == "is thinking…"
    [start] = slack.calls_to("chat.startStream")
    assert start.params["recipient_user_id"] == "U1" and start.params["thread_ts"] == "1700000001.000100"
    [stop] = slack.calls_to("chat.stopStream")
    assert stop.params["chunks"] == [{"type": "markdown_text", "text": "You said: hi"}]


# --------------------------------------------------------------------------------------------
# Socket Mode
# --------------------------------------------------------------------------------------------


async def test_socket_mode_slash_command_round_trip(slack: FakeSlack) -> None:
    app = AsyncApp(client=client_for(slack), signing_secret="x")

    @app.command("/atom")
    async def atom(ack: Any, say: Any, command: dict[str, Any]) -> None:
        await ack()
        await say(f"echo: {command['text']}")

    @app.event("message")
    async def dm(event: dict[str, Any], say: Any) -> None:
        await say(f"dm: {event['text']}")

    handler = AsyncSocketModeHandler(app, "xapp-test")
    await handler.connect_async()
    try:
        envelope_id = await slack.send_envelope(
            "slash_commands", command_payload("hello"), accepts_response_payload=True
        )
        ack = await slack.wait_ack(envelope_id)
        [post] = await slack.wait_for("chat.postMessage")

        event_envelope = await slack.send_envelope("events_api", event_callback(message_im_event("hi")))
        assert await slack.wait_ack(event_envelope) == {"envelope_id": event_envelope}
        await slack.wait_for("chat.postMessage", count=2)
    finally:
        await handler.close_async()

    assert ack == {"envelope_id": envelope_id}
    assert post.params["channel"] == "C1" and post.params["text"] == "echo: hello"
    assert post.token == "xoxb-test"
    [connection] = slack.calls_to("apps.connections.open")
    assert connection.token == "xapp-test"
    # Bolt's per-request client adds the event's team_id to every call.
    assert slack.calls_to("chat.postMessage")[1].params == {
        "channel": "D1",
        "text": "dm: hi",
        "team_id": "T1",
    }


async def test_socket_mode_ack_payload_and_reconnect(slack: FakeSlack) -> None:
    app = AsyncApp(client=client_for(slack), signing_secret="x")

    @app.command("/atom")
    async def atom(ack: Any) -> None:
        await ack("right away")

    handler = AsyncSocketModeHandler(app, "xapp-test")
    await handler.connect_async()
    try:
        first = await slack.send_envelope(
            "slash_commands", command_payload("a"), accepts_response_payload=True
        )
        assert (await slack.wait_ack(first))["payload"] == {"text": "right away"}

        await slack.disconnect_sockets()  # the client reconnects through apps.connections.open
        second = await slack.send_envelope(
            "slash_commands", command_payload("b"), accepts_response_payload=True
        )
        assert (await slack.wait_ack(second))["payload"] == {"text": "right away"}
    finally:
        await handler.close_async()

    assert slack.socket_connections == 2
    assert len(slack.calls_to("apps.connections.open")) == 2
    assert "right away" in slack.all_text()  # acks are part of the leak-search transcript


async def test_apps_connections_open_rejects_bot_tokens(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as error:
        await client_for(slack).apps_connections_open(app_token="xoxb-not-an-app-token")
    assert error.value.response["error"] == "not_allowed_token_type"


async def test_files_upload_v2_speaks_the_three_step_upload(slack: FakeSlack) -> None:
    client = client_for(slack)
    result = await client.files_upload_v2(
        channel="D1", content=b'{"a": 1}', filename="x.json", title="X", initial_comment="here"
    )
    assert result["ok"] and result["file"]["title"] == "X"
    assert [c.method for c in slack.calls] == [
        "files.getUploadURLExternal", "file_upload", "files.completeUploadExternal"
    ]
    assert slack.calls_to("file_upload")[0].token is None  # the upload URL is pre-signed
    [shared] = slack.files
    assert shared["data"] == b'{"a": 1}' and shared["channel_id"] == "D1" and shared["initial_comment"] == "here"


async def test_completing_an_upload_whose_bytes_never_arrived_fails(slack: FakeSlack) -> None:
    client = client_for(slack)
    started = await client.files_getUploadURLExternal(filename="x.json", length=8)
    with pytest.raises(SlackApiError) as caught:
        await client.files_completeUploadExternal(files=[{"id": started["file_id"], "title": "x"}], channel_id="D1")
    assert caught.value.response["error"] == "file_not_found"
    assert slack.files == []
