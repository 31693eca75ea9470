"""PATHWAY_MAX_CACHED_WORKFLOWS: the worker's workflow cache, from the settings to the SDK's Worker."""

import os
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment

from store.event_store import EventStore
from workers.settings import DEFAULT_MAX_CACHED_WORKFLOWS, MIN_CACHED_WORKFLOWS, Settings
from workers.worker import worker_from_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PATHWAY_* variable of the machine running the tests leaks in; dev secrets go to tmp_path."""
    for name in list(os.environ):
        if name.upper().startswith("PATHWAY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PATHWAY_DATA_DIR", str(tmp_path / "data"))


def test_the_default_is_the_documented_one() -> None:
    assert Settings().max_cached_workflows == DEFAULT_MAX_CACHED_WORKFLOWS


@pytest.mark.parametrize(("variable", "cached"), [("1234", 1234), (None, DEFAULT_MAX_CACHED_WORKFLOWS)])
async def test_the_setting_reaches_the_worker(
    monkeypatch: pytest.MonkeyPatch,
    temporal_env: WorkflowEnvironment,
    sqlite_store: EventStore,
    variable: str | None,
    cached: int,
) -> None:
    # A queue of its own: the SDK refuses a second worker on the same queue of the shared server.
    monkeypatch.setenv("PATHWAY_TASK_QUEUE", f"cache-setting-{uuid.uuid4()}")
    if variable is not None:
        monkeypatch.setenv("PATHWAY_MAX_CACHED_WORKFLOWS", variable)
    worker = worker_from_settings(temporal_env.client, sqlite_store, Settings())
    assert worker.config()["max_cached_workflows"] == cached


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("many", "a valid integer"),
        ("-1", f"greater than or equal to {MIN_CACHED_WORKFLOWS}"),
        ("0", f"greater than or equal to {MIN_CACHED_WORKFLOWS}"),
        (str(MIN_CACHED_WORKFLOWS - 1), f"greater than or equal to {MIN_CACHED_WORKFLOWS}"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch, value: str, why: str) -> None:
    monkeypatch.setenv("PATHWAY_MAX_CACHED_WORKFLOWS", value)
    with pytest.raises(ValidationError, match=rf"max_cached_workflows\n.*{why}"):
        Settings()


def test_the_least_allowed_value_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATHWAY_MAX_CACHED_WORKFLOWS", str(MIN_CACHED_WORKFLOWS))
    assert Settings().max_cached_workflows == MIN_CACHED_WORKFLOWS
