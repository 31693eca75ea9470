"""The monthly data return (domain/data_return.py): rows computed by hand for a case driven through
the domain with controlled times, no personal value in any row, the month rules, and the docs."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import JsonValue

from domain.commands import ClaimTask, Command, CompleteTask, LinkPerson, MarkOverdue, OpenCase, UnlinkPerson
from domain.data_return import (
    EPISODE_FIELDS,
    REFERRAL_FIELDS,
    Episode,
    Month,
    episode_pseudonym,
    episodes_for,
    markdown_tables,
    months_between,
    person_pseudonym,
    pseudonym_key,
    referrals_for,
    rows,
    to_csv,
)
from domain.decisions import DecisionContext
from domain.events import EventEnvelope
from domain.model import SYSTEM_ACTOR, Actor, AgeBand, Cohort, Person, ReferralSource, Setting
from domain.outcomes import RiskLevel, ScreeningOutcome, Urgency, VulnerabilityDomain
from domain.rules import decide
from domain.state import CaseState, empty_state
from domain.stream import apply_all, envelop
from domain.tasks import TaskKind
from tests.store.support import (
    ASSESSMENT,
    CLOSURE,
    CONSENT_GIVEN,
    NORTH,
    PRACTITIONER,
    REFERRAL,
    SHARE,
    TEAM_LEAD,
    dump,
    new_id,
)

DOCS = Path(__file__).parents[2] / "docs" / "data-return.md"
KEY = pseudonym_key(b"test-id-key")

PERSON = Person(
    name="Morwenna Achterberg", date_of_birth="1990-04-17", address="12 Harbour Row, Penzance", nhs_number="9434765919"
)
EXTERNAL_REF = "CUST/2026/0042"
NOTE = "Says the voices are worse at night"
SCREENING = dump(
    ScreeningOutcome(
        instrument="ld-screen",
        instrument_version="2",
        urgency=Urgency.URGENT,
        domains=[VulnerabilityDomain.MENTAL_HEALTH, VulnerabilityDomain.HOUSING],
        risk_level=RiskLevel.MEDIUM,
        assessment_needed=True,
        note=NOTE,
    )
)
# 23:30 UK time (BST) on 31 March 2026: screening falls on 1 April in the UK, still 31 March in UTC.
START = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)


class DomainCase:
    """One case driven through decide + envelop + apply, as the workflow does, with no store."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now
        self.case_id = f"case-{new_id()}"
        self.state: CaseState = empty_state(self.case_id)
        self.envelopes: list[EventEnvelope] = []

    def send(self, command: Command) -> None:
        ctx = DecisionContext(now=self.now, new_id=new_id, site=NORTH)
        envelopes = envelop(self.state, decide(self.state, command, ctx), command.actor, self.now, new_id)
        self.state = apply_all(self.state, envelopes)
        self.envelopes.extend(envelopes)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def task_id(self, kind: TaskKind) -> str:
        return next(t.task_id for t in self.state.open_tasks if t.kind is kind)

    def complete(self, kind: TaskKind, outcome: dict[str, JsonValue], actor: Actor = PRACTITIONER) -> None:
        self.send(CompleteTask(actor=actor, task_id=self.task_id(kind), outcome=outcome))

    def open(self, person_id: str | None = None, same_person_as: str | None = None) -> None:
        self.send(
            OpenCase(
                actor=PRACTITIONER,
                site=NORTH.site_id,
                setting=Setting.CUSTODY,
                source=ReferralSource.CUSTODY_STAFF,
                external_ref=EXTERNAL_REF,
                age_band=AgeBand.ADULT,
                cohorts=(Cohort.VETERAN, Cohort.CARE_LEAVER),
                person=PERSON,
                person_id=person_id,
                same_person_as=same_person_as,
            )
        )

    @property
    def stream(self) -> tuple[str, list[EventEnvelope]]:
        return self.case_id, self.envelopes


def full_journey(person_id: str | None = None) -> DomainCase:
    """Opened 31 March 23:30 UK; screened 65 minutes later (1 April UK); closed 10 April."""
    case = DomainCase()
    case.open(person_id)
    case.advance(minutes=5)
    case.send(ClaimTask(actor=PRACTITIONER, task_id=case.task_id(TaskKind.CONSENT)))
    case.advance(minutes=20)
    case.complete(TaskKind.CONSENT, CONSENT_GIVEN)
    case.advance(minutes=40)
    case.complete(TaskKind.SCREENING, SCREENING)
    case.advance(hours=3)
    case.complete(TaskKind.ASSESSMENT, ASSESSMENT)
    case.advance(hours=2)
    case.complete(TaskKind.SHARE_INFORMATION, SHARE)
    case.advance(hours=20)
    case.complete(TaskKind.REFERRAL_DECISION, REFERRAL)
    case.advance(days=8)
    case.send(MarkOverdue(actor=SYSTEM_ACTOR, task_id=case.task_id(TaskKind.CLOSURE)))
    case.advance(hours=1)
    case.complete(TaskKind.CLOSURE, CLOSURE, actor=TEAM_LEAD)
    return case


def only_opened(at: datetime, person_id: str | None = None, same_person_as: str | None = None) -> DomainCase:
    case = DomainCase(at)
    case.open(person_id, same_person_as)
    return case


def both_files(episodes: list[Episode]) -> list[str]:
    return [to_csv(EPISODE_FIELDS, episodes), to_csv(REFERRAL_FIELDS, referrals_for(episodes))]


def as_dicts(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


APRIL_EPISODE = {
    "data_set_version": "1.2",
    "period": "2026-04",
    "site": "north",
    "setting": "custody",
    "referral_source": "custody_staff",
    "age_band": "adult",
    "cohorts": "care_leaver;veteran",
    "opened_date": "2026-03-31",
    "stage": "closed",
    "consent": "given",
    "safeguarding_override": "no",
    "screened": "yes",
    "screened_date": "2026-04-01",
    "minutes_to_screening": "65",
    "screened_within_sla": "yes",
    "screening_urgency": "urgent",
    "risk_level": "medium",
    "vulnerability_domains": "housing;mental_health",
    "assessed": "yes",
    "assessed_date": "2026-04-01",
    "information_shared_with": "custody_sergeant",
    "court_reports_requested": "0",
    "court_reports_submitted": "0",
    "court_reports_on_time": "0",
    "hearing_results": "",
    "referrals_made": "1",
    "support_started_date": "",
    "support_goals": "",
    "support_ended_date": "",
    "support_end_reason": "",
    "follow_ups_recorded": "0",
    "handed_off_to": "",
    "closed_date": "2026-04-10",
    "closure_reason": "pathway_complete",
    "justice_outcome": "conditional_caution",
    "previous_episodes": "0",
}


def test_an_episode_row_computed_by_hand() -> None:
    case = full_journey()
    april = episodes_for([case.stream], Month(2026, 4), KEY)
    [row] = as_dicts(to_csv(EPISODE_FIELDS, april))
    # Opened with no person id (as before people were kept): its own person, keyed by its case id.
    assert row == {
        **APRIL_EPISODE,
        "episode_id": episode_pseudonym(KEY, case.case_id),
        "person_pseudonym": person_pseudonym(KEY, case.case_id),
    }


def test_a_referral_row_computed_by_hand() -> None:
    case = full_journey()
    april = episodes_for([case.stream], Month(2026, 4), KEY)
    [row] = as_dicts(to_csv(REFERRAL_FIELDS, referrals_for(april)))
    assert row == {
        "data_set_version": "1.2",
        "period": "2026-04",
        "episode_id": episode_pseudonym(KEY, case.case_id),
        "site": "north",
        "referral_number": "1",
        "service_type": "mental_health",
        "urgency": "urgent",
        "made_date": "2026-04-02",  # 00:35 UTC on 2 April is 01:35 UK time
        "sent_date": "",
        "status": "drafted",
        "status_date": "",
        "closed_date": "",
        "chased": "no",
        "escalated": "no",
    }


def test_a_case_open_across_two_months_is_in_both_as_it_stood_at_each_months_end() -> None:
    case = full_journey()
    march = as_dicts(to_csv(EPISODE_FIELDS, episodes_for([case.stream], Month(2026, 3), KEY)))
    april = as_dicts(to_csv(EPISODE_FIELDS, episodes_for([case.stream], Month(2026, 4), KEY)))
    assert [r["episode_id"] for r in march] == [r["episode_id"] for r in april]
    # At midnight UK time ending March, consent was given but screening (00:35 UK) had not happened.
    assert {k: march[0][k] for k in ("period", "stage", "consent", "screened", "screened_date", "closed_date")} == {
        "period": "2026-03",
        "stage": "screening",
        "consent": "given",
        "screened": "no",
        "screened_date": "",
        "closed_date": "",
    }
    assert march[0]["minutes_to_screening"] == march[0]["screened_within_sla"] == ""
    assert referrals_for(episodes_for([case.stream], Month(2026, 3), KEY)) == []


def test_months_before_opening_and_after_closing_are_empty_files_with_their_header() -> None:
    case = full_journey()
    for month in (Month(2026, 2), Month(2026, 5)):
        episodes = episodes_for([case.stream], month, KEY)
        assert episodes == []
        headers = [",".join(f.name for f in fields) + "\r\n" for fields in (EPISODE_FIELDS, REFERRAL_FIELDS)]
        assert both_files(episodes) == headers
        assert all(as_dicts(text) == [] for text in headers)


def test_no_personal_value_appears_in_any_row() -> None:
    case = full_journey()
    texts = [
        text
        for month in (Month(2026, 3), Month(2026, 4))
        for text in both_files(episodes_for([case.stream], month, KEY))
    ]
    everything = "".join(texts)
    personal = [*(v for v in PERSON.model_dump().values() if v), EXTERNAL_REF, NOTE, "needs support", "done"]
    personal += ["fitness for interview", "community mental health team", case.case_id, "prac-1", "lead-1"]
    for value in personal:
        assert value.lower() not in everything.lower(), value
    assert "1990" not in everything and "Penzance" not in everything
    referral_ids = [r.referral_id for r in case.state.referrals]
    assert referral_ids and not any(r in everything for r in referral_ids)


def test_rows_are_sorted_by_opening_time() -> None:
    late = only_opened(datetime(2026, 4, 20, 9, tzinfo=UTC))
    early = only_opened(datetime(2026, 4, 1, 9, tzinfo=UTC))
    journey = full_journey()
    episodes = episodes_for([late.stream, journey.stream, early.stream], Month(2026, 4), KEY)
    ids = [e.episode_id for e in episodes]
    expected = [episode_pseudonym(KEY, c.case_id) for c in (journey, early, late)]
    assert ids == expected
    table = rows(EPISODE_FIELDS, episodes)
    assert [r[2] for r in table[1:]] == expected
    only = {k: v for k, v in zip(table[0], table[2], strict=True) if v}
    assert only["consent"] == "not_asked" and only["screened"] == "no" and only["stage"] == "screening"


def test_pseudonyms_are_stable_keyed_and_not_the_case_id() -> None:
    first = episode_pseudonym(KEY, "case-1")
    assert first == episode_pseudonym(KEY, "case-1")
    assert re.fullmatch(r"ep-[0-9a-f]{20}", first)
    assert first != episode_pseudonym(KEY, "case-2")
    assert first != episode_pseudonym(pseudonym_key(b"another-key"), "case-1")


def test_months() -> None:
    assert str(Month.parse("2026-11")) == "2026-11"
    assert months_between(Month(2026, 11), Month(2027, 2)) == [
        Month(2026, 11),
        Month(2026, 12),
        Month(2027, 1),
        Month(2027, 2),
    ]
    assert Month(2026, 12).end == datetime(2027, 1, 1, tzinfo=Month(2026, 12).start.tzinfo)
    for bad in ("2026-13", "2026-1-1", "26-11", "November", ""):
        with pytest.raises(ValueError, match="is not a month"):
            Month.parse(bad)
    with pytest.raises(ValueError, match="runs backwards"):
        months_between(Month(2026, 11), Month(2026, 10))


def test_every_field_name_is_unique_and_the_docs_tables_match_the_definitions() -> None:
    for fields in (EPISODE_FIELDS, REFERRAL_FIELDS):
        names = [f.name for f in fields]
        assert len(names) == len(set(names))
        assert names[0] == "data_set_version"
    text = DOCS.read_text(encoding="utf-8")
    begin, end = "<!-- generated: data-return fields -->\n", "<!-- end generated -->"
    generated = text[text.index(begin) + len(begin) : text.index(end)]
    assert generated == markdown_tables(), (
        "docs/data-return.md is out of date: replace its generated section with "
        "`python -c 'from domain.data_return import markdown_tables; print(markdown_tables(), end=\"\")'`"
    )


# --- repeat contacts (issue 19) -------------------------------------------------------------------


def person(number: int) -> str:
    return f"person-00000000-0000-4000-8000-{number:012d}"


P1, P2, P3, P4 = (person(n) for n in (1, 2, 3, 4))


def linked(case: DomainCase, at: datetime, to: str) -> DomainCase:
    case.now = at
    case.send(LinkPerson(actor=PRACTITIONER, person_id=to, basis="known to the team"))
    return case


def unlinked(case: DomainCase, at: datetime) -> DomainCase:
    case.now = at
    case.send(UnlinkPerson(actor=PRACTITIONER, reason="a different woman of the same name"))
    return case


def april(day: int, month: int = 4) -> datetime:
    return datetime(2026, month, day, 9, tzinfo=UTC)


class People:
    """By hand:
    - P1: `first`, the full journey (31 March, closed 10 April); `second`, 15 April, linked at opening
      by an NHS number; `third`, 20 April, own P2, linked by a practitioner on 21 April.
    - `unlinked`, 22 April: linked at opening to P1, unlinked on 23 April: its own P3.
    - `later`, 25 April, own P4, linked to P1 on 2 May: P4 in April's return, P1 in May's.
    - `old` and `also_old`, 5 and 6 April, opened before people were kept: each its own person.
    """

    def __init__(self) -> None:
        self.first = full_journey(P1)
        self.second = only_opened(april(15), person(11), same_person_as=P1)
        self.third = linked(only_opened(april(20), P2), april(21), P1)
        self.unlinked = unlinked(only_opened(april(22), P3, same_person_as=P1), april(23))
        self.later = linked(only_opened(april(25), P4), april(2, month=5), P1)
        self.old = only_opened(april(5))
        self.also_old = only_opened(april(6))

    @property
    def cases(self) -> list[DomainCase]:
        return [self.first, self.second, self.third, self.unlinked, self.later, self.old, self.also_old]

    def rows(self, month: Month) -> dict[str, dict[str, str]]:
        """The month's episode rows, by case id."""
        names = {episode_pseudonym(KEY, c.case_id): c.case_id for c in self.cases}
        found = as_dicts(to_csv(EPISODE_FIELDS, episodes_for([c.stream for c in self.cases], month, KEY)))
        return {names[row["episode_id"]]: row for row in found}


def test_previous_episodes_count_the_persons_earlier_episodes_as_linked_at_the_months_end() -> None:
    people = People()
    april_rows = people.rows(Month(2026, 4))
    previous = {case_id: int(row["previous_episodes"]) for case_id, row in april_rows.items()}
    assert previous == {
        people.first.case_id: 0,
        people.second.case_id: 1,
        people.third.case_id: 2,
        people.unlinked.case_id: 0,
        people.later.case_id: 0,
        people.old.case_id: 0,
        people.also_old.case_id: 0,
    }
    # In May `first` is closed and not in the return, but still the earlier episode of P1's others;
    # `later` is now P1's fourth.
    may_rows = people.rows(Month(2026, 5))
    previous = {case_id: int(row["previous_episodes"]) for case_id, row in may_rows.items()}
    assert people.first.case_id not in previous
    assert previous[people.second.case_id] == 1 and previous[people.third.case_id] == 2
    assert previous[people.later.case_id] == 3 and previous[people.unlinked.case_id] == 0


def test_the_person_pseudonym_is_one_per_person_and_not_the_person_id() -> None:
    people = People()
    april_rows = people.rows(Month(2026, 4))
    pseudonym = {case_id: row["person_pseudonym"] for case_id, row in april_rows.items()}
    p1 = person_pseudonym(KEY, P1)
    assert pseudonym[people.first.case_id] == pseudonym[people.second.case_id] == pseudonym[people.third.case_id] == p1
    assert pseudonym[people.unlinked.case_id] == person_pseudonym(KEY, P3)
    assert pseudonym[people.later.case_id] == person_pseudonym(KEY, P4)
    assert pseudonym[people.old.case_id] != pseudonym[people.also_old.case_id]
    assert len(set(pseudonym.values())) == 5  # P1, P3, P4 and the two old episodes
    # Stable from month to month, and changed by a link made since.
    may = {case_id: row["person_pseudonym"] for case_id, row in people.rows(Month(2026, 5)).items()}
    assert may[people.second.case_id] == p1 and may[people.later.case_id] == p1
    # Nothing of any person id, case id or episode pseudonym.
    everything = to_csv(EPISODE_FIELDS, episodes_for([c.stream for c in people.cases], Month(2026, 4), KEY))
    for secret in (P1, P2, P3, P4, person(11), *(c.case_id for c in people.cases)):
        assert secret not in everything
        assert secret.removeprefix("person-") not in everything
    episode_ids = {row["episode_id"] for row in april_rows.values()}
    assert not episode_ids & set(pseudonym.values())


def test_person_pseudonyms_are_stable_keyed_and_labelled_apart_from_episode_pseudonyms() -> None:
    first = person_pseudonym(KEY, P1)
    assert first == person_pseudonym(KEY, P1)
    assert re.fullmatch(r"pn-[0-9a-f]{20}", first)
    assert first != person_pseudonym(KEY, P2)
    assert first != person_pseudonym(pseudonym_key(b"another-key"), P1)
    # An episode that is its own person (keyed by its case id) has two different pseudonyms.
    assert person_pseudonym(KEY, "case-1")[3:] != episode_pseudonym(KEY, "case-1")[3:]
