"""The HTTP API against a real worker and Temporal dev server: sign-in, scopes, the matrix, refusals."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt

from api.limits import MAX_BODY_BYTES
from domain.model import Role
from domain.tasks import TaskKind
from service.staff import StaffCommands
from tests.api.conftest import AUDIENCE, ISSUER, SECRET, break_glass_alert, signed, token
from tests.workflows.journey import OUTCOMES

PRACTITIONER = token("pr-001", Role.PRACTITIONER)
LINK_WORKER = token("lw-001", Role.LINK_WORKER)
TEAM_LEAD = token("tl-001", Role.TEAM_LEAD)
AUDITOR = token("au-001", Role.AUDITOR)
NORTH_PRACTITIONER = token("pr-002", Role.PRACTITIONER, ("north",))  # signed in for north only


def new_case() -> dict[str, object]:
    return {
        "site": "demo",
        "setting": "custody",
        "source": "custody_staff",
        "external_ref": f"CUST/{uuid.uuid4().hex[:6]}",
        "age_band": "adult",
        "person": {"name": "Alex Example"},
    }


async def start(api: httpx.AsyncClient) -> dict[str, object]:
    response = await api.post("/api/cases", json=new_case(), headers=PRACTITIONER)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def consent_task(state: dict[str, object]) -> str:
    tasks = state["tasks"]
    assert isinstance(tasks, dict)
    [task_id] = [i for i, t in tasks.items() if t["kind"] == TaskKind.CONSENT and t["status"] == "open"]
    return str(task_id)


async def test_no_token_a_forged_token_or_an_expired_one_is_turned_away(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/tasks")).status_code == 401
    now = datetime.now(UTC)
    forged = signed(
        {"sub": "pr-001", "iat": now, "exp": now + timedelta(hours=1)},
        secret="not-the-secret-but-just-as-long-as-the-real-one",
    )
    response = await api.get("/api/tasks", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401 and response.json() == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "the sign-in token is not valid",
    }
    past = datetime.now(UTC) - timedelta(hours=1)
    claims = {"sub": "pr-001", "iss": ISSUER, "aud": AUDIENCE, "iat": past - timedelta(hours=1), "exp": past}
    expired = jwt.encode(claims, SECRET, algorithm="HS256")
    response = await api.get("/api/tasks", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and "expired" in response.json()["detail"]


async def test_a_task_from_the_inbox_is_completed_once(api: httpx.AsyncClient) -> None:
    state = await start(api)
    task_id = consent_task(state)
    inbox = await api.get("/api/tasks", params={"view": "unassigned"}, headers=PRACTITIONER)
    assert task_id in [t["task_id"] for t in inbox.json()]

    wrong = await api.post(
        f"/api/tasks/{task_id}/complete", json={"outcome": {"decision": "yes"}}, headers=PRACTITIONER
    )
    assert wrong.status_code == 422 and "decision" in wrong.json()["detail"]

    async def complete() -> httpx.Response:
        body = {"outcome": OUTCOMES[TaskKind.CONSENT]}
        return await api.post(f"/api/tasks/{task_id}/complete", json=body, headers=PRACTITIONER)

    # Two people at once: exactly one wins, the other is told the task is done.
    first, second = await asyncio.gather(complete(), complete())
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    loser = first if first.status_code == 409 else second
    assert loser.json()["rule"] == "task_not_open"
    winner = first if first.status_code == 200 else second
    assert winner.json()["consent"] == "given"


async def test_roles_and_sites_are_enforced_and_every_access_is_recorded(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    state = await start(api)
    case_id = state["case_id"]
    task_id = consent_task(state)

    assert (await api.post("/api/cases", json=new_case(), headers=LINK_WORKER)).status_code == 403
    refused = await api.post(f"/api/tasks/{task_id}/complete", json={"outcome": {}}, headers=AUDITOR)
    assert refused.status_code == 403 and refused.json()["rule"] == "role_not_allowed"
    assert (await api.get(f"/api/cases/{case_id}", headers=NORTH_PRACTITIONER)).status_code == 404
    assert (await api.post(f"/api/tasks/{task_id}/claim", headers=NORTH_PRACTITIONER)).status_code == 404

    read = await api.get(f"/api/cases/{case_id}", headers=LINK_WORKER)
    assert read.status_code == 200 and read.json()["timeline"][0]["event"]["type"] == "CaseOpened"
    glass = await api.post(
        f"/api/cases/{case_id}/break-glass", json={"reason": "person transferred to our custody suite"},
        headers=NORTH_PRACTITIONER,
    )  # fmt: skip
    assert glass.status_code == 200
    alert = await break_glass_alert(cases, str(case_id))
    assert alert.recipients == ("tl-001@demo.pathway.test",) and "pr-002" in alert.body
    assert "transferred" not in alert.body  # the reason stays in the access log

    assert (await api.get(f"/api/cases/{case_id}/access", headers=PRACTITIONER)).status_code == 403
    log = await api.get(f"/api/cases/{case_id}/access", headers=AUDITOR)
    assert log.status_code == 200
    entries = [(e["staff_id"], e["action"], e["break_glass"]) for e in log.json()]
    assert ("pr-001", "start_case", False) in entries
    assert ("lw-001", "read_case", False) in entries
    assert ("pr-002", "read_case", True) in entries


async def test_bad_input_gets_a_clear_4xx_and_records_nothing(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    before = await cases.store.case_ids()
    malformed = await api.post(
        "/api/cases", content=b"{not json", headers={**PRACTITIONER, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 422
    extra = await api.post("/api/cases", json={**new_case(), "delete_everything": True}, headers=PRACTITIONER)
    assert extra.status_code == 422 and "delete_everything" in extra.json()["fields"]
    huge = await api.post("/api/cases", json={**new_case(), "external_ref": "X" * 10_000}, headers=PRACTITIONER)
    assert huge.status_code == 422 and "external_ref" in huge.json()["fields"]
    elsewhere = await api.post("/api/cases", json={**new_case(), "site": "north"}, headers=PRACTITIONER)
    assert elsewhere.status_code == 403
    assert await cases.store.case_ids() == before


async def test_a_team_lead_reassigns_a_task_within_the_site(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    state = await start(api)
    task_id = consent_task(state)
    url = f"/api/tasks/{task_id}/reassign"
    assert (await api.post(url, json={"assignee": "pr-002"}, headers=PRACTITIONER)).status_code == 403
    moved = await api.post(url, json={"assignee": "pr-002"}, headers=TEAM_LEAD)
    assert moved.status_code == 200 and moved.json()["tasks"][task_id]["assignee"] == "pr-002"
    events = len(await cases.store.read_stream(str(state["case_id"])))
    for assignee, status in [("lw-001", 409), ("au-001", 409), ("nobody", 404), ("pr-002", 409)]:
        refused = await api.post(url, json={"assignee": assignee}, headers=TEAM_LEAD)
        assert refused.status_code == status, (assignee, refused.text)
    assert len(await cases.store.read_stream(str(state["case_id"]))) == events
    # The new assignee may complete it; the practitioner it was taken from may not.
    done = {"outcome": OUTCOMES[TaskKind.CONSENT]}
    taken = await api.post(f"/api/tasks/{task_id}/complete", json=done, headers=PRACTITIONER)
    assert taken.status_code == 403 and taken.json()["rule"] == "task_assigned_to_other"
    mine = await api.post(f"/api/tasks/{task_id}/complete", json=done, headers=token("pr-002", Role.PRACTITIONER))
    assert mine.status_code == 200


async def test_a_body_past_the_limit_is_refused_before_it_is_read(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    before = len(await cases.store.list_cases())
    huge = {**new_case(), "person": {"name": "x" * (MAX_BODY_BYTES + 1)}}
    response = await api.post("/api/cases", json=huge, headers=PRACTITIONER)
    assert response.status_code == 413 and "too large" in response.json()["detail"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"site": "demo", "person": {"name": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"x" * 1024
        yield b'"}}'

    streamed = await api.post(
        "/api/cases", content=chunks(), headers={**PRACTITIONER, "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    page = await api.post("/login", content=b"staff_id=" + b"x" * (MAX_BODY_BYTES + 1))
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert len(await cases.store.list_cases()) == before
