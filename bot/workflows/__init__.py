"""Workflows: plain-language requests that run on a schedule.

`schedule` owns understanding "when" (deterministic, no model); the modules beside it own the
words (`lexicon`), the zones (`zones`), the phrase grammar (`grammar`, `repeats`, `clock`,
`pieces`), resolving it against "now" (`plan`, `days`, `task`), the RFC 5545 arithmetic
(`recurrence`) and the plain description (`describe`). Nothing in those imports Slack, litellm,
SQLAlchemy or the settings, so `atom schedule` starts fast and the Slack ack path can call the
parser.

Running workflows: `spec` (what a workflow is), `timing` (when it fires), `scheduler`
(APScheduler over the workflows table, exactly once across replicas), `runner` (one run,
recorded), `service` (what a person can do to their workflows), `planner` (words → a checked
spec), `delivery` (Slack posts outside a request). `assemble` wires them into a Runtime; it
imports lazily so the parser's modules stay light.
"""

from __future__ import annotations


def assemble(runtime) -> None:
    from bot.workflows.runner import WorkflowRunner
    from bot.workflows.scheduler import WorkflowScheduler
    from bot.workflows.service import WorkflowService, grace

    runner = WorkflowRunner(runtime)
    scheduler = WorkflowScheduler(
        runtime.workflows,
        runner.run,
        grace=grace(runtime),
        empty_outputs=lambda: runtime.crypto.encrypt("{}"),
    )
    runtime.workflow_runner = runner
    runtime.workflow_scheduler = scheduler
    runtime.workflow_service = WorkflowService(runtime, scheduler, runner)
