"""Issue 17 through the API and the web form: the age band from the date of birth, under-10s and
contradictions refused with 422 and nothing recorded, the identification time kept apart from when
the case was recorded, and a date of birth recorded later moving the case to the right pathway."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from domain.model import Role
from domain.timeline import UK
from service.staff import StaffCommands
from tests.api.conftest import token
from tests.api.test_web import signed_in, web  # noqa: F401  (the web client fixture)

PRACTITIONER = token("pr-001", Role.PRACTITIONER)
AUDITOR = token("au-001", Role.AUDITOR)


def years_ago(years: int, days: int = 0) -> str:
    today = date.today()
    return (today.replace(year=today.year - years) + timedelta(days=days)).isoformat()


def new_case(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "site": "demo",
        "setting": "custody",
        "source": "custody_staff",
        "external_ref": f"CUST/{uuid.uuid4().hex[:6]}",
    }
    return body | changes


async def test_a_five_year_old_and_a_contradicting_band_are_refused_and_nothing_is_recorded(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    before = len(await cases.store.list_cases())
    five = await api.post("/api/cases", json=new_case(person={"date_of_birth": years_ago(5)}), headers=PRACTITIONER)
    assert five.status_code == 422 and five.json()["rule"] == "under_criminal_responsibility"
    assert "no one under 10" in five.json()["detail"]
    wrong = new_case(person={"date_of_birth": years_ago(18)}, age_band="child")
    contradicted = await api.post("/api/cases", json=wrong, headers=PRACTITIONER)
    assert contradicted.status_code == 422 and contradicted.json()["rule"] == "age_band_contradicts_birth_date"
    neither = await api.post("/api/cases", json=new_case(), headers=PRACTITIONER)
    assert neither.status_code == 422 and neither.json()["rule"] == "age_band_required"
    future = new_case(age_band="adult", identified_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    ahead = await api.post("/api/cases", json=future, headers=PRACTITIONER)
    assert ahead.status_code == 422 and ahead.json()["rule"] == "identified_in_future"
    naive = await api.post(
        "/api/cases", json=new_case(age_band="adult", identified_at="2026-01-01T10:00"), headers=PRACTITIONER
    )
    assert naive.status_code == 422 and "identified_at" in naive.json()["fields"]
    assert len(await cases.store.list_cases()) == before


async def test_the_band_comes_from_the_date_of_birth_and_the_identification_time_is_kept(
    api: httpx.AsyncClient,
) -> None:
    arrival = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
    body = new_case(person={"date_of_birth": years_ago(17)}, identified_at=arrival.isoformat())
    started = await api.post("/api/cases", json=body, headers=PRACTITIONER)
    assert started.status_code == 201, started.text
    state = started.json()
    assert (state["age_band"], state["age_verified"]) == ("child", True)
    assert datetime.fromisoformat(state["identified_at"]) == arrival
    assert datetime.fromisoformat(state["opened_at"]) >= arrival + timedelta(hours=3)


async def test_a_date_of_birth_recorded_later_verifies_the_age_and_moves_the_case(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    started = await api.post("/api/cases", json=new_case(age_band="child"), headers=PRACTITIONER)
    assert started.status_code == 201 and started.json()["age_verified"] is False
    case_id = started.json()["case_id"]
    auditor = await api.post(
        f"/api/cases/{case_id}/date-of-birth", json={"date_of_birth": years_ago(30)}, headers=AUDITOR
    )
    assert auditor.status_code == 403
    not_a_date = await api.post(
        f"/api/cases/{case_id}/date-of-birth", json={"date_of_birth": "last spring"}, headers=PRACTITIONER
    )
    assert not_a_date.status_code == 422
    events = len(await cases.store.read_stream(case_id))
    recorded = await api.post(
        f"/api/cases/{case_id}/date-of-birth", json={"date_of_birth": years_ago(30)}, headers=PRACTITIONER
    )
    assert recorded.status_code == 200, recorded.text
    assert (recorded.json()["age_band"], recorded.json()["age_verified"]) == ("adult", True)
    new = [e.event.type for e in await cases.store.read_stream(case_id)][events:]
    assert new == ["DateOfBirthRecorded", "AgeBandChanged"]


async def test_the_web_form_takes_the_arrival_time_in_uk_time_and_leaves_the_band_to_the_date_of_birth(
    web: httpx.AsyncClient,  # noqa: F811
    cases: StaffCommands,
) -> None:
    csrf = await signed_in(web, "pr-001")
    page = await web.get("/cases/new")
    assert 'name="identified_at"' in page.text and 'type="datetime-local"' in page.text
    arrival = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
    form = {
        "csrf": csrf,
        "site": "demo",
        "setting": "custody",
        "source": "custody_staff",
        "external_ref": f"WEB/{uuid.uuid4().hex[:8]}",
        "person.date_of_birth": years_ago(40),
        "identified_at": arrival.astimezone(UK).strftime("%Y-%m-%dT%H:%M"),  # as a datetime-local input sends it
    }
    started = await web.post("/cases/new", data=form)
    assert started.status_code == 303, started.text
    case_id = started.headers["location"].split("/")[2].split("?")[0]
    state = await cases.store.case_state(case_id)
    assert state.identified_at == arrival and state.age_band == "adult" and state.age_verified is True
    case_page = await web.get(f"/cases/{case_id}")
    assert "Identified" in case_page.text


async def test_a_date_of_birth_is_recorded_from_the_case_page(web: httpx.AsyncClient, cases: StaffCommands) -> None:  # noqa: F811
    csrf = await signed_in(web, "pr-001")
    form = {
        "csrf": csrf,
        "site": "demo",
        "setting": "custody",
        "source": "custody_staff",
        "external_ref": f"WEB/{uuid.uuid4().hex[:8]}",
        "age_band": "adult",
    }
    started = await web.post("/cases/new", data=form)
    case_id = started.headers["location"].split("/")[2].split("?")[0]
    page = await web.get(f"/cases/{case_id}")
    assert 'id="age-not-verified"' in page.text and f'action="/cases/{case_id}/date-of-birth"' in page.text
    bad = await web.post(f"/cases/{case_id}/date-of-birth", data={"csrf": csrf, "date_of_birth": "31/03/2008"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text
    young = await web.post(f"/cases/{case_id}/date-of-birth", data={"csrf": csrf, "date_of_birth": years_ago(16)})
    assert young.status_code == 303
    state = await cases.store.case_state(case_id)
    assert (state.age_band, state.age_verified) == ("child", True)
    page = await web.get(young.headers["location"])
    assert 'id="age-not-verified"' not in page.text and "Date of birth recorded" in page.text
