"""The fake Slack's agent-messaging surface, driven by the real slack_sdk client: streaming chunks,
channel membership, and the refusals Atom must handle."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.models.messages.chunk import MarkdownTextChunk, TaskUpdateChunk
from slack_sdk.web.async_client import AsyncWebClient

from bot.views.steps import task_card


@pytest.fixture
async def client(fake_slack):
    return AsyncWebClient(token="xoxb-test", base_url=fake_slack.url)


async def test_stream_chunks_arrive_as_slack_sdk_sends_them(fake_slack, client):
    stream = await client.chat_stream(channel="D1", thread_ts="1.1", buffer_size=1, task_display_mode="timeline")
    await stream.append(chunks=[TaskUpdateChunk(id="s1", title="Choosing a model", status="in_progress")])
    await stream.append(markdown_text="Hello")
    await stream.stop(chunks=[TaskUpdateChunk(id="s1", title="Choosing a model", status="complete")])
    start, append, stop = (fake_slack.calls_to(m)[0] for m in ("chat.startStream", "chat.appendStream", "chat.stopStream"))
    assert start.params["task_display_mode"] == "timeline"
    assert start.params["chunks"] == [{"type": "task_update", "id": "s1", "title": "Choosing a model", "status": "in_progress"}]
    assert append.params["chunks"] == [{"type": "markdown_text", "text": "Hello"}]
    assert stop.params["chunks"][0]["status"] == "complete"


async def test_chunks_a_slack_does_not_accept_are_refused(fake_slack, client):
    fake_slack.chunk_types = {"markdown_text"}
    with pytest.raises(SlackApiError) as refused:
        await client.chat_startStream(channel="D1", thread_ts="1.1", chunks=[task_card("s1", "Step")])
    assert refused.value.response["error"] == "invalid_chunks"
    await client.chat_startStream(channel="D1", thread_ts="1.1", chunks=[MarkdownTextChunk(text="ok")])
    with pytest.raises(SlackApiError):
        await client.chat_startStream(channel="D1", thread_ts="1.1", chunks=[{"type": "task_update", "title": "no id"}])
    with pytest.raises(SlackApiError):
        await client.chat_startStream(channel="D1", thread_ts="1.1", task_display_mode="carousel")


async def test_members_page_with_cursors_and_channels_atom_is_not_in(fake_slack, client):
    fake_slack.members["C1"] = [f"U{n}" for n in range(5)]
    first = await client.conversations_members(channel="C1", limit=2)
    assert first["members"] == ["U0", "U1"] and first["response_metadata"]["next_cursor"]
    rest = await client.conversations_members(channel="C1", limit=10, cursor=first["response_metadata"]["next_cursor"])
    assert rest["members"] == ["U2", "U3", "U4"] and rest["response_metadata"]["next_cursor"] == ""
    fake_slack.channels["C2"] = {"is_member": False}
    assert (await client.conversations_info(channel="C2"))["channel"]["is_member"] is False
    with pytest.raises(SlackApiError) as not_in:
        await client.conversations_history(channel="C2")
    assert not_in.value.response["error"] == "not_in_channel"
    fake_slack.hidden.add("G3")
    for call in (client.conversations_info(channel="G3"), client.conversations_members(channel="G3")):
        with pytest.raises(SlackApiError) as hidden:
            await call
        assert hidden.value.response["error"] == "channel_not_found"


async def test_suggested_prompts_are_checked_like_slack(fake_slack, client):
    await client.assistant_threads_setSuggestedPrompts(channel_id="D1", prompts=[{"title": "a", "message": "b"}])
    with pytest.raises(SlackApiError):
        await client.assistant_threads_setSuggestedPrompts(channel_id="D1", prompts=[{"title": "a", "message": "b"}] * 5)


def test_task_cards_are_clipped_and_checked():
    card = task_card("x" * 100, "t" * 500, "error", "d" * 900)
    assert len(card["id"]) == 64 and len(card["title"]) == 150 and len(card["details"]) == 500
    with pytest.raises(ValueError):
        task_card("s", "title", "done")
