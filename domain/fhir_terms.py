"""The words Pathway's FHIR documents are written in (docs/fhir.md): the FHIR version, the UK Core
profiles claimed, the NHS identifier systems, our own local systems, and the small builders every
resource uses (codings, stable ids). Pure: no I/O.

Sources of the NHS and UK Core URLs: the UK Core R4 StructureDefinitions (HL7 UK, package
UKCore.R4.STU.02.00.00, repository NHSDigital/FHIR-R4-UKCORE-STAGING-MAIN), whose identifier slices
fix each system; tests/fhir/ checks what we export against them.
"""

import uuid
from typing import Any

# What the documents are: HL7 FHIR R4, version 4.0.1 (the version UK Core R4 is built on). The
# pydantic models that build them are fhir.resources' R4B classes, used only for resources and
# elements that R4B left as R4 had them; the independent validators in tests/fhir/ hold the output to
# R4 4.0.1 itself.
FHIR_VERSION = "4.0.1"
# The media type with its FHIR version parameter (R4 http.html#version-parameter: "4.0" for R4).
FHIR_JSON = "application/fhir+json; fhirVersion=4.0"

BASE = "https://pathway.example/fhir"
CASE_SYSTEM = f"{BASE}/Id/case"
PERSON_SYSTEM = f"{BASE}/Id/person"
REFERRAL_SYSTEM = f"{BASE}/Id/referral"
REFERRAL_TASK_SYSTEM = f"{BASE}/Id/referral-task"
SITE_SYSTEM = f"{BASE}/Id/site"
SERVICE_SYSTEM = f"{BASE}/Id/service"
STAFF_SYSTEM = f"{BASE}/Id/staff"
STAFF_ROLE_AT_SITE_SYSTEM = f"{BASE}/Id/staff-role"
# Social Work England registration has no identifier system in UK Core: ours until one is published.
SWE_NUMBER_SYSTEM = f"{BASE}/Id/swe-registration-number"
SERVICE_TYPE_SYSTEM = f"{BASE}/CodeSystem/service-type"
REFERRAL_STATUS_SYSTEM = f"{BASE}/CodeSystem/referral-status"
CONSENT_SCOPE_SYSTEM = f"{BASE}/CodeSystem/consent-scope"
EVENT_TYPE_SYSTEM = f"{BASE}/CodeSystem/event-type"
STAFF_ROLE_SYSTEM = f"{BASE}/CodeSystem/staff-role"
EPISODE_TYPE_SYSTEM = f"{BASE}/CodeSystem/episode-type"

# NHS identifier systems (fixed by UK Core's identifier slices).
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"  # UKCore-Patient identifier:nhsNumber
ODS_ORGANIZATION_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"  # UKCore-Organization
ODS_SITE_SYSTEM = "https://fhir.nhs.uk/Id/ods-site-code"  # UKCore-Location identifier:odsSiteCode
SDS_USER_SYSTEM = "https://fhir.nhs.uk/Id/sds-user-id"  # UKCore-Practitioner identifier:sdsUserId
SDS_ROLE_PROFILE_SYSTEM = "https://fhir.nhs.uk/Id/sds-role-profile-id"  # UKCore-PractitionerRole
# Professional registers (UKCore-Practitioner's identifier examples and slices).
PROFESSIONAL_SYSTEMS: dict[str, str] = {
    "gmc": "https://fhir.hl7.org.uk/Id/gmc-number",
    "nmc": "https://fhir.hl7.org.uk/Id/nmc-number",
    "hcpc": "https://fhir.hl7.org.uk/Id/hcpc-number",
    "gphc": "https://fhir.hl7.org.uk/Id/gphc-number",
    "swe": SWE_NUMBER_SYSTEM,
}

# The NHS number's verification status (extension on UKCore-Patient's identifier:nhsNumber; required
# binding to UKCore-NHSNumberVerificationStatus, codes of UKCore-NHSNumberVerificationStatusEngland).
NHS_NUMBER_VERIFICATION_EXTENSION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
NHS_NUMBER_VERIFICATION_SYSTEM = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
# Pathway records the number it is given (from custody or court records, or the person) and does not
# trace it against the Personal Demographics Service: "present but not traced".
NHS_NUMBER_NOT_TRACED = ("02", "Number present but not traced")

SNOMED = "http://snomed.info/sct"

UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
# The UK Core profile each resource type claims (docs/fhir.md says why a resource claims none).
PROFILES: dict[str, str] = {
    name: f"{UK_CORE}{name}"
    for name in (
        "AuditEvent",
        "Consent",
        "EpisodeOfCare",
        "Location",
        "Organization",
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "ServiceRequest",
        "Task",
    )
}


def meta(resource_type: str) -> dict[str, Any]:
    """The resource's `meta`: the UK Core profile it claims."""
    return {"profile": [PROFILES[resource_type]]}


def uuid_of(*parts: str) -> str:
    """A stable resource id: two exports of one record name the same resource the same."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join((BASE, *parts))))


def urn(resource_id: str) -> str:
    return f"urn:uuid:{resource_id}"


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    found = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def identifier(system: str, value: str) -> dict[str, str]:
    return {"system": system, "value": value}


# Codes whose words alone would not say what they mean to a reader of the FHIR record.
DISPLAYS: dict[str, str] = {
    "camhs": "child and adolescent mental health services (CAMHS)",
    "youth_justice": "youth justice service (YJS)",
    "reconnect": "RECONNECT (care after custody)",
    "share_youth_justice": "share with the youth justice service",
    "share_services": "share with the services the person is referred to",
}


def words(code: str) -> str:
    return DISPLAYS.get(code, code.replace("_", " "))
