"""The auditors' API (api/audit_routes.py) against a real worker and Temporal dev server: a case's
timeline as JSON and as a document (as of a moment), its verification and its export; refusals."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest
from markupsafe import escape
from sqlalchemy import text

from domain.model import Person, Role
from domain.tasks import TaskKind
from domain.timeline import UK
from service.audit import Audit
from service.identity import principal_for_staff
from service.staff import StaffCommands
from store.access_log import AccessLog
from store.hashing import canonical_json
from tests.api.conftest import token
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task

AUDITOR = token("au-001", Role.AUDITOR, ("demo",))
NORTH_AUDITOR = token("au-001", Role.AUDITOR, ("north",))  # signed in for north only
PRACTITIONER_TOKEN = token("pr-001", Role.PRACTITIONER, ("demo",))
SCRIPT = "<script>alert(1)</script>"
NAME = f"Sam {SCRIPT} O'Neill"
NOTE = f"Said {SCRIPT} & left"
UNKNOWN_CASE = "case-00000000-0000-4000-8000-000000000000"


@dataclass
class Case:
    case_id: str
    screened_at: datetime  # when the screening's last event was recorded
    events_when_screened: int


async def a_case(cases: StaffCommands) -> Case:
    """Opened with a name, consent, screening with a note, assessment: text people wrote has markup."""
    command = open_case(f"CUST/{uuid.uuid4().hex[:8]}").model_copy(update={"person": Person(name=NAME)})
    state = await cases.start_case(command)
    state = await cases.complete_task(open_task(state, TaskKind.CONSENT), OUTCOMES[TaskKind.CONSENT], PRACTITIONER)
    screening = {**OUTCOMES[TaskKind.SCREENING], "note": NOTE}
    state = await cases.complete_task(open_task(state, TaskKind.SCREENING), screening, PRACTITIONER)
    screened = await cases.store.read_stream(state.case_id)
    await cases.complete_task(open_task(state, TaskKind.ASSESSMENT), OUTCOMES[TaskKind.ASSESSMENT], PRACTITIONER)
    return Case(state.case_id, screened[-1].recorded_at, len(screened))


def a_document(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    body = response.text
    assert body.lstrip().startswith("<!DOCTYPE html>") and body.rstrip().endswith("</html>")
    assert "<head>" in body and "<body>" in body and "</body>" in body
    return body


async def test_an_auditor_reads_the_timeline_now_and_as_of_a_moment(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    case = await a_case(cases)
    events = await cases.store.read_stream(case.case_id)
    url = f"/api/audit/cases/{case.case_id}/timeline"

    now = await api.get(url, headers=AUDITOR)
    assert now.status_code == 200, now.text
    found = now.json()
    assert found["case_id"] == case.case_id and found["as_of"] is None
    assert [entry["seq"] for entry in found["entries"]] == [stored.seq for stored in events]
    assert [entry["type"] for entry in found["entries"]] == [stored.event.type for stored in events]
    assert found["state"]["person"]["name"] == NAME and found["state"]["assessment"] is not None
    assert found["state"]["version"] == events[-1].seq

    # The moment the screening was recorded, written in UK time with its offset.
    as_of = case.screened_at.astimezone(UK).isoformat()
    then = await api.get(url, params={"as_of": as_of}, headers=AUDITOR)
    assert then.status_code == 200, then.text
    past = then.json()
    assert datetime.fromisoformat(past["as_of"]) == case.screened_at
    assert [entry["seq"] for entry in past["entries"]] == [stored.seq for stored in events[: case.events_when_screened]]
    assert past["state"]["screening"] is not None and past["state"]["assessment"] is None
    assert past["state"]["person"]["name"] == NAME
    assert past["state"]["stage"] != found["state"]["stage"]
    # The same moment in UTC ("Z") is the same record.
    in_utc = await api.get(url, params={"as_of": case.screened_at.isoformat().replace("+00:00", "Z")}, headers=AUDITOR)
    assert in_utc.status_code == 200 and in_utc.json()["entries"] == past["entries"]

    naive = await api.get(url, params={"as_of": case.screened_at.replace(tzinfo=None).isoformat()}, headers=AUDITOR)
    assert naive.status_code == 422
    assert naive.json()["rule"] == "invalid_input" and "time zone" in naive.json()["detail"]
    garbled = await api.get(url, params={"as_of": "yesterday-ish"}, headers=AUDITOR)
    assert garbled.status_code == 422 and "as_of" in garbled.json()["detail"]


async def test_the_timeline_document_escapes_what_people_wrote(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    case = await a_case(cases)
    url = f"/api/audit/cases/{case.case_id}/timeline.html"
    events = await cases.store.read_stream(case.case_id)

    body = a_document(await api.get(url, headers=AUDITOR))
    assert SCRIPT not in body and "<script" not in body
    assert str(escape(NAME)) in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert case.case_id in body and f"{len(events)} event(s)" in body and "the record as it stands" in body

    then = a_document(await api.get(url, params={"as_of": case.screened_at.isoformat()}, headers=AUDITOR))
    assert "the record as it was known at" in then and f"{case.events_when_screened} event(s)" in then
    assert SCRIPT not in then and "<script" not in then


async def test_the_timeline_document_shows_the_note_a_person_wrote(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    # The document shows the screening note as written, not its sealed form.
    case = await a_case(cases)
    body = a_document(await api.get(f"/api/audit/cases/{case.case_id}/timeline.html", headers=AUDITOR))
    assert "sealed:v1:" not in body
    assert str(escape(NOTE)) in body and SCRIPT not in body


async def test_an_auditor_verifies_and_exports_the_record(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    case = await a_case(cases)
    base = f"/api/audit/cases/{case.case_id}"
    events = await cases.store.read_stream(case.case_id)

    verified = await api.get(f"{base}/verify", headers=AUDITOR)
    assert verified.status_code == 200, verified.text
    integrity = verified.json()
    assert integrity["chain_ok"] is True and integrity["first_bad_seq"] is None
    assert integrity["events"] == len(events) and integrity["head_hash"] == events[-1].hash
    assert integrity["projection_differences"] == []
    assert integrity["access_log"]["ok"] is True and integrity["access_log"]["rows"] >= 1

    missing = await api.post(f"{base}/export", json={}, headers=AUDITOR)
    assert missing.status_code == 422 and "purpose" in missing.json()["detail"]
    short = await api.post(f"{base}/export", json={"purpose": "ab"}, headers=AUDITOR)
    assert short.status_code == 422 and "purpose" in short.json()["detail"]
    assert (await api.post(f"{base}/export.html", json={}, headers=AUDITOR)).status_code == 422

    exported = await api.post(f"{base}/export", json={"purpose": "subject access request"}, headers=AUDITOR)
    assert exported.status_code == 200, exported.text
    export = exported.json()
    assert export["format"] == "pathway-case-export" and export["version"] == 1
    assert export["case_id"] == case.case_id and export["generated_by"] == "au-001"
    assert export["purpose"] == "subject access request"
    assert [entry["seq"] for entry in export["timeline"]] == [stored.seq for stored in events]
    assert export["state"]["person"]["name"] == NAME
    # The same record, and an access log two rows longer (the verify, the export): each row chained.
    assert {k: v for k, v in export["integrity"].items() if k != "access_log"} == {
        k: v for k, v in integrity.items() if k != "access_log"
    }
    assert export["integrity"]["access_log"] == integrity["access_log"] | {"rows": integrity["access_log"]["rows"] + 2}
    assert [(r["action"], r["purpose"]) for r in export["access_log"] if r["staff_id"] == "au-001"] == [
        ("verify", "audit: verify the record"),
        ("export", "subject access request"),
    ]

    purpose = "court order <b>17</b>"
    body = a_document(await api.post(f"{base}/export.html", json={"purpose": purpose}, headers=AUDITOR))
    assert "The record verifies" in body and f"{len(events)} event(s)" in body
    assert events[-1].hash in body and case.case_id in body
    assert str(escape(purpose)) in body and "<b>17</b>" not in body
    assert str(escape(NAME)) in body and SCRIPT not in body and "<script" not in body
    logged = await cases.access_log(case.case_id)
    assert [(r.action, r.purpose) for r in logged][-1] == ("export", purpose)


async def test_an_export_holds_what_its_integrity_counts_while_the_case_is_read(
    api: httpx.AsyncClient, cases: StaffCommands, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live case is read by others and changed by timers while it is exported: the export's
    timeline and access log are the very rows its integrity counted, never fewer."""
    case = await a_case(cases)
    practitioner = principal_for_staff(cases.config, "pr-001")
    counted = Audit._integrity
    read_between: list[str] = []

    async def someone_reads_first(audit: Audit, case_id: str) -> object:
        if not read_between:  # between the export's read of the access log and its integrity check
            await cases.service.read_case(practitioner, case_id)
            read_between.append(case_id)
        return await counted(audit, case_id)

    monkeypatch.setattr(Audit, "_integrity", someone_reads_first)
    exported = await api.post(
        f"/api/audit/cases/{case.case_id}/export", json={"purpose": "court order"}, headers=AUDITOR
    )
    assert exported.status_code == 200, exported.text
    export = exported.json()
    assert read_between == [case.case_id]
    assert export["integrity"]["access_log"]["rows"] == len(export["access_log"])
    assert export["integrity"]["events"] == len(export["timeline"])
    assert ("pr-001", "read_case") in [(row["staff_id"], row["action"]) for row in export["access_log"]]


async def test_the_audit_routes_refuse_others(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    case = await a_case(cases)
    paths = ["timeline", "timeline.html", "verify", "export", "export.html"]
    purpose = {"purpose": "subject access request"}

    async def ask(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        if url.rsplit("/", 1)[1].startswith("export"):  # the purpose is posted
            return await api.post(url, json=purpose, headers=headers)
        return await api.get(url, headers=headers)

    for path in paths:
        url = f"/api/audit/cases/{case.case_id}/{path}"
        refused = await ask(url, PRACTITIONER_TOKEN)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["rule"] == "role_not_allowed"
        elsewhere = await ask(url, NORTH_AUDITOR)
        assert elsewhere.status_code == 404 and elsewhere.json()["rule"] == "case_unknown", path
        nobody = await ask(url)
        assert nobody.status_code == 401 and "detail" in nobody.json(), path
        unknown = await ask(f"/api/audit/cases/{UNKNOWN_CASE}/{path}", AUDITOR)
        assert unknown.status_code == 404 and unknown.json()["rule"] == "case_unknown", path
    # Nothing was read, so nothing was written to the case's access log (beyond the case's own work).
    logged = await AccessLog(cases.store.engine).list(case.case_id)
    assert {r.staff_id for r in logged} == {"pr-001"}


async def test_verify_answers_for_an_event_whose_body_no_longer_reads(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    # A body altered so it no longer parses: verify answers 200 with chain_ok false at that seq,
    # never a 422 that would blame the auditor's request.
    case = await a_case(cases)
    events = await cases.store.read_stream(case.case_id)
    [altered] = [stored.seq for stored in events if stored.event.type == "ScreeningRecorded"]
    async with cases.store.engine.begin() as conn:
        where = {"case_id": case.case_id, "seq": altered}
        body = json.loads(
            (await conn.execute(text("SELECT body FROM events WHERE case_id = :case_id AND seq = :seq"), where)).one()[
                0
            ]
        )
        del body["event"]["outcome"]["risk_level"]
        update = text("UPDATE events SET body = :body WHERE case_id = :case_id AND seq = :seq")
        await conn.execute(update, {**where, "body": canonical_json(body)})

    verified = await api.get(f"/api/audit/cases/{case.case_id}/verify", headers=AUDITOR)
    assert verified.status_code == 200, verified.text
    assert verified.json()["chain_ok"] is False and verified.json()["first_bad_seq"] == altered


async def test_an_auditor_replays_a_cases_histories_against_the_current_code(
    cases: StaffCommands, api: httpx.AsyncClient
) -> None:
    case = await a_case(cases)
    url = f"/api/audit/cases/{case.case_id}/replay"
    answer = await api.get(url, headers=AUDITOR)
    assert answer.status_code == 200, answer.text
    outcomes = answer.json()
    assert outcomes and {o["workflow_id"] for o in outcomes} == {case.case_id}
    assert all(o["failure"] is None and o["workflow_type"] == "CaseWorkflow" and o["events"] > 3 for o in outcomes)
    assert [r.action for r in await AccessLog(cases.store.engine).list(case.case_id)][-1] == "replay"
    assert (await api.get(url, headers=PRACTITIONER_TOKEN)).status_code == 403
    assert (await api.get(url, headers=NORTH_AUDITOR)).status_code == 404
    assert (await api.get(f"/api/audit/cases/{UNKNOWN_CASE}/replay", headers=AUDITOR)).status_code == 404
