"""F4, F10 and F11 of issue 15: who a token says you are, what signing out ends, what pages leak.

F4 (before): the API trusted a token's `role` and `sites` over the staff directory (an unknown staff
id with role team_lead claimed a task; an auditor with a practitioner claim wrote; a north-only link
worker claiming `demo` read a demo case) and took tokens with no `exp` or an 11-year life.
F10 (before): signing out left the token working (as a cookie and as a bearer token); the cookie had
no Secure flag behind TLS; answers carried no Cache-Control: no-store, CSP or framing refusal.
F11 (before): the API's find-by-reference put the case id of any site's reference in its 404.
"""

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from api.app import create_app
from api.session import COOKIE
from domain.model import Role
from domain.tasks import TaskKind
from service.staff import StaffCommands
from tests.api.conftest import api_client, services_for, signed, token
from tests.api.test_web import csrf_of
from tests.workflows.journey import open_case, open_task

NOW = datetime.now(UTC)


def bearer(claims: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {signed(claims)}"}


def fresh(**claims: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"iat": now, "exp": now + timedelta(hours=1)} | claims


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        (fresh(sub="tl-404", role="team_lead", sites=["demo"]), "not in the staff directory"),
        (fresh(sub="au-001", role="practitioner", sites=["demo"]), "claims a role"),
        (fresh(sub="lw-002", role="link_worker", sites=["demo"]), "claims sites"),
        (fresh(sub="lw-002", role="link_worker", sites=["north", "demo"]), "claims sites"),
        ({"sub": "pr-001", "iat": NOW}, "no 'exp'"),
        ({"sub": "pr-001", "exp": NOW + timedelta(hours=1)}, "no 'iat'"),
        ({"sub": "pr-001", "iat": NOW, "exp": NOW + timedelta(days=365 * 11)}, "lasts longer than 12 hours"),
        ({"sub": "pr-001", "iat": NOW + timedelta(hours=1), "exp": NOW + timedelta(hours=2)}, "not valid"),
    ],
)
async def test_a_token_never_says_more_than_the_staff_directory(
    api: httpx.AsyncClient, cases: StaffCommands, claims: dict[str, Any], why: str
) -> None:
    state = await cases.start_case(open_case(f"F4/{uuid.uuid4().hex[:8]}"))
    task_id = open_task(state, TaskKind.CONSENT)
    events = len(await cases.store.read_stream(state.case_id))
    accesses = len(await cases.service.access.list(state.case_id))
    claimed = await api.post(f"/api/tasks/{task_id}/claim", headers=bearer(claims))
    assert claimed.status_code == 401 and why in claimed.json()["detail"], claimed.text
    read = await api.get(f"/api/cases/{state.case_id}", headers=bearer(claims))
    assert read.status_code == 401
    assert len(await cases.store.read_stream(state.case_id)) == events  # nothing recorded in its name
    assert len(await cases.service.access.list(state.case_id)) == accesses


async def test_a_token_may_narrow_a_persons_sites_and_its_roles_come_from_the_directory(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    state = await cases.start_case(open_case(f"F4/{uuid.uuid4().hex[:8]}"))
    only_north = token("pr-002", Role.PRACTITIONER, ("north",))  # pr-002 works at demo and north
    assert (await api.get(f"/api/cases/{state.case_id}", headers=only_north)).status_code == 404
    no_claims = bearer(fresh(sub="pr-002"))  # role and sites from the directory alone
    assert (await api.get(f"/api/cases/{state.case_id}", headers=no_claims)).status_code == 200


@pytest_asyncio.fixture(loop_scope="session")
async def secure_web(cases: StaffCommands) -> AsyncIterator[httpx.AsyncClient]:
    """The pages as `pathway api` serves them behind TLS (the Secure cookie flag on)."""
    services = dataclasses.replace(services_for(cases), cookie_secure=True)
    async with api_client(create_app(services)) as client:
        client.base_url = httpx.URL("https://pathway.test")
        yield client


async def test_signing_out_ends_the_sign_in_everywhere(secure_web: httpx.AsyncClient, cases: StaffCommands) -> None:
    state = await cases.start_case(open_case(f"F10/{uuid.uuid4().hex[:8]}"))
    signed_in = await secure_web.post("/login", data={"staff_id": "pr-001"})
    assert signed_in.status_code == 303
    cookie = signed_in.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    session = secure_web.cookies[COOKIE]
    as_bearer = {"Authorization": f"Bearer {session}"}
    assert (await secure_web.get(f"/api/cases/{state.case_id}", headers=as_bearer)).status_code == 200

    home = await secure_web.get("/inbox")
    out = await secure_web.post("/logout", data={"csrf": csrf_of(home.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    # A copy of the token, kept from before, no longer works: not as a bearer token, not as a cookie.
    after = await secure_web.get(f"/api/cases/{state.case_id}", headers=as_bearer)
    assert after.status_code == 401 and "signed out" in after.json()["detail"]
    secure_web.cookies.set(COOKIE, session)
    assert (await secure_web.get("/inbox")).headers["location"] == "/login"


async def test_pages_and_answers_with_personal_data_are_never_cached_or_framed(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    state = await cases.start_case(open_case(f"F10/{uuid.uuid4().hex[:8]}"))
    practitioner = token("pr-001", Role.PRACTITIONER)
    for path in (f"/api/cases/{state.case_id}", f"/cases/{state.case_id}", "/login", "/api/cases/nope"):
        answer = await api.get(path, headers=practitioner)
        headers = answer.headers
        assert headers["cache-control"] == "no-store", path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "script-src 'none'" in headers["content-security-policy"], path
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff", path


async def test_a_reference_outside_your_sites_never_reveals_its_case_id(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    reference = f"NORTH/{uuid.uuid4().hex[:8]}"
    opening = open_case(reference, site="north").model_copy(update={"actor": cases.actor("pr-002")})
    state = await cases.start_case(opening)
    demo_only = token("pr-001", Role.PRACTITIONER)
    answer = await api.post("/api/cases/by-reference", json={"site": "north", "ref": reference}, headers=demo_only)
    assert answer.status_code == 404
    assert state.case_id not in answer.text and state.case_id.removeprefix("case-") not in answer.text
    unknown = await api.post("/api/cases/by-reference", json={"site": "north", "ref": "NONE/1"}, headers=demo_only)
    assert unknown.status_code == 404 and unknown.json()["detail"] == answer.json()["detail"]  # the same answer
