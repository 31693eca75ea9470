"""What a CLI command needs: settings, the store, case commands; and turning failures into one line."""

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import typer
from pydantic import BaseModel, ValidationError

from domain.errors import RuleViolation
from store.event_store import EventStore
from workers.cases import CaseCommands, CommandRejected
from workers.client import connect
from workers.settings import ConfigError, Settings

# Exit statuses: 2 for a refused or malformed command (nothing recorded), 1 for a system failure.
REFUSED = 2
FAILED = 1


def settings_from(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[EventStore]:
    store = EventStore.connect(settings.store_url)
    try:
        await store.migrate()
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def open_commands(settings: Settings) -> AsyncIterator[CaseCommands]:
    async with open_store(settings) as store:
        try:
            client = await connect(settings)
        except RuntimeError as error:
            fail(f"cannot reach Temporal at {settings.temporal_address} ({error}); is `pathway dev` running?")
        yield CaseCommands(
            client=client,
            store=store,
            config=settings.pathway_config,
            case_id_key=settings.case_id_key,
            task_queue=settings.task_queue,
        )


def run(coroutine_factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run one command, printing any refusal or bad input as a single line on stderr."""
    try:
        asyncio.run(coroutine_factory())
    except CommandRejected as rejection:
        refuse(f"{rejection.message} (rule: {rejection.rule})")
    except RuleViolation as violation:
        refuse(str(violation))
    except ValidationError as error:
        refuse(describe_validation_error(error))
    except ConfigError as error:
        refuse(str(error))


def describe_validation_error(error: ValidationError) -> str:
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "input"
        problems.append(f"{where}: {str(problem['msg']).removeprefix('Value error, ')}")
    return "invalid input: " + "; ".join(problems)


def refuse(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(REFUSED)


def fail(message: str) -> Any:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(FAILED)


def print_json(value: BaseModel | list[Any] | dict[str, Any]) -> None:
    if isinstance(value, BaseModel):
        sys.stdout.write(value.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        refuse(f"{what} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}")
    if not isinstance(value, dict):
        refuse(f"{what} must be a JSON object")
    return dict(value)
