"""The workflow spec on its own: what parses, what is refused and why, and when it fires."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from bot.workflows import timing
from bot.workflows.schedule import parse_schedule
from bot.workflows.spec import (
    ActionStep,
    ModelStep,
    Output,
    SlackStep,
    Trigger,
    WorkflowSpec,
    fill,
    references,
)
from tests.workflowhelpers import daily_trigger


def spec(**changes) -> dict:
    data = {
        "name": "Digest",
        "trigger": {"timezone": "Europe/London", "rrule": "DTSTART;TZID=Europe/London:20261201T090000\nRRULE:FREQ=DAILY"},
        "steps": [
            {"kind": "action", "id": "mail", "action": "gmail.list_unread", "params": {}},
            {"kind": "model", "id": "sum", "task": "summarize", "instruction": "Summarize", "inputs": ["mail"]},
            {"kind": "slack", "id": "post", "text": "Today: {{sum}}"},
        ],
    }
    data.update(changes)
    return data


def test_a_spec_round_trips_through_json_with_its_version():
    parsed = WorkflowSpec.from_json(spec())
    assert parsed.version == 1 and parsed.output == Output()
    assert WorkflowSpec.from_json(parsed.to_json()) == parsed
    assert references(parsed.steps[2]) == ["sum"]


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"steps": [{"kind": "slack", "id": "post", "text": "{{later}}"}]}, "not an earlier step"),
        ({"steps": [{"kind": "slack", "id": "a", "text": "x"}, {"kind": "slack", "id": "a", "text": "y"}]}, "two steps"),
        ({"steps": []}, "at least 1"),
        ({"steps": [{"kind": "shell", "id": "a", "cmd": "rm -rf /"}]}, "does not match any of the expected tags"),
        ({"trigger": {"timezone": "Mars/Olympus", "cron": "0 9 * * *"}}, "unknown time zone"),
        ({"trigger": {"timezone": "UTC"}}, "exactly one of rrule, at or cron"),
        ({"trigger": {"timezone": "UTC", "at": "2026-12-01T09:00:00"}}, "needs a time zone offset"),
        ({"output": {"to": "channel"}}, "channel id"),
        ({"version": 2}, "Input should be 1"),
        ({"surprise": True}, "Extra inputs are not permitted"),
    ],
)
def test_what_a_spec_refuses_is_said_in_words(changes, words):
    with pytest.raises(ValidationError) as caught:
        WorkflowSpec.from_json(spec(**changes))
    assert words in str(caught.value)


def test_fill_replaces_references_everywhere_and_nothing_else():
    outputs = {"cal": "3 meetings"}
    assert fill({"q": "about {{ cal }}", "n": 3, "l": ["{{cal.text}}", "{{other}}"]}, outputs) == {
        "q": "about 3 meetings", "n": 3, "l": ["3 meetings", ""],
    }


def test_a_parsed_schedule_becomes_a_trigger_whose_runs_match_the_parser():
    now = datetime(2026, 3, 27, 12, tzinfo=UTC)  # the UK changes to summer time on the 29th
    schedule = parse_schedule("every day at 9am", tz="Europe/London", now=now)
    trigger = Trigger(timezone=schedule.timezone, rrule=schedule.rrule, description=schedule.description)
    assert timing.next_runs(trigger, now, 4) == [t.astimezone(UTC) for t in schedule.next_runs(now, 4)]
    assert [t.astimezone(schedule.next_runs(now, 1)[0].tzinfo).hour for t in timing.next_runs(trigger, now, 4)] == [9] * 4


def test_cron_one_instant_start_and_end_bound_the_runs():
    cron = Trigger(timezone="America/New_York", cron="30 8 * * mon-fri")
    runs = timing.next_runs(cron, datetime(2026, 12, 4, 20, tzinfo=UTC), 2)  # a Friday evening
    assert [r.isoformat() for r in runs] == ["2026-12-07T13:30:00+00:00", "2026-12-08T13:30:00+00:00"]
    once = Trigger(timezone="UTC", at=datetime(2026, 12, 5, 9, tzinfo=UTC))
    assert timing.next_after(once, datetime(2026, 12, 5, 9, tzinfo=UTC)) is None
    bounded = daily_trigger().model_copy(update={"end": datetime(2026, 12, 3, 12, tzinfo=UTC)})
    assert len(timing.next_runs(bounded, datetime(2026, 12, 1, 12, tzinfo=UTC), 5)) == 2
    with pytest.raises(timing.TriggerError):
        timing.validate(Trigger(timezone="UTC", cron="61 * * * *"))


def test_steps_in_words():
    from bot.workflows.spec import step_words

    assert step_words(ModelStep(id="s", task="draft", instruction="a reply", inputs=["m"])) == "Draft of `m`: a reply"
    assert step_words(SlackStep(id="p", text="hi")) == "Post a message: hi"
    assert "gmail.send" in step_words(ActionStep(id="x", action="gmail.send", params={"to": ["a@b.c"]}))
