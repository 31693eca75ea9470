"""What a CLI command needs: settings, the store, the inbox (the service layer the API uses too); and
turning failures into one line."""

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, NoReturn

import typer
from pydantic import BaseModel, ValidationError
from temporalio.client import Client

from api.serve import inbox_for
from domain.access import Principal
from domain.errors import RuleViolation
from domain.timeline import UK
from store.event_store import EventStore
from store.keyring import KeyRingError
from workers.cases import CaseCommands, CommandRejected, commands_for
from workers.client import connect, connect_store
from workers.inbox import Inbox
from workers.inbox import principal_for as staff_principal
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
    if settings.database_url is None:  # the SQLite file of the data directory, which may not exist yet
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = connect_store(settings)
    try:
        await store.migrate()
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def open_commands(settings: Settings, *, reads_only: bool = False) -> AsyncIterator[CaseCommands]:
    """Case commands over the store and Temporal. With `reads_only` the Temporal client connects
    lazily, so commands that only read the store work without a running Temporal."""
    async with open_store(settings) as store:
        yield commands_for(await connect_temporal(settings, lazy=reads_only), store, settings)


@asynccontextmanager
async def open_inbox(settings: Settings, *, reads_only: bool = False) -> AsyncIterator[Inbox]:
    """The inbox, built as the API builds it: the role x action matrix, the site scope and the access
    log apply to every CLI command exactly as to an API call."""
    async with open_commands(settings, reads_only=reads_only) as commands:
        yield inbox_for(settings, commands)


def principal_for(settings: Settings, staff_id: str) -> Principal:
    """The person `--as` names, known before anything is opened: an unknown id is refused before the
    store or Temporal is touched."""
    return staff_principal(settings.pathway_config, staff_id)


def in_uk(moment: datetime | None) -> datetime | None:
    """A time typed without a zone is UK time (a day alone: its start)."""
    return moment if moment is None or moment.tzinfo is not None else moment.replace(tzinfo=UK)


def require_site(principal: Principal, site: str | None) -> None:
    """A `--site` filter narrows a listing to one of the person's sites; it never widens it."""
    if site is not None and not principal.covers(site):
        raise RuleViolation("outside_your_sites", f"you do not work at site {site}")


async def connect_temporal(settings: Settings, *, lazy: bool = False) -> Client:
    try:
        return await connect(settings, lazy=lazy)
    except RuntimeError as error:
        fail(f"cannot reach Temporal at {settings.temporal_address} ({error}); is `pathway dev` running?")


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
    except KeyRingError as error:
        fail(f"personal data cannot be opened: {error}; restore the missing key to PATHWAY_MASTER_KEYS")


def describe_validation_error(error: ValidationError) -> str:
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "input"
        problems.append(f"{where}: {str(problem['msg']).removeprefix('Value error, ')}")
    return "invalid input: " + "; ".join(problems)


def refuse(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(REFUSED)


def fail(message: str) -> NoReturn:
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
