"""The provider catalog: one entry per provider says everything Atom needs to know about it.

Fields a person fills in, what a key looks like, how litellm names its models and where its
API lives. Adding a sixth provider is one more `Provider(...)` in `CATALOG`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.llm import endpoints

MAX_KEY_LENGTH = 300  # real keys are under 200 characters
AZURE_DEFAULT_API_VERSION = "2024-10-21"
# Model families an Azure deployment may run; litellm prices them as `azure/<family>`.
AZURE_MODEL_FAMILIES = (
    "gpt-6-luna",
    "gpt-6.1-terra",
    "gpt-6.1-sol",
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-4.1-nano",
    "gpt-4.1-mini",
    "gpt-4.1",
    "gpt-5-nano",
    "gpt-5-mini",
    "gpt-5",
    "o3-mini",
    "o4-mini",
)


@dataclass(frozen=True)
class FormField:
    """A non-secret setting entered next to the key (Azure's endpoint, deployments…)."""

    name: str
    label: str
    placeholder: str
    hint: str = ""
    optional: bool = False
    multiline: bool = False
    default: str = ""


@dataclass(frozen=True)
class Provider:
    id: str
    label: str
    key_pattern: re.Pattern[str]
    key_example: str  # how a key looks, for messages: "sk-…"
    litellm_prefix: str
    check_model: str  # a cheap current model (in bot.llm.models' catalog), for the one-call key check
    console_url: str
    base_setting: str | None  # key of Settings.provider_bases; None when the base is per key
    fields: tuple[FormField, ...] = ()
    validate_fields: Callable[[Mapping[str, str]], tuple[dict, dict[str, str]]] | None = field(
        default=None, repr=False
    )


# What each provider's keys start with, for telling a person "that is an Anthropic key".
KEY_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("anthropic", re.compile(r"^sk-ant-[A-Za-z0-9_\-]{20,}$")),
    ("gemini", re.compile(r"^AIza[0-9A-Za-z_\-]{30,}$")),
    ("openai", re.compile(r"^sk-(?!ant-)[A-Za-z0-9_\-]{20,}$")),
)


def check_https_url(value: str) -> str | None:
    """None when `value` may be an endpoint; else why not (https, no internal names or numeric
    tricks; see bot/llm/endpoints.py, which also resolves it before every connection)."""
    return endpoints.syntax_problem(value)


def parse_deployments(text: str) -> tuple[dict[str, str], str | None]:
    """`deployment = model family` per line → {deployment: family}, or an error message."""
    deployments: dict[str, str] = {}
    for number, line in enumerate(text.replace(",", "\n").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        name, sep, family = (part.strip() for part in line.partition("="))
        if not sep or not name or not family:
            return {}, f"Line {number}: write `deployment-name = model`, e.g. `chat-mini = gpt-4o-mini`."
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}", name):
            return {}, f"Line {number}: '{name[:30]}' is not a valid Azure deployment name."
        if family not in AZURE_MODEL_FAMILIES:
            return (
                {},
                f"Line {number}: '{family[:30]}' is not a model Atom knows. Use one of: {', '.join(AZURE_MODEL_FAMILIES)}.",
            )
        deployments[name] = family
    if not deployments:
        return {}, "Add at least one deployment, e.g. `chat-mini = gpt-4o-mini`."
    return deployments, None


def _azure_fields(values: Mapping[str, str]) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    endpoint = (values.get("endpoint") or "").strip().rstrip("/")
    if not endpoint:
        errors["endpoint"] = "Enter your Azure OpenAI endpoint, like https://my-resource.openai.azure.com"
    elif problem := check_https_url(endpoint):
        errors["endpoint"] = problem
    deployments, problem = parse_deployments(values.get("deployments") or "")
    if problem:
        errors["deployments"] = problem
    api_version = (values.get("api_version") or "").strip() or AZURE_DEFAULT_API_VERSION
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(-preview)?", api_version):
        errors["api_version"] = f"API versions look like {AZURE_DEFAULT_API_VERSION} (or …-preview)."
    return {"endpoint": endpoint, "deployments": deployments, "api_version": api_version}, errors


CATALOG: dict[str, Provider] = {
    p.id: p
    for p in (
        Provider(
            id="openai",
            label="OpenAI",
            key_pattern=re.compile(r"^sk-(?!ant-)[A-Za-z0-9_\-]{20,}$"),
            key_example="sk-…",
            litellm_prefix="openai",
            check_model="gpt-6-luna",
            console_url="https://platform.openai.com/api-keys",
            base_setting="openai",
        ),
        Provider(
            id="anthropic",
            label="Anthropic",
            key_pattern=re.compile(r"^sk-ant-[A-Za-z0-9_\-]{20,}$"),
            key_example="sk-ant-…",
            litellm_prefix="anthropic",
            check_model="claude-haiku-5-5",
            console_url="https://console.anthropic.com/settings/keys",
            base_setting="anthropic",
        ),
        Provider(
            id="gemini",
            label="Google Gemini",
            key_pattern=re.compile(r"^AIza[0-9A-Za-z_\-]{30,}$"),
            key_example="AIza…",
            litellm_prefix="gemini",
            check_model="gemini-2.5-flash-lite",
            console_url="https://aistudio.google.com/app/apikey",
            base_setting="gemini",
        ),
        Provider(
            id="deepseek",
            label="DeepSeek",
            key_pattern=re.compile(r"^sk-(?!ant-)[A-Za-z0-9_\-]{20,}$"),
            key_example="sk-…",
            litellm_prefix="deepseek",
            check_model="deepseek-v4-flash",
            console_url="https://platform.deepseek.com/api_keys",
            base_setting="deepseek",
        ),
        Provider(
            id="azure",
            label="Azure OpenAI",
            key_pattern=re.compile(r"^[A-Za-z0-9]{32,100}$"),
            key_example="a 32- or 84-character key from Keys and Endpoint",
            litellm_prefix="azure",
            check_model="",  # the first deployment
            console_url="https://portal.azure.com/#view/Microsoft_Azure_ProjectOxford/CognitiveServicesHub/~/OpenAI",
            base_setting=None,
            fields=(
                FormField("endpoint", "Endpoint", "https://my-resource.openai.azure.com"),
                FormField(
                    "deployments",
                    "Deployments",
                    "chat-mini = gpt-4o-mini",
                    hint="One per line: your deployment name = the model it runs.",
                    multiline=True,
                ),
                FormField(
                    "api_version",
                    "API version",
                    AZURE_DEFAULT_API_VERSION,
                    optional=True,
                    default=AZURE_DEFAULT_API_VERSION,
                ),
            ),
            validate_fields=_azure_fields,
        ),
    )
}


def get(provider_id: str) -> Provider | None:
    return CATALOG.get(provider_id)


def shape_of(key: str) -> str | None:
    """Which provider a key's shape belongs to, when it is unambiguous."""
    for provider_id, pattern in KEY_SHAPES:
        if pattern.match(key):
            return provider_id
    return None


def with_article(name: str) -> str:
    """ "an OpenAI", "an Anthropic", "a DeepSeek"."""
    return f"{'an' if name[:1].upper() in 'AEIOU' else 'a'} {name}"


def check_key_format(provider: Provider, raw: str | None) -> tuple[str, str | None]:
    """Clean a pasted key: (key, None) when it looks right, else ("", a specific message)."""
    key = (raw or "").strip()  # copy-paste often brings a space or newline along
    label = provider.label
    if not key:
        return "", f"Enter your {label} API key."
    if len(key) > MAX_KEY_LENGTH:
        return "", f"That is {len(key):,} characters, far longer than any {label} key. Paste just the key."
    if any(ch.isspace() for ch in key):
        return "", "The key has a space or line break inside it. Paste just the key, in one piece."
    odd = next((ch for ch in key if ord(ch) > 127 or unicodedata.category(ch).startswith("C")), None)
    if odd is not None:
        shown = odd if odd.isprintable() else f"U+{ord(odd):04X}"
        return (
            "",
            f"The key contains a character that never appears in API keys ({shown}). Paste just the key.",
        )
    shape = shape_of(key)
    if shape and shape != provider.id and not (provider.id == "deepseek" and shape == "openai"):
        other = CATALOG[shape].label
        return "", f"That looks like {with_article(other)} key, not {with_article(label)} key. Add it under {other} instead."
    if not provider.key_pattern.match(key):
        return "", f"That does not look like {with_article(label)} key ({provider.key_example})."
    return key, None


# --------------------------------------------------------------------------------------------
# Keys pasted into chat. Looked for anywhere in the text, also glued to a prefix
# (`OPENAI_KEY_sk-proj-…`, `KEY=sk-…`) and across line breaks (a key split over two lines), so the
# prefixes match without a word boundary and a second pass reads the text with whitespace removed.
# What follows a prefix must look random (a long run of letters mixed with digits): prose such as
# "risk-free-trade-offs" or "task-based" is not a key.

# (provider, the literal every match starts with, pattern): a text without the literal is not
# searched (most messages have none).
_PREFIXED_KEYS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("anthropic", "sk-ant-", re.compile(r"sk-ant-(?P<body>[A-Za-z0-9_\-]{20,})")),
    ("openai", "sk-", re.compile(r"sk-(?:proj|svcacct|admin|None)-(?P<body>[A-Za-z0-9_\-]{20,})")),
    ("openai", "sk-", re.compile(r"sk-(?P<body>[A-Za-z0-9_\-]{20,})")),  # OpenAI's older keys, DeepSeek's
    ("gemini", "AIza", re.compile(r"AIza(?P<body>[0-9A-Za-z_\-]{30,})")),
)
# Azure OpenAI: 32 hex characters (not a 40-hex commit id or a 64-hex digest), or the newer
# 84-character form (letters and digits, with Cognitive Services' "ACOG" signature inside).
_AZURE_HEX = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{32,39}(?![0-9A-Fa-f])")
# The signature with 8+ letters or digits before it and 4+ after. Found by the signature first,
# then its neighbours checked: `[A-Za-z0-9]{8,}(?:…)` as one pattern backtracks through every
# long run of letters without it, quadratic in the run (a 1 MB message held the loop for minutes).
_AZURE_MARK = re.compile(r"JQQJ99|AAABACOG")


def _ascii_alnum(text: str) -> bool:
    return text.isascii() and text.isalnum()


def _azure_signature(text: str) -> bool:
    if "JQQJ99" not in text and "AAABACOG" not in text:  # most texts: a substring test, no regex
        return False
    for mark in _AZURE_MARK.finditer(text):
        before, after = text[max(0, mark.start() - 8) : mark.start()], text[mark.end() : mark.end() + 4]
        if len(before) == 8 and len(after) == 4 and _ascii_alnum(before) and _ascii_alnum(after):
            return True
    return False


_LONG_TOKEN = re.compile(r"[A-Za-z0-9_\-+/=.]{32,}")
# A provider's name or the word key/secret/token nearby turns any random-looking token into a key.
_KEY_CONTEXT = re.compile(
    r"(?i)(openai|anthropic|claude|gemini|google|deepseek|azure|api[\s_\-]?key|secret|token|key\b|key[=:_])"
)
_DEEPSEEK = re.compile(r"sk-[0-9a-f]{32}(?![A-Za-z0-9_\-])")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_CONTEXT_CHARS = 60


def _looks_random(token: str, run: int) -> bool:
    """A run of `run`+ letters and digits with at least two of each: what generated keys are made of."""
    for part in re.findall(rf"[A-Za-z0-9]{{{run},}}", token):
        digits = sum(ch.isdigit() for ch in part)
        if digits >= 2 and len(part) - digits >= 2:
            return True
    return False


def _hex_key(token: str, least: int) -> bool:
    return sum(ch.isdigit() for ch in token) >= least and sum(ch.isalpha() for ch in token) >= least


def _scan(text: str, *, joined: bool) -> str | None:
    """The provider of the first key-like token in `text`. `joined`: the text had its whitespace
    removed, so only the unmistakable shapes count (prose glued together is one long token)."""
    for provider_id, literal, pattern in _PREFIXED_KEYS:
        if literal in text and any(_looks_random(m.group("body"), 16 if joined else 12) for m in pattern.finditer(text)):
            return provider_id
    if any(_hex_key(m.group(), 4 if joined else 2) for m in _AZURE_HEX.finditer(text)):
        return "azure"
    if _azure_signature(text):
        return "azure"
    if joined:
        return None
    for match in _LONG_TOKEN.finditer(text):
        token = match.group()
        if not _looks_random(token, 16) or re.fullmatch(r"[0-9a-fA-F]{40,}", token):
            continue  # commit ids and digests are not keys
        if len(token) >= 84 and re.search(r"[A-Z]", token) and re.search(r"[a-z]", token):
            return "azure" if len(token) == 84 or "ACOG" in token else "unknown"
        around = text[max(0, match.start() - _CONTEXT_CHARS) : match.end() + _CONTEXT_CHARS]
        if _KEY_CONTEXT.search(around.replace(token, " ")):
            return "unknown"
    return None


def find_pasted_key(text: str | None) -> str | None:
    """The provider whose key seems to be in a chat message (or "unknown"), else None.
    It runs before every answer: the common case (no key) stays on C string methods where it can
    (the invisible characters are all non-ASCII; `str.split()` splits on exactly what `\\s` matches)."""
    if not text:
        return None
    if not text.isascii():
        text = text.translate(_INVISIBLE)
    found = _scan(text, joined=False)
    squeezed = None
    if found in (None, "azure", "unknown"):
        # A key split across lines, or with spaces pasted into it: read it once more without them
        # (its second half alone may already have looked like an unnamed key).
        squeezed = "".join(text.split())
        if squeezed != text:
            found = _scan(squeezed, joined=True) or found
    if found == "openai" and _DEEPSEEK.search("".join(text.split()) if squeezed is None else squeezed):
        return "deepseek"
    return found
