"""Age as the law and the service specification set it.

No one under 10 can be arrested or charged in England and Wales (the age of criminal responsibility,
Children and Young Persons Act 1933, s.50), and L&D works with people aged 10 and over: 10 to 17 on
the youth pathway, 18 and over on the adult one. The band is judged on the day the person was
identified, so a child who turns 18 during an episode stays on the youth pathway until it ends.

The date of birth is personal data, so these rules run where it is still plaintext (the service,
through domain/plaintext.py); the workflow only ever sees the band they derived.
"""

from datetime import date

from domain.config import ADULTHOOD
from domain.decisions import require
from domain.errors import Rule
from domain.model import AgeBand

CRIMINAL_RESPONSIBILITY = 10


def age_on(born: date, day: date) -> int:
    """Whole years from `born` to `day` (a birthday on 29 February comes on 1 March in other years)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def band_at_identification(born: date, identified_on: date, stated: AgeBand | None) -> AgeBand:
    """The age band a date of birth gives on the day of identification. Refused: a person under 10,
    and a stated band the date of birth contradicts."""
    require(
        born <= identified_on,
        Rule.BORN_AFTER_IDENTIFICATION,
        f"the date of birth ({born.isoformat()}) is after the person was identified ({identified_on.isoformat()})",
    )
    age = age_on(born, identified_on)
    require(
        age >= CRIMINAL_RESPONSIBILITY,
        Rule.UNDER_CRIMINAL_RESPONSIBILITY,
        f"the person was {age} when identified: no one under {CRIMINAL_RESPONSIBILITY} can be arrested or "
        f"charged in England and Wales, and L&D works with people aged {CRIMINAL_RESPONSIBILITY} and over "
        "(a younger child at risk is for children's social care)",
    )
    band = AgeBand.CHILD if age < ADULTHOOD else AgeBand.ADULT
    require(
        stated is None or stated is band,
        Rule.AGE_BAND_CONTRADICTS_BIRTH_DATE,
        f"the date of birth makes the person {age} when identified, so the case is {_words(band)}, "
        f"not {_words(stated)}: leave the age band out and it is worked out from the date of birth",
    )
    return band


def _words(band: AgeBand | None) -> str:
    return "a child's (10-17)" if band is AgeBand.CHILD else "an adult's (18 and over)"
