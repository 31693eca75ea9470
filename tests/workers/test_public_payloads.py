"""Which payloads travel in the clear (workers/payload_converter.py): a `PublicText` and nothing else;
a payload marked public is read back only as display text, never as an input; and a worker's codec
marks what reaches it unencrypted."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from temporalio.api.common.v1 import Payload

from domain.model import Person, Stage
from tests.conftest import TEST_PAYLOAD_KEYS
from workers.client import data_converter
from workers.codec import ENCODING, EncryptionCodec
from workers.payload_converter import UntrustedInput, arrived_unencrypted, is_public
from workflows.ui_text import PublicText

CONVERTER = data_converter(TEST_PAYLOAD_KEYS)


class Shown(BaseModel):
    text: str


@given(text=st.text(max_size=300))
async def test_only_public_text_travels_unencrypted(text: str) -> None:
    [shown] = await CONVERTER.encode([PublicText(text)])
    assert is_public(shown) and shown.metadata["encoding"] == b"json/plain"
    assert json.loads(shown.data) == text
    # The same text as a plain str, inside a model, a list or a dict: encrypted like every payload.
    public = PublicText(text)
    for value in (text, Shown(text=public), [public], {"text": public}):
        [sealed] = await CONVERTER.encode([value])
        assert sealed.metadata["encoding"] == ENCODING and not is_public(sealed), value
    [back] = await CONVERTER.decode([shown])
    assert back == text and isinstance(back, PublicText)


async def test_other_str_types_are_encrypted() -> None:
    for value in (Stage.SCREENING, Person(name="Ada Lovelace")):
        [sealed] = await CONVERTER.encode([value])
        assert sealed.metadata["encoding"] == ENCODING and not is_public(sealed), value


@pytest.mark.parametrize("hint", [str, Shown, Person, int, dict])
async def test_a_public_payload_is_never_read_as_an_input(hint: type) -> None:
    [shown] = await CONVERTER.encode([PublicText('{"text": "forged"}')])
    with pytest.raises(UntrustedInput, match="marked public"):
        await CONVERTER.decode([shown], [hint])
    assert await CONVERTER.decode([shown], [PublicText]) == ['{"text": "forged"}']


async def test_a_workers_codec_marks_what_arrives_unencrypted_and_nothing_else() -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"never encrypted"')
    [sealed, shown] = await CONVERTER.encode(["encrypted", PublicText("shown")])
    worker = EncryptionCodec(TEST_PAYLOAD_KEYS, mark_unencrypted=True)
    opened, public, marked = await worker.decode([sealed, shown, plain])
    assert not arrived_unencrypted(opened) and not arrived_unencrypted(public)
    assert arrived_unencrypted(marked) and marked.data == plain.data
    # Everyone else's codec (clients, the codec endpoint, replays) reads a plain payload as it is.
    assert await EncryptionCodec(TEST_PAYLOAD_KEYS).decode([plain]) == [plain]
