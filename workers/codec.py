"""Encryption of every Temporal payload (AES-256-GCM), so the Temporal server, its database and
anyone reading histories without the keys sees ciphertext only.

Each encrypted payload says which key sealed it (metadata `encryption-key-id`); a key ring keeps
old keys readable while new payloads use the newest one, so keys rotate by adding one. Payloads that
were never encrypted (histories recorded before, test fixtures) decode as they are, except in a
worker, whose codec marks them so its workflows refuse them as inputs (workers/payload_converter.py).

The one exception: payloads the converter marked public (the Temporal UI's texts, see
workers/payload_converter.py) are left in the clear, so the UI shows them without this codec."""

from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.converter import DefaultFailureConverter, PayloadCodec

from store.keyring import KeyRing, KeyRingError
from workers.payload_converter import UNENCRYPTED, is_public

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: KeyRing, *, mark_unencrypted: bool = False) -> None:
        self.keys = keys
        self.mark_unencrypted = mark_unencrypted

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        encoded = []
        for payload in payloads:
            if is_public(payload):
                encoded.append(payload)
                continue
            key_id, sealed = self.keys.seal(payload.SerializeToString())
            encoded.append(Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=sealed))
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                if self.mark_unencrypted and not is_public(payload):
                    payload = Payload(metadata={**payload.metadata, UNENCRYPTED: b""}, data=payload.data)
                decoded.append(payload)
                continue
            try:
                key_id = payload.metadata.get(KEY_ID, b"").decode()
            except UnicodeDecodeError:
                raise KeyRingError("the payload's key id is not text: it was altered") from None
            inner = Payload()
            inner.ParseFromString(self.keys.open(key_id, payload.data))
            decoded.append(inner)
        return decoded


class EncodedFailureConverter(DefaultFailureConverter):
    """Failure messages and stack traces travel inside the encrypted payloads, not beside them."""

    def __init__(self) -> None:
        super().__init__(encode_common_attributes=True)
