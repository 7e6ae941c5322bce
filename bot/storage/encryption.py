"""Encryption at rest: every stored secret is a MultiFernet token under ATOM_ENCRYPTION_KEYS.

The first key encrypts, every key decrypts, so rotation is: put a new key first, run
`atom keys rotate`, then drop the old key. `Secret` carries a plaintext value through memory
without ever printing it: its repr and str show only the hint.
"""

from __future__ import annotations

import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# A known value encrypted under the first key when the database is first used: if it cannot be
# decrypted at start-up, the configured keys are wrong (as opposed to one tampered entry).
CANARY_PLAINTEXT = "atom-encryption-canary-v1"


class UndecryptableSecret(Exception):
    """The token was not made by any configured key, or was altered."""


KNOWN_PREFIXES = ("sk-ant-", "sk-", "AIza")


def hint(value: str) -> str:
    """What a person may see of a secret: a well-known prefix and the last four characters."""
    value = value.strip()
    prefix = next((p for p in KNOWN_PREFIXES if value.startswith(p)), "")
    tail = value[-4:] if len(value) >= 16 else ""  # a short value would be half revealed
    return f"{prefix}…{tail}"


class Secret:
    """A plaintext secret in memory. It never shows itself in repr, str, logs or exceptions."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    @property
    def hint(self) -> str:
        return hint(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.hint})"

    __str__ = __repr__

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self):
        raise TypeError("a Secret cannot be pickled")


class Crypto:
    def __init__(self, keys: tuple[str, ...] | list[str]):
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])

    def __repr__(self) -> str:
        return "Crypto(<keys hidden>)"

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError, TypeError, UnicodeDecodeError):
            raise UndecryptableSecret("stored secret cannot be decrypted with the configured keys") from None

    def rotate(self, token: str) -> str:
        """Re-encrypt under the first key (raises UndecryptableSecret when no key fits)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except (InvalidToken, ValueError, TypeError):
            raise UndecryptableSecret("stored secret cannot be decrypted with the configured keys") from None


class MemorySeal:
    """Secrets kept between calls in this process's memory (the vault's read cache), sealed with
    AES-GCM under a key made when the process starts and never stored or shown.

    The database holds Fernet tokens; opening one costs several Python layers of `cryptography`,
    about 0.2 ms on an answer's path once a model call has pushed them out of the CPU's caches
    (bench/pipeline_overhead.py). Opening a sealed value is one AEAD call, and a key's plaintext
    still exists only while a call needs it.
    """

    __slots__ = ("_aead",)

    def __init__(self):
        self._aead = AESGCM(AESGCM.generate_key(bit_length=128))

    def __repr__(self) -> str:
        return "MemorySeal(<key hidden>)"

    def __reduce__(self):
        raise TypeError("a MemorySeal cannot be pickled")

    def seal(self, plaintext: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), None)

    def open(self, sealed: bytes) -> str:
        return self._aead.decrypt(sealed[:12], sealed[12:], None).decode()
