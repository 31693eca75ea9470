"""`pathway audit timeline` and `pathway audit export` (cli/audit_case.py) run as the real command,
against the store a worker wrote a case to."""

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from cli.exits import ExitStatus
from domain.events import StoredEvent
from domain.model import Person
from domain.tasks import TaskKind
from domain.timeline import UK, when
from store.access_log import AccessLog
from store.event_store import EventStore
from tests.cli.support import opened_access_log, pathway
from tests.conftest import case_commands, worker_for
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task

NAME = "Morwenna Achterberg"
NOTE = "Asked that her daughter not be told"
EVENT_LINE = re.compile(r"^\s*(\d+)  (.+)$")


@dataclass
class Recorded:
    case_id: str
    events: list[StoredEvent]
    consented: list[StoredEvent]  # the stream right after consent was recorded


async def drive_a_case(temporal_env: WorkflowEnvironment, store: EventStore, task_queue: str) -> Recorded:
    """Open (with a name), consent, screening (with a note), assessment; then the worker stops."""
    async with worker_for(temporal_env.client, store, task_queue):
        cases = case_commands(temporal_env, store, task_queue)
        command = open_case(f"CUST/{uuid.uuid4().hex[:8]}").model_copy(update={"person": Person(name=NAME)})
        state = await cases.start_case(command)
        consent = OUTCOMES[TaskKind.CONSENT]
        state = await cases.complete_task(open_task(state, TaskKind.CONSENT), consent, PRACTITIONER)
        consented = await store.read_stream(state.case_id)
        screening = {**OUTCOMES[TaskKind.SCREENING], "note": NOTE}
        state = await cases.complete_task(open_task(state, TaskKind.SCREENING), screening, PRACTITIONER)
        assessment = OUTCOMES[TaskKind.ASSESSMENT]
        state = await cases.complete_task(open_task(state, TaskKind.ASSESSMENT), assessment, PRACTITIONER)
    events = await store.read_stream(state.case_id)
    assert len(events) > len(consented) and events[: len(consented)] == consented
    return Recorded(state.case_id, events, consented)


def cli_env(temporal_env: WorkflowEnvironment, data_dir: Path, task_queue: str) -> dict[str, str]:
    """The CLI's settings: the store file the test's worker writes to, and the test's Temporal."""
    return {
        "PATHWAY_DATA_DIR": str(data_dir),
        "PATHWAY_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "PATHWAY_TASK_QUEUE": task_queue,
        "PATHWAY_ID_KEY": "cli-audit-test-key",
    }


def event_lines(stdout: str) -> list[tuple[int, str]]:
    return [(int(found[1]), found[2]) for line in stdout.splitlines() if (found := EVENT_LINE.match(line))]


async def test_an_auditor_prints_a_case_timeline_now_and_as_of_a_moment(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    task_queue = f"cli-audit-{uuid.uuid4()}"
    env = cli_env(temporal_env, tmp_path, task_queue)
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    try:
        case = await drive_a_case(temporal_env, store, task_queue)
        case_id, events = case.case_id, case.events

        text = await pathway("audit", "timeline", case_id, "--as", "au-001", env=env)
        assert text.status == 0, text.stderr
        lines = text.stdout.splitlines()
        assert lines[0].startswith(f"case {case_id} as it stands: ") and lines[0].endswith(" at demo")
        printed = event_lines(text.stdout)
        assert [seq for seq, _ in printed] == [stored.seq for stored in events]
        for (_, line), stored in zip(printed, events, strict=True):
            assert line.startswith(f"{when(stored.occurred_at)}  {stored.actor.staff_id} ")
        assert lines[-1] == f"{len(events)} event(s)"

        as_json = await pathway("audit", "timeline", case_id, "--as", "au-001", "--format", "json", env=env)
        assert as_json.status == 0, as_json.stderr
        found = as_json.json()
        assert found["case_id"] == case_id and found["as_of"] is None
        assert [entry["seq"] for entry in found["entries"]] == [stored.seq for stored in events]
        assert [entry["event_id"] for entry in found["entries"]] == [stored.event_id for stored in events]
        assert [entry["type"] for entry in found["entries"]] == [stored.event.type for stored in events]
        assert [datetime.fromisoformat(entry["recorded_at"]) for entry in found["entries"]] == [
            stored.recorded_at for stored in events
        ]
        assert found["state"]["person"]["name"] == NAME and found["state"]["version"] == events[-1].seq

        as_html = await pathway("audit", "timeline", case_id, "--as", "au-001", "--format", "html", env=env)
        assert as_html.status == 0, as_html.stderr
        document = as_html.stdout.strip()
        assert document.startswith("<!DOCTYPE html>") and document.endswith("</html>")
        assert case_id in document and f"{len(events)} event(s)" in document

        # The moment consent was recorded, typed as UK time without a zone (as people type it).
        moment = case.consented[-1].recorded_at
        typed = moment.astimezone(UK).replace(tzinfo=None).isoformat()
        then = await pathway("audit", "timeline", case_id, "--as", "au-001", "--as-of", typed, env=env)
        assert then.status == 0, then.stderr
        assert then.stdout.splitlines()[0].startswith(f"case {case_id} as known at {when(moment)}: ")
        assert [seq for seq, _ in event_lines(then.stdout)] == [stored.seq for stored in case.consented]
        assert then.stdout.splitlines()[-1] == f"{len(case.consented)} event(s)"
        assert len(case.consented) < len(events)
        # The same moment with its zone, as JSON: the same events, and as_of is that moment.
        zoned = await pathway(
            "audit", "timeline", case_id, "--as", "au-001", "--as-of", moment.isoformat(), "--format", "json", env=env
        )  # fmt: skip
        assert zoned.status == 0, zoned.stderr
        assert datetime.fromisoformat(zoned.json()["as_of"]) == moment
        assert [entry["seq"] for entry in zoned.json()["entries"]] == [stored.seq for stored in case.consented]
        assert zoned.json()["state"]["screening"] is None and zoned.json()["state"]["person"]["name"] == NAME

        xml = await pathway("audit", "timeline", case_id, "--as", "au-001", "--format", "xml", env=env)
        assert xml.status == 2 and xml.stdout == ""
        refused = await pathway("audit", "timeline", case_id, "--as", "pr-001", env=env)
        assert refused.status == ExitStatus.REFUSED and refused.stdout == ""
        assert refused.stderr.strip().count("\n") == 0 and "rule: role_not_allowed" in refused.stderr

        # Every successful read is in the case's access log, under the auditor's name.
        logged = [r for r in await AccessLog(store.engine).list(case_id) if r.staff_id != "pr-001"]
        assert [(r.staff_id, r.action) for r in logged] == [("au-001", "audit_timeline")] * 5
        assert [r.purpose for r in logged] == [
            *["audit: timeline"] * 3,
            f"audit: timeline as of {moment.astimezone(UK).isoformat()}",
            f"audit: timeline as of {moment.isoformat()}",
        ]
    finally:
        await store.close()


async def test_an_auditor_exports_a_case_as_json_html_and_pdf(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    task_queue = f"cli-audit-{uuid.uuid4()}"
    env = cli_env(temporal_env, tmp_path, task_queue)
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    try:
        case = await drive_a_case(temporal_env, store, task_queue)
        case_id, events = case.case_id, case.events
        out = tmp_path / "export"
        purpose = "subject access request"

        exported = await pathway(
            "audit", "export", case_id, "--as", "au-001", "--purpose", purpose, "--out", str(out), "--pdf", env=env
        )  # fmt: skip
        assert exported.status == 0, exported.stderr
        written = [out / f"{case_id}.json", out / f"{case_id}.html", out / f"{case_id}.pdf"]
        assert exported.stdout.splitlines() == [
            f"case {case_id}: {len(events)} events, record verifies; wrote",
            *(f"  {path}" for path in written),
        ]
        bundle = json.loads(written[0].read_text(encoding="utf-8"))
        assert bundle["format"] == "pathway-case-export" and bundle["case_id"] == case_id
        assert bundle["purpose"] == purpose and bundle["generated_by"] == "au-001"
        assert bundle["integrity"]["chain_ok"] is True and bundle["integrity"]["events"] == len(events)
        assert bundle["integrity"]["head_hash"] == events[-1].hash
        assert [entry["seq"] for entry in bundle["timeline"]] == [stored.seq for stored in events]
        assert bundle["state"]["person"]["name"] == NAME
        assert [(r["action"], r["purpose"]) for r in bundle["access_log"] if r["staff_id"] == "au-001"] == [
            ("export", purpose)
        ]
        document = written[1].read_text(encoding="utf-8").strip()
        assert document.startswith("<!DOCTYPE html>") and document.endswith("</html>")
        assert "The record verifies" in document and events[-1].hash in document and NAME in document
        printed = written[2].read_bytes()
        assert printed.startswith(b"%PDF") and len(printed) > 5_000

        refused_out = tmp_path / "refused"
        refused = await pathway(
            "audit", "export", case_id, "--as", "au-001", "--purpose", "x", "--out", str(refused_out), env=env
        )  # fmt: skip
        assert refused.status == 2 and refused.stdout == ""
        assert refused.stderr.strip().count("\n") == 0 and "rule: invalid_input" in refused.stderr
        assert not refused_out.exists()
        practitioner = await pathway(
            "audit", "export", case_id, "--as", "pr-001", "--purpose", purpose, "--out", str(refused_out), env=env
        )  # fmt: skip
        assert practitioner.status == ExitStatus.REFUSED and "rule: role_not_allowed" in practitioner.stderr
        assert not refused_out.exists()
        # Only the export that was made is in the access log (besides the case's own work), its purpose sealed.
        logged = [r for r in await opened_access_log(store, case_id) if r.staff_id != "pr-001"]
        assert [(r.staff_id, r.action, r.purpose) for r in logged] == [("au-001", "export", purpose)]
    finally:
        await store.close()


async def test_the_printed_timeline_quotes_what_a_person_wrote(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    # The screening note is printed as written, not sealed.
    task_queue = f"cli-audit-{uuid.uuid4()}"
    env = cli_env(temporal_env, tmp_path, task_queue)
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    try:
        case = await drive_a_case(temporal_env, store, task_queue)
        printed = await pathway("audit", "timeline", case.case_id, "--as", "au-001", env=env)
        assert printed.status == 0, printed.stderr
        quoted = [line.strip() for line in printed.stdout.splitlines() if line.startswith("        > ")]
        assert quoted == [f"> {NOTE}"], quoted
    finally:
        await store.close()
