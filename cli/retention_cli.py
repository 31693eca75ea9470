"""`pathway data retention ...`: run retention now (or report what it would do), and keep its daily
Temporal Schedule in line with the configuration."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer
from temporalio.client import Client, WorkflowFailureError, WorkflowQueryFailedError
from temporalio.service import RPCError

from cli.case_cli import JsonFlag, StaffOption
from cli.exits import fail, usage_error
from cli.progress import Progress, progress
from cli.runtime import connect_temporal, principal_for, print_json, run, settings_from
from domain.access import Action, require_allowed
from domain.timeline import UK, in_uk
from workers.retention_schedule import RETENTION_SCHEDULE_ID, ensure_retention_schedule
from workflows.messages import RetentionInput, RetentionReport
from workflows.retention_workflow import RetentionWorkflow, check_retention_input

PROGRESS_POLL_SECONDS = 1.0

app = typer.Typer(help="The end of retention: shred what has expired.", no_args_is_help=True)


@app.command("run")
def run_retention(
    ctx: typer.Context,
    staff: StaffOption,
    as_of: Annotated[
        datetime | None,
        typer.Option(help="Judge expiry as on this day (UK time); a report-only run may look ahead. Default: now."),
    ] = None,
    report_only: Annotated[bool, typer.Option("--report-only", help="Report what has expired; shred nothing.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run retention now, as the daily schedule does, and print its report. Shredding needs an admin;
    an auditor may run a report-only one."""
    settings = settings_from(ctx)
    run_input = RetentionInput(as_of=in_uk(as_of), report_only=report_only)

    async def command() -> None:
        principal = principal_for(settings, staff)
        require_allowed(principal.actor, Action.REPORT_RETENTION if report_only else Action.SHRED_PERSONAL_DATA)
        try:
            check_retention_input(run_input, datetime.now(UTC))
        except ValueError as refused:
            usage_error(str(refused))
        client = await connect_temporal(settings)
        try:
            handle = await client.start_workflow(
                RetentionWorkflow.run,
                run_input,
                id=f"{RETENTION_SCHEDULE_ID}-by-{principal.actor.staff_id}-{uuid.uuid4()}",
                task_queue=settings.task_queue,
                static_summary="Retention run" + (" (report only)" if report_only else "") + f" by {staff}",
            )
            with progress("retention") as shown:
                report = await _result_showing_progress(client, handle.id, shown)
        except WorkflowFailureError as failure:
            fail(f"the retention run failed: {failure.cause}")
        if as_json:
            print_json(report)
        else:
            _print_report(report)

    run(command)


@app.command("schedule")
def schedule(ctx: typer.Context, staff: StaffOption) -> None:
    """Create the daily retention schedule, or bring it in line with the [retention] configuration
    (an operator's pause is kept)."""
    settings = settings_from(ctx)

    async def command() -> None:
        require_allowed(principal_for(settings, staff).actor, Action.CONFIGURE)
        client = await connect_temporal(settings)
        retention = settings.pathway_config.retention
        done = await ensure_retention_schedule(client, settings.task_queue, retention)
        mode = "report only" if retention.report_only else "shredding what has expired"
        typer.echo(
            f"schedule {RETENTION_SCHEDULE_ID} {done}: daily at {retention.run_at.isoformat('minutes')} "
            f"{retention.timezone}, {mode}"
        )

    run(command)


async def _result_showing_progress(client: Client, workflow_id: str, shown: Progress) -> RetentionReport:
    """The run's report; meanwhile, on a terminal, what its progress query says so far. By workflow
    id, not run: a long run continues as new."""
    handle = client.get_workflow_handle_for(RetentionWorkflow.run, workflow_id)
    result = asyncio.ensure_future(handle.result())
    while shown.visible:
        done, _ = await asyncio.wait({result}, timeout=PROGRESS_POLL_SECONDS)
        if done:
            break
        try:
            so_far = await handle.query(RetentionWorkflow.progress)
        except (RPCError, WorkflowQueryFailedError):
            continue  # between runs, or not yet started: the next poll asks again
        if so_far is not None:
            shown.show(so_far.summary())
    return await result


def _print_report(report: RetentionReport) -> None:
    typer.echo(f"retention as of {report.as_of.astimezone(UK):%Y-%m-%d %H:%M %Z}: {report.summary()}")
    verb = "would shred" if report.report_only else "shredded"
    shredded = set(report.shredded)
    for record in report.expired:
        done = verb if report.report_only or record.case_id in shredded else "not shredded"
        typer.echo(f"  {done:<12}  {record.case_id}  ({', '.join(record.record_classes)} record)")
    for review in report.for_review:
        typer.echo(f"  {'review':<12}  {review.case_id}  {review.reason}")
    for refusal in report.refused:
        typer.echo(f"  {'refused':<12}  {refusal.case_id}  {refusal.reason}")
