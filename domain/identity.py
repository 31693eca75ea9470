"""Opaque case ids. A case's id is derived from its site and external reference with a keyed hash,
so starting the same referral twice finds the same case, while the id reveals nothing about the
person or the custody/court reference to anyone without the key."""

import hashlib
import hmac
import uuid


def case_id_for(key: bytes, site: str, external_ref: str) -> str:
    digest = hmac.new(key, f"{site}\x1f{external_ref}".encode(), hashlib.sha256).digest()
    return f"case-{uuid.UUID(bytes=digest[:16], version=4)}"


def person_id_for(key: bytes, case_id: str) -> str:
    """The opaque id of the person a case is about, whose data key seals their personal fields.

    One per episode: Pathway does not match people across episodes (a clinical record's job), so
    each episode's personal data ends with its own retention period."""
    digest = hmac.new(key, f"person\x1f{case_id}".encode(), hashlib.sha256).digest()
    return f"person-{uuid.UUID(bytes=digest[:16], version=4)}"
