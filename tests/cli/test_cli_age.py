"""Issue 17 through the `pathway` CLI: a 9-year-old is refused, the band comes from the date of
birth, `--identified-at` is kept apart from when the case was recorded, and a case started with no
date of birth is "age not verified" until `case date-of-birth` records one."""

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from cli.exits import ExitStatus
from store.event_store import EventStore
from tests.cli.support import Completed, pathway
from tests.conftest import worker_for


def years_ago(years: int, days: int = 0) -> str:
    today = date.today()
    return (today.replace(year=today.year - years) + timedelta(days=days)).isoformat()


async def test_ages_and_identification_times_through_the_cli(temporal_env: WorkflowEnvironment, tmp_path: Path) -> None:
    task_queue = f"cli-age-{uuid.uuid4()}"
    env = {
        "PATHWAY_DATA_DIR": str(tmp_path),
        "PATHWAY_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "PATHWAY_TASK_QUEUE": task_queue,
        "PATHWAY_ID_KEY": "cli-age-key",
    }
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()

    async def start(ref: str, *extra: str) -> Completed:
        return await pathway(
            "case", "start", "--site", "demo", "--setting", "custody", "--source", "custody_staff",
            "--ref", ref, "--as", "pr-001", "--json", *extra, env=env,
        )  # fmt: skip

    async with worker_for(temporal_env.client, store, task_queue):
        child = await start("CUST/AGE-9", "--date-of-birth", years_ago(10, 1))
        # `start` asks for --json, so its refusals are JSON (cli/exits.py): invalid input, status 2.
        refusal = child.json_error(ExitStatus.USAGE)
        assert refusal["rule"] == "under_criminal_responsibility" and "no one under 10" in refusal["message"]
        contradicted = await start("CUST/AGE-18", "--date-of-birth", years_ago(18), "--age-band", "child")
        assert contradicted.json_error(ExitStatus.USAGE)["rule"] == "age_band_contradicts_birth_date"
        no_band = await start("CUST/AGE-NONE")
        assert no_band.json_error(ExitStatus.USAGE)["rule"] == "age_band_required"
        assert await store.list_cases() == []  # nothing of the refused ones was recorded

        arrival = (datetime.now(UTC) - timedelta(hours=4, minutes=30)).replace(microsecond=0)
        fifteen = await start("CUST/AGE-15", "--date-of-birth", years_ago(15), "--identified-at", arrival.isoformat())
        assert fifteen.status == 0, fifteen.stderr
        case_id = fifteen.json()["case_id"]
        shown = await pathway("case", "show", case_id, "--as", "pr-001", "--json", env=env)
        state = shown.json()["state"]
        assert (state["age_band"], state["age_verified"]) == ("child", True)
        assert datetime.fromisoformat(state["identified_at"]) == arrival
        assert datetime.fromisoformat(state["opened_at"]) > arrival + timedelta(hours=4)
        text = await pathway("case", "show", case_id, "--as", "pr-001", env=env)
        assert "identified " in text.stdout and "recorded " in text.stdout

        unverified = await start("CUST/AGE-UNKNOWN", "--age-band", "child", "--identified-at", "2020-01-01T10:00")
        assert unverified.json_error(ExitStatus.USAGE)["rule"] == "identified_too_long_ago"
        unverified = await start("CUST/AGE-UNKNOWN", "--age-band", "child")
        assert unverified.status == 0, unverified.stderr
        unknown_id = unverified.json()["case_id"]
        assert unverified.json()["age_verified"] is False
        listed = await pathway("case", "show", unknown_id, "--as", "pr-001", env=env)
        assert "child (age not verified)" in listed.stdout

        events = len(await store.read_stream(unknown_id))
        too_young = await pathway(
            "case", "date-of-birth", unknown_id, "--date-of-birth", years_ago(9), "--as", "pr-001", env=env
        )
        assert too_young.status == ExitStatus.USAGE and "rule: under_criminal_responsibility" in too_young.stderr
        assert len(await store.read_stream(unknown_id)) == events
        adult = await pathway(
            "case", "date-of-birth", unknown_id, "--date-of-birth", years_ago(30), "--as", "pr-001", "--json", env=env
        )
        assert adult.status == 0, adult.stderr
        assert (adult.json()["age_band"], adult.json()["age_verified"]) == ("adult", True)
        recorded = [e.event.type for e in await store.read_stream(unknown_id)][events:]
        assert recorded == ["DateOfBirthRecorded", "AgeBandChanged"]
    await store.close()
