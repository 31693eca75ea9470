"""Who and where, as UK Core FHIR resources built from the configuration (docs/fhir.md): the NHS
provider running Liaison and Diversion at a site (Organization, by its ODS organisation code), the
site itself (Location: the custody suite or court, by its ODS site code where it has one), a
directory service referrals go to (Organization, by its ODS code), and a member of staff
(Practitioner, by SDS user id and professional registrations; PractitionerRole, their role at the
site). Pure: no I/O.

A code the configuration lacks is left out, never invented: the local identifier (site, service or
staff id) is always there, so a receiver can still tell one from another.
"""

from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.location import Location
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.resource import Resource

from domain.config import PathwayConfig, Service, SiteConfig, StaffMember
from domain.fhir_terms import (
    ODS_ORGANIZATION_SYSTEM,
    ODS_SITE_SYSTEM,
    PROFESSIONAL_SYSTEMS,
    SDS_ROLE_PROFILE_SYSTEM,
    SDS_USER_SYSTEM,
    SERVICE_SYSTEM,
    SITE_SYSTEM,
    SNOMED,
    STAFF_ROLE_AT_SITE_SYSTEM,
    STAFF_ROLE_SYSTEM,
    STAFF_SYSTEM,
    coding,
    identifier,
    meta,
    urn,
    uuid_of,
    words,
)
from domain.model import Role


def provider_id(site: SiteConfig) -> str:
    """The provider's resource id: by its ODS code, so sites run by one trust share one Organization."""
    if site.provider_ods_code:
        return uuid_of("organization", "ods", site.provider_ods_code)
    return uuid_of("organization", "site", site.site_id)


def provider(site: SiteConfig) -> Organization:
    """The NHS provider that runs Liaison and Diversion at the site."""
    identifiers = [identifier(SITE_SYSTEM, site.site_id)]
    if site.provider_ods_code:
        identifiers.insert(0, identifier(ODS_ORGANIZATION_SYSTEM, site.provider_ods_code))
    return Organization.model_validate(
        {
            "resourceType": "Organization",
            "id": provider_id(site),
            "meta": meta("Organization"),
            "identifier": identifiers,
            "active": True,
            "name": site.provider_name or f"Liaison and Diversion service, {site.name}",
        }
    )


def location_id(site_id: str) -> str:
    return uuid_of("location", site_id)


def site_location(site: SiteConfig) -> Location:
    """Where the service works: the custody suite or court the site is."""
    identifiers = [identifier(SITE_SYSTEM, site.site_id)]
    if site.site_ods_code:
        identifiers.insert(0, identifier(ODS_SITE_SYSTEM, site.site_ods_code))
    return Location.model_validate(
        {
            "resourceType": "Location",
            "id": location_id(site.site_id),
            "meta": meta("Location"),
            "identifier": identifiers,
            "status": "active",
            "name": site.name,
            "managingOrganization": {"reference": urn(provider_id(site))},
        }
    )


def service_organization_id(service_id: str) -> str:
    return uuid_of("organization", "service", service_id)


def service_organization(service: Service) -> Organization:
    """A service in the directory, the performer of referrals to it."""
    identifiers = [identifier(SERVICE_SYSTEM, service.service_id)]
    if service.ods_code:
        identifiers.insert(0, identifier(ODS_ORGANIZATION_SYSTEM, service.ods_code))
    return Organization.model_validate(
        {
            "resourceType": "Organization",
            "id": service_organization_id(service.service_id),
            "meta": meta("Organization"),
            "identifier": identifiers,
            "active": True,
            "name": service.name,
        }
    )


def practitioner_id(staff_id: str) -> str:
    return uuid_of("practitioner", staff_id)


def role_id(staff_id: str, site_id: str) -> str:
    return uuid_of("practitioner-role", staff_id, site_id)


def practitioner(member: StaffMember) -> Practitioner:
    """A member of staff: their local id, SDS user id and professional registrations, nothing more
    (the configuration holds no names)."""
    identifiers = [identifier(STAFF_SYSTEM, member.staff_id)]
    if member.sds_user_id:
        identifiers.append(identifier(SDS_USER_SYSTEM, member.sds_user_id))
    identifiers.extend(
        identifier(PROFESSIONAL_SYSTEMS[registration.regulator], registration.number)
        for registration in member.professional_ids
    )
    return Practitioner.model_validate(
        {
            "resourceType": "Practitioner",
            "id": practitioner_id(member.staff_id),
            "meta": meta("Practitioner"),
            "identifier": identifiers,
            "active": True,
        }
    )


def practitioner_role(member: StaffMember, site: SiteConfig) -> PractitionerRole:
    """The member's role at the site, for the provider, at the site's Location."""
    identifiers = [identifier(STAFF_ROLE_AT_SITE_SYSTEM, f"{member.staff_id}@{site.site_id}")]
    if member.sds_role_profile_id:
        identifiers.append(identifier(SDS_ROLE_PROFILE_SYSTEM, member.sds_role_profile_id))
    return PractitionerRole.model_validate(
        {
            "resourceType": "PractitionerRole",
            "id": role_id(member.staff_id, site.site_id),
            "meta": meta("PractitionerRole"),
            "identifier": identifiers,
            "active": True,
            "practitioner": {"reference": urn(practitioner_id(member.staff_id))},
            "organization": {"reference": urn(provider_id(site))},
            "location": [{"reference": urn(location_id(site.site_id))}],
            "code": [{"coding": [coding(STAFF_ROLE_SYSTEM, member.role.value, words(member.role.value))]}],
        }
    )


@dataclass(frozen=True)
class Requester:
    """Who asks for a referral, as FHIR: a reference and the resources it resolves to."""

    reference: dict[str, Any] | None
    resources: tuple[Resource, ...]


def requester(config: PathwayConfig, site_id: str, staff_id: str | None) -> Requester:
    """The member of staff who made a referral, in their role at the site, with the site and its
    provider; the provider alone when the maker is the system or no longer in the configuration. A
    site that has left the configuration: a logical reference by its id, and no resources (no site
    at all, as for a case the store does not hold: no requester)."""
    site = config.sites.get(site_id)
    if site is None:
        known = {"identifier": identifier(SITE_SYSTEM, site_id), "display": site_id} if site_id else None
        return Requester(known, ())
    where = (provider(site), site_location(site))
    member = next((m for m in config.staff if m.staff_id == staff_id and m.role is not Role.SYSTEM), None)
    if member is None or site_id not in member.sites:
        return Requester({"reference": urn(provider_id(site))}, where)
    return Requester(
        {"reference": urn(role_id(member.staff_id, site_id))},
        (*where, practitioner(member), practitioner_role(member, site)),
    )


@dataclass(frozen=True)
class Asked:
    """The service a referral asks, as FHIR: a reference, its Organization, and the directory's SNOMED
    CT concept for it as a coding."""

    reference: dict[str, Any] | None
    resources: tuple[Resource, ...]
    snomed: dict[str, Any] | None


def asked(config: PathwayConfig, service_id: str | None) -> Asked:
    """The directory's service `service_id`: its Organization; gone from the directory, a logical
    reference by its id and nothing more (no service named at all: nothing)."""
    service = next((s for s in config.services if s.service_id == service_id), None)
    if service is None:
        known = {"identifier": identifier(SERVICE_SYSTEM, service_id), "display": service_id} if service_id else None
        return Asked(known, (), None)
    snomed = coding(SNOMED, service.snomed.code, service.snomed.display) if service.snomed else None
    return Asked(
        {"reference": urn(service_organization_id(service.service_id))}, (service_organization(service),), snomed
    )
