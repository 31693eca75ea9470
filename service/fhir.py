"""A case, or a person with their episodes, as an HL7 FHIR R4 Bundle for a receiving clinician
(docs/fhir.md), through the service's steps: practitioners and team leads of the case's site, and
auditors; another site's case looks absent; the export is in the access log. Personal fields are
opened for the receiver; shredded ones are left out.

Every episode of one person exports the same Patient (the person's id); a person's export holds
only the episodes in the reader's sites: those elsewhere are left out, not even named."""

from datetime import UTC, datetime

from fhir.resources.R4B.bundle import Bundle

from domain.access import Action, Principal, require_allowed
from domain.events import StoredEvent
from domain.fhir import case_bundle, person_bundle
from domain.state import CaseState
from service.cases import CaseService, CaseView
from service.people import People


async def fhir_export(cases: CaseService, principal: Principal, case_id: str, at: datetime | None = None) -> Bundle:
    require_allowed(principal.actor, Action.EXPORT_FHIR)
    await cases.in_scope(principal, case_id)
    await cases.record(principal, case_id, "fhir_export", "FHIR export for a receiving clinician")
    state, events = await _opened(cases, principal, case_id)
    person_id = state.person_id or await cases.person_of(case_id)
    return case_bundle(state, events, at or datetime.now(UTC), person_id, cases.config)


async def fhir_person_export(
    people: People, principal: Principal, person_or_case: str, at: datetime | None = None
) -> Bundle:
    """The person (`person-...`, or the person of `case-...`) and their episodes in the reader's
    sites; the export is recorded on each of those episodes."""
    require_allowed(principal.actor, Action.EXPORT_FHIR)
    person_id, states = await people.episodes(principal, person_or_case)
    cases = people.cases
    seen = [state.case_id for state in states if principal.covers(state.site)]
    for case_id in seen:
        await cases.record(principal, case_id, "fhir_export", f"FHIR export of {person_id} for a receiving clinician")
    episodes = [await _opened(cases, principal, case_id) for case_id in seen]
    return person_bundle(person_id, episodes, at or datetime.now(UTC), cases.config)


async def _opened(cases: CaseService, principal: Principal, case_id: str) -> tuple[CaseState, list[StoredEvent]]:
    store = cases.gateway.store
    view = CaseView(state=await store.case_state(case_id), timeline=await store.read_stream(case_id))
    opened = await cases.opened(principal, case_id, view)
    return opened.state, opened.timeline
