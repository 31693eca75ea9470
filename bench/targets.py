"""The performance targets of issue 21 beside the latest figures in bench/results/*.csv.

    .venv/bin/python -m bench.targets

For each figure: the value from the latest row of its benchmark's CSV (for some, the latest row of
one size), its target, whether it is met, and the commit and date of that row. A file, row or column
that is not there prints "not measured". `make bench` runs this last.
"""

import csv
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.support import RESULTS

Row = Mapping[str, str]

COMPARE: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le, "<": operator.lt}


def number(row: Row, column: str) -> float | None:
    try:
        return float(row[column])
    except (KeyError, ValueError):  # no such column, or empty in an older row
        return None


def column(name: str) -> Callable[[Row], float | None]:
    return lambda row: number(row, name)


def quotient(numerator: str, denominator: str) -> Callable[[Row], float | None]:
    """A ratio from two columns, for rows written before the ratio had a column of its own."""

    def value(row: Row) -> float | None:
        top, bottom = number(row, numerator), number(row, denominator)
        return None if top is None or not bottom else top / bottom

    return value


@dataclass(frozen=True)
class Figure:
    name: str
    benchmark: str  # bench/results/NAME.csv
    value: Callable[[Row], float | None]
    compare: str  # a key of COMPARE: how the value must stand to the target
    target: float
    shown: str  # a format for the value and the target, e.g. "{:.2f}x"
    where: tuple[str, str] | None = None  # only rows with this column at this value (a run's size)
    goal: str = ""

    def target_text(self) -> str:
        return f"{self.compare} {self.shown.format(self.target)}{self.goal}"


FIGURES = [
    Figure(
        "journey throughput vs bare", "journey_throughput", column("ratio"), ">=", 0.5, "{:.2f}", goal=" (goal 0.7)"
    ),
    Figure(
        "journey throughput vs shape-matched floor", "journey_throughput", column("ratio_shaped"), ">=", 0.8, "{:.2f}"
    ),
    Figure(
        "worker CPU per journey vs bare",
        "journey_throughput",
        quotient("pathway_worker_cpu_ms_per_case", "bare_worker_cpu_ms_per_case"),
        "<=",
        2,
        "{:.2f}x",
    ),
    Figure(
        "single-client task completion p99 vs bare Update p99",
        "command_latency",
        column("single_p99_ratio"),
        "<=",
        2,
        "{:.2f}x",
    ),
    Figure(
        "8 concurrent clients, p99 vs bare",
        "command_latency",
        column("p99_ratio"),
        "<=",
        3,
        "{:.2f}x",
        where=("concurrency", "8"),
    ),
    Figure(
        "2 workers on PostgreSQL vs 1, journeys/s",
        "scale_out",
        column("journeys_ratio_two_to_one"),
        ">=",
        1.6,
        "{:.2f}x",
    ),
    Figure(
        "40,000 open cases, worker peak RSS",
        "scale",
        column("high_peak_mib"),
        "<",
        1024,
        "{:.0f} MiB",
        where=("open_cases", "40000"),
    ),
    Figure(
        "verify --since-checkpoint, 1% new of 220,000 events",
        "audit_speed",
        column("since_checkpoint_s"),
        "<",
        1,
        "{:.2f} s",
    ),
]


@dataclass(frozen=True)
class Measured:
    figure: Figure
    value: float | None  # None: not measured
    source: str  # the row's commit and date

    @property
    def met(self) -> bool | None:
        return None if self.value is None else COMPARE[self.figure.compare](self.value, self.figure.target)

    def cells(self) -> list[str]:
        if self.value is None:
            return [self.figure.name, "not measured", self.figure.target_text(), "not measured", ""]
        met = "yes" if self.met else "no"
        return [self.figure.name, self.figure.shown.format(self.value), self.figure.target_text(), met, self.source]


def latest_row(path: Path, where: tuple[str, str] | None) -> Row | None:
    """The last row of a results CSV (the last with `where`'s column at its value), if any."""
    if not path.exists():
        return None
    with path.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if where is None or row.get(where[0]) == where[1]]
    return rows[-1] if rows else None


def measure(results: Path, figures: Sequence[Figure] = FIGURES) -> list[Measured]:
    measured = []
    for figure in figures:
        row = latest_row(results / f"{figure.benchmark}.csv", figure.where)
        value = None if row is None else figure.value(row)
        source = "" if row is None else f"{row.get('commit', '?')}, {row.get('date', '?')}"
        measured.append(Measured(figure, value, source))
    return measured


def print_targets(measured: Sequence[Measured]) -> None:
    header = ["figure", "measured", "target", "met", "from (commit, date)"]
    lines = [header, *(one.cells() for one in measured)]
    widths = [max(len(line[index]) for line in lines) for index in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if line is header:
            print("  ".join("-" * width for width in widths))


if __name__ == "__main__":
    print(f"Targets (issue 21), from the latest rows in {RESULTS}:\n")
    print_targets(measure(RESULTS))
