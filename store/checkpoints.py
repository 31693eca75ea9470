"""Signed checkpoints: every stream's head (case id, last seq, that event's hash) and every case's
access-log head (the same, of its last access row) at a moment, signed with Ed25519.

Each hash commits to everything before it in its chain, so a checkpoint that still holds proves
that nothing up to those heads changed. The chain alone cannot prove that: whoever can write to the
database can rewrite a chain and recompute every hash after the change, or cut off its last rows,
and the chain still verifies. They cannot sign a checkpoint without the key, and an exported one,
kept outside the database, cannot be deleted with the rows it protects.

Documents of format 1, from before the access log was chained, have no access-log heads; they stay
verifiable, and hold the streams only.

The exported document carries its public key so that anyone can check the signature; which key is
the right one is for the verifier to say (the configured key, or one given), never the document.
"""

import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError
from sqlalchemy import Column, Table, and_, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import schema
from store.access_log import ACCESS_CHAIN
from store.chain_check import EVENT_CHAIN, ChainKind
from store.hashing import canonical_json

FORMAT = "pathway-checkpoint/2"
KEY_BYTES = 32


class CheckpointError(Exception):
    """A checkpoint key or document that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key: what a verifier needs, and what each checkpoint carries."""

    raw: bytes

    @classmethod
    def parse(cls, text: str) -> "PublicKey":
        """The base64 of the key's 32 bytes, as checkpoints carry it."""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except ValueError:
            raise CheckpointError("the public key is not valid base64") from None
        if len(raw) != KEY_BYTES:
            raise CheckpointError(f"the public key is {len(raw)} bytes; an Ed25519 key is {KEY_BYTES}")
        return cls(raw)

    @property
    def text(self) -> str:
        return base64.b64encode(self.raw).decode()

    @property
    def fingerprint(self) -> str:
        """The key's name in checkpoints and messages: the first 128 bits of its SHA-256, in hex."""
        return hashlib.sha256(self.raw).hexdigest()[:32]

    def signed(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    """The private key that signs checkpoints; it comes from configuration, never the repository."""

    private: Ed25519PrivateKey

    @classmethod
    def parse(cls, text: str) -> "SigningKey":
        """The base64 of the key's 32 private bytes (what `new_key_text` makes), or a PEM private key
        (what `openssl genpkey -algorithm ed25519` makes)."""
        text = text.strip()
        if text.startswith("-----BEGIN"):
            try:
                key = load_pem_private_key(text.encode(), password=None)
            except (ValueError, TypeError, UnsupportedAlgorithm) as error:
                raise CheckpointError(f"the PEM key cannot be read: {error}") from None
            if not isinstance(key, Ed25519PrivateKey):
                raise CheckpointError("the PEM key is not an Ed25519 key")
            return cls(key)
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError:
            raise CheckpointError("the key is neither base64 nor PEM") from None
        if len(raw) != KEY_BYTES:
            raise CheckpointError(f"the key is {len(raw)} bytes; an Ed25519 private key is {KEY_BYTES}")
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    @staticmethod
    def new_key_text() -> str:
        raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return base64.b64encode(raw).decode()

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StreamHead(_Document):
    """Where one case's chain (its events, or its access log) ended when the checkpoint was signed."""

    case_id: str
    seq: int
    hash: str


class SignerKey(_Document):
    algorithm: Literal["Ed25519"]
    public_key: str
    fingerprint: str


class CheckpointBody(_Document):
    """What is signed: the whole document but its signature."""

    format: Literal["pathway-checkpoint/1", "pathway-checkpoint/2"]
    checkpoint_id: str
    created_at: AwareDatetime
    created_by: str
    key: SignerKey
    streams: tuple[StreamHead, ...]
    # Each case's access-log head (format 2; a format 1 document has none).
    access_logs: tuple[StreamHead, ...] = ()


@dataclass(frozen=True)
class Checkpoint:
    body: CheckpointBody
    # The canonical JSON of the body: exactly the bytes signed. Kept as read, so the signature is
    # checked against the document itself, not against a re-serialisation of it.
    signed_text: str
    signature: bytes

    @classmethod
    def sign(
        cls,
        heads: Sequence[StreamHead],
        key: SigningKey,
        created_by: str,
        created_at: datetime,
        access_heads: Sequence[StreamHead] = (),
    ) -> "Checkpoint":
        public = key.public
        body = CheckpointBody(
            format=FORMAT,
            checkpoint_id=str(uuid.uuid4()),
            created_at=created_at,
            created_by=created_by,
            key=SignerKey(algorithm="Ed25519", public_key=public.text, fingerprint=public.fingerprint),
            streams=tuple(heads),
            access_logs=tuple(access_heads),
        )
        signed_text = canonical_json(body.model_dump(mode="json"))
        return cls(body, signed_text, key.sign(signed_text.encode()))

    @classmethod
    def from_json(cls, text: str) -> "Checkpoint":
        """Read an exported (or stored) checkpoint; whether its signature holds is `signature_problem`."""
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise CheckpointError(f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
        if not isinstance(document, dict) or not isinstance(document.get("signature"), str):
            raise CheckpointError("not a Pathway checkpoint: it has no signature")
        signed = {name: value for name, value in document.items() if name != "signature"}
        try:
            body = CheckpointBody.model_validate(signed)
            signature = base64.b64decode(document["signature"], validate=True)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "document"
            raise CheckpointError(f"not a Pathway checkpoint: {where}: {first['msg']}") from None
        except ValueError:
            raise CheckpointError("the signature is not valid base64") from None
        return cls(body, canonical_json(signed), signature)

    def to_json(self) -> str:
        """The document as exported: the signed body and its signature."""
        document: dict[str, Any] = json.loads(self.signed_text)
        document["signature"] = base64.b64encode(self.signature).decode()
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

    def signature_problem(self, expected: PublicKey) -> str | None:
        """None when `expected` signed exactly this document; otherwise what is wrong, in plain words."""
        try:
            signer = PublicKey.parse(self.body.key.public_key)
        except CheckpointError as error:
            return f"its signer cannot be read: {error}"
        if not signer.signed(self.signed_text.encode(), self.signature):
            return "the signature does not hold: the checkpoint was changed after it was signed"
        if signer != expected:
            return f"it is signed by key {signer.fingerprint}, not by the expected key {expected.fingerprint}"
        return None


@dataclass(frozen=True)
class HeadProblem:
    """A chain that no longer holds the head a checkpoint signed: from which seq, the row there (an
    event's id, or an access row's for an access log), and what is wrong."""

    case_id: str
    seq: int
    row_id: str | None
    problem: str


class Checkpoints:
    """Checkpoints kept in the store, and each stream checked against a checkpoint's head."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def heads(self) -> list[StreamHead]:
        """Every stream's last event, read in one statement so that all heads are of one moment."""
        return await self._heads(schema.events)

    async def access_heads(self) -> list[StreamHead]:
        """Every case's last access row, read in one statement so that all heads are of one moment."""
        return await self._heads(schema.access_log)

    async def _heads(self, table: Table) -> list[StreamHead]:
        last = select(table.c.case_id, func.max(table.c.seq).label("seq")).group_by(table.c.case_id).subquery("last")
        query = (
            select(table.c.case_id, table.c.seq, table.c.hash)
            .select_from(table.join(last, and_(table.c.case_id == last.c.case_id, table.c.seq == last.c.seq)))
            .order_by(table.c.case_id)
        )
        async with self._engine.connect() as conn:
            return [StreamHead(case_id=row.case_id, seq=row.seq, hash=row.hash) for row in await conn.execute(query)]

    async def save(self, checkpoint: Checkpoint) -> None:
        body = checkpoint.body
        row = {
            "checkpoint_id": body.checkpoint_id,
            "created_at": body.created_at,
            "created_by": body.created_by,
            "key_fingerprint": body.key.fingerprint,
            "streams": len(body.streams),
            "document": checkpoint.to_json(),
        }
        async with self._engine.begin() as conn:
            await conn.execute(insert(schema.checkpoints), [row])

    async def latest(self, key_fingerprint: str | None = None) -> Checkpoint | None:
        """The newest stored checkpoint (of that key, if given)."""
        table = schema.checkpoints
        query = select(table.c.document).order_by(table.c.created_at.desc(), table.c.checkpoint_id.desc()).limit(1)
        if key_fingerprint is not None:
            query = query.where(table.c.key_fingerprint == key_fingerprint)
        async with self._engine.connect() as conn:
            document = (await conn.execute(query)).scalar_one_or_none()
        return None if document is None else Checkpoint.from_json(document)

    async def head_problem(self, head: StreamHead) -> HeadProblem | None:
        """Whether the stream still holds `head`: the event at that seq, with that hash. Events after it
        are fine (the stream moved on). Reads only."""
        return await self._head_problem(EVENT_CHAIN, schema.events.c.event_id, head)

    async def access_head_problem(self, head: StreamHead) -> HeadProblem | None:
        """Whether the case's access log still holds `head`, as `head_problem` for a stream. Reads only."""
        return await self._head_problem(ACCESS_CHAIN, schema.access_log.c.access_id, head)

    async def _head_problem(self, kind: ChainKind[Any], id_column: Column[str], head: StreamHead) -> HeadProblem | None:
        table = id_column.table
        async with self._engine.connect() as conn:
            reached = (
                await conn.execute(
                    select(table.c.seq, table.c.hash, id_column.label("row_id"))
                    .where(table.c.case_id == head.case_id, table.c.seq >= head.seq)
                    .order_by(table.c.seq)
                    .limit(1)
                )
            ).first()
            last_seq = (
                await conn.execute(select(func.max(table.c.seq)).where(table.c.case_id == head.case_id))
            ).scalar_one()
        signed = f"the checkpoint signed this {kind.chain} at seq {head.seq}"
        if reached is None:
            last = last_seq or 0
            deleted = (
                f"{kind.row} {head.seq} was" if last + 1 == head.seq else f"{kind.rows} {last + 1} to {head.seq} were"
            )
            now = f"it now ends at seq {last}" if last else f"none of its {kind.rows} remain"
            return HeadProblem(head.case_id, last + 1, None, f"{deleted} deleted: {signed}, {now}")
        if reached.seq != head.seq:
            return HeadProblem(head.case_id, head.seq, None, f"the {kind.row} at seq {head.seq} is missing: {signed}")
        if reached.hash != head.hash:
            return HeadProblem(
                head.case_id,
                head.seq,
                reached.row_id,
                f"rewritten: the {kind.row} at seq {head.seq} no longer has the hash the checkpoint signed, so the "
                f"{kind.chain} up to here was changed and its hashes recomputed",
            )
        return None
