"""Checkpoints delivered outside the database: each file written whole under its time and id, never
replacing another; and delivered copies read back as an auditor gives them (the file, the email
saved as .eml, or the directory, every file of the key read, oldest first). No database."""

import email.policy
import json
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from store.checkpoints import Checkpoint, CheckpointError, SigningKey, StreamHead
from store.delivered_checkpoints import (
    MEDIA_TYPE,
    DeliveredFile,
    delivered_files,
    file_name,
    newest_signed_by,
    read_delivered,
    write_new,
)

KEY = SigningKey.parse(SigningKey.new_key_text())
OTHER_KEY = SigningKey.parse(SigningKey.new_key_text())
MADE_AT = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def checkpoint(minutes: int = 0, key: SigningKey = KEY) -> Checkpoint:
    heads = [StreamHead(case_id="case-1", seq=3 + minutes, hash="ab" * 32)]
    return Checkpoint.sign(heads, key, "pathway-checkpoints", MADE_AT + timedelta(minutes=minutes), heads)


def emailed(content: bytes, filename: str = "checkpoint.json") -> bytes:
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = "Pathway checkpoint"
    message.set_content("A signed checkpoint is attached.")
    message.add_attachment(content, maintype="application", subtype="json", filename=filename)
    return message.as_bytes()


def test_a_file_is_named_by_time_and_id_written_whole_and_never_replaced(tmp_path: Path) -> None:
    first = checkpoint()
    path = write_new(tmp_path / "delivered", first)

    assert path.name == f"20261129T100000000000Z-{first.body.checkpoint_id}.json"
    assert path.read_text() == first.to_json()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    # A retried write of the same checkpoint finds its own file; a different one is never put there.
    assert write_new(path.parent, first) == path
    path.write_text(path.read_text().replace("case-1", "case-2"))
    with pytest.raises(FileExistsError, match="not replaced"):
        write_new(path.parent, first)
    assert "case-2" in path.read_text()
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_the_newest_file_of_the_key_whose_signature_holds_is_found(tmp_path: Path) -> None:
    older, newer = checkpoint(0), checkpoint(60)
    for made in (newer, older, checkpoint(90, OTHER_KEY)):
        write_new(tmp_path, made)
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    assert [p.name for p in delivered_files(tmp_path)][1:] == [file_name(newer), file_name(older)]

    assert newest_signed_by(tmp_path, KEY.public) == newer
    assert newest_signed_by(tmp_path, OTHER_KEY.public) is not None
    assert newest_signed_by(tmp_path / "missing", KEY.public) is None

    # A newer file of the key that does not hold (written by someone without the key) is passed
    # over, and the caller is told.
    forged = json.loads(newer.to_json()) | {"created_at": (MADE_AT + timedelta(hours=2)).isoformat()}
    (tmp_path / f"20261129T120000000000Z-{'0' * 36}.json").write_text(json.dumps(forged))
    skipped: list[str] = []
    assert newest_signed_by(tmp_path, KEY.public, lambda path, why: skipped.append(why)) == newer
    assert skipped == ["the signature does not hold: the checkpoint was changed after it was signed"]


def test_a_delivered_copy_is_read_from_the_file_the_email_or_the_directory(tmp_path: Path) -> None:
    older, newer = checkpoint(0), checkpoint(60)
    directory = tmp_path / "delivered"
    write_new(directory, older)
    path = write_new(directory, newer)
    saved = tmp_path / "checkpoint.eml"
    saved.write_bytes(emailed(path.read_bytes(), path.name))

    from_file, from_email, from_directory = read_delivered(path), read_delivered(saved), read_delivered(directory)

    assert (from_file.checkpoint, from_file.given_as, from_file.paths) == (newer, "file", (path,))
    assert (from_email.checkpoint, from_email.given_as, from_email.paths) == (newer, "email", (saved,))
    assert (from_directory.checkpoint, from_directory.given_as) == (newer, "directory")
    assert from_email.checkpoint.signature_problem(KEY.public) is None
    # The directory: every file, oldest first, each with its own.
    assert list(from_directory.read()) == [
        DeliveredFile(directory / file_name(older), older),
        DeliveredFile(path, newer),
    ]


def test_a_directory_is_read_whole_passing_over_files_of_another_key(tmp_path: Path) -> None:
    """Files of another key (from before a key rotation) are passed over and said so; a file that
    holds no checkpoint refuses the lot, as it would alone: delivered files are written whole."""
    ours, rotated, later = checkpoint(0), checkpoint(30, OTHER_KEY), checkpoint(60)
    for made in (ours, rotated, later):
        write_new(tmp_path, made)
    delivered = read_delivered(tmp_path, KEY.public)

    assert [file.checkpoint for file in delivered.read()] == [ours, later]
    assert delivered.passed_over == [
        (
            tmp_path / file_name(rotated),
            f"signed by key {OTHER_KEY.public.fingerprint}, not by {KEY.public.fingerprint}",
        )
    ]
    assert [file.checkpoint for file in read_delivered(tmp_path).read()] == [ours, rotated, later]
    only_rotated = write_new(tmp_path / "only-rotated", rotated).parent
    with pytest.raises(CheckpointError, match=f"no delivered checkpoints signed by key {KEY.public.fingerprint}"):
        list(read_delivered(only_rotated, KEY.public).read())

    garbled = tmp_path / file_name(checkpoint(45))
    garbled.write_text("{")
    with pytest.raises(CheckpointError, match=f"its file {garbled.name} cannot be used: not JSON"):
        list(read_delivered(tmp_path, KEY.public).read())


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (emailed(b"{}", "notes.pdf").replace(MEDIA_TYPE.encode(), b"application/pdf"), "neither a checkpoint nor"),
        (emailed(b"{"), "not JSON"),
        (b"plain words, not a message", "neither a checkpoint nor an email with a checkpoint"),
    ],
    ids=["no json attachment", "attachment not json", "not an email"],
)
def test_what_carries_no_checkpoint_is_refused(tmp_path: Path, content: bytes, problem: str) -> None:
    saved = tmp_path / "message.eml"
    saved.write_bytes(content)
    with pytest.raises(CheckpointError, match=problem):
        read_delivered(saved)


def test_an_empty_directory_holds_no_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="holds no delivered checkpoints"):
        read_delivered(tmp_path)
