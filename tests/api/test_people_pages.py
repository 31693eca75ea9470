"""Issue 19 on the web pages: "seen before" on a case and its screening task (another site's episode
shows only that it exists, linking to the break-glass form), the possible previous contact task with
its candidates side by side, confirmed or rejected, and a practitioner's own link and unlink."""

import re
import uuid

import httpx
import pytest

from api.forms import FormInvalid
from api.people_pages import person_match_answers
from domain.commands import CloseCase, OpenCase
from domain.model import Person
from domain.outcomes import ClosureOutcome
from domain.tasks import TaskKind
from service.staff import StaffCommands
from tests.api.test_web import signed_in
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task

NHS_NUMBER = "9434765919"  # valid (tests/domain/test_text_rules.py)
NAME, BORN = "Morwenna Achterberg", "1990-04-17"


def reference() -> str:
    return f"PEOPLE/{uuid.uuid4().hex[:8]}"


def of(person: Person, site: str = "demo") -> OpenCase:
    return open_case(reference(), site=site).model_copy(update={"person": person})


def section(html: str, element_id: str) -> str:
    """The element with this id, up to its table's end ("" when the page has none)."""
    found = re.search(rf'id="{element_id}".*?</table>', html, re.S)
    return found.group(0) if found else ""


def row(html: str, case_id: str) -> str:
    found = re.search(rf'data-case-id="{case_id}".*?</tr>', html, re.S)
    assert found, f"no row for {case_id}"
    return found.group(0)


async def post(api: httpx.AsyncClient, path: str, csrf: str, **answers: str) -> httpx.Response:
    return await api.post(path, data={"csrf": csrf, **answers})


# 1. Seen before


async def test_the_same_nhs_number_shows_the_first_episode_as_seen_before_on_the_second(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    first = await cases.start_case(of(Person(name=NAME, date_of_birth=BORN, nhs_number=NHS_NUMBER)))
    first = await cases.complete_task(open_task(first, TaskKind.CONSENT), OUTCOMES[TaskKind.CONSENT], PRACTITIONER)
    first = await cases.complete_task(open_task(first, TaskKind.SCREENING), OUTCOMES[TaskKind.SCREENING], PRACTITIONER)
    second = await cases.start_case(of(Person(name="M. Achterberg", nhs_number=NHS_NUMBER)))
    alone = await cases.start_case(of(Person(name="Ottoline Quarshie", date_of_birth="1971-02-03")))
    assert second.person_id == first.person_id != second.own_person_id

    await signed_in(api, "pr-001")
    page = (await api.get(f"/cases/{second.case_id}")).text
    assert "Seen before" in page
    seen = row(section(page, "seen-before"), first.case_id)
    assert f'href="/cases/{first.case_id}"' in seen and "demo" in seen and "Custody" in seen
    assert "Mental health" in seen and "Housing" in seen  # the needs its screening found
    assert "Open" in seen and "Another service" not in seen
    assert second.case_id not in section(page, "seen-before")  # the case itself is not "before"
    assert f"{first.person_id} (seen before)" in page

    # Its screening task shows it too; a case of a person seen nowhere else shows nothing.
    second = await cases.complete_task(open_task(second, TaskKind.CONSENT), OUTCOMES[TaskKind.CONSENT], PRACTITIONER)
    task = (await api.get(f"/tasks/{open_task(second, TaskKind.SCREENING)}")).text
    assert first.case_id in section(task, "seen-before")
    second = await cases.complete_task(
        open_task(second, TaskKind.SCREENING), OUTCOMES[TaskKind.SCREENING], PRACTITIONER
    )
    task = (await api.get(f"/tasks/{open_task(second, TaskKind.ASSESSMENT)}")).text
    assert first.case_id in section(task, "seen-before")
    assert "Seen before" not in (await api.get(f"/cases/{alone.case_id}")).text


async def test_another_sites_episode_shows_only_that_it_exists(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    """pr-002 works at demo and north and opens an episode at north; pr-001 works at demo only."""
    north = await cases.start_case(of(Person(name=NAME, nhs_number=NHS_NUMBER), site="north"))
    demo = await cases.start_case(of(Person(name=NAME, nhs_number=NHS_NUMBER)))
    assert demo.person_id == north.person_id

    await signed_in(api, "pr-001")
    seen = row(section((await api.get(f"/cases/{demo.case_id}")).text, "seen-before"), north.case_id)
    assert "Another service" in seen and f'href="/cases/{north.case_id}"' in seen and "Custody" in seen
    assert "north" not in seen and "nhsuk-tag" not in seen and "None recorded" not in seen  # no stage, no needs
    # Its link leads to the break-glass form, as any case outside the reader's sites.
    csrf = await signed_in(api, "pr-001")
    outside = await api.get(f"/cases/{north.case_id}")
    assert outside.status_code == 404 and "break-glass" in outside.text
    # Read by breaking glass, the case shows no "seen before": its person's episodes are for those who work with them.
    reason = "the person is in our custody suite now and says they were seen at north last week"
    broken = await post(api, f"/cases/{north.case_id}/break-glass", csrf, reason=reason)
    assert broken.status_code == 200 and NAME in broken.text and "Seen before" not in broken.text

    await signed_in(api, "pr-002")
    seen = row(section((await api.get(f"/cases/{demo.case_id}")).text, "seen-before"), north.case_id)
    assert "north" in seen and "Another service" not in seen


# 2. A possible previous contact


def test_the_choice_of_person_must_be_answered_and_none_of_them_is_no_person() -> None:
    with pytest.raises(FormInvalid) as unanswered:
        person_match_answers({"same_person_as": [" "], "note": ["x"]})
    assert set(unanswered.value.problems.fields) == {"same_person_as"}
    assert person_match_answers({"same_person_as": ["none"], "note": ["x"]}) == {"note": ["x"]}
    chosen = {"same_person_as": ["person-1"], "note": [""]}
    assert person_match_answers(chosen) == chosen


async def test_a_name_and_date_of_birth_match_is_confirmed_or_rejected_on_its_task_page(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    first = await cases.start_case(of(Person(name=NAME, date_of_birth=BORN)))
    second = await cases.start_case(of(Person(name=NAME, date_of_birth=BORN)))
    assert second.person_id == second.own_person_id  # not linked: a practitioner decides
    task_id = open_task(second, TaskKind.PERSON_MATCH)

    csrf = await signed_in(api, "pr-001")
    page = (await api.get(f"/tasks/{task_id}")).text
    card = section(page, "candidate-1")
    assert f'data-person-id="{first.person_id}"' in card and "MA" in card and "17 April 1990" in card
    assert first.case_id in card
    assert "candidate-2" not in page

    # Nothing chosen: refused beside the question, nothing recorded.
    refused = await post(api, f"/tasks/{task_id}/complete", csrf, note="")
    assert refused.status_code == 422
    assert "There is a problem" in refused.text and "Choose who this person is, or none of them" in refused.text
    assert open_task(await cases.store.case_state(second.case_id), TaskKind.PERSON_MATCH) == task_id

    confirmed = await post(
        api, f"/tasks/{task_id}/complete", csrf, same_person_as=str(first.person_id), note="same DOB"
    )
    assert confirmed.status_code == 303
    linked = await cases.store.case_state(second.case_id)
    assert linked.person_id == first.person_id and task_id not in {t.task_id for t in linked.open_tasks}
    assert first.case_id in section((await api.get(f"/cases/{second.case_id}")).text, "seen-before")

    # A third episode, the same again: "none of them" leaves it its own person.
    third = await cases.start_case(of(Person(name=NAME, date_of_birth=BORN)))
    third_task = open_task(third, TaskKind.PERSON_MATCH)
    rejected = await post(api, f"/tasks/{third_task}/complete", csrf, same_person_as="none", note="")
    assert rejected.status_code == 303
    rejecting = await cases.store.case_state(third.case_id)
    assert rejecting.person_id == third.own_person_id
    assert "Seen before" not in (await api.get(f"/cases/{third.case_id}")).text


# 3. Link and unlink on the case page


async def test_a_practitioner_unlinks_and_links_an_episode_on_the_case_page(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    first = await cases.start_case(of(Person(name=NAME, nhs_number=NHS_NUMBER)))
    second = await cases.start_case(of(Person(name=NAME, nhs_number=NHS_NUMBER)))
    case_page = f"/cases/{second.case_id}"
    csrf = await signed_in(api, "pr-001")
    page = (await api.get(case_page)).text
    assert 'id="unlink-person"' in page and 'id="link-person"' not in page

    no_reason = await post(api, f"{case_page}/unlink-person", csrf, reason="")
    assert no_reason.status_code == 422 and "There is a problem" in no_reason.text
    assert (await cases.store.case_state(second.case_id)).person_id == first.person_id

    unlinked = await post(api, f"{case_page}/unlink-person", csrf, reason="a different man with a mistyped number")
    assert unlinked.status_code == 303
    assert (await cases.store.case_state(second.case_id)).person_id == second.own_person_id
    page = (await api.get(case_page)).text
    assert "Seen before" not in page and 'id="link-person"' in page

    # A person id not written as one, or of nobody in the reader's sites: refused beside the question.
    basis = "the custody record number is the same"
    malformed = await post(api, f"{case_page}/link-person", csrf, person_id="someone", basis=basis)
    assert malformed.status_code == 422 and "Person ID is not in the correct format" in malformed.text
    nobody = await post(api, f"{case_page}/link-person", csrf, person_id=f"person-{uuid.uuid4()}", basis=basis)
    assert nobody.status_code == 404 and "There is a problem" in nobody.text and "person_id-error" in nobody.text

    linked = await post(api, f"{case_page}/link-person", csrf, person_id=str(first.person_id), basis=basis)
    assert linked.status_code == 303
    assert (await cases.store.case_state(second.case_id)).person_id == first.person_id
    assert first.case_id in section((await api.get(case_page)).text, "seen-before")

    # A link worker has neither form.
    await signed_in(api, "lw-001")
    page = (await api.get(case_page)).text
    assert "unlink-person" not in page and "link-person" not in page


async def test_a_closed_episode_is_unlinked_on_its_page_and_offers_no_other_form(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    first = await cases.start_case(of(Person(name=NAME, nhs_number=NHS_NUMBER)))
    second = await cases.start_case(of(Person(name=NAME, nhs_number=NHS_NUMBER)))
    closing = ClosureOutcome.model_validate({"reason": "record_made_in_error"})
    await cases.close_case(second.case_id, CloseCase(actor=PRACTITIONER, outcome=closing))
    case_page = f"/cases/{second.case_id}"
    csrf = await signed_in(api, "pr-001")
    page = (await api.get(case_page)).text
    assert 'id="unlink-person"' in page and 'id="close"' not in page and 'id="court-report"' not in page

    unlinked = await post(api, f"{case_page}/unlink-person", csrf, reason="a different man with a mistyped number")
    assert unlinked.status_code == 303
    after = await cases.store.case_state(second.case_id)
    assert after.person_id == second.own_person_id != first.person_id and after.stage == "closed"
