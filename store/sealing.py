"""Sealing a person's personal fields with their data key, and opening them for one case's reader.

Sealing is deterministic per person and value (the nonce is an HMAC of the plaintext under the
person's key), so sealing the same reference twice gives the same text and a retried command
seals the same way.

Opening is always *through* a person: a sealed value names the person whose key sealed it, and it is
opened only if that is the person asked for (the person of the case being read). A value sealed for
anyone else is withheld and counted, never opened: otherwise someone who copied another person's
sealed text (from the Temporal UI, say) into a case of their own could read it through that case.
Nothing stored can make opening fail: a value that does not decrypt reads "[unreadable]"."""

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel

from domain.personal import SHREDDED, UNREADABLE, WITHHELD, map_personal, sealed_for
from store.keyring import NONCE_BYTES
from store.person_keys import PersonKeys, PersonUnknown

Model = TypeVar("Model", bound=BaseModel)
TEXT, JSON = b"s", b"j"  # how a sealed leaf was written: text as it is, anything else as JSON


@dataclass(frozen=True)
class Opened(Generic[Model]):
    model: Model
    withheld: int  # sealed values of another person found in it, left unopened


class Sealer:
    """Seals the personal fields of a model with one person's key, and opens them for that person."""

    def __init__(self, keys: PersonKeys) -> None:
        self.keys = keys

    async def seal(self, model: Model, person_id: str, case_id: str) -> Model:
        key = await self.keys.ensure(person_id, case_id)
        if key is None:
            raise PersonUnknown(f"the personal data of {person_id} was shredded; nothing more is recorded for them")
        return map_personal(model, lambda leaf: seal_leaf(key, person_id, leaf))

    async def open(self, model: Model, person_id: str | None) -> Opened[Model]:
        """The model as its reader sees it: `person_id`'s sealed values opened ("[shredded]" once their
        key is gone), anyone else's withheld (all of them, for no person)."""
        key = None if person_id is None else await self.keys.data_key(person_id)
        withheld = 0

        def leaf_for_reader(leaf: Any) -> Any:
            nonlocal withheld
            owner = sealed_for(leaf) if isinstance(leaf, str) else None
            if owner is None:
                return leaf
            if owner != person_id:
                withheld += 1
                return WITHHELD
            return SHREDDED if key is None else open_leaf(key, person_id, leaf)

        opened = map_personal(model, leaf_for_reader)
        return Opened(opened, withheld)

    async def seal_for_case(self, model: Model, case_id: str) -> Model:
        """Sealed for the person the store knows the case by (for jobs that hold no case id key)."""
        person_id = await self.keys.person_of(case_id)
        if person_id is None:
            raise PersonUnknown(f"no person's key is held for case {case_id}, so nothing personal can be sealed")
        return await self.seal(model, person_id, case_id)

    async def open_for_case(self, model: Model, case_id: str) -> Model:
        """Opened for the person the store knows the case by (for jobs that hold no case id key)."""
        return (await self.open(model, await self.keys.person_of(case_id))).model


def seal_leaf(key: bytes, person_id: str, leaf: Any) -> Any:
    if leaf is None or (isinstance(leaf, str) and sealed_for(leaf)):
        return leaf
    plain = TEXT + leaf.encode() if isinstance(leaf, str) else JSON + json.dumps(leaf, sort_keys=True).encode()
    nonce = hmac.new(key, plain, hashlib.sha256).digest()[:NONCE_BYTES]
    sealed = nonce + AESGCM(key).encrypt(nonce, plain, person_id.encode())
    return f"sealed:v1:{person_id}:{base64.urlsafe_b64encode(sealed).decode().rstrip('=')}"


def open_leaf(key: bytes, person_id: str, leaf: str) -> Any:
    """One sealed value of `person_id` opened with their key; "[unreadable]" if it does not open."""
    token = leaf.rsplit(":", 1)[1]
    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        plain = AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], person_id.encode())
        return plain[1:].decode() if plain[:1] == TEXT else json.loads(plain[1:])
    except (InvalidTag, binascii.Error, ValueError):  # altered, truncated, or not ours at all
        return UNREADABLE
