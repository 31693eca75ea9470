"""The connections every process uses (worker, CLI, API): the Temporal client (same address, namespace,
converter and cluster credentials) and the event store (same URL and pool)."""

import dataclasses
from pathlib import Path

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from store.event_store import EventStore
from store.keyring import KeyRing
from workers.codec import EncodedFailureConverter, EncryptionCodec
from workers.payload_converter import PathwayPayloadConverter
from workers.settings import ConfigError, Settings


def data_converter(keys: KeyRing) -> DataConverter:
    """Pydantic models as JSON, then every payload and failure encrypted under the key ring, but for the
    Temporal UI's texts, which the converter marks public."""
    return DataConverter(
        payload_converter_class=PathwayPayloadConverter,
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=EncodedFailureConverter,
    )


def worker_client(client: Client) -> Client:
    """The client a worker polls with: the same connection and keys, but its codec marks every payload
    that reaches it unencrypted, which the workflows then refuse as an input. So only a holder of the
    keys can send a workflow anything, whatever else they can do in Temporal. (Replays keep reading
    the histories recorded before payloads were encrypted: they use `data_converter`.)"""
    converter = client.data_converter
    codec = converter.payload_codec
    if not isinstance(codec, EncryptionCodec):
        raise TypeError("a worker's client must encrypt its payloads: connect it with data_converter(keys)")
    config = client.config()
    config["data_converter"] = dataclasses.replace(
        converter, payload_codec=EncryptionCodec(codec.keys, mark_unencrypted=True)
    )
    return Client(**config)


async def connect(settings: Settings, lazy: bool = False, runtime: Runtime | None = None) -> Client:
    """`runtime` carries the metrics exporter (workers/metrics.py); None is the SDK's default runtime."""
    cluster = cluster_options(settings)
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.namespace,
        data_converter=data_converter(settings.payload_key_ring),
        tls=cluster.tls,
        api_key=cluster.api_key,
        lazy=lazy,
        runtime=runtime,
    )


def connect_store(settings: Settings, *, read_only: bool = False) -> EventStore:
    return EventStore.connect(
        settings.store_url,
        read_only=read_only,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )


@dataclasses.dataclass(frozen=True)
class ClusterOptions:
    """The `Client.connect` arguments that reach a real cluster or Temporal Cloud securely."""

    tls: TLSConfig | bool
    api_key: str | None


def cluster_options(settings: Settings) -> ClusterOptions:
    """TLS (server CA, mTLS client certificate and key, server name) and the API key from the settings,
    with the files read; a combination that cannot work is a ConfigError naming the settings."""
    cert, key = settings.temporal_tls_cert_file, settings.temporal_tls_key_file
    if (cert is None) != (key is None):
        given, missing = (
            ("PATHWAY_TEMPORAL_TLS_CERT_FILE", "PATHWAY_TEMPORAL_TLS_KEY_FILE")
            if key is None
            else ("PATHWAY_TEMPORAL_TLS_KEY_FILE", "PATHWAY_TEMPORAL_TLS_CERT_FILE")
        )
        raise ConfigError(
            f"mTLS needs both PATHWAY_TEMPORAL_TLS_CERT_FILE and PATHWAY_TEMPORAL_TLS_KEY_FILE: "
            f"{given} is set but {missing} is not"
        )
    if settings.temporal_api_key is not None and settings.temporal_api_key_file is not None:
        raise ConfigError("set PATHWAY_TEMPORAL_API_KEY or PATHWAY_TEMPORAL_API_KEY_FILE, not both")
    api_key = settings.temporal_api_key
    if settings.temporal_api_key_file is not None:
        api_key = _read(settings.temporal_api_key_file, "PATHWAY_TEMPORAL_API_KEY_FILE").decode().strip()
    if api_key is not None and not api_key.strip():
        raise ConfigError("the Temporal API key (PATHWAY_TEMPORAL_API_KEY or its _FILE) is empty")
    tls_needed = {
        "PATHWAY_TEMPORAL_TLS_CA_FILE": settings.temporal_tls_ca_file,
        "PATHWAY_TEMPORAL_TLS_CERT_FILE": cert,
        "PATHWAY_TEMPORAL_TLS_SERVER_NAME": settings.temporal_tls_server_name,
        "PATHWAY_TEMPORAL_API_KEY": api_key,
    }
    wanting_tls = [name for name, value in tls_needed.items() if value is not None]
    if settings.temporal_tls is False:
        if wanting_tls:
            raise ConfigError(f"PATHWAY_TEMPORAL_TLS is false but {', '.join(wanting_tls)} needs TLS")
        return ClusterOptions(tls=False, api_key=None)
    if not settings.temporal_tls and not wanting_tls:
        return ClusterOptions(tls=False, api_key=None)
    ca = settings.temporal_tls_ca_file
    return ClusterOptions(
        tls=TLSConfig(
            server_root_ca_cert=_read(ca, "PATHWAY_TEMPORAL_TLS_CA_FILE") if ca else None,
            domain=settings.temporal_tls_server_name,
            client_cert=_read(cert, "PATHWAY_TEMPORAL_TLS_CERT_FILE") if cert else None,
            client_private_key=_read(key, "PATHWAY_TEMPORAL_TLS_KEY_FILE") if key else None,
        ),
        api_key=api_key,
    )


def _read(path: Path, variable: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {path} ({variable}): {error.strerror}") from None
    if not data.strip():
        raise ConfigError(f"{path} ({variable}) is empty")
    return data
