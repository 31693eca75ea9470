"""`pathway data ...` refuses what it must, in one line, before anything changes (no Temporal needed)."""

from pathlib import Path

from cli.exits import ExitStatus
from tests.cli.support import pathway

NOBODY = "person-00000000-0000-4000-8000-000000000000"


async def test_shredding_is_for_admins_and_names_what_is_wrong(tmp_path: Path) -> None:
    env = {"PATHWAY_DATA_DIR": str(tmp_path / "data"), "PATHWAY_TEMPORAL_ADDRESS": "localhost:1"}

    refused = await pathway("data", "shred", NOBODY, "--reason", "record made in error", "--as", "pr-001", env=env)
    assert refused.status == ExitStatus.REFUSED
    assert refused.stderr.strip() == (
        "error: a practitioner cannot shred a person's personal data (allowed: admin) (rule: role_not_allowed)"
    )

    unknown = await pathway("data", "shred", NOBODY, "--reason", "record made in error", "--as", "ad-001", env=env)
    assert unknown.status == ExitStatus.NOT_FOUND and f"there is no person {NOBODY}" in unknown.stderr

    no_case = await pathway("data", "shred", "case-x", "--reason", "record made in error", "--as", "ad-001", env=env)
    assert no_case.status == ExitStatus.NOT_FOUND and "there is no personal data for case case-x" in no_case.stderr

    short = await pathway("data", "shred", NOBODY, "--reason", "x", "--as", "ad-001", env=env)
    assert short.status == ExitStatus.USAGE and "3 to 500 characters" in short.stderr

    rewrapped = await pathway("data", "rewrap", "--as", "ad-001", env=env)
    assert rewrapped.status == 0 and rewrapped.stdout.startswith("0 data key(s) now wrapped under master key")
