"""A case as HL7 FHIR R4 resources (docs/fhir.md): pure mapping, no I/O.

Built and validated with the pydantic v2 models of `fhir.resources` (its `R4B` sub-package: the
package's root is R5; R4B is wire-compatible with R4 for every resource used here). This module
imports only the domain and that (pure, third-party) model library, so the domain stays free of I/O
and of our other packages.

The caller passes the case *opened* (store.person_keys.Sealer.open): personal fields in plaintext
for the receiving clinician. A value still sealed, or reading "[shredded]" after crypto-shredding,
is left out rather than exported.

The `Patient` is the person (issue 19), not the episode: its id is the person's id (`person-<uuid>`),
so every episode of one person exports the same Patient, and each episode is its own `EpisodeOfCare`
referring to it. A person's export is one Patient and the episodes the reader may see.
"""

import uuid
from collections.abc import Iterable, Sequence
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

from domain.events import (
    CaseOpened,
    ConsentRecorded,
    ConsentWithdrawn,
    EventEnvelope,
    PersonalDataShredded,
    StoredEvent,
)
from domain.model import Person, Role, Stage
from domain.outcomes import ConsentScope, ReferralRequest, ReferralStatus, Urgency
from domain.personal import SHREDDED, UNREADABLE, WITHHELD, is_sealed
from domain.state import CaseState, Referral

BASE = "https://pathway.example/fhir"
CASE_SYSTEM = f"{BASE}/Id/case"
PERSON_SYSTEM = f"{BASE}/Id/person"
REFERRAL_SYSTEM = f"{BASE}/Id/referral"
REFERRAL_TASK_SYSTEM = f"{BASE}/Id/referral-task"
SITE_SYSTEM = f"{BASE}/Id/site"
SERVICE_SYSTEM = f"{BASE}/Id/service"
STAFF_SYSTEM = f"{BASE}/Id/staff"
SERVICE_TYPE_SYSTEM = f"{BASE}/CodeSystem/service-type"
REFERRAL_STATUS_SYSTEM = f"{BASE}/CodeSystem/referral-status"
CONSENT_SCOPE_SYSTEM = f"{BASE}/CodeSystem/consent-scope"
EVENT_TYPE_SYSTEM = f"{BASE}/CodeSystem/event-type"
STAFF_ROLE_SYSTEM = f"{BASE}/CodeSystem/staff-role"
EPISODE_TYPE_SYSTEM = f"{BASE}/CodeSystem/episode-type"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"

# The referral lifecycle as FHIR Task.status. Task.businessStatus always carries our own status too.
TASK_STATUS: dict[ReferralStatus, str] = {
    ReferralStatus.DRAFTED: "requested",
    ReferralStatus.SENT: "received",
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


def readable(value: str | None) -> str | None:
    """A personal value the export may carry: opened plaintext, never sealed, shredded or withheld text."""
    if value is None or not value.strip() or is_sealed(value) or value in (SHREDDED, WITHHELD, UNREADABLE):
        return None
    return value


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join((BASE, *parts))))


def _urn(resource_id: str) -> str:
    return f"urn:uuid:{resource_id}"


def _when(moment: datetime) -> str:
    return moment.isoformat()


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


# Codes whose words alone would not say what they mean to a reader of the FHIR record.
DISPLAYS: dict[str, str] = {
    "camhs": "child and adolescent mental health services (CAMHS)",
    "youth_justice": "youth justice service (YJS)",
    "reconnect": "RECONNECT (care after custody)",
    "share_youth_justice": "share with the youth justice service",
}


def _words(code: str) -> str:
    return DISPLAYS.get(code, code.replace("_", " "))


def patient_url(person_id: str) -> str:
    """The Patient's full URL, and what every resource about the person refers to: the person's id is
    the Patient's id (a `person-<uuid>` is no bare UUID, so not a `urn:uuid:`)."""
    return f"{BASE}/Patient/{person_id}"


def patient(person_id: str, records: Sequence[Person]) -> Patient:
    """The person: name, date of birth and NHS number only when readable, each from the latest of
    their episodes' records (oldest first) that holds it readably (a RECONNECT episode holds none)."""
    fields: dict[str, Any] = {
        "resourceType": "Patient",
        "id": person_id,
        "identifier": [{"system": PERSON_SYSTEM, "value": person_id}],
    }
    if nhs := _latest(record.nhs_number for record in records):
        fields["identifier"].append({"system": NHS_NUMBER_SYSTEM, "value": nhs})
    if name := _latest(record.name for record in records):
        fields["name"] = [{"text": name}]
    if birth := _latest(record.date_of_birth for record in records):
        fields["birthDate"] = birth
    return Patient.model_validate(fields)


def _latest(values: Iterable[str | None]) -> str | None:
    readable_values = [value for value in map(readable, values) if value]
    return readable_values[-1] if readable_values else None


def episode_of_care(state: CaseState, person_id: str) -> EpisodeOfCare:
    """The L&D episode: active while the case is open, finished once closed."""
    fields: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "id": _uuid("episode", state.case_id),
        "identifier": [{"system": CASE_SYSTEM, "value": state.case_id}],
        "status": "finished" if state.stage is Stage.CLOSED else "active",
        "type": [{"coding": [_coding(EPISODE_TYPE_SYSTEM, "liaison_and_diversion", "Liaison and Diversion")]}],
        "patient": {"reference": patient_url(person_id)},
        "managingOrganization": {"identifier": {"system": SITE_SYSTEM, "value": state.site}, "display": state.site},
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
        "id": _uuid("consent", state.case_id),
        "identifier": [{"system": CASE_SYSTEM, "value": state.case_id}],
        "status": CONSENT_STATUS[state.consent],
        "scope": {
            "coding": [_coding("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy", "Privacy")]
        },
        "category": [{"coding": [_coding("http://loinc.org", "59284-0", "Patient Consent")]}],
        "patient": {"reference": patient_url(person_id)},
        "policyRule": {
            "coding": [
                _coding(
                    "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "OPTIN" if given else "OPTOUT",
                    "opt-in" if given else "opt-out",
                )
            ]
        },
        "provision": {
            "type": "permit" if given else "deny",
            "provision": [
                {"type": "permit", "purpose": [_coding(CONSENT_SCOPE_SYSTEM, scope.value, _words(scope.value))]}
                for scope in state.consent_scope
            ]
            or None,
        },
    }
    if decided:
        fields["dateTime"] = _when(decided[-1].occurred_at)
    return Consent.model_validate(fields)


def service_request(
    case_id: str,
    referral_id: str,
    request: ReferralRequest,
    status: ReferralStatus,
    made_at: datetime | None = None,
    link: str | None = None,
    person_id: str | None = None,
) -> ServiceRequest:
    """A referral: what service, why, how urgently, for whom: the bundle's Patient `person_id`, or
    (None: sent on its own) the case's person by the case id."""
    fields: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": _uuid("referral", referral_id),
        "identifier": [{"system": REFERRAL_SYSTEM, "value": referral_id}],
        "status": SERVICE_REQUEST_STATUS[status],
        "intent": "order",
        "category": [{"coding": [_coding("http://snomed.info/sct", "3457005", "Patient referral")]}],
        "priority": PRIORITY[request.urgency],
        "code": {"coding": [_coding(SERVICE_TYPE_SYSTEM, request.service.value, _words(request.service.value))]},
        "subject": _subject(case_id, person_id),
    }
    if person_id:
        fields["supportingInfo"] = [{"reference": _urn(_uuid("episode", case_id))}]
    if request.service_id:
        fields["performer"] = [{"identifier": {"system": SERVICE_SYSTEM, "value": request.service_id}}]
    if reason := readable(request.reason):
        fields["reasonCode"] = [{"text": reason}]
    if made_at:
        fields["authoredOn"] = _when(made_at)
    if link:
        fields["note"] = [{"text": f"Read the referral and answer (accept or reject) here: {link}"}]
    return ServiceRequest.model_validate(fields)


def referral_task(
    case_id: str,
    referral_id: str,
    request: ReferralRequest,
    status: ReferralStatus,
    made_at: datetime | None = None,
    send_failed: str | None = None,
    person_id: str | None = None,
) -> Task:
    """The referral's lifecycle as a Task based on its ServiceRequest (the mapping: TASK_STATUS)."""
    fields: dict[str, Any] = {
        "resourceType": "Task",
        "id": _uuid("referral-task", referral_id),
        "identifier": [{"system": REFERRAL_TASK_SYSTEM, "value": referral_id}],
        "basedOn": [{"reference": _urn(_uuid("referral", referral_id))}],
        "focus": {"reference": _urn(_uuid("referral", referral_id))},
        "for": _subject(case_id, person_id),
        "status": TASK_STATUS[status],
        "businessStatus": {"coding": [_coding(REFERRAL_STATUS_SYSTEM, status.value, _words(status.value))]},
        "intent": "order",
        "priority": PRIORITY[request.urgency],
    }
    if request.service_id:
        fields["owner"] = {"identifier": {"system": SERVICE_SYSTEM, "value": request.service_id}}
    if made_at:
        fields["authoredOn"] = _when(made_at)
    if send_failed:
        fields["statusReason"] = {"text": f"not delivered: {send_failed}"}
    return Task.model_validate(fields)


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
            "id": _uuid("event", envelope.event_id),
            "type": _coding("http://dicom.nema.org/resources/ontology/DCM", "110110", "Patient Record"),
            "subtype": [_coding(EVENT_TYPE_SYSTEM, event.type, event.type)],
            "action": action,
            "period": {"start": _when(envelope.occurred_at), "end": _when(envelope.occurred_at)},
            "recorded": _when(recorded),
            "outcome": "0",
            "agent": [
                {
                    "who": {"identifier": {"system": STAFF_SYSTEM, "value": actor.staff_id}},
                    "type": {"coding": [_coding(STAFF_ROLE_SYSTEM, actor.role.value, _words(actor.role.value))]},
                    "requestor": actor.role is not Role.SYSTEM,
                }
            ],
            "source": {"site": "Pathway", "observer": {"display": "Pathway event store"}},
            "entity": [
                {
                    "what": {
                        "reference": _urn(_uuid("episode", envelope.case_id)),
                        "identifier": {"system": CASE_SYSTEM, "value": envelope.case_id},
                    },
                    "detail": [{"type": "seq", "valueString": str(envelope.seq)}],
                }
            ],
        }
    )


def _subject(case_id: str, person_id: str | None) -> dict[str, Any]:
    """The person: the bundle's Patient, or (sent on its own) a logical reference by the case id, so
    a delivery carries nothing about the person beyond the referral's reason."""
    if person_id is None:
        return {"identifier": {"system": CASE_SYSTEM, "value": case_id}, "display": f"the person of case {case_id}"}
    return {"reference": patient_url(person_id)}


def _entry(resource: Resource) -> dict[str, Any]:
    full_url = patient_url(str(resource.id)) if isinstance(resource, Patient) else _urn(str(resource.id))
    return {"fullUrl": full_url, "resource": resource}


def case_bundle(state: CaseState, events: Sequence[EventEnvelope], generated_at: datetime, person_id: str) -> Bundle:
    """A case as a FHIR `collection` Bundle: the Patient of its person `person_id`, and the episode's
    resources (`episode_resources`)."""
    resources = [patient(person_id, [state.person]), *episode_resources(state, events, person_id)]
    return _collection(
        _uuid("bundle", state.case_id, str(state.version)), CASE_SYSTEM, state.case_id, generated_at, resources
    )


def person_bundle(
    person_id: str, episodes: Sequence[tuple[CaseState, Sequence[EventEnvelope]]], generated_at: datetime
) -> Bundle:
    """A person as a FHIR `collection` Bundle: their one Patient, then each episode given (oldest
    first; the caller leaves out those the reader may not see) with its resources, as a case's."""
    resources: list[Resource] = [patient(person_id, [state.person for state, _ in episodes])]
    for state, events in episodes:
        resources.extend(episode_resources(state, events, person_id))
    versions = [f"{state.case_id}@{state.version}" for state, _ in episodes]
    return _collection(_uuid("bundle", person_id, *versions), PERSON_SYSTEM, person_id, generated_at, resources)


def episode_resources(state: CaseState, events: Sequence[EventEnvelope], person_id: str) -> list[Resource]:
    """One episode's resources about the Patient `person_id`: EpisodeOfCare, Consent, a ServiceRequest
    and a Task per referral, an AuditEvent per recorded event."""
    resources: list[Resource] = [episode_of_care(state, person_id)]
    if found := consent(state, events, person_id):
        resources.append(found)
    for referral in state.referrals:
        resources.extend(_referral_pair(state.case_id, referral, person_id))
    resources.extend(audit_event(envelope) for envelope in events)
    return resources


def _collection(
    bundle_id: str, system: str, value: str, generated_at: datetime, resources: Sequence[Resource]
) -> Bundle:
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": bundle_id,
            "identifier": {"system": system, "value": value},
            "type": "collection",
            "timestamp": _when(generated_at),
            "entry": [_entry(resource) for resource in resources],
        }
    )


def _referral_pair(case_id: str, referral: Referral, person_id: str) -> tuple[ServiceRequest, Task]:
    args = (case_id, referral.referral_id, referral.request, referral.status, referral.made_at)
    return (
        service_request(*args, person_id=person_id),
        referral_task(*args, send_failed=referral.send_failed, person_id=person_id),
    )


def referral_transaction(case_id: str, referral_id: str, request: ReferralRequest, link: str | None) -> Bundle:
    """What a service with `delivery = "fhir"` receives: a `transaction` Bundle creating the
    ServiceRequest and its Task, each only if none with the referral's identifier exists yet
    (conditional create), so a repeated delivery creates nothing twice."""
    pairs: list[tuple[Resource, str]] = [
        (
            service_request(case_id, referral_id, request, ReferralStatus.DRAFTED, link=link),
            REFERRAL_SYSTEM,
        ),
        (referral_task(case_id, referral_id, request, ReferralStatus.DRAFTED), REFERRAL_TASK_SYSTEM),
    ]
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": _uuid("delivery", referral_id),
            "identifier": {"system": REFERRAL_SYSTEM, "value": referral_id},
            "type": "transaction",
            "entry": [
                {
                    **_entry(resource),
                    "request": {
                        "method": "POST",
                        "url": resource.get_resource_type(),
                        "ifNoneExist": f"identifier={system}|{referral_id}",
                    },
                }
                for resource, system in pairs
            ],
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
