"""Tampering with the access log behind the store's back, as someone with database access would to
hide a read, and verification naming the first bad row (seq, access id, what happened) without
changing anything; signed checkpoints catching what the chain alone cannot (a rewritten-and-rehashed
log, a cut-off tail) and naming the first row a rewrite altered where a checkpoint recorded its hash,
while checkpoints from before the access log was chained stay verifiable.

Every log is written through `AccessLog.record` and `EventStore.append` (tests.store.access_support);
only the tampering goes around them."""

import base64
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from store import schema
from store.access_log import ACCESS_CHAIN, AccessChainReport, chained
from store.checkpoints import Checkpoint, Checkpoints, HeadProblem, Recorded, StreamHashes
from store.event_store import EventStore
from store.hashing import canonical_json
from tests.store.access_support import LOGGED, access_row, logged_case
from tests.store.support import StoreCase
from tests.store.test_tamper import KEY, altered, dump, recording_checkpoint, tamper

BREAK_GLASS_SEQ = 4  # the break-glass read of `logged_case`, the row a tamperer most wants gone


async def verify(store: EventStore, case_id: str) -> AccessChainReport:
    before = await dump(store)
    report = await store.verify_access(case_id)
    assert await dump(store) == before
    # `pathway audit verify --all` reads the same verdict through check_cases.
    [checked] = [check async for check in store.check_cases([case_id])]
    assert checked.access_log == report
    return report


def bad(report: AccessChainReport, seq: int, access_id: str | None = None) -> str:
    """The problem of a report that names `seq` (and `access_id`) as the first bad row."""
    assert (report.ok, report.first_bad_seq) == (False, seq), report
    if access_id is not None:
        assert report.first_bad_access_id == access_id
    assert report.problem is not None
    return report.problem


async def renumber(store: EventStore, case_id: str, from_seq: int, by: int) -> None:
    """Move every row from `from_seq` on by `by`, in two steps so (case_id, seq) stays unique."""
    await tamper(
        store, "UPDATE access_log SET seq = seq + 1000 WHERE case_id = :c AND seq >= :s", c=case_id, s=from_seq
    )
    await tamper(
        store, "UPDATE access_log SET seq = seq - :d WHERE case_id = :c AND seq >= 1000", c=case_id, d=1000 - by
    )


async def forge(store: EventStore, case_id: str, seq: int, prev_hash: str) -> str:
    """A read that never happened, hashed and linked as the store would write it; returns its id."""
    values = dict((await access_row(store, case_id, 1))._mapping)
    values |= {"access_id": str(uuid.uuid4()), "staff_id": "intruder", "purpose": "nothing to see"}
    values |= chained(values, seq, prev_hash)
    async with store.engine.begin() as conn:
        await conn.execute(insert(schema.access_log), [values])
    return str(values["access_id"])


async def rehash(store: EventStore, case_id: str, seq: int, purpose: str, *, to: int) -> None:
    """Rewrite the purpose at `seq` and recompute the chain from there up to `to`, as a careful
    tamperer would: the log up to `to` then verifies."""
    prev_hash = (await access_row(store, case_id, seq)).prev_hash
    for at in range(seq, to + 1):
        values = dict((await access_row(store, case_id, at))._mapping)
        if at == seq:
            values["purpose"] = purpose
        values |= chained(values, at, prev_hash)
        await tamper(
            store,
            "UPDATE access_log SET purpose = :p, body = :b, prev_hash = :l, hash = :h WHERE case_id = :c AND seq = :s",
            p=values["purpose"],
            b=values["body"],
            l=prev_hash,
            h=values["hash"],
            c=case_id,
            s=at,
        )
        prev_hash = values["hash"]


async def signed_checkpoint(store: EventStore) -> Checkpoint:
    checkpoints = Checkpoints(store.engine)
    heads, access_heads = await checkpoints.heads(), await checkpoints.access_heads()
    checkpoint = Checkpoint.sign(heads, KEY, "au-001", datetime.now(UTC), access_heads)
    await checkpoints.save(checkpoint)
    return checkpoint


async def held_to(store: EventStore, *checkpoints: Checkpoint) -> list[HeadProblem]:
    """Each stream and access log held to what the checkpoints (oldest first) recorded of it, as
    verification holds them; reading only."""
    before = await dump(store)
    reader, recorded = Checkpoints(store.engine), Recorded.of(checkpoints)
    problems = [await reader.stream_problem(case_id, chain) for case_id, chain in recorded.streams.items()]
    problems += [await reader.access_log_problem(case_id, chain) for case_id, chain in recorded.access_logs.items()]
    assert await dump(store) == before
    return [problem for problem in problems if problem is not None]


# The chain: each kind of tampering, named at the right row.


async def test_an_untouched_log_verifies(store: EventStore) -> None:
    logged = await logged_case(store)

    assert await verify(store, logged.case_id) == AccessChainReport(logged.case_id, LOGGED, ok=True)


async def test_a_deleted_row_is_reported_as_a_gap(store: EventStore) -> None:
    logged = await logged_case(store)

    await tamper(store, "DELETE FROM access_log WHERE case_id = :c AND seq = :s", c=logged.case_id, s=BREAK_GLASS_SEQ)

    problem = bad(await verify(store, logged.case_id), BREAK_GLASS_SEQ + 1)
    assert problem == f"sequence gap: expected seq {BREAK_GLASS_SEQ}, found {BREAK_GLASS_SEQ + 1}"


async def test_a_deletion_hidden_by_renumbering_is_reported(store: EventStore) -> None:
    logged = await logged_case(store)
    later = (await logged.records())[BREAK_GLASS_SEQ]

    await tamper(store, "DELETE FROM access_log WHERE case_id = :c AND seq = :s", c=logged.case_id, s=BREAK_GLASS_SEQ)
    await renumber(store, logged.case_id, BREAK_GLASS_SEQ + 1, by=-1)

    problem = bad(await verify(store, logged.case_id), BREAK_GLASS_SEQ, later.access_id)
    assert problem == (
        f"by its hashed body this is seq {BREAK_GLASS_SEQ + 1}: 1 access row(s) before it were deleted and the "
        "later ones renumbered"
    )


async def test_an_altered_row_is_reported_at_its_seq(store: EventStore) -> None:
    """The break-glass read made to look like an ordinary one, its columns and body agreeing."""
    logged = await logged_case(store)
    row = (await logged.records())[BREAK_GLASS_SEQ - 1]

    changed = await tamper(
        store,
        "UPDATE access_log SET break_glass = :f, body = REPLACE(body, :old, :new) WHERE case_id = :c AND seq = :s",
        f=False,
        old='"break_glass":true',
        new='"break_glass":false',
        c=logged.case_id,
        s=BREAK_GLASS_SEQ,
    )

    assert changed == 1
    assert bad(await verify(store, logged.case_id), BREAK_GLASS_SEQ, row.access_id) == ACCESS_CHAIN.altered


@pytest.mark.parametrize(
    ("column", "value"), [("purpose", "routine"), ("staff_id", "someone-else"), ("break_glass", False)]
)
async def test_a_column_changed_without_its_hashed_body_is_reported(
    store: EventStore, column: str, value: object
) -> None:
    logged = await logged_case(store)
    row = (await logged.records())[BREAK_GLASS_SEQ - 1]

    await tamper(
        store,
        f"UPDATE access_log SET {column} = :v WHERE case_id = :c AND seq = :s",
        v=value,
        c=logged.case_id,
        s=BREAK_GLASS_SEQ,
    )

    problem = bad(await verify(store, logged.case_id), BREAK_GLASS_SEQ, row.access_id)
    assert problem == "indexed columns disagree with the hashed access row body"


async def test_a_forged_row_spliced_in_is_reported_as_inserted(store: EventStore) -> None:
    logged = await logged_case(store)
    before = await access_row(store, logged.case_id, 1)
    await renumber(store, logged.case_id, 2, by=1)

    forged = await forge(store, logged.case_id, 2, before.hash)

    problem = bad(await verify(store, logged.case_id), 2, forged)
    assert problem == "inserted: this access row is not part of the chain; seq 3 links to the access row before it"


async def test_a_forged_row_with_a_wrong_hash_is_reported_at_the_end(store: EventStore) -> None:
    logged = await logged_case(store)
    last = await access_row(store, logged.case_id, LOGGED)
    forged = await forge(store, logged.case_id, LOGGED + 1, last.hash)

    await tamper(store, "UPDATE access_log SET hash = :h WHERE access_id = :a", h="0" * 64, a=forged)

    assert bad(await verify(store, logged.case_id), LOGGED + 1, forged) == ACCESS_CHAIN.altered


async def test_swapped_rows_are_reported_as_reordered(store: EventStore) -> None:
    logged = await logged_case(store)
    records = await logged.records()
    for old, new in ((3, 1000), (4, 3), (1000, 4)):
        await tamper(
            store, "UPDATE access_log SET seq = :n WHERE case_id = :c AND seq = :o", n=new, o=old, c=logged.case_id
        )

    problem = bad(await verify(store, logged.case_id), 3, records[3].access_id)
    assert problem == (
        "out of order: by its hashed body this is seq 4, and it follows the access row now at seq 4; "
        "the access rows were reordered"
    )


async def test_a_copied_row_is_reported(store: EventStore) -> None:
    logged = await logged_case(store)
    copied = dict((await access_row(store, logged.case_id, 2))._mapping)

    async with store.engine.begin() as conn:
        await conn.execute(insert(schema.access_log), [copied | {"access_id": str(uuid.uuid4()), "seq": LOGGED + 1}])

    problem = bad(await verify(store, logged.case_id), LOGGED + 1)
    assert problem == "a copy of the access row at seq 2: the same hashed access row recorded twice"


async def test_a_row_moved_from_another_case_is_reported(store: EventStore) -> None:
    logged = await logged_case(store)
    other = StoreCase(store)
    await other.open()
    moved = (await logged.records())[0]

    await tamper(store, "UPDATE access_log SET case_id = :o WHERE access_id = :a", o=other.case_id, a=moved.access_id)

    assert (
        bad(await verify(store, other.case_id), 1, moved.access_id)
        == f"moved: by its hashed body this is seq 1 of access log {logged.case_id}"
    )
    assert bad(await verify(store, logged.case_id), 2) == "sequence gap: expected seq 1, found 2"


async def test_a_row_rewritten_with_its_hash_recomputed_breaks_the_next_link(store: EventStore) -> None:
    logged = await logged_case(store)

    await rehash(store, logged.case_id, BREAK_GLASS_SEQ, "routine", to=BREAK_GLASS_SEQ)

    problem = bad(await verify(store, logged.case_id), BREAK_GLASS_SEQ + 1)
    rewritten = "the access row before it was rewritten with its hash recomputed, or this link was"
    assert problem == f"{ACCESS_CHAIN.broken_link}: {rewritten}"


async def test_tampering_one_log_leaves_the_events_and_other_logs_verified(store: EventStore) -> None:
    logged = await logged_case(store)
    other = await logged_case(store)

    await tamper(store, "DELETE FROM access_log WHERE case_id = :c AND seq = 2", c=logged.case_id)

    [tampered, untouched] = [check async for check in store.check_cases([logged.case_id, other.case_id])]
    assert not tampered.access_log.ok and tampered.chain.ok and tampered.projection_differences == []
    assert untouched.access_log == AccessChainReport(other.case_id, LOGGED, ok=True)


# Signed checkpoints.


async def test_a_rewritten_and_rehashed_log_is_caught_only_by_the_checkpoint(store: EventStore) -> None:
    logged = await logged_case(store)
    bystander = await logged_case(store)
    checkpoint = await signed_checkpoint(store)
    last = (await logged.records())[-1]

    await rehash(store, logged.case_id, BREAK_GLASS_SEQ, "routine", to=LOGGED)

    assert await verify(store, logged.case_id) == AccessChainReport(logged.case_id, LOGGED, ok=True)
    # It signed the head only: the change is at or before it, and no nearer can be said.
    assert await held_to(store, checkpoint) == [
        HeadProblem(
            logged.case_id,
            LOGGED,
            last.access_id,
            f"rewritten at or before seq {LOGGED}: the access row here no longer has the hash checkpoint "
            f"{checkpoint.body.checkpoint_id} signed, so the access log up to here was changed and its hashes "
            "recomputed; no checkpoint given recorded the hashes of the access rows before it, so the first one "
            "altered cannot be named",
        )
    ]
    assert bystander.case_id not in {problem.case_id for problem in await held_to(store, checkpoint)}


async def test_a_rewritten_log_is_named_at_the_first_row_a_checkpoint_recorded_otherwise(store: EventStore) -> None:
    """The break-glass read made routine and the log rehashed: a checkpoint that recorded each row's
    hash names that very read, though the log's chain verifies."""
    logged = await logged_case(store)
    checkpoint = await recording_checkpoint(store, None)
    rows = await logged.records()
    break_glass = rows[BREAK_GLASS_SEQ - 1]

    await rehash(store, logged.case_id, BREAK_GLASS_SEQ, "routine", to=LOGGED)

    assert (await verify(store, logged.case_id)).ok
    recorded = StreamHashes(case_id=logged.case_id, first_seq=1, hashes=tuple(row.hash for row in rows))
    assert checkpoint.body.access_rows == (recorded,)
    assert await held_to(store, checkpoint) == [
        HeadProblem(
            logged.case_id,
            BREAK_GLASS_SEQ,
            break_glass.access_id,
            altered(BREAK_GLASS_SEQ, break_glass.hash, checkpoint, row="access row"),
        )
    ]


@pytest.mark.parametrize(
    ("deleted", "problem"),
    [
        ([LOGGED], "access row 6 was deleted: the checkpoint signed this access log at seq 6, it now ends at seq 5"),
        (
            [BREAK_GLASS_SEQ, 5, LOGGED],
            "access rows 4 to 6 were deleted: the checkpoint signed this access log at seq 6, it now ends at seq 3",
        ),
        (
            list(range(1, LOGGED + 1)),
            "access rows 1 to 6 were deleted: the checkpoint signed this access log at seq 6, none of its access "
            "rows remain",
        ),
    ],
    ids=["last row", "the break-glass read on", "whole log"],
)
async def test_a_cut_off_tail_is_caught_by_the_checkpoint(
    store: EventStore, deleted: Sequence[int], problem: str
) -> None:
    logged = await logged_case(store)
    checkpoint = await signed_checkpoint(store)
    await logged.log.record(logged.case_id, "au-001", "auditor", "read_case", "later reads are fine")

    for seq in [*deleted, LOGGED + 1]:
        await tamper(store, "DELETE FROM access_log WHERE case_id = :c AND seq = :s", c=logged.case_id, s=seq)

    assert (await verify(store, logged.case_id)).ok  # the chain alone cannot see a cut-off end
    assert await held_to(store, checkpoint) == [HeadProblem(logged.case_id, deleted[0], None, problem)]


async def test_a_checkpoint_signs_each_access_log_head_and_holds_while_the_log_grows(store: EventStore) -> None:
    logged = await logged_case(store)
    checkpoint = await signed_checkpoint(store)

    await logged.log.record(logged.case_id, "au-001", "auditor", "read_case", "later")

    [head] = checkpoint.body.access_logs
    last = await access_row(store, logged.case_id, LOGGED)
    assert (head.case_id, head.seq, head.hash) == (logged.case_id, LOGGED, last.hash)
    assert checkpoint.body.format == "pathway-checkpoint/3"
    assert Checkpoint.from_json(checkpoint.to_json()) == checkpoint
    assert await held_to(store, checkpoint) == []


async def test_a_checkpoint_from_before_the_access_log_was_chained_still_verifies(store: EventStore) -> None:
    """A format 1 document (no access-log heads), signed as the earlier version signed it."""
    logged = await logged_case(store)
    heads = await Checkpoints(store.engine).heads()
    body = {
        "format": "pathway-checkpoint/1",
        "checkpoint_id": str(uuid.uuid4()),
        "created_at": "2026-03-02T10:00:00Z",
        "created_by": "au-001",
        "key": {"algorithm": "Ed25519", "public_key": KEY.public.text, "fingerprint": KEY.public.fingerprint},
        "streams": [head.model_dump() for head in heads],
    }
    signature = base64.b64encode(KEY.sign(canonical_json(body).encode())).decode()

    old = Checkpoint.from_json(json.dumps(body | {"signature": signature}, indent=2))

    assert old.signature_problem(KEY.public) is None
    assert old.body.access_logs == () and [h.case_id for h in old.body.streams] == [logged.case_id]
    assert await held_to(store, old) == []
    await tamper(store, "DELETE FROM access_log WHERE case_id = :c AND seq = :s", c=logged.case_id, s=LOGGED)
    assert await held_to(store, old) == []  # it signed no access log: only the chain can speak for it
