"""The real `pathway` command's exit statuses (cli/exits.py, README "Exit statuses"): each kind of
ending has its own status, and with --json a refusal or failure is one JSON object on stdout. None
of these needs Temporal: nothing listens on port 1, which is itself the "unavailable" case."""

import asyncio
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from cli.exits import STATUS_OF_REFUSAL, ExitStatus
from domain.errors import Refusal
from store.event_store import EventStore
from tests.cli.support import Completed, pathway
from tests.store.support import StoreCase

START = ("case", "start", "--site", "demo", "--setting", "custody", "--source", "custody_staff", "--ref", "R-1")


def env_for(data_dir: Path) -> dict[str, str]:
    return {"PATHWAY_DATA_DIR": str(data_dir), "PATHWAY_TEMPORAL_ADDRESS": "localhost:1"}


def json_error(result: Completed, status: ExitStatus) -> dict[str, Any]:
    error = result.json_error(status)
    assert error["status"] == status.name.lower()
    return error


async def test_version_comes_from_the_installed_package(tmp_path: Path) -> None:
    shown = await pathway("--version", env=env_for(tmp_path))
    assert shown.status == ExitStatus.OK and shown.stdout == f"pathway {version('pathway')}\n"
    assert re.fullmatch(r"pathway \d+\.\d+\.\d+\S*\n", shown.stdout)
    described = await pathway("--help", env=env_for(tmp_path))
    assert "3 refused" in " ".join(described.stdout.split())


@pytest.fixture
async def data_dir(tmp_path: Path) -> Path:
    """A data directory whose store holds one case: made before the commands run side by side, which
    would otherwise race each other to create it."""
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    await StoreCase(store).open()
    await store.close()
    return tmp_path


async def test_each_kind_of_ending_has_its_own_status(data_dir: Path) -> None:
    env = env_for(data_dir)
    parser_usage, own_usage, refused, not_found, unavailable, failed = await asyncio.gather(
        pathway("case", "list", env=env),  # no --as: click's own usage error
        pathway("audit", "verify", "--as", "au-001", env=env),  # neither a case nor --all
        pathway("audit", "rebuild-projections", "--as", "au-001", env=env),
        pathway("audit", "verify", "case-nope", "--as", "au-001", env=env),
        pathway(*START, "--as", "pr-001", "--age-band", "adult", env=env),
        pathway("case", "list", "--as", "pr-001", env={**env, "PATHWAY_MASTER_KEYS": "not a key"}),
    )
    assert parser_usage.status == ExitStatus.USAGE and "Missing option '--as'" in parser_usage.stderr
    assert own_usage.status == ExitStatus.USAGE and own_usage.stderr == "error: give one case id or --all\n"
    assert refused.status == ExitStatus.REFUSED
    assert refused.stderr == (
        "error: an auditor cannot change the configuration (allowed: admin) (rule: role_not_allowed)\n"
    )
    assert not_found.status == ExitStatus.NOT_FOUND
    assert not_found.stderr == "error: there is no case case-nope (rule: case_unknown)\n"
    assert unavailable.status == ExitStatus.UNAVAILABLE
    assert unavailable.stderr.startswith("error: cannot reach Temporal at localhost:1")
    assert failed.status == ExitStatus.FAILED
    assert failed.stderr.startswith("error: the keys in PATHWAY_MASTER_KEYS cannot be used")
    for result in (parser_usage, own_usage, refused, not_found, unavailable, failed):
        assert result.stdout == ""


async def test_with_json_a_refusal_is_json_on_stdout(data_dir: Path) -> None:
    env = env_for(data_dir)
    refused, unknown_staff, invalid, unavailable, report, failed = await asyncio.gather(
        pathway("audit", "verify", "--all", "--as", "pr-001", "--json", env=env),
        pathway("case", "list", "--as", "nobody", "--json", env=env),
        pathway(*START, "--as", "pr-001", "--age-band", "adult", "--nhs-number", "12", "--json", env=env),
        pathway(*START, "--as", "pr-001", "--age-band", "adult", "--json", env=env),
        pathway("report", "--as", "lw-001", "--format", "json", env=env),
        pathway("case", "list", "--as", "pr-001", "--json", env={**env, "PATHWAY_MASTER_KEYS": "not a key"}),
    )
    assert json_error(refused, ExitStatus.REFUSED) == {
        "status": "refused",
        "exit_status": 3,
        "rule": "role_not_allowed",
        "message": "a practitioner cannot verify the records (allowed: auditor)",
        "fields": {},
    }
    assert json_error(unknown_staff, ExitStatus.NOT_FOUND)["rule"] == "unknown_staff"
    bad_input = json_error(invalid, ExitStatus.USAGE)
    assert bad_input["rule"] == "invalid_input" and list(bad_input["fields"]) == ["nhs_number"]
    assert "nhs_number" in bad_input["message"]
    assert json_error(unavailable, ExitStatus.UNAVAILABLE)["message"].startswith("cannot reach Temporal")
    assert json_error(report, ExitStatus.REFUSED)["rule"] == "role_not_allowed"  # --format json asks too
    assert json_error(failed, ExitStatus.FAILED)["rule"] is None
    # Without --json the same refusal is one text line on stderr.
    text = await pathway("audit", "verify", "--all", "--as", "pr-001", env=env)
    assert text.status == ExitStatus.REFUSED and text.stdout == "" and text.stderr.count("\n") == 1


def test_every_kind_of_refusal_has_its_exit_status() -> None:
    assert set(STATUS_OF_REFUSAL) == set(Refusal)
    assert STATUS_OF_REFUSAL[Refusal.INVALID] is ExitStatus.USAGE
    assert STATUS_OF_REFUSAL[Refusal.FORBIDDEN] is STATUS_OF_REFUSAL[Refusal.STALE] is ExitStatus.REFUSED
