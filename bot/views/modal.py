"""Generic modals."""

from __future__ import annotations

from slack_sdk.models.views import View


def info_modal(title: str, blocks: list, callback_id: str = "info") -> dict:
    return View(
        type="modal", callback_id=callback_id, title=title[:24], close="Close", blocks=blocks
    ).to_dict()
