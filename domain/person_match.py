"""Matching a new episode's person to people seen before, without keeping anything that reads back to
them: the blind index. Each way of matching (`MatchBasis`) is a keyed hash (HMAC-SHA256 under an index
key, which is not a data key) of a normalised form of the person's details; the index stores only
those digests. An NHS number match is exact and links at once; the others only suggest candidates
for a practitioner to confirm or reject."""

from enum import StrEnum


class MatchBasis(StrEnum):
    NHS_NUMBER = "nhs_number"  # exact: links the episode to the person at once
    SURNAME_DOB = "surname_dob"  # a candidate: a practitioner confirms or rejects
    PHONETIC_DOB = "phonetic_dob"  # a candidate: a practitioner confirms or rejects


AUTOMATIC = frozenset({MatchBasis.NHS_NUMBER})
