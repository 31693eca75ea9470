"""F6 and F7 of issue 15: what the access log keeps of what people wrote, and what it cannot miss.

F6 (before): break-glass reasons and export purposes stood in `access_log.purpose` in plain text, and
a shred's `--reason` in its event (and in person_keys): free text that may name the person survived
the shredding of that person. Now each is sealed with the person's key and reads "[shredded]" after.
F7 (before): the API wrote a change's access row after the workflow had recorded the change, in a
transaction of its own; a process killed in between left a recorded change nobody is logged as
making. Now the workflow's append writes the row in the events' transaction, so even an Update that
arrives with no API process behind it (killed, or someone with Temporal access) is logged.
"""

import uuid
from pathlib import Path

import httpx

from domain.commands import ClaimTask, CloseCase
from domain.model import Person, Role
from domain.outcomes import ClosureOutcome
from domain.personal import SHREDDED
from domain.tasks import TaskKind
from service.identity import principal_for_staff
from service.staff import StaffCommands
from tests.api.conftest import token
from tests.workflows.journey import PRACTITIONER, open_case, open_task
from workflows.case_workflow import CaseWorkflow

NAME = "Quentin Quayle-Example"
REASON = f"{NAME} was brought to our suite overnight"
PURPOSE = f"subject access request from {NAME}"
SHRED_REASON = f"record of {NAME} made in error"
AUDITOR = token("au-001", Role.AUDITOR, ("demo",))


def raw_files(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file())


async def test_what_people_wrote_about_a_person_is_sealed_and_gone_with_them(
    api: httpx.AsyncClient, cases: StaffCommands, tmp_path: Path
) -> None:
    opening = open_case(f"F6/{uuid.uuid4().hex[:8]}").model_copy(update={"person": Person(name=NAME)})
    state = await cases.start_case(opening)
    case_id = state.case_id
    outside = token("lw-002", Role.LINK_WORKER, ("north",))  # works at north only
    glass = await api.post(f"/api/cases/{case_id}/break-glass", json={"reason": REASON}, headers=outside)
    assert glass.status_code == 200, glass.text
    export = await api.post(f"/api/audit/cases/{case_id}/export", json={"purpose": PURPOSE}, headers=AUDITOR)
    assert export.status_code == 200, export.text

    # Stored sealed; read in plain words by an auditor while the person's key exists.
    stored = await cases.service.access.list(case_id)
    assert not [record for record in stored if NAME in record.purpose]
    readable = (await api.get(f"/api/cases/{case_id}/access", headers=AUDITOR)).json()
    assert f"break-glass: {REASON}" in [entry["purpose"] for entry in readable]
    assert PURPOSE in [entry["purpose"] for entry in readable]

    closure = ClosureOutcome.model_validate({"reason": "record_made_in_error"})
    await cases.close_case(case_id, CloseCase(actor=PRACTITIONER, outcome=closure))
    admin = principal_for_staff(cases.config, "ad-001")
    await cases.pathway.people.shred(admin, case_id, SHRED_REASON)

    after = (await api.get(f"/api/cases/{case_id}/access", headers=AUDITOR)).json()
    assert [entry["purpose"] for entry in after if entry["break_glass"]] == [SHREDDED]
    assert NAME not in str(after)
    timeline = (await api.get(f"/api/audit/cases/{case_id}/timeline", headers=AUDITOR)).json()
    assert NAME not in str(timeline) and timeline["entries"][-1]["written"] == SHREDDED
    # Nowhere in the database files either: not the reason, the purpose, the shred reason or the name.
    url = cases.store.engine.url
    assert url.database is not None
    assert NAME.encode() not in raw_files(Path(url.database).parent)


async def test_a_change_sent_straight_to_the_workflow_is_in_the_access_log_with_its_events(
    cases: StaffCommands,
) -> None:
    state = await cases.start_case(open_case(f"F7/{uuid.uuid4().hex[:8]}"))
    task_id = open_task(state, TaskKind.CONSENT)
    # No API or CLI process records anything: the Update alone (as if its sender was killed at once).
    handle = cases.client.get_workflow_handle_for(CaseWorkflow.run, state.case_id)
    await handle.execute_update(CaseWorkflow.claim_task, ClaimTask(actor=PRACTITIONER, task_id=task_id))
    events = await cases.store.read_stream(state.case_id)
    claimed = [e for e in events if e.event.type == "TaskClaimed"]
    assert len(claimed) == 1
    rows = [(r.staff_id, r.action) for r in await cases.service.access.list(state.case_id)]
    assert rows == [("pr-001", "start_case"), ("pr-001", "claim_task")]
