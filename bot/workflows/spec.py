"""The workflow spec: what a workflow does, in a form a person can read and Atom can check.

Owns `WorkflowSpec` (versioned, pydantic): a trigger (an RRULE with its zone, one instant, or a
cron expression for power users; optional start and end), the steps (a connector action, a model
step or a Slack message), references from a step to earlier steps' outputs (`{{step_id}}` in a
text parameter, or a model step's `inputs`), each step's error policy, and where the output goes
(the owner's DM unless the owner confirmed a channel).

`check()` validates a spec against the connector registry and the owner's connections and says,
in words, what is wrong or what to connect; `side_effects()` lists what would act outside the
owner's DM, and `confirmation()` fingerprints those so a run can refuse any the owner did not
confirm at Enable. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SPEC_VERSION = 1
MAX_STEPS = 10
MAX_TEXT = 4_000
STEP_ID = r"^[a-z][a-z0-9_]{0,31}$"
REFERENCE = re.compile(r"\{\{\s*([a-z][a-z0-9_]{0,31})(?:\.text)?\s*\}\}")
MODEL_TASKS = ("summarize", "draft", "extract", "classify")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,30}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(_Strict):
    """When a workflow runs. Exactly one of `rrule`, `at`, `cron` is set."""

    timezone: str
    description: str = ""
    rrule: str | None = None  # "DTSTART;TZID=Europe/London:20261202T090000\nRRULE:FREQ=…"
    at: datetime | None = None  # one instant, timezone-aware
    cron: str | None = None  # five fields, read in `timezone`
    start: datetime | None = None
    end: datetime | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Trigger:
        kinds = [k for k in ("rrule", "at", "cron") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("a trigger needs exactly one of rrule, at or cron")
        for name in ("at", "start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone offset")
        if self.start and self.end and self.end <= self.start:
            raise ValueError("the end must come after the start")
        return self

    @property
    def kind(self) -> str:
        return "rrule" if self.rrule else "at" if self.at else "cron"


class ActionStep(_Strict):
    """Calls one connector action, e.g. `calendar.list_events`, with parameters."""

    kind: Literal["action"] = "action"
    id: str = Field(pattern=STEP_ID)
    action: str = Field(min_length=3, max_length=80)
    params: dict[str, Any] = Field(default_factory=dict)
    on_error: Literal["stop", "continue"] = "stop"


class ModelStep(_Strict):
    """Asks a model to summarize, draft, extract or classify, over earlier steps' outputs."""

    kind: Literal["model"] = "model"
    id: str = Field(pattern=STEP_ID)
    task: Literal["summarize", "draft", "extract", "classify"]
    instruction: str = Field(min_length=1, max_length=MAX_TEXT)
    inputs: list[str] = Field(default_factory=list)
    on_error: Literal["stop", "continue"] = "stop"


class SlackStep(_Strict):
    """Posts a message (text may refer to earlier steps) to the workflow's output."""

    kind: Literal["slack"] = "slack"
    id: str = Field(pattern=STEP_ID)
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    on_error: Literal["stop", "continue"] = "stop"


Step = Annotated[ActionStep | ModelStep | SlackStep, Field(discriminator="kind")]


class Output(_Strict):
    """Where a run's result goes: the owner's DM, or a channel the owner confirmed."""

    to: Literal["dm", "channel"] = "dm"
    channel: str | None = None

    @model_validator(mode="after")
    def _channel_named(self) -> Output:
        if self.to == "channel" and not (self.channel and CHANNEL_ID.match(self.channel)):
            raise ValueError("a channel output needs a channel id like C0123456789")
        if self.to == "dm" and self.channel:
            raise ValueError("a DM output names no channel")
        return self


class WorkflowSpec(_Strict):
    version: Literal[1] = SPEC_VERSION
    name: str = Field(min_length=1, max_length=80)
    trigger: Trigger
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    output: Output = Field(default_factory=Output)

    @model_validator(mode="after")
    def _references_point_back(self) -> WorkflowSpec:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"two steps are called {step.id!r}")
            for ref in references(step):
                if ref not in seen:
                    raise ValueError(f"step {step.id!r} uses {ref!r}, which is not an earlier step")
            seen.add(step.id)
        return self

    def to_json(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def from_json(cls, data: dict) -> WorkflowSpec:
        return cls.model_validate(data)


def references(step) -> list[str]:
    """Ids of the earlier steps this step reads."""
    found: list[str] = []
    if isinstance(step, ModelStep):
        found.extend(step.inputs)
        found.extend(REFERENCE.findall(step.instruction))
    elif isinstance(step, SlackStep):
        found.extend(REFERENCE.findall(step.text))
    else:
        for value in _strings(step.params):
            found.extend(REFERENCE.findall(value))
    return found


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def fill(value: Any, outputs: dict[str, str]) -> Any:
    """`value` with every `{{step_id}}` replaced by that step's output text."""
    if isinstance(value, str):
        return REFERENCE.sub(lambda m: outputs.get(m.group(1), ""), value)
    if isinstance(value, dict):
        return {k: fill(v, outputs) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, outputs) for v in value]
    return value


# ---------------------------------------------------------------- checking against the registry


class ActionInfo(Protocol):
    """What the checker needs of a connector action (bot/connectors/base.py's `Action`)."""

    id: str
    connector: str
    description: str
    side_effect: bool
    Params: type[BaseModel]


class ActionCatalog(Protocol):
    def action(self, action_id: str) -> ActionInfo | None: ...


@dataclass
class Problem:
    """One thing wrong with a spec, said for a person; `field` names the part (for modal errors)."""

    message: str
    field: str = ""
    connect: str = ""  # a connector the owner must connect first


@dataclass
class Check:
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def to_connect(self) -> list[str]:
        return sorted({p.connect for p in self.problems if p.connect})

    def text(self) -> str:
        return "\n".join(f"• {p.message}" for p in self.problems)


def check(spec: WorkflowSpec, catalog: ActionCatalog | None, connected: set[str]) -> Check:
    """Everything a spec names must exist in the registry, take those parameters, and be connected."""
    result = Check()
    for index, step in enumerate(spec.steps):
        if not isinstance(step, ActionStep):
            continue
        where = f"steps.{index}"
        action = catalog.action(step.action) if catalog is not None else None
        if action is None:
            result.problems.append(
                Problem(f"Step `{step.id}` uses `{step.action}`, which Atom has no such action for.", where)
            )
            continue
        try:
            # References are filled at run time; a placeholder stands in for them now.
            action.Params.model_validate(fill(step.params, _placeholders(step)))
        except ValidationError as exc:
            result.problems.append(Problem(f"Step `{step.id}` ({step.action}): {_pydantic_words(exc)}", where))
        if action.connector not in connected:
            result.problems.append(
                Problem(
                    f"Step `{step.id}` needs {action.connector.title()}, which you have not connected.",
                    where,
                    connect=action.connector,
                )
            )
    return result


def _placeholders(step) -> dict[str, str]:
    return {ref: "…" for ref in references(step)}


def _pydantic_words(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "__root__")
        parts.append(f"{location}: {error.get('msg', 'invalid')}" if location else error.get("msg", "invalid"))
    return "; ".join(parts)


def spec_errors(exc: ValidationError) -> list[Problem]:
    """A spec that does not parse, as problems a person (or the model, when re-asked) can act on."""
    problems = []
    for error in exc.errors()[:10]:
        location = ".".join(str(p) for p in error.get("loc", ()))
        problems.append(Problem(f"{location or 'spec'}: {error.get('msg', 'invalid')}", location))
    return problems


# ---------------------------------------------------------------- side effects and confirmation


@dataclass(frozen=True)
class SideEffect:
    key: str  # "step:<id>" or "output"
    words: str  # what a person is asked to confirm
    fingerprint: str  # changes whenever what would happen changes


def side_effects(spec: WorkflowSpec, catalog: ActionCatalog | None) -> list[SideEffect]:
    """Everything the workflow would do outside the owner's own DM. An unknown action counts as one."""
    effects = []
    for step in spec.steps:
        if not isinstance(step, ActionStep):
            continue
        action = catalog.action(step.action) if catalog is not None else None
        if action is None or action.side_effect:
            params = json.dumps(step.params, sort_keys=True, default=str)
            words = f"`{step.action}` with {_short(params, 300)}"
            effects.append(SideEffect(f"step:{step.id}", words, _digest(step.action, params)))
    if spec.output.to == "channel":
        effects.append(
            SideEffect("output", f"post the results in <#{spec.output.channel}>", _digest("output", spec.output.channel))
        )
    return effects


def confirmation(effects: list[SideEffect]) -> list[str]:
    """What the owner's Enable click confirms: one fingerprint per side effect."""
    return sorted(effect.fingerprint for effect in effects)


def unconfirmed(spec: WorkflowSpec, catalog: ActionCatalog | None, confirmed: Iterable[str]) -> list[SideEffect]:
    allowed = set(confirmed)
    return [effect for effect in side_effects(spec, catalog) if effect.fingerprint not in allowed]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def step_words(step, catalog: ActionCatalog | None = None) -> str:
    """One step in plain words, for previews and history."""
    if isinstance(step, ActionStep):
        action = catalog.action(step.action) if catalog is not None else None
        what = action.description if action is not None else step.action
        params = ", ".join(f"{k}={_short(str(v), 60)}" for k, v in step.params.items())
        return f"{what}" + (f" ({params})" if params else "")
    if isinstance(step, ModelStep):
        source = f" of {', '.join(f'`{i}`' for i in step.inputs)}" if step.inputs else ""
        return f"{step.task.capitalize()}{source}: {_short(step.instruction, 200)}"
    return f"Post a message: {_short(step.text, 200)}"
