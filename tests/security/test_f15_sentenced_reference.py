"""F15 of issue 17: start a case for a reference you know (a court case number read off a list), to
have the existing case's record answered back.

Starting a known reference answers with the case it already has (idempotent start), to people who may
start cases at that site. Once that case has reached sentence or disposal the start is refused: the
refusal names the case id (opaque) and the service to go to, never the person or the record, and
nothing is recorded (no event, no access row). Outside your sites the start is refused before the
reference is looked up, so it says nothing about whether a case exists."""

import uuid

import httpx

from domain.commands import CloseCase
from domain.model import Role
from domain.outcomes import ClosureOutcome, ClosureReason, JusticeOutcome
from service.staff import StaffCommands
from tests.api.conftest import token
from tests.workflows.journey import PRACTITIONER as PRACTITIONER_ACTOR

NAME = "Rosalind Sentenced-Example"
PRACTITIONER = token("pr-001", Role.PRACTITIONER)
NORTH_PRACTITIONER = token("pr-002", Role.PRACTITIONER, ("north",))


def opening(ref: str, name: str) -> dict[str, object]:
    return {
        "site": "demo",
        "setting": "crown_court",
        "source": "self_referral",
        "external_ref": ref,
        "age_band": "adult",
        "person": {"name": name},
    }


async def test_a_start_on_a_sentenced_reference_reads_nothing_and_records_nothing(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    ref = f"T2026/{uuid.uuid4().hex[:8]}"
    opened = await api.post("/api/cases", json=opening(ref, NAME), headers=PRACTITIONER)
    case_id = opened.json()["case_id"]
    custody = ClosureOutcome(reason=ClosureReason.PATHWAY_COMPLETE, justice_outcome=JusticeOutcome.CUSTODIAL_SENTENCE)
    await cases.close_case(case_id, CloseCase(actor=PRACTITIONER_ACTOR, outcome=custody))
    events = len(await cases.store.read_stream(case_id))
    access = await cases.access_log(case_id)

    attempt = await api.post("/api/cases", json=opening(ref, "Someone Else"), headers=PRACTITIONER)
    assert attempt.status_code == 409 and attempt.json()["rule"] == "case_past_sentence"
    assert set(attempt.json()) <= {"type", "title", "status", "detail", "rule", "fields"}  # no state, no timeline
    assert NAME not in attempt.text and ref not in attempt.text and "RECONNECT" in attempt.text
    assert len(await cases.store.read_stream(case_id)) == events
    assert await cases.access_log(case_id) == access

    elsewhere = await api.post("/api/cases", json=opening(ref, "Someone Else"), headers=NORTH_PRACTITIONER)
    assert elsewhere.status_code == 403 and elsewhere.json()["rule"] == "outside_your_sites"
    assert case_id not in elsewhere.text and "sentence" not in elsewhere.text
