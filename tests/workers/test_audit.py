"""The auditors' reads (service/audit.py): a case's timeline as it stands and as it was known at any
moment, the export of the whole record, and its verification; who may read them, and the access
log each read leaves. Against a real worker and Temporal dev server, with personal data sealed."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from api.documents import export_html
from domain.access import Principal
from domain.commands import CloseCase
from domain.errors import RuleViolation
from domain.events import StoredEvent
from domain.model import Actor, Person, Role
from domain.outcomes import ClosureOutcome
from domain.personal import SHREDDED
from domain.state import CaseState
from domain.tasks import TaskKind
from service.identity import principal_for_staff
from service.staff import StaffCommands
from store.hashing import canonical_json
from store.shredding import shred_person
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task
from workers.settings import SHIPPED_CONFIG, load_config

NAME = "Rosalind Thwaite-Okafor"
NOTE = "Sleeps in her car behind the Quayside depot; her brother has the keys"
ADMIN = Actor(staff_id="ad-001", role=Role.ADMIN)
CONFIG = load_config(SHIPPED_CONFIG)
# The demo staff of the shipped configuration: au-001 audits both sites, pr-001 practises at demo.
AUDITOR = principal_for_staff(CONFIG, "au-001")
PRACTITIONER_PRINCIPAL = principal_for_staff(CONFIG, "pr-001")
NORTH_AUDITOR = Principal(staff_id="au-north", role=Role.AUDITOR, sites=("north",))


@dataclass
class Journey:
    """A case taken step by step, with the stream as the store held it right after each step."""

    case_id: str
    before_open: datetime
    streams: dict[str, list[StoredEvent]] = field(default_factory=dict)
    states: dict[str, CaseState] = field(default_factory=dict)

    def moment(self, step: str) -> datetime:
        """When the step's last event was recorded."""
        return self.streams[step][-1].recorded_at


async def journey(cases: StaffCommands) -> Journey:
    """Open (with a name), consent, screening (with a note), assessment."""
    before_open = datetime.now(UTC)
    reference = f"CUST/{uuid.uuid4().hex[:8]}"
    command = open_case(reference).model_copy(update={"person": Person(name=NAME)})
    state = await cases.start_case(command)
    taken = Journey(case_id=state.case_id, before_open=before_open)

    async def remember(step: str) -> None:
        taken.streams[step] = await cases.store.read_stream(taken.case_id)
        taken.states[step] = await cases.store.case_state(taken.case_id)

    await remember("opened")
    state = await cases.complete_task(open_task(state, TaskKind.CONSENT), OUTCOMES[TaskKind.CONSENT], PRACTITIONER)
    await remember("consent")
    screening = {**OUTCOMES[TaskKind.SCREENING], "note": NOTE}
    state = await cases.complete_task(open_task(state, TaskKind.SCREENING), screening, PRACTITIONER)
    await remember("screening")
    state = await cases.complete_task(
        open_task(state, TaskKind.ASSESSMENT), OUTCOMES[TaskKind.ASSESSMENT], PRACTITIONER
    )
    await remember("assessment")
    # Each step recorded something, later than the step before it.
    steps = list(taken.streams)
    for earlier, later in pairwise(steps):
        assert len(taken.streams[later]) > len(taken.streams[earlier])
        assert taken.moment(later) > taken.moment(earlier)
    return taken


def seq_of(events: list[StoredEvent], event_type: str) -> int:
    [seq] = [stored.seq for stored in events if stored.event.type == event_type]
    return seq


async def test_the_timeline_as_of_a_moment_is_what_the_record_held_then(cases: StaffCommands) -> None:
    taken = await journey(cases)
    audit = cases.pathway.audit
    then = taken.moment("screening")
    known = taken.streams["screening"]

    past = await audit.timeline(AUDITOR, taken.case_id, then)
    assert past.case_id == taken.case_id and past.as_of == then
    assert len(past.entries) == len(known)
    assert [entry.seq for entry in past.entries] == [stored.seq for stored in known]
    assert past.entries[-1].seq == known[-1].seq
    assert [entry.event_id for entry in past.entries] == [stored.event_id for stored in known]
    assert all(entry.recorded_at <= then for entry in past.entries)
    # The state is the fold of those events, personal fields opened: as the store had it then.
    assert past.state == await cases.sealer.open_for_case(taken.states["screening"], taken.case_id)
    assert past.state.stage == taken.states["screening"].stage
    assert past.state.screening is not None and past.state.assessment is None
    assert past.state.screening.risk_level == OUTCOMES[TaskKind.SCREENING]["risk_level"]
    assert past.state.person.name == NAME
    # The record has moved on since: an assessment, and more events.
    now = await audit.timeline(AUDITOR, taken.case_id)
    events = await cases.store.read_stream(taken.case_id)
    assert now.as_of is None
    assert [entry.seq for entry in now.entries] == [stored.seq for stored in events]
    assert len(now.entries) > len(past.entries)
    assert now.state == await cases.sealer.open_for_case(await cases.store.case_state(taken.case_id), taken.case_id)
    assert now.state.assessment is not None and now.state.stage != past.state.stage
    assert now.state.person.name == NAME
    # Each entry says what the event was, who did it and when.
    by_seq = {stored.seq: stored for stored in events}
    for entry in now.entries:
        stored = by_seq[entry.seq]
        assert (entry.type, entry.actor, entry.occurred_at) == (stored.event.type, stored.actor, stored.occurred_at)
        assert entry.recorded_at == stored.recorded_at and entry.description

    # Exactly at each step's moment: that step's events, no more.
    for step, stream in taken.streams.items():
        at_step = await audit.timeline(AUDITOR, taken.case_id, taken.moment(step))
        assert [entry.seq for entry in at_step.entries] == [stored.seq for stored in stream], step
        assert at_step.state.version == taken.states[step].version == stream[-1].seq

    # Before the case was opened the record held nothing about it.
    before = await audit.timeline(AUDITOR, taken.case_id, taken.before_open)
    assert before.entries == [] and before.state.stage is None and before.state.version == 0
    # The same moment in another zone is the same moment.
    elsewhere = then.astimezone(ZoneInfo("America/New_York"))
    assert [e.seq for e in (await audit.timeline(AUDITOR, taken.case_id, elsewhere)).entries] == [s.seq for s in known]

    with pytest.raises(RuleViolation) as naive:
        await audit.timeline(AUDITOR, taken.case_id, then.replace(tzinfo=None))
    assert naive.value.rule == "invalid_input" and "zone" in naive.value.message


async def test_the_timeline_opens_what_a_person_wrote(cases: StaffCommands) -> None:
    # What people wrote is sealed in the events; the auditor must read it opened, in the timeline,
    # the export and their documents (a regression here once showed "sealed:v1:person-...").
    taken = await journey(cases)
    audit = cases.pathway.audit
    then = taken.moment("screening")
    screened = seq_of(taken.streams["screening"], "ScreeningRecorded")

    for found in (await audit.timeline(AUDITOR, taken.case_id, then), await audit.timeline(AUDITOR, taken.case_id)):
        [entry] = [entry for entry in found.entries if entry.seq == screened]
        assert entry.type == "ScreeningRecorded"
        assert entry.written == NOTE, f"the note reads {entry.written!r}"


async def test_only_auditors_of_the_case_site_read_it_and_every_read_is_logged(cases: StaffCommands) -> None:
    taken = await journey(cases)
    inbox = cases.service
    audit = cases.pathway.audit
    then = taken.moment("consent")

    for refused in (
        audit.timeline(PRACTITIONER_PRINCIPAL, taken.case_id),
        audit.export(PRACTITIONER_PRINCIPAL, taken.case_id, "subject access request"),
        audit.verify(PRACTITIONER_PRINCIPAL, taken.case_id),
    ):
        with pytest.raises(RuleViolation) as not_allowed:
            await refused
        assert not_allowed.value.rule == "role_not_allowed"
    for hidden in (
        audit.timeline(NORTH_AUDITOR, taken.case_id),
        audit.timeline(NORTH_AUDITOR, taken.case_id, then),
        audit.export(NORTH_AUDITOR, taken.case_id, "subject access request"),
        audit.verify(NORTH_AUDITOR, taken.case_id),
    ):
        with pytest.raises(RuleViolation) as unknown:
            await hidden
        assert unknown.value.rule == "case_unknown"
    with pytest.raises(RuleViolation) as absent:
        await audit.timeline(AUDITOR, "case-00000000-0000-4000-8000-000000000000")
    assert absent.value.rule == "case_unknown"
    # Refused reads leave nothing in the case's access log (its practitioner's work is all there is).
    worked = await inbox.access.list(taken.case_id)
    assert all(record.staff_id != AUDITOR.staff_id for record in worked)
    assert all(record.role != Role.AUDITOR for record in worked)

    await audit.timeline(AUDITOR, taken.case_id)
    await audit.timeline(AUDITOR, taken.case_id, then)
    await audit.export(AUDITOR, taken.case_id, "  subject access request  ")
    await audit.verify(AUDITOR, taken.case_id)
    logged = [record for record in await cases.access_log(taken.case_id) if record.staff_id == AUDITOR.staff_id]
    assert [(record.action, record.purpose) for record in logged] == [
        ("audit_timeline", "audit: timeline"),
        ("audit_timeline", f"audit: timeline as of {then.isoformat()}"),
        ("export", "subject access request"),
        ("verify", "audit: verify the record"),
    ]
    assert all(record.role == Role.AUDITOR and not record.break_glass for record in logged)
    assert all(record.case_id == taken.case_id for record in logged)
    # A naive as_of is refused before anything is read: nothing logged for it.
    with pytest.raises(RuleViolation):
        await audit.timeline(AUDITOR, taken.case_id, then.replace(tzinfo=None))
    assert len([r for r in await inbox.access.list(taken.case_id) if r.staff_id == AUDITOR.staff_id]) == len(logged)


async def test_the_export_has_the_whole_record_and_whether_it_verifies(cases: StaffCommands) -> None:
    taken = await journey(cases)
    inbox = cases.service
    audit = cases.pathway.audit
    await audit.timeline(AUDITOR, taken.case_id)
    started = datetime.now(UTC)

    export = await audit.export(AUDITOR, taken.case_id, "subject access request")
    events = await cases.store.read_stream(taken.case_id)
    assert export.format == "pathway-case-export" and export.version == 1
    assert export.case_id == taken.case_id and export.generated_by == AUDITOR.staff_id
    assert export.purpose == "subject access request"
    assert started <= export.generated_at <= datetime.now(UTC)
    assert export.state == await cases.sealer.open_for_case(await cases.store.case_state(taken.case_id), taken.case_id)
    assert export.state.person.name == NAME
    assert [entry.seq for entry in export.timeline] == [stored.seq for stored in events]
    assert [entry.event_id for entry in export.timeline] == [stored.event_id for stored in events]
    # The access log lists every read of the case, the export itself last.
    assert [record.access_id for record in export.access_log] == [
        record.access_id for record in await inbox.access.list(taken.case_id)
    ]
    assert (export.access_log[-1].action, export.access_log[-1].purpose) == ("export", "subject access request")
    assert export.access_log[-1].staff_id == AUDITOR.staff_id
    assert "audit_timeline" in [record.action for record in export.access_log]
    integrity = export.integrity
    assert integrity.chain_ok and integrity.first_bad_seq is None and integrity.problem is None
    assert integrity.events == len(events)
    assert integrity.head_hash == events[-1].hash
    assert integrity.projection_differences == []
    assert await audit.verify(AUDITOR, taken.case_id) == integrity

    for purpose in ("", "ab", "  ab  ", "x" * 201):
        with pytest.raises(RuleViolation) as short:
            await audit.export(AUDITOR, taken.case_id, purpose)
        assert short.value.rule == "invalid_input"
    assert len(await inbox.access.list(taken.case_id)) == len(export.access_log) + 1  # + the verify


async def test_an_altered_event_is_found_by_verify_and_the_export(cases: StaffCommands) -> None:
    taken = await journey(cases)
    audit = cases.pathway.audit
    events = await cases.store.read_stream(taken.case_id)
    altered = seq_of(events, "ScreeningRecorded")
    assert 1 < altered < len(events)
    before = await audit.verify(AUDITOR, taken.case_id)
    assert before.chain_ok and before.events == len(events)

    # Someone with database access makes the risk look higher, keeping the body valid JSON.
    async with cases.store.engine.begin() as conn:
        body = (
            await conn.execute(
                text("SELECT body FROM events WHERE case_id = :case_id AND seq = :seq"),
                {"case_id": taken.case_id, "seq": altered},
            )
        ).scalar_one()
        changed = json.loads(body)
        assert changed["event"]["outcome"]["risk_level"] == OUTCOMES[TaskKind.SCREENING]["risk_level"]
        changed["event"]["outcome"]["risk_level"] = "high"
        await conn.execute(
            text("UPDATE events SET body = :body WHERE case_id = :case_id AND seq = :seq"),
            {"body": canonical_json(changed), "case_id": taken.case_id, "seq": altered},
        )

    verified = await audit.verify(AUDITOR, taken.case_id)
    assert not verified.chain_ok and verified.first_bad_seq == altered
    assert verified.problem is not None and "altered" in verified.problem
    assert verified.events == len(events) and verified.head_hash == events[-1].hash
    export = await audit.export(AUDITOR, taken.case_id, "court order 2026/117")
    assert not export.integrity.chain_ok and export.integrity.first_bad_seq == altered
    assert export.integrity.problem == verified.problem
    # The export still shows the record as it is now (altered), so the reader can see what changed.
    [entry] = [entry for entry in export.timeline if entry.seq == altered]
    assert "high risk" in entry.description
    document = export_html(export)
    assert f"The record does not verify from event {altered}:" in document and "The record verifies" not in document


async def test_after_a_shred_the_export_shows_no_personal_data_and_still_verifies(cases: StaffCommands) -> None:
    taken = await journey(cases)
    audit = cases.pathway.audit
    state = await cases.store.case_state(taken.case_id)
    closure = ClosureOutcome.model_validate({"reason": "record_made_in_error", "note": NOTE})
    await cases.close_case(taken.case_id, CloseCase(actor=PRACTITIONER, outcome=closure))
    assert (await cases.store.case_state(taken.case_id)).version > state.version
    assert (await audit.export(AUDITOR, taken.case_id, "before the shred")).state.person.name == NAME

    await shred_person(cases.store, cases.sealer.keys, taken.case_id, ADMIN, "record made in error")
    export = await audit.export(AUDITOR, taken.case_id, "subject access request")
    events = await cases.store.read_stream(taken.case_id)
    assert export.state.person.name == SHREDDED and export.state.external_ref == SHREDDED
    assert export.state.screening is not None and export.state.screening.note == SHREDDED
    assert export.state.personal_data_shredded_at is not None
    assert export.timeline[-1].type == "PersonalDataShredded" and export.timeline[-1].actor == ADMIN
    assert [entry.seq for entry in export.timeline] == [stored.seq for stored in events]
    assert export.integrity.chain_ok and export.integrity.events == len(events)
    assert export.integrity.head_hash == events[-1].hash and export.integrity.projection_differences == []
    serialized = export.model_dump_json()
    assert NAME not in serialized and NOTE not in serialized
    # The past is still readable as it was known, but the person's data is gone from it too.
    past = await audit.timeline(AUDITOR, taken.case_id, taken.moment("screening"))
    assert past.state.person.name == SHREDDED and len(past.entries) == len(taken.streams["screening"])
    assert past.as_of == taken.moment("screening")


async def test_verify_reports_an_event_whose_body_no_longer_reads(cases: StaffCommands) -> None:
    # A body altered so it no longer parses as an event must be reported as a failed verification
    # at its seq, not crash the verification that is meant to find it.
    taken = await journey(cases)
    audit = cases.pathway.audit
    events = await cases.store.read_stream(taken.case_id)
    altered = seq_of(events, "ScreeningRecorded")
    async with cases.store.engine.begin() as conn:
        body = (
            await conn.execute(
                text("SELECT body FROM events WHERE case_id = :case_id AND seq = :seq"),
                {"case_id": taken.case_id, "seq": altered},
            )
        ).scalar_one()
        changed = json.loads(body)
        del changed["event"]["outcome"]["risk_level"]  # the screening no longer says what risk was found
        await conn.execute(
            text("UPDATE events SET body = :body WHERE case_id = :case_id AND seq = :seq"),
            {"body": canonical_json(changed), "case_id": taken.case_id, "seq": altered},
        )
    chain = await cases.store.verify_chain(taken.case_id)
    assert not chain.ok and chain.first_bad_seq == altered  # the store itself finds it

    verified = await audit.verify(AUDITOR, taken.case_id)
    assert not verified.chain_ok and verified.first_bad_seq == altered
