"""F17: the case page's forms (issue 18) as a way into another site's case: post a closure, a court
report request, a referral's outcome or a hearing's outcome for a case outside your sites, to change
it or to have its page (the person's name, their reference) shown with the refusal; or post one as an
auditor, who reads but never writes.

F18: a custody or court reference in a URL: the web's find-by-reference was a GET form, so the
reference went into the browser's history and every access log between the browser and the app."""

import uuid

import httpx

from domain.model import Person
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store.access_log import AccessLog
from tests.api.test_web import signed_in
from tests.workflows.journey import BOTH_SITES_PRACTITIONER, OUTCOMES, PRACTITIONER, open_case, open_task

NAME = "Alex Hidden-Person"
FORMS = {
    "close": {"outcome.reason": "transferred"},
    "court-report": {"purpose": "bail_or_remand", "hearing_at": "2099-01-01T10:00", "recipients": "court"},
    "referral-outcome": {"referral_id": "any", "status": "accepted"},
    "hearing-outcome": {"task_id": "any", "result": "bail"},
    "justice-outcome": {"outcome": "caution"},
    "cohort": {"cohort": "veteran", "member": "true", "reason": "served in the army"},
    "release-date": {"release_on": "2099-01-01"},
}


async def test_f17_another_sites_case_cannot_be_changed_or_shown_through_its_forms(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    opening = open_case(f"NORTH/{uuid.uuid4().hex[:8]}", site="north")
    state = await cases.start_case(opening.model_copy(update={"person": Person(name=NAME)}))
    consent = OUTCOMES[TaskKind.CONSENT]
    state = await cases.complete_task(open_task(state, TaskKind.CONSENT), consent, BOTH_SITES_PRACTITIONER)
    csrf = await signed_in(api, PRACTITIONER.staff_id)  # demo only
    for slug, form in FORMS.items():
        answer = await api.post(f"/cases/{state.case_id}/{slug}", data={"csrf": csrf, **form})
        assert answer.status_code == 404, slug
        assert NAME not in answer.text and opening.external_ref not in answer.text, slug
    assert (await cases.store.case_state(state.case_id)).version == state.version
    logged = await AccessLog(cases.store.engine).list(state.case_id)
    assert [r for r in logged if r.staff_id == PRACTITIONER.staff_id] == []


async def test_f17_an_auditor_changes_nothing_through_the_case_pages_forms(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    state = await cases.start_case(open_case(f"WEB/{uuid.uuid4().hex[:8]}"))
    csrf = await signed_in(api, "au-001")
    page = await api.get(f"/cases/{state.case_id}")
    assert page.status_code == 200
    for slug, form in FORMS.items():
        assert f'action="/cases/{state.case_id}/{slug}"' not in page.text, slug
        answer = await api.post(f"/cases/{state.case_id}/{slug}", data={"csrf": csrf, **form})
        assert answer.status_code == 403 and "An auditor cannot" in answer.text, slug
    assert (await cases.store.case_state(state.case_id)).version == state.version


async def test_f18_a_reference_is_found_by_a_posted_form_never_a_query_string(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    ref = f"CUST/{uuid.uuid4().hex[:8]}"
    state = await cases.start_case(open_case(ref))
    csrf = await signed_in(api, PRACTITIONER.staff_id)
    cases_page = await api.get("/cases")
    assert '<form action="/cases/find" method="post"' in cases_page.text

    in_a_url = await api.get("/cases/find", params={"site": "demo", "ref": ref})
    assert in_a_url.status_code == 404 and "location" not in in_a_url.headers
    without_token = await api.post("/cases/find", data={"site": "demo", "ref": ref})
    assert without_token.status_code == 403

    found = await api.post("/cases/find", data={"csrf": csrf, "site": "demo", "ref": ref})
    assert found.status_code == 303 and found.headers["location"] == f"/cases/{state.case_id}"
    too_long = await api.post("/cases/find", data={"csrf": csrf, "site": "demo", "ref": "X" * 65})
    assert too_long.status_code == 422
