"""The three FHIR validators pass conformant examples of each UK Core profile Pathway claims and each catches its kind
of mistake. The examples are written here (not taken from UK Core's examples)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.fhir import ukcore
from tests.fhir.validators import UK_CORE_VALIDATOR, Report, assert_valid, validate, versions

SCHEMA = "hl7-fhir-r4-json-schema (ajv)"
MEDPLUM = "medplum-structuredefinition-validator"
ENGLAND_VERIFICATION = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"


def _meta(profile: str) -> dict[str, Any]:
    return {"profile": [ukcore.UK_CORE_CANONICAL_BASE + profile]}


PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "person-1",
    "meta": _meta("UKCore-Patient"),
    "extension": [
        {
            "url": ukcore.UK_CORE_CANONICAL_BASE + "Extension-UKCore-BirthSex",
            "valueCodeableConcept": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code": "UNK"}]
            },
        }
    ],
    "identifier": [
        {
            "extension": [
                {
                    "url": ukcore.NHS_NUMBER_VERIFICATION_STATUS_URL,
                    "valueCodeableConcept": {
                        "coding": [
                            {"system": ENGLAND_VERIFICATION, "code": "01", "display": "Number present and verified"}
                        ]
                    },
                }
            ],
            "system": ukcore.NHS_NUMBER_SYSTEM,
            "value": "9000000009",
        }
    ],
    "active": True,
    "name": [{"use": "official", "family": "Example", "given": ["Alex"]}],
    "gender": "unknown",
    "birthDate": "1990-04-01",
    "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en-GB"}]}}],
    "managingOrganization": {"reference": "Organization/provider-1"},
}
ORGANIZATION: dict[str, Any] = {
    "resourceType": "Organization",
    "id": "provider-1",
    "meta": _meta("UKCore-Organization"),
    "identifier": [
        {"system": ukcore.ODS_ORGANISATION_CODE_SYSTEM, "value": "X1A"},
        {"system": ukcore.ODS_SITE_CODE_SYSTEM, "value": "X1A01"},
    ],
    "active": True,
    "extension": [
        {
            "url": ukcore.UK_CORE_CANONICAL_BASE + "Extension-UKCore-MainLocation",
            "valueReference": {"reference": "Location/suite-1"},
        }
    ],
    "name": "Example Liaison and Diversion Service",
}
PRACTITIONER: dict[str, Any] = {
    "resourceType": "Practitioner",
    "id": "staff-1",
    "meta": _meta("UKCore-Practitioner"),
    "identifier": [{"system": "https://example.org/pathway/staff", "value": "staff-1"}],
    "name": [{"family": "Worker", "given": ["Sam"]}],
}
PRACTITIONER_ROLE: dict[str, Any] = {
    "resourceType": "PractitionerRole",
    "id": "staff-1-role",
    "meta": _meta("UKCore-PractitionerRole"),
    "active": True,
    "practitioner": {"reference": "Practitioner/staff-1"},
    "organization": {"reference": "Organization/provider-1"},
    "availableTime": [{"daysOfWeek": ["mon", "tue"], "availableStartTime": "09:00:00"}],
}
EPISODE_OF_CARE: dict[str, Any] = {
    "resourceType": "EpisodeOfCare",
    "id": "episode-1",
    "meta": _meta("UKCore-EpisodeOfCare"),
    "status": "active",
    "statusHistory": [
        {"status": "planned", "period": {"start": "2026-01-05T09:00:00Z", "end": "2026-01-05T10:00:00Z"}}
    ],
    "patient": {"reference": "Patient/person-1"},
    "managingOrganization": {"reference": "Organization/provider-1"},
    "period": {"start": "2026-01-05T09:00:00Z"},
    "careManager": {"reference": "Practitioner/staff-1"},
}
SERVICE_REQUEST: dict[str, Any] = {
    "resourceType": "ServiceRequest",
    "id": "referral-1",
    "meta": _meta("UKCore-ServiceRequest"),
    "status": "active",
    "intent": "order",
    "priority": "urgent",
    "code": {"text": "Housing support"},
    "subject": {"reference": "Patient/person-1"},
    "authoredOn": "2026-01-05T11:00:00Z",
    "requester": {"reference": "PractitionerRole/staff-1-role"},
}
TASK: dict[str, Any] = {
    "resourceType": "Task",
    "id": "referral-1-task",
    "meta": _meta("UKCore-Task"),
    "status": "requested",
    "intent": "order",
    "priority": "urgent",
    "focus": {"reference": "ServiceRequest/referral-1"},
    "for": {"reference": "Patient/person-1"},
    "authoredOn": "2026-01-05T11:00:00Z",
    "lastModified": "2026-01-06T11:00:00Z",
    "requester": {"reference": "PractitionerRole/staff-1-role"},
    "input": [{"type": {"text": "chased"}, "valueDateTime": "2026-01-07T09:00:00Z"}],
}
CONSENT: dict[str, Any] = {
    "resourceType": "Consent",
    "id": "consent-1",
    "meta": _meta("UKCore-Consent"),
    "status": "active",
    "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
    "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
    "patient": {"reference": "Patient/person-1"},
    "dateTime": "2026-01-05T09:30:00Z",
    "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
    "provision": {"type": "permit", "period": {"start": "2026-01-05T09:30:00Z"}},
}
HEALTHCARE_SERVICE: dict[str, Any] = {
    "resourceType": "HealthcareService",
    "id": "service-1",
    "meta": _meta("UKCore-HealthcareService"),
    "providedBy": {"reference": "Organization/provider-1"},
    "type": [{"text": "Housing support"}],
    "name": "Example housing support",
}
LOCATION: dict[str, Any] = {
    "resourceType": "Location",
    "id": "site-1",
    "meta": _meta("UKCore-Location"),
    "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-site-code", "value": "RX4E2"}],
    "status": "active",
    "name": "Example custody suite",
    "managingOrganization": {"reference": "Organization/provider-1"},
}
AUDIT_EVENT: dict[str, Any] = {
    "resourceType": "AuditEvent",
    "id": "event-1",
    "meta": _meta("UKCore-AuditEvent"),
    "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
    "action": "U",
    "recorded": "2026-01-05T11:00:00Z",
    "outcome": "0",
    "agent": [{"who": {"reference": "PractitionerRole/staff-1-role"}, "requestor": True}],
    "source": {"observer": {"display": "Example event store"}},
}
EXAMPLES = [
    PATIENT,
    ORGANIZATION,
    PRACTITIONER,
    PRACTITIONER_ROLE,
    EPISODE_OF_CARE,
    SERVICE_REQUEST,
    TASK,
    CONSENT,
    HEALTHCARE_SERVICE,
    LOCATION,
    AUDIT_EVENT,
]


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": "export-1",
        "type": "collection",
        "entry": [
            {"fullUrl": f"https://example.org/fhir/{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }


def _changed(resource: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(resource)
    for key, value in changes.items():
        if value is None:
            del changed[key]
        else:
            changed[key] = value
    return changed


def _patient_with_identifier(**changes: Any) -> dict[str, Any]:
    return _changed(PATIENT, identifier=[_changed(PATIENT["identifier"][0], **changes)])


# Each broken variant: the document, the validator that must catch it and words its error must contain.
BROKEN: dict[str, tuple[dict[str, Any], str, str]] = {
    "two ODS site codes on a location (UK Core)": (
        _changed(LOCATION, identifier=LOCATION["identifier"] * 2),
        UK_CORE_VALIDATOR,
        "Location.identifier:odsSiteCode",
    ),
    "audit event outcome outside audit-event-outcome (UK Core)": (
        _changed(AUDIT_EVENT, outcome="1"),
        UK_CORE_VALIDATOR,
        "http://hl7.org/fhir/ValueSet/audit-event-outcome",
    ),
    "audit event without its agent (UK Core)": (
        _changed(AUDIT_EVENT, agent=None),
        UK_CORE_VALIDATOR,
        "AuditEvent.agent",
    ),
    "task status outside task-status (schema)": (_changed(TASK, status="unanswered"), SCHEMA, "/status"),
    "task status outside task-status (UK Core)": (
        _changed(TASK, status="unanswered"),
        UK_CORE_VALIDATOR,
        "http://hl7.org/fhir/ValueSet/task-status",
    ),
    "service request without subject (schema)": (_changed(SERVICE_REQUEST, subject=None), SCHEMA, "'subject'"),
    "service request without subject (medplum)": (
        _changed(SERVICE_REQUEST, subject=None),
        MEDPLUM,
        "ServiceRequest.subject",
    ),
    "task without intent (medplum)": (_changed(TASK, intent=None), MEDPLUM, "Task.intent"),
    "task without intent (UK Core)": (
        _changed(TASK, intent=None),
        UK_CORE_VALIDATOR,
        "Task/referral-1-task: intent is mandatory",
    ),
    "element R4 does not have": (_changed(PATIENT, nickname="Al"), MEDPLUM, "nickname"),
    "pat-1: a contact with nothing to contact": (_changed(PATIENT, contact=[{"gender": "female"}]), MEDPLUM, "pat-1"),
    "inv-1: task modified before it was authored": (
        _changed(TASK, lastModified="2026-01-04T11:00:00Z"),
        MEDPLUM,
        "inv-1",
    ),
    "NHS number with the wrong system": (
        _patient_with_identifier(system="http://fhir.nhs.uk/Id/nhs-number"),
        UK_CORE_VALIDATOR,
        "Patient.identifier:nhsNumber.system",
    ),
    "NHS number with its verification status but no system": (
        _patient_with_identifier(system=None),
        UK_CORE_VALIDATOR,
        "identifier[0]: system is mandatory",
    ),
    "NHS number without a value": (
        _patient_with_identifier(value=None),
        UK_CORE_VALIDATOR,
        "Patient.identifier:nhsNumber.value",
    ),
    "verification status outside its value set": (
        _patient_with_identifier(
            extension=[
                {
                    "url": ukcore.NHS_NUMBER_VERIFICATION_STATUS_URL,
                    "valueCodeableConcept": {"coding": [{"system": ENGLAND_VERIFICATION, "code": "09"}]},
                }
            ]
        ),
        UK_CORE_VALIDATOR,
        "UKCore-NHSNumberVerificationStatus",
    ),
    "verification status as a code, not a CodeableConcept": (
        _patient_with_identifier(
            extension=[{"url": ukcore.NHS_NUMBER_VERIFICATION_STATUS_URL, "valueCode": "01"}],
        ),
        UK_CORE_VALIDATOR,
        "needs valueCodeableConcept",
    ),
    "two NHS numbers (max 1)": (
        _changed(
            PATIENT, identifier=[*PATIENT["identifier"], {"system": ukcore.NHS_NUMBER_SYSTEM, "value": "9000000017"}]
        ),
        UK_CORE_VALIDATOR,
        "2 NHS numbers present, at most 1",
    ),
    "two ODS site codes (max 1)": (
        _changed(
            ORGANIZATION,
            identifier=[*ORGANIZATION["identifier"], {"system": ukcore.ODS_SITE_CODE_SYSTEM, "value": "X1A02"}],
        ),
        UK_CORE_VALIDATOR,
        "Organization.identifier:odsSiteCode",
    ),
    "birth sex outside its value set": (
        _changed(
            PATIENT,
            extension=[
                {
                    "url": ukcore.UK_CORE_CANONICAL_BASE + "Extension-UKCore-BirthSex",
                    "valueCodeableConcept": {
                        "coding": [
                            {"system": "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender", "code": "X"}
                        ]
                    },
                }
            ],
        ),
        UK_CORE_VALIDATOR,
        "https://fhir.hl7.org.uk/ValueSet/UKCore-BirthSex",
    ),
    "main location as a string (its value is a Reference)": (
        _changed(
            ORGANIZATION,
            extension=[
                {"url": ukcore.UK_CORE_CANONICAL_BASE + "Extension-UKCore-MainLocation", "valueString": "Suite 1"}
            ],
        ),
        UK_CORE_VALIDATOR,
        "needs valueReference alone",
    ),
    "language not a BCP 47 tag": (
        _changed(
            PATIENT, communication=[{"language": {"coding": [{"system": "http://example.org/lang", "code": "en"}]}}]
        ),
        UK_CORE_VALIDATOR,
        "all-languages",
    ),
    "unknown claimed profile": (
        _changed(PATIENT, meta={"profile": [ukcore.UK_CORE_CANONICAL_BASE + "UKCore-Person"]}),
        UK_CORE_VALIDATOR,
        "UKCore-Person, a profile these requirements do not know",
    ),
    "a Bundle claiming a profile not transcribed": (
        {**_bundle(PATIENT), "meta": _meta("UKCore-Bundle")},
        UK_CORE_VALIDATOR,
        "Bundle/export-1: claims https://fhir.hl7.org.uk/StructureDefinition/UKCore-Bundle, a profile these",
    ),
    "profile of another resource type": (
        _changed(ORGANIZATION, meta=_meta("UKCore-Patient")),
        UK_CORE_VALIDATOR,
        "a profile of Patient",
    ),
    "claimed version other than the transcribed one": (
        _changed(TASK, meta={"profile": [ukcore.UK_CORE_CANONICAL_BASE + "UKCore-Task|9.9.9"]}),
        UK_CORE_VALIDATOR,
        "transcribed here is version 1.2.0",
    ),
}


@pytest.fixture(scope="module")
def example_reports() -> list[Report]:
    # One node process for all the examples, and the same examples in a Bundle.
    return validate(*EXAMPLES, _bundle(*EXAMPLES))


@pytest.fixture(scope="module")
def broken_reports() -> dict[str, list[Report]]:
    documents = [document for document, _, _ in BROKEN.values()]
    reports = validate(*documents)
    per_document = len(reports) // len(documents)
    return {name: reports[i * per_document : (i + 1) * per_document] for i, name in enumerate(BROKEN)}


def test_each_example_and_their_bundle_pass_all_three_validators(example_reports: list[Report]) -> None:
    assert {r.validator for r in example_reports} == {SCHEMA, MEDPLUM, UK_CORE_VALIDATOR}
    assert {r.document for r in example_reports} == {f"{e['resourceType']}/{e['id']}" for e in EXAMPLES} | {
        "Bundle/export-1"
    }
    assert [error for r in example_reports for error in r.errors] == []


def test_every_transcribed_profile_has_an_example() -> None:
    claimed = {profile for example in EXAMPLES for profile in example["meta"]["profile"]}
    assert claimed == set(ukcore.PROFILES)


def test_warnings_name_absent_must_support_elements(example_reports: list[Report]) -> None:
    (patient,) = [r for r in example_reports if r.validator == UK_CORE_VALIDATOR and r.document == "Patient/person-1"]
    assert patient.warnings[ukcore.MUST_SUPPORT_ABSENT] == (
        "Patient/person-1 Patient.telecom (UKCore-Patient)",
        "Patient/person-1 Patient.address (UKCore-Patient)",
    )


def test_medplum_warnings_are_grouped_by_kind() -> None:
    # Medplum checks a reference's target type from a relative `Type/id` only: an absolute one is a warning.
    absolute = _changed(SERVICE_REQUEST, subject={"reference": "https://example.org/fhir/Patient/person-1"})
    (medplum,) = [r for r in validate(absolute) if r.validator == MEDPLUM]
    assert medplum.errors == ()
    assert list(medplum.warnings) == ["Invalid reference"]
    assert medplum.warnings["Invalid reference"][0].startswith("ServiceRequest.subject: Invalid reference: got")


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_variant_is_caught_by_its_validator(name: str, broken_reports: dict[str, list[Report]]) -> None:
    _, validator, words = BROKEN[name]
    (report,) = [r for r in broken_reports[name] if r.validator == validator]
    assert any(words in error for error in report.errors), report.errors


def test_a_broken_entry_of_a_bundle_is_caught_by_every_validator_at_its_entry() -> None:
    broken_task = _changed(TASK, status="unanswered", intent=None)
    reports = validate(_bundle(PATIENT, broken_task))
    errors = {r.validator: r.errors for r in reports}
    assert [e for e in errors[SCHEMA] if e.startswith("/entry/1/resource/status")], errors[SCHEMA]
    assert [e for e in errors[MEDPLUM] if "Bundle.entry[1].resource.intent" in e], errors[MEDPLUM]
    assert [e for e in errors[UK_CORE_VALIDATOR] if e.startswith("entry[1] Task/referral-1-task")], errors
    assert not [e for r in reports for e in r.errors if "entry[0]" in e or "/entry/0/" in e]


def test_assert_valid_lists_every_error_with_its_validator_and_document() -> None:
    assert_valid(PATIENT)
    with pytest.raises(AssertionError) as raised:
        assert_valid(PATIENT, _changed(TASK, status="unanswered"))
    message = str(raised.value)
    assert f"[{SCHEMA}] Task/referral-1-task: /status" in message
    assert f"[{UK_CORE_VALIDATOR}] Task/referral-1-task: Task/referral-1-task status: 'unanswered'" in message
    assert "Patient/person-1" not in message


def test_versions_name_each_validator() -> None:
    found = versions()
    assert set(found) == {SCHEMA, MEDPLUM, UK_CORE_VALIDATOR}
    assert "ajv 8.20.0" in found[SCHEMA]
    assert "@medplum/core 4.5.2" in found[MEDPLUM]
    assert found[UK_CORE_VALIDATOR] == "UK Core 2.0.0 @3d2827e3"
