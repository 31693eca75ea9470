"""`pathway audit replay`: replay recorded Temporal histories against the current workflow code."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import typer
from temporalio.client import WorkflowHistory
from temporalio.service import RPCError

from cli.case_cli import JsonFlag, StaffOption
from cli.exits import ExitStatus, fail, usage_error
from cli.progress import progress
from cli.runtime import connect_temporal, principal_for, print_json, run, settings_from
from domain.access import Action, require_allowed
from domain.text_rules import terminal_safe
from service.replay import (
    FailureKind,
    ReplayInputError,
    ReplayOutcome,
    WorkflowCode,
    case_histories,
    file_histories,
    listed_histories,
    replay_histories,
)
from workers.client import data_converter
from workers.settings import Settings
from workflows.registry import WORKFLOWS

VERDICTS = {
    None: "ok",
    FailureKind.NONDETERMINISM: "NONDETERMINISTIC",
    FailureKind.UNKNOWN_WORKFLOW_TYPE: "UNKNOWN TYPE",
    FailureKind.REPLAY_ERROR: "FAILED",
}


def replay(
    ctx: typer.Context,
    staff: StaffOption,
    case_id: Annotated[
        str | None,
        typer.Argument(metavar="CASE", help="A case: every run of its workflow and of the child workflows it started."),
    ] = None,
    all_workflows: Annotated[
        bool, typer.Option("--all", help="Every workflow run the Temporal namespace still keeps.")
    ] = False,
    query: Annotated[
        str | None,
        typer.Option(
            help="The runs a visibility query lists, e.g. \"WorkflowType = 'CaseWorkflow' AND LdSite = 'demo'\"."
        ),
    ] = None,
    history_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--history",
            help="A history file from `temporal workflow show --output json` (or the SDK's to_json); repeatable.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Replay Temporal histories with the current workflow code and report any non-determinism
    (auditors). Exit 0 when every history replays, 1 when any does not. Nothing is changed."""
    chosen = [case_id is not None, all_workflows, query is not None, bool(history_files)]
    if chosen.count(True) != 1:
        usage_error("give exactly one of CASE, --all, --query or --history")
    settings = settings_from(ctx)

    async def command() -> None:
        require_allowed(principal_for(settings, staff).actor, Action.VERIFY_RECORDS)
        code = WorkflowCode(workflows=WORKFLOWS, data_converter=data_converter(settings.payload_key_ring))
        outcomes = []
        try:
            histories = await histories_to_replay(settings, case_id, query, history_files or [])
            with progress("histories replayed") as shown:
                async for outcome in replay_histories(histories, code):
                    outcomes.append(outcome)
                    shown.tick()
                    if not as_json:
                        # Ids and messages come from the histories, which may be files anyone wrote.
                        shown.echo(terminal_safe(describe(outcome), keep_line_breaks=True))
        except ReplayInputError as error:
            usage_error(str(error))
        except RPCError as error:
            fail(f"Temporal could not give the histories: {error.message}")
        failed = [outcome for outcome in outcomes if outcome.failure is not None]
        if as_json:
            print_json([outcome.model_dump(mode="json") for outcome in outcomes])
        else:
            typer.echo(summary(outcomes, failed))
        if failed:
            raise typer.Exit(ExitStatus.FAILED)

    run(command)


async def histories_to_replay(
    settings: Settings, case_id: str | None, query: str | None, history_files: list[Path]
) -> AsyncIterator[WorkflowHistory]:
    """The chosen source; files need no Temporal server."""
    if history_files:
        return file_histories(history_files)
    client = await connect_temporal(settings)
    if case_id is not None:
        return case_histories(client, case_id)
    return listed_histories(client, query or "")  # --all: the empty query lists everything


def describe(outcome: ReplayOutcome) -> str:
    verdict = VERDICTS[outcome.failure.kind if outcome.failure else None]
    line = (
        f"{verdict:<16}  {outcome.workflow_type:<19}  {outcome.workflow_id}  run {outcome.run_id}  "
        f"{outcome.events} events{'' if outcome.closed else ' (still open)'}"
    )
    if outcome.failure is None:
        return line
    where = f"at event {outcome.failure.event_id}: " if outcome.failure.event_id is not None else ""
    return f"{line}  {where}{outcome.failure.message}"


def summary(outcomes: list[ReplayOutcome], failed: list[ReplayOutcome]) -> str:
    if not outcomes:
        return "no histories to replay"
    nondeterministic = sum(1 for o in failed if o.failure and o.failure.kind is FailureKind.NONDETERMINISM)
    text = f"{len(outcomes) - len(failed)} of {len(outcomes)} histories replay with the current code"
    if failed:
        text += f"; {nondeterministic} non-deterministic, {len(failed) - nondeterministic} could not be replayed"
    return text
