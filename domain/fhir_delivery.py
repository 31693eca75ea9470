"""What a service with `delivery = "fhir"` receives for a referral (docs/fhir.md): a FHIR R4
`transaction` Bundle a receiving system can take whole. Pure: no I/O.

It holds the ServiceRequest and its Task (status `requested`), the Patient, the requester (the
member of staff in their role at the site, with the site and its provider; or the provider alone)
and the service asked. Every entry is a conditional create on its identifier, so a repeated
delivery creates nothing twice on a conforming server, and references between entries are
`urn:uuid:` full URLs the server rewrites to the ids it assigns.

The Patient carries who the person is (NHS number, name, date of birth) only when the person gave
consent to share with the services they are referred to (`ConsentScope.SHARE_SERVICES`); otherwise
only the person's pseudonymous Pathway id, and the service reads the rest through the referral's
link, as an email or plain HTTP delivery does.
"""

from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource

from domain.config import PathwayConfig
from domain.fhir import ReferralParties, ReferralStory, patient, referral_task, service_request
from domain.fhir_directory import asked, requester
from domain.fhir_terms import (
    CASE_SYSTEM,
    NHS_NUMBER_SYSTEM,
    ODS_ORGANIZATION_SYSTEM,
    ODS_SITE_SYSTEM,
    PERSON_SYSTEM,
    REFERRAL_SYSTEM,
    REFERRAL_TASK_SYSTEM,
    SDS_ROLE_PROFILE_SYSTEM,
    SDS_USER_SYSTEM,
    SERVICE_SYSTEM,
    SITE_SYSTEM,
    STAFF_ROLE_AT_SITE_SYSTEM,
    STAFF_SYSTEM,
    identifier,
    urn,
    uuid_of,
)
from domain.model import Person
from domain.outcomes import ConsentScope, ReferralStatus
from domain.state import CaseState, Referral

# The identifier a receiver matches each entry on (`ifNoneExist`), most specific first: a national
# code where the resource has one, else ours.
MATCHED_ON: tuple[str, ...] = (
    REFERRAL_SYSTEM,
    REFERRAL_TASK_SYSTEM,
    NHS_NUMBER_SYSTEM,
    PERSON_SYSTEM,
    SDS_ROLE_PROFILE_SYSTEM,
    STAFF_ROLE_AT_SITE_SYSTEM,
    SDS_USER_SYSTEM,
    STAFF_SYSTEM,
    ODS_SITE_SYSTEM,
    ODS_ORGANIZATION_SYSTEM,
    SERVICE_SYSTEM,
    SITE_SYSTEM,
    CASE_SYSTEM,
)


def shares_identity(state: CaseState) -> bool:
    """Whether the person agreed that the services they are referred to may be told who they are."""
    return state.consent == "given" and ConsentScope.SHARE_SERVICES in state.consent_scope


@dataclass(frozen=True)
class ReferralDelivery:
    """One referral to deliver: the case's (opened) state and who made the referral."""

    state: CaseState
    referral: Referral
    person_id: str | None  # None: no person is recorded for the case (the Patient is then "the case's")
    made_by: str | None
    link: str


def referral_transaction(delivery: ReferralDelivery, config: PathwayConfig) -> Bundle:
    """The transaction Bundle for one referral (module docstring)."""
    state, referral = delivery.state, delivery.referral
    sent = referral.model_copy(update={"status": ReferralStatus.SENT})
    person = _patient(delivery)
    asker = requester(config, state.site, delivery.made_by)
    service = asked(config, referral.request.service_id)
    parties = ReferralParties(
        subject={"reference": urn(str(person.id))},
        requester=asker.reference,
        performer=service.reference,
        notes=(f"Read the referral and answer (accept or reject) here: {delivery.link}",),
    )
    resources: list[Resource] = [
        service_request(sent, parties, service.snomed),
        referral_task(sent, parties, ReferralStory()),
        person,
        *asker.resources,
        *service.resources,
    ]
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": uuid_of("delivery", referral.referral_id),
            "identifier": {"system": REFERRAL_SYSTEM, "value": referral.referral_id},
            "type": "transaction",
            "entry": [_create(resource) for resource in resources],
        }
    )


def _patient(delivery: ReferralDelivery) -> Patient:
    """The person, told who they are only with their consent; a Pathway person id always (or, for a
    case that records no person, the case's id)."""
    state = delivery.state
    who = state.person if shares_identity(state) else Person()
    fields = patient(delivery.person_id or state.case_id, [who]).model_dump(exclude_none=True)
    fields["id"] = uuid_of("patient", delivery.person_id or state.case_id)
    if delivery.person_id is None:
        fields["identifier"] = [*fields["identifier"][:-1], identifier(CASE_SYSTEM, state.case_id)]
    return Patient.model_validate(fields)


def _create(resource: Resource) -> dict[str, Any]:
    """A conditional create: POST the resource unless one with its identifier exists."""
    found = {i.system: i.value for i in getattr(resource, "identifier", None) or [] if i.system and i.value}
    system = next(system for system in MATCHED_ON if system in found)
    return {
        "fullUrl": urn(str(resource.id)),
        "resource": resource,
        "request": {
            "method": "POST",
            "url": resource.get_resource_type(),
            "ifNoneExist": f"identifier={system}|{found[system]}",
        },
    }
