"""Which payloads travel in the clear (workers/payload_converter.py): a `PublicText` and nothing else,
and a payload marked public is read back only as display text, never as an input."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from domain.model import Person, Stage
from tests.conftest import TEST_PAYLOAD_KEYS
from workers.client import data_converter
from workers.codec import ENCODING
from workers.payload_converter import PublicPayloadRefused, is_public
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
    with pytest.raises(PublicPayloadRefused, match="marked public"):
        await CONVERTER.decode([shown], [hint])
    assert await CONVERTER.decode([shown], [PublicText]) == ['{"text": "forged"}']
