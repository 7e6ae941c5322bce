"""Is a new top-level message only a follow-up to Atom's last answer ("make it shorter", "and in Go?")?

Under Slack's agent messaging every top-level message starts a new conversation. People still
type refinements as new messages instead of replying in the thread; such a message has no
meaning of its own, so within `FOLLOW_UP_WINDOW` of Atom's last answer it continues that
conversation (bot/memory.py decides, the answer's footer says so). Anything that carries its own
subject — a question naming a thing, pasted code, a long message — starts fresh.

Pure and cheap (a few regular expressions over at most `MAX_WORDS` words): it runs before every
top-level DM. Deliberately conservative: a false "follow-up" drags an unrelated conversation
into a new question, a false "new" only costs the person a reply in the thread.
"""

from __future__ import annotations

import re
from datetime import timedelta

FOLLOW_UP_WINDOW = timedelta(minutes=10)
MAX_WORDS = 8  # "can you make it a bit shorter please?" is 8 words; a new question is rarely this bare

# Whole messages that only make sense after an answer (several languages, lower case, no final
# punctuation).
_BARE = {
    "why", "why not", "how", "how so", "really", "are you sure", "go on", "continue", "more",
    "again", "try again", "shorter", "longer", "simpler", "more detail", "more details",
    "elaborate", "expand", "explain", "explain more", "example", "an example", "another",
    "another one", "tldr", "tl;dr", "and then", "what else", "anything else", "ok and",
    "pourquoi", "encore", "plus court", "warum", "kürzer", "nochmal", "por qué", "por que",
    "más corto", "mas corto", "perché", "più breve",
}
# Openings that lean on the previous answer: a conjunction, or a pronoun standing for it.
_LEANING_START = re.compile(
    r"^(and|but|or|also|so|then|what about|how about|same|now|et|und|y|e|e se|und wenn|et si|"
    r"y si)\b",
)
_REFINE = re.compile(
    r"^(please\s+|can you\s+|could you\s+|now\s+)?"
    r"(make|do|write|rewrite|redo|say|put|turn|translate|convert|shorten|summari[sz]e|expand|"
    r"explain|simplify|fix|format|port|show|give)\b.*\b(it|that|this|them|those|these|the same)\b",
)
_PRONOUN_ONLY = re.compile(r"^(it|it's|that|that's|those)\b")  # "this"/"these" often point elsewhere
_ENDS_ON_PRONOUN = re.compile(r"\b(it|that|those|them)$")  # "more examples of that", "why is that"
_IN_LANGUAGE = re.compile(r"^(in|en|auf|em)\s+\S+$")  # "in Go", "en français", "auf Deutsch"
_CODE = re.compile(r"```|`[^`]+`|[{};]\s*$|\bdef |\bfunction\b|https?://")


def is_follow_up_only(text: str) -> bool:
    """True when `text` has no subject of its own and leans on what was just said."""
    if _CODE.search(text):
        return False
    normal = " ".join(text.lower().replace("’", "'").split())
    normal = normal.strip(" ?!.…¿¡")
    if not normal:
        return False
    words = normal.split()
    if len(words) > MAX_WORDS:
        return False
    if normal in _BARE:
        return True
    if _IN_LANGUAGE.match(normal):
        return True
    if _LEANING_START.match(normal) and len(words) <= 4:
        return True
    if _ENDS_ON_PRONOUN.search(normal) and len(words) <= 6:
        return True
    return bool(_REFINE.match(normal) or _PRONOUN_ONLY.match(normal))
