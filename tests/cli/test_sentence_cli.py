"""`pathway case start` for a reference that already has a case: before sentence it says so, naming
the case it found; once that case reached sentence or disposal it is refused (status 2, one line)."""

import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from cli.exits import ExitStatus
from store.event_store import EventStore
from tests.cli.support import pathway
from tests.conftest import worker_for


async def test_a_known_reference_is_found_and_said_so_then_refused_after_sentence(
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
    ref = f"COURT/{uuid.uuid4().hex[:6]}"
    start = [
        "case", "start", "--site", "demo", "--setting", "magistrates_court", "--source", "self_referral",
        "--ref", ref, "--as", "pr-001", "--person-name", "Alex Example", "--age-band", "adult",
    ]  # fmt: skip
    async with worker_for(temporal_env.client, store, task_queue):
        first = await pathway(*start, "--json", env=env)
        assert first.status == 0, first.stderr
        case_id = first.json()["case_id"]
        assert first.json()["found_existing"] is False

        again = await pathway(*start, env=env)
        assert again.status == 0, again.stderr
        assert f"not opened again: this reference already has case {case_id}" in again.stdout

        charged = await pathway(
            "case", "justice-outcome", case_id, "--outcome", "charged_bailed", "--as", "pr-001", "--json", env=env
        )  # fmt: skip
        assert charged.status == 0 and charged.json()["justice_outcome"] == "charged_bailed", charged.stderr
        assert (await pathway(*start, env=env)).status == 0  # a charge is not a sentence

        closed = await pathway(
            "case", "close", case_id, "--reason", "pathway_complete", "--justice-outcome", "custodial_sentence",
            "--as", "pr-001", env=env,
        )  # fmt: skip
        assert closed.status == 0, closed.stderr
        events = len(await store.read_stream(case_id))

        refused = await pathway(*start, env=env)
        assert refused.status == ExitStatus.REFUSED
        assert "case_past_sentence" in refused.stderr and "RECONNECT" in refused.stderr
        assert case_id in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
        assert len(await store.read_stream(case_id)) == events
