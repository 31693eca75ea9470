"""F22 to F24 of issue 19: a person's episodes across sites, tried by an outsider.

- F22: read another site's episodes of a person through `GET /api/people/...` (and the service the CLI's
  `pathway person show` calls), to learn the site, the needs found and the referrals made there.
- F23: link one of your cases to a person who has episodes only at another site, to have the person's
  record (their episodes, and later their candidates) shown as yours.
- F24: read the person index on disk, to learn who was seen where: names, NHS numbers, dates of birth.

Another site's episode shows only that it exists (case id, date, setting, "another service"); a person
with no episode in your sites is refused exactly as a person who does not exist is, recording nothing;
the index holds keyed digests only, and neither it nor any database file holds the details in clear."""

import hashlib
import uuid
from pathlib import Path

import httpx
from sqlalchemy import select

from domain.model import Person, Role
from domain.person_match import SEPARATOR, MatchBasis, normalise_surname, phonetic
from domain.state import CaseState
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store import schema
from tests.api.conftest import token
from tests.workflows.journey import BOTH_SITES_PRACTITIONER, OUTCOMES, open_case, open_task

DEMO_PRACTITIONER = token("pr-001", Role.PRACTITIONER)  # works at demo only
NHS_NUMBER = "9434765919"
NAME, BORN = "Rowan Featherstonehaugh", "1979-11-23"
NOBODY = "person-00000000-0000-4000-8000-000000000000"


async def opened(cases: StaffCommands, site: str, person: Person) -> CaseState:
    return await cases.start_case(
        open_case(f"CUST/{uuid.uuid4().hex[:8]}", site=site).model_copy(update={"person": person})
    )


async def screened_at_north(cases: StaffCommands, person: Person) -> CaseState:
    """An episode at north whose screening found needs, so there is something to leak."""
    state = await opened(cases, "north", person)
    for kind in (TaskKind.CONSENT, TaskKind.SCREENING):
        state = await cases.complete_task(open_task(state, kind), OUTCOMES[kind], BOTH_SITES_PRACTITIONER)
    assert state.screening is not None and state.screening.domains
    return state


async def recorded(cases: StaffCommands, case_id: str) -> tuple[int, int]:
    return len(await cases.store.read_stream(case_id)), len(await cases.service.access.list(case_id))


def without_id(answer: httpx.Response, person_id: str) -> dict[str, str]:
    assert answer.status_code == 404, answer.text
    return {key: str(value).replace(person_id, "<id>") for key, value in answer.json().items()}


async def test_f22_another_sites_episode_shows_only_that_it_exists(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    north = await screened_at_north(cases, Person(nhs_number=NHS_NUMBER))
    demo = await opened(cases, "demo", Person(nhs_number=NHS_NUMBER))
    assert demo.person_id == north.person_id and north.screening is not None
    needs = [str(need) for need in north.screening.domains]
    north_before = await recorded(cases, north.case_id)

    for reference in (demo.case_id, north.person_id):
        answer = await api.get(f"/api/people/{reference}", headers=DEMO_PRACTITIONER)
        assert answer.status_code == 200, answer.text
        [theirs] = [e for e in answer.json()["episodes"] if e["case_id"] == north.case_id]
        assert theirs == {
            "case_id": north.case_id,
            "in_scope": False,
            "opened_on": theirs["opened_on"],
            "setting": "custody",
            "site": None,
            "programme": None,
            "stage": None,
            "open": None,
            "needs": [],
            "referrals": [],
            "engaged": None,
        }
        assert "north" not in answer.text
        assert not any(need in answer.text for need in needs)
    # The service the CLI calls answers the same, and the outsider's reads leave no row on north's case.
    principal = cases.principal(cases.actor("pr-001"))
    view = await cases.pathway.people.show(principal, demo.case_id)
    assert [e.site for e in view.episodes if e.case_id == north.case_id] == [None]
    assert await recorded(cases, north.case_id) == north_before

    # Their case itself, by its id: as unknown as any case outside the reader's sites.
    direct = await api.get(f"/api/people/{north.case_id}", headers=DEMO_PRACTITIONER)
    assert direct.status_code == 404 and "north" not in direct.text


async def test_f23_linking_to_a_person_of_another_site_only_is_refused_and_leaves_nothing(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    north = await opened(cases, "north", Person(name="Kit Marlowe"))
    demo = await opened(cases, "demo", Person(name="Kit Marlow"))
    assert north.person_id is not None
    before = await recorded(cases, north.case_id), await recorded(cases, demo.case_id)

    body = {"basis": "I am sure it is them"}
    theirs = await api.post(
        f"/api/cases/{demo.case_id}/person-link", json=body | {"person_id": north.person_id}, headers=DEMO_PRACTITIONER
    )
    nobodys = await api.post(
        f"/api/cases/{demo.case_id}/person-link", json=body | {"person_id": NOBODY}, headers=DEMO_PRACTITIONER
    )
    assert theirs.json()["rule"] == "person_unknown"
    assert without_id(theirs, north.person_id) == without_id(nobodys, NOBODY)
    read = await api.get(f"/api/people/{north.person_id}", headers=DEMO_PRACTITIONER)
    assert without_id(read, north.person_id) == without_id(
        await api.get(f"/api/people/{NOBODY}", headers=DEMO_PRACTITIONER), NOBODY
    )
    assert (await recorded(cases, north.case_id), await recorded(cases, demo.case_id)) == before
    assert (await cases.store.case_state(demo.case_id)).person_id == demo.own_person_id


async def test_f24_the_person_index_holds_no_personal_data_in_clear(cases: StaffCommands, tmp_path: Path) -> None:
    person = Person(name=NAME, date_of_birth=BORN, nhs_number=NHS_NUMBER)
    first = await opened(cases, "demo", person)
    await opened(cases, "demo", person.model_copy(update={"nhs_number": None}))  # a name and DOB: a match task
    async with cases.store.engine.connect() as conn:
        rows = (await conn.execute(select(schema.person_index))).all()
    assert {MatchBasis(row.basis) for row in rows} == set(MatchBasis)
    assert first.case_id in {row.case_id for row in rows}

    surname = normalise_surname(NAME)
    assert surname is not None
    clear = [
        *NAME.split(),
        surname,
        NHS_NUMBER,
        "943 476 5919",
        BORN,
        BORN.replace("-", ""),
        phonetic(surname),
    ]
    # Without the index key a digest is no plain hash of what it was made from (a dictionary of NHS
    # numbers or of names and dates would otherwise reverse it).
    unkeyed = {
        hashlib.sha256(text.encode()).digest()
        for value in (NHS_NUMBER, f"{surname}{SEPARATOR}{BORN}", f"{phonetic(surname)}{SEPARATOR}{BORN}")
        for text in (value, *(f"{basis}{SEPARATOR}{value}" for basis in MatchBasis))
    }
    for row in rows:
        assert len(row.digest) == 32 and row.digest not in unkeyed
        stored = " ".join(str(value) for value in row).upper()
        assert not any(text.upper() in stored for text in clear)
    raw = {path.name: path.read_bytes().upper() for path in tmp_path.glob("pathway.db*")}
    assert raw, "the test's SQLite files"
    for name, content in raw.items():
        assert not [text for text in clear if text.upper().encode() in content], name
