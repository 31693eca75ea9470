"""What a FHIR service receives for a referral (domain/fhir_delivery.py, docs/fhir.md): a transaction
of conditional creates holding the ServiceRequest, its Task, the Patient (told who they are only
with consent to share with services), the requester in their role at the site, and the service."""

import json
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from domain.config import PathwayConfig, ProfessionalId, Service, SiteConfig, SnomedConcept, StaffMember
from domain.fhir import human_name
from domain.fhir_delivery import ReferralDelivery, referral_transaction
from domain.fhir_terms import (
    NHS_NUMBER_SYSTEM,
    ODS_ORGANIZATION_SYSTEM,
    ODS_SITE_SYSTEM,
    PERSON_SYSTEM,
    REFERRAL_SYSTEM,
    REFERRAL_TASK_SYSTEM,
    SDS_ROLE_PROFILE_SYSTEM,
    SDS_USER_SYSTEM,
    SNOMED,
)
from domain.model import Person, Role
from domain.outcomes import ConsentScope, ReferralRequest, ServiceType, Urgency
from domain.state import CaseState, Referral
from tests.fhir.validators import assert_valid

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PERSON_ID = "person-00000000-0000-4000-8000-000000000001"
NAME, BORN, NHS_NUMBER, REASON = "EXAMPLE, Sam Alex", "1990-04-01", "9434765919", "sleeping rough"
LINK = "https://inbox.test/referrals/ref-1"
SITE = SiteConfig(
    site_id="demo",
    name="Demo custody suite",
    provider_ods_code="RX4",
    provider_name="Demo NHS Trust",
    site_ods_code="RX4E2",
)
HOUSING = Service(
    service_id="housing",
    name="City housing options",
    type=ServiceType.HOUSING,
    sites=("demo",),
    delivery="fhir",
    address="https://fhir.housing.example/R4",
    ods_code="DD3",
    snomed=SnomedConcept(code="308440001", display="Referral to housing department"),
)
PRACTITIONER = StaffMember(
    staff_id="pr-001",
    role=Role.PRACTITIONER,
    sites=("demo",),
    sds_user_id="555555555555",
    sds_role_profile_id="555555555556",
    professional_ids=(ProfessionalId(regulator="nmc", number="12A3456E"),),
)
CONFIG = PathwayConfig(sites={"demo": SITE}, services=(HOUSING,), staff=(PRACTITIONER,))


def delivery(scope: tuple[ConsentScope, ...], made_by: str | None = "pr-001") -> ReferralDelivery:
    request = ReferralRequest(service=ServiceType.HOUSING, service_id="housing", reason=REASON, urgency=Urgency.URGENT)
    referral = Referral(referral_id="ref-1", request=request, made_at=NOW)
    state = CaseState(
        case_id="case-1",
        site="demo",
        opened_at=NOW,
        person=Person(name=NAME, date_of_birth=BORN, nhs_number=NHS_NUMBER),
        consent="given",
        consent_scope=scope,
        referrals=(referral,),
    )
    return ReferralDelivery(state=state, referral=referral, person_id=PERSON_ID, made_by=made_by, link=LINK)


def entries(bundle: Bundle) -> list[Any]:
    return list(bundle.entry or [])


def resources(bundle: Bundle) -> dict[str, list[Any]]:
    """The transaction's resources by type, once it has passed the independent validators."""
    assert_valid(json.loads(bundle.model_dump_json(exclude_none=True)))
    found: dict[str, list[Any]] = {}
    for entry in entries(bundle):
        found.setdefault(entry.resource.get_resource_type(), []).append(entry.resource)
    return found


def test_with_consent_to_share_with_services_the_patient_says_who_the_person_is() -> None:
    bundle = referral_transaction(delivery((ConsentScope.ASSESSMENT, ConsentScope.SHARE_SERVICES)), CONFIG)

    [patient] = resources(bundle)["Patient"]
    assert [(i.system, i.value) for i in patient.identifier] == [
        (NHS_NUMBER_SYSTEM, NHS_NUMBER),
        (PERSON_SYSTEM, PERSON_ID),
    ]
    assert (patient.name[0].family, patient.name[0].given, str(patient.birthDate)) == ("EXAMPLE", ["Sam", "Alex"], BORN)


def test_without_that_consent_the_patient_is_only_the_pseudonymous_person_id() -> None:
    bundle = referral_transaction(delivery((ConsentScope.ASSESSMENT, ConsentScope.SHARE_COURT)), CONFIG)

    [patient] = resources(bundle)["Patient"]
    assert [(i.system, i.value) for i in patient.identifier] == [(PERSON_SYSTEM, PERSON_ID)]
    assert (patient.name, patient.birthDate) == (None, None)
    text = bundle.model_dump_json()
    for value in ("EXAMPLE", BORN, NHS_NUMBER):
        assert value not in text
    [service_request] = resources(bundle)["ServiceRequest"]
    assert service_request.reasonCode[0].text == REASON  # the reason is the referral itself


def test_every_entry_is_a_conditional_create_and_every_reference_resolves_inside() -> None:
    bundle = referral_transaction(delivery((ConsentScope.SHARE_SERVICES,)), CONFIG)

    assert bundle.type == "transaction"
    creates = {e.resource.get_resource_type() + ":" + str(e.request.ifNoneExist) for e in entries(bundle)}
    assert creates == {
        f"ServiceRequest:identifier={REFERRAL_SYSTEM}|ref-1",
        f"Task:identifier={REFERRAL_TASK_SYSTEM}|ref-1",
        f"Patient:identifier={NHS_NUMBER_SYSTEM}|{NHS_NUMBER}",
        f"Organization:identifier={ODS_ORGANIZATION_SYSTEM}|RX4",
        f"Location:identifier={ODS_SITE_SYSTEM}|RX4E2",
        f"Practitioner:identifier={SDS_USER_SYSTEM}|555555555555",
        f"PractitionerRole:identifier={SDS_ROLE_PROFILE_SYSTEM}|555555555556",
        f"Organization:identifier={ODS_ORGANIZATION_SYSTEM}|DD3",
    }
    assert all(e.request.method == "POST" and e.fullUrl.startswith("urn:uuid:") for e in entries(bundle))
    full_urls = {e.fullUrl for e in entries(bundle)}
    text = bundle.model_dump_json()
    references = {part.split('"')[0] for part in text.split('"reference":"')[1:]}
    assert references and references <= full_urls


def test_the_request_is_asked_by_the_practitioner_of_the_service_and_coded_in_snomed() -> None:
    found = resources(referral_transaction(delivery((ConsentScope.SHARE_SERVICES,)), CONFIG))

    [service_request], [task], [role] = found["ServiceRequest"], found["Task"], found["PractitionerRole"]
    assert service_request.requester.reference == task.requester.reference == f"urn:uuid:{role.id}"
    service = next(o for o in found["Organization"] if o.name == HOUSING.name)
    assert service_request.performer[0].reference == task.owner.reference == f"urn:uuid:{service.id}"
    assert (service_request.code.coding[0].system, service_request.code.coding[0].code) == (SNOMED, "308440001")
    assert (task.status, task.businessStatus.coding[0].code, service_request.status) == ("requested", "sent", "active")
    assert LINK in service_request.note[0].text
    [practitioner] = found["Practitioner"]
    assert ("https://fhir.hl7.org.uk/Id/nmc-number", "12A3456E") in {
        (i.system, i.value) for i in practitioner.identifier
    }


def test_a_referral_the_system_made_is_asked_by_the_provider() -> None:
    found = resources(referral_transaction(delivery((), made_by="pathway"), CONFIG))

    [service_request] = found["ServiceRequest"]
    provider = next(o for o in found["Organization"] if o.name == SITE.provider_name)
    assert service_request.requester.reference == f"urn:uuid:{provider.id}"
    assert "Practitioner" not in found and "PractitionerRole" not in found


def test_name_parts_only_where_the_record_says_which_is_which() -> None:
    assert human_name("EXAMPLE, Sam Alex") == {
        "use": "official",
        "text": "EXAMPLE, Sam Alex",
        "family": "EXAMPLE",
        "given": ["Sam", "Alex"],
    }
    assert human_name("Sam van der Berg") == {"use": "official", "text": "Sam van der Berg"}
    assert human_name(", Sam") == {"use": "official", "text": ", Sam"}
