"""Matching a new episode's person to people seen before, without keeping anything that reads back to
them: the blind index. Each way of matching (`MatchBasis`) is a keyed hash (HMAC-SHA256 under an index
key, which is not a data key) of a normalised form of the person's details; the index stores only
those digests. An NHS number match is exact and links at once; the others only suggest candidates
for a practitioner to confirm or reject.

The normalising functions are pure and take plaintext: whoever holds it (the edge, before sealing)
computes the digests. A value that is absent or unusable gives no digest for its bases."""

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from domain.model import Person
from domain.personal import is_sealed
from domain.phonetic import nysiis
from domain.text_rules import nhs_number_valid


class MatchBasis(StrEnum):
    NHS_NUMBER = "nhs_number"  # exact: links the episode to the person at once
    SURNAME_DOB = "surname_dob"  # a candidate: a practitioner confirms or rejects
    PHONETIC_DOB = "phonetic_dob"  # a candidate: a practitioner confirms or rejects


AUTOMATIC = frozenset({MatchBasis.NHS_NUMBER})

# Separates the parts of a hashed message: none of them (a basis, letters, digits and hyphens) holds it.
SEPARATOR = "\x1f"
# An index key shorter than this is a mistake (an empty or test key in production), not a secret.
MINIMUM_KEY_BYTES = 32
# How an NHS number is written on letters and cards ("943 476 5919", "943-476-5919").
NHS_NUMBER_SPACING = re.compile(r"[\s-]+")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # whole: date.fromisoformat takes "19900304" too
# Words written apart from the surname they belong to ("Seán O Brien", "Ruth van der Berg"): joined to
# it, so "O Brien", "O'Brien" and "OBrien" are one surname. The first word of a name is never taken
# as one, as it is then a forename ("Al Smith", "Di Jones").
SURNAME_PARTICLES = frozenset(
    {"AL", "AP", "DA", "DE", "DEL", "DELLA", "DEN", "DER", "DI", "DOS", "DU", "EL", "LA", "LE", "MAC", "MC", "NI"}
    | {"O", "ST", "TER", "VAN", "VON"}
)
# Words after a surname that are not part of it.
NAME_SUFFIXES = frozenset(["JR", "JNR", "SR", "SNR", "II", "III", "IV"])
# Latin letters that Unicode does not decompose into a base letter and an accent.
UNDECOMPOSED_LETTERS = str.maketrans({"Ø": "O", "Ł": "L", "Đ": "D", "Ð": "D", "Æ": "AE", "Œ": "OE", "Þ": "TH"})
# Spellings said alike in British surnames that NYSIIS alone codes apart, rewritten before it:
# a Y inside a name is said as I (Smyth, Smith) and a P between M and S or T is silent (Thompson, Thomson).
SPOKEN_ALIKE = ((re.compile(r"(?<=.)Y(?=.)"), "I"), (re.compile(r"(?<=M)P(?=[ST])"), ""))


@dataclass(frozen=True)
class BlindKey:
    """One entry of the blind index: a basis and its digest (HMAC-SHA256, hex)."""

    basis: MatchBasis
    digest: str


def normalise_nhs_number(value: str | None) -> str | None:
    """The ten digits of an NHS number written with or without spaces and hyphens, or None when it is
    not an NHS number (not ten digits, or a wrong Modulus 11 check digit)."""
    if value is None:
        return None
    digits = NHS_NUMBER_SPACING.sub("", value)
    return digits if nhs_number_valid(digits) else None


def normalise_surname(name: str | None) -> str | None:
    """The surname in a person's one name field, in capitals with letters only, or None when it has none.

    The surname is what comes before a comma ("O'BRIEN, Seán"), else the last word ("Seán O'Brien"),
    with the particles written apart before it ("Seán O Brien") and without a suffix after it ("Jr").
    Accents go (Siobhán is SIOBHAN), as do hyphens, apostrophes and spaces: "O'Brien-Smith" is
    OBRIENSMITH, and "O'Brien", "O Brien" and "OBrien" are all OBRIEN. A name of one word is taken as
    the surname."""
    if name is None:
        return None
    surname, comma, _ = name.partition(",")
    words = surname.split() if comma else _surname_words(name.split())
    letters = "".join(_letters(word) for word in words)
    return letters or None


def _surname_words(words: list[str]) -> list[str]:
    while len(words) > 1 and _letters(words[-1]) in NAME_SUFFIXES:
        words = words[:-1]
    start = len(words) - 1
    while start > 1 and _letters(words[start - 1]) in SURNAME_PARTICLES:
        start -= 1
    return words[start:]


def _letters(text: str) -> str:
    """`text` in capitals without accents, keeping letters only (of any script)."""
    decomposed = unicodedata.normalize("NFKD", text)
    capitals = "".join(c for c in decomposed if not unicodedata.combining(c)).upper()
    return "".join(c for c in capitals.translate(UNDECOMPOSED_LETTERS) if c.isalpha())


def phonetic(surname: str) -> str:
    """The phonetic code of a normalised surname: its NYSIIS code, after the British spellings said
    alike (`SPOKEN_ALIKE`) are made alike. McDonald and MacDonald, Smith and Smyth, Thompson and
    Thomson, Stephenson and Stevenson, Philips and Phillips each have one code."""
    for spelling, spoken in SPOKEN_ALIKE:
        surname = spelling.sub(spoken, surname)
    return nysiis(surname)


def normalise_date_of_birth(value: str | None) -> str | None:
    """A date of birth as stored (YYYY-MM-DD), or None when it is absent or not a date."""
    if value is None or not ISO_DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        return None


def blind_keys(person: Person, key: bytes) -> tuple[BlindKey, ...]:
    """The blind index entries of a person's plaintext details under the index `key`: the NHS number
    alone; the surname with the date of birth; the surname's phonetic code with the date of birth.
    Only the bases whose details are all present and usable are given. The phonetic basis needs a
    surname in the Latin alphabet (NYSIIS's rules are for it); for any other it would repeat the
    surname under another basis."""
    if len(key) < MINIMUM_KEY_BYTES:
        raise ValueError(f"the blind index key must be at least {MINIMUM_KEY_BYTES} bytes")
    if any(is_sealed(value) for value in (person.name, person.date_of_birth, person.nhs_number)):
        raise ValueError("blind index keys are made from plaintext: this person's details are sealed")
    keys: list[BlindKey] = []
    if nhs_number := normalise_nhs_number(person.nhs_number):
        keys.append(_blind_key(MatchBasis.NHS_NUMBER, nhs_number, key))
    surname = normalise_surname(person.name)
    born = normalise_date_of_birth(person.date_of_birth)
    if surname and born:
        keys.append(_blind_key(MatchBasis.SURNAME_DOB, f"{surname}{SEPARATOR}{born}", key))
        if surname.isascii():
            keys.append(_blind_key(MatchBasis.PHONETIC_DOB, f"{phonetic(surname)}{SEPARATOR}{born}", key))
    return tuple(keys)


def _blind_key(basis: MatchBasis, value: str, key: bytes) -> BlindKey:
    # The basis is hashed too, so one value under two bases gives two unrelated digests.
    message = f"{basis}{SEPARATOR}{value}".encode()
    return BlindKey(basis, hmac.new(key, message, hashlib.sha256).hexdigest())
