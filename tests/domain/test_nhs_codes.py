"""NHS identifiers (domain/nhs_codes.py): the Verhoeff check digit of SNOMED CT ids, ODS code
shapes, SDS ids and professional register numbers, each refused with a message that says why."""

import pytest
from pydantic import BaseModel, ValidationError

from domain.nhs_codes import (
    OdsCode,
    ProfessionalRegister,
    SdsRoleProfileId,
    SdsUserId,
    SnomedConceptId,
    ods_code,
    professional_number,
    sds_role_profile_id,
    sds_user_id,
    snomed_concept_id,
    verhoeff_valid,
)

# Real concept ids: 404684003 |Clinical finding|, 22298006 |Myocardial infarction|, 73211009
# |Diabetes mellitus|, 3457005 |Patient referral|, and two UK extension concepts (partition 10) from
# UK Core's CareSettingType expansion: 89301000000108 |Community mental health team| and
# 109201000000109 |Substance misuse team|.
KNOWN_CONCEPTS = ("404684003", "22298006", "73211009", "3457005", "89301000000108", "109201000000109")


def with_last_digit_changed(digits: str) -> list[str]:
    return [digits[:-1] + other for other in "0123456789" if other != digits[-1]]


# --- Verhoeff ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("concept_id", KNOWN_CONCEPTS)
def test_real_snomed_ids_pass_the_verhoeff_check(concept_id: str) -> None:
    assert verhoeff_valid(concept_id)


@pytest.mark.parametrize("concept_id", KNOWN_CONCEPTS)
def test_any_other_last_digit_fails_the_verhoeff_check(concept_id: str) -> None:
    assert not any(verhoeff_valid(altered) for altered in with_last_digit_changed(concept_id))


@pytest.mark.parametrize("concept_id", KNOWN_CONCEPTS)
def test_swapping_two_neighbouring_digits_fails_the_verhoeff_check(concept_id: str) -> None:
    # Verhoeff's point over a plain sum: it catches the commonest typing slip, a transposition.
    swaps = {
        concept_id[:i] + concept_id[i + 1] + concept_id[i] + concept_id[i + 2 :]
        for i in range(len(concept_id) - 1)
        if concept_id[i] != concept_id[i + 1]
    }
    assert swaps and not any(verhoeff_valid(swapped) for swapped in swaps)


# The full-width digits of 404684003, which str.isdigit() alone would accept.
FULL_WIDTH_404684003 = "".join(chr(0xFF10 + int(d)) for d in "404684003")


@pytest.mark.parametrize("text", ["", "40468400a", FULL_WIDTH_404684003, "404 684 003"])
def test_only_ascii_digits_can_pass(text: str) -> None:
    assert not verhoeff_valid(text)


# --- SNOMED CT concept ids --------------------------------------------------------------------------------


@pytest.mark.parametrize("concept_id", KNOWN_CONCEPTS)
def test_a_real_concept_id_is_accepted_as_it_is(concept_id: str) -> None:
    assert snomed_concept_id(concept_id) == concept_id


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("404684004", "its check digit (the last digit) is wrong"),
        ("22298005", "its check digit (the last digit) is wrong"),
        ("12345", "6 to 18 digits"),
        ("1234567890123456789", "6 to 18 digits"),
        ("0404684003", "not starting with 0"),
        ("SCT404684003", "6 to 18 digits"),
        # 488713015: a real description id (of "Housing, local environment and transport finding"),
        # partition 01, its check digit right.
        ("488713015", "partition identifier (the two digits before the last) is 01, not 00 or 10"),
        # 1000027: partition 02, a relationship id's.
        ("1000027", "is 02, not 00 or 10"),
    ],
)
def test_what_is_not_a_concept_id_is_refused_saying_why(value: str, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        snomed_concept_id(value)
    assert str(caught.value).startswith(f"{value!r} is not a SNOMED CT concept id: ")
    assert why in str(caught.value)


def test_the_partition_rule_is_checked_before_the_check_digit() -> None:
    # Both of these carry a correct check digit, so only the partition can refuse them.
    assert verhoeff_valid("488713015") and verhoeff_valid("1000027")


# --- ODS codes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "RX4",  # an NHS trust
        "RX4E2",  # a trust site
        "TAK",  # a care trust
        "TAK01",  # a care trust site
        "A81001",  # a GP practice
        "FVR79",  # a pharmacy
        "V03462",  # a dental practice
        "VLAXL",  # a social care site
        "K81003001",  # a branch surgery
        "5CT49",  # an old primary care trust site
    ],
)
def test_real_ods_code_shapes_are_accepted(code: str) -> None:
    assert ods_code(code) == code


@pytest.mark.parametrize("code", ["", "R4", "rx4", "RX4 E2", "RX4-E2", "RX4E2000001", "RXÉ"])
def test_other_shapes_are_not_ods_codes(code: str) -> None:
    with pytest.raises(ValueError) as caught:
        ods_code(code)
    assert str(caught.value) == (
        f"{code!r} is not an ODS code: it must be 3 to 9 upper-case letters and digits (e.g. RX4, RX4E2, A81001)"
    )


# --- SDS ids ----------------------------------------------------------------------------------------------


def test_sds_ids_are_twelve_digits() -> None:
    assert sds_user_id("555021935107") == "555021935107"
    assert sds_role_profile_id("555021936108") == "555021936108"
    for bad in ("55502193510", "5550219351077", "55502193510X", ""):
        with pytest.raises(ValueError, match="is not an SDS user id: it must be 12 digits"):
            sds_user_id(bad)
        with pytest.raises(ValueError, match="is not an SDS role profile id: it must be 12 digits"):
            sds_role_profile_id(bad)


# --- professional registers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("register", "number"),
    [
        ("gmc", "1234567"),
        ("nmc", "12A3456E"),
        ("nmc", "05I1234O"),
        ("hcpc", "PA12345"),
        ("hcpc", "SL012345"),
        ("hcpc", "PYL12345"),
        ("swe", "SW12345"),
        ("swe", "SW123456"),
        ("gphc", "2012345"),
    ],
)
def test_real_register_number_shapes(register: ProfessionalRegister, number: str) -> None:
    assert professional_number(register, number) == number


@pytest.mark.parametrize(
    ("register", "number", "message"),
    [
        ("gmc", "123456", "'123456' is not a GMC number: it must be 7 digits, e.g. 1234567"),
        ("gmc", "12345678", "'12345678' is not a GMC number"),
        ("nmc", "12A3456", "'12A3456' is not a NMC number: it must be 2 digits, a letter, 4 digits and a letter"),
        ("nmc", "1234567E", "'1234567E' is not a NMC number"),
        ("hcpc", "12345", "'12345' is not a HCPC number: it must be 2 or 3 letters and digits"),
        ("hcpc", "P12345", "'P12345' is not a HCPC number"),
        ("swe", "12345", "'12345' is not a Social Work England number: it must be SW and digits"),
        ("swe", "PA12345", "'PA12345' is not a Social Work England number"),
        ("gphc", "GPhC2012345", "'GPhC2012345' is not a GPhC number: it must be 7 digits"),
    ],
)
def test_a_number_of_another_shape_is_refused_naming_the_register(
    register: ProfessionalRegister, number: str, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        professional_number(register, number)
    assert str(caught.value).startswith(message)


# --- the Annotated types in a model -----------------------------------------------------------------------


class Coded(BaseModel):
    ods: OdsCode
    concept: SnomedConceptId
    user: SdsUserId
    role_profile: SdsRoleProfileId


def test_the_annotated_types_check_a_models_fields_and_name_them() -> None:
    good = Coded(ods="RX4E2", concept="73211009", user="555021935107", role_profile="555021936108")
    assert good.concept == "73211009"

    with pytest.raises(ValidationError) as caught:
        Coded(ods="rx4", concept="73211008", user="1", role_profile="2")
    problems = {e["loc"][0]: e["msg"] for e in caught.value.errors()}
    assert sorted(problems) == ["concept", "ods", "role_profile", "user"]
    assert "its check digit (the last digit) is wrong" in problems["concept"]
    assert "'rx4' is not an ODS code" in problems["ods"]
