"""Site and contract configuration: what is accepted, and what is refused with a useful message."""

from datetime import time
from typing import Any

import pytest
from pydantic import ValidationError

from domain.config import (
    DEFAULT_SCREENING_SLA_MINUTES,
    DEFAULT_TASK_SLA_MINUTES,
    Instrument,
    OperatingHours,
    PathwayConfig,
    ProfessionalId,
    Service,
    SiteConfig,
    SnomedConcept,
    StaffMember,
)
from domain.errors import RuleViolation
from domain.model import AgeBand, Role, Setting
from domain.tasks import TaskKind


def errors_of(caught: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    """(location, message) of every problem pydantic found."""
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


# --- operating hours -------------------------------------------------------------------------------------


def test_default_hours_are_around_the_clock_in_london() -> None:
    hours = OperatingHours()
    assert hours.timezone == "Europe/London"
    assert hours.always_open
    assert hours.days == (0, 1, 2, 3, 4, 5, 6)


def test_office_hours_from_toml_like_input() -> None:
    hours = OperatingHours.model_validate({"days": [4, 0, 2, 0], "opens": "09:00", "closes": "17:30"})
    assert hours.days == (0, 2, 4)  # sorted, duplicates dropped
    assert hours.opens == time(9)
    assert hours.closes == time(17, 30)
    assert not hours.always_open


def test_unknown_time_zone() -> None:
    with pytest.raises(ValidationError) as caught:
        OperatingHours(timezone="Mars/Olympus_Mons")
    [(where, message)] = errors_of(caught)
    assert where == "timezone"
    assert "unknown time zone 'Mars/Olympus_Mons'" in message


@pytest.mark.parametrize("days", [(), (7,), (0, -1), (1, 2, 9)])
def test_days_must_be_weekday_numbers(days: tuple[int, ...]) -> None:
    with pytest.raises(ValidationError) as caught:
        OperatingHours(days=days)
    [(where, message)] = errors_of(caught)
    assert where == "days"
    assert "days must be weekday numbers 0 (Monday) to 6" in message


@pytest.mark.parametrize("given", [{"opens": "09:00"}, {"closes": "17:00"}])
def test_opens_and_closes_come_together(given: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="give both opens and closes, or neither for 24 hours"):
        OperatingHours.model_validate(given)


@pytest.mark.parametrize(("opens", "closes"), [("17:00", "09:00"), ("09:00", "09:00"), ("22:00", "06:00")])
def test_opening_must_come_before_closing(opens: str, closes: str) -> None:
    with pytest.raises(ValidationError, match="opens must be before closes"):
        OperatingHours.model_validate({"opens": opens, "closes": closes})


def test_bad_time_of_day_names_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        OperatingHours.model_validate({"opens": "nine", "closes": "17:00"})
    assert [where for where, _ in errors_of(caught)] == ["opens"]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        OperatingHours.model_validate({"timezone": "Europe/London", "open_on_bank_holidays": True})
    assert errors_of(caught) == [("open_on_bank_holidays", "Extra inputs are not permitted")]


def test_hours_are_immutable() -> None:
    hours = OperatingHours()
    with pytest.raises(ValidationError):
        hours.timezone = "UTC"  # type: ignore[misc]


# --- a site ----------------------------------------------------------------------------------------------


def test_site_defaults() -> None:
    site = SiteConfig(site_id="demo", name="Demo")
    assert site.settings == tuple(Setting)
    assert site.screening_sla_minutes == DEFAULT_SCREENING_SLA_MINUTES
    assert site.task_sla_minutes == DEFAULT_TASK_SLA_MINUTES
    assert site.follow_up_offsets_days == (14, 42)
    assert site.screening_instruments == ()
    # The defaults are copies: changing one site's SLA table cannot leak into another's.
    assert site.screening_sla_minutes is not DEFAULT_SCREENING_SLA_MINUTES


def test_sla_minutes_per_task_kind_and_setting() -> None:
    site = SiteConfig(
        site_id="north",
        name="North",
        screening_sla_minutes={**DEFAULT_SCREENING_SLA_MINUTES, Setting.CUSTODY: 90},
        task_sla_minutes={TaskKind.ASSESSMENT: 600},
    )
    assert site.sla_minutes(TaskKind.CONSENT, Setting.CUSTODY) == 90
    assert site.sla_minutes(TaskKind.SCREENING, Setting.CUSTODY) == 90
    assert site.sla_minutes(TaskKind.SCREENING, Setting.CROWN_COURT) == 180
    assert site.sla_minutes(TaskKind.ASSESSMENT, Setting.CUSTODY) == 600
    # Kinds the site does not configure fall back to the defaults.
    assert site.sla_minutes(TaskKind.CLOSURE, Setting.CUSTODY) == DEFAULT_TASK_SLA_MINUTES[TaskKind.CLOSURE]


@pytest.mark.parametrize("site_id", ["", "Demo", "demo site", "-demo", "x" * 41])
def test_site_id_must_be_a_short_lower_case_slug(site_id: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SiteConfig(site_id=site_id, name="Demo")
    [(where, message)] = errors_of(caught)
    assert where == "site_id"
    assert "String should match pattern" in message


@pytest.mark.parametrize("minutes", [0, -5])
def test_every_sla_must_be_positive(minutes: int) -> None:
    with pytest.raises(ValidationError) as caught:
        SiteConfig(site_id="demo", name="Demo", task_sla_minutes={TaskKind.ASSESSMENT: minutes})
    [(where, message)] = errors_of(caught)
    assert where == "task_sla_minutes"
    assert "every SLA must be a positive number of minutes" in message

    with pytest.raises(ValidationError, match="every SLA must be a positive number of minutes"):
        SiteConfig(
            site_id="demo",
            name="Demo",
            screening_sla_minutes={**DEFAULT_SCREENING_SLA_MINUTES, Setting.CUSTODY: minutes},
        )


def test_every_served_setting_needs_a_screening_sla() -> None:
    with pytest.raises(ValidationError) as caught:
        SiteConfig(
            site_id="demo",
            name="Demo",
            settings=(Setting.CUSTODY, Setting.COMMUNITY, Setting.YOUTH_COURT),
            screening_sla_minutes={Setting.CUSTODY: 120},
        )
    assert "no screening SLA for settings: community, youth_court" in str(caught.value)
    # Serving only the configured settings is fine.
    site = SiteConfig(
        site_id="demo", name="Demo", settings=(Setting.CUSTODY,), screening_sla_minutes={Setting.CUSTODY: 120}
    )
    assert site.sla_minutes(TaskKind.CONSENT, Setting.CUSTODY) == 120


def test_unknown_setting_or_task_kind_names_the_key() -> None:
    with pytest.raises(ValidationError) as caught:
        SiteConfig.model_validate({"site_id": "demo", "name": "Demo", "task_sla_minutes": {"court_reprot": 60}})
    [(where, message)] = errors_of(caught)
    assert where == "task_sla_minutes.court_reprot.[key]"
    assert "Input should be" in message


def test_bad_nested_operating_hours_name_their_path() -> None:
    with pytest.raises(ValidationError) as caught:
        SiteConfig.model_validate({"site_id": "demo", "name": "Demo", "operating_hours": {"timezone": "Europe/Lndon"}})
    [(where, message)] = errors_of(caught)
    assert where == "operating_hours.timezone"
    assert "Europe/Lndon" in message


def test_instruments() -> None:
    chat = Instrument(id="chat", version="4", age_bands=(AgeBand.CHILD,))
    assert Instrument(id="ld-screen", version="2").age_bands == (AgeBand.ADULT, AgeBand.CHILD)
    site = SiteConfig(site_id="demo", name="Demo", assessment_instruments=(chat,))
    assert site.assessment_instruments == (chat,)
    with pytest.raises(ValidationError) as caught:
        Instrument(id="", version="4")
    assert [where for where, _ in errors_of(caught)] == ["id"]
    with pytest.raises(ValidationError) as caught:
        Instrument.model_validate({"id": "chat", "version": "4", "age_bands": ["toddler"]})
    assert [where for where, _ in errors_of(caught)] == ["age_bands.0"]


# --- the whole configuration -----------------------------------------------------------------------------


def pathway(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "sites": {
            "demo": {"site_id": "demo", "name": "Demo"},
            "north": {
                "site_id": "north",
                "name": "North",
                "operating_hours": {"days": [0, 1, 2, 3, 4], "opens": "09:00", "closes": "17:00"},
            },
        },
        "staff": [
            {"staff_id": "prac-1", "role": "practitioner", "sites": ["demo", "north"]},
            {"staff_id": "lead-1", "role": "team_lead", "sites": ["north"]},
        ],
    }
    raw.update(overrides)
    return raw


def test_pathway_config_from_toml_like_input() -> None:
    config = PathwayConfig.model_validate(pathway())
    assert config.site("north").operating_hours.opens == time(9)
    assert config.site("demo").operating_hours.always_open
    assert config.staff_member("lead-1") == StaffMember(staff_id="lead-1", role=Role.TEAM_LEAD, sites=("north",))


def test_site_key_must_match_its_id() -> None:
    raw = pathway(sites={"south": {"site_id": "north", "name": "North"}}, staff=[])
    with pytest.raises(ValidationError) as caught:
        PathwayConfig.model_validate(raw)
    assert "site 'south' has site_id 'north'" in str(caught.value)


def test_staff_must_work_at_known_sites() -> None:
    raw = pathway(staff=[{"staff_id": "prac-9", "role": "practitioner", "sites": ["demo", "atlantis"]}])
    with pytest.raises(ValidationError) as caught:
        PathwayConfig.model_validate(raw)
    assert "staff prac-9 names unknown sites ['atlantis']" in str(caught.value)


def test_bad_staff_entries_name_the_field() -> None:
    raw = pathway(staff=[{"staff_id": "Jane Smith", "role": "wizard", "sites": ["demo"]}])
    with pytest.raises(ValidationError) as caught:
        PathwayConfig.model_validate(raw)
    assert sorted(where for where, _ in errors_of(caught)) == ["staff.0.role", "staff.0.staff_id"]


def test_bad_site_inside_the_pathway_names_its_path() -> None:
    raw = pathway()
    raw["sites"]["north"]["operating_hours"]["closes"] = "08:00"
    with pytest.raises(ValidationError) as caught:
        PathwayConfig.model_validate(raw)
    [(where, message)] = errors_of(caught)
    assert where == "sites.north.operating_hours"
    assert "opens must be before closes" in message


def test_unknown_site_and_staff_are_rule_violations() -> None:
    config = PathwayConfig.model_validate(pathway())
    with pytest.raises(RuleViolation) as site_error:
        config.site("south")
    assert site_error.value.rule == "unknown_site"
    assert "known: demo, north" in site_error.value.message
    with pytest.raises(RuleViolation) as staff_error:
        config.staff_member("nobody")
    assert staff_error.value.rule == "unknown_staff"
    assert "'nobody'" in staff_error.value.message


# --- NHS codes: organisations, SNOMED CT concepts, staff identities --------------------------------------


def test_nhs_codes_are_optional_so_a_site_config_from_before_them_still_loads() -> None:
    # A case carries its site's config in its workflow input: an input recorded before these fields
    # existed has none of them.
    site = SiteConfig.model_validate({"site_id": "demo", "name": "Demo"})
    assert (site.provider_ods_code, site.provider_name, site.site_ods_code) == (None, None, None)
    member = StaffMember(staff_id="prac-1", role=Role.PRACTITIONER, sites=("demo",))
    assert (member.sds_user_id, member.sds_role_profile_id, member.professional_ids) == (None, None, ())
    service = Service.model_validate(SERVICE)
    assert (service.ods_code, service.snomed) == (None, None)


def test_a_site_with_its_providers_and_its_own_ods_codes() -> None:
    site = SiteConfig(
        site_id="north", name="North", provider_ods_code="RX4", provider_name="A trust", site_ods_code="RX4E2"
    )
    assert SiteConfig.model_validate(site.model_dump()) == site  # survives a workflow input's round trip


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("provider_ods_code", "RX", "'RX' is not an ODS code"),
        ("site_ods_code", "rx4e2", "'rx4e2' is not an ODS code"),
        ("provider_name", "", "at least 1 character"),
    ],
)
def test_a_bad_site_code_names_its_field(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SiteConfig.model_validate({"site_id": "demo", "name": "Demo", field: value})
    [(where, why)] = errors_of(caught)
    assert where == field
    assert message in why


SERVICE: dict[str, Any] = {
    "service_id": "cmht",
    "name": "CMHT",
    "type": "mental_health",
    "sites": ["demo"],
    "delivery": "email",
    "address": "cmht@services.test",
}


def test_a_service_with_its_ods_code_and_snomed_concept() -> None:
    service = Service.model_validate(
        SERVICE | {"ods_code": "RX4E3", "snomed": {"code": "390866009", "display": "Referral to mental health team"}}
    )
    assert service.ods_code == "RX4E3"
    assert service.snomed == SnomedConcept(code="390866009", display="Referral to mental health team")


@pytest.mark.parametrize(
    ("snomed", "where", "message"),
    [
        ({"code": "390866008", "display": "x"}, "snomed.code", "its check digit (the last digit) is wrong"),
        ({"code": "488713015", "display": "x"}, "snomed.code", "partition identifier"),
        ({"code": "390866009", "display": "  "}, "snomed.display", "at least 1 character"),
        ({"code": "390866009"}, "snomed.display", "Field required"),
        ({"code": 390866009, "display": "x"}, "snomed.code", "Input should be a valid string"),
    ],
)
def test_a_bad_snomed_concept_names_its_field(snomed: dict[str, Any], where: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Service.model_validate(SERVICE | {"snomed": snomed})
    [(location, why)] = errors_of(caught)
    assert location == where
    assert message in why


def test_staff_with_sds_ids_and_registrations() -> None:
    member = StaffMember.model_validate(
        {
            "staff_id": "prac-1",
            "role": "practitioner",
            "sites": ["demo"],
            "sds_user_id": "555021935107",
            "sds_role_profile_id": "555021936108",
            "professional_ids": [
                {"regulator": "hcpc", "number": "PYL12345"},
                {"regulator": "gmc", "number": "1234567"},
            ],
        }
    )
    assert member.professional_ids == (
        ProfessionalId(regulator="hcpc", number="PYL12345"),
        ProfessionalId(regulator="gmc", number="1234567"),
    )
    assert member.professional_ids[0].regulator == "hcpc"


@pytest.mark.parametrize(
    ("registration", "where", "message"),
    [
        ({"regulator": "nmc", "number": "1234567"}, "number", "'1234567' is not a NMC number"),
        ({"regulator": "swe", "number": "PA12345"}, "number", "'PA12345' is not a Social Work England number"),
        ({"regulator": "bma", "number": "1234567"}, "regulator", "'gmc', 'nmc', 'hcpc', 'swe' or 'gphc'"),
        ({"regulator": "gmc"}, "number", "Field required"),
    ],
)
def test_a_bad_registration_names_its_field(registration: dict[str, Any], where: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ProfessionalId.model_validate(registration)
    [(location, why)] = errors_of(caught)
    assert location == where
    assert message in why


def test_bad_sds_ids_name_their_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        StaffMember.model_validate(
            {"staff_id": "p", "role": "practitioner", "sites": [], "sds_user_id": "1", "sds_role_profile_id": "2"}
        )
    assert errors_of(caught) == [
        ("sds_user_id", "Value error, '1' is not an SDS user id: it must be 12 digits"),
        ("sds_role_profile_id", "Value error, '2' is not an SDS role profile id: it must be 12 digits"),
    ]
