"""Runtime settings (environment variables PATHWAY_*) and the site configuration file."""

import os
import secrets
import tomllib
import types
from collections.abc import Callable
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, get_args

import holidays
from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from domain.config import PathwayConfig
from domain.errors import described
from store.checkpoints import CheckpointError, PublicKey, SigningKey
from store.keyring import KeyRing, KeyRingError
from store.sqlite import private_directory, private_file

SHIPPED_CONFIG = Path(__file__).parent / "pathway.toml"

# The worker's workflow cache (PATHWAY_MAX_CACHED_WORKFLOWS). The worker's memory follows the cases it
# caches (about 0.4 MiB each), hardly the cases open: caching 1,000 it held under 600 MiB with 1,000 to
# 40,000 open cases, growing under 1 KB per open case (bench/README.md, "Scale"), which leaves 40% of
# the 1 GiB limit for bursts at 40,000 open; 1,500 would leave 20%. More would not spare many replays:
# an evicted case replays only its current run, at its next command, and among 40,000 open cases most
# are idle for days, evicted at any of these sizes.
DEFAULT_MAX_CACHED_WORKFLOWS = 1000
# Every workflow task needs its workflow in the cache: below the worker's 100 workflow task slots
# (the SDK's default), the cache rather than the slots would bound the tasks in flight.
MIN_CACHED_WORKFLOWS = 100


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PATHWAY_")

    data_dir: Path = Path(".pathway")
    temporal_address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "pathway-cases"
    database_url: str | None = None
    config_file: Path = SHIPPED_CONFIG
    # Dev mode makes any missing key or secret in the data directory on first use. Set it false in
    # production: a missing secret is then an error naming it, never a key one container made up.
    generate_missing_secrets: bool = True
    # Secret that makes case ids opaque (see domain/identity.py); dev mode keeps one in the data dir.
    id_key: str | None = None
    # Where notifications go. Without an SMTP host they are recorded but not sent.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "pathway@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    inbox_url: str = "http://localhost:8000"
    # The Temporal UI, which may call the API's codec endpoint from the browser (CORS).
    temporal_ui_url: str = "http://localhost:8233"
    # API sign-in: dev mode signs tokens with a shared secret (generated into the data dir); in
    # production set the OIDC issuer's JWKS URL (and issuer/audience) instead.
    jwt_secret: str | None = None
    oidc_jwks_url: str | None = None
    jwt_issuer: str = "pathway-dev"
    jwt_audience: str = "pathway"
    # The longest a sign-in token may last (from its iat to its exp); a longer one is refused.
    token_max_hours: float = Field(default=12, gt=0, le=24)
    # Sign-in cookies only over HTTPS. On by default for `pathway api` (behind TLS, whatever the proxy
    # says the scheme is); `pathway dev` serves plain HTTP on localhost and turns it off.
    cookie_secure: bool = True
    # Keys that encrypt every Temporal payload: `key-id base64-key` per line (or comma-separated),
    # oldest first, the last one sealing new payloads. From the environment or a file, never the repo;
    # dev mode generates one into the data directory.
    payload_keys: str | None = None
    payload_keys_file: Path | None = None
    # Master keys that wrap each person's data key (same format); rotate by adding one, then
    # `pathway data rewrap`.
    master_keys: str | None = None
    master_keys_file: Path | None = None
    # Keys of the person index's keyed hashes (same format; HMAC keys, not data keys): rotate by adding
    # one, then `pathway person reindex`.
    index_keys: str | None = None
    index_keys_file: Path | None = None
    # The Ed25519 private key that signs checkpoints of the event store (`pathway audit checkpoint`):
    # base64 of its 32 bytes, or PEM. From the environment or a file; dev mode generates one into the
    # data directory. Verifiers need only its public key, which every checkpoint carries.
    checkpoint_key: str | None = None
    checkpoint_key_file: Path | None = None
    # Signs the web pages' CSRF tokens; every API replica needs the same one.
    web_secret: str | None = None
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    # --- Health, metrics and shutdown of the worker process (workers/health.py, workers/metrics.py) ---
    # The worker serves /healthz, /readyz and /metrics on this port (all interfaces); the API serves
    # the same routes on its own port.
    health_port: int = Field(default=8081, ge=0, le=65535)
    # Where the SDK's Prometheus exporter binds (host:port); each process's /metrics serves its text.
    # Unset: a free loopback port, read only by the process itself.
    metrics_exporter_address: str | None = None
    # How often the worker recounts open cases by stage and overdue tasks from the projections.
    metrics_refresh_seconds: float = Field(default=15.0, gt=0)
    # On SIGTERM/SIGINT, how long in-flight activities get to finish before they are cancelled (and
    # retried elsewhere); keep it below the orchestrator's kill deadline.
    graceful_shutdown_seconds: float = Field(default=30.0, ge=0)
    # How many workflows the worker keeps in memory (the SDK's sticky cache); see
    # DEFAULT_MAX_CACHED_WORKFLOWS for why this many.
    max_cached_workflows: int = Field(default=DEFAULT_MAX_CACHED_WORKFLOWS, ge=MIN_CACHED_WORKFLOWS)

    # --- A real Temporal cluster or Temporal Cloud, the store's pool, and a config profile ----------
    # (deploy/OPERATIONS.md). TLS is on when PATHWAY_TEMPORAL_TLS is true, or unset and any of the
    # CA, client certificate, server name or API key is given. mTLS needs both the client certificate
    # and its key. Temporal Cloud takes an API key (the variable or a file, not both), always over TLS.
    # `workers/client.py` `cluster_options` turns these into `Client.connect` arguments.
    temporal_tls: bool | None = None
    temporal_tls_ca_file: Path | None = None
    temporal_tls_cert_file: Path | None = None
    temporal_tls_key_file: Path | None = None
    temporal_tls_server_name: str | None = None
    temporal_api_key: str | None = None
    temporal_api_key_file: Path | None = None
    # PostgreSQL connection pool of each process (ignored for SQLite): connections kept open, and
    # how many more may be opened under load.
    database_pool_size: int = Field(default=5, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    # A TOML file of these settings by name (`temporal_address = "..."`, or `PATHWAY_TEMPORAL_ADDRESS`);
    # the environment wins over it. Relative paths in it are relative to the file.
    profile_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        init_kwargs = init_settings.init_kwargs if isinstance(init_settings, InitSettingsSource) else {}
        profile = init_kwargs.get("profile_file") or os.environ.get("PATHWAY_PROFILE_FILE") or None
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            _ProfileSource(settings_cls, Path(profile) if profile else None),
            file_secret_settings,
        )

    # --- end of the cluster block --------------------------------------------------------------------

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'pathway.db'}"

    @cached_property
    def case_id_key(self) -> bytes:
        return (self.id_key or self._dev_secret("case-id.key", "PATHWAY_ID_KEY")).encode()

    @cached_property
    def token_secret(self) -> str:
        return self.jwt_secret or self._dev_secret("jwt.key", "PATHWAY_JWT_SECRET")

    @cached_property
    def payload_key_ring(self) -> KeyRing:
        return self._key_ring(self.payload_keys, "PATHWAY_PAYLOAD_KEYS", self.payload_keys_file, "payload.keys")

    @cached_property
    def master_key_ring(self) -> KeyRing:
        return self._key_ring(self.master_keys, "PATHWAY_MASTER_KEYS", self.master_keys_file, "master.keys")

    @cached_property
    def index_key_ring(self) -> KeyRing:
        return self._key_ring(self.index_keys, "PATHWAY_INDEX_KEYS", self.index_keys_file, "index.keys")

    @cached_property
    def checkpoint_signing_key(self) -> SigningKey:
        return self._checkpoint_key(SigningKey.new_key_text)

    @property
    def checkpoint_public_key(self) -> PublicKey:
        """The configured checkpoint key's public half. Never makes a dev key: verifying writes nothing,
        and a new key could not have signed any checkpoint anyway."""
        return self._checkpoint_key(None).public

    def _checkpoint_key(self, new_key: Callable[[], str] | None) -> SigningKey:
        text, source = self._key_text(
            self.checkpoint_key, "PATHWAY_CHECKPOINT_KEY", self.checkpoint_key_file, "checkpoint.key", new_key
        )
        try:
            return SigningKey.parse(text)
        except CheckpointError as error:
            raise ConfigError(f"the checkpoint key in {source} cannot be used: {error}") from None

    def _key_ring(self, text: str | None, variable: str, named_file: Path | None, dev_file: str) -> KeyRing:
        return _key_ring(*self._key_text(text, variable, named_file, dev_file, lambda: KeyRing.new_key_line("k1")))

    def _key_text(
        self,
        text: str | None,
        variable: str,
        named_file: Path | None,
        dev_file: str,
        new_key: Callable[[], str] | None,
    ) -> tuple[str, str]:
        """A key's text and where it came from: the variable, else the named file, else (dev mode) a
        file in the data directory, made on first use unless `new_key` is None."""
        if text is not None:  # set but empty is a mistake, not a request for a dev key
            return text, variable
        key_file = named_file or self._dev_file(dev_file)
        if named_file is None and not key_file.exists():
            if new_key is None or not self.generate_missing_secrets:
                raise ConfigError(f"there is no key: set {variable} or {variable}_FILE")
            self._write_secret(key_file, new_key())
        try:
            return key_file.read_text(), str(key_file)
        except OSError as error:
            raise ConfigError(f"cannot read the keys in {key_file}: {error.strerror}") from None

    @cached_property
    def web_key(self) -> bytes:
        return (self.web_secret or self._dev_secret("web.key", "PATHWAY_WEB_SECRET")).encode()

    def _dev_secret(self, name: str, variable: str) -> str:
        """A secret kept in the data directory, made on first use (dev mode only)."""
        key_file = self._dev_file(name)
        if not key_file.exists():
            if not self.generate_missing_secrets:
                raise ConfigError(f"{variable} is not set (and PATHWAY_GENERATE_MISSING_SECRETS is false)")
            self._write_secret(key_file, secrets.token_hex(32))
        return key_file.read_text().strip()

    def prepare_data_dir(self) -> Path:
        """The data directory, private to the user Pathway runs as (0700): made so, or tightened to
        it. It holds the SQLite database and the dev secrets; create it through this, not mkdir."""
        private_directory(self.data_dir)
        return self.data_dir

    def _dev_file(self, name: str) -> Path:
        """A dev secret's file in the data directory. A data directory made by an earlier version (or
        by mkdir) is tightened on the way; a missing one is not made until a secret is written."""
        if self.data_dir.is_dir():
            self.prepare_data_dir()
        return self.data_dir / name

    def _write_secret(self, key_file: Path, text: str) -> None:
        self.prepare_data_dir()
        private_file(key_file)  # 0600 before the secret is in it
        key_file.write_text(text + "\n")

    @cached_property
    def pathway_config(self) -> PathwayConfig:
        return load_config(self.config_file)


def _key_ring(text: str, source: str) -> KeyRing:
    try:
        return KeyRing.parse(text)
    except KeyRingError as error:
        raise ConfigError(f"the keys in {source} cannot be used: {error}") from None


class ConfigError(Exception):
    pass


class _ProfileSource(PydanticBaseSettingsSource):
    """PATHWAY_PROFILE_FILE: settings from a TOML file, below the environment (see Settings)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        return {} if self.path is None else read_profile(self.path, self.settings_cls.model_fields)


def read_profile(path: Path, fields: dict[str, FieldInfo]) -> dict[str, Any]:
    """A profile's settings by field name; unknown names and tables are refused with a ConfigError."""
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"cannot read the profile {path} (PATHWAY_PROFILE_FILE): {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"the profile {path} (PATHWAY_PROFILE_FILE) is not valid TOML: {error}") from None
    values: dict[str, Any] = {}
    unknown = []
    for key, value in raw.items():
        name = key.lower().removeprefix("pathway_")
        if name not in fields or name == "profile_file":
            unknown.append(key)
            continue
        if isinstance(value, dict | list):
            raise ConfigError(f"the profile {path}: {key} must be a single value, not a table or a list")
        if isinstance(value, str) and value and _is_path(fields[name]):
            value = str(path.parent / value)  # an absolute value stays as it is
        values[name] = value
    if unknown:
        raise ConfigError(
            f"the profile {path} names unknown settings: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(n for n in fields if n != 'profile_file'))})"
        )
    return values


def _is_path(field: FieldInfo) -> bool:
    annotation = field.annotation
    return annotation is Path or (isinstance(annotation, types.UnionType) and Path in get_args(annotation))


def load_config(path: Path) -> PathwayConfig:
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"cannot read configuration {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"configuration {path} is not valid TOML: {error}") from None
    try:
        config = PathwayConfig.model_validate(raw)
    except ValidationError as error:
        # Each problem as "where: what" (services.3.snomed.code: ... its check digit ... is wrong),
        # without pydantic's error types and links, which say nothing to whoever edits the file.
        raise ConfigError(f"configuration {path} is not valid: {described(error.errors())}") from None
    return with_bank_holidays(config)


def with_bank_holidays(config: PathwayConfig, today: date | None = None) -> PathwayConfig:
    """Add England and Wales bank holidays (from the maintained `holidays` package) to every site
    calendar that asks for them, from last year to five years ahead."""
    year = (today or date.today()).year
    bank_holidays = set(holidays.country_holidays("GB", subdiv="ENG", years=range(year - 1, year + 6)))
    sites = {}
    for key, site in config.sites.items():
        calendar = site.calendar
        if calendar.bank_holidays:
            calendar = calendar.model_copy(update={"holidays": tuple(sorted(bank_holidays | set(calendar.holidays)))})
        sites[key] = site.model_copy(update={"calendar": calendar})
    return config.model_copy(update={"sites": sites})
