from datetime import time

import pytest

from domain.config import Instrument, OperatingHours, SiteConfig
from domain.model import AgeBand, Setting
from domain.tasks import TaskKind
from tests.domain.support import (
    ADULT_ASSESSMENT,
    CHILD_ASSESSMENT,
    SCREENING_INSTRUMENT,
    SITE_ID,
    Case,
    consent_given,
    open_case,
)


def make_site(operating_hours: OperatingHours | None = None) -> SiteConfig:
    """The test site: every setting but community, default SLAs, one screening and two assessment instruments."""
    return SiteConfig(
        site_id=SITE_ID,
        name="Demo liaison and diversion service",
        settings=tuple(s for s in Setting if s is not Setting.COMMUNITY),
        operating_hours=operating_hours or OperatingHours(),
        screening_instruments=(Instrument(id=SCREENING_INSTRUMENT[0], version=SCREENING_INSTRUMENT[1]),),
        assessment_instruments=(
            Instrument(id=ADULT_ASSESSMENT[0], version=ADULT_ASSESSMENT[1], age_bands=(AgeBand.ADULT,)),
            Instrument(id=CHILD_ASSESSMENT[0], version=CHILD_ASSESSMENT[1], age_bands=(AgeBand.CHILD,)),
        ),
    )


@pytest.fixture
def site() -> SiteConfig:
    """Staffed around the clock, so due times are plain arithmetic."""
    return make_site()


@pytest.fixture
def office_site() -> SiteConfig:
    """Staffed 09:00-17:00 London time, Monday to Friday."""
    return make_site(OperatingHours(timezone="Europe/London", days=(0, 1, 2, 3, 4), opens=time(9), closes=time(17)))


@pytest.fixture
def case(site: SiteConfig) -> Case:
    """A case that has not been opened yet."""
    return Case(site)


@pytest.fixture
def opened(case: Case) -> Case:
    """An adult custody case waiting for consent."""
    case.send(open_case())
    return case


@pytest.fixture
def consented(opened: Case) -> Case:
    """Consent given for assessment and sharing with police and court; screening is open."""
    opened.complete(TaskKind.CONSENT, consent_given())
    return opened
