"""`pathway data return` (cli/data_return_cli.py) run as the real command against a store that
StoreCase wrote: the files, who may write them, and bad input."""

import csv
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from cli.exits import ExitStatus
from domain.data_return import (
    DATA_SET_VERSION,
    EPISODE_FIELDS,
    REFERRAL_FIELDS,
    DataField,
    episode_pseudonym,
    pseudonym_key,
)
from store.event_store import EventStore
from tests.cli.support import pathway
from tests.store.support import StoreCase, run_journey

ID_KEY = "cli-data-return-test-key"


def cli_env(data_dir: Path) -> dict[str, str]:
    return {"PATHWAY_DATA_DIR": str(data_dir), "PATHWAY_ID_KEY": ID_KEY}


async def a_store_with_one_journey(tmp_path: Path) -> str:
    """One whole pathway at site north, opened 2 March 2026 and closed 11 March."""
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    try:
        case = StoreCase(store)
        await run_journey(case)
        return case.case_id
    finally:
        await store.close()


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        found = list(reader)
        return list(reader.fieldnames or []), found


async def test_a_team_lead_writes_the_months_files(tmp_path: Path) -> None:
    case_id = await a_store_with_one_journey(tmp_path)
    out = tmp_path / "returns"
    done = await pathway(
        "data", "return", "--month", "2026-02", "--to", "2026-04", "--as", "tl-001", "--out", str(out),
        env=cli_env(tmp_path),
    )  # fmt: skip
    assert done.status == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        f"{kind}-2026-{month}.csv" for kind in ("episodes", "referrals") for month in ("02", "03", "04")
    ]
    episode_id = episode_pseudonym(pseudonym_key(ID_KEY.encode()), case_id)

    header, episodes = read_csv(out / "episodes-2026-03.csv")
    assert header == [f.name for f in EPISODE_FIELDS]
    [episode] = episodes
    assert episode["data_set_version"] == "1.2" and episode["period"] == "2026-03"
    assert episode["episode_id"] == episode_id and episode["site"] == "north"
    assert episode["opened_date"] == "2026-03-02" and episode["closed_date"] == "2026-03-11"
    assert episode["minutes_to_screening"] == "65" and episode["screened_within_sla"] == "yes"
    assert episode["closure_reason"] == "pathway_complete"
    assert episode["justice_outcome"] == "conditional_caution"
    assert episode["person_pseudonym"].startswith("pn-") and episode["previous_episodes"] == "0"

    header, referrals = read_csv(out / "referrals-2026-03.csv")
    assert header == [f.name for f in REFERRAL_FIELDS]
    [referral] = referrals
    assert referral["episode_id"] == episode_id and referral["service_type"] == "mental_health"

    for month in ("02", "04"):  # before it opened, after it closed: the header alone
        for kind, fields in (("episodes", EPISODE_FIELDS), ("referrals", REFERRAL_FIELDS)):
            path = out / f"{kind}-2026-{month}.csv"
            assert path.read_bytes() == (",".join(f.name for f in fields) + "\r\n").encode()

    everything = "".join(p.read_text(encoding="utf-8") for p in out.iterdir())
    for value in (case_id, "CUST/2026/0042", "prac-1", "lead-1"):
        assert value not in everything
    assert "data set version 1.2" in done.stdout


async def test_an_auditor_may_export_one_site(tmp_path: Path) -> None:
    await a_store_with_one_journey(tmp_path)
    done = await pathway(
        "data", "return", "--month", "2026-03", "--site", "demo", "--as", "au-001", "--out", str(tmp_path),
        env=cli_env(tmp_path),
    )  # fmt: skip
    assert done.status == 0, done.stderr
    _, episodes = read_csv(tmp_path / "episodes-2026-03.csv")
    assert episodes == []  # the journey was at north


async def test_refusals_write_nothing(tmp_path: Path) -> None:
    await a_store_with_one_journey(tmp_path)
    out = tmp_path / "returns"
    refused: dict[str, tuple[ExitStatus, tuple[str, ...]]] = {
        "a practitioner": (ExitStatus.REFUSED, ("--month", "2026-03", "--as", "pr-001")),
        "a link worker": (ExitStatus.REFUSED, ("--month", "2026-03", "--as", "lw-002")),
        "a backwards range": (ExitStatus.USAGE, ("--month", "2026-04", "--to", "2026-03", "--as", "tl-001")),
        "not a month": (ExitStatus.USAGE, ("--month", "2026-13", "--as", "tl-001")),
        "an unknown site": (ExitStatus.NOT_FOUND, ("--month", "2026-03", "--site", "atlantis", "--as", "tl-001")),
    }
    for why, (status, args) in refused.items():
        done = await pathway("data", "return", *args, "--out", str(out), env=cli_env(tmp_path))
        assert done.status == status, (why, done.stdout, done.stderr)
        assert done.stderr.startswith("error: "), why
    assert not out.exists()


async def test_the_workbook_holds_the_csv_values_with_their_types(tmp_path: Path) -> None:
    """Opened by a program, the workbook gives every CSV value back; typed, so a spreadsheet shows
    data_set_version 1.2 and period 2026-03 as text rather than a number and a date."""
    await a_store_with_one_journey(tmp_path)
    for file_format in ("csv", "xlsx"):
        done = await pathway(
            "data", "return", "--month", "2026-03", "--as", "tl-001", "--format", file_format,
            "--out", str(tmp_path / file_format), env=cli_env(tmp_path),
        )  # fmt: skip
        assert done.status == 0, done.stderr
    assert [p.name for p in (tmp_path / "xlsx").iterdir()] == ["data-return-2026-03.xlsx"]

    book = load_workbook(tmp_path / "xlsx" / "data-return-2026-03.xlsx")
    assert book.sheetnames == ["episodes", "referrals"]
    sheets: tuple[tuple[str, Sequence[DataField[Any]]], ...] = (
        ("episodes", EPISODE_FIELDS),
        ("referrals", REFERRAL_FIELDS),
    )
    for kind, fields in sheets:
        header, rows = read_csv(tmp_path / "csv" / f"{kind}-2026-03.csv")
        [names, *cells] = list(book[kind].iter_rows())
        assert [cell.value for cell in names] == header
        assert len(cells) == len(rows) == 1
        for row, values in zip(cells, rows, strict=True):
            for cell, field in zip(row, fields, strict=True):
                text = values[field.name]
                if text == "":
                    assert cell.value is None, field.name
                elif field.type == "integer":
                    assert cell.data_type == "n" and cell.value == int(text), field.name
                elif field.type == "date":
                    assert isinstance(cell.value, datetime), field.name
                    assert cell.value.date().isoformat() == text and cell.number_format == "yyyy-mm-dd"
                else:
                    assert cell.data_type == "s" and cell.value == text, field.name
    episodes = book["episodes"]
    assert (episodes["A1"].value, episodes["B1"].value) == ("data_set_version", "period")
    assert (episodes["A2"].value, episodes["A2"].data_type) == (DATA_SET_VERSION, "s")
    assert (episodes["B2"].value, episodes["B2"].data_type) == ("2026-03", "s")
