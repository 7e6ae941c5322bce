"""Google Drive: search files by name or text; read a Doc, Sheet, text file or PDF as text.

Docs export as text/plain (with a byte-order mark to drop), Sheets as CSV; other files are
downloaded only up to `MAX_DOWNLOAD_BYTES`, and what is read is cut to the action's limit.
"""

from __future__ import annotations

import asyncio
import io

import pydantic

from bot.connectors.base import Action, ActionContext, ActionResult, ConnectorError
from bot.connectors.google_api import call_google

READ = "https://www.googleapis.com/auth/drive.readonly"
MAX_DOWNLOAD_BYTES = 5 * 1024 * 1024
EXPORTS = {
    "application/vnd.google-apps.document": "text/plain",
    "application/vnd.google-apps.spreadsheet": "text/csv",
    "application/vnd.google-apps.presentation": "text/plain",
}
FIELDS = "id,name,mimeType,size,modifiedTime,webViewLink"


class SearchParams(pydantic.BaseModel):
    query: str = pydantic.Field(..., min_length=1, max_length=200, description="words in the file's name or text")
    max_results: int = pydantic.Field(10, ge=1, le=25)


class ReadParams(pydantic.BaseModel):
    file_id: str = pydantic.Field(..., min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


async def search(ctx: ActionContext, params: SearchParams) -> ActionResult:
    q = f"(name contains '{_quoted(params.query)}' or fullText contains '{_quoted(params.query)}') and trashed = false"

    def work(service, http):
        request = service("files").list(q=q, pageSize=params.max_results, fields=f"files({FIELDS})")
        return request.execute(http=http).get("files") or []

    files = await call_google(ctx, "drive", work)
    if not files:
        return ActionResult(ok=True, text=f"No Drive file matches “{params.query}”.", data=[])
    lines = [f"• [{f['id']}] {f.get('name')} ({f.get('mimeType')}, modified {f.get('modifiedTime', '?')})" for f in files]
    return ActionResult(ok=True, text="\n".join(lines), data=files)


def pdf_text(content: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(content))
        return "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError):
        raise ConnectorError("invalid", "that PDF could not be read as text") from None


async def read_file(ctx: ActionContext, params: ReadParams) -> ActionResult:
    def work(service, http):
        meta = service("files").get(fileId=params.file_id, fields=FIELDS).execute(http=http)
        mime = meta.get("mimeType", "")
        if mime in EXPORTS:
            content = service("files").export(fileId=params.file_id, mimeType=EXPORTS[mime]).execute(http=http)
        elif mime.startswith("text/") or mime in ("application/pdf", "application/json"):
            if int(meta.get("size") or 0) > MAX_DOWNLOAD_BYTES:
                raise ConnectorError("too_large", f"{meta.get('name')} is over {MAX_DOWNLOAD_BYTES // 1048576} MB")
            content = service("files").get_media(fileId=params.file_id).execute(http=http)
        else:
            raise ConnectorError("invalid", f"{meta.get('name')} is a {mime} file, which Atom cannot read as text")
        return meta, content

    meta, content = await call_google(ctx, "drive", work)
    if meta.get("mimeType") == "application/pdf":
        text = await asyncio.to_thread(pdf_text, content)
    else:
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
    text = text.lstrip("\ufeff")
    return ActionResult(
        ok=True,
        text=f"{meta.get('name')}\n\n{text}",
        data={"id": meta.get("id"), "name": meta.get("name"), "mime_type": meta.get("mimeType"), "text": text},
    )


ACTIONS = (
    Action(
        id="drive.search",
        connector="google_drive",
        description="Search the person's Google Drive for files by name or by words in their text.",
        Params=SearchParams,
        side_effect=False,
        scopes=(READ,),
        run=search,
        status="Searching your Drive…",
    ),
    Action(
        id="drive.read_file",
        connector="google_drive",
        description="Read a Google Doc, Sheet (as CSV), plain-text or PDF file from Drive (by id) as text.",
        Params=ReadParams,
        side_effect=False,
        scopes=(READ,),
        run=read_file,
        max_chars=20_000,
        status="Reading the document…",
    ),
)
