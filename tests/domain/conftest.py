from datetime import time

import pytest

from domain.config import OperatingHours, SiteConfig
from domain.tasks import TaskKind
from tests.domain.support import (
    Case,
    consent_given,
    make_site,
    open_case,
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
