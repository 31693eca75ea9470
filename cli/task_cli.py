"""`pathway task ...`: list, claim and complete the tasks workflows give people."""

import json
from typing import Annotated

import typer

from cli.case_cli import JsonFlag, StaffOption
from cli.runtime import open_commands, open_store, parse_json_object, print_json, run, settings_from
from domain.tasks import TaskKind, outcome_schema
from store.records import TaskRecord
from workers.cases import actor_for

app = typer.Typer(help="Work on tasks.", no_args_is_help=True)


@app.command("list")
def list_tasks(
    ctx: typer.Context,
    case: Annotated[str | None, typer.Option(help="Only tasks of this case.")] = None,
    site: Annotated[str | None, typer.Option(help="Only tasks of this site.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue tasks.")] = False,
    all_statuses: Annotated[bool, typer.Option("--all", help="Completed and cancelled tasks too.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Tasks from the inbox, soonest due first (open ones unless --all)."""
    settings = settings_from(ctx)

    async def command() -> None:
        async with open_store(settings) as store:
            tasks = await store.list_tasks(
                case_id=case,
                site=site,
                status=None if all_statuses else "open",
                overdue=True if overdue else None,
            )
        if as_json:
            print_json([t.model_dump(mode="json") for t in tasks])
            return
        for task in tasks:
            typer.echo(_task_line(task))
        typer.echo(f"{len(tasks)} task(s)")

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
        actor = actor_for(settings.pathway_config, staff)
        async with open_commands(settings) as cases:
            state = await cases.claim_task(task_id, actor)
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
        actor = actor_for(settings.pathway_config, staff)
        async with open_commands(settings) as cases:
            state = await cases.reassign_task(task_id, to, actor)
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
        actor = actor_for(settings.pathway_config, staff)
        async with open_commands(settings) as cases:
            state = await cases.complete_task(task_id, values, actor)
        if as_json:
            print_json(state)
            return
        typer.echo(f"task {task_id} completed; case {state.case_id} is now at {state.stage}")
        for task in state.open_tasks:
            typer.echo(f"  next: {_task_line_of(task.task_id, task.kind, task.due_at.isoformat(), task.overdue)}")

    run(command)


def _print_result(value: dict[str, object], as_json: bool, text: str) -> None:
    if as_json:
        print_json(value)
    else:
        typer.echo(text)


def _task_line(task: TaskRecord) -> str:
    return f"{_task_line_of(task.task_id, task.kind, task.due_at.isoformat(), task.overdue)}  case {task.case_id}"


def _task_line_of(task_id: str, kind: str, due: str, overdue: bool) -> str:
    return f"{task_id}  {kind:<18} due {due}{'  OVERDUE' if overdue else ''}"
