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
    assert first.headers["location"] == f"http://pathway.test/api/cases/{first.json()['case_id']}"
    second = await api.post("/api/cases", json=new_case(ref), headers=PRACTITIONER)
    assert second.status_code == 200 and "location" not in second.headers, second.text
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
    assert "probation" in body["detail"] and case_id in body["detail"]
    assert len(await cases.store.read_stream(case_id)) == before


async def test_a_charge_is_not_a_sentence(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    ref = f"COURT/{uuid.uuid4().hex[:8]}"
    opened = await api.post("/api/cases", json=new_case(ref), headers=PRACTITIONER)
    case_id = opened.json()["case_id"]
    bailed = ClosureOutcome(reason=ClosureReason.TRANSFERRED, justice_outcome=JusticeOutcome.CHARGED_BAILED)
    await cases.close_case(case_id, CloseCase(actor=PRACTITIONER_ACTOR, outcome=bailed))
    again = await api.post("/api/cases", json=new_case(ref), headers=PRACTITIONER)
    assert again.status_code == 200 and again.json()["found_existing"] is True
    assert again.json()["stage"] == "closed"


async def test_a_justice_outcome_learnt_on_the_way_is_recorded_and_a_sentence_ends_new_identifications(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    """The case learns the charge, then the sentence, while it is open (not only at closure)."""
    ref = f"COURT/{uuid.uuid4().hex[:8]}"
    opened = await api.post("/api/cases", json=new_case(ref), headers=PRACTITIONER)
    case_id = opened.json()["case_id"]
    link_worker = token("lw-001", Role.LINK_WORKER)
    charged = {"outcome": "charged_bailed"}
    refused = await api.post(f"/api/cases/{case_id}/justice-outcome", json=charged, headers=link_worker)
    assert refused.status_code == 403
    learnt = await api.post(f"/api/cases/{case_id}/justice-outcome", json=charged, headers=PRACTITIONER)
    assert learnt.status_code == 200 and learnt.json()["justice_outcome"] == "charged_bailed"
    again = await api.post(f"/api/cases/{case_id}/justice-outcome", json=charged, headers=PRACTITIONER)
    assert again.status_code == 409 and again.json()["rule"] == "justice_outcome_unchanged"
    still_open = await api.post("/api/cases", json=new_case(ref), headers=PRACTITIONER)
    assert still_open.status_code == 200 and still_open.json()["found_existing"] is True

    sentence = {"outcome": "community_order_with_treatment_requirement"}
    sentenced = await api.post(f"/api/cases/{case_id}/justice-outcome", json=sentence, headers=PRACTITIONER)
    assert sentenced.status_code == 200 and sentenced.json()["stage"] != "closed"
    recorded = [e.event for e in await cases.store.read_stream(case_id) if e.event.type == "JusticeOutcomeRecorded"]
    assert [(e.outcome, e.source) for e in recorded] == [
        ("charged_bailed", "practitioner"),
        ("community_order_with_treatment_requirement", "practitioner"),
    ]
    refused_start = await api.post("/api/cases", json=new_case(ref), headers=PRACTITIONER)
    assert refused_start.status_code == 409 and refused_start.json()["rule"] == "case_past_sentence"


async def test_a_release_date_belongs_on_a_reconnect_episode(api: httpx.AsyncClient) -> None:
    opened = await api.post("/api/cases", json=new_case(f"COURT/{uuid.uuid4().hex[:8]}"), headers=PRACTITIONER)
    case_id = opened.json()["case_id"]
    on_ld_case = await api.post(
        f"/api/cases/{case_id}/release-date", json={"release_on": "2027-03-01"}, headers=PRACTITIONER
    )
    assert on_ld_case.status_code == 409 and on_ld_case.json()["rule"] == "not_a_reconnect_episode"
    not_a_date = await api.post(
        f"/api/cases/{case_id}/release-date", json={"release_on": 20270301}, headers=PRACTITIONER
    )
    assert not_a_date.status_code == 422
