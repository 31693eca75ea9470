"""Hostile input at every Update of the case workflow (issue 9): huge strings, deep nesting, odd
Unicode, script injection, wrong types, missing and extra fields, undecodable bytes.

Payloads go two ways: through StaffCommands (pydantic at the edge, then the Update) and RAW, straight
at the workflow with `execute_update(name, anything)` on a client with the project's data converter,
so the workflow's own decoding and validators are what stands in the way. Either way a refused command
is a clear error (RuleViolation, a pydantic error naming the field, or an Update failure with a
message), the worker keeps serving (queries answer, no WorkflowTaskFailed in the history), and neither
the store stream nor the Temporal history gains an event. Free text that is accepted comes back
escaped on the web inbox's case page and in the auditors' timeline document.

What the SDK does with an argument it cannot decode (temporalio worker/_workflow_instance.py,
`_apply_do_update`): decoding happens before validation, and any failure before validation rejects
the Update (no history event, the task does not fail). The bug these tests found was one step later:
a RAW outcome nested about 190 levels deep decoded and passed every rule, but the append activity's
input wraps it a few levels deeper than pydantic's JSON parser allows (200), so every retry of the
append failed to decode, the Update never finished and the case's lock was held for good; and a 1 MB
answer was accepted into the history and into every later answer's case state. The validators now
refuse both (domain/limits.py `check_command_limits`, run by every Update validator).
"""

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from api.app import create_app
from domain.commands import (
    ChangeCohort,
    ClaimTask,
    CloseCase,
    LinkPerson,
    OpenCase,
    ReassignTask,
    RecordDateOfBirth,
    RecordJusticeOutcome,
    RecordReferralOutcome,
    RecordReleaseDate,
    RequestCourtReport,
    ShareInformation,
    UnlinkPerson,
    WithdrawConsent,
)
from domain.errors import RuleViolation
from domain.limits import MAX_COMMAND_BYTES, MAX_COMMAND_DEPTH
from domain.model import Role
from domain.state import CaseState
from domain.tasks import TaskKind
from domain.text_rules import BIDI_CONTROLS, control_characters
from service.staff import StaffCommands
from tests.api.conftest import api_client, services_for, token
from tests.workflows.journey import OUTCOMES, PRACTITIONER, TEAM_LEAD, complete, open_case, open_task
from workflows.case_workflow import CaseWorkflow
from workflows.court_report_workflow import CourtReportWorkflow
from workflows.referral_workflow import ReferralWorkflow
from workflows.retention_workflow import RetentionWorkflow

UPDATES = (
    "open_case",
    "complete_task",
    "claim_task",
    "reassign_task",
    "share_information",
    "withdraw_consent",
    "record_referral_outcome",
    "request_court_report",
    "close_case",
    "record_date_of_birth",
    "change_cohort",
    "record_justice_outcome",
    "record_release_date",
    "link_person",
    "unlink_person",
)
HUGE = "\u202e<script>alert(1)</script>" + "x" * 1_000_000  # a little over 1 MB
SCRIPTS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert('x')>",
    "</textarea><script>alert(document.cookie)</script>",
    "javascript:alert(1)//<a href='x'>",
]
ODD = [
    "\x00",
    "\u202e",  # right-to-left override
    "\u200d",  # zero-width joiner
    "\u200b",
    "\ufeff",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",  # a family emoji (joined)
    "e\u0301\u0302\u0303",  # combining marks
    "'; DROP TABLE events;--",
    "{{7*7}}${7*7}",
    "&amp;&lt;",
    "\r\n\t",
]
# Surrogates cannot be sent through the converter at all (the client refuses to encode them); they go
# as raw JSON bytes below.
hostile_text = st.lists(st.one_of(st.sampled_from(SCRIPTS + ODD), st.text(max_size=12)), min_size=1, max_size=5).map(
    "".join
)
WORKFLOW_TIMEOUT = 20  # seconds: a hang (the bug) fails the test instead of stalling it


def nested(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@dataclass
class Prepared:
    """One case at the assessment stage, shared by a property's examples (refusals leave it as it was)."""

    case_id: str
    assessment_task: str
    consent_task: str
    ref: str


_prepared: dict[str, Prepared] = {}  # by task queue: one per test (and its worker)


async def prepared_case(cases: StaffCommands) -> Prepared:
    if cases.task_queue not in _prepared:
        ref = f"HOSTILE-{uuid.uuid4().hex[:10]}"
        state = await cases.start_case(open_case(ref))
        consent = open_task(state, TaskKind.CONSENT)
        state = await complete(cases, state, TaskKind.CONSENT)
        state = await complete(cases, state, TaskKind.SCREENING)
        _prepared[cases.task_queue] = Prepared(state.case_id, open_task(state, TaskKind.ASSESSMENT), consent, ref)
    return _prepared[cases.task_queue]


def valid_payloads(case: Prepared) -> dict[str, dict[str, Any]]:
    """For each Update, a JSON payload every part of which is well formed (most would be accepted)."""
    actor = PRACTITIONER.model_dump(mode="json")
    hearing = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    return {
        "open_case": {
            "actor": actor,
            "site": "demo",
            "setting": "custody",
            "source": "custody_staff",
            "external_ref": case.ref,
            "age_band": "adult",
        },
        "complete_task": {
            "actor": actor,
            "task_id": case.assessment_task,
            "outcome": {"instrument": "ld-assess", "instrument_version": "2019"},
        },
        "claim_task": {"actor": actor, "task_id": case.assessment_task},
        "reassign_task": {
            "actor": TEAM_LEAD.model_dump(mode="json"),
            "task_id": case.assessment_task,
            "assignee": "pr-002",
            "assignee_role": "practitioner",
        },
        "share_information": {
            "actor": actor,
            "disclosure": {"recipient": "court", "purpose": "bail decision", "lawful_basis": "consent", "summary": "N"},
        },
        "withdraw_consent": {"actor": actor, "reason": "The person changed their mind."},
        "record_referral_outcome": {"actor": actor, "referral_id": "ref-1", "status": "accepted"},
        "request_court_report": {
            "actor": actor,
            "purpose": "bail_or_remand",
            "hearing_at": hearing,
            "recipients": ["court"],
        },
        "close_case": {"actor": actor, "outcome": {"reason": "other"}},
        "record_date_of_birth": {"actor": actor, "date_of_birth": "1990-04-01"},  # the service adds the band
        "change_cohort": {"actor": actor, "cohort": "veteran", "member": True, "reason": "served 2004-2012"},
        "record_justice_outcome": {"actor": actor, "outcome": "charged_bailed"},
        "record_release_date": {"actor": actor, "release_on": "2027-03-01"},
        "link_person": {
            "actor": actor,
            "person_id": "person-00000000-0000-4000-8000-000000000009",
            "basis": "known to the team",
        },
        "unlink_person": {"actor": actor, "reason": "a different person"},
    }


@dataclass(frozen=True)
class Hostile:
    """How a valid payload is spoiled; every kind leaves a payload no Update may accept."""

    kind: str  # drop | extra | wrong_type | huge | deep | junk | raw_bytes | arity
    field: int  # which field (index, modulo the payload's fields)
    text: str
    junk: Any = None
    raw: bytes = b""


# Values no field of any command accepts: a list of lists, a dict with a hostile key, null, a huge
# string (past every field's limit, and not a model, enum, time or list).
def wrong_values(text: str) -> list[Any]:
    return [[[text]], {f"<b>{text}": [text]}, None, HUGE]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=12,
)
RAW_BYTES = [
    b"[" * 1000 + b"]" * 1000,  # 1,000-deep lists
    b'{"k":' * 1000 + b"1" + b"}" * 1000,  # 1,000-deep dicts
    b"\xff\xfe\x00junk",  # not UTF-8
    b'{"actor": {"staff_id": "pr-001", "role": "practitioner"}, "reason": "\\ud800 lone surrogate"}',
    b'{"actor": {"staff_id": "pr-001", "role": "practitioner"}, "reason": "\\udfff\\ud800"',  # truncated
    b"",
    b"null",
    b'"<script>alert(1)</script>"',
]

hostiles = st.one_of(
    st.builds(
        Hostile,
        kind=st.sampled_from(["drop", "extra", "wrong_type", "huge"]),
        field=st.integers(0, 6),
        text=hostile_text,
    ),
    st.builds(Hostile, kind=st.just("deep"), field=st.integers(MAX_COMMAND_DEPTH, 190), text=hostile_text),
    st.builds(Hostile, kind=st.just("junk"), field=st.just(0), text=hostile_text, junk=json_values),
    st.builds(Hostile, kind=st.just("raw_bytes"), field=st.just(0), text=st.just(""), raw=st.sampled_from(RAW_BYTES)),
    st.builds(Hostile, kind=st.just("arity"), field=st.integers(0, 1), text=hostile_text),
)


def spoiled(payload: dict[str, Any], hostile: Hostile) -> list[Any]:
    """The Update's arguments: `payload` spoiled the way `hostile` says."""
    names = list(payload)
    name = names[hostile.field % len(names)]
    match hostile.kind:
        case "drop":
            return [{key: value for key, value in payload.items() if key != name}]
        case "extra":
            return [{**payload, hostile.text or "<script>": hostile.text}]
        case "wrong_type":
            values = wrong_values(hostile.text)
            return [{**payload, name: values[hostile.field % len(values)]}]
        case "huge":
            return [{**payload, name: HUGE}]
        case "deep":
            # Inside an outcome's answers where a command has one (the workflow decodes it, pydantic
            # takes any JSON there), anywhere else as a wrong type.
            depth = max(hostile.field, MAX_COMMAND_DEPTH)
            if isinstance(payload.get("outcome"), dict):
                outcome = {**payload["outcome"], "answers": {"q": nested(depth, hostile.text)}}
                return [{**payload, "outcome": outcome}]
            return [{**payload, name: nested(depth, hostile.text)}]
        case "junk":
            junk = hostile.junk
            return [junk if not isinstance(junk, dict) else {**junk, "<i>unexpected": True}]
        case "raw_bytes":
            return [RawValue(Payload(metadata={"encoding": b"json/plain"}, data=hostile.raw))]
        case "arity":
            return [] if hostile.field == 0 else [payload, payload]
    raise AssertionError(hostile.kind)


async def history_length(cases: StaffCommands, case_id: str) -> int:
    return len((await cases.client.get_workflow_handle(case_id).fetch_history()).events)


async def last_seq(cases: StaffCommands, case_id: str) -> int:
    stream = await cases.store.read_stream(case_id)
    return stream[-1].seq if stream else 0


async def assert_serving_and_never_failed(cases: StaffCommands, case_id: str) -> None:
    """The worker still answers for the case, and no workflow task of it ever failed."""
    handle = cases.client.get_workflow_handle_for(CaseWorkflow.run, case_id)
    async with asyncio.timeout(WORKFLOW_TIMEOUT):
        state = await handle.query(CaseWorkflow.state)
    assert state.case_id == case_id and state.is_open
    history = await handle.fetch_history()
    failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    assert not failed, failed[0].workflow_task_failed_event_attributes.failure.message


async def refused_leaving_nothing(cases: StaffCommands, case_id: str, send: Callable[[], Awaitable[Any]]) -> Exception:
    """Run `send`, which must be refused; the stream and the history must not change. Returns the refusal."""
    events, seq = await history_length(cases, case_id), await last_seq(cases, case_id)
    try:
        async with asyncio.timeout(WORKFLOW_TIMEOUT):
            answer = await send()
    except (WorkflowUpdateFailedError, RuleViolation, ValidationError) as refusal:
        error: Exception = refusal
    else:
        raise AssertionError(f"accepted: {answer!r}"[:500])
    assert await last_seq(cases, case_id) == seq, "a refused command recorded an event"
    assert await history_length(cases, case_id) == events, "a refused command left Temporal history"
    return error


def raw_update(handle: WorkflowHandle[Any, Any], name: str, *args: Any) -> Callable[[], Awaitable[Any]]:
    async def send() -> Any:
        return await handle.execute_update(name, args=list(args))

    return send


def assert_clear(refusal: Exception) -> None:
    """The refusal says what is wrong: a rule and a message, or the Update failure's message."""
    if isinstance(refusal, RuleViolation):
        assert refusal.rule and refusal.message.strip(), refusal
    elif isinstance(refusal, ValidationError):
        assert refusal.errors() and all(problem["msg"] for problem in refusal.errors()), refusal
    else:
        assert isinstance(refusal, WorkflowUpdateFailedError)
        cause = refusal.cause
        assert isinstance(cause, ApplicationError), repr(cause)
        assert cause.message.strip(), repr(cause)
        if cause.type == "RuleViolation":
            assert cause.details and str(cause.details[0]), repr(cause)


def test_the_fuzzing_covers_every_update_of_every_workflow() -> None:
    """If an Update is added, this fails until the properties below send it hostile payloads too."""
    definition = workflow._Definition.from_class(CaseWorkflow)
    assert definition is not None
    assert set(definition.updates) == set(UPDATES)
    for other in (ReferralWorkflow, CourtReportWorkflow, RetentionWorkflow):
        found = workflow._Definition.from_class(other)
        assert found is not None and not found.updates, other


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@example(update="complete_task", hostile=Hostile("deep", 195, "<script>alert(1)</script>"))  # the bug
@example(update="complete_task", hostile=Hostile("huge", 2, "x"))
@example(update="withdraw_consent", hostile=Hostile("raw_bytes", 0, "", raw=RAW_BYTES[3]))
@example(update="open_case", hostile=Hostile("raw_bytes", 0, "", raw=RAW_BYTES[0]))
@example(update="close_case", hostile=Hostile("arity", 0, ""))
@given(update=st.sampled_from(UPDATES), hostile=hostiles)
async def test_raw_hostile_updates_are_refused_by_the_workflow_and_leave_no_trace(
    cases: StaffCommands, update: str, hostile: Hostile
) -> None:
    case = await prepared_case(cases)
    args = spoiled(valid_payloads(case)[update], hostile)
    handle = cases.client.get_workflow_handle(case.case_id)
    refusal = await refused_leaving_nothing(cases, case.case_id, raw_update(handle, update, *args))
    assert isinstance(refusal, WorkflowUpdateFailedError)
    assert_clear(refusal)
    if hostile.kind == "deep" and update == "complete_task":
        assert isinstance(refusal.cause, ApplicationError) and refusal.cause.details[0] == "command_too_deep"
    await assert_serving_and_never_failed(cases, case.case_id)


def through_case_commands(cases: StaffCommands, case: Prepared, update: str, args: list[Any]) -> Awaitable[CaseState]:
    """The normal path: the command's model built from the payload (pydantic may refuse it here, which
    is a refusal before any Update), then StaffCommands."""
    payload = args[0] if args and isinstance(args[0], dict) else {}

    def model(cls: type[BaseModel]) -> Any:
        return cls.model_validate(payload)

    async def send() -> CaseState:
        actor = PRACTITIONER
        match update:
            case "open_case":
                return await cases.start_case(model(OpenCase))
            case "complete_task":
                return await cases.complete_task(
                    str(payload.get("task_id", "")), payload.get("outcome", payload), actor
                )
            case "claim_task":
                return await cases.claim_task(model(ClaimTask).task_id, actor)
            case "reassign_task":
                command = model(ReassignTask)
                return await cases.reassign_task(command.task_id, command.assignee, TEAM_LEAD)
            case "share_information":
                return await cases.share_information(case.case_id, model(ShareInformation))
            case "withdraw_consent":
                return await cases.withdraw_consent(case.case_id, model(WithdrawConsent))
            case "record_referral_outcome":
                return await cases.record_referral_outcome(case.case_id, model(RecordReferralOutcome))
            case "request_court_report":
                return await cases.request_court_report(case.case_id, model(RequestCourtReport))
            case "close_case":
                return await cases.close_case(case.case_id, model(CloseCase))
            case "record_date_of_birth":
                return await cases.record_date_of_birth(case.case_id, model(RecordDateOfBirth))
            case "change_cohort":
                return await cases.change(case.case_id, model(ChangeCohort))
            case "record_justice_outcome":
                return await cases.record_justice_outcome(case.case_id, model(RecordJusticeOutcome))
            case "record_release_date":
                return await cases.record_release_date(case.case_id, model(RecordReleaseDate))
            case "link_person":
                return await cases.change(case.case_id, model(LinkPerson))
            case "unlink_person":
                return await cases.change(case.case_id, model(UnlinkPerson))
        raise AssertionError(update)

    return send()


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@example(update="complete_task", hostile=Hostile("huge", 2, "x"))  # 1 MB inside the outcome
@example(update="complete_task", hostile=Hostile("deep", 1000, "x"))  # 1,000 deep inside the outcome
@example(update="open_case", hostile=Hostile("drop", 5, "x"))  # no age band, for a reference already open
@given(
    update=st.sampled_from(UPDATES),
    hostile=st.builds(
        Hostile,
        kind=st.sampled_from(["drop", "extra", "wrong_type", "huge", "deep"]),
        field=st.integers(0, 6),
        text=hostile_text,
    ),
)
async def test_hostile_commands_through_case_commands_are_refused_with_a_clear_error(
    cases: StaffCommands, update: str, hostile: Hostile
) -> None:
    case = await prepared_case(cases)
    payload = valid_payloads(case)[update]
    if update == "complete_task" and hostile.kind in ("huge", "deep"):
        # Inside the outcome, where StaffCommands takes any dict: the assessment's free-form answers
        # (a sealed answer is one string however deep it was, so only past pydantic's limit is refused).
        answer = nested(max(hostile.field, 300), hostile.text) if hostile.kind == "deep" else HUGE
        args: list[Any] = [{**payload, "outcome": {**payload["outcome"], "answers": {"q": answer}}}]
    elif update == "complete_task":  # StaffCommands takes a task id and an outcome: spoil the outcome
        args = [{**payload, "outcome": spoiled(payload["outcome"], hostile)[0]}]
    else:
        args = spoiled(payload, hostile)
    refusal = await refused_leaving_nothing(
        cases, case.case_id, lambda: through_case_commands(cases, case, update, args)
    )
    assert_clear(refusal)
    await assert_serving_and_never_failed(cases, case.case_id)


async def test_what_used_to_wedge_a_case_is_refused_and_the_case_goes_on(cases: StaffCommands) -> None:
    """The bug: a RAW outcome 190 deep was accepted and its append could never be decoded, so the Update
    never finished and the case's lock was held for good. Now it is refused at once, as is a 600 KB
    answer and a hearing time without a time zone, and the case still takes the valid command."""
    case = await prepared_case(cases)
    payloads = valid_payloads(case)
    handle = cases.client.get_workflow_handle(case.case_id)
    deep = {
        **payloads["complete_task"],
        "outcome": {**payloads["complete_task"]["outcome"], "answers": {"q": nested(195)}},
    }
    large = {
        **payloads["complete_task"],
        "outcome": {**payloads["complete_task"]["outcome"], "answers": {"q": "y" * 600_000}},
    }
    naive = {**payloads["request_court_report"], "hearing_at": "2099-01-01T10:00:00"}
    for name, payload, rule in [
        ("complete_task", deep, "command_too_deep"),
        ("complete_task", large, "command_too_large"),
        ("request_court_report", naive, "invalid_input"),
    ]:
        refusal = await refused_leaving_nothing(cases, case.case_id, raw_update(handle, name, payload))
        assert isinstance(refusal, WorkflowUpdateFailedError) and isinstance(refusal.cause, ApplicationError)
        assert refusal.cause.details[0] == rule, refusal.cause
    command = RequestCourtReport.model_validate(naive)  # through StaffCommands: the same refusal, by rule
    with pytest.raises(RuleViolation) as refused:
        await cases.request_court_report(case.case_id, command)
    assert refused.value.rule == "invalid_input" and "time zone" in refused.value.message

    # Nested as deep as the limit allows, it is recorded and the case moves on.
    fine = {
        **payloads["complete_task"],
        "outcome": {**payloads["complete_task"]["outcome"], "answers": {"q": nested(MAX_COMMAND_DEPTH - 6)}},
    }
    before = await last_seq(cases, case.case_id)
    async with asyncio.timeout(WORKFLOW_TIMEOUT):
        await handle.execute_update("complete_task", fine)
    stream = await cases.store.read_stream(case.case_id)
    assert stream[-1].seq > before and "AssessmentRecorded" in [e.event.type for e in stream[before:]]
    assert len(json.dumps(fine)) < MAX_COMMAND_BYTES
    await assert_serving_and_never_failed(cases, case.case_id)


# Free text: accepted, kept exactly, and always escaped in HTML. (Control characters other than line
# breaks and tabs, and text-direction overrides, are refused: tests/security/test_f12_input_rules.py.)
AUDITOR = token("au-001", Role.AUDITOR, ("demo",))
PRACTITIONER_TOKEN = token("pr-001", Role.PRACTITIONER, ("demo",))
ACCEPTED_ODD = [odd for odd in ODD[1:-1] if not control_characters(odd, multi_line=True)]
accepted_characters = st.characters(
    codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"], exclude_characters="".join(BIDI_CONTROLS)
)
marked_up_text = st.builds(
    lambda before, script, after: f"A{before}{script}{after}Z",
    st.lists(
        st.sampled_from(ACCEPTED_ODD) | st.text(alphabet=accepted_characters, max_size=8),
        max_size=3,
    ).map("".join),
    st.sampled_from(SCRIPTS),
    st.lists(
        st.sampled_from(ACCEPTED_ODD) | st.text(alphabet=accepted_characters, max_size=8),
        max_size=3,
    ).map("".join),
)


async def sign_in(web: httpx.AsyncClient, staff_id: str) -> None:
    response = await web.post("/login", data={"staff_id": staff_id})
    assert response.status_code == 303


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@example(note='"><img src=x onerror=alert(1)><script>alert(1)</script>\u200d\U0001f469\u200d\U0001f467e\u0301')
@given(note=marked_up_text)
async def test_hostile_free_text_posted_through_the_api_is_escaped_on_every_page(
    cases: StaffCommands, note: str
) -> None:
    state = await cases.start_case(open_case(f"HOSTILE-WEB-{uuid.uuid4().hex[:10]}"))
    state = await complete(cases, state, TaskKind.CONSENT)
    screening = open_task(state, TaskKind.SCREENING)
    async with api_client(create_app(services_for(cases))) as api:
        posted = await api.post(
            f"/api/tasks/{screening}/complete",
            json={"outcome": {**OUTCOMES[TaskKind.SCREENING], "note": note}},
            headers=PRACTITIONER_TOKEN,
        )
        assert posted.status_code == 200, posted.text

        await sign_in(api, "pr-001")
        pages = {
            "case page": await api.get(f"/cases/{state.case_id}"),
            "task page": await api.get(
                f"/tasks/{open_task(await cases.store.case_state(state.case_id), TaskKind.ASSESSMENT)}"
            ),
            "timeline document": await api.get(f"/api/audit/cases/{state.case_id}/timeline.html", headers=AUDITOR),
        }
    for where, page in pages.items():
        assert page.status_code == 200, (where, page.text[:300])
        assert page.headers["content-type"].startswith("text/html")
        for script in SCRIPTS:
            if script in note:
                assert script not in page.text, where
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, where
    # Where what people wrote is shown, it is shown whole, escaped.
    for where in ("case page", "timeline document"):
        assert str(escape(note)) in pages[where].text, where


async def test_a_lone_surrogate_in_free_text_is_refused_by_the_api(cases: StaffCommands) -> None:
    """A JSON body may spell a lone surrogate (\\ud800) that no UTF-8 text can hold: refused with a
    message naming the field, nothing recorded."""
    state = await cases.start_case(open_case(f"HOSTILE-SUR-{uuid.uuid4().hex[:10]}"))
    state = await complete(cases, state, TaskKind.CONSENT)
    screening = open_task(state, TaskKind.SCREENING)
    body = json.dumps({"outcome": {**OUTCOMES[TaskKind.SCREENING], "note": "before\ud800after"}})  # ensure_ascii
    assert "\\ud800" in body
    before = (await last_seq(cases, state.case_id), await history_length(cases, state.case_id))
    async with api_client(create_app(services_for(cases))) as api:
        response = await api.post(
            f"/api/tasks/{screening}/complete",
            content=body.encode(),
            headers={**PRACTITIONER_TOKEN, "content-type": "application/json"},
        )
    assert 400 <= response.status_code < 500, response.text
    assert "note" in response.json()["detail"], response.text
    assert (await last_seq(cases, state.case_id), await history_length(cases, state.case_id)) == before
    await assert_serving_and_never_failed(cases, state.case_id)
