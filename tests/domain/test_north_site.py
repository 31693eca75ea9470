"""The shipped `north` site runs the whole journey through the pathway rules: every referral type a
person of each age band can be referred to, and court reports to the court that hears the case."""

from datetime import timedelta

import pytest
from pydantic import ValidationError

from domain.commands import RequestCourtReport
from domain.config import COURTS, SiteConfig, hearing_court
from domain.events import ReferralMade
from domain.model import AgeBand, Setting, Stage
from domain.outcomes import ConsentScope, CourtReportPurpose, Recipient, ServiceType
from domain.services import NOT_CHOSEN_BY_HAND, suits
from domain.tasks import TaskKind
from tests.domain.support import (
    NOW,
    PRACTITIONER,
    Case,
    consent_given,
    open_case,
    referral_decision,
    refused,
    screening,
    share,
)
from workers.settings import SHIPPED_CONFIG, load_config

NORTH: SiteConfig = load_config(SHIPPED_CONFIG).site("north")
ALL_SHARING = (
    ConsentScope.ASSESSMENT,
    ConsentScope.SHARE_COURT,
    ConsentScope.SHARE_DEFENCE,
    ConsentScope.SHARE_PROBATION,
    ConsentScope.SHARE_CPS,
    ConsentScope.SHARE_YOUTH_JUSTICE,
    ConsentScope.SHARE_POLICE,
)


def north_case(setting: Setting, age_band: AgeBand) -> Case:
    case = Case(NORTH)
    case.send(open_case(setting=setting, age_band=age_band, site="north"))
    guardian = True if age_band is AgeBand.CHILD else None
    case.complete(TaskKind.CONSENT, consent_given(*ALL_SHARING, guardian=guardian))
    return case


def instrument(age_band: AgeBand) -> tuple[str, str]:
    return ("chat-screen", "4") if age_band is AgeBand.CHILD else ("ld-screen", "2019")


@pytest.mark.parametrize("age_band", list(AgeBand))
def test_every_referral_type_for_the_age_band_goes_to_a_north_service(age_band: AgeBand) -> None:
    chosen = [s for s in ServiceType if suits(s, age_band) and s not in NOT_CHOSEN_BY_HAND]
    case = north_case(Setting.CUSTODY if age_band is AgeBand.ADULT else Setting.YOUTH_COURT, age_band)
    case.complete(TaskKind.SCREENING, screening(assessment_needed=False, instrument=instrument(age_band)))
    case.complete(TaskKind.SHARE_INFORMATION, share())
    events = case.complete(TaskKind.REFERRAL_DECISION, referral_decision(*chosen))
    made = {e.request.service: e.request.service_id for e in events if isinstance(e, ReferralMade)}
    assert list(made) == chosen
    assert all(service_id and service_id.startswith("north-") for service_id in made.values())
    if age_band is AgeBand.CHILD:
        assert made[ServiceType.CAMHS] == "north-camhs" and made[ServiceType.YOUTH_JUSTICE] == "north-youth-justice"
    assert case.stage() is Stage.REFERRAL  # the closure task is open next


@pytest.mark.parametrize(
    ("setting", "age_band", "recipients"),
    [
        (Setting.CUSTODY, AgeBand.ADULT, (Recipient.COURT, Recipient.DEFENCE, Recipient.CPS)),
        (Setting.MAGISTRATES_COURT, AgeBand.ADULT, (Recipient.COURT, Recipient.PROBATION)),
        (Setting.CROWN_COURT, AgeBand.ADULT, (Recipient.COURT, Recipient.PROBATION, Recipient.CPS)),
        (Setting.YOUTH_COURT, AgeBand.CHILD, (Recipient.COURT, Recipient.YOUTH_JUSTICE_SERVICE)),
        (Setting.CUSTODY, AgeBand.CHILD, (Recipient.COURT, Recipient.YOUTH_JUSTICE_SERVICE, Recipient.DEFENCE)),
    ],
)
def test_a_court_report_can_be_asked_for_in_every_north_setting(
    setting: Setting, age_band: AgeBand, recipients: tuple[Recipient, ...]
) -> None:
    case = north_case(setting, age_band)
    ask = RequestCourtReport(
        actor=PRACTITIONER,
        purpose=CourtReportPurpose.BAIL_OR_REMAND,
        hearing_at=NOW + timedelta(days=1),
        recipients=recipients,
    )
    case.send(ask)
    [report] = case.state.court_reports
    assert report.recipients == recipients
    assert report.due_at == ask.hearing_at - timedelta(minutes=60)


def test_the_court_that_hears_a_case() -> None:
    for court in COURTS:
        assert hearing_court(court, AgeBand.ADULT) is court and hearing_court(court, AgeBand.CHILD) is court
    for elsewhere in (Setting.CUSTODY, Setting.VOLUNTARY_ATTENDANCE, Setting.COMMUNITY):
        assert hearing_court(elsewhere, AgeBand.CHILD) is Setting.YOUTH_COURT
        assert hearing_court(elsewhere, AgeBand.ADULT) is Setting.MAGISTRATES_COURT
        assert hearing_court(elsewhere, None) is Setting.MAGISTRATES_COURT


def test_per_court_addresses_override_the_site_wide_ones_only_for_that_court() -> None:
    site = SiteConfig(
        site_id="two-courts",
        name="Two courts",
        court_report_addresses={Recipient.COURT: "mags@court.test", Recipient.DEFENCE: "duty@defence.test"},
        court_report_addresses_by_court={Setting.CROWN_COURT: {Recipient.COURT: "crown@court.test"}},
    )
    assert site.court_report_address(Setting.CROWN_COURT, AgeBand.ADULT, Recipient.COURT) == "crown@court.test"
    assert site.court_report_address(Setting.CROWN_COURT, AgeBand.ADULT, Recipient.DEFENCE) == "duty@defence.test"
    assert site.court_report_address(Setting.CUSTODY, AgeBand.ADULT, Recipient.COURT) == "mags@court.test"
    assert site.court_report_address(Setting.CUSTODY, AgeBand.ADULT, Recipient.CPS) is None


def test_per_court_addresses_must_name_a_court() -> None:
    with pytest.raises(ValidationError, match="not a court: custody"):
        SiteConfig(
            site_id="wrong",
            name="Wrong",
            court_report_addresses_by_court={Setting.CUSTODY: {Recipient.COURT: "c@court.test"}},
        )


def test_a_request_to_a_recipient_without_an_address_anywhere_is_still_refused() -> None:
    case = north_case(Setting.CUSTODY, AgeBand.ADULT)
    ask = RequestCourtReport(
        actor=PRACTITIONER,
        purpose=CourtReportPurpose.BAIL_OR_REMAND,
        hearing_at=NOW + timedelta(days=1),
        recipients=(Recipient.CUSTODY_SERGEANT,),
    )
    assert "custody_sergeant" in refused(case, ask, "recipient_without_address").message
