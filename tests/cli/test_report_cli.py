"""`pathway report` through the real CLI, over a store of known journeys: the figures in text, a CSV
per table, an HTML document with its charts, and refusals in one line."""

import csv
import json
from pathlib import Path

from cli.exits import ExitStatus
from store.event_store import EventStore
from tests.cli.support import pathway
from tests.store.support import StoreCase, run_journey

# StoreCase's clock and site: the journeys happen at the start of March 2026 at site north.
MARCH = ("--period", "2026-03", "--site", "north")


def summary_of(printed: str) -> dict[str, str]:
    """The rows of the printed report's first table (the summary): measure -> value."""
    lines = printed.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("---")) + 1
    rows = lines[start : lines.index("", start)]
    return dict(row.rsplit(None, 1) for row in rows)


async def test_a_team_lead_reports_a_month_in_every_format(tmp_path: Path) -> None:
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    await run_journey(StoreCase(store))  # opened, consented, screened, assessed, shared, referred
    await StoreCase(store).open()  # opened only
    await store.close()
    env = {"PATHWAY_DATA_DIR": str(tmp_path), "PATHWAY_TEMPORAL_ADDRESS": "localhost:1"}

    text = await pathway("report", "--as", "tl-001", *MARCH, env=env)
    assert text.status == 0, text.stderr
    summary = summary_of(text.stdout)
    assert (summary["Identified"], summary["Screened"], summary["Assessed"]) == ("2", "1", "1")
    assert summary["Referrals made"] == "1" and summary["Shared: police"] == "1"

    as_json = await pathway("report", "--as", "au-001", *MARCH, "--format", "json", env=env)
    assert as_json.status == 0, as_json.stderr
    counts = json.loads(as_json.stdout)["totals"]["counts"]  # an auditor may read it too
    assert (counts["identified"], counts["screened"], counts["referrals"]) == (2, 1, 1)

    folder = tmp_path / "csv"
    tables = await pathway("report", "--as", "tl-001", *MARCH, "--format", "csv", "--out", str(folder), env=env)
    assert tables.status == 0, tables.stderr
    written = sorted(folder.glob("*.csv"))
    assert written and all(list(csv.reader(path.open())) for path in written)

    document = tmp_path / "report.html"
    html = await pathway("report", "--as", "tl-001", *MARCH, "--format", "html", "--out", str(document), env=env)
    assert html.status == 0, html.stderr
    page = document.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 4

    empty = await pathway("report", "--as", "tl-001", "--period", "2025-01", "--site", "north", env=env)
    assert empty.status == 0 and "Identified" in empty.stdout

    for args, words, status in [
        (("--as", "pr-001", *MARCH), "cannot", ExitStatus.REFUSED),
        (("--as", "tl-001", "--from", "2026-03-31", "--to", "2026-03-01"), "before", ExitStatus.USAGE),
        (("--as", "tl-001", "--period", "2026-03", "--site", "nowhere"), "no site 'nowhere'", ExitStatus.NOT_FOUND),
        (("--as", "tl-001", *MARCH, "--format", "xml"), "--format", ExitStatus.USAGE),
    ]:
        refused = await pathway("report", *args, env=env)
        assert refused.status == status and len(refused.stderr.strip().splitlines()) == 1, (args, refused.stderr)
        assert words in refused.stderr, (args, refused.stderr)
