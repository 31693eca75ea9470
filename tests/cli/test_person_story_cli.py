"""A person's story through the `pathway` CLI, on the real stack (issue 19): `pathway audit person`
prints every episode and their events merged in time order, each line naming its episode;
`pathway fhir export person-...` prints one Patient and each episode's EpisodeOfCare; roles that may
not are refused."""

import json
import re
import uuid
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from temporalio.testing import WorkflowEnvironment

from cli.exits import ExitStatus
from store.event_store import EventStore
from tests.cli.support import Completed, pathway
from tests.conftest import worker_for
from tests.fhir.validators import assert_valid

NHS_NUMBER = "9434765919"


def succeeded(done: Completed) -> Completed:
    assert done.status == 0, (done.stdout, done.stderr)
    return done


async def test_a_persons_story_and_fhir_export_through_the_cli(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    task_queue = f"cli-story-{uuid.uuid4()}"
    env = {
        "PATHWAY_DATA_DIR": str(tmp_path),
        "PATHWAY_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "PATHWAY_TASK_QUEUE": task_queue,
        "PATHWAY_ID_KEY": "cli-story-test-key",
    }
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()

    async def start(staff: str, site: str) -> dict[str, Any]:
        started = await pathway(
            "case", "start", "--site", site, "--setting", "custody", "--source", "custody_staff",
            "--ref", f"CUST/{uuid.uuid4().hex[:8]}", "--age-band", "adult", "--person-name", "Jo Bloggs",
            "--nhs-number", NHS_NUMBER, "--as", staff, "--json", env=env,
        )  # fmt: skip
        state: dict[str, Any] = succeeded(started).json()
        return state

    try:
        async with worker_for(temporal_env.client, store, task_queue):
            first = await start("pr-001", "demo")
            north = await start("pr-002", "north")
        person = first["person_id"]
        assert north["person_id"] == person

        printed = succeeded(await pathway("audit", "person", north["case_id"], "--as", "au-001", env=env))
        lines = printed.stdout.splitlines()
        assert lines[0] == f"person {person}: 2 episode(s)"
        assert [line.split()[0] for line in lines[1:3]] == [first["case_id"], north["case_id"]]
        events = lines[3:-1]
        assert lines[-1] == f"{len(events)} event(s)"
        named = [re.findall(r"\bcase-[0-9a-f-]{36}\b", line)[0] for line in events]
        stored = [len(await store.read_stream(case_id)) for case_id in (first["case_id"], north["case_id"])]
        assert sorted(set(named)) == sorted([first["case_id"], north["case_id"]])
        assert [named.count(first["case_id"]), named.count(north["case_id"])] == stored
        # Merged in time: the north episode opened after the first one's events.
        assert named.index(north["case_id"]) == stored[0]

        as_json = succeeded(await pathway("audit", "person", person, "--as", "au-001", "--format", "json", env=env))
        assert len(json.loads(as_json.stdout)["entries"]) == len(events)

        exported = succeeded(await pathway("fhir", "export", person, "--as", "au-001", env=env))
        bundle = Bundle.model_validate_json(exported.stdout).model_dump(mode="json", exclude_none=True)
        assert_valid(bundle)
        resources = [entry["resource"] for entry in bundle["entry"]]
        assert [r["id"] for r in resources if r["resourceType"] == "Patient"] == [person]
        episodes = [r["identifier"][0]["value"] for r in resources if r["resourceType"] == "EpisodeOfCare"]
        assert episodes == [first["case_id"], north["case_id"]]

        refused = await pathway("audit", "person", person, "--as", "pr-001", env=env)
        assert refused.status == ExitStatus.REFUSED, refused.stderr
        refused = await pathway("fhir", "export", person, "--as", "lw-001", env=env)
        assert refused.status == ExitStatus.REFUSED, refused.stderr
    finally:
        await store.close()
