"""`pathway audit verify` and `pathway audit checkpoint`: prove that the record was not altered.

`verify` recomputes each stream's hash chain and sequence, and each case's access log's (a deleted,
altered, inserted or reordered access row), compares the projections with a fresh fold of the
events and, given a signed checkpoint, checks that every stream and access log still holds the head
the checkpoint signed, which catches what the chain alone cannot: a chain cut short at its end, or
rewritten with every hash after the change recomputed. It changes nothing: the store is opened
read-only (the database itself refuses writes) and never migrated, and no access is logged.

Both commands are the auditors' (`Action.VERIFY_RECORDS`). They cover every stream whatever its site:
integrity is a property of the whole store (a checkpoint signs every stream), and what they print is
case ids, seqs, event ids and what is wrong, never personal data.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from sqlalchemy import make_url

from cli.case_cli import JsonFlag, StaffOption
from cli.runtime import fail, open_store, principal_for, print_json, refuse, run, settings_from
from domain.access import Action, require_allowed
from domain.text_rules import terminal_safe
from store.checkpoints import Checkpoint, CheckpointError, Checkpoints, PublicKey, StreamHead
from store.event_store import CaseCheck, EventStore
from workers.client import connect_store
from workers.settings import ConfigError, Settings


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
class Verification:
    cases: tuple[CaseResult, ...]
    checkpoint: Checkpoint | None
    checkpoint_problem: str | None

    @property
    def failed(self) -> list[CaseResult]:
        return [result for result in self.cases if result.findings]

    @property
    def ok(self) -> bool:
        return self.checkpoint_problem is None and not self.failed


def verify(
    ctx: typer.Context,
    staff: StaffOption,
    case_id: Annotated[str | None, typer.Argument(help="One case; or use --all.")] = None,
    all_cases: Annotated[bool, typer.Option("--all", help="Every case in the store.")] = False,
    checkpoint_file: Annotated[
        Path | None, typer.Option("--checkpoint", help="Also hold the streams to this exported checkpoint.")
    ] = None,
    latest_checkpoint: Annotated[
        bool, typer.Option("--latest-checkpoint", help="Also hold the streams to the newest stored checkpoint.")
    ] = False,
    public_key: Annotated[
        str | None,
        typer.Option(
            help="The base64 public key that must have signed the checkpoint (default: the configured one's)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Recompute hash chains and sequences, compare projections with a fresh fold of the events, and
    check the streams against a signed checkpoint. Exits 1 naming the case, seq and problem of each
    failure; changes nothing."""
    if (case_id is None) == (not all_cases):
        refuse("give one case id or --all")
    if checkpoint_file is not None and latest_checkpoint:
        refuse("give --checkpoint FILE or --latest-checkpoint, not both")
    with_checkpoint = checkpoint_file is not None or latest_checkpoint
    if public_key is not None and not with_checkpoint:
        refuse("--public-key checks a checkpoint: give --checkpoint FILE or --latest-checkpoint too")
    settings = settings_from(ctx)

    async def command() -> None:
        require_allowed(principal_for(settings, staff).actor, Action.VERIFY_RECORDS)
        exported = None if checkpoint_file is None else _read_checkpoint(checkpoint_file)
        async with _open_store_as_it_is(settings) as store:
            checkpoint = await _stored_checkpoint(store) if latest_checkpoint else exported
            if latest_checkpoint and checkpoint is None:
                refuse("there is no stored checkpoint; make one with `pathway audit checkpoint`")
            expected_key = None if checkpoint is None else _expected_key(settings, public_key)
            verification = await _verify(store, case_id, checkpoint, expected_key)
        _report(verification, as_json)
        if not verification.ok:
            fail(_failure_summary(verification))

    run(command)


def checkpoint(
    ctx: typer.Context,
    staff: StaffOption,
    export: Annotated[
        Path | None, typer.Option(help="Also write the signed checkpoint here, as JSON to keep outside the database.")
    ] = None,
) -> None:
    """Sign and store a checkpoint of every stream's head, so that a later `verify --checkpoint FILE`
    or `--latest-checkpoint` proves nothing up to those heads changed.

    Auditors only, with the permission verify needs (`Action.VERIFY_RECORDS`): a checkpoint is the
    evidence verification rests on, and it changes no case. Admins may not: they run the database
    and its configuration, and the evidence that the record was not silently changed should not be
    taken by whoever could change it. The record must verify first (chains, projections, and the
    newest checkpoint of the same key): a checkpoint of a tampered record would vouch for the tampering."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        require_allowed(principal.actor, Action.VERIFY_RECORDS)
        key = settings.checkpoint_signing_key
        async with open_store(settings) as store:
            checkpoints = Checkpoints(store.engine)
            # The heads are read before the verification, so every row they sign is verified below.
            heads = await checkpoints.heads()
            access_heads = await checkpoints.access_heads()
            previous = await _stored_checkpoint(store, key.public.fingerprint)
            verification = await _verify(store, None, previous, key.public)
            if not verification.ok:
                _report(verification, as_json=False)
                fail(f"no checkpoint signed: {_failure_summary(verification)}")
            signed = Checkpoint.sign(heads, key, principal.staff_id, datetime.now(UTC), access_heads)
            if export is not None:
                _write_export(export, signed)
            await checkpoints.save(signed)
        exported = "" if export is None else f"; exported to {export}"
        typer.echo(
            f"checkpoint {signed.body.checkpoint_id}: {_chains(signed)}, signed by key "
            f"{signed.body.key.fingerprint}{exported}"
        )
        typer.echo(f"public key: {signed.body.key.public_key}")

    run(command)


async def _verify(
    store: EventStore, case_id: str | None, checkpoint: Checkpoint | None, expected_key: PublicKey | None
) -> Verification:
    """Verify one case (None: every case) and, with a checkpoint, hold each stream to its head."""
    checkpoint_problem = None
    if checkpoint is not None and expected_key is not None:
        checkpoint_problem = checkpoint.signature_problem(expected_key)
    # Heads are evidence only under a signature that holds; otherwise they prove nothing either way.
    signed = None if checkpoint is None or checkpoint_problem else checkpoint.body
    heads = {} if signed is None else {h.case_id: h for h in signed.streams}
    access_heads = {} if signed is None else {h.case_id: h for h in signed.access_logs}
    known = set(await store.recorded_case_ids()) | heads.keys() | access_heads.keys()
    in_checkpoint = set()
    if checkpoint is not None:
        in_checkpoint = {head.case_id for head in (*checkpoint.body.streams, *checkpoint.body.access_logs)}
    if case_id is not None and case_id not in known | in_checkpoint:
        refuse(f"there is no case {case_id}")
    case_ids = sorted(known) if case_id is None else [case_id]
    results = tuple(
        [
            await _case_result(
                store, checked, heads.get(checked.chain.case_id), access_heads.get(checked.chain.case_id)
            )
            async for checked in store.check_cases(case_ids)
        ]
    )
    return Verification(results, checkpoint, checkpoint_problem)


async def _case_result(
    store: EventStore, checked: CaseCheck, head: StreamHead | None, access_head: StreamHead | None
) -> CaseResult:
    """The chain first, then the checkpoint's head, then the access log and its head, then the
    projections: from the record itself to what is derived from it, so the first finding is the most
    telling one. (The store folds only a whole chain: a fold of tampered events would prove nothing
    about the projections.)"""
    chain, access = checked.chain, checked.access_log
    checkpoints = Checkpoints(store.engine)
    findings = []
    if not chain.ok:
        findings.append(
            Finding(chain.case_id, chain.first_bad_seq, chain.first_bad_event_id, "chain", str(chain.problem))
        )
    if head is not None:
        found = await checkpoints.head_problem(head)
        if found is not None:
            findings.append(Finding(chain.case_id, found.seq, found.row_id, "checkpoint", found.problem))
    if not access.ok:
        findings.append(
            Finding(
                chain.case_id, access.first_bad_seq, None, "access_log", str(access.problem), access.first_bad_access_id
            )
        )
    if access_head is not None:
        found = await checkpoints.access_head_problem(access_head)
        if found is not None:
            findings.append(Finding(chain.case_id, found.seq, None, "access_checkpoint", found.problem, found.row_id))
    for difference in checked.projection_differences:
        findings.append(Finding(chain.case_id, chain.events or None, None, "projection", difference))
    return CaseResult(chain.case_id, chain.events, tuple(findings))


@asynccontextmanager
async def _open_store_as_it_is(settings: Settings) -> AsyncIterator[EventStore]:
    """The store read-only and never migrated: verification must change nothing, not even the schema."""
    url = make_url(settings.store_url)
    if url.get_backend_name() == "sqlite" and not await asyncio.to_thread(Path(url.database or "").is_file):
        refuse(f"there is no event store at {url.database}")
    store = connect_store(settings, read_only=True)
    try:
        if not await store.is_migrated():
            refuse(
                f"the event store at {url.render_as_string()} is not migrated to this version of Pathway; "
                "start the worker or the API (or run any other pathway command) to migrate it first"
            )
        yield store
    finally:
        await store.close()


def _read_checkpoint(path: Path) -> Checkpoint:
    try:
        text = path.read_text()
    except OSError as error:
        refuse(f"cannot read the checkpoint {path}: {error.strerror}")
    try:
        return Checkpoint.from_json(text)
    except CheckpointError as error:
        refuse(f"{path} cannot be used as a checkpoint: {error}")


async def _stored_checkpoint(store: EventStore, key_fingerprint: str | None = None) -> Checkpoint | None:
    """The newest stored checkpoint (of that key, if given)."""
    try:
        return await Checkpoints(store.engine).latest(key_fingerprint)
    except CheckpointError as error:  # the stored document itself was changed
        fail(f"the newest stored checkpoint cannot be read: {error}")


def _expected_key(settings: Settings, public_key: str | None) -> PublicKey:
    if public_key is None:
        try:
            return settings.checkpoint_public_key
        except ConfigError as error:
            refuse(f"the checkpoint cannot be checked: {error}; or give --public-key")
    try:
        return PublicKey.parse(public_key)
    except CheckpointError as error:
        refuse(f"--public-key cannot be used: {error}")


def _write_export(path: Path, signed: Checkpoint) -> None:
    try:
        path.write_text(signed.to_json())
    except OSError as error:
        fail(f"cannot write the checkpoint to {path}: {error.strerror}; no checkpoint was stored")


def _report(verification: Verification, as_json: bool) -> None:
    if as_json:
        print_json(_as_json(verification))
        return
    if verification.checkpoint is not None:
        body = verification.checkpoint.body
        verdict = verification.checkpoint_problem or "the signature holds"
        typer.echo(
            f"checkpoint {body.checkpoint_id} of {body.created_at:%Y-%m-%d %H:%M:%S}Z by {body.created_by}, "
            f"{_chains(verification.checkpoint)}, key {body.key.fingerprint}: {verdict}"
        )
    # Ids and problems come from the database under test: whoever altered it must not be able to
    # hide a finding behind a terminal escape sequence.
    for result in verification.cases:
        typer.echo(terminal_safe(f"{result.case_id}  {result.events} events  {'FAILED' if result.findings else 'ok'}"))
        for finding in result.findings:
            typer.echo(f"  {terminal_safe(finding.line())}")
    verified = len(verification.cases) - len(verification.failed)
    typer.echo(f"{verified} of {len(verification.cases)} case(s) verified")


def _chains(checkpoint: Checkpoint) -> str:
    """What a checkpoint signed: its streams, and its access logs (format 1 signed none)."""
    access_logs = len(checkpoint.body.access_logs)
    return f"{len(checkpoint.body.streams)} stream(s)" + (f" and {access_logs} access log(s)" if access_logs else "")


def _failure_summary(verification: Verification) -> str:
    problems = []
    if verification.checkpoint is not None and verification.checkpoint_problem is not None:
        problems.append(
            f"checkpoint {verification.checkpoint.body.checkpoint_id} cannot be trusted: "
            f"{verification.checkpoint_problem}"
        )
    if verification.failed:
        first = verification.failed[0].findings[0]
        problems.append(
            f"{len(verification.failed)} of {len(verification.cases)} case(s) failed verification, first {first.line()}"
        )
    return "; ".join(problems)


def _as_json(verification: Verification) -> dict[str, Any]:
    checkpoint = None
    if verification.checkpoint is not None:
        body = verification.checkpoint.body
        checkpoint = {
            "checkpoint_id": body.checkpoint_id,
            "created_at": body.created_at.isoformat(),
            "created_by": body.created_by,
            "key_fingerprint": body.key.fingerprint,
            "streams": len(body.streams),
            "access_logs": len(body.access_logs),
            "problem": verification.checkpoint_problem,
        }
    cases = [
        {
            "case_id": result.case_id,
            "events": result.events,
            "ok": not result.findings,
            "findings": [
                {"seq": f.seq, "event_id": f.event_id, "access_id": f.access_id, "check": f.check, "problem": f.problem}
                for f in result.findings
            ],
        }
        for result in verification.cases
    ]
    return {"ok": verification.ok, "checkpoint": checkpoint, "cases": cases}
