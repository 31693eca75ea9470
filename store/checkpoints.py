"""Signed checkpoints: every stream's head (case id, last seq, that event's hash) and every case's
access-log head (the same, of its last access row) at a moment, and the hash of each event and
access row recorded since the previous checkpoint of the same key, signed with Ed25519.

Each hash commits to everything before it in its chain, so a checkpoint that still holds proves
that nothing up to those heads changed. The chain alone cannot prove that: whoever can write to the
database can rewrite a chain and recompute every hash after the change, or cut off its last rows,
and the chain still verifies. They cannot sign a checkpoint without the key, and an exported one,
kept outside the database, cannot be deleted with the rows it protects.

A head alone says only that something at or before it changed: a hash cannot be run backwards to
the event that was altered. So each checkpoint (format 3) also records the hash of every row new
since the previous one of its key (the first records every row): the delivered checkpoints together
hold each row's hash as it was, and verification names the first row whose stored hash is not the
one recorded for it. Only the rows new since the previous checkpoint are hashed, so an hourly
checkpoint carries the last hour's rows, not all of them. A row costs 67 bytes in the signed text
(its 64-character hash, quotes and a comma) and 76 in the indented file (8 spaces and a newline
more), and each stream with new rows some 85 bytes more (its case id and first seq): measured by
bench/checkpoint_size.py on 300 cases of 22 events, 71 bytes per event signed and 82 in the file
(the email's base64 attachment a third more). The heads are the larger part of an hourly checkpoint:
175 bytes per stream in the file, every time (30 new cases' 660 events: 54 kB; 330 heads: 58 kB).

Documents of format 1, from before the access log was chained, have no access-log heads; those of
formats 1 and 2 record no row hashes. They stay verifiable, and hold what they signed.

The exported document carries its public key so that anyone can check the signature; which key is
the right one is for the verifier to say (the configured key, or one given), never the document.
"""

import base64
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any, Literal, NamedTuple

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

FORMAT = "pathway-checkpoint/3"
# The formats that record the hash of each row new since the previous checkpoint of their key.
RECORDING_FORMATS = frozenset({"pathway-checkpoint/3"})
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


class StreamHashes(_Document):
    """The hash of each row of one case's chain (its events, or its access log) from `first_seq` on,
    as they were when the checkpoint was signed: the rows new since the previous checkpoint."""

    case_id: str
    first_seq: int
    hashes: tuple[str, ...]


class SignerKey(_Document):
    algorithm: Literal["Ed25519"]
    public_key: str
    fingerprint: str


class CheckpointBody(_Document):
    """What is signed: the whole document but its signature."""

    format: Literal["pathway-checkpoint/1", "pathway-checkpoint/2", "pathway-checkpoint/3"]
    checkpoint_id: str
    created_at: AwareDatetime
    created_by: str
    key: SignerKey
    streams: tuple[StreamHead, ...]
    # Each case's access-log head (format 2 on; a format 1 document has none).
    access_logs: tuple[StreamHead, ...] = ()
    # The hashes of the events and of the access rows new since the previous checkpoint of the key
    # (format 3 on; older documents record none).
    events: tuple[StreamHashes, ...] = ()
    access_rows: tuple[StreamHashes, ...] = ()


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
        events: Sequence[StreamHashes] = (),
        access_rows: Sequence[StreamHashes] = (),
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
            events=tuple(events),
            access_rows=tuple(access_rows),
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
    """A chain that no longer holds what a checkpoint recorded of it: from which seq, the row there
    (an event's id, or an access row's for an access log), and what is wrong."""

    case_id: str
    seq: int
    row_id: str | None
    problem: str


class RecordedHash(NamedTuple):
    """The hash a row had when a checkpoint recorded it (as a head, or as a row new since the
    checkpoint before), and which checkpoint that was."""

    hash: str
    checkpoint_id: str


# One case's chain as checkpoints recorded it: seq -> its hash then.
ChainRecord = dict[int, RecordedHash]


@dataclass
class Recorded:
    """What a set of checkpoints recorded of each case's chains, merged: every head they signed and
    every row hash they recorded, per case and seq. A chain is held to all of it at once, so the
    first row whose stored hash differs is found whichever checkpoint recorded it."""

    streams: dict[str, ChainRecord] = field(default_factory=dict)
    access_logs: dict[str, ChainRecord] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        checkpoints: Iterable[Checkpoint],
        streams_of: AbstractSet[str] | None = None,
        access_logs_of: AbstractSet[str] | None = None,
    ) -> "Recorded":
        """What `checkpoints` recorded; of the streams of `streams_of` and the access logs of
        `access_logs_of` only, when given (a check that needs a few chains of a checkpoint of every
        case's head need not index them all)."""
        recorded = cls()
        for checkpoint in checkpoints:
            recorded.add(checkpoint, streams_of, access_logs_of)
        return recorded

    def add(
        self,
        checkpoint: Checkpoint,
        streams_of: AbstractSet[str] | None = None,
        access_logs_of: AbstractSet[str] | None = None,
    ) -> None:
        """Add what one more checkpoint recorded. Added oldest first, the first hash recorded at each
        seq is kept: the row as it was written. (A later checkpoint that recorded another hash there
        was signed over a rewrite; the row is then named against the first.) Only what a checkpoint
        recorded is kept, not the document, and a head signed again and again is kept once."""
        body = checkpoint.body
        _record(self.streams, body.checkpoint_id, body.events, body.streams, streams_of)
        _record(self.access_logs, body.checkpoint_id, body.access_rows, body.access_logs, access_logs_of)


def _record(
    chains: dict[str, ChainRecord],
    checkpoint_id: str,
    runs: Iterable[StreamHashes],
    heads: Iterable[StreamHead],
    cases: AbstractSet[str] | None,
) -> None:
    for run in runs:
        if cases is None or run.case_id in cases:
            chain = chains.setdefault(run.case_id, {})
            for seq, digest in enumerate(run.hashes, start=run.first_seq):
                chain.setdefault(seq, RecordedHash(digest, checkpoint_id))
    for head in heads:
        if cases is None or head.case_id in cases:
            chains.setdefault(head.case_id, {}).setdefault(head.seq, RecordedHash(head.hash, checkpoint_id))


@dataclass(frozen=True)
class ToSign:
    """What a checkpoint signs, read from the store: every head, and the hashes of the rows new
    since the previous checkpoint, ending exactly at those heads."""

    heads: list[StreamHead]
    access_heads: list[StreamHead]
    events: list[StreamHashes]
    access_rows: list[StreamHashes]

    def sign(self, key: SigningKey, created_by: str, created_at: datetime) -> Checkpoint:
        return Checkpoint.sign(
            self.heads, key, created_by, created_at, self.access_heads, self.events, self.access_rows
        )


class Checkpoints:
    """Checkpoints kept in the store, what a new one signs, and each chain held to what checkpoints
    recorded of it."""

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

    async def to_sign(self, since: Checkpoint | None) -> ToSign:
        """Every head, and the hash of each row after the heads `since` signed (the previous
        checkpoint of the key) up to the heads now. With no `since`, or one that recorded no hashes
        (format 1 or 2), every row: the first checkpoint that records hashes records them all, so
        that the checkpoints from it on hold every row's hash between them."""
        heads, access_heads = await self.heads(), await self.access_heads()
        base = since.body if since is not None and since.body.format in RECORDING_FORMATS else None
        return ToSign(
            heads,
            access_heads,
            await self._hashes_since(schema.events, heads, () if base is None else base.streams),
            await self._hashes_since(schema.access_log, access_heads, () if base is None else base.access_logs),
        )

    async def _hashes_since(
        self, table: Table, heads: Sequence[StreamHead], before: Sequence[StreamHead]
    ) -> list[StreamHashes]:
        """Each chain's hashes after its head in `before` up to its head in `heads`. Rows appended
        since the heads were read are left to the next checkpoint, and so is a case begun since. The
        rows are taken to be numbered without a gap: a chain with one fails the verification the
        signing waits for, and nothing is signed."""
        upto = {head.case_id: head.seq for head in heads}
        after = {head.case_id: head.seq for head in before}
        query = select(table.c.case_id, table.c.seq, table.c.hash).order_by(table.c.case_id, table.c.seq)
        runs = []
        async with self._engine.connect() as conn:
            result = await conn.execute(query)
        for case_id, rows in groupby(result, key=itemgetter(0)):
            if case_id not in upto:
                continue
            first, last = after.get(case_id, 0) + 1, upto[case_id]
            new = [(seq, digest) for _, seq, digest in rows if first <= seq <= last]
            if new:
                runs.append(StreamHashes(case_id=case_id, first_seq=new[0][0], hashes=tuple(d for _, d in new)))
        return runs

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

    async def stream_problem(self, case_id: str, recorded: Mapping[int, RecordedHash]) -> HeadProblem | None:
        """Whether the stream still holds every hash recorded of it (`Recorded.streams`): the first
        event gone or altered, else None. Events after the last recorded one are fine (the stream
        moved on). Reads only."""
        return await self._problem(EVENT_CHAIN, schema.events.c.event_id, case_id, recorded)

    async def access_log_problem(self, case_id: str, recorded: Mapping[int, RecordedHash]) -> HeadProblem | None:
        """Whether the case's access log still holds every hash recorded of it, as `stream_problem`
        for a stream. Reads only."""
        return await self._problem(ACCESS_CHAIN, schema.access_log.c.access_id, case_id, recorded)

    async def _problem(
        self, kind: ChainKind[Any], id_column: Column[str], case_id: str, recorded: Mapping[int, RecordedHash]
    ) -> HeadProblem | None:
        table = id_column.table
        query = select(table.c.seq, table.c.hash, id_column.label("row_id")).where(table.c.case_id == case_id)
        async with self._engine.connect() as conn:
            stored = {row.seq: row for row in await conn.execute(query)}
        return first_unlike(kind, case_id, recorded, stored)


def first_unlike(
    kind: ChainKind[Any], case_id: str, recorded: Mapping[int, RecordedHash], stored: Mapping[int, Any]
) -> HeadProblem | None:
    """The first recorded seq (in order) whose row is gone or has another hash than recorded, and
    what happened there; `stored` is the chain's rows (seq, hash, row_id) by seq.

    A row whose recorded predecessor still has its recorded hash (or the first row) is named as the
    altered one: everything before it is as it was, and its own hash is not. Otherwise only a range
    can be given: the change is at or before that seq, after the last one that held."""
    last = max(stored, default=0)
    held = 0  # the last recorded seq whose row still has its recorded hash
    for seq in sorted(recorded):
        signed, row = recorded[seq], stored.get(seq)
        if row is None:
            return _gone(kind, case_id, seq, last, max(recorded))
        if row.hash != signed.hash:
            return HeadProblem(case_id, seq, row.row_id, _rewritten(kind, seq, held, signed))
        held = seq
    return None


def _gone(kind: ChainKind[Any], case_id: str, seq: int, last: int, top: int) -> HeadProblem:
    """A recorded row that is no longer there: cut off the end (up to `top`, the last recorded), or
    missing from the middle."""
    if seq <= last:
        return HeadProblem(
            case_id,
            seq,
            None,
            f"the {kind.row} at seq {seq} is missing: the checkpoint signed this {kind.chain} at seq {seq}",
        )
    deleted = f"{kind.row} {top} was" if last + 1 == top else f"{kind.rows} {last + 1} to {top} were"
    now = f"it now ends at seq {last}" if last else f"none of its {kind.rows} remain"
    return HeadProblem(
        case_id, last + 1, None, f"{deleted} deleted: the checkpoint signed this {kind.chain} at seq {top}, {now}"
    )


def _rewritten(kind: ChainKind[Any], seq: int, held: int, signed: RecordedHash) -> str:
    if held == seq - 1:
        return (
            f"altered (its hash when checkpointed was {signed.hash}): this is not the {kind.row} checkpoint "
            f"{signed.checkpoint_id} recorded at seq {seq}; it was changed or replaced since"
        )
    unrecorded = (
        f"the {kind.rows} before it" if held == 0 else f"the {kind.rows} after seq {held} (those up to it hold)"
    )
    return (
        f"rewritten at or before seq {seq}: the {kind.row} here no longer has the hash checkpoint "
        f"{signed.checkpoint_id} signed, so the {kind.chain} up to here was changed and its hashes recomputed; no "
        f"checkpoint given recorded the hashes of {unrecorded}, so the first one altered cannot be named"
    )
