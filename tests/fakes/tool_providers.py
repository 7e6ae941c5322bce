"""The fake providers, able to answer with tool calls in each provider's own format.

`ToolCallingProviders` extends `FakeProviders`: queue `steps` (each a list of `(tool name,
arguments)` calls, or a reply text); a request that offers tools takes the next step. Tool calls
come back as OpenAI/DeepSeek/Azure `message.tool_calls` (`finish_reason: tool_calls`), Anthropic
`tool_use` content blocks (`stop_reason: tool_use`) and Gemini `functionCall` parts — what
litellm parses on the real services. Requests without tools are answered as before.
"""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any

from aiohttp import web

from tests.fakes.providers import FakeProviders, count_tokens, request_text

Step = list[tuple[str, dict[str, Any]]] | str


def offers_tools(body: dict[str, Any]) -> bool:
    """Tools offered and allowed: `tool_choice` none (OpenAI, Anthropic) or Gemini's mode NONE forbid calls."""
    choice = body.get("tool_choice")
    if choice == "none" or (isinstance(choice, dict) and choice.get("type") == "none"):
        return False
    mode = ((body.get("toolConfig") or body.get("tool_config") or {}).get("functionCallingConfig") or {}).get("mode")
    if mode == "NONE":
        return False
    return bool(body.get("tools"))


class ToolCallingProviders(FakeProviders):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.steps: deque[Step] = deque()

    def _next_tool_calls(self, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]] | None:
        if offers_tools(body) and self.steps and isinstance(self.steps[0], list):
            return self.steps.popleft()
        return None

    def _reply_text(self, provider, record, behaviour) -> str:
        if offers_tools(record.json or {}) and self.steps and isinstance(self.steps[0], str):
            return self.steps.popleft()
        return super()._reply_text(provider, record, behaviour)

    async def _tool_calls_or_none(self, provider: str, request: web.Request, model: str | None):
        try:
            body = json.loads(await request.text() or "{}")
        except ValueError:
            return None
        calls = self._next_tool_calls(body) if isinstance(body, dict) else None
        if calls is None:
            return None
        await self._record(provider, request, model)
        return body, calls

    async def _handle_openai_like(self, provider: str, request: web.Request) -> web.StreamResponse:
        found = await self._tool_calls_or_none(provider, request, request.match_info.get("deployment"))
        if found is None:
            return await super()._handle_openai_like(provider, request)
        body, calls = found
        prompt = count_tokens(request_text(body))
        return web.json_response(
            {
                "id": self._id("chatcmpl-"),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or "unknown",
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": None,
                            "refusal": None,
                            "tool_calls": [
                                {"id": self._id("call_"), "type": "function",
                                 "function": {"name": name, "arguments": json.dumps(args)}}
                                for name, args in calls
                            ],
                        },
                        "logprobs": None,
                        "finish_reason": "tool_calls",
                    }
                ],
                "usage": {"prompt_tokens": prompt, "completion_tokens": 10 * len(calls), "total_tokens": prompt + 10 * len(calls)},
            }
        )

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        found = await self._tool_calls_or_none("anthropic", request, None)
        if found is None:
            return await super()._anthropic(request)
        body, calls = found
        return web.json_response(
            {
                "id": self._id("msg_fake"),
                "type": "message",
                "role": "assistant",
                "model": body.get("model") or "unknown",
                "content": [{"type": "tool_use", "id": self._id("toolu_"), "name": name, "input": args} for name, args in calls],
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": count_tokens(request_text(body)), "output_tokens": 10 * len(calls),
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
            }
        )

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        model = request.match_info["target"].partition(":")[0]
        found = await self._tool_calls_or_none("gemini", request, model)
        if found is None:
            return await super()._gemini(request)
        body, calls = found
        prompt = count_tokens(request_text(body))
        return web.json_response(
            {
                "candidates": [
                    {
                        "content": {"parts": [{"functionCall": {"name": name, "args": args}} for name, args in calls],
                                    "role": "model"},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": 10 * len(calls),
                                  "totalTokenCount": prompt + 10 * len(calls)},
                "modelVersion": model,
                "responseId": self._id("fake"),
            }
        )
