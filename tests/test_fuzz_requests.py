"""Fuzz: at least 10,000 generated request bodies over real HTTP against a running Atom.

Signed and unsigned, JSON and form-encoded, events, commands and interactions, built from real
payload shapes with fields replaced by odd types, deleted or garbled. Afterwards: no 5xx, no
listener exception escaping (nothing logged at ERROR), the process alive, and data that belongs
to a person the fuzzer never speaks as unchanged.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.identity import Person
from bot.storage.encryption import Secret
from bot.storage.models import ProviderCredential, UsageRecord
from tests.conftest import SIGNING_SECRET
from tests.fakes import payloads
from tests.fakes.signing import sign

BODIES_PER_EXAMPLE = 25
EXAMPLES = int(os.environ.get("ATOM_FUZZ_EXAMPLES", "400"))  # 400 × 25 = 10,000 bodies
KEEPER = Person("", "TKEEP", "UKEEP")  # the fuzzer never speaks as this person
RESPONSE_URL = {"base": "http://127.0.0.1:9"}  # the fake Slack's, set by the test

USERS = ["U1", "U2", "UADMIN", "", "W0", "USLACKBOT"]
TEAMS = ["T1", "T2", "", "E1"]
ACTION_IDS = [
    "key_add", "key_check", "key_remove", "ws_key_add", "ws_key_check", "ws_key_remove",
    "provider_block", "provider_unblock", "audit_open", "help_open", "keys_open", "settings_open",
    "ws_budget_open", "feedback_good", "feedback_bad", "why_model", "share_answer", "no_such_action",
]
CALLBACKS = [
    "key_form:openai:personal", "key_form:azure:workspace", "key_form:nope:x", "key_form:", "settings",
    "workspace_budget", "summarize_thread", "unknown_callback", "",
]
SUBCOMMANDS = ["help", "ask what is 2+2", "keys", "usage", "settings", "admin", "forget", "export", "",
               "zzz", "ask", "workflow x", "ask what is a payload"]
# Values that go where they do not belong. Drawn from a pool (plus short random text) because
# generating deep random trees costs more than sending them.
ODD_POOL = [None, True, False, 0, -1, 2**64, 1.5, float("nan"), "", "x", "U1", "<!channel>", "\x00",
            [], {}, [1], ["a", None], {"id": 7}, {"": []}, [[{}]], "1700000000.000100", "T1"]


def _templates() -> list[tuple[str, dict]]:
    """Real payload shapes: ("event" | "interaction" | "command", body)."""
    out: list[tuple[str, dict]] = []
    for user in USERS[:3]:
        for event in (
            payloads.message_im_event("hello", user=user),
            payloads.message_im_event("in a thread", user=user, thread_ts="1700000000.000001"),
            payloads.app_mention_event("hi there", user=user),
            payloads.message_event("follow up", user=user, thread_ts="1700000000.000100"),
            payloads.app_home_opened_event(user=user),
            payloads.assistant_thread_started_event(user=user),
        ):
            out.append(("event", payloads.event_callback(event)))
    out += [("event", payloads.event_callback(payloads.app_uninstalled_event())),
            ("event", payloads.event_callback(payloads.tokens_revoked_event())),
            ("event", payloads.url_verification_body("challenge")),
            ("event", payloads.event_callback({"type": "no_such_event", "user": "U1"}))]
    url = "{response_url}"
    for action in ACTION_IDS:
        for value in ("openai", "azure", "nope"):
            out.append(("interaction", payloads.block_actions_payload(
                action, value=value, view=payloads.view_dict(view_type="home"))))
        out.append(("interaction", payloads.block_actions_payload(
            action, value="x" * 36, channel_id="C1", response_url=url)))
    for callback in CALLBACKS:
        values = payloads.text_input_values({"key.value": "sk-proj-" + "Ab12" * 8, "budget.value": "0.004",
                                             "endpoint.value": "https://10.0.0.1"})
        out.append(("interaction", payloads.view_submission_payload(callback, values)))
        message = {"type": "message", "user": "U2", "text": "hi", "ts": "1700000000.000100"}
        out.append(("interaction", payloads.message_action_payload(callback, message=message, response_url=url)))
        out.append(("interaction", payloads.global_shortcut_payload(callback)))
        out.append(("interaction", {"type": "view_closed", "user": {"id": "U1", "team_id": "T1"},
                                    "team": {"id": "T1"}, "view": payloads.view_dict(callback_id=callback)}))
    for action in ACTION_IDS[:4]:
        out.append(("interaction", {"type": "block_suggestion", "action_id": action, "block_id": "b",
                                    "value": "a", "user": {"id": "U1", "team_id": "T1"}, "team": {"id": "T1"},
                                    "api_app_id": payloads.APP_ID}))
    for text in SUBCOMMANDS:
        out.append(("command", payloads.command_payload(text, response_url=url)))
    return [(kind, json.loads(json.dumps(body))) for kind, body in out]


TEMPLATES = _templates()


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _mutate(body, edits) -> object:
    """Apply (where, how, value) edits: replace a field by an odd value, delete it, or replace
    the whole body."""
    for where, how, value in edits:
        paths = list(_paths(body))
        path = paths[where % len(paths)]
        if not path:
            body = value if how == 0 else body
            continue
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and how == 1:
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = value
    return body


SIGNING = ["signed"] * 8 + ["none", "bad_ts", "old_ts", "bad_sig"]
BAD_TIMESTAMPS = ["abc", "", "1e9", "-1", "99999999999999999999", " 12", "0x10", "½"]
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]


def _text(rng: random.Random, size: int, low: int = 0, high: int = 0x2FFF) -> str:
    return "".join(chr(rng.randint(low, high)) for _ in range(rng.randint(0, size)))


def _odd(rng: random.Random):
    return rng.choice(ODD_POOL) if rng.random() < 0.7 else _text(rng, 8)


# Hypothesis draws one number per body; it picks the template and the signing and seeds the
# details (which fields to break, and how). Drawing every detail through Hypothesis costs ~1 ms a
# draw on a loaded machine, which would make 10,000 bodies take minutes.
@st.composite
def request(draw) -> tuple[bytes, dict[str, str]]:
    number = draw(st.integers(0, 2**48))
    index = number % (len(TEMPLATES) + 1)
    signing = SIGNING[(number // (len(TEMPLATES) + 1)) % len(SIGNING)]
    rng = random.Random(number)
    url = f"{RESPONSE_URL['base'].rstrip('/')}/actions/T1/fuzz/fake"
    if index == len(TEMPLATES):  # no template: arbitrary text under any content type
        body = _text(rng, 40, 0, 0x10FFFF) if rng.random() < 0.5 else _text(rng, 40, 0x20, 0x7E)
        content_type = rng.choice(CONTENT_TYPES)
    else:
        kind, template = TEMPLATES[index]
        inner = json.loads(json.dumps(template).replace("{response_url}", url))
        # Mostly broken bodies; an intact one now and then (those do real work, and cost more).
        count = 0 if rng.random() < 0.08 else rng.randint(1, 3)
        edits = [(rng.randrange(10_000), rng.randrange(5), _odd(rng)) for _ in range(count)]
        inner = _mutate(inner, edits)
        if kind == "event":
            body, content_type = json.dumps(inner, default=str), "application/json"
        elif kind == "interaction":
            payload = json.dumps(inner, default=str) if rng.random() < 0.9 else _text(rng, 20)
            body, content_type = urlencode({"payload": payload}), "application/x-www-form-urlencoded"
        else:
            fields = inner if isinstance(inner, dict) else {"text": inner}
            body = urlencode({str(k): str(v) for k, v in fields.items()})
            content_type = "application/x-www-form-urlencoded"
        if rng.random() < 0.05:  # a mismatched content type
            content_type = rng.choice(CONTENT_TYPES[:3])
    raw = body.encode("utf-8", "surrogatepass")
    headers = {"Content-Type": content_type} if content_type else {}
    now = str(int(time.time()))
    if signing == "signed":
        headers.update({"X-Slack-Request-Timestamp": now, "X-Slack-Signature": _sign(now, raw)})
    elif signing == "bad_ts":
        headers.update({"X-Slack-Request-Timestamp": rng.choice(BAD_TIMESTAMPS), "X-Slack-Signature": "v0=" + "0" * 64})
    elif signing == "old_ts":
        old = str(int(time.time()) - 3600)
        headers.update({"X-Slack-Request-Timestamp": old, "X-Slack-Signature": _sign(old, raw)})
    elif signing == "bad_sig":
        headers.update({"X-Slack-Request-Timestamp": now, "X-Slack-Signature": _text(rng, 8, 0x20, 0x7E)})
    return raw, headers


def _sign(ts: str, raw: bytes) -> str:
    try:
        return sign(SIGNING_SECRET, ts, raw)
    except UnicodeError:
        return "v0=bad"


class Sender:
    """Plain HTTP/1.1 from worker threads (one keep-alive connection each), so Hypothesis runs
    beside the server's own event loop and a batch is sent over several connections at once."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.local = threading.local()
        self.sent = 0
        self.statuses: dict[int, int] = {}
        self.lock = threading.Lock()

    def _conn(self, fresh: bool = False) -> http.client.HTTPConnection:
        if fresh or getattr(self.local, "conn", None) is None:
            if getattr(self.local, "conn", None) is not None:
                self.local.conn.close()
            self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        return self.local.conn

    def post(self, raw: bytes, headers: dict[str, str]) -> int:
        for attempt in range(2):
            try:
                conn = self._conn(fresh=attempt > 0)
                conn.request("POST", "/slack/events", body=raw, headers=headers)
                response = conn.getresponse()
                response.read()
                break
            except (http.client.HTTPException, OSError):
                if attempt:
                    raise
        with self.lock:
            self.sent += 1
            self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
        return response.status


async def _snapshot(atom) -> tuple[list, list]:
    await atom.runtime.usage.pending.flush()
    async with atom.runtime.sessions() as session:
        keys = [
            {c.name: getattr(row, c.name) for c in ProviderCredential.__table__.columns}
            for row in (await session.execute(select(ProviderCredential).where(
                ProviderCredential.user_id == KEEPER.user_id))).scalars()
        ]
        usage = [
            {c.name: getattr(row, c.name) for c in UsageRecord.__table__.columns}
            for row in (await session.execute(select(UsageRecord).where(
                UsageRecord.user_id == KEEPER.user_id))).scalars()
        ]
    return keys, usage


async def test_ten_thousand_odd_requests_never_break_atom(atom_sqlite, caplog):
    atom = atom_sqlite
    await atom.runtime.vault.save(KEEPER, "openai", Secret("sk-proj-" + "K33p" * 10), {}, scope="personal",
                                  check=None)
    atom.runtime.usage.record(KEEPER, atom.runtime.usage.new_id(), surface="dm", task="chat",
                              provider="openai", model="openai/gpt-4o-mini", key_scope="personal",
                              prompt_tokens=10, completion_tokens=5, cost_usd=0.001, baseline_cost_usd=0.01,
                              latency_ms=100, first_token_ms=50, failovers=0, outcome="ok", explanation="")
    before = await _snapshot(atom)
    assert before[0] and before[1]
    caplog.set_level(logging.ERROR)
    sender = Sender(atom.url)
    RESPONSE_URL["base"] = atom.slack.response_url_base
    server_errors: list[tuple[int, bytes, dict]] = []

    # No shrinking: a failure is reported with the bodies that caused it, not minimised for minutes.
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.lists(request(), min_size=BODIES_PER_EXAMPLE, max_size=BODIES_PER_EXAMPLE))
    def fuzz(batch):
        for (raw, headers), status in zip(batch, pool.map(lambda r: sender.post(*r), batch), strict=True):
            if status >= 500 and len(server_errors) < 20:
                server_errors.append((status, raw[:300], headers))

    with ThreadPoolExecutor(4) as pool:
        await asyncio.to_thread(fuzz)
    await asyncio.sleep(0.2)
    await atom.runtime.inflight.drain(30)

    assert sender.sent == EXAMPLES * BODIES_PER_EXAMPLE
    assert sender.sent >= 10_000 or "ATOM_FUZZ_EXAMPLES" in os.environ  # fewer only when asked
    assert not server_errors, server_errors
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [f"{r.name}: {r.getMessage()[:200]}" for r in errors[:10]]
    async with __import__("aiohttp").ClientSession() as http_session:
        async with http_session.get(f"{atom.url}/healthz") as resp:
            assert resp.status == 200
    assert await _snapshot(atom) == before
