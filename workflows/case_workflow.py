"""CaseWorkflow: one Liaison and Diversion episode, from identification to closure.

The workflow is the single writer of its case's event stream. Every command is an Update whose
validator runs the pure pathway rules, so a refused command never enters the history; the handler
decides the events again under a lock (commands on one case are serialised), appends them through an
idempotent activity, applies them and answers with the case's new version (the service reads the
case itself from the store: the whole state in every answer was the largest payload in the history).
"""

import asyncio
import contextlib
import itertools
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities, NotificationRequest
    from activities.store_activities import AppendEventsInput, StoreActivities
    from domain.commands import (
        ChangeCohort,
        ChaseReferral,
        ClaimTask,
        CloseCase,
        Command,
        CompleteTask,
        EndSupport,
        EscalateReferral,
        EscalateTask,
        LinkPerson,
        MarkOverdue,
        OpenCase,
        OpenScheduledTask,
        ReassignTask,
        RecordCourtReportDelivered,
        RecordDateOfBirth,
        RecordJusticeOutcome,
        RecordReferralOutcome,
        RecordReferralSendFailed,
        RecordReferralSent,
        RecordReleaseDate,
        RequestCourtReport,
        SendReminder,
        ShareInformation,
        UnlinkPerson,
        WithdrawConsent,
    )
    from domain.deadlines import commands_due, next_deadline, pending_deadlines
    from domain.decisions import DecisionContext
    from domain.errors import Rule, RuleViolation
    from domain.events import (
        CaseClosed,
        CourtReportRequested,
        CourtReportSubmitted,
        EventEnvelope,
        HearingOutcomeRecorded,
        LinkedEpisodeOpened,
        ReferralMade,
        ReferralOutcomeRecorded,
        ReminderSent,
        TaskEscalated,
    )
    from domain.limits import check_command_limits
    from domain.model import SYSTEM_ACTOR
    from domain.outcomes import Recipient, ReferralStatus, ServiceType
    from domain.reconnect import (
        HAND_OFF_REFERRAL,
        REFUSE_AFTER_SENTENCE,
        OpenHandedOffEpisode,
        refuse_after_sentence,
    )
    from domain.rules import decide
    from domain.state import CaseState, empty_state
    from domain.stream import apply_all, envelop
    from domain.tasks import TaskKind
    from store.access_log import AccessEntry
    from workflows import search_attributes
    from workflows.court_report_workflow import CASE_DELIVERY_SIGNAL, CourtReportWorkflow, court_report_workflow_id
    from workflows.messages import (
        CaseInput,
        CaseResult,
        CaseVersion,
        CourtReportDelivery,
        CourtReportInput,
        ReferralInput,
        ReferralProgress,
    )
    from workflows.referral_workflow import (
        CASE_PROGRESS_SIGNAL,
        SEND_ATTEMPT_TIMEOUT,
        ReferralWorkflow,
        referral_workflow_id,
    )
    from workflows.ui_text import PublicText, continued_details

APPEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["AppendConflict"],
)
# One append attempt: milliseconds on a quiet store. Measured (the append latency histogram) through
# the service on this 2-CPU machine, with other tests running beside: 16 journeys at once, a mean of
# 0.2 s on SQLite and 0.12 s on PostgreSQL, none over 1 s; 48 at once (the worker saturated), a mean
# of 1.2 s on SQLite and 0.14 s on PostgreSQL, none over 2.5 s. The timeout is what bounds the wait
# when a worker dies mid-append (the activity does not heartbeat): the server only then tries again,
# and the retry (idempotent: the same event ids) finds a committed append and brings the workflow up
# to date. So it is 4x the slowest measured, not the 30 s it was.
# There is no schedule-to-close bound, on purpose: an append is retried until the workflow knows what
# became of it. Giving up (say during a store outage) could leave an append committed that the
# workflow never took in, and its every later append would be refused as a conflict.
APPEND_ATTEMPT_TIMEOUT = timedelta(seconds=10)
# A mail server that stays down for about a day gives up; the notification stays "failed" in the table.
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(hours=1), maximum_attempts=30
)


# Patches (tests/histories/README.md): each guards a change that running cases' histories depend on.
OPEN_CASE_UNDER_LOCK = "open-case-under-lock"
SHORT_RUNS = "continue-as-new-after-run-events"
RECORD_SENDS_AFTER_CLOSURE = "record-sends-after-closure"
# Since it, a command that starts or signals child workflows (a referral decision, an answer to a
# referral, a court report, closure) answers in the workflow task that sends those commands, instead
# of one workflow task later, once the server has confirmed them: that wait made the referral decision
# and closure the slowest commands. A signal to a child still waits for that child's start.
CHILDREN_AFTER_ANSWER = "children-after-answer"
# (domain/reconnect.py) HAND_OFF_REFERRAL: a hand-off after custody refers the person, opens an adult's
# linked RECONNECT episode and moves the case on to closure; asked by the rule itself (DecisionContext).
# REFUSE_AFTER_SENTENCE: a start for the referral of a case that reached sentence is refused.
PATCHES = (
    OPEN_CASE_UNDER_LOCK,
    SHORT_RUNS,
    RECORD_SENDS_AFTER_CLOSURE,
    HAND_OFF_REFERRAL,
    REFUSE_AFTER_SENTENCE,
    CHILDREN_AFTER_ANSWER,
)

# The first answer to a referral: after it there is nothing to chase.
ANSWERS = (ReferralStatus.ACCEPTED, ReferralStatus.REJECTED, ReferralStatus.DECLINED_BY_PERSON)
# How long a closed case waits for its referrals' sends under way to report. A referral told of the
# closure makes at most two more attempts (the one under way, then one last), each ending within its
# timeout; the rest is room for a worker restart. A referral that never reports (its workflow
# terminated, or started by code from before the patch, which gave the send up without a word)
# holds the case no longer than this.
SENDS_REPORTED_WITHIN = 5 * SEND_ATTEMPT_TIMEOUT


@workflow.defn
class CaseWorkflow:
    @workflow.init
    def __init__(self, input: CaseInput) -> None:
        self._site = input.site
        self._state = input.snapshot or empty_state(input.case_id)
        self._lock = asyncio.Lock()
        # Work set going by recorded events that nothing waits for (notifications; since
        # CHILDREN_AFTER_ANSWER, child workflows' starts and signals), and the starts by workflow id.
        self._background: list[asyncio.Task[object]] = []
        self._starting: dict[str, asyncio.Task[object]] = {}
        self._short_runs = False  # set by run(): whether this run may continue as new at its events limit
        self._run_events_limit = input.run_events_limit
        # Referrals whose send ended with nothing to record (called off when the case closed, or their
        # workflow gone): the closed case waits for no report from them.
        self._sends_settled: set[str] = set()
        self._continued = workflow.info().continued_run_id is not None
        self._show()

    @workflow.run
    async def run(self, input: CaseInput) -> CaseResult:
        self._short_runs = workflow.patched(SHORT_RUNS)
        if input.opening is not None and self._state.stage is None:  # a linked episode opens itself
            async with self._lock:
                await self._record(input.opening)
        await workflow.wait_condition(lambda: self._state.stage is not None)
        while self._state.is_open:
            await self._wait_for_change_or_deadline()
            if self._run_is_long():
                await self._all_finished()
                workflow.continue_as_new(
                    CaseInput(
                        case_id=self._state.case_id,
                        site=self._site,
                        snapshot=self._state,
                        run_events_limit=self._run_events_limit,
                    )
                )
        if workflow.patched(RECORD_SENDS_AFTER_CLOSURE):  # runs recorded before it ended at closure
            await self._sends_reported()
        await self._all_finished()
        return CaseResult(
            case_id=self._state.case_id, version=self._state.version, close_reason=self._state.close_reason
        )

    @workflow.query
    def state(self) -> CaseState:
        return self._state

    @workflow.update
    async def open_case(self, command: OpenCase) -> CaseVersion:
        if not workflow.patched(OPEN_CASE_UNDER_LOCK):  # as the runs started before the patch decided
            if self._state.stage is not None:
                return CaseVersion.of(self._state)
            return await self._execute(command)
        # Looked at under the lock: a start that arrives while the first is still writing CaseOpened
        # waits for it, then answers with the case instead of being refused as already open.
        async with self._lock:
            if self._state.stage is None:
                await self._record_or_reject(command)
            elif (command.site, command.external_ref) != (self._state.site, self._state.external_ref):
                raise _rejection(RuleViolation(Rule.OTHER_REFERRAL, "this case was opened for another referral"))
            elif workflow.patched(REFUSE_AFTER_SENTENCE):
                try:  # L&D works up to sentence: after it, the person is pointed to the service now
                    refuse_after_sentence(self._state)
                except RuleViolation as violation:
                    raise _rejection(violation) from None
            return CaseVersion.of(self._state)  # the same referral started again: the existing case answers

    @open_case.validator
    def validate_open_case(self, command: OpenCase) -> None:
        _check_limits(command)
        if self._state.stage is not None:
            if (command.site, command.external_ref) != (self._state.site, self._state.external_ref):
                raise _rejection(RuleViolation(Rule.OTHER_REFERRAL, "this case was opened for another referral"))
            try:
                refuse_after_sentence(self._state)
            except RuleViolation as violation:
                raise _rejection(violation) from None
            return
        self._validate(command)

    @workflow.update
    async def complete_task(self, command: CompleteTask) -> CaseVersion:
        return await self._execute(command)

    @complete_task.validator
    def validate_complete_task(self, command: CompleteTask) -> None:
        self._validate(command)

    @workflow.update
    async def claim_task(self, command: ClaimTask) -> CaseVersion:
        return await self._execute(command)

    @claim_task.validator
    def validate_claim_task(self, command: ClaimTask) -> None:
        self._validate(command)

    @workflow.update
    async def reassign_task(self, command: ReassignTask) -> CaseVersion:
        return await self._execute(command)

    @reassign_task.validator
    def validate_reassign_task(self, command: ReassignTask) -> None:
        if command.assignee_sites is None:  # (accepted only from histories recorded before they were carried)
            raise _rejection(RuleViolation(Rule.INVALID_COMMAND, "say which sites the assignee works at"))
        self._validate(command)

    @workflow.update
    async def share_information(self, command: ShareInformation) -> CaseVersion:
        return await self._execute(command)

    @share_information.validator
    def validate_share_information(self, command: ShareInformation) -> None:
        self._validate(command)

    @workflow.update
    async def withdraw_consent(self, command: WithdrawConsent) -> CaseVersion:
        return await self._execute(command)

    @withdraw_consent.validator
    def validate_withdraw_consent(self, command: WithdrawConsent) -> None:
        self._validate(command)

    @workflow.update
    async def record_referral_outcome(self, command: RecordReferralOutcome) -> CaseVersion:
        return await self._execute(command)

    @record_referral_outcome.validator
    def validate_record_referral_outcome(self, command: RecordReferralOutcome) -> None:
        self._validate(command)

    @workflow.update
    async def request_court_report(self, command: RequestCourtReport) -> CaseVersion:
        return await self._execute(command)

    @request_court_report.validator
    def validate_request_court_report(self, command: RequestCourtReport) -> None:
        self._validate(command)

    @workflow.update
    async def close_case(self, command: CloseCase) -> CaseVersion:
        return await self._execute(command)

    @close_case.validator
    def validate_close_case(self, command: CloseCase) -> None:
        self._validate(command)

    @workflow.update
    async def record_date_of_birth(self, command: RecordDateOfBirth) -> CaseVersion:
        return await self._execute(command)

    @record_date_of_birth.validator
    def validate_record_date_of_birth(self, command: RecordDateOfBirth) -> None:
        self._validate(command)

    @workflow.update
    async def change_cohort(self, command: ChangeCohort) -> CaseVersion:
        return await self._execute(command)

    @change_cohort.validator
    def validate_change_cohort(self, command: ChangeCohort) -> None:
        self._validate(command)

    @workflow.update
    async def record_justice_outcome(self, command: RecordJusticeOutcome) -> CaseVersion:
        return await self._execute(command)

    @record_justice_outcome.validator
    def validate_record_justice_outcome(self, command: RecordJusticeOutcome) -> None:
        self._validate(command)

    @workflow.update
    async def record_release_date(self, command: RecordReleaseDate) -> CaseVersion:
        return await self._execute(command)

    @record_release_date.validator
    def validate_record_release_date(self, command: RecordReleaseDate) -> None:
        self._validate(command)

    @workflow.update
    async def link_person(self, command: LinkPerson) -> CaseVersion:
        return await self._execute(command)

    @link_person.validator
    def validate_link_person(self, command: LinkPerson) -> None:
        self._validate(command)

    @workflow.update
    async def unlink_person(self, command: UnlinkPerson) -> CaseVersion:
        return await self._execute(command)

    @unlink_person.validator
    def validate_unlink_person(self, command: UnlinkPerson) -> None:
        self._validate(command)

    def _validate(self, command: Command) -> None:
        # Validators must not touch workflow randomness (a rejected update leaves no history to
        # replay it from), so ids here are placeholders; the handler decides again with real ones.
        _check_limits(command)
        placeholders = (f"validation-{n}" for n in itertools.count())
        context = DecisionContext(now=workflow.now(), new_id=lambda: next(placeholders), site=self._site)
        try:
            decide(self._state, command, context)
        except RuleViolation as violation:
            raise _rejection(violation) from None

    async def _execute(self, command: Command) -> CaseVersion:
        async with self._lock:
            await self._record_or_reject(command)
            return CaseVersion.of(self._state)

    async def _record_or_reject(self, command: Command) -> None:
        """Record the command; callers hold the lock."""
        try:
            await self._record(command)
        except RuleViolation as violation:  # the state moved on between validation and now
            raise _rejection(violation) from None

    async def _record(self, command: Command) -> list[EventEnvelope]:
        """Decide, append, apply; returns what was recorded. Callers hold the lock."""
        # A rule changed under a patch asks `workflow.patched` itself, at the point it decides differently.
        context = DecisionContext(now=workflow.now(), new_id=self._new_id, site=self._site, patched=workflow.patched)
        events = decide(self._state, command, context)
        if not events:
            return []
        envelopes = envelop(self._state, events, command.actor, context.now, self._new_id)
        await workflow.execute_activity_method(
            StoreActivities.append_events,
            AppendEventsInput(
                case_id=self._state.case_id,
                events=envelopes,
                access=AccessEntry.of_change(self._state.case_id, command, context.now),
            ),
            start_to_close_timeout=APPEND_ATTEMPT_TIMEOUT,
            retry_policy=APPEND_RETRY,
            summary=PublicText(f"record {', '.join(type(e).__name__ for e in events)}"),
        )
        self._state = apply_all(self._state, envelopes)
        self._show()
        await self._act_on(envelopes)
        changes = search_attributes.updates(workflow.info().typed_search_attributes, self._state)
        if changes:
            workflow.upsert_search_attributes(changes)
        return envelopes

    def _run_is_long(self) -> bool:
        info = workflow.info()
        if info.is_continue_as_new_suggested():
            return True
        limit = self._run_events_limit
        return self._short_runs and limit is not None and info.get_current_history_length() >= limit

    async def _wait_for_change_or_deadline(self) -> None:
        """Sleep until the next reminder, due time or escalation, waking early only when it moves."""
        deadline = next_deadline(self._state)

        def should_wake() -> bool:
            return not self._state.is_open or next_deadline(self._state) != deadline or self._run_is_long()

        if deadline is None:
            await workflow.wait_condition(should_wake)
        elif deadline > workflow.now():
            with contextlib.suppress(TimeoutError):  # the deadline came before any change
                await workflow.wait_condition(
                    should_wake,
                    timeout=deadline - workflow.now(),
                    timeout_summary=timer_summary(self._state),
                )
        async with self._lock:
            while due := commands_due(self._state, workflow.now()):
                await self._record(due[0])

    @workflow.signal(name=CASE_PROGRESS_SIGNAL)
    async def referral_progress(self, progress: ReferralProgress) -> None:
        """A referral's workflow reports that it sent the referral (or could not), that a chase or
        escalation is due, or that the case closed before any attempt got the referral through."""
        if progress.kind == "send_stopped":  # nothing happened to record: the case stops waiting for it
            self._sends_settled.add(progress.referral_id)
            self._show()
            return
        command: Command
        match progress.kind:
            case "sent":
                assert progress.channel is not None
                command = RecordReferralSent(
                    actor=SYSTEM_ACTOR, referral_id=progress.referral_id, channel=progress.channel
                )
            case "send_failed":
                command = RecordReferralSendFailed(
                    actor=SYSTEM_ACTOR, referral_id=progress.referral_id, reason=progress.reason or "not delivered"
                )
            case "chase_due":
                command = ChaseReferral(actor=SYSTEM_ACTOR, referral_id=progress.referral_id)
            case "escalation_due":
                command = EscalateReferral(actor=SYSTEM_ACTOR, referral_id=progress.referral_id)
        async with self._lock:
            try:
                await self._record(command)
            except RuleViolation as violation:
                # E.g. the answer came in the moment the chase fell due: nothing to chase any more.
                workflow.logger.info("referral progress not recorded", extra={"rule": violation.rule})

    async def _act_on(self, envelopes: list[EventEnvelope]) -> None:
        """What recorded events set going: referral workflows, their stopping, notifications."""
        for envelope in envelopes:
            event = envelope.event
            if isinstance(event, ReminderSent | TaskEscalated):
                self._background.append(asyncio.create_task(self._notify(envelope)))
            elif isinstance(event, ReferralMade):
                child = referral_workflow_id(self._state.case_id, event.referral_id)
                await self._child_work(self._start_referral(event), starts=child)
            elif isinstance(event, ReferralOutcomeRecorded) and event.status in ANSWERS:
                await self._child_work(self._stop_chasing(event.referral_id))
            elif isinstance(event, CourtReportRequested):
                child = court_report_workflow_id(self._state.case_id, event.report_id)
                await self._child_work(self._start_court_report(event), starts=child)
            elif isinstance(event, LinkedEpisodeOpened):
                await self._start_linked_episode(event, envelopes)
            elif isinstance(event, CourtReportSubmitted):
                child = court_report_workflow_id(self._state.case_id, event.report_id)
                await self._child_work(self._signal_child(child, "submitted"))
            elif isinstance(event, CaseClosed):
                for waiting in self._state.referrals:
                    if waiting.awaiting_answer:
                        await self._child_work(self._stop_chasing_or_settle(waiting.referral_id))
                for report in self._state.court_reports:
                    if report.submitted_at is None and report.hearing_at > workflow.now():
                        child = court_report_workflow_id(self._state.case_id, report.report_id)
                        await self._child_work(self._signal_child(child, "cancel"))

    async def _child_work(self, work: Coroutine[Any, Any, object], starts: str | None = None) -> None:
        """Start (the workflow `starts`) or signal a child workflow: since CHILDREN_AFTER_ANSWER set
        going, its command sent with this workflow task, not awaited."""
        if not workflow.patched(CHILDREN_AFTER_ANSWER):
            await work
            return
        going = asyncio.create_task(work)
        self._background.append(going)
        if starts is not None:
            self._starting[starts] = going

    @workflow.signal(name=CASE_DELIVERY_SIGNAL)
    async def court_report_delivered(self, delivery: CourtReportDelivery) -> None:
        """A court report's workflow has delivered the report to its recipients."""
        command = RecordCourtReportDelivered(
            actor=SYSTEM_ACTOR, report_id=delivery.report_id, recipients=delivery.recipients
        )
        async with self._lock:
            try:
                await self._record(command)
            except RuleViolation as violation:
                workflow.logger.info("court report delivery not recorded", extra={"rule": violation.rule})

    async def _start_court_report(self, requested: CourtReportRequested) -> None:
        # The same addresses as before for a site without per-court ones (every case so far): no patch needed.
        setting, age_band = self._state.setting, self._state.age_band
        assert setting is not None
        addresses: dict[Recipient, str] = {}
        for recipient in requested.recipients:
            address = self._site.court_report_address(setting, age_band, recipient)
            assert address is not None  # the rules refused a report to a recipient without one
            addresses[recipient] = address
        await workflow.start_child_workflow(
            CourtReportWorkflow.run,
            CourtReportInput(
                case_id=self._state.case_id,
                report_id=requested.report_id,
                purpose=requested.purpose,
                hearing_at=requested.hearing_at,
                addresses=addresses,
            ),
            id=court_report_workflow_id(self._state.case_id, requested.report_id),
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            static_summary=f"court report ({requested.purpose}) for a hearing",
            static_details=(
                f"Court report {requested.report_id} of case {self._state.case_id} at site {self._state.site}: "
                f"purpose {requested.purpose}; hearing {_utc(requested.hearing_at)}; "
                f"to {', '.join(str(r) for r in requested.recipients)}"
            ),
        )

    async def _start_linked_episode(self, linked: LinkedEpisodeOpened, envelopes: list[EventEnvelope]) -> None:
        """An adult's hand-off after custody: the linked RECONNECT episode, a case workflow of its own
        that opens itself from its input (no personal data: it is linked by case id)."""
        [hearing] = [e.event for e in envelopes if isinstance(e.event, HearingOutcomeRecorded)]
        [made] = [
            e.event
            for e in envelopes
            if isinstance(e.event, ReferralMade) and e.event.request.service is ServiceType.RECONNECT
        ]
        assert self._state.setting is not None and self._state.age_band is not None
        assert made.request.service_id is not None
        opening = OpenHandedOffEpisode(
            actor=SYSTEM_ACTOR,
            linked_case_id=self._state.case_id,
            site=self._state.site,
            setting=self._state.setting,
            age_band=self._state.age_band,
            service_id=made.request.service_id,
            hearing_result=hearing.result,
            person_id=self._state.person_id,
        )
        await workflow.start_child_workflow(
            CaseWorkflow.run,
            CaseInput(case_id=linked.linked_case_id, site=self._site, opening=opening),
            id=linked.linked_case_id,
            # The RECONNECT episode outlives the L&D episode that opened it.
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            static_summary=f"RECONNECT episode at {self._state.site}",
            static_details=(
                f"Care after custody for case {self._state.case_id} at site {self._state.site} "
                f"({hearing.result}); referral to {made.request.service_id}"
            ),
        )

    async def _start_referral(self, made: ReferralMade) -> None:
        service = next(s for s in self._site.services if s.service_id == made.request.service_id)
        await workflow.start_child_workflow(
            ReferralWorkflow.run,
            ReferralInput(
                case_id=self._state.case_id,
                referral_id=made.referral_id,
                service=service,
                request=made.request,
                calendar=self._site.calendar,
                timings=self._site.referral_timings,
            ),
            id=referral_workflow_id(self._state.case_id, made.referral_id),
            # A case that continues as new must not take its referrals down with the old run.
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            static_summary=f"referral to {service.service_id} ({service.type})",
            static_details=(
                f"Referral {made.referral_id} of case {self._state.case_id} at site {self._state.site}: "
                f"service {service.service_id} ({service.type}, by {service.delivery}); "
                f"chased after {self._site.referral_timings.chase_after} and escalated after "
                f"{self._site.referral_timings.escalate_after} {self._site.referral_timings.unit} unanswered"
            ),
        )

    async def _stop_chasing(self, referral_id: str) -> bool:
        return await self._signal_child(referral_workflow_id(self._state.case_id, referral_id), "stop_chasing")

    async def _stop_chasing_or_settle(self, referral_id: str) -> None:
        if not await self._stop_chasing(referral_id):
            self._sends_settled.add(referral_id)  # gone: it will report nothing

    async def _signal_child(self, workflow_id: str, signal: str) -> bool:
        """Whether the child got the signal (once it has started, if its start is under way)."""
        if (starting := self._starting.get(workflow_id)) is not None:
            await starting
        try:
            await workflow.get_external_workflow_handle(workflow_id).signal(signal)
        except FailureError:
            # Already gone (an operator terminated it, say): there is nothing left to tell it.
            workflow.logger.warning("child workflow not found", extra={"case_id": self._state.case_id})
            return False
        return True

    def _sends_under_way(self) -> list[str]:
        """Referrals whose send has not ended yet: not sent, not failed, not called off."""
        return [
            r.referral_id
            for r in self._state.referrals
            if r.status is ReferralStatus.DRAFTED and r.send_failed is None and r.referral_id not in self._sends_settled
        ]

    async def _sends_reported(self) -> None:
        """After closure, before the run ends: each send still under way reports what became of it
        (sent, refused, or called off), and the case records it. Nothing else happens meanwhile: a
        chase or escalation that falls due is refused by the closed case."""
        if not self._sends_under_way():
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: not self._sends_under_way(),
                timeout=SENDS_REPORTED_WITHIN,
                timeout_summary=PublicText("referral sends under way when the case closed"),
            )
        if unreported := self._sends_under_way():
            workflow.logger.warning(
                "referral sends not reported before the case ended",
                extra={"case_id": self._state.case_id, "referrals": len(unreported)},
            )

    def _show(self) -> None:
        """The case's live line in the Temporal UI. A run that continued as new started without the
        static summary and details the first run was given (neither the SDK's continue_as_new nor the
        server carries them over), so they head its live line instead."""
        live = current_details(self._state)
        if not self._state.is_open and (sending := self._sends_under_way()):
            live = PublicText(f"{live} · referral sends finishing: {len(sending)}")
        if self._continued and self._state.stage is not None:
            live = continued_details(self._state, live)
        workflow.set_current_details(live)

    async def _notify(self, envelope: EventEnvelope) -> None:
        event = envelope.event
        assert isinstance(event, ReminderSent | TaskEscalated)
        task = self._state.tasks[event.task_id]
        request = NotificationRequest(
            notification_id=envelope.event_id,
            case_id=self._state.case_id,
            task_id=task.task_id,
            kind="reminder" if isinstance(event, ReminderSent) else "escalation",
            task_kind=task.kind,
            site=task.site,
            due_at=task.due_at,
            assignee=task.assignee,
            candidate_roles=task.candidate_roles,
        )
        try:
            await workflow.execute_activity_method(
                NotificationActivities.notify_staff,
                request,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=NOTIFY_RETRY,
                summary=PublicText(f"{request.kind}: {task.kind} task"),
            )
        except ActivityError:
            # The notifications table says it failed and why; the case itself goes on.
            workflow.logger.warning("notification failed", extra={"case_id": self._state.case_id})

    async def _all_finished(self) -> None:
        """Before the run ends or continues as new: no update handler or work set going still running;
        work that failed (a child that could not be started) fails the workflow task, as it did when
        its Update awaited it."""
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and all(task.done() for task in self._background)
        )
        for task in self._background:
            task.result()

    def _new_id(self) -> str:
        return str(workflow.uuid4())


# Tasks due by the screening SLA (counted from identification).
SCREENING_SLA_KINDS = (TaskKind.CONSENT, TaskKind.SCREENING)


def _words(kind: TaskKind) -> str:
    return str(kind).replace("_", " ")


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def current_details(state: CaseState) -> PublicText:
    """The Temporal UI's live line for a case: stage, site, open tasks and the next due time. Only
    coded facts (never a name, reference or anything a person wrote), so anyone who can see the UI
    may read it."""
    if state.stage is None:
        return PublicText("waiting for the case to open")
    facts = [f"stage: {state.stage}", f"site: {state.site}"]
    if state.setting is not None:
        facts.append(f"setting: {state.setting}")
    tasks = sorted(state.open_tasks, key=lambda task: task.due_at)
    if tasks:
        facts.append(f"open tasks: {len(tasks)} ({', '.join(_words(task.kind) for task in tasks)})")
        facts.append(f"next due: {_utc(tasks[0].due_at)}")
        overdue = sum(1 for task in tasks if task.overdue)
        if overdue:
            facts.append(f"overdue: {overdue}")
        if tasks[0].assignee:
            facts.append(f"assigned: {tasks[0].assignee}")
    elif state.is_open:
        facts.append("open tasks: none")
    if state.close_reason is not None:
        facts.append(f"closed: {state.close_reason}")
    return PublicText(" · ".join(facts))


def timer_summary(state: CaseState) -> PublicText:
    """What the case's next timer is for, in the pathway's words ('screening SLA', 'court report due')."""
    return PublicText(_timer_purpose(state))


def _timer_purpose(state: CaseState) -> str:
    deadlines = pending_deadlines(state)
    if not deadlines:
        return "waiting for a change"
    command = deadlines[0].command
    if isinstance(command, EndSupport):
        return "end of link-work support"
    if isinstance(command, OpenScheduledTask | SendReminder | MarkOverdue | EscalateTask):
        kind = state.tasks[command.task_id].kind
        if isinstance(command, OpenScheduledTask):
            return f"{_words(kind)} task opens"
        if isinstance(command, SendReminder):
            return f"reminder: {_words(kind)} due soon"
        if isinstance(command, EscalateTask):
            return f"escalate overdue {_words(kind)}"
        if kind in SCREENING_SLA_KINDS:
            return f"screening SLA: {_words(kind)} due"
        return f"{_words(kind)} due"
    return "task reminder, due time or escalation"


def _check_limits(command: Command) -> None:
    try:
        check_command_limits(command)
    except RuleViolation as violation:
        raise _rejection(violation) from None


def _rejection(violation: RuleViolation) -> ApplicationError:
    return ApplicationError(violation.message, violation.rule, type="RuleViolation", non_retryable=True)
