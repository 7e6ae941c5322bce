"""Encryption at rest: every stored secret is a token under ATOM_ENCRYPTION_KEYS (Fernet keys).

Tokens are AES-256-GCM (`a1.` + base64url of key id, nonce, ciphertext and tag), with a key and
a 4-byte key id derived from each configured Fernet key by HKDF-SHA256. Fernet tokens (`gAAAAA…`,
what Atom wrote before) are still read, and `atom keys rotate` rewrites them in the new form.
A Fernet token cost ~30 µs to make here, an `a1.` token ~3 µs; every answer stores two (its turns),
while a long thread's history opens up to 200 on the answer's path.

The first key encrypts, every key decrypts, so rotation is: put a new key first, run
`atom keys rotate`, then drop the old key. `Secret` carries a plaintext value through memory
without ever printing it: its repr and str show only the hint.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

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


TOKEN_PREFIX = "a1."  # an AES-256-GCM token; a Fernet token starts "gAAAAA"
_KEY_INFO = b"atom token key: aes-256-gcm v1"
_ID_INFO = b"atom token key id v1"
_ID_BYTES, _NONCE_BYTES, _TAG_BYTES = 4, 12, 16
_UNDECRYPTABLE = "stored secret cannot be decrypted with the configured keys"


def _derived(fernet_key: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(
        base64.urlsafe_b64decode(fernet_key)
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Crypto:
    def __init__(self, keys: tuple[str, ...] | list[str]):
        if not keys:
            raise ValueError("at least one encryption key is needed")
        raw = [k.encode() if isinstance(k, str) else k for k in keys]
        self._fernet = MultiFernet([Fernet(k) for k in raw])  # also refuses a malformed key
        self._aeads: list[tuple[bytes, AESGCM]] = [
            (_derived(k, _ID_INFO, _ID_BYTES), AESGCM(_derived(k, _KEY_INFO, 32))) for k in raw
        ]
        self._by_id: dict[bytes, list[AESGCM]] = {}
        for key_id, aead in self._aeads:  # two keys sharing an id (1 in 4 billion) are both tried
            self._by_id.setdefault(key_id, []).append(aead)

    def __repr__(self) -> str:
        return "Crypto(<keys hidden>)"

    def __reduce__(self):
        raise TypeError("a Crypto cannot be pickled")

    def encrypt(self, plaintext: str) -> str:
        """An `a1.` token under the first key."""
        key_id, aead = self._aeads[0]
        nonce = os.urandom(_NONCE_BYTES)
        sealed = aead.encrypt(nonce, plaintext.encode(), TOKEN_PREFIX.encode() + key_id)
        return TOKEN_PREFIX + _b64(key_id + nonce + sealed)

    def decrypt(self, token: str) -> str:
        try:
            if token.startswith(TOKEN_PREFIX):
                return self._open(token)
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError, TypeError, UnicodeDecodeError, AttributeError):
            raise UndecryptableSecret(_UNDECRYPTABLE) from None

    def _open(self, token: str) -> str:
        body = token[len(TOKEN_PREFIX) :]
        try:
            raw = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
        except binascii.Error:
            raise ValueError("not a token") from None
        if len(raw) < _ID_BYTES + _NONCE_BYTES + _TAG_BYTES or _b64(raw) != body:
            raise ValueError("not a token")  # one spelling per token: no "+" or "/", no stray low bits
        key_id, nonce, sealed = raw[:_ID_BYTES], raw[_ID_BYTES : _ID_BYTES + _NONCE_BYTES], raw[_ID_BYTES + _NONCE_BYTES :]
        for aead in self._by_id.get(key_id, ()):
            try:
                return aead.decrypt(nonce, sealed, TOKEN_PREFIX.encode() + key_id).decode()
            except InvalidTag:
                continue
        raise ValueError("no configured key opens it")

    def rotate(self, token: str) -> str:
        """Re-encrypt under the first key, as an `a1.` token (raises UndecryptableSecret when no
        key fits)."""
        return self.encrypt(self.decrypt(token))


class MemorySeal:
    """Secrets kept between calls in this process's memory (the vault's read cache), sealed with
    AES-GCM under a key made when the process starts and never stored or shown.

    Written when stored Fernet tokens cost about 0.2 ms each to open on an answer's path; stored
    tokens are AES-GCM now too, but the seal also keeps the cached copy under a key that exists
    only in this process. Opening a sealed value is one AEAD call, and a key's plaintext still
    exists only while a call needs it.
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
