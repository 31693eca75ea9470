"""Scheduled checkpoints (CheckpointWorkflow): sign the head of every stream and access log once the
whole record verifies, and deliver the signed document outside the database, where its writers
cannot rewrite it: a file in the checkpoint directory and an email to the auditors' address.

A checkpoint is held to the newest delivered file of the same key before it is signed, not only to
the newest one stored in the database: whoever can write to the database can delete stored
checkpoints, so the next one would sign their rewrite. It records the hash of every row new since
that same file, so that the directory's files together hold every row's hash (the first file in a
directory records them all). What leaves here (the file, the email, the activity results) is case
ids, seqs, hashes and counts, never personal data.
"""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.mailer import Attachment, SmtpMailer
from activities.outbox import NotificationResult, Outgoing, send_once
from domain.config import CheckpointsConfig
from store.checkpoints import Checkpoint, CheckpointError, Checkpoints, SigningKey
from store.delivered_checkpoints import MEDIA_TYPE, file_name, newest_signed_by, write_new
from store.event_store import EventStore
from store.notifications import NotificationLog
from store.record_verification import NotVerified, sign_verified
from workflows.messages import CheckpointInput, CheckpointMade

KIND = "checkpoint"
# The notifications table needs a case id, and a checkpoint is of every case, not of one. A fixed
# pseudo id keeps the checkpoint mail findable there without a migration to make the column
# nullable; no case has it (case ids are `case-<uuid>`).
CHECKPOINTS_CASE_ID = "checkpoints"


@dataclass(frozen=True)
class CheckpointSigner:
    """What a worker needs to make checkpoints: the key that signs them (the one `pathway audit
    checkpoint` uses) and the directory they are delivered to (`[checkpoints] directory`, resolved)."""

    key: SigningKey
    directory: Path


def checkpoint_message(made: CheckpointMade) -> tuple[str, str]:
    """The subject and body of the email that carries a checkpoint: ids and counts only."""
    subject = f"Pathway checkpoint {made.created_at:%Y-%m-%d %H:%M} UTC: {made.streams} case stream(s)"
    body = (
        f"A signed checkpoint of the Pathway event store is attached ({made.file_name}).\n\n"
        f"Checkpoint {made.checkpoint_id}, made {made.created_at:%Y-%m-%d %H:%M:%S} UTC and signed by key "
        f"{made.key_fingerprint}, holds the last event of {made.streams} case stream(s) and the last access "
        f"record of {made.access_logs} access log(s), and the hash of every event and access record new since "
        "the checkpoint before: case ids, sequence numbers and hashes only.\n\n"
        "Keep this message as it is: it is evidence, kept outside the database, of the record as it stood. "
        "To check that nothing up to these heads has changed since, save the message (or its attachment) "
        "and run:\n\n"
        "    pathway audit verify --all --checkpoint FILE --as YOUR-STAFF-ID\n\n"
        "To have a rewrite named at the first event it altered, however many checkpoints back, save every "
        "checkpoint's attachment, under its own name, in one directory and give that directory as FILE.\n"
    )
    return subject, body


class CheckpointActivities:
    def __init__(
        self,
        store: EventStore,
        log: NotificationLog,
        config: CheckpointsConfig,
        mailer: SmtpMailer | None,
        signer: CheckpointSigner | None,
    ) -> None:
        self._store = store
        self._log = log
        self._config = config
        self._mailer = mailer
        self._signer = signer

    @activity.defn(name="make_checkpoint")
    async def make_checkpoint(self, input: CheckpointInput) -> CheckpointMade:
        """Verify the record, sign every head, write the file, then store the checkpoint. A retry
        after the file was written makes a second checkpoint, which is as good as the first."""
        signer = self._signer_or_refuse()
        delivered = await self._newest_delivered(signer)
        # Held to the newest delivered file, else to the newest stored checkpoint; but what is new is
        # counted from the newest delivered file only, so that the directory alone holds every hash.
        previous = delivered or await self._newest_stored(signer)
        try:
            signed = await sign_verified(
                self._store, signer.key, input.created_by, datetime.now(UTC), previous, delivered, activity.heartbeat
            )
        except NotVerified as refused:
            # Retrying would sign nothing either: the record stays as it is until someone looks.
            raise ApplicationError(str(refused), type="RecordNotVerified", non_retryable=True) from None
        path = await asyncio.to_thread(write_new, signer.directory, signed)
        await Checkpoints(self._store.engine).save(signed)
        body = signed.body
        activity.logger.info(
            "checkpoint signed and delivered to the directory",
            extra={"checkpoint_id": body.checkpoint_id, "file": path.name, "streams": len(body.streams)},
        )
        return CheckpointMade(
            checkpoint_id=body.checkpoint_id,
            created_at=body.created_at,
            file_name=file_name(signed),
            streams=len(body.streams),
            access_logs=len(body.access_logs),
            key_fingerprint=body.key.fingerprint,
        )

    @activity.defn(name="email_checkpoint")
    async def email_checkpoint(self, made: CheckpointMade) -> NotificationResult:
        """Email the delivered file, byte for byte, to the auditors' address, recorded in the
        notifications table under the checkpoint's id (so a retry sends it once)."""
        address = self._config.email
        if address is None:  # configured not to: nothing to record
            return NotificationResult(status="not_sent", recipients=[])
        content = await asyncio.to_thread((self._signer_or_refuse().directory / made.file_name).read_bytes)
        subject, body = checkpoint_message(made)
        message = Outgoing(
            message_id=made.checkpoint_id,
            case_id=CHECKPOINTS_CASE_ID,
            task_id=None,
            kind=KIND,
            recipients=[address],
            subject=subject,
            body=body,
            no_recipients="no auditors' address is configured",
            attachments=(Attachment(made.file_name, content, MEDIA_TYPE),),
        )
        result = await send_once(self._log, self._mailer, message)
        if result.status == "sent":
            activity.logger.info("checkpoint emailed to the auditors", extra={"checkpoint_id": made.checkpoint_id})
        return result

    def _signer_or_refuse(self) -> CheckpointSigner:
        if self._signer is None:
            raise ApplicationError(
                "this worker has no checkpoint key and directory (PATHWAY_CHECKPOINT_KEY, [checkpoints] directory)",
                type="CheckpointsNotConfigured",
                non_retryable=True,
            )
        return self._signer

    async def _newest_delivered(self, signer: CheckpointSigner) -> Checkpoint | None:
        """The newest delivered checkpoint of this key (None: the first scheduled checkpoint, or a
        directory just changed)."""

        def skipped(path: Path, why: str) -> None:
            activity.logger.warning(
                "a delivered checkpoint file was passed over", extra={"file": path.name, "why": why}
            )

        return await asyncio.to_thread(newest_signed_by, signer.directory, signer.key.public, skipped)

    async def _newest_stored(self, signer: CheckpointSigner) -> Checkpoint | None:
        """The newest checkpoint of this key stored in the database."""
        try:
            return await Checkpoints(self._store.engine).latest(signer.key.public.fingerprint)
        except CheckpointError as error:  # the stored document itself was changed
            raise ApplicationError(
                f"no checkpoint signed: the newest stored checkpoint cannot be read: {error}",
                type="RecordNotVerified",
                non_retryable=True,
            ) from None
