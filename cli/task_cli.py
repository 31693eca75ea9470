"""`pathway task ...`: list, claim and complete the tasks workflows give people.

As in the API, every command goes through the service (service/) as the person `--as` names."""

import json
from typing import Annotated

import typer

from cli.case_cli import JsonFlag, SiteFilter, StaffOption
from cli.exits import usage_error
from cli.runtime import open_service, parse_json_object, principal_for, print_json, require_site, run, settings_from
from domain.tasks import TaskKind, outcome_schema
from domain.text_rules import terminal_safe
from service.cases import TASK_VIEWS, TaskView
from store.records import TaskRecord

app = typer.Typer(help="Work on tasks.", no_args_is_help=True)


@app.command("list")
def list_tasks(
    ctx: typer.Context,
    staff: StaffOption,
    view: Annotated[
        TaskView | None,
        typer.Option(help="; ".join(f"{name}: {title}" for name, title in TASK_VIEWS.items()) + " (default team)."),
    ] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Same as --view overdue.")] = False,
    case: Annotated[str | None, typer.Option(help="Only tasks of this case.")] = None,
    site: SiteFilter = None,
    as_json: JsonFlag = False,
) -> None:
    """The open tasks of your sites in one inbox view: overdue first, then by priority and due time."""
    settings = settings_from(ctx)
    if overdue and view not in (None, "overdue"):
        usage_error("give --overdue or --view, not both")
    chosen: TaskView = "overdue" if overdue else (view or "team")

    async def command() -> None:
        principal = principal_for(settings, staff)
        require_site(principal, site)
        async with open_service(settings, reads_only=True) as service:
            tasks = [
                t
                for t in await service.cases.tasks(principal, chosen)
                if (case is None or t.case_id == case) and (site is None or t.site == site)
            ]
        if as_json:
            print_json([t.model_dump(mode="json") for t in tasks])
            return
        for task in tasks:
            typer.echo(terminal_safe(_task_line(task)))
        typer.echo(f"{len(tasks)} task(s) ({TASK_VIEWS[chosen].lower()})")

    run(command)


@app.command("schema")
def schema(kind: TaskKind) -> None:
    """The JSON schema of a task kind's outcome: what `task complete --outcome` must hold."""
    typer.echo(json.dumps(outcome_schema(kind), indent=2))


@app.command("claim")
def claim(ctx: typer.Context, task_id: str, staff: StaffOption, as_json: JsonFlag = False) -> None:
    """Take a task as yours (a team lead can take one from someone else)."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        async with open_service(settings) as service:
            state = await service.cases.claim(principal, task_id)
        _print_result(state.tasks[task_id].model_dump(mode="json"), as_json, f"task {task_id} claimed by {staff}")

    run(command)


@app.command("reassign")
def reassign(
    ctx: typer.Context,
    task_id: str,
    to: Annotated[str, typer.Option("--to", help="Staff id of the person who takes it.")],
    staff: StaffOption,
    as_json: JsonFlag = False,
) -> None:
    """Give a task to someone else (team leads)."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        async with open_service(settings) as service:
            state = await service.cases.reassign(principal, task_id, to)
        _print_result(state.tasks[task_id].model_dump(mode="json"), as_json, f"task {task_id} is now {to}'s")

    run(command)


@app.command("complete")
def complete(
    ctx: typer.Context,
    task_id: str,
    outcome: Annotated[str, typer.Option(help="The outcome as JSON; see `pathway task schema KIND`.")],
    staff: StaffOption,
    as_json: JsonFlag = False,
) -> None:
    """Record a task's outcome; the case moves on and answers with its new state."""
    settings = settings_from(ctx)
    values = parse_json_object(outcome, "--outcome")

    async def command() -> None:
        principal = principal_for(settings, staff)
        async with open_service(settings) as service:
            state = await service.cases.complete(principal, task_id, values)
        if as_json:
            print_json(state)
            return
        typer.echo(terminal_safe(f"task {task_id} completed; case {state.case_id} is now at {state.stage}"))
        for task in state.open_tasks:
            next_task = _task_line_of(task.task_id, task.kind, task.due_at.isoformat(), task.overdue)
            typer.echo(terminal_safe(f"  next: {next_task}"))

    run(command)


def _print_result(value: dict[str, object], as_json: bool, text: str) -> None:
    if as_json:
        print_json(value)
    else:
        typer.echo(terminal_safe(text))  # it holds the task id and staff id as they were typed


def _task_line(task: TaskRecord) -> str:
    return f"{_task_line_of(task.task_id, task.kind, task.due_at.isoformat(), task.overdue)}  case {task.case_id}"


def _task_line_of(task_id: str, kind: str, due: str, overdue: bool) -> str:
    return f"{task_id}  {kind:<18} due {due}{'  OVERDUE' if overdue else ''}"
