"""The women's pathway through the API (issue 17): her stated sex recorded at identification, the
offer required at screening, her answer and a practitioner's cohort change with a reason recorded."""

import uuid
from typing import Any

import httpx

from domain.model import Role
from domain.tasks import TaskKind
from service.staff import StaffCommands
from tests.api.conftest import token
from tests.workflows.journey import OUTCOMES

PRACTITIONER = token("pr-001", Role.PRACTITIONER)
LINK_WORKER = token("lw-001", Role.LINK_WORKER)


async def open_task_id(api: httpx.AsyncClient, state: dict[str, Any], kind: TaskKind) -> str:
    [task_id] = [i for i, t in state["tasks"].items() if t["kind"] == kind and t["status"] == "open"]
    return str(task_id)


async def test_a_woman_is_offered_the_pathway_at_screening_and_a_cohort_changes_with_a_reason(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    body = {
        "site": "demo",
        "setting": "custody",
        "source": "custody_staff",
        "external_ref": f"CUST/{uuid.uuid4().hex[:6]}",
        "age_band": "adult",
        "sex": "female",
    }
    started = await api.post("/api/cases", json=body, headers=PRACTITIONER)
    assert started.status_code == 201 and started.json()["sex"] == "female"
    case_id = started.json()["case_id"]
    consent = await open_task_id(api, started.json(), TaskKind.CONSENT)
    state = await api.post(
        f"/api/tasks/{consent}/complete", json={"outcome": OUTCOMES[TaskKind.CONSENT]}, headers=PRACTITIONER
    )
    screening = await open_task_id(api, state.json(), TaskKind.SCREENING)
    events = len(await cases.store.read_stream(case_id))
    not_offered = await api.post(
        f"/api/tasks/{screening}/complete", json={"outcome": OUTCOMES[TaskKind.SCREENING]}, headers=PRACTITIONER
    )
    assert not_offered.status_code == 409 and not_offered.json()["rule"] == "womens_pathway_not_offered"
    assert len(await cases.store.read_stream(case_id)) == events
    accepted = await api.post(
        f"/api/tasks/{screening}/complete",
        json={"outcome": OUTCOMES[TaskKind.SCREENING] | {"womens_pathway": "accepted"}},
        headers=PRACTITIONER,
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["cohorts"] == ["womens_pathway"]
    decided = [e for e in await cases.store.read_stream(case_id) if e.event.type == "WomensPathwayDecided"]
    assert [e.actor.staff_id for e in decided] == ["pr-001"]

    change = {"cohort": "womens_pathway", "member": False, "reason": "she asked to leave it"}
    link_worker = await api.post(f"/api/cases/{case_id}/cohorts", json=change, headers=LINK_WORKER)
    assert link_worker.status_code == 403
    removed = await api.post(f"/api/cases/{case_id}/cohorts", json=change, headers=PRACTITIONER)
    assert removed.status_code == 200 and removed.json()["cohorts"] == []
    again = await api.post(f"/api/cases/{case_id}/cohorts", json=change, headers=PRACTITIONER)
    assert again.status_code == 409 and again.json()["rule"] == "cohort_unchanged"
    no_reason = await api.post(
        f"/api/cases/{case_id}/cohorts", json=change | {"member": True, "reason": ""}, headers=PRACTITIONER
    )
    assert no_reason.status_code == 422
