"""The Temporal client every process uses (worker, CLI, API): same address, namespace and converter."""

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from store.keyring import KeyRing
from workers.codec import EncodedFailureConverter, EncryptionCodec
from workers.settings import Settings


def data_converter(keys: KeyRing) -> DataConverter:
    """Pydantic models as JSON, then every payload and failure encrypted under the key ring."""
    return dataclasses.replace(
        pydantic_data_converter, payload_codec=EncryptionCodec(keys), failure_converter_class=EncodedFailureConverter
    )


async def connect(settings: Settings, lazy: bool = False) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.namespace,
        data_converter=data_converter(settings.payload_key_ring),
        lazy=lazy,
    )
