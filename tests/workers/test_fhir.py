"""A case as FHIR R4 (domain/fhir.py, docs/fhir.md): a full journey's Bundle, every resource parsed
back with fhir.resources (R4B), the documented referral status mapping, personal data opened for
the receiving clinician and left out once shredded."""

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest_asyncio
from aiosmtpd.controller import Controller
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task
from temporalio.testing import WorkflowEnvironment

from activities.mailer import SmtpMailer
from domain import fhir
from domain.access import Principal
from domain.commands import CloseCase, RecordReferralOutcome
from domain.fhir_terms import (
    NHS_NUMBER_SYSTEM,
    NHS_NUMBER_VERIFICATION_EXTENSION,
    ODS_ORGANIZATION_SYSTEM,
    PERSON_SYSTEM,
    PROFILES,
    SERVICE_TYPE_SYSTEM,
    SNOMED,
)
from domain.model import Actor, Person, Role
from domain.outcomes import ClosureOutcome, ReferralRequest, ReferralStatus, ServiceType, Urgency
from domain.personal import SHREDDED, WITHHELD
from domain.state import CaseState, Referral
from domain.tasks import TaskKind
from service.fhir import fhir_export
from service.staff import StaffCommands
from store.event_store import EventStore
from store.shredding import shred_person
from tests.cli.support import free_port
from tests.conftest import case_commands, worker_for
from tests.fhir.validators import assert_valid
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task
from workers.settings import SHIPPED_CONFIG, load_config

NAME, BORN, NHS_NUMBER = "Sam Example", "1990-04-01", "9434765919"
REASON = "Hears voices since his brother died"
HOUSING_REASON = "Sleeping rough behind the bus station"
LINK_WORKER = Actor(staff_id="lw-001", role=Role.LINK_WORKER)
ADMIN = Actor(staff_id="ad-001", role=Role.ADMIN)
EXPORTER = Principal(staff_id="pr-001", role=Role.PRACTITIONER, sites=("demo",))
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PERSON_ID = "person-00000000-0000-4000-8000-000000000001"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "fhir.md"
CONFIG = load_config(SHIPPED_CONFIG)


class _Sink:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 Message accepted for delivery"


@pytest_asyncio.fixture(loop_scope="session")
async def cases(temporal_env: WorkflowEnvironment, sqlite_store: EventStore) -> AsyncIterator[StaffCommands]:
    """Case commands on a worker whose referrals go out by email to a local SMTP sink."""
    port = free_port()
    controller = Controller(_Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    task_queue = f"fhir-{uuid.uuid4()}"
    mailer = SmtpMailer(host="127.0.0.1", port=port, sender="pathway@test")
    try:
        async with worker_for(temporal_env.client, sqlite_store, task_queue, mailer):
            yield case_commands(temporal_env, sqlite_store, task_queue)
    finally:
        controller.stop()


async def sent(cases: StaffCommands, case_id: str) -> CaseState:
    for _ in range(200):
        state = await cases.store.case_state(case_id)
        if state.referrals and all(r.status is ReferralStatus.SENT for r in state.referrals):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("the referrals were not sent")


async def full_journey(cases: StaffCommands) -> str:
    """Custody to closure: consent, screening, assessment, sharing, two referrals (one engaged, one
    rejected by the service), closure."""
    person = Person(name=NAME, date_of_birth=BORN, nhs_number=NHS_NUMBER)
    state = await cases.start_case(open_case(f"CUST/{uuid.uuid4().hex[:8]}").model_copy(update={"person": person}))
    for kind in (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION):
        state = await cases.complete_task(open_task(state, kind), OUTCOMES[kind], PRACTITIONER)
    decision = {
        "referrals": [
            {"service": "mental_health", "reason": REASON, "urgency": "urgent"},
            {"service": "housing", "reason": HOUSING_REASON, "urgency": "routine"},
        ]
    }
    state = await cases.complete_task(open_task(state, TaskKind.REFERRAL_DECISION), decision, PRACTITIONER)
    mental_health, housing = (await sent(cases, state.case_id)).referrals
    for referral_id, status, reason in (
        (mental_health.referral_id, ReferralStatus.ACCEPTED, ""),
        (mental_health.referral_id, ReferralStatus.ATTENDED, ""),
        (mental_health.referral_id, ReferralStatus.ENGAGED, ""),
        (housing.referral_id, ReferralStatus.REJECTED, "no capacity"),
    ):
        command = RecordReferralOutcome(actor=LINK_WORKER, referral_id=referral_id, status=status, reason=reason)
        state = await cases.record_referral_outcome(state.case_id, command)
    closure = ClosureOutcome.model_validate({"reason": "record_made_in_error"})
    await cases.close_case(state.case_id, CloseCase(actor=PRACTITIONER, outcome=closure))
    return state.case_id


def service_type(request: Any) -> str:
    code: str = next(c.code for c in request.code.coding if c.system == SERVICE_TYPE_SYSTEM)
    return code


def mental_health_service_id(state: CaseState) -> str | None:
    return next(r.request.service_id for r in state.referrals if r.request.service is ServiceType.MENTAL_HEALTH)


def of_type(bundle: Bundle, kind: type[Any]) -> list[Any]:
    return [entry.resource for entry in bundle.entry or [] if isinstance(entry.resource, kind)]


def parses_back(bundle: Bundle) -> Bundle:
    """The Bundle as JSON, valid to the independent validators (tests/fhir), parsed back whole and
    resource by resource with fhir.resources."""
    text = bundle.model_dump_json(exclude_none=True)
    assert_valid(json.loads(text))
    again = Bundle.model_validate_json(text)
    assert again.model_dump_json(exclude_none=True) == text
    for entry in again.entry or []:
        resource: Any = entry.resource
        assert type(resource).model_validate_json(resource.model_dump_json()) == resource
    return again


async def test_a_full_journey_exports_as_a_bundle_that_parses_back(cases: StaffCommands) -> None:
    case_id = await full_journey(cases)
    inbox = cases.service

    bundle: Any = parses_back(await fhir_export(inbox, EXPORTER, case_id, NOW))

    assert bundle.type == "collection" and bundle.identifier.value == case_id
    [patient] = of_type(bundle, Patient)
    assert patient.name[0].text == NAME and str(patient.birthDate) == BORN
    state = await cases.store.case_state(case_id)
    assert patient.id == state.person_id and patient.id.startswith("person-")
    assert {(i.system, i.value) for i in patient.identifier} == {
        (PERSON_SYSTEM, state.person_id),
        (NHS_NUMBER_SYSTEM, NHS_NUMBER),
    }
    # UK Core: the profile claimed, and the NHS number's verification status (not traced by us).
    assert patient.meta.profile == [PROFILES["Patient"]]
    [nhs] = [i for i in patient.identifier if i.system == NHS_NUMBER_SYSTEM]
    assert [(e.url, e.valueCodeableConcept.coding[0].code) for e in nhs.extension] == [
        (NHS_NUMBER_VERIFICATION_EXTENSION, "02")
    ]
    for entry in bundle.entry:
        kind = entry.resource.get_resource_type()
        assert entry.resource.meta.profile == [PROFILES[kind]], kind
    [episode] = of_type(bundle, EpisodeOfCare)
    assert episode.status == "finished" and episode.period.start and episode.period.end
    assert episode.identifier[0].value == case_id
    [consent] = of_type(bundle, Consent)
    assert consent.status == "active" and consent.provision.type == "permit"
    assert [s.value for s in fhir.consent_scopes(bundle)] == OUTCOMES[TaskKind.CONSENT]["scope"]
    requests = {service_type(r): r for r in of_type(bundle, ServiceRequest)}
    tasks = {t.identifier[0].value: t for t in of_type(bundle, Task)}
    assert set(requests) == {"mental_health", "housing"}
    mental_health, housing = requests["mental_health"], requests["housing"]
    # The directory's SNOMED CT concept comes first, then our own service type.
    snomed = next(s for s in CONFIG.services if s.service_id == mental_health_service_id(state)).snomed
    assert snomed is not None
    assert [(c.system, c.code) for c in mental_health.code.coding] == [
        (SNOMED, snomed.code),
        (SERVICE_TYPE_SYSTEM, "mental_health"),
    ]
    assert (mental_health.status, mental_health.priority, mental_health.intent) == ("completed", "urgent", "order")
    assert mental_health.reasonCode[0].text == REASON and mental_health.authoredOn
    assert (housing.status, housing.priority, housing.reasonCode[0].text) == ("revoked", "routine", HOUSING_REASON)
    assert tasks[mental_health.identifier[0].value].status == "completed"
    assert tasks[housing.identifier[0].value].status == "rejected"
    for task in tasks.values():
        [based_on] = task.basedOn
        assert based_on.reference in {e.fullUrl for e in bundle.entry or [] if isinstance(e.resource, ServiceRequest)}
    # Asked by the practitioner in their role at the site, of the services' organisations, for the
    # site's provider (ODS codes from the configuration).
    [role] = of_type(bundle, PractitionerRole)
    site = CONFIG.sites["demo"]
    assert role.identifier[0].value == f"{PRACTITIONER.staff_id}@demo"
    assert {r.requester.reference for r in requests.values()} == {f"urn:uuid:{role.id}"}
    organizations = {o.id: o for o in of_type(bundle, Organization)}
    assert {(i.system, i.value) for i in organizations[episode.managingOrganization.reference[9:]].identifier} >= {
        (ODS_ORGANIZATION_SYSTEM, site.provider_ods_code)
    }
    assert mental_health.performer[0].reference[9:] in organizations
    events = await cases.store.read_stream(case_id)
    audits = of_type(bundle, AuditEvent)
    assert [a.subtype[0].code for a in audits] == [e.event.type for e in events]
    assert {a.agent[0].who.identifier.value for a in audits} >= {"pr-001", "lw-001", "pathway"}
    assert audits[0].action == "C" and audits[0].entity[0].what.identifier.value == case_id
    # Every reference inside the bundle resolves inside it.
    full_urls = {entry.fullUrl for entry in bundle.entry or []}
    assert set(re.findall(r'"reference":"([^"]+)"', bundle.model_dump_json())) <= full_urls
    # Opened for the clinician: nothing sealed, nothing shredded.
    text = bundle.model_dump_json()
    assert "sealed:v1:" not in text and SHREDDED not in text
    # The export is recorded.
    assert [r.action for r in await inbox.access.list(case_id)][-1] == "fhir_export"

    await shred_person(cases.store, cases.sealer.keys, case_id, ADMIN, "record made in error")
    shredded = parses_back(await fhir_export(inbox, EXPORTER, case_id, NOW))
    text = shredded.model_dump_json()
    [patient] = of_type(shredded, Patient)
    assert (patient.name, patient.birthDate) == (None, None)
    assert [i.system for i in patient.identifier] == [PERSON_SYSTEM]
    assert all(r.reasonCode is None for r in of_type(shredded, ServiceRequest))
    for value in (NAME, BORN, NHS_NUMBER, REASON, HOUSING_REASON, SHREDDED, "sealed:v1:"):
        assert value not in text
    assert of_type(shredded, AuditEvent)[-1].action == "D"


def documented_mapping() -> dict[str, tuple[str, str]]:
    """docs/fhir.md's table: referral status -> (Task.status, ServiceRequest.status)."""
    rows = re.findall(r"^\| `(\w+)` \| `([\w-]+)` \| `([\w-]+)` \|", DOCS.read_text(), re.MULTILINE)
    return {status: (task, request) for status, task, request in rows}


def test_the_documented_status_mapping_holds_for_every_referral_status() -> None:
    documented = documented_mapping()
    assert set(documented) == {s.value for s in ReferralStatus}
    request = ReferralRequest(
        service=ServiceType.HOUSING, service_id="demo-housing", reason="homeless", urgency="urgent"
    )
    for status in ReferralStatus:
        referral = Referral(referral_id=f"r-{status}", request=request, made_at=NOW, status=status)
        state = CaseState(case_id="case-1", site="demo", opened_at=NOW, referrals=(referral,))
        bundle = parses_back(fhir.case_bundle(state, [], NOW, PERSON_ID, CONFIG))
        [task] = of_type(bundle, Task)
        [service_request] = of_type(bundle, ServiceRequest)
        assert (task.status, service_request.status) == documented[status.value], status
        assert task.businessStatus.coding[0].code == status.value


def test_sealed_or_shredded_values_are_never_exported() -> None:
    sealed = f"sealed:v1:person-00000000-0000-0000-0000-000000000000:{'abc' * 20}"
    person = Person(name=SHREDDED, date_of_birth=sealed, nhs_number=sealed, address=WITHHELD)
    request = ReferralRequest(service=ServiceType.HOUSING, reason=sealed, urgency=Urgency.EMERGENCY)
    referral = Referral(referral_id="r-1", request=request, made_at=NOW)
    state = CaseState(case_id="case-1", site="demo", person=person, referrals=(referral,))
    text = parses_back(fhir.case_bundle(state, [], NOW, PERSON_ID, CONFIG)).model_dump_json()
    assert sealed not in text and SHREDDED not in text and WITHHELD not in text
    assert '"priority":"stat"' in text
