"""One person's story across episodes on the real stack (issue 19): every episode of a person exports
the same FHIR Patient (the person's id) with its own EpisodeOfCare; a person exports as one Bundle of
the episodes in the reader's sites; an auditor reads the episodes' events merged in time order; a
RECONNECT hand-off and the episode it opens read as one story; an episode at another site leaks
neither its events nor its resources, and its access log records no read."""

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.patient import Patient

from domain import fhir
from domain.access import Principal
from domain.commands import OpenCase, RequestCourtReport
from domain.errors import Rule, RuleViolation
from domain.fhir_terms import PERSON_SYSTEM
from domain.model import Person, Role
from domain.outcomes import CourtReportPurpose, HearingResult, Recipient
from domain.state import CaseState
from domain.tasks import TaskKind
from service.fhir import fhir_export, fhir_person_export
from service.staff import StaffCommands
from tests.workers.test_fhir import of_type, parses_back
from tests.workflows.journey import BOTH_SITES_PRACTITIONER, OUTCOMES, PRACTITIONER, open_case, open_task, task_opened

NHS_NUMBER = "9434765919"
DEMO_PRACTITIONER = Principal(staff_id="pr-001", role=Role.PRACTITIONER, sites=("demo",))
DEMO_AUDITOR = Principal(staff_id="au-001", role=Role.AUDITOR, sites=("demo",))  # a token may narrow sites
BOTH_SITES_AUDITOR = Principal(staff_id="au-001", role=Role.AUDITOR, sites=("demo", "north"))


def someone(name: str = "Sam Example") -> Person:
    return Person(name=name, date_of_birth="1990-04-01", nhs_number=NHS_NUMBER)


async def episode(cases: StaffCommands, who: Person, site: str = "demo") -> CaseState:
    command: OpenCase = open_case(f"CUST/{uuid.uuid4().hex[:8]}", site=site).model_copy(update={"person": who})
    state = await cases.start_case(command)
    actor = PRACTITIONER if site == "demo" else BOTH_SITES_PRACTITIONER
    return await cases.complete_task(open_task(state, TaskKind.CONSENT), OUTCOMES[TaskKind.CONSENT], actor)


async def fetched(cases: StaffCommands, state: CaseState) -> CaseState:
    return await cases.store.case_state(state.case_id)


def full_urls(bundle: Bundle) -> set[str]:
    return {str(entry.fullUrl) for entry in bundle.entry or []}


def references(bundle: Bundle) -> set[str]:
    return set(re.findall(r'"reference":"([^"]+)"', bundle.model_dump_json()))


async def reads_of(cases: StaffCommands, case_id: str, action: str) -> int:
    return len([r for r in await cases.service.access.list(case_id) if r.action == action])


async def test_each_episode_exports_the_same_patient_with_its_own_episode_of_care(cases: StaffCommands) -> None:
    first = await episode(cases, someone())
    second = await episode(cases, someone("Samuel Example"))
    assert first.person_id is not None and second.person_id == first.person_id

    bundles = [parses_back(await fhir_export(cases.service, DEMO_PRACTITIONER, s.case_id)) for s in (first, second)]

    patients = [of_type(bundle, Patient) for bundle in bundles]
    assert [[p.id for p in found] for found in patients] == [[first.person_id], [first.person_id]]
    assert [found[0].name[0].text for found in patients] == ["Sam Example", "Samuel Example"]
    [[one], [other]] = [of_type(bundle, EpisodeOfCare) for bundle in bundles]
    assert (one.identifier[0].value, other.identifier[0].value) == (first.case_id, second.case_id)
    assert one.id != other.id
    assert one.patient.reference == other.patient.reference == fhir.patient_url(first.person_id)
    for bundle in bundles:
        assert references(bundle) <= full_urls(bundle)


async def test_a_person_exports_as_one_patient_and_the_episodes_in_the_readers_sites(cases: StaffCommands) -> None:
    first = await episode(cases, someone())
    second = await episode(cases, someone())
    elsewhere = await episode(cases, someone(), site="north")
    assert first.person_id is not None and {second.person_id, elsewhere.person_id} == {first.person_id}
    before = await reads_of(cases, elsewhere.case_id, "fhir_export")

    bundle = parses_back(await fhir_person_export(cases.pathway.people, DEMO_PRACTITIONER, second.case_id))

    assert bundle.type == "collection" and bundle.identifier is not None
    assert (bundle.identifier.system, bundle.identifier.value) == (PERSON_SYSTEM, first.person_id)
    [patient] = of_type(bundle, Patient)
    assert patient.id == first.person_id and patient.name[0].text == "Sam Example"
    episodes = of_type(bundle, EpisodeOfCare)
    assert [e.identifier[0].value for e in episodes] == [first.case_id, second.case_id]
    assert {e.patient.reference for e in episodes} == {fhir.patient_url(first.person_id)}
    events = [*await cases.store.read_stream(first.case_id), *await cases.store.read_stream(second.case_id)]
    assert [a.id for a in of_type(bundle, AuditEvent)] == [fhir.audit_event(e).id for e in events]
    assert references(bundle) <= full_urls(bundle)
    # The north episode is left out: not its resources, not its id, and no read of it recorded.
    assert elsewhere.case_id not in bundle.model_dump_json()
    assert await reads_of(cases, elsewhere.case_id, "fhir_export") == before
    assert [await reads_of(cases, s.case_id, "fhir_export") for s in (first, second)] == [1, 1]

    both = parses_back(await fhir_person_export(cases.pathway.people, BOTH_SITES_AUDITOR, first.person_id))
    assert [e.identifier[0].value for e in of_type(both, EpisodeOfCare)] == [
        first.case_id,
        second.case_id,
        elsewhere.case_id,
    ]
    assert len(of_type(both, Patient)) == 1


async def test_an_auditor_reads_the_episodes_merged_in_time_and_another_site_only_as_existing(
    cases: StaffCommands,
) -> None:
    first = await episode(cases, someone())
    elsewhere = await episode(cases, someone(), site="north")
    second = await episode(cases, someone())
    # Back to the first episode: its screening comes after the second opened, so the story interleaves.
    screening = OUTCOMES[TaskKind.SCREENING]
    await cases.complete_task(open_task(await fetched(cases, first), TaskKind.SCREENING), screening, PRACTITIONER)
    assert first.person_id is not None
    before = await reads_of(cases, elsewhere.case_id, "audit_timeline")

    story = await cases.pathway.audit.person_timeline(DEMO_AUDITOR, first.person_id)

    assert story.person_id == first.person_id
    assert [(e.case_id, e.in_scope) for e in story.episodes] == [
        (first.case_id, True),
        (elsewhere.case_id, False),
        (second.case_id, True),
    ]
    [north] = [e for e in story.episodes if not e.in_scope]
    assert (north.site, north.stage, north.referrals) == (None, None, ())
    ours = {s.case_id: await cases.store.read_stream(s.case_id) for s in (first, second)}
    assert sorted((e.case_id, e.event_id) for e in story.entries) == sorted(
        (case_id, event.event_id) for case_id, events in ours.items() for event in events
    )
    moments = [e.occurred_at for e in story.entries]
    assert moments == sorted(moments)
    told = [(e.case_id, e.type) for e in story.entries if e.type in ("CaseOpened", "ScreeningRecorded")]
    assert told == [(first.case_id, "CaseOpened"), (second.case_id, "CaseOpened"), (first.case_id, "ScreeningRecorded")]
    northern = {e.event_id for e in await cases.store.read_stream(elsewhere.case_id)}
    assert not northern & {e.event_id for e in story.entries}
    assert await reads_of(cases, elsewhere.case_id, "audit_timeline") == before
    assert [await reads_of(cases, s.case_id, "audit_timeline") for s in (first, second)] == [1, 1]

    # Asked by the north episode's id, the demo auditor is told there is no such case.
    with pytest.raises(RuleViolation) as refused:
        await cases.pathway.audit.person_timeline(DEMO_AUDITOR, elsewhere.case_id)
    assert refused.value.rule is Rule.CASE_UNKNOWN


async def handed_to_reconnect(cases: StaffCommands) -> tuple[CaseState, str]:
    """An L&D episode remanded at a hearing a few seconds away and handed on to RECONNECT; the
    RECONNECT episode's id, once the worker has opened it."""
    state = await episode(cases, someone())
    now = datetime.now(UTC)
    ask = RequestCourtReport(
        actor=PRACTITIONER,
        purpose=CourtReportPurpose.BAIL_OR_REMAND,
        hearing_at=now + timedelta(seconds=6),
        due_at=now + timedelta(seconds=3),
        recipients=(Recipient.COURT,),
    )
    await cases.request_court_report(state.case_id, ask)
    outcome = await task_opened(cases, state.case_id, TaskKind.HEARING_OUTCOME, 120)
    remand = {"result": HearingResult.REMAND_IN_CUSTODY, "hand_off_to_reconnect": True}
    handed_off = await cases.complete_task(outcome, remand, PRACTITIONER)
    assert handed_off.linked_case_id is not None
    async with asyncio.timeout(60):  # the worker opens the episode a moment after the hand-off
        while not await cases.store.read_stream(handed_off.linked_case_id):
            await asyncio.sleep(0.2)
    return handed_off, handed_off.linked_case_id


async def test_a_reconnect_hand_off_and_its_episode_read_as_one_story(cases: StaffCommands) -> None:
    custody, reconnect = await handed_to_reconnect(cases)
    assert custody.person_id is not None
    assert (await cases.store.case_state(reconnect)).person_id == custody.person_id

    story = await cases.pathway.audit.person_timeline(BOTH_SITES_AUDITOR, reconnect)
    assert [e.case_id for e in story.episodes] == [custody.case_id, reconnect]
    told = [(e.case_id, e.type) for e in story.entries if e.type in ("CaseHandedOff", "EpisodeOpenedFromHandOff")]
    assert told == [(custody.case_id, "CaseHandedOff"), (reconnect, "EpisodeOpenedFromHandOff")]

    bundle: Any = parses_back(await fhir_person_export(cases.pathway.people, BOTH_SITES_AUDITOR, reconnect))
    [patient] = of_type(bundle, Patient)
    # The RECONNECT episode holds no personal data: the Patient's come from the episode that handed on.
    assert patient.id == custody.person_id and patient.name[0].text == "Sam Example"
    episodes = of_type(bundle, EpisodeOfCare)
    assert [e.identifier[0].value for e in episodes] == [custody.case_id, reconnect]
    assert {e.patient.reference for e in episodes} == {fhir.patient_url(custody.person_id)}
    alone = parses_back(await fhir_export(cases.service, BOTH_SITES_AUDITOR, reconnect))
    assert [p.id for p in of_type(alone, Patient)] == [custody.person_id]
