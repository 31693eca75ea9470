"""What a CLI command needs: settings, the store, the service (built as the API builds it); and
turning failures into one line."""

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import typer
from pydantic import BaseModel, ValidationError
from temporalio.client import Client

from cli.exits import ExitStatus, end, fail, refused, unavailable, usage_error
from domain.access import Principal
from domain.errors import Rule, RuleViolation, described, field_problems
from service.identity import principal_for_staff
from service.pathway import Pathway
from store.event_store import EventStore
from store.keyring import KeyRingError
from workers.bootstrap import service_for
from workers.client import connect, connect_store
from workers.settings import ConfigError, Settings


def settings_from(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[EventStore]:
    if settings.database_url is None:  # the SQLite file of the data directory, which may not exist yet
        settings.prepare_data_dir()
    store = connect_store(settings)
    try:
        await store.migrate()
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def open_service(settings: Settings, *, reads_only: bool = False) -> AsyncIterator[Pathway]:
    """The service, built as the API builds it: the role x action matrix, the site scope, sealing and
    the access record apply to every CLI command exactly as to an API call. With `reads_only` the
    Temporal client connects lazily, so commands that only read work without a running Temporal
    (until they need it: a break-glass read has the worker alert the site's team leads)."""
    async with open_store(settings) as store:
        yield service_for(settings, await connect_temporal(settings, lazy=reads_only), store)


def principal_for(settings: Settings, staff_id: str) -> Principal:
    """The person `--as` names, known before anything is opened: an unknown id is refused before the
    store or Temporal is touched."""
    return principal_for_staff(settings.pathway_config, staff_id)


def require_site(principal: Principal, site: str | None) -> None:
    """A `--site` filter narrows a listing to one of the person's sites; it never widens it."""
    if site is not None and not principal.covers(site):
        raise RuleViolation(Rule.OUTSIDE_YOUR_SITES, f"you do not work at site {site}")


async def connect_temporal(settings: Settings, *, lazy: bool = False) -> Client:
    try:
        return await connect(settings, lazy=lazy)
    except RuntimeError as error:
        unavailable(f"cannot reach Temporal at {settings.temporal_address} ({error}); is `pathway dev` running?")


def run(coroutine_factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run one command, ending any refusal, bad input or failure with its exit status (cli/exits.py)."""
    try:
        asyncio.run(coroutine_factory())
    except RuleViolation as violation:
        refused(violation)
    except ValidationError as error:
        problems = error.errors()
        end(ExitStatus.USAGE, "invalid input: " + described(problems), Rule.INVALID_INPUT, field_problems(problems))
    except ConfigError as error:
        fail(str(error))
    except KeyRingError as error:
        end(
            ExitStatus.UNAVAILABLE,
            f"personal data cannot be opened: {error}; restore the missing key to PATHWAY_MASTER_KEYS",
            Rule.KEYS_UNAVAILABLE,
        )


def print_json(value: BaseModel | list[Any] | dict[str, Any]) -> None:
    """JSON on stdout, ASCII only: JSON escapes C0 controls itself, and \\u escapes keep every other
    character a terminal might act on (C1 controls, text-direction overrides) from reaching it raw."""
    plain = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    sys.stdout.write(json.dumps(plain, indent=2, default=str, ensure_ascii=True) + "\n")


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        usage_error(f"{what} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}")
    if not isinstance(value, dict):
        usage_error(f"{what} must be a JSON object")
    return dict(value)
