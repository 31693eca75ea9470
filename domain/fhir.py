"""A case as HL7 FHIR R4 resources (docs/fhir.md): pure mapping, no I/O.

The documents are FHIR R4 4.0.1 and each resource claims its UK Core profile (domain/fhir_terms.py
PROFILES). They are built and checked with the pydantic v2 models of `fhir.resources` (its `R4B`
sub-package: the package's root is R5; R4B left every resource and element used here as R4 had
them), and tests/fhir/ validates them independently against the official R4 JSON schema, the R4
StructureDefinitions and UK Core's requirements. This module imports only the domain and that (pure,
third-party) model library, so the domain stays free of I/O and of our other packages.

The caller passes the case *opened* (store.person_keys.Sealer.open): personal fields in plaintext
for the receiving clinician. A value still sealed, or reading "[shredded]" after crypto-shredding,
is left out rather than exported.

The `Patient` is the person (issue 19), not the episode: its id is the person's id (`person-<uuid>`),
so every episode of one person exports the same Patient, and each episode is its own `EpisodeOfCare`
referring to it. A person's export is one Patient and the episodes the reader may see.
"""

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from domain.config import PathwayConfig
from domain.events import (
    CaseOpened,
    ConsentRecorded,
    ConsentWithdrawn,
    EventEnvelope,
    PersonalDataShredded,
    ReferralChased,
    ReferralEscalated,
    ReferralMade,
    StoredEvent,
)
from domain.fhir_directory import asked, requester
from domain.fhir_terms import (
    BASE,
    CASE_SYSTEM,
    CONSENT_SCOPE_SYSTEM,
    EPISODE_TYPE_SYSTEM,
    EVENT_TYPE_SYSTEM,
    NHS_NUMBER_NOT_TRACED,
    NHS_NUMBER_SYSTEM,
    NHS_NUMBER_VERIFICATION_EXTENSION,
    NHS_NUMBER_VERIFICATION_SYSTEM,
    PERSON_SYSTEM,
    REFERRAL_STATUS_SYSTEM,
    REFERRAL_SYSTEM,
    REFERRAL_TASK_SYSTEM,
    SERVICE_TYPE_SYSTEM,
    SNOMED,
    STAFF_ROLE_SYSTEM,
    STAFF_SYSTEM,
    coding,
    identifier,
    meta,
    urn,
    uuid_of,
    words,
)
from domain.model import Person, Role, Stage
from domain.outcomes import ConsentScope, ReferralStatus, Urgency
from domain.personal import SHREDDED, UNREADABLE, WITHHELD, is_sealed
from domain.state import CaseState, Referral

# The referral lifecycle as FHIR R4 Task.status (R4 task-status): `requested` until the service
# answers, since `received` would say the performer has acknowledged it. Task.businessStatus always
# carries our own status too, and chases and escalations are Task notes.
TASK_STATUS: dict[ReferralStatus, str] = {
    ReferralStatus.DRAFTED: "draft",
    ReferralStatus.SENT: "requested",
    ReferralStatus.ACCEPTED: "accepted",
    ReferralStatus.REJECTED: "rejected",
    ReferralStatus.DECLINED_BY_PERSON: "cancelled",
    ReferralStatus.ATTENDED: "in-progress",
    ReferralStatus.DID_NOT_ATTEND: "on-hold",
    ReferralStatus.ENGAGED: "completed",
    ReferralStatus.DISENGAGED: "failed",
    ReferralStatus.CLOSED: "completed",
}

# ...and as ServiceRequest.status: the request stays active until it is fulfilled or withdrawn.
SERVICE_REQUEST_STATUS: dict[ReferralStatus, str] = {
    ReferralStatus.DRAFTED: "active",
    ReferralStatus.SENT: "active",
    ReferralStatus.ACCEPTED: "active",
    ReferralStatus.REJECTED: "revoked",
    ReferralStatus.DECLINED_BY_PERSON: "revoked",
    ReferralStatus.ATTENDED: "active",
    ReferralStatus.DID_NOT_ATTEND: "active",
    ReferralStatus.ENGAGED: "completed",
    ReferralStatus.DISENGAGED: "completed",
    ReferralStatus.CLOSED: "completed",
}

PRIORITY: dict[Urgency, str] = {Urgency.ROUTINE: "routine", Urgency.URGENT: "urgent", Urgency.EMERGENCY: "stat"}

CONSENT_STATUS: dict[str, str] = {"given": "active", "declined": "rejected", "withdrawn": "inactive"}

# A referral (SNOMED CT 3457005 |Patient referral|), the category of every ServiceRequest.
REFERRAL_CATEGORY = coding(SNOMED, "3457005", "Patient referral")


def readable(value: str | None) -> str | None:
    """A personal value the export may carry: opened plaintext, never sealed, shredded or withheld text."""
    if value is None or not value.strip() or is_sealed(value) or value in (SHREDDED, WITHHELD, UNREADABLE):
        return None
    return value


def _when(moment: datetime) -> str:
    return moment.isoformat()


def patient_url(person_id: str) -> str:
    """The Patient's full URL in an export, and what every resource about the person refers to: the
    person's id is the Patient's id (a `person-<uuid>` is no bare UUID, so not a `urn:uuid:`)."""
    return f"{BASE}/Patient/{person_id}"


def patient(person_id: str, records: Sequence[Person]) -> Patient:
    """The person: name, date of birth and NHS number only when readable, each from the latest of
    their episodes' records (oldest first) that holds it readably (a RECONNECT episode holds none)."""
    fields: dict[str, Any] = {
        "resourceType": "Patient",
        "id": person_id,
        "meta": meta("Patient"),
        "identifier": [identifier(PERSON_SYSTEM, person_id)],
    }
    if nhs := _latest(record.nhs_number for record in records):
        fields["identifier"].insert(0, _nhs_number(nhs))
    if name := _latest(record.name for record in records):
        fields["name"] = [human_name(name)]
    if birth := _latest(record.date_of_birth for record in records):
        fields["birthDate"] = birth
    return Patient.model_validate(fields)


def _nhs_number(value: str) -> dict[str, Any]:
    code, display = NHS_NUMBER_NOT_TRACED
    status = {"coding": [coding(NHS_NUMBER_VERIFICATION_SYSTEM, code, display)]}
    return {
        "extension": [{"url": NHS_NUMBER_VERIFICATION_EXTENSION, "valueCodeableConcept": status}],
        **identifier(NHS_NUMBER_SYSTEM, value),
    }


def human_name(name: str) -> dict[str, Any]:
    """The name as recorded (`text`), with its parts only where the record says which is which: the
    "SURNAME, Forenames" form. A name written "Forenames Surname" is one field here, and guessing
    which word is the family name would be wrong for many (double-barrelled, particles, East Asian
    order), so it stays text alone."""
    found: dict[str, Any] = {"use": "official", "text": name}
    family, comma, given = name.partition(",")
    if comma and family.strip() and given.strip():
        found["family"] = family.strip()
        found["given"] = given.split()
    return found


def _latest(values: Iterable[str | None]) -> str | None:
    readable_values = [value for value in map(readable, values) if value]
    return readable_values[-1] if readable_values else None


def episode_of_care(state: CaseState, person_id: str, managing: dict[str, Any] | None) -> EpisodeOfCare:
    """The L&D episode: active while the case is open, finished once closed; managed by the site's
    provider (`managing`, a reference)."""
    fields: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "id": uuid_of("episode", state.case_id),
        "meta": meta("EpisodeOfCare"),
        "identifier": [identifier(CASE_SYSTEM, state.case_id)],
        "status": "finished" if state.stage is Stage.CLOSED else "active",
        "type": [{"coding": [coding(EPISODE_TYPE_SYSTEM, "liaison_and_diversion", "Liaison and Diversion")]}],
        "patient": {"reference": patient_url(person_id)},
        "managingOrganization": managing,
    }
    period: dict[str, str] = {}
    if state.opened_at:
        period["start"] = _when(state.opened_at)
    if state.closed_at:
        period["end"] = _when(state.closed_at)
    if period:
        fields["period"] = period
    return EpisodeOfCare.model_validate(fields)


def consent(state: CaseState, events: Sequence[EventEnvelope], person_id: str) -> Consent | None:
    """Consent to L&D assessment and to sharing with criminal justice agencies; None if never asked."""
    if state.consent == "not_asked":
        return None
    decided = [e for e in events if isinstance(e.event, ConsentRecorded | ConsentWithdrawn)]
    given = state.consent == "given"
    fields: dict[str, Any] = {
        "resourceType": "Consent",
        "id": uuid_of("consent", state.case_id),
        "meta": meta("Consent"),
        "identifier": [identifier(CASE_SYSTEM, state.case_id)],
        "status": CONSENT_STATUS[state.consent],
        "scope": {
            "coding": [coding("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy", "Privacy")]
        },
        "category": [{"coding": [coding("http://loinc.org", "59284-0", "Patient Consent")]}],
        "patient": {"reference": patient_url(person_id)},
        "policyRule": {
            "coding": [
                coding(
                    "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "OPTIN" if given else "OPTOUT",
                    "opt-in" if given else "opt-out",
                )
            ]
        },
        "provision": {
            "type": "permit" if given else "deny",
            "provision": [
                {"type": "permit", "purpose": [coding(CONSENT_SCOPE_SYSTEM, scope.value, words(scope.value))]}
                for scope in state.consent_scope
            ]
            or None,
        },
    }
    if decided:
        fields["dateTime"] = _when(decided[-1].occurred_at)
    return Consent.model_validate(fields)


@dataclass(frozen=True)
class ReferralStory:
    """What the events say about one referral beyond its state: who made it, when it was chased and
    escalated."""

    made_by: str | None = None
    chased_at: datetime | None = None
    escalated_at: datetime | None = None


def referral_stories(events: Iterable[EventEnvelope]) -> dict[str, ReferralStory]:
    stories: dict[str, ReferralStory] = {}
    for envelope in events:
        event = envelope.event
        if isinstance(event, ReferralMade):
            stories[event.referral_id] = ReferralStory(made_by=envelope.actor.staff_id)
        elif isinstance(event, ReferralChased):
            story = stories.get(event.referral_id, ReferralStory())
            stories[event.referral_id] = dataclasses.replace(story, chased_at=envelope.occurred_at)
        elif isinstance(event, ReferralEscalated):
            story = stories.get(event.referral_id, ReferralStory())
            stories[event.referral_id] = dataclasses.replace(story, escalated_at=envelope.occurred_at)
    return stories


@dataclass(frozen=True)
class ReferralParties:
    """Who a referral is about, who asks, and who is asked, as FHIR references."""

    subject: dict[str, Any]
    requester: dict[str, Any] | None
    performer: dict[str, Any] | None
    episode: str | None = None  # the EpisodeOfCare's full URL, when it is in the same Bundle
    notes: tuple[str, ...] = field(default=())


def service_request(referral: Referral, parties: ReferralParties, snomed: dict[str, Any] | None) -> ServiceRequest:
    """A referral: what service (its SNOMED CT concept from the directory, when it has one, and our
    service type), why, how urgently, for whom, asked by whom, of whom."""
    request = referral.request
    service_type = coding(SERVICE_TYPE_SYSTEM, request.service.value, words(request.service.value))
    fields: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": uuid_of("referral", referral.referral_id),
        "meta": meta("ServiceRequest"),
        "identifier": [identifier(REFERRAL_SYSTEM, referral.referral_id)],
        "status": SERVICE_REQUEST_STATUS[referral.status],
        "intent": "order",
        "category": [{"coding": [REFERRAL_CATEGORY]}],
        "priority": PRIORITY[request.urgency],
        "code": {"coding": [*([snomed] if snomed else []), service_type]},
        "subject": parties.subject,
        "authoredOn": _when(referral.made_at),
        "requester": parties.requester,
    }
    if parties.episode:
        fields["supportingInfo"] = [{"reference": parties.episode}]
    if parties.performer:
        fields["performer"] = [parties.performer]
    if reason := readable(request.reason):
        fields["reasonCode"] = [{"text": reason}]
    if parties.notes:
        fields["note"] = [{"text": text} for text in parties.notes]
    return ServiceRequest.model_validate(fields)


def referral_task(referral: Referral, parties: ReferralParties, story: ReferralStory) -> Task:
    """The referral's lifecycle as a Task based on its ServiceRequest (the mapping: TASK_STATUS):
    chases and escalations of an unanswered referral are notes with their times."""
    status = referral.status
    fields: dict[str, Any] = {
        "resourceType": "Task",
        "id": uuid_of("referral-task", referral.referral_id),
        "meta": meta("Task"),
        "identifier": [identifier(REFERRAL_TASK_SYSTEM, referral.referral_id)],
        "basedOn": [{"reference": urn(uuid_of("referral", referral.referral_id))}],
        "focus": {"reference": urn(uuid_of("referral", referral.referral_id))},
        "for": parties.subject,
        "status": TASK_STATUS[status],
        "businessStatus": {
            "coding": [coding(REFERRAL_STATUS_SYSTEM, status.value, words(status.value))],
            "text": _progress(status, story),
        },
        "intent": "order",
        "priority": PRIORITY[referral.request.urgency],
        "authoredOn": _when(referral.made_at),
        "requester": parties.requester,
    }
    if parties.performer:
        fields["owner"] = parties.performer
    if status is ReferralStatus.REJECTED and (reason := readable(referral.reason)):
        fields["statusReason"] = {"text": reason}
    if referral.send_failed:
        fields["statusReason"] = {"text": f"not delivered: {referral.send_failed}"}
    notes = [
        {"time": _when(moment), "text": text}
        for moment, text in (
            (story.chased_at, "No answer by the chase time: the referral was chased."),
            (story.escalated_at, "Still no answer: escalated to the team lead."),
        )
        if moment
    ]
    if notes:
        fields["note"] = notes
    return Task.model_validate(fields)


def _progress(status: ReferralStatus, story: ReferralStory) -> str:
    said = words(status.value)
    if status is ReferralStatus.SENT:
        return said + (
            ", escalated" if story.escalated_at else ", chased" if story.chased_at else ", awaiting an answer"
        )
    return said


def audit_event(envelope: EventEnvelope) -> AuditEvent:
    """One recorded event: what (its type), when, who (staff id and role), about which case. Never its
    payload: the audit trail carries no personal data."""
    event = envelope.event
    action = "C" if isinstance(event, CaseOpened) else "D" if isinstance(event, PersonalDataShredded) else "U"
    recorded = envelope.recorded_at if isinstance(envelope, StoredEvent) else envelope.occurred_at
    actor = envelope.actor
    return AuditEvent.model_validate(
        {
            "resourceType": "AuditEvent",
            "id": uuid_of("event", envelope.event_id),
            "meta": meta("AuditEvent"),
            "type": coding("http://dicom.nema.org/resources/ontology/DCM", "110110", "Patient Record"),
            "subtype": [coding(EVENT_TYPE_SYSTEM, event.type, event.type)],
            "action": action,
            "period": {"start": _when(envelope.occurred_at), "end": _when(envelope.occurred_at)},
            "recorded": _when(recorded),
            "outcome": "0",
            "agent": [
                {
                    "who": {"identifier": identifier(STAFF_SYSTEM, actor.staff_id)},
                    "type": {"coding": [coding(STAFF_ROLE_SYSTEM, actor.role.value, words(actor.role.value))]},
                    "requestor": actor.role is not Role.SYSTEM,
                }
            ],
            "source": {"site": "Pathway", "observer": {"display": "Pathway event store"}},
            "entity": [
                {
                    "what": {
                        "reference": urn(uuid_of("episode", envelope.case_id)),
                        "identifier": identifier(CASE_SYSTEM, envelope.case_id),
                    },
                    "detail": [{"type": "seq", "valueString": str(envelope.seq)}],
                }
            ],
        }
    )


def _entry(resource: Resource) -> dict[str, Any]:
    full_url = patient_url(str(resource.id)) if isinstance(resource, Patient) else urn(str(resource.id))
    return {"fullUrl": full_url, "resource": resource}


def case_bundle(
    state: CaseState, events: Sequence[EventEnvelope], generated_at: datetime, person_id: str, config: PathwayConfig
) -> Bundle:
    """A case as a FHIR `collection` Bundle: the Patient of its person `person_id`, and the episode's
    resources (`episode_resources`)."""
    resources = [patient(person_id, [state.person]), *episode_resources(state, events, person_id, config)]
    return _collection(
        uuid_of("bundle", state.case_id, str(state.version)), CASE_SYSTEM, state.case_id, generated_at, resources
    )


def person_bundle(
    person_id: str,
    episodes: Sequence[tuple[CaseState, Sequence[EventEnvelope]]],
    generated_at: datetime,
    config: PathwayConfig,
) -> Bundle:
    """A person as a FHIR `collection` Bundle: their one Patient, then each episode given (oldest
    first; the caller leaves out those the reader may not see) with its resources, as a case's."""
    resources: list[Resource] = [patient(person_id, [state.person for state, _ in episodes])]
    for state, events in episodes:
        resources.extend(episode_resources(state, events, person_id, config))
    versions = [f"{state.case_id}@{state.version}" for state, _ in episodes]
    return _collection(uuid_of("bundle", person_id, *versions), PERSON_SYSTEM, person_id, generated_at, resources)


def episode_resources(
    state: CaseState, events: Sequence[EventEnvelope], person_id: str, config: PathwayConfig
) -> list[Resource]:
    """One episode's resources about the Patient `person_id`: EpisodeOfCare, Consent, a ServiceRequest
    and a Task per referral, an AuditEvent per recorded event; and who and where (the site's provider
    and Location, the services referred to, the staff who referred) from the configuration."""
    site = requester(config, state.site, None)
    resources: list[Resource] = [
        *site.resources,
        episode_of_care(state, person_id, site.reference),
    ]
    if found := consent(state, events, person_id):
        resources.append(found)
    stories = referral_stories(events)
    for referral in state.referrals:
        story = stories.get(referral.referral_id, ReferralStory())
        resources.extend(_referral_resources(state, referral, story, person_id, config))
    resources.extend(audit_event(envelope) for envelope in events)
    return _unique(resources)


def _referral_resources(
    state: CaseState, referral: Referral, story: ReferralStory, person_id: str, config: PathwayConfig
) -> list[Resource]:
    asker = requester(config, state.site, story.made_by)
    service = asked(config, referral.request.service_id)
    parties = ReferralParties(
        subject={"reference": patient_url(person_id)},
        requester=asker.reference,
        performer=service.reference,
        episode=urn(uuid_of("episode", state.case_id)),
    )
    return [
        *asker.resources,
        *service.resources,
        service_request(referral, parties, service.snomed),
        referral_task(referral, parties, story),
    ]


def _unique(resources: Iterable[Resource]) -> list[Resource]:
    """Each resource once (the site's provider is every referral's requester's organisation too)."""
    seen: dict[tuple[str, str], Resource] = {}
    for resource in resources:
        seen.setdefault((resource.get_resource_type(), str(resource.id)), resource)
    return list(seen.values())


def _collection(
    bundle_id: str, system: str, value: str, generated_at: datetime, resources: Sequence[Resource]
) -> Bundle:
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": bundle_id,
            "identifier": identifier(system, value),
            "type": "collection",
            "timestamp": _when(generated_at),
            "entry": [_entry(resource) for resource in _unique(resources)],
        }
    )


def consent_scopes(bundle: Bundle) -> list[ConsentScope]:
    """The consent scopes a bundle's Consent permits (for readers and tests)."""
    found: list[ConsentScope] = []
    for entry in bundle.entry or []:
        resource = entry.resource
        if isinstance(resource, Consent) and resource.provision and resource.provision.provision:
            for provision in resource.provision.provision:
                found.extend(ConsentScope(p.code) for p in provision.purpose or [] if p.code)
    return found
