"""F8: someone with write access to the database hides who read a case (a break-glass read, an
export) by deleting, altering or inserting access-log rows. Before the fix `pathway audit verify`
passed whatever was done to the access log. Now each case's log is a hash chain, and verify (one
case and --all) fails naming the case, the access row's seq and id, and what happened; a signed
checkpoint also holds each case's last access row, so a log cut short at its end is found too.

Through the real CLI, against a store filled through the store's own writers and then tampered with
behind its back (tests.store.access_support, tests.store.test_tamper)."""

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import insert

from store import schema
from store.access_log import ACCESS_CHAIN, AccessRecord, chained
from store.checkpoints import Checkpoints, SigningKey
from store.event_store import EventStore
from store.hashing import canonical_json
from tests.cli.support import Completed, pathway
from tests.store.access_support import LOGGED, LoggedCase, access_row, logged_case
from tests.store.test_tamper import dump, tamper

AUDITOR = ("--as", "au-001")
BREAK_GLASS_SEQ = 4  # the break-glass read of `logged_case`


@dataclass
class Logged:
    store: EventStore
    logged: LoggedCase
    other: LoggedCase
    data_dir: Path
    records: list[AccessRecord]

    @property
    def case_id(self) -> str:
        return self.logged.case_id

    async def run(self, *args: str) -> Completed:
        env = {"PATHWAY_DATA_DIR": str(self.data_dir), "PATHWAY_TEMPORAL_ADDRESS": "localhost:1"}
        return await pathway("audit", *args, env=env)


@pytest_asyncio.fixture(loop_scope="session")
async def logged(tmp_path: Path) -> AsyncIterator[Logged]:
    """A data directory whose store holds two cases with reads and changes in their access logs."""
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    case, other = await logged_case(store), await logged_case(store)
    try:
        yield Logged(store, case, other, tmp_path, await case.records())
    finally:
        await store.close()


def failed_at(result: Completed, case_id: str, seq: int, access_id: str | None, problem: str) -> bool:
    """Exit 1, one report line naming the case, the access row's seq (and id) and the problem, and
    an error line saying the case failed."""
    row = f" (access {access_id})" if access_id else ""
    where = f"{case_id} access log seq {seq}{row}: "
    named = [line for line in result.stdout.splitlines() if where in line and problem in line]
    return result.status == 1 and len(named) == 1 and result.stderr.startswith("error: 1 of 2 case(s) failed")


async def test_an_untouched_access_log_verifies(logged: Logged) -> None:
    every, one = await asyncio.gather(
        logged.run("verify", "--all", *AUDITOR), logged.run("verify", logged.case_id, "--json", *AUDITOR)
    )

    assert every.status == 0, every.stdout + every.stderr
    assert "2 of 2 case(s) verified" in every.stdout
    assert one.status == 0 and one.json()["ok"] is True


async def _delete_the_break_glass_read(logged: Logged) -> None:
    await tamper(
        logged.store, "DELETE FROM access_log WHERE case_id = :c AND seq = :s", c=logged.case_id, s=BREAK_GLASS_SEQ
    )


async def _make_it_look_ordinary(logged: Logged) -> None:
    await tamper(
        logged.store,
        "UPDATE access_log SET break_glass = :f, body = REPLACE(body, :old, :new) WHERE case_id = :c AND seq = :s",
        f=False,
        old='"break_glass":true',
        new='"break_glass":false',
        c=logged.case_id,
        s=BREAK_GLASS_SEQ,
    )


async def _insert_an_alibi(logged: Logged) -> None:
    """A read by someone else, spliced in before the break-glass read, hashed as the store would."""
    await tamper(
        logged.store, "UPDATE access_log SET seq = seq + 1000 WHERE case_id = :c AND seq >= 2", c=logged.case_id
    )
    await tamper(
        logged.store, "UPDATE access_log SET seq = seq - 999 WHERE case_id = :c AND seq >= 1000", c=logged.case_id
    )
    values = dict((await access_row(logged.store, logged.case_id, 1))._mapping)
    values |= {"access_id": "alibi", "staff_id": "tl-001", "purpose": "supervision"}
    values |= chained(values, 2, values["hash"])
    async with logged.store.engine.begin() as conn:
        await conn.execute(insert(schema.access_log), [values])


TAMPERING: dict[str, tuple[Callable[[Logged], Awaitable[None]], int, str]] = {
    # (tampering, the seq of the first row that does not fit, problem)
    "row deleted": (_delete_the_break_glass_read, BREAK_GLASS_SEQ + 1, "sequence gap: expected seq 4, found 5"),
    "row altered": (_make_it_look_ordinary, BREAK_GLASS_SEQ, ACCESS_CHAIN.altered),
    "row inserted": (_insert_an_alibi, 2, "inserted: this access row is not part of the chain"),
}


@pytest.mark.parametrize("how", TAMPERING.values(), ids=TAMPERING.keys())
async def test_each_tampering_with_the_access_log_fails_verify(
    logged: Logged, how: tuple[Callable[[Logged], Awaitable[None]], int, str]
) -> None:
    change, seq, problem = how
    await change(logged)
    before = await dump(logged.store)
    row = (await access_row(logged.store, logged.case_id, seq)).access_id

    every, one, as_json = await asyncio.gather(
        logged.run("verify", "--all", *AUDITOR),
        logged.run("verify", logged.case_id, *AUDITOR),
        logged.run("verify", "--all", "--json", *AUDITOR),
    )

    assert failed_at(every, logged.case_id, seq, row, problem), every
    assert f"{logged.other.case_id}  4 events  ok" in every.stdout and "1 of 2 case(s) verified" in every.stdout
    assert one.status == 1 and f"{logged.case_id} access log seq {seq}" in one.stdout and problem in one.stdout
    [result] = [c for c in as_json.json()["cases"] if c["case_id"] == logged.case_id]
    [finding] = result["findings"]
    assert (finding["check"], finding["seq"], finding["access_id"], finding["event_id"]) == (
        "access_log",
        seq,
        row,
        None,
    )
    assert problem in finding["problem"]
    assert await dump(logged.store) == before  # verification wrote nothing


async def test_a_cut_off_tail_of_the_access_log_is_found_by_the_checkpoint(logged: Logged) -> None:
    exported = logged.data_dir / "checkpoint.json"
    made = await logged.run("checkpoint", *AUDITOR, "--export", str(exported))
    assert made.status == 0, made.stderr
    assert ": 2 stream(s) and 2 access log(s), signed by key" in made.stdout
    document = json.loads(exported.read_text())
    assert {(h["case_id"], h["seq"]) for h in document["access_logs"]} == {
        (logged.case_id, LOGGED),
        (logged.other.case_id, LOGGED),
    }

    # The last two reads (an auditor's look at the log, then the subject access export) removed.
    await tamper(
        logged.store, "DELETE FROM access_log WHERE case_id = :c AND seq >= :s", c=logged.case_id, s=LOGGED - 1
    )
    chain_only, from_file, latest, again = await asyncio.gather(
        logged.run("verify", "--all", *AUDITOR),
        logged.run("verify", "--all", "--checkpoint", str(exported), *AUDITOR),
        logged.run("verify", logged.case_id, "--latest-checkpoint", *AUDITOR),
        logged.run("checkpoint", *AUDITOR),
    )

    assert chain_only.status == 0, chain_only.stdout  # the chain alone cannot see a cut-off end
    problem = "access rows 5 to 6 were deleted: the checkpoint signed this access log at seq 6, it now ends at seq 4"
    assert failed_at(from_file, logged.case_id, LOGGED - 1, None, f"access checkpoint: {problem}"), from_file
    assert latest.status == 1 and problem in latest.stdout
    # A checkpoint of a tampered record would vouch for the tampering.
    assert again.status == 1 and again.stderr.startswith("error: no checkpoint signed: 1 of 2 case(s) failed")


async def test_a_checkpoint_signed_before_the_access_log_was_chained_still_verifies(logged: Logged) -> None:
    """A format 1 document, signed as the earlier version signed it: no access-log heads."""
    key = SigningKey.parse(SigningKey.new_key_text())
    heads = await Checkpoints(logged.store.engine).heads()
    body = {
        "format": "pathway-checkpoint/1",
        "checkpoint_id": str(uuid.uuid4()),
        "created_at": "2026-03-02T10:00:00Z",
        "created_by": "au-001",
        "key": {"algorithm": "Ed25519", "public_key": key.public.text, "fingerprint": key.public.fingerprint},
        "streams": [head.model_dump() for head in heads],
    }
    old = logged.data_dir / "old-checkpoint.json"
    old.write_text(json.dumps(body | {"signature": base64.b64encode(key.sign(canonical_json(body).encode())).decode()}))

    result = await logged.run("verify", "--all", "--checkpoint", str(old), "--public-key", key.public.text, *AUDITOR)

    assert result.status == 0, result.stdout + result.stderr
    assert "2 stream(s), key" in result.stdout and "the signature holds" in result.stdout
