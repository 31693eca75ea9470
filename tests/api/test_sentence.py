"""Starting a case through the API for a reference that already has one: before sentence the case
found answers and says so, naming it; after sentence or disposal the start is refused (409)."""

import uuid

import httpx

from domain.commands import CloseCase
from domain.model import Role
from domain.outcomes import ClosureOutcome, ClosureReason, JusticeOutcome
from service.staff import StaffCommands
from tests.api.conftest import token
from tests.workflows.journey import PRACTITIONER as PRACTITIONER_ACTOR

PRACTITIONER = token("pr-001", Role.PRACTITIONER)


def new_case(ref: str, name: str = "Alex Example") -> dict[str, object]:
    return {
        "site": "demo",
        "setting": "magistrates_court",
        "source": "self_referral",
        "external_ref": ref,
        "age_band": "adult",
        "person": {"name": name},
    }


async def test_a_second_start_for_a_reference_finds_its_case_and_says_so(api: httpx.AsyncClient) -> None:
    ref = f"COURT/{uuid.uuid4().hex[:8]}"
    first = await api.post("/api/cases", json=new_case(ref), headers=PRACTITIONER)
    assert first.status_code == 201, first.text
    assert first.json()["found_existing"] is False and first.json()["notice"] is None
    second = await api.post("/api/cases", json=new_case(ref), headers=PRACTITIONER)
    assert second.status_code == 201, second.text
    body = second.json()
    case_id = first.json()["case_id"]
    assert body["case_id"] == case_id and body["found_existing"] is True
    assert case_id in body["notice"] and "no new case was opened" in body["notice"]


async def test_a_start_for_a_sentenced_reference_is_refused_pointing_to_the_service_now(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    ref = f"COURT/{uuid.uuid4().hex[:8]}"
    opened = await api.post("/api/cases", json=new_case(ref), headers=PRACTITIONER)
    case_id = opened.json()["case_id"]
    sentenced = ClosureOutcome(reason=ClosureReason.PATHWAY_COMPLETE, justice_outcome=JusticeOutcome.COMMUNITY_ORDER)
    await cases.close_case(case_id, CloseCase(actor=PRACTITIONER_ACTOR, outcome=sentenced))
    before = len(await cases.store.read_stream(case_id))

    again = await api.post("/api/cases", json=new_case(ref), headers=PRACTITIONER)
    assert again.status_code == 409, again.text
    body = again.json()
    assert body["rule"] == "case_past_sentence"
    assert "probation" in body["error"] and case_id in body["error"]
    assert len(await cases.store.read_stream(case_id)) == before


async def test_a_charge_is_not_a_sentence(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    ref = f"COURT/{uuid.uuid4().hex[:8]}"
    opened = await api.post("/api/cases", json=new_case(ref), headers=PRACTITIONER)
    case_id = opened.json()["case_id"]
    bailed = ClosureOutcome(reason=ClosureReason.TRANSFERRED, justice_outcome=JusticeOutcome.CHARGED_BAILED)
    await cases.close_case(case_id, CloseCase(actor=PRACTITIONER_ACTOR, outcome=bailed))
    again = await api.post("/api/cases", json=new_case(ref), headers=PRACTITIONER)
    assert again.status_code == 201 and again.json()["found_existing"] is True
    assert again.json()["stage"] == "closed"
