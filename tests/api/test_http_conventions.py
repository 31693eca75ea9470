"""The API follows the HTTP conventions clients expect: refusals as RFC 9457 problem details, listings
in pages with `Link` headers, the case version as an `ETag` and `If-Match` honoured on every change
(412 on a stale version, nothing recorded), `Location` on 201."""

import asyncio
import base64
import uuid
from typing import Any

import httpx

from api.limits import MAX_BODY_BYTES
from api.pagination import MAX_LIMIT
from domain.model import Role
from domain.tasks import TaskKind
from service.staff import StaffCommands
from tests.api.conftest import token
from tests.workflows.journey import OUTCOMES, open_case
from tests.workflows.journey import PRACTITIONER as PRACTITIONER_ACTOR

PRACTITIONER = token("pr-001", Role.PRACTITIONER)
LINK_WORKER = token("lw-001", Role.LINK_WORKER)
TEAM_LEAD = token("tl-001", Role.TEAM_LEAD)
PROBLEM = "application/problem+json"


def new_case(name: str = "Alex Example") -> dict[str, object]:
    ref = f"CUST/{uuid.uuid4().hex[:8]}"
    return {"site": "demo", "setting": "custody", "source": "custody_staff", "external_ref": ref,
            "age_band": "adult", "person": {"name": name}}  # fmt: skip


def assert_problem(response: httpx.Response, status: int, rule: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    if rule is None:
        assert body["type"] == "about:blank" and "rule" not in body
    else:
        assert body["type"] == f"/api/problems/{rule}" and body["rule"] == rule
    return body


async def history_length(cases: StaffCommands, case_id: str) -> int:
    return len((await cases.client.get_workflow_handle(case_id).fetch_history()).events)


async def test_every_kind_of_refusal_is_a_problem_document(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    unsigned = assert_problem(await api.get("/api/tasks"), 401, None)
    assert unsigned["title"] == "Unauthorized"
    assert (await api.get("/api/tasks")).headers["www-authenticate"] == "Bearer"
    forbidden = assert_problem(
        await api.post("/api/cases", json=new_case(), headers=LINK_WORKER), 403, "role_not_allowed"
    )
    assert forbidden["title"] == "Role not allowed" and "link_worker cannot start" in forbidden["detail"]
    assert_problem(await api.get("/api/cases/case-nope", headers=PRACTITIONER), 404, "case_unknown")
    assert assert_problem(await api.get("/api/nothing-here", headers=PRACTITIONER), 404, None)["title"] == "Not Found"
    assert_problem(await api.delete("/api/cases", headers=PRACTITIONER), 405, None)
    invalid = assert_problem(
        await api.post("/api/cases", json={**new_case(), "setting": "moon"}, headers=PRACTITIONER), 422, "invalid_input"
    )
    assert set(invalid["fields"]) == {"setting"} and "setting" in invalid["detail"]
    huge = await api.post("/api/cases", json={**new_case(), "note": "x" * MAX_BODY_BYTES}, headers=PRACTITIONER)
    assert_problem(huge, 413, None)
    state = await cases.start_case(open_case(f"CUST/{uuid.uuid4().hex[:8]}"))
    body = {"outcome": "charged_bailed"}
    assert (await api.post(f"/api/cases/{state.case_id}/justice-outcome", json=body, headers=PRACTITIONER)).is_success
    again = await api.post(f"/api/cases/{state.case_id}/justice-outcome", json=body, headers=PRACTITIONER)
    assert_problem(again, 409, "justice_outcome_unchanged")

    # A problem's type says what it means; the web pages keep their own error pages.
    described = await api.get("/api/problems/justice_outcome_unchanged", headers=PRACTITIONER)
    assert described.json() == {
        "type": "/api/problems/justice_outcome_unchanged",
        "title": "Justice outcome unchanged",
        "rule": "justice_outcome_unchanged",
        "kind": "conflict",
        "status": 409,
    }
    assert_problem(await api.get("/api/problems/no_such_rule", headers=PRACTITIONER), 404, "not_available")
    page = await api.get("/cases/case-nope", headers=PRACTITIONER)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    schema = (await api.get("/openapi.json")).json()
    refusals = schema["paths"]["/api/cases/{case_id}/close"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "412", "422", "503"} <= set(refusals)
    assert set(refusals["412"]["content"]) == {PROBLEM}


async def walk(api: httpx.AsyncClient, url: str, rel: str, key: str) -> list[str]:
    """Every item's id, following `rel` links from `url` until there is none."""
    seen: list[str] = []
    next_url: str | None = url
    while next_url is not None:
        page = await api.get(next_url, headers=PRACTITIONER)
        assert page.status_code == 200 and len(page.json()) <= 3, page.text
        ids = [item[key] for item in page.json()]
        seen = seen + ids if rel == "next" else ids + seen
        next_url = page.links.get(rel, {}).get("url")
    return seen


async def test_listings_come_in_pages_and_a_walk_sees_every_item_exactly_once(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    names = [f"Paged Person {n}" for n in range(7)]
    for name in names:
        assert (await api.post("/api/cases", json=new_case(name), headers=PRACTITIONER)).status_code == 201
    everything = (await api.get("/api/cases", params={"limit": MAX_LIMIT}, headers=PRACTITIONER)).json()
    assert len(everything) == 7 and (await api.get("/api/cases", headers=PRACTITIONER)).json() == everything
    case_ids = [c["case_id"] for c in everything]

    forwards = await walk(api, "/api/cases?limit=3", "next", "case_id")
    assert forwards == case_ids
    last = await api.get("/api/cases?limit=3", headers=PRACTITIONER)
    while "next" in last.links:
        last = await api.get(last.links["next"]["url"], headers=PRACTITIONER)
    assert [c["case_id"] for c in last.json()] == case_ids[6:]
    assert await walk(api, last.links["prev"]["url"], "prev", "case_id") == case_ids[:6]
    assert "prev" not in (await api.get("/api/cases?limit=3", headers=PRACTITIONER)).links
    for name in names:  # the cursors carry no personal data (nor do any links)
        assert name not in str(last.links) and name.encode() not in base64.urlsafe_b64decode(
            last.links["prev"]["url"].split("cursor=")[1] + "=="
        )

    # A task done while someone pages moves no other task across the page boundary (keyset, not offset).
    # (The screening task it opens is due when the consent was, so it lands on the page already read.)
    tasks = [t["task_id"] for t in (await api.get("/api/tasks", headers=PRACTITIONER)).json()]
    first = await api.get("/api/tasks", params={"limit": 3}, headers=PRACTITIONER)
    done = first.json()[0]["task_id"]
    await cases.complete_task(done, OUTCOMES[TaskKind.CONSENT], PRACTITIONER_ACTOR)
    rest = await walk(api, first.links["next"]["url"], "next", "task_id")
    assert [t["task_id"] for t in first.json()] + rest == tasks and len(set(tasks)) == 7

    for limit in (0, MAX_LIMIT + 1, "many"):
        refused = await api.get("/api/tasks", params={"limit": limit}, headers=PRACTITIONER)
        assert "limit" in assert_problem(refused, 422, "invalid_input")["fields"]
    task_cursor = first.links["next"]["url"].split("cursor=")[1]
    for cursor in ("garbage", "!!!", base64.urlsafe_b64encode(b'["after", [1]]').decode(), task_cursor):
        refused = await api.get("/api/cases", params={"cursor": cursor}, headers=PRACTITIONER)
        assert "cursor" in assert_problem(refused, 400, None)["detail"]


async def test_a_change_on_a_stale_version_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    started = await api.post("/api/cases", json=new_case(), headers=PRACTITIONER)
    case_id = started.json()["case_id"]
    assert started.headers["location"] == f"http://pathway.test/api/cases/{case_id}"
    read = await api.get(started.headers["location"], headers=PRACTITIONER)
    etag = read.headers["etag"]
    assert etag == started.headers["etag"] == f'"{read.json()["state"]["version"]}"'
    [task_id] = [t["task_id"] for t in read.json()["state"]["tasks"].values()]
    assert (await api.get(f"/api/tasks/{task_id}", headers=PRACTITIONER)).headers["etag"] == etag

    cohort = {"cohort": "veteran", "member": True, "reason": "served 2004-2012"}
    changed = await api.post(f"/api/cases/{case_id}/cohorts", json=cohort, headers={**PRACTITIONER, "If-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag, changed.text
    assert changed.headers["etag"] == f'"{changed.json()["version"]}"'

    # Every change route of the case and its tasks, with the version read before that change.
    events, history = len(await cases.store.read_stream(case_id)), await history_length(cases, case_id)
    for path, body in [
        (f"/api/cases/{case_id}/cohorts", {**cohort, "member": False}),
        (f"/api/cases/{case_id}/justice-outcome", {"outcome": "charged_bailed"}),
        (f"/api/cases/{case_id}/date-of-birth", {"date_of_birth": "1990-04-01"}),
        (f"/api/cases/{case_id}/close", {"reason": "transferred"}),
        (f"/api/cases/{case_id}/court-reports", {"purpose": "bail_or_remand", "hearing_at": "2099-01-01T10:00:00Z",
                                                 "recipients": ["court"]}),
        (f"/api/cases/{case_id}/referrals/ref-1/outcome", {"status": "accepted"}),
        (f"/api/cases/{case_id}/release-date", {"release_on": "2099-01-01"}),
        (f"/api/tasks/{task_id}/claim", None),
        (f"/api/tasks/{task_id}/reassign", {"assignee": "pr-002"}),
        (f"/api/tasks/{task_id}/complete", {"outcome": OUTCOMES[TaskKind.CONSENT]}),
    ]:  # fmt: skip
        signed_in = TEAM_LEAD if path.endswith("reassign") else PRACTITIONER
        refused = await api.post(path, json=body, headers={**signed_in, "If-Match": etag})
        problem = assert_problem(refused, 412, "case_version_changed")
        assert f"it is at version {changed.json()['version']} now" in problem["detail"]
    assert len(await cases.store.read_stream(case_id)) == events
    assert await history_length(cases, case_id) == history  # refused by the validator: no trace in Temporal

    for malformed in ('W/"3"', "3", '"three"', '"3", "4"'):
        refused = await api.post(f"/api/tasks/{task_id}/claim", headers={**PRACTITIONER, "If-Match": malformed})
        assert "If-Match" in assert_problem(refused, 400, None)["detail"]
    assert len(await cases.store.read_stream(case_id)) == events
    claimed = await api.post(f"/api/tasks/{task_id}/claim", headers={**PRACTITIONER, "If-Match": "*"})
    assert claimed.status_code == 200 and claimed.json()["tasks"][task_id]["assignee"] == "pr-001"


async def test_two_changes_on_the_same_version_at_once_one_wins(api: httpx.AsyncClient) -> None:
    """The version is checked by the workflow as it decides, under the lock that serialises the case's
    commands, so there is no window between the check and the change."""
    started = await api.post("/api/cases", json=new_case(), headers=PRACTITIONER)
    case_id, version = started.json()["case_id"], started.headers["etag"]

    async def change(cohort: str) -> httpx.Response:
        body = {"cohort": cohort, "member": True, "reason": "said so at booking"}
        headers = {**PRACTITIONER, "If-Match": version}
        return await api.post(f"/api/cases/{case_id}/cohorts", json=body, headers=headers)

    answers = await asyncio.gather(*(change(c) for c in ("veteran", "care_leaver", "womens_pathway")))
    assert sorted(a.status_code for a in answers) == [200, 412, 412], [a.text for a in answers]
    [winner] = [a for a in answers if a.status_code == 200]
    final = await api.get(f"/api/cases/{case_id}", headers=PRACTITIONER)
    assert final.json()["state"]["cohorts"] == winner.json()["cohorts"] and len(winner.json()["cohorts"]) == 1
