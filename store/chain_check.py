"""Checking a stream's hash chain, and saying in plain words what happened where it breaks.

`check_stream` is the one check every verification runs (`EventStore.verify_chain` for one case, and
`EventStore.check_cases` for many, as `pathway audit verify --all` does): each row's seq, its link to
the row before it, its hash recomputed from its stored body, and its indexed columns against that
hashed body. The bodies it parses on the way are handed back, so the projections can be checked
against a fold of them without reading or parsing the events a second time. Only when a row does
not fit does the diagnosis (`_broken`, `_misplaced`) look at the rest of the stream to tell altered,
reordered, deleted, inserted and moved events apart.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from domain.events import EventEnvelope
from store.hashing import GENESIS_HASH, chain_hash

BROKEN_LINK = "prev_hash does not match the hash of the event before it"
ALTERED = "hash does not match the event's content: the event was altered (or forged)"


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
    found = _first_bad_event(case_id, rows, events)
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


# The columns beside the hashed body that must say what it says, in the order `_in_body` gives them.
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


def _first_bad_event(case_id: str, rows: Sequence[Any], parsed: list[HashedBody]) -> tuple[Any, str] | None:
    """The first row (in seq order) that does not fit the chain, and what happened to it; each body
    that fits is appended to `parsed`. Columns are read by position (a row's attributes cost more,
    and this runs for every event of every verification)."""
    if not rows:
        return None
    fields = list(rows[0]._fields)
    seq_of, prev_hash_of, body_of, hash_of = (
        itemgetter(fields.index(name)) for name in ("seq", "prev_hash", "body", "hash")
    )
    columns_of = itemgetter(*(fields.index(name) for name in INDEXED_COLUMNS))
    prev_hash = GENESIS_HASH
    for expected_seq, row in enumerate(rows, start=1):
        if seq_of(row) != expected_seq:
            return row, f"sequence gap: expected seq {expected_seq}, found {row.seq}"
        body_text, digest = body_of(row), hash_of(row)
        if prev_hash_of(row) != prev_hash or chain_hash(prev_hash, body_text) != digest:
            return _broken(case_id, rows, row, prev_hash)
        body = _parsed_body(body_text, columns_of(row))
        if isinstance(body, str):
            return row, body
        parsed.append(body)
        prev_hash = digest
    return None


def _broken(case_id: str, rows: Sequence[Any], row: Any, prev_hash: str) -> tuple[Any, str]:
    """What happened at the first row whose link or hash is wrong. Its hashed body says where it was
    written, and the other rows' links say what follows what: together they tell the kinds of
    tampering apart. Every row before `row` fits the chain, so seq n is at position n - 1."""
    if chain_hash(row.prev_hash, row.body) == row.hash:  # the event is as written, but not where it was written
        misplaced = _misplaced(case_id, rows, row)
        if misplaced is not None:
            return misplaced
    linked_past = next((other.seq for other in rows if other.seq > row.seq and other.prev_hash == prev_hash), None)
    if linked_past is not None:
        return row, _inserted(row.seq, linked_past - 1)
    if row.prev_hash == prev_hash:
        return row, ALTERED
    if chain_hash(prev_hash, row.body) == row.hash:
        return row, BROKEN_LINK
    if chain_hash(row.prev_hash, row.body) == row.hash:
        return row, f"{BROKEN_LINK}: the event before it was rewritten with its hash recomputed, or this link was"
    return row, f"{ALTERED}, and its prev_hash does not match the event before it"


def _misplaced(case_id: str, rows: Sequence[Any], row: Any) -> tuple[Any, str] | None:
    """An intact event in the wrong place: moved from another stream, copied, reordered, renumbered
    after a deletion, or found after events inserted before it."""
    claimed = _lenient_body(row)
    claimed_case, claimed_seq = claimed.get("case_id"), claimed.get("seq")
    if claimed_case is not None and claimed_case != case_id:
        return row, _moved(claimed_case, claimed_seq)
    seq_of_hash: dict[str, int] = {}
    for other in rows:
        seq_of_hash.setdefault(other.hash, other.seq)
    if seq_of_hash[row.hash] != row.seq:
        return row, f"a copy of the event at seq {seq_of_hash[row.hash]}: the same hashed event recorded twice"
    linked = seq_of_hash.get(row.prev_hash)
    if linked is not None and linked > row.seq:
        return row, (
            f"out of order: by its hashed body this is seq {claimed_seq}, and it follows the event now at seq "
            f"{linked}; the events were reordered"
        )
    if linked is not None and linked < row.seq - 1:
        return rows[linked], _inserted(linked + 1, row.seq - 1)
    if isinstance(claimed_seq, int) and claimed_seq > row.seq and linked is None:
        return row, (
            f"by its hashed body this is seq {claimed_seq}: {claimed_seq - row.seq} event(s) before it were "
            "deleted and the later ones renumbered"
        )
    return None


def _inserted(first: int, last: int) -> str:
    if first == last:
        return f"inserted: this event is not part of the chain; seq {last + 1} links to the event before it"
    return f"inserted: events {first} to {last} are not part of the chain; seq {last + 1} links to the one before them"


def _moved(claimed_case: object, claimed_seq: object) -> str:
    return f"moved: by its hashed body this is seq {claimed_seq} of stream {claimed_case}"


def _parsed_body(text: str, columns: tuple[Any, ...]) -> HashedBody | str:
    """A row whose hash holds: its body as an event, or what is wrong with it (the body is not an
    event, or the row's `INDEXED_COLUMNS` do not say the same)."""
    try:
        body = HashedBody.model_validate_json(text)
    except (ValueError, TypeError):  # not JSON, or not an event: rewritten with its hash recomputed
        return "the hashed body is not a readable event: it was rewritten and its hash recomputed"
    if body.case_id != columns[1]:
        return _moved(body.case_id, body.seq)
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
        return "indexed columns disagree with the hashed event body"
    return body


def _lenient_body(row: Any) -> dict[str, Any]:
    """The body's fields as far as it can be read, for saying where an event was written."""
    try:
        body = json.loads(row.body)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
