"""What the CLI does to a case, through the API: close it, record a referral's outcome, request a court
report, export it as FHIR. The same rules as the CLI (the service's): the right role works; another
role is refused (403), another site's case looks absent (404), bad input is a 422 naming the field,
and a refusal changes nothing: no event, no access record."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.fhir_terms import FHIR_JSON
from domain.model import Role
from domain.state import CaseState
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store.event_store import EventStore
from tests.api.conftest import api_client, services_for, token
from tests.conftest import case_commands, worker_for
from tests.fhir.validators import assert_valid
from tests.workflows.conftest import Mailbox, mailbox  # noqa: F401 (the fixture, for the referrals' emails)
from tests.workflows.journey import PRACTITIONER, complete, open_case, referral_sent

PRACTITIONER_TOKEN = token("pr-001", Role.PRACTITIONER)
LINK_WORKER = token("lw-001", Role.LINK_WORKER)
AUDITOR = token("au-001", Role.AUDITOR)
NORTH_PRACTITIONER = token("pr-002", Role.PRACTITIONER, ("north",))  # signed in for north only
NORTH_LINK_WORKER = token("lw-002", Role.LINK_WORKER, ("north",))


@pytest_asyncio.fixture(loop_scope="session")
async def mailed(
    temporal_env: WorkflowEnvironment,
    sqlite_store: EventStore,
    mailbox: Mailbox,  # noqa: F811
) -> AsyncIterator[StaffCommands]:
    """Staff working on cases whose worker emails referrals (to a local SMTP server), so they are sent."""
    task_queue = f"api-commands-{uuid.uuid4()}"
    async with worker_for(temporal_env.client, sqlite_store, task_queue, mailbox.mailer):
        yield case_commands(temporal_env, sqlite_store, task_queue)


async def consented(cases: StaffCommands) -> CaseState:
    return await complete(cases, await cases.start_case(open_case(f"CUST/{uuid.uuid4().hex[:8]}")), TaskKind.CONSENT)


async def recorded(cases: StaffCommands, case_id: str) -> tuple[int, int]:
    """How many events and access records the case has: a refusal adds to neither."""
    return len(await cases.store.read_stream(case_id)), len(await cases.service.access.list(case_id))


async def test_closing_a_case(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    case_id = (await consented(cases)).case_id
    url = f"/api/cases/{case_id}/close"
    before = await recorded(cases, case_id)
    for body, headers, status, rule in [
        ({"reason": "transferred"}, LINK_WORKER, 403, "role_not_allowed"),
        ({"reason": "transferred"}, AUDITOR, 403, "role_not_allowed"),
        ({"reason": "transferred"}, NORTH_PRACTITIONER, 404, "case_unknown"),
        ({"reason": "bored"}, PRACTITIONER_TOKEN, 422, "invalid_input"),
        ({"reason": "transferred", "delete": True}, PRACTITIONER_TOKEN, 422, "invalid_input"),
    ]:
        refused = await api.post(url, json=body, headers=headers)
        assert (refused.status_code, refused.json().get("rule")) == (status, rule), refused.text
    assert "reason" in (await api.post(url, json={"reason": "bored"}, headers=PRACTITIONER_TOKEN)).json()["fields"]
    assert await recorded(cases, case_id) == before

    closing = {"reason": "transferred", "justice_outcome": "charged_bailed", "note": "moved to another force"}
    closed = await api.post(url, json=closing, headers=PRACTITIONER_TOKEN)
    assert closed.status_code == 200, closed.text
    assert closed.json()["stage"] == "closed" and closed.json()["close_reason"] == "transferred"
    assert closed.headers["etag"] == f'"{closed.json()["version"]}"'
    [event] = [e.event for e in await cases.store.read_stream(case_id) if e.event.type == "CaseClosed"]
    assert event.note.startswith("sealed:v1:")  # sealed where it came in, like the CLI's

    again = await api.post(url, json={"reason": "transferred"}, headers=PRACTITIONER_TOKEN)
    assert again.status_code == 409 and again.json()["rule"] == "case_not_open", again.text


async def test_recording_a_referrals_outcome(mailed: StaffCommands) -> None:
    state = await consented(mailed)
    for kind in (TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION):
        state = await complete(mailed, state, kind)
    decision = {"referrals": [{"service": "mental_health", "reason": "low mood"}], "link_work_goals": ["wellbeing"]}
    [task_id] = [t.task_id for t in state.open_tasks if t.kind is TaskKind.REFERRAL_DECISION]
    await mailed.complete_task(task_id, decision, PRACTITIONER)
    [referral] = (await referral_sent(mailed, state.case_id)).referrals
    url = f"/api/cases/{state.case_id}/referrals/{referral.referral_id}/outcome"
    unknown = f"/api/cases/{state.case_id}/referrals/ref-nope/outcome"
    async with api_client(create_app(services_for(mailed))) as api:
        before = await recorded(mailed, state.case_id)
        for path, body, headers, status, rule in [
            (url, {"status": "accepted"}, AUDITOR, 403, "role_not_allowed"),
            (url, {"status": "accepted"}, NORTH_LINK_WORKER, 404, "case_unknown"),
            (url, {"status": "maybe"}, LINK_WORKER, 422, "invalid_input"),
            (url, {"status": "rejected"}, LINK_WORKER, 409, "reason_required"),
            (url, {"status": "engaged"}, LINK_WORKER, 409, "referral_transition"),
            (unknown, {"status": "accepted"}, LINK_WORKER, 404, "referral_unknown"),
        ]:
            refused = await api.post(path, json=body, headers=headers)
            assert (refused.status_code, refused.json().get("rule")) == (status, rule), refused.text
        assert await recorded(mailed, state.case_id) == before

        accepted = await api.post(url, json={"status": "accepted"}, headers=LINK_WORKER)
        assert accepted.status_code == 200, accepted.text
        assert [r["status"] for r in accepted.json()["referrals"]] == ["accepted"]
        assert accepted.headers["etag"] == f'"{accepted.json()["version"]}"'
    rows = [(e.staff_id, e.action) for e in await mailed.service.access.list(state.case_id)]
    assert rows[-1] == ("lw-001", "record_referral_outcome")


async def test_requesting_a_court_report(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    case_id = (await consented(cases)).case_id
    url = f"/api/cases/{case_id}/court-reports"
    hearing = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    good = {"purpose": "bail_or_remand", "hearing_at": hearing, "recipients": ["court", "defence"]}
    before = await recorded(cases, case_id)
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for body, headers, status, rule, field in [
        (good, LINK_WORKER, 403, "role_not_allowed", None),
        (good, NORTH_PRACTITIONER, 404, "case_unknown", None),
        ({**good, "hearing_at": "2099-01-01T10:00:00"}, PRACTITIONER_TOKEN, 422, "invalid_input", "hearing_at"),
        ({**good, "recipients": []}, PRACTITIONER_TOKEN, 422, "invalid_input", "recipients"),
        ({**good, "purpose": "curiosity"}, PRACTITIONER_TOKEN, 422, "invalid_input", "purpose"),
        ({**good, "hearing_at": past}, PRACTITIONER_TOKEN, 409, "hearing_in_past", None),
    ]:
        refused = await api.post(url, json=body, headers=headers)
        assert (refused.status_code, refused.json().get("rule")) == (status, rule), refused.text
        assert field is None or field in refused.json()["fields"], refused.text
    assert await recorded(cases, case_id) == before

    requested = await api.post(url, json=good, headers=PRACTITIONER_TOKEN)
    assert requested.status_code == 200, requested.text
    [report] = requested.json()["court_reports"]
    assert report["purpose"] == "bail_or_remand" and report["recipients"] == ["court", "defence"]
    assert datetime.fromisoformat(report["hearing_at"]) == datetime.fromisoformat(hearing)


async def test_exporting_a_case_as_fhir(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    case_id = (await consented(cases)).case_id
    url = f"/api/cases/{case_id}/fhir"
    before = await recorded(cases, case_id)
    for headers, status, rule in [(LINK_WORKER, 403, "role_not_allowed"), (NORTH_PRACTITIONER, 404, "case_unknown")]:
        refused = await api.get(url, headers=headers)
        assert (refused.status_code, refused.json().get("rule")) == (status, rule), refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    assert await recorded(cases, case_id) == before
    unknown = await api.get("/api/cases/case-00000000-0000-0000-0000-000000000000/fhir", headers=PRACTITIONER_TOKEN)
    assert unknown.status_code == 404 and unknown.json()["rule"] == "case_unknown"

    for staff, headers in [("pr-001", PRACTITIONER_TOKEN), ("au-001", AUDITOR)]:
        exported = await api.get(url, headers=headers)
        assert exported.status_code == 200 and exported.headers["content-type"] == FHIR_JSON
        bundle = exported.json()
        assert_valid(bundle)
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
        assert bundle["identifier"]["value"] == case_id
        assert {e["resource"]["resourceType"] for e in bundle["entry"]} >= {"EpisodeOfCare", "Consent", "AuditEvent"}
        last = (await cases.service.access.list(case_id))[-1]
        assert (last.staff_id, last.action) == (staff, "fhir_export")
