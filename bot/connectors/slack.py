"""Slack, with Atom's own bot token (no extra OAuth): read a channel, post to a channel or the DM.

Atom acts only where both it and the person are members: a person cannot use Atom to read or
post in a channel they are not in.
"""

from __future__ import annotations

import re

import pydantic
from slack_sdk.errors import SlackApiError

from bot.connectors.base import Action, ActionContext, ActionResult, ConnectorError

CHANNEL_REF = re.compile(r"^<?#?([CGD][A-Z0-9]{1,20})(?:\|[^>]*)?>?$")
MAX_MESSAGES = 100


def channel_id(text: str) -> str:
    match = CHANNEL_REF.match(text.strip())
    if not match:
        raise ConnectorError("invalid", f"“{text[:40]}” is not a channel: pick one like #general (its id C…)")
    return match.group(1)


def _slack_error(exc: SlackApiError) -> ConnectorError:
    code = (exc.response.get("error") if exc.response is not None else "") or ""
    if code in ("not_in_channel", "channel_not_found", "is_archived"):
        return ConnectorError("not_found", "Atom is not in that channel (invite it with /invite @Atom)")
    if code == "ratelimited":
        retry = exc.response.headers.get("Retry-After") if exc.response is not None else None
        return ConnectorError("rate_limited", retry_after=float(retry) if retry else None)
    if code in ("missing_scope", "restricted_action", "not_allowed_token_type"):
        return ConnectorError("forbidden", "Atom's Slack app is not allowed to do that here")
    return ConnectorError("server", f"Slack said {code[:40]}")


async def _require_member(ctx: ActionContext, channel: str) -> None:
    try:
        cursor = None
        while True:
            page = await ctx.slack.conversations_members(channel=channel, limit=1000, cursor=cursor)
            if ctx.person.user_id in (page.get("members") or []):
                return
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
    except SlackApiError as exc:
        raise _slack_error(exc) from None
    raise ConnectorError("forbidden", "you are not a member of that channel")


class ReadChannelParams(pydantic.BaseModel):
    channel: str = pydantic.Field(..., description="channel id such as C0123ABC (or <#C0123ABC>)")
    limit: int = pydantic.Field(20, ge=1, le=MAX_MESSAGES, description="how many recent messages")


class PostParams(pydantic.BaseModel):
    channel: str = pydantic.Field(..., description="channel id such as C0123ABC")
    text: str = pydantic.Field(..., min_length=1, max_length=4000)


class DmParams(pydantic.BaseModel):
    text: str = pydantic.Field(..., min_length=1, max_length=12000)


async def read_channel(ctx: ActionContext, params: ReadChannelParams) -> ActionResult:
    channel = channel_id(params.channel)
    await _require_member(ctx, channel)
    try:
        page = await ctx.slack.conversations_history(channel=channel, limit=params.limit)
    except SlackApiError as exc:
        raise _slack_error(exc) from None
    messages = [
        {"user": m.get("user") or m.get("bot_id") or "", "ts": m.get("ts"), "text": m.get("text") or ""}
        for m in reversed(page.get("messages") or [])
    ]
    lines = [f"<@{m['user']}> ({m['ts']}): {m['text']}" for m in messages]
    return ActionResult(ok=True, text="\n".join(lines) or "No messages.", data=messages)


async def post_message(ctx: ActionContext, params: PostParams) -> ActionResult:
    channel = channel_id(params.channel)
    await _require_member(ctx, channel)
    try:
        sent = await ctx.slack.chat_postMessage(channel=channel, text=params.text)
    except SlackApiError as exc:
        raise _slack_error(exc) from None
    return ActionResult(ok=True, text=f"Posted in <#{channel}>.", data={"channel": channel, "ts": sent.get("ts")})


async def send_dm(ctx: ActionContext, params: DmParams) -> ActionResult:
    try:
        opened = await ctx.slack.conversations_open(users=ctx.person.user_id)
        channel = opened["channel"]["id"]
        sent = await ctx.slack.chat_postMessage(channel=channel, text=params.text)
    except SlackApiError as exc:
        raise _slack_error(exc) from None
    return ActionResult(ok=True, text="Sent to your DM.", data={"channel": channel, "ts": sent.get("ts")})


ACTIONS = (
    Action(
        id="slack.read_channel",
        connector="slack",
        description="Read the recent messages of a Slack channel that both the person and Atom are in.",
        Params=ReadChannelParams,
        side_effect=False,
        scopes=("channels:history", "groups:history", "channels:read", "groups:read"),
        run=read_channel,
        status="Reading the channel…",
    ),
    Action(
        id="slack.post_message",
        connector="slack",
        description="Post a message to a Slack channel the person is in, as Atom.",
        Params=PostParams,
        side_effect=True,
        scopes=("chat:write", "channels:read", "groups:read"),
        run=post_message,
        preview=lambda p: f"Post in <#{channel_id(p.channel)}>:\n>{p.text}",
        status="Posting…",
    ),
    Action(
        id="slack.send_dm",
        connector="slack",
        description="Send a message to the person's own DM with Atom.",
        Params=DmParams,
        side_effect=False,  # the person's own DM: nobody else sees it
        scopes=("chat:write", "im:write"),
        run=send_dm,
        preview=lambda p: f"Send you a DM:\n>{p.text[:500]}",
        tool=False,  # the answer itself already lands where the person asked
    ),
)
