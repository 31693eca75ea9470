"""`pathway audit verify` and `pathway audit checkpoint` through the real CLI, against a store filled by
`EventStore.append` and then tampered with behind its back: each tampering fails verification (exit 1)
with a line naming the case and the seq; refusals exit 2 to 4 (cli/exits.py); verification writes nothing. Scheduled
checkpoints are made by the schedule's own activity, run without a Temporal server."""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import ActivityEnvironment

from activities.checkpoints import CheckpointActivities, CheckpointSigner
from cli.exits import ExitStatus
from domain.config import CheckpointsConfig
from domain.tasks import TaskKind
from store.chain_check import ALTERED
from store.checkpoints import Checkpoint, Checkpoints, SigningKey, StreamHead
from store.delivered_checkpoints import file_name, write_new
from store.event_store import EventStore
from store.notifications import NotificationLog
from tests.cli.support import Completed, pathway
from tests.store.support import StoreCase
from tests.store.test_tamper import (
    EVENTS,
    SCREENING_SEQ,
    altered,
    dump,
    event_row,
    insert_forged,
    journey_case,
    rewrite,
    shift,
    tamper,
)
from workflows.messages import CheckpointInput

AUDITOR = ("--as", "au-001")


@dataclass
class Filled:
    store: EventStore
    case: StoreCase
    other: StoreCase
    data_dir: Path

    @property
    def env(self) -> dict[str, str]:
        return {"PATHWAY_DATA_DIR": str(self.data_dir), "PATHWAY_TEMPORAL_ADDRESS": "localhost:1"}

    async def run(self, *args: str, env: dict[str, str] | None = None) -> Completed:
        return await pathway("audit", *args, env=self.env | (env or {}))


@pytest_asyncio.fixture(loop_scope="session")
async def filled(tmp_path: Path) -> AsyncIterator[Filled]:
    """A data directory whose store holds a whole journey and a just-opened case."""
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    case = await journey_case(store)
    other = StoreCase(store)
    await other.open()
    try:
        yield Filled(store, case, other, tmp_path)
    finally:
        await store.close()


def failed(result: Completed, case_id: str, seq: int, problem: str) -> bool:
    """Exit 1, a report line naming the case, the seq and the problem, and one line on stderr."""
    named = [line for line in result.stdout.splitlines() if f"{case_id} seq {seq}" in line and problem in line]
    stderr = result.stderr.strip()
    return result.status == 1 and len(named) == 1 and stderr.startswith("error: ") and "\n" not in stderr


def refused(result: Completed, text: str, status: ExitStatus = ExitStatus.USAGE) -> bool:
    line = result.stderr.strip()
    return result.status == status and "\n" not in line and text in line


async def test_good_data_verifies_and_nothing_is_written(filled: Filled) -> None:
    before = await dump(filled.store)

    every, one = await asyncio.gather(
        filled.run("verify", "--all", *AUDITOR), filled.run("verify", filled.case.case_id, "--json", *AUDITOR)
    )

    assert every.status == 0, every.stderr
    assert f"{filled.case.case_id}  {EVENTS} events  ok" in every.stdout and "2 of 2 case(s) verified" in every.stdout
    assert one.status == 0 and one.json() == {
        "ok": True,
        "checkpoint": None,
        "cases": [{"case_id": filled.case.case_id, "events": EVENTS, "ok": True, "findings": []}],
        "checkpoints": [],
        "passed_over": [],
    }
    assert await dump(filled.store) == before


async def _change_payload(filled: Filled) -> None:
    await tamper(
        filled.store,
        'UPDATE events SET body = REPLACE(body, \'"risk_level":"medium"\', \'"risk_level":"high"\') '
        "WHERE case_id = :c AND seq = :s",
        c=filled.case.case_id,
        s=SCREENING_SEQ,
    )


async def _swap(filled: Filled) -> None:
    for old, new in ((3, 1000), (4, 3), (1000, 4)):
        await tamper(
            filled.store,
            "UPDATE events SET seq = :n WHERE case_id = :c AND seq = :o",
            n=new,
            o=old,
            c=filled.case.case_id,
        )


async def _delete(filled: Filled) -> None:
    await tamper(filled.store, "DELETE FROM events WHERE case_id = :c AND seq = 12", c=filled.case.case_id)


async def _insert(filled: Filled) -> None:
    before = await event_row(filled.store, filled.case.case_id, 4)
    await shift(filled.store, filled.case.case_id, 5, by=1)
    await insert_forged(filled.store, filled.case.case_id, 5, before.hash, right_hash=True)


TAMPERING: dict[str, tuple[Callable[[Filled], Awaitable[None]], int, str]] = {
    "payload changed": (_change_payload, SCREENING_SEQ, ALTERED),
    "order swapped": (_swap, 3, "out of order: by its hashed body this is seq 4"),
    "row deleted": (_delete, 13, "sequence gap: expected seq 12, found 13"),
    "row inserted": (_insert, 5, "inserted: this event is not part of the chain"),
}


@pytest.mark.parametrize("how", TAMPERING.values(), ids=TAMPERING.keys())
async def test_each_tampering_fails_naming_the_case_and_seq(
    filled: Filled, how: tuple[Callable[[Filled], Awaitable[None]], int, str]
) -> None:
    change, seq, problem = how
    await change(filled)
    before = await dump(filled.store)

    result = await filled.run("verify", "--all", *AUDITOR)

    assert failed(result, filled.case.case_id, seq, problem), result
    assert f"{filled.other.case_id}  3 events  ok" in result.stdout and "1 of 2 case(s) verified" in result.stdout
    assert result.stderr.startswith(f"error: 1 of 2 case(s) failed verification, first {filled.case.case_id} seq {seq}")
    assert await dump(filled.store) == before


async def test_refusals(filled: Filled, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    unknown, practitioner, no_store, no_checkpoint, admin_checkpoint = await asyncio.gather(
        filled.run("verify", "case-nope", *AUDITOR),
        filled.run("verify", "--all", "--as", "pr-001"),
        filled.run("verify", "--all", *AUDITOR, env={"PATHWAY_DATA_DIR": str(empty)}),
        filled.run("verify", "--all", "--latest-checkpoint", *AUDITOR),
        filled.run("checkpoint", "--as", "ad-001"),
    )

    assert refused(unknown, "there is no case case-nope", ExitStatus.NOT_FOUND)
    assert refused(practitioner, "a practitioner cannot verify the records (allowed: auditor)", ExitStatus.REFUSED)
    assert refused(no_store, f"there is no event store at {empty / 'pathway.db'}", ExitStatus.NOT_FOUND)
    assert not empty.exists()
    no_stored = "there is no stored checkpoint; make one with `pathway audit checkpoint`"
    assert refused(no_checkpoint, no_stored, ExitStatus.NOT_FOUND)
    assert refused(admin_checkpoint, "an admin cannot verify the records", ExitStatus.REFUSED)
    assert not (filled.data_dir / "checkpoint.key").exists()


async def test_a_checkpoint_is_signed_exported_and_catches_a_rewritten_chain(filled: Filled) -> None:
    exported = filled.data_dir / "checkpoint.json"

    made = await filled.run("checkpoint", *AUDITOR, "--export", str(exported))

    assert made.status == 0, made.stderr
    key = SigningKey.parse((filled.data_dir / "checkpoint.key").read_text())
    assert (filled.data_dir / "checkpoint.key").stat().st_mode & 0o777 == 0o600
    document = json.loads(exported.read_text())
    assert made.stdout.splitlines() == [
        f"checkpoint {document['checkpoint_id']}: 2 stream(s), signed by key {key.public.fingerprint}; "
        f"exported to {exported}",
        f"recorded the hashes of {EVENTS + 3} event(s) and 0 access row(s) new since the checkpoint before (every "
        "one, for the first of its key)",
        f"public key: {key.public.text}",
    ]
    assert document["key"]["public_key"] == key.public.text
    heads = {(s["case_id"], s["seq"]) for s in document["streams"]}
    assert heads == {(filled.case.case_id, EVENTS), (filled.other.case_id, 3)}
    # The first checkpoint of the key records every event's hash.
    recorded = {(run["case_id"], run["first_seq"], len(run["hashes"])) for run in document["events"]}
    assert recorded == {(filled.case.case_id, 1, EVENTS), (filled.other.case_id, 1, 3)}

    from_file, given_key = await asyncio.gather(
        filled.run("verify", "--all", "--checkpoint", str(exported), *AUDITOR),
        filled.run("verify", filled.case.case_id, "--latest-checkpoint", "--public-key", key.public.text, *AUDITOR),
    )
    for result in (from_file, given_key):
        assert result.status == 0, result.stdout + result.stderr
        assert "the signature holds" in result.stdout

    case_id = filled.case.case_id
    screening = await event_row(filled.store, case_id, SCREENING_SEQ)
    await rewrite(filled.store, case_id, SCREENING_SEQ, '"urgency":"urgent"', '"urgency":"routine"', rehash_to=EVENTS)
    before = await dump(filled.store)

    chain_only, from_file, latest, again = await asyncio.gather(
        filled.run("verify", "--all", *AUDITOR),
        filled.run("verify", "--all", "--checkpoint", str(exported), *AUDITOR),
        filled.run("verify", case_id, "--latest-checkpoint", *AUDITOR),
        filled.run("checkpoint", *AUDITOR),
    )

    assert chain_only.status == 0, chain_only.stdout  # recomputed hashes: the chain alone cannot see it
    # The checkpoint recorded the screening's hash: the rewrite is named there, not at the head.
    signed = Checkpoint.from_json(exported.read_text())
    named = f"{case_id} seq {SCREENING_SEQ} (event {screening.event_id}): checkpoint: "
    named += altered(SCREENING_SEQ, screening.hash, signed)
    assert failed(from_file, case_id, SCREENING_SEQ, named) and failed(latest, case_id, SCREENING_SEQ, named)
    assert from_file.stderr.startswith(f"error: 1 of 2 case(s) failed verification, first {named}")
    # A checkpoint of a tampered record would vouch for the tampering.
    assert again.status == 1 and again.stderr.startswith("error: no checkpoint signed: 1 of 2 case(s) failed")
    assert await dump(filled.store) == before


async def test_an_untrusted_checkpoint_fails_and_a_trusted_one_finds_a_cut_off_tail(filled: Filled) -> None:
    exported = filled.data_dir / "checkpoint.json"
    assert (await filled.run("checkpoint", *AUDITOR, "--export", str(exported))).status == 0
    document = json.loads(exported.read_text())
    document["streams"][0]["seq"] -= 1
    changed = filled.data_dir / "changed.json"
    changed.write_text(json.dumps(document))
    not_json = filled.data_dir / "not.json"
    not_json.write_text("{")
    other_key = SigningKey.parse(SigningKey.new_key_text())
    verify = ("verify", "--all", *AUDITOR)

    tampered, by_other_key, garbage, bad_key = await asyncio.gather(
        filled.run(*verify, "--checkpoint", str(changed)),
        filled.run(*verify, "--checkpoint", str(exported), "--public-key", other_key.public.text),
        filled.run(*verify, "--checkpoint", str(not_json)),
        filled.run(*verify, "--latest-checkpoint", env={"PATHWAY_CHECKPOINT_KEY": "short"}),
    )

    assert tampered.status == 1
    assert "the signature does not hold: the checkpoint was changed after it was signed" in tampered.stderr
    assert "2 of 2 case(s) verified" in tampered.stdout  # the chains themselves are whole
    signers = f"signed by key {document['key']['fingerprint']}, not by the expected key {other_key.public.fingerprint}"
    assert by_other_key.status == 1 and f"cannot be trusted: it is {signers}" in by_other_key.stderr
    assert refused(garbage, f"{not_json} cannot be used as a checkpoint: not JSON")
    assert refused(bad_key, "the checkpoint key in PATHWAY_CHECKPOINT_KEY cannot be used")

    await tamper(filled.store, "DELETE FROM events WHERE case_id = :c AND seq >= 24", c=filled.case.case_id)

    cut = await filled.run(*verify, "--checkpoint", str(exported), "--json")

    assert cut.status == 1
    [result] = [c for c in cut.json()["cases"] if c["case_id"] == filled.case.case_id]
    signed, *projections = result["findings"]
    assert projections and {(f["check"], f["seq"]) for f in projections} == {("projection", 23)}
    assert (signed["check"], signed["seq"]) == ("checkpoint", 24)
    assert signed["problem"].startswith("events 24 to 25 were deleted")


async def test_a_rewrite_several_checkpoints_back_is_named_from_the_directory_of_every_delivered_one(
    filled: Filled, tmp_path: Path
) -> None:
    """The schedule's activity delivers three checkpoints to a directory while the record moves on;
    the journey's screening, whose hash only the first recorded, is then rewritten and its stream
    rehashed. The directory, every file read, names the screening; the newest file alone recorded
    none of that stream's events, so it can say only "at or before" its head. A file of another key
    in the directory is passed over."""
    # A checkpoint stored by hand first: the schedule holds the record to it, but the directory's
    # first file still records every event, so that the directory alone holds every hash.
    assert (await filled.run("checkpoint", *AUDITOR)).status == 0
    key = SigningKey.parse((filled.data_dir / "checkpoint.key").read_text())
    directory = tmp_path / "delivered"
    activities = CheckpointActivities(
        filled.store, NotificationLog(filled.store.engine), CheckpointsConfig(), None, CheckpointSigner(key, directory)
    )

    async def delivered() -> Checkpoint:
        made = await ActivityEnvironment().run(activities.make_checkpoint, CheckpointInput(created_by="schedule"))
        return Checkpoint.from_json((directory / made.file_name).read_text())

    first = await delivered()
    await filled.other.claim(TaskKind.CONSENT)
    second = await delivered()
    newcomer = StoreCase(filled.store)
    await newcomer.open()
    third = await delivered()
    rotated = Checkpoint.sign(
        [StreamHead(case_id="case-old", seq=1, hash="ab" * 32)],
        SigningKey.parse(SigningKey.new_key_text()),
        "schedule",
        first.body.created_at,
    )
    write_new(directory, rotated)

    case_id = filled.case.case_id
    assert {(run.case_id, run.first_seq, len(run.hashes)) for run in first.body.events} == {
        (case_id, 1, EVENTS),
        (filled.other.case_id, 1, 3),
    }
    assert [(run.case_id, run.first_seq) for run in second.body.events] == [(filled.other.case_id, 4)]
    assert [(run.case_id, run.first_seq) for run in third.body.events] == [(newcomer.case_id, 1)]
    screening = await event_row(filled.store, case_id, SCREENING_SEQ)
    head = await event_row(filled.store, case_id, EVENTS)
    await rewrite(filled.store, case_id, SCREENING_SEQ, '"urgency":"urgent"', '"urgency":"routine"', rehash_to=EVENTS)
    newest = directory / file_name(third)
    verify = ("verify", "--all", *AUDITOR, "--checkpoint")

    every, every_json, newest_only, chain_only = await asyncio.gather(
        filled.run(*verify, str(directory)),
        filled.run(*verify, str(directory), "--json"),
        filled.run(*verify, str(newest)),
        filled.run("verify", "--all", *AUDITOR),
    )

    assert chain_only.status == 0, chain_only.stdout
    named = f"{case_id} seq {SCREENING_SEQ} (event {screening.event_id}): checkpoint: "
    named += altered(SCREENING_SEQ, screening.hash, first)
    assert failed(every, case_id, SCREENING_SEQ, named), every
    assert every.stderr.startswith(f"error: 1 of 3 case(s) failed verification, first {named}")
    assert (
        f"3 delivered checkpoint(s) in {directory}, held to together, oldest first: {file_name(first)} to {newest.name}"
    ) in every.stdout
    passed_over = f"signed by key {rotated.body.key.fingerprint}, not by {key.public.fingerprint}"
    assert f"passed over {file_name(rotated)}: {passed_over}" in every.stdout
    assert failed(
        newest_only,
        case_id,
        EVENTS,
        f"{case_id} seq {EVENTS} (event {head.event_id}): checkpoint: rewritten at or before seq {EVENTS}: ",
    )

    report = every_json.json()
    assert report["ok"] is False
    assert [c["checkpoint_id"] for c in report["checkpoints"]] == [c.body.checkpoint_id for c in (first, second, third)]
    assert [c["file"] for c in report["checkpoints"]] == [str(directory / file_name(c)) for c in (first, second, third)]
    assert report["checkpoint"] == report["checkpoints"][-1] and report["checkpoint"]["file"] == str(newest)
    assert report["passed_over"] == [{"file": str(directory / file_name(rotated)), "why": passed_over}]
    [result] = [c for c in report["cases"] if c["case_id"] == case_id]
    assert result["findings"] == [
        {
            "seq": SCREENING_SEQ,
            "event_id": screening.event_id,
            "access_id": None,
            "check": "checkpoint",
            "problem": altered(SCREENING_SEQ, screening.hash, first),
        }
    ]


async def test_since_checkpoint_checks_only_what_is_new_and_names_what_was_altered(filled: Filled) -> None:
    """The hourly check of tests/security/README.md: an event altered after the latest checkpoint,
    and a head it signed rewritten with every hash after the change recomputed, are both named;
    the case with nothing new is held to its head only."""
    verify = ("verify", "--since-checkpoint", *AUDITOR)
    no_checkpoint, with_all = await asyncio.gather(
        filled.run(*verify), filled.run("verify", "--all", "--since-checkpoint", *AUDITOR)
    )
    no_stored = "there is no stored checkpoint; make one with `pathway audit checkpoint`"
    assert refused(no_checkpoint, no_stored, ExitStatus.NOT_FOUND)
    assert refused(with_all, "--since-checkpoint checks every case against the newest stored checkpoint: give it alone")
    assert (await filled.run("checkpoint", *AUDITOR)).status == 0
    key = SigningKey.parse((filled.data_dir / "checkpoint.key").read_text())
    await filled.other.claim(TaskKind.CONSENT)
    other, claim_seq = filled.other.case_id, 4
    new_events = len(filled.other.envelopes) - 3

    ok, as_json = await asyncio.gather(
        filled.run(*verify), filled.run(*verify, "--json", "--public-key", key.public.text)
    )

    assert ok.status == 0, ok.stdout + ok.stderr
    assert "2 stream(s), key" in ok.stdout and "the signature holds" in ok.stdout
    assert (
        f"since that checkpoint: held 2 stream head(s) and 0 access-log head(s) to it; checked {new_events} new "
        "event(s) and 0 new access row(s) after them"
    ) in ok.stdout
    assert f"{other}  {len(filled.other.envelopes)} events  ok" in ok.stdout and "1 of 1 case(s) verified" in ok.stdout
    assert filled.case.case_id not in ok.stdout
    report = as_json.json()
    assert report["ok"] is True and [case["case_id"] for case in report["cases"]] == [other]
    assert report["since_checkpoint"] == {
        "stream_heads": 2,
        "access_heads": 0,
        "new_events": new_events,
        "new_access_rows": 0,
    }

    claim = await event_row(filled.store, other, claim_seq)
    await tamper(
        filled.store,
        "UPDATE events SET body = REPLACE(body, 'prac-1', 'prac-6') WHERE case_id = :c AND seq = :s",
        c=other,
        s=claim_seq,
    )
    screening = await event_row(filled.store, filled.case.case_id, SCREENING_SEQ)
    await rewrite(
        filled.store, filled.case.case_id, SCREENING_SEQ, '"urgency":"urgent"', '"urgency":"routine"', rehash_to=EVENTS
    )
    before = await dump(filled.store)

    caught = await filled.run(*verify)

    assert caught.status == 1
    assert f"{other} seq {claim_seq} (event {claim.event_id}): chain: {ALTERED}" in caught.stdout
    checkpoint = await Checkpoints(filled.store.engine).latest()
    assert checkpoint is not None
    rewritten = f"{filled.case.case_id} seq {SCREENING_SEQ} (event {screening.event_id}): checkpoint: "
    assert rewritten + altered(SCREENING_SEQ, screening.hash, checkpoint) in caught.stdout
    assert caught.stderr.startswith("error: 2 of 2 case(s) failed verification, first ")
    assert await dump(filled.store) == before
