"""The HTTP server and process lifecycle of `atom run`.

HTTP mode serves Bolt at `POST /slack/events`; both modes serve `/healthz`, `/readyz` and
`/metrics` on ATOM_PORT. Requests are checked here before Bolt sees them: an unsigned request is
refused with 401 before Bolt can log its body, and a signed but malformed one gets a 4xx instead
of Bolt's 500.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import signal
import time
from collections.abc import Callable
from urllib.parse import parse_qs

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot import request_shapes
from bot.app import build_app
from bot.config import Settings
from bot.connectors.web import add_oauth_routes
from bot.llm import runtime as llm_runtime
from bot.maintenance import run_periodically
from bot.runtime import Runtime
from bot.slack_auth import StartupAuthorization, check_bot_token
from bot.socket_mode import SocketModeConnection
from bot.storage.engine import ping
from bot.storage.models import utcnow

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Slack's largest payloads (view submissions) are far below this
SHUTDOWN_GRACE_SECONDS = 20.0


def _request_kind(content_type: str, raw: str) -> tuple[str | None, str]:
    """Classify a signed body: (kind, "") or (None, what is wrong with it)."""
    if content_type == "application/json":
        if problem := request_shapes.nesting_problem(raw):
            return None, problem
        try:
            body = json.loads(raw)
        except ValueError:
            return None, "the body is not JSON"
        except RecursionError:  # nesting_problem counts the same depth; a second line all the same
            return None, "the body is nested too deeply"
        if problem := request_shapes.event_problem(body):
            return None, problem
        return str(body.get("type") or "unknown"), ""
    if content_type == "application/x-www-form-urlencoded":
        form = parse_qs(raw, keep_blank_values=True)
        if "payload" in form:
            if problem := request_shapes.nesting_problem(form["payload"][0]):
                return None, problem
            try:
                payload = json.loads(form["payload"][0])
            except ValueError:
                return None, "the payload is not JSON"
            except RecursionError:
                return None, "the payload is nested too deeply"
            if problem := request_shapes.interaction_problem(payload):
                return None, problem
            return str(payload.get("type") or "unknown"), ""
        if raw.lstrip().startswith("{"):
            return None, "a JSON body sent as a form"  # Bolt would parse it as JSON anyway
        if "command" in form:
            if problem := request_shapes.command_problem(form):
                return None, problem
            return "slash_command", ""
        if "ssl_check" in form:
            return "ssl_check", ""
        return None, "neither a payload nor a command"
    return None, "unsupported content type"


def _signed(verifier: SignatureVerifier, raw: str, headers) -> bool:
    """The v0 signature check; a timestamp that is not a number (or any odd header) is simply
    not a valid signature, never a server error."""
    try:
        return verifier.is_valid_request(raw, dict(headers))
    except (ValueError, TypeError, OverflowError, UnicodeError):
        return False


def slack_events_handler(app: AsyncApp, runtime: Runtime):
    verifier = SignatureVerifier(runtime.settings.slack_signing_secret or "")
    metrics = runtime.metrics

    async def handle(request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            raw = await request.text()
        except web.HTTPRequestEntityTooLarge:
            metrics.rejected.labels("too_large").inc()
            return web.json_response({"error": "body too large"}, status=413)
        except UnicodeDecodeError:
            metrics.rejected.labels("malformed").inc()
            return web.json_response({"error": "body is not UTF-8"}, status=400)
        if not _signed(verifier, raw, request.headers):
            metrics.rejected.labels("signature").inc()
            return web.json_response({"error": "invalid request signature"}, status=401)
        kind, problem = _request_kind(request.content_type, raw)
        if kind is None:
            log.info("refused a signed but malformed request: %s", problem)
            metrics.rejected.labels("malformed").inc()
            status = (
                415
                if request.content_type
                not in (
                    "application/json",
                    "application/x-www-form-urlencoded",
                )
                else 400
            )
            return web.json_response({"error": f"malformed request: {problem}"}, status=status)
        metrics.requests.labels(kind).inc()
        if kind == "slash_command" and "payload" in raw:
            # Bolt takes any form body containing the word "payload" for an interaction and
            # finds no payload in `/atom ask what is a payload?`; the same form, one letter
            # percent-encoded, reads the same to every parser and not to that check. (The
            # signature was verified above; Bolt does not verify it again.)
            raw = raw.replace("payload", "p%61yload")
        bolt_request = AsyncBoltRequest(body=raw, query=request.query_string, headers=request.headers)
        try:
            bolt_response = await app.async_dispatch(bolt_request)
        except Exception as exc:  # Bolt's matchers read fields of a body the checks let through
            metrics.rejected.labels("malformed").inc()
            log.warning("could not dispatch a signed %s request: %s", kind, type(exc).__name__)
            return web.json_response({"error": "malformed request"}, status=400)
        response = await to_aiohttp_response(bolt_response)
        if response.status == 200:
            metrics.acks.inc()
        metrics.ack_latency.observe(time.perf_counter() - started)
        return response

    return handle


def build_web_app(
    runtime: Runtime, app: AsyncApp | None, *, serve_events: bool, socket_connected: Callable[[], bool] | None = None
) -> web.Application:
    """`socket_connected`: in Socket Mode, whether the connection to Slack is up (for /readyz)."""
    web_app = web.Application(client_max_size=MAX_BODY_BYTES)

    async def healthz(_request):
        return web.json_response({"status": "ok"})

    async def readyz(_request):
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(ping(runtime.engine), 2.0)
            checks["database"] = "ok"
        except Exception as exc:  # readiness reports, it does not raise
            checks["database"] = f"unreachable: {type(exc).__name__}"
        workflows = runtime.workflow_scheduler
        running = runtime.scheduler_running and (workflows is None or workflows.running)
        checks["scheduler"] = "ok" if running else "not running"
        checks["accepting"] = "ok" if runtime.inflight.accepting else "shutting down"
        if socket_connected is not None:
            checks["slack_socket"] = "ok" if socket_connected() else "connecting"
        ready = all(v == "ok" for v in checks.values())
        body = {"status": "ok" if ready else "unavailable", "checks": checks}
        worker = getattr(runtime.workflow_scheduler, "handoff", None)
        if worker is not None:
            # Reported, not a readiness condition: Slack is still acknowledged while the worker
            # restarts (runs wait for it), so taking this process out of rotation would be wrong.
            body["workflow_worker"] = {
                "state": worker.state, "pid": worker.pid, "restarts": worker.restarts, "hangs": worker.hangs
            }
        return web.json_response(body, status=200 if ready else 503)

    async def metrics(_request):
        return web.Response(
            body=runtime.metrics.render(), headers={"Content-Type": runtime.metrics.content_type}
        )

    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    web_app.router.add_get("/metrics", metrics)
    add_oauth_routes(web_app, runtime)  # connector OAuth, in both run modes
    if serve_events and app is not None:
        web_app.router.add_post("/slack/events", slack_events_handler(app, runtime))
    if app is not None and app.oauth_flow is not None:
        flow = app.oauth_flow

        async def install(request: web.Request) -> web.Response:
            bolt_request = AsyncBoltRequest(body="", query=request.query_string, headers=request.headers)
            return await to_aiohttp_response(await flow.handle_installation(bolt_request))

        async def oauth_redirect(request: web.Request) -> web.Response:
            bolt_request = AsyncBoltRequest(body="", query=request.query_string, headers=request.headers)
            return await to_aiohttp_response(await flow.handle_callback(bolt_request))

        web_app.router.add_get(flow.install_path, install)
        web_app.router.add_get(flow.redirect_uri_path, oauth_redirect)
    return web_app


class AtomServer:
    """One running Atom: runtime, Bolt app, HTTP site and (optionally) the Socket Mode connection."""

    def __init__(self, settings: Settings, host: str = "0.0.0.0", port: int | None = None):
        self.settings = settings
        self.host = host
        self.port = settings.port if port is None else port
        self.runtime: Runtime | None = None
        self.app: AsyncApp | None = None
        self.surface = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._socket_handler: SocketModeConnection | None = None
        self._socket_task: asyncio.Task | None = None
        self._housekeeping: asyncio.Task | None = None
        self._recovery: asyncio.Task | None = None
        self._stopped = asyncio.Event()
        self.worker = None  # the workflow worker's supervisor (ATOM_WORKFLOW_RUNNER=worker)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:  # a failed or cancelled start releases what it had opened
            await self.stop(grace=0)
            raise

    async def _start(self) -> None:
        self.runtime = await Runtime.open(self.settings)
        self.runtime.metrics.watch_gc()
        self._housekeeping = asyncio.create_task(run_periodically(self.runtime), name="atom-housekeeping")
        # /readyz reports the periodic jobs (housekeeping, for now) as the scheduler: up while it runs.
        self.runtime.scheduler_running = True
        # Workflows: the table is the source of truth; the scheduler is rebuilt from it at each start.
        # Runs execute in a worker process (bot/workflows/worker.py) unless ATOM_WORKFLOW_RUNNER=inline.
        if self.settings.workflow_runner == "worker":
            from bot.workflows.worker import WorkerSupervisor

            self.worker = WorkerSupervisor(self.runtime)
            self.runtime.workflow_scheduler.handoff = self.worker  # started with the first armed job
        await self.runtime.workflow_scheduler.start()
        runtime = self.runtime
        self._housekeeping.add_done_callback(lambda _task: setattr(runtime, "scheduler_running", False))
        authorization = None
        if self.settings.slack_bot_token:  # one workspace: who Atom is, asked once, before any request
            authorization = StartupAuthorization(self.runtime.client)
            await check_bot_token(authorization)
        self.app, self.surface = build_app(self.runtime, authorization)
        # Answers the last process died in get their note and *Try again* (in the background).
        self._recovery = asyncio.create_task(
            close_answers_left_by_crash(self.runtime, utcnow()), name="atom-recovery"
        )
        web_app = build_web_app(
            self.runtime,
            self.app,
            serve_events=not self.settings.socket_mode,
            socket_connected=self._socket_connected if self.settings.socket_mode else None,
        )
        self._runner = web.AppRunner(web_app, handle_signals=False, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.host, self.port)
        await self._site.start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]
        if self.settings.socket_mode:
            # Connecting (and reconnecting, with backoff) runs beside the server: health checks
            # answer and a shutdown is clean even while Slack cannot be reached.
            self._socket_handler = SocketModeConnection(self.app, self.settings.slack_app_token)
            self._socket_task = asyncio.create_task(
                self._socket_handler.connect_async(), name="atom-socket-mode-connect"
            )
        log.info(
            "Atom is listening on port %s (%s)",
            self.port,
            "Socket Mode" if self.settings.socket_mode else "HTTP mode, POST /slack/events",
        )

    def _socket_connected(self) -> bool:
        return self._socket_handler is not None and self._socket_handler.connected

    async def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop taking new work, let in-flight replies finish (bounded), then release everything."""
        if self.runtime is None:
            return
        self.runtime.inflight.accepting = False
        if self._site is not None:
            await self._site.stop()  # no new connections; replies already acked keep going
        if self._socket_handler is not None:
            await self._socket_handler.close_async()
        if self._recovery is not None and not self._recovery.done():
            self._recovery.cancel()
            await asyncio.gather(self._recovery, return_exceptions=True)
        if self._socket_task is not None:
            self._socket_task.cancel()  # it may be waiting to retry
            await asyncio.gather(self._socket_task, return_exceptions=True)
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            await asyncio.gather(self._housekeeping, return_exceptions=True)
        await self.runtime.workflow_scheduler.stop()  # no new runs; runs already started finish below
        if self.worker is not None:  # the worker finishes its runs (bounded), beside the replies
            worker_stopped = asyncio.create_task(self.worker.stop(grace))
        drained = await self.runtime.inflight.drain(grace)
        if self.worker is not None:
            await worker_stopped
        if not drained:
            log.warning(
                "stopped with %d replies still in flight after %.0fs", self.runtime.inflight.count, grace
            )
        if self._runner is not None:
            await self._runner.cleanup()
        self.runtime.metrics.unwatch_gc()
        await self.runtime.close()
        self.runtime = None
        self._stopped.set()


async def close_answers_left_by_crash(runtime: Runtime, started) -> int:
    async def client_for(enterprise_id: str, team_id: str):
        if runtime.client.token:
            return runtime.client
        from bot.slack_client import build_client
        from bot.storage.installations import EncryptedInstallationStore

        store = EncryptedInstallationStore(
            runtime.sessions, runtime.crypto, runtime.settings.slack_client_id or ""
        )
        bot = await store.async_find_bot(enterprise_id=enterprise_id or None, team_id=team_id)
        if bot is None:
            return None
        return build_client(runtime.settings.slack_api_url, bot.bot_token, session=runtime.client.session)

    try:
        return await runtime.answers.close_left_by_crash(client_for, runtime.delivery_policy, before=started)
    except Exception:  # recovery is a courtesy; it must never stop Atom from starting
        log.exception("could not close the answers the last stop cut short")
        return 0


# A full garbage collection scans every live object and stops the event loop for as long: under a
# burst, with thousands of answers waiting their turn, ~300 ms, during which no Slack request is
# acknowledged. CPython considers one after every 10 middle-generation collections (about every
# 10 s under load); here after 1000, and the hourly housekeeping runs one (bot/maintenance.py), so
# cyclic garbage that outlives the young collections still goes. Young objects are collected as
# often as before, and litellm's start-up heap is frozen out of every collection anyway.
GC_YOUNG, GC_MIDDLE, GC_FULL_EVERY = 700, 10, 1000


def tune_gc() -> None:
    """The garbage collector settings of a running Atom (benchmarks apply them too)."""
    gc.set_threshold(GC_YOUNG, GC_MIDDLE, GC_FULL_EVERY)


async def run_forever(settings: Settings, stop_requested: Callable[[], bool] = lambda: False) -> None:
    """Run until SIGTERM or SIGINT, which are honoured from the first moment: during start-up
    (migrations, Slack's auth.test, before Socket Mode has ever connected) a signal cancels the
    start and releases what it had opened. `stop_requested`: a signal noted before the loop ran."""
    llm_runtime.set_offline_switches()
    tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if stop_requested():
        stop.set()
    server = AtomServer(settings)
    starting = asyncio.create_task(server.start(), name="atom-start")
    stopping = asyncio.create_task(stop.wait(), name="atom-stop-signal")
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)  # start released what it opened
            log.info("shutting down before start-up finished")
            return
        starting.result()  # a failed start raises here, already cleaned up
        # litellm takes seconds to import: Slack is already being acknowledged while it loads.
        llm_runtime.start_background_load()
        await stopping
    finally:
        stopping.cancel()
    log.info("shutting down: finishing replies in flight")
    await server.stop()
