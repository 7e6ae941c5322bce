"""Configuration: every environment variable of the product contract, read once and validated.

Nothing else in Atom reads `os.environ`. What is missing or malformed is collected and reported
in one message that says how to fix each problem (`ConfigError`, exit code 2, no traceback).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from cryptography.fernet import Fernet

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///atom.db"
DEFAULT_PORT = 3000
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
PROVIDER_BASE_DEFAULTS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
    "deepseek": "https://api.deepseek.com",
}
CONNECTOR_URL_DEFAULTS = {
    "google_api": ("ATOM_GOOGLE_API_URL", "https://www.googleapis.com"),
    "google_oauth": ("ATOM_GOOGLE_OAUTH_URL", "https://oauth2.googleapis.com"),
    "asana_api": ("ATOM_ASANA_API_URL", "https://app.asana.com/api/1.0"),
    "asana_oauth": ("ATOM_ASANA_OAUTH_URL", "https://app.asana.com"),
}
KEY_GENERATE_HINT = "generate one with `atom keys generate`"
CONFIG_PREFIXES = ("ATOM_", "SLACK_", "GOOGLE_", "ASANA_")
WORKFLOW_RUNNERS = ("worker", "inline")


class ConfigError(Exception):
    """Configuration that cannot work; `problems` are one line each, with the fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = ["Atom cannot start: its configuration needs attention."]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("See README.md, section 'Configuration', for every variable.")
        return "\n".join(lines)


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_client_id: str | None = None
    slack_client_secret: str | None = field(default=None, repr=False)
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = DEFAULT_DATABASE_URL
    encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    encryption_key_file: Path | None = None  # set when the key came from the embedded key file
    port: int = DEFAULT_PORT
    public_url: str = "http://localhost:3000"
    provider_bases: Mapping[str, str] = field(default_factory=lambda: dict(PROVIDER_BASE_DEFAULTS))
    connector_urls: Mapping[str, str] = field(default_factory=dict)
    google_client_id: str | None = None
    google_client_secret: str | None = field(default=None, repr=False)
    asana_client_id: str | None = None
    asana_client_secret: str | None = field(default=None, repr=False)
    validate_keys: bool = True
    llm_timeout: float = 60.0
    # Delivery to Slack (bot/delivery.py): seconds per Web API try, the longest wait between tries
    # (Retry-After is honoured up to it), and when to tell the person whom Atom is waiting for.
    slack_timeout: float = 10.0
    slack_max_wait: float = 5.0
    long_wait: float = 8.0
    history_days: int = 30
    # Workflows: how late a scheduled run may still start, and how many may be enabled at once.
    workflow_grace_seconds: int = 600
    workflow_limit_person: int = 25
    workflow_limit_workspace: int = 500
    # Where workflow runs execute: "worker" (a child process `atom run` starts and supervises, so
    # the process that acknowledges Slack never does run work) or "inline" (on the same loop).
    workflow_runner: str = "worker"
    workflow_concurrency: int = 1000  # runs a worker executes at once (the rest wait their turn)
    log_level: str = "INFO"
    log_format: str = "text"
    log_content: bool = False  # ATOM_LOG_CONTENT: libraries may log questions and answers at DEBUG
    allowed_private_networks: tuple[str, ...] = ()  # ATOM_ALLOWED_PRIVATE_NETWORKS, as CIDRs
    force_http: bool = False
    # The configuration variables these settings were read from (ATOM_*, SLACK_*, GOOGLE_*,
    # ASANA_*): what a workflow worker process is started with, so it reads the same settings.
    source: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token) and not self.force_http

    @property
    def oauth_install(self) -> bool:
        return bool(self.slack_client_id and self.slack_client_secret)


def _bool(value: str, name: str, problems: list[str]) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    problems.append(f"{name}={value!r} is not a boolean: use true or false.")
    return True


def _networks(value: str, problems: list[str]) -> tuple[str, ...]:
    """ATOM_ALLOWED_PRIVATE_NETWORKS: comma-separated CIDRs endpoints may resolve to."""
    import ipaddress

    networks = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            problems.append(
                f"ATOM_ALLOWED_PRIVATE_NETWORKS: {part!r} is not a network: use CIDRs like 10.20.0.0/16,fd00:1::/64."
            )
    return tuple(networks)


def _url(value: str, name: str, problems: list[str], schemes=("http", "https")) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        problems.append(f"{name}={value!r} is not a URL: expected something like {schemes[-1]}://host/path.")
    return value


def _without_password(rest: str) -> str:
    """`user:secret@host/db` → `user:***@host/db`: messages may be read by anyone with the logs."""
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return rest
    return f"{credentials.split(':', 1)[0]}:***@{host}"


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    if not database_url.startswith("sqlite"):
        return None
    _, _, rest = database_url.partition(":///")
    rest = rest.split("?", 1)[0]
    if not rest or rest == ":memory:":
        return None
    return Path(rest)


def _valid_fernet(key: str) -> bool:
    try:
        Fernet(key.encode())
        return True
    except (ValueError, TypeError):
        return False


def embedded_key_file(database_url: str) -> Path | None:
    db = sqlite_path(database_url)
    return None if db is None else db.with_name(db.name + ".key")


def load_or_create_embedded_key(key_file: Path) -> tuple[str, bool]:
    """Read the key file beside a SQLite database, creating it (mode 0600) the first time.

    Never a fresh key per start: that would silently make every stored secret unreadable.
    Returns (key, created).
    """
    if key_file.exists():
        key = key_file.read_text().strip()
        return key, False
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key, True


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    need_slack: bool = True,
    need_keys: bool = True,
    create_key_file: bool = False,
    force_http: bool = False,
) -> Settings:
    """Read and validate the environment. Raises ConfigError listing every problem at once."""
    env = dict(os.environ if environ is None else environ)
    problems: list[str] = []

    def get(name: str) -> str | None:
        value = env.get(name)
        return value.strip() if value and value.strip() else None

    bot_token = get("SLACK_BOT_TOKEN")
    signing_secret = get("SLACK_SIGNING_SECRET")
    app_token = get("SLACK_APP_TOKEN")
    client_id, client_secret = get("SLACK_CLIENT_ID"), get("SLACK_CLIENT_SECRET")
    socket_mode = bool(app_token) and not force_http

    if need_slack:
        if not bot_token and not (client_id and client_secret):
            problems.append(
                "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-…) from your Slack app's "
                "'OAuth & Permissions' page (or set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for multi-workspace install)."
            )
        elif bot_token and not bot_token.startswith("xoxb-"):
            problems.append(
                "SLACK_BOT_TOKEN must be a bot token starting with 'xoxb-' (not a user or app token)."
            )
        if bool(client_id) != bool(client_secret):
            problems.append("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together: set both or neither.")
        if app_token and not app_token.startswith("xapp-"):
            problems.append(
                "SLACK_APP_TOKEN must be an app-level token starting with 'xapp-' "
                "(Basic Information → App-Level Tokens, scope connections:write)."
            )
        if not socket_mode and not signing_secret:
            problems.append(
                "SLACK_SIGNING_SECRET is not set (required in HTTP mode): copy it from your Slack app's "
                "'Basic Information' page, or set SLACK_APP_TOKEN to use Socket Mode."
            )

    slack_api_url = _url(get("SLACK_API_URL") or "https://slack.com/api/", "SLACK_API_URL", problems)
    if not slack_api_url.endswith("/"):
        slack_api_url += "/"

    database_url = get("ATOM_DATABASE_URL") or DEFAULT_DATABASE_URL
    if not (database_url.startswith("sqlite+aiosqlite:") or database_url.startswith("postgresql+asyncpg:")):
        if database_url.startswith(("postgres://", "postgresql://", "postgresql+psycopg")):
            problems.append(
                f"ATOM_DATABASE_URL uses a synchronous driver; use the async one: "
                f"postgresql+asyncpg://{_without_password(database_url.split('://', 1)[-1])}"
            )
        elif database_url.startswith("sqlite:"):
            problems.append(
                "ATOM_DATABASE_URL must use the async SQLite driver: sqlite+aiosqlite:///path/atom.db"
            )
        else:
            problems.append(
                "ATOM_DATABASE_URL must be sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db."
            )

    raw_keys = get("ATOM_ENCRYPTION_KEYS")
    keys: tuple[str, ...] = ()
    key_file: Path | None = None
    if raw_keys:
        keys = tuple(k.strip() for k in raw_keys.split(",") if k.strip())
        bad = [i + 1 for i, k in enumerate(keys) if not _valid_fernet(k)]
        if bad:
            problems.append(
                f"ATOM_ENCRYPTION_KEYS entry {', '.join(map(str, bad))} is not a Fernet key "
                f"(32 url-safe base64-encoded bytes): {KEY_GENERATE_HINT}."
            )
    elif need_keys:
        key_file = embedded_key_file(database_url)
        if key_file is None:
            problems.append(
                "ATOM_ENCRYPTION_KEYS is required with this database: "
                f"{KEY_GENERATE_HINT} and keep it safe (it decrypts every stored provider key)."
            )
        elif key_file.exists():
            try:
                key = key_file.read_text().strip()
            except OSError as exc:
                problems.append(f"Cannot read the key file {key_file}: {exc.strerror}.")
            else:
                if _valid_fernet(key):
                    keys = (key,)
                else:
                    problems.append(
                        f"The key file {key_file} does not hold a Fernet key: restore it from backup."
                    )
        elif not create_key_file:
            problems.append(
                f"ATOM_ENCRYPTION_KEYS is not set and there is no key file at {key_file} yet: "
                f"run `atom run` once to create it, or {KEY_GENERATE_HINT}."
            )

    port = DEFAULT_PORT
    if raw_port := get("ATOM_PORT"):
        if raw_port.isdigit() and 0 < int(raw_port) < 65536:
            port = int(raw_port)
        else:
            problems.append(f"ATOM_PORT={raw_port!r} is not a TCP port (1–65535).")
    public_url = _url(
        get("ATOM_PUBLIC_URL") or f"http://localhost:{port}", "ATOM_PUBLIC_URL", problems
    ).rstrip("/")

    bases = {}
    for provider, default in PROVIDER_BASE_DEFAULTS.items():
        name = f"ATOM_{provider.upper()}_API_BASE"
        bases[provider] = _url(get(name) or default, name, problems).rstrip("/")
    connector_urls = {}
    for key, (name, default) in CONNECTOR_URL_DEFAULTS.items():
        connector_urls[key] = _url(get(name) or default, name, problems).rstrip("/")

    google = (get("GOOGLE_CLIENT_ID"), get("GOOGLE_CLIENT_SECRET"))
    asana = (get("ASANA_CLIENT_ID"), get("ASANA_CLIENT_SECRET"))
    for label, pair in (("GOOGLE", google), ("ASANA", asana)):
        if bool(pair[0]) != bool(pair[1]):
            problems.append(f"{label}_CLIENT_ID and {label}_CLIENT_SECRET go together: set both or neither.")

    validate = _bool(get("ATOM_VALIDATE_KEYS") or "true", "ATOM_VALIDATE_KEYS", problems)
    llm_timeout = 60.0
    if raw := get("ATOM_LLM_TIMEOUT"):
        try:
            llm_timeout = float(raw)
            if not 0 < llm_timeout <= 600:
                raise ValueError
        except ValueError:
            problems.append(f"ATOM_LLM_TIMEOUT={raw!r} must be a number of seconds between 0 and 600.")
    seconds = {}
    for name, default in (("ATOM_SLACK_TIMEOUT", 10.0), ("ATOM_SLACK_MAX_WAIT", 5.0), ("ATOM_LONG_WAIT", 8.0)):
        seconds[name] = default
        if raw := get(name):
            try:
                seconds[name] = float(raw)
                if not 0 < seconds[name] <= 600:
                    raise ValueError
            except ValueError:
                problems.append(f"{name}={raw!r} must be a number of seconds between 0 and 600.")
    history_days = 30
    if raw := get("ATOM_HISTORY_DAYS"):
        if raw.isdigit() and 0 < int(raw) <= 3650:
            history_days = int(raw)
        else:
            problems.append(f"ATOM_HISTORY_DAYS={raw!r} must be a whole number of days (1–3650).")
    workflow_numbers = {}
    for name, default, low, high, unit in (
        ("ATOM_WORKFLOW_MISFIRE_GRACE", 600, 0, 86_400, "seconds"),
        ("ATOM_WORKFLOW_LIMIT_PER_PERSON", 25, 1, 10_000, "workflows"),
        ("ATOM_WORKFLOW_LIMIT_PER_WORKSPACE", 500, 1, 1_000_000, "workflows"),
        ("ATOM_WORKFLOW_CONCURRENCY", 1000, 1, 100_000, "runs"),
    ):
        raw = get(name)
        workflow_numbers[name] = default
        if raw:
            if raw.isdigit() and low <= int(raw) <= high:
                workflow_numbers[name] = int(raw)
            else:
                problems.append(f"{name}={raw!r} must be a whole number of {unit} ({low}–{high:,}).")
    workflow_runner = (get("ATOM_WORKFLOW_RUNNER") or "worker").lower()
    if workflow_runner not in WORKFLOW_RUNNERS:
        problems.append(
            f"ATOM_WORKFLOW_RUNNER={workflow_runner!r} must be worker (runs in a child process) or inline."
        )
    level = (get("ATOM_LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        problems.append(f"ATOM_LOG_LEVEL={level!r} is not one of {', '.join(LOG_LEVELS)}.")
        level = "INFO"
    log_format = (get("ATOM_LOG_FORMAT") or "text").lower()
    if log_format not in ("text", "json"):
        problems.append(f"ATOM_LOG_FORMAT={log_format!r} must be text or json.")
        log_format = "text"

    log_content = _bool(get("ATOM_LOG_CONTENT") or "false", "ATOM_LOG_CONTENT", problems)
    private_networks = _networks(get("ATOM_ALLOWED_PRIVATE_NETWORKS") or "", problems)

    if problems:
        raise ConfigError(problems)
    if key_file is not None and not keys:
        # Created only now, once everything else is valid: a refused start writes nothing.
        try:
            key, _created = load_or_create_embedded_key(key_file)
        except OSError as exc:
            raise ConfigError([f"Cannot create the key file {key_file}: {exc.strerror}."]) from None
        keys = (key,)
    return Settings(
        slack_bot_token=bot_token,
        slack_signing_secret=signing_secret,
        slack_app_token=app_token,
        slack_client_id=client_id,
        slack_client_secret=client_secret,
        slack_api_url=slack_api_url,
        database_url=database_url,
        encryption_keys=keys,
        encryption_key_file=key_file,
        port=port,
        public_url=public_url,
        provider_bases=bases,
        connector_urls=connector_urls,
        google_client_id=google[0],
        google_client_secret=google[1],
        asana_client_id=asana[0],
        asana_client_secret=asana[1],
        validate_keys=validate,
        llm_timeout=llm_timeout,
        slack_timeout=seconds["ATOM_SLACK_TIMEOUT"],
        slack_max_wait=seconds["ATOM_SLACK_MAX_WAIT"],
        long_wait=seconds["ATOM_LONG_WAIT"],
        history_days=history_days,
        workflow_grace_seconds=workflow_numbers["ATOM_WORKFLOW_MISFIRE_GRACE"],
        workflow_limit_person=workflow_numbers["ATOM_WORKFLOW_LIMIT_PER_PERSON"],
        workflow_limit_workspace=workflow_numbers["ATOM_WORKFLOW_LIMIT_PER_WORKSPACE"],
        workflow_runner=workflow_runner,
        workflow_concurrency=workflow_numbers["ATOM_WORKFLOW_CONCURRENCY"],
        log_level=level,
        log_format=log_format,
        log_content=log_content,
        allowed_private_networks=private_networks,
        force_http=force_http,
        source={k: v for k, v in env.items() if k.startswith(CONFIG_PREFIXES)},
    )
