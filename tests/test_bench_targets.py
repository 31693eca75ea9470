"""bench/targets.py: the latest row of each results CSV, read against its target."""

import csv
from pathlib import Path

from bench.targets import FIGURES, measure


def write_csv(folder: Path, name: str, rows: list[dict[str, str]]) -> None:
    columns = list(dict.fromkeys(column for row in rows for column in row))
    with (folder / f"{name}.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def by_name(folder: Path) -> dict[str, tuple[float | None, bool | None, str]]:
    return {one.figure.name: (one.value, one.met, one.source) for one in measure(folder)}


def test_nothing_measured_without_results(tmp_path: Path) -> None:
    measured = measure(tmp_path)

    assert [one.figure for one in measured] == FIGURES
    assert all(one.value is None and one.met is None for one in measured)
    assert {one.cells()[1] for one in measured} == {"not measured"}


def test_the_latest_row_is_read_and_met_by_the_bound(tmp_path: Path) -> None:
    write_csv(
        tmp_path,
        "journey_throughput",
        [
            {"date": "d1", "commit": "old", "ratio": "0.9", "pathway_worker_cpu_ms_per_case": "100"},
            {
                "date": "d2",
                "commit": "new",
                "ratio": "0.5",  # exactly the bound of ">= 0.5": met
                "ratio_shaped": "0.79",
                "pathway_worker_cpu_ms_per_case": "210",
                "bare_worker_cpu_ms_per_case": "100",
            },
        ],
    )
    write_csv(tmp_path, "audit_speed", [{"date": "d", "commit": "c", "since_checkpoint_s": "1.0"}])

    figures = by_name(tmp_path)

    assert figures["journey throughput vs bare"] == (0.5, True, "new, d2")
    assert figures["journey throughput vs shape-matched floor"] == (0.79, False, "new, d2")
    assert figures["worker CPU per journey vs bare"] == (2.1, False, "new, d2")  # from the two CPU columns
    assert figures["verify --since-checkpoint, 1% new of 220,000 events"][:2] == (1.0, False)  # "< 1 s" is strict


def test_rows_of_another_size_and_empty_or_missing_columns_are_not_measured(tmp_path: Path) -> None:
    write_csv(
        tmp_path,
        "scale",
        [
            {"date": "d1", "commit": "a", "open_cases": "40000", "high_peak_mib": "900"},
            {"date": "d2", "commit": "b", "open_cases": "10000", "high_peak_mib": "510"},
        ],
    )
    write_csv(
        tmp_path,
        "command_latency",
        [
            {"date": "d1", "commit": "a", "concurrency": "8", "p99_ratio": "2.5", "single_p99_ratio": "1.5"},
            {"date": "d2", "commit": "b", "concurrency": "4", "p99_ratio": "9", "single_p99_ratio": ""},
        ],
    )
    write_csv(tmp_path, "scale_out", [{"date": "d", "commit": "c", "journeys_per_s": "3"}])

    figures = by_name(tmp_path)

    assert figures["40,000 open cases, worker peak RSS"] == (900.0, True, "a, d1")
    assert figures["8 concurrent clients, p99 vs bare"] == (2.5, True, "a, d1")
    assert figures["single-client task completion p99 vs bare Update p99"][:2] == (None, None)
    assert figures["2 workers on PostgreSQL vs 1, journeys/s"][:2] == (None, None)
