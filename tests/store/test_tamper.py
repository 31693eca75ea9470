"""Tampering with the store behind its back, as someone with database access would, and verification
naming the first bad event (seq, event id, what happened) without changing anything; signed
checkpoints catching what the chain alone cannot (a rewritten-and-rehashed stream, a cut-off tail),
and naming the first event a rewrite altered wherever a checkpoint given recorded its hash.

Every store is filled through `EventStore.append` with events the domain decided (tests.store.support);
only the tampering goes around it."""

import base64
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError

from store import schema
from store.chain_check import ALTERED, BROKEN_LINK, ChainReport
from store.checkpoints import (
    Checkpoint,
    CheckpointError,
    Checkpoints,
    HeadProblem,
    PublicKey,
    Recorded,
    SigningKey,
    StreamHashes,
    StreamHead,
)
from store.event_store import EventStore
from store.hashing import canonical_json, chain_hash
from tests.store.support import NOW, StoreCase, journey, run_journey

EVENTS = 25  # events in the journey of tests.store.support
SCREENING_SEQ = 8  # its ScreeningRecorded event
KEY = SigningKey.parse(SigningKey.new_key_text())
OTHER_KEY = SigningKey.parse(SigningKey.new_key_text())


async def journey_case(store: EventStore) -> StoreCase:
    case = StoreCase(store)
    await run_journey(case)
    assert len(case.envelopes) == EVENTS
    return case


async def tamper(store: EventStore, sql: str, **params: Any) -> int:
    """Raw SQL around the store; returns the number of rows changed."""
    async with store.engine.begin() as conn:
        return (await conn.execute(text(sql), params)).rowcount


async def event_row(store: EventStore, case_id: str, seq: int) -> Any:
    async with store.engine.connect() as conn:
        query = select(schema.events).where(schema.events.c.case_id == case_id, schema.events.c.seq == seq)
        return (await conn.execute(query)).one()


async def dump(store: EventStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that verification changed nothing."""
    async with store.engine.connect() as conn:
        return {
            table.name: [tuple(row) for row in await conn.execute(select(table).order_by(*table.primary_key))]
            for table in schema.metadata.sorted_tables
        }


async def verify(store: EventStore, case_id: str) -> ChainReport:
    before = await dump(store)
    report = await store.verify_chain(case_id)
    assert await dump(store) == before
    return report


async def held_to(store: EventStore, *checkpoints: Checkpoint) -> list[HeadProblem]:
    """Each stream held to what the checkpoints (oldest first) recorded of it, as verification holds
    it; reading only."""
    before = await dump(store)
    reader = Checkpoints(store.engine)
    problems = [
        await reader.stream_problem(case_id, chain) for case_id, chain in Recorded.of(checkpoints).streams.items()
    ]
    assert await dump(store) == before
    return [problem for problem in problems if problem is not None]


async def shift(store: EventStore, case_id: str, from_seq: int, by: int) -> None:
    """Renumber every event from `from_seq` on by `by`, in two steps so that (case_id, seq) stays
    unique after each statement (PostgreSQL checks it row by row)."""
    await tamper(store, "UPDATE events SET seq = seq + 1000 WHERE case_id = :c AND seq >= :s", c=case_id, s=from_seq)
    await tamper(store, "UPDATE events SET seq = seq - :d WHERE case_id = :c AND seq >= 1000", c=case_id, d=1000 - by)


async def insert_forged(store: EventStore, case_id: str, seq: int, prev_hash: str, *, right_hash: bool) -> str:
    """A forged claim of the consent task by an intruder (a copy of the real one, seq 4, with a new
    id), its columns agreeing with its body; returns its event id."""
    original = await event_row(store, case_id, 4)
    event_id = str(uuid.uuid4())
    body = json.loads(original.body) | {"event_id": event_id, "seq": seq}
    body["actor"]["staff_id"] = "intruder"
    text_body = canonical_json(body)
    digest = chain_hash(prev_hash, text_body) if right_hash else chain_hash(prev_hash, text_body + " ")
    row = dict(original._mapping) | {
        "event_id": event_id,
        "seq": seq,
        "actor_id": "intruder",
        "body": text_body,
        "prev_hash": prev_hash,
        "hash": digest,
    }
    async with store.engine.begin() as conn:
        await conn.execute(insert(schema.events), [row])
    return event_id


async def rewrite(store: EventStore, case_id: str, seq: int, old: str, new: str, *, rehash_to: int) -> None:
    """Change text in the body at `seq` and recompute the hashes of seq..rehash_to, as a careful
    tamperer would: the chain up to `rehash_to` then verifies."""
    row = await event_row(store, case_id, seq)
    assert old in row.body
    body, prev_hash = row.body.replace(old, new), row.prev_hash
    for at in range(seq, rehash_to + 1):
        if at != seq:
            body = (await event_row(store, case_id, at)).body
        digest = chain_hash(prev_hash, body)
        await tamper(
            store,
            "UPDATE events SET body = :b, prev_hash = :p, hash = :h WHERE case_id = :c AND seq = :s",
            b=body,
            p=prev_hash,
            h=digest,
            c=case_id,
            s=at,
        )
        prev_hash = digest


async def signed_checkpoint(store: EventStore, key: SigningKey = KEY) -> Checkpoint:
    """A checkpoint of the heads only, as formats 1 and 2 signed them: it records no event's hash."""
    checkpoints = Checkpoints(store.engine)
    checkpoint = Checkpoint.sign(await checkpoints.heads(), key, "au-001", datetime.now(UTC))
    await checkpoints.save(checkpoint)
    return checkpoint


async def recording_checkpoint(store: EventStore, since: Checkpoint | None) -> Checkpoint:
    """A checkpoint as the schedule makes one: the heads, and the hash of each event and access row
    new since `since`."""
    checkpoints = Checkpoints(store.engine)
    checkpoint = (await checkpoints.to_sign(since)).sign(KEY, "pathway-checkpoints", datetime.now(UTC))
    await checkpoints.save(checkpoint)
    return checkpoint


def altered(seq: int, was: str, checkpoint: Checkpoint, row: str = "event") -> str:
    return (
        f"altered (its hash when checkpointed was {was}): this is not the {row} checkpoint "
        f"{checkpoint.body.checkpoint_id} recorded at seq {seq}; it was changed or replaced since"
    )


def at_or_before(seq: int, checkpoint: Checkpoint, held: int = 0) -> str:
    unrecorded = "the events before it" if held == 0 else f"the events after seq {held} (those up to it hold)"
    return (
        f"rewritten at or before seq {seq}: the event here no longer has the hash checkpoint "
        f"{checkpoint.body.checkpoint_id} signed, so the stream up to here was changed and its hashes recomputed; "
        f"no checkpoint given recorded the hashes of {unrecorded}, so the first one altered cannot be named"
    )


def bad(report: ChainReport, seq: int, event_id: str | None = None) -> str:
    """The problem of a report that names `seq` (and `event_id`) as the first bad event."""
    assert (report.ok, report.first_bad_seq) == (False, seq), report
    if event_id is not None:
        assert report.first_bad_event_id == event_id
    assert report.problem is not None
    return report.problem


# The chain: each kind of tampering, named at the right event.


async def test_an_untouched_store_verifies(store: EventStore) -> None:
    case = await journey_case(store)

    assert await verify(store, case.case_id) == ChainReport(case.case_id, EVENTS, ok=True)
    assert await verify(store, "case-unknown") == ChainReport("case-unknown", 0, ok=True)


async def test_a_changed_payload_is_reported_at_its_event(store: EventStore) -> None:
    case = await journey_case(store)
    screening = case.envelopes[SCREENING_SEQ - 1]
    assert screening.event.type == "ScreeningRecorded"

    changed = await tamper(
        store,
        'UPDATE events SET body = REPLACE(body, \'"risk_level":"medium"\', \'"risk_level":"low"\') '
        "WHERE case_id = :c AND seq = :s",
        c=case.case_id,
        s=SCREENING_SEQ,
    )

    assert changed == 1
    assert bad(await verify(store, case.case_id), SCREENING_SEQ, screening.event_id) == ALTERED


async def test_swapped_events_are_reported_as_reordered(store: EventStore) -> None:
    case = await journey_case(store)
    for old, new in ((3, 1000), (4, 3), (1000, 4)):
        await tamper(store, "UPDATE events SET seq = :n WHERE case_id = :c AND seq = :o", n=new, o=old, c=case.case_id)

    problem = bad(await verify(store, case.case_id), 3, case.envelopes[3].event_id)
    assert problem == (
        "out of order: by its hashed body this is seq 4, and it follows the event now at seq 4; "
        "the events were reordered"
    )


async def test_a_deleted_event_is_reported_as_a_gap(store: EventStore) -> None:
    case = await journey_case(store)

    await tamper(store, "DELETE FROM events WHERE case_id = :c AND seq = 12", c=case.case_id)

    assert bad(await verify(store, case.case_id), 13) == "sequence gap: expected seq 12, found 13"


async def test_a_deletion_hidden_by_renumbering_is_reported(store: EventStore) -> None:
    case = await journey_case(store)

    await tamper(store, "DELETE FROM events WHERE case_id = :c AND seq IN (12, 13)", c=case.case_id)
    await shift(store, case.case_id, 14, by=-2)

    problem = bad(await verify(store, case.case_id), 12, case.envelopes[13].event_id)
    assert (
        problem == "by its hashed body this is seq 14: 2 event(s) before it were deleted and the later ones renumbered"
    )


async def test_a_forged_event_with_a_wrong_hash_is_reported_at_the_end(store: EventStore) -> None:
    case = await journey_case(store)
    head = await event_row(store, case.case_id, EVENTS)

    forged = await insert_forged(store, case.case_id, EVENTS + 1, head.hash, right_hash=False)

    assert bad(await verify(store, case.case_id), EVENTS + 1, forged) == ALTERED
    # The append's projections did not see it either.
    assert any("version stored 25 but the events say 26" in d for d in await store.projection_differences(case.case_id))


@pytest.mark.parametrize("right_hash", [False, True], ids=["wrong hash", "recomputed hash"])
async def test_a_forged_event_spliced_in_is_reported_as_inserted(store: EventStore, right_hash: bool) -> None:
    case = await journey_case(store)
    before = await event_row(store, case.case_id, 4)
    await shift(store, case.case_id, 5, by=1)

    forged = await insert_forged(store, case.case_id, 5, before.hash, right_hash=right_hash)

    problem = bad(await verify(store, case.case_id), 5, forged)
    assert problem == "inserted: this event is not part of the chain; seq 6 links to the event before it"


async def test_two_forged_events_spliced_in_are_reported_from_the_first(store: EventStore) -> None:
    case = await journey_case(store)
    before = await event_row(store, case.case_id, 4)
    await shift(store, case.case_id, 5, by=2)

    first = await insert_forged(store, case.case_id, 5, before.hash, right_hash=True)
    await insert_forged(store, case.case_id, 6, (await event_row(store, case.case_id, 5)).hash, right_hash=True)

    problem = bad(await verify(store, case.case_id), 5, first)
    assert problem == "inserted: events 5 to 6 are not part of the chain; seq 7 links to the one before them"


async def test_a_copied_event_is_reported(store: EventStore) -> None:
    case = await journey_case(store)
    copied = dict((await event_row(store, case.case_id, 5))._mapping)

    async with store.engine.begin() as conn:
        await conn.execute(insert(schema.events), [copied | {"event_id": str(uuid.uuid4()), "seq": EVENTS + 1}])

    problem = bad(await verify(store, case.case_id), EVENTS + 1)
    assert problem == "a copy of the event at seq 5: the same hashed event recorded twice"


async def test_an_event_moved_from_another_stream_is_reported(store: EventStore) -> None:
    case = await journey_case(store)
    other = StoreCase(store)
    await other.open()

    await tamper(
        store,
        "UPDATE events SET case_id = :o, seq = 4 WHERE case_id = :c AND seq = 9",
        o=other.case_id,
        c=case.case_id,
    )

    problem = bad(await verify(store, other.case_id), 4, case.envelopes[8].event_id)
    assert problem == f"moved: by its hashed body this is seq 9 of stream {case.case_id}"
    assert bad(await verify(store, case.case_id), 10) == "sequence gap: expected seq 9, found 10"


@pytest.mark.parametrize(("column", "value"), [("actor_id", "someone-else"), ("type", "CaseClosed")])
async def test_an_indexed_column_disagreeing_with_the_body_is_reported(
    store: EventStore, column: str, value: str
) -> None:
    case = await journey_case(store)

    await tamper(store, f"UPDATE events SET {column} = :v WHERE case_id = :c AND seq = 6", v=value, c=case.case_id)

    problem = bad(await verify(store, case.case_id), 6, case.envelopes[5].event_id)
    assert problem == "indexed columns disagree with the hashed event body"


async def test_a_changed_link_is_reported(store: EventStore) -> None:
    case = await journey_case(store)

    await tamper(store, "UPDATE events SET prev_hash = :p WHERE case_id = :c AND seq = 7", p="f" * 64, c=case.case_id)

    assert bad(await verify(store, case.case_id), 7) == BROKEN_LINK


async def test_a_rewritten_event_with_its_hash_recomputed_breaks_the_next_link(store: EventStore) -> None:
    case = await journey_case(store)

    await rewrite(
        store, case.case_id, SCREENING_SEQ, '"urgency":"urgent"', '"urgency":"routine"', rehash_to=SCREENING_SEQ
    )

    problem = bad(await verify(store, case.case_id), SCREENING_SEQ + 1)
    assert problem == f"{BROKEN_LINK}: the event before it was rewritten with its hash recomputed, or this link was"


async def test_an_unreadable_body_with_its_hash_recomputed_is_reported(store: EventStore) -> None:
    case = await journey_case(store)
    last = await event_row(store, case.case_id, EVENTS)

    await tamper(
        store,
        "UPDATE events SET body = :b, hash = :h WHERE case_id = :c AND seq = :s",
        b="[1, 2]",
        h=chain_hash(last.prev_hash, "[1, 2]"),
        c=case.case_id,
        s=EVENTS,
    )

    problem = bad(await verify(store, case.case_id), EVENTS, last.event_id)
    assert problem == "the hashed body is not a readable event: it was rewritten and its hash recomputed"


async def test_a_read_only_store_verifies_and_refuses_writes(store: EventStore) -> None:
    case = await journey_case(store)
    reader = EventStore.connect(store.engine.url.render_as_string(hide_password=False), read_only=True)
    try:
        assert await reader.is_migrated()
        assert await reader.verify_chain(case.case_id) == ChainReport(case.case_id, EVENTS, ok=True)
        newcomer = StoreCase(reader)
        with pytest.raises(DBAPIError):
            await reader.append(newcomer.case_id, newcomer.envelopes_for_open())
    finally:
        await reader.close()


# Signed checkpoints.


async def test_a_checkpoint_holds_for_an_untouched_store_and_later_appends(store: EventStore) -> None:
    case = await journey_case(store)
    growing = StoreCase(store)
    await growing.open()

    checkpoint = await signed_checkpoint(store)
    exported = Checkpoint.from_json(checkpoint.to_json())
    later = StoreCase(store)
    await later.open()
    await growing.claim(growing.state.open_tasks[0].kind)

    assert exported == checkpoint
    assert await Checkpoints(store.engine).latest() == checkpoint
    assert exported.signature_problem(KEY.public) is None
    assert [(h.case_id, h.seq) for h in exported.body.streams] == sorted([(case.case_id, EVENTS), (growing.case_id, 3)])
    assert await held_to(store, exported) == []
    assert exported.body.key.fingerprint == KEY.public.fingerprint and exported.body.created_by == "au-001"


async def test_the_latest_checkpoint_is_the_newest(store: EventStore) -> None:
    case = StoreCase(store)
    await case.open()
    await signed_checkpoint(store)
    newer = await signed_checkpoint(store, OTHER_KEY)

    checkpoints = Checkpoints(store.engine)
    assert await checkpoints.latest() == newer
    latest_of_key = await checkpoints.latest(KEY.public.fingerprint)
    assert latest_of_key is not None and latest_of_key.body.key.fingerprint == KEY.public.fingerprint
    assert await checkpoints.latest("0" * 32) is None


@pytest.mark.parametrize(
    "change",
    [
        lambda doc: doc["streams"][0].update(seq=doc["streams"][0]["seq"] - 1),
        lambda doc: doc["streams"].pop(),
        lambda doc: doc.update(created_by="ad-001"),
        lambda doc: doc["key"].update(fingerprint="0" * 32),
    ],
    ids=["seq", "stream dropped", "creator", "fingerprint"],
)
async def test_a_changed_checkpoint_file_fails_its_signature(store: EventStore, change: Any) -> None:
    for _ in range(2):
        await StoreCase(store).open()
    document = json.loads((await signed_checkpoint(store)).to_json())

    change(document)

    changed = Checkpoint.from_json(json.dumps(document))
    problem = "the signature does not hold: the checkpoint was changed after it was signed"
    assert changed.signature_problem(KEY.public) == problem


async def test_a_checkpoint_of_another_key_is_refused(store: EventStore) -> None:
    await StoreCase(store).open()

    checkpoint = await signed_checkpoint(store, OTHER_KEY)

    assert checkpoint.signature_problem(KEY.public) == (
        f"it is signed by key {OTHER_KEY.public.fingerprint}, not by the expected key {KEY.public.fingerprint}"
    )
    assert checkpoint.signature_problem(PublicKey.parse(OTHER_KEY.public.text)) is None


async def test_a_rewritten_and_rehashed_chain_is_caught_only_by_the_checkpoint(store: EventStore) -> None:
    case = await journey_case(store)
    bystander = await journey_case(store)
    checkpoint = await signed_checkpoint(store)

    await rewrite(store, case.case_id, SCREENING_SEQ, '"urgency":"urgent"', '"urgency":"routine"', rehash_to=EVENTS)

    assert await verify(store, case.case_id) == ChainReport(case.case_id, EVENTS, ok=True)
    assert await store.projection_differences(case.case_id) == []
    # It recorded the head only: the change is at or before it, and no nearer can be said.
    assert await held_to(store, checkpoint) == [
        HeadProblem(case.case_id, EVENTS, case.envelopes[-1].event_id, at_or_before(EVENTS, checkpoint))
    ]
    assert bystander.case_id not in {problem.case_id for problem in await held_to(store, checkpoint)}


@pytest.mark.parametrize(
    ("deleted", "problem"),
    [
        ([EVENTS], "event 25 was deleted: the checkpoint signed this stream at seq 25, it now ends at seq 24"),
        (
            [24, EVENTS],
            "events 24 to 25 were deleted: the checkpoint signed this stream at seq 25, it now ends at seq 23",
        ),
        (
            list(range(1, EVENTS + 1)),
            "events 1 to 25 were deleted: the checkpoint signed this stream at seq 25, none of its events remain",
        ),
    ],
    ids=["last event", "last two", "whole stream"],
)
async def test_a_cut_off_tail_is_caught_by_the_checkpoint(
    store: EventStore, deleted: Sequence[int], problem: str
) -> None:
    case = await journey_case(store)
    checkpoint = await signed_checkpoint(store)

    for seq in deleted:
        await tamper(store, "DELETE FROM events WHERE case_id = :c AND seq = :s", c=case.case_id, s=seq)

    assert (await verify(store, case.case_id)).ok  # the chain alone cannot see a cut-off end
    assert await held_to(store, checkpoint) == [HeadProblem(case.case_id, deleted[0], None, problem)]


async def test_a_missing_signed_event_is_named(store: EventStore) -> None:
    case = StoreCase(store)
    await case.open()
    checkpoint = await signed_checkpoint(store)
    await case.claim(case.state.open_tasks[0].kind)

    await tamper(store, "DELETE FROM events WHERE case_id = :c AND seq = 3", c=case.case_id)

    assert await held_to(store, checkpoint) == [
        HeadProblem(case.case_id, 3, None, "the event at seq 3 is missing: the checkpoint signed this stream at seq 3")
    ]


# Keys and documents.


def test_a_signing_key_is_read_from_base64_or_pem() -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    from_pem = SigningKey.parse(pem)
    from_base64 = SigningKey.parse(base64.b64encode(raw).decode() + "\n")

    assert from_pem.public == from_base64.public == PublicKey.parse(from_pem.public.text)
    assert len(from_pem.public.fingerprint) == 32


@pytest.mark.parametrize(
    ("key_text", "problem"),
    [
        ("not a key!", "the key is neither base64 nor PEM"),
        (base64.b64encode(bytes(16)).decode(), "the key is 16 bytes; an Ed25519 private key is 32"),
        (
            generate_private_key(SECP256R1()).private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode(),
            "the PEM key is not an Ed25519 key",
        ),
    ],
    ids=["garbage", "short", "not ed25519"],
)
def test_an_unusable_signing_key_is_refused(key_text: str, problem: str) -> None:
    with pytest.raises(CheckpointError, match=problem):
        SigningKey.parse(key_text)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("{not json", "not JSON"),
        ("[]", "it has no signature"),
        ('{"signature": "AA=="}', "not a Pathway checkpoint: format: Field required"),
    ],
)
def test_a_document_that_is_not_a_checkpoint_is_refused(document: str, problem: str) -> None:
    with pytest.raises(CheckpointError, match=problem):
        Checkpoint.from_json(document)


def test_a_checkpoint_survives_export_byte_for_byte() -> None:
    heads = [StreamHead(case_id="case-a", seq=3, hash="a" * 64)]
    checkpoint = Checkpoint.sign(heads, KEY, "au-001", NOW)

    again = Checkpoint.from_json(checkpoint.to_json())

    assert again.signed_text == checkpoint.signed_text and again.signature_problem(KEY.public) is None
    assert json.loads(checkpoint.to_json())["created_at"] == "2026-03-02T10:00:00Z"


# Checkpoints that record the hash of each new event, naming the first one a rewrite altered.


async def stored_hashes(store: EventStore, case_id: str, seqs: range) -> tuple[str, ...]:
    return tuple([(await event_row(store, case_id, seq)).hash for seq in seqs])


async def test_each_checkpoint_records_the_events_new_since_the_one_before(store: EventStore) -> None:
    case = StoreCase(store)
    steps = journey(case)
    assert await anext(steps) == "opened"  # seqs 1 to 3
    first = await recording_checkpoint(store, None)
    while await anext(steps) != "screened":  # to seq 11
        pass
    other = StoreCase(store)
    await other.open()

    second = await recording_checkpoint(store, first)
    unchanged = await recording_checkpoint(store, second)

    assert first.body.format == second.body.format == "pathway-checkpoint/3"
    assert first.body.events == (
        StreamHashes(case_id=case.case_id, first_seq=1, hashes=await stored_hashes(store, case.case_id, range(1, 4))),
    )
    assert set(second.body.events) == {
        StreamHashes(case_id=case.case_id, first_seq=4, hashes=await stored_hashes(store, case.case_id, range(4, 12))),
        StreamHashes(case_id=other.case_id, first_seq=1, hashes=await stored_hashes(store, other.case_id, range(1, 4))),
    }
    # Nothing new: the heads again, and no event hashes.
    assert unchanged.body.events == () and unchanged.body.streams == second.body.streams
    assert Checkpoint.from_json(second.to_json()) == second and second.signature_problem(KEY.public) is None
    assert await held_to(store, first, second, unchanged) == []


async def test_after_a_checkpoint_that_recorded_no_hashes_the_next_records_every_event(store: EventStore) -> None:
    """A format 2 checkpoint (signed heads only) as the base: the first checkpoint after it records
    every event, so that the checkpoints from it on hold every event's hash between them."""
    case = await journey_case(store)
    document = json.loads((await signed_checkpoint(store)).to_json())
    for name in ("events", "access_rows", "signature"):
        document.pop(name)
    document["format"] = "pathway-checkpoint/2"
    signature = base64.b64encode(KEY.sign(canonical_json(document).encode())).decode()
    old = Checkpoint.from_json(json.dumps(document | {"signature": signature}))

    after = await recording_checkpoint(store, old)

    assert old.signature_problem(KEY.public) is None and old.body.events == ()
    [run] = after.body.events
    assert (run.case_id, run.first_seq, len(run.hashes)) == (case.case_id, 1, EVENTS)


async def test_a_rewrite_several_checkpoints_back_is_named_at_its_event_only_by_the_checkpoint_that_recorded_it(
    store: EventStore,
) -> None:
    case = StoreCase(store)
    steps = journey(case)
    while await anext(steps) != "screened":  # seqs 1 to 11, the screening at 8
        pass
    first = await recording_checkpoint(store, None)
    while await anext(steps) != "information shared":  # to seq 19
        pass
    second = await recording_checkpoint(store, first)
    async for _ in steps:  # to seq 25
        pass
    third = await recording_checkpoint(store, second)
    screening = await event_row(store, case.case_id, SCREENING_SEQ)

    await rewrite(store, case.case_id, SCREENING_SEQ, '"urgency":"urgent"', '"urgency":"routine"', rehash_to=EVENTS)

    assert (await verify(store, case.case_id)).ok  # the chain alone sees nothing
    named = HeadProblem(case.case_id, SCREENING_SEQ, screening.event_id, altered(SCREENING_SEQ, screening.hash, first))
    # Every checkpoint, or any set with the first (which recorded seq 8), names the screening itself.
    assert await held_to(store, first, second, third) == [named]
    assert await held_to(store, first, third) == [named]
    # Without it, the first hash that no longer holds is after the screening: the change is at or
    # before it, and no nearer can be said.
    row_12, row_20 = await event_row(store, case.case_id, 12), await event_row(store, case.case_id, 20)
    assert await held_to(store, second, third) == [
        HeadProblem(case.case_id, 12, row_12.event_id, at_or_before(12, second))
    ]
    assert await held_to(store, third) == [HeadProblem(case.case_id, 20, row_20.event_id, at_or_before(20, third))]


async def test_a_rewrite_between_recorded_events_is_placed_between_them(store: EventStore) -> None:
    """Events 1 to 11 recorded, then a checkpoint of the head only (format 2 signed no more): a
    rewrite at 20 is after 11, whose hash holds, and at or before the head."""
    case = StoreCase(store)
    steps = journey(case)
    while await anext(steps) != "screened":
        pass
    first = await recording_checkpoint(store, None)
    async for _ in steps:
        pass
    heads_only = await signed_checkpoint(store)

    await rewrite(store, case.case_id, 20, '"reason":"needs support"', '"reason":"none"', rehash_to=EVENTS)

    head = await event_row(store, case.case_id, EVENTS)
    assert await held_to(store, first, heads_only) == [
        HeadProblem(case.case_id, EVENTS, head.event_id, at_or_before(EVENTS, heads_only, held=11))
    ]


async def test_a_deleted_tail_and_a_forged_replacement_are_named_against_the_recorded_events(
    store: EventStore,
) -> None:
    case = await journey_case(store)
    checkpoint = await recording_checkpoint(store, None)
    original = await event_row(store, case.case_id, 5)

    await tamper(store, "DELETE FROM events WHERE case_id = :c AND seq >= 5", c=case.case_id)
    forged = await insert_forged(store, case.case_id, 5, original.prev_hash, right_hash=True)

    assert (await verify(store, case.case_id)).ok  # a cut-off stream with a well-chained forged end
    assert await held_to(store, checkpoint) == [
        HeadProblem(case.case_id, 5, forged, altered(5, original.hash, checkpoint))
    ]
    await tamper(store, "DELETE FROM events WHERE case_id = :c AND seq = 5", c=case.case_id)
    assert await held_to(store, checkpoint) == [
        HeadProblem(
            case.case_id,
            5,
            None,
            "events 5 to 25 were deleted: the checkpoint signed this stream at seq 25, it now ends at seq 4",
        )
    ]
