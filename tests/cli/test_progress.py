"""Progress on long commands (cli/progress.py), through the real `pathway` command: with stderr on a
pseudo-terminal, as a person at a terminal has it, a count is drawn and then cleared; piped, or with
--json, there is none. The commands read a store of a few cases; none needs Temporal."""

import asyncio
from pathlib import Path

import pytest

from cli.exits import ExitStatus
from cli.progress import CLEAR_LINE
from store.event_store import EventStore
from tests.cli.support import at_terminal, pathway
from tests.store.support import StoreCase

CASES = 3

# Each long command that reads the store, and the count it shows.
COMMANDS = {
    "audit verify --all": (("audit", "verify", "--all", "--as", "au-001"), "cases verified: 1"),
    "audit rebuild-projections": (("audit", "rebuild-projections", "--as", "ad-001"), "cases folded: 1"),
    "report": (("report", "--as", "tl-001", "--period", "2026-03"), "cases read: 1"),
    "data return": (("data", "return", "--as", "tl-001", "--month", "2026-03", "--out", "returns"), "cases read: 1"),
}


def env_for(data_dir: Path) -> dict[str, str]:
    return {"PATHWAY_DATA_DIR": str(data_dir), "PATHWAY_TEMPORAL_ADDRESS": "localhost:1"}


@pytest.fixture
async def data_dir(tmp_path: Path) -> Path:
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    try:
        for _ in range(CASES):
            await StoreCase(store).open()
    finally:
        await store.close()
    return tmp_path


@pytest.mark.parametrize("command", COMMANDS)
async def test_a_terminal_sees_a_count_that_is_cleared_at_the_end(command: str, data_dir: Path) -> None:
    args, count = COMMANDS[command]
    shown = await asyncio.to_thread(at_terminal, args, env_for(data_dir), data_dir)
    assert shown.status == ExitStatus.OK, shown.terminal
    assert CLEAR_LINE + count in shown.terminal, shown.terminal
    assert shown.terminal.endswith(CLEAR_LINE), shown.terminal  # nothing left behind on the line
    assert CLEAR_LINE not in shown.stdout and count not in shown.stdout


async def test_piped_or_json_there_is_no_progress(data_dir: Path) -> None:
    env = env_for(data_dir)
    for args, count in COMMANDS.values():
        if "--out" in args:  # the folder the files go to, under the data directory
            args = (*args[:-1], str(data_dir / args[-1]))
        piped = await pathway(*args, env=env)
        assert piped.status == ExitStatus.OK, piped.stderr
        assert piped.stderr == "" and CLEAR_LINE not in piped.stdout and count not in piped.stdout, args
    verify_json = (*COMMANDS["audit verify --all"][0], "--json")
    as_json = await asyncio.to_thread(at_terminal, verify_json, env, data_dir)
    assert as_json.status == ExitStatus.OK and as_json.terminal == ""
    assert '"ok": true' in as_json.stdout
