"""A case driven through the `pathway` CLI from identification to closure."""

import json
import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from cli.exits import ExitStatus
from domain.tasks import TaskKind
from store.event_store import EventStore
from tests.cli.support import pathway
from tests.conftest import worker_for
from tests.workflows.journey import JOURNEY, OUTCOMES


async def test_a_case_goes_through_the_cli_from_identification_to_closure(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    task_queue = f"cli-{uuid.uuid4()}"
    env = {
        "PATHWAY_DATA_DIR": str(tmp_path),
        "PATHWAY_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "PATHWAY_TASK_QUEUE": task_queue,
        "PATHWAY_ID_KEY": "cli-test-key",
    }
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    ref = f"CUST/{uuid.uuid4().hex[:6]}"
    start = [
        "case", "start", "--site", "demo", "--setting", "custody", "--source", "custody_staff",
        "--ref", ref, "--as", "pr-001", "--person-name", "Alex Example", "--date-of-birth", "1990-04-01",
        "--cohort", "veteran", "--json",
    ]  # fmt: skip
    async with worker_for(temporal_env.client, store, task_queue):
        started = await pathway(*start, env=env)
        assert started.status == 0, started.stderr
        case = started.json()
        case_id = case["case_id"]
        assert case["stage"] == "screening" and case["person"]["name"] == "Alex Example"
        assert "Alex" not in case_id and ref not in case_id

        again = await pathway(*start, env=env)
        assert again.status == 0 and again.json()["case_id"] == case_id

        for kind in JOURNEY:
            listed = await pathway("task", "list", "--case", case_id, "--as", "pr-001", "--json", env=env)
            assert listed.status == 0, listed.stderr
            [task] = listed.json()
            assert task["kind"] == kind
            done = await pathway(
                "task", "complete", task["task_id"], "--outcome", json.dumps(OUTCOMES[kind]), "--as", "pr-001",
                "--json", env=env,
            )  # fmt: skip
            assert done.status == 0, done.stderr
        assert done.json()["stage"] == "closed"
        events = len(await store.read_stream(case_id))

        # A refused command: one clear line, a non-zero status, nothing recorded.
        refused = await pathway(
            "task", "complete", task["task_id"], "--outcome", json.dumps(OUTCOMES[TaskKind.CLOSURE]), "--as", "pr-001",
            env=env,
        )  # fmt: skip
        assert refused.status == ExitStatus.REFUSED
        assert refused.stderr.strip().count("\n") == 0 and "rule: case_not_open" in refused.stderr
        malformed = await pathway(
            "task", "complete", task["task_id"], "--outcome", "{not json", "--as", "pr-001", env=env
        )  # fmt: skip
        assert malformed.status == 2 and "not valid JSON" in malformed.stderr
        assert len(await store.read_stream(case_id)) == events

        shown = await pathway("case", "show", case_id, "--as", "pr-001", "--json", env=env)
        assert shown.status == 0 and len(shown.json()["events"]) == events
        closed = await pathway("case", "list", "--stage", "closed", "--as", "pr-001", "--json", env=env)
        assert [c["case_id"] for c in closed.json()] == [case_id]
        verified = await pathway("audit", "verify", case_id, "--as", "au-001", env=env)
        assert verified.status == 0, verified.stdout + verified.stderr
        assert "1 of 1 case(s) verified" in verified.stdout
        assert (await store.verify_chain(case_id)).ok
        assert await store.projection_differences(case_id) == []
    await store.close()


async def test_bad_case_input_is_refused_with_one_line(tmp_path: Path) -> None:
    env = {"PATHWAY_DATA_DIR": str(tmp_path), "PATHWAY_TEMPORAL_ADDRESS": "localhost:1"}
    base = ["case", "start", "--setting", "custody", "--source", "custody_staff", "--ref", "R-1", "--as", "pr-001"]
    unknown_site = await pathway(*base, "--site", "atlantis", env=env)
    assert unknown_site.status == ExitStatus.NOT_FOUND and "there is no site 'atlantis'" in unknown_site.stderr
    bad_staff = await pathway(*base[:-1], "nobody", "--site", "demo", env=env)
    assert bad_staff.status == ExitStatus.NOT_FOUND and "there is no staff member 'nobody'" in bad_staff.stderr
    bad_nhs = await pathway(*base, "--site", "demo", "--nhs-number", "12", env=env)
    assert bad_nhs.status == 2 and "nhs_number" in bad_nhs.stderr
    assert not (tmp_path / "pathway.db").exists() or not await _has_events(tmp_path)


async def _has_events(tmp_path: Path) -> bool:
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    try:
        await store.migrate()
        return bool(await store.case_ids())
    finally:
        await store.close()
