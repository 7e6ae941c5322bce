"""Logging: one setup for the whole process, text or JSON, and a redaction filter.

Every handler gets `RedactingFilter`, which masks provider keys, Slack, Google and Asana tokens
and Atom's stored tokens (`a1.…`, and the Fernet tokens of older rows) in the message, its
arguments, the exception text and the stack. slack_bolt
logs whole bodies of unverified requests, litellm logs request details: the filter sits on the
handlers (where every propagated record passes) rather than on individual loggers.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

# Ordered: the most specific patterns first so a `sk-ant-…` key is not half-masked as `sk-…`.
_SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Atom's stored tokens first: a random token body can contain "sk-" or "AIza".
    (re.compile(r"a1\.[0-9A-Za-z_\-]{43,}"), "[token-redacted]"),  # bot/storage/encryption.py
    (re.compile(r"gAAAAA[0-9A-Za-z_\-=]{20,}"), "[fernet-redacted]"),
    (re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"), "sk-ant-[redacted]"),
    (re.compile(r"sk-[A-Za-z0-9_\-]{8,}"), "sk-[redacted]"),
    (re.compile(r"AIza[0-9A-Za-z_\-]{20,}"), "AIza[redacted]"),
    (re.compile(r"xox[abposre]-[0-9A-Za-z\-]{6,}"), "xox-[redacted]"),
    (re.compile(r"xapp-[0-9A-Za-z\-]{6,}"), "xapp-[redacted]"),
    (re.compile(r"ya29\.[0-9A-Za-z_\-\.]{6,}"), "ya29.[redacted]"),
    (re.compile(r"1//[0-9A-Za-z_\-]{20,}"), "1//[redacted]"),  # Google refresh tokens
    # Header-shaped secrets whatever their format (Azure keys are bare hex, Asana tokens vary).
    (
        re.compile(
            r"(?i)((?:authorization|x-api-key|api-key|x-goog-api-key)[\"']?\s*[:=]\s*[\"']?(?:bearer\s+)?)[^\s\"',}]+"
        ),
        r"\1[redacted]",
    ),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-\.=/+]{8,}"), r"\1[redacted]"),
    (
        re.compile(
            r"(?i)((?:api_key|client_secret|refresh_token|access_token|token)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]{8,}"
        ),
        r"\1[redacted]",
    ),
    # Azure OpenAI keys: 32 hex characters (also glued to a prefix such as KEY_), or 84 letters and
    # digits; and what a library's partial mask leaves of any key ("a1b2c3d4*****").
    (re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{32}(?![0-9A-Fa-f])"), "[hex-redacted]"),
    (re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{84}(?![A-Za-z0-9])"), "[key-redacted]"),
    (re.compile(r"[A-Za-z0-9_\-]{2,}\*{3,}"), "[masked-redacted]"),
]


def redact(text: str) -> str:
    """Mask every secret-looking substring of `text`."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record in place so no handler can print a secret from it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_atom_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._atom_redacted = True
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Loggers known to log request bodies or headers: their own handlers, if any, get the filter too.
NOISY_LOGGERS = (
    "slack_bolt",
    "slack_sdk",
    "litellm",
    "LiteLLM",
    "LiteLLM Router",
    "LiteLLM Proxy",
    "httpx",
    "aiohttp",
)
_FILTER = RedactingFilter()
# litellm's DEBUG output dumps whole requests (people's questions, the model's answers) and masks
# keys only partly ("a1b2c3d4****"): it never goes below INFO, and below WARNING only when content
# logging is on. Its own stderr handler would print every line a second time, unredacted by
# level: removed, so its records reach only the root handler.
LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm")
# At DEBUG these log request and response bodies (Slack messages Atom posts, provider requests).
CONTENT_LOGGERS = ("slack_sdk", "slack_bolt", "openai", "httpx", "httpcore", "aiohttp.client")
_policy = {"log_content": False}


def quiet_libraries() -> None:
    """Hold library loggers to what the content policy allows; run again after litellm's import,
    which adds handlers and levels of its own."""
    root_level = logging.getLogger().getEffectiveLevel()
    content = _policy["log_content"]
    for name in LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        if name.startswith("LiteLLM"):  # the loggers litellm gives its own stderr handler
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(max(root_level, logging.INFO if content else logging.WARNING))
    for name in CONTENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if content else max(root_level, logging.INFO))


def attach_redaction() -> None:
    """Put the redaction filter on every handler that exists now (root, named loggers and theirs)."""
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in NOISY_LOGGERS]
    loggers += [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(_FILTER)


def setup_logging(
    level: str = "INFO", fmt: str = "text", stream=None, *, log_content: bool = False
) -> logging.Handler:
    """Configure the root logger once: one handler, the chosen format, redaction everywhere.
    `log_content` (ATOM_LOG_CONTENT): let libraries log questions and answers at DEBUG."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_atom_handler", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._atom_handler = True
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Bolt's own default handler would print bodies a second time, unfiltered: route it to root.
    for name in NOISY_LOGGERS:
        logging.getLogger(name).propagate = True
    # Alembic narrates every plugin and migration step at INFO; what ran is enough at WARNING.
    if root.level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    _policy["log_content"] = log_content
    quiet_libraries()
    attach_redaction()
    return handler
