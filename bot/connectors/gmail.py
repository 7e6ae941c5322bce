"""Gmail: search or list unread, read one message as plain text, create a draft, send."""

from __future__ import annotations

import asyncio
import base64
import html
import re
from email.message import EmailMessage

import pydantic

from bot.connectors.base import Action, ActionContext, ActionResult, ConnectorError
from bot.connectors.google_api import call_google

READ = "https://www.googleapis.com/auth/gmail.readonly"
COMPOSE = "https://www.googleapis.com/auth/gmail.compose"
HEADERS = ("From", "To", "Subject", "Date")
TAG = re.compile(r"<[^>]+>")


class SearchParams(pydantic.BaseModel):
    query: str = pydantic.Field("is:unread", max_length=500, description="Gmail search, e.g. is:unread from:ann")
    max_results: int = pydantic.Field(10, ge=1, le=25)


class UnreadParams(pydantic.BaseModel):
    max_results: int = pydantic.Field(10, ge=1, le=25)


class ReadParams(pydantic.BaseModel):
    message_id: str = pydantic.Field(..., min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")


class ComposeParams(pydantic.BaseModel):
    to: list[str] = pydantic.Field(..., min_length=1, max_length=20, description="recipient email addresses")
    subject: str = pydantic.Field(..., max_length=300)
    body: str = pydantic.Field(..., max_length=50_000, description="plain text")
    cc: list[str] = pydantic.Field(default_factory=list, max_length=20)

    @pydantic.field_validator("to", "cc")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.fullmatch(r"[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+", value.strip()):
                raise ValueError(f"“{value[:60]}” is not an email address")
        return [v.strip() for v in values]


def _header(message: dict, name: str) -> str:
    for header in (message.get("payload") or {}).get("headers") or []:
        if header.get("name", "").lower() == name.lower():
            return header.get("value") or ""
    return ""


def _summary(message: dict) -> dict:
    return {
        "id": message.get("id"),
        "from": _header(message, "From"),
        "subject": _header(message, "Subject") or "(no subject)",
        "date": _header(message, "Date"),
        "snippet": html.unescape(message.get("snippet") or ""),
    }


def _decode(data: str) -> str:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8", "replace")


def plain_text(payload: dict) -> str:
    """Pure: the text/plain body of a Gmail payload, else its HTML without tags."""
    found = {"text/plain": [], "text/html": []}

    def walk(part: dict) -> None:
        mime = part.get("mimeType", "")
        data = (part.get("body") or {}).get("data")
        if mime in found and data:
            found[mime].append(_decode(data))
        for child in part.get("parts") or []:
            walk(child)

    walk(payload)
    if found["text/plain"]:
        return "\n".join(found["text/plain"])
    return html.unescape(TAG.sub(" ", "\n".join(found["text/html"])))


# How many message gets of one search run at once, each in its own worker thread with its own Http
# (bot/connectors/google_api.py): enough for a default page in one round trip, and one person's
# search of 25 never holds more than this many of the shared Google threads.
PARALLEL_GETS = 10


async def _search(ctx: ActionContext, query: str, limit: int) -> tuple[list[dict], int]:
    """The matching messages' summaries in Gmail's order, and how many vanished between the list
    and their get (deleted or moved meanwhile: a 404 for that one message, which is skipped)."""

    def listing(service, http):
        return service("users.messages").list(userId="me", q=query, maxResults=limit).execute(http=http)

    refs = (await call_google(ctx, "gmail", listing)).get("messages") or []
    gate = asyncio.Semaphore(PARALLEL_GETS)

    async def one(message_id: str) -> dict | None:
        def get(service, http):
            return service("users.messages").get(
                userId="me", id=message_id, format="metadata", metadataHeaders=list(HEADERS)
            ).execute(http=http)

        async with gate:
            try:
                return await call_google(ctx, "gmail", get)
            except ConnectorError as exc:
                if exc.kind == "not_found":
                    return None
                raise

    # All gets run to the end (a thread cannot be stopped anyway); the first failure in Gmail's
    # order is the action's error, so a 401 or 429 still reaches run_action's refresh or wait.
    got = await asyncio.gather(*(one(ref["id"]) for ref in refs), return_exceptions=True)
    for outcome in got:
        if isinstance(outcome, BaseException):
            raise outcome
    found = [_summary(m) for m in got if m is not None]
    return found, len(got) - len(found)


def _render(found: list[dict], vanished: int, empty: str) -> ActionResult:
    one = vanished == 1
    note = (f"\n({vanished} more {'message' if one else 'messages'} matched but {'was' if one else 'were'} deleted "
            f"or moved before Atom could read {'it' if one else 'them'}.)") if vanished else ""
    if not found:
        return ActionResult(ok=True, text=empty + note, data=[])
    lines = [f"• [{m['id']}] {m['date']} — {m['from']}: *{m['subject']}* — {m['snippet']}" for m in found]
    return ActionResult(ok=True, text="\n".join(lines) + note, data=found)


async def search(ctx: ActionContext, params: SearchParams) -> ActionResult:
    return _render(*await _search(ctx, params.query, params.max_results), "No email matches that search.")


async def list_unread(ctx: ActionContext, params: UnreadParams) -> ActionResult:
    return _render(*await _search(ctx, "is:unread in:inbox", params.max_results), "No unread email in the inbox.")


async def read_message(ctx: ActionContext, params: ReadParams) -> ActionResult:
    def work(service, http):
        return service("users.messages").get(userId="me", id=params.message_id, format="full").execute(http=http)

    message = await call_google(ctx, "gmail", work)
    summary = _summary(message)
    body = plain_text(message.get("payload") or {})
    text = f"From: {summary['from']}\nSubject: {summary['subject']}\nDate: {summary['date']}\n\n{body}"
    return ActionResult(ok=True, text=text, data={**summary, "body": body})


def _raw(params: ComposeParams) -> str:
    mail = EmailMessage()
    mail["To"] = ", ".join(params.to)
    if params.cc:
        mail["Cc"] = ", ".join(params.cc)
    mail["Subject"] = params.subject
    mail.set_content(params.body)
    return base64.urlsafe_b64encode(mail.as_bytes()).decode()


async def create_draft(ctx: ActionContext, params: ComposeParams) -> ActionResult:
    def work(service, http):
        body = {"message": {"raw": _raw(params)}}
        return service("users.drafts").create(userId="me", body=body).execute(http=http)

    draft = await call_google(ctx, "gmail", work)
    return ActionResult(ok=True, text=f"Saved a draft to {', '.join(params.to)}: “{params.subject}”.", data={"id": draft.get("id")})


async def send(ctx: ActionContext, params: ComposeParams) -> ActionResult:
    def work(service, http):
        return service("users.messages").send(userId="me", body={"raw": _raw(params)}).execute(http=http)

    sent = await call_google(ctx, "gmail", work)
    return ActionResult(ok=True, text=f"Sent “{params.subject}” to {', '.join(params.to)}.", data={"id": sent.get("id")})


def _preview(verb: str):
    def preview(p: ComposeParams) -> str:
        cc = f"\nCc: {', '.join(p.cc)}" if p.cc else ""
        body = p.body if len(p.body) <= 1500 else p.body[:1500] + "…"
        return f"{verb} an email\nTo: {', '.join(p.to)}{cc}\nSubject: {p.subject}\n\n{body}"

    return preview


ACTIONS = (
    Action(
        id="gmail.list_unread",
        connector="gmail",
        description="List unread emails in the person's Gmail inbox: sender, subject, snippet, date and id.",
        Params=UnreadParams,
        side_effect=False,
        scopes=(READ,),
        run=list_unread,
        status="Reading your email…",
    ),
    Action(
        id="gmail.search",
        connector="gmail",
        description="Search the person's Gmail with Gmail search syntax; returns sender, subject, snippet, date, id.",
        Params=SearchParams,
        side_effect=False,
        scopes=(READ,),
        run=search,
        status="Searching your email…",
    ),
    Action(
        id="gmail.read_message",
        connector="gmail",
        description="Read one Gmail message (by id from a search) as plain text.",
        Params=ReadParams,
        side_effect=False,
        scopes=(READ,),
        run=read_message,
        max_chars=12_000,
        status="Reading the email…",
    ),
    Action(
        id="gmail.create_draft",
        connector="gmail",
        description="Create a Gmail draft (not sent) from the person's account.",
        Params=ComposeParams,
        side_effect=True,
        scopes=(COMPOSE,),
        run=create_draft,
        preview=_preview("Save a draft of"),
    ),
    Action(
        id="gmail.send",
        connector="gmail",
        description="Send an email from the person's Gmail account.",
        Params=ComposeParams,
        side_effect=True,
        scopes=(COMPOSE,),
        run=send,
        preview=_preview("Send"),
    ),
)
