"""F16 of issue 17: make the record lie about a person's age or about when they were identified.

- Claim an age as verified with no date of birth (so a child's case reads as checked, or a child is
  put on the adult pathway unchallenged): the API takes no such field; the service decides it from the
  date of birth whatever a caller sets; the workflow itself refuses a verified age without a date of
  birth, so sending the Update past the service (with Temporal access) fails too.
- Put the identification time in the future, so the SLA counts from later and a late screening looks
  on time: refused by the workflow, whoever sends it. Nothing of either is recorded."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from domain.commands import OpenCase
from domain.errors import Rule, RuleViolation
from domain.identity import case_id_for
from domain.model import AgeBand, ReferralSource, Role, Setting
from service.staff import StaffCommands
from tests.api.conftest import token
from tests.workflows.journey import PRACTITIONER as PRACTITIONER_ACTOR
from workflows.ui_text import PublicText

PRACTITIONER = token("pr-001", Role.PRACTITIONER)


def opening(**changes: object) -> OpenCase:
    command = OpenCase(
        actor=PRACTITIONER_ACTOR,
        site="demo",
        setting=Setting.CUSTODY,
        source=ReferralSource.CUSTODY_STAFF,
        external_ref=f"CUST/F16-{uuid.uuid4().hex[:6]}",
        age_band=AgeBand.ADULT,
    )
    return command.model_copy(update=changes)


async def test_an_age_claimed_as_verified_is_never_recorded_so(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    body = {
        "site": "demo",
        "setting": "custody",
        "source": "custody_staff",
        "external_ref": f"CUST/F16-{uuid.uuid4().hex[:6]}",
        "age_band": "adult",
        "age_verified": True,
    }
    before = len(await cases.store.list_cases())
    response = await api.post("/api/cases", json=body, headers=PRACTITIONER)
    assert response.status_code == 422 and "age_verified" in response.json()["fields"]
    assert len(await cases.store.list_cases()) == before

    through_the_service = await cases.start_case(opening(age_verified=True))
    assert through_the_service.age_verified is False

    forged = opening(age_verified=True)
    await past_the_service(cases, forged, Rule.INVALID_COMMAND)


async def test_an_identification_in_the_future_is_refused_whoever_sends_it(cases: StaffCommands) -> None:
    later = opening(identified_at=datetime.now(UTC) + timedelta(hours=6))
    with pytest.raises(RuleViolation) as refused:
        await cases.start_case(later)
    assert refused.value.rule is Rule.IDENTIFIED_IN_FUTURE
    await past_the_service(
        cases, opening(identified_at=datetime.now(UTC) + timedelta(hours=6)), Rule.IDENTIFIED_IN_FUTURE
    )


async def past_the_service(cases: StaffCommands, command: OpenCase, rule: Rule) -> None:
    """The command sent straight to the workflow (as someone with Temporal access could), unchecked by
    the service: refused by the workflow's own rules, and nothing recorded."""
    case_id = case_id_for(cases.service.case_id_key, command.site, command.external_ref)
    gateway = cases.service.gateway
    with pytest.raises(RuleViolation) as refused:
        await gateway.start(case_id, cases.config.site("demo"), command, PublicText("L&D case"), PublicText("forged"))
    assert refused.value.rule is rule
    assert await cases.store.read_stream(case_id) == []
