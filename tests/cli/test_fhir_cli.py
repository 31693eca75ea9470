"""`pathway fhir export CASE --as STAFF [--out FILE]` prints (or writes) a Bundle that passes the
independent FHIR validators (tests/fhir); roles that may not export are refused with status 2 and
nothing recorded."""

import json
import uuid
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from temporalio.testing import WorkflowEnvironment

from cli.exits import ExitStatus
from store.access_log import AccessLog
from store.event_store import EventStore
from tests.cli.support import pathway
from tests.conftest import worker_for
from tests.fhir.validators import assert_valid


async def test_fhir_export_prints_a_bundle_and_refuses_other_roles(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    task_queue = f"cli-fhir-{uuid.uuid4()}"
    env = {
        "PATHWAY_DATA_DIR": str(tmp_path),
        "PATHWAY_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "PATHWAY_TASK_QUEUE": task_queue,
        "PATHWAY_ID_KEY": "cli-fhir-test-key",
    }
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    try:
        async with worker_for(temporal_env.client, store, task_queue):
            started = await pathway(
                "case", "start", "--site", "demo", "--setting", "custody", "--source", "custody_staff",
                "--ref", "CUST/F1", "--as", "pr-001", "--person-name", "Sam Example", "--age-band", "adult",
                "--json", env=env,
            )  # fmt: skip
            assert started.status == 0, started.stderr
            case_id = started.json()["case_id"]

        exported = await pathway("fhir", "export", case_id, "--as", "pr-001", env=env)
        assert exported.status == 0, exported.stderr
        bundle = Bundle.model_validate_json(exported.stdout)
        assert_valid(json.loads(exported.stdout))
        assert bundle.type == "collection"
        assert '"text": "Sam Example"' in exported.stdout and "sealed:v1:" not in exported.stdout
        assert (await AccessLog(store.engine).list(case_id))[-1].action == "fhir_export"

        out = tmp_path / "export" / "case.fhir.json"
        out.parent.mkdir()
        written = await pathway("fhir", "export", case_id, "--as", "pr-001", "--out", str(out), env=env)
        assert written.status == 0 and written.stdout == "", written.stderr
        assert f"wrote {out}" in written.stderr and "FHIR R4 4.0.1" in written.stderr
        written_bundle: Any = Bundle.model_validate_json(out.read_text())
        assert written_bundle.identifier.value == case_id

        before = len(await AccessLog(store.engine).list(case_id))
        refused = await pathway("fhir", "export", case_id, "--as", "lw-001", env=env)
        assert refused.status == ExitStatus.REFUSED and "cannot export a case as FHIR" in refused.stderr
        assert len(await AccessLog(store.engine).list(case_id)) == before
    finally:
        await store.close()
