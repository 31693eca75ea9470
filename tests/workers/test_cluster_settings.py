"""Settings for a real Temporal cluster or Temporal Cloud (TLS, mTLS, API key) from the environment or
a profile file, reaching `Client.connect`; and the store's PostgreSQL pool sizes reaching the engine."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from temporalio.client import Client
from temporalio.service import TLSConfig

from store.event_store import EventStore
from store.keyring import KeyRing
from workers.client import ClusterOptions, cluster_options, connect, connect_store
from workers.settings import ConfigError, Settings

POSTGRES_URL = os.environ.get("PATHWAY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
TEST_DATABASE_URL = POSTGRES_URL.rsplit("/", 1)[0] + "/test"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PATHWAY_* variable of the machine running the tests leaks into these settings."""
    for name in list(os.environ):
        if name.upper().startswith("PATHWAY_") and name.upper() != "PATHWAY_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    files = {"ca": b"-----BEGIN CERTIFICATE-----\nca\n", "cert": b"-----BEGIN CERTIFICATE-----\nclient\n"}
    files["key"] = b"-----BEGIN PRIVATE KEY-----\nkey\n"
    paths = {}
    for name, content in files.items():
        paths[name] = tmp_path / f"{name}.pem"
        paths[name].write_bytes(content)
    return paths


def tls_of(options: ClusterOptions) -> TLSConfig:
    assert isinstance(options.tls, TLSConfig)
    return options.tls


# --- from the environment ----------------------------------------------------------------------------


def test_a_local_cluster_needs_no_tls() -> None:
    assert cluster_options(Settings()) == ClusterOptions(tls=False, api_key=None)


def test_mtls_from_the_environment(monkeypatch: pytest.MonkeyPatch, pki: dict[str, Path]) -> None:
    monkeypatch.setenv("PATHWAY_TEMPORAL_ADDRESS", "temporal.example.org:7233")
    monkeypatch.setenv("PATHWAY_TEMPORAL_TLS_CA_FILE", str(pki["ca"]))
    monkeypatch.setenv("PATHWAY_TEMPORAL_TLS_CERT_FILE", str(pki["cert"]))
    monkeypatch.setenv("PATHWAY_TEMPORAL_TLS_KEY_FILE", str(pki["key"]))
    monkeypatch.setenv("PATHWAY_TEMPORAL_TLS_SERVER_NAME", "frontend.temporal.example.org")
    options = cluster_options(Settings())
    tls = tls_of(options)
    assert tls.server_root_ca_cert == pki["ca"].read_bytes()
    assert tls.client_cert == pki["cert"].read_bytes()
    assert tls.client_private_key == pki["key"].read_bytes()
    assert tls.domain == "frontend.temporal.example.org"
    assert options.api_key is None


def test_tls_with_the_system_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATHWAY_TEMPORAL_TLS", "true")
    assert tls_of(cluster_options(Settings())) == TLSConfig()


def test_an_api_key_turns_tls_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATHWAY_TEMPORAL_API_KEY", "cloud-key")
    options = cluster_options(Settings())
    assert options.api_key == "cloud-key"
    assert tls_of(options) == TLSConfig()


def test_an_api_key_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key_file = tmp_path / "api.key"
    key_file.write_text("cloud-key-from-file\n")
    monkeypatch.setenv("PATHWAY_TEMPORAL_API_KEY_FILE", str(key_file))
    assert cluster_options(Settings()).api_key == "cloud-key-from-file"


async def test_the_options_reach_client_connect(
    monkeypatch: pytest.MonkeyPatch, pki: dict[str, Path], tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    async def fake_connect(target_host: str, **kwargs: Any) -> str:
        seen.update(kwargs, target_host=target_host)
        return "client"

    monkeypatch.setattr(Client, "connect", fake_connect)
    settings = Settings(
        data_dir=tmp_path,
        temporal_address="ns.acct.tmprl.cloud:7233",
        namespace="ns.acct",
        payload_keys=KeyRing.new_key_line("k1"),
        temporal_tls_cert_file=pki["cert"],
        temporal_tls_key_file=pki["key"],
        temporal_api_key="cloud-key",
    )
    assert await connect(settings, lazy=True) == "client"  # type: ignore[comparison-overlap]
    assert seen["target_host"] == "ns.acct.tmprl.cloud:7233" and seen["namespace"] == "ns.acct"
    assert seen["api_key"] == "cloud-key" and seen["lazy"] is True
    assert seen["tls"] == TLSConfig(client_cert=pki["cert"].read_bytes(), client_private_key=pki["key"].read_bytes())
    assert Client.connect is fake_connect  # type: ignore[comparison-overlap]


# --- bad combinations -------------------------------------------------------------------------------


def test_a_certificate_without_its_key_names_both(monkeypatch: pytest.MonkeyPatch, pki: dict[str, Path]) -> None:
    monkeypatch.setenv("PATHWAY_TEMPORAL_TLS_CERT_FILE", str(pki["cert"]))
    with pytest.raises(ConfigError) as refused:
        cluster_options(Settings())
    assert "PATHWAY_TEMPORAL_TLS_CERT_FILE" in str(refused.value)
    assert "PATHWAY_TEMPORAL_TLS_KEY_FILE is not" in str(refused.value)


def test_a_key_without_its_certificate_names_both(monkeypatch: pytest.MonkeyPatch, pki: dict[str, Path]) -> None:
    monkeypatch.setenv("PATHWAY_TEMPORAL_TLS_KEY_FILE", str(pki["key"]))
    with pytest.raises(ConfigError, match="PATHWAY_TEMPORAL_TLS_CERT_FILE is not"):
        cluster_options(Settings())


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"PATHWAY_TEMPORAL_API_KEY": "a", "PATHWAY_TEMPORAL_API_KEY_FILE": "/etc/key"},
            "PATHWAY_TEMPORAL_API_KEY or PATHWAY_TEMPORAL_API_KEY_FILE, not both",
        ),
        (
            {"PATHWAY_TEMPORAL_TLS": "false", "PATHWAY_TEMPORAL_API_KEY": "a"},
            "TLS is false but PATHWAY_TEMPORAL_API_KEY",
        ),
        (
            {"PATHWAY_TEMPORAL_TLS": "false", "PATHWAY_TEMPORAL_TLS_SERVER_NAME": "x"},
            "TLS is false but PATHWAY_TEMPORAL_TLS_SERVER_NAME",
        ),
        ({"PATHWAY_TEMPORAL_API_KEY": "  "}, "API key .* is empty"),
        (
            {"PATHWAY_TEMPORAL_TLS_CA_FILE": "/nonexistent/ca.pem"},
            r"cannot read .*ca.pem \(PATHWAY_TEMPORAL_TLS_CA_FILE\)",
        ),
    ],
)
def test_bad_combinations_are_config_errors(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        cluster_options(Settings())


def test_an_empty_key_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "api.key").write_text("\n")
    monkeypatch.setenv("PATHWAY_TEMPORAL_API_KEY_FILE", str(tmp_path / "api.key"))
    with pytest.raises(ConfigError, match="PATHWAY_TEMPORAL_API_KEY_FILE"):
        cluster_options(Settings())


# --- from a profile file ----------------------------------------------------------------------------


def test_a_profile_configures_the_cluster_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pki: dict[str, Path]
) -> None:
    profile = tmp_path / "profile" / "production.toml"
    profile.parent.mkdir()
    (profile.parent / "certs").mkdir()
    for name in ("cert", "key"):
        (profile.parent / "certs" / f"{name}.pem").write_bytes(pki[name].read_bytes())
    profile.write_text(
        'temporal_address = "temporal.example.org:7233"\n'
        'PATHWAY_NAMESPACE = "from-profile"\n'  # the variable's name works too
        'temporal_tls_cert_file = "certs/cert.pem"\n'  # relative to the profile
        'temporal_tls_key_file = "certs/key.pem"\n'
        f'temporal_tls_ca_file = "{pki["ca"]}"\n'  # absolute stays as it is
        "database_pool_size = 12\n"
    )
    monkeypatch.setenv("PATHWAY_PROFILE_FILE", str(profile))
    monkeypatch.setenv("PATHWAY_NAMESPACE", "from-environment")
    settings = Settings()
    assert settings.temporal_address == "temporal.example.org:7233"
    assert settings.namespace == "from-environment"
    assert settings.database_pool_size == 12
    tls = tls_of(cluster_options(settings))
    assert tls.client_cert == pki["cert"].read_bytes() and tls.client_private_key == pki["key"].read_bytes()
    assert tls.server_root_ca_cert == pki["ca"].read_bytes()


def test_a_profile_can_be_given_directly(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('temporal_api_key = "cloud-key"\n')
    assert cluster_options(Settings(profile_file=profile)).api_key == "cloud-key"


def test_a_profile_with_a_certificate_but_no_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pki: dict[str, Path]
) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(f'temporal_tls_cert_file = "{pki["cert"]}"\n')
    monkeypatch.setenv("PATHWAY_PROFILE_FILE", str(profile))
    with pytest.raises(ConfigError, match="PATHWAY_TEMPORAL_TLS_CERT_FILE and PATHWAY_TEMPORAL_TLS_KEY_FILE"):
        cluster_options(Settings())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('temporal_adress = "x"\n', r"unknown settings: temporal_adress \(known: .*temporal_address"),
        ("temporal_address = \n", "not valid TOML"),
        ('namespace = ["a", "b"]\n', "namespace must be a single value"),
        ('profile_file = "other.toml"\n', "unknown settings: profile_file"),
    ],
)
def test_a_bad_profile_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str, message: str
) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(content)
    monkeypatch.setenv("PATHWAY_PROFILE_FILE", str(profile))
    with pytest.raises(ConfigError, match=message):
        Settings()


def test_a_missing_profile_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATHWAY_PROFILE_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"cannot read the profile .*missing.toml \(PATHWAY_PROFILE_FILE\)"):
        Settings()


def test_a_profile_value_of_the_wrong_type_names_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('database_pool_size = "many"\n')
    monkeypatch.setenv("PATHWAY_PROFILE_FILE", str(profile))
    with pytest.raises(ValidationError, match="database_pool_size"):
        Settings()


# --- the store's pool -------------------------------------------------------------------------------


def test_pool_sizes_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATHWAY_DATABASE_POOL_SIZE", "0")
    with pytest.raises(ValidationError, match="database_pool_size"):
        Settings()
    monkeypatch.setenv("PATHWAY_DATABASE_POOL_SIZE", "3")
    monkeypatch.setenv("PATHWAY_DATABASE_MAX_OVERFLOW", "-1")
    with pytest.raises(ValidationError, match="database_max_overflow"):
        Settings()


async def test_pool_sizes_reach_the_postgresql_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATHWAY_DATABASE_URL", TEST_DATABASE_URL)
    monkeypatch.setenv("PATHWAY_DATABASE_POOL_SIZE", "3")
    monkeypatch.setenv("PATHWAY_DATABASE_MAX_OVERFLOW", "7")
    store = connect_store(Settings())  # as every process opens its store
    try:
        async with store.engine.connect() as conn:  # a real server: fails, never skips, when it is down
            assert (await conn.execute(text("select 1"))).scalar() == 1
        pool: Any = store.engine.pool
        assert pool.size() == 3
        assert pool._max_overflow == 7
    finally:
        await store.close()


async def test_sqlite_ignores_pool_sizes(tmp_path: Path) -> None:
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", pool_size=3, max_overflow=7)
    try:
        async with store.engine.connect() as conn:
            assert (await conn.execute(text("select 1"))).scalar() == 1
    finally:
        await store.close()


# --- no secret made up in production --------------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "named"),
    [
        (lambda settings: settings.case_id_key, "PATHWAY_ID_KEY"),
        (lambda settings: settings.web_key, "PATHWAY_WEB_SECRET"),
        (lambda settings: settings.token_secret, "PATHWAY_JWT_SECRET"),
        (lambda settings: settings.payload_key_ring, "PATHWAY_PAYLOAD_KEYS"),
        (lambda settings: settings.master_key_ring, "PATHWAY_MASTER_KEYS"),
        (lambda settings: settings.checkpoint_signing_key, "PATHWAY_CHECKPOINT_KEY"),
    ],
)
def test_with_generation_off_a_missing_secret_is_an_error_naming_it(
    tmp_path: Path, read: Callable[[Settings], object], named: str
) -> None:
    settings = Settings(data_dir=tmp_path / "data", generate_missing_secrets=False)
    with pytest.raises(ConfigError, match=named):
        read(settings)
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())
    # Dev mode (the default) makes it instead, in the data directory.
    read(Settings(data_dir=tmp_path / "dev"))
    assert any((tmp_path / "dev").iterdir())
