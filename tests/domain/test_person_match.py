"""domain/person_match.py: normalising a person's details and the blind index's digests of them."""

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.model import Person
from domain.person_match import (
    AUTOMATIC,
    BlindKey,
    MatchBasis,
    blind_keys,
    normalise_date_of_birth,
    normalise_nhs_number,
    normalise_surname,
    phonetic,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
NHS_NUMBER = "9434765919"  # valid: see tests/domain/test_text_rules.py
SEALED_NAME = "sealed:v1:person-00000000-0000-0000-0000-000000000001:" + "A" * 40


def person(
    name: str | None = "Seán O'Brien", born: str | None = "1990-03-04", nhs_number: str | None = NHS_NUMBER
) -> Person:
    return Person(name=name, date_of_birth=born, nhs_number=nhs_number)


def digests(of: Person, key: bytes = KEY) -> dict[MatchBasis, str]:
    return {blind.basis: blind.digest for blind in blind_keys(of, key)}


def with_check_digit(first_nine: str) -> str | None:
    """The NHS number of nine digits and their Modulus 11 check digit, worked out here independently."""
    remainder = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True)) % 11
    check = 11 - remainder
    return None if check == 10 else first_nine + str(0 if check == 11 else check)


nhs_numbers = st.text(alphabet="0123456789", min_size=9, max_size=9).map(with_check_digit).filter(bool)


# NHS numbers


@pytest.mark.parametrize(
    "written", ["9434765919", "943 476 5919", "943-476-5919", " 943 - 476 - 5919 ", "9434 76\t5919"]
)
def test_an_nhs_number_is_its_digits_however_spaced(written: str) -> None:
    assert normalise_nhs_number(written) == NHS_NUMBER


@pytest.mark.parametrize(
    "written",
    [
        "9434765918",  # the check digit one off
        "943 476 5918",
        "1234567890",  # no valid number starts 123456789
        "943476591",  # nine digits
        "94347659190",  # eleven
        "943.476.5919",  # dots are not how it is written
        "NHS 9434765919",
        "",
        None,
    ],
)
def test_anything_else_is_not_an_nhs_number(written: str | None) -> None:
    assert normalise_nhs_number(written) is None


# Surnames


@pytest.mark.parametrize(
    ("name", "surname"),
    [
        ("Siobhán Murphy", "MURPHY"),
        ("Seán O'Brien-Smith", "OBRIENSMITH"),  # hyphenated and apostrophe'd: kept whole
        ("Anne-Marie Jones", "JONES"),
        ("mary  ann   smith", "SMITH"),
        ("O'BRIEN-SMITH, Seán", "OBRIENSMITH"),  # SURNAME, Forenames
        ("Van der Berg, Ruth", "VANDERBERG"),
        ("Ruth van der Berg", "VANDERBERG"),  # the particles written apart belong to the surname
        ("John Smith Jr.", "SMITH"),
        ("Al Smith", "SMITH"),  # a first word is a forename, even one spelt like a particle
        ("Madonna", "MADONNA"),  # one word: the surname
        ("Zoë Brontë", "BRONTE"),
        ("Lech Wałęsa", "WALESA"),  # Ł has no accent to take away: it is written L
        ("Søren Kierkegård", "KIERKEGARD"),
        ("Hans Strauß", "STRAUSS"),
        ("Ольга Иванова", "ИВАНОВА"),  # other scripts keep their letters
    ],
)
def test_the_surname_is_found_and_normalised(name: str, surname: str) -> None:
    assert normalise_surname(name) == surname


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Siobhán Ní Bhriain", "Siobhan Ni Bhriain"),
        ("Seán O'Brien", "Sean OBrien"),
        ("Seán O'Brien", "Sean O Brien"),  # decided: O'Brien, OBrien and O Brien are one surname
        ("Seán O\u2019Brien", "Sean O'Brien"),  # a typographic apostrophe
        ("Seán O'Brien", "O'BRIEN, Sean"),
        ("Jo Smith-Jones", "Smith Jones, Jo"),
        ("Ana Pérez", "Ana Pe\u0301rez"),  # é as one character or as e and a combining accent
    ],
)
def test_ways_of_writing_one_surname_agree(one: str, other: str) -> None:
    assert normalise_surname(one) == normalise_surname(other) is not None


@pytest.mark.parametrize("name", [None, "", "   ", "'-", ", Sean", "42"])
def test_no_usable_surname_is_none(name: str | None) -> None:
    assert normalise_surname(name) is None


# Phonetic codes


@pytest.mark.parametrize(
    "variants",
    [
        ["MCDONALD", "MACDONALD"],
        ["MCKAY", "MACKAY"],
        ["SMITH", "SMYTH", "SMYTHE"],
        ["THOMPSON", "THOMSON"],
        ["STEPHENSON", "STEVENSON"],
        ["PHILIPS", "PHILLIPS"],
        ["SIMPSON", "SIMSON"],
        ["BRIAN", "BRYAN"],
    ],
)
def test_spellings_said_alike_have_one_phonetic_code(variants: list[str]) -> None:
    codes = {phonetic(surname) for surname in variants}
    assert len(codes) == 1 and codes != {""}


@pytest.mark.parametrize(("one", "other"), [("SMITH", "JONES"), ("MCDONALD", "DONALD"), ("THOMSON", "TOMLINSON")])
def test_different_surnames_have_different_codes(one: str, other: str) -> None:
    assert phonetic(one) != phonetic(other)


def test_a_final_or_first_y_is_coded_as_nysiis_codes_it() -> None:
    assert phonetic("YATES") == "YAT"
    assert phonetic("MCKEE") == phonetic("MCKAY") == "MCY"


# Dates of birth


@pytest.mark.parametrize("born", ["1990-03-04", "2000-02-29", "1900-01-01"])
def test_a_date_of_birth_is_kept_as_stored(born: str) -> None:
    assert normalise_date_of_birth(born) == born


@pytest.mark.parametrize(
    "born", [None, "", "1990-02-30", "2001-02-29", "19900304", "04/03/1990", "1990-3-4", "1990-03-04\n"]
)
def test_a_date_of_birth_that_is_not_a_date_is_none(born: str | None) -> None:
    assert normalise_date_of_birth(born) is None


# Blind keys


def test_a_person_with_every_detail_has_a_key_for_each_basis() -> None:
    keys = blind_keys(person(), KEY)
    assert [blind.basis for blind in keys] == list(MatchBasis)
    assert all(isinstance(blind, BlindKey) and len(blind.digest) == 64 for blind in keys)
    assert len({blind.digest for blind in keys}) == 3


def test_each_digest_is_the_hmac_of_its_basis_and_normalised_value() -> None:
    def expected(message: str) -> str:
        return hmac.new(KEY, message.encode(), hashlib.sha256).hexdigest()

    assert digests(person("Seán O'Brien-Smith", "1990-03-04")) == {
        MatchBasis.NHS_NUMBER: expected("nhs_number\x1f9434765919"),
        MatchBasis.SURNAME_DOB: expected("surname_dob\x1fOBRIENSMITH\x1f1990-03-04"),
        MatchBasis.PHONETIC_DOB: expected(f"phonetic_dob\x1f{phonetic('OBRIENSMITH')}\x1f1990-03-04"),
    }


@pytest.mark.parametrize(
    ("details", "bases"),
    [
        (person(name=None, born=None), {MatchBasis.NHS_NUMBER}),
        (person(born=None), {MatchBasis.NHS_NUMBER}),  # a surname alone matches too many
        (person(name=None), {MatchBasis.NHS_NUMBER}),
        (person(nhs_number=None), {MatchBasis.SURNAME_DOB, MatchBasis.PHONETIC_DOB}),
        (person(name="Ольга Иванова", nhs_number=None), {MatchBasis.SURNAME_DOB}),  # NYSIIS is for A to Z
        (person(name="'-", nhs_number=None), set()),
        (Person(), set()),
    ],
)
def test_only_the_bases_whose_details_are_present_have_keys(details: Person, bases: set[MatchBasis]) -> None:
    assert set(digests(details)) == bases


def test_only_the_nhs_number_links_automatically() -> None:
    assert {MatchBasis.NHS_NUMBER} == AUTOMATIC


def test_the_same_person_written_differently_has_the_same_keys() -> None:
    assert digests(person("Seán O'Brien")) == digests(person("O BRIEN, Sean"))


def test_a_spelling_said_alike_is_a_phonetic_candidate_only() -> None:
    smith, smyth = digests(person("John Smith")), digests(person("John Smyth"))
    assert smith[MatchBasis.PHONETIC_DOB] == smyth[MatchBasis.PHONETIC_DOB]
    assert smith[MatchBasis.SURNAME_DOB] != smyth[MatchBasis.SURNAME_DOB]


def test_a_date_of_birth_with_day_and_month_swapped_is_not_even_a_candidate() -> None:
    as_recorded, swapped = digests(person(born="1990-03-04")), digests(person(born="1990-04-03"))
    assert as_recorded[MatchBasis.SURNAME_DOB] != swapped[MatchBasis.SURNAME_DOB]
    assert as_recorded[MatchBasis.PHONETIC_DOB] != swapped[MatchBasis.PHONETIC_DOB]


def test_digests_under_another_key_are_all_different() -> None:
    under_one, under_other = digests(person()), digests(person(), OTHER_KEY)
    assert set(under_one) == set(under_other)
    assert not set(under_one.values()) & set(under_other.values())


def test_no_digest_holds_a_detail_in_clear() -> None:
    details = person("Seán O'Brien", "1990-03-04")
    clear = [NHS_NUMBER, "OBRIEN", "obrien", "1990", "19900304", phonetic("OBRIEN").lower()]
    for blind in blind_keys(details, KEY):
        assert all(c in "0123456789abcdef" for c in blind.digest)
        assert not any(part in blind.digest for part in clear)


def test_one_value_under_two_bases_gives_unrelated_digests() -> None:
    # A surname whose NYSIIS code is itself: the surname and phonetic messages differ only by basis.
    assert phonetic("BAD") == "BAD"
    keys = digests(person("Ann Bad", nhs_number=None))
    assert keys[MatchBasis.SURNAME_DOB] != keys[MatchBasis.PHONETIC_DOB]


@pytest.mark.parametrize("key", [b"", b"short key", bytes(31)])
def test_a_key_too_short_to_be_secret_is_refused(key: bytes) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        blind_keys(person(), key)


def test_sealed_details_are_refused_without_showing_them() -> None:
    with pytest.raises(ValueError, match="sealed") as refused:
        blind_keys(person(name=SEALED_NAME), KEY)
    assert SEALED_NAME not in str(refused.value) and NHS_NUMBER not in str(refused.value)


@given(
    nhs_numbers,
    st.text(alphabet=st.characters(categories=["L", "Zs", "Pd"]), max_size=40),
    st.dates().map(lambda born: born.isoformat()).filter(lambda born: born >= "1900"),
    st.binary(min_size=32, max_size=64),
)
def test_blind_keys_are_the_same_each_time(nhs_number: str, name: str, born: str, key: bytes) -> None:
    details = Person(name=name, date_of_birth=born, nhs_number=nhs_number)
    assert blind_keys(details, key) == blind_keys(details.model_copy(), bytes(key))


@given(st.lists(nhs_numbers, min_size=2, max_size=2, unique=True), st.binary(min_size=32, max_size=32))
def test_different_nhs_numbers_have_different_digests(numbers: list[str], key: bytes) -> None:
    one, other = (digests(Person(nhs_number=number), key)[MatchBasis.NHS_NUMBER] for number in numbers)
    assert one != other
