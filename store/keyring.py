"""Named AES-256-GCM keys, oldest first, the newest sealing new data: the one key ring format for
Temporal payload keys and the master keys that wrap each person's data key. Rotation is adding a
key; data sealed under an older key stays readable while that key is in the ring."""

import base64
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class KeyRingError(Exception):
    """A key ring that cannot be used, or a payload it cannot open; the message says which and why."""


@dataclass(frozen=True)
class KeyRing:
    """Named AES-256 keys, oldest first; the last one seals new data."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyRingError("a key ring needs at least one key")
        for key_id, key in self.keys:
            if len(key) != 32:
                raise KeyRingError(f"key {key_id} is {len(key)} bytes; AES-256 needs 32")
            if not key_id or ":" in key_id or any(c.isspace() for c in key_id):
                raise KeyRingError(f"key id {key_id!r} must be non-empty, without spaces or colons")
        if len({key_id for key_id, _ in self.keys}) != len(self.keys):
            raise KeyRingError("key ids must be unique")

    @property
    def current_id(self) -> str:
        return self.keys[-1][0]

    def key(self, key_id: str) -> bytes:
        for known_id, key in self.keys:
            if known_id == key_id:
                return key
        raise KeyRingError(f"no key {key_id!r} in the key ring: it was removed, or this data is not ours")

    def seal(self, plaintext: bytes, context: bytes = b"") -> tuple[str, bytes]:
        """Encrypt with the newest key; `context` is authenticated but not stored."""
        nonce = os.urandom(NONCE_BYTES)
        key_id = self.current_id
        return key_id, nonce + AESGCM(self.key(key_id)).encrypt(nonce, plaintext, key_id.encode() + context)

    def open(self, key_id: str, sealed: bytes, context: bytes = b"") -> bytes:
        key = self.key(key_id)
        nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        try:
            if len(nonce) < NONCE_BYTES:
                raise InvalidTag
            return AESGCM(key).decrypt(nonce, ciphertext, key_id.encode() + context)
        except InvalidTag:
            raise KeyRingError(f"data sealed with key {key_id!r} does not open: it was altered") from None

    @classmethod
    def parse(cls, text: str) -> "KeyRing":
        """Keys as text: one `key-id base64-key` per line (or comma-separated), oldest first; # comments."""
        keys = []
        for raw in text.replace(",", "\n").splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                raise KeyRingError("write each key as 'key-id base64-key'")
            try:
                keys.append((parts[0], base64.b64decode(parts[1], validate=True)))
            except ValueError:
                raise KeyRingError(f"key {parts[0]} is not valid base64") from None
        return cls(tuple(keys))

    @staticmethod
    def new_key_line(key_id: str) -> str:
        return f"{key_id} {base64.b64encode(secrets.token_bytes(32)).decode()}"
