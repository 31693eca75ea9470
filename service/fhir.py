"""A case as an HL7 FHIR R4 Bundle for a receiving clinician (docs/fhir.md), through the service's
steps: practitioners and team leads of the case's site, and auditors; another site's case looks
absent; the export is in the access log. Personal fields are opened for the receiver; shredded ones
are left out."""

from datetime import UTC, datetime

from fhir.resources.R4B.bundle import Bundle

from domain.access import Action, Principal, require_allowed
from domain.fhir import case_bundle
from service.cases import CaseService, CaseView


async def fhir_export(cases: CaseService, principal: Principal, case_id: str, at: datetime | None = None) -> Bundle:
    require_allowed(principal.actor, Action.EXPORT_FHIR)
    await cases.in_scope(principal, case_id)
    store = cases.gateway.store
    await cases.record(principal, case_id, "fhir_export", "FHIR export for a receiving clinician")
    view = CaseView(state=await store.case_state(case_id), timeline=await store.read_stream(case_id))
    opened = await cases.opened(principal, case_id, view)
    return case_bundle(opened.state, opened.timeline, at or datetime.now(UTC))
