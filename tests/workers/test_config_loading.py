"""Loading the site configuration (workers/settings.py): the shipped file, bank holidays added to every
site calendar, the service directory attached to the sites it covers, and invalid files refused with
a ConfigError that names the problem."""

from datetime import date, time
from pathlib import Path

import holidays
import pytest

from domain.config import PathwayConfig, ProfessionalId, Service, SiteConfig, SnomedConcept, WorkingCalendar
from domain.model import AgeBand, Setting
from domain.nhs_codes import ods_code, professional_number, sds_user_id, snomed_concept_id, verhoeff_valid
from domain.outcomes import Recipient, ServiceType
from workers.settings import SHIPPED_CONFIG, ConfigError, Settings, load_config, with_bank_holidays

YOUTH_AND_RECONNECT = (ServiceType.CAMHS, ServiceType.YOUTH_JUSTICE, ServiceType.RECONNECT)


def bank_holidays(*years: int) -> set[date]:
    return set(holidays.country_holidays("GB", subdiv="ENG", years=years))


# --- the shipped configuration ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> PathwayConfig:
    return load_config(SHIPPED_CONFIG)


def test_the_shipped_configuration_loads(shipped: PathwayConfig) -> None:
    assert SHIPPED_CONFIG.name == "pathway.toml" and SHIPPED_CONFIG.parent.name == "workers"
    assert sorted(shipped.sites) == ["demo", "north"]
    assert Settings(config_file=SHIPPED_CONFIG).pathway_config == shipped


def test_every_shipped_site_has_this_years_bank_holidays(shipped: PathwayConfig) -> None:
    this_year = date.today().year
    for site in shipped.sites.values():
        calendar = site.calendar
        assert calendar.timezone == "Europe/London"
        assert calendar.working_days == (0, 1, 2, 3, 4)
        assert calendar.bank_holidays
        assert bank_holidays(this_year) <= set(calendar.holidays), site.site_id
        assert date(this_year, 12, 25) in calendar.holidays  # Christmas Day, whatever the weekday
        # From last year to five years ahead, so a referral sent late in the year still counts right.
        assert bank_holidays(*range(this_year - 1, this_year + 6)) == set(calendar.holidays)
        assert list(calendar.holidays) == sorted(calendar.holidays)


def test_shipped_services_are_attached_to_the_sites_they_cover(shipped: PathwayConfig) -> None:
    assert len(shipped.services) == 26
    for key, site in shipped.sites.items():
        assert site.services == tuple(s for s in shipped.services if key in s.sites)
        assert all(key in s.sites for s in site.services)
    demo, north = shipped.site("demo"), shipped.site("north")
    # Each site can refer to a service of every type, from a directory of its own.
    for site in (demo, north):
        assert sorted(s.type for s in site.services) == sorted(ServiceType), site.site_id
        assert all(s.service_id.startswith(f"{site.site_id}-") and s.sites == (site.site_id,) for s in site.services)
    assert {s.type: s.service_id for s in north.services if s.type in YOUTH_AND_RECONNECT} == {
        ServiceType.CAMHS: "north-camhs",
        ServiceType.YOUTH_JUSTICE: "north-youth-justice",
        ServiceType.RECONNECT: "north-reconnect",
    }
    assert {s.type: s.service_id for s in demo.services if s.type in YOUTH_AND_RECONNECT} == {
        ServiceType.CAMHS: "demo-camhs",
        ServiceType.YOUTH_JUSTICE: "demo-youth-justice",
        ServiceType.RECONNECT: "demo-reconnect",
    }


def test_shipped_services_send_email_to_real_looking_fictional_addresses(shipped: PathwayConfig) -> None:
    mail_domains = {"demo": "services.pathway.test", "north": "services.north.pathway.test"}
    for service in shipped.services:
        assert service.delivery == "email"
        local, _, domain = service.address.partition("@")
        [site] = service.sites
        assert local and domain == mail_domains[site], service.service_id


def test_north_runs_custody_and_every_court_on_a_working_calendar(shipped: PathwayConfig) -> None:
    north = shipped.site("north")
    assert set(north.settings) >= {
        Setting.CUSTODY,
        Setting.MAGISTRATES_COURT,
        Setting.YOUTH_COURT,
        Setting.CROWN_COURT,
    }
    hours = north.operating_hours
    assert (hours.opens, hours.closes, hours.days, hours.timezone) == (
        time(8),
        time(20),
        (0, 1, 2, 3, 4, 5, 6),
        "Europe/London",
    )
    assert north.calendar.working_days == (0, 1, 2, 3, 4) and north.calendar.bank_holidays
    assert date(date.today().year, 12, 25) in north.calendar.holidays
    assert north.court_report_lead_minutes == 60


@pytest.mark.parametrize("age_band", list(AgeBand))
@pytest.mark.parametrize("setting", [s for s in Setting if s is not Setting.COMMUNITY])
def test_north_has_an_address_for_every_court_report_recipient_wherever_the_case_is_heard(
    shipped: PathwayConfig, setting: Setting, age_band: AgeBand
) -> None:
    north = shipped.site("north")
    # Everyone a court report is written for; the custody sergeant is told in custody, not by a court report.
    for recipient in (r for r in Recipient if r is not Recipient.CUSTODY_SERGEANT):
        address = north.court_report_address(setting, age_band, recipient)
        assert address is not None and address.endswith(".north.pathway.test"), (setting, age_band, recipient)


def test_north_sends_a_report_to_the_court_that_hears_the_case(shipped: PathwayConfig) -> None:
    north = shipped.site("north")
    court = Recipient.COURT
    magistrates = "listing.magistrates@northtown-court.north.pathway.test"
    youth = "listing.youth@northtown-court.north.pathway.test"
    crown = "listing@northshire-crown-court.north.pathway.test"
    assert north.court_report_address(Setting.CUSTODY, AgeBand.ADULT, court) == magistrates
    assert north.court_report_address(Setting.CUSTODY, AgeBand.CHILD, court) == youth
    assert north.court_report_address(Setting.MAGISTRATES_COURT, AgeBand.ADULT, court) == magistrates
    assert north.court_report_address(Setting.YOUTH_COURT, AgeBand.CHILD, court) == youth
    assert north.court_report_address(Setting.CROWN_COURT, AgeBand.ADULT, court) == crown
    # The Crown Court's own CPS unit; the defence and youth justice service are the same everywhere.
    assert north.court_report_address(Setting.CROWN_COURT, AgeBand.ADULT, Recipient.CPS) == (
        "crown-court-unit@cps.north.pathway.test"
    )
    assert north.court_report_address(Setting.CROWN_COURT, AgeBand.CHILD, Recipient.YOUTH_JUSTICE_SERVICE) == (
        "court-officer@yjs.north.pathway.test"
    )


# The SNOMED CT concept the shipped directory gives each service type (workers/pathway.toml cites
# where each came from); the types left out have no fitting concept there and carry none.
SHIPPED_SNOMED = {
    ServiceType.MENTAL_HEALTH: "390866009",
    ServiceType.SUBSTANCE_MISUSE: "417096006",
    ServiceType.HOUSING: "710911006",
    ServiceType.DEBT_ADVICE: "710913009",
    ServiceType.LEARNING_DISABILITY: "413127007",
    ServiceType.DOMESTIC_ABUSE_SUPPORT: "431719007",
    ServiceType.VETERANS_SUPPORT: "390866009",
    ServiceType.CAMHS: "306134009",
}


def test_every_shipped_site_names_its_provider_and_its_own_ods_code(shipped: PathwayConfig) -> None:
    for site in shipped.sites.values():
        assert site.provider_ods_code is not None and ods_code(site.provider_ods_code) == site.provider_ods_code
        assert site.provider_name and "NHS" in site.provider_name
        # The site's own code is a site of its provider: the trust's 3 characters and 2 more.
        assert site.site_ods_code is not None and len(site.site_ods_code) == 5
        assert site.site_ods_code.startswith(site.provider_ods_code), site.site_id


def test_every_shipped_service_has_an_ods_code_and_its_types_snomed_concept(shipped: PathwayConfig) -> None:
    for service in shipped.services:
        assert service.ods_code is not None and ods_code(service.ods_code) == service.ods_code
        expected = SHIPPED_SNOMED.get(service.type)
        if expected is None:
            assert service.snomed is None, service.service_id
            continue
        assert service.snomed is not None, service.service_id
        assert service.snomed.code == expected, service.service_id
        assert verhoeff_valid(service.snomed.code) and snomed_concept_id(service.snomed.code) == expected
        assert service.snomed.display.startswith("Referral to "), service.service_id
    # Both sites' directories code the same types the same way.
    by_site = {site: {s.type: s.snomed for s in shipped.services if s.sites == (site,)} for site in ("demo", "north")}
    assert by_site["demo"] == by_site["north"]


def test_shipped_staff_nhs_identities_are_of_the_right_shapes(shipped: PathwayConfig) -> None:
    coded = [member for member in shipped.staff if member.sds_user_id or member.professional_ids]
    assert coded, "the demo shows at least one member of staff with NHS identities"
    for member in coded:
        assert member.sds_user_id is None or sds_user_id(member.sds_user_id) == member.sds_user_id
        for registration in member.professional_ids:
            assert professional_number(registration.regulator, registration.number) == registration.number


def test_shipped_referral_timings(shipped: PathwayConfig) -> None:
    demo = shipped.site("demo").referral_timings
    assert (demo.chase_after, demo.escalate_after, demo.unit) == (6, 12, "minutes")  # watchable live
    north = shipped.site("north").referral_timings
    assert (north.chase_after, north.escalate_after, north.unit) == (2, 4, "working_days")


# --- files of our own ------------------------------------------------------------------------------

SITES = """
[sites.demo]
site_id = "demo"
name = "Demo"

[sites.north]
site_id = "north"
name = "North"
"""


def service_toml(
    service_id: str = "cmht",
    sites: str = '["demo"]',
    delivery: str = "email",
    address: str = "cmht@services.test",
    kind: str = "mental_health",
) -> str:
    return f"""
[[services]]
service_id = "{service_id}"
name = "Service {service_id}"
type = "{kind}"
sites = {sites}
delivery = "{delivery}"
address = "{address}"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pathway.toml"
    path.write_text(text)
    return path


def refused(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_a_minimal_file_gets_defaults_bank_holidays_and_its_services(tmp_path: Path) -> None:
    text = (
        SITES
        + service_toml("cmht", '["demo", "north"]')
        + service_toml("housing-api", '["north"]', "http", "https://housing.test/referrals", "housing")
    )

    config = load_config(write(tmp_path, text))

    assert [s.service_id for s in config.site("demo").services] == ["cmht"]
    assert [s.service_id for s in config.site("north").services] == ["cmht", "housing-api"]
    assert config.site("north").services[1].delivery == "http"
    assert date(date.today().year, 12, 25) in config.site("demo").calendar.holidays
    assert config.site("demo").referral_timings.unit == "working_days"


def test_a_site_without_services_has_none(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SITES))
    assert config.services == ()
    assert all(site.services == () for site in config.sites.values())


def test_a_calendar_of_its_own(tmp_path: Path) -> None:
    text = (
        SITES
        + """
[sites.demo.calendar]
working_days = [0, 1, 2, 3, 4, 5]
bank_holidays = false
holidays = [2026-07-13, "2026-08-03"]

[sites.north.calendar]
holidays = [2026-07-13]
"""
    )

    config = load_config(write(tmp_path, text))

    demo = config.site("demo").calendar
    assert demo.working_days == (0, 1, 2, 3, 4, 5)
    assert demo.holidays == (date(2026, 7, 13), date(2026, 8, 3))  # no bank holidays added
    north = config.site("north").calendar
    assert date(2026, 7, 13) in north.holidays  # its own day, and the bank holidays as well
    assert bank_holidays(date.today().year) <= set(north.holidays)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (SITES + service_toml(sites='["demo", "south"]'), "service cmht names unknown sites ['south']"),
        (SITES + service_toml() + service_toml(), "service ids must be unique"),
        (
            SITES + service_toml("cmht") + service_toml("cmht", '["north"]', "http", "https://x.test", "housing"),
            "service ids must be unique",
        ),
        (
            SITES + service_toml(address="cmht.services.test"),
            "service cmht: 'cmht.services.test' is not an email address",
        ),
        (SITES + service_toml(address=""), "service cmht: '' is not an email address"),
        (
            SITES + service_toml(delivery="http", address="cmht@services.test"),
            "service cmht: 'cmht@services.test' is not an http(s) URL",
        ),
        (SITES + service_toml(delivery="fax"), "services.0.delivery"),
        (SITES + service_toml(kind="astrology"), "services.0.type"),
        (SITES + service_toml(service_id="CMHT Team"), "services.0.service_id"),
        (
            SITES + service_toml(service_id="x" * 57, delivery="fhir", address="https://fhir.test/R4"),
            f"service {'x' * 57}: too long an id for a FHIR service",
        ),
    ],
    ids=[
        "unknown-site",
        "duplicate-id",
        "duplicate-id-other-type",
        "email-without-at",
        "empty-email",
        "http-not-a-url",
        "unknown-delivery",
        "unknown-type",
        "bad-service-id",
        "fhir-service-id-too-long-to-act-under",
    ],
)
def test_invalid_service_directory(tmp_path: Path, text: str, problem: str) -> None:
    message = refused(write(tmp_path, text))
    assert "is not valid" in message
    assert problem in message


@pytest.mark.parametrize(
    ("timings", "problem"),
    [
        ("chase_after = 3\nescalate_after = 3", "escalate_after must come after chase_after"),
        ("chase_after = 5\nescalate_after = 2", "escalate_after must come after chase_after"),
        ("escalate_after = 1", "escalate_after must come after chase_after"),  # chase_after defaults to 2
        ("chase_after = 0\nescalate_after = 4", "sites.demo.referral_timings.chase_after"),
        ('unit = "hours"', "sites.demo.referral_timings.unit"),
    ],
)
def test_invalid_referral_timings(tmp_path: Path, timings: str, problem: str) -> None:
    text = SITES + f"\n[sites.demo.referral_timings]\n{timings}\n"
    message = refused(write(tmp_path, text))
    assert problem in message
    assert "sites.demo.referral_timings" in message  # where the problem is


@pytest.mark.parametrize(
    ("calendar", "problem"),
    [
        ("working_days = [7]", "working_days must be weekday numbers"),
        ("working_days = []", "working_days must be weekday numbers"),
        ('holidays = ["Christmas"]', "sites.demo.calendar.holidays.0"),
        ("weekend = [5, 6]", "sites.demo.calendar.weekend"),
    ],
)
def test_invalid_calendar(tmp_path: Path, calendar: str, problem: str) -> None:
    message = refused(write(tmp_path, SITES + f"\n[sites.demo.calendar]\n{calendar}\n"))
    assert problem in message


def test_an_unknown_calendar_time_zone_is_refused(tmp_path: Path) -> None:
    message = refused(write(tmp_path, SITES + '\n[sites.demo.calendar]\ntimezone = "Mars/Olympus"\n'))
    assert "Mars/Olympus" in message


NHS_CODED_SITES = """
[sites.demo]
site_id = "demo"
name = "Demo"
provider_ods_code = "RX4"
provider_name = "A mental health trust"
site_ods_code = "RX4E2"
"""


def coded_service_toml(ods_code: str = "RX4E3", snomed_code: str = "390866009") -> str:
    snomed = f'{{ code = "{snomed_code}", display = "Referral to mental health team" }}'
    return service_toml() + f'ods_code = "{ods_code}"\nsnomed = {snomed}\n'


def test_nhs_codes_load_from_toml(tmp_path: Path) -> None:
    staff = """
[[staff]]
staff_id = "pr-1"
role = "practitioner"
sites = ["demo"]
sds_user_id = "555021935107"
sds_role_profile_id = "555021936108"
professional_ids = [{ regulator = "nmc", number = "12A3456E" }, { regulator = "swe", number = "SW12345" }]
"""
    config = load_config(write(tmp_path, NHS_CODED_SITES + coded_service_toml() + staff))

    demo = config.site("demo")
    assert (demo.provider_ods_code, demo.provider_name, demo.site_ods_code) == ("RX4", "A mental health trust", "RX4E2")
    [service] = demo.services
    assert service.ods_code == "RX4E3"
    assert service.snomed == SnomedConcept(code="390866009", display="Referral to mental health team")
    [member] = config.staff
    assert (member.sds_user_id, member.sds_role_profile_id) == ("555021935107", "555021936108")
    assert member.professional_ids == (
        ProfessionalId(regulator="nmc", number="12A3456E"),
        ProfessionalId(regulator="swe", number="SW12345"),
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            NHS_CODED_SITES + coded_service_toml(snomed_code="390866008"),
            "services.0.snomed.code: '390866008' is not a SNOMED CT concept id: "
            "its check digit (the last digit) is wrong",
        ),
        (
            NHS_CODED_SITES + coded_service_toml(ods_code="RX4 E3"),
            "services.0.ods_code: 'RX4 E3' is not an ODS code: it must be 3 to 9 upper-case letters and digits",
        ),
        (
            NHS_CODED_SITES.replace('"RX4E2"', '"rx4e2"'),
            "sites.demo.site_ods_code: 'rx4e2' is not an ODS code",
        ),
        (
            NHS_CODED_SITES.replace('"RX4"', '"R4"'),
            "sites.demo.provider_ods_code: 'R4' is not an ODS code",
        ),
        (
            NHS_CODED_SITES + service_toml() + 'snomed = { code = "390866009", display = "" }\n',
            "services.0.snomed.display: String should have at least 1 character",
        ),
        (
            NHS_CODED_SITES
            + '[[staff]]\nstaff_id = "pr-1"\nrole = "practitioner"\nsites = ["demo"]\nsds_user_id = "12345"\n',
            "staff.0.sds_user_id: '12345' is not an SDS user id: it must be 12 digits",
        ),
        (
            NHS_CODED_SITES
            + '[[staff]]\nstaff_id = "pr-1"\nrole = "practitioner"\nsites = ["demo"]\n'
            + 'professional_ids = [{ regulator = "gmc", number = "123456" }]\n',
            "staff.0.professional_ids.0.number: '123456' is not a GMC number: it must be 7 digits",
        ),
    ],
    ids=[
        "snomed-check-digit",
        "ods-shape",
        "site-ods-lower-case",
        "provider-ods-too-short",
        "empty-display",
        "sds-user-id",
        "gmc-number",
    ],
)
def test_a_bad_nhs_code_is_refused_naming_the_field_and_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    message = refused(path)
    # The one problem, where it is first: "services.0.snomed.code: ... is wrong".
    assert message.startswith(f"configuration {path} is not valid: {problem}")
    assert ";" not in message
    assert "errors.pydantic.dev" not in message and "type=" not in message  # plain words only


def test_a_missing_file(tmp_path: Path) -> None:
    message = refused(tmp_path / "nowhere.toml")
    assert message.startswith(f"cannot read configuration {tmp_path / 'nowhere.toml'}: ")


def test_a_file_that_is_not_toml(tmp_path: Path) -> None:
    message = refused(write(tmp_path, "[sites.demo\nname = 'x'\n"))
    assert "is not valid TOML" in message


# --- with_bank_holidays ----------------------------------------------------------------------------


def small_config(calendar: WorkingCalendar | None = None) -> PathwayConfig:
    return PathwayConfig(
        sites={"demo": SiteConfig(site_id="demo", name="Demo", calendar=calendar or WorkingCalendar())},
        services=(
            Service(
                service_id="cmht",
                name="CMHT",
                type=ServiceType.MENTAL_HEALTH,
                sites=("demo",),
                delivery="email",
                address="cmht@services.test",
            ),
        ),
    )


def test_bank_holidays_from_last_year_to_five_years_ahead() -> None:
    config = with_bank_holidays(small_config(), today=date(2026, 6, 1))

    days = config.site("demo").calendar.holidays
    assert set(days) == bank_holidays(*range(2025, 2032))
    assert {d.year for d in days} == set(range(2025, 2032))
    assert {date(2026, 4, 3), date(2026, 4, 6), date(2026, 12, 25), date(2026, 12, 28)} <= set(days)


def test_own_holidays_are_kept_merged_and_sorted() -> None:
    own = (date(2026, 12, 25), date(2026, 7, 13), date(2020, 1, 2))
    config = with_bank_holidays(small_config(WorkingCalendar(holidays=own)), today=date(2026, 6, 1))

    days = config.site("demo").calendar.holidays
    assert list(days) == sorted(set(days))
    assert set(days) == bank_holidays(*range(2025, 2032)) | set(own)


def test_a_calendar_without_bank_holidays_is_left_alone() -> None:
    calendar = WorkingCalendar(holidays=(date(2026, 7, 13),), bank_holidays=False)
    config = with_bank_holidays(small_config(calendar), today=date(2026, 6, 1))
    assert config.site("demo").calendar == calendar


def test_adding_bank_holidays_changes_nothing_else() -> None:
    before = small_config()
    after = with_bank_holidays(before, today=date(2026, 6, 1))

    assert after.site("demo").services == before.site("demo").services
    assert after.site("demo").model_copy(update={"calendar": WorkingCalendar()}) == before.site("demo")
    assert after.services == before.services and after.staff == before.staff
    assert before.site("demo").calendar.holidays == ()  # the original is not changed


def test_adding_bank_holidays_twice_is_the_same_as_once() -> None:
    once = with_bank_holidays(small_config(), today=date(2026, 6, 1))
    assert with_bank_holidays(once, today=date(2026, 6, 1)) == once
