"""Checking a hash chain, and saying in plain words what happened where it breaks.

Two tables are chained the same way, one chain per case: the events and the access log. Each row
has a seq, a `body` (canonical JSON, the exact text its hash covers), `prev_hash` and `hash`.
`first_bad_row` is the one check both run: each row's seq, its link to the row before it, its hash
recomputed from its stored body, and then, through the table's `ChainKind`, its other columns
against that hashed body. Only when a row does not fit does the diagnosis (`_broken`, `_misplaced`)
look at the rest of the chain to tell altered, reordered, deleted, inserted and moved rows apart.

For the events, `check_stream` is that check (`EventStore.verify_chain` for one case, and
`EventStore.check_cases` for many, as `pathway audit verify --all` does); the bodies it parses on
the way are handed back, so the projections can be checked against a fold of them without reading
or parsing the events a second time. The access log's is `store.access_log.check_access_log`.
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.events import EventEnvelope
from store.hashing import GENESIS_HASH, chain_hash

Parsed = TypeVar("Parsed")
# Reads the hashed body of a row whose hash holds: the body as the table's model, or what is wrong
# with it (not readable, or the row's other columns do not say what it says).
BodyReader = Callable[[str, Any], Parsed | str]


@dataclass(frozen=True)
class ChainKind(Generic[Parsed]):
    """What differs between the chained tables: what a row and a chain are called in the messages,
    and how a row's hashed body is read and held to its other columns."""

    row: str  # one row: "event"
    rows: str  # several: "events"
    chain: str  # one case's chain: "stream"
    # Given the table's column names in the order a query returns them (once per chain, so that
    # the reader can take columns by position), the reader of that chain's rows.
    reader: Callable[[list[str]], BodyReader[Parsed]]

    @property
    def altered(self) -> str:
        return f"hash does not match the {self.row}'s content: the {self.row} was altered (or forged)"

    @property
    def broken_link(self) -> str:
        return f"prev_hash does not match the hash of the {self.row} before it"

    @property
    def unreadable(self) -> str:
        return f"the hashed body is not a readable {self.row}: it was rewritten and its hash recomputed"

    @property
    def disagreeing(self) -> str:
        return f"indexed columns disagree with the hashed {self.row} body"

    def moved(self, claimed_case: object, claimed_seq: object) -> str:
        return f"moved: by its hashed body this is seq {claimed_seq} of {self.chain} {claimed_case}"


class Link(NamedTuple):
    """Where a chain's check starts: the seq of the row before the first row checked, and the hash
    that row must link to."""

    seq: int
    hash: str


START = Link(0, GENESIS_HASH)  # the whole chain


@dataclass(frozen=True)
class ChainReport:
    case_id: str
    events: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None
    first_bad_event_id: str | None = None
    # The last row's hash, as stored (it commits to the stream before it); not part of the verdict.
    head_hash: str = field(default=GENESIS_HASH, compare=False)


class HashedBody(EventEnvelope):
    """An event's hashed body as `EventStore.append` writes it: the envelope and when it was recorded
    (`prev_hash` and `hash` are columns beside it, not in it). Parsed straight from the stored JSON."""

    recorded_at: datetime


@dataclass(frozen=True)
class StreamCheck:
    report: ChainReport
    # Every event of a stream that verified, parsed from its hashed body, in seq order (empty otherwise).
    events: list[HashedBody]


def check_stream(case_id: str, rows: Sequence[Any]) -> StreamCheck:
    """Check one stream's rows (every column of the events table, in seq order)."""
    head_hash = rows[-1].hash if rows else GENESIS_HASH
    events: list[HashedBody] = []
    found = first_bad_row(EVENT_CHAIN, case_id, rows, events)
    if found is None:
        return StreamCheck(ChainReport(case_id, len(rows), ok=True, head_hash=head_hash), events)
    row, problem = found
    report = ChainReport(
        case_id,
        len(rows),
        ok=False,
        first_bad_seq=row.seq,
        problem=problem,
        first_bad_event_id=row.event_id,
        head_hash=head_hash,
    )
    return StreamCheck(report, [])


# The columns beside the hashed body that must say what it says, in the order `_parsed_body` gives them.
INDEXED_COLUMNS = (
    "event_id",
    "case_id",
    "seq",
    "type",
    "schema_version",
    "occurred_at",
    "recorded_at",
    "actor_id",
    "actor_role",
)


def _event_reader(fields: list[str]) -> BodyReader[HashedBody]:
    columns_of = itemgetter(*(fields.index(name) for name in INDEXED_COLUMNS))
    return lambda text, row: _parsed_body(text, columns_of(row))


EVENT_CHAIN = ChainKind[HashedBody](row="event", rows="events", chain="stream", reader=_event_reader)
BROKEN_LINK = EVENT_CHAIN.broken_link
ALTERED = EVENT_CHAIN.altered


async def chain_head(conn: AsyncConnection, table: Table, case_id: str) -> tuple[int, str]:
    """Where a case's chain in `table` ends: its last seq, and the hash its next row must link to."""
    row = (
        await conn.execute(
            select(table.c.seq, table.c.hash).where(table.c.case_id == case_id).order_by(table.c.seq.desc()).limit(1)
        )
    ).first()
    return (row.seq, row.hash) if row else (0, GENESIS_HASH)


def first_bad_row(
    kind: ChainKind[Parsed], case_id: str, rows: Sequence[Any], parsed: list[Parsed], after: Link = START
) -> tuple[Any, str] | None:
    """The first row (in seq order) that does not fit the chain, and what happened to it; each body
    that fits is appended to `parsed`. `rows` are the chain's rows after `after` (from its start, or
    from a head a checkpoint signed). Columns are read by position (a row's attributes cost more,
    and this runs for every row of every verification)."""
    if not rows:
        return None
    fields = list(rows[0]._fields)
    seq_of, prev_hash_of, body_of, hash_of = (
        itemgetter(fields.index(name)) for name in ("seq", "prev_hash", "body", "hash")
    )
    read = kind.reader(fields)
    prev_hash = after.hash
    for expected_seq, row in enumerate(rows, start=after.seq + 1):
        if seq_of(row) != expected_seq:
            return row, f"sequence gap: expected seq {expected_seq}, found {row.seq}"
        body_text, digest = body_of(row), hash_of(row)
        if prev_hash_of(row) != prev_hash or chain_hash(prev_hash, body_text) != digest:
            return _broken(kind, case_id, rows, row, prev_hash, after.seq)
        body = read(body_text, row)
        if isinstance(body, str):
            return row, body
        parsed.append(body)
        prev_hash = digest
    return None


def _broken(
    kind: ChainKind[Any], case_id: str, rows: Sequence[Any], row: Any, prev_hash: str, start: int
) -> tuple[Any, str]:
    """What happened at the first row whose link or hash is wrong. Its hashed body says where it was
    written, and the other rows' links say what follows what: together they tell the kinds of
    tampering apart. Every row before `row` fits the chain, so seq n is at position n - start - 1
    (`rows` begin after seq `start`)."""
    if chain_hash(row.prev_hash, row.body) == row.hash:  # the row is as written, but not where it was written
        misplaced = _misplaced(kind, case_id, rows, row, start)
        if misplaced is not None:
            return misplaced
    linked_past = next((other.seq for other in rows if other.seq > row.seq and other.prev_hash == prev_hash), None)
    if linked_past is not None:
        return row, _inserted(kind, row.seq, linked_past - 1)
    if row.prev_hash == prev_hash:
        return row, kind.altered
    if chain_hash(prev_hash, row.body) == row.hash:
        return row, kind.broken_link
    if chain_hash(row.prev_hash, row.body) == row.hash:
        return (
            row,
            f"{kind.broken_link}: the {kind.row} before it was rewritten with its hash recomputed, or this link was",
        )
    return row, f"{kind.altered}, and its prev_hash does not match the {kind.row} before it"


def _misplaced(kind: ChainKind[Any], case_id: str, rows: Sequence[Any], row: Any, start: int) -> tuple[Any, str] | None:
    """An intact row in the wrong place: moved from another case's chain, copied, reordered,
    renumbered after a deletion, or found after rows inserted before it."""
    claimed = _lenient_body(row)
    claimed_case, claimed_seq = claimed.get("case_id"), claimed.get("seq")
    if claimed_case is not None and claimed_case != case_id:
        return row, kind.moved(claimed_case, claimed_seq)
    seq_of_hash: dict[str, int] = {}
    for other in rows:
        seq_of_hash.setdefault(other.hash, other.seq)
    if seq_of_hash[row.hash] != row.seq:
        return row, (
            f"a copy of the {kind.row} at seq {seq_of_hash[row.hash]}: the same hashed {kind.row} recorded twice"
        )
    linked = seq_of_hash.get(row.prev_hash)
    if linked is not None and linked > row.seq:
        return row, (
            f"out of order: by its hashed body this is seq {claimed_seq}, and it follows the {kind.row} now at seq "
            f"{linked}; the {kind.rows} were reordered"
        )
    if linked is not None and linked < row.seq - 1:
        return rows[linked - start], _inserted(kind, linked + 1, row.seq - 1)
    if isinstance(claimed_seq, int) and claimed_seq > row.seq and linked is None:
        return row, (
            f"by its hashed body this is seq {claimed_seq}: {claimed_seq - row.seq} {kind.row}(s) before it were "
            "deleted and the later ones renumbered"
        )
    return None


def _inserted(kind: ChainKind[Any], first: int, last: int) -> str:
    if first == last:
        return f"inserted: this {kind.row} is not part of the chain; seq {last + 1} links to the {kind.row} before it"
    return (
        f"inserted: {kind.rows} {first} to {last} are not part of the chain; seq {last + 1} links to the one "
        "before them"
    )


def _parsed_body(text: str, columns: tuple[Any, ...]) -> HashedBody | str:
    """A row whose hash holds: its body as an event, or what is wrong with it (the body is not an
    event, or the row's `INDEXED_COLUMNS` do not say the same)."""
    try:
        body = HashedBody.model_validate_json(text)
    except (ValueError, TypeError):  # not JSON, or not an event: rewritten with its hash recomputed
        return EVENT_CHAIN.unreadable
    if body.case_id != columns[1]:
        return EVENT_CHAIN.moved(body.case_id, body.seq)
    in_body = (
        body.event_id,
        body.case_id,
        body.seq,
        body.event.type,
        body.event.schema_version,
        body.occurred_at,
        body.recorded_at,
        body.actor.staff_id,
        body.actor.role,
    )
    if columns != in_body:
        return EVENT_CHAIN.disagreeing
    return body


def _lenient_body(row: Any) -> dict[str, Any]:
    """The body's fields as far as it can be read, for saying where a row was written."""
    try:
        body = json.loads(row.body)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
