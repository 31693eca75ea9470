"""The web pages over HTTP (no browser): sign-in, CSRF, scopes, escaping, refusals as pages with 4xx."""

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from api.app import create_app
from api.session import COOKIE
from domain.model import Role
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store.access_log import AccessLog
from tests.api.conftest import api_client, break_glass_alert, services_for, token
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task


@pytest_asyncio.fixture(loop_scope="session")
async def web(cases: StaffCommands) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(create_app(services_for(cases))) as client:
        yield client


async def signed_in(web: httpx.AsyncClient, staff_id: str) -> str:
    """Sign in through the dev login page; returns the CSRF token the pages' forms carry."""
    response = await web.post("/login", data={"staff_id": staff_id})
    assert response.status_code == 303
    home = await web.get(response.headers["location"])
    assert home.status_code == 200
    return csrf_of(home.text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def test_pages_need_a_sign_in_and_the_login_offers_the_demo_staff(web: httpx.AsyncClient) -> None:
    response = await web.get("/inbox")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    login = await web.get("/login")
    assert login.status_code == 200 and 'value="lw-001"' in login.text and 'value="tl-001"' in login.text
    refused = await web.post("/login", data={"staff_id": "nobody"})
    assert refused.status_code == 422 and "Choose who you are from the list" in refused.text
    assert COOKIE not in web.cookies

    web.cookies.set(COOKIE, "forged.token.value")
    assert (await web.get("/inbox")).headers["location"] == "/login"


async def test_a_form_without_its_csrf_token_changes_nothing(web: httpx.AsyncClient, cases: StaffCommands) -> None:
    state = await cases.start_case(open_case(f"WEB/{uuid.uuid4().hex[:8]}"))
    task_id = open_task(state, TaskKind.CONSENT)
    await signed_in(web, "pr-001")
    response = await web.post(f"/tasks/{task_id}/claim", data={"csrf": "0" * 64})
    assert response.status_code == 403 and "this form has expired" in response.text
    response = await web.post(f"/tasks/{task_id}/complete", data={"decision": "declined"})
    assert response.status_code == 403
    assert (await cases.store.case_state(state.case_id)).version == state.version


async def test_free_text_is_escaped_on_every_page(web: httpx.AsyncClient, cases: StaffCommands) -> None:
    state = await cases.start_case(open_case(f"WEB/{uuid.uuid4().hex[:8]}"))
    state = await cases.complete_task(open_task(state, TaskKind.CONSENT), OUTCOMES[TaskKind.CONSENT], PRACTITIONER)
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    screening = {**OUTCOMES[TaskKind.SCREENING], "note": hostile}
    state = await cases.complete_task(open_task(state, TaskKind.SCREENING), screening, PRACTITIONER)
    await signed_in(web, "pr-001")
    page = await web.get(f"/cases/{state.case_id}")
    assert page.status_code == 200
    assert hostile not in page.text and "<script>alert(2)" not in page.text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page.text


async def test_completing_a_task_that_is_already_done_says_so(web: httpx.AsyncClient, cases: StaffCommands) -> None:
    state = await cases.start_case(open_case(f"WEB/{uuid.uuid4().hex[:8]}"))
    task_id = open_task(state, TaskKind.CONSENT)
    csrf = await signed_in(web, "pr-001")
    form = {"csrf": csrf, "decision": "given", "scope": ["assessment", "share_court"]}
    done = await web.post(f"/tasks/{task_id}/complete", data=form)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/cases/{state.case_id}?notice=")
    after = await cases.store.case_state(state.case_id)
    assert after.consent == "given" and after.consent_scope == ("assessment", "share_court")

    again = await web.post(f"/tasks/{task_id}/complete", data=form)
    assert again.status_code == 409 and "There is a problem" in again.text
    assert (await cases.store.case_state(state.case_id)).version == after.version


async def test_out_of_site_reading_needs_a_reason_which_is_recorded(
    web: httpx.AsyncClient, cases: StaffCommands
) -> None:
    state = await cases.start_case(open_case(f"WEB/{uuid.uuid4().hex[:8]}"))
    csrf = await signed_in(web, "lw-002")  # north only
    hidden = await web.get(f"/cases/{state.case_id}")
    assert hidden.status_code == 404 and "Why do you need to read this case?" in hidden.text

    too_short = await web.post(f"/cases/{state.case_id}/break-glass", data={"csrf": csrf, "reason": "need it"})
    assert too_short.status_code == 422
    assert [r for r in await AccessLog(cases.store.engine).list(state.case_id) if r.staff_id == "lw-002"] == []

    reason = "Person transferred to our custody suite overnight"
    read = await web.post(f"/cases/{state.case_id}/break-glass", data={"csrf": csrf, "reason": reason})
    assert read.status_code == 200 and "Your reading of this case and your reason have been recorded" in read.text
    [record] = [r for r in await cases.access_log(state.case_id) if r.staff_id == "lw-002"]
    assert (record.break_glass, record.purpose) == (True, f"break-glass: {reason}")
    assert reason not in (await break_glass_alert(cases, state.case_id)).body


async def test_auditors_see_who_accessed_a_case_and_others_cannot(web: httpx.AsyncClient, cases: StaffCommands) -> None:
    state = await cases.start_case(open_case(f"WEB/{uuid.uuid4().hex[:8]}"))
    await signed_in(web, "pr-001")
    assert (await web.get(f"/cases/{state.case_id}")).status_code == 200
    refused = await web.get(f"/cases/{state.case_id}/access")
    assert refused.status_code == 403 and "a practitioner cannot read who accessed a case" in refused.text

    await signed_in(web, "au-001")
    page = await web.get(f"/cases/{state.case_id}/access")
    assert page.status_code == 200
    assert "pr-001 (Practitioner)" in page.text and "Read case" in page.text


async def test_a_practitioner_starts_a_case_from_the_web_and_a_link_worker_cannot(
    web: httpx.AsyncClient, cases: StaffCommands
) -> None:
    reference = f"WEB/{uuid.uuid4().hex[:8]}"
    csrf = await signed_in(web, "lw-001")
    form = {
        "csrf": csrf,
        "site": "demo",
        "setting": "custody",
        "source": "custody_staff",
        "external_ref": reference,
        "age_band": "adult",
        "person.name": "Sam Example",
    }
    refused = await web.post("/cases/new", data=form)
    assert refused.status_code == 403 and "a link_worker cannot start a case" in refused.text
    form["csrf"] = await signed_in(web, "pr-001")
    missing = await web.post("/cases/new", data={**form, "setting": ""})
    assert missing.status_code == 422 and "Choose setting" in missing.text
    started = await web.post("/cases/new", data=form)
    assert started.status_code == 303
    [case] = [
        c for c in await cases.store.list_cases() if started.headers["location"].startswith(f"/cases/{c.case_id}")
    ]
    assert (
        await cases.sealer.open_for_case(await cases.store.case_state(case.case_id), case.case_id)
    ).external_ref == reference


async def test_a_bearer_token_from_a_sign_on_proxy_opens_the_pages(web: httpx.AsyncClient) -> None:
    response = await web.get("/inbox?view=overdue", headers=token("tl-001", Role.TEAM_LEAD))
    assert response.status_code == 200 and '<h1 class="nhsuk-heading-l">Overdue</h1>' in response.text
    unknown_view = await web.get("/inbox?view=everything", headers=token("tl-001", Role.TEAM_LEAD))
    assert unknown_view.status_code == 422 and "Check your answers" in unknown_view.text
