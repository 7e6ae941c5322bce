"""Long answers split cleanly within Slack's limits; conversations trimmed to a model's context."""

from __future__ import annotations

import pytest
from slack_sdk.models.blocks import MarkdownBlock

from bot.llm.trimming import TRUNCATION_MARK, fit
from bot.views.answers import MARKDOWN_LIMIT, split_text
from tests.clock import ManualClock
from tests.fakes import payloads
from tests.keyhelpers import give_keys, settle

PARAGRAPH = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 20 + "\n\n"


def test_split_respects_the_limit_and_loses_nothing():
    text = PARAGRAPH * 60  # ~68k characters
    parts = split_text(text)
    assert all(len(p) <= MARKDOWN_LIMIT for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")
    for part in parts:
        MarkdownBlock(text=part).to_dict()  # slack_sdk enforces the block limit


def test_split_never_leaves_a_code_fence_open():
    code = "```python\n" + "print('hello world')\n" * 2000 + "```\n"
    parts = split_text("Here you go:\n\n" + code)
    assert len(parts) > 1
    assert all(p.count("```") % 2 == 0 for p in parts)


def test_split_cuts_an_unbroken_word_too():
    parts = split_text("x" * 30_000)
    assert [len(p) for p in parts] == [MARKDOWN_LIMIT - 8, MARKDOWN_LIMIT - 8, 30_000 - 2 * (MARKDOWN_LIMIT - 8)]


def _words(_model, messages):
    return sum(len(m["content"].split()) for m in messages)


def test_fit_keeps_the_newest_turns_that_fit():
    system = {"role": "system", "content": "be brief"}
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "w " * 10} for i in range(10)]
    question = {"role": "user", "content": "and now?"}
    messages = fit(system, history, question, model="m", budget_tokens=60, count=_words)
    assert messages[0] == system and messages[-1] == question
    kept = messages[1:-1]
    assert kept == history[-len(kept) :] and 0 < len(kept) < 10
    assert _words("m", messages) <= 60


def test_fit_shortens_a_question_too_big_on_its_own():
    system = {"role": "system", "content": "be brief"}
    question = {"role": "user", "content": "start " + "word " * 5000 + " end"}
    [_, shortened] = fit(system, [], question, model="m", budget_tokens=500, count=_words)
    assert TRUNCATION_MARK.strip() in shortened["content"]
    assert shortened["content"].startswith("start") and shortened["content"].endswith("end")
    assert _words("m", [system, shortened]) <= 500


async def test_a_very_long_streamed_answer_is_split_across_appends(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    atom_sqlite.providers.reply["openai"] = PARAGRAPH * 40  # ~45k characters
    atom_sqlite.providers.chunk_size = 4000
    await atom_sqlite.client.event(payloads.message_im_event("write a lot", thread_ts="1700000500.000100"))
    await atom_sqlite.slack.wait_for("chat.stopStream", count=2, timeout=30)  # a second message after ~36k
    await settle(atom_sqlite)
    for call in atom_sqlite.slack.calls:
        for chunk in call.params.get("chunks") or []:
            assert len(chunk.get("text", "")) <= MARKDOWN_LIMIT
    assert not [c for c in atom_sqlite.slack.calls if "msg_too_long" in str(c.params)]


async def test_a_very_long_unthreaded_answer_becomes_several_messages(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    atom_sqlite.providers.reply["openai"] = PARAGRAPH * 30  # ~34k characters
    atom_sqlite.providers.chunk_size = 4000
    # Unthreaded answers are the "Summarize thread" shortcut's (a top-level DM is answered in its thread).
    message = {"type": "message", "user": "U2", "text": "write a lot", "ts": "1700000800.000100"}
    atom_sqlite.slack.messages["C3"] = [message]
    await atom_sqlite.client.shortcut_message("summarize_thread", message=message, channel_id="C3")
    await atom_sqlite.slack.wait_for("chat.postMessage", count=3, timeout=30)
    await settle(atom_sqlite)
    for call in atom_sqlite.slack.calls_to("chat.postMessage") + atom_sqlite.slack.calls_to("chat.update"):
        for block in call.params.get("blocks") or []:
            if block["type"] == "markdown":
                assert len(block["text"]) <= MARKDOWN_LIMIT
        assert len(call.params["text"]) <= 3000
    last = atom_sqlite.slack.calls_to("chat.postMessage")[-1]
    updates = [u for u in atom_sqlite.slack.calls_to("chat.update") if "Why this model?" in str(u.params)]
    assert "Why this model?" in str(last.params) or updates


async def test_unthreaded_updates_are_at_most_one_a_second(fake_slack):
    from bot.handlers.replies import ThreadReply
    from bot.slack_client import build_client

    clock = ManualClock()
    reply = ThreadReply(build_client(fake_slack.url, "xoxb-test"), "D1", None, team_id="T1", user_id="U1", clock=clock)
    for _ in range(50):  # five seconds of tokens, one every 0.1 s
        await reply.append("word ")
        clock.now += 0.1
    await reply.finish([], "")
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    updates = fake_slack.calls_to("chat.update")
    assert 4 <= len(updates) <= 6  # ~one a second, plus the final one
    assert updates[-1].params["blocks"][0]["text"].strip() == ("word " * 50).strip()


async def test_refused_streaming_falls_back_to_post_and_update_losing_nothing(atom_sqlite):
    from tests.fakes.slack import Scripted

    await give_keys(atom_sqlite, "openai")
    atom_sqlite.slack.fail_always("chat.startStream", Scripted(body={"ok": False, "error": "not_allowed_token_type"}))
    atom_sqlite.providers.reply["openai"] = "every word of this answer arrives"
    await atom_sqlite.client.event(payloads.message_im_event("hi", thread_ts="1700000700.000100"))
    await atom_sqlite.slack.wait_for("chat.postMessage", timeout=20)
    await settle(atom_sqlite)
    final = (atom_sqlite.slack.calls_to("chat.update") or atom_sqlite.slack.calls_to("chat.postMessage"))[-1]
    assert "every word of this answer arrives" in str(final.params["blocks"])
    assert "Why this model?" in str(final.params["blocks"])


async def test_an_answer_that_fails_after_its_task_cards_leaves_no_stream_open(fake_slack):
    """The listener's error path calls `abandon`: the stream the task cards opened is stopped
    before Atom's error handler posts its apology."""
    from bot.handlers.replies import ThreadReply
    from bot.slack_client import build_client

    reply = ThreadReply(build_client(fake_slack.url, "xoxb-test"), "D1", "1700000000.000100", team_id="T1", user_id="U1")
    await reply.step("Choosing a model", details="code task")
    await reply.append("The answer beg")
    await reply.abandon()
    await fake_slack.wait_for("chat.stopStream")
    assert not any(m.get("streaming") for m in fake_slack.visible("D1"))
    await reply.abandon()  # twice, or with nothing open: no error, no second stop
    assert len(fake_slack.calls_to("chat.stopStream")) == 1


async def test_answer_passes_the_error_on_and_leaves_no_stream_open(fake_slack):
    """`ThreadReply.answer`, which every threaded surface answers through (DMs, mentions, the
    assistant panel, Summarize, Try again): a respond that fails mid-stream has its stream stopped."""
    from bot.handlers.replies import ThreadReply
    from bot.slack_client import build_client

    async def failing_respond(ask, reply):
        await reply.step("Choosing a model", details="chat")
        await reply.append("Half an ans")
        raise RuntimeError("the model call broke")

    reply = ThreadReply(build_client(fake_slack.url, "xoxb-test"), "D1", "1700000000.000200", team_id="T1", user_id="U1")
    with pytest.raises(RuntimeError, match="the model call broke"):
        await reply.answer(failing_respond, ask=None)
    assert len(fake_slack.calls_to("chat.stopStream")) == 1
    assert not any(m.get("streaming") for m in fake_slack.visible("D1"))


@pytest.mark.parametrize(
    "notes, cut_off, share, saving",
    [
        ([], False, False, 0.01),
        (["OpenAI was rate-limited; answered by gpt-6-luna"], True, True, 0.0),
        (["a"] * 12, False, False, 1.0),
    ],
)
def test_the_footer_dicts_are_what_slack_sdks_block_models_would_send(notes, cut_off, share, saving):
    """footer_blocks builds plain dicts (it runs under every answer); they must equal the models'."""
    from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ContextBlock, MarkdownTextObject

    from bot.views.answers import footer_blocks

    got = footer_blocks(
        "rec-1",
        model="openai/gpt-6-luna",
        cost=0.0012,
        saving=saving,
        notes=notes,
        cut_off=cut_off,
        share=share,
    )
    line = "gpt-6-luna · $0.0012 · " + (
        "saved $0.01" if saving == 0.01 else "saved $1.00" if saving else "no saving (premium model)"
    )
    texts = [line, *(f"↪ {n}" for n in notes)] + (
        ["⚠️ The provider stopped mid-answer: this answer is cut off."] if cut_off else []
    )
    buttons = [
        ButtonElement(text="👍", action_id="feedback_good", value="rec-1"),
        ButtonElement(text="👎", action_id="feedback_bad", value="rec-1"),
        ButtonElement(text="Why this model?", action_id="why_model", value="rec-1"),
    ]
    if share:
        buttons.insert(
            0,
            ButtonElement(text="Share in channel", action_id="share_answer", value="rec-1", style="primary"),
        )
    expected = [
        ContextBlock(
            block_id="answer_meta", elements=[MarkdownTextObject(text=t) for t in texts[:10]]
        ).to_dict(),
        ActionsBlock(block_id="answer_actions", elements=buttons).to_dict(),
    ]
    assert got == expected
