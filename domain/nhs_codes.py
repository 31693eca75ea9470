"""The shapes of the NHS's organisation, terminology and staff identifiers, checked where the
configuration names them: an ODS organisation or site code, a SNOMED CT concept id (with its
Verhoeff check digit), an SDS user or role profile id, and professional register numbers.

Each check returns the value unchanged or raises ValueError with a plain message, and each has an
Annotated type (OdsCode, SnomedConceptId, ...) for pydantic models. A shape check says only that a
code could be one: whether it names a real organisation or an active concept is for ODS and the
terminology server to say.
"""

import re
from typing import Annotated, Literal

from pydantic import AfterValidator

# The Verhoeff scheme (dihedral group D5), which SNOMED CT uses for the last digit of every id:
# the multiplication table, the permutation applied by position, and the inverse.
# SNOMED CT Release File Specification 6.4, "Check-digit":
# https://confluence.snomedtools.org/display/DOCRELFMT/6.4+Check-digit
_MULTIPLY = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_PERMUTE = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_valid(digits: str) -> bool:
    """Whether a string of digits ends in its correct Verhoeff check digit."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    check = 0
    for position, digit in enumerate(reversed(digits)):
        check = _MULTIPLY[check][_PERMUTE[position % 8][int(digit)]]
    return check == 0


# ODS codes are 1 to 9 upper-case letters and digits (NHS England, "Organisations and services":
# https://digital.nhs.uk/developer/guides-and-documentation/building-healthcare-software/organisations-and-services).
# The organisations this configuration names have codes of 3 or more: an NHS trust 3 (RX4), a trust
# site 5 (RX4E2), a care trust T + 2 (TAK), an independent provider N + 2 (NQL) and its sites 5, a GP
# practice a letter and 5 digits (A81001), a pharmacy F + 4 (FVR79), a dental practice V + 5 digits
# (V03462), a social care site 5 (VLAXL), a branch surgery 9 (K81003001) (NHS Data Dictionary,
# ORGANISATION SITE CODE coding frames). A custody suite or court has one only where ODS lists it.
_ODS_CODE = re.compile(r"[A-Z0-9]{3,9}")


def ods_code(value: str) -> str:
    if not _ODS_CODE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an ODS code: it must be 3 to 9 upper-case letters and digits (e.g. RX4, RX4E2, A81001)"
        )
    return value


# A SNOMED CT id is 6 to 18 digits without a leading zero; the two digits before the check digit
# are its partition identifier, 00 for a concept in the international release and 10 for a concept
# in a national extension such as the UK's (SNOMED CT Release File Specification 6.3, "SCTID
# Constraints": https://confluence.snomedtools.org/display/DOCRELFMT/6.3+SCTID+Constraints, and 6.5
# "Partition-identifier").
_CONCEPT_PARTITIONS = ("00", "10")


def snomed_concept_id(value: str) -> str:
    if not (value.isascii() and value.isdigit() and 6 <= len(value) <= 18) or value.startswith("0"):
        raise ValueError(f"{value!r} is not a SNOMED CT concept id: it must be 6 to 18 digits, not starting with 0")
    partition = value[-3:-1]
    if partition not in _CONCEPT_PARTITIONS:
        raise ValueError(
            f"{value!r} is not a SNOMED CT concept id: its partition identifier (the two digits before the last) "
            f"is {partition}, not 00 or 10 (it may be a description or relationship id)"
        )
    if not verhoeff_valid(value):
        raise ValueError(f"{value!r} is not a SNOMED CT concept id: its check digit (the last digit) is wrong")
    return value


# Spine Directory Service ids of a user and of one of their role profiles: 12 digits each (the
# NHS national RBAC user id and role profile code carried in an NHS smartcard session).
_SDS_ID = re.compile(r"\d{12}")


def sds_user_id(value: str) -> str:
    if not _SDS_ID.fullmatch(value):
        raise ValueError(f"{value!r} is not an SDS user id: it must be 12 digits")
    return value


def sds_role_profile_id(value: str) -> str:
    if not _SDS_ID.fullmatch(value):
        raise ValueError(f"{value!r} is not an SDS role profile id: it must be 12 digits")
    return value


ProfessionalRegister = Literal["gmc", "nmc", "hcpc", "swe", "gphc"]

# Each register's number, with an example of its real shape.
_REGISTER_NUMBERS: dict[ProfessionalRegister, tuple[re.Pattern[str], str]] = {
    # General Medical Council reference number: 7 digits.
    "gmc": (re.compile(r"\d{7}"), "7 digits, e.g. 1234567"),
    # Nursing and Midwifery Council PIN: 2 digits (year), a letter (month), 4 digits and a letter
    # (the country of first registration, E, S, W, N, or O for overseas).
    "nmc": (re.compile(r"\d{2}[A-Z]\d{4}[A-Z]"), "2 digits, a letter, 4 digits and a letter, e.g. 12A3456E"),
    # Health and Care Professions Council: the profession's prefix, 2 letters (PA paramedic, OT,
    # SL speech and language therapist, ...) or 3 (PYL practitioner psychologist, HAD hearing aid
    # dispenser), then digits.
    "hcpc": (re.compile(r"[A-Z]{2,3}\d{4,6}"), "2 or 3 letters and digits, e.g. PA12345 or PYL12345"),
    # Social Work England: SW and digits (numbers carried over from the HCPC register kept theirs).
    "swe": (re.compile(r"SW\d{1,6}"), "SW and digits, e.g. SW12345"),
    # General Pharmaceutical Council registration number: 7 digits.
    "gphc": (re.compile(r"\d{7}"), "7 digits, e.g. 2012345"),
}

REGISTER_NAMES: dict[ProfessionalRegister, str] = {
    "gmc": "GMC",
    "nmc": "NMC",
    "hcpc": "HCPC",
    "swe": "Social Work England",
    "gphc": "GPhC",
}


def professional_number(register: ProfessionalRegister, value: str) -> str:
    pattern, shape = _REGISTER_NUMBERS[register]
    if not pattern.fullmatch(value):
        raise ValueError(f"{value!r} is not a {REGISTER_NAMES[register]} number: it must be {shape}")
    return value


OdsCode = Annotated[str, AfterValidator(ods_code)]
SnomedConceptId = Annotated[str, AfterValidator(snomed_concept_id)]
SdsUserId = Annotated[str, AfterValidator(sds_user_id)]
SdsRoleProfileId = Annotated[str, AfterValidator(sds_role_profile_id)]
