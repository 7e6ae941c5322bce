"""Workflows: plain-language requests that run on a schedule.

`schedule` owns understanding "when" (deterministic, no model); the modules beside it own the
words (`lexicon`), the zones (`zones`), the phrase grammar (`grammar`, `repeats`, `clock`,
`pieces`), resolving it against "now" (`plan`, `days`, `task`), the RFC 5545 arithmetic
(`recurrence`) and the plain description (`describe`). Nothing here imports Slack, litellm, SQLAlchemy or the settings, so
`atom schedule` starts fast and the Slack ack path can call the parser.
"""
