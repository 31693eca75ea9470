"""`pathway audit verify` and `pathway audit checkpoint`: prove that the record was not altered.

`verify` recomputes each stream's hash chain and sequence, and each case's access log's (a deleted,
altered, inserted or reordered access row), compares the projections with a fresh fold of the
events and, given signed checkpoints, checks that every stream and access log still holds the heads
they signed and the row hashes they recorded, which catches what the chain alone cannot: a chain cut
short at its end, or rewritten with every hash after the change recomputed, named at the first row
it altered when a checkpoint given recorded that row's hash. The checkpoint is one stored in the
database, or copies kept outside it (store/delivered_checkpoints.py): a file, a delivered email, or
a directory of delivered files, all of which are read (each recorded the rows new since the one
before it).
`verify --since-checkpoint` is the frequent check of a large store: only what is new since the
newest stored checkpoint, held to its heads (store/record_verification.py `verify_since`); the rows
before the heads are left to the checkpoint's heads and a periodic `--all`.
It changes nothing: the store is opened read-only (the database itself refuses writes) and never
migrated, and no access is logged.

Both commands are the auditors' (`Action.VERIFY_RECORDS`). They cover every stream whatever its site:
integrity is a property of the whole store (a checkpoint signs every stream), and what they print is
case ids, seqs, event ids and what is wrong, never personal data.
"""

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import make_url

from cli.case_cli import JsonFlag, StaffOption
from cli.exits import ExitStatus, end, fail, usage_error
from cli.progress import progress
from cli.runtime import open_store, principal_for, print_json, run, settings_from
from domain.access import Action, require_allowed
from domain.errors import Rule
from domain.text_rules import terminal_safe
from store.checkpoints import Checkpoint, CheckpointError, Checkpoints, PublicKey
from store.delivered_checkpoints import Delivered, read_delivered
from store.event_store import EventStore
from store.record_verification import (
    NotVerified,
    UnknownCase,
    Verification,
    chains_signed,
    sign_verified,
    verify_record,
    verify_since,
)
from workers.client import connect_store
from workers.settings import ConfigError, Settings


def verify(
    ctx: typer.Context,
    staff: StaffOption,
    case_id: Annotated[str | None, typer.Argument(help="One case; or use --all.")] = None,
    all_cases: Annotated[bool, typer.Option("--all", help="Every case in the store.")] = False,
    checkpoint_file: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help=(
                "Also hold the streams to this signed checkpoint: a checkpoint file (as the checkpoint schedule "
                "delivers it, or as `pathway audit checkpoint --export` writes it), a delivered email saved as an "
                ".eml file (its .json attachment is read), or a directory of delivered files, every one of which "
                "is read, oldest first (files signed by another key are passed over). Each checkpoint records the "
                "hash of every event new since the one before it, so the whole directory names a rewritten "
                "stream's first altered event however far back; one file names it only if that file recorded it, "
                "and otherwise says the change is at or before the head it signed."
            ),
        ),
    ] = None,
    latest_checkpoint: Annotated[
        bool,
        typer.Option(
            "--latest-checkpoint",
            help="Also hold the streams to the newest stored checkpoint (it names an altered event it recorded).",
        ),
    ] = False,
    since_checkpoint: Annotated[
        bool,
        typer.Option(
            "--since-checkpoint",
            help=(
                "Instead of --all: only what is new since the newest stored checkpoint, so that a frequent check of "
                "a large store costs what was added since. Checks the checkpoint's signature; that every stream "
                "and access log still holds the head it signed (the row at that seq has that hash); every event "
                "and access row after those heads (hash, link from the head's hash, seq, columns against the "
                "body; a stream or log begun since, whole); and the projections of each case with new events "
                "against a fresh fold (its stream is read whole for that). Does NOT check the rows before the "
                "heads (the signed heads and a periodic --all cover them), nor the projections of cases with no "
                "new events: run --all as well, less often."
            ),
        ),
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
    check the streams against a signed checkpoint; or, with --since-checkpoint, only what is new
    since the newest stored one. Exits 1 naming the case, seq and problem of each failure; changes
    nothing."""
    if since_checkpoint:
        if case_id is not None or all_cases or checkpoint_file is not None or latest_checkpoint:
            usage_error("--since-checkpoint checks every case against the newest stored checkpoint: give it alone")
    elif (case_id is None) == (not all_cases):
        usage_error("give one case id or --all")
    if checkpoint_file is not None and latest_checkpoint:
        usage_error("give --checkpoint FILE or --latest-checkpoint, not both")
    with_checkpoint = checkpoint_file is not None or latest_checkpoint or since_checkpoint
    if public_key is not None and not with_checkpoint:
        usage_error("--public-key checks a checkpoint: give --checkpoint FILE or --latest-checkpoint too")
    settings = settings_from(ctx)

    async def command() -> None:
        require_allowed(principal_for(settings, staff).actor, Action.VERIFY_RECORDS)
        delivered, expected_key = None, None
        if checkpoint_file is not None:
            # The key first: a directory's files signed by another key are passed over.
            expected_key = _expected_key(settings, public_key)
            delivered = _read_checkpoint(checkpoint_file, expected_key)
        async with _open_store_as_it_is(settings) as store:
            checkpoints: Iterable[Checkpoint] = ()
            if delivered is not None and checkpoint_file is not None:
                checkpoints = _checkpoints_of(delivered, checkpoint_file)
            if latest_checkpoint or since_checkpoint:
                stored = await _stored_checkpoint(store)
                if stored is None:
                    end(ExitStatus.NOT_FOUND, "there is no stored checkpoint; make one with `pathway audit checkpoint`")
                checkpoints, expected_key = (stored,), _expected_key(settings, public_key)
            try:
                with progress("cases verified") as shown:
                    if since_checkpoint:
                        [newest] = checkpoints
                        verification = await verify_since(store, newest, expected_key, shown.tick)
                    else:
                        verification = await verify_record(store, case_id, checkpoints, expected_key, shown.tick)
            except UnknownCase as unknown:
                end(ExitStatus.NOT_FOUND, str(unknown), Rule.CASE_UNKNOWN)
        _report(verification, as_json, delivered)
        if not verification.ok:
            if as_json:  # the report says what failed; a second JSON document would spoil the first
                raise typer.Exit(ExitStatus.FAILED)
            fail(verification.summary())

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
            # Held to the newest stored checkpoint of the key, and recording the rows new since it.
            previous = await _stored_checkpoint(store, key.public.fingerprint)
            try:
                with progress("cases verified") as shown:
                    now = datetime.now(UTC)
                    signed = await sign_verified(store, key, principal.staff_id, now, previous, previous, shown.tick)
            except NotVerified as refused:
                _report(refused.verification, as_json=False)
                fail(str(refused))
            if export is not None:
                _write_export(export, signed)
            await Checkpoints(store.engine).save(signed)
        exported = "" if export is None else f"; exported to {export}"
        heads, recorded = chains_signed(signed)
        typer.echo(
            f"checkpoint {signed.body.checkpoint_id}: {heads}, signed by key {signed.body.key.fingerprint}{exported}"
        )
        typer.echo(f"recorded {recorded} (every one, for the first of its key)")
        typer.echo(f"public key: {signed.body.key.public_key}")

    run(command)


@asynccontextmanager
async def _open_store_as_it_is(settings: Settings) -> AsyncIterator[EventStore]:
    """The store read-only and never migrated: verification must change nothing, not even the schema."""
    url = make_url(settings.store_url)
    if url.get_backend_name() == "sqlite" and not await asyncio.to_thread(Path(url.database or "").is_file):
        end(ExitStatus.NOT_FOUND, f"there is no event store at {url.database}")
    store = connect_store(settings, read_only=True)
    try:
        if not await store.is_migrated():
            fail(
                f"the event store at {url.render_as_string()} is not migrated to this version of Pathway; "
                "start the worker or the API (or run any other pathway command) to migrate it first"
            )
        yield store
    finally:
        await store.close()


def _read_checkpoint(path: Path, key: PublicKey) -> Delivered:
    with _refusing_unusable(path):
        return read_delivered(path, key)


def _checkpoints_of(delivered: Delivered, given: Path) -> Iterator[Checkpoint]:
    """Each delivered checkpoint, read as the verification asks for it (a directory's files one at a
    time); a file that turns out unusable refuses the whole verification, as a single one would."""
    with _refusing_unusable(given):
        for file in delivered.read():
            yield file.checkpoint


@contextmanager
def _refusing_unusable(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        usage_error(f"cannot read the checkpoint {path}: {error.strerror}")
    except CheckpointError as error:
        usage_error(f"{path} cannot be used as a checkpoint: {error}")


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
            usage_error(f"the checkpoint cannot be checked: {error}; or give --public-key")
    try:
        return PublicKey.parse(public_key)
    except CheckpointError as error:
        usage_error(f"--public-key cannot be used: {error}")


def _write_export(path: Path, signed: Checkpoint) -> None:
    try:
        path.write_text(signed.to_json())
    except OSError as error:
        fail(f"cannot write the checkpoint to {path}: {error.strerror}; no checkpoint was stored")


def _report(verification: Verification, as_json: bool, delivered: Delivered | None = None) -> None:
    if as_json:
        print_json(_as_json(verification, delivered))
        return
    if delivered is not None and delivered.given_as == "directory":
        used = _used_files(delivered)
        typer.echo(
            f"{len(used)} delivered checkpoint(s) in {delivered.paths[0].parent}, held to together, oldest first: "
            f"{used[0].name} to {used[-1].name}"
        )
        for path, why in delivered.passed_over:
            typer.echo(terminal_safe(f"passed over {path.name}: {why}"))
    if delivered is not None and delivered.given_as == "email":
        typer.echo(f"the checkpoint attached to {delivered.paths[0]}")
    # Every untrusted checkpoint is named, then the newest (whose line says what was checked).
    newest = verification.checkpoint
    for held in verification.held_to:
        if held is newest or held.problem is not None:
            # Its creator is the document's word: escaped like what comes from the database.
            line = (
                f"checkpoint {held.checkpoint_id} of {held.created_at:%Y-%m-%d %H:%M:%S}Z by {held.created_by}, "
                f"{held.signed}, key {held.key_fingerprint}: {held.problem or 'the signature holds'}"
            )
            typer.echo(terminal_safe(line))
    if verification.since is not None:
        typer.echo(f"since that checkpoint: {verification.since.checked}")
    # Ids and problems come from the database under test: whoever altered it must not be able to
    # hide a finding behind a terminal escape sequence.
    for result in verification.cases:
        typer.echo(terminal_safe(f"{result.case_id}  {result.events} events  {'FAILED' if result.findings else 'ok'}"))
        for finding in result.findings:
            typer.echo(f"  {terminal_safe(finding.line())}")
    verified = len(verification.cases) - len(verification.failed)
    typer.echo(f"{verified} of {len(verification.cases)} case(s) verified")


def _used_files(delivered: Delivered) -> list[Path]:
    """The files whose checkpoints were held to, oldest first: those not passed over."""
    passed_over = {path for path, _ in delivered.passed_over}
    return [path for path in delivered.paths if path not in passed_over]


def _as_json(verification: Verification, delivered: Delivered | None) -> dict[str, Any]:
    files: list[Path | None] = [None] * len(verification.held_to)
    if delivered is not None:
        files = list(_used_files(delivered))
    held_to = [
        {
            "checkpoint_id": held.checkpoint_id,
            "created_at": held.created_at.isoformat(),
            "created_by": held.created_by,
            "key_fingerprint": held.key_fingerprint,
            "streams": held.streams,
            "access_logs": held.access_logs,
            "events_recorded": held.events_recorded,
            "access_rows_recorded": held.access_rows_recorded,
            "problem": held.problem,
            # The file it was read from (a delivered email's .eml, or a directory's file).
            "file": None if file is None else str(file),
        }
        for held, file in zip(verification.held_to, files, strict=True)
    ]
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
    passed_over = [] if delivered is None else [{"file": str(path), "why": why} for path, why in delivered.passed_over]
    report = {
        "ok": verification.ok,
        # The newest checkpoint, as before directories were read whole; every one is in "checkpoints".
        "checkpoint": held_to[-1] if held_to else None,
        "cases": cases,
        "checkpoints": held_to,
        "passed_over": passed_over,
    }
    if verification.since is not None:
        report["since_checkpoint"] = dataclasses.asdict(verification.since)
    return report
