"""Signed checkpoints delivered outside the database: a file per checkpoint in a directory, and the
same document emailed to the auditors as a `.json` attachment.

A delivered copy is what makes a checkpoint evidence against whoever can write to the database: they
can delete the stored checkpoints with the rows they protect, not a file in a directory they cannot
write to, nor a message in the auditors' mailbox. Files are named by the checkpoint's time and id
(`20261129T100000123456Z-<id>.json`), so names sort by time and the newest is found without opening
every file. A file is written whole or not at all, and never replaces one that is there.

Each checkpoint records the hash of every row new since the one before it (store/checkpoints.py),
so the directory as a whole holds every row's hash as it was written: verifying with the directory
reads every file, oldest first, and names the first altered row however many checkpoints back.
"""

import email
import email.policy
import errno
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Literal

from store.checkpoints import Checkpoint, CheckpointError, PublicKey

FILE_NAME = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f-]{36}\.json$")
MEDIA_TYPE = "application/json"  # of the file, and of the emailed attachment


def file_name(checkpoint: Checkpoint) -> str:
    body = checkpoint.body
    return f"{body.created_at.astimezone(UTC):%Y%m%dT%H%M%S%f}Z-{body.checkpoint_id}.json"


def write_new(directory: Path, checkpoint: Checkpoint) -> Path:
    """Write the signed document to a new file in `directory` (made if missing); returns its path.

    The document goes to a temporary file in the same directory, is flushed to disk, and only then
    gets its name, so a reader never sees half a checkpoint. The name is given by a hard link, which
    fails where a file of that name exists (a rename would silently replace it), falling back to a
    rename after a look where the file system has no links. Writing the same checkpoint again (a
    retried activity) finds its own file and leaves it; a different file of that name is an error."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name(checkpoint)
    content = checkpoint.to_json().encode()
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        _name_without_replacing(Path(temporary), path, content)
    finally:
        Path(temporary).unlink(missing_ok=True)
    _sync_directory(directory)
    return path


def _name_without_replacing(temporary: Path, path: Path, content: bytes) -> None:
    try:
        os.link(temporary, path)
        return
    except FileExistsError:
        pass
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS):
            raise
        if not path.exists():
            temporary.rename(path)
            return
    if path.read_bytes() != content:
        raise FileExistsError(errno.EEXIST, "a different checkpoint file has this name; it is not replaced", str(path))


def _sync_directory(directory: Path) -> None:
    """Flush the directory entry too, so the new name survives a crash (not possible everywhere)."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def delivered_files(directory: Path) -> list[Path]:
    """The delivered checkpoint files in `directory`, newest first. Other files are not looked at."""
    return sorted((path for path in directory.iterdir() if FILE_NAME.match(path.name)), reverse=True)


def newest_signed_by(
    directory: Path, key: PublicKey, skipped: Callable[[Path, str], None] | None = None
) -> Checkpoint | None:
    """The newest delivered checkpoint in `directory` that `key` signed and whose signature holds.
    Files signed by another key (from before a key rotation) are passed over; so is a file that is
    no checkpoint or whose signature does not hold, and `skipped` is told which and why."""
    if not directory.is_dir():
        return None
    for path in delivered_files(directory):
        try:
            checkpoint = Checkpoint.from_json(path.read_text())
        except (OSError, UnicodeDecodeError, CheckpointError) as error:
            if skipped is not None:
                skipped(path, str(error))
            continue
        if checkpoint.body.key.fingerprint != key.fingerprint:
            continue
        problem = checkpoint.signature_problem(key)
        if problem is None:
            return checkpoint
        if skipped is not None:
            skipped(path, problem)
    return None


def from_email(data: bytes) -> Checkpoint:
    """The checkpoint attached to an email as delivered (an .eml file: the message as saved by a
    mail program, headers and all)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    attached = [
        part
        for part in message.walk()
        if part.get_content_disposition() == "attachment"
        and ((part.get_filename() or "").endswith(".json") or part.get_content_type() == MEDIA_TYPE)
    ]
    if not attached:
        raise CheckpointError("it is neither a checkpoint nor an email with a checkpoint (.json) attached")
    if len(attached) > 1:
        raise CheckpointError(f"the email has {len(attached)} .json attachments; save the one to check as a file")
    content = attached[0].get_payload(decode=True)
    if not isinstance(content, bytes):
        raise CheckpointError("the email's .json attachment cannot be read")
    try:
        return Checkpoint.from_json(content.decode())
    except UnicodeDecodeError:
        raise CheckpointError("the email's .json attachment is not UTF-8 text") from None


@dataclass(frozen=True)
class DeliveredFile:
    path: Path
    checkpoint: Checkpoint


@dataclass
class Delivered:
    """Delivered checkpoints as an auditor gives them: a file, an email saved as .eml, or a
    directory, whose files are all read, oldest first, one at a time (`read`): a year of hourly
    checkpoints is too much to hold at once, and each is needed only for what it recorded."""

    given_as: Literal["file", "email", "directory"]
    paths: tuple[Path, ...]  # oldest first
    # A directory's files signed by another key (from before a key rotation) are passed over.
    key: PublicKey | None = None
    # A file or an email: read already, so that one that holds no checkpoint is refused at once.
    given: Checkpoint | None = None
    # Filled by `read`: each file of a directory passed over, and why.
    passed_over: list[tuple[Path, str]] = field(default_factory=list)

    def read(self) -> Iterator[DeliveredFile]:
        """Each checkpoint with its file, oldest first. Raises OSError when a file cannot be read and
        CheckpointError when a delivered file holds no checkpoint (never passed over quietly: it was
        written whole, so something changed it) or the directory holds none of the key."""
        if self.given is not None:
            yield DeliveredFile(self.paths[0], self.given)
            return
        self.passed_over.clear()
        used = 0
        for path in self.paths:
            try:
                checkpoint = _from_file_text(path.read_bytes())
            except CheckpointError as error:
                raise CheckpointError(f"its file {path.name} cannot be used: {error}") from None
            signer = checkpoint.body.key.fingerprint
            if self.key is not None and signer != self.key.fingerprint:
                self.passed_over.append((path, f"signed by key {signer}, not by {self.key.fingerprint}"))
                continue
            used += 1
            yield DeliveredFile(path, checkpoint)
        if not used and self.key is not None:  # (with no key, every file is used)
            raise CheckpointError(f"the directory holds no delivered checkpoints signed by key {self.key.fingerprint}")

    @property
    def checkpoint(self) -> Checkpoint:
        """The newest (of a directory: read through every file)."""
        newest = None
        for delivered in self.read():
            newest = delivered.checkpoint
        assert newest is not None  # `read` yields at least one or raises
        return newest


def read_delivered(path: Path, key: PublicKey | None = None) -> Delivered:
    """The checkpoints at `path`: a checkpoint file (as delivered, or exported by `pathway audit
    checkpoint`), an email that carried one (an .eml file, or any file that is not JSON), or a
    directory of delivered files, every one of which is read (`Delivered.read`), oldest first: each
    recorded the hashes of the rows new since the one before, so only all of them together name an
    altered row however far back. In a directory, files signed by a key other than `key` are passed
    over; a single file is taken whoever signed it, for its signature check to say so. Raises OSError
    when it cannot be read and CheckpointError when it holds no usable checkpoint."""
    if path.is_dir():
        paths = tuple(reversed(delivered_files(path)))
        if not paths:
            raise CheckpointError("the directory holds no delivered checkpoints (files named TIME-ID.json)")
        return Delivered("directory", paths, key)
    data = path.read_bytes()
    if path.suffix.lower() == ".eml" or not data.lstrip().startswith(b"{"):
        return Delivered("email", (path,), given=from_email(data))
    return Delivered("file", (path,), given=_from_file_text(data))


def _from_file_text(data: bytes) -> Checkpoint:
    try:
        return Checkpoint.from_json(data.decode())
    except UnicodeDecodeError:
        raise CheckpointError("not JSON: it is not UTF-8 text") from None
