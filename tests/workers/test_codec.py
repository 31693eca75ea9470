"""Payload encryption (workers/codec.py): sealing and opening under a key ring, key rotation, tampering,
payloads never encrypted, key ring validation, where the keys come from (workers/settings.py), and the
data converter every process uses (workers/client.py), failures included."""

import base64
import json
import stat
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from domain.model import Person
from store.keyring import KeyRing, KeyRingError
from workers.client import data_converter
from workers.codec import ENCODING, KEY_ID, EncodedFailureConverter, EncryptionCodec
from workers.settings import ConfigError, Settings

K1, K2, K3 = bytes(range(32)), bytes(range(100, 132)), bytes(range(200, 232))
RING_A = KeyRing((("k1", K1),))
RING_B = KeyRing((("k1", K1), ("k2", K2)))


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def json_payload(text: bytes) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text)


PAYLOADS = [
    json_payload(b'{"name": "Alex Example", "nhs_number": "9434765919"}'),
    Payload(metadata={"encoding": b"binary/null"}),
    Payload(metadata={"encoding": b"binary/plain", "custom": b"x"}, data=bytes(range(256)) * 4),
]


# --- sealing and opening ---------------------------------------------------------------------------


async def test_payloads_round_trip_and_only_ciphertext_names_the_key() -> None:
    codec = EncryptionCodec(RING_B)
    encoded = await codec.encode(PAYLOADS)
    assert len(encoded) == len(PAYLOADS)
    for original, sealed in zip(PAYLOADS, encoded, strict=True):
        assert dict(sealed.metadata) == {"encoding": b"binary/encrypted", KEY_ID: b"k2"}
        assert ENCODING == b"binary/encrypted"
        assert sealed.data != original.SerializeToString()
        if original.data:
            assert original.data not in sealed.data
        serialized = sealed.SerializeToString()
        assert b"Alex Example" not in serialized and b"9434765919" not in serialized
        assert b"json/plain" not in serialized and b"custom" not in serialized
    decoded = await codec.decode(encoded)
    assert decoded == PAYLOADS
    assert [dict(p.metadata) for p in decoded] == [dict(p.metadata) for p in PAYLOADS]


async def test_the_same_payload_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec(RING_A)
    [first] = await codec.encode([PAYLOADS[0]])
    [second] = await codec.encode([PAYLOADS[0]])
    assert first.data != second.data
    assert first.data[:12] != second.data[:12]  # a fresh random nonce
    assert await codec.decode([first, second]) == [PAYLOADS[0], PAYLOADS[0]]


def test_seal_and_open_bind_the_context() -> None:
    key_id, sealed = RING_B.seal(b"secret text", b"context")
    assert key_id == "k2" and RING_B.current_id == "k2"
    assert RING_B.open(key_id, sealed, b"context") == b"secret text"
    with pytest.raises(KeyRingError, match="altered"):
        RING_B.open(key_id, sealed, b"other context")


# --- rotation --------------------------------------------------------------------------------------


async def test_rotation_keeps_old_payloads_readable_and_seals_with_the_newest_key() -> None:
    [old] = await EncryptionCodec(RING_A).encode([PAYLOADS[0]])
    assert old.metadata[KEY_ID] == b"k1"
    rotated = EncryptionCodec(RING_B)
    assert await rotated.decode([old]) == [PAYLOADS[0]]
    [new] = await rotated.encode([PAYLOADS[0]])
    assert new.metadata[KEY_ID] == b"k2"
    assert await rotated.decode([new, old]) == [PAYLOADS[0], PAYLOADS[0]]
    # The old ring cannot read what the new key sealed.
    with pytest.raises(KeyRingError, match="'k2'"):
        await EncryptionCodec(RING_A).decode([new])


async def test_a_ring_without_the_key_refuses_its_data_naming_the_key() -> None:
    [old] = await EncryptionCodec(RING_A).encode([PAYLOADS[0]])
    without_k1 = EncryptionCodec(KeyRing((("k2", K2), ("k3", K3))))
    with pytest.raises(KeyRingError, match=r"no key 'k1' in the key ring") as refused:
        await without_k1.decode([old])
    assert "Alex Example" not in str(refused.value)


# --- tampering -------------------------------------------------------------------------------------


@pytest.mark.parametrize("position", [0, 11, 12, 20, -1])
async def test_changing_one_byte_of_the_data_is_detected(position: int) -> None:
    codec = EncryptionCodec(RING_B)
    [sealed] = await codec.encode([PAYLOADS[0]])
    data = bytearray(sealed.data)
    data[position] ^= 0x01
    tampered = Payload(metadata=dict(sealed.metadata), data=bytes(data))
    with pytest.raises(KeyRingError, match=r"data sealed with key 'k2' does not open: it was altered"):
        await codec.decode([tampered])


@pytest.mark.parametrize("cut", [12, 20, 28])
async def test_truncated_ciphertext_is_detected(cut: int) -> None:
    codec = EncryptionCodec(RING_B)
    [sealed] = await codec.encode([PAYLOADS[0]])
    with pytest.raises(KeyRingError, match="altered"):
        await codec.decode([Payload(metadata=dict(sealed.metadata), data=sealed.data[:cut])])


@pytest.mark.parametrize("cut", [0, 5])
async def test_ciphertext_cut_shorter_than_a_nonce_is_a_key_ring_error(cut: int) -> None:
    codec = EncryptionCodec(RING_B)
    [sealed] = await codec.encode([PAYLOADS[0]])
    with pytest.raises(KeyRingError, match="altered"):
        await codec.decode([Payload(metadata=dict(sealed.metadata), data=sealed.data[:cut])])


async def test_the_key_id_is_authenticated() -> None:
    codec = EncryptionCodec(RING_B)
    [sealed] = await codec.encode([PAYLOADS[0]])
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: b"k1"}, data=sealed.data)
    with pytest.raises(KeyRingError, match=r"data sealed with key 'k1' does not open: it was altered"):
        await codec.decode([relabelled])
    # Even when both names carry the same key bytes, the name is part of what was sealed.
    twins = EncryptionCodec(KeyRing((("a", K1), ("b", K1))))
    [under_b] = await twins.encode([PAYLOADS[0]])
    with pytest.raises(KeyRingError, match="altered"):
        await twins.decode([Payload(metadata={**under_b.metadata, KEY_ID: b"a"}, data=under_b.data)])
    missing = Payload(metadata={"encoding": b"binary/encrypted"}, data=sealed.data)
    with pytest.raises(KeyRingError, match="no key ''"):
        await codec.decode([missing])


async def test_a_key_id_that_is_not_text_is_a_key_ring_error() -> None:
    codec = EncryptionCodec(RING_B)
    [sealed] = await codec.encode([PAYLOADS[0]])
    with pytest.raises(KeyRingError):
        await codec.decode([Payload(metadata={**sealed.metadata, KEY_ID: b"\xff\xfe"}, data=sealed.data)])


# --- payloads that were never encrypted ------------------------------------------------------------


async def test_payloads_never_encrypted_decode_as_they_are() -> None:
    codec = EncryptionCodec(RING_A)
    plain = json_payload(b'{"name": "Alex Example"}')
    bare = Payload(data=b"no metadata at all")
    [sealed] = await codec.encode([PAYLOADS[0]])
    decoded = await codec.decode([plain, sealed, bare])
    assert decoded == [plain, PAYLOADS[0], bare]
    assert decoded[0].data == b'{"name": "Alex Example"}' and dict(decoded[0].metadata) == {"encoding": b"json/plain"}


# --- key ring validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ((), "a key ring needs at least one key"),
        ((("k1", bytes(16)),), "key k1 is 16 bytes; AES-256 needs 32"),
        ((("k1", bytes(33)),), "key k1 is 33 bytes; AES-256 needs 32"),
        ((("k1", K1), ("k1", K2)), "key ids must be unique"),
        ((("my key", K1),), "key id 'my key' must be non-empty, without spaces or colons"),
        ((("k:1", K1),), "key id 'k:1' must be non-empty, without spaces or colons"),
        ((("k\t1", K1),), "without spaces or colons"),
        ((("", K1),), "key id '' must be non-empty"),
    ],
)
def test_unusable_key_rings_are_refused_with_the_reason(keys: tuple[tuple[str, bytes], ...], message: str) -> None:
    with pytest.raises(KeyRingError) as refused:
        KeyRing(keys)
    assert message in str(refused.value)


def test_parse_reads_lines_commas_and_comments_oldest_first() -> None:
    text = f"""
    # rotated in March
    k1 {b64(K1)}   # the first key
    k2 {b64(K2)}, k3 {b64(K3)}

    """
    ring = KeyRing.parse(text)
    assert ring.keys == (("k1", K1), ("k2", K2), ("k3", K3))
    assert ring.current_id == "k3" and ring.key("k2") == K2
    assert KeyRing.parse(f"a {b64(K1)},b {b64(K2)}").keys == (("a", K1), ("b", K2))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "a key ring needs at least one key"),
        ("# only a comment\n, ,", "a key ring needs at least one key"),
        (f"k1 {b64(K1)[:-4]}!!!=", "key k1 is not valid base64"),
        ("k1 not*base64", "key k1 is not valid base64"),
        (f"k1 {b64(bytes(16))}", "key k1 is 16 bytes; AES-256 needs 32"),
        (b64(K1), "write each key as 'key-id base64-key'"),
        (f"k1 {b64(K1)} extra", "write each key as 'key-id base64-key'"),
        (f"k1 {b64(K1)}\nk1 {b64(K2)}", "key ids must be unique"),
        (f"k:1 {b64(K1)}", "without spaces or colons"),
    ],
)
def test_parse_refuses_bad_text_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(KeyRingError) as refused:
        KeyRing.parse(text)
    assert message in str(refused.value)
    assert b64(K1) not in str(refused.value) and b64(K2) not in str(refused.value)


def test_new_key_lines_parse_into_fresh_keys() -> None:
    first, second = KeyRing.new_key_line("k1"), KeyRing.new_key_line("k2")
    ring = KeyRing.parse(f"{first}\n{second}")
    assert [key_id for key_id, _ in ring.keys] == ["k1", "k2"]
    assert len(ring.key("k1")) == 32 and ring.key("k1") != ring.key("k2")


# --- where the keys come from ----------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("PATHWAY_PAYLOAD_KEYS", "PATHWAY_PAYLOAD_KEYS_FILE", "PATHWAY_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_keys_from_the_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("PATHWAY_PAYLOAD_KEYS", f"old {b64(K1)}, new {b64(K2)}")
    settings = Settings(data_dir=tmp_path)
    assert settings.payload_key_ring.keys == (("old", K1), ("new", K2))
    assert settings.payload_key_ring.current_id == "new"
    assert not (tmp_path / "payload.keys").exists()
    assert Settings(data_dir=tmp_path, payload_keys=f"k1 {b64(K3)}").payload_key_ring.keys == (("k1", K3),)


def test_keys_from_a_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key_file = tmp_path / "secret.keys"
    key_file.write_text(f"# payload keys\nk1 {b64(K1)}\nk2 {b64(K2)}\n")
    clean_env.setenv("PATHWAY_PAYLOAD_KEYS_FILE", str(key_file))
    assert Settings(data_dir=tmp_path / "data").payload_key_ring == RING_B
    assert not (tmp_path / "data").exists()


def test_a_named_key_file_that_is_missing_is_not_generated(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "missing.keys"
    with pytest.raises(ConfigError, match="cannot read the keys in"):
        _ = Settings(data_dir=tmp_path, payload_keys_file=missing).payload_key_ring
    assert not missing.exists() and not (tmp_path / "payload.keys").exists()


def test_dev_mode_generates_a_private_key_file_once(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ring = Settings(data_dir=data_dir).payload_key_ring
    key_file = data_dir / "payload.keys"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert ring.current_id == "k1" and len(ring.key("k1")) == 32
    assert KeyRing.parse(key_file.read_text()) == ring
    again = Settings(data_dir=data_dir).payload_key_ring
    assert again == ring
    assert Settings(data_dir=tmp_path / "other").payload_key_ring != ring


@pytest.mark.parametrize(
    "value",
    ["k1 tooshort", f"k1 {b64(bytes(16))}", f"k1 {b64(K1)}, k1 {b64(K2)}", "# nothing but a comment", "k1"],
)
def test_bad_keys_in_the_environment_are_a_config_error(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    clean_env.setenv("PATHWAY_PAYLOAD_KEYS", value)
    with pytest.raises(ConfigError) as refused:
        _ = Settings(data_dir=tmp_path).payload_key_ring
    assert "PATHWAY_PAYLOAD_KEYS" in str(refused.value)
    assert not (tmp_path / "payload.keys").exists()


def test_bad_keys_in_a_file_are_a_config_error_naming_the_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key_file = tmp_path / "bad.keys"
    key_file.write_text(f"k1 {b64(bytes(20))}\n")
    with pytest.raises(ConfigError) as refused:
        _ = Settings(data_dir=tmp_path, payload_keys_file=key_file).payload_key_ring
    assert str(key_file) in str(refused.value) and "20 bytes" in str(refused.value)


# --- the data converter ----------------------------------------------------------------------------


async def test_the_data_converter_encrypts_pydantic_models() -> None:
    converter = data_converter(RING_B)
    person = Person(name="Alex Example", nhs_number="9434765919")
    payloads = await converter.encode([person, "a plain string"])
    assert len(payloads) == 2
    for payload in payloads:
        assert payload.metadata["encoding"] == b"binary/encrypted" and payload.metadata[KEY_ID] == b"k2"
        serialized = payload.SerializeToString()
        assert b"Alex Example" not in serialized and b"9434765919" not in serialized
        assert b"a plain string" not in serialized
    assert await converter.decode(payloads, [Person, str]) == [person, "a plain string"]
    # The codec underneath produced JSON: opening it shows the model's fields.
    [inner, _] = await EncryptionCodec(RING_B).decode(payloads)
    assert inner.metadata["encoding"] == b"json/plain"
    assert json.loads(inner.data)["name"] == "Alex Example"
    with pytest.raises(KeyRingError, match="'k2'"):
        await data_converter(RING_A).decode(payloads, [Person, str])


def failing_lookup() -> None:
    raise LookupError("no record for Alex Example born 1990-01-01")


async def test_failure_messages_and_stack_traces_travel_encrypted() -> None:
    converter = data_converter(RING_B)
    assert isinstance(converter.failure_converter, EncodedFailureConverter)
    try:
        failing_lookup()
    except LookupError as error:
        failure = Failure()
        await converter.encode_failure(error, failure)

    assert "Alex Example" not in failure.message and "1990-01-01" not in failure.message
    assert failure.message == "Encoded failure"
    assert failure.stack_trace == ""
    assert failure.encoded_attributes.metadata["encoding"] == b"binary/encrypted"
    assert failure.encoded_attributes.metadata[KEY_ID] == b"k2"
    assert b"Alex Example" not in failure.SerializeToString()
    assert b"failing_lookup" not in failure.SerializeToString()

    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError)
    assert decoded.message == "no record for Alex Example born 1990-01-01"
    assert decoded.type == "LookupError"
    assert decoded.failure is not None and "failing_lookup" in decoded.failure.stack_trace


async def test_failure_details_and_causes_are_encrypted_too() -> None:
    converter = data_converter(RING_B)
    person = Person(name="Alex Example")
    try:
        try:
            failing_lookup()
        except LookupError as cause:
            raise ApplicationError("cannot open the case of Alex Example", person, type="NotFound") from cause
    except ApplicationError as error:
        failure = Failure()
        await converter.encode_failure(error, failure)

    serialized = failure.SerializeToString()
    assert b"Alex Example" not in serialized and b"1990-01-01" not in serialized
    assert failure.cause.message == "Encoded failure"
    [details] = failure.application_failure_info.details.payloads
    assert details.metadata["encoding"] == b"binary/encrypted"

    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError)
    assert decoded.message == "cannot open the case of Alex Example" and decoded.type == "NotFound"
    assert decoded.details == ({"name": "Alex Example", "date_of_birth": None, "address": None, "nhs_number": None},)
    assert isinstance(decoded.cause, ApplicationError)
    assert decoded.cause.message == "no record for Alex Example born 1990-01-01"
