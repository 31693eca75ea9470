"""How fast auditors can check the whole record: `verify --all` and `replay --all` on a store of 10,000 cases.

Issue 9's targets: `audit verify --all` at 20,000 events per second or more on SQLite; replay of a
case's Temporal history well under 100 ms, for a two-year case too. The store is built in two ways:

1. `--journeys` cases (default 200) run the standard journey (no referral) through the real
   workflow on its own Temporal dev server, with the production worker, payload codec and a SQLite
   store: their Temporal histories are what `replay --all` replays.
2. The store is then filled up to `--cases` (default 10,000) without Temporal (at ~5 journeys a
   second, 10,000 would take half an hour), as the workflow itself decides a case: each command of
   the same journey has its personal fields sealed with the person's own key, is `decide`d on the
   case's state and `envelop`ed; the case's 22 events are then written with one `EventStore.append`
   (the workflow appends once per command: one append per case is the one shortcut), so hash
   chains, bodies and projections come from the real append path, with new case ids. A filled
   case's event types are checked against a real journey's stream.

Then it times:
- verify: every stream's hash chain and sequence, each event's columns against its hashed body, and
  the projections against a fresh fold, as `pathway audit verify --all` does (in process, and the
  CLI itself end to end);
- verify since the latest checkpoint: a checkpoint, 1% more events (new cases, as filled), the next
  checkpoint, 1% more again; then `pathway audit verify --since-checkpoint` (issue 21: under 1 s),
  in process and the CLI end to end (and the CLI's process start alone, for comparison);
- rebuild: `EventStore.rebuild_projections` (what `pathway audit rebuild-projections` runs) over
  every case, checked to give back the same rows;
- replay: every history on the dev server fetched and replayed against the current workflow code,
  as `pathway audit replay --all` does (fetch and replay together, replay alone, and the CLI);
- a two-year case: one case run on the time-skipping test server through two years of its
  reminders, escalations, chases, contacts and follow-ups; its history replayed alone (median of
  `--repeats`), as `pathway audit replay --history FILE` would.

    .venv/bin/python -m bench.audit_speed [--cases 10000] [--journeys 200] [--concurrency 32]

Prints the figures beside their targets and appends a row to bench/results/audit_speed.csv.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.mailer import SmtpMailer
from bench.support import (
    PRACTITIONER,
    MailSink,
    free_port,
    in_parallel,
    new_key_ring,
    opening,
    pathway_stack,
    write_row,
)
from cli.demo import ADULT_OUTCOMES, JOURNEY
from domain.commands import Command, CompleteTask, OpenCase, RecordReferralOutcome, RequestCourtReport, ShareInformation
from domain.config import PathwayConfig
from domain.decisions import DecisionContext
from domain.events import EventEnvelope
from domain.identity import case_id_for, person_id_for
from domain.model import Actor, AgeBand, ReferralSource, Role, Setting, Stage
from domain.outcomes import CourtReportPurpose, Disclosure, LawfulBasis, Recipient, ReferralStatus
from domain.personal import Model, map_personal
from domain.rules import decide
from domain.state import CaseState, empty_state
from domain.stream import apply_all, envelop
from domain.tasks import TaskKind, parse_outcome
from service.replay import WorkflowCode, listed_histories, replay_histories, runs_first_to_last
from service.staff import StaffCommands
from store.checkpoints import Checkpoint, Checkpoints, PublicKey, SigningKey
from store.event_store import EventStore
from store.keyring import KeyRing
from store.person_keys import PersonKeys
from store.record_verification import Verification, verify_since
from store.sealing import seal_leaf
from workers.binaries import installed_binary
from workers.client import data_converter
from workers.settings import SHIPPED_CONFIG, load_config
from workers.temporal_setup import ensure_search_attributes
from workers.worker import build_worker
from workflows.case_workflow import CaseWorkflow
from workflows.messages import CaseInput
from workflows.registry import WORKFLOWS

T = TypeVar("T")

# The standard journey to closure, without a referral (a referral's workflow waits for the service).
OUTCOMES: dict[TaskKind, dict[str, Any]] = {
    **ADULT_OUTCOMES,
    TaskKind.REFERRAL_DECISION: {"referrals": [], "reason_if_none": "Already supported by the community team"},
}


async def journey(cases: StaffCommands, number: int) -> None:
    state = await cases.start_case(opening(number))
    for kind in JOURNEY:
        [task] = [t for t in state.open_tasks if t.kind is kind]
        state = await cases.complete_task(task.task_id, OUTCOMES[kind], PRACTITIONER)


async def fill_store(
    store: EventStore, keys: PersonKeys, config: PathwayConfig, case_id_key: bytes, first: int, count: int
) -> int:
    """Cases `first` to `first + count - 1` of the same journey, recorded as the workflow records them
    but without Temporal: each command's personal fields sealed with the person's own key (made as
    `Sealer.seal` makes it), `decide`d on the case's state and `envelop`ed, then the whole journey
    written with one `EventStore.append` (hash chain and projections by the real append path).
    Returns the events written."""
    written = 0
    for number in range(first, first + count):
        opened = opening(number, prefix="FILL")
        case_id = case_id_for(case_id_key, opened.site, opened.external_ref)
        person_id = person_id_for(case_id_key, case_id)
        key = await keys.ensure(person_id, case_id)
        assert key is not None

        def sealed(model: Model, key: bytes = key, person_id: str = person_id) -> Model:
            return map_personal(model, lambda leaf: seal_leaf(key, person_id, leaf))

        context = DecisionContext(
            now=datetime.now(UTC), new_id=lambda: str(uuid.uuid4()), site=config.site(opened.site)
        )
        state = empty_state(case_id)
        envelopes: list[EventEnvelope] = []
        for kind in [None, *JOURNEY]:
            command: Command = sealed(opened)
            if kind is not None:
                [task] = [t for t in state.open_tasks if t.kind is kind]
                outcome = sealed(parse_outcome(kind, OUTCOMES[kind])).model_dump(mode="json")
                command = CompleteTask(actor=PRACTITIONER, task_id=task.task_id, outcome=outcome)
            decided = envelop(state, decide(state, command, context), command.actor, context.now, context.new_id)
            state = apply_all(state, decided)
            envelopes += decided
        written += await store.append(case_id, envelopes)
    return written


async def verify_all(store: EventStore) -> tuple[int, list[str]]:
    """What `pathway audit verify --all` checks (without a checkpoint); returns the events checked and
    the failed cases."""
    events, failed = 0, []
    async for checked in store.check_cases(await store.recorded_case_ids()):
        events += checked.chain.events
        if not checked.chain.ok or checked.projection_differences:
            failed.append(checked.chain.case_id)
    return events, failed


@dataclass(frozen=True)
class SinceTimed:
    new_events: int
    seconds: float  # in process: the latest checkpoint read, then `verify_since`
    cli_seconds: float  # `pathway audit verify --since-checkpoint`, process start included
    cli_start_seconds: float  # `pathway audit verify --help`: the process start alone
    heads: int  # stream heads the checkpoint signed
    recorded: int  # event hashes it recorded (those new since the checkpoint before it)


async def since_checkpoint(
    store: EventStore, cases: StaffCommands, first: int, new_cases: int, env: dict[str, str]
) -> SinceTimed:
    """`verify --since-checkpoint` as an hourly check meets it: a checkpoint, `new_cases` more cases,
    the next checkpoint (which records their events' hashes, as the schedule's do), and `new_cases`
    more, which is what is timed. Both checkpoints are made by `pathway audit checkpoint` (each
    verifies the whole store first); the new cases (numbered from `first`) are new journeys, written
    as `fill_store` writes them."""

    async def add(start: int) -> int:
        return await fill_store(store, cases.sealer.keys, cases.config, cases.case_id_key, start, new_cases)

    for start in (first, first + new_cases):
        await run_cli("audit", "checkpoint", "--as", "au-001", env=env)
        added = await add(start)
    folder = Path(env["PATHWAY_DATA_DIR"])
    key = SigningKey.parse((folder / "checkpoint.key").read_text()).public
    reader = EventStore.connect(f"sqlite+aiosqlite:///{folder / 'pathway.db'}", read_only=True)
    try:
        (verification, checkpoint), seconds = await timed(verify_since_latest(reader, key))
    finally:
        await reader.close()
    assert verification.ok, verification.summary()
    assert verification.since is not None and verification.since.new_events == added
    cli_seconds = await run_cli("audit", "verify", "--since-checkpoint", "--as", "au-001", env=env)
    # What of the CLI's time is the process starting (Python, its imports, the command's parsing).
    start_seconds = await run_cli("audit", "verify", "--help", env=env)
    recorded = sum(len(run.hashes) for run in checkpoint.body.events)
    return SinceTimed(added, seconds, cli_seconds, start_seconds, len(checkpoint.body.streams), recorded)


async def verify_since_latest(store: EventStore, key: PublicKey) -> tuple[Verification, Checkpoint]:
    """What `pathway audit verify --since-checkpoint` does: the latest stored checkpoint, then `verify_since`."""
    checkpoint = await Checkpoints(store.engine).latest()
    assert checkpoint is not None
    return await verify_since(store, checkpoint, key), checkpoint


async def fetched(histories: list[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history


async def replay_all(histories: AsyncIterator[WorkflowHistory], code: WorkflowCode) -> tuple[int, int, int]:
    """Histories replayed, their events, and how many failed."""
    runs = events = failures = 0
    async for outcome in replay_histories(histories, code):
        runs, events = runs + 1, events + outcome.events
        failures += outcome.failure is not None
    return runs, events, failures


async def run_cli(*args: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    pathway = str(Path(sys.executable).parent / "pathway")
    process = await asyncio.create_subprocess_exec(
        pathway, *args, env=os.environ | env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, errors = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"pathway {' '.join(args)} failed: {errors.decode()[-500:]}")
    return time.perf_counter() - started


VERIFY_TARGET = 20_000  # events per second, `audit verify --all` on SQLite (issue 9)
SINCE_TARGET_S = 1.0  # `audit verify --since-checkpoint` with 1% of the events new (issue 21)
NEW_SHARE = 0.01  # the events added after the latest checkpoint, as a share of the store's
REPLAY_TARGET_MS = 100  # per history, "well under" for a two-year case (issue 9)


async def timed(work: Awaitable[T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = await work
    return result, time.perf_counter() - started


async def main(count: int, journeys: int, concurrency: int, repeats: int) -> None:
    figures: dict[str, object] = {"cases": count, "journey_cases": journeys, "filled_cases": count - journeys}
    async with pathway_stack() as stack:
        _, journeys_s = await timed(in_parallel(journeys, concurrency, lambda number: journey(stack.cases, number)))
        print(
            f"{journeys} cases through real journeys on Temporal in {journeys_s:.1f} s ({journeys / journeys_s:.1f}/s)"
        )
        cases = stack.cases
        filled, fill_s = await timed(
            fill_store(stack.store, cases.sealer.keys, cases.config, cases.case_id_key, 0, count - journeys)
        )
        print(f"{count - journeys} more cases ({filled} events) through decide + EventStore.append in {fill_s:.1f} s")
        await same_shape(stack.store, cases)

        folder = Path(stack.cli_env["PATHWAY_DATA_DIR"])
        reader = EventStore.connect(f"sqlite+aiosqlite:///{folder / 'pathway.db'}", read_only=True)
        try:
            (events, failed), verify_s = await timed(verify_all(reader))
        finally:
            await reader.close()
        assert not failed, f"cases failed to verify: {failed[:5]}"
        verify_cli_s = await run_cli("audit", "verify", "--all", "--as", "au-001", env=stack.cli_env)
        rebuilt, rebuild_s = await timed(stack.store.rebuild_projections())
        assert rebuilt.cases == count and not rebuilt.changed, f"the rebuild changed {rebuilt.changed[:5]}"
        new_cases = max(1, round(events * NEW_SHARE * (count - journeys) / filled))  # a filled case's 22 events each
        since = await since_checkpoint(stack.store, cases, count - journeys, new_cases, stack.cli_env)

        code = WorkflowCode(WORKFLOWS, data_converter(stack.payload_keys))
        query = f"TaskQueue = '{stack.task_queue}'"
        (runs, history_events, failures), fetch_replay_s = await timed(
            replay_all(listed_histories(stack.env.client, query), code)
        )
        assert failures == 0, f"{failures} histories failed to replay"
        histories = [history async for history in listed_histories(stack.env.client, query)]
        _, replay_s = await timed(replay_all(fetched(histories), code))
        replay_cli_s = await run_cli("audit", "replay", "--query", query, "--as", "au-001", env=stack.cli_env)
        payload_keys = stack.payload_keys
        # On the dev server a long case continues as new every RUN_EVENTS_LIMIT events (the
        # time-skipping server cannot take that, so the two-year case below runs in one run).
        rolled_runs = await runs_first_to_last(stack.env.client, await long_case(stack.cases))
        rolled_ms = [statistics.median(await replay_times(run, code, repeats)) for run in rolled_runs]

    master_keys, _ = new_key_ring("bench-two-years")
    async with time_skipping_worker(payload_keys, master_keys) as (env, task_queue, config):
        case_id, two_years_s = await timed(two_year_case(env, task_queue, config))
        long_runs = await runs_first_to_last(env.client, case_id)
    # A worker picking the case up replays its current run; an audit replays every run.
    run_ms: list[list[float]] = [[] for _ in long_runs]
    whole_ms = []
    for _ in range(repeats):
        for number, run in enumerate(long_runs):
            (_, _, long_failures), seconds = await timed(replay_all(fetched([run]), code))
            assert long_failures == 0, f"run {number + 1} of the two-year case failed to replay"
            run_ms[number].append(seconds * 1000)
        whole_ms.append(sum(times[-1] for times in run_ms))
    longest_run = max(range(len(long_runs)), key=lambda number: len(long_runs[number].events))
    replays = run_ms[longest_run]
    two_year_ms = statistics.median(replays)
    long_events = sum(len(run.events) for run in long_runs)
    print(
        f"a two-year case run on the time-skipping server in {two_years_s:.1f} s: {long_events} events in "
        f"{len(long_runs)} runs (continued as new), the longest {len(long_runs[longest_run].events)} events"
    )

    print(
        f"a long case on the dev server: {sum(len(run.events) for run in rolled_runs)} events in {len(rolled_runs)} "
        f"runs of at most {max(len(run.events) for run in rolled_runs)}"
    )
    figures |= {
        "rolled_runs": len(rolled_runs),
        "rolled_run_events_max": max(len(run.events) for run in rolled_runs),
        "rolled_run_replay_ms_max": round(max(rolled_ms), 1),
        "events": events,
        "verify_s": round(verify_s, 2),
        "verify_events_per_s": round(events / verify_s),
        "verify_cli_s": round(verify_cli_s, 2),
        "verify_cli_events_per_s": round(events / verify_cli_s),
        "rebuild_s": round(rebuild_s, 2),
        "since_checkpoint_new_events": since.new_events,
        "since_checkpoint_s": round(since.seconds, 3),
        "since_checkpoint_cli_s": round(since.cli_seconds, 2),
        "cli_start_s": round(since.cli_start_seconds, 2),
        "rebuild_tasks": rebuilt.tasks,
        "histories": runs,
        "history_events": history_events,
        "fetch_and_replay_s": round(fetch_replay_s, 2),
        "fetch_and_replay_events_per_s": round(history_events / fetch_replay_s),
        "replay_only_s": round(replay_s, 2),
        "replay_only_events_per_s": round(history_events / replay_s),
        "replay_ms_per_history": round(replay_s * 1000 / runs, 1),
        "replay_cli_s": round(replay_cli_s, 2),
        "two_year_history_events": long_events,
        "two_year_runs": len(long_runs),
        "two_year_longest_run_events": len(long_runs[longest_run].events),
        "two_year_replay_ms_median": round(two_year_ms, 1),
        "two_year_replay_ms_min": round(min(replays), 1),
        "two_year_all_runs_replay_ms_median": round(statistics.median(whole_ms), 1),
        "journeys_per_s": round(journeys / journeys_s, 1),
        "fill_s": round(fill_s, 1),
    }
    per_history_ms = replay_s * 1000 / runs
    rows: list[tuple[str, str, str, bool | None]] = [
        (
            "verify --all, in process",
            f"{events / verify_s:,.0f} events/s",
            f">= {VERIFY_TARGET:,}/s",
            events / verify_s >= VERIFY_TARGET,
        ),
        (
            "verify --all, CLI end to end",
            f"{events / verify_cli_s:,.0f} events/s",
            f">= {VERIFY_TARGET:,}/s",
            events / verify_cli_s >= VERIFY_TARGET,
        ),
        (
            "verify --since-checkpoint",
            f"{since.seconds:.2f} s",
            f"< {SINCE_TARGET_S} s",
            since.seconds < SINCE_TARGET_S,
        ),
        (
            "  the same, CLI end to end",
            f"{since.cli_seconds:.2f} s",
            f"< {SINCE_TARGET_S} s",
            since.cli_seconds < SINCE_TARGET_S,
        ),
        ("rebuild-projections", f"{rebuild_s:.1f} s", "-", None),
        ("replay --all (fetch + replay)", f"{history_events / fetch_replay_s:,.0f} events/s", "-", None),
        ("replay alone", f"{history_events / replay_s:,.0f} events/s", "-", None),
        (
            "replay, per journey history",
            f"{per_history_ms:.1f} ms",
            f"< {REPLAY_TARGET_MS} ms",
            per_history_ms < REPLAY_TARGET_MS,
        ),
        (
            "replay, two-year case's run",
            f"{two_year_ms:.0f} ms",
            f"< {REPLAY_TARGET_MS} ms",
            two_year_ms < REPLAY_TARGET_MS,
        ),
        (
            "replay, a long case's run",
            f"{max(rolled_ms):.0f} ms",
            f"< {REPLAY_TARGET_MS} ms",
            max(rolled_ms) < REPLAY_TARGET_MS,
        ),
        ("replay, two-year case, all runs", f"{statistics.median(whole_ms):.0f} ms", "-", None),
    ]
    print(
        f"\nstore: {count} cases, {events} events ({journeys} cases by real journeys on Temporal, {count - journeys} "
        f"by decide + EventStore.append); replay: {runs} journey histories ({history_events} events) and one "
        f"two-year case ({long_events} events in {len(long_runs)} runs; the longest run's replay: median of "
        f"{repeats})"
    )
    print(f"{'figure':<32} {'measured':>18}  {'target':<14} met?")
    print("-" * 72)
    for figure, measured, target, met in rows:
        print(f"{figure:<32} {measured:>18}  {target:<14} {'-' if met is None else ('yes' if met else 'NO')}")
    print(f"(the CLIs end to end: verify {verify_cli_s:.2f} s, replay {replay_cli_s:.2f} s)")
    print(
        f"(verify --since-checkpoint: {since.new_events} new events after the latest checkpoint, which recorded "
        f"{since.recorded} events' hashes and {since.heads} stream heads; the CLI's process start alone, "
        f"`pathway audit verify --help`: {since.cli_start_seconds:.2f} s)"
    )
    print(f"row written to {write_row('audit_speed', figures)}")


async def same_shape(store: EventStore, cases: StaffCommands) -> None:
    """A filled case's stream has the event types, in order, of a case that ran the journey on Temporal."""
    real = case_id_for(cases.case_id_key, "demo", opening(0).external_ref)
    made = case_id_for(cases.case_id_key, "demo", opening(0, prefix="FILL").external_ref)
    types = [[e.event.type for e in await store.read_stream(case_id)] for case_id in (real, made)]
    assert types[0] == types[1], f"a filled case differs from a real journey: {types}"


async def long_case(cases: StaffCommands, disclosures: int = 60) -> str:
    """A case with many commands (a disclosure before each of many hearings), run on the dev server,
    where it continues as new each time its run reaches RUN_EVENTS_LIMIT events."""
    state = await cases.start_case(opening(0, "LONG"))
    [consent] = [task for task in state.open_tasks if task.kind is TaskKind.CONSENT]
    await cases.complete_task(consent.task_id, OUTCOMES[TaskKind.CONSENT], PRACTITIONER)
    for number in range(disclosures):
        disclosure = Disclosure(
            recipient=Recipient.COURT,
            purpose=f"bail hearing update {number}",
            lawful_basis=LawfulBasis.CONSENT,
            summary="Engaging with the community mental health team.",
        )
        await cases.share_information(state.case_id, ShareInformation(actor=PRACTITIONER, disclosure=disclosure))
    return state.case_id


async def replay_times(history: WorkflowHistory, code: WorkflowCode, repeats: int) -> list[float]:
    """Milliseconds to replay `history`, `repeats` times."""
    times = []
    for _ in range(repeats):
        (_, _, failures), seconds = await timed(replay_all(fetched([history]), code))
        assert failures == 0, f"{history.workflow_id} failed to replay"
        times.append(seconds * 1000)
    return times


# --- The two-year case -------------------------------------------------------------------------------

NORTH = "north"  # the shipped site with real timings: working hours, days, weeks
NORTH_PRACTITIONER = Actor(staff_id="pr-002", role=Role.PRACTITIONER)
NORTH_LINK_WORKER = Actor(staff_id="lw-002", role=Role.LINK_WORKER)
TWO_YEARS = timedelta(days=730)
HEARING_EVERY = timedelta(weeks=6)


def two_year_outcome(kind: TaskKind, now: datetime, last_hearing: bool) -> tuple[dict[str, Any], Actor] | None:
    """How the case's staff complete a task of `kind` (None: left open for now)."""
    link_work: dict[TaskKind, dict[str, Any]] = {
        TaskKind.CONTACT: {"attendance": "attended", "goals_progressed": ["housing"]},
        TaskKind.CHASE_REFERRAL: {"answer": "accepted"},
        TaskKind.FOLLOW_UP: {"engaged_with_services": True},
        TaskKind.DISENGAGEMENT_REVIEW: {"decision": "continue", "reason": "Engaging again"},
    }
    if kind in link_work:
        return link_work[kind], NORTH_LINK_WORKER
    if kind is TaskKind.COURT_REPORT:
        report = {"presenting_needs": "Depression, alcohol", "risk": "medium", "recommendations": "Bail with support"}
        return report, NORTH_PRACTITIONER
    if kind is TaskKind.HEARING_OUTCOME:
        if last_hearing:
            return {"result": "community_order_with_treatment_requirement"}, NORTH_PRACTITIONER
        return {"result": "adjourned", "next_hearing_at": (now + HEARING_EVERY).isoformat()}, NORTH_PRACTITIONER
    if kind in (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION):
        return ADULT_OUTCOMES[kind], NORTH_PRACTITIONER
    return None


async def two_year_case(env: WorkflowEnvironment, task_queue: str, config: PathwayConfig) -> str:
    """One custody case at the north site run through two years of (skipped) time: each intake task
    left until its reminder and escalation have fired; then hearings adjourned every six weeks, each
    with a court report and a disclosure, for most of two years; then the sentence, two referrals (one
    answered, one chased and escalated), link work with weekly contacts, follow-ups and closure.
    Returns its workflow id."""
    case_id = f"case-{uuid.uuid4()}"
    handle = await env.client.start_workflow(
        CaseWorkflow.run,
        CaseInput(case_id=case_id, site=config.site(NORTH), run_events_limit=None),
        id=case_id,
        task_queue=task_queue,
    )
    opened = OpenCase(
        actor=NORTH_PRACTITIONER,
        site=NORTH,
        setting=Setting.CUSTODY,
        source=ReferralSource.CUSTODY_STAFF,
        external_ref="TWO-YEARS",
        age_band=AgeBand.ADULT,
    )
    await handle.execute_update(CaseWorkflow.open_case, opened)
    started = await env.get_current_time()

    async def complete_open(last_hearing: bool = False) -> CaseState:
        state = await handle.query(CaseWorkflow.state)
        now = await env.get_current_time()
        for task in state.open_tasks:
            how = two_year_outcome(task.kind, now, last_hearing)
            if how is not None:
                outcome, actor = how
                command = CompleteTask(actor=actor, task_id=task.task_id, outcome=outcome)
                await handle.execute_update(CaseWorkflow.complete_task, command)
                state = await handle.query(CaseWorkflow.state)
        return state

    for _ in range(4):  # consent, screening, assessment, information sharing: each reminded and escalated first
        await env.sleep(timedelta(days=2))
        await complete_open()
    hearing = 0
    while await env.get_current_time() < started + TWO_YEARS - timedelta(weeks=20):
        hearing += 1
        now = await env.get_current_time()
        await handle.execute_update(CaseWorkflow.share_information, two_year_disclosure(hearing))
        request = RequestCourtReport(
            actor=NORTH_PRACTITIONER,
            purpose=CourtReportPurpose.BAIL_OR_REMAND,
            hearing_at=now + timedelta(weeks=3),
            recipients=(Recipient.COURT,),
        )
        await handle.execute_update(CaseWorkflow.request_court_report, request)
        await env.sleep(timedelta(weeks=3, days=1))  # the report's reminder (and escalation) fire first
        await complete_open()
        await env.sleep(HEARING_EVERY - timedelta(weeks=3, days=1))
        await complete_open(last_hearing=await env.get_current_time() >= started + TWO_YEARS - timedelta(weeks=26))
    decision = {
        "referrals": [
            {"service": "mental_health", "reason": "moderate depression"},
            {"service": "substance_misuse", "reason": "alcohol dependence"},
        ],
        "link_work_goals": ["housing", "addictions"],
    }
    state = await handle.query(CaseWorkflow.state)
    [task] = [t for t in state.open_tasks if t.kind is TaskKind.REFERRAL_DECISION]
    await handle.execute_update(
        CaseWorkflow.complete_task, CompleteTask(actor=NORTH_PRACTITIONER, task_id=task.task_id, outcome=decision)
    )
    state = await handle.query(CaseWorkflow.state)
    answered = state.referrals[0].referral_id
    while not (state := await handle.query(CaseWorkflow.state)).referrals[0].sent_at:  # its workflow sends it
        await env.sleep(timedelta(minutes=10))
    for status in (ReferralStatus.ACCEPTED, ReferralStatus.ATTENDED, ReferralStatus.ENGAGED):
        answer = RecordReferralOutcome(actor=NORTH_LINK_WORKER, referral_id=answered, status=status)
        await handle.execute_update(CaseWorkflow.record_referral_outcome, answer)
    while state.stage is not Stage.CLOSED:  # support, follow-ups; closed once two years have passed
        await env.sleep(timedelta(weeks=1))
        state = await complete_open()
        closures = [t for t in state.open_tasks if t.kind is TaskKind.CLOSURE]
        if closures and len(state.open_tasks) == 1 and await env.get_current_time() >= started + TWO_YEARS:
            for referral in [r for r in state.referrals if r.status is ReferralStatus.ACCEPTED]:  # the chased one
                for status in (ReferralStatus.ATTENDED, ReferralStatus.ENGAGED):
                    answer = RecordReferralOutcome(
                        actor=NORTH_LINK_WORKER, referral_id=referral.referral_id, status=status
                    )
                    await handle.execute_update(CaseWorkflow.record_referral_outcome, answer)
            closing = CompleteTask(
                actor=NORTH_PRACTITIONER, task_id=closures[0].task_id, outcome=ADULT_OUTCOMES[TaskKind.CLOSURE]
            )
            await handle.execute_update(CaseWorkflow.complete_task, closing)
            state = await handle.query(CaseWorkflow.state)
    await handle.result()
    return case_id


def two_year_disclosure(number: int) -> ShareInformation:
    return ShareInformation(
        actor=NORTH_PRACTITIONER,
        disclosure=Disclosure(
            recipient=Recipient.COURT,
            purpose=f"hearing {number}: progress since the last hearing",
            lawful_basis=LawfulBasis.CONSENT,
            summary="Engaging with the community mental health team.",
        ),
    )


@asynccontextmanager
async def time_skipping_worker(
    payload_keys: KeyRing, master_keys: KeyRing
) -> AsyncIterator[tuple[WorkflowEnvironment, str, PathwayConfig]]:
    """The time-skipping test server (as the workflow tests use it) with a production worker, a SQLite
    store of its own and an SMTP sink for the referral emails."""
    smtp_port = free_port()
    mail = Controller(MailSink(), hostname="127.0.0.1", port=smtp_port)
    mail.start()
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(payload_keys),
        test_server_existing_path=installed_binary("temporal-test-server"),
    )
    try:
        await ensure_search_attributes(env.client, env.client.namespace)
        with tempfile.TemporaryDirectory() as folder:
            store = EventStore.connect(f"sqlite+aiosqlite:///{Path(folder) / 'two-years.db'}")
            await store.migrate()
            config = load_config(SHIPPED_CONFIG)
            # North's real timings, with the demo site's court addresses (north has none): its reports go somewhere.
            north = config.site(NORTH).model_copy(
                update={"court_report_addresses": config.site("demo").court_report_addresses}
            )
            config = config.model_copy(update={"sites": {**config.sites, NORTH: north}})
            task_queue = f"two-years-{uuid.uuid4()}"
            mailer = SmtpMailer("127.0.0.1", smtp_port, "pathway@bench.invalid")
            try:
                async with build_worker(env.client, store, task_queue, config, mailer, "http://inbox", master_keys):
                    yield env, task_queue, config
            finally:
                await store.close()
    finally:
        await env.shutdown()
        mail.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000, help="cases in the store")
    parser.add_argument("--journeys", type=int, default=200, help="of which run through Temporal")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7, help="replays of the two-year history")
    arguments = parser.parse_args()
    if not 0 < arguments.journeys <= arguments.cases:
        parser.error("--journeys must be between 1 and --cases")
    asyncio.run(main(arguments.cases, arguments.journeys, arguments.concurrency, arguments.repeats))
