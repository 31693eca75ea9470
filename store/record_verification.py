"""The whole record verified, as `pathway audit verify` and the scheduled checkpoints do it: each
stream's hash chain and sequence, each case's access log, the projections against a fresh fold of
the events and, given signed checkpoints, every stream and access log held to what they recorded
of it: the heads they signed and the hash of each row they recorded, so that a rewrite is named at
its first altered row, not only at the head after it. Or only what is new since the latest
checkpoint (`verify_since`), held to its heads.

Reads only, through the store's public reads and `Checkpoints`. What it reports is case ids, seqs,
row ids and what is wrong, never personal data. Signing a checkpoint goes through here too
(`sign_verified`): a checkpoint of a tampered record would vouch for the tampering.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from store.chain_check import START, Link
from store.checkpoints import ChainRecord, Checkpoint, Checkpoints, PublicKey, Recorded, SigningKey, StreamHead
from store.event_store import EventStore
from store.verifier import CaseCheck


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a case, at the seq where it shows: of its events, or (the access_ checks)
    of its access log."""

    case_id: str
    seq: int | None
    event_id: str | None
    check: Literal["chain", "projection", "checkpoint", "access_log", "access_checkpoint"]
    problem: str
    access_id: str | None = None

    def line(self) -> str:
        where = " access log" if self.check.startswith("access") else ""
        seq = "" if self.seq is None else f"{where} seq {self.seq}"
        event = "" if self.event_id is None else f" (event {self.event_id})"
        access = "" if self.access_id is None else f" (access {self.access_id})"
        return f"{self.case_id}{seq}{event}{access}: {self.check.replace('_', ' ')}: {self.problem}"


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    events: int
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class HeldTo:
    """A checkpoint the record was held to, as reported: what it signed, and what is wrong with its
    signature (None: it holds). Not the document: a directory's thousands are read one at a time and
    kept only for what they recorded (`Recorded`)."""

    checkpoint_id: str
    created_at: datetime
    created_by: str
    key_fingerprint: str
    streams: int
    access_logs: int
    events_recorded: int  # the hashes of events new since the checkpoint before (formats 1 and 2: none)
    access_rows_recorded: int  # the same, of access rows
    problem: str | None

    @classmethod
    def of(cls, checkpoint: Checkpoint, problem: str | None) -> "HeldTo":
        body = checkpoint.body
        return cls(
            body.checkpoint_id,
            body.created_at,
            body.created_by,
            body.key.fingerprint,
            len(body.streams),
            len(body.access_logs),
            sum(len(run.hashes) for run in body.events),
            sum(len(run.hashes) for run in body.access_rows),
            problem,
        )

    @property
    def signed(self) -> str:
        """The heads it signed, in words: its streams, and its access logs (format 1 signed none)."""
        access_logs = f" and {self.access_logs} access log(s)" if self.access_logs else ""
        return f"{self.streams} stream(s){access_logs}"

    @property
    def recorded(self) -> str:
        """The row hashes it recorded, in words."""
        return (
            f"the hashes of {self.events_recorded} event(s) and {self.access_rows_recorded} access row(s) new since "
            "the checkpoint before"
        )


@dataclass(frozen=True)
class SinceCheckpoint:
    """What `verify_since` held to the checkpoint's heads, and what it checked after them."""

    stream_heads: int
    access_heads: int
    new_events: int  # after the heads, every event of a stream begun since included
    new_access_rows: int

    @property
    def checked(self) -> str:
        """What was held and checked, in words."""
        return (
            f"held {self.stream_heads} stream head(s) and {self.access_heads} access-log head(s) to it; checked "
            f"{self.new_events} new event(s) and {self.new_access_rows} new access row(s) after them"
        )


@dataclass(frozen=True)
class Verification:
    cases: tuple[CaseResult, ...]
    # The checkpoints given, oldest first; only those whose signature holds are evidence.
    held_to: tuple[HeldTo, ...] = ()
    # Only what was new since the checkpoint was checked (`verify_since`); None: every row.
    since: SinceCheckpoint | None = None

    @property
    def checkpoint(self) -> HeldTo | None:
        """The newest checkpoint given."""
        return self.held_to[-1] if self.held_to else None

    @property
    def untrusted(self) -> list[HeldTo]:
        return [held for held in self.held_to if held.problem is not None]

    @property
    def failed(self) -> list[CaseResult]:
        return [result for result in self.cases if result.findings]

    @property
    def ok(self) -> bool:
        return not self.untrusted and not self.failed

    def summary(self) -> str:
        """What failed, in one line: the first checkpoint whose signature does not hold, and the first
        finding."""
        problems = []
        if untrusted := self.untrusted:
            first = untrusted[0]
            more = f" (and {len(untrusted) - 1} more checkpoint(s))" if len(untrusted) > 1 else ""
            problems.append(f"checkpoint {first.checkpoint_id} cannot be trusted: {first.problem}{more}")
        if self.failed:
            first_finding = self.failed[0].findings[0]
            problems.append(
                f"{len(self.failed)} of {len(self.cases)} case(s) failed verification, first {first_finding.line()}"
            )
        return "; ".join(problems)


NO_KEY = "no key was given to check its signature against"


class UnknownCase(LookupError):
    """Asked to verify a case that neither the store nor the checkpoints know."""


class NotVerified(Exception):
    """The record did not verify, so no checkpoint was signed."""

    def __init__(self, verification: Verification) -> None:
        super().__init__(f"no checkpoint signed: {verification.summary()}")
        self.verification = verification


def chains_signed(checkpoint: Checkpoint) -> tuple[str, str]:
    """What a checkpoint signed, in words: the heads, and the row hashes it recorded."""
    held = HeldTo.of(checkpoint, None)
    return held.signed, held.recorded


async def verify_record(
    store: EventStore,
    case_id: str | None,
    checkpoints: Iterable[Checkpoint],
    expected_key: PublicKey | None,
    progress: Callable[[str], None] | None = None,
) -> Verification:
    """Verify one case (None: every case) and hold each stream and access log to what the
    checkpoints given (oldest first, read one at a time) recorded of it: every head they signed and
    every row hash they recorded, together, so the first altered row is named whichever of them
    recorded it. `progress` is told each case id as it is checked (an activity heartbeats with it).
    Without `expected_key` no checkpoint can be trusted: a signature is only as good as its key."""
    held_to, recorded, named = [], Recorded(), set()
    for checkpoint in checkpoints:
        problem = NO_KEY if expected_key is None else checkpoint.signature_problem(expected_key)
        held_to.append(HeldTo.of(checkpoint, problem))
        # What a checkpoint records is evidence only under a signature that holds; otherwise it
        # proves nothing either way.
        if problem is None:
            recorded.add(checkpoint)
        if case_id is not None:
            named |= {head.case_id for head in (*checkpoint.body.streams, *checkpoint.body.access_logs)}
    known = set(await store.recorded_case_ids()) | recorded.streams.keys() | recorded.access_logs.keys()
    if case_id is not None and case_id not in known | named:
        raise UnknownCase(f"there is no case {case_id}")
    case_ids = sorted(known) if case_id is None else [case_id]
    results = []
    async for checked in store.check_cases(case_ids):
        case = checked.chain.case_id
        results.append(await _case_result(store, checked, recorded.streams.get(case), recorded.access_logs.get(case)))
        if progress is not None:
            progress(case)
    return Verification(tuple(results), tuple(held_to))


async def verify_since(
    store: EventStore,
    checkpoint: Checkpoint,
    expected_key: PublicKey | None,
    progress: Callable[[str], None] | None = None,
) -> Verification:
    """Verify only what is new since `checkpoint`: every stream and access log must still hold the
    head it signed (the row at that seq has that hash), and every row after the heads is checked as
    `verify_record` checks it (hash from the body, link, seq, columns against the body; an access
    log's rows linked on from its head's hash); a chain begun since is checked whole. A stream with
    new events, or whose head does not hold, is read and checked whole, for its projections to be
    held to a fold of it. So it costs what was added since, and one index seek per chain.

    Not checked: the rows before the heads (the signed heads, and a periodic `verify_record` of
    every row, cover them), nor the projections of a case with no new events. A head that does not
    hold is named at the first row whose hash differs from what the checkpoint recorded. Without
    `expected_key`, or under a signature that does not hold, the checkpoint is no evidence: its
    heads only say where to start, and the verification fails."""
    problem = NO_KEY if expected_key is None else checkpoint.signature_problem(expected_key)
    body = checkpoint.body
    events, access = await store.since_heads(_links(body.streams), _links(body.access_logs))
    unlike_streams, unlike_logs = set(events.unlike), set(access.unlike)
    # Heads under a signature that does not hold prove nothing either way.
    trusted = [checkpoint] if problem is None else []
    recorded = Recorded.of(trusted, streams_of=unlike_streams, access_logs_of=unlike_logs)
    streams_unlike = unlike_streams & recorded.streams.keys()
    logs_unlike = unlike_logs & recorded.access_logs.keys()
    whole = events.after.keys() | streams_unlike
    access_after = access.after | dict.fromkeys(logs_unlike, START)
    results, new_events, new_access_rows = [], 0, 0
    async for checked in store.check_since(sorted(whole | access_after.keys()), whole, access_after):
        case = checked.chain.case_id
        stream = recorded.streams[case] if case in streams_unlike else None
        access_log = recorded.access_logs[case] if case in logs_unlike else None
        results.append(await _case_result(store, checked, stream, access_log))
        if case in events.after:
            new_events += max(checked.chain.events - events.after[case].seq, 0)
        if case in access.after:
            new_access_rows += checked.access_log.rows
        if progress is not None:
            progress(case)
    since = SinceCheckpoint(len(body.streams), len(body.access_logs), new_events, new_access_rows)
    return Verification(tuple(results), (HeldTo.of(checkpoint, problem),), since)


def _links(heads: Iterable[StreamHead]) -> dict[str, Link]:
    return {head.case_id: Link(head.seq, head.hash) for head in heads}


async def sign_verified(
    store: EventStore,
    key: SigningKey,
    created_by: str,
    created_at: datetime,
    previous: Checkpoint | None,
    since: Checkpoint | None,
    progress: Callable[[str], None] | None = None,
) -> Checkpoint:
    """A checkpoint of every stream's and access log's head and of the hashes of the rows new since
    `since` (every row when None), signed only once the whole record verifies, held to `previous`
    (the newest checkpoint of the same key, if any). Raises NotVerified otherwise. The caller
    delivers and stores it."""
    # The heads and hashes are read before the verification, so every row they sign is verified below.
    to_sign = await Checkpoints(store.engine).to_sign(since)
    verification = await verify_record(store, None, () if previous is None else (previous,), key.public, progress)
    if not verification.ok:
        raise NotVerified(verification)
    return to_sign.sign(key, created_by, created_at)


async def _case_result(
    store: EventStore, checked: CaseCheck, stream: ChainRecord | None, access_log: ChainRecord | None
) -> CaseResult:
    """The chain first, then what the checkpoints recorded of it, then the access log and what they
    recorded of it, then the projections: from the record itself to what is derived from it, so the
    first finding is the most telling one. (The store folds only a whole chain: a fold of tampered
    events would prove nothing about the projections.)"""
    chain, access = checked.chain, checked.access_log
    checkpoints = Checkpoints(store.engine)
    findings = []
    if not chain.ok:
        findings.append(
            Finding(chain.case_id, chain.first_bad_seq, chain.first_bad_event_id, "chain", str(chain.problem))
        )
    if stream is not None:
        found = await checkpoints.stream_problem(chain.case_id, stream)
        if found is not None:
            findings.append(Finding(chain.case_id, found.seq, found.row_id, "checkpoint", found.problem))
    if not access.ok:
        findings.append(
            Finding(
                chain.case_id, access.first_bad_seq, None, "access_log", str(access.problem), access.first_bad_access_id
            )
        )
    if access_log is not None:
        found = await checkpoints.access_log_problem(chain.case_id, access_log)
        if found is not None:
            findings.append(Finding(chain.case_id, found.seq, None, "access_checkpoint", found.problem, found.row_id))
    for difference in checked.projection_differences:
        findings.append(Finding(chain.case_id, chain.events or None, None, "projection", difference))
    return CaseResult(chain.case_id, chain.events, tuple(findings))
