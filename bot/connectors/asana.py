"""Asana over plain aiohttp on Atom's shared session: list my tasks, create one, complete one."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import aiohttp
import pydantic

from bot.connectors.base import Action, ActionContext, ActionResult, ConnectorError, status_error

READ = ("tasks:read", "users:read", "workspaces:read", "projects:read")
WRITE = ("tasks:write", "users:read", "workspaces:read")
MAX_BODY = 2 * 1024 * 1024
TASK_FIELDS = "name,due_on,completed,permalink_url,projects.name"


async def asana(ctx: ActionContext, method: str, path: str, *, params=None, data=None) -> dict:
    """One Asana API call; its JSON `data`, or a ConnectorError by status."""
    url = ctx.settings.connector_urls["asana_api"] + path
    headers = {"Authorization": f"Bearer {ctx.token.reveal()}", "Accept": "application/json"}
    try:
        async with ctx.http.request(
            method,
            url,
            params=params,
            json={"data": data} if data is not None else None,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=ctx.timeout),
        ) as response:
            if response.status >= 400:
                raise status_error(response.status, response.headers.get("Retry-After"))
            raw = await response.content.read(MAX_BODY + 1)
            if len(raw) > MAX_BODY:
                raise ConnectorError("too_large", "Asana's answer was too large")
            body = await asyncio.to_thread(_json, raw) if len(raw) > 65536 else _json(raw)
    except TimeoutError:
        raise ConnectorError("timeout") from None
    except aiohttp.ClientError:
        raise ConnectorError("unreachable") from None
    return body.get("data") if isinstance(body, dict) else None


def _json(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        raise ConnectorError("server", "Asana's answer was not JSON") from None


async def _workspace(ctx: ActionContext, given: str | None) -> str:
    if given:
        return given
    me = await asana(ctx, "GET", "/users/me", params={"opt_fields": "workspaces.name"})
    workspaces = (me or {}).get("workspaces") or []
    if not workspaces:
        raise ConnectorError("not_found", "your Asana account has no workspace")
    return workspaces[0]["gid"]


class ListParams(pydantic.BaseModel):
    include_completed: bool = False
    workspace: str | None = pydantic.Field(None, pattern=r"^\d+$", description="workspace gid; default: the first")
    limit: int = pydantic.Field(25, ge=1, le=100)


class CreateParams(pydantic.BaseModel):
    name: str = pydantic.Field(..., min_length=1, max_length=500)
    notes: str = pydantic.Field("", max_length=10_000)
    due_on: date | None = pydantic.Field(None, description="YYYY-MM-DD")
    workspace: str | None = pydantic.Field(None, pattern=r"^\d+$")


class CompleteParams(pydantic.BaseModel):
    task_id: str = pydantic.Field(..., pattern=r"^\d+$", description="the task's gid")


async def list_tasks(ctx: ActionContext, params: ListParams) -> ActionResult:
    workspace = await _workspace(ctx, params.workspace)
    query = {"assignee": "me", "workspace": workspace, "opt_fields": TASK_FIELDS, "limit": str(params.limit)}
    if not params.include_completed:
        query["completed_since"] = "now"
    tasks = await asana(ctx, "GET", "/tasks", params=query) or []
    items = [
        {
            "id": t.get("gid"),
            "name": t.get("name") or "",
            "due_on": t.get("due_on"),
            "projects": [p.get("name") for p in t.get("projects") or []],
            "completed": bool(t.get("completed")),
            "link": t.get("permalink_url") or "",
        }
        for t in tasks
    ]
    if not items:
        return ActionResult(ok=True, text="No open Asana tasks are assigned to you.", data=[])
    lines = [
        f"• [{t['id']}] {t['name']}" + (f" — due {t['due_on']}" if t["due_on"] else "")
        + (f" ({', '.join(t['projects'])})" if t["projects"] else "")
        for t in items
    ]
    return ActionResult(ok=True, text="\n".join(lines), data=items)


async def create_task(ctx: ActionContext, params: CreateParams) -> ActionResult:
    workspace = await _workspace(ctx, params.workspace)
    data = {"name": params.name, "notes": params.notes, "assignee": "me", "workspace": workspace}
    if params.due_on:
        data["due_on"] = params.due_on.isoformat()
    task = await asana(ctx, "POST", "/tasks", data=data) or {}
    return ActionResult(
        ok=True, text=f"Created the Asana task “{params.name}”.", data={"id": task.get("gid"), "link": task.get("permalink_url")}
    )


async def complete_task(ctx: ActionContext, params: CompleteParams) -> ActionResult:
    task = await asana(ctx, "PUT", f"/tasks/{params.task_id}", data={"completed": True}) or {}
    return ActionResult(ok=True, text=f"Completed “{task.get('name') or params.task_id}”.", data={"id": params.task_id})


ACTIONS = (
    Action(
        id="asana.list_tasks",
        connector="asana",
        description="List the Asana tasks assigned to the person, with due dates and projects.",
        Params=ListParams,
        side_effect=False,
        scopes=READ,
        run=list_tasks,
        status="Reading your Asana tasks…",
    ),
    Action(
        id="asana.create_task",
        connector="asana",
        description="Create an Asana task assigned to the person.",
        Params=CreateParams,
        side_effect=True,
        scopes=WRITE,
        run=create_task,
        preview=lambda p: f"Create the Asana task “{p.name}”" + (f", due {p.due_on}" if p.due_on else "")
        + (f"\n{p.notes[:500]}" if p.notes else ""),
    ),
    Action(
        id="asana.complete_task",
        connector="asana",
        description="Mark one of the person's Asana tasks (by id) complete.",
        Params=CompleteParams,
        side_effect=True,
        scopes=("tasks:write",),
        run=complete_task,
        preview=lambda p: f"Mark the Asana task {p.task_id} complete.",
    ),
)
